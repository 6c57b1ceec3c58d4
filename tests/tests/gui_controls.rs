//! The per-file controls in a real window against the demo portal with
//! faults injected at its storage: a part retrying (429 with Retry-After)
//! until its file gets its green check; a file the storage refuses (403)
//! failing with a message that names it and says what to do, then Retry
//! once the fault is gone; Pause and Resume mid-upload going on from the
//! acknowledged parts (none sent twice, by the simulator's storage log);
//! Cancel of a file in flight, which is then never completed. Stored
//! bytes compared by SHA-256. And the window's security: its webview
//! loads nothing remote (CSP), and without FERRY_E2E the test-only
//! commands are refused.

use ferry_e2e::sha;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferry_e2e::webdriver::{Driver, Session, app_binary, record_timing};
use ferry_e2e::{assert_stored, clear_faults, is_stored, make_file, parts_stored, set_fault};
use serde_json::{Value, json};

const MIB: usize = 1024 * 1024;

fn row(name: &str) -> String {
    format!("[data-name=\"{name}\"]")
}

/// Waits for `name`'s green check and returns its remote id, after
/// checking that the storage holds exactly its bytes.
fn accepted(s: &Session, backend: &str, name: &str, path: &Path, secs: u64) -> String {
    let el = s.wait_for(
        &format!("{}[data-status=done] [data-testid=check]", row(name)),
        secs,
    );
    let _ = el;
    let r = s.wait_for(&format!("{}[data-status=done]", row(name)), 5);
    let sha = sha(path);
    assert_eq!(s.attr(&r, "data-sha256"), sha, "{name}: engine's checksum");
    let id = s.attr(&r, "data-remote-id");
    let size = std::fs::metadata(path).unwrap().len();
    assert_stored(backend, &id, &sha, Some(size), name);
    id
}

fn upload(s: &Session) {
    s.click(&s.wait_for("[data-testid=upload]:not([disabled])", 10));
}

fn click_in(s: &Session, name: &str, testid: &str) {
    s.click(&s.wait_for(&format!("{} [data-testid={testid}]", row(name)), 10));
}

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn per_file_retrying_failed_pause_resume_and_cancel() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let retried = make_file(dir.path(), "retried_R1.fastq", 2 * 8 * MIB + 5, 21);
    let refused = make_file(dir.path(), "refused_R1.fastq", 300_000, 22);
    let paused = make_file(dir.path(), "paused_R1.fastq", 3 * 8 * MIB + 3, 23);
    let cancelled = make_file(dir.path(), "cancelled_R1.fastq", 2 * 8 * MIB + 9, 24);
    let journal = dir.path().join("journal.sqlite");
    let driver = Driver::start(&[("FERRY_JOURNAL", journal.to_str().unwrap())]);
    let s = Session::new(&driver, &app_binary());
    let cold = s.wait_signed_in(30);
    record_timing(
        "gui_controls",
        "cold start to signed in (demo portal)",
        cold,
    );
    let backend = s.text(&s.wait_for("[data-testid=backend]", 5));
    assert!(backend.starts_with("http://127.0.0.1:"), "{backend}");

    // 1. A part retrying: the storage answers its first request with 429
    // and Retry-After 3 s, so the part waits as "retrying" in the strip.
    let r = s.drop_paths(std::slice::from_ref(&retried));
    assert_eq!(r["files"], 1, "{r}");
    set_fault(
        &backend,
        json!({"target": "storage", "fault": {"kind": "too_many_requests", "retry_after_secs": 3}, "count": 1}),
    );
    upload(&s);
    s.wait_for(
        &format!("{} .seg[data-state=retrying]", row("retried_R1.fastq")),
        20,
    );
    s.screenshot("controls-retrying");
    accepted(&s, &backend, "retried_R1.fastq", &retried, 60);
    assert!(
        s.find_all(&format!(
            "{} .seg:not([data-state=done])",
            row("retried_R1.fastq")
        ))
        .is_empty(),
        "every part done after the retry"
    );

    // 2. A file the storage refuses for good (403 on every request): it
    // fails at once with a message naming it and saying what to do.
    set_fault(
        &backend,
        json!({"target": "storage", "fault": {"kind": "status", "status": 403}, "count": 1000}),
    );
    s.drop_paths(std::slice::from_ref(&refused));
    upload(&s);
    let failed = s.wait_for(
        &format!("{}[data-status=failed]", row("refused_R1.fastq")),
        30,
    );
    let error = s.prop(
        &s.wait_for(
            &format!("{} [data-testid=error]", row("refused_R1.fastq")),
            5,
        ),
        "textContent",
    );
    assert!(
        error.starts_with("refused_R1.fastq was not sent. Press Retry to send it again"),
        "names the file and what to do: {error}"
    );
    assert!(
        error.contains("(403)"),
        "says what the storage answered: {error}"
    );
    assert!(
        s.find_all(&format!("{} [data-testid=check]", row("refused_R1.fastq")))
            .is_empty()
    );
    let _ = failed;
    s.screenshot("controls-failed");
    // The fault is gone: Retry brings the green check.
    clear_faults(&backend);
    click_in(&s, "refused_R1.fastq", "retry");
    accepted(&s, &backend, "refused_R1.fastq", &refused, 60);

    // 3. Pause mid-upload: two of its four parts hang at the storage, the
    // others are acknowledged; pause, then resume.
    const HANG: Duration = Duration::from_secs(10);
    set_fault(
        &backend,
        json!({"target": "storage", "fault": {"kind": "stall", "millis": HANG.as_millis() as u64}, "count": 2}),
    );
    s.drop_paths(std::slice::from_ref(&paused));
    upload(&s);
    let hung = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.done_parts("paused_R1.fastq").len() < 2 {
        assert!(Instant::now() < deadline, "no two parts acknowledged");
        std::thread::sleep(Duration::from_millis(50));
    }
    click_in(&s, "paused_R1.fastq", "pause");
    let p = s.wait_for(
        &format!("{}[data-status=paused]", row("paused_R1.fastq")),
        10,
    );
    let paused_id = s.attr(&p, "data-remote-id");
    assert!(!paused_id.is_empty());
    let held = s.done_parts("paused_R1.fastq");
    assert!(
        held.len() >= 2 && held.len() < 4,
        "paused with some parts acknowledged and some not: {held:?}"
    );

    // 4. Cancel a file in flight: every request of it hangs, so it is
    // still sending when Cancel is pressed.
    set_fault(
        &backend,
        json!({"target": "storage", "fault": {"kind": "stall", "millis": 4000}, "count": 3}),
    );
    s.drop_paths(std::slice::from_ref(&cancelled));
    upload(&s);
    s.wait_for(
        &format!("{}[data-status=sending]", row("cancelled_R1.fastq")),
        20,
    );
    click_in(&s, "cancelled_R1.fastq", "cancel");
    let c = s.wait_for(
        &format!("{}[data-status=cancelled]", row("cancelled_R1.fastq")),
        10,
    );
    let cancelled_id = s.attr(&c, "data-remote-id");
    s.wait_for(
        &format!("{} [data-testid=retry]", row("cancelled_R1.fastq")),
        5,
    );

    // Whatever the hung requests still do at the storage is over before
    // the resume is counted.
    std::thread::sleep((HANG + Duration::from_secs(1)).saturating_sub(hung.elapsed()));
    let before = parts_stored(&backend, &paused_id).len();
    // What Resume must not send again is what the journal acknowledged;
    // the window shows a part done only once it is.
    let acked = ferry_e2e::journal_acked_parts(&journal, &paused_id);
    for part in &held {
        assert!(
            acked.contains(part),
            "part {part} was shown done but not journaled: {acked:?}"
        );
    }
    click_in(&s, "paused_R1.fastq", "resume");
    let id = accepted(&s, &backend, "paused_R1.fastq", &paused, 60);
    assert_eq!(id, paused_id, "the same upload went on");
    let resent = parts_stored(&backend, &paused_id)[before..].to_vec();
    for part in &acked {
        assert!(
            !resent.contains(part),
            "part {part} was acknowledged in the journal before the pause and sent again: {resent:?}"
        );
    }
    assert!(
        !resent.is_empty() && resent.len() <= 4 - acked.len(),
        "{resent:?} after {acked:?} acknowledged"
    );

    // The cancelled file stayed cancelled and was never completed.
    assert!(
        s.find_all(&format!(
            "{}[data-status=cancelled]",
            row("cancelled_R1.fastq")
        ))
        .len()
            == 1
    );
    assert!(
        !cancelled_id.is_empty(),
        "the cancelled row was sending, so it names its file id"
    );
    assert!(
        !is_stored(&backend, &cancelled_id),
        "a cancelled file was stored"
    );
    let stats = s.text(&s.wait_for("[data-testid=done-count]", 5));
    assert_eq!(stats, "3", "three files accepted");
    s.screenshot("controls-done");
    eprintln!(
        "controls: {} of 4 parts held at pause, {resent:?} sent after resume",
        held.len()
    );
    record_timing("gui_controls", "per-file controls E2E", t0.elapsed());
}

/// A loopback HTTP server that counts the requests it gets and answers
/// each with a tiny GIF anyone may read (CORS open), so only the
/// window's CSP can keep the webview from loading it.
fn counting_server() -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            h.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 2048];
            let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = c.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: image/gif\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                GIF.len()
            );
            let _ = c.write_all(head.as_bytes());
            let _ = c.write_all(GIF);
        }
    });
    (port, hits)
}

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn webview_loads_nothing_remote_and_refuses_test_commands() {
    let t0 = Instant::now();
    let (port, hits) = counting_server();
    let url = format!("http://127.0.0.1:{port}/");
    // The server answers a plain client: a block below is the CSP's.
    let body = reqwest::blocking::get(&url).unwrap().bytes().unwrap();
    assert!(body.starts_with(b"GIF89a"));
    let hits_before = hits.load(Ordering::SeqCst);

    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let driver = Driver::start_as_user(&[("FERRY_JOURNAL", journal.to_str().unwrap())]);
    let s = Session::new(&driver, &app_binary());
    let cold = s.wait_signed_in(30);
    record_timing(
        "gui_controls",
        "cold start to signed in (demo portal, no FERRY_E2E)",
        cold,
    );

    // fetch(), an <img> and XMLHttpRequest to the loopback server: each
    // is refused, and the CSP reports every one.
    let r = s.run_async(
        "const [url, done] = arguments;\
         const seen = [];\
         document.addEventListener('securitypolicyviolation', e => seen.push(e.violatedDirective + ' ' + e.blockedURI));\
         const img = new Promise(res => { const i = new Image();\
           i.onload = () => res('loaded'); i.onerror = () => res('blocked');\
           i.src = url + 'pixel.gif'; document.body.appendChild(i); });\
         const f = fetch(url + 'data').then(r => 'loaded ' + r.status, e => 'blocked');\
         const x = new Promise(res => { try { const q = new XMLHttpRequest();\
           q.open('GET', url + 'xhr'); q.onload = () => res('loaded');\
           q.onerror = () => res('blocked'); q.send(); } catch (e) { res('blocked'); } });\
         const t = new Promise(res => setTimeout(() => res('timeout'), 5000));\
         Promise.all([Promise.race([img, t]), Promise.race([f, t]), Promise.race([x, t])])\
           .then(([i, f, x]) => setTimeout(() => done({img: i, fetch: f, xhr: x, seen}), 300));",
        json!([url]),
    );
    assert_eq!(r["img"], "blocked", "{r}");
    assert_eq!(r["fetch"], "blocked", "{r}");
    assert_eq!(r["xhr"], "blocked", "{r}");
    let seen: Vec<String> = r["seen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        seen.iter()
            .any(|v| v.starts_with("img-src") && v.contains(&format!(":{port}"))),
        "the CSP blocked the image: {seen:?}"
    );
    assert!(
        seen.iter()
            .filter(|v| v.starts_with("connect-src") && v.contains(&format!(":{port}")))
            .count()
            >= 2,
        "the CSP blocked fetch and XMLHttpRequest: {seen:?}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        hits_before,
        "the webview reached the loopback server"
    );

    // Without FERRY_E2E the test-only commands are not granted.
    let file = make_file(dir.path(), "x_R1.fastq", 10, 1);
    for (cmd, args) in [
        ("e2e_drop", json!({"paths": [file]})),
        ("e2e_wizard_folder", json!({"path": dir.path()})),
    ] {
        let r: Value = s.run_async(
            "const [cmd, args, done] = arguments;\
             window.__TAURI_INTERNALS__.invoke(cmd, args)\
               .then(r => done({ok: r}), e => done({refused: String(e)}));",
            json!([cmd, args]),
        );
        // (not `error`: the WebDriver helper takes that for its own failure)
        let e = r["refused"].as_str().unwrap_or_default();
        assert!(e.contains("not allowed"), "{cmd} without FERRY_E2E: {r}");
    }
    assert!(
        s.find_all("[data-testid=row]").is_empty(),
        "no file was added"
    );
    // A command the window does use still works (the refusal is the ACL's).
    let r = s.run_async(
        "const [done] = arguments; window.__TAURI_INTERNALS__.invoke('session')\
           .then(r => done({ok: r}), e => done({refused: String(e)}));",
        json!([]),
    );
    assert!(r["ok"].is_array(), "{r}");
    record_timing("gui_controls", "CSP and capability E2E", t0.elapsed());
}
