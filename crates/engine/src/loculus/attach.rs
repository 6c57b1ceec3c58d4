//! The metadata table with the uploaded files filled in: each file linked
//! to its row, names no file fills in found, the `files.<category>` columns
//! written as `name:fileId` tokens.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::submit::{AttachedFile, LinkedMetadata};
use crate::Error;
use crate::scan::{ScanProblem, ScanReport};

/// submission id -> category -> [(name, fileId)]
type Linked = BTreeMap<String, BTreeMap<String, Vec<(String, String)>>>;

fn input(path: &Path, reason: impl Into<String>) -> Error {
    Error::Input(ScanReport {
        problems: vec![ScanProblem::Unreadable {
            path: path.to_path_buf(),
            reason: reason.into(),
        }],
    })
}

/// A `files.<category>` cell token in the website's syntax: `name`,
/// `name::relative/path` (both to be filled in) or `name:fileId` (done).
fn token_name(tok: &str) -> (&str, bool) {
    if let Some((name, _path)) = tok.split_once("::") {
        return (name, false);
    }
    match tok.rsplit_once(':') {
        Some((name, _id)) => (name, true),
        None => (tok, false),
    }
}

/// The metadata table as read: its header, its id column and its rows.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Each row's id, in order.
    ids: Vec<String>,
}

impl Table {
    /// Whether row `i`'s cell of column `ci` names `name` for filling in.
    fn names(&self, i: usize, ci: usize, name: &str) -> bool {
        self.rows[i][ci]
            .split_whitespace()
            .any(|t| token_name(t) == (name, false))
    }
}

/// Link `files` to metadata rows and write the `files.<category>` columns.
/// With `columns = false` (legacy) the table is passed through unchanged.
pub fn link_metadata(
    path: &Path,
    raw: &[u8],
    files: &[AttachedFile],
    columns: bool,
) -> Result<LinkedMetadata, Error> {
    let mut table = read_table(path, raw)?;
    let mut problems = Vec::new();
    let linked = link_files(&table, files, &mut problems);
    unfilled_names(&table, &linked, &mut problems);
    if !problems.is_empty() {
        return Err(Error::Input(ScanReport { problems }));
    }
    if !columns {
        return Ok(LinkedMetadata {
            tsv: raw.to_vec(),
            files: linked,
        });
    }
    fill_columns(&mut table, &linked);
    let mut w = csv::WriterBuilder::new()
        .delimiter(b'\t')
        .from_writer(Vec::new());
    w.write_record(&table.header)
        .map_err(|e| input(path, e.to_string()))?;
    for r in &table.rows {
        w.write_record(r).map_err(|e| input(path, e.to_string()))?;
    }
    let tsv = w.into_inner().map_err(|e| input(path, e.to_string()))?;
    Ok(LinkedMetadata { tsv, files: linked })
}

/// The TSV's header and rows, with one id column and at least one row.
fn read_table(path: &Path, raw: &[u8]) -> Result<Table, Error> {
    let mut rd = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .flexible(false)
        .from_reader(raw);
    let headers = rd
        .headers()
        .map_err(|e| input(path, format!("not a valid TSV: {e}")))?
        .clone();
    let header: Vec<String> = headers.iter().map(str::to_string).collect();
    let id_col = match (
        header.iter().position(|h| h == "id"),
        header.iter().position(|h| h == "submissionId"),
    ) {
        (Some(i), None) | (None, Some(i)) => i,
        (Some(_), Some(_)) => {
            return Err(input(
                path,
                "has both an 'id' and a 'submissionId' column; keep one",
            ));
        }
        (None, None) => {
            return Err(input(
                path,
                "has no 'id' column (or the older 'submissionId'); add one naming each submission",
            ));
        }
    };
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (n, rec) in rd.records().enumerate() {
        let rec = rec.map_err(|e| input(path, format!("row {}: {e}", n + 2)))?;
        rows.push(rec.iter().map(str::to_string).collect());
    }
    if rows.is_empty() {
        return Err(input(path, "has no rows; add one row per submission"));
    }
    let ids = rows.iter().map(|r| r[id_col].clone()).collect();
    Ok(Table { header, rows, ids })
}

/// Which rows each file goes to: the row it names, else every row whose
/// cell names it, else the only row. A file with no row is a problem.
fn link_files(table: &Table, files: &[AttachedFile], problems: &mut Vec<ScanProblem>) -> Linked {
    let (ids, rows) = (&table.ids, &table.rows);
    let mut linked = Linked::new();
    for f in files {
        let col = format!("files.{}", f.category);
        let ci = table.header.iter().position(|h| *h == col);
        let row = match &f.submission_id {
            Some(id) => ids.iter().position(|x| x == id).ok_or_else(|| {
                format!("names submission '{id}', which is not a row of the metadata")
            }),
            None => {
                let referenced: Vec<usize> = ci
                    .map(|ci| {
                        (0..rows.len())
                            .filter(|&i| table.names(i, ci, &f.name))
                            .collect()
                    })
                    .unwrap_or_default();
                match (referenced.as_slice(), rows.len()) {
                    ([], 1) => Ok(0),
                    ([], _) => Err(format!(
                        "is not named in any row's '{col}' column; write '{}' into the '{col}' cell of its submission's row",
                        f.name
                    )),
                    (_, _) => Ok(referenced[0]),
                }
            }
        };
        let r = match row {
            Ok(r) => r,
            Err(reason) => {
                problems.push(ScanProblem::BadName {
                    path: PathBuf::from(&f.name),
                    reason: format!("category {}: {reason}", f.category),
                });
                continue;
            }
        };
        // A name in several rows' cells: the same upload is attached to
        // each (Loculus allows one fileId in several entries).
        let mut targets = vec![r];
        if f.submission_id.is_none()
            && let Some(ci) = ci
        {
            targets.extend((0..rows.len()).filter(|&i| i != r && table.names(i, ci, &f.name)));
        }
        for t in targets {
            linked
                .entry(ids[t].clone())
                .or_default()
                .entry(f.category.clone())
                .or_default()
                .push((f.name.clone(), f.file_id.clone()));
        }
    }
    linked
}

/// Names in `files.<category>` cells that no given file fills in.
fn unfilled_names(table: &Table, linked: &Linked, problems: &mut Vec<ScanProblem>) {
    for (ci, h) in table.header.iter().enumerate() {
        let Some(cat) = h.strip_prefix("files.") else {
            continue;
        };
        for (ri, r) in table.rows.iter().enumerate() {
            for tok in r[ci].split_whitespace() {
                let (name, done) = token_name(tok);
                let given = linked
                    .get(&table.ids[ri])
                    .and_then(|c| c.get(cat))
                    .is_some_and(|v| v.iter().any(|(n, _)| n == name));
                if !done && !given {
                    problems.push(ScanProblem::Unreadable {
                        path: PathBuf::from(name),
                        reason: format!(
                            "named in '{h}' of row '{}' but not given; add it with --file {cat}={name}",
                            table.ids[ri]
                        ),
                    });
                }
            }
        }
    }
}

/// Writes the columns: keeps `name:fileId` tokens already there, replaces
/// the names filled in, adds a column for a category the table lacks.
fn fill_columns(table: &mut Table, linked: &Linked) {
    let cats: BTreeSet<String> = linked.values().flat_map(|c| c.keys().cloned()).collect();
    for cat in &cats {
        let col = format!("files.{cat}");
        if !table.header.contains(&col) {
            table.header.push(col);
            for r in table.rows.iter_mut() {
                r.push(String::new());
            }
        }
    }
    for (ci, h) in table.header.iter().enumerate() {
        let Some(cat) = h.strip_prefix("files.") else {
            continue;
        };
        for (ri, r) in table.rows.iter_mut().enumerate() {
            let mut toks: Vec<String> = r[ci]
                .split_whitespace()
                .filter(|t| token_name(t).1)
                .map(str::to_string)
                .collect();
            if let Some(v) = linked.get(&table.ids[ri]).and_then(|c| c.get(cat)) {
                toks.extend(v.iter().map(|(n, id)| format!("{n}:{id}")));
            }
            r[ci] = toks.join(" ");
        }
    }
}
