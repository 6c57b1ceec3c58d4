//! Builds the web UI (ui/ -> ui/dist) when its sources changed, then lets
//! tauri-build embed it. Every command the window may call is declared
//! here; the capability files in src-tauri/capabilities grant them.

use std::path::Path;
use std::process::Command;

const COMMANDS: &[&str] = &[
    "session",
    "sign_in",
    "sign_in_token",
    "sign_in_device",
    "open_sign_in_page",
    "cancel_sign_in",
    "sign_out",
    "subscribe",
    "pick_files",
    "pick_folder",
    "start",
    "pause",
    "resume",
    "cancel",
    "pause_all",
    "resume_all",
    "cancel_all",
    "unfinished_jobs",
    "resume_job",
    "discard_job",
    "portals",
    "choose_portal",
    "sign_in_key",
    "wizard_organisms",
    "wizard_groups",
    "wizard_open",
    "wizard_pick_folder",
    "wizard_review",
    "wizard_upload",
    "wizard_submit",
    "wizard_resume",
    "settings",
    "save_settings",
    "watch_folders",
    "watch_pick",
    "watch_remove",
    "watch_pause",
    "watch_check_again",
    "watch_drop_zone",
    "history",
    "save_receipt",
    "copy_ids",
    "submit_these",
    // Test-only: granted at run time when FERRY_E2E=1, never by a file.
    "e2e_drop",
    "e2e_wizard_folder",
    "e2e_watch_add",
];

fn main() {
    build_ui();
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .capabilities_path_pattern("./src-tauri/capabilities/**/*")
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build");
}

fn build_ui() {
    for p in [
        "ui/src",
        "ui/index.html",
        "ui/package.json",
        "ui/vite.config.ts",
    ] {
        println!("cargo:rerun-if-changed={p}");
    }
    println!("cargo:rerun-if-env-changed=FERRY_SKIP_UI_BUILD");
    let ui = Path::new("ui");
    let dist = ui.join("dist/index.html");
    let skip = std::env::var_os("FERRY_SKIP_UI_BUILD").is_some();
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let have_npm = Command::new(npm).arg("--version").output().is_ok();
    if !skip && have_npm {
        if !ui.join("node_modules").exists() {
            run(Command::new(npm)
                .args(["install", "--no-audit", "--no-fund"])
                .current_dir(ui));
        }
        run(Command::new(npm).args(["run", "build"]).current_dir(ui));
    } else if !dist.exists() {
        // No Node.js: embed a page that says how to get the real UI, so
        // the rest of the workspace still builds.
        std::fs::create_dir_all(ui.join("dist")).expect("ui/dist");
        std::fs::write(
            &dist,
            "<!doctype html><meta charset=utf-8><title>Ferry</title>\
             <p>The UI was not built: install Node.js 20+ and run <code>cargo build</code> again.",
        )
        .expect("ui/dist/index.html");
        println!(
            "cargo:warning=npm not found: the app embeds a placeholder page instead of the UI"
        );
    }
}

fn run(cmd: &mut Command) {
    let status = cmd.status().expect("run npm");
    assert!(status.success(), "{cmd:?} failed");
}
