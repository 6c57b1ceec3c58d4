//! The journal's schema: its migrations, applied in order.

/// Schema migrations, applied in order; `PRAGMA user_version` counts them.
/// Never edited once released: a change is a new migration, so every
/// journal an earlier release wrote opens as it is.
pub(crate) const MIGRATIONS: &[&str] = &[
    "CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        params TEXT NOT NULL,
        state TEXT NOT NULL
    );
    CREATE TABLE files (
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        path TEXT NOT NULL,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER,
        state TEXT NOT NULL,
        upload TEXT,
        sha256 TEXT,
        error TEXT,
        PRIMARY KEY (job_id, idx)
    );
    CREATE TABLE parts (
        job_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        remote_id TEXT NOT NULL,
        part INTEGER NOT NULL,
        etag TEXT NOT NULL,
        PRIMARY KEY (job_id, idx, remote_id, part),
        FOREIGN KEY (job_id, idx) REFERENCES files(job_id, idx) ON DELETE CASCADE
    );",
    // 2: a submit's state, written before the POST (`submitting`, with the
    // entries that already carried its ids) and after it (`submitted`, with
    // the accessions), so a resume never submits twice. Read and written
    // by `loculus::submit_record`; here so one migration list builds the
    // whole file.
    "CREATE TABLE submissions (
        job_id TEXT PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
        state TEXT NOT NULL,
        organism TEXT NOT NULL,
        submission_ids TEXT NOT NULL,
        known_accessions TEXT NOT NULL,
        accessions TEXT,
        started_at INTEGER NOT NULL
    );",
    // 3: when each file was accepted (receipts and the history say when,
    // and how long an unattached Loculus id has left).
    "ALTER TABLE files ADD COLUMN done_at INTEGER;",
];

/// A journal file at `path` as the first release wrote it (schema 1),
/// holding `rows` (SQL inserts): what the upgrade tests open.
#[cfg(test)]
pub(crate) fn write_schema_1(path: &std::path::Path, rows: &str) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(MIGRATIONS[0]).unwrap();
    c.execute_batch(&format!("{rows}\nPRAGMA user_version = 1;"))
        .unwrap();
}
