//! `ferry submit`: files with a metadata table (or a batch folder, in
//! folder.rs) uploaded as a journaled job, then submitted through
//! ferry-front; and how a submission's outcome is printed, for `ferry
//! submit`, `ferry resume` and `ferry watch --submit` alike.

use std::path::PathBuf;

use ferry_engine::job::SubmitSettings;
use ferry_engine::loculus::{AttachedFile, Submission};
use ferry_engine::{Error, Then, Uploaded};
use ferry_front::submit::Again;
use ferry_front::{SubmitFailure, SubmitTo, Submitted};

use crate::session::Session;
use crate::{Conn, Fail, Output, exit, folder, progress};

/// `[ID:]CATEGORY=PATH`
fn parse_file_arg(s: &str) -> Result<(Option<String>, String, PathBuf), String> {
    let (left, path) = s.split_once('=').ok_or_else(|| {
        format!("--file {s}: expected CATEGORY=PATH, e.g. --file rawReads=reads_R1.fastq.gz")
    })?;
    let (id, cat) = match left.rsplit_once(':') {
        Some((id, cat)) => (Some(id.to_string()), cat.to_string()),
        None => (None, left.to_string()),
    };
    if cat.is_empty() || path.is_empty() {
        return Err(format!(
            "--file {s}: expected CATEGORY=PATH, e.g. --file rawReads=reads_R1.fastq.gz"
        ));
    }
    Ok((id, cat, PathBuf::from(path)))
}

fn attach(specs: &[(Option<String>, String, PathBuf)], ids: &[String]) -> Vec<AttachedFile> {
    specs
        .iter()
        .zip(ids)
        .map(|((sid, cat, path), id)| AttachedFile {
            submission_id: sid.clone(),
            category: cat.clone(),
            name: ferry_engine::scan::name_of(path),
            file_id: id.clone(),
        })
        .collect()
}

fn file_specs(a: &SubmitSettings) -> Result<Vec<(Option<String>, String, PathBuf)>, Fail> {
    a.files
        .iter()
        .map(|f| parse_file_arg(f).map_err(|m| Fail(exit::INPUT, m)))
        .collect()
}

/// `ferry submit --metadata`: the files uploaded as one job, then
/// submitted with the metadata table.
pub(crate) async fn submit(conn: Conn, out: Output, a: SubmitSettings) -> Result<(), Fail> {
    let s = crate::session::session(&conn, &out)?;
    let specs = file_specs(&a)?;
    for p in std::iter::once(&a.metadata).chain(a.sequences.iter()) {
        std::fs::metadata(p).map_err(|e| {
            Fail(
                exit::INPUT,
                format!("{}: cannot be read ({e}); check the path", p.display()),
            )
        })?;
    }
    // Link before sending anything, with stand-in ids, so a metadata
    // problem costs no upload.
    let placeholder = vec!["00000000-0000-4000-8000-000000000000".to_string(); specs.len()];
    let raw = ferry_engine::loculus::folder::compressed::read_table(&a.metadata).map_err(|e| {
        Error::Io {
            path: a.metadata.clone(),
            source: e.into(),
        }
    })?;
    ferry_engine::loculus::submit::link_metadata(
        &a.metadata,
        &raw,
        &attach(&specs, &placeholder),
        true,
    )?;
    let paths: Vec<PathBuf> = specs.iter().map(|(_, _, p)| p.clone()).collect();
    let then = Some(Then::Submit(a.clone()));
    let (job, done) =
        crate::upload::new_job(&s, &conn, ferry_engine::JobKind::Submit, then, &paths).await?;
    finish_submit(&s, &job, &a, &done, out.json).await
}

/// Where this session's submits go: the job's journal and engine.
pub(crate) fn submit_to<'a>(
    s: &'a Session,
    jobs: &'a [String],
    a: &SubmitSettings,
) -> SubmitTo<'a> {
    SubmitTo {
        portal: &s.portal,
        engine: &s.engine,
        journal: Some(&s.journal),
        jobs,
        legacy_file_mapping: a.legacy_file_mapping,
    }
}

/// The attach step of a submit job, after every file is uploaded.
pub(crate) async fn finish_submit(
    s: &Session,
    job: &str,
    a: &SubmitSettings,
    done: &[Uploaded],
    json: bool,
) -> Result<(), Fail> {
    if let Some(f) = &a.folder {
        return folder::finish(s, job, a, f, done, json).await;
    }
    let specs = file_specs(a)?;
    let ids: Vec<String> = done.iter().map(|u| u.remote_id.clone()).collect();
    let sub = Submission {
        organism: a.organism.clone(),
        metadata: a.metadata.clone(),
        sequences: a.sequences.clone(),
        files: attach(&specs, &ids),
        data_use_terms: ferry_front::submit::data_use_terms(a.restricted_until.as_deref()),
        legacy_file_mapping: a.legacy_file_mapping,
    };
    let raw =
        ferry_engine::loculus::folder::compressed::read_table(&sub.metadata).map_err(|e| {
            Error::Io {
                path: sub.metadata.clone(),
                source: e.into(),
            }
        })?;
    let jobs = [job.to_string()];
    let result = ferry_front::submit(&submit_to(s, &jobs, a), sub, &raw, done.to_vec()).await;
    present_submission(s.renderer.as_deref(), job, result, json).map(|_| ())
}

/// Says what became of a submit: the notes, the accessions (printed
/// whenever the portal took the submission, files attached or not), and
/// the failure with its exit code. A rejection keeps the job (and its
/// uploaded fileIds) for `ferry resume`.
pub(crate) fn present_submission(
    renderer: Option<&progress::Renderer>,
    job: &str,
    result: Result<Submitted, SubmitFailure>,
    json: bool,
) -> Result<Submitted, Fail> {
    if let Some(r) = renderer {
        r.finish();
    }
    let taken = match &result {
        Ok(s) => Some(s),
        Err(SubmitFailure::NotAttached { submitted, .. }) => Some(submitted.as_ref()),
        Err(_) => None,
    };
    if let Some(t) = taken {
        // Said, not hidden: the ids the user may have noted are replaced.
        for r in &t.renewed {
            eprintln!("ferry: {r}");
        }
        if t.earlier {
            eprintln!(
                "the submission of job {job} had reached the portal before it was interrupted; not submitting it again"
            );
        }
        if t.retried {
            eprintln!(
                "the interrupted submission of job {job} had not reached the portal, so it was sent again"
            );
        }
        for note in &t.unverified {
            eprintln!("ferry: note: {note}");
        }
        if let Some(Ok((csv_path, json_path))) = &t.receipt {
            eprintln!(
                "receipt: {} and {}",
                csv_path.display(),
                json_path.display()
            );
        }
        for acc in &t.accessions {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"event": "submitted", "submissionId": acc.submission_id, "accession": acc.accession, "version": acc.version})
                );
            } else {
                println!("{}\t{}.{}", acc.submission_id, acc.accession, acc.version);
            }
        }
    }
    let e = match result {
        Ok(s) => {
            // The accessions are printed: a receipt that could not be
            // written still fails the command, saying why.
            return match &s.receipt {
                Some(Err(r)) => Err(Fail(exit::INPUT, r.clone())),
                _ => Ok(s),
            };
        }
        Err(e) => e,
    };
    if let SubmitFailure::Refused { rows, .. } = &e {
        // The server's message at each row it names, then the whole.
        for (id, m) in rows {
            eprintln!("{id}: {m}");
        }
    }
    if let SubmitFailure::NotAttached { submitted, .. } = &e
        && let Some(Err(r)) = &submitted.receipt
    {
        eprintln!("ferry: {r}");
    }
    let code = match (&e, e.class()) {
        (_, Some(class)) => exit::code(class),
        (SubmitFailure::Partly { .. } | SubmitFailure::NotAttached { .. }, None) => exit::REJECTED,
        _ => exit::INPUT,
    };
    Err(Fail(code, e.message(Again::Resume(job))))
}

#[cfg(test)]
mod tests {
    use super::parse_file_arg;

    #[test]
    fn parses_file_args() {
        assert_eq!(
            parse_file_arg("rawReads=a/b.fq").unwrap(),
            (None, "rawReads".into(), "a/b.fq".into())
        );
        assert_eq!(
            parse_file_arg("s1:rawReads=x=y.fq").unwrap(),
            (Some("s1".into()), "rawReads".into(), "x=y.fq".into())
        );
        assert!(parse_file_arg("nofile").is_err());
        assert!(parse_file_arg("=x").is_err());
    }
}
