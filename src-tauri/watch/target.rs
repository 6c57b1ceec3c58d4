//! Where a watched folder's runs go: the signed-in portal, whichever of
//! the three, and what its jobs journal so `ferry resume` can reach it.

use std::sync::Arc;

use ferry_engine::Portal;
use ferry_engine::loculus::Loculus;

use crate::portals::Kind;

/// Where the folders' runs go: the signed-in portal, whichever it is.
#[derive(Clone)]
pub struct Target {
    pub portal: Arc<dyn Portal>,
    /// Set for Loculus: a folder's own group, submission batches.
    pub loculus: Option<Arc<Loculus>>,
    /// As journaled with each job (no secret).
    pub destination: serde_json::Value,
    pub kind: Kind,
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
            kind: Kind::Loculus,
            website: website.unwrap_or_default(),
            http: app.http.clone(),
        }
    }

    /// A signed-in One Codex or BaseSpace.
    pub fn keyed(app: &crate::App, portal: Arc<dyn Portal>, info: &crate::session::Info) -> Target {
        Target {
            portal,
            loculus: None,
            destination: keyed_destination(info),
            kind: info.portal.as_ref().map(|p| p.kind).unwrap_or_default(),
            website: String::new(),
            http: app.http.clone(),
        }
    }
}

/// A One Codex or BaseSpace destination, with what `ferry resume` needs
/// to reach the portal again (as `ferry upload --portal ...` journals it).
fn keyed_destination(info: &crate::session::Info) -> serde_json::Value {
    let mut d = crate::session::destination(info);
    if let Some(p) = &info.portal {
        d["portal"] = serde_json::json!(match p.kind {
            Kind::Onecodex => "onecodex",
            _ => "basespace",
        });
        d["base_url"] = serde_json::json!(p.backend);
        if p.kind == Kind::Basespace {
            d["appresult"] = serde_json::json!(info.target);
        }
    }
    d
}
