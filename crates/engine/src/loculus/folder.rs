//! scan for a batch folder: a metadata table, a FASTA and extra files, linked
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

use super::info::OrganismInfo;
use super::names;

/// Top-level files whose name starts with this are Ferry's own receipts.
pub const RECEIPT_PREFIX: &str = "ferry-receipt";

const FASTA_EXT: &[&str] = &["fasta", "fa", "fna", "fas", "seq"];

pub mod compressed;

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

/// The linkage report of a batch folder: every row and every problem.
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

/// Read `dir` and link its files to the rows of its metadata for `organism`.
/// Pure apart from reading the folder: nothing is sent.
pub fn link_folder(dir: &Path, organism: &OrganismInfo) -> Linkage {
    let mut problems = Vec::new();
    let mut all = Vec::new();
    walk(dir, "", &mut all, &mut problems);

    let top: Vec<&String> = all.iter().filter(|r| !r.contains('/')).collect();
    let tables: Vec<&String> = top
        .iter()
        .copied()
        .filter(|n| is_table(n) && !n.starts_with(RECEIPT_PREFIX))
        .collect();
    let metadata = pick(&tables, "metadata table", "metadata", &mut problems).cloned();
    if tables.is_empty() {
        problems.push(problem(
            ProblemKind::Metadata,
            None,
            None,
            None,
            "the folder has no metadata table; add metadata.tsv (or .csv) with an 'id' column, one row per submission".into(),
        ));
    }
    let table = metadata
        .as_ref()
        .and_then(|m| read_table(&dir.join(m), m, &mut problems));
    let (columns, id_col, raw_rows) = match table {
        Some(t) => (t.columns, t.id_col, t.rows),
        None => (vec![], 0, vec![]),
    };
    let cats: &[String] = &organism.categories;

    // Rows and their ids.
    let mut rows: Vec<RowLink> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (n, cells) in raw_rows {
        let id = cells[id_col].clone();
        let meta = metadata.as_deref();
        if id.is_empty() {
            problems.push(problem(
                ProblemKind::Metadata,
                None,
                None,
                meta,
                format!(
                    "record {n} has no id; fill in its '{}' cell",
                    columns[id_col]
                ),
            ));
            continue;
        }
        if id.chars().any(char::is_whitespace) {
            problems.push(problem(ProblemKind::Metadata, Some(&id), None, meta,
                format!("record {n}: the id '{id}' contains whitespace, which Loculus refuses; remove it")));
        }
        if by_id.contains_key(&id) {
            problems.push(problem(
                ProblemKind::Metadata,
                Some(&id),
                None,
                meta,
                format!(
                    "record {n}: the id '{id}' is used by an earlier row too; ids must be unique"
                ),
            ));
            continue;
        }
        by_id.insert(id.clone(), rows.len());
        rows.push(RowLink {
            id,
            record: n,
            cells,
            sequence: None,
            files: BTreeMap::new(),
        });
    }

    let files_unsupported = |problems: &mut Vec<Problem>, what: &str| {
        problems.push(problem(
            ProblemKind::FilesNotEnabled,
            None,
            None,
            None,
            format!(
                "organism '{}' takes no extra files, but {what}; remove them or choose an organism that takes files",
                organism.key
            ),
        ));
    };
    let known = |c: &str| cats.iter().any(|k| k == c);
    let cat_list = cats.join(", ");

    // Layout (b): the `files.<category>` cells.
    let file_set: BTreeSet<&str> = all.iter().map(String::as_str).collect();
    let mut by_file_name: HashMap<&str, Vec<&str>> = HashMap::new();
    for f in &all {
        by_file_name
            .entry(f.rsplit('/').next().unwrap_or(f))
            .or_default()
            .push(f);
    }
    let mut referenced: BTreeSet<String> = BTreeSet::new();
    let mut reported_cols = false;
    for (ci, col) in columns.iter().enumerate() {
        let Some(cat) = col.strip_prefix("files.") else {
            continue;
        };
        let meta = metadata.as_deref();
        if !organism.files_enabled {
            if !reported_cols {
                files_unsupported(&mut problems, &format!("the metadata has a '{col}' column"));
                reported_cols = true;
            }
            continue;
        }
        if !known(cat) {
            problems.push(problem(ProblemKind::UnknownCategory, None, Some(cat), meta,
                format!("column '{col}': '{cat}' is not a file category of '{}'; use one of: {cat_list}", organism.key)));
            continue;
        }
        for row in rows.iter_mut() {
            for tok in row.cells[ci].split_whitespace() {
                match parse_token(tok) {
                    Token::Reused { name, file_id } => {
                        row.files
                            .entry(cat.to_string())
                            .or_default()
                            .push(LinkedFile {
                                name: name.to_string(),
                                relative: None,
                                size: 0,
                                file_id: Some(file_id.to_string()),
                            });
                    }
                    Token::Path { name, path } => {
                        let clean = path.trim_start_matches("./");
                        let hit = if file_set.contains(clean) {
                            Some(clean.to_string())
                        } else if !clean.contains('/') {
                            // A bare name found once anywhere in the folder.
                            match by_file_name.get(clean).map(Vec::as_slice) {
                                Some([one]) => Some(one.to_string()),
                                _ => None,
                            }
                        } else {
                            None
                        };
                        match hit {
                            Some(rel) => {
                                referenced.insert(rel.clone());
                                row.files
                                    .entry(cat.to_string())
                                    .or_default()
                                    .push(LinkedFile {
                                        name: name.to_string(),
                                        relative: Some(rel),
                                        size: 0,
                                        file_id: None,
                                    });
                            }
                            None => {
                                let why = match by_file_name.get(clean).map(Vec::len) {
                                    Some(n) if n > 1 => format!("{n} files in the folder have that name; write its path, e.g. '{}'", by_file_name[clean][0]),
                                    _ => "no such file in the folder (dot-files and dot-folders are skipped); add it or fix the name".into(),
                                };
                                problems.push(problem(
                                    ProblemKind::MissingFile,
                                    Some(&row.id),
                                    Some(cat),
                                    Some(path),
                                    format!(
                                        "row '{}', column '{col}': '{path}' not found: {why}",
                                        row.id
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
        }
    }

    // The sequences: a top-level FASTA that no cell names as an extra file.
    let fastas: Vec<&String> = top
        .iter()
        .copied()
        .filter(|n| is_fasta(n) && !referenced.contains(*n))
        .collect();
    let sequences = pick(&fastas, "sequence file", "sequences", &mut problems).cloned();

    // Layout (a): `<id>/[<category>/]<file>`.
    let special: BTreeSet<&str> = metadata
        .iter()
        .chain(sequences.iter())
        .map(String::as_str)
        .collect();
    let mut stray_folders: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reported_folders: BTreeSet<String> = BTreeSet::new();
    let mut any_folder_files = false;
    for rel in &all {
        if referenced.contains(rel) || special.contains(rel.as_str()) {
            continue;
        }
        let segs: Vec<&str> = rel.split('/').collect();
        if segs.len() == 1 {
            // Other tables, FASTAs and receipts were reported or are ours.
            if rel.starts_with(RECEIPT_PREFIX) || tables.contains(&rel) || fastas.contains(&rel) {
                continue;
            }
            problems.push(problem(ProblemKind::Unlinked, None, None, Some(rel),
                format!("{rel}: not linked to any submission; move it into the folder of its submission id, name it in a files.<category> cell, or move it out of the folder")));
            continue;
        }
        let Some(&ri) = by_id.get(segs[0]) else {
            *stray_folders.entry(segs[0]).or_default() += 1;
            continue;
        };
        let id = rows[ri].id.clone();
        if !organism.files_enabled {
            any_folder_files = true;
            continue;
        }
        let cat = match segs.len() {
            2 => match cats {
                [one] => one.clone(),
                _ => {
                    problems.push(problem(ProblemKind::NoCategory, Some(&id), None, Some(rel),
                        format!("{rel}: '{}' has several file categories ({cat_list}); move it into {id}/<category>/", organism.key)));
                    continue;
                }
            },
            3 => {
                let c = segs[1];
                if !known(c) {
                    let folder = format!("{}/{}", segs[0], c);
                    if reported_folders.insert(folder.clone()) {
                        problems.push(problem(ProblemKind::UnknownCategory, Some(&id), Some(c), Some(&folder),
                            format!("{folder}/: '{c}' is not a file category of '{}'; rename the folder to one of: {cat_list}", organism.key)));
                    }
                    continue;
                }
                c.to_string()
            }
            _ => {
                problems.push(problem(ProblemKind::Unlinked, Some(&id), None, Some(rel),
                    format!("{rel}: too deep to link; put it at {id}/<category>/<file> or name it in a files.<category> cell")));
                continue;
            }
        };
        let name = segs[segs.len() - 1].to_string();
        rows[ri].files.entry(cat).or_default().push(LinkedFile {
            name,
            relative: Some(rel.clone()),
            size: 0,
            file_id: None,
        });
    }
    if any_folder_files {
        files_unsupported(&mut problems, "the folder has files in submission folders");
    }
    // Without a table every folder would be "stray": the table's own
    // problem says it all.
    for (folder, n) in stray_folders.into_iter().filter(|_| !columns.is_empty()) {
        let fix = format!(
            "add a row with id '{folder}', rename the folder to a submission id, or name its files in files.<category> cells"
        );
        problems.push(problem(
            ProblemKind::NoMetadataRow,
            Some(folder),
            None,
            Some(folder),
            format!(
                "{folder}/ ({n} file{}): no metadata row has the id '{folder}'; {fix}",
                if n == 1 { "" } else { "s" }
            ),
        ));
    }

    // Sizes, readability, names, duplicates.
    let mut stat: HashMap<String, Option<u64>> = HashMap::new();
    for row in rows.iter_mut() {
        for (cat, files) in row.files.iter_mut() {
            let mut names_seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for f in files.iter_mut() {
                let shown = f.relative.clone().unwrap_or_else(|| f.name.clone());
                names_seen
                    .entry(f.name.clone())
                    .or_default()
                    .push(shown.clone());
                if let Err(reason) = names::check(&f.name) {
                    problems.push(problem(
                        ProblemKind::BadName,
                        Some(&row.id),
                        Some(cat),
                        Some(&shown),
                        format!(
                            "{shown}: Loculus refuses the name '{}': {reason}; rename the file",
                            f.name
                        ),
                    ));
                }
                let Some(rel) = &f.relative else { continue };
                let size = stat.entry(rel.clone()).or_insert_with(|| {
                    let p = dir.join(rel);
                    let checked = std::fs::metadata(&p).and_then(|m| {
                        if m.is_file() {
                            std::fs::File::open(&p).map(|_| m.len())
                        } else {
                            Err(std::io::Error::other("not a regular file"))
                        }
                    });
                    match checked {
                        Ok(0) => {
                            problems.push(problem(ProblemKind::Empty, Some(&row.id), Some(cat), Some(rel),
                                format!("{rel}: is empty; Loculus cannot take an empty file, remove it or replace it")));
                            None
                        }
                        Ok(n) => Some(n),
                        Err(e) => {
                            problems.push(problem(ProblemKind::Unreadable, Some(&row.id), Some(cat), Some(rel),
                                format!("{rel}: cannot be read ({e}); check that it exists and that you may read it")));
                            None
                        }
                    }
                });
                f.size = size.unwrap_or(0);
            }
            for (name, paths) in names_seen {
                if paths.len() > 1 {
                    problems.push(problem(ProblemKind::DuplicateName, Some(&row.id), Some(cat), Some(&paths[1]),
                        format!("submission '{}', category {cat}: {} files are named '{name}' ({}); names must be unique within a category, rename all but one", row.id, paths.len(), paths.join(", "))));
                }
            }
        }
    }

    // Sequences.
    let fasta_col = columns.iter().position(|c| c == "fastaIds");
    match (&sequences, organism.consensus_sequences) {
        (None, true) if fastas.len() <= 1 => problems.push(problem(ProblemKind::Sequences, None, None, None,
            format!("organism '{}' needs consensus sequences: add a FASTA (e.g. sequences.fasta) whose headers are the submission ids", organism.key))),
        (Some(s), false) => problems.push(problem(ProblemKind::Sequences, None, None, Some(s),
            format!("{s}: organism '{}' takes no sequences; move the file out of the folder", organism.key))),
        (Some(s), true) => match fasta_ids(&dir.join(s)) {
            Err(e) => problems.push(problem(ProblemKind::Sequences, None, None, Some(s),
                format!("{s}: cannot be read ({e}); check the file"))),
            Ok(ids) => {
                let (wanted, row_ids) = sequence_ids(fasta_col, &rows);
                // Which row each header goes to; the rest have none.
                let mut got: HashMap<&str, BTreeSet<&str>> = HashMap::new();
                let mut extra_seen = BTreeSet::new();
                for h in &ids {
                    match row_of_header(h, &wanted, &row_ids) {
                        Some(row) => {
                            got.entry(row).or_default().insert(h);
                        }
                        // Named after the row it looks like a segment of, if
                        // any, so leaving that row out clears it too.
                        None if extra_seen.insert(h) => problems.push(problem(ProblemKind::SequenceWithoutRow,
                            Some(h.rsplit_once('_').map(|(id, _)| id).filter(|id| rows.iter().any(|r| r.id == *id)).unwrap_or(h)), None, Some(s),
                            format!("{s}: the sequence '{h}' has no metadata row; add a row with that id (multi-segment: '<id>_<segment>') or remove the sequence"))),
                        None => {}
                    }
                }
                for row in rows.iter_mut() {
                    let have = got.get(row.id.as_str());
                    // Listed fastaIds must all be there; without the column,
                    // the id itself or any of its segments will do.
                    let missing: Vec<String> = match fasta_col {
                        Some(c) => row.cells[c]
                            .split_whitespace()
                            .filter(|w| !have.is_some_and(|h| h.contains(w)))
                            .map(str::to_string)
                            .collect(),
                        None if have.is_some() => vec![],
                        None => vec![row.id.clone()],
                    };
                    row.sequence = Some(missing.is_empty() && have.is_some());
                    if missing.is_empty() && have.is_none() {
                        problems.push(problem(ProblemKind::MissingSequence, Some(&row.id), None, metadata.as_deref(),
                            format!("row '{}': its fastaIds cell is empty, which Loculus refuses; name its sequences there (space-separated)", row.id)));
                    }
                    if !missing.is_empty() {
                        problems.push(problem(ProblemKind::MissingSequence, Some(&row.id), None, Some(s),
                            format!("row '{}': no sequence '{}' in {s}; add it (the header is '>' and the id, or '<id>_<segment>' for each segment)", row.id, missing.join("', '"))));
                    }
                }
            }
        },
        _ => {}
    }

    Linkage {
        folder: dir.to_path_buf(),
        organism: organism.key.clone(),
        metadata,
        sequences,
        columns,
        rows,
        problems,
    }
}

#[cfg(test)]
mod tests;
