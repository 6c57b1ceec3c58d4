//! The interactive queue (what the desktop app drives) and the Keycloak
//! token source, against the simulator on a real S3 server.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_engine::Portal;
use ferry_engine::job::Account;
use ferry_engine::journal::Journal;
use ferry_engine::loculus::Loculus;
use ferry_engine::loculus::keycloak::Keycloak;
use ferry_engine::loculus::names::LoculusNames;
use ferry_engine::queue::{PartState, Queue, Status};
use ferry_engine::{Destination, EngineConfig, Secret, TokenSource};
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

fn dest(sim: &Sim) -> Destination {
    Destination::loculus(&sim.backend_url(), 1)
}

/// Part PUTs the storage answered with success for one file id, in order.
fn parts_sent(sim: &Sim, file_id: &str) -> Vec<u32> {
    sim.storage_log()
        .iter()
        .filter(|r| r.method == "PUT" && r.status == 200 && r.path.contains(file_id))
        .filter_map(|r| {
            r.query
                .split('&')
                .find_map(|kv| kv.strip_prefix("partNumber="))
                .and_then(|n| n.parse().ok())
        })
        .collect()
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

    q.set_portal(Some(portal), dest(&sim));
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
    assert_eq!(r.parts.to_string(), "ddd");
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
    q.set_portal(Some(portal), dest(&sim));
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
    // The cancelled file sent nothing while the other failed and went on:
    // it has no file id yet, and none of the storage requests so far is
    // to the id it gets when it is resumed.
    assert_eq!(
        q.row(1).unwrap().remote_id,
        None,
        "cancelled b.fq got an id"
    );
    let before: Vec<String> = sim.storage_log().into_iter().map(|r| r.path).collect();
    assert!(!before.is_empty(), "a.fq sent nothing");
    q.resume(1).unwrap();
    wait(&q, 1, Status::Done).await;
    let b_id = q.row(1).unwrap().remote_id.expect("b.fq's file id");
    assert!(
        !before.iter().any(|p| p.contains(&b_id)),
        "b.fq was sent while cancelled: {before:?}"
    );
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

    // A token is refreshed 5 minutes before it expires, or half-way
    // through its life when it is shorter: one that lives 4 s is used for
    // 2 s, then replaced.
    let sim = Sim::start(SimConfig {
        token_lifetime: Duration::from_secs(4),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let kc = signed_in(&sim).await;
    let a = kc.token().await.unwrap();
    assert_eq!(kc.token().await.unwrap(), a, "reused in its first half");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_ne!(kc.token().await.unwrap(), a, "replaced in its second half");
    sim.shutdown().await;
}

/// The desktop queue with a journal: a window closed mid-upload leaves the
/// acknowledged parts recorded; the next session offers the job, and
/// resuming it sends only the parts the storage has not acknowledged.
#[tokio::test(flavor = "multi_thread")]
async fn a_closed_session_resumes_with_only_the_missing_parts() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let kc = signed_in(&sim).await;
    let http = ferry_engine::transfer::http_client().unwrap();
    let portal: Arc<dyn Portal> = Arc::new(Loculus::new(http, &sim.backend_url(), 1, kc).unwrap());
    let d = tempfile::tempdir().unwrap();
    let journal_path = d.path().join("journal.sqlite");
    let cfg = EngineConfig {
        parts_in_flight: 2,
        ..EngineConfig::default()
    };
    let big = d.path().join("big.fq");
    let big_sha = write(&big, 40 * 1024 * 1024 + 5, 7);
    let small = d.path().join("small.fq");
    let small_sha = write(&small, 2000, 8);

    let first = Queue::with_journal(
        cfg.clone(),
        Arc::new(LoculusNames),
        Arc::new(Journal::open(&journal_path).unwrap()),
    );
    first.set_portal(Some(portal.clone()), dest(&sim));
    first.add(&[big.clone(), small.clone()]);
    assert_eq!(first.start().unwrap(), 2);
    // Let two of the five parts land, then close the session.
    let deadline = Instant::now() + Duration::from_secs(60);
    while first.row(0).unwrap().parts.count(PartState::Done) < 2 {
        assert!(Instant::now() < deadline, "no parts acknowledged");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sim.faults()
        .storage_next(Fault::Stall(Duration::from_millis(800)), 4);
    first.pause_all();
    wait(&first, 0, Status::Paused).await;
    let held = first.row(0).unwrap().parts.count(PartState::Done);
    let file_id = first.row(0).unwrap().remote_id.unwrap();
    drop(first);

    let second = Queue::with_journal(
        cfg,
        Arc::new(LoculusNames),
        Arc::new(Journal::open(&journal_path).unwrap()),
    );
    let before = parts_sent(&sim, &file_id).len();
    // Offered before sign-in, but only resumable on the portal it began on.
    let offered = second.unfinished().unwrap();
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].summary.files, 2);
    assert!(!offered[0].here);
    assert!(
        second
            .resume_job(&offered[0].summary.id)
            .unwrap_err()
            .contains("sign in")
    );
    second.set_portal(Some(portal), dest(&sim));
    let job = second.unfinished().unwrap().remove(0);
    assert!(job.here);
    let n = second.resume_job(&job.summary.id).unwrap();
    assert!(n >= 1, "the big file goes on");
    wait(&second, 0, Status::Done).await;
    wait(&second, 1, Status::Done).await;
    let r = second.row(0).unwrap();
    assert_eq!(
        r.remote_id.as_deref(),
        Some(file_id.as_str()),
        "same upload continued"
    );
    assert_eq!(r.sha256.as_deref(), Some(big_sha.as_str()));
    let resent = parts_sent(&sim, &file_id)[before..].to_vec();
    assert_eq!(
        resent.len(),
        r.parts.len() - held,
        "only the missing parts: {resent:?}, {held} held"
    );
    let stored = sim.object_sha256(&file_id).await;
    assert_eq!(stored.map(|(_, h)| h), Some(big_sha));
    let s = second.row(1).unwrap();
    let stored = sim.object_sha256(s.remote_id.as_ref().unwrap()).await;
    assert_eq!(stored.map(|(_, h)| h), Some(small_sha));
    // Finished: no longer offered.
    assert!(second.unfinished().unwrap().is_empty());
    let third = Queue::with_journal(
        EngineConfig::default(),
        Arc::new(LoculusNames),
        Arc::new(Journal::open(&journal_path).unwrap()),
    );
    assert!(third.unfinished().unwrap().is_empty());
    sim.shutdown().await;
}

/// A sign-in revoked on the portal mid-upload pauses the file and asks to
/// sign in again; signing in continues it from its acknowledged parts.
#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_sign_in_pauses_and_signing_in_again_continues() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let kc = signed_in(&sim).await;
    let http = ferry_engine::transfer::http_client().unwrap();
    let portal: Arc<dyn Portal> =
        Arc::new(Loculus::new(http.clone(), &sim.backend_url(), 1, kc).unwrap());
    let d = tempfile::tempdir().unwrap();
    let q = Queue::with_journal(
        EngineConfig::default(),
        Arc::new(LoculusNames),
        Arc::new(Journal::open(&d.path().join("j.sqlite")).unwrap()),
    );
    q.set_portal(Some(portal), dest(&sim));
    let big = d.path().join("big.fq");
    let sha = write(&big, 40 * 1024 * 1024, 9);
    q.add(std::slice::from_ref(&big));
    // Parts are slow, so the revocation lands before the completion call.
    sim.faults()
        .storage_next(Fault::Stall(Duration::from_millis(700)), 2);
    q.start().unwrap();
    wait(&q, 0, Status::Sending).await;
    assert!(sim.revoke_sessions("demo") > 0);
    wait(&q, 0, Status::Paused).await;
    let r = q.row(0).unwrap();
    let err = r.error.unwrap();
    assert!(err.contains("sign in again"), "{err}");
    let u = q.take_update().unwrap();
    assert_eq!(u.totals.need_sign_in, 1);
    let file_id = r.remote_id.unwrap();
    let before = parts_sent(&sim, &file_id).len();
    assert_eq!(
        before,
        r.parts.len(),
        "every part was acknowledged before the completion was refused"
    );

    let kc = signed_in(&sim).await;
    let portal: Arc<dyn Portal> = Arc::new(Loculus::new(http, &sim.backend_url(), 1, kc).unwrap());
    q.set_portal(Some(portal), dest(&sim));
    wait(&q, 0, Status::Done).await;
    let r = q.row(0).unwrap();
    assert_eq!(r.remote_id.as_deref(), Some(file_id.as_str()));
    assert_eq!(
        parts_sent(&sim, &file_id).len(),
        before,
        "no part sent twice"
    );
    assert_eq!(sim.object_sha256(&file_id).await.map(|(_, h)| h), Some(sha));
    assert_eq!(q.take_update().unwrap().totals.need_sign_in, 0);
    sim.shutdown().await;
}

/// Discard (the desktop's answer to an earlier session's job): the job is
/// forgotten, no longer offered, and a job of this session's list is not
/// discarded from under its files.
#[tokio::test(flavor = "multi_thread")]
async fn discarding_an_earlier_sessions_job_forgets_it() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let kc = signed_in(&sim).await;
    let http = ferry_engine::transfer::http_client().unwrap();
    let portal: Arc<dyn Portal> = Arc::new(Loculus::new(http, &sim.backend_url(), 1, kc).unwrap());
    let d = tempfile::tempdir().unwrap();
    let journal_path = d.path().join("journal.sqlite");
    let kept = d.path().join("kept.fq");
    write(&kept, 12 * 1024 * 1024, 3);
    // Hold the parts so the session closes mid-upload.
    sim.faults()
        .storage_next(Fault::Stall(Duration::from_millis(1500)), 2);
    let first = Queue::with_journal(
        EngineConfig::default(),
        Arc::new(LoculusNames),
        Arc::new(Journal::open(&journal_path).unwrap()),
    );
    first.set_portal(Some(portal.clone()), dest(&sim));
    first.add(std::slice::from_ref(&kept));
    assert_eq!(first.start().unwrap(), 1);
    wait(&first, 0, Status::Sending).await;
    first.pause_all();
    wait(&first, 0, Status::Paused).await;
    drop(first);

    let second = Queue::with_journal(
        EngineConfig::default(),
        Arc::new(LoculusNames),
        Arc::new(Journal::open(&journal_path).unwrap()),
    );
    second.set_portal(Some(portal), dest(&sim));
    let offered = second.unfinished().unwrap();
    assert_eq!(offered.len(), 1, "the earlier session's job is offered");
    let id = offered[0].summary.id.clone();
    second.discard_job(&id).unwrap();
    assert!(second.unfinished().unwrap().is_empty(), "no longer offered");
    let j = Journal::open(&journal_path).unwrap();
    assert!(j.job(&id).unwrap().is_none(), "gone from the journal");
    assert!(j.jobs(true).unwrap().is_empty());
    assert!(
        second.discard_job(&id).unwrap_err().contains("no job"),
        "a second discard says there is nothing"
    );

    // A job of this session's list stays: its files are cancelled instead.
    sim.faults()
        .storage_next(Fault::Stall(Duration::from_millis(1500)), 2);
    second.add(std::slice::from_ref(&kept));
    assert_eq!(second.start().unwrap(), 1);
    let mine = second.jobs_of(std::slice::from_ref(&kept));
    assert_eq!(mine.len(), 1);
    let e = second.discard_job(&mine[0]).unwrap_err();
    assert!(e.contains("in the list"), "{e}");
    assert!(j.job(&mine[0]).unwrap().is_some(), "kept");
    second.cancel_all();
    sim.shutdown().await;
}

/// A job sent for another of the account's groups than the one the next
/// session signs in with (the wizard's group was switched, then the window
/// closed mid-upload) is offered, and goes on for its own group: a file
/// sent again asks for its new upload for that group, not the session's.
/// Another account's job is still not taken up.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_of_another_group_is_offered_and_resumes_for_its_own_group() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = ferry_engine::transfer::http_client().unwrap();
    // The curator may upload for every group.
    let kc = Arc::new(
        Keycloak::sign_in(
            http.clone(),
            &sim.backend_url(),
            "curator",
            &Secret::new("curator"),
            None,
        )
        .await
        .unwrap(),
    );
    let session = Loculus::new(http, &sim.backend_url(), 1, kc).unwrap();
    let other: Arc<dyn Portal> = Arc::new(session.with_group(2));
    let session: Arc<dyn Portal> = Arc::new(session);
    let dest = |user: &str, group: i64| Destination {
        account: Some(Account {
            portal_name: None,
            user: Some(user.into()),
        }),
        ..Destination::loculus(&sim.backend_url(), group)
    };
    let d = tempfile::tempdir().unwrap();
    let journal_path = d.path().join("journal.sqlite");
    // One request, held so the session closes before it lands.
    let reads = d.path().join("reads.fq");
    let reads_sha = write(&reads, 3000, 5);
    sim.faults()
        .storage_next(Fault::Stall(Duration::from_millis(3000)), 1);
    let first = Queue::with_journal(
        EngineConfig::default(),
        Arc::new(LoculusNames),
        Arc::new(Journal::open(&journal_path).unwrap()),
    );
    first.set_portal(Some(other), dest("curator", 2));
    first.add(std::slice::from_ref(&reads));
    assert_eq!(first.start().unwrap(), 1);
    wait(&first, 0, Status::Sending).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let first_id = loop {
        if let Some(id) = first.row(0).unwrap().remote_id {
            break id;
        }
        assert!(Instant::now() < deadline, "no upload begun");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    first.pause_all();
    wait(&first, 0, Status::Paused).await;
    drop(first);
    assert_eq!(sim.file(&first_id).unwrap().group_id, 2);

    let second = Queue::with_journal(
        EngineConfig::default(),
        Arc::new(LoculusNames),
        Arc::new(Journal::open(&journal_path).unwrap()),
    );
    // Another account on the same instance: not its job.
    second.set_portal(Some(session.clone()), dest("demo", 1));
    let offered = second.unfinished().unwrap();
    assert_eq!(offered.len(), 1);
    assert!(!offered[0].here, "another account's job");
    let e = second.resume_job(&offered[0].summary.id).unwrap_err();
    assert!(e.contains("sign in there"), "{e}");

    // The same account, signed in for group 1 now.
    second.set_portal(Some(session), dest("curator", 1));
    let job = second.unfinished().unwrap().remove(0);
    assert!(job.here, "the account's own job, for its other group");
    assert_eq!(job.destination.destination.group, Some(2));
    assert_eq!(second.resume_job(&job.summary.id).unwrap(), 1);
    wait(&second, 0, Status::Done).await;
    let r = second.row(0).unwrap();
    let again = r.remote_id.unwrap();
    assert_ne!(
        again, first_id,
        "a single request goes again under a new id"
    );
    let rec = sim.file(&again).unwrap();
    assert_eq!(rec.group_id, 2, "uploaded for the job's group, not group 1");
    let stored = sim.object_sha256(&again).await;
    assert_eq!(stored.map(|(_, h)| h), Some(reads_sha));
    // Finished: not offered again.
    assert!(second.unfinished().unwrap().is_empty());
    sim.shutdown().await;
}
