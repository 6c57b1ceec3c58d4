//! `ferry upload --portal onecodex|basespace`: the same engine, progress
//! and journal as Loculus uploads, with each portal's credentials.

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;

use ferry_engine::basespace::{self, BaseSpace};
use ferry_engine::journal::Journal;
use ferry_engine::onecodex::{self, OneCodex, Pair};
use ferry_engine::scan::{Item, scan};
use ferry_engine::{
    Destination, Engine, Error, JobFile, JobKind, JobParams, JobState, Portal, PortalKind, Secret,
    StaticToken, Uploaded,
};
use ferry_front::{Credential, open_portal};

use ferry_keychain::SavedSignIn;

use crate::{Fail, Output, exit};

/// `--portal`: the engine's portal kinds, by their journal names.
pub fn portal_arg() -> impl clap::builder::TypedValueParser<Value = PortalKind> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(PortalKind::ALL.map(PortalKind::name))
        .map(|s| PortalKind::parse(&s).unwrap_or_default())
}

/// Flags of `ferry upload` for One Codex and BaseSpace.
#[derive(clap::Args, Debug, Default)]
pub struct PortalArgs {
    /// One Codex / BaseSpace API base URL (default: the public service,
    /// https://app.onecodex.com/api/v1 or https://api.basespace.illumina.com/v1pre3).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// One Codex: read the API key from the first line of standard input
    /// (else FERRY_ONECODEX_API_KEY).
    #[arg(long)]
    pub api_key_stdin: bool,
    /// One Codex: a paired-end sample, R1 and R2 as given on the command
    /// line. Without it, files are paired by name (_R1/_R2, _1/_2).
    #[arg(long = "pair", value_name = "R1,R2")]
    pub pairs: Vec<String>,
    /// One Codex: send every file as its own sample.
    #[arg(long)]
    pub no_pairing: bool,
    /// BaseSpace: the AppResult the files go into (token from
    /// FERRY_BASESPACE_TOKEN or --token-stdin).
    #[arg(long, value_name = "ID")]
    pub appresult: Option<String>,
}

fn read_stdin_line(what: &str) -> Result<String, Fail> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        Fail(
            exit::INPUT,
            format!("cannot read the {what} from standard input: {e}"),
        )
    })?;
    Ok(line.trim().to_string())
}

/// The keychain account of a portal at `base` (the desktop app's naming).
fn account(kind: PortalKind, base: Option<&str>) -> String {
    match kind {
        PortalKind::Onecodex => {
            ferry_keychain::onecodex_account(base.unwrap_or(onecodex::DEFAULT_BASE))
        }
        _ => ferry_keychain::basespace_account(base.unwrap_or(basespace::DEFAULT_BASE)),
    }
}

/// The key (and BaseSpace AppResult) kept in the OS keychain by `ferry
/// login --portal ...` or the desktop app; none when there is no keychain.
fn kept(account: &str) -> Option<(String, Option<String>)> {
    match SavedSignIn::load(account)? {
        SavedSignIn::Key { key, target } => Some((key.to_string(), target)),
        _ => None,
    }
}

/// A credential from standard input, the environment or the OS keychain;
/// never a flag (the process list shows flags to every user).
fn credential(
    stdin: bool,
    env: &str,
    account: &str,
    what: &str,
    hint: &str,
) -> Result<Secret, Fail> {
    let mut v = if stdin {
        read_stdin_line(what)?
    } else {
        std::env::var(env).unwrap_or_default().trim().to_string()
    };
    if v.is_empty() && !stdin {
        v = kept(account).map(|(k, _)| k).unwrap_or_default();
    }
    if v.is_empty() {
        return Err(Fail(exit::AUTH, format!("no {what}: {hint}")));
    }
    Ok(Secret::new(v))
}

/// `ferry login --portal onecodex|basespace`: the key or token from the
/// first line of standard input, checked with the portal (as the app
/// does), then kept in the OS keychain where the desktop app keeps it.
pub async fn login(
    kind: PortalKind,
    base: Option<&str>,
    appresult: Option<&str>,
) -> Result<(), Fail> {
    let what = match kind {
        PortalKind::Onecodex => "One Codex API key",
        PortalKind::Basespace => "BaseSpace access token",
        PortalKind::Loculus => {
            return Err(Fail(exit::INTERNAL, "Loculus signs in with --user".into()));
        }
    };
    if kind == PortalKind::Onecodex && appresult.is_some() {
        return Err(Fail(
            exit::INPUT,
            "--appresult is for --portal basespace".into(),
        ));
    }
    let key = read_stdin_line(what)?;
    if key.is_empty() {
        return Err(Fail(
            exit::INPUT,
            format!(
                "no {what} on standard input: pipe it in, e.g. `ferry login --portal {} < key.txt`",
                kind.name()
            ),
        ));
    }
    check_login(kind, base, &key, appresult).await?;
    let account = account(kind, base);
    let stored = SavedSignIn::Key {
        key: ferry_keychain::SecretText::new(key),
        target: appresult.map(str::to_string),
    };
    ferry_keychain::Entry::new(&account)
        .and_then(|e| e.set(&stored.to_json()))
        .map_err(|e| Fail(exit::AUTH, format!("the {what} was not kept: {e}")))?;
    eprintln!(
        "the {what} for {} is kept in the OS keychain; uploads there need no key now",
        account.split_once(':').map_or(account.as_str(), |(_, b)| b)
    );
    Ok(())
}

/// Whether the portal takes `key`, before it is kept: a refused key fails
/// here, not at the first upload.
async fn check_login(
    kind: PortalKind,
    base: Option<&str>,
    key: &str,
    appresult: Option<&str>,
) -> Result<(), Fail> {
    let http = ferry_engine::transfer::http_client()?;
    match kind {
        PortalKind::Onecodex => {
            let base = base.unwrap_or(onecodex::DEFAULT_BASE);
            onecodex::check_key(&http, base, key).await?;
        }
        _ => {
            let base = base.unwrap_or(basespace::DEFAULT_BASE);
            match appresult {
                Some(app) => basespace::check_token(&http, base, key, app).await?,
                // No AppResult to check against: an id that is none of
                // the user's still shows whether the token is taken (401
                // only when it is not).
                None => match basespace::check_token(&http, base, key, "0").await {
                    Ok(())
                    | Err(Error::Rejected { status: 404, .. })
                    | Err(Error::Auth { status: 403, .. }) => {}
                    Err(e) => return Err(e.into()),
                },
            }
        }
    }
    Ok(())
}

/// `ferry logout --portal onecodex|basespace`: forget the kept key.
pub fn logout(kind: PortalKind, base: Option<&str>) -> Result<(), Fail> {
    let account = account(kind, base);
    let base = account.split_once(':').map_or(account.as_str(), |(_, b)| b);
    let deleted = ferry_keychain::Entry::new(&account)
        .and_then(|e| e.delete())
        .map_err(|e| Fail(exit::AUTH, e.to_string()))?;
    if deleted {
        eprintln!("signed out of {base}: the keychain entry is deleted");
    } else {
        eprintln!("no key kept for {base}");
    }
    Ok(())
}

/// Where a `ferry upload --portal onecodex|basespace` job goes (never a
/// credential: it is journaled so `ferry resume` can reach the portal).
pub fn destination(kind: PortalKind, args: &PortalArgs, pairs: &[Pair]) -> Destination {
    Destination {
        kind,
        base: args.base_url.clone(),
        appresult: args.appresult.clone(),
        pairs: pairs.to_vec(),
        ..Destination::default()
    }
}

/// The One Codex or BaseSpace portal of a job's destination, with
/// credentials from stdin/env/the keychain.
pub fn portal_for(
    engine: &Engine,
    to: &Destination,
    token_stdin: bool,
) -> Result<Arc<dyn Portal>, Fail> {
    let base = to.base.as_deref();
    let mut to = to.clone();
    let credential = match to.kind {
        PortalKind::Onecodex => credential(
            token_stdin,
            "FERRY_ONECODEX_API_KEY",
            &account(PortalKind::Onecodex, base),
            "One Codex API key",
            "set FERRY_ONECODEX_API_KEY, pipe it in with --api-key-stdin, or keep it with `ferry login --portal onecodex`",
        )?,
        PortalKind::Basespace => {
            let account = account(PortalKind::Basespace, base);
            let token = credential(
                token_stdin,
                "FERRY_BASESPACE_TOKEN",
                &account,
                "BaseSpace access token",
                "set FERRY_BASESPACE_TOKEN, pipe it in with --token-stdin, or keep it with `ferry login --portal basespace`",
            )?;
            // Else the AppResult kept with the token (`ferry login --appresult`).
            if to.appresult.is_none() {
                to.appresult = kept(&account).and_then(|(_, t)| t);
            }
            if to.appresult.is_none() {
                return Err(Fail(
                    exit::INPUT,
                    "BaseSpace needs --appresult ID (the AppResult the files go into)".into(),
                ));
            }
            token
        }
        PortalKind::Loculus => {
            return Err(Fail(
                exit::INTERNAL,
                format!("unknown portal {:?} in the job", to.kind.name()),
            ));
        }
    };
    let opened = open_portal(engine.http().clone(), &to, Credential::Key(credential))
        .map_err(|e| Fail(exit::INPUT, e.to_string()))?;
    Ok(opened.portal())
}

/// Pairs among the items: explicit `--pair R1,R2`, else by name.
fn pairs(args: &PortalArgs, items: &[Item]) -> Result<Vec<Pair>, Fail> {
    let find = |p: &str| {
        let want = PathBuf::from(p);
        items
            .iter()
            .find(|i| i.path == want || i.name == p)
            .ok_or_else(|| {
                Fail(
                    exit::INPUT,
                    format!("--pair: {p} is not among the files to upload; give it as a file too"),
                )
            })
    };
    if !args.pairs.is_empty() {
        return args
            .pairs
            .iter()
            .map(|s| {
                let (a, b) = s.split_once(',').ok_or_else(|| {
                    Fail(
                        exit::INPUT,
                        format!(
                            "--pair {s}: expected R1,R2, e.g. --pair s_R1.fastq.gz,s_R2.fastq.gz"
                        ),
                    )
                })?;
                let (r1, r2) = (find(a)?, find(b)?);
                Ok(Pair {
                    r1: r1.name.clone(),
                    r1_size: r1.size,
                    r2: r2.name.clone(),
                })
            })
            .collect();
    }
    if args.no_pairing {
        return Ok(vec![]);
    }
    let files: Vec<(String, u64)> = items.iter().map(|i| (i.name.clone(), i.size)).collect();
    Ok(onecodex::pairs_of(&files))
}

/// `ferry upload --portal onecodex|basespace`.
#[allow(clippy::too_many_arguments)]
pub async fn upload(
    kind: PortalKind,
    mut args: PortalArgs,
    token_stdin: bool,
    journal: Option<PathBuf>,
    parts_in_flight: u16,
    out: Output,
    files: Vec<PathBuf>,
    receipt: Option<PathBuf>,
) -> Result<(), Fail> {
    let stdin = match kind {
        PortalKind::Onecodex => args.api_key_stdin,
        _ => token_stdin,
    };
    // Names first: they need no credentials and no request.
    let names_only: Arc<dyn ferry_engine::scan::NameRules> = match kind {
        PortalKind::Onecodex => Arc::new(OneCodex::new(
            ferry_engine::transfer::http_client()?,
            onecodex::DEFAULT_BASE,
            Secret::new(""),
            vec![],
        )?),
        _ => Arc::new(BaseSpace::new(
            ferry_engine::transfer::http_client()?,
            basespace::DEFAULT_BASE,
            "0",
            Arc::new(StaticToken::new("")),
        )?),
    };
    let files = crate::dry_run::files_of(&files)?;
    let items = scan(&files, names_only.as_ref()).map_err(Error::Input)?;
    let pairs = if kind == PortalKind::Onecodex {
        pairs(&args, &items)?
    } else {
        vec![]
    };
    if kind == PortalKind::Onecodex && args.pairs.is_empty() && !args.no_pairing {
        // Said before anything is sent: a missing mate is usually a copy
        // that is not finished or a file left out by mistake.
        let names: Vec<String> = items.iter().map(|i| i.name.clone()).collect();
        for (i, why) in names_only.lone_mates(&names) {
            eprintln!("warning: {}: {why}", items[i].path.display());
        }
    }
    if kind == PortalKind::Basespace && args.appresult.is_none() {
        // The job records where its files go, so resume needs no keychain
        // look-up for it.
        args.appresult = kept(&account(kind, args.base_url.as_deref())).and_then(|(_, t)| t);
    }
    let params =
        JobParams::new(destination(kind, &args, &pairs)).with_parts_in_flight(parts_in_flight);
    let names: Vec<String> = items.iter().map(|i| i.name.clone()).collect();
    let (engine, renderer) = crate::session::engine_for(parts_in_flight as usize, &out, |sink| {
        if kind == PortalKind::Onecodex {
            ferry_front::messages::restart_notes(sink, names.clone())
        } else {
            sink
        }
    })?;
    let portal = portal_for(&engine, &params.destination, stdin)?;
    // A file that cannot fit the portal's limits fails before any request.
    let mut too_big = Vec::new();
    for it in &items {
        if let Err(e) = engine.plan(portal.as_ref(), it.size) {
            too_big.push(format!(
                "  - {}: {}; split or compress the file",
                it.path.display(),
                match e {
                    Error::Rejected { detail, .. } => detail,
                    e => e.to_string(),
                }
            ));
        }
    }
    if !too_big.is_empty() {
        return Err(Fail(
            exit::INPUT,
            format!(
                "{} file(s) too large for {}:\n{}",
                too_big.len(),
                portal.name(),
                too_big.join("\n")
            ),
        ));
    }
    let journal = Arc::new(Journal::open(
        &journal.unwrap_or_else(Journal::default_path),
    )?);
    let job = journal.create_job(&JobKind::Upload, &params, &items)?;
    let files: Vec<JobFile> = items.into_iter().map(JobFile::from).collect();
    let done: Vec<Uploaded> = crate::upload::send_with(
        &engine,
        portal,
        renderer.as_deref(),
        &journal,
        &job,
        files,
        vec![],
    )
    .await?;
    journal.set_job_state(&job, JobState::Done)?;
    crate::upload::print_uploaded(&done, out.json);
    crate::jobs::write_receipt(&journal, &job, receipt.as_deref())
}
