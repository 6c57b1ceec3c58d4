//! A Loculus submit as the journal keeps it (its `submissions` table):
//! written before the POST (`submitting`, with the entries that already
//! carried its ids) and after it (`submitted`, with the accessions), so a
//! resume never submits twice. An extension of the generic journal
//! ([`SubmitJournal`]), which knows nothing of Loculus.

use rusqlite::params;

use super::Accession;
use crate::Error;
use crate::job::JobState;
use crate::journal::Journal;

/// Where a journaled submit stands (`submissions.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitState {
    /// From just before the POST until its answer is recorded: if the job
    /// stops here, a resume looks on the portal before posting again.
    Submitting,
    /// The portal's answer is recorded, with the accessions.
    Submitted,
}

impl SubmitState {
    /// The journal's name (`submitting`, `submitted`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Submitting => "submitting",
            Self::Submitted => "submitted",
        }
    }

    /// The state a journal row holds. Only `submitting` makes a resume
    /// look on the portal, so anything else reads as submitted (as it did
    /// before states were typed).
    pub fn parse(name: &str) -> Self {
        if name == Self::Submitting.name() {
            Self::Submitting
        } else {
            Self::Submitted
        }
    }
}

/// A submit as journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitRecord {
    pub state: SubmitState,
    pub organism: String,
    /// The metadata rows' ids, as sent.
    pub submission_ids: Vec<String>,
    /// Accessions that carried those ids before the POST (not ours).
    pub known_accessions: Vec<String>,
    pub accessions: Option<Vec<Accession>>,
    pub started_at: u64,
}

/// The journal's submit records: `use` it to call these on a [`Journal`].
pub trait SubmitJournal {
    /// Record that job `id` is about to POST its submission of
    /// `submission_ids` (committed before the POST is sent).
    fn begin_submit(
        &self,
        id: &str,
        organism: &str,
        submission_ids: &[String],
        known_accessions: &[String],
    ) -> Result<(), Error>;

    /// Record the accessions the portal gave job `id`; the job is done.
    fn finish_submit(&self, id: &str, accessions: &[Accession]) -> Result<(), Error>;

    /// Forget job `id`'s submit attempt: the portal refused it, so nothing
    /// of it landed.
    fn clear_submit(&self, id: &str) -> Result<(), Error>;

    /// Job `id`'s submit, if one was started.
    fn submit_record(&self, id: &str) -> Result<Option<SubmitRecord>, Error>;
}

type SubmitRow = (String, String, String, String, Option<String>, i64);

impl SubmitJournal for Journal {
    fn begin_submit(
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
                 VALUES (?1, ?6, ?2, ?3, ?4, NULL, ?5)",
                params![
                    id,
                    organism,
                    ids,
                    known,
                    crate::clock::unix_now() as i64,
                    SubmitState::Submitting.name()
                ],
            )
        })
        .map(|_| ())
    }

    fn finish_submit(&self, id: &str, accessions: &[Accession]) -> Result<(), Error> {
        let acc = serde_json::to_string(accessions).map_err(|e| self.err(e))?;
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "UPDATE submissions SET state = ?3, accessions = ?2 WHERE job_id = ?1",
                params![id, acc, SubmitState::Submitted.name()],
            )?;
            tx.execute(
                "UPDATE jobs SET state = ?2 WHERE id = ?1",
                params![id, JobState::Done.name()],
            )?;
            tx.commit()
        })
    }

    fn clear_submit(&self, id: &str) -> Result<(), Error> {
        self.with(|c| c.execute("DELETE FROM submissions WHERE job_id = ?1", params![id]))
            .map(|_| ())
    }

    fn submit_record(&self, id: &str) -> Result<Option<SubmitRecord>, Error> {
        let row: Option<SubmitRow> = self.with(|c| {
            c.query_row(
                "SELECT state, organism, submission_ids, known_accessions, accessions, started_at FROM submissions WHERE job_id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
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
            state: SubmitState::parse(&state),
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
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::SystemTime;

    use super::*;
    use crate::job::{JobKind, JobParams};
    use crate::scan::Item;

    fn item(p: &str, size: u64) -> Item {
        Item {
            path: PathBuf::from(p),
            name: p.into(),
            size,
            mtime: Some(SystemTime::now()),
        }
    }

    #[test]
    fn a_submit_is_journaled_before_and_after_the_post() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("j.sqlite")).unwrap();
        let id = j
            .create_job(&JobKind::Submit, &JobParams::default(), &[item("a.fq", 1)])
            .unwrap();
        j.begin_submit(&id, "org", &["s1".into(), "s2".into()], &["LOC_1".into()])
            .unwrap();
        let r = j.submit_record(&id).unwrap().unwrap();
        assert_eq!(
            (r.state, r.submission_ids.len(), r.known_accessions.len()),
            (SubmitState::Submitting, 2, 1)
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
        assert_eq!(r.state, SubmitState::Submitted);
        assert_eq!(r.accessions, Some(acc));
        assert!(j.jobs(false).unwrap().is_empty(), "done");
        j.clear_submit(&id).unwrap();
        assert!(j.submit_record(&id).unwrap().is_none());
        assert!(j.delete_job(&id).unwrap());
    }

    #[test]
    fn a_schema_1_journal_takes_submit_records_once_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        // A journal as the first release wrote it (no submissions).
        crate::journal::schema::write_schema_1(
            &path,
            "INSERT INTO jobs VALUES ('oldjob', 1700000000, 'submit', '{\"backend\":\"b\"}', 'running');",
        );
        let j = Journal::open(&path).unwrap();
        assert!(j.submit_record("oldjob").unwrap().is_none());
        j.begin_submit("oldjob", "org", &["s1".into()], &[])
            .unwrap();
        assert_eq!(
            j.submit_record("oldjob").unwrap().unwrap().state,
            SubmitState::Submitting
        );
    }

    #[test]
    fn submit_states_keep_the_journals_names() {
        for s in [SubmitState::Submitting, SubmitState::Submitted] {
            assert_eq!(SubmitState::parse(s.name()), s);
        }
        assert_eq!(SubmitState::Submitting.name(), "submitting");
        assert_eq!(SubmitState::Submitted.name(), "submitted");
    }
}
