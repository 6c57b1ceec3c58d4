//! Reading one part from disk straight into a request body. Chunks are
//! read on a blocking thread into pooled buffers (`bufpool`: no
//! `tokio::fs` copy, no zeroing before a read, no fresh allocation per
//! chunk once earlier ones were let go) and handed both to the body and to
//! the hashing thread (`hashhub`: the part's MD5 and the file's SHA-256,
//! one pass over each chunk).

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::Stream;
use md5::{Digest, Md5};

use crate::Error;
use crate::bufpool::Pool;
use crate::hasher::OrderedHasher;
use crate::hashhub::PartHash;

/// What the reader learned, read back after the request.
#[derive(Default)]
pub(crate) struct ReadOutcome {
    pub read: u64,
    /// A local failure (unreadable, shrunk file): permanent, unlike the
    /// network error reqwest will report for the aborted body.
    pub error: Option<Error>,
}

pub(crate) type Shared = Arc<Mutex<ReadOutcome>>;

/// A file open for sequential reads into pooled buffers.
pub(crate) struct Reader {
    path: PathBuf,
    file: Option<std::fs::File>,
    /// Buffers of the chunk size; `None`: one buffer of each read's size
    /// (a whole part read at once).
    pool: Option<Arc<Pool>>,
}

impl Reader {
    pub(crate) fn new(path: PathBuf, chunk: usize) -> Reader {
        Reader {
            path,
            file: None,
            pool: Some(Pool::of_size(chunk.max(1))),
        }
    }

    /// A reader whose reads each get a buffer of their own.
    fn unpooled(path: PathBuf) -> Reader {
        Reader {
            path,
            file: None,
            pool: None,
        }
    }

    /// `want` bytes from `pos` (the file is opened at the first read, and
    /// then read in order).
    fn read(&mut self, pos: u64, want: usize) -> Result<Bytes, Error> {
        let path = &self.path;
        if self.file.is_none() {
            let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            f.seek(std::io::SeekFrom::Start(pos))
                .map_err(|e| Error::io(path, e))?;
            self.file = Some(f);
        }
        let f = self.file.as_mut().expect("opened");
        let mut buf = match &self.pool {
            Some(pool) => pool.take(),
            None => Vec::with_capacity(want),
        };
        // `read_to_end` reads into the buffer's spare room as it is: no
        // zeroing first (as `resize` then `read` would).
        let got = f.take(want as u64).read_to_end(&mut buf);
        let failed = match got {
            Ok(n) if n == want => None,
            Ok(n) => Some(Error::FileChanged {
                path: path.to_path_buf(),
                what: format!(
                    "it ended at byte {} but was bigger when scanned",
                    pos + n as u64
                ),
            }),
            Err(e) => Some(Error::io(path, e)),
        };
        if let Some(e) = failed {
            self.file = None;
            return Err(e);
        }
        Ok(match &self.pool {
            Some(pool) => pool.freeze(buf),
            None => Bytes::from(buf),
        })
    }

    /// [`Reader::read`] on a blocking thread.
    async fn read_blocking(self, pos: u64, want: usize) -> (Reader, Result<Bytes, Error>) {
        let path = self.path.clone();
        let mut r = self;
        match tokio::task::spawn_blocking(move || {
            let got = r.read(pos, want);
            (r, got)
        })
        .await
        {
            Ok(x) => x,
            Err(join) => (
                Reader::new(path, want),
                Err(Error::Protocol {
                    host: "ferry".into(),
                    detail: format!("reading task failed: {join}"),
                }),
            ),
        }
    }
}

/// Stream `len` bytes of `path` from `start` in `chunk`-sized pieces,
/// each fed to `md5` (and then to the file's `sha`, when it is kept).
/// `on_bytes(n)` is called for each piece once it is handed to the body.
#[allow(clippy::too_many_arguments)]
pub(crate) fn part_stream(
    path: PathBuf,
    start: u64,
    len: u64,
    chunk: usize,
    sha: Option<Arc<OrderedHasher>>,
    md5: Arc<PartHash>,
    outcome: Shared,
    on_bytes: impl Fn(u64) + Send + Sync + 'static,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    struct St {
        reader: Option<Reader>,
        pos: u64,
        end: u64,
    }
    let st = St {
        reader: Some(Reader::new(path.clone(), chunk)),
        pos: start,
        end: start + len,
    };
    let chunk = chunk.max(1);
    let on_bytes = Arc::new(on_bytes);
    futures::stream::unfold(st, move |mut st| {
        let sha = sha.clone();
        let md5 = md5.clone();
        let outcome = outcome.clone();
        let on_bytes = on_bytes.clone();
        let path = path.clone();
        async move {
            if st.pos >= st.end {
                return None;
            }
            let want = ((st.end - st.pos) as usize).min(chunk);
            // The process-wide bandwidth limit, if one is set.
            crate::rate::take(want as u64).await;
            let reader = st.reader.take().unwrap_or_else(|| Reader::new(path, chunk));
            let (reader, r) = reader.read_blocking(st.pos, want).await;
            st.reader = Some(reader);
            match r {
                Ok(bytes) => {
                    md5.feed(bytes.clone(), sha.map(|h| (h, st.pos))).await;
                    outcome.lock().expect("outcome").read += bytes.len() as u64;
                    st.pos += bytes.len() as u64;
                    on_bytes(bytes.len() as u64);
                    Some((Ok(bytes), st))
                }
                Err(e) => {
                    let msg = e.to_string();
                    outcome.lock().expect("outcome").error = Some(e);
                    st.pos = st.end;
                    Some((Err(std::io::Error::other(msg)), st))
                }
            }
        }
    })
}

/// Read a whole part into memory (for portals that want `Content-MD5`
/// before the body; their parts are small, at most 25 MB).
pub(crate) async fn read_part(
    path: &Path,
    start: u64,
    len: u64,
    hasher: Option<&OrderedHasher>,
) -> Result<(Bytes, [u8; 16]), Error> {
    crate::rate::take(len).await;
    let reader = Reader::unpooled(path.to_path_buf());
    let (_, bytes) = reader.read_blocking(start, len as usize).await;
    let bytes = bytes?;
    let b = bytes.clone();
    let md5 = tokio::task::spawn_blocking(move || <[u8; 16]>::from(Md5::digest(&b)))
        .await
        .map_err(|join| Error::Protocol {
            host: "ferry".into(),
            detail: format!("hashing task failed: {join}"),
        })?;
    if let Some(h) = hasher {
        h.feed(start, bytes.clone());
    }
    Ok((bytes, md5))
}

/// Feed the file's hash with byte ranges that are not sent again (parts a
/// resumed upload already holds), reading them in order, each chunk read
/// and hashed on a blocking thread.
pub(crate) async fn hash_ranges(
    path: &Path,
    ranges: &[(u64, u64)],
    chunk: usize,
    hasher: &Arc<OrderedHasher>,
) -> Result<(), Error> {
    let chunk = chunk.max(1);
    for &(start, end) in ranges {
        let mut reader = Reader::new(path.to_path_buf(), chunk);
        let mut pos = start;
        while pos < end {
            let want = ((end - pos) as usize).min(chunk);
            let h = hasher.clone();
            let (r, got) = tokio::task::spawn_blocking(move || {
                let got = reader.read(pos, want).map(|b| h.feed(pos, b));
                (reader, got)
            })
            .await
            .map_err(|join| Error::Protocol {
                host: "ferry".into(),
                detail: format!("hashing task failed: {join}"),
            })?;
            got?;
            reader = r;
            pos += want as u64;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_the_file_and_a_short_file_says_where_it_ended() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.fq");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        // A chunk size no other test uses: the pools are the process's.
        let mut r = Reader::new(p.clone(), 4093);
        let mut got = Vec::new();
        let mut pos = 0;
        while pos < data.len() {
            let want = (data.len() - pos).min(4093);
            let b = r.read(pos as u64, want).unwrap();
            assert_eq!(b.len(), want);
            got.extend_from_slice(&b);
            pos += want;
        }
        assert_eq!(got, data);
        let mut r = Reader::new(p, 4093);
        match r.read(8_000, 4093) {
            Err(Error::FileChanged { what, .. }) => {
                assert!(what.contains("ended at byte 10000"), "{what}")
            }
            other => panic!("{other:?}"),
        }
    }
}
