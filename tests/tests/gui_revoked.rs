//! A sign-in revoked mid-upload, in a real window: the portal's
//! administrator ends the user's sessions (refresh token included) while a
//! multipart file is going up. The file pauses and the window asks to sign
//! in again; after signing in it goes on by itself from its acknowledged
//! parts, to the same upload, until its green check, and the stored bytes
//! are the file's.

use std::time::{Duration, Instant};

use ferry_e2e::SimProc;
use ferry_e2e::webdriver::{Driver, Session, app_binary, record_timing};
use serde_json::json;

const BIG: usize = 40 * 1024 * 1024 + 11; // 6 parts of 8 MiB

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn a_sign_in_revoked_mid_upload_pauses_and_signing_in_again_continues() {
    let t0 = Instant::now();
    let sim = SimProc::start(&[]);
    let backend = sim.backend();
    let dir = tempfile::tempdir().unwrap();
    let big = ferry_e2e::make_file(dir.path(), "revoked_R1.fastq", BIG, 5);
    let want = ferry_e2e::sha(&big);
    let journal = dir.path().join("journal.sqlite");
    let driver = Driver::start(&[
        ("FERRY_BACKEND", &backend),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
    ]);
    let s = Session::new(&driver, &app_binary());
    s.signed_in_as("demo", "demo");
    let r = s.drop_paths(std::slice::from_ref(&big));
    assert_eq!(r["files"], 1, "{r}");
    // Two parts hang a while, so the revocation lands mid-upload.
    sim.fault(json!({"target": "storage", "fault": {"kind": "stall", "millis": 3000}, "count": 2}));
    s.click(&s.wait_for("[data-testid=upload]:not([disabled])", 10));
    let deadline = Instant::now() + Duration::from_secs(30);
    let file_id = loop {
        let row = s.wait_for("[data-name=\"revoked_R1.fastq\"]", 20);
        let id = s.attr(&row, "data-remote-id");
        if !id.is_empty() {
            break id;
        }
        assert!(Instant::now() < deadline, "the upload never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    while sim.parts_stored(&file_id).is_empty() {
        assert!(Instant::now() < deadline, "no part acknowledged");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The administrator signs the user out everywhere.
    let revoked: serde_json::Value = reqwest::blocking::Client::new()
        .post(format!("{backend}/_sim/revoke"))
        .json(&json!({"user": "demo"}))
        .send()
        .and_then(|r| r.json())
        .unwrap();
    assert!(revoked["revoked"].as_u64().unwrap() >= 2, "{revoked}");

    let asked = s.wait_for("[data-testid=need-sign-in]", 60);
    let text = s.text(&asked);
    assert!(
        text.contains("paused") && text.contains("Sign in again"),
        "{text}"
    );
    s.wait_for("[data-testid=sign-in]", 5);
    assert!(
        s.find_all("[data-status=done] [data-testid=check]")
            .is_empty(),
        "accepted although the portal refused the sign-in"
    );
    s.screenshot("revoked-asks-to-sign-in");
    // Whatever was in flight at the storage (no token needed there) lands.
    std::thread::sleep(Duration::from_secs(3));
    let held = sim.parts_stored(&file_id);

    // The form kept the user name; the password is typed again.
    let pw = s.wait_for("[data-testid=sign-in] input[type=password]", 5);
    s.type_text(&pw, "demo");
    s.click(&s.wait_for("[data-testid=sign-in] button.primary", 5));
    s.wait_for("[data-testid=user]", 20);
    let deadline = Instant::now() + Duration::from_secs(60);
    while s
        .find_all("[data-name=\"revoked_R1.fastq\"][data-status=done] [data-testid=check]")
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the file did not go on after signing in again"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(s.find_all("[data-testid=need-sign-in]").is_empty());
    let row = s.wait_for("[data-name=\"revoked_R1.fastq\"][data-status=done]", 5);
    assert_eq!(s.attr(&row, "data-remote-id"), file_id, "the same upload");
    assert_eq!(s.attr(&row, "data-sha256"), want);
    ferry_e2e::assert_stored(&backend, &file_id, &want, Some(BIG as u64), "revoked_R1");
    let all = sim.parts_stored(&file_id);
    let after = &all[held.len()..];
    for p in &held {
        assert!(
            !after.contains(p),
            "part {p} was acknowledged before and sent again: {all:?}"
        );
    }
    s.screenshot("revoked-signed-in-again");
    eprintln!(
        "revoked mid-upload: {} of 6 parts held, {} sent after signing in again",
        held.len(),
        after.len()
    );
    record_timing("gui_revoked", "revoked sign-in E2E", t0.elapsed());
}
