//! `ferry upload --portal loculus|onecodex|basespace` against a `ferry-sim`
//! process: the same pair of reads reaches all three portals byte for
//! byte; kill -9 and `ferry resume` on One Codex (starts over, says so)
//! and BaseSpace (continues the same file id with the missing parts).

use ferry_e2e::sha;
use ferry_e2e::text;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use ferry_e2e::{SimProc, make_file};
use serde_json::Value;

const MIB: usize = 1024 * 1024;

fn get(sim: &SimProc, path: &str) -> Value {
    reqwest::blocking::get(format!("{}{path}", sim.backend()))
        .and_then(|r| r.json())
        .expect("sim answers")
}

fn portal_args(sim: &SimProc, portal: &str) -> Vec<String> {
    let s = |v: &str| sim.info[v].as_str().unwrap().to_string();
    match portal {
        "loculus" => vec![
            "--backend".into(),
            sim.backend(),
            "--group".into(),
            "1".into(),
        ],
        "onecodex" => vec![
            "--portal".into(),
            "onecodex".into(),
            "--base-url".into(),
            s("onecodex"),
        ],
        _ => vec![
            "--portal".into(),
            "basespace".into(),
            "--base-url".into(),
            s("basespace"),
            "--appresult".into(),
            s("basespace_appresult"),
        ],
    }
}

fn upload(
    sim: &SimProc,
    journal: &std::path::Path,
    portal: &str,
    extra: &[&str],
    files: &[&std::path::Path],
) -> Output {
    let mut args: Vec<String> = vec!["upload".into(), "-q".into()];
    args.extend(portal_args(sim, portal));
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sim.ferry_cmd(journal, &args).output().unwrap()
}

/// `(remote id, sha256, path)` per printed line.
fn lines(out: &Output) -> Vec<(String, String, String)> {
    text(&out.stdout)
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[0].to_string(), c[1].to_string(), c[2].to_string())
        })
        .collect()
}

#[test]
fn the_same_pair_reaches_all_three_portals_byte_for_byte() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.sqlite");
    let r1 = make_file(dir.path(), "s1_R1.fastq.gz", 7 * MIB + 11, 1);
    let r2 = make_file(dir.path(), "s1_R2.fastq.gz", 18 * MIB + 5, 2);
    let want = [sha(&r1), sha(&r2)];
    let mut seen = Vec::new();
    for portal in ["loculus", "onecodex", "basespace"] {
        let out = upload(&sim, &journal, portal, &[], &[&r1, &r2]);
        assert!(out.status.success(), "{portal}: {}", text(&out.stderr));
        let got = lines(&out);
        assert_eq!(got.len(), 2, "{portal}: {}", text(&out.stdout));
        for ((_, h, _), w) in got.iter().zip(&want) {
            assert_eq!(h, w, "{portal}: the SHA-256 ferry prints");
        }
        seen.push(got);
        for secret in ["token", "onecodex_api_key", "basespace_token"] {
            assert!(!text(&out.stderr).contains(sim.info[secret].as_str().unwrap()));
        }
    }
    // What each portal holds, read back from its storage.
    for ((id, _, _), w) in seen[0].iter().zip(&want) {
        let obj = get(&sim, &format!("/_sim/object/{id}"));
        assert_eq!(obj["sha256"], *w.as_str(), "Loculus");
    }
    let state = get(&sim, "/_sim/portals");
    let samples = state["onecodex_samples"].as_array().unwrap();
    assert_eq!(samples.len(), 1, "One Codex: the pair is one sample");
    let sample = &samples[0];
    assert_eq!(sample["sample_id"], *seen[1][0].0.as_str());
    assert_eq!(sample["confirmed"], true);
    assert_eq!(sample["paired_end_filename"], "s1_R2.fastq.gz");
    for (key, w) in sample["keys"].as_array().unwrap().iter().zip(&want) {
        assert_eq!(sim.stored_sha(key.as_str().unwrap()), *w, "One Codex");
    }
    for ((id, _, _), w) in seen[2].iter().zip(&want) {
        let f = state["basespace_files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == *id.as_str())
            .expect("BaseSpace file");
        assert_eq!(f["status"], "complete");
        assert_eq!(sim.stored_sha(f["key"].as_str().unwrap()), *w, "BaseSpace");
    }
    // No credential reached the storage host.
    let log = sim.state()["storage_log"].as_array().unwrap().clone();
    assert!(log.iter().all(|r| r["authorization"].is_null()));
}

#[test]
fn wrong_keys_and_names_give_the_documented_exit_codes() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.sqlite");
    let ok = make_file(dir.path(), "a_R1.fastq", 1000, 1);
    let bad = make_file(dir.path(), "a+b.fastq", 1000, 2);
    let out = upload(&sim, &journal, "onecodex", &[], &[&ok, &bad]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("a+b.fastq"));
    let mut c = sim.ferry_cmd(&journal, &[]);
    c.env("FERRY_BASESPACE_TOKEN", "revoked");
    let mut args: Vec<String> = vec!["upload".into()];
    args.extend(portal_args(&sim, "basespace"));
    args.push(ok.display().to_string());
    let out = c.args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("FERRY_BASESPACE_TOKEN"));
    assert!(
        get(&sim, "/_sim/portals")["onecodex_samples"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// Starts an upload, waits until `ready` holds for the sim's state, kills
/// it with SIGKILL, then runs `ferry resume`.
fn kill_then_resume(
    sim: &SimProc,
    journal: &std::path::Path,
    portal: &str,
    file: &std::path::Path,
    ready: impl Fn(&Value) -> bool,
) -> Output {
    let mut args: Vec<String> = vec![
        "upload".into(),
        "-q".into(),
        "--parts-in-flight".into(),
        "2".into(),
    ];
    args.extend(portal_args(sim, portal));
    args.push(file.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = sim
        .ferry_cmd(journal, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !ready(&get(sim, "/_sim/portals")) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "upload never got going"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "upload ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    sim.ferry_cmd(journal, &["resume"]).output().unwrap()
}

#[test]
fn basespace_kill_nine_then_resume_continues_the_same_file() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.sqlite");
    let file = make_file(dir.path(), "big_R1.fastq.gz", 64 * MIB + 3, 3);
    let parts_ok = |s: &Value| {
        s["portal_log"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["method"] == "PUT" && r["status"] == 200)
            .count()
    };
    let out = kill_then_resume(&sim, &journal, "basespace", &file, |s| parts_ok(s) >= 3);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let state = get(&sim, "/_sim/portals");
    let files = state["basespace_files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "the same file id was continued: {files:?}");
    assert_eq!(files[0]["status"], "complete");
    assert_eq!(
        sim.stored_sha(files[0]["key"].as_str().unwrap()),
        sha(&file)
    );
    assert_eq!(lines(&out)[0].0, files[0]["id"].as_str().unwrap());
    // 9 parts of 8 MiB; at most the 2 in flight at the kill went twice.
    let sent = parts_ok(&state);
    assert!((9..=11).contains(&sent), "{sent} parts acknowledged in all");
    assert!(stderr.contains("continued"), "{stderr}");
}

#[test]
fn onecodex_kill_nine_then_resume_starts_the_file_over_and_says_so() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.sqlite");
    let file = make_file(dir.path(), "big_R1.fastq.gz", 24 * MIB + 3, 4);
    // Hold the POST so the kill lands while it is in flight.
    sim.fault(serde_json::json!({"target": "storage", "fault": {"kind": "stall", "millis": 3000}, "count": 1}));
    let out = kill_then_resume(&sim, &journal, "onecodex", &file, |s| {
        !s["onecodex_samples"].as_array().unwrap().is_empty()
    });
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("from the start"), "{stderr}");
    let state = get(&sim, "/_sim/portals");
    let confirmed: Vec<&Value> = state["onecodex_samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["confirmed"] == true)
        .collect();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0]["sample_id"], *lines(&out)[0].0.as_str());
    assert_eq!(
        sim.stored_sha(confirmed[0]["keys"][0].as_str().unwrap()),
        sha(&file)
    );
}

/// `ferry upload --json` events, one JSON object per line.
fn json_events(out: &Output) -> Vec<Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn json_events_give_each_file_its_sha256_on_onecodex_and_basespace() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.sqlite");
    let r1 = make_file(dir.path(), "s2_R1.fastq.gz", 3000, 5);
    // Over 25 MB: more than one BaseSpace part.
    let r2 = make_file(dir.path(), "s2_R2.fastq.gz", 26 * MIB + 7, 6);
    for portal in ["onecodex", "basespace"] {
        let mut args: Vec<String> = vec!["upload".into(), "--json".into()];
        args.extend(portal_args(&sim, portal));
        args.extend([&r1, &r2].iter().map(|f| f.display().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = sim.ferry_cmd(&journal, &args).output().unwrap();
        assert!(out.status.success(), "{portal}: {}", text(&out.stderr));
        let events = json_events(&out);
        let of = |k: &str| -> Vec<&Value> { events.iter().filter(|e| e["event"] == k).collect() };
        let done = of("file_done");
        assert_eq!(done.len(), 2, "{portal}: {events:?}");
        for f in [&r1, &r2] {
            let name = f.file_name().unwrap().to_str().unwrap();
            let d = done
                .iter()
                .find(|d| d["name"] == name)
                .unwrap_or_else(|| panic!("{portal}: no file_done for {name}"));
            assert_eq!(d["sha256"], *sha(f).as_str(), "{portal}: {name}");
            assert_eq!(d["size"], std::fs::metadata(f).unwrap().len());
        }
        let planned: u64 = of("file_queued")
            .iter()
            .map(|q| q["parts"].as_u64().unwrap())
            .sum();
        assert_eq!(of("part_done").len() as u64, planned, "{portal}");
        if portal == "onecodex" {
            // The pair is one sample: both files name it.
            assert_eq!(done[0]["remote_id"], done[1]["remote_id"]);
            assert_eq!(planned, 2, "one POST per file");
        } else {
            assert!(planned > 2, "{portal}: {planned} parts");
            assert_ne!(done[0]["remote_id"], done[1]["remote_id"]);
        }
    }
}

/// `ferry` with no portal credential in the environment and `stdin` piped in.
fn ferry_keyless(sim: &SimProc, journal: &std::path::Path, args: &[String], stdin: &str) -> Output {
    use std::io::Write;
    let mut c = sim
        .ferry_cmd(journal, &[])
        .args(args)
        .env_remove("FERRY_ONECODEX_API_KEY")
        .env_remove("FERRY_BASESPACE_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    c.wait_with_output().unwrap()
}

#[test]
#[ignore = "needs a Secret Service: run inside dbus-run-session with gnome-keyring-daemon (tests/run-all.sh)"]
fn login_checks_the_key_with_the_portal_before_keeping_it() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.sqlite");
    let s = |v: &str| sim.info[v].as_str().unwrap().to_string();
    let args = |v: &[&str]| -> Vec<String> { v.iter().map(|a| a.to_string()).collect() };
    for (portal, secret, base, app) in [
        ("onecodex", s("onecodex_api_key"), s("onecodex"), None),
        ("basespace", s("basespace_token"), s("basespace"), None),
        (
            "basespace",
            s("basespace_token"),
            s("basespace"),
            Some(s("basespace_appresult")),
        ),
    ] {
        let account = format!("{portal}:{}", base.trim_end_matches('/'));
        let mut login = args(&["login", "--portal", portal, "--base-url", &base]);
        if let Some(a) = &app {
            login.extend(args(&["--appresult", a]));
        }
        // A key the portal refuses is not kept, and the error says so.
        let out = ferry_keyless(&sim, &journal, &login, "not-a-real-key\n");
        assert_eq!(
            out.status.code(),
            Some(3),
            "{portal}: {}",
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert!(err.contains("did not accept"), "{portal}: {err}");
        assert!(
            !err.contains("not-a-real-key"),
            "{portal}: the key is echoed"
        );
        assert_eq!(
            ferry_e2e::keychain_json(&account),
            None,
            "{portal}: a refused key was kept"
        );
        // The real one is checked, then kept.
        let out = ferry_keyless(&sim, &journal, &login, &format!("{secret}\n"));
        assert!(out.status.success(), "{portal}: {}", text(&out.stderr));
        assert_eq!(
            ferry_e2e::keychain_json(&account).unwrap()["key"],
            *secret.as_str()
        );
        let out = ferry_keyless(
            &sim,
            &journal,
            &args(&["logout", "--portal", portal, "--base-url", &base]),
            "",
        );
        assert!(out.status.success(), "{portal}: {}", text(&out.stderr));
    }
    // A token that BaseSpace takes, but for an AppResult that is not the
    // user's: refused before it is kept.
    let base = s("basespace");
    let out = ferry_keyless(
        &sim,
        &journal,
        &args(&[
            "login",
            "--portal",
            "basespace",
            "--base-url",
            &base,
            "--appresult",
            "424242",
        ]),
        &format!("{}\n", s("basespace_token")),
    );
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("424242"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        ferry_e2e::keychain_json(&format!("basespace:{}", base.trim_end_matches('/'))),
        None
    );
}

#[test]
#[ignore = "needs a Secret Service: run inside dbus-run-session with gnome-keyring-daemon (tests/run-all.sh)"]
fn login_keeps_the_key_where_the_app_does_and_logout_forgets_it() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.sqlite");
    let file = make_file(dir.path(), "k_R1.fastq.gz", 4000, 7);
    let s = |v: &str| sim.info[v].as_str().unwrap().to_string();
    let args = |v: &[&str]| -> Vec<String> { v.iter().map(|a| a.to_string()).collect() };
    for (portal, secret, base) in [
        ("onecodex", s("onecodex_api_key"), s("onecodex")),
        ("basespace", s("basespace_token"), s("basespace")),
    ] {
        let account = format!("{portal}:{}", base.trim_end_matches('/'));
        // Without a key anywhere, the error says how to keep one.
        let mut up = args(&["upload", "--portal", portal, "--base-url", &base]);
        if portal == "basespace" {
            up.extend(args(&["--appresult", &s("basespace_appresult")]));
        }
        up.push(file.display().to_string());
        let out = ferry_keyless(&sim, &journal, &up, "");
        assert_eq!(
            out.status.code(),
            Some(3),
            "{portal}: {}",
            text(&out.stderr)
        );
        let hint = format!("ferry login --portal {portal}");
        assert!(
            text(&out.stderr).contains(&hint),
            "{portal}: {}",
            text(&out.stderr)
        );

        let mut login = args(&["login", "--portal", portal, "--base-url", &base]);
        if portal == "basespace" {
            login.extend(args(&["--appresult", &s("basespace_appresult")]));
        }
        let out = ferry_keyless(&sim, &journal, &login, &format!("{secret}\n"));
        assert!(out.status.success(), "{portal}: {}", text(&out.stderr));
        assert!(!text(&out.stderr).contains(&secret));
        let kept =
            ferry_e2e::keychain_json(&account).unwrap_or_else(|| panic!("{portal}: nothing kept"));
        assert_eq!(kept["kind"], "key");
        assert_eq!(kept["key"], *secret.as_str());

        // An upload with no key given (and, for BaseSpace, no --appresult:
        // the one kept with the token) uses the kept one.
        let up = {
            let mut a = args(&["upload", "--portal", portal, "--base-url", &base]);
            a.push(file.display().to_string());
            a
        };
        let out = ferry_keyless(&sim, &journal, &up, "");
        assert!(out.status.success(), "{portal}: {}", text(&out.stderr));
        assert_eq!(lines(&out)[0].1, sha(&file), "{portal}");

        let out = ferry_keyless(
            &sim,
            &journal,
            &args(&["logout", "--portal", portal, "--base-url", &base]),
            "",
        );
        assert!(out.status.success(), "{portal}: {}", text(&out.stderr));
        assert!(
            ferry_e2e::keychain_json(&account).is_none(),
            "{portal}: still kept"
        );
        let out = ferry_keyless(&sim, &journal, &up, "");
        assert_ne!(out.status.code(), Some(0), "{portal}: sent without a key");
    }
    let state = get(&sim, "/_sim/portals");
    let confirmed = state["onecodex_samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["confirmed"] == true)
        .count();
    assert_eq!(confirmed, 1);
    let complete = state["basespace_files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "complete")
        .count();
    assert_eq!(complete, 1);
}
