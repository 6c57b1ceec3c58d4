//! Is there a display to open the window on? Checked before GTK starts, so
//! a session without one (SSH, a server, a container) gets a sentence
//! saying what to do instead of GTK's panic and backtrace.

/// Why no window can open here, with what to do, if so.
#[cfg(target_os = "linux")]
pub fn missing() -> Option<String> {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    if set("DISPLAY") || set("WAYLAND_DISPLAY") {
        return None;
    }
    Some(
        "Ferry opens a window, and this session has no display (DISPLAY and \
         WAYLAND_DISPLAY are not set). Start it from a desktop session, over SSH \
         with X forwarding (ssh -X), or on a virtual display: xvfb-run -a ferry-app. \
         Without a window, the `ferry` command line does the same work (ferry --help)."
            .into(),
    )
}

/// Windows and macOS always have one for a desktop app.
#[cfg(not(target_os = "linux"))]
pub fn missing() -> Option<String> {
    None
}
