//! How the app starts where labs start it: with no display it says so
//! (no GTK backtrace).

use std::process::Command;

use ferry_e2e::webdriver::app_binary;

#[test]
fn without_a_display_the_app_says_so_and_how_to_get_one() {
    let out = Command::new(app_binary())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the app runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no display") && err.contains("xvfb-run"),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}
