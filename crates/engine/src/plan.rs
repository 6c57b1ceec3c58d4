//! plan: how one file is cut into requests.

use serde::{Deserialize, Serialize};

pub const MIB: u64 = 1024 * 1024;
pub const GIB: u64 = 1024 * MIB;

/// Limits a portal's storage imposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLimits {
    /// Smallest part except the last (S3: 5 MiB, "EntityTooSmall").
    pub min_part: u64,
    /// Largest part (S3: 5 GiB; BaseSpace: 25 MB).
    pub max_part: u64,
    /// Most parts in one upload (S3 and BaseSpace: 10,000).
    pub max_parts: u32,
    /// Largest single-request upload (S3 PutObject: 5 GiB); 0 when the
    /// portal has no single-request form.
    pub max_single: u64,
    /// Whether the portal has a multipart form at all.
    pub multipart: bool,
}

impl PlanLimits {
    /// Amazon S3's documented limits (UploadPart / PutObject).
    pub const S3: PlanLimits = PlanLimits {
        min_part: 5 * MIB,
        max_part: 5 * GIB,
        max_parts: 10_000,
        max_single: 5 * GIB,
        multipart: true,
    };
}

/// Ferry's choices within the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPrefs {
    /// Files up to this size go in one request. 16 MiB: below that, the
    /// round trips of a multipart upload cost more than parallel parts win.
    pub single_max: u64,
    /// Part size for files that fit in `max_parts` parts of it. 8 MiB is
    /// the AWS CLI's and transfer manager's default chunk size.
    pub part_size: u64,
}

impl Default for PlanPrefs {
    fn default() -> Self {
        PlanPrefs {
            single_max: 16 * MIB,
            part_size: 8 * MIB,
        }
    }
}

/// How a file is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub size: u64,
    pub multipart: bool,
    pub part_size: u64,
    pub parts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{size} bytes do not fit the portal's limits ({why})")]
pub struct TooLarge {
    pub size: u64,
    pub why: String,
}

impl Plan {
    /// Byte range `[start, end)` of part `n` (1-based).
    pub fn range(&self, n: u32) -> (u64, u64) {
        let start = (n as u64 - 1) * self.part_size;
        let end = (start + self.part_size).min(self.size);
        (start, end)
    }
}

/// Choose single or multipart and the part size. Parts grow with the file
/// so that it never needs more than `max_parts`.
pub fn plan(size: u64, limits: &PlanLimits, prefs: &PlanPrefs) -> Result<Plan, TooLarge> {
    let single_max = prefs.single_max.min(limits.max_single);
    if size <= single_max || !limits.multipart {
        if limits.max_single > 0 && size > limits.max_single {
            return Err(TooLarge {
                size,
                why: format!("single uploads are limited to {} bytes", limits.max_single),
            });
        }
        return Ok(Plan {
            size,
            multipart: false,
            part_size: size,
            parts: 1,
        });
    }
    let needed = size.div_ceil(limits.max_parts as u64);
    // Round up to whole MiB so part boundaries stay tidy.
    let grown = needed.div_ceil(MIB) * MIB;
    let part_size = prefs
        .part_size
        .max(grown)
        .max(limits.min_part)
        .min(limits.max_part);
    let parts = size.div_ceil(part_size);
    if parts > limits.max_parts as u64 {
        return Err(TooLarge {
            size,
            why: format!(
                "at most {} parts of at most {} bytes",
                limits.max_parts, limits.max_part
            ),
        });
    }
    Ok(Plan {
        size,
        multipart: true,
        part_size,
        parts: parts as u32,
    })
}

/// How a multipart plan fares against links that expire: presigned part
/// URLs must be *started* before they die (a part that started in time may
/// finish; Loculus contract), and they cannot be re-signed.
#[derive(Debug, Clone, PartialEq)]
pub enum Deadline {
    /// Every part starts in time as planned.
    Fits,
    /// Fewer, larger parts, so the last one starts in time: with `k` parts
    /// in flight, part `n` starts when part `n - k` ends.
    Replanned(Plan),
    /// Even parts of the largest size cannot all start in time with this
    /// many in flight; `in_flight` would do.
    Impossible { in_flight: u32 },
}

/// Share of the link lifetime the plan may use: the rate is an estimate,
/// and a link must still be valid when its part's request goes out.
pub const DEADLINE_MARGIN: f64 = 0.8;

/// Fit `plan` to links valid for `window_secs`, at `rate` bytes/s shared by
/// `in_flight` parts. The last of `P` parts of a file of `S` bytes starts
/// after `(P - k) * S / P` bytes went up, so it needs
/// `P <= k / (1 - W*R/S)`.
pub fn fit_deadline(
    plan: &Plan,
    limits: &PlanLimits,
    rate: f64,
    window_secs: f64,
    in_flight: u32,
) -> Deadline {
    let k = in_flight.max(1) as f64;
    let size = plan.size as f64;
    let reach = DEADLINE_MARGIN * window_secs * rate;
    if !plan.multipart || plan.parts as f64 <= k || reach >= size || rate <= 0.0 {
        return Deadline::Fits;
    }
    let starts_last_at = |parts: f64| (parts - k) / parts * size;
    if starts_last_at(plan.parts as f64) <= reach {
        return Deadline::Fits;
    }
    let max_parts = (k / (1.0 - reach / size)).floor().max(1.0);
    let part_size = (plan.size.div_ceil(max_parts as u64))
        .div_ceil(MIB)
        .saturating_mul(MIB)
        .max(limits.min_part);
    if part_size > limits.max_part {
        // Parts of the largest size; how many must then start together.
        let parts = plan.size.div_ceil(limits.max_part) as f64;
        let need = (parts * (1.0 - reach / size)).ceil() as u32;
        return Deadline::Impossible {
            in_flight: need.max(in_flight + 1),
        };
    }
    let parts = plan.size.div_ceil(part_size) as u32;
    Deadline::Replanned(Plan {
        size: plan.size,
        multipart: true,
        part_size,
        parts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(size: u64) -> Plan {
        plan(size, &PlanLimits::S3, &PlanPrefs::default()).unwrap()
    }

    #[test]
    fn small_files_are_single() {
        assert!(!p(0).multipart);
        assert!(!p(1).multipart);
        assert!(!p(16 * MIB).multipart);
        assert!(p(16 * MIB + 1).multipart);
    }

    #[test]
    fn parts_respect_limits_and_grow() {
        let q = p(16 * MIB + 1);
        assert_eq!((q.part_size, q.parts), (8 * MIB, 3));
        assert_eq!(q.range(3), (16 * MIB, 16 * MIB + 1));
        let big = p(100 * GIB);
        assert!(big.parts <= 10_000);
        assert!(big.part_size > 8 * MIB);
        let huge = p(5 * 1024 * GIB);
        assert!(huge.parts <= 10_000 && huge.part_size <= 5 * GIB);
        assert!(plan(60 * 1024 * GIB, &PlanLimits::S3, &PlanPrefs::default()).is_err());
    }

    #[test]
    fn every_byte_is_in_exactly_one_part() {
        for size in [16 * MIB + 1, 300 * MIB, 80 * GIB + 7] {
            let q = p(size);
            let mut next = 0;
            for n in 1..=q.parts {
                let (s, e) = q.range(n);
                assert_eq!(s, next);
                assert!(e > s);
                if n < q.parts {
                    assert!(e - s >= PlanLimits::S3.min_part);
                }
                next = e;
            }
            assert_eq!(next, size);
        }
    }

    #[test]
    fn deadline_keeps_plans_that_start_in_time() {
        let q = p(300 * MIB);
        // 100 MB/s over 30 minutes reaches far beyond 300 MiB.
        assert_eq!(
            fit_deadline(&q, &PlanLimits::S3, 100e6, 1800.0, 8),
            Deadline::Fits
        );
        let single = p(MIB);
        assert_eq!(
            fit_deadline(&single, &PlanLimits::S3, 1.0, 1.0, 8),
            Deadline::Fits
        );
    }

    #[test]
    fn deadline_replans_big_files_on_slow_links_so_the_last_part_starts_in_time() {
        // 100 GB at 20 MB/s takes 83 min; links live 30 min (the contract's example).
        let size = 100_000_000_000;
        let q = p(size);
        let (rate, window, k) = (20e6, 1800.0, 16);
        let Deadline::Replanned(r) = fit_deadline(&q, &PlanLimits::S3, rate, window, k) else {
            panic!("expected a new plan");
        };
        assert!(r.parts < q.parts && r.part_size <= PlanLimits::S3.max_part);
        assert_eq!(r.parts as u64, size.div_ceil(r.part_size));
        // The last part starts once parts-(k) parts are done: inside the window.
        let last_start = (r.parts - k) as f64 * r.part_size as f64 / rate;
        assert!(last_start <= DEADLINE_MARGIN * window, "{last_start}");
        assert_eq!(
            fit_deadline(&r, &PlanLimits::S3, rate, window, k),
            Deadline::Fits
        );
    }

    #[test]
    fn deadline_says_how_many_in_flight_an_impossible_file_needs() {
        let q = p(100_000_000_000);
        match fit_deadline(&q, &PlanLimits::S3, 20e6, 1800.0, 8) {
            Deadline::Impossible { in_flight } => {
                assert!(in_flight > 8);
                // With that many in flight the file fits.
                let d = fit_deadline(&q, &PlanLimits::S3, 20e6, 1800.0, in_flight);
                assert!(!matches!(d, Deadline::Impossible { .. }), "{d:?}");
            }
            d => panic!("expected impossible, got {d:?}"),
        }
    }
}
