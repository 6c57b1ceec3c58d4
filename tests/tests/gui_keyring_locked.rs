//! A locked login keyring, as on a desktop whose keyring was not unlocked
//! at login. The test runs a session bus and a gnome-keyring of its own
//! (not the test command's unlocked one): the login keyring holds a
//! remembered Ferry sign-in and is locked, and the keyring's real unlock
//! prompt (gcr-prompter) shows on the test's X display. The Ferry window
//! is up and usable while the prompt waits; the prompt is cancelled (as a
//! user presses Escape); the app then works: signing in with a password
//! (its own unlock prompt cancelled too) says the sign-in is not
//! remembered, and a file goes up to its green check with equal bytes.

use ferry_e2e::sha;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_e2e::webdriver::{Driver, Session, app_binary, record_timing};
use ferry_e2e::{SimProc, assert_stored, make_file};

/// A process of the test's own, killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The keyring's world: its own home, data and runtime folders, a session
/// bus of its own (whose activated prompter shows on `DISPLAY` once told)
/// and gnome-keyring on it. Dropped in reverse order: keyring, then bus.
struct Desktop {
    _keyring: Proc,
    _bus: Proc,
    address: String,
    _home: tempfile::TempDir,
}

impl Desktop {
    /// A bus and a keyring whose login keyring is made with `password`
    /// and unlocked.
    fn start(password: &str) -> Desktop {
        let home = tempfile::tempdir().unwrap();
        let run = home.path().join("run");
        std::fs::create_dir_all(&run).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
        let env = |c: &mut Command| {
            c.env("HOME", home.path())
                .env("XDG_DATA_HOME", home.path().join("data"))
                .env("XDG_CONFIG_HOME", home.path().join("config"))
                .env("XDG_RUNTIME_DIR", &run)
                .env_remove("DISPLAY")
                .env_remove("DBUS_SESSION_BUS_ADDRESS");
        };
        let mut c = Command::new("dbus-daemon");
        c.args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        env(&mut c);
        let mut bus = c.spawn().expect("dbus-daemon");
        let mut address = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut address)
            .expect("dbus-daemon prints its address");
        let address = address.trim().to_string();
        let bus = Proc(bus);
        let mut c = Command::new("gnome-keyring-daemon");
        c.args(["--foreground", "--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        env(&mut c);
        c.env("DBUS_SESSION_BUS_ADDRESS", &address);
        let mut keyring = c.spawn().expect("gnome-keyring-daemon");
        keyring
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        let d = Desktop {
            _keyring: Proc(keyring),
            _bus: bus,
            address,
            _home: home,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !d
            .send(&[
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ])
            .contains("true")
        {
            assert!(Instant::now() < deadline, "gnome-keyring did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        d
    }

    /// `dbus-send --print-reply` on this bus; its output.
    fn send(&self, args: &[&str]) -> String {
        let out = Command::new("dbus-send")
            .args(["--session", "--type=method_call", "--print-reply"])
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()
            .expect("dbus-send");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Keeps `secret` for Ferry's keychain `account` with the attributes
    /// Ferry's keychain library (keyring) writes and searches for.
    fn store(&self, account: &str, secret: &str) {
        let mut c = Command::new("secret-tool")
            .args(["store", "--label=Ferry", "service", "org.ferry.app"])
            .args(["username", account, "target", "default"])
            .args(["application", "rust-keyring"])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stdin(Stdio::piped())
            .spawn()
            .expect("secret-tool");
        c.stdin
            .take()
            .unwrap()
            .write_all(secret.as_bytes())
            .unwrap();
        assert!(c.wait().unwrap().success(), "secret-tool store");
    }

    fn lock(&self) {
        let r = self.send(&[
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            "array:objpath:/org/freedesktop/secrets/collection/login",
        ]);
        assert!(r.contains("collection/login"), "not locked: {r}");
    }

    /// Prompts the bus starts show on `display`.
    fn prompts_on(&self, display: &str) {
        let ok = Command::new("dbus-update-activation-environment")
            .arg(format!("DISPLAY={display}"))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .status()
            .expect("dbus-update-activation-environment");
        assert!(ok.success());
    }
}

/// The keyring's unlock prompt window on `display`, if it shows.
fn prompt(display: &str) -> Option<String> {
    let out = Command::new("xdotool")
        .args(["search", "--onlyvisible", "--class", "gcr-prompter"])
        .env("DISPLAY", display)
        .output()
        .expect("xdotool");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(str::to_string)
}

fn wait_prompt(display: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(w) = prompt(display) {
            return w;
        }
        assert!(
            Instant::now() < deadline,
            "the keyring's unlock prompt did not show"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Escape in the prompt: what a user does to cancel it.
fn cancel(display: &str, window: &str) {
    let ok = Command::new("xdotool")
        .args(["windowfocus", "--sync", window, "key", "Escape"])
        .env("DISPLAY", display)
        .status()
        .expect("xdotool");
    assert!(ok.success(), "Escape in the prompt");
    let deadline = Instant::now() + Duration::from_secs(20);
    while prompt(display).is_some() {
        assert!(Instant::now() < deadline, "the prompt did not close");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn screenshot_all(display: &str, name: &str) {
    let dir = ferry_e2e::webdriver::artifacts();
    std::fs::create_dir_all(&dir).unwrap();
    let ok = Command::new("import")
        .args(["-window", "root"])
        .arg(dir.join(format!("{name}.png")))
        .env("DISPLAY", display)
        .status()
        .expect("import (imagemagick)");
    assert!(ok.success());
}

#[test]
#[ignore = "needs Xvfb, tauri-driver, WebKitWebDriver, dbus-daemon, gnome-keyring and the built app: tests/run-all.sh runs it"]
fn a_locked_keyring_holds_nothing_back_and_a_cancelled_unlock_leaves_a_working_app() {
    let t0 = Instant::now();
    let sim = SimProc::start(&[]);
    let backend = sim.backend();
    let desktop = Desktop::start("login-password");
    // A sign-in remembered earlier, now behind the locked keyring.
    desktop.store(
        &ferry_keychain::loculus_account(&backend),
        "{\"kind\":\"refresh\"}",
    );
    desktop.lock();
    let dir = tempfile::tempdir().unwrap();
    let file = make_file(dir.path(), "locked_R1.fastq", 2 * 1024 * 1024 + 5, 3);
    let journal = dir.path().join("journal.sqlite");
    let driver = Driver::start(&[
        ("FERRY_BACKEND", &backend),
        ("FERRY_JOURNAL", journal.to_str().unwrap()),
        ("DBUS_SESSION_BUS_ADDRESS", &desktop.address),
    ]);
    desktop.prompts_on(&driver.display);
    let s = Session::new(&driver, &app_binary());

    // The start asks the keychain for the remembered sign-in: the unlock
    // prompt shows, and the window is up and usable behind it.
    let w = wait_prompt(&driver.display, 60);
    s.wait_for("header[data-session=loaded]", 30);
    s.wait_for("[data-testid=sign-in] input[autocomplete=username]", 10);
    assert!(
        prompt(&driver.display).is_some(),
        "the prompt closed by itself"
    );
    screenshot_all(&driver.display, "keyring-locked-prompt");
    cancel(&driver.display, &w);

    // Nothing remembered could be read: the window asks to sign in.
    s.wait_for("[data-testid=sign-in] input[type=password]", 10);
    assert!(s.find_all("[data-testid=user]").is_empty());
    let u = s.wait_for("[data-testid=sign-in] input[autocomplete=username]", 5);
    s.type_text(&u, "demo");
    let pw = s.wait_for("[data-testid=sign-in] input[type=password]", 5);
    s.type_text(&pw, "demo");
    s.click(&s.wait_for("[data-testid=sign-in] button.primary", 5));
    // Keeping the new sign-in asks to unlock again: cancelled too.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut cancelled = 0;
    while s.find_all("[data-testid=user]").is_empty() {
        if let Some(w) = prompt(&driver.display) {
            cancel(&driver.display, &w);
            cancelled += 1;
        }
        assert!(Instant::now() < deadline, "not signed in");
        std::thread::sleep(Duration::from_millis(100));
    }
    let note = s.wait_for("[data-testid=session] .warn", 10);
    assert_eq!(s.text(&note), "not remembered");
    let why = s.attr(&note, "title");
    assert!(why.contains("stayed locked"), "the note says why: {why}");
    eprintln!("not remembered ({cancelled} more prompts cancelled): {why}");
    s.screenshot("keyring-locked-not-remembered");

    // A working app: a file goes up.
    let r = s.drop_paths(std::slice::from_ref(&file));
    assert_eq!(r["files"], 1, "{r}");
    s.click(&s.wait_for("[data-testid=upload]:not([disabled])", 10));
    s.wait_checks(1, 90);
    let done = s.wait_for("[data-name=\"locked_R1.fastq\"][data-status=done]", 5);
    let want = sha(&file);
    assert_eq!(s.attr(&done, "data-sha256"), want);
    let id = s.attr(&done, "data-remote-id");
    assert_stored(&backend, &id, &want, Some(2 * 1024 * 1024 + 5), "locked_R1");
    drop(s);
    drop(driver);
    record_timing("gui_keyring_locked", "locked keyring E2E", t0.elapsed());
}
