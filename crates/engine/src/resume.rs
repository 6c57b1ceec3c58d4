//! Deciding, file by file, how an interrupted job goes on: skip what the
//! portal accepted, continue uploads whose URLs still work, restart those
//! that cannot be continued, and refuse files that changed.

use crate::Error;
use crate::job::FileState;
use crate::journal::{FileEntry, JobRecord, mtime_ns};
use crate::scan::Item;
use crate::transfer::{JobFile, Prior, Uploaded};

/// URLs that expire within this many seconds are not worth continuing: a
/// part must start before they expire.
const EXPIRY_MARGIN_SECS: u64 = 120;

/// Why a file sent in one request (One Codex's POST, a single PUT) goes
/// again whole: said by `ferry resume`, the CLI's retries and the window.
pub const SENT_AGAIN_WHOLE: &str = "it goes in one request, which cannot continue where it stopped, so it is sent again from the start";

#[derive(Debug)]
pub enum Step {
    /// The portal already accepted it.
    Done(Uploaded),
    /// Send it (again): `prior` set = continue, else a new upload.
    Send {
        file: JobFile,
        /// Why an earlier upload is abandoned, if one is.
        restart: Option<String>,
        /// Parts the storage already holds.
        parts_done: usize,
    },
    /// It cannot be resumed (changed or gone); nothing old is reused.
    Refused(Error),
}

impl std::fmt::Debug for JobFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobFile")
            .field("item", &self.item)
            .field("prior", &self.prior.as_ref().map(|p| p.done.len()))
            .finish()
    }
}

/// One step per file of the job, in order.
pub fn plan_resume(job: &JobRecord) -> Vec<Step> {
    job.files
        .iter()
        .map(|f| step(f, crate::clock::unix_now()))
        .collect()
}

/// How one file of an interrupted job goes on.
pub fn file_step(f: &FileEntry) -> Step {
    step(f, crate::clock::unix_now())
}

fn step(f: &FileEntry, now: u64) -> Step {
    if f.state == FileState::Done
        && let (Some(u), Some(sha)) = (&f.upload, &f.sha256)
    {
        return Step::Done(Uploaded {
            path: f.path.clone(),
            name: f.name.clone(),
            size: f.size,
            remote_id: u.remote_id.clone(),
            sha256: sha.clone(),
        });
    }
    let meta = match std::fs::metadata(&f.path) {
        Ok(m) => m,
        Err(e) => {
            return Step::Refused(Error::Io {
                path: f.path.clone(),
                source: e.into(),
            });
        }
    };
    let mtime = meta.modified().ok();
    if meta.len() != f.size || (f.mtime_ns.is_some() && mtime_ns(mtime) != f.mtime_ns) {
        return Step::Refused(Error::FileChanged {
            path: f.path.clone(),
            what: "it is not the file the interrupted upload started with (size or modification time differ); start a new upload for it".into(),
        });
    }
    let item = Item {
        path: f.path.clone(),
        name: f.name.clone(),
        size: f.size,
        mtime,
    };
    let fresh = |restart| Step::Send {
        file: item.clone().into(),
        restart,
        parts_done: 0,
    };
    let Some(u) = &f.upload else {
        return fresh(None);
    };
    if !u.multipart {
        // A single request cannot continue where it stopped (One Codex's
        // POST, a single PUT); a new upload avoids guessing whether the old
        // one landed.
        return fresh(Some(SENT_AGAIN_WHOLE.into()));
    }
    match u.expires_at {
        Some(t) if t <= now + EXPIRY_MARGIN_SECS => fresh(Some(format!(
            "its upload links {} and the portal cannot renew them; sending it again from the start under a new id",
            match now.checked_sub(t) {
                None => format!("expire in {} s, too soon to finish", t - now),
                Some(ago) if ago < 120 => format!("expired {ago} s ago"),
                Some(ago) => format!("expired {} min ago", ago / 60),
            }
        ))),
        _ => Step::Send {
            parts_done: f.parts.len(),
            file: JobFile {
                item,
                cancel: None,
                prior: Some(Prior {
                    upload: u.clone(),
                    done: f.parts.clone(),
                }),
            },
            restart: None,
        },
    }
}

/// A One Codex pair is one sample: when only one file of a pair got
/// through before the interruption, both go again under a new sample, as
/// the desktop queue decides it ([`crate::queue::mates_again`]). The pairs
/// are the job's destination's. `ferry resume` and a watcher's resume
/// both decide with this.
pub fn resend_whole_pairs(rec: &JobRecord, steps: &mut [Step]) {
    use crate::queue::{mates_again, sent_again_with_mate};
    let names: Vec<String> = rec.files.iter().map(|f| f.name.clone()).collect();
    let pairs = rec.params.pair_indices(&names);
    let done = |i: usize| matches!(steps[i], Step::Done(_));
    // Everything not done is sent on resume.
    let again = mates_again(&pairs, done, |i| !done(i));
    for lone in again {
        let f = &rec.files[lone];
        let mtime = std::fs::metadata(&f.path).and_then(|m| m.modified()).ok();
        steps[lone] = sent_again_with_mate(Item {
            path: f.path.clone(),
            name: f.name.clone(),
            size: f.size,
            mtime,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portal::Upload;
    use std::collections::BTreeMap;

    fn entry(path: &std::path::Path, expires_at: Option<u64>) -> FileEntry {
        let m = std::fs::metadata(path).unwrap();
        FileEntry {
            idx: 0,
            path: path.to_path_buf(),
            name: "x".into(),
            size: m.len(),
            mtime_ns: mtime_ns(m.modified().ok()),
            state: FileState::Started,
            upload: Some(Upload {
                remote_id: "r".into(),
                urls: vec![],
                headers: vec![],
                multipart: true,
                expires_at,
                form: vec![],
            }),
            sha256: None,
            error: None,
            parts: BTreeMap::from([(1, "e".to_string())]),
            done_at: None,
        }
    }

    #[test]
    fn continues_live_uploads_restarts_expired_refuses_changed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"abc").unwrap();
        let live = step(&entry(&p, Some(10_000)), 1_000);
        assert!(
            matches!(
                live,
                Step::Send {
                    parts_done: 1,
                    restart: None,
                    ..
                }
            ),
            "{live:?}"
        );
        let dead = step(&entry(&p, Some(1_000)), 2_000);
        assert!(
            matches!(&dead, Step::Send { parts_done: 0, restart: Some(r), .. } if r.contains("expired")),
            "{dead:?}"
        );
        let mut changed = entry(&p, Some(10_000));
        changed.size = 4;
        assert!(matches!(
            step(&changed, 1_000),
            Step::Refused(Error::FileChanged { .. })
        ));
    }
}
