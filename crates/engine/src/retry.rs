//! Retry with exponential backoff and full jitter, in one place.

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts from 200 ms doubling to a 20 s cap: about a minute and a
    /// half of trying before a part is given up, enough to ride out a
    /// Wi-Fi hand-over or a rolling restart of the storage.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// "Full jitter" (AWS architecture blog): uniform in [0, min(cap, base*2^n)].
    /// A server's Retry-After wins when it asks for longer.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max_delay);
        let jittered = rand::rng().random_range(Duration::ZERO..=exp);
        match retry_after {
            Some(ra) => ra.min(crate::error::MAX_RETRY_AFTER).max(jittered),
            None => jittered,
        }
    }
}

/// Run `op(attempt)` until it succeeds, fails for good, or runs out of
/// attempts. `on_retry(attempt, delay, &error)` is told before each wait.
/// For calls no Cancel reaches (see [`retry_cancellable`]).
pub async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    op: F,
    on_retry: impl FnMut(u32, Duration, &Error),
) -> Result<T, Error>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let never = tokio_util::sync::CancellationToken::new();
    retry_cancellable(policy, &never, op, on_retry).await
}

/// [`retry`] whose waits end as soon as `cancel` fires (then
/// `Error::Cancelled`): a server's 10-minute `Retry-After` must not hold
/// a Cancel for 10 minutes.
pub async fn retry_cancellable<T, F, Fut>(
    policy: &RetryPolicy,
    cancel: &tokio_util::sync::CancellationToken,
    mut op: F,
    mut on_retry: impl FnMut(u32, Duration, &Error),
) -> Result<T, Error>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut attempt = 1;
    loop {
        match op(attempt).await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && attempt < policy.max_attempts => {
                let d = policy.delay(attempt, e.retry_after());
                on_retry(attempt, d, &e);
                tokio::select! {
                    () = tokio::time::sleep(d) => {}
                    () = cancel.cancelled() => return Err(Error::Cancelled),
                }
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        }
    }

    #[tokio::test]
    async fn retries_temporary_errors_then_succeeds() {
        let mut seen = 0;
        let r = retry(
            &fast(),
            |a| async move {
                if a < 3 {
                    Err(Error::Network {
                        host: "h".into(),
                        detail: "reset".into(),
                    })
                } else {
                    Ok(a)
                }
            },
            |_, _, _| seen += 1,
        )
        .await;
        assert_eq!(r.unwrap(), 3);
        assert_eq!(seen, 2);
    }

    #[tokio::test]
    async fn never_retries_permanent_errors() {
        let mut calls = 0;
        let r: Result<(), _> = retry(
            &fast(),
            |_| {
                calls += 1;
                async {
                    Err(Error::Rejected {
                        host: "h".into(),
                        status: 400,
                        detail: "bad".into(),
                    })
                }
            },
            |_, _, _| {},
        )
        .await;
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts() {
        let mut calls = 0;
        let r: Result<(), _> = retry(
            &fast(),
            |_| {
                calls += 1;
                async {
                    Err(Error::Server {
                        host: "h".into(),
                        status: 503,
                        detail: "SlowDown".into(),
                        retry_after: None,
                    })
                }
            },
            |_, _, _| {},
        )
        .await;
        assert!(r.is_err());
        assert_eq!(calls, 3);
    }

    /// A cancel ends a (capped, still 10-minute) `Retry-After` wait at once;
    /// the guard only keeps a broken build from hanging the test run.
    #[tokio::test]
    async fn a_cancel_ends_a_long_retry_after_wait() {
        let cancel = tokio_util::sync::CancellationToken::new();
        let c = cancel.clone();
        let mut calls = 0;
        let r: Result<(), _> = tokio::time::timeout(
            Duration::from_secs(120),
            retry_cancellable(
                &RetryPolicy::default(),
                &cancel,
                |_| {
                    calls += 1;
                    async {
                        Err(Error::Server {
                            host: "h".into(),
                            status: 503,
                            detail: "busy".into(),
                            retry_after: Some(Duration::from_secs(u64::MAX / 2)),
                        })
                    }
                },
                |_, d, _| {
                    assert!(d <= crate::error::MAX_RETRY_AFTER, "{d:?}");
                    c.cancel();
                },
            ),
        )
        .await
        .expect("Cancel did not end the wait");
        assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
        assert_eq!(calls, 1, "the request was sent again after Cancel");
    }

    #[test]
    fn delay_is_capped_and_honours_retry_after() {
        let p = RetryPolicy::default();
        for a in 1..30 {
            assert!(p.delay(a, None) <= p.max_delay);
        }
        assert!(p.delay(1, Some(Duration::from_secs(7))) >= Duration::from_secs(7));
    }
}
