//! The BaseSpace v1pre3 multipart file upload as its contract says. Parts
//! arrive on the API host; each is checked (token, AppResult access,
//! number, size, Content-MD5) and stored as a real S3 part, and completion
//! joins them in S3.

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Response, StatusCode};
use axum::routing::{post, put};
use base64::Engine as _;
use md5::Digest;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::onecodex::json_response;
use crate::portal_host::error;
use crate::state::AppState;

/// The AppResult the sim's token may write to, and one it may only read.
pub const APPRESULT: &str = "1001";
pub const READ_ONLY_APPRESULT: &str = "1002";
/// 5 MB minimum (every part but the last), 25 MB maximum, 10,000 parts.
pub const MIN_PART: u64 = 5_000_000;
pub const MAX_PART: u64 = 25_000_000;
pub const MAX_PARTS: u32 = 10_000;

/// A file as the sim keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BsFile {
    pub id: String,
    pub name: String,
    pub appresult: String,
    pub content_type: String,
    /// `pending`, `complete` or `aborted`.
    pub status: String,
    /// Size after completion (sum of the parts).
    pub size: u64,
    /// Storage key of the joined object.
    pub key: String,
    /// Part number -> (ETag, size) of its latest upload.
    pub parts: BTreeMap<u32, (String, u64)>,
    /// Parts whose latest upload carried a `Content-MD5` that matched
    /// (the header is optional by the contract, so a part without one is
    /// taken, but a client that promises it can be checked here).
    #[serde(default)]
    pub md5_checked: BTreeSet<u32>,
}

/// Where part `n` of the file stored at `key` waits until completion.
fn part_key(key: &str, n: u32) -> String {
    format!("{key}.part{n:05}")
}

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1pre3/appresults/{id}/files", post(create))
        .route("/v1pre3/files/{id}/parts/{n}", put(part))
        .route("/v1pre3/files/{id}", post(status))
        // A part is 25 MB at most; the handler says so itself above that.
        .layer(axum::extract::DefaultBodyLimit::max(
            MAX_PART as usize + 1024,
        ))
        .with_state(state)
}

/// Part PUTs are this portal's storage traffic (storage faults apply).
pub(crate) fn is_storage(method: &str, path: &str) -> bool {
    method == "PUT" && path.contains("/parts/")
}

/// A refusal: status and message (small, unlike a whole response).
type Refused = (StatusCode, String);

fn refuse((status, msg): Refused) -> Response<Body> {
    error(status, &msg)
}

fn authorized(state: &AppState, headers: &HeaderMap) -> Result<(), Refused> {
    match headers.get("x-access-token").and_then(|v| v.to_str().ok()) {
        Some(t) if t == state.basespace_token() => Ok(()),
        _ => Err((
            StatusCode::UNAUTHORIZED,
            "The access token is missing or invalid".into(),
        )),
    }
}

fn writable(appresult: &str) -> Result<(), Refused> {
    match appresult {
        APPRESULT => Ok(()),
        READ_ONLY_APPRESULT => Err((
            StatusCode::FORBIDDEN,
            "Forbidden: this token may not write to AppResult 1002".into(),
        )),
        _ => Err((StatusCode::NOT_FOUND, "No such AppResult".into())),
    }
}

fn file_json(f: &BsFile) -> serde_json::Value {
    json!({
        "Id": f.id,
        "Href": format!("v1pre3/files/{}", f.id),
        "HrefContent": format!("v1pre3/files/{}/content", f.id),
        "Name": f.name,
        "ContentType": f.content_type,
        "Size": f.size,
        "Path": f.name,
        "UploadStatus": f.status,
        "DateCreated": crate::dates::now_rfc3339(),
    })
}

fn envelope(v: serde_json::Value) -> serde_json::Value {
    json!({"Response": v, "ResponseStatus": {}, "Notifications": []})
}

async fn create(
    State(state): State<AppState>,
    Path(appresult): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response<Body> {
    if let Err(r) = authorized(&state, &headers).and_then(|()| writable(&appresult)) {
        return refuse(r);
    }
    let name = q.get("name").map(String::as_str).unwrap_or("");
    if name.is_empty() || name.contains('/') || name.chars().any(char::is_control) {
        return error(StatusCode::BAD_REQUEST, "name must be a file name");
    }
    if q.get("multipart").map(String::as_str) != Some("true") {
        return error(
            StatusCode::BAD_REQUEST,
            "ferry-sim only simulates multipart=true uploads",
        );
    }
    let id = {
        let mut inner = state.lock();
        inner.bs_counter += 1;
        format!("{}", 9_000_000 + inner.bs_counter)
    };
    let key = format!("basespace/{appresult}/{id}/{name}");
    let f = BsFile {
        id: id.clone(),
        name: name.into(),
        appresult,
        content_type: headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .into(),
        status: "pending".into(),
        size: 0,
        key,
        parts: BTreeMap::new(),
        md5_checked: BTreeSet::new(),
    };
    let body = envelope(file_json(&f));
    state.lock().bs_files.insert(id, f);
    json_response(StatusCode::OK, &body)
}

/// The file, if the token may write to it and it is still pending.
fn pending(state: &AppState, id: &str) -> Result<BsFile, Refused> {
    let Some(f) = state.lock().bs_files.get(id).cloned() else {
        return Err((StatusCode::NOT_FOUND, "No such file".into()));
    };
    writable(&f.appresult)?;
    if f.status != "pending" {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("The upload is already {}", f.status),
        ));
    }
    Ok(f)
}

async fn part(
    State(state): State<AppState>,
    Path((id, n)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    if let Err(r) = authorized(&state, &headers) {
        return refuse(r);
    }
    let f = match pending(&state, &id) {
        Ok(f) => f,
        Err(r) => return refuse(r),
    };
    let n = match n.parse::<u32>() {
        Ok(n) if (1..=MAX_PARTS).contains(&n) => n,
        _ => {
            return error(StatusCode::BAD_REQUEST, "Part numbers run from 1 to 10000");
        }
    };
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PART as usize).await else {
        return error(
            StatusCode::BAD_REQUEST,
            "A part may not be larger than 25 MB",
        );
    };
    let md5: [u8; 16] = md5::Md5::digest(&bytes).into();
    let given = headers.get("content-md5");
    if let Some(given) = given {
        let ok = given.to_str().is_ok_and(|g| {
            base64::engine::general_purpose::STANDARD
                .decode(g.trim())
                .is_ok_and(|d| d == md5)
        });
        if !ok {
            return error(
                StatusCode::BAD_REQUEST,
                "Content-MD5 does not match the part's bytes",
            );
        }
    }
    let size = bytes.len() as u64;
    let etag = hex::encode(md5);
    if state
        .s3
        .put(&part_key(&f.key, n), vec![bytes])
        .await
        .is_err()
    {
        return error(StatusCode::SERVICE_UNAVAILABLE, "Storage unavailable");
    }
    if let Some(f) = state.lock().bs_files.get_mut(&id) {
        f.parts.insert(n, (etag.clone(), size));
        if given.is_some() {
            f.md5_checked.insert(n);
        } else {
            f.md5_checked.remove(&n);
        }
    }
    json_response(
        StatusCode::OK,
        &json!({"Response": {"Number": n, "ETag": etag, "Size": size}}),
    )
}

async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response<Body> {
    if let Err(r) = authorized(&state, &headers) {
        return refuse(r);
    }
    let f = match pending(&state, &id) {
        Ok(f) => f,
        Err(r) => return refuse(r),
    };
    match q.get("uploadstatus").map(String::as_str) {
        Some("aborted") => {
            if let Some(f) = state.lock().bs_files.get_mut(&id) {
                f.status = "aborted".into();
            }
            let f = state.lock().bs_files.get(&id).cloned().unwrap_or(f);
            json_response(StatusCode::OK, &envelope(file_json(&f)))
        }
        Some("complete") => complete(&state, f).await,
        _ => error(
            StatusCode::BAD_REQUEST,
            "uploadstatus must be complete or aborted",
        ),
    }
}

async fn complete(state: &AppState, f: BsFile) -> Response<Body> {
    let last = f.parts.keys().next_back().copied().unwrap_or(0);
    if last == 0 {
        return error(StatusCode::BAD_REQUEST, "No parts were uploaded");
    }
    if let Some(missing) = (1..=last).find(|n| !f.parts.contains_key(n)) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("Part {missing} is missing"),
        );
    }
    for (n, (_, size)) in &f.parts {
        if *n < last && *size < MIN_PART {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("Part {n} has {size} bytes; every part but the last needs at least 5 MB"),
            );
        }
    }
    let keys: Vec<String> = f.parts.keys().map(|n| part_key(&f.key, *n)).collect();
    if state.s3.concat(&keys, &f.key).await.is_err() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Storage could not join the parts",
        );
    }
    let size: u64 = f.parts.values().map(|(_, s)| s).sum();
    let done = {
        let mut inner = state.lock();
        let Some(g) = inner.bs_files.get_mut(&f.id) else {
            return error(StatusCode::NOT_FOUND, "No such file");
        };
        g.status = "complete".into();
        g.size = size;
        g.clone()
    };
    json_response(StatusCode::CREATED, &envelope(file_json(&done)))
}
