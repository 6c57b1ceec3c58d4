//! One Codex and BaseSpace in the window: sign-in with an API key or an
//! access token (kept in the OS keychain), and the demo instances the
//! in-process simulator serves. Loculus sign-in (Keycloak) is in
//! `session`; the portal itself is opened by `ferry_front::open_portal`.

use std::sync::Arc;

use ferry_engine::onecodex::OneCodex;
use ferry_engine::{Destination, Portal as EnginePortal, PortalKind, Secret};
use ferry_front::{Credential, open_portal};
use ferry_keychain::{SavedSignIn, SecretText};

use crate::session::{Info, Portal};

/// What to do when the key field is empty.
fn missing(kind: PortalKind) -> String {
    match kind {
        PortalKind::Onecodex => "paste your One Codex API key (Settings → API keys)".into(),
        _ => "paste your BaseSpace access token".into(),
    }
}

/// A One Codex or BaseSpace portal signed in with a key.
pub struct KeySignIn {
    pub info: Info,
    pub portal: Arc<dyn EnginePortal>,
    /// One Codex learns the pairs of files added later (see `start`).
    pub onecodex: Option<Arc<OneCodex>>,
}

/// The keychain account, named as `ferry login --portal ...` names it.
fn account(p: &Portal) -> String {
    if p.kind == PortalKind::Onecodex {
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
) -> Result<KeySignIn, String> {
    let key = key.trim();
    if key.is_empty() {
        return Err(missing(p.kind));
    }
    let (user, target) = match p.kind {
        PortalKind::Onecodex => ("API key", None),
        PortalKind::Basespace => (
            "access token",
            Some(appresult.map(str::trim).unwrap_or_default().to_string()),
        ),
        PortalKind::Loculus => return Err("Loculus signs in with a user name and password".into()),
    };
    let to = Destination {
        kind: p.kind,
        base: Some(p.backend.clone()),
        appresult: target.clone(),
        ..Destination::default()
    };
    let opened =
        open_portal(http, &to, Credential::Key(Secret::new(key))).map_err(|e| e.to_string())?;
    let keychain = if p.demo {
        None
    } else {
        let saved = SavedSignIn::Key {
            key: SecretText::new(key.into()),
            target: target.clone(),
        };
        ferry_keychain::Entry::new(&account(p))
            .and_then(|e| e.set(&saved.to_json()))
            .err()
            .map(|e| format!("not remembered: {e}"))
    };
    Ok(KeySignIn {
        info: Info {
            portal: Some(p.clone()),
            user: Some(user.into()),
            group: None,
            keychain,
            journal: None,
            target: target.map(|t| format!("AppResult {t}")),
            insecure_http: crate::session::HttpAllowed,
        },
        portal: opened.portal(),
        onecodex: opened.onecodex(),
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
        PortalKind::Onecodex => ferry_engine::onecodex::check_key(http, &p.backend, key).await,
        PortalKind::Basespace => {
            let app = appresult.unwrap_or_default();
            ferry_engine::basespace::check_token(http, &p.backend, key, app).await
        }
        PortalKind::Loculus => Ok(()),
    };
    r.map_err(|e| format!("{e}. Nothing was kept"))
}

/// The key the keychain holds for this portal, if any.
pub fn remembered(http: reqwest::Client, p: &Portal) -> Option<KeySignIn> {
    match SavedSignIn::load(&account(p))? {
        SavedSignIn::Key { key, target } => sign_in(http, p, &key, target.as_deref()).ok(),
        _ => None,
    }
}

/// Sign out: forget the key.
pub fn forget(p: &Portal) -> Result<(), String> {
    ferry_front::signin::forget(&account(p))
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
                kind: PortalKind::Onecodex,
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
                kind: PortalKind::Basespace,
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
            kind: PortalKind::Onecodex,
        },
        Portal {
            name: "Illumina BaseSpace".into(),
            backend: base_url("FERRY_BASESPACE_URL", ferry_engine::basespace::DEFAULT_BASE),
            keycloak: String::new(),
            website: String::new(),
            demo: false,
            kind: PortalKind::Basespace,
        },
    ]
}

/// Which of `choices` the settings file's `portal` names: `onecodex` and
/// `basespace` the real service (the first such entry that is not a
/// demo), anything else (`loculus`, `demo`, none) the first entry (the
/// configured Loculus instance or the demo portal).
pub fn preferred(choices: &[Portal], setting: Option<&str>) -> usize {
    let kind = match setting {
        Some("onecodex") => PortalKind::Onecodex,
        Some("basespace") => PortalKind::Basespace,
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

    fn portal(name: &str, kind: PortalKind, demo: bool) -> Portal {
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
            portal("demo", PortalKind::Loculus, true),
            portal("demo-oc", PortalKind::Onecodex, true),
            portal("demo-bs", PortalKind::Basespace, true),
            portal("oc", PortalKind::Onecodex, false),
            portal("bs", PortalKind::Basespace, false),
        ];
        assert_eq!(preferred(&choices, None), 0);
        assert_eq!(preferred(&choices, Some("demo")), 0);
        assert_eq!(preferred(&choices, Some("loculus")), 0);
        assert_eq!(choices[preferred(&choices, Some("onecodex"))].name, "oc");
        assert_eq!(choices[preferred(&choices, Some("basespace"))].name, "bs");
        assert_eq!(preferred(&choices[..1], Some("onecodex")), 0);
    }
}
