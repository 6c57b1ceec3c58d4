//! The settings window: the settings file the CLI reads too
//! (`ferry_engine::settings`), the version (About), and what is in force.
//! A file that does not parse is shown with its path and line, used as
//! defaults, and never saved over.

use ferry_engine::settings::Settings;
use serde::Serialize;

/// What the settings panel shows.
#[derive(Serialize, Clone)]
pub struct View {
    pub version: String,
    pub path: String,
    pub settings: Settings,
    /// Why the file could not be read (its path and line), if so.
    pub error: Option<String>,
    /// The bandwidth limit in force, as the stats line shows it.
    pub limit: Option<String>,
}

/// The settings at start: the file's, with `error` when it is malformed
/// (then the defaults are used).
pub fn load() -> (Settings, Option<String>) {
    match Settings::load() {
        Ok(s) => match s.apply() {
            Ok(()) => (s, None),
            Err(e) => (Settings::default(), Some(e.to_string())),
        },
        Err(e) => (Settings::default(), Some(e.to_string())),
    }
}

pub fn view(s: &Settings, error: Option<String>) -> View {
    View {
        version: env!("CARGO_PKG_VERSION").into(),
        path: Settings::path().display().to_string(),
        settings: s.clone(),
        error,
        limit: ferry_engine::rate::limit().map(ferry_engine::rate::show),
    }
}

/// Saves into the settings file (only into one that could be read) and
/// puts the bandwidth limit in force at once; a new proxy is used by
/// connections made after the next start.
pub fn save(s: Settings) -> Result<View, String> {
    s.save_to(&Settings::path()).map_err(|e| e.to_string())?;
    ferry_engine::rate::set_limit(s.rate());
    Ok(view(&s, None))
}
