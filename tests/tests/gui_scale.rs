//! The native file dialog and a big folder in the real window: Add files…
//! opens GTK's file chooser (rfd), answered as a user does with the
//! keyboard (xdotool), and the window stays live meanwhile; 10,000 files
//! dropped at once are checked and listed, and the list stays a few dozen
//! DOM rows however long it is. (Add folder… uses the same dialog code; the
//! folder chooser could not yet be driven by keyboard under Xvfb.)

use std::process::Command;
use std::time::{Duration, Instant};

use ferry_e2e::webdriver::{Driver, Session, app_binary, record_timing};
use serde_json::json;

const MANY: usize = 10_000;

fn xdotool(display: &str, args: &[&str]) -> String {
    let out = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", display)
        .output()
        .expect("xdotool");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Presses a button that opens a modal dialog. The press is queued in the
/// page and the call returns at once: a WebDriver click would wait for the
/// page while the dialog is up.
fn press(s: &Session, testid: &str) {
    s.wait_for(&format!("[data-testid={testid}]"), 5);
    s.run_async(
        "const [id, done] = arguments;\
         setTimeout(() => document.querySelector(`[data-testid=${id}]`).click(), 50); done(1);",
        json!([testid]),
    );
}

/// Waits for the dialog titled `title`, types `path` into its location
/// field and confirms, as a user does with Ctrl+L.
fn answer_dialog(display: &str, title: &str, path: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let win = loop {
        let w = xdotool(display, &["search", "--onlyvisible", "--name", title]);
        if let Some(w) = w.lines().next() {
            break w.to_string();
        }
        assert!(Instant::now() < deadline, "no dialog titled {title:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(400));
    xdotool(display, &["windowfocus", "--sync", &win]);
    xdotool(display, &["key", "--clearmodifiers", "ctrl+l"]);
    std::thread::sleep(Duration::from_millis(200));
    xdotool(display, &["type", "--delay", "5", path.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(400));
    xdotool(display, &["key", "Return"]);
}

fn notice(s: &Session, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(n) = s.find_all("[data-testid=notice]").into_iter().next() {
            let t = s.text(&n);
            if t.contains(want) {
                return t;
            }
        }
        assert!(Instant::now() < deadline, "no notice {want:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver, xdotool and the built app: tests/run-all.sh runs it"]
fn native_dialogs_and_ten_thousand_files() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("picked_R1.fastq");
    std::fs::write(&one, b"@r\nACGT\n+\nIIII\n").unwrap();
    let many = dir.path().join("plate7");
    std::fs::create_dir_all(&many).unwrap();
    for i in 0..MANY {
        std::fs::write(many.join(format!("well{i:05}.fastq")), b"@r\nA\n+\nI\n").unwrap();
    }
    let journal = dir.path().join("journal.sqlite");
    let driver = Driver::start(&[("FERRY_JOURNAL", journal.to_str().unwrap())]);
    let s = Session::new(&driver, &app_binary());
    let cold = s.wait_signed_in(30);
    record_timing("gui_scale", "cold start to signed in (demo portal)", cold);

    press(&s, "add-files");
    answer_dialog(&driver.display, "Add files to upload", &one);
    notice(&s, "Added 1 file");
    s.wait_for("[data-name=\"picked_R1.fastq\"][data-status=ready]", 5);

    let t0 = Instant::now();
    s.drop_paths(std::slice::from_ref(&many));
    let n = notice(&s, &format!("Added {MANY} files"));
    let listed = t0.elapsed();
    assert!(!n.contains("problems"), "{n}");
    let rows = s.find_all("[data-testid=row]").len();
    assert!(
        rows > 5 && rows < 100,
        "{rows} rows in the DOM for {} files",
        MANY + 1
    );
    let stats = s.text(&s.wait_for("[data-testid=stats]", 5));
    assert!(stats.contains(&format!("{} files", MANY + 1)), "{stats}");
    // Scrolled to the end, the last file is drawn.
    s.run_async(
        "const [done] = arguments; const l = document.querySelector('[data-testid=list]');\
         l.scrollTop = l.scrollHeight; requestAnimationFrame(() => requestAnimationFrame(() => done(1)));",
        json!([]),
    );
    s.wait_for("[data-name=\"well09999.fastq\"]", 10);
    assert!(s.find_all("[data-testid=row]").len() < 100);
    s.screenshot("6-ten-thousand");
    record_timing(
        "gui_scale",
        "10,000 files checked and listed after the drop",
        listed,
    );
    record_timing(
        "gui_scale",
        "dialogs and 10,000 files E2E",
        started.elapsed(),
    );
}
