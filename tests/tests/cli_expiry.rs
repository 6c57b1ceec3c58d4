//! After the upload: receipts, the history (`ferry jobs --all`), and
//! Loculus' expiry of unattached uploads (a 5 s retention in ferry-sim):
//! what a user types, what they get back, what the portal ends up holding.

use ferry_e2e::sha;
use ferry_e2e::text;
use ferry_e2e::{SimProc, ferry, make_file};

/// `POST /_sim/gc`: one garbage collection run now.
fn gc(sim: &SimProc) -> serde_json::Value {
    reqwest::blocking::Client::new()
        .post(format!("{}/_sim/gc", sim.backend()))
        .send()
        .and_then(|r| r.json())
        .expect("gc run")
}

fn object_sha(sim: &SimProc, id: &str) -> Option<String> {
    let r = reqwest::blocking::get(format!("{}/_sim/object/{id}", sim.backend())).unwrap();
    (r.status() == 200).then(|| {
        r.json::<serde_json::Value>().unwrap()["sha256"]
            .as_str()
            .unwrap()
            .to_string()
    })
}

fn history(sim: &SimProc) -> serde_json::Value {
    let out = ferry(&sim.token(), &["jobs", "--all", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("jobs --all --json is JSON")
}

/// The job id a failed command says to resume.
fn job_to_resume(stderr: &str) -> String {
    let at = stderr
        .find("ferry resume ")
        .unwrap_or_else(|| panic!("says how to resume: {stderr}"));
    stderr[at + "ferry resume ".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// Uploads two files (one multipart) for a submission the portal refuses
/// (a row without metadata), so the ids stay unattached; returns the job
/// and its two fileIds.
fn unattached_batch(
    sim: &SimProc,
    dir: &std::path::Path,
) -> (String, Vec<String>, Vec<std::path::PathBuf>) {
    let r1 = make_file(dir, "s1_R1.fastq.gz", 12 * 1024 * 1024, 1);
    let r2 = make_file(dir, "s1_R2.fastq.gz", 3000, 2);
    let meta = dir.join("metadata.tsv");
    std::fs::write(&meta, "id\ns1\n").unwrap();
    let out = sim.submit(
        "dummy-organism-with-files",
        &[
            "--metadata",
            meta.to_str().unwrap(),
            "--file",
            &format!("rawReads={}", r1.display()),
            "--file",
            &format!("rawReads={}", r2.display()),
            "--quiet",
        ],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("contains no metadata"), "{err}");
    let job = job_to_resume(&err);
    let h = history(sim);
    let batch = h
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["job"] == job.as_str())
        .unwrap_or_else(|| panic!("job {job} in the history: {h}"));
    assert_eq!(batch["portal"], "loculus");
    assert_eq!(batch["attached"], false);
    assert_eq!(batch["daysLeft"], 7, "a fresh upload has 7 days: {batch}");
    let ids: Vec<String> = batch["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    std::fs::write(&meta, "id\tcountry\ns1\tCH\n").unwrap();
    (job, ids, vec![r1, r2])
}

/// Runs the garbage collection until it has marked `ids` (bounded: the
/// retention is 5 s).
fn wait_marked(sim: &SimProc, ids: &[String]) {
    let mut marked: Vec<String> = Vec::new();
    for _ in 0..120 {
        let run = gc(sim);
        marked.extend(
            run["marked"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string()),
        );
        if ids.iter().all(|i| marked.contains(i)) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("the garbage collection marked {marked:?}, not all of {ids:?}");
}

#[test]
fn an_expired_upload_is_sent_again_and_the_resumed_submit_goes_through() {
    let sim = SimProc::start(&["--orphan-retention-secs", "5"]);
    let dir = tempfile::tempdir().unwrap();
    let (job, old, files) = unattached_batch(&sim, dir.path());
    wait_marked(&sim, &old);
    let out = ferry(&sim.token(), &["resume", &job, "--quiet"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    for (id, f) in old.iter().zip(&files) {
        let name = f.file_name().unwrap().to_str().unwrap();
        assert!(
            err.contains(&format!("{name}: its upload {id} expired")),
            "says what happened to {name}: {err}"
        );
    }
    assert!(
        text(&out.stdout).starts_with("s1\tLOC_"),
        "{}",
        text(&out.stdout)
    );
    // The submission carries new ids holding the same bytes.
    let subs = sim.state()["submissions"].clone();
    let attached = subs[0]["files"]["rawReads"].as_array().unwrap().clone();
    assert_eq!(attached.len(), 2);
    for (pair, f) in attached.iter().zip(&files) {
        let id = pair[1].as_str().unwrap();
        assert!(!old.iter().any(|o| o == id), "a new id, not {id}");
        assert_eq!(object_sha(&sim, id), Some(sha(f)), "{}", f.display());
    }
    // The history has the new ids, attached.
    let h = history(&sim);
    let batch = h
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["job"] == job.as_str())
        .unwrap()
        .clone();
    assert_eq!(batch["attached"], true, "{batch}");
    assert!(batch["daysLeft"].is_null());
    let now_ids: Vec<&str> = batch["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    let sub_ids: Vec<&str> = attached.iter().map(|p| p[1].as_str().unwrap()).collect();
    assert_eq!(now_ids, sub_ids);
}

#[test]
fn a_deleted_upload_of_a_changed_file_is_refused_by_name() {
    let sim = SimProc::start(&["--orphan-retention-secs", "5"]);
    let dir = tempfile::tempdir().unwrap();
    let (job, old, files) = unattached_batch(&sim, dir.path());
    wait_marked(&sim, &old);
    // The next run deletes them: the portal now says they do not exist.
    let run = gc(&sim);
    assert_eq!(run["deleted"].as_array().unwrap().len(), 2, "{run}");
    // The user rewrote one file since.
    std::fs::write(&files[1], b"something else entirely").unwrap();
    let out = ferry(&sim.token(), &["resume", &job, "--quiet"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{}: its upload {} was deleted on the portal, and the file changed since it was uploaded",
            files[1].display(),
            old[1]
        )),
        "{err}"
    );
    assert!(sim.state()["submissions"].as_array().unwrap().is_empty());
}

#[test]
fn upload_writes_a_receipt_with_the_portals_ids_and_the_files_hashes() {
    let sim = SimProc::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let a = make_file(dir.path(), "a.fasta", 1234, 1);
    let b = make_file(dir.path(), "b_R1.fastq.gz", 7 * 1024 * 1024, 2);
    let base = dir.path().join("out").join("receipt");
    std::fs::create_dir_all(base.parent().unwrap()).unwrap();
    let out = sim.upload(&[
        "--receipt",
        base.to_str().unwrap(),
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(base.with_extension("json")).unwrap()).unwrap();
    let csv = std::fs::read_to_string(base.with_extension("csv")).unwrap();
    let mut rows = csv.lines();
    assert_eq!(
        rows.next(),
        Some("portal,destination,fileName,fileId,size,sha256,uploadedAt,expiresAt")
    );
    let rows: Vec<Vec<&str>> = rows.map(|l| l.split(',').collect()).collect();
    let lines = json.as_array().unwrap();
    assert_eq!(lines.len(), 2);
    for ((line, row), (f, id)) in lines.iter().zip(&rows).zip([&a, &b].iter().zip(&printed)) {
        assert_eq!(line["portal"], "loculus");
        assert_eq!(line["destination"], format!("{} (group 1)", sim.backend()));
        assert_eq!(line["fileName"], f.file_name().unwrap().to_str().unwrap());
        assert_eq!(line["fileId"], id.as_str());
        assert_eq!(line["sha256"], sha(f));
        assert_eq!(line["size"], std::fs::metadata(f).unwrap().len());
        assert_eq!(object_sha(&sim, id), Some(sha(f)), "the portal holds it");
        // Expires 7 days after the upload (at Loculus' default retention).
        let (up, ex) = (
            line["uploadedAt"].as_str().unwrap(),
            line["expiresAt"].as_str().unwrap(),
        );
        assert!(up.ends_with('Z') && ex.ends_with('Z'), "{up} {ex}");
        assert!(ex > up, "{up} {ex}");
        // The CSV says the same.
        assert_eq!(row[3], id.as_str());
        assert_eq!(row[5], sha(f));
        assert_eq!(row[6], up);
        assert_eq!(row[7], ex);
    }
    // And `ferry jobs --all` lists the batch with its ids.
    let listed = text(&ferry(&sim.token(), &["jobs", "--all"]).stdout);
    for id in &printed {
        assert!(listed.contains(id.as_str()), "{listed}");
    }
    assert!(listed.contains("ids expire in 7 days"), "{listed}");
    let found = text(&ferry(&sim.token(), &["jobs", "--all", "--search", "B_R1"]).stdout);
    assert!(found.contains(&printed[1]), "{found}");
    let none = text(
        &ferry(
            &sim.token(),
            &["jobs", "--all", "--json", "--search", "nothing-like-it"],
        )
        .stdout,
    );
    assert_eq!(none.trim(), "[]");
}
