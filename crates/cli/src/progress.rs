//! Renders engine events: indicatif bars on a terminal, plain lines
//! otherwise, or JSON lines with `--json`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_engine::{Event, EventSink};
use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Renderer {
    mp: MultiProgress,
    overall: ProgressBar,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    files: HashMap<usize, FileView>,
    total: u64,
    done_bytes: u64,
    done_files: usize,
    queued: usize,
}

struct FileView {
    name: String,
    size: u64,
    parts: u32,
    parts_done: u32,
    sent: u64,
    bar: Option<ProgressBar>,
}

/// Files with their own bar at once; the rest show in the overall bar.
const MAX_BARS: usize = 8;

impl Renderer {
    pub fn new(quiet: bool) -> Arc<Self> {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr_with_hz(10)
        };
        let mp = MultiProgress::with_draw_target(target);
        let overall = mp.add(ProgressBar::new(0));
        // The bandwidth limit in force, next to the rate it caps.
        let limit = ferry_engine::rate::limit()
            .map(|b| format!(" (limit {})", ferry_engine::rate::show(b)))
            .unwrap_or_default();
        overall.set_style(
            ProgressStyle::with_template(&format!(
                "{{prefix:>24}} [{{bar:30.green/dim}}] {{bytes}}/{{total_bytes}} {{binary_bytes_per_sec}}{limit} ETA {{eta}} {{msg}}",
            ))
            .expect("template")
            .progress_chars("=> "),
        );
        overall.set_prefix("total");
        overall.enable_steady_tick(Duration::from_millis(250));
        Arc::new(Renderer {
            mp,
            overall,
            state: Mutex::new(State::default()),
        })
    }

    pub fn sink(self: &Arc<Self>) -> EventSink {
        let me = self.clone();
        EventSink::new(move |e| me.on(e))
    }

    fn line(&self, s: String) {
        if self.mp.is_hidden() {
            eprintln!("{s}");
        } else {
            let _ = self.mp.println(s);
        }
    }

    /// One event: a file's bar, the overall bar, or a line.
    fn on(&self, e: Event) {
        let mut st = self.state.lock().expect("render state");
        match e {
            Event::FileQueued {
                file,
                name,
                size,
                parts,
                ..
            } => self.queued(&mut st, file, name, size, parts),
            Event::FileStarted { file, .. } => self.started(&mut st, file),
            Event::Progress {
                file, file_sent, ..
            } => {
                let mut delta = 0;
                if let Some(f) = st.files.get_mut(&file) {
                    delta = file_sent as i64 - f.sent as i64;
                    f.sent = file_sent;
                    if let Some(b) = &f.bar {
                        b.set_position(file_sent);
                    }
                }
                let pos = (self.overall.position() as i64 + delta).max(0) as u64;
                self.overall.set_position(pos);
            }
            Event::PartDone { file, .. } => {
                if let Some(f) = st.files.get_mut(&file) {
                    f.parts_done += 1;
                    if let Some(b) = &f.bar {
                        b.set_message(format!("parts {}/{}", f.parts_done, f.parts));
                    }
                }
            }
            Event::Retry {
                file,
                part,
                attempt,
                delay_ms,
                reason,
            } => {
                let name = st
                    .files
                    .get(&file)
                    .map(|f| f.name.clone())
                    .unwrap_or_default();
                let what = part.map(|p| format!(" part {p}")).unwrap_or_default();
                self.line(format!(
                    "  retry {name}{what} (attempt {attempt} failed: {reason}); again in {:.1} s",
                    delay_ms as f64 / 1000.0
                ));
            }
            Event::FileDone {
                file,
                name,
                remote_id,
                size,
                ..
            } => self.done(&mut st, file, &name, &remote_id, size),
            Event::FileFailed {
                file, name, error, ..
            } => {
                if let Some(f) = st.files.get_mut(&file)
                    && let Some(b) = f.bar.take()
                {
                    b.finish_and_clear();
                    self.mp.remove(&b);
                }
                // Most errors name the file; those that do not ("cancelled",
                // a network error) get its name in front.
                if error.contains(&name) {
                    self.line(format!("  \u{2717} {error}"));
                } else {
                    self.line(format!("  \u{2717} {name}: {error}"));
                }
            }
            Event::FileRestarted { reason, .. } => self.line(format!("  \u{21bb} {reason}")),
            Event::Warning { message, .. } => self.line(format!("  ! {message}")),
            Event::PartStarted { .. } => {}
            e @ (Event::NetworkWaiting { .. } | Event::NetworkBack { .. } | Event::Woke { .. }) => {
                if let Some(l) = crate::network::line(&e) {
                    self.line(l)
                }
            }
        }
    }

    /// A file queued (again, when restarted: its first try is forgotten).
    fn queued(&self, st: &mut State, file: usize, name: String, size: u64, parts: u32) {
        if let Some(old) = st.files.remove(&file) {
            st.total -= old.size;
            st.queued -= 1;
            self.overall
                .set_position(self.overall.position().saturating_sub(old.sent));
            if let Some(b) = old.bar {
                b.finish_and_clear();
                self.mp.remove(&b);
            }
        }
        st.total += size;
        st.queued += 1;
        st.files.insert(
            file,
            FileView {
                name,
                size,
                parts,
                parts_done: 0,
                sent: 0,
                bar: None,
            },
        );
        self.overall.set_length(st.total);
    }

    /// A file started: its own bar, while fewer than [`MAX_BARS`] show.
    fn started(&self, st: &mut State, file: usize) {
        let active = st.files.values().filter(|f| f.bar.is_some()).count();
        if let Some(f) = st.files.get_mut(&file)
            && active < MAX_BARS
            && f.size > 0
        {
            let bar = self
                .mp
                .insert_before(&self.overall, ProgressBar::new(f.size));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>24} [{bar:30.cyan/dim}] {bytes}/{total_bytes} {msg}",
                )
                .expect("template")
                .progress_chars("=> "),
            );
            bar.set_prefix(short(&f.name, 24));
            bar.set_message(format!("parts 0/{}", f.parts));
            f.bar = Some(bar);
        }
    }

    /// A file accepted: its bar goes, and a line says so.
    fn done(&self, st: &mut State, file: usize, name: &str, remote_id: &str, size: u64) {
        st.done_files += 1;
        st.done_bytes += size;
        if let Some(f) = st.files.get_mut(&file) {
            let rest = size.saturating_sub(f.sent);
            f.sent = size;
            self.overall.inc(rest);
            if let Some(b) = f.bar.take() {
                b.finish_and_clear();
                self.mp.remove(&b);
            }
        }
        self.overall
            .set_message(format!("{}/{} files", st.done_files, st.queued));
        self.line(format!(
            "  \u{2713} {name} ({}) {remote_id}",
            HumanBytes(size)
        ));
    }

    pub fn finish(&self) {
        self.overall.finish_and_clear();
    }
}

/// At most `n` characters, cut in the middle: names differ at both ends
/// (`sample01_R1.fastq.gz`).
fn short(s: &str, n: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= n {
        return s.to_string();
    }
    let head = (n - 1) / 2;
    let tail = n - 1 - head;
    let h: String = chars[..head].iter().collect();
    let t: String = chars[chars.len() - tail..].iter().collect();
    format!("{h}\u{2026}{t}")
}

/// Events as JSON lines on standard output.
pub fn json_sink() -> EventSink {
    let out = Arc::new(Mutex::new(std::io::stdout()));
    EventSink::new(move |e| {
        if let Ok(line) = serde_json::to_string(&e) {
            let mut o = out.lock().expect("stdout");
            let _ = writeln!(o, "{line}");
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_cut_in_the_middle() {
        assert_eq!(super::short("sample01_R1.fastq.gz", 11), "sampl…tq.gz");
        assert_eq!(super::short("a.fq", 24), "a.fq");
    }
}
