//! scan for a submission folder: a metadata table, a FASTA and extra files, linked
//! to submissions the ways Loculus users know, checked all at once.
//!
//! Layouts (both may be mixed):
//! - (a) `<id>/<file>` or `<id>/<category>/<file>`: one folder per submission
//!   id (the website's older bulk layout); files directly in `<id>/` go to
//!   the organism's only category.
//! - (b) `files.<category>` cells naming files by path, in the website's
//!   syntax: `path` (stored under its file name), `name::path` (stored as
//!   `name`), `name:fileId` (an earlier upload, passed through).
//!
//! Dot-files and dot-folders are skipped, as the website does. The
//! metadata table may be `.tsv` or `.csv`, and it and the FASTA plain or
//! compressed as Loculus takes them (`.gz`, `.zst`, `.xz`, `.bz2`,
//! `.lzma`, `.zip`); both are read decompressed (see [`compressed`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::names;

/// Top-level files whose name starts with this are Ferry's own receipts.
pub const RECEIPT_PREFIX: &str = "ferry-receipt";

const FASTA_EXT: &[&str] = &["fasta", "fa", "fna", "fas", "seq"];

pub mod compressed;
mod link;

pub use link::link_folder;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// No table, several tables, an unreadable table, bad id column or ids.
    Metadata,
    /// Files in a folder named after no metadata row.
    NoMetadataRow,
    /// A file linked to no submission.
    Unlinked,
    /// The FASTA is missing, unreadable, doubled, or not allowed.
    Sequences,
    /// A row without its sequence.
    MissingSequence,
    /// A sequence without a row.
    SequenceWithoutRow,
    BadName,
    DuplicateName,
    Empty,
    Unreadable,
    UnknownCategory,
    /// A file directly in `<id>/` when the organism has several categories.
    NoCategory,
    /// A `files.<category>` cell names a file that is not in the folder.
    MissingFile,
    FilesNotEnabled,
}

/// One problem: what, where, and (in `message`) how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    pub kind: ProblemKind,
    pub submission_id: Option<String>,
    pub category: Option<String>,
    /// Relative to the folder.
    pub path: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A file attached to a submission in one category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkedFile {
    /// The name Loculus will show.
    pub name: String,
    /// Path relative to the folder; `None` for a reused `name:fileId`.
    pub relative: Option<String>,
    pub size: u64,
    /// Set for a `name:fileId` cell token (an earlier upload).
    pub file_id: Option<String>,
}

/// One metadata row and what goes with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowLink {
    pub id: String,
    /// 1-based record number (the header not counted), as Loculus counts.
    pub record: usize,
    pub cells: Vec<String>,
    /// `None`: the FASTA could not be read for ids (or none is needed).
    pub sequence: Option<bool>,
    /// category -> files, in order.
    pub files: BTreeMap<String, Vec<LinkedFile>>,
}

/// The linkage report of a submission folder: every row and every problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Linkage {
    pub folder: PathBuf,
    pub organism: String,
    /// Relative to the folder.
    pub metadata: Option<String>,
    pub sequences: Option<String>,
    pub columns: Vec<String>,
    pub rows: Vec<RowLink>,
    pub problems: Vec<Problem>,
}

impl Linkage {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The files to upload: each path once (several rows may share one),
    /// relative to the folder, with its size.
    pub fn uploads(&self) -> Vec<(String, u64)> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for r in &self.rows {
            for f in r.files.values().flatten() {
                if let Some(rel) = &f.relative
                    && seen.insert(rel.clone())
                {
                    out.push((rel.clone(), f.size));
                }
            }
        }
        out
    }

    pub fn path_of(&self, relative: &str) -> PathBuf {
        self.folder.join(relative)
    }

    /// The table as TSV with each `files.<category>` cell reduced to its
    /// `name:fileId` tokens; the submit step adds the new uploads' tokens.
    pub fn base_tsv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::WriterBuilder::new()
            .delimiter(b'\t')
            .from_writer(Vec::new());
        w.write_record(&self.columns)?;
        for r in &self.rows {
            let cells: Vec<String> = self
                .columns
                .iter()
                .zip(&r.cells)
                .map(|(h, c)| match h.strip_prefix("files.") {
                    Some(cat) => r
                        .files
                        .get(cat)
                        .into_iter()
                        .flatten()
                        .filter_map(|f| f.file_id.as_ref().map(|id| format!("{}:{id}", f.name)))
                        .collect::<Vec<_>>()
                        .join(" "),
                    None => c.clone(),
                })
                .collect();
            w.write_record(&cells)?;
        }
        w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
    }
}

fn problem(
    kind: ProblemKind,
    id: Option<&str>,
    cat: Option<&str>,
    path: Option<&str>,
    message: String,
) -> Problem {
    Problem {
        kind,
        submission_id: id.map(str::to_string),
        category: cat.map(str::to_string),
        path: path.map(str::to_string),
        message,
    }
}

/// Files under `dir`, relative paths with `/`, dot-paths skipped.
fn walk(dir: &Path, rel: &str, out: &mut Vec<String>, problems: &mut Vec<Problem>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            let shown = if rel.is_empty() { "." } else { rel };
            problems.push(problem(
                ProblemKind::Unreadable,
                None,
                None,
                Some(shown),
                format!("{shown}/: the folder cannot be read ({e}); check its permissions"),
            ));
            return;
        }
    };
    let mut names: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(n, _)| !n.starts_with('.'))
        .collect();
    names.sort();
    for (name, path) in names {
        let r = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        // Not following folder links keeps a link loop from hanging the scan.
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, &r, out, problems),
            _ => out.push(r),
        }
    }
}

fn ext_is(name: &str, exts: &[&str]) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, e)| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

fn is_fasta(name: &str) -> bool {
    ext_is(compressed::base_name(name), FASTA_EXT)
}

/// A metadata table, plain or compressed.
fn is_table(name: &str) -> bool {
    ext_is(compressed::base_name(name), &["tsv", "csv"])
}

/// Pick the one file of a kind at the top level, or say why not.
fn pick<'a>(
    found: &[&'a String],
    what: &str,
    preferred_stem: &str,
    problems: &mut Vec<Problem>,
) -> Option<&'a String> {
    match found {
        [] => None,
        [one] => Some(one),
        many => {
            let pref: Vec<&&String> = many
                .iter()
                .filter(|n| n.split('.').next() == Some(preferred_stem))
                .collect();
            if let [one] = pref.as_slice() {
                return Some(one);
            }
            let list: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
            problems.push(problem(
                if what == "metadata table" {
                    ProblemKind::Metadata
                } else {
                    ProblemKind::Sequences
                },
                None,
                None,
                None,
                format!(
                    "the folder has {} {what}s ({}); keep one, or name the one to use '{preferred_stem}.<ext>'",
                    many.len(),
                    list.join(", ")
                ),
            ));
            None
        }
    }
}

struct Table {
    columns: Vec<String>,
    id_col: usize,
    rows: Vec<(usize, Vec<String>)>,
}

fn read_table(path: &Path, rel: &str, problems: &mut Vec<Problem>) -> Option<Table> {
    let delimiter = if ext_is(compressed::base_name(rel), &["csv"]) {
        b','
    } else {
        b'\t'
    };
    let mut bad = |msg: String| {
        problems.push(problem(
            ProblemKind::Metadata,
            None,
            None,
            Some(rel),
            format!("{rel}: {msg}"),
        ))
    };
    let file = match compressed::open_table(path) {
        Ok(f) => f,
        Err(e) => {
            bad(format!("cannot be read ({e}); check that you may read it"));
            return None;
        }
    };
    let mut rd = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(BufReader::new(file));
    let columns: Vec<String> = match rd.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_string()).collect(),
        Err(e) => {
            bad(format!("is not a valid table ({e})"));
            return None;
        }
    };
    let id_col = match (
        columns.iter().position(|h| h == "id"),
        columns.iter().position(|h| h == "submissionId"),
    ) {
        (Some(i), None) | (None, Some(i)) => i,
        (Some(_), Some(_)) => {
            bad("has both an 'id' and a 'submissionId' column; keep one".into());
            return None;
        }
        (None, None) => {
            bad(
                "has no 'id' column (or the older 'submissionId'); add one naming each submission"
                    .into(),
            );
            return None;
        }
    };
    let mut dup_cols = BTreeSet::new();
    let mut seen_cols = BTreeSet::new();
    for c in &columns {
        if !seen_cols.insert(c) {
            dup_cols.insert(c.as_str());
        }
    }
    if !dup_cols.is_empty() {
        let list: Vec<&str> = dup_cols.into_iter().collect();
        bad(format!(
            "has the column(s) {} more than once; keep one of each",
            list.join(", ")
        ));
    }
    let mut rows = Vec::new();
    let mut unreadable_rows = false;
    for (i, rec) in rd.records().enumerate() {
        let n = i + 1;
        // Rows are held in memory: a table of millions of tiny rows (a
        // bomb) would take gigabytes even within the byte cap.
        if n > compressed::MAX_ROWS {
            bad(format!(
                "has more than {} rows; split it into several submissions",
                compressed::MAX_ROWS
            ));
            return None;
        }
        match rec {
            Ok(r) if r.len() != columns.len() => {
                unreadable_rows = true;
                bad(format!(
                    "record {n} has {} cells but the header has {} columns; fix that line",
                    r.len(),
                    columns.len()
                ))
            }
            Ok(r) => rows.push((n, r.iter().map(|c| c.trim().to_string()).collect())),
            // The file itself failed (damaged, a bomb): nothing after it
            // can be read, and one message says so.
            Err(e) if e.is_io_error() => {
                bad(format!("record {n} cannot be read ({e})"));
                return None;
            }
            Err(e) => {
                unreadable_rows = true;
                bad(format!("record {n} cannot be read ({e})"))
            }
        }
    }
    if rows.is_empty() && !unreadable_rows {
        bad("has no rows; add one row per submission".into());
    }
    Some(Table {
        columns,
        id_col,
        rows,
    })
}

/// Sequence ids of a FASTA, plain or compressed (streamed).
fn fasta_ids(path: &Path) -> std::io::Result<Vec<String>> {
    super::fasta::ids(compressed::open(path)?)
}

/// The FASTA ids the rows want (a row's `fastaIds`, or its id) -> the
/// row's id, and the ids the `<id>_<segment>` rule may match (none when
/// the table lists `fastaIds`: then they are exact).
pub fn sequence_ids(
    fasta_col: Option<usize>,
    rows: &[RowLink],
) -> (HashMap<String, String>, BTreeSet<String>) {
    let mut wanted = HashMap::new();
    for row in rows {
        match fasta_col {
            Some(c) => {
                for w in row.cells[c].split_whitespace() {
                    wanted.insert(w.to_string(), row.id.clone());
                }
            }
            None => {
                wanted.insert(row.id.clone(), row.id.clone());
            }
        }
    }
    let ids = match fasta_col {
        Some(_) => BTreeSet::new(),
        None => rows.iter().map(|r| r.id.clone()).collect(),
    };
    (wanted, ids)
}

/// The row a FASTA header belongs to: the row whose `fastaIds` (or, without
/// that column, whose id) it is, or, for a multi-segment organism's
/// `<id>_<segment>`, the row `<id>` (split at the last `_`, as the backend
/// does).
pub fn row_of_header<'a>(
    header: &str,
    wanted: &'a HashMap<String, String>,
    ids: &'a BTreeSet<String>,
) -> Option<&'a str> {
    if let Some(row) = wanted.get(header) {
        return Some(row);
    }
    let (id, segment) = header.rsplit_once('_')?;
    (!segment.is_empty())
        .then(|| ids.get(id).map(String::as_str))
        .flatten()
}

/// A `files.<category>` token in the website's syntax.
enum Token<'a> {
    /// A file in the folder, to be stored as `name`.
    Path { name: &'a str, path: &'a str },
    /// An earlier upload.
    Reused { name: &'a str, file_id: &'a str },
}

fn parse_token(tok: &str) -> Token<'_> {
    if let Some((name, path)) = tok.split_once("::") {
        return Token::Path { name, path };
    }
    match tok.rsplit_once(':') {
        Some((name, file_id)) => Token::Reused { name, file_id },
        None => Token::Path {
            name: tok.rsplit('/').next().unwrap_or(tok),
            path: tok,
        },
    }
}

#[cfg(test)]
mod tests;
