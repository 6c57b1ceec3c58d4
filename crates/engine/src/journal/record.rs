//! One job read back whole: its summary, params, files and each file's
//! acknowledged parts (what a resume plans from).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use rusqlite::{OptionalExtension, params};

use super::Journal;
use super::jobs::{JobSummary, SUMMARY_WIDTH, summary_at, summary_columns};
use crate::Error;
use crate::job::{FileState, JobParams};
use crate::portal::Upload;

/// A file of a job as journaled.
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

/// A job with everything the journal holds of it.
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub summary: JobSummary,
    pub params: JobParams,
    pub files: Vec<FileEntry>,
}

type FileRow = (
    usize,
    String,
    String,
    u64,
    Option<i64>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

impl Journal {
    /// Job `id` with its files and their acknowledged parts. Reads only
    /// this job's rows, each table by its key, so a journal holding a
    /// million parts of other jobs answers as fast as an empty one.
    pub fn job(&self, id: &str) -> Result<Option<JobRecord>, Error> {
        let found = self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {}, j.params
                     FROM jobs j LEFT JOIN files f ON f.job_id = j.id
                     WHERE j.id = ?1 GROUP BY j.id",
                    summary_columns()
                ),
                params![id],
                |r| Ok((summary_at(r, 0)?, r.get::<_, String>(SUMMARY_WIDTH)?)),
            )
            .optional()
        })?;
        let Some((summary, params)) = found else {
            return Ok(None);
        };
        let mut files: Vec<FileEntry> = self
            .with(|c| {
                let mut st = c.prepare(
                    "SELECT idx, path, name, size, mtime_ns, state, upload, sha256, error, done_at FROM files WHERE job_id = ?1 ORDER BY idx",
                )?;
                let rows = st.query_map(params![id], |r| {
                    Ok((
                        r.get::<_, i64>(0)? as usize,
                        r.get(1)?,
                        r.get(2)?,
                        r.get::<_, i64>(3)? as u64,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                    ))
                })?;
                rows.collect::<rusqlite::Result<Vec<FileRow>>>()
            })?
            .into_iter()
            .map(file_entry)
            .collect();
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
}

fn file_entry(row: FileRow) -> FileEntry {
    let (idx, path, name, size, mtime_ns, state, upload, sha256, error, done_at) = row;
    FileEntry {
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
    }
}
