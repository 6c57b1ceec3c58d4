//! `ferry login` keeps a Keycloak session in the OS keychain (a real
//! Secret Service); later commands need no token. An access token that
//! expires mid-job is refreshed and the job finishes; a session revoked
//! mid-job stops it with the way out (`ferry login`, `ferry resume`), and
//! the resumed job sends only what the storage had not acknowledged.

use ferry_e2e::sha;
use ferry_e2e::text;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ferry_e2e::{SimProc, bin, make_file, test_journal};
use serde_json::{Value, json};

fn ferry(args: &[&str], stdin: &str) -> Output {
    let mut c = Command::new(bin("ferry"))
        .args(args)
        .env_remove("FERRY_TOKEN")
        .env_remove("FERRY_BACKEND")
        .env("FERRY_JOURNAL", test_journal())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ferry runs");
    c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    c.wait_with_output().unwrap()
}

/// Starts `ferry upload` (no token given) and, once the storage has
/// answered `after` part requests, calls `during`; returns the output.
fn upload_while(sim: &SimProc, files: &[&str], after: usize, during: impl FnOnce()) -> Output {
    let b = sim.backend();
    let mut args = vec!["upload", "--backend", &b, "--group", "1", "--quiet"];
    args.extend_from_slice(files);
    let child = Command::new(bin("ferry"))
        .args(&args)
        .env_remove("FERRY_TOKEN")
        .env("FERRY_JOURNAL", test_journal())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ferry runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    let base = sim.state()["storage_log"].as_array().unwrap().len();
    while sim.state()["storage_log"].as_array().unwrap().len() < base + after {
        assert!(
            Instant::now() < deadline,
            "the upload never reached the storage"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    during();
    child.wait_with_output().unwrap()
}

#[test]
#[ignore = "needs a Secret Service: run inside dbus-run-session with gnome-keyring-daemon (tests/run-all.sh)"]
fn login_then_tokens_expire_and_are_revoked_mid_job() {
    let sim = SimProc::start(&[]);
    let b = sim.backend();
    let dir = tempfile::tempdir().unwrap();

    let bad = ferry(&["login", "--backend", &b, "--user", "demo"], "wrong\n");
    assert_eq!(bad.status.code(), Some(3), "{}", text(&bad.stderr));
    assert!(text(&bad.stderr).contains("Invalid user credentials"));
    let ok = ferry(&["login", "--backend", &b, "--user", "demo"], "demo\n");
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stderr).contains("kept in the OS keychain"));

    // The access token expires while parts are on their way: the
    // completion is answered 401, the session refreshes, the job ends.
    let big = make_file(dir.path(), "long_R1.fastq", 24 * 1024 * 1024 + 3, 5);
    sim.fault(json!({"target": "storage", "fault": {"kind": "stall", "millis": 800}, "count": 3}));
    let out = upload_while(&sim, &[big.to_str().unwrap()], 1, || {
        sim.fault(json!({"target": "api", "fault": {"kind": "expire_token"}, "count": 1}));
    });
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    let id = line.split('\t').next().unwrap().to_string();
    assert_eq!(sim.object_sha(&id), sha(&big));
    let api: Vec<(String, u64)> = sim.state()["api_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_string(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let rejected = api
        .iter()
        .position(|(_, s)| *s == 401)
        .expect("a 401 mid-job");
    assert!(
        api[rejected..]
            .iter()
            .any(|(p, s)| p.ends_with("/token") && *s == 200),
        "refreshed after the 401: {api:?}"
    );

    // The session is revoked mid-job: the job stops and says how to go on.
    let other = make_file(dir.path(), "long_R2.fastq", 24 * 1024 * 1024 + 9, 6);
    sim.fault(json!({"target": "storage", "fault": {"kind": "stall", "millis": 800}, "count": 3}));
    let out = upload_while(&sim, &[other.to_str().unwrap()], 1, || {
        let r: Value = reqwest::blocking::Client::new()
            .post(format!("{b}/_sim/revoke"))
            .json(&json!({"user": "demo"}))
            .send()
            .and_then(|r| r.json())
            .unwrap();
        assert!(r["revoked"].as_u64().unwrap() >= 1);
    });
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("ferry resume"), "{err}");
    let parts_before = sim.state()["storage_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "PUT" && r["status"] == 200)
        .count();
    let stale = ferry(&["resume"], "");
    assert_eq!(stale.status.code(), Some(3), "{}", text(&stale.stderr));
    assert!(
        text(&stale.stderr).contains("ferry login"),
        "{}",
        text(&stale.stderr)
    );

    let ok = ferry(&["login", "--backend", &b, "--user", "demo"], "demo\n");
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let resumed = ferry(&["resume"], "");
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    let id = text(&resumed.stdout)
        .lines()
        .find(|l| l.ends_with("long_R2.fastq"))
        .and_then(|l| l.split('\t').next())
        .unwrap()
        .to_string();
    assert_eq!(sim.object_sha(&id), sha(&other));
    let parts_after = sim.state()["storage_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "PUT" && r["status"] == 200)
        .count();
    assert_eq!(
        parts_after, parts_before,
        "every part was acknowledged before the revocation; none sent again"
    );

    let gone = ferry(&["logout", "--backend", &b], "");
    assert!(gone.status.success());
    let f = make_file(dir.path(), "after.fastq", 10, 7);
    let none = ferry(
        &[
            "upload",
            "--backend",
            &b,
            "--group",
            "1",
            f.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(none.status.code(), Some(3));
    assert!(
        text(&none.stderr).contains("ferry login"),
        "{}",
        text(&none.stderr)
    );
}

/// Starts `ferry login --device`, reads the link and code it prints, and
/// answers in the "browser" (the form Keycloak's device page posts) with
/// `form`; returns the finished process's output.
fn device_login(sim: &SimProc, form: &[(&str, &str)]) -> (Output, String) {
    use std::io::{BufRead, BufReader, Read};
    let b = sim.backend();
    let mut child = Command::new(bin("ferry"))
        .args(["login", "--backend", &b, "--device"])
        .env_remove("FERRY_TOKEN")
        .env("FERRY_JOURNAL", test_journal())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ferry runs");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut shown = String::new();
    // Bounded: the prompt is the first two lines ferry prints.
    for _ in 0..2 {
        err.read_line(&mut shown).unwrap();
    }
    let link = shown
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .unwrap_or_else(|| panic!("no link in {shown:?}"))
        .to_string();
    let code = shown
        .split_whitespace()
        .skip_while(|w| *w != "code")
        .nth(1)
        .unwrap_or_else(|| panic!("no code in {shown:?}"))
        .to_string();
    assert!(link.contains(&code), "the link carries the code: {link}");
    let page = link.split('?').next().unwrap();
    let mut fields = vec![("user_code", code.as_str())];
    fields.extend_from_slice(form);
    let answer = reqwest::blocking::Client::new()
        .post(page)
        .form(&fields)
        .send()
        .unwrap();
    assert!(answer.status().is_success(), "{:?}", answer.text());
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    (out, shown + &rest)
}

#[test]
#[ignore = "needs a Secret Service: run inside dbus-run-session with gnome-keyring-daemon (tests/run-all.sh)"]
fn device_sign_in_in_a_browser_then_upload_without_a_token() {
    let sim = SimProc::start(&[]);
    let b = sim.backend();
    let (refused, said) = device_login(
        &sim,
        &[("username", "demo"), ("password", "demo"), ("deny", "1")],
    );
    assert_eq!(refused.status.code(), Some(3), "{said}");
    assert!(said.contains("refused in the browser"), "{said}");

    let (ok, said) = device_login(&sim, &[("username", "demo"), ("password", "demo")]);
    assert!(ok.status.success(), "{said}");
    assert!(
        said.contains("as demo"),
        "the user is read from the token: {said}"
    );
    assert!(!said.contains("sim-"), "no token is printed: {said}");

    let dir = tempfile::tempdir().unwrap();
    let f = make_file(dir.path(), "device_R1.fastq", 70_000, 9);
    let up = ferry(
        &[
            "upload",
            "--backend",
            &b,
            "--group",
            "1",
            f.to_str().unwrap(),
        ],
        "",
    );
    assert!(up.status.success(), "{}", text(&up.stderr));
    let id = text(&up.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(sim.object_sha(&id), sha(&f));
    assert!(ferry(&["logout", "--backend", &b], "").status.success());
}

/// A kept refresh token goes back only to the Keycloak that issued it:
/// `--keycloak` naming another one is refused before anything is sent
/// there, and an entry of an older Ferry (no issuer) is sent nowhere.
#[test]
#[ignore = "needs a Secret Service: run inside dbus-run-session with gnome-keyring-daemon (tests/run-all.sh)"]
fn a_kept_session_goes_only_to_its_keycloak() {
    let sim = SimProc::start(&[]);
    let other = SimProc::start(&[]);
    let b = sim.backend();
    let dir = tempfile::tempdir().unwrap();
    let f = make_file(dir.path(), "bound_R1.fastq", 1000, 7);
    let ok = ferry(&["login", "--backend", &b, "--user", "demo"], "demo\n");
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let kept = ferry_e2e::keychain_entry(&format!("loculus:{b}")).expect("kept");
    assert!(kept.contains("\"issuer\"") && kept.contains(&b), "{kept}");

    let elsewhere = other.backend();
    let args = [
        "upload",
        "--backend",
        &b,
        "--group",
        "1",
        "--keycloak",
        &elsewhere,
        "--quiet",
        f.to_str().unwrap(),
    ];
    let out = ferry(&args, "");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("not sent") && err.contains(&b) && err.contains(&elsewhere),
        "{err}"
    );
    let asked: Vec<Value> = other.state()["api_log"].as_array().unwrap().clone();
    assert!(asked.is_empty(), "the other Keycloak was asked: {asked:?}");

    // The same command with the issuing Keycloak works.
    let args = [
        "upload",
        "--backend",
        &b,
        "--group",
        "1",
        "--keycloak",
        &b,
        "--quiet",
        f.to_str().unwrap(),
    ];
    let out = ferry(&args, "");
    assert!(out.status.success(), "{}", text(&out.stderr));

    // An entry as an older Ferry wrote it, without its issuer.
    ferry_keychain::Entry::new(&format!("loculus:{b}"))
        .unwrap()
        .set(r#"{"kind":"refresh","user":"demo","token":"old-refresh-token"}"#)
        .unwrap();
    let before = sim.state()["api_log"].as_array().unwrap().len();
    let out = ferry(
        &[
            "upload",
            "--backend",
            &b,
            "--group",
            "1",
            "--quiet",
            f.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("older Ferry"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        sim.state()["api_log"].as_array().unwrap().len(),
        before,
        "the old token was sent"
    );
    let _ = ferry(&["logout", "--backend", &b], "");
}
