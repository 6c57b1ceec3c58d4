//! The interactive queue (what the desktop app drives) and the Keycloak
//! token source, against the simulator on a real S3 server.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_engine::loculus::Loculus;
use ferry_engine::loculus::keycloak::Keycloak;
use ferry_engine::queue::{LoculusNames, Queue, Status};
use ferry_engine::{EngineConfig, Secret, TokenSource};
use ferry_sim::{Fault, Sim, SimConfig};
use sha2::{Digest, Sha256};

fn write(path: &Path, size: usize, seed: u8) -> String {
    let data: Vec<u8> = (0..size)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    std::fs::write(path, &data).unwrap();
    hex::encode(Sha256::digest(&data))
}

async fn signed_in(sim: &Sim) -> Arc<Keycloak> {
    let http = ferry_engine::transfer::http_client().unwrap();
    Arc::new(
        Keycloak::sign_in(http, &sim.backend_url(), "demo", &Secret::new("demo"), None)
            .await
            .unwrap(),
    )
}

async fn wait(q: &Queue, id: usize, want: Status) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = q.row(id).unwrap().status;
        if s == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "row {id}: {s:?}, waiting for {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn folder_in_checks_and_uploads_every_file_with_pause_and_resume() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let kc = signed_in(&sim).await;
    let http = ferry_engine::transfer::http_client().unwrap();
    let portal = Arc::new(Loculus::new(http, &sim.backend_url(), 1, kc).unwrap());
    let q = Queue::new(EngineConfig::default(), Arc::new(LoculusNames));

    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("run/.git")).unwrap();
    let big = write(&d.path().join("run/big.fq"), 20 * 1024 * 1024 + 1, 1);
    let small = write(&d.path().join("run/small.fq"), 1000, 2);
    std::fs::write(d.path().join("run/.git/config"), b"x").unwrap();
    std::fs::write(d.path().join("run/bad name.fq"), b"x").unwrap();

    let added = q.add(&[d.path().join("run")]);
    assert_eq!((added.files, added.problems), (3, 1));
    let rows = q.rows();
    let names: Vec<_> = rows.iter().map(|r| (r.name.as_str(), r.status)).collect();
    assert_eq!(
        names,
        vec![
            ("bad name.fq", Status::Invalid),
            ("big.fq", Status::Ready),
            ("small.fq", Status::Ready)
        ]
    );
    assert!(rows[0].error.as_ref().unwrap().contains("whitespace"));
    // Without a portal nothing starts.
    assert!(q.start().is_err());

    q.set_portal(Some(portal));
    // Hold the big file's first parts so it can be paused mid-way.
    sim.faults()
        .storage_next(Fault::Stall(Duration::from_millis(1500)), 2);
    assert_eq!(q.start().unwrap(), 2);
    wait(&q, 1, Status::Sending).await;
    assert_eq!(q.row(1).unwrap().parts.len(), 3);
    q.pause(1);
    wait(&q, 1, Status::Paused).await;
    wait(&q, 2, Status::Done).await;
    assert!(q.row(1).unwrap().error.is_none());

    q.resume(1).unwrap();
    wait(&q, 1, Status::Done).await;
    let r = q.row(1).unwrap();
    assert_eq!(r.parts, "ddd");
    assert_eq!(r.sha256.as_deref(), Some(big.as_str()));
    let stored = sim.object_sha256(r.remote_id.as_ref().unwrap()).await;
    assert_eq!(stored.map(|(_, h)| h), Some(big));
    let s = q.row(2).unwrap();
    let stored = sim.object_sha256(s.remote_id.as_ref().unwrap()).await;
    assert_eq!(stored.map(|(_, h)| h), Some(small));

    // Changes arrive as one batch, with totals and finished batches.
    let u = q.take_update().unwrap();
    assert_eq!(u.totals.done, 2);
    assert_eq!(u.totals.invalid, 1);
    assert_eq!(u.finished.len(), 2);
    assert!(q.take_update().is_none());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_and_retry_a_failed_file() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let kc = signed_in(&sim).await;
    let http = ferry_engine::transfer::http_client().unwrap();
    let portal = Arc::new(Loculus::new(http, &sim.backend_url(), 1, kc).unwrap());
    let q = Queue::new(
        EngineConfig {
            retry: ferry_engine::retry::RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(20),
            },
            ..EngineConfig::default()
        },
        Arc::new(LoculusNames),
    );
    q.set_portal(Some(portal));
    let d = tempfile::tempdir().unwrap();
    write(&d.path().join("a.fq"), 5000, 3);
    write(&d.path().join("b.fq"), 5000, 4);
    q.add(&[d.path().join("a.fq"), d.path().join("b.fq")]);
    q.cancel(1);
    assert_eq!(q.row(1).unwrap().status, Status::Cancelled);
    sim.faults().storage_next(Fault::Status(500), 2);
    q.start().unwrap();
    wait(&q, 0, Status::Failed).await;
    assert!(q.row(0).unwrap().error.unwrap().contains("500"));
    q.resume(0).unwrap();
    wait(&q, 0, Status::Done).await;
    q.resume(1).unwrap();
    wait(&q, 1, Status::Done).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn keycloak_refreshes_on_401_and_before_expiry() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = ferry_engine::transfer::http_client().unwrap();
    let bad = Keycloak::sign_in(
        http.clone(),
        &sim.backend_url(),
        "demo",
        &Secret::new("wrong"),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(bad.class(), ferry_engine::ErrorClass::Auth);

    let kc = signed_in(&sim).await;
    let first = kc.token().await.unwrap();
    assert_eq!(kc.token().await.unwrap(), first, "a fresh token is reused");
    // The backend says 401: the source refreshes and the call goes through.
    sim.faults().api_next(Fault::ExpireToken, 1);
    let portal = Arc::new(Loculus::new(http, &sim.backend_url(), 1, kc.clone()).unwrap());
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("a.fq");
    let sha = write(&p, 1000, 5);
    let engine =
        ferry_engine::Engine::new(EngineConfig::default(), ferry_engine::EventSink::none())
            .unwrap();
    let items = ferry_engine::scan::scan(&[p], &LoculusNames).unwrap();
    let out = engine.upload(portal, items).await;
    assert_eq!(out[0].as_ref().unwrap().sha256, sha);
    assert_ne!(kc.token().await.unwrap(), first, "refreshed after the 401");
    sim.shutdown().await;

    // Tokens that expire within 5 minutes are refreshed before use.
    let sim = Sim::start(SimConfig {
        token_lifetime: Duration::from_secs(300),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let kc = signed_in(&sim).await;
    let a = kc.token().await.unwrap();
    let b = kc.token().await.unwrap();
    assert_ne!(a, b);
    sim.shutdown().await;
}
