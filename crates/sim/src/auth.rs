//! Users, groups, opaque bearer tokens, the Keycloak token endpoint and the backend's bearer
//! check (with Spring Security's 401/403 quirks).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Form;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::{Value, json};

use crate::problem::ApiError;
use crate::state::{AppState, Shared, Token};

/// Keycloak's refresh-token (SSO session idle) lifetime in the Loculus realm import. The access
/// token lifetime is configurable; refresh tokens live at least this long so a short access
/// lifetime still exercises the client's refresh path.
const SESSION_LIFETIME: Duration = Duration::from_secs(36000);

pub(crate) struct UserDef {
    pub name: &'static str,
    pub password: &'static str,
    pub groups: &'static [i64],
    pub super_user: bool,
}

pub(crate) const USERS: &[UserDef] = &[
    UserDef {
        name: "demo",
        password: "demo",
        groups: &[1],
        super_user: false,
    },
    UserDef {
        name: "other",
        password: "other",
        groups: &[2],
        super_user: false,
    },
    UserDef {
        name: "nobody",
        password: "nobody",
        groups: &[],
        super_user: false,
    },
    UserDef {
        name: "curator",
        password: "curator",
        groups: &[],
        super_user: true,
    },
];

pub(crate) fn user(name: &str) -> Option<&'static UserDef> {
    USERS.iter().find(|u| u.name == name)
}

/// `(groupId, groupName)` of the instance.
pub(crate) const GROUPS: &[(i64, &str)] = &[(1, "Demo Lab"), (2, "Other Lab")];

fn group_json(id: i64, name: &str) -> Value {
    json!({
        "groupId": id,
        "groupName": name,
        "institution": "Ferry Simulated Institute",
        "address": {
            "line1": "1 Loopback Road", "line2": "", "city": "Localhost",
            "state": "", "postalCode": "12700", "country": "Nowhere"
        },
        "contactEmail": format!("lab{id}@example.org"),
    })
}

/// Loculus' group checks: existence (404) before membership (403); super users skip membership.
pub(crate) fn check_group(user: &AuthUser, group_id: i64) -> Result<(), ApiError> {
    if !GROUPS.iter().any(|(id, _)| *id == group_id) {
        return Err(ApiError::not_found(format!(
            "Group(s) {group_id} do(es) not exist."
        )));
    }
    if !user.super_user && !user.groups.contains(&group_id) {
        return Err(ApiError::forbidden(format!(
            "User {} is not a member of group(s) {group_id}. Action not allowed.",
            user.name
        )));
    }
    Ok(())
}

/// Mints an access token for `user` (also used by `Sim::token_for`).
pub(crate) fn mint(shared: &Shared, user: &str, refresh: bool) -> String {
    let lifetime = if refresh {
        shared.token_lifetime.max(SESSION_LIFETIME)
    } else {
        shared.token_lifetime
    };
    let token = jwt_shaped(user, refresh, lifetime);
    shared.lock().tokens.insert(
        token.clone(),
        Token {
            user: user.to_owned(),
            expires_at: Instant::now() + lifetime,
            refresh,
        },
    );
    token
}

/// A token shaped like Keycloak's JWTs (header.payload.signature, with the
/// `preferred_username`, `typ` and `exp` claims clients read), so a client
/// that learns the user name from the token works as against Keycloak. The
/// signature is random: the sim validates tokens by lookup, not by key.
fn jwt_shaped(user: &str, refresh: bool, lifetime: Duration) -> String {
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d + lifetime)
        .unwrap_or_default()
        .as_secs();
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "ferry-sim"});
    let claims = json!({
        "exp": exp,
        "jti": uuid::Uuid::new_v4().to_string(),
        "typ": if refresh { "Refresh" } else { "Bearer" },
        "azp": "backend-client",
        "preferred_username": user,
    });
    let sig: [u8; 32] = rand::rng().random();
    format!(
        "{}.{}.{}",
        b64(&header),
        b64(&claims),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    )
}

/// Drops every token of `user` (an administrator's "sign out all sessions").
pub(crate) fn revoke(shared: &Shared, user: &str) -> usize {
    let mut st = shared.lock();
    let before = st.tokens.len();
    st.tokens.retain(|_, t| t.user != user);
    before - st.tokens.len()
}

/// Keycloak's answer to any client but the uploaders' public one.
pub(crate) fn client_refused(form: &HashMap<String, String>) -> Option<Response> {
    (form.get("client_id").map(String::as_str) != Some("backend-client")).then(|| {
        kc_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client or Invalid client credentials",
        )
    })
}

pub(crate) fn kc_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// `POST /realms/loculus/protocol/openid-connect/token`.
pub(crate) async fn token(
    State(shared): State<AppState>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = client_refused(&form) {
        return r;
    }
    let user = match form.get("grant_type").map(String::as_str) {
        None => {
            return kc_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing form parameter: grant_type",
            );
        }
        Some("password") => {
            let name = form.get("username").map(String::as_str).unwrap_or("");
            let pass = form.get("password").map(String::as_str).unwrap_or("");
            match user(name) {
                Some(u)
                    if crate::lockdown::password_ok(
                        shared.app_password.as_deref(),
                        u.password,
                        pass,
                    ) =>
                {
                    u.name.to_owned()
                }
                _ => {
                    return kc_error(
                        StatusCode::UNAUTHORIZED,
                        "invalid_grant",
                        "Invalid user credentials",
                    );
                }
            }
        }
        Some(crate::device::GRANT) => match crate::device::poll(&shared, &form) {
            Ok(user) => user,
            Err(r) => return *r,
        },
        Some("refresh_token") => {
            let rt = form.get("refresh_token").map(String::as_str).unwrap_or("");
            let found = shared.lock().tokens.get(rt).cloned();
            match found {
                Some(t) if t.refresh && t.expires_at > Instant::now() => t.user,
                Some(t) if t.refresh => {
                    return kc_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Token is not active",
                    );
                }
                _ => {
                    return kc_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Invalid refresh token",
                    );
                }
            }
        }
        Some(_) => {
            return kc_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Unsupported grant_type",
            );
        }
    };
    let access = mint(&shared, &user, false);
    let refresh = mint(&shared, &user, true);
    Json(json!({
        "access_token": access,
        "expires_in": shared.token_lifetime.as_secs(),
        "refresh_expires_in": shared.token_lifetime.max(SESSION_LIFETIME).as_secs(),
        "refresh_token": refresh,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "session_state": uuid::Uuid::new_v4().to_string(),
        "scope": "profile email",
    }))
    .into_response()
}

/// `GET /realms/loculus/.well-known/openid-configuration` (only what the sim implements).
pub(crate) async fn openid_configuration(State(shared): State<AppState>) -> Json<Value> {
    let issuer = format!("{}/realms/loculus", shared.backend_url);
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/protocol/openid-connect/auth"),
        "token_endpoint": format!("{issuer}/protocol/openid-connect/token"),
        "jwks_uri": format!("{issuer}/protocol/openid-connect/certs"),
        "device_authorization_endpoint": format!("{issuer}/protocol/openid-connect/auth/device"),
        "grant_types_supported": ["password", "refresh_token", crate::device::GRANT],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["none"],
    }))
}

/// The caller of an authenticated backend route.
#[derive(Debug, Clone)]
pub(crate) struct AuthUser {
    pub name: String,
    pub groups: Vec<i64>,
    pub super_user: bool,
}

/// 401 for a bad token, as Spring's `BearerTokenAuthenticationEntryPoint` sends it.
pub(crate) fn invalid_token(description: &str) -> Response {
    let value = format!(
        "Bearer error=\"invalid_token\", error_description=\"{description}\", error_uri=\"https://tools.ietf.org/html/rfc6750#section-3.1\""
    );
    let mut r = StatusCode::UNAUTHORIZED.into_response();
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shared: &AppState) -> Result<Self, Response> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                (v.len() >= 7 && v[..7].eq_ignore_ascii_case("bearer ")).then(|| v[7..].trim())
            });
        let Some(token) = bearer else {
            // No bearer token: modifying requests fail Spring's CSRF check first (loculus#4601).
            if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
                let mut r = StatusCode::UNAUTHORIZED.into_response();
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return Err(r);
            }
            let body = json!({
                "timestamp": crate::dates::now_rfc3339(),
                "status": 403,
                "error": "Forbidden",
                "path": parts.uri.path(),
            });
            return Err((StatusCode::FORBIDDEN, Json(body)).into_response());
        };
        let found = shared.lock().tokens.get(token).cloned();
        match found {
            Some(t) if !t.refresh && t.expires_at > Instant::now() => {
                let mut st = shared.lock();
                if !st.tokens_used.iter().any(|u| u == token) {
                    st.tokens_used.push(token.to_owned());
                }
                drop(st);
                let def = user(&t.user).expect("tokens are minted for known users");
                Ok(AuthUser {
                    name: def.name.to_owned(),
                    groups: def.groups.to_vec(),
                    super_user: def.super_user,
                })
            }
            Some(t) if !t.refresh => Err(invalid_token("Jwt expired")),
            _ => Err(invalid_token(
                "An error occurred while attempting to decode the Jwt: Malformed token",
            )),
        }
    }
}

/// `GET /user/groups`: the caller's groups (all groups for super users).
pub(crate) async fn user_groups(user: AuthUser) -> Json<Value> {
    let groups: Vec<Value> = GROUPS
        .iter()
        .filter(|(id, _)| user.super_user || user.groups.contains(id))
        .map(|(id, name)| group_json(*id, name))
        .collect();
    Json(Value::Array(groups))
}
