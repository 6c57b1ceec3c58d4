//! A group with 100,000 entries: the submit-once check asks the portal
//! only for unreleased entries, page by page, so a submit (and the look-up
//! after an answer was lost) stays small whatever the group's history.
//! Prints the time and peak memory of `ferry submit` and `ferry resume`.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ferry_e2e::text;
use ferry_e2e::{SimProc, bin, make_file};

const ORGANISM: &str = "dummy-organism-with-files";

/// Runs `ferry`, reading its peak resident memory (VmHWM) while it runs.
fn measured(sim: &SimProc, journal: &std::path::Path, args: &[&str]) -> (Output, Duration, u64) {
    let t = Instant::now();
    let child = Command::new(bin("ferry"))
        .args(args)
        .env("FERRY_TOKEN", sim.token())
        .env("FERRY_JOURNAL", journal)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let peak = std::thread::spawn(move || {
        let mut peak = 0;
        // VmHWM only grows: the last reading before the process ends is its peak.
        while let Ok(s) = std::fs::read_to_string(&status) {
            if let Some(kib) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        peak
    });
    let out = child.wait_with_output().unwrap();
    let took = t.elapsed();
    (out, took, peak.join().unwrap())
}

fn api_log(sim: &SimProc) -> Vec<serde_json::Value> {
    reqwest::blocking::get(format!("{}/_sim/api-log", sim.backend()))
        .and_then(|r| r.json())
        .unwrap()
}

#[test]
fn a_submit_into_a_group_of_100000_entries_reads_only_unreleased_pages() {
    let sim = SimProc::start(&[]);
    let backend = sim.backend();
    let seeded: serde_json::Value = reqwest::blocking::Client::new()
        .post(format!("{backend}/_sim/released-entries"))
        .json(&serde_json::json!({"organism": ORGANISM, "group": 1, "count": 100_000}))
        .send()
        .and_then(|r| r.json())
        .unwrap();
    assert_eq!(seeded["entries"], 100_000);
    // What the old check read: every entry, unpaged.
    let all = reqwest::blocking::Client::new()
        .get(format!(
            "{backend}/{ORGANISM}/get-sequences?groupIdsFilter=1"
        ))
        .bearer_auth(sim.token())
        .send()
        .and_then(|r| r.bytes())
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.sqlite");
    let meta = dir.path().join("metadata.tsv");
    std::fs::write(&meta, "id\tcountry\ns1\tCH\n").unwrap();
    let reads = make_file(dir.path(), "s1_R1.fastq.gz", 2500, 2);
    let file = format!("rawReads={}", reads.display());
    let args = [
        "submit",
        "-q",
        "--backend",
        &backend,
        "--group",
        "1",
        "--organism",
        ORGANISM,
        "--metadata",
        meta.to_str().unwrap(),
        "--file",
        &file,
    ];
    // The submit's answer is cut after the backend committed it (the
    // request-upload call passes first): the look-up must find it among
    // the 100,000 on resume.
    sim.fault(
        serde_json::json!({"target": "api", "fault": {"kind": "stall", "millis": 1}, "count": 1}),
    );
    sim.fault(serde_json::json!({"target": "api", "fault": {"kind": "truncate"}, "count": 1}));
    let (out, submit_time, submit_kib) = measured(&sim, &journal, &args);
    assert!(!out.status.success(), "the cut answer is an error");
    assert!(
        text(&out.stderr).contains("ferry resume"),
        "{}",
        text(&out.stderr)
    );
    let (out, resume_time, resume_kib) = measured(&sim, &journal, &["resume"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("had reached the portal"), "{err}");
    let printed = text(&out.stdout);
    assert!(printed.starts_with("s1\tLOC_"), "{printed}");

    let lookups: Vec<String> = api_log(&sim)
        .iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with("/get-sequences"))
        .map(|r| r["query"].as_str().unwrap().to_string())
        .collect();
    // Once before the submit, once on resume; each one page, of unreleased entries.
    assert_eq!(lookups.len(), 3, "{lookups:?}");
    for q in &lookups[1..] {
        assert!(
            q.contains("statusesFilter=RECEIVED,IN_PROCESSING,PROCESSED")
                && q.contains("page=0")
                && q.contains("size=1000"),
            "{q}"
        );
    }
    let page = reqwest::blocking::Client::new()
        .get(format!("{backend}/{ORGANISM}/get-sequences?{}", lookups[2]))
        .bearer_auth(sim.token())
        .send()
        .and_then(|r| r.bytes())
        .unwrap();
    eprintln!(
        "group of 100,000 released entries: ferry submit {:.2} s, peak RSS {} MiB; ferry resume (look-up) {:.2} s, peak RSS {} MiB; a look-up answer {} bytes (all entries unfiltered: {} bytes)",
        submit_time.as_secs_f64(),
        submit_kib / 1024,
        resume_time.as_secs_f64(),
        resume_kib / 1024,
        page.len(),
        all.len()
    );
    assert!(
        page.len() * 100 < all.len(),
        "{} vs {}",
        page.len(),
        all.len()
    );
}
