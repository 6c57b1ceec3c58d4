//! Read buffers of one size, taken back when the last `Bytes` cut from
//! them is dropped, to be read into again.
//!
//! Chunks are read on blocking threads and dropped on others (the request
//! body, the hashing thread). Left to the allocator, buffers of a MiB
//! allocated in one thread's arena and freed from another's fragment the
//! heap: the process's memory crept up by about 2 MiB per GiB sent (a
//! 1 TiB file), while what it used stayed flat. Reused, they never reach
//! the allocator after the first parts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

/// Buffers a pool keeps for reuse; more in use at once are freed when
/// let go. A part in flight holds up to about 8 chunks (read ahead, in the
/// request body, waiting to be hashed): enough for 16 parts in flight.
const KEEP: usize = 128;

pub(crate) struct Pool {
    size: usize,
    free: Mutex<Vec<Vec<u8>>>,
}

impl Pool {
    /// The process's pool of buffers of `size` bytes.
    pub(crate) fn of_size(size: usize) -> Arc<Pool> {
        static POOLS: OnceLock<Mutex<HashMap<usize, Arc<Pool>>>> = OnceLock::new();
        let mut pools = POOLS.get_or_init(Default::default).lock().expect("pools");
        pools
            .entry(size)
            .or_insert_with(|| {
                Arc::new(Pool {
                    size,
                    free: Mutex::new(Vec::new()),
                })
            })
            .clone()
    }

    /// An empty buffer of the pool's size (reused when one is free).
    pub(crate) fn take(&self) -> Vec<u8> {
        self.free
            .lock()
            .expect("pool")
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.size))
    }

    /// `buf` as `Bytes`; back to the pool once the last of them is dropped.
    pub(crate) fn freeze(self: &Arc<Self>, buf: Vec<u8>) -> Bytes {
        Bytes::from_owner(Pooled {
            buf,
            pool: self.clone(),
        })
    }

    fn give_back(&self, mut buf: Vec<u8>) {
        // A buffer that had to grow is not of this pool's size.
        if buf.capacity() != self.size {
            return;
        }
        buf.clear();
        let mut free = self.free.lock().expect("pool");
        if free.len() < KEEP {
            free.push(buf);
        }
    }

    #[cfg(test)]
    fn free(&self) -> usize {
        self.free.lock().expect("pool").len()
    }
}

/// A pooled buffer owned by the `Bytes` made of it.
struct Pooled {
    buf: Vec<u8>,
    pool: Arc<Pool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_when_its_last_bytes_go() {
        // A size no other test uses: the pools are the process's.
        let pool = Pool::of_size(4099);
        let mut buf = pool.take();
        buf.extend_from_slice(b"ACGT");
        let ptr = buf.as_ptr();
        let bytes = pool.freeze(buf);
        let part = bytes.slice(1..3);
        drop(bytes);
        assert_eq!(pool.free(), 0, "a slice still holds it");
        assert_eq!(&part[..], b"CG");
        drop(part);
        assert_eq!(pool.free(), 1);
        let again = pool.take();
        assert_eq!(
            (again.as_ptr(), again.len()),
            (ptr, 0),
            "the same buffer, empty"
        );
    }
}
