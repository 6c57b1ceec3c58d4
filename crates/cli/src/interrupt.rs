//! Ctrl-C and SIGTERM (a terminal; systemd stopping a watcher) once an
//! upload engine exists: the first stops the uploads in flight, so the
//! command ends as a failed upload does (what the portal acknowledged is
//! in the journal, the message names `ferry resume`, exit code 130) and a
//! watcher stops watching; a second ends the process at once. Commands
//! that never start an engine keep the default: Ctrl-C ends them at once.

use std::sync::OnceLock;

use ferry_engine::Engine;
use tokio_util::sync::CancellationToken;

/// Cancelled by the first signal.
pub(crate) fn stopped() -> CancellationToken {
    static STOP: OnceLock<CancellationToken> = OnceLock::new();
    STOP.get_or_init(|| {
        let stop = CancellationToken::new();
        let on_signal = stop.clone();
        tokio::spawn(async move {
            if signal().await.is_err() {
                return;
            }
            eprintln!(
                "\nferry: stopping; the uploads in flight end now and what the portal acknowledged is kept (Ctrl-C again to quit at once)"
            );
            on_signal.cancel();
            let _ = signal().await;
            std::process::exit(crate::exit::CANCELLED);
        });
        stop
    })
    .clone()
}

/// Cancels `engine` at the first signal.
pub(crate) fn stops(engine: &Engine) {
    let stop = stopped();
    let engine = engine.clone();
    tokio::spawn(async move {
        stop.cancelled().await;
        engine.cancel();
    });
}

#[cfg(unix)]
async fn signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
