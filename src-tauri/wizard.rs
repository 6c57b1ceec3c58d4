//! The bulk submission wizard's commands: a folder (native dialog, a drop
//! on the window while the wizard is open, or the test entry) -> organism
//! and group -> the linkage for review, with rows left out -> upload
//! through the same queue -> submit (data use terms) -> accessions and a
//! receipt; a rejected submit names the rows the server's message names.
//! The submit itself (attach, submit once, check the files are attached,
//! receipt) is ferry-front's `submit_folder`, shared with
//! `ferry submit --folder`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use ferry_engine::job::WizardSubmit;
use ferry_engine::loculus::{Accession, Linkage, Loculus, OrganismInfo, link_folder};
use ferry_engine::queue::Status;
use ferry_engine::{JobParams, Then, Uploaded};
use ferry_front::submit::Again;
use ferry_front::{SubmitFailure, SubmitTo};
use serde::{Deserialize, Serialize};

use crate::AppState;

/// What the wizard has chosen so far.
#[derive(Default)]
pub struct Wizard {
    folder: Option<PathBuf>,
    organisms: Vec<OrganismInfo>,
    organism: Option<OrganismInfo>,
    exclude: Vec<String>,
    /// Shown: a folder dropped on the window goes to the wizard.
    open: bool,
    /// The journal job a batch with no files to upload submits under
    /// (a batch with files uses its upload job), with its folder.
    submit_job: Option<(PathBuf, String)>,
}

/// A wizard taken up again: what it had chosen, and the files it follows.
#[derive(Serialize)]
pub struct Restored {
    folder: PathBuf,
    organism: String,
    exclude: Vec<String>,
    paths: Vec<PathBuf>,
}

#[derive(Serialize)]
pub struct Submitted {
    accessions: Vec<Accession>,
    receipt_csv: Option<PathBuf>,
    receipt_json: Option<PathBuf>,
    /// The receipt could not be written (the accessions are still shown).
    receipt_error: Option<String>,
    /// Files uploaded again because the portal had expired or deleted
    /// their ids (Loculus keeps unattached uploads about 7 days), each a
    /// sentence naming the file and both ids.
    renewed: Vec<String>,
}

/// A refused submit: the whole message, and the server's message at each
/// row it names.
#[derive(Serialize)]
pub struct Refused {
    message: String,
    rows: BTreeMap<String, String>,
}

impl From<String> for Refused {
    fn from(message: String) -> Self {
        Refused {
            message,
            rows: BTreeMap::new(),
        }
    }
}

/// One of the user's groups (`GET /user/groups`).
#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    group_id: i64,
    group_name: String,
}

/// The user's groups, and the one files go to now.
#[derive(Serialize)]
pub struct Groups {
    groups: Vec<Group>,
    current: i64,
}

fn loculus(app: &crate::App) -> Result<std::sync::Arc<Loculus>, String> {
    app.loculus
        .lock()
        .unwrap()
        .clone()
        .ok_or_else(|| "sign in to a Loculus portal first".to_string())
}

/// The chosen folder read again (fixes on disk count), minus the rows
/// left out.
fn linkage(app: &crate::App) -> Result<Linkage, String> {
    let w = app.wizard.lock().unwrap();
    let folder = w.folder.clone().ok_or("choose the batch folder first")?;
    let org = w.organism.clone().ok_or("choose the organism first")?;
    let mut l = link_folder(&folder, &org);
    l.exclude(&w.exclude);
    Ok(l)
}

fn problems(l: &Linkage) -> String {
    let list: Vec<String> = l.problems.iter().map(|p| p.to_string()).collect();
    format!(
        "{} problem(s) in {}: {}",
        list.len(),
        l.folder.display(),
        list.join("; ")
    )
}

pub(crate) fn set_folder(app: &crate::App, folder: PathBuf) -> Result<String, String> {
    if !folder.is_dir() {
        return Err(format!("{}: is not a folder", folder.display()));
    }
    let mut w = app.wizard.lock().unwrap();
    w.folder = Some(folder.clone());
    w.exclude.clear();
    Ok(folder.display().to_string())
}

/// A drop on the window while the wizard is open: one folder goes to the
/// wizard (its path is returned for the window), anything else to the queue.
pub fn dropped(app: &crate::App, paths: &[PathBuf]) -> Option<String> {
    let [one] = paths else { return None };
    if !app.wizard.lock().unwrap().open || !one.is_dir() {
        return None;
    }
    set_folder(app, one.clone()).ok()
}

/// The window shows or hides the wizard (drops go to it while it shows).
#[tauri::command]
pub fn wizard_open(app: AppState<'_>, open: bool) {
    app.wizard.lock().unwrap().open = open;
}

/// The organisms of the signed-in instance, with their file categories,
/// from its website's `/loculus-info` (not the backend's).
#[tauri::command]
pub async fn wizard_organisms(app: AppState<'_>) -> Result<Vec<OrganismInfo>, String> {
    let backend = loculus(&app)?.api().base().to_string();
    let website = app
        .portal
        .lock()
        .unwrap()
        .as_ref()
        .map(|p| p.website.clone())
        .filter(|w| !w.is_empty())
        .unwrap_or(backend);
    let info = Loculus::instance_info(&app.http, &website)
        .await
        .map_err(|e| format!("{e} (the organisms are read from the website, {website}; set FERRY_WEBSITE if it is elsewhere)"))?;
    let list: Vec<OrganismInfo> = info.organisms.into_values().collect();
    app.wizard.lock().unwrap().organisms = list.clone();
    Ok(list)
}

/// The user's groups (a curator sees every group), and the current one.
#[tauri::command]
pub async fn wizard_groups(app: AppState<'_>) -> Result<Groups, String> {
    let portal = loculus(&app)?;
    let groups: Vec<Group> = portal
        .api()
        .get_json("user/groups")
        .await
        .map_err(|e| e.to_string())?;
    if groups.is_empty() {
        return Err("this account is in no group: ask the portal's admins to add you".into());
    }
    Ok(Groups {
        groups,
        current: portal.group_id(),
    })
}

/// Files go to `group` from now on (the queue's portal and the session
/// follow), so the uploads and the submit belong to the same group.
fn use_group(app: &crate::App, group: i64) -> Result<(), String> {
    let portal = loculus(app)?;
    if portal.group_id() == group {
        return Ok(());
    }
    let moved = Arc::new(portal.with_group(group));
    *app.loculus.lock().unwrap() = Some(moved.clone());
    let info = {
        let mut info = app.info.lock().unwrap();
        info.group = Some(group);
        info.clone()
    };
    app.queue
        .set_portal(Some(moved), crate::session::destination(&info));
    app.outbox.lock().unwrap().session = Some(info);
    Ok(())
}

#[tauri::command]
pub async fn wizard_pick_folder(app: AppState<'_>) -> Result<Option<String>, String> {
    let picked = crate::pick_one_folder("Choose the batch folder").await?;
    match picked {
        Some(f) => set_folder(&app, f).map(Some),
        None => Ok(None),
    }
}

/// Test-only: the folder exactly as the dialog would give it (FERRY_E2E=1).
#[tauri::command]
pub fn e2e_wizard_folder(app: AppState<'_>, path: PathBuf) -> Result<String, String> {
    if !crate::e2e() {
        return Err("not available".into());
    }
    set_folder(&app, path)
}

/// The linkage for review: every row, its files, and every problem.
#[tauri::command]
pub fn wizard_review(
    app: AppState<'_>,
    organism: String,
    exclude: Vec<String>,
) -> Result<Linkage, String> {
    {
        let mut w = app.wizard.lock().unwrap();
        let org = w
            .organisms
            .iter()
            .find(|o| o.key == organism)
            .cloned()
            .ok_or_else(|| format!("no organism {organism} on this instance"))?;
        w.organism = Some(org);
        w.exclude = exclude;
    }
    linkage(&app)
}

/// Sends the batch's files through the queue (per-part progress, green
/// checks); returns their paths, which the window follows.
#[tauri::command]
pub fn wizard_upload(app: AppState<'_>, group: Option<i64>) -> Result<Vec<PathBuf>, String> {
    if let Some(g) = group {
        use_group(&app, g)?;
    }
    loculus(&app)?;
    let l = linkage(&app)?;
    if !l.is_ok() {
        return Err(problems(&l));
    }
    let paths: Vec<PathBuf> = l.uploads().iter().map(|(rel, _)| l.path_of(rel)).collect();
    if paths.is_empty() {
        return Ok(paths); // sequences only: straight to Submit
    }
    let wizard_job = {
        let w = app.wizard.lock().unwrap();
        Then::Wizard(WizardSubmit {
            folder: l.folder.clone(),
            organism: w.organism.clone().ok_or("choose the organism first")?,
            exclude: w.exclude.clone(),
        })
    };
    let (_, ids) = app.queue.add_batch(paths.clone());
    app.queue.start_rows(&ids, Some(wizard_job))?;
    Ok(paths)
}

/// Takes up a wizard of an earlier session from the journal: its files go
/// on from their acknowledged parts, and the window reopens it at upload.
#[tauri::command]
pub fn wizard_resume(app: AppState<'_>, id: String) -> Result<Restored, String> {
    let Some(Then::Wizard(chosen)) = app.queue.job_then(&id) else {
        return Err("that job has no submission".into());
    };
    {
        let mut w = app.wizard.lock().unwrap();
        w.folder = Some(chosen.folder.clone());
        w.organisms = vec![chosen.organism.clone()];
        w.organism = Some(chosen.organism.clone());
        w.exclude = chosen.exclude.clone();
    }
    crate::jobs::resume(&app.queue, &id)?;
    // Its files go on for the group they were sent for (the engine sees to
    // that); the submit and the window follow that group too.
    let group = app.queue.job_destination(&id).and_then(|d| d.group);
    if let Some(g) = group {
        use_group(&app, g)?;
    }
    let l = linkage(&app)?;
    Ok(Restored {
        folder: chosen.folder,
        organism: chosen.organism.key,
        exclude: chosen.exclude,
        paths: l.uploads().iter().map(|(rel, _)| l.path_of(rel)).collect(),
    })
}

/// Attaches the uploaded files to their rows and submits, then checks
/// that the portal attached them (ferry-front's `submit_folder`, as
/// `ferry submit --folder`); a rejected submit keeps the uploads, so after
/// a fix it goes again without them.
#[tauri::command]
pub async fn wizard_submit(
    app: AppState<'_>,
    restricted_until: Option<String>,
) -> Result<Submitted, Refused> {
    let portal = loculus(&app)?;
    let l = linkage(&app)?;
    // The latest accepted upload of each file.
    let mut done: HashMap<PathBuf, Uploaded> = HashMap::new();
    for r in app.queue.rows() {
        if let (Status::Done, Some(id), Some(sha)) = (r.status, r.remote_id, r.sha256) {
            done.insert(
                r.path.clone(),
                Uploaded {
                    path: r.path,
                    name: r.name,
                    size: r.size,
                    remote_id: id,
                    sha256: sha,
                },
            );
        }
    }
    let done: Vec<Uploaded> = done.into_values().collect();
    let sent: Vec<PathBuf> = l.uploads().iter().map(|(rel, _)| l.path_of(rel)).collect();
    // Journaled around the POST under the batch's upload job, so a window
    // closed while submitting never submits twice: the next Submit asks
    // the portal first.
    let mut jobs = app.queue.jobs_of(&sent);
    let journal = app.queue.journal();
    if jobs.is_empty()
        && l.is_ok()
        && let Some(j) = &journal
    {
        // Nothing uploaded (sequences only): a job of its own, kept for
        // this folder so pressing Submit again finds an earlier attempt.
        let mut w = app.wizard.lock().unwrap();
        let held = w.submit_job.as_ref().filter(|(f, _)| *f == l.folder);
        let job = match held {
            Some((_, id)) => id.clone(),
            None => {
                let params =
                    JobParams::default().with_then(Some(Then::SubmitFolder(l.folder.clone())));
                let id = j
                    .create_job(&ferry_engine::JobKind::WizardSubmit, &params, &[])
                    .map_err(|e| e.to_string())?;
                w.submit_job = Some((l.folder.clone(), id.clone()));
                id
            }
        };
        jobs.push(job);
    }
    // Expired or deleted ids are uploaded again with the app's settings
    // (parts in flight, rate limit, proxy, waiting for the network), as
    // every other upload of the app.
    let engine = ferry_engine::Engine::new(app.engine_cfg.clone(), ferry_engine::EventSink::none())
        .map_err(|e| e.to_string())?;
    let to = SubmitTo {
        portal: &portal,
        engine: &engine,
        journal: journal.as_ref(),
        jobs: &jobs,
        legacy_file_mapping: false,
    };
    let receipt = l.folder.join("ferry-receipt");
    let result =
        ferry_front::submit_folder(&to, &l, &done, restricted_until.as_deref(), &receipt).await;
    // Uploaded again: the rows show the new ids.
    let taken = match &result {
        Ok(s) => Some(s),
        Err(SubmitFailure::NotAttached { submitted, .. }) => Some(submitted.as_ref()),
        Err(_) => None,
    };
    for r in taken.iter().flat_map(|s| &s.renewed) {
        app.queue.uploaded_again(&r.path, &r.old_id, &r.new_id);
    }
    if taken.is_some() {
        // The submission went through: its jobs are finished.
        for job in app.queue.jobs_of(&sent) {
            app.queue.close_job(&job);
        }
    }
    let s = match result {
        Ok(s) => s,
        Err(e) => {
            let rows = match &e {
                SubmitFailure::Refused { rows, .. } => rows.clone(),
                _ => BTreeMap::new(),
            };
            return Err(Refused {
                message: e.message(Again::SubmitButton),
                rows,
            });
        }
    };
    // The accessions are shown even when the receipt cannot be written.
    let (receipt_csv, receipt_json, receipt_error) = match s.receipt {
        Some(Ok((c, j))) => (Some(c), Some(j), None),
        Some(Err(e)) => (None, None, Some(e)),
        None => (None, None, None),
    };
    Ok(Submitted {
        accessions: s.accessions,
        receipt_csv,
        receipt_json,
        receipt_error,
        renewed: s.renewed.iter().map(ToString::to_string).collect(),
    })
}
