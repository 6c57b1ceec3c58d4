//! Serving a request handler with hyper on a loopback listener, with shutdown, plus helpers
//! shared by the API and storage wrappers (connection reset, truncated responses).

use std::future::Future;
use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, header};
use bytes::Bytes;
use futures::StreamExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A running listener; dropping the sender or calling [`ServerHandle::stop`] ends it.
pub(crate) struct ServerHandle {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// Stops accepting and aborts open connections.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Binds 127.0.0.1:`port` (0 = random). Only loopback, by design.
pub(crate) async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port)).await
}

/// Serves `handler` on `listener` (HTTP/1.1 and h2c). A handler `Err` makes hyper drop the
/// connection without a response, which is how `Fault::Reset` works.
pub(crate) fn serve<H, F>(listener: TcpListener, handler: H) -> ServerHandle
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<Body>, BoxError>> + Send + 'static,
{
    serve_tls(listener, None, handler)
}

/// [`serve`], over TLS when given an acceptor.
pub(crate) fn serve_tls<H, F>(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handler: H,
) -> ServerHandle
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<Body>, BoxError>> + Send + 'static,
{
    let addr = listener
        .local_addr()
        .expect("bound listener has an address");
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        // Dropping the set at shutdown aborts every open connection.
        let mut conns = JoinSet::new();
        loop {
            while conns.try_join_next().is_some() {}
            let accepted = tokio::select! {
                r = listener.accept() => r,
                _ = stopped.changed() => break,
            };
            let Ok((stream, _)) = accepted else { continue };
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            let tls = tls.clone();
            conns.spawn(async move {
                let svc = hyper::service::service_fn(handler);
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                match tls {
                    // A client that does not trust the certificate ends
                    // the handshake: nothing to serve.
                    Some(tls) => {
                        if let Ok(stream) = tls.accept(stream).await {
                            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                        }
                    }
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                    }
                }
            });
        }
    });
    ServerHandle { addr, stop, task }
}

/// The error a handler returns to reset the connection.
pub(crate) fn reset_error() -> BoxError {
    "ferry-sim: injected connection reset".into()
}

/// Sends `resp`'s status and headers with a `Content-Length` larger than what follows, then
/// aborts the body so the client sees a truncated response.
pub(crate) async fn truncate(resp: Response<Body>) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    let full = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let declared = full.len() + 1024;
    let sent = full.slice(..full.len() / 2);
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(declared));
    // Pause before failing so hyper flushes the headers and the first half first.
    let head = futures::stream::iter([Ok::<Bytes, std::io::Error>(sent)]);
    let tail = futures::stream::once(async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Err(std::io::Error::other("ferry-sim: injected truncation"))
    });
    Response::from_parts(parts, Body::from_stream(head.chain(tail)))
}
