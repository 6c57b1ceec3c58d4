//! The sign-in commands: choosing a portal, signing in (password, browser,
//! token or key, each checked with the portal before it is kept) and
//! signing out.

use std::sync::Arc;

use ferry_engine::{Destination, PortalKind};
use tauri::ipc::Channel;

use crate::session::{self, Info, Portal};
use crate::{AppState, links, portals};

#[tauri::command]
pub fn session(app: AppState<'_>) -> (Info, Option<Portal>) {
    (
        app.info.lock().unwrap().clone(),
        app.portal.lock().unwrap().clone(),
    )
}

#[tauri::command]
pub async fn sign_in(
    app: AppState<'_>,
    backend: Option<String>,
    keycloak: Option<String>,
    user: String,
    password: String,
) -> Result<Info, String> {
    let p = app.portal(backend, keycloak)?;
    let s = session::password(app.http.clone(), &p, &user, &password).await;
    app.use_loculus_sign_in(s)
}

/// Sign in in a browser (OAuth device code): the code goes to the window
/// through `on_code`; this returns once it is approved, refused, expired or
/// cancelled.
#[tauri::command]
pub async fn sign_in_device(
    app: AppState<'_>,
    backend: Option<String>,
    keycloak: Option<String>,
    on_code: Channel<ferry_engine::loculus::keycloak::DeviceCode>,
) -> Result<Info, String> {
    let p = app.portal(backend, keycloak)?;
    let stop = Arc::new(tokio::sync::Notify::new());
    let shown = |c: &ferry_engine::loculus::keycloak::DeviceCode| {
        let link = c.verification_uri_complete.clone();
        let link = link.unwrap_or_else(|| c.verification_uri.clone());
        *app.device.lock().unwrap() = Some((link, stop.clone()));
        let _ = on_code.send(c.clone());
    };
    let s = tokio::select! {
        s = session::device(app.http.clone(), &p, shown) => s,
        _ = stop.notified() => Err("sign-in cancelled".into()),
    };
    *app.device.lock().unwrap() = None;
    app.use_loculus_sign_in(s)
}

/// Opens the waiting device sign-in's page in the desktop's browser.
#[tauri::command]
pub fn open_sign_in_page(app: AppState<'_>, handle: tauri::AppHandle) -> Result<(), String> {
    let link = app.device.lock().unwrap().as_ref().map(|d| d.0.clone());
    let link = link.ok_or("no sign-in is waiting for the browser")?;
    // Only an https page of this portal's Keycloak is handed to the browser.
    let keycloak = app
        .portal
        .lock()
        .unwrap()
        .as_ref()
        .map(|p| p.keycloak.clone());
    ferry_engine::guard::check_sign_in_link(&link, &keycloak.unwrap_or_default(), &[])
        .map_err(|e| e.to_string())?;
    let url = links::openable(&link)?;
    use tauri_plugin_opener::OpenerExt;
    handle
        .opener()
        .open_url(url.as_str(), None::<&str>)
        .map_err(|e| format!("cannot open a browser ({e}): open {link} yourself"))
}

#[tauri::command]
pub fn cancel_sign_in(app: AppState<'_>) {
    if let Some((_, stop)) = app.device.lock().unwrap().take() {
        stop.notify_one();
    }
}

#[tauri::command]
pub async fn sign_in_token(
    app: AppState<'_>,
    backend: Option<String>,
    token: String,
) -> Result<Info, String> {
    let p = app.portal(backend, None)?;
    let s = session::token(app.http.clone(), &p, &token).await;
    app.use_loculus_sign_in(s)
}

/// One Codex (API key) or BaseSpace (access token and AppResult), checked
/// with the portal before it is kept.
#[tauri::command]
pub async fn sign_in_key(
    app: AppState<'_>,
    key: String,
    appresult: Option<String>,
) -> Result<Info, String> {
    let p = app.portal(None, None)?;
    portals::check(&app.http, &p, &key, appresult.as_deref()).await?;
    app.use_key_sign_in(portals::sign_in(
        app.http.clone(),
        &p,
        &key,
        appresult.as_deref(),
    ))
}

/// The portals the window offers.
#[tauri::command]
pub fn portals(app: AppState<'_>) -> Vec<Portal> {
    app.choices.clone()
}

#[tauri::command]
pub async fn choose_portal(app: AppState<'_>, index: usize) -> Result<Info, String> {
    let p = app.choices.get(index).cloned().ok_or("no such portal")?;
    app.choose(p).await
}

#[tauri::command]
pub fn sign_out(app: AppState<'_>) -> Result<Info, String> {
    app.queue.set_portal(None, Destination::default());
    // Every session object of the signed-out portal goes: Loculus (the
    // wizard's too) and One Codex, which would otherwise keep its key.
    *app.loculus.lock().unwrap() = None;
    *app.onecodex.lock().unwrap() = None;
    app.watched.signed_out();
    let info = std::mem::take(&mut *app.info.lock().unwrap());
    if let Some(p) = &info.portal {
        match p.kind {
            PortalKind::Loculus => session::forget(p)?,
            _ => portals::forget(p)?,
        }
    }
    let info = Info {
        portal: info.portal,
        ..Info::default()
    };
    app.outbox.lock().unwrap().session = Some(info.clone());
    Ok(info)
}
