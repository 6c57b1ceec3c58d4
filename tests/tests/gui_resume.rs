//! Resume in the desktop app: the window is closed mid-upload, opened
//! again, offers the unfinished job, and Resume sends only the parts the
//! storage had not acknowledged, to the same upload, until green checks.
//! Runs against a `ferry-sim` process (the demo portal lives and dies with
//! the app, so it cannot outlive a restart) with a journal of its own.

use ferry_e2e::sha;
use std::time::{Duration, Instant};

use ferry_e2e::SimProc;
use ferry_e2e::webdriver::{Driver, Session, app_binary, record_timing};
use serde_json::json;

const BIG: usize = 40 * 1024 * 1024 + 7;
const PARTS: usize = 6; // 8 MiB parts

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn close_mid_upload_reopen_and_resume() {
    let t0 = Instant::now();
    let sim = SimProc::start(&[]);
    let backend = sim.backend();
    let dir = tempfile::tempdir().unwrap();
    let big = ferry_e2e::make_file(dir.path(), "resume_R1.fastq", BIG, 3);
    let small = ferry_e2e::make_file(dir.path(), "resume_R2.fastq", 300_000, 4);
    let (big_sha, small_sha) = (sha(&big), sha(&small));
    let journal = dir.path().join("journal.sqlite");
    let driver = Driver::start(&[
        ("FERRY_BACKEND", &backend),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
    ]);

    // First session: start, let some parts land, close the window.
    let faulted = Instant::now();
    let (file_id, held) = {
        let s = Session::new(&driver, &app_binary());
        s.signed_in_as("demo", "demo");
        assert!(s.find_all("[data-testid=resumable]").is_empty());
        let r = s.drop_paths(&[big.clone(), small.clone()]);
        assert_eq!(r["files"], 2, "{r}");
        // Half the parts hang at the storage, so the window closes with
        // some parts acknowledged and others in flight.
        sim.fault(
            json!({"target": "storage", "fault": {"kind": "stall", "millis": 4000}, "count": 3}),
        );
        s.click(&s.wait_for("[data-testid=upload]:not([disabled])", 10));
        let deadline = Instant::now() + Duration::from_secs(60);
        let held = loop {
            let d = s.done_parts("resume_R1.fastq");
            if d.len() >= 2 {
                break d;
            }
            if Instant::now() > deadline {
                s.screenshot("resume-failed");
                panic!("no part acknowledged (see tests/artifacts/resume-failed.png)");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let row = s.wait_for("[data-name=\"resume_R1.fastq\"]", 5);
        let id = s.attr(&row, "data-remote-id");
        assert!(!id.is_empty());
        (id, held)
        // The session ends here: the app's window closes mid-upload.
    };
    // Whatever the storage still finishes after the close is counted as
    // held before the reopening.
    std::thread::sleep(Duration::from_secs(5).saturating_sub(faulted.elapsed()));
    let before = sim.parts_stored(&file_id).len();
    // What a resume must not send again is what the journal acknowledged
    // (the window shows a part done only once it is).
    let acked = ferry_e2e::journal_acked_parts(&journal, &file_id);
    for p in &held {
        assert!(
            acked.contains(p),
            "part {p} was shown done but not journaled: {acked:?}"
        );
    }

    // Second session: the job is offered; Resume finishes it.
    let s = Session::new(&driver, &app_binary());
    s.signed_in_as("demo", "demo");
    let job = s.wait_for("[data-testid=job][data-here=true]", 20);
    let text = s.prop(&job, "textContent");
    assert!(text.contains("2 files"), "{text}");
    s.screenshot("5-resume");
    s.click(&s.wait_for("[data-testid=job-resume]", 5));
    let deadline = Instant::now() + Duration::from_secs(90);
    while s.find_all("[data-status=done] [data-testid=check]").len() < 2 {
        assert!(
            Instant::now() < deadline,
            "not every file accepted after resume"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(s.find_all("[data-testid=resumable]").is_empty());

    let row = s.wait_for("[data-name=\"resume_R1.fastq\"][data-status=done]", 5);
    assert_eq!(
        s.attr(&row, "data-remote-id"),
        file_id,
        "the same upload went on"
    );
    assert_eq!(s.attr(&row, "data-sha256"), big_sha);
    let resent: Vec<u64> = sim.parts_stored(&file_id)[before..].to_vec();
    for p in &acked {
        assert!(
            !resent.contains(p),
            "part {p} was acknowledged in the journal before closing and sent again: {resent:?}"
        );
    }
    assert!(
        resent.len() <= PARTS - acked.len(),
        "{resent:?} after {acked:?} acknowledged"
    );
    for (name, sha, size) in [
        ("resume_R1.fastq", &big_sha, BIG),
        ("resume_R2.fastq", &small_sha, 300_000),
    ] {
        let row = s.wait_for(&format!("[data-name=\"{name}\"][data-status=done]"), 5);
        let id = s.attr(&row, "data-remote-id");
        ferry_e2e::assert_stored(&backend, &id, sha, Some(size as u64), name);
    }
    eprintln!(
        "resume in the window: {} of {PARTS} parts held at close, {} sent after reopening; took {:?}",
        held.len(),
        resent.len(),
        t0.elapsed()
    );
    record_timing(
        "gui_resume",
        "close mid-upload, reopen and resume E2E",
        t0.elapsed(),
    );
}
