//! Ferry's secrets in the OS keychain: the Secret Service (gnome-keyring,
//! KWallet) on Linux, the Keychain on macOS, the Credential Manager on
//! Windows, all through the `keyring` crate. Nothing here ever writes a
//! secret to a file or a log.

/// The keychain "service" every Ferry entry is filed under.
pub const SERVICE: &str = "org.ferry.app";

#[derive(Debug, thiserror::Error)]
pub enum KeychainError {
    #[error(
        "no OS keychain is available ({0}); on Linux start a Secret Service such as gnome-keyring"
    )]
    Unavailable(String),
    #[error("the OS keychain refused: {0}")]
    Failed(String),
}

fn map(e: keyring::Error) -> KeychainError {
    match e {
        keyring::Error::PlatformFailure(_) | keyring::Error::NoStorageAccess(_) => {
            KeychainError::Unavailable(e.to_string())
        }
        other => KeychainError::Failed(other.to_string()),
    }
}

/// One secret, named by the account it belongs to (e.g. a portal URL).
pub struct Entry {
    inner: keyring::Entry,
}

impl Entry {
    pub fn new(account: &str) -> Result<Entry, KeychainError> {
        Ok(Entry {
            inner: keyring::Entry::new(SERVICE, account).map_err(map)?,
        })
    }

    /// Store (or replace) the secret.
    pub fn set(&self, secret: &str) -> Result<(), KeychainError> {
        self.inner.set_password(secret).map_err(map)
    }

    /// The stored secret, `None` when there is none.
    pub fn get(&self) -> Result<Option<String>, KeychainError> {
        match self.inner.get_password() {
            Ok(s) => Ok(Some(s)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map(e)),
        }
    }

    /// Forget the secret; `Ok(false)` when there was none.
    pub fn delete(&self) -> Result<bool, KeychainError> {
        match self.inner.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(map(e)),
        }
    }
}

/// A portal sign-in as the app and the CLI keep it, one entry per portal
/// instance, so `ferry login` and the window share it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Stored {
    /// A Keycloak session: the refresh token, rotated as it is used.
    Refresh { user: String, token: String },
    /// A long-lived token pasted or given by the user.
    Token { token: String },
    /// An API key or access token with where files go (BaseSpace's
    /// AppResult), for portals without sign-in sessions.
    Key {
        key: String,
        #[serde(default)]
        target: Option<String>,
    },
}

impl Stored {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a sign-in serializes")
    }

    pub fn from_json(s: &str) -> Option<Stored> {
        serde_json::from_str(s).ok()
    }

    /// What the keychain holds for `account`, if it holds a sign-in there
    /// (none also when there is no keychain or the entry is unreadable).
    pub fn load(account: &str) -> Option<Stored> {
        Stored::from_json(&Entry::new(account).ok()?.get().ok()??)
    }
}

/// The keychain account of a Loculus instance, named by its backend URL.
pub fn loculus_account(backend: &str) -> String {
    format!("loculus:{}", backend.trim_end_matches('/'))
}

/// The keychain account of a One Codex instance, named by its API base
/// URL (`.../api/v1`); the app and `ferry login --portal onecodex` share it.
pub fn onecodex_account(base: &str) -> String {
    format!("onecodex:{}", base.trim_end_matches('/'))
}

/// The keychain account of a BaseSpace instance, named by its API base
/// URL (`.../v1pre3`); the app and `ferry login --portal basespace` share it.
pub fn basespace_account(base: &str) -> String {
    format!("basespace:{}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_sign_ins_round_trip_and_accounts_ignore_a_trailing_slash() {
        let s = Stored::Refresh {
            user: "u".into(),
            token: "t".into(),
        };
        assert!(matches!(
            Stored::from_json(&s.to_json()),
            Some(Stored::Refresh { user, token }) if user == "u" && token == "t"
        ));
        assert!(Stored::from_json("not json").is_none());
        assert_eq!(
            loculus_account("https://b.example/"),
            loculus_account("https://b.example")
        );
        assert_eq!(
            onecodex_account("https://app.onecodex.com/api/v1/"),
            "onecodex:https://app.onecodex.com/api/v1"
        );
        assert_ne!(
            basespace_account("https://x"),
            onecodex_account("https://x")
        );
    }
}
