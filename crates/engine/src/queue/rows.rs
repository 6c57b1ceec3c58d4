//! The row model: one file as a front-end shows it, its status and part
//! strip, the totals, and the checks a file passes when it is added.

use crate::job::JobParams;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::part_strip::PartStates;
use super::{EntryId, JobRef, State};
use crate::journal::JobSummary;
use crate::scan::{NameRules, scan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Checked, waits for Upload.
    Ready,
    /// A scan problem: never sent.
    Invalid,
    /// In a running batch, no part started yet.
    Waiting,
    Sending,
    Paused,
    /// The portal accepted the file.
    Done,
    Failed,
    Cancelled,
}

/// One file as a front-end shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub id: EntryId,
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    pub status: Status,
    /// Bytes sent (of the current attempt).
    pub sent: u64,
    /// Each part's state, serialized one character per part (see
    /// [`PartStates`]); empty until planned.
    pub parts: PartStates,
    pub error: Option<String>,
    pub warning: Option<String>,
    pub remote_id: Option<String>,
    pub sha256: Option<String>,
    /// The journal job and file index that record this file's progress.
    #[serde(skip)]
    pub job: Option<JobRef>,
    /// The other file of its paired-end sample, when the portal pairs.
    pub mate: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub files: usize,
    pub bytes: u64,
    pub sent: u64,
    pub done: usize,
    pub failed: usize,
    pub invalid: usize,
    pub active: usize,
    /// Files paused because the portal refused the sign-in: they go on by
    /// themselves after signing in again.
    pub need_sign_in: usize,
    /// Set while no connection can be made: the files wait, paused.
    pub network: Option<NetworkWait>,
}

/// Waiting for the network since `since` (Unix seconds), tried again at
/// most every `retry_every_s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NetworkWait {
    pub since: u64,
    pub retry_every_s: u64,
}

/// An unfinished job of an earlier session, as the front-end offers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resumable {
    #[serde(flatten)]
    pub summary: JobSummary,
    /// Where the job was going (as given to [`Queue::set_portal`]) and
    /// what follows its upload: its journaled params.
    pub destination: JobParams,
    /// Whether it can go on with the portal signed in now.
    pub here: bool,
}

/// A batch that ended: every file it sent is done, failed or stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finished {
    pub done: usize,
    pub failed: usize,
    pub stopped: usize,
}

/// What changed since the last [`Queue::take_update`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Update {
    pub rows: Vec<Row>,
    pub totals: Totals,
    pub finished: Vec<Finished>,
    /// The network came back since the last update: sending goes on.
    pub network_back: bool,
}

/// What [`Queue::add`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Added {
    pub files: usize,
    pub problems: usize,
    pub bytes: u64,
}

/// A file's status, size and problem under `rules`, given the rows already
/// ready (names must be unique among them).
pub(super) fn check(
    st: &State,
    rules: &dyn NameRules,
    path: &Path,
    name: &str,
    unique: bool,
) -> (Status, u64, Option<String>) {
    match scan(std::slice::from_ref(&path.to_path_buf()), rules) {
        Ok(items) => {
            let size = items[0].size;
            match st.names.get(name).filter(|_| unique) {
                Some(&first) => (
                    Status::Invalid,
                    size,
                    Some(format!(
                        "{}: has the same name as {}; names must be unique, rename one of them",
                        path.display(),
                        st.rows[first].path.display()
                    )),
                ),
                None => (Status::Ready, size, None),
            }
        }
        Err(report) => (
            Status::Invalid,
            std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            Some(
                report
                    .problems
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        ),
    }
}

/// Marks the mates of paired-end files among the rows not yet sent, as
/// the portal pairs them (none for most portals).
pub(super) fn pair_rows(st: &mut State, rules: &dyn NameRules) {
    let open: Vec<EntryId> = st
        .rows
        .iter()
        .filter(|r| r.job.is_none() && matches!(r.status, Status::Ready | Status::Paused))
        .map(|r| r.id)
        .collect();
    let names: Vec<String> = open.iter().map(|&id| st.rows[id].name.clone()).collect();
    let mut mates: HashMap<EntryId, String> = HashMap::new();
    for (a, b) in rules.mates(&names) {
        mates.insert(open[a], names[b].clone());
        mates.insert(open[b], names[a].clone());
    }
    let lone: HashMap<EntryId, String> = rules
        .lone_mates(&names)
        .into_iter()
        .map(|(i, why)| (open[i], why))
        .collect();
    for id in open {
        let m = mates.remove(&id);
        if st.rows[id].mate != m {
            st.rows[id].mate = m;
            st.dirty.insert(id);
        }
        // A lone mate is said on its row before sending (and the note goes
        // once its mate is added).
        let note = lone.get(&id).cloned();
        let row = &mut st.rows[id];
        let ours = row
            .warning
            .as_deref()
            .is_some_and(|w| w.contains("is one read of a pair"));
        if (row.warning.is_none() || ours) && row.warning != note {
            row.warning = note;
            st.dirty.insert(id);
        }
    }
}

pub(super) fn set_status(st: &mut State, id: EntryId, s: Status) {
    st.rows[id].status = s;
    st.dirty.insert(id);
}

/// A folder becomes its files (recursively, sorted, dot-files and
/// dot-folders skipped, links below it left out); anything else stays as given.
pub fn expand(path: &Path, out: &mut Vec<PathBuf>) {
    crate::walk::expand(path, out, &mut Vec::new());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_expand_skipping_dot_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/b")).unwrap();
        std::fs::create_dir_all(d.path().join(".git")).unwrap();
        for f in ["a/x.fq", "a/b/y.fq", "a/.hidden", ".git/config", "z.fq"] {
            std::fs::write(d.path().join(f), b"x").unwrap();
        }
        let mut out = Vec::new();
        expand(d.path(), &mut out);
        let rel: Vec<_> = out
            .iter()
            .map(|p| {
                p.strip_prefix(d.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(rel, vec!["a/b/y.fq", "a/x.fq", "z.fq"]);
    }
}
