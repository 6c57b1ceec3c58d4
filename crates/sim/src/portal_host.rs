//! Serving the One Codex and BaseSpace API hosts: request log and fault
//! injection around an axum router (the same faults as the Loculus hosts).

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::json;
use tower::ServiceExt;

use crate::faults::Fault;
use crate::model::ApiRequest;
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
            let method = req.method().to_string();
            let path = req.uri().path().to_owned();
            let fault = if path.starts_with("/_sim") {
                None
            } else if storage(&method, &path) {
                state.faults.take_storage()
            } else {
                state.faults.take_api()
            };
            let log = |status: u16| {
                state.lock().portal_log.push(ApiRequest {
                    method: method.clone(),
                    path: path.clone(),
                    status,
                })
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
                Some(Fault::ExpireToken | Fault::ExpireUrl) => {
                    error(StatusCode::UNAUTHORIZED, "The token has expired")
                }
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

async fn route(router: Router, req: Request<Incoming>) -> Response<Body> {
    match router.oneshot(req.map(Body::new)).await {
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
