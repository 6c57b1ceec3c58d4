//! `ferry submit --folder` against a `ferry-sim` process: fixture folders
//! in both layouts, the linkage report, the receipt, and what each
//! submission id ends up holding on the portal.

use ferry_e2e::sha;
use ferry_e2e::text;
use std::collections::BTreeMap;
use std::path::Path;

use ferry_e2e::{SimProc, ferry, make_file};
use serde_json::Value;

fn write(dir: &Path, rel: &str, content: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

/// A sample file at `rel` (folders made as needed).
fn sample(dir: &Path, rel: &str, size: usize, seed: u8) -> std::path::PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    make_file(
        p.parent().unwrap(),
        p.file_name().unwrap().to_str().unwrap(),
        size,
        seed,
    )
}

fn submit_folder(
    sim: &SimProc,
    dir: &Path,
    organism: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec!["--folder", dir.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra);
    sim.submit(organism, &args)
}

/// submission id -> category -> [(name, fileId)]
type Held = BTreeMap<String, BTreeMap<String, Vec<(String, String)>>>;
/// submission id -> category -> [name]
type Names = BTreeMap<String, BTreeMap<String, Vec<String>>>;
/// What each submission should hold: (id, [(category, [names])]).
type Want<'a> = [(&'a str, &'a [(&'a str, &'a [&'a str])])];

/// What the portal holds.
fn held(sim: &SimProc) -> Held {
    let state = sim.state();
    state["submissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let files = s["files"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(cat, list)| {
                    let pairs = list
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| {
                            (
                                p[0].as_str().unwrap().to_string(),
                                p[1].as_str().unwrap().to_string(),
                            )
                        })
                        .collect();
                    (cat.clone(), pairs)
                })
                .collect();
            (s["submission_id"].as_str().unwrap().to_string(), files)
        })
        .collect()
}

fn names(h: &Held) -> Names {
    h.iter()
        .map(|(id, cats)| {
            (
                id.clone(),
                cats.iter()
                    .map(|(c, v)| (c.clone(), v.iter().map(|(n, _)| n.clone()).collect()))
                    .collect(),
            )
        })
        .collect()
}

fn posts(sim: &SimProc, needle: &str) -> usize {
    sim.state()["api_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"].as_str().unwrap().contains(needle))
        .count()
}

fn expect(pairs: &Want) -> Names {
    pairs
        .iter()
        .map(|(id, cats)| {
            (
                id.to_string(),
                cats.iter()
                    .map(|(c, ns)| (c.to_string(), ns.iter().map(|n| n.to_string()).collect()))
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn layout_a_dry_run_reports_then_each_id_gets_its_files_and_a_receipt() {
    let sim = SimProc::start(&[]);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(dir, "metadata.tsv", "id\tcountry\ns1\tCH\ns2\tDE\n");
    write(dir, "sequences.fasta", ">s1\nACGT\n>s2\nACGTT\n");
    let r1 = sample(dir, "s1/rawReads/s1_R1.fq", 3000, 1);
    let r2 = sample(dir, "s1/rawReads/s1_R2.fq", 3100, 2);
    let rep = sample(dir, "s1/sequencingReports/report.pdf", 500, 3);
    let r3 = sample(dir, "s2/rawReads/s1_R1.fq", 2000, 4);
    write(dir, "s2/.DS_Store", "skipped");

    let dry = submit_folder(&sim, dir, "ebola-sudan", &["--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let out = text(&dry.stdout);
    assert!(out.contains("4 files to upload"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("s1 ") && l.contains("rawReads: s1_R1.fq (2.93 KiB), s1_R2.fq")),
        "{out}"
    );
    assert_eq!(posts(&sim, "/"), 0, "a dry run sends nothing");
    assert!(sim.state()["storage_log"].as_array().unwrap().is_empty());

    let run = submit_folder(&sim, dir, "ebola-sudan", &[]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let h = held(&sim);
    assert_eq!(
        names(&h),
        expect(&[
            (
                "s1",
                &[
                    ("rawReads", &["s1_R1.fq", "s1_R2.fq"]),
                    ("sequencingReports", &["report.pdf"])
                ]
            ),
            ("s2", &[("rawReads", &["s1_R1.fq"])]),
        ])
    );
    for (path, (id, cat, i)) in [
        (&r1, ("s1", "rawReads", 0)),
        (&r2, ("s1", "rawReads", 1)),
        (&rep, ("s1", "sequencingReports", 0)),
        (&r3, ("s2", "rawReads", 0)),
    ] {
        assert_eq!(
            sim.object_sha(&h[id][cat][i].1),
            sha(path),
            "{}",
            path.display()
        );
    }
    // The receipt: one line per file, with accession, fileId, size and hash.
    let csv = std::fs::read_to_string(dir.join("ferry-receipt.csv")).unwrap();
    let lines: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        lines[0],
        [
            "submissionId",
            "accession",
            "category",
            "fileName",
            "fileId",
            "size",
            "sha256"
        ]
    );
    assert_eq!(lines.len(), 5, "{csv}");
    let l = lines.iter().find(|l| l[0] == "s2").unwrap();
    assert!(l[1].starts_with("LOC_") && !l[1].contains('.'), "{l:?}");
    assert_eq!(
        l[2..],
        [
            "rawReads",
            "s1_R1.fq",
            &h["s2"]["rawReads"][0].1,
            "2000",
            &sha(&r3)
        ]
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ferry-receipt.json")).unwrap())
            .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 4);
    assert_eq!(json[0]["submissionId"], "s1");
    // A second dry run ignores the receipt it left behind.
    let again = submit_folder(&sim, dir, "ebola-sudan", &["--dry-run"]);
    assert!(again.status.success(), "{}", text(&again.stdout));
}

#[test]
fn layout_b_cells_link_files_by_path_and_a_shared_file_is_sent_once() {
    let sim = SimProc::start(&[]);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(
        dir,
        "samples.csv",
        "submissionId,country,files.rawReads\n\
         a,CH,reads/a_1.fq reads/a_2.fq\n\
         b,DE,\"b.fq::other/b_reads.fq\"\n\
         c,FR,shared.fq\n\
         d,IT,shared.fq\n",
    );
    sample(dir, "reads/a_1.fq", 1000, 1);
    sample(dir, "reads/a_2.fq", 1001, 2);
    sample(dir, "other/b_reads.fq", 1002, 3);
    sample(dir, "pool/shared.fq", 1003, 4);
    let run = submit_folder(&sim, dir, "dummy-organism-with-files", &[]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let h = held(&sim);
    assert_eq!(
        names(&h),
        expect(&[
            ("a", &[("rawReads", &["a_1.fq", "a_2.fq"])]),
            ("b", &[("rawReads", &["b.fq"])]),
            ("c", &[("rawReads", &["shared.fq"])]),
            ("d", &[("rawReads", &["shared.fq"])]),
        ])
    );
    assert_eq!(
        h["c"]["rawReads"][0].1, h["d"]["rawReads"][0].1,
        "one upload, two references"
    );
    assert_eq!(sim.state()["files"].as_array().unwrap().len(), 4);
    // Accessions printed per submission id.
    let out = text(&run.stdout);
    for id in ["a", "b", "c", "d"] {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{id}\tLOC_"))),
            "{out}"
        );
    }
}

#[test]
fn problems_exit_2_before_any_upload_with_a_json_report() {
    let sim = SimProc::start(&[]);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(
        dir,
        "metadata.tsv",
        "id\tcountry\tfiles.rawReads\ns1\tCH\tgone.fq\ns2\tDE\t\n",
    );
    write(dir, "sequences.fasta", ">s1\nACGT\n");
    sample(dir, "s1/rawReads/bad name.fq", 10, 1);
    write(dir, "s1/rawReads/empty.fq", "");
    sample(dir, "s2/misc/x.fq", 10, 2);
    sample(dir, "s9/y.fq", 10, 3);
    sample(dir, "s2/sequencingReports/dup.pdf", 10, 4);
    sample(dir, "s2/sequencingReports/sub/dup.pdf", 10, 5);
    let out = submit_folder(&sim, dir, "ebola-sudan", &["--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let report: Value = serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    let mut kinds: Vec<String> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap().to_string())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "bad_name",
            "empty",
            "missing_file",
            "missing_sequence",
            "no_metadata_row",
            "unknown_category",
            "unlinked"
        ],
        "{report:#}"
    );
    assert!(
        text(&out.stderr).contains("7 problems"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(posts(&sim, "/"), 0, "nothing was sent");
    assert!(sim.state()["storage_log"].as_array().unwrap().is_empty());

    // The readable form names each file.
    let table = submit_folder(&sim, dir, "ebola-sudan", &["--dry-run"]);
    assert_eq!(table.status.code(), Some(2));
    let t = text(&table.stdout);
    for needle in [
        "s1/rawReads/bad name.fq",
        "s1/rawReads/empty.fq",
        "'gone.fq' not found",
        "row 's2': no sequence",
        "s9/ (1 file)",
        "s2/misc/",
        "s2/sequencingReports/sub/dup.pdf: too deep",
    ] {
        assert!(t.contains(needle), "{needle}: {t}");
    }
}

/// The "done when": 50 submissions of an organism with consensus
/// sequences and files, each with its reads and its report, the sequences
/// in a zstd-compressed FASTA.
#[test]
fn fifty_submissions_with_two_files_each_from_folder_to_accessions() {
    let sim = SimProc::start(&[]);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // The organism's required fields (sampleCollectionDate, geoLocCountry).
    let mut meta = String::from("id\tsampleCollectionDate\tgeoLocCountry\tauthors\n");
    let mut fasta = String::new();
    // id -> [(category, name, path)], and id -> its sequence.
    let mut want = BTreeMap::new();
    let mut seqs = BTreeMap::new();
    for i in 0..50 {
        let id = format!("sample{i:02}");
        meta.push_str(&format!(
            "{id}\t2024-01-{:02}\tUganda\tA. Author\n",
            i % 28 + 1
        ));
        let seq: String = (0..60 + i)
            .map(|k| b"ACGT"[(k * 7 + i) % 4] as char)
            .collect();
        fasta.push_str(&format!(
            ">{id} segment L\n{}\n{}\n",
            &seq[..30],
            &seq[30..]
        ));
        seqs.insert(id.clone(), seq);
        let reads = format!("{id}_R1.fastq.gz");
        let r = sample(dir, &format!("{id}/rawReads/{reads}"), 2048 + i, i as u8);
        let rep = sample(
            dir,
            &format!("{id}/sequencingReports/report.pdf"),
            512 + i,
            i as u8 + 100,
        );
        want.insert(
            id,
            vec![
                ("rawReads", reads, r),
                ("sequencingReports", "report.pdf".to_string(), rep),
            ],
        );
    }
    write(dir, "metadata.tsv", &meta);
    std::fs::write(
        dir.join("sequences.fasta.zst"),
        zstd::encode_all(fasta.as_bytes(), 3).unwrap(),
    )
    .unwrap();
    let receipt = dir.join("out/receipt");
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let run = submit_folder(
        &sim,
        dir,
        "ebola-sudan",
        &["--receipt", receipt.to_str().unwrap()],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));

    // Each submission id holds exactly its two files, in their categories,
    // their bytes stored, and its sequence.
    let h = held(&sim);
    assert_eq!(h.len(), 50);
    let subs = sim.state()["submissions"].as_array().unwrap().clone();
    for (id, files) in &want {
        let got = &h[id];
        assert_eq!(got.len(), 2, "{id}: two categories: {got:?}");
        for (cat, name, path) in files {
            let list = &got[*cat];
            assert_eq!(list.len(), 1, "{id} {cat}: {list:?}");
            assert_eq!(&list[0].0, name, "{id} {cat}");
            assert_eq!(sim.object_sha(&list[0].1), sha(path), "{id} {cat}");
        }
        let sub = subs
            .iter()
            .find(|s| s["submission_id"] == id.as_str())
            .unwrap();
        assert_eq!(sub["organism"], "ebola-sudan");
        assert_eq!(
            sub["sequences"],
            serde_json::json!({ id.as_str(): seqs[id] }),
            "{id}: its sequence, whole"
        );
        assert_eq!(sub["metadata"]["geoLocCountry"], "Uganda");
    }
    assert_eq!(
        text(&run.stdout)
            .lines()
            .filter(|l| l.contains("\tLOC_"))
            .count(),
        50
    );
    // The receipt: 100 files, each with its fileId on the portal and SHA-256.
    let csv = std::fs::read_to_string(dir.join("out/receipt.csv")).unwrap();
    let lines: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(lines.len(), 100, "{csv}");
    for l in &lines {
        let (id, cat, name) = (l[0], l[2], l[3]);
        let (_, _, path) = want[id]
            .iter()
            .find(|(c, n, _)| *c == cat && n == name)
            .unwrap_or_else(|| panic!("{l:?} is not one of {id}'s files"));
        let on_portal = h[id][cat].iter().find(|(n, _)| n == name).unwrap();
        assert_eq!(l[4], on_portal.1, "{l:?}");
        assert_eq!(l[5], std::fs::metadata(path).unwrap().len().to_string());
        assert_eq!(l[6], sha(path), "{l:?}");
    }
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/receipt.json")).unwrap())
            .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 100);
}

#[test]
fn a_rejected_submit_keeps_the_file_ids_and_resume_submits_without_uploading() {
    let sim = SimProc::start(&[]);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // Only an id column: Loculus refuses rows with no metadata.
    write(dir, "metadata.tsv", "id\ns1\ns2\n");
    sample(dir, "s1/a.fq", 4000, 1);
    sample(dir, "s2/b.fq", 4000, 2);
    let first = submit_folder(&sim, dir, "dummy-organism-with-files", &[]);
    assert_eq!(first.status.code(), Some(5), "{}", text(&first.stderr));
    let err = text(&first.stderr);
    assert!(
        err.contains("contains no metadata"),
        "the server's message: {err}"
    );
    // ... and at the row it names, first.
    assert!(
        err.lines()
            .any(|l| l.starts_with("s1: Record #1 with id 's1'") && l.contains("no metadata")),
        "{err}"
    );
    let job = err
        .split("ferry resume ")
        .nth(1)
        .and_then(|r| r.split('`').next())
        .expect("the message names the job")
        .to_string();
    let state = sim.state();
    let uploaded: Vec<String> = state["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(uploaded.len(), 2);
    let storage_before = state["storage_log"].as_array().unwrap().len();
    let links_before = posts(&sim, "request-");
    assert!(state["submissions"].as_array().unwrap().is_empty());

    write(dir, "metadata.tsv", "id\tcountry\ns1\tCH\ns2\tDE\n");
    let resumed = ferry(&sim.token(), &["resume", &job, "--quiet"]);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    let state = sim.state();
    assert_eq!(
        state["storage_log"].as_array().unwrap().len(),
        storage_before,
        "nothing uploaded again"
    );
    assert_eq!(posts(&sim, "request-"), links_before, "no new upload links");
    let h = held(&sim);
    let mut used: Vec<String> = h
        .values()
        .flat_map(|c| c.values().flatten().map(|(_, id)| id.clone()))
        .collect();
    used.sort();
    let mut uploaded = uploaded;
    uploaded.sort();
    assert_eq!(used, uploaded, "the same fileIds");
    assert_eq!(h["s1"]["rawReads"][0].0, "a.fq");
    assert_eq!(h["s2"]["rawReads"][0].0, "b.fq");
    assert!(dir.join("ferry-receipt.csv").exists());
}

#[test]
fn folder_and_single_submission_flags_do_not_mix() {
    let d = tempfile::tempdir().unwrap();
    let out = ferry(
        "t",
        &[
            "submit",
            "--backend",
            "http://127.0.0.1:9",
            "--group",
            "1",
            "--organism",
            "x",
            "--folder",
            d.path().to_str().unwrap(),
            "--metadata",
            "m.tsv",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("--folder") && err.contains("cannot be used with"),
        "{err}"
    );
    let out = ferry(
        "t",
        &[
            "submit",
            "--backend",
            "http://127.0.0.1:9",
            "--group",
            "1",
            "--organism",
            "x",
            "--metadata",
            "m.tsv",
            "--dry-run",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--folder"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_excluded_row_is_neither_uploaded_nor_submitted_and_its_sequence_stays_home() {
    let sim = SimProc::start(&[]);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(dir, "metadata.tsv", "id\tcountry\ns1\tCH\ns2\tDE\n");
    write(dir, "sequences.fasta", ">s1\nACGT\n>s2 second\nACGTT\n");
    sample(dir, "s1/rawReads/s1_R1.fq", 3000, 1);
    sample(dir, "s2/rawReads/bad name.fq", 2000, 2);

    let refused = submit_folder(&sim, dir, "ebola-sudan", &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(text(&refused.stdout).contains("bad name.fq"));

    let unknown = submit_folder(&sim, dir, "ebola-sudan", &["--exclude", "s9"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("--exclude s9: no row with that id"));

    let run = submit_folder(&sim, dir, "ebola-sudan", &["--exclude", "s2"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let h = held(&sim);
    assert_eq!(
        h.keys().collect::<Vec<_>>(),
        ["s1"],
        "only s1 was submitted"
    );
    assert_eq!(h["s1"]["rawReads"].len(), 1);
    let stored = sim.state()["storage_log"].as_array().unwrap().len();
    assert_eq!(stored, 1, "the excluded row's file was not sent");
    let receipt = std::fs::read_to_string(dir.join("ferry-receipt.csv")).unwrap();
    assert!(!receipt.contains("s2"), "{receipt}");
}

#[test]
fn a_gzipped_fasta_and_a_zstd_metadata_table_go_from_folder_to_accessions() {
    use std::io::Write;
    let sim = SimProc::start(&[]);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let table = zstd::encode_all(&b"id\tcountry\ns1\tCH\ns2\tDE\n"[..], 3).unwrap();
    std::fs::write(dir.join("metadata.tsv.zst"), table).unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(dir.join("sequences.fasta.gz")).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(b">s1 first\nACGT\n>s2\nACGTT\n").unwrap();
    gz.finish().unwrap();
    let r1 = sample(dir, "s1/rawReads/r.fq", 3000, 1);
    let r2 = sample(dir, "s2/rawReads/r.fq", 2000, 2);

    let run = submit_folder(&sim, dir, "ebola-sudan", &[]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let h = held(&sim);
    assert_eq!(
        names(&h),
        expect(&[
            ("s1", &[("rawReads", &["r.fq"])]),
            ("s2", &[("rawReads", &["r.fq"])])
        ])
    );
    assert_eq!(sim.object_sha(&h["s1"]["rawReads"][0].1), sha(&r1));
    assert_eq!(sim.object_sha(&h["s2"]["rawReads"][0].1), sha(&r2));
    let subs = sim.state()["submissions"].clone();
    let country = |id: &str| {
        subs.as_array()
            .unwrap()
            .iter()
            .find(|s| s["submission_id"] == id)
            .map(|s| s["metadata"]["country"].clone())
            .unwrap()
    };
    assert_eq!(country("s1"), "CH", "the table was read decompressed");
    assert_eq!(country("s2"), "DE");
    let out = text(&run.stdout);
    assert!(out.lines().any(|l| l.starts_with("s1\tLOC_")), "{out}");
}

#[test]
fn a_receipt_that_cannot_be_written_does_not_hide_the_accessions() {
    let sim = SimProc::start(&[]);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(dir, "metadata.tsv", "id\tcountry\ns1\tCH\n");
    sample(dir, "s1/a.fq", 1000, 1);
    let nowhere = dir.join("no/such/folder/receipt");
    let run = submit_folder(
        &sim,
        dir,
        "dummy-organism-with-files",
        &["--receipt", nowhere.to_str().unwrap()],
    );
    assert_ne!(run.status.code(), Some(0));
    let out = text(&run.stdout);
    let err = text(&run.stderr);
    assert!(
        out.lines().any(|l| l.starts_with("s1\tLOC_")),
        "the accession is printed: {out}"
    );
    assert!(
        err.contains("the submission went through, but the receipt")
            && err.contains("no/such/folder/receipt.csv"),
        "{err}"
    );
    assert_eq!(sim.state()["submissions"].as_array().unwrap().len(), 1);
}

#[test]
fn multi_segment_records_stay_with_their_row_when_another_row_is_left_out() {
    let sim = SimProc::start(&[]);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(
        dir,
        "metadata.tsv",
        "id\tfastaIds\tcountry\ns1\ts1_L s1_S\tCH\ns2\ts2_L s2_S\tDE\n",
    );
    write(
        dir,
        "sequences.fasta",
        ">s1_L\nACGT\n>s1_S\nGG\n>s2_L\nAAAA\n>s2_S\nCC\n",
    );
    sample(dir, "s1/rawReads/r.fq", 1000, 1);
    sample(dir, "s2/rawReads/bad name.fq", 1000, 2);
    // The portal checks that the FASTA holds exactly the rows' fastaIds:
    // both of s1's segments must go, none of s2's.
    let run = submit_folder(&sim, dir, "ebola-sudan", &["--exclude", "s2"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let h = held(&sim);
    assert_eq!(h.keys().collect::<Vec<_>>(), ["s1"]);
}
