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
