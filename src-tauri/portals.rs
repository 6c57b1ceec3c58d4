//! One Codex and BaseSpace in the window: sign-in with an API key or an
//! access token (kept in the OS keychain), the demo instances the
//! in-process simulator serves, and each portal's file-name rules. Loculus
//! sign-in (Keycloak) is in `session`.

use std::sync::Arc;

use ferry_engine::basespace::{BaseSpace, BaseSpaceNames};
use ferry_engine::onecodex::{OneCodex, OneCodexNames};
use ferry_engine::queue::LoculusNames;
use ferry_engine::scan::NameRules;
use ferry_engine::{Portal as EnginePortal, Secret, StaticToken};
use ferry_keychain::Stored;
use serde::Serialize;

use crate::session::{Info, Portal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Loculus,
    Onecodex,
    Basespace,
}

/// The file-name rules (and pairing) of a kind of portal, for checking
/// files before sign-in.
pub fn rules(kind: Kind) -> Arc<dyn NameRules> {
    match kind {
        Kind::Loculus => Arc::new(LoculusNames),
        Kind::Onecodex => Arc::new(OneCodexNames),
        Kind::Basespace => Arc::new(BaseSpaceNames),
    }
}

/// What to do when the key field is empty.
fn missing(kind: Kind) -> String {
    match kind {
        Kind::Onecodex => "paste your One Codex API key (Settings → API keys)".into(),
        _ => "paste your BaseSpace access token".into(),
    }
}

/// A signed-in One Codex or BaseSpace portal.
pub struct Keyed {
    pub info: Info,
    pub portal: Arc<dyn EnginePortal>,
    /// One Codex learns the pairs of files added later (see `start`).
    pub onecodex: Option<Arc<OneCodex>>,
}

/// The keychain account, named as `ferry login --portal ...` names it.
fn account(p: &Portal) -> String {
    if p.kind == Kind::Onecodex {
        ferry_keychain::onecodex_account(&p.backend)
    } else {
        ferry_keychain::basespace_account(&p.backend)
    }
}

/// The portal with `key` (and BaseSpace's AppResult). The key is kept in
/// the keychain unless this is a demo portal.
pub fn sign_in(
    http: reqwest::Client,
    p: &Portal,
    key: &str,
    appresult: Option<&str>,
) -> Result<Keyed, String> {
    let key = key.trim();
    if key.is_empty() {
        return Err(missing(p.kind));
    }
    let (portal, onecodex, user, target): (Arc<dyn EnginePortal>, _, _, _) = match p.kind {
        Kind::Onecodex => {
            let oc = Arc::new(
                OneCodex::new(http, &p.backend, Secret::new(key), vec![])
                    .map_err(|e| e.to_string())?,
            );
            (oc.clone(), Some(oc), "API key", None)
        }
        Kind::Basespace => {
            let app = appresult.map(str::trim).unwrap_or_default();
            let bs = BaseSpace::new(
                http,
                &p.backend,
                app,
                Arc::new(StaticToken::new(key.to_string())),
            )
            .map_err(|e| e.to_string())?;
            (Arc::new(bs), None, "access token", Some(app.to_string()))
        }
        Kind::Loculus => return Err("Loculus signs in with a user name and password".into()),
    };
    let keychain = if p.demo {
        None
    } else {
        let stored = Stored::Key {
            key: ferry_keychain::Kept::new(key.into()),
            target: target.clone(),
        };
        ferry_keychain::Entry::new(&account(p))
            .and_then(|e| e.set(&stored.to_json()))
            .err()
            .map(|e| format!("not remembered: {e}"))
    };
    Ok(Keyed {
        info: Info {
            portal: Some(p.clone()),
            user: Some(user.into()),
            group: None,
            keychain,
            journal: None,
            target: target.map(|t| format!("AppResult {t}")),
            insecure_http: crate::session::HttpAllowed,
        },
        portal,
        onecodex,
    })
}

/// Checks the key (and BaseSpace's AppResult) with the portal before
/// anything is kept, so a mistyped key is refused here rather than at the
/// first upload (the probe is the engine's).
pub async fn check(
    http: &reqwest::Client,
    p: &Portal,
    key: &str,
    appresult: Option<&str>,
) -> Result<(), String> {
    if key.trim().is_empty() {
        return Err(missing(p.kind));
    }
    let r = match p.kind {
        Kind::Onecodex => ferry_engine::onecodex::check_key(http, &p.backend, key).await,
        Kind::Basespace => {
            let app = appresult.unwrap_or_default();
            ferry_engine::basespace::check_token(http, &p.backend, key, app).await
        }
        Kind::Loculus => Ok(()),
    };
    r.map_err(|e| format!("{e}. Nothing was kept"))
}

/// The key the keychain holds for this portal, if any.
pub fn remembered(http: reqwest::Client, p: &Portal) -> Option<Keyed> {
    match Stored::load(&account(p))? {
        Stored::Key { key, target } => sign_in(http, p, &key, target.as_deref()).ok(),
        _ => None,
    }
}

/// Sign out: forget the key.
pub fn forget(p: &Portal) -> Result<(), String> {
    match ferry_keychain::Entry::new(&account(p)).and_then(|e| e.delete()) {
        // Nothing to forget where nothing can be kept (no keychain, or a
        // locked one whose unlock was cancelled).
        Ok(_)
        | Err(
            ferry_keychain::KeychainError::Unavailable(_)
            | ferry_keychain::KeychainError::Locked(_),
        ) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// The demo One Codex and BaseSpace the in-process simulator serves, with
/// the key each accepts.
#[cfg(feature = "demo")]
pub fn demo_portals(sim: &ferry_sim::Sim) -> Vec<(Portal, String, Option<String>)> {
    vec![
        (
            Portal {
                name: "Demo One Codex (this computer)".into(),
                backend: format!("{}/api/v1", sim.onecodex_url()),
                keycloak: String::new(),
                website: String::new(),
                demo: true,
                kind: Kind::Onecodex,
            },
            sim.onecodex_api_key(),
            None,
        ),
        (
            Portal {
                name: "Demo BaseSpace (this computer)".into(),
                backend: format!("{}/v1pre3", sim.basespace_url()),
                keycloak: String::new(),
                website: String::new(),
                demo: true,
                kind: Kind::Basespace,
            },
            sim.basespace_token(),
            Some(ferry_sim::basespace::APPRESULT.to_string()),
        ),
    ]
}

/// `FERRY_ONECODEX_URL` / `FERRY_BASESPACE_URL` (the API base, `.../api/v1`
/// or `.../v1pre3`), else the public service.
fn base_url(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .map(|u| u.trim().trim_end_matches('/').to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| default.into())
}

/// What stands for the demo portal in a build without it: there is none.
#[cfg(not(feature = "demo"))]
pub enum NoDemo {}

#[cfg(not(feature = "demo"))]
impl NoDemo {
    pub fn demo_password(&self) -> String {
        match *self {}
    }
}

/// The real services, for a user who signs in with their own key.
pub fn public_portals() -> Vec<Portal> {
    vec![
        Portal {
            name: "One Codex".into(),
            backend: base_url("FERRY_ONECODEX_URL", ferry_engine::onecodex::DEFAULT_BASE),
            keycloak: String::new(),
            website: String::new(),
            demo: false,
            kind: Kind::Onecodex,
        },
        Portal {
            name: "Illumina BaseSpace".into(),
            backend: base_url("FERRY_BASESPACE_URL", ferry_engine::basespace::DEFAULT_BASE),
            keycloak: String::new(),
            website: String::new(),
            demo: false,
            kind: Kind::Basespace,
        },
    ]
}

/// Which of `choices` the settings file's `portal` names: `onecodex` and
/// `basespace` the real service (the first such entry that is not a
/// demo), anything else (`loculus`, `demo`, none) the first entry (the
/// configured Loculus instance or the demo portal).
pub fn preferred(choices: &[Portal], setting: Option<&str>) -> usize {
    let kind = match setting {
        Some("onecodex") => Kind::Onecodex,
        Some("basespace") => Kind::Basespace,
        _ => return 0,
    };
    choices
        .iter()
        .position(|p| p.kind == kind && !p.demo)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn portal(name: &str, kind: Kind, demo: bool) -> Portal {
        Portal {
            name: name.into(),
            backend: format!("http://127.0.0.1/{name}"),
            keycloak: String::new(),
            website: String::new(),
            demo,
            kind,
        }
    }

    #[test]
    fn the_settings_portal_picks_the_entry_the_window_opens_on() {
        let choices = [
            portal("demo", Kind::Loculus, true),
            portal("demo-oc", Kind::Onecodex, true),
            portal("demo-bs", Kind::Basespace, true),
            portal("oc", Kind::Onecodex, false),
            portal("bs", Kind::Basespace, false),
        ];
        assert_eq!(preferred(&choices, None), 0);
        assert_eq!(preferred(&choices, Some("demo")), 0);
        assert_eq!(preferred(&choices, Some("loculus")), 0);
        assert_eq!(choices[preferred(&choices, Some("onecodex"))].name, "oc");
        assert_eq!(choices[preferred(&choices, Some("basespace"))].name, "bs");
        assert_eq!(preferred(&choices[..1], Some("onecodex")), 0);
    }
}
