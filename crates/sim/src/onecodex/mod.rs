//! The One Codex API (`/api/v1/samples/init_upload`, `confirm_upload`) as its
//! contract says; the files go to the shared storage host as S3 POST-policy
//! uploads, whose signature, expiry and conditions s3s checks.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Response, StatusCode, header};
use axum::routing::post;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::portal_host::error;
use crate::state::AppState;

/// One POST takes up to 20 GB.
const MAX_SIZE: u64 = 20_000_000_000;

/// A sample as the sim keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Sample {
    pub sample_id: String,
    pub filename: String,
    pub size: u64,
    pub paired_end_filename: Option<String>,
    /// Storage keys of the file and its mate.
    pub keys: Vec<String>,
    pub confirmed: bool,
}

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/samples/init_upload", post(init_upload))
        .route("/api/v1/samples/confirm_upload", post(confirm_upload))
        .with_state(state)
}

/// Nothing on this host is storage.
pub(crate) fn is_storage(_method: &str, _path: &str) -> bool {
    false
}

/// HTTP Basic with the key as user name and an empty password.
fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(b64) = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return false;
    };
    let raw = String::from_utf8_lossy(&raw);
    let user = raw.split_once(':').map(|(u, _)| u).unwrap_or(&raw);
    user == state.onecodex_key()
}

fn unauthorized() -> Response<Body> {
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "Authentication failed: use your API key as the HTTP Basic user name",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"One Codex\""),
    );
    r
}

/// Letters, digits, `-`, `_`, `.`, and a FASTA/FASTQ extension with an
/// optional `.gz`/`.gzip`.
pub(crate) fn check_filename(name: &str) -> Result<(), String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "Invalid filename {name:?}: only letters, numbers, '-', '_' and '.' are allowed"
        ));
    }
    let lower = name.to_ascii_lowercase();
    let stem = lower
        .strip_suffix(".gz")
        .or_else(|| lower.strip_suffix(".gzip"))
        .unwrap_or(&lower);
    let ext = stem.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    if !["fastq", "fq", "fasta", "fa", "fna", "fas"].contains(&ext) {
        return Err(format!(
            "Invalid filename {name:?}: upload FASTA or FASTQ files, optionally gzipped (.gz, .gzip)"
        ));
    }
    Ok(())
}

async fn init_upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response<Body> {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, m);
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return bad("The request body must be a JSON object");
    };
    let Some(filename) = v["filename"].as_str() else {
        return bad("filename is required");
    };
    if let Err(m) = check_filename(filename) {
        return bad(&m);
    }
    let size = match v["size"].as_u64() {
        Some(s) if (1..=MAX_SIZE).contains(&s) => s,
        _ => return bad("size must be an integer of at least 1 (and at most 20 GB)"),
    };
    let mate = match &v["paired_end_filename"] {
        Value::Null => None,
        Value::String(m) => {
            if let Err(e) = check_filename(m) {
                return bad(&e);
            }
            if m == filename {
                return bad("paired_end_filename must differ from filename");
            }
            Some(m.clone())
        }
        _ => return bad("paired_end_filename must be a string or null"),
    };
    for k in ["sample_id", "external_sample_id"] {
        if !v[k].is_null() {
            return bad(&format!("No pre-created sample matches {k}"));
        }
    }
    if !(v["upload_type"].is_null() || v["upload_type"] == "standard") {
        return bad("upload_type must be \"standard\"");
    }
    let sample_id = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
    let prefix = format!("onecodex/{sample_id}/");
    let fields = |key: &str| -> Value {
        state
            .s3
            .post_policy(&prefix, key, 1, MAX_SIZE)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let mut keys = vec![format!("{prefix}{filename}")];
    let mut answer = json!({
        "sample_id": sample_id,
        "upload_url": state.s3.post_url(),
        // Storage names the object after the uploaded file (S3's
        // `${filename}`), so a client must send the name it announced; the
        // mate's key is literal, so both forms are exercised.
        "additional_fields": fields(&format!("{prefix}${{filename}}")),
    });
    if let Some(m) = &mate {
        keys.push(format!("{prefix}{m}"));
        answer["paired_end_upload_url"] = json!(state.s3.post_url());
        // The published schema types the fields as a string: send that form
        // here so clients are tested on both.
        answer["paired_end_additional_fields"] = json!(fields(&keys[1]).to_string());
    }
    state.lock().oc_samples.insert(
        sample_id.clone(),
        Sample {
            sample_id,
            filename: filename.into(),
            size,
            paired_end_filename: mate,
            keys,
            confirmed: false,
        },
    );
    json_response(StatusCode::OK, &answer)
}

async fn confirm_upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response<Body> {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some(id) = v["sample_id"].as_str() else {
        return error(StatusCode::BAD_REQUEST, "sample_id is required");
    };
    let Some(sample) = state.lock().oc_samples.get(id).cloned() else {
        return error(StatusCode::NOT_FOUND, "No such sample");
    };
    if sample.confirmed {
        return error(StatusCode::BAD_REQUEST, "This sample is already confirmed");
    }
    for (i, key) in sample.keys.iter().enumerate() {
        let size = match state.s3.head(key).await {
            Ok(s) => s,
            Err(_) => return error(StatusCode::SERVICE_UNAVAILABLE, "Storage unavailable"),
        };
        let name = key.rsplit('/').next().unwrap_or(key);
        match size {
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("Upload of {name} not found: confirm only after the file is stored"),
                );
            }
            Some(s) if i == 0 && s != sample.size => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "{name} has {s} bytes in storage but init_upload said {}",
                        sample.size
                    ),
                );
            }
            Some(_) => {}
        }
    }
    if let Some(s) = state.lock().oc_samples.get_mut(id) {
        s.confirmed = true;
    }
    json_response(
        StatusCode::OK,
        &json!({"sample_id": id, "upload_status": "confirmed"}),
    )
}

pub(crate) fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}
