//! After the green check: the portal's ids to copy, receipts for any batch
//! (**Save receipt…**, a native save dialog), and the upload history from
//! the journal. Thin commands: the history and the receipt are the
//! engine's (`history`, `receipt`), the same `ferry jobs --all` and
//! `ferry upload --receipt` use.

use std::collections::HashSet;
use std::path::PathBuf;

use ferry_engine::history::{self, Batch};
use ferry_engine::queue::{EntryId, Row, Status};
use ferry_engine::receipt::{self, ReceiptLine};
use serde::Serialize;

use crate::AppState;

/// Past batches, newest first; only those matching `query` (file name,
/// id, accession) when given.
#[tauri::command]
pub fn history(app: AppState<'_>, query: Option<String>) -> Result<Vec<Batch>, String> {
    let Some(j) = app.queue.journal() else {
        return Ok(vec![]);
    };
    let all = history::load(&j, ferry_engine::clock::unix_now()).map_err(|e| e.to_string())?;
    Ok(all
        .into_iter()
        .filter(|b| query.as_deref().is_none_or(|q| b.matches(q)))
        .collect())
}

/// The accepted rows among `ids` (all accepted rows when empty).
fn accepted(app: &crate::App, ids: &[EntryId]) -> Vec<Row> {
    let want: HashSet<EntryId> = ids.iter().copied().collect();
    app.queue
        .rows()
        .into_iter()
        .filter(|r| r.status == Status::Done && r.remote_id.is_some())
        .filter(|r| want.is_empty() || want.contains(&r.id))
        .collect()
}

/// Receipt lines for window rows: from their journal jobs (which know the
/// destination and when each was accepted), limited to those files.
fn row_lines(app: &crate::App, rows: &[Row]) -> Vec<ReceiptLine> {
    let ids: HashSet<&str> = rows.iter().filter_map(|r| r.remote_id.as_deref()).collect();
    let jobs: Vec<String> = {
        let mut v: Vec<String> = rows
            .iter()
            .filter_map(|r| r.job.clone().map(|j| j.0))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let now = ferry_engine::clock::unix_now();
    let mut lines = Vec::new();
    if let Some(j) = app.queue.journal() {
        for job in jobs {
            if let Ok(Some(b)) = history::batch(&j, &job, now) {
                lines.extend(
                    receipt::lines(&b)
                        .into_iter()
                        .filter(|l| ids.contains(l.file_id.as_str())),
                );
            }
        }
    }
    lines
}

#[derive(Serialize)]
pub struct Saved {
    csv: PathBuf,
    json: PathBuf,
    files: usize,
}

/// Where to save: a native save dialog (in the window tests, the path in
/// FERRY_E2E_SAVE_AS, since a test cannot type into a GTK dialog).
async fn save_as(suggested: String) -> Result<Option<PathBuf>, String> {
    if crate::e2e()
        && let Some(p) = std::env::var_os("FERRY_E2E_SAVE_AS")
    {
        return Ok(Some(PathBuf::from(p)));
    }
    tauri::async_runtime::spawn_blocking(move || {
        rfd::FileDialog::new()
            .set_title("Save receipt (CSV, with a JSON copy beside it)")
            .set_file_name(suggested)
            .add_filter("CSV", &["csv"])
            .save_file()
    })
    .await
    .map_err(|e| e.to_string())
}

/// **Save receipt…**: a history batch (`job`), or the window's accepted
/// rows (`rows`; all of them when empty). Writes CSV and JSON where the
/// user says; `None` when the dialog was cancelled.
#[tauri::command]
pub async fn save_receipt(
    app: AppState<'_>,
    job: Option<String>,
    rows: Option<Vec<EntryId>>,
) -> Result<Option<Saved>, String> {
    let lines = match &job {
        Some(job) => {
            let j = app.queue.journal().ok_or("there is no journal to read")?;
            let b = history::batch(&j, job, ferry_engine::clock::unix_now())
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no batch {job} in the journal"))?;
            receipt::lines(&b)
        }
        None => row_lines(&app, &accepted(&app, rows.as_deref().unwrap_or_default())),
    };
    if lines.is_empty() {
        return Err("no accepted file to put in a receipt".into());
    }
    let name = format!("ferry-receipt-{}.csv", job.as_deref().unwrap_or("batch"));
    let Some(path) = save_as(name).await? else {
        return Ok(None);
    };
    let (csv, json) = receipt::write(&path, &lines)?;
    Ok(Some(Saved {
        csv,
        json,
        files: lines.len(),
    }))
}

/// **Copy ids** (rows selected; all accepted rows when none) as a TSV of
/// name, id, size and SHA-256, or one row's id alone (`only_id`), onto the
/// system clipboard. Returns what was copied.
#[tauri::command]
pub fn copy_ids(
    app: AppState<'_>,
    handle: tauri::AppHandle,
    rows: Vec<EntryId>,
    only_id: bool,
) -> Result<String, String> {
    let picked = accepted(&app, &rows);
    if picked.is_empty() {
        return Err("no accepted file selected".into());
    }
    let text = if only_id {
        picked[0].remote_id.clone().unwrap_or_default()
    } else {
        receipt::tsv(picked.iter().map(|r| {
            (
                r.name.as_str(),
                r.remote_id.as_deref().unwrap_or_default(),
                r.size,
                r.sha256.as_deref().unwrap_or_default(),
            )
        }))
    };
    set_clipboard(&handle, text.clone())?;
    Ok(text)
}

/// GTK's clipboard, on the main thread where GTK lives; `store` hands the
/// text to the clipboard manager so it outlives the window.
#[cfg(target_os = "linux")]
fn set_clipboard(handle: &tauri::AppHandle, text: String) -> Result<(), String> {
    handle
        .run_on_main_thread(move || {
            let cb = gtk::Clipboard::get(&gtk::gdk::SELECTION_CLIPBOARD);
            cb.set_text(&text);
            cb.store();
        })
        .map_err(|e| e.to_string())
}

/// Elsewhere the window copies it itself (the command returns the text).
#[cfg(not(target_os = "linux"))]
fn set_clipboard(_handle: &tauri::AppHandle, _text: String) -> Result<(), String> {
    Ok(())
}

/// **Submit these…** for a Loculus batch no submission attached yet: a
/// metadata template (the engine's `loculus::template`: one row per file
/// or R1/R2 pair, `files.rawReads` cells with `name:fileId`, so nothing is
/// uploaded again) in a new folder beside the files, which the wizard then
/// opens. Returns the folder.
#[tauri::command]
pub fn submit_these(app: AppState<'_>, job: String) -> Result<String, String> {
    let j = app.queue.journal().ok_or("there is no journal to read")?;
    let b = history::batch(&j, &job, ferry_engine::clock::unix_now())
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no batch {job} in the journal"))?;
    if b.portal != ferry_engine::PortalKind::Loculus || b.attached {
        return Err("only Loculus uploads no submission attached yet".into());
    }
    let first = b
        .files
        .iter()
        .find(|f| f.state == ferry_engine::FileState::Done)
        .ok_or("no accepted file in that batch")?;
    let dir = first
        .path
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join(format!("ferry-submission-{job}"));
    ferry_engine::loculus::template::write(
        &dir,
        &b,
        ferry_engine::loculus::template::DEFAULT_CATEGORY,
    )?;
    crate::wizard::set_folder(&app, dir)
}
