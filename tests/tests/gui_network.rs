//! A network outage in a real window. The app uploads to a `ferry-sim`
//! process whose storage it reaches only through a real TCP relay (the
//! engine tests' relay; the simulator's presigned links name the relay).
//! The relay then dies: open connections are reset, new ones refused.
//! The window shows "Waiting for the network since HH:MM; retrying every
//! N s", the files wait paused (not failed), and once the relay is back on
//! the same port the file goes on by itself to its green check, the
//! desktop is told that sending goes on, and the storage holds the file's
//! bytes. With the settings panel's wait set to 0, the next start fails
//! the file instead of waiting (the saved setting reaches the engine), and
//! Retry sends it once the network is back.

#[path = "../../crates/engine/tests/relay/mod.rs"]
mod relay;

use ferry_e2e::sha;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_e2e::webdriver::{Driver, Session, app_binary, record_timing};
use ferry_e2e::{SimProc, assert_stored, make_file, parts_stored};
use relay::Relay;
use serde_json::json;

const BIG: usize = 40 * 1024 * 1024 + 11; // 6 parts of 8 MiB
/// Bytes/s per connection through the relay: a part takes about 2 s, so
/// the outage lands mid-file.
const RATE: u64 = 4_000_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A simulator whose storage is reached through `relay` only.
fn sim_behind(relay: &Relay) -> SimProc {
    let sim = SimProc::start(&["--s3-public-url", &relay.url()]);
    relay.forward_to(sim.info["s3"].as_str().expect("s3 url"));
    sim
}

/// Watches the session bus for desktop notifications (the test command
/// runs every test inside one); `None` without a bus.
fn notifications() -> Option<Child> {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS")?;
    let m = Command::new("dbus-monitor")
        .args([
            "--session",
            "type=method_call,interface=org.freedesktop.Notifications,member=Notify",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-monitor");
    std::thread::sleep(Duration::from_millis(300));
    Some(m)
}

fn seen(monitor: Option<Child>) -> Option<String> {
    let mut m = monitor?;
    std::thread::sleep(Duration::from_millis(500));
    let _ = m.kill();
    let mut out = String::new();
    m.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let _ = m.wait();
    Some(out)
}

fn row(name: &str) -> String {
    format!("[data-name=\"{name}\"]")
}

/// "Waiting for the network since 12:03; retrying every 15 s": the clock
/// and the period are numbers.
fn is_banner_line(t: &str) -> bool {
    let Some(rest) = t.strip_prefix("Waiting for the network since ") else {
        return false;
    };
    let (hm, rest) = rest.split_at(rest.len().min(5));
    let clock = hm.len() == 5
        && hm.as_bytes()[2] == b':'
        && hm
            .chars()
            .enumerate()
            .all(|(i, c)| i == 2 || c.is_ascii_digit());
    let every = rest
        .strip_prefix("; retrying every ")
        .and_then(|r| r.split(" s").next())
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    clock && every
}

#[test]
fn the_banner_line_is_recognised() {
    assert!(is_banner_line(
        "Waiting for the network since 12:03; retrying every 15 s"
    ));
    assert!(!is_banner_line(
        "Waiting for the network since 1:03; retrying every 15 s"
    ));
    assert!(!is_banner_line("Waiting for the network since 12:03"));
}

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn the_window_waits_for_the_network_with_a_banner_and_goes_on_by_itself() {
    let t0 = Instant::now();
    let rt = runtime();
    let relay = rt.block_on(Relay::bind());
    relay.limit(RATE);
    let sim = sim_behind(&relay);
    let backend = sim.backend();
    let dir = tempfile::tempdir().unwrap();
    let big = make_file(dir.path(), "outage_R1.fastq", BIG, 7);
    let want = sha(&big);
    let journal = dir.path().join("journal.sqlite");
    // Two parts at a time, so some are acknowledged and some in flight
    // when the network goes.
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "parts_in_flight = 2\n").unwrap();
    let driver = Driver::start(&[
        ("FERRY_BACKEND", &backend),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
        ("FERRY_CONFIG", config.to_str().unwrap()),
    ]);
    let s = Session::new(&driver, &app_binary());
    s.signed_in_as("demo", "demo");
    let r = s.drop_paths(std::slice::from_ref(&big));
    assert_eq!(r["files"], 1, "{r}");
    let monitor = notifications();
    s.click(&s.wait_for("[data-testid=upload]:not([disabled])", 10));

    let deadline = Instant::now() + Duration::from_secs(60);
    let file_id = loop {
        let id = s.attr(&s.wait_for(&row("outage_R1.fastq"), 20), "data-remote-id");
        if !id.is_empty() {
            break id;
        }
        assert!(Instant::now() < deadline, "the upload never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    while parts_stored(&backend, &file_id).is_empty() {
        assert!(Instant::now() < deadline, "no part acknowledged");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The storage's network goes: connections reset, new ones refused.
    relay.kill();
    let held = parts_stored(&backend, &file_id);
    let line = s.wait_text(
        "[data-testid=network-banner]",
        "Waiting for the network since",
        60,
    );
    let first = line.lines().next().unwrap_or_default();
    let first = first.split(" ·").next().unwrap_or_default().trim();
    assert!(is_banner_line(first), "{line}");
    assert!(line.contains("paused"), "{line}");
    let note = format!("{} .warning", row("outage_R1.fastq"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let waiting = loop {
        let notes: Vec<String> = s
            .find_all(&note)
            .iter()
            .map(|e| s.prop(e, "textContent"))
            .collect();
        if let Some(n) = notes.iter().find(|n| n.contains("waiting for the network")) {
            break n.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the row never said why it waits: {notes:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(waiting.contains("paused"), "{waiting}");
    assert!(
        s.find_all(&format!("{}[data-status=failed]", row("outage_R1.fastq")))
            .is_empty()
    );
    s.screenshot("network-waiting");
    // A while without any network: nothing fails, nothing is accepted.
    let out_until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < out_until {
        assert!(
            s.find_all("[data-status=failed]").is_empty(),
            "a file failed while waiting for the network"
        );
        assert!(s.find_all("[data-status=done]").is_empty());
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(!s.find_all("[data-testid=network-banner]").is_empty());

    // Back on the same port: the file goes on by itself.
    rt.block_on(relay.restart());
    let back = Instant::now();
    s.wait_checks(1, 120);
    let back_to_done = back.elapsed();
    let done = s.wait_for(&format!("{}[data-status=done]", row("outage_R1.fastq")), 5);
    assert_eq!(s.attr(&done, "data-remote-id"), file_id, "the same upload");
    assert_eq!(s.attr(&done, "data-sha256"), want);
    assert_stored(&backend, &file_id, &want, Some(BIG as u64), "outage_R1");
    assert!(
        s.find_all("[data-testid=network-banner]").is_empty(),
        "the banner outlived the outage"
    );
    // Sent again: at most the parts in flight when the network went (a
    // part the storage took whose answer the reset cut off goes again).
    let all = parts_stored(&backend, &file_id);
    let mut unique = all.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique, (1..=6).collect::<Vec<u64>>(), "{all:?}");
    assert!(
        all.len() - unique.len() <= 2,
        "more than the 2 parts in flight sent again: {all:?} ({} acknowledged before the outage: {held:?})",
        held.len()
    );
    match seen(monitor) {
        Some(bus) => assert!(
            bus.contains("\"Ferry: sending goes on\""),
            "no notification that sending goes on: {bus}"
        ),
        None => eprintln!("no session bus: the notification was not checked"),
    }
    if let Some(d) = relay.back_to_first_byte() {
        eprintln!(
            "network back to the first part sent: {:.2} s",
            d.as_secs_f64()
        );
    }
    record_timing("gui_network", "network back to green check", back_to_done);
    record_timing("gui_network", "outage E2E", t0.elapsed());
}

/// Sets an input's value as typing does (Svelte's bindings listen to
/// `input`), replacing what it held.
fn fill(s: &Session, css: &str, text: &str) {
    s.wait_for(css, 5);
    s.run_async(
        "const [css, text, done] = arguments; const e = document.querySelector(css);\
         e.value = text; e.dispatchEvent(new Event('input', {bubbles: true})); done(1);",
        json!([css, text]),
    );
}

/// A click as the page's own script makes it: WebKitWebDriver reports
/// the floating settings panel's buttons as covered by what lies under
/// the panel.
fn click_js(s: &Session, css: &str) {
    let r = s.run_async(
        "const [css, done] = arguments; const e = document.querySelector(css);\
         if (!e) return done('no ' + css); e.click(); done('ok');",
        json!([css]),
    );
    assert_eq!(r, "ok");
}

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn a_saved_wait_of_0_fails_the_file_instead_of_waiting_and_retry_sends_it() {
    let t0 = Instant::now();
    let rt = runtime();
    let relay = rt.block_on(Relay::bind());
    let sim = sim_behind(&relay);
    let backend = sim.backend();
    let dir = tempfile::tempdir().unwrap();
    let file = make_file(dir.path(), "nowait_R1.fastq", 3 * 1024 * 1024, 8);
    let want = sha(&file);
    let journal = dir.path().join("journal.sqlite");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "# the lab's settings\nlimit_rate = \"50M\"\n").unwrap();
    let driver = Driver::start(&[
        ("FERRY_BACKEND", &backend),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
        ("FERRY_CONFIG", config.to_str().unwrap()),
    ]);

    // The settings panel keeps the wait in the settings file the CLI reads.
    {
        let s = Session::new(&driver, &app_binary());
        s.wait_for("header[data-session=loaded]", 30);
        s.click(&s.wait_for("[data-testid=settings-open]", 5));
        fill(&s, "[data-testid=wait-for-network]", "0");
        s.wait_for("[data-testid=settings-save]:not([disabled])", 5);
        click_js(&s, "[data-testid=settings-save]");
        s.wait_text("[data-testid=settings-message]", "Saved", 10);
        let kept = std::fs::read_to_string(&config).unwrap();
        assert!(
            kept.contains("wait_for_network = \"0\"") && kept.contains("# the lab's settings"),
            "{kept}"
        );
        // The window closes here.
    }

    // The next start: the storage cannot be reached, and the file fails
    // once its retries are spent instead of waiting for the network.
    relay.kill();
    let s = Session::new(&driver, &app_binary());
    s.signed_in_as("demo", "demo");
    s.click(&s.wait_for("[data-testid=settings-open]", 5));
    let w = s.wait_for("[data-testid=wait-for-network]", 5);
    assert_eq!(s.prop(&w, "value"), "0", "the saved wait, read at start");
    // Closed again: the panel floats over the rows.
    click_js(&s, "[data-testid=settings] button[type=button]");
    let closed = Instant::now() + Duration::from_secs(5);
    while !s.find_all("[data-testid=settings]").is_empty() {
        assert!(Instant::now() < closed, "the settings panel did not close");
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = s.drop_paths(std::slice::from_ref(&file));
    assert_eq!(r["files"], 1, "{r}");
    s.click(&s.wait_for("[data-testid=upload]:not([disabled])", 10));
    let deadline = Instant::now() + Duration::from_secs(120);
    let failed = format!("{}[data-status=failed]", row("nowait_R1.fastq"));
    while s.find_all(&failed).is_empty() {
        assert!(
            s.find_all("[data-testid=network-banner]").is_empty(),
            "waited for the network although the setting says 0"
        );
        assert!(
            Instant::now() < deadline,
            "the file neither failed nor waited"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let error = s.prop(
        &s.wait_for(&format!("{failed} [data-testid=error]"), 5),
        "textContent",
    );
    assert!(
        error.contains("nowait_R1.fastq was not sent") && error.contains("Retry"),
        "{error}"
    );
    assert!(
        error.contains(&format!("127.0.0.1:{}", relay.port())),
        "the error names the storage it could not reach: {error}"
    );
    s.screenshot("network-no-wait-failed");

    // The network is back: Retry sends it (the journal kept the job).
    rt.block_on(relay.restart());
    s.click(&s.wait_for(&format!("{failed} [data-testid=retry]"), 5));
    s.wait_checks(1, 90);
    let done = s.wait_for(&format!("{}[data-status=done]", row("nowait_R1.fastq")), 5);
    assert_eq!(s.attr(&done, "data-sha256"), want);
    let id = s.attr(&done, "data-remote-id");
    assert_stored(&backend, &id, &want, Some(3 * 1024 * 1024), "nowait_R1");
    record_timing("gui_network", "wait 0 E2E", t0.elapsed());
}
