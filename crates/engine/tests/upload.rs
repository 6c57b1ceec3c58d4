//! The engine against the simulated Loculus on a real S3 server: the bytes
//! stored equal the file, at every size boundary, under faults.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ferry_engine::plan::MIB;
use ferry_engine::{ErrorClass, Event, Portal};
use ferry_sim::{Fault, FaultTarget};

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
    assert!(
        max_open > 1 && max_open <= ferry_engine::DEFAULT_PARTS_IN_FLIGHT,
        "parts in flight: {max_open}"
    );
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
    assert_eq!(e.class(), ErrorClass::Expired);
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

/// `Retry` events so far: (part, delay in ms, reason).
fn retries(rig: &Rig) -> Vec<(Option<u32>, u64, String)> {
    rig.events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Retry {
                part,
                delay_ms,
                reason,
                ..
            } => Some((*part, *delay_ms, reason.clone())),
            _ => None,
        })
        .collect()
}

/// Successful part PUTs the storage host got, by `partNumber`.
fn part_puts(rig: &Rig) -> Vec<u32> {
    rig.sim
        .storage_log()
        .iter()
        .filter(|r| r.method == "PUT" && r.status == 200)
        .filter_map(|r| {
            r.query
                .split('&')
                .find_map(|kv| kv.strip_prefix("partNumber="))
                .and_then(|n| n.parse().ok())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_that_lies_about_etags_is_caught_and_the_part_sent_again() {
    let rig = rig().await;
    // The storage stores the part but answers an ETag that is not its
    // MD5, then one with an empty ETag: neither part may be completed on
    // that word, so both go again.
    rig.sim.faults().storage_next(Fault::CorruptEtag, 1);
    rig.sim.faults().storage_next(Fault::EmptyEtag, 1);
    let p = make_file(rig.dir.path(), "liar.fastq.gz", 20 * MIB, 77);
    upload_and_check(&rig, std::slice::from_ref(&p)).await;
    let f = rig.sim.faults();
    assert_eq!(f.injected_count(FaultTarget::Storage, "corrupt_etag"), 1);
    assert_eq!(f.injected_count(FaultTarget::Storage, "empty_etag"), 1);
    let r = retries(&rig);
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(
        r.iter().any(|(_, _, why)| why.contains("is not the MD5")),
        "{r:?}"
    );
    assert!(
        r.iter().any(|(_, _, why)| why.contains("without an ETag")),
        "{r:?}"
    );
    // 3 parts of 8 MiB, two of them sent twice.
    let mut puts = part_puts(&rig);
    puts.sort_unstable();
    assert_eq!(puts.len(), 5, "{puts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_408_and_a_429_with_an_http_date_are_retried_the_date_honoured() {
    let rig = rig().await;
    rig.sim.faults().storage_next(Fault::Status(408), 1);
    rig.sim.faults().storage_next(
        Fault::TooManyRequestsUntil {
            retry_after_secs: 3,
        },
        1,
    );
    let paths = vec![make_file(rig.dir.path(), "t.fq", 4000, 3)];
    upload_and_check(&rig, &paths).await;
    let r = retries(&rig);
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r[0].2.contains("(408)"), "{r:?}");
    assert!(r[1].2.contains("(429)"), "{r:?}");
    // The date is whole seconds (truncated), 3 s ahead: more than 2 s are
    // left of it when it is sent, so even on a loaded machine at least 1 s
    // is left when the client reads it: five times the longest backoff of
    // this rig (200 ms), so only the date explains such a wait.
    assert!(r[1].1 >= 1000, "Retry-After date not honoured: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_that_cannot_succeed_is_not_retried_and_names_the_file() {
    let rig = rig().await;
    for (status, name) in [(400, "bad_request.fq"), (403, "denied.fq")] {
        rig.sim.faults().storage_next(Fault::Status(status), 1);
        let p = make_file(rig.dir.path(), name, 3000, 1);
        let before = rig.sim.storage_log().len();
        let e = rig
            .engine
            .upload(
                rig.portal.clone() as Arc<dyn Portal>,
                scan(&rig, std::slice::from_ref(&p)),
            )
            .await
            .remove(0)
            .unwrap_err();
        assert_eq!(e.class(), ErrorClass::Rejected, "{e}");
        let msg = e.to_string();
        assert!(msg.contains(&p.display().to_string()), "{msg}");
        assert!(msg.contains(&format!("({status})")), "{msg}");
        assert_eq!(rig.sim.storage_log().len() - before, 1, "tried once: {msg}");
    }
    assert!(retries(&rig).is_empty(), "{:?}", retries(&rig));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_whose_signing_credentials_expired_are_replaced() {
    let rig = rig().await;
    // S3's 400 ExpiredToken: the links are dead like expired ones; the
    // file goes again under new links and arrives.
    rig.sim.faults().storage_next(Fault::ExpireToken, 1);
    let p = make_file(rig.dir.path(), "sts.fq", 2000, 4);
    let done = upload_and_check(&rig, std::slice::from_ref(&p)).await;
    assert!(retries(&rig).is_empty());
    let ev = rig.events.lock().unwrap().clone();
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::FileRestarted { reason, .. } if reason.contains("sts.fq"))),
        "{ev:?}"
    );
    let log = rig.sim.storage_log();
    assert_eq!(log.len(), 2);
    assert!(log[1].path.contains(&done[0].remote_id));
    assert!(!log[0].path.contains(&done[0].remote_id));
}

/// Access tokens that really expire mid-job (the sim's Keycloak issues 2 s
/// tokens; the job runs several times longer): the Keycloak source renews
/// them, every file is completed, and no part goes twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_expire_mid_job_and_the_job_finishes() {
    use ferry_engine::loculus::keycloak::Keycloak;
    use ferry_engine::plan::PlanPrefs;
    use ferry_engine::{Engine, EngineConfig, EventSink, Secret};

    let sim = ferry_sim::Sim::start(ferry_sim::SimConfig {
        token_lifetime: Duration::from_secs(2),
        ..Default::default()
    })
    .await
    .unwrap();
    let engine = Engine::new(
        EngineConfig {
            // One small part at a time, each held 600 ms by the storage:
            // 12 parts take several token lifetimes.
            parts_in_flight: 1,
            prefs: PlanPrefs {
                single_max: 5 * MIB,
                part_size: 5 * MIB,
            },
            retry: fast_retry(),
            stall_timeout: Duration::from_secs(5),
            ..EngineConfig::default()
        },
        EventSink::none(),
    )
    .unwrap();
    sim.faults()
        .storage_rate(Fault::Stall(Duration::from_millis(600)), 1.0, 1);
    let kc = Arc::new(
        Keycloak::sign_in(
            engine.http().clone(),
            &sim.backend_url(),
            "demo",
            &Secret::new("demo"),
            None,
        )
        .await
        .unwrap(),
    );
    let portal = Arc::new(
        ferry_engine::loculus::Loculus::new(engine.http().clone(), &sim.backend_url(), 1, kc)
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<_> = (0..4)
        .map(|i| make_file(dir.path(), &format!("long{i}.fq"), 10 * MIB + 1, i + 50))
        .collect();
    let items = ferry_engine::scan::scan(&paths, portal.as_ref()).unwrap();
    let out = engine.upload(portal as Arc<dyn Portal>, items).await;
    for (o, p) in out.into_iter().zip(&paths) {
        let u = o.unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(
            sim.object_sha256(&u.remote_id).await.unwrap().1,
            sha256_file(p),
            "bytes stored for {}",
            p.display()
        );
        assert!(sim.file(&u.remote_id).unwrap().completed);
    }
    // Several tokens were used, and the first one is dead by now: it
    // expired while the job ran.
    let used = sim.access_tokens_used();
    eprintln!("access tokens used: {}", used.len());
    assert!(used.len() > 1, "tokens used: {}", used.len());
    let r = engine
        .http()
        .get(format!("{}/user/groups", sim.backend_url()))
        .bearer_auth(&used[0])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Each of the 12 parts was sent once, and acknowledged.
    let log = sim.storage_log();
    assert_eq!(log.len(), 12, "{log:?}");
    assert!(log.iter().all(|r| r.status == 200), "{log:?}");
    let mut keys: Vec<(String, String)> = log
        .iter()
        .map(|r| {
            (
                r.path.clone(),
                r.query
                    .split('&')
                    .find(|kv| kv.starts_with("partNumber="))
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 12, "no part went twice");
    sim.shutdown().await;
}

/// BaseSpace's parts arrive on its API host, which answers each part's
/// ETag in JSON: a lying or empty one is caught there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_basespace_host_that_lies_about_a_part_etag_is_caught() {
    let rig = rig().await;
    let sim = &rig.sim;
    let portal: Arc<dyn Portal> = Arc::new(
        ferry_engine::basespace::BaseSpace::new(
            rig.engine.http().clone(),
            &format!("{}/v1pre3", sim.basespace_url()),
            ferry_sim::basespace::APPRESULT,
            Arc::new(ferry_engine::StaticToken::new(sim.basespace_token())),
        )
        .unwrap(),
    );
    sim.faults().storage_next(Fault::CorruptEtag, 1);
    sim.faults().storage_next(Fault::EmptyEtag, 1);
    let p = make_file(rig.dir.path(), "bs.fastq.gz", 11 * MIB + 7, 8);
    let items = ferry_engine::scan::scan(std::slice::from_ref(&p), portal.as_ref()).unwrap();
    let u = rig.engine.upload(portal, items).await.remove(0).unwrap();
    let f = sim.basespace_file(&u.remote_id).unwrap();
    assert_eq!(f.status, "complete");
    let (_, sha) = sim.object_sha256_at(&f.key).await.unwrap();
    assert_eq!(sha, sha256_file(&p));
    let r = retries(&rig);
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(
        r.iter().any(|(_, _, why)| why.contains("is not the MD5")),
        "{r:?}"
    );
    assert!(
        r.iter().any(|(_, _, why)| why.contains("without an ETag")),
        "{r:?}"
    );
    assert_eq!(
        sim.faults()
            .injected_count(FaultTarget::Storage, "corrupt_etag"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_file_hash_every_part_md5_is_still_checked() {
    // `--no-file-hash`: no SHA-256 of the file (reported empty), yet a
    // part whose ETag is not the MD5 of its bytes is still sent again.
    let rig = rig_full(
        ferry_sim::SimConfig::default(),
        ferry_engine::EngineConfig {
            retry: fast_retry(),
            stall_timeout: Duration::from_secs(5),
            file_hash: false,
            ..ferry_engine::EngineConfig::default()
        },
        "demo",
        1,
    )
    .await;
    rig.sim.faults().storage_next(Fault::CorruptEtag, 1);
    let p = make_file(rig.dir.path(), "nohash.fastq.gz", 40 * MIB + 3, 78);
    let items = scan(&rig, std::slice::from_ref(&p));
    let out = rig
        .engine
        .upload(rig.portal.clone() as Arc<dyn Portal>, items)
        .await;
    let u = out.into_iter().next().unwrap().expect("uploaded");
    assert_eq!(u.sha256, "", "no file hash asked for");
    let (size, stored) = rig.sim.object_sha256(&u.remote_id).await.unwrap();
    assert_eq!(size, 40 * MIB + 3);
    assert_eq!(stored, sha256_file(&p), "bytes stored");
    let r = retries(&rig);
    assert!(
        r.iter().any(|(_, _, why)| why.contains("is not the MD5")),
        "{r:?}"
    );
}

/// `ferry-sim --discard-bodies`, the benchmarks' storage: each part is
/// hashed and dropped, yet a multipart file completes with its ETags and
/// part sizes checked, and nothing of it is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_that_discards_bodies_still_completes_multipart_files() {
    let cfg = ferry_sim::SimConfig {
        discard_bodies: true,
        ..Default::default()
    };
    let rig = rig_with(cfg, "demo", 1).await;
    let p = make_file(rig.dir.path(), "discarded.fq", 17 * MIB + 3, 4);
    let out = rig
        .engine
        .upload(
            rig.portal.clone() as Arc<dyn Portal>,
            scan(&rig, std::slice::from_ref(&p)),
        )
        .await;
    let u = out.into_iter().next().unwrap().unwrap();
    assert_eq!(u.sha256, sha256_file(&p));
    let f = rig.sim.file(&u.remote_id).expect("the file is known");
    assert!(f.multipart && f.completed, "{f:?}");
    assert!(
        rig.sim.object_sha256(&u.remote_id).await.is_none(),
        "no bytes are kept"
    );
}
