//! One watcher per watched folder: the app and the CLI, or two CLIs, never
//! both send the runs of one folder. An OS file lock (released by the OS
//! when the process dies, kill -9 included) on a file beside the journal,
//! named after the folder, so nothing is written into the instrument's
//! output folder.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Held while the watcher runs; dropping it releases the folder.
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
    pub path: PathBuf,
}

/// Who holds a folder: the lock file and the pid and program written
/// into it.
#[derive(Debug, Clone)]
pub struct Held {
    pub lock_file: PathBuf,
    pub pid: Option<u32>,
    /// The holder's program file name (`ferry`, `ferry-app`).
    pub program: Option<String>,
}

impl Held {
    /// "another Ferry (ferry-app, process 123)", for messages.
    pub fn holder(&self) -> String {
        let what: Vec<String> = self
            .program
            .iter()
            .cloned()
            .chain(self.pid.map(|p| format!("process {p}")))
            .collect();
        if what.is_empty() {
            "another Ferry".into()
        } else {
            format!("another Ferry ({})", what.join(", "))
        }
    }
}

/// Where the folder locks live: beside the journal, so every watcher and
/// `ferry resume` using one journal use the same locks.
pub fn locks_dir(journal: &Path) -> PathBuf {
    journal
        .parent()
        .map(|p| p.join("watch-locks"))
        .unwrap_or_else(|| PathBuf::from("watch-locks"))
}

/// The lock file for `dir` (canonical) under `locks` (a folder).
pub fn lock_path(locks: &Path, dir: &Path) -> PathBuf {
    let h = hex::encode(Sha256::digest(dir.to_string_lossy().as_bytes()));
    locks.join(format!("watch-{}.lock", &h[..16]))
}

/// Take the folder's lock, or say who holds it.
pub fn try_lock(locks: &Path, dir: &Path) -> std::io::Result<Result<FolderLock, Held>> {
    std::fs::create_dir_all(locks)?;
    let path = lock_path(locks, dir);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => {
            // The holder's pid, folder and program, for the other
            // watcher's message.
            file.set_len(0)?;
            file.rewind()?;
            let program = std::env::current_exe()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default();
            writeln!(file, "{}\n{}\n{program}", std::process::id(), dir.display())?;
            file.flush()?;
            Ok(Ok(FolderLock { _file: file, path }))
        }
        Err(TryLockError::WouldBlock) => {
            let mut s = String::new();
            let _ = file.read_to_string(&mut s);
            let mut lines = s.lines();
            let pid = lines.next().and_then(|l| l.trim().parse().ok());
            let program = lines
                .nth(1)
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty());
            Ok(Err(Held {
                lock_file: path,
                pid,
                program,
            }))
        }
        Err(TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::try_lock;

    #[test]
    fn a_second_lock_on_one_folder_is_refused_until_the_first_is_dropped() {
        let locks = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let first = try_lock(locks.path(), dir.path()).unwrap().unwrap();
        let held = try_lock(locks.path(), dir.path()).unwrap().unwrap_err();
        assert_eq!(held.pid, Some(std::process::id()));
        let who = held.holder();
        assert!(
            who.starts_with("another Ferry (") && who.contains(&std::process::id().to_string()),
            "{who}"
        );
        let other = tempfile::tempdir().unwrap();
        assert!(try_lock(locks.path(), other.path()).unwrap().is_ok());
        drop(first);
        assert!(try_lock(locks.path(), dir.path()).unwrap().is_ok());
    }
}
