//! Settings kept between runs, in `config.toml` in the OS's config folder
//! (`~/.config/ferry` on Linux, `~/Library/Application Support/ferry` on
//! macOS, `%APPDATA%\ferry` on Windows; `FERRY_CONFIG` names another file).
//! The CLI and the app read the same file; command-line flags win over it.
//! A file that does not parse is reported with its path and line and is
//! never rewritten: the app saves its settings only into a file it could
//! read, changing only the keys it sets (comments stay).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The settings; a missing key is the built-in default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The portal used when none is named: `loculus`, `onecodex` or
    /// `basespace` (the CLI's `--portal`), or for the app also `demo`.
    pub portal: Option<String>,
    /// Loculus backend URL used when none is given (the CLI's `--backend`).
    pub backend: Option<String>,
    /// Parts sent at the same time across all files.
    pub parts_in_flight: Option<u16>,
    /// Bandwidth limit such as `20M` (bytes per second; see [`crate::rate::parse`]).
    pub limit_rate: Option<String>,
    /// Explicit proxy, e.g. `http://proxy.example.org:3128`.
    pub proxy: Option<String>,
    /// How long files wait for the network when no connection can be
    /// made: `24h`, `90m`, or `0` to fail once the retries are spent (the
    /// CLI's `--wait-for-network`; see [`crate::network::parse_wait`]).
    pub wait_for_network: Option<String>,
    /// The app's watched folders (`[[watch]]` tables), started again with
    /// it; `ferry watch` takes its folders on the command line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<WatchedFolder>,
}

/// A folder the app watches for finished runs (issue 14).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchedFolder {
    pub dir: PathBuf,
    /// The Loculus group its runs go to (the signed-in user's first when
    /// not set).
    pub group: Option<i64>,
    /// Paused: not watched until resumed.
    #[serde(default)]
    pub paused: bool,
    /// Loculus: each run folder is submitted as a submission batch for
    /// this organism (once its linkage report is clean) instead of its
    /// reads being uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submit: Option<String>,
}

/// The settings file could not be read or saved.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{}, line {line}: {detail}. Fix the file (Ferry never rewrites one it cannot read) or remove it to use the defaults.", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        detail: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

const PORTALS: &[&str] = &["loculus", "onecodex", "basespace", "demo"];

impl Settings {
    /// The file the settings live in.
    pub fn path() -> PathBuf {
        if let Some(p) = std::env::var_os("FERRY_CONFIG").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        dirs::config_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("ferry")
            .join("config.toml")
    }

    /// [`Settings::path`]'s settings; none when there is no file.
    pub fn load() -> Result<Settings, SettingsError> {
        Settings::load_from(&Settings::path())
    }

    pub fn load_from(path: &Path) -> Result<Settings, SettingsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(source) => {
                return Err(SettingsError::Io {
                    path: path.into(),
                    source,
                });
            }
        };
        let s: Settings = toml::from_str(&text).map_err(|e| {
            let line = e.span().map_or(1, |r| line_of(&text, r.start));
            SettingsError::Malformed {
                path: path.into(),
                line,
                detail: with_text(&text, line, e.message()),
            }
        })?;
        s.check()
            .map_err(|(key, detail)| SettingsError::Malformed {
                path: path.into(),
                line: key_line(&text, key),
                detail: format!("{key}: {detail}"),
            })?;
        Ok(s)
    }

    /// Values that parse as TOML but mean nothing: the key and why.
    fn check(&self) -> Result<(), (&'static str, String)> {
        if let Some(p) = &self.portal
            && !PORTALS.contains(&p.as_str())
        {
            return Err(("portal", format!("{p:?} is none of {}", PORTALS.join(", "))));
        }
        if let Some(n) = self.parts_in_flight
            && !(1..=256).contains(&n)
        {
            return Err(("parts_in_flight", format!("{n} is not between 1 and 256")));
        }
        if let Some(r) = &self.limit_rate {
            crate::rate::parse(r).map_err(|e| ("limit_rate", e.to_string()))?;
        }
        if let Some(p) = &self.proxy {
            crate::net::proxy(p).map_err(|e| ("proxy", e.to_string()))?;
        }
        if let Some(w) = &self.wait_for_network {
            crate::network::parse_wait(w).map_err(|e| ("wait_for_network", e))?;
        }
        Ok(())
    }

    /// How outages are waited out: the file's `wait_for_network`, else
    /// the default (24 h).
    pub fn network(&self) -> crate::network::NetworkPolicy {
        let mut p = crate::network::NetworkPolicy::default();
        if let Some(d) = self
            .wait_for_network
            .as_deref()
            .and_then(|w| crate::network::parse_wait(w).ok())
        {
            p.max_wait = d;
        }
        p
    }

    /// The bandwidth limit in bytes per second, if one is set.
    pub fn rate(&self) -> Option<u64> {
        self.limit_rate
            .as_deref()
            .and_then(|r| crate::rate::parse(r).ok().flatten())
    }

    /// Puts the proxy and the bandwidth limit in force for this process.
    pub fn apply(&self) -> Result<(), crate::Error> {
        crate::net::set_proxy(self.proxy.as_deref())?;
        crate::rate::set_limit(self.rate());
        Ok(())
    }

    /// Writes these settings to `path`, changing only their keys (the
    /// file's comments and other text stay). A file that does not parse
    /// is left as it is and reported.
    pub fn save_to(&self, path: &Path) -> Result<(), SettingsError> {
        self.check()
            .map_err(|(key, detail)| SettingsError::Malformed {
                path: path.into(),
                line: 0,
                detail: format!("{key}: {detail}"),
            })?;
        // Refuse a file we could not read: it would be overwritten.
        Settings::load_from(path)?;
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
            let line = e.span().map_or(1, |r| line_of(&text, r.start));
            SettingsError::Malformed {
                path: path.into(),
                line,
                detail: with_text(&text, line, e.message()),
            }
        })?;
        let mut set = |k: &str, v: Option<toml_edit::Item>| match v {
            Some(v) => doc[k] = v,
            None => {
                doc.remove(k);
            }
        };
        let s = |v: &Option<String>| v.as_ref().map(|v| toml_edit::value(v.as_str()));
        set("portal", s(&self.portal));
        set("backend", s(&self.backend));
        set(
            "parts_in_flight",
            self.parts_in_flight.map(|n| toml_edit::value(n as i64)),
        );
        set("limit_rate", s(&self.limit_rate));
        set("proxy", s(&self.proxy));
        set("wait_for_network", s(&self.wait_for_network));
        if self.watch.is_empty() {
            doc.remove("watch");
        } else {
            let mut aot = toml_edit::ArrayOfTables::new();
            for w in &self.watch {
                let mut t = toml_edit::Table::new();
                t["dir"] = toml_edit::value(w.dir.to_string_lossy().as_ref());
                if let Some(g) = w.group {
                    t["group"] = toml_edit::value(g);
                }
                if w.paused {
                    t["paused"] = toml_edit::value(true);
                }
                if let Some(o) = &w.submit {
                    t["submit"] = toml_edit::value(o.as_str());
                }
                aot.push(t);
            }
            doc["watch"] = toml_edit::Item::ArrayOfTables(aot);
        }
        let io = |source| SettingsError::Io {
            path: path.into(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // Written whole, then renamed over: a crash leaves the old file.
        let tmp = path.with_extension("toml.new");
        std::fs::write(&tmp, doc.to_string()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

/// The parser's message with the line it is about, so the key shows.
fn with_text(text: &str, line: usize, msg: &str) -> String {
    let l = text
        .lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .trim();
    format!("{} (in `{l}`)", msg.trim())
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].matches('\n').count() + 1
}

/// The line where `key` is set (1 if it cannot be found).
fn key_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map_or(1, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config.toml");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    #[test]
    fn reads_every_setting() {
        let (_d, p) = file(
            "# mine\nportal = \"onecodex\"\nparts_in_flight = 4\nlimit_rate = \"20M\"\nproxy = \"http://proxy.example.org:3128\"\nwait_for_network = \"90m\"\n",
        );
        let s = Settings::load_from(&p).unwrap();
        assert_eq!(s.portal.as_deref(), Some("onecodex"));
        assert_eq!(s.parts_in_flight, Some(4));
        assert_eq!(s.rate(), Some(20 << 20));
        assert_eq!(s.proxy.as_deref(), Some("http://proxy.example.org:3128"));
        assert_eq!(
            s.network().max_wait,
            std::time::Duration::from_secs(90 * 60)
        );
        let none = Settings::load_from(&p.with_file_name("absent.toml")).unwrap();
        assert_eq!(none, Settings::default());
        assert_eq!(none.network(), crate::network::NetworkPolicy::default());
    }

    #[test]
    fn a_malformed_file_names_its_path_and_line_and_is_not_overwritten() {
        for (text, line, what) in [
            (
                "portal = \"loculus\"\nparts_in_flight = 4\nlimit_rate = 20M\n",
                3,
                "limit_rate",
            ),
            (
                "portal = \"loculus\"\n\nparts_in_flite = 4\n",
                3,
                "parts_in_flite",
            ),
            ("parts_in_flight = \"many\"\n", 1, "parts_in_flight"),
            ("portal = \"loculus\"\nlimit_rate = \"fast\"\n", 2, "fast"),
            ("proxy = \"proxy:3128\"\n", 1, "proxy"),
            ("wait_for_network = \"a while\"\n", 1, "wait_for_network"),
            ("[portal\n", 1, ""),
        ] {
            let (_d, p) = file(text);
            let e = Settings::load_from(&p).unwrap_err().to_string();
            let at = format!("{}, line {line}:", p.display());
            assert!(e.starts_with(&at), "{text:?}: {e}");
            assert!(
                e.contains(what) && e.contains("never rewrites"),
                "{text:?}: {e}"
            );
            let save = Settings {
                proxy: Some("http://127.0.0.1:3128".into()),
                ..Settings::default()
            };
            assert!(save.save_to(&p).is_err(), "{text:?} saved over");
            assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
        }
    }

    #[test]
    fn watched_folders_are_kept_and_read_back() {
        let (_d, p) = file("# mine\nportal = \"loculus\"\n");
        let s = Settings {
            portal: Some("loculus".into()),
            watch: vec![
                WatchedFolder {
                    dir: "/data/MiSeq Output".into(),
                    group: Some(3),
                    paused: false,
                    submit: Some("ebola-sudan".into()),
                },
                WatchedFolder {
                    dir: "/mnt/nanopore".into(),
                    group: None,
                    paused: true,
                    submit: None,
                },
            ],
            ..Settings::default()
        };
        s.save_to(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("# mine"), "{text}");
        assert_eq!(Settings::load_from(&p).unwrap(), s);
        // Saving settings with no folders removes the tables.
        Settings {
            portal: Some("loculus".into()),
            ..Settings::default()
        }
        .save_to(&p)
        .unwrap();
        assert!(Settings::load_from(&p).unwrap().watch.is_empty());
    }

    #[test]
    fn a_watched_folder_kept_before_submission_batches_still_loads() {
        let (_d, p) = file("[[watch]]\ndir = \"/data/runs\"\ngroup = 2\n");
        let s = Settings::load_from(&p).unwrap();
        assert_eq!(
            s.watch,
            vec![WatchedFolder {
                dir: "/data/runs".into(),
                group: Some(2),
                paused: false,
                submit: None,
            }]
        );
    }

    #[test]
    fn saving_keeps_comments_and_other_keys() {
        let (_d, p) =
            file("# our proxy, from IT\nproxy = \"http://old:3128\"\nportal = \"demo\"\n");
        let mut s = Settings::load_from(&p).unwrap();
        s.proxy = Some("http://new:3128".into());
        s.limit_rate = Some("5M".into());
        s.save_to(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("# our proxy, from IT\n"), "{text}");
        assert!(
            !text.contains("old:3128") && text.contains("portal = \"demo\""),
            "{text}"
        );
        assert_eq!(Settings::load_from(&p).unwrap(), s);
    }
}
