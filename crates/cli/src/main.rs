//! `ferry`: the upload engine on the command line. This file holds the
//! flags and hands each subcommand to its module: `upload` (Loculus),
//! `portals` (One Codex, BaseSpace), `submit` and `folder`, `watch`,
//! `jobs` (list, resume, abort), `login`, `demo`; `session` opens a
//! Loculus session for them.

mod config;
mod demo;
mod dry_run;
mod exit;
mod folder;
mod interrupt;
mod jobs;
mod login;
mod network;
mod portals;
mod progress;
mod session;
mod submit;
mod upload;
mod watch;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use ferry_engine::job::SubmitSettings;
use ferry_engine::{Error, PortalKind};

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
    #[arg(long, default_value_t = ferry_engine::DEFAULT_PARTS_IN_FLIGHT as u16, value_parser = clap::value_parser!(u16).range(1..=256))]
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
    #[arg(long, default_value_t = ferry_engine::DEFAULT_PARTS_IN_FLIGHT as u16, value_parser = clap::value_parser!(u16).range(1..=256))]
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

/// Runs the command: one arm per subcommand, each handing its flags to
/// the module that does it.
async fn run(cli: Cli) -> Result<(), Fail> {
    match cli.cmd {
        Cmd::Upload {
            portal,
            conn,
            other,
            out,
            receipt,
            dry_run,
            files,
        } => upload_cmd(portal, conn, other, out, receipt, dry_run, files).await,
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
            let a = SubmitSettings {
                organism,
                metadata,
                sequences,
                files,
                restricted_until,
                legacy_file_mapping,
                folder: None,
            };
            submit::submit(conn, out, a).await
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
            portal,
            base_url,
            appresult,
            backend,
            keycloak,
            user,
            device,
        } => {
            login_cmd(
                portal,
                base_url.as_deref(),
                appresult.as_deref(),
                backend,
                keycloak,
                user,
                device,
            )
            .await
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

/// `ferry upload`: checked only (--dry-run), to Loculus, or to One Codex
/// or BaseSpace.
async fn upload_cmd(
    portal: PortalKind,
    conn: UploadConn,
    other: portals::PortalArgs,
    out: Output,
    receipt: Option<PathBuf>,
    dry_run: bool,
    files: Vec<PathBuf>,
) -> Result<(), Fail> {
    if dry_run {
        return dry_run::run(
            portal,
            conn.backend.as_deref(),
            conn.group,
            &other,
            out.json,
            &files,
        );
    }
    if portal != PortalKind::Loculus {
        return portals::upload(
            portal,
            other,
            conn.token_stdin,
            conn.journal,
            conn.parts_in_flight,
            out,
            files,
            receipt,
        )
        .await;
    }
    if other.base_url.is_some() || other.appresult.is_some() || !other.pairs.is_empty() {
        return Err(Fail(
            exit::INPUT,
            "--base-url, --appresult and --pair are for --portal onecodex or basespace; Loculus takes --backend and --group".into(),
        ));
    }
    upload::upload(conn.loculus()?, out, files, receipt).await
}

/// `ferry login`: keep a One Codex key or BaseSpace token, or sign in to
/// Loculus with a password or in a browser.
async fn login_cmd(
    portal: Option<PortalKind>,
    base_url: Option<&str>,
    appresult: Option<&str>,
    backend: Option<String>,
    keycloak: Option<String>,
    user: Option<String>,
    device: bool,
) -> Result<(), Fail> {
    if let Some(kind) = portal.filter(|k| *k != PortalKind::Loculus) {
        return portals::login(kind, base_url, appresult).await;
    }
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

#[cfg(test)]
mod tests {
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
