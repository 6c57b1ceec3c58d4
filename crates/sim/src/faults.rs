//! Fault injection for tests: what the next requests (or a random share of them) get instead of
//! normal handling.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// A fault to inject. JSON form (tag `kind`): `{"kind":"status","status":503}`,
/// `{"kind":"too_many_requests","retry_after_secs":2}`, `{"kind":"reset"}`,
/// `{"kind":"stall","millis":1500}`, `{"kind":"truncate"}`, `{"kind":"expire_url"}`,
/// `{"kind":"expire_token"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "FaultRepr", from = "FaultRepr")]
pub enum Fault {
    /// Answer with this status (storage: S3 XML error, e.g. 503 `SlowDown`; API: ProblemDetail).
    Status(u16),
    /// 429 with a `Retry-After` header.
    TooManyRequests { retry_after_secs: u64 },
    /// Close the connection without any response.
    Reset,
    /// Sleep, then handle normally.
    Stall(Duration),
    /// Handle normally, then send the headers with a `Content-Length` larger than the body and
    /// close early (so the request may have taken effect although the client sees an error).
    Truncate,
    /// Storage: 403 `AccessDenied` "Request has expired". On the API it acts as `ExpireToken`.
    ExpireUrl,
    /// API: 401 `invalid_token`. On storage it acts as `ExpireUrl`.
    ExpireToken,
}

impl Fault {
    /// Short label for logs.
    pub fn label(&self) -> String {
        match self {
            Fault::Status(s) => format!("status:{s}"),
            Fault::TooManyRequests { retry_after_secs } => {
                format!("too_many_requests:{retry_after_secs}")
            }
            Fault::Reset => "reset".into(),
            Fault::Stall(d) => format!("stall:{}ms", d.as_millis()),
            Fault::Truncate => "truncate".into(),
            Fault::ExpireUrl => "expire_url".into(),
            Fault::ExpireToken => "expire_token".into(),
        }
    }
}

/// Serde shape of [`Fault`] (struct variants so the internally tagged JSON stays flat).
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum FaultRepr {
    Status { status: u16 },
    TooManyRequests { retry_after_secs: u64 },
    Reset,
    Stall { millis: u64 },
    Truncate,
    ExpireUrl,
    ExpireToken,
}

impl From<Fault> for FaultRepr {
    fn from(f: Fault) -> Self {
        match f {
            Fault::Status(status) => FaultRepr::Status { status },
            Fault::TooManyRequests { retry_after_secs } => {
                FaultRepr::TooManyRequests { retry_after_secs }
            }
            Fault::Reset => FaultRepr::Reset,
            Fault::Stall(d) => FaultRepr::Stall {
                millis: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            },
            Fault::Truncate => FaultRepr::Truncate,
            Fault::ExpireUrl => FaultRepr::ExpireUrl,
            Fault::ExpireToken => FaultRepr::ExpireToken,
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
            FaultRepr::Reset => Fault::Reset,
            FaultRepr::Stall { millis } => Fault::Stall(Duration::from_millis(millis)),
            FaultRepr::Truncate => Fault::Truncate,
            FaultRepr::ExpireUrl => Fault::ExpireUrl,
            FaultRepr::ExpireToken => Fault::ExpireToken,
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

#[derive(Default)]
struct Plan {
    storage: VecDeque<(Fault, u32)>,
    api: VecDeque<(Fault, u32)>,
    storage_rates: Vec<(Fault, f64, StdRng)>,
    injected: u32,
}

impl Faults {
    /// The next `count` storage requests get `fault` (queued after earlier `storage_next` calls).
    pub fn storage_next(&self, fault: Fault, count: u32) {
        if count > 0 {
            self.lock().storage.push_back((fault, count));
        }
    }

    /// The next `count` API requests under `/files/` and `/{organism}/submit` get `fault`.
    pub fn api_next(&self, fault: Fault, count: u32) {
        if count > 0 {
            self.lock().api.push_back((fault, count));
        }
    }

    /// Every storage request independently gets `fault` with probability `rate` (seeded RNG, so
    /// a run is reproducible for a given request order). Several rates add up: each is rolled in
    /// the order given and the first hit applies.
    pub fn storage_rate(&self, fault: Fault, rate: f64, seed: u64) {
        self.lock()
            .storage_rates
            .push((fault, rate.clamp(0.0, 1.0), StdRng::seed_from_u64(seed)));
    }

    /// Drop every pending fault (the `injected` counter is kept).
    pub fn clear(&self) {
        let mut p = self.lock();
        p.storage.clear();
        p.api.clear();
        p.storage_rates.clear();
    }

    /// How many faults have been injected so far.
    pub fn injected(&self) -> u32 {
        self.lock().injected
    }

    pub(crate) fn take_storage(&self) -> Option<Fault> {
        let mut p = self.lock();
        let fault = match Self::pop(&mut p.storage) {
            Some(f) => Some(f),
            None => p
                .storage_rates
                .iter_mut()
                .find_map(|(f, rate, rng)| (rng.random::<f64>() < *rate).then(|| f.clone())),
        };
        if fault.is_some() {
            p.injected += 1;
        }
        fault
    }

    pub(crate) fn take_api(&self) -> Option<Fault> {
        let mut p = self.lock();
        let fault = Self::pop(&mut p.api);
        if fault.is_some() {
            p.injected += 1;
        }
        fault
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
    }
}
