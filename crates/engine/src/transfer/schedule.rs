//! The scheduler: a pass over a job's files plans them, groups single
//! files into the portal's start requests, asks for their links when the
//! first part can start, and starts their parts under one budget of
//! permits shared by every job of the engine.

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
use crate::portal::{Portal, Upload};
use crate::read::hash_ranges;
use crate::scan::Item;
use crate::{Error, ErrorClass};

/// What a pass ends with for each file (by event index): its outcome, and
/// the item and cancel token a second pass needs.
pub(super) type PassOutcomes = HashMap<usize, (FileOutcome, Item, CancellationToken)>;

/// An upload and the parts its storage already holds (part -> ETag).
type Begun = (Upload, BTreeMap<u32, String>);

/// A pass's files once planned.
struct Planned {
    /// The files that can be sent, in order.
    ctxs: Vec<Arc<FileCtx>>,
    /// What an earlier run got done, per file of `ctxs`.
    priors: Vec<Option<Prior>>,
    /// Files refused so far.
    outcomes: HashMap<usize, FileOutcome>,
    /// Every file's item and cancel token, refused or not.
    kept: HashMap<usize, (Item, CancellationToken)>,
}

impl Engine {
    /// One pass over `files` (event index, file): plan them, start them,
    /// wait for every file to finish.
    pub(super) async fn upload_pass(
        &self,
        portal: Arc<dyn Portal>,
        files: Vec<(usize, JobFile)>,
        log: Option<Arc<dyn JobLog>>,
    ) -> PassOutcomes {
        let mut planned = self.plan_pass(portal.as_ref(), files, &log);
        let finishing = self.start_pass(&portal, &mut planned, &log).await;
        for (index, h) in finishing {
            let r = h.await.unwrap_or_else(|e| {
                Err(Error::Protocol {
                    host: "ferry".into(),
                    detail: format!("upload task failed: {e}"),
                })
            });
            planned.outcomes.insert(index, r);
        }
        let Planned {
            mut outcomes, kept, ..
        } = planned;
        kept.into_iter()
            .map(|(i, (item, cancel))| {
                let r = outcomes.remove(&i).unwrap_or(Err(Error::Cancelled));
                (i, (r, item, cancel))
            })
            .collect()
    }

    /// Plans each file against the portal's limits; a file no plan fits is
    /// refused now, before anything is sent.
    fn plan_pass(
        &self,
        portal: &dyn Portal,
        files: Vec<(usize, JobFile)>,
        log: &Option<Arc<dyn JobLog>>,
    ) -> Planned {
        let inner = &self.inner;
        let mut p = Planned {
            ctxs: Vec::with_capacity(files.len()),
            priors: Vec::with_capacity(files.len()),
            outcomes: HashMap::new(),
            kept: HashMap::new(),
        };
        for (index, f) in files {
            let JobFile {
                item,
                cancel,
                prior,
            } = f;
            let cancel = cancel.unwrap_or_else(|| self.file_token());
            p.kept.insert(index, (item.clone(), cancel.clone()));
            match self.plan(portal, item.size) {
                Ok(plan) => {
                    inner.events.emit(Event::FileQueued {
                        file: index,
                        path: item.path.clone(),
                        name: item.name.clone(),
                        size: item.size,
                        parts: plan.parts,
                        part_size: plan.part_size,
                    });
                    p.ctxs.push(Arc::new(FileCtx {
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
                    p.priors.push(prior);
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
                    p.outcomes.insert(index, Err(e));
                }
            }
        }
        p
    }

    /// Starts the planned files, one start group at a time (see
    /// [`group_end`]); returns each started file's finishing task.
    async fn start_pass(
        &self,
        portal: &Arc<dyn Portal>,
        p: &mut Planned,
        log: &Option<Arc<dyn JobLog>>,
    ) -> Vec<(usize, JoinHandle<FileOutcome>)> {
        let inner = &self.inner;
        let mut finishing = Vec::new();
        // A failure that fails every later file too (credentials,
        // permissions, a cancelled job).
        let mut stops_all: Option<Error> = None;
        let mut i = 0;
        while i < p.ctxs.len() {
            let from = i;
            let mut to = group_end(portal.as_ref(), &p.ctxs, &p.priors, from);
            i = to;
            if let Some(e) = &stops_all {
                for c in &p.ctxs[from..to] {
                    self.refuse(c, e.clone(), &mut p.outcomes);
                }
                continue;
            }
            // Ask for URLs only when the first part can start: presigned
            // URLs expire (Loculus: 30 minutes).
            let mut permit = match acquire(&inner.permits, &p.ctxs[from].cancel).await {
                Some(permit) => Some(permit),
                None if inner.cancel.is_cancelled() => {
                    stops_all = Some(Error::Cancelled);
                    i = from;
                    continue;
                }
                // The first file of the group was cancelled alone: retry
                // the group without it.
                None => {
                    self.refuse(&p.ctxs[from], Error::Cancelled, &mut p.outcomes);
                    i = from + 1;
                    continue;
                }
            };
            // Fitted now, at the freshest throughput: the links are asked
            // for next. A file no plan gets through in time is not sent.
            if to - from == 1 && p.ctxs[from].plan.multipart && p.priors[from].is_none() {
                let mut fitted = self.fit_to_links(portal.as_ref(), &p.ctxs[from], None);
                // Too big at the assumed rate: measure the uplink, then
                // plan again with what it really carries.
                if fitted.is_err() && self.may_probe(portal.as_ref()) {
                    self.probe_uplink(portal.as_ref(), &p.ctxs[from]).await;
                    // Cancelled while measuring: the file stops as
                    // cancelled, not as refused for its links.
                    if p.ctxs[from].cancel.is_cancelled() {
                        self.refuse(&p.ctxs[from], Error::Cancelled, &mut p.outcomes);
                        continue;
                    }
                    fitted = self.fit_to_links(portal.as_ref(), &p.ctxs[from], None);
                }
                match fitted {
                    Ok(Some(c)) => p.ctxs[from] = c,
                    Ok(None) => {}
                    Err(e) => {
                        self.refuse(&p.ctxs[from], e, &mut p.outcomes);
                        continue;
                    }
                }
            }
            let begun = self
                .begin_group(portal.as_ref(), p, from, &mut to, log)
                .await;
            // The links live too short for the whole group: the rest goes
            // in the next one.
            i = to;
            let uploads = match begun {
                Ok(u) => u,
                Err(e) => {
                    for c in &p.ctxs[from..to] {
                        self.refuse(c, e.clone().about_file(&c.item.path, None), &mut p.outcomes);
                    }
                    if matches!(e.class(), ErrorClass::Auth | ErrorClass::Cancelled) {
                        stops_all = Some(e);
                    }
                    continue;
                }
            };
            for (ctx, (upload, done)) in p.ctxs[from..to].iter().zip(uploads) {
                let task = self
                    .start_file(portal, ctx, upload, done, &mut permit)
                    .await;
                finishing.push((ctx.index, task));
            }
        }
        finishing
    }

    /// The uploads of `p.ctxs[from..*to]`: an earlier run's, or new ones
    /// (journaled before any byte goes to them). `*to` shrinks when the
    /// links live too short for every file of the group.
    async fn begin_group(
        &self,
        portal: &dyn Portal,
        p: &mut Planned,
        from: usize,
        to: &mut usize,
        log: &Option<Arc<dyn JobLog>>,
    ) -> Result<Vec<Begun>, Error> {
        if let Some(prior) = p.priors[from].take() {
            return Ok(vec![(prior.upload, prior.done)]);
        }
        let ups = self.begin_in_time(portal, &mut p.ctxs, from, to).await?;
        for (c, u) in p.ctxs[from..*to].iter().zip(&ups) {
            if let Some(l) = log {
                l.file_started(c.index, u)?;
            }
        }
        Ok(ups.into_iter().map(|u| (u, BTreeMap::new())).collect())
    }

    /// Starts a file's parts not stored yet, each as a permit comes (the
    /// first takes `permit`, the group's), and the task that finishes it.
    async fn start_file(
        &self,
        portal: &Arc<dyn Portal>,
        ctx: &Arc<FileCtx>,
        upload: Upload,
        done: BTreeMap<u32, String>,
        permit: &mut Option<OwnedSemaphorePermit>,
    ) -> JoinHandle<FileOutcome> {
        let inner = &self.inner;
        let hashing = self.resume_stored(ctx, &upload, &done);
        self.warn_if_too_slow(ctx, &upload, done.len());
        let upload = Arc::new(upload);
        let mut parts = Vec::with_capacity(ctx.plan.parts as usize);
        self.track(ctx, &done);
        for part in (1..=ctx.plan.parts).filter(|p| !done.contains_key(p)) {
            let p = match permit.take() {
                Some(p) => p,
                None => match acquire_for(&inner.permits, ctx.extra.as_ref(), &ctx.cancel).await {
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
        tokio::spawn(finish_file(
            self.inner.clone(),
            portal.clone(),
            ctx.clone(),
            upload,
            done,
            parts,
            hashing,
        ))
    }

    /// Says the file started and which parts the storage already holds;
    /// those are read for the file's hash only, side by side with the
    /// parts being sent (the task doing so, if any).
    fn resume_stored(
        &self,
        ctx: &Arc<FileCtx>,
        upload: &Upload,
        done: &BTreeMap<u32, String>,
    ) -> Option<JoinHandle<Result<(), Error>>> {
        let inner = &self.inner;
        inner.events.emit(Event::FileStarted {
            file: ctx.index,
            remote_id: upload.remote_id.clone(),
        });
        for (part, etag) in done {
            let (start, end) = ctx.plan.range(*part);
            ctx.sent.fetch_add(end - start, Ordering::Relaxed);
            inner.events.emit(Event::PartDone {
                file: ctx.index,
                part: *part,
                etag: etag.clone(),
            });
        }
        (!done.is_empty() && inner.cfg.file_hash).then(|| {
            let ranges: Vec<(u64, u64)> = done.keys().map(|p| ctx.plan.range(*p)).collect();
            let (c, chunk) = (ctx.clone(), inner.cfg.chunk_size);
            tokio::spawn(async move { hash_ranges(&c.item.path, &ranges, chunk, &c.hasher).await })
        })
    }

    /// A file that fails before it starts: reported, and its outcome.
    fn refuse(&self, c: &FileCtx, e: Error, outcomes: &mut HashMap<usize, FileOutcome>) {
        self.report_failure(c.index, &c.item, &e);
        outcomes.insert(c.index, Err(e));
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

/// Where the start group that begins at `from` ends: single-part files
/// that no earlier run started go together, as many as the portal starts
/// in one request; any other file goes alone.
fn group_end(
    portal: &dyn Portal,
    ctxs: &[Arc<FileCtx>],
    priors: &[Option<Prior>],
    from: usize,
) -> usize {
    let first = &ctxs[from];
    let max = portal.files_per_begin(&first.plan).max(1);
    let mut to = from + 1;
    while to < ctxs.len()
        && to - from < max
        && !first.plan.multipart
        && !ctxs[to].plan.multipart
        && priors[from].is_none()
        && priors[to].is_none()
    {
        to += 1;
    }
    to
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
