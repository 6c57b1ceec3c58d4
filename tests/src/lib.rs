//! Helpers for the cross-process tests: the built `ferry` and `ferry-sim`
//! binaries, a simulator process that stops when dropped, sample files.

pub mod webdriver;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// `target/<profile>/<name>`, found next to the running test binary.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} is not built; run `cargo build --workspace --bins` first (the README's test command does)",
        p.display()
    );
    p
}

/// A `ferry-sim` process on loopback, killed on drop. Its stored objects
/// live in a folder of the test's own, removed after the kill (a killed
/// simulator cannot remove its own).
pub struct SimProc {
    child: Child,
    pub info: serde_json::Value,
    _data: tempfile::TempDir,
}

impl SimProc {
    pub fn start(args: &[&str]) -> SimProc {
        let data = tempfile::tempdir().expect("a folder for the simulator's objects");
        let mut child = Command::new(bin("ferry-sim"))
            .args(args)
            .arg("--data-dir")
            .arg(data.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .stdin(Stdio::piped())
            .spawn()
            .expect("ferry-sim starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("ferry-sim prints its URLs");
        let info: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("ferry-sim's first line is JSON ({e}): {line}"));
        SimProc {
            child,
            info,
            _data: data,
        }
    }

    pub fn backend(&self) -> String {
        self.info["backend"].as_str().expect("backend").to_string()
    }

    pub fn token(&self) -> String {
        self.info["token"].as_str().expect("token").to_string()
    }

    /// `GET /_sim/state`.
    pub fn state(&self) -> serde_json::Value {
        reqwest::blocking::get(format!("{}/_sim/state", self.backend()))
            .and_then(|r| r.json())
            .expect("sim state")
    }

    /// `ferry submit --backend <this sim> --group 1 --organism <organism>
    /// <args>`, with its token (the test journal, as [`ferry`]).
    pub fn submit(&self, organism: &str, args: &[&str]) -> Output {
        let backend = self.backend();
        let mut all = vec![
            "submit",
            "--backend",
            &backend,
            "--group",
            "1",
            "--organism",
            organism,
        ];
        all.extend_from_slice(args);
        ferry(&self.token(), &all)
    }

    /// `ferry upload --backend <this sim> --group 1 <args>`, with its token
    /// (the test journal, as [`ferry`]).
    pub fn upload(&self, args: &[&str]) -> Output {
        let backend = self.backend();
        let mut all = vec!["upload", "--backend", &backend, "--group", "1"];
        all.extend_from_slice(args);
        ferry(&self.token(), &all)
    }

    /// `ferry <global> upload --json --backend <this sim> --group 1 <file>`
    /// until the file's first part starts (then ferry is killed), ferry
    /// ends, or 90 s pass: whether a part started, and the events so far.
    pub fn upload_until_a_part_starts(
        &self,
        journal: &Path,
        global: &[&str],
        file: &Path,
    ) -> (bool, Vec<serde_json::Value>) {
        let backend = self.backend();
        let mut args = global.to_vec();
        args.extend(["upload", "--json", "--backend", &backend, "--group", "1"]);
        args.push(file.to_str().expect("UTF-8 path"));
        let mut child = self
            .ferry_cmd(journal, &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ferry");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        let mut events = Vec::new();
        let started = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let ev: serde_json::Value = serde_json::from_str(&line).expect("a JSON event");
                    let part = ev["event"] == "part_started";
                    events.push(ev);
                    if part {
                        break true;
                    }
                }
                Err(_) => break false,
            }
        };
        let _ = child.kill();
        let _ = child.wait();
        (started, events)
    }

    /// `ferry` with every portal's credential of this simulator in the
    /// environment (none on the command line), the journal `journal` and no
    /// standard input.
    pub fn ferry_cmd(&self, journal: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(bin("ferry"));
        c.args(args)
            .env("FERRY_TOKEN", self.token())
            .env(
                "FERRY_ONECODEX_API_KEY",
                self.info["onecodex_api_key"]
                    .as_str()
                    .expect("onecodex_api_key"),
            )
            .env(
                "FERRY_BASESPACE_TOKEN",
                self.info["basespace_token"]
                    .as_str()
                    .expect("basespace_token"),
            )
            .env("FERRY_JOURNAL", journal)
            .stdin(Stdio::null());
        c
    }

    /// The SHA-256 of the Loculus file `file_id` the storage holds (empty
    /// when it holds none).
    pub fn object_sha(&self, file_id: &str) -> String {
        get_json(&format!("{}/_sim/object/{file_id}", self.backend()))["sha256"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The SHA-256 of the object the storage holds under `key` (any
    /// portal's; empty when it holds none).
    pub fn stored_sha(&self, key: &str) -> String {
        get_json(&format!("{}/_sim/stored?key={key}", self.backend()))["sha256"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Part numbers the storage acknowledged for `file_id` ([`parts_stored`]).
    pub fn parts_stored(&self, file_id: &str) -> Vec<u64> {
        parts_stored(&self.backend(), file_id)
    }

    /// `POST /_sim/faults`.
    pub fn fault(&self, body: serde_json::Value) {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/_sim/faults", self.backend()))
            .json(&body)
            .send()
            .expect("set fault");
        assert!(r.status().is_success(), "fault accepted: {}", r.status());
    }
}

impl Drop for SimProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A program's output as text (lossy UTF-8), for messages and asserts.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Run `ferry` with the token in the environment (never on the command line)
/// and a journal of this test process's own.
pub fn ferry(token: &str, args: &[&str]) -> Output {
    Command::new(bin("ferry"))
        .args(args)
        .env("FERRY_TOKEN", token)
        .env("FERRY_JOURNAL", test_journal())
        .stdin(Stdio::null())
        .output()
        .expect("ferry runs")
}

/// What the Secret Service holds for Ferry's keychain `account` (as the
/// desktop app and `ferry login` name it), read with `secret-tool` as any
/// other program on the desktop would.
pub fn keychain_entry(account: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "org.ferry.app", "username", account])
        .output()
        .expect("secret-tool (apt-get install libsecret-tools)");
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

/// The same entry parsed: a kept sign-in or key is JSON.
pub fn keychain_json(account: &str) -> Option<serde_json::Value> {
    keychain_entry(account).map(|s| serde_json::from_str(&s).expect("a kept sign-in is JSON"))
}

/// A file of `size` pseudo-random bytes.
pub fn make_file(dir: &Path, name: &str, size: usize, seed: u8) -> PathBuf {
    let p = dir.join(name);
    let data: Vec<u8> = (0..size)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .rotate_left(seed as u32 % 31) as u8
                ^ seed
        })
        .collect();
    std::fs::write(&p, data).expect("write sample");
    p
}

/// A journal path private to this test process.
pub fn test_journal() -> PathBuf {
    std::env::temp_dir().join(format!("ferry-test-journal-{}.sqlite", std::process::id()))
}

/// `POST {backend}/_sim/faults` (a simulator in this process or the app's).
pub fn set_fault(backend: &str, body: serde_json::Value) {
    let r = reqwest::blocking::Client::new()
        .post(format!("{backend}/_sim/faults"))
        .json(&body)
        .send()
        .expect("set fault");
    assert!(r.status().is_success(), "fault accepted: {}", r.status());
}

/// `DELETE {backend}/_sim/faults`: no fault is pending any more.
pub fn clear_faults(backend: &str) {
    let r = reqwest::blocking::Client::new()
        .delete(format!("{backend}/_sim/faults"))
        .send()
        .expect("clear faults");
    assert!(r.status().is_success(), "faults cleared: {}", r.status());
}

/// Part numbers the storage acknowledged (200) for a Loculus `file_id`,
/// in the order its log has them.
pub fn parts_stored(backend: &str, file_id: &str) -> Vec<u64> {
    let state: serde_json::Value = reqwest::blocking::get(format!("{backend}/_sim/state"))
        .and_then(|r| r.json())
        .expect("sim state");
    state["storage_log"]
        .as_array()
        .expect("storage_log")
        .iter()
        .filter(|r| r["method"] == "PUT" && r["status"] == 200)
        .filter(|r| r["path"].as_str().unwrap_or_default().contains(file_id))
        .filter_map(|r| {
            r["query"]
                .as_str()?
                .split('&')
                .find_map(|kv| kv.strip_prefix("partNumber="))?
                .parse()
                .ok()
        })
        .collect()
}

/// Part numbers a journal acknowledged for the upload `file_id`: what a
/// resume must never send again (read while the app may still hold the
/// journal open; SQLite's WAL allows that).
pub fn journal_acked_parts(journal: &Path, file_id: &str) -> std::collections::BTreeSet<u64> {
    let c = rusqlite::Connection::open(journal)
        .unwrap_or_else(|e| panic!("journal {}: {e}", journal.display()));
    let mut st = c
        .prepare("SELECT part FROM parts WHERE remote_id = ?1")
        .expect("the journal's parts table");
    st.query_map([file_id], |r| r.get::<_, u64>(0))
        .expect("journal parts")
        .collect::<Result<_, _>>()
        .expect("journal parts")
}

/// Whether the simulator's storage holds an object for `file_id`.
pub fn is_stored(backend: &str, file_id: &str) -> bool {
    let r = reqwest::blocking::get(format!("{backend}/_sim/object/{file_id}")).expect("sim object");
    match r.status().as_u16() {
        200 => true,
        404 => false,
        s => panic!("/_sim/object/{file_id}: {s}"),
    }
}

/// GETs `url` and parses its JSON answer (the simulator's `/_sim/*`).
pub fn get_json(url: &str) -> serde_json::Value {
    reqwest::blocking::get(url)
        .and_then(|r| r.json())
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// Lowercase hex SHA-256 of a file's bytes: what the tests compare with
/// what a portal stored or a front-end printed.
pub fn sha(p: &Path) -> String {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    hex::encode(h.finalize())
}

/// Asserts what the simulator's storage holds for a Loculus `file_id`:
/// exactly `sha256` (and `size`, when given). `what` names it in failures.
pub fn assert_stored(backend: &str, file_id: &str, sha256: &str, size: Option<u64>, what: &str) {
    let obj: serde_json::Value = reqwest::blocking::get(format!("{backend}/_sim/object/{file_id}"))
        .and_then(|r| r.json())
        .unwrap_or_else(|e| panic!("{what}: no stored object {file_id}: {e}"));
    assert_eq!(obj["sha256"].as_str(), Some(sha256), "{what}: stored bytes");
    if let Some(size) = size {
        assert_eq!(obj["size"].as_u64(), Some(size), "{what}: stored size");
    }
}

// The uplink probe: sparse files too big for an unmeasured uplink, and
// what the simulator saw of the test uploads.

/// A mebibyte.
pub const MIB: u64 = 1024 * 1024;

/// A sparse file of `gib` GiB: planned and refused (or started) without
/// being read.
pub fn sparse(dir: &std::path::Path, name: &str, gib: u64) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p)
        .unwrap()
        .set_len(gib * 1024 * MIB)
        .unwrap();
    p
}

/// The test uploads' PUTs the storage answered: their sizes, in order.
pub fn probe_puts(state: &serde_json::Value, ids: &[String]) -> Vec<u64> {
    state["storage_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["method"] == "PUT"
                && ids
                    .iter()
                    .any(|id| r["path"].as_str().unwrap().ends_with(id.as_str()))
        })
        .map(|r| {
            assert_eq!(r["status"], 200, "{r}");
            r["body_bytes"].as_u64().unwrap()
        })
        .collect()
}

/// The fileIds of the single uploads the sim handed out (the test uploads:
/// no real file of these jobs is small enough for one).
pub fn single_ids(state: &serde_json::Value) -> Vec<String> {
    state["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["multipart"] == false)
        .map(|f| f["file_id"].as_str().unwrap().to_string())
        .collect()
}

/// The rate in MB/s of the "…: the uplink measured X MB/s" warning among
/// `lines` (events' messages or stderr lines), if one came.
pub fn measured_rate(lines: &[&str]) -> Option<f64> {
    lines
        .iter()
        .find_map(|w| w.split("the uplink measured ").nth(1))
        .and_then(|r| r.split(" MB/s").next())
        .and_then(|r| r.parse::<f64>().ok())
}

/// Sends `sig` (e.g. "INT", "TERM") to process `pid` with kill(1), then
/// waits up to `limit` for `child` to end: its exit status, or `None` if
/// it did not end in time (it is then killed).
pub fn signal_and_wait(
    child: &mut Child,
    sig: &str,
    limit: std::time::Duration,
) -> Option<std::process::ExitStatus> {
    let sent = Command::new("kill")
        .args([format!("-{sig}"), child.id().to_string()])
        .status()
        .expect("kill(1)");
    assert!(sent.success(), "kill -{sig} failed");
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
