//! The one typed stream of progress events that the CLI and the GUI render.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

/// Files are named by their index in the job (stable across events).
pub type FileIndex = usize;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The file is planned and waits for a slot.
    FileQueued {
        file: FileIndex,
        path: PathBuf,
        name: String,
        size: u64,
        parts: u32,
        part_size: u64,
    },
    /// The portal handed out where to send the file.
    FileStarted { file: FileIndex, remote_id: String },
    /// A part's request is about to be sent (attempt counts from 1).
    PartStarted {
        file: FileIndex,
        part: u32,
        attempt: u32,
        size: u64,
    },
    /// Bytes of the file sent so far (throttled).
    Progress {
        file: FileIndex,
        part: u32,
        part_sent: u64,
        file_sent: u64,
    },
    /// The storage acknowledged a part.
    PartDone {
        file: FileIndex,
        part: u32,
        etag: String,
    },
    /// Something failed and will be tried again after `delay_ms`.
    Retry {
        file: FileIndex,
        part: Option<u32>,
        attempt: u32,
        delay_ms: u64,
        reason: String,
    },
    /// The file's upload is abandoned and started again (`reason` says why).
    FileRestarted { file: FileIndex, reason: String },
    /// Something the user should know that does not stop the file.
    Warning { file: FileIndex, message: String },
    /// The portal accepted the whole file.
    FileDone {
        file: FileIndex,
        name: String,
        remote_id: String,
        size: u64,
        sha256: String,
    },
    /// No connection can be made (or every part stalled at once): the job
    /// waits for the network since `since` (Unix seconds), trying again at
    /// most every `retry_every_s`; parts waiting lose no attempts.
    NetworkWaiting {
        since: u64,
        retry_every_s: u64,
        host: String,
    },
    /// A connection was made again after `waited_ms`: every file goes on.
    NetworkBack { waited_ms: u64 },
    /// The computer slept about `slept_s` seconds (the wall clock jumped
    /// past the monotonic one): connections were dropped and made anew.
    Woke { slept_s: u64 },
    /// The file could not be uploaded; `error` says why and what to do.
    FileFailed {
        file: FileIndex,
        name: String,
        path: PathBuf,
        error: String,
        class: crate::ErrorClass,
    },
}

/// Where events go. Cheap to clone; the receiver decides how to render.
#[derive(Clone)]
pub struct EventSink(Arc<dyn Fn(Event) + Send + Sync>);

impl EventSink {
    pub fn new(f: impl Fn(Event) + Send + Sync + 'static) -> Self {
        EventSink(Arc::new(f))
    }

    /// A sink that drops everything.
    pub fn none() -> Self {
        EventSink::new(|_| {})
    }

    pub fn emit(&self, e: Event) {
        (self.0)(e)
    }
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSink")
    }
}
