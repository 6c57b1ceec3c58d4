//! The queue the desktop app drives, on a slow uplink shared by all
//! connections (the simulator's storage takes in 4 MB/s in all) and links
//! that live 4 s: the first file and the later ones all arrive, with no
//! link refused as expired and no byte sent twice.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_engine::loculus::Loculus;
use ferry_engine::loculus::names::LoculusNames;
use ferry_engine::queue::{Queue, Status};
use ferry_engine::{EngineConfig, StaticToken};
use ferry_sim::{Sim, SimConfig};
use sha2::{Digest, Sha256};

fn write(path: &Path, size: usize, seed: u8) -> String {
    let data: Vec<u8> = (0..size)
        .map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed))
        .collect();
    std::fs::write(path, &data).unwrap();
    hex::encode(Sha256::digest(&data))
}

/// A simulator started with `cfg`, and its Loculus portal for group 1.
async fn sim_and_portal(cfg: SimConfig) -> (Sim, Arc<Loculus>) {
    let sim = Sim::start(cfg).await.unwrap();
    let http = ferry_engine::transfer::http_client().unwrap();
    let token = Arc::new(StaticToken::new(sim.demo_token()));
    let portal = Arc::new(Loculus::new(http, &sim.backend_url(), 1, token).unwrap());
    (sim, portal)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_files_on_a_shared_uplink_beat_4_second_links() {
    let (sim, portal) = sim_and_portal(SimConfig {
        url_expiry: Duration::from_secs(4),
        storage_bytes_per_sec: Some(4_000_000),
        ..SimConfig::default()
    })
    .await;
    let q = Queue::new(
        EngineConfig {
            parts_in_flight: 2,
            ..EngineConfig::default()
        },
        Arc::new(LoculusNames),
    );
    let d = tempfile::tempdir().unwrap();
    let sizes = [30_000_000usize, 36_000_007, 20_000_000];
    let mut want = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let name = format!("run{i}_R1.fastq.gz");
        want.push((name.clone(), write(&d.path().join(&name), *size, i as u8)));
    }
    let added = q.add(&[d.path().to_path_buf()]);
    assert_eq!((added.files, added.problems), (3, 0));
    q.set_portal(
        Some(portal),
        ferry_engine::Destination::loculus(&sim.backend_url(), 1),
    );
    assert_eq!(q.start().unwrap(), 3);
    // A guard against a hang, not a speed check: 86 MB at 4 MB/s is ~22 s.
    let deadline = Instant::now() + Duration::from_secs(300);
    while !q.rows().iter().all(|r| r.status == Status::Done) {
        let failed: Vec<_> = q
            .rows()
            .into_iter()
            .filter(|r| r.status == Status::Failed)
            .collect();
        assert!(failed.is_empty(), "{failed:?}");
        assert!(Instant::now() < deadline, "{:?}", q.rows());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for r in q.rows() {
        let sha = &want.iter().find(|(n, _)| *n == r.name).unwrap().1;
        assert_eq!(r.sha256.as_ref(), Some(sha), "{}", r.name);
        let stored = sim.object_sha256(r.remote_id.as_ref().unwrap()).await;
        assert_eq!(stored.map(|(_, h)| h).as_ref(), Some(sha), "{}", r.name);
    }
    let puts: Vec<_> = sim
        .storage_log()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    let refused: Vec<_> = puts.iter().filter(|r| r.status != 200).collect();
    assert!(refused.is_empty(), "refused: {refused:?}");
    let received: u64 = puts.iter().map(|r| r.body_bytes).sum();
    assert_eq!(
        received,
        sizes.iter().sum::<usize>() as u64,
        "bytes sent twice"
    );
}

/// Polls `cond` every 50 ms for up to `secs` seconds.
async fn until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A 200 GiB file does not fit 30-minute links at the 1 MB/s assumed for
/// an unmeasured uplink, so the engine measures the uplink first. Cancelled
/// during that measurement, the file stops at once: its test upload is cut
/// off and no multipart upload starts. Nothing of the unfinished
/// measurement is kept: resumed, the file measures again, and on this
/// 1 MB/s uplink it is then refused with the measured rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_cancelled_while_the_uplink_is_measured_stops_and_measures_again() {
    let (sim, portal) = sim_and_portal(SimConfig {
        storage_bytes_per_sec: Some(1_000_000),
        ..SimConfig::default()
    })
    .await;
    let q = Queue::new(EngineConfig::default(), Arc::new(LoculusNames));
    let d = tempfile::tempdir().unwrap();
    let huge = d.path().join("run7_S1_R1_001.fastq.gz");
    // Sparse: 200 GiB of holes, never read past the first test upload.
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(200 << 30)
        .unwrap();
    assert_eq!(q.add(std::slice::from_ref(&huge)).files, 1);
    q.set_portal(
        Some(portal),
        ferry_engine::Destination::loculus(&sim.backend_url(), 1),
    );
    let probes = |sim: &Sim| {
        sim.api_log()
            .iter()
            .filter(|r| r.path == "/files/request-upload" && r.query.contains("numberFiles=3"))
            .count()
    };
    assert_eq!(q.start().unwrap(), 1);
    until(30, "the test uploads' links", || probes(&sim) == 1).await;
    // The first test upload (4 MiB, 4 s at 1 MB/s) is under way.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let cancelled_at = Instant::now();
    q.cancel(0);
    until(5, "the file to be cancelled", || {
        q.row(0).unwrap().status == Status::Cancelled
    })
    .await;
    // Whatever the storage logged of the cut test upload, it is no whole
    // 4 MiB upload acknowledged.
    until(5, "the cut test upload in the storage's log", || {
        sim.storage_log().iter().any(|r| r.method == "PUT")
    })
    .await;
    let puts: Vec<_> = sim
        .storage_log()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert!(
        puts.iter()
            .all(|r| r.status != 200 && r.body_bytes < 4 << 20),
        "a test upload went on after the cancel ({:?} later): {puts:?}",
        cancelled_at.elapsed()
    );
    let multipart = |sim: &Sim| {
        sim.api_log()
            .iter()
            .any(|r| r.path == "/files/request-multipart-upload")
    };
    assert!(!multipart(&sim), "{:?}", sim.api_log());

    // Resumed, the file measures again (the cut measurement taught
    // nothing) and is refused at the rate it then measures.
    q.resume(0).unwrap();
    until(60, "the resumed file to be refused", || {
        q.row(0).unwrap().status == Status::Failed
    })
    .await;
    assert_eq!(probes(&sim), 2, "{:?}", sim.api_log());
    let error = q.row(0).unwrap().error.unwrap();
    assert!(
        error.contains("run7_S1_R1_001.fastq.gz") && error.contains("measured by test uploads"),
        "{error}"
    );
    assert!(!multipart(&sim), "{:?}", sim.api_log());
    sim.shutdown().await;
}
