//! The scenarios, each written once for every portal.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_engine::journal::Journal;
use ferry_engine::plan::{MIB, PlanPrefs};
use ferry_engine::resume::{Step, plan_resume};
use ferry_engine::{
    Engine, EngineConfig, ErrorClass, Event, EventSink, FileOutcome, JobFile, Uploaded,
};
use ferry_sim::Fault;
use tokio_util::sync::CancellationToken;

use crate::common::{fast_retry, make_file, sha256_file};
use crate::rigs::{Rig, start};

type Events = Arc<Mutex<Vec<Event>>>;

fn engine(prefs: PlanPrefs) -> (Engine, Events) {
    engine_with(prefs, |_| {})
}

/// An engine whose events are kept, and also shown to `tap`.
fn engine_with(prefs: PlanPrefs, tap: impl Fn(&Event) + Send + Sync + 'static) -> (Engine, Events) {
    let events: Events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let engine = Engine::new(
        EngineConfig {
            retry: fast_retry(),
            stall_timeout: Duration::from_secs(5),
            prefs,
            ..EngineConfig::default()
        },
        EventSink::new(move |e| {
            tap(&e);
            ev.lock().unwrap().push(e);
        }),
    )
    .unwrap();
    (engine, events)
}

fn scan<R: Rig>(rig: &R, engine: &Engine, paths: &[PathBuf]) -> Vec<ferry_engine::Item> {
    let portal = rig.portal(engine.http());
    ferry_engine::scan::scan(paths, portal.as_ref())
        .unwrap_or_else(|r| panic!("{}: scan refused good files: {r}", R::NAME))
}

/// What a user checks: the stored bytes are the file, and the portal has it.
async fn check_arrived<R: Rig>(
    rig: &R,
    outcomes: Vec<FileOutcome>,
    paths: &[PathBuf],
) -> Vec<Uploaded> {
    assert_eq!(outcomes.len(), paths.len());
    let mut done = Vec::new();
    for (o, p) in outcomes.into_iter().zip(paths) {
        let u = o.unwrap_or_else(|e| panic!("{}: {}: {e}", R::NAME, p.display()));
        let local = sha256_file(p);
        assert_eq!(
            u.sha256,
            local,
            "{}: engine's SHA-256 of {}",
            R::NAME,
            p.display()
        );
        let (size, stored) = rig
            .stored(&u)
            .await
            .unwrap_or_else(|| panic!("{}: {} not stored", R::NAME, p.display()));
        assert_eq!(
            size,
            std::fs::metadata(p).unwrap().len(),
            "{}: size of {}",
            R::NAME,
            p.display()
        );
        assert_eq!(
            stored,
            local,
            "{}: bytes stored for {}",
            R::NAME,
            p.display()
        );
        assert!(
            rig.accepted(&u),
            "{}: {} stored but not accepted",
            R::NAME,
            p.display()
        );
        done.push(u);
    }
    done
}

fn name(i: usize) -> String {
    format!("sample-{i:03}_R1.fastq")
}

pub async fn sizes_at_every_boundary<R: Rig>() {
    let rig = start::<R>().await;
    let dir = tempfile::tempdir().unwrap();
    let (sizes, prefs) = R::sizes();
    let paths: Vec<PathBuf> = sizes
        .iter()
        .enumerate()
        .map(|(i, s)| make_file(dir.path(), &name(i), *s, i as u64 + 7))
        .collect();
    let (engine, events) = engine(prefs);
    let items = scan(&rig, &engine, &paths);
    let out = engine.upload(rig.portal(engine.http()), items).await;
    check_arrived(&rig, out, &paths).await;
    // Every file was planned within the portal's limits and sent in the
    // parts planned.
    let ev = events.lock().unwrap().clone();
    let planned: u32 = ev
        .iter()
        .filter_map(|e| match e {
            Event::FileQueued { parts, .. } => Some(*parts),
            _ => None,
        })
        .sum();
    let done = ev
        .iter()
        .filter(|e| matches!(e, Event::PartDone { .. }))
        .count();
    assert_eq!(done as u32, planned, "{}", R::NAME);
    // Progress is reported while bytes move, not only per part.
    let progress = ev
        .iter()
        .filter(|e| matches!(e, Event::Progress { .. }))
        .count();
    assert!(
        progress > planned as usize,
        "{}: {progress} progress events",
        R::NAME
    );
    let multipart = R::MULTIPART;
    assert_eq!(
        rig.portal(engine.http()).limits().multipart,
        multipart,
        "{}: multipart against the contract",
        R::NAME
    );
    // One Codex sends every file in one request; the others split the
    // largest files.
    assert_eq!(
        planned > sizes.len() as u32,
        multipart,
        "{}: {planned} parts for {} files",
        R::NAME,
        sizes.len()
    );
}

pub async fn many_small_files<R: Rig>() {
    let rig = start::<R>().await;
    let dir = tempfile::tempdir().unwrap();
    // Tiny files keep 500 of them fast.
    let paths: Vec<PathBuf> = (0..500)
        .map(|i| make_file(dir.path(), &name(i), 1 + (i as u64 * 37) % 512, i as u64))
        .collect();
    let (engine, _) = engine(PlanPrefs::default());
    let items = scan(&rig, &engine, &paths);
    let out = engine.upload(rig.portal(engine.http()), items).await;
    let done = check_arrived(&rig, out, &paths).await;
    let mut ids: Vec<&str> = done.iter().map(|u| u.remote_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        paths.len(),
        "{}: one remote id per file",
        R::NAME
    );
}

pub async fn faults_still_complete<R: Rig>() {
    let rig = start::<R>().await;
    let dir = tempfile::tempdir().unwrap();
    let paths = vec![
        make_file(dir.path(), &name(0), 20 * MIB + 3, 1),
        make_file(dir.path(), &name(1), 3 * MIB, 2),
        make_file(dir.path(), &name(2), 1000, 3),
    ];
    let f = rig.sim().faults();
    f.storage_next(Fault::Reset, 2);
    f.storage_next(Fault::Status(500), 2);
    f.storage_next(
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
        1,
    );
    f.api_next(Fault::Status(503), 1);
    let (engine, events) = engine(PlanPrefs::default());
    let items = scan(&rig, &engine, &paths);
    let out = engine.upload(rig.portal(engine.http()), items).await;
    check_arrived(&rig, out, &paths).await;
    assert_eq!(f.injected(), 6, "{}: every fault was met", R::NAME);
    let retries = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::Retry { .. }))
        .count();
    assert!(retries >= 6, "{}: {retries} retries", R::NAME);
}

pub async fn bad_names_refused_before_any_request<R: Rig>() {
    let rig = start::<R>().await;
    let dir = tempfile::tempdir().unwrap();
    let good = make_file(dir.path(), &name(0), 10, 1);
    let bad = make_file(dir.path(), R::BAD_NAME, 10, 2);
    let (engine, _) = engine(PlanPrefs::default());
    let portal = rig.portal(engine.http());
    let report = ferry_engine::scan::scan(&[good, bad.clone()], portal.as_ref())
        .expect_err("a bad name is refused");
    assert_eq!(report.problems.len(), 1, "{}: {report}", R::NAME);
    assert_eq!(report.problems[0].path(), bad.as_path());
    let text = report.to_string();
    assert!(text.contains("rename the file"), "{}: {text}", R::NAME);
    let sim = rig.sim();
    assert!(
        sim.storage_log().is_empty() && sim.api_log().is_empty() && sim.portal_log().is_empty(),
        "{}: a request was made",
        R::NAME
    );
}

pub async fn wrong_credentials_are_a_sign_in_error<R: Rig>() {
    let rig = start::<R>().await;
    let dir = tempfile::tempdir().unwrap();
    let paths = vec![
        make_file(dir.path(), &name(0), 100, 1),
        make_file(dir.path(), &name(1), 17 * MIB, 2),
    ];
    let (engine, _) = engine(PlanPrefs::default());
    let items = scan(&rig, &engine, &paths);
    let out = engine
        .upload(rig.portal_with_bad_credentials(engine.http()), items)
        .await;
    for o in out {
        let e = o.expect_err("refused");
        assert_eq!(e.class(), ErrorClass::Auth, "{}: {e}", R::NAME);
        assert!(!e.is_retryable());
    }
    assert!(
        rig.sim().storage_log().iter().all(|r| r.status >= 400),
        "{}: nothing may be stored",
        R::NAME
    );
}

pub async fn credential_stays_off_storage<R: Rig>() {
    let rig = start::<R>().await;
    let dir = tempfile::tempdir().unwrap();
    let paths = vec![
        make_file(dir.path(), &name(0), 2000, 1),
        make_file(dir.path(), &name(1), 17 * MIB, 2),
    ];
    let (engine, events) = engine(PlanPrefs::default());
    let items = scan(&rig, &engine, &paths);
    let out = engine.upload(rig.portal(engine.http()), items).await;
    check_arrived(&rig, out, &paths).await;
    // BaseSpace's parts go to its API host with `x-access-token`, as its
    // contract says; for every portal the storage requests carry no
    // Authorization header and no credential in the URL.
    let secret = rig.secret();
    let log = rig.sim().storage_log();
    let stored = log
        .iter()
        .filter(|r| (200..300).contains(&r.status))
        .count();
    assert!(
        stored >= paths.len(),
        "{}: {stored} storage requests logged for {} files",
        R::NAME,
        paths.len()
    );
    for r in log {
        assert!(r.authorization.is_none(), "{}: {r:?}", R::NAME);
        assert!(!r.query.contains(&secret) && !r.path.contains(&secret));
    }
    let shown = format!("{:?}", events.lock().unwrap());
    assert!(
        !shown.contains(&secret),
        "{}: the secret is in an event",
        R::NAME
    );
}

pub async fn interrupted_job_resumes<R: Rig>() {
    let rig = start::<R>().await;
    let dir = tempfile::tempdir().unwrap();
    let size = 30 * MIB + 5;
    let path = make_file(dir.path(), &name(0), size, 9);
    let journal = Arc::new(Journal::open(&dir.path().join("journal.sqlite")).unwrap());

    // First run: stop once something has been acknowledged (a part) or,
    // for a one-request portal, once bytes are on their way.
    let stop = CancellationToken::new();
    let s = stop.clone();
    let one_request = std::sync::atomic::AtomicBool::new(false);
    let (engine1, _) = engine_with(PlanPrefs::default(), move |e| match e {
        Event::FileQueued { parts, .. } => {
            one_request.store(*parts == 1, std::sync::atomic::Ordering::Relaxed)
        }
        Event::PartDone { .. } => s.cancel(),
        Event::Progress { file_sent, .. }
            if *file_sent > 4 * MIB && one_request.load(std::sync::atomic::Ordering::Relaxed) =>
        {
            s.cancel()
        }
        _ => {}
    });
    let items = scan(&rig, &engine1, std::slice::from_ref(&path));
    // Where there are parts, hold three of them at the storage so the
    // job is still sending when the first one is done and cancels it
    // (with every part in flight at once, all could finish before the
    // cancel lands).
    if R::MULTIPART {
        rig.sim()
            .faults()
            .storage_next(Fault::Stall(Duration::from_secs(2)), 3);
    }
    let job = journal
        .create_job(
            &ferry_engine::JobKind::Upload,
            &ferry_engine::JobParams::default(),
            &items,
        )
        .unwrap();
    let file = JobFile {
        item: items[0].clone(),
        cancel: Some(stop.clone()),
        prior: None,
    };
    let first = engine1
        .run(
            rig.portal(engine1.http()),
            vec![file],
            Some(journal.recorder(&job)),
        )
        .await;
    assert!(
        matches!(&first[0], Err(ferry_engine::Error::Cancelled)),
        "{}: {first:?}",
        R::NAME
    );
    // Let the server log any request the cancel cut short.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let acked_before = rig.parts_acknowledged();

    // Second run, as a new process would: from the journal alone.
    let rec = journal.job(&job).unwrap().unwrap();
    let mut steps = plan_resume(&rec);
    let Some(Step::Send {
        file,
        restart,
        parts_done,
    }) = steps.pop()
    else {
        panic!("{}: the file is to be sent", R::NAME)
    };
    let (engine2, events) = engine(PlanPrefs::default());
    let portal = rig.portal(engine2.http());
    let plan = engine2.plan(portal.as_ref(), size).unwrap();
    let continued = file.prior.is_some();
    let second = engine2
        .run(portal, vec![file], Some(journal.recorder(&job)))
        .await;
    let done = check_arrived(&rig, second, std::slice::from_ref(&path)).await;
    // The journal keeps ids and links, never the portal credential.
    drop(journal);
    // The journal itself must be there to be scanned (a scan of nothing
    // would pass); its write-ahead log may have been folded in on close.
    assert!(
        dir.path().join("journal.sqlite").is_file(),
        "{}: no journal at {}",
        R::NAME,
        dir.path().join("journal.sqlite").display()
    );
    for f in ["journal.sqlite", "journal.sqlite-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(f)) {
            let secret = rig.secret();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{}: the credential is in {f}",
                R::NAME
            );
        }
    }
    let sent_now = rig.parts_acknowledged() - acked_before;
    if plan.multipart {
        assert!(continued && restart.is_none(), "{}: {restart:?}", R::NAME);
        assert!(parts_done >= 1, "{}: a part was journaled", R::NAME);
        assert_eq!(
            sent_now,
            plan.parts as usize - parts_done,
            "{}: only unacknowledged parts go again",
            R::NAME
        );
        // The same upload (file id) was continued.
        let first_id = rec.files[0].upload.as_ref().unwrap().remote_id.clone();
        assert_eq!(done[0].remote_id, first_id, "{}", R::NAME);
    } else {
        let why = restart.unwrap_or_else(|| panic!("{}: a restart is reported", R::NAME));
        assert!(why.contains("from the start"), "{}: {why}", R::NAME);
        assert!(!continued);
        assert_eq!(sent_now, 1, "{}: the whole file went once more", R::NAME);
    }
    let sent_bytes: u64 = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::PartStarted { size, .. } => Some(*size),
            _ => None,
        })
        .sum();
    if plan.multipart {
        assert!(
            sent_bytes < size,
            "{}: {sent_bytes} of {size} bytes sent again",
            R::NAME
        );
    } else {
        assert_eq!(sent_bytes, size, "{}", R::NAME);
    }
}

pub async fn empty_file_stored_or_refused_before_any_request<R: Rig>() {
    let rig = start::<R>().await;
    let dir = tempfile::tempdir().unwrap();
    let empty = make_file(dir.path(), &name(0), 0, 1);
    let (engine, _) = engine(PlanPrefs::default());
    let portal = rig.portal(engine.http());
    assert_eq!(
        portal.accepts_empty(),
        R::ACCEPTS_EMPTY,
        "{}: empty files against the contract",
        R::NAME
    );
    if R::ACCEPTS_EMPTY {
        let items = scan(&rig, &engine, std::slice::from_ref(&empty));
        let out = engine.upload(portal, items).await;
        check_arrived(&rig, out, std::slice::from_ref(&empty)).await;
        return;
    }
    let report = ferry_engine::scan::scan(std::slice::from_ref(&empty), portal.as_ref())
        .expect_err("an empty file is refused");
    assert_eq!(report.problems.len(), 1, "{}: {report}", R::NAME);
    assert_eq!(report.problems[0].path(), empty.as_path());
    let text = report.to_string();
    assert!(
        text.contains("is empty") && text.contains("remove it from the list"),
        "{}: {text}",
        R::NAME
    );
    let sim = rig.sim();
    assert!(
        sim.storage_log().is_empty() && sim.api_log().is_empty() && sim.portal_log().is_empty(),
        "{}: a request was made",
        R::NAME
    );
}

/// The credential is revoked on the portal while a job runs (once the
/// first part is acknowledged): the job stops with a sign-in error that
/// says what to do; with a new credential, resume keeps what was
/// acknowledged and finishes the rest with equal hashes.
pub async fn revoked_mid_job_stops_then_resumes<R: Rig>() {
    let rig = start::<R>().await;
    let dir = tempfile::tempdir().unwrap();
    let paths = vec![
        make_file(dir.path(), &name(0), 1000, 1),
        make_file(dir.path(), &name(1), 20 * MIB + 3, 2),
        make_file(dir.path(), &name(2), 2000, 3),
    ];
    let journal = Arc::new(Journal::open(&dir.path().join("journal.sqlite")).unwrap());
    let revoke = rig.revoker();
    let once = std::sync::Once::new();
    // Revoked from the event handler, so before the engine goes on: the
    // acknowledged part's file still needs the credential to complete.
    let (engine1, _) = engine_with(PlanPrefs::default(), move |e| {
        if matches!(e, Event::PartDone { .. }) {
            once.call_once(|| revoke());
        }
    });
    let items = scan(&rig, &engine1, &paths);
    let job = journal
        .create_job(
            &ferry_engine::JobKind::Upload,
            &ferry_engine::JobParams::default(),
            &items,
        )
        .unwrap();
    let files: Vec<JobFile> = items.into_iter().map(JobFile::from).collect();
    let first = engine1
        .run(
            rig.portal(engine1.http()),
            files,
            Some(journal.recorder(&job)),
        )
        .await;
    let mut stopped = 0;
    for (o, p) in first.iter().zip(&paths) {
        if let Err(e) = o {
            assert_eq!(
                e.class(),
                ErrorClass::Auth,
                "{}: {}: {e}",
                R::NAME,
                p.display()
            );
            assert!(!e.is_retryable());
            let text = e.to_string();
            assert!(text.contains(R::FIX), "{}: {text}", R::NAME);
            stopped += 1;
        }
    }
    assert!(
        stopped >= 1,
        "{}: the job stopped on the revoked credential",
        R::NAME
    );
    let acked_before = rig.parts_acknowledged();

    // Resume as a new process would, from the journal, with a new credential.
    let rec = journal.job(&job).unwrap().unwrap();
    let (engine2, _) = engine(PlanPrefs::default());
    let portal = rig.portal(engine2.http());
    let (mut kept, mut resend, mut resend_paths) = (Vec::new(), Vec::new(), Vec::new());
    let (mut parts_kept, mut parts_to_send) = (0, 0);
    for (i, step) in plan_resume(&rec).into_iter().enumerate() {
        match step {
            Step::Done(u) => {
                assert!(first[i].is_ok(), "{}: {} was not done", R::NAME, u.name);
                kept.push(u);
            }
            Step::Send {
                file, parts_done, ..
            } => {
                assert!(first[i].is_err(), "{}: file {i} is sent twice", R::NAME);
                let plan = engine2.plan(portal.as_ref(), file.item.size).unwrap();
                parts_kept += parts_done;
                parts_to_send += plan.parts as usize - parts_done;
                resend_paths.push(paths[i].clone());
                resend.push(file);
            }
            Step::Refused(e) => panic!("{}: {e}", R::NAME),
        }
    }
    assert_eq!(kept.len() + resend.len(), paths.len());
    if R::MULTIPART {
        // At least the part whose acknowledgement set off the revocation.
        assert!(parts_kept >= 1, "{}: acknowledged parts were kept", R::NAME);
    }
    let second = engine2
        .run(portal, resend, Some(journal.recorder(&job)))
        .await;
    check_arrived(&rig, second, &resend_paths).await;
    assert_eq!(
        rig.parts_acknowledged() - acked_before,
        parts_to_send,
        "{}: only what was not acknowledged went again",
        R::NAME
    );
    // What the portal accepted before the revocation is still there.
    for u in &kept {
        let p = paths.iter().find(|p| p.ends_with(&u.name)).unwrap();
        let (_, stored) = rig.stored(u).await.expect("kept file stored");
        assert_eq!(stored, sha256_file(p), "{}: {}", R::NAME, u.name);
        assert!(rig.accepted(u), "{}: {}", R::NAME, u.name);
    }
}

/// A storage that lies: it stores the bytes but answers one part with an
/// ETag that is not their MD5 and another with an empty one. Where the
/// portal's ETag is the part's MD5 (Loculus' S3 parts, BaseSpace parts)
/// the engine must catch both and send those parts again. One Codex's
/// single POST has no part ETag in its contract, so nothing can be caught
/// from the answer; there the suite checks what a user can: after
/// `confirm_upload` the stored object has the file's size and SHA-256, the
/// sample is confirmed, and the file went in one POST, not re-sent.
pub async fn storage_that_lies_is_caught<R: Rig>() {
    let rig = start::<R>().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, events) = engine(R::sizes().1);
    let portal = rig.portal(engine.http());
    let md5 = R::ETAG_IS_MD5;
    assert_eq!(
        portal.etag_is_md5(),
        md5,
        "{}: ETag checks against the contract",
        R::NAME
    );
    // Where there are parts: one file of several, so both lies land on its
    // parts whatever order they go in. Else two files, one POST each.
    let mut paths = vec![make_file(dir.path(), &name(0), 30 * MIB + 3, 9)];
    if !md5 {
        paths.push(make_file(dir.path(), &name(1), MIB + 5, 10));
    }
    let f = rig.sim().faults();
    f.storage_next(Fault::CorruptEtag, 1);
    f.storage_next(Fault::EmptyEtag, 1);
    let items = scan(&rig, &engine, &paths);
    let out = engine.upload(portal, items).await;
    check_arrived(&rig, out, &paths).await;
    assert_eq!(f.injected(), 2, "{}: both lies were told", R::NAME);
    let ev = events.lock().unwrap().clone();
    let planned: u32 = ev
        .iter()
        .filter_map(|e| match e {
            Event::FileQueued { parts, .. } => Some(*parts),
            _ => None,
        })
        .sum();
    let reasons: Vec<&str> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Retry { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    if md5 {
        assert!(planned >= 2, "{}: {planned} parts", R::NAME);
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("is not the MD5 of the bytes sent")),
            "{}: the wrong ETag was not caught: {reasons:?}",
            R::NAME
        );
        assert!(
            reasons.iter().any(|r| r.contains("without an ETag")),
            "{}: the empty ETag was not caught: {reasons:?}",
            R::NAME
        );
        assert_eq!(
            rig.parts_acknowledged(),
            planned as usize + 2,
            "{}: the two parts it lied about were sent again, no other",
            R::NAME
        );
    } else {
        assert_eq!(planned, 2, "{}: one POST per file", R::NAME);
        assert!(reasons.is_empty(), "{}: {reasons:?}", R::NAME);
        assert_eq!(rig.parts_acknowledged(), 2, "{}: each sent once", R::NAME);
    }
}
