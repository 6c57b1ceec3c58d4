//! Discovery, Keycloak, bearer-auth quirks, groups and the request-* endpoints' checks.

mod common;

use std::time::Duration;

use common::*;
use ferry_sim::SimConfig;
use reqwest::StatusCode;

#[tokio::test]
async fn loculus_info_describes_hosts_and_organisms() {
    let sim = sim().await;
    let v = json(
        client()
            .get(format!("{}/loculus-info", sim.backend_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let base = sim.backend_url();
    assert_eq!(v["hosts"]["backend"], base.as_str());
    assert_eq!(v["hosts"]["keycloak"], base.as_str());
    assert_eq!(v["hosts"]["website"], base.as_str());
    let dt = |o: &str| v["organisms"][o]["schema"]["submissionDataTypes"].clone();
    assert_eq!(dt("ebola-sudan")["consensusSequences"], true);
    assert_eq!(dt("ebola-sudan")["files"]["enabled"], true);
    let ebola = dt("ebola-sudan");
    let cats: Vec<&str> = ebola["files"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cats, ["rawReads", "sequencingReports"]);
    assert_eq!(dt("dummy-organism-with-files")["consensusSequences"], false);
    assert_eq!(
        dt("dummy-organism-with-files")["files"]["categories"][0]["name"],
        "rawReads"
    );
    assert_eq!(dt("dummy-organism")["consensusSequences"], true);
    assert!(dt("dummy-organism")["files"].is_null());
    sim.shutdown().await;
}

async fn token_form(sim: &ferry_sim::Sim, form: &[(&str, &str)]) -> reqwest::Response {
    client()
        .post(format!(
            "{}/realms/loculus/protocol/openid-connect/token",
            sim.backend_url()
        ))
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn keycloak_password_and_refresh_grants() {
    let sim = sim().await;
    let wk = json(
        client()
            .get(format!(
                "{}/realms/loculus/.well-known/openid-configuration",
                sim.backend_url()
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        wk["token_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/realms/loculus/protocol/openid-connect/token")
    );

    let bad = token_form(
        &sim,
        &[
            ("grant_type", "password"),
            ("client_id", "backend-client"),
            ("username", "demo"),
            ("password", "nope"),
        ],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let v = json(bad).await;
    assert_eq!(v["error"], "invalid_grant");
    assert_eq!(v["error_description"], "Invalid user credentials");

    let wrong_client = token_form(
        &sim,
        &[
            ("grant_type", "password"),
            ("client_id", "website"),
            ("username", "demo"),
            ("password", "demo"),
        ],
    )
    .await;
    assert_eq!(wrong_client.status(), StatusCode::UNAUTHORIZED);

    let ok = json(
        token_form(
            &sim,
            &[
                ("grant_type", "password"),
                ("client_id", "backend-client"),
                ("username", "demo"),
                ("password", "demo"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(ok["token_type"], "Bearer");
    assert_eq!(ok["expires_in"], 36000);
    let access = ok["access_token"].as_str().unwrap();
    let groups = client()
        .get(format!("{}/user/groups", sim.backend_url()))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(groups.status(), StatusCode::OK);

    let refreshed = token_form(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "backend-client"),
            ("refresh_token", ok["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    assert!(json(refreshed).await["access_token"].is_string());

    let dead = token_form(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "backend-client"),
            ("refresh_token", "garbage"),
        ],
    )
    .await;
    assert_eq!(dead.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(dead).await["error"], "invalid_grant");
    // An access token is not a refresh token.
    let misuse = token_form(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "backend-client"),
            ("refresh_token", access),
        ],
    )
    .await;
    assert_eq!(misuse.status(), StatusCode::BAD_REQUEST);
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_invalid_and_expired_tokens() {
    let sim = sim_with(SimConfig {
        token_lifetime: Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    let c = client();
    // GET without token: 401, empty body, WWW-Authenticate: Bearer.
    let r = c
        .get(format!("{}/user/groups", sim.backend_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert!(r.bytes().await.unwrap().is_empty());
    // POST without token: 403 (CSRF quirk), not 401.
    let r = c
        .post(format!(
            "{}/files/request-upload?groupId=1",
            sim.backend_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Invalid token, any method: 401 invalid_token, empty body.
    for r in [
        c.post(format!(
            "{}/files/request-upload?groupId=1",
            sim.backend_url()
        ))
        .bearer_auth("bogus")
        .send()
        .await
        .unwrap(),
        c.get(format!("{}/user/groups", sim.backend_url()))
            .bearer_auth("bogus")
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let h = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(h.starts_with("Bearer error=\"invalid_token\""), "{h}");
        assert!(r.bytes().await.unwrap().is_empty());
    }
    // Expired: the lifetime is honoured, and expires_in says so.
    let ok = json(
        token_form(
            &sim,
            &[
                ("grant_type", "password"),
                ("client_id", "backend-client"),
                ("username", "demo"),
                ("password", "demo"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(ok["expires_in"], 1);
    let token = ok["access_token"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let r = post(&sim, &token, "/files/request-upload?groupId=1").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    // ... but the refresh token still works.
    let refreshed = token_form(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "backend-client"),
            ("refresh_token", ok["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn user_groups_per_user() {
    let sim = sim().await;
    let ids = |v: serde_json::Value| -> Vec<i64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|g| g["groupId"].as_i64().unwrap())
            .collect()
    };
    let get = |user: &str| {
        client()
            .get(format!("{}/user/groups", sim.backend_url()))
            .bearer_auth(sim.token_for(user))
            .send()
    };
    assert_eq!(ids(json(get("demo").await.unwrap()).await), [1]);
    assert_eq!(ids(json(get("other").await.unwrap()).await), [2]);
    assert_eq!(
        ids(json(get("nobody").await.unwrap()).await),
        Vec::<i64>::new()
    );
    assert_eq!(ids(json(get("curator").await.unwrap()).await), [1, 2]);
    let g = json(get("demo").await.unwrap()).await;
    assert_eq!(g[0]["groupName"], "Demo Lab");
    assert!(g[0]["address"]["city"].is_string());
    sim.shutdown().await;
}

#[tokio::test]
async fn group_checks_on_request_upload() {
    let sim = sim().await;
    let demo = sim.demo_token();
    problem(
        post(&sim, &demo, "/files/request-upload?groupId=99").await,
        404,
        "Group(s) 99 do(es) not exist.",
    )
    .await;
    let r = post(&sim, &demo, "/files/request-upload?groupId=2").await;
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    problem(
        r,
        403,
        "User demo is not a member of group(s) 2. Action not allowed.",
    )
    .await;
    problem(
        post(
            &sim,
            &sim.token_for("nobody"),
            "/files/request-multipart-upload?groupId=1",
        )
        .await,
        403,
        "not a member",
    )
    .await;
    problem(
        post(&sim, &demo, "/files/request-upload").await,
        400,
        "Required parameter 'groupId' is not present.",
    )
    .await;
    problem(
        post(&sim, &demo, "/files/request-upload?groupId=abc").await,
        400,
        "groupId",
    )
    .await;
    problem(
        post(&sim, &demo, "/files/request-upload?groupId=1&numberFiles=0").await,
        400,
        "Number of files must be at least 1",
    )
    .await;
    // Super users skip the membership check.
    assert_eq!(
        post(
            &sim,
            &sim.token_for("curator"),
            "/files/request-upload?groupId=2"
        )
        .await
        .status(),
        StatusCode::OK
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn number_parts_bounds() {
    let sim = sim().await;
    let demo = sim.demo_token();
    for n in [0, 10001, -1] {
        problem(
            post(
                &sim,
                &demo,
                &format!("/files/request-multipart-upload?groupId=1&numberParts={n}"),
            )
            .await,
            400,
            "The number of parts must between 1 and 10000.",
        )
        .await;
    }
    // numberParts is validated per file: no files, no check.
    let r = post(
        &sim,
        &demo,
        "/files/request-multipart-upload?groupId=1&numberFiles=0&numberParts=0",
    )
    .await;
    assert_eq!(json(r).await, serde_json::json!([]));
    let (_, urls) = request_multipart(&sim, &demo, 1, 10000).await;
    assert_eq!(urls.len(), 10000);
    assert!(urls[9999].contains("partNumber=10000"));
    sim.shutdown().await;
}

#[tokio::test]
async fn request_endpoints_response_shapes() {
    let sim = sim().await;
    let demo = sim.demo_token();
    let v = json(post(&sim, &demo, "/files/request-upload?groupId=1&numberFiles=2").await).await;
    assert_eq!(v.as_array().unwrap().len(), 2);
    for f in v.as_array().unwrap() {
        let id = f["fileId"].as_str().unwrap();
        let u = uuid::Uuid::parse_str(id).unwrap();
        assert_eq!(u.get_version_num(), 4);
        assert_eq!(id, id.to_lowercase());
        assert_eq!(f["headers"], serde_json::json!({"If-None-Match": "*"}));
        let url = f["url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("{}/loculus-files/files/{id}?", sim.s3_url())),
            "{url}"
        );
        assert!(
            url.contains("X-Amz-SignedHeaders=host%3Bif-none-match"),
            "{url}"
        );
        assert!(url.contains("X-Amz-Expires=1800"));
        let rec = sim.file(id).unwrap();
        assert_eq!(
            (
                rec.group_id,
                rec.uploader.as_str(),
                rec.multipart,
                rec.completed
            ),
            (1, "demo", false, false)
        );
    }
    let v = json(
        post(
            &sim,
            &demo,
            "/files/request-multipart-upload?groupId=1&numberFiles=1&numberParts=3",
        )
        .await,
    )
    .await;
    let f = &v[0];
    assert!(f.get("headers").is_none());
    let urls = f["urls"].as_array().unwrap();
    assert_eq!(urls.len(), 3);
    assert!(urls[1].as_str().unwrap().contains("partNumber=2"));
    assert!(sim.file(f["fileId"].as_str().unwrap()).unwrap().multipart);
    sim.shutdown().await;
}

#[tokio::test]
async fn device_grant_follows_rfc_8628() {
    const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
    let sim = sim().await;
    let base = sim.backend_url();
    let disco = json(
        client()
            .get(format!(
                "{base}/realms/loculus/.well-known/openid-configuration"
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let endpoint = disco["device_authorization_endpoint"].as_str().unwrap();
    assert!(
        disco["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == GRANT)
    );
    let bad_client = client()
        .post(endpoint)
        .form(&[("client_id", "website")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_client.status(), StatusCode::UNAUTHORIZED);
    let dev = json(
        client()
            .post(endpoint)
            .form(&[("client_id", "backend-client")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let (code, user_code) = (
        dev["device_code"].as_str().unwrap(),
        dev["user_code"].as_str().unwrap(),
    );
    assert!(
        dev["verification_uri_complete"]
            .as_str()
            .unwrap()
            .ends_with(user_code)
    );
    assert!(dev["interval"].as_u64().unwrap() >= 1 && dev["expires_in"].as_u64().unwrap() > 0);
    let form = [
        ("grant_type", GRANT),
        ("client_id", "backend-client"),
        ("device_code", code),
    ];
    let poll = || token_form(&sim, &form);
    let error = |r: serde_json::Value| r["error"].as_str().unwrap().to_string();
    let first = poll().await;
    assert_eq!(first.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error(json(first).await), "authorization_pending");
    // At once again: faster than the interval.
    assert_eq!(error(json(poll().await).await), "slow_down");
    // A wrong password on the browser page approves nothing.
    let page = format!("{base}/realms/loculus/device");
    let wrong = client()
        .post(&page)
        .form(&[
            ("user_code", user_code),
            ("username", "demo"),
            ("password", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let ok = client()
        .post(&page)
        .form(&[
            ("user_code", user_code),
            ("username", "demo"),
            ("password", "demo"),
        ])
        .send()
        .await
        .unwrap();
    assert!(ok.status().is_success());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let tokens = json(poll().await).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert!(tokens["refresh_token"].is_string());
    let groups = client()
        .get(format!("{base}/user/groups"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(groups.status(), StatusCode::OK);
    // A code is used once.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(error(json(poll().await).await), "invalid_grant");
    sim.shutdown().await;
}
