//! Property tests of the deadline model: for random sizes, rates, link
//! lifetimes and parts in flight, no plan the planner accepts has a part
//! that starts late in the model, every plan stays within the storage's
//! limits, and a refusal's "largest size that can" really can.

use ferry_engine::deadline::{Fit, Link, MARGIN, fit, part_sizes, starts};
use ferry_engine::plan::{GIB, MIB, Plan, PlanLimits, PlanPrefs, plan};
use proptest::prelude::*;

fn last_start(p: &Plan, ahead: &[u64], k: u32, link: &Link) -> f64 {
    starts(&part_sizes(p), ahead, k, link)
        .into_iter()
        .fold(0.0, f64::max)
}

fn within_limits(p: &Plan, size: u64, l: &PlanLimits) {
    assert_eq!(p.size, size);
    assert!(p.parts >= 1 && p.parts <= l.max_parts, "{p:?}");
    assert!(
        p.part_size <= l.max_part && p.part_size >= l.min_part,
        "{p:?}"
    );
    assert_eq!(p.parts as u64, size.div_ceil(p.part_size), "{p:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn no_accepted_plan_has_a_late_part(
        size in 17 * MIB..400 * GIB,
        rate in 2e5f64..2e8,
        cap in proptest::option::of(1e5f64..5e7),
        window in 2.0f64..7200.0,
        k in 1u32..24,
        ahead in proptest::collection::vec(0u64..2 * GIB, 0..4),
    ) {
        let limits = PlanLimits::S3;
        let preferred = plan(size, &limits, &PlanPrefs::default()).unwrap();
        let link = Link { rate, per_connection: cap };
        let ahead: Vec<u64> = ahead.into_iter().take(k.saturating_sub(1) as usize).collect();
        match fit(&preferred, &limits, &link, window, k, &ahead) {
            Fit::Fits => {
                prop_assert!(last_start(&preferred, &ahead, k, &link) <= MARGIN * window);
            }
            Fit::Replanned { plan, in_flight } => {
                within_limits(&plan, size, &limits);
                prop_assert!(in_flight >= k);
                prop_assert!(plan.parts <= preferred.parts);
                let late = last_start(&plan, &ahead, in_flight, &link);
                prop_assert!(late <= MARGIN * window, "{plan:?} k={in_flight}: {late} s > {window} s");
            }
            Fit::Impossible(r) => {
                prop_assert!(r.largest < size);
                // The largest size it names is accepted.
                if r.largest > 16 * MIB {
                    let q = plan(r.largest, &limits, &PlanPrefs::default()).unwrap();
                    let named = fit(&q, &limits, &link, window, k, &ahead);
                    prop_assert!(!matches!(named, Fit::Impossible(_)), "{r:?}: {named:?}");
                }
                prop_assert!(r.rate >= rate);
            }
        }
    }

    #[test]
    fn starts_are_in_order_and_the_first_wave_starts_at_once(
        sizes in proptest::collection::vec(1u64..1000, 1..60),
        k in 1u32..10,
        rate in 1.0f64..1e4,
    ) {
        let s = starts(&sizes, &[], k, &Link::shared(rate));
        for w in s.windows(2) {
            prop_assert!(w[0] <= w[1]);
        }
        for t in s.iter().take(k as usize) {
            prop_assert_eq!(*t, 0.0);
        }
        // Nothing starts later than all the bytes before it take at the full rate.
        let mut before = 0u64;
        for (t, b) in s.iter().zip(&sizes) {
            prop_assert!(*t <= before as f64 / rate + 1e-6);
            before += b;
        }
    }
}
