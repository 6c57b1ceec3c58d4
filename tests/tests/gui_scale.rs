//! A big folder in the real window: 10,000 files dropped at once are
//! checked and listed, and the list stays a few dozen DOM rows however long
//! it is, scrolling to the last file.

use std::time::{Duration, Instant};

use ferry_e2e::webdriver::{Driver, Session, app_binary};
use serde_json::json;

const MANY: usize = 10_000;

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
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn ten_thousand_files_dropped_at_once() {
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
    s.wait_for("[data-testid=user]", 30);

    s.drop_paths(std::slice::from_ref(&one));
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
    eprintln!("10,000 files checked and listed {listed:?} after the drop");
}
