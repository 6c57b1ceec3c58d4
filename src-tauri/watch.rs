//! The Watched folders panel: a thin shell over `ferry_engine::watch` (the
//! same watcher as `ferry watch`). Each folder runs the engine's watcher
//! with the signed-in portal (Loculus, One Codex or BaseSpace) and its own
//! destination (a Loculus group; or each run submitted as a submission
//! batch for an organism); its events become one line per run (waiting,
//! ready, sending with a per-part strip, done, needs attention), a desktop
//! notification per finished run, and the folders are kept in the settings
//! file (`[[watch]]`) and started again with the app. A folder dropped on
//! the panel is watched (a drop elsewhere goes to the upload queue).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ferry_engine::journal::Journal;
use ferry_engine::loculus::Loculus;
use ferry_engine::queue::{PartState, PartStates};
use ferry_engine::settings::WatchedFolder;
use ferry_engine::watch::{Control, RunHandler, UploadRuns, WatchEvent, WatchOptions};
use ferry_engine::{Engine, EngineConfig, Event, EventSink, Portal};
use ferry_front::watch_submit::SubmitRuns;
use serde::Serialize;

pub mod drop;
mod submit;
mod target;
pub use drop::{Zone, dropped};
pub use target::Target;

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
    /// Loculus: the group its runs go to (None: the signed-in one).
    pub group: Option<i64>,
    /// Loculus: each run is submitted as a batch for this organism.
    pub submit: Option<String>,
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
    strips: Vec<PartStates>,
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
    /// The signed-in portal the folders send to (None: signed out).
    target: Mutex<Option<Target>>,
    /// The panel's place in the window, and the destination chosen in it
    /// (a Loculus group, an organism to submit to) for dropped folders.
    zone: Mutex<Option<Zone>>,
    drop_to: Mutex<(Option<i64>, Option<String>)>,
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
    pub fn new(from_settings: &[WatchedFolder]) -> Watched {
        let w = Watched::default();
        for cfg in from_settings {
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
                group: f.cfg.group,
                submit: f.cfg.submit.clone(),
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

    /// Add a folder (not twice) with its destination: a Loculus group
    /// (None: the signed-in one) and, to submit each run as a batch, an
    /// organism.
    pub fn add(
        &self,
        dir: PathBuf,
        group: Option<i64>,
        submit: Option<String>,
    ) -> Result<(), String> {
        let dir = std::fs::canonicalize(&dir)
            .map_err(|e| format!("{}: cannot be watched ({e})", dir.display()))?;
        if !dir.is_dir() {
            return Err(format!(
                "{}: is a file, not a folder; watch the folder the instrument writes its runs into",
                dir.display()
            ));
        }
        let mut fs = self.folders.lock().unwrap();
        if fs.iter().any(|f| f.cfg.dir == dir) {
            return Err(format!("{} is already watched", dir.display()));
        }
        fs.push(Folder::new(WatchedFolder {
            dir,
            group,
            paused: false,
            submit: submit.filter(|o| !o.trim().is_empty()),
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

    /// Signed in (again): every folder starts over with `target`.
    pub fn signed_in(self: &Arc<Self>, target: Target, cfg: &EngineConfig) {
        self.stop_all();
        *self.target.lock().unwrap() = Some(target);
        self.start_all(cfg);
    }

    /// Signed out, or another portal chosen: nothing is sent until the
    /// next sign-in.
    pub fn signed_out(&self) {
        *self.target.lock().unwrap() = None;
        self.stop_all();
    }

    /// Start every folder that is not paused and not running, sending to
    /// the signed-in portal. Called at sign-in and on changes.
    pub fn start_all(self: &Arc<Self>, cfg: &EngineConfig) {
        let target = self.target.lock().unwrap().clone();
        let mut fs = self.folders.lock().unwrap();
        for f in fs.iter_mut() {
            if f.cfg.paused || f.control.is_some() {
                continue;
            }
            match &target {
                None => f.note = Some("sign in to a portal to start watching".into()),
                Some(t) => {
                    if let Err(e) = self.start(f, t, cfg) {
                        f.note = Some(e);
                    }
                }
            }
        }
        drop(fs);
        self.touch();
    }

    /// Start one folder's watcher.
    fn start(
        self: &Arc<Self>,
        f: &mut Folder,
        t: &Target,
        cfg: &EngineConfig,
    ) -> Result<(), String> {
        if f.cfg.submit.is_some() && t.loculus.is_none() {
            return Err(
                "its runs are submitted as Loculus submission batches: sign in to a Loculus portal"
                    .into(),
            );
        }
        let journal = Journal::open(&Journal::default_path())
            .map_err(|e| format!("no journal, so runs could be sent twice: {e}"))?;
        let journal = Arc::new(journal);
        let me = self.clone();
        let dir = f.cfg.dir.clone();
        let sink_dir = dir.clone();
        let sink = EventSink::new(move |e| me.progress(&sink_dir, &e));
        let engine = Engine::new(cfg.clone(), sink).map_err(|e| e.to_string())?;
        let control = Control::default();
        f.control = Some((control.clone(), engine.clone()));
        f.generation += 1;
        let generation = f.generation;
        f.note = None;
        // The folder's own group, on the same sign-in.
        let loculus = match (&t.loculus, f.cfg.group) {
            (Some(l), Some(g)) => Some(Arc::new(l.with_group(g))),
            (l, _) => l.clone(),
        };
        let mut params = ferry_engine::JobParams::new(t.destination.clone())
            .with_parts_in_flight(cfg.parts_in_flight.min(u16::MAX as usize) as u16);
        if let Some(l) = &loculus {
            params.destination.group = Some(l.group_id());
        }
        let portal: Arc<dyn Portal> = match &loculus {
            Some(l) => l.clone(),
            None => t.portal.clone(),
        };
        let upload = UploadRuns {
            engine: engine.clone(),
            portal,
            journal: journal.clone(),
            params: params.clone(),
            pair_reads: t.kind == ferry_engine::PortalKind::Onecodex,
        };
        let submit = f.cfg.submit.clone().zip(loculus);
        let (website, http) = (t.website.clone(), t.http.clone());
        let me = self.clone();
        let emit_dir = dir.clone();
        let emit: ferry_engine::watch::Emit = Arc::new(move |e| me.on_event(&emit_dir, e));
        let me = self.clone();
        tauri::async_runtime::spawn(async move {
            let r = async {
                let handler: Arc<dyn RunHandler> = match submit {
                    None => Arc::new(upload),
                    Some((organism, loculus)) => {
                        // The organism's file categories, from the website
                        // (as the wizard reads them).
                        let info = Loculus::instance_info(&http, &website)
                            .await
                            .map_err(|e| format!("{e} (the organisms are read from {website})"))?;
                        let organism = info.organism(&organism)?.clone();
                        Arc::new(SubmitRuns {
                            engine,
                            loculus,
                            journal: journal.clone(),
                            params,
                            organism,
                            restricted_until: None,
                            presenter: Arc::new(submit::PanelRuns),
                        })
                    }
                };
                ferry_engine::watch::watch(
                    std::slice::from_ref(&dir),
                    &options(),
                    journal,
                    handler,
                    emit,
                    control,
                )
                .await
                .map_err(|e| e.to_string())
            }
            .await;
            let mut fs = me.folders.lock().unwrap();
            if let Some(f) = fs
                .iter_mut()
                .find(|f| f.cfg.dir == dir && f.generation == generation)
            {
                f.control = None;
                if let Err(e) = r {
                    f.note = Some(e);
                }
            }
            drop(fs);
            me.touch();
        });
        Ok(())
    }

    /// The window says where the panel is, and the destination chosen in
    /// it, for folders dropped over it.
    pub fn set_zone(&self, zone: Option<Zone>, group: Option<i64>, submit: Option<String>) {
        *self.zone.lock().unwrap() = zone;
        *self.drop_to.lock().unwrap() = (group, submit);
    }

    /// Whether a drop at `at` (CSS pixels in the window) is over the panel.
    pub fn over_panel(&self, at: Option<(f64, f64)>) -> bool {
        let zone = *self.zone.lock().unwrap();
        matches!((zone, at), (Some(z), Some(p)) if z.holds(p))
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
                let strip: String = f
                    .strips
                    .iter()
                    .map(|s| PartStates::all(s.len(), PartState::Done).to_string())
                    .collect();
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
        let set = |f: &mut Folder, file: usize, part: u32, state: PartState| {
            if let Some(s) = f.strips.get_mut(file) {
                s.set(part, state);
            }
        };
        match e {
            Event::FileQueued { file, parts, .. } => {
                if f.strips.len() <= *file {
                    f.strips.resize(file + 1, PartStates::default());
                }
                f.strips[*file] = PartStates::all((*parts).max(1) as usize, PartState::Waiting);
            }
            Event::PartStarted { file, part, .. } => set(f, *file, *part, PartState::Sending),
            Event::PartDone { file, part, .. } => set(f, *file, *part, PartState::Done),
            Event::FileDone { file, .. } => {
                if let Some(s) = f.strips.get_mut(*file) {
                    s.set_all(PartState::Done);
                }
            }
            _ => return,
        }
        let strip: String = f.strips.iter().map(PartStates::to_string).collect();
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
