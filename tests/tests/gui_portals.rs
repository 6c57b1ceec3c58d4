//! One Codex and BaseSpace in the real window, against the demo portals the
//! app starts: the portal picker, files checked by each portal's rules,
//! R1/R2 pairs shown before sending and sent as one confirmed sample, a
//! BaseSpace file in parts of at most 25 MB into the AppResult, green
//! checks, and the stored bytes compared with the files; a One Codex file
//! whose POST the storage drops is said to go again from the start, then
//! accepted whole.

use ferry_e2e::sha;
use std::time::{Duration, Instant};

use ferry_e2e::make_file;
use ferry_e2e::webdriver::{Driver, Session, app_binary, record_timing};
use serde_json::json;

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn one_codex_pairs_and_basespace_parts_in_the_window() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let r1 = make_file(dir.path(), "gutA_R1.fastq.gz", 3_000_000, 1);
    let r2 = make_file(dir.path(), "gutA_R2.fastq.gz", 3_000_001, 2);
    let single = make_file(dir.path(), "isolate7.fasta", 4_000, 3);
    let spaced = make_file(dir.path(), "bad name.fastq", 100, 4);
    let notes = make_file(dir.path(), "notes.txt", 100, 5);
    let journal = dir.path().join("journal.sqlite");
    let driver = Driver::start(&[("FERRY_JOURNAL", journal.to_str().unwrap())]);
    let s = Session::new(&driver, &app_binary());
    s.wait_for("[data-testid=user]", 30);
    // The demo Loculus backend serves the simulator's state for all three.
    let sim = s.text(&s.wait_for("[data-testid=backend]", 5));

    // One Codex: its own name rules, pairs shown before sending.
    s.choose_portal("Demo One Codex");
    s.wait_text("[data-testid=user]", "API key", 20);
    let r = s.drop_paths(&[r1.clone(), r2.clone(), single.clone(), spaced, notes]);
    assert_eq!(
        (r["files"].as_u64(), r["problems"].as_u64()),
        (Some(5), Some(2)),
        "{r}"
    );
    let mate = s.wait_for("[data-name=\"gutA_R1.fastq.gz\"] [data-testid=mate]", 5);
    assert_eq!(s.text(&mate), "pair: gutA_R2.fastq.gz");
    assert!(
        s.find_all("[data-name=\"isolate7.fasta\"] [data-testid=mate]")
            .is_empty()
    );
    let errors: Vec<String> = s
        .find_all("[data-testid=error]")
        .iter()
        .map(|e| s.prop(e, "textContent"))
        .collect();
    assert!(errors.iter().any(|e| e.contains("notes.txt")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("bad name.fastq")),
        "{errors:?}"
    );
    s.screenshot("7-onecodex-pairs");
    s.click(&s.wait_for("[data-testid=upload]:not([disabled])", 10));
    s.wait_checks(3, 90);
    s.screenshot("8-onecodex-done");
    let samples = ferry_e2e::get_json(&format!("{sim}/_sim/portals"))["onecodex_samples"].clone();
    let samples = samples.as_array().unwrap();
    assert_eq!(samples.len(), 2, "{samples:?}");
    let pair = samples
        .iter()
        .find(|x| x["filename"] == "gutA_R1.fastq.gz")
        .expect("the pair is one sample");
    assert_eq!(pair["paired_end_filename"], "gutA_R2.fastq.gz");
    assert_eq!(pair["confirmed"], true);
    let alone = samples
        .iter()
        .find(|x| x["filename"] == "isolate7.fasta")
        .unwrap();
    assert_eq!(alone["confirmed"], true);
    for (sample, files) in [(pair, vec![&r1, &r2]), (alone, vec![&single])] {
        let keys = sample["keys"].as_array().unwrap();
        assert_eq!(keys.len(), files.len());
        for (k, f) in keys.iter().zip(files) {
            let o = ferry_e2e::get_json(&format!("{sim}/_sim/stored?key={}", k.as_str().unwrap()));
            assert_eq!(
                o["sha256"].as_str(),
                Some(sha(f).as_str()),
                "{}",
                f.display()
            );
        }
    }

    // BaseSpace: into the demo AppResult, in parts of at most 25 MB.
    s.choose_portal("Demo BaseSpace");
    s.wait_text("[data-testid=user]", "access token", 20);
    s.wait_text("[data-testid=session]", "AppResult", 20);
    // The names One Codex refused are fine for BaseSpace: checked again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.find_all("[data-status=invalid]").is_empty() {
        assert!(
            Instant::now() < deadline,
            "files refused by One Codex still refused"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The same pair again (sent to One Codex already), and a bigger file.
    let big = make_file(dir.path(), "run9_S1_L001_R1_001.fastq.gz", 30_000_123, 6);
    let r = s.drop_paths(&[big.clone(), r1.clone(), r2.clone()]);
    assert_eq!(
        (r["files"].as_u64(), r["problems"].as_u64()),
        (Some(3), Some(0)),
        "{r}"
    );
    s.click(&s.wait_for("[data-testid=upload]:not([disabled])", 10));
    s.wait_checks(3 + 2 + 3, 90);
    s.screenshot("9-basespace-done");
    let files = ferry_e2e::get_json(&format!("{sim}/_sim/portals"))["basespace_files"].clone();
    for (name, path, size) in [
        ("run9_S1_L001_R1_001.fastq.gz", &big, 30_000_123u64),
        ("gutA_R1.fastq.gz", &r1, 3_000_000),
        ("gutA_R2.fastq.gz", &r2, 3_000_001),
    ] {
        let f = files
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not in BaseSpace"));
        assert_eq!(f["status"], "complete");
        assert_eq!(f["appresult"], "1001");
        assert_eq!(f["size"].as_u64(), Some(size));
        let o = ferry_e2e::get_json(&format!(
            "{sim}/_sim/stored?key={}",
            f["key"].as_str().unwrap()
        ));
        assert_eq!(o["sha256"].as_str(), Some(sha(path).as_str()), "{name}");
    }
    let f = files
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "run9_S1_L001_R1_001.fastq.gz")
        .unwrap();
    assert!(f["parts"].as_object().unwrap().len() >= 2, "{f}");

    // And the same pair to Loculus: one FASTQ pair, all three portals.
    s.choose_portal("Demo portal");
    s.wait_text("[data-testid=user]", "demo", 20);
    let r = s.drop_paths(&[r1.clone(), r2.clone()]);
    assert_eq!(
        (r["files"].as_u64(), r["problems"].as_u64()),
        (Some(2), Some(0)),
        "{r}"
    );
    s.click(&s.wait_for("[data-testid=upload]:not([disabled])", 10));
    s.wait_checks(3 + 2 + 3 + 2, 90);
    let rows = s.find_all("[data-status=done]");
    let ids: Vec<(String, String)> = rows
        .iter()
        .map(|r| (s.attr(r, "data-name"), s.attr(r, "data-remote-id")))
        .collect();
    for (name, path) in [("gutA_R1.fastq.gz", &r1), ("gutA_R2.fastq.gz", &r2)] {
        // The last row of that name is the Loculus one.
        let id = &ids.iter().rev().find(|(n, _)| n == name).unwrap().1;
        ferry_e2e::assert_stored(&sim, id, &sha(path), None, name);
    }

    // One Codex again: the storage drops the connection in the middle of
    // the file's one POST. The row says the file goes again from the start
    // (a POST cannot continue), then it is accepted whole. The retry is
    // held for 2 s so the window has the message on screen meanwhile.
    s.choose_portal("Demo One Codex");
    s.wait_text("[data-testid=user]", "API key", 20);
    let again = make_file(dir.path(), "retried3.fastq.gz", 2_000_003, 7);
    ferry_e2e::set_fault(
        &sim,
        json!({"target": "storage", "fault": {"kind": "reset"}, "count": 1}),
    );
    ferry_e2e::set_fault(
        &sim,
        json!({"target": "storage", "fault": {"kind": "stall", "millis": 2000}, "count": 1}),
    );
    let r = s.drop_paths(std::slice::from_ref(&again));
    assert_eq!(r["problems"].as_u64(), Some(0), "{r}");
    s.click(&s.wait_for("[data-testid=upload]:not([disabled])", 10));
    // textContent, not the rendered text: the row may be below the fold.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|w: &String| w.contains("sent again from the start"))
    {
        if Instant::now() > deadline {
            s.screenshot("portals-failed");
            panic!("the retried row never said it is sent again from the start: {seen:?}");
        }
        for w in s.find_all("[data-name=\"retried3.fastq.gz\"] .warning") {
            let t = s.prop(&w, "textContent");
            if !seen.contains(&t) {
                seen.push(t);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    s.run_async(
        "const [done] = arguments;\
         document.querySelector('[data-name=\"retried3.fastq.gz\"]')?.scrollIntoView(); done(1);",
        json!([]),
    );
    s.screenshot("10-onecodex-sent-again");
    s.wait_checks(3 + 2 + 3 + 2 + 1, 90);
    assert!(
        s.find_all("[data-name=\"retried3.fastq.gz\"] .warning")
            .is_empty(),
        "the warning stayed after the file was accepted"
    );
    let counts = ferry_e2e::get_json(&format!("{sim}/_sim/faults"));
    assert_eq!(counts["counts"]["storage:reset"], 1, "{counts}");
    let samples = ferry_e2e::get_json(&format!("{sim}/_sim/portals"))["onecodex_samples"].clone();
    let sample = samples
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["filename"] == "retried3.fastq.gz")
        .expect("the retried file is a sample");
    assert_eq!(sample["confirmed"], true, "{sample}");
    let o = ferry_e2e::get_json(&format!(
        "{sim}/_sim/stored?key={}",
        sample["keys"][0].as_str().unwrap()
    ));
    assert_eq!(o["sha256"].as_str(), Some(sha(&again).as_str()));
    assert_eq!(o["size"].as_u64(), Some(2_000_003));
    record_timing(
        "gui_portals",
        "One Codex pairs and BaseSpace parts E2E",
        started.elapsed(),
    );
}
