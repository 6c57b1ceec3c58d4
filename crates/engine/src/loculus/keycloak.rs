//! Loculus sign-in through its Keycloak, as the official CLI does: the
//! password grant once, then the refresh-token grant whenever the access
//! token is within 5 minutes of expiry (half its life, if shorter) or the
//! backend answered 401.
//!
//! The refresh token is handed to a caller-supplied hook each time it
//! changes so the caller can keep it in the OS keychain; it is never
//! written anywhere by this module.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use crate::Error;
use crate::error::{from_reqwest, host_of};
use crate::token::{Secret, TokenSource};

/// Keycloak's client for Loculus' CLI and uploaders.
pub const CLIENT_ID: &str = "backend-client";
/// The Keycloak realm of every Loculus instance.
pub const REALM: &str = "loculus";
/// An access token is treated as expired this long before it is (or half
/// its lifetime, when it lives less than twice this).
pub const EARLY: Duration = Duration::from_secs(5 * 60);

/// How long before expiry a token of `lifetime` is refreshed: 5 minutes, but
/// at most half its life, so a short-lived token (a realm set to 2 minutes)
/// is still reused for a while rather than refreshed before every call.
pub fn refresh_margin(lifetime: Duration) -> Duration {
    EARLY.min(lifetime / 2)
}

/// Called with each new refresh token (store it), or `None` on sign-out.
pub type RefreshHook = Arc<dyn Fn(Option<&Secret>) + Send + Sync>;

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
    refresh_token: Option<String>,
}

struct State {
    /// The access token and when to refresh it.
    /// The access token and when to refresh it, by the wall clock: the
    /// monotonic clock stops while the computer sleeps, the token's life
    /// does not.
    access: Option<(Secret, SystemTime)>,
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
        crate::guard::check_url(keycloak, "the Keycloak")?;
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
        crate::guard::check_url(keycloak, "the Keycloak")?;
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
        if let Some((t, refresh_at)) = &st.access
            && SystemTime::now() < *refresh_at
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

/// The access token and when to refresh it (see [`refresh_margin`]).
/// A lifetime past a day is taken as a day: a server's huge `expires_in`
/// must neither overflow the clock nor keep a token past its revocation.
/// Wall-clock time, so a suspend that outlives the token is noticed.
fn access_of(resp: &TokenResponse) -> (Secret, SystemTime) {
    let lifetime = Duration::from_secs(resp.expires_in.min(MAX_LIFETIME_SECS));
    let now = SystemTime::now();
    (
        Secret::new(resp.access_token.clone()),
        now.checked_add(lifetime - refresh_margin(lifetime))
            .unwrap_or(now),
    )
}

/// The longest an access token or a device code is trusted to live.
const MAX_LIFETIME_SECS: u64 = 24 * 3600;
/// The longest wait between device-code polls a server may ask for.
const MAX_POLL_SECS: u64 = 60;

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
        let body: serde_json::Value =
            serde_json::from_str(&crate::guard::error_text(resp).await).unwrap_or_default();
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
            detail: crate::guard::error_text(resp).await,
            retry_after: None,
        });
    }
    crate::guard::json_capped(resp, url, "token response").await
}

/// The device-code grant's type (RFC 8628).
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// `<keycloak>/realms/loculus/.well-known/openid-configuration`.
pub fn discovery_url(keycloak: &str) -> String {
    format!(
        "{}/realms/loculus/.well-known/openid-configuration",
        keycloak.trim_end_matches('/')
    )
}

/// How an instance lets clients sign in, from its OIDC discovery document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInOptions {
    pub token_endpoint: String,
    /// Where to ask for a device code, when the realm offers the grant.
    pub device_endpoint: Option<String>,
}

/// Read the discovery document (instances differ in what they enable).
pub async fn sign_in_options(
    http: &reqwest::Client,
    keycloak: &str,
) -> Result<SignInOptions, Error> {
    #[derive(Deserialize)]
    struct Discovery {
        token_endpoint: String,
        device_authorization_endpoint: Option<String>,
        #[serde(default)]
        grant_types_supported: Vec<String>,
    }
    crate::guard::check_url(keycloak, "the Keycloak")?;
    let url = discovery_url(keycloak);
    let resp = http
        .get(&url)
        .send()
        .await
        .map_err(|e| from_reqwest(&url, e))?;
    let status = resp.status().as_u16();
    if !resp.status().is_success() {
        return Err(Error::Rejected {
            host: host_of(&url),
            status,
            detail: format!("{url} gave no OIDC discovery document; check the Keycloak address"),
        });
    }
    let d: Discovery = crate::guard::json_capped(resp, &url, "OIDC discovery document").await?;
    // The endpoints it names get the password, the refresh token and the
    // device code: https only, like the Keycloak itself.
    crate::guard::check_url(&d.token_endpoint, "the token endpoint")?;
    if let Some(e) = &d.device_authorization_endpoint {
        crate::guard::check_url(e, "the device sign-in endpoint")?;
    }
    let device = d
        .device_authorization_endpoint
        .filter(|_| d.grant_types_supported.iter().any(|g| g == DEVICE_GRANT));
    Ok(SignInOptions {
        token_endpoint: d.token_endpoint,
        device_endpoint: device,
    })
}

/// What the user must do to approve a device sign-in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceCode {
    pub user_code: String,
    pub verification_uri: String,
    /// The same page with the code filled in, when the server gives it.
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
}

#[derive(Deserialize)]
struct DeviceResponse {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_in: u64,
    #[serde(default = "default_interval")]
    interval: u64,
}

/// RFC 8628 section 3.2: 5 s when the server names none.
fn default_interval() -> u64 {
    5
}

impl Keycloak {
    /// Sign in without typing a password into Ferry: the user approves
    /// `show`'s code in a browser while this polls the token endpoint, at
    /// the server's interval, until the code is approved, refused or
    /// expired (RFC 8628).
    pub async fn sign_in_device(
        http: reqwest::Client,
        keycloak: &str,
        hook: Option<RefreshHook>,
        show: impl FnOnce(&DeviceCode),
    ) -> Result<Keycloak, Error> {
        let opts = sign_in_options(&http, keycloak).await?;
        let Some(endpoint) = opts.device_endpoint else {
            return Err(Error::Auth {
                host: host_of(keycloak),
                status: 0,
                detail: "this instance does not offer device sign-in; sign in with your user name and password instead".into(),
            });
        };
        let resp = http
            .post(&endpoint)
            .form(&[("client_id", CLIENT_ID)])
            .send()
            .await
            .map_err(|e| from_reqwest(&endpoint, e))?;
        if !resp.status().is_success() {
            return Err(Error::Rejected {
                host: host_of(&endpoint),
                status: resp.status().as_u16(),
                detail: format!(
                    "device sign-in refused: {}",
                    crate::guard::error_text(resp).await
                ),
            });
        }
        let dev: DeviceResponse =
            crate::guard::json_capped(resp, &endpoint, "device code response").await?;
        // The browser opens this link: only a page of this sign-in server.
        let named = [endpoint.as_str(), opts.token_endpoint.as_str()];
        crate::guard::check_sign_in_link(&dev.verification_uri, keycloak, &named)?;
        if let Some(l) = &dev.verification_uri_complete {
            crate::guard::check_sign_in_link(l, keycloak, &named)?;
        }
        show(&DeviceCode {
            user_code: dev.user_code.clone(),
            verification_uri: dev.verification_uri.clone(),
            verification_uri_complete: dev.verification_uri_complete.clone(),
            expires_in: dev.expires_in.min(MAX_LIFETIME_SECS),
        });
        let url = opts.token_endpoint;
        let deadline = Instant::now() + Duration::from_secs(dev.expires_in.min(MAX_LIFETIME_SECS));
        let mut interval = Duration::from_secs(dev.interval.clamp(1, MAX_POLL_SECS));
        let resp = loop {
            tokio::time::sleep(interval).await;
            if Instant::now() >= deadline {
                return Err(device_refused(
                    &url,
                    "the code expired before it was approved",
                ));
            }
            let r = http
                .post(&url)
                .form(&[
                    ("grant_type", DEVICE_GRANT),
                    ("client_id", CLIENT_ID),
                    ("device_code", dev.device_code.as_str()),
                ])
                .send()
                .await
                .map_err(|e| from_reqwest(&url, e))?;
            if r.status().is_success() {
                break crate::guard::json_capped::<TokenResponse>(r, &url, "token response")
                    .await?;
            }
            let status = r.status().as_u16();
            let body: serde_json::Value =
                serde_json::from_str(&crate::guard::error_text(r).await).unwrap_or_default();
            match body.get("error").and_then(|v| v.as_str()).unwrap_or("") {
                "authorization_pending" => {}
                // RFC 8628 section 3.5: wait 5 s longer from now on.
                "slow_down" => {
                    interval =
                        (interval + Duration::from_secs(5)).min(Duration::from_secs(MAX_POLL_SECS));
                }
                "access_denied" => {
                    return Err(device_refused(
                        &url,
                        "the sign-in was refused in the browser",
                    ));
                }
                "expired_token" => {
                    return Err(device_refused(
                        &url,
                        "the code expired before it was approved",
                    ));
                }
                other => {
                    return Err(Error::Auth {
                        host: host_of(&url),
                        status,
                        detail: format!("device sign-in failed: {other}; sign in again"),
                    });
                }
            }
        };
        let refresh = resp.refresh_token.clone().ok_or_else(|| no_refresh(&url))?;
        let (access, until) = access_of(&resp);
        let kc = Keycloak {
            http,
            token_url: url,
            state: tokio::sync::Mutex::new(State {
                access: Some((access.clone(), until)),
                refresh: Secret::new(refresh),
            }),
            user: Mutex::new(username_claim(access.expose())),
            hook,
        };
        kc.stored();
        Ok(kc)
    }
}

fn device_refused(url: &str, why: &str) -> Error {
    Error::Auth {
        host: host_of(url),
        status: 400,
        detail: format!("{why}; run the sign-in again"),
    }
}
