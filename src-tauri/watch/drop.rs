//! A folder dropped on the Watched folders panel is watched, with the
//! destination chosen in the panel; the window tells where the panel is.

use std::path::PathBuf;

use serde::Deserialize;

/// Where the panel is in the window (CSS pixels), so a drop over it adds
/// a watched folder.
#[derive(Deserialize, Clone, Copy, Debug, Default)]
pub struct Zone {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Zone {
    pub(super) fn holds(&self, (x, y): (f64, f64)) -> bool {
        x >= self.x && x < self.x + self.width && y >= self.y && y < self.y + self.height
    }
}

/// A drop over the panel: each folder is watched, with the destination
/// chosen in the panel; a file is not, and the panel says why. What the
/// panel says is returned.
pub fn dropped(app: &crate::App, paths: Vec<PathBuf>) -> String {
    let (group, submit) = app.watched.drop_to.lock().unwrap().clone();
    let mut said = Vec::new();
    let mut added = Vec::new();
    for p in paths {
        if p.is_dir() {
            match app.watched.add(p.clone(), group, submit.clone()) {
                Ok(()) => added.push(p.display().to_string()),
                Err(e) => said.push(e),
            }
        } else {
            said.push(format!(
                "{}: is a file, not a folder; drop the folder the instrument writes its runs into to watch it (files dropped on the list below are uploaded)",
                p.display()
            ));
        }
    }
    if !added.is_empty()
        && let Err(e) = crate::watch_panel::watches_changed(app)
    {
        said.push(e);
    }
    if !added.is_empty() {
        said.insert(0, format!("Watching {}", added.join(", ")));
    }
    said.join("\n")
}

/// Where the panel is (CSS pixels; None: not shown), and the destination
/// chosen in it, so a folder dropped over it is watched.
#[tauri::command]
pub fn watch_drop_zone(
    app: crate::AppState<'_>,
    zone: Option<Zone>,
    group: Option<i64>,
    submit: Option<String>,
) {
    app.watched.set_zone(zone, group, submit);
}
