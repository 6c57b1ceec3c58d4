//! What both front-ends do above the engine, written once: the `ferry`
//! command line and the desktop app only present what these return.
//!
//! - [`open_portal`]: a [`Destination`](ferry_engine::Destination) and a
//!   credential -> the engine's portal.
//! - [`signin`]: sign-ins kept in the OS keychain, bound to their issuer,
//!   with the sign-out guard.
//! - [`submit`]: a Loculus submission (a folder, or files with a metadata
//!   table), the check that the portal attached the files, and its
//!   failures in one wording.
//! - [`folder_job`]: a batch folder as a journaled submit job.
//! - [`watch_submit`]: a watched run folder submitted as a batch.
//! - [`website`]: where a Loculus instance's website is.
//! - [`resume`]: how an interrupted job goes on, file by file.
//! - [`messages`]: the other sentences both front-ends show.

pub mod folder_job;
pub mod messages;
pub mod portal;
pub mod resume;
pub mod signin;
pub mod submit;
pub mod watch_submit;
pub mod website;

pub use portal::{Credential, OpenError, Opened, open_portal, rules};
pub use submit::{SubmitFailure, SubmitTo, Submitted, submit, submit_folder};
