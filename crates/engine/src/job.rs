//! What a job is, shared by the engine's journal and both front-ends.
//!
//! [`PortalKind`] names the three portals. Its serde names are the ones
//! journals already hold (`"loculus"`, `"onecodex"`, `"basespace"`), so no
//! journal needs a migration. [`JobParams`] (with [`Destination`] and
//! [`Then`]) is what a job keeps in the journal, read from and written as
//! the very JSON earlier releases wrote; [`JobState`] and [`FileState`] are
//! the states the journal names; [`JobKind`] what started the job.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::loculus::OrganismInfo;
use crate::onecodex::Pair;

mod kind;
pub use kind::JobKind;

/// The kind of portal a job goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortalKind {
    #[default]
    Loculus,
    Onecodex,
    Basespace,
}

impl PortalKind {
    /// All kinds, in the order front-ends list them.
    pub const ALL: [PortalKind; 3] = [Self::Loculus, Self::Onecodex, Self::Basespace];

    /// The journal's and the command line's name (`loculus`, `onecodex`,
    /// `basespace`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Loculus => "loculus",
            Self::Onecodex => "onecodex",
            Self::Basespace => "basespace",
        }
    }

    /// The kind a journal or command line names, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The name people read (`Loculus`, `One Codex`, `BaseSpace`).
    pub fn title(self) -> &'static str {
        match self {
            Self::Loculus => "Loculus",
            Self::Onecodex => "One Codex",
            Self::Basespace => "BaseSpace",
        }
    }
}

/// What a job's state is in the journal (`jobs.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Not finished: interrupted, or still going (offered for resume).
    #[default]
    Running,
    /// Every file accepted and, for a submit, the submission recorded.
    Done,
}

impl JobState {
    /// The journal's name (`running`, `done`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
        }
    }

    /// The state a journal row holds. Only `running` is unfinished (the
    /// journal lists only those for resume), so anything else reads as
    /// done rather than failing the whole list.
    pub fn parse(name: &str) -> Self {
        if name == Self::Running.name() {
            Self::Running
        } else {
            Self::Done
        }
    }
}

/// What a file's state is in the journal (`files.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileState {
    /// Nothing sent yet.
    #[default]
    Queued,
    /// An upload was started (its parts may be acknowledged).
    Started,
    /// The portal accepted it.
    Done,
    /// The last attempt failed (resumable from what was acknowledged).
    Failed,
}

impl FileState {
    pub const ALL: [FileState; 4] = [Self::Queued, Self::Started, Self::Done, Self::Failed];

    /// The journal's name (`queued`, `started`, `done`, `failed`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Started => "started",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    /// The state a journal row holds; an unknown one reads as failed, so
    /// the file is sent again rather than taken as accepted.
    pub fn parse(name: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .unwrap_or(Self::Failed)
    }
}

/// Where a job's files go: the portal, the instance and, per portal, the
/// group (Loculus), the AppResult (BaseSpace) or the pairs (One Codex).
/// Never a credential: it is journaled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Destination {
    pub kind: PortalKind,
    /// Loculus: the backend. One Codex, BaseSpace: the API base (`None`:
    /// the public service).
    pub base: Option<String>,
    /// Loculus: the group the files are uploaded for.
    pub group: Option<i64>,
    /// BaseSpace: the AppResult the files go into.
    pub appresult: Option<String>,
    /// One Codex: the paired-end samples, by upload name.
    pub pairs: Vec<Pair>,
    /// Set by the desktop app: the portal as the window names it and who
    /// signed in, so a job resumes in the window only where it started.
    pub account: Option<Account>,
}

/// The window's portal and user a desktop job was sent as.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Account {
    pub portal_name: Option<String>,
    pub user: Option<String>,
}

impl Destination {
    /// A Loculus backend and group (`ferry upload`, `ferry submit`).
    pub fn loculus(backend: &str, group: i64) -> Self {
        Destination {
            kind: PortalKind::Loculus,
            base: Some(backend.to_string()),
            group: Some(group),
            ..Default::default()
        }
    }

    /// The instance, for people: the portal's name (or its address) and
    /// the group or AppResult (no commas: it goes into CSV receipts).
    pub fn describe(&self) -> String {
        let name = self.account.as_ref().and_then(|a| a.portal_name.clone());
        let at = name.or_else(|| self.base.clone());
        match self.kind {
            PortalKind::Basespace => {
                let ar = self.appresult.clone().unwrap_or_default();
                match at {
                    Some(at) => format!("{at} (AppResult {ar})"),
                    None => format!("AppResult {ar}"),
                }
            }
            PortalKind::Onecodex => at.unwrap_or_else(|| "One Codex".into()),
            PortalKind::Loculus => {
                let at = at.unwrap_or_default();
                match self.group {
                    Some(g) => format!("{at} (group {g})"),
                    None => at,
                }
            }
        }
    }
}

/// What follows the upload of a job's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Then {
    /// `ferry submit` (journal key `submit`): attach the files and submit.
    Submit(SubmitSettings),
    /// The app's submission wizard (journal key `then`, `{"wizard": ...}`):
    /// the window reopens it at its step.
    Wizard(WizardSubmit),
    /// The wizard's submit of a folder with no file to upload (journal
    /// key `folder`): the job exists so a submit is never sent twice.
    SubmitFolder(PathBuf),
}

/// A `ferry submit` job's settings, as journaled for `ferry resume`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitSettings {
    pub organism: String,
    pub metadata: PathBuf,
    pub sequences: Option<PathBuf>,
    /// `[ID:]CATEGORY=PATH`, as given.
    pub files: Vec<String>,
    pub restricted_until: Option<String>,
    pub legacy_file_mapping: bool,
    /// Set for `submit --folder` jobs.
    #[serde(default)]
    pub folder: Option<FolderSubmit>,
}

/// What a `ferry submit --folder` job keeps for `ferry resume`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderSubmit {
    pub dir: PathBuf,
    /// As read at the start, so a resume needs no discovery call.
    pub organism: OrganismInfo,
    pub receipt: PathBuf,
    /// Submission ids left out.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// What the journal keeps of a wizard whose files are on their way, so a
/// later session reopens it at its step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WizardSubmit {
    pub folder: PathBuf,
    pub organism: OrganismInfo,
    pub exclude: Vec<String>,
}

/// The watched run a job sends (issue 14): its identity is what makes a
/// run go once.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WatchedRun {
    pub identity: String,
    #[serde(default)]
    pub dir: PathBuf,
    #[serde(default)]
    pub run: PathBuf,
    #[serde(default)]
    pub marker: Option<String>,
}

/// A job's parameters as the journal keeps them (`jobs.params`): where it
/// goes, how, and what follows. Read from and written as the JSON every
/// earlier release wrote, key for key (see [`wire`]): the app's
/// `{portal_name, backend, group, user, target, then}`, the CLI's Loculus
/// `{backend, group, parts_in_flight, submit}` and its One Codex and
/// BaseSpace `{portal, base_url, appresult, pairs, parts_in_flight}`.
/// Keys it does not know are kept as they were.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobParams {
    pub destination: Destination,
    /// `--parts-in-flight` of the CLI job (a resume sends with as many).
    pub parts_in_flight: Option<u16>,
    pub then: Option<Then>,
    pub watch: Option<WatchedRun>,
    /// Keys of a newer Ferry, written back unchanged.
    other: wire::Map,
}

impl JobParams {
    pub fn new(destination: Destination) -> Self {
        JobParams {
            destination,
            ..Default::default()
        }
    }

    /// These params with `then` as what follows the upload.
    pub fn with_then(mut self, then: Option<Then>) -> Self {
        self.then = then;
        self
    }

    /// These params with `--parts-in-flight`.
    pub fn with_parts_in_flight(mut self, parts: u16) -> Self {
        self.parts_in_flight = Some(parts);
        self
    }

    /// The params a journal row holds; unreadable ones read as empty (a
    /// Loculus job with no destination, which resumes nowhere).
    pub fn from_json(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// The One Codex pairs as indices of `names` (the job's files).
    pub fn pair_indices(&self, names: &[String]) -> Vec<(usize, usize)> {
        let index = |n: &str| names.iter().position(|x| x == n);
        self.destination
            .pairs
            .iter()
            .filter_map(|p| Some((index(&p.r1)?, index(&p.r2)?)))
            .collect()
    }
}

impl Serialize for JobParams {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        wire::write(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for JobParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(wire::read(wire::Map::deserialize(d)?))
    }
}

/// The journal's JSON for [`JobParams`], key by key, so every journal an
/// earlier release wrote reads with no migration.
mod wire {
    use super::*;
    use serde_json::{Value, json};

    pub type Map = serde_json::Map<String, Value>;

    const APP_KEYS: [&str; 5] = ["portal_name", "backend", "group", "user", "target"];

    fn text(m: &mut Map, k: &str) -> Option<String> {
        match m.remove(k)? {
            Value::String(s) => Some(s),
            Value::Null => None,
            other => {
                m.insert(k.into(), other);
                None
            }
        }
    }

    fn typed<T: serde::de::DeserializeOwned>(m: &mut Map, k: &str) -> Option<T> {
        let v = m.remove(k)?;
        match serde_json::from_value(v.clone()) {
            Ok(t) => Some(t),
            Err(_) => {
                // Kept as it was: a newer Ferry's shape, or a damaged row.
                if !v.is_null() {
                    m.insert(k.into(), v);
                }
                None
            }
        }
    }

    fn pairs(m: &mut Map) -> Vec<Pair> {
        let raw: Vec<(String, u64, String)> = typed(m, "pairs").unwrap_or_default();
        raw.into_iter()
            .map(|(r1, r1_size, r2)| Pair { r1, r1_size, r2 })
            .collect()
    }

    /// The app journals no portal kind: its portal's name says it (the
    /// window names One Codex and BaseSpace so), else Loculus.
    fn kind_of_name(name: Option<&str>) -> PortalKind {
        match name.unwrap_or_default() {
            n if n.contains("One Codex") => PortalKind::Onecodex,
            n if n.contains("BaseSpace") => PortalKind::Basespace,
            _ => PortalKind::Loculus,
        }
    }

    pub fn read(mut m: Map) -> JobParams {
        let cli_kind = match m.get("portal") {
            Some(Value::String(k)) => PortalKind::parse(k),
            _ => None,
        };
        let destination = if m.contains_key("portal_name") {
            // A desktop job; one of One Codex or BaseSpace also names its
            // kind (and pairs), as a watched folder's jobs do.
            m.remove("portal");
            let portal_name = text(&mut m, "portal_name");
            Destination {
                kind: cli_kind.unwrap_or_else(|| kind_of_name(portal_name.as_deref())),
                base: text(&mut m, "backend"),
                group: typed(&mut m, "group"),
                appresult: text(&mut m, "target"),
                pairs: pairs(&mut m),
                account: Some(Account {
                    portal_name,
                    user: text(&mut m, "user"),
                }),
            }
        } else if let Some(kind) = cli_kind {
            m.remove("portal");
            Destination {
                kind,
                base: text(&mut m, "base_url"),
                appresult: text(&mut m, "appresult"),
                pairs: pairs(&mut m),
                ..Default::default()
            }
        } else {
            Destination {
                kind: PortalKind::Loculus,
                base: text(&mut m, "backend"),
                group: typed(&mut m, "group"),
                ..Default::default()
            }
        };
        let parts_in_flight = typed(&mut m, "parts_in_flight");
        let watch = typed(&mut m, "watch");
        let then = if let Some(s) = typed(&mut m, "submit") {
            Some(Then::Submit(s))
        } else if let Some(Value::Object(t)) = m.get("then")
            && let Some(w) = t
                .get("wizard")
                .and_then(|w| serde_json::from_value(w.clone()).ok())
        {
            m.remove("then");
            Some(Then::Wizard(w))
        } else {
            typed::<PathBuf>(&mut m, "folder").map(Then::SubmitFolder)
        };
        JobParams {
            destination,
            parts_in_flight,
            then,
            watch,
            other: m,
        }
    }

    pub fn write(p: &JobParams) -> Map {
        let mut m = p.other.clone();
        let d = &p.destination;
        if let Some(a) = &d.account {
            // The app writes all five, null when unknown.
            let values = [
                json!(a.portal_name),
                json!(d.base),
                json!(d.group),
                json!(a.user),
                json!(d.appresult),
            ];
            for (k, v) in APP_KEYS.into_iter().zip(values) {
                m.insert(k.into(), v);
            }
            // The kind, not only the window's name for it, for `ferry
            // resume` (earlier releases sent desktop jobs to Loculus only
            // or named the kind in `portal_name`).
            if d.kind != PortalKind::Loculus {
                m.insert("portal".into(), json!(d.kind.name()));
            }
            if !d.pairs.is_empty() {
                let pairs: Vec<Value> = d
                    .pairs
                    .iter()
                    .map(|p| json!([p.r1, p.r1_size, p.r2]))
                    .collect();
                m.insert("pairs".into(), Value::Array(pairs));
            }
        } else if d.kind == PortalKind::Loculus {
            if let Some(b) = &d.base {
                m.insert("backend".into(), json!(b));
            }
            if let Some(g) = d.group {
                m.insert("group".into(), json!(g));
            }
        } else {
            m.insert("portal".into(), json!(d.kind.name()));
            m.insert("base_url".into(), json!(d.base));
            m.insert("appresult".into(), json!(d.appresult));
            let pairs: Vec<Value> = d
                .pairs
                .iter()
                .map(|p| json!([p.r1, p.r1_size, p.r2]))
                .collect();
            m.insert("pairs".into(), Value::Array(pairs));
        }
        if let Some(n) = p.parts_in_flight {
            m.insert("parts_in_flight".into(), json!(n));
        }
        if let Some(w) = &p.watch {
            m.insert("watch".into(), json!(w));
        }
        match &p.then {
            Some(Then::Submit(s)) => {
                m.insert("submit".into(), json!(s));
            }
            Some(Then::Wizard(w)) => {
                m.insert("then".into(), json!({ "wizard": w }));
            }
            Some(Then::SubmitFolder(f)) => {
                m.insert("folder".into(), json!(f));
            }
            None => {}
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_parse() {
        for k in PortalKind::ALL {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.name()));
            assert_eq!(serde_json::from_str::<PortalKind>(&json).unwrap(), k);
            assert_eq!(PortalKind::parse(k.name()), Some(k));
        }
        assert_eq!(PortalKind::parse("gisaid"), None);
    }
}
