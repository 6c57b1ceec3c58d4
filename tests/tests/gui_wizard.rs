//! The bulk submission wizard in the real window: a folder of 50
//! submissions with 2 files each and a sequence (the same file names in
//! every subfolder, as sequencers write them) and one bad row; the review shows the problem,
//! the row is left out, the 100 files go up through the queue, the submit
//! returns 50 accessions and a receipt, and the portal holds exactly the
//! folder's files in the right submissions. A screenshot of each step.

use ferry_e2e::sha;
use std::time::{Duration, Instant};

use ferry_e2e::make_file;
use ferry_e2e::webdriver::{Driver, Session, app_binary, record_timing};
use serde_json::{Value, json};

const N: usize = 50;

/// Waits until the wizard's `files` are all accepted (up to `secs`), presses
/// Submit and waits (up to half as long) for its `submissions` accepted.
fn submit_after_upload(s: &Session, files: usize, submissions: usize, secs: u64) {
    s.wait_text(
        "[data-testid=wizard-progress]",
        &format!("{files} of {files} files accepted"),
        secs,
    );
    s.click(&s.wait_for("[data-testid=wizard-submit]:not([disabled])", 10));
    s.wait_text(
        "[data-testid=wizard-done]",
        &format!("{submissions} submissions accepted"),
        secs / 2,
    );
}

/// Every file the simulator handed out and every submission it took are
/// `group`'s.
fn assert_all_for_group(st: &Value, group: i64) {
    for f in st["files"].as_array().unwrap() {
        assert_eq!(f["group_id"], group, "uploaded for group {group}: {f}");
    }
    for x in st["submissions"].as_array().unwrap() {
        assert_eq!(x["group_id"], group, "submitted to group {group}");
    }
}

/// A batch folder of `n` submissions with two files each (the same names
/// in every subfolder); returns (id, R1 SHA-256, R2 SHA-256) per row.
fn batch(dir: &std::path::Path, n: usize, size: usize) -> Vec<(String, String, String)> {
    let mut meta = String::from("id\tcountry\n");
    let mut want = Vec::new();
    for i in 0..n {
        let id = format!("sample{i:02}");
        meta.push_str(&format!("{id}\tCH\n"));
        let sub = dir.join(&id);
        std::fs::create_dir_all(&sub).unwrap();
        let r1 = make_file(&sub, "reads_R1.fastq.gz", size + i, i as u8);
        let r2 = make_file(&sub, "reads_R2.fastq.gz", size + 10_000 + i, i as u8 + 100);
        want.push((id, sha(&r1), sha(&r2)));
    }
    std::fs::write(dir.join("metadata.tsv"), meta).unwrap();
    want
}

/// A batch folder of `n` submissions of an organism with consensus
/// sequences and files (ebola-sudan in the sim): metadata with its
/// required fields, the sequences in a gzipped FASTA, and per submission
/// its reads (`rawReads/`) and its report (`sequencingReports/`), the same
/// names in every subfolder. Returns (id, sequence, reads SHA-256, report
/// SHA-256) per row.
fn batch_with_sequences(dir: &std::path::Path, n: usize, size: usize) -> Vec<[String; 4]> {
    use std::io::Write;
    let mut meta = String::from("id\tsampleCollectionDate\tgeoLocCountry\n");
    let mut fasta = flate2::write::GzEncoder::new(
        std::fs::File::create(dir.join("sequences.fasta.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    let mut want = Vec::new();
    for i in 0..n {
        let id = format!("sample{i:02}");
        meta.push_str(&format!("{id}\t2024-02-{:02}\tSudan\n", i % 28 + 1));
        let seq: String = (0..40 + i)
            .map(|k| b"ACGT"[(k * 3 + i) % 4] as char)
            .collect();
        writeln!(fasta, ">{id}\n{seq}").unwrap();
        let reads = dir.join(&id).join("rawReads");
        let reports = dir.join(&id).join("sequencingReports");
        std::fs::create_dir_all(&reads).unwrap();
        std::fs::create_dir_all(&reports).unwrap();
        let r = make_file(&reads, "reads.fastq.gz", size + i, i as u8);
        let p = make_file(&reports, "report.pdf", size / 4 + i, i as u8 + 100);
        want.push([id, seq, sha(&r), sha(&p)]);
    }
    fasta.finish().unwrap();
    std::fs::write(dir.join("metadata.tsv"), meta).unwrap();
    want
}

/// Opens the wizard on `dir` for the organism with files.
fn open_wizard(s: &Session, dir: &std::path::Path) {
    open_wizard_for(s, dir, "dummy-organism-with-files");
}

/// Opens the wizard on `dir` and picks `organism`.
fn open_wizard_for(s: &Session, dir: &std::path::Path, organism: &str) {
    s.click(&s.wait_for("[data-testid=wizard-open]:not([disabled])", 10));
    s.wait_for("[data-testid=wizard][data-step=folder]", 5);
    let r = s.run_async(
        "const [path, done] = arguments;\
         window.__TAURI_INTERNALS__.invoke('e2e_wizard_folder', {path}).then(\
           f => { window.dispatchEvent(new CustomEvent('ferry-e2e-folder', {detail: f})); done(f); },\
           e => done('error: ' + e));",
        json!([dir]),
    );
    assert!(!r.as_str().unwrap().starts_with("error"), "{r}");
    s.wait_text("[data-testid=wizard-organism]", "with files", 10);
    let ok = s.run_async(
        "const [org, done] = arguments; const sel = document.querySelector('[data-testid=wizard-organism]');\
         sel.value = org; sel.dispatchEvent(new Event('change', {bubbles: true})); done(sel.value);",
        json!([organism]),
    );
    assert_eq!(ok, organism);
}

/// Each submission holds its reads and its report, in their categories,
/// the storage their bytes, and the portal its sequence.
fn assert_held_with_sequences(sim: &str, want: &[[String; 4]]) {
    let state: Value = reqwest::blocking::get(format!("{sim}/_sim/state"))
        .and_then(|r| r.json())
        .unwrap();
    let subs = state["submissions"].as_array().unwrap();
    assert_eq!(subs.len(), want.len(), "one submission per row");
    for [id, seq, reads, report] in want {
        let sub = subs
            .iter()
            .find(|x| x["submission_id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not submitted"));
        assert_eq!(sub["organism"], "ebola-sudan");
        assert_eq!(sub["sequences"], json!({ id.as_str(): seq }), "{id}");
        let files = sub["files"].as_object().unwrap();
        assert_eq!(files.len(), 2, "{id}: {files:?}");
        for (cat, name, want_sha) in [
            ("rawReads", "reads.fastq.gz", reads),
            ("sequencingReports", "report.pdf", report),
        ] {
            let list = files[cat].as_array().unwrap();
            assert_eq!(list.len(), 1, "{id} {cat}: {list:?}");
            assert_eq!(list[0][0], name, "{id} {cat}");
            ferry_e2e::assert_stored(sim, list[0][1].as_str().unwrap(), want_sha, None, id);
        }
    }
}

/// Each submission holds its two files, and the storage their bytes.
fn assert_held(sim: &str, want: &[(String, String, String)]) {
    let state: Value = reqwest::blocking::get(format!("{sim}/_sim/state"))
        .and_then(|r| r.json())
        .unwrap();
    let subs = state["submissions"].as_array().unwrap();
    assert_eq!(subs.len(), want.len(), "one submission per row");
    for (id, r1, r2) in want {
        let sub = subs
            .iter()
            .find(|x| x["submission_id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not submitted"));
        let files = sub["files"]["rawReads"].as_array().unwrap();
        let names: Vec<&str> = files.iter().map(|f| f[0].as_str().unwrap()).collect();
        assert_eq!(names, ["reads_R1.fastq.gz", "reads_R2.fastq.gz"], "{id}");
        for (f, want_sha) in files.iter().zip([r1, r2]) {
            ferry_e2e::assert_stored(sim, f[1].as_str().unwrap(), want_sha, None, id);
        }
    }
}

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn fifty_submissions_from_folder_to_accessions_in_the_window() {
    let t0 = Instant::now();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("batch");
    std::fs::create_dir_all(&dir).unwrap();
    let want = batch_with_sequences(&dir, N, 20_000);
    // One more row, with its sequence, whose file Loculus would refuse.
    let mut meta = std::fs::read_to_string(dir.join("metadata.tsv")).unwrap();
    meta.push_str("sample50\t2024-03-01\tSudan\n");
    std::fs::create_dir_all(dir.join("sample50/rawReads")).unwrap();
    make_file(&dir.join("sample50/rawReads"), "bad name.fq", 100, 7);
    std::fs::write(dir.join("metadata.tsv"), meta).unwrap();
    {
        use std::io::Write;
        let gz = std::fs::read(dir.join("sequences.fasta.gz")).unwrap();
        let mut fasta = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut fasta)
            .unwrap();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        write!(enc, "{fasta}>sample50\nACGTACGT\n").unwrap();
        std::fs::write(dir.join("sequences.fasta.gz"), enc.finish().unwrap()).unwrap();
    }

    let journal = d.path().join("journal.sqlite");
    let driver = Driver::start(&[("FERRY_JOURNAL", journal.to_str().unwrap())]);
    let s = Session::new(&driver, &app_binary());
    s.wait_for("[data-testid=user]", 30);
    let sim = s.text(&s.wait_for("[data-testid=backend]", 5));

    // 1. Folder and organism.
    open_wizard_for(&s, &dir, "ebola-sudan");
    s.wait_text("[data-testid=wizard-folder]", "batch", 5);
    s.screenshot("w1-folder");

    // 2. Review: every row, and the problem with its row.
    s.click(&s.wait_for("[data-testid=wizard-review]:not([disabled])", 5));
    s.wait_for("[data-testid=wizard][data-step=review]", 10);
    let problem = s.wait_text("[data-testid=wizard-problem]", "bad name.fq", 10);
    assert!(problem.contains("whitespace"), "{problem}");
    assert!(
        s.find_all("[data-testid=wizard-upload][disabled]").len() == 1,
        "blocked by the problem"
    );
    let summary = s.text(&s.wait_for("[data-testid=wizard-summary]", 5));
    assert!(
        summary.contains(&format!("{} submissions", N + 1)),
        "{summary}"
    );
    s.screenshot("w2-review");

    // 3. Leave the bad row out.
    s.click(&s.wait_for(
        "[data-testid=wizard-problem] [data-testid=exclude-sample50]",
        5,
    ));
    s.wait_text("[data-testid=wizard-excluded]", "sample50", 10);
    s.wait_text(
        "[data-testid=wizard-summary]",
        &format!("{N} submissions · {} files", 2 * N),
        10,
    );
    assert!(s.find_all("[data-testid=wizard-problem]").is_empty());
    s.screenshot("w3-excluded");

    // 4. Upload through the queue.
    s.click(&s.wait_for("[data-testid=wizard-upload]:not([disabled])", 5));
    s.wait_for("[data-testid=wizard][data-step=upload]", 10);
    s.screenshot("w4-upload");
    // 5. Submit: an accession per submission, and a receipt.
    submit_after_upload(&s, 2 * N, N, 120);
    assert_eq!(s.find_all("[data-testid=accession]").len(), N);
    s.screenshot("w5-result");
    // The receipt: every file, with its SHA-256.
    let csv = std::fs::read_to_string(dir.join("ferry-receipt.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2 * N + 1, "{csv}");
    assert!(!csv.contains("sample50"));
    for [id, _, reads, report] in &want {
        for (cat, name, sha) in [
            ("rawReads", "reads.fastq.gz", reads),
            ("sequencingReports", "report.pdf", report),
        ] {
            assert_eq!(
                csv.lines()
                    .filter(|l| {
                        let c: Vec<&str> = l.split(',').collect();
                        c[0] == id && c[2] == cat && c[3] == name && c[6] == sha
                    })
                    .count(),
                1,
                "{id} {cat} in {csv}"
            );
        }
    }
    assert!(dir.join("ferry-receipt.json").exists());

    // The portal holds each submission's two files, bytes and all, and
    // its sequence.
    assert_held_with_sequences(&sim, &want);
    eprintln!(
        "wizard: {N} submissions, {} files, in {:?}",
        2 * N,
        t0.elapsed()
    );
    record_timing(
        "gui_wizard",
        "fifty submissions from folder to accessions in the window E2E",
        t0.elapsed(),
    );
}

/// The window closes while the batch's files are on their way; the next
/// session offers the batch, takes the wizard up at its upload (only the
/// unacknowledged parts go again), and submits it.
#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn a_wizard_closed_mid_upload_is_taken_up_and_submitted() {
    let started = Instant::now();
    let sim = ferry_e2e::SimProc::start(&[]);
    let backend = sim.backend();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("plate");
    std::fs::create_dir_all(&dir).unwrap();
    // Files of 3 parts each, so the close lands mid-file.
    let want = batch(&dir, 3, 20 * 1024 * 1024);
    let journal = d.path().join("journal.sqlite");
    let driver = Driver::start(&[
        ("FERRY_BACKEND", &backend),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
    ]);
    {
        let s = Session::new(&driver, &app_binary());
        s.signed_in_as("demo", "demo");
        open_wizard(&s, &dir);
        s.click(&s.wait_for("[data-testid=wizard-review]:not([disabled])", 5));
        sim.fault(
            json!({"target": "storage", "fault": {"kind": "stall", "millis": 3000}, "count": 4}),
        );
        s.click(&s.wait_for("[data-testid=wizard-upload]:not([disabled])", 10));
        s.wait_text("[data-testid=wizard-progress]", "of 6 files accepted", 10);
        // Some parts in, then the window closes.
        let deadline = Instant::now() + Duration::from_secs(60);
        while s.find_all(".seg[data-state=done]").len() < 3 {
            assert!(Instant::now() < deadline, "no part acknowledged");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            s.find_all("[data-testid=wizard-submit]:not([disabled])")
                .is_empty()
        );
    }
    std::thread::sleep(Duration::from_secs(4));
    assert!(sim.state()["submissions"].as_array().unwrap().is_empty());

    let s = Session::new(&driver, &app_binary());
    s.signed_in_as("demo", "demo");
    let job = s.wait_for("[data-testid=job-wizard]", 20);
    assert!(s.text(&job).contains("plate"), "{}", s.text(&job));
    s.screenshot("w6-taken-up");
    s.click(&s.wait_for("[data-testid=job-resume]", 5));
    s.wait_for("[data-testid=wizard][data-step=upload]", 10);
    submit_after_upload(&s, 6, 3, 120);
    assert_held(&backend, &want);
    // 6 files of 3 parts: what the storage took twice is at most what was
    // in flight when the window closed (8 parts).
    let parts = sim.state()["storage_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == 200 && r["query"].as_str().unwrap_or("").contains("partNumber="))
        .count();
    assert!(
        (18..=18 + 8).contains(&parts),
        "{parts} parts stored for 18"
    );
    // Submitted: not offered again.
    drop(s);
    let s = Session::new(&driver, &app_binary());
    s.signed_in_as("demo", "demo");
    s.wait_for("main[data-jobs-loaded=true]", 20);
    assert!(s.find_all("[data-testid=job]").is_empty());
    record_timing(
        "gui_wizard",
        "a wizard closed mid upload is taken up and submitted E2E",
        started.elapsed(),
    );
}

fn state(sim: &str) -> Value {
    reqwest::blocking::get(format!("{sim}/_sim/state"))
        .and_then(|r| r.json())
        .unwrap()
}

/// A folder dropped on the open wizard goes to it (not to the queue); the
/// user's group is shown and used; the portal refuses the submit (rows with
/// no metadata), the wizard shows its message at the row it names and keeps
/// the uploads; after the fix on disk the submit goes again with the same
/// fileIds, nothing uploaded twice, restricted until the chosen date. The
/// receipt cannot be written (a folder has its name): the accessions show.
#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn a_refused_submit_shows_the_message_at_its_row_and_goes_again_without_uploading() {
    let started = Instant::now();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("refused-batch");
    std::fs::create_dir_all(&dir).unwrap();
    // Only an id column: Loculus refuses it, naming record #1.
    std::fs::write(dir.join("metadata.tsv"), "id\nrow1\nrow2\n").unwrap();
    std::fs::create_dir_all(dir.join("row1")).unwrap();
    std::fs::create_dir_all(dir.join("row2")).unwrap();
    let a = make_file(&dir.join("row1"), "a.fq", 3000, 1);
    let b = make_file(&dir.join("row2"), "b.fq", 4000, 2);
    std::fs::create_dir_all(dir.join("ferry-receipt.csv")).unwrap();

    let journal = d.path().join("journal.sqlite");
    let driver = Driver::start(&[("FERRY_JOURNAL", journal.to_str().unwrap())]);
    let s = Session::new(&driver, &app_binary());
    s.wait_for("[data-testid=user]", 30);
    let sim = s.text(&s.wait_for("[data-testid=backend]", 5));

    s.click(&s.wait_for("[data-testid=wizard-open]:not([disabled])", 10));
    s.wait_for("[data-testid=wizard][data-step=folder]", 5);
    s.wait_text("[data-testid=wizard-group]", "Demo Lab (1)", 10);
    let dropped = s.drop_paths(std::slice::from_ref(&dir));
    assert_eq!(
        dropped["files"], 0,
        "the folder went to the wizard: {dropped}"
    );
    s.wait_text("[data-testid=wizard-folder]", "refused-batch", 10);
    assert!(s.find_all("[data-testid=row]").is_empty(), "nothing queued");
    s.wait_text("[data-testid=wizard-organism]", "with files", 10);
    let ok = s.run_async(
        "const [done] = arguments; const sel = document.querySelector('[data-testid=wizard-organism]');\
         sel.value = 'dummy-organism-with-files'; sel.dispatchEvent(new Event('change', {bubbles: true})); done(sel.value);",
        json!([]),
    );
    assert_eq!(ok, "dummy-organism-with-files");
    s.click(&s.wait_for("[data-testid=wizard-review]:not([disabled])", 5));
    s.wait_for("[data-testid=wizard][data-step=review]", 10);
    s.click(&s.wait_for("[data-testid=wizard-upload]:not([disabled])", 10));
    s.wait_text("[data-testid=wizard-progress]", "2 of 2 files accepted", 60);
    let before = state(&sim);
    let stored = before["storage_log"].as_array().unwrap().len();
    let uploaded: Vec<String> = before["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(uploaded.len(), 2);

    // Restricted, until the date the wizard offers.
    let until = s.run_async(
        "const [done] = arguments; const sel = document.querySelector('[data-testid=wizard-terms]');\
         sel.value = 'RESTRICTED'; sel.dispatchEvent(new Event('change', {bubbles: true}));\
         setTimeout(() => done(document.querySelector('[data-testid=wizard-until]').value), 100);",
        json!([]),
    );
    let until = until.as_str().unwrap().to_string();
    assert_eq!(until.len(), 10, "a date: {until}");

    s.click(&s.wait_for("[data-testid=wizard-submit]:not([disabled])", 10));
    s.wait_text("[data-testid=wizard-error]", "contains no metadata", 30);
    let at_row = s.wait_text(
        "[data-testid=wizard-refused] [data-id=row1] [data-testid=row-message]",
        "Record #1 with id 'row1'",
        10,
    );
    assert!(at_row.contains("contains no metadata"), "{at_row}");
    s.screenshot("w7-refused-at-its-row");
    assert!(state(&sim)["submissions"].as_array().unwrap().is_empty());

    // Fixed on disk; submitted again, nothing uploaded again.
    std::fs::write(
        dir.join("metadata.tsv"),
        "id\tcountry\nrow1\tCH\nrow2\tDE\n",
    )
    .unwrap();
    s.click(&s.wait_for("[data-testid=wizard-submit]:not([disabled])", 10));
    s.wait_text("[data-testid=wizard-done]", "2 submissions accepted", 30);
    assert_eq!(s.find_all("[data-testid=accession]").len(), 2);
    let receipt = s.wait_text("[data-testid=wizard-receipt-error]", "cannot be written", 5);
    assert!(receipt.contains("ferry-receipt.csv"), "{receipt}");
    s.screenshot("w8-submitted-again");

    let after = state(&sim);
    assert_eq!(
        after["storage_log"].as_array().unwrap().len(),
        stored,
        "nothing uploaded twice"
    );
    assert_eq!(
        after["files"].as_array().unwrap().len(),
        2,
        "no new fileIds"
    );
    let subs = after["submissions"].as_array().unwrap();
    let mut used: Vec<String> = subs
        .iter()
        .flat_map(|x| x["files"]["rawReads"].as_array().unwrap().clone())
        .map(|f| f[1].as_str().unwrap().to_string())
        .collect();
    used.sort();
    let mut uploaded = uploaded;
    uploaded.sort();
    assert_eq!(used, uploaded, "the same fileIds");
    for x in subs {
        assert_eq!(x["group_id"], 1);
        assert_eq!(x["data_use_terms"], "RESTRICTED");
        assert_eq!(x["restricted_until"], until.as_str());
    }
    let row1 = subs.iter().find(|x| x["submission_id"] == "row1").unwrap();
    ferry_e2e::assert_stored(
        &sim,
        row1["files"]["rawReads"][0][1].as_str().unwrap(),
        &sha(&a),
        Some(3000),
        "row1",
    );
    let row2 = subs.iter().find(|x| x["submission_id"] == "row2").unwrap();
    ferry_e2e::assert_stored(
        &sim,
        row2["files"]["rawReads"][0][1].as_str().unwrap(),
        &sha(&b),
        Some(4000),
        "row2",
    );
    record_timing(
        "gui_wizard",
        "a refused submit shows the message at its row and goes again without uploading E2E",
        started.elapsed(),
    );
}

/// A curator sees every group; the one chosen in the wizard is the one the
/// files are uploaded for and the batch submitted to (not silently the
/// first).
#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn the_wizard_uploads_and_submits_for_the_group_chosen() {
    let started = Instant::now();
    let sim = ferry_e2e::SimProc::start(&[]);
    let backend = sim.backend();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("lab2");
    std::fs::create_dir_all(&dir).unwrap();
    let want = batch(&dir, 2, 2000);
    let journal = d.path().join("journal.sqlite");
    let driver = Driver::start(&[
        ("FERRY_BACKEND", &backend),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
    ]);
    let s = Session::new(&driver, &app_binary());
    s.signed_in_as("curator", "curator");
    open_wizard(&s, &dir);
    let groups = s.wait_text("[data-testid=wizard-group]", "Other Lab (2)", 10);
    assert!(groups.contains("Demo Lab (1)"), "{groups}");
    let picked = s.run_async(
        "const [done] = arguments; const sel = document.querySelector('[data-testid=wizard-group]');\
         sel.value = sel.options[1].value; sel.dispatchEvent(new Event('change', {bubbles: true})); done(sel.value);",
        json!([]),
    );
    assert_eq!(picked, "2");
    s.click(&s.wait_for("[data-testid=wizard-review]:not([disabled])", 5));
    s.click(&s.wait_for("[data-testid=wizard-upload]:not([disabled])", 10));
    submit_after_upload(&s, 4, 2, 60);
    assert_all_for_group(&sim.state(), 2);
    assert_held(&backend, &want);
    s.wait_text("[data-testid=session]", "group 2", 5);
    record_timing(
        "gui_wizard",
        "the wizard uploads and submits for the group chosen E2E",
        started.elapsed(),
    );
}

/// The answer to the wizard's submit is cut after the portal committed it
/// (the window cannot know whether it landed): the window says so, and the
/// next Submit asks the portal first instead of submitting twice.
#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn a_submit_whose_answer_was_lost_is_not_submitted_twice() {
    let started = Instant::now();
    let sim = ferry_e2e::SimProc::start(&[]);
    let backend = sim.backend();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("lost-answer");
    std::fs::create_dir_all(&dir).unwrap();
    let want = batch(&dir, 2, 1500);
    let journal = d.path().join("journal.sqlite");
    let driver = Driver::start(&[
        ("FERRY_BACKEND", &backend),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
    ]);
    let s = Session::new(&driver, &app_binary());
    s.signed_in_as("demo", "demo");
    open_wizard(&s, &dir);
    s.click(&s.wait_for("[data-testid=wizard-review]:not([disabled])", 5));
    s.click(&s.wait_for("[data-testid=wizard-upload]:not([disabled])", 10));
    s.wait_text("[data-testid=wizard-progress]", "4 of 4 files accepted", 60);
    // The next upload or submit request (the submit: the files are all
    // up) has its answer cut after it landed.
    sim.fault(json!({"target": "api", "fault": {"kind": "truncate"}, "count": 1}));
    s.click(&s.wait_for("[data-testid=wizard-submit]:not([disabled])", 10));
    s.wait_text(
        "[data-testid=wizard-error]",
        "may have reached the portal",
        30,
    );
    let landed = sim.state()["submissions"].as_array().unwrap().len();
    assert_eq!(landed, 2, "the portal did take it");
    s.click(&s.wait_for("[data-testid=wizard-submit]:not([disabled])", 10));
    s.wait_text("[data-testid=wizard-done]", "2 submissions accepted", 30);
    let st = sim.state();
    let subs = st["submissions"].as_array().unwrap();
    assert_eq!(subs.len(), 2, "submitted once, not twice");
    let shown: Vec<String> = s
        .find_all("[data-testid=accession]")
        .iter()
        .map(|e| s.text(e))
        .collect();
    for x in subs {
        let acc = x["accession"].as_str().unwrap();
        assert!(
            shown.iter().any(|t| t.contains(acc)),
            "{acc} not shown in {shown:?}"
        );
    }
    assert_held(&backend, &want);
    record_timing(
        "gui_wizard",
        "a submit whose answer was lost is not submitted twice E2E",
        started.elapsed(),
    );
}

/// A website that serves only `GET /loculus-info` (`body`), on another
/// loopback address than the backend's when the system has one; counts
/// what it is asked. Stops on drop.
struct Website {
    url: String,
    asked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    addr: std::net::SocketAddr,
}

impl Website {
    fn start(body: String) -> Website {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.2:0")
            .or_else(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (a, st) = (asked.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let mut head = String::new();
                let mut r = BufReader::new(conn.try_clone().unwrap());
                // The request line, then headers up to the blank line.
                let _ = r.read_line(&mut head);
                let mut line = String::new();
                while r.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                    line.clear();
                }
                let ok = head.starts_with("GET /loculus-info ");
                if ok {
                    a.fetch_add(1, Ordering::SeqCst);
                }
                let (status, text) = if ok {
                    ("200 OK", body.as_str())
                } else {
                    ("404 Not Found", "{}")
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        Website {
            url: format!("http://{addr}"),
            asked,
            stop,
            addr,
        }
    }
}

impl Drop for Website {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wakes the accept so the thread sees the flag.
        let _ = std::net::TcpStream::connect(self.addr);
    }
}

/// The organisms come from the website's `/loculus-info` (FERRY_WEBSITE),
/// not the backend's, when the two are at different addresses; the batch
/// still goes to the backend.
#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn the_wizard_reads_the_organisms_from_the_website_not_the_backend() {
    let started = Instant::now();
    let sim = ferry_e2e::SimProc::start(&[]);
    let backend = sim.backend();
    // The instance's description as the website would serve it: one
    // organism of the backend's, named as only the website names it.
    let mut info: Value = reqwest::blocking::get(format!("{backend}/loculus-info"))
        .and_then(|r| r.json())
        .unwrap();
    // The backend lists more (and other names): what the window shows tells
    // which was asked.
    assert!(info["organisms"]["ebola-sudan"].is_object(), "{info}");
    let org = info["organisms"]["dummy-organism-with-files"].clone();
    info["organisms"] = json!({ "dummy-organism-with-files": org });
    info["organisms"]["dummy-organism-with-files"]["schema"]["organismName"] =
        json!("Reads (from the website)");
    let website = Website::start(info.to_string());

    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("site");
    std::fs::create_dir_all(&dir).unwrap();
    let want = batch(&dir, 2, 1000);
    let journal = d.path().join("journal.sqlite");
    let driver = Driver::start(&[
        ("FERRY_BACKEND", &backend),
        ("FERRY_WEBSITE", &website.url),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
    ]);
    let s = Session::new(&driver, &app_binary());
    s.signed_in_as("demo", "demo");
    let backend_asked = || {
        sim.state()["api_log"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["path"] == "/loculus-info")
            .count()
    };
    let before = backend_asked();
    s.click(&s.wait_for("[data-testid=wizard-open]:not([disabled])", 10));
    s.wait_for("[data-testid=wizard][data-step=folder]", 5);
    let r = s.run_async(
        "const [path, done] = arguments;\
         window.__TAURI_INTERNALS__.invoke('e2e_wizard_folder', {path}).then(\
           f => { window.dispatchEvent(new CustomEvent('ferry-e2e-folder', {detail: f})); done(f); },\
           e => done('error: ' + e));",
        json!([dir]),
    );
    assert!(!r.as_str().unwrap().starts_with("error"), "{r}");
    let listed = s.wait_text(
        "[data-testid=wizard-organism]",
        "Reads (from the website)",
        10,
    );
    assert!(!listed.contains("Ebola"), "only the website's: {listed}");
    let options = s.run_async(
        "const [done] = arguments;\
         done([...document.querySelectorAll('[data-testid=wizard-organism] option')].map(o => o.value));",
        json!([]),
    );
    assert_eq!(options, json!(["dummy-organism-with-files"]));
    assert!(
        website.asked.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the website was asked"
    );
    assert_eq!(backend_asked(), before, "the backend was not asked");
    s.screenshot("w9-organisms-from-the-website");

    s.click(&s.wait_for("[data-testid=wizard-review]:not([disabled])", 5));
    s.click(&s.wait_for("[data-testid=wizard-upload]:not([disabled])", 10));
    submit_after_upload(&s, 4, 2, 60);
    assert_held(&backend, &want);
    record_timing(
        "gui_wizard",
        "the wizard reads the organisms from the website not the backend E2E",
        started.elapsed(),
    );
}

/// The group chosen in the wizard holds when the window closes mid-upload:
/// the next session signs in with the account's first group, yet offers
/// the batch, and its files and its submit go to the group chosen.
#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn a_wizard_for_another_group_closed_mid_upload_resumes_for_that_group() {
    let sim = ferry_e2e::SimProc::start(&[]);
    let backend = sim.backend();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("lab2-closed");
    std::fs::create_dir_all(&dir).unwrap();
    let want = batch(&dir, 2, 2000);
    let journal = d.path().join("journal.sqlite");
    let driver = Driver::start(&[
        ("FERRY_BACKEND", &backend),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
    ]);
    {
        let s = Session::new(&driver, &app_binary());
        s.signed_in_as("curator", "curator");
        open_wizard(&s, &dir);
        s.wait_text("[data-testid=wizard-group]", "Other Lab (2)", 10);
        let picked = s.run_async(
            "const [done] = arguments; const sel = document.querySelector('[data-testid=wizard-group]');\
             sel.value = '2'; sel.dispatchEvent(new Event('change', {bubbles: true})); done(sel.value);",
            json!([]),
        );
        assert_eq!(picked, "2");
        s.click(&s.wait_for("[data-testid=wizard-review]:not([disabled])", 5));
        // Every file's request held, so the window closes before any lands.
        sim.fault(
            json!({"target": "storage", "fault": {"kind": "stall", "millis": 4000}, "count": 4}),
        );
        s.click(&s.wait_for("[data-testid=wizard-upload]:not([disabled])", 10));
        s.wait_text("[data-testid=wizard-progress]", "0 of 4 files accepted", 10);
        let deadline = Instant::now() + Duration::from_secs(30);
        while sim.state()["files"].as_array().unwrap().len() < 4 {
            assert!(Instant::now() < deadline, "no uploads begun");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    std::thread::sleep(Duration::from_secs(5));
    assert!(sim.state()["submissions"].as_array().unwrap().is_empty());

    // Signed in again: the account's first group, group 1.
    let s = Session::new(&driver, &app_binary());
    s.signed_in_as("curator", "curator");
    s.wait_text("[data-testid=session]", "group 1", 10);
    let job = s.wait_for("[data-testid=job-wizard]", 20);
    assert!(s.text(&job).contains("lab2-closed"), "{}", s.text(&job));
    // Resume is enabled once the app knows the job's group is the user's
    // (its group list, which a loaded machine may take a while to fetch).
    s.click(&s.wait_for("[data-testid=job-resume]:not([disabled])", 30));
    s.wait_for("[data-testid=wizard][data-step=upload]", 10);
    submit_after_upload(&s, 4, 2, 60);
    assert_all_for_group(&sim.state(), 2);
    assert_held(&backend, &want);
    s.wait_text("[data-testid=session]", "group 2", 5);
}

/// A batch with sequences and no extra files (an organism without files):
/// nothing to upload, so the wizard goes from the review straight to
/// Submit, and each row's sequence lands with its metadata.
#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn a_batch_of_sequences_only_is_submitted_without_an_upload() {
    let t0 = Instant::now();
    let sim = ferry_e2e::SimProc::start(&[]);
    let backend = sim.backend();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("sequences-only");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("metadata.tsv"),
        "id\tcountry\nseq1\tCH\nseq2\tDE\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("sequences.fasta"),
        ">seq1\nACGTACGT\n>seq2\nGGGTTTAA\n",
    )
    .unwrap();
    let journal = d.path().join("journal.sqlite");
    let driver = Driver::start(&[
        ("FERRY_BACKEND", &backend),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
    ]);
    let s = Session::new(&driver, &app_binary());
    s.signed_in_as("demo", "demo");
    open_wizard_for(&s, &dir, "dummy-organism");
    s.click(&s.wait_for("[data-testid=wizard-review]:not([disabled])", 5));
    let go = s.wait_for("[data-testid=wizard-upload]:not([disabled])", 10);
    assert!(
        s.text(&go).contains("no files to upload"),
        "{}",
        s.text(&go)
    );
    s.click(&go);
    s.click(&s.wait_for("[data-testid=wizard-submit]:not([disabled])", 10));
    s.wait_text("[data-testid=wizard-done]", "2 submissions accepted", 30);
    let st = sim.state();
    assert!(
        st["files"].as_array().unwrap().is_empty(),
        "nothing uploaded"
    );
    let subs = st["submissions"].as_array().unwrap();
    assert_eq!(subs.len(), 2);
    for (id, seq) in [("seq1", "ACGTACGT"), ("seq2", "GGGTTTAA")] {
        let x = subs.iter().find(|x| x["submission_id"] == id).unwrap();
        assert_eq!(x["organism"], "dummy-organism");
        assert_eq!(x["sequences"][id], seq, "{x}");
    }
    record_timing("gui_wizard", "sequences-only batch", t0.elapsed());
}
