//! One bandwidth limit for the whole process: every part of every file
//! draws from the same bucket (the `governor` crate's GCRA), so a lab on a
//! shared uplink gets the rate it asked for however many parts are in
//! flight. Process-wide because the CLI and the app each run one upload
//! queue, and a limit per engine would multiply with engines.

use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// A parse error of a rate such as `20M`.
#[derive(Debug, thiserror::Error)]
#[error(
    "not a rate: {0:?} (bytes per second, with an optional K, M or G: 500K, 20M, 1.5G; 0 or \"off\" for no limit)"
)]
pub struct BadRate(pub String);

struct Limit {
    bytes_per_sec: u64,
    limiter: DefaultDirectRateLimiter,
    /// The most one call may take at once (the bucket's size).
    burst: u32,
}

static LIMIT: RwLock<Option<Arc<Limit>>> = RwLock::new(None);

/// Sets (or with `None`, lifts) the limit, in bytes per second. Parts
/// already sending follow the new limit from their next piece.
pub fn set_limit(bytes_per_sec: Option<u64>) {
    let limit = bytes_per_sec.filter(|b| *b > 0).map(|b| {
        // Cells are bytes; governor counts them in u32. A bucket of a
        // tenth of a second keeps the rate even over any second, yet holds
        // at least one read piece (256 KiB).
        let rate = u32::try_from(b).unwrap_or(u32::MAX);
        let burst = (rate / 10).max(256 * 1024);
        let quota = Quota::per_second(NonZeroU32::new(rate).expect("rate > 0"))
            .allow_burst(NonZeroU32::new(burst).expect("burst > 0"));
        Arc::new(Limit {
            bytes_per_sec: b,
            limiter: RateLimiter::direct(quota),
            burst,
        })
    });
    *LIMIT.write().unwrap_or_else(|e| e.into_inner()) = limit;
}

/// The limit in force, in bytes per second.
pub fn limit() -> Option<u64> {
    current().map(|l| l.bytes_per_sec)
}

fn current() -> Option<Arc<Limit>> {
    LIMIT.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Waits until `n` more bytes may go out under the limit (at once when
/// there is none).
pub async fn take(n: u64) {
    let Some(l) = current() else { return };
    let mut left = n;
    while left > 0 {
        let now = left.min(l.burst as u64) as u32;
        if let Some(cells) = NonZeroU32::new(now) {
            // `now` <= burst, so the bucket can always hold it.
            let _ = l.limiter.until_n_ready(cells).await;
        }
        left -= now as u64;
    }
}

/// `20M`, `500K`, `1.5G`, `1048576`: bytes per second, K/M/G in powers
/// of 1024 as curl's `--limit-rate` counts them. `0`, `off` or empty: no
/// limit.
pub fn parse(s: &str) -> Result<Option<u64>, BadRate> {
    let t = s.trim();
    if t.is_empty() || t == "0" || t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let t = t.trim_end_matches("/s").trim_end_matches(['B', 'b']);
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(BadRate(s.into())),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let v: f64 = num.trim().parse().map_err(|_| BadRate(s.into()))?;
    if !v.is_finite() || v < 0.0 {
        return Err(BadRate(s.into()));
    }
    let b = (v * mult as f64).round() as u64;
    Ok((b > 0).then_some(b))
}

/// `20.0 MiB/s`, for the stats line.
pub fn show(bytes_per_sec: u64) -> String {
    let b = bytes_per_sec as f64;
    if b >= (1 << 30) as f64 {
        format!("{:.1} GiB/s", b / (1u64 << 30) as f64)
    } else if b >= (1 << 20) as f64 {
        format!("{:.1} MiB/s", b / (1u64 << 20) as f64)
    } else {
        format!("{:.0} KiB/s", b / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_as_curl_writes_them() {
        assert_eq!(parse("20M").unwrap(), Some(20 << 20));
        assert_eq!(parse("500k").unwrap(), Some(500 << 10));
        assert_eq!(parse("1.5G").unwrap(), Some(3 << 29));
        assert_eq!(parse("2MB/s").unwrap(), Some(2 << 20));
        assert_eq!(parse("4096").unwrap(), Some(4096));
        assert_eq!(parse("off").unwrap(), None);
        assert_eq!(parse("0").unwrap(), None);
        for bad in ["fast", "20X", "-1M", "M", "NaNM", "1e400"] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("20M"), "{bad}: {e}");
        }
        assert_eq!(show(20 << 20), "20.0 MiB/s");
    }
}
