//! An interactive upload queue for front-ends (the desktop app): files are
//! added at any time, checked at once, sent in batches, and each can be
//! paused, resumed, cancelled or retried. Changes are collected and taken
//! by the front-end as one update ([`Queue::take_update`]), so a list of
//! 10,000 files costs one message per frame, not one per event.
//!
//! With a journal ([`Queue::with_journal`]) every batch is a job in it:
//! pause, a failure, a revoked sign-in or a closed window leave the
//! acknowledged parts recorded, and resuming sends only the rest
//! ([`Queue::unfinished`], [`Queue::resume_job`] after a restart). Without
//! one, resume sends a file again from its start.

mod controls;
mod dispatch;
mod events;
mod jobs;
mod part_strip;
mod routing;
mod rows;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use crate::job::Destination;
use crate::journal::Journal;
use crate::resume::Step;
use crate::scan::NameRules;
use crate::{EngineConfig, Portal};

pub use dispatch::{mates_again, sent_again_with_mate};
pub use part_strip::{PartState, PartStates};
pub use rows::{Added, Finished, NetworkWait, Resumable, Row, Status, Totals, Update, expand};

pub type EntryId = usize;

/// A journal job id and a file's index in it.
pub type JobRef = (String, usize);

/// A file about to be sent: its row, what it is on disk now, its job.
type Snapshot = (EntryId, crate::Item, Option<JobRef>);

/// What the journal says of a file (`None`: no journal, send it afresh),
/// and the job that records it.
type Decided = (Option<Step>, Option<JobRef>);

#[derive(Default)]
struct State {
    rows: Vec<Row>,
    tokens: HashMap<EntryId, CancellationToken>,
    pausing: HashSet<EntryId>,
    dirty: BTreeSet<EntryId>,
    names: HashMap<String, EntryId>,
    finished: Vec<Finished>,
    /// Paused because the sign-in was refused.
    need_sign_in: BTreeSet<EntryId>,
    /// Journal jobs this queue holds rows of.
    jobs: HashSet<String>,
    /// Jobs with a step after the upload: open until [`Queue::close_job`].
    kept_open: HashSet<String>,
    /// Jobs taken up for another group of the account than the one signed
    /// in now: their journaled destination, so their files always go on
    /// for their own group.
    other_group_jobs: HashMap<String, Destination>,
    network: Option<NetworkWait>,
    network_back: bool,
}

pub struct Queue {
    cfg: EngineConfig,
    rules: Mutex<Arc<dyn NameRules>>,
    portal: Mutex<Option<(Arc<dyn Portal>, Destination)>>,
    journal: Option<Arc<Journal>>,
    state: Mutex<State>,
    runtime: tokio::runtime::Handle,
}

impl Queue {
    /// Call inside a tokio runtime: batches run on it.
    pub fn new(cfg: EngineConfig, rules: Arc<dyn NameRules>) -> Arc<Queue> {
        Self::build(cfg, rules, None)
    }

    /// A queue whose batches are jobs in `journal`, so they can be resumed
    /// from their last acknowledged part, in this session or a later one.
    pub fn with_journal(
        cfg: EngineConfig,
        rules: Arc<dyn NameRules>,
        journal: Arc<Journal>,
    ) -> Arc<Queue> {
        Self::build(cfg, rules, Some(journal))
    }

    fn build(
        cfg: EngineConfig,
        rules: Arc<dyn NameRules>,
        journal: Option<Arc<Journal>>,
    ) -> Arc<Queue> {
        Arc::new(Queue {
            cfg,
            rules: Mutex::new(rules),
            portal: Mutex::new(None),
            journal,
            state: Mutex::new(State::default()),
            runtime: tokio::runtime::Handle::current(),
        })
    }
}
