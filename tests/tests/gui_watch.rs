//! The Watched folders panel in a real window (Xvfb, tauri-driver,
//! WebKitWebDriver): a folder is added, a sequencer writes a run into it
//! (reads first, the completion marker last), the run's line goes from
//! waiting to a green check, the demo portal holds the bytes, and the
//! folder is kept in the settings file and watched again after a restart
//! (the run is not sent twice). A folder dropped on the panel is watched
//! with the group and organism chosen there (a dropped file is refused
//! with a message); its run folder, a submission batch, waits with its
//! linkage report until fixed and **Check again**, then is submitted once;
//! a folder's own group is the one its runs go to. Screenshots go to
//! tests/artifacts/.

use std::path::{Path, PathBuf};

use ferry_e2e::webdriver::{Driver, Session, app_binary};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn write_file(path: &Path, size: usize, seed: u8) -> String {
    let mut data = vec![0u8; size];
    let mut x = seed as u32 | 1;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    std::fs::write(path, &data).unwrap();
    hex::encode(Sha256::digest(&data))
}

fn add_watch(s: &Session, dir: &Path) {
    let r = s.run_async(
        "const [path, done] = arguments;\
         window.__TAURI_INTERNALS__.invoke('e2e_watch_add', {path})\
           .then(() => done('ok'), e => done('error: ' + e));",
        json!([dir]),
    );
    assert_eq!(r, "ok", "{r}");
}

fn state(backend: &str) -> Value {
    reqwest::blocking::get(format!("{backend}/_sim/state"))
        .unwrap()
        .json()
        .unwrap()
}

/// The app's folders: a temporary folder holding the watched folder
/// (empty), the journal and the settings file; and the driver of windows
/// that use them, checking watched files every second.
struct AppFolders {
    dir: tempfile::TempDir,
    watched: PathBuf,
    config: PathBuf,
    driver: Driver,
}

impl AppFolders {
    /// The watched folder named `name`; `extra`: more environment.
    fn start(name: &str, extra: &[(&str, &str)]) -> AppFolders {
        let dir = tempfile::tempdir().unwrap();
        let watched = dir.path().join(name);
        std::fs::create_dir(&watched).unwrap();
        let journal = dir.path().join("journal.sqlite");
        let config = dir.path().join("config.toml");
        let mut env = vec![
            ("FERRY_JOURNAL", journal.to_str().unwrap()),
            ("FERRY_CONFIG", config.to_str().unwrap()),
            ("FERRY_WATCH_CHECK_INTERVAL", "1s"),
        ];
        env.extend_from_slice(extra);
        let driver = Driver::start(&env);
        AppFolders {
            dir,
            watched,
            config,
            driver,
        }
    }
}

/// A window signed in to the demo portal, and that portal's backend.
fn open_signed_in(driver: &Driver) -> (Session, String) {
    let s = Session::new(driver, &app_binary());
    s.wait_signed_in(60);
    let backend = s.text(&s.wait_for("[data-testid=backend]", 5));
    (s, backend)
}

/// The SHA-256 of each uploaded file's stored bytes (the sim's `files`),
/// sorted.
fn stored_shas(backend: &str, uploaded: &[Value]) -> Vec<String> {
    let mut stored: Vec<String> = uploaded
        .iter()
        .map(|f| {
            let id = f["file_id"].as_str().unwrap();
            let o: Value = reqwest::blocking::get(format!("{backend}/_sim/object/{id}"))
                .unwrap()
                .json()
                .unwrap();
            o["sha256"].as_str().unwrap().to_string()
        })
        .collect();
    stored.sort();
    stored
}

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn a_watched_folder_sends_a_finished_run_and_shows_a_green_check() {
    let AppFolders {
        dir: _dir,
        watched,
        config,
        driver,
    } = AppFolders::start("MiSeqOutput", &[]);
    let (s, backend) = open_signed_in(&driver);
    s.wait_for("[data-testid=watch-panel]", 5);
    add_watch(&s, &watched);
    s.wait_for("[data-testid=watch-folder]", 10);
    let kept = std::fs::read_to_string(&config).unwrap();
    assert!(kept.contains("[[watch]]"), "{kept}");

    // The instrument writes its run: no marker yet, nothing is sent.
    let run = watched.join("260102_M00001_0042_000000000-ABCDE");
    let fastq = run.join("Data/Intensities/BaseCalls");
    std::fs::create_dir_all(&fastq).unwrap();
    std::fs::write(run.join("RunInfo.xml"), "<RunInfo/>").unwrap();
    let files = [
        ("S1_S1_L001_R1_001.fastq.gz", 12 * 1024 * 1024 + 7),
        ("S1_S1_L001_R2_001.fastq.gz", 300_000),
    ];
    let shas: Vec<String> = files
        .iter()
        .enumerate()
        .map(|(i, (n, size))| write_file(&fastq.join(n), *size, i as u8 + 3))
        .collect();
    s.wait_for("[data-testid=watch-run][data-state=waiting]", 30);
    s.screenshot("watch-1-waiting");
    assert_eq!(state(&backend)["files"].as_array().unwrap().len(), 0);

    std::fs::write(run.join("CopyComplete.txt"), "").unwrap();
    s.wait_for("[data-testid=watch-run][data-state=done]", 180);
    s.screenshot("watch-2-done");

    // The portal holds the run's bytes, each file once.
    let st = state(&backend);
    let uploaded = st["files"].as_array().unwrap();
    assert_eq!(uploaded.len(), 2, "{st}");
    let stored = stored_shas(&backend, uploaded);
    let mut want = shas.clone();
    want.sort();
    assert_eq!(stored, want, "the stored bytes are the run's");

    // Pause, then resume: the run is not sent again.
    s.click(&s.wait_for("[data-testid=watch-pause]", 5));
    s.wait_for("[data-testid=watch-folder][data-paused=true]", 10);
    let kept = std::fs::read_to_string(&config).unwrap();
    assert!(kept.contains("paused = true"), "{kept}");
    s.click(&s.wait_for("[data-testid=watch-pause]", 5));
    s.wait_for("[data-testid=watch-folder][data-paused=false]", 10);
    s.wait_for("[data-testid=watch-run][data-state=done]", 60);
    assert_eq!(state(&backend)["files"].as_array().unwrap().len(), 2);

    // Closed and started again: the folder comes back from the settings
    // and is watched at once; its run is known as sent (the journal), so
    // the new demo portal gets nothing.
    drop(s);
    let (s, backend) = open_signed_in(&driver);
    s.wait_for("[data-testid=watch-folder][data-paused=false]", 10);
    // The closed app's folder lock goes with its process, which a loaded
    // machine may take a while to end; the new watcher retries every 2 s.
    s.wait_for("[data-testid=watch-run][data-state=done]", 90);
    assert_eq!(state(&backend)["files"].as_array().unwrap().len(), 0);
}

/// A drop at the middle of the Watched folders panel, as the window's drop
/// handler gets it.
fn drop_on_panel(s: &Session, paths: &[&Path]) -> Value {
    s.run_async(
        "const [paths, done] = arguments;\
         const r = document.querySelector('[data-testid=watch-panel]').getBoundingClientRect();\
         const at = [r.left + r.width / 2, r.top + r.height / 2];\
         window.__TAURI_INTERNALS__.invoke('e2e_drop', {paths, at})\
           .then(r => done(r), e => done({error: String(e)}));",
        json!([paths]),
    )
}

/// Picks the option whose text contains `text` in the select `css`.
fn choose(s: &Session, css: &str, text: &str) {
    let r = s.run_async(
        "const [css, text, done] = arguments; const sel = document.querySelector(css);\
         const i = [...sel.options].findIndex(o => o.textContent.includes(text));\
         if (i < 0) return done('no option ' + text);\
         sel.selectedIndex = i; sel.dispatchEvent(new Event('change', {bubbles: true})); done('ok');",
        json!([css, text]),
    );
    assert_eq!(r, "ok", "{css}: {text}");
}

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn a_folder_dropped_on_the_panel_submits_its_runs_as_batches_once_their_report_is_clean() {
    let AppFolders {
        dir,
        watched,
        config,
        driver,
    } = AppFolders::start("Batches", &[("FERRY_WATCH_QUIET_PERIOD", "2s")]);
    let (s, backend) = open_signed_in(&driver);
    // Signed in to Loculus: the panel offers the user's groups and what a
    // finished run becomes.
    s.wait_for("[data-testid=watch-group]", 30);
    s.wait_for(
        "[data-testid=watch-submit] option[value=dummy-organism-with-files]",
        30,
    );
    choose(
        &s,
        "[data-testid=watch-submit]",
        "Test organism (with files)",
    );

    // A file dropped on the panel is not watched, and the panel says why.
    let stray = ferry_e2e::make_file(dir.path(), "reads.fastq", 1000, 1);
    let r = drop_on_panel(&s, &[&stray]);
    assert_eq!(
        r["files"], 0,
        "a file dropped on the panel is not queued: {r}"
    );
    let said = s.wait_text("[data-testid=watch-notice]", "is a file, not a folder", 10);
    assert!(said.contains("reads.fastq"), "{said}");
    assert!(s.find_all("[data-testid=watch-folder]").is_empty());

    // A folder dropped on the panel is watched, for the group and organism
    // chosen, and kept so.
    drop_on_panel(&s, &[&watched]);
    s.wait_for("[data-testid=watch-folder]", 10);
    let dest = s.text(&s.wait_for("[data-testid=watch-dest]", 5));
    assert!(dest.contains("Demo Lab (1)"), "{dest}");
    assert!(dest.contains("dummy-organism-with-files"), "{dest}");
    let kept = std::fs::read_to_string(&config).unwrap();
    assert!(
        kept.contains("submit = \"dummy-organism-with-files\"") && kept.contains("group = 1"),
        "{kept}"
    );

    // A batch whose metadata names reads that are not there yet: it waits
    // and shows its linkage report; nothing is sent.
    let run = watched.join("batch-1");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(
        run.join("metadata.tsv"),
        "submissionId\tcountry\tfiles.rawReads\ns1\tCH\ts1_R1.fastq\ns2\tDE\ts2_R1.fastq\n",
    )
    .unwrap();
    let s1 = ferry_e2e::make_file(&run, "s1_R1.fastq", 4_000, 2);
    s.wait_for("[data-testid=watch-run][data-state=attention]", 120);
    let report = s.wait_text("[data-testid=watch-detail]", "s2_R1.fastq", 10);
    assert!(report.contains("linkage report"), "{report}");
    s.screenshot("watch-3-batch-waits");
    let st = state(&backend);
    assert_eq!(st["submissions"].as_array().unwrap().len(), 0, "{st}");
    assert_eq!(st["files"].as_array().unwrap().len(), 0, "{st}");

    // Fixed, then Check again: submitted once, its reads on the portal.
    let s2 = ferry_e2e::make_file(&run, "s2_R1.fastq", 5_000, 3);
    s.click(&s.wait_for("[data-testid=watch-check]", 5));
    s.wait_for("[data-testid=watch-run][data-state=done]", 180);
    s.screenshot("watch-4-batch-submitted");
    let st = state(&backend);
    let subs = st["submissions"].as_array().unwrap();
    assert_eq!(subs.len(), 2, "two rows, submitted once: {st}");
    for sub in subs {
        assert_eq!(sub["group_id"], 1, "{sub}");
        assert_eq!(sub["organism"], "dummy-organism-with-files", "{sub}");
    }
    let stored = stored_shas(&backend, st["files"].as_array().unwrap());
    let mut want = vec![ferry_e2e::sha(&s1), ferry_e2e::sha(&s2)];
    want.sort();
    assert_eq!(stored, want, "the stored bytes are the batch's reads");
    assert!(
        run.join("ferry-receipt.csv").exists(),
        "the receipt is in the run"
    );

    // A folder's own group is where its runs go: the demo user is not in
    // group 2, so the portal refuses, and the run's line says so.
    let other = dir.path().join("OtherLab");
    std::fs::create_dir_all(other.join("reads-1")).unwrap();
    ferry_e2e::make_file(&other.join("reads-1"), "x_R1.fastq", 3_000, 4);
    let r = s.run_async(
        "const [path, done] = arguments;\
         window.__TAURI_INTERNALS__.invoke('e2e_watch_add', {path, group: 2})\
           .then(() => done('ok'), e => done('error: ' + e));",
        json!([other]),
    );
    assert_eq!(r, "ok", "{r}");
    let sel = format!("[data-testid=watch-folder][data-dir='{}']", other.display());
    s.wait_text(&format!("{sel} [data-testid=watch-dest]"), "group 2", 10);
    s.wait_for(
        &format!("{sel} [data-testid=watch-run][data-state=attention]"),
        120,
    );
    s.wait_text(
        &format!("{sel} [data-testid=watch-detail]"),
        "not a member",
        10,
    );
    assert_eq!(state(&backend)["submissions"].as_array().unwrap().len(), 2);
}
