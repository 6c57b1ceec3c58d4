//! The desktop app in a real window (Xvfb), driven through tauri-driver and
//! WebKitWebDriver: sign-in to the built-in demo portal, files delivered as
//! a drop delivers them, per-part strips while sending, green checks, the
//! bytes read back from the simulator's storage, and a name the portal
//! rejects shown with its message. Screenshots go to tests/artifacts/.
//!
//! Needs a display, `tauri-driver` and `WebKitWebDriver` on PATH and the
//! built app: `tests/run-all.sh` provides all of them (an Xvfb display of
//! its own) and runs these with every other test.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use ferry_e2e::webdriver::{Driver, Session, app_binary, record_timing};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn write_file(path: &Path, size: usize, seed: u8) -> String {
    let mut data = vec![0u8; size];
    let mut x = seed as u32 | 1;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    std::fs::write(path, &data).unwrap();
    hex::encode(Sha256::digest(&data))
}

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn upload_in_a_real_window() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("sample01_R1.fastq.gz");
    let mut expect = vec![(
        "sample01_R1.fastq.gz",
        write_file(&big, 40 * 1024 * 1024 + 123, 1),
        40 * 1024 * 1024 + 123,
    )];
    let folder = dir.path().join("run42");
    std::fs::create_dir_all(folder.join("qc")).unwrap();
    std::fs::create_dir_all(folder.join(".cache")).unwrap();
    for (i, (name, size)) in [
        ("run42_R1.fastq", 300_000usize),
        ("run42_R2.fastq", 1_000_000),
        ("qc/report.html", 20_000),
        ("qc/summary.tsv", 1),
    ]
    .into_iter()
    .enumerate()
    {
        let p = folder.join(name);
        let sha = write_file(&p, size, 10 + i as u8);
        expect.push((
            Path::new(name)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
                .leak(),
            sha,
            size,
        ));
    }
    std::fs::write(folder.join(".DS_Store"), b"hidden").unwrap();
    std::fs::write(folder.join(".cache/x.fastq"), b"hidden").unwrap();
    let spaced = dir.path().join("sample 02.fastq");
    std::fs::write(&spaced, b"@r\nACGT\n+\nIIII\n").unwrap();
    let colon = dir.path().join("sample:03.fastq");
    std::fs::write(&colon, b"@r\nACGT\n+\nIIII\n").unwrap();

    let journal = dir.path().join("journal.sqlite");
    let driver = Driver::start(&[("FERRY_JOURNAL", journal.to_str().unwrap())]);
    let s = Session::new(&driver, &app_binary());

    // Signed in to the demo portal on its own.
    let cold = s.wait_signed_in(30);
    record_timing("gui", "cold start to signed in (demo portal)", cold);
    let user = s.wait_for("[data-testid=user]", 5);
    assert_eq!(s.text(&user), "demo");
    let backend = s.text(&s.wait_for("[data-testid=backend]", 5));
    assert!(backend.starts_with("http://127.0.0.1:"), "{backend}");
    s.wait_for("[data-testid=empty]", 5);
    s.screenshot("1-empty");

    // A file, a folder (recursive, dot-files skipped) and two bad names.
    let r = s.drop_paths(&[big.clone(), folder.clone(), spaced.clone(), colon.clone()]);
    assert_eq!(r["files"], 7, "{r}");
    assert_eq!(r["problems"], 2, "{r}");
    let notice = s.text(&s.wait_for("[data-testid=notice]", 5));
    assert!(notice.contains("Added 7 files"), "{notice}");
    assert!(notice.contains("2 with problems"), "{notice}");
    for bad in ["sample 02.fastq", "sample:03.fastq"] {
        let row = s.wait_for(&format!("[data-name=\"{bad}\"][data-status=invalid]"), 5);
        let _ = row;
    }
    let errors: Vec<String> = s
        .find_all("[data-testid=error]")
        .iter()
        .map(|e| s.prop(e, "textContent"))
        .collect();
    s.screenshot("4-error");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("may not contain whitespace")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("may not contain ':'")),
        "{errors:?}"
    );

    // Slow the storage down a little so the parts can be seen in flight.
    let http = reqwest::blocking::Client::new();
    http.post(format!("{backend}/_sim/faults"))
        .json(&json!({"target": "storage", "fault": {"kind": "stall", "millis": 2500}, "count": 4}))
        .send()
        .unwrap()
        .error_for_status()
        .unwrap();

    // The batch's end reaches the desktop's notification service: watch
    // the session bus for it (the test command runs every test in one).
    let monitor = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").map(|_| {
        std::process::Command::new("dbus-monitor")
            .args([
                "--session",
                "type=method_call,interface=org.freedesktop.Notifications,member=Notify",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dbus-monitor")
    });
    std::thread::sleep(Duration::from_millis(300));

    let upload = s.wait_for("[data-testid=upload]", 5);
    s.click(&upload);
    s.wait_for(
        "[data-name=\"sample01_R1.fastq.gz\"] [data-state=sending]",
        20,
    );
    let segs = s.find_all("[data-name=\"sample01_R1.fastq.gz\"] .seg");
    assert_eq!(segs.len(), 6, "40 MiB in 8 MiB parts");
    s.screenshot("2-uploading");

    // Every good file gets its green check.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let done = s.find_all("[data-status=done] [data-testid=check]").len();
        if done == expect.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {done} of {} accepted",
            expect.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(s.find_all("[data-status=invalid]").len(), 2);
    std::thread::sleep(Duration::from_millis(300));
    s.screenshot("3-done");
    match monitor {
        Some(mut m) => {
            std::thread::sleep(Duration::from_millis(500));
            let _ = m.kill();
            let mut seen = String::new();
            m.stdout.take().unwrap().read_to_string(&mut seen).unwrap();
            let _ = m.wait();
            assert!(
                seen.contains("\"Ferry: upload finished\"") && seen.contains("\"5 accepted\""),
                "no notification of the finished batch on the session bus: {seen}"
            );
        }
        // The test command runs every test on a session bus; without one
        // the notification check would pass silently, so it fails unless
        // explicitly opted out.
        None if std::env::var_os("FERRY_TEST_NO_SESSION_BUS").is_some() => {
            eprintln!("FERRY_TEST_NO_SESSION_BUS: the notification was not checked")
        }
        None => panic!(
            "no session bus (DBUS_SESSION_BUS_ADDRESS): the notification cannot be checked; \
             run under dbus-run-session as tests/run-all.sh does, or set FERRY_TEST_NO_SESSION_BUS=1"
        ),
    }

    // The simulator's storage holds exactly the bytes of each file.
    let mut ids = std::collections::BTreeSet::new();
    for (name, sha, size) in &expect {
        let row = s.wait_for(&format!("[data-name=\"{name}\"][data-status=done]"), 5);
        assert_eq!(
            &s.attr(&row, "data-sha256"),
            sha,
            "{name}: engine's checksum"
        );
        let id = s.attr(&row, "data-remote-id");
        ferry_e2e::assert_stored(&backend, &id, sha, Some(*size as u64), name);
        ids.insert(id);
    }
    // The two rejected names were never sent: the portal handed out file
    // ids only for the accepted files, and every storage request went to
    // one of them.
    let state: Value = http
        .get(format!("{backend}/_sim/state"))
        .send()
        .and_then(|r| r.json())
        .unwrap();
    let requested: std::collections::BTreeSet<String> = state["files"]
        .as_array()
        .expect("files in the sim state")
        .iter()
        .map(|f| f["file_id"].as_str().expect("file_id").to_owned())
        .collect();
    assert_eq!(
        requested, ids,
        "file ids requested beyond the accepted files"
    );
    let puts: Vec<&Value> = state["storage_log"]
        .as_array()
        .expect("storage log")
        .iter()
        .filter(|r| r["method"] == "PUT")
        .collect();
    assert!(!puts.is_empty(), "no PUT in the storage log");
    for put in puts {
        let path = put["path"].as_str().unwrap_or_default();
        assert!(
            ids.iter().any(|id| path.contains(id.as_str())),
            "a PUT to a file no accepted row names: {path}"
        );
    }
    record_timing("gui", "upload E2E", t0.elapsed());
}
