//! What only One Codex or only BaseSpace has: paired-end samples confirmed
//! once, AppResult write access, the 10,000 x 25 MB limit.

mod common;

use std::sync::Arc;

use common::*;
use ferry_engine::basespace::BaseSpace;
use ferry_engine::onecodex::{OneCodex, Pair};
use ferry_engine::{Engine, EngineConfig, ErrorClass, EventSink, Portal, Secret, StaticToken};
use ferry_sim::{Sim, SimConfig};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_is_one_sample_confirmed_once_after_both_files() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let r1 = make_file(dir.path(), "s1_R1.fastq.gz", 7 * 1024 * 1024 + 3, 1);
    let r2 = make_file(dir.path(), "s1_R2.fastq.gz", 6 * 1024 * 1024 + 1, 2);
    let solo = make_file(dir.path(), "other.fa", 999, 3);
    let engine = engine();
    let portal = Arc::new(
        OneCodex::new(
            engine.http().clone(),
            &format!("{}/api/v1", sim.onecodex_url()),
            Secret::new(sim.onecodex_api_key()),
            vec![Pair {
                r1: "s1_R1.fastq.gz".into(),
                r1_size: std::fs::metadata(&r1).unwrap().len(),
                r2: "s1_R2.fastq.gz".into(),
            }],
        )
        .unwrap(),
    );
    let paths = [r2.clone(), r1.clone(), solo.clone()];
    let items = ferry_engine::scan::scan(&paths, portal.as_ref()).unwrap();
    let out = engine.upload(portal as Arc<dyn Portal>, items).await;
    let done: Vec<_> = out.into_iter().map(|o| o.unwrap()).collect();
    assert_eq!(
        done[0].remote_id, done[1].remote_id,
        "one sample for the pair"
    );
    assert_ne!(done[0].remote_id, done[2].remote_id);
    let samples = sim.onecodex_samples();
    assert_eq!(samples.len(), 2);
    let pair = samples
        .iter()
        .find(|s| s.sample_id == done[0].remote_id)
        .unwrap();
    assert!(pair.confirmed);
    assert_eq!(pair.filename, "s1_R1.fastq.gz");
    assert_eq!(pair.paired_end_filename.as_deref(), Some("s1_R2.fastq.gz"));
    for (key, path) in pair.keys.iter().zip([&r1, &r2]) {
        let (_, sha) = sim.object_sha256_at(key).await.unwrap();
        assert_eq!(sha, sha256_file(path));
    }
    let confirms = sim
        .portal_log()
        .iter()
        .filter(|r| r.path.ends_with("confirm_upload"))
        .count();
    assert_eq!(confirms, 2, "once per sample");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appresult_without_write_access_is_a_sign_in_error() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = make_file(dir.path(), "r.fastq", 100, 1);
    let engine = engine();
    let portal: Arc<dyn Portal> = Arc::new(
        BaseSpace::new(
            engine.http().clone(),
            &format!("{}/v1pre3", sim.basespace_url()),
            ferry_sim::basespace::READ_ONLY_APPRESULT,
            Arc::new(StaticToken::new(sim.basespace_token())),
        )
        .unwrap(),
    );
    let items = ferry_engine::scan::scan(&[p], portal.as_ref()).unwrap();
    let e = engine.upload(portal, items).await.remove(0).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Auth, "{e}");
    assert!(e.to_string().contains("AppResult"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_beyond_ten_thousand_parts_of_25_mb_fails_before_any_request() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Sparse: the size is what matters, nothing is read.
    let p = dir.path().join("huge.fastq");
    std::fs::File::create(&p)
        .unwrap()
        .set_len(250_000_000_001)
        .unwrap();
    let engine = engine();
    let portal: Arc<dyn Portal> = Arc::new(
        BaseSpace::new(
            engine.http().clone(),
            &format!("{}/v1pre3", sim.basespace_url()),
            ferry_sim::basespace::APPRESULT,
            Arc::new(StaticToken::new(sim.basespace_token())),
        )
        .unwrap(),
    );
    let items = ferry_engine::scan::scan(&[p], portal.as_ref()).unwrap();
    let e = engine.upload(portal, items).await.remove(0).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("huge.fastq") && msg.contains("10000 parts"),
        "{msg}"
    );
    assert!(sim.portal_log().is_empty(), "{:?}", sim.portal_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_basespace_part_carries_a_matching_content_md5() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = make_file(dir.path(), "r.fastq.gz", 21 * 1024 * 1024 + 5, 4);
    let engine = engine();
    let portal: Arc<dyn Portal> = Arc::new(
        BaseSpace::new(
            engine.http().clone(),
            &format!("{}/v1pre3", sim.basespace_url()),
            ferry_sim::basespace::APPRESULT,
            Arc::new(StaticToken::new(sim.basespace_token())),
        )
        .unwrap(),
    );
    let items = ferry_engine::scan::scan(std::slice::from_ref(&p), portal.as_ref()).unwrap();
    let u = engine.upload(portal, items).await.remove(0).unwrap();
    let f = sim.basespace_file(&u.remote_id).unwrap();
    assert_eq!(f.status, "complete");
    assert!(f.parts.len() > 1, "{} parts", f.parts.len());
    // The sim refuses a Content-MD5 that does not match, and records which
    // parts had one: all of them.
    let sent: Vec<u32> = f.parts.keys().copied().collect();
    let checked: Vec<u32> = f.md5_checked.iter().copied().collect();
    assert_eq!(checked, sent);
    let (_, sha) = sim.object_sha256_at(&f.key).await.unwrap();
    assert_eq!(sha, sha256_file(&p));
}
