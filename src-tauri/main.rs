//! Ferry desktop: a Tauri shell over the upload engine. The commands hold
//! the window's state (portal, sign-in, wizard, watched folders) and
//! present results; the upload queue, checks and transfers live in
//! `ferry_engine`, and what the CLI does too (opening a portal, keeping a
//! sign-in, submitting a folder) in `ferry_front`. Paths only come from
//! drops and native dialogs.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod display;
mod history;
mod jobs;
mod links;
mod portals;
mod session;
mod settings;
mod signin;
mod watch;
mod watch_panel;
mod wizard;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_engine::EngineConfig;
use ferry_engine::journal::Journal;
use ferry_engine::queue::{Added, EntryId, Queue, Update};
use ferry_engine::{Destination, PortalKind};
use serde::Serialize;
use session::{Info, Portal};
use tauri::ipc::Channel;
use tauri::{DragDropEvent, Manager, State, WindowEvent};

/// What the window receives, at most every 100 ms, as one message.
#[derive(Serialize, Default)]
struct WindowMessage {
    update: Option<Update>,
    added: Vec<Added>,
    session: Option<Info>,
    /// A folder dropped on the window while the wizard is open.
    wizard_folder: Option<String>,
    /// The watched folders and their runs, when they changed.
    watch: Option<Vec<watch::FolderView>>,
    /// What became of folders dropped on the Watched folders panel.
    watch_notice: Option<String>,
}

struct App {
    queue: Arc<Queue>,
    http: reqwest::Client,
    info: Mutex<Info>,
    /// The selected portal (the demo one unless configured).
    portal: Mutex<Option<Portal>>,
    outbox: Mutex<WindowMessage>,
    channel: Mutex<Option<Channel<WindowMessage>>>,
    /// Why there is no job journal (resume after closing), if there is none.
    journal_note: Option<String>,
    /// Every portal the window offers (the first is the default).
    choices: Vec<Portal>,
    /// Keys of the demo One Codex and BaseSpace: backend -> (key, AppResult).
    demo_keys: HashMap<String, (String, Option<String>)>,
    /// The signed-in Loculus portal (the wizard submits through it).
    loculus: Mutex<Option<Arc<ferry_engine::loculus::Loculus>>>,
    /// The bulk submission wizard's choices.
    wizard: Mutex<wizard::Wizard>,
    /// The signed-in One Codex portal, which learns pairs at each start.
    onecodex: Mutex<Option<Arc<ferry_engine::onecodex::OneCodex>>>,
    /// A device sign-in waiting for the browser: the page it opens (never
    /// a URL from the window) and how to stop waiting.
    device: Mutex<Option<(String, Arc<tokio::sync::Notify>)>>,
    /// Keeps the in-process demo portal alive.
    _demo: Option<DemoSim>,
    /// The settings file's settings, and why it could not be read.
    settings: Mutex<(ferry_engine::settings::Settings, Option<String>)>,
    /// The Watched folders panel's folders (kept in the settings).
    watched: Arc<watch::Watched>,
    /// The engine settings the watched folders and the wizard's
    /// re-uploads of expired ids send with.
    engine_cfg: EngineConfig,
}

impl App {
    fn add(&self, paths: Vec<PathBuf>) -> Added {
        let added = self.queue.add(&paths);
        self.outbox.lock().unwrap().added.push(added.clone());
        added
    }

    /// A drop on the window: over the Watched folders panel, a folder is
    /// watched; a folder goes to the wizard while it is open; anything else
    /// to the queue. `at`: where (CSS pixels), when known.
    fn dropped(&self, paths: Vec<PathBuf>, at: Option<(f64, f64)>) -> Added {
        if self.watched.over_panel(at) {
            let said = watch::dropped(self, paths);
            self.outbox.lock().unwrap().watch_notice = Some(said);
            return Added {
                files: 0,
                problems: 0,
                bytes: 0,
            };
        }
        match wizard::dropped(self, &paths) {
            Some(folder) => {
                self.outbox.lock().unwrap().wizard_folder = Some(folder);
                Added {
                    files: 0,
                    problems: 0,
                    bytes: 0,
                }
            }
            None => self.add(paths),
        }
    }

    /// Signed in to One Codex or BaseSpace (a key or token checked with
    /// the portal): the queue and the watched folders send there.
    fn use_key_sign_in(&self, k: Result<portals::KeySignIn, String>) -> Result<Info, String> {
        let mut k = k?;
        k.info.journal = self.journal_note.clone();
        *self.loculus.lock().unwrap() = None;
        *self.onecodex.lock().unwrap() = k.onecodex;
        let target = watch::Target::key_portal(self, k.portal.clone(), &k.info);
        self.watched.signed_in(target, &self.engine_cfg);
        self.queue
            .set_portal(Some(k.portal), session::destination(&k.info));
        *self.info.lock().unwrap() = k.info.clone();
        self.outbox.lock().unwrap().session = Some(k.info.clone());
        Ok(k.info)
    }

    /// Switch to another portal: files are checked by its rules, and it
    /// signs in at once when it can (demo, or a key in the keychain).
    async fn choose(&self, p: Portal) -> Result<Info, String> {
        self.queue.set_portal(None, Destination::default());
        *self.loculus.lock().unwrap() = None;
        *self.onecodex.lock().unwrap() = None;
        self.watched.signed_out();
        self.queue.set_rules(ferry_front::rules(p.kind));
        *self.portal.lock().unwrap() = Some(p.clone());
        let signed_out = Info {
            portal: Some(p.clone()),
            journal: self.journal_note.clone(),
            ..Info::default()
        };
        *self.info.lock().unwrap() = signed_out.clone();
        let http = self.http.clone();
        match p.kind {
            PortalKind::Loculus if p.demo => {
                let pass = self._demo.as_ref().map(DemoSim::demo_password);
                self.use_loculus_sign_in(session::demo(http, &p, &pass.unwrap_or_default()).await)
            }
            PortalKind::Loculus => match session::remembered(http, &p).await {
                Some(s) => self.use_loculus_sign_in(Ok(s)),
                None => Ok(signed_out),
            },
            _ => match self.demo_keys.get(&p.backend) {
                Some((key, target)) => {
                    self.use_key_sign_in(portals::sign_in(http, &p, key, target.as_deref()))
                }
                None => match portals::remembered(http, &p) {
                    Some(k) => self.use_key_sign_in(Ok(k)),
                    None => Ok(signed_out),
                },
            },
        }
    }

    /// The first sign-in (the demo user, or what the keychain remembers),
    /// run once the window shows: a locked keychain's unlock prompt must
    /// not hold the window back. A sign-in made in the window meanwhile wins.
    async fn first_sign_in(&self) {
        let Some(p) = self.portal.lock().unwrap().clone() else {
            return;
        };
        // Still the portal shown, and no one signed in from the window.
        let untouched = || {
            self.portal.lock().unwrap().as_ref().map(|q| &q.backend) == Some(&p.backend)
                && self.info.lock().unwrap().user.is_none()
        };
        if p.kind != PortalKind::Loculus {
            // One Codex or BaseSpace named by the settings file.
            let k = match self.demo_keys.get(&p.backend) {
                Some((key, target)) => {
                    portals::sign_in(self.http.clone(), &p, key, target.as_deref()).ok()
                }
                None => portals::remembered(self.http.clone(), &p),
            };
            if let Some(k) = k
                && untouched()
            {
                let _ = self.use_key_sign_in(Ok(k));
            }
            return;
        }
        let s = if p.demo {
            let pass = self._demo.as_ref().map(DemoSim::demo_password);
            session::demo(self.http.clone(), &p, &pass.unwrap_or_default())
                .await
                .ok()
        } else {
            session::remembered(self.http.clone(), &p).await
        };
        if let Some(s) = s
            && untouched()
        {
            let _ = self.use_loculus_sign_in(Ok(s));
        }
    }

    /// Signed in to Loculus: the queue, the wizard and the watched
    /// folders send there.
    fn use_loculus_sign_in(
        &self,
        s: Result<session::LoculusSignIn, String>,
    ) -> Result<Info, String> {
        let mut s = s?;
        s.info.journal = self.journal_note.clone();
        *self.loculus.lock().unwrap() = Some(s.loculus.clone());
        let target = watch::Target::loculus(self, &s.loculus, &s.info);
        self.watched.signed_in(target, &self.engine_cfg);
        self.queue
            .set_portal(Some(s.loculus), session::destination(&s.info));
        *self.info.lock().unwrap() = s.info.clone();
        self.outbox.lock().unwrap().session = Some(s.info.clone());
        Ok(s.info)
    }

    fn portal(&self, backend: Option<String>, keycloak: Option<String>) -> Result<Portal, String> {
        match backend.filter(|b| !b.trim().is_empty()) {
            None => self
                .portal
                .lock()
                .unwrap()
                .clone()
                .ok_or("choose a portal".into()),
            Some(b) => {
                let b = b.trim().trim_end_matches('/').to_string();
                let p = Portal {
                    name: b.clone(),
                    keycloak: keycloak
                        .filter(|k| !k.trim().is_empty())
                        .map(|k| k.trim().trim_end_matches('/').to_string())
                        .unwrap_or_else(|| b.clone()),
                    website: ferry_front::website::default_website(&b),
                    backend: b,
                    demo: false,
                    kind: PortalKind::Loculus,
                };
                *self.portal.lock().unwrap() = Some(p.clone());
                Ok(p)
            }
        }
    }

    /// Send what changed to the window (called every 100 ms).
    fn flush(&self, handle: &tauri::AppHandle) {
        let ch = self.channel.lock().unwrap().clone();
        let Some(ch) = ch else { return };
        let mut b = std::mem::take(&mut *self.outbox.lock().unwrap());
        b.update = self.queue.take_update();
        b.watch = self.watched.take_view();
        notify_runs(handle, self.watched.take_finished());
        if b.update.is_none()
            && b.added.is_empty()
            && b.session.is_none()
            && b.wizard_folder.is_none()
            && b.watch.is_none()
            && b.watch_notice.is_none()
        {
            return;
        }
        if let Some(u) = &b.update
            && !u.finished.is_empty()
        {
            notify_finished(handle, u);
        }
        if b.update.as_ref().is_some_and(|u| u.network_back) {
            notify(
                handle,
                "Ferry: sending goes on",
                "The network is back; the files go on by themselves.",
            );
        }
        let _ = ch.send(b);
    }
}

/// A system notification when a batch ends (best effort: a desktop
/// without a notification service just does not show it).
fn notify_finished(handle: &tauri::AppHandle, u: &Update) {
    for f in &u.finished {
        let mut body = format!("{} accepted", f.done);
        if f.failed > 0 {
            body += &format!(", {} failed", f.failed);
        }
        if f.stopped > 0 {
            body += &format!(", {} stopped", f.stopped);
        }
        notify(handle, "Ferry: upload finished", &body);
    }
}

/// One system notification, best effort.
fn notify(handle: &tauri::AppHandle, title: &str, body: &str) {
    use tauri_plugin_notification::NotificationExt;
    let _ = handle
        .notification()
        .builder()
        .title(title)
        .body(body)
        .show();
}

/// A system notification per watched run the portal accepted.
fn notify_runs(handle: &tauri::AppHandle, runs: Vec<String>) {
    for body in runs {
        notify(handle, "Ferry: run sent", &body);
    }
}

/// The in-process demo portal; a build without the `demo` feature has none.
#[cfg(feature = "demo")]
type DemoSim = ferry_sim::Sim;
#[cfg(not(feature = "demo"))]
type DemoSim = portals::NoDemo;

/// The app's state, as a command gets it.
type AppState<'a> = State<'a, Arc<App>>;

/// The window's one stream of updates; replaces an earlier one (reload).
#[tauri::command]
fn subscribe(
    app: AppState<'_>,
    on_update: Channel<WindowMessage>,
) -> Vec<ferry_engine::queue::Row> {
    *app.channel.lock().unwrap() = Some(on_update);
    let rows = app.queue.rows();
    // Everything is in the snapshot: drop pending row changes.
    let _ = app.queue.take_update();
    rows
}

/// Runs a native dialog and waits for the user's choice. rfd's blocking
/// dialogs hand the dialog to the GLib main loop (the window's main thread)
/// and wait for the answer, so they must be called off that thread: called
/// on it, they wait for themselves and the window freezes.
async fn dialog(
    f: impl FnOnce() -> Option<Vec<PathBuf>> + Send + 'static,
) -> Result<Vec<PathBuf>, String> {
    let picked = tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| e.to_string())?;
    Ok(picked.unwrap_or_default())
}

/// One folder chosen in a native dialog titled `title` (none: cancelled).
async fn pick_one_folder(title: &'static str) -> Result<Option<PathBuf>, String> {
    let picked = dialog(move || {
        rfd::FileDialog::new()
            .set_title(title)
            .pick_folder()
            .map(|p| vec![p])
    })
    .await?;
    Ok(picked.into_iter().next())
}

#[tauri::command]
async fn pick_files(app: AppState<'_>) -> Result<Added, String> {
    let paths = dialog(|| {
        rfd::FileDialog::new()
            .set_title("Add files to upload")
            .pick_files()
    })
    .await?;
    Ok(app.add(paths))
}

#[tauri::command]
async fn pick_folder(app: AppState<'_>) -> Result<Added, String> {
    let paths = pick_one_folder("Add a folder to upload").await?;
    Ok(app.add(paths.into_iter().collect()))
}

#[tauri::command]
fn start(app: AppState<'_>) -> Result<usize, String> {
    if let Some(oc) = app.onecodex.lock().unwrap().as_ref() {
        oc.add_pairs(ferry_engine::onecodex::pairs_of(&app.queue.mates()));
    }
    app.queue.start()
}

#[tauri::command]
fn pause(app: AppState<'_>, id: EntryId) {
    app.queue.pause(id)
}

#[tauri::command]
fn resume(app: AppState<'_>, id: EntryId) -> Result<(), String> {
    app.queue.resume(id)
}

#[tauri::command]
fn cancel(app: AppState<'_>, id: EntryId) {
    app.queue.cancel(id)
}

#[tauri::command]
fn pause_all(app: AppState<'_>) {
    app.queue.pause_all()
}

#[tauri::command]
fn resume_all(app: AppState<'_>) -> Result<usize, String> {
    app.queue.resume_all()
}

#[tauri::command]
fn cancel_all(app: AppState<'_>) {
    app.queue.cancel_all()
}

/// The settings panel: settings file, version, the limit in force.
#[tauri::command]
fn settings(app: AppState<'_>) -> settings::View {
    let (s, e) = app.settings.lock().unwrap().clone();
    settings::view(&s, e)
}

#[tauri::command]
fn save_settings(
    app: AppState<'_>,
    mut new: ferry_engine::settings::Settings,
) -> Result<settings::View, String> {
    // The watched folders belong to their panel.
    new.watch = app.watched.configs();
    let v = settings::save(new.clone())?;
    *app.settings.lock().unwrap() = (new, None);
    Ok(v)
}

/// Test-only: delivers paths exactly as a drop on the window does (`at`:
/// where, in CSS pixels). Only callable when FERRY_E2E=1 (then granted by
/// a capability added at run time; no capability file grants it).
#[tauri::command]
fn e2e_drop(app: AppState<'_>, paths: Vec<PathBuf>, at: Option<[f64; 2]>) -> Result<Added, String> {
    if !e2e() {
        return Err("not available".into());
    }
    Ok(app.dropped(paths, at.map(|[x, y]| (x, y))))
}

pub(crate) fn e2e() -> bool {
    std::env::var("FERRY_E2E").as_deref() == Ok("1")
}

/// How long files wait for the network when no connection can be made:
/// `FERRY_WAIT_FOR_NETWORK` ("24h", "90m", "0" = do not wait), else the
/// settings file's `wait_for_network` (shared with the CLI), else 24 h.
fn wait_for_network(s: &ferry_engine::settings::Settings) -> ferry_engine::network::NetworkPolicy {
    let mut p = s.network();
    if let Ok(v) = std::env::var("FERRY_WAIT_FOR_NETWORK") {
        match ferry_engine::network::parse_wait(&v) {
            Ok(d) => p.max_wait = d,
            Err(e) => eprintln!("ferry: FERRY_WAIT_FOR_NETWORK: {e}; using the settings"),
        }
    }
    p
}

/// `FERRY_BACKEND` or the settings file (and `FERRY_KEYCLOAK`, default the backend, and
/// `FERRY_WEBSITE`, default the backend without its `backend.` prefix)
/// choose another Loculus instance; otherwise the demo portal starts here.
fn configured_portal(s: &ferry_engine::settings::Settings) -> Option<Portal> {
    // Else the settings file's Loculus instance, when it names one.
    let from_settings = (s.portal.as_deref() == Some("loculus"))
        .then(|| s.backend.clone())
        .flatten();
    let b = std::env::var("FERRY_BACKEND").ok().or(from_settings)?;
    let b = b.trim_end_matches('/').to_string();
    Some(Portal {
        name: b.clone(),
        keycloak: std::env::var("FERRY_KEYCLOAK").unwrap_or_else(|_| b.clone()),
        website: ferry_front::website::website(None, &b),
        backend: b,
        demo: false,
        kind: PortalKind::Loculus,
    })
}

fn main() {
    if let Some(why) = display::missing() {
        eprintln!("ferry-app: {why}");
        std::process::exit(2);
    }
    // The setting that lets plain http reach other hosts (a test server);
    // the window then shows a red banner all the time.
    if std::env::var("FERRY_ALLOW_HTTP").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false")) {
        ferry_engine::guard::allow_http(true);
    }
    let app = tauri::async_runtime::block_on(build_app());
    run_window(app);
}

/// The app's state: settings, queue and journal, the portals offered.
async fn build_app() -> Arc<App> {
    // The proxy and the bandwidth limit of the settings file, before
    // the first client is built.
    let (settings, settings_error) = settings::load();
    let http = ferry_engine::transfer::http_client().expect("http client");
    let mut cfg = EngineConfig {
        network: wait_for_network(&settings),
        ..EngineConfig::default()
    };
    if let Some(n) = settings.parts_in_flight {
        cfg.parts_in_flight = n as usize;
    }
    let queue_cfg = cfg.clone();
    let names = Arc::new(ferry_engine::loculus::names::LoculusNames);
    // Without a journal the app still works; files then resume from
    // their start and the window says why.
    let (queue, journal_note) = match Journal::open(&Journal::default_path()) {
        Ok(j) => (Queue::with_journal(cfg, names, Arc::new(j)), None),
        Err(e) => (Queue::new(cfg, names), Some(e.to_string())),
    };
    let Offered {
        mut choices,
        portal,
        demo_keys,
        demo,
    } = offered_portals(&settings).await;
    // Signed in once the window shows (`first_sign_in`).
    let info = Info {
        journal: journal_note.clone(),
        ..Info::default()
    };
    if portal.demo {
        jobs::forget_old_demo_jobs(&queue);
    }
    choices.insert(0, portal);
    // The settings file's `portal` (as the CLI's default) comes first:
    // the window opens on it.
    let first = portals::preferred(&choices, settings.portal.as_deref());
    let portal = choices.remove(first);
    choices.insert(0, portal.clone());
    queue.set_rules(ferry_front::rules(portal.kind));
    let watched = Arc::new(watch::Watched::new(&settings.watch));
    Arc::new(App {
        watched,
        engine_cfg: queue_cfg,
        queue,
        http,
        info: Mutex::new(info),
        choices,
        demo_keys,
        onecodex: Mutex::new(None),
        loculus: Mutex::new(None),
        wizard: Mutex::new(wizard::Wizard::default()),
        portal: Mutex::new(Some(portal)),
        outbox: Mutex::new(WindowMessage::default()),
        channel: Mutex::new(None),
        journal_note,
        device: Mutex::new(None),
        _demo: demo,
        settings: Mutex::new((settings, settings_error)),
    })
}

/// The portals the window offers, and the one it starts on.
struct Offered {
    /// The others, in order.
    choices: Vec<Portal>,
    /// The configured Loculus instance, else the demo portal (else, built
    /// without it, the first public portal).
    portal: Portal,
    /// Keys of the demo One Codex and BaseSpace: backend -> (key, AppResult).
    demo_keys: HashMap<String, (String, Option<String>)>,
    demo: Option<DemoSim>,
}

/// The configured portal, else the demo portal started here (with its One
/// Codex and BaseSpace), then the public portals.
async fn offered_portals(settings: &ferry_engine::settings::Settings) -> Offered {
    // Filled only by the demo portal.
    #[cfg_attr(not(feature = "demo"), allow(unused_mut))]
    let mut demo_keys = HashMap::new();
    let mut choices = Vec::new();
    let (portal, demo) = match configured_portal(settings) {
        Some(p) => {
            choices.extend(portals::public_portals());
            (p, None)
        }
        // Built without the demo portal: the first public portal.
        #[cfg(not(feature = "demo"))]
        None => {
            let mut public = portals::public_portals();
            let first = public.remove(0);
            choices.extend(public);
            (first, None)
        }
        #[cfg(feature = "demo")]
        None => {
            // Locked down (no controls, a random password) unless the
            // window tests drive it (FERRY_E2E=1) and need its controls.
            let sim = ferry_sim::Sim::start(ferry_sim::SimConfig {
                app: !e2e(),
                ..Default::default()
            })
            .await
            .expect("start the demo portal");
            let p = Portal {
                name: session::DEMO_NAME.into(),
                backend: sim.backend_url(),
                keycloak: sim.backend_url(),
                // The simulator serves the website's /loculus-info too.
                website: sim.backend_url(),
                demo: true,
                kind: PortalKind::Loculus,
            };
            for (p, key, target) in portals::demo_portals(&sim) {
                demo_keys.insert(p.backend.clone(), (key, target));
                choices.push(p);
            }
            choices.extend(portals::public_portals());
            (p, Some(sim))
        }
    };
    Offered {
        choices,
        portal,
        demo_keys,
        demo,
    }
}

/// The first sign-in, and the flush of what changed to the window every
/// 100 ms.
fn start_background(app: &Arc<App>, handle: tauri::AppHandle) {
    let first = app.clone();
    tauri::async_runtime::spawn(async move { first.first_sign_in().await });
    let flusher = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        // A late flush is not followed by catch-up flushes: the
        // window gets at most 10 batches a second, however busy.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            flusher.flush(&handle);
        }
    });
}

/// The window: the first sign-in and the 100 ms flush start once it
/// shows; drops go to [`App::dropped`]; the commands are registered.
fn run_window(app: Arc<App>) {
    let dropper = app.clone();
    tauri::Builder::default()
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .manage(app.clone())
        .setup(move |a| {
            start_background(&app, a.handle().clone());
            if e2e() {
                a.add_capability(
                    tauri::ipc::CapabilityBuilder::new("e2e")
                        .window("main")
                        .permission("allow-e2e-drop")
                        .permission("allow-e2e-wizard-folder")
                        .permission("allow-e2e-watch-add"),
                )?;
            }
            Ok(())
        })
        .on_window_event(move |w, e| {
            if let WindowEvent::DragDrop(DragDropEvent::Drop { paths, position }) = e {
                // Physical pixels to the page's CSS pixels.
                let scale = w.scale_factor().unwrap_or(1.0);
                let at = (position.x / scale, position.y / scale);
                dropper.dropped(paths.clone(), Some(at));
            }
        })
        .invoke_handler(tauri::generate_handler![
            signin::session,
            signin::sign_in,
            signin::sign_in_token,
            signin::sign_in_device,
            signin::open_sign_in_page,
            signin::cancel_sign_in,
            signin::sign_out,
            subscribe,
            pick_files,
            pick_folder,
            start,
            pause,
            resume,
            cancel,
            pause_all,
            resume_all,
            cancel_all,
            jobs::unfinished_jobs,
            jobs::resume_job,
            jobs::discard_job,
            signin::portals,
            signin::choose_portal,
            signin::sign_in_key,
            wizard::wizard_organisms,
            wizard::wizard_groups,
            wizard::wizard_open,
            wizard::wizard_pick_folder,
            wizard::wizard_review,
            wizard::wizard_upload,
            wizard::wizard_submit,
            wizard::wizard_resume,
            wizard::e2e_wizard_folder,
            history::history,
            history::save_receipt,
            history::copy_ids,
            history::submit_these,
            settings,
            save_settings,
            watch_panel::watch_folders,
            watch_panel::watch_pick,
            watch_panel::watch_remove,
            watch_panel::watch_pause,
            watch_panel::watch_check_again,
            watch::drop::watch_drop_zone,
            watch_panel::e2e_watch_add,
            e2e_drop
        ])
        .run(tauri::generate_context!())
        .expect("run the Ferry window");
}
