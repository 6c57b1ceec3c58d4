//! A watched run folder submitted as a batch through ferry-front's one
//! `SubmitRuns` handler (`ferry watch --submit` and the app's Watched
//! folders panel), against the real simulator: a run with a problem waits
//! with its report; once clean it is a submit job that uploads, submits
//! (the files checked attached, which the panel's own handler never did)
//! and writes its receipt, and the presenter gets the accessions.

use std::path::Path;
use std::sync::{Arc, Mutex};

use ferry_engine::loculus::{Linkage, Loculus};
use ferry_engine::watch::{Prepared, ReadyRun, RunHandler, SendFailure};
use ferry_engine::{
    Destination, Engine, EngineConfig, EventSink, JobFile, JobParams, StaticToken, Then,
};
use ferry_front::watch_submit::{Recheck, RunPresenter, SubmitRuns};
use ferry_front::{SubmitFailure, Submitted};
use ferry_sim::{Sim, SimConfig};

const ORGANISM: &str = "dummy-organism-with-files";

/// Keeps what it was given.
#[derive(Default)]
struct Recording {
    accessions: Mutex<Vec<String>>,
}

impl RunPresenter for Recording {
    fn recheck(&self) -> Recheck {
        Recheck::CheckAgainButton
    }

    fn submitted(
        &self,
        _job: &str,
        linkage: &Linkage,
        result: Result<Submitted, SubmitFailure>,
    ) -> Result<String, String> {
        assert!(linkage.is_ok(), "{:?}", linkage.problems);
        let s = result.map_err(|e| e.to_string())?;
        let mut a = self.accessions.lock().unwrap();
        a.extend(s.accessions.iter().map(|a| a.accession.clone()));
        Ok(format!("{} accessions", a.len()))
    }

    fn not_sent(&self, _job: &str, failure: &SendFailure) -> String {
        failure.to_string()
    }
}

fn ready(run: &Path) -> ReadyRun {
    ReadyRun {
        dir: run.parent().unwrap().to_path_buf(),
        path: run.to_path_buf(),
        identity: run.display().to_string(),
        marker: None,
        files: vec![],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_waits_with_its_report_then_is_submitted_with_its_files_attached() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let d = tempfile::tempdir().unwrap();
    let run = d.path().join("batch-1");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(
        run.join("metadata.tsv"),
        "submissionId\tcountry\tfiles.rawReads\ns1\tCH\ts1_R1.fastq\ns2\tDE\ts2_R1.fastq\n",
    )
    .unwrap();
    std::fs::write(run.join("s1_R1.fastq"), [b'A'; 4000]).unwrap();

    let http = ferry_engine::transfer::http_client().unwrap();
    let info = Loculus::instance_info(&http, &sim.backend_url())
        .await
        .unwrap();
    let organism = info.organism(ORGANISM).unwrap().clone();
    let loculus = Arc::new(
        Loculus::new(
            http,
            &sim.backend_url(),
            1,
            Arc::new(StaticToken::new(sim.demo_token())),
        )
        .unwrap(),
    );
    let journal =
        Arc::new(ferry_engine::journal::Journal::open(&d.path().join("journal.sqlite")).unwrap());
    let presenter = Arc::new(Recording::default());
    let handler = SubmitRuns {
        engine: Engine::new(EngineConfig::default(), EventSink::none()).unwrap(),
        loculus,
        journal: journal.clone(),
        params: JobParams::new(Destination::loculus(&sim.backend_url(), 1)),
        organism,
        restricted_until: None,
        presenter: presenter.clone(),
    };

    // s2's reads are missing: the run waits, its report says what to fix.
    let Prepared::Wait(why) = handler.prepare(&ready(&run)).await.unwrap() else {
        panic!("a run with a problem is not sent");
    };
    assert!(
        why.starts_with("1 problem in its linkage report; fix them and press Check again:"),
        "{why}"
    );
    assert!(why.contains("s2_R1.fastq"), "{why}");

    std::fs::write(run.join("s2_R1.fastq"), [b'C'; 3000]).unwrap();
    let Prepared::Send {
        kind,
        params,
        items,
    } = handler.prepare(&ready(&run)).await.unwrap()
    else {
        panic!("a clean run is sent");
    };
    assert_eq!(kind, ferry_engine::JobKind::Submit);
    assert!(
        matches!(&params.then, Some(Then::Submit(a)) if a.folder.as_ref().is_some_and(|f| f.dir == run)),
        "{:?}",
        params.then
    );
    let job = journal.create_job(&kind, &params, &items).unwrap();
    let files = items.into_iter().map(JobFile::from).collect();
    let sent = handler
        .send(&job, &params, files, vec![])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sent.files, 2);
    assert_eq!(sent.bytes, 7000);
    assert_eq!(sent.summary, "2 accessions");
    let held: Vec<String> = sim.submissions().into_iter().map(|r| r.accession).collect();
    let got = presenter.accessions.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    for a in &got {
        assert!(held.contains(a), "{held:?}");
    }
    assert!(
        run.join("ferry-receipt.csv").exists(),
        "the receipt is in the run"
    );
    sim.shutdown().await;
}
