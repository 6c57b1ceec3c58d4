//! Sign-in glue: which portal, the Keycloak session, and the OS keychain.
//! Tokens stay here; the window only learns "signed in as X".

use std::sync::Arc;

use ferry_engine::job::Account;
use ferry_engine::loculus::Loculus;
use ferry_engine::loculus::keycloak::{DeviceCode, Keycloak};
use ferry_engine::{Destination, PortalKind, Secret, StaticToken, TokenSource};
use ferry_front::signin::{self, RefreshTokenSaver};
use ferry_keychain::{SavedSignIn, SecretText};
use serde::Serialize;

/// The built-in demo portal's name.
pub const DEMO_NAME: &str = "Demo portal (this computer)";
/// The demo user of the built-in demo portal.
pub const DEMO_USER: &str = "demo";
const DEMO_GROUP: i64 = 1;

/// A portal instance the window can send to.
#[derive(Debug, Clone, Serialize)]
pub struct Portal {
    pub name: String,
    /// Loculus: the backend; One Codex, BaseSpace: the API's base URL.
    pub backend: String,
    /// Loculus only.
    pub keycloak: String,
    /// Loculus only: the website, which serves `/loculus-info` (the
    /// organisms and their file categories); on a real instance not the
    /// backend's host.
    pub website: String,
    pub demo: bool,
    pub kind: PortalKind,
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
    /// Plain http to other hosts allowed (FERRY_ALLOW_HTTP): a red banner.
    pub insecure_http: HttpAllowed,
}

/// Serializes as whether plain http was allowed at start, so every Info
/// the window gets says it, wherever it was built.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpAllowed;

impl Serialize for HttpAllowed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(ferry_engine::guard::http_allowed())
    }
}

/// Where a job goes, as journaled with it (no secret): a job resumes only
/// on the same instance, group and user.
pub fn destination(info: &Info) -> Destination {
    let p = info.portal.as_ref();
    Destination {
        kind: p.map(|p| p.kind).unwrap_or_default(),
        base: p.map(|p| p.backend.clone()),
        group: info.group,
        appresult: info.target.clone(),
        pairs: vec![],
        account: Some(Account {
            portal_name: p.map(|p| p.name.clone()),
            user: info.user.clone(),
        }),
    }
}

fn account(p: &Portal) -> String {
    if p.demo {
        "loculus:demo".into()
    } else {
        ferry_keychain::loculus_account(&p.backend)
    }
}

/// Sign out: forget the keychain entry, and stop every session of this
/// account started before now from writing it again.
pub fn forget(p: &Portal) -> Result<(), String> {
    signin::sign_out(&account(p))
}

/// Where this portal's refresh tokens go (see [`RefreshTokenSaver`]).
fn saver(p: &Portal, user: &str, armed: bool) -> Arc<RefreshTokenSaver> {
    RefreshTokenSaver::new(&account(p), signin::issuer(&p.keycloak), user, armed)
}

/// A signed-in Loculus session: the portal the engine sends to.
pub struct LoculusSignIn {
    pub info: Info,
    pub loculus: Arc<Loculus>,
}

/// The group (looked up unless known) and the engine's portal. Nothing is
/// stored here: callers store the sign-in once this succeeded.
async fn finish(
    http: reqwest::Client,
    p: &Portal,
    user: String,
    tokens: Arc<dyn TokenSource>,
    group: Option<i64>,
) -> Result<LoculusSignIn, String> {
    let group = match group {
        Some(g) => g,
        None => first_group(&http, p, tokens.clone()).await?,
    };
    let to = Destination::loculus(&p.backend, group);
    let opened = ferry_front::open_portal(http, &to, ferry_front::Credential::Tokens(tokens))
        .map_err(|e| e.to_string())?;
    let loculus = opened.loculus().ok_or("not a Loculus portal")?;
    Ok(LoculusSignIn {
        info: Info {
            portal: Some(p.clone()),
            user: Some(user),
            group: Some(group),
            keychain: None,
            journal: None,
            target: None,
            insecure_http: HttpAllowed,
        },
        loculus,
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

/// Password grant; the refresh token goes to the keychain once the
/// account's group is known (a failed sign-in stores nothing).
pub async fn password(
    http: reqwest::Client,
    p: &Portal,
    user: &str,
    password: &str,
) -> Result<LoculusSignIn, String> {
    let saver = saver(p, user, false);
    let kc = Keycloak::sign_in(
        http.clone(),
        &p.keycloak,
        user,
        &Secret::new(password),
        Some(saver.hook()),
    )
    .await
    .map_err(|e| e.to_string())?;
    signed_in(http, p, user.into(), kc, &saver).await
}

/// A new Keycloak session's end: the group found, then its refresh token
/// kept (a sign-in that failed before here stores nothing).
async fn signed_in(
    http: reqwest::Client,
    p: &Portal,
    user: String,
    kc: Keycloak,
    saver: &RefreshTokenSaver,
) -> Result<LoculusSignIn, String> {
    let group = p.demo.then_some(DEMO_GROUP);
    let mut s = finish(http, p, user, Arc::new(kc), group).await?;
    s.info.keychain = saver.arm();
    Ok(s)
}

/// Device-code sign-in (RFC 8628): the user approves `show`'s code in a
/// browser, so the password never passes through Ferry. SecretText in the
/// keychain like a password sign-in once the group is known.
pub async fn device(
    http: reqwest::Client,
    p: &Portal,
    show: impl FnOnce(&DeviceCode),
) -> Result<LoculusSignIn, String> {
    let saver = saver(p, "", false);
    let kc = Keycloak::sign_in_device(http.clone(), &p.keycloak, Some(saver.hook()), show)
        .await
        .map_err(|e| e.to_string())?;
    let user = kc.user().unwrap_or_else(|| "(unknown user)".into());
    saver.set_user(&user);
    signed_in(http, p, user, kc, &saver).await
}

/// A pasted long-lived token, kept in the keychain the same way once the
/// portal accepted it.
pub async fn token(
    http: reqwest::Client,
    p: &Portal,
    token: &str,
) -> Result<LoculusSignIn, String> {
    let token = token.trim();
    let mut s = finish(
        http,
        p,
        "token".into(),
        Arc::new(StaticToken::new(token)),
        None,
    )
    .await?;
    s.info.keychain = signin::save(
        &account(p),
        &SavedSignIn::Token {
            token: SecretText::new(token.into()),
        },
    );
    Ok(s)
}

/// Continue from what the keychain holds for this portal, if anything.
pub async fn remembered(http: reqwest::Client, p: &Portal) -> Option<LoculusSignIn> {
    match SavedSignIn::load(&account(p))? {
        SavedSignIn::Refresh {
            user,
            token,
            issuer: issued_by,
        } => {
            // Sent only back to the Keycloak that issued it; an entry
            // without an issuer (older Ferry) is sent nowhere: sign in again.
            ferry_keychain::bound_refresh(&issued_by, &signin::issuer(&p.keycloak)).ok()?;
            // Armed at once: the refresh grant may rotate the token, and
            // the keychain must hold the new one whatever happens next.
            let saver = saver(p, &user, true);
            let kc = Keycloak::from_refresh_token(
                http.clone(),
                &p.keycloak,
                Secret::new(token.as_str()),
                Some(saver.hook()),
            )
            .await
            .ok()?;
            finish(http, p, user, Arc::new(kc), None).await.ok()
        }
        SavedSignIn::Key { .. } => None,
        SavedSignIn::Token { token } => finish(
            http,
            p,
            "token".into(),
            Arc::new(StaticToken::new(token.as_str())),
            None,
        )
        .await
        .ok(),
    }
}

/// The demo portal signs in as the demo user, with the password only the
/// app knows (fresh each start).
pub async fn demo(http: reqwest::Client, p: &Portal, pass: &str) -> Result<LoculusSignIn, String> {
    password(http, p, DEMO_USER, pass).await
}

#[cfg(test)]
mod tests {
    //! The app's own keychain code against a real Secret Service and an
    //! in-process simulator. `tests/run-all.sh` runs these inside
    //! `dbus-run-session` with an unlocked gnome-keyring-daemon.

    use super::*;

    fn portal(sim: &ferry_sim::Sim) -> Portal {
        Portal {
            name: "test".into(),
            backend: sim.backend_url(),
            keycloak: sim.backend_url(),
            website: sim.backend_url(),
            demo: false,
            kind: PortalKind::Loculus,
        }
    }

    fn keychain_entry(p: &Portal) -> Option<String> {
        ferry_keychain::Entry::new(&account(p))
            .unwrap()
            .get()
            .expect("a Secret Service (run inside dbus-run-session with gnome-keyring-daemon)")
    }

    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "needs a Secret Service: run inside dbus-run-session with gnome-keyring-daemon (tests/run-all.sh)"]
    async fn failed_sign_ins_store_nothing_and_sign_out_stays_signed_out() {
        let sim = ferry_sim::Sim::start(ferry_sim::SimConfig::default())
            .await
            .unwrap();
        let p = portal(&sim);
        let http = reqwest::Client::new();
        // The keychain outlives simulators: an earlier one on this port
        // (another test's, or a killed run's) may have left a sign-in.
        forget(&p).unwrap();
        assert_eq!(keychain_entry(&p), None);

        let e = password(http.clone(), &p, "demo", "wrong").await.err();
        assert!(
            e.is_some_and(|e| e.contains("did not accept")),
            "wrong password"
        );
        assert_eq!(
            keychain_entry(&p),
            None,
            "a wrong password stored something"
        );
        // Keycloak accepts the password, but the account is in no group.
        let e = password(http.clone(), &p, "nobody", "nobody").await.err();
        assert!(e.is_some_and(|e| e.contains("in no group")), "no group");
        assert_eq!(
            keychain_entry(&p),
            None,
            "a sign-in without a group was kept"
        );
        assert!(token(http.clone(), &p, "not-a-token").await.is_err());
        assert_eq!(keychain_entry(&p), None, "a refused pasted token was kept");

        let s = password(http.clone(), &p, "demo", "demo").await.unwrap();
        assert_eq!(s.info.keychain, None);
        let raw = keychain_entry(&p).expect("the session is in the keychain");
        assert!(matches!(
            SavedSignIn::from_json(&raw),
            Some(SavedSignIn::Refresh { user, .. }) if user == "demo"
        ));
        assert!(remembered(http.clone(), &p).await.is_some());

        // A session of before the sign-out (e.g. a batch still running)
        // refreshes its token: nothing is written back.
        let old = saver(&p, "demo", true);
        forget(&p).unwrap();
        assert_eq!(keychain_entry(&p), None);
        old.keep(Some(Secret::new("rotated")));
        assert_eq!(
            keychain_entry(&p),
            None,
            "a refresh after sign-out was stored"
        );
        assert!(remembered(http.clone(), &p).await.is_none());

        // A new sign-in after the sign-out is kept again.
        let s = token(http, &p, &sim.demo_token()).await.unwrap();
        assert_eq!(s.info.user.as_deref(), Some("token"));
        assert!(keychain_entry(&p).is_some_and(|r| r.contains("\"kind\":\"token\"")));
        forget(&p).unwrap();
        sim.shutdown().await;
    }
}
