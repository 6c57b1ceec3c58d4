//! SHA-256 of a whole file, fed by parts that are read in parallel.
//!
//! Parts read ahead of the hash frontier keep their chunks (shared `Bytes`,
//! the same buffers being sent) until the frontier reaches them. Past a cap
//! their chunks are dropped instead ("spilled"): sending never waits for
//! hashing, memory stays bounded whatever the part size, and the spilled
//! bytes are read once more from disk by a catch-up reader (see
//! `transfer::finish_inner`). Plans of a few huge parts (deadline plans for
//! links that expire) spill; ordinary plans of 8 MiB parts never do.
//!
//! Once a chunk was dropped, the frontier cannot pass it before that
//! read, so chunks past it are dropped too (and those held are let go):
//! held, they would only take memory for the whole upload (128 MiB of a
//! 1 TiB file sent over hours).

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

/// Most bytes held for hashing ahead of the frontier, per file.
const AHEAD_CAP: u64 = 128 * 1024 * 1024;

pub(crate) struct OrderedHasher {
    state: Mutex<State>,
    cap: u64,
    spilled: Notify,
}

struct State {
    sha: Sha256,
    frontier: u64,
    pending: BTreeMap<u64, Bytes>,
    pending_bytes: u64,
    /// Where the first chunk ahead of the frontier that was dropped
    /// starts: the frontier will only pass it through a read from disk.
    spilled: Option<u64>,
}

impl OrderedHasher {
    pub fn new() -> Self {
        Self::with_cap(AHEAD_CAP)
    }

    pub fn with_cap(cap: u64) -> Self {
        OrderedHasher {
            state: Mutex::new(State {
                sha: Sha256::new(),
                frontier: 0,
                pending: BTreeMap::new(),
                pending_bytes: 0,
                spilled: None,
            }),
            cap,
            spilled: Notify::new(),
        }
    }

    /// Feed the chunk that starts at `offset`. Never waits: a chunk that
    /// would hold more than the cap ahead of the frontier is dropped and
    /// the hasher marked as spilled.
    pub fn feed(&self, offset: u64, chunk: Bytes) {
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
            return;
        }
        if s.pending.contains_key(&offset) {
            return;
        }
        let held = s.spilled.is_none_or(|gap| offset < gap);
        if held && s.pending_bytes + chunk.len() as u64 <= self.cap {
            s.pending_bytes += chunk.len() as u64;
            s.pending.insert(offset, chunk);
            return;
        }
        if s.spilled.is_some_and(|gap| gap <= offset) {
            return;
        }
        let first = s.spilled.is_none();
        s.spilled = Some(offset);
        // What waits past the gap could only be hashed after the read
        // from disk, which reads it anyway.
        let past = s.pending.split_off(&offset);
        s.pending_bytes -= past.values().map(|c| c.len() as u64).sum::<u64>();
        drop(past);
        if first {
            drop(s);
            self.spilled.notify_one();
        }
    }

    /// Resolves once a chunk was dropped (at once if one already was).
    pub async fn spill(&self) {
        if self.state.lock().expect("hasher lock").spilled.is_some() {
            return;
        }
        // notify_one keeps a permit for a waiter that comes later.
        self.spilled.notified().await;
    }

    pub fn has_spilled(&self) -> bool {
        self.state.lock().expect("hasher lock").spilled.is_some()
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
            h.feed(chunks[i].0, chunks[i].1.clone());
        }
        assert_eq!(
            h.finish(data.len() as u64).unwrap(),
            hex::encode(Sha256::digest(&data))
        );
    }

    #[tokio::test]
    async fn chunks_past_the_cap_are_dropped_not_waited_for_and_read_again() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 13 % 251) as u8).collect();
        let h = OrderedHasher::with_cap(2000);
        // Two parts far ahead of the frontier: the cap holds two chunks.
        for off in [5000usize, 6000, 7000, 8000] {
            h.feed(off as u64, Bytes::copy_from_slice(&data[off..off + 1000]));
        }
        assert!(h.has_spilled());
        h.spill().await; // resolves at once once spilled
        // The frontier part, then a catch-up reader from the frontier on.
        for off in (0..10_000).step_by(1000) {
            h.feed(off as u64, Bytes::copy_from_slice(&data[off..off + 1000]));
        }
        assert_eq!(
            h.finish(data.len() as u64).unwrap(),
            hex::encode(Sha256::digest(&data))
        );
    }

    #[tokio::test]
    async fn after_a_spill_nothing_past_the_gap_is_held() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 11 % 251) as u8).collect();
        let chunk = |off: usize| Bytes::copy_from_slice(&data[off..off + 1000]);
        let h = OrderedHasher::with_cap(3000);
        for off in [5000, 6000, 7000] {
            h.feed(off as u64, chunk(off));
        }
        assert_eq!(h.state.lock().unwrap().pending_bytes, 3000);
        // No room for 2000: the gap is there, and what waits past it goes.
        h.feed(2000, chunk(2000));
        assert!(h.has_spilled());
        assert_eq!(h.state.lock().unwrap().pending_bytes, 0);
        h.feed(1000, chunk(1000)); // before the gap: held
        h.feed(8000, chunk(8000)); // past it: not
        assert_eq!(h.state.lock().unwrap().pending_bytes, 1000);
        h.feed(0, chunk(0));
        assert_eq!(h.hashed(), 2000);
        // The read from disk, from the frontier on.
        for off in (2000..10_000).step_by(1000) {
            h.feed(off as u64, chunk(off));
        }
        assert_eq!(
            h.finish(data.len() as u64).unwrap(),
            hex::encode(Sha256::digest(&data))
        );
    }

    #[tokio::test]
    async fn incomplete_is_none() {
        let h = OrderedHasher::new();
        h.feed(5, Bytes::from_static(b"abc"));
        assert_eq!(h.finish(8), None);
        assert_eq!(h.hashed(), 0);
    }
}
