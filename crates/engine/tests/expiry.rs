//! Loculus's presigned URLs die 30 minutes after issue and cannot be
//! renewed: a file whose links expire mid-upload starts again under a new
//! id, and a file that could not start all its parts in time is sent as
//! fewer, larger parts that do, and the user is told.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ferry_engine::plan::MIB;
use ferry_engine::{EngineConfig, Event, Portal};
use ferry_sim::{Fault, SimConfig};

async fn one_part_at_a_time(url_expiry: Duration) -> Rig {
    rig_full(
        SimConfig {
            url_expiry,
            ..SimConfig::default()
        },
        EngineConfig {
            parts_in_flight: 1,
            retry: fast_retry(),
            ..EngineConfig::default()
        },
        "demo",
        1,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_whose_links_expire_mid_upload_restarts_under_a_new_id() {
    let rig = one_part_at_a_time(Duration::from_secs(2)).await;
    let (engine, portal, events) = (&rig.engine, rig.portal.clone(), &rig.events);
    let p = make_file(rig.dir.path(), "slow_R1.fastq.gz", 24 * MIB + 5, 3);
    // The first part is held until the links have expired.
    rig.sim
        .faults()
        .storage_next(Fault::Stall(Duration::from_millis(2500)), 1);
    let items = ferry_engine::scan::scan(std::slice::from_ref(&p), portal.as_ref()).unwrap();
    let u = engine
        .upload(portal as Arc<dyn Portal>, items)
        .await
        .remove(0)
        .unwrap();
    let ev = events.lock().unwrap().clone();
    let restarted: Vec<&String> = ev
        .iter()
        .filter_map(|e| match e {
            Event::FileRestarted { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(restarted.len(), 1, "{ev:?}");
    assert!(restarted[0].contains("slow_R1.fastq.gz") && restarted[0].contains("expired"));
    let started: Vec<&String> = ev
        .iter()
        .filter_map(|e| match e {
            Event::FileStarted { remote_id, .. } => Some(remote_id),
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 2);
    assert_ne!(started[0], started[1], "a new fileId");
    assert_eq!(&u.remote_id, started[1]);
    assert_eq!(
        rig.sim.object_sha256(&u.remote_id).await.unwrap().1,
        sha256_file(&p)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_too_big_for_the_measured_speed_goes_as_fewer_parts_and_says_so() {
    let rig = one_part_at_a_time(Duration::from_secs(60)).await;
    let (engine, portal, events) = (&rig.engine, rig.portal.clone(), &rig.events);
    let small = make_file(rig.dir.path(), "first.fa", 1000, 1);
    let big = make_file(rig.dir.path(), "big_R1.fastq.gz", 40 * MIB, 2);
    // A slow first file: about 1000 bytes in 2 s is the measured speed, far
    // too slow for 5 parts sent one after another inside the links' minute.
    rig.sim
        .faults()
        .storage_next(Fault::Stall(Duration::from_millis(2100)), 1);
    let items = ferry_engine::scan::scan(&[small, big.clone()], portal.as_ref()).unwrap();
    let out = engine.upload(portal as Arc<dyn Portal>, items).await;
    assert!(out.iter().all(|o| o.is_ok()), "{out:?}");
    let ev = events.lock().unwrap().clone();
    let warnings: Vec<&String> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Warning { file: 1, message } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{ev:?}");
    assert!(
        warnings[0].contains("big_R1.fastq.gz")
            && warnings[0].contains("sent as 1 part of 40 MiB (not 5 parts of 8 MiB)")
            && warnings[0].contains("expire"),
        "{}",
        warnings[0]
    );
    let u = out[1].as_ref().unwrap();
    let parts = part_puts(&rig, &u.remote_id);
    assert_eq!(parts, 1, "one part that starts at once");
    assert_eq!(
        rig.sim.object_sha256(&u.remote_id).await.unwrap().1,
        sha256_file(&big)
    );
}

/// PUTs of parts that reached the storage for `file_id`.
fn part_puts(rig: &Rig, file_id: &str) -> usize {
    rig.sim
        .storage_log()
        .iter()
        .filter(|r| {
            r.method == "PUT" && r.path.ends_with(file_id) && r.query.contains("partNumber")
        })
        .count()
}

/// Before any throughput is measured, the assumed speed plans a big file
/// whose links live 3 s as two huge parts side by side: both start at once,
/// the hash of the second is read again from disk past the hasher's cap,
/// and the stored object is the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_parts_side_by_side_start_in_time_and_hash_like_the_file() {
    let rig = rig_full(
        SimConfig {
            url_expiry: Duration::from_secs(3),
            ..SimConfig::default()
        },
        EngineConfig {
            parts_in_flight: 2,
            retry: fast_retry(),
            assumed_rate: 10.0 * MIB as f64,
            ..EngineConfig::default()
        },
        "demo",
        1,
    )
    .await;
    let (engine, portal, events) = (&rig.engine, rig.portal.clone(), &rig.events);
    // A small file first: its links teach the engine how long links live.
    let small = make_file(rig.dir.path(), "run7.tsv", 500, 6);
    let big = make_file(rig.dir.path(), "run7_R1.fastq.gz", 300 * MIB + 3, 7);
    let items = ferry_engine::scan::scan(&[small, big.clone()], portal.as_ref()).unwrap();
    let u = engine
        .upload(portal as Arc<dyn Portal>, items)
        .await
        .remove(1)
        .unwrap();
    let ev = events.lock().unwrap().clone();
    assert!(
        ev.iter().any(|e| matches!(e, Event::Warning { message, .. }
            if message.contains("sent as 2 parts of 151 MiB (not 38 parts of 8 MiB)")
                && message.contains("assumed until measured"))),
        "{ev:?}"
    );
    assert!(
        !ev.iter().any(|e| matches!(e, Event::FileRestarted { .. })),
        "{ev:?}"
    );
    assert_eq!(part_puts(&rig, &u.remote_id), 2);
    assert_eq!(u.sha256, sha256_file(&big));
    assert_eq!(
        rig.sim.object_sha256(&u.remote_id).await.unwrap().1,
        sha256_file(&big)
    );
}
