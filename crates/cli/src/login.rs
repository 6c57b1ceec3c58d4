//! `ferry login` / `ferry logout`: a Keycloak session kept in the OS
//! keychain (the same entry the desktop app uses), so scripts and
//! long-running jobs need no token in the environment and access tokens are
//! refreshed before they expire and whenever the portal answers 401.

use std::io::BufRead;
use std::sync::Arc;

use ferry_engine::loculus::keycloak::Keycloak;
use ferry_engine::{Secret, TokenSource};
use ferry_front::signin::{issuer, saved_tokens};
use ferry_keychain::{Entry, SavedSignIn, SecretText, loculus_account};

use crate::{Fail, exit};

fn entry(backend: &str) -> Result<Entry, Fail> {
    Entry::new(&loculus_account(backend)).map_err(|e| Fail(exit::AUTH, e.to_string()))
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
            &SavedSignIn::Refresh {
                user: user.into(),
                token: SecretText::new(kc.refresh_token().await.expose().to_string()),
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
    saved_tokens(&loculus_account(backend), keycloak).map_err(|e| {
        Fail(
            exit::AUTH,
            format!("{e} (`ferry login --backend {backend} --keycloak {keycloak}`)"),
        )
    })
}
