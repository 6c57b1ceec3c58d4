//! A watched run folder submitted as a Loculus submission batch, the way
//! `ferry submit --folder` submits a folder: one [`SubmitRuns`] handler for
//! `ferry watch --submit` and the app's Watched folders panel. A run whose
//! linkage report has problems waits, the report saying what to fix; a
//! clean one is uploaded as a journaled job (so `ferry resume` can finish
//! it), then the folder is read again and submitted. What differs between
//! the front-ends (how a waiting run is looked at again, how the outcome
//! is shown) is their [`RunPresenter`]; they decide nothing else.

use std::path::Path;
use std::sync::Arc;

use ferry_engine::job::SubmitSettings;
use ferry_engine::journal::Journal;
use ferry_engine::loculus::{Linkage, Loculus, OrganismInfo, batch, link_folder};
use ferry_engine::watch::{
    Prepared, ReadyRun, RunFailed, RunHandler, RunSent, SendFailure, send_job,
};
use ferry_engine::{Engine, Error, Item, JobFile, JobParams, Then, Uploaded};

use crate::folder_job::{FolderOptions, folder_settings, submit_folder_job};
use crate::submit::{SubmitFailure, SubmitTo, Submitted};

/// How a waiting run is looked at again, as the report says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recheck {
    /// A watcher service looks again when the run's files change.
    OnChange,
    /// The panel's **Check again** button (or a change of its files).
    CheckAgainButton,
}

impl Recheck {
    fn words(self) -> &'static str {
        match self {
            Recheck::OnChange => "it is checked again",
            Recheck::CheckAgainButton => "press Check again",
        }
    }
}

/// The report of a run that waits: its linkage problems, one a line.
pub fn waiting_report(problems: &[String], recheck: Recheck) -> String {
    let n = problems.len();
    let list: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
    format!(
        "{n} problem{} in its linkage report; fix them and {}:\n{}",
        if n == 1 { "" } else { "s" },
        recheck.words(),
        list.join("\n")
    )
}

/// What a ready run folder is as a submission batch.
// One per ready run, moved once: boxing the settings would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum RunCheck {
    /// Its linkage report has these problems: it waits.
    Problems(Vec<String>),
    /// Clean: a submit job of these files, with these settings.
    Clean {
        settings: SubmitSettings,
        items: Vec<Item>,
    },
}

/// Reads the run folder `run` for `organism` (nothing left out, the
/// receipt in the folder, as `ferry submit --folder` defaults).
pub fn check_run(
    run: &Path,
    organism: &OrganismInfo,
    restricted_until: Option<String>,
) -> Result<RunCheck, Error> {
    let l: Linkage = link_folder(run, organism);
    if !l.is_ok() {
        return Ok(RunCheck::Problems(
            l.problems.iter().map(|p| p.to_string()).collect(),
        ));
    }
    let items = batch::items(&l)?;
    let settings = folder_settings(
        run,
        &l,
        organism,
        FolderOptions {
            restricted_until,
            ..FolderOptions::default()
        },
    );
    Ok(RunCheck::Clean { settings, items })
}

/// What a front-end shows of a watched run's submit; [`SubmitRuns`]
/// decides everything else.
pub trait RunPresenter: Send + Sync {
    /// How its waiting runs are looked at again.
    fn recheck(&self) -> Recheck;
    /// Presents the submit of `job` (the folder read again: `linkage`);
    /// the run's line, or why the run needs attention.
    fn submitted(
        &self,
        job: &str,
        linkage: &Linkage,
        result: Result<Submitted, SubmitFailure>,
    ) -> Result<String, String>;
    /// Why the run's files did not all go.
    fn not_sent(&self, job: &str, failure: &SendFailure) -> String;
}

/// Watched run folders submitted as batches.
pub struct SubmitRuns {
    pub engine: Engine,
    /// The portal, on the group the runs go to.
    pub loculus: Arc<Loculus>,
    pub journal: Arc<Journal>,
    /// The destination as journaled (backend, group, user), never a token.
    pub params: JobParams,
    pub organism: OrganismInfo,
    pub restricted_until: Option<String>,
    pub presenter: Arc<dyn RunPresenter>,
}

#[async_trait::async_trait]
impl RunHandler for SubmitRuns {
    async fn prepare(&self, run: &ReadyRun) -> Result<Prepared, RunFailed> {
        match check_run(&run.path, &self.organism, self.restricted_until.clone())? {
            RunCheck::Problems(p) => {
                Ok(Prepared::Wait(waiting_report(&p, self.presenter.recheck())))
            }
            RunCheck::Clean { settings, items } => Ok(Prepared::Send {
                kind: ferry_engine::JobKind::Submit,
                params: self.params.clone().with_then(Some(Then::Submit(settings))),
                items,
            }),
        }
    }

    async fn send(
        &self,
        job: &str,
        params: &JobParams,
        files: Vec<JobFile>,
        already: Vec<(usize, Uploaded)>,
    ) -> Result<RunSent, RunFailed> {
        let Some(Then::Submit(a)) = &params.then else {
            return Err(RunFailed(format!(
                "job {job} has unreadable submit settings"
            )));
        };
        let Some(f) = &a.folder else {
            return Err(RunFailed(format!("job {job} names no run folder")));
        };
        let portal: Arc<dyn ferry_engine::Portal> = self.loculus.clone();
        let done = send_job(&self.engine, portal, &self.journal, job, files, already)
            .await
            .map_err(|e| RunFailed(self.presenter.not_sent(job, &e)))?;
        let jobs = [job.to_string()];
        let to = SubmitTo {
            portal: &self.loculus,
            engine: &self.engine,
            journal: Some(&self.journal),
            jobs: &jobs,
            legacy_file_mapping: a.legacy_file_mapping,
        };
        let (linkage, result) = submit_folder_job(&to, a, f, &done).await;
        let summary = self
            .presenter
            .submitted(job, &linkage, result)
            .map_err(RunFailed)?;
        Ok(RunSent {
            files: done.len(),
            bytes: done.iter().map(|u| u.size).sum(),
            summary,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn organism() -> OrganismInfo {
        OrganismInfo {
            key: "dummy-organism-with-files".into(),
            display_name: "Test organism (with files)".into(),
            consensus_sequences: false,
            files_enabled: true,
            categories: vec!["rawReads".into()],
        }
    }

    fn batch_folder(rows: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("metadata.tsv"),
            format!("submissionId\tcountry\tfiles.rawReads\n{rows}"),
        )
        .unwrap();
        d
    }

    #[test]
    fn a_clean_run_is_a_submit_job_as_submit_folder_keeps_it() {
        let d = batch_folder("s1\tCH\ts1_R1.fastq\n");
        std::fs::write(d.path().join("s1_R1.fastq"), b"ACGT").unwrap();
        let RunCheck::Clean { settings, items } =
            check_run(d.path(), &organism(), Some("2030-01-01".into())).unwrap()
        else {
            panic!("a clean folder");
        };
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].name, "s1_R1.fastq");
        assert_eq!(settings.organism, "dummy-organism-with-files");
        assert_eq!(settings.metadata, d.path().join("metadata.tsv"));
        assert_eq!(settings.sequences, None);
        assert!(settings.files.is_empty());
        assert_eq!(settings.restricted_until.as_deref(), Some("2030-01-01"));
        assert!(!settings.legacy_file_mapping);
        let f = settings.folder.expect("a folder job");
        assert_eq!(f.dir, d.path());
        assert_eq!(f.receipt, d.path().join("ferry-receipt.csv"));
        assert_eq!(f.organism, organism());
        assert!(f.exclude.is_empty());
    }

    #[test]
    fn a_run_with_problems_waits_with_its_report() {
        let d = batch_folder("s1\tCH\ts1_R1.fastq\ns2\tDE\ts2_R1.fastq\n");
        std::fs::write(d.path().join("s1_R1.fastq"), b"ACGT").unwrap();
        let RunCheck::Problems(p) = check_run(d.path(), &organism(), None).unwrap() else {
            panic!("s2's reads are missing");
        };
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("s2_R1.fastq"), "{p:?}");
        let said = waiting_report(&p, Recheck::OnChange);
        assert_eq!(
            said,
            format!(
                "1 problem in its linkage report; fix them and it is checked again:\n  - {}",
                p[0]
            )
        );
        let two = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            waiting_report(&two, Recheck::CheckAgainButton),
            "2 problems in its linkage report; fix them and press Check again:\n  - a\n  - b"
        );
    }
}
