//! File-name globs (`*`, `?`), enough for `*.fastq.gz` and
//! `final_summary_*.txt`; matched against a file's name, never its path.

/// Whether `name` matches `pattern` (`*` any run of characters, `?` one).
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with one backtrack point: linear in practice and
    // never recursive, whatever the pattern.
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether any of `patterns` matches `name`.
pub fn any(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| matches(p, name))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_and_question_marks() {
        assert!(matches("*.fastq.gz", "s1_R1_001.fastq.gz"));
        assert!(!matches("*.fastq.gz", "s1_R1_001.fastq"));
        assert!(matches(
            "final_summary_*.txt",
            "final_summary_FAX123_abc.txt"
        ));
        assert!(!matches("final_summary_*.txt", "sequencing_summary_x.txt"));
        assert!(matches("CopyComplete.txt", "CopyComplete.txt"));
        assert!(matches("r?.fq", "r1.fq"));
        assert!(matches("*", ""));
        assert!(!matches("a*b*c", "a_b_d"));
        assert!(matches("a*b*c", "a_b_xc"));
    }
}
