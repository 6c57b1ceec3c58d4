//! `ferry watch DIR...`: sequencer runs upload themselves, to Loculus,
//! One Codex or BaseSpace. The engine's watch module does the work (runs,
//! markers, quiet period, stable files, lock, journal, resume, polling);
//! this file builds the destination from the flags and prints the
//! watcher's events; and `ferry resume` of a watched run's job takes its
//! folder's lock here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use ferry_engine::journal::Journal;
use ferry_engine::loculus::{Linkage, Loculus};
use ferry_engine::watch::{
    self, Control, RunHandler, SendFailure, UploadRuns, WatchEvent, WatchOptions,
};
use ferry_engine::{Destination, Event, EventSink, JobParams, PortalKind};
use ferry_front::watch_submit::{Recheck, RunPresenter, SubmitRuns};
use ferry_front::{SubmitFailure, Submitted};
use indicatif::HumanBytes;

use crate::portals::PortalArgs;
use crate::session::Session;
use crate::{Fail, Output, UploadConn, exit};

#[derive(Args)]
pub struct WatchArgs {
    /// Look once (twice, the check interval apart), send the runs that are
    /// complete, and exit: for cron.
    #[arg(long)]
    pub once: bool,
    /// Poll the folders at this interval ("60s") instead of inotify;
    /// network shares (NFS, SMB, sshfs) are polled every 60 s anyway.
    #[arg(long, value_name = "DURATION", value_parser = ferry_engine::network::parse_wait)]
    pub poll: Option<Duration>,
    /// A folder of reads with no instrument's run files is sent once
    /// nothing in it changed for this long ("5m"; "0" = never, wait for a
    /// completion marker).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = ferry_engine::network::parse_wait)]
    pub quiet_period: Duration,
    /// A file is sent only if its size and modification time held still
    /// this long.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = ferry_engine::network::parse_wait)]
    pub check_interval: Duration,
    /// A completion marker's file name (glob; repeatable; replaces the
    /// defaults CopyComplete.txt, RTAComplete.txt, RTAComplete.xml,
    /// final_summary_*.txt).
    #[arg(long = "marker", value_name = "GLOB")]
    pub markers: Vec<String>,
    /// Files to send, by name (glob; repeatable; replaces the default
    /// FASTQ/FASTA extensions, plain or .gz).
    #[arg(long = "include", value_name = "GLOB")]
    pub include: Vec<String>,
    /// Loculus: send each run folder as a submission batch (as `ferry
    /// submit --folder`) for this organism: submitted once its linkage
    /// report is clean, otherwise it waits and is checked again when its
    /// files change.
    #[arg(long, value_name = "ORGANISM")]
    pub submit: Option<String>,
    /// With --submit: restrict the data until this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", requires = "submit")]
    pub restricted_until: Option<String>,
    /// With --submit: the instance's website (its /loculus-info lists the
    /// organisms); default $FERRY_WEBSITE, else the backend's URL.
    #[arg(long, value_name = "URL", requires = "submit")]
    pub website: Option<String>,
    /// The folders whose subfolders are runs.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
}

impl WatchArgs {
    fn options(&self) -> WatchOptions {
        let mut o = WatchOptions {
            once: self.once,
            poll: self.poll.filter(|d| !d.is_zero()),
            quiet_period: Some(self.quiet_period).filter(|d| !d.is_zero()),
            check_interval: self.check_interval,
            ..WatchOptions::default()
        };
        if !self.markers.is_empty() {
            o.markers = self.markers.clone();
        }
        if !self.include.is_empty() {
            o.include = self.include.clone();
        }
        o
    }
}

pub async fn run(
    portal: PortalKind,
    conn: UploadConn,
    other: PortalArgs,
    out: Output,
    w: WatchArgs,
) -> Result<(), Fail> {
    let json = out.json;
    let (journal, handler) = match portal {
        PortalKind::Loculus => loculus(conn, other, json, &w).await?,
        kind => onecodex_or_basespace(kind, conn, other, json, &w)?,
    };
    let opts = w.options();
    let emit: watch::Emit = Arc::new(move |e: WatchEvent| print_event(&e, json));
    // Ctrl-C or SIGTERM stops the watcher as well as its uploads.
    let mut control = Control::default();
    control.stop = crate::interrupt::stopped();
    let summary = watch::watch(&w.dirs, &opts, journal, handler, emit, control)
        .await
        .map_err(|e| Fail(exit::INPUT, e.to_string()))?;
    print_summary(&summary, json);
    Ok(())
}

fn print_summary(summary: &watch::WatchSummary, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({"event": "watch_summary", "sent": summary.sent, "waiting": summary.waiting, "attention": summary.attention, "locked": summary.locked})
        );
        return;
    }
    eprintln!(
        "{} run(s) sent; {} waiting; {} need attention{}",
        summary.sent,
        summary.waiting,
        summary.attention,
        if summary.locked.is_empty() {
            String::new()
        } else {
            format!(
                "; not looked at (another Ferry watches them): {}",
                summary
                    .locked
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
}

/// The journal the watcher keeps its runs in, and what it does with them.
type RunsTo = (Arc<Journal>, Arc<dyn RunHandler>);

/// Runs to Loculus: their reads uploaded, or (--submit) each run folder
/// submitted as a batch.
async fn loculus(
    conn: UploadConn,
    other: PortalArgs,
    json: bool,
    w: &WatchArgs,
) -> Result<RunsTo, Fail> {
    if other.base_url.is_some() || other.appresult.is_some() || !other.pairs.is_empty() {
        return Err(Fail(
            exit::INPUT,
            "--base-url, --appresult and --pair are for One Codex and BaseSpace; Loculus takes --backend and --group".into(),
        ));
    }
    let parts = conn.parts_in_flight;
    let conn = conn.loculus()?;
    let s = watcher_session(&conn, json)?;
    let params =
        JobParams::new(Destination::loculus(&s.backend, s.group)).with_parts_in_flight(parts);
    let Some(organism) = &w.submit else {
        let handler = Arc::new(UploadRuns {
            engine: s.engine.clone(),
            portal: s.portal.clone(),
            journal: s.journal.clone(),
            params,
            pair_reads: false,
        });
        return Ok((s.journal.clone(), handler));
    };
    let website = ferry_front::website::website(w.website.as_deref(), &s.backend);
    let http = ferry_engine::transfer::http_client()?;
    let info = Loculus::instance_info(&http, &website).await?;
    let org = info
        .organism(organism)
        .map_err(|m| Fail(exit::INPUT, m))?
        .clone();
    let handler = Arc::new(SubmitRuns {
        engine: s.engine.clone(),
        loculus: s.portal.clone(),
        journal: s.journal.clone(),
        params,
        organism: org,
        restricted_until: w.restricted_until.clone(),
        presenter: Arc::new(PrintedRuns { json }),
    });
    Ok((s.journal.clone(), handler))
}

/// Runs to One Codex (each run's R1/R2 files paired by name into samples,
/// unless --no-pairing) or BaseSpace (into --appresult), with the
/// destination options and credentials of `ferry upload`.
fn onecodex_or_basespace(
    kind: PortalKind,
    conn: UploadConn,
    other: PortalArgs,
    json: bool,
    w: &WatchArgs,
) -> Result<RunsTo, Fail> {
    if w.submit.is_some() {
        return Err(Fail(
            exit::INPUT,
            "--submit sends a run as a Loculus submission batch; with --portal onecodex or basespace each run's reads are uploaded".into(),
        ));
    }
    if !other.pairs.is_empty() {
        return Err(Fail(
            exit::INPUT,
            "--pair names files of one upload; a watcher pairs each run's R1/R2 files by name (or sends each file alone with --no-pairing)".into(),
        ));
    }
    if kind == PortalKind::Onecodex && other.appresult.is_some() {
        return Err(Fail(
            exit::INPUT,
            "--appresult is for --portal basespace".into(),
        ));
    }
    let stdin = match kind {
        PortalKind::Onecodex => other.api_key_stdin,
        _ => conn.token_stdin,
    };
    let parts = conn.parts_in_flight;
    let params =
        JobParams::new(crate::portals::destination(kind, &other, &[])).with_parts_in_flight(parts);
    let engine = engine(parts as usize, json)?;
    let portal = crate::portals::portal_for(&engine, &params.destination, stdin)?;
    let journal = Arc::new(Journal::open(
        &conn.journal.unwrap_or_else(Journal::default_path),
    )?);
    let handler = Arc::new(UploadRuns {
        engine,
        portal,
        journal: journal.clone(),
        params,
        pair_reads: kind == PortalKind::Onecodex && !other.no_pairing,
    });
    Ok((journal, handler))
}

/// A Loculus session whose engine reports per file (JSON lines with
/// --json, else a line per file: a watcher runs as a service, its output
/// goes to systemd's journal, not to a terminal).
fn watcher_session(conn: &crate::Conn, json: bool) -> Result<Session, Fail> {
    let given = crate::session::explicit_token(conn.token_stdin)?;
    let tokens = crate::session::token_source(given, &conn.backend, conn.keycloak.as_deref())?;
    let engine = engine(conn.parts_in_flight as usize, json)?;
    let portal = Arc::new(Loculus::new(
        engine.http().clone(),
        &conn.backend,
        conn.group,
        tokens,
    )?);
    let journal = Arc::new(Journal::open(
        &conn.journal.clone().unwrap_or_else(Journal::default_path),
    )?);
    Ok(Session {
        engine,
        portal,
        renderer: None,
        journal,
        backend: conn.backend.clone(),
        group: conn.group,
    })
}

/// An engine that reports per file: JSON lines with --json, else a line
/// per file.
fn engine(parts_in_flight: usize, json: bool) -> Result<ferry_engine::Engine, Fail> {
    let sink = if json {
        crate::progress::json_sink()
    } else {
        line_sink()
    };
    let cfg = ferry_engine::EngineConfig {
        parts_in_flight,
        network: crate::network::policy(),
        ..ferry_engine::EngineConfig::default()
    };
    let engine = ferry_engine::Engine::new(cfg, sink)?;
    crate::interrupt::stops(&engine);
    Ok(engine)
}

/// The engine's per-file events as lines for people (no bars: a watcher
/// runs as a service, its output goes to the journal of systemd).
pub fn line_sink() -> EventSink {
    EventSink::new(|e| match &e {
        Event::FileDone {
            name, size, sha256, ..
        } => eprintln!(
            "    \u{2713} {name} ({}) sha256 {sha256}",
            HumanBytes(*size)
        ),
        Event::FileFailed { name, error, .. } => eprintln!("    \u{2717} {name}: {error}"),
        Event::FileRestarted { reason, .. } => eprintln!("    \u{21bb} {reason}"),
        _ => {
            if let Some(l) = crate::network::line(&e) {
                eprintln!("{l}");
            }
        }
    })
}

fn print_event(e: &WatchEvent, json: bool) {
    if json {
        if let Ok(line) = serde_json::to_string(e) {
            println!("{line}");
        }
        return;
    }
    let name = |p: &std::path::Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    match e {
        WatchEvent::Watching {
            dir,
            mode,
            poll_s,
            why,
        } => eprintln!(
            "watching {} ({mode}{}{})",
            dir.display(),
            poll_s.map(|s| format!(" every {s} s")).unwrap_or_default(),
            why.as_ref().map(|w| format!(": {w}")).unwrap_or_default()
        ),
        WatchEvent::WatchNote { dir, message } => eprintln!("{}: {message}", dir.display()),
        WatchEvent::RunWaiting { run, reason, .. } => {
            eprintln!("  \u{2026} {}: {reason}", name(run))
        }
        WatchEvent::RunReady {
            run,
            marker,
            files,
            bytes,
            ..
        } => eprintln!(
            "  \u{25b6} {}: ready ({}), {files} file(s), {}",
            name(run),
            marker
                .as_ref()
                .map(|m| format!("{m} found"))
                .unwrap_or_else(|| "quiet period over".into()),
            HumanBytes(*bytes)
        ),
        WatchEvent::RunSending {
            run, job, resumed, ..
        } => eprintln!(
            "  \u{2191} {}: {} (job {job})",
            name(run),
            if *resumed {
                "going on from what the storage acknowledged"
            } else {
                "sending"
            }
        ),
        WatchEvent::RunDone {
            run,
            job,
            files,
            bytes,
            summary,
            earlier,
            ..
        } => {
            if !earlier {
                eprintln!(
                    "  \u{2713} {}: done, {files} file(s), {}: {summary} (job {job})",
                    name(run),
                    HumanBytes(*bytes)
                );
            }
        }
        WatchEvent::RunAttention { run, reason, .. } => {
            eprintln!("  ! {} needs attention: {reason}", name(run))
        }
    }
}

/// How `ferry watch --submit` shows a run submitted as a batch (ferry-front's
/// `SubmitRuns` does the work, as for the app's panel): as `ferry submit
/// --folder` prints it (the report, the accessions), the run's line
/// "submitted".
struct PrintedRuns {
    json: bool,
}

impl RunPresenter for PrintedRuns {
    fn recheck(&self) -> Recheck {
        Recheck::OnChange
    }

    fn submitted(
        &self,
        job: &str,
        linkage: &Linkage,
        result: Result<Submitted, SubmitFailure>,
    ) -> Result<String, String> {
        if !linkage.is_ok() {
            crate::folder::print_report(linkage, self.json);
        }
        crate::submit::present_submission(None, job, result, self.json)
            .map(|_| "submitted".into())
            .map_err(|f| f.1)
    }

    fn not_sent(&self, job: &str, failure: &SendFailure) -> String {
        crate::upload::not_sent(job, failure).1
    }
}

/// `ferry resume` of a job a watcher started takes its folder's lock and
/// holds it until the resume ends: it cannot run beside `ferry watch` or
/// the app on that folder (they would send the run at the same time).
/// None for other jobs.
pub fn resume_lock(
    journal: &std::path::Path,
    rec: &ferry_engine::journal::JobRecord,
) -> Result<Option<watch::lock::FolderLock>, Fail> {
    let Some(dir) = rec
        .params
        .watch
        .as_ref()
        .map(|w| w.dir.clone())
        .filter(|d| !d.as_os_str().is_empty())
    else {
        return Ok(None);
    };
    let locks = watch::lock::locks_dir(journal);
    let id = &rec.summary.id;
    match watch::lock::try_lock(&locks, &dir) {
        Ok(Ok(l)) => Ok(Some(l)),
        Ok(Err(held)) => Err(Fail(
            exit::INPUT,
            format!(
                "job {id} is a run of the watched folder {}, and {} is watching that folder now (lock {}): it goes on with the run by itself. To resume it here, stop that watcher first",
                dir.display(),
                held.holder(),
                held.lock_file.display()
            ),
        )),
        Err(e) => Err(Fail(
            exit::INPUT,
            format!(
                "job {id}: cannot take the lock of its watched folder {} ({e}); check that {} is writable",
                dir.display(),
                locks.display()
            ),
        )),
    }
}
