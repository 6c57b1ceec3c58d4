//! The folder submit both front-ends run (`ferry submit --folder` and the
//! app's wizard), against the real simulator: a batch folder's files are
//! uploaded (journaled), submitted, and the portal's entries are checked
//! for the files. The app's wizard never checked that until it went
//! through this layer: a portal that takes the submission but drops the
//! files (the old `fileMapping` field on a current backend) is caught,
//! with the accessions and the receipt kept.

use std::path::Path;
use std::sync::Arc;

use ferry_engine::journal::Journal;
use ferry_engine::loculus::{Loculus, link_folder};
use ferry_engine::{Destination, Engine, EngineConfig, EventSink, JobFile, JobParams, StaticToken};
use ferry_front::submit::Again;
use ferry_front::{SubmitFailure, SubmitTo, submit_folder};
use ferry_sim::{Sim, SimConfig};

const ORGANISM: &str = "dummy-organism-with-files";

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Uploads `dir`'s batch and submits it as the wizard does; the result.
async fn upload_and_submit(
    sim: &Sim,
    dir: &Path,
    legacy_file_mapping: bool,
) -> Result<ferry_front::Submitted, SubmitFailure> {
    write(&dir.join("metadata.tsv"), b"id\tcountry\ns1\tCH\ns2\tDE\n");
    write(&dir.join("s1/a.fq"), &[b'A'; 4000]);
    write(&dir.join("s2/b.fq"), &[b'C'; 3000]);
    let http = ferry_engine::transfer::http_client().unwrap();
    let info = Loculus::instance_info(&http, &sim.backend_url())
        .await
        .unwrap();
    let org = info.organism(ORGANISM).unwrap().clone();
    let l = link_folder(dir, &org);
    assert!(l.is_ok(), "{:?}", l.problems);
    let portal = Arc::new(
        Loculus::new(
            http,
            &sim.backend_url(),
            1,
            Arc::new(StaticToken::new(sim.demo_token())),
        )
        .unwrap(),
    );
    let journal = Arc::new(Journal::open(&dir.join("journal.sqlite")).unwrap());
    let items = ferry_engine::loculus::batch::items(&l).unwrap();
    let params = JobParams::new(Destination::loculus(&sim.backend_url(), 1));
    let job = journal
        .create_job(&ferry_engine::JobKind::App, &params, &items)
        .unwrap();
    let engine = Engine::new(EngineConfig::default(), EventSink::none()).unwrap();
    let files = items.into_iter().map(JobFile::from).collect();
    let done =
        ferry_engine::watch::send_job(&engine, portal.clone(), &journal, &job, files, vec![])
            .await
            .unwrap();
    let jobs = [job];
    let to = SubmitTo {
        portal: &portal,
        engine: &engine,
        journal: Some(&journal),
        jobs: &jobs,
        legacy_file_mapping,
    };
    submit_folder(&to, &l, &done, None, &dir.join("ferry-receipt")).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_submit_whose_files_were_not_attached_fails_with_its_accessions_kept() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let d = tempfile::tempdir().unwrap();
    let e = upload_and_submit(&sim, d.path(), true)
        .await
        .expect_err("the files were not attached");
    let SubmitFailure::NotAttached {
        submitted, missing, ..
    } = &e
    else {
        panic!("not the attached-files check: {e}");
    };
    assert_eq!(missing, &["s1", "s2"]);
    // The portal holds the entries: the user must keep their accessions.
    let held: Vec<String> = sim.submissions().into_iter().map(|r| r.accession).collect();
    assert_eq!(submitted.accessions.len(), 2);
    for a in &submitted.accessions {
        assert!(held.contains(&a.accession), "{held:?}");
    }
    let csv = std::fs::read_to_string(d.path().join("ferry-receipt.csv")).unwrap();
    for a in &submitted.accessions {
        assert!(csv.contains(&a.accession), "{csv}");
    }
    let msg = e.message(Again::SubmitButton);
    assert!(
        msg.contains("did not attach the files of: s1, s2")
            && msg.contains(&submitted.accessions[0].accession)
            && msg.contains("without --legacy-file-mapping"),
        "{msg}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_submit_whose_files_were_attached_goes_through() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let d = tempfile::tempdir().unwrap();
    let s = upload_and_submit(&sim, d.path(), false)
        .await
        .unwrap_or_else(|e| panic!("{}", e.message(Again::SubmitButton)));
    assert_eq!(s.accessions.len(), 2);
    assert!(s.unverified.is_empty(), "{:?}", s.unverified);
    assert!(matches!(&s.receipt, Some(Ok(_))), "{:?}", s.receipt);
    sim.shutdown().await;
}
