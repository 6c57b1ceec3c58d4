//! The settings file (`ferry_engine::settings`) under the command line:
//! its values become the flags' defaults (a flag or variable given wins),
//! and `--proxy` / `--limit-rate` go to the whole process.

use clap::{Args, Command};
use ferry_engine::settings::Settings;

use crate::{Fail, exit};

/// Network flags every command takes.
#[derive(Args)]
pub struct NetArgs {
    /// Send every connection through this proxy (http://host:port);
    /// without it HTTPS_PROXY/HTTP_PROXY/NO_PROXY and the OS settings
    /// apply, or the settings file's `proxy`.
    #[arg(long, global = true, value_name = "URL")]
    pub proxy: Option<String>,
    /// Bandwidth limit shared by all parts of all files, in bytes per
    /// second: 500K, 20M, 1G (0 or off: none; default: the settings
    /// file's `limit_rate`).
    #[arg(long, global = true, value_name = "RATE")]
    pub limit_rate: Option<String>,
}

/// The settings file, or why it cannot be used.
pub fn load() -> Result<Settings, Fail> {
    Settings::load().map_err(|e| Fail(exit::INPUT, e.to_string()))
}

/// `cmd` with the settings as defaults of the flags they stand for.
pub fn with_defaults(mut cmd: Command, s: &Settings) -> Command {
    let mut defaults: Vec<(&str, String)> = Vec::new();
    if let Some(n) = s.parts_in_flight {
        defaults.push(("parts_in_flight", n.to_string()));
    }
    if let Some(p) = s.portal.as_deref().filter(|p| *p != "demo") {
        defaults.push(("portal", p.to_string()));
    }
    if let Some(b) = &s.backend {
        defaults.push(("backend", b.clone()));
    }
    // A global flag of the whole command, not of one subcommand.
    if let Some(w) = &s.wait_for_network {
        let v: &'static str = w.clone().leak();
        cmd = cmd.mut_arg("wait_for_network", |a| a.default_value(v));
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in names {
        for (id, v) in &defaults {
            let has = cmd
                .find_subcommand(&name)
                .is_some_and(|c| c.get_arguments().any(|a| a.get_id() == *id));
            // `login --portal` picks a kind of key to keep: no default there.
            if has && !(*id == "portal" && matches!(name.as_str(), "login" | "logout")) {
                // clap keeps defaults as &'static str; parsed once per run.
                let v: &'static str = v.clone().leak();
                cmd = cmd.mut_subcommand(&name, |c| c.mut_arg(*id, |a| a.default_value(v)));
            }
        }
    }
    cmd
}

/// Puts the proxy and the bandwidth limit in force: the flags, else the
/// settings file.
pub fn apply(flags: &NetArgs, s: &Settings) -> Result<(), Fail> {
    let mut s = s.clone();
    if let Some(p) = &flags.proxy {
        s.proxy = Some(p.clone());
    }
    if let Some(r) = &flags.limit_rate {
        ferry_engine::rate::parse(r)
            .map_err(|e| Fail(exit::INPUT, format!("--limit-rate: {e}")))?;
        s.limit_rate = Some(r.clone());
    }
    s.apply().map_err(|e| Fail(exit::INPUT, e.to_string()))
}
