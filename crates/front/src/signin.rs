//! Sign-ins kept in the OS keychain, shared by `ferry login` and the
//! window: one entry per portal instance. A Keycloak session's refresh
//! token is written back as it rotates, only once the sign-in fully
//! succeeded, never after a sign-out of its account in this process (an
//! upload still running would otherwise write it back), and is only ever
//! sent to the Keycloak, realm and client that issued it.

use std::sync::{Arc, Mutex};

use ferry_engine::loculus::keycloak::{CLIENT_ID, Keycloak, REALM, RefreshHook};
use ferry_engine::{Error, Secret, StaticToken, TokenSource};
use ferry_keychain::{Entry, Issuer, KeychainError, NotBound, SavedSignIn, SecretText};
use tokio::sync::OnceCell;

/// The Keycloak, realm and client a Loculus instance's refresh tokens are
/// bound to.
pub fn issuer(keycloak: &str) -> Issuer {
    Issuer::new(keycloak, REALM, CLIENT_ID)
}

/// Keep `s` for `account`; `None`, or why the keychain did not take it.
pub fn save(account: &str, s: &SavedSignIn) -> Option<String> {
    match Entry::new(account).and_then(|e| e.set(&s.to_json())) {
        Ok(()) => None,
        Err(e) => Some(format!("not remembered: {e}")),
    }
}

/// Forget `account`'s entry; nothing to forget where nothing can be kept
/// (no keychain, or a locked one whose unlock was cancelled).
pub fn forget(account: &str) -> Result<(), String> {
    match Entry::new(account).and_then(|e| e.delete()) {
        Ok(_) | Err(KeychainError::Unavailable(_) | KeychainError::Locked(_)) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// How many times each keychain account was signed out in this process.
/// Held while writing or deleting, so a refresh cannot slip in between.
static SIGN_OUTS: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());

fn sign_outs(list: &[(String, u64)], account: &str) -> u64 {
    list.iter()
        .find(|(a, _)| a == account)
        .map_or(0, |(_, n)| *n)
}

/// Sign out: forget the keychain entry, and stop every session of this
/// account started before now from writing it again.
pub fn sign_out(account: &str) -> Result<(), String> {
    let mut list = SIGN_OUTS.lock().unwrap_or_else(|e| e.into_inner());
    match list.iter_mut().find(|(a, _)| a == account) {
        Some((_, n)) => *n += 1,
        None => list.push((account.to_string(), 1)),
    }
    forget(account)
}

/// Where a Keycloak session's refresh tokens go. Until [`Self::arm`]
/// (the sign-in fully succeeded) the latest one is only held, so a
/// sign-in that fails leaves nothing in the keychain; after a sign-out of
/// the account nothing is written at all.
pub struct RefreshTokenSaver {
    account: String,
    issuer: Issuer,
    /// Known before the sign-in, or (device sign-in) learnt from it.
    user: Mutex<String>,
    /// `SIGN_OUTS` of the account when this session started.
    epoch: u64,
    /// (armed, the refresh token held back until armed)
    state: Mutex<(bool, Option<Secret>)>,
    /// Why the keychain did not take the token, if it did not.
    note: Mutex<Option<String>>,
}

impl RefreshTokenSaver {
    pub fn new(account: &str, issuer: Issuer, user: &str, armed: bool) -> Arc<Self> {
        let list = SIGN_OUTS.lock().unwrap_or_else(|e| e.into_inner());
        Arc::new(RefreshTokenSaver {
            account: account.to_string(),
            issuer,
            user: Mutex::new(user.to_string()),
            epoch: sign_outs(&list, account),
            state: Mutex::new((armed, None)),
            note: Mutex::new(None),
        })
    }

    /// The user, once a device sign-in says who it is.
    pub fn set_user(&self, user: &str) {
        *self.user.lock().unwrap() = user.to_string();
    }

    /// What Keycloak calls with each new refresh token (`None`: revoked).
    pub fn hook(self: &Arc<Self>) -> RefreshHook {
        let me = self.clone();
        Arc::new(move |t: Option<&Secret>| me.keep(t.cloned()))
    }

    pub fn keep(&self, t: Option<Secret>) {
        let mut st = self.state.lock().unwrap();
        if !st.0 {
            st.1 = t;
            return;
        }
        drop(st);
        self.write(t);
    }

    /// The sign-in succeeded: store the token held back, and every later
    /// one; returns why the keychain did not take it, if it did not.
    pub fn arm(&self) -> Option<String> {
        let held = {
            let mut st = self.state.lock().unwrap();
            st.0 = true;
            st.1.take()
        };
        if held.is_some() {
            self.write(held);
        }
        self.note.lock().unwrap().clone()
    }

    fn write(&self, t: Option<Secret>) {
        let list = SIGN_OUTS.lock().unwrap_or_else(|e| e.into_inner());
        if sign_outs(&list, &self.account) != self.epoch {
            return;
        }
        let r = match t {
            Some(t) => save(
                &self.account,
                &SavedSignIn::Refresh {
                    user: self.user.lock().unwrap().clone(),
                    token: SecretText::new(t.expose().to_string()),
                    issuer: Some(self.issuer.clone()),
                },
            ),
            None => forget(&self.account).err(),
        };
        drop(list);
        *self.note.lock().unwrap() = r;
    }
}

/// What the keychain holds for a Loculus instance, as a token source: a
/// kept token as is, a kept session started (on first use) from its
/// refresh token if it was issued by `keycloak`'s. `Ok(None)`: nothing
/// kept; `Err`: kept for another Keycloak (nothing is sent).
pub fn saved_tokens(
    account: &str,
    keycloak: &str,
) -> Result<Option<Arc<dyn TokenSource>>, NotBound> {
    let Some(saved) = SavedSignIn::load(account) else {
        return Ok(None);
    };
    Ok(Some(match saved {
        SavedSignIn::Token { token } | SavedSignIn::Key { key: token, .. } => {
            Arc::new(StaticToken::new(token.as_str()))
        }
        SavedSignIn::Refresh {
            user,
            token,
            issuer: kept,
        } => {
            let issuer = issuer(keycloak);
            ferry_keychain::bound_refresh(&kept, &issuer)?;
            let saver = RefreshTokenSaver::new(account, issuer, &user, true);
            Arc::new(SavedSession {
                keycloak: keycloak.to_string(),
                refresh: Secret::new(token.as_str()),
                hook: saver.hook(),
                session: OnceCell::new(),
            })
        }
    }))
}

/// A Keycloak session started from a kept refresh token on first use.
struct SavedSession {
    keycloak: String,
    refresh: Secret,
    hook: RefreshHook,
    session: OnceCell<Keycloak>,
}

impl SavedSession {
    async fn get(&self) -> Result<&Keycloak, Error> {
        self.session
            .get_or_try_init(|| async {
                let http = ferry_engine::transfer::http_client()?;
                Keycloak::from_refresh_token(
                    http,
                    &self.keycloak,
                    self.refresh.clone(),
                    Some(self.hook.clone()),
                )
                .await
                .map_err(|e| match e {
                    Error::Auth { host, status, .. } => Error::Auth {
                        host,
                        status,
                        detail:
                            "the kept sign-in has expired or was revoked; run `ferry login` again"
                                .into(),
                    },
                    e => e,
                })
            })
            .await
    }
}

#[async_trait::async_trait]
impl TokenSource for SavedSession {
    async fn token(&self) -> Result<Secret, Error> {
        self.get().await?.token().await
    }

    async fn invalidate(&self, rejected: &Secret) -> bool {
        match self.session.get() {
            Some(kc) => kc.invalidate(rejected).await,
            None => false,
        }
    }
}
