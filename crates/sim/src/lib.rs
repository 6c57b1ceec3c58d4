//! `ferry-sim`: a faithful Loculus backend simulator on loopback, backed by a real S3 server.
//!
//! One HTTP server is the backend API, the website (`/loculus-info`) and Keycloak
//! (`/realms/loculus/...`); a second one is the storage host: `s3s-fs` (real SigV4 presigned
//! signature and expiry checks) behind a wrapper that adds what s3s-fs lacks (part ETag checks at
//! completion, bearer-token rejection) plus logging and fault injection. The behaviour follows
//! the "faithful-emulator checklist" of `loculus-api.md` §7.
//!
//! Known gaps (deliberate, to keep the sim small): compressed metadata/sequence files are
//! refused with a 400 naming the sim; no read-only switch;
//! tokens are opaque strings, not JWTs; only the password and refresh-token grants exist.

mod api;
mod auth;
pub mod basespace;
mod control;
mod dates;
mod device;
mod entries;
mod faults;
mod files;
mod gc;
mod info;
mod lockdown;
mod metadata;
mod model;
pub mod onecodex;
mod portal_host;
mod post_object;
mod problem;
mod s3;
mod server;
mod state;
mod submit;
mod tls;
mod uplink;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

pub use faults::{Fault, Faults, Target as FaultTarget};
pub use gc::GcRun;
pub use model::{
    ApiRequest, FileRecord, S3Credentials, SimState, StorageRequest, SubmissionRecord,
};

use server::ServerHandle;
use state::{AppState, Shared};

/// How to start a [`Sim`].
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Presigned URL lifetime (Loculus: 1800 s).
    pub url_expiry: Duration,
    /// Access token lifetime (Loculus realm: 36000 s). Refresh tokens live at least 36000 s.
    pub token_lifetime: Duration,
    /// Backend port on 127.0.0.1; 0 = random.
    pub backend_port: u16,
    /// Storage port on 127.0.0.1; 0 = random.
    pub s3_port: u16,
    /// Where S3 objects are stored; `None` = a temporary directory owned by the sim.
    pub data_dir: Option<PathBuf>,
    /// One Codex API port on 127.0.0.1; 0 = random.
    pub onecodex_port: u16,
    /// BaseSpace API port on 127.0.0.1; 0 = random.
    pub basespace_port: u16,
    /// Bytes/s the storage host takes in, shared by every connection (a
    /// lab's uplink); `None` = as fast as loopback goes.
    pub storage_bytes_per_sec: Option<u64>,
    /// The storage address clients are given in presigned URLs (e.g. a
    /// relay in front of it, or a host name), `http://HOST:PORT`; `None` =
    /// the storage listener itself.
    pub storage_public_url: Option<String>,
    /// Serve the backend and the storage over TLS with this PEM
    /// certificate chain and key (their URLs are then `https://`).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The desktop app's own demo instance: no `/_sim/*` control routes,
    /// and every user's password is [`Sim::demo_password`], fresh and
    /// random per start (tests' simulators: false, demo/demo and controls).
    pub app: bool,
    /// How old an upload no submission references may get before the
    /// garbage collection marks it (Loculus: 10080 minutes, 7 days).
    pub orphan_retention: Duration,
    /// How often the garbage collection runs (Loculus: daily). A marked
    /// file is deleted by the next run.
    pub gc_interval: Duration,
    /// Benchmarks: UploadPart bodies are hashed (MD5, the ETag) and
    /// counted, then dropped instead of stored, so terabytes can be sent
    /// to a machine that keeps none of them. Signatures and expiry are
    /// still checked by the S3 server; such uploads cannot be completed.
    pub discard_bodies: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            url_expiry: Duration::from_secs(1800),
            token_lifetime: Duration::from_secs(36000),
            backend_port: 0,
            s3_port: 0,
            data_dir: None,
            onecodex_port: 0,
            basespace_port: 0,
            storage_bytes_per_sec: None,
            storage_public_url: None,
            tls: None,
            app: false,
            orphan_retention: gc::DEFAULT_RETENTION,
            gc_interval: Duration::from_secs(24 * 3600),
            discard_bodies: false,
        }
    }
}

const BUCKET: &str = "loculus-files";
const REGION: &str = "us-east-1";

/// A running simulator. Stop it with [`Sim::shutdown`] (dropping it also stops the listeners
/// once the runtime drops their tasks).
pub struct Sim {
    shared: AppState,
    backend: ServerHandle,
    storage: ServerHandle,
    internal: ServerHandle,
    onecodex: ServerHandle,
    basespace: ServerHandle,
    credentials: S3Credentials,
    _gc: gc::Task,
    _tempdir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("backend", &self.backend_url())
            .field("s3", &self.s3_url())
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// Starts the backend and storage servers on 127.0.0.1.
    pub async fn start(cfg: SimConfig) -> anyhow::Result<Sim> {
        let (tempdir, root) = match &cfg.data_dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let t = tempfile::Builder::new().prefix("ferry-sim-").tempdir()?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        // s3s-fs keeps one directory per bucket.
        std::fs::create_dir_all(root.join(BUCKET))?;
        let secret: [u8; 20] = rand::rng().random();
        let credentials = S3Credentials {
            access_key: "FERRYSIMACCESSKEY".into(),
            secret_key: hex::encode(secret),
            bucket: BUCKET.into(),
            region: REGION.into(),
        };
        let service = s3::build_service(&root, &credentials.access_key, &credentials.secret_key)?;

        let backend_l = server::bind(cfg.backend_port).await?;
        let storage_l = server::bind(cfg.s3_port).await?;
        let internal_l = server::bind(0).await?;
        let onecodex_l = server::bind(cfg.onecodex_port).await?;
        let basespace_l = server::bind(cfg.basespace_port).await?;
        let tls = match &cfg.tls {
            Some((cert, key)) => Some(tls::acceptor(cert, key)?),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let backend_url = format!("{scheme}://{}", backend_l.local_addr()?);
        let s3_url = format!("{scheme}://{}", storage_l.local_addr()?);
        let internal_url = format!("http://{}", internal_l.local_addr()?);

        let client = s3::S3Client::new(
            cfg.storage_public_url.as_deref().unwrap_or(&s3_url),
            &internal_url,
            BUCKET,
            REGION,
            &credentials.access_key,
            &credentials.secret_key,
            cfg.url_expiry,
        )?;
        let mut shared = Shared::new(cfg.token_lifetime, backend_url, client);
        shared.uplink = cfg.storage_bytes_per_sec.map(uplink::Uplink::new);
        shared.app_password = cfg.app.then(lockdown::fresh_password);
        shared.orphan_retention = cfg.orphan_retention;
        shared.discard_bodies = cfg.discard_bodies;
        let shared = Arc::new(shared);
        let gc = gc::Task::spawn(shared.clone(), cfg.gc_interval);

        let router = api::router(shared.clone(), !cfg.app);
        let st = shared.clone();
        let backend = server::serve_tls(backend_l, tls.clone(), move |req| {
            api::handle(st.clone(), router.clone(), req)
        });
        let st = shared.clone();
        let svc = service.clone();
        let storage = server::serve_tls(storage_l, tls.clone(), move |req| {
            s3::handle_public(st.clone(), svc.clone(), req)
        });
        let internal = server::serve(internal_l, move |req| {
            s3::handle_internal(service.clone(), req)
        });
        let onecodex = server::serve(
            onecodex_l,
            portal_host::handle(
                shared.clone(),
                onecodex::router(shared.clone()),
                onecodex::is_storage,
            ),
        );
        let basespace = server::serve(
            basespace_l,
            portal_host::handle(
                shared.clone(),
                basespace::router(shared.clone()),
                basespace::is_storage,
            ),
        );
        Ok(Sim {
            shared,
            backend,
            storage,
            internal,
            onecodex,
            basespace,
            credentials,
            _gc: gc,
            _tempdir: tempdir,
        })
    }

    /// The demo user's password: in an app instance a fresh random one
    /// (it never leaves the app), else "demo".
    pub fn demo_password(&self) -> String {
        self.shared
            .app_password
            .clone()
            .unwrap_or_else(|| "demo".into())
    }

    /// `http://127.0.0.1:PORT` of the backend, website and Keycloak
    /// (`https://` when served over TLS).
    pub fn backend_url(&self) -> String {
        self.shared.backend_url.clone()
    }

    /// `http://127.0.0.1:PORT` of the storage host the presigned URLs point to.
    pub fn s3_url(&self) -> String {
        let scheme = self
            .shared
            .backend_url
            .split("://")
            .next()
            .unwrap_or("http");
        format!("{scheme}://{}", self.storage.addr)
    }

    /// Credentials of the S3 server (for external tools against [`Sim::s3_url`]).
    pub fn s3_credentials(&self) -> S3Credentials {
        self.credentials.clone()
    }

    /// A valid access token of user `demo` (member of group 1).
    pub fn demo_token(&self) -> String {
        self.token_for("demo")
    }

    /// A fresh access token for `demo` (group 1), `other` (group 2), `nobody` (no group) or
    /// `curator` (super user).
    ///
    /// # Panics
    /// If `user` is not one of these.
    pub fn token_for(&self, user: &str) -> String {
        assert!(auth::user(user).is_some(), "ferry-sim has no user {user:?}");
        auth::mint(&self.shared, user, false)
    }

    /// Keycloak's "sign out all sessions" for `user`: every access and
    /// refresh token it holds stops working at once. Returns how many.
    pub fn revoke_sessions(&self, user: &str) -> usize {
        auth::revoke(&self.shared, user)
    }

    /// Handle to inject faults.
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// Every request that reached the storage host, in order.
    pub fn storage_log(&self) -> Vec<StorageRequest> {
        self.shared.lock().storage_log.clone()
    }

    /// Size and lowercase hex SHA-256 of `files/<fileId>`, read through S3; `None` if absent.
    pub async fn object_sha256(&self, file_id: &str) -> Option<(u64, String)> {
        self.shared
            .s3
            .sha256(&files::object_key(file_id))
            .await
            .ok()
            .flatten()
    }

    /// The record of a requested fileId.
    pub fn file(&self, file_id: &str) -> Option<FileRecord> {
        self.shared
            .lock()
            .files
            .get(file_id)
            .map(|f| f.record.clone())
    }

    /// Accepted submission entries, in order.
    pub fn submissions(&self) -> Vec<SubmissionRecord> {
        self.shared.lock().submissions.clone()
    }

    /// The access tokens the backend accepted, each once, in order of first use (how many
    /// a long job went through).
    pub fn access_tokens_used(&self) -> Vec<String> {
        self.shared.lock().tokens_used.clone()
    }

    /// Every backend API request (not `/_sim`), in order.
    pub fn api_log(&self) -> Vec<ApiRequest> {
        self.shared.lock().api_log.clone()
    }

    /// Runs the garbage collection once now, as its daily task does:
    /// uploads marked by an earlier run and still unreferenced are
    /// deleted, then unreferenced uploads older than the retention are
    /// marked. Returns the ids marked and deleted.
    pub async fn run_gc(&self) -> GcRun {
        gc::run_once(&self.shared).await
    }

    /// Stops all listeners and aborts open connections.
    pub async fn shutdown(self) {
        self.backend.stop().await;
        self.storage.stop().await;
        self.internal.stop().await;
        self.onecodex.stop().await;
        self.basespace.stop().await;
    }

    /// `http://127.0.0.1:PORT` of the One Codex API host (its API is under `/api/v1`).
    pub fn onecodex_url(&self) -> String {
        format!("http://{}", self.onecodex.addr)
    }

    /// The One Codex API key the sim accepts.
    pub fn onecodex_api_key(&self) -> String {
        self.shared.onecodex_key()
    }

    /// The user revokes the One Codex API key and makes a new one: the old
    /// key is refused from now on, [`Sim::onecodex_api_key`] gives the new.
    pub fn revoke_onecodex_key(&self) {
        *self
            .shared
            .onecodex_key
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = state::new_onecodex_key();
    }

    /// One Codex samples, in no particular order.
    pub fn onecodex_samples(&self) -> Vec<onecodex::Sample> {
        self.shared.lock().oc_samples.values().cloned().collect()
    }

    /// `http://127.0.0.1:PORT` of the BaseSpace API host (its API is under `/v1pre3`).
    pub fn basespace_url(&self) -> String {
        format!("http://{}", self.basespace.addr)
    }

    /// The BaseSpace access token the sim accepts (it may write to
    /// [`basespace::APPRESULT`], only read [`basespace::READ_ONLY_APPRESULT`]).
    pub fn basespace_token(&self) -> String {
        self.shared.basespace_token()
    }

    /// The BaseSpace access token is revoked and a new one issued: the old
    /// token is refused from now on, [`Sim::basespace_token`] gives the new.
    pub fn revoke_basespace_token(&self) {
        *self
            .shared
            .basespace_token
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = state::new_basespace_token();
    }

    /// A BaseSpace file by id.
    pub fn basespace_file(&self, id: &str) -> Option<basespace::BsFile> {
        self.shared.lock().bs_files.get(id).cloned()
    }

    /// Requests to the One Codex and BaseSpace API hosts, in order.
    pub fn portal_log(&self) -> Vec<ApiRequest> {
        self.shared.lock().portal_log.clone()
    }

    /// Size and lowercase hex SHA-256 of the object at `key`; `None` if absent.
    pub async fn object_sha256_at(&self, key: &str) -> Option<(u64, String)> {
        self.shared.s3.sha256(key).await.ok().flatten()
    }
}

/// Everything `GET /_sim/state` shows.
pub(crate) fn snapshot(shared: &Shared) -> SimState {
    let inner = shared.lock();
    let mut files: Vec<FileRecord> = inner.files.values().map(|f| f.record.clone()).collect();
    files.sort_by_key(|f| f.requested_at);
    SimState {
        storage_log: inner.storage_log.clone(),
        files,
        submissions: inner.submissions.clone(),
        api_log: inner.api_log.clone(),
    }
}
