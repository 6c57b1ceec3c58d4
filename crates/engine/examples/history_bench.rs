//! What the upload history costs at start-up with many past jobs: a
//! journal with N jobs (default 10,000) of two accepted files each, their
//! uploads journaled as a multipart Loculus upload keeps them (8 presigned
//! URLs apiece), then the time to open it and load the whole history, as
//! the window's History panel and `ferry jobs --all` do. Printed, not
//! asserted: `cargo run --release -p ferry-engine --example history_bench
//! [N]`.

use std::sync::Arc;
use std::time::Instant;

use ferry_engine::history;
use ferry_engine::journal::Journal;
use ferry_engine::portal::Upload;
use ferry_engine::scan::Item;
use ferry_engine::transfer::Uploaded;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    // On tmpfs where there is one: building the journal commits every step
    // with fsync, which is not what is measured here.
    let base = ["/dev/shm", "/tmp"]
        .into_iter()
        .find(|d| std::path::Path::new(d).is_dir())
        .unwrap_or("/tmp");
    let dir = tempfile::tempdir_in(base)?;
    let path = dir.path().join("journal.sqlite");
    let built = Instant::now();
    {
        let j = Arc::new(Journal::open(&path)?);
        let params = ferry_engine::JobParams::new(ferry_engine::Destination::loculus(
            "https://backend.example.org",
            12,
        ))
        .with_parts_in_flight(8);
        for i in 0..n {
            let items: Vec<Item> = ["R1", "R2"]
                .iter()
                .map(|r| Item {
                    path: format!("/data/run{i:05}/sample{i:05}_{r}.fastq.gz").into(),
                    name: format!("sample{i:05}_{r}.fastq.gz"),
                    size: 1 << 30,
                    mtime: None,
                })
                .collect();
            let job = j.create_job(&ferry_engine::JobKind::Upload, &params, &items)?;
            let rec = j.recorder(&job);
            for (k, it) in items.iter().enumerate() {
                let id = uuid_like(i, k);
                rec.file_started(
                    k,
                    &Upload {
                        remote_id: id.clone(),
                        urls: (1..=8)
                            .map(|p| format!("https://s3.example.org/files/{id}?partNumber={p}&uploadId=abc&X-Amz-Signature={:064x}", p))
                            .collect(),
                        headers: vec![],
                        multipart: true,
                        expires_at: Some(0),
                        form: vec![],
                    },
                )?;
                rec.file_done(
                    k,
                    &Uploaded {
                        path: it.path.clone(),
                        name: it.name.clone(),
                        size: it.size,
                        remote_id: id,
                        sha256: format!("{:064x}", i * 2 + k),
                    },
                )?;
            }
            j.set_job_state(&job, ferry_engine::JobState::Done)?;
        }
    }
    let size = std::fs::metadata(&path)?.len();
    println!(
        "journal: {n} jobs, {} files, {:.1} MB, built in {:.1} s",
        2 * n,
        size as f64 / 1e6,
        built.elapsed().as_secs_f64()
    );
    for run in 1..=3 {
        let t = Instant::now();
        let j = Journal::open(&path)?;
        let opened = t.elapsed();
        let all = history::load(&j, ferry_engine::clock::unix_now())?;
        let loaded = t.elapsed();
        let json = serde_json::to_vec(&all)?;
        let serialized = t.elapsed();
        let hits = all.iter().filter(|b| b.matches("sample09999_R2")).count();
        let searched = t.elapsed();
        println!(
            "run {run}: open {:.1} ms, load {} batches {:.1} ms, as JSON for the window {:.1} ms ({:.1} MB), search {:.1} ms ({hits} hit)",
            opened.as_secs_f64() * 1e3,
            all.len(),
            (loaded - opened).as_secs_f64() * 1e3,
            (serialized - loaded).as_secs_f64() * 1e3,
            json.len() as f64 / 1e6,
            (searched - serialized).as_secs_f64() * 1e3,
        );
    }
    Ok(())
}

fn uuid_like(i: usize, k: usize) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", i, k)
}
