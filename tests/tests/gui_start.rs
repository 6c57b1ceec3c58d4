//! How the app starts where labs start it: with no display it says so
//! (no GTK backtrace), and its window shows while the OS keychain has not
//! answered yet (a locked keyring waiting on its unlock prompt).

use std::os::unix::net::UnixListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

use ferry_e2e::SimProc;
use ferry_e2e::webdriver::{Driver, Session, app_binary};

#[test]
fn without_a_display_the_app_says_so_and_how_to_get_one() {
    let out = Command::new(app_binary())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the app runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no display") && err.contains("xvfb-run"),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn the_window_shows_while_the_keychain_has_not_answered() {
    // A session bus that takes connections and answers nothing, as a
    // keyring waiting on its unlock prompt: held until the test lets go.
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("bus");
    let listener = UnixListener::bind(&sock).unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let h = held.clone();
    std::thread::spawn(move || {
        for c in listener.incoming().flatten() {
            h.lock().unwrap().push(c);
        }
    });
    let sim = SimProc::start(&[]);
    let bus = format!("unix:path={}", sock.display());
    let journal = dir.path().join("journal.sqlite");
    let driver = Driver::start(&[
        ("DBUS_SESSION_BUS_ADDRESS", bus.as_str()),
        // Accessibility would ask the same bus; not what is tested here.
        ("NO_AT_BRIDGE", "1"),
        ("FERRY_BACKEND", sim.backend().as_str()),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
    ]);
    let s = Session::new(&driver, &app_binary());
    s.wait_for("[data-testid=sign-in]", 60);
    // The keychain was asked, and is still waiting: the window did not.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while held.lock().unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the keychain was never asked"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    s.wait_for("[data-testid=sign-in]", 5);
    // The prompt cancelled (the bus goes away): the app goes on, signed out.
    held.lock().unwrap().clear();
    s.wait_for("[data-testid=portal-select]", 5);
}
