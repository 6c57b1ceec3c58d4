//! Big files on a slow shared uplink, against upload links that live a few
//! seconds up to a minute: `ferry upload` against a `ferry-sim` whose
//! storage takes in at most a fixed number of bytes/s over all connections
//! together (as a lab's uplink). Every file, the first as much as the later
//! ones, arrives with no link refused as expired and no byte sent twice;
//! a file no plan can get through in time is refused before a byte is sent,
//! saying the largest size that can.

use ferry_e2e::sha;
use ferry_e2e::text;
use ferry_e2e::{
    MIB, SimProc, assert_stored, ferry, make_file, measured_rate, probe_puts, single_ids, sparse,
};

const MB: usize = 1_000_000;
/// The shared uplink: 4 MB/s.
const RATE: &str = "4000000";

/// Uploads a first file and two later ones through links that live
/// `lifetime` seconds, 2 parts in flight; checks what the storage saw.
fn three_files_through_links_of(lifetime: &str) {
    let sim = SimProc::start(&[
        "--url-expiry-secs",
        lifetime,
        "--storage-bytes-per-sec",
        RATE,
    ]);
    let dir = tempfile::tempdir().unwrap();
    let files = [
        make_file(dir.path(), "first_R1.fastq.gz", 30 * MB + 7, 1),
        make_file(dir.path(), "second_R1.fastq.gz", 40 * MB + 3, 2),
        make_file(dir.path(), "third_R1.fastq.gz", 24 * MB, 3),
    ];
    let mut args = vec![
        "upload".to_string(),
        "--backend".into(),
        sim.backend(),
        "--group".into(),
        "1".into(),
        "--parts-in-flight".into(),
        "2".into(),
    ];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ferry(&sim.token(), &args);
    let err = text(&out.stderr);
    assert!(out.status.success(), "links of {lifetime} s: {err}");
    let stdout = text(&out.stdout);
    let ids: Vec<&str> = stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{stdout}");
    for (id, f) in ids.iter().zip(&files) {
        assert_stored(&sim.backend(), id, &sha(f), None, &f.display().to_string());
    }
    let state = sim.state();
    let puts: Vec<&serde_json::Value> = state["storage_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "PUT")
        .collect();
    // No link refused as expired (403), nothing else refused either.
    let refused: Vec<_> = puts.iter().filter(|r| r["status"] != 200).collect();
    assert!(
        refused.is_empty(),
        "links of {lifetime} s: refused {refused:?}\n{err}"
    );
    // Every byte went up once: what the storage took in is the files.
    let received: u64 = puts.iter().map(|r| r["body_bytes"].as_u64().unwrap()).sum();
    let sizes: u64 = files.iter().map(|f| f.metadata().unwrap().len()).sum();
    assert_eq!(
        received, sizes,
        "links of {lifetime} s: bytes sent twice\n{err}"
    );
    assert!(!err.contains("again"), "{err}");
}

#[test]
fn links_of_3_s_on_a_shared_4_mb_s_uplink() {
    three_files_through_links_of("3");
}

#[test]
fn links_of_10_s_on_a_shared_4_mb_s_uplink() {
    three_files_through_links_of("10");
}

#[test]
fn links_of_60_s_on_a_shared_4_mb_s_uplink() {
    three_files_through_links_of("60");
}

/// The case: the backend's links say they live 10 s although the
/// contract says 30 minutes. The first file is planned for 30 minutes,
/// its links are read before a byte is sent, and it asks for new ones
/// under a plan that fits (the first upload abandoned, never used).
#[test]
fn links_shorter_than_the_contract_are_read_before_a_byte_is_sent() {
    let sim = SimProc::start(&["--url-expiry-secs", "10", "--storage-bytes-per-sec", RATE]);
    let dir = tempfile::tempdir().unwrap();
    let f = make_file(dir.path(), "lib7_S1_R1_001.fastq.gz", 60 * MB, 4);
    let out = sim.upload(&["--parts-in-flight", "2", f.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let id = text(&out.stdout).split('\t').next().unwrap().to_string();
    assert_stored(
        &sim.backend(),
        &id,
        &sha(&f),
        Some(60 * MB as u64),
        "the file",
    );
    assert!(
        err.contains("sent as 2 parts") && err.contains("s after they are issued"),
        "{err}"
    );
    let state = sim.state();
    let asked = state["api_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "/files/request-multipart-upload")
        .count();
    assert_eq!(asked, 2, "links asked again under a plan that fits: {err}");
    let puts: Vec<_> = state["storage_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "PUT")
        .cloned()
        .collect();
    assert!(puts.iter().all(|r| r["status"] == 200), "{puts:?}");
    assert!(
        puts.iter()
            .all(|r| r["path"].as_str().unwrap().ends_with(&id)),
        "nothing sent to the abandoned upload: {puts:?}"
    );
    let received: u64 = puts.iter().map(|r| r["body_bytes"].as_u64().unwrap()).sum();
    assert_eq!(received, 60 * MB as u64);
}

/// More than any plan gets through 3-second links at this speed: refused
/// before a byte is sent, with the largest size that can and what would
/// make it possible. (The speed is measured by a test upload while a
/// first file goes up.)
#[test]
fn a_file_too_big_for_its_links_is_refused_before_sending() {
    let sim = SimProc::start(&[
        "--url-expiry-secs",
        "3",
        "--storage-bytes-per-sec",
        "1000000",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let first = make_file(dir.path(), "first.fastq.gz", 6 * MB, 5);
    // 1 MB/s for 3 s: only parts that start at once make it, at most
    // 5 GiB each and at most 32 of them in flight; 200 GiB would need 40.
    // A sparse file: the refusal comes before any of it is read.
    let huge = sparse(dir.path(), "huge_R1.fastq.gz", 200);
    let out = sim.upload(&[
        "--parts-in-flight",
        "2",
        first.to_str().unwrap(),
        huge.to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("huge_R1.fastq.gz"), "{err}");
    assert!(
        err.contains("cannot reach Loculus before its upload links expire"),
        "{err}"
    );
    assert!(err.contains("the largest file that can is"), "{err}");
    assert!(
        err.contains("parts in flight") && err.contains("MB/s"),
        "{err}"
    );
    assert!(err.contains("Nothing of it was sent"), "{err}");
    let state = sim.state();
    let for_huge = state["api_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "/files/request-multipart-upload")
        .count();
    assert_eq!(for_huge, 0, "no upload started for it");
    let received: u64 = state["storage_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body_bytes"].as_u64().unwrap())
        .sum();
    // The first file, and one test upload of 4 MiB that measured the
    // uplink (its share of it: the first file was still going up).
    assert_eq!(
        received,
        6 * MB as u64 + 4 * MIB,
        "only the first file and one test upload went up"
    );
    // The test upload got about half of the 1 MB/s uplink (the first
    // file had the other half); the uplink is the two shares together.
    let measured = measured_rate(&err.lines().collect::<Vec<_>>())
        .unwrap_or_else(|| panic!("no measured rate: {err}"));
    assert!((0.65..=1.1).contains(&measured), "{measured} MB/s: {err}");
    // Planned at a measured rate: the test upload's, or (when the first
    // file was acknowledged meanwhile, as on a loaded machine) the one
    // measured so far.
    assert!(
        err.contains("MB/s measured by test uploads") || err.contains("MB/s measured so far"),
        "{err}"
    );
}

/// A fresh process assumes a 1 MB/s uplink, at which 200 GiB cannot start
/// every part within 30-minute links. On a 200 MB/s uplink it measures
/// the uplink with test uploads first, and the file then goes.
#[test]
fn a_huge_file_on_a_fast_uplink_is_measured_then_sent() {
    let sim = SimProc::start(&["--storage-bytes-per-sec", "200000000"]);
    let dir = tempfile::tempdir().unwrap();
    let huge = sparse(dir.path(), "run42_S1_R1_001.fastq.gz", 200);
    let (started, events) =
        sim.upload_until_a_part_starts(&dir.path().join("j.sqlite"), &[], &huge);
    let warnings: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "warning")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(started, "no part started: {events:?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("run42_S1_R1_001.fastq.gz: ")
                && w.contains("measuring the uplink first")),
        "{warnings:?}"
    );
    let measured =
        measured_rate(&warnings).unwrap_or_else(|| panic!("no measured rate: {warnings:?}"));
    assert!(
        (10.0..=220.0).contains(&measured),
        "measured {measured} MB/s through a 200 MB/s uplink"
    );

    // The test uploads came first, then the file's own upload.
    let state = sim.state();
    let api: Vec<&serde_json::Value> = state["api_log"].as_array().unwrap().iter().collect();
    let probe_at = api
        .iter()
        .position(|r| r["path"] == "/files/request-upload")
        .expect("links for test uploads");
    assert!(
        api[probe_at]["query"]
            .as_str()
            .unwrap()
            .contains("numberFiles=3"),
        "{:?}",
        api[probe_at]
    );
    let file_at = api
        .iter()
        .position(|r| r["path"] == "/files/request-multipart-upload")
        .expect("the file's upload started");
    assert!(probe_at < file_at);
    // At most 4 + 32 + 256 MiB of zeros, smallest first.
    let sizes = probe_puts(&state, &single_ids(&state));
    let all = [4 * MIB, 32 * MIB, 256 * MIB];
    assert!(
        sizes.len() >= 2 && sizes[..] == all[..sizes.len()],
        "{sizes:?}"
    );
}

/// On a 1 MB/s uplink the test uploads confirm the assumption: one of
/// 4 MiB (it takes 4 s, long enough to measure), then the refusal says
/// the rate was measured and what would make the file fit.
#[test]
fn a_huge_file_on_a_slow_uplink_is_refused_after_measuring() {
    let sim = SimProc::start(&["--storage-bytes-per-sec", "1000000"]);
    let dir = tempfile::tempdir().unwrap();
    let huge = sparse(dir.path(), "run42_S1_R2_001.fastq.gz", 200);
    let out = sim.upload(&[huge.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("measuring the uplink first"), "{err}");
    assert!(
        err.contains("run42_S1_R2_001.fastq.gz")
            && err.contains("cannot reach Loculus before its upload links expire")
            && err.contains("MB/s measured by test uploads")
            && err.contains("Nothing of it was sent"),
        "{err}"
    );
    let state = sim.state();
    assert!(
        !state["api_log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["path"] == "/files/request-multipart-upload"),
        "no upload started for the file"
    );
    assert_eq!(probe_puts(&state, &single_ids(&state)), vec![4 * MIB]);
}
