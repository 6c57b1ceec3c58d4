//! `/_sim/*`: fault control and state dump for out-of-process tests (loopback only, no auth).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::faults::{Fault, Target};
use crate::state::AppState;

#[derive(Deserialize)]
struct FaultRequest {
    target: Target,
    fault: Fault,
    count: Option<u32>,
    rate: Option<f64>,
    seed: Option<u64>,
}

/// `POST /_sim/faults`: `{"target","fault","count"}` or `{"target","fault","rate","seed"}`,
/// `target` being `api` or `storage`.
pub(crate) async fn set_fault(State(shared): State<AppState>, body: axum::body::Bytes) -> Response {
    let req: FaultRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": e.to_string()})),
            )
                .into_response();
        }
    };
    let f = &shared.faults;
    match (req.count, req.rate) {
        (None, Some(rate)) if (0.0..=1.0).contains(&rate) => {
            f.rate(req.target, req.fault, rate, req.seed.unwrap_or(0))
        }
        (Some(n), None) => f.next(req.target, req.fault, n),
        _ => {
            let msg = "give either `count`, or `rate` (0 to 1, with an optional `seed`)";
            return (StatusCode::BAD_REQUEST, Json(json!({"error": msg}))).into_response();
        }
    }
    (StatusCode::OK, Json(json!({"ok": true}))).into_response()
}

/// `GET /_sim/faults`: how many faults of each kind were injected, by host:
/// `{"injected": 4, "counts": {"storage:reset": 3, "api:status": 1}}`.
pub(crate) async fn fault_counts(State(shared): State<AppState>) -> Json<serde_json::Value> {
    let f = &shared.faults;
    Json(json!({"injected": f.injected(), "counts": f.counts()}))
}

/// `DELETE /_sim/faults`.
pub(crate) async fn clear_faults(State(shared): State<AppState>) -> StatusCode {
    shared.faults.clear();
    StatusCode::NO_CONTENT
}

/// `POST /_sim/gc`: one run of the garbage collection now;
/// answers `{"marked": [...], "deleted": [...]}`.
pub(crate) async fn gc(State(shared): State<AppState>) -> Json<crate::gc::GcRun> {
    Json(crate::gc::run_once(&shared).await)
}

/// `GET /_sim/state`.
pub(crate) async fn state(State(shared): State<AppState>) -> Json<crate::model::SimState> {
    Json(crate::snapshot(&shared))
}

/// `GET /_sim/object/{fileId}`: `{"size", "sha256"}` of the stored object, read back
/// through S3, so out-of-process tests can compare it with the file sent; 404 if absent.
pub(crate) async fn object(
    State(shared): State<AppState>,
    axum::extract::Path(file_id): axum::extract::Path<String>,
) -> Response {
    match shared
        .s3
        .sha256(&crate::files::object_key(&file_id))
        .await
        .ok()
        .flatten()
    {
        Some((size, sha256)) => Json(json!({"size": size, "sha256": sha256})).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no such object"})),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
struct RevokeRequest {
    user: String,
}

#[derive(Deserialize)]
struct ReleasedRequest {
    organism: String,
    group: i64,
    count: u64,
}

/// `POST /_sim/released-entries`: `{"organism","group","count"}` adds that
/// many released entries to the group, as years of submissions leave
/// (for tests of big groups). Answers the number of entries it now has.
pub(crate) async fn released_entries(
    State(shared): State<AppState>,
    body: axum::body::Bytes,
) -> Response {
    let r: ReleasedRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": e.to_string()})),
            )
                .into_response();
        }
    };
    let mut inner = shared.lock();
    for _ in 0..r.count {
        inner.accession_counter += 1;
        let n = inner.accession_counter;
        inner.submissions.push(crate::model::SubmissionRecord {
            accession: crate::submit::accession(n),
            version: 1,
            submission_id: format!("released-{n}"),
            organism: r.organism.clone(),
            group_id: r.group,
            submitter: "demo".into(),
            data_use_terms: "OPEN".into(),
            restricted_until: None,
            metadata: Default::default(),
            files: Default::default(),
            sequences: Default::default(),
            released: true,
        });
    }
    let n = inner
        .submissions
        .iter()
        .filter(|s| s.group_id == r.group && s.organism == r.organism)
        .count();
    (StatusCode::OK, Json(json!({"entries": n}))).into_response()
}

/// `GET /_sim/api-log`: the backend requests so far (without the
/// submissions `/_sim/state` also lists, which can be many).
pub(crate) async fn api_log(State(shared): State<AppState>) -> Json<serde_json::Value> {
    Json(json!(shared.lock().api_log))
}

/// `POST /_sim/revoke`: `{"user"}`; every token of the user stops working.
pub(crate) async fn revoke(State(shared): State<AppState>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<RevokeRequest>(&body) {
        Ok(r) => {
            let n = crate::auth::revoke(&shared, &r.user);
            (StatusCode::OK, Json(json!({"revoked": n}))).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

/// `GET /_sim/portals`: One Codex samples and BaseSpace files.
pub(crate) async fn portals(State(shared): State<AppState>) -> Json<serde_json::Value> {
    let inner = shared.lock();
    let mut samples: Vec<_> = inner.oc_samples.values().cloned().collect();
    samples.sort_by(|a, b| a.sample_id.cmp(&b.sample_id));
    let mut files: Vec<_> = inner.bs_files.values().cloned().collect();
    files.sort_by(|a, b| a.id.cmp(&b.id));
    Json(
        json!({"onecodex_samples": samples, "basespace_files": files, "portal_log": inner.portal_log}),
    )
}

/// `GET /_sim/stored?key=K`: size and SHA-256 of any stored object.
pub(crate) async fn stored(
    State(shared): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let key = q.get("key").cloned().unwrap_or_default();
    match shared.s3.sha256(&key).await.ok().flatten() {
        Some((size, sha256)) => Json(json!({"size": size, "sha256": sha256})).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no such object"})),
        )
            .into_response(),
    }
}
