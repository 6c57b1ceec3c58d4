//! Jobs of earlier sessions (the journal): offered for Resume or
//! Discard, and taken up as `ferry resume` would take them up.

use std::sync::Arc;

use ferry_engine::queue::{Queue, Resumable};
use ferry_front::resume::ResumePlan;

use crate::{AppState, session};

/// Unfinished jobs of earlier sessions, offered for Resume / Discard.
#[tauri::command]
pub fn unfinished_jobs(app: AppState<'_>) -> Result<Vec<Resumable>, String> {
    // A watched run's job is taken up by its folder's watcher (which holds
    // the folder's lock): offered here too, it could be sent twice at once.
    let mut jobs = app.queue.unfinished()?;
    jobs.retain(|j| j.destination.watch.is_none());
    Ok(jobs)
}

/// Puts an earlier session's job back in the list. What goes on is
/// decided as `ferry resume` decides it (ferry-front's resume plan: each
/// file done, continued from its acknowledged parts, sent again from the
/// start, or refused because it changed); the queue sends it, a refused
/// file shown failed on its row while the others go on. Returns how many
/// files go out (0: every file was accepted before).
#[tauri::command]
pub fn resume_job(app: AppState<'_>, id: String) -> Result<usize, String> {
    resume(&app.queue, &id)
}

/// [`resume_job`], for the wizard's jobs too.
pub fn resume(queue: &Arc<Queue>, id: &str) -> Result<usize, String> {
    let plan = plan(queue, id)?;
    queue.resume_job(id)?;
    Ok(plan.files.len() + plan.refused.len())
}

/// How job `id` goes on, from the journal.
fn plan(queue: &Queue, id: &str) -> Result<ResumePlan, String> {
    let journal = queue.journal().ok_or("no journal")?;
    let rec = journal
        .job(id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no unfinished job {id}"))?;
    Ok(ferry_front::resume::plan_files(&rec))
}

#[tauri::command]
pub fn discard_job(app: AppState<'_>, id: String) -> Result<(), String> {
    app.queue.discard_job(&id)
}

/// The demo portal lives and dies with the app, so jobs sent to an earlier
/// one cannot go on anywhere: forget them rather than offer them.
pub fn forget_old_demo_jobs(queue: &Queue) {
    for job in queue.unfinished().unwrap_or_default() {
        let name = job.destination.destination.account.as_ref();
        if !job.here && name.and_then(|a| a.portal_name.as_deref()) == Some(session::DEMO_NAME) {
            let _ = queue.discard_job(&job.summary.id);
        }
    }
}
