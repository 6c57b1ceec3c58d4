//! The watcher's loop: take each folder's lock, find its runs, judge each
//! run not yet done (the journal is read afresh every pass), send what is
//! ready one run at a time, then wait for a change, the next check, a
//! Check again, or a stop.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::backend::{self, Mode, Watches};
use super::job::{Todo, send_one};
use super::run::{self, Seen};
use super::send::{ReadyRun, RunHandler};
use super::{Control, Emit, WatchError, WatchEvent, WatchOptions, WatchSummary, fskind, lock};
use crate::journal::{JobSummary, Journal};

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

struct Watcher<'a> {
    opts: &'a WatchOptions,
    journal: Arc<Journal>,
    emit: Emit,
    locks_dir: PathBuf,
    folders: Vec<Folder>,
    watches: Watches,
    tracks: BTreeMap<PathBuf, Track>,
    /// A Check again came: runs needing attention are tried again.
    recheck: bool,
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
    let locks_dir = lock::locks_dir(journal.path());
    let mut folders = Vec::new();
    for d in dirs {
        folders.push(folder(d, opts)?);
    }
    // Events only wake the loop (a permit, not a queue: memory does not
    // grow with a busy instrument while a run is being sent).
    let woke = Arc::new(Notify::new());
    let mut w = Watcher {
        opts,
        journal,
        emit,
        locks_dir,
        folders,
        watches: Watches::new(woke.clone()),
        tracks: BTreeMap::new(),
        recheck: false,
    };
    let mut summary = WatchSummary::default();
    let mut pass = 0usize;
    loop {
        if control.stop.is_cancelled() {
            break;
        }
        w.take_locks()?;
        w.find_runs()?;
        let todo = w.judge()?;
        summary.sent += w.send(todo, handler.as_ref(), &control).await?;
        pass += 1;
        if opts.once && pass >= 2 {
            break;
        }
        let tick = w.tick();
        tokio::select! {
            _ = control.stop.cancelled() => break,
            _ = control.recheck.notified() => w.recheck = true,
            _ = tokio::time::sleep(tick) => {}
            _ = woke.notified(), if !opts.once => {
                // Let a burst of events (a run copied in) settle, then
                // look once.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    Ok(w.summary(summary))
}

/// A folder to watch: canonical, and polled when on a network share or
/// asked to.
fn folder(d: &PathBuf, opts: &WatchOptions) -> Result<Folder, WatchError> {
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
    Ok(Folder {
        dir,
        mode,
        why,
        lock: None,
        told_held: false,
    })
}

impl Watcher<'_> {
    /// Take the folders' locks (a folder another watcher holds is looked
    /// at again each pass: it takes over when that one stops).
    fn take_locks(&mut self) -> Result<(), WatchError> {
        for f in self.folders.iter_mut().filter(|f| f.lock.is_none()) {
            let taken =
                lock::try_lock(&self.locks_dir, &f.dir).map_err(|source| WatchError::Lock {
                    path: lock::lock_path(&self.locks_dir, &f.dir),
                    source,
                })?;
            match taken {
                Ok(l) => {
                    f.lock = Some(l);
                    if let Err(e) = self.watches.add(f.mode, &f.dir, false) {
                        fall_back(f, &e, self.opts, &self.emit);
                        let _ = self.watches.add(f.mode, &f.dir, false);
                    }
                    (self.emit)(WatchEvent::Watching {
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
                Err(held) if !f.told_held => {
                    f.told_held = true;
                    (self.emit)(WatchEvent::WatchNote {
                        dir: f.dir.clone(),
                        message: format!(
                            "{} is watching this folder (lock {}); waiting until it stops, so no run is sent twice",
                            held.holder(),
                            held.lock_file.display()
                        ),
                    });
                }
                Err(_) => {}
            }
        }
        Ok(())
    }

    /// The runs of the folders held: new ones tracked, gone ones dropped.
    fn find_runs(&mut self) -> Result<(), WatchError> {
        for (i, f) in self.folders.iter().enumerate() {
            if f.lock.is_none() {
                continue;
            }
            let found = run::runs_in(&f.dir).map_err(|source| WatchError::Folder {
                dir: f.dir.clone(),
                source,
            })?;
            for r in &found {
                self.tracks.entry(r.clone()).or_insert_with(|| Track {
                    folder: i,
                    ..Default::default()
                });
            }
            let gone: Vec<PathBuf> = self
                .tracks
                .iter()
                .filter(|(p, t)| t.folder == i && !found.contains(p))
                .map(|(p, _)| p.clone())
                .collect();
            for p in gone {
                if self.tracks.remove(&p).is_some_and(|t| t.watched && !t.done) {
                    self.watches.remove(f.mode, &p);
                }
            }
        }
        Ok(())
    }

    /// Judge each run not yet done. The journal is read afresh: a run
    /// another watcher sent while this one waited is not sent again.
    fn judge(&mut self) -> Result<Vec<(Todo, Vec<Seen>)>, WatchError> {
        let known: HashMap<String, JobSummary> = self.journal.watch_jobs()?;
        let now = Instant::now();
        let mut todo = Vec::new();
        let recheck = std::mem::take(&mut self.recheck);
        for (path, t) in self.tracks.iter_mut().filter(|(_, t)| !t.done) {
            let f = &mut self.folders[t.folder];
            let identity = path.to_string_lossy().into_owned();
            if let Some(job) = known.get(&identity)
                && job.state == crate::job::JobState::Done
            {
                t.done = true;
                if t.watched {
                    self.watches.remove(f.mode, path);
                }
                (self.emit)(WatchEvent::RunDone {
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
                if let Err(e) = self.watches.add(f.mode, path, true) {
                    fall_back(f, &e, self.opts, &self.emit);
                    let _ = self.watches.add(f.mode, path, true);
                }
                t.watched = true;
            }
            let snap = run::snapshot(path, &self.opts.markers);
            let unchanged_since_attention = t.attention.as_ref() == Some(&snap.files) && !recheck;
            if let Some(job) = known.get(&identity) {
                // Interrupted (a kill -9, a reboot, a failure): it goes on
                // from what the storage acknowledged, at once.
                if !unchanged_since_attention {
                    let item = Todo::Resume {
                        job: job.id.clone(),
                        run: path.clone(),
                    };
                    todo.push((item, snap.files));
                }
                continue;
            }
            if t.last.as_ref() != Some(&snap.files) {
                t.since = Some(now);
                t.last = Some(snap.files.clone());
            }
            let still = now.duration_since(t.since.unwrap_or(now));
            let reason = match super::ready::readiness(&snap, still, self.opts) {
                Ok(()) if unchanged_since_attention => continue,
                Ok(()) => {
                    let run = ReadyRun {
                        dir: f.dir.clone(),
                        path: path.clone(),
                        identity,
                        marker: snap.marker.clone(),
                        files: snap.selected(&self.opts.include),
                    };
                    todo.push((Todo::New(run), snap.files));
                    continue;
                }
                Err(reason) => reason,
            };
            if t.told.as_ref() != Some(&reason) && t.attention.is_none() {
                t.told = Some(reason.clone());
                (self.emit)(WatchEvent::RunWaiting {
                    dir: f.dir.clone(),
                    run: path.clone(),
                    reason,
                });
            }
        }
        Ok(todo)
    }

    /// Send what is ready, one run at a time (each run's files go in
    /// parallel parts); how many went through.
    async fn send(
        &mut self,
        todo: Vec<(Todo, Vec<Seen>)>,
        handler: &dyn RunHandler,
        control: &Control,
    ) -> Result<usize, WatchError> {
        let mut sent = 0;
        for (item, seen) in todo {
            if control.stop.is_cancelled() {
                break;
            }
            let path = item.run().to_path_buf();
            let Some(t) = self.tracks.get_mut(&path) else {
                continue;
            };
            let f = &self.folders[t.folder];
            match send_one(item, &self.journal, handler, &self.emit).await? {
                Ok(()) => {
                    sent += 1;
                    t.done = true;
                    t.attention = None;
                    self.watches.remove(f.mode, &path);
                }
                Err(reason) => {
                    t.attention = Some(seen);
                    t.told = None;
                    (self.emit)(WatchEvent::RunAttention {
                        dir: f.dir.clone(),
                        run: path.clone(),
                        reason,
                    });
                }
            }
        }
        Ok(sent)
    }

    /// How long to wait for the next look (events wake it earlier).
    fn tick(&self) -> Duration {
        if self.opts.once {
            return self.opts.check_interval;
        }
        let pending = self.tracks.values().any(|t| !t.done);
        let tick = self
            .folders
            .iter()
            .map(|f| match f.mode {
                Mode::Poll(d) => d.max(self.opts.check_interval),
                Mode::Native if pending => self.opts.check_interval,
                // Nothing pending: a safety look now and then (events do
                // the rest).
                Mode::Native => Duration::from_secs(60),
            })
            .min()
            .unwrap_or(self.opts.check_interval);
        // A folder another watcher holds is tried again soon.
        if self.folders.iter().any(|f| f.lock.is_none()) {
            tick.min(Duration::from_secs(2))
        } else {
            tick
        }
    }

    /// What the watcher leaves behind when it stops.
    fn summary(&self, mut summary: WatchSummary) -> WatchSummary {
        for t in self.tracks.values().filter(|t| !t.done) {
            if t.attention.is_some() {
                summary.attention += 1;
            } else {
                summary.waiting += 1;
            }
        }
        summary.locked = self
            .folders
            .iter()
            .filter(|f| f.lock.is_none())
            .map(|f| f.dir.clone())
            .collect();
        summary
    }
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
        let s2 = said.clone();
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
        assert_eq!(said_len(&s2), 1);
    }

    fn said_len(s: &std::sync::Mutex<Vec<WatchEvent>>) -> usize {
        s.lock().unwrap().len()
    }
}
