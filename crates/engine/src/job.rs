//! What a job is, shared by the engine's journal and both front-ends.
//!
//! [`PortalKind`] names the three portals. Its serde names are the ones
//! journals already hold (`"loculus"`, `"onecodex"`, `"basespace"`), so no
//! journal needs a migration.

use serde::{Deserialize, Serialize};

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
