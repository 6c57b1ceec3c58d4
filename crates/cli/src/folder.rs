//! `ferry submit --folder DIR`: a batch folder -> linkage report -> upload
//! (journaled, resumable) -> submit -> receipt.

use std::path::PathBuf;

use clap::Args;
use ferry_engine::loculus::batch;
use ferry_engine::loculus::{
    DataUseTerms, Linkage, Loculus, OrganismInfo, Submission, link_folder,
};
use ferry_engine::{JobFile, Uploaded};
use indicatif::HumanBytes;
use serde::{Deserialize, Serialize};

use crate::{Conn, Fail, Output, Session, SubmitArgs, exit};

#[derive(Args)]
pub struct FolderArgs {
    /// A batch folder: a metadata table (.tsv or .csv), a FASTA if the
    /// organism takes sequences, and extra files in one folder per
    /// submission id ([ID/][CATEGORY/]FILE) or named in `files.CATEGORY`
    /// columns.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["metadata", "sequences", "files"])]
    pub folder: Option<PathBuf>,
    /// Print the linkage report and stop; nothing is uploaded.
    #[arg(long)]
    pub dry_run: bool,
    /// The receipt to write (as PATH.csv and PATH.json);
    /// default DIR/ferry-receipt.csv and .json.
    #[arg(long, value_name = "PATH")]
    pub receipt: Option<PathBuf>,
    /// The instance's website, whose /loculus-info lists the organisms'
    /// file categories; default: $FERRY_WEBSITE, else the backend's URL.
    #[arg(long, value_name = "URL")]
    pub website: Option<String>,
    /// Leave this submission id out (repeatable): its files are not sent
    /// and its problems do not block the others.
    #[arg(long = "exclude", value_name = "ID")]
    pub exclude: Vec<String>,
}

impl FolderArgs {
    /// The folder-only flags without `--folder` (clap's `requires` does not
    /// see across the flattened struct).
    pub fn check_unused(&self) -> Result<(), Fail> {
        let stray: Vec<&str> = [
            (self.dry_run, "--dry-run"),
            (self.receipt.is_some(), "--receipt"),
            (self.website.is_some(), "--website"),
            (!self.exclude.is_empty(), "--exclude"),
        ]
        .into_iter()
        .filter_map(|(set, flag)| set.then_some(flag))
        .collect();
        if stray.is_empty() {
            Ok(())
        } else {
            Err(input(format!(
                "{} only go(es) with --folder DIR",
                stray.join(", ")
            )))
        }
    }
}

/// What a folder job keeps in the journal for `ferry resume`.
#[derive(Clone, Serialize, Deserialize)]
pub struct FolderJob {
    pub dir: PathBuf,
    /// As read at the start, so a resume needs no discovery call.
    pub organism: OrganismInfo,
    pub receipt: PathBuf,
    /// Submission ids left out.
    #[serde(default)]
    pub exclude: Vec<String>,
}

fn input(msg: String) -> Fail {
    Fail(exit::INPUT, msg)
}

pub async fn submit(
    conn: Conn,
    out: Output,
    organism: String,
    restricted_until: Option<String>,
    legacy_file_mapping: bool,
    b: FolderArgs,
) -> Result<(), Fail> {
    let given = b.folder.expect("clap requires --metadata or --folder");
    let dir = std::fs::canonicalize(&given)
        .map_err(|e| input(format!("{}: cannot be read ({e})", given.display())))?;
    if !dir.is_dir() {
        return Err(input(format!("{}: is not a folder", given.display())));
    }
    // Sign-in problems show before the report, not after it.
    let session = if b.dry_run {
        None
    } else {
        Some(crate::session(&conn, &out)?)
    };
    let website = b
        .website
        .or_else(|| {
            std::env::var("FERRY_WEBSITE")
                .ok()
                .filter(|w| !w.is_empty())
        })
        .unwrap_or_else(|| conn.backend.clone());
    let http = ferry_engine::transfer::http_client()?;
    let info = Loculus::instance_info(&http, &website).await?;
    let org = info.organism(&organism).map_err(input)?.clone();
    let mut linkage = link_folder(&dir, &org);
    for id in &b.exclude {
        if !linkage.rows.iter().any(|r| &r.id == id) {
            return Err(input(format!(
                "--exclude {id}: no row with that id in {}",
                dir.display()
            )));
        }
    }
    linkage.exclude(&b.exclude);
    print_report(&linkage, out.json);
    if !linkage.is_ok() {
        let n = linkage.problems.len();
        return Err(input(format!(
            "{n} problem{} in {}; nothing was uploaded. Fix them and run again.",
            if n == 1 { "" } else { "s" },
            dir.display()
        )));
    }
    let Some(s) = session else {
        return Ok(());
    };
    let items = batch::items(&linkage)?;
    let a = SubmitArgs {
        organism,
        metadata: dir.join(linkage.metadata.clone().unwrap_or_default()),
        sequences: linkage.sequences.as_ref().map(|p| dir.join(p)),
        files: vec![],
        restricted_until,
        legacy_file_mapping,
        folder: Some(FolderJob {
            receipt: b.receipt.unwrap_or_else(|| dir.join("ferry-receipt.csv")),
            dir,
            organism: org,
            exclude: b.exclude,
        }),
    };
    let params = serde_json::json!({
        "backend": s.backend, "group": s.group, "parts_in_flight": conn.parts_in_flight,
        "submit": serde_json::to_value(&a).map_err(|e| Fail(exit::INTERNAL, e.to_string()))?,
    });
    let job = s.journal.create_job("submit", &params, &items)?;
    let files = items.into_iter().map(JobFile::from).collect();
    let done = crate::send(&s, &job, files, vec![]).await?;
    crate::finish_submit(&s, &job, &a, &done, out.json).await
}

/// The attach step of a folder job: the folder is read again, so a fixed
/// metadata table counts; the files must be the ones uploaded.
pub async fn finish(
    s: &Session,
    job: &str,
    a: &SubmitArgs,
    f: &FolderJob,
    done: &[Uploaded],
    json: bool,
) -> Result<(), Fail> {
    let mut linkage = link_folder(&f.dir, &f.organism);
    linkage.exclude(&f.exclude);
    if !linkage.is_ok() {
        print_report(&linkage, json);
        return Err(input(format!(
            "{} problem(s) in {}; the uploaded files are kept: fix them and run `ferry resume {job}`",
            linkage.problems.len(),
            f.dir.display()
        )));
    }
    let files = batch::attachments(&linkage, done).map_err(|unsent| {
        input(format!(
            "{} not part of job {job} when it started; start a new `ferry submit --folder` (or `ferry abort {job}`)",
            unsent.join(", ")
        ))
    })?;
    let raw = linkage
        .base_tsv()
        .map_err(|e| Fail(exit::INTERNAL, format!("cannot write the metadata: {e}")))?;
    let scratch = tempfile::tempdir().map_err(|e| Fail(exit::INTERNAL, e.to_string()))?;
    let sub = Submission {
        organism: a.organism.clone(),
        metadata: f.dir.join(linkage.metadata.clone().unwrap_or_default()),
        sequences: batch::sequences_for(&linkage, scratch.path()).map_err(|e| {
            input(format!(
                "{}: cannot be read ({e})",
                linkage.sequences.clone().unwrap_or_default()
            ))
        })?,
        files,
        data_use_terms: match &a.restricted_until {
            Some(until) => DataUseTerms::Restricted {
                until: until.clone(),
            },
            None => DataUseTerms::Open,
        },
        legacy_file_mapping: a.legacy_file_mapping,
    };
    let mut sub = sub;
    let mut done = done.to_vec();
    let (accessions, linked) = crate::send_submission(s, job, &mut sub, &raw, &mut done).await?;
    let lines = batch::receipt(&linkage, &accessions, &done);
    let receipt = batch::write_receipt(&f.receipt, &lines);
    if let Ok((csv_path, json_path)) = &receipt {
        eprintln!(
            "receipt: {} and {}",
            csv_path.display(),
            json_path.display()
        );
    }
    // The accessions are printed whatever became of the receipt: the
    // submission went through, and they are what the user must keep.
    let reported = crate::report_submission(s, a, &accessions, &linked, json).await;
    match (reported, receipt) {
        (Err(e), Err(r)) => {
            eprintln!("ferry: {r}");
            Err(e)
        }
        (Ok(()), Err(r)) => Err(Fail(exit::INPUT, r)),
        (reported, Ok(_)) => reported,
    }
}

/// The linkage report: JSON (one line), or a table for people.
pub fn print_report(l: &Linkage, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string(l).expect("the report serializes")
        );
        return;
    }
    println!(
        "folder {}: metadata {} ({} rows), sequences {}",
        l.folder.display(),
        l.metadata.as_deref().unwrap_or("(none)"),
        l.rows.len(),
        l.sequences.as_deref().unwrap_or("(none)")
    );
    let w = l.rows.iter().map(|r| r.id.len()).max().unwrap_or(2).max(2);
    if !l.rows.is_empty() {
        println!("{:w$}  {:8}  FILES", "ID", "SEQUENCE");
    }
    for r in &l.rows {
        let seq = match r.sequence {
            Some(true) => "yes",
            Some(false) => "MISSING",
            None => "-",
        };
        let files: Vec<String> = r
            .files
            .iter()
            .map(|(cat, list)| {
                let names: Vec<String> = list
                    .iter()
                    .map(|f| match &f.file_id {
                        Some(id) => format!("{} (fileId {id})", f.name),
                        None => format!("{} ({})", f.name, HumanBytes(f.size)),
                    })
                    .collect();
                format!("{cat}: {}", names.join(", "))
            })
            .collect();
        let files = if files.is_empty() {
            "-".to_string()
        } else {
            files.join("; ")
        };
        println!("{:w$}  {seq:8}  {files}", r.id);
    }
    let ups = l.uploads();
    let bytes: u64 = ups.iter().map(|(_, s)| s).sum();
    println!(
        "{} file{} to upload, {} in total",
        ups.len(),
        if ups.len() == 1 { "" } else { "s" },
        HumanBytes(bytes)
    );
    if !l.problems.is_empty() {
        let n = l.problems.len();
        println!("{n} problem{}:", if n == 1 { "" } else { "s" });
        for p in &l.problems {
            println!("  - {p}");
        }
    }
}
