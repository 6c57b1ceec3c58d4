//! Fault injection (library handle and `/_sim` HTTP control) and the `ferry-sim` binary.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use ferry_sim::Fault;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn storage_status_429_and_expire_faults() {
    let sim = sim().await;
    let (id, urls) = request_multipart(&sim, &sim.demo_token(), 1, 1).await;
    let f = sim.faults();
    f.storage_next(Fault::Status(503), 1);
    f.storage_next(
        Fault::TooManyRequests {
            retry_after_secs: 3,
        },
        1,
    );
    f.storage_next(Fault::ExpireUrl, 1);
    let r = put(&urls[0], data(100, 1), false).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text().await.unwrap().contains("<Code>SlowDown</Code>"));
    let r = put(&urls[0], data(100, 1), false).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "3");
    let r = put(&urls[0], data(100, 1), false).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("Request has expired"));
    // Then normal again.
    let etags = put_parts(&urls, &[data(100, 1)]).await;
    assert_eq!(f.injected(), 3);
    let log = sim.storage_log();
    assert_eq!(
        log.iter().map(|l| l.fault.is_some()).collect::<Vec<_>>(),
        [true, true, true, false]
    );
    assert_eq!(log[0].fault.as_deref(), Some("status:503"));
    assert_eq!(
        complete(
            &sim,
            &sim.demo_token(),
            json!([{"fileId": id, "etags": etags}])
        )
        .await
        .status(),
        StatusCode::OK
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn storage_reset_stall_and_truncate() {
    let sim = sim().await;
    let (id, urls) = request_multipart(&sim, &sim.demo_token(), 1, 1).await;
    let f = sim.faults();
    f.storage_next(Fault::Reset, 1);
    let err = client()
        .put(&urls[0])
        .body(data(100, 1))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    assert_eq!(sim.storage_log()[0].status, 0);

    f.storage_next(Fault::Stall(Duration::from_millis(400)), 1);
    let t = Instant::now();
    assert_eq!(
        put(&urls[0], data(100, 1), false).await.status(),
        StatusCode::OK
    );
    assert!(t.elapsed() >= Duration::from_millis(400));

    // Truncate: the part is stored, but the response body breaks off.
    f.storage_next(Fault::Truncate, 1);
    let r = put(&urls[0], data(100, 2), false).await;
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(r.bytes().await.is_err());
    let r = complete(
        &sim,
        &sim.demo_token(),
        json!([{"fileId": id, "etags": [etag]}]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        sim.object_sha256(&id).await.unwrap().1,
        sha256_hex(&data(100, 2))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn storage_rate_is_seeded_and_clear_stops_it() {
    let sim = sim().await;
    let (_, urls) = request_multipart(&sim, &sim.demo_token(), 1, 1).await;
    let f = sim.faults();
    f.storage_rate(Fault::Status(500), 1.0, 7);
    for _ in 0..3 {
        assert_eq!(
            put(&urls[0], data(10, 1), false).await.status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
    f.clear();
    assert_eq!(
        put(&urls[0], data(10, 1), false).await.status(),
        StatusCode::OK
    );
    // A partial rate faults some but not all requests.
    f.storage_rate(Fault::Status(500), 0.5, 1);
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(put(&urls[0], data(10, 1), false).await.status().as_u16());
    }
    assert!(
        statuses.contains(&500) && statuses.contains(&200),
        "{statuses:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn api_faults() {
    let sim = sim().await;
    let demo = sim.demo_token();
    let f = sim.faults();
    f.api_next(Fault::ExpireToken, 1);
    let r = post(&sim, &demo, "/files/request-upload?groupId=1").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    f.api_next(Fault::Status(500), 1);
    problem(
        post(&sim, &demo, "/files/request-upload?groupId=1").await,
        500,
        "Injected",
    )
    .await;
    f.api_next(Fault::Reset, 1);
    assert!(
        client()
            .post(format!(
                "{}/files/request-upload?groupId=1",
                sim.backend_url()
            ))
            .bearer_auth(&demo)
            .send()
            .await
            .is_err()
    );
    f.api_next(Fault::Truncate, 1);
    let r = post(&sim, &demo, "/files/request-upload?groupId=1").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.is_err());
    // Endpoints outside /files and /submit are not faulted.
    f.api_next(Fault::Status(503), 1);
    let r = client()
        .get(format!("{}/user/groups", sim.backend_url()))
        .bearer_auth(&demo)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = Submit::new("dummy-organism-with-files", "id\tx\ns1\t1\n")
        .send(&sim, &demo)
        .await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let statuses: Vec<u16> = sim.api_log().iter().map(|a| a.status).collect();
    assert_eq!(statuses, [401, 500, 0, 200, 200, 503]);
    sim.shutdown().await;
}

#[tokio::test]
async fn http_control_endpoints() {
    let sim = sim().await;
    let c = client();
    let base = sim.backend_url();
    let r = c
        .post(format!("{base}/_sim/faults"))
        .json(&json!({"target": "storage", "fault": {"kind": "status", "status": 503}, "count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .post(format!("{base}/_sim/faults"))
        .json(&json!({"target": "storage", "fault": {"kind": "reset"}, "rate": 0.0, "seed": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .post(format!("{base}/_sim/faults"))
        .json(&json!({"target": "api", "fault": {"kind": "stall", "millis": 10}, "count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .post(format!("{base}/_sim/faults"))
        .json(&json!({"target": "nowhere", "fault": {"kind": "reset"}, "count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // The API stall delays request-upload; the storage 503 hits the first PUT.
    let (id, url) = request_single(&sim, &sim.demo_token(), 1).await;
    assert_eq!(
        put(&url, data(10, 2), true).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(put(&url, data(10, 2), true).await.status(), StatusCode::OK);
    let state: Value = c
        .get(format!("{base}/_sim/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let faults: Vec<&Value> = state["storage_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| !l["fault"].is_null())
        .collect();
    assert_eq!(faults.len(), 1);
    assert!(
        state["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["file_id"] == id.as_str())
    );
    assert!(
        state["api_log"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| !a["path"].as_str().unwrap().starts_with("/_sim"))
    );
    assert!(state["submissions"].as_array().unwrap().is_empty());

    let r = c
        .delete(format!("{base}/_sim/faults"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    sim.shutdown().await;
}

#[test]
fn binary_prints_one_json_line_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry-sim"))
        .args(["--url-expiry-secs", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    for k in [
        "backend",
        "s3",
        "token",
        "access_key",
        "secret_key",
        "bucket",
        "region",
    ] {
        assert!(v[k].is_string(), "{k} missing in {line}");
    }
    let backend = v["backend"].as_str().unwrap().to_owned();
    let token = v["token"].as_str().unwrap().to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        client()
            .get(format!("{backend}/user/groups"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status()
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, StatusCode::OK);
}
