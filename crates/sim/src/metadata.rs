//! Parsing of the submit's metadata TSV (incl. `files.<category>` cells) and FASTA, with the
//! backend's 422 messages (loculus-api.md §5.2).

use std::collections::{BTreeMap, HashSet};

use crate::problem::ApiError;

/// One metadata row.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub id: String,
    pub metadata: BTreeMap<String, String>,
    pub fasta_ids: Vec<String>,
    /// category -> [(name, lowercase fileId)].
    pub files: BTreeMap<String, Vec<(String, String)>>,
}

const INVALID_TSV: &str = "The metadata file is not a valid TSV file. Common causes include: a row with more or fewer columns than the header, an unclosed quote, or a file that is not tab-separated.";

fn unprocessable(detail: impl Into<String>) -> ApiError {
    ApiError::unprocessable(detail)
}

/// Java `UUID.fromString`-style check: five dash-separated hex groups.
fn java_uuid_like(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .all(|g| !g.is_empty() && g.len() <= 16 && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The metadata TSV as Loculus reads it. Long (about 130 lines) on purpose:
/// it is one pass over the rows that mirrors Loculus' own checks in their
/// order, so each error is the one Loculus would give first.
pub(crate) fn parse_tsv(data: &[u8]) -> Result<Vec<Entry>, ApiError> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(data);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|_| unprocessable(INVALID_TSV))?
        .iter()
        .map(str::to_owned)
        .collect();

    let has_id = headers.iter().any(|h| h == "id");
    let has_sid = headers.iter().any(|h| h == "submissionId");
    let id_col = match (has_id, has_sid) {
        (true, true) => {
            return Err(unprocessable(
                "The metadata file contains both 'id' and 'submissionId'. Only one is allowed.",
            ));
        }
        (false, false) => {
            return Err(unprocessable(
                "The metadata file does not contain either header 'id' or 'submissionId'",
            ));
        }
        (true, false) => "id",
        (false, true) => "submissionId",
    };
    let mut seen = HashSet::new();
    let mut dup_files = Vec::new();
    for h in &headers {
        if !seen.insert(h.as_str()) {
            if h.starts_with("files.") {
                dup_files.push(h.as_str());
            } else {
                return Err(unprocessable(INVALID_TSV));
            }
        }
    }
    if !dup_files.is_empty() {
        return Err(unprocessable(format!(
            "In metadata file: found duplicate file headers: {}",
            dup_files.join(", ")
        )));
    }

    let mut entries: Vec<Entry> = Vec::new();
    let mut ids = HashSet::new();
    for (i, record) in rdr.records().enumerate() {
        let n = i + 1;
        let record = record.map_err(|_| unprocessable(INVALID_TSV))?;
        if record.len() > headers.len() {
            return Err(unprocessable(INVALID_TSV));
        }
        let cell = |col: usize| record.get(col).unwrap_or("").to_owned();
        let row: Vec<(String, String)> = headers
            .iter()
            .enumerate()
            .map(|(c, h)| (h.clone(), cell(c)))
            .collect();
        let id = row
            .iter()
            .find(|(h, _)| h == id_col)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        if id.is_empty() {
            let shown: Vec<String> = row.iter().map(|(_, v)| v.clone()).collect();
            return Err(unprocessable(format!(
                "Record #{n} in the metadata file contains no value for '{id_col}'. Row: [{}]",
                shown.join(", ")
            )));
        }
        if id.chars().any(char::is_whitespace) {
            return Err(unprocessable(format!(
                "Record #{n} in the metadata file: the value for '{id_col}' contains whitespace: '{id}'"
            )));
        }
        let prefix = format!("In metadata file: record #{n} with id '{id}': ");
        let mut metadata = BTreeMap::new();
        let mut files: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let mut fasta_ids = vec![id.clone()];
        for (h, v) in &row {
            if h == id_col {
                continue;
            }
            if let Some(cat) = h.strip_prefix("files.") {
                let list = parse_file_cell(&prefix, h, v)?;
                if !list.is_empty() {
                    files.insert(cat.to_owned(), list);
                }
                continue;
            }
            if h == "fastaIds" {
                let list: Vec<String> = v.split_whitespace().map(str::to_owned).collect();
                if list.is_empty() {
                    return Err(unprocessable(format!(
                        "{prefix}the 'fastaIds' value is empty."
                    )));
                }
                let unique: HashSet<&String> = list.iter().collect();
                if unique.len() != list.len() {
                    return Err(unprocessable(format!(
                        "{prefix}the 'fastaIds' value contains duplicates."
                    )));
                }
                fasta_ids = list;
            }
            metadata.insert(h.clone(), v.clone());
        }
        if metadata.is_empty() {
            return Err(unprocessable(format!(
                "Record #{n} with id '{id}' in the metadata file contains no metadata. This is invalid."
            )));
        }
        if !ids.insert(id.clone()) {
            return Err(unprocessable(format!(
                "Metadata file contains at least one duplicate submissionId: Key (submission_id)=({id}) already exists."
            )));
        }
        entries.push(Entry {
            id,
            metadata,
            fasta_ids,
            files,
        });
    }
    Ok(entries)
}

/// A `files.<cat>` cell: space-separated `name:fileId`, split at the last colon.
fn parse_file_cell(prefix: &str, col: &str, cell: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for token in cell.split(' ').map(str::trim).filter(|t| !t.is_empty()) {
        let hint = "Expected format 'fileName:fileId'. Please also ensure file names do not contain whitespace.";
        let Some((name, id)) = token.rsplit_once(':') else {
            return Err(unprocessable(format!(
                "{prefix}file entry '{token}' in column '{col}' is missing a file ID. {hint}"
            )));
        };
        if id.is_empty() {
            return Err(unprocessable(format!(
                "{prefix}file entry '{token}' in column '{col}' is missing a file ID. {hint}"
            )));
        }
        if name.is_empty() {
            return Err(unprocessable(format!(
                "{prefix}file entry '{token}' in column '{col}' is missing a file name. {hint}"
            )));
        }
        if !java_uuid_like(id) {
            return Err(unprocessable(format!(
                "{prefix}file entry '{token}' in column '{col}' has an invalid file ID '{id}'. Expected a UUID."
            )));
        }
        if id.len() != 36 {
            return Err(unprocessable(format!(
                "{prefix}file entry '{token}' in column '{col}' has an invalid file ID '{id}'. Expected a UUID of length 36 but received a UUID of length {}.",
                id.len()
            )));
        }
        let id = uuid::Uuid::parse_str(id).map_err(|_| {
            unprocessable(format!(
                "{prefix}file entry '{token}' in column '{col}' has an invalid file ID '{id}'. Expected a UUID."
            ))
        })?;
        out.push((name.to_owned(), id.to_string()));
    }
    let mut seen = HashSet::new();
    let mut dups: Vec<&str> = Vec::new();
    for (name, _) in &out {
        if !seen.insert(name.as_str()) && !dups.contains(&name.as_str()) {
            dups.push(name);
        }
    }
    if !dups.is_empty() {
        return Err(unprocessable(format!(
            "{prefix}found duplicate file names in column '{col}': {}",
            dups.join(", ")
        )));
    }
    Ok(out)
}

/// FASTA: `>id description` headers, sequence lines concatenated. Returns (id, sequence).
pub(crate) fn parse_fasta(data: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let text = String::from_utf8_lossy(data);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(header) = line.strip_prefix('>') {
            let id = header.split_whitespace().next().unwrap_or("").to_owned();
            if id.is_empty() {
                return Err(unprocessable(
                    "The sequence file contains a header without an id.",
                ));
            }
            out.push((id, String::new()));
        } else if !line.trim().is_empty() {
            match out.last_mut() {
                Some((_, seq)) => seq.push_str(line.trim()),
                None => {
                    return Err(unprocessable(
                        "The sequence file is not a valid FASTA file: it does not start with a '>' header line.",
                    ));
                }
            }
        }
    }
    let mut seen = HashSet::new();
    for (id, seq) in &out {
        if seq.is_empty() {
            return Err(unprocessable(format!(
                "No sequence data given for sample {id}."
            )));
        }
        if !seen.insert(id.as_str()) {
            return Err(unprocessable(format!(
                "Sequence file contains at least one duplicate submissionId: {id}"
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_cell_splits_at_last_colon() {
        let tsv = "id\tcountry\tfiles.rawReads\ns1\tX\ta:b.fq:8D8AC610-566D-4EF0-9C22-186B2A5ED793  c.fq:2ea137d0-8773-4e0a-a9aa-5591de12ff23\n";
        let e = parse_tsv(tsv.as_bytes()).unwrap();
        assert_eq!(
            e[0].files["rawReads"],
            vec![
                (
                    "a:b.fq".to_owned(),
                    "8d8ac610-566d-4ef0-9c22-186b2a5ed793".to_owned()
                ),
                (
                    "c.fq".to_owned(),
                    "2ea137d0-8773-4e0a-a9aa-5591de12ff23".to_owned()
                ),
            ]
        );
        assert!(!e[0].metadata.contains_key("files.rawReads"));
    }

    #[test]
    fn bad_cells() {
        let bad = |cell: &str| {
            let tsv = format!("id\tcountry\tfiles.rawReads\ns1\tX\t{cell}\n");
            parse_tsv(tsv.as_bytes()).unwrap_err().detail
        };
        assert!(bad("a.fq").contains("missing a file ID"));
        assert!(bad(":2ea137d0-8773-4e0a-a9aa-5591de12ff23").contains("missing a file name"));
        assert!(bad("a.fq:xyz").contains("Expected a UUID."));
        assert!(bad("a.fq:1-2-3-4-5").contains("length 36 but received a UUID of length 9"));
    }
}
