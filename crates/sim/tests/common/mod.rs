//! Helpers shared by the integration tests: a real HTTP client against a fresh Sim.
#![allow(dead_code)]

use std::time::Duration;

use ferry_sim::{Sim, SimConfig};
use reqwest::multipart::{Form, Part};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use sha2::Digest;

pub const MIB: usize = 1024 * 1024;

pub async fn sim() -> Sim {
    Sim::start(SimConfig::default()).await.expect("sim starts")
}

pub async fn sim_with(cfg: SimConfig) -> Sim {
    Sim::start(cfg).await.expect("sim starts")
}

pub fn client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Deterministic pseudo-random bytes.
pub fn data(len: usize, seed: u8) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9 ^ u32::from(seed);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

pub async fn post(sim: &Sim, token: &str, path_and_query: &str) -> Response {
    client()
        .post(format!("{}{path_and_query}", sim.backend_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

pub async fn json(resp: Response) -> Value {
    resp.json().await.unwrap()
}

/// Asserts a ProblemDetail with `status` whose detail contains `needle`; returns the detail.
pub async fn problem(resp: Response, status: u16, needle: &str) -> String {
    assert_eq!(resp.status().as_u16(), status, "status");
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(ct, "application/problem+json");
    let path = resp.url().path().to_owned();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "about:blank");
    assert_eq!(v["status"], status);
    assert_eq!(v["instance"], path.as_str());
    assert!(v["title"].is_string());
    let detail = v["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains(needle),
        "detail {detail:?} lacks {needle:?}"
    );
    detail
}

/// `request-upload` for one file of `group` as `token`: (fileId, url).
pub async fn request_single(sim: &Sim, token: &str, group: i64) -> (String, String) {
    let resp = post(
        sim,
        token,
        &format!("/files/request-upload?groupId={group}&numberFiles=1"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v = json(resp).await;
    (
        v[0]["fileId"].as_str().unwrap().to_owned(),
        v[0]["url"].as_str().unwrap().to_owned(),
    )
}

/// PUT to a presigned URL, with `If-None-Match: *` when `conditional`.
pub async fn put(url: &str, body: Vec<u8>, conditional: bool) -> Response {
    let mut req = client().put(url).body(body);
    if conditional {
        req = req.header("If-None-Match", "*");
    }
    req.send().await.unwrap()
}

/// Requests and PUTs a single-PUT file; returns its fileId.
pub async fn upload_single(sim: &Sim, token: &str, group: i64, body: Vec<u8>) -> String {
    let (id, url) = request_single(sim, token, group).await;
    let resp = put(&url, body, true).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap()
    );
    id
}

/// `request-multipart-upload` for one file: (fileId, urls).
pub async fn request_multipart(
    sim: &Sim,
    token: &str,
    group: i64,
    parts: usize,
) -> (String, Vec<String>) {
    let resp = post(
        sim,
        token,
        &format!(
            "/files/request-multipart-upload?groupId={group}&numberFiles=1&numberParts={parts}"
        ),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v = json(resp).await;
    let urls = v[0]["urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    (v[0]["fileId"].as_str().unwrap().to_owned(), urls)
}

/// PUTs each part to its URL; returns the ETags as sent by the storage host.
pub async fn put_parts(urls: &[String], parts: &[Vec<u8>]) -> Vec<String> {
    let mut etags = Vec::new();
    for (url, part) in urls.iter().zip(parts) {
        let resp = put(url, part.clone(), false).await;
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "{}",
            resp.text().await.unwrap()
        );
        etags.push(resp.headers()["etag"].to_str().unwrap().to_owned());
    }
    etags
}

pub async fn complete(sim: &Sim, token: &str, body: Value) -> Response {
    client()
        .post(format!(
            "{}/files/complete-multipart-upload",
            sim.backend_url()
        ))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Full multipart upload of `parts` as demo in group 1; returns the fileId.
pub async fn upload_multipart(sim: &Sim, token: &str, group: i64, parts: &[Vec<u8>]) -> String {
    let (id, urls) = request_multipart(sim, token, group, parts.len()).await;
    let etags = put_parts(&urls, parts).await;
    let resp = complete(
        sim,
        token,
        serde_json::json!([{"fileId": id, "etags": etags}]),
    )
    .await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap()
    );
    id
}

/// A submit request; `sequence` is (file name, content).
pub struct Submit<'a> {
    pub organism: &'a str,
    pub group: &'a str,
    pub tsv: String,
    pub sequence: Option<(&'a str, String)>,
    pub extra: Vec<(&'a str, String)>,
    pub metadata_name: &'a str,
    pub terms: Option<&'a str>,
}

impl<'a> Submit<'a> {
    pub fn new(organism: &'a str, tsv: impl Into<String>) -> Self {
        Self {
            organism,
            group: "1",
            tsv: tsv.into(),
            sequence: None,
            extra: Vec::new(),
            metadata_name: "metadata.tsv",
            terms: Some("OPEN"),
        }
    }

    pub async fn send(self, sim: &Sim, token: &str) -> Response {
        let mut form = Form::new()
            .part(
                "metadataFile",
                Part::text(self.tsv).file_name(self.metadata_name.to_owned()),
            )
            .text("groupId", self.group.to_owned());
        if let Some(t) = self.terms {
            form = form.text("dataUseTermsType", t.to_owned());
        }
        if let Some((name, fasta)) = self.sequence {
            form = form.part("sequenceFile", Part::text(fasta).file_name(name.to_owned()));
        }
        for (k, v) in self.extra {
            form = form.text(k.to_owned(), v);
        }
        client()
            .post(format!("{}/{}/submit", sim.backend_url(), self.organism))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }
}
