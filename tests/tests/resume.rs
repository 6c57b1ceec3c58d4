//! kill -9 at random points of a multi-file multipart job, then `ferry
//! resume`: every file completes with the right bytes, and only what was
//! in flight at the kill is sent again.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferry_e2e::{SimProc, bin, make_file};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

const MIB: u64 = 1024 * 1024;
/// Parts in flight (ferry's default) times the part size: the most that
/// can be in flight, unacknowledged, when the process dies.
const IN_FLIGHT_BOUND: u64 = 8 * 8 * MIB;

fn sha(p: &std::path::Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

fn stored_bytes(sim: &SimProc) -> u64 {
    sim.state()["storage_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "PUT")
        .map(|r| r["body_bytes"].as_u64().unwrap())
        .sum()
}

fn ferry_cmd(sim: &SimProc, journal: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin("ferry"));
    c.args(args)
        .env("FERRY_TOKEN", sim.token())
        .env("FERRY_JOURNAL", journal)
        .stdin(Stdio::null());
    c
}

#[test]
fn kill_nine_then_resume_resends_only_parts_in_flight() {
    let seed: u64 = std::env::var("FERRY_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    println!("kill seed {seed} (replay with FERRY_KILL_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let files = [
        make_file(dir.path(), "run1_R1.fastq.gz", (40 * MIB) as usize, 1),
        make_file(dir.path(), "run1_R2.fastq.gz", (33 * MIB + 17) as usize, 2),
        make_file(dir.path(), "run1_notes.txt", 300_000, 3),
        make_file(dir.path(), "run2_R1.fastq.gz", (24 * MIB + 1) as usize, 4),
    ];
    let total: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let hashes: Vec<String> = files.iter().map(|f| sha(f)).collect();
    let backend = sim.backend();
    let mut args = vec![
        "upload",
        "-q",
        "--backend",
        backend.as_str(),
        "--group",
        "1",
    ];
    let paths: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));

    // One clean run, to know how long a job takes.
    let journal = dir.path().join("baseline.sqlite");
    let t = Instant::now();
    let out = ferry_cmd(&sim, &journal, &args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let full = t.elapsed();

    let mut report = vec![format!(
        "seed {seed}; job of {} files, {total} bytes; clean run {} ms",
        files.len(),
        full.as_millis()
    )];
    // Ten kills that land mid-job (a kill after the end does not count).
    let mut kills = 0;
    for k in 0..20 {
        if kills == 10 {
            break;
        }
        let journal = dir.path().join(format!("kill{k}.sqlite"));
        let before = stored_bytes(&sim);
        let kill_at =
            Duration::from_millis(rng.random_range(30..(full.as_millis() as u64 * 4 / 5).max(60)));
        let mut child = ferry_cmd(&sim, &journal, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(kill_at);
        let finished_first = child.try_wait().unwrap().is_some();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let out = ferry_cmd(&sim, &journal, &["resume"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if finished_first {
            report.push(format!(
                "kill {k} at {} ms: job had finished",
                kill_at.as_millis()
            ));
            continue;
        }
        kills += 1;
        assert!(
            out.status.success(),
            "kill {k} (seed {seed}): resume failed: {stderr}"
        );
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: Vec<Vec<&str>> = stdout.lines().map(|l| l.split('\t').collect()).collect();
        assert_eq!(
            lines.len(),
            files.len(),
            "kill {k} (seed {seed}): {stdout}{stderr}"
        );
        for (cols, (path, hash)) in lines.iter().zip(files.iter().zip(&hashes)) {
            assert_eq!(cols[2], path.to_str().unwrap());
            assert_eq!(cols[1], hash);
            let obj: serde_json::Value =
                reqwest::blocking::get(format!("{backend}/_sim/object/{}", cols[0]))
                    .unwrap()
                    .json()
                    .unwrap();
            assert_eq!(
                &obj["sha256"],
                hash,
                "kill {k} (seed {seed}): bytes stored for {}",
                path.display()
            );
        }
        let sent = stored_bytes(&sim) - before;
        let resent = sent.saturating_sub(total);
        report.push(format!(
            "kill {k} at {:>5} ms: {:>9} bytes re-sent ({:.1} MiB); {}",
            kill_at.as_millis(),
            resent,
            resent as f64 / MIB as f64,
            stderr
                .lines()
                .find(|l| l.contains("resuming"))
                .unwrap_or("")
                .trim()
        ));
        assert!(
            resent <= IN_FLIGHT_BOUND,
            "kill {k} (seed {seed}): {resent} bytes re-sent, more than the {IN_FLIGHT_BOUND} that can be in flight"
        );
    }
    assert_eq!(kills, 10, "ten kills mid-job (seed {seed})");
    let text = report.join("\n");
    println!("{text}");
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("resume-kills.txt"), text + "\n").unwrap();
}

/// Start `ferry upload FILE` and kill -9 it after `after`.
fn upload_then_kill(
    sim: &SimProc,
    journal: &std::path::Path,
    file: &std::path::Path,
    after: Duration,
) {
    let backend = sim.backend();
    let mut child = ferry_cmd(
        sim,
        journal,
        &[
            "upload",
            "-q",
            "--backend",
            &backend,
            "--group",
            "1",
            file.to_str().unwrap(),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    std::thread::sleep(after);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn expired_urls_restart_the_file_under_a_new_id_and_say_so() {
    let sim = SimProc::start(&["--url-expiry-secs", "3"]);
    let dir = tempfile::tempdir().unwrap();
    let f = make_file(dir.path(), "late_R1.fastq.gz", (30 * MIB) as usize, 7);
    let journal = dir.path().join("j.sqlite");
    let backend = sim.backend();
    // Hold the parts so the job is still running when it is killed.
    // 30 MiB = 4 parts, all held by the first run.
    sim.fault(serde_json::json!({"target": "storage", "fault": {"kind": "stall", "millis": 1500}, "count": 4}));
    upload_then_kill(&sim, &journal, &f, Duration::from_millis(700));
    std::thread::sleep(Duration::from_millis(3500));
    let out = ferry_cmd(&sim, &journal, &["resume"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("late_R1.fastq.gz") && stderr.contains("expired"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let id = stdout.split('\t').next().unwrap();
    let first = sim.state()["files"].as_array().unwrap()[0]["file_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(id, first, "a new fileId");
    let obj: serde_json::Value = reqwest::blocking::get(format!("{backend}/_sim/object/{id}"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(obj["sha256"], sha(&f));
}

#[test]
fn a_file_changed_between_kill_and_resume_is_refused() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let f = make_file(dir.path(), "edited.fq", (20 * MIB) as usize, 9);
    let journal = dir.path().join("j.sqlite");
    sim.fault(serde_json::json!({"target": "storage", "fault": {"kind": "stall", "millis": 3000}, "count": 3}));
    upload_then_kill(&sim, &journal, &f, Duration::from_millis(800));
    std::fs::write(&f, b"a different file now").unwrap();
    let out = ferry_cmd(&sim, &journal, &["resume"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("edited.fq") && err.contains("start a new upload"),
        "{err}"
    );
    let jobs = ferry_cmd(&sim, &journal, &["jobs"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&jobs.stdout).contains("upload"),
        "the job stays listed"
    );
}
