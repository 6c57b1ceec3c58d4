//! Writing a job's progress as the engine reports it ([`JobLog`]): one
//! job's recorder, and [`Routed`] for a run whose files belong to several.

use std::sync::Arc;

use rusqlite::params;

use super::Journal;
use crate::Error;
use crate::job::FileState;
use crate::portal::Upload;
use crate::transfer::{JobLog, Uploaded};

impl Journal {
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

/// One job's progress, each change committed before it counts.
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
                "UPDATE files SET state = ?4, upload = ?3, error = NULL WHERE job_id = ?1 AND idx = ?2",
                params![self.job_id, file as i64, json, FileState::Started.name()],
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
                    "UPDATE files SET state = ?5, sha256 = ?3, error = NULL, done_at = ?4 WHERE job_id = ?1 AND idx = ?2",
                    params![
                        self.job_id,
                        file as i64,
                        done.sha256,
                        crate::clock::unix_now() as i64,
                        FileState::Done.name()
                    ],
                )
            })
            .map(|_| ())
    }

    fn file_failed(&self, file: usize, error: &Error) {
        // Best effort: the failure is reported either way, and the file
        // stays resumable from what was recorded before.
        let _ = self.journal.with(|c| {
            c.execute(
                "UPDATE files SET state = ?4, error = ?3 WHERE job_id = ?1 AND idx = ?2 AND state <> ?5",
                params![
                    self.job_id,
                    file as i64,
                    error.to_string(),
                    FileState::Failed.name(),
                    FileState::Done.name()
                ],
            )
        });
    }
}
