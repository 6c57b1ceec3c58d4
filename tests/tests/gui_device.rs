//! Sign in with the browser (OAuth device code, RFC 8628) in a real window,
//! against a `ferry-sim` process whose Keycloak offers the grant: the window
//! shows the link and the code, the user approves it on the "browser" page
//! (here the form that page posts), and the window is signed in, the
//! session kept in the keychain (a real Secret Service) and no password
//! ever typed into Ferry. Cancel stops a waiting sign-in.

use std::time::{Duration, Instant};

use ferry_e2e::SimProc;
use ferry_e2e::webdriver::{Driver, Session, app_binary, record_timing};

use ferry_e2e::keychain_entry as keychain;

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver, a Secret Service and the built app: tests/run-all.sh runs it"]
fn sign_in_with_the_browser_shows_a_code_and_signs_in_once_approved() {
    let t0 = Instant::now();
    let sim = SimProc::start(&[]);
    let backend = sim.backend();
    let account = format!("loculus:{}", backend.trim_end_matches('/'));
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let driver = Driver::start_as_user(&[
        ("FERRY_BACKEND", &backend),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
    ]);
    let s = Session::new(&driver, &app_binary());
    s.wait_for("header[data-session=loaded]", 30);

    // A sign-in nobody approves is cancelled.
    s.click(&s.wait_for("[data-testid=sign-in-device]:not([disabled])", 10));
    s.wait_for("[data-testid=device-code]", 10);
    s.click(&s.wait_for("[data-testid=device-cancel]", 5));
    let m = s.wait_for("[data-testid=message]", 10);
    assert!(s.text(&m).contains("cancelled"), "{}", s.text(&m));
    assert!(s.find_all("[data-testid=device]").is_empty());
    assert!(s.find_all("[data-testid=user]").is_empty());

    // Again, approved this time.
    s.click(&s.wait_for("[data-testid=sign-in-device]:not([disabled])", 10));
    let code = s.text(&s.wait_for("[data-testid=device-code]", 10));
    let link = s.text(&s.wait_for("[data-testid=device-link]", 5));
    assert!(
        link.starts_with(&backend) && link.ends_with(&code),
        "{link} / {code}"
    );
    s.screenshot("device-sign-in");
    let page = link.split('?').next().unwrap().to_string();
    let approved = reqwest::blocking::Client::new()
        .post(&page)
        .form(&[
            ("user_code", code.as_str()),
            ("username", "demo"),
            ("password", "demo"),
        ])
        .send()
        .unwrap();
    assert!(approved.status().is_success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.find_all("[data-testid=user]").is_empty() {
        assert!(Instant::now() < deadline, "not signed in after approval");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(s.text(&s.wait_for("[data-testid=user]", 1)), "demo");
    assert!(s.find_all("[data-testid=device]").is_empty());
    let kept = keychain(&account).expect("the device sign-in is in the keychain");
    let kept: serde_json::Value = serde_json::from_str(&kept).unwrap();
    assert_eq!(kept["user"], "demo", "{kept}");
    s.click(&s.wait_for("[data-testid=sign-out]", 5));
    s.wait_for("[data-testid=sign-in]", 10);
    assert_eq!(keychain(&account), None, "Sign out left the keychain entry");
    drop(s);
    record_timing("gui_device", "device sign-in E2E", t0.elapsed());
}
