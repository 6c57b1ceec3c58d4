//! A row's part strip: the state of each part of the file, shown by the
//! window as one character per part (the very characters it always read).

use serde::{Serialize, Serializer};

/// The state of one part of a file being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartState {
    /// Not started yet (or to be sent again from the start).
    Waiting,
    /// Its first attempt is on the wire.
    Sending,
    /// The storage acknowledged it.
    Done,
    /// Sent again after a failed attempt.
    Retrying,
    /// Its attempt failed and the file stopped.
    Failed,
}

impl PartState {
    pub const ALL: [PartState; 5] = [
        Self::Waiting,
        Self::Sending,
        Self::Done,
        Self::Retrying,
        Self::Failed,
    ];

    /// The character the window shows it as.
    pub fn as_char(self) -> char {
        match self {
            Self::Waiting => 'w',
            Self::Sending => 's',
            Self::Done => 'd',
            Self::Retrying => 'r',
            Self::Failed => 'f',
        }
    }

    /// The state a character of the strip stands for, if any.
    pub fn from_char(c: char) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_char() == c)
    }
}

/// The parts of one file, in order (part 1 first); empty until planned.
/// Serialized as one character per part (`"wsdd"`), as the window reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartStates(Vec<PartState>);

impl PartStates {
    /// `parts` parts, all in `state`.
    pub fn all(parts: usize, state: PartState) -> Self {
        PartStates(vec![state; parts])
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many parts are in `state`.
    pub fn count(&self, state: PartState) -> usize {
        self.0.iter().filter(|&&s| s == state).count()
    }

    pub fn iter(&self) -> impl Iterator<Item = PartState> + '_ {
        self.0.iter().copied()
    }

    /// Part `part` (numbered from 1) is now `state`; a part beyond the
    /// strip is ignored (the strip is sized when the file is planned).
    pub fn set(&mut self, part: u32, state: PartState) {
        if let Some(s) = self.0.get_mut(part.saturating_sub(1) as usize) {
            *s = state;
        }
    }

    /// Every part is now `state`.
    pub fn set_all(&mut self, state: PartState) {
        self.0.iter_mut().for_each(|s| *s = state);
    }

    /// Every part becomes what `f` makes of it.
    pub fn map(&mut self, f: impl Fn(PartState) -> PartState) {
        self.0.iter_mut().for_each(|s| *s = f(*s));
    }
}

impl std::fmt::Display for PartStates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|s| write!(f, "{}", s.as_char()))
    }
}

impl Serialize for PartStates {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_keeps_its_old_character_and_reads_back() {
        for (state, c) in [
            (PartState::Waiting, 'w'),
            (PartState::Sending, 's'),
            (PartState::Done, 'd'),
            (PartState::Retrying, 'r'),
            (PartState::Failed, 'f'),
        ] {
            assert_eq!(state.as_char(), c, "{state:?}");
            assert_eq!(PartState::from_char(c), Some(state), "{c}");
        }
        assert_eq!(PartState::from_char('x'), None);
    }

    #[test]
    fn the_strip_updates_in_place_and_serializes_as_the_window_reads_it() {
        let mut s = PartStates::all(3, PartState::Waiting);
        s.set(1, PartState::Sending);
        s.set(3, PartState::Done);
        s.set(9, PartState::Done);
        assert_eq!(s.to_string(), "swd");
        assert_eq!(serde_json::to_value(&s).unwrap(), "swd");
        assert_eq!(s.count(PartState::Done), 1);
        s.set_all(PartState::Done);
        assert_eq!(s.to_string(), "ddd");
        assert_eq!(serde_json::to_value(PartStates::default()).unwrap(), "");
    }
}
