//! The desktop app's own demo instance (`SimConfig { app: true }`): no
//! `/_sim/*` controls, no fixed passwords, only loopback Host names. The
//! tests' simulator keeps its controls and demo/demo.

use ferry_sim::{Sim, SimConfig};

async fn sign_in(http: &reqwest::Client, base: &str, pass: &str) -> u16 {
    http.post(format!(
        "{base}/realms/loculus/protocol/openid-connect/token"
    ))
    .form(&[
        ("grant_type", "password"),
        ("client_id", "backend-client"),
        ("username", "demo"),
        ("password", pass),
    ])
    .send()
    .await
    .unwrap()
    .status()
    .as_u16()
}

#[tokio::test]
async fn the_apps_demo_portal_is_locked_down() {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let app = Sim::start(SimConfig {
        app: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let base = app.backend_url();
    for path in ["/_sim/state", "/_sim/faults", "/_sim/portals"] {
        let s = http
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(s.as_u16(), 404, "{path} is served");
    }
    let s = http
        .post(format!("{base}/_sim/revoke"))
        .json(&serde_json::json!({"user": "demo"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s.as_u16(), 404);
    // Fixed passwords do not work; the fresh one does, and differs per start.
    assert_eq!(sign_in(&http, &base, "demo").await, 401);
    let pass = app.demo_password();
    assert_ne!(pass, "demo");
    assert_eq!(sign_in(&http, &base, &pass).await, 200);
    let again = Sim::start(SimConfig {
        app: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert_ne!(again.demo_password(), pass);
    // A page that rebinds its own name to 127.0.0.1 sends its own Host.
    for url in [base.clone(), app.onecodex_url(), app.basespace_url()] {
        let s = http
            .get(format!("{url}/"))
            .header("Host", "evil.example")
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(s.as_u16(), 421, "{url}");
    }
    app.shutdown().await;
    again.shutdown().await;

    // The tests' simulator keeps its controls and demo/demo.
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let base = sim.backend_url();
    let s = http
        .get(format!("{base}/_sim/state"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s.as_u16(), 200);
    assert_eq!(sim.demo_password(), "demo");
    assert_eq!(sign_in(&http, &base, "demo").await, 200);
    sim.shutdown().await;
}
