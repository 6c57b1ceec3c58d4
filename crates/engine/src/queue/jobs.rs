//! The journal lifecycle: each batch is a job, offered for resume in a
//! later session until every file is done, then closed.

use crate::job::{Destination, FileState, JobKind, JobParams, JobState, Then};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use super::part_strip::PartStates;
use super::rows::{Resumable, Row, Status};
use super::{Decided, EntryId, JobRef, Queue, Snapshot};
use crate::journal::{Journal, Routed};
use crate::resume::file_step;
use crate::transfer::JobLog;

impl Queue {
    /// Unfinished desktop jobs of earlier sessions (newest first), not
    /// counting those already in this queue.
    pub fn unfinished(&self) -> Result<Vec<Resumable>, String> {
        let Some(j) = &self.journal else {
            return Ok(Vec::new());
        };
        let held = self.state.lock().unwrap().jobs.clone();
        let mut out = Vec::new();
        for summary in j.jobs(false).map_err(|e| e.to_string())? {
            if summary.kind != JobKind::App || held.contains(&summary.id) {
                continue;
            }
            let Some(rec) = j.job(&summary.id).map_err(|e| e.to_string())? else {
                continue;
            };
            out.push(Resumable {
                here: self.portal_for(&rec.params.destination).is_some(),
                destination: rec.params,
                summary,
            });
        }
        Ok(out)
    }

    /// Put an earlier session's job back in the queue and send what the
    /// portal has not acknowledged; returns how many files go out.
    pub fn resume_job(self: &Arc<Self>, id: &str) -> Result<usize, String> {
        let j = self.journal.as_ref().ok_or("no journal")?;
        let rec = j
            .job(id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no unfinished job {id}"))?;
        let signed_in = self.portal.lock().unwrap().as_ref().map(|p| p.1.clone());
        let Some(here) = signed_in else {
            return Err("sign in first: the job continues on the portal it started on".into());
        };
        let Some((_, going)) = self.portal_for(&rec.params.destination) else {
            return Err(format!(
                "this job was going to {}; sign in there to continue it, or discard it",
                named(&rec.params)
            ));
        };
        let rules = self.rules.lock().unwrap().clone();
        let ids: Vec<EntryId> = {
            let mut st = self.state.lock().unwrap();
            if !st.jobs.insert(id.to_string()) {
                return Err(format!("job {id} is already in the list"));
            }
            if going != here {
                st.other_group_jobs.insert(id.to_string(), going);
            }
            if rec.params.then.is_some() {
                st.kept_open.insert(id.to_string());
            }
            let mut ids = Vec::new();
            for f in &rec.files {
                let rid = st.rows.len();
                let done = f.state == FileState::Done;
                st.rows.push(Row {
                    id: rid,
                    name: f.name.clone(),
                    path: f.path.clone(),
                    size: f.size,
                    status: if done { Status::Done } else { Status::Paused },
                    sent: if done { f.size } else { 0 },
                    parts: PartStates::default(),
                    error: None,
                    warning: None,
                    remote_id: f.upload.as_ref().map(|u| u.remote_id.clone()),
                    sha256: f.sha256.clone(),
                    job: Some((id.to_string(), f.idx)),
                    mate: None,
                });
                st.names.insert(f.name.clone(), rid);
                st.dirty.insert(rid);
                if !done {
                    ids.push(rid);
                }
            }
            // The job's pairs (One Codex's R1/R2) as when it was sent, so
            // they go on as pairs, not as lone samples.
            let first = st.rows.len() - rec.files.len();
            let names: Vec<String> = rec.files.iter().map(|f| f.name.clone()).collect();
            for (a, b) in rules.mates(&names) {
                st.rows[first + a].mate = Some(names[b].clone());
                st.rows[first + b].mate = Some(names[a].clone());
            }
            ids
        };
        let n = ids.len();
        if n == 0 {
            self.close_finished_jobs(&[id.to_string()]);
        } else {
            self.spawn_batch(ids)?;
        }
        Ok(n)
    }

    /// Forget an earlier session's job (its uploaded but unsubmitted files
    /// expire on the portal).
    pub fn discard_job(&self, id: &str) -> Result<(), String> {
        let j = self.journal.as_ref().ok_or("no journal")?;
        if self.state.lock().unwrap().jobs.contains(id) {
            return Err(format!("job {id} is in the list: cancel its files instead"));
        }
        match j.delete_job(id) {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("no job {id}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The step after the upload that was journaled with a job, if any.
    pub fn job_then(&self, id: &str) -> Option<Then> {
        let rec = self.journal.as_ref()?.job(id).ok()??;
        rec.params.then
    }

    /// Where a journaled job was going (as given to [`Queue::set_portal`]).
    pub fn job_destination(&self, id: &str) -> Option<Destination> {
        let rec = self.journal.as_ref()?.job(id).ok()??;
        Some(rec.params.destination)
    }

    /// The journal jobs of these files (their latest rows).
    pub fn jobs_of(&self, paths: &[PathBuf]) -> Vec<String> {
        let st = self.state.lock().unwrap();
        let mut out = BTreeSet::new();
        for p in paths {
            if let Some(r) = st.rows.iter().rev().find(|r| &r.path == p)
                && let Some((job, _)) = &r.job
            {
                out.insert(job.clone());
            }
        }
        out.into_iter().collect()
    }

    /// The job journal, when there is one (submits are journaled in it).
    pub fn journal(&self) -> Option<Arc<Journal>> {
        self.journal.clone()
    }

    /// The step after a job's upload is done: the job is finished.
    pub fn close_job(&self, id: &str) {
        self.state.lock().unwrap().kept_open.remove(id);
        if let Some(j) = &self.journal {
            // Best effort: an unclosed job is only offered again.
            let _ = j.set_job_state(id, JobState::Done);
        }
    }

    /// With a journal: record files that have no job yet as a new job, and
    /// decide for each file from its journal entry whether it is done,
    /// continues its upload, starts again, or changed and is refused.
    pub(super) fn journal_steps(
        &self,
        files: &[Snapshot],
        destination: &JobParams,
    ) -> Result<Vec<Decided>, String> {
        let Some(j) = &self.journal else {
            return Ok(files.iter().map(|_| (None, None)).collect());
        };
        let mut routes: Vec<Option<JobRef>> = files.iter().map(|f| f.2.clone()).collect();
        let fresh: Vec<usize> = (0..files.len()).filter(|&k| routes[k].is_none()).collect();
        if !fresh.is_empty() {
            let items: Vec<crate::Item> = fresh.iter().map(|&k| files[k].1.clone()).collect();
            let job = j
                .create_job(&JobKind::App, destination, &items)
                .map_err(|e| e.to_string())?;
            if destination.then.is_some() {
                self.state.lock().unwrap().kept_open.insert(job.clone());
            }
            for (n, &k) in fresh.iter().enumerate() {
                routes[k] = Some((job.clone(), n));
            }
        }
        let mut records = HashMap::new();
        let mut out = Vec::with_capacity(files.len());
        for route in routes {
            let (job, idx) = route.clone().expect("every file has a job now");
            if !records.contains_key(&job) {
                let rec = j.job(&job).map_err(|e| e.to_string())?;
                records.insert(job.clone(), rec);
            }
            let step = records[&job]
                .as_ref()
                .and_then(|rec| rec.files.iter().find(|f| f.idx == idx))
                .map(file_step);
            out.push((step, route));
        }
        Ok(out)
    }

    /// One journal log for a run whose files belong to one or more jobs.
    pub(super) fn router(&self, routes: Vec<Option<JobRef>>) -> Option<Arc<dyn JobLog>> {
        let j = self.journal.as_ref()?;
        let mut recorders: HashMap<String, Arc<dyn JobLog>> = HashMap::new();
        let mut out = Vec::with_capacity(routes.len());
        for route in routes {
            let (job, idx) = route?;
            let rec = recorders
                .entry(job.clone())
                .or_insert_with(|| j.recorder(&job))
                .clone();
            out.push((rec, idx));
        }
        Some(Routed::wrap(out))
    }

    /// Mark jobs whose every file is done or cancelled as finished, so
    /// they are not offered for resume.
    pub(super) fn close_finished_jobs(&self, jobs: &[String]) {
        let Some(j) = &self.journal else { return };
        let closed: Vec<&String> = {
            let st = self.state.lock().unwrap();
            jobs.iter()
                .filter(|job| !st.kept_open.contains(*job))
                .filter(|job| {
                    st.rows
                        .iter()
                        .filter(|r| r.job.as_ref().map(|x| &x.0) == Some(*job))
                        .all(|r| matches!(r.status, Status::Done | Status::Cancelled))
                })
                .collect()
        };
        for job in closed {
            // Best effort: an unclosed job is only offered again.
            let _ = j.set_job_state(job, JobState::Done);
        }
    }
}

/// How a job's destination is named in messages: the window's portal
/// name (quoted, as the journal holds it), else its params.
pub(super) fn named(p: &JobParams) -> String {
    match p
        .destination
        .account
        .as_ref()
        .and_then(|a| a.portal_name.as_ref())
    {
        Some(n) => format!("{n:?}"),
        None => p.to_json(),
    }
}
