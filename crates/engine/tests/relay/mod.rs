//! A real TCP relay on 127.0.0.1 that a test puts in front of a server and
//! then breaks the way networks break: silence (bytes stop, nothing is
//! closed), refusal (every connection reset, new ones refused) and a
//! restart on the same port. The window's outage test
//! (`tests/tests/gui_network.rs`) uses it too.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

struct Shared {
    upstream: Mutex<Option<SocketAddr>>,
    /// false = silent: nothing is read or forwarded either way.
    open: watch::Sender<bool>,
    conns: Mutex<Vec<JoinHandle<()>>>,
    /// Bytes forwarded to the server.
    up: AtomicU64,
    /// When the first byte reached the server after the last `restart` or
    /// `thaw`.
    first_byte: Mutex<Option<Instant>>,
    resumed_at: Mutex<Option<Instant>>,
    /// Bytes/s each connection forwards to the server at most (0 = no
    /// limit), so a test can break a transfer in the middle.
    rate: AtomicU64,
}

pub struct Relay {
    addr: SocketAddr,
    shared: Arc<Shared>,
    listener: Mutex<Option<JoinHandle<()>>>,
    /// While killed: a socket bound to the port without listening. New
    /// connections are refused as with nothing on the port, and no other
    /// process (a test running alongside) can take the port before
    /// [`Relay::restart`]: had one taken it, the client would have reached
    /// that server instead (seen once: its 403 SignatureDoesNotMatch).
    held: Mutex<Option<JoinHandle<Option<TcpSocket>>>>,
}

impl Relay {
    /// Listens on a free port; forwards nothing until [`Relay::forward_to`].
    pub async fn bind() -> Relay {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream: Mutex::new(None),
            open: watch::channel(true).0,
            conns: Mutex::new(Vec::new()),
            up: AtomicU64::new(0),
            first_byte: Mutex::new(None),
            resumed_at: Mutex::new(None),
            rate: AtomicU64::new(0),
        });
        let r = Relay {
            addr,
            shared,
            listener: Mutex::new(None),
            held: Mutex::new(None),
        };
        r.serve(l);
        r
    }

    pub fn forward_to(&self, upstream: &str) {
        let a = upstream.trim_start_matches("http://").parse().unwrap();
        *self.shared.upstream.lock().unwrap() = Some(a);
    }

    /// At most `bytes_per_s` per connection towards the server.
    pub fn limit(&self, bytes_per_s: u64) {
        self.shared.rate.store(bytes_per_s, Ordering::SeqCst);
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn bytes_up(&self) -> u64 {
        self.shared.up.load(Ordering::SeqCst)
    }

    /// Silence: packets stop both ways, no connection is closed, new ones
    /// are accepted and hang.
    pub fn freeze(&self) {
        self.shared.open.send_replace(false);
    }

    pub fn thaw(&self) {
        self.mark_resumed();
        self.shared.open.send_replace(true);
    }

    /// The server's host is gone: open connections are reset, new ones
    /// refused (nothing listens on the port, which the relay keeps).
    pub fn kill(&self) {
        self.stop(true);
    }

    fn stop(&self, hold: bool) {
        let listener = self.listener.lock().unwrap().take();
        for c in self.shared.conns.lock().unwrap().drain(..) {
            c.abort();
        }
        let Some(l) = listener else { return };
        l.abort();
        if !hold {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let addr = self.addr;
        *self.held.lock().unwrap() = Some(rt.spawn(async move {
            // The listener is closed once its task has ended.
            let _ = l.await;
            for _ in 0..200 {
                // No SO_REUSEADDR: a listener that sets it cannot share
                // the port with this socket either.
                if let Ok(s) = TcpSocket::new_v4()
                    && s.bind(addr).is_ok()
                {
                    return Some(s);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            None
        }));
    }

    /// Back on the same port.
    pub async fn restart(&self) {
        // Let the port go just before listening on it again.
        let held = self.held.lock().unwrap().take();
        if let Some(h) = held {
            drop(h.await);
        }
        let mut tries = 0;
        let l = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot listen on {} again: {e}", self.addr),
            }
        };
        self.mark_resumed();
        self.serve(l);
    }

    /// From the network coming back to the first byte that reached the
    /// server, once it has.
    pub fn back_to_first_byte(&self) -> Option<Duration> {
        let from = (*self.shared.resumed_at.lock().unwrap())?;
        let to = (*self.shared.first_byte.lock().unwrap())?;
        Some(to.saturating_duration_since(from))
    }

    /// The network is back now (for a comeback the relay does not see).
    pub fn mark_resumed(&self) {
        *self.shared.first_byte.lock().unwrap() = None;
        *self.shared.resumed_at.lock().unwrap() = Some(Instant::now());
    }

    fn serve(&self, l: TcpListener) {
        let shared = self.shared.clone();
        let h = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = l.accept().await else {
                    return;
                };
                // Reset, not a clean close, when killed. A zero linger
                // never blocks (the deprecation is about non-zero ones).
                #[allow(deprecated)]
                let _ = client.set_linger(Some(Duration::ZERO));
                let s = shared.clone();
                let conn = tokio::spawn(async move {
                    let Some(up) = *s.upstream.lock().unwrap() else {
                        return;
                    };
                    let Ok(server) = TcpStream::connect(up).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let a = pump(cr, sw, s.clone(), true);
                    let b = pump(sr, cw, s.clone(), false);
                    tokio::join!(a, b);
                });
                let mut conns = shared.conns.lock().unwrap();
                conns.retain(|c| !c.is_finished());
                conns.push(conn);
            }
        });
        *self.listener.lock().unwrap() = Some(h);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop(false);
        if let Some(h) = self.held.lock().unwrap().take() {
            h.abort();
        }
    }
}

async fn pump(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin,
    s: Arc<Shared>,
    upward: bool,
) {
    let mut open = s.open.subscribe();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if open.wait_for(|o| *o).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Bytes read just before a freeze are held, not forwarded.
        if open.wait_for(|o| *o).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
        if upward {
            s.up.fetch_add(n as u64, Ordering::SeqCst);
            // The first part request, not a probe (HEAD), after a comeback.
            if buf[..n].starts_with(b"PUT ") {
                let mut f = s.first_byte.lock().unwrap();
                if f.is_none() {
                    *f = Some(Instant::now());
                }
            }
            let rate = s.rate.load(Ordering::SeqCst);
            if rate > 0 {
                tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
            }
        }
    }
    let _ = to.shutdown().await;
}
