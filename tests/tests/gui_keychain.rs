//! The app's own keychain code against the real Secret Service (the test
//! command runs every test inside `dbus-run-session` with an unlocked
//! gnome-keyring), through the window, against a `ferry-sim` process
//! that outlives the app's restarts: failed sign-ins (wrong password, an
//! account in no group, a bad pasted token) leave no entry; a good one is
//! kept, the next start is signed in from it without the form; Sign out
//! deletes it and the start after shows the form. The entry is read with
//! `secret-tool`, as any other program on the desktop would.

use std::time::{Duration, Instant};

use ferry_e2e::SimProc;
use ferry_e2e::webdriver::{Driver, Session, app_binary, record_timing};
use serde_json::json;

use ferry_e2e::keychain_entry as keychain;

/// Waits for the window to know its session; returns the cold start.
fn loaded(s: &Session) -> Duration {
    s.wait_for("header[data-session=loaded]", 30);
    s.requested.elapsed()
}

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver, a Secret Service and the built app: tests/run-all.sh runs it"]
fn keychain_sign_in_survives_restart_and_sign_out_forgets_it() {
    let t0 = Instant::now();
    let sim = SimProc::start(&[]);
    let backend = sim.backend();
    let account = format!("loculus:{}", backend.trim_end_matches('/'));
    assert_eq!(keychain(&account), None, "a fresh simulator has no entry");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let driver = Driver::start_as_user(&[
        ("FERRY_BACKEND", &backend),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
    ]);

    // First start: nothing remembered, the form.
    {
        let s = Session::new(&driver, &app_binary());
        let cold = loaded(&s);
        record_timing("gui_keychain", "cold start to the sign-in form", cold);
        s.wait_for("[data-testid=sign-in]", 5);
        assert!(s.find_all("[data-testid=user]").is_empty());
        let user = "[data-testid=sign-in] input[autocomplete=username]";
        let pw = "[data-testid=sign-in] input[type=password]";

        s.fill(user, "demo");
        s.fill(pw, "wrong");
        s.sign_in_refused("did not accept the sign-in");
        assert_eq!(keychain(&account), None, "a wrong password was kept");

        // Keycloak takes the password, but the account is in no group.
        s.fill(user, "nobody");
        s.fill(pw, "nobody");
        s.sign_in_refused("in no group");
        assert_eq!(
            keychain(&account),
            None,
            "a sign-in whose group lookup failed was kept"
        );

        // A pasted token the portal refuses.
        s.click(&s.wait_for("[data-testid=sign-in] input[type=checkbox]", 5));
        s.fill(
            "[data-testid=sign-in] input[placeholder='Paste a token']",
            "not-a-token",
        );
        s.sign_in_refused("(401)");
        assert_eq!(keychain(&account), None, "a refused token was kept");
        s.click(&s.wait_for("[data-testid=sign-in] input[type=checkbox]", 5));

        // Everything the app sends the page from here on is recorded.
        s.record_ipc();
        let signing = Instant::now();
        s.fill(user, "");
        s.fill(pw, "");
        s.signed_in_as("demo", "demo");
        record_timing(
            "gui_keychain",
            "sign-in through the form",
            signing.elapsed(),
        );
        assert_eq!(s.text(&s.wait_for("[data-testid=user]", 5)), "demo");
        let kept = keychain(&account).expect("the sign-in is in the keychain");
        let kept: serde_json::Value = serde_json::from_str(&kept).expect("a stored sign-in");
        assert_eq!(kept["kind"], "refresh", "{kept}");
        assert_eq!(kept["user"], "demo", "{kept}");
        assert!(!kept["token"].as_str().unwrap_or_default().is_empty());
        // The window never sees the token.
        let html = s.run_async(
            "const [done] = arguments; done(document.documentElement.outerHTML);",
            json!([]),
        );
        assert!(
            !html
                .as_str()
                .unwrap()
                .contains(kept["token"].as_str().unwrap()),
            "the refresh token reached the page"
        );
        // Nor does any command reply, event or channel message carry it.
        let ipc = s.ipc_log();
        assert!(
            ipc.iter().any(|m| m.contains("demo")),
            "the sign-in's replies were not recorded: {ipc:?}"
        );
        let token = kept["token"].as_str().unwrap();
        assert!(
            !ipc.iter().any(|m| m.contains(token)),
            "the refresh token reached the page through IPC"
        );
        // The window closes here.
    }

    // Second start: signed in from the keychain, no form.
    {
        let s = Session::new(&driver, &app_binary());
        let cold = loaded(&s);
        assert!(
            s.find_all("[data-testid=sign-in]").is_empty(),
            "the form was shown although the keychain holds the sign-in"
        );
        assert_eq!(s.text(&s.wait_for("[data-testid=user]", 1)), "demo");
        record_timing(
            "gui_keychain",
            "cold start signed in from the keychain",
            cold,
        );
        s.click(&s.wait_for("[data-testid=sign-out]", 5));
        s.wait_for("[data-testid=sign-in]", 10);
        assert!(s.find_all("[data-testid=user]").is_empty());
        assert_eq!(keychain(&account), None, "Sign out left the keychain entry");
        let upload = s.wait_for("[data-testid=upload]", 5);
        assert_eq!(s.attr(&upload, "disabled"), "true", "Upload after sign-out");
    }

    // Third start: the form again.
    let s = Session::new(&driver, &app_binary());
    let cold = loaded(&s);
    record_timing("gui_keychain", "cold start after sign-out", cold);
    s.wait_for("[data-testid=sign-in]", 5);
    assert!(s.find_all("[data-testid=user]").is_empty());
    assert_eq!(
        keychain(&account),
        None,
        "an entry came back after sign-out"
    );
    drop(s);
    record_timing("gui_keychain", "keychain E2E (three starts)", t0.elapsed());
}
