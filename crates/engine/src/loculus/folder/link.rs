//! Linking a submission folder, phase by phase: find its table, read its rows,
//! follow the `files.<category>` cells (layout b), then the submission
//! folders (layout a), check every file, and match the sequences.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use super::{
    Linkage, LinkedFile, Problem, ProblemKind, RECEIPT_PREFIX, RowLink, Token, fasta_ids, is_fasta,
    is_table, names, parse_token, pick, problem, read_table, row_of_header, sequence_ids, walk,
};
use crate::loculus::info::OrganismInfo;

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
    let meta = metadata.as_deref();
    let (mut rows, by_id) = index_rows(raw_rows, id_col, &columns, meta, &mut problems);
    let referenced = link_cells(&all, &columns, &mut rows, organism, meta, &mut problems);

    // The sequences: a top-level FASTA that no cell names as an extra file.
    let fastas: Vec<&String> = top
        .iter()
        .copied()
        .filter(|n| is_fasta(n) && !referenced.contains(*n))
        .collect();
    let sequences = pick(&fastas, "sequence file", "sequences", &mut problems).cloned();

    let skipped = Skipped {
        referenced: &referenced,
        metadata: meta,
        sequences: sequences.as_deref(),
        tables: &tables,
        fastas: &fastas,
    };
    let has_table = !columns.is_empty();
    link_folders(
        &all,
        &skipped,
        has_table,
        &mut rows,
        &by_id,
        organism,
        &mut problems,
    );
    check_files(dir, &mut rows, &mut problems);
    let fasta_col = columns.iter().position(|c| c == "fastaIds");
    let seq = Sequences {
        file: sequences.as_deref(),
        candidates: fastas.len(),
        fasta_col,
        metadata: meta,
    };
    check_sequences(dir, organism, &seq, &mut rows, &mut problems);

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

/// The table's rows by id: a row without an id or with an id used before
/// is left out, and said.
fn index_rows(
    raw_rows: Vec<(usize, Vec<String>)>,
    id_col: usize,
    columns: &[String],
    meta: Option<&str>,
    problems: &mut Vec<Problem>,
) -> (Vec<RowLink>, HashMap<String, usize>) {
    let mut rows: Vec<RowLink> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (n, cells) in raw_rows {
        let id = cells[id_col].clone();
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
    (rows, by_id)
}

/// The problem of files given to an organism that takes none.
fn files_unsupported(organism: &OrganismInfo, what: &str) -> Problem {
    problem(
        ProblemKind::FilesNotEnabled,
        None,
        None,
        None,
        format!(
            "organism '{}' takes no extra files, but {what}; remove them or choose an organism that takes files",
            organism.key
        ),
    )
}

/// Layout (b): each row's `files.<category>` cells, linked to the files
/// they name (or to earlier uploads). Returns the files named.
fn link_cells(
    all: &[String],
    columns: &[String],
    rows: &mut [RowLink],
    organism: &OrganismInfo,
    meta: Option<&str>,
    problems: &mut Vec<Problem>,
) -> BTreeSet<String> {
    let cats: &[String] = &organism.categories;
    let cat_list = cats.join(", ");
    let file_set: BTreeSet<&str> = all.iter().map(String::as_str).collect();
    let mut by_file_name: HashMap<&str, Vec<&str>> = HashMap::new();
    for f in all {
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
        if !organism.files_enabled {
            if !reported_cols {
                problems.push(files_unsupported(
                    organism,
                    &format!("the metadata has a '{col}' column"),
                ));
                reported_cols = true;
            }
            continue;
        }
        if !cats.iter().any(|k| k == cat) {
            problems.push(problem(ProblemKind::UnknownCategory, None, Some(cat), meta,
                format!("column '{col}': '{cat}' is not a file category of '{}'; use one of: {cat_list}", organism.key)));
            continue;
        }
        for row in rows.iter_mut() {
            for tok in row.cells[ci].split_whitespace() {
                let found = match parse_token(tok) {
                    Token::Reused { name, file_id } => LinkedFile {
                        name: name.to_string(),
                        relative: None,
                        size: 0,
                        file_id: Some(file_id.to_string()),
                    },
                    Token::Path { name, path } => match find_file(path, &file_set, &by_file_name) {
                        Ok(rel) => {
                            referenced.insert(rel.clone());
                            LinkedFile {
                                name: name.to_string(),
                                relative: Some(rel),
                                size: 0,
                                file_id: None,
                            }
                        }
                        Err(why) => {
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
                            continue;
                        }
                    },
                };
                row.files.entry(cat.to_string()).or_default().push(found);
            }
        }
    }
    referenced
}

/// The folder's file a cell's path names: that path, or a bare name found
/// once anywhere in the folder. `Err`: why none is.
fn find_file(
    path: &str,
    file_set: &BTreeSet<&str>,
    by_file_name: &HashMap<&str, Vec<&str>>,
) -> Result<String, String> {
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
    hit.ok_or_else(|| match by_file_name.get(clean).map(Vec::len) {
        Some(n) if n > 1 => format!(
            "{n} files in the folder have that name; write its path, e.g. '{}'",
            by_file_name[clean][0]
        ),
        _ => "no such file in the folder (dot-files and dot-folders are skipped); add it or fix the name".into(),
    })
}

/// Files that layout (a) leaves alone: those the cells named, the table
/// and FASTA in use, and the other top-level tables and FASTAs (reported
/// when picked).
struct Skipped<'a> {
    referenced: &'a BTreeSet<String>,
    metadata: Option<&'a str>,
    sequences: Option<&'a str>,
    tables: &'a [&'a String],
    fastas: &'a [&'a String],
}

/// Layout (a): `<id>/[<category>/]<file>`, each file linked to the row of
/// its folder; files and folders linked to no row are said.
fn link_folders(
    all: &[String],
    skipped: &Skipped<'_>,
    has_table: bool,
    rows: &mut [RowLink],
    by_id: &HashMap<String, usize>,
    organism: &OrganismInfo,
    problems: &mut Vec<Problem>,
) {
    let cats: &[String] = &organism.categories;
    let cat_list = cats.join(", ");
    let special: BTreeSet<&str> = skipped
        .metadata
        .iter()
        .chain(skipped.sequences.iter())
        .copied()
        .collect();
    let mut stray_folders: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reported_folders: BTreeSet<String> = BTreeSet::new();
    let mut any_folder_files = false;
    for rel in all {
        if skipped.referenced.contains(rel) || special.contains(rel.as_str()) {
            continue;
        }
        let segs: Vec<&str> = rel.split('/').collect();
        if segs.len() == 1 {
            // Other tables, FASTAs and receipts were reported or are ours.
            if rel.starts_with(RECEIPT_PREFIX)
                || skipped.tables.contains(&rel)
                || skipped.fastas.contains(&rel)
            {
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
                if !cats.iter().any(|k| k == c) {
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
        problems.push(files_unsupported(
            organism,
            "the folder has files in submission folders",
        ));
    }
    // Without a table every folder would be "stray": the table's own
    // problem says it all.
    for (folder, n) in stray_folders.into_iter().filter(|_| has_table) {
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
}

/// Every linked file's size, readability and name; names repeated within
/// one submission's category.
fn check_files(dir: &Path, rows: &mut [RowLink], problems: &mut Vec<Problem>) {
    // Each file is looked at once, however many rows name it.
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
                let size = stat
                    .entry(rel.clone())
                    .or_insert_with(|| file_size(dir, rel, &row.id, cat, problems));
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
}

/// The size of a linked file that can be sent; `None` (and the problem
/// said) when it is empty or cannot be read.
fn file_size(
    dir: &Path,
    rel: &str,
    id: &str,
    cat: &str,
    problems: &mut Vec<Problem>,
) -> Option<u64> {
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
            problems.push(problem(
                ProblemKind::Empty,
                Some(id),
                Some(cat),
                Some(rel),
                format!(
                    "{rel}: is empty; Loculus cannot take an empty file, remove it or replace it"
                ),
            ));
            None
        }
        Ok(n) => Some(n),
        Err(e) => {
            problems.push(problem(
                ProblemKind::Unreadable,
                Some(id),
                Some(cat),
                Some(rel),
                format!(
                    "{rel}: cannot be read ({e}); check that it exists and that you may read it"
                ),
            ));
            None
        }
    }
}

/// What the sequence check needs to know of the folder and its table.
struct Sequences<'a> {
    /// The FASTA picked, if any.
    file: Option<&'a str>,
    /// How many top-level FASTAs there were to pick from.
    candidates: usize,
    /// The table's `fastaIds` column, if it has one.
    fasta_col: Option<usize>,
    metadata: Option<&'a str>,
}

/// The FASTA against the organism and the rows: each row's sequences are
/// there, each sequence has a row.
fn check_sequences(
    dir: &Path,
    organism: &OrganismInfo,
    seq: &Sequences<'_>,
    rows: &mut [RowLink],
    problems: &mut Vec<Problem>,
) {
    match (seq.file, organism.consensus_sequences) {
        (None, true) if seq.candidates <= 1 => problems.push(problem(ProblemKind::Sequences, None, None, None,
            format!("organism '{}' needs consensus sequences: add a FASTA (e.g. sequences.fasta) whose headers are the submission ids", organism.key))),
        (Some(s), false) => problems.push(problem(ProblemKind::Sequences, None, None, Some(s),
            format!("{s}: organism '{}' takes no sequences; move the file out of the folder", organism.key))),
        (Some(s), true) => match fasta_ids(&dir.join(s)) {
            Err(e) => problems.push(problem(ProblemKind::Sequences, None, None, Some(s),
                format!("{s}: cannot be read ({e}); check the file"))),
            Ok(ids) => match_sequences(s, &ids, seq, rows, problems),
        },
        _ => {}
    }
}

/// Each FASTA header to its row, and each row's sequences found.
fn match_sequences(
    s: &str,
    ids: &[String],
    seq: &Sequences<'_>,
    rows: &mut [RowLink],
    problems: &mut Vec<Problem>,
) {
    let fasta_col = seq.fasta_col;
    let (wanted, row_ids) = sequence_ids(fasta_col, rows);
    // Which row each header goes to; the rest have none.
    let mut got: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut extra_seen = BTreeSet::new();
    for h in ids {
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
            problems.push(problem(ProblemKind::MissingSequence, Some(&row.id), None, seq.metadata,
                format!("row '{}': its fastaIds cell is empty, which Loculus refuses; name its sequences there (space-separated)", row.id)));
        }
        if !missing.is_empty() {
            problems.push(problem(ProblemKind::MissingSequence, Some(&row.id), None, Some(s),
                format!("row '{}': no sequence '{}' in {s}; add it (the header is '>' and the id, or '<id>_<segment>' for each segment)", row.id, missing.join("', '"))));
        }
    }
}
