//! The native file dialog and a big folder in the real window: Add files…
//! opens GTK's file chooser (rfd), answered as a user does with the
//! keyboard (xdotool), and the window stays live meanwhile; 10,000 files
//! dropped at once are checked and listed, and the list stays a few dozen
//! DOM rows however long it is. (Add folder… uses the same dialog code; the
//! folder chooser could not yet be driven by keyboard under Xvfb.)
//! Thousands of tiny files uploaded through the demo portal, measured while
//! they go: the messages the window receives per second, how long the
//! window takes to draw a frame, and its DOM and memory, which stay bounded.
//! And the window under load: a big file and many small files sent
//! together while frames, clicks and progress messages are measured
//! (tests/artifacts/gui-load.json); the full load (1 GiB and
//! 10,000 files) with `bash tests/bench.sh gui`.

use std::process::Command;
use std::time::{Duration, Instant};

use ferry_e2e::webdriver::{Driver, Session, app_binary, record, record_timing};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

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

/// Waits for the dialog titled `title` to be shown; returns its X window.
fn wait_dialog(display: &str, title: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let w = xdotool(display, &["search", "--onlyvisible", "--name", title]);
        if let Some(w) = w.lines().next() {
            return w.to_string();
        }
        assert!(Instant::now() < deadline, "no dialog titled {title:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Types `path` into the location field of the dialog `win` and confirms,
/// as a user does with Ctrl+L.
fn answer_dialog(display: &str, win: &str, path: &std::path::Path) {
    std::thread::sleep(Duration::from_millis(400));
    xdotool(display, &["windowfocus", "--sync", win]);
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
    let dialog = wait_dialog(&driver.display, "Add files to upload");
    // The window stays live while the dialog is up: it runs a script and
    // draws two frames (a window blocked on the dialog would do neither,
    // and the WebDriver call would time out).
    let asked = Instant::now();
    let live = s.run_async(
        "const [done] = arguments; const t = performance.now();\
         requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t)));",
        json!([]),
    );
    assert!(
        live.as_f64().is_some(),
        "no answer while the dialog is up: {live}"
    );
    assert!(
        !wait_dialog(&driver.display, "Add files to upload").is_empty(),
        "the dialog is still up"
    );
    record_timing(
        "gui_scale",
        "window answers a script and draws while the file dialog is up",
        asked.elapsed(),
    );
    answer_dialog(&driver.display, &dialog, &one);
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

/// How many tiny files [`upload_thousands_of_files`] sends: the issue's
/// 10,000, which a debug build uploads in 15-26 s on 2 idle cores (the
/// whole test: 22-30 s; 50-75 s while builds share the cores).
const UPLOADED: usize = 10_000;

/// The bytes of the `i`-th tiny file (each different, so each hash is).
fn tiny(i: usize) -> Vec<u8> {
    format!("@read{i}\nACGT\n+\nIIII\n").into_bytes()
}

/// Median, 95th percentile and maximum of `v` (sorted in place).
fn spread(v: &mut [f64]) -> String {
    if v.is_empty() {
        return "no samples".into();
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!(
        "median {:.0} ms, p95 {:.0} ms, max {:.0} ms ({} samples)",
        at(0.5),
        at(0.95),
        at(1.0),
        v.len()
    )
}

/// One sample of the window while it uploads: the list scrolled to
/// `pos` (0..1 of its height) and the time until the frame after that is
/// drawn, with the window's message counters, DOM size and accepted count.
const SAMPLE: &str = "const [pos, done] = arguments;\
    const l = document.querySelector('[data-testid=list]');\
    const s = document.querySelector('[data-testid=stats]');\
    const t = performance.now();\
    if (l) l.scrollTop = pos * l.scrollHeight;\
    requestAnimationFrame(() => requestAnimationFrame(() => done({\
      frame: performance.now() - t,\
      messages: Number(s.dataset.messages), messageRows: Number(s.dataset.messageRows),\
      rows: document.querySelectorAll('[data-testid=row]').length,\
      nodes: document.getElementsByTagName('*').length,\
      accepted: Number(document.querySelector('[data-testid=done-count]').textContent),\
      stats: s.textContent })));";

/// 10,000 tiny files (each one `request-upload` slot and one PUT) go up
/// through the window while the test scrolls the list and clicks in it:
/// every file is accepted, the simulator holds exactly them, the DOM stays
/// a few dozen rows, and the message rate, frame times and memory are
/// printed and recorded in tests/artifacts/gui-timings.txt (no assertion
/// on a time: they depend on the machine).
#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn upload_thousands_of_files() {
    const T: &str = "gui_scale_upload";
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("plate9");
    std::fs::create_dir_all(&folder).unwrap();
    for i in 0..UPLOADED {
        std::fs::write(folder.join(format!("well{i:05}.fastq")), tiny(i)).unwrap();
    }
    let journal = dir.path().join("journal.sqlite");
    let driver = Driver::start(&[("FERRY_JOURNAL", journal.to_str().unwrap())]);
    let s = Session::new(&driver, &app_binary());
    s.wait_signed_in(30);
    let backend = s.text(&s.wait_for("[data-testid=backend]", 5));
    s.drop_paths(std::slice::from_ref(&folder));
    let n = notice(&s, &format!("Added {UPLOADED} files"));
    assert!(!n.contains("problems"), "{n}");
    let web_rss = |d: &Driver| {
        d.rss_kib()
            .into_iter()
            .filter(|(name, _)| name.starts_with("WebKitWebProces"))
            .map(|(_, kib)| kib)
            .max()
            .unwrap_or(0)
    };
    let app_rss = |d: &Driver| {
        d.rss_kib()
            .into_iter()
            .filter(|(name, _)| name == "ferry-app")
            .map(|(_, kib)| kib)
            .sum::<u64>()
    };
    let rss_before = (web_rss(&driver), app_rss(&driver));

    let stats = s.wait_for("[data-testid=stats]", 5);
    // The page notes when each message is drawn (the stats line's counter).
    s.run_async(
        "const [done] = arguments; const s = document.querySelector('[data-testid=stats]');\
         window.__messageLog = [];\
         new MutationObserver(() => window.__messageLog.push([performance.now(), Number(s.dataset.messages)]))\
           .observe(s, {attributes: true, attributeFilter: ['data-messages']});\
         done(1);",
        json!([]),
    );
    let first = s.run_async(SAMPLE, json!([0.0]));
    s.click(&s.wait_for("[data-testid=upload]", 5));
    let t0 = Instant::now();
    let (mut frames, mut trips, mut clicks) = (vec![], vec![], vec![]);
    let (mut max_rows, mut max_nodes) = (0u64, 0u64);
    let mut rss_peak = rss_before;
    let deadline = Instant::now() + Duration::from_secs(300);
    let end = loop {
        let pos = (frames.len() % 11) as f64 / 10.0;
        let asked = Instant::now();
        let v: Value = s.run_async(SAMPLE, json!([pos]));
        trips.push(asked.elapsed().as_secs_f64() * 1000.0);
        frames.push(v["frame"].as_f64().unwrap());
        max_rows = max_rows.max(v["rows"].as_u64().unwrap());
        max_nodes = max_nodes.max(v["nodes"].as_u64().unwrap());
        let text = v["stats"].as_str().unwrap_or_default().to_string();
        assert!(!text.contains("failed"), "{text}");
        if v["accepted"].as_u64() == Some(UPLOADED as u64) {
            break (t0.elapsed(), v);
        }
        // A click in the window (on the stats line, which does nothing),
        // as WebDriver delivers one: it waits for the page to take it.
        let asked = Instant::now();
        s.click(&stats);
        clicks.push(asked.elapsed().as_secs_f64() * 1000.0);
        if frames.len() % 5 == 0 {
            rss_peak.0 = rss_peak.0.max(web_rss(&driver));
            rss_peak.1 = rss_peak.1.max(app_rss(&driver));
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {UPLOADED} accepted: {text}",
            v["accepted"]
        );
        std::thread::sleep(Duration::from_millis(150));
    };
    let (took, v) = end;
    let messages = v["messages"].as_u64().unwrap() - first["messages"].as_u64().unwrap();
    let rows_sent = v["messageRows"].as_u64().unwrap() - first["messageRows"].as_u64().unwrap();
    // From the page's log: the most messages drawn within any second, and
    // the gaps between consecutive ones (the shell flushes every 100 ms).
    let log: Vec<(f64, u64)> = s
        .run_async("arguments[0](window.__messageLog)", json!([]))
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e[0].as_f64().unwrap(), e[1].as_u64().unwrap()))
        .collect();
    let mut peak = 0;
    let mut from = 0;
    for &(t, b) in &log {
        while log[from].0 <= t - 1000.0 {
            from += 1;
        }
        // Messages drawn in (t - 1 s, t]: those after the entry before `from`.
        let before = if from == 0 {
            log[0].1 - 1
        } else {
            log[from - 1].1
        };
        peak = peak.max(b - before);
    }
    let mut gaps: Vec<f64> = log
        .windows(2)
        .filter(|w| w[1].1 == w[0].1 + 1)
        .map(|w| w[1].0 - w[0].0)
        .collect();
    let short = gaps.iter().filter(|g| **g < 50.0).count();

    // Throttled: one message per file would be 10,000 (the deadline keeps
    // 10 a second under 3,000).
    assert!(
        messages < UPLOADED as u64 / 2,
        "{messages} messages for {UPLOADED} files"
    );
    // Bounded, whatever the machine: the list draws a window of rows.
    assert!(max_rows < 200, "{max_rows} rows in the DOM");
    assert!(max_nodes < 5000, "{max_nodes} DOM elements");
    let stats_text = v["stats"].as_str().unwrap_or_default();
    assert!(
        stats_text.contains(&format!("{UPLOADED} files")),
        "{stats_text}"
    );

    // The simulator handed out exactly one file id per file, and its
    // storage holds one object for each.
    let state: Value = reqwest::blocking::get(format!("{backend}/_sim/state"))
        .and_then(|r| r.json())
        .unwrap();
    assert_eq!(state["files"].as_array().unwrap().len(), UPLOADED);
    let stored: std::collections::HashSet<&str> = state["storage_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "PUT" && r["status"] == 200)
        .filter_map(|r| r["path"].as_str())
        .collect();
    assert_eq!(stored.len(), UPLOADED, "objects stored");
    // A sample of files across the list: accepted, with the hash of the
    // bytes on disk, and exactly those bytes in the storage.
    let mut checked = 0;
    for pos in [0.0, 0.33, 0.66, 1.0] {
        let rows = s.run_async(
            "const [pos, done] = arguments; const l = document.querySelector('[data-testid=list]');\
             l.scrollTop = pos * l.scrollHeight;\
             requestAnimationFrame(() => requestAnimationFrame(() => done(\
               [...document.querySelectorAll('[data-testid=row]')].slice(0, 4).map(r => r.dataset))));",
            json!([pos]),
        );
        for r in rows.as_array().unwrap() {
            let name = r["name"].as_str().unwrap();
            let i: usize = name
                .trim_start_matches("well")
                .trim_end_matches(".fastq")
                .parse()
                .unwrap();
            let data = tiny(i);
            let sha = hex::encode(Sha256::digest(&data));
            assert_eq!(r["status"], "done", "{name}");
            assert_eq!(r["sha256"].as_str(), Some(sha.as_str()), "{name}");
            let id = r["remoteId"].as_str().unwrap();
            ferry_e2e::assert_stored(&backend, id, &sha, Some(data.len() as u64), name);
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} files sampled");

    let secs = took.as_secs_f64();
    record_timing(T, &format!("{UPLOADED} tiny files uploaded"), took);
    record(
        T,
        "files accepted per second",
        &format!("{:.0}", UPLOADED as f64 / secs),
    );
    record(
        T,
        "messages reaching the window per second",
        &format!(
            "{:.1} on average, at most {peak} within a second ({messages} messages)",
            messages as f64 / secs
        ),
    );
    record(
        T,
        "gap between consecutive messages",
        &format!("{}; {short} under 50 ms", spread(&mut gaps)),
    );
    record(
        T,
        "row changes per message",
        &format!(
            "{:.0} on average ({rows_sent} in all)",
            rows_sent as f64 / messages.max(1) as f64
        ),
    );
    record(
        T,
        "frame after a scroll, while uploading",
        &spread(&mut frames),
    );
    record(
        T,
        "WebDriver script round trip, while uploading",
        &spread(&mut trips),
    );
    record(T, "WebDriver click, while uploading", &spread(&mut clicks));
    record(
        T,
        "DOM while uploading",
        &format!("at most {max_rows} rows, {max_nodes} elements"),
    );
    record(
        T,
        "memory (RSS) before, peak while uploading",
        &format!(
            "web process {} MiB, {} MiB; app {} MiB, {} MiB",
            rss_before.0 / 1024,
            rss_peak.0 / 1024,
            rss_before.1 / 1024,
            rss_peak.1 / 1024
        ),
    );
    record_timing(T, "upload of thousands of files E2E", started.elapsed());
    // Memory stays bounded while thousands of files go: both processes
    // were found, and neither grew by more than 256 MiB (a row per file
    // kept in the page or a message per file would grow with the count).
    assert!(
        rss_before.0 > 0 && rss_before.1 > 0,
        "the web and app processes were not found: {rss_before:?}"
    );
    for (what, before, peak) in [
        ("web process", rss_before.0, rss_peak.0),
        ("app", rss_before.1, rss_peak.1),
    ] {
        assert!(
            peak.saturating_sub(before) < 256 * 1024,
            "{what}: RSS grew from {} MiB to {} MiB while uploading",
            before / 1024,
            peak / 1024
        );
    }
}

/// What the page keeps while the window is under load: every frame's
/// time (a requestAnimationFrame loop), each click on Settings… (or the
/// form's Close) from the event to the frame that shows its answer, and when each message from the
/// shell (its progress message) is drawn.
const LOAD_PROBE: &str = "const [done] = arguments;\
    const p = window.__load = {frames: [], clicks: [], messages: [], stop: false};\
    let last = performance.now();\
    const loop = (t) => { p.frames.push(t - last); last = t; if (!p.stop) requestAnimationFrame(loop); };\
    requestAnimationFrame(loop);\
    document.addEventListener('click', (e) => {\
      if (!e.target.closest('[data-testid=settings-open], [data-testid=settings] button[type=button]')) return;\
      const t0 = e.timeStamp;\
      requestAnimationFrame(() => p.clicks.push(performance.now() - t0));\
    }, true);\
    const s = document.querySelector('[data-testid=stats]');\
    new MutationObserver(() => p.messages.push(performance.now()))\
      .observe(s, {attributes: true, attributeFilter: ['data-messages']});\
    done(1);";

/// The most entries of the sorted times `t` (ms) within any one second.
fn peak_per_second(t: &[f64]) -> usize {
    let mut from = 0;
    let mut peak = 0;
    for (i, &x) in t.iter().enumerate() {
        while t[from] <= x - 1000.0 {
            from += 1;
        }
        peak = peak.max(i + 1 - from);
    }
    peak
}

/// Median, 95th percentile and maximum of `v` (sorted in place), as JSON.
fn quantiles(v: &mut [f64]) -> Value {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        v.get(((v.len().max(1) - 1) as f64 * q).round() as usize)
            .copied()
    };
    json!({"samples": v.len(), "median": at(0.5), "p95": at(0.95), "max": at(1.0)})
}

/// The load of [`window_under_load`]: the 1 GiB file and 10,000
/// files with `FERRY_LOAD_FULL=1` (`bash tests/bench.sh gui` sets it); a
/// quarter of the file and a fifth of the files in the suite, where the
/// test runs beside every other one on two cores (the full load took
/// 590 s there).
fn load() -> (u64, usize) {
    if std::env::var_os("FERRY_LOAD_FULL").is_some() {
        (1 << 30, UPLOADED)
    } else {
        (256 << 20, 2_000)
    }
}

/// The window under load (issue 17): a big file sent in parts and
/// many small files ([`load`]) go up together while the page times every frame,
/// the test clicks Settings… open and shut (timed from the click event to
/// the frame that shows the answer, and from the WebDriver call to the
/// changed page), and the page notes each message the shell sends. The
/// figures and the targets (frame p95 ≤ 50 ms, a click answered
/// ≤ 100 ms, ≤ 20 progress messages a second) go to
/// tests/artifacts/gui-load.json and gui-timings.txt: measured, not
/// asserted, since they depend on the machine. Asserted: the samples were
/// taken, and every file, the big one by its hash, reached the storage.
#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn window_under_load() {
    const T: &str = "gui_scale_load";
    let (big_size, small_files) = load();
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("plate11");
    std::fs::create_dir_all(&folder).unwrap();
    for i in 0..small_files {
        std::fs::write(folder.join(format!("well{i:05}.fastq")), tiny(i)).unwrap();
    }
    // 1 GiB of a cheap pseudo-random stream (each part differs).
    let big = dir.path().join("run11_R1.fastq.gz");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..big_size >> 20 {
            for c in block.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                c.copy_from_slice(&x.to_le_bytes());
            }
            f.write_all(&block).unwrap();
        }
    }
    let big_sha = ferry_e2e::sha(&big);
    let journal = dir.path().join("journal.sqlite");
    let driver = Driver::start(&[("FERRY_JOURNAL", journal.to_str().unwrap())]);
    let s = Session::new(&driver, &app_binary());
    s.wait_signed_in(30);
    let backend = s.text(&s.wait_for("[data-testid=backend]", 5));
    s.drop_paths(&[big.clone(), folder.clone()]);
    let n = notice(&s, &format!("Added {} files", small_files + 1));
    assert!(!n.contains("problems"), "{n}");
    s.wait_for("[data-testid=settings-open]", 5);
    s.run_async(LOAD_PROBE, json!([]));

    s.click(&s.wait_for("[data-testid=upload]", 5));
    let t0 = Instant::now();
    let open = s.wait_for("[data-testid=settings-open]", 5);
    let mut webdriver_clicks = vec![];
    let deadline = Instant::now() + Duration::from_secs(1200);
    let took = loop {
        // A click, then the page until it shows the answer (the settings
        // form there or gone), as a user sees it.
        // Open with Settings…, shut with the form's Close (the open form
        // may cover Settings… when the toolbar wraps).
        let shown = !s.find_all("[data-testid=settings]").is_empty();
        let target = if shown {
            s.wait_for("[data-testid=settings] button[type=button]", 5)
        } else {
            open.clone()
        };
        let asked = Instant::now();
        s.click(&target);
        let v = s.run_async(
            "const [shown, done] = arguments;\
             const check = () => (document.querySelector('[data-testid=settings]') !== null) !== shown\
               ? done(Number(document.querySelector('[data-testid=done-count]').textContent))\
               : requestAnimationFrame(check);\
             check();",
            json!([shown]),
        );
        webdriver_clicks.push(asked.elapsed().as_secs_f64() * 1000.0);
        if v.as_u64() == Some(small_files as u64 + 1) {
            break t0.elapsed();
        }
        let stats = s.text(&s.wait_for("[data-testid=stats]", 5));
        assert!(!stats.contains("failed"), "{stats}");
        assert!(
            Instant::now() < deadline,
            "only {v} of {} accepted: {stats}",
            small_files + 1
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let probe = s.run_async(
        "const [done] = arguments; window.__load.stop = true; done(window.__load);",
        json!([]),
    );
    let nums = |k: &str| -> Vec<f64> {
        probe[k]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_f64)
            .collect()
    };
    // The first entry is the time from the probe to the first frame.
    let mut frames: Vec<f64> = nums("frames").into_iter().skip(1).collect();
    let mut clicks = nums("clicks");
    let messages = nums("messages");
    let secs = took.as_secs_f64();

    let peak = peak_per_second(&messages);
    let report = json!({
        "test": "gui_scale::window_under_load",
        "load": format!("{} MiB file in parts + {small_files} files of {} bytes, together", big_size >> 20, tiny(0).len()),
        "upload_seconds": secs,
        "frame_ms": quantiles(&mut frames),
        "click_to_answer_ms": quantiles(&mut clicks),
        "webdriver_click_to_changed_page_ms": quantiles(&mut webdriver_clicks),
        "progress_messages": {
            "total": messages.len(),
            "per_second_average": messages.len() as f64 / secs,
            "per_second_peak": peak,
        },
        "targets": {"frame_p95_ms": 50, "click_ms": 100, "progress_messages_per_second": 20},
    });
    std::fs::create_dir_all(ferry_e2e::webdriver::artifacts()).unwrap();
    std::fs::write(
        ferry_e2e::webdriver::artifacts().join("gui-load.json"),
        serde_json::to_string_pretty(&report).unwrap() + "\n",
    )
    .unwrap();
    let q = |k: &str| {
        let v = &report[k];
        format!(
            "median {:.0} ms, p95 {:.0} ms, max {:.0} ms ({} samples)",
            v["median"].as_f64().unwrap_or(0.0),
            v["p95"].as_f64().unwrap_or(0.0),
            v["max"].as_f64().unwrap_or(0.0),
            v["samples"]
        )
    };
    record_timing(
        T,
        &format!(
            "{} MiB + {small_files} files uploaded together",
            big_size >> 20
        ),
        took,
    );
    record(
        T,
        "frame time under load (target p95 <= 50 ms)",
        &q("frame_ms"),
    );
    record(
        T,
        "click to the frame that answers it (target <= 100 ms)",
        &q("click_to_answer_ms"),
    );
    record(
        T,
        "WebDriver click to the changed page",
        &q("webdriver_click_to_changed_page_ms"),
    );
    record(
        T,
        "progress messages per second (target <= 20)",
        &format!(
            "{:.1} on average, at most {peak} within a second ({} in all)",
            messages.len() as f64 / secs,
            messages.len()
        ),
    );
    // Then the checks: every file reached the storage, the big one with
    // its bytes; the measurements were taken.
    let state: Value = reqwest::blocking::get(format!("{backend}/_sim/state"))
        .and_then(|r| r.json())
        .unwrap();
    assert_eq!(
        state["files"].as_array().unwrap().len(),
        small_files + 1,
        "file ids handed out"
    );
    // The big file was added first: its row is at the top of the list.
    let big_id = s.run_async(
        "const [done] = arguments;\
         done(document.querySelector('[data-name=\"run11_R1.fastq.gz\"]').dataset.remoteId);",
        json!([]),
    );
    let big_id = big_id.as_str().expect("the big file's row and its id");
    // The stored object's hash, read with time to spare: the debug app's
    // demo portal hashes a GiB slowly on a busy machine.
    let stored: Value = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap()
        .get(format!("{backend}/_sim/object/{big_id}"))
        .send()
        .and_then(|r| r.json())
        .expect("the 1 GiB file's stored object");
    assert_eq!(
        stored["sha256"].as_str(),
        Some(big_sha.as_str()),
        "the 1 GiB file: {stored}"
    );
    assert_eq!(
        stored["size"].as_u64(),
        Some(big_size),
        "the 1 GiB file: {stored}"
    );
    // Measurements were taken: a frame loop that ran the whole time, a
    // click answered each round, the shell's messages.
    assert!(
        frames.len() >= 100,
        "only {} frames sampled in {secs:.0} s",
        frames.len()
    );
    assert!(
        clicks.len() >= 5 && webdriver_clicks.len() >= 5,
        "clicks measured: {} in the page, {} by WebDriver",
        clicks.len(),
        webdriver_clicks.len()
    );
    assert!(!messages.is_empty(), "no message from the shell was drawn");
}
