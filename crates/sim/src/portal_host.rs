//! Serving the One Codex and BaseSpace API hosts: request log and fault
//! injection around an axum router (the same faults as the Loculus hosts).
//! Storage requests on these hosts (BaseSpace parts) also go to the
//! storage log, so checks on what storage received cover every portal.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::json;
use tower::ServiceExt;

use crate::faults::Fault;
use crate::model::{ApiRequest, StorageRequest};
use crate::server::{BoxError, reset_error, truncate};
use crate::state::AppState;

type Handled = std::pin::Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

/// Which fault queue a request draws from: BaseSpace parts are its storage.
pub(crate) fn handle(
    state: AppState,
    router: Router,
    storage: fn(&str, &str) -> bool,
) -> impl Fn(Request<Incoming>) -> Handled + Clone + Send + Sync + 'static {
    move |req| {
        let (state, router) = (state.clone(), router.clone());
        Box::pin(async move {
            if !crate::lockdown::loopback_host(&req) {
                return Ok(crate::api::misdirected());
            }
            let method = req.method().to_string();
            let path = req.uri().path().to_owned();
            let is_storage = !path.starts_with("/_sim") && storage(&method, &path);
            let fault = if path.starts_with("/_sim") {
                None
            } else if is_storage {
                state.faults.take_storage()
            } else {
                state.faults.take_api()
            };
            let stored = is_storage.then(|| StorageRequest {
                method: method.clone(),
                path: path.clone(),
                query: req.uri().query().unwrap_or("").to_owned(),
                status: 0,
                body_bytes: 0,
                authorization: req
                    .headers()
                    .get(header::AUTHORIZATION)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
                fault: fault.as_ref().map(Fault::label),
                started_ms: crate::model::now_ms(),
                ended_ms: 0,
            });
            // Bytes of the body the handler read.
            let received = Arc::new(AtomicU64::new(0));
            let req = counted(req, received.clone());
            let started_ms = crate::model::now_ms();
            let log = |status: u16| {
                let mut inner = state.lock();
                inner.portal_log.push(ApiRequest {
                    method: method.clone(),
                    path: path.clone(),
                    query: String::new(),
                    status,
                    started_ms,
                    ended_ms: crate::model::now_ms(),
                });
                if let Some(mut r) = stored.clone() {
                    r.status = status;
                    r.ended_ms = crate::model::now_ms();
                    r.body_bytes = received.load(Ordering::Relaxed);
                    inner.storage_log.push(r);
                }
            };
            let mut truncate_after = false;
            let resp = match fault {
                Some(Fault::Reset) => {
                    log(0);
                    return Err(reset_error());
                }
                Some(Fault::Status(code)) => error(
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    "Injected fault (ferry-sim)",
                ),
                Some(Fault::TooManyRequests { retry_after_secs }) => {
                    let mut r = error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                    r
                }
                Some(Fault::TooManyRequestsUntil { retry_after_secs }) => {
                    let mut r = error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
                    r.headers_mut().insert(
                        header::RETRY_AFTER,
                        crate::faults::retry_after_date(retry_after_secs),
                    );
                    r
                }
                // Both APIs (and BaseSpace's parts) carry a token, not a presigned URL.
                Some(Fault::ExpireToken | Fault::ExpireUrl) => {
                    error(StatusCode::UNAUTHORIZED, "The token has expired")
                }
                Some(Fault::CorruptEtag) => rewrite_etag(route(router, req).await, false).await,
                Some(Fault::EmptyEtag) => rewrite_etag(route(router, req).await, true).await,
                Some(Fault::Stall(d)) => {
                    tokio::time::sleep(d).await;
                    route(router, req).await
                }
                Some(Fault::Truncate) => {
                    truncate_after = true;
                    route(router, req).await
                }
                None => route(router, req).await,
            };
            log(resp.status().as_u16());
            Ok(if truncate_after {
                truncate(resp).await
            } else {
                resp
            })
        })
    }
}

/// The request with a body that adds what is read of it to `n`.
fn counted(req: Request<Incoming>, n: Arc<AtomicU64>) -> Request<Body> {
    use futures::StreamExt;
    req.map(|b| {
        Body::from_stream(Body::new(b).into_data_stream().map(move |c| {
            if let Ok(c) = &c {
                n.fetch_add(c.len() as u64, Ordering::Relaxed);
            }
            c
        }))
    })
}

/// A BaseSpace part answer (`{"Response": {"ETag": ...}}`) that took effect but lies about
/// its ETag, or leaves it empty; other answers pass unchanged.
async fn rewrite_etag(resp: Response<Body>, empty: bool) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let mut v: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => return Response::from_parts(parts, Body::from(bytes)),
    };
    if let Some(etag) = v.pointer_mut("/Response/ETag") {
        let real = etag.as_str().unwrap_or_default().to_owned();
        *etag = if empty {
            json!("")
        } else {
            json!(crate::faults::lying_etag(&real).trim_matches('"'))
        };
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(v.to_string()))
}

async fn route(router: Router, req: Request<Body>) -> Response<Body> {
    match router.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// A JSON error both portals' clients can read (`message`, and BaseSpace's
/// `ResponseStatus.Message`).
pub(crate) fn error(status: StatusCode, msg: &str) -> Response<Body> {
    let body = json!({
        "message": msg,
        "ResponseStatus": {"ErrorCode": status.as_u16().to_string(), "Message": msg},
    });
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
