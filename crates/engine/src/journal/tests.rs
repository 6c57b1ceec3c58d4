//! The journal's own tests: records survive reopening, old schemas
//! upgrade, newer ones are refused, unknown kinds still list.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rusqlite::Connection;

use super::*;
use crate::job::{FileState, JobKind, JobParams, JobState};
use crate::portal::Upload;
use crate::scan::Item;

fn item(p: &str, size: u64) -> Item {
    Item {
        path: PathBuf::from(p),
        name: p.into(),
        size,
        mtime: Some(SystemTime::now()),
    }
}

fn upload(id: &str) -> Upload {
    Upload {
        remote_id: id.into(),
        urls: vec!["http://s/1".into(), "http://s/2".into()],
        headers: vec![],
        multipart: true,
        expires_at: Some(123),
        form: vec![],
    }
}

#[test]
fn records_survive_reopening_and_new_uploads_void_old_parts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let j = Arc::new(Journal::open(&path).unwrap());
    let id = j
        .create_job(
            &JobKind::Upload,
            &JobParams::from_json(r#"{"backend": "b"}"#),
            &[item("a.fq", 10), item("b.fq", 20)],
        )
        .unwrap();
    let rec = j.recorder(&id);
    rec.file_started(0, &upload("u1")).unwrap();
    rec.part_done(0, "u1", 1, "\"e1\"").unwrap();
    drop(rec);
    drop(j);

    let j = Arc::new(Journal::open(&path).unwrap());
    let job = j.job(&id).unwrap().unwrap();
    assert_eq!(job.params.destination.base.as_deref(), Some("b"));
    assert_eq!(job.files[0].state, FileState::Started);
    assert_eq!(
        job.files[0].parts.get(&1).map(String::as_str),
        Some("\"e1\"")
    );
    assert_eq!(job.files[0].upload.as_ref().unwrap().expires_at, Some(123));

    let rec = j.recorder(&id);
    rec.file_started(0, &upload("u2")).unwrap();
    assert!(j.job(&id).unwrap().unwrap().files[0].parts.is_empty());

    let s = &j.jobs(false).unwrap()[0];
    assert_eq!((s.files, s.files_done, s.bytes), (2, 0, 30));
    j.set_job_state(&id, JobState::Done).unwrap();
    assert!(j.jobs(false).unwrap().is_empty());
    assert!(j.delete_job(&id).unwrap());
    assert!(j.job(&id).unwrap().is_none());
}

#[test]
fn a_schema_1_journal_is_upgraded_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    schema::write_schema_1(
        &path,
        "INSERT INTO jobs VALUES ('oldjob', 1700000000, 'submit', '{\"backend\":\"b\"}', 'running');
         INSERT INTO files (job_id, idx, path, name, size, mtime_ns, state, upload)
           VALUES ('oldjob', 0, '/d/a.fq', 'a.fq', 10, 5, 'started', NULL);
         INSERT INTO parts VALUES ('oldjob', 0, 'u1', 1, '\"e1\"');",
    );
    let j = Journal::open(&path).unwrap();
    let v: i64 = j
        .with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(v as usize, MIGRATIONS.len());
    let job = j
        .job("oldjob")
        .unwrap()
        .expect("the old job is still there");
    assert_eq!(job.summary.state, JobState::Running);
    assert_eq!(job.summary.kind, JobKind::Submit);
    assert_eq!(job.params.destination.base.as_deref(), Some("b"));
    assert_eq!(job.files[0].name, "a.fq");
    assert_eq!(j.jobs(false).unwrap().len(), 1);
    let parts: i64 = j
        .with(|c| c.query_row("SELECT COUNT(*) FROM parts", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(parts, 1);
    // (That the new `submissions` table works on the upgraded file is
    // checked where it is used: `loculus::submit_record`.)
}

#[test]
fn a_journal_from_a_newer_ferry_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.sqlite");
    {
        let c = Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
    }
    let e = Journal::open(&path).err().expect("refused");
    let msg = e.to_string();
    assert!(
        msg.contains("newer Ferry")
            && msg.contains("schema 99")
            && msg.contains("update Ferry")
            && !msg.contains("disk space"),
        "{msg}"
    );
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    let c = Connection::open(&path).unwrap();
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 99, "left as it was");
}

#[test]
fn an_unwritable_journal_is_a_clear_error() {
    let e = Journal::open(Path::new("/proc/ferry-cannot-write/j.sqlite"))
        .err()
        .unwrap();
    assert!(e.to_string().contains("cannot write the journal"), "{e}");
}

#[test]
fn a_job_of_a_kind_from_a_newer_ferry_still_lists_under_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(&dir.path().join("j.sqlite")).unwrap();
    j.create_job(&JobKind::App, &JobParams::default(), &[item("a.fq", 1)])
        .unwrap();
    j.with(|c| c.execute_batch("INSERT INTO jobs VALUES ('newer', 1, 'mirror', '{}', 'running');"))
        .unwrap();
    let mut kinds: Vec<JobKind> = j.jobs(true).unwrap().into_iter().map(|s| s.kind).collect();
    kinds.sort_by(|a, b| a.name().cmp(b.name()));
    assert_eq!(kinds, vec![JobKind::App, JobKind::Other("mirror".into())]);
    let rec = j.job("newer").unwrap().expect("it reads");
    assert_eq!(rec.summary.kind.name(), "mirror");
}
