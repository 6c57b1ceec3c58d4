//! `--wait-for-network` and the lines that say the job waits for it.

use std::sync::OnceLock;
use std::time::Duration;

use ferry_engine::Event;
use ferry_engine::network::NetworkPolicy;

static WAIT: OnceLock<Duration> = OnceLock::new();

pub use ferry_engine::network::parse_wait;

/// Given once, before any engine is made.
pub fn set_wait(d: Duration) {
    let _ = WAIT.set(d);
}

pub fn policy() -> NetworkPolicy {
    NetworkPolicy {
        max_wait: WAIT
            .get()
            .copied()
            .unwrap_or(NetworkPolicy::default().max_wait),
        ..NetworkPolicy::default()
    }
}

/// The line a person reads for a network event.
pub fn line(e: &Event) -> Option<String> {
    match e {
        Event::NetworkWaiting {
            since,
            retry_every_s,
            host,
        } => Some(format!(
            "  \u{23f8} waiting for the network since {}; retrying every {retry_every_s} s (cannot reach {host}; the files go on by themselves)",
            clock(*since)
        )),
        Event::NetworkBack { waited_ms } => Some(format!(
            "  \u{25b6} the network is back after {}; sending goes on",
            span(*waited_ms / 1000)
        )),
        Event::Woke { slept_s } => Some(format!(
            "  \u{25b6} the computer slept for {}; connecting again",
            span(*slept_s)
        )),
        _ => None,
    }
}

/// "12:03" in the computer's time zone.
fn clock(unix: u64) -> String {
    jiff::Timestamp::from_second(unix as i64)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| "?".into())
}

fn span(s: u64) -> String {
    match s {
        0..120 => format!("{s} s"),
        120..7200 => format!("{} min", s / 60),
        _ => format!("{:.1} h", s as f64 / 3600.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_since_when_and_how_often() {
        let l = line(&Event::NetworkWaiting {
            since: 1_700_000_000,
            retry_every_s: 15,
            host: "s3.example.org".into(),
        })
        .unwrap();
        assert!(l.contains("waiting for the network since "), "{l}");
        assert!(l.contains("; retrying every 15 s"), "{l}");
    }
}
