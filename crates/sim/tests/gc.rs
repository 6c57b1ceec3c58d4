//! Orphan uploads expire (loculus-api.md §4.5): marked by one garbage
//! collection run once older than the retention, refused as expired by a
//! submit, deleted by the next run and then unknown; attached files stay.

mod common;

use std::time::Duration;

use common::*;
use ferry_sim::SimConfig;
use reqwest::StatusCode;

const FILES_ONLY: &str = "dummy-organism-with-files";

fn tsv(cell: &str) -> String {
    format!("id\tgeoLocCountry\tfiles.rawReads\ns1\tGermany\t{cell}\n")
}

#[tokio::test]
async fn unattached_uploads_are_marked_then_deleted_and_submits_say_so() {
    let sim = sim_with(SimConfig {
        orphan_retention: Duration::from_secs(1),
        // Only the runs this test asks for.
        gc_interval: Duration::from_secs(3600),
        ..SimConfig::default()
    })
    .await;
    let demo = sim.demo_token();
    let kept = upload_single(&sim, &demo, 1, data(1000, 1)).await;
    let orphan = upload_single(&sim, &demo, 1, data(2000, 2)).await;
    // Attached while young: never collected.
    let r = Submit::new(FILES_ONLY, tsv(&format!("kept.fq:{kept}")))
        .send(&sim, &demo)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Younger than the retention: not marked.
    let first = sim.run_gc().await;
    assert!(
        first.marked.is_empty() && first.deleted.is_empty(),
        "{first:?}"
    );
    // Wait (bounded) until the orphan is old enough to be marked.
    let mut marked = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let run = sim.run_gc().await;
        assert!(run.deleted.is_empty());
        if !run.marked.is_empty() {
            marked = run.marked;
            break;
        }
    }
    assert_eq!(marked, vec![orphan.clone()]);
    let r = Submit::new(FILES_ONLY, tsv(&format!("orphan.fq:{orphan}")))
        .send(&sim, &demo)
        .await;
    problem(
        r,
        422,
        &format!("The following file IDs are no longer valid because they have expired: {orphan}"),
    )
    .await;
    assert!(
        sim.object_sha256(&orphan).await.is_some(),
        "marked, not deleted yet"
    );
    // The next run deletes it: object and record.
    let run = sim.run_gc().await;
    assert_eq!(run.deleted, vec![orphan.clone()]);
    assert!(run.marked.is_empty());
    assert_eq!(sim.object_sha256(&orphan).await, None);
    assert!(sim.file(&orphan).is_none());
    let r = Submit::new(FILES_ONLY, tsv(&format!("orphan.fq:{orphan}")))
        .send(&sim, &demo)
        .await;
    problem(
        r,
        422,
        &format!("The following file IDs do not exist: {orphan}"),
    )
    .await;
    // The attached file is untouched by every run.
    assert_eq!(sim.object_sha256(&kept).await.map(|(n, _)| n), Some(1000));
    sim.shutdown().await;
}

#[tokio::test]
async fn the_periodic_task_collects_by_itself() {
    let sim = sim_with(SimConfig {
        orphan_retention: Duration::ZERO,
        gc_interval: Duration::from_millis(100),
        ..SimConfig::default()
    })
    .await;
    let id = upload_single(&sim, &sim.demo_token(), 1, data(100, 3)).await;
    // Marked by one run, deleted by a later one; bounded wait.
    let mut gone = false;
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if sim.file(&id).is_none() {
            gone = true;
            break;
        }
    }
    assert!(gone, "the periodic garbage collection deleted the orphan");
    assert_eq!(sim.object_sha256(&id).await, None);
    sim.shutdown().await;
}
