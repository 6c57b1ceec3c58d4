//! scan: paths -> items. Every problem is found before any byte is sent and
//! reported all at once, each with its path.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

/// One file to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub path: PathBuf,
    /// The name the portal will know the file by.
    pub name: String,
    pub size: u64,
    #[serde(skip)]
    pub mtime: Option<SystemTime>,
}

/// What a portal says about names and empty files (checked here, so the
/// scan stays portal-neutral).
pub trait NameRules: Send + Sync {
    /// `Err(reason)` when the portal would reject this name.
    fn check_name(&self, name: &str) -> Result<(), String>;
    /// Whether the portal accepts zero-byte files.
    fn accepts_empty(&self) -> bool {
        true
    }
    /// Paired-end files among `names` that the portal takes as one
    /// sample: (first, second) indexes. Most portals pair nothing.
    fn mates(&self, _names: &[String]) -> Vec<(usize, usize)> {
        Vec::new()
    }
    /// Files among `names` named as one read of a pair whose mate is not
    /// among them: (index, what to tell the user). Reported before sending.
    fn lone_mates(&self, _names: &[String]) -> Vec<(usize, String)> {
        Vec::new()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScanProblem {
    Unreadable { path: PathBuf, reason: String },
    NotAFile { path: PathBuf },
    Empty { path: PathBuf },
    BadName { path: PathBuf, reason: String },
    Duplicate { path: PathBuf, first: PathBuf },
}

impl ScanProblem {
    pub fn path(&self) -> &Path {
        match self {
            ScanProblem::Unreadable { path, .. }
            | ScanProblem::NotAFile { path }
            | ScanProblem::Empty { path }
            | ScanProblem::BadName { path, .. }
            | ScanProblem::Duplicate { path, .. } => path,
        }
    }
}

impl fmt::Display for ScanProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanProblem::Unreadable { path, reason } => write!(
                f,
                "{}: cannot be read ({reason}); check that it exists and that you may read it",
                path.display()
            ),
            ScanProblem::NotAFile { path } => write!(
                f,
                "{}: is not a regular file; give files, not folders or devices",
                path.display()
            ),
            ScanProblem::Empty { path } => write!(
                f,
                "{}: is empty and the portal does not accept empty files; remove it from the list",
                path.display()
            ),
            ScanProblem::BadName { path, reason } => write!(
                f,
                "{}: the portal rejects this file name: {reason}; rename the file",
                path.display()
            ),
            ScanProblem::Duplicate { path, first } => write!(
                f,
                "{}: has the same name as {}; names must be unique, rename one of them",
                path.display(),
                first.display()
            ),
        }
    }
}

/// All the problems of one scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    pub problems: Vec<ScanProblem>,
}

impl fmt::Display for ScanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{n} problem{} found before sending anything:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// The file name a path is uploaded under.
pub fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}

/// Turn paths into items, or report every problem at once.
pub fn scan(paths: &[PathBuf], rules: &dyn NameRules) -> Result<Vec<Item>, ScanReport> {
    let mut items = Vec::with_capacity(paths.len());
    let mut problems = Vec::new();
    let mut by_name: HashMap<String, PathBuf> = HashMap::new();
    for path in paths {
        let name = name_of(path);
        if let Err(reason) = rules.check_name(&name) {
            problems.push(ScanProblem::BadName {
                path: path.clone(),
                reason,
            });
        }
        // The same file given twice, or two files with one name: either way
        // the portal would see two files called the same.
        if let Some(first) = by_name.get(&name) {
            problems.push(ScanProblem::Duplicate {
                path: path.clone(),
                first: first.clone(),
            });
            continue;
        }
        by_name.insert(name.clone(), path.clone());
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                problems.push(ScanProblem::Unreadable {
                    path: path.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if !meta.is_file() {
            problems.push(ScanProblem::NotAFile { path: path.clone() });
            continue;
        }
        // Metadata can be readable while the content is not (permissions).
        if let Err(e) = std::fs::File::open(path) {
            problems.push(ScanProblem::Unreadable {
                path: path.clone(),
                reason: e.to_string(),
            });
            continue;
        }
        if meta.len() == 0 && !rules.accepts_empty() {
            problems.push(ScanProblem::Empty { path: path.clone() });
            continue;
        }
        items.push(Item {
            path: path.clone(),
            name,
            size: meta.len(),
            mtime: meta.modified().ok(),
        });
    }
    if problems.is_empty() {
        Ok(items)
    } else {
        Err(ScanReport { problems })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoSpaces;
    impl NameRules for NoSpaces {
        fn check_name(&self, name: &str) -> Result<(), String> {
            if name.contains(' ') {
                Err("no spaces".into())
            } else {
                Ok(())
            }
        }
        fn accepts_empty(&self) -> bool {
            false
        }
    }

    #[test]
    fn reports_every_problem_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("a.fq");
        std::fs::write(&good, b"@r\nACGT\n+\nIIII\n").unwrap();
        let spaced = dir.path().join("b c.fq");
        std::fs::write(&spaced, b"x").unwrap();
        let empty = dir.path().join("e.fq");
        std::fs::write(&empty, b"").unwrap();
        let missing = dir.path().join("missing.fq");
        let other = dir.path().join("sub");
        std::fs::create_dir(&other).unwrap();
        let dup = other.join("a.fq");
        std::fs::write(&dup, b"y").unwrap();

        let err = scan(
            &[
                good.clone(),
                spaced.clone(),
                empty.clone(),
                missing.clone(),
                dup.clone(),
            ],
            &NoSpaces,
        )
        .unwrap_err();
        let paths: Vec<_> = err
            .problems
            .iter()
            .map(|p| p.path().to_path_buf())
            .collect();
        assert_eq!(paths, vec![spaced, empty, missing, dup]);
        let text = err.to_string();
        assert!(text.starts_with("4 problems"), "{text}");
        assert!(text.contains("missing.fq: cannot be read"), "{text}");
        assert!(text.contains("rename the file"), "{text}");
    }

    #[test]
    fn good_files_become_items() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.fasta");
        std::fs::write(&p, b">a\nACGT\n").unwrap();
        let items = scan(std::slice::from_ref(&p), &NoSpaces).unwrap();
        assert_eq!(items[0].name, "x.fasta");
        assert_eq!(items[0].size, 8);
    }
}
