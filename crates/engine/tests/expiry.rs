//! Loculus's presigned URLs die 30 minutes after issue and cannot be
//! renewed: a file whose links expire mid-upload starts again under a new
//! id, and a file that cannot start all its parts in time is warned about.

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
async fn a_file_too_big_for_the_measured_speed_is_warned_about() {
    let rig = one_part_at_a_time(Duration::from_secs(60)).await;
    let (engine, portal, events) = (&rig.engine, rig.portal.clone(), &rig.events);
    let small = make_file(rig.dir.path(), "first.fa", 1000, 1);
    let big = make_file(rig.dir.path(), "big_R1.fastq.gz", 40 * MIB, 2);
    // A slow first file: about 1000 bytes in 2 s is the measured speed.
    rig.sim
        .faults()
        .storage_next(Fault::Stall(Duration::from_millis(2100)), 1);
    let items = ferry_engine::scan::scan(&[small, big], portal.as_ref()).unwrap();
    let out = engine.upload(portal as Arc<dyn Portal>, items).await;
    assert!(out.iter().all(|o| o.is_ok()));
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
        warnings[0].contains("big_R1.fastq.gz") && warnings[0].contains("expire"),
        "{}",
        warnings[0]
    );
}
