//! `ferry watch` against a `ferry-sim` process, with real file system
//! events (inotify) and notify's PollWatcher: a simulated sequencer writes
//! runs slowly, marker last; plain folders go after their quiet period;
//! 20 runs at once; a kill -9 mid-run; two watchers on one folder; a
//! submission batch that waits for its metadata to be fixed; One Codex
//! (each run's R1/R2 pair one sample) and BaseSpace runs, sent once across
//! a restart; `ferry resume` of a watched run's job refused while a
//! watcher holds its folder. What is
//! checked is what a user would: each run's bytes on the portal (SHA-256),
//! and that it was sent once (uploads and submissions counted on the sim).
//! Latencies and memory are printed, never asserted.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use ferry_e2e::{SimProc, bin, make_file};
use serde_json::Value;
use sha2::{Digest, Sha256};

const MIB: usize = 1024 * 1024;

fn sha(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

/// A `ferry watch` process reporting `--json` events; killed on drop.
struct Watcher {
    child: Child,
    events: Receiver<(Instant, Value)>,
    seen: Vec<(Instant, Value)>,
    stderr: PathBuf,
}

impl Watcher {
    /// A watcher sending to `portal` (loculus, onecodex, basespace), each
    /// portal's credential in the environment, none on the command line.
    fn start_to(
        sim: &SimProc,
        portal: &str,
        journal: &Path,
        dirs: &[&Path],
        extra: &[&str],
    ) -> Watcher {
        let stderr = journal.with_extension(format!("stderr-{}", rand::random::<u32>()));
        let mut cmd = Command::new(bin("ferry"));
        cmd.arg("watch")
            .args(portal_args(sim, portal))
            .arg("--json")
            .args(["--check-interval", "1s"])
            .args(extra)
            .args(dirs)
            .envs(credentials(sim))
            .env("FERRY_JOURNAL", journal)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap());
        let mut child = cmd.spawn().expect("ferry watch starts");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && tx.send((Instant::now(), v)).is_err()
                {
                    break;
                }
            }
        });
        Watcher {
            child,
            events: rx,
            seen: Vec::new(),
            stderr,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The first event (seen before or arriving within `limit`) that
    /// `pred` accepts.
    fn wait(
        &mut self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> (Instant, Value) {
        if let Some(e) = self.seen.iter().find(|(_, v)| pred(v)) {
            return e.clone();
        }
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) => {
                    self.seen.push(e.clone());
                    if pred(&e.1) {
                        return e;
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => panic!(
                    "no {what} within {limit:?}; events: {:#?}\nstderr: {}",
                    self.seen
                        .iter()
                        .map(|(_, v)| v.to_string())
                        .collect::<Vec<_>>(),
                    self.log()
                ),
            }
        }
    }

    /// Events so far (without waiting).
    fn drain(&mut self) {
        while let Ok(e) = self.events.try_recv() {
            self.seen.push(e);
        }
    }

    fn count(&mut self, pred: impl Fn(&Value) -> bool) -> usize {
        self.drain();
        self.seen.iter().filter(|(_, v)| pred(v)).count()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The watcher, once it says it watches (any mode).
    fn watching(mut self) -> Watcher {
        self.wait("watching", Duration::from_secs(60), |v| is(v, "watching"));
        self
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.stderr);
    }
}

/// A test's portal and folders: a `ferry-sim`, and in a temporary folder
/// the watched folder (empty) and the journal.
struct Setup {
    sim: SimProc,
    dir: tempfile::TempDir,
    watched: PathBuf,
    journal: PathBuf,
}

impl Setup {
    /// A watcher of the watched folder, sending to Loculus.
    fn watcher(&self, extra: &[&str]) -> Watcher {
        self.watcher_to("loculus", extra)
    }

    /// A watcher of the watched folder, sending to `portal`.
    fn watcher_to(&self, portal: &str, extra: &[&str]) -> Watcher {
        Watcher::start_to(&self.sim, portal, &self.journal, &[&self.watched], extra)
    }

    /// The sim started with `sim_args`; the watched folder named `name`.
    fn new(sim_args: &[&str], name: &str) -> Setup {
        let sim = SimProc::start(sim_args);
        let dir = tempfile::tempdir().unwrap();
        let watched = dir.path().join(name);
        std::fs::create_dir(&watched).unwrap();
        let journal = dir.path().join("journal.sqlite");
        Setup {
            sim,
            dir,
            watched,
            journal,
        }
    }
}

/// Where a watcher sends: the flags of `ferry upload --portal ...`.
fn portal_args(sim: &SimProc, portal: &str) -> Vec<String> {
    let s = |v: &str| sim.info[v].as_str().unwrap().to_string();
    let v = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match portal {
        "loculus" => v(&["--backend", &sim.backend(), "--group", "1"]),
        "onecodex" => v(&["--portal", "onecodex", "--base-url", &s("onecodex")]),
        _ => v(&[
            "--portal",
            "basespace",
            "--base-url",
            &s("basespace"),
            "--appresult",
            &s("basespace_appresult"),
        ]),
    }
}

fn credentials(sim: &SimProc) -> Vec<(&'static str, String)> {
    let s = |v: &str| sim.info[v].as_str().unwrap().to_string();
    vec![
        ("FERRY_TOKEN", sim.token()),
        ("FERRY_ONECODEX_API_KEY", s("onecodex_api_key")),
        ("FERRY_BASESPACE_TOKEN", s("basespace_token")),
    ]
}

fn is(v: &Value, event: &str) -> bool {
    v["event"] == event
}

fn run_event(v: &Value, event: &str, run: &Path) -> bool {
    is(v, event) && v["run"].as_str().map(PathBuf::from) == Some(canon(run))
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Uploads the portal handed out (one per file sent; a second send of a
/// run would add more).
fn uploads(sim: &SimProc) -> usize {
    sim.state()["files"].as_array().unwrap().len()
}

/// Each file's bytes are on the portal: the fileIds from the watcher's
/// file_done events, the SHA-256 from the storage.
fn assert_run_stored(sim: &SimProc, w: &mut Watcher, files: &[PathBuf]) {
    w.drain();
    for f in files {
        let name = f.file_name().unwrap().to_str().unwrap();
        let done: Vec<&Value> = w
            .seen
            .iter()
            .map(|(_, v)| v)
            .filter(|v| is(v, "file_done") && v["name"] == name)
            .collect();
        assert!(!done.is_empty(), "{name} was sent");
        let id = done.last().unwrap()["remote_id"].as_str().unwrap();
        ferry_e2e::assert_stored(&sim.backend(), id, &sha(f), None, name);
    }
}

/// A sequencer writing a run: RunInfo.xml first, then reads growing in
/// chunks over `secs`, the completion marker last.
fn write_run_slowly(
    run: &Path,
    files: &[(&str, usize)],
    secs: f64,
    marker: Option<&str>,
) -> Vec<PathBuf> {
    std::fs::create_dir_all(run.join("Data/Intensities/BaseCalls")).unwrap();
    std::fs::write(run.join("RunInfo.xml"), "<RunInfo Version=\"6\"/>").unwrap();
    let steps = 10;
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(n, _)| run.join("Data/Intensities/BaseCalls").join(n))
        .collect();
    let data: Vec<Vec<u8>> = files
        .iter()
        .enumerate()
        .map(|(i, (_, size))| {
            let tmp = tempfile::tempdir().unwrap();
            std::fs::read(make_file(tmp.path(), "x", *size, i as u8 + 7)).unwrap()
        })
        .collect();
    let mut handles: Vec<std::fs::File> = paths
        .iter()
        .map(|p| std::fs::File::create(p).unwrap())
        .collect();
    for s in 0..steps {
        for (h, d) in handles.iter_mut().zip(&data) {
            let a = d.len() * s / steps;
            let b = d.len() * (s + 1) / steps;
            h.write_all(&d[a..b]).unwrap();
            h.flush().unwrap();
        }
        std::thread::sleep(Duration::from_secs_f64(secs / steps as f64));
    }
    drop(handles);
    if let Some(m) = marker {
        std::fs::write(run.join(m), "").unwrap();
    }
    paths
}

/// A finished run, written at once (reads, RunInfo.xml, marker).
fn finished_run(run: &Path, n: usize, size: usize, seed: u8) -> Vec<PathBuf> {
    std::fs::create_dir_all(run).unwrap();
    std::fs::write(run.join("RunInfo.xml"), "<RunInfo/>").unwrap();
    let name = run.file_name().unwrap().to_str().unwrap().to_string();
    let files = (0..n)
        .map(|i| {
            make_file(
                run,
                &format!("{name}_S{i}_R1_001.fastq.gz"),
                size,
                seed.wrapping_add(i as u8),
            )
        })
        .collect();
    std::fs::write(run.join("CopyComplete.txt"), "").unwrap();
    files
}

fn first_part_after(w: &mut Watcher, t: Instant) -> Duration {
    let (at, _) = w.wait("a part sent", Duration::from_secs(120), |v| {
        is(v, "part_started")
    });
    at.saturating_duration_since(t)
}

#[test]
fn a_run_written_slowly_is_sent_once_its_marker_appears() {
    let setup = Setup::new(&[], "runs");
    let mut w = setup.watcher(&[]);
    w.wait("watching", Duration::from_secs(60), |v| {
        is(v, "watching") && v["mode"] == "inotify"
    });
    let run = setup.watched.join("260101_M00001_0001_000000000-AAAAA");
    let files = write_run_slowly(
        &run,
        &[
            ("s1_R1_001.fastq.gz", 6 * MIB),
            ("s1_R2_001.fastq.gz", 3 * MIB),
        ],
        4.0,
        None,
    );
    // The files are complete but there is no marker: nothing goes.
    w.wait(
        "the run waiting for its marker",
        Duration::from_secs(60),
        |v| {
            run_event(v, "run_waiting", &run)
                && v["reason"].as_str().unwrap().contains("completion marker")
        },
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(uploads(&setup.sim), 0, "nothing is sent before the marker");
    assert_eq!(w.count(|v| is(v, "run_ready")), 0);
    let t = Instant::now();
    std::fs::write(run.join("CopyComplete.txt"), "").unwrap();
    let latency = first_part_after(&mut w, t);
    println!(
        "inotify: marker to first part sent: {} ms",
        latency.as_millis()
    );
    let (_, done) = w.wait("the run done", Duration::from_secs(120), |v| {
        run_event(v, "run_done", &run)
    });
    assert_eq!(done["files"], 2);
    assert_run_stored(&setup.sim, &mut w, &files);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(uploads(&setup.sim), 2, "each file sent once");
    assert_eq!(w.count(|v| is(v, "run_sending")), 1, "the run sent once");
}

#[test]
fn a_plain_folder_of_reads_goes_after_its_quiet_period() {
    let setup = Setup::new(&[], "incoming");
    let mut w = setup.watcher(&["--quiet-period", "3s"]).watching();
    let run = setup.watched.join("batch-7");
    std::fs::create_dir(&run).unwrap();
    let a = make_file(&run, "a.fastq", 200_000, 1);
    let b = make_file(&run, "b.fasta", 3_000, 2);
    make_file(&run, "notes.txt", 100, 3);
    w.wait(
        "waiting for the quiet period",
        Duration::from_secs(60),
        |v| {
            run_event(v, "run_waiting", &run)
                && v["reason"].as_str().unwrap().contains("plain folder")
        },
    );
    let (_, done) = w.wait("the run done", Duration::from_secs(120), |v| {
        run_event(v, "run_done", &run)
    });
    assert_eq!(
        done["files"], 2,
        "only the reads (the include globs), not notes.txt"
    );
    assert_run_stored(&setup.sim, &mut w, &[a, b]);
    assert_eq!(uploads(&setup.sim), 2);
}

#[test]
fn a_poll_only_watch_finds_runs_and_markers() {
    let setup = Setup::new(&[], "share");
    let mut w = setup.watcher(&["--poll", "2s"]);
    w.wait("polling", Duration::from_secs(60), |v| {
        is(v, "watching") && v["mode"] == "poll" && v["poll_s"] == 2
    });
    let run = setup.watched.join("20260101_1200_MN12345_FAX00001_abcdef");
    std::fs::create_dir_all(run.join("fastq_pass/barcode01")).unwrap();
    let f = make_file(
        &run.join("fastq_pass/barcode01"),
        "FAX00001_pass_barcode01_0.fastq.gz",
        2 * MIB,
        5,
    );
    w.wait("waiting for its marker", Duration::from_secs(60), |v| {
        run_event(v, "run_waiting", &run)
    });
    std::thread::sleep(Duration::from_secs(3));
    let t = Instant::now();
    std::fs::write(run.join("final_summary_FAX00001_abcdef.txt"), "done").unwrap();
    let latency = first_part_after(&mut w, t);
    println!(
        "poll every 2 s: marker to first part sent: {} ms",
        latency.as_millis()
    );
    w.wait("the run done", Duration::from_secs(120), |v| {
        run_event(v, "run_done", &run)
    });
    assert_run_stored(&setup.sim, &mut w, &[f]);
    assert_eq!(uploads(&setup.sim), 1);
}

#[test]
fn twenty_runs_appearing_at_once_are_each_sent_once() {
    let setup = Setup::new(&[], "runs");
    let staging = setup.dir.path().join("staging");
    std::fs::create_dir(&staging).unwrap();
    let mut w = setup.watcher(&[]).watching();
    let mut all = Vec::new();
    for i in 0..20 {
        finished_run(&staging.join(format!("run{i:02}")), 2, 20_000 + i, i as u8);
    }
    // All 20 appear at once (a copy finishing, a share remounted).
    for i in 0..20 {
        let name = format!("run{i:02}");
        std::fs::rename(staging.join(&name), setup.watched.join(&name)).unwrap();
    }
    for i in 0..20 {
        let run = setup.watched.join(format!("run{i:02}"));
        w.wait("every run done", Duration::from_secs(300), |v| {
            run_event(v, "run_done", &run)
        });
        for f in std::fs::read_dir(&run).unwrap().flatten() {
            if f.file_name().to_string_lossy().ends_with(".fastq.gz") {
                all.push(f.path());
            }
        }
    }
    assert_run_stored(&setup.sim, &mut w, &all);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        uploads(&setup.sim),
        40,
        "20 runs of 2 files, each sent once"
    );
    assert_eq!(w.count(|v| is(v, "run_sending")), 20);
}

#[test]
fn once_sends_what_is_complete_and_exits_and_never_sends_a_run_twice() {
    let setup = Setup::new(&[], "runs");
    let done = finished_run(&setup.watched.join("run-a"), 1, 5_000, 1);
    std::fs::create_dir_all(setup.watched.join("run-b")).unwrap();
    std::fs::write(setup.watched.join("run-b/RunInfo.xml"), "<RunInfo/>").unwrap();
    make_file(&setup.watched.join("run-b"), "b_R1_001.fastq.gz", 5_000, 2);
    let once = |sim: &SimProc| watch_once(sim, "loculus", &setup.journal, &setup.watched);
    let first = once(&setup.sim);
    assert!(first.contains("1 run(s) sent; 1 waiting"), "{first}");
    assert_eq!(uploads(&setup.sim), 1, "only the finished run");
    let again = once(&setup.sim);
    assert!(again.contains("0 run(s) sent; 1 waiting"), "{again}");
    assert_eq!(uploads(&setup.sim), 1, "a run already sent is skipped");
    let _ = done;
}

/// A new watcher of `setup`'s folder takes `run` up where the last one
/// stopped (`run_sending` says resumed), sends it whole, and uses the same
/// upload: the file was not sent anew.
fn the_next_watcher_goes_on(setup: &Setup, run: &Path, files: &[PathBuf]) {
    let mut again = setup.watcher(&[]);
    let (_, sending) = again.wait("the run going on", Duration::from_secs(60), |v| {
        run_event(v, "run_sending", run)
    });
    assert_eq!(sending["resumed"], true, "{sending}");
    again.wait("the run done", Duration::from_secs(300), |v| {
        run_event(v, "run_done", run)
    });
    assert_run_stored(&setup.sim, &mut again, files);
    assert_eq!(
        uploads(&setup.sim),
        1,
        "the same upload went on: the file was not sent anew"
    );
}

#[test]
fn a_watcher_killed_mid_run_resumes_from_acknowledged_parts_without_sending_twice() {
    // A slow storage, so the kill lands mid-file.
    let setup = Setup::new(&["--storage-bytes-per-sec", "4000000"], "runs");
    let run = setup.watched.join("run-big");
    let files = finished_run(&run, 1, 40 * MIB, 9);
    let mut w = setup.watcher(&["--parts-in-flight", "2"]);
    w.wait("a part acknowledged", Duration::from_secs(120), |v| {
        is(v, "part_done")
    });
    w.kill();
    let before = uploads(&setup.sim);
    assert_eq!(before, 1);
    assert_eq!(
        w.count(|v| run_event(v, "run_done", &run)),
        0,
        "killed before the end"
    );
    the_next_watcher_goes_on(&setup, &run, &files);
}

/// systemd stops a watcher with SIGTERM: it stops its upload, prints its
/// summary and exits 0 at once; the next watcher takes the run up from
/// its acknowledged parts.
#[test]
fn a_watcher_stopped_by_sigterm_exits_cleanly_and_the_next_one_goes_on() {
    let setup = Setup::new(&["--storage-bytes-per-sec", "4000000"], "runs");
    let run = setup.watched.join("run-term");
    let files = finished_run(&run, 1, 40 * MIB, 11);
    let mut w = setup.watcher(&["--parts-in-flight", "2"]);
    w.wait("a part acknowledged", Duration::from_secs(120), |v| {
        is(v, "part_done")
    });
    let status = ferry_e2e::signal_and_wait(&mut w.child, "TERM", Duration::from_secs(20))
        .unwrap_or_else(|| panic!("still running 20 s after SIGTERM: {}", w.log()));
    assert!(status.success(), "{status:?}: {}", w.log());
    assert!(w.log().contains("stopping"), "{}", w.log());
    // Its summary came (the reader thread may still be catching up).
    w.wait("the summary", Duration::from_secs(5), |v| {
        is(v, "watch_summary")
    });
    assert_eq!(w.count(|v| run_event(v, "run_done", &run)), 0);

    the_next_watcher_goes_on(&setup, &run, &files);
}

#[test]
fn two_watchers_on_one_folder_send_each_run_once() {
    let setup = Setup::new(&[], "runs");
    let mut a = setup.watcher(&[]);
    a.wait("a watching", Duration::from_secs(60), |v| is(v, "watching"));
    let mut b = setup.watcher(&[]);
    let (_, note) = b.wait("b told the folder is held", Duration::from_secs(60), |v| {
        is(v, "watch_note")
    });
    assert!(
        note["message"].as_str().unwrap().contains("another Ferry"),
        "{note}"
    );
    let mut files = Vec::new();
    for i in 0..3 {
        files.extend(finished_run(
            &setup.watched.join(format!("run{i}")),
            1,
            10_000 + i,
            i as u8,
        ));
    }
    for i in 0..3 {
        let run = setup.watched.join(format!("run{i}"));
        a.wait("a sends each run", Duration::from_secs(120), |v| {
            run_event(v, "run_done", &run)
        });
    }
    assert_eq!(
        b.count(|v| is(v, "run_sending")),
        0,
        "b sent nothing while a held the folder"
    );
    // a stops: b takes over, skips what a sent, and sends the next run.
    a.kill();
    b.wait("b watching", Duration::from_secs(60), |v| is(v, "watching"));
    let run3 = setup.watched.join("run3");
    files.extend(finished_run(&run3, 1, 10_003, 3));
    b.wait("b sends the new run", Duration::from_secs(120), |v| {
        run_event(v, "run_done", &run3)
    });
    assert_eq!(b.count(|v| is(v, "run_sending")), 1, "only the new run");
    assert_eq!(b.count(|v| is(v, "run_done") && v["earlier"] == true), 3);
    assert_eq!(uploads(&setup.sim), 4, "four runs, each sent once");
    assert_run_stored(&setup.sim, &mut b, &files[3..]);
}

#[test]
fn a_submission_batch_with_a_problem_waits_then_goes_once_fixed() {
    let setup = Setup::new(&[], "batches");
    let mut w = setup
        .watcher(&[
            "--submit",
            "dummy-organism-with-files",
            "--quiet-period",
            "2s",
        ])
        .watching();
    let run = setup.watched.join("batch-1");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(
        run.join("metadata.tsv"),
        "submissionId\tcountry\tfiles.rawReads\ns1\tCH\ts1_R1.fastq\ns2\tDE\ts2_R1.fastq\n",
    )
    .unwrap();
    let s1 = make_file(&run, "s1_R1.fastq", 4_000, 1);
    // s2's reads are missing: the report is not clean, the run waits.
    let (_, why) = w.wait("the run needing attention", Duration::from_secs(120), |v| {
        run_event(v, "run_attention", &run)
    });
    assert!(
        why["reason"].as_str().unwrap().contains("s2_R1.fastq"),
        "{why}"
    );
    assert_eq!(uploads(&setup.sim), 0);
    assert_eq!(
        setup.sim.state()["submissions"].as_array().unwrap().len(),
        0
    );
    let s2 = make_file(&run, "s2_R1.fastq", 5_000, 2);
    w.wait("the run submitted", Duration::from_secs(120), |v| {
        run_event(v, "run_done", &run)
    });
    let subs = setup.sim.state()["submissions"].as_array().unwrap().clone();
    assert_eq!(subs.len(), 2, "two rows, submitted once");
    assert_run_stored(&setup.sim, &mut w, &[s1, s2]);
    assert!(
        run.join("ferry-receipt.csv").exists(),
        "the receipt is written in the run"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        setup.sim.state()["submissions"].as_array().unwrap().len(),
        2,
        "the receipt does not make the run new"
    );
}

/// inotify watches a process holds (the `inotify wd:` lines of its inotify
/// descriptors).
fn inotify_watches(pid: u32) -> usize {
    let mut n = 0;
    for fd in std::fs::read_dir(format!("/proc/{pid}/fdinfo"))
        .unwrap()
        .flatten()
    {
        let info = std::fs::read_to_string(fd.path()).unwrap_or_default();
        n += info
            .lines()
            .filter(|l| l.starts_with("inotify wd:"))
            .count();
    }
    n
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_thousand_finished_runs_cost_one_watch_and_are_not_sent_again() {
    let setup = Setup::new(&[], "runs");
    for i in 0..1000 {
        finished_run(&setup.watched.join(format!("run{i:04}")), 1, 100, i as u8);
    }
    // Sent once, by a cron-style look.
    let err = watch_once(&setup.sim, "loculus", &setup.journal, &setup.watched);
    assert!(err.contains("1000 run(s) sent"), "{err}");
    assert_eq!(uploads(&setup.sim), 1000);
    // Then a watcher idles over them.
    let mut w = setup.watcher(&[]).watching();
    let last = setup.watched.join("run0999");
    w.wait("the last run seen as sent", Duration::from_secs(120), |v| {
        run_event(v, "run_done", &last) && v["earlier"] == true
    });
    std::thread::sleep(Duration::from_secs(3));
    let pid = w.child.id();
    let watches = inotify_watches(pid);
    println!(
        "ferry watch idling over 1,000 finished runs: RSS {} KiB, {} inotify watch(es)",
        rss_kib(pid),
        watches
    );
    assert_eq!(watches, 1, "only the watched folder, not each finished run");
    assert_eq!(w.count(|v| is(v, "run_sending")), 0, "nothing sent again");
    assert_eq!(uploads(&setup.sim), 1000);
}

/// `GET /_sim/portals`: One Codex samples and BaseSpace files.
fn portals_state(sim: &SimProc) -> Value {
    ferry_e2e::get_json(&format!("{}/_sim/portals", sim.backend()))
}

/// SHA-256 of what the storage holds at `key`.
fn stored_at(sim: &SimProc, key: &str) -> String {
    let v = ferry_e2e::get_json(&format!("{}/_sim/stored?key={key}", sim.backend()));
    v["sha256"].as_str().unwrap_or("").to_string()
}

/// `ferry watch --once` to `portal`; its stderr (it must succeed).
fn watch_once(sim: &SimProc, portal: &str, journal: &Path, dir: &Path) -> String {
    let out = Command::new(bin("ferry"))
        .args(["watch", "--once", "--check-interval", "1s"])
        .args(portal_args(sim, portal))
        .arg(dir)
        .envs(credentials(sim))
        .env("FERRY_JOURNAL", journal)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    err
}

/// An Illumina run with one paired-end sample `S1` (R1 and R2 of distinct
/// bytes per `seed`), no marker yet.
fn paired_run(run: &Path, sizes: (usize, usize), seed: u8) -> [PathBuf; 2] {
    let calls = run.join("Data/Intensities/BaseCalls");
    std::fs::create_dir_all(&calls).unwrap();
    std::fs::write(run.join("RunInfo.xml"), "<RunInfo/>").unwrap();
    [
        make_file(&calls, "S1_S1_L001_R1_001.fastq.gz", sizes.0, seed),
        make_file(&calls, "S1_S1_L001_R2_001.fastq.gz", sizes.1, seed + 1),
    ]
}

#[test]
fn one_codex_gets_each_runs_pair_as_one_sample_once() {
    let setup = Setup::new(&[], "runs");
    let mut w = setup.watcher_to("onecodex", &[]).watching();
    // Two runs whose reads have the same names (sample numbers start again
    // each run): a pair is made within its run only.
    let run_a = setup.watched.join("260101_M00001_0001_000000000-AAAAA");
    let a = paired_run(&run_a, (3 * MIB, 2 * MIB + 5), 10);
    w.wait(
        "run a waiting for its marker",
        Duration::from_secs(60),
        |v| run_event(v, "run_waiting", &run_a),
    );
    assert_eq!(w.count(|v| is(v, "run_ready")), 0);
    let t = Instant::now();
    std::fs::write(run_a.join("CopyComplete.txt"), "").unwrap();
    let latency = first_part_after(&mut w, t);
    println!(
        "One Codex, inotify: marker to first part sent: {} ms",
        latency.as_millis()
    );
    w.wait("run a done", Duration::from_secs(120), |v| {
        run_event(v, "run_done", &run_a)
    });
    let run_b = setup.watched.join("260102_M00001_0002_000000000-BBBBB");
    let b = paired_run(&run_b, (MIB + 3, 700_000), 20);
    std::fs::write(run_b.join("CopyComplete.txt"), "").unwrap();
    w.wait("run b done", Duration::from_secs(120), |v| {
        run_event(v, "run_done", &run_b)
    });
    // Each run is one confirmed sample holding its two files' bytes.
    let samples = portals_state(&setup.sim)["onecodex_samples"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(samples.len(), 2, "one sample per run: {samples:?}");
    let mut held: Vec<Vec<String>> = samples
        .iter()
        .map(|s| {
            assert_eq!(s["confirmed"], true, "{s}");
            assert_eq!(s["paired_end_filename"], "S1_S1_L001_R2_001.fastq.gz");
            s["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| stored_at(&setup.sim, k.as_str().unwrap()))
                .collect()
        })
        .collect();
    held.sort();
    let mut want = vec![vec![sha(&a[0]), sha(&a[1])], vec![sha(&b[0]), sha(&b[1])]];
    want.sort();
    assert_eq!(held, want, "the stored bytes are each run's pair");
    assert_eq!(w.count(|v| is(v, "run_sending")), 2);
    // Stopped and looked at again: both runs are known as sent.
    w.kill();
    let again = watch_once(&setup.sim, "onecodex", &setup.journal, &setup.watched);
    assert!(again.contains("0 run(s) sent; 0 waiting"), "{again}");
    let n = portals_state(&setup.sim)["onecodex_samples"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(n, 2, "nothing sent again");
}

#[test]
fn basespace_gets_each_run_into_the_appresult_once_across_a_restart() {
    let setup = Setup::new(&[], "runs");
    let mut w = setup.watcher_to("basespace", &[]).watching();
    let run = setup.watched.join("260103_M00001_0003_000000000-CCCCC");
    // Over one 8 MiB part: the parts of a file are continued, not resent.
    let files = paired_run(&run, (9 * MIB + 1, 4_000), 30);
    w.wait(
        "the run waiting for its marker",
        Duration::from_secs(60),
        |v| run_event(v, "run_waiting", &run),
    );
    let t = Instant::now();
    std::fs::write(run.join("CopyComplete.txt"), "").unwrap();
    let latency = first_part_after(&mut w, t);
    println!(
        "BaseSpace, inotify: marker to first part sent: {} ms",
        latency.as_millis()
    );
    let (_, done) = w.wait("the run done", Duration::from_secs(120), |v| {
        run_event(v, "run_done", &run)
    });
    assert_eq!(done["files"], 2);
    // Each file is complete in BaseSpace, holding the file's bytes.
    w.drain();
    let state = portals_state(&setup.sim);
    let stored = state["basespace_files"].as_array().unwrap().clone();
    assert_eq!(stored.len(), 2, "{stored:?}");
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap();
        let id = w
            .seen
            .iter()
            .map(|(_, v)| v)
            .find(|v| is(v, "file_done") && v["name"] == name)
            .map(|v| v["remote_id"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{name} was not sent"));
        let b = stored
            .iter()
            .find(|b| b["id"] == *id.as_str())
            .unwrap_or_else(|| panic!("{name}: no BaseSpace file {id}"));
        assert_eq!(b["status"], "complete", "{name}");
        assert_eq!(
            stored_at(&setup.sim, b["key"].as_str().unwrap()),
            sha(f),
            "{name}"
        );
    }
    // Restarted: the run is known as sent and nothing goes again.
    w.kill();
    let mut again = setup.watcher_to("basespace", &[]);
    again.wait("the run seen as sent", Duration::from_secs(60), |v| {
        run_event(v, "run_done", &run) && v["earlier"] == true
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(again.count(|v| is(v, "run_sending")), 0);
    let n = portals_state(&setup.sim)["basespace_files"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(n, 2, "nothing sent again");
}

#[test]
fn resuming_a_watched_runs_job_waits_for_the_folders_watcher_to_stop() {
    // A slow storage, so the watchers are stopped mid-file.
    let setup = Setup::new(&["--storage-bytes-per-sec", "2000000"], "runs");
    let run = setup.watched.join("run-big");
    let files = finished_run(&run, 1, 40 * MIB, 11);
    let mut first = setup.watcher(&["--parts-in-flight", "2"]);
    let (_, sending) = first.wait("the run sending", Duration::from_secs(120), |v| {
        run_event(v, "run_sending", &run)
    });
    let job = sending["job"].as_str().unwrap().to_string();
    first.wait("a part acknowledged", Duration::from_secs(120), |v| {
        is(v, "part_done")
    });
    first.kill();
    // Another watcher takes the folder and goes on with the run.
    let mut second = setup.watcher(&["--parts-in-flight", "1"]);
    second.wait("the run going on", Duration::from_secs(60), |v| {
        run_event(v, "run_sending", &run)
    });
    let resume = || {
        Command::new(bin("ferry"))
            .args(["resume", &job])
            .envs(credentials(&setup.sim))
            .env("FERRY_JOURNAL", &setup.journal)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let refused = resume();
    let err = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&canon(&setup.watched).display().to_string()),
        "{err}"
    );
    assert!(
        err.contains(&format!("process {}", second.child.id())),
        "names who holds it: {err}"
    );
    assert!(err.contains("stop that watcher"), "{err}");
    // Once that watcher is gone, the resume goes on from what the storage
    // acknowledged, and the portal holds the run's bytes once.
    second.kill();
    let out = resume();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let id = String::from_utf8_lossy(&out.stdout)
        .split('\t')
        .next()
        .unwrap()
        .to_string();
    ferry_e2e::assert_stored(&setup.sim.backend(), &id, &sha(&files[0]), None, "run-big");
    assert_eq!(uploads(&setup.sim), 1, "the one upload went on");
}
