//! Dropped folders become their files without following links: a link
//! inside a folder may point outside it (files nobody meant to send) or
//! back up (a walk that never ends). Links found are returned so the list
//! can show them as refused; a path dropped itself is taken as given.

use std::path::{Path, PathBuf};

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().starts_with(b".")
}

/// Files under `path` (recursively, sorted, dot-files and dot-folders
/// skipped) into `out`; links met below it into `links`.
pub fn expand(path: &Path, out: &mut Vec<PathBuf>, links: &mut Vec<PathBuf>) {
    if path.is_dir() {
        walk(path, out, links);
    } else {
        out.push(path.to_path_buf());
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, links: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        out.push(dir.to_path_buf());
        return;
    };
    // The type comes with the listing (no `lstat` per entry on file
    // systems that give it; std asks for it where they do not), and like
    // `lstat` it describes a link, not what the link points to.
    let mut entries: Vec<(PathBuf, Option<std::fs::FileType>)> = rd
        .filter_map(Result::ok)
        .filter(|e| !is_hidden(&e.file_name()))
        .map(|e| (e.path(), e.file_type().ok()))
        .collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (e, kind) in entries {
        match kind {
            Some(t) if t.is_symlink() => links.push(e),
            Some(t) if t.is_dir() => walk(&e, out, links),
            _ => out.push(e),
        }
    }
}

/// What the list says about a link found in a dropped folder.
pub fn link_refused(path: &Path) -> String {
    format!(
        "{}: is a link; links inside a dropped folder are not followed (they can lead outside it). Drop the file it points to itself if it should go",
        path.display()
    )
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn links_are_reported_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.fq"), b"x").unwrap();
        std::fs::create_dir_all(d.path().join("run/a")).unwrap();
        std::fs::write(d.path().join("run/a/r1.fq"), b"x").unwrap();
        // Two links back up: a walk that follows links never ends.
        std::os::unix::fs::symlink(d.path().join("run"), d.path().join("run/a/up1")).unwrap();
        std::os::unix::fs::symlink(d.path().join("run/a"), d.path().join("run/up2")).unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("run/out")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.fq"), d.path().join("run/s.fq"))
            .unwrap();
        let (mut out, mut links) = (Vec::new(), Vec::new());
        expand(&d.path().join("run"), &mut out, &mut links);
        assert_eq!(out, vec![d.path().join("run/a/r1.fq")]);
        let names: Vec<_> = links
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["up1", "out", "s.fq", "up2"]);
        assert!(link_refused(&links[0]).contains("not followed"));
    }
}
