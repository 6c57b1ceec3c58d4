//! A portal that answers 200 with a body that is not its API's JSON (a
//! login page of a proxy, a changed API): the request is made once, not
//! retried as if the network had failed, and the error names the portal,
//! the path it asked and why it is not tried again.

mod common;
mod hostile;

use std::sync::Arc;

use common::*;
use ferry_engine::loculus::Loculus;
use ferry_engine::onecodex::OneCodex;
use ferry_engine::{Engine, EngineConfig, ErrorClass, EventSink, Portal, Secret, StaticToken};
use hostile::{Hostile, Reply};

/// An engine that retries at once, so a retried answer shows as a second
/// request.
fn engine() -> Engine {
    Engine::new(
        EngineConfig {
            retry: fast_retry(),
            ..EngineConfig::default()
        },
        EventSink::none(),
    )
    .unwrap()
}

/// A page where the API's JSON should be.
fn not_json() -> Reply {
    Reply::Full(
        200,
        vec![("Content-Type".into(), "text/html".into())],
        b"<html><body>Sign in to the proxy</body></html>".to_vec(),
    )
}

/// Uploads one small file; the error it ended with.
async fn upload_error(engine: &Engine, portal: Arc<dyn Portal>) -> ferry_engine::Error {
    let d = tempfile::tempdir().unwrap();
    let p = make_file(d.path(), "reads.fq", 1000, 7);
    let items = ferry_engine::scan::scan(&[p], portal.as_ref()).unwrap();
    engine
        .upload(portal, items)
        .await
        .remove(0)
        .expect_err("a page instead of the API's answer cannot start an upload")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loculus_answering_a_page_is_asked_once_and_named() {
    let server = Hostile::start(|_| not_json()).await;
    let engine = engine();
    let token = Arc::new(StaticToken::new("t"));
    let portal = Arc::new(Loculus::new(engine.http().clone(), &server.url, 1, token).unwrap());
    let e = upload_error(&engine, portal).await;

    let asked = server.requests();
    assert_eq!(asked.len(), 1, "asked once, not retried: {asked:?}");
    assert_eq!(e.class(), ErrorClass::Undecodable, "{e}");
    let msg = e.to_string();
    for want in [
        "Loculus",
        "/files/request-upload",
        "Not tried again",
        "Sign in to the proxy",
    ] {
        assert!(msg.contains(want), "{want:?} missing from: {msg}");
    }
    assert!(!msg.contains("groupId"), "the query stays out: {msg}");
    assert!(!e.is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_codex_answering_a_page_is_asked_once_and_named() {
    let server = Hostile::start(|_| not_json()).await;
    let engine = engine();
    let portal = Arc::new(
        OneCodex::new(
            engine.http().clone(),
            &format!("{}/api/v1", server.url),
            Secret::new("key"),
            vec![],
        )
        .unwrap(),
    );
    let e = upload_error(&engine, portal).await;

    let asked = server.requests();
    assert_eq!(asked.len(), 1, "asked once, not retried: {asked:?}");
    assert_eq!(e.class(), ErrorClass::Undecodable, "{e}");
    let msg = e.to_string();
    for want in ["One Codex", "/api/v1/", "Not tried again"] {
        assert!(msg.contains(want), "{want:?} missing from: {msg}");
    }
}
