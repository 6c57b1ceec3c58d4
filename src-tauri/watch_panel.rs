//! The Watched folders panel's commands: adding, pausing and removing a
//! folder, kept in the settings file (the watching itself is `watch`).

use std::path::PathBuf;

use crate::{App, AppState, e2e, pick_one_folder, settings, watch};

/// The watched folders and their runs.
#[tauri::command]
pub fn watch_folders(app: AppState<'_>) -> Vec<watch::FolderView> {
    app.watched.view()
}

/// Keeps the watched folders in the settings file and starts new ones.
pub(crate) fn watches_changed(app: &App) -> Result<(), String> {
    let mut s = app.settings.lock().unwrap();
    if let Some(e) = &s.1 {
        return Err(format!(
            "the folder is watched until the app closes, but not kept: {e}"
        ));
    }
    s.0.watch = app.watched.configs();
    settings::save(s.0.clone())?;
    drop(s);
    app.watched.start_all(&app.engine_cfg);
    Ok(())
}

/// Add a watched folder chosen in a native dialog, with its destination:
/// a Loculus group, and an organism to submit each run to as a batch.
#[tauri::command]
pub async fn watch_pick(
    app: AppState<'_>,
    group: Option<i64>,
    submit: Option<String>,
) -> Result<(), String> {
    let picked = pick_one_folder("Watch a folder for sequencer runs").await?;
    if let Some(p) = picked {
        app.watched.add(p, group, submit)?;
    }
    watches_changed(&app)
}

#[tauri::command]
pub fn watch_remove(app: AppState<'_>, dir: PathBuf) -> Result<(), String> {
    app.watched.remove(&dir);
    watches_changed(&app)
}

#[tauri::command]
pub fn watch_pause(app: AppState<'_>, dir: PathBuf, paused: bool) -> Result<(), String> {
    app.watched.set_paused(&dir, paused);
    watches_changed(&app)
}

#[tauri::command]
pub fn watch_check_again(app: AppState<'_>, dir: PathBuf) {
    app.watched.check_again(&dir);
}

/// Test-only: adds a watched folder as the native dialog would.
#[tauri::command]
pub fn e2e_watch_add(
    app: AppState<'_>,
    path: PathBuf,
    group: Option<i64>,
    submit: Option<String>,
) -> Result<(), String> {
    if !e2e() {
        return Err("not available".into());
    }
    app.watched.add(path, group, submit)?;
    watches_changed(&app)
}
