//! Browser-style S3 POST uploads (One Codex's storage), checked here:
//! s3s 0.14.1 checks POST policies, but its form parser fails on files
//! whose bytes contain `\r` at chunk edges, so the sim parses the form
//! with multer (axum) and applies the policy itself as S3 does:
//! signature, expiry, every condition, every field covered, then stores
//! the object through the real S3 server.

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use base64::Engine as _;
use bytes::Bytes;
use hyper::body::Incoming;
use serde_json::Value;

use crate::model::StorageRequest;
use crate::s3::s3_error;
use crate::state::AppState;

pub(crate) fn is_post_object(req: &Request<Incoming>, bucket: &str) -> bool {
    req.method() == "POST"
        && req.uri().path().trim_end_matches('/') == format!("/{bucket}")
        && req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"))
}

/// Fields S3 does not require the policy to name: "Each form field that
/// you specify in a form (except x-amz-signature, file, policy, and field
/// names that have an x-ignore- prefix) must appear in the list of
/// conditions" (S3 API reference, POST Policy). Server-side encryption
/// fields are not exempt.
fn exempt(name: &str) -> bool {
    matches!(name, "x-amz-signature" | "file" | "policy") || name.starts_with("x-ignore-")
}

/// The object key S3 stores: `${filename}` in the key field is replaced
/// with the name of the uploaded file (the `file` part's `filename`).
fn object_key(key: &str, file_name: &str) -> String {
    key.replace("${filename}", file_name)
}

pub(crate) async fn handle(
    state: &AppState,
    req: Request<Incoming>,
    entry: &mut StorageRequest,
) -> Response<Body> {
    let path = entry.path.clone();
    let denied = |msg: &str| s3_error(StatusCode::FORBIDDEN, "AccessDenied", msg, &path);
    let bad = |msg: &str| s3_error(StatusCode::BAD_REQUEST, "MalformedPOSTRequest", msg, &path);
    let boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok());
    let Some(boundary) = boundary else {
        return bad("no multipart boundary");
    };
    let stream = Body::new(req.into_body()).into_data_stream();
    let mut form = multer::Multipart::new(stream, boundary);
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut file: Option<(Vec<Bytes>, u64)> = None;
    let mut file_name = String::new();
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return bad(&e.to_string()),
        };
        let name = field.name().unwrap_or("").to_ascii_lowercase();
        if file.is_some() {
            // S3 ignores fields after the file; a client that relies on
            // them would fail there, so fail here.
            return bad(&format!("field {name:?} comes after the file"));
        }
        if name == "file" {
            file_name = field.file_name().unwrap_or("").to_owned();
            // Policy first: nothing is read for a request that cannot pass.
            let max = match check_policy(state, &fields) {
                Ok(max) => max,
                Err(m) => return denied(&m),
            };
            let (mut chunks, mut n) = (Vec::new(), 0u64);
            loop {
                match field.chunk().await {
                    Ok(Some(c)) => {
                        n += c.len() as u64;
                        entry.body_bytes = n;
                        if n > max.1 {
                            return denied(
                                "Invalid according to Policy: Policy Condition failed: content-length-range (too large)",
                            );
                        }
                        chunks.push(c);
                    }
                    Ok(None) => break,
                    Err(e) => return bad(&e.to_string()),
                }
            }
            if n < max.0 {
                return denied(
                    "Invalid according to Policy: Policy Condition failed: content-length-range (too small)",
                );
            }
            file = Some((chunks, n));
        } else {
            match field.text().await {
                Ok(v) => fields.push((name, v)),
                Err(e) => return bad(&e.to_string()),
            }
        }
    }
    let Some((chunks, _)) = file else {
        return bad("the form has no file field");
    };
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    // Conditions are matched against the key as the form gave it.
    let key = object_key(&get("key").unwrap_or_default(), &file_name);
    if state.s3.put(&key, chunks).await.is_err() {
        return s3_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "storing failed",
            &path,
        );
    }
    let bucket = state.s3.bucket();
    match get("success_action_status").as_deref() {
        Some("201") => {
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>/{bucket}/{key}</Location><Bucket>{bucket}</Bucket><Key>{key}</Key></PostResponse>"
            );
            let mut r = Response::new(Body::from(xml));
            *r.status_mut() = StatusCode::CREATED;
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            r
        }
        _ => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
    }
}

/// Checks the policy against the fields; the content-length range to
/// enforce on the file.
fn check_policy(state: &AppState, fields: &[(String, String)]) -> Result<(u64, u64), String> {
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let policy_b64 = get("policy").ok_or("the form has no policy")?;
    let signature = get("x-amz-signature").ok_or("the form has no x-amz-signature")?;
    let credential = get("x-amz-credential").ok_or("the form has no x-amz-credential")?;
    let mut cred = credential.split('/');
    let (access, day) = (cred.next().unwrap_or(""), cred.next().unwrap_or(""));
    if access != state.s3.access_key() {
        return Err("The AWS Access Key Id you provided does not exist in our records.".into());
    }
    if state.s3.sign_policy(day, policy_b64) != signature {
        return Err(
            "The request signature we calculated does not match the signature you provided.".into(),
        );
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(policy_b64)
        .map_err(|_| "Invalid Policy: not base64")?;
    let policy: Value = serde_json::from_slice(&raw).map_err(|_| "Invalid Policy: not JSON")?;
    let expiration = policy["expiration"].as_str().unwrap_or("");
    // The same format the sim writes sorts by time as text.
    if expiration.is_empty() || expiration <= crate::dates::iso8601(now()).as_str() {
        return Err("Invalid according to Policy: Policy expired. Request has expired".into());
    }
    let conditions = policy["conditions"]
        .as_array()
        .ok_or("Invalid Policy: no conditions")?;
    let value_of = |k: &str| -> Option<String> {
        if k == "bucket" {
            return Some(state.s3.bucket().to_owned());
        }
        get(k).map(str::to_owned)
    };
    let mut covered: Vec<String> = Vec::new();
    let mut range = (0, u64::MAX);
    for c in conditions {
        let failed = || format!("Invalid according to Policy: Policy Condition failed: {c}");
        match c {
            Value::Object(o) => {
                for (k, v) in o {
                    let k = k.to_ascii_lowercase();
                    if value_of(&k).as_deref() != v.as_str() {
                        return Err(failed());
                    }
                    covered.push(k);
                }
            }
            Value::Array(a) => match a.first().and_then(Value::as_str) {
                Some("content-length-range") => {
                    range = (
                        a.get(1).and_then(Value::as_u64).unwrap_or(0),
                        a.get(2).and_then(Value::as_u64).unwrap_or(u64::MAX),
                    );
                }
                Some(op @ ("eq" | "starts-with")) => {
                    let k = a
                        .get(1)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .trim_start_matches('$')
                        .to_ascii_lowercase();
                    let want = a.get(2).and_then(Value::as_str).unwrap_or("");
                    let have = value_of(&k).unwrap_or_default();
                    let ok = if op == "eq" {
                        have == want
                    } else {
                        have.starts_with(want)
                    };
                    if !ok {
                        return Err(failed());
                    }
                    covered.push(k);
                }
                _ => return Err(failed()),
            },
            _ => return Err(failed()),
        }
    }
    if let Some((n, _)) = fields
        .iter()
        .find(|(n, _)| !exempt(n) && !covered.contains(n))
    {
        return Err(format!(
            "Invalid according to Policy: Extra input fields: {n}"
        ));
    }
    Ok(range)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_documented_fields_are_exempt() {
        for f in ["x-amz-signature", "file", "policy", "x-ignore-anything"] {
            assert!(exempt(f), "{f}");
        }
        for f in ["x-amz-server-side-encryption", "submit", "key", "acl"] {
            assert!(!exempt(f), "{f}");
        }
    }

    #[test]
    fn filename_in_the_key_is_the_uploaded_name() {
        assert_eq!(object_key("oc/1/${filename}", "a_R1.fq"), "oc/1/a_R1.fq");
        assert_eq!(object_key("oc/1/fixed.fq", "a_R1.fq"), "oc/1/fixed.fq");
    }
}
