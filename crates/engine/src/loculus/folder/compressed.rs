//! Reading the metadata and sequences in every compression Loculus takes
//! (`.gz`, `.zst`, `.xz`, `.bz2`, `.lzma`, `.zip` with the first entry
//! read, as the backend does), streamed: nothing is held whole in memory.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// A metadata table decompresses to at most this: far above a real one
/// (100,000 rows of 300 bytes are 30 MB), far below a `.gz` bomb's gigabytes.
pub const TABLE_CAP: u64 = 64 << 20;
/// The most rows a metadata table may have (each is held in memory).
pub const MAX_ROWS: usize = 1_000_000;
/// The longest line of a metadata table.
pub const LINE_CAP: usize = 1 << 20;

/// The compression suffixes Loculus accepts after `.tsv` or a FASTA's.
pub const COMPRESSED: &[&str] = &["gz", "zst", "xz", "zip", "bz2", "lzma"];

/// The compression of `name` by its suffix, if any (lowercase).
pub fn compression_of(name: &str) -> Option<String> {
    let (_, ext) = name.rsplit_once('.')?;
    let ext = ext.to_ascii_lowercase();
    COMPRESSED.contains(&ext.as_str()).then_some(ext)
}

/// `name` without its compression suffix.
pub fn base_name(name: &str) -> &str {
    match name.rsplit_once('.') {
        Some((base, _)) if compression_of(name).is_some() => base,
        _ => name,
    }
}

fn invalid(path: &Path, what: &str, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("{} is not a valid {what} file ({e})", path.display()),
    )
}

/// The decompressed content of `path`, by its suffix (plain when none);
/// a read that fails says which compression it expected.
pub fn open(path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
    let name = path.to_string_lossy();
    let reader = open_raw(path)?;
    Ok(match compression_of(&name) {
        Some(what) => Box::new(Labeled {
            inner: reader,
            what,
        }),
        None => reader,
    })
}

/// Read errors of a decompressor, named by its format.
struct Labeled<R> {
    inner: R,
    what: String,
}

impl<R: Read> Read for Labeled<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            std::io::Error::new(e.kind(), format!("not valid {} data: {e}", self.what))
        })
    }
}

fn open_raw(path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
    let name = path.to_string_lossy();
    let file = File::open(path)?;
    Ok(match compression_of(&name).as_deref() {
        None => Box::new(file),
        Some("gz") => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file))),
        Some("zst") => {
            Box::new(zstd::stream::read::Decoder::new(file).map_err(|e| invalid(path, "zstd", e))?)
        }
        Some("xz") => Box::new(lzma_rust2::XzReader::new(BufReader::new(file), true)),
        Some("lzma") => Box::new(
            lzma_rust2::LzmaReader::new_mem_limit(BufReader::new(file), u32::MAX, None)
                .map_err(|e| invalid(path, "lzma", e))?,
        ),
        Some("bz2") => Box::new(bzip2::read::MultiBzDecoder::new(BufReader::new(file))),
        Some("zip") => first_zip_entry(path, file)?,
        Some(_) => unreachable!("compression_of returns only COMPRESSED"),
    })
}

/// The first entry of a zip (what the backend reads), streamed from its
/// place in the file; stored or deflated, the methods zip tools write.
fn first_zip_entry(path: &Path, file: File) -> std::io::Result<Box<dyn Read + Send>> {
    let mut archive = zip::ZipArchive::new(file).map_err(|e| invalid(path, "zip", e))?;
    let (method, start, size) = {
        let entry = archive
            .by_index_raw(0)
            .map_err(|e| invalid(path, "zip", format!("no first entry: {e}")))?;
        (
            entry.compression(),
            entry.data_start(),
            entry.compressed_size(),
        )
    };
    let mut file = archive.into_inner();
    file.seek(SeekFrom::Start(start))?;
    let raw = BufReader::new(file).take(size);
    match method {
        zip::CompressionMethod::Stored => Ok(Box::new(raw)),
        zip::CompressionMethod::Deflated => Ok(Box::new(flate2::read::DeflateDecoder::new(raw))),
        other => Err(invalid(
            path,
            "zip",
            format!(
                "its first entry is compressed with {other}; Ferry reads stored or deflated entries, zip it again with the default method"
            ),
        )),
    }
}

/// A metadata table's content, as [`open`] gives it, refused (an
/// `InvalidData` error naming the file and the limit) past [`TABLE_CAP`]
/// bytes or a line past [`LINE_CAP`].
pub fn open_table(path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
    Ok(Box::new(Bounded {
        inner: open(path)?,
        left: TABLE_CAP,
        line: 0,
        path: path.to_path_buf(),
    }))
}

/// A whole metadata table, decompressed, within the caps of [`open_table`].
pub fn read_table(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    open_table(path)?.read_to_end(&mut raw)?;
    Ok(raw)
}

struct Bounded<R> {
    inner: R,
    left: u64,
    /// Bytes of the line not yet ended.
    line: usize,
    path: PathBuf,
}

fn too_big(path: &Path, what: String) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!(
            "{} {what}; a metadata table is far smaller: is it the right file (or a damaged one)?",
            path.display()
        ),
    )
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(too_big(
                &self.path,
                format!("decompresses to more than {} MiB", TABLE_CAP >> 20),
            ));
        }
        self.left -= n as u64;
        // Only the bytes after the last newline are scanned, unless a
        // line could be too long: then every line of the chunk is measured.
        let chunk = &buf[..n];
        match chunk.iter().rposition(|b| *b == b'\n') {
            None => self.line += n,
            Some(last) => {
                if self.line + last > LINE_CAP {
                    let mut run = self.line;
                    for &b in &chunk[..last] {
                        if b == b'\n' {
                            if run > LINE_CAP {
                                break;
                            }
                            run = 0;
                        } else {
                            run += 1;
                        }
                    }
                    if run > LINE_CAP {
                        return Err(too_big(
                            &self.path,
                            format!("has a line longer than {} MiB", LINE_CAP >> 20),
                        ));
                    }
                }
                self.line = n - last - 1;
            }
        }
        if self.line > LINE_CAP {
            return Err(too_big(
                &self.path,
                format!("has a line longer than {} MiB", LINE_CAP >> 20),
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_read_within_their_caps() {
        let d = tempfile::tempdir().unwrap();
        let ok = d.path().join("m.tsv");
        std::fs::write(&ok, "id\tcountry\ns1\tCH\n").unwrap();
        assert_eq!(read_table(&ok).unwrap(), b"id\tcountry\ns1\tCH\n");
        // One line just past the cap, then a short one: refused.
        let long = d.path().join("long.tsv");
        let mut text = vec![b'x'; LINE_CAP + 1];
        text.extend(b"\nid\n");
        std::fs::write(&long, &text).unwrap();
        let e = read_table(&long).unwrap_err().to_string();
        assert!(
            e.contains("long.tsv") && e.contains("line longer than 1 MiB"),
            "{e}"
        );
        // Many lines of exactly the cap are fine.
        let edge = d.path().join("edge.tsv");
        let mut text = Vec::new();
        for _ in 0..3 {
            text.extend(std::iter::repeat_n(b'y', LINE_CAP));
            text.push(b'\n');
        }
        std::fs::write(&edge, &text).unwrap();
        assert_eq!(read_table(&edge).unwrap().len(), text.len());
    }
}
