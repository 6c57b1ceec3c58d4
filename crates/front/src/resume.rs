//! How an interrupted job goes on, as `ferry resume` (and a watcher)
//! rebuild it from the journal: each file done, continued from its
//! acknowledged parts, sent again from the start (and why), or refused;
//! a One Codex pair half sent goes again whole. The portal comes from
//! the job's destination through [`crate::open_portal`].

use std::path::PathBuf;

use ferry_engine::journal::JobRecord;
pub use ferry_engine::resume::resend_whole_pairs;
use ferry_engine::resume::{Step, plan_resume};
use ferry_engine::{Error, JobFile, PortalKind, Uploaded};

/// What a resume sends, and what it keeps.
#[derive(Debug, Default)]
pub struct ResumePlan {
    /// To send, in the job's order.
    pub files: Vec<JobFile>,
    /// Accepted before: (index in the job, upload).
    pub already: Vec<(usize, Uploaded)>,
    /// Files that go again from the start, and why.
    pub restarts: Vec<(PathBuf, String)>,
    /// Uploads continued, and the parts the storage already holds of them.
    pub continued: usize,
    pub acked: usize,
    /// Files that cannot go on as they were (changed or gone).
    pub refused: Vec<Error>,
}

impl ResumePlan {
    /// One line for people.
    pub fn summary(&self, job: &str) -> String {
        format!(
            "resuming job {job}: {} files already accepted, {} to send ({} continued with {} parts the storage already holds)",
            self.already.len(),
            self.files.len(),
            self.continued,
            self.acked
        )
    }
}

/// The plan for job `rec`, or every file that cannot go on as it was
/// (changed or gone): `ferry resume` goes on with the whole job or not.
pub fn plan(rec: &JobRecord) -> Result<ResumePlan, Vec<Error>> {
    let mut out = plan_files(rec);
    if out.refused.is_empty() {
        Ok(out)
    } else {
        Err(std::mem::take(&mut out.refused))
    }
}

/// The plan for job `rec`, file by file: the window goes on with the
/// files that can, and shows the refused ones failed on their rows.
pub fn plan_files(rec: &JobRecord) -> ResumePlan {
    let mut steps = plan_resume(rec);
    if rec.params.destination.kind == PortalKind::Onecodex {
        resend_whole_pairs(rec, &mut steps);
    }
    let mut out = ResumePlan::default();
    for (i, step) in steps.into_iter().enumerate() {
        match step {
            Step::Done(u) => out.already.push((i, u)),
            Step::Send {
                file,
                restart,
                parts_done,
            } => {
                if let Some(why) = restart {
                    out.restarts.push((file.item.path.clone(), why));
                }
                if file.prior.is_some() {
                    out.continued += 1;
                    out.acked += parts_done;
                }
                out.files.push(file);
            }
            Step::Refused(e) => out.refused.push(e),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_engine::journal::{FileEntry, JobSummary};
    use ferry_engine::scan::Item;
    use ferry_engine::{FileState, JobParams, JobState};

    /// A journaled file `name` (written with 4 bytes in `dir`) of
    /// `journaled` bytes, at `idx`, in `state`.
    fn entry(
        dir: &std::path::Path,
        idx: usize,
        name: &str,
        journaled: u64,
        state: FileState,
    ) -> FileEntry {
        let path = dir.join(name);
        std::fs::write(&path, b"ACGT").unwrap();
        FileEntry {
            idx,
            path,
            name: name.into(),
            size: journaled,
            mtime_ns: None,
            state,
            upload: None,
            sha256: None,
            error: None,
            parts: Default::default(),
            done_at: None,
        }
    }

    /// An unfinished upload job of `files`, with `params` as journaled.
    fn job(params: &str, files: Vec<FileEntry>) -> JobRecord {
        let done: Vec<&FileEntry> = files
            .iter()
            .filter(|f| f.state == FileState::Done)
            .collect();
        JobRecord {
            summary: JobSummary {
                id: "j".into(),
                created_at: 0,
                kind: ferry_engine::JobKind::Upload,
                state: JobState::Running,
                files: files.len(),
                files_done: done.len(),
                bytes: files.iter().map(|f| f.size).sum(),
                bytes_done: done.iter().map(|f| f.size).sum(),
            },
            params: JobParams::from_json(params),
            files,
        }
    }

    #[test]
    fn a_half_sent_pair_goes_again_whole() {
        let dir = tempfile::tempdir().unwrap();
        let done = |name: &str| entry(dir.path(), 0, name, 4, FileState::Done);
        let rec = job(
            r#"{"portal": "onecodex", "pairs": [["s_R1.fq", 4, "s_R2.fq"]]}"#,
            vec![done("s_R1.fq"), done("s_R2.fq"), done("solo.fq")],
        );
        let done = |f: &FileEntry| {
            Step::Done(Uploaded {
                path: f.path.clone(),
                name: f.name.clone(),
                size: 4,
                remote_id: "x".into(),
                sha256: "y".into(),
            })
        };
        let mut steps = vec![
            done(&rec.files[0]),
            Step::Send {
                file: JobFile::from(Item {
                    path: rec.files[1].path.clone(),
                    name: "s_R2.fq".into(),
                    size: 4,
                    mtime: None,
                }),
                restart: None,
                parts_done: 0,
            },
            done(&rec.files[2]),
        ];
        resend_whole_pairs(&rec, &mut steps);
        assert!(
            matches!(&steps[0], Step::Send { file, restart: Some(why), .. }
            if file.item.name == "s_R1.fq" && why.contains("sent again from the start"))
        );
        assert!(matches!(steps[1], Step::Send { .. }));
        assert!(
            matches!(steps[2], Step::Done(_)),
            "a lone sample stays done"
        );
    }

    /// A changed file: `ferry resume` refuses the job, the window goes on
    /// with the other files and shows the refused one on its row.
    #[test]
    fn a_changed_file_is_refused_and_the_others_go_on_in_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let queued =
            |idx, name: &str, journaled| entry(dir.path(), idx, name, journaled, FileState::Queued);
        let rec = job(
            r#"{"portal": "loculus"}"#,
            vec![queued(0, "same.fq", 4), queued(1, "grown.fq", 5)],
        );
        let p = plan_files(&rec);
        assert_eq!(p.files.len(), 1);
        assert_eq!(p.files[0].item.name, "same.fq");
        assert_eq!(p.refused.len(), 1, "{:?}", p.refused);
        assert!(
            p.refused[0].to_string().contains("grown.fq"),
            "{:?}",
            p.refused
        );
        let refused = plan(&rec).expect_err("ferry resume goes on with the whole job or not");
        assert_eq!(refused.len(), 1);
    }
}
