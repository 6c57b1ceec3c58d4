//! What happens to a ready run: what to send (or why it waits), and the
//! sending itself, as a journaled job. The watcher (mod.rs) owns the
//! identity, the journal record and resume; a [`RunHandler`] only says
//! what a run's job is and sends it. [`UploadRuns`] sends the run's reads
//! to any portal (One Codex: R1/R2 pairs within the run, by name); a
//! Loculus submission batch is another handler (ferry-front's
//! `SubmitRuns`, for the CLI and the app).

use std::path::PathBuf;
use std::sync::Arc;

use crate::job::{JobKind, JobParams};
use crate::journal::{JobRecord, Journal, Routed};
use crate::onecodex::pairs_of;
use crate::resume::Step;
use crate::scan::{Item, NameRules, scan};
use crate::{Engine, Error, JobFile, Portal, Uploaded};

/// A run whose files are complete and stable.
#[derive(Debug, Clone)]
pub struct ReadyRun {
    /// The watched folder it is in.
    pub dir: PathBuf,
    pub path: PathBuf,
    /// Canonical path: the same run whatever marker came, and whenever.
    pub identity: String,
    /// The completion marker that made it ready (None: the quiet period).
    pub marker: Option<String>,
    /// The files the include globs chose.
    pub files: Vec<PathBuf>,
}

/// What a ready run becomes.
// One per ready run, moved once: boxing the job's params would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Prepared {
    /// A job of `kind` with these files; `params` are kept in the journal
    /// (never a token) for a resume after a restart.
    Send {
        kind: JobKind,
        params: JobParams,
        items: Vec<Item>,
    },
    /// It cannot go yet; the text says why and what to fix (the linkage
    /// report, names the portal refuses). Checked again when the run's
    /// files change, or when asked.
    Wait(String),
}

/// A run's job went through: counts and one line for people.
#[derive(Debug, Clone)]
pub struct RunSent {
    pub files: usize,
    pub bytes: u64,
    pub summary: String,
}

/// Why sending a run stopped (what was sent is kept for a resume).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RunFailed(pub String);

impl From<Error> for RunFailed {
    fn from(e: Error) -> Self {
        RunFailed(e.to_string())
    }
}

#[async_trait::async_trait]
pub trait RunHandler: Send + Sync {
    async fn prepare(&self, run: &ReadyRun) -> Result<Prepared, RunFailed>;
    /// Send `files` of `job` (the whole job, or what an interrupted one
    /// has left: `already` holds what the portal accepted before), then
    /// finish it (a submit, a receipt).
    async fn send(
        &self,
        job: &str,
        params: &JobParams,
        files: Vec<JobFile>,
        already: Vec<(usize, Uploaded)>,
    ) -> Result<RunSent, RunFailed>;
    /// What an interrupted job sends again, as planned from the journal;
    /// a handler may add to it (a One Codex pair goes again whole).
    fn resume_steps(&self, _rec: &JobRecord, _steps: &mut [Step]) {}
}

/// Some files of a job were not accepted (what was sent is kept).
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} files failed; first: {first}")]
pub struct SendFailure {
    pub failed: usize,
    /// The job's files, those accepted before included.
    pub total: usize,
    pub first: Error,
}

/// Send `files` of `job` through `engine` (`already`: what the portal
/// accepted before, by index in the job), each change journaled before it
/// counts; every upload of the job, in its order. `ferry upload`, `ferry
/// resume`, the watchers and ferry-front's run submits all send with this.
pub async fn send_job(
    engine: &Engine,
    portal: Arc<dyn Portal>,
    journal: &Arc<Journal>,
    job: &str,
    files: Vec<JobFile>,
    already: Vec<(usize, Uploaded)>,
) -> Result<Vec<Uploaded>, SendFailure> {
    let total = files.len() + already.len();
    let mut slots: Vec<Option<Uploaded>> = (0..total).map(|_| None).collect();
    for (i, u) in already {
        slots[i] = Some(u);
    }
    // The rest are sent in order.
    let order: Vec<usize> = (0..total).filter(|i| slots[*i].is_none()).collect();
    let rec = journal.recorder(job);
    let log = Routed::wrap(order.iter().map(|&i| (rec.clone(), i)).collect());
    let outcomes = engine.run(portal, files, Some(log)).await;
    let mut first: Option<Error> = None;
    let mut failed = 0;
    for (o, i) in outcomes.into_iter().zip(order) {
        match o {
            Ok(u) => slots[i] = Some(u),
            Err(e) => {
                failed += 1;
                first.get_or_insert(e);
            }
        }
    }
    match first {
        None => Ok(slots.into_iter().flatten().collect()),
        Some(first) => Err(SendFailure {
            failed,
            total,
            first,
        }),
    }
}

/// A run's reads to a portal, as `ferry upload` sends them.
pub struct UploadRuns {
    pub engine: Engine,
    pub portal: Arc<dyn Portal>,
    pub journal: Arc<Journal>,
    /// What `ferry resume` needs to reach the portal again (never a token).
    pub params: JobParams,
    /// One Codex: a run's R1/R2 files are paired by name into one sample
    /// (kept in the job's `pairs`, as `ferry upload` keeps them).
    pub pair_reads: bool,
}

#[async_trait::async_trait]
impl RunHandler for UploadRuns {
    async fn prepare(&self, run: &ReadyRun) -> Result<Prepared, RunFailed> {
        if run.files.is_empty() {
            return Ok(Prepared::Wait(format!(
                "{}: no file in it matches the files to send (--include)",
                run.path.display()
            )));
        }
        let rules: &dyn NameRules = &*self.portal;
        let items = match scan(&run.files, rules) {
            Ok(items) => items,
            Err(report) => return Ok(Prepared::Wait(report.to_string())),
        };
        let mut params = self.params.clone();
        if self.pair_reads {
            // Pairs within this run only: another run's S1_R1 is another
            // sample.
            let files: Vec<(String, u64)> =
                items.iter().map(|i| (i.name.clone(), i.size)).collect();
            params.destination.pairs = pairs_of(&files);
        }
        Ok(Prepared::Send {
            kind: JobKind::Upload,
            params,
            items,
        })
    }

    async fn send(
        &self,
        job: &str,
        params: &JobParams,
        files: Vec<JobFile>,
        already: Vec<(usize, Uploaded)>,
    ) -> Result<RunSent, RunFailed> {
        // The run's pairs, told before its files start (they replace an
        // earlier run's pairs of the same names).
        let pairs = params.destination.pairs.clone();
        if !pairs.is_empty() {
            self.portal.learn_pairs(pairs);
        }
        // The first failure is the run's reason, as it always was.
        let done = send_job(
            &self.engine,
            self.portal.clone(),
            &self.journal,
            job,
            files,
            already,
        )
        .await
        .map_err(|f| RunFailed::from(f.first))?;
        let bytes = done.iter().map(|u| u.size).sum();
        Ok(RunSent {
            files: done.len(),
            bytes,
            summary: format!("{} files accepted by the portal", done.len()),
        })
    }

    fn resume_steps(&self, rec: &JobRecord, steps: &mut [Step]) {
        if self.pair_reads {
            crate::resume::resend_whole_pairs(rec, steps);
        }
    }
}
