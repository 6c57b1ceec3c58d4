//! Is a folder on a network share? inotify (and FSEvents) see only what this
//! machine writes, so a run written by an instrument PC to an SMB/NFS share
//! must be polled. Read from the mount table (no unsafe statfs call needed).

use std::path::Path;

/// File system types whose writes from other machines inotify never sees.
const REMOTE: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ncpfs",
    "afs",
    "9p",
    "ceph",
    "glusterfs",
    "lustre",
    "gpfs",
    "beegfs",
    "davfs",
    "fuse.sshfs",
    "fuse.rclone",
    "fuse.s3fs",
    "fuse.gcsfuse",
    "fuse.smbnetfs",
    "fuse.curlftpfs",
    "fuse.davfs2",
    "fuse.glusterfs",
    "fuse.cephfs",
];

/// The remote file system type `dir` lives on, if it is one (Linux; other
/// systems answer None: use `--poll` there for shares).
pub fn remote_fs(dir: &Path) -> Option<String> {
    let table = std::fs::read_to_string("/proc/self/mounts").ok()?;
    let dir = std::fs::canonicalize(dir).ok()?;
    remote_in(&table, &dir)
}

/// The type of the mount holding `dir` in a `/proc/mounts` table, if remote.
pub fn remote_in(table: &str, dir: &Path) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for line in table.lines() {
        let mut f = line.split_whitespace();
        let (Some(_dev), Some(point), Some(kind)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let point = unescape(point);
        if !dir.starts_with(&point) {
            continue;
        }
        let depth = Path::new(&point).components().count();
        if best.as_ref().is_none_or(|(d, _)| depth >= *d) {
            best = Some((depth, kind.to_string()));
        }
    }
    let (_, kind) = best?;
    REMOTE.contains(&kind.as_str()).then_some(kind)
}

/// `/proc/mounts` writes a space as `\040` (and tab, newline, backslash).
fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

#[cfg(test)]
mod tests {
    use super::remote_in;
    use std::path::Path;

    const TABLE: &str = "/dev/vda / ext4 rw 0 0
proc /proc proc rw 0 0
//nas/seq /mnt/seq\\040runs cifs rw,vers=3.0 0 0
nas:/export /data/nfs nfs4 rw 0 0
alice@host:/runs /home/alice/remote fuse.sshfs rw 0 0
/dev/vdb /data/nfs/local ext4 rw 0 0
";

    #[test]
    fn finds_the_deepest_mount() {
        assert_eq!(remote_in(TABLE, Path::new("/home/alice")), None);
        assert_eq!(
            remote_in(TABLE, Path::new("/mnt/seq runs/MiSeq")).as_deref(),
            Some("cifs")
        );
        assert_eq!(
            remote_in(TABLE, Path::new("/data/nfs/x")).as_deref(),
            Some("nfs4")
        );
        assert_eq!(remote_in(TABLE, Path::new("/data/nfs/local/x")), None);
        assert_eq!(
            remote_in(TABLE, Path::new("/home/alice/remote/run1")).as_deref(),
            Some("fuse.sshfs")
        );
        // A sibling whose name only starts the same is not inside.
        assert_eq!(remote_in(TABLE, Path::new("/data/nfsx")), None);
    }
}
