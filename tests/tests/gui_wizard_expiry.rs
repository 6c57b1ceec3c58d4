//! The wizard and Loculus' expiry of unattached uploads, in a real window:
//! a batch is uploaded, its ids expire on the portal (ferry-sim with a 5 s
//! orphan retention, its garbage collection run until it marked them),
//! and Submit uploads the files again, submits with the new ids and says
//! so per file. The submissions hold the same bytes under the new ids.

use ferry_e2e::sha;
use std::time::Duration;

use ferry_e2e::webdriver::{Driver, Session, app_binary};
use ferry_e2e::{SimProc, make_file};
use serde_json::json;

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn expired_ids_are_uploaded_again_at_submit_in_the_wizard() {
    let sim = SimProc::start(&["--orphan-retention-secs", "5"]);
    let backend = sim.backend();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("late-batch");
    let mut shas = std::collections::BTreeMap::new();
    let mut meta = String::from("id\tcountry\n");
    for i in 0..2u8 {
        let id = format!("late{i}");
        meta.push_str(&format!("{id}\tCH\n"));
        let sub = dir.join(&id);
        std::fs::create_dir_all(&sub).unwrap();
        for (n, name) in ["reads_R1.fastq.gz", "reads_R2.fastq.gz"]
            .iter()
            .enumerate()
        {
            let f = make_file(
                &sub,
                name,
                200_000 + usize::from(i) * 10 + n,
                i * 2 + n as u8,
            );
            shas.insert((id.clone(), name.to_string()), sha(&f));
        }
    }
    std::fs::write(dir.join("metadata.tsv"), meta).unwrap();
    let journal = d.path().join("journal.sqlite");
    let driver = Driver::start(&[
        ("FERRY_BACKEND", &backend),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
    ]);
    let s = Session::new(&driver, &app_binary());
    s.signed_in_as("demo", "demo");
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
    s.run_async(
        "const [done] = arguments; const sel = document.querySelector('[data-testid=wizard-organism]');\
         sel.value = 'dummy-organism-with-files'; sel.dispatchEvent(new Event('change', {bubbles: true})); done(sel.value);",
        json!([]),
    );
    s.click(&s.wait_for("[data-testid=wizard-review]:not([disabled])", 5));
    s.click(&s.wait_for("[data-testid=wizard-upload]:not([disabled])", 10));
    s.wait_text("[data-testid=wizard-progress]", "4 of 4 files accepted", 60);
    let old: Vec<String> = sim.state()["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(old.len(), 4);
    // The portal's garbage collection marks them once they are 5 s old.
    let http = reqwest::blocking::Client::new();
    let mut marked = Vec::new();
    for _ in 0..120 {
        let run: serde_json::Value = http
            .post(format!("{backend}/_sim/gc"))
            .send()
            .and_then(|r| r.json())
            .unwrap();
        marked.extend(run["marked"].as_array().unwrap().iter().cloned());
        if marked.len() >= 4 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(marked.len(), 4, "marked: {marked:?}");
    s.click(&s.wait_for("[data-testid=wizard-submit]:not([disabled])", 10));
    s.wait_text("[data-testid=wizard-done]", "2 submissions accepted", 60);
    let notes: Vec<String> = s
        .find_all("[data-testid=wizard-renewed]")
        .iter()
        .map(|e| s.text(e))
        .collect();
    assert_eq!(notes.len(), 4, "{notes:?}");
    for id in &old {
        assert!(
            notes.iter().any(|n| n.contains(&format!("{id} expired"))),
            "{id} is said to have expired: {notes:?}"
        );
    }
    s.screenshot("wizard-expired-renewed");
    // Each submission holds its files under new ids, with the same bytes.
    let st = sim.state();
    let subs = st["submissions"].as_array().unwrap();
    assert_eq!(subs.len(), 2);
    for sub in subs {
        let row = sub["submission_id"].as_str().unwrap();
        let files = sub["files"]["rawReads"].as_array().unwrap();
        assert_eq!(files.len(), 2, "{sub}");
        for pair in files {
            let (name, id) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
            assert!(!old.iter().any(|o| o == id), "{row}/{name}: a new id");
            // The window's row shows the id the submission names.
            s.wait_for(
                &format!("[data-name=\"{name}\"][data-remote-id=\"{id}\"]"),
                10,
            );
            ferry_e2e::assert_stored(
                &backend,
                id,
                &shas[&(row.to_string(), name.to_string())],
                None,
                name,
            );
        }
    }
}
