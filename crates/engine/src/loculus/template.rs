//! **Submit these…**: a metadata template for files already uploaded to
//! Loculus and not attached yet. One row per file, or per R1/R2 pair (the
//! same pairing as One Codex's samples), each with its `files.<category>`
//! cell holding `name:fileId` tokens (the website's syntax for an earlier
//! upload), so the wizard attaches them without uploading them again. The
//! user fills in the metadata columns.

use std::path::{Path, PathBuf};

use crate::history::Batch;
use crate::onecodex::reads;

/// The category a template fills when the organism is not known yet
/// (Loculus instances' usual one for read files).
pub const DEFAULT_CATEGORY: &str = "rawReads";

/// A row id from a file name: the name without its read mark and its
/// compression and format extensions; characters Loculus ids refuse
/// (whitespace) become `_`.
fn row_id(name: &str) -> String {
    let mut id = name.to_string();
    for ext in [".gz", ".zst", ".xz", ".bz2"] {
        if let Some(s) = id.strip_suffix(ext) {
            id = s.to_string();
        }
    }
    for ext in [".fastq", ".fq", ".fasta", ".fa", ".bam", ".cram"] {
        if let Some(s) = id.strip_suffix(ext) {
            id = s.to_string();
        }
    }
    id.trim_end_matches(['_', '.', '-'])
        .replace(char::is_whitespace, "_")
}

/// A pair's row id: what its two names share before the read mark
/// (`s1_S1_L001_R1_001` and `..._R2_001` give `s1_S1_L001`).
fn pair_id(a: &str, b: &str) -> String {
    let common: String = a
        .chars()
        .zip(b.chars())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect();
    let mut id = common.trim_end_matches(['_', '.', '-']).to_string();
    let cs: Vec<char> = id.chars().collect();
    if cs.len() >= 2
        && matches!(cs[cs.len() - 1], 'R' | 'r')
        && matches!(cs[cs.len() - 2], '_' | '.' | '-')
    {
        id.pop();
    }
    row_id(&id)
}

/// The template's TSV: `id` and `files.<category>`, one row per file or
/// pair of the batch's accepted files.
pub fn metadata_tsv(batch: &Batch, category: &str) -> String {
    let files: Vec<(&str, &str)> = batch
        .files
        .iter()
        .filter(|f| f.state == crate::job::FileState::Done)
        .filter_map(|f| Some((f.name.as_str(), f.id.as_deref()?)))
        .collect();
    let names: Vec<String> = files.iter().map(|(n, _)| n.to_string()).collect();
    let pairs = reads::pairs(&names);
    let mut used = vec![false; files.len()];
    let mut rows: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, (name, _)) in files.iter().enumerate() {
        if used[i] {
            continue;
        }
        let members = match pairs.iter().find(|(a, b)| *a == i || *b == i) {
            Some(&(a, b)) => vec![a, b],
            None => vec![i],
        };
        let id = match members.as_slice() {
            [a, b] => pair_id(files[*a].0, files[*b].0),
            _ => row_id(name),
        };
        for &m in &members {
            used[m] = true;
        }
        rows.push((id, members));
    }
    let mut out = format!("id\tfiles.{category}\n");
    for (id, members) in rows {
        let cell: Vec<String> = members
            .iter()
            .map(|&m| format!("{}:{}", files[m].0, files[m].1))
            .collect();
        out.push_str(&format!("{id}\t{}\n", cell.join(" ")));
    }
    out
}

/// Writes the template as `metadata.tsv` in a new folder `dir` (refused if
/// the folder already holds one: a template never overwrites the user's
/// table). Returns the file written.
pub fn write(dir: &Path, batch: &Batch, category: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("{}: cannot be created: {e}", dir.display()))?;
    let path = dir.join("metadata.tsv");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| format!("{}: cannot be written: {e}", path.display()))?;
    std::io::Write::write_all(&mut f, metadata_tsv(batch, category).as_bytes())
        .map_err(|e| format!("{}: cannot be written: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::HistoryFile;

    fn file(name: &str, id: &str) -> HistoryFile {
        HistoryFile {
            name: name.into(),
            path: name.into(),
            id: Some(id.into()),
            size: 1,
            sha256: Some("00".into()),
            state: crate::job::FileState::Done,
            uploaded_at: Some(0),
        }
    }

    #[test]
    fn pairs_share_a_row_and_singles_get_their_own() {
        let b = Batch {
            job: "j".into(),
            kind: crate::job::JobKind::Upload,
            portal: crate::job::PortalKind::Loculus,
            destination: "d".into(),
            created_at: 0,
            state: crate::job::JobState::Done,
            files: vec![
                file("s1_S1_L001_R1_001.fastq.gz", "id1"),
                file("s1_S1_L001_R2_001.fastq.gz", "id2"),
                file("assembly one.fasta", "id3"),
            ],
            attached: false,
            accessions: vec![],
            days_left: Some(7),
        };
        assert_eq!(
            metadata_tsv(&b, "rawReads"),
            "id\tfiles.rawReads\n\
             s1_S1_L001\ts1_S1_L001_R1_001.fastq.gz:id1 s1_S1_L001_R2_001.fastq.gz:id2\n\
             assembly_one\tassembly one.fasta:id3\n"
        );
        let d = tempfile::tempdir().unwrap();
        let p = write(&d.path().join("t"), &b, "rawReads").unwrap();
        assert!(std::fs::read_to_string(&p).unwrap().starts_with("id\t"));
        // Never over a table that is there.
        assert!(write(&d.path().join("t"), &b, "rawReads").is_err());
    }
}
