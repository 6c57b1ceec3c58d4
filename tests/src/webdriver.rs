//! Driving the desktop app in a real window: `tauri-driver` (with
//! WebKitWebDriver) started on free ports, one W3C WebDriver session per
//! app launch, screenshots of the window as X shows it.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `tauri-driver`, killed on drop.
pub struct Driver {
    child: Child,
    pub url: String,
    /// The X display the apps it starts show on (`:N`).
    pub display: String,
    _x: Xvfb,
    /// TMPDIR of the apps it starts (their demo portal's objects): removed
    /// after tauri-driver and its apps are stopped.
    _tmp: tempfile::TempDir,
}

impl Drop for Driver {
    /// Stops tauri-driver with the WebKitWebDriver and app it started (one
    /// process group), so no window outlives its test.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Resident memory (KiB) of every process this driver started
    /// (WebKitWebDriver, the app, its web content process), by name.
    pub fn rss_kib(&self) -> Vec<(String, u64)> {
        let mut parent = std::collections::HashMap::new();
        let mut status = std::collections::HashMap::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(st) = std::fs::read_to_string(e.path().join("status")) else {
                continue;
            };
            let field = |k: &str| {
                st.lines()
                    .find_map(|l| l.strip_prefix(k))
                    .map(|v| v.trim().to_string())
            };
            let ppid: u32 = field("PPid:").and_then(|v| v.parse().ok()).unwrap_or(0);
            let rss: u64 = field("VmRSS:")
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0);
            parent.insert(pid, ppid);
            status.insert(pid, (field("Name:").unwrap_or_default(), rss));
        }
        let ours = |mut pid: u32| {
            // Bounded walk up the process tree.
            for _ in 0..16 {
                match parent.get(&pid) {
                    Some(&p) if p == self.child.id() => return true,
                    Some(&p) if p > 1 => pid = p,
                    _ => return false,
                }
            }
            false
        };
        let mut out: Vec<(String, u64)> = status
            .iter()
            .filter(|(pid, _)| ours(**pid))
            .map(|(_, v)| v.clone())
            .collect();
        out.sort();
        out
    }

    /// `tauri-driver` on free ports; the apps it starts get `FERRY_E2E=1`
    /// and `env` (e.g. a journal of the test's own).
    pub fn start(env: &[(&str, &str)]) -> Driver {
        Driver::start_e2e(env, true)
    }

    /// As [`Driver::start`], but the apps run as a user's do: without
    /// `FERRY_E2E`, so no test-only command is granted.
    pub fn start_as_user(env: &[(&str, &str)]) -> Driver {
        Driver::start_e2e(env, false)
    }

    fn start_e2e(env: &[(&str, &str)], e2e: bool) -> Driver {
        let x = Xvfb::start();
        let display = x.name.clone();
        let tmp = tempfile::tempdir().expect("a TMPDIR for the apps");
        let port = free_port();
        let native = free_port();
        let child = Command::new("tauri-driver")
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .process_group(0)
            .env_remove("FERRY_E2E")
            .envs(e2e.then_some(("FERRY_E2E", "1")))
            .env("DISPLAY", &display)
            .env("TMPDIR", tmp.path())
            // A settings file of the test's own (none unless it writes
            // one), never the user's; `env` may name another.
            .env("FERRY_CONFIG", tmp.path().join("config.toml"))
            .env_remove("XAUTHORITY")
            .env_remove("WAYLAND_DISPLAY")
            .env("GDK_BACKEND", "x11")
            .envs(env.iter().copied())
            // WebKitGTK draws nothing under Xvfb with compositing on.
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tauri-driver on PATH (cargo install tauri-driver --locked)");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        // tauri-driver listens at once but proxies to the WebKitWebDriver
        // it starts: a session asked for before that one listens is cut
        // off (seen under load), so wait for both.
        for (p, who) in [(port, "tauri-driver"), (native, "WebKitWebDriver")] {
            while std::net::TcpStream::connect(("127.0.0.1", p)).is_err() {
                assert!(Instant::now() < deadline, "{who} did not listen");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Driver {
            child,
            url,
            display,
            _x: x,
            _tmp: tmp,
        }
    }
}

/// One WebDriver session (the app's window), deleted on drop.
pub struct Session {
    http: reqwest::blocking::Client,
    base: String,
    display: String,
    /// When the session (the app's start) was requested: cold starts are
    /// measured from here.
    pub requested: Instant,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.base).send();
    }
}

impl Session {
    pub fn new(driver: &Driver, app: &Path) -> Session {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "tauri:options": {"application": app}
        }}});
        let requested = Instant::now();
        // A request cut off before any answer (the native driver still
        // starting) is asked again, a bounded number of times.
        let mut tries = 0;
        let r: Value = loop {
            tries += 1;
            match http
                .post(format!("{}/session", driver.url))
                .json(&caps)
                .send()
                .and_then(|r| r.json())
            {
                Ok(v) => break v,
                Err(e) if tries < 4 && (e.is_request() || e.is_connect()) => {
                    eprintln!("new session, try {tries}: {e}; asking again");
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => panic!("new session: {e:?}"),
            }
        };
        let id = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_string();
        Session {
            http,
            base: format!("{}/session/{id}", driver.url),
            display: driver.display.clone(),
            requested,
        }
    }

    /// Waits until the window shows a signed-in user and returns the cold
    /// start: from the session request (the app's launch) until then.
    pub fn wait_signed_in(&self, secs: u64) -> Duration {
        self.wait_for("[data-testid=user]", secs);
        self.requested.elapsed()
    }

    pub fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
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

    pub fn find_all(&self, css: &str) -> Vec<String> {
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

    /// Waits until the first element matching `css` shows `want`; returns
    /// its text.
    pub fn wait_text(&self, css: &str, want: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(e) = self.find_all(css).into_iter().next() {
                let t = self.text(&e);
                if t.contains(want) {
                    return t;
                }
            }
            if Instant::now() > deadline {
                self.fail(format!("{css} never showed {want:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `n` files show their green check.
    pub fn wait_checks(&self, n: usize, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self
            .find_all("[data-status=done] [data-testid=check]")
            .len()
            < n
        {
            if Instant::now() > deadline {
                self.fail(format!("fewer than {n} files accepted"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Fails the test with a screenshot of the window, named after it.
    fn fail(&self, why: String) -> ! {
        let test = std::thread::current()
            .name()
            .unwrap_or("window")
            .replace("::", "-");
        let shot = format!("{test}-failed");
        self.screenshot(&shot);
        // What the window said went wrong, if anything.
        let said: Vec<String> = self
            .find_all("[data-testid=wizard-error], [data-testid=message]")
            .iter()
            .map(|e| self.text(e))
            .collect();
        panic!("{why}; the window says {said:?} (see tests/artifacts/{shot}.png)");
    }

    /// Parts (1-based) the window shows done for the file `name` (its
    /// row's strip segments whose `data-state` is `done`).
    pub fn done_parts(&self, name: &str) -> std::collections::BTreeSet<u64> {
        self.find_all(&format!("[data-name=\"{name}\"] .seg"))
            .iter()
            .enumerate()
            .filter(|(_, e)| self.attr(e, "data-state") == "done")
            .map(|(i, _)| i as u64 + 1)
            .collect()
    }

    pub fn wait_for(&self, css: &str, secs: u64) -> String {
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

    pub fn text(&self, el: &str) -> String {
        self.cmd("GET", &format!("/element/{el}/text"), Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn prop(&self, el: &str, name: &str) -> String {
        self.cmd(
            "GET",
            &format!("/element/{el}/property/{name}"),
            Value::Null,
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    pub fn attr(&self, el: &str, name: &str) -> String {
        self.cmd(
            "GET",
            &format!("/element/{el}/attribute/{name}"),
            Value::Null,
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Signed in already (the keychain remembered it), or sign in through
    /// the window's form.
    pub fn signed_in_as(&self, user: &str, password: &str) {
        // Wait until the window knows the session (the keychain may sign it in).
        self.wait_for("header[data-session=loaded]", 30);
        // Then either someone is signed in (the keychain's first sign-in
        // may still be going on, with no form meanwhile) or the form shows.
        let form = "[data-testid=sign-in] input[autocomplete=username]";
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.find_all("[data-testid=user]").is_empty() && self.find_all(form).is_empty() {
            if Instant::now() > deadline {
                self.screenshot("signed-in-as-failed");
                panic!(
                    "neither signed in nor a sign-in form after 30 s (tests/artifacts/signed-in-as-failed.png)"
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !self.find_all("[data-testid=user]").is_empty() {
            return;
        }
        let u = self.wait_for(form, 5);
        self.type_text(&u, user);
        let pw = self.wait_for("[data-testid=sign-in] input[type=password]", 5);
        self.type_text(&pw, password);
        self.click(&self.wait_for("[data-testid=sign-in] button.primary", 5));
        self.wait_for("[data-testid=user]", 20);
    }

    /// Type `text` into an input.
    pub fn type_text(&self, el: &str, text: &str) {
        self.cmd(
            "POST",
            &format!("/element/{el}/value"),
            json!({"text": text}),
        );
    }

    pub fn click(&self, el: &str) {
        self.cmd("POST", &format!("/element/{el}/click"), json!({}));
    }

    pub fn run_async(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/async",
            json!({"script": script, "args": args}),
        )
    }

    /// Sets an input's value as typing does (Svelte's bindings listen to
    /// `input`), replacing what it held.
    pub fn fill(&self, css: &str, text: &str) {
        self.wait_for(css, 5);
        self.run_async(
            "const [css, text, done] = arguments; const e = document.querySelector(css);\
             e.value = text; e.dispatchEvent(new Event('input', {bubbles: true})); done(1);",
            json!([css, text]),
        );
    }

    /// Picks the portal whose name contains `name` in the header's picker.
    pub fn choose_portal(&self, name: &str) {
        let r = self.run_async(
            "const [name, done] = arguments;\
             const sel = document.querySelector('[data-testid=portal-select]');\
             const opt = [...sel.options].find(o => o.textContent.includes(name));\
             if (!opt) return done('no option ' + name);\
             sel.value = opt.value; sel.dispatchEvent(new Event('change', {bubbles: true})); done('ok');",
            json!([name]),
        );
        assert_eq!(r, "ok", "portal {name:?}");
    }

    /// Submits the sign-in form; its error must contain `want`, and no one
    /// is signed in. Returns the error as shown.
    pub fn sign_in_refused(&self, want: &str) -> String {
        self.click(&self.wait_for("[data-testid=sign-in] button.primary:not([disabled])", 10));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(m) = self.find_all("[data-testid=message]").into_iter().next() {
                let t = self.text(&m);
                if t.contains(want) {
                    assert!(self.find_all("[data-testid=user]").is_empty(), "{t}");
                    return t;
                }
            }
            if Instant::now() > deadline {
                self.screenshot("sign-in-refused-failed");
                panic!("no sign-in error {want:?} (tests/artifacts/sign-in-refused-failed.png)");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts recording every message the app's Rust side sends the page
    /// (command replies, events, channel messages). Tauri delivers each one
    /// through a single callback map, which it exposes for debugging as
    /// `__TAURI_INTERNALS__.callbacks`: the callbacks there now, and every
    /// one registered later, are wrapped to log what they receive.
    pub fn record_ipc(&self) {
        let wrapped = self.run_async(
            "const [done] = arguments;\
             const m = window.__TAURI_INTERNALS__.callbacks;\
             window.__ipcLog = [];\
             const wrap = (f) => (data) => {\
               try { window.__ipcLog.push(JSON.stringify(data)); } catch (e) { window.__ipcLog.push(String(data)); }\
               return f(data);\
             };\
             for (const k of [...m.keys()]) m.set(k, wrap(m.get(k)));\
             const set = m.set.bind(m);\
             m.set = (k, f) => set(k, wrap(f));\
             done(m.size);",
            json!([]),
        );
        assert!(
            wrapped.as_u64().is_some_and(|n| n > 0),
            "no IPC callbacks to record: {wrapped}"
        );
    }

    /// What [`Session::record_ipc`] logged so far, each message as JSON.
    pub fn ipc_log(&self) -> Vec<String> {
        self.run_async("arguments[0](window.__ipcLog || [])", json!([]))
            .as_array()
            .expect("the IPC log")
            .iter()
            .map(|m| m.as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// A PNG of the app's window as X shows it (WebKitWebDriver's own
    /// screenshot hangs with compositing off, which Xvfb needs).
    pub fn screenshot(&self, name: &str) {
        let dir = artifacts();
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join(format!("{name}.png"));
        let win = Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", "^Ferry$"])
            .env("DISPLAY", &self.display)
            .output()
            .expect("xdotool");
        let id = String::from_utf8_lossy(&win.stdout)
            .lines()
            .next()
            .unwrap_or("root")
            .to_string();
        let ok = Command::new("import")
            .env("DISPLAY", &self.display)
            .args(["-window", &id])
            .arg(&out)
            .status()
            .expect("import (imagemagick)");
        assert!(ok.success(), "screenshot {name}");
    }

    /// Paths delivered exactly as a drop on the window delivers them.
    pub fn drop_paths(&self, paths: &[PathBuf]) -> Value {
        self.run_async(
            "const [paths, done] = arguments;\
             window.__TAURI_INTERNALS__.invoke('e2e_drop', {paths})\
               .then(r => done(r), e => done({error: String(e)}));",
            json!([paths]),
        )
    }
}

/// Prints a measured duration and records it in
/// `tests/artifacts/gui-timings.txt` as `test: what: 1.23 s`, replacing
/// that test's line of the same name from an earlier run. Window tests
/// run in parallel processes: the file is locked while rewritten.
pub fn record_timing(test: &str, what: &str, d: Duration) {
    record(test, what, &format!("{:.2} s", d.as_secs_f64()));
}

/// Prints a measurement (`value` with its unit) and records it in
/// `tests/artifacts/gui-timings.txt` as `test: what: value`, as
/// [`record_timing`] does.
pub fn record(test: &str, what: &str, value: &str) {
    use std::io::{Read, Seek, Write};
    let line = format!("{test}: {what}: {value}");
    eprintln!("{line}");
    let dir = artifacts();
    std::fs::create_dir_all(&dir).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join("gui-timings.txt"))
        .expect("gui-timings.txt");
    f.lock().expect("lock gui-timings.txt");
    let mut old = String::new();
    f.read_to_string(&mut old).unwrap_or_default();
    let prefix = format!("{test}: {what}: ");
    let mut lines: Vec<&str> = old.lines().filter(|l| !l.starts_with(&prefix)).collect();
    lines.push(&line);
    lines.sort();
    f.set_len(0).unwrap();
    f.rewind().unwrap();
    f.write_all((lines.join("\n") + "\n").as_bytes()).unwrap();
}

pub fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts")
}

pub fn app_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("FERRY_APP_BIN") {
        return PathBuf::from(p);
    }
    crate::bin("ferry-app")
}

/// An X server (Xvfb) of one driver's own: every app a test starts gets its
/// own screen, so keyboard input, focus and screenshots are never another
/// test's. Stopped on drop.
struct Xvfb {
    child: Child,
    name: String,
}

impl Xvfb {
    fn start() -> Xvfb {
        // Test processes start servers at the same time: skip numbers
        // whose lock file exists, and try the next one if Xvfb loses a race.
        for n in (std::process::id() % 400 + 100..600).chain(100..600) {
            // A lock whose server is gone (killed by an earlier run) does
            // not count.
            let lock = format!("/tmp/.X{n}-lock");
            match lock_holder_alive(&lock) {
                Some(true) => continue,
                // Stale: its socket would look like a server that is up.
                Some(false) => {
                    let _ = std::fs::remove_file(&lock);
                    let _ = std::fs::remove_file(format!("/tmp/.X11-unix/X{n}"));
                }
                None => {}
            }
            let name = format!(":{n}");
            let mut child = Command::new("Xvfb")
                .args([&name, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb on PATH (apt-get install xvfb)");
            let socket = format!("/tmp/.X11-unix/X{n}");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Path::new(&socket).exists() {
                    return Xvfb { child, name };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("no free X display for Xvfb");
    }
}

/// Whether the process named by the X lock file `path` runs (`None`: no
/// lock; one being written counts as running).
fn lock_holder_alive(path: &str) -> Option<bool> {
    let pid = std::fs::read_to_string(path).ok()?;
    Some(match pid.trim().parse::<u32>() {
        Ok(pid) => Path::new(&format!("/proc/{pid}")).exists(),
        Err(_) => true,
    })
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Killed, Xvfb leaves its lock and socket: remove them, or a
        // machine that runs the tests often runs out of display numbers.
        let n = self.name.trim_start_matches(':');
        let _ = std::fs::remove_file(format!("/tmp/.X{n}-lock"));
        let _ = std::fs::remove_file(format!("/tmp/.X11-unix/X{n}"));
    }
}
