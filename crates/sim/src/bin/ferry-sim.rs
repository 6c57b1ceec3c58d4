//! `ferry-sim`: runs the Loculus simulator until killed (SIGINT/SIGTERM).
//! Prints one JSON line with the endpoints and credentials on stdout, then logs on stderr.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use ferry_sim::{Sim, SimConfig};

#[derive(Parser)]
#[command(
    version,
    about = "Loculus, One Codex and BaseSpace simulators with a real S3 server, on 127.0.0.1"
)]
struct Args {
    /// Backend port (0 = random).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Storage (S3) port (0 = random).
    #[arg(long, default_value_t = 0)]
    s3_port: u16,
    /// Presigned URL lifetime in seconds.
    #[arg(long, default_value_t = 1800)]
    url_expiry_secs: u64,
    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = 36000)]
    token_lifetime_secs: u64,
    /// Directory for stored objects (default: a temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// One Codex API port (0 = random).
    #[arg(long, default_value_t = 0)]
    onecodex_port: u16,
    /// BaseSpace API port (0 = random).
    #[arg(long, default_value_t = 0)]
    basespace_port: u16,
    /// Bytes/s the storage takes in, shared by all connections (a lab's
    /// uplink); unlimited when not given.
    #[arg(long)]
    storage_bytes_per_sec: Option<u64>,
    /// The storage address put in presigned URLs, when clients reach it
    /// another way (a relay or proxy in front): `http://HOST:PORT`.
    #[arg(long)]
    s3_public_url: Option<String>,
    /// Serve the backend and the storage over TLS with this PEM
    /// certificate (chain); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Age (seconds) at which an upload no submission references is marked
    /// by the garbage collection (Loculus: 7 days).
    #[arg(long, default_value_t = 10080 * 60)]
    orphan_retention_secs: u64,
    /// Seconds between garbage collection runs (Loculus: daily); a marked
    /// upload is deleted by the next run. `POST /_sim/gc` runs one now.
    #[arg(long, default_value_t = 24 * 3600)]
    gc_interval_secs: u64,
    /// Benchmarks: hash (MD5, the part's ETag) and drop each uploaded
    /// part instead of storing it, so a terabyte can be sent without
    /// keeping it. Multipart uploads then cannot be completed.
    #[arg(long)]
    discard_bodies: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let sim = Sim::start(SimConfig {
        url_expiry: Duration::from_secs(args.url_expiry_secs),
        token_lifetime: Duration::from_secs(args.token_lifetime_secs),
        backend_port: args.port,
        s3_port: args.s3_port,
        data_dir: args.data_dir,
        onecodex_port: args.onecodex_port,
        basespace_port: args.basespace_port,
        storage_bytes_per_sec: args.storage_bytes_per_sec,
        storage_public_url: args.s3_public_url,
        tls: args.tls_cert.zip(args.tls_key),
        app: false,
        orphan_retention: Duration::from_secs(args.orphan_retention_secs),
        gc_interval: Duration::from_secs(args.gc_interval_secs),
        discard_bodies: args.discard_bodies,
    })
    .await?;
    let creds = sim.s3_credentials();
    let line = serde_json::json!({
        "backend": sim.backend_url(),
        "s3": sim.s3_url(),
        "token": sim.demo_token(),
        "access_key": creds.access_key,
        "secret_key": creds.secret_key,
        "bucket": creds.bucket,
        "region": creds.region,
        "onecodex": format!("{}/api/v1", sim.onecodex_url()),
        "onecodex_api_key": sim.onecodex_api_key(),
        "basespace": format!("{}/v1pre3", sim.basespace_url()),
        "basespace_token": sim.basespace_token(),
        "basespace_appresult": ferry_sim::basespace::APPRESULT,
    });
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    eprintln!(
        "ferry-sim: backend/website/keycloak at {}",
        sim.backend_url()
    );
    eprintln!("ferry-sim: storage (S3) at {}", sim.s3_url());
    eprintln!(
        "ferry-sim: One Codex API at {}/api/v1, BaseSpace API at {}/v1pre3 (AppResult {})",
        sim.onecodex_url(),
        sim.basespace_url(),
        ferry_sim::basespace::APPRESULT
    );
    eprintln!(
        "ferry-sim: users demo/demo (group 1), other/other (group 2), nobody/nobody, curator/curator"
    );
    eprintln!("ferry-sim: running until SIGINT/SIGTERM");

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("ferry-sim: shutting down");
    sim.shutdown().await;
    Ok(())
}
