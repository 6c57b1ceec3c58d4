//! One way to reach a portal from a destination and a credential, for
//! `ferry upload`, `ferry resume`, the app's sign-in and its Resume.

use std::sync::Arc;

use ferry_engine::basespace::{self, BaseSpace, BaseSpaceNames};
use ferry_engine::loculus::Loculus;
use ferry_engine::loculus::names::LoculusNames;
use ferry_engine::onecodex::{self, OneCodex, OneCodexNames};
use ferry_engine::scan::NameRules;
use ferry_engine::{Destination, Portal, PortalKind, Secret, StaticToken, TokenSource};

/// What signs the requests: an API key or access token as given, or a
/// token source (a Keycloak session that refreshes itself).
#[derive(Clone)]
pub enum Credential {
    Key(Secret),
    Tokens(Arc<dyn TokenSource>),
}

impl Credential {
    fn tokens(self) -> Arc<dyn TokenSource> {
        match self {
            Credential::Key(k) => Arc::new(StaticToken::new(k.expose())),
            Credential::Tokens(t) => t,
        }
    }
}

/// Why a portal could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("a Loculus destination needs the backend's URL and the group")]
    NoBackend,
    #[error("One Codex takes an API key, not a sign-in session")]
    NotAKey,
    #[error(transparent)]
    Engine(#[from] ferry_engine::Error),
}

/// An open portal, with its own type where a front-end needs more than
/// the [`Portal`] trait (the wizard submits through Loculus; One Codex
/// learns pairs of files added later).
#[derive(Clone)]
pub enum Opened {
    Loculus(Arc<Loculus>),
    OneCodex(Arc<OneCodex>),
    BaseSpace(Arc<BaseSpace>),
}

impl Opened {
    pub fn portal(&self) -> Arc<dyn Portal> {
        match self {
            Opened::Loculus(p) => p.clone(),
            Opened::OneCodex(p) => p.clone(),
            Opened::BaseSpace(p) => p.clone(),
        }
    }

    pub fn loculus(&self) -> Option<Arc<Loculus>> {
        match self {
            Opened::Loculus(p) => Some(p.clone()),
            _ => None,
        }
    }

    pub fn onecodex(&self) -> Option<Arc<OneCodex>> {
        match self {
            Opened::OneCodex(p) => Some(p.clone()),
            _ => None,
        }
    }
}

/// The portal `to` names, signed with `credential`. One Codex and
/// BaseSpace without a base go to the public service; BaseSpace without
/// an AppResult to none (the portal refuses it when checked).
pub fn open_portal(
    http: reqwest::Client,
    to: &Destination,
    credential: Credential,
) -> Result<Opened, OpenError> {
    let base = to.base.as_deref();
    Ok(match to.kind {
        PortalKind::Loculus => {
            let (Some(base), Some(group)) = (base, to.group) else {
                return Err(OpenError::NoBackend);
            };
            Opened::Loculus(Arc::new(Loculus::new(
                http,
                base,
                group,
                credential.tokens(),
            )?))
        }
        PortalKind::Onecodex => {
            let Credential::Key(key) = credential else {
                return Err(OpenError::NotAKey);
            };
            Opened::OneCodex(Arc::new(OneCodex::new(
                http,
                base.unwrap_or(onecodex::DEFAULT_BASE),
                key,
                to.pairs.clone(),
            )?))
        }
        PortalKind::Basespace => Opened::BaseSpace(Arc::new(BaseSpace::new(
            http,
            base.unwrap_or(basespace::DEFAULT_BASE),
            to.appresult.as_deref().unwrap_or_default(),
            credential.tokens(),
        )?)),
    })
}

/// A kind of portal's file-name rules (and pairing), for checking files
/// before any sign-in.
pub fn rules(kind: PortalKind) -> Arc<dyn NameRules> {
    match kind {
        PortalKind::Loculus => Arc::new(LoculusNames),
        PortalKind::Onecodex => Arc::new(OneCodexNames),
        PortalKind::Basespace => Arc::new(BaseSpaceNames),
    }
}
