//! Property-based fuzzing (proptest, stable Rust) of what reads untrusted
//! bytes: the TSV/CSV metadata reader, the FASTA id reader, and the
//! portals' JSON answers (served by a real server on 127.0.0.1 and read by
//! the real client code). Nothing may panic; what is accepted must be
//! sound. The normal test run does a short pass (FERRY_FUZZ_CASES, default
//! 64 per target); tests/bench.sh runs many more and prints the time.

mod hostile;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use ferry_engine::loculus::Loculus;
use ferry_engine::loculus::fasta;
use ferry_engine::loculus::folder::link_folder;
use ferry_engine::loculus::info::OrganismInfo;
use ferry_engine::loculus::keycloak::Keycloak;
use ferry_engine::loculus::submit::{AttachedFile, link_metadata, table_ids};
use ferry_engine::{Portal, Secret, StaticToken};
use hostile::{Hostile, Reply};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases() -> u32 {
    std::env::var("FERRY_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64)
}

/// Runs `test` over `strategy`, and prints cases and time (for bench.sh).
fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let n = cases();
    let mut runner = TestRunner::new(Config {
        cases: n,
        failure_persistence: None,
        ..Config::default()
    });
    let t = Instant::now();
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{name}: {e}");
    }
    println!(
        "fuzz {name}: {n} cases in {:.2} s",
        t.elapsed().as_secs_f64()
    );
}

/// Table-ish text: cells from a small alphabet with the characters that
/// matter to a TSV/CSV reader (tabs, commas, quotes, CR/LF, non-ASCII).
fn table_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400),
        "(id|submissionId|files\\.rawReads|fastaIds|country|[a-z]{1,6})(\t(id|files\\.rawReads|[a-z\" ,]{0,6})){0,4}\n([a-zA-Z0-9_ \"\t,;:.\\r\u{e9}-]{0,30}\n){0,8}"
            .prop_map(String::into_bytes),
    ]
}

#[test]
fn fuzz_metadata_tables() {
    let d = tempfile::tempdir().unwrap();
    let organism = OrganismInfo {
        key: "o".into(),
        display_name: "O".into(),
        consensus_sequences: false,
        files_enabled: true,
        categories: vec!["rawReads".into()],
    };
    let files = vec![AttachedFile {
        submission_id: None,
        category: "rawReads".into(),
        name: "r.fq".into(),
        file_id: "3fa85f64-5717-4562-b3fc-2c963f66afa6".into(),
    }];
    fuzz(
        "metadata tables (TSV/CSV)",
        (table_text(), any::<bool>()),
        |(raw, csv)| {
            let path = std::path::Path::new("metadata.tsv");
            let ids = table_ids(&raw);
            if let Ok(linked) = link_metadata(path, &raw, &files, true) {
                // What goes out is a table again, with as many rows.
                let back = table_ids(&linked.tsv);
                prop_assert_eq!(back.len(), ids.len());
            }
            // The folder reader, on disk, as a TSV or a CSV.
            let name = if csv { "metadata.csv" } else { "metadata.tsv" };
            let _ = std::fs::remove_file(d.path().join("metadata.csv"));
            let _ = std::fs::remove_file(d.path().join("metadata.tsv"));
            std::fs::write(d.path().join(name), &raw).unwrap();
            let l = link_folder(d.path(), &organism);
            for p in &l.problems {
                prop_assert!(!p.message.is_empty());
            }
            Ok(())
        },
    );
}

/// FASTA-ish bytes: records with ids, or anything at all.
fn fasta_text() -> impl Strategy<Value = (Vec<u8>, Option<Vec<String>>)> {
    let record = (
        "[A-Za-z0-9_.|-]{1,12}",
        "( [ -~]{0,20})?",
        "([ACGTN]{0,70}\r?\n){0,4}",
    );
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..600).prop_map(|b| (b, None)),
        prop::collection::vec(record, 0..8).prop_map(|recs| {
            let mut text = String::new();
            let mut ids = Vec::new();
            for (id, desc, seq) in recs {
                text.push_str(&format!(">{id}{desc}\n{seq}"));
                ids.push(id);
            }
            (text.into_bytes(), Some(ids))
        }),
    ]
}

#[test]
fn fuzz_fasta_ids() {
    fuzz("FASTA ids", fasta_text(), |(raw, want)| {
        let got = fasta::ids(&raw[..]);
        if let Some(want) = want {
            prop_assert_eq!(got.unwrap(), want);
        }
        // A filtered copy keeping everything is the input (with a final newline).
        let mut out = Vec::new();
        if fasta::filter(&raw[..], Some(&mut out), |_| true).is_ok() {
            let mut expect = raw.clone();
            if !expect.is_empty() && expect.last() != Some(&b'\n') {
                expect.push(b'\n');
            }
            prop_assert_eq!(out, expect);
        }
        Ok(())
    });
}

/// JSON values shaped like the portals' answers, with hostile leaves.
fn json_answer() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        prop_oneof![
            Just("3fa85f64-5717-4562-b3fc-2c963f66afa6".to_string()),
            Just("http://evil.example/x?X-Amz-Signature=s".to_string()),
            Just("https://127.0.0.1:1/x?X-Amz-Expires=18446744073709551615&X-Amz-Date=20261123T120000Z".to_string()),
            Just("file:///etc/passwd".to_string()),
            "[ -~]{0,20}",
        ]
        .prop_map(serde_json::Value::from),
    ];
    let keys = prop_oneof![
        Just("fileId".to_string()),
        Just("url".to_string()),
        Just("urls".to_string()),
        Just("headers".to_string()),
        Just("access_token".to_string()),
        Just("refresh_token".to_string()),
        Just("expires_in".to_string()),
        "[a-z]{1,5}",
    ];
    let value = leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(keys.clone(), inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    prop_oneof![
        4 => value.prop_map(|v| v.to_string()),
        1 => "[ -~]{0,40}",
    ]
}

#[test]
fn fuzz_portal_json_answers() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let answer = Arc::new(Mutex::new(String::new()));
    let a = answer.clone();
    let server = rt.block_on(Hostile::start(move |_| {
        Reply::json(200, &a.lock().unwrap())
    }));
    let http = ferry_engine::transfer::http_client().unwrap();
    let loculus = Loculus::new(
        http.clone(),
        &server.url,
        1,
        Arc::new(StaticToken::new("t")),
    )
    .unwrap();
    let spec = |size: u64| ferry_engine::portal::FileSpec {
        name: "r.fq".into(),
        plan: ferry_engine::plan::plan(
            size,
            &ferry_engine::PlanLimits::S3,
            &ferry_engine::PlanPrefs::default(),
        )
        .unwrap(),
    };
    fuzz(
        "portal JSON answers",
        (json_answer(), any::<bool>()),
        |(json, multipart)| {
            *answer.lock().unwrap() = json;
            rt.block_on(async {
                let size = if multipart { 12 << 20 } else { 10 };
                if let Ok(ups) = loculus.begin(&[spec(size)]).await {
                    // Accepted only with a file id (a UUID) and a link per part;
                    // links are checked again before anything is sent to them.
                    for u in &ups {
                        prop_assert_eq!(u.remote_id.len(), 36);
                        prop_assert!(!u.urls.is_empty());
                    }
                }
                let _ = Keycloak::sign_in(http.clone(), &server.url, "u", &Secret::new("p"), None)
                    .await;
                Ok(())
            })
        },
    );
}
