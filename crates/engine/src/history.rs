//! Upload history from the journal: every batch (job), newest first, with
//! its portal, destination, files, ids and states; for Loculus batches no
//! submission attached yet, how many days their ids have left at the
//! default retention. Read in two queries whatever the number of jobs
//! (ids come out of the journaled upload with SQLite's JSON functions, so
//! the presigned URLs kept for resume are never parsed here).

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::Error;
use crate::job::{FileState, JobKind, JobParams, JobState, PortalKind};
use crate::journal::Journal;
use crate::loculus::expiry;
use crate::loculus::{Accession, SubmitState};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryFile {
    pub name: String,
    pub path: PathBuf,
    /// The portal's id, once an upload was started for it.
    pub id: Option<String>,
    pub size: u64,
    pub sha256: Option<String>,
    /// `queued`, `started`, `done` or `failed`.
    pub state: FileState,
    /// Unix time the portal accepted it.
    pub uploaded_at: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Batch {
    pub job: String,
    pub kind: JobKind,
    /// `loculus`, `onecodex` or `basespace`.
    pub portal: PortalKind,
    /// Where it went, for people: the instance and group, the AppResult
    /// (no commas: it goes into CSV receipts unquoted).
    pub destination: String,
    pub created_at: u64,
    /// The job's state (`running` = interrupted, `done`).
    pub state: JobState,
    pub files: Vec<HistoryFile>,
    /// Loculus: a submission attached the files (its accessions below).
    pub attached: bool,
    pub accessions: Vec<Accession>,
    /// Loculus, not attached: whole days before the earliest accepted id
    /// expires at the default retention (0: it may be gone; Ferry uploads
    /// it again at submit if the file is unchanged).
    pub days_left: Option<u64>,
}

impl Batch {
    /// Whether `query` (case-insensitive) is in a file name, a file id,
    /// an accession or the job id.
    pub fn matches(&self, query: &str) -> bool {
        let q = query.trim().to_lowercase();
        if q.is_empty() {
            return true;
        }
        self.job.to_lowercase().contains(&q)
            || self.files.iter().any(|f| {
                f.name.to_lowercase().contains(&q)
                    || f.id
                        .as_deref()
                        .is_some_and(|i| i.to_lowercase().contains(&q))
            })
            || self
                .accessions
                .iter()
                .any(|a| a.accession.to_lowercase().contains(&q))
    }
}

/// Every batch in the journal, newest first; `now` (Unix seconds) for the
/// days left.
pub fn load(journal: &Journal, now: u64) -> Result<Vec<Batch>, Error> {
    load_where(journal, None, now)
}

/// One batch, if the journal has it.
pub fn batch(journal: &Journal, job: &str, now: u64) -> Result<Option<Batch>, Error> {
    Ok(load_where(journal, Some(job), now)?.into_iter().next())
}

type JobRow = (
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

fn load_where(journal: &Journal, only: Option<&str>, now: u64) -> Result<Vec<Batch>, Error> {
    let (jobs, mut files) = journal.with(|c| {
        let mut st = c.prepare(
            "SELECT j.id, j.created_at, j.kind, j.params, j.state, s.state, s.accessions
             FROM jobs j LEFT JOIN submissions s ON s.job_id = j.id
             WHERE ?1 IS NULL OR j.id = ?1
             ORDER BY j.created_at DESC, j.rowid DESC",
        )?;
        let jobs = st
            .query_map([only], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<JobRow>>>()?;
        let mut st = c.prepare(
            "SELECT job_id, path, name, size, state, json_extract(upload, '$.remote_id'), sha256, done_at
             FROM files WHERE ?1 IS NULL OR job_id = ?1 ORDER BY job_id, idx",
        )?;
        let mut files: HashMap<String, Vec<HistoryFile>> = HashMap::new();
        let rows = st.query_map([only], |r| {
            Ok((
                r.get::<_, String>(0)?,
                HistoryFile {
                    path: PathBuf::from(r.get::<_, String>(1)?),
                    name: r.get(2)?,
                    size: r.get::<_, i64>(3)?.max(0) as u64,
                    state: FileState::parse(&r.get::<_, String>(4)?),
                    id: r.get(5)?,
                    sha256: r.get(6)?,
                    uploaded_at: r.get::<_, Option<i64>>(7)?.map(|t| t.max(0) as u64),
                },
            ))
        })?;
        for row in rows {
            let (job, f) = row?;
            files.entry(job).or_default().push(f);
        }
        Ok((jobs, files))
    })?;
    Ok(jobs
        .into_iter()
        .map(|(id, created_at, kind, params, state, sub_state, acc)| {
            let params = JobParams::from_json(&params);
            let portal = params.destination.kind;
            let files = files.remove(&id).unwrap_or_default();
            let attached = sub_state.as_deref() == Some(SubmitState::Submitted.name());
            let accessions: Vec<Accession> = acc
                .and_then(|a| serde_json::from_str(&a).ok())
                .unwrap_or_default();
            let earliest = files
                .iter()
                .filter(|f| f.state == FileState::Done)
                .filter_map(|f| f.uploaded_at)
                .min();
            let days_left = match (portal, attached, earliest) {
                (PortalKind::Loculus, false, Some(t)) => Some(expiry::days_left(t, now)),
                _ => None,
            };
            Batch {
                destination: params.destination.describe(),
                job: id,
                kind: JobKind::parse(&kind),
                portal,
                created_at: created_at.max(0) as u64,
                state: JobState::parse(&state),
                files,
                attached,
                accessions,
                days_left,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loculus::SubmitJournal;
    use crate::portal::Upload;
    use crate::scan::Item;
    use crate::transfer::Uploaded;

    fn item(dir: &std::path::Path, name: &str) -> Item {
        let p = dir.join(name);
        std::fs::write(&p, name).unwrap();
        Item {
            path: p,
            name: name.into(),
            size: name.len() as u64,
            mtime: None,
        }
    }

    fn upload(id: &str) -> Upload {
        Upload {
            remote_id: id.into(),
            urls: vec!["https://s3/x?X-Amz-Signature=secret".into()],
            headers: vec![],
            multipart: false,
            expires_at: None,
            form: vec![],
        }
    }

    #[test]
    fn batches_newest_first_with_ids_days_left_and_search() {
        let d = tempfile::tempdir().unwrap();
        let j = std::sync::Arc::new(Journal::open(&d.path().join("j.sqlite")).unwrap());
        let a = j
            .create_job(
                &JobKind::Upload,
                &JobParams::new(crate::job::Destination::loculus("http://b", 1)),
                &[item(d.path(), "a_R1.fq"), item(d.path(), "a_R2.fq")],
            )
            .unwrap();
        let rec = j.recorder(&a);
        for (i, id) in ["id-a1", "id-a2"].iter().enumerate() {
            rec.file_started(i, &upload(id)).unwrap();
            rec.file_done(
                i,
                &Uploaded {
                    path: d.path().join("x"),
                    name: "x".into(),
                    size: 7,
                    remote_id: id.to_string(),
                    sha256: format!("sha{i}"),
                },
            )
            .unwrap();
        }
        let b = j
            .create_job(
                &JobKind::Upload,
                &JobParams::from_json(r#"{"portal": "basespace", "appresult": "42"}"#),
                &[item(d.path(), "b.fq")],
            )
            .unwrap();
        let now = crate::clock::unix_now();
        let all = load(&j, now).unwrap();
        // Same second: the later job is listed first all the same.
        assert_eq!(
            all.iter().map(|b| b.job.as_str()).collect::<Vec<_>>(),
            [b.as_str(), a.as_str()]
        );
        let la = &all[1];
        assert_eq!(la.portal, PortalKind::Loculus);
        assert_eq!(la.destination, "http://b (group 1)");
        assert_eq!(la.days_left, Some(7));
        assert_eq!(
            la.files.iter().map(|f| f.id.clone()).collect::<Vec<_>>(),
            [Some("id-a1".into()), Some("id-a2".into())]
        );
        assert!(la.files.iter().all(|f| f.uploaded_at.is_some()));
        assert_eq!(all[0].destination, "AppResult 42");
        assert_eq!(all[0].days_left, None);
        assert!(la.matches("A_r2") && la.matches("id-a1") && !la.matches("b.fq"));
        // Attached: no days left.
        j.begin_submit(&a, "org", &["s1".into()], &[]).unwrap();
        j.finish_submit(
            &a,
            &[Accession {
                submission_id: "s1".into(),
                accession: "LOC_1".into(),
                version: 1,
            }],
        )
        .unwrap();
        let la = batch(&j, &a, now).unwrap().unwrap();
        assert!(la.attached && la.days_left.is_none());
        assert!(la.matches("loc_1"));
        let lines = crate::receipt::lines(&la);
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.expires_at.is_empty()));
    }
}
