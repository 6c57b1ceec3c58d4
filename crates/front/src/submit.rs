//! A Loculus submission as both front-ends make it: the folder read
//! again (a fix on disk counts), the uploaded files attached to their
//! rows, the submit journaled around its POST (never twice) with expired
//! ids uploaded again, then the check that the portal really attached the
//! files, and a receipt. Failures are typed; [`SubmitFailure::message`]
//! words each once, with how to try again in the front-end's terms.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_engine::journal::Journal;
use ferry_engine::loculus::entries::{self, SubmitError};
use ferry_engine::loculus::expiry::{RenewError, Renewed, submit_renewing};
use ferry_engine::loculus::{Accession, DataUseTerms, Linkage, Loculus, Submission, batch};
use ferry_engine::{Engine, Error, ErrorClass, Uploaded};

/// The data use terms: restricted until a date (`YYYY-MM-DD`), else open.
pub fn data_use_terms(restricted_until: Option<&str>) -> DataUseTerms {
    match restricted_until.map(str::trim).filter(|d| !d.is_empty()) {
        Some(until) => DataUseTerms::Restricted {
            until: until.to_string(),
        },
        None => DataUseTerms::Open,
    }
}

/// Where and how a submission goes.
pub struct SubmitTo<'a> {
    pub portal: &'a Arc<Loculus>,
    /// Uploads expired ids again (with the front-end's settings).
    pub engine: &'a Engine,
    /// Without one the submit is not journaled (the app says so at
    /// sign-in) and expired ids are not renewed.
    pub journal: Option<&'a Arc<Journal>>,
    /// The journal jobs that uploaded the files; the first records the
    /// submit.
    pub jobs: &'a [String],
    /// Send the old `fileMapping` field (backends before August 2026).
    pub legacy_file_mapping: bool,
}

/// A submission the portal accepted.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub accessions: Vec<Accession>,
    /// An earlier POST of this job had landed although its answer was
    /// lost: found on the portal, not posted again.
    pub earlier: bool,
    /// An earlier POST had lost its answer and had not landed: posted again.
    pub retried: bool,
    /// Files uploaded again because the portal had expired or deleted
    /// their ids.
    pub renewed: Vec<Renewed>,
    /// The files as submitted (new ids where renewed).
    pub done: Vec<Uploaded>,
    /// Entries whose files could not be checked yet, each a sentence.
    pub unverified: Vec<String>,
    /// The receipt's two files, or why it was not written (folders only).
    pub receipt: Option<Result<(PathBuf, PathBuf), String>>,
}

/// Why a submission did not go through (or went through incompletely).
#[derive(Debug, thiserror::Error)]
pub enum SubmitFailure {
    /// The folder's linkage report has problems; nothing was submitted.
    #[error("{} problem(s) in {}: {}", .problems.len(), .folder.display(), .problems.join("; "))]
    Problems {
        folder: PathBuf,
        problems: Vec<String>,
    },
    /// Files of the folder that were not uploaded (by this job).
    #[error("not uploaded yet: {}", .0.join(", "))]
    NotUploaded(Vec<String>),
    /// The metadata or sequences could not be read or written.
    #[error("{0}")]
    Unreadable(String),
    #[error("the portal refused the submission: {error}")]
    Refused {
        error: Error,
        /// The server's message at each row it names.
        rows: BTreeMap<String, String>,
        /// The files uploaded, which stay on the portal for a while.
        kept: Vec<Uploaded>,
    },
    #[error("the answer to the submission was lost ({0})")]
    AnswerLost(Error),
    #[error("cannot check on the portal whether the interrupted submission went through ({0})")]
    CannotCheck(Error),
    #[error("the interrupted submission reached the portal for only some of its rows")]
    Partly {
        found: Vec<Accession>,
        missing: Vec<String>,
    },
    #[error("{0}")]
    Journal(Error),
    #[error("nothing was submitted: {0}")]
    Expired(RenewError),
    /// The portal took the submission but not the files of some rows
    /// (current backends ignore what they do not know, such as the old
    /// `fileMapping` field).
    #[error("the portal accepted the submission but did not attach the files of: {}", .missing.join(", "))]
    NotAttached {
        submitted: Box<Submitted>,
        missing: Vec<String>,
        legacy: bool,
    },
}

/// How a front-end lets the user try again.
#[derive(Debug, Clone, Copy)]
pub enum Again<'a> {
    /// The command line: `ferry resume JOB`.
    Resume(&'a str),
    /// The wizard's **Submit** button.
    SubmitButton,
    /// The Watched folders panel's **Check again** button.
    CheckAgainButton,
}

impl Again<'_> {
    fn how(&self) -> String {
        match self {
            Again::Resume(job) => format!("run `ferry resume {job}`"),
            Again::SubmitButton => "press Submit again".into(),
            Again::CheckAgainButton => "press Check again".into(),
        }
    }
}

impl SubmitFailure {
    /// The whole message, saying what was kept and how to go on.
    pub fn message(&self, again: Again<'_>) -> String {
        let how = again.how();
        match self {
            SubmitFailure::Problems { .. } => {
                format!("{self}; the uploaded files are kept: fix them and {how}")
            }
            SubmitFailure::NotUploaded(_) => match again {
                Again::Resume(job) => format!(
                    "{self}: not part of job {job} when it started; start a new `ferry submit --folder` (or `ferry abort {job}`)"
                ),
                Again::SubmitButton | Again::CheckAgainButton => self.to_string(),
            },
            SubmitFailure::Refused { error, kept, .. } => {
                let ids: Vec<String> = kept
                    .iter()
                    .map(|u| format!("{}={}", u.name, u.remote_id))
                    .collect();
                format!(
                    "the portal refused the submission: {}\n  the uploaded files are kept on the portal for about 7 days ({}); fix the metadata and {how} to submit again without uploading",
                    error.to_string().trim_end_matches('.'),
                    ids.join(" ")
                )
            }
            SubmitFailure::AnswerLost(_) => format!(
                "{self}; it may have reached the portal: {how}, and Ferry asks the portal first and submits again only if it did not"
            ),
            SubmitFailure::CannotCheck(_) => {
                format!("{self}; nothing was submitted now: {how} later")
            }
            SubmitFailure::Partly { found, missing } => {
                let found: Vec<String> = found
                    .iter()
                    .map(|a| format!("{}={}.{}", a.submission_id, a.accession, a.version))
                    .collect();
                let then = match again {
                    Again::Resume(job) => format!(", then `ferry abort {job}`"),
                    Again::SubmitButton | Again::CheckAgainButton => String::new(),
                };
                format!(
                    "the interrupted submission reached the portal for only some of its rows ({}; none for {}); not submitting again: check the group's entries on the website{then}",
                    found.join(" "),
                    missing.join(", ")
                )
            }
            SubmitFailure::NotAttached {
                submitted, legacy, ..
            } => {
                let acc: Vec<String> = submitted
                    .accessions
                    .iter()
                    .map(|a| format!("{}.{}", a.accession, a.version))
                    .collect();
                let hint = if *legacy {
                    "this backend ignores the old fileMapping field; submit again without --legacy-file-mapping"
                } else {
                    "report this to the instance's admins"
                };
                format!("{self} (accessions {}); {hint}", acc.join(" "))
            }
            SubmitFailure::Unreadable(_)
            | SubmitFailure::Journal(_)
            | SubmitFailure::Expired(_) => self.to_string(),
        }
    }

    /// The engine's class of the failure, where one error caused it.
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            SubmitFailure::Refused { error, .. }
            | SubmitFailure::AnswerLost(error)
            | SubmitFailure::CannotCheck(error)
            | SubmitFailure::Journal(error) => Some(error.class()),
            SubmitFailure::Expired(RenewError::Upload(e) | RenewError::Journal(e)) => {
                Some(e.class())
            }
            _ => None,
        }
    }
}

/// Submit `sub` (its metadata table `raw`) with the files `done`, then
/// check that the portal attached them.
pub async fn submit(
    to: &SubmitTo<'_>,
    mut sub: Submission,
    raw: &[u8],
    mut done: Vec<Uploaded>,
) -> Result<Submitted, SubmitFailure> {
    sub.legacy_file_mapping = to.legacy_file_mapping;
    let ids = ferry_engine::loculus::submit::table_ids(raw);
    let refused = |error: Error, sub: &Submission, done: &[Uploaded]| SubmitFailure::Refused {
        rows: ferry_engine::loculus::submit::row_messages(&error, &ids, &sub.files),
        error,
        kept: done.to_vec(),
    };
    let (submitted, linked, renewed) = match (to.journal, to.jobs.first()) {
        (Some(journal), Some(_)) => {
            match submit_renewing(
                to.portal, to.engine, journal, to.jobs, &mut sub, raw, &mut done,
            )
            .await
            {
                Ok(ok) => ok,
                Err(SubmitError::Refused(e)) => return Err(refused(e, &sub, &done)),
                Err(SubmitError::AnswerLost(e)) => return Err(SubmitFailure::AnswerLost(e)),
                Err(SubmitError::CannotCheck(e)) => return Err(SubmitFailure::CannotCheck(e)),
                Err(SubmitError::Partly { found, missing }) => {
                    return Err(SubmitFailure::Partly { found, missing });
                }
                Err(SubmitError::Journal(e)) => return Err(SubmitFailure::Journal(e)),
                Err(SubmitError::Expired(e)) => return Err(SubmitFailure::Expired(e)),
            }
        }
        _ => {
            let (accessions, linked) = to
                .portal
                .submit_tsv(&sub, raw)
                .await
                .map_err(|e| refused(e, &sub, &done))?;
            let now = entries::Submitted::Now {
                accessions,
                retried: false,
            };
            (now, linked, vec![])
        }
    };
    let mut out = Submitted {
        accessions: submitted.accessions().to_vec(),
        earlier: matches!(submitted, entries::Submitted::Earlier(_)),
        retried: matches!(submitted, entries::Submitted::Now { retried: true, .. }),
        renewed,
        done,
        unverified: vec![],
        receipt: None,
    };
    let missing = unattached(to.portal, &sub.organism, &linked, &mut out).await;
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(SubmitFailure::NotAttached {
            submitted: Box::new(out),
            missing,
            legacy: to.legacy_file_mapping,
        })
    }
}

/// The rows whose entries do not carry the files linked to them. An
/// entry that cannot be read yet (the real backend may answer 500 until
/// preprocessing ran) is noted, not counted.
async fn unattached(
    portal: &Loculus,
    organism: &str,
    linked: &ferry_engine::loculus::submit::LinkedMetadata,
    out: &mut Submitted,
) -> Vec<String> {
    let mut missing = Vec::new();
    for acc in &out.accessions {
        let want = linked
            .files
            .get(&acc.submission_id)
            .cloned()
            .unwrap_or_default();
        if want.is_empty() {
            continue;
        }
        match portal.attached_files(organism, acc).await {
            Ok(got) if got == want => {}
            Ok(_) => missing.push(acc.submission_id.clone()),
            Err(e) => out.unverified.push(format!(
                "could not verify the files of {} yet ({e}); check them on the website",
                acc.accession
            )),
        }
    }
    missing
}

/// Submit a batch folder: `l` is the folder read again now (rows left
/// out already excluded); `done` the accepted uploads, of which those
/// of the folder's files are attached. The receipt goes to `receipt`
/// (`.csv` and `.json`) once the portal accepted the submission, even when
/// it did not attach every file.
pub async fn submit_folder(
    to: &SubmitTo<'_>,
    l: &Linkage,
    done: &[Uploaded],
    restricted_until: Option<&str>,
    receipt: &Path,
) -> Result<Submitted, SubmitFailure> {
    if !l.is_ok() {
        return Err(SubmitFailure::Problems {
            folder: l.folder.clone(),
            problems: l.problems.iter().map(|p| p.to_string()).collect(),
        });
    }
    let files = batch::attachments(l, done).map_err(SubmitFailure::NotUploaded)?;
    let raw = l
        .base_tsv()
        .map_err(|e| SubmitFailure::Unreadable(format!("cannot write the metadata: {e}")))?;
    let scratch = tempfile::tempdir().map_err(|e| {
        SubmitFailure::Unreadable(format!("no temporary folder for the sequences: {e}"))
    })?;
    let sequences = batch::sequences_for(l, scratch.path()).map_err(|e| {
        SubmitFailure::Unreadable(format!(
            "{}: cannot be read ({e})",
            l.sequences.clone().unwrap_or_default()
        ))
    })?;
    let sub = Submission {
        organism: l.organism.clone(),
        metadata: l.path_of(l.metadata.as_deref().unwrap_or_default()),
        sequences,
        files,
        data_use_terms: data_use_terms(restricted_until),
        legacy_file_mapping: to.legacy_file_mapping,
    };
    let with_receipt = |s: &mut Submitted| {
        let lines = batch::receipt(l, &s.accessions, &s.done);
        s.receipt = Some(batch::write_receipt(receipt, &lines));
    };
    match submit(to, sub, &raw, done.to_vec()).await {
        Ok(mut s) => {
            with_receipt(&mut s);
            Ok(s)
        }
        Err(SubmitFailure::NotAttached {
            mut submitted,
            missing,
            legacy,
        }) => {
            with_receipt(&mut submitted);
            Err(SubmitFailure::NotAttached {
                submitted,
                missing,
                legacy,
            })
        }
        Err(e) => Err(e),
    }
}
