//! Keycloak's OAuth 2.0 Device Authorization Grant (RFC 8628), as a realm
//! with "OAuth 2.0 Device Authorization Grant" enabled serves it: the app
//! asks for a code, the user approves it in a browser (here: the form POST
//! a browser would send after the login page), and the app polls the token
//! endpoint until then.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Json, Response};
use rand::Rng;
use serde_json::json;

use crate::auth::{client_refused, kc_error, user};
use crate::state::AppState;

/// The grant type the token endpoint takes for polls.
pub(crate) const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Keycloak's default code lifetime ("User Code Lifespan", 600 s).
const LIFESPAN: Duration = Duration::from_secs(600);
/// Polling interval the realm asks for. Keycloak's default is 5 s; the realm
/// setting is lowered here so tests poll quickly.
pub(crate) const INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub(crate) struct Device {
    user_code: String,
    expires_at: Instant,
    approved_by: Option<String>,
    denied: bool,
    last_poll: Option<Instant>,
}

pub(crate) type Devices = std::sync::Mutex<HashMap<String, Device>>;

/// `POST /realms/loculus/protocol/openid-connect/auth/device`.
pub(crate) async fn authorize(
    State(shared): State<AppState>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = client_refused(&form) {
        return r;
    }
    let mut rng = rand::rng();
    let letters: String = (0..8)
        .map(|_| (b'A' + rng.random_range(0..26u8)) as char)
        .collect();
    let user_code = format!("{}-{}", &letters[..4], &letters[4..]);
    let device_code = hex::encode(rng.random::<[u8; 24]>());
    shared.devices.lock().expect("devices").insert(
        device_code.clone(),
        Device {
            user_code: user_code.clone(),
            expires_at: Instant::now() + LIFESPAN,
            approved_by: None,
            denied: false,
            last_poll: None,
        },
    );
    let verify = format!("{}/realms/loculus/device", shared.backend_url);
    Json(json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verify,
        "verification_uri_complete": format!("{verify}?user_code={user_code}"),
        "expires_in": LIFESPAN.as_secs(),
        "interval": INTERVAL.as_secs(),
    }))
    .into_response()
}

/// `POST /realms/loculus/device`: what the browser sends once the user has
/// signed in on Keycloak's page and pressed Yes (or No: `deny`).
pub(crate) async fn approve(
    State(shared): State<AppState>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let code = form.get("user_code").map(String::as_str).unwrap_or("");
    let name = form.get("username").map(String::as_str).unwrap_or("");
    let pass = form.get("password").map(String::as_str).unwrap_or("");
    let Some(u) = user(name)
        .filter(|u| crate::lockdown::password_ok(shared.app_password.as_deref(), u.password, pass))
    else {
        return (
            StatusCode::UNAUTHORIZED,
            Html("Invalid username or password."),
        )
            .into_response();
    };
    let mut devices = shared.devices.lock().expect("devices");
    let Some(d) = devices
        .values_mut()
        .find(|d| d.user_code.eq_ignore_ascii_case(code) && d.expires_at > Instant::now())
    else {
        return (StatusCode::BAD_REQUEST, Html("Invalid code.")).into_response();
    };
    if form.contains_key("deny") {
        d.denied = true;
        return Html("Access denied.").into_response();
    }
    d.approved_by = Some(u.name.to_owned());
    Html("Device Login Successful. You may close this window.").into_response()
}

/// The token endpoint's device-code branch: the user to mint tokens for,
/// or the error response RFC 8628 section 3.5 names.
pub(crate) fn poll(
    shared: &AppState,
    form: &HashMap<String, String>,
) -> Result<String, Box<Response>> {
    let code = form.get("device_code").map(String::as_str).unwrap_or("");
    let mut devices = shared.devices.lock().expect("devices");
    let Some(d) = devices.get_mut(code) else {
        return Err(Box::new(kc_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Device code not valid",
        )));
    };
    let now = Instant::now();
    if d.expires_at <= now {
        devices.remove(code);
        return Err(Box::new(kc_error(
            StatusCode::BAD_REQUEST,
            "expired_token",
            "Device code is expired",
        )));
    }
    if d.denied {
        devices.remove(code);
        return Err(Box::new(kc_error(
            StatusCode::BAD_REQUEST,
            "access_denied",
            "The end user denied the authorization request",
        )));
    }
    let too_soon = d
        .last_poll
        .is_some_and(|t| now.duration_since(t) + Duration::from_millis(100) < INTERVAL);
    d.last_poll = Some(now);
    if too_soon {
        return Err(Box::new(kc_error(
            StatusCode::BAD_REQUEST,
            "slow_down",
            "Slow down",
        )));
    }
    match d.approved_by.clone() {
        Some(user) => {
            devices.remove(code);
            Ok(user)
        }
        None => Err(Box::new(kc_error(
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            "The authorization request is still pending",
        ))),
    }
}
