//! Huge inputs cost an error message, never the machine's memory: a 10 GB
//! gzip bomb as the metadata table, a 2 GB line in a table and in a FASTA.
//! Each test runs in its own process (nextest), so the peak memory it
//! reads is its own.

mod inputs;

use ferry_engine::loculus::folder::{compressed, link_folder};
use inputs::*;

fn organism() -> ferry_engine::loculus::info::OrganismInfo {
    ferry_engine::loculus::info::OrganismInfo {
        key: "ebola".into(),
        display_name: "Ebola".into(),
        consensus_sequences: true,
        files_enabled: true,
        categories: vec!["rawReads".into()],
    }
}

/// Far below what the inputs would take if read whole.
const MEMORY_BOUND: u64 = 600 << 20;

#[test]
fn a_10_gb_gzip_bomb_as_metadata_is_refused_early() {
    let d = tempfile::tempdir().unwrap();
    let bomb = d.path().join("metadata.tsv.gz");
    let size = table_bomb(&bomb, b"id\tcountry\n", ROW_128, 10);
    assert_eq!(size, 11 + (10 << 30));
    let on_disk = std::fs::metadata(&bomb).unwrap().len();
    assert!(on_disk < 64 << 20, "the bomb itself is small: {on_disk}");
    // Read by the submit step...
    let e = compressed::read_table(&bomb).unwrap_err().to_string();
    assert!(
        e.contains("metadata.tsv.gz") && e.contains("more than 64 MiB"),
        "{e}"
    );
    // ...and by the folder check, which says which file and why.
    std::fs::write(d.path().join("sequences.fasta"), ">s1\nACGT\n").unwrap();
    let l = link_folder(d.path(), &organism());
    let msgs: Vec<String> = l.problems.iter().map(|p| p.message.clone()).collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("metadata.tsv.gz") && m.contains("more than 64 MiB")),
        "{msgs:#?}"
    );
    let peak = peak_memory();
    assert!(peak < MEMORY_BOUND, "peak memory {} MiB", peak >> 20);
}

#[test]
fn a_2_gb_line_in_a_table_is_refused_without_holding_it() {
    let d = tempfile::tempdir().unwrap();
    let t = d.path().join("metadata.tsv.gz");
    let unit = vec![b'x'; MIB];
    gzip_of(&t, &[(b"id\tcountry\ns1\t", 1), (&unit, 2048), (b"\n", 1)]);
    let e = compressed::read_table(&t).unwrap_err().to_string();
    assert!(e.contains("line longer than 1 MiB"), "{e}");
    let peak = peak_memory();
    assert!(peak < MEMORY_BOUND, "peak memory {} MiB", peak >> 20);
}

#[test]
fn a_2_gb_sequence_line_is_streamed_not_held() {
    let d = tempfile::tempdir().unwrap();
    let fa = d.path().join("sequences.fasta.gz");
    let size = fasta_long_line(&fa, 2);
    assert!(size > 2 << 30);
    let ids = ferry_engine::loculus::fasta::ids(compressed::open(&fa).unwrap()).unwrap();
    assert_eq!(ids, ["s1", "s2"]);
    let peak = peak_memory();
    assert!(peak < MEMORY_BOUND, "peak memory {} MiB", peak >> 20);
}
