//! Unattached uploads expire on Loculus (loculus-api.md §4.5): the
//! backend's garbage collection marks a fileId no submission references
//! once it is older than the orphan retention (7 days by default), and a
//! submit naming it gets 422 "... no longer valid because they have
//! expired: <ids>"; the next run deletes it and the 422 says the ids "do
//! not exist". Both are handled here, once, for the CLI and the app: the
//! named files are uploaded again if they are still on disk and unchanged,
//! and the submit goes again with the new ids.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::journal::{FileEntry, Journal, mtime_ns};
use crate::loculus::entries::{SubmitError, Submitted, submit_once};
use crate::loculus::submit::LinkedMetadata;
use crate::loculus::{Loculus, Submission};
use crate::portal::Upload;
use crate::scan::Item;
use crate::transfer::{Engine, JobFile, JobLog, Uploaded};
use crate::{Error, Portal};

/// Loculus' default orphan retention (`gc-orphan-retention-period-minutes`
/// = 10080): how long an unattached fileId stays usable on an instance
/// that keeps the default. An instance may be set otherwise, and a client
/// cannot ask, so dates computed from this are "at the default".
pub const DEFAULT_RETENTION_SECS: u64 = 10080 * 60;

/// Unix time at which an id uploaded at `uploaded_at` expires at the
/// default retention.
pub fn expires_at(uploaded_at: u64) -> u64 {
    uploaded_at + DEFAULT_RETENTION_SECS
}

/// Whole days left before `uploaded_at + retention`, at `now` (0 once
/// past: the id may be gone).
pub fn days_left(uploaded_at: u64, now: u64) -> u64 {
    expires_at(uploaded_at).saturating_sub(now).div_ceil(86400)
}

/// Which of the two refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lapse {
    /// Marked for deletion: "no longer valid because they have expired".
    Expired,
    /// Already deleted: "do not exist".
    Deleted,
}

impl Lapse {
    fn says(self) -> &'static str {
        match self {
            Lapse::Expired => "expired",
            Lapse::Deleted => "was deleted",
        }
    }
}

const EXPIRED: &str = "no longer valid because they have expired:";
const DELETED: &str = "The following file IDs do not exist:";

/// The fileIds a refused submit names as expired or deleted, if that is
/// why it was refused.
pub fn lapsed_ids(e: &Error) -> Option<(Lapse, Vec<String>)> {
    let text = e.to_string();
    let (lapse, rest) = [(Lapse::Expired, EXPIRED), (Lapse::Deleted, DELETED)]
        .into_iter()
        .find_map(|(l, m)| text.find(m).map(|i| (l, &text[i + m.len()..])))?;
    let ids: Vec<String> = rest
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|t| t.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-'))
        .filter(|t| t.len() == 36 && uuid::Uuid::parse_str(t).is_ok())
        .map(str::to_ascii_lowercase)
        .collect();
    (!ids.is_empty()).then_some((lapse, ids))
}

/// One file uploaded again under a new id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Renewed {
    pub path: PathBuf,
    pub name: String,
    pub old_id: String,
    pub new_id: String,
    /// The id had been marked (`true`) or already deleted.
    pub was_marked: bool,
}

impl std::fmt::Display for Renewed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: its upload {} {} on the portal (unattached uploads are kept about 7 days), so it was uploaded again as {}",
            self.name,
            self.old_id,
            if self.was_marked {
                "expired"
            } else {
                "was deleted"
            },
            self.new_id
        )
    }
}

/// Why expired ids could not be renewed. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    #[error(
        "{}: its upload {id} {} on the portal, and the file cannot be read any more ({source}), so it cannot be uploaded again: put it back where it was, or start a new submission without it",
        path.display(), lapse.says()
    )]
    Gone {
        path: PathBuf,
        id: String,
        lapse: Lapse,
        source: std::io::Error,
    },
    #[error(
        "{}: its upload {id} {} on the portal, and the file changed since it was uploaded ({what}); Ferry does not submit another file in its place: start a new submission with it",
        path.display(), lapse.says()
    )]
    Changed {
        path: PathBuf,
        id: String,
        lapse: Lapse,
        what: String,
    },
    #[error(
        "the portal says file id {0} expired, but no upload of this batch has that id; start a new submission"
    )]
    Unknown(String),
    #[error("uploading again the files whose ids expired failed: {0}")]
    Upload(Error),
    #[error("{0}")]
    Journal(Error),
}

/// Journal entries of `jobs` by their upload's id.
fn entries_by_id(
    journal: &Journal,
    jobs: &[String],
) -> Result<HashMap<String, (String, FileEntry)>, Error> {
    let mut out = HashMap::new();
    for job in jobs {
        let Some(rec) = journal.job(job)? else {
            continue;
        };
        for f in rec.files {
            if let Some(u) = &f.upload {
                out.insert(u.remote_id.to_ascii_lowercase(), (job.clone(), f));
            }
        }
    }
    Ok(out)
}

/// Records the new upload only if its bytes hash to what was uploaded
/// before: a file rewritten with the same size and time is stopped here,
/// and never recorded as done under its old name.
struct Verified {
    log: Arc<dyn JobLog>,
    idx: usize,
    sha256: Option<String>,
}

impl JobLog for Verified {
    fn file_started(&self, _file: usize, upload: &Upload) -> Result<(), Error> {
        self.log.file_started(self.idx, upload)
    }
    fn part_done(&self, _file: usize, remote_id: &str, part: u32, etag: &str) -> Result<(), Error> {
        self.log.part_done(self.idx, remote_id, part, etag)
    }
    fn file_done(&self, _file: usize, done: &Uploaded) -> Result<(), Error> {
        if let Some(sha) = &self.sha256
            && !sha.eq_ignore_ascii_case(&done.sha256)
        {
            return Err(Error::FileChanged {
                path: done.path.clone(),
                what: format!(
                    "its SHA-256 is {} now, {sha} when it was uploaded",
                    done.sha256
                ),
            });
        }
        self.log.file_done(self.idx, done)
    }
    fn file_failed(&self, _file: usize, error: &Error) {
        self.log.file_failed(self.idx, error)
    }
}

/// Uploads again the files of `jobs` whose ids are `ids`, if each is still
/// on disk with the size and modification time journaled; its SHA-256 is
/// compared in the same read pass that sends it (no second read of a big
/// file). The journal records the new ids under the same jobs.
pub async fn renew(
    engine: &Engine,
    portal: Arc<dyn Portal>,
    journal: &Arc<Journal>,
    jobs: &[String],
    lapse: Lapse,
    ids: &[String],
) -> Result<Vec<Renewed>, RenewError> {
    let by_id = entries_by_id(journal, jobs).map_err(RenewError::Journal)?;
    let mut files = Vec::new();
    let mut logs: Vec<Arc<dyn JobLog>> = Vec::new();
    let mut olds = Vec::new();
    for id in ids {
        let (job, f) = by_id
            .get(id)
            .ok_or_else(|| RenewError::Unknown(id.clone()))?;
        let meta = std::fs::metadata(&f.path).map_err(|source| RenewError::Gone {
            path: f.path.clone(),
            id: id.clone(),
            lapse,
            source,
        })?;
        let mtime = meta.modified().ok();
        let what = if meta.len() != f.size {
            Some(format!("{} bytes now, {} then", meta.len(), f.size))
        } else if f.mtime_ns.is_some() && mtime_ns(mtime) != f.mtime_ns {
            Some("its modification time differs".to_string())
        } else {
            None
        };
        if let Some(what) = what {
            return Err(RenewError::Changed {
                path: f.path.clone(),
                id: id.clone(),
                lapse,
                what,
            });
        }
        files.push(JobFile::from(Item {
            path: f.path.clone(),
            name: f.name.clone(),
            size: f.size,
            mtime,
        }));
        logs.push(Arc::new(Verified {
            log: journal.recorder(job),
            idx: f.idx,
            sha256: f.sha256.clone(),
        }));
        olds.push((id.clone(), f.clone()));
    }
    let log = crate::journal::Routed::wrap(logs.into_iter().map(|l| (l, 0)).collect());
    let outcomes = engine.run(portal, files, Some(log)).await;
    let mut renewed = Vec::new();
    for (o, (old_id, f)) in outcomes.into_iter().zip(olds) {
        match o {
            Ok(u) => renewed.push(Renewed {
                path: f.path,
                name: f.name,
                old_id,
                new_id: u.remote_id,
                was_marked: lapse == Lapse::Expired,
            }),
            Err(Error::FileChanged { path, what }) => {
                return Err(RenewError::Changed {
                    path,
                    id: old_id,
                    lapse,
                    what,
                });
            }
            Err(e) => return Err(RenewError::Upload(e)),
        }
    }
    Ok(renewed)
}

/// Puts the new ids in place of the old in the submission and the uploads.
pub fn apply(renewed: &[Renewed], sub: &mut Submission, done: &mut [Uploaded]) {
    let map: HashMap<&str, &str> = renewed
        .iter()
        .map(|r| (r.old_id.as_str(), r.new_id.as_str()))
        .collect();
    for f in sub.files.iter_mut() {
        if let Some(n) = map.get(f.file_id.to_ascii_lowercase().as_str()) {
            f.file_id = n.to_string();
        }
    }
    for u in done.iter_mut() {
        if let Some(n) = map.get(u.remote_id.to_ascii_lowercase().as_str()) {
            u.remote_id = n.to_string();
        }
    }
}

/// [`submit_once`], and on a refusal naming expired or deleted ids: those
/// files uploaded again ([`renew`]) and the submission sent again with the
/// new ids (at most twice: new ids do not expire in between). The job's
/// submit is journaled under `jobs[0]`; the files' uploads may belong to
/// any of `jobs`. `sub` and `done` end up with the ids submitted.
pub async fn submit_renewing(
    portal: &Arc<Loculus>,
    engine: &Engine,
    journal: &Arc<Journal>,
    jobs: &[String],
    sub: &mut Submission,
    raw: &[u8],
    done: &mut [Uploaded],
) -> Result<(Submitted, LinkedMetadata, Vec<Renewed>), SubmitError> {
    let job = jobs.first().map(String::as_str).unwrap_or_default();
    let mut renewed = Vec::new();
    for attempt in 0..3 {
        match submit_once(portal, journal, job, sub, raw).await {
            Ok((s, linked)) => return Ok((s, linked, renewed)),
            Err(SubmitError::Refused(e)) if attempt < 2 => {
                let Some((lapse, ids)) = lapsed_ids(&e) else {
                    return Err(SubmitError::Refused(e));
                };
                let now = renew(engine, portal.clone(), journal, jobs, lapse, &ids)
                    .await
                    .map_err(SubmitError::Expired)?;
                apply(&now, sub, done);
                renewed.extend(now);
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the last attempt returns")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(detail: &str) -> Error {
        Error::Rejected {
            host: "backend".into(),
            status: 422,
            detail: detail.into(),
        }
    }

    #[test]
    fn both_refusals_name_their_ids() {
        let a = "0b7d6a2e-7c1f-4c7e-9d1a-1f2e3d4c5b6a";
        let b = "1B7D6A2E-7C1F-4C7E-9D1A-1F2E3D4C5B6A";
        let (l, ids) = lapsed_ids(&rejected(&format!(
            "The following file IDs are no longer valid because they have expired: {a}, {b}"
        )))
        .unwrap();
        assert_eq!(l, Lapse::Expired);
        assert_eq!(ids, vec![a.to_string(), b.to_ascii_lowercase()]);
        let (l, ids) = lapsed_ids(&rejected(&format!(
            "The following file IDs do not exist: {a}."
        )))
        .unwrap();
        assert_eq!((l, ids), (Lapse::Deleted, vec![a.to_string()]));
        assert!(lapsed_ids(&rejected("Metadata file contains 1 FASTA ids")).is_none());
        assert!(lapsed_ids(&rejected("The following file IDs do not exist: nonsense")).is_none());
    }

    #[test]
    fn days_left_count_whole_days_up() {
        assert_eq!(days_left(0, 0), 7);
        assert_eq!(days_left(0, 86400 * 6 + 1), 1);
        assert_eq!(days_left(0, DEFAULT_RETENTION_SECS), 0);
        assert_eq!(days_left(0, u64::MAX), 0);
    }
}
