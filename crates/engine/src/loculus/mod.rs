//! The Loculus portal: presigned S3 uploads through the backend's `/files`
//! endpoints, then files attached to a submission (see [`submit`]).

pub(crate) mod api;
mod attach;
pub mod batch;
pub mod entries;
pub mod expiry;
pub mod fasta;
pub mod folder;
pub mod info;
pub mod keycloak;
pub mod names;
pub mod submit;
pub mod submit_record;
pub mod template;

use std::sync::Arc;

use reqwest::Method;
use serde::Deserialize;

use crate::Error;
use crate::plan::{Plan, PlanLimits};
use crate::portal::{FileSpec, PartRequest, PartResponse, Portal, Upload, storage_error};
use crate::scan::NameRules;
use crate::token::TokenSource;

pub use api::Api;
pub use folder::{Linkage, LinkedFile, Problem, ProblemKind, RowLink, link_folder};
pub use info::{InstanceInfo, OrganismInfo};
pub use submit::{Accession, AttachedFile, DataUseTerms, Submission};
pub use submit_record::{SubmitJournal, SubmitRecord, SubmitState};

/// Presigned URLs live 30 minutes (`PRESIGNED_URL_EXPIRY_SECONDS`).
pub const URL_LIFETIME_SECS: u64 = 30 * 60;

/// Single-PUT files whose URLs are asked for in one call. Small files go
/// quickly, so 32 start well inside the URLs' 30 minutes.
const SINGLES_PER_BEGIN: usize = 32;

pub struct Loculus {
    api: Api,
    group_id: i64,
}

impl Loculus {
    /// `backend` is the backend's base URL (`hosts.backend`).
    pub fn new(
        http: reqwest::Client,
        backend: &str,
        group_id: i64,
        tokens: Arc<dyn TokenSource>,
    ) -> Result<Self, Error> {
        Ok(Loculus {
            api: Api::new(http, backend, tokens)?,
            group_id,
        })
    }

    pub fn api(&self) -> &Api {
        &self.api
    }

    pub fn group_id(&self) -> i64 {
        self.group_id
    }

    /// The same sign-in, uploading and submitting for another group.
    pub fn with_group(&self, group_id: i64) -> Loculus {
        Loculus {
            api: self.api.clone(),
            group_id,
        }
    }
}

impl NameRules for Loculus {
    fn check_name(&self, name: &str) -> Result<(), String> {
        names::check(name)
    }
    /// Empty files go by a single PUT with an empty body, which S3 accepts.
    fn accepts_empty(&self) -> bool {
        true
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SingleUrl {
    file_id: String,
    url: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MultipartUrls {
    file_id: String,
    urls: Vec<String>,
}

/// When a presigned URL stops working: `X-Amz-Date` + `X-Amz-Expires`
/// from its query (the backend's own lifetime, which an instance may have
/// changed), else 30 minutes from `issued`.
pub fn url_expiry(url: &str, issued: u64) -> u64 {
    signed_expiry(url).unwrap_or(issued.saturating_add(URL_LIFETIME_SECS))
}

/// `X-Amz-Date` + `X-Amz-Expires` of a presigned URL (server clock).
fn signed_expiry(url: &str) -> Option<u64> {
    let u = url::Url::parse(url).ok()?;
    let q: std::collections::HashMap<_, _> = u.query_pairs().collect();
    let date = q.get("X-Amz-Date").and_then(|d| {
        time::PrimitiveDateTime::parse(
            d,
            time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
        )
        .ok()
    });
    let secs = q.get("X-Amz-Expires").and_then(|e| e.parse::<u64>().ok());
    // S3 signs for at most 7 days; a larger number is a lie, and a huge
    // one must not overflow.
    const S3_MAX_EXPIRES: u64 = 7 * 24 * 3600;
    Some(
        (date?.assume_utc().unix_timestamp().max(0) as u64)
            .saturating_add(secs?.min(S3_MAX_EXPIRES)),
    )
}

/// When a presigned URL stops working on this machine's clock: its expiry
/// on the server's clock moved by `skew` (server minus local seconds, from
/// the answer's `Date` header), so a wrong local clock cannot make a dead
/// link look alive.
pub fn local_expiry(url: &str, issued: u64, skew: i64) -> u64 {
    match signed_expiry(url) {
        Some(server) => server.saturating_add_signed(-skew),
        None => issued.saturating_add(URL_LIFETIME_SECS), // counted from our own clock
    }
}

/// Server clock minus ours, in seconds, from an answer's `Date` header.
fn clock_skew(resp: &reqwest::Response) -> i64 {
    let Some(date) = resp
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok())
    else {
        return 0;
    };
    let server = date
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    server - crate::clock::unix_now() as i64
}

impl Loculus {
    /// POST for upload links, with the server's clock skew.
    async fn post_timed<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<(T, i64), Error> {
        let resp = self.api.send(Method::POST, path, |r| r).await?;
        let skew = clock_skew(&resp);
        Ok((self.api.json(resp).await?, skew))
    }
}

#[async_trait::async_trait]
impl Portal for Loculus {
    fn name(&self) -> &str {
        "Loculus"
    }

    fn limits(&self) -> PlanLimits {
        PlanLimits::S3
    }

    fn link_lifetime(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(URL_LIFETIME_SECS))
    }

    fn etag_is_md5(&self) -> bool {
        true
    }

    /// A fileId never used in a submission is garbage-collected after
    /// about 7 days (`S3GarbageCollectionTask`, loculus-api.md 4.5).
    fn probe_uploads_allowed(&self) -> bool {
        true
    }

    fn files_per_begin(&self, plan: &Plan) -> usize {
        if plan.multipart { 1 } else { SINGLES_PER_BEGIN }
    }

    fn for_group(&self, group: i64) -> Option<std::sync::Arc<dyn Portal>> {
        Some(std::sync::Arc::new(self.with_group(group)))
    }

    async fn begin(&self, files: &[FileSpec]) -> Result<Vec<Upload>, Error> {
        let n = files.len();
        let issued = crate::clock::unix_now();
        if files.iter().all(|f| !f.plan.multipart) {
            let path = format!(
                "files/request-upload?groupId={}&numberFiles={n}",
                self.group_id
            );
            let (urls, skew): (Vec<SingleUrl>, i64) = self.post_timed(&path).await?;
            return urls
                .into_iter()
                .map(|u| {
                    check_file_id(&u.file_id, self.api.host())?;
                    Ok(Upload {
                        remote_id: u.file_id,
                        expires_at: Some(local_expiry(&u.url, issued, skew)),
                        urls: vec![u.url],
                        headers: u.headers.into_iter().collect(),
                        multipart: false,
                        form: vec![],
                    })
                })
                .collect();
        }
        // One multipart file per call: numberParts is per call.
        let [f] = files else {
            return Err(Error::Protocol {
                host: "ferry".into(),
                detail: "multipart uploads are started one file at a time".into(),
            });
        };
        let parts = f.plan.parts;
        let path = format!(
            "files/request-multipart-upload?groupId={}&numberFiles=1&numberParts={parts}",
            self.group_id
        );
        let (got, skew): (Vec<MultipartUrls>, i64) = self.post_timed(&path).await?;
        got.into_iter()
            .map(|m| {
                check_file_id(&m.file_id, self.api.host())?;
                if m.urls.len() < parts as usize {
                    return Err(Error::Protocol {
                        host: self.api.host().into(),
                        detail: format!("asked for {parts} part URLs, got {}", m.urls.len()),
                    });
                }
                Ok(Upload {
                    remote_id: m.file_id,
                    expires_at: m.urls.iter().map(|u| local_expiry(u, issued, skew)).min(),
                    urls: m.urls,
                    headers: vec![],
                    multipart: true,
                    form: vec![],
                })
            })
            .collect()
    }

    fn part_request(&self, upload: &Upload, part: u32) -> Result<PartRequest, Error> {
        let url = upload
            .urls
            .get(part as usize - 1)
            .ok_or_else(|| Error::Protocol {
                host: self.api.host().into(),
                detail: format!("no URL for part {part}"),
            })?
            .clone();
        // No bearer token here: the URL's signature is the credential, and
        // the token must never reach the storage host.
        Ok(PartRequest {
            method: Method::PUT,
            url,
            headers: upload.headers.clone(),
            prefix: Default::default(),
            suffix: Default::default(),
            content_md5: false,
        })
    }

    fn accept_part(
        &self,
        upload: &Upload,
        _part: u32,
        resp: &PartResponse,
    ) -> Result<String, Error> {
        if (200..300).contains(&resp.status) {
            let etag = resp
                .headers
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            return match etag {
                Some(e) => Ok(e),
                None if !upload.multipart => Ok(String::new()),
                None => Err(Error::Protocol {
                    host: crate::error::host_of(&resp.url),
                    detail: "the storage acknowledged a part without an ETag".into(),
                }),
            };
        }
        // A single PUT is conditional (If-None-Match: *): 412 on a retry
        // means the earlier attempt did store the object.
        if resp.status == 412 && !upload.multipart && resp.attempt > 1 {
            return Ok(String::new());
        }
        // S3 checks a presigned URL's expiry when a request starts:
        // 403 AccessDenied "Request has expired".
        match storage_error(resp) {
            Error::Rejected {
                host,
                status: 403,
                detail,
            } if detail.to_ascii_lowercase().contains("expired") => {
                Err(Error::Expired { host, detail })
            }
            // A URL signed with temporary credentials dies with them (S3:
            // 400 ExpiredToken): as dead as an expired one, and new links
            // cure it the same way.
            Error::Rejected {
                host,
                status: 400,
                detail,
            } if detail.starts_with("ExpiredToken") => Err(Error::Expired { host, detail }),
            e => Err(e),
        }
    }

    async fn complete(
        &self,
        upload: &Upload,
        etags: &[String],
        maybe_done: bool,
    ) -> Result<(), Error> {
        let body = serde_json::json!([{ "fileId": upload.remote_id, "etags": etags }]);
        match self
            .api
            .post_empty("files/complete-multipart-upload", Some(body))
            .await
        {
            // A retried or resumed completion whose earlier attempt got
            // through is told "already been completed": our own success.
            Err(Error::Rejected {
                status: 422,
                detail,
                ..
            }) if maybe_done && detail.contains("already been completed") => Ok(()),
            r => r,
        }
    }
}

fn check_file_id(id: &str, host: &str) -> Result<(), Error> {
    let ok = id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::Protocol {
            host: host.into(),
            detail: format!("{id:?} is not a file id (a UUID)"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{URL_LIFETIME_SECS, local_expiry, url_expiry};

    #[test]
    fn expiry_comes_from_the_signature() {
        let u = "http://s/b/files/x?partNumber=1&X-Amz-Date=20261123T120000Z&X-Amz-Expires=1800&X-Amz-Signature=abc";
        // A server clock 100 s ahead of ours: the link dies 100 s earlier here.
        assert_eq!(local_expiry(u, 0, 100), url_expiry(u, 0) - 100);
        assert_eq!(
            local_expiry("http://s/b/files/x", 5, 100),
            5 + URL_LIFETIME_SECS
        );
        assert_eq!(url_expiry(u, 0), 1_795_435_200 + 1800);
        assert_eq!(url_expiry("http://s/b/files/x", 100), 100 + 1800);
        let huge = "http://s/b/x?X-Amz-Date=20261123T120000Z&X-Amz-Expires=18446744073709551615";
        assert_eq!(url_expiry(huge, 0), 1_795_435_200 + 7 * 24 * 3600);
        let neg = "http://s/b/x?X-Amz-Date=20261123T120000Z&X-Amz-Expires=-5";
        assert_eq!(url_expiry(neg, 7), 7 + 1800);
        assert_eq!(url_expiry("http://s/b/x", u64::MAX), u64::MAX);
    }
}
