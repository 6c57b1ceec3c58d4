//! What started a job (`jobs.kind` in the journal): the names earlier
//! releases wrote, read back with no migration.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What started a job, as the journal names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Files sent to a portal, nothing after (`ferry upload`, a watched
    /// run): `upload`.
    Upload,
    /// Files sent, then a Loculus submission (`ferry submit`, a watched
    /// folder that submits): `submit`.
    Submit,
    /// The desktop app's queue (its files, its submission wizard): `app`.
    App,
    /// The app's submission wizard submitting a folder with no file to
    /// upload: a job of its own, so the submit is never sent twice:
    /// `wizard-submit`.
    WizardSubmit,
    /// A kind this release does not know (a newer Ferry wrote it). Listed
    /// under its own name and resumed as an upload, as before kinds were
    /// typed, rather than failing the whole list.
    Other(String),
}

impl JobKind {
    /// The kinds this release writes.
    pub const KNOWN: [JobKind; 4] = [Self::Upload, Self::Submit, Self::App, Self::WizardSubmit];

    /// The journal's name (`upload`, `submit`, `app`, `wizard-submit`, or
    /// the unknown name as it was).
    pub fn name(&self) -> &str {
        match self {
            Self::Upload => "upload",
            Self::Submit => "submit",
            Self::App => "app",
            Self::WizardSubmit => "wizard-submit",
            Self::Other(name) => name,
        }
    }

    /// The kind a journal row names; an unknown name is kept as
    /// [`JobKind::Other`].
    pub fn parse(name: &str) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|k| k.name() == name)
            .unwrap_or_else(|| Self::Other(name.to_string()))
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

// The very strings the journal holds, so the window reads `kind` as before.
impl Serialize for JobKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for JobKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_and_write_the_journals_names() {
        for (kind, name) in [
            (JobKind::Upload, "upload"),
            (JobKind::Submit, "submit"),
            (JobKind::App, "app"),
            (JobKind::WizardSubmit, "wizard-submit"),
        ] {
            assert_eq!(kind.name(), name);
            assert_eq!(JobKind::parse(name), kind);
            assert_eq!(serde_json::to_value(&kind).unwrap(), name);
            let back: JobKind = serde_json::from_value(name.into()).unwrap();
            assert_eq!(back, kind);
        }
    }

    #[test]
    fn a_kind_from_a_newer_ferry_is_kept_as_written() {
        let k = JobKind::parse("mirror");
        assert_eq!(k, JobKind::Other("mirror".into()));
        assert_eq!(k.name(), "mirror");
        assert_eq!(k.to_string(), "mirror");
        assert_eq!(serde_json::to_value(&k).unwrap(), "mirror");
    }
}
