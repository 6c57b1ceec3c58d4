//! The file system watches: inotify (notify's recommended watcher) where it
//! sees the writes, notify's PollWatcher on network shares, under
//! `--poll`, or once inotify's limits are used up. Events only wake the
//! watcher up; what changed is always read from the folders themselves, so
//! a lost or merged event never loses a run.

use std::path::Path;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use std::sync::Arc;

use tokio::sync::Notify;

/// How a folder is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Native,
    Poll(Duration),
}

/// What to say when inotify runs out of watches (or instances).
pub const LIMIT_FIX: &str = "inotify's watch limit (fs.inotify.max_user_watches) is used up; polling instead. To raise it: echo fs.inotify.max_user_watches=524288 | sudo tee /etc/sysctl.d/90-ferry-watch.conf && sudo sysctl --system";

/// A native watcher and, made when first needed, a poll watcher.
pub struct Watches {
    tx: Arc<Notify>,
    native: Option<notify::RecommendedWatcher>,
    poll: Option<(Duration, notify::PollWatcher)>,
}

/// Adding a watch failed; `limit` = the OS ran out of watches.
#[derive(Debug)]
pub struct AddFailed {
    pub limit: bool,
    pub detail: String,
}

impl Watches {
    pub fn new(tx: Arc<Notify>) -> Watches {
        Watches {
            tx,
            native: None,
            poll: None,
        }
    }

    fn wake(tx: &Arc<Notify>) -> impl Fn(notify::Result<notify::Event>) + Send + 'static {
        let tx = tx.clone();
        move |e: notify::Result<notify::Event>| {
            // Access-only events (a file read, e.g. by our own upload) are
            // not changes.
            if let Ok(ev) = &e
                && matches!(ev.kind, notify::EventKind::Access(_))
            {
                return;
            }
            tx.notify_one();
        }
    }

    /// Watch `path` (recursively for a run, not for a watched folder).
    pub fn add(&mut self, mode: Mode, path: &Path, recursive: bool) -> Result<(), AddFailed> {
        let rm = if recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        let res = match mode {
            Mode::Native => {
                if self.native.is_none() {
                    self.native =
                        Some(notify::recommended_watcher(Self::wake(&self.tx)).map_err(failed)?);
                }
                let w = self.native.as_mut().expect("made above");
                w.watch(path, rm)
            }
            Mode::Poll(every) => {
                if self.poll.as_ref().is_none_or(|(d, _)| *d != every) {
                    let cfg = notify::Config::default().with_poll_interval(every);
                    let w = notify::PollWatcher::new(Self::wake(&self.tx), cfg).map_err(failed)?;
                    self.poll = Some((every, w));
                }
                let (_, w) = self.poll.as_mut().expect("made above");
                w.watch(path, rm)
            }
        };
        res.map_err(failed)
    }

    /// Stop watching `path` (a run that is done, or gone).
    pub fn remove(&mut self, mode: Mode, path: &Path) {
        let _ = match mode {
            Mode::Native => self.native.as_mut().map(|w| w.unwatch(path)),
            Mode::Poll(_) => self.poll.as_mut().map(|(_, w)| w.unwatch(path)),
        };
    }
}

fn failed(e: notify::Error) -> AddFailed {
    let limit = matches!(e.kind, notify::ErrorKind::MaxFilesWatch)
        || matches!(&e.kind, notify::ErrorKind::Io(io) if io.raw_os_error() == Some(24) || io.raw_os_error() == Some(28));
    AddFailed {
        limit,
        detail: e.to_string(),
    }
}
