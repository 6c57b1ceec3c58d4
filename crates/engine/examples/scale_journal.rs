//! A journal at lab scale: JOBS jobs of FILES files each (default 100 ×
//! 1,000 = 100,000 files), every file with PARTS acknowledged parts
//! (default 10: 1,000,000 parts). Every tenth job is unfinished, half of
//! them the window's jobs and half the CLI's, with half their files still
//! to send. Printed, not asserted; `tests/bench.sh scale` runs each step
//! under GNU time for its table:
//!
//! - `scale_journal build PATH TREE BACKEND [JOBS FILES PARTS]`: writes
//!   the journal (files taken from the folder TREE, so they exist and a
//!   resume finds them unchanged; CLI jobs go to the Loculus BACKEND) and
//!   prints the id of the newest unfinished CLI job last.
//! - `scale_journal offer PATH`: the window's start-up offer of jobs to
//!   resume (`Queue::unfinished`).
//! - `scale_journal resume PATH JOB`: the journal reads of a resume (the
//!   job with its files and parts, and the plan of what is sent again).

use std::sync::Arc;
use std::time::Instant;

use ferry_engine::EngineConfig;
use ferry_engine::JobKind;
use ferry_engine::journal::Journal;
use ferry_engine::loculus::names::LoculusNames;
use ferry_engine::portal::Upload;
use ferry_engine::queue::Queue;
use ferry_engine::resume::{Step, plan_resume};
use ferry_engine::scan::Item;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> Res<&str> {
        args.get(i).map(String::as_str).ok_or_else(|| {
            "usage: scale_journal build PATH TREE BACKEND [JOBS FILES PARTS] | offer PATH | resume PATH JOB".into()
        })
    };
    let num = |i: usize, d: usize| -> Res<usize> {
        Ok(args.get(i).map(|a| a.parse()).transpose()?.unwrap_or(d))
    };
    match arg(0)? {
        "build" => build(
            arg(1)?,
            arg(2)?,
            arg(3)?,
            num(4, 100)?,
            num(5, 1000)?,
            num(6, 10)? as u32,
        ),
        "offer" => offer(arg(1)?),
        "resume" => resume(arg(1)?, arg(2)?),
        other => Err(format!("unknown step {other}").into()),
    }
}

fn build(path: &str, tree: &str, backend: &str, jobs: usize, files: usize, parts: u32) -> Res<()> {
    let t = Instant::now();
    let _ = std::fs::remove_file(path);
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{ext}"));
    }
    let mut paths = Vec::new();
    ferry_engine::walk::expand(tree.as_ref(), &mut paths, &mut Vec::new());
    if paths.len() < jobs * files {
        return Err(format!(
            "{tree} holds {} files; {jobs} jobs of {files} need {}",
            paths.len(),
            jobs * files
        )
        .into());
    }
    let journal = Journal::open(path.as_ref())?;
    // The set-up writes straight to the journal's tables, a job per
    // transaction: through the engine's recorder every part is its own
    // durable commit, as it must be while sending, and a million of them
    // would take far longer than what is measured.
    let mut db = rusqlite::Connection::open(path)?;
    db.execute_batch("PRAGMA synchronous = OFF;")?;
    let now = ferry_engine::clock::unix_now();
    let mut resume_job = None;
    for j in 0..jobs {
        let unfinished = j % 10 == 9;
        let app = unfinished && (j / 10) % 2 == 0;
        let items: Vec<Item> = paths[j * files..(j + 1) * files]
            .iter()
            .map(|p| {
                let m = std::fs::metadata(p)?;
                Ok(Item {
                    path: p.clone(),
                    name: ferry_engine::scan::name_of(p),
                    size: m.len(),
                    mtime: m.modified().ok(),
                })
            })
            .collect::<std::io::Result<_>>()?;
        let (kind, params) = if app {
            (
                JobKind::App,
                serde_json::json!({"portal_name": "Loculus", "backend": backend, "group": 1, "user": "demo", "target": null}),
            )
        } else {
            (
                JobKind::Upload,
                serde_json::json!({"backend": backend, "group": 1, "parts_in_flight": 8}),
            )
        };
        // The JSON shapes the app and the CLI journal, read as the typed contract.
        let params = ferry_engine::JobParams::from_json(&params.to_string());
        let id = journal.create_job(&kind, &params, &items)?;
        let tx = db.transaction()?;
        {
            let mut upload = tx.prepare(
                "UPDATE files SET state = ?3, upload = ?4, sha256 = ?5, done_at = ?6 WHERE job_id = ?1 AND idx = ?2",
            )?;
            let mut part = tx.prepare(
                "INSERT INTO parts (job_id, idx, remote_id, part, etag) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for i in 0..items.len() {
                let done = !unfinished || i < files / 2;
                let rid = format!("{:08x}-0000-4000-8000-{:012x}", j, i);
                let up = Upload {
                    remote_id: rid.clone(),
                    urls: (1..=parts)
                        .map(|p| format!("{backend}/loculus-files/{rid}?partNumber={p}&uploadId=u{j}x{i}&X-Amz-Expires=1800&X-Amz-Signature={:064x}", p))
                        .collect(),
                    headers: vec![],
                    multipart: true,
                    // Links of yesterday: a resume starts these files over.
                    expires_at: Some(now - 86_400),
                    form: vec![],
                };
                upload.execute(rusqlite::params![
                    id,
                    i as i64,
                    if done { "done" } else { "started" },
                    serde_json::to_string(&up)?,
                    done.then(|| format!("{:064x}", j * files + i)),
                    done.then_some(now as i64),
                ])?;
                for p in 1..=parts {
                    part.execute(rusqlite::params![
                        id,
                        i as i64,
                        rid,
                        p as i64,
                        format!("\"{:032x}\"", (j * files + i) as u64 * 100 + p as u64)
                    ])?;
                }
            }
        }
        tx.execute(
            "UPDATE jobs SET state = ?2 WHERE id = ?1",
            rusqlite::params![id, if unfinished { "running" } else { "done" }],
        )?;
        tx.commit()?;
        if unfinished && !app {
            resume_job = Some(id);
        }
    }
    db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    let size = std::fs::metadata(path)?.len();
    println!(
        "journal: {jobs} jobs, {} files, {} acknowledged parts, {:.0} MB, built in {:.1} s",
        jobs * files,
        jobs * files * parts as usize,
        size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    println!("RESUME {}", resume_job.ok_or("no unfinished CLI job")?);
    Ok(())
}

fn offer(path: &str) -> Res<()> {
    let rt = tokio::runtime::Runtime::new()?;
    let _in = rt.enter();
    let t = Instant::now();
    let journal = Arc::new(Journal::open(path.as_ref())?);
    let queue = Queue::with_journal(EngineConfig::default(), Arc::new(LoculusNames), journal);
    let jobs = queue.unfinished()?;
    // What the window receives.
    let json = serde_json::to_vec(&jobs)?;
    println!(
        "start-up offer: {} unfinished jobs of the window ({} bytes of JSON) in {:.3} s",
        jobs.len(),
        json.len(),
        t.elapsed().as_secs_f64()
    );
    println!("RESULT {:.3} {}", t.elapsed().as_secs_f64(), jobs.len());
    Ok(())
}

fn resume(path: &str, job: &str) -> Res<()> {
    let t = Instant::now();
    let journal = Journal::open(path.as_ref())?;
    let rec = journal.job(job)?.ok_or("no such job")?;
    let read = t.elapsed();
    let steps = plan_resume(&rec);
    let done = steps.iter().filter(|s| matches!(s, Step::Done(_))).count();
    let send = steps
        .iter()
        .filter(|s| matches!(s, Step::Send { .. }))
        .count();
    println!(
        "resume of job {job}: {} files, {} parts read in {:.3} s; planned ({done} accepted, {send} to send) in {:.3} s",
        rec.files.len(),
        rec.files.iter().map(|f| f.parts.len()).sum::<usize>(),
        read.as_secs_f64(),
        (t.elapsed() - read).as_secs_f64()
    );
    println!("RESULT {:.3} {}", t.elapsed().as_secs_f64(), send);
    Ok(())
}
