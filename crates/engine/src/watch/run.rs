//! One run folder as seen at one moment: its files with size and mtime, its
//! completion marker, whether it looks like an instrument's run; and the
//! files to send, chosen by globs.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::glob;

/// Illumina writes these at the run's top level (CopyComplete.txt when all
/// data is copied; RTAComplete.txt or .xml when base calling finished);
/// Oxford Nanopore's MinKNOW writes final_summary_*.txt at the end.
pub const DEFAULT_MARKERS: &[&str] = &[
    "CopyComplete.txt",
    "RTAComplete.txt",
    "RTAComplete.xml",
    "final_summary_*.txt",
];

/// The read and sequence files portals take, plain or gzipped.
pub const DEFAULT_INCLUDE: &[&str] = &[
    "*.fastq",
    "*.fq",
    "*.fastq.gz",
    "*.fq.gz",
    "*.fasta",
    "*.fa",
    "*.fna",
    "*.fas",
    "*.fasta.gz",
    "*.fa.gz",
    "*.fna.gz",
    "*.fas.gz",
];

/// What an instrument writes at the start of a run: a folder holding one of
/// these waits for its marker (its files may pause for longer than any
/// quiet period while the run goes on); any other folder is a plain folder
/// of reads, ready after the quiet period.
const INSTRUMENT_SIGNS: &[&str] = &[
    "RunInfo.xml",
    "RunParameters.xml",
    "runParameters.xml",
    "fastq_pass",
    "pod5_pass",
    "sequencing_summary_*.txt",
    "report_*.json",
];

/// Files Ferry itself writes into a run (the submission receipt): they do
/// not make a run change.
const OWN_FILES: &[&str] = &["ferry-receipt.csv", "ferry-receipt.json"];

/// A file as it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub path: PathBuf,
    pub size: u64,
    pub mtime: Option<SystemTime>,
}

/// A run folder at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Every file below the run (markers and Ferry's own files aside),
    /// sorted by path: equal snapshots = nothing changed.
    pub files: Vec<Seen>,
    /// The first marker found at the top level (its file name).
    pub marker: Option<String>,
    pub instrument: bool,
    /// Links found (never followed, never sent).
    pub links: Vec<PathBuf>,
    /// Folders that could not be read.
    pub unreadable: Vec<(PathBuf, String)>,
}

impl Snapshot {
    /// The newest modification time of any file, or of the folder itself.
    pub fn newest(&self) -> Option<SystemTime> {
        self.files.iter().filter_map(|f| f.mtime).max()
    }

    /// The files to send: those `include` matches, by name.
    pub fn selected(&self, include: &[String]) -> Vec<PathBuf> {
        self.files
            .iter()
            .filter(|f| glob::any(include, &file_name(&f.path)))
            .map(|f| f.path.clone())
            .collect()
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Walk `run` (links not followed) and note what is there.
pub fn snapshot(run: &Path, markers: &[String]) -> Snapshot {
    let mut s = Snapshot {
        files: Vec::new(),
        marker: None,
        instrument: false,
        links: Vec::new(),
        unreadable: Vec::new(),
    };
    let mut stack = vec![(run.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                s.unreadable.push((dir, e.to_string()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = file_name(&path);
            let Ok(ft) = entry.file_type() else { continue };
            if depth == 0 && INSTRUMENT_SIGNS.iter().any(|p| glob::matches(p, &name)) {
                s.instrument = true;
            }
            if ft.is_symlink() {
                s.links.push(path);
            } else if ft.is_dir() {
                // Deep enough for ONT's fastq_pass/barcodeNN and Illumina's
                // Analysis/1/Data/fastq; bounded against link-free loops
                // of bind mounts.
                if depth < 8 {
                    stack.push((path, depth + 1));
                }
            } else if depth == 0 && glob::any(markers, &name) {
                if s.marker.is_none() {
                    s.marker = Some(name);
                }
            } else if depth == 0 && OWN_FILES.contains(&name.as_str()) {
            } else if let Ok(m) = entry.metadata() {
                s.files.push(Seen {
                    path,
                    size: m.len(),
                    mtime: m.modified().ok(),
                });
            }
        }
    }
    s.files.sort_by(|a, b| a.path.cmp(&b.path));
    s
}

/// The subfolders of a watched folder: its runs (hidden ones aside).
pub fn runs_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        // A link to a folder is not followed: a run is a real folder here.
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sees_markers_signs_and_selects_reads() {
        let d = tempfile::tempdir().unwrap();
        let run = d.path().join("240101_M00001_0001_000000000-ABCDE");
        std::fs::create_dir_all(run.join("Data/fastq")).unwrap();
        std::fs::write(run.join("RunInfo.xml"), "<RunInfo/>").unwrap();
        std::fs::write(run.join("Data/fastq/s1_R1_001.fastq.gz"), "x").unwrap();
        std::fs::write(run.join("Data/fastq/s1_R1_001.txt"), "x").unwrap();
        let markers = strings(DEFAULT_MARKERS);
        let a = snapshot(&run, &markers);
        assert!(a.instrument);
        assert_eq!(a.marker, None);
        std::fs::write(run.join("CopyComplete.txt"), "").unwrap();
        let b = snapshot(&run, &markers);
        assert_eq!(b.marker.as_deref(), Some("CopyComplete.txt"));
        // The marker itself is not a change of the run's files.
        assert_eq!(a.files, b.files);
        let sel = b.selected(&strings(DEFAULT_INCLUDE));
        assert_eq!(sel, vec![run.join("Data/fastq/s1_R1_001.fastq.gz")]);
        let plain = d.path().join("reads");
        std::fs::create_dir(&plain).unwrap();
        assert!(!snapshot(&plain, &markers).instrument);
    }
}
