//! transfer + complete: one scheduler, a bounded number of parts in flight
//! across all files (permits from one global budget, as in the AWS transfer
//! manager), each file finished once all its parts are acknowledged.

pub mod deadline;
mod finish;
mod links;
mod part;
mod probe;
mod schedule;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::event::{Event, EventSink};
use crate::hasher::OrderedHasher;
use crate::plan::{Plan, PlanPrefs, plan};
use crate::portal::{Portal, Upload};
use crate::retry::RetryPolicy;
use crate::scan::Item;

/// Parts in flight unless set otherwise. 8, not 16: on the 1 GiB loopback
/// bench 16 fill AVX-512's 16 MD5 lanes but saved only 2% of the CPU
/// (2.03 against 2.08 s per GiB), sent the parts slower (3.7-4.3 s
/// against 3.05 s: twice the connections on a 2-core machine) and took
/// 177 MiB against 106.
pub const DEFAULT_PARTS_IN_FLIGHT: usize = 8;

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
            parts_in_flight: DEFAULT_PARTS_IN_FLIGHT,
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
    /// What test uploads measured of the uplink, once run (see `probe`).
    probed: Mutex<Option<probe::Probed>>,
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
                probed: Mutex::new(None),
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
        let mut outcomes = self.upload_pass(portal.clone(), files, log.clone()).await;
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
            outcomes.extend(self.upload_pass(portal, again, log).await);
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
