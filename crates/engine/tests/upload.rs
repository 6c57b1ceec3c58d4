//! The engine against the simulated Loculus on a real S3 server: the bytes
//! stored equal the file, at every size boundary, under faults.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ferry_engine::plan::MIB;
use ferry_engine::{ErrorClass, Event, Portal};
use ferry_sim::Fault;

async fn upload_and_check(rig: &Rig, paths: &[std::path::PathBuf]) -> Vec<ferry_engine::Uploaded> {
    let items = scan(rig, paths);
    let out = rig
        .engine
        .upload(rig.portal.clone() as Arc<dyn Portal>, items)
        .await;
    let mut done = Vec::new();
    for (o, p) in out.into_iter().zip(paths) {
        let u = o.unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let local = sha256_file(p);
        assert_eq!(u.sha256, local, "engine's SHA-256 of {}", p.display());
        let (size, stored) = rig
            .sim
            .object_sha256(&u.remote_id)
            .await
            .unwrap_or_else(|| panic!("{} not stored", p.display()));
        assert_eq!(size, std::fs::metadata(p).unwrap().len());
        assert_eq!(stored, local, "bytes stored for {}", p.display());
        done.push(u);
    }
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_size_boundary_is_stored_exactly() {
    let rig = rig().await;
    let sizes = [
        ("one_byte.fq", 1),
        ("five_mib_minus_one.fq", 5 * MIB - 1),
        ("five_mib.fq", 5 * MIB),
        ("five_mib_plus_one.fq", 5 * MIB + 1),
        ("threshold_plus_one.fq", 16 * MIB + 1),
        ("empty.fq", 0),
    ];
    let paths: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, (n, s))| make_file(rig.dir.path(), n, *s, i as u64 + 1))
        .collect();
    let done = upload_and_check(&rig, &paths).await;
    // Below the threshold: single PUT; above: multipart, completed.
    assert!(rig.sim.file(&done[4].remote_id).unwrap().multipart);
    assert!(rig.sim.file(&done[4].remote_id).unwrap().completed);
    assert!(!rig.sim.file(&done[0].remote_id).unwrap().multipart);
    // The token never reached the storage host.
    assert!(
        rig.sim
            .storage_log()
            .iter()
            .all(|r| r.authorization.is_none())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_300_mib_file_goes_in_parallel_parts() {
    let rig = rig().await;
    let p = make_file(rig.dir.path(), "big_R1.fastq.gz", 300 * MIB, 42);
    let done = upload_and_check(&rig, std::slice::from_ref(&p)).await;
    let ev = rig.events.lock().unwrap().clone();
    let parts_done = ev
        .iter()
        .filter(|e| matches!(e, Event::PartDone { .. }))
        .count();
    assert_eq!(parts_done, 38, "300 MiB in 8 MiB parts");
    assert!(ev.iter().any(
        |e| matches!(e, Event::FileDone { remote_id, .. } if *remote_id == done[0].remote_id)
    ));
    // Parts overlapped: some part started before an earlier one was done.
    let mut open = 0usize;
    let mut max_open = 0;
    for e in &ev {
        match e {
            Event::PartStarted { .. } => {
                open += 1;
                max_open = max_open.max(open);
            }
            Event::PartDone { .. } => open -= 1,
            _ => {}
        }
    }
    assert!(max_open > 1 && max_open <= 8, "parts in flight: {max_open}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_small_files_share_batched_url_requests() {
    let rig = rig().await;
    let paths: Vec<_> = (0..500)
        .map(|i| make_file(rig.dir.path(), &format!("s{i:03}.fasta"), 100 + i, i))
        .collect();
    upload_and_check(&rig, &paths).await;
    let requests = rig
        .sim
        .api_log()
        .iter()
        .filter(|r| r.path.contains("request-upload"))
        .count();
    assert_eq!(requests, 500usize.div_ceil(32));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_500s_resets_and_429s_are_retried_to_success() {
    let rig = rig().await;
    rig.sim.faults().storage_next(Fault::Status(500), 2);
    rig.sim.faults().storage_next(Fault::Reset, 2);
    rig.sim.faults().storage_next(
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
        1,
    );
    rig.sim.faults().storage_next(Fault::Status(503), 1);
    let paths = vec![
        make_file(rig.dir.path(), "a.fq", 20 * MIB, 1),
        make_file(rig.dir.path(), "b.fq", 3 * MIB, 2),
    ];
    upload_and_check(&rig, &paths).await;
    assert_eq!(rig.sim.faults().injected(), 6);
    let ev = rig.events.lock().unwrap().clone();
    let retries: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Retry {
                delay_ms, reason, ..
            } => Some((*delay_ms, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(retries.len(), 6, "{retries:?}");
    // Retry-After: 1 was honoured.
    assert!(
        retries.iter().any(|(d, r)| *d >= 1000 && r.contains("429")),
        "{retries:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_url_is_not_retried_and_says_so() {
    let rig = rig().await;
    // Expired twice: the dead URL is never tried again, the file gets one
    // new upload (new links), and when that dies too the error says why.
    rig.sim.faults().storage_next(Fault::ExpireUrl, 2);
    let p = make_file(rig.dir.path(), "late.fq", 1000, 1);
    let out = rig
        .engine
        .upload(
            rig.portal.clone() as Arc<dyn Portal>,
            scan(&rig, std::slice::from_ref(&p)),
        )
        .await;
    let e = out.into_iter().next().unwrap().unwrap_err();
    assert_eq!(e.class(), ErrorClass::Rejected);
    assert!(e.to_string().contains("expired"), "{e}");
    let log = rig.sim.storage_log();
    assert_eq!(log.len(), 2, "each expired URL is tried once");
    assert_ne!(log[0].path, log[1].path, "the second try has a new upload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_and_foreign_group_fail_with_auth_errors() {
    let rig = rig().await;
    let p = make_file(rig.dir.path(), "x.fq", 10, 1);
    let bad = Arc::new(
        ferry_engine::loculus::Loculus::new(
            rig.engine.http().clone(),
            &rig.sim.backend_url(),
            1,
            Arc::new(ferry_engine::StaticToken::new("not-a-token")),
        )
        .unwrap(),
    );
    let e = rig
        .engine
        .upload(bad, scan(&rig, std::slice::from_ref(&p)))
        .await
        .remove(0)
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Auth, "{e}");

    let other = rig_with(Default::default(), "nobody", 1).await;
    let p2 = make_file(other.dir.path(), "y.fq", 10, 1);
    let e = other
        .engine
        .upload(other.portal.clone(), scan(&other, &[p2]))
        .await
        .remove(0)
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Auth, "{e}");
    assert!(e.to_string().contains("not a member of group"), "{e}");
    assert!(other.sim.storage_log().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_changes_during_upload_is_not_completed() {
    let rig = rig().await;
    let p = make_file(rig.dir.path(), "growing.fq", 20 * MIB, 9);
    let items = scan(&rig, std::slice::from_ref(&p));
    // Hold the first part so the file can change mid-upload.
    rig.sim
        .faults()
        .storage_next(Fault::Stall(Duration::from_millis(800)), 1);
    let engine = rig.engine.clone();
    let portal = rig.portal.clone();
    let job = tokio::spawn(async move { engine.upload(portal, items).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"more reads").unwrap();
    }
    let e = job.await.unwrap().remove(0).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Local, "{e}");
    assert!(
        e.to_string().contains("growing.fq") && e.to_string().contains("changed"),
        "{e}"
    );
    assert!(
        rig.sim
            .api_log()
            .iter()
            .all(|r| !r.path.contains("complete-multipart-upload")),
        "a changed file is never completed"
    );
}
