//! Hostile files made on the fly: gzip bombs and endless lines written as
//! a few compressed blocks repeated, so a 10 GB content costs ~10 MB of
//! disk and no memory to make.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

/// One piece of the content, compressed alone (no back-references to
/// what comes before it) and flushed to a byte boundary, so its
/// compressed bytes can be repeated as they are.
fn deflate_alone(data: &[u8]) -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    c.compress_vec(data, &mut out, flate2::FlushCompress::Sync)
        .unwrap();
    while c.total_in() < data.len() as u64 {
        out.reserve(out.len() + 1024);
        let done = c.total_in() as usize;
        c.compress_vec(&data[done..], &mut out, flate2::FlushCompress::Sync)
            .unwrap();
    }
    out
}

/// A gzip file of `pieces` (bytes, times repeated) in order; returns the
/// decompressed size.
pub fn gzip_of(path: &Path, pieces: &[(&[u8], u64)]) -> u64 {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])
        .unwrap();
    let mut crc = flate2::Crc::new();
    let mut total = 0u64;
    for (data, times) in pieces {
        let block = deflate_alone(data);
        let mut one = flate2::Crc::new();
        one.update(data);
        for _ in 0..*times {
            f.write_all(&block).unwrap();
            crc.combine(&one);
        }
        total += data.len() as u64 * times;
    }
    // The last block: empty, final, fixed Huffman.
    f.write_all(&[0x03, 0x00]).unwrap();
    f.write_all(&crc.sum().to_le_bytes()).unwrap();
    f.write_all(&(total as u32).to_le_bytes()).unwrap();
    f.flush().unwrap();
    total
}

pub const MIB: usize = 1 << 20;

/// A metadata row of 128 bytes (rows must divide 1 MiB).
pub const ROW_128: &[u8] = b"s1\tCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC\n";

/// `header` then rows of `row` (whose length divides 1 MiB) up to `gib`
/// GiB: a metadata table bomb.
pub fn table_bomb(path: &Path, header: &[u8], row: &[u8], gib: u64) -> u64 {
    assert_eq!(MIB % row.len(), 0);
    let unit = row.repeat(MIB / row.len());
    gzip_of(path, &[(header, 1), (&unit, gib * 1024)])
}

/// A FASTA whose first record has one sequence line of `gib` GiB.
pub fn fasta_long_line(path: &Path, gib: u64) -> u64 {
    let unit = vec![b'A'; MIB];
    gzip_of(
        path,
        &[
            (b">s1 long\n", 1),
            (&unit, gib * 1024),
            (b"\n>s2\nACGT\n", 1),
        ],
    )
}

/// The most memory this process has held (VmHWM), in bytes.
pub fn peak_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kb * 1024
}
