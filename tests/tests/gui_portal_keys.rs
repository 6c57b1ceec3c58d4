//! The real (non-demo) One Codex and BaseSpace entries of the window,
//! pointed at a `ferry-sim` process by `FERRY_ONECODEX_URL` and
//! `FERRY_BASESPACE_URL`, with the app's own keychain code against the real
//! Secret Service (the test command runs window tests inside
//! `dbus-run-session` with an unlocked gnome-keyring): a key or token the
//! portal refuses is said so and nothing is kept; an accepted one is kept
//! (read with `secret-tool`, as any program on the desktop would), a file
//! goes up to each portal with the stored bytes' SHA-256 equal to the
//! file's, the next start is signed in from the keychain, and Sign out
//! deletes the entry.

use ferry_e2e::sha;

use ferry_e2e::webdriver::{Driver, Session, app_binary};
use ferry_e2e::{SimProc, make_file};
use serde_json::json;

fn sign_in_button(s: &Session) {
    s.click(&s.wait_for("[data-testid=sign-in] button.primary:not([disabled])", 10));
}

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver, a Secret Service and the built app: tests/run-all.sh runs it"]
fn one_codex_and_basespace_keys_are_checked_kept_and_forgotten() {
    let sim = SimProc::start(&[]);
    let backend = sim.backend();
    let info = |k: &str| sim.info[k].as_str().unwrap().to_string();
    let (oc, key) = (info("onecodex"), info("onecodex_api_key"));
    let (bs, token, app) = (
        info("basespace"),
        info("basespace_token"),
        info("basespace_appresult"),
    );
    let oc_account = format!("onecodex:{}", oc.trim_end_matches('/'));
    let bs_account = format!("basespace:{}", bs.trim_end_matches('/'));
    assert_eq!(
        ferry_e2e::keychain_json(&oc_account),
        None,
        "a fresh simulator has no entry"
    );
    assert_eq!(
        ferry_e2e::keychain_json(&bs_account),
        None,
        "a fresh simulator has no entry"
    );

    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let reads = make_file(dir.path(), "gutB.fastq.gz", 1_500_000, 11);
    let run = make_file(dir.path(), "runB_S1_L001_R1_001.fastq.gz", 6_000_123, 12);
    let driver = Driver::start(&[
        ("FERRY_BACKEND", &backend),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
        ("FERRY_ONECODEX_URL", &oc),
        ("FERRY_BASESPACE_URL", &bs),
    ]);
    let key_input = "[data-testid=sign-in] [data-testid=key]";
    let app_input = "[data-testid=sign-in] [data-testid=appresult]";

    // First start: nothing kept; refused keys keep nothing, good ones are kept.
    {
        let s = Session::new(&driver, &app_binary());
        s.wait_for("header[data-session=loaded]", 30);
        s.choose_portal("One Codex");
        s.fill(key_input, "not-my-key");
        let why = s.sign_in_refused("did not accept this API key");
        assert!(why.contains("Settings → API keys"), "{why}");
        assert_eq!(
            ferry_e2e::keychain_json(&oc_account),
            None,
            "a refused key was kept"
        );

        s.record_ipc();
        s.fill(key_input, &key);
        sign_in_button(&s);
        s.wait_text("[data-testid=user]", "API key", 20);
        let kept =
            ferry_e2e::keychain_json(&oc_account).expect("the accepted key is in the keychain");
        assert_eq!(kept["kind"], "key", "{kept}");
        assert_eq!(kept["key"], key.as_str());
        // The window never sees the key once kept.
        let html = s.run_async(
            "const [done] = arguments; done(document.documentElement.outerHTML);",
            json!([]),
        );
        assert!(
            !html.as_str().unwrap().contains(&key),
            "the key reached the page"
        );
        // Nor did any reply, event or channel message carry it back.
        let ipc = s.ipc_log();
        assert!(!ipc.is_empty(), "the sign-in's replies were not recorded");
        assert!(
            !ipc.iter().any(|m| m.contains(&key)),
            "the key reached the page through IPC"
        );

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
            .find(|x| x["filename"] == "gutB.fastq.gz")
            .unwrap_or_else(|| panic!("no One Codex sample for gutB.fastq.gz: {samples}"));
        assert_eq!(sample["confirmed"], true, "{sample}");
        let k = sample["keys"][0].as_str().unwrap();
        assert_eq!(sim.stored_sha(k), sha(&reads), "gutB.fastq.gz");

        s.choose_portal("BaseSpace");
        s.fill(key_input, "not-my-token");
        s.fill(app_input, &app);
        s.sign_in_refused("did not accept this access token");
        assert_eq!(
            ferry_e2e::keychain_json(&bs_account),
            None,
            "a refused token was kept"
        );
        s.fill(key_input, &token);
        // The simulator's token may only read AppResult 1002.
        s.fill(app_input, "1002");
        s.sign_in_refused("may not write to AppResult 1002");
        assert_eq!(
            ferry_e2e::keychain_json(&bs_account),
            None,
            "a token for an AppResult it cannot write to was kept"
        );
        s.fill(key_input, &token);
        s.fill(app_input, &app);
        sign_in_button(&s);
        s.wait_text("[data-testid=user]", "access token", 20);
        s.wait_text("[data-testid=session]", &format!("AppResult {app}"), 20);
        let kept =
            ferry_e2e::keychain_json(&bs_account).expect("the accepted token is in the keychain");
        assert_eq!(kept["key"], token.as_str(), "{kept}");
        assert_eq!(kept["target"], app.as_str(), "{kept}");

        let r = s.drop_paths(std::slice::from_ref(&run));
        assert_eq!(r["problems"].as_u64(), Some(0), "{r}");
        s.click(&s.wait_for("[data-testid=upload]:not([disabled])", 10));
        s.wait_checks(2, 90);
        let files =
            ferry_e2e::get_json(&format!("{backend}/_sim/portals"))["basespace_files"].clone();
        let f = files
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "runB_S1_L001_R1_001.fastq.gz")
            .unwrap_or_else(|| panic!("the file is not in BaseSpace: {files}"));
        assert_eq!(f["status"], "complete", "{f}");
        assert_eq!(f["appresult"], app.as_str(), "{f}");
        assert_eq!(
            sim.stored_sha(f["key"].as_str().unwrap()),
            sha(&run),
            "runB_S1_L001_R1_001.fastq.gz"
        );
        // The window closes here.
    }

    // Second start: both signed in from the keychain; Sign out forgets each.
    let s = Session::new(&driver, &app_binary());
    s.wait_for("header[data-session=loaded]", 30);
    for (portal, user, account) in [
        ("One Codex", "API key", &oc_account),
        ("BaseSpace", "access token", &bs_account),
    ] {
        s.choose_portal(portal);
        s.wait_text("[data-testid=user]", user, 20);
        assert!(
            s.find_all("[data-testid=sign-in]").is_empty(),
            "{portal}: the form was shown although the keychain holds the key"
        );
        s.click(&s.wait_for("[data-testid=sign-out]", 5));
        s.wait_for("[data-testid=sign-in] [data-testid=key]", 10);
        assert_eq!(
            ferry_e2e::keychain_json(account),
            None,
            "{portal}: Sign out left the entry"
        );
    }
    // Chosen again, each asks for its key: nothing came back.
    for portal in ["One Codex", "BaseSpace"] {
        s.choose_portal(portal);
        // The picker is disabled until the choice is made.
        s.wait_for("[data-testid=portal-select]:not([disabled])", 10);
        s.wait_for("[data-testid=sign-in] [data-testid=key]", 10);
        assert!(s.find_all("[data-testid=user]").is_empty(), "{portal}");
    }
    assert_eq!(ferry_e2e::keychain_json(&oc_account), None);
    assert_eq!(ferry_e2e::keychain_json(&bs_account), None);
}
