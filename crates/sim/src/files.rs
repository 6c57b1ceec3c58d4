//! `/files/request-upload`, `/files/request-multipart-upload`, `/files/complete-multipart-upload`
//! (loculus-api.md §4, checklist items 6-11).

use std::collections::HashMap;
use std::time::SystemTime;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{AuthUser, check_group};
use crate::model::FileRecord;
use crate::problem::ApiError;
use crate::s3::StorageError;
use crate::state::{AppState, FileEntry};

/// S3's minimum size of every part but the last.
pub(crate) const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

pub(crate) fn object_key(file_id: &str) -> String {
    format!("files/{file_id}")
}

/// A Spring `@RequestParam` of Kotlin type `Int`: missing (without default) and unparsable
/// values give Spring's 400 texts.
pub(crate) fn int_param(
    q: &HashMap<String, String>,
    name: &str,
    default: Option<i32>,
) -> Result<i64, ApiError> {
    match q.get(name) {
        None => default.map(i64::from).ok_or_else(|| {
            ApiError::bad_request(format!("Required parameter '{name}' is not present."))
        }),
        Some(v) => v.trim().parse::<i32>().map(i64::from).map_err(|_| {
            ApiError::bad_request(format!("Failed to convert '{name}' with value: '{v}'"))
        }),
    }
}

fn new_file(
    shared: &AppState,
    user: &AuthUser,
    group_id: i64,
    upload_id: Option<String>,
) -> String {
    // UUID v4, lowercase with hyphens, like `UUID.randomUUID().toString()`.
    let file_id = uuid::Uuid::new_v4().to_string();
    let record = FileRecord {
        file_id: file_id.clone(),
        group_id,
        uploader: user.name.clone(),
        multipart: upload_id.is_some(),
        completed: false,
        requested_at: SystemTime::now(),
    };
    shared.lock().files.insert(
        file_id.clone(),
        FileEntry {
            record,
            upload_id,
            marked_at: None,
        },
    );
    file_id
}

/// `POST /files/request-upload?groupId=&numberFiles=`.
pub(crate) async fn request_upload(
    State(shared): State<AppState>,
    user: AuthUser,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let group_id = int_param(&q, "groupId", None)?;
    let number_files = int_param(&q, "numberFiles", Some(1))?;
    check_group(&user, group_id)?;
    if number_files < 1 {
        return Err(ApiError::bad_request("Number of files must be at least 1"));
    }
    let mut out = Vec::new();
    for _ in 0..number_files {
        let file_id = new_file(&shared, &user, group_id, None);
        let url = shared.s3.presign_put(&object_key(&file_id));
        out.push(json!({"fileId": file_id, "url": url, "headers": {"If-None-Match": "*"}}));
    }
    Ok(Json(Value::Array(out)))
}

/// `POST /files/request-multipart-upload?groupId=&numberFiles=&numberParts=`.
pub(crate) async fn request_multipart_upload(
    State(shared): State<AppState>,
    user: AuthUser,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let group_id = int_param(&q, "groupId", None)?;
    let number_files = int_param(&q, "numberFiles", Some(1))?;
    let number_parts = int_param(&q, "numberParts", Some(1))?;
    check_group(&user, group_id)?;
    let mut out = Vec::new();
    // Loculus validates numberParts inside the per-file loop: numberFiles=0 returns [].
    for _ in 0..number_files.max(0) {
        if !(1..=10000).contains(&number_parts) {
            return Err(ApiError::bad_request(
                "The number of parts must between 1 and 10000.",
            ));
        }
        // The fileId is created first; the S3 upload is then created for its key.
        let file_id = uuid::Uuid::new_v4().to_string();
        let key = object_key(&file_id);
        let upload_id = shared
            .s3
            .create_multipart(&key)
            .await
            .map_err(|e| ApiError::internal(format!("Unexpected S3 error: {e}")))?;
        let record = FileRecord {
            file_id: file_id.clone(),
            group_id,
            uploader: user.name.clone(),
            multipart: true,
            completed: false,
            requested_at: SystemTime::now(),
        };
        shared.lock().files.insert(
            file_id.clone(),
            FileEntry {
                record,
                upload_id: Some(upload_id.clone()),
                marked_at: None,
            },
        );
        let urls: Vec<String> = (1..=number_parts as u16)
            .map(|n| shared.s3.presign_part(&key, &upload_id, n))
            .collect();
        out.push(json!({"fileId": file_id, "urls": urls}));
    }
    Ok(Json(Value::Array(out)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompleteItem {
    file_id: String,
    etags: Vec<String>,
}

const INVALID_PART: &str = "InvalidPart: One or more of the specified parts could not be found. The part may not have been uploaded, or the specified etag may not match the part's etag.";
const ENTITY_TOO_SMALL: &str = "EntityTooSmall: Your proposed upload is smaller than the minimum allowed object size. Each part, except the last one, must be at least 5 MB.";

fn s3_error_to_api(code: &str) -> ApiError {
    match code {
        "EntityTooSmall" => ApiError::unprocessable(ENTITY_TOO_SMALL),
        "InvalidPart" => ApiError::unprocessable(INVALID_PART),
        "InvalidPartOrder" => ApiError::unprocessable(
            "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
        ),
        "NoSuchKey" => ApiError::unprocessable(
            "NoSuchKey: The referenced file does not exist in storage. Uploaded files that are not referenced by a submission for too long are cleaned up automatically.",
        ),
        other => ApiError::internal(format!("Unexpected S3 error: {other}")),
    }
}

/// ETags compare without surrounding quotes and case, as S3 does.
fn norm_etag(e: &str) -> String {
    e.trim().trim_matches('"').to_ascii_lowercase()
}

/// `POST /files/complete-multipart-upload`, body `[{fileId, etags}]`.
pub(crate) async fn complete_multipart_upload(
    State(shared): State<AppState>,
    _user: AuthUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    // The real backend finishes a request whose client went away (a killed
    // uploader); hyper would drop this future with the connection and leave
    // S3 and the records out of step, so the work runs detached.
    tokio::spawn(complete(shared, body))
        .await
        .map_err(|e| ApiError::internal(format!("completion task failed: {e}")))?
}

async fn complete(shared: AppState, body: Bytes) -> Result<Response, ApiError> {
    let items: Vec<CompleteItem> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("JSON parse error: {e}")))?;
    let mut ids = Vec::with_capacity(items.len());
    for item in &items {
        // Jackson reads a UUID case-insensitively; Loculus prints it lowercase.
        let id = uuid::Uuid::parse_str(&item.file_id)
            .ok()
            .filter(|_| item.file_id.len() == 36)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "JSON parse error: Cannot deserialize value of type `java.util.UUID` from String \"{}\": UUID has to be represented by standard 36-char representation",
                    item.file_id
                ))
            })?;
        ids.push(id.to_string());
    }
    // Whole-array pre-check before any S3 call: unknown, single-PUT and completed files alike.
    {
        let inner = shared.lock();
        let bad: Vec<&str> = ids
            .iter()
            .filter(|id| {
                !matches!(inner.files.get(id.as_str()),
                    Some(f) if f.record.multipart && !f.record.completed)
            })
            .map(String::as_str)
            .collect();
        if !bad.is_empty() {
            return Err(ApiError::unprocessable(format!(
                "The following files have already been completed: {}",
                bad.join(", ")
            )));
        }
    }
    // Then each file in order; earlier files stay completed when a later one fails.
    for (item, id) in items.iter().zip(&ids) {
        if item.etags.is_empty() {
            return Err(ApiError::unprocessable(format!(
                "No etags provided for file ID {id}."
            )));
        }
        let upload_id = check_parts(&shared, id, &item.etags)?;
        // `--discard-bodies`: the S3 server holds empty parts (the bytes
        // were hashed and dropped), so it cannot assemble the object; the
        // checks above (ETags, sizes) are what completing verifies there.
        let completed = if shared.discard_bodies {
            Ok(())
        } else {
            shared
                .s3
                .complete_multipart(&object_key(id), &upload_id, &item.etags)
                .await
        };
        match completed {
            Ok(()) => {}
            Err(StorageError::S3 { code, .. }) => return Err(s3_error_to_api(&code)),
            Err(e) => return Err(ApiError::internal(format!("Unexpected S3 error: {e}"))),
        }
        if let Some(f) = shared.lock().files.get_mut(id) {
            f.record.completed = true;
        }
    }
    Ok(StatusCode::OK.into_response())
}

/// What s3s-fs does not check: each ETag must be what the storage host returned for that part
/// (InvalidPart), and every part but the last must be >= 5 MiB (EntityTooSmall; checked here
/// too because s3s-fs drops the upload before it finds a small part).
fn check_parts(shared: &AppState, file_id: &str, etags: &[String]) -> Result<String, ApiError> {
    let inner = shared.lock();
    let upload_id = inner
        .files
        .get(file_id)
        .and_then(|f| f.upload_id.clone())
        .ok_or_else(|| ApiError::internal("Unexpected S3 error: NoSuchUpload"))?;
    let mut sizes = Vec::with_capacity(etags.len());
    for (i, etag) in etags.iter().enumerate() {
        let part = u32::try_from(i + 1).unwrap_or(u32::MAX);
        match inner.parts.get(&(upload_id.clone(), part)) {
            Some(p) if norm_etag(&p.etag) == norm_etag(etag) => sizes.push(p.size),
            _ => return Err(ApiError::unprocessable(INVALID_PART)),
        }
    }
    if sizes[..sizes.len() - 1].iter().any(|&s| s < MIN_PART_SIZE) {
        return Err(ApiError::unprocessable(ENTITY_TOO_SMALL));
    }
    Ok(upload_id)
}
