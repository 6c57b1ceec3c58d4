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
    Engine, Error, Event, EventSink, JobFile, Portal, Secret, StaticToken, TokenSource, Uploaded,
};

use ferry_keychain::Stored;

use crate::{Fail, Output, exit};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PortalKind {
    Loculus,
    Onecodex,
    Basespace,
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
    match Stored::load(account)? {
        Stored::Key { key, target } => Some((key.to_string(), target)),
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
                portal_name(kind)
            ),
        ));
    }
    check_login(kind, base, &key, appresult).await?;
    let account = account(kind, base);
    let stored = Stored::Key {
        key: ferry_keychain::Kept::new(key),
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

fn portal_name(kind: PortalKind) -> &'static str {
    match kind {
        PortalKind::Onecodex => "onecodex",
        PortalKind::Basespace => "basespace",
        PortalKind::Loculus => "loculus",
    }
}

/// What a job records (never a credential) so `ferry resume` can rebuild
/// the portal.
pub fn params(
    kind: PortalKind,
    args: &PortalArgs,
    pairs: &[Pair],
    parts: u16,
) -> serde_json::Value {
    serde_json::json!({
        "portal": portal_name(kind),
        "base_url": args.base_url,
        "appresult": args.appresult,
        "pairs": pairs.iter().map(|p| serde_json::json!([p.r1, p.r1_size, p.r2])).collect::<Vec<_>>(),
        "parts_in_flight": parts,
    })
}

/// The portal of a job's `params`, with credentials from stdin/env.
pub fn portal_from_params(
    engine: &Engine,
    p: &serde_json::Value,
    token_stdin: bool,
) -> Result<Arc<dyn Portal>, Fail> {
    let base = p["base_url"].as_str();
    match p["portal"].as_str() {
        Some("onecodex") => {
            let key = credential(
                token_stdin,
                "FERRY_ONECODEX_API_KEY",
                &account(PortalKind::Onecodex, base),
                "One Codex API key",
                "set FERRY_ONECODEX_API_KEY, pipe it in with --api-key-stdin, or keep it with `ferry login --portal onecodex`",
            )?;
            let pairs = p["pairs"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| {
                            Some(Pair {
                                r1: x[0].as_str()?.to_string(),
                                r1_size: x[1].as_u64()?,
                                r2: x[2].as_str()?.to_string(),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            Ok(Arc::new(OneCodex::new(
                engine.http().clone(),
                base.unwrap_or(onecodex::DEFAULT_BASE),
                key,
                pairs,
            )?))
        }
        Some("basespace") => {
            let account = account(PortalKind::Basespace, base);
            let token = credential(
                token_stdin,
                "FERRY_BASESPACE_TOKEN",
                &account,
                "BaseSpace access token",
                "set FERRY_BASESPACE_TOKEN, pipe it in with --token-stdin, or keep it with `ferry login --portal basespace`",
            )?;
            // Else the AppResult kept with the token (`ferry login --appresult`).
            let kept_target = || kept(&account).and_then(|(_, t)| t);
            let appresult = p["appresult"]
                .as_str()
                .map(str::to_string)
                .or_else(kept_target)
                .ok_or_else(|| {
                    Fail(
                        exit::INPUT,
                        "BaseSpace needs --appresult ID (the AppResult the files go into)".into(),
                    )
                })?;
            let appresult = appresult.as_str();
            let tokens: Arc<dyn TokenSource> = Arc::new(StaticToken::new(token.expose()));
            Ok(Arc::new(BaseSpace::new(
                engine.http().clone(),
                base.unwrap_or(basespace::DEFAULT_BASE),
                appresult,
                tokens,
            )?))
        }
        other => Err(Fail(
            exit::INTERNAL,
            format!("unknown portal {other:?} in the job"),
        )),
    }
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

/// One Codex sends a file in one request: a retried request starts the
/// file over, and the user is told so (also as a `file_restarted` event).
pub fn restart_notes(inner: EventSink, names: Vec<String>) -> EventSink {
    EventSink::new(move |e| {
        if let Event::Retry {
            file,
            part: Some(_),
            ..
        } = &e
        {
            let name = names.get(*file).cloned().unwrap_or_default();
            let note = Event::FileRestarted {
                file: *file,
                reason: format!(
                    "{name}: One Codex cannot continue an interrupted upload; the file is sent again from the start"
                ),
            };
            inner.emit(e);
            inner.emit(note);
        } else {
            inner.emit(e);
        }
    })
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
    let params = params(kind, &args, &pairs, parts_in_flight);
    let names: Vec<String> = items.iter().map(|i| i.name.clone()).collect();
    let (engine, renderer) = crate::engine_for(parts_in_flight as usize, &out, |sink| {
        if kind == PortalKind::Onecodex {
            restart_notes(sink, names.clone())
        } else {
            sink
        }
    })?;
    let portal = portal_from_params(&engine, &params, stdin)?;
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
    let job = journal.create_job("upload", &params, &items)?;
    let files: Vec<JobFile> = items.into_iter().map(JobFile::from).collect();
    let done: Vec<Uploaded> = crate::send_with(
        &engine,
        portal,
        renderer.as_deref(),
        &journal,
        &job,
        files,
        vec![],
    )
    .await?;
    journal.set_job_state(&job, "done")?;
    crate::print_uploaded(&done, out.json);
    crate::jobs::write_receipt(&journal, &job, receipt.as_deref())
}

/// A One Codex pair is one sample: when only one file of a pair got
/// through before the interruption, both go again under a new sample, as
/// the desktop queue decides it ([`ferry_engine::queue::mates_again`]).
/// The job's pairs are the `pairs` parameter `upload` journaled.
pub fn resend_whole_pairs(
    rec: &ferry_engine::journal::JobRecord,
    steps: &mut [ferry_engine::resume::Step],
) {
    use ferry_engine::queue::{mates_again, sent_again_with_mate};
    use ferry_engine::resume::Step;
    let index = |name: &str| rec.files.iter().position(|f| f.name == name);
    let pairs: Vec<(usize, usize)> = rec.params["pairs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| Some((index(x[0].as_str()?)?, index(x[2].as_str()?)?)))
                .collect()
        })
        .unwrap_or_default();
    let done = |i: usize| matches!(steps[i], Step::Done(_));
    // Everything not done is sent on resume.
    let again = mates_again(&pairs, done, |i| !done(i));
    for lone in again {
        let f = &rec.files[lone];
        let mtime = std::fs::metadata(&f.path).and_then(|m| m.modified()).ok();
        steps[lone] = sent_again_with_mate(Item {
            path: f.path.clone(),
            name: f.name.clone(),
            size: f.size,
            mtime,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_engine::journal::{FileEntry, JobRecord, JobSummary};
    use ferry_engine::resume::Step;

    #[test]
    fn a_retried_one_codex_post_is_reported_as_a_restart() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = seen.clone();
        let sink = restart_notes(
            EventSink::new(move |e| s.lock().unwrap().push(e)),
            vec!["a_R1.fq".into()],
        );
        sink.emit(Event::Retry {
            file: 0,
            part: Some(1),
            attempt: 1,
            delay_ms: 10,
            reason: "reset".into(),
        });
        sink.emit(Event::Retry {
            file: 0,
            part: None,
            attempt: 1,
            delay_ms: 10,
            reason: "init failed".into(),
        });
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(matches!(&seen[1], Event::FileRestarted { reason, .. }
            if reason.contains("a_R1.fq") && reason.contains("from the start")));
    }

    #[test]
    fn a_half_sent_pair_goes_again_whole() {
        let dir = tempfile::tempdir().unwrap();
        let entry = |name: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, b"ACGT").unwrap();
            FileEntry {
                idx: 0,
                path,
                name: name.into(),
                size: 4,
                mtime_ns: None,
                state: "done".into(),
                upload: None,
                sha256: None,
                error: None,
                parts: Default::default(),
                done_at: None,
            }
        };
        let rec = JobRecord {
            summary: JobSummary {
                id: "j".into(),
                created_at: 0,
                kind: "upload".into(),
                state: "running".into(),
                files: 3,
                files_done: 2,
                bytes: 12,
                bytes_done: 8,
            },
            params: serde_json::json!({"portal": "onecodex", "pairs": [["s_R1.fq", 4, "s_R2.fq"]]}),
            files: vec![entry("s_R1.fq"), entry("s_R2.fq"), entry("solo.fq")],
        };
        let done = |f: &FileEntry| {
            Step::Done(Uploaded {
                path: f.path.clone(),
                name: f.name.clone(),
                size: 4,
                remote_id: "x".into(),
                sha256: "y".into(),
            })
        };
        let mut steps = vec![
            done(&rec.files[0]),
            Step::Send {
                file: JobFile::from(Item {
                    path: rec.files[1].path.clone(),
                    name: "s_R2.fq".into(),
                    size: 4,
                    mtime: None,
                }),
                restart: None,
                parts_done: 0,
            },
            done(&rec.files[2]),
        ];
        resend_whole_pairs(&rec, &mut steps);
        assert!(
            matches!(&steps[0], Step::Send { file, restart: Some(why), .. }
            if file.item.name == "s_R1.fq" && why.contains("sent again from the start"))
        );
        assert!(matches!(steps[1], Step::Send { .. }));
        assert!(
            matches!(steps[2], Step::Done(_)),
            "a lone sample stays done"
        );
    }
}
