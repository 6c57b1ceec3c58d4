//! Against a real Secret Service. `tests/run-all.sh` runs these inside
//! `dbus-run-session` with an unlocked gnome-keyring-daemon:
//! `cargo nextest run -p ferry-keychain --run-ignored only`.

use std::sync::{Arc, Mutex};

use ferry_engine::loculus::keycloak::Keycloak;
use ferry_engine::{Secret, TokenSource};
use ferry_keychain::Entry;

#[test]
#[ignore = "needs a Secret Service: run inside dbus-run-session with gnome-keyring-daemon (tests/run-all.sh)"]
fn store_read_replace_delete() {
    let e = Entry::new("test://store-read-replace-delete").unwrap();
    e.delete().unwrap();
    assert_eq!(e.get().unwrap(), None);
    e.set("first").unwrap();
    assert_eq!(e.get().unwrap().as_deref(), Some("first"));
    e.set("second").unwrap();
    // A fresh handle reads what the service stored, not a cached value.
    let again = Entry::new("test://store-read-replace-delete").unwrap();
    assert_eq!(again.get().unwrap().as_deref(), Some("second"));
    assert!(again.delete().unwrap());
    assert_eq!(e.get().unwrap(), None);
    assert!(!e.delete().unwrap());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Secret Service: run inside dbus-run-session with gnome-keyring-daemon (tests/run-all.sh)"]
async fn keycloak_sign_in_keeps_the_refresh_token_in_the_keychain() {
    // Access tokens live 2 s: refreshed once inside the last half of their
    // life (the margin is 5 minutes, or half the lifetime when shorter).
    let sim = ferry_sim::Sim::start(ferry_sim::SimConfig {
        token_lifetime: std::time::Duration::from_secs(2),
        ..Default::default()
    })
    .await
    .unwrap();
    let account = format!("{}#demo", sim.backend_url());
    let entry = Arc::new(Mutex::new(Entry::new(&account).unwrap()));
    let hook_entry = entry.clone();
    let hook: ferry_engine::loculus::keycloak::RefreshHook = Arc::new(move |t: Option<&Secret>| {
        let e = hook_entry.lock().unwrap();
        match t {
            Some(t) => e.set(t.expose()).unwrap(),
            None => {
                e.delete().unwrap();
            }
        }
    });
    let http = reqwest_client();

    // Store: the password grant puts the refresh token in the keychain.
    let kc = Keycloak::sign_in(
        http.clone(),
        &sim.backend_url(),
        "demo",
        &Secret::new("demo"),
        Some(hook.clone()),
    )
    .await
    .unwrap();
    let stored = entry.lock().unwrap().get().unwrap().expect("stored");
    assert_eq!(stored, kc.refresh_token().await.expose());
    let first = kc.token().await.unwrap();

    // Read: a new session (the app restarted) continues from the keychain.
    let kc2 = Keycloak::from_refresh_token(
        http.clone(),
        &sim.backend_url(),
        Secret::new(stored.clone()),
        Some(hook.clone()),
    )
    .await
    .unwrap();
    let second = kc2.token().await.unwrap();
    assert_ne!(
        first, second,
        "a fresh access token from the stored refresh token"
    );

    // Refresh: once the access token is inside its margin, asking for it
    // refreshes, and a rotated refresh token replaces the stored one.
    assert_eq!(kc2.token().await.unwrap(), second, "reused while fresh");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let third = kc2.token().await.unwrap();
    assert_ne!(second, third, "refreshed before expiry");
    let now = entry.lock().unwrap().get().unwrap().expect("still stored");
    assert_eq!(now, kc2.refresh_token().await.expose());

    // Delete: sign-out forgets it.
    hook(None);
    assert_eq!(entry.lock().unwrap().get().unwrap(), None);
    sim.shutdown().await;
}

fn reqwest_client() -> reqwest::Client {
    reqwest::Client::new()
}
