//! What the window's engine does when a folder of many files is dropped
//! on it: the queue walks it, checks every file (name rules, size,
//! readable, unique name) and lists it, then the rows go to the window as
//! one JSON update. Printed, not asserted (`tests/bench.sh scale` runs it
//! over a folder of 100,000 files nested 3 deep and puts the time and peak
//! memory in its table):
//! `cargo run --release -p ferry-engine --example scale_folder DIR`.

use std::sync::Arc;
use std::time::Instant;

use ferry_engine::EngineConfig;
use ferry_engine::loculus::names::LoculusNames;
use ferry_engine::queue::Queue;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: scale_folder DIR (a folder to add as the window does)")?;
    let rt = tokio::runtime::Runtime::new()?;
    let _in = rt.enter();
    let queue = Queue::new(EngineConfig::default(), Arc::new(LoculusNames));
    let t = Instant::now();
    let added = queue.add(&[dir.into()]);
    let checked = t.elapsed();
    // The window's first update after a drop carries every new row.
    let update = queue.take_update().ok_or("no rows were listed")?;
    let json = serde_json::to_vec(&update)?;
    let listed = t.elapsed();
    println!(
        "added {} files ({} with problems, {:.1} GB): scanned and checked in {:.2} s, listed for the window in {:.2} s ({} rows, {:.1} MB of JSON); total {:.2} s",
        added.files,
        added.problems,
        added.bytes as f64 / 1e9,
        checked.as_secs_f64(),
        (listed - checked).as_secs_f64(),
        update.rows.len(),
        json.len() as f64 / 1e6,
        listed.as_secs_f64()
    );
    // The last line is for the bench's table: seconds and files.
    println!("RESULT {:.3} {}", listed.as_secs_f64(), added.files);
    Ok(())
}
