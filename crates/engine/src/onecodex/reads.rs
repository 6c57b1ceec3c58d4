//! Which read of a paired-end sample a file name says it is.
//!
//! Illumina BCL Convert / bcl2fastq write
//! `{Sample}_S{n}[_L{lane:03}]_{R1|R2|I1|I2}_001.fastq.gz` (no lane with
//! `--no-lane-splitting`); elsewhere `_R1`/`_R2`, `_1`/`_2` (SRA/ENA) and
//! `.R1.`/`.R2.` are common. R1/R2 are mates; I1/I2 are index reads and
//! never mates; each lane's pair is its own pair.

/// What a name says about its read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Read 1 or 2 of a pair.
    Mate(u8),
    /// An index read (I1/I2): sent on its own, never as a mate.
    Index,
}

/// The read a name marks and the name with the mark taken out (what its
/// mate's name also gives), or `None` for a name with no read mark.
pub fn classify(name: &str) -> Option<(Read, String)> {
    let b = name.as_bytes();
    // The last mark wins: `run_1_R2.fq` is read 2 of `run_1`.
    (1..b.len()).rev().find_map(|p| mark_at(name, p))
}

/// A read mark starting at byte `p`: a separator before it, then an
/// optional Illumina set number (`_001`) and the extension after it.
fn mark_at(name: &str, p: usize) -> Option<(Read, String)> {
    let b = name.as_bytes();
    let sep = b[p - 1];
    if sep != b'_' && sep != b'.' {
        return None;
    }
    let rest = &name[p..];
    let (read, len, style) = match rest.get(..2).map(str::to_ascii_uppercase).as_deref() {
        Some("R1") => (Read::Mate(1), 2, 'R'),
        Some("R2") => (Read::Mate(2), 2, 'R'),
        Some("I1") | Some("I2") => (Read::Index, 2, 'I'),
        _ => match rest.as_bytes().first() {
            // `_1`/`_2` only after an underscore: `v.1.fq` is a version.
            Some(b'1') if sep == b'_' => (Read::Mate(1), 1, 'N'),
            Some(b'2') if sep == b'_' => (Read::Mate(2), 1, 'N'),
            _ => return None,
        },
    };
    let after = &rest[len..];
    let tail = match after.strip_prefix('_') {
        // Illumina's set number, three digits.
        Some(t) if t.len() > 3 && t.as_bytes()[..3].iter().all(u8::is_ascii_digit) => &t[3..],
        _ => after,
    };
    // The mark must end the name's stem: an extension follows.
    if tail.len() < 2 || !tail.starts_with('.') {
        return None;
    }
    let key = format!(
        "{}{style}\u{0}{}{}",
        &name[..p],
        &after[..after.len() - tail.len()],
        tail
    );
    Some((read, key))
}

/// Pairs among `names`: (read 1 index, read 2 index), in the order of
/// read 1. A name pairs only with the one name that differs from it by
/// its mark alone (same sample, lane, set and extension).
pub fn pairs(names: &[String]) -> Vec<(usize, usize)> {
    let classes: Vec<_> = names.iter().map(|n| classify(n)).collect();
    let mut out = Vec::new();
    for (i, c) in classes.iter().enumerate() {
        let Some((Read::Mate(1), key)) = c else {
            continue;
        };
        if let Some(j) = classes
            .iter()
            .position(|d| matches!(d, Some((Read::Mate(2), k)) if k == key))
        {
            out.push((i, j));
        }
    }
    out
}

/// Read 1 or read 2 files whose mate is not among `names`, each with
/// the name of the missing mate's kind ("read 2" or "read 1").
pub fn lone_mates(names: &[String]) -> Vec<(usize, &'static str)> {
    let paired: std::collections::HashSet<usize> =
        pairs(names).into_iter().flat_map(|(a, b)| [a, b]).collect();
    names
        .iter()
        .enumerate()
        .filter(|(i, _)| !paired.contains(i))
        .filter_map(|(i, n)| match classify(n) {
            Some((Read::Mate(1), _)) => Some((i, "read 2")),
            Some((Read::Mate(2), _)) => Some((i, "read 1")),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One folder of names as instruments and archives write them, and
    /// what each is paired with (by name), `None` for none.
    const FOLDER: &[(&str, Option<&str>)] = &[
        // BCL Convert / bcl2fastq, lane-split: one pair per lane.
        (
            "Sample1_S1_L001_R1_001.fastq.gz",
            Some("Sample1_S1_L001_R2_001.fastq.gz"),
        ),
        (
            "Sample1_S1_L001_R2_001.fastq.gz",
            Some("Sample1_S1_L001_R1_001.fastq.gz"),
        ),
        (
            "Sample1_S1_L002_R1_001.fastq.gz",
            Some("Sample1_S1_L002_R2_001.fastq.gz"),
        ),
        (
            "Sample1_S1_L002_R2_001.fastq.gz",
            Some("Sample1_S1_L002_R1_001.fastq.gz"),
        ),
        ("Sample1_S1_L001_I1_001.fastq.gz", None),
        ("Sample1_S1_L001_I2_001.fastq.gz", None),
        ("Sample1_S1_L002_I1_001.fastq.gz", None),
        ("Sample1_S1_L002_I2_001.fastq.gz", None),
        (
            "Sample2_S2_L001_R1_001.fastq.gz",
            Some("Sample2_S2_L001_R2_001.fastq.gz"),
        ),
        (
            "Sample2_S2_L001_R2_001.fastq.gz",
            Some("Sample2_S2_L001_R1_001.fastq.gz"),
        ),
        // Lanes merged (--no-lane-splitting), the example.
        ("lib7_S1_R1_001.fastq.gz", Some("lib7_S1_R2_001.fastq.gz")),
        ("lib7_S1_R2_001.fastq.gz", Some("lib7_S1_R1_001.fastq.gz")),
        ("lib7_S1_I1_001.fastq.gz", None),
        ("lib7_S1_I2_001.fastq.gz", None),
        (
            "Undetermined_S0_L001_R1_001.fastq.gz",
            Some("Undetermined_S0_L001_R2_001.fastq.gz"),
        ),
        (
            "Undetermined_S0_L001_R2_001.fastq.gz",
            Some("Undetermined_S0_L001_R1_001.fastq.gz"),
        ),
        (
            "NTC-3_S12_L004_R1_001.fastq.gz",
            Some("NTC-3_S12_L004_R2_001.fastq.gz"),
        ),
        (
            "NTC-3_S12_L004_R2_001.fastq.gz",
            Some("NTC-3_S12_L004_R1_001.fastq.gz"),
        ),
        // A lone mate: its R2 is missing.
        ("Sample3_S3_L001_R1_001.fastq.gz", None),
        // `_R1`/`_R2`.
        ("patient-12_R1.fastq.gz", Some("patient-12_R2.fastq.gz")),
        ("patient-12_R2.fastq.gz", Some("patient-12_R1.fastq.gz")),
        ("wgs.run3_R1.fq", Some("wgs.run3_R2.fq")),
        ("wgs.run3_R2.fq", Some("wgs.run3_R1.fq")),
        ("amplicon_r1.fastq", Some("amplicon_r2.fastq")),
        ("amplicon_r2.fastq", Some("amplicon_r1.fastq")),
        // SRA / ENA `_1`/`_2`.
        ("SRR1234567_1.fastq.gz", Some("SRR1234567_2.fastq.gz")),
        ("SRR1234567_2.fastq.gz", Some("SRR1234567_1.fastq.gz")),
        ("ERR3456789_1.fastq.gz", Some("ERR3456789_2.fastq.gz")),
        ("ERR3456789_2.fastq.gz", Some("ERR3456789_1.fastq.gz")),
        ("ERR3456789.fastq.gz", None),
        ("DRR000001_2.fastq.gz", None),
        // `.R1.`/`.R2.`.
        ("mock.R1.fastq.gz", Some("mock.R2.fastq.gz")),
        ("mock.R2.fastq.gz", Some("mock.R1.fastq.gz")),
        ("soil-B.R1.fq.gz", Some("soil-B.R2.fq.gz")),
        ("soil-B.R2.fq.gz", Some("soil-B.R1.fq.gz")),
        // A sample whose own name holds a `_1`: the last mark counts.
        ("run_1_R1.fastq", Some("run_1_R2.fastq")),
        ("run_1_R2.fastq", Some("run_1_R1.fastq")),
        // Not read marks at all.
        ("x_R10.fq", None),
        ("assembly_v1.2.fasta", None),
        ("contigs.fasta", None),
        ("reads_R1final.fastq", None),
        // bcl2fastq's --fastq-cluster-count: a second set of one lane.
        (
            "Sample1_S1_L001_R1_002.fastq.gz",
            Some("Sample1_S1_L001_R2_002.fastq.gz"),
        ),
        (
            "Sample1_S1_L001_R2_002.fastq.gz",
            Some("Sample1_S1_L001_R1_002.fastq.gz"),
        ),
        // Styles never mix: `_1` is not the mate of `_R2`.
        ("mixed_1.fq", None),
        ("mixed_R2.fq", None),
        // Nanopore: no mates.
        ("FAX12345_pass_barcode01_abc_0.fastq.gz", None),
    ];

    #[test]
    fn a_folder_of_real_world_names_pairs_as_the_instruments_meant() {
        assert!(FOLDER.len() >= 40, "{}", FOLDER.len());
        let names: Vec<String> = FOLDER.iter().map(|(n, _)| n.to_string()).collect();
        let mut mate_of: Vec<Option<&str>> = vec![None; names.len()];
        for (a, b) in pairs(&names) {
            assert!(mate_of[a].is_none() && mate_of[b].is_none(), "paired twice");
            assert!(names[a].to_ascii_uppercase().contains("1"), "{}", names[a]);
            mate_of[a] = Some(&names[b]);
            mate_of[b] = Some(&names[a]);
        }
        for (i, (name, want)) in FOLDER.iter().enumerate() {
            assert_eq!(mate_of[i], *want, "{name}");
        }
    }

    #[test]
    fn index_reads_are_never_mates_and_lone_mates_are_named() {
        let names: Vec<String> = FOLDER.iter().map(|(n, _)| n.to_string()).collect();
        for (i, n) in names.iter().enumerate() {
            if n.contains("_I1_") || n.contains("_I2_") {
                assert_eq!(classify(n).map(|c| c.0), Some(Read::Index), "{n}");
                assert!(!pairs(&names).iter().any(|(a, b)| *a == i || *b == i));
            }
        }
        let lone: Vec<&str> = lone_mates(&names)
            .into_iter()
            .map(|(i, _)| names[i].as_str())
            .collect();
        assert_eq!(
            lone,
            vec![
                "Sample3_S3_L001_R1_001.fastq.gz",
                "DRR000001_2.fastq.gz",
                "mixed_1.fq",
                "mixed_R2.fq",
            ]
        );
    }
}
