//! The scheduler: files are planned, grouped into the portal's start
//! requests, given their links, and their parts started under one budget
//! of permits shared by every job of the engine.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::finish::finish_file;
use super::part::send_part;
use super::{Engine, FileCtx, FileOutcome, JobFile, JobLog, Prior};
use crate::event::Event;
use crate::hasher::OrderedHasher;
use crate::portal::Portal;
use crate::read::hash_ranges;
use crate::scan::Item;
use crate::{Error, ErrorClass};

impl Engine {
    /// One pass over `files` (event index, file); outcomes by index, with
    /// the item and its cancel token for a second pass.
    pub(super) async fn round(
        &self,
        portal: Arc<dyn Portal>,
        files: Vec<(usize, JobFile)>,
        log: Option<Arc<dyn JobLog>>,
    ) -> HashMap<usize, (FileOutcome, Item, CancellationToken)> {
        let inner = &self.inner;
        let items = files.len();
        let mut outcomes: HashMap<usize, FileOutcome> = HashMap::new();
        let mut kept: HashMap<usize, (Item, CancellationToken)> = HashMap::new();
        let mut ctxs = Vec::with_capacity(items);
        let mut priors: Vec<Option<Prior>> = Vec::with_capacity(items);
        for (index, f) in files {
            let JobFile {
                item,
                cancel,
                prior,
            } = f;
            let cancel = cancel.unwrap_or_else(|| self.file_token());
            kept.insert(index, (item.clone(), cancel.clone()));
            match self.plan(portal.as_ref(), item.size) {
                Ok(plan) => {
                    inner.events.emit(Event::FileQueued {
                        file: index,
                        path: item.path.clone(),
                        name: item.name.clone(),
                        size: item.size,
                        parts: plan.parts,
                        part_size: plan.part_size,
                    });
                    ctxs.push(Arc::new(FileCtx {
                        index,
                        item,
                        plan,
                        hasher: Arc::new(OrderedHasher::new()),
                        sent: AtomicU64::new(0),
                        cancel: cancel.child_token(),
                        cause: Mutex::new(None),
                        log: log.clone(),
                        resumed: prior.is_some(),
                        warned: Default::default(),
                        in_flight: inner.cfg.parts_in_flight.max(1) as u32,
                        extra: None,
                        started: AtomicU64::new(0),
                        running: Default::default(),
                    }));
                    priors.push(prior);
                }
                Err(e) => {
                    let e = Error::Rejected {
                        host: portal.name().into(),
                        status: 0,
                        detail: format!(
                            "{}: {}; split or compress the file",
                            item.path.display(),
                            e
                        ),
                    };
                    self.report_failure(index, &item, &e);
                    outcomes.insert(index, Err(e));
                }
            }
        }

        let sem = &inner.permits;
        let mut finishing: Vec<(usize, JoinHandle<FileOutcome>)> = Vec::new();
        let mut fatal: Option<Error> = None;
        let mut i = 0;
        while i < ctxs.len() {
            let first = &ctxs[i];
            let max = portal.batch_size(&first.plan).max(1);
            let mut j = i + 1;
            while j < ctxs.len()
                && j - i < max
                && !first.plan.multipart
                && !ctxs[j].plan.multipart
                && priors[i].is_none()
                && priors[j].is_none()
            {
                j += 1;
            }
            let batch_start = i;
            let batch = &ctxs[i..j];
            i = j;

            if let Some(e) = &fatal {
                for c in batch {
                    let e = duplicate(e);
                    self.report_failure(c.index, &c.item, &e);
                    outcomes.insert(c.index, Err(e));
                }
                continue;
            }
            // Ask for URLs only when the first part can start: presigned
            // URLs expire (Loculus: 30 minutes).
            let mut permit = match acquire(sem, &batch[0].cancel).await {
                Some(p) => Some(p),
                None if inner.cancel.is_cancelled() => {
                    fatal = Some(Error::Cancelled);
                    i -= batch.len();
                    continue;
                }
                // The first file of the batch was cancelled alone: retry
                // the batch without it.
                None => {
                    let c = &batch[0];
                    self.report_failure(c.index, &c.item, &Error::Cancelled);
                    outcomes.insert(c.index, Err(Error::Cancelled));
                    i -= batch.len() - 1;
                    continue;
                }
            };
            // Fitted now, at the freshest throughput: the links are asked
            // for next. A file no plan gets through in time is not sent.
            if j - batch_start == 1
                && ctxs[batch_start].plan.multipart
                && priors[batch_start].is_none()
            {
                match self.fit_to_links(portal.as_ref(), &ctxs[batch_start], None) {
                    Ok(Some(c)) => ctxs[batch_start] = c,
                    Ok(None) => {}
                    Err(e) => {
                        let c = &ctxs[batch_start];
                        self.report_failure(c.index, &c.item, &e);
                        outcomes.insert(c.index, Err(e));
                        continue;
                    }
                }
            }
            let resumed = priors[batch_start].take();
            let begun = match resumed {
                Some(p) => Ok(vec![(p.upload, p.done)]),
                None => {
                    let mut to = j;
                    let r = self
                        .begin_in_time(portal.as_ref(), &mut ctxs, batch_start, &mut to)
                        .await;
                    if to < j {
                        // The links live too short for the whole batch: the
                        // rest goes in the next one.
                        i = to;
                        j = to;
                    }
                    let batch = &ctxs[batch_start..j];
                    r.and_then(|ups| {
                        // Journal each upload before any byte goes to it.
                        for (c, u) in batch.iter().zip(&ups) {
                            if let Some(l) = &log {
                                l.file_started(c.index, u)?;
                            }
                        }
                        Ok(ups.into_iter().map(|u| (u, BTreeMap::new())).collect())
                    })
                }
            };
            let batch = &ctxs[batch_start..j];
            let uploads = match begun {
                Ok(u) => u,
                Err(e) => {
                    for c in batch {
                        let e = duplicate(&e).about_file(&c.item.path, None);
                        self.report_failure(c.index, &c.item, &e);
                        outcomes.insert(c.index, Err(e));
                    }
                    // Credentials and permissions fail every later file too.
                    if matches!(e.class(), ErrorClass::Auth | ErrorClass::Cancelled) {
                        fatal = Some(e);
                    }
                    continue;
                }
            };
            for (ctx, (upload, done)) in batch.iter().zip(uploads) {
                inner.events.emit(Event::FileStarted {
                    file: ctx.index,
                    remote_id: upload.remote_id.clone(),
                });
                for (part, etag) in &done {
                    let (start, end) = ctx.plan.range(*part);
                    ctx.sent.fetch_add(end - start, Ordering::Relaxed);
                    inner.events.emit(Event::PartDone {
                        file: ctx.index,
                        part: *part,
                        etag: etag.clone(),
                    });
                }
                // Parts the storage already holds are read for the file's
                // hash only, side by side with the parts being sent.
                let hashing = (!done.is_empty() && inner.cfg.file_hash).then(|| {
                    let ranges: Vec<(u64, u64)> = done.keys().map(|p| ctx.plan.range(*p)).collect();
                    let (c, chunk) = (ctx.clone(), inner.cfg.chunk_size);
                    tokio::spawn(async move {
                        hash_ranges(&c.item.path, &ranges, chunk, &c.hasher).await
                    })
                });
                self.warn_if_too_slow(ctx, &upload, done.len());
                let upload = Arc::new(upload);
                let mut parts = Vec::with_capacity(ctx.plan.parts as usize);
                self.track(ctx, &done);
                for part in (1..=ctx.plan.parts).filter(|p| !done.contains_key(p)) {
                    let p = match permit.take() {
                        Some(p) => p,
                        None => match acquire_for(sem, ctx.extra.as_ref(), &ctx.cancel).await {
                            Some(p) => p,
                            None => break, // the file failed or the job was cancelled
                        },
                    };
                    let (start, end) = ctx.plan.range(part);
                    ctx.started.fetch_add(end - start, Ordering::Relaxed);
                    ctx.running.fetch_add(1, Ordering::Relaxed);
                    let sending = send_part(
                        self.inner.clone(),
                        portal.clone(),
                        ctx.clone(),
                        upload.clone(),
                        part,
                        p,
                    );
                    let c = ctx.clone();
                    parts.push((
                        part,
                        tokio::spawn(async move {
                            let r = sending.await;
                            c.running.fetch_sub(1, Ordering::Relaxed);
                            r
                        }),
                    ));
                }
                finishing.push((
                    ctx.index,
                    tokio::spawn(finish_file(
                        self.inner.clone(),
                        portal.clone(),
                        ctx.clone(),
                        upload,
                        done,
                        parts,
                        hashing,
                    )),
                ));
            }
        }
        for (index, h) in finishing {
            let r = h.await.unwrap_or_else(|e| {
                Err(Error::Protocol {
                    host: "ferry".into(),
                    detail: format!("upload task failed: {e}"),
                })
            });
            outcomes.insert(index, r);
        }
        kept.into_iter()
            .map(|(i, (item, cancel))| {
                let r = outcomes.remove(&i).unwrap_or(Err(Error::Cancelled));
                (i, (r, item, cancel))
            })
            .collect()
    }

    /// Bytes still to go of the parts of other files in flight: they hold
    /// slots and share the link with a new file's parts.
    pub(super) fn ahead(&self) -> Vec<u64> {
        let mut running = self.inner.running.lock().expect("running");
        running.retain(|w| w.strong_count() > 0);
        let mut out = Vec::new();
        for c in running.iter().filter_map(|w| w.upgrade()) {
            let n = c.running.load(Ordering::Relaxed) as u64;
            if n == 0 {
                continue;
            }
            let left = c
                .started
                .load(Ordering::Relaxed)
                .saturating_sub(c.sent.load(Ordering::Relaxed));
            out.extend(std::iter::repeat_n(left / n, n as usize));
        }
        out
    }

    /// Counts a file's parts as running (for [`Engine::ahead`]).
    pub(super) fn track(&self, ctx: &Arc<FileCtx>, done: &BTreeMap<u32, String>) {
        let stored: u64 = done
            .keys()
            .map(|p| {
                let (s, e) = ctx.plan.range(*p);
                e - s
            })
            .sum();
        ctx.started.fetch_add(stored, Ordering::Relaxed);
        self.inner
            .running
            .lock()
            .expect("running")
            .push(Arc::downgrade(ctx));
    }
}

pub(super) async fn acquire(
    sem: &Arc<Semaphore>,
    cancel: &CancellationToken,
) -> Option<OwnedSemaphorePermit> {
    tokio::select! {
        p = sem.clone().acquire_owned() => p.ok(),
        _ = cancel.cancelled() => None,
    }
}

/// A permit from the engine's budget or, for a file given more parts in
/// flight to meet its links' deadline, from its own extra ones.
pub(super) async fn acquire_for(
    sem: &Arc<Semaphore>,
    extra: Option<&Arc<Semaphore>>,
    cancel: &CancellationToken,
) -> Option<OwnedSemaphorePermit> {
    let Some(extra) = extra else {
        return acquire(sem, cancel).await;
    };
    tokio::select! {
        p = sem.clone().acquire_owned() => p.ok(),
        p = extra.clone().acquire_owned() => p.ok(),
        _ = cancel.cancelled() => None,
    }
}

/// Errors are not `Clone` (they may hold an `io::Error`); one failure that
/// hits several files is rebuilt for each.
pub(super) fn duplicate(e: &Error) -> Error {
    match e {
        Error::Input(r) => Error::Input(r.clone()),
        Error::Io { path, source } => Error::Io {
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        Error::FileChanged { path, what } => Error::FileChanged {
            path: path.clone(),
            what: what.clone(),
        },
        Error::Auth {
            host,
            status,
            detail,
        } => Error::Auth {
            host: host.clone(),
            status: *status,
            detail: detail.clone(),
        },
        Error::Network { host, detail } => Error::Network {
            host: host.clone(),
            detail: detail.clone(),
        },
        Error::Unreachable { host, detail } => Error::Unreachable {
            host: host.clone(),
            detail: detail.clone(),
        },
        Error::Untrusted { host, detail } => Error::Untrusted {
            host: host.clone(),
            detail: detail.clone(),
        },
        Error::Server {
            host,
            status,
            detail,
            retry_after,
        } => Error::Server {
            host: host.clone(),
            status: *status,
            detail: detail.clone(),
            retry_after: *retry_after,
        },
        Error::Rejected {
            host,
            status,
            detail,
        } => Error::Rejected {
            host: host.clone(),
            status: *status,
            detail: detail.clone(),
        },
        Error::Protocol { host, detail } => Error::Protocol {
            host: host.clone(),
            detail: detail.clone(),
        },
        Error::Journal { path, detail } => Error::Journal {
            path: path.clone(),
            detail: detail.clone(),
        },
        Error::JournalTooNew { path, found, known } => Error::JournalTooNew {
            path: path.clone(),
            found: *found,
            known: *known,
        },
        Error::Expired { host, detail } => Error::Expired {
            host: host.clone(),
            detail: detail.clone(),
        },
        Error::Cancelled => Error::Cancelled,
    }
}
