//! The seam between the scheduler and a portal.
//!
//! A portal says how to start uploads, where each part goes with which
//! headers, how to read the storage's answer, and how to finish. The
//! scheduler never looks inside.
//!
//! How the three portals fit:
//! - **Loculus** (implemented, [`crate::loculus`]): `begin` asks the backend for
//!   presigned S3 URLs (many single PUTs asked for in one request); parts are plain PUTs with
//!   the headers the backend named; `complete` posts the ETags in part order.
//! - **One Codex** (implemented, [`crate::onecodex`]): `begin` calls
//!   `init_upload` and keeps the POST-policy fields in [`Upload::form`];
//!   the file is one "part" whose [`PartRequest`] is a `POST` with
//!   `prefix` = the multipart/form-data fields and the file-part header,
//!   `suffix` = the closing boundary, streamed from disk between them;
//!   `complete` (asked for by [`Portal::needs_complete`]) calls
//!   `confirm_upload` once every file of the sample is stored.
//!   `limits().multipart == false`.
//! - **BaseSpace** (implemented, [`crate::basespace`]): `begin` creates the
//!   file with `multipart=true`; each part is a `PUT` to the API host with
//!   `x-access-token` (added by `part_request`, so a refreshed token is
//!   used) and `content_md5 = true`; `accept_part` reads the JSON ETag;
//!   `complete` sets `uploadstatus=complete`. `limits().max_part` = 25 MB.

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::plan::{Plan, PlanLimits};
use crate::scan::NameRules;

/// One file the scheduler wants to start.
#[derive(Debug, Clone)]
pub struct FileSpec {
    pub name: String,
    pub plan: Plan,
}

/// What a portal handed back for one file: enough to send every part and
/// to finish. Serializable so the journal can keep it for resume.
#[derive(Clone, Serialize, Deserialize)]
pub struct Upload {
    /// The portal's id for the file (Loculus fileId).
    pub remote_id: String,
    /// Where each part goes (`urls[i]` is part `i + 1`), when the portal
    /// gives URLs. Presigned URLs are credentials: never log them.
    pub urls: Vec<String>,
    /// Headers every part request must carry.
    pub headers: Vec<(String, String)>,
    pub multipart: bool,
    /// Unix seconds when the URLs stop being accepted, if they expire.
    pub expires_at: Option<u64>,
    /// Form fields sent before the file in a `multipart/form-data` POST
    /// (One Codex's S3 POST policy). A credential like the URLs: never log.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub form: Vec<(String, String)>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("remote_id", &self.remote_id)
            .field("urls", &format_args!("[{} presigned]", self.urls.len()))
            .field("multipart", &self.multipart)
            .field("form", &format_args!("[{} fields]", self.form.len()))
            .finish()
    }
}

/// One HTTP request that carries a part. The body is
/// `prefix ++ file bytes of the part ++ suffix`.
#[derive(Clone)]
pub struct PartRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub prefix: Bytes,
    pub suffix: Bytes,
    /// Send `Content-MD5` (the part is read before sending to compute it).
    pub content_md5: bool,
}

/// Header values and the URL may be credentials (BaseSpace's
/// `x-access-token`, presigned queries): only names and the host print.
impl std::fmt::Debug for PartRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("PartRequest")
            .field("method", &self.method)
            .field("host", &crate::error::host_of(&self.url))
            .field("headers", &names)
            .field("prefix", &self.prefix.len())
            .field("suffix", &self.suffix.len())
            .field("content_md5", &self.content_md5)
            .finish()
    }
}

/// What the storage answered to a part request.
#[derive(Debug)]
pub struct PartResponse {
    pub url: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// 1-based attempt number of this request.
    pub attempt: u32,
}

#[async_trait::async_trait]
pub trait Portal: NameRules {
    /// Short name for messages ("Loculus").
    fn name(&self) -> &str;

    fn limits(&self) -> PlanLimits;

    /// Whether a part's ETag is the hex MD5 of its bytes, so the engine can
    /// catch a storage that stored something else.
    fn etag_is_md5(&self) -> bool {
        false
    }

    /// Whether [`Portal::complete`] must run once all parts are stored:
    /// multipart uploads always; a portal that confirms single uploads
    /// (One Codex) says so too.
    fn needs_complete(&self, upload: &Upload) -> bool {
        upload.multipart
    }

    /// How long upload links live from issue, when they expire and cannot
    /// be re-signed (Loculus: 30 minutes). Plans are fitted to it.
    fn link_lifetime(&self) -> Option<std::time::Duration> {
        None
    }

    /// Whether a few single uploads of zeros may be started to measure the
    /// uplink (when a file would not fit its links at the rate assumed
    /// before any is measured): only where such unused uploads cost
    /// nothing and are cleaned up by the portal.
    fn probe_uploads_allowed(&self) -> bool {
        false
    }

    /// How many files with this plan may be started in one `begin` call
    /// (a start group).
    fn files_per_begin(&self, _plan: &Plan) -> usize {
        1
    }

    /// Files that go as one sample (One Codex's R1/R2 pairs), told before
    /// they are sent, by name; most portals have no such thing.
    fn learn_pairs(&self, _pairs: Vec<Pair>) {}

    /// The same sign-in uploading for another of the account's groups
    /// (Loculus), so a job goes on for the group it was sent for; `None`
    /// for a portal without groups.
    fn for_group(&self, _group: i64) -> Option<std::sync::Arc<dyn Portal>> {
        None
    }

    /// Start uploads for `files` (one `Upload` per file, same order).
    async fn begin(&self, files: &[FileSpec]) -> Result<Vec<Upload>, Error>;

    /// The request that sends part `part` (1-based) of `upload`.
    fn part_request(&self, upload: &Upload, part: u32) -> Result<PartRequest, Error>;

    /// Read the storage's answer: the part's ETag, or why it failed.
    fn accept_part(&self, upload: &Upload, part: u32, resp: &PartResponse)
    -> Result<String, Error>;

    /// Finish the file with the ETags of parts 1..n in order. `maybe_done`
    /// (a retry, or a resumed upload) lets a portal recognise its own
    /// earlier success.
    async fn complete(
        &self,
        upload: &Upload,
        etags: &[String],
        maybe_done: bool,
    ) -> Result<(), Error>;
}

/// Two files of one paired-end sample, by upload name: a portal that
/// pairs reads (One Codex) takes them as one sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub r1: String,
    pub r1_size: u64,
    pub r2: String,
}

/// The error for a non-success storage answer: S3 XML `<Code>`/`<Message>`
/// when present, the status otherwise.
pub fn storage_error(resp: &PartResponse) -> Error {
    let text = String::from_utf8_lossy(&resp.body);
    let code = xml_tag(&text, "Code");
    let msg = xml_tag(&text, "Message");
    let detail = match (code, msg) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        _ => text.chars().take(300).collect(),
    };
    let retry_after = crate::error::parse_retry_after(&resp.headers);
    // S3 signals throttling as 503 SlowDown; from_status retries 5xx.
    crate::error::from_status(&resp.url, resp.status, detail, retry_after)
}

pub(crate) fn xml_tag<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let s = text.find(&open)? + open.len();
    let e = text[s..].find(&close)? + s;
    Some(&text[s..e])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_s3_error_xml() {
        let r = PartResponse {
            url: "http://127.0.0.1:1/b/k".into(),
            status: 403,
            headers: HeaderMap::new(),
            body: Bytes::from_static(
                b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            ),
            attempt: 1,
        };
        let e = storage_error(&r);
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("AccessDenied: Request has expired"));
    }

    #[test]
    fn upload_debug_hides_urls() {
        let u = Upload {
            remote_id: "id".into(),
            urls: vec!["http://x/?X-Amz-Signature=s".into()],
            headers: vec![],
            multipart: false,
            expires_at: None,
            form: vec![("x-amz-signature".into(), "f0rm-s3cret".into())],
        };
        assert!(!format!("{u:?}").contains("Signature"));
        assert!(!format!("{u:?}").contains("f0rm-s3cret"));
    }
}
