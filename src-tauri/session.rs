//! Sign-in glue: which portal, the Keycloak session, and the OS keychain.
//! Tokens stay here; the window only learns "signed in as X".

use std::sync::Arc;

use ferry_engine::loculus::Loculus;
use ferry_engine::loculus::keycloak::{Keycloak, RefreshHook};
use ferry_engine::{Secret, StaticToken, TokenSource};
use serde::Serialize;

/// The built-in demo portal's name.
pub const DEMO_NAME: &str = "Demo portal (this computer)";
/// The demo user of the built-in demo portal.
pub const DEMO_USER: &str = "demo";
const DEMO_PASSWORD: &str = "demo";
const DEMO_GROUP: i64 = 1;

/// A portal instance the window can send to.
#[derive(Debug, Clone, Serialize)]
pub struct Portal {
    pub name: String,
    /// Loculus: the backend; One Codex, BaseSpace: the API's base URL.
    pub backend: String,
    /// Loculus only.
    pub keycloak: String,
    pub demo: bool,
    pub kind: Kind,
}

/// What the window may know about the session.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Info {
    pub portal: Option<Portal>,
    pub user: Option<String>,
    pub group: Option<i64>,
    /// Why the sign-in is not remembered (no keychain), if it is not.
    pub keychain: Option<String>,
    /// Why uploads cannot be resumed after closing (no journal), if so.
    pub journal: Option<String>,
    /// Where files go inside the account (BaseSpace: the AppResult).
    pub target: Option<String>,
}

/// Where a job goes, as journaled with it (no secret): a job resumes only
/// on the same instance, group and user.
pub fn destination(info: &Info) -> serde_json::Value {
    let p = info.portal.as_ref();
    serde_json::json!({
        "portal_name": p.map(|p| p.name.clone()),
        "backend": p.map(|p| p.backend.clone()),
        "group": info.group,
        "user": info.user,
        "target": info.target,
    })
}

use crate::portals::Kind;
use ferry_keychain::Stored;

fn account(p: &Portal) -> String {
    if p.demo {
        "loculus:demo".into()
    } else {
        ferry_keychain::loculus_account(&p.backend)
    }
}

fn store(p: &Portal, s: &Stored) -> Option<String> {
    let json = s.to_json();
    match ferry_keychain::Entry::new(&account(p)).and_then(|e| e.set(&json)) {
        Ok(()) => None,
        Err(e) => Some(format!("not remembered: {e}")),
    }
}

/// Sign out: forget the keychain entry.
pub fn forget(p: &Portal) -> Result<(), String> {
    match ferry_keychain::Entry::new(&account(p)).and_then(|e| e.delete()) {
        Ok(_) => Ok(()),
        Err(ferry_keychain::KeychainError::Unavailable(_)) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// A signed-in session: the portal the engine sends to.
pub struct Signed {
    pub info: Info,
    pub loculus: Arc<Loculus>,
}

fn keeper(p: &Portal, user: &str, note: Arc<std::sync::Mutex<Option<String>>>) -> RefreshHook {
    let p = p.clone();
    let user = user.to_string();
    Arc::new(move |t: Option<&Secret>| {
        let r = match t {
            Some(t) => store(
                &p,
                &Stored::Refresh {
                    user: user.clone(),
                    token: t.expose().to_string(),
                },
            ),
            None => forget(&p).err(),
        };
        *note.lock().unwrap() = r;
    })
}

async fn finish(
    http: reqwest::Client,
    p: &Portal,
    user: String,
    tokens: Arc<dyn TokenSource>,
    keychain: Option<String>,
    group: Option<i64>,
) -> Result<Signed, String> {
    let group = match group {
        Some(g) => g,
        None => first_group(&http, p, tokens.clone()).await?,
    };
    let loculus = Loculus::new(http, &p.backend, group, tokens).map_err(|e| e.to_string())?;
    Ok(Signed {
        info: Info {
            portal: Some(p.clone()),
            user: Some(user),
            group: Some(group),
            keychain,
            journal: None,
            target: None,
        },
        loculus: Arc::new(loculus),
    })
}

async fn first_group(
    http: &reqwest::Client,
    p: &Portal,
    tokens: Arc<dyn TokenSource>,
) -> Result<i64, String> {
    let api = ferry_engine::loculus::Api::new(http.clone(), &p.backend, tokens)
        .map_err(|e| e.to_string())?;
    let groups: Vec<serde_json::Value> = api
        .get_json("user/groups")
        .await
        .map_err(|e| e.to_string())?;
    groups
        .first()
        .and_then(|g| g.get("groupId"))
        .and_then(|g| g.as_i64())
        .ok_or_else(|| "this account is in no group: ask the portal's admins to add you".into())
}

/// Password grant; the refresh token goes to the keychain.
pub async fn password(
    http: reqwest::Client,
    p: &Portal,
    user: &str,
    password: &str,
) -> Result<Signed, String> {
    let note = Arc::new(std::sync::Mutex::new(None));
    let kc = Keycloak::sign_in(
        http.clone(),
        &p.keycloak,
        user,
        &Secret::new(password),
        Some(keeper(p, user, note.clone())),
    )
    .await
    .map_err(|e| e.to_string())?;
    let keychain = note.lock().unwrap().clone();
    let group = p.demo.then_some(DEMO_GROUP);
    finish(http, p, user.into(), Arc::new(kc), keychain, group).await
}

/// A pasted long-lived token, kept in the keychain the same way.
pub async fn token(http: reqwest::Client, p: &Portal, token: &str) -> Result<Signed, String> {
    let keychain = store(
        p,
        &Stored::Token {
            token: token.trim().into(),
        },
    );
    finish(
        http,
        p,
        "token".into(),
        Arc::new(StaticToken::new(token)),
        keychain,
        None,
    )
    .await
}

/// Continue from what the keychain holds for this portal, if anything.
pub async fn remembered(http: reqwest::Client, p: &Portal) -> Option<Signed> {
    let raw = ferry_keychain::Entry::new(&account(p)).ok()?.get().ok()??;
    match Stored::from_json(&raw)? {
        Stored::Refresh { user, token } => {
            let note = Arc::new(std::sync::Mutex::new(None));
            let kc = Keycloak::from_refresh_token(
                http.clone(),
                &p.keycloak,
                Secret::new(token),
                Some(keeper(p, &user, note.clone())),
            )
            .await
            .ok()?;
            finish(http, p, user, Arc::new(kc), None, None).await.ok()
        }
        Stored::Key { .. } => None,
        Stored::Token { token } => finish(
            http,
            p,
            "token".into(),
            Arc::new(StaticToken::new(token)),
            None,
            None,
        )
        .await
        .ok(),
    }
}

/// The demo portal signs in as the demo user.
pub async fn demo(http: reqwest::Client, p: &Portal) -> Result<Signed, String> {
    password(http, p, DEMO_USER, DEMO_PASSWORD).await
}
