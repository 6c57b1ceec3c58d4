//! Loculus's file-name rules (backend `FileMappingPreconditionValidator`),
//! checked before any request.

/// Characters the backend forbids in file names.
pub const FORBIDDEN: &[char] = &['<', '>', ':', '"', '/', '\\', '|', '?', '*'];

/// Loculus' file-name rules without a signed-in portal (files are checked
/// when added, before any sign-in).
pub struct LoculusNames;

impl crate::scan::NameRules for LoculusNames {
    fn check_name(&self, name: &str) -> Result<(), String> {
        check(name)
    }
}

/// `Err(reason)` when Loculus would refuse `name` at submit.
pub fn check(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("file names may not be empty".into());
    }
    // Kotlin's String.length counts UTF-16 code units.
    let len = name.encode_utf16().count();
    if len > 255 {
        return Err(format!(
            "file names may not exceed 255 characters (this one has {len})"
        ));
    }
    if let Some(c) = name.chars().find(|c| FORBIDDEN.contains(c)) {
        return Err(format!(
            "file names may not contain {c:?} (forbidden: < > : \" / \\ | ? *)"
        ));
    }
    if name.chars().any(|c| (c as u32) < 32) {
        return Err("file names may not contain control characters".into());
    }
    if name.chars().any(char::is_whitespace) {
        return Err("file names may not contain whitespace".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_what_loculus_accepts() {
        for ok in ["reads_R1.fastq.gz", "ñandú.fa", "a", &"x".repeat(255)] {
            assert!(check(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_what_loculus_rejects() {
        for bad in [
            "",
            "with space.fq",
            "tab\there",
            "nbsp\u{a0}x",
            "a:b",
            "a/b",
            "a\\b",
            "q?",
            "star*",
            "pipe|",
            "<x>",
            "quote\"",
            "bell\u{7}",
            &"x".repeat(256),
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
        // 128 two-unit characters = 256 UTF-16 units.
        assert!(check(&"𝔸".repeat(128)).is_err());
    }
}
