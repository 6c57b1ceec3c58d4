//! Whether a run is complete: its marker appeared, or (a plain folder of
//! reads) nothing in it changed for the quiet period; and its files held
//! still over the check interval.

use std::time::{Duration, SystemTime};

use super::WatchOptions;
use super::run::Snapshot;

/// Ok when the run is complete and its files held still long enough, else
/// what it waits for.
pub(super) fn readiness(
    snap: &Snapshot,
    still: Duration,
    opts: &WatchOptions,
) -> Result<(), String> {
    let secs = |d: Duration| format!("{} s", d.as_secs());
    if let Some(m) = &snap.marker {
        if still >= opts.check_interval {
            return Ok(());
        }
        return Err(format!(
            "{m} is there; waiting until its files stop changing ({} without a change)",
            secs(opts.check_interval)
        ));
    }
    if let Some(quiet) = opts.quiet_period
        && !snap.instrument
    {
        if snap.selected(&opts.include).is_empty() {
            return Err("no files to send in it yet".into());
        }
        // Quiet for as long as this watcher has seen it still, or since
        // the newest file's mtime (a run that finished while Ferry was
        // not running need not wait again).
        let by_mtime = snap
            .newest()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or_default();
        let quiet_for = still.max(by_mtime);
        if quiet_for >= quiet && still >= opts.check_interval {
            return Ok(());
        }
        return Err(format!(
            "a plain folder of reads: sent once nothing in it changed for {}",
            secs(quiet)
        ));
    }
    Err(format!(
        "waiting for the run to finish (a completion marker: {})",
        opts.markers.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::run::Seen;

    #[test]
    fn readiness_needs_the_marker_or_the_quiet_period_and_stable_files() {
        let opts = WatchOptions {
            quiet_period: Some(Duration::from_secs(300)),
            check_interval: Duration::from_secs(10),
            ..WatchOptions::default()
        };
        let snap = |marker: Option<&str>, instrument: bool| Snapshot {
            files: vec![Seen {
                path: "/r/a.fastq.gz".into(),
                size: 1,
                // Written just now: the quiet period has not passed.
                mtime: Some(SystemTime::now()),
            }],
            marker: marker.map(String::from),
            instrument,
            links: vec![],
            unreadable: vec![],
        };
        let s = Duration::from_secs;
        let r = readiness(&snap(None, true), s(3600), &opts).unwrap_err();
        assert!(r.contains("completion marker"), "{r}");
        let r = readiness(&snap(Some("CopyComplete.txt"), true), s(5), &opts).unwrap_err();
        assert!(r.contains("stop changing"), "{r}");
        assert!(readiness(&snap(Some("CopyComplete.txt"), true), s(10), &opts).is_ok());
        let r = readiness(&snap(None, false), s(60), &opts).unwrap_err();
        assert!(r.contains("plain folder"), "{r}");
        assert!(readiness(&snap(None, false), s(300), &opts).is_ok());
        let markers_only = WatchOptions {
            quiet_period: None,
            ..opts
        };
        assert!(readiness(&snap(None, false), s(3600), &markers_only).is_err());
    }
}
