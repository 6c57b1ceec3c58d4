//! Network outages are waited out, not counted against a part.
//!
//! A request that could not connect at all (refused, unreachable, DNS, a
//! connect or TLS handshake timeout), or a part whose transfer broke while
//! its host does not answer a HEAD either (every connection is silent), means
//! the network is gone, not that the request is wrong (once some request
//! of this engine got an answer: a wrong address fails at once). The engine then
//! enters "waiting for the network" (one event for all files), tries again
//! with capped backoff, and every waiting part goes on as soon as one
//! connection is made. Attempts spent waiting are not counted; after
//! [`NetworkPolicy::max_wait`] the errors go back to the retry policy, which
//! gives up as before. Server answers (5xx, 429) never come here.
//!
//! It also notices a suspend: the wall clock running ahead of the
//! monotonic clock. Pooled connections are then dropped at once (a new HTTP
//! client) and attempts in flight are made anew.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::clock::Clock;
use crate::event::{Event, EventSink};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// How long one outage is waited out before files fail as they would
    /// without waiting (the journal keeps them for `resume`). Zero: never
    /// wait.
    pub max_wait: Duration,
    /// Time between tries early in an outage; it grows with the outage's
    /// age (a quarter of it) up to `probe_every`.
    pub first_probe: Duration,
    pub probe_every: Duration,
    /// A HEAD that has not been answered by then counts as no network.
    pub probe_timeout: Duration,
    /// A wall-clock lead over the monotonic clock larger than this is a
    /// suspend (a clock set by NTP moves by far less).
    pub wake_after: Duration,
}

impl Default for NetworkPolicy {
    /// A day of waiting covers a night with the lid closed or a weekend
    /// network maintenance; a try every 15 s at most costs nothing.
    fn default() -> Self {
        NetworkPolicy {
            max_wait: Duration::from_secs(24 * 3600),
            first_probe: Duration::from_secs(1),
            probe_every: Duration::from_secs(15),
            probe_timeout: Duration::from_secs(10),
            wake_after: Duration::from_secs(30),
        }
    }
}

/// How long to wait for the network, as people write it: "24h", "90m",
/// "1h 30m", "45s", or "0" (do not wait).
pub fn parse_wait(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    let d: jiff::SignedDuration = s
        .trim()
        .parse()
        .map_err(|e| format!("{s:?} is not a duration like 24h, 90m or 0: {e}"))?;
    d.try_into()
        .map_err(|_| format!("{s:?}: a duration cannot be negative"))
}

/// A DNS resolver for the engine's HTTP client (reqwest's hook), e.g. a
/// site's own, or a test's that makes a name stop resolving.
#[derive(Clone)]
pub struct Resolver(pub Arc<dyn reqwest::dns::Resolve>);

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

/// The engine's HTTP client: the shared one, or the same settings with a
/// resolver of the caller's.
pub(crate) fn client(resolver: Option<&Resolver>) -> Result<reqwest::Client, Error> {
    crate::transfer::http_client_with(resolver)
}

/// How a stalled transfer's error ends: only a stall is checked with a
/// probe (a reset costs one attempt; the next one then cannot connect).
pub(crate) const STALLED: &str = "the connection stalled";

struct Outage {
    since: Instant,
}

pub(crate) struct Network {
    policy: NetworkPolicy,
    events: EventSink,
    clock: Clock,
    resolver: Option<Resolver>,
    /// The client parts are sent with; replaced after a suspend.
    http: RwLock<reqwest::Client>,
    outage: Mutex<Option<Outage>>,
    /// Wakes every waiter when one connection got through.
    back: Notify,
    /// Wakes attempts in flight when the computer woke up.
    woke: Notify,
    origin: (SystemTime, Instant),
    drift: AtomicI64,
    /// Some request got an answer: only a network that was there can be
    /// lost. A wrong address or port fails at once instead of waiting.
    seen: AtomicBool,
    watching: OnceLock<()>,
}

impl Network {
    pub(crate) fn new(
        policy: NetworkPolicy,
        clock: Clock,
        resolver: Option<Resolver>,
        http: reqwest::Client,
        events: EventSink,
    ) -> Arc<Network> {
        let origin = (SystemTime::now(), Instant::now());
        Arc::new(Network {
            drift: AtomicI64::new(clock.drift(&origin)),
            policy,
            events,
            clock,
            resolver,
            http: RwLock::new(http),
            outage: Mutex::new(None),
            back: Notify::new(),
            woke: Notify::new(),
            origin,
            seen: AtomicBool::new(false),
            watching: OnceLock::new(),
        })
    }

    /// The client to send parts with (a new one after each suspend).
    pub(crate) fn client(&self) -> reqwest::Client {
        self.http.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Resolves when the computer wakes from a suspend (from the moment
    /// it is called, even before it is polled).
    pub(crate) fn woken(&self) -> tokio::sync::futures::Notified<'_> {
        self.woke.notified()
    }

    /// Run `op` until its outcome is not a lost network: an outage is
    /// waited out (tried again with capped backoff) without returning, so
    /// the caller's retry policy never counts it. `probe` is a URL of the
    /// host whose origin a HEAD may ask, to tell a stalled transfer on a
    /// live network (counted as today) from a silent network (waited out).
    pub(crate) async fn online<T, F, Fut>(
        self: &Arc<Self>,
        probe: Option<&str>,
        cancel: &CancellationToken,
        mut op: F,
    ) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        self.watch();
        loop {
            let r = op().await;
            let waiting = self.policy.max_wait > Duration::ZERO
                && self.seen.load(Ordering::SeqCst)
                && !cancel.is_cancelled();
            let lost = match &r {
                Err(Error::Unreachable { host, .. }) => Some(host.clone()),
                Err(Error::Network { host, detail }) if waiting && detail.ends_with(STALLED) => {
                    match probe {
                        Some(url) if !self.reachable(url).await => Some(host.clone()),
                        // The host answers: the transfer, not the network, broke.
                        Some(_) => {
                            self.back();
                            None
                        }
                        None => None,
                    }
                }
                Err(Error::Network { .. } | Error::Cancelled) => None,
                // Any answer, even a refusal, proves the network is there.
                _ => {
                    self.back();
                    None
                }
            };
            match lost {
                Some(host) if waiting => {
                    if !self.wait(&host, probe, cancel).await {
                        return r;
                    }
                }
                _ => return r,
            }
        }
    }

    /// Wait until a try may succeed: false once the outage has lasted
    /// `max_wait` (give up as without waiting).
    async fn wait(&self, host: &str, probe: Option<&str>, cancel: &CancellationToken) -> bool {
        let since = self.enter(host);
        loop {
            let age = since.elapsed();
            if age >= self.policy.max_wait {
                return false;
            }
            let delay = (age / 4)
                .clamp(self.policy.first_probe, self.policy.probe_every)
                .min(self.policy.max_wait - age);
            let back = self.back.notified();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = back => return true,
                _ = cancel.cancelled() => return true,
            }
            match probe {
                Some(url) => {
                    if self.reachable(url).await {
                        self.back();
                        return true;
                    }
                }
                // The request itself is the connect probe: nothing is sent
                // before a connection is made.
                None => return true,
            }
        }
    }

    /// The start of the current outage, entered now if there is none.
    fn enter(&self, host: &str) -> Instant {
        let mut o = self.outage.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(o) = o.as_ref() {
            return o.since;
        }
        let since = Instant::now();
        *o = Some(Outage { since });
        drop(o);
        self.events.emit(Event::NetworkWaiting {
            since: crate::clock::unix_now(),
            retry_every_s: self.policy.probe_every.as_secs().max(1),
            host: host.to_string(),
        });
        since
    }

    /// A connection got through: the outage (if any) is over for all.
    fn back(&self) {
        self.seen.store(true, Ordering::SeqCst);
        let ended = self.outage.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(o) = ended {
            self.events.emit(Event::NetworkBack {
                waited_ms: o.since.elapsed().as_millis() as u64,
            });
            self.back.notify_waiters();
        }
    }

    /// Whether the host of `url` answers a HEAD of its origin at all (any
    /// status). No credential goes with it: the path and query are dropped.
    async fn reachable(&self, url: &str) -> bool {
        let Ok(u) = url::Url::parse(url) else {
            return false;
        };
        let origin = format!("{}/", u.origin().ascii_serialization());
        self.client()
            .head(origin)
            .timeout(self.policy.probe_timeout)
            .send()
            .await
            .is_ok()
    }

    /// Start the suspend watcher once, on the caller's runtime; it ends
    /// with the engine.
    fn watch(self: &Arc<Self>) {
        if self.watching.set(()).is_err() {
            return;
        }
        let weak: Weak<Network> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(net) = weak.upgrade() else { return };
                net.check_wake();
            }
        });
    }

    /// A suspend shows as the wall clock leaping ahead of the monotonic one.
    fn check_wake(&self) {
        let now = self.clock.drift(&self.origin);
        let before = self.drift.swap(now, Ordering::SeqCst);
        let leap = now - before;
        if leap > self.policy.wake_after.as_secs() as i64 {
            self.wake(leap as u64);
        }
    }

    /// After a suspend every pooled connection is dead: a new client, and
    /// attempts in flight are made anew on it.
    fn wake(&self, slept_s: u64) {
        if let Ok(c) = client(self.resolver.as_ref()) {
            *self.http.write().unwrap_or_else(|e| e.into_inner()) = c;
        }
        self.events.emit(Event::Woke { slept_s });
        self.woke.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(policy: NetworkPolicy, events: EventSink) -> Arc<Network> {
        Network::new(
            policy,
            Clock::system(),
            None,
            crate::transfer::http_client().unwrap(),
            events,
        )
    }

    fn quick() -> NetworkPolicy {
        NetworkPolicy {
            max_wait: Duration::from_secs(5),
            first_probe: Duration::from_millis(10),
            probe_every: Duration::from_millis(20),
            probe_timeout: Duration::from_millis(200),
            wake_after: Duration::from_secs(30),
        }
    }

    fn unreachable() -> Error {
        Error::Unreachable {
            host: "h:1".into(),
            detail: "Connection refused".into(),
        }
    }

    #[test]
    fn reads_durations() {
        assert_eq!(parse_wait("0"), Ok(Duration::ZERO));
        assert_eq!(parse_wait("24h"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_wait("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_wait("1h 30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_wait("soon").unwrap_err().contains("soon"));
        assert!(parse_wait("-5m").is_err());
    }

    #[tokio::test]
    async fn an_outage_is_waited_out_and_reported_once() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let n = net(quick(), EventSink::new(move |e| s.lock().unwrap().push(e)));
        n.back(); // the network was there
        let mut calls = 0;
        let r = n
            .online(None, &CancellationToken::new(), || {
                calls += 1;
                let c = calls;
                async move { if c < 5 { Err(unreachable()) } else { Ok(c) } }
            })
            .await;
        assert_eq!(r.unwrap(), 5);
        let seen = seen.lock().unwrap();
        let waiting = seen
            .iter()
            .filter(|e| matches!(e, Event::NetworkWaiting { .. }))
            .count();
        let back = seen
            .iter()
            .filter(|e| matches!(e, Event::NetworkBack { .. }))
            .count();
        assert_eq!((waiting, back), (1, 1), "{seen:?}");
    }

    #[tokio::test]
    async fn a_host_never_reached_is_not_waited_for() {
        let n = net(quick(), EventSink::none());
        let mut calls = 0;
        let r: Result<(), _> = n
            .online(None, &CancellationToken::new(), || {
                calls += 1;
                async { Err(unreachable()) }
            })
            .await;
        assert!(matches!(r, Err(Error::Unreachable { .. })));
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn zero_means_no_waiting() {
        let n = net(
            NetworkPolicy {
                max_wait: Duration::ZERO,
                ..quick()
            },
            EventSink::none(),
        );
        n.back();
        let mut calls = 0;
        let r: Result<(), _> = n
            .online(None, &CancellationToken::new(), || {
                calls += 1;
                async { Err(unreachable()) }
            })
            .await;
        assert!(matches!(r, Err(Error::Unreachable { .. })));
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn server_answers_are_not_waited_out() {
        let n = net(quick(), EventSink::none());
        let mut calls = 0;
        let r: Result<(), _> = n
            .online(None, &CancellationToken::new(), || {
                calls += 1;
                async {
                    Err(Error::Server {
                        host: "h".into(),
                        status: 503,
                        detail: "SlowDown".into(),
                        retry_after: None,
                    })
                }
            })
            .await;
        assert!(matches!(r, Err(Error::Server { .. })));
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn gives_up_after_max_wait() {
        let n = net(
            NetworkPolicy {
                max_wait: Duration::from_millis(100),
                ..quick()
            },
            EventSink::none(),
        );
        n.back();
        let r: Result<(), _> = n
            .online(None, &CancellationToken::new(), || async {
                Err(unreachable())
            })
            .await;
        assert!(matches!(r, Err(Error::Unreachable { .. })));
    }

    #[tokio::test]
    async fn a_suspend_is_noticed_and_the_client_made_anew() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let clock = Clock::system();
        let n = Network::new(
            quick(),
            clock.clone(),
            None,
            crate::transfer::http_client().unwrap(),
            EventSink::new(move |e| s.lock().unwrap().push(e)),
        );
        n.check_wake();
        assert!(seen.lock().unwrap().is_empty());
        let woken = n.woken();
        clock.suspend(Duration::from_secs(3600));
        n.check_wake();
        woken.await;
        let seen = seen.lock().unwrap();
        assert!(
            matches!(seen[..], [Event::Woke { slept_s }] if (3599..=3601).contains(&slept_s)),
            "{seen:?}"
        );
    }
}
