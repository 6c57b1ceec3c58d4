//! Calls to the One Codex API: HTTP Basic with the API key as the user
//! name and an empty password, only ever to the API host.

use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::error::{AuthWording, from_reqwest, from_status_worded, host_of, parse_retry_after};
use crate::loculus::api::problem_detail;
use crate::token::Secret;

#[derive(Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    base: String,
    host: String,
    key: Secret,
}

impl Api {
    pub fn new(http: reqwest::Client, base: &str, key: Secret) -> Result<Api, Error> {
        crate::guard::check_url(base, "the One Codex API")?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').to_string(),
            host: host_of(base),
            key,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// POST a JSON body; the answer as JSON.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, Error> {
        let url = format!("{}/{}", self.base, path);
        let resp = self
            .http
            .request(Method::POST, &url)
            .basic_auth(self.key.expose(), Some(""))
            .json(body)
            .send()
            .await
            .map_err(|e| from_reqwest(&url, e))?;
        let status = resp.status().as_u16();
        let retry_after = parse_retry_after(resp.headers());
        let bytes = crate::guard::body_capped(resp, &url, crate::guard::JSON_CAP).await?;
        if !(200..300).contains(&status) {
            let text = String::from_utf8_lossy(&bytes);
            let detail = problem_detail(&text);
            let words = AuthWording {
                unauthorized: Some(format!(
                    "{detail}; give a current API key (sign in again; on the command line FERRY_ONECODEX_API_KEY, --api-key-stdin or `ferry login --portal onecodex`)"
                )),
                forbidden: None,
            };
            return Err(from_status_worded(&url, status, detail, retry_after, words));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::undecodable(
                "One Codex",
                &url,
                format!("unexpected answer ({e})"),
                &bytes,
            )
        })
    }
}
