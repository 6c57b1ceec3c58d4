//! Journals written before job params were typed (Ferry 0.1, in
//! `fixtures/journal-0.1.sql`: the app's, the CLI's Loculus upload and
//! folder submit, One Codex with pairs, BaseSpace, the wizard's
//! submit-only job and a watched run) read into the typed contract with
//! no migration, write back the very JSON they hold, and go on: the app's
//! job is offered and resumed by the desktop queue against the simulator
//! (the bytes stored equal the file), the CLI's continues from its
//! acknowledged parts.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_engine::job::{Account, Then};
use ferry_engine::journal::Journal;
use ferry_engine::loculus::Loculus;
use ferry_engine::loculus::names::LoculusNames;
use ferry_engine::queue::{Queue, Status};
use ferry_engine::resume::{Step, plan_resume};
use ferry_engine::{
    Destination, EngineConfig, FileState, JobKind, JobState, PortalKind, StaticToken,
};
use ferry_sim::{Sim, SimConfig};
use sha2::{Digest, Sha256};

const DEMO: &str = "Demo portal (this computer)";

/// The fixture as a journal file in `dir`, its placeholders filled in.
fn fixture(dir: &Path, backend: &str, onecodex: &str, basespace: &str) -> PathBuf {
    let sql = include_str!("fixtures/journal-0.1.sql")
        .replace("{dir}", &dir.display().to_string())
        .replace("{backend}", backend)
        .replace("{onecodex}", onecodex)
        .replace("{basespace}", basespace);
    let path = dir.join("journal.sqlite");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(&sql)
        .unwrap();
    path
}

/// The params each job holds, as stored.
fn raw_params(path: &Path) -> Vec<(String, serde_json::Value)> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut st = c
        .prepare("SELECT id, params FROM jobs ORDER BY id")
        .unwrap();
    st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(|r| {
            let (id, p) = r.unwrap();
            (id, serde_json::from_str(&p).unwrap())
        })
        .collect()
}

fn write(path: &Path, size: usize, seed: u8) -> String {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let data: Vec<u8> = (0..size)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect();
    std::fs::write(path, &data).unwrap();
    hex::encode(Sha256::digest(&data))
}

#[test]
fn every_params_shape_of_the_last_release_reads_typed_and_writes_back_the_same() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let path = fixture(
        dir,
        "http://127.0.0.1:8079",
        "http://127.0.0.1:8081/api/v1",
        "http://127.0.0.1:8082/v1pre3",
    );
    let raw = raw_params(&path);
    assert_eq!(raw.len(), 7, "every job of the fixture");
    let j = Journal::open(&path).unwrap();
    for (id, stored) in &raw {
        let rec = j.job(id).unwrap().expect("the job reads");
        assert_eq!(
            &serde_json::to_value(&rec.params).unwrap(),
            stored,
            "{id}: written back as it was"
        );
    }
    // Every kind the last release wrote reads as the kind it names.
    let kinds: Vec<(String, JobKind)> = j
        .jobs(true)
        .unwrap()
        .into_iter()
        .map(|s| (s.id, s.kind))
        .collect();
    for (id, kind) in [
        ("appjob000001", JobKind::App),
        ("cliupload001", JobKind::Upload),
        ("clifolder001", JobKind::Submit),
        ("onecodex0001", JobKind::Upload),
        ("basespace001", JobKind::Upload),
        ("wizsubmit001", JobKind::WizardSubmit),
        ("appwatch0001", JobKind::Upload),
    ] {
        assert!(
            kinds.contains(&(id.to_string(), kind.clone())),
            "{id}: {kinds:?}"
        );
    }
    let params = |id: &str| j.job(id).unwrap().unwrap().params;

    let app = params("appjob000001");
    assert_eq!(app.destination.kind, PortalKind::Loculus);
    assert_eq!(
        app.destination.base.as_deref(),
        Some("http://127.0.0.1:8079")
    );
    assert_eq!(app.destination.group, Some(1));
    assert_eq!(
        app.destination.account,
        Some(Account {
            portal_name: Some(DEMO.into()),
            user: Some("demo".into()),
        })
    );
    let Some(Then::Wizard(w)) = &app.then else {
        panic!("the wizard's step: {:?}", app.then);
    };
    assert_eq!(w.folder, dir.join("batch"));
    assert_eq!(w.organism.key, "dummy-organism-with-files");
    assert_eq!(w.exclude, ["row9"]);

    let upload = params("cliupload001");
    assert_eq!(
        upload.destination,
        Destination::loculus("http://127.0.0.1:8079", 1)
    );
    assert_eq!((upload.parts_in_flight, &upload.then), (Some(4), &None));

    let folder = params("clifolder001");
    let Some(Then::Submit(s)) = &folder.then else {
        panic!("the submit settings: {:?}", folder.then);
    };
    assert_eq!(s.restricted_until.as_deref(), Some("2027-01-01"));
    let f = s.folder.as_ref().expect("a folder submit");
    assert_eq!(
        (f.dir.clone(), f.receipt.clone()),
        (dir.join("batch"), dir.join("batch/ferry-receipt.csv"))
    );

    let oc = params("onecodex0001");
    assert_eq!(oc.destination.kind, PortalKind::Onecodex);
    assert_eq!(
        oc.destination.base.as_deref(),
        Some("http://127.0.0.1:8081/api/v1")
    );
    assert_eq!(oc.destination.pairs.len(), 1);
    assert_eq!(oc.destination.pairs[0].r1_size, 4000);
    let names = ["s_R1.fastq.gz".to_string(), "s_R2.fastq.gz".to_string()];
    assert_eq!(oc.pair_indices(&names), [(0, 1)]);

    let bs = params("basespace001");
    assert_eq!(bs.destination.kind, PortalKind::Basespace);
    assert_eq!(bs.destination.appresult.as_deref(), Some("42"));
    assert_eq!(
        bs.destination.describe(),
        "http://127.0.0.1:8082/v1pre3 (AppResult 42)"
    );

    let wiz = params("wizsubmit001");
    assert_eq!(wiz.then, Some(Then::SubmitFolder(dir.join("batch"))));
    let watched = params("appwatch0001");
    let run = watched.watch.as_ref().expect("the watched run");
    assert_eq!(run.identity, dir.join("watched/run1").display().to_string());
    assert_eq!(run.marker.as_deref(), Some("CopyComplete.txt"));

    // States: typed, and the unfinished ones are what resume offers.
    let states: Vec<(String, JobState)> = j
        .jobs(true)
        .unwrap()
        .into_iter()
        .map(|s| (s.id, s.state))
        .collect();
    assert!(states.contains(&("basespace001".into(), JobState::Done)));
    assert_eq!(j.jobs(false).unwrap().len(), 6);
    let files = j.job("onecodex0001").unwrap().unwrap().files;
    assert_eq!(
        files.iter().map(|f| f.state).collect::<Vec<_>>(),
        [FileState::Done, FileState::Failed]
    );
}

#[test]
fn the_clis_upload_continues_from_its_acknowledged_parts() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let path = fixture(dir, "http://127.0.0.1:8079", "x", "y");
    let reads = std::fs::File::create(dir.join("reads.fq")).unwrap();
    reads.set_len(12_582_912).unwrap();
    let j = Journal::open(&path).unwrap();
    let rec = j.job("cliupload001").unwrap().unwrap();
    let steps = plan_resume(&rec);
    assert!(
        matches!(
            &steps[..],
            [Step::Send { file, restart: None, parts_done: 2 }]
                if file.prior.as_ref().is_some_and(|p| p.done.len() == 2)
        ),
        "{steps:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_apps_job_is_offered_and_resumed_by_the_queue() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let path = fixture(dir, &sim.backend_url(), "x", "y");
    let sha = write(&dir.join("batch/s2/b_R1.fastq"), 5000, 3);
    let http = ferry_engine::transfer::http_client().unwrap();
    let portal = Arc::new(
        Loculus::new(
            http,
            &sim.backend_url(),
            1,
            Arc::new(StaticToken::new(sim.demo_token())),
        )
        .unwrap(),
    );
    let q = Queue::with_journal(
        EngineConfig::default(),
        Arc::new(LoculusNames),
        Arc::new(Journal::open(&path).unwrap()),
    );
    // What the app's session says now (session::destination).
    let here = Destination {
        account: Some(Account {
            portal_name: Some(DEMO.into()),
            user: Some("demo".into()),
        }),
        ..Destination::loculus(&sim.backend_url(), 1)
    };
    q.set_portal(Some(portal), here);
    let offered = q.unfinished().unwrap();
    assert_eq!(
        offered
            .iter()
            .map(|r| (r.summary.id.as_str(), r.here))
            .collect::<Vec<_>>(),
        [("appjob000001", true)],
        "only the app's job, and it can go on here"
    );
    // The window sees the journaled params as before.
    let shown = serde_json::to_value(&offered[0]).unwrap();
    assert_eq!(shown["destination"]["portal_name"], DEMO);
    assert_eq!(
        shown["destination"]["then"]["wizard"]["organism"]["displayName"],
        "Test organism"
    );
    assert!(matches!(q.job_then("appjob000001"), Some(Then::Wizard(_))));
    assert_eq!(q.resume_job("appjob000001").unwrap(), 1);
    let deadline = Instant::now() + Duration::from_secs(60);
    let row = loop {
        let rows = q.rows();
        let r = rows
            .iter()
            .find(|r| r.name == "b_R1.fastq")
            .unwrap()
            .clone();
        if r.status == Status::Done {
            break r;
        }
        assert_ne!(r.status, Status::Failed, "{:?}", r.error);
        assert!(Instant::now() < deadline, "not sent: {r:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let stored = sim.object_sha256(row.remote_id.as_ref().unwrap()).await;
    assert_eq!(stored, Some((5000, sha)), "the bytes stored are the file's");
    sim.shutdown().await;
}
