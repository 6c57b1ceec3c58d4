//! The largest file that reaches Loculus before its 30-minute upload links
//! expire, by uplink speed: Ferry's plans (checked by the deadline model)
//! against the Loculus website's strictly sequential 10 MiB parts. Printed
//! as a Markdown table by `tests/bench.sh`.

use ferry_engine::DEFAULT_PARTS_IN_FLIGHT;
use ferry_engine::deadline::{Link, MAX_IN_FLIGHT, reach, reach_sequential};
use ferry_engine::plan::{MIB, PlanLimits};

fn main() {
    let window = 1800.0;
    println!(
        "| uplink | website (10 MiB parts, one at a time) | Ferry, {DEFAULT_PARTS_IN_FLIGHT} in flight (the default) | Ferry, {MAX_IN_FLIGHT} in flight |"
    );
    println!("|---:|---:|---:|---:|");
    for rate in [2e6, 10e6, 100e6] {
        let link = Link::shared(rate);
        let gb = |b: u64| format!("{:.1} GB", b as f64 / 1e9);
        println!(
            "| {:.0} MB/s | {} | {} | {} |",
            rate / 1e6,
            gb(reach_sequential(10 * MIB, &link, window)),
            gb(reach(
                &PlanLimits::S3,
                &link,
                window,
                DEFAULT_PARTS_IN_FLIGHT as u32
            )),
            gb(reach(&PlanLimits::S3, &link, window, MAX_IN_FLIGHT)),
        );
    }
}
