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
    /// The keychain is there but locked, and its unlock prompt was
    /// cancelled (or could not be shown).
    #[error(
        "the OS keychain stayed locked ({0}); unlock it (on Linux, the login keyring) and sign in again to be remembered"
    )]
    Locked(String),
    #[error("the OS keychain refused: {0}")]
    Failed(String),
}

fn map(e: keyring::Error) -> KeychainError {
    match e {
        // The Secret Service's answer to a cancelled unlock prompt.
        keyring::Error::NoStorageAccess(_) if e.to_string().contains("dismissed") => {
            KeychainError::Locked(e.to_string())
        }
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

/// A secret as kept: wiped from memory when dropped.
pub type SecretText = zeroize::Zeroizing<String>;

/// Who issued a refresh token: it is only ever sent back there, so a
/// changed `--keycloak` or a hostile config cannot collect it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Issuer {
    /// The Keycloak base URL, without a trailing slash.
    pub keycloak: String,
    pub realm: String,
    pub client: String,
}

impl Issuer {
    pub fn new(keycloak: &str, realm: &str, client: &str) -> Issuer {
        Issuer {
            keycloak: keycloak.trim().trim_end_matches('/').to_string(),
            realm: realm.into(),
            client: client.into(),
        }
    }
}

/// Why a kept refresh token is not used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotBound {
    #[error(
        "the kept sign-in was issued by {kept} (realm {realm}, client {client}), not by {asked}: it is not sent there. Sign in again for this Keycloak, or give the Keycloak it came from"
    )]
    Other {
        kept: String,
        realm: String,
        client: String,
        asked: String,
    },
    /// Kept by a Ferry from before issuers were recorded: where it came
    /// from is unknown, so it is sent nowhere.
    #[error(
        "the kept sign-in was saved by an older Ferry without the Keycloak that issued it, so it is not sent anywhere; sign in again once"
    )]
    Unknown,
}

/// A portal sign-in as the app and the CLI keep it, one entry per portal
/// instance, so `ferry login` and the window share it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SavedSignIn {
    /// A Keycloak session: the refresh token, rotated as it is used, and
    /// the Keycloak that issued it (absent in entries of older Ferrys).
    Refresh {
        user: String,
        token: SecretText,
        #[serde(default)]
        issuer: Option<Issuer>,
    },
    /// A long-lived token pasted or given by the user.
    Token { token: SecretText },
    /// An API key or access token with where files go (BaseSpace's
    /// AppResult), for portals without sign-in sessions.
    Key {
        key: SecretText,
        #[serde(default)]
        target: Option<String>,
    },
}

/// Whether a kept refresh token may be sent to `asked`: only to the
/// Keycloak, realm and client that issued it.
pub fn bound_refresh(issuer: &Option<Issuer>, asked: &Issuer) -> Result<(), NotBound> {
    match issuer {
        None => Err(NotBound::Unknown),
        Some(i) if i == asked => Ok(()),
        Some(i) => Err(NotBound::Other {
            kept: i.keycloak.clone(),
            realm: i.realm.clone(),
            client: i.client.clone(),
            asked: asked.keycloak.clone(),
        }),
    }
}

impl SavedSignIn {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a sign-in serializes")
    }

    pub fn from_json(s: &str) -> Option<SavedSignIn> {
        serde_json::from_str(s).ok()
    }

    /// What the keychain holds for `account`, if it holds a sign-in there
    /// (none also when there is no keychain or the entry is unreadable).
    pub fn load(account: &str) -> Option<SavedSignIn> {
        SavedSignIn::from_json(&Entry::new(account).ok()?.get().ok()??)
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
    fn kept_secrets_are_wiped_when_dropped() {
        fn wiped<T: zeroize::ZeroizeOnDrop>() {}
        wiped::<SecretText>();
    }

    #[test]
    fn a_refresh_token_goes_only_to_its_issuer() {
        let mine = Issuer::new("https://kc.example", "loculus", "backend-client");
        assert_eq!(bound_refresh(&Some(mine.clone()), &mine), Ok(()));
        let other = Issuer::new("https://evil.example", "loculus", "backend-client");
        let e = bound_refresh(&Some(mine.clone()), &other).unwrap_err();
        assert!(
            e.to_string().contains("https://kc.example") && e.to_string().contains("not sent"),
            "{e}"
        );
        let realm = Issuer::new("https://kc.example", "other", "backend-client");
        assert!(bound_refresh(&Some(mine.clone()), &realm).is_err());
        let client = Issuer::new("https://kc.example", "loculus", "x");
        assert!(bound_refresh(&Some(mine.clone()), &client).is_err());
        // An entry of an older Ferry (no issuer) is read, but not sent.
        let old = r#"{"kind":"refresh","user":"u","token":"t"}"#;
        let Some(SavedSignIn::Refresh { issuer, .. }) = SavedSignIn::from_json(old) else {
            panic!("an old entry no longer reads");
        };
        assert_eq!(bound_refresh(&issuer, &mine), Err(NotBound::Unknown));
    }

    #[test]
    fn stored_sign_ins_round_trip_and_accounts_ignore_a_trailing_slash() {
        let s = SavedSignIn::Refresh {
            user: "u".into(),
            token: SecretText::new("t".into()),
            issuer: Some(Issuer::new(
                "https://kc.example/",
                "loculus",
                "backend-client",
            )),
        };
        assert!(matches!(
            SavedSignIn::from_json(&s.to_json()),
            Some(SavedSignIn::Refresh { user, token, issuer: Some(i) })
                if user == "u" && token.as_str() == "t" && i.keycloak == "https://kc.example"
        ));
        assert!(SavedSignIn::from_json("not json").is_none());
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
