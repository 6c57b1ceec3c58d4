//! Network outages through a real TCP relay in front of the storage (and,
//! separately, the API): refused for a while, silent, a name that stops
//! resolving, a suspend. Each ends with the stored bytes equal to the file,
//! no user action, and only the parts in flight sent again. Outages are
//! scaled to seconds (1 s here for 1 min out there); one real 2-minute
//! outage runs in CI.

mod common;
mod relay;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{fast_retry, make_file, sha256_file};
use ferry_engine::clock::Clock;
use ferry_engine::loculus::Loculus;
use ferry_engine::network::{NetworkPolicy, Resolver};
use ferry_engine::plan::MIB;
use ferry_engine::{Engine, EngineConfig, Event, EventSink, Portal, StaticToken};
use ferry_sim::{Sim, SimConfig};
use relay::Relay;

const PART: u64 = 8 * MIB;
const IN_FLIGHT: usize = 4;
/// Per connection: a 40 MiB file takes a second or two, so it can be
/// broken in the middle.
const RATE: u64 = 8_000_000;

struct Rig {
    sim: Sim,
    engine: Engine,
    portal: Arc<Loculus>,
    events: Arc<Mutex<Vec<Event>>>,
    storage: Relay,
    api: Relay,
    dir: tempfile::TempDir,
    clock: Clock,
}

/// Quick tries, so seconds of outage stand for minutes.
fn scaled() -> NetworkPolicy {
    NetworkPolicy {
        max_wait: Duration::from_secs(120),
        first_probe: Duration::from_millis(100),
        probe_every: Duration::from_millis(500),
        probe_timeout: Duration::from_millis(500),
        ..NetworkPolicy::default()
    }
}

/// A resolver that knows one name, and can forget it.
struct Flip {
    up: Arc<AtomicBool>,
}

impl reqwest::dns::Resolve for Flip {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let ok = self.up.load(Ordering::SeqCst) && name.as_str() == "storage.ferry.test";
        Box::pin(async move {
            if ok {
                let a: Box<dyn Iterator<Item = SocketAddr> + Send> =
                    Box::new(vec![SocketAddr::from(([127, 0, 0, 1], 0))].into_iter());
                Ok(a)
            } else {
                Err("no such host (the test's resolver forgot it)".into())
            }
        })
    }
}

async fn rig(
    policy: NetworkPolicy,
    cfg: EngineConfig,
    url_expiry: Duration,
    dns: Option<Arc<AtomicBool>>,
) -> Rig {
    let storage = Relay::bind().await;
    let api = Relay::bind().await;
    let public = match &dns {
        Some(_) => format!("http://storage.ferry.test:{}", storage.port()),
        None => storage.url(),
    };
    let sim = Sim::start(SimConfig {
        url_expiry,
        storage_public_url: Some(public),
        ..SimConfig::default()
    })
    .await
    .expect("sim starts");
    storage.forward_to(&sim.s3_url());
    api.forward_to(&sim.backend_url());
    storage.limit(RATE);
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let clock = Clock::system();
    let engine = Engine::new(
        EngineConfig {
            network: policy,
            clock: clock.clone(),
            resolver: dns.map(|up| Resolver(Arc::new(Flip { up }))),
            ..cfg
        },
        EventSink::new(move |e| ev.lock().unwrap().push(e)),
    )
    .unwrap();
    let portal = Arc::new(
        Loculus::new(
            engine.http().clone(),
            &api.url(),
            1,
            Arc::new(StaticToken::new(sim.demo_token())),
        )
        .unwrap(),
    );
    Rig {
        sim,
        engine,
        portal,
        events,
        storage,
        api,
        dir: tempfile::tempdir().unwrap(),
        clock,
    }
}

fn engine_cfg() -> EngineConfig {
    EngineConfig {
        parts_in_flight: IN_FLIGHT,
        // About a second of retries: an outage longer than that is survived
        // only by waiting for the network.
        retry: fast_retry(),
        // Longer than a part takes to drain from the kernel's buffers
        // through the relay (they take a whole part at once on loopback).
        stall_timeout: Duration::from_secs(3),
        ..EngineConfig::default()
    }
}

/// Starts uploading `size` bytes; the handle gives the stored fileId.
fn upload(rig: &Rig, name: &str, size: u64) -> (PathBuf, tokio::task::JoinHandle<String>) {
    let p = make_file(rig.dir.path(), name, size, 7);
    let items = ferry_engine::scan::scan(std::slice::from_ref(&p), rig.portal.as_ref()).unwrap();
    let (engine, portal) = (rig.engine.clone(), rig.portal.clone() as Arc<dyn Portal>);
    let events = rig.events.clone();
    let h = tokio::spawn(async move {
        match engine.upload(portal, items).await.remove(0) {
            Ok(u) => u.remote_id,
            Err(e) => {
                for ev in events.lock().unwrap().iter() {
                    if !matches!(ev, Event::Progress { .. }) {
                        eprintln!("{ev:?}");
                    }
                }
                panic!("{e}")
            }
        }
    });
    (p, h)
}

async fn when_sent(relay: &Relay, bytes: u64) {
    // Bounded: a job that never sends (refused before a byte) fails the
    // test instead of hanging it.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while relay.bytes_up() < bytes {
        assert!(
            std::time::Instant::now() < deadline,
            "the storage never received {bytes} bytes"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn count(rig: &Rig, f: impl Fn(&Event) -> bool) -> usize {
    rig.events.lock().unwrap().iter().filter(|e| f(e)).count()
}

/// What every outage test checks: the stored bytes are the file's, the job
/// waited for the network instead of failing, and the storage received at
/// most the parts in flight twice.
async fn check(rig: &Rig, path: &PathBuf, id: &str, what: &str) {
    let size = std::fs::metadata(path).unwrap().len();
    assert_eq!(
        rig.sim.object_sha256(id).await.expect("stored").1,
        sha256_file(path),
        "{what}: the stored bytes are the file's"
    );
    let waited = count(rig, |e| matches!(e, Event::NetworkWaiting { .. }));
    let back = count(rig, |e| matches!(e, Event::NetworkBack { .. }));
    assert!(
        waited >= 1 && back >= 1,
        "{what}: waited {waited}, back {back}"
    );
    let failed = count(rig, |e| matches!(e, Event::FileFailed { .. }));
    assert_eq!(failed, 0, "{what}");
    let part = rig
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::FileQueued { part_size, .. } => Some(*part_size),
            _ => None,
        })
        .max()
        .unwrap();
    let received: u64 = rig.sim.storage_log().iter().map(|r| r.body_bytes).sum();
    let again = received.saturating_sub(size);
    assert!(
        again <= IN_FLIGHT as u64 * part,
        "{what}: {again} bytes sent again, more than the {IN_FLIGHT} parts of {part} in flight"
    );
    if let Some(d) = rig.storage.back_to_first_byte() {
        note(&format!(
            "{what}: network back -> first part byte at the storage: {} ms ({again} bytes sent again)",
            d.as_millis()
        ));
    }
}

/// Numbers for the report, kept with the other test artifacts.
fn note(line: &str) {
    println!("{line}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/artifacts");
    let _ = std::fs::create_dir_all(&dir);
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("network-outages.txt"))
    {
        let _ = writeln!(f, "{line}");
    }
}

async fn refused_storage(outage: Duration, policy: NetworkPolicy, cfg: EngineConfig, what: &str) {
    let rig = rig(policy, cfg, Duration::from_secs(1800), None).await;
    let (p, h) = upload(&rig, "refused_R1.fastq.gz", 8 * PART + 3);
    when_sent(&rig.storage, 6 * MIB).await;
    rig.storage.kill();
    tokio::time::sleep(outage).await;
    rig.storage.restart().await;
    let id = h.await.unwrap();
    check(&rig, &p, &id, what).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_refused_2_minutes_scaled_the_upload_goes_on_by_itself() {
    refused_storage(
        Duration::from_secs(2),
        scaled(),
        engine_cfg(),
        "storage refused 2 s (2 min scaled)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_refused_10_minutes_scaled_the_upload_goes_on_by_itself() {
    refused_storage(
        Duration::from_secs(10),
        scaled(),
        engine_cfg(),
        "storage refused 10 s (10 min scaled)",
    )
    .await;
}

/// The real thing: two minutes of refused connections with the default
/// policies (8 attempts over about a minute would have given up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a real 2-minute outage: run by tests/run-all.sh (--run-ignored all), in parallel"]
async fn storage_refused_for_2_real_minutes_the_upload_goes_on_by_itself() {
    refused_storage(
        Duration::from_secs(120),
        NetworkPolicy::default(),
        EngineConfig {
            parts_in_flight: IN_FLIGHT,
            ..EngineConfig::default()
        },
        "storage refused 120 s (real, default policy)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_silent_2_minutes_scaled_the_upload_goes_on_by_itself() {
    let rig = rig(scaled(), engine_cfg(), Duration::from_secs(1800), None).await;
    let (p, h) = upload(&rig, "silent_R1.fastq.gz", 8 * PART + 3);
    when_sent(&rig.storage, 6 * MIB).await;
    rig.storage.freeze();
    // Twice the stall limit, as 2 minutes are to the real 60 s.
    tokio::time::sleep(Duration::from_secs(6)).await;
    rig.storage.thaw();
    let id = h.await.unwrap();
    check(&rig, &p, &id, "storage silent 6 s (2 min scaled)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_refused_2_minutes_scaled_the_job_goes_on_by_itself() {
    let rig = rig(scaled(), engine_cfg(), Duration::from_secs(1800), None).await;
    let paths: Vec<PathBuf> = (0..3)
        .map(|i| {
            make_file(
                rig.dir.path(),
                &format!("api{i}_R1.fastq.gz"),
                2 * PART + i,
                i,
            )
        })
        .collect();
    let items = ferry_engine::scan::scan(&paths, rig.portal.as_ref()).unwrap();
    let (engine, portal) = (rig.engine.clone(), rig.portal.clone() as Arc<dyn Portal>);
    let h = tokio::spawn(async move { engine.upload(portal, items).await });
    // The API goes away mid-job: the next start or completion cannot connect.
    while count(&rig, |e| matches!(e, Event::PartDone { .. })) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    rig.api.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    rig.api.restart().await;
    let outcomes = h.await.unwrap();
    let api = format!("127.0.0.1:{}", rig.api.port());
    assert!(
        count(
            &rig,
            |e| matches!(e, Event::NetworkWaiting { host, .. } if *host == api)
        ) >= 1,
        "waited for the API"
    );
    for (p, o) in paths.iter().zip(outcomes) {
        let id = o
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .remote_id;
        assert_eq!(
            rig.sim.object_sha256(&id).await.expect("stored").1,
            sha256_file(p),
            "{}",
            p.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_name_that_stops_resolving_then_resolves_again() {
    // The storage is named (storage.ferry.test), not 127.0.0.1, and is
    // served over plain http by the test: allowed as `--allow-http` would
    // (nextest runs each test in a process of its own).
    ferry_engine::guard::allow_http(true);
    let up = Arc::new(AtomicBool::new(true));
    let rig = rig(
        scaled(),
        engine_cfg(),
        Duration::from_secs(1800),
        Some(up.clone()),
    )
    .await;
    let (p, h) = upload(&rig, "dns_R1.fastq.gz", 8 * PART + 3);
    when_sent(&rig.storage, 6 * MIB).await;
    // The VPN drops: the name is gone and so is every connection.
    up.store(false, Ordering::SeqCst);
    rig.storage.kill();
    rig.storage.restart().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    up.store(true, Ordering::SeqCst);
    rig.storage.mark_resumed();
    let id = h.await.unwrap();
    let unresolved = count(
        &rig,
        |e| matches!(e, Event::NetworkWaiting { host, .. } if host.starts_with("storage.ferry.test")),
    );
    assert!(unresolved >= 1, "waited for storage.ferry.test");
    check(
        &rig,
        &p,
        &id,
        "storage name unresolvable 2 s (2 min scaled)",
    )
    .await;
}

/// The lid closes mid-upload: nothing moves, the links expire meanwhile,
/// and the clocks say an hour went by. On waking, connections are made
/// anew and the file goes on with new links (Loculus cannot renew links,
/// so that is a new upload); no expired link is even tried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_suspend_the_file_goes_on_with_new_links() {
    let rig = rig(
        scaled(),
        EngineConfig {
            parts_in_flight: 2,
            ..engine_cfg()
        },
        Duration::from_secs(8),
        None,
    )
    .await;
    let (p, h) = upload(&rig, "lunch_R1.fastq.gz", 6 * PART);
    when_sent(&rig.storage, 3 * MIB).await;
    rig.storage.freeze();
    tokio::time::sleep(Duration::from_secs(9)).await;
    rig.clock.suspend(Duration::from_secs(3600));
    rig.storage.thaw();
    let id = h.await.unwrap();
    let woke: Vec<u64> = rig
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Woke { slept_s } => Some(*slept_s),
            _ => None,
        })
        .collect();
    assert!(
        matches!(woke[..], [s] if s >= 3600),
        "one wake after an hour: {woke:?}"
    );
    assert!(count(&rig, |e| matches!(e, Event::FileRestarted { .. })) >= 1);
    assert_eq!(
        rig.sim.object_sha256(&id).await.expect("stored").1,
        sha256_file(&p)
    );
    let refused: Vec<_> = rig
        .sim
        .storage_log()
        .into_iter()
        .filter(|r| r.status == 403)
        .collect();
    assert!(refused.is_empty(), "expired links were tried: {refused:?}");
}

/// The relay's own outage is a real one: while killed, connections are
/// refused and no other process can take its port (a server started by a
/// test alongside would otherwise answer in its place); restarted, it
/// listens on the same port again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_relay_refuses_connections_and_keeps_its_port() {
    // A server behind the relay that takes connections and holds them.
    let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let behind = server.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = server.accept().await {
            held.push(c);
        }
    });
    let r = relay::Relay::bind().await;
    r.forward_to(&behind.to_string());
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], r.port()));
    r.kill();
    // Refused once the listener has closed (at once, or within moments).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            other => assert!(
                std::time::Instant::now() < deadline,
                "still not refused: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // And the port stays the relay's (taken back within moments of the
    // listener closing): nobody else can listen on it.
    while std::net::TcpListener::bind(addr).is_ok() {
        assert!(std::time::Instant::now() < deadline, "the port was let go");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        std::net::TcpListener::bind(addr).is_err(),
        "the port was let go"
    );
    r.restart().await;
    let back = tokio::net::TcpStream::connect(addr).await;
    assert!(back.is_ok(), "{back:?}");
}
