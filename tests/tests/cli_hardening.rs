//! The CLI's safety rails from the outside: no `--token` flag (the process
//! list would show it), `https://` only unless `--allow-http`, and a
//! redirect is an error naming where it pointed.

use std::process::{Command, Stdio};

use ferry_e2e::{SimProc, bin, make_file, test_journal};

fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let out = Command::new(bin("ferry"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("FERRY_ALLOW_HTTP")
        .env("FERRY_JOURNAL", test_journal())
        .stdin(Stdio::null())
        .output()
        .expect("ferry runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn there_is_no_token_flag() {
    let d = tempfile::tempdir().unwrap();
    let f = make_file(d.path(), "r.fq", 10, 1);
    let (code, _, err) = run(
        &[
            "upload",
            "--backend",
            "https://b.example",
            "--group",
            "1",
            "--token",
            "s3cr3t",
            f.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("unexpected argument '--token'"), "{err}");
    let (code, _, err) = run(&["resume", "--token", "s3cr3t"], &[]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn plain_http_goes_only_to_this_machine_unless_allowed() {
    let sim = SimProc::start(&[]);
    let d = tempfile::tempdir().unwrap();
    let f = make_file(d.path(), "r.fq", 10, 1);
    let token = sim.token();
    // Another host over plain http: refused before anything is sent.
    let (code, _, err) = run(
        &[
            "upload",
            "--backend",
            "http://backend.example.org",
            "--group",
            "1",
            f.to_str().unwrap(),
        ],
        &[("FERRY_TOKEN", &token)],
    );
    assert_ne!(code, Some(0));
    assert!(
        err.contains("plain http://") && err.contains("--allow-http"),
        "{err}"
    );
    assert!(!err.contains(&token), "{err}");
    // The simulator on 127.0.0.1: fine over http.
    let (code, out, err) = run(
        &[
            "upload",
            "--backend",
            &sim.backend(),
            "--group",
            "1",
            "--quiet",
            f.to_str().unwrap(),
        ],
        &[("FERRY_TOKEN", &token)],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("r.fq"), "{out}");
    // --allow-http is said out loud.
    let (code, _, err) = run(
        &[
            "--allow-http",
            "upload",
            "--backend",
            &sim.backend(),
            "--group",
            "1",
            "--quiet",
            f.to_str().unwrap(),
        ],
        &[("FERRY_TOKEN", &token)],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("unencrypted"), "{err}");
}
