//! deadline: will every part of an upload *start* before its links expire?
//!
//! A discrete-event model of what really happens on an uplink: at most `k`
//! parts are in flight, the ones in flight share one bottleneck equally
//! (processor sharing, as TCP flows on one bottleneck roughly do), each at
//! most `per_connection` bytes/s when a cap is given, and the next part
//! starts the moment one ends. The planner below only accepts plans this
//! model says start in time, and the tests use the same model as the oracle.

use crate::plan::{MIB, Plan, PlanLimits};

/// Share of the link lifetime a plan may use: the rate is an estimate, and
/// a link must still be valid when its part's request goes out.
pub const MARGIN: f64 = 0.8;

/// Most parts in flight the planner may give one file to make it fit its
/// links, whatever the configured number: more connections only add
/// parts that start at once (each up to 5 GiB), so the reach grows by the
/// part size per connection, and 32 is still a modest load for a storage
/// service (browsers open 6 per host, S3 tools 10 to 64).
pub const MAX_IN_FLIGHT: u32 = 32;

/// The bottleneck the parts share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// Bytes/s shared by every part in flight.
    pub rate: f64,
    /// Bytes/s one connection can reach on its own, if less than `rate`.
    pub per_connection: Option<f64>,
}

impl Link {
    pub fn shared(rate: f64) -> Link {
        Link {
            rate,
            per_connection: None,
        }
    }

    /// Each of `n` parts in flight moves at this many bytes/s.
    fn each(&self, n: usize) -> f64 {
        let fair = self.rate / n.max(1) as f64;
        self.per_connection.map_or(fair, |c| fair.min(c))
    }
}

/// Seconds after the links are issued at which each of `parts` (sizes, in
/// sending order) starts, with `k` parts in flight. `ahead` are the bytes
/// still to go of parts of other files already in flight: they hold slots
/// and share the link. A part that never starts (no rate) gets infinity.
pub fn starts(parts: &[u64], ahead: &[u64], k: u32, link: &Link) -> Vec<f64> {
    let k = k.max(1) as usize;
    // (remaining bytes, index into `parts` or None for a part ahead)
    let mut active: Vec<(f64, Option<usize>)> = Vec::with_capacity(k);
    let mut queue = ahead
        .iter()
        .map(|b| (*b as f64, None))
        .chain(parts.iter().enumerate().map(|(i, b)| (*b as f64, Some(i))));
    let mut out = vec![f64::INFINITY; parts.len()];
    let mut now = 0.0_f64;
    let mut pending = queue.next();
    loop {
        while active.len() < k {
            let Some((bytes, idx)) = pending.take() else {
                break;
            };
            if let Some(i) = idx {
                out[i] = now;
            }
            active.push((bytes, idx));
            pending = queue.next();
        }
        if pending.is_none() {
            return out;
        }
        let each = link.each(active.len());
        if each <= 0.0 || !each.is_finite() {
            return out;
        }
        let least = active.iter().map(|a| a.0).fold(f64::INFINITY, f64::min);
        now += least / each;
        // Parts whose remainder equals the least one (to rounding) end now.
        let done = least + least.abs() * 1e-12 + 1e-9;
        active.retain(|a| a.0 > done);
        for a in &mut active {
            a.0 -= least;
        }
    }
}

/// Sizes of a plan's parts, in order.
pub fn part_sizes(plan: &Plan) -> Vec<u64> {
    (1..=plan.parts)
        .map(|n| {
            let (s, e) = plan.range(n);
            e - s
        })
        .collect()
}

/// Whether every part of `plan` starts within [`MARGIN`] of `window_secs`.
pub fn fits(plan: &Plan, ahead: &[u64], k: u32, link: &Link, window_secs: f64) -> bool {
    if plan.parts <= 1 && ahead.len() < k.max(1) as usize {
        return true; // starts at once
    }
    let last = starts(&part_sizes(plan), ahead, k, link)
        .into_iter()
        .fold(0.0, f64::max);
    last <= MARGIN * window_secs
}

/// What the planner decided for one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Fit {
    /// The plan as given starts every part in time.
    Fits,
    /// This plan does, with this many parts in flight for the file.
    Replanned { plan: Plan, in_flight: u32 },
    /// Nothing within the limits does: do not send it.
    Impossible(Refusal),
}

/// Why a file cannot reach the portal before its links expire, and what
/// would change that.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The largest file that can, at this rate with up to [`MAX_IN_FLIGHT`]
    /// parts in flight.
    pub largest: u64,
    /// Parts in flight that would make it fit, if any number can.
    pub in_flight: Option<u32>,
    /// The shared rate (bytes/s) with which it would fit at the cap.
    pub rate: f64,
}

/// The parts for `size` bytes cut into about `parts` parts within the
/// limits (whole MiB, at least the minimum part), or `None` when that
/// needs parts larger than the storage takes.
fn cut(size: u64, parts: u64, limits: &PlanLimits) -> Option<Plan> {
    let part_size = size
        .div_ceil(parts.max(1))
        .div_ceil(MIB)
        .saturating_mul(MIB)
        .max(limits.min_part);
    if part_size > limits.max_part {
        return None;
    }
    Some(Plan {
        size,
        multipart: true,
        part_size,
        parts: size.div_ceil(part_size) as u32,
    })
}

/// The plan with the most parts (at most `preferred.parts`) that fits with
/// `k` in flight, checked by the model.
fn best_with(
    preferred: &Plan,
    limits: &PlanLimits,
    link: &Link,
    window: f64,
    k: u32,
    ahead: &[u64],
) -> Option<Plan> {
    if fits(preferred, ahead, k, link, window) {
        return Some(preferred.clone());
    }
    let size = preferred.size;
    let fewest = size.div_ceil(limits.max_part).max(1);
    let ok = |n: u64| cut(size, n, limits).filter(|p| fits(p, ahead, k, link, window));
    // Parts go in waves of k that end together: within one number of
    // waves, more (smaller) parts start earlier, so full waves are the
    // candidates; fewer waves start earlier still.
    let full = fewest.div_ceil(k as u64) * k as u64;
    let mut lo = if full < preferred.parts as u64 && ok(full).is_some() {
        full
    } else {
        ok(fewest)?;
        fewest
    };
    // Then the most parts that fit.
    let mut hi = preferred.parts as u64;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if ok(mid).is_some() {
            lo = mid
        } else {
            hi = mid
        }
    }
    ok(lo)
}

/// Fit a multipart `plan` to links valid for `window_secs`, with `k` parts
/// in flight configured and `ahead` bytes of other parts in flight. Only
/// plans the model accepts come back; more parts in flight (up to
/// [`MAX_IN_FLIGHT`]) only when no plan fits with `k`.
pub fn fit(
    plan: &Plan,
    limits: &PlanLimits,
    link: &Link,
    window_secs: f64,
    k: u32,
    ahead: &[u64],
) -> Fit {
    let k = k.max(1);
    if !plan.multipart {
        return Fit::Fits;
    }
    if let Some(p) = best_with(plan, limits, link, window_secs, k, ahead) {
        return if &p == plan {
            Fit::Fits
        } else {
            Fit::Replanned {
                plan: p,
                in_flight: k,
            }
        };
    }
    for more in k + 1..=MAX_IN_FLIGHT.max(k) {
        if let Some(p) = best_with(plan, limits, link, window_secs, more, ahead) {
            return Fit::Replanned {
                plan: p,
                in_flight: more,
            };
        }
    }
    Fit::Impossible(refusal(plan, limits, link, window_secs, k, ahead))
}

fn refusal(
    plan: &Plan,
    limits: &PlanLimits,
    link: &Link,
    window: f64,
    k: u32,
    ahead: &[u64],
) -> Refusal {
    let cap = MAX_IN_FLIGHT.max(k);
    let fits_size = |size: u64| {
        size <= limits.min_part
            || cut(size, size.div_ceil(limits.max_part), limits)
                .is_some_and(|p| fits(&p, ahead, cap, link, window))
    };
    // Largest size: binary search (larger files never start earlier).
    let (mut lo, mut hi) = (0u64, plan.size);
    while hi - lo > MIB {
        let mid = lo + (hi - lo) / 2;
        if fits_size(mid) { lo = mid } else { hi = mid }
    }
    let largest = lo / MIB * MIB;
    // With parts of the largest size all in flight at once the file
    // starts at once, unless that is more than the storage takes.
    let biggest = cut(plan.size, plan.size.div_ceil(limits.max_part), limits);
    let in_flight = biggest.as_ref().and_then(|p| {
        (p.parts <= limits.max_parts).then(|| {
            // Enough for every part (and those ahead) to start at once.
            let all = p.parts + ahead.len() as u32;
            let (mut lo, mut hi) = (cap, all.max(cap + 1));
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if fits(p, ahead, mid, link, window) {
                    hi = mid
                } else {
                    lo = mid
                }
            }
            hi
        })
    });
    let mut rate = link.rate.max(1.0);
    if let Some(p) = &biggest {
        let at = |r: f64| {
            fits(
                p,
                ahead,
                cap,
                &Link {
                    rate: r,
                    per_connection: link.per_connection.map(|c| c * r / link.rate.max(1.0)),
                },
                window,
            )
        };
        let mut hi = rate;
        while !at(hi) && hi < 1e15 {
            hi *= 2.0;
        }
        let mut lo = hi / 2.0;
        for _ in 0..30 {
            let mid = (lo + hi) / 2.0;
            if at(mid) { hi = mid } else { lo = mid }
        }
        rate = hi;
    }
    Refusal {
        largest,
        in_flight,
        rate,
    }
}

/// The largest file that reaches the portal before links of `window_secs`
/// expire at `rate` with `k` parts in flight, choosing the best plan for it
/// (the bench table).
pub fn reach(limits: &PlanLimits, link: &Link, window_secs: f64, k: u32) -> u64 {
    // Any plan of the planner's: fewer, larger parts or (on fast links)
    // smaller ones in several waves.
    let prefs = crate::plan::PlanPrefs::default();
    let ok = |size: u64| match crate::plan::plan(size, limits, &prefs) {
        Ok(p) => !p.multipart || best_with(&p, limits, link, window_secs, k, &[]).is_some(),
        Err(_) => false,
    };
    let (mut lo, mut hi) = (
        0u64,
        limits.max_part.saturating_mul(limits.max_parts as u64),
    );
    while hi - lo > MIB {
        let mid = lo + (hi - lo) / 2;
        if ok(mid) { lo = mid } else { hi = mid }
    }
    lo
}

/// The largest file a sender that sends parts of `part_size` one after the
/// other (the Loculus website: 10 MiB, strictly sequential, every URL
/// asked for up front) gets through before its links expire.
pub fn reach_sequential(part_size: u64, link: &Link, window_secs: f64) -> u64 {
    // Part n starts after n-1 parts at the full rate; the last may start
    // at the very end of the lifetime (no margin: the website keeps none).
    let per_part = part_size as f64 / link.each(1);
    let parts = (window_secs / per_part).floor() as u64 + 1;
    parts * part_size
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{GIB, PlanPrefs, plan};

    fn p(size: u64) -> Plan {
        plan(size, &PlanLimits::S3, &PlanPrefs::default()).unwrap()
    }

    #[test]
    fn parts_that_start_together_finish_together() {
        // 4 parts of 10 bytes, 2 in flight, 10 B/s shared: the first wave
        // of 2 takes 2 s, the second starts then.
        let s = starts(&[10, 10, 10, 10], &[], 2, &Link::shared(10.0));
        assert_eq!(s, vec![0.0, 0.0, 2.0, 2.0]);
        // A short last part of the first wave frees its slot early.
        let s = starts(&[10, 2, 10], &[], 2, &Link::shared(10.0));
        assert!((s[2] - 0.4).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn a_per_connection_cap_leaves_the_link_unfilled() {
        let link = Link {
            rate: 100.0,
            per_connection: Some(10.0),
        };
        let s = starts(&[10, 10, 10], &[], 2, &link);
        assert_eq!(s, vec![0.0, 0.0, 1.0]);
    }

    #[test]
    fn parts_of_other_files_hold_slots_and_share_the_link() {
        // 1 slot taken by 20 bytes ahead, 2 in flight at 10 B/s: ours
        // starts at once, the next when the first of the two ends (2 s).
        let s = starts(&[10, 10], &[20], 2, &Link::shared(10.0));
        assert_eq!(s, vec![0.0, 2.0]);
    }

    #[test]
    fn the_issue_example_is_refused_by_the_old_formula_and_fitted_now() {
        // 400 MB, 10 s links, 16.5 MB/s, 8 in flight: the old plan of 11
        // parts of 37 MiB starts part 9 after the first wave, ~18 s.
        let q = Plan {
            size: 400_000_000,
            multipart: true,
            part_size: 37 * MIB,
            parts: 11,
        };
        let link = Link::shared(16.5e6);
        assert!(!fits(&q, &[], 8, &link, 10.0));
        match fit(&p(400_000_000), &PlanLimits::S3, &link, 10.0, 8, &[]) {
            Fit::Replanned { plan, in_flight } => {
                assert!(plan.parts <= in_flight, "{plan:?} {in_flight}");
                assert!(fits(&plan, &[], in_flight, &link, 10.0));
            }
            f => panic!("{f:?}"),
        }
    }

    #[test]
    fn ten_gb_at_two_mb_per_s_with_30_minute_links() {
        // The issue: 11 parts of 900 MB never fit. The model finds one.
        let link = Link::shared(2e6);
        match fit(&p(10_000_000_000), &PlanLimits::S3, &link, 1800.0, 8, &[]) {
            Fit::Replanned { plan, in_flight } => {
                assert!(fits(&plan, &[], in_flight, &link, 1800.0), "{plan:?}");
                assert_eq!(in_flight, 8);
            }
            f => panic!("{f:?}"),
        }
    }

    #[test]
    fn a_file_too_big_is_refused_with_the_largest_that_fits_and_what_would_help() {
        // At 2 MB/s nothing after the first wave of 5 GiB parts starts in
        // 30 min: at most 32 of them, 160 GiB; 300 GiB needs 60 in flight.
        let link = Link::shared(2e6);
        let Fit::Impossible(r) = fit(&p(300 * GIB), &PlanLimits::S3, &link, 1800.0, 8, &[]) else {
            panic!("expected a refusal");
        };
        assert!(
            r.largest < 300 * GIB && r.largest >= 32 * 5 * GIB - MIB,
            "{r:?}"
        );
        assert!(matches!(
            fit(&p(r.largest), &PlanLimits::S3, &link, 1800.0, 8, &[]),
            Fit::Replanned { .. } | Fit::Fits
        ));
        let k = r.in_flight.expect("some number of parts in flight fits");
        assert!(k > MAX_IN_FLIGHT);
        assert!(r.rate > 2e6);
    }

    #[test]
    fn reachable_sizes_beat_the_website_on_slow_links() {
        // Equal parts: a first wave of k parts of up to 5 GiB starts at
        // once, later waves only when a whole wave is done.
        for rate in [2e6, 10e6, 100e6] {
            let link = Link::shared(rate);
            let ours = reach(&PlanLimits::S3, &link, 1800.0, 8);
            let more = reach(&PlanLimits::S3, &link, 1800.0, MAX_IN_FLIGHT);
            let website = reach_sequential(10 * MIB, &link, 1800.0);
            assert!(ours >= 8 * 5 * GIB - MIB, "{rate}: {ours}");
            assert!(more >= ours, "{rate}: {more} < {ours}");
            if rate < 50e6 {
                assert!(ours > 2 * website, "{rate}: {ours} vs {website}");
            }
        }
    }
}
