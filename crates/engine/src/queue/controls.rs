//! What a front-end does with the list: add and check files, read rows and
//! updates, start, pause, resume and cancel them.

use crate::job::Then;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::part_strip::PartStates;
use super::rows::{Added, Row, Status, Totals, Update, check, pair_rows, set_status};
use super::{EntryId, Queue};
use crate::scan::{NameRules, name_of};

impl Queue {
    /// Check files by another portal's rules (the user chose another
    /// portal): every file not yet sent is checked again, and paired; the
    /// files sent to the previous portal can be added again for this one.
    pub fn set_rules(&self, rules: Arc<dyn NameRules>) {
        *self.rules.lock().unwrap() = rules.clone();
        let mut st = self.state.lock().unwrap();
        let open: Vec<EntryId> = st
            .rows
            .iter()
            .filter(|r| r.job.is_none() && matches!(r.status, Status::Ready | Status::Invalid))
            .map(|r| r.id)
            .collect();
        // Names must be unique per portal: files finished on the previous
        // one (or not sent yet) no longer block the same names here.
        let held: Vec<String> = st
            .names
            .iter()
            .filter(|(_, id)| {
                let r = &st.rows[**id];
                open.contains(id) || !matches!(r.status, Status::Waiting | Status::Sending)
            })
            .map(|(n, _)| n.clone())
            .collect();
        for n in held {
            st.names.remove(&n);
        }
        for id in open {
            let (path, name) = (st.rows[id].path.clone(), st.rows[id].name.clone());
            let (status, size, error) = check(&st, &*rules, &path, &name, true);
            if status == Status::Ready {
                st.names.insert(name, id);
            }
            let r = &mut st.rows[id];
            (r.status, r.size, r.error) = (status, size, error);
            st.dirty.insert(id);
        }
        pair_rows(&mut st, &*rules);
    }

    /// (name, size) of the files not yet sent that have a mate.
    pub fn mates(&self) -> Vec<(String, u64)> {
        let st = self.state.lock().unwrap();
        st.rows
            .iter()
            .filter(|r| r.mate.is_some() && r.job.is_none())
            .map(|r| (r.name.clone(), r.size))
            .collect()
    }

    /// Add files and folders (folders recursively, skipping dot-files).
    /// Each file is checked now; problems stay in the list as `Invalid`
    /// rows with their message and are never sent.
    pub fn add(&self, paths: &[PathBuf]) -> Added {
        let (mut files, mut links) = (Vec::new(), Vec::new());
        for p in paths {
            crate::walk::expand(p, &mut files, &mut links);
        }
        let mut added = self.add_files(files, true).0;
        // Links inside dropped folders are listed as refused, never sent.
        let (more, ids) = self.add_files(links, false);
        let mut st = self.state.lock().unwrap();
        for id in ids {
            let row = &mut st.rows[id];
            row.status = Status::Invalid;
            row.error = Some(crate::walk::link_refused(&row.path));
            st.dirty.insert(id);
        }
        added.files += more.files;
        added.problems += more.files;
        added
    }

    /// Add the files of a submission folder: names may repeat, since each
    /// file goes to its own submission (Loculus checks names per row).
    /// Returns what was added and the new rows' ids.
    pub fn add_batch(&self, files: Vec<PathBuf>) -> (Added, Vec<EntryId>) {
        self.add_files(files, false)
    }

    pub(super) fn add_files(&self, files: Vec<PathBuf>, unique: bool) -> (Added, Vec<EntryId>) {
        let mut st = self.state.lock().unwrap();
        let mut added = Added {
            files: 0,
            problems: 0,
            bytes: 0,
        };
        let rules = self.rules.lock().unwrap().clone();
        for path in files {
            let id = st.rows.len();
            let name = name_of(&path);
            let (status, size, error) = check(&st, &*rules, &path, &name, unique);
            if status == Status::Ready {
                if unique {
                    st.names.insert(name.clone(), id);
                }
                added.bytes += size;
            } else {
                added.problems += 1;
            }
            added.files += 1;
            st.rows.push(Row {
                id,
                name,
                path,
                size,
                status,
                sent: 0,
                parts: PartStates::default(),
                error,
                warning: None,
                remote_id: None,
                sha256: None,
                job: None,
                mate: None,
            });
            st.dirty.insert(id);
        }
        pair_rows(&mut st, &*rules);
        let ids = (st.rows.len() - added.files..st.rows.len()).collect();
        (added, ids)
    }

    /// Every row (for a front-end that starts or reloads).
    pub fn rows(&self) -> Vec<Row> {
        self.state.lock().unwrap().rows.clone()
    }

    pub fn row(&self, id: EntryId) -> Option<Row> {
        self.state.lock().unwrap().rows.get(id).cloned()
    }

    /// A file sent again outside the queue under a new id (an expired
    /// Loculus upload renewed at submit): its accepted row shows the id the
    /// submission names, not the lapsed one.
    pub fn uploaded_again(&self, path: &Path, old_id: &str, new_id: &str) {
        let mut st = self.state.lock().unwrap();
        let hit: Vec<EntryId> = st
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.path == path && r.remote_id.as_deref() == Some(old_id))
            .map(|(i, _)| i)
            .collect();
        for id in hit {
            st.rows[id].remote_id = Some(new_id.to_string());
            st.dirty.insert(id);
        }
    }

    /// Send these files (those that are ready) as one batch, leaving the
    /// rest of the list alone; returns how many.
    ///
    /// `then` says what follows the upload (e.g. a submission, in the
    /// front-end's terms): it is journaled with the job, which then stays
    /// unfinished until [`Queue::close_job`], so a later session can take
    /// it up where it stopped.
    pub fn start_rows(
        self: &Arc<Self>,
        ids: &[EntryId],
        then: Option<Then>,
    ) -> Result<usize, String> {
        let ids: Vec<EntryId> = {
            let st = self.state.lock().unwrap();
            ids.iter()
                .copied()
                .filter(|&id| st.rows.get(id).is_some_and(|r| r.status == Status::Ready))
                .collect()
        };
        let n = ids.len();
        if n > 0 {
            self.spawn_batch_then(ids, then)?;
        }
        Ok(n)
    }

    /// Send every `Ready` file as one batch; returns how many.
    pub fn start(self: &Arc<Self>) -> Result<usize, String> {
        let ids: Vec<EntryId> = {
            let st = self.state.lock().unwrap();
            st.rows
                .iter()
                .filter(|r| r.status == Status::Ready)
                .map(|r| r.id)
                .collect()
        };
        let n = ids.len();
        if n > 0 {
            self.spawn_batch(ids)?;
        }
        Ok(n)
    }

    /// Stop a file; [`Queue::resume`] continues it (from its last
    /// acknowledged part when there is a journal).
    pub fn pause(&self, id: EntryId) {
        let mut st = self.state.lock().unwrap();
        let Some(status) = st.rows.get(id).map(|r| r.status) else {
            return;
        };
        match status {
            Status::Waiting | Status::Sending => {
                st.pausing.insert(id);
                if let Some(t) = st.tokens.get(&id) {
                    t.cancel();
                }
            }
            Status::Ready => set_status(&mut st, id, Status::Paused),
            _ => {}
        }
    }

    /// Send a paused, failed or cancelled file again.
    pub fn resume(self: &Arc<Self>, id: EntryId) -> Result<(), String> {
        let ok = {
            let st = self.state.lock().unwrap();
            matches!(
                st.rows.get(id).map(|r| r.status),
                Some(Status::Paused | Status::Failed | Status::Cancelled)
            )
        };
        if ok {
            self.spawn_batch(vec![id])
        } else {
            Ok(())
        }
    }

    /// Stop a file for good (it can still be retried by hand).
    pub fn cancel(&self, id: EntryId) {
        let mut st = self.state.lock().unwrap();
        let Some(status) = st.rows.get(id).map(|r| r.status) else {
            return;
        };
        match status {
            Status::Waiting | Status::Sending => {
                st.pausing.remove(&id);
                if let Some(t) = st.tokens.get(&id) {
                    t.cancel();
                }
            }
            Status::Ready | Status::Paused => {
                set_status(&mut st, id, Status::Cancelled);
                st.need_sign_in.remove(&id);
                if let Some((job, _)) = st.rows[id].job.clone() {
                    drop(st);
                    self.close_finished_jobs(&[job]);
                }
            }
            _ => {}
        }
    }

    pub fn pause_all(&self) {
        for id in self.ids_with(&[Status::Ready, Status::Waiting, Status::Sending]) {
            self.pause(id);
        }
    }

    pub fn cancel_all(&self) {
        for id in self.ids_with(&[
            Status::Ready,
            Status::Waiting,
            Status::Sending,
            Status::Paused,
        ]) {
            self.cancel(id);
        }
    }

    /// Send every paused file again, as one batch.
    pub fn resume_all(self: &Arc<Self>) -> Result<usize, String> {
        let ids = self.ids_with(&[Status::Paused]);
        let n = ids.len();
        if n > 0 {
            self.spawn_batch(ids)?;
        }
        Ok(n)
    }

    pub(super) fn ids_with(&self, statuses: &[Status]) -> Vec<EntryId> {
        let st = self.state.lock().unwrap();
        st.rows
            .iter()
            .filter(|r| statuses.contains(&r.status))
            .map(|r| r.id)
            .collect()
    }

    /// What changed since the last call, `None` when nothing did.
    pub fn take_update(&self) -> Option<Update> {
        let mut st = self.state.lock().unwrap();
        if st.dirty.is_empty() && st.finished.is_empty() && !st.network_back {
            return None;
        }
        let dirty = std::mem::take(&mut st.dirty);
        let rows = dirty.into_iter().map(|id| st.rows[id].clone()).collect();
        let mut t = Totals {
            files: st.rows.len(),
            ..Totals::default()
        };
        for r in &st.rows {
            match r.status {
                Status::Invalid => t.invalid += 1,
                Status::Cancelled => {}
                s => {
                    t.bytes += r.size;
                    t.sent += if s == Status::Done { r.size } else { r.sent };
                    match s {
                        Status::Done => t.done += 1,
                        Status::Failed => t.failed += 1,
                        Status::Waiting | Status::Sending => t.active += 1,
                        _ => {}
                    }
                }
            }
        }
        t.need_sign_in = st.need_sign_in.len();
        t.network = st.network;
        Some(Update {
            rows,
            totals: t,
            finished: std::mem::take(&mut st.finished),
            network_back: std::mem::take(&mut st.network_back),
        })
    }
}
