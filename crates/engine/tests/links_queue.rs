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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_files_on_a_shared_uplink_beat_4_second_links() {
    let sim = Sim::start(SimConfig {
        url_expiry: Duration::from_secs(4),
        storage_bytes_per_sec: Some(4_000_000),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let http = ferry_engine::transfer::http_client().unwrap();
    let token = Arc::new(StaticToken::new(sim.demo_token()));
    let portal = Arc::new(Loculus::new(http, &sim.backend_url(), 1, token).unwrap());
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
