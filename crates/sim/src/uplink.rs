//! A shared bandwidth limit on the storage host: every request body, on
//! every connection, passes one bottleneck of `bytes_per_sec`, as a lab's
//! uplink is shared by all of its connections.
//!
//! The bottleneck is a FIFO timeline: each chunk read reserves its share
//! of time after the chunks before it and is held until then. Held bodies
//! stop being read, so TCP backpressure slows the client, as on a real
//! link. (A token bucket such as `governor` would let a burst through and
//! needs chunks split to its burst size; a link has no burst.)

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The shared bottleneck.
#[derive(Debug)]
pub(crate) struct Uplink {
    bytes_per_sec: f64,
    /// When the bytes reserved so far have all passed.
    free_at: Mutex<Instant>,
}

impl Uplink {
    pub(crate) fn new(bytes_per_sec: u64) -> Arc<Uplink> {
        Arc::new(Uplink {
            bytes_per_sec: bytes_per_sec.max(1) as f64,
            free_at: Mutex::new(Instant::now()),
        })
    }

    /// When `n` bytes read now have passed the bottleneck.
    fn reserve(&self, n: usize) -> Instant {
        let mut free = self.free_at.lock().expect("uplink");
        let start = (*free).max(Instant::now());
        *free = start + Duration::from_secs_f64(n as f64 / self.bytes_per_sec);
        *free
    }
}

/// A request body read no faster than its share of the uplink.
pub(crate) struct Paced<B> {
    inner: B,
    uplink: Arc<Uplink>,
    wait: Option<(Pin<Box<Sleep>>, Frame<Bytes>)>,
}

impl<B> Paced<B> {
    pub(crate) fn new(inner: B, uplink: Arc<Uplink>) -> Self {
        Paced {
            inner,
            uplink,
            wait: None,
        }
    }
}

impl<B> http_body::Body for Paced<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        if let Some((sleep, _)) = &mut self.wait {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let (_, frame) = self.wait.take().expect("held frame");
            return Poll::Ready(Some(Ok(frame)));
        }
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let Poll::Ready(Some(Ok(frame))) = polled else {
            return polled;
        };
        let n = frame.data_ref().map_or(0, Bytes::len);
        if n == 0 {
            return Poll::Ready(Some(Ok(frame)));
        }
        let until = self.uplink.reserve(n);
        let mut sleep = Box::pin(tokio::time::sleep_until(until));
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Ok(frame)));
        }
        self.wait = Some((sleep, frame));
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.wait.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_share_one_rate() {
        let link = Uplink::new(1000);
        let t0 = Instant::now();
        // Two connections each read 1000 bytes: together they take 2 s.
        let a = link.reserve(1000);
        let b = link.reserve(1000);
        assert!(a - t0 >= Duration::from_secs(1));
        assert_eq!(b - a, Duration::from_secs(1));
    }
}
