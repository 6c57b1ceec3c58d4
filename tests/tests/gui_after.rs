//! After the green check, in a real window: every accepted row shows the
//! portal's id with a copy button; selected rows' **Copy ids** puts a TSV
//! of name, id, size and SHA-256 on the X clipboard (read back with
//! `xclip` on the test's own display); **Save receipt…** writes CSV and
//! JSON (the save dialog's answer given through FERRY_E2E_SAVE_AS, as a
//! test cannot type into a GTK dialog); and after a restart the
//! **History** lists the batch with its ids. Against a `ferry-sim` process
//! (the demo portal would not outlive the restart).

use ferry_e2e::sha;
use std::time::Duration;

use ferry_e2e::SimProc;
use ferry_e2e::webdriver::{Driver, Session, app_binary};

/// The X clipboard of `display`, as any other program there reads it.
/// Bounded wait: the app sets it on its main thread after the click.
fn clipboard(display: &str, want_lines: usize) -> String {
    let mut last = String::new();
    for _ in 0..50 {
        let out = std::process::Command::new("xclip")
            .args(["-o", "-selection", "clipboard"])
            .env("DISPLAY", display)
            .output()
            .expect("xclip (apt-get install xclip)");
        last = String::from_utf8_lossy(&out.stdout).into_owned();
        if last.lines().count() == want_lines {
            return last;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the clipboard holds {last:?}, not {want_lines} lines");
}

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver, xclip and the built app: tests/run-all.sh runs it"]
fn ids_are_shown_copied_and_receipted_and_the_history_survives_a_restart() {
    let sim = SimProc::start(&[]);
    let backend = sim.backend();
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ferry_e2e::make_file(dir.path(), "after_R1.fastq.gz", 6 * 1024 * 1024 + 5, 1),
        ferry_e2e::make_file(dir.path(), "after_R2.fastq.gz", 300_000, 2),
        ferry_e2e::make_file(dir.path(), "notes.fasta", 1234, 3),
    ];
    let journal = dir.path().join("journal.sqlite");
    let save_as = dir.path().join("saved").join("my-receipt.csv");
    std::fs::create_dir_all(save_as.parent().unwrap()).unwrap();
    let driver = Driver::start(&[
        ("FERRY_BACKEND", &backend),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
        ("FERRY_E2E_SAVE_AS", save_as.to_str().unwrap()),
    ]);
    let mut ids = Vec::new();
    {
        let s = Session::new(&driver, &app_binary());
        s.signed_in_as("demo", "demo");
        let r = s.drop_paths(&files);
        assert_eq!(r["files"], 3, "{r}");
        s.click(&s.wait_for("[data-testid=upload]:not([disabled])", 10));
        s.wait_checks(3, 90);
        // Each accepted row shows the portal's id, the one it holds.
        for f in &files {
            let name = f.file_name().unwrap().to_str().unwrap();
            let row = s.wait_for(&format!("[data-name=\"{name}\"][data-status=done]"), 5);
            let id = s.attr(&row, "data-remote-id");
            let shown = s.prop(
                &s.wait_for(&format!("[data-name=\"{name}\"] [data-testid=row-id]"), 5),
                "textContent",
            );
            assert_eq!(shown, id, "{name}: the id shown");
            ferry_e2e::assert_stored(&backend, &id, &sha(f), None, name);
            ids.push(id);
        }
        // One row's Copy button: its id alone.
        s.click(&s.wait_for("[data-name=\"notes.fasta\"] [data-testid=copy-id]", 5));
        let one = clipboard(&driver.display, 1);
        assert_eq!(one.trim(), ids[2]);
        // Two rows selected, Copy ids: a header and their two lines.
        for name in ["after_R1.fastq.gz", "after_R2.fastq.gz"] {
            s.click(&s.wait_for(&format!("[data-name=\"{name}\"] [data-testid=select]"), 5));
        }
        s.wait_text("[data-testid=copy-ids]", "Copy ids (2)", 5);
        s.click(&s.wait_for("[data-testid=copy-ids]", 5));
        let tsv = clipboard(&driver.display, 3);
        let lines: Vec<Vec<&str>> = tsv.lines().map(|l| l.split('\t').collect()).collect();
        assert_eq!(lines[0], ["name", "id", "size", "sha256"]);
        for (line, (f, id)) in lines[1..].iter().zip(files.iter().zip(&ids)) {
            assert_eq!(line[0], f.file_name().unwrap().to_str().unwrap());
            assert_eq!(line[1], id);
            assert_eq!(line[2], std::fs::metadata(f).unwrap().len().to_string());
            assert_eq!(line[3], sha(f));
        }
        s.screenshot("after-ids-copied");
        // Save receipt… of the two selected rows.
        s.click(&s.wait_for("[data-testid=save-receipt]", 5));
        s.wait_text("[data-testid=notice]", "Receipt of 2 files saved", 20);
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(save_as.with_extension("json")).unwrap())
                .unwrap();
        let csv = std::fs::read_to_string(save_as.with_extension("csv")).unwrap();
        let lines = json.as_array().unwrap();
        assert_eq!(lines.len(), 2, "{json}");
        for (line, (f, id)) in lines.iter().zip(files.iter().zip(&ids)) {
            assert_eq!(line["portal"], "loculus");
            assert_eq!(line["fileName"], f.file_name().unwrap().to_str().unwrap());
            assert_eq!(line["fileId"], id.as_str());
            assert_eq!(line["sha256"], sha(f));
            assert!(line["expiresAt"].as_str().unwrap().ends_with('Z'), "{line}");
            assert!(csv.contains(&format!("{id},")), "{csv}");
        }
    }
    // Restart: the history lists the batch with its three ids.
    let s = Session::new(&driver, &app_binary());
    s.signed_in_as("demo", "demo");
    s.click(&s.wait_for("[data-testid=history-open]", 10));
    let batch = s.wait_for("[data-testid=history-batch]", 10);
    assert_eq!(s.attr(&batch, "data-portal"), "loculus");
    let listed: Vec<String> = s
        .find_all("[data-testid=history-file]")
        .iter()
        .map(|e| s.attr(e, "data-id"))
        .collect();
    assert_eq!(listed, ids);
    let days = s.wait_for("[data-testid=history-days-left]", 5);
    assert_eq!(s.attr(&days, "data-days"), "7");
    s.screenshot("history");
    // Search by id narrows it; a name that is not there empties it.
    let search = s.wait_for("[data-testid=history-search]", 5);
    s.type_text(&search, "no-such-file");
    s.wait_for("[data-testid=history-empty]", 10);
}
