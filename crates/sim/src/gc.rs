//! Loculus' S3 garbage collection of orphan uploads (loculus-api.md §4.5,
//! the backend's `S3GarbageCollectionTask`): an upload that no submission
//! references is marked once it is older than the orphan retention period;
//! from then on a submit naming it is refused as expired, and the next run
//! deletes the object and its record (a submit then finds no such id).

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::files::object_key;
use crate::state::AppState;

/// `loculus.s3.gc-orphan-retention-period-minutes` by default: 10080.
pub(crate) const DEFAULT_RETENTION: Duration = Duration::from_secs(10080 * 60);

/// What one run of the garbage collection did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcRun {
    /// Marked for deletion by this run.
    pub marked: Vec<String>,
    /// Deleted by this run (marked by an earlier one, still unreferenced).
    pub deleted: Vec<String>,
}

/// One run: delete what an earlier run marked, then mark what is too old.
/// A file is never marked and deleted by the same run, as on Loculus.
pub(crate) async fn run_once(shared: &AppState) -> GcRun {
    let now = SystemTime::now();
    let mut run = GcRun::default();
    {
        let mut inner = shared.lock();
        let referenced: HashSet<String> = inner
            .submissions
            .iter()
            .flat_map(|s| s.files.values().flatten().map(|(_, id)| id.clone()))
            .collect();
        for (id, f) in inner.files.iter_mut() {
            if referenced.contains(id) {
                continue;
            }
            if f.marked_at.is_some() {
                run.deleted.push(id.clone());
            } else if now
                .duration_since(f.record.requested_at)
                .is_ok_and(|age| age >= shared.orphan_retention)
            {
                f.marked_at = Some(now);
                run.marked.push(id.clone());
            }
        }
        for id in &run.deleted {
            inner.files.remove(id);
        }
    }
    // The records are gone first: a submit racing the deletion already
    // gets "do not exist", never a half-deleted file.
    for id in &run.deleted {
        let _ = shared.s3.delete(&object_key(id)).await;
    }
    run.marked.sort();
    run.deleted.sort();
    run
}

/// The periodic task; aborted when dropped (with the [`crate::Sim`]).
pub(crate) struct Task(tokio::task::JoinHandle<()>);

impl Task {
    pub(crate) fn spawn(shared: AppState, every: Duration) -> Task {
        Task(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(50)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is immediate; the backend's first run comes
            // one period after start.
            tick.tick().await;
            loop {
                tick.tick().await;
                run_once(&shared).await;
            }
        }))
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}
