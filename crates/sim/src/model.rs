//! Public record types returned by [`crate::Sim`] and `GET /_sim/state`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Credentials of the embedded S3 server, so external tools (`aws s3 cp`, rclone) can use it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct S3Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub bucket: String,
    pub region: String,
}

/// One request that reached the public storage host (the sim's own S3 calls are not listed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StorageRequest {
    pub method: String,
    pub path: String,
    /// Raw query string ("" if none).
    pub query: String,
    /// Status sent; 0 when the connection was reset, or the client gave up, before a response.
    pub status: u16,
    /// Request body bytes the storage host actually received.
    pub body_bytes: u64,
    /// The raw `Authorization` header, if the client sent one.
    pub authorization: Option<String>,
    /// The injected fault, if any (e.g. `status:503`, `reset`).
    pub fault: Option<String>,
    /// Milliseconds since the sim started when the request arrived, and
    /// when it was answered (its body read and stored): how long storing
    /// took, seen from the server, whichever client sent it.
    #[serde(default)]
    pub started_ms: u64,
    #[serde(default)]
    pub ended_ms: u64,
}

/// A fileId handed out by `request-upload` / `request-multipart-upload`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileRecord {
    pub file_id: String,
    pub group_id: i64,
    pub uploader: String,
    pub multipart: bool,
    /// Multipart upload completed through the API (always false for single-PUT files).
    pub completed: bool,
    pub requested_at: SystemTime,
}

/// An accepted submission entry (one metadata row).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SubmissionRecord {
    pub accession: String,
    pub version: i64,
    pub submission_id: String,
    pub organism: String,
    pub group_id: i64,
    /// The user who submitted it.
    #[serde(default)]
    pub submitter: String,
    /// `OPEN` or `RESTRICTED`.
    pub data_use_terms: String,
    /// Set when `data_use_terms` is `RESTRICTED` (YYYY-MM-DD).
    pub restricted_until: Option<String>,
    /// Metadata columns without the id column and without `files.*` columns.
    pub metadata: BTreeMap<String, String>,
    /// category -> [(name, fileId)], in cell order.
    pub files: BTreeMap<String, Vec<(String, String)>>,
    /// FASTA id -> sequence, as the backend keeps them in the entry's
    /// original data (`unalignedNucleotideSequences`); empty for an
    /// organism without consensus sequences.
    #[serde(default)]
    pub sequences: BTreeMap<String, String>,
    /// Approved and released (`APPROVED_FOR_RELEASE`); the sim's own
    /// submissions stay `RECEIVED` (nothing processes them).
    #[serde(default)]
    pub released: bool,
}

/// One request to the backend API (control endpoints under `/_sim` are not listed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    /// Raw query string ("" if none).
    #[serde(default)]
    pub query: String,
    /// Status sent; 0 when the connection was reset without a response.
    pub status: u16,
    /// Milliseconds since the sim started when the request arrived, and
    /// when it was answered.
    #[serde(default)]
    pub started_ms: u64,
    #[serde(default)]
    pub ended_ms: u64,
}

/// Milliseconds since this process's first call: the clock of the logs'
/// `started_ms` / `ended_ms`.
pub(crate) fn now_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

/// Everything `GET /_sim/state` returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimState {
    pub storage_log: Vec<StorageRequest>,
    pub files: Vec<FileRecord>,
    pub submissions: Vec<SubmissionRecord>,
    pub api_log: Vec<ApiRequest>,
}
