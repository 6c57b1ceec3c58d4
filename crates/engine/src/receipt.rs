//! A receipt for any batch of uploads (not only the wizard's): one line per
//! file with the portal, where it went, its name, the portal's id, size,
//! SHA-256, when it was accepted and, for Loculus, when its id expires if
//! it is never attached (at the default retention). Written as CSV and
//! JSON side by side, as the wizard's receipt is, through the same
//! link-refusing temporary-file writer.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::history::Batch;
use crate::loculus::expiry;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptLine {
    /// `loculus`, `onecodex` or `basespace`.
    pub portal: String,
    /// Where the batch went (instance and group, AppResult, ...).
    pub destination: String,
    pub file_name: String,
    /// The portal's id: Loculus fileId, One Codex sample id, BaseSpace
    /// file id.
    pub file_id: String,
    pub size: u64,
    pub sha256: String,
    /// UTC, RFC 3339; empty if the journal predates the field.
    pub uploaded_at: String,
    /// Loculus only: when the id expires unless a submission attaches it,
    /// at Loculus' default retention of 7 days (empty once attached, and
    /// for other portals).
    pub expires_at: String,
}

/// `secs` since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc(secs: u64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(secs.min(i64::MAX as u64) as i64) else {
        return String::new();
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The receipt of `batch`: its accepted files, in the batch's order.
pub fn lines(batch: &Batch) -> Vec<ReceiptLine> {
    batch
        .files
        .iter()
        .filter_map(|f| {
            let id = f.id.clone()?;
            let sha256 = f.sha256.clone()?;
            (f.state == crate::job::FileState::Done).then(|| ReceiptLine {
                portal: batch.portal.name().to_string(),
                destination: batch.destination.clone(),
                file_name: f.name.clone(),
                file_id: id,
                size: f.size,
                sha256,
                uploaded_at: f.uploaded_at.map(utc).unwrap_or_default(),
                expires_at: match (batch.portal.name(), batch.attached, f.uploaded_at) {
                    ("loculus", false, Some(t)) => utc(expiry::expires_at(t)),
                    _ => String::new(),
                },
            })
        })
        .collect()
}

/// Writes `base.csv` and `base.json` (`base` with any extension replaced);
/// the error names the file that could not be written.
pub fn write(base: &Path, lines: &[ReceiptLine]) -> Result<(PathBuf, PathBuf), String> {
    write_rows(base, lines, "the receipt")
}

/// Any receipt's rows as `base.csv` and `base.json`, each through a
/// temporary file and a rename that refuses a link at its path; an error
/// starts with `what` and names the file.
pub(crate) fn write_rows<T: Serialize>(
    base: &Path,
    lines: &[T],
    what: &str,
) -> Result<(PathBuf, PathBuf), String> {
    let csv_path = base.with_extension("csv");
    let json_path = base.with_extension("json");
    let fail = |p: &Path, e: String| format!("{what} {} cannot be written: {e}", p.display());
    let mut w = csv::Writer::from_writer(Vec::new());
    for line in lines {
        w.serialize(line)
            .map_err(|e| fail(&csv_path, e.to_string()))?;
    }
    let csv = w.into_inner().map_err(|e| fail(&csv_path, e.to_string()))?;
    let json = serde_json::to_vec_pretty(lines).map_err(|e| fail(&json_path, e.to_string()))?;
    crate::loculus::batch::replace_file(&csv_path, &csv).map_err(|e| fail(&csv_path, e))?;
    crate::loculus::batch::replace_file(&json_path, &json).map_err(|e| fail(&json_path, e))?;
    Ok((csv_path, json_path))
}

/// Tab-separated name, id, size and SHA-256 with a header line: what
/// **Copy ids** puts on the clipboard, ready for a spreadsheet. Tabs and
/// line breaks inside a name would shift columns: they become spaces.
pub fn tsv<'a>(rows: impl IntoIterator<Item = (&'a str, &'a str, u64, &'a str)>) -> String {
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let mut out = String::from("name\tid\tsize\tsha256\n");
    for (name, id, size, sha) in rows {
        out.push_str(&format!(
            "{}\t{}\t{size}\t{}\n",
            clean(name),
            clean(id),
            clean(sha)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_keeps_its_columns() {
        assert_eq!(
            tsv([("a\tb.fq", "id1", 3, "00")]),
            "name\tid\tsize\tsha256\na b.fq\tid1\t3\t00\n"
        );
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_767_225_600), "2026-01-01T00:00:00Z");
    }
}
