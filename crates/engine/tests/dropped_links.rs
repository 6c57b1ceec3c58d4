//! A dropped folder's links are listed as refused, never followed or sent:
//! a link to a file outside the folder and two links back up.

use std::sync::Arc;

use ferry_engine::EngineConfig;
use ferry_engine::loculus::names::LoculusNames;
use ferry_engine::queue::{Queue, Status};

#[tokio::test]
async fn links_in_a_dropped_folder_are_refused_rows() {
    let d = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("private.fq"), b"ACGT").unwrap();
    let run = d.path().join("run");
    std::fs::create_dir_all(run.join("a")).unwrap();
    std::fs::write(run.join("a/r1.fq"), b"ACGT").unwrap();
    std::os::unix::fs::symlink(&run, run.join("a/up")).unwrap();
    std::os::unix::fs::symlink(run.join("a"), run.join("up2")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("private.fq"), run.join("p.fq")).unwrap();

    let q = Queue::new(EngineConfig::default(), Arc::new(LoculusNames));
    let added = q.add(std::slice::from_ref(&run));
    assert_eq!(added.files, 4, "one file and three links listed");
    assert_eq!(added.problems, 3);
    let rows = q.rows();
    let ready: Vec<_> = rows.iter().filter(|r| r.status == Status::Ready).collect();
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0].name, "r1.fq");
    for r in rows.iter().filter(|r| r.status != Status::Ready) {
        assert_eq!(r.status, Status::Invalid, "{}", r.name);
        let e = r.error.as_deref().unwrap_or_default();
        assert!(e.contains("is a link") && e.contains(&r.name), "{e}");
    }
}
