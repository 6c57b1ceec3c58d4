//! The desktop app in a real window (Xvfb), driven through tauri-driver and
//! WebKitWebDriver: sign-in to the built-in demo portal, files delivered as
//! a drop delivers them, per-part strips while sending, green checks, the
//! bytes read back from the simulator's storage, and a name the portal
//! rejects shown with its message. Screenshots go to tests/artifacts/.
//!
//! Needs a display, `tauri-driver` and `WebKitWebDriver` on PATH and the
//! built app: `tests/run-all.sh` provides all of them and runs
//! `cargo nextest run -p ferry-e2e --run-ignored only -E 'binary(gui)'`
//! under `xvfb-run`.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `tauri-driver`, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        let native = free_port();
        let child = Command::new("tauri-driver")
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .env("FERRY_E2E", "1")
            // WebKitGTK draws nothing under Xvfb with compositing on.
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tauri-driver on PATH (cargo install tauri-driver --locked)");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tauri-driver did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver { child, url }
    }
}

/// One WebDriver session (the app's window), deleted on drop.
struct Session {
    http: reqwest::blocking::Client,
    base: String,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.base).send();
    }
}

impl Session {
    fn new(driver: &Driver, app: &Path) -> Session {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "tauri:options": {"application": app}
        }}});
        let r: Value = http
            .post(format!("{}/session", driver.url))
            .json(&caps)
            .send()
            .and_then(|r| r.json())
            .expect("new session");
        let id = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_string();
        Session {
            http,
            base: format!("{}/session/{id}", driver.url),
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "GET" => self.http.get(&url),
            _ => self.http.post(&url).json(&body),
        };
        let v: Value = req.send().and_then(|r| r.json()).expect("webdriver");
        if v["value"].get("error").is_some() {
            panic!("{method} {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        self.cmd(
            "POST",
            "/elements",
            json!({"using": "css selector", "value": css}),
        )
        .as_array()
        .unwrap_or_else(|| panic!("find {css}: not a list"))
        .iter()
        .map(|e| {
            e[ELEMENT]
                .as_str()
                .unwrap_or_else(|| panic!("find {css}: {e}"))
                .to_string()
        })
        .collect()
    }

    fn wait_for(&self, css: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(e) = self.find_all(css).into_iter().next() {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "{css} did not appear in {secs} s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn text(&self, el: &str) -> String {
        self.cmd("GET", &format!("/element/{el}/text"), Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn prop(&self, el: &str, name: &str) -> String {
        self.cmd(
            "GET",
            &format!("/element/{el}/property/{name}"),
            Value::Null,
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    fn attr(&self, el: &str, name: &str) -> String {
        self.cmd(
            "GET",
            &format!("/element/{el}/attribute/{name}"),
            Value::Null,
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    fn click(&self, el: &str) {
        self.cmd("POST", &format!("/element/{el}/click"), json!({}));
    }

    fn run_async(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/async",
            json!({"script": script, "args": args}),
        )
    }

    /// A PNG of the app's window as X shows it (WebKitWebDriver's own
    /// screenshot hangs with compositing off, which Xvfb needs).
    fn screenshot(&self, name: &str) {
        let dir = artifacts();
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join(format!("{name}.png"));
        let win = Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", "^Ferry$"])
            .output()
            .expect("xdotool");
        let id = String::from_utf8_lossy(&win.stdout)
            .lines()
            .next()
            .unwrap_or("root")
            .to_string();
        let ok = Command::new("import")
            .args(["-window", &id])
            .arg(&out)
            .status()
            .expect("import (imagemagick)");
        assert!(ok.success(), "screenshot {name}");
    }

    /// Paths delivered exactly as a drop on the window delivers them.
    fn drop_paths(&self, paths: &[PathBuf]) -> Value {
        self.run_async(
            "const [paths, done] = arguments;\
             window.__TAURI_INTERNALS__.invoke('e2e_drop', {paths})\
               .then(r => done(r), e => done({error: String(e)}));",
            json!([paths]),
        )
    }
}

fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts")
}

fn app_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("FERRY_APP_BIN") {
        return PathBuf::from(p);
    }
    ferry_e2e::bin("ferry-app")
}

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

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver and the built app: tests/run-all.sh runs it"]
fn upload_in_a_real_window() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("sample01_R1.fastq.gz");
    let mut expect = vec![(
        "sample01_R1.fastq.gz",
        write_file(&big, 40 * 1024 * 1024 + 123, 1),
        40 * 1024 * 1024 + 123,
    )];
    let folder = dir.path().join("run42");
    std::fs::create_dir_all(folder.join("qc")).unwrap();
    std::fs::create_dir_all(folder.join(".cache")).unwrap();
    for (i, (name, size)) in [
        ("run42_R1.fastq", 300_000usize),
        ("run42_R2.fastq", 1_000_000),
        ("qc/report.html", 20_000),
        ("qc/summary.tsv", 1),
    ]
    .into_iter()
    .enumerate()
    {
        let p = folder.join(name);
        let sha = write_file(&p, size, 10 + i as u8);
        expect.push((
            Path::new(name)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
                .leak(),
            sha,
            size,
        ));
    }
    std::fs::write(folder.join(".DS_Store"), b"hidden").unwrap();
    std::fs::write(folder.join(".cache/x.fastq"), b"hidden").unwrap();
    let spaced = dir.path().join("sample 02.fastq");
    std::fs::write(&spaced, b"@r\nACGT\n+\nIIII\n").unwrap();
    let colon = dir.path().join("sample:03.fastq");
    std::fs::write(&colon, b"@r\nACGT\n+\nIIII\n").unwrap();

    let driver = Driver::start();
    let s = Session::new(&driver, &app_binary());
    let started = Instant::now();

    // Signed in to the demo portal on its own.
    let user = s.wait_for("[data-testid=user]", 30);
    eprintln!("window up and signed in after {:?}", started.elapsed());
    assert_eq!(s.text(&user), "demo");
    let backend = s.text(&s.wait_for("[data-testid=backend]", 5));
    assert!(backend.starts_with("http://127.0.0.1:"), "{backend}");
    s.wait_for("[data-testid=empty]", 5);
    s.screenshot("1-empty");

    // A file, a folder (recursive, dot-files skipped) and two bad names.
    let r = s.drop_paths(&[big.clone(), folder.clone(), spaced.clone(), colon.clone()]);
    assert_eq!(r["files"], 7, "{r}");
    assert_eq!(r["problems"], 2, "{r}");
    let notice = s.text(&s.wait_for("[data-testid=notice]", 5));
    assert!(notice.contains("Added 7 files"), "{notice}");
    assert!(notice.contains("2 with problems"), "{notice}");
    for bad in ["sample 02.fastq", "sample:03.fastq"] {
        let row = s.wait_for(&format!("[data-name=\"{bad}\"][data-status=invalid]"), 5);
        let _ = row;
    }
    let errors: Vec<String> = s
        .find_all("[data-testid=error]")
        .iter()
        .map(|e| s.prop(e, "textContent"))
        .collect();
    s.screenshot("4-error");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("may not contain whitespace")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("may not contain ':'")),
        "{errors:?}"
    );

    // Slow the storage down a little so the parts can be seen in flight.
    let http = reqwest::blocking::Client::new();
    http.post(format!("{backend}/_sim/faults"))
        .json(&json!({"target": "storage", "fault": {"kind": "stall", "millis": 2500}, "count": 4}))
        .send()
        .unwrap()
        .error_for_status()
        .unwrap();

    let upload = s.wait_for("[data-testid=upload]", 5);
    s.click(&upload);
    s.wait_for(
        "[data-name=\"sample01_R1.fastq.gz\"] [data-state=sending]",
        20,
    );
    let segs = s.find_all("[data-name=\"sample01_R1.fastq.gz\"] .seg");
    assert_eq!(segs.len(), 6, "40 MiB in 8 MiB parts");
    s.screenshot("2-uploading");

    // Every good file gets its green check.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let done = s.find_all("[data-status=done] [data-testid=check]").len();
        if done == expect.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {done} of {} accepted",
            expect.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(s.find_all("[data-status=invalid]").len(), 2);
    std::thread::sleep(Duration::from_millis(300));
    s.screenshot("3-done");

    // The simulator's storage holds exactly the bytes of each file.
    for (name, sha, size) in &expect {
        let row = s.wait_for(&format!("[data-name=\"{name}\"][data-status=done]"), 5);
        assert_eq!(
            &s.attr(&row, "data-sha256"),
            sha,
            "{name}: engine's checksum"
        );
        let id = s.attr(&row, "data-remote-id");
        let obj: Value = http
            .get(format!("{backend}/_sim/object/{id}"))
            .send()
            .and_then(|r| r.json())
            .unwrap();
        assert_eq!(
            obj["sha256"].as_str(),
            Some(sha.as_str()),
            "{name}: stored bytes"
        );
        assert_eq!(
            obj["size"].as_u64(),
            Some(*size as u64),
            "{name}: stored size"
        );
    }
    let state: Value = http
        .get(format!("{backend}/_sim/state"))
        .send()
        .and_then(|r| r.json())
        .unwrap();
    let mut body = String::new();
    let _ = std::io::Cursor::new(state.to_string()).read_to_string(&mut body);
    assert!(!body.contains("sample 02"), "a rejected name was sent");
    eprintln!("GUI end-to-end took {:?}", t0.elapsed());
}
