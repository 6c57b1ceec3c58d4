//! Submitting at most once ([`submit_once`]): whether a submission reached
//! the backend although its answer was lost is read from the group's
//! unreleased sequence entries (`GET /<organism>/get-sequences`, page by
//! page) carrying the submission ids, minus those that were there before
//! the submit.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::Loculus;
use super::submit::{Accession, LinkedMetadata, Submission, link_metadata, table_ids};
use super::submit_record::{SubmitJournal, SubmitState};
use crate::Error;
use crate::journal::Journal;

/// One row of `GetSequenceResponse.sequenceEntries` (`SequenceEntryStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SequenceEntry {
    pub accession: String,
    pub version: i64,
    pub submission_id: String,
    pub group_id: i64,
    #[serde(default)]
    pub is_revocation: bool,
    #[serde(default)]
    pub submitter: String,
}

/// What the group's entries say about a submission of `ids`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No new entry carries any of the ids: the submission did not land.
    Nothing,
    /// Every id has a new entry: the submission landed (it is all-or-nothing).
    All(Vec<Accession>),
    /// Some ids have new entries, others not: someone else changed the
    /// group's entries meanwhile (e.g. deleted some); a person must look.
    Partly {
        found: Vec<Accession>,
        missing: Vec<String>,
    },
}

/// Accessions of `entries` that carry one of `ids`: what was there before
/// a submit, so that a later look can tell the submit's own entries apart.
pub fn carrying(entries: &[SequenceEntry], ids: &[String]) -> Vec<String> {
    let ids: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    entries
        .iter()
        .filter(|e| ids.contains(e.submission_id.as_str()))
        .map(|e| e.accession.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The entries a submission of `ids` created: new accessions (not in
/// `known`, taken just before the submit) carrying one of the ids.
pub fn submitted_since(entries: &[SequenceEntry], ids: &[String], known: &[String]) -> Found {
    let known: BTreeSet<&str> = known.iter().map(String::as_str).collect();
    // submission id -> (accession, its first version)
    let mut new: BTreeMap<&str, (&str, i64)> = BTreeMap::new();
    for e in entries {
        if e.is_revocation || known.contains(e.accession.as_str()) {
            continue;
        }
        let slot = new
            .entry(e.submission_id.as_str())
            .or_insert((e.accession.as_str(), e.version));
        if slot.0 == e.accession && e.version < slot.1 {
            slot.1 = e.version;
        }
    }
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for id in ids {
        match new.get(id.as_str()) {
            Some((acc, version)) => found.push(Accession {
                submission_id: id.clone(),
                accession: acc.to_string(),
                version: *version,
            }),
            None => missing.push(id.clone()),
        }
    }
    match (found.is_empty(), missing.is_empty()) {
        (true, _) => Found::Nothing,
        (false, true) => Found::All(found),
        (false, false) => Found::Partly { found, missing },
    }
}

/// The statuses of entries not yet released: a new submission is one of
/// them until a curator approves it, so only these can hold it (a group's
/// released entries, years of them, are never read).
pub const UNRELEASED: &str = "RECEIVED,IN_PROCESSING,PROCESSED";

/// Entries per page of `get-sequences`: a page of about 300 KB.
pub const PAGE_SIZE: usize = 1000;

impl Loculus {
    /// The group's unreleased entries of `organism` that carry one of
    /// `ids`, read page by page (`page`, `size`: the backend's
    /// `limit(size, page * size)` by accession), so neither the answers
    /// nor memory grow with the group.
    pub async fn entries_carrying(
        &self,
        organism: &str,
        ids: &[String],
    ) -> Result<Vec<SequenceEntry>, Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Resp {
            sequence_entries: Vec<SequenceEntry>,
        }
        let want: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        let mut out = Vec::new();
        for page in 0.. {
            let r: Resp = self
                .api
                .get_json(&format!(
                    "{organism}/get-sequences?groupIdsFilter={}&statusesFilter={UNRELEASED}&page={page}&size={PAGE_SIZE}",
                    self.group_id
                ))
                .await?;
            let n = r.sequence_entries.len();
            out.extend(
                r.sequence_entries
                    .into_iter()
                    .filter(|e| want.contains(e.submission_id.as_str())),
            );
            if n < PAGE_SIZE {
                break;
            }
        }
        Ok(out)
    }
}

/// How [`submit_once`] ended well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// Posted now and answered. `retried`: an earlier POST of this job
    /// had lost its answer and the portal showed it had not landed.
    Now {
        accessions: Vec<Accession>,
        retried: bool,
    },
    /// An earlier POST of this job had landed although its answer was
    /// lost: found on the portal, not posted again.
    Earlier(Vec<Accession>),
}

impl Submitted {
    pub fn accessions(&self) -> &[Accession] {
        match self {
            Submitted::Now { accessions, .. } | Submitted::Earlier(accessions) => accessions,
        }
    }
}

/// Why [`submit_once`] did not end with accessions.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The portal refused the submission: nothing of it landed (a submit
    /// is all-or-nothing); fixing the metadata and submitting again is safe.
    #[error("{0}")]
    Refused(Error),
    /// The POST went out and its answer was lost (connection, cut answer,
    /// 5xx): it may have landed. The journal says so; the next attempt asks
    /// the portal first.
    #[error("{0}")]
    AnswerLost(Error),
    /// The group's entries could not be listed, so whether an earlier POST
    /// landed is unknown; nothing was posted.
    #[error("{0}")]
    CannotCheck(Error),
    /// Only some rows of an earlier POST have new entries (someone changed
    /// the group's entries meanwhile); nothing was posted.
    #[error("the portal holds new entries for only some rows of the interrupted submission")]
    Partly {
        found: Vec<Accession>,
        missing: Vec<String>,
    },
    /// The journal could not record the step; nothing was posted after it.
    #[error("{0}")]
    Journal(Error),
    /// The portal refused expired or deleted fileIds and they could not be
    /// uploaded again (see `expiry`); nothing was submitted.
    #[error("{0}")]
    Expired(crate::loculus::expiry::RenewError),
}

/// Submit job `job`'s `sub` (metadata `raw`) at most once: the journal
/// says `submitting` (with the entries that already carried its ids)
/// before the POST and holds the accessions after it, and a job left
/// `submitting` is looked up on the portal instead of posted again.
pub async fn submit_once(
    portal: &Loculus,
    journal: &Journal,
    job: &str,
    sub: &Submission,
    raw: &[u8],
) -> Result<(Submitted, LinkedMetadata), SubmitError> {
    let linked = link_metadata(&sub.metadata, raw, &sub.files, !sub.legacy_file_mapping)
        .map_err(SubmitError::Refused)?;
    let ids = table_ids(&linked.tsv);
    let mut retried = false;
    if let Some(rec) = journal.submit_record(job).map_err(SubmitError::Journal)?
        && rec.state == SubmitState::Submitting
    {
        let now = portal
            .entries_carrying(&rec.organism, &rec.submission_ids)
            .await
            .map_err(SubmitError::CannotCheck)?;
        match submitted_since(&now, &rec.submission_ids, &rec.known_accessions) {
            Found::All(accessions) => {
                journal
                    .finish_submit(job, &accessions)
                    .map_err(SubmitError::Journal)?;
                return Ok((Submitted::Earlier(accessions), linked));
            }
            Found::Partly { found, missing } => {
                return Err(SubmitError::Partly { found, missing });
            }
            Found::Nothing => retried = true,
        }
    }
    // Entries that already carry these ids are not ours: noted before the
    // POST, so a later look tells the new ones apart.
    let before = portal
        .entries_carrying(&sub.organism, &ids)
        .await
        .map_err(SubmitError::CannotCheck)?;
    journal
        .begin_submit(job, &sub.organism, &ids, &carrying(&before, &ids))
        .map_err(SubmitError::Journal)?;
    match portal.submit_tsv(sub, raw).await {
        Ok((accessions, linked)) => {
            journal
                .finish_submit(job, &accessions)
                .map_err(SubmitError::Journal)?;
            Ok((
                Submitted::Now {
                    accessions,
                    retried,
                },
                linked,
            ))
        }
        // A refusal is all-or-nothing: nothing landed.
        Err(e @ (Error::Input(_) | Error::Auth { .. } | Error::Rejected { .. })) => {
            journal.clear_submit(job).map_err(SubmitError::Journal)?;
            Err(SubmitError::Refused(e))
        }
        Err(e) => Err(SubmitError::AnswerLost(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(acc: &str, version: i64, sid: &str) -> SequenceEntry {
        SequenceEntry {
            accession: acc.into(),
            version,
            submission_id: sid.into(),
            group_id: 1,
            is_revocation: false,
            submitter: "u".into(),
        }
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn new_entries_are_told_from_older_ones_with_the_same_ids() {
        let before = vec![e("LOC_1", 1, "s1"), e("LOC_9", 1, "other")];
        let known = carrying(&before, &ids(&["s1", "s2"]));
        assert_eq!(known, ids(&["LOC_1"]));
        assert_eq!(
            submitted_since(&before, &ids(&["s1", "s2"]), &known),
            Found::Nothing
        );
        let after = [
            before.clone(),
            vec![
                e("LOC_2", 1, "s1"),
                e("LOC_2", 2, "s1"),
                e("LOC_3", 1, "s2"),
            ],
        ]
        .concat();
        let Found::All(acc) = submitted_since(&after, &ids(&["s1", "s2"]), &known) else {
            panic!("all found")
        };
        assert_eq!(
            acc.iter()
                .map(|a| (a.submission_id.as_str(), a.accession.as_str(), a.version))
                .collect::<Vec<_>>(),
            vec![("s1", "LOC_2", 1), ("s2", "LOC_3", 1)]
        );
        let partly = [before, vec![e("LOC_3", 1, "s2")]].concat();
        assert!(matches!(
            submitted_since(&partly, &ids(&["s1", "s2"]), &known),
            Found::Partly { missing, .. } if missing == ids(&["s1"])
        ));
    }

    #[test]
    fn reads_the_id_column() {
        assert_eq!(
            table_ids(b"country\tid\nCH\ts1\nDE\ts2\n"),
            ids(&["s1", "s2"])
        );
        assert_eq!(table_ids(b"submissionId\tx\na\t1\n"), ids(&["a"]));
        assert!(table_ids(b"x\n1\n").is_empty());
    }
}
