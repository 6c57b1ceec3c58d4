//! An interactive upload queue for front-ends (the desktop app): files are
//! added at any time, checked at once, sent in batches, and each can be
//! paused, resumed, cancelled or retried. Changes are collected and taken
//! by the front-end in one batch ([`Queue::take_update`]), so a list of
//! 10,000 files costs one message per frame, not one per event.
//!
//! With a journal ([`Queue::with_journal`]) every batch is a job in it:
//! pause, a failure, a revoked sign-in or a closed window leave the
//! acknowledged parts recorded, and resuming sends only the rest
//! ([`Queue::unfinished`], [`Queue::resume_job`] after a restart). Without
//! one, resume sends a file again from its start.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::job::{Destination, FileState, JobParams, JobState, Then};
use crate::journal::{JobSummary, Journal, Routed};
use crate::resume::{Step, file_step};
use crate::scan::{NameRules, name_of, scan};
use crate::transfer::JobLog;
use crate::{Engine, EngineConfig, ErrorClass, Event, EventSink, FileOutcome, JobFile, Portal};

/// The journal's job kind for the desktop queue's batches.
pub const JOB_KIND: &str = "app";

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

/// How a job's destination is named in messages: the window's portal
/// name (quoted, as the journal holds it), else its params.
fn named(p: &JobParams) -> String {
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

pub type EntryId = usize;

/// A journal job id and a file's index in it.
pub type JobRef = (String, usize);

/// A file about to be sent: its row, what it is on disk now, its job.
type Snapshot = (EntryId, crate::Item, Option<JobRef>);

/// What the journal says of a file (`None`: no journal, send it afresh),
/// and the job that records it.
type Decided = (Option<Step>, Option<JobRef>);

/// Loculus' file-name rules without a signed-in portal (files are checked
/// when added, before any sign-in).
pub struct LoculusNames;

impl NameRules for LoculusNames {
    fn check_name(&self, name: &str) -> Result<(), String> {
        crate::loculus::names::check(name)
    }
}

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

/// Per-part states in [`Row::parts`], one character per part.
pub mod part {
    pub const WAITING: char = 'w';
    pub const SENDING: char = 's';
    pub const DONE: char = 'd';
    pub const RETRYING: char = 'r';
    pub const FAILED: char = 'f';
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
    /// One character per part (see [`part`]); empty until planned.
    pub parts: String,
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

#[derive(Default)]
struct State {
    rows: Vec<Row>,
    tokens: HashMap<EntryId, CancellationToken>,
    pausing: HashSet<EntryId>,
    dirty: BTreeSet<EntryId>,
    names: HashMap<String, EntryId>,
    finished: Vec<Finished>,
    /// Paused because the sign-in was refused.
    need_sign_in: BTreeSet<EntryId>,
    /// Journal jobs this queue holds rows of.
    jobs: HashSet<String>,
    /// Jobs with a step after the upload: open until [`Queue::close_job`].
    kept_open: HashSet<String>,
    /// Jobs taken up for another group of the account than the one signed
    /// in now: their journaled destination, so their files always go on
    /// for their own group.
    elsewhere: HashMap<String, Destination>,
    network: Option<NetworkWait>,
    network_back: bool,
}

pub struct Queue {
    cfg: EngineConfig,
    rules: Mutex<Arc<dyn NameRules>>,
    portal: Mutex<Option<(Arc<dyn Portal>, Destination)>>,
    journal: Option<Arc<Journal>>,
    state: Mutex<State>,
    runtime: tokio::runtime::Handle,
}

impl Queue {
    /// Call inside a tokio runtime: batches run on it.
    pub fn new(cfg: EngineConfig, rules: Arc<dyn NameRules>) -> Arc<Queue> {
        Self::build(cfg, rules, None)
    }

    /// A queue whose batches are jobs in `journal`, so they can be resumed
    /// from their last acknowledged part, in this session or a later one.
    pub fn with_journal(
        cfg: EngineConfig,
        rules: Arc<dyn NameRules>,
        journal: Arc<Journal>,
    ) -> Arc<Queue> {
        Self::build(cfg, rules, Some(journal))
    }

    fn build(
        cfg: EngineConfig,
        rules: Arc<dyn NameRules>,
        journal: Option<Arc<Journal>>,
    ) -> Arc<Queue> {
        Arc::new(Queue {
            cfg,
            rules: Mutex::new(rules),
            portal: Mutex::new(None),
            journal,
            state: Mutex::new(State::default()),
            runtime: tokio::runtime::Handle::current(),
        })
    }

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

    /// The portal and destination a journaled job goes on with: the one
    /// signed in, when the job was going there; or the same account for
    /// the job's own group (the user had switched groups before sending
    /// it). `None`: signed out, or the job was another account's.
    fn portal_for(&self, want: &Destination) -> Option<(Arc<dyn Portal>, Destination)> {
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

    /// Unfinished desktop jobs of earlier sessions (newest first), not
    /// counting those already in this queue.
    pub fn unfinished(&self) -> Result<Vec<Resumable>, String> {
        let Some(j) = &self.journal else {
            return Ok(Vec::new());
        };
        let held = self.state.lock().unwrap().jobs.clone();
        let mut out = Vec::new();
        for summary in j.jobs(false).map_err(|e| e.to_string())? {
            if summary.kind != JOB_KIND || held.contains(&summary.id) {
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
                st.elsewhere.insert(id.to_string(), going);
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
                    parts: String::new(),
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

    /// Add the files of a submission batch: names may repeat, since each
    /// file goes to its own submission (Loculus checks names per row).
    /// Returns what was added and the new rows' ids.
    pub fn add_batch(&self, files: Vec<PathBuf>) -> (Added, Vec<EntryId>) {
        self.add_files(files, false)
    }

    fn add_files(&self, files: Vec<PathBuf>, unique: bool) -> (Added, Vec<EntryId>) {
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
                parts: String::new(),
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

    fn ids_with(&self, statuses: &[Status]) -> Vec<EntryId> {
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

    fn spawn_batch(self: &Arc<Self>, ids: Vec<EntryId>) -> Result<(), String> {
        self.spawn_batch_then(ids, None)
    }

    /// Sends `ids` for the portal signed in, except the files of jobs
    /// taken up for another group of the account: those go for their own.
    fn spawn_batch_then(
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
                    Some(job) if st.elsewhere.contains_key(job) => {
                        theirs.entry(job.clone()).or_default().push(id)
                    }
                    _ => own.push(id),
                }
            }
        }
        for (job, ids) in theirs {
            let want = self.state.lock().unwrap().elsewhere[&job].clone();
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

    fn spawn_on(
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
                        r.parts = r.parts.chars().map(|_| part::DONE).collect();
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
                r.parts = r.parts.chars().map(|_| part::WAITING).collect();
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
    fn with_mates(&self, mut ids: Vec<EntryId>) -> (Vec<EntryId>, HashSet<EntryId>) {
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
    fn pairs_among(&self, send: &[(EntryId, JobFile)]) -> Vec<crate::onecodex::Pair> {
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
            .map(|(a, b)| crate::onecodex::Pair {
                r1: files[a].0.clone(),
                r1_size: files[a].1,
                r2: files[b].0.clone(),
            })
            .collect()
    }

    /// With a journal: record files that have no job yet as a new job, and
    /// decide for each file from its journal entry whether it is done,
    /// continues its upload, starts again, or changed and is refused.
    fn journal_steps(
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
                .create_job(JOB_KIND, destination, &items)
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
    fn router(&self, routes: Vec<Option<JobRef>>) -> Option<Arc<dyn JobLog>> {
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
    fn close_finished_jobs(&self, jobs: &[String]) {
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

    fn on_event(&self, map: &[EntryId], e: Event) {
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
                r.parts = std::iter::repeat_n(part::WAITING, parts as usize).collect();
                r.size = size;
            }
            Event::FileStarted { remote_id, .. } => {
                r.status = Status::Sending;
                r.remote_id = Some(remote_id);
            }
            Event::PartStarted { part, attempt, .. } => {
                r.status = Status::Sending;
                let c = if attempt > 1 {
                    part::RETRYING
                } else {
                    part::SENDING
                };
                set_part(&mut r.parts, part, c);
            }
            Event::Progress { file_sent, .. } => r.sent = file_sent,
            Event::PartDone { part, .. } => set_part(&mut r.parts, part, part::DONE),
            Event::Retry { part, reason, .. } => {
                if let Some(p) = part {
                    set_part(&mut r.parts, p, part::RETRYING);
                }
                // A file sent in one request (One Codex's POST) cannot
                // continue where the failed attempt stopped.
                r.warning = Some(if part.is_some() && r.parts.chars().count() == 1 {
                    format!("retrying: {reason}; {}", crate::resume::SENT_AGAIN_WHOLE)
                } else {
                    format!("retrying: {reason}")
                });
            }
            Event::FileRestarted { reason, .. } => {
                r.parts = r.parts.chars().map(|_| part::WAITING).collect();
                r.sent = 0;
                r.warning = Some(reason);
            }
            Event::Warning { message, .. } => r.warning = Some(message),
            Event::FileDone {
                remote_id, sha256, ..
            } => {
                r.status = Status::Done;
                r.sent = r.size;
                r.parts = r.parts.chars().map(|_| part::DONE).collect();
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

    fn finish(&self, map: &[EntryId], outcomes: Vec<FileOutcome>) {
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
                        r.parts = r.parts.chars().map(|_| part::DONE).collect();
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

fn fail(r: &mut Row, class: ErrorClass, error: String, pausing: bool) {
    let stopped = class == ErrorClass::Cancelled;
    r.status = match (stopped, pausing) {
        (true, true) => Status::Paused,
        (true, false) => Status::Cancelled,
        // The sign-in was refused (revoked or expired for good): nothing
        // is wrong with the file, it waits for the user to sign in again.
        _ if class == ErrorClass::Auth => Status::Paused,
        _ => Status::Failed,
    };
    r.parts = r
        .parts
        .chars()
        .map(|c| match c {
            part::DONE => part::DONE,
            _ if stopped => part::WAITING,
            part::SENDING | part::RETRYING => part::FAILED,
            c => c,
        })
        .collect();
    r.error = (!stopped).then(|| {
        if class == ErrorClass::Auth {
            format!("{error}. Paused: sign in again and it continues from where it stopped")
        } else {
            error
        }
    });
}

/// A file's status, size and problem under `rules`, given the rows already
/// ready (names must be unique among them).
fn check(
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
fn pair_rows(st: &mut State, rules: &dyn NameRules) {
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

fn set_status(st: &mut State, id: EntryId, s: Status) {
    st.rows[id].status = s;
    st.dirty.insert(id);
}

fn set_part(parts: &mut String, part: u32, c: char) {
    let i = part.saturating_sub(1) as usize;
    if i < parts.len() {
        // Part states are ASCII: replace one byte in place.
        parts.replace_range(i..i + 1, c.encode_utf8(&mut [0; 4]));
    }
}

/// A folder becomes its files (recursively, sorted, dot-files and
/// dot-folders skipped, links below it left out); anything else stays as given.
pub fn expand(path: &Path, out: &mut Vec<PathBuf>) {
    crate::walk::expand(path, out, &mut Vec::new());
}

/// The job's network state: while it waits, its files show paused, not
/// failed. True when `e` was about the network.
fn on_network(st: &mut State, map: &[EntryId], e: &Event) -> bool {
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

    #[test]
    fn part_strip_updates_in_place() {
        let mut s = "www".to_string();
        set_part(&mut s, 1, part::SENDING);
        set_part(&mut s, 3, part::DONE);
        set_part(&mut s, 9, part::DONE);
        assert_eq!(s, "swd");
    }
}
