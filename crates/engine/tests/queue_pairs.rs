//! One Codex pairs in the desktop queue: a pair half sent when the app
//! closed goes again whole, as one sample, after the restart; a file sent
//! in one request says it is sent again from the start when retried.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{make_file, sha256_file};
use ferry_engine::journal::Journal;
use ferry_engine::onecodex::{OneCodex, OneCodexNames};
use ferry_engine::queue::{Queue, Status};
use ferry_engine::retry::RetryPolicy;
use ferry_engine::{Destination, EngineConfig, Portal, PortalKind, Secret};
use ferry_sim::{Fault, Sim, SimConfig};

/// The portal as the app makes it at sign-in: it knows no pairs yet.
fn portal(sim: &Sim) -> Arc<dyn Portal> {
    Arc::new(
        OneCodex::new(
            ferry_engine::transfer::http_client().unwrap(),
            &format!("{}/api/v1", sim.onecodex_url()),
            Secret::new(sim.onecodex_api_key()),
            vec![],
        )
        .unwrap(),
    )
}

fn dest(sim: &Sim) -> Destination {
    Destination {
        kind: PortalKind::Onecodex,
        base: Some(format!("{}/api/v1", sim.onecodex_url())),
        ..Destination::default()
    }
}

fn cfg() -> EngineConfig {
    EngineConfig {
        // One request at a time: R1's POST is the first storage request.
        parts_in_flight: 1,
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
        },
        ..EngineConfig::default()
    }
}

fn queue(journal: &Path) -> Arc<Queue> {
    Queue::with_journal(
        cfg(),
        Arc::new(OneCodexNames),
        Arc::new(Journal::open(journal).unwrap()),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_pair_resumed_after_a_restart_goes_again_as_one_sample() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let d = tempfile::tempdir().unwrap();
    let journal = d.path().join("journal.sqlite");
    let r1 = make_file(d.path(), "s_R1.fastq.gz", 3000, 1);
    let r2 = make_file(d.path(), "s_R2.fastq.gz", 5000, 2);

    // First session: R1 is stored, R2's POST is held, and the app closes.
    let first = queue(&journal);
    first.set_portal(Some(portal(&sim)), dest(&sim));
    first.add(&[r1.clone(), r2.clone()]);
    assert_eq!(first.row(0).unwrap().mate.as_deref(), Some("s_R2.fastq.gz"));
    let f = sim.faults();
    f.storage_next(Fault::Stall(Duration::ZERO), 1);
    f.storage_next(Fault::Stall(Duration::from_secs(5)), 1);
    assert_eq!(first.start().unwrap(), 2);
    wait(&first, 0, Status::Done).await;
    wait(&first, 1, Status::Sending).await;
    first.pause(1);
    wait(&first, 1, Status::Paused).await;
    assert!(
        sim.onecodex_samples().iter().all(|s| !s.confirmed),
        "nothing is confirmed with half a pair"
    );
    drop(first);

    // After the restart: a new portal (no pairs known), the job resumed.
    let second = queue(&journal);
    second.set_portal(Some(portal(&sim)), dest(&sim));
    let job = second.unfinished().unwrap().remove(0);
    assert!(job.here);
    // Hold the first API call so the rows can be read before they finish.
    sim.faults()
        .api_next(Fault::Stall(Duration::from_millis(500)), 1);
    second.resume_job(&job.summary.id).unwrap();
    for id in [0, 1] {
        let w = second.row(id).unwrap().warning.unwrap_or_default();
        assert!(w.contains("sent again from the start"), "row {id}: {w}");
    }
    wait(&second, 0, Status::Done).await;
    wait(&second, 1, Status::Done).await;
    let (a, b) = (second.row(0).unwrap(), second.row(1).unwrap());
    assert_eq!(a.remote_id, b.remote_id, "one sample for the pair");
    let confirmed: Vec<_> = sim
        .onecodex_samples()
        .into_iter()
        .filter(|s| s.confirmed)
        .collect();
    assert_eq!(confirmed.len(), 1, "{confirmed:?}");
    let s = &confirmed[0];
    assert_eq!(Some(&s.sample_id), a.remote_id.as_ref());
    assert_eq!(s.filename, "s_R1.fastq.gz");
    assert_eq!(s.paired_end_filename.as_deref(), Some("s_R2.fastq.gz"));
    for (key, path) in s.keys.iter().zip([&r1, &r2]) {
        let (_, sha) = sim.object_sha256_at(key).await.unwrap();
        assert_eq!(sha, sha256_file(path), "{key}");
    }
    assert_eq!(a.sha256.as_deref(), Some(sha256_file(&r1).as_str()));
    assert_eq!(b.sha256.as_deref(), Some(sha256_file(&r2).as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_request_file_retried_or_resumed_says_it_starts_over() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let d = tempfile::tempdir().unwrap();
    let p = make_file(d.path(), "solo.fastq", 4000, 3);
    let q = queue(&d.path().join("journal.sqlite"));
    q.set_portal(Some(portal(&sim)), dest(&sim));
    q.add(std::slice::from_ref(&p));
    // Every attempt fails: the row keeps the last retry's note.
    sim.faults().storage_next(Fault::Status(500), 3);
    q.start().unwrap();
    wait(&q, 0, Status::Failed).await;
    let r = q.row(0).unwrap();
    let w = r.warning.unwrap_or_default();
    assert!(w.contains("sent again from the start"), "{w}");
    // Sent again by hand: it cannot continue where it stopped, and says so.
    sim.faults()
        .api_next(Fault::Stall(Duration::from_millis(500)), 1);
    q.resume(0).unwrap();
    let w = q.row(0).unwrap().warning.unwrap_or_default();
    assert!(w.contains("sent again from the start"), "{w}");
    wait(&q, 0, Status::Done).await;
    let r = q.row(0).unwrap();
    assert_eq!(r.sha256.as_deref(), Some(sha256_file(&p).as_str()));
    let s = sim
        .onecodex_samples()
        .into_iter()
        .find(|s| Some(&s.sample_id) == r.remote_id.as_ref())
        .unwrap();
    assert!(s.confirmed);
}
