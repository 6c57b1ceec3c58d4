//! One rig per portal: the portal and its simulator, and how a user would
//! check that a file arrived (stored bytes, sample confirmed, file complete).

use std::sync::Arc;

use ferry_engine::basespace::BaseSpace;
use ferry_engine::loculus::Loculus;
use ferry_engine::onecodex::OneCodex;
use ferry_engine::plan::{MIB, PlanPrefs};
use ferry_engine::{Portal, Secret, StaticToken, Uploaded};
use ferry_sim::{Sim, SimConfig};

/// What the scenarios need from a portal under test.
pub trait Rig: Sized {
    const NAME: &'static str;
    fn new(sim: Arc<Sim>) -> Self;
    fn sim(&self) -> &Sim;
    /// A portal with good credentials (a new one each call, as a new
    /// process would build it).
    fn portal(&self, http: &reqwest::Client) -> Arc<dyn Portal>;
    /// A portal whose credentials the simulator does not accept.
    fn portal_with_bad_credentials(&self, http: &reqwest::Client) -> Arc<dyn Portal>;
    /// Size and SHA-256 of what the portal stored for `u`.
    async fn stored(&self, u: &Uploaded) -> Option<(u64, String)>;
    /// The sample is confirmed / the file complete / attached-ready.
    fn accepted(&self, u: &Uploaded) -> bool;
    /// Part requests the storage acknowledged so far.
    fn parts_acknowledged(&self) -> usize;
    /// File sizes at this portal's boundaries, and the plan preferences
    /// that put them on the boundary.
    fn sizes() -> (Vec<u64>, PlanPrefs);
    /// A name this portal refuses.
    const BAD_NAME: &'static str;
    /// The secret the portal's API gets, to look for it where it must not be.
    fn secret(&self) -> String;
    /// Revokes the credential portals made so far use (callable from an
    /// event handler, so it takes effect before the engine goes on); a
    /// portal made afterwards gets a new, working one.
    fn revoker(&self) -> Arc<dyn Fn() + Send + Sync>;
    /// What the sign-in error tells the user to do.
    const FIX: &'static str;
    /// From the portal's contract (../shared/portals/), not from the code
    /// under test: whether big files go in parts, whether an empty file is
    /// taken, and whether a part's ETag is the MD5 of its bytes.
    const MULTIPART: bool;
    const ACCEPTS_EMPTY: bool;
    const ETAG_IS_MD5: bool;
}

pub async fn start<R: Rig>() -> R {
    R::new(Arc::new(
        Sim::start(SimConfig::default()).await.expect("sim starts"),
    ))
}

pub struct LoculusRig(Arc<Sim>);

impl Rig for LoculusRig {
    const MULTIPART: bool = true;
    const ACCEPTS_EMPTY: bool = true;
    const ETAG_IS_MD5: bool = true;
    const NAME: &'static str = "Loculus";
    const BAD_NAME: &'static str = "bad name.fastq";
    const FIX: &'static str = "sign in again";
    fn new(sim: Arc<Sim>) -> Self {
        LoculusRig(sim)
    }
    fn sim(&self) -> &Sim {
        &self.0
    }
    fn portal(&self, http: &reqwest::Client) -> Arc<dyn Portal> {
        Arc::new(
            Loculus::new(
                http.clone(),
                &self.0.backend_url(),
                1,
                Arc::new(StaticToken::new(self.0.demo_token())),
            )
            .unwrap(),
        )
    }
    fn portal_with_bad_credentials(&self, http: &reqwest::Client) -> Arc<dyn Portal> {
        Arc::new(
            Loculus::new(
                http.clone(),
                &self.0.backend_url(),
                1,
                Arc::new(StaticToken::new("not-a-token")),
            )
            .unwrap(),
        )
    }
    async fn stored(&self, u: &Uploaded) -> Option<(u64, String)> {
        self.0.object_sha256(&u.remote_id).await
    }
    fn accepted(&self, u: &Uploaded) -> bool {
        // Single PUTs need no completion; multipart ones must be completed.
        self.0
            .file(&u.remote_id)
            .is_some_and(|f| !f.multipart || f.completed)
    }
    fn parts_acknowledged(&self) -> usize {
        self.0
            .storage_log()
            .iter()
            .filter(|r| r.method == "PUT" && r.status == 200)
            .count()
    }
    fn sizes() -> (Vec<u64>, PlanPrefs) {
        (
            vec![0, 1, 5 * MIB - 1, 5 * MIB, 5 * MIB + 1, 16 * MIB + 1],
            PlanPrefs::default(),
        )
    }
    fn secret(&self) -> String {
        self.0.demo_token()
    }
    fn revoker(&self) -> Arc<dyn Fn() + Send + Sync> {
        let sim = self.0.clone();
        Arc::new(move || {
            sim.revoke_sessions("demo");
        })
    }
}

pub struct OneCodexRig(Arc<Sim>);

impl Rig for OneCodexRig {
    const MULTIPART: bool = false;
    const ACCEPTS_EMPTY: bool = false;
    const ETAG_IS_MD5: bool = false;
    const NAME: &'static str = "One Codex";
    const BAD_NAME: &'static str = "bad+name.fastq";
    const FIX: &'static str = "give a current API key";
    fn new(sim: Arc<Sim>) -> Self {
        OneCodexRig(sim)
    }
    fn sim(&self) -> &Sim {
        &self.0
    }
    fn portal(&self, http: &reqwest::Client) -> Arc<dyn Portal> {
        Arc::new(
            OneCodex::new(
                http.clone(),
                &format!("{}/api/v1", self.0.onecodex_url()),
                Secret::new(self.0.onecodex_api_key()),
                vec![],
            )
            .unwrap(),
        )
    }
    fn portal_with_bad_credentials(&self, http: &reqwest::Client) -> Arc<dyn Portal> {
        Arc::new(
            OneCodex::new(
                http.clone(),
                &format!("{}/api/v1", self.0.onecodex_url()),
                Secret::new("revoked-key"),
                vec![],
            )
            .unwrap(),
        )
    }
    async fn stored(&self, u: &Uploaded) -> Option<(u64, String)> {
        let s = self
            .0
            .onecodex_samples()
            .into_iter()
            .find(|s| s.sample_id == u.remote_id)?;
        let key = s
            .keys
            .iter()
            .find(|k| k.ends_with(&format!("/{}", u.name)))?;
        self.0.object_sha256_at(key).await
    }
    fn accepted(&self, u: &Uploaded) -> bool {
        self.0
            .onecodex_samples()
            .iter()
            .any(|s| s.sample_id == u.remote_id && s.confirmed)
    }
    fn parts_acknowledged(&self) -> usize {
        self.0
            .storage_log()
            .iter()
            .filter(|r| r.method == "POST" && r.status == 201)
            .count()
    }
    fn sizes() -> (Vec<u64>, PlanPrefs) {
        (
            vec![1, 5 * MIB - 1, 5 * MIB, 5 * MIB + 1, 16 * MIB + 1],
            PlanPrefs::default(),
        )
    }
    fn secret(&self) -> String {
        self.0.onecodex_api_key()
    }
    fn revoker(&self) -> Arc<dyn Fn() + Send + Sync> {
        let sim = self.0.clone();
        Arc::new(move || sim.revoke_onecodex_key())
    }
}

pub struct BaseSpaceRig(Arc<Sim>);

impl BaseSpaceRig {
    pub fn portal_for(&self, http: &reqwest::Client, token: &str, appresult: &str) -> BaseSpace {
        BaseSpace::new(
            http.clone(),
            &format!("{}/v1pre3", self.0.basespace_url()),
            appresult,
            Arc::new(StaticToken::new(token)),
        )
        .unwrap()
    }
}

impl Rig for BaseSpaceRig {
    const MULTIPART: bool = true;
    const ACCEPTS_EMPTY: bool = false;
    const ETAG_IS_MD5: bool = true;
    const NAME: &'static str = "BaseSpace";
    const BAD_NAME: &'static str = "bell\u{7}.fastq";
    const FIX: &'static str = "give a current access token";
    fn new(sim: Arc<Sim>) -> Self {
        BaseSpaceRig(sim)
    }
    fn sim(&self) -> &Sim {
        &self.0
    }
    fn portal(&self, http: &reqwest::Client) -> Arc<dyn Portal> {
        Arc::new(self.portal_for(
            http,
            &self.0.basespace_token(),
            ferry_sim::basespace::APPRESULT,
        ))
    }
    fn portal_with_bad_credentials(&self, http: &reqwest::Client) -> Arc<dyn Portal> {
        Arc::new(self.portal_for(http, "revoked-token", ferry_sim::basespace::APPRESULT))
    }
    async fn stored(&self, u: &Uploaded) -> Option<(u64, String)> {
        let f = self.0.basespace_file(&u.remote_id)?;
        self.0.object_sha256_at(&f.key).await
    }
    fn accepted(&self, u: &Uploaded) -> bool {
        self.0
            .basespace_file(&u.remote_id)
            .is_some_and(|f| f.status == "complete" && f.size == u.size)
    }
    fn parts_acknowledged(&self) -> usize {
        // Parts go to the API host, which logs them as storage traffic.
        self.0
            .storage_log()
            .iter()
            .filter(|r| r.method == "PUT" && r.path.contains("/parts/") && r.status == 200)
            .count()
    }
    fn sizes() -> (Vec<u64>, PlanPrefs) {
        // Up to 32 MiB in one part, so 25 MB goes as one part of exactly
        // the maximum and 25 MB + 1 has to be split.
        (
            // 5 MB and 25 MB are decimal; the engine's own minimum is 5 MiB.
            vec![
                1,
                5_000_000,
                5_000_001,
                5 * MIB - 1,
                5 * MIB,
                5 * MIB + 1,
                25_000_000,
                25_000_001,
                40 * MIB + 1,
            ],
            PlanPrefs {
                single_max: 32 * MIB,
                ..PlanPrefs::default()
            },
        )
    }
    fn secret(&self) -> String {
        self.0.basespace_token()
    }
    fn revoker(&self) -> Arc<dyn Fn() + Send + Sync> {
        let sim = self.0.clone();
        Arc::new(move || sim.revoke_basespace_token())
    }
}
