//! One ready run as a journaled job: a new one (the run's identity goes
//! into the job with its files, in one transaction), or the rest of an
//! interrupted one; then sent through the [`RunHandler`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::send::{Prepared, ReadyRun, RunHandler};
use super::{Emit, WatchError, WatchEvent};
use crate::journal::Journal;
use crate::resume::{Step, plan_resume};
use crate::{JobFile, Uploaded};

/// A run to send now: ready and new, or with an interrupted job.
pub(super) enum Todo {
    New(ReadyRun),
    Resume { job: String, run: PathBuf },
}

impl Todo {
    pub(super) fn run(&self) -> &Path {
        match self {
            Todo::New(r) => &r.path,
            Todo::Resume { run, .. } => run,
        }
    }
}

/// A job about to be sent: what is left of it and what the portal holds.
struct Going {
    job: String,
    params: crate::job::JobParams,
    files: Vec<JobFile>,
    already: Vec<(usize, Uploaded)>,
    dir: PathBuf,
    run: PathBuf,
    resumed: bool,
}

/// Send one run. The outer error is the journal failing (the watcher
/// stops); the inner one is why this run needs attention.
pub(super) async fn send_one(
    item: Todo,
    journal: &Arc<Journal>,
    handler: &dyn RunHandler,
    emit: &Emit,
) -> Result<Result<(), String>, WatchError> {
    let going = match item {
        Todo::New(run) => start(run, journal, handler, emit).await?,
        Todo::Resume { job, run } => go_on(job, run, journal, handler)?,
    };
    let g = match going {
        Ok(g) => g,
        Err(why) => return Ok(Err(why)),
    };
    emit(WatchEvent::RunSending {
        dir: g.dir.clone(),
        run: g.run.clone(),
        job: g.job.clone(),
        resumed: g.resumed,
    });
    match handler.send(&g.job, &g.params, g.files, g.already).await {
        Ok(sent) => {
            journal.set_job_state(&g.job, crate::job::JobState::Done)?;
            emit(WatchEvent::RunDone {
                dir: g.dir,
                run: g.run,
                job: g.job,
                files: sent.files,
                bytes: sent.bytes,
                summary: sent.summary,
                earlier: false,
            });
            Ok(Ok(()))
        }
        Err(e) => Ok(Err(format!(
            "{e}\n  what was sent is kept (job {}); it goes on when the run's files change, at the next start, or with `ferry resume {}`",
            g.job, g.job
        ))),
    }
}

/// A new job for a ready run, unless the handler says it must wait.
async fn start(
    run: ReadyRun,
    journal: &Arc<Journal>,
    handler: &dyn RunHandler,
    emit: &Emit,
) -> Result<Result<Going, String>, WatchError> {
    let prepared = match handler.prepare(&run).await {
        Ok(p) => p,
        Err(e) => return Ok(Err(e.0)),
    };
    let (kind, mut params, items) = match prepared {
        Prepared::Wait(why) => return Ok(Err(why)),
        Prepared::Send {
            kind,
            params,
            items,
        } => (kind, params, items),
    };
    emit(WatchEvent::RunReady {
        dir: run.dir.clone(),
        run: run.path.clone(),
        marker: run.marker.clone(),
        files: items.len(),
        bytes: items.iter().map(|i| i.size).sum(),
    });
    // The identity goes into the job in the same transaction as its
    // files: a run is never without its job once anything of it may have
    // been sent.
    params.watch = Some(crate::job::WatchedRun {
        identity: run.identity.clone(),
        dir: run.dir.clone(),
        run: run.path.clone(),
        marker: run.marker.clone(),
    });
    let job = journal.create_job(&kind, &params, &items)?;
    Ok(Ok(Going {
        job,
        params,
        files: items.into_iter().map(JobFile::from).collect(),
        already: vec![],
        dir: run.dir,
        run: run.path,
        resumed: false,
    }))
}

/// The rest of an interrupted job, from what the storage acknowledged.
fn go_on(
    job: String,
    run: PathBuf,
    journal: &Arc<Journal>,
    handler: &dyn RunHandler,
) -> Result<Result<Going, String>, WatchError> {
    let Some(rec) = journal.job(&job)? else {
        return Ok(Err(format!("job {job} is gone from the journal")));
    };
    let mut files = Vec::new();
    let mut already = Vec::new();
    let mut refused = Vec::new();
    let mut steps = plan_resume(&rec);
    handler.resume_steps(&rec, &mut steps);
    for (i, step) in steps.into_iter().enumerate() {
        match step {
            Step::Done(u) => already.push((i, u)),
            Step::Send { file, .. } => files.push(file),
            Step::Refused(e) => refused.push(e.to_string()),
        }
    }
    if !refused.is_empty() {
        return Ok(Err(format!(
            "its interrupted job {job} cannot go on: {} (forget it with `ferry abort {job}` to send the run anew)",
            refused.join("; ")
        )));
    }
    let dir = rec
        .params
        .watch
        .as_ref()
        .map(|w| w.dir.clone())
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| run.parent().map(Path::to_path_buf).unwrap_or_default());
    Ok(Ok(Going {
        job,
        params: rec.params,
        files,
        already,
        dir,
        run,
        resumed: true,
    }))
}
