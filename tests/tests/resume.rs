//! kill -9 at random points of a multi-file multipart job, then `ferry
//! resume`: every file completes with the right bytes, and only what was
//! in flight at the kill is sent again. Also: a submit whose answer was
//! lost is never submitted twice, `ferry abort`, and files that change.

use ferry_e2e::sha;
use ferry_e2e::text;
use std::process::Stdio;
use std::time::{Duration, Instant};

use ferry_e2e::{SimProc, make_file};
use rand::{Rng, SeedableRng};

const MIB: u64 = 1024 * 1024;
/// Parts ferry sends at the same time (its default,
/// `ferry_engine::DEFAULT_PARTS_IN_FLIGHT`; this crate drives the binaries
/// only): at most this many can be in flight, unacknowledged, when the
/// process dies.
const PARTS_IN_FLIGHT: usize = 8;

/// (fileId, part number) of a storage request; a single PUT is part 1.
type Key = (String, u32);

/// One PUT the storage host logged.
struct Put {
    key: Key,
    multipart: bool,
    ok: bool,
    bytes: u64,
}

fn puts(state: &serde_json::Value) -> Vec<Put> {
    state["storage_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "PUT")
        .map(|r| {
            let path = r["path"].as_str().unwrap();
            let id = path.rsplit('/').next().unwrap().to_string();
            let part = r["query"]
                .as_str()
                .unwrap()
                .split('&')
                .find_map(|kv| kv.strip_prefix("partNumber="))
                .and_then(|n| n.parse().ok());
            Put {
                key: (id, part.unwrap_or(1)),
                multipart: part.is_some(),
                ok: r["status"] == 200,
                bytes: r["body_bytes"].as_u64().unwrap(),
            }
        })
        .collect()
}

/// The sim's state once a killed client's last requests have settled
/// (a part whose body had fully arrived may still be stored after the kill).
fn settled(sim: &SimProc) -> serde_json::Value {
    let mut last = sim.state();
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(40));
        let now = sim.state();
        if now["storage_log"] == last["storage_log"] {
            return now;
        }
        last = now;
    }
    panic!("the storage log kept changing after the kill");
}

/// A file as journaled: path, state, and its upload (fileId, multipart).
type JFile = (String, String, Option<(String, bool)>);

/// What a killed run's journal holds: per file (by path) its state and
/// upload (fileId, multipart), and every acknowledged part.
struct Journaled {
    files: Vec<JFile>,
    parts: std::collections::BTreeSet<Key>,
}

fn read_journal(path: &std::path::Path) -> Option<Journaled> {
    let c = rusqlite::Connection::open(path).ok()?;
    let mut st = c
        .prepare("SELECT path, state, upload FROM files ORDER BY idx")
        .ok()?;
    let files = st
        .query_map([], |r| {
            let upload: Option<String> = r.get(2)?;
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                upload.map(|u| {
                    let v: serde_json::Value = serde_json::from_str(&u).unwrap();
                    (
                        v["remote_id"].as_str().unwrap().to_string(),
                        v["multipart"].as_bool().unwrap(),
                    )
                }),
            ))
        })
        .ok()?
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    let mut st = c.prepare("SELECT remote_id, part FROM parts").ok()?;
    let parts = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))
        .ok()?
        .collect::<Result<_, _>>()
        .ok()?;
    (!files.is_empty()).then_some(Journaled { files, parts })
}

fn api_posts(state: &serde_json::Value, from: usize, needle: &str) -> usize {
    state["api_log"].as_array().unwrap()[from..]
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"].as_str().unwrap().contains(needle))
        .count()
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

    // One clean run, to know how long a job takes and which files go in parts.
    let journal = dir.path().join("baseline.sqlite");
    let t = Instant::now();
    let out = sim.ferry_cmd(&journal, &args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let full = t.elapsed();
    let clean = puts(&sim.state());
    let multipart: Vec<bool> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let id = l.split('\t').next().unwrap();
            clean.iter().any(|p| p.key.0 == id && p.multipart)
        })
        .collect();
    assert_eq!(
        multipart,
        vec![true, true, false, true],
        "which files go in parts"
    );

    let mut report = vec![
        format!(
            "seed {seed} (replay with FERRY_KILL_SEED={seed}); job of {} files, {:.1} MiB; clean run {} ms; at most {PARTS_IN_FLIGHT} parts in flight",
            files.len(),
            total as f64 / MIB as f64,
            full.as_millis()
        ),
        "kill  at_ms  acked_MiB  in_flight_MiB  resent_MiB  continued  resume".into(),
    ];
    let mib = |b: u64| b as f64 / MIB as f64;
    // Ten kills that land mid-job (a kill before the job is recorded or
    // after its end does not count).
    let mut kills = 0;
    for k in 0..24 {
        if kills == 10 {
            break;
        }
        let journal = dir.path().join(format!("kill{k}.sqlite"));
        let kill_at =
            Duration::from_millis(rng.random_range(30..(full.as_millis() as u64 * 4 / 5).max(60)));
        let mut child = sim
            .ferry_cmd(&journal, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(kill_at);
        let finished_first = child.try_wait().unwrap().is_some();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if finished_first {
            report.push(format!(
                "{k:>4}  {:>5}  job had finished",
                kill_at.as_millis()
            ));
            continue;
        }
        let Some(j) = read_journal(&journal) else {
            report.push(format!(
                "{k:>4}  {:>5}  job not recorded yet",
                kill_at.as_millis()
            ));
            continue;
        };
        kills += 1;

        // What the storage held at the kill, and what the journal knew of it.
        let at_kill = settled(&sim);
        let stored: std::collections::BTreeMap<Key, u64> = puts(&at_kill)
            .into_iter()
            .filter(|p| p.ok)
            .map(|p| (p.key, p.bytes))
            .collect();
        let acked: u64 = j.parts.iter().filter_map(|k| stored.get(k)).sum();
        assert!(
            j.parts.iter().all(|k| stored.contains_key(k)),
            "kill {k} (seed {seed}): the journal acknowledged a part the storage does not hold"
        );
        // Stored but not journaled: the parts in flight when the process died.
        let in_flight: Vec<(&Key, &u64)> = stored
            .iter()
            .filter(|(key, _)| {
                !j.parts.contains(*key)
                    && j.files.iter().any(|(_, state, u)| {
                        state != "done" && u.as_ref().is_some_and(|(id, _)| *id == key.0)
                    })
            })
            .collect();
        let in_flight_bytes: u64 = in_flight.iter().map(|(_, b)| **b).sum();
        assert!(
            in_flight.len() <= PARTS_IN_FLIGHT,
            "kill {k} (seed {seed}): {} parts stored but not journaled, more than can be in flight",
            in_flight.len()
        );
        let put_mark = puts(&at_kill).len();
        let api_mark = at_kill["api_log"].as_array().unwrap().len();

        let out = sim.ferry_cmd(&journal, &["resume"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "kill {k} (seed {seed}): resume failed: {stderr}"
        );
        let after = sim.state();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: Vec<Vec<&str>> = stdout.lines().map(|l| l.split('\t').collect()).collect();
        assert_eq!(
            lines.len(),
            files.len(),
            "kill {k} (seed {seed}): {stdout}{stderr}"
        );
        // (c) every file complete, its stored bytes the local file's.
        for (cols, (path, hash)) in lines.iter().zip(files.iter().zip(&hashes)) {
            assert_eq!(cols[2], path.to_str().unwrap());
            assert_eq!(cols[1], hash);
            ferry_e2e::assert_stored(
                &backend,
                cols[0],
                hash,
                Some(std::fs::metadata(path).unwrap().len()),
                &format!("kill {k} (seed {seed}): {}", path.display()),
            );
        }
        // (a) no part the journal acknowledged goes again; what goes again
        // of the stored parts is at most what was in flight.
        let resumed = puts(&after);
        let resumed = &resumed[put_mark..];
        let again: Vec<&Put> = resumed
            .iter()
            .filter(|p| stored.contains_key(&p.key))
            .collect();
        for p in &again {
            assert!(
                !j.parts.contains(&p.key),
                "kill {k} (seed {seed}): part {} of {} was acknowledged before the kill and sent again",
                p.key.1,
                p.key.0
            );
        }
        let resent: u64 = again.iter().map(|p| p.bytes).sum();
        assert!(
            resent <= in_flight_bytes,
            "kill {k} (seed {seed}): {resent} bytes of stored parts sent again, more than the {in_flight_bytes} in flight at the kill"
        );
        // (b) an upload that continues keeps its fileId: no new
        // request-multipart-upload for it.
        let mut continued = 0;
        let mut fresh_multipart = 0;
        for ((path, state, upload), (cols, mp)) in j.files.iter().zip(lines.iter().zip(&multipart))
        {
            assert_eq!(path, cols[2]);
            match upload {
                Some((id, true)) if state != "done" => {
                    continued += 1;
                    assert_eq!(
                        cols[0], id,
                        "kill {k} (seed {seed}): {path} continued under a new fileId"
                    );
                }
                Some((id, _)) if state == "done" => assert_eq!(cols[0], id),
                _ if *mp => fresh_multipart += 1,
                _ => {}
            }
        }
        assert_eq!(
            api_posts(&after, api_mark, "request-multipart-upload"),
            fresh_multipart,
            "kill {k} (seed {seed}): new multipart uploads only for files that had none"
        );
        report.push(format!(
            "{k:>4}  {:>5}  {:>9.1}  {:>13.1}  {:>10.1}  {:>9}  {}",
            kill_at.as_millis(),
            mib(acked),
            mib(in_flight_bytes),
            mib(resent),
            continued,
            stderr
                .lines()
                .find(|l| l.contains("resuming"))
                .unwrap_or("")
                .trim()
        ));
    }
    assert_eq!(kills, 10, "ten kills mid-job (seed {seed})");
    let text = report.join("\n");
    println!("{text}");
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("resume-kills.txt"), text + "\n").unwrap();
}

/// Start `ferry upload FILE` and kill -9 it once the job is journaled:
/// the portal has handed out the file's id and `ferry jobs` lists the
/// upload (rather than after a fixed time, which a loaded machine can
/// outrun). The caller holds the parts at the storage long enough.
fn upload_then_kill(sim: &SimProc, journal: &std::path::Path, file: &std::path::Path) {
    let backend = sim.backend();
    let mut child = sim
        .ferry_cmd(
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
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let requested = sim.state()["files"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        let listed = requested
            && sim
                .ferry_cmd(journal, &["jobs"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("\tupload\t"));
        if listed {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("ferry upload ended ({status}) before it was killed");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name}: the job was not journaled within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
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
    sim.fault(serde_json::json!({"target": "storage", "fault": {"kind": "stall", "millis": 8000}, "count": 4}));
    upload_then_kill(&sim, &journal, &f);
    std::thread::sleep(Duration::from_millis(3500));
    let out = sim.ferry_cmd(&journal, &["resume"]).output().unwrap();
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
    sim.fault(serde_json::json!({"target": "storage", "fault": {"kind": "stall", "millis": 8000}, "count": 3}));
    upload_then_kill(&sim, &journal, &f);
    std::fs::write(&f, b"a different file now").unwrap();
    let out = sim.ferry_cmd(&journal, &["resume"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("edited.fq") && err.contains("start a new upload"),
        "{err}"
    );
    let jobs = sim.ferry_cmd(&journal, &["jobs"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&jobs.stdout).contains("upload"),
        "the job stays listed"
    );
}

fn submit_args<'a>(backend: &'a str, meta: &'a str, file: &'a str) -> Vec<&'a str> {
    vec![
        "submit",
        "-q",
        "--backend",
        backend,
        "--group",
        "1",
        "--organism",
        "dummy-organism-with-files",
        "--metadata",
        meta,
        "--file",
        file,
    ]
}

fn submissions(sim: &SimProc) -> Vec<serde_json::Value> {
    sim.state()["submissions"].as_array().unwrap().clone()
}

/// The submit POST is answered, but the answer is cut after the portal
/// committed it; `ferry resume` asks the portal, finds the entry and
/// reports it: one submission, never two. An older entry with the same
/// submission id is told apart.
#[test]
fn a_submit_whose_answer_was_cut_is_not_submitted_again_on_resume() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let backend = sim.backend();
    let meta = dir.path().join("metadata.tsv");
    std::fs::write(&meta, "id\tcountry\ns1\tCH\n").unwrap();
    let meta = meta.to_str().unwrap();
    // Last week's entry with the same id.
    let old = make_file(dir.path(), "old_R1.fastq.gz", 1500, 1);
    let file = format!("rawReads={}", old.display());
    let journal = dir.path().join("j.sqlite");
    let out = sim
        .ferry_cmd(&journal, &submit_args(&backend, meta, &file))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let older = submissions(&sim)[0]["accession"].clone();

    let reads = make_file(dir.path(), "s1_R1.fastq.gz", 2500, 2);
    let file = format!("rawReads={}", reads.display());
    // API faults go to requests in order: request-upload passes, the
    // submit's answer is cut after the backend committed it.
    sim.fault(
        serde_json::json!({"target": "api", "fault": {"kind": "stall", "millis": 1}, "count": 1}),
    );
    sim.fault(serde_json::json!({"target": "api", "fault": {"kind": "truncate"}, "count": 1}));
    let out = sim
        .ferry_cmd(&journal, &submit_args(&backend, meta, &file))
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(!out.status.success(), "the cut answer is an error: {err}");
    assert!(
        err.contains("may have reached the portal") && err.contains("ferry resume"),
        "{err}"
    );
    assert_eq!(submissions(&sim).len(), 2, "the portal did take it");
    let jobs = sim.ferry_cmd(&journal, &["jobs"]).output().unwrap();
    assert!(
        text(&jobs.stdout).contains("\tsubmit\tsubmitting\t"),
        "listed as submitting: {}",
        text(&jobs.stdout)
    );

    let out = sim.ferry_cmd(&journal, &["resume"]).output().unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("had reached the portal"), "{err}");
    let subs = submissions(&sim);
    assert_eq!(subs.len(), 2, "no second submission: {subs:?}");
    let posts = sim.state()["api_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"].as_str().unwrap().ends_with("/submit"))
        .count();
    assert_eq!(posts, 2, "one submit POST per job");
    let newer = subs[1]["accession"].as_str().unwrap();
    assert_ne!(subs[1]["accession"], older);
    assert_eq!(text(&out.stdout).trim(), format!("s1\t{newer}.1"));
    assert_eq!(subs[1]["files"]["rawReads"][0][0], "s1_R1.fastq.gz");
    let jobs = sim.ferry_cmd(&journal, &["jobs"]).output().unwrap();
    assert!(
        text(&jobs.stderr).contains("no interrupted jobs"),
        "{}",
        text(&jobs.stdout)
    );
}

/// The connection drops before the submit reached the backend: `ferry
/// resume` finds nothing on the portal and submits, once.
#[test]
fn a_submit_lost_on_the_way_is_submitted_on_resume() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let backend = sim.backend();
    let meta = dir.path().join("metadata.tsv");
    std::fs::write(&meta, "id\tcountry\ns1\tCH\n").unwrap();
    let reads = make_file(dir.path(), "s1_R1.fastq.gz", 2500, 2);
    let file = format!("rawReads={}", reads.display());
    let journal = dir.path().join("j.sqlite");
    sim.fault(
        serde_json::json!({"target": "api", "fault": {"kind": "stall", "millis": 1}, "count": 1}),
    );
    sim.fault(serde_json::json!({"target": "api", "fault": {"kind": "reset"}, "count": 1}));
    let args = submit_args(&backend, meta.to_str().unwrap(), &file);
    let out = sim.ferry_cmd(&journal, &args).output().unwrap();
    assert!(!out.status.success());
    assert!(submissions(&sim).is_empty());
    let out = sim.ferry_cmd(&journal, &["resume"]).output().unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("had not reached the portal"), "{err}");
    let subs = submissions(&sim);
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert_eq!(
        text(&out.stdout).trim(),
        format!("s1\t{}.1", subs[0]["accession"].as_str().unwrap())
    );
    // Done: a second resume has nothing to do, and submits nothing.
    let again = sim.ferry_cmd(&journal, &["resume"]).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(submissions(&sim).len(), 1);
}

/// `ferry abort JOB` forgets an interrupted job: `ferry jobs` no longer
/// lists it and `ferry resume` has nothing to resume.
#[test]
fn abort_forgets_the_job_and_resume_has_nothing_left() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let f = make_file(dir.path(), "a_R1.fastq.gz", 5000, 4);
    let journal = dir.path().join("j.sqlite");
    let backend = sim.backend();
    // The portal refuses the upload: the job stays, interrupted.
    sim.fault(serde_json::json!({"target": "api", "fault": {"kind": "status", "status": 400}, "count": 1}));
    let out = sim
        .ferry_cmd(
            &journal,
            &[
                "upload",
                "-q",
                "--backend",
                &backend,
                "--group",
                "1",
                f.to_str().unwrap(),
            ],
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let jobs = sim.ferry_cmd(&journal, &["jobs"]).output().unwrap();
    let listed = text(&jobs.stdout);
    let job = listed
        .lines()
        .nth(1)
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("the job is listed: {listed}"))
        .to_string();

    let out = sim.ferry_cmd(&journal, &["abort", &job]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&format!("job {job} forgotten")));
    for all in [false, true] {
        let args: &[&str] = if all { &["jobs", "--all"] } else { &["jobs"] };
        let jobs = sim.ferry_cmd(&journal, args).output().unwrap();
        assert!(jobs.status.success());
        assert!(!text(&jobs.stdout).contains(&job), "{}", text(&jobs.stdout));
        assert!(text(&jobs.stderr).contains("no "), "{}", text(&jobs.stderr));
    }
    let out = sim.ferry_cmd(&journal, &["resume"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no interrupted job to resume"),
        "{}",
        text(&out.stderr)
    );
    let out = sim.ferry_cmd(&journal, &["resume", &job]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(&format!("no job {job}")));
    let out = sim.ferry_cmd(&journal, &["abort", &job]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A file that changes while it is being uploaded is not submitted: the
/// command fails naming the file, and the portal holds no submission.
#[test]
fn a_file_modified_mid_upload_is_not_submitted() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let backend = sim.backend();
    let meta = dir.path().join("metadata.tsv");
    std::fs::write(&meta, "id\tcountry\ns1\tCH\n").unwrap();
    let reads = make_file(dir.path(), "growing_R1.fastq", (12 * MIB) as usize, 6);
    let file = format!("rawReads={}", reads.display());
    let journal = dir.path().join("j.sqlite");
    // Hold the parts so the file is still on its way when it changes.
    sim.fault(serde_json::json!({"target": "storage", "fault": {"kind": "stall", "millis": 1200}, "count": 2}));
    let child = sim
        .ferry_cmd(
            &journal,
            &submit_args(&backend, meta.to_str().unwrap(), &file),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut started = false;
    for _ in 0..250 {
        if !sim.state()["files"].as_array().unwrap().is_empty() {
            started = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(started, "the upload started");
    // The sequencer appends more reads.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&reads)
        .unwrap();
    std::io::Write::write_all(&mut f, b"@more\nACGT\n+\nIIII\n").unwrap();
    drop(f);
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert_ne!(out.status.code(), Some(0));
    assert!(
        err.contains(reads.to_str().unwrap())
            && err.contains("changed while it was being uploaded"),
        "{err}"
    );
    assert!(submissions(&sim).is_empty(), "nothing submitted");
    let posts = sim.state()["api_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with("/submit"))
        .count();
    assert_eq!(posts, 0, "no submit was even tried");
}

/// Ctrl-C (SIGINT) in the middle of an upload: ferry stops the parts in
/// flight and ends with exit code 130, naming the job to resume; `ferry
/// resume` then finishes the same upload (no new one is started) and the
/// storage holds the file.
#[test]
fn ctrl_c_stops_an_upload_and_says_how_to_resume_it() {
    let sim = SimProc::start(&["--storage-bytes-per-sec", "4000000"]);
    let dir = tempfile::tempdir().unwrap();
    let file = make_file(dir.path(), "run3_R1.fastq.gz", (40 * MIB) as usize, 7);
    let journal = dir.path().join("journal.sqlite");
    let stderr = dir.path().join("stderr.txt");
    let backend = sim.backend();
    let args = [
        "upload",
        "--json",
        "--parts-in-flight",
        "2",
        "--backend",
        &backend,
        "--group",
        "1",
        file.to_str().unwrap(),
    ];
    let mut child = sim
        .ferry_cmd(&journal, &args)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    // Until the storage acknowledged a part (40 MiB at 4 MB/s take 10 s).
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains("\"part_done\"") && tx.send(()).is_err() {
                break;
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("a part acknowledged");
    let status = ferry_e2e::signal_and_wait(&mut child, "INT", Duration::from_secs(20))
        .expect("ferry ends within 20 s of Ctrl-C");
    let err = std::fs::read_to_string(&stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("stopping"), "{err}");
    let job = err
        .split("continue with `ferry resume ")
        .nth(1)
        .and_then(|r| r.split('`').next())
        .unwrap_or_else(|| panic!("no job to resume named: {err}"))
        .to_string();

    let resumed = sim.ferry_cmd(&journal, &["resume", &job]).output().unwrap();
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    let stdout = text(&resumed.stdout);
    let id = stdout
        .lines()
        .find(|l| l.ends_with("run3_R1.fastq.gz"))
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("no id printed: {stdout}"));
    ferry_e2e::assert_stored(
        &backend,
        id,
        &sha(&file),
        Some(40 * MIB),
        "after Ctrl-C and resume",
    );
    let started = sim.state()["api_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "/files/request-multipart-upload")
        .count();
    assert_eq!(started, 1, "resume went on with the same upload");
}
