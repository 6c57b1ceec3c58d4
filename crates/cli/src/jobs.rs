//! `ferry jobs`, `ferry resume`, `ferry abort`: interrupted jobs from the
//! journal.

use std::path::PathBuf;
use std::sync::Arc;

use ferry_engine::journal::Journal;
use ferry_engine::loculus::{SubmitJournal, SubmitState};
use ferry_engine::{FileState, JobKind, JobState, PortalKind, Then, Uploaded};
use indicatif::HumanBytes;

use crate::{Fail, Output, exit};

fn open(path: Option<PathBuf>) -> Result<Journal, Fail> {
    Ok(Journal::open(&path.unwrap_or_else(Journal::default_path))?)
}

pub fn list(journal: Option<PathBuf>, all: bool) -> Result<(), Fail> {
    let j = open(journal)?;
    let jobs = j.jobs(all)?;
    if jobs.is_empty() {
        eprintln!("no {}jobs", if all { "" } else { "interrupted " });
        return Ok(());
    }
    println!("JOB\tKIND\tSTATE\tFILES\tBYTES\tSTARTED");
    for s in jobs {
        // A submit whose answer was lost: `ferry resume` checks the portal.
        let state = match j.submit_record(&s.id)? {
            Some(r) if r.state == SubmitState::Submitting && s.state == JobState::Running => {
                "submitting".to_string()
            }
            _ => s.state.name().to_string(),
        };
        println!(
            "{}\t{}\t{}\t{}/{}\t{}/{}\t{}",
            s.id,
            s.kind,
            state,
            s.files_done,
            s.files,
            HumanBytes(s.bytes_done),
            HumanBytes(s.bytes),
            httpdate_secs(s.created_at)
        );
    }
    Ok(())
}

/// `ferry jobs --all`: the upload history, the same the window's panel
/// shows (the engine's `history`).
pub fn history(journal: Option<PathBuf>, json: bool, search: Option<&str>) -> Result<(), Fail> {
    let j = open(journal)?;
    let now = ferry_engine::clock::unix_now();
    let batches: Vec<_> = ferry_engine::history::load(&j, now)?
        .into_iter()
        .filter(|b| search.is_none_or(|q| b.matches(q)))
        .collect();
    if json {
        let text =
            serde_json::to_string(&batches).map_err(|e| Fail(exit::INTERNAL, e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    if batches.is_empty() {
        eprintln!("no jobs");
        return Ok(());
    }
    println!("JOB\tKIND\tPORTAL\tDESTINATION\tSTARTED\tSTATE\tFILES\tSUBMISSION");
    for b in &batches {
        let done = b
            .files
            .iter()
            .filter(|f| f.state == FileState::Done)
            .count();
        let submission = match (b.attached, b.days_left) {
            (true, _) => b
                .accessions
                .iter()
                .map(|a| format!("{}.{}", a.accession, a.version))
                .collect::<Vec<_>>()
                .join(" "),
            (false, Some(0)) => {
                "not attached; ids may have expired (re-uploaded at submit if unchanged)".into()
            }
            (false, Some(d)) => format!(
                "not attached; ids expire in {d} day{}",
                if d == 1 { "" } else { "s" }
            ),
            (false, None) => String::new(),
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{done}/{}\t{submission}",
            b.job,
            b.kind,
            b.portal.name(),
            b.destination,
            httpdate_secs(b.created_at),
            b.state.name(),
            b.files.len(),
        );
        for f in &b.files {
            println!(
                "  {}\t{}\t{}\t{}\t{}",
                f.name,
                f.id.as_deref().unwrap_or("-"),
                f.size,
                f.sha256.as_deref().unwrap_or("-"),
                f.state.name()
            );
        }
    }
    Ok(())
}

/// `--receipt FILE`: the batch's receipt as FILE.csv and FILE.json, from
/// the journal (the same lines the window's **Save receipt…** writes).
pub fn write_receipt(
    journal: &Journal,
    job: &str,
    to: Option<&std::path::Path>,
) -> Result<(), Fail> {
    let Some(to) = to else { return Ok(()) };
    let batch = ferry_engine::history::batch(journal, job, ferry_engine::clock::unix_now())?
        .ok_or_else(|| Fail(exit::INTERNAL, format!("job {job} is not in the journal")))?;
    let lines = ferry_engine::receipt::lines(&batch);
    // The files went up whatever becomes of the receipt: their ids are
    // printed above, so a failure here is reported, not hidden.
    let (csv, json) = ferry_engine::receipt::write(to, &lines)
        .map_err(|e| Fail(exit::INPUT, format!("the files were uploaded, but {e}")))?;
    eprintln!("receipt: {} and {}", csv.display(), json.display());
    Ok(())
}

fn httpdate_secs(secs: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    httpdate::fmt_http_date(t)
}

pub fn abort(journal: Option<PathBuf>, job: &str) -> Result<(), Fail> {
    let j = open(journal)?;
    if j.delete_job(job)? {
        eprintln!(
            "job {job} forgotten; files it uploaded but never submitted expire on the portal"
        );
        Ok(())
    } else {
        Err(Fail(
            exit::INPUT,
            format!("no job {job}; `ferry jobs --all` lists them"),
        ))
    }
}

pub async fn resume(
    journal: Option<PathBuf>,
    job: Option<String>,
    token_stdin: bool,
    out: Output,
) -> Result<(), Fail> {
    let path = journal.clone().unwrap_or_else(Journal::default_path);
    let j = open(Some(path.clone()))?;
    let id = match job {
        Some(id) => id,
        None => j
            .jobs(false)?
            .first()
            .map(|s| s.id.clone())
            .ok_or_else(|| Fail(exit::INPUT, "no interrupted job to resume".into()))?,
    };
    let rec = j
        .job(&id)?
        .ok_or_else(|| Fail(exit::INPUT, format!("no job {id}; `ferry jobs` lists them")))?;
    if rec.summary.state == JobState::Done {
        eprintln!("job {id} is already done");
        return Ok(());
    }
    let parts = rec
        .params
        .parts_in_flight
        .map_or(ferry_engine::DEFAULT_PARTS_IN_FLIGHT, usize::from);
    drop(j);
    // A watched run's job: not beside the watcher of its folder.
    let _watch_lock = crate::watch::resume_lock(&path, &rec)?;

    let plan = ferry_front::resume::plan(&rec).map_err(|refused| {
        let code = exit::code(refused[0].class());
        let list: Vec<String> = refused.iter().map(ToString::to_string).collect();
        Fail(code, ferry_front::messages::cannot_go_on(&id, &list))
    })?;
    for (path, why) in &plan.restarts {
        eprintln!("  {}: {why}", path.display());
    }
    eprintln!("{}", plan.summary(&id));
    let (files, already) = (plan.files, plan.already);
    let to = &rec.params.destination;
    if to.kind != PortalKind::Loculus {
        return resume_portal(&rec, &id, path, parts, token_stdin, out, files, already).await;
    }
    let backend = to.base.clone().unwrap_or_default();
    let group = to.group.unwrap_or_default();
    let given = crate::session::explicit_token(token_stdin)?;
    let keycloak = std::env::var("FERRY_KEYCLOAK").ok();
    let tokens = crate::session::token_source(given, &backend, keycloak.as_deref())?;
    let s = crate::session::open_session(&backend, group, parts, Some(path), tokens, &out)?;
    let done: Vec<Uploaded> = crate::upload::send(&s, &id, files, already).await?;
    match (&rec.summary.kind, &rec.params.then) {
        (JobKind::Submit, Some(Then::Submit(a))) => {
            crate::submit::finish_submit(&s, &id, a, &done, out.json).await
        }
        (JobKind::Submit, _) => Err(Fail(
            exit::INTERNAL,
            format!("job {id} has unreadable submit settings"),
        )),
        _ => {
            s.journal.set_job_state(&id, JobState::Done)?;
            crate::upload::print_uploaded(&done, out.json);
            Ok(())
        }
    }
}

/// Resume a One Codex or BaseSpace upload job (credentials from the
/// environment or --token-stdin, as for the upload).
#[allow(clippy::too_many_arguments)]
async fn resume_portal(
    rec: &ferry_engine::journal::JobRecord,
    id: &str,
    path: PathBuf,
    parts: usize,
    token_stdin: bool,
    out: Output,
    files: Vec<ferry_engine::JobFile>,
    already: Vec<(usize, Uploaded)>,
) -> Result<(), Fail> {
    let names: Vec<String> = rec.files.iter().map(|f| f.name.clone()).collect();
    let onecodex = rec.params.destination.kind == PortalKind::Onecodex;
    let (engine, renderer) = crate::session::engine_for(parts, &out, |sink| {
        if onecodex {
            ferry_front::messages::restart_notes(sink, names)
        } else {
            sink
        }
    })?;
    let portal = crate::portals::portal_for(&engine, &rec.params.destination, token_stdin)?;
    let journal = Arc::new(Journal::open(&path)?);
    let done = crate::upload::send_with(
        &engine,
        portal,
        renderer.as_deref(),
        &journal,
        id,
        files,
        already,
    )
    .await?;
    journal.set_job_state(id, JobState::Done)?;
    crate::upload::print_uploaded(&done, out.json);
    Ok(())
}
