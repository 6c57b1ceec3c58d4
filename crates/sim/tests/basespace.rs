//! The BaseSpace simulator's rules, through real HTTP: token, AppResult
//! access, part numbers and sizes, Content-MD5, completion.

mod common;

use base64::Engine as _;
use common::*;
use ferry_sim::basespace::{APPRESULT, READ_ONLY_APPRESULT};
use md5::Digest;
use reqwest::StatusCode;
use serde_json::Value;

const MB: usize = 1_000_000;

async fn create(sim: &ferry_sim::Sim, token: &str, appresult: &str) -> reqwest::Response {
    client()
        .post(format!(
            "{}/v1pre3/appresults/{appresult}/files?name=r.fastq.gz&multipart=true",
            sim.basespace_url()
        ))
        .header("x-access-token", token)
        .header("content-type", "application/gzip")
        .send()
        .await
        .unwrap()
}

async fn new_file(sim: &ferry_sim::Sim) -> String {
    let v: Value = create(sim, &sim.basespace_token(), APPRESULT)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["Response"]["UploadStatus"], "pending");
    v["Response"]["Id"].as_str().unwrap().to_string()
}

async fn put(
    sim: &ferry_sim::Sim,
    id: &str,
    n: &str,
    bytes: &[u8],
    md5: Option<[u8; 16]>,
) -> (StatusCode, Value) {
    let md5 = md5.unwrap_or_else(|| md5::Md5::digest(bytes).into());
    let r = client()
        .put(format!(
            "{}/v1pre3/files/{id}/parts/{n}",
            sim.basespace_url()
        ))
        .header("x-access-token", sim.basespace_token())
        .header(
            "content-md5",
            base64::engine::general_purpose::STANDARD.encode(md5),
        )
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or_default())
}

async fn complete(sim: &ferry_sim::Sim, id: &str) -> (StatusCode, Value) {
    let r = client()
        .post(format!(
            "{}/v1pre3/files/{id}?uploadstatus=complete",
            sim.basespace_url()
        ))
        .header("x-access-token", sim.basespace_token())
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or_default())
}

fn msg(v: &Value) -> String {
    v["ResponseStatus"]["Message"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn the_token_and_write_access_are_checked() {
    let sim = sim().await;
    assert_eq!(create(&sim, "wrong", APPRESULT).await.status(), 401);
    assert_eq!(
        create(&sim, &sim.basespace_token(), READ_ONLY_APPRESULT)
            .await
            .status(),
        403
    );
    assert_eq!(
        create(&sim, &sim.basespace_token(), "777").await.status(),
        404
    );
    let id = new_file(&sim).await;
    let r = client()
        .put(format!("{}/v1pre3/files/{id}/parts/1", sim.basespace_url()))
        .header("x-access-token", "wrong")
        .body(vec![1u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn parts_are_checked_and_joined_in_order() {
    let sim = sim().await;
    let id = new_file(&sim).await;
    let p1 = data(5 * MB, 1);
    let p2 = data(3 * MB, 2);
    for n in ["0", "10001", "x"] {
        let (s, v) = put(&sim, &id, n, &p2, None).await;
        assert_eq!(s, 400, "{n}");
        assert!(msg(&v).contains("1 to 10000"), "{v}");
    }
    let (s, v) = put(&sim, &id, "1", &p1, Some([0; 16])).await;
    assert_eq!(s, 400);
    assert!(msg(&v).contains("Content-MD5"), "{v}");
    let (s, v) = put(&sim, &id, "1", &data(25 * MB + 1, 3), None).await;
    assert_eq!(s, 400);
    assert!(msg(&v).contains("25 MB"), "{v}");
    // Part 2 before part 1; then completion with part 1 missing.
    let (s, v) = put(&sim, &id, "2", &p2, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["Response"]["ETag"], hex::encode(md5::Md5::digest(&p2)));
    assert_eq!(v["Response"]["Size"], p2.len());
    let (s, v) = complete(&sim, &id).await;
    assert_eq!(s, 400);
    assert!(msg(&v).contains("Part 1 is missing"), "{v}");
    let (s, _) = put(&sim, &id, "1", &p1, None).await;
    assert_eq!(s, 200);
    let (s, v) = complete(&sim, &id).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["Response"]["UploadStatus"], "complete");
    assert_eq!(v["Response"]["Size"], p1.len() + p2.len());
    let (s, v) = complete(&sim, &id).await;
    assert_eq!(s, 400);
    assert!(msg(&v).contains("already complete"), "{v}");
    let f = sim.basespace_file(&id).unwrap();
    let (size, sha) = sim.object_sha256_at(&f.key).await.unwrap();
    assert_eq!(size as usize, p1.len() + p2.len());
    assert_eq!(sha, sha256_hex(&[p1, p2].concat()));
}

#[tokio::test]
async fn a_short_part_may_only_be_the_last() {
    let sim = sim().await;
    let id = new_file(&sim).await;
    assert_eq!(put(&sim, &id, "1", &data(MB, 1), None).await.0, 200);
    assert_eq!(put(&sim, &id, "2", &data(MB, 2), None).await.0, 200);
    let (s, v) = complete(&sim, &id).await;
    assert_eq!(s, 400);
    assert!(msg(&v).contains("at least 5 MB"), "{v}");
    assert_eq!(sim.basespace_file(&id).unwrap().status, "pending");
}

#[tokio::test]
async fn no_credential_is_taken_on_the_storage_host() {
    let sim = sim().await;
    let url = format!("{}/loculus-files/anything", sim.s3_url());
    let with_token = client()
        .put(&url)
        .header("x-access-token", sim.basespace_token())
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), 400);
    let with_basic = client()
        .put(&url)
        .basic_auth(sim.onecodex_api_key(), Some(""))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(with_basic.status(), 400);
    assert!(
        sim.storage_log()
            .iter()
            .all(|r| r.status == 400 && r.body_bytes == 0)
    );
}

#[tokio::test]
async fn five_mb_is_the_smallest_part_but_the_last() {
    let sim = sim().await;
    // 5 MB is 5,000,000 bytes: one byte less is refused before the last part.
    let short = new_file(&sim).await;
    assert_eq!(
        put(&sim, &short, "1", &data(5 * MB - 1, 1), None).await.0,
        200
    );
    assert_eq!(put(&sim, &short, "2", &data(1, 2), None).await.0, 200);
    let (s, v) = complete(&sim, &short).await;
    assert_eq!(s, 400);
    assert!(msg(&v).contains("Part 1 has 4999999 bytes"), "{v}");
    let exact = new_file(&sim).await;
    let (p1, p2) = (data(5 * MB, 3), data(1, 4));
    assert_eq!(put(&sim, &exact, "1", &p1, None).await.0, 200);
    assert_eq!(put(&sim, &exact, "2", &p2, None).await.0, 200);
    let (s, v) = complete(&sim, &exact).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["Response"]["Size"], 5 * MB + 1);
    let f = sim.basespace_file(&exact).unwrap();
    let (_, sha) = sim.object_sha256_at(&f.key).await.unwrap();
    assert_eq!(sha, sha256_hex(&[p1, p2].concat()));
}

#[tokio::test]
async fn parts_are_in_the_storage_log_and_content_md5_is_recorded() {
    let sim = sim().await;
    let id = new_file(&sim).await;
    // Content-MD5 is optional by the contract: a part without it is taken,
    // and the sim records which parts carried a matching one.
    let bare = data(MB, 1);
    let r = client()
        .put(format!("{}/v1pre3/files/{id}/parts/1", sim.basespace_url()))
        .header("x-access-token", sim.basespace_token())
        .body(bare.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(sim.basespace_file(&id).unwrap().md5_checked.is_empty());
    assert_eq!(put(&sim, &id, "1", &bare, None).await.0, 200);
    assert_eq!(
        sim.basespace_file(&id).unwrap().md5_checked,
        [1].into_iter().collect()
    );
    let log = sim.storage_log();
    assert_eq!(log.len(), 2, "{log:?}");
    for r in &log {
        assert_eq!(r.method, "PUT");
        assert_eq!(r.path, format!("/v1pre3/files/{id}/parts/1"));
        assert_eq!((r.status, r.body_bytes), (200, MB as u64));
        assert!(r.authorization.is_none());
    }
    // Creating and completing are API calls, not storage.
    assert_eq!(complete(&sim, &id).await.0, 201);
    assert_eq!(sim.storage_log().len(), 2);
}

#[tokio::test]
async fn a_revoked_token_is_refused_and_the_new_one_works() {
    let sim = sim().await;
    let id = new_file(&sim).await;
    let old = sim.basespace_token();
    sim.revoke_basespace_token();
    assert_ne!(old, sim.basespace_token());
    assert_eq!(create(&sim, &old, APPRESULT).await.status(), 401);
    // The pending file is the token holder's: the new token goes on with it.
    assert_eq!(put(&sim, &id, "1", &data(10, 1), None).await.0, 200);
    assert_eq!(complete(&sim, &id).await.0, 201);
}
