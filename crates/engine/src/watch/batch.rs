//! A watched run folder as a Loculus submission batch, through the
//! wizard's engine (linkage report, upload, submit, receipt): submitted
//! only when its report is clean; otherwise the run waits with the report
//! and goes on when its files change or on Check again. The job is kept as
//! `ferry submit --folder` keeps its jobs, so `ferry resume` can finish it.
//! The app's handler (the CLI's `--submit` has its own, on its session).

use std::sync::Arc;

use super::send::{Prepared, ReadyRun, RunFailed, RunHandler, RunSent, send_job};
use crate::job::{FolderSubmit, JobParams, SubmitSettings, Then};
use crate::journal::Journal;
use crate::loculus::{
    DataUseTerms, Linkage, Loculus, OrganismInfo, Submission, batch, link_folder,
};
use crate::{Engine, JobFile, Uploaded};

pub struct SubmitBatches {
    pub engine: Engine,
    pub loculus: Arc<Loculus>,
    pub journal: Arc<Journal>,
    /// The destination as journaled (backend, group, user), never a token.
    pub params: JobParams,
    pub organism: OrganismInfo,
}

/// The linkage report's problems, one a line, for the run's line.
fn report(l: &Linkage) -> String {
    let n = l.problems.len();
    let list: Vec<String> = l.problems.iter().map(|p| format!("  - {p}")).collect();
    format!(
        "{n} problem{} in its linkage report; fix them and press Check again:\n{}",
        if n == 1 { "" } else { "s" },
        list.join("\n")
    )
}

#[async_trait::async_trait]
impl RunHandler for SubmitBatches {
    async fn prepare(&self, run: &ReadyRun) -> Result<Prepared, RunFailed> {
        let l = link_folder(&run.path, &self.organism);
        if !l.is_ok() {
            return Ok(Prepared::Wait(report(&l)));
        }
        let items = batch::items(&l)?;
        // As `ferry submit --folder` keeps it.
        let params = self
            .params
            .clone()
            .with_then(Some(Then::Submit(SubmitSettings {
                organism: self.organism.key.clone(),
                metadata: run.path.join(l.metadata.clone().unwrap_or_default()),
                sequences: l.sequences.as_ref().map(|p| run.path.join(p)),
                files: vec![],
                restricted_until: None,
                legacy_file_mapping: false,
                folder: Some(FolderSubmit {
                    dir: run.path.clone(),
                    organism: self.organism.clone(),
                    receipt: run.path.join("ferry-receipt.csv"),
                    exclude: vec![],
                }),
            })));
        Ok(Prepared::Send {
            kind: crate::job::JobKind::Submit,
            params,
            items,
        })
    }

    async fn send(
        &self,
        job: &str,
        params: &JobParams,
        files: Vec<JobFile>,
        already: Vec<(usize, Uploaded)>,
    ) -> Result<RunSent, RunFailed> {
        let portal: Arc<dyn crate::Portal> = self.loculus.clone();
        let mut done = send_job(&self.engine, portal, &self.journal, job, files, already).await?;
        let dir = match &params.then {
            Some(Then::Submit(SubmitSettings {
                folder: Some(f), ..
            })) => f.dir.clone(),
            _ => return Err(RunFailed(format!("job {job} names no run folder"))),
        };
        // Read again: a fix made while the files went up counts.
        let l = link_folder(&dir, &self.organism);
        if !l.is_ok() {
            return Err(RunFailed(report(&l)));
        }
        let files = batch::attachments(&l, &done).map_err(|unsent| {
            RunFailed(format!(
                "{} came after its files were sent; remove the run's job with `ferry abort {job}` to send it anew",
                unsent.join(", ")
            ))
        })?;
        let raw = l
            .base_tsv()
            .map_err(|e| RunFailed(format!("cannot write the metadata: {e}")))?;
        let scratch = tempfile::tempdir().map_err(|e| RunFailed(e.to_string()))?;
        let mut sub = Submission {
            organism: self.organism.key.clone(),
            metadata: l.path_of(l.metadata.as_deref().unwrap_or_default()),
            sequences: batch::sequences_for(&l, scratch.path())
                .map_err(|e| RunFailed(e.to_string()))?,
            files,
            data_use_terms: DataUseTerms::Open,
            legacy_file_mapping: false,
        };
        // Journaled around the POST: a run interrupted while submitting is
        // asked of the portal first, never submitted twice.
        let (submitted, _, _) = crate::loculus::expiry::submit_renewing(
            &self.loculus,
            &self.engine,
            &self.journal,
            &[job.to_string()],
            &mut sub,
            &raw,
            &mut done,
        )
        .await
        .map_err(|e| RunFailed(format!("the submission was not sent: {e}")))?;
        let accessions = submitted.accessions();
        let lines = batch::receipt(&l, accessions, &done);
        let receipt = batch::write_receipt(&dir.join("ferry-receipt"), &lines);
        let names: Vec<String> = accessions
            .iter()
            .map(|a| format!("{}.{}", a.accession, a.version))
            .collect();
        Ok(RunSent {
            files: done.len(),
            bytes: done.iter().map(|u| u.size).sum(),
            summary: format!(
                "submitted as {}{}",
                names.join(", "),
                receipt.err().map(|e| format!(" ({e})")).unwrap_or_default()
            ),
        })
    }
}
