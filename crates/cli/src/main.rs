//! `ferry`: the upload engine on the command line.

mod config;
mod demo;
mod dry_run;
mod exit;
mod folder;
mod jobs;
mod login;
mod network;
mod portals;
mod progress;
mod watch;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use ferry_engine::job::SubmitSettings;
use ferry_engine::journal::{Journal, Routed};
use ferry_engine::loculus::{AttachedFile, Loculus, Submission};
use ferry_engine::scan::{NameRules, scan};
use ferry_engine::{
    Destination, Engine, EngineConfig, Error, FileOutcome, JobFile, JobKind, JobParams, JobState,
    PortalKind, StaticToken, Then, TokenSource, Uploaded,
};
use ferry_front::submit::Again;
use ferry_front::{SubmitFailure, SubmitTo, Submitted};

#[derive(Parser)]
#[command(
    name = "ferry",
    version,
    about = "Send sequencing files to sequence portals: parallel parts, retries, checksums."
)]
struct Cli {
    /// Allow plain http:// to portals, sign-in and storage on other hosts
    /// than this machine (a test server you trust): sign-ins and files then
    /// cross the network unencrypted. Without it only https:// is used.
    #[arg(long, global = true, env = "FERRY_ALLOW_HTTP")]
    allow_http: bool,
    #[command(subcommand)]
    cmd: Cmd,
    /// How long to wait for the network when no connection can be made
    /// ("24h", "90m", "0" = fail as soon as retries are spent); the files
    /// go on by themselves when it is back. Default: the settings file's
    /// `wait_for_network`, else 24h.
    #[arg(long, global = true, value_name = "DURATION", default_value = "24h", value_parser = network::parse_wait)]
    wait_for_network: std::time::Duration,
    #[command(flatten)]
    net: config::NetArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// Upload files to a portal (Loculus by default; One Codex, BaseSpace)
    /// and print each file's id.
    Upload {
        /// Where to: loculus (--backend, --group), onecodex (API key from
        /// FERRY_ONECODEX_API_KEY or --api-key-stdin) or basespace
        /// (--appresult, token from FERRY_BASESPACE_TOKEN or --token-stdin).
        #[arg(long, value_parser = portals::portal_arg(), default_value = "loculus")]
        portal: PortalKind,
        #[command(flatten)]
        conn: UploadConn,
        #[command(flatten)]
        other: portals::PortalArgs,
        #[command(flatten)]
        out: Output,
        /// Also write a receipt of the batch: FILE.csv and FILE.json
        /// (portal, destination, name, id, size, SHA-256, uploaded at, and
        /// for Loculus when the id expires unless attached).
        #[arg(long, value_name = "FILE")]
        receipt: Option<PathBuf>,
        /// Check the files and print how each would be sent (parts, part
        /// size); nothing is sent and no sign-in is needed.
        #[arg(long)]
        dry_run: bool,
        /// Files to send; a folder sends every file in it (recursively,
        /// dot-files skipped).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Upload files and submit them with their metadata to a Loculus organism.
    Submit {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: Output,
        /// Organism key as in the backend's URLs, e.g. ebola-sudan.
        #[arg(long)]
        organism: String,
        /// Metadata table (TSV) with an `id` column, one row per submission.
        #[arg(long, required_unless_present = "folder")]
        metadata: Option<PathBuf>,
        /// Sequences (FASTA), when the organism takes consensus sequences.
        #[arg(long)]
        sequences: Option<PathBuf>,
        /// An extra file: CATEGORY=PATH, or SUBMISSION_ID:CATEGORY=PATH.
        /// Without an id the file goes to the row whose `files.CATEGORY`
        /// cell names it, or to the only row.
        #[arg(long = "file", value_name = "[ID:]CATEGORY=PATH")]
        files: Vec<String>,
        /// Restrict the data until this date (YYYY-MM-DD); open otherwise.
        #[arg(long, value_name = "DATE")]
        restricted_until: Option<String>,
        /// Send the old `fileMapping` field (backends before August 2026).
        #[arg(long)]
        legacy_file_mapping: bool,
        #[command(flatten)]
        batch: folder::FolderArgs,
    },
    /// Watch folders whose subfolders are sequencer runs (or plain folders
    /// of reads) and send each run once it is complete: its completion
    /// marker appeared, or nothing changed for the quiet period. Each run is
    /// sent once, across restarts and other watchers.
    Watch {
        #[arg(long, value_parser = portals::portal_arg(), default_value = "loculus")]
        portal: PortalKind,
        #[command(flatten)]
        conn: UploadConn,
        #[command(flatten)]
        other: portals::PortalArgs,
        #[command(flatten)]
        out: Output,
        #[command(flatten)]
        watch: watch::WatchArgs,
    },
    /// List interrupted jobs; with --all, the upload history: every batch,
    /// newest first, with its files, ids and states (and, for Loculus
    /// uploads not attached yet, the days their ids have left).
    Jobs {
        #[arg(long)]
        all: bool,
        /// Print JSON (with --all: the history as one JSON array).
        #[arg(long)]
        json: bool,
        /// With --all: only batches with a file name, id or accession
        /// containing this.
        #[arg(long, value_name = "TEXT", requires = "all")]
        search: Option<String>,
        #[arg(long, env = "FERRY_JOURNAL", value_name = "PATH")]
        journal: Option<PathBuf>,
    },
    /// Continue an interrupted job: only what the portal has not
    /// acknowledged is sent again. Without JOB, the latest one. One Codex
    /// and BaseSpace jobs take their key or token from the environment
    /// (FERRY_ONECODEX_API_KEY, FERRY_BASESPACE_TOKEN) or --token-stdin.
    Resume {
        job: Option<String>,
        #[arg(long, env = "FERRY_JOURNAL", value_name = "PATH")]
        journal: Option<PathBuf>,
        /// Read the token from the first line of standard input (else
        /// FERRY_TOKEN; there is no --token flag: the process list would show it).
        #[arg(long)]
        token_stdin: bool,
        #[command(flatten)]
        out: Output,
    },
    /// Forget an interrupted job (uploaded files expire on the portal).
    Abort {
        job: String,
        #[arg(long, env = "FERRY_JOURNAL", value_name = "PATH")]
        journal: Option<PathBuf>,
    },
    /// Sign in to a Loculus instance with a user name and the password on
    /// standard input; the session is kept in the OS keychain and used by
    /// later commands that get no token. With --portal onecodex|basespace,
    /// keep the API key or access token read from standard input instead,
    /// where the desktop app keeps it.
    Login {
        /// Keep a One Codex API key or a BaseSpace access token instead.
        #[arg(long, value_parser = portals::portal_arg())]
        portal: Option<PortalKind>,
        /// One Codex / BaseSpace API base URL (default: the public service).
        #[arg(long, value_name = "URL", requires = "portal")]
        base_url: Option<String>,
        /// BaseSpace: the AppResult uploads go into when given no --appresult.
        #[arg(long, value_name = "ID", requires = "portal")]
        appresult: Option<String>,
        /// The Loculus backend's URL.
        #[arg(long, env = "FERRY_BACKEND", required_unless_present = "portal")]
        backend: Option<String>,
        /// The instance's Keycloak URL (default: the backend's).
        #[arg(long, env = "FERRY_KEYCLOAK")]
        keycloak: Option<String>,
        /// Sign in as this user, with the password on standard input.
        #[arg(long, required_unless_present_any = ["device", "portal"])]
        user: Option<String>,
        /// Sign in in a browser instead (OAuth device code, where the
        /// instance offers it): Ferry prints a link and a code, and waits.
        #[arg(long, conflicts_with = "user")]
        device: bool,
    },
    /// Forget the session `ferry login` kept for an instance (with
    /// --portal onecodex|basespace, the kept key or token).
    Logout {
        #[arg(long, value_parser = portals::portal_arg())]
        portal: Option<PortalKind>,
        /// One Codex / BaseSpace API base URL (default: the public service).
        #[arg(long, value_name = "URL", requires = "portal")]
        base_url: Option<String>,
        #[arg(long, env = "FERRY_BACKEND", required_unless_present = "portal")]
        backend: Option<String>,
    },
    /// Start the demo portal on this machine and upload sample files to it.
    Demo {
        /// Size of each sample read file in MiB.
        #[arg(long, default_value_t = 96)]
        size_mib: u64,
    },
}

#[derive(Args)]
struct Conn {
    /// The Loculus backend's URL.
    #[arg(long, env = "FERRY_BACKEND")]
    backend: String,
    /// Group id to upload for (see the group's page on the website).
    #[arg(long)]
    group: i64,
    /// Read the token from the first line of standard input (else
    /// FERRY_TOKEN; there is no --token flag: the process list would show it).
    #[arg(long)]
    token_stdin: bool,
    /// A token handed over inside the process (`ferry demo`); not a flag.
    #[arg(skip)]
    token: Option<String>,
    /// The instance's Keycloak URL, for the session `ferry login` kept
    /// (default: the backend's).
    #[arg(long, env = "FERRY_KEYCLOAK")]
    keycloak: Option<String>,
    /// Where jobs are recorded for resume (default: the user's data folder).
    #[arg(long, env = "FERRY_JOURNAL", value_name = "PATH")]
    journal: Option<PathBuf>,
    /// Parts sent at the same time, across all files.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    parts_in_flight: u16,
}

/// [`Conn`] for `ferry upload`, where the Loculus flags are needed only
/// for Loculus.
#[derive(Args)]
struct UploadConn {
    /// The Loculus backend's URL.
    #[arg(long, env = "FERRY_BACKEND")]
    backend: Option<String>,
    /// Loculus group id to upload for (see the group's page on the website).
    #[arg(long)]
    group: Option<i64>,
    /// Read the token (Loculus, BaseSpace) from the first line of standard
    /// input (else FERRY_TOKEN; no --token flag: `ps` would show it).
    #[arg(long)]
    token_stdin: bool,
    /// The Loculus instance's Keycloak URL, for the session `ferry login`
    /// kept (default: the backend's).
    #[arg(long, env = "FERRY_KEYCLOAK")]
    keycloak: Option<String>,
    /// Where jobs are recorded for resume (default: the user's data folder).
    #[arg(long, env = "FERRY_JOURNAL", value_name = "PATH")]
    journal: Option<PathBuf>,
    /// Parts sent at the same time, across all files.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    parts_in_flight: u16,
}

impl UploadConn {
    fn loculus(self) -> Result<Conn, Fail> {
        let (Some(backend), Some(group)) = (self.backend, self.group) else {
            return Err(Fail(
                exit::INPUT,
                "Loculus uploads need --backend URL (or FERRY_BACKEND) and --group ID".into(),
            ));
        };
        Ok(Conn {
            backend,
            group,
            token_stdin: self.token_stdin,
            token: None,
            keycloak: self.keycloak,
            journal: self.journal,
            parts_in_flight: self.parts_in_flight,
        })
    }
}

#[derive(Args)]
struct Output {
    /// Print the engine's events as JSON lines on standard output.
    #[arg(long)]
    json: bool,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
    /// Skip the SHA-256 of each whole file (printed empty): less CPU per
    /// GiB. The MD5 of every part is still checked against the storage's
    /// ETag.
    #[arg(long)]
    no_file_hash: bool,
}

/// A failure that ends the command, with its exit code.
struct Fail(i32, String);

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail(exit::code(e.class()), e.to_string())
    }
}

fn main() {
    let code = parse().and_then(|cli| {
        network::set_wait(cli.wait_for_network);
        if cli.allow_http {
            ferry_engine::guard::allow_http(true);
            eprintln!("ferry: --allow-http: sign-ins and files may cross the network unencrypted");
        }
        let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
        rt.block_on(run(cli))
    });
    let code = match code {
        Ok(()) => exit::OK,
        Err(Fail(code, msg)) => {
            eprintln!("ferry: {msg}");
            code
        }
    };
    std::process::exit(code);
}

/// The command line, with the settings file's values as defaults and its
/// network settings in force.
fn parse() -> Result<Cli, Fail> {
    use clap::{CommandFactory, FromArgMatches};
    let settings = config::load();
    let cmd = config::with_defaults(
        Cli::command(),
        settings.as_ref().unwrap_or(&Default::default()),
    );
    let cli = Cli::from_arg_matches(&cmd.get_matches()).unwrap_or_else(|e| e.exit());
    // `--help` and `--version` work whatever the file holds.
    config::apply(&cli.net, &settings?)?;
    Ok(cli)
}

async fn run(cli: Cli) -> Result<(), Fail> {
    match cli.cmd {
        Cmd::Upload {
            dry_run: true,
            portal,
            conn,
            other,
            out,
            files,
            ..
        } => dry_run::run(
            portal,
            conn.backend.as_deref(),
            conn.group,
            &other,
            out.json,
            &files,
        ),
        Cmd::Upload {
            portal: PortalKind::Loculus,
            conn,
            other,
            out,
            files,
            receipt,
            ..
        } => {
            if other.base_url.is_some() || other.appresult.is_some() || !other.pairs.is_empty() {
                return Err(Fail(
                    exit::INPUT,
                    "--base-url, --appresult and --pair are for --portal onecodex or basespace; Loculus takes --backend and --group".into(),
                ));
            }
            upload(conn.loculus()?, out, files, receipt).await
        }
        Cmd::Upload {
            portal,
            conn,
            other,
            out,
            files,
            receipt,
            ..
        } => {
            portals::upload(
                portal,
                other,
                conn.token_stdin,
                conn.journal,
                conn.parts_in_flight,
                out,
                files,
                receipt,
            )
            .await
        }
        Cmd::Submit {
            conn,
            out,
            organism,
            metadata,
            sequences,
            files,
            restricted_until,
            legacy_file_mapping,
            batch,
        } => {
            let Some(metadata) = metadata else {
                return folder::submit(
                    conn,
                    out,
                    organism,
                    restricted_until,
                    legacy_file_mapping,
                    batch,
                )
                .await;
            };
            batch.check_unused()?;
            submit(
                conn,
                out,
                SubmitSettings {
                    organism,
                    metadata,
                    sequences,
                    files,
                    restricted_until,
                    legacy_file_mapping,
                    folder: None,
                },
            )
            .await
        }
        Cmd::Watch {
            portal,
            conn,
            other,
            out,
            watch,
        } => watch::run(portal, conn, other, out, watch).await,
        Cmd::Demo { size_mib } => demo::run(size_mib).await,
        Cmd::Jobs {
            all: true,
            json,
            search,
            journal,
        } => jobs::history(journal, json, search.as_deref()),
        Cmd::Jobs { journal, .. } => jobs::list(journal, false),
        Cmd::Abort { job, journal } => jobs::abort(journal, &job),
        Cmd::Resume {
            job,
            journal,
            token_stdin,
            out,
        } => jobs::resume(journal, job, token_stdin, out).await,
        Cmd::Login {
            portal: Some(kind),
            base_url,
            appresult,
            ..
        } if kind != PortalKind::Loculus => {
            portals::login(kind, base_url.as_deref(), appresult.as_deref()).await
        }
        Cmd::Login {
            backend,
            keycloak,
            user,
            device,
            ..
        } => {
            let backend = backend.ok_or_else(|| {
                Fail(
                    exit::INPUT,
                    "ferry login needs --backend URL (or FERRY_BACKEND)".into(),
                )
            })?;
            let keycloak = keycloak.unwrap_or_else(|| backend.clone());
            match user {
                Some(user) if !device => login::login(&backend, &keycloak, &user).await,
                _ => login::login_device(&backend, &keycloak).await,
            }
        }
        Cmd::Logout {
            portal: Some(kind),
            base_url,
            ..
        } if kind != PortalKind::Loculus => portals::logout(kind, base_url.as_deref()),
        Cmd::Logout { backend, .. } => match backend {
            Some(b) => login::logout(&b),
            None => Err(Fail(
                exit::INPUT,
                "ferry logout needs --backend URL (or FERRY_BACKEND)".into(),
            )),
        },
    }
}

/// The token given on standard input or in FERRY_TOKEN, if any (never a
/// flag: the process list shows flags to every user of the machine).
pub(crate) fn explicit_token(from_stdin: bool) -> Result<Option<Arc<dyn TokenSource>>, Fail> {
    let token = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| {
            Fail(
                exit::INPUT,
                format!("cannot read the token from standard input: {e}"),
            )
        })?;
        Some(line)
    } else {
        std::env::var("FERRY_TOKEN").ok()
    };
    Ok(token
        .filter(|t| !t.trim().is_empty())
        .map(|t| Arc::new(StaticToken::new(t)) as Arc<dyn TokenSource>))
}

/// A given token, else the session `ferry login` kept for `backend`.
pub(crate) fn token_source(
    given: Option<Arc<dyn TokenSource>>,
    backend: &str,
    keycloak: Option<&str>,
) -> Result<Arc<dyn TokenSource>, Fail> {
    let given = match given {
        Some(g) => Some(g),
        None => login::remembered(backend, keycloak.unwrap_or(backend))?,
    };
    given.ok_or_else(|| {
            Fail(
                exit::AUTH,
                format!("no token: set FERRY_TOKEN, pipe it in with --token-stdin, or sign in once with `ferry login --backend {backend} --user NAME`"),
            )
        })
}

pub(crate) struct Session {
    engine: Engine,
    portal: Arc<Loculus>,
    renderer: Option<Arc<progress::Renderer>>,
    journal: Arc<Journal>,
    backend: String,
    group: i64,
}

fn session(conn: &Conn, out: &Output) -> Result<Session, Fail> {
    let given = match &conn.token {
        Some(t) => Some(Arc::new(StaticToken::new(t.clone())) as Arc<dyn TokenSource>),
        None => explicit_token(conn.token_stdin)?,
    };
    let tokens = token_source(given, &conn.backend, conn.keycloak.as_deref())?;
    open_session(
        &conn.backend,
        conn.group,
        conn.parts_in_flight as usize,
        conn.journal.clone(),
        tokens,
        out,
    )
}

fn open_session(
    backend: &str,
    group: i64,
    parts_in_flight: usize,
    journal: Option<PathBuf>,
    tokens: Arc<dyn TokenSource>,
    out: &Output,
) -> Result<Session, Fail> {
    let (engine, renderer) = engine_for(parts_in_flight, out, |s| s)?;
    let portal = Arc::new(Loculus::new(engine.http().clone(), backend, group, tokens)?);
    let journal = Arc::new(Journal::open(
        &journal.unwrap_or_else(Journal::default_path),
    )?);
    Ok(Session {
        engine,
        portal,
        renderer,
        journal,
        backend: backend.to_string(),
        group,
    })
}

/// An engine whose events go to progress bars or JSON lines (through
/// `wrap`, for a portal that adds notes of its own).
pub(crate) fn engine_for(
    parts_in_flight: usize,
    out: &Output,
    wrap: impl FnOnce(ferry_engine::EventSink) -> ferry_engine::EventSink,
) -> Result<(Engine, Option<Arc<progress::Renderer>>), Fail> {
    let (sink, renderer) = if out.json {
        (progress::json_sink(), None)
    } else {
        let r = progress::Renderer::new(out.quiet || !std::io::stderr().is_terminal());
        (r.sink(), Some(r))
    };
    let cfg = EngineConfig {
        parts_in_flight,
        network: network::policy(),
        file_hash: !out.no_file_hash,
        ..EngineConfig::default()
    };
    Ok((Engine::new(cfg, wrap(sink))?, renderer))
}

/// Send a job's files, journaled; the first failure decides the exit code
/// and the message says how to resume.
async fn send(
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
    let total = files.len() + already.len();
    let mut slots: Vec<Option<Uploaded>> = (0..total).map(|_| None).collect();
    for (i, u) in already {
        slots[i] = Some(u);
    }
    // The rest are sent in order.
    let order: Vec<usize> = (0..total).filter(|i| slots[*i].is_none()).collect();
    let outcomes: Vec<FileOutcome> = engine
        .run(
            portal,
            files,
            Some({
                let rec = journal.recorder(job);
                Routed::wrap(order.iter().map(|&i| (rec.clone(), i)).collect())
            }),
        )
        .await;
    if let Some(r) = renderer {
        r.finish();
    }
    let mut first: Option<Error> = None;
    let mut failed = 0;
    for (o, i) in outcomes.into_iter().zip(order) {
        match o {
            Ok(u) => slots[i] = Some(u),
            Err(e) => {
                failed += 1;
                first.get_or_insert(e);
            }
        }
    }
    match first {
        None => Ok(slots.into_iter().flatten().collect()),
        Some(e) => Err(Fail(
            exit::code(e.class()),
            format!(
                "{failed} of {total} files failed; first: {e}\n  what was sent is kept: continue with `ferry resume {job}` (see `ferry jobs`)"
            ),
        )),
    }
}

/// Prints each accepted file as `id<TAB>SHA-256<TAB>path` (nothing with
/// `--json`: the `file_done` events said it already).
fn print_uploaded(done: &[Uploaded], json: bool) {
    if !json {
        for u in done {
            println!("{}\t{}\t{}", u.remote_id, u.sha256, u.path.display());
        }
    }
}

/// Where a Loculus job of this session goes, as journaled for `ferry
/// resume` (never the token), with what follows the upload.
fn loculus_params(s: &Session, conn: &Conn, then: Option<Then>) -> JobParams {
    JobParams::new(Destination::loculus(&s.backend, s.group))
        .with_parts_in_flight(conn.parts_in_flight)
        .with_then(then)
}

/// Scan `paths`, record a new job of `kind` in the journal (with what
/// `ferry resume` needs, never the token) and send its files.
async fn new_job(
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

async fn upload(
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

async fn submit(conn: Conn, out: Output, a: SubmitSettings) -> Result<(), Fail> {
    let s = session(&conn, &out)?;
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
    let (job, done) = new_job(&s, &conn, JobKind::Submit, then, &paths).await?;
    finish_submit(&s, &job, &a, &done, out.json).await
}

/// Where this session's submits go: the job's journal and engine.
fn submit_to<'a>(s: &'a Session, jobs: &'a [String], a: &SubmitSettings) -> SubmitTo<'a> {
    SubmitTo {
        portal: &s.portal,
        engine: &s.engine,
        journal: Some(&s.journal),
        jobs,
        legacy_file_mapping: a.legacy_file_mapping,
    }
}

/// The attach step of a submit job, after every file is uploaded.
async fn finish_submit(
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
    present_submission(s, job, result, json).map(|_| ())
}

/// Says what became of a submit: the notes, the accessions (printed
/// whenever the portal took the submission, files attached or not), and
/// the failure with its exit code. A rejection keeps the job (and its
/// uploaded fileIds) for `ferry resume`.
fn present_submission(
    s: &Session,
    job: &str,
    result: Result<Submitted, SubmitFailure>,
    json: bool,
) -> Result<Submitted, Fail> {
    if let Some(r) = s.renderer.as_deref() {
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

    /// The settings file's `wait_for_network` is the flag's default; the
    /// flag given wins.
    #[test]
    fn the_settings_wait_for_network_is_the_default() {
        use clap::{CommandFactory, FromArgMatches};
        use std::time::Duration;
        let wait = |s: &ferry_engine::settings::Settings, args: &[&str]| {
            let cmd = super::config::with_defaults(super::Cli::command(), s);
            let m = cmd
                .try_get_matches_from(["ferry", "resume"].iter().chain(args))
                .unwrap();
            super::Cli::from_arg_matches(&m).unwrap().wait_for_network
        };
        let none = ferry_engine::settings::Settings::default();
        assert_eq!(wait(&none, &[]), Duration::from_secs(24 * 3600));
        let zero = ferry_engine::settings::Settings {
            wait_for_network: Some("0".into()),
            ..Default::default()
        };
        assert_eq!(wait(&zero, &[]), Duration::ZERO);
        assert_eq!(
            wait(&zero, &["--wait-for-network", "90m"]),
            Duration::from_secs(90 * 60)
        );
    }
}
