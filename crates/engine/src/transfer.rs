//! transfer + complete: one scheduler, a bounded number of parts in flight
//! across all files (permits from one global budget, as in the AWS transfer
//! manager), each file finished once all its parts are acknowledged.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::deadline::{self, Fit, Link};
use crate::error::from_reqwest;
use crate::event::{Event, EventSink};
use crate::hasher::OrderedHasher;
use crate::plan::{MIB, Plan, PlanPrefs, plan};
use crate::portal::{FileSpec, PartResponse, Portal, Upload};
use crate::read::{ReadOutcome, hash_ranges, part_stream, read_part};
use crate::retry::{RetryPolicy, retry_cancellable};
use crate::scan::Item;
use crate::{Error, ErrorClass};

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Parts in flight across all files.
    pub parts_in_flight: usize,
    pub retry: RetryPolicy,
    /// A request whose body has not moved for this long is abandoned and
    /// retried.
    pub stall_timeout: Duration,
    /// Read size from disk; also the granularity of progress.
    pub chunk_size: usize,
    pub prefs: PlanPrefs,
    /// Minimum time between two progress events of one part.
    pub progress_interval: Duration,
    /// Bytes/s assumed before any throughput is measured, to plan files
    /// whose links expire (see [`deadline`]). 1 MB/s: the slowest uplink
    /// common in labs (real-world notes), so the first file of a run is as
    /// safe as later ones; a faster link only gets fewer, larger parts.
    pub assumed_rate: f64,
    /// How network outages are waited out (see `network`).
    pub network: crate::network::NetworkPolicy,
    /// The clocks a suspend is noticed by (a test's can "sleep").
    pub clock: crate::clock::Clock,
    /// A DNS resolver of the caller's for the HTTP client.
    pub resolver: Option<crate::network::Resolver>,
    /// Compute the SHA-256 of each whole file (on by default). Off, files
    /// are reported with an empty `sha256`; the MD5 of every part is still
    /// checked against the storage's ETag.
    pub file_hash: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            parts_in_flight: 8,
            retry: RetryPolicy::default(),
            stall_timeout: Duration::from_secs(60),
            // Chunks of 1 MiB: a quarter of the reads, hand-overs and
            // hashing calls of 256 KiB ones, and still fine-grained progress.
            chunk_size: 1024 * 1024,
            prefs: PlanPrefs::default(),
            progress_interval: Duration::from_millis(100),
            assumed_rate: 1e6,
            network: Default::default(),
            clock: Default::default(),
            resolver: None,
            file_hash: true,
        }
    }
}

/// A file the portal accepted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Uploaded {
    pub path: PathBuf,
    pub name: String,
    pub size: u64,
    pub remote_id: String,
    pub sha256: String,
}

pub type FileOutcome = Result<Uploaded, Error>;

/// What an earlier run of the same job got done for a file: its upload
/// and the parts the storage acknowledged.
#[derive(Debug, Clone)]
pub struct Prior {
    pub upload: Upload,
    pub done: BTreeMap<u32, String>,
}

/// One file of a job.
pub struct JobFile {
    pub item: Item,
    /// Cancels this file alone (from [`Engine::file_token`]).
    pub cancel: Option<CancellationToken>,
    /// Continue this upload instead of starting a new one.
    pub prior: Option<Prior>,
}

impl From<Item> for JobFile {
    fn from(item: Item) -> Self {
        JobFile {
            item,
            cancel: None,
            prior: None,
        }
    }
}

/// Where a job's progress is made durable (the journal). Each call returns
/// only once the change is stored; an error stops the file, since progress
/// that cannot be recorded could not be resumed.
pub trait JobLog: Send + Sync {
    fn file_started(&self, file: usize, upload: &Upload) -> Result<(), Error>;
    fn part_done(&self, file: usize, remote_id: &str, part: u32, etag: &str) -> Result<(), Error>;
    fn file_done(&self, file: usize, done: &Uploaded) -> Result<(), Error>;
    fn file_failed(&self, file: usize, error: &Error);
}

/// The upload engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    cfg: EngineConfig,
    events: EventSink,
    cancel: CancellationToken,
    /// One budget of parts in flight for every job of this engine.
    permits: Arc<Semaphore>,
    /// Bytes acknowledged since the first part started: the measured
    /// throughput that deadline warnings are based on.
    acked: AtomicU64,
    first_part: std::sync::OnceLock<Instant>,
    /// Seconds the portal's upload links live, as learnt from the last
    /// links issued (their expiry minus the time they were asked for).
    link_lifetime: Mutex<Option<u64>>,
    /// Files with parts in flight: what a new file's parts share the link
    /// with (the deadline model's `ahead`).
    running: Mutex<Vec<std::sync::Weak<FileCtx>>>,
    /// Waits out outages and notices suspends.
    net: Arc<crate::network::Network>,
}

impl Inner {
    /// Bytes per second acknowledged so far, once there is enough to judge.
    fn measured_rate(&self) -> Option<f64> {
        let t = self.first_part.get()?.elapsed().as_secs_f64();
        let b = self.acked.load(Ordering::Relaxed) as f64;
        (t >= 2.0 && b > 0.0).then(|| b / t)
    }
}

/// Per-file state shared by its part tasks.
struct FileCtx {
    index: usize,
    item: Item,
    plan: Plan,
    hasher: Arc<OrderedHasher>,
    sent: AtomicU64,
    cancel: CancellationToken,
    /// The first real failure, so the file reports it rather than the
    /// cancellations it caused in sibling parts.
    cause: Mutex<Option<Error>>,
    log: Option<Arc<dyn JobLog>>,
    /// Continues an upload of an earlier run.
    resumed: bool,
    /// Already warned that its links may expire before every part starts.
    warned: std::sync::atomic::AtomicBool,
    /// Parts in flight this file may have (more than the engine's budget
    /// when that is what makes its links last; see [`deadline::fit`]).
    in_flight: u32,
    /// Permits beyond the engine's budget, for this file alone.
    extra: Option<Arc<Semaphore>>,
    /// Bytes of the parts started (or already stored), and parts running.
    started: AtomicU64,
    running: std::sync::atomic::AtomicU32,
}

impl Engine {
    pub fn new(cfg: EngineConfig, events: EventSink) -> Result<Engine, Error> {
        let http = crate::network::client(cfg.resolver.as_ref())?;
        Ok(Engine {
            inner: Arc::new(Inner {
                net: crate::network::Network::new(
                    cfg.network,
                    cfg.clock.clone(),
                    cfg.resolver.clone(),
                    http.clone(),
                    events.clone(),
                ),
                http,
                permits: Arc::new(Semaphore::new(cfg.parts_in_flight.max(1))),
                acked: AtomicU64::new(0),
                first_part: std::sync::OnceLock::new(),
                link_lifetime: Mutex::new(None),
                running: Mutex::new(Vec::new()),
                events,
                cancel: CancellationToken::new(),
                cfg,
            }),
        })
    }

    /// The HTTP client portals should share (one connection pool).
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.cfg
    }

    /// Stops every running part; unfinished files fail with `Cancelled`.
    pub fn cancel(&self) {
        self.inner.cancel.cancel();
    }

    /// A token that cancels one file (pass it to [`Engine::upload_with`]);
    /// cancelling the engine cancels it too.
    pub fn file_token(&self) -> CancellationToken {
        self.inner.cancel.child_token()
    }

    /// Plan a file against a portal (used for up-front checks too).
    pub fn plan(&self, portal: &dyn Portal, size: u64) -> Result<Plan, Error> {
        plan(size, &portal.limits(), &self.inner.cfg.prefs).map_err(|e| Error::Rejected {
            host: portal.name().into(),
            status: 0,
            detail: e.to_string(),
        })
    }

    /// Upload every item; one outcome per item, in the same order.
    pub async fn upload(&self, portal: Arc<dyn Portal>, items: Vec<Item>) -> Vec<FileOutcome> {
        let tokens = items.iter().map(|_| self.file_token()).collect();
        self.upload_with(portal, items, tokens).await
    }

    /// Like [`Engine::upload`], with one cancellation token per item (from
    /// [`Engine::file_token`]) so a caller can stop single files. Jobs run
    /// side by side share the engine's parts-in-flight budget.
    pub async fn upload_with(
        &self,
        portal: Arc<dyn Portal>,
        items: Vec<Item>,
        cancels: Vec<CancellationToken>,
    ) -> Vec<FileOutcome> {
        let mut cancels = cancels.into_iter();
        let files = items
            .into_iter()
            .map(|item| JobFile {
                item,
                cancel: cancels.next(),
                prior: None,
            })
            .collect();
        self.run(portal, files, None).await
    }

    /// Run a job: start or continue each file, record progress in `log`
    /// before reporting it. One outcome per file, in order.
    pub async fn run(
        &self,
        portal: Arc<dyn Portal>,
        files: Vec<JobFile>,
        log: Option<Arc<dyn JobLog>>,
    ) -> Vec<FileOutcome> {
        let files: Vec<(usize, JobFile)> = files.into_iter().enumerate().collect();
        let order: Vec<usize> = (0..files.len()).collect();
        let mut outcomes = self.round(portal.clone(), files, log.clone()).await;
        // Files whose upload links died before all their parts started:
        // the portal cannot renew them, so each goes once more under a new
        // upload (and id).
        let again: Vec<(usize, JobFile)> = order
            .iter()
            .filter_map(|i| match outcomes.get(i) {
                Some((Err(Error::Expired { .. }), item, cancel)) if !cancel.is_cancelled() => {
                    Some((*i, item.clone(), cancel.clone()))
                }
                _ => None,
            })
            .map(|(i, item, cancel)| {
                self.inner.events.emit(Event::FileRestarted {
                    file: i,
                    reason: format!(
                        "{}: its upload links expired before every part had started; sending it again from the start under a new id",
                        item.path.display()
                    ),
                });
                (
                    i,
                    JobFile {
                        item,
                        cancel: Some(cancel),
                        prior: None,
                    },
                )
            })
            .collect();
        if !again.is_empty() {
            outcomes.extend(self.round(portal, again, log).await);
        }
        order
            .iter()
            .map(|i| {
                outcomes
                    .remove(i)
                    .map(|(r, _, _)| r)
                    .unwrap_or(Err(Error::Cancelled))
            })
            .collect()
    }

    /// One pass over `files` (event index, file); outcomes by index, with
    /// the item and its cancel token for a second pass.
    async fn round(
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

    fn learn_link_lifetime(&self, ups: &[Upload]) {
        if let Some(exp) = ups.iter().find_map(|u| u.expires_at) {
            let left = exp.saturating_sub(crate::clock::unix_now());
            *self.inner.link_lifetime.lock().expect("lifetime") = Some(left);
        }
    }

    /// The throughput to plan with, and how it was found.
    fn planning_rate(&self) -> (f64, &'static str) {
        match self.inner.measured_rate() {
            Some(r) => (r, "measured so far"),
            None => (self.inner.cfg.assumed_rate, "assumed until measured"),
        }
    }

    /// Bytes still to go of the parts of other files in flight: they hold
    /// slots and share the link with a new file's parts.
    fn ahead(&self) -> Vec<u64> {
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
    fn track(&self, ctx: &Arc<FileCtx>, done: &BTreeMap<u32, String>) {
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

    /// Seconds the links of `ups` have left, on this machine's clock.
    fn window_of(ups: &[Upload]) -> Option<f64> {
        let exp = ups.iter().filter_map(|u| u.expires_at).min()?;
        Some(exp.saturating_sub(crate::clock::unix_now()) as f64)
    }

    /// Ask for the links of `ctxs[from..*to]` and read how long they
    /// really live before a byte is sent. A multipart file whose plan no
    /// longer fits them is planned again for them and asks for new links
    /// (the unused upload is abandoned); a batch of single PUTs too long
    /// for them keeps only the files that start in time (`*to` shrinks).
    async fn begin_in_time(
        &self,
        portal: &dyn Portal,
        ctxs: &mut [Arc<FileCtx>],
        from: usize,
        to: &mut usize,
    ) -> Result<Vec<Upload>, Error> {
        let inner = &self.inner;
        let k = inner.cfg.parts_in_flight.max(1) as u32;
        // Singles: each file is one part; shorten the batch to what the
        // lifetime learnt so far lets start in time.
        if !ctxs[from].plan.multipart
            && let Some(window) = self.known_window(portal)
        {
            let n = self.singles_in_time(&ctxs[from..*to], window, k);
            *to = from + n;
        }
        for _ in 0..4 {
            let batch = &ctxs[from..*to];
            let specs: Vec<FileSpec> = batch
                .iter()
                .map(|c| FileSpec {
                    name: c.item.name.clone(),
                    plan: c.plan.clone(),
                })
                .collect();
            let mut ups = retry_cancellable(
                &inner.cfg.retry,
                &batch[0].cancel,
                |_| {
                    inner
                        .net
                        .online(None, &batch[0].cancel, || portal.begin(&specs))
                },
                |attempt, delay, e| {
                    inner.events.emit(Event::Retry {
                        file: batch[0].index,
                        part: None,
                        attempt,
                        delay_ms: delay.as_millis() as u64,
                        reason: e.to_string(),
                    })
                },
            )
            .await?;
            if ups.len() != batch.len() {
                return Err(Error::Protocol {
                    host: portal.name().into(),
                    detail: format!("asked to start {} uploads, got {}", batch.len(), ups.len()),
                });
            }
            self.learn_link_lifetime(&ups);
            let Some(window) = Self::window_of(&ups) else {
                return Ok(ups);
            };
            let c = &batch[0];
            if !c.plan.multipart {
                let n = self.singles_in_time(batch, window, k);
                ups.truncate(n);
                *to = from + n;
                return Ok(ups);
            }
            let (rate, _) = self.planning_rate();
            if deadline::fits(
                &c.plan,
                &self.ahead(),
                c.in_flight,
                &Link::shared(rate),
                window,
            ) {
                return Ok(ups);
            }
            // These links live shorter than planned for: a plan that fits
            // them, under new links.
            match self.fit_to_links(portal, c, Some(window))? {
                Some(n) => ctxs[from] = n,
                None => return Ok(ups),
            }
        }
        Err(Error::Protocol {
            host: portal.name().into(),
            detail: format!(
                "{}: every batch of upload links lived shorter than the one before; try again later",
                ctxs[from].item.path.display()
            ),
        })
    }

    /// The lifetime of the links the portal issued last (or says it issues).
    fn known_window(&self, portal: &dyn Portal) -> Option<f64> {
        let learnt = *self.inner.link_lifetime.lock().expect("lifetime");
        learnt
            .map(Duration::from_secs)
            .or_else(|| portal.link_lifetime())
            .map(|d| d.as_secs_f64())
    }

    /// How many of `batch` (single PUTs, sent in order, `k` at a time)
    /// start before links of `window` seconds expire; at least one.
    fn singles_in_time(&self, batch: &[Arc<FileCtx>], window: f64, k: u32) -> usize {
        let (rate, _) = self.planning_rate();
        let sizes: Vec<u64> = batch.iter().map(|c| c.item.size).collect();
        let starts = deadline::starts(&sizes, &self.ahead(), k, &Link::shared(rate));
        starts
            .iter()
            .take_while(|t| **t <= deadline::MARGIN * window)
            .count()
            .max(1)
    }

    /// Before a multipart file's links are asked for (and again when the
    /// links turn out to live shorter): if the deadline model says a part
    /// would start after its link expires, send it as fewer, larger parts
    /// (with more in flight if that is what it takes) that all start in
    /// time, and say so. `None` keeps the plan; an error when nothing
    /// within the storage's limits gets the file through in time.
    fn fit_to_links(
        &self,
        portal: &dyn Portal,
        ctx: &Arc<FileCtx>,
        window: Option<f64>,
    ) -> Result<Option<Arc<FileCtx>>, Error> {
        let Some(window) = window.or_else(|| self.known_window(portal)) else {
            return Ok(None);
        };
        let (rate, how) = self.planning_rate();
        let k = self.inner.cfg.parts_in_flight.max(1) as u32;
        let link = Link::shared(rate);
        match deadline::fit(&ctx.plan, &portal.limits(), &link, window, k, &self.ahead()) {
            Fit::Fits => Ok(None),
            Fit::Replanned { plan, in_flight } => {
                let more = if in_flight > k {
                    format!(" with {in_flight} parts in flight for it (not {k})")
                } else {
                    String::new()
                };
                self.inner.events.emit(Event::Warning {
                    file: ctx.index,
                    message: format!(
                        "{}: sent as {} of {} MiB (not {} of {} MiB){more} so that every part starts before its upload links expire, {} after they are issued, at the {:.1} MB/s {how}",
                        ctx.item.name,
                        count(plan.parts, "part"),
                        plan.part_size / MIB,
                        count(ctx.plan.parts, "part"),
                        ctx.plan.part_size / MIB,
                        span(window),
                        rate / 1e6,
                    ),
                });
                self.inner.events.emit(Event::FileQueued {
                    file: ctx.index,
                    path: ctx.item.path.clone(),
                    name: ctx.item.name.clone(),
                    size: ctx.item.size,
                    parts: plan.parts,
                    part_size: plan.part_size,
                });
                Ok(Some(Arc::new(FileCtx {
                    index: ctx.index,
                    item: ctx.item.clone(),
                    plan,
                    hasher: Arc::new(OrderedHasher::new()),
                    sent: AtomicU64::new(0),
                    cancel: ctx.cancel.clone(),
                    cause: Mutex::new(None),
                    log: ctx.log.clone(),
                    resumed: ctx.resumed,
                    warned: Default::default(),
                    in_flight,
                    extra: (in_flight > k)
                        .then(|| Arc::new(Semaphore::new((in_flight - k) as usize))),
                    started: AtomicU64::new(0),
                    running: Default::default(),
                })))
            }
            Fit::Impossible(r) => {
                let mut helps = Vec::new();
                if let Some(n) = r.in_flight {
                    helps.push(format!("{n} parts in flight (--parts-in-flight {n})"));
                }
                helps.push(format!("a link of at least {:.1} MB/s", r.rate / 1e6));
                Err(Error::Rejected {
                    host: portal.name().into(),
                    status: 0,
                    detail: format!(
                        "{}: {:.1} GB cannot reach {} before its upload links expire ({} after they are issued) at the {:.1} MB/s {how}, even as parts of the largest size with up to {} in flight; the largest file that can is {:.1} GB. Nothing was sent. It would fit with {}; or split the file.",
                        ctx.item.path.display(),
                        ctx.item.size as f64 / 1e9,
                        portal.name(),
                        span(window),
                        rate / 1e6,
                        deadline::MAX_IN_FLIGHT.max(k),
                        r.largest as f64 / 1e9,
                        helps.join(" or "),
                    ),
                })
            }
        }
    }

    /// Presigned URLs die at a deadline and a part must start before it:
    /// say so up front when, at the throughput measured so far, the last
    /// part of this file would start too late.
    fn warn_if_too_slow(&self, ctx: &FileCtx, upload: &Upload, parts_done: usize) {
        let (Some(expires), Some(rate)) = (upload.expires_at, self.inner.measured_rate()) else {
            return;
        };
        if ctx.warned.load(Ordering::Relaxed) {
            return;
        }
        let now = crate::clock::unix_now();
        let window = expires.saturating_sub(now) as f64;
        let left = (ctx.plan.parts as usize).saturating_sub(parts_done) as u64 * ctx.plan.part_size;
        // Parts that start at once need no waiting.
        let head_start = self.inner.cfg.parts_in_flight as u64 * ctx.plan.part_size;
        let needed = left.saturating_sub(head_start) as f64 / rate;
        if needed > window {
            self.inner.events.emit(Event::Warning {
                file: ctx.index,
                message: format!(
                    "{}: at the {:.1} MB/s measured so far its last part would start in {:.0} min, after its upload links expire (in {:.0} min); parts that start late fail and the file is then sent again under a new id. A faster link or fewer files at once avoids this.",
                    ctx.item.name,
                    rate / 1e6,
                    needed / 60.0,
                    window / 60.0
                ),
            });
        }
    }

    fn report_failure(&self, index: usize, item: &Item, e: &Error) {
        self.inner.events.emit(Event::FileFailed {
            file: index,
            name: item.name.clone(),
            path: item.path.clone(),
            error: e.to_string(),
            class: e.class(),
        });
    }
}

/// The shared HTTP client: connect timeout, no default credentials (the
/// bearer token is added per request, only on the portal's API host).
pub fn http_client() -> Result<reqwest::Client, Error> {
    http_client_with(None)
}

/// The engine's HTTP client with a DNS resolver of the caller's (see
/// `network::Resolver`): the same timeouts, proxy and trusted roots.
pub(crate) fn http_client_with(
    resolver: Option<&crate::network::Resolver>,
) -> Result<reqwest::Client, Error> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .tcp_keepalive(Duration::from_secs(30))
        .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
        .redirect(crate::guard::no_redirects());
    if let Some(r) = resolver {
        b = b.dns_resolver2(r.0.clone());
    }
    crate::net::apply(b).build().map_err(|e| Error::Protocol {
        host: "ferry".into(),
        detail: format!("cannot build the HTTP client: {e}"),
    })
}

async fn acquire(sem: &Arc<Semaphore>, cancel: &CancellationToken) -> Option<OwnedSemaphorePermit> {
    tokio::select! {
        p = sem.clone().acquire_owned() => p.ok(),
        _ = cancel.cancelled() => None,
    }
}

/// A permit from the engine's budget or, for a file given more parts in
/// flight to meet its links' deadline, from its own extra ones.
async fn acquire_for(
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
fn duplicate(e: &Error) -> Error {
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

async fn send_part(
    inner: Arc<Inner>,
    portal: Arc<dyn Portal>,
    ctx: Arc<FileCtx>,
    upload: Arc<Upload>,
    part: u32,
    _permit: OwnedSemaphorePermit,
) -> Result<String, Error> {
    // An outage is waited out inside one attempt (see `network`), probed
    // at the storage's origin.
    let probe = portal.part_request(&upload, part).ok().map(|r| r.url);
    let (i, p, c, u, probe) = (&inner, portal.as_ref(), &ctx, &upload, probe.as_deref());
    let r = retry_cancellable(
        &inner.cfg.retry,
        &ctx.cancel,
        move |attempt| {
            i.net.online(probe, &c.cancel, move || {
                send_once(i, p, c, u, part, attempt)
            })
        },
        |attempt, delay, e| {
            inner.events.emit(Event::Retry {
                file: ctx.index,
                part: Some(part),
                attempt,
                delay_ms: delay.as_millis() as u64,
                reason: e.to_string(),
            })
        },
    )
    .await
    .map_err(|e| e.about_file(&ctx.item.path, Some(part)))
    .and_then(|etag| match &ctx.log {
        Some(l) => l
            .part_done(ctx.index, &upload.remote_id, part, &etag)
            .map(|()| etag),
        None => Ok(etag),
    });
    match &r {
        Ok(etag) => {
            let (start, end) = ctx.plan.range(part);
            inner.acked.fetch_add(end - start, Ordering::Relaxed);
            inner.events.emit(Event::PartDone {
                file: ctx.index,
                part,
                etag: etag.clone(),
            })
        }
        Err(e) => {
            if !matches!(e, Error::Cancelled) {
                let mut cause = ctx.cause.lock().expect("cause");
                if cause.is_none() {
                    *cause = Some(duplicate(e));
                }
            }
            // One part failed for good: the file cannot complete, so stop
            // its siblings instead of sending bytes for nothing.
            ctx.cancel.cancel();
        }
    }
    r
}

async fn send_once(
    inner: &Inner,
    portal: &dyn Portal,
    ctx: &Arc<FileCtx>,
    upload: &Upload,
    part: u32,
    attempt: u32,
) -> Result<String, Error> {
    if ctx.cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let (start, end) = ctx.plan.range(part);
    let len = end - start;
    inner.first_part.get_or_init(Instant::now);
    inner.events.emit(Event::PartStarted {
        file: ctx.index,
        part,
        attempt,
        size: len,
    });
    let req = portal.part_request(upload, part)?;
    // A link that expired (during a sleep, say) is not tried: the file
    // needs new links, which `Engine::run` gets it.
    if let Some(exp) = upload.expires_at
        && crate::clock::unix_now() > exp
    {
        return Err(Error::Expired {
            host: crate::error::host_of(&req.url),
            detail: format!("the link of part {part} expired before it could start"),
        });
    }
    crate::guard::check_url(&req.url, "the upload link")?;
    let total = req.prefix.len() as u64 + len + req.suffix.len() as u64;
    let moved = Arc::new(AtomicU64::new(0));
    let outcome: crate::read::Shared = Arc::new(Mutex::new(ReadOutcome::default()));

    let mut builder = inner
        .net
        .client()
        .request(req.method.clone(), &req.url)
        .header(reqwest::header::CONTENT_LENGTH, total);
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let mut local_md5: Option<[u8; 16]> = None;
    let sha = inner.cfg.file_hash.then(|| ctx.hasher.clone());
    let mut part_md5 = None;
    let body = if req.content_md5 {
        let (bytes, md5) = read_part(&ctx.item.path, start, len, sha.as_deref()).await?;
        local_md5 = Some(md5);
        builder = builder.header(
            "Content-MD5",
            base64::engine::general_purpose::STANDARD.encode(md5),
        );
        // Sent from memory in chunk-sized slices (no copy), so progress
        // and stall detection work as for parts streamed from disk.
        let progress = progress_fn(inner, ctx, part, moved.clone());
        let chunk = inner.cfg.chunk_size.max(1);
        let slices: Vec<bytes::Bytes> = (0..bytes.len())
            .step_by(chunk)
            .map(|i| bytes.slice(i..(i + chunk).min(bytes.len())))
            .collect();
        use futures::StreamExt;
        let file = futures::stream::iter(slices).map(move |b| {
            progress(b.len() as u64);
            Ok::<_, std::io::Error>(b)
        });
        let prefix = futures::stream::iter(
            (!req.prefix.is_empty()).then(|| Ok::<_, std::io::Error>(req.prefix.clone())),
        );
        let suffix = futures::stream::iter(
            (!req.suffix.is_empty()).then(|| Ok::<_, std::io::Error>(req.suffix.clone())),
        );
        reqwest::Body::wrap_stream(prefix.chain(file).chain(suffix))
    } else {
        let progress = progress_fn(inner, ctx, part, moved.clone());
        let md5 = Arc::new(crate::hashhub::Hub::global().open());
        part_md5 = Some(md5.clone());
        let file = part_stream(
            ctx.item.path.clone(),
            start,
            len,
            inner.cfg.chunk_size,
            sha,
            md5,
            outcome.clone(),
            progress,
        );
        use futures::StreamExt;
        let prefix = futures::stream::iter(
            (!req.prefix.is_empty()).then(|| Ok::<_, std::io::Error>(req.prefix.clone())),
        );
        let suffix = futures::stream::iter(
            (!req.suffix.is_empty()).then(|| Ok::<_, std::io::Error>(req.suffix.clone())),
        );
        reqwest::Body::wrap_stream(prefix.chain(file).chain(suffix))
    };
    let builder = builder.body(body);

    let sent = async {
        let resp = builder
            .send()
            .await
            .map_err(|e| from_reqwest(&req.url, e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = crate::guard::body_capped(resp, &req.url, crate::guard::JSON_CAP).await?;
        Ok::<_, Error>(PartResponse {
            url: req.url.clone(),
            status,
            headers,
            body,
            attempt,
        })
    };
    let result = tokio::select! {
        r = sent => r,
        _ = stalled(moved.clone(), inner.cfg.stall_timeout) => Err(Error::Network {
            host: crate::error::host_of(&req.url),
            detail: format!("no progress for {} s; {}", inner.cfg.stall_timeout.as_secs(), crate::network::STALLED),
        }),
        _ = ctx.cancel.cancelled() => Err(Error::Cancelled),
        // Its connection died with the sleep: made anew, not counted.
        _ = inner.net.woken() => Err(Error::Unreachable {
            host: crate::error::host_of(&req.url),
            detail: "the computer slept; connecting again".into(),
        }),
    };
    let local_failure = outcome.lock().expect("outcome").error.take();
    let result = match (result, local_failure) {
        (_, Some(local)) => Err(local),
        (r, None) => r.and_then(|resp| portal.accept_part(upload, part, &resp)),
    };
    // Every chunk of a part sent whole is hashed (MD5, and fed to the
    // file's SHA-256) before the part counts as done.
    if let (Ok(_), Some(md5)) = (&result, part_md5)
        && outcome.lock().expect("outcome").read == len
    {
        local_md5 = Some(md5.finish().await?);
    }
    match result {
        Ok(etag) => {
            // Completion lists every part's ETag: a part acknowledged
            // without one cannot be completed, so it counts as not stored.
            // (A single PUT may have none: a conditional retry's 412.)
            if upload.multipart && etag.trim().trim_matches('"').is_empty() {
                ctx.sent
                    .fetch_sub(moved.load(Ordering::Relaxed), Ordering::Relaxed);
                return Err(Error::Protocol {
                    host: crate::error::host_of(&req.url),
                    detail: format!(
                        "part {part} of {}: the storage acknowledged it without an ETag; sending it again",
                        ctx.item.name
                    ),
                });
            }
            if portal.etag_is_md5()
                && let Some(md5) = local_md5
            {
                {
                    let got = etag.trim_matches('"').to_ascii_lowercase();
                    if !etag.is_empty() && got != hex::encode(md5) {
                        ctx.sent
                            .fetch_sub(moved.load(Ordering::Relaxed), Ordering::Relaxed);
                        return Err(Error::Protocol {
                            host: crate::error::host_of(&req.url),
                            detail: format!(
                                "part {part} of {}: the storage's ETag {etag} is not the MD5 of the bytes sent ({}); sending it again",
                                ctx.item.name,
                                hex::encode(md5)
                            ),
                        });
                    }
                }
            }
            Ok(etag)
        }
        Err(e) => {
            // Bytes of a failed attempt do not count as sent.
            ctx.sent
                .fetch_sub(moved.load(Ordering::Relaxed), Ordering::Relaxed);
            Err(e)
        }
    }
}

fn progress_fn(
    inner: &Inner,
    ctx: &Arc<FileCtx>,
    part: u32,
    moved: Arc<AtomicU64>,
) -> impl Fn(u64) + Send + Sync + 'static {
    let events = inner.events.clone();
    let interval = inner.cfg.progress_interval;
    let ctx = ctx.clone();
    let last = Mutex::new(Instant::now() - interval);
    move |n| {
        let part_sent = moved.fetch_add(n, Ordering::Relaxed) + n;
        let file_sent = ctx.sent.fetch_add(n, Ordering::Relaxed) + n;
        let (start, end) = ctx.plan.range(part);
        let mut last = last.lock().expect("progress");
        if last.elapsed() >= interval || part_sent == end - start {
            *last = Instant::now();
            events.emit(Event::Progress {
                file: ctx.index,
                part,
                part_sent,
                file_sent,
            });
        }
    }
}

/// Resolves when `moved` has not changed for `limit`.
async fn stalled(moved: Arc<AtomicU64>, limit: Duration) {
    let tick = (limit / 4).max(Duration::from_millis(50));
    let mut last = moved.load(Ordering::Relaxed);
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        let now = moved.load(Ordering::Relaxed);
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= limit {
            return;
        }
    }
}

async fn finish_file(
    inner: Arc<Inner>,
    portal: Arc<dyn Portal>,
    ctx: Arc<FileCtx>,
    upload: Arc<Upload>,
    done: BTreeMap<u32, String>,
    parts: Vec<(u32, JoinHandle<Result<String, Error>>)>,
    hashing: Option<JoinHandle<Result<(), Error>>>,
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

async fn finish_inner(
    inner: &Inner,
    portal: &dyn Portal,
    ctx: &Arc<FileCtx>,
    upload: &Upload,
    mut done: BTreeMap<u32, String>,
    parts: Vec<(u32, JoinHandle<Result<String, Error>>)>,
    hashing: Option<JoinHandle<Result<(), Error>>>,
) -> FileOutcome {
    let mut failed = None;
    if let Some(h) = hashing {
        match h.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failed = Some(e);
            }
            Err(join) => {
                failed = Some(Error::Protocol {
                    host: "ferry".into(),
                    detail: format!("hashing task failed: {join}"),
                });
            }
        }
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
        } else {
            match catch_up.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failed = Some(e),
                Err(join) => {
                    failed = Some(Error::Protocol {
                        host: "ferry".into(),
                        detail: format!("hashing task failed: {join}"),
                    })
                }
            }
        }
    }
    if let Some(e) =
        failed.or_else(|| (done.len() < ctx.plan.parts as usize).then_some(Error::Cancelled))
    {
        return Err(ctx.cause.lock().expect("cause").take().unwrap_or(e));
    }
    let etags: Vec<String> = done.into_values().collect();
    // Never complete a file that changed under us: its parts may mix two
    // versions.
    check_unchanged(&ctx.item)?;
    if portal.needs_complete(upload) {
        retry_cancellable(
            &inner.cfg.retry,
            &ctx.cancel,
            |attempt| {
                let (etags, maybe_done) = (&etags, attempt > 1 || ctx.resumed);
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
        .await?;
    }
    let sha256 = if !inner.cfg.file_hash {
        String::new()
    } else {
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
            })?
    };
    Ok(Uploaded {
        path: ctx.item.path.clone(),
        name: ctx.item.name.clone(),
        size: ctx.item.size,
        remote_id: upload.remote_id.clone(),
        sha256,
    })
}

fn span(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.0} s")
    } else {
        format!("{:.0} min", secs / 60.0)
    }
}

fn count(n: u32, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn check_unchanged(item: &Item) -> Result<(), Error> {
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
