//! The storage host: a real S3 server (`s3s-fs`, SigV4 + expiry checked by `s3s`) behind a
//! wrapper that logs requests, records part ETags, rejects bearer tokens and injects faults.
//! Also the sim's own S3 client (rusty-s3 presigned requests over loopback), which talks to a
//! second, unwrapped "internal" listener on the same S3 service, like Loculus' `internalEndpoint`.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use bytes::Bytes;
use futures::StreamExt;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use s3s::service::S3Service;
use sha2::Digest;

use crate::faults::Fault;
use crate::model::StorageRequest;
use crate::server::{BoxError, reset_error, truncate};
use crate::state::{AppState, PartInfo};

/// Errors of the sim's own calls to the S3 server.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StorageError {
    #[error("S3 error {code} (HTTP {status})")]
    S3 { status: u16, code: String },
    #[error("storage unreachable: {0}")]
    Http(#[from] reqwest::Error),
    #[error("unexpected S3 response: {0}")]
    Protocol(String),
}

/// Builds the `s3s` service over `root` (one directory per bucket).
pub(crate) fn build_service(
    root: &std::path::Path,
    access_key: &str,
    secret_key: &str,
) -> anyhow::Result<S3Service> {
    let fs = s3s_fs::FileSystem::new(root).map_err(|e| anyhow::anyhow!("s3s-fs: {e:?}"))?;
    let mut b = s3s::service::S3ServiceBuilder::new(fs);
    b.set_auth(s3s::auth::SimpleAuth::from_single(
        access_key.to_owned(),
        secret_key.to_owned(),
    ));
    Ok(b.build())
}

/// The unwrapped internal listener's handler.
pub(crate) async fn handle_internal(
    s3: S3Service,
    req: Request<Incoming>,
) -> Result<Response<Body>, BoxError> {
    let resp = s3.call(req.map(s3s::Body::from)).await?;
    Ok(resp.map(Body::new))
}

/// The public storage host's handler.
pub(crate) async fn handle_public(
    state: AppState,
    s3: S3Service,
    req: Request<Incoming>,
) -> Result<Response<Body>, BoxError> {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let fault = state.faults.take_storage();
    let mut entry = StorageRequest {
        method,
        path,
        query,
        status: 0,
        body_bytes: 0,
        authorization,
        fault: fault.as_ref().map(Fault::label),
        started_ms: crate::model::now_ms(),
        ended_ms: 0,
    };
    // A client that gives up (a stalled request abandoned) drops this future
    // before it logs; the guard logs the request then, with status 0.
    let mut abandoned = Unanswered {
        state: state.clone(),
        entry: Some(entry.clone()),
    };

    let mut truncate_after = false;
    let resp = match fault {
        Some(Fault::Reset) => {
            abandoned.entry = None;
            log_storage(&state, entry);
            return Err(reset_error());
        }
        Some(Fault::Status(code)) => {
            entry.body_bytes = drain(req.into_body()).await;
            fault_status(code, &entry.path)
        }
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            entry.body_bytes = drain(req.into_body()).await;
            let mut r = s3_error(
                StatusCode::TOO_MANY_REQUESTS,
                "SlowDown",
                "Please reduce your request rate.",
                &entry.path,
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            r
        }
        Some(Fault::TooManyRequestsUntil { retry_after_secs }) => {
            entry.body_bytes = drain(req.into_body()).await;
            let mut r = s3_error(
                StatusCode::TOO_MANY_REQUESTS,
                "SlowDown",
                "Please reduce your request rate.",
                &entry.path,
            );
            r.headers_mut().insert(
                header::RETRY_AFTER,
                crate::faults::retry_after_date(retry_after_secs),
            );
            r
        }
        // S3 checks the signature's expiry when a request starts, before the body.
        Some(Fault::ExpireUrl) => s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Request has expired",
            &entry.path,
        ),
        // A URL signed with temporary (STS) credentials dies with them, whatever its
        // X-Amz-Expires says; S3 answers 400 ExpiredToken, not 403.
        Some(Fault::ExpireToken) => s3_error(
            StatusCode::BAD_REQUEST,
            "ExpiredToken",
            "The provided token has expired.",
            &entry.path,
        ),
        Some(Fault::CorruptEtag | Fault::EmptyEtag) => {
            let empty = matches!(fault, Some(Fault::EmptyEtag));
            let mut r = forward(&state, &s3, req, &mut entry).await?;
            if let Some(real) = r.headers().get(header::ETAG).cloned() {
                let answered = if empty {
                    HeaderValue::from_static("")
                } else {
                    let lie = crate::faults::lying_etag(&String::from_utf8_lossy(real.as_bytes()));
                    HeaderValue::from_str(&lie).expect("hex is a valid header value")
                };
                r.headers_mut().insert(header::ETAG, answered);
            }
            r
        }
        Some(Fault::Stall(d)) => {
            tokio::time::sleep(d).await;
            forward(&state, &s3, req, &mut entry).await?
        }
        Some(Fault::Truncate) => {
            truncate_after = true;
            forward(&state, &s3, req, &mut entry).await?
        }
        None => forward(&state, &s3, req, &mut entry).await?,
    };
    entry.status = resp.status().as_u16();
    abandoned.entry = None;
    log_storage(&state, entry);
    Ok(if truncate_after {
        truncate(resp).await
    } else {
        resp
    })
}

/// Logs a storage request that got no answer (status 0) when dropped armed.
struct Unanswered {
    state: AppState,
    entry: Option<StorageRequest>,
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if let Some(e) = self.entry.take() {
            log_storage(&self.state, e);
        }
    }
}

/// Logs a storage request as answered now.
fn log_storage(state: &AppState, mut entry: StorageRequest) {
    entry.ended_ms = crate::model::now_ms();
    state.lock().storage_log.push(entry);
}

/// Normal handling: bearer check, then the real S3 service; records UploadPart results.
async fn forward(
    state: &AppState,
    s3: &S3Service,
    req: Request<Incoming>,
    entry: &mut StorageRequest,
) -> Result<Response<Body>, BoxError> {
    let foreign_auth = entry
        .authorization
        .as_deref()
        .is_some_and(|a| !a.starts_with("AWS4-HMAC-SHA256 "));
    if req.headers().contains_key("x-access-token") {
        // A BaseSpace token has no business on a storage host.
        return Ok(s3_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Unsupported credential header x-access-token",
            &entry.path,
        ));
    }
    if foreign_auth {
        // Real S3 refuses a second auth mechanism (or a foreign one) with 400 InvalidArgument.
        let msg = if entry.query.contains("X-Amz-Signature") {
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"
        } else {
            "Unsupported Authorization Type"
        };
        return Ok(s3_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            msg,
            &entry.path,
        ));
    }
    if crate::post_object::is_post_object(&req, state.s3.bucket()) {
        return Ok(crate::post_object::handle(state, req, entry).await);
    }
    let upload_part = upload_part_key(req.method().as_str(), &entry.query);
    if state.discard_bodies
        && let Some(key) = upload_part
    {
        return discard_part(state, s3, req, entry, key).await;
    }
    let (parts, body) = req.into_parts();
    let counter = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: body,
        n: counter.clone(),
    };
    let body = match &state.uplink {
        Some(u) => s3s::Body::http_body_unsync(crate::uplink::Paced::new(counting, u.clone())),
        None => s3s::Body::http_body_unsync(counting),
    };
    let resp = s3.call(Request::from_parts(parts, body)).await?;
    entry.body_bytes = counter.load(Ordering::Relaxed);
    if let Some(key) = upload_part
        && resp.status() == StatusCode::OK
        && let Some(etag) = resp
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
    {
        let info = PartInfo {
            etag: etag.to_owned(),
            size: entry.body_bytes,
        };
        state.lock().parts.insert(key, info);
    }
    Ok(resp.map(Body::new))
}

/// `--discard-bodies`: the part is hashed and counted as it arrives and
/// then dropped; the S3 server gets the request with an empty body, so it
/// still checks the signature and expiry, and the answer carries the ETag
/// (MD5) of the bytes that came, as S3's does.
async fn discard_part(
    state: &AppState,
    s3: &S3Service,
    req: Request<Incoming>,
    entry: &mut StorageRequest,
    key: (String, u32),
) -> Result<Response<Body>, BoxError> {
    use base64::Engine as _;
    use md5::Digest;
    let (mut parts, body) = req.into_parts();
    let want_md5 = parts.headers.remove("content-md5");
    let mut md5 = md5::Md5::new();
    let mut stream = Body::new(body).into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        entry.body_bytes += chunk.len() as u64;
        md5.update(&chunk);
    }
    let digest = md5.finalize();
    if let Some(want) = want_md5
        && want.as_bytes()
            != base64::engine::general_purpose::STANDARD
                .encode(digest)
                .as_bytes()
    {
        return Ok(s3_error(
            StatusCode::BAD_REQUEST,
            "BadDigest",
            "The Content-MD5 you specified did not match what we received.",
            &entry.path,
        ));
    }
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    let resp = s3
        .call(Request::from_parts(parts, s3s::Body::empty()))
        .await?;
    let mut resp = resp.map(Body::new);
    if resp.status() == StatusCode::OK {
        let etag = format!("\"{}\"", hex::encode(digest));
        resp.headers_mut()
            .insert(header::ETAG, HeaderValue::from_str(&etag)?);
        let info = PartInfo {
            etag,
            size: entry.body_bytes,
        };
        state.lock().parts.insert(key, info);
    }
    Ok(resp)
}

/// `(uploadId, partNumber)` if this is an UploadPart request.
fn upload_part_key(method: &str, query: &str) -> Option<(String, u32)> {
    if method != "PUT" {
        return None;
    }
    let mut upload_id = None;
    let mut part = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "uploadId" => upload_id = Some(v.into_owned()),
            "partNumber" => part = v.parse().ok(),
            _ => {}
        }
    }
    Some((upload_id?, part?))
}

/// Reads and discards a request body, returning its size (so an injected error arrives after
/// the upload, as from a real server that failed while storing).
async fn drain(body: Incoming) -> u64 {
    let mut n = 0u64;
    let mut stream = Body::new(body).into_data_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        n += chunk.len() as u64;
    }
    n
}

fn fault_status(code: u16, resource: &str) -> Response<Body> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (code, msg) = match status.as_u16() {
        500 => (
            "InternalError",
            "We encountered an internal error. Please try again.",
        ),
        503 => ("SlowDown", "Please reduce your request rate."),
        403 => ("AccessDenied", "Access Denied"),
        404 => ("NoSuchKey", "The specified key does not exist."),
        400 => ("InvalidRequest", "Invalid Request"),
        408 => (
            "RequestTimeout",
            "Your socket connection to the server was not read from or written to within the timeout period.",
        ),
        _ => ("InternalError", "Injected fault"),
    };
    s3_error(status, code, msg, resource)
}

/// An S3 XML error response.
pub(crate) fn s3_error(
    status: StatusCode,
    code: &str,
    msg: &str,
    resource: &str,
) -> Response<Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><Resource>{}</Resource><RequestId>ferry-sim</RequestId></Error>",
        xml_escape(msg),
        xml_escape(resource)
    );
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A request body that counts the bytes passing through.
struct Counting {
    inner: Incoming,
    n: Arc<AtomicU64>,
}

impl http_body::Body for Counting {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.n.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The sim's S3 client: presigns client URLs for the public host and calls the internal one.
pub(crate) struct S3Client {
    public: Bucket,
    internal: Bucket,
    creds: Credentials,
    http: reqwest::Client,
    expiry: Duration,
}

impl S3Client {
    pub fn new(
        public_url: &str,
        internal_url: &str,
        bucket: &str,
        region: &str,
        access_key: &str,
        secret_key: &str,
        expiry: Duration,
    ) -> anyhow::Result<Self> {
        let mk = |u: &str| {
            Bucket::new(
                url::Url::parse(&format!("{u}/"))?,
                UrlStyle::Path,
                bucket.to_owned(),
                region.to_owned(),
            )
            .map_err(anyhow::Error::from)
        };
        Ok(Self {
            public: mk(public_url)?,
            internal: mk(internal_url)?,
            creds: Credentials::new(access_key.to_owned(), secret_key.to_owned()),
            // Never route loopback traffic through an environment proxy.
            http: reqwest::Client::builder().no_proxy().build()?,
            expiry,
        })
    }

    /// Presigned single PUT for `key`; `if-none-match: *` is a signed header, so a PUT without
    /// it fails the signature check (403) and a repeated PUT gets 412, as on Loculus.
    pub fn presign_put(&self, key: &str) -> String {
        let mut action = self.public.put_object(Some(&self.creds), key);
        action.headers_mut().insert("if-none-match", "*");
        action.sign(self.expiry).to_string()
    }

    /// Presigned UploadPart URL for part `part` (1-based).
    pub fn presign_part(&self, key: &str, upload_id: &str, part: u16) -> String {
        self.public
            .upload_part(Some(&self.creds), key, part, upload_id)
            .sign(self.expiry)
            .to_string()
    }

    /// `{storage}/{bucket}`: where browser-style POST uploads go.
    pub fn post_url(&self) -> String {
        self.public
            .base_url()
            .as_str()
            .trim_end_matches('/')
            .to_owned()
    }

    /// A SigV4 S3 POST policy for keys under `prefix` of `min..=max` bytes, valid for the
    /// presign lifetime: the form fields a client sends before its file, `key` first. (s3s
    /// does not substitute `${filename}`, so the key is given whole.) s3s checks the
    /// signature, expiry and every condition.
    pub fn post_policy(
        &self,
        prefix: &str,
        key: &str,
        min: u64,
        max: u64,
    ) -> Vec<(String, String)> {
        use base64::Engine as _;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let (amz_date, day) = crate::dates::amz_date(now);
        let expiration = crate::dates::iso8601(now + self.expiry.as_secs() as i64);
        let region = self.public.region();
        let credential = format!("{}/{day}/{region}/s3/aws4_request", self.creds.key());
        let bucket = self.public.name();
        let policy = serde_json::json!({
            "expiration": expiration,
            "conditions": [
                {"bucket": bucket},
                ["starts-with", "$key", prefix],
                {"acl": "private"},
                {"success_action_status": "201"},
                {"x-amz-server-side-encryption": "AES256"},
                ["content-length-range", min, max],
                {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
                {"x-amz-credential": credential},
                {"x-amz-date": amz_date},
            ]
        });
        let policy_b64 = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
        let signature = self.sign_policy(&day, &policy_b64);
        [
            ("key", key.to_owned()),
            ("acl", "private".into()),
            ("success_action_status", "201".into()),
            ("x-amz-server-side-encryption", "AES256".into()),
            ("x-amz-algorithm", "AWS4-HMAC-SHA256".into()),
            ("x-amz-credential", credential),
            ("x-amz-date", amz_date),
            ("policy", policy_b64),
            ("x-amz-signature", signature),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// SigV4 signature of a base64 POST policy for `day` (`YYYYMMDD`).
    pub fn sign_policy(&self, day: &str, policy_b64: &str) -> String {
        use hmac::Mac;
        type Hmac = hmac::Hmac<sha2::Sha256>;
        let mac = |key: &[u8], data: &str| {
            let mut m = Hmac::new_from_slice(key).expect("HMAC takes any key length");
            m.update(data.as_bytes());
            m.finalize().into_bytes().to_vec()
        };
        let k = mac(format!("AWS4{}", self.creds.secret()).as_bytes(), day);
        let k = mac(&k, self.public.region());
        let k = mac(&k, "s3");
        let k = mac(&k, "aws4_request");
        hex::encode(mac(&k, policy_b64))
    }

    /// The access key and bucket clients must name.
    pub fn access_key(&self) -> &str {
        self.creds.key()
    }
    pub fn bucket(&self) -> &str {
        self.public.name()
    }

    /// PutObject through the internal listener.
    pub async fn put(&self, key: &str, chunks: Vec<Bytes>) -> Result<(), StorageError> {
        let url = self
            .internal
            .put_object(Some(&self.creds), key)
            .sign(Duration::from_secs(600));
        let body = reqwest::Body::wrap_stream(futures::stream::iter(
            chunks.into_iter().map(Ok::<_, std::io::Error>),
        ));
        Self::check(self.http.put(url).body(body).send().await?).await?;
        Ok(())
    }

    /// Writes the objects `parts` joined, in order, as `key`, streamed
    /// through (BaseSpace's own 5 MB part minimum is not S3's 5 MiB, so its
    /// parts are plain objects joined here rather than an S3 multipart
    /// upload).
    pub async fn concat(&self, parts: &[String], key: &str) -> Result<(), StorageError> {
        let urls: Vec<url::Url> = parts
            .iter()
            .map(|p| {
                self.internal
                    .get_object(Some(&self.creds), p)
                    .sign(Duration::from_secs(600))
            })
            .collect();
        let http = self.http.clone();
        let body = futures::stream::iter(urls)
            .then(move |u| {
                let http = http.clone();
                async move {
                    http.get(u)
                        .send()
                        .await
                        .and_then(reqwest::Response::error_for_status)
                        .map(reqwest::Response::bytes_stream)
                }
            })
            .map(|r| match r {
                Ok(s) => s.boxed(),
                Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
            })
            .flatten();
        let url = self
            .internal
            .put_object(Some(&self.creds), key)
            .sign(Duration::from_secs(600));
        Self::check(
            self.http
                .put(url)
                .body(reqwest::Body::wrap_stream(body))
                .send()
                .await?,
        )
        .await?;
        Ok(())
    }

    pub async fn create_multipart(&self, key: &str) -> Result<String, StorageError> {
        let url = self
            .internal
            .create_multipart_upload(Some(&self.creds), key)
            .sign(Duration::from_secs(60));
        let resp = self.http.post(url).send().await?;
        let body = Self::ok_body(resp).await?;
        let parsed = rusty_s3::actions::CreateMultipartUpload::parse_response(&body)
            .map_err(|e| StorageError::Protocol(e.to_string()))?;
        Ok(parsed.upload_id().to_owned())
    }

    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        etags: &[String],
    ) -> Result<(), StorageError> {
        let action = self.internal.complete_multipart_upload(
            Some(&self.creds),
            key,
            upload_id,
            etags.iter().map(String::as_str),
        );
        let url = action.sign(Duration::from_secs(60));
        let body = action.body();
        let resp = self.http.post(url).body(body).send().await?;
        Self::ok_body(resp).await.map(|_| ())
    }

    /// DeleteObject (the garbage collection's); absent objects are fine.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let url = self
            .internal
            .delete_object(Some(&self.creds), key)
            .sign(Duration::from_secs(60));
        let resp = self.http.delete(url).send().await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Self::check(resp).await.map(|_| ())
    }

    /// Size of the object, or `None` if it does not exist.
    pub async fn head(&self, key: &str) -> Result<Option<u64>, StorageError> {
        let url = self
            .internal
            .head_object(Some(&self.creds), key)
            .sign(Duration::from_secs(60));
        let resp = self.http.head(url).send().await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(
                resp.headers()
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            )),
            s => Err(StorageError::S3 {
                status: s.as_u16(),
                code: "HeadObject".into(),
            }),
        }
    }

    /// Size and lowercase hex SHA-256 of the object, streamed through S3.
    pub async fn sha256(&self, key: &str) -> Result<Option<(u64, String)>, StorageError> {
        let url = self
            .internal
            .get_object(Some(&self.creds), key)
            .sign(Duration::from_secs(60));
        let resp = self.http.get(url).send().await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = Self::check(resp).await?;
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok(Some((size, hex::encode(hasher.finalize()))))
    }

    async fn check(resp: reqwest::Response) -> Result<reqwest::Response, StorageError> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        Err(StorageError::S3 {
            status,
            code: xml_code(&text).unwrap_or_else(|| "Unknown".into()),
        })
    }

    async fn ok_body(resp: reqwest::Response) -> Result<Bytes, StorageError> {
        Ok(Self::check(resp).await?.bytes().await?)
    }
}

/// The `<Code>` of an S3 XML error body.
fn xml_code(xml: &str) -> Option<String> {
    let start = xml.find("<Code>")? + "<Code>".len();
    let end = start + xml[start..].find("</Code>")?;
    Some(xml[start..end].to_owned())
}
