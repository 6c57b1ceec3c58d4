//! Ferry's upload engine.
//!
//! One direction of flow: **scan -> plan -> transfer -> complete -> attach**.
//! The engine knows no GUI; portals live behind the [`Portal`] trait and the
//! scheduler in [`transfer`] knows nothing about any of them.

pub mod basespace;
mod bufpool;
pub mod clock;
pub mod error;
pub mod event;
pub mod guard;
mod hasher;
mod hashhub;
pub mod history;
pub mod job;
pub mod journal;
pub mod loculus;
pub mod net;
pub mod network;
pub mod onecodex;
pub mod plan;
pub mod portal;
pub mod queue;
pub mod rate;
mod read;
pub mod receipt;
pub mod resume;
pub mod retry;
pub mod scan;
pub mod settings;
pub mod token;
pub mod transfer;
pub mod walk;
pub mod watch;

/// The deadline model lives with the scheduler; its old path still works.
pub use transfer::deadline;

pub use error::{Error, ErrorClass};
pub use event::{Event, EventSink};
pub use job::{Destination, FileState, JobKind, JobParams, JobState, PortalKind, Then};
pub use plan::{Plan, PlanLimits, PlanPrefs};
pub use portal::Portal;
pub use scan::{Item, ScanProblem, ScanReport};
pub use token::{Secret, StaticToken, TokenSource};
pub use transfer::{
    DEFAULT_PARTS_IN_FLIGHT, Engine, EngineConfig, FileOutcome, JobFile, JobLog, Prior, Uploaded,
};
