//! The sim's shared in-memory state. The mutex is never held across an `.await`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::faults::Faults;
use crate::model::{ApiRequest, FileRecord, StorageRequest, SubmissionRecord};
use crate::s3::S3Client;

pub(crate) type AppState = Arc<Shared>;

pub(crate) struct Shared {
    pub token_lifetime: std::time::Duration,
    pub backend_url: String,
    pub s3: S3Client,
    pub faults: Faults,
    /// One Codex API key and BaseSpace access token the sim accepts (a
    /// revoked one is replaced, as a user makes a new one).
    pub onecodex_key: Mutex<String>,
    pub basespace_token: Mutex<String>,
    /// Pending device sign-ins by device code.
    pub devices: crate::device::Devices,
    /// The storage host's shared bandwidth limit, if any.
    pub uplink: Option<Arc<crate::uplink::Uplink>>,
    /// In the app's instance, every user's password (see `lockdown`).
    pub app_password: Option<String>,
    /// Age at which an unreferenced upload is marked by the garbage
    /// collection (see `gc`).
    pub orphan_retention: std::time::Duration,
    /// UploadPart bodies are hashed and dropped, not stored (benchmarks).
    pub discard_bodies: bool,
    inner: Mutex<Inner>,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub user: String,
    pub expires_at: Instant,
    pub refresh: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct FileEntry {
    pub record: FileRecord,
    /// S3 multipart upload id (kept server-side, like Loculus).
    pub upload_id: Option<String>,
    /// When the garbage collection marked it for deletion (a submit naming
    /// it is then refused as expired; the next run deletes it).
    pub marked_at: Option<std::time::SystemTime>,
}

/// What the storage host returned for one successful UploadPart.
#[derive(Debug, Clone)]
pub(crate) struct PartInfo {
    pub etag: String,
    pub size: u64,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub tokens: HashMap<String, Token>,
    pub files: HashMap<String, FileEntry>,
    /// (uploadId, partNumber) -> last successful UploadPart.
    pub parts: HashMap<(String, u32), PartInfo>,
    pub submissions: Vec<SubmissionRecord>,
    pub api_log: Vec<ApiRequest>,
    pub storage_log: Vec<StorageRequest>,
    pub accession_counter: u64,
    /// One Codex samples by id.
    pub oc_samples: HashMap<String, crate::onecodex::Sample>,
    /// BaseSpace files by id.
    pub bs_files: HashMap<String, crate::basespace::BsFile>,
    pub bs_counter: u64,
    /// Requests to the One Codex and BaseSpace API hosts, in order.
    pub portal_log: Vec<ApiRequest>,
    /// Access tokens the backend accepted, each once, in order of first use.
    pub tokens_used: Vec<String>,
}

impl Shared {
    pub fn new(token_lifetime: std::time::Duration, backend_url: String, s3: S3Client) -> Self {
        Self {
            token_lifetime,
            backend_url,
            s3,
            faults: Faults::default(),
            onecodex_key: Mutex::new(new_onecodex_key()),
            basespace_token: Mutex::new(new_basespace_token()),
            devices: Default::default(),
            uplink: None,
            app_password: None,
            orphan_retention: crate::gc::DEFAULT_RETENTION,
            discard_bodies: false,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The One Codex API key accepted now.
    pub fn onecodex_key(&self) -> String {
        self.onecodex_key
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The BaseSpace access token accepted now.
    pub fn basespace_token(&self) -> String {
        self.basespace_token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        // Handlers never leave `Inner` half-updated across a panic point worth caring about.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) fn new_onecodex_key() -> String {
    format!("ocx{}", uuid::Uuid::new_v4().simple())
}

pub(crate) fn new_basespace_token() -> String {
    format!("bs{}", uuid::Uuid::new_v4().simple())
}
