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
    /// One request for the whole file.
    pub fn single(size: u64) -> Plan {
        Plan {
            size,
            multipart: false,
            part_size: size,
            parts: 1,
        }
    }

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
        return Ok(Plan::single(size));
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

// Whether a plan's parts all start before their links expire is the
// deadline model's job (`crate::deadline`).

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
}
