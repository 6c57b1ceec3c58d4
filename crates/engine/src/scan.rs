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
    let probed = probe_all(paths);
    let mut items = Vec::with_capacity(paths.len());
    let mut problems = Vec::new();
    // Each name, and the index of the path that has it first.
    let mut by_name: HashMap<String, usize> = HashMap::with_capacity(paths.len());
    for (i, (path, probed)) in paths.iter().zip(probed).enumerate() {
        let name = name_of(path);
        if let Err(reason) = rules.check_name(&name) {
            problems.push(ScanProblem::BadName {
                path: path.clone(),
                reason,
            });
        }
        // The same file given twice, or two files with one name: either way
        // the portal would see two files called the same.
        if let Some(&first) = by_name.get(&name) {
            problems.push(ScanProblem::Duplicate {
                path: path.clone(),
                first: paths[first].clone(),
            });
            continue;
        }
        by_name.insert(name.clone(), i);
        let meta = match probed {
            Ok(m) => m,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
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

/// What the file system says of one path: the metadata of a regular file
/// that can be opened, or why it cannot go.
fn probe(path: &Path) -> Result<std::fs::Metadata, ScanProblem> {
    let unreadable = |e: std::io::Error| ScanProblem::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(ScanProblem::NotAFile {
            path: path.to_path_buf(),
        });
    }
    // Metadata can be readable while the content is not (permissions).
    std::fs::File::open(path).map_err(unreadable)?;
    Ok(meta)
}

/// Paths a probing thread takes at least: fewer are probed by the caller.
const PROBES_PER_THREAD: usize = 2048;

/// [`probe`] of every path, in order. A probe is a few system calls that
/// mostly wait on the file system (on a network share, a round trip
/// each), so a long list is shared out among threads.
fn probe_all(paths: &[PathBuf]) -> Vec<Result<std::fs::Metadata, ScanProblem>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (2 * cores).min(8).min(paths.len() / PROBES_PER_THREAD);
    if threads < 2 {
        return paths.iter().map(|p| probe(p)).collect();
    }
    let per = paths.len().div_ceil(threads);
    let probe_chunk = |c: &[PathBuf]| c.iter().map(|p| probe(p)).collect::<Vec<_>>();
    std::thread::scope(|s| {
        let running: Vec<_> = paths
            .chunks(per)
            .map(|c| {
                let spawned = std::thread::Builder::new()
                    .name("ferry-scan".into())
                    .spawn_scoped(s, move || probe_chunk(c));
                (c, spawned)
            })
            .collect();
        // A thread that could not start (or died) leaves its share to
        // this one.
        running
            .into_iter()
            .flat_map(|(c, spawned)| match spawned.map(|h| h.join()) {
                Ok(Ok(probed)) => probed,
                _ => probe_chunk(c),
            })
            .collect()
    })
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
    fn a_long_list_is_probed_in_parallel_and_reported_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let n = 3 * PROBES_PER_THREAD;
        let mut paths: Vec<PathBuf> = (0..n)
            .map(|i| {
                let p = dir.path().join(format!("s{i:05}.fq"));
                std::fs::write(&p, b"x").unwrap();
                p
            })
            .collect();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        // Problems spread over every thread's share, in list order.
        paths[10] = dir.path().join("missing.fq");
        paths[PROBES_PER_THREAD + 5] = sub.clone();
        paths.push(paths[0].clone());
        let err = scan(&paths, &NoSpaces).unwrap_err();
        let got: Vec<PathBuf> = err
            .problems
            .iter()
            .map(|p| p.path().to_path_buf())
            .collect();
        assert_eq!(got, [paths[10].clone(), sub, paths[0].clone()]);
        assert!(matches!(err.problems[1], ScanProblem::NotAFile { .. }));

        paths.truncate(n);
        paths[10] = dir.path().join("s00010.fq");
        paths[PROBES_PER_THREAD + 5] = dir.path().join(format!("s{:05}.fq", PROBES_PER_THREAD + 5));
        let items = scan(&paths, &NoSpaces).unwrap();
        let names: Vec<String> = items.iter().map(|i| i.name.clone()).collect();
        let want: Vec<String> = (0..n).map(|i| format!("s{i:05}.fq")).collect();
        assert_eq!(names, want);
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
