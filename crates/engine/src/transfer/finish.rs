//! Finishing a file: its parts' outcomes gathered, its hash completed,
//! the upload completed at the portal once the file is known unchanged.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::{FileCtx, FileOutcome, Inner, Uploaded};
use crate::Error;
use crate::event::Event;
use crate::portal::{Portal, Upload};
use crate::read::hash_ranges;
use crate::retry::retry_cancellable;
use crate::scan::Item;

pub(super) async fn finish_file(
    inner: Arc<Inner>,
    portal: Arc<dyn Portal>,
    ctx: Arc<FileCtx>,
    upload: Arc<Upload>,
    done: BTreeMap<u32, String>,
    parts: PartTasks,
    hashing: Option<HashTask>,
) -> FileOutcome {
    let r = finish_inner(&inner, portal.as_ref(), &ctx, &upload, done, parts, hashing)
        .await
        .map_err(|e| e.about_file(&ctx.item.path, None));
    let r = match (r, &ctx.log) {
        (Ok(u), Some(l)) => l.file_done(ctx.index, &u).map(|()| u),
        (r, _) => r,
    };
    if let (Err(e), Some(l)) = (&r, &ctx.log) {
        l.file_failed(ctx.index, e);
    }
    match &r {
        Ok(u) => inner.events.emit(Event::FileDone {
            file: ctx.index,
            name: u.name.clone(),
            remote_id: u.remote_id.clone(),
            size: u.size,
            sha256: u.sha256.clone(),
        }),
        Err(e) => inner.events.emit(Event::FileFailed {
            file: ctx.index,
            name: ctx.item.name.clone(),
            path: ctx.item.path.clone(),
            error: e.to_string(),
            class: e.class(),
        }),
    }
    r
}

/// Parts in flight: each one's task, its outcome the ETag.
pub(super) type PartTasks = Vec<(u32, JoinHandle<Result<String, Error>>)>;

/// A spawned hashing task: `Err` when it could not finish.
pub(super) type HashTask = JoinHandle<Result<(), Error>>;

pub(super) async fn finish_inner(
    inner: &Inner,
    portal: &dyn Portal,
    ctx: &Arc<FileCtx>,
    upload: &Upload,
    mut done: BTreeMap<u32, String>,
    parts: PartTasks,
    hashing: Option<HashTask>,
) -> FileOutcome {
    if let Some(e) = gather_parts(inner, ctx, &mut done, parts, hashing)
        .await
        .or_else(|| (done.len() < ctx.plan.parts as usize).then_some(Error::Cancelled))
    {
        return Err(ctx.cause.lock().expect("cause").take().unwrap_or(e));
    }
    let etags: Vec<String> = done.into_values().collect();
    // Never complete a file that changed under us: its parts may mix two
    // versions.
    check_unchanged(&ctx.item)?;
    if portal.needs_complete(upload) {
        complete(inner, portal, ctx, upload, &etags).await?;
    }
    Ok(Uploaded {
        path: ctx.item.path.clone(),
        name: ctx.item.name.clone(),
        size: ctx.item.size,
        remote_id: upload.remote_id.clone(),
        sha256: file_sha256(inner, ctx)?,
    })
}

/// Waits for the hashing of stored parts and for every part sent, adding
/// their ETags to `done`, and reads again what the file's hasher had to
/// drop; the first failure, if any.
async fn gather_parts(
    inner: &Inner,
    ctx: &Arc<FileCtx>,
    done: &mut BTreeMap<u32, String>,
    parts: PartTasks,
    hashing: Option<HashTask>,
) -> Option<Error> {
    let mut failed = None;
    if let Some(h) = hashing {
        failed = joined(h.await, "hashing").err();
    }
    // Chunks the hasher had to drop (huge parts side by side) are read
    // once more from disk, alongside the parts still going up. A file of
    // one part feeds the hasher in order and never drops any.
    let catch_up = (ctx.plan.parts > 1 && inner.cfg.file_hash).then(|| {
        let (c, chunk) = (ctx.clone(), inner.cfg.chunk_size);
        tokio::spawn(async move {
            c.hasher.spill().await;
            let from = c.hasher.hashed();
            hash_ranges(&c.item.path, &[(from, c.item.size)], chunk, &c.hasher).await
        })
    });
    for (part, h) in parts {
        match h.await {
            Ok(Ok(etag)) => {
                done.insert(part, etag);
            }
            Ok(Err(e)) => {
                failed.get_or_insert(e);
            }
            Err(join) => {
                failed.get_or_insert(Error::Protocol {
                    host: "ferry".into(),
                    detail: format!("part task failed: {join}"),
                });
            }
        }
    }
    if let Some(catch_up) = catch_up {
        if failed.is_some() || !ctx.hasher.has_spilled() {
            catch_up.abort();
        } else if let Err(e) = joined(catch_up.await, "hashing") {
            failed = Some(e);
        }
    }
    failed
}

/// A hashing task's outcome, a task that died counted as its failure.
fn joined(r: Result<Result<(), Error>, tokio::task::JoinError>, what: &str) -> Result<(), Error> {
    match r {
        Ok(r) => r,
        Err(join) => Err(Error::Protocol {
            host: "ferry".into(),
            detail: format!("{what} task failed: {join}"),
        }),
    }
}

/// Completes the upload at the portal with its parts' ETags, in order.
async fn complete(
    inner: &Inner,
    portal: &dyn Portal,
    ctx: &Arc<FileCtx>,
    upload: &Upload,
    etags: &[String],
) -> Result<(), Error> {
    retry_cancellable(
        &inner.cfg.retry,
        &ctx.cancel,
        |attempt| {
            let maybe_done = attempt > 1 || ctx.resumed;
            inner.net.online(None, &ctx.cancel, move || {
                portal.complete(upload, etags, maybe_done)
            })
        },
        |attempt, delay, e| {
            inner.events.emit(Event::Retry {
                file: ctx.index,
                part: None,
                attempt,
                delay_ms: delay.as_millis() as u64,
                reason: e.to_string(),
            })
        },
    )
    .await
}

/// The SHA-256 of the whole file (empty when file hashes are off).
fn file_sha256(inner: &Inner, ctx: &FileCtx) -> Result<String, Error> {
    if !inner.cfg.file_hash {
        return Ok(String::new());
    }
    ctx.hasher
        .finish(ctx.item.size)
        .ok_or_else(|| Error::Protocol {
            host: "ferry".into(),
            detail: format!(
                "{}: only {} of {} bytes were hashed",
                ctx.item.path.display(),
                ctx.hasher.hashed(),
                ctx.item.size
            ),
        })
}

pub(super) fn check_unchanged(item: &Item) -> Result<(), Error> {
    let meta = std::fs::metadata(&item.path).map_err(|e| Error::io(&item.path, e))?;
    if meta.len() != item.size {
        return Err(Error::FileChanged {
            path: item.path.clone(),
            what: format!("its size went from {} to {} bytes", item.size, meta.len()),
        });
    }
    if item.mtime.is_some() && meta.modified().ok() != item.mtime {
        return Err(Error::FileChanged {
            path: item.path.clone(),
            what: "it was modified".into(),
        });
    }
    Ok(())
}
