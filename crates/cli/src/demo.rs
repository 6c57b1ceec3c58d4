//! `ferry demo`: the demo portal (a simulated Loculus on a real S3 server,
//! both on this machine) and sample files sent to it, so a new user sees
//! Ferry work with no account.
//!
//! Behind the `demo` cargo feature (on by default): a build without it has
//! no simulator inside, and `ferry demo` says so.

#[cfg(feature = "demo")]
use std::io::Write;
#[cfg(feature = "demo")]
use std::path::{Path, PathBuf};

#[cfg(feature = "demo")]
use rand::{RngCore, SeedableRng};
#[cfg(feature = "demo")]
use sha2::{Digest, Sha256};

#[cfg(feature = "demo")]
use crate::{Conn, Output};
use crate::{Fail, exit};
#[cfg(feature = "demo")]
use ferry_engine::job::SubmitSettings;

/// The demo organism takes extra files and no consensus sequences.
#[cfg(feature = "demo")]
const ORGANISM: &str = "dummy-organism-with-files";

/// A build without the demo portal.
#[cfg(not(feature = "demo"))]
pub async fn run(_size_mib: u64) -> Result<(), Fail> {
    Err(Fail(
        exit::INPUT,
        "this ferry was built without the demo portal (the `demo` cargo feature); build it with default features to try `ferry demo`".into(),
    ))
}

#[cfg(feature = "demo")]
pub async fn run(size_mib: u64) -> Result<(), Fail> {
    let sim = ferry_sim::Sim::start(ferry_sim::SimConfig::default())
        .await
        .map_err(|e| Fail(exit::INTERNAL, format!("cannot start the demo portal: {e}")))?;
    eprintln!("Demo portal (simulated Loculus on a real S3 server, this machine only):");
    eprintln!("  backend  {}", sim.backend_url());
    eprintln!("  storage  {}", sim.s3_url());

    let dir = tempfile::tempdir().map_err(|e| {
        Fail(
            exit::INTERNAL,
            format!("cannot make a temporary folder: {e}"),
        )
    })?;
    let r1 = dir.path().join("sample01_R1.fastq.gz");
    let r2 = dir.path().join("sample01_R2.fastq.gz");
    let report = dir.path().join("sample01_qc.html");
    eprintln!(
        "Writing sample files ({size_mib} MiB reads) to {} ...",
        dir.path().display()
    );
    write_sample(&r1, size_mib * 1024 * 1024, 1)?;
    write_sample(&r2, size_mib * 1024 * 1024, 2)?;
    write_sample(&report, 300 * 1024, 3)?;
    let metadata = dir.path().join("metadata.tsv");
    std::fs::write(
        &metadata,
        "id\tcountry\tsampleCollectionDate\tfiles.rawReads\n\
         sample01\tSwitzerland\t2026-11-20\tsample01_R1.fastq.gz sample01_R2.fastq.gz\n",
    )
    .map_err(|e| Fail(exit::INTERNAL, e.to_string()))?;

    let conn = Conn {
        backend: sim.backend_url(),
        group: 1,
        token: Some(sim.demo_token()),
        token_stdin: false,
        keycloak: None,
        parts_in_flight: ferry_engine::DEFAULT_PARTS_IN_FLIGHT as u16,
        journal: Some(dir.path().join("journal.sqlite")),
    };
    let out = Output {
        json: false,
        quiet: false,
        no_file_hash: false,
    };
    let files = vec![
        format!("rawReads={}", r1.display()),
        format!("rawReads={}", r2.display()),
        format!("sample01:rawReads={}", report.display()),
    ];
    eprintln!("Uploading and submitting to organism {ORGANISM}, group 1 ...");
    crate::submit::submit(
        conn,
        out,
        SubmitSettings {
            organism: ORGANISM.into(),
            metadata,
            sequences: None,
            files,
            restricted_until: None,
            legacy_file_mapping: false,
            folder: None,
        },
    )
    .await?;

    eprintln!("What the portal now holds (SHA-256 read back from its storage):");
    for s in sim.submissions() {
        for (cat, files) in &s.files {
            for (name, id) in files {
                let local = sha256_file(&dir.path().join(name))?;
                let stored = sim.object_sha256(id).await.map(|(_, h)| h);
                let ok = stored.as_deref() == Some(local.as_str());
                eprintln!(
                    "  {} {} {cat}/{name} {}",
                    if ok { "\u{2713}" } else { "\u{2717}" },
                    s.accession,
                    &local[..16]
                );
            }
        }
    }
    sim.shutdown().await;
    Ok(())
}

#[cfg(feature = "demo")]
fn write_sample(path: &Path, size: u64, seed: u64) -> Result<(), Fail> {
    let fail = |e: std::io::Error| Fail(exit::INTERNAL, format!("{}: {e}", path.display()));
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(fail)?);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut buf = vec![0u8; 1024 * 1024];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill_bytes(&mut buf[..n]);
        f.write_all(&buf[..n]).map_err(fail)?;
        left -= n as u64;
    }
    f.flush().map_err(fail)
}

#[cfg(feature = "demo")]
fn sha256_file(path: &PathBuf) -> Result<String, Fail> {
    let mut f = std::fs::File::open(path)
        .map_err(|e| Fail(exit::INTERNAL, format!("{}: {e}", path.display())))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| Fail(exit::INTERNAL, e.to_string()))?;
    Ok(hex::encode(h.finalize()))
}
