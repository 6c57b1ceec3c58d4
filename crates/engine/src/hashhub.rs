//! One thread hashes the bytes of every part in flight, off the async
//! workers: first the part's MD5 (checked against the storage's ETag),
//! then the file's SHA-256 (the [`OrderedHasher`]).
//!
//! The parts in flight are independent MD5 streams, so they are hashed
//! side by side in the SIMD lanes of `md5-many` (16 with AVX-512, 8 with
//! AVX2, 4 with SSE; chosen at run time by `fearless_simd`, with a scalar
//! path for one stream), as MinIO's md5-simd does in Go: several times
//! less CPU per byte than one stream after another. The hub waits briefly
//! for the lanes to fill: chunks are hashed once a row of lanes has one
//! each (every open part, up to the lanes), or a part has [`PER_PART`] waiting,
//! or one waited [`WAIT`], or a part asks for its digest.
//!
//! Sending does not wait for hashing: a chunk goes to the request body and
//! to the hub at once (shared `Bytes`), and a part that has [`PER_PART`]
//! chunks waiting waits for room before reading more (bounded memory).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use md5_many::{Md5Many, Md5State};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::Error;
use crate::hasher::OrderedHasher;

/// Chunks one part may have waiting for the hub. 8 (of 1 MiB) fill the
/// lanes more often than 4: 1.49 against 1.57 CPU s per GiB sent, 8 parts
/// in flight, 3 runs each; 16 gained nothing more.
pub(crate) const PER_PART: usize = 8;
/// Longest a chunk waits for other parts' chunks to fill the lanes.
const WAIT: Duration = Duration::from_millis(250);

/// A file's SHA-256 to feed with a chunk, and where the chunk starts.
pub(crate) type ShaFeed = Option<(Arc<OrderedHasher>, u64)>;

enum Msg {
    Open(u64),
    Chunk {
        id: u64,
        data: Bytes,
        sha: ShaFeed,
        _room: OwnedSemaphorePermit,
    },
    Finish {
        id: u64,
        reply: oneshot::Sender<[u8; 16]>,
    },
    Close(u64),
}

/// The hashing thread. The engine uses [`Hub::global`]; tests make their
/// own with a chosen SIMD level.
pub(crate) struct Hub {
    tx: mpsc::Sender<Msg>,
    next: AtomicU64,
    lanes: usize,
}

impl Hub {
    /// The process's hub, with the widest SIMD this CPU has (or, with
    /// `FERRY_MD5=scalar` in the environment, one stream at a time: to
    /// measure what the lanes save).
    pub(crate) fn global() -> &'static Hub {
        static HUB: OnceLock<Hub> = OnceLock::new();
        HUB.get_or_init(|| {
            let level = match std::env::var("FERRY_MD5").as_deref() {
                Ok("scalar") => None,
                _ => Some(fearless_simd::Level::new()),
            };
            Hub::new(level)
        })
    }

    /// A hub hashing with `level`'s lanes, or each stream alone (`None`).
    pub(crate) fn new(level: Option<fearless_simd::Level>) -> Hub {
        let (tx, rx) = mpsc::channel();
        let engine = level.map(Md5Many::from_level);
        let lanes = engine.map_or(1, |e| e.lanes());
        // Without a thread nothing is hashed: every part then fails with a
        // typed error when it asks for its digest.
        if let Err(e) = std::thread::Builder::new()
            .name("ferry-hash".into())
            .spawn(move || run(rx, engine))
        {
            tracing::error!("cannot start the hashing thread: {e}");
        }
        Hub {
            tx,
            next: AtomicU64::new(0),
            lanes,
        }
    }

    /// SIMD lanes in use (1: one stream at a time).
    #[allow(dead_code)]
    pub(crate) fn lanes(&self) -> usize {
        self.lanes
    }

    /// A new MD5 stream (one attempt of one part).
    pub(crate) fn open(&self) -> PartHash {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let _ = self.tx.send(Msg::Open(id));
        PartHash {
            id,
            tx: self.tx.clone(),
            room: Arc::new(Semaphore::new(PER_PART)),
            finished: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// One part's stream of chunks to the hub. Dropped unfinished (a failed
/// attempt), its waiting chunks are discarded.
pub(crate) struct PartHash {
    id: u64,
    tx: mpsc::Sender<Msg>,
    room: Arc<Semaphore>,
    finished: std::sync::atomic::AtomicBool,
}

impl PartHash {
    /// Hand a chunk to the hub (and the file's SHA-256 after the MD5);
    /// waits only while the part already has [`PER_PART`] chunks waiting.
    pub(crate) async fn feed(&self, data: Bytes, sha: ShaFeed) {
        let Ok(room) = self.room.clone().acquire_owned().await else {
            return; // never closed
        };
        let _ = self.tx.send(Msg::Chunk {
            id: self.id,
            data,
            sha,
            _room: room,
        });
    }

    /// The MD5 of every chunk fed, once each is hashed (and fed to the
    /// file's SHA-256).
    pub(crate) async fn finish(&self) -> Result<[u8; 16], Error> {
        let (reply, rx) = oneshot::channel();
        self.finished.store(true, Ordering::Relaxed);
        let stopped = || Error::Protocol {
            host: "ferry".into(),
            detail: "the hashing thread stopped".into(),
        };
        self.tx
            .send(Msg::Finish { id: self.id, reply })
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())
    }
}

impl Drop for PartHash {
    fn drop(&mut self) {
        if !self.finished.load(Ordering::Relaxed) {
            let _ = self.tx.send(Msg::Close(self.id));
        }
    }
}

struct Waiting {
    data: Bytes,
    sha: ShaFeed,
    _room: OwnedSemaphorePermit,
}

#[derive(Default)]
struct Stream {
    state: Md5State,
    queue: VecDeque<Waiting>,
    finish: Option<oneshot::Sender<[u8; 16]>>,
}

fn run(rx: mpsc::Receiver<Msg>, engine: Option<Md5Many>) {
    let lanes = engine.map_or(1, |e| e.lanes());
    let mut streams: HashMap<u64, Stream> = HashMap::new();
    let mut oldest: Option<Instant> = None;
    loop {
        let first = match oldest {
            None => match rx.recv() {
                Ok(m) => Some(m),
                Err(_) => return,
            },
            Some(t) => {
                match rx.recv_timeout((t + WAIT).saturating_duration_since(Instant::now())) {
                    Ok(m) => Some(m),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
        };
        let mut take = |m: Msg, streams: &mut HashMap<u64, Stream>| match m {
            Msg::Open(id) => {
                streams.insert(id, Stream::default());
            }
            Msg::Chunk {
                id,
                data,
                sha,
                _room,
            } => {
                if let Some(s) = streams.get_mut(&id) {
                    s.queue.push_back(Waiting { data, sha, _room });
                    oldest.get_or_insert_with(Instant::now);
                }
            }
            Msg::Finish { id, reply } => {
                if let Some(s) = streams.get_mut(&id) {
                    s.finish = Some(reply);
                }
            }
            Msg::Close(id) => {
                streams.remove(&id);
            }
        };
        if let Some(m) = first {
            take(m, &mut streams);
        }
        while let Ok(m) = rx.try_recv() {
            take(m, &mut streams);
        }
        let Some(since) = oldest else {
            // Nothing waits: only digests of empty parts to answer.
            answer(&mut streams);
            continue;
        };
        // A part that asked for its digest, or that has no room left:
        // hashed now, side by side with whatever the others have waiting.
        while streams
            .values()
            .any(|s| !s.queue.is_empty() && (s.finish.is_some() || s.queue.len() >= PER_PART))
        {
            hash_next_chunks(&mut streams, engine, 1);
        }
        // Full rows: a chunk of every open stream, up to the lanes (16
        // with AVX-512: rows of 16 parts cost what rows of 8 do); what
        // waited too long goes anyway.
        let target = lanes.min(streams.len()).max(1);
        while hash_next_chunks(&mut streams, engine, target) {}
        if since.elapsed() >= WAIT {
            while hash_next_chunks(&mut streams, engine, 1) {}
        }
        answer(&mut streams);
        oldest = streams
            .values()
            .any(|s| !s.queue.is_empty())
            .then_some(since);
    }
}

/// Hash one chunk of every stream that has one waiting, the streams side
/// by side in the lanes; nothing when fewer than `width` have one.
fn hash_next_chunks(
    streams: &mut HashMap<u64, Stream>,
    engine: Option<Md5Many>,
    width: usize,
) -> bool {
    let ids: Vec<u64> = streams
        .iter()
        .filter(|(_, s)| !s.queue.is_empty())
        .map(|(id, _)| *id)
        .collect();
    if ids.is_empty() || ids.len() < width {
        return false;
    }
    let mut chunks = Vec::with_capacity(ids.len());
    let mut states = Vec::with_capacity(ids.len());
    for id in &ids {
        let s = streams.get_mut(id).expect("listed");
        chunks.push(s.queue.pop_front().expect("non-empty"));
        states.push(s.state);
    }
    match engine {
        Some(e) if ids.len() > 1 => {
            let mut inputs: Vec<&[u8]> = chunks.iter().map(|c| &c.data[..]).collect();
            // md5-many's fast kernels take whole rows of 8 (AVX2) or of
            // its native lanes, of equal lengths: a narrower row of equal
            // chunks is padded with copies whose digests are dropped (a
            // row of 8 costs about what a row of 3 does on the slow path).
            // With AVX-512 even 8 streams go in a row of 16: 0.35 s per GiB
            // of their data against 0.39 in AVX2's row of 8 (measured here).
            let len = inputs[0].len();
            if inputs.iter().all(|i| i.len() == len) {
                let lanes = e.lanes();
                let row = if ids.len() <= 8 && lanes == 8 {
                    8
                } else {
                    ids.len().div_ceil(lanes) * lanes
                };
                inputs.resize(row, inputs[0]);
                states.resize(row, Md5State::new());
            }
            // Up to three SIMD groups per call (md5-many interleaves
            // them); more parts in flight go in several calls.
            let group = (e.lanes() * 3).clamp(1, 48);
            for (st, inp) in states.chunks_mut(group).zip(inputs.chunks(group)) {
                e.update_many(st, inp);
            }
        }
        _ => {
            for (st, c) in states.iter_mut().zip(&chunks) {
                st.update(&c.data);
            }
        }
    }
    states.truncate(ids.len());
    for ((id, st), c) in ids.iter().zip(states).zip(chunks) {
        streams.get_mut(id).expect("listed").state = st;
        if let Some((h, offset)) = c.sha {
            h.feed(offset, c.data);
        }
    }
    true
}

/// Digests of streams whose chunks are all hashed.
fn answer(streams: &mut HashMap<u64, Stream>) {
    let done: Vec<u64> = streams
        .iter()
        .filter(|(_, s)| s.finish.is_some() && s.queue.is_empty())
        .map(|(id, _)| *id)
        .collect();
    for id in done {
        if let Some(mut s) = streams.remove(&id)
            && let Some(reply) = s.finish.take()
        {
            let _ = reply.send(s.state.finalize());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::Digest;
    use proptest::prelude::*;

    /// Every SIMD level this CPU has, and one stream at a time.
    fn levels() -> Vec<(&'static str, Option<fearless_simd::Level>)> {
        let best = fearless_simd::Level::new();
        let mut v: Vec<(&'static str, Option<fearless_simd::Level>)> = vec![
            ("scalar", None),
            ("baseline", Some(fearless_simd::Level::baseline())),
            ("best", Some(best)),
        ];
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        {
            if let Some(l) = best.as_avx2() {
                v.push(("avx2", Some(fearless_simd::Level::Avx2(l))));
            }
            if let Some(l) = best.as_sse4_2() {
                v.push(("sse4.2", Some(fearless_simd::Level::Sse4_2(l))));
            }
        }
        v
    }

    fn data(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// Streams fed in chunks of random lengths at random offsets into
    /// their buffers (unaligned slices), interleaved: each digest is the
    /// `md-5` crate's of the same bytes, on every SIMD level.
    fn check(parts: &[(usize, u64, Vec<usize>)]) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        for (name, level) in levels() {
            let hub = Hub::new(level);
            let (streams, want): (Vec<_>, Vec<_>) = parts
                .iter()
                .map(|(len, seed, _)| {
                    let d = data(*len + 63, *seed);
                    let skew = (*seed % 64) as usize;
                    let b = Bytes::from(d).slice(skew..skew + *len);
                    let want: [u8; 16] = md5::Md5::digest(&b).into();
                    ((hub.open(), b), want)
                })
                .unzip();
            let got: Vec<[u8; 16]> = rt.block_on(async {
                let mut pos = vec![0usize; parts.len()];
                let mut pass = 0;
                loop {
                    let mut any = false;
                    for (i, (h, b)) in streams.iter().enumerate() {
                        if pos[i] >= b.len() {
                            continue;
                        }
                        let cuts = &parts[i].2;
                        let n = cuts[pass % cuts.len()].min(b.len() - pos[i]);
                        h.feed(b.slice(pos[i]..pos[i] + n), None).await;
                        pos[i] += n;
                        any = true;
                    }
                    if !any {
                        break;
                    }
                    pass += 1;
                }
                let mut out = Vec::new();
                for (h, _) in &streams {
                    out.push(h.finish().await.expect("digest"));
                }
                out
            });
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(
                    hex::encode(g),
                    hex::encode(w),
                    "{name}: stream {i} of {}",
                    parts.len()
                );
            }
        }
    }

    #[test]
    fn many_streams_of_any_length_hash_like_md5() {
        // Empty, under one block, block edges, and a few whole MiB.
        let mut parts = Vec::new();
        for (i, len) in [0usize, 1, 55, 56, 63, 64, 65, 127, 128, 1000, 4096, 3 << 20]
            .into_iter()
            .enumerate()
        {
            parts.push((len, i as u64 + 1, vec![1 << 20, 4097, 64, 1]));
        }
        for _ in 0..6 {
            parts.push((2 << 20, 99, vec![256 << 10]));
        }
        check(&parts);
    }

    #[test]
    fn one_stream_alone() {
        check(&[(5 << 20, 7, vec![1 << 20])]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn random_streams_chunks_and_alignments(
            parts in proptest::collection::vec(
                (0usize..200_000, any::<u64>(), proptest::collection::vec(1usize..70_000, 1..6)),
                1..20,
            )
        ) {
            check(&parts);
        }
    }

    #[test]
    fn chunks_feed_the_file_hash_in_any_order() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let d = Bytes::from(data(10 << 20, 5));
        let sha = Arc::new(OrderedHasher::new());
        let hub = Hub::new(Some(fearless_simd::Level::new()));
        rt.block_on(async {
            // Two "parts" of 5 MiB, fed alternately, the second first.
            let (a, b) = (hub.open(), hub.open());
            let half = 5 << 20;
            for k in 0..5usize {
                let o = k << 20;
                b.feed(
                    d.slice(half + o..half + o + (1 << 20)),
                    Some((sha.clone(), (half + o) as u64)),
                )
                .await;
                a.feed(d.slice(o..o + (1 << 20)), Some((sha.clone(), o as u64)))
                    .await;
            }
            let (ma, mb) = (a.finish().await.unwrap(), b.finish().await.unwrap());
            assert_eq!(ma, <[u8; 16]>::from(md5::Md5::digest(&d[..half])));
            assert_eq!(mb, <[u8; 16]>::from(md5::Md5::digest(&d[half..])));
        });
        assert_eq!(
            sha.finish(d.len() as u64).unwrap(),
            hex::encode(sha2::Sha256::digest(&d))
        );
    }

    #[test]
    fn a_dropped_stream_does_not_hold_the_others() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let hub = Hub::new(Some(fearless_simd::Level::new()));
        rt.block_on(async {
            let idle = hub.open();
            let gone = hub.open();
            gone.feed(Bytes::from_static(b"abc"), None).await;
            drop(gone);
            let h = hub.open();
            h.feed(Bytes::from_static(b"abc"), None).await;
            assert_eq!(
                hex::encode(h.finish().await.unwrap()),
                "900150983cd24fb0d6963f7d28e17f72"
            );
            drop(idle);
        });
    }
}
