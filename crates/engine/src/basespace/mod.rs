//! Illumina BaseSpace (v1pre3): the file is created in an AppResult with
//! `multipart=true`, parts are PUT to the API host with `x-access-token`
//! and `Content-MD5`, each answer's ETag is the part's hex MD5, and
//! `uploadstatus=complete` finishes it. Parts are keyed by file id and
//! number, so a resumed upload continues with the same file id.

use std::sync::{Arc, Mutex};

use futures::FutureExt;
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::error::{AuthWording, from_reqwest, from_status_worded, host_of, parse_retry_after};
use crate::plan::{MIB, PlanLimits};
use crate::portal::{FileSpec, PartRequest, PartResponse, Portal, Upload};
use crate::scan::NameRules;
use crate::token::{Secret, TokenSource};

pub const DEFAULT_BASE: &str = "https://api.basespace.illumina.com/v1pre3";

/// Whether BaseSpace takes `token` for writing into `appresult`, creating
/// nothing: a file create without a name is refused after the token and
/// the AppResult were checked (401 the token, 403 the AppResult's access,
/// 404 no such AppResult; any other 4xx: both passed).
pub async fn check_token(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    appresult: &str,
) -> Result<(), Error> {
    crate::guard::check_url(base, "the BaseSpace API")?;
    let app = appresult.trim();
    if app.is_empty() || !app.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::Rejected {
            host: host_of(base),
            status: 0,
            detail: format!(
                "{app:?} is not an AppResult id: give the number of the AppResult the files go to"
            ),
        });
    }
    let url = format!(
        "{}/appresults/{app}/files?multipart=true",
        base.trim_end_matches('/')
    );
    let req = http.post(&url).header("x-access-token", token.trim());
    let (status, detail) = crate::error::probe(req, &url, &[RESPONSE_STATUS]).await?;
    let host = host_of(&url);
    match status {
        401 => Err(Error::Auth {
            host,
            status,
            detail: format!(
                "BaseSpace did not accept this access token ({detail}); give a current token"
            ),
        }),
        403 => Err(Error::Auth {
            host,
            status,
            detail: format!(
                "BaseSpace took the token, but it may not write to AppResult {app} ({detail}); choose an AppResult of yours"
            ),
        }),
        404 => Err(Error::Rejected {
            host,
            status,
            detail: format!("BaseSpace has no AppResult {app} ({detail}); check its id"),
        }),
        400..=499 => Ok(()),
        _ => Err(Error::Server {
            host,
            status,
            detail: format!("{detail}; try again later"),
            retry_after: None,
        }),
    }
}

/// No part larger than 25 MB.
pub const MAX_PART: u64 = 25_000_000;
pub const MAX_PARTS: u32 = 10_000;

pub struct BaseSpace {
    http: reqwest::Client,
    base: String,
    host: String,
    appresult: String,
    tokens: Arc<dyn TokenSource>,
    /// The token of the latest API call, for `part_request` (which cannot
    /// wait): a refreshed token reaches the parts that start after it.
    current: Mutex<Option<Secret>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope<T> {
    response: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FileObject {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PartAnswer {
    #[serde(rename = "ETag")]
    etag: String,
}

impl BaseSpace {
    /// `base` ends in `/v1pre3`; `appresult` is the AppResult id files go to.
    pub fn new(
        http: reqwest::Client,
        base: &str,
        appresult: &str,
        tokens: Arc<dyn TokenSource>,
    ) -> Result<Self, Error> {
        crate::guard::check_url(base, "the BaseSpace API")?;
        if appresult.is_empty() || !appresult.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::Rejected {
                host: host_of(base),
                status: 0,
                detail: format!("{appresult:?} is not an AppResult id (letters and digits)"),
            });
        }
        Ok(BaseSpace {
            http,
            base: base.trim_end_matches('/').to_string(),
            host: host_of(base),
            appresult: appresult.into(),
            tokens,
            current: Mutex::new(None),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    async fn token(&self) -> Result<Secret, Error> {
        let t = self.tokens.token().await?;
        *self.current.lock().expect("token") = Some(t.clone());
        Ok(t)
    }

    /// POST with the token; one refresh on 401.
    async fn post<T: DeserializeOwned>(
        &self,
        url: &str,
        content_type: Option<&str>,
    ) -> Result<(u16, T), Error> {
        let mut refreshed = false;
        loop {
            let token = self.token().await?;
            let mut req = self
                .http
                .request(Method::POST, url)
                .header("x-access-token", token.expose());
            if let Some(ct) = content_type {
                req = req.header(reqwest::header::CONTENT_TYPE, ct);
            }
            let resp = req.send().await.map_err(|e| from_reqwest(url, e))?;
            let status = resp.status().as_u16();
            if status == 401 && !refreshed && self.tokens.invalidate(&token).await {
                refreshed = true;
                continue;
            }
            let retry_after = parse_retry_after(resp.headers());
            let bytes = crate::guard::body_capped(resp, url, crate::guard::JSON_CAP).await?;
            if !(200..300).contains(&status) {
                return Err(api_error(url, status, &bytes, retry_after));
            }
            let v = serde_json::from_slice(&bytes).map_err(|e| {
                Error::undecodable("BaseSpace", url, format!("unexpected answer ({e})"), &bytes)
            })?;
            return Ok((status, v));
        }
    }
}

/// Where BaseSpace's error bodies hold their message.
const RESPONSE_STATUS: &str = "/ResponseStatus/Message";

/// A BaseSpace error body (`ResponseStatus.Message`) as our error.
fn api_error(
    url: &str,
    status: u16,
    body: &[u8],
    retry_after: Option<std::time::Duration>,
) -> Error {
    let text = String::from_utf8_lossy(body);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let msg = v
        .pointer(RESPONSE_STATUS)
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| text.chars().take(300).collect());
    let words = AuthWording {
        unauthorized: Some(format!(
            "{msg}; give a current access token (sign in again; on the command line FERRY_BASESPACE_TOKEN, --token-stdin or `ferry login --portal basespace`)"
        )),
        forbidden: Some(format!(
            "{msg}; check the AppResult id and that the token may write to it"
        )),
    };
    from_status_worded(url, status, msg, retry_after, words)
}

/// What BaseSpace should store the file as.
fn content_type(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".gz") || lower.ends_with(".gzip") {
        "application/gzip"
    } else {
        "text/plain"
    }
}

/// BaseSpace's file-name rules, before or without a signed-in portal.
pub struct BaseSpaceNames;

impl NameRules for BaseSpaceNames {
    fn check_name(&self, name: &str) -> Result<(), String> {
        if name.is_empty() {
            return Err("file names may not be empty".into());
        }
        if name
            .chars()
            .any(|c| c.is_control() || matches!(c, '/' | '\\'))
        {
            return Err("file names may not contain slashes or control characters".into());
        }
        Ok(())
    }
    /// Every part but the last has at least 5 MB; an empty file would be
    /// one empty part, which BaseSpace does not take.
    fn accepts_empty(&self) -> bool {
        false
    }
}

impl NameRules for BaseSpace {
    fn check_name(&self, name: &str) -> Result<(), String> {
        BaseSpaceNames.check_name(name)
    }
    fn accepts_empty(&self) -> bool {
        BaseSpaceNames.accepts_empty()
    }
}

#[async_trait::async_trait]
impl Portal for BaseSpace {
    fn name(&self) -> &str {
        "BaseSpace"
    }

    fn limits(&self) -> PlanLimits {
        PlanLimits {
            min_part: 5 * MIB,
            max_part: MAX_PART,
            max_parts: MAX_PARTS,
            // A file of one part is still a multipart upload here.
            max_single: MAX_PART,
            multipart: true,
        }
    }

    fn etag_is_md5(&self) -> bool {
        true
    }

    /// Every upload is multipart, a small file being one part.
    fn needs_complete(&self, _upload: &Upload) -> bool {
        true
    }

    async fn begin(&self, files: &[FileSpec]) -> Result<Vec<Upload>, Error> {
        let mut out = Vec::with_capacity(files.len());
        for f in files {
            let mut url =
                url::Url::parse(&self.url(&format!("appresults/{}/files", self.appresult)))
                    .map_err(|e| Error::Protocol {
                        host: self.host.clone(),
                        detail: e.to_string(),
                    })?;
            url.query_pairs_mut()
                .append_pair("name", &f.name)
                .append_pair("multipart", "true");
            let (_, file): (u16, Envelope<FileObject>) =
                self.post(url.as_str(), Some(content_type(&f.name))).await?;
            out.push(Upload {
                remote_id: file.response.id,
                urls: vec![],
                headers: vec![],
                multipart: true,
                expires_at: None,
                form: vec![],
            });
        }
        Ok(out)
    }

    fn part_request(&self, upload: &Upload, part: u32) -> Result<PartRequest, Error> {
        let cached = self.current.lock().expect("token").clone();
        // A resumed job has made no API call yet; a static token is ready.
        let token = match cached {
            Some(t) => t,
            None => match self.tokens.token().now_or_never() {
                Some(Ok(t)) => {
                    *self.current.lock().expect("token") = Some(t.clone());
                    t
                }
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(Error::Auth {
                        host: self.host.clone(),
                        status: 0,
                        detail: "no access token is available yet; sign in again".into(),
                    });
                }
            },
        };
        Ok(PartRequest {
            method: Method::PUT,
            url: self.url(&format!("files/{}/parts/{part}", upload.remote_id)),
            headers: vec![("x-access-token".into(), token.expose().to_string())],
            prefix: Default::default(),
            suffix: Default::default(),
            content_md5: true,
        })
    }

    fn accept_part(
        &self,
        _upload: &Upload,
        part: u32,
        resp: &PartResponse,
    ) -> Result<String, Error> {
        if !(200..300).contains(&resp.status) {
            let retry_after = parse_retry_after(&resp.headers);
            return Err(api_error(&resp.url, resp.status, &resp.body, retry_after));
        }
        let a: Envelope<PartAnswer> = serde_json::from_slice(&resp.body).map_err(|e| {
            Error::undecodable(
                "BaseSpace",
                &resp.url,
                format!("part {part}: unexpected answer ({e})"),
                &resp.body,
            )
        })?;
        Ok(a.response.etag)
    }

    async fn complete(
        &self,
        upload: &Upload,
        _etags: &[String],
        maybe_done: bool,
    ) -> Result<(), Error> {
        let url = self.url(&format!("files/{}?uploadstatus=complete", upload.remote_id));
        match self.post::<serde_json::Value>(&url, None).await {
            Ok(_) => Ok(()),
            // A retried completion whose first attempt got through.
            Err(Error::Rejected {
                status: 400,
                detail,
                ..
            }) if maybe_done && detail.contains("already complete") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PlanPrefs, plan};
    use crate::token::StaticToken;

    fn bs() -> BaseSpace {
        BaseSpace::new(
            reqwest::Client::new(),
            "http://127.0.0.1:9/v1pre3",
            "123",
            Arc::new(StaticToken::new("t")),
        )
        .unwrap()
    }

    #[test]
    fn parts_fit_ten_thousand_of_25_mb() {
        let l = bs().limits();
        let p = plan(250_000_000_000, &l, &PlanPrefs::default()).unwrap();
        assert!(p.parts <= 10_000 && p.part_size <= MAX_PART, "{p:?}");
        let e = plan(250_000_000_001, &l, &PlanPrefs::default()).unwrap_err();
        assert!(e.to_string().contains("25000000"), "{e}");
        let small = plan(1, &l, &PlanPrefs::default()).unwrap();
        assert_eq!(small.parts, 1);
    }

    #[test]
    fn part_requests_carry_the_token_and_md5_but_do_not_print_it() {
        let u = Upload {
            remote_id: "f1".into(),
            urls: vec![],
            headers: vec![],
            multipart: true,
            expires_at: None,
            form: vec![],
        };
        let r = bs().part_request(&u, 3).unwrap();
        assert!(r.url.ends_with("/v1pre3/files/f1/parts/3"));
        assert!(r.content_md5);
        assert_eq!(r.headers, vec![("x-access-token".into(), "t".into())]);
        assert!(!format!("{r:?}").contains("\"t\""));
    }
}
