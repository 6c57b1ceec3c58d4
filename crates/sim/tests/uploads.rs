//! The storage host (real SigV4 checks by s3s) and complete-multipart-upload.

mod common;

use std::time::Duration;

use common::*;
use ferry_sim::SimConfig;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn single_put_needs_if_none_match_and_is_write_once() {
    let sim = sim().await;
    let (id, url) = request_single(&sim, &sim.demo_token(), 1).await;
    let body = data(100_000, 1);
    // Without the signed If-None-Match header the signature does not match.
    let r = put(&url, body.clone(), false).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("SignatureDoesNotMatch"));
    let r = put(&url, body.clone(), true).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("etag"));
    // A second PUT to the same key: 412.
    let r = put(&url, data(10, 2), true).await;
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        sim.object_sha256(&id).await,
        Some((body.len() as u64, sha256_hex(&body)))
    );
    let log = sim.storage_log();
    assert_eq!(
        log.iter().map(|l| l.status).collect::<Vec<_>>(),
        [403, 200, 412]
    );
    assert_eq!(log[1].body_bytes, 100_000);
    assert!(log.iter().all(|l| l.authorization.is_none()));
    sim.shutdown().await;
}

#[tokio::test]
async fn tampered_signature_is_rejected() {
    let sim = sim().await;
    let (_, url) = request_single(&sim, &sim.demo_token(), 1).await;
    let sig_pos = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut tampered = url.clone().into_bytes();
    tampered[sig_pos] = if tampered[sig_pos] == b'0' {
        b'1'
    } else {
        b'0'
    };
    let r = put(&String::from_utf8(tampered).unwrap(), data(10, 1), true).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A URL for another key does not carry over.
    let (_, other) = request_single(&sim, &sim.demo_token(), 1).await;
    let swapped = format!(
        "{}?{}",
        url.split('?').next().unwrap(),
        other.split('?').nth(1).unwrap()
    );
    assert_eq!(
        put(&swapped, data(10, 1), true).await.status(),
        StatusCode::FORBIDDEN
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_urls_are_rejected() {
    let sim = sim_with(SimConfig {
        url_expiry: Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    let demo = sim.demo_token();
    let (_, url) = request_single(&sim, &demo, 1).await;
    let (_, urls) = request_multipart(&sim, &demo, 1, 1).await;
    assert!(url.contains("X-Amz-Expires=1&"));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for r in [
        put(&url, data(10, 1), true).await,
        put(&urls[0], data(10, 1), false).await,
    ] {
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let t = r.text().await.unwrap();
        assert!(
            t.contains("AccessDenied") && t.contains("Request has expired"),
            "{t}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn bearer_token_on_storage_is_rejected_and_logged() {
    let sim = sim().await;
    let (_, url) = request_single(&sim, &sim.demo_token(), 1).await;
    let r = client()
        .put(&url)
        .header("If-None-Match", "*")
        .bearer_auth("leaked-token")
        .body(data(10, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("<Code>InvalidArgument</Code>")
    );
    let log = sim.storage_log();
    assert_eq!(log[0].authorization.as_deref(), Some("Bearer leaked-token"));
    assert_eq!(log[0].status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn multipart_happy_path_12_mib_in_3_parts() {
    let sim = sim().await;
    let demo = sim.demo_token();
    let whole = data(12 * MIB, 7);
    let parts = vec![
        whole[..5 * MIB].to_vec(),
        whole[5 * MIB..10 * MIB].to_vec(),
        whole[10 * MIB..].to_vec(),
    ];
    let (id, urls) = request_multipart(&sim, &demo, 1, 3).await;
    let etags = put_parts(&urls, &parts).await;
    for (e, p) in etags.iter().zip(&parts) {
        assert_eq!(
            e,
            &format!("\"{}\"", hex::encode(<md5::Md5 as md5::Digest>::digest(p)))
        );
    }
    assert!(!sim.file(&id).unwrap().completed);
    // Completion is open to any authenticated user (no ownership check).
    let r = complete(
        &sim,
        &sim.token_for("other"),
        json!([{"fileId": id, "etags": etags}]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap().is_empty());
    assert!(sim.file(&id).unwrap().completed);
    assert_eq!(
        sim.object_sha256(&id).await,
        Some((whole.len() as u64, sha256_hex(&whole)))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn entity_too_small() {
    let sim = sim().await;
    let demo = sim.demo_token();
    let parts = vec![data(MIB, 1), data(MIB, 2)];
    let (id, urls) = request_multipart(&sim, &demo, 1, 2).await;
    let etags = put_parts(&urls, &parts).await;
    problem(
        complete(&sim, &demo, json!([{"fileId": id, "etags": etags}])).await,
        422,
        "EntityTooSmall",
    )
    .await;
    // A single small part is fine (only non-last parts must be >= 5 MiB).
    let id2 = upload_multipart(&sim, &demo, 1, &[data(10, 3)]).await;
    assert_eq!(sim.object_sha256(&id2).await.unwrap().0, 10);
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_or_missing_etags_are_invalid_parts() {
    let sim = sim().await;
    let demo = sim.demo_token();
    let parts = vec![data(5 * MIB, 1), data(1000, 2)];
    let (id, urls) = request_multipart(&sim, &demo, 1, 3).await;
    let etags = put_parts(&urls, &parts).await;
    let wrong = vec![
        etags[0].clone(),
        "\"00000000000000000000000000000000\"".to_owned(),
    ];
    problem(
        complete(&sim, &demo, json!([{"fileId": id, "etags": wrong}])).await,
        422,
        "InvalidPart: One or more",
    )
    .await;
    // Part 3 was never uploaded.
    let too_many = vec![etags[0].clone(), etags[1].clone(), etags[1].clone()];
    problem(
        complete(&sim, &demo, json!([{"fileId": id, "etags": too_many}])).await,
        422,
        "InvalidPart",
    )
    .await;
    // Swapped order.
    let swapped = vec![etags[1].clone(), etags[0].clone()];
    problem(
        complete(&sim, &demo, json!([{"fileId": id, "etags": swapped}])).await,
        422,
        "InvalidPart",
    )
    .await;
    problem(
        complete(&sim, &demo, json!([{"fileId": id, "etags": []}])).await,
        422,
        &format!("No etags provided for file ID {id}."),
    )
    .await;
    // Failed attempts leave the upload usable; unquoted ETags are accepted like on S3.
    let unquoted: Vec<String> = etags
        .iter()
        .map(|e| e.trim_matches('"').to_owned())
        .collect();
    assert_eq!(
        complete(&sim, &demo, json!([{"fileId": id, "etags": unquoted}]))
            .await
            .status(),
        StatusCode::OK
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn part_overwrite_uses_the_last_etag() {
    let sim = sim().await;
    let demo = sim.demo_token();
    let (id, urls) = request_multipart(&sim, &demo, 1, 1).await;
    let old = put_parts(&urls, &[data(100, 1)]).await;
    let new = put_parts(&urls, &[data(200, 2)]).await;
    problem(
        complete(&sim, &demo, json!([{"fileId": id, "etags": old}])).await,
        422,
        "InvalidPart",
    )
    .await;
    assert_eq!(
        complete(&sim, &demo, json!([{"fileId": id, "etags": new}]))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        sim.object_sha256(&id).await,
        Some((200, sha256_hex(&data(200, 2))))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn completed_unknown_and_single_put_ids_fail_the_whole_array() {
    let sim = sim().await;
    let demo = sim.demo_token();
    let done = upload_multipart(&sim, &demo, 1, &[data(10, 1)]).await;
    // Completing twice.
    let d = problem(
        complete(&sim, &demo, json!([{"fileId": done, "etags": ["x"]}])).await,
        422,
        "The following files have already been completed: ",
    )
    .await;
    assert!(d.ends_with(&done));
    // A pending file next to an unknown and a single-PUT id: nothing is completed.
    let (pending, urls) = request_multipart(&sim, &demo, 1, 1).await;
    let etags = put_parts(&urls, &[data(10, 2)]).await;
    let (single, _) = request_single(&sim, &demo, 1).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let d = problem(
        complete(&sim, &demo, json!([{"fileId": pending, "etags": etags}, {"fileId": unknown, "etags": ["x"]}, {"fileId": single, "etags": ["x"]}])).await,
        422,
        "already been completed",
    )
    .await;
    assert!(
        d.contains(&unknown) && d.contains(&single) && !d.contains(&pending),
        "{d}"
    );
    assert!(!sim.file(&pending).unwrap().completed);
    // Earlier files stay completed when a later one fails.
    let (p2, urls2) = request_multipart(&sim, &demo, 1, 1).await;
    put_parts(&urls2, &[data(10, 3)]).await;
    problem(
        complete(
            &sim,
            &demo,
            json!([{"fileId": pending, "etags": etags}, {"fileId": p2, "etags": ["\"bad\""]}]),
        )
        .await,
        422,
        "InvalidPart",
    )
    .await;
    assert!(sim.file(&pending).unwrap().completed);
    assert!(!sim.file(&p2).unwrap().completed);
    // Malformed body: 400.
    problem(
        complete(
            &sim,
            &demo,
            json!([{"fileId": "not-a-uuid", "etags": ["x"]}]),
        )
        .await,
        400,
        "UUID",
    )
    .await;
    sim.shutdown().await;
}
