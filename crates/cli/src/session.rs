//! A Loculus session on the command line: the token (standard input,
//! FERRY_TOKEN, or the sign-in `ferry login` kept), the engine whose
//! events go to progress bars or JSON lines, the portal and the journal.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;

use ferry_engine::journal::Journal;
use ferry_engine::loculus::Loculus;
use ferry_engine::{Engine, EngineConfig, StaticToken, TokenSource};

use crate::{Conn, Fail, Output, exit, login, network, progress};

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

/// A signed-in Loculus session: its engine (with the progress renderer,
/// when bars are drawn), portal and journal.
pub(crate) struct Session {
    pub engine: Engine,
    pub portal: Arc<Loculus>,
    pub renderer: Option<Arc<progress::Renderer>>,
    pub journal: Arc<Journal>,
    pub backend: String,
    pub group: i64,
}

/// The session of `conn`: its token, else the one `ferry login` kept.
pub(crate) fn session(conn: &Conn, out: &Output) -> Result<Session, Fail> {
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

/// A session on `backend` for `group` with these tokens.
pub(crate) fn open_session(
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
    let engine = Engine::new(cfg, wrap(sink))?;
    crate::interrupt::stops(&engine);
    Ok((engine, renderer))
}
