//! The bad-input corpus: what a lab machine meets from mistyped addresses,
//! odd file names, hostile folders, damaged or bomb-like compressed files
//! and malformed or hostile server answers. Each case expects a specific
//! error (named words in the message), no panic, and nothing sent where it
//! should not go. Tables run in one test each; every failing case is
//! listed at once.

mod hostile;
mod inputs;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ferry_engine::basespace::BaseSpace;
use ferry_engine::loculus::Loculus;
use ferry_engine::loculus::folder::{compressed, link_folder};
use ferry_engine::loculus::info::OrganismInfo;
use ferry_engine::loculus::keycloak::{self, Keycloak};
use ferry_engine::onecodex::OneCodex;
use ferry_engine::retry::RetryPolicy;
use ferry_engine::{Engine, EngineConfig, EventSink, Portal, Secret, StaticToken};
use hostile::{Hostile, Reply, Req};

/// `None`: must succeed; `Some(words)`: must fail with all of them in the message.
type Want = Option<&'static [&'static str]>;

fn judge(case: &str, got: Result<(), String>, want: Want, failures: &mut Vec<String>) {
    // A message is read by a person: whatever a server sent, it stays short.
    if let Err(e) = &got
        && e.len() > 2000
    {
        failures.push(format!("{case}: a message of {} bytes", e.len()));
    }
    match (got, want) {
        (Ok(()), None) => {}
        (Ok(()), Some(w)) => {
            failures.push(format!("{case}: succeeded, wanted an error with {w:?}"))
        }
        (Err(e), None) => failures.push(format!("{case}: failed: {e}")),
        (Err(e), Some(w)) => {
            if let Some(missing) = w.iter().find(|w| !e.contains(*w)) {
                failures.push(format!("{case}: the error lacks {missing:?}: {e}"));
            }
        }
    }
}

fn report(section: &str, n: usize, failures: Vec<String>) {
    println!("corpus {section}: {n} cases");
    assert!(failures.is_empty(), "{section}:\n{}", failures.join("\n"));
}

fn no_token() -> Arc<StaticToken> {
    Arc::new(StaticToken::new("corpus-token"))
}

// ---------------------------------------------------------------- addresses

const ADDRESSES: &[(&str, Want)] = &[
    ("https://backend.example.org", None),
    ("http://127.0.0.1:9", None),
    ("http://localhost:9", None),
    ("http://[::1]:9", None),
    (
        "http://backend.example.org",
        Some(&["plain http://", "--allow-http"]),
    ),
    (
        "HTTP://BACKEND.EXAMPLE.ORG/api",
        Some(&["plain http://", "backend.example.org"]),
    ),
    ("http://127.0.0.1.nip.io", Some(&["plain http://"])),
    ("http://0.0.0.0:80", Some(&["plain http://"])),
    ("http://10.0.0.1/", Some(&["plain http://"])),
    (
        "ftp://backend.example.org",
        Some(&["ftp:", "https:// only"]),
    ),
    ("file:///etc/passwd", Some(&["names no host"])),
    ("javascript:alert(1)", Some(&["names no host"])),
    ("backend.example.org", Some(&["is not a URL"])),
    ("", Some(&["is not a URL"])),
    ("https://", Some(&["is not a URL"])),
    (
        "http://user:hunter2@evil.example/",
        Some(&["plain http://", "evil.example"]),
    ),
];

#[tokio::test]
async fn addresses_are_https_or_loopback() {
    let http = ferry_engine::transfer::http_client().unwrap();
    let mut failures = Vec::new();
    for (url, want) in ADDRESSES {
        let loculus = Loculus::new(http.clone(), url, 1, no_token()).map(|_| ());
        let onecodex = OneCodex::new(http.clone(), url, Secret::new("k"), vec![]).map(|_| ());
        let basespace = BaseSpace::new(http.clone(), url, "1", no_token()).map(|_| ());
        for (what, r) in [
            ("loculus", loculus),
            ("onecodex", onecodex),
            ("basespace", basespace),
        ] {
            let r = r.map_err(|e| e.to_string());
            if let Err(e) = &r
                && e.contains("hunter2")
            {
                failures.push(format!(
                    "{url} ({what}): the message shows the password: {e}"
                ));
            }
            judge(&format!("{url:?} ({what})"), r, *want, &mut failures);
        }
        // The Keycloak is refused before anything is sent (nothing listens
        // on the accepted ones: those fail later, on the network).
        if want.is_some() {
            let r = Keycloak::sign_in(http.clone(), url, "u", &Secret::new("pw"), None)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
            judge(&format!("{url:?} (keycloak)"), r, *want, &mut failures);
        }
    }
    report("addresses", ADDRESSES.len(), failures);
}

// ---------------------------------------------------------------- file names

const NAMES: &[(&str, Want)] = &[
    ("reads_R1.fastq.gz", None),
    ("ñandú.fa", None),
    (
        "with space.fq",
        Some(&["with space.fq", "whitespace", "rename"]),
    ),
    ("a:b.fq", Some(&["':'", "rename"])),
    ("tab\there.fq", Some(&["control characters"])),
    ("bell\u{7}.fq", Some(&["control characters"])),
    ("nbsp\u{a0}x.fq", Some(&["whitespace"])),
    ("q?.fq", Some(&["'?'"])),
    ("star*.fq", Some(&["'*'"])),
    ("pipe|.fq", Some(&["'|'"])),
    ("<x>.fq", Some(&["'<'"])),
    ("quote\".fq", Some(&["'\"'"])),
    ("back\\slash.fq", Some(&["'\\\\'"])),
    ("new\nline.fq", Some(&["control characters"])),
];

#[test]
fn file_names_the_portal_refuses_are_named() {
    let d = tempfile::tempdir().unwrap();
    let rules = ferry_engine::loculus::names::LoculusNames;
    let mut failures = Vec::new();
    for (name, want) in NAMES {
        let p = d.path().join(name);
        std::fs::write(&p, b"ACGT").unwrap();
        let r = ferry_engine::scan::scan(std::slice::from_ref(&p), &rules)
            .map(|_| ())
            .map_err(|e| e.to_string());
        judge(&format!("{name:?}"), r, *want, &mut failures);
    }
    // Not files at all.
    let odd: Vec<(String, std::path::PathBuf, &[&str])> = vec![
        (
            "a folder".into(),
            d.path().to_path_buf(),
            &["not a regular file"],
        ),
        (
            "/dev/null".into(),
            "/dev/null".into(),
            &["not a regular file"],
        ),
        (
            "a missing file".into(),
            d.path().join("gone.fq"),
            &["gone.fq", "cannot be read"],
        ),
        (
            "a dangling link".into(),
            {
                let l = d.path().join("dangling.fq");
                std::os::unix::fs::symlink(d.path().join("nowhere"), &l).unwrap();
                l
            },
            &["dangling.fq", "cannot be read"],
        ),
    ];
    for (what, p, want) in &odd {
        let r = ferry_engine::scan::scan(std::slice::from_ref(p), &rules)
            .map(|_| ())
            .map_err(|e| e.to_string());
        judge(what, r, Some(want), &mut failures);
    }
    report("names", NAMES.len() + odd.len(), failures);
}

// ---------------------------------------------------------------- folders

fn both() -> OrganismInfo {
    OrganismInfo {
        key: "both".into(),
        display_name: "Both".into(),
        consensus_sequences: true,
        files_enabled: true,
        categories: vec!["rawReads".into()],
    }
}

enum Body {
    Text(&'static str),
    Bytes(Vec<u8>),
    /// A link to this path, relative to the folder.
    Link(&'static str),
    /// A gzip bomb: header, then 1 GiB of rows.
    Bomb,
    /// A gzip bomb of millions of tiny rows.
    RowBomb,
}

fn gz(text: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text).unwrap();
    e.finish().unwrap()
}

fn bz2(text: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    e.write_all(text).unwrap();
    e.finish().unwrap()
}

const META: &str = "id\tcountry\ns1\tCH\n";
const FA: &str = ">s1\nACGT\n";

/// A folder case: what it is, its files, what is expected.
type FolderCase = (&'static str, Vec<(&'static str, Body)>, Want);

fn folders() -> Vec<FolderCase> {
    use Body::*;
    let long_line = {
        let mut t = b"id\tcountry\ns1\t".to_vec();
        t.extend(std::iter::repeat_n(b'x', 2 << 20));
        t.extend(b"\n");
        t
    };
    let long_header = {
        let mut t = b">".to_vec();
        t.extend(std::iter::repeat_n(b'h', 70 << 10));
        t.extend(b"\nACGT\n");
        t
    };
    let truncated = {
        let g = gz(META.repeat(2000).as_bytes());
        g[..g.len() / 2].to_vec()
    };
    vec![
        (
            "a complete folder",
            vec![("metadata.tsv", Text(META)), ("sequences.fasta", Text(FA))],
            None,
        ),
        ("an empty folder", vec![], Some(&["no metadata table"])),
        (
            "two tables, neither named metadata",
            vec![
                ("a.tsv", Text(META)),
                ("b.tsv", Text(META)),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["metadata tables"]),
        ),
        (
            "no id column",
            vec![
                ("metadata.tsv", Text("name\tcountry\ns1\tCH\n")),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["has no 'id' column"]),
        ),
        (
            "id and submissionId",
            vec![
                ("metadata.tsv", Text("id\tsubmissionId\ns1\ts1\n")),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["both an 'id' and a 'submissionId'"]),
        ),
        (
            "a column twice",
            vec![
                ("metadata.tsv", Text("id\tcountry\tcountry\ns1\tCH\tCH\n")),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["country", "more than once"]),
        ),
        (
            "a short record",
            vec![
                ("metadata.tsv", Text("id\tcountry\tdate\ns1\tCH\n")),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["record 1 has 2 cells", "3 columns"]),
        ),
        (
            "a header only",
            vec![
                ("metadata.tsv", Text("id\tcountry\n")),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["has no rows"]),
        ),
        (
            "an id twice",
            vec![
                ("metadata.tsv", Text("id\tcountry\ns1\tCH\ns1\tDE\n")),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["'s1' is used by an earlier row"]),
        ),
        (
            "an id with a space",
            vec![
                ("metadata.tsv", Text("id\tcountry\ns 1\tCH\n")),
                ("sequences.fasta", Text(">s\nAC\n")),
            ],
            Some(&["'s 1' contains whitespace"]),
        ),
        (
            "an empty id",
            vec![
                ("metadata.tsv", Text("id\tcountry\n\tCH\n")),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["record 1 has no id"]),
        ),
        (
            "an unknown file column",
            vec![
                ("metadata.tsv", Text("id\tfiles.bogus\ns1\t\n")),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["'bogus' is not a file category"]),
        ),
        (
            "an unknown category folder",
            vec![
                ("metadata.tsv", Text(META)),
                ("sequences.fasta", Text(FA)),
                ("s1/bogus/r.fq", Text("A")),
            ],
            Some(&["'bogus' is not a file category"]),
        ),
        (
            "a named file missing",
            vec![
                ("metadata.tsv", Text("id\tfiles.rawReads\ns1\tgone.fq\n")),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["gone.fq", "no such file in the folder"]),
        ),
        (
            "a sequence without a row",
            vec![
                ("metadata.tsv", Text(META)),
                ("sequences.fasta", Text(">s1\nAC\n>s9\nGG\n")),
            ],
            Some(&["'s9' has no metadata row"]),
        ),
        (
            "a row without its sequence",
            vec![
                ("metadata.tsv", Text("id\tcountry\ns1\tCH\ns2\tDE\n")),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["row 's2'", "no sequence"]),
        ),
        (
            "an empty read file",
            vec![
                ("metadata.tsv", Text(META)),
                ("sequences.fasta", Text(FA)),
                ("s1/rawReads/r.fq", Text("")),
            ],
            Some(&["s1/rawReads/r.fq", "is empty"]),
        ),
        (
            "a file name Loculus refuses",
            vec![
                ("metadata.tsv", Text(META)),
                ("sequences.fasta", Text(FA)),
                ("s1/rawReads/bad name.fq", Text("A")),
            ],
            Some(&["bad name.fq", "whitespace"]),
        ),
        (
            "links back up (a loop)",
            vec![
                ("metadata.tsv", Text(META)),
                ("sequences.fasta", Text(FA)),
                ("s1/rawReads/r.fq", Text("A")),
                ("s1/rawReads/up", Link(".")),
                ("s1/up2", Link("s1")),
            ],
            Some(&["s1/rawReads/up"]),
        ),
        (
            "an endless FASTA header",
            vec![
                ("metadata.tsv", Text(META)),
                ("sequences.fasta", Bytes(long_header)),
            ],
            Some(&["sequences.fasta", "longer than 64 KiB"]),
        ),
        (
            "a 2 MiB table line",
            vec![
                ("metadata.tsv", Bytes(long_line)),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["metadata.tsv", "line longer than 1 MiB"]),
        ),
        (
            "a 1 GiB gzip bomb table",
            vec![("metadata.tsv.gz", Bomb), ("sequences.fasta", Text(FA))],
            Some(&["metadata.tsv.gz", "more than 64 MiB"]),
        ),
        (
            "a gzip bomb of 4-byte rows",
            vec![("metadata.tsv.gz", RowBomb), ("sequences.fasta", Text(FA))],
            Some(&["metadata.tsv.gz", "more than 1000000 rows"]),
        ),
        (
            "a gzip table",
            vec![
                ("metadata.tsv.gz", Bytes(gz(META.as_bytes()))),
                ("sequences.fasta", Text(FA)),
            ],
            None,
        ),
        (
            "a bzip2 table",
            vec![
                ("metadata.tsv.bz2", Bytes(bz2(META.as_bytes()))),
                ("sequences.fasta", Text(FA)),
            ],
            None,
        ),
        (
            "a gzip FASTA",
            vec![
                ("metadata.tsv", Text(META)),
                ("sequences.fasta.gz", Bytes(gz(FA.as_bytes()))),
            ],
            None,
        ),
        (
            ".gz that is plain text",
            vec![
                ("metadata.tsv.gz", Text(META)),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["metadata.tsv.gz", "not a valid table"]),
        ),
        (
            "a truncated .gz table",
            vec![
                ("metadata.tsv.gz", Bytes(truncated)),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["metadata.tsv.gz", "cannot be read"]),
        ),
        (
            ".zst that is not zstd",
            vec![
                ("metadata.tsv.zst", Text(META)),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["metadata.tsv.zst", "not valid zst data"]),
        ),
        (
            ".xz that is not xz",
            vec![
                ("metadata.tsv.xz", Text(META)),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["metadata.tsv.xz", "not a valid table"]),
        ),
        (
            ".bz2 that is not bzip2",
            vec![
                ("metadata.tsv.bz2", Text(META)),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["metadata.tsv.bz2", "not a valid table"]),
        ),
        (
            ".lzma that is not lzma",
            vec![
                ("metadata.tsv.lzma", Bytes(vec![0xff; 64])),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["metadata.tsv.lzma", "cannot be read"]),
        ),
        (
            ".zip that is not zip",
            vec![
                ("metadata.tsv.zip", Text(META)),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["metadata.tsv.zip", "not a valid zip"]),
        ),
        (
            "a .gz FASTA that is not gzip",
            vec![
                ("metadata.tsv", Text(META)),
                ("sequences.fasta.gz", Text(FA)),
            ],
            Some(&["sequences.fasta.gz", "cannot be read"]),
        ),
        (
            "a binary table",
            vec![
                (
                    "metadata.tsv",
                    Bytes(vec![0xff, 0xfe, 0x00, 0x09, 0x0a, 0x80, 0x81, 0x0a]),
                ),
                ("sequences.fasta", Text(FA)),
            ],
            Some(&["metadata.tsv"]),
        ),
    ]
}

fn make(dir: &Path, files: Vec<(&str, Body)>) {
    for (rel, body) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        match body {
            Body::Text(t) => std::fs::write(&p, t).unwrap(),
            Body::Bytes(b) => std::fs::write(&p, b).unwrap(),
            Body::Link(to) => std::os::unix::fs::symlink(dir.join(to), &p).unwrap(),
            Body::RowBomb => {
                inputs::table_bomb(&p, b"id\n", b"s01\n", 1);
            }
            Body::Bomb => {
                inputs::table_bomb(&p, b"id\tcountry\n", inputs::ROW_128, 1);
            }
        }
    }
}

#[test]
fn folder_shapes_are_reported_with_the_file_and_the_fix() {
    let cases = folders();
    let n = cases.len();
    let mut failures = Vec::new();
    for (what, files, want) in cases {
        let d = tempfile::tempdir().unwrap();
        make(d.path(), files);
        let l = link_folder(d.path(), &both());
        let r = if l.problems.is_empty() {
            Ok(())
        } else {
            Err(l
                .problems
                .iter()
                .map(|p| p.message.clone())
                .collect::<Vec<_>>()
                .join(" | "))
        };
        judge(what, r, want, &mut failures);
    }
    // The submit step reads the table itself: the same caps hold there.
    let d = tempfile::tempdir().unwrap();
    let bomb = d.path().join("m.tsv.gz");
    inputs::table_bomb(&bomb, b"id\n", b"s01\n", 1);
    let r = compressed::read_table(&bomb)
        .map(|_| ())
        .map_err(|e| e.to_string());
    judge(
        "a bomb read by the submit step",
        r,
        Some(&["m.tsv.gz", "more than 64 MiB"]),
        &mut failures,
    );
    report("folders", n + 1, failures);
}

// ---------------------------------------------------------------- servers

/// An engine that tries twice, quickly.
fn engine() -> Engine {
    Engine::new(
        EngineConfig {
            retry: RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
            },
            stall_timeout: Duration::from_secs(5),
            ..EngineConfig::default()
        },
        EventSink::none(),
    )
    .unwrap()
}

/// Upload one small file; the error message, if any.
async fn upload_one(engine: &Engine, portal: Arc<dyn Portal>) -> Result<(), String> {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("reads.fq");
    std::fs::write(&p, b"@r\nACGT\n+\nIIII\n").unwrap();
    let items = ferry_engine::scan::scan(&[p], portal.as_ref()).map_err(|e| e.to_string())?;
    let out = engine.upload(portal, items).await;
    out.into_iter()
        .next()
        .unwrap()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

const UUID: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";

fn single_url(url: &str) -> Reply {
    Reply::json(200, &format!(r#"[{{"fileId":"{UUID}","url":"{url}"}}]"#))
}

/// How a Loculus backend misbehaves on `request-upload`; `{evil}` in a
/// string stands for a second server (on 127.0.0.1) that must get nothing.
enum Answer {
    Json(&'static str),
    Url(&'static str),
    Redirect(u16),
    Endless(u16),
    RetryAfter(&'static str),
    Raw(&'static [u8]),
    /// Status and body (`{60k}` stands for 60,000 x's).
    Status(u16, &'static str),
}

const LOCULUS: &[(&str, Answer, &[&str])] = &[
    (
        "an endless answer",
        Answer::Endless(200),
        &["larger than 32 MiB"],
    ),
    (
        "an endless error body",
        Answer::Endless(500),
        &["failed (500)"],
    ),
    (
        "a 60 KB error detail",
        Answer::Status(422, "{\"detail\":\"{60k}\"}"),
        &["rejected the request (422)"],
    ),
    (
        "a 401 with an endless body",
        Answer::Endless(401),
        &["did not accept the sign-in (401)"],
    ),
    (
        "truncated JSON",
        Answer::Json(r#"[{"fileId":"3fa8"#),
        &["unexpected answer", "EOF"],
    ),
    (
        "wrong types",
        Answer::Json(r#"[{"fileId":5,"url":true}]"#),
        &["unexpected answer", "invalid type"],
    ),
    (
        "an object, not a list",
        Answer::Json(r#"{"fileId":"x"}"#),
        &["unexpected answer"],
    ),
    (
        "no URL for the file",
        Answer::Json("[]"),
        &["asked to start 1 uploads, got 0"],
    ),
    (
        "a file id that is a path",
        Answer::Json(r#"[{"fileId":"../../../etc/passwd","url":"http://127.0.0.1:1/x"}]"#),
        &["is not a file id"],
    ),
    ("null", Answer::Json("null"), &["unexpected answer"]),
    (
        "an upload link over http to another host",
        Answer::Url("http://storage.example.org/b/k?X-Amz-Signature=s"),
        &["upload link", "plain http://"],
    ),
    (
        "an upload link to a file",
        Answer::Url("file:///etc/passwd"),
        &["upload link", "names no host"],
    ),
    (
        "an upload link to javascript",
        Answer::Url("javascript:alert(1)"),
        &["upload link", "names no host"],
    ),
    (
        "an upload link over ftp",
        Answer::Url("ftp://storage.example.org/k"),
        &["upload link", "https:// only"],
    ),
    (
        "an upload link that is no URL",
        Answer::Url("not a url"),
        &["upload link", "is not a URL"],
    ),
    (
        "a huge X-Amz-Expires",
        Answer::Url(
            // Signed long ago: capped at S3's 7 days, the link has expired
            // (no overflow, no panic, never sent to).
            "http://127.0.0.1:1/b/k?X-Amz-Date=20200101T000000Z&X-Amz-Expires=18446744073709551615",
        ),
        &["expired upload link", "expired before it could start"],
    ),
    (
        "a 302 to another host",
        Answer::Redirect(302),
        &["302 pointing to", "/steal", "redirects"],
    ),
    (
        "a 307 to another host",
        Answer::Redirect(307),
        &["307 pointing to", "/steal"],
    ),
    (
        "a 308 to another host",
        Answer::Redirect(308),
        &["308 pointing to"],
    ),
    (
        "a 301 to another host",
        Answer::Redirect(301),
        &["301 pointing to"],
    ),
    (
        "a Retry-After of 584 billion years",
        Answer::RetryAfter("18446744073709551615"),
        &["failed (503)"],
    ),
    (
        "a negative Retry-After",
        Answer::RetryAfter("-3"),
        &["failed (503)"],
    ),
    (
        "a lying Content-Length",
        Answer::Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[{\"fileId\""),
        &["network error"],
    ),
    (
        "not HTTP at all",
        Answer::Raw(b"SSH-2.0-OpenSSH_9.6\r\n"),
        &["network error"],
    ),
    (
        "a negative Content-Length",
        Answer::Raw(b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n[]"),
        &["network error"],
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_loculus_answers_cost_an_error_and_leak_nothing() {
    let evil = Hostile::start(|_| Reply::json(200, "{}")).await;
    let mut failures = Vec::new();
    for (what, answer, want) in LOCULUS {
        let to = format!("{}/steal", evil.url);
        let reply = move |_: &Req| -> Reply {
            match answer {
                Answer::Json(j) => Reply::json(200, j),
                Answer::Url(u) => single_url(u),
                Answer::Redirect(s) => Reply::redirect(*s, &to),
                Answer::Endless(s) => Reply::Endless(*s, 100 << 20, b'['),
                Answer::RetryAfter(v) => Reply::Full(
                    503,
                    vec![("Retry-After".into(), v.to_string())],
                    b"busy".to_vec(),
                ),
                Answer::Raw(b) => Reply::Raw(b.to_vec()),
                Answer::Status(s, body) => {
                    Reply::json(*s, &body.replace("{60k}", &"x".repeat(60_000)))
                }
            }
        };
        let server = Hostile::start(reply).await;
        let engine = engine();
        let portal =
            Arc::new(Loculus::new(engine.http().clone(), &server.url, 1, no_token()).unwrap());
        // Straight to `begin` for the Retry-After cases: the number itself
        // is what is checked (the engine would wait it out).
        let r = if let Answer::RetryAfter(_) = answer {
            let spec = ferry_engine::portal::FileSpec {
                name: "r.fq".into(),
                plan: ferry_engine::plan::plan(
                    16,
                    &ferry_engine::PlanLimits::S3,
                    &ferry_engine::PlanPrefs::default(),
                )
                .unwrap(),
            };
            match portal.begin(&[spec]).await {
                Ok(_) => Ok(()),
                Err(e) => {
                    let wait = e.retry_after().unwrap_or_default();
                    if wait > Duration::from_secs(600) {
                        failures.push(format!("{what}: waits {wait:?}"));
                    }
                    Err(e.to_string())
                }
            }
        } else {
            tokio::time::timeout(Duration::from_secs(60), upload_one(&engine, portal))
                .await
                .unwrap_or_else(|_| Err("hung".into()))
        };
        judge(what, r, Some(want), &mut failures);
    }
    let leaked = evil.requests();
    if !leaked.is_empty() {
        failures.push(format!(
            "the redirect target got {} requests: {:?}",
            leaked.len(),
            leaked[0].text()
        ));
    }
    report("loculus answers", LOCULUS.len(), failures);
}

/// Keycloak answers: (what, token answer or discovery, expected).
enum Kc {
    Token(&'static str),
    TokenEndless,
    TokenRedirect(u16),
    Discovery(&'static str),
    DeviceLink(&'static str),
}

const KEYCLOAK: &[(&str, Kc, Want)] = &[
    (
        "expires_in of u64::MAX",
        Kc::Token(r#"{"access_token":"a","refresh_token":"r","expires_in":18446744073709551615}"#),
        None,
    ),
    (
        "expires_in of 0",
        Kc::Token(r#"{"access_token":"a","refresh_token":"r","expires_in":0}"#),
        None,
    ),
    (
        "a negative expires_in",
        Kc::Token(r#"{"access_token":"a","refresh_token":"r","expires_in":-1}"#),
        Some(&["unreadable token response"]),
    ),
    (
        "expires_in as text",
        Kc::Token(r#"{"access_token":"a","refresh_token":"r","expires_in":"300"}"#),
        Some(&["unreadable token response"]),
    ),
    (
        "expires_in past u64",
        Kc::Token(r#"{"access_token":"a","refresh_token":"r","expires_in":1e400}"#),
        Some(&["unreadable token response"]),
    ),
    (
        "no access token",
        Kc::Token(r#"{"refresh_token":"r","expires_in":60}"#),
        Some(&["unreadable token response"]),
    ),
    (
        "no refresh token",
        Kc::Token(r#"{"access_token":"a","expires_in":60}"#),
        Some(&["gave no refresh_token"]),
    ),
    (
        "an endless token answer",
        Kc::TokenEndless,
        Some(&["larger than 32 MiB"]),
    ),
    (
        "a 307 re-posting the password",
        Kc::TokenRedirect(307),
        Some(&["307 pointing to", "/steal"]),
    ),
    (
        "a 308 re-posting the password",
        Kc::TokenRedirect(308),
        Some(&["308 pointing to"]),
    ),
    (
        "a token endpoint over http elsewhere",
        Kc::Discovery(
            r#"{"token_endpoint":"http://evil.example/token","device_authorization_endpoint":"{self}/dev","grant_types_supported":["urn:ietf:params:oauth:grant-type:device_code"]}"#,
        ),
        Some(&["token endpoint", "plain http://"]),
    ),
    (
        "a device endpoint over ftp",
        Kc::Discovery(
            r#"{"token_endpoint":"{self}/token","device_authorization_endpoint":"ftp://evil.example/dev","grant_types_supported":["urn:ietf:params:oauth:grant-type:device_code"]}"#,
        ),
        Some(&["device sign-in endpoint", "https:// only"]),
    ),
    (
        "a discovery document of wrong types",
        Kc::Discovery(r#"{"token_endpoint":7}"#),
        Some(&["unreadable OIDC discovery document"]),
    ),
    (
        "a sign-in link to another host",
        Kc::DeviceLink("https://evil.example/device"),
        Some(&["evil.example", "not opened"]),
    ),
    (
        "a sign-in link over http elsewhere",
        Kc::DeviceLink("http://evil.example/device"),
        Some(&["not opened"]),
    ),
    (
        "a javascript: sign-in link",
        Kc::DeviceLink("javascript:alert(1)"),
        Some(&["not opened"]),
    ),
    (
        "a file: sign-in link",
        Kc::DeviceLink("file:///etc/passwd"),
        Some(&["not opened"]),
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_keycloak_answers_cost_an_error_and_leak_nothing() {
    let evil = Hostile::start(|_| Reply::json(200, "{}")).await;
    let http = ferry_engine::transfer::http_client().unwrap();
    let mut failures = Vec::new();
    for (what, kc, want) in KEYCLOAK {
        let to = format!("{}/steal", evil.url);
        let me = Arc::new(std::sync::Mutex::new(String::new()));
        let me2 = me.clone();
        let server = Hostile::start(move |req: &Req| {
            let me = me2.lock().unwrap().clone();
            match kc {
                Kc::Token(j) => Reply::json(200, j),
                Kc::TokenEndless => Reply::Endless(200, 100 << 20, b' '),
                Kc::TokenRedirect(s) => Reply::redirect(*s, &to),
                Kc::Discovery(d) => Reply::json(200, &d.replace("{self}", &me)),
                Kc::DeviceLink(link) => {
                    if req.target.ends_with("openid-configuration") {
                        Reply::json(200, &format!(r#"{{"token_endpoint":"{me}/token","device_authorization_endpoint":"{me}/dev","grant_types_supported":["{}"]}}"#, keycloak::DEVICE_GRANT))
                    } else {
                        Reply::json(200, &format!(r#"{{"device_code":"d","user_code":"U","verification_uri":"{link}","expires_in":600,"interval":1}}"#))
                    }
                }
            }
        })
        .await;
        *me.lock().unwrap() = server.url.clone();
        let r = match kc {
            Kc::Discovery(_) | Kc::DeviceLink(_) => {
                let mut shown = false;
                let r = tokio::time::timeout(
                    Duration::from_secs(30),
                    Keycloak::sign_in_device(http.clone(), &server.url, None, |_| shown = true),
                )
                .await
                .unwrap_or_else(|_| Err(ferry_engine::Error::Cancelled));
                if shown {
                    failures.push(format!("{what}: the link was shown to the user"));
                }
                r.map(|_| ()).map_err(|e| e.to_string())
            }
            _ => Keycloak::sign_in(
                http.clone(),
                &server.url,
                "u",
                &Secret::new("pw-corpus"),
                None,
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        };
        judge(what, r, *want, &mut failures);
    }
    let leaked = evil.requests();
    if !leaked.is_empty() {
        failures.push(format!("the redirect target got: {:?}", leaked[0].text()));
    }
    report("keycloak answers", KEYCLOAK.len(), failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_codex_and_basespace_credentials_never_follow_a_redirect() {
    let evil = Hostile::start(|_| Reply::json(200, "{}")).await;
    let to = format!("{}/steal", evil.url);
    let mut failures = Vec::new();
    let mut n = 0;
    for status in [301u16, 302, 307] {
        let to = to.clone();
        let server = Hostile::start(move |_: &Req| Reply::redirect(status, &to)).await;
        let engine = engine();
        let oc = Arc::new(
            OneCodex::new(
                engine.http().clone(),
                &format!("{}/api/v1", server.url),
                Secret::new("ocx-corpus-key"),
                vec![],
            )
            .unwrap(),
        );
        let r = upload_one(&engine, oc).await;
        judge(
            &format!("One Codex {status}"),
            r,
            Some(&["pointing to", "/steal"]),
            &mut failures,
        );
        let bs = Arc::new(
            BaseSpace::new(
                engine.http().clone(),
                &format!("{}/v1pre3", server.url),
                "123",
                Arc::new(StaticToken::new("bs-corpus-token")),
            )
            .unwrap(),
        );
        let r = upload_one(&engine, bs).await;
        judge(
            &format!("BaseSpace {status}"),
            r,
            Some(&["pointing to", "/steal"]),
            &mut failures,
        );
        n += 2;
    }
    // One Codex hands out an upload form for another host over http.
    let server = Hostile::start(|_: &Req| {
        Reply::json(
            200,
            r#"{"sample_id":"s1","upload_url":"http://storage.example.org/up","additional_fields":{}}"#,
        )
    })
    .await;
    let engine = engine();
    let oc = Arc::new(
        OneCodex::new(
            engine.http().clone(),
            &format!("{}/api/v1", server.url),
            Secret::new("k"),
            vec![],
        )
        .unwrap(),
    );
    let r = upload_one(&engine, oc).await;
    judge(
        "One Codex upload form over http",
        r,
        Some(&["upload link", "plain http://"]),
        &mut failures,
    );
    n += 1;
    let leaked = evil.requests();
    if !leaked.is_empty() {
        failures.push(format!("the redirect target got: {:?}", leaked[0].text()));
    }
    report("api keys", n, failures);
}
