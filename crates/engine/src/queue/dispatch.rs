//! Sending: a batch's files are snapshotted, decided against the journal,
//! paired, and handed to an engine run whose events come back as rows.

use crate::job::{Destination, JobParams, Then};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::part_strip::PartState;
use super::rows::{Row, Status};
use super::{EntryId, Queue, Snapshot};
use crate::resume::Step;
use crate::{Engine, EventSink, JobFile, Portal};

/// Why a done file of a pair goes again (see [`mates_again`]).
const MATE_AGAIN: &str =
    "its mate did not arrive, and a pair is taken only as one sample: sent again from the start";

/// The done files that must go again with their mate. A pair is one
/// sample (One Codex), confirmed only once both files are stored under it:
/// when one file of a pair goes (again) and its mate is done, the mate was
/// stored under a sample that can never be confirmed, so it goes again too,
/// from the start, under the new sample. `pairs` are indices of files;
/// `done` says which the portal holds, `going` which are about to be sent.
/// The desktop queue and `ferry resume` both decide with this.
pub fn mates_again(
    pairs: &[(usize, usize)],
    done: impl Fn(usize) -> bool,
    going: impl Fn(usize) -> bool,
) -> Vec<usize> {
    let mut again = Vec::new();
    for &(a, b) in pairs {
        for (x, mate) in [(a, b), (b, a)] {
            if going(x) && !done(x) && done(mate) && !going(mate) && !again.contains(&mate) {
                again.push(mate);
            }
        }
    }
    again
}

/// How a file [`mates_again`] chose goes: a new upload from its start,
/// saying why.
pub fn sent_again_with_mate(item: crate::Item) -> Step {
    Step::Send {
        file: JobFile::from(item),
        restart: Some(MATE_AGAIN.into()),
        parts_done: 0,
    }
}

impl Queue {
    pub(super) fn spawn_on(
        self: &Arc<Self>,
        ids: Vec<EntryId>,
        then: Option<Then>,
        portal: Arc<dyn Portal>,
        destination: Destination,
    ) -> Result<(), String> {
        let (ids, again) = self.with_mates(ids);
        // Each file as it is on disk now.
        let snapshot: Vec<Snapshot> = {
            let st = self.state.lock().unwrap();
            ids.iter()
                .map(|&id| {
                    let r = &st.rows[id];
                    let meta = std::fs::metadata(&r.path).ok();
                    let item = crate::Item {
                        path: r.path.clone(),
                        name: r.name.clone(),
                        size: meta.as_ref().map(|m| m.len()).unwrap_or(r.size),
                        mtime: meta.and_then(|m| m.modified().ok()),
                    };
                    (id, item, r.job.clone())
                })
                .collect()
        };
        let params = JobParams::new(destination).with_then(then);
        let steps = self.journal_steps(&snapshot, &params)?;

        let mut send = Vec::new();
        let mut routes = Vec::new();
        {
            let mut st = self.state.lock().unwrap();
            for ((id, item, _), (step, route)) in snapshot.into_iter().zip(steps) {
                let step = if again.contains(&id) {
                    Some(sent_again_with_mate(item.clone()))
                } else {
                    step
                };
                if let Some((job, _)) = &route {
                    st.jobs.insert(job.clone());
                }
                st.rows[id].job = route.clone();
                st.pausing.remove(&id);
                st.need_sign_in.remove(&id);
                st.dirty.insert(id);
                let r = &mut st.rows[id];
                r.error = None;
                r.warning = None;
                match step {
                    None => send.push((id, JobFile::from(item))),
                    Some(Step::Send { file, restart, .. }) => {
                        r.warning = restart;
                        send.push((id, file));
                    }
                    Some(Step::Done(u)) => {
                        r.status = Status::Done;
                        r.sent = r.size;
                        r.parts.set_all(PartState::Done);
                        r.remote_id = Some(u.remote_id);
                        r.sha256 = Some(u.sha256);
                        continue;
                    }
                    Some(Step::Refused(e)) => {
                        r.status = Status::Failed;
                        r.error = Some(e.to_string());
                        continue;
                    }
                }
                r.status = Status::Waiting;
                r.sent = 0;
                r.parts.set_all(PartState::Waiting);
                routes.push(route);
            }
        }
        if send.is_empty() {
            return Ok(());
        }
        portal.learn_pairs(self.pairs_among(&send));

        let map: Arc<Vec<EntryId>> = Arc::new(send.iter().map(|(id, _)| *id).collect());
        let me = Arc::downgrade(self);
        let m = map.clone();
        let sink = EventSink::new(move |e| {
            if let Some(q) = me.upgrade() {
                q.on_event(&m, e);
            }
        });
        let engine = Engine::new(self.cfg.clone(), sink).map_err(|e| e.to_string())?;
        let mut files = Vec::with_capacity(send.len());
        {
            let mut st = self.state.lock().unwrap();
            for (id, mut f) in send {
                let t = engine.file_token();
                st.tokens.insert(id, t.clone());
                f.cancel = Some(t);
                files.push(f);
            }
        }
        let log = self.router(routes);
        let me = self.clone();
        self.runtime.spawn(async move {
            let outcomes = engine.run(portal, files, log).await;
            me.finish(&map, outcomes);
        });
        Ok(())
    }

    /// `ids` and the done mates they must take along ([`mates_again`]):
    /// returns every id to send and those mates.
    pub(super) fn with_mates(&self, mut ids: Vec<EntryId>) -> (Vec<EntryId>, HashSet<EntryId>) {
        let st = self.state.lock().unwrap();
        // A mate is the row of that name in the same job (or in none).
        let key = |r: &Row| (r.job.as_ref().map(|j| j.0.clone()), r.name.clone());
        let paired: HashMap<(Option<String>, String), EntryId> = st
            .rows
            .iter()
            .filter(|r| r.mate.is_some())
            .map(|r| (key(r), r.id))
            .collect();
        let pairs: Vec<(usize, usize)> = ids
            .iter()
            .filter_map(|&id| {
                let r = &st.rows[id];
                let m = r.mate.as_ref()?;
                paired.get(&(key(r).0, m.clone())).map(|&mate| (id, mate))
            })
            .collect();
        let going: HashSet<EntryId> = ids.iter().copied().collect();
        let again = mates_again(
            &pairs,
            |i| st.rows[i].status == Status::Done,
            |i| going.contains(&i),
        );
        ids.extend(&again);
        (ids, again.into_iter().collect())
    }

    /// The pairs among files about to be sent (both files in the batch).
    pub(super) fn pairs_among(&self, send: &[(EntryId, JobFile)]) -> Vec<crate::portal::Pair> {
        let rules = self.rules.lock().unwrap().clone();
        let st = self.state.lock().unwrap();
        let files: Vec<(String, u64)> = send
            .iter()
            .filter(|(id, _)| st.rows[*id].mate.is_some())
            .map(|(_, f)| (f.item.name.clone(), f.item.size))
            .collect();
        let names: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
        rules
            .mates(&names)
            .into_iter()
            .map(|(a, b)| crate::portal::Pair {
                r1: files[a].0.clone(),
                r1_size: files[a].1,
                r2: files[b].0.clone(),
            })
            .collect()
    }
}
