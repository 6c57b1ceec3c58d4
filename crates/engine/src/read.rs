//! Reading one part from disk straight into a request body, feeding the
//! file's SHA-256 and the part's MD5 on the way (one read pass).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures::Stream;
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::Error;
use crate::hasher::OrderedHasher;

/// What the reader learned, read back after the request.
#[derive(Default)]
pub(crate) struct ReadOutcome {
    pub md5: Option<Md5>,
    pub read: u64,
    /// A local failure (unreadable, shrunk file): permanent, unlike the
    /// network error reqwest will report for the aborted body.
    pub error: Option<Error>,
}

pub(crate) type Shared = Arc<Mutex<ReadOutcome>>;

/// Stream `len` bytes of `path` from `start` in `chunk`-sized pieces.
/// `on_bytes(n)` is called for each piece once it is handed to the body.
pub(crate) fn part_stream(
    path: PathBuf,
    start: u64,
    len: u64,
    chunk: usize,
    hasher: Arc<OrderedHasher>,
    outcome: Shared,
    on_bytes: impl Fn(u64) + Send + Sync + 'static,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    outcome.lock().expect("outcome").md5 = Some(Md5::new());
    struct St {
        file: Option<tokio::fs::File>,
        pos: u64,
        end: u64,
    }
    let st = St {
        file: None,
        pos: start,
        end: start + len,
    };
    let on_bytes = Arc::new(on_bytes);
    futures::stream::unfold(st, move |mut st| {
        let path = path.clone();
        let hasher = hasher.clone();
        let outcome = outcome.clone();
        let on_bytes = on_bytes.clone();
        async move {
            if st.pos >= st.end {
                return None;
            }
            let want = ((st.end - st.pos) as usize).min(chunk);
            // The process-wide bandwidth limit, if one is set.
            crate::rate::take(want as u64).await;
            let r = read_chunk(&path, &mut st.file, st.pos, want).await;
            match r {
                Ok(bytes) => {
                    hasher.feed(st.pos, bytes.clone()).await;
                    {
                        let mut o = outcome.lock().expect("outcome");
                        if let Some(m) = o.md5.as_mut() {
                            m.update(&bytes);
                        }
                        o.read += bytes.len() as u64;
                    }
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
    hasher: &OrderedHasher,
) -> Result<(Bytes, [u8; 16]), Error> {
    let mut file = None;
    crate::rate::take(len).await;
    let bytes = read_chunk(path, &mut file, start, len as usize).await?;
    hasher.feed(start, bytes.clone()).await;
    let md5: [u8; 16] = Md5::digest(&bytes).into();
    Ok((bytes, md5))
}

async fn read_chunk(
    path: &Path,
    file: &mut Option<tokio::fs::File>,
    pos: u64,
    want: usize,
) -> Result<Bytes, Error> {
    if file.is_none() {
        let mut f = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::io(path, e))?;
        f.seek(std::io::SeekFrom::Start(pos))
            .await
            .map_err(|e| Error::io(path, e))?;
        *file = Some(f);
    }
    let f = file.as_mut().expect("opened");
    let mut buf = BytesMut::zeroed(want);
    let mut filled = 0;
    while filled < want {
        let n = f
            .read(&mut buf[filled..])
            .await
            .map_err(|e| Error::io(path, e))?;
        if n == 0 {
            return Err(Error::FileChanged {
                path: path.to_path_buf(),
                what: format!(
                    "it ended at byte {} but was bigger when scanned",
                    pos + filled as u64
                ),
            });
        }
        filled += n;
    }
    Ok(buf.freeze())
}

/// Feed the file's hash with byte ranges that are not sent again (parts a
/// resumed upload already holds), reading them in order.
pub(crate) async fn hash_ranges(
    path: &Path,
    ranges: &[(u64, u64)],
    chunk: usize,
    hasher: &OrderedHasher,
) -> Result<(), Error> {
    for &(start, end) in ranges {
        let mut file = None;
        let mut pos = start;
        while pos < end {
            let want = ((end - pos) as usize).min(chunk);
            let bytes = read_chunk(path, &mut file, pos, want).await?;
            hasher.feed(pos, bytes).await;
            pos += want as u64;
        }
    }
    Ok(())
}
