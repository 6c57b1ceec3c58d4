//! Reading the metadata and sequences in every compression Loculus takes
//! (`.gz`, `.zst`, `.xz`, `.bz2`, `.lzma`, `.zip` with the first entry
//! read, as the backend does), streamed: nothing is held whole in memory.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

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

/// The decompressed content of `path`, by its suffix (plain when none).
pub fn open(path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
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
