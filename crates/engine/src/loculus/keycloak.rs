//! Loculus sign-in through its Keycloak, as the official CLI does: the
//! password grant once, then the refresh-token grant whenever the access
//! token is within 5 minutes of expiry or the backend answered 401.
//!
//! The refresh token is handed to a caller-supplied hook each time it
//! changes so the caller can keep it in the OS keychain; it is never
//! written anywhere by this module.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::Error;
use crate::error::{from_reqwest, host_of};
use crate::token::{Secret, TokenSource};

/// Keycloak's client for Loculus' CLI and uploaders.
pub const CLIENT_ID: &str = "backend-client";
/// An access token is treated as expired this long before it is.
pub const EARLY: Duration = Duration::from_secs(5 * 60);

/// Called with each new refresh token (store it), or `None` on sign-out.
pub type RefreshHook = Arc<dyn Fn(Option<&Secret>) + Send + Sync>;

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
    refresh_token: Option<String>,
}

struct State {
    access: Option<(Secret, Instant)>,
    refresh: Secret,
}

/// A [`TokenSource`] backed by a Keycloak realm.
pub struct Keycloak {
    http: reqwest::Client,
    token_url: String,
    state: tokio::sync::Mutex<State>,
    user: Mutex<Option<String>>,
    hook: Option<RefreshHook>,
}

impl std::fmt::Debug for Keycloak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keycloak")
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

/// `<keycloak>/realms/loculus/protocol/openid-connect/token`.
pub fn token_url(keycloak: &str) -> String {
    format!(
        "{}/realms/loculus/protocol/openid-connect/token",
        keycloak.trim_end_matches('/')
    )
}

impl Keycloak {
    /// Sign in with a user name and password (the password is not kept).
    pub async fn sign_in(
        http: reqwest::Client,
        keycloak: &str,
        user: &str,
        password: &Secret,
        hook: Option<RefreshHook>,
    ) -> Result<Keycloak, Error> {
        let url = token_url(keycloak);
        let resp = grant(
            &http,
            &url,
            &[
                ("grant_type", "password"),
                ("client_id", CLIENT_ID),
                ("username", user),
                ("password", password.expose()),
            ],
        )
        .await?;
        let refresh = resp.refresh_token.clone().ok_or_else(|| no_refresh(&url))?;
        let kc = Keycloak {
            http,
            token_url: url,
            state: tokio::sync::Mutex::new(State {
                access: Some(access_of(&resp)),
                refresh: Secret::new(refresh),
            }),
            user: Mutex::new(Some(user.to_string())),
            hook,
        };
        kc.stored();
        Ok(kc)
    }

    /// Continue a session from a stored refresh token (checked at once).
    pub async fn from_refresh_token(
        http: reqwest::Client,
        keycloak: &str,
        refresh: Secret,
        hook: Option<RefreshHook>,
    ) -> Result<Keycloak, Error> {
        let kc = Keycloak {
            http,
            token_url: token_url(keycloak),
            state: tokio::sync::Mutex::new(State {
                access: None,
                refresh,
            }),
            user: Mutex::new(None),
            hook,
        };
        kc.token().await?;
        Ok(kc)
    }

    /// The signed-in user's name when known (from the sign-in or the
    /// access token's `preferred_username` claim).
    pub fn user(&self) -> Option<String> {
        self.user.lock().unwrap().clone()
    }

    /// The current refresh token (for tests and for storing it).
    pub async fn refresh_token(&self) -> Secret {
        self.state.lock().await.refresh.clone()
    }

    /// Get a new access token now with the refresh grant.
    pub async fn refresh(&self) -> Result<Secret, Error> {
        let mut st = self.state.lock().await;
        self.refresh_locked(&mut st).await
    }

    async fn refresh_locked(&self, st: &mut State) -> Result<Secret, Error> {
        let resp = grant(
            &self.http,
            &self.token_url,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
                ("refresh_token", st.refresh.expose()),
            ],
        )
        .await?;
        let (access, until) = access_of(&resp);
        if let Some(r) = resp.refresh_token {
            st.refresh = Secret::new(r);
        }
        st.access = Some((access.clone(), until));
        if let Some(name) = username_claim(access.expose()) {
            *self.user.lock().unwrap() = Some(name);
        }
        if let Some(h) = &self.hook {
            h(Some(&st.refresh));
        }
        Ok(access)
    }

    fn stored(&self) {
        if let (Some(h), Ok(st)) = (&self.hook, self.state.try_lock()) {
            h(Some(&st.refresh));
        }
    }
}

#[async_trait::async_trait]
impl TokenSource for Keycloak {
    async fn token(&self) -> Result<Secret, Error> {
        let mut st = self.state.lock().await;
        if let Some((t, until)) = &st.access
            && Instant::now() + EARLY < *until
        {
            return Ok(t.clone());
        }
        self.refresh_locked(&mut st).await
    }

    async fn invalidate(&self, rejected: &Secret) -> bool {
        let mut st = self.state.lock().await;
        // Another request may have refreshed already.
        if let Some((t, _)) = &st.access
            && t != rejected
        {
            return true;
        }
        self.refresh_locked(&mut st).await.is_ok()
    }
}

fn access_of(resp: &TokenResponse) -> (Secret, Instant) {
    (
        Secret::new(resp.access_token.clone()),
        Instant::now() + Duration::from_secs(resp.expires_in),
    )
}

fn no_refresh(url: &str) -> Error {
    Error::Protocol {
        host: host_of(url),
        detail: "the token endpoint gave no refresh_token".into(),
    }
}

/// `preferred_username` from a JWT's payload, when the token is a JWT.
fn username_claim(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("preferred_username")?.as_str().map(str::to_string)
}

async fn grant(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> Result<TokenResponse, Error> {
    let resp = http
        .post(url)
        .form(form)
        .send()
        .await
        .map_err(|e| from_reqwest(url, e))?;
    let status = resp.status().as_u16();
    if status == 400 || status == 401 {
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        let detail = body
            .get("error_description")
            .or_else(|| body.get("error"))
            .and_then(|v| v.as_str())
            .unwrap_or("sign-in refused")
            .to_string();
        return Err(Error::Auth {
            host: host_of(url),
            status,
            detail: format!("{detail}; check the user name and password, or sign in again"),
        });
    }
    if !resp.status().is_success() {
        return Err(Error::Server {
            host: host_of(url),
            status,
            detail: resp.text().await.unwrap_or_default(),
            retry_after: None,
        });
    }
    resp.json().await.map_err(|e| Error::Protocol {
        host: host_of(url),
        detail: format!("unreadable token response: {e}"),
    })
}
