//! The package a lab installs. The README's package command builds it
//! with the Tauri CLI; here the debug build the test command made anyway
//! is bundled (`tauri bundle --debug`, no second build), installed with
//! `apt-get install ./….deb`, the *installed* app started in a window and
//! the *installed* `ferry` run against `ferry-sim`, then purged, leaving
//! nothing behind. Needs root (or passwordless sudo), as on CI. The `.rpm`
//! (built in the same run: Tauri's bundler writes it in Rust, with no
//! download) is read with `rpm -qlp` / `rpm -qp`: nothing here installs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use ferry_e2e::text;
use ferry_e2e::webdriver::{Driver, Session, record};
use ferry_e2e::{SimProc, assert_stored, make_file, test_journal};

fn root_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn sudo(args: &[&str]) -> Output {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| text(&o.stdout));
    let mut c = if root.as_deref().map(str::trim).ok() == Some("0") {
        Command::new(args[0])
    } else {
        let mut s = Command::new("sudo");
        s.args(["-n", args[0]]);
        s
    };
    c.args(&args[1..])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn ok(args: &[&str]) -> String {
    let out = sudo(args);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The installed package, purged when the test ends however it ends.
struct Installed {
    files: Vec<PathBuf>,
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = sudo(&["apt-get", "purge", "-y", "-qq", "ferry"]);
    }
}

#[test]
#[ignore = "installs a package, needs root, Xvfb, tauri-driver and the built app: tests/run-all.sh runs it"]
fn the_deb_installs_runs_and_purges_clean() {
    let t0 = Instant::now();
    let root = root_dir();
    // The bundle of the app `cargo build` made, with the CLI staged by
    // src-tauri/stage-cli.mjs.
    let out = Command::new("node")
        .arg(root.join("ui/node_modules/@tauri-apps/cli/tauri.js"))
        .args(["bundle", "--debug", "--bundles", "deb,rpm"])
        .env("FERRY_CLI_BIN", ferry_e2e::bin("ferry"))
        .current_dir(&root)
        .output()
        .expect("node (the Tauri CLI from npm: cd ui && npm install)");
    assert!(
        out.status.success(),
        "tauri bundle: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let debs: Vec<PathBuf> = std::fs::read_dir(root.join("target/debug/bundle/deb"))
        .expect("target/debug/bundle/deb")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "one .deb: {debs:?}");
    let deb = &debs[0];
    let size = std::fs::metadata(deb).unwrap().len();
    record(
        "package",
        "debug .deb size",
        &format!(
            "{:.1} MB ({})",
            size as f64 / 1e6,
            deb.file_name().unwrap().to_string_lossy()
        ),
    );
    let bundled = t0.elapsed();
    check_rpm(&root);

    let _ = sudo(&["apt-get", "purge", "-y", "-qq", "ferry"]);
    ok(&["apt-get", "install", "-y", "-qq", deb.to_str().unwrap()]);
    let listed = ok(&["dpkg", "-L", "ferry"]);
    let installed = Installed {
        files: listed
            .lines()
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .collect(),
    };
    let has = |p: &str| {
        installed
            .files
            .iter()
            .any(|f| f.to_string_lossy().contains(p))
    };
    for want in [
        "/usr/bin/ferry",
        "/usr/bin/ferry-app",
        "/usr/share/applications/",
        "/usr/share/icons/hicolor/",
    ] {
        assert!(has(want), "{want} in the package: {listed}");
    }
    let desktop = installed
        .files
        .iter()
        .find(|f| f.extension().is_some_and(|e| e == "desktop"))
        .unwrap();
    let entry = std::fs::read_to_string(desktop).unwrap();
    assert!(
        entry.contains("Exec=ferry-app") && entry.contains("Name=Ferry"),
        "{entry}"
    );

    // The CLI on the PATH, with the version.
    let v = Command::new("/usr/bin/ferry")
        .arg("--version")
        .output()
        .expect("ferry on PATH");
    assert_eq!(
        text(&v.stdout).trim(),
        concat!("ferry ", env!("CARGO_PKG_VERSION"))
    );

    // The installed app in a window: the demo portal, a file, its green
    // check, and About with the version.
    let dir = tempfile::tempdir().unwrap();
    let file = make_file(dir.path(), "installed_R1.fastq.gz", 6 * 1024 * 1024, 9);
    let journal = dir.path().join("journal.sqlite");
    let driver = Driver::start(&[("FERRY_JOURNAL", journal.to_str().unwrap())]);
    let s = Session::new(&driver, Path::new("/usr/bin/ferry-app"));
    s.wait_signed_in(60);
    let r = s.drop_paths(std::slice::from_ref(&file));
    assert_eq!(r["files"], 1, "{r}");
    s.click(&s.wait_for("[data-testid=upload]:not([disabled])", 10));
    s.wait_checks(1, 90);
    s.click(&s.wait_for("[data-testid=settings-open]", 5));
    let about = s.text(&s.wait_for("[data-testid=about]", 5));
    assert_eq!(about, concat!("Ferry ", env!("CARGO_PKG_VERSION")));
    s.screenshot("package-installed-done");
    drop(s);
    drop(driver);

    // The installed CLI against ferry-sim.
    let sim = SimProc::start(&[]);
    let out = Command::new("/usr/bin/ferry")
        .args(["upload", "--backend", &sim.backend(), "--group", "1"])
        .arg(&file)
        .env("FERRY_TOKEN", sim.token())
        .env("FERRY_JOURNAL", test_journal())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = text(&out.stdout).split('\t').next().unwrap().to_string();
    let sha = ferry_e2e::sha(&file);
    assert_stored(&sim.backend(), &id, &sha, Some(6 << 20), "installed ferry");

    // Purged: nothing of it is left.
    ok(&["apt-get", "purge", "-y", "-qq", "ferry"]);
    let left: Vec<&PathBuf> = installed.files.iter().filter(|f| f.exists()).collect();
    assert!(left.is_empty(), "left after purge: {left:?}");
    assert!(
        !sudo(&["dpkg", "-s", "ferry"]).status.success(),
        "still registered"
    );
    record(
        "package",
        "bundle, install, window upload, CLI upload, purge",
        &format!(
            "{:.1} s (bundling {:.1} s)",
            t0.elapsed().as_secs_f64(),
            bundled.as_secs_f64()
        ),
    );
}

/// The `.rpm` holds the app and `ferry` in /usr/bin, the desktop entry and
/// the icons, under the workspace's version, and asks for WebKitGTK.
fn check_rpm(root: &Path) {
    let rpms: Vec<PathBuf> = std::fs::read_dir(root.join("target/debug/bundle/rpm"))
        .expect("target/debug/bundle/rpm")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .collect();
    assert_eq!(rpms.len(), 1, "one .rpm: {rpms:?}");
    let rpm = rpms[0].to_str().unwrap();
    let size = std::fs::metadata(rpm).unwrap().len();
    record(
        "package",
        "debug .rpm size",
        &format!(
            "{:.1} MB ({})",
            size as f64 / 1e6,
            rpms[0].file_name().unwrap().to_string_lossy()
        ),
    );
    let query = |args: &[&str]| {
        let out = Command::new("rpm")
            .args(args)
            .arg(rpm)
            .output()
            .expect("rpm (apt-get install rpm)");
        assert!(out.status.success(), "rpm {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let files = query(&["-qlp"]);
    for want in [
        "/usr/bin/ferry\n",
        "/usr/bin/ferry-app\n",
        "/usr/share/applications/Ferry.desktop\n",
        "/usr/share/icons/hicolor/128x128/apps/ferry-app.png\n",
        "/usr/share/icons/hicolor/32x32/apps/ferry-app.png\n",
    ] {
        assert!(files.contains(want), "{want:?} in the .rpm: {files}");
    }
    assert_eq!(
        query(&["-qp", "--queryformat", "%{NAME} %{VERSION}"]),
        concat!("ferry ", env!("CARGO_PKG_VERSION"))
    );
    let needs = query(&["-qp", "--requires"]);
    assert!(needs.contains("libwebkit2gtk-4.1.so.0"), "{needs}");
}
