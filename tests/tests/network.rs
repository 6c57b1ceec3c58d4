//! Institutional networks, against real servers: `ferry-sim` over TLS
//! with a certificate from a throwaway CA put in the system trust store
//! (and taken out again), a whole upload and submit through a real
//! forward proxy (Debian's tinyproxy), and the bandwidth limit measured at
//! the storage.

use ferry_e2e::sha;
use ferry_e2e::text;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_e2e::webdriver::free_port;
use ferry_e2e::{
    SimProc, assert_stored, ferry, make_file, measured_rate, probe_puts, single_ids, sparse,
};

/// Runs a command as root (the test command runs as root on CI; a
/// developer's machine asks sudo, without a password prompt).
fn as_root(cmd: &str, args: &[&str]) {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| text(&o.stdout));
    let mut c = if root.as_deref().map(str::trim).ok() == Some("0") {
        Command::new(cmd)
    } else {
        let mut s = Command::new("sudo");
        s.arg("-n").arg(cmd);
        s
    };
    let out = c
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        text(&out.stderr)
    );
}

/// The system trust store is the machine's: one test at a time changes
/// it (a lock file across test processes), and what it added goes again
/// when it ends, however it ends.
struct SystemCa {
    file: PathBuf,
    _lock: std::fs::File,
}

const STORE: &str = "/usr/local/share/ca-certificates";

impl SystemCa {
    fn lock() -> std::fs::File {
        let f = std::fs::File::create(std::env::temp_dir().join("ferry-test-ca-store.lock"))
            .expect("lock file");
        f.lock().expect("lock the trust store");
        f
    }

    fn install(lock: std::fs::File, pem: &str) -> SystemCa {
        let file = PathBuf::from(STORE).join(format!("ferry-test-ca-{}.crt", std::process::id()));
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), pem).unwrap();
        as_root("mkdir", &["-p", STORE]);
        as_root(
            "cp",
            &[tmp.path().to_str().unwrap(), file.to_str().unwrap()],
        );
        let ca = SystemCa { file, _lock: lock };
        as_root("update-ca-certificates", &[]);
        ca
    }
}

impl Drop for SystemCa {
    fn drop(&mut self) {
        as_root("rm", &["-f", self.file.to_str().unwrap()]);
        as_root("update-ca-certificates", &["--fresh"]);
    }
}

/// A CA and a certificate it signed for 127.0.0.1: (CA PEM, cert path,
/// key path).
fn throwaway_ca(dir: &Path) -> (String, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Ferry test CA (throwaway)");
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let (cert_p, key_p) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_p, leaf.pem()).unwrap();
    std::fs::write(&key_p, key.serialize_pem()).unwrap();
    (ca.pem(), cert_p, key_p)
}

fn upload(sim: &SimProc, extra: &[&str], file: &Path) -> std::process::Output {
    let mut args: Vec<&str> = extra.to_vec();
    args.extend(["upload", "--backend"]);
    let backend = sim.backend();
    args.push(&backend);
    args.extend(["--group", "1", file.to_str().unwrap()]);
    ferry(&sim.token(), &args)
}

#[test]
fn tls_trusts_a_ca_from_the_system_store_and_names_the_host_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_pem, cert, key) = throwaway_ca(dir.path());
    let sim = SimProc::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let backend = sim.backend();
    assert!(backend.starts_with("https://127.0.0.1:"), "{backend}");
    let host = backend.trim_start_matches("https://").to_string();
    let file = make_file(dir.path(), "tls_R1.fastq.gz", 12 * 1024 * 1024, 3);

    // Held from before the first upload: no other test's CA is in the
    // store while this one must fail.
    let lock = SystemCa::lock();
    let out = upload(&sim, &[], &file);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "untrusted CA accepted: {err}");
    assert!(
        err.contains(&host)
            && err.contains("not trusted")
            && err.contains("update-ca-certificates"),
        "the error names the host, the cause and the fix: {err}"
    );

    let _ca = SystemCa::install(lock, &ca_pem);
    let out = upload(&sim, &[], &file);
    assert!(
        out.status.success(),
        "with the CA installed: {}",
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    let cols: Vec<&str> = stdout.trim().split('\t').collect();
    assert_eq!(cols[1], sha(&file), "{stdout}");
    // This test's client trusts the store now too.
    assert_stored(&backend, cols[0], &sha(&file), Some(12 << 20), "over TLS");
}

/// tinyproxy on a free port, logging every request; stopped on drop.
struct Tinyproxy {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Tinyproxy {
    fn start(dir: &Path) -> Tinyproxy {
        let port = free_port();
        let log = dir.join("tinyproxy.log");
        let conf = dir.join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 600\nLogFile \"{}\"\nLogLevel Connect\nMaxClients 100\nAllow 127.0.0.1\nDisableViaHeader Yes\n",
                log.display()
            ),
        )
        .unwrap();
        let child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy (apt-get install tinyproxy)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tinyproxy did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Tinyproxy {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        }
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn upload_and_submit_go_through_a_forward_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = Tinyproxy::start(dir.path());
    let sim = SimProc::start(&[]);
    let reads = make_file(dir.path(), "p1_R1.fastq.gz", 14 * 1024 * 1024, 5);
    let meta = dir.path().join("metadata.tsv");
    std::fs::write(&meta, "id\tcountry\np1\tCH\n").unwrap();
    let out = ferry(
        &sim.token(),
        &[
            "--proxy",
            &proxy.url,
            "submit",
            "--backend",
            &sim.backend(),
            "--group",
            "1",
            "--organism",
            "dummy-organism-with-files",
            "--metadata",
            meta.to_str().unwrap(),
            "--file",
            &format!("rawReads={}", reads.display()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("p1\t"),
        "{}",
        text(&out.stdout)
    );

    // The proxy carried both hosts: the portal's API and the storage.
    let log = std::fs::read_to_string(&proxy.log).unwrap_or_default();
    let backend = sim.backend();
    let storage = sim.info["s3"].as_str().unwrap().to_string();
    let via = |host: &str| {
        log.lines()
            .filter(|l| l.contains("Request") && l.contains(host))
            .count()
    };
    assert!(
        via(&backend) > 0,
        "no portal request through the proxy:\n{log}"
    );
    assert!(
        via(&storage) > 0,
        "no storage request through the proxy:\n{log}"
    );

    // And what the storage holds is the file.
    let subs = sim.state()["submissions"].clone();
    let file_id = subs[0]["files"]["rawReads"][0][1]
        .as_str()
        .unwrap_or_else(|| panic!("attached file: {subs}"))
        .to_string();
    assert_stored(
        &backend,
        &file_id,
        &sha(&reads),
        Some(14 << 20),
        "through the proxy",
    );
}

#[test]
fn the_bandwidth_limit_holds_at_the_storage() {
    // 4 MiB/s for 44 MiB: 11 s of sending, in 8 parts in flight.
    const RATE: f64 = 4.0 * 1024.0 * 1024.0;
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProc::start(&[]);
    let file = make_file(dir.path(), "rate_R1.fastq.gz", 44 * 1024 * 1024, 7);
    let t = Instant::now();
    let out = upload(&sim, &["--limit-rate", "4M"], &file);
    let secs = t.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = text(&out.stdout).split('\t').next().unwrap().to_string();
    assert_stored(
        &sim.backend(),
        &id,
        &sha(&file),
        Some(44 << 20),
        "rate-limited",
    );
    let received: u64 = sim.state()["storage_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "PUT" && r["status"] == 200)
        .filter_map(|r| r["body_bytes"].as_u64())
        .sum();
    assert_eq!(received, 44 << 20, "bytes the storage acknowledged");
    let rate = received as f64 / secs;
    ferry_e2e::webdriver::record(
        "the_bandwidth_limit_holds_at_the_storage",
        "rate",
        &format!(
            "{:.2} MiB/s over {secs:.1} s (limit 4 MiB/s)",
            rate / 1048576.0
        ),
    );
    assert!(secs >= 10.0, "sent in {secs:.1} s: the limit did not hold");
    assert!(
        (rate - RATE).abs() / RATE < 0.15,
        "{:.2} MiB/s over {secs:.1} s, limit 4 MiB/s",
        rate / 1048576.0
    );
}

/// A file too big for an unmeasured uplink is measured with test uploads
/// first; they must take the way the file's parts take. Through a proxy,
/// every test upload goes through it, and the file then starts.
#[test]
fn the_uplink_is_measured_through_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = Tinyproxy::start(dir.path());
    let sim = SimProc::start(&["--storage-bytes-per-sec", "200000000"]);
    let huge = sparse(dir.path(), "run9_S1_R1_001.fastq.gz", 200);
    let (started, events) = sim.upload_until_a_part_starts(
        &dir.path().join("journal.sqlite"),
        &["--proxy", &proxy.url],
        &huge,
    );
    let warnings: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "warning")
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        measured_rate(&warnings).is_some(),
        "no measurement: {events:?}"
    );
    assert!(started, "the file did not start: {events:?}");

    // Each test upload's PUT reached the storage through the proxy.
    let state = sim.state();
    let log = std::fs::read_to_string(&proxy.log).unwrap_or_default();
    let sent: Vec<String> = single_ids(&state)
        .into_iter()
        .filter(|id| !probe_puts(&state, std::slice::from_ref(id)).is_empty())
        .collect();
    assert!(!sent.is_empty(), "no test upload: {}", state["storage_log"]);
    for id in &sent {
        assert!(
            log.lines()
                .any(|l| l.contains("Request") && l.contains("PUT") && l.contains(id.as_str())),
            "test upload {id} bypassed the proxy:\n{log}"
        );
    }
}
