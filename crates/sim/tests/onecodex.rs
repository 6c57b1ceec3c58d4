//! The One Codex simulator's rules, through real HTTP: Basic auth, the
//! filename rule, size, the POST policy (signature, expiry, key prefix,
//! length range), confirm only after the objects exist.

mod common;

use std::time::Duration;

use common::*;
use ferry_sim::SimConfig;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

async fn init(sim: &ferry_sim::Sim, key: &str, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}/api/v1/samples/init_upload", sim.onecodex_url()))
        .basic_auth(key, Some(""))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn confirm(sim: &ferry_sim::Sim, id: &str) -> reqwest::Response {
    client()
        .post(format!(
            "{}/api/v1/samples/confirm_upload",
            sim.onecodex_url()
        ))
        .basic_auth(sim.onecodex_api_key(), Some(""))
        .json(&json!({ "sample_id": id }))
        .send()
        .await
        .unwrap()
}

/// The form fields of `additional_fields` (object or JSON string).
fn fields(v: &Value) -> Vec<(String, String)> {
    let obj = match v {
        Value::String(s) => serde_json::from_str::<Value>(s).unwrap(),
        o => o.clone(),
    };
    obj.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

async fn send(
    url: &str,
    fields: &[(String, String)],
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, String) {
    let mut form = Form::new();
    for (k, v) in fields {
        form = form.text(k.clone(), v.clone());
    }
    form = form.part("file", Part::bytes(bytes).file_name(name.to_string()));
    let r = client().post(url).multipart(form).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn message(r: reqwest::Response) -> (StatusCode, String) {
    let s = r.status();
    let v: Value = r.json().await.unwrap_or_default();
    (s, v["message"].as_str().unwrap_or("").to_string())
}

#[tokio::test]
async fn basic_auth_with_the_api_key_is_required() {
    let sim = sim().await;
    let body = json!({"filename": "a.fastq", "size": 3});
    assert_eq!(init(&sim, "wrong", body.clone()).await.status(), 401);
    let no_auth = client()
        .post(format!("{}/api/v1/samples/init_upload", sim.onecodex_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(no_auth.status(), 401);
    assert_eq!(
        init(&sim, &sim.onecodex_api_key(), body).await.status(),
        200
    );
}

#[tokio::test]
async fn filename_and_size_are_checked_with_a_message() {
    let sim = sim().await;
    let key = sim.onecodex_api_key();
    for (name, why) in [
        ("bad name.fastq", "only letters"),
        ("reads.bam", "FASTA or FASTQ"),
        ("x.fastq.zip", "FASTA or FASTQ"),
    ] {
        let (s, m) = message(init(&sim, &key, json!({"filename": name, "size": 3})).await).await;
        assert_eq!(s, 400, "{name}");
        assert!(m.contains(why), "{name}: {m}");
    }
    let (s, m) = message(init(&sim, &key, json!({"filename": "a.fq.gz", "size": 0})).await).await;
    assert_eq!(s, 400);
    assert!(m.contains("at least 1"), "{m}");
    let (s, _) = message(
        init(
            &sim,
            &key,
            json!({"filename": "a.fq", "size": 3, "sample_id": "nope"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 400);
    assert!(sim.onecodex_samples().is_empty());
}

#[tokio::test]
async fn a_stored_file_is_confirmed_once_with_its_exact_bytes() {
    let sim = sim().await;
    let a: Value = init(
        &sim,
        &sim.onecodex_api_key(),
        json!({"filename": "s_R1.fastq", "size": 5000}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = a["sample_id"].as_str().unwrap();
    // Not yet stored: confirm refuses.
    let (s, m) = message(confirm(&sim, id).await).await;
    assert_eq!(s, 400);
    assert!(m.contains("confirm only after"), "{m}");
    let bytes = data(5000, 3);
    let (s, body) = send(
        a["upload_url"].as_str().unwrap(),
        &fields(&a["additional_fields"]),
        "s_R1.fastq",
        bytes.clone(),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(confirm(&sim, id).await.status(), 200);
    let (s, m) = message(confirm(&sim, id).await).await;
    assert_eq!((s.as_u16(), m.contains("already confirmed")), (400, true));
    let sample = &sim.onecodex_samples()[0];
    assert!(sample.confirmed);
    let (size, sha) = sim.object_sha256_at(&sample.keys[0]).await.unwrap();
    assert_eq!((size, sha), (5000, sha256_hex(&bytes)));
}

#[tokio::test]
async fn stored_size_must_equal_the_announced_size() {
    let sim = sim().await;
    let a: Value = init(
        &sim,
        &sim.onecodex_api_key(),
        json!({"filename": "a.fq", "size": 10}),
    )
    .await
    .json()
    .await
    .unwrap();
    let (s, _) = send(
        a["upload_url"].as_str().unwrap(),
        &fields(&a["additional_fields"]),
        "a.fq",
        data(11, 1),
    )
    .await;
    assert_eq!(s, 201);
    let (s, m) = message(confirm(&sim, a["sample_id"].as_str().unwrap()).await).await;
    assert_eq!(s, 400);
    assert!(m.contains("11 bytes"), "{m}");
}

#[tokio::test]
async fn a_pair_needs_both_objects_and_its_fields_come_as_a_string() {
    let sim = sim().await;
    let a: Value = init(
        &sim,
        &sim.onecodex_api_key(),
        json!({"filename": "p_R1.fq", "size": 100, "paired_end_filename": "p_R2.fq"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(a["paired_end_additional_fields"].is_string());
    let id = a["sample_id"].as_str().unwrap();
    let url = a["upload_url"].as_str().unwrap();
    assert_eq!(
        send(
            url,
            &fields(&a["additional_fields"]),
            "p_R1.fq",
            data(100, 1)
        )
        .await
        .0,
        201
    );
    let (s, m) = message(confirm(&sim, id).await).await;
    assert_eq!(s, 400);
    assert!(m.contains("p_R2.fq"), "{m}");
    let url2 = a["paired_end_upload_url"].as_str().unwrap();
    assert_eq!(
        send(
            url2,
            &fields(&a["paired_end_additional_fields"]),
            "p_R2.fq",
            data(70, 2)
        )
        .await
        .0,
        201
    );
    assert_eq!(confirm(&sim, id).await.status(), 200);
}

#[tokio::test]
async fn the_post_policy_is_enforced() {
    let sim = sim().await;
    let a: Value = init(
        &sim,
        &sim.onecodex_api_key(),
        json!({"filename": "a.fq", "size": 10}),
    )
    .await
    .json()
    .await
    .unwrap();
    let url = a["upload_url"].as_str().unwrap();
    let good = fields(&a["additional_fields"]);
    let with = |k: &str, v: &str| -> Vec<(String, String)> {
        good.iter()
            .map(|(n, x)| (n.clone(), if n == k { v.to_string() } else { x.clone() }))
            .collect()
    };
    // Tampered signature, a key outside the prefix, a field the policy
    // does not name, an empty file (content-length-range starts at 1).
    let sig = good
        .iter()
        .find(|(k, _)| k == "x-amz-signature")
        .unwrap()
        .1
        .clone();
    let flipped = format!(
        "{}{}",
        if sig.starts_with('0') { "1" } else { "0" },
        &sig[1..]
    );
    assert_eq!(
        send(url, &with("x-amz-signature", &flipped), "a.fq", data(10, 1))
            .await
            .0,
        403
    );
    assert_eq!(
        send(url, &with("key", "elsewhere/a.fq"), "a.fq", data(10, 1))
            .await
            .0,
        403
    );
    let mut extra = good.clone();
    extra.push(("x-amz-meta-note".into(), "hi".into()));
    assert_eq!(send(url, &extra, "a.fq", data(10, 1)).await.0, 403);
    assert_eq!(send(url, &good, "a.fq", vec![]).await.0, 403);
    // A credential on the storage host is refused outright.
    let mut form = Form::new();
    for (k, v) in &good {
        form = form.text(k.clone(), v.clone());
    }
    form = form.part("file", Part::bytes(data(10, 1)).file_name("a.fq"));
    let r = client()
        .post(url)
        .basic_auth(sim.onecodex_api_key(), Some(""))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Nothing was stored by any of them.
    let key = &sim.onecodex_samples()[0].keys[0];
    assert!(sim.object_sha256_at(key).await.is_none());
    assert_eq!(send(url, &good, "a.fq", data(10, 1)).await.0, 201);
}

#[tokio::test]
async fn an_expired_policy_is_refused() {
    let sim = sim_with(SimConfig {
        url_expiry: Duration::from_secs(1),
        ..SimConfig::default()
    })
    .await;
    let a: Value = init(
        &sim,
        &sim.onecodex_api_key(),
        json!({"filename": "a.fq", "size": 10}),
    )
    .await
    .json()
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (s, body) = send(
        a["upload_url"].as_str().unwrap(),
        &fields(&a["additional_fields"]),
        "a.fq",
        data(10, 1),
    )
    .await;
    assert_eq!(s, 403);
    assert!(body.contains("expired"), "{body}");
}

#[tokio::test]
async fn the_key_takes_the_uploaded_file_name_and_encryption_is_in_the_policy() {
    let sim = sim().await;
    let a: Value = init(
        &sim,
        &sim.onecodex_api_key(),
        json!({"filename": "a.fq", "size": 10}),
    )
    .await
    .json()
    .await
    .unwrap();
    let url = a["upload_url"].as_str().unwrap();
    let good = fields(&a["additional_fields"]);
    let key = &good.iter().find(|(k, _)| k == "key").unwrap().1;
    assert!(key.ends_with("/${filename}"), "{key}");
    let id = a["sample_id"].as_str().unwrap();
    // The policy covers the encryption field like any other: another value
    // (or none) is refused.
    let kms: Vec<(String, String)> = good
        .iter()
        .map(|(k, v)| {
            let v = if k == "x-amz-server-side-encryption" {
                "aws:kms".to_string()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    assert_eq!(send(url, &kms, "a.fq", data(10, 1)).await.0, 403);
    let without: Vec<(String, String)> = good
        .iter()
        .filter(|(k, _)| k != "x-amz-server-side-encryption")
        .cloned()
        .collect();
    assert_eq!(send(url, &without, "a.fq", data(10, 1)).await.0, 403);
    // Sent under another name, the object lands under that name, so the
    // sample's file is not there to confirm.
    assert_eq!(send(url, &good, "b.fq", data(10, 1)).await.0, 201);
    let prefix = key.trim_end_matches("${filename}");
    assert!(
        sim.object_sha256_at(&format!("{prefix}b.fq"))
            .await
            .is_some()
    );
    assert_eq!(confirm(&sim, id).await.status(), 400);
    assert_eq!(send(url, &good, "a.fq", data(10, 1)).await.0, 201);
    let (size, sha) = sim
        .object_sha256_at(&sim.onecodex_samples()[0].keys[0])
        .await
        .unwrap();
    assert_eq!(size, 10);
    assert_eq!(sha, sha256_hex(&data(10, 1)));
    assert_eq!(confirm(&sim, id).await.status(), 200);
}

#[tokio::test]
async fn a_revoked_key_is_refused_and_the_new_one_works() {
    let sim = sim().await;
    let old = sim.onecodex_api_key();
    sim.revoke_onecodex_key();
    assert_ne!(old, sim.onecodex_api_key());
    let body = json!({"filename": "a.fastq", "size": 3});
    assert_eq!(init(&sim, &old, body.clone()).await.status(), 401);
    assert_eq!(
        init(&sim, &sim.onecodex_api_key(), body).await.status(),
        200
    );
}
