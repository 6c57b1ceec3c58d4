//! `ferry login` / `ferry logout`: a Keycloak session kept in the OS
//! keychain (the same entry the desktop app uses), so scripts and
//! long-running jobs need no token in the environment and access tokens are
//! refreshed before they expire and whenever the portal answers 401.

use std::io::BufRead;
use std::sync::Arc;

use ferry_engine::loculus::keycloak::{Keycloak, RefreshHook};
use ferry_engine::{Error, Secret, StaticToken, TokenSource};
use ferry_keychain::{Entry, Issuer, Kept, Stored, bound_refresh, loculus_account};
use tokio::sync::OnceCell;

use crate::{Fail, exit};

fn entry(backend: &str) -> Result<Entry, Fail> {
    Entry::new(&loculus_account(backend)).map_err(|e| Fail(exit::AUTH, e.to_string()))
}

/// The Keycloak, realm and client a refresh token is bound to.
fn issuer(keycloak: &str) -> Issuer {
    Issuer::new(
        keycloak,
        ferry_engine::loculus::keycloak::REALM,
        ferry_engine::loculus::keycloak::CLIENT_ID,
    )
}

/// Stores every refresh token Keycloak hands out, so the next run starts
/// from the newest one.
fn keeper(backend: &str, keycloak: &str, user: &str) -> RefreshHook {
    let (backend, user) = (backend.to_string(), user.to_string());
    let issuer = issuer(keycloak);
    Arc::new(move |t: Option<&Secret>| {
        let Ok(e) = Entry::new(&loculus_account(&backend)) else {
            return;
        };
        let _ = match t {
            Some(t) => e.set(
                &Stored::Refresh {
                    user: user.clone(),
                    token: Kept::new(t.expose().to_string()),
                    issuer: Some(issuer.clone()),
                }
                .to_json(),
            ),
            None => e.delete().map(|_| ()),
        };
    })
}

/// Password grant against the instance's Keycloak; the password is read
/// from standard input (never a flag) and not kept.
pub async fn login(backend: &str, keycloak: &str, user: &str) -> Result<(), Fail> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        Fail(
            exit::INPUT,
            format!("cannot read the password from standard input: {e}"),
        )
    })?;
    let password = Secret::new(line.trim_end_matches(['\r', '\n']).to_string());
    let http = ferry_engine::transfer::http_client()?;
    let kc = Keycloak::sign_in(http, keycloak, user, &password, None).await?;
    keep(backend, keycloak, user, &kc).await
}

/// Stores the session's refresh token in the keychain.
async fn keep(backend: &str, keycloak: &str, user: &str, kc: &Keycloak) -> Result<(), Fail> {
    entry(backend)?
        .set(
            &Stored::Refresh {
                user: user.into(),
                token: Kept::new(kc.refresh_token().await.expose().to_string()),
                issuer: Some(issuer(keycloak)),
            }
            .to_json(),
        )
        .map_err(|e| Fail(exit::AUTH, format!("signed in, but {e}")))?;
    eprintln!("signed in to {backend} as {user}; the session is kept in the OS keychain");
    Ok(())
}

/// Device-code sign-in (RFC 8628): the user approves in a browser, so no
/// password passes through Ferry.
pub async fn login_device(backend: &str, keycloak: &str) -> Result<(), Fail> {
    let http = ferry_engine::transfer::http_client()?;
    let kc = Keycloak::sign_in_device(http, keycloak, None, |code| {
        let link = code
            .verification_uri_complete
            .as_deref()
            .unwrap_or(&code.verification_uri);
        eprintln!(
            "To sign in, open {link}\nand confirm the code {} (valid for {} min). Waiting...",
            code.user_code,
            code.expires_in.div_ceil(60)
        );
    })
    .await?;
    let user = kc.user().unwrap_or_else(|| "(unknown user)".into());
    keep(backend, keycloak, &user, &kc).await
}

pub fn logout(backend: &str) -> Result<(), Fail> {
    if entry(backend)?
        .delete()
        .map_err(|e| Fail(exit::AUTH, e.to_string()))?
    {
        eprintln!("signed out of {backend}: the keychain entry is deleted");
    } else {
        eprintln!("no sign-in kept for {backend}");
    }
    Ok(())
}

/// The sign-in `ferry login` kept for `backend`, if any. A kept refresh
/// token is only sent to the Keycloak that issued it: for any other one
/// this is an error that says so (and sends nothing).
pub fn remembered(backend: &str, keycloak: &str) -> Result<Option<Arc<dyn TokenSource>>, Fail> {
    let Some(stored) = Stored::load(&loculus_account(backend)) else {
        return Ok(None);
    };
    Ok(Some(match stored {
        Stored::Token { token } | Stored::Key { key: token, .. } => {
            Arc::new(StaticToken::new(token.as_str()))
        }
        Stored::Refresh {
            user,
            token,
            issuer: kept,
        } => {
            bound_refresh(&kept, &issuer(keycloak)).map_err(|e| {
                Fail(
                    exit::AUTH,
                    format!("{e} (`ferry login --backend {backend} --keycloak {keycloak}`)"),
                )
            })?;
            Arc::new(KeptSession {
                keycloak: keycloak.to_string(),
                refresh: Secret::new(token.as_str()),
                hook: keeper(backend, keycloak, &user),
                session: OnceCell::new(),
            })
        }
    }))
}

/// A Keycloak session started from the kept refresh token on first use.
struct KeptSession {
    keycloak: String,
    refresh: Secret,
    hook: RefreshHook,
    session: OnceCell<Keycloak>,
}

impl KeptSession {
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
impl TokenSource for KeptSession {
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
