//! Wall-clock time as the journal and presigned URLs count it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (0 on a clock set before it).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The clocks the engine reads to notice a suspend: the wall clock goes on
/// while the computer sleeps, the monotonic one does not (Linux
/// `CLOCK_MONOTONIC`, macOS `mach_absolute_time`). Cloned handles share one
/// skew, so a test can make the computer "sleep" with [`Clock::suspend`].
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Seconds the monotonic clock is held back, as a sleep would.
    slept: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Clock {
    /// The real clocks.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// As if the computer had slept for `d`: the monotonic clock lags the
    /// wall clock by `d` more from now on.
    pub fn suspend(&self, d: std::time::Duration) {
        self.slept
            .fetch_add(d.as_secs(), std::sync::atomic::Ordering::SeqCst);
    }

    /// Wall-clock seconds minus monotonic seconds, against an `origin`
    /// taken together: grows by the length of every sleep.
    pub(crate) fn drift(&self, origin: &(SystemTime, std::time::Instant)) -> i64 {
        let wall = SystemTime::now()
            .duration_since(origin.0)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_else(|e| -(e.duration().as_secs() as i64));
        let mono = origin.1.elapsed().as_secs() as i64
            - self.slept.load(std::sync::atomic::Ordering::SeqCst) as i64;
        wall - mono
    }
}
