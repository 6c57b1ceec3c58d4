//! The journal: a durable record (SQLite, WAL, synchronous=FULL) of every
//! job, its files, their portal uploads and each acknowledged part, so an
//! interrupted job re-sends only what the storage has not acknowledged.
//!
//! Holds no token: only paths, sizes, portal ids and presigned URLs (which
//! expire and grant access to one object only).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::Error;
use crate::job::{FileState, JobParams, JobState};
use crate::loculus::Accession;
use crate::portal::Upload;
use crate::scan::Item;
use crate::transfer::{JobLog, Uploaded};

/// Schema migrations, applied in order; `PRAGMA user_version` counts them.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        params TEXT NOT NULL,
        state TEXT NOT NULL
    );
    CREATE TABLE files (
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        path TEXT NOT NULL,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER,
        state TEXT NOT NULL,
        upload TEXT,
        sha256 TEXT,
        error TEXT,
        PRIMARY KEY (job_id, idx)
    );
    CREATE TABLE parts (
        job_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        remote_id TEXT NOT NULL,
        part INTEGER NOT NULL,
        etag TEXT NOT NULL,
        PRIMARY KEY (job_id, idx, remote_id, part),
        FOREIGN KEY (job_id, idx) REFERENCES files(job_id, idx) ON DELETE CASCADE
    );",
    // 2: a submit's state, written before the POST (`submitting`, with the
    // entries that already carried its ids) and after it (`submitted`, with
    // the accessions), so a resume never submits twice.
    "CREATE TABLE submissions (
        job_id TEXT PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
        state TEXT NOT NULL,
        organism TEXT NOT NULL,
        submission_ids TEXT NOT NULL,
        known_accessions TEXT NOT NULL,
        accessions TEXT,
        started_at INTEGER NOT NULL
    );",
    // 3: when each file was accepted (receipts and the history say when,
    // and how long an unattached Loculus id has left).
    "ALTER TABLE files ADD COLUMN done_at INTEGER;",
];

/// A submit as journaled: `state` is `submitting` from just before the POST
/// until its answer is recorded (`submitted`, with `accessions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitRecord {
    pub state: String,
    pub organism: String,
    /// The metadata rows' ids, as sent.
    pub submission_ids: Vec<String>,
    /// Accessions that carried those ids before the POST (not ours).
    pub known_accessions: Vec<String>,
    pub accessions: Option<Vec<Accession>>,
    pub started_at: u64,
}

pub struct Journal {
    path: PathBuf,
    conn: Mutex<Connection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobSummary {
    pub id: String,
    pub created_at: u64,
    pub kind: String,
    pub state: JobState,
    pub files: usize,
    pub files_done: usize,
    pub bytes: u64,
    pub bytes_done: u64,
}

#[derive(Debug, Clone)]
pub struct FileEntry {
    pub idx: usize,
    pub path: PathBuf,
    pub name: String,
    pub size: u64,
    pub mtime_ns: Option<i64>,
    pub state: FileState,
    pub upload: Option<Upload>,
    pub sha256: Option<String>,
    pub error: Option<String>,
    /// Acknowledged parts of `upload`: part number -> ETag.
    pub parts: BTreeMap<u32, String>,
    /// Unix time the portal accepted it (journals before schema 3: none).
    pub done_at: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct JobRecord {
    pub summary: JobSummary,
    pub params: JobParams,
    pub files: Vec<FileEntry>,
}

pub fn mtime_ns(t: Option<SystemTime>) -> Option<i64> {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)
}

/// The columns of a [`JobSummary`], over `jobs j LEFT JOIN files f`
/// grouped by job (read back with [`summary_at`]).
const SUMMARY_COLUMNS: &str = "j.id, j.created_at, j.kind, j.state,
                        COUNT(f.idx),
                        COALESCE(SUM(f.state = 'done'), 0),
                        COALESCE(SUM(f.size), 0),
                        COALESCE(SUM(CASE WHEN f.state = 'done' THEN f.size ELSE 0 END), 0)";

/// The [`JobSummary`] of a row whose [`SUMMARY_COLUMNS`] start at column
/// `at`.
fn summary_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<JobSummary> {
    Ok(JobSummary {
        id: r.get(at)?,
        created_at: r.get::<_, i64>(at + 1)? as u64,
        kind: r.get(at + 2)?,
        state: JobState::parse(&r.get::<_, String>(at + 3)?),
        files: r.get::<_, i64>(at + 4)? as usize,
        files_done: r.get::<_, i64>(at + 5)? as usize,
        bytes: r.get::<_, i64>(at + 6)? as u64,
        bytes_done: r.get::<_, i64>(at + 7)? as u64,
    })
}

impl Journal {
    /// `$FERRY_JOURNAL`, else the user's data directory
    /// (`$XDG_DATA_HOME/ferry` or `~/.local/share/ferry`).
    pub fn default_path() -> PathBuf {
        if let Some(p) = std::env::var_os("FERRY_JOURNAL") {
            return PathBuf::from(p);
        }
        // The OS's data folder: $XDG_DATA_HOME or ~/.local/share on Linux,
        // ~/Library/Application Support on macOS, %APPDATA% on Windows.
        let base = dirs::data_dir().unwrap_or_else(std::env::temp_dir);
        base.join("ferry").join("journal.sqlite")
    }

    pub fn open(path: &Path) -> Result<Journal, Error> {
        let err = |detail: String| Error::Journal {
            path: path.to_path_buf(),
            detail,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let mut conn = Connection::open(path).map_err(|e| err(e.to_string()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        // WAL: readers never block the writer; FULL: a committed change
        // survives power loss, not only a crash.
        conn.execute_batch(
            "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .map_err(|e| err(e.to_string()))?;
        // Two processes may open a new journal at once: migrate inside one
        // IMMEDIATE transaction so only one of them creates the schema.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| err(e.to_string()))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| err(e.to_string()))?;
        if version as usize > MIGRATIONS.len() {
            return Err(Error::JournalTooNew {
                path: path.to_path_buf(),
                found: version,
                known: MIGRATIONS.len(),
            });
        }
        // An up-to-date journal is not written to: a commit that writes
        // waits for the disk (synchronous=FULL), seconds on a busy one, at
        // every start of `ferry jobs` and the window.
        if version as usize != MIGRATIONS.len() {
            for m in MIGRATIONS.iter().skip(version as usize) {
                tx.execute_batch(m).map_err(|e| err(e.to_string()))?;
            }
            tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)
                .map_err(|e| err(e.to_string()))?;
        }
        tx.commit().map_err(|e| err(e.to_string()))?;
        Ok(Journal {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::Journal {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, Error> {
        let mut c = self.conn.lock().map_err(|_| self.err("lock poisoned"))?;
        f(&mut c).map_err(|e| self.err(e))
    }

    /// Record a new job with its files; returns its id.
    pub fn create_job(
        &self,
        kind: &str,
        params: &JobParams,
        items: &[Item],
    ) -> Result<String, Error> {
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO jobs (id, created_at, kind, params, state) VALUES (?1, ?2, ?3, ?4, 'running')",
                params![id, crate::clock::unix_now() as i64, kind, params.to_json()],
            )?;
            for (i, it) in items.iter().enumerate() {
                tx.execute(
                    "INSERT INTO files (job_id, idx, path, name, size, mtime_ns, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued')",
                    params![id, i as i64, it.path.to_string_lossy(), it.name, it.size as i64, mtime_ns(it.mtime)],
                )?;
            }
            tx.commit()
        })?;
        Ok(id)
    }

    pub fn set_job_state(&self, id: &str, state: JobState) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET state = ?2 WHERE id = ?1",
                params![id, state.name()],
            )
        })
        .map(|_| ())
    }

    /// Forget a job and everything recorded for it.
    pub fn delete_job(&self, id: &str) -> Result<bool, Error> {
        self.with(|c| c.execute("DELETE FROM jobs WHERE id = ?1", params![id]))
            .map(|n| n > 0)
    }

    /// Jobs, newest first; unfinished only unless `all`.
    pub fn jobs(&self, all: bool) -> Result<Vec<JobSummary>, Error> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {SUMMARY_COLUMNS}
                 FROM jobs j LEFT JOIN files f ON f.job_id = j.id
                 WHERE ?1 OR j.state = 'running'
                 GROUP BY j.id ORDER BY j.created_at DESC, j.rowid DESC"
            ))?;
            let rows = st.query_map(params![all], |r| summary_at(r, 0))?;
            rows.collect()
        })
    }

    /// Jobs of watched runs (issue 14), by the run's identity (kept in the
    /// job's params as `watch.identity`): a done one means the run was
    /// sent; a running one is resumed. If a run ever had two jobs, the done
    /// one wins.
    pub fn watch_jobs(&self) -> Result<std::collections::HashMap<String, JobSummary>, Error> {
        let rows: Vec<(String, JobSummary)> = self.with(|c| {
            let mut st = c.prepare(
                &format!("SELECT json_extract(j.params, '$.watch.identity'), {SUMMARY_COLUMNS}
                 FROM jobs j LEFT JOIN files f ON f.job_id = j.id
                 WHERE json_valid(j.params) AND json_extract(j.params, '$.watch.identity') IS NOT NULL
                 GROUP BY j.id ORDER BY j.created_at, j.rowid"),
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    summary_at(r, 1)?,
                ))
            })?;
            rows.collect()
        })?;
        let mut out: std::collections::HashMap<String, JobSummary> = Default::default();
        for (identity, job) in rows {
            if out.get(&identity).is_none_or(|j| j.state != JobState::Done) {
                out.insert(identity, job);
            }
        }
        Ok(out)
    }

    /// Job `id` with its files and their acknowledged parts. Reads only
    /// this job's rows, each table by its key, so a journal holding a
    /// million parts of other jobs answers as fast as an empty one.
    pub fn job(&self, id: &str) -> Result<Option<JobRecord>, Error> {
        let found = self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {SUMMARY_COLUMNS},
                        j.params
                 FROM jobs j LEFT JOIN files f ON f.job_id = j.id
                 WHERE j.id = ?1 GROUP BY j.id"
                ),
                params![id],
                |r| Ok((summary_at(r, 0)?, r.get::<_, String>(8)?)),
            )
            .optional()
        })?;
        let Some((summary, params)) = found else {
            return Ok(None);
        };
        let mut files = self.with(|c| {
            let mut st = c.prepare(
                "SELECT idx, path, name, size, mtime_ns, state, upload, sha256, error, done_at FROM files WHERE job_id = ?1 ORDER BY idx",
            )?;
            let rows = st.query_map(params![id], |r| {
                Ok((
                    r.get::<_, i64>(0)? as usize,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)? as u64,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, Option<i64>>(9)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?
        .into_iter()
        .map(|(idx, path, name, size, mtime_ns, state, upload, sha256, error, done_at)| FileEntry {
            idx,
            path: PathBuf::from(path),
            name,
            size,
            mtime_ns,
            state: FileState::parse(&state),
            upload: upload.and_then(|u| serde_json::from_str(&u).ok()),
            sha256,
            error,
            parts: BTreeMap::new(),
            done_at: done_at.map(|t| t as u64),
        })
        .collect::<Vec<_>>();
        // Every part of the job in one query (not one per file); parts of
        // an upload the file no longer has are void, as before.
        let mut parts: HashMap<(usize, String), BTreeMap<u32, String>> = HashMap::new();
        self.with(|c| {
            let mut st =
                c.prepare("SELECT idx, remote_id, part, etag FROM parts WHERE job_id = ?1")?;
            let mut rows = st.query(params![id])?;
            while let Some(r) = rows.next()? {
                parts
                    .entry((r.get::<_, i64>(0)? as usize, r.get(1)?))
                    .or_default()
                    .insert(r.get::<_, i64>(2)? as u32, r.get(3)?);
            }
            Ok(())
        })?;
        for f in files.iter_mut() {
            let Some(u) = &f.upload else { continue };
            f.parts = parts
                .remove(&(f.idx, u.remote_id.clone()))
                .unwrap_or_default();
        }
        Ok(Some(JobRecord {
            summary,
            params: JobParams::from_json(&params),
            files,
        }))
    }

    /// Record that job `id` is about to POST its submission of
    /// `submission_ids` (committed before the POST is sent).
    pub fn begin_submit(
        &self,
        id: &str,
        organism: &str,
        submission_ids: &[String],
        known_accessions: &[String],
    ) -> Result<(), Error> {
        let ids = serde_json::to_string(submission_ids).map_err(|e| self.err(e))?;
        let known = serde_json::to_string(known_accessions).map_err(|e| self.err(e))?;
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO submissions (job_id, state, organism, submission_ids, known_accessions, accessions, started_at)
                 VALUES (?1, 'submitting', ?2, ?3, ?4, NULL, ?5)",
                params![id, organism, ids, known, crate::clock::unix_now() as i64],
            )
        })
        .map(|_| ())
    }

    /// Record the accessions the portal gave job `id`; the job is done.
    pub fn finish_submit(&self, id: &str, accessions: &[Accession]) -> Result<(), Error> {
        let acc = serde_json::to_string(accessions).map_err(|e| self.err(e))?;
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "UPDATE submissions SET state = 'submitted', accessions = ?2 WHERE job_id = ?1",
                params![id, acc],
            )?;
            tx.execute("UPDATE jobs SET state = 'done' WHERE id = ?1", params![id])?;
            tx.commit()
        })
    }

    /// Forget job `id`'s submit attempt: the portal refused it, so nothing
    /// of it landed.
    pub fn clear_submit(&self, id: &str) -> Result<(), Error> {
        self.with(|c| c.execute("DELETE FROM submissions WHERE job_id = ?1", params![id]))
            .map(|_| ())
    }

    /// Job `id`'s submit, if one was started.
    pub fn submit_record(&self, id: &str) -> Result<Option<SubmitRecord>, Error> {
        let row = self.with(|c| {
            c.query_row(
                "SELECT state, organism, submission_ids, known_accessions, accessions, started_at FROM submissions WHERE job_id = ?1",
                params![id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, i64>(5)?,
                    ))
                },
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
        })?;
        let Some((state, organism, ids, known, acc, started_at)) = row else {
            return Ok(None);
        };
        let parse = |s: &str| serde_json::from_str::<Vec<String>>(s).map_err(|e| self.err(e));
        Ok(Some(SubmitRecord {
            state,
            organism,
            submission_ids: parse(&ids)?,
            known_accessions: parse(&known)?,
            accessions: match acc {
                Some(a) => Some(serde_json::from_str(&a).map_err(|e| self.err(e))?),
                None => None,
            },
            started_at: started_at as u64,
        }))
    }

    /// The recorder the engine writes this job's progress through.
    pub fn recorder(self: &Arc<Self>, job_id: &str) -> Arc<dyn JobLog> {
        Arc::new(Recorder {
            journal: self.clone(),
            job_id: job_id.to_string(),
        })
    }
}

/// Routes a run's file indexes to (journal recorder, file index) pairs: a
/// run may carry some files of a job (a resume), or files of several jobs
/// (the desktop queue resuming paused files).
pub struct Routed {
    routes: Vec<(Arc<dyn JobLog>, usize)>,
}

impl Routed {
    /// `routes[i]` records file `i` of the run.
    pub fn wrap(routes: Vec<(Arc<dyn JobLog>, usize)>) -> Arc<dyn JobLog> {
        Arc::new(Routed { routes })
    }
}

impl JobLog for Routed {
    fn file_started(&self, file: usize, upload: &Upload) -> Result<(), Error> {
        let (log, idx) = &self.routes[file];
        log.file_started(*idx, upload)
    }
    fn part_done(&self, file: usize, remote_id: &str, part: u32, etag: &str) -> Result<(), Error> {
        let (log, idx) = &self.routes[file];
        log.part_done(*idx, remote_id, part, etag)
    }
    fn file_done(&self, file: usize, done: &Uploaded) -> Result<(), Error> {
        let (log, idx) = &self.routes[file];
        log.file_done(*idx, done)
    }
    fn file_failed(&self, file: usize, error: &Error) {
        let (log, idx) = &self.routes[file];
        log.file_failed(*idx, error)
    }
}

struct Recorder {
    journal: Arc<Journal>,
    job_id: String,
}

impl JobLog for Recorder {
    fn file_started(&self, file: usize, upload: &Upload) -> Result<(), Error> {
        let json = serde_json::to_string(upload).map_err(|e| self.journal.err(e))?;
        self.journal.with(|c| {
            let tx = c.transaction()?;
            // A new upload replaces the old one; its parts are void.
            tx.execute(
                "DELETE FROM parts WHERE job_id = ?1 AND idx = ?2 AND remote_id <> ?3",
                params![self.job_id, file as i64, upload.remote_id],
            )?;
            tx.execute(
                "UPDATE files SET state = 'started', upload = ?3, error = NULL WHERE job_id = ?1 AND idx = ?2",
                params![self.job_id, file as i64, json],
            )?;
            tx.commit()
        })
    }

    fn part_done(&self, file: usize, remote_id: &str, part: u32, etag: &str) -> Result<(), Error> {
        self.journal
            .with(|c| {
                c.execute(
                    "INSERT OR REPLACE INTO parts (job_id, idx, remote_id, part, etag) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![self.job_id, file as i64, remote_id, part as i64, etag],
                )
            })
            .map(|_| ())
    }

    fn file_done(&self, file: usize, done: &Uploaded) -> Result<(), Error> {
        self.journal
            .with(|c| {
                c.execute(
                    "UPDATE files SET state = 'done', sha256 = ?3, error = NULL, done_at = ?4 WHERE job_id = ?1 AND idx = ?2",
                    params![self.job_id, file as i64, done.sha256, crate::clock::unix_now() as i64],
                )
            })
            .map(|_| ())
    }

    fn file_failed(&self, file: usize, error: &Error) {
        // Best effort: the failure is reported either way, and the file
        // stays resumable from what was recorded before.
        let _ = self.journal.with(|c| {
            c.execute(
                "UPDATE files SET state = 'failed', error = ?3 WHERE job_id = ?1 AND idx = ?2 AND state <> 'done'",
                params![self.job_id, file as i64, error.to_string()],
            )
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                "upload",
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
        {
            // A journal as the first release wrote it.
            let c = Connection::open(&path).unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.execute_batch(
                "INSERT INTO jobs VALUES ('oldjob', 1700000000, 'submit', '{\"backend\":\"b\"}', 'running');
                 INSERT INTO files (job_id, idx, path, name, size, mtime_ns, state, upload)
                   VALUES ('oldjob', 0, '/d/a.fq', 'a.fq', 10, 5, 'started', NULL);
                 INSERT INTO parts VALUES ('oldjob', 0, 'u1', 1, '\"e1\"');
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
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
        assert_eq!(job.params.destination.base.as_deref(), Some("b"));
        assert_eq!(job.files[0].name, "a.fq");
        assert_eq!(j.jobs(false).unwrap().len(), 1);
        let parts: i64 = j
            .with(|c| c.query_row("SELECT COUNT(*) FROM parts", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(parts, 1);
        // The new table works on the upgraded file.
        assert!(j.submit_record("oldjob").unwrap().is_none());
        j.begin_submit("oldjob", "org", &["s1".into()], &[])
            .unwrap();
        assert_eq!(
            j.submit_record("oldjob").unwrap().unwrap().state,
            "submitting"
        );
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
    fn a_submit_is_journaled_before_and_after_the_post() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("j.sqlite")).unwrap();
        let id = j
            .create_job("submit", &JobParams::default(), &[item("a.fq", 1)])
            .unwrap();
        j.begin_submit(&id, "org", &["s1".into(), "s2".into()], &["LOC_1".into()])
            .unwrap();
        let r = j.submit_record(&id).unwrap().unwrap();
        assert_eq!(
            (
                r.state.as_str(),
                r.submission_ids.len(),
                r.known_accessions.len()
            ),
            ("submitting", 2, 1)
        );
        assert!(r.accessions.is_none());
        assert_eq!(j.jobs(false).unwrap().len(), 1, "still to resume");
        let acc = vec![Accession {
            submission_id: "s1".into(),
            accession: "LOC_2".into(),
            version: 1,
        }];
        j.finish_submit(&id, &acc).unwrap();
        let r = j.submit_record(&id).unwrap().unwrap();
        assert_eq!(r.state, "submitted");
        assert_eq!(r.accessions, Some(acc));
        assert!(j.jobs(false).unwrap().is_empty(), "done");
        j.clear_submit(&id).unwrap();
        assert!(j.submit_record(&id).unwrap().is_none());
        assert!(j.delete_job(&id).unwrap());
    }

    #[test]
    fn an_unwritable_journal_is_a_clear_error() {
        let e = Journal::open(Path::new("/proc/ferry-cannot-write/j.sqlite"))
            .err()
            .unwrap();
        assert!(e.to_string().contains("cannot write the journal"), "{e}");
    }
}
