//! The Watched folders panel in a real window (Xvfb, tauri-driver,
//! WebKitWebDriver): a folder is added, a sequencer writes a run into it
//! (reads first, the completion marker last), the run's line goes from
//! waiting to a green check, the demo portal holds the bytes, and the
//! folder is kept in the settings file and watched again after a restart
//! (the run is not sent twice). Screenshots go to tests/artifacts/.

use std::path::Path;

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

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn a_watched_folder_sends_a_finished_run_and_shows_a_green_check() {
    let dir = tempfile::tempdir().unwrap();
    let watched = dir.path().join("MiSeqOutput");
    std::fs::create_dir(&watched).unwrap();
    let journal = dir.path().join("journal.sqlite");
    let config = dir.path().join("config.toml");
    let env = [
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
        ("FERRY_CONFIG", config.to_str().unwrap()),
        ("FERRY_WATCH_CHECK_INTERVAL", "1s"),
    ];
    let driver = Driver::start(&env);
    let s = Session::new(&driver, &app_binary());
    s.wait_signed_in(60);
    let backend = s.text(&s.wait_for("[data-testid=backend]", 5));
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
    let s = Session::new(&driver, &app_binary());
    s.wait_signed_in(60);
    let backend = s.text(&s.wait_for("[data-testid=backend]", 5));
    s.wait_for("[data-testid=watch-folder][data-paused=false]", 10);
    // The closed app's folder lock goes with its process, which a loaded
    // machine may take a while to end; the new watcher retries every 2 s.
    s.wait_for("[data-testid=watch-run][data-state=done]", 90);
    assert_eq!(state(&backend)["files"].as_array().unwrap().len(), 0);
}
