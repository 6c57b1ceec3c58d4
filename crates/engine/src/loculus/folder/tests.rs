//! Fixture folders: a good one per layout, one per kind of problem.

use std::io::Write;

use super::*;
use crate::loculus::info::OrganismInfo;

const UUID: &str = "8d8ac610-566d-4ef0-9c22-186b2a5ed793";

fn org(key: &str, seqs: bool, cats: &[&str]) -> OrganismInfo {
    OrganismInfo {
        key: key.into(),
        display_name: key.into(),
        consensus_sequences: seqs,
        files_enabled: !cats.is_empty(),
        categories: cats.iter().map(|c| c.to_string()).collect(),
    }
}

/// Files only, one category (like `dummy-organism-with-files`).
fn files_only() -> OrganismInfo {
    org("files-only", false, &["rawReads"])
}

/// Sequences and two categories (like `ebola-sudan`).
fn both() -> OrganismInfo {
    org("both", true, &["rawReads", "sequencingReports"])
}

/// A folder holding `files` (relative path, content).
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (rel, content) in files {
        let p = d.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    d
}

fn names(l: &Linkage, id: &str, cat: &str) -> Vec<(String, Option<String>)> {
    let row = l.rows.iter().find(|r| r.id == id).unwrap();
    row.files
        .get(cat)
        .map(|v| {
            v.iter()
                .map(|f| (f.name.clone(), f.relative.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn n(name: &str, rel: &str) -> (String, Option<String>) {
    (name.into(), Some(rel.into()))
}

fn kinds(l: &Linkage) -> Vec<ProblemKind> {
    l.problems.iter().map(|p| p.kind).collect()
}

#[test]
fn layout_a_one_folder_per_id_uses_the_only_category() {
    let d = folder(&[
        ("metadata.tsv", "id\tcountry\ns1\tCH\ns2\tDE\n"),
        ("s1/a_R1.fq", "AAAA"),
        ("s1/a_R2.fq", "CCCCCC"),
        ("s2/b.fq", "GG"),
        ("s2/.DS_Store", "x"),
        (".git/config", "x"),
        ("ferry-receipt.csv", "old receipt"),
    ]);
    let l = link_folder(d.path(), &files_only());
    assert!(l.is_ok(), "{:#?}", l.problems);
    assert_eq!(l.metadata.as_deref(), Some("metadata.tsv"));
    assert_eq!(
        names(&l, "s1", "rawReads"),
        vec![n("a_R1.fq", "s1/a_R1.fq"), n("a_R2.fq", "s1/a_R2.fq")]
    );
    assert_eq!(names(&l, "s2", "rawReads"), vec![n("b.fq", "s2/b.fq")]);
    assert_eq!(l.rows[0].files["rawReads"][1].size, 6);
    assert_eq!(l.uploads().len(), 3);
    assert_eq!(l.rows[0].sequence, None, "no sequences needed");
}

#[test]
fn layout_a_with_category_folders_csv_and_gzipped_fasta() {
    let d = folder(&[
        (
            "meta.csv",
            "submissionId,country\ns1,CH\ns2,\"DE, Berlin\"\n",
        ),
        ("s1/rawReads/r1.fq", "AAAA"),
        ("s1/sequencingReports/report.pdf", "%PDF"),
        ("s2/rawReads/r1.fq", "CCCC"),
    ]);
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(d.path().join("sequences.fasta.gz")).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(b">s1 first\nACGT\n>s2\nACGT\n").unwrap();
    gz.finish().unwrap();
    let l = link_folder(d.path(), &both());
    assert!(l.is_ok(), "{:#?}", l.problems);
    assert_eq!(l.sequences.as_deref(), Some("sequences.fasta.gz"));
    assert_eq!(
        names(&l, "s1", "rawReads"),
        vec![n("r1.fq", "s1/rawReads/r1.fq")]
    );
    assert_eq!(
        names(&l, "s1", "sequencingReports"),
        vec![n("report.pdf", "s1/sequencingReports/report.pdf")]
    );
    // The same name in two submissions is fine.
    assert_eq!(
        names(&l, "s2", "rawReads"),
        vec![n("r1.fq", "s2/rawReads/r1.fq")]
    );
    assert!(l.rows.iter().all(|r| r.sequence == Some(true)));
    // The CSV becomes a TSV for Loculus, quoting kept right.
    let tsv = String::from_utf8(l.base_tsv().unwrap()).unwrap();
    assert_eq!(tsv, "submissionId\tcountry\ns1\tCH\ns2\tDE, Berlin\n");
}

#[test]
fn layout_b_cells_name_files_by_path_name_or_renamed() {
    let d = folder(&[
        (
            "metadata.tsv",
            &format!(
                "id\tcountry\tfiles.rawReads\n\
                 s1\tCH\treads/x_1.fq reads/x_2.fq\n\
                 s2\tDE\tr.fq::other/s2.fq z.fq old.fq:{UUID}\n\
                 s3\tFR\treads/x_1.fq contigs.fa\n"
            ),
        ),
        ("reads/x_1.fq", "A"),
        ("reads/x_2.fq", "C"),
        ("contigs.fa", ">c1\nACGT\n"),
        ("other/s2.fq", "G"),
        ("deep/er/z.fq", "T"),
    ]);
    let l = link_folder(d.path(), &files_only());
    assert!(l.is_ok(), "{:#?}", l.problems);
    assert_eq!(
        names(&l, "s1", "rawReads"),
        vec![n("x_1.fq", "reads/x_1.fq"), n("x_2.fq", "reads/x_2.fq")]
    );
    assert_eq!(
        names(&l, "s2", "rawReads"),
        vec![
            n("r.fq", "other/s2.fq"),
            n("z.fq", "deep/er/z.fq"),
            ("old.fq".into(), None)
        ]
    );
    // One upload for a file two rows share.
    // A FASTA named in a cell is an extra file, not the sequences.
    assert_eq!(
        names(&l, "s3", "rawReads"),
        vec![n("x_1.fq", "reads/x_1.fq"), n("contigs.fa", "contigs.fa")]
    );
    assert_eq!(l.sequences, None);
    assert_eq!(l.uploads().len(), 5);
    // Only earlier uploads stay in the cells; the submit adds the rest.
    let tsv = String::from_utf8(l.base_tsv().unwrap()).unwrap();
    assert_eq!(
        tsv,
        format!("id\tcountry\tfiles.rawReads\ns1\tCH\t\ns2\tDE\told.fq:{UUID}\ns3\tFR\t\n")
    );
    let json = serde_json::to_string(&l).unwrap();
    let back: Linkage = serde_json::from_str(&json).unwrap();
    assert_eq!(back, l, "the report round-trips through JSON");
}

/// Each fixture is good but for one kind of problem; the report names the
/// file or row. Long because it is one table of fixtures, one per kind.
#[test]
fn one_fixture_per_kind_of_problem() {
    type Case<'a> = (
        &'a str,
        OrganismInfo,
        Vec<(&'a str, &'a str)>,
        ProblemKind,
        &'a str,
    );
    let meta = ("metadata.tsv", "id\tcountry\ns1\tCH\n");
    let fasta = ("sequences.fasta", ">s1\nACGT\n");
    let cases: Vec<Case> = vec![
        (
            "no metadata row",
            files_only(),
            vec![meta, ("s1/a.fq", "A"), ("s7/b.fq", "C")],
            ProblemKind::NoMetadataRow,
            "s7/",
        ),
        (
            "unlinked",
            files_only(),
            vec![meta, ("s1/a.fq", "A"), ("stray.fq", "C")],
            ProblemKind::Unlinked,
            "stray.fq",
        ),
        (
            "missing sequence",
            both(),
            vec![("metadata.tsv", "id\tcountry\ns1\tCH\ns2\tDE\n"), fasta],
            ProblemKind::MissingSequence,
            "row 's2'",
        ),
        (
            "sequence without row",
            both(),
            vec![meta, ("sequences.fasta", ">s1\nACGT\n>s5\nAC\n")],
            ProblemKind::SequenceWithoutRow,
            "'s5'",
        ),
        (
            "no FASTA",
            both(),
            vec![meta],
            ProblemKind::Sequences,
            "needs consensus sequences",
        ),
        (
            "bad name",
            files_only(),
            vec![meta, ("s1/my reads.fq", "A")],
            ProblemKind::BadName,
            "s1/my reads.fq",
        ),
        (
            "duplicate name",
            files_only(),
            vec![
                (
                    "metadata.tsv",
                    "id\tcountry\tfiles.rawReads\ns1\tCH\ta.fq::x/a.fq\n",
                ),
                ("x/a.fq", "A"),
                ("s1/a.fq", "C"),
            ],
            ProblemKind::DuplicateName,
            "x/a.fq, s1/a.fq",
        ),
        (
            "empty",
            files_only(),
            vec![meta, ("s1/empty.fq", "")],
            ProblemKind::Empty,
            "s1/empty.fq",
        ),
        (
            "unknown category folder",
            both(),
            vec![meta, fasta, ("s1/bogus/a.fq", "A")],
            ProblemKind::UnknownCategory,
            "s1/bogus/",
        ),
        (
            "unknown category column",
            files_only(),
            vec![("metadata.tsv", "id\tcountry\tfiles.bogus\ns1\tCH\t\n")],
            ProblemKind::UnknownCategory,
            "files.bogus",
        ),
        (
            "no category",
            both(),
            vec![meta, fasta, ("s1/a.fq", "A")],
            ProblemKind::NoCategory,
            "s1/<category>/",
        ),
        (
            "missing file",
            files_only(),
            vec![(
                "metadata.tsv",
                "id\tcountry\tfiles.rawReads\ns1\tCH\tgone.fq\n",
            )],
            ProblemKind::MissingFile,
            "'gone.fq' not found",
        ),
        (
            "files not enabled",
            org("seqs-only", true, &[]),
            vec![meta, fasta, ("s1/a.fq", "A")],
            ProblemKind::FilesNotEnabled,
            "takes no extra files",
        ),
        (
            "duplicate id",
            files_only(),
            vec![("metadata.tsv", "id\tcountry\ns1\tCH\ns1\tDE\n")],
            ProblemKind::Metadata,
            "ids must be unique",
        ),
        (
            "no id column",
            files_only(),
            vec![("metadata.tsv", "name\tcountry\ns1\tCH\n")],
            ProblemKind::Metadata,
            "no 'id' column",
        ),
        (
            "no table",
            files_only(),
            vec![("s1/a.fq", "A")],
            ProblemKind::Metadata,
            "no metadata table",
        ),
    ];
    for (what, o, files, kind, needle) in cases {
        let d = folder(&files);
        let l = link_folder(d.path(), &o);
        assert!(
            l.problems.iter().all(|p| p.kind == kind),
            "{what}: only {kind:?} expected, got {:#?}",
            l.problems
        );
        assert!(
            l.problems.iter().any(|p| p.message.contains(needle)),
            "{what}: a message names {needle:?}: {:#?}",
            l.problems
        );
    }
}

// Symbolic links need a privilege on Windows.
#[cfg(unix)]
#[test]
fn unreadable_files_are_reported() {
    // A dangling link: unreadable even for root, who ignores permissions.
    let d = folder(&[("metadata.tsv", "id\tcountry\ns1\tCH\n")]);
    std::fs::create_dir(d.path().join("s1")).unwrap();
    std::os::unix::fs::symlink(d.path().join("nowhere"), d.path().join("s1/lost.fq")).unwrap();
    let l = link_folder(d.path(), &files_only());
    assert_eq!(kinds(&l), vec![ProblemKind::Unreadable]);
    assert!(
        l.problems[0]
            .message
            .starts_with("s1/lost.fq: cannot be read")
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let d = folder(&[
        (
            "metadata.tsv",
            "id\tcountry\tfiles.rawReads\ns1\tCH\tgone.fq\ns2\tDE\t\n",
        ),
        ("sequences.fasta", ">s1\nACGT\n"),
        ("s1/rawReads/bad name.fq", "A"),
        ("s1/rawReads/e.fq", ""),
        ("s2/odd/x.fq", "A"),
        ("s9/y.fq", "A"),
    ]);
    let l = link_folder(d.path(), &both());
    let mut k = kinds(&l);
    k.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(
        k,
        vec![
            ProblemKind::BadName,
            ProblemKind::Empty,
            ProblemKind::MissingFile,
            ProblemKind::MissingSequence,
            ProblemKind::NoMetadataRow,
            ProblemKind::UnknownCategory,
        ],
        "{:#?}",
        l.problems
    );
    assert_eq!(l.rows[1].sequence, Some(false));
}

/// `data` compressed as a file named `*.{ext}` would be.
fn compress(ext: &str, data: &[u8]) -> Vec<u8> {
    match ext {
        "gz" => {
            let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            w.write_all(data).unwrap();
            w.finish().unwrap()
        }
        "zst" => zstd::encode_all(data, 1).unwrap(),
        "xz" => {
            let mut w =
                lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(1))
                    .unwrap();
            w.write_all(data).unwrap();
            w.finish().unwrap()
        }
        "lzma" => {
            let opts = lzma_rust2::LzmaOptions::with_preset(1);
            let mut w = lzma_rust2::LzmaWriter::new_use_header(Vec::new(), &opts, None).unwrap();
            w.write_all(data).unwrap();
            w.finish().unwrap()
        }
        "bz2" => {
            let mut w = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            w.write_all(data).unwrap();
            w.finish().unwrap()
        }
        "zip" => {
            let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            w.start_file("inner", zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(data).unwrap();
            w.finish().unwrap().into_inner()
        }
        other => panic!("no {other}"),
    }
}

#[test]
fn compressed_tables_and_fastas_are_read_in_every_compression_loculus_takes() {
    for ext in compressed::COMPRESSED {
        let d = folder(&[("s1/rawReads/r.fq", "AAAA"), ("s2/rawReads/r.fq", "CC")]);
        let meta = format!("metadata.tsv.{ext}");
        let seqs = format!("sequences.fasta.{ext}");
        std::fs::write(
            d.path().join(&meta),
            compress(ext, b"id\tcountry\ns1\tCH\ns2\tDE\n"),
        )
        .unwrap();
        std::fs::write(
            d.path().join(&seqs),
            compress(ext, b">s1 one\nACGT\n>s2\nGGGG\n"),
        )
        .unwrap();
        let mut l = link_folder(d.path(), &both());
        assert!(l.is_ok(), "{ext}: {:#?}", l.problems);
        assert_eq!(l.metadata.as_deref(), Some(meta.as_str()), "{ext}");
        assert_eq!(l.sequences.as_deref(), Some(seqs.as_str()), "{ext}");
        assert!(l.rows.iter().all(|r| r.sequence == Some(true)), "{ext}");
        assert_eq!(
            String::from_utf8(l.base_tsv().unwrap()).unwrap(),
            "id\tcountry\ns1\tCH\ns2\tDE\n",
            "{ext}: sent as a plain TSV"
        );
        // Nothing left out: the file goes as it is (Loculus decompresses).
        let scratch = tempfile::tempdir().unwrap();
        let all = crate::loculus::batch::sequences_for(&l, scratch.path()).unwrap();
        assert_eq!(all, Some(d.path().join(&seqs)), "{ext}");
        // A row left out: a plain copy without its record.
        l.exclude(&["s2".into()]);
        let copy = crate::loculus::batch::sequences_for(&l, scratch.path())
            .unwrap()
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(copy).unwrap(),
            ">s1 one\nACGT\n",
            "{ext}"
        );
    }
}

#[test]
fn a_broken_compressed_fasta_is_reported_by_name_before_sending() {
    let d = folder(&[
        ("metadata.tsv", "id\tcountry\ns1\tCH\n"),
        ("sequences.fasta.zst", "not zstd at all"),
    ]);
    let l = link_folder(d.path(), &org("seqs", true, &[]));
    assert_eq!(kinds(&l), vec![ProblemKind::Sequences], "{:#?}", l.problems);
    assert!(
        l.problems[0]
            .message
            .starts_with("sequences.fasta.zst: cannot be read"),
        "{}",
        l.problems[0].message
    );
}

#[test]
fn multi_segment_headers_go_with_their_row() {
    let fasta = ">s1_L\nAC\n>s1_S\nGT\n>s2_L\nAA\n>s2_S seg\nCC\n";
    let d = folder(&[
        ("metadata.tsv", "id\tcountry\ns1\tCH\ns2\tDE\n"),
        ("sequences.fasta", fasta),
    ]);
    let mut l = link_folder(d.path(), &org("cchf", true, &[]));
    assert!(l.is_ok(), "{:#?}", l.problems);
    assert!(l.rows.iter().all(|r| r.sequence == Some(true)));
    l.exclude(&["s1".into()]);
    let scratch = tempfile::tempdir().unwrap();
    let copy = crate::loculus::batch::sequences_for(&l, scratch.path())
        .unwrap()
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(copy).unwrap(),
        ">s2_L\nAA\n>s2_S seg\nCC\n",
        "both of s2's segments kept"
    );

    // With a fastaIds column the ids are exact: a segment not listed is
    // a sequence without a row, a listed one missing is reported.
    let d = folder(&[
        (
            "metadata.tsv",
            "id\tfastaIds\tcountry\ns1\ts1_L s1_S\tCH\ns2\ts2_L s2_M\tDE\n",
        ),
        ("sequences.fasta", fasta),
    ]);
    let l = link_folder(d.path(), &org("cchf", true, &[]));
    let mut k = kinds(&l);
    k.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(
        k,
        vec![
            ProblemKind::MissingSequence,
            ProblemKind::SequenceWithoutRow
        ],
        "{:#?}",
        l.problems
    );
    assert!(l.problems.iter().any(|p| p.message.contains("'s2_M'")));
    let d2 = folder(&[
        ("metadata.tsv", "id\tfastaIds\tcountry\ns1\t\tCH\n"),
        ("sequences.fasta", ">s1\nAC\n"),
    ]);
    let empty = link_folder(d2.path(), &org("cchf", true, &[]));
    assert!(
        empty
            .problems
            .iter()
            .any(|p| p.message.contains("fastaIds cell is empty")),
        "{:#?}",
        empty.problems
    );
    assert!(l.problems.iter().any(|p| p.message.contains("'s2_S'")));
    let mut l = l;
    l.exclude(&["s2".into()]);
    assert!(l.is_ok(), "{:#?}", l.problems);
    let copy = crate::loculus::batch::sequences_for(&l, scratch.path())
        .unwrap()
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(copy).unwrap(),
        ">s1_L\nAC\n>s1_S\nGT\n"
    );
}
