//! Jobs in the journal: creating one with its files, its state, listing
//! them as summaries, forgetting one.

use std::collections::HashMap;

use rusqlite::params;
use serde::Serialize;

use super::{Journal, mtime_ns};
use crate::Error;
use crate::job::{FileState, JobKind, JobParams, JobState};
use crate::scan::Item;

/// A job as lists show it: what it is and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobSummary {
    pub id: String,
    pub created_at: u64,
    pub kind: JobKind,
    pub state: JobState,
    pub files: usize,
    pub files_done: usize,
    pub bytes: u64,
    pub bytes_done: u64,
}

/// The columns of a [`JobSummary`], over `jobs j LEFT JOIN files f`
/// grouped by job (read back with [`summary_at`]).
pub(super) fn summary_columns() -> String {
    let done = FileState::Done.name();
    format!(
        "j.id, j.created_at, j.kind, j.state,
         COUNT(f.idx),
         COALESCE(SUM(f.state = '{done}'), 0),
         COALESCE(SUM(f.size), 0),
         COALESCE(SUM(CASE WHEN f.state = '{done}' THEN f.size ELSE 0 END), 0)"
    )
}

/// How many columns [`summary_columns`] has.
pub(super) const SUMMARY_WIDTH: usize = 8;

/// The [`JobSummary`] of a row whose [`summary_columns`] start at column
/// `at`.
pub(super) fn summary_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<JobSummary> {
    Ok(JobSummary {
        id: r.get(at)?,
        created_at: r.get::<_, i64>(at + 1)? as u64,
        kind: JobKind::parse(&r.get::<_, String>(at + 2)?),
        state: JobState::parse(&r.get::<_, String>(at + 3)?),
        files: r.get::<_, i64>(at + 4)? as usize,
        files_done: r.get::<_, i64>(at + 5)? as usize,
        bytes: r.get::<_, i64>(at + 6)? as u64,
        bytes_done: r.get::<_, i64>(at + 7)? as u64,
    })
}

impl Journal {
    /// Record a new job with its files; returns its id.
    pub fn create_job(
        &self,
        kind: &JobKind,
        params: &JobParams,
        items: &[Item],
    ) -> Result<String, Error> {
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO jobs (id, created_at, kind, params, state) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    id,
                    crate::clock::unix_now() as i64,
                    kind.name(),
                    params.to_json(),
                    JobState::Running.name()
                ],
            )?;
            for (i, it) in items.iter().enumerate() {
                tx.execute(
                    "INSERT INTO files (job_id, idx, path, name, size, mtime_ns, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        id,
                        i as i64,
                        it.path.to_string_lossy(),
                        it.name,
                        it.size as i64,
                        mtime_ns(it.mtime),
                        FileState::Queued.name()
                    ],
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
                "SELECT {}
                 FROM jobs j LEFT JOIN files f ON f.job_id = j.id
                 WHERE ?1 OR j.state = ?2
                 GROUP BY j.id ORDER BY j.created_at DESC, j.rowid DESC",
                summary_columns()
            ))?;
            let rows =
                st.query_map(params![all, JobState::Running.name()], |r| summary_at(r, 0))?;
            rows.collect()
        })
    }

    /// Jobs of watched runs (issue 14), by the run's identity (kept in the
    /// job's params as `watch.identity`): a done one means the run was
    /// sent; a running one is resumed. If a run ever had two jobs, the done
    /// one wins.
    pub fn watch_jobs(&self) -> Result<HashMap<String, JobSummary>, Error> {
        let rows: Vec<(String, JobSummary)> = self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT json_extract(j.params, '$.watch.identity'), {}
                 FROM jobs j LEFT JOIN files f ON f.job_id = j.id
                 WHERE json_valid(j.params) AND json_extract(j.params, '$.watch.identity') IS NOT NULL
                 GROUP BY j.id ORDER BY j.created_at, j.rowid",
                summary_columns()
            ))?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, summary_at(r, 1)?)))?;
            rows.collect()
        })?;
        let mut out: HashMap<String, JobSummary> = Default::default();
        for (identity, job) in rows {
            if out.get(&identity).is_none_or(|j| j.state != JobState::Done) {
                out.insert(identity, job);
            }
        }
        Ok(out)
    }
}
