//! The settings file's `portal` in the window, as the `ferry` CLI takes it
//! for its default: with `portal = "onecodex"` the window opens on One
//! Codex (here a `ferry-sim` process named by `FERRY_ONECODEX_URL`) and
//! asks for its API key, checks files by its rules, sends a file there,
//! and the next start is signed in to it from the keychain (the test
//! command runs window tests with an unlocked gnome-keyring).

use std::time::{Duration, Instant};

use ferry_e2e::webdriver::{Driver, Session, app_binary};
use ferry_e2e::{SimProc, make_file};
use serde_json::json;

/// The text of the portal picker's selected entry.
fn selected_portal(s: &Session) -> String {
    s.run_async(
        "const [done] = arguments; const sel = document.querySelector('[data-testid=portal-select]');\
         done(sel.options[sel.selectedIndex].textContent);",
        json!([]),
    )
    .as_str()
    .unwrap_or_default()
    .to_string()
}

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver, a Secret Service and the built app: tests/run-all.sh runs it"]
fn the_settings_portal_is_the_one_the_window_opens_on() {
    let sim = SimProc::start(&[]);
    let backend = sim.backend();
    let oc = sim.info["onecodex"].as_str().unwrap().to_string();
    let key = sim.info["onecodex_api_key"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "portal = \"onecodex\"\n").unwrap();
    let journal = dir.path().join("journal.sqlite");
    let reads = make_file(dir.path(), "gutS.fastq.gz", 1_200_000, 21);
    let driver = Driver::start(&[
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
        ("FERRY_CONFIG", config.to_str().unwrap()),
        ("FERRY_ONECODEX_URL", &oc),
    ]);

    {
        let s = Session::new(&driver, &app_binary());
        s.wait_for("header[data-session=loaded]", 30);
        let key_input = s.wait_for("[data-testid=sign-in] [data-testid=key]", 20);
        assert_eq!(selected_portal(&s), "One Codex");
        assert_eq!(s.attr(&key_input, "placeholder"), "One Codex API key");
        // Not the demo Loculus: no one is signed in by itself.
        assert!(s.find_all("[data-testid=user]").is_empty());
        s.type_text(&key_input, &key);
        s.click(&s.wait_for("[data-testid=sign-in] button.primary:not([disabled])", 10));
        s.wait_text("[data-testid=user]", "API key", 20);
        s.wait_text("[data-testid=backend]", &oc, 5);
        let r = s.drop_paths(std::slice::from_ref(&reads));
        assert_eq!(r["problems"].as_u64(), Some(0), "{r}");
        s.click(&s.wait_for("[data-testid=upload]:not([disabled])", 10));
        s.wait_checks(1, 90);
        let samples =
            ferry_e2e::get_json(&format!("{backend}/_sim/portals"))["onecodex_samples"].clone();
        let sample = samples
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["filename"] == "gutS.fastq.gz")
            .unwrap_or_else(|| panic!("no One Codex sample for gutS.fastq.gz: {samples}"));
        assert_eq!(sample["confirmed"], true, "{sample}");
        let k = sample["keys"][0].as_str().unwrap();
        let stored = ferry_e2e::get_json(&format!("{backend}/_sim/stored?key={k}"));
        let want = ferry_e2e::sha(&reads);
        assert_eq!(stored["sha256"].as_str(), Some(want.as_str()), "{stored}");
        // The window closes here.
    }

    // The next start opens on One Codex again, signed in from the keychain.
    let s = Session::new(&driver, &app_binary());
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.find_all("[data-testid=user]").is_empty() {
        assert!(
            Instant::now() < deadline,
            "not signed in from the keychain at the next start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    s.wait_text("[data-testid=user]", "API key", 5);
    assert_eq!(selected_portal(&s), "One Codex");
    s.screenshot("settings-portal-onecodex");
    // Leave nothing in the keychain.
    s.click(&s.wait_for("[data-testid=sign-out]", 5));
    s.wait_for("[data-testid=sign-in] [data-testid=key]", 10);
    assert_eq!(
        ferry_e2e::keychain_entry(&format!("onecodex:{}", oc.trim_end_matches('/'))),
        None,
        "Sign out left the entry"
    );
}
