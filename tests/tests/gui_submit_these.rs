//! **Submit these…** in a real window: three files uploaded to Loculus
//! with no submission, then from the History the wizard opens on a
//! metadata template (one row per R1/R2 pair or file, `files.rawReads`
//! filled with the uploads' ids), the user completes its metadata, and
//! Submit takes them to accessions without uploading anything again.

use ferry_e2e::webdriver::{Driver, Session, app_binary};
use ferry_e2e::{SimProc, make_file};
use serde_json::json;

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn three_uploaded_files_go_to_accessions_without_uploading_again() {
    let sim = SimProc::start(&[]);
    let backend = sim.backend();
    let d = tempfile::tempdir().unwrap();
    let files = [
        make_file(d.path(), "s1_R1.fastq.gz", 100_000, 1),
        make_file(d.path(), "s1_R2.fastq.gz", 100_001, 2),
        make_file(d.path(), "s2.fastq.gz", 50_000, 3),
    ];
    let journal = d.path().join("journal.sqlite");
    let driver = Driver::start(&[
        ("FERRY_BACKEND", &backend),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
    ]);
    let s = Session::new(&driver, &app_binary());
    s.signed_in_as("demo", "demo");
    assert_eq!(s.drop_paths(&files)["files"], 3);
    s.click(&s.wait_for("[data-testid=upload]:not([disabled])", 10));
    s.wait_checks(3, 60);
    let ids: Vec<String> = files
        .iter()
        .map(|f| {
            let name = f.file_name().unwrap().to_str().unwrap();
            s.attr(
                &s.wait_for(&format!("[data-name=\"{name}\"][data-status=done]"), 5),
                "data-remote-id",
            )
        })
        .collect();
    s.click(&s.wait_for("[data-testid=history-open]", 5));
    s.click(&s.wait_for("[data-testid=history-submit]", 10));
    let notice = s.wait_text("[data-testid=notice]", "metadata.tsv", 10);
    let template = d
        .path()
        .join(
            notice
                .split(" is in ")
                .nth(1)
                .unwrap()
                .split("/metadata.tsv")
                .next()
                .unwrap(),
        )
        .join("metadata.tsv");
    let text = std::fs::read_to_string(&template).unwrap();
    assert_eq!(
        text,
        format!(
            "id\tfiles.rawReads\ns1\ts1_R1.fastq.gz:{} s1_R2.fastq.gz:{}\ns2\ts2.fastq.gz:{}\n",
            ids[0], ids[1], ids[2]
        )
    );
    // The user completes the metadata.
    let done: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| format!("{l}\t{}\n", if i == 0 { "country" } else { "CH" }))
        .collect();
    std::fs::write(&template, done).unwrap();
    s.wait_text("[data-testid=wizard-organism]", "with files", 10);
    s.run_async(
        "const [done] = arguments; const sel = document.querySelector('[data-testid=wizard-organism]');\
         sel.value = 'dummy-organism-with-files'; sel.dispatchEvent(new Event('change', {bubbles: true})); done(sel.value);",
        json!([]),
    );
    s.click(&s.wait_for("[data-testid=wizard-review]:not([disabled])", 5));
    s.click(&s.wait_for("[data-testid=wizard-upload]:not([disabled])", 10));
    s.click(&s.wait_for("[data-testid=wizard-submit]:not([disabled])", 20));
    s.wait_text("[data-testid=wizard-done]", "2 submissions accepted", 30);
    s.screenshot("submit-these");
    let st = sim.state();
    assert_eq!(
        st["files"].as_array().unwrap().len(),
        3,
        "nothing was uploaded again"
    );
    let subs = st["submissions"].as_array().unwrap();
    let held: Vec<(String, Vec<String>)> = subs
        .iter()
        .map(|x| {
            (
                x["submission_id"].as_str().unwrap().to_string(),
                x["files"]["rawReads"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p[1].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        held,
        vec![
            ("s1".to_string(), vec![ids[0].clone(), ids[1].clone()]),
            ("s2".to_string(), vec![ids[2].clone()]),
        ]
    );
}
