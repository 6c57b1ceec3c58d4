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

/// Sets `fault` at rate 1 on `target` through `POST /_sim/faults`.
async fn always(sim: &ferry_sim::Sim, target: &str, fault: Value) {
    let r = client()
        .post(format!("{}/_sim/faults", sim.backend_url()))
        .json(&json!({"target": target, "fault": fault, "rate": 1.0, "seed": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

async fn clear(sim: &ferry_sim::Sim) {
    let r = client()
        .delete(format!("{}/_sim/faults", sim.backend_url()))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// A `Retry-After` HTTP date in the future.
fn is_future_date(r: &reqwest::Response) -> bool {
    let v = r.headers()["retry-after"].to_str().unwrap();
    httpdate::parse_http_date(v).is_ok_and(|t| t > std::time::SystemTime::now())
}

/// Every fault kind, switched on by a rate through the control endpoint, on
/// the storage host: each answers as S3 would, and clearing stops it.
#[tokio::test]
async fn every_fault_kind_by_rate_on_the_storage_host() {
    let sim = sim().await;
    let (id, urls) = request_multipart(&sim, &sim.demo_token(), 1, 1).await;
    let body = data(1000, 3);
    let md5 = format!(
        "\"{}\"",
        hex::encode(<md5::Md5 as md5::Digest>::digest(&body))
    );

    always(&sim, "storage", json!({"kind": "status", "status": 503})).await;
    let r = put(&urls[0], body.clone(), false).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text().await.unwrap().contains("<Code>SlowDown</Code>"));
    clear(&sim).await;

    always(
        &sim,
        "storage",
        json!({"kind": "too_many_requests", "retry_after_secs": 4}),
    )
    .await;
    let r = put(&urls[0], body.clone(), false).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "4");
    clear(&sim).await;

    always(
        &sim,
        "storage",
        json!({"kind": "too_many_requests_until", "retry_after_secs": 30}),
    )
    .await;
    let r = put(&urls[0], body.clone(), false).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(is_future_date(&r), "{:?}", r.headers()["retry-after"]);
    clear(&sim).await;

    always(&sim, "storage", json!({"kind": "reset"})).await;
    assert!(
        client()
            .put(&urls[0])
            .body(body.clone())
            .send()
            .await
            .is_err()
    );
    clear(&sim).await;

    always(&sim, "storage", json!({"kind": "stall", "millis": 50})).await;
    assert_eq!(
        put(&urls[0], body.clone(), false).await.status(),
        StatusCode::OK
    );
    clear(&sim).await;

    always(&sim, "storage", json!({"kind": "truncate"})).await;
    let r = put(&urls[0], body.clone(), false).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.is_err());
    clear(&sim).await;

    always(&sim, "storage", json!({"kind": "expire_url"})).await;
    let r = put(&urls[0], body.clone(), false).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("Request has expired"));
    clear(&sim).await;

    // Not an expired URL: S3's answer when the signing credentials died.
    always(&sim, "storage", json!({"kind": "expire_token"})).await;
    let r = put(&urls[0], body.clone(), false).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("<Code>ExpiredToken</Code>")
    );
    clear(&sim).await;

    // A lying storage: the part is stored, its ETag is not the bytes' MD5.
    always(&sim, "storage", json!({"kind": "corrupt_etag"})).await;
    let r = put(&urls[0], body.clone(), false).await;
    assert_eq!(r.status(), StatusCode::OK);
    let lie = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(lie, md5);
    assert_eq!(lie.len(), md5.len(), "still looks like an MD5");
    clear(&sim).await;

    always(&sim, "storage", json!({"kind": "empty_etag"})).await;
    let r = put(&urls[0], body.clone(), false).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["etag"], "");
    clear(&sim).await;

    // Normal again; the storage kept the real ETag, so completing with the
    // lie fails and with the MD5 succeeds.
    let r = put(&urls[0], body.clone(), false).await;
    assert_eq!(r.headers()["etag"].to_str().unwrap(), md5);
    let tok = sim.demo_token();
    let r = complete(&sim, &tok, json!([{"fileId": id, "etags": [lie]}])).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = complete(&sim, &tok, json!([{"fileId": id, "etags": [md5]}])).await;
    assert_eq!(r.status(), StatusCode::OK);

    let counts: Value = client()
        .get(format!("{}/_sim/faults", sim.backend_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts["injected"], 10, "{counts}");
    for kind in [
        "status",
        "too_many_requests",
        "too_many_requests_until",
        "reset",
        "stall",
        "truncate",
        "expire_url",
        "expire_token",
        "corrupt_etag",
        "empty_etag",
    ] {
        assert_eq!(
            counts["counts"][format!("storage:{kind}")],
            1,
            "{kind}: {counts}"
        );
        assert_eq!(
            sim.faults()
                .injected_count(ferry_sim::FaultTarget::Storage, kind),
            1
        );
    }
    sim.shutdown().await;
}

/// Every fault kind by rate on the API host (the Loculus backend).
#[tokio::test]
async fn every_fault_kind_by_rate_on_the_api_host() {
    let sim = sim().await;
    let demo = sim.demo_token();
    let path = "/files/request-upload?groupId=1";

    always(&sim, "api", json!({"kind": "status", "status": 502})).await;
    problem(post(&sim, &demo, path).await, 502, "Injected").await;
    clear(&sim).await;

    always(
        &sim,
        "api",
        json!({"kind": "too_many_requests", "retry_after_secs": 2}),
    )
    .await;
    let r = post(&sim, &demo, path).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "2");
    clear(&sim).await;

    always(
        &sim,
        "api",
        json!({"kind": "too_many_requests_until", "retry_after_secs": 30}),
    )
    .await;
    let r = post(&sim, &demo, path).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(is_future_date(&r));
    clear(&sim).await;

    always(&sim, "api", json!({"kind": "reset"})).await;
    let sent = client()
        .post(format!("{}{path}", sim.backend_url()))
        .bearer_auth(&demo)
        .send()
        .await;
    assert!(sent.is_err());
    clear(&sim).await;

    always(&sim, "api", json!({"kind": "stall", "millis": 50})).await;
    assert_eq!(post(&sim, &demo, path).await.status(), StatusCode::OK);
    clear(&sim).await;

    always(&sim, "api", json!({"kind": "truncate"})).await;
    let r = post(&sim, &demo, path).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.is_err());
    clear(&sim).await;

    for kind in ["expire_url", "expire_token"] {
        always(&sim, "api", json!({"kind": kind})).await;
        let r = post(&sim, &demo, path).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{kind}");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
        clear(&sim).await;
    }

    // The API sends no ETags: the ETag faults leave it alone.
    for kind in ["corrupt_etag", "empty_etag"] {
        always(&sim, "api", json!({"kind": kind})).await;
        assert_eq!(
            post(&sim, &demo, path).await.status(),
            StatusCode::OK,
            "{kind}"
        );
        clear(&sim).await;
    }
    // An API rate never touches the storage host.
    let (_, urls) = request_multipart(&sim, &demo, 1, 1).await;
    always(&sim, "api", json!({"kind": "status", "status": 500})).await;
    assert_eq!(
        put(&urls[0], data(10, 1), false).await.status(),
        StatusCode::OK
    );
    clear(&sim).await;

    let f = sim.faults();
    assert_eq!(
        f.injected_count(ferry_sim::FaultTarget::Api, "expire_token"),
        1
    );
    assert_eq!(f.injected_count(ferry_sim::FaultTarget::Api, "status"), 1);
    assert_eq!(
        f.injected_count(ferry_sim::FaultTarget::Storage, "status"),
        0
    );
    assert_eq!(f.injected(), 10);
    sim.shutdown().await;
}

/// A partial rate faults some requests and not others, and the same seed
/// gives the same faults for the same requests (so a failure replays).
#[tokio::test]
async fn api_and_storage_rates_replay_with_their_seed() {
    async fn pattern(seed: u64) -> (Vec<u16>, Vec<u16>) {
        let sim = sim().await;
        let demo = sim.demo_token();
        let (_, urls) = request_multipart(&sim, &demo, 1, 1).await;
        sim.faults().api_rate(Fault::Status(503), 0.4, seed);
        sim.faults().storage_rate(Fault::ExpireToken, 0.4, seed + 1);
        let mut api = Vec::new();
        let mut storage = Vec::new();
        for _ in 0..24 {
            api.push(
                post(&sim, &demo, "/files/request-upload?groupId=1")
                    .await
                    .status()
                    .as_u16(),
            );
            storage.push(put(&urls[0], data(10, 1), false).await.status().as_u16());
        }
        sim.shutdown().await;
        (api, storage)
    }
    let (api, storage) = pattern(21).await;
    assert!(api.contains(&503) && api.contains(&200), "{api:?}");
    assert!(
        storage.contains(&400) && storage.contains(&200),
        "{storage:?}"
    );
    assert_eq!(pattern(21).await, (api.clone(), storage.clone()));
    assert_ne!(pattern(22).await.0, api);
}

/// The BaseSpace host: an API rate hits its API, a storage rate its parts,
/// and a lying part answer keeps the real part.
#[tokio::test]
async fn basespace_parts_take_storage_faults() {
    let sim = sim().await;
    let f = sim.faults();
    let c = client();
    let token = sim.basespace_token();
    let base = format!("{}/v1pre3", sim.basespace_url());
    f.api_rate(Fault::Status(503), 1.0, 1);
    let r = c
        .post(format!(
            "{base}/appresults/{}/files?name=a.fastq.gz&multipart=true",
            ferry_sim::basespace::APPRESULT
        ))
        .header("x-access-token", &token)
        .header("content-type", "application/octet-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    f.clear();
    let r = c
        .post(format!(
            "{base}/appresults/{}/files?name=a.fastq.gz&multipart=true",
            ferry_sim::basespace::APPRESULT
        ))
        .header("x-access-token", &token)
        .header("content-type", "application/octet-stream")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    let id = v["Response"]["Id"].as_str().unwrap().to_owned();
    let part = data(1000, 9);
    let md5 = hex::encode(<md5::Md5 as md5::Digest>::digest(&part));
    f.storage_rate(Fault::CorruptEtag, 1.0, 2);
    let r = c
        .put(format!("{base}/files/{id}/parts/1"))
        .header("x-access-token", &token)
        .body(part.clone())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let v: Value = r.json().await.unwrap();
    let lie = v["Response"]["ETag"].as_str().unwrap();
    assert_ne!(lie, md5);
    assert_eq!(lie.len(), md5.len());
    assert_eq!(
        sim.basespace_file(&id).unwrap().parts[&1].0,
        md5,
        "the real part is kept"
    );
    assert_eq!(
        f.injected_count(ferry_sim::FaultTarget::Storage, "corrupt_etag"),
        1
    );
    assert_eq!(f.injected_count(ferry_sim::FaultTarget::Api, "status"), 1);
    sim.shutdown().await;
}
