//! Where a watched folder's runs go: the signed-in portal, whichever of
//! the three, and what its jobs journal so `ferry resume` can reach it.

use std::sync::Arc;

use ferry_engine::Portal;
use ferry_engine::loculus::Loculus;

use ferry_engine::{Destination, PortalKind};

/// Where the folders' runs go: the signed-in portal, whichever it is.
#[derive(Clone)]
pub struct Target {
    pub portal: Arc<dyn Portal>,
    /// Set for Loculus: a folder's own group, submission batches.
    pub loculus: Option<Arc<Loculus>>,
    /// As journaled with each job (no secret); for One Codex and
    /// BaseSpace it names the kind, base and AppResult `ferry resume` needs.
    pub destination: Destination,
    pub kind: PortalKind,
    /// Loculus: the website whose /loculus-info lists the organisms.
    pub website: String,
    pub http: reqwest::Client,
}

impl Target {
    /// The signed-in Loculus of `app`, for `info`.
    pub fn loculus(app: &crate::App, l: &Arc<Loculus>, info: &crate::session::Info) -> Target {
        let website = app
            .portal
            .lock()
            .unwrap()
            .as_ref()
            .map(|p| p.website.clone());
        Target {
            portal: l.clone(),
            loculus: Some(l.clone()),
            destination: crate::session::destination(info),
            kind: PortalKind::Loculus,
            website: website.unwrap_or_default(),
            http: app.http.clone(),
        }
    }

    /// A signed-in One Codex or BaseSpace.
    pub fn key_portal(
        app: &crate::App,
        portal: Arc<dyn Portal>,
        info: &crate::session::Info,
    ) -> Target {
        Target {
            portal,
            loculus: None,
            destination: crate::session::destination(info),
            kind: info.portal.as_ref().map(|p| p.kind).unwrap_or_default(),
            website: String::new(),
            http: app.http.clone(),
        }
    }
}
