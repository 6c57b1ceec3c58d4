//! The `ferry` CLI against a `ferry-sim` process: what a user types, what
//! they see, what the portal ends up holding.

use ferry_e2e::sha;
use ferry_e2e::text;
use ferry_e2e::{SimProc, ferry, make_file};

#[test]
fn upload_prints_file_ids_and_the_portal_holds_the_bytes() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let small = make_file(dir.path(), "small.fasta", 1234, 1);
    let big = make_file(dir.path(), "big_R1.fastq.gz", 18 * 1024 * 1024, 2);
    let out = sim.upload(&[small.to_str().unwrap(), big.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<Vec<&str>> = stdout.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for (cols, path) in lines.iter().zip([&small, &big]) {
        assert_eq!(cols[0].len(), 36, "fileId: {}", cols[0]);
        assert_eq!(cols[1], sha(path));
        assert_eq!(cols[2], path.to_str().unwrap());
        let obj: serde_json::Value =
            reqwest::blocking::get(format!("{}/_sim/object/{}", sim.backend(), cols[0]))
                .unwrap()
                .json()
                .unwrap();
        assert_eq!(
            obj["sha256"],
            sha(path),
            "bytes stored for {}",
            path.display()
        );
    }
    let state = sim.state();
    assert!(
        state["storage_log"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["authorization"].is_null()),
        "the bearer token never reaches the storage host"
    );
    assert!(
        !text(&out.stderr).contains(&sim.token()),
        "the token is never printed"
    );
}

#[test]
fn bad_names_and_missing_files_are_all_reported_before_any_request() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let spaced = make_file(dir.path(), "my reads.fq", 10, 1);
    let colon = make_file(dir.path(), "run:1.fq", 10, 1);
    let ok = make_file(dir.path(), "ok.fq", 10, 1);
    let missing = dir.path().join("gone.fq");
    let out = sim.upload(&[
        spaced.to_str().unwrap(),
        colon.to_str().unwrap(),
        ok.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("3 problems"), "{err}");
    assert!(
        err.contains("my reads.fq") && err.contains("whitespace"),
        "{err}"
    );
    assert!(err.contains("run:1.fq") && err.contains("':'"), "{err}");
    assert!(err.contains("gone.fq: cannot be read"), "{err}");
    let state = sim.state();
    assert!(
        state["api_log"].as_array().unwrap().is_empty(),
        "no request was sent"
    );
    assert!(state["storage_log"].as_array().unwrap().is_empty());
}

#[test]
fn auth_network_and_rejection_have_distinct_exit_codes() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let f = make_file(dir.path(), "a.fq", 10, 1);
    let f = f.to_str().unwrap();
    let b = sim.backend();

    let bad_token = ferry("wrong", &["upload", "--backend", &b, "--group", "1", f]);
    assert_eq!(
        bad_token.status.code(),
        Some(3),
        "{}",
        text(&bad_token.stderr)
    );
    assert!(text(&bad_token.stderr).contains("sign in again"));

    let foreign = ferry(
        &sim.token(),
        &["upload", "--backend", &b, "--group", "2", f],
    );
    assert_eq!(foreign.status.code(), Some(3));
    assert!(
        text(&foreign.stderr).contains("not a member of group"),
        "{}",
        text(&foreign.stderr)
    );

    let unknown = ferry(
        &sim.token(),
        &["upload", "--backend", &b, "--group", "999", f],
    );
    assert_eq!(unknown.status.code(), Some(5), "{}", text(&unknown.stderr));
    assert!(text(&unknown.stderr).contains("999"));

    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = ferry(
        &sim.token(),
        &[
            "upload",
            "--backend",
            &format!("http://127.0.0.1:{closed}"),
            "--group",
            "1",
            f,
        ],
    );
    assert_eq!(down.status.code(), Some(4), "{}", text(&down.stderr));
    assert!(text(&down.stderr).contains(&format!("127.0.0.1:{closed}")));

    let no_token = std::process::Command::new(ferry_e2e::bin("ferry"))
        .args(["upload", "--backend", &b, "--group", "1", f])
        .env_remove("FERRY_TOKEN")
        .output()
        .unwrap();
    assert_eq!(no_token.status.code(), Some(3));
    assert!(text(&no_token.stderr).contains("FERRY_TOKEN"));
}

#[test]
fn json_events_and_retries_under_injected_faults() {
    let sim = SimProc::start(&[]);
    sim.fault(serde_json::json!({"target": "storage", "fault": {"kind": "reset"}, "count": 2}));
    sim.fault(serde_json::json!({"target": "storage", "fault": {"kind": "status", "status": 500}, "count": 2}));
    let dir = tempfile::tempdir().unwrap();
    let f = make_file(dir.path(), "r.fq.gz", 17 * 1024 * 1024 + 5, 3);
    let out = sim.upload(&["--json", f.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let kinds = |k: &str| events.iter().filter(|e| e["event"] == k).count();
    assert_eq!(kinds("file_queued"), 1);
    assert_eq!(kinds("part_done"), 3);
    assert_eq!(kinds("retry"), 4);
    let done = events.iter().find(|e| e["event"] == "file_done").unwrap();
    assert_eq!(done["sha256"], sha(&f));
}

#[test]
fn submit_attaches_files_and_prints_accessions() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let r1 = make_file(dir.path(), "s1_R1.fastq.gz", 2000, 1);
    let r2 = make_file(dir.path(), "s1_R2.fastq.gz", 3000, 2);
    let meta = dir.path().join("metadata.tsv");
    std::fs::write(&meta, "id\tcountry\ns1\tCH\n").unwrap();
    let out = sim.submit(
        "dummy-organism-with-files",
        &[
            "--metadata",
            meta.to_str().unwrap(),
            "--file",
            &format!("rawReads={}", r1.display()),
            "--file",
            &format!("rawReads={}", r2.display()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    let subs = sim.state()["submissions"].clone();
    // The printed accession is the one the portal gave.
    assert_eq!(
        line.trim_end(),
        format!(
            "s1\t{}.{}",
            subs[0]["accession"].as_str().expect("accession"),
            subs[0]["version"]
        ),
        "{line}"
    );
    let files = &subs[0]["files"]["rawReads"];
    let names: Vec<&str> = files
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["s1_R1.fastq.gz", "s1_R2.fastq.gz"]);
}

#[test]
fn metadata_problems_stop_a_submit_before_any_upload() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let r1 = make_file(dir.path(), "a.fq", 20, 1);
    let meta = dir.path().join("metadata.tsv");
    std::fs::write(&meta, "id\tx\tfiles.rawReads\ns1\t1\tb.fq\ns2\t2\t\n").unwrap();
    let out = sim.submit(
        "dummy-organism-with-files",
        &[
            "--metadata",
            meta.to_str().unwrap(),
            "--file",
            &format!("rawReads={}", r1.display()),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("a.fq") && err.contains("b.fq"), "{err}");
    assert!(sim.state()["api_log"].as_array().unwrap().is_empty());
}

#[test]
fn legacy_file_mapping_on_a_current_backend_is_caught() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let r1 = make_file(dir.path(), "a.fq", 20, 1);
    let meta = dir.path().join("metadata.tsv");
    std::fs::write(&meta, "id\tx\ns1\t1\n").unwrap();
    let out = sim.submit(
        "dummy-organism-with-files",
        &[
            "--legacy-file-mapping",
            "--metadata",
            meta.to_str().unwrap(),
            "--file",
            &format!("rawReads={}", r1.display()),
        ],
    );
    assert_eq!(out.status.code(), Some(5));
    assert!(
        text(&out.stderr).contains("without --legacy-file-mapping"),
        "{}",
        text(&out.stderr)
    );
}
