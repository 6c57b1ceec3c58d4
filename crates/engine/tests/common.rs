//! Shared set-up: a simulator on loopback and an engine pointed at it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_engine::loculus::Loculus;
use ferry_engine::retry::RetryPolicy;
use ferry_engine::{Engine, EngineConfig, Event, EventSink, StaticToken};
use ferry_sim::{Sim, SimConfig};
use sha2::{Digest, Sha256};

pub struct Rig {
    pub sim: Sim,
    pub engine: Engine,
    pub portal: Arc<Loculus>,
    pub events: Arc<Mutex<Vec<Event>>>,
    pub dir: tempfile::TempDir,
}

pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    }
}

pub async fn rig() -> Rig {
    rig_with(SimConfig::default(), "demo", 1).await
}

pub async fn rig_with(cfg: SimConfig, user: &str, group: i64) -> Rig {
    rig_full(
        cfg,
        EngineConfig {
            retry: fast_retry(),
            stall_timeout: Duration::from_secs(5),
            ..EngineConfig::default()
        },
        user,
        group,
    )
    .await
}

pub async fn rig_full(cfg: SimConfig, engine: EngineConfig, user: &str, group: i64) -> Rig {
    let sim = Sim::start(cfg).await.expect("sim starts");
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let engine = Engine::new(engine, EventSink::new(move |e| ev.lock().unwrap().push(e))).unwrap();
    let portal = Arc::new(
        Loculus::new(
            engine.http().clone(),
            &sim.backend_url(),
            group,
            Arc::new(StaticToken::new(sim.token_for(user))),
        )
        .unwrap(),
    );
    Rig {
        sim,
        engine,
        portal,
        events,
        dir: tempfile::tempdir().unwrap(),
    }
}

/// A file of `size` pseudo-random bytes (so misplaced parts change the hash).
pub fn make_file(dir: &Path, name: &str, size: u64, seed: u64) -> PathBuf {
    use std::io::Write;
    let path = dir.join(name);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut left = size;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        for chunk in buf[..n].chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = x.to_le_bytes();
            chunk.copy_from_slice(&b[..chunk.len()]);
        }
        f.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
    path
}

pub fn sha256_file(path: &Path) -> String {
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).unwrap();
    hex::encode(h.finalize())
}

pub fn scan(rig: &Rig, paths: &[PathBuf]) -> Vec<ferry_engine::Item> {
    ferry_engine::scan::scan(paths, rig.portal.as_ref()).expect("scan")
}
