//! Sending a journaled job's files, as both front-ends send them: what
//! the portal accepted before keeps its place, the rest go in order, each
//! change journaled before it counts. A failure says how many files did
//! not go and the first reason (what was sent is kept for a resume).

use std::sync::Arc;

use ferry_engine::journal::{Journal, Routed};
use ferry_engine::{Engine, Error, JobFile, Portal, Uploaded};

/// Some files of a job were not accepted.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} files failed; first: {first}")]
pub struct SendFailure {
    pub failed: usize,
    /// The job's files, those accepted before included.
    pub total: usize,
    pub first: Error,
}

/// Send `files` of `job` (`already`: what the portal accepted before, by
/// index in the job); every upload of the job, in its order.
pub async fn send_files(
    engine: &Engine,
    portal: Arc<dyn Portal>,
    journal: &Arc<Journal>,
    job: &str,
    files: Vec<JobFile>,
    already: Vec<(usize, Uploaded)>,
) -> Result<Vec<Uploaded>, SendFailure> {
    let total = files.len() + already.len();
    let mut slots: Vec<Option<Uploaded>> = (0..total).map(|_| None).collect();
    for (i, u) in already {
        slots[i] = Some(u);
    }
    // The rest are sent in order.
    let order: Vec<usize> = (0..total).filter(|i| slots[*i].is_none()).collect();
    let rec = journal.recorder(job);
    let log = Routed::wrap(order.iter().map(|&i| (rec.clone(), i)).collect());
    let outcomes = engine.run(portal, files, Some(log)).await;
    let mut first: Option<Error> = None;
    let mut failed = 0;
    for (o, i) in outcomes.into_iter().zip(order) {
        match o {
            Ok(u) => slots[i] = Some(u),
            Err(e) => {
                failed += 1;
                first.get_or_insert(e);
            }
        }
    }
    match first {
        None => Ok(slots.into_iter().flatten().collect()),
        Some(first) => Err(SendFailure {
            failed,
            total,
            first,
        }),
    }
}
