//! Group routing: which signed-in portal and destination a batch goes to,
//! so a job journaled for another group of the account goes on for its own.

use crate::job::{Destination, JobParams, Then};
use std::collections::HashMap;
use std::sync::Arc;

use super::jobs::named;
use super::rows::Status;
use super::{EntryId, Queue};
use crate::Portal;

impl Queue {
    /// Where batches go from now on (`None`: signed out). `destination`
    /// names the portal and account (no secret: it is journaled), so that
    /// a job resumes only where it started; its `group`, if any, names
    /// the account's group: a job journaled for another
    /// group of the same account resumes for its own group
    /// ([`Portal::for_group`]). Files paused because the sign-in was
    /// refused go on at once.
    pub fn set_portal(self: &Arc<Self>, portal: Option<Arc<dyn Portal>>, destination: Destination) {
        let signed_in = portal.is_some();
        *self.portal.lock().unwrap() = portal.map(|p| (p, destination));
        if signed_in {
            let ids: Vec<EntryId> = {
                let mut st = self.state.lock().unwrap();
                std::mem::take(&mut st.need_sign_in)
                    .into_iter()
                    .filter(|&id| st.rows[id].status == Status::Paused)
                    .collect()
            };
            if !ids.is_empty() {
                let _ = self.spawn_batch(ids);
            }
        }
    }

    /// The portal and destination a journaled job goes on with: the one
    /// signed in, when the job was going there; or the same account for
    /// the job's own group (the user had switched groups before sending
    /// it). `None`: signed out, or the job was another account's.
    pub(super) fn portal_for(&self, want: &Destination) -> Option<(Arc<dyn Portal>, Destination)> {
        let (portal, here) = self.portal.lock().unwrap().clone()?;
        if here == *want {
            return Some((portal, here));
        }
        let group = want.group?;
        let same = Destination {
            group: Some(group),
            ..here
        };
        if same != *want {
            return None;
        }
        Some((portal.for_group(group)?, want.clone()))
    }

    pub(super) fn spawn_batch(self: &Arc<Self>, ids: Vec<EntryId>) -> Result<(), String> {
        self.spawn_batch_then(ids, None)
    }

    /// Sends `ids` for the portal signed in, except the files of jobs
    /// taken up for another group of the account: those go for their own.
    pub(super) fn spawn_batch_then(
        self: &Arc<Self>,
        ids: Vec<EntryId>,
        then: Option<Then>,
    ) -> Result<(), String> {
        let mut own = Vec::new();
        let mut theirs: HashMap<String, Vec<EntryId>> = HashMap::new();
        {
            let st = self.state.lock().unwrap();
            for id in ids {
                match st.rows[id].job.as_ref().map(|j| &j.0) {
                    Some(job) if st.other_group_jobs.contains_key(job) => {
                        theirs.entry(job.clone()).or_default().push(id)
                    }
                    _ => own.push(id),
                }
            }
        }
        for (job, ids) in theirs {
            let want = self.state.lock().unwrap().other_group_jobs[&job].clone();
            let (portal, destination) = self.portal_for(&want).ok_or_else(|| {
                format!(
                    "sign in to {} again to continue job {job}",
                    named(&JobParams::new(want.clone()))
                )
            })?;
            self.spawn_on(ids, None, portal, destination)?;
        }
        if own.is_empty() {
            return Ok(());
        }
        let (portal, destination) = self
            .portal
            .lock()
            .unwrap()
            .clone()
            .ok_or("sign in to a portal first")?;
        self.spawn_on(own, then, portal, destination)
    }
}
