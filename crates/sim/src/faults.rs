//! Fault injection for tests: what the next requests (or a random share of them) get instead of
//! normal handling.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// A fault to inject. JSON form (tag `kind`): `{"kind":"status","status":503}`,
/// `{"kind":"too_many_requests","retry_after_secs":2}`,
/// `{"kind":"too_many_requests_until","retry_after_secs":2}`, `{"kind":"reset"}`,
/// `{"kind":"stall","millis":1500}`, `{"kind":"truncate"}`, `{"kind":"expire_url"}`,
/// `{"kind":"expire_token"}`, `{"kind":"corrupt_etag"}`, `{"kind":"empty_etag"}`.
///
/// Every kind can be set on both hosts ([`Target`]); what it means there:
///
/// | kind | API host | storage host |
/// |---|---|---|
/// | `ExpireUrl` | 401 `invalid_token` (the API has no URLs) | 403 `AccessDenied` "Request has expired" |
/// | `ExpireToken` | 401 `invalid_token` "Jwt expired" | 400 `ExpiredToken` (S3: the temporary credentials the URL was signed with expired) |
/// | `CorruptEtag`, `EmptyEtag` | handled normally (no ETags) | the request takes effect, the answer's ETag lies / is empty |
///
/// On the BaseSpace host parts are its storage: `ExpireToken`/`ExpireUrl` are a
/// 401 there (its parts carry `x-access-token`), and the ETag faults rewrite
/// the part answer's `ETag` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "FaultRepr", from = "FaultRepr")]
pub enum Fault {
    /// Answer with this status (storage: S3 XML error, e.g. 503 `SlowDown`; API: ProblemDetail).
    Status(u16),
    /// 429 with a `Retry-After` header in seconds.
    TooManyRequests { retry_after_secs: u64 },
    /// 429 with `Retry-After` as an HTTP date this many seconds from now (RFC 9110 allows both).
    TooManyRequestsUntil { retry_after_secs: u64 },
    /// Close the connection without any response.
    Reset,
    /// Sleep, then handle normally.
    Stall(Duration),
    /// Handle normally, then send the headers with a `Content-Length` larger than the body and
    /// close early (so the request may have taken effect although the client sees an error).
    Truncate,
    /// Storage: 403 `AccessDenied` "Request has expired". On the API it acts as `ExpireToken`.
    ExpireUrl,
    /// API: 401 `invalid_token`. Storage: 400 `ExpiredToken` "The provided token has expired."
    /// (what S3 answers to a presigned URL whose signing session credentials expired before
    /// its own `X-Amz-Expires`; not a 403, so it is not mistaken for an expired URL).
    ExpireToken,
    /// Storage: handle normally (the bytes are stored), but answer an ETag that is not the
    /// MD5 of the bytes received: a storage that lies.
    CorruptEtag,
    /// Storage: handle normally, but answer an empty `ETag`.
    EmptyEtag,
}

impl Fault {
    /// Short label for logs.
    pub fn label(&self) -> String {
        match self {
            Fault::Status(s) => format!("status:{s}"),
            Fault::TooManyRequests { retry_after_secs } => {
                format!("too_many_requests:{retry_after_secs}")
            }
            Fault::TooManyRequestsUntil { retry_after_secs } => {
                format!("too_many_requests_until:{retry_after_secs}")
            }
            Fault::Stall(d) => format!("stall:{}ms", d.as_millis()),
            _ => self.kind().into(),
        }
    }

    /// The JSON `kind` of this fault (what [`Faults::injected_count`] counts by).
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Status(_) => "status",
            Fault::TooManyRequests { .. } => "too_many_requests",
            Fault::TooManyRequestsUntil { .. } => "too_many_requests_until",
            Fault::Reset => "reset",
            Fault::Stall(_) => "stall",
            Fault::Truncate => "truncate",
            Fault::ExpireUrl => "expire_url",
            Fault::ExpireToken => "expire_token",
            Fault::CorruptEtag => "corrupt_etag",
            Fault::EmptyEtag => "empty_etag",
        }
    }
}

/// `Retry-After` as an HTTP date `secs` from now.
pub(crate) fn retry_after_date(secs: u64) -> axum::http::HeaderValue {
    let when = std::time::SystemTime::now() + Duration::from_secs(secs);
    axum::http::HeaderValue::from_str(&httpdate::fmt_http_date(when))
        .expect("an HTTP date is a valid header value")
}

/// An ETag that is not the MD5 of the bytes stored (the MD5 of the real ETag instead).
pub(crate) fn lying_etag(real: &str) -> String {
    use md5::Digest;
    format!("\"{}\"", hex::encode(md5::Md5::digest(real.as_bytes())))
}

/// Which host a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The portal APIs: Loculus' `/files/*` and `/{organism}/submit`, the One Codex API and
    /// the BaseSpace API except its part uploads.
    Api,
    /// The S3 storage host, and BaseSpace part uploads.
    Storage,
}

impl Target {
    fn label(self) -> &'static str {
        match self {
            Target::Api => "api",
            Target::Storage => "storage",
        }
    }
}

/// Serde shape of [`Fault`] (struct variants so the internally tagged JSON stays flat).
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum FaultRepr {
    Status { status: u16 },
    TooManyRequests { retry_after_secs: u64 },
    TooManyRequestsUntil { retry_after_secs: u64 },
    Reset,
    Stall { millis: u64 },
    Truncate,
    ExpireUrl,
    ExpireToken,
    CorruptEtag,
    EmptyEtag,
}

impl From<Fault> for FaultRepr {
    fn from(f: Fault) -> Self {
        match f {
            Fault::Status(status) => FaultRepr::Status { status },
            Fault::TooManyRequests { retry_after_secs } => {
                FaultRepr::TooManyRequests { retry_after_secs }
            }
            Fault::TooManyRequestsUntil { retry_after_secs } => {
                FaultRepr::TooManyRequestsUntil { retry_after_secs }
            }
            Fault::Reset => FaultRepr::Reset,
            Fault::Stall(d) => FaultRepr::Stall {
                millis: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            },
            Fault::Truncate => FaultRepr::Truncate,
            Fault::ExpireUrl => FaultRepr::ExpireUrl,
            Fault::ExpireToken => FaultRepr::ExpireToken,
            Fault::CorruptEtag => FaultRepr::CorruptEtag,
            Fault::EmptyEtag => FaultRepr::EmptyEtag,
        }
    }
}

impl From<FaultRepr> for Fault {
    fn from(f: FaultRepr) -> Self {
        match f {
            FaultRepr::Status { status } => Fault::Status(status),
            FaultRepr::TooManyRequests { retry_after_secs } => {
                Fault::TooManyRequests { retry_after_secs }
            }
            FaultRepr::TooManyRequestsUntil { retry_after_secs } => {
                Fault::TooManyRequestsUntil { retry_after_secs }
            }
            FaultRepr::Reset => Fault::Reset,
            FaultRepr::Stall { millis } => Fault::Stall(Duration::from_millis(millis)),
            FaultRepr::Truncate => Fault::Truncate,
            FaultRepr::ExpireUrl => Fault::ExpireUrl,
            FaultRepr::ExpireToken => Fault::ExpireToken,
            FaultRepr::CorruptEtag => Fault::CorruptEtag,
            FaultRepr::EmptyEtag => Fault::EmptyEtag,
        }
    }
}

/// Cloneable handle to the sim's fault plan.
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<Plan>>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults")
            .field("injected", &self.injected())
            .finish_non_exhaustive()
    }
}

/// A fault rolled independently for every request of one host.
struct Rate {
    fault: Fault,
    rate: f64,
    rng: StdRng,
}

#[derive(Default)]
struct Plan {
    storage: VecDeque<(Fault, u32)>,
    api: VecDeque<(Fault, u32)>,
    storage_rates: Vec<Rate>,
    api_rates: Vec<Rate>,
    injected: u32,
    /// `(host, kind)` -> how many were injected.
    counts: HashMap<(Target, &'static str), u32>,
}

impl Faults {
    /// The next `count` requests to `target` get `fault` (queued after earlier ones).
    pub fn next(&self, target: Target, fault: Fault, count: u32) {
        if count > 0 {
            let mut p = self.lock();
            match target {
                Target::Storage => p.storage.push_back((fault, count)),
                Target::Api => p.api.push_back((fault, count)),
            }
        }
    }

    /// Every request to `target` independently gets `fault` with probability `rate` (seeded
    /// RNG, so a run is reproducible for a given request order). Several rates add up: each is
    /// rolled in the order given and the first hit applies. Queued faults ([`Faults::next`])
    /// come first.
    pub fn rate(&self, target: Target, fault: Fault, rate: f64, seed: u64) {
        let r = Rate {
            fault,
            rate: if rate.is_nan() {
                0.0
            } else {
                rate.clamp(0.0, 1.0)
            },
            rng: StdRng::seed_from_u64(seed),
        };
        let mut p = self.lock();
        match target {
            Target::Storage => p.storage_rates.push(r),
            Target::Api => p.api_rates.push(r),
        }
    }

    /// The next `count` storage requests get `fault` (queued after earlier `storage_next` calls).
    pub fn storage_next(&self, fault: Fault, count: u32) {
        self.next(Target::Storage, fault, count);
    }

    /// The next `count` API requests (Loculus `/files/` and `/{organism}/submit`, the One Codex
    /// and BaseSpace APIs) get `fault`.
    pub fn api_next(&self, fault: Fault, count: u32) {
        self.next(Target::Api, fault, count);
    }

    /// [`Faults::rate`] on the storage host.
    pub fn storage_rate(&self, fault: Fault, rate: f64, seed: u64) {
        self.rate(Target::Storage, fault, rate, seed);
    }

    /// [`Faults::rate`] on the API host.
    pub fn api_rate(&self, fault: Fault, rate: f64, seed: u64) {
        self.rate(Target::Api, fault, rate, seed);
    }

    /// Drop every pending fault and rate (the counters are kept).
    pub fn clear(&self) {
        let mut p = self.lock();
        p.storage.clear();
        p.api.clear();
        p.storage_rates.clear();
        p.api_rates.clear();
    }

    /// How many faults have been injected so far, on both hosts.
    pub fn injected(&self) -> u32 {
        self.lock().injected
    }

    /// How many faults of `kind` (see [`Fault::kind`], e.g. `"reset"`, `"stall"`) were
    /// injected on `target` so far.
    pub fn injected_count(&self, target: Target, kind: &str) -> u32 {
        self.lock()
            .counts
            .iter()
            .filter(|((t, k), _)| *t == target && *k == kind)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Every count so far, as `{"storage:reset": 3, "api:status": 1, ...}`.
    pub fn counts(&self) -> std::collections::BTreeMap<String, u32> {
        self.lock()
            .counts
            .iter()
            .map(|((t, k), n)| (format!("{}:{k}", t.label()), *n))
            .collect()
    }

    pub(crate) fn take_storage(&self) -> Option<Fault> {
        self.take(Target::Storage)
    }

    pub(crate) fn take_api(&self) -> Option<Fault> {
        self.take(Target::Api)
    }

    fn take(&self, target: Target) -> Option<Fault> {
        let mut guard = self.lock();
        let p = &mut *guard;
        let (queue, rates) = match target {
            Target::Storage => (&mut p.storage, &mut p.storage_rates),
            Target::Api => (&mut p.api, &mut p.api_rates),
        };
        let fault = Self::pop(queue).or_else(|| {
            rates
                .iter_mut()
                .find_map(|r| (r.rng.random::<f64>() < r.rate).then(|| r.fault.clone()))
        })?;
        p.injected += 1;
        *p.counts.entry((target, fault.kind())).or_default() += 1;
        Some(fault)
    }

    fn pop(queue: &mut VecDeque<(Fault, u32)>) -> Option<Fault> {
        let (fault, left) = queue.front_mut()?;
        let fault = fault.clone();
        *left -= 1;
        if *left == 0 {
            queue.pop_front();
        }
        Some(fault)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Plan> {
        // A panic while holding this lock cannot leave the plan inconsistent; keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_roundtrip() {
        for f in [
            Fault::Status(503),
            Fault::TooManyRequests {
                retry_after_secs: 2,
            },
            Fault::Reset,
            Fault::Stall(Duration::from_millis(1500)),
            Fault::Truncate,
            Fault::ExpireUrl,
            Fault::ExpireToken,
            Fault::TooManyRequestsUntil {
                retry_after_secs: 3,
            },
            Fault::CorruptEtag,
            Fault::EmptyEtag,
        ] {
            let s = serde_json::to_string(&f).unwrap();
            assert_eq!(serde_json::from_str::<Fault>(&s).unwrap(), f, "{s}");
        }
        assert_eq!(
            serde_json::to_string(&Fault::Status(500)).unwrap(),
            r#"{"kind":"status","status":500}"#
        );
    }

    #[test]
    fn queue_counts_down() {
        let f = Faults::default();
        f.storage_next(Fault::Reset, 2);
        assert_eq!(f.take_storage(), Some(Fault::Reset));
        assert_eq!(f.take_storage(), Some(Fault::Reset));
        assert_eq!(f.take_storage(), None);
        assert_eq!(f.injected(), 2);
        assert_eq!(f.injected_count(Target::Storage, "reset"), 2);
    }

    #[test]
    fn rates_are_per_host_and_seeded() {
        let pattern = |seed| {
            let f = Faults::default();
            f.api_rate(Fault::Status(500), 0.5, seed);
            let api: Vec<bool> = (0..64).map(|_| f.take_api().is_some()).collect();
            (
                api,
                f.take_storage(),
                f.injected_count(Target::Api, "status"),
            )
        };
        let (a, storage, n) = pattern(3);
        assert_eq!(storage, None, "an API rate leaves the storage alone");
        assert!(a.contains(&true) && a.contains(&false), "{a:?}");
        assert_eq!(n as usize, a.iter().filter(|x| **x).count());
        assert_eq!(pattern(3).0, a, "the same seed, the same faults");
        assert_ne!(pattern(4).0, a, "another seed, other faults");
    }
}
