//! A submission folder's way to the portal, one implementation for the CLI and
//! the app: rows the user excludes, the files to send, the files to attach
//! once they are sent, and the receipt.

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Accession, AttachedFile, Linkage};
use crate::{Error, Item, Uploaded};

impl Linkage {
    /// Leaves the rows with these ids out of the batch: their files are
    /// not sent and their problems no longer block the others.
    pub fn exclude(&mut self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        self.rows.retain(|r| !ids.contains(&r.id));
        self.problems
            .retain(|p| p.submission_id.as_ref().is_none_or(|id| !ids.contains(id)));
    }
}

/// The files to upload, as the engine takes them.
pub fn items(l: &Linkage) -> Result<Vec<Item>, Error> {
    l.uploads()
        .into_iter()
        .map(|(rel, size)| {
            let path = l.path_of(&rel);
            let mtime = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .map_err(|e| Error::Io {
                    path: path.clone(),
                    source: e.into(),
                })?;
            Ok(Item {
                name: crate::scan::name_of(&path),
                path,
                size,
                mtime: Some(mtime),
            })
        })
        .collect()
}

/// The files to attach, from what was uploaded (matched by path);
/// `Err` lists the folder's files that were not uploaded.
pub fn attachments(l: &Linkage, done: &[Uploaded]) -> Result<Vec<AttachedFile>, Vec<String>> {
    let by_path: HashMap<&Path, &Uploaded> = done.iter().map(|u| (u.path.as_path(), u)).collect();
    let mut files = Vec::new();
    let mut unsent = Vec::new();
    for row in &l.rows {
        for (cat, list) in &row.files {
            for lf in list {
                // `name:fileId` tokens stay in the table as they are.
                let Some(rel) = &lf.relative else { continue };
                match by_path.get(l.path_of(rel).as_path()) {
                    Some(u) => files.push(AttachedFile {
                        submission_id: Some(row.id.clone()),
                        category: cat.clone(),
                        name: lf.name.clone(),
                        file_id: u.remote_id.clone(),
                    }),
                    None => unsent.push(rel.clone()),
                }
            }
        }
    }
    if unsent.is_empty() {
        Ok(files)
    } else {
        Err(unsent)
    }
}

/// The sequences to send: the folder's FASTA as it is (compressed or
/// not: Loculus takes both), or, when rows are left out, a plain copy
/// without their records (written to `scratch`), so the portal gets no
/// sequence without its metadata row. A record goes with the row whose
/// `fastaIds` or id it is, or whose id it is with a `_<segment>` suffix.
pub fn sequences_for(l: &Linkage, scratch: &Path) -> std::io::Result<Option<PathBuf>> {
    let Some(rel) = &l.sequences else {
        return Ok(None);
    };
    let path = l.path_of(rel);
    let fasta_col = l.columns.iter().position(|c| c == "fastaIds");
    let (wanted, ids) = super::folder::sequence_ids(fasta_col, &l.rows);
    let reader = super::folder::compressed::open(&path)?;
    // Written as it is read (memory stays small), dropped if nothing is.
    let copy = scratch.join("sequences.fasta");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&copy)?);
    let mut dropped = 0usize;
    // Streamed: a header or sequence need not be UTF-8 to be dropped, and
    // a sequence line of gigabytes is copied in bounded chunks.
    super::fasta::filter(BufReader::new(reader), Some(&mut out), |id| {
        let kept = super::folder::row_of_header(id, &wanted, &ids).is_some();
        dropped += usize::from(!kept);
        kept
    })?;
    out.flush()?;
    if dropped == 0 {
        return Ok(Some(path));
    }
    Ok(Some(copy))
}

/// One line of the receipt: every file of every submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptLine {
    pub submission_id: String,
    pub accession: String,
    pub category: String,
    pub file_name: String,
    pub file_id: String,
    pub size: Option<u64>,
    pub sha256: String,
}

pub fn receipt(l: &Linkage, accessions: &[Accession], done: &[Uploaded]) -> Vec<ReceiptLine> {
    let by_path: HashMap<&Path, &Uploaded> = done.iter().map(|u| (u.path.as_path(), u)).collect();
    let acc: HashMap<&str, String> = accessions
        .iter()
        .map(|a| (a.submission_id.as_str(), a.accession.clone()))
        .collect();
    let mut lines = Vec::new();
    for row in &l.rows {
        let accession = acc.get(row.id.as_str()).cloned().unwrap_or_default();
        let line =
            |category: &str, file_name: &str, file_id: &str, up: Option<&&Uploaded>| ReceiptLine {
                submission_id: row.id.clone(),
                accession: accession.clone(),
                category: category.into(),
                file_name: file_name.into(),
                file_id: file_id.into(),
                size: up.map(|u| u.size),
                sha256: up.map(|u| u.sha256.clone()).unwrap_or_default(),
            };
        if row.files.is_empty() {
            lines.push(line("", "", "", None));
        }
        for (cat, list) in &row.files {
            for lf in list {
                let up = lf
                    .relative
                    .as_ref()
                    .and_then(|r| by_path.get(l.path_of(r).as_path()));
                let id = up
                    .map(|u| u.remote_id.clone())
                    .or_else(|| lf.file_id.clone())
                    .unwrap_or_default();
                lines.push(line(cat, &lf.name, &id, up));
            }
        }
    }
    lines
}

/// Writes `base.csv` and `base.json`; the error names the file that
/// could not be written. Each is written to a temporary file in the same
/// folder and renamed over the receipt, and a link planted at the
/// receipt's path is refused: a receipt never writes through a link.
pub fn write_receipt(base: &Path, lines: &[ReceiptLine]) -> Result<(PathBuf, PathBuf), String> {
    crate::receipt::write_rows(base, lines, "the submission went through, but the receipt")
}

/// `bytes` to `path` through a temporary file and a rename; refuses a
/// link (or anything but a plain file) already at `path`.
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(
                "a link is in its place (someone may want it written elsewhere); remove the link, then submit again"
                    .into(),
            );
        }
        Ok(m) if !m.is_file() => return Err("something else than a file is in its place".into()),
        _ => {}
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let mut tmp = tempfile::NamedTempFile::new_in(dir.unwrap_or(Path::new(".")))
        .map_err(|e| e.to_string())?;
    tmp.write_all(bytes).map_err(|e| e.to_string())?;
    tmp.as_file().sync_all().map_err(|e| e.to_string())?;
    tmp.persist(path).map_err(|e| e.error.to_string())?;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn lines() -> Vec<ReceiptLine> {
        vec![ReceiptLine {
            submission_id: "s1".into(),
            accession: "LOC_1".into(),
            category: "rawReads".into(),
            file_name: "r1.fq".into(),
            file_id: "f".into(),
            size: Some(1),
            sha256: "00".into(),
        }]
    }

    #[test]
    fn a_receipt_never_writes_through_a_planted_link() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim.txt");
        std::fs::write(&victim, b"keep me").unwrap();
        std::os::unix::fs::symlink(&victim, d.path().join("ferry-receipt.csv")).unwrap();
        let e = write_receipt(&d.path().join("ferry-receipt"), &lines()).unwrap_err();
        assert!(e.contains("ferry-receipt.csv") && e.contains("link"), "{e}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
        // Without the link both files are written, and written again.
        std::fs::remove_file(d.path().join("ferry-receipt.csv")).unwrap();
        for _ in 0..2 {
            let (csv, json) = write_receipt(&d.path().join("ferry-receipt"), &lines()).unwrap();
            assert!(std::fs::read_to_string(csv).unwrap().contains("LOC_1"));
            assert!(std::fs::read_to_string(json).unwrap().contains("LOC_1"));
        }
        let left: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(left.len(), 3, "a temporary file was left behind");
    }
}
