//! The journal: a durable record (SQLite, WAL, synchronous=FULL) of every
//! job, its files, their portal uploads and each acknowledged part, so an
//! interrupted job re-sends only what the storage has not acknowledged.
//!
//! Holds no token: only paths, sizes, portal ids and presigned URLs (which
//! expire and grant access to one object only). Generic: what a portal
//! keeps beside a job (Loculus's submit records) it reads and writes
//! through the journal's connection, in its own module.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::Connection;

use crate::Error;

mod jobs;
mod record;
mod recorder;
pub(crate) mod schema;
#[cfg(test)]
mod tests;

pub use jobs::JobSummary;
pub use record::{FileEntry, JobRecord};
pub use recorder::Routed;
use schema::MIGRATIONS;

/// The journal file, open; one connection, shared by every job.
pub struct Journal {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// A file's modification time as the journal keeps it (ns since 1970).
pub fn mtime_ns(t: Option<SystemTime>) -> Option<i64> {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)
}

impl Journal {
    /// `$FERRY_JOURNAL`, else the user's data directory
    /// (`$XDG_DATA_HOME/ferry` or `~/.local/share/ferry`).
    pub fn default_path() -> PathBuf {
        if let Some(p) = std::env::var_os("FERRY_JOURNAL") {
            return PathBuf::from(p);
        }
        // The OS's data folder: $XDG_DATA_HOME or ~/.local/share on Linux,
        // ~/Library/Application Support on macOS, %APPDATA% on Windows.
        let base = dirs::data_dir().unwrap_or_else(std::env::temp_dir);
        base.join("ferry").join("journal.sqlite")
    }

    pub fn open(path: &Path) -> Result<Journal, Error> {
        let err = |detail: String| Error::Journal {
            path: path.to_path_buf(),
            detail,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let mut conn = Connection::open(path).map_err(|e| err(e.to_string()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        // WAL: readers never block the writer; FULL: a committed change
        // survives power loss, not only a crash.
        conn.execute_batch(
            "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .map_err(|e| err(e.to_string()))?;
        // Two processes may open a new journal at once: migrate inside one
        // IMMEDIATE transaction so only one of them creates the schema.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| err(e.to_string()))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| err(e.to_string()))?;
        if version as usize > MIGRATIONS.len() {
            return Err(Error::JournalTooNew {
                path: path.to_path_buf(),
                found: version,
                known: MIGRATIONS.len(),
            });
        }
        // An up-to-date journal is not written to: a commit that writes
        // waits for the disk (synchronous=FULL), seconds on a busy one, at
        // every start of `ferry jobs` and the window.
        if version as usize != MIGRATIONS.len() {
            for m in MIGRATIONS.iter().skip(version as usize) {
                tx.execute_batch(m).map_err(|e| err(e.to_string()))?;
            }
            tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)
                .map_err(|e| err(e.to_string()))?;
        }
        tx.commit().map_err(|e| err(e.to_string()))?;
        Ok(Journal {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::Journal {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    /// Run `f` on the connection (one at a time); its SQLite error
    /// becomes the journal's.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, Error> {
        let mut c = self.conn.lock().map_err(|_| self.err("lock poisoned"))?;
        f(&mut c).map_err(|e| self.err(e))
    }
}
