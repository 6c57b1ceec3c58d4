//! `ferry submit --folder DIR`: a batch folder -> linkage report -> upload
//! (journaled, resumable) -> submit -> receipt.

use std::path::PathBuf;

use clap::Args;
use ferry_engine::job::{FolderSubmit, SubmitSettings};
use ferry_engine::loculus::batch;
use ferry_engine::loculus::{Linkage, Loculus, link_folder};
use ferry_engine::{JobFile, JobKind, Then, Uploaded};
use ferry_front::folder_job::{FolderOptions, folder_settings, submit_folder_job};
use indicatif::HumanBytes;

use crate::session::Session;
use crate::{Conn, Fail, Output, exit};

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
    /// file categories; default: $FERRY_WEBSITE, else the backend's URL
    /// without its `backend.` prefix (as the desktop app reads it).
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
        Some(crate::session::session(&conn, &out)?)
    };
    let website = ferry_front::website::website(b.website.as_deref(), &conn.backend);
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
    let a = folder_settings(
        &dir,
        &linkage,
        &org,
        FolderOptions {
            restricted_until,
            legacy_file_mapping,
            receipt: b.receipt,
            exclude: b.exclude,
        },
    );
    let params = crate::upload::loculus_params(&s, &conn, Some(Then::Submit(a.clone())));
    let job = s.journal.create_job(&JobKind::Submit, &params, &items)?;
    let files = items.into_iter().map(JobFile::from).collect();
    let done = crate::upload::send(&s, &job, files, vec![]).await?;
    crate::submit::finish_submit(&s, &job, &a, &done, out.json).await
}

/// The attach step of a folder job: the folder is read again, so a fixed
/// metadata table counts; the files must be the ones uploaded.
pub async fn finish(
    s: &Session,
    job: &str,
    a: &SubmitSettings,
    f: &FolderSubmit,
    done: &[Uploaded],
    json: bool,
) -> Result<(), Fail> {
    let jobs = [job.to_string()];
    let to = crate::submit::submit_to(s, &jobs, a);
    let (linkage, result) = submit_folder_job(&to, a, f, done).await;
    if !linkage.is_ok() {
        print_report(&linkage, json);
    }
    crate::submit::present_submission(s.renderer.as_deref(), job, result, json).map(|_| ())
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

#[cfg(test)]
mod tests {
    /// The desktop app reads a real instance's website without the
    /// backend's `backend.` prefix; `ferry submit --folder` reads the same
    /// one (it used to read the backend itself, which serves no
    /// `/loculus-info` on a real instance).
    #[test]
    fn the_website_is_the_one_the_app_reads() {
        let site = ferry_front::website::website(None, "https://backend.pathoplexus.org");
        if std::env::var_os("FERRY_WEBSITE").is_none() {
            assert_eq!(site, "https://pathoplexus.org");
        }
        assert_eq!(
            ferry_front::website::website(Some("https://w.example/"), "https://backend.x.org"),
            "https://w.example"
        );
    }
}
