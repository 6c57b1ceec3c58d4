//! The Watched folders panel: a thin shell over `ferry_engine::watch` (the
//! same watcher as `ferry watch`). Each folder runs the engine's watcher
//! with the signed-in Loculus portal; its events become one line per run
//! (waiting, ready, sending with a per-part strip, done, needs attention),
//! a desktop notification per finished run, and the folders are kept in
//! the settings file (`[[watch]]`) and started again with the app.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ferry_engine::journal::Journal;
use ferry_engine::settings::WatchedFolder;
use ferry_engine::watch::{Control, UploadRuns, WatchEvent, WatchOptions};
use ferry_engine::{Engine, EngineConfig, Event, EventSink};
use serde::Serialize;

/// One run's line.
#[derive(Serialize, Clone, Debug, Default)]
pub struct RunView {
    pub run: String,
    pub name: String,
    /// waiting | ready | sending | done | attention
    pub state: String,
    pub detail: String,
    pub files: usize,
    pub bytes: u64,
    /// One letter per part (w waiting, s sending, d done), as the queue's
    /// strips.
    pub parts: String,
}

/// One watched folder and its runs.
#[derive(Serialize, Clone, Debug, Default)]
pub struct FolderView {
    pub dir: String,
    pub paused: bool,
    /// inotify | poll, once watched.
    pub mode: Option<String>,
    /// Why it is polled, or another watcher holds it, or why it cannot start.
    pub note: Option<String>,
    pub runs: Vec<RunView>,
}

struct Folder {
    cfg: WatchedFolder,
    control: Option<(Control, Engine)>,
    mode: Option<String>,
    note: Option<String>,
    runs: BTreeMap<String, RunView>,
    /// Parts per file of the run being sent.
    strips: Vec<Vec<char>>,
    /// Counts the watchers started, so a stopped one that ends late does
    /// not clear the one started after it.
    generation: u64,
}

impl Folder {
    /// A folder as kept in the settings, not started yet.
    fn new(cfg: WatchedFolder) -> Folder {
        Folder {
            cfg,
            control: None,
            mode: None,
            note: None,
            runs: BTreeMap::new(),
            strips: Vec::new(),
            generation: 0,
        }
    }
}

#[derive(Default)]
pub struct Watched {
    folders: Mutex<Vec<Folder>>,
    /// Something changed since the window last got the folders.
    dirty: Mutex<bool>,
    /// Runs finished since the last flush: one notification each.
    finished: Mutex<Vec<String>>,
}

/// The check interval and quiet period (FERRY_WATCH_CHECK_INTERVAL and
/// FERRY_WATCH_QUIET_PERIOD, "10s", "5m"; the window tests shorten them).
fn options() -> WatchOptions {
    let mut o = WatchOptions::default();
    let env = |k: &str| {
        std::env::var(k)
            .ok()
            .and_then(|v| ferry_engine::network::parse_wait(&v).ok())
    };
    if let Some(d) = env("FERRY_WATCH_CHECK_INTERVAL") {
        o.check_interval = d;
    }
    if let Some(d) = env("FERRY_WATCH_QUIET_PERIOD") {
        o.quiet_period = Some(d).filter(|d| !d.is_zero());
    }
    o
}

impl Watched {
    pub fn new(kept: &[WatchedFolder]) -> Watched {
        let w = Watched::default();
        for cfg in kept {
            w.folders.lock().unwrap().push(Folder::new(cfg.clone()));
        }
        w
    }

    pub fn configs(&self) -> Vec<WatchedFolder> {
        self.folders
            .lock()
            .unwrap()
            .iter()
            .map(|f| f.cfg.clone())
            .collect()
    }

    pub fn view(&self) -> Vec<FolderView> {
        self.folders
            .lock()
            .unwrap()
            .iter()
            .map(|f| FolderView {
                dir: f.cfg.dir.display().to_string(),
                paused: f.cfg.paused,
                mode: f.mode.clone(),
                note: f.note.clone(),
                runs: f.runs.values().cloned().collect(),
            })
            .collect()
    }

    /// The folders, if they changed since the last call.
    pub fn take_view(&self) -> Option<Vec<FolderView>> {
        let mut d = self.dirty.lock().unwrap();
        if !*d {
            return None;
        }
        *d = false;
        drop(d);
        Some(self.view())
    }

    pub fn take_finished(&self) -> Vec<String> {
        std::mem::take(&mut *self.finished.lock().unwrap())
    }

    fn touch(&self) {
        *self.dirty.lock().unwrap() = true;
    }

    /// Add a folder (not twice).
    pub fn add(&self, dir: PathBuf) -> Result<(), String> {
        let dir = std::fs::canonicalize(&dir)
            .map_err(|e| format!("{}: cannot be watched ({e})", dir.display()))?;
        if !dir.is_dir() {
            return Err(format!("{}: is not a folder", dir.display()));
        }
        let mut fs = self.folders.lock().unwrap();
        if fs.iter().any(|f| f.cfg.dir == dir) {
            return Err(format!("{} is already watched", dir.display()));
        }
        fs.push(Folder::new(WatchedFolder {
            dir,
            group: None,
            paused: false,
        }));
        drop(fs);
        self.touch();
        Ok(())
    }

    pub fn remove(&self, dir: &Path) {
        let mut fs = self.folders.lock().unwrap();
        if let Some(i) = fs.iter().position(|f| f.cfg.dir == dir) {
            stop(&mut fs[i]);
            fs.remove(i);
        }
        drop(fs);
        self.touch();
    }

    pub fn set_paused(&self, dir: &Path, paused: bool) {
        let mut fs = self.folders.lock().unwrap();
        if let Some(f) = fs.iter_mut().find(|f| f.cfg.dir == dir) {
            f.cfg.paused = paused;
            if paused {
                stop(f);
                f.note = Some("paused".into());
            } else {
                f.note = None;
            }
        }
        drop(fs);
        self.touch();
    }

    pub fn check_again(&self, dir: &Path) {
        let fs = self.folders.lock().unwrap();
        if let Some((c, _)) = fs
            .iter()
            .find(|f| f.cfg.dir == dir)
            .and_then(|f| f.control.as_ref())
        {
            c.check_again();
        }
    }

    /// Start every folder that is not paused and not running, sending to
    /// `portal` (the signed-in Loculus). Called at sign-in and on changes.
    pub fn start_all(
        self: &Arc<Self>,
        portal: Option<Arc<ferry_engine::loculus::Loculus>>,
        destination: ferry_engine::Destination,
        cfg: &EngineConfig,
    ) {
        let mut fs = self.folders.lock().unwrap();
        for i in 0..fs.len() {
            let f = &mut fs[i];
            if f.cfg.paused || f.control.is_some() {
                continue;
            }
            let Some(portal) = portal.clone() else {
                f.note = Some("sign in to a Loculus portal to start watching".into());
                continue;
            };
            let journal = match Journal::open(&Journal::default_path()) {
                Ok(j) => Arc::new(j),
                Err(e) => {
                    f.note = Some(format!("no journal, so runs could be sent twice: {e}"));
                    continue;
                }
            };
            let me = self.clone();
            let dir = f.cfg.dir.clone();
            let sink_dir = dir.clone();
            let sink = EventSink::new(move |e| me.progress(&sink_dir, &e));
            let engine = match Engine::new(cfg.clone(), sink) {
                Ok(e) => e,
                Err(e) => {
                    f.note = Some(e.to_string());
                    continue;
                }
            };
            let control = Control::default();
            f.control = Some((control.clone(), engine.clone()));
            f.generation += 1;
            let generation = f.generation;
            f.note = None;
            let params = ferry_engine::JobParams::new(destination.clone())
                .with_parts_in_flight(cfg.parts_in_flight.min(u16::MAX as usize) as u16);
            let handler = Arc::new(UploadRuns {
                engine,
                portal,
                journal: journal.clone(),
                params,
            });
            let me = self.clone();
            let emit_dir = dir.clone();
            let emit: ferry_engine::watch::Emit = Arc::new(move |e| me.on_event(&emit_dir, e));
            let me = self.clone();
            tauri::async_runtime::spawn(async move {
                let r = ferry_engine::watch::watch(
                    std::slice::from_ref(&dir),
                    &options(),
                    journal,
                    handler,
                    emit,
                    control,
                )
                .await;
                let mut fs = me.folders.lock().unwrap();
                if let Some(f) = fs
                    .iter_mut()
                    .find(|f| f.cfg.dir == dir && f.generation == generation)
                {
                    f.control = None;
                    if let Err(e) = r {
                        f.note = Some(e.to_string());
                    }
                }
                drop(fs);
                me.touch();
            });
        }
        drop(fs);
        self.touch();
    }

    /// Stop every folder (signed out).
    pub fn stop_all(&self) {
        for f in self.folders.lock().unwrap().iter_mut() {
            stop(f);
        }
        self.touch();
    }

    fn on_event(&self, dir: &Path, e: WatchEvent) {
        let mut fs = self.folders.lock().unwrap();
        let Some(f) = fs.iter_mut().find(|f| f.cfg.dir == dir) else {
            return;
        };
        match e {
            WatchEvent::Watching { mode, why, .. } => {
                f.mode = Some(mode);
                f.note = why;
            }
            WatchEvent::WatchNote { message, .. } => f.note = Some(message),
            WatchEvent::RunWaiting { run, reason, .. } => {
                line(&mut f.runs, &run, "waiting", reason);
            }
            WatchEvent::RunReady {
                run,
                marker,
                files,
                bytes,
                ..
            } => {
                let v = line(
                    &mut f.runs,
                    &run,
                    "ready",
                    marker
                        .map(|m| format!("{m} found"))
                        .unwrap_or_else(|| "quiet period over".into()),
                );
                v.files = files;
                v.bytes = bytes;
            }
            WatchEvent::RunSending { run, resumed, .. } => {
                line(
                    &mut f.runs,
                    &run,
                    "sending",
                    if resumed {
                        "going on from the acknowledged parts".into()
                    } else {
                        "sending".into()
                    },
                );
                f.strips.clear();
            }
            WatchEvent::RunDone {
                run,
                files,
                bytes,
                summary,
                earlier,
                ..
            } => {
                let strip: String = f.strips.iter().flatten().map(|_| 'd').collect();
                let name = run
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let v = line(&mut f.runs, &run, "done", summary);
                v.files = files;
                v.bytes = bytes;
                if !earlier {
                    v.parts = strip;
                    self.finished
                        .lock()
                        .unwrap()
                        .push(format!("{name}: {files} file(s) accepted by the portal"));
                }
            }
            WatchEvent::RunAttention { run, reason, .. } => {
                line(&mut f.runs, &run, "attention", reason);
            }
        }
        drop(fs);
        self.touch();
    }

    /// The engine's part events: the strip of the run being sent.
    fn progress(&self, dir: &Path, e: &Event) {
        let mut fs = self.folders.lock().unwrap();
        let Some(f) = fs.iter_mut().find(|f| f.cfg.dir == dir) else {
            return;
        };
        let set = |f: &mut Folder, file: usize, part: u32, c: char| {
            if let Some(p) = f
                .strips
                .get_mut(file)
                .and_then(|s| s.get_mut(part.saturating_sub(1) as usize))
            {
                *p = c;
            }
        };
        match e {
            Event::FileQueued { file, parts, .. } => {
                if f.strips.len() <= *file {
                    f.strips.resize(file + 1, Vec::new());
                }
                f.strips[*file] = vec!['w'; (*parts).max(1) as usize];
            }
            Event::PartStarted { file, part, .. } => set(f, *file, *part, 's'),
            Event::PartDone { file, part, .. } => set(f, *file, *part, 'd'),
            Event::FileDone { file, .. } => {
                if let Some(s) = f.strips.get_mut(*file) {
                    s.iter_mut().for_each(|c| *c = 'd');
                }
            }
            _ => return,
        }
        let strip: String = f.strips.iter().flatten().collect();
        if let Some(v) = f.runs.values_mut().find(|v| v.state == "sending") {
            v.parts = strip;
        }
        drop(fs);
        self.touch();
    }
}

/// The line of `run`, made when first seen, with its new state.
fn line<'a>(
    runs: &'a mut BTreeMap<String, RunView>,
    run: &Path,
    state: &str,
    detail: String,
) -> &'a mut RunView {
    let key = run.display().to_string();
    let v = runs.entry(key.clone()).or_insert_with(|| RunView {
        run: key,
        name: run
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        ..Default::default()
    });
    v.state = state.into();
    v.detail = detail;
    v
}

fn stop(f: &mut Folder) {
    if let Some((c, engine)) = f.control.take() {
        c.stop.cancel();
        // What was sent stays journaled: the run goes on from its
        // acknowledged parts when the folder is resumed.
        engine.cancel();
    }
}
