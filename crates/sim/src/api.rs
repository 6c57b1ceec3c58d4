//! The backend host: routes plus a wrapper that logs API requests, injects API faults and
//! renders ProblemDetails with the request path.

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::routing::{get, post};
use hyper::body::Incoming;
use tower::ServiceExt;

use crate::faults::Fault;
use crate::model::ApiRequest;
use crate::problem::{ApiError, Problem, render};
use crate::server::{BoxError, reset_error, truncate};
use crate::state::AppState;
use crate::{auth, control, device, entries, files, info, submit};

/// The backend's routes; `control`: with the `/_sim/*` test controls.
pub(crate) fn router(state: AppState, control: bool) -> Router {
    let r = Router::new()
        .route("/", get(info::backend_root))
        .route(
            "/loculus-info",
            get(info::loculus_info).options(info::loculus_info_options),
        )
        .route(
            "/realms/loculus/protocol/openid-connect/token",
            post(auth::token),
        )
        .route(
            "/realms/loculus/.well-known/openid-configuration",
            get(auth::openid_configuration),
        )
        .route(
            "/realms/loculus/protocol/openid-connect/auth/device",
            post(device::authorize),
        )
        .route("/realms/loculus/device", post(device::approve))
        .route("/user/groups", get(auth::user_groups))
        .route("/files/request-upload", post(files::request_upload))
        .route(
            "/files/request-multipart-upload",
            post(files::request_multipart_upload),
        )
        .route(
            "/files/complete-multipart-upload",
            post(files::complete_multipart_upload),
        )
        .route("/{organism}/submit", post(submit::submit))
        .route("/{organism}/get-sequences", get(entries::get_sequences))
        .route(
            "/{organism}/get-data-to-edit/{accession}/{version}",
            get(submit::get_data_to_edit),
        )
        // Spring allows 5000 MB for the submit parts; axum's default is 2 MB.
        .layer(DefaultBodyLimit::max(1 << 30));
    let r = if control { controls(r) } else { r };
    r.with_state(state)
}

fn controls(r: Router<AppState>) -> Router<AppState> {
    r.route(
        "/_sim/faults",
        post(control::set_fault)
            .get(control::fault_counts)
            .delete(control::clear_faults),
    )
    .route("/_sim/revoke", post(control::revoke))
    .route("/_sim/released-entries", post(control::released_entries))
    .route("/_sim/api-log", get(control::api_log))
    .route("/_sim/state", get(control::state))
    .route("/_sim/gc", post(control::gc))
    .route("/_sim/object/{file_id}", get(control::object))
    .route("/_sim/portals", get(control::portals))
    .route("/_sim/stored", get(control::stored))
}

/// API faults apply to the upload and submit endpoints only.
fn faultable(path: &str) -> bool {
    if path.starts_with("/files/") {
        return true;
    }
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    segs.len() == 2 && segs[1] == "submit"
}

pub(crate) async fn handle(
    state: AppState,
    router: Router,
    req: Request<Incoming>,
) -> Result<Response<Body>, BoxError> {
    if !crate::lockdown::loopback_host(&req) {
        return Ok(misdirected());
    }
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let fault = if faultable(&path) {
        state.faults.take_api()
    } else {
        None
    };
    let started_ms = crate::model::now_ms();
    let log = |status: u16| {
        if !path.starts_with("/_sim/") {
            state.lock().api_log.push(ApiRequest {
                method: method.clone(),
                path: path.clone(),
                query: query.clone(),
                status,
                started_ms,
                ended_ms: crate::model::now_ms(),
            });
        }
    };
    let mut truncate_after = false;
    let resp = match fault {
        Some(Fault::Reset) => {
            log(0);
            return Err(reset_error());
        }
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            render(&ApiError::new(status, "Injected fault (ferry-sim)"), &path)
        }
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let err = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
            let mut r = render(&err, &path);
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            r
        }
        Some(Fault::TooManyRequestsUntil { retry_after_secs }) => {
            let err = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
            let mut r = render(&err, &path);
            r.headers_mut().insert(
                header::RETRY_AFTER,
                crate::faults::retry_after_date(retry_after_secs),
            );
            r
        }
        Some(Fault::ExpireToken | Fault::ExpireUrl) => auth::invalid_token("Jwt expired"),
        // The API sends no ETags: these are storage faults.
        Some(Fault::CorruptEtag | Fault::EmptyEtag) => route(router, req, &path).await,
        Some(Fault::Stall(d)) => {
            tokio::time::sleep(d).await;
            route(router, req, &path).await
        }
        Some(Fault::Truncate) => {
            truncate_after = true;
            route(router, req, &path).await
        }
        None => route(router, req, &path).await,
    };
    log(resp.status().as_u16());
    Ok(if truncate_after {
        truncate(resp).await
    } else {
        resp
    })
}

/// 421 for a request naming another host than loopback.
pub(crate) fn misdirected() -> Response<Body> {
    let mut r = Response::new(Body::from(
        "this server answers only to 127.0.0.1 / localhost",
    ));
    *r.status_mut() = StatusCode::MISDIRECTED_REQUEST;
    r
}

async fn route(router: Router, req: Request<Incoming>, path: &str) -> Response<Body> {
    let resp = match router.oneshot(req.map(Body::new)).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    match resp.extensions().get::<Problem>() {
        Some(Problem(err)) => render(err, path),
        None => resp,
    }
}
