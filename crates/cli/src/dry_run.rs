//! `ferry upload --dry-run`: the files (a folder: every file in it, as the
//! window takes a dropped folder) checked by the portal's rules and cut
//! into parts as the upload would; nothing is sent and no sign-in is
//! needed.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use ferry_engine::basespace::{self, BaseSpace};
use ferry_engine::loculus::Loculus;
use ferry_engine::onecodex::{self, OneCodex};
use ferry_engine::scan::{NameRules, scan};
use ferry_engine::{Engine, EngineConfig, Error, EventSink, Portal, Secret, StaticToken};

use crate::portals::PortalArgs;
use crate::{Fail, exit};
use ferry_engine::PortalKind;

/// The files to send: folders become their files (recursively, sorted,
/// dot-files skipped); a link inside a folder is refused, as in the
/// window, since it can lead outside the folder.
pub fn files_of(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Fail> {
    let (mut files, mut links) = (Vec::new(), Vec::new());
    for p in paths {
        ferry_engine::walk::expand(p, &mut files, &mut links);
    }
    if links.is_empty() {
        return Ok(files);
    }
    let list: Vec<String> = links
        .iter()
        .map(|l| format!("  - {}", ferry_engine::walk::link_refused(l)))
        .collect();
    Err(Fail(
        exit::INPUT,
        format!(
            "{} link{} found before sending anything:\n{}",
            links.len(),
            if links.len() == 1 { "" } else { "s" },
            list.join("\n")
        ),
    ))
}

/// The portal an upload would go to, built without credentials: a dry
/// run makes no request.
fn portal(
    kind: PortalKind,
    backend: Option<&str>,
    group: Option<i64>,
    other: &PortalArgs,
) -> Result<Arc<dyn Portal>, Fail> {
    let http = ferry_engine::transfer::http_client()?;
    Ok(match kind {
        PortalKind::Loculus => {
            let (Some(backend), Some(group)) = (backend, group) else {
                return Err(Fail(
                    exit::INPUT,
                    "Loculus uploads need --backend URL (or FERRY_BACKEND) and --group ID".into(),
                ));
            };
            Arc::new(Loculus::new(
                http,
                backend,
                group,
                Arc::new(StaticToken::new("")),
            )?)
        }
        PortalKind::Onecodex => Arc::new(OneCodex::new(
            http,
            other.base_url.as_deref().unwrap_or(onecodex::DEFAULT_BASE),
            Secret::new(""),
            vec![],
        )?),
        PortalKind::Basespace => Arc::new(BaseSpace::new(
            http,
            other.base_url.as_deref().unwrap_or(basespace::DEFAULT_BASE),
            other.appresult.as_deref().unwrap_or("0"),
            Arc::new(StaticToken::new("")),
        )?),
    })
}

/// Prints one line per file (path, size, parts, part size; JSON lines
/// with `json`) and a summary on standard error; every file that cannot
/// go is reported at once, as the upload would before sending.
pub fn run(
    kind: PortalKind,
    backend: Option<&str>,
    group: Option<i64>,
    other: &PortalArgs,
    json: bool,
    paths: &[PathBuf],
) -> Result<(), Fail> {
    let portal = portal(kind, backend, group, other)?;
    let files = files_of(paths)?;
    let items = scan(&files, portal.as_ref() as &dyn NameRules).map_err(Error::Input)?;
    let engine = Engine::new(EngineConfig::default(), EventSink::none())?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let (mut bytes, mut parts, mut most) = (0u64, 0u64, None::<(u32, u64)>);
    let mut refused = Vec::new();
    for it in &items {
        let plan = match engine.plan(portal.as_ref(), it.size) {
            Ok(p) => p,
            Err(e) => {
                refused.push(format!("  - {}: {e}", it.path.display()));
                continue;
            }
        };
        bytes += it.size;
        parts += plan.parts as u64;
        if most.is_none_or(|(n, _)| plan.parts > n) {
            most = Some((plan.parts, plan.part_size));
        }
        // Written straight to the buffered output: no string per line.
        let written = if json {
            serde_json::to_writer(
                &mut out,
                &serde_json::json!({
                    "event": "planned", "path": it.path, "name": it.name, "size": it.size,
                    "multipart": plan.multipart, "parts": plan.parts, "part_size": plan.part_size,
                }),
            )
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
        } else {
            writeln!(
                out,
                "{}\t{}\t{}\t{}",
                it.path.display(),
                it.size,
                plan.parts,
                plan.part_size
            )
        };
        written.map_err(|e| Fail(exit::INTERNAL, e.to_string()))?;
    }
    out.flush()
        .map_err(|e| Fail(exit::INTERNAL, e.to_string()))?;
    if !refused.is_empty() {
        return Err(Fail(
            exit::INPUT,
            format!(
                "{} of {} files cannot go to {}:\n{}",
                refused.len(),
                items.len(),
                portal.name(),
                refused.join("\n")
            ),
        ));
    }
    let (n, size) = most.unwrap_or((0, 0));
    eprintln!(
        "dry run: {} files, {} bytes, {parts} parts (at most {n} for one file, of {size} bytes) to {}; nothing was sent",
        items.len(),
        bytes,
        portal.name()
    );
    Ok(())
}
