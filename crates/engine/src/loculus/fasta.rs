//! FASTA read as a stream: headers (capped in length) are handed over one
//! by one, sequence lines are copied or skipped in bounded chunks, so a
//! sequence line of gigabytes never sits in memory.

use std::io::{self, BufRead, Read, Write};

/// The longest header line read (real ones are under a few hundred bytes).
pub const HEADER_CAP: usize = 64 << 10;
/// Sequence bytes are moved in chunks of at most this.
const CHUNK: u64 = 1 << 20;

/// The id of a header line (`>id description`), without the `>`.
fn id_of(header: &[u8]) -> String {
    let h = String::from_utf8_lossy(header.strip_prefix(b">").unwrap_or(header));
    h.split_whitespace().next().unwrap_or_default().to_string()
}

/// Walk `r`: `keep(id)` is asked at each header; the records it keeps are
/// copied to `out` when given (byte for byte, a newline added at the end).
pub fn filter(
    mut r: impl BufRead,
    mut out: Option<&mut dyn Write>,
    mut keep: impl FnMut(&str) -> bool,
) -> io::Result<()> {
    let (mut line_start, mut keeping) = (true, true);
    let mut chunk = Vec::new();
    loop {
        let first = match r.fill_buf()? {
            [] => break,
            b => b[0],
        };
        chunk.clear();
        let header = line_start && first == b'>';
        let cap = if header { HEADER_CAP as u64 } else { CHUNK };
        (&mut r).take(cap).read_until(b'\n', &mut chunk)?;
        let ended = chunk.last() == Some(&b'\n');
        if header {
            if !ended && !r.fill_buf()?.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "a header line (starting {:?}) is longer than {} KiB; FASTA headers are short, is this really a FASTA?",
                        String::from_utf8_lossy(&chunk[..chunk.len().min(40)]),
                        HEADER_CAP >> 10
                    ),
                ));
            }
            keeping = keep(&id_of(&chunk));
        }
        if keeping && let Some(o) = out.as_mut() {
            o.write_all(&chunk)?;
            if !ended && r.fill_buf()?.is_empty() {
                o.write_all(b"\n")?;
            }
        }
        line_start = ended;
    }
    Ok(())
}

/// The ids of every record, in order.
pub fn ids(r: impl Read) -> io::Result<Vec<String>> {
    let mut ids = Vec::new();
    filter(io::BufReader::new(r), None, |id| {
        ids.push(id.to_string());
        true
    })?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_filtered_copies() {
        let fa = b">s1 one\nACGT\nAC\n>s2\r\nGG\n>s3\nTT";
        assert_eq!(ids(&fa[..]).unwrap(), ["s1", "s2", "s3"]);
        let mut out = Vec::new();
        filter(&fa[..], Some(&mut out), |id| id != "s2").unwrap();
        assert_eq!(out, b">s1 one\nACGT\nAC\n>s3\nTT\n");
        // A '>' inside a sequence line is no header.
        assert_eq!(ids(&b">a\nAC>GT\n>b\n"[..]).unwrap(), ["a", "b"]);
        assert_eq!(ids(&b""[..]).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn an_endless_header_is_refused() {
        let mut fa = b">".to_vec();
        fa.extend(std::iter::repeat_n(b'x', HEADER_CAP + 10));
        fa.extend(b"\nACGT\n");
        let e = ids(&fa[..]).unwrap_err();
        assert!(e.to_string().contains("longer than 64 KiB"), "{e}");
    }
}
