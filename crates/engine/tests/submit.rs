//! attach: uploaded files named in a submission, checked on the simulator.

mod common;

use std::sync::Arc;

use common::*;
use ferry_engine::loculus::{AttachedFile, DataUseTerms, Submission};
use ferry_engine::{ErrorClass, Portal};

async fn upload(rig: &Rig, names: &[&str]) -> Vec<ferry_engine::Uploaded> {
    let paths: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, n)| make_file(rig.dir.path(), n, 1000 + i as u64, i as u64))
        .collect();
    rig.engine
        .upload(rig.portal.clone() as Arc<dyn Portal>, scan(rig, &paths))
        .await
        .into_iter()
        .map(|o| o.unwrap())
        .collect()
}

fn attach(u: &[ferry_engine::Uploaded], sid: Option<&str>, cat: &str) -> Vec<AttachedFile> {
    u.iter()
        .map(|u| AttachedFile {
            submission_id: sid.map(str::to_string),
            category: cat.into(),
            name: u.name.clone(),
            file_id: u.remote_id.clone(),
        })
        .collect()
}

#[tokio::test]
async fn files_are_attached_through_metadata_columns() {
    let rig = rig().await;
    let up = upload(
        &rig,
        &["s1_R1.fastq.gz", "s1_R2.fastq.gz", "s2_R1.fastq.gz"],
    )
    .await;
    let meta = rig.dir.path().join("metadata.tsv");
    std::fs::write(
        &meta,
        "id\tcountry\tfiles.rawReads\ns1\tCH\ts1_R1.fastq.gz s1_R2.fastq.gz\ns2\tDE\ts2_R1.fastq.gz\n",
    )
    .unwrap();
    let sub = Submission {
        organism: "dummy-organism-with-files".into(),
        metadata: meta,
        sequences: None,
        files: attach(&up, None, "rawReads"),
        data_use_terms: DataUseTerms::Open,
        legacy_file_mapping: false,
    };
    let (acc, _) = rig.portal.submit(&sub).await.unwrap();
    assert_eq!(acc.len(), 2);
    let subs = rig.sim.submissions();
    let s1 = subs.iter().find(|s| s.submission_id == "s1").unwrap();
    let s2 = subs.iter().find(|s| s.submission_id == "s2").unwrap();
    let pair = |u: &ferry_engine::Uploaded| (u.name.clone(), u.remote_id.clone());
    assert_eq!(s1.files["rawReads"], vec![pair(&up[0]), pair(&up[1])]);
    assert_eq!(s2.files["rawReads"], vec![pair(&up[2])]);
    assert_eq!(s1.group_id, 1);
    // The backend's own view agrees.
    let a1 = acc.iter().find(|a| a.submission_id == "s1").unwrap();
    let got = rig
        .portal
        .attached_files("dummy-organism-with-files", a1)
        .await
        .unwrap();
    assert_eq!(got["rawReads"], vec![pair(&up[0]), pair(&up[1])]);
}

#[tokio::test]
async fn sequences_and_files_go_together_for_organisms_with_consensus() {
    let rig = rig().await;
    let up = upload(&rig, &["report.pdf"]).await;
    let meta = rig.dir.path().join("m.tsv");
    std::fs::write(&meta, "id\tdate\nx1\t2026-01-01\n").unwrap();
    let fasta = rig.dir.path().join("seq.fasta");
    std::fs::write(&fasta, ">x1\nACGTACGT\n").unwrap();
    let sub = Submission {
        organism: "ebola-sudan".into(),
        metadata: meta,
        sequences: Some(fasta),
        files: attach(&up, None, "sequencingReports"),
        data_use_terms: DataUseTerms::Open,
        legacy_file_mapping: false,
    };
    let (acc, _) = rig.portal.submit(&sub).await.unwrap();
    assert_eq!(acc[0].submission_id, "x1");
    let s = &rig.sim.submissions()[0];
    assert_eq!(s.files["sequencingReports"][0].1, up[0].remote_id);
}

#[tokio::test]
async fn the_servers_reason_is_shown_when_a_submit_is_rejected() {
    let rig = rig().await;
    let up = upload(&rig, &["a.fq"]).await;
    let meta = rig.dir.path().join("m.tsv");
    std::fs::write(&meta, "id\tx\nr1\t1\n").unwrap();
    let sub = Submission {
        organism: "dummy-organism-with-files".into(),
        metadata: meta,
        sequences: None,
        files: attach(&up, None, "noSuchCategory"),
        data_use_terms: DataUseTerms::Open,
        legacy_file_mapping: false,
    };
    let e = rig.portal.submit(&sub).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Rejected);
    assert!(e.to_string().contains("noSuchCategory"), "{e}");
    assert!(rig.sim.submissions().is_empty());
}

#[tokio::test]
async fn the_legacy_file_mapping_is_ignored_by_current_backends() {
    let rig = rig().await;
    let up = upload(&rig, &["a.fq"]).await;
    let meta = rig.dir.path().join("m.tsv");
    std::fs::write(&meta, "id\tx\nr1\t1\n").unwrap();
    let sub = Submission {
        organism: "dummy-organism-with-files".into(),
        metadata: meta,
        sequences: None,
        files: attach(&up, Some("r1"), "rawReads"),
        data_use_terms: DataUseTerms::Open,
        legacy_file_mapping: true,
    };
    let (acc, linked) = rig.portal.submit(&sub).await.unwrap();
    assert_eq!(linked.files["r1"]["rawReads"].len(), 1);
    // What the caller must check: nothing got attached.
    let got = rig
        .portal
        .attached_files("dummy-organism-with-files", &acc[0])
        .await
        .unwrap();
    assert!(got.values().all(|v| v.is_empty()), "{got:?}");
}
