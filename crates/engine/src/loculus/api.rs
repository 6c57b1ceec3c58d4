//! Calls to the Loculus backend: bearer token, one refresh on 401, and
//! ProblemDetail bodies turned into messages.

use std::sync::Arc;

use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;

use crate::Error;
use crate::error::{AuthWording, from_reqwest, from_status_worded, host_of, parse_retry_after};
use crate::token::TokenSource;

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    host: String,
    tokens: Arc<dyn TokenSource>,
}

impl Api {
    pub fn new(
        http: reqwest::Client,
        base: &str,
        tokens: Arc<dyn TokenSource>,
    ) -> Result<Api, Error> {
        crate::guard::check_url(base, "the Loculus backend")?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').to_string(),
            host: host_of(base),
            tokens,
        })
    }

    /// The backend's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// Send with the bearer token; on 401 let the token source refresh once.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, Error> {
        let url = self.url(path);
        let mut refreshed = false;
        loop {
            let token = self.tokens.token().await?;
            let req = build(self.http.request(method.clone(), &url)).bearer_auth(token.expose());
            let resp = req.send().await.map_err(|e| from_reqwest(&url, e))?;
            if resp.status().as_u16() == 401 && !refreshed && self.tokens.invalidate(&token).await {
                refreshed = true;
                continue;
            }
            if resp.status().is_success() {
                return Ok(resp);
            }
            return Err(self.error_from(&url, resp).await);
        }
    }

    pub async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, Error> {
        let resp = self
            .send(Method::POST, path, |r| match &body {
                Some(b) => r.json(b),
                None => r,
            })
            .await?;
        self.json(resp).await
    }

    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let resp = self.send(Method::GET, path, |r| r).await?;
        self.json(resp).await
    }

    pub async fn post_empty(
        &self,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(), Error> {
        self.send(Method::POST, path, |r| match &body {
            Some(b) => r.json(b),
            None => r,
        })
        .await
        .map(|_| ())
    }

    pub async fn json<T: DeserializeOwned>(&self, resp: Response) -> Result<T, Error> {
        let url = resp.url().to_string();
        let bytes = crate::guard::body_capped(resp, &url, crate::guard::JSON_CAP).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::undecodable("Loculus", &url, format!("unexpected answer ({e})"), &bytes)
        })
    }

    async fn error_from(&self, url: &str, resp: Response) -> Error {
        let status = resp.status().as_u16();
        let retry_after = parse_retry_after(resp.headers());
        let text = crate::guard::error_text(resp).await;
        let detail = problem_detail(&text);
        // Loculus answers 403 both for "not a member of the group" and,
        // on a POST without any token, for its CSRF quirk (loculus#4601).
        let forbidden = if detail.is_empty() {
            "access denied; sign in again".into()
        } else {
            format!("{detail} (check the group id; ask the group's admin to add you)")
        };
        let words = AuthWording {
            unauthorized: None,
            forbidden: Some(forbidden),
        };
        from_status_worded(url, status, detail, retry_after, words)
    }
}

/// `detail` (or Spring's `message`, or `error_description`) of an error
/// body, else the body itself, shortened.
pub(crate) fn problem_detail(text: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        for k in ["detail", "message", "error_description", "error"] {
            if let Some(s) = v.get(k).and_then(|s| s.as_str()) {
                return s.chars().take(300).collect();
            }
        }
    }
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_problem_detail() {
        assert_eq!(
            problem_detail(
                r#"{"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"InvalidPart: x"}"#
            ),
            "InvalidPart: x"
        );
        assert_eq!(problem_detail(""), "");
        assert_eq!(problem_detail("plain"), "plain");
    }
}
