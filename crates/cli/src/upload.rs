//! `ferry upload` to Loculus, and sending a journaled job's files on the
//! command line (the engine's `send_job`, with the progress bars
//! finished and the failure worded for `ferry resume`).

use std::path::PathBuf;
use std::sync::Arc;

use ferry_engine::journal::Journal;
use ferry_engine::scan::{NameRules, scan};
use ferry_engine::watch::{SendFailure, send_job};
use ferry_engine::{
    Destination, Engine, Error, JobFile, JobKind, JobParams, JobState, Then, Uploaded,
};

use crate::session::{Session, session};
use crate::{Conn, Fail, Output, dry_run, exit, jobs, progress};

/// Send a job's files, journaled; the first failure decides the exit code
/// and the message says how to resume.
pub(crate) async fn send(
    s: &Session,
    job: &str,
    files: Vec<JobFile>,
    already: Vec<(usize, Uploaded)>,
) -> Result<Vec<Uploaded>, Fail> {
    send_with(
        &s.engine,
        s.portal.clone(),
        s.renderer.as_deref(),
        &s.journal,
        job,
        files,
        already,
    )
    .await
}

/// [`send`] for any portal.
pub(crate) async fn send_with(
    engine: &Engine,
    portal: Arc<dyn ferry_engine::Portal>,
    renderer: Option<&progress::Renderer>,
    journal: &Arc<Journal>,
    job: &str,
    files: Vec<JobFile>,
    already: Vec<(usize, Uploaded)>,
) -> Result<Vec<Uploaded>, Fail> {
    let sent = send_job(engine, portal, journal, job, files, already).await;
    if let Some(r) = renderer {
        r.finish();
    }
    sent.map_err(|f| not_sent(job, &f))
}

/// Files of `job` that did not go: the first failure decides the exit
/// code, and the message says how to resume.
pub(crate) fn not_sent(job: &str, f: &SendFailure) -> Fail {
    Fail(
        exit::code(f.first.class()),
        format!(
            "{f}\n  what was sent is kept: continue with `ferry resume {job}` (see `ferry jobs`)"
        ),
    )
}

/// Prints each accepted file as `id<TAB>SHA-256<TAB>path` (nothing with
/// `--json`: the `file_done` events said it already).
pub(crate) fn print_uploaded(done: &[Uploaded], json: bool) {
    if !json {
        for u in done {
            println!("{}\t{}\t{}", u.remote_id, u.sha256, u.path.display());
        }
    }
}

/// Where a Loculus job of this session goes, as journaled for `ferry
/// resume` (never the token), with what follows the upload.
pub(crate) fn loculus_params(s: &Session, conn: &Conn, then: Option<Then>) -> JobParams {
    JobParams::new(Destination::loculus(&s.backend, s.group))
        .with_parts_in_flight(conn.parts_in_flight)
        .with_then(then)
}

/// Scan `paths`, record a new job of `kind` in the journal (with what
/// `ferry resume` needs, never the token) and send its files.
pub(crate) async fn new_job(
    s: &Session,
    conn: &Conn,
    kind: JobKind,
    then: Option<Then>,
    paths: &[PathBuf],
) -> Result<(String, Vec<Uploaded>), Fail> {
    let items = scan(paths, s.portal.as_ref() as &dyn NameRules).map_err(Error::Input)?;
    let job = s
        .journal
        .create_job(&kind, &loculus_params(s, conn, then), &items)?;
    let files = items.into_iter().map(JobFile::from).collect();
    let done = send(s, &job, files, vec![]).await?;
    Ok((job, done))
}

/// `ferry upload` to Loculus: the files as one job, their ids printed,
/// and the receipt when asked.
pub(crate) async fn upload(
    conn: Conn,
    out: Output,
    files: Vec<PathBuf>,
    receipt: Option<PathBuf>,
) -> Result<(), Fail> {
    let s = session(&conn, &out)?;
    let files = dry_run::files_of(&files)?;
    let (job, done) = new_job(&s, &conn, JobKind::Upload, None, &files).await?;
    s.journal.set_job_state(&job, JobState::Done)?;
    print_uploaded(&done, out.json);
    jobs::write_receipt(&s.journal, &job, receipt.as_deref())
}
