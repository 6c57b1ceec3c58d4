//! Sentences both front-ends show, written once.

use ferry_engine::{Event, EventSink};

/// Why a file sent in one request (One Codex's POST) goes again whole.
pub use ferry_engine::resume::SENT_AGAIN_WHOLE;

/// Where jobs cannot be resumed and why, said the same way everywhere.
pub fn cannot_go_on(job: &str, problems: &[String]) -> String {
    let list: Vec<String> = problems.iter().map(|e| format!("  - {e}")).collect();
    format!(
        "job {job} cannot go on as it was:\n{}\n  (or forget it with `ferry abort {job}`)",
        list.join("\n")
    )
}

/// One Codex sends a file in one request: a retried request starts the
/// file over, and the user is told so (also as a `file_restarted` event).
pub fn restart_notes(inner: EventSink, names: Vec<String>) -> EventSink {
    EventSink::new(move |e| {
        if let Event::Retry {
            file,
            part: Some(_),
            ..
        } = &e
        {
            let name = names.get(*file).cloned().unwrap_or_default();
            let note = Event::FileRestarted {
                file: *file,
                reason: format!("{name}: {SENT_AGAIN_WHOLE}"),
            };
            inner.emit(e);
            inner.emit(note);
        } else {
            inner.emit(e);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retried_one_codex_post_is_reported_as_a_restart() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = seen.clone();
        let sink = restart_notes(
            EventSink::new(move |e| s.lock().unwrap().push(e)),
            vec!["a_R1.fq".into()],
        );
        sink.emit(Event::Retry {
            file: 0,
            part: Some(1),
            attempt: 1,
            delay_ms: 10,
            reason: "reset".into(),
        });
        sink.emit(Event::Retry {
            file: 0,
            part: None,
            attempt: 1,
            delay_ms: 10,
            reason: "init failed".into(),
        });
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(matches!(&seen[1], Event::FileRestarted { reason, .. }
            if reason.contains("a_R1.fq") && reason.contains("from the start")));
    }
}
