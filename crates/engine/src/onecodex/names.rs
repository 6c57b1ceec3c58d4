//! One Codex's file-name rule (init_upload refuses other names), checked
//! at scan time, before any request.

/// Sequence extensions One Codex takes, before an optional `.gz`/`.gzip`.
pub const EXTENSIONS: &[&str] = &["fastq", "fq", "fasta", "fa", "fna", "fas"];

/// `Err(reason)` when One Codex would refuse `name`.
pub fn check(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("file names may not be empty".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "One Codex allows only letters, digits, '-', '_' and '.' in file names, not {c:?}"
        ));
    }
    let lower = name.to_ascii_lowercase();
    let stem = lower
        .strip_suffix(".gz")
        .or_else(|| lower.strip_suffix(".gzip"))
        .unwrap_or(&lower);
    let ext = stem.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    if !EXTENSIONS.contains(&ext) {
        return Err(format!(
            "One Codex takes FASTA or FASTQ files (.{}), optionally gzipped (.gz, .gzip)",
            EXTENSIONS.join(", .")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_fasta_and_fastq_optionally_gzipped() {
        for ok in [
            "reads_R1.fastq.gz",
            "a.fq",
            "S-1.fasta.gzip",
            "x.FA",
            "c.fna.gz",
        ] {
            assert!(check(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_other_characters_and_extensions() {
        for bad in [
            "",
            "with space.fq",
            "ñandú.fa",
            "a+b.fastq",
            "reads.bam",
            "reads.gz",
            "fastq",
            "reads.fastq.zip",
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
    }
}
