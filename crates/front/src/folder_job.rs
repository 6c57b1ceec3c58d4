//! A batch folder as a journaled submit job, as `ferry submit --folder`,
//! `ferry watch --submit` and the app's Watched folders panel keep it:
//! the settings written into the journal when its files start (what
//! `ferry resume` needs), and its submit once they are uploaded, with the
//! folder read again so a fix made meanwhile counts.

use std::path::{Path, PathBuf};

use ferry_engine::Uploaded;
use ferry_engine::job::{FolderSubmit, SubmitSettings};
use ferry_engine::loculus::{Linkage, OrganismInfo, link_folder};

use crate::submit::{SubmitFailure, SubmitTo, Submitted, submit_folder};

/// How a folder is submitted, beyond what it holds.
#[derive(Debug, Clone, Default)]
pub struct FolderOptions {
    /// Restrict the data until this date (`YYYY-MM-DD`); open otherwise.
    pub restricted_until: Option<String>,
    /// Send the old `fileMapping` field (backends before August 2026).
    pub legacy_file_mapping: bool,
    /// The receipt (`.csv` and `.json`); default `ferry-receipt.csv` in
    /// the folder.
    pub receipt: Option<PathBuf>,
    /// Submission ids left out.
    pub exclude: Vec<String>,
}

/// The job's settings for the folder `dir` whose linkage is `l`.
pub fn folder_settings(
    dir: &Path,
    l: &Linkage,
    organism: &OrganismInfo,
    o: FolderOptions,
) -> SubmitSettings {
    SubmitSettings {
        organism: organism.key.clone(),
        metadata: dir.join(l.metadata.clone().unwrap_or_default()),
        sequences: l.sequences.as_ref().map(|p| dir.join(p)),
        files: vec![],
        restricted_until: o.restricted_until,
        legacy_file_mapping: o.legacy_file_mapping,
        folder: Some(FolderSubmit {
            receipt: o.receipt.unwrap_or_else(|| dir.join("ferry-receipt.csv")),
            dir: dir.to_path_buf(),
            organism: organism.clone(),
            exclude: o.exclude,
        }),
    }
}

/// The folder read again (its rows left out stay out), for the submit
/// and for the front-end's report.
pub fn reread(f: &FolderSubmit) -> Linkage {
    let mut linkage = link_folder(&f.dir, &f.organism);
    linkage.exclude(&f.exclude);
    linkage
}

/// The submit of folder job `a` (its folder `f`) once `done` are
/// uploaded: the folder read again, then [`submit_folder`]. The linkage
/// comes back too, so a front-end can show the report.
pub async fn submit_folder_job(
    to: &SubmitTo<'_>,
    a: &SubmitSettings,
    f: &FolderSubmit,
    done: &[Uploaded],
) -> (Linkage, Result<Submitted, SubmitFailure>) {
    let linkage = reread(f);
    let result = submit_folder(
        to,
        &linkage,
        done,
        a.restricted_until.as_deref(),
        &f.receipt,
    )
    .await;
    (linkage, result)
}
