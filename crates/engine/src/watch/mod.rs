//! Watch folders (issue 14): each subfolder of a watched folder is a run
//! (a sequencer's output, or a plain folder of reads). A run is sent once
//! it is complete: its completion marker appeared (an instrument run), or
//! nothing in it changed for the quiet period (a plain folder); and only
//! when its files' sizes and modification times held still over the check
//! interval. Each run is one journaled job with a stable identity, so
//! restarts, a kill -9, a reboot, or a second watcher never send it twice.
//!
//! This is the one implementation: `ferry watch` and the app's Watched
//! folders panel only present its [`WatchEvent`]s.
//!
//! - [`run`]: what a run folder holds, its marker, the files to send;
//! - [`backend`]: inotify, or notify's PollWatcher (shares, `--poll`,
//!   inotify's limits used up);
//! - [`fskind`]: is a folder on a network share;
//! - [`lock`]: one watcher per folder;
//! - [`send`]: what a ready run becomes, and sending it.

pub mod backend;
pub mod fskind;
pub mod glob;
pub mod lock;
pub mod run;
pub mod send;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::journal::{JobSummary, Journal};
use crate::resume::{Step, plan_resume};
use crate::{Error, JobFile};
use backend::{Mode, Watches};
use run::{Seen, Snapshot};
pub use send::{Prepared, ReadyRun, RunFailed, RunHandler, RunSent, UploadRuns, send_job};

/// How runs are found and judged complete.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// File-name globs of completion markers, at a run's top level.
    pub markers: Vec<String>,
    /// File-name globs of the files to send.
    pub include: Vec<String>,
    /// A plain folder of reads (no instrument's run files in it) is ready
    /// once nothing in it changed for this long; None: markers only.
    pub quiet_period: Option<Duration>,
    /// A file is sent only if its size and mtime held still this long.
    pub check_interval: Duration,
    /// Poll every folder at this interval instead of inotify.
    pub poll: Option<Duration>,
    /// The poll interval for folders found on a network share.
    pub share_poll: Duration,
    /// Look once (twice, `check_interval` apart, for the stability check),
    /// send what is ready, and return: for cron.
    pub once: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            markers: run::DEFAULT_MARKERS.iter().map(|s| s.to_string()).collect(),
            include: run::DEFAULT_INCLUDE.iter().map(|s| s.to_string()).collect(),
            quiet_period: Some(Duration::from_secs(300)),
            check_interval: Duration::from_secs(10),
            poll: None,
            share_poll: Duration::from_secs(60),
            once: false,
        }
    }
}

/// What the watcher tells the CLI (`--json`: one line each) and the app.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WatchEvent {
    /// The folder's lock is taken and it is watched (`mode`: inotify or
    /// poll; `why` says why it is polled).
    Watching {
        dir: PathBuf,
        mode: String,
        poll_s: Option<u64>,
        why: Option<String>,
    },
    /// Something about a folder the user should know (another watcher
    /// holds it; inotify's limit is used up).
    WatchNote { dir: PathBuf, message: String },
    /// The run is not complete yet; `reason` says what it waits for.
    RunWaiting {
        dir: PathBuf,
        run: PathBuf,
        reason: String,
    },
    /// The run is complete and stable; its files are about to be sent.
    RunReady {
        dir: PathBuf,
        run: PathBuf,
        marker: Option<String>,
        files: usize,
        bytes: u64,
    },
    /// Its job is being sent (`resumed`: an interrupted one goes on).
    RunSending {
        dir: PathBuf,
        run: PathBuf,
        job: String,
        resumed: bool,
    },
    /// The portal has it all (`earlier`: sent before this watcher started).
    RunDone {
        dir: PathBuf,
        run: PathBuf,
        job: String,
        files: usize,
        bytes: u64,
        summary: String,
        earlier: bool,
    },
    /// It waits for a person: `reason` says why and what to do; it is
    /// checked again when its files change (or on Check again).
    RunAttention {
        dir: PathBuf,
        run: PathBuf,
        reason: String,
    },
}

/// What `--once` (or a stopped watcher) leaves behind.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct WatchSummary {
    pub sent: usize,
    pub waiting: usize,
    pub attention: usize,
    /// Folders another watcher holds (not looked at).
    pub locked: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("{}: cannot be watched ({source}); check the path", dir.display())]
    Folder {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: is not a folder; watch the folder the instrument writes its runs into", dir.display())]
    NotAFolder { dir: PathBuf },
    #[error("{}: cannot take the watch lock ({source})", path.display())]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Journal(#[from] Error),
}

/// Stops or nudges a running watcher (the app's Pause and Check again).
#[derive(Clone, Default)]
pub struct Control {
    pub stop: CancellationToken,
    recheck: Arc<Notify>,
}

impl Control {
    /// Look at runs that need attention again now, changed or not.
    pub fn check_again(&self) {
        self.recheck.notify_one();
    }
}

pub type Emit = Arc<dyn Fn(WatchEvent) + Send + Sync>;

struct Folder {
    dir: PathBuf,
    mode: Mode,
    why: Option<String>,
    lock: Option<lock::FolderLock>,
    told_held: bool,
}

#[derive(Default)]
struct Track {
    folder: usize,
    /// The files as last seen, and since when they have not changed.
    last: Option<Vec<Seen>>,
    since: Option<Instant>,
    /// The files when it last needed attention: not retried until they
    /// change (or Check again).
    attention: Option<Vec<Seen>>,
    told: Option<String>,
    watched: bool,
    done: bool,
}

enum Todo {
    New(ReadyRun, Vec<Seen>),
    Resume(String, PathBuf, Vec<Seen>),
}

/// Watch `dirs` until `control.stop` (or, with `opts.once`, one look).
pub async fn watch(
    dirs: &[PathBuf],
    opts: &WatchOptions,
    journal: Arc<Journal>,
    handler: Arc<dyn RunHandler>,
    emit: Emit,
    control: Control,
) -> Result<WatchSummary, WatchError> {
    let locks_dir = journal
        .path()
        .parent()
        .map(|p| p.join("watch-locks"))
        .unwrap_or_else(|| PathBuf::from("watch-locks"));
    let mut folders = Vec::new();
    for d in dirs {
        let dir = std::fs::canonicalize(d).map_err(|source| WatchError::Folder {
            dir: d.clone(),
            source,
        })?;
        if !dir.is_dir() {
            return Err(WatchError::NotAFolder { dir: d.clone() });
        }
        let (mode, why) = match (opts.poll, fskind::remote_fs(&dir)) {
            (Some(p), _) => (Mode::Poll(p), Some("--poll".to_string())),
            (None, Some(kind)) => (
                Mode::Poll(opts.share_poll),
                Some(format!(
                    "on a network share ({kind}): inotify does not see what other machines write there"
                )),
            ),
            (None, None) => (Mode::Native, None),
        };
        folders.push(Folder {
            dir,
            mode,
            why,
            lock: None,
            told_held: false,
        });
    }
    // Events only wake the loop (a permit, not a queue: memory does not
    // grow with a busy instrument while a run is being sent).
    let woke = Arc::new(Notify::new());
    let mut watches = Watches::new(woke.clone());
    let mut tracks: BTreeMap<PathBuf, Track> = BTreeMap::new();
    let mut summary = WatchSummary::default();
    let mut pass = 0usize;
    let mut recheck = false;
    loop {
        if control.stop.is_cancelled() {
            break;
        }
        // 1. Take the folders' locks (a folder another watcher holds is
        // looked at again each pass: it takes over when that one stops).
        for f in folders.iter_mut().filter(|f| f.lock.is_none()) {
            match lock::try_lock(&locks_dir, &f.dir).map_err(|source| WatchError::Lock {
                path: lock::lock_path(&locks_dir, &f.dir),
                source,
            })? {
                Ok(l) => {
                    f.lock = Some(l);
                    if let Err(e) = watches.add(f.mode, &f.dir, false) {
                        fall_back(f, &e, opts, &emit);
                        let _ = watches.add(f.mode, &f.dir, false);
                    }
                    emit(WatchEvent::Watching {
                        dir: f.dir.clone(),
                        mode: match f.mode {
                            Mode::Native => "inotify".into(),
                            Mode::Poll(_) => "poll".into(),
                        },
                        poll_s: match f.mode {
                            Mode::Poll(d) => Some(d.as_secs()),
                            Mode::Native => None,
                        },
                        why: f.why.clone(),
                    });
                }
                Err(held) => {
                    if !f.told_held {
                        f.told_held = true;
                        emit(WatchEvent::WatchNote {
                            dir: f.dir.clone(),
                            message: format!(
                                "another Ferry{} is watching this folder (lock {}); waiting until it stops, so no run is sent twice",
                                held.pid
                                    .map(|p| format!(" (process {p})"))
                                    .unwrap_or_default(),
                                held.lock_file.display()
                            ),
                        });
                    }
                }
            }
        }
        // 2. Find the runs of the folders held.
        for (i, f) in folders.iter().enumerate().filter(|(_, f)| f.lock.is_some()) {
            let found = run::runs_in(&f.dir).map_err(|source| WatchError::Folder {
                dir: f.dir.clone(),
                source,
            })?;
            for r in &found {
                tracks.entry(r.clone()).or_insert_with(|| Track {
                    folder: i,
                    ..Default::default()
                });
            }
            let gone: Vec<PathBuf> = tracks
                .iter()
                .filter(|(p, t)| t.folder == i && !found.contains(p))
                .map(|(p, _)| p.clone())
                .collect();
            for p in gone {
                if tracks.remove(&p).is_some_and(|t| t.watched && !t.done) {
                    watches.remove(f.mode, &p);
                }
            }
        }
        // 3. Judge each run not yet done. The journal is read afresh: a
        // run another watcher sent while this one waited is not sent again.
        let known: HashMap<String, JobSummary> = journal.watch_jobs()?;
        let now = Instant::now();
        let mut todo = Vec::new();
        for (path, t) in tracks.iter_mut().filter(|(_, t)| !t.done) {
            let f = &mut folders[t.folder];
            let identity = path.to_string_lossy().into_owned();
            if let Some(job) = known.get(&identity)
                && job.state == crate::job::JobState::Done
            {
                t.done = true;
                if t.watched {
                    watches.remove(f.mode, path);
                }
                emit(WatchEvent::RunDone {
                    dir: f.dir.clone(),
                    run: path.clone(),
                    job: job.id.clone(),
                    files: job.files,
                    bytes: job.bytes,
                    summary: "sent before".into(),
                    earlier: true,
                });
                continue;
            }
            if !t.watched {
                if let Err(e) = watches.add(f.mode, path, true) {
                    fall_back(f, &e, opts, &emit);
                    let _ = watches.add(f.mode, path, true);
                }
                t.watched = true;
            }
            let snap = run::snapshot(path, &opts.markers);
            let unchanged_since_attention = t.attention.as_ref() == Some(&snap.files) && !recheck;
            if let Some(job) = known.get(&identity) {
                // Interrupted (a kill -9, a reboot, a failure): it goes on
                // from what the storage acknowledged, at once.
                if !unchanged_since_attention {
                    todo.push(Todo::Resume(job.id.clone(), path.clone(), snap.files));
                }
                continue;
            }
            if t.last.as_ref() != Some(&snap.files) {
                t.since = Some(now);
                t.last = Some(snap.files.clone());
            }
            let still = now.duration_since(t.since.unwrap_or(now));
            let reason = match readiness(&snap, still, opts) {
                Ok(()) if unchanged_since_attention => continue,
                Ok(()) => {
                    let files = snap.selected(&opts.include);
                    todo.push(Todo::New(
                        ReadyRun {
                            dir: f.dir.clone(),
                            path: path.clone(),
                            identity,
                            marker: snap.marker.clone(),
                            files,
                        },
                        snap.files,
                    ));
                    continue;
                }
                Err(reason) => reason,
            };
            if t.told.as_ref() != Some(&reason) && t.attention.is_none() {
                t.told = Some(reason.clone());
                emit(WatchEvent::RunWaiting {
                    dir: f.dir.clone(),
                    run: path.clone(),
                    reason,
                });
            }
        }
        recheck = false;
        // 4. Send what is ready, one run at a time (each run's files go
        // in parallel parts).
        for item in todo {
            if control.stop.is_cancelled() {
                break;
            }
            let (path, seen) = match &item {
                Todo::New(r, s) => (r.path.clone(), s.clone()),
                Todo::Resume(_, p, s) => (p.clone(), s.clone()),
            };
            let Some(t) = tracks.get_mut(&path) else {
                continue;
            };
            let f = &folders[t.folder];
            match send_one(item, &journal, handler.as_ref(), &emit).await? {
                Ok(()) => {
                    summary.sent += 1;
                    t.done = true;
                    t.attention = None;
                    watches.remove(f.mode, &path);
                }
                Err(reason) => {
                    t.attention = Some(seen);
                    t.told = None;
                    emit(WatchEvent::RunAttention {
                        dir: f.dir.clone(),
                        run: path.clone(),
                        reason,
                    });
                }
            }
        }
        pass += 1;
        if opts.once && pass >= 2 {
            break;
        }
        // 5. Wait for a change, the next check, or a stop.
        let pending = tracks.values().any(|t| !t.done);
        let any_held = folders.iter().any(|f| f.lock.is_none());
        let tick = folders
            .iter()
            .map(|f| match f.mode {
                Mode::Poll(d) => d.max(opts.check_interval),
                Mode::Native if pending => opts.check_interval,
                // Nothing pending: a safety look now and then (events do
                // the rest).
                Mode::Native => Duration::from_secs(60),
            })
            .min()
            .unwrap_or(opts.check_interval);
        let tick = if any_held {
            tick.min(Duration::from_secs(2))
        } else {
            tick
        };
        let tick = if opts.once { opts.check_interval } else { tick };
        tokio::select! {
            _ = control.stop.cancelled() => break,
            _ = control.recheck.notified() => recheck = true,
            _ = tokio::time::sleep(tick) => {}
            _ = woke.notified(), if !opts.once => {
                // Let a burst of events (a run copied in) settle, then
                // look once.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    for t in tracks.values().filter(|t| !t.done) {
        if t.attention.is_some() {
            summary.attention += 1;
        } else {
            summary.waiting += 1;
        }
    }
    summary.locked = folders
        .iter()
        .filter(|f| f.lock.is_none())
        .map(|f| f.dir.clone())
        .collect();
    Ok(summary)
}

/// Ok when the run is complete and its files held still long enough, else
/// what it waits for.
fn readiness(snap: &Snapshot, still: Duration, opts: &WatchOptions) -> Result<(), String> {
    let secs = |d: Duration| format!("{} s", d.as_secs());
    if let Some(m) = &snap.marker {
        if still >= opts.check_interval {
            return Ok(());
        }
        return Err(format!(
            "{m} is there; waiting until its files stop changing ({} without a change)",
            secs(opts.check_interval)
        ));
    }
    if let Some(quiet) = opts.quiet_period
        && !snap.instrument
    {
        if snap.selected(&opts.include).is_empty() {
            return Err("no files to send in it yet".into());
        }
        // Quiet for as long as this watcher has seen it still, or since
        // the newest file's mtime (a run that finished while Ferry was
        // not running need not wait again).
        let by_mtime = snap
            .newest()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or_default();
        let quiet_for = still.max(by_mtime);
        if quiet_for >= quiet && still >= opts.check_interval {
            return Ok(());
        }
        return Err(format!(
            "a plain folder of reads: sent once nothing in it changed for {}",
            secs(quiet)
        ));
    }
    Err(format!(
        "waiting for the run to finish (a completion marker: {})",
        opts.markers.join(", ")
    ))
}

/// inotify ran out: poll this folder instead, and say so once.
fn fall_back(f: &mut Folder, e: &backend::AddFailed, opts: &WatchOptions, emit: &Emit) {
    if f.mode != Mode::Native {
        return;
    }
    f.mode = Mode::Poll(opts.share_poll);
    f.why = Some(if e.limit {
        backend::LIMIT_FIX.to_string()
    } else {
        format!("inotify failed ({}); polling instead", e.detail)
    });
    emit(WatchEvent::WatchNote {
        dir: f.dir.clone(),
        message: format!(
            "{} (every {} s)",
            f.why.clone().unwrap_or_default(),
            opts.share_poll.as_secs()
        ),
    });
}

/// Send one run: a new job, or the rest of an interrupted one. The outer
/// error is the journal failing (the watcher stops); the inner one is why
/// this run needs attention.
async fn send_one(
    item: Todo,
    journal: &Arc<Journal>,
    handler: &dyn RunHandler,
    emit: &Emit,
) -> Result<Result<(), String>, WatchError> {
    let (job, params, files, already, dir, path, resumed) = match item {
        Todo::New(run, _) => {
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
            // The identity goes into the job in the same transaction as
            // its files: a run is never without its job once anything
            // of it may have been sent.
            params.watch = Some(crate::job::WatchedRun {
                identity: run.identity.clone(),
                dir: run.dir.clone(),
                run: run.path.clone(),
                marker: run.marker.clone(),
            });
            let job = journal.create_job(&kind, &params, &items)?;
            let files: Vec<JobFile> = items.into_iter().map(JobFile::from).collect();
            (job, params, files, vec![], run.dir, run.path, false)
        }
        Todo::Resume(job, path, _) => {
            let Some(rec) = journal.job(&job)? else {
                return Ok(Err(format!("job {job} is gone from the journal")));
            };
            let mut files = Vec::new();
            let mut already = Vec::new();
            let mut refused = Vec::new();
            for (i, step) in plan_resume(&rec).into_iter().enumerate() {
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
                .unwrap_or_else(|| path.parent().map(Path::to_path_buf).unwrap_or_default());
            (job, rec.params, files, already, dir, path, true)
        }
    };
    emit(WatchEvent::RunSending {
        dir: dir.clone(),
        run: path.clone(),
        job: job.clone(),
        resumed,
    });
    match handler.send(&job, &params, files, already).await {
        Ok(sent) => {
            journal.set_job_state(&job, crate::job::JobState::Done)?;
            emit(WatchEvent::RunDone {
                dir,
                run: path,
                job,
                files: sent.files,
                bytes: sent.bytes,
                summary: sent.summary,
                earlier: false,
            });
            Ok(Ok(()))
        }
        Err(e) => Ok(Err(format!(
            "{e}\n  what was sent is kept (job {job}); it goes on when the run's files change, at the next start, or with `ferry resume {job}`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_inotify_watches_falls_back_to_polling_and_names_the_fix() {
        let mut f = Folder {
            dir: "/data/runs".into(),
            mode: Mode::Native,
            why: None,
            lock: None,
            told_held: false,
        };
        let said = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = said.clone();
        let emit: Emit = Arc::new(move |e| s.lock().unwrap().push(e));
        let opts = WatchOptions::default();
        let full = backend::AddFailed {
            limit: true,
            detail: "OS file watch limit reached.".into(),
        };
        fall_back(&mut f, &full, &opts, &emit);
        assert_eq!(f.mode, Mode::Poll(Duration::from_secs(60)));
        let said = said.lock().unwrap();
        let [WatchEvent::WatchNote { message, .. }] = said.as_slice() else {
            panic!("{said:?}");
        };
        assert!(message.contains("fs.inotify.max_user_watches"), "{message}");
        assert!(message.contains("sysctl"), "{message}");
        // Said once: a folder already polled is left as it is.
        drop(said);
        fall_back(&mut f, &full, &opts, &emit);
    }

    #[test]
    fn readiness_needs_the_marker_or_the_quiet_period_and_stable_files() {
        let opts = WatchOptions {
            quiet_period: Some(Duration::from_secs(300)),
            check_interval: Duration::from_secs(10),
            ..WatchOptions::default()
        };
        let snap = |marker: Option<&str>, instrument: bool| Snapshot {
            files: vec![Seen {
                path: "/r/a.fastq.gz".into(),
                size: 1,
                // Written just now: the quiet period has not passed.
                mtime: Some(SystemTime::now()),
            }],
            marker: marker.map(String::from),
            instrument,
            links: vec![],
            unreadable: vec![],
        };
        let s = Duration::from_secs;
        let r = readiness(&snap(None, true), s(3600), &opts).unwrap_err();
        assert!(r.contains("completion marker"), "{r}");
        let r = readiness(&snap(Some("CopyComplete.txt"), true), s(5), &opts).unwrap_err();
        assert!(r.contains("stop changing"), "{r}");
        assert!(readiness(&snap(Some("CopyComplete.txt"), true), s(10), &opts).is_ok());
        let r = readiness(&snap(None, false), s(60), &opts).unwrap_err();
        assert!(r.contains("plain folder"), "{r}");
        assert!(readiness(&snap(None, false), s(300), &opts).is_ok());
        let markers_only = WatchOptions {
            quiet_period: None,
            ..opts
        };
        assert!(readiness(&snap(None, false), s(3600), &markers_only).is_err());
    }
}
