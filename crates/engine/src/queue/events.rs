//! Turning the engine's events and outcomes into rows.

use std::collections::BTreeSet;

use super::part_strip::{PartState, PartStates};
use super::rows::{Finished, NetworkWait, Row, Status};
use super::{EntryId, Queue, State};
use crate::{ErrorClass, Event, FileOutcome};

impl Queue {
    pub(super) fn on_event(&self, map: &[EntryId], e: Event) {
        let mut guard = self.state.lock().unwrap();
        let st = &mut *guard;
        if on_network(st, map, &e) {
            return;
        }
        let file = match &e {
            Event::FileQueued { file, .. }
            | Event::FileStarted { file, .. }
            | Event::PartStarted { file, .. }
            | Event::Progress { file, .. }
            | Event::PartDone { file, .. }
            | Event::Retry { file, .. }
            | Event::FileRestarted { file, .. }
            | Event::Warning { file, .. }
            | Event::FileDone { file, .. }
            | Event::FileFailed { file, .. } => *file,
            Event::NetworkWaiting { .. } | Event::NetworkBack { .. } | Event::Woke { .. } => return,
        };
        let Some(&id) = map.get(file) else { return };
        let pausing = st.pausing.contains(&id);
        let r = &mut st.rows[id];
        match e {
            Event::FileQueued { parts, size, .. } => {
                r.parts = PartStates::all(parts as usize, PartState::Waiting);
                r.size = size;
            }
            Event::FileStarted { remote_id, .. } => {
                r.status = Status::Sending;
                r.remote_id = Some(remote_id);
            }
            Event::PartStarted { part, attempt, .. } => {
                r.status = Status::Sending;
                let state = if attempt > 1 {
                    PartState::Retrying
                } else {
                    PartState::Sending
                };
                r.parts.set(part, state);
            }
            Event::Progress { file_sent, .. } => r.sent = file_sent,
            Event::PartDone { part, .. } => r.parts.set(part, PartState::Done),
            Event::Retry { part, reason, .. } => {
                if let Some(p) = part {
                    r.parts.set(p, PartState::Retrying);
                }
                // A file sent in one request (One Codex's POST) cannot
                // continue where the failed attempt stopped.
                r.warning = Some(if part.is_some() && r.parts.len() == 1 {
                    format!("retrying: {reason}; {}", crate::resume::SENT_AGAIN_WHOLE)
                } else {
                    format!("retrying: {reason}")
                });
            }
            Event::FileRestarted { reason, .. } => {
                r.parts.set_all(PartState::Waiting);
                r.sent = 0;
                r.warning = Some(reason);
            }
            Event::Warning { message, .. } => r.warning = Some(message),
            Event::FileDone {
                remote_id, sha256, ..
            } => {
                r.status = Status::Done;
                r.sent = r.size;
                r.parts.set_all(PartState::Done);
                r.remote_id = Some(remote_id);
                r.sha256 = Some(sha256);
                r.error = None;
                r.warning = None;
            }
            Event::NetworkWaiting { .. } | Event::NetworkBack { .. } | Event::Woke { .. } => {}
            Event::FileFailed { error, class, .. } => {
                fail(r, class, error, pausing);
                if class == ErrorClass::Auth {
                    st.need_sign_in.insert(id);
                }
            }
        }
        st.dirty.insert(id);
    }

    pub(super) fn finish(&self, map: &[EntryId], outcomes: Vec<FileOutcome>) {
        self.state.lock().unwrap().network = None;
        let mut guard = self.state.lock().unwrap();
        let st = &mut *guard;
        let mut sum = Finished {
            done: 0,
            failed: 0,
            stopped: 0,
        };
        for (&id, o) in map.iter().zip(outcomes) {
            st.tokens.remove(&id);
            let pausing = st.pausing.remove(&id);
            let r = &mut st.rows[id];
            match o {
                Ok(u) => {
                    if r.status != Status::Done {
                        r.status = Status::Done;
                        r.sent = r.size;
                        r.parts.set_all(PartState::Done);
                        r.remote_id = Some(u.remote_id);
                        r.sha256 = Some(u.sha256);
                    }
                    sum.done += 1;
                }
                Err(e) => {
                    if !matches!(
                        r.status,
                        Status::Failed | Status::Paused | Status::Cancelled
                    ) {
                        fail(r, e.class(), e.to_string(), pausing);
                        if e.class() == ErrorClass::Auth {
                            st.need_sign_in.insert(id);
                        }
                    }
                    let r = &st.rows[id];
                    if r.status == Status::Failed {
                        sum.failed += 1;
                    } else {
                        sum.stopped += 1;
                    }
                }
            }
            st.dirty.insert(id);
        }
        st.finished.push(sum);
        let jobs: BTreeSet<String> = map
            .iter()
            .filter_map(|&id| st.rows[id].job.as_ref().map(|j| j.0.clone()))
            .collect();
        drop(guard);
        self.close_finished_jobs(&jobs.into_iter().collect::<Vec<_>>());
    }
}

pub(super) fn fail(r: &mut Row, class: ErrorClass, error: String, pausing: bool) {
    let stopped = class == ErrorClass::Cancelled;
    r.status = match (stopped, pausing) {
        (true, true) => Status::Paused,
        (true, false) => Status::Cancelled,
        // The sign-in was refused (revoked or expired for good): nothing
        // is wrong with the file, it waits for the user to sign in again.
        _ if class == ErrorClass::Auth => Status::Paused,
        _ => Status::Failed,
    };
    r.parts.map(|s| match s {
        PartState::Done => PartState::Done,
        _ if stopped => PartState::Waiting,
        PartState::Sending | PartState::Retrying => PartState::Failed,
        s => s,
    });
    r.error = (!stopped).then(|| {
        if class == ErrorClass::Auth {
            format!("{error}. Paused: sign in again and it continues from where it stopped")
        } else {
            error
        }
    });
}

/// The job's network state: while it waits, its files show paused, not
/// failed. True when `e` was about the network.
pub(super) fn on_network(st: &mut State, map: &[EntryId], e: &Event) -> bool {
    const PAUSED: &str = "paused: waiting for the network; it goes on by itself";
    let (wait, note) = match e {
        Event::NetworkWaiting {
            since,
            retry_every_s,
            ..
        } => (
            Some(NetworkWait {
                since: *since,
                retry_every_s: *retry_every_s,
            }),
            Some(PAUSED),
        ),
        Event::NetworkBack { .. } => {
            st.network_back = true;
            (None, None)
        }
        _ => return false,
    };
    st.network = wait;
    for &id in map {
        let r = &mut st.rows[id];
        if r.status == Status::Sending || r.status == Status::Waiting {
            if note.is_some() || r.warning.as_deref() == Some(PAUSED) {
                r.warning = note.map(str::to_string);
            }
            st.dirty.insert(id);
        }
    }
    true
}
