//! Watch folders (issue 14): each subfolder of a watched folder is a run
//! (a sequencer's output, or a plain folder of reads). A run is sent once
//! it is complete: its completion marker appeared (an instrument run), or
//! nothing in it changed for the quiet period (a plain folder); and only
//! when its files' sizes and modification times held still over the check
//! interval. Each run is one journaled job with a stable identity, so
//! restarts, a kill -9, a reboot, or a second watcher never send it twice.
//!
//! This is the one implementation: `ferry watch` and the app's Watched
//! folders panel only present its [`WatchEvent`]s. A run folder submitted
//! as a Loculus batch is ferry-front's `SubmitRuns` handler.
//!
//! - [`run`]: what a run folder holds, its marker, the files to send;
//! - [`backend`]: inotify, or notify's PollWatcher (shares, `--poll`,
//!   inotify's limits used up);
//! - [`fskind`]: is a folder on a network share;
//! - [`lock`]: one watcher per folder;
//! - [`send`]: what a ready run becomes, and sending it;
//! - [`ready`]: whether a run is complete, or what it waits for;
//! - [`watcher`]: the loop: locks, runs found, judged, sent;
//! - [`job`]: one run's journaled job, new or resumed.

pub mod backend;
pub mod fskind;
pub mod glob;
mod job;
pub mod lock;
mod ready;
pub mod run;
pub mod send;
mod watcher;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::Error;
pub use send::{
    Prepared, ReadyRun, RunFailed, RunHandler, RunSent, SendFailure, UploadRuns, send_job,
};
pub use watcher::watch;

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
    pub(crate) recheck: Arc<Notify>,
}

impl Control {
    /// Look at runs that need attention again now, changed or not.
    pub fn check_again(&self) {
        self.recheck.notify_one();
    }
}

pub type Emit = Arc<dyn Fn(WatchEvent) + Send + Sync>;
