//! SHA-256 of a whole file, fed by parts that are read in parallel.
//!
//! Parts read ahead of the hash frontier keep their chunks (shared `Bytes`,
//! the same buffers being sent) until the frontier reaches them; past a cap
//! they wait, so memory stays bounded whatever the file size.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

/// Most bytes held for hashing ahead of the frontier, per file.
const AHEAD_CAP: u64 = 128 * 1024 * 1024;

pub(crate) struct OrderedHasher {
    state: Mutex<State>,
    advanced: Notify,
}

struct State {
    sha: Sha256,
    frontier: u64,
    pending: BTreeMap<u64, Bytes>,
    pending_bytes: u64,
}

impl OrderedHasher {
    pub fn new() -> Self {
        OrderedHasher {
            state: Mutex::new(State {
                sha: Sha256::new(),
                frontier: 0,
                pending: BTreeMap::new(),
                pending_bytes: 0,
            }),
            advanced: Notify::new(),
        }
    }

    /// Feed the chunk that starts at `offset`. Waits while too much is held
    /// ahead of the frontier; the part at the frontier never waits, so this
    /// cannot deadlock as long as parts start in order.
    pub async fn feed(&self, offset: u64, chunk: Bytes) {
        loop {
            let notified = self.advanced.notified();
            {
                let mut s = self.state.lock().expect("hasher lock");
                let end = offset + chunk.len() as u64;
                if end <= s.frontier || (chunk.is_empty() && offset <= s.frontier) {
                    return; // already hashed (a retried part)
                }
                if offset <= s.frontier {
                    let skip = (s.frontier - offset) as usize;
                    s.sha.update(&chunk[skip..]);
                    s.frontier = end;
                    s.drain();
                    drop(s);
                    self.advanced.notify_waiters();
                    return;
                }
                if s.pending.contains_key(&offset) {
                    return;
                }
                if s.pending_bytes + chunk.len() as u64 <= AHEAD_CAP || s.pending.is_empty() {
                    s.pending_bytes += chunk.len() as u64;
                    s.pending.insert(offset, chunk);
                    return;
                }
            }
            notified.await;
        }
    }

    /// The bytes hashed so far, in order.
    pub fn hashed(&self) -> u64 {
        self.state.lock().expect("hasher lock").frontier
    }

    /// Hex digest, or `None` when not every byte up to `size` was seen.
    pub fn finish(&self, size: u64) -> Option<String> {
        let s = self.state.lock().expect("hasher lock");
        (s.frontier == size).then(|| hex::encode(s.sha.clone().finalize()))
    }
}

impl State {
    fn drain(&mut self) {
        while let Some((&off, _)) = self.pending.first_key_value() {
            if off > self.frontier {
                break;
            }
            let (off, chunk) = self.pending.pop_first().expect("non-empty");
            self.pending_bytes -= chunk.len() as u64;
            let end = off + chunk.len() as u64;
            if end > self.frontier {
                let skip = (self.frontier - off) as usize;
                self.sha.update(&chunk[skip..]);
                self.frontier = end;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn out_of_order_and_repeated_chunks_hash_like_the_file() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let h = OrderedHasher::new();
        let chunks: Vec<(u64, Bytes)> = data
            .chunks(1000)
            .enumerate()
            .map(|(i, c)| ((i * 1000) as u64, Bytes::copy_from_slice(c)))
            .collect();
        for i in [3, 1, 2, 1, 0, 5, 4, 9, 8, 7, 6, 0, 3] {
            h.feed(chunks[i].0, chunks[i].1.clone()).await;
        }
        assert_eq!(
            h.finish(data.len() as u64).unwrap(),
            hex::encode(Sha256::digest(&data))
        );
    }

    #[tokio::test]
    async fn incomplete_is_none() {
        let h = OrderedHasher::new();
        h.feed(5, Bytes::from_static(b"abc")).await;
        assert_eq!(h.finish(8), None);
        assert_eq!(h.hashed(), 0);
    }
}
