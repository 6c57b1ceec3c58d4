//! Typed errors, each saying whether trying again can help.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::scan::ScanReport;

/// How a caller should react to an error (the opendal idea: errors say
/// whether to retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Bad input found before anything was sent: fix the files or flags.
    Input,
    /// The portal does not accept the credentials: sign in again.
    Auth,
    /// The network failed; trying again may help.
    Network,
    /// The server refused the request for good (4xx other than auth).
    Rejected,
    /// The server failed or is overloaded (5xx, 429); trying again may help.
    Server,
    /// A local file could not be read, or changed during the upload.
    Local,
    /// The server answered something that breaks its own contract.
    Protocol,
    /// An upload link expired before its request started: the file goes
    /// again from its start under new links (not retried as it is).
    Expired,
    /// A successful answer whose body is not what the portal's API
    /// returns (its API changed, or something else answered): another try
    /// reads the same, so it is not retried.
    Undecodable,
    /// The job was cancelled.
    Cancelled,
}

/// Cheap to clone (io errors are shared): one failure that stops several
/// files is reported for each.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Input(ScanReport),

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: Arc<std::io::Error>,
    },

    #[error(
        "{}: the file changed while it was being uploaded ({what}); nothing was kept for it. Upload it again once it is no longer being written.",
        path.display()
    )]
    FileChanged { path: PathBuf, what: String },

    #[error("{host} did not accept the sign-in ({status}): {detail}")]
    Auth {
        host: String,
        status: u16,
        detail: String,
    },

    #[error("network error talking to {host}: {detail}")]
    Network { host: String, detail: String },

    /// No connection could be made at all (refused, unreachable, DNS,
    /// connect or TLS handshake timeout): the network, not the request,
    /// failed, so it is waited out (see `network`).
    #[error("cannot reach {host}: {detail}")]
    Unreachable { host: String, detail: String },
    /// TLS to `host` ended in a certificate no trusted root signed: not
    /// retried, since it will not change by itself.
    #[error(
        "the certificate of {host} is not trusted ({detail}). {}.",
        crate::net::UNTRUSTED_FIX
    )]
    Untrusted { host: String, detail: String },

    #[error("{host} failed ({status}): {detail}")]
    Server {
        host: String,
        status: u16,
        detail: String,
        retry_after: Option<Duration>,
    },

    #[error("{host} rejected the request ({status}): {detail}")]
    Rejected {
        host: String,
        status: u16,
        detail: String,
    },

    /// A presigned URL expired before its request started.
    #[error("{host} refused an expired upload link: {detail}")]
    Expired { host: String, detail: String },

    #[error("{host} broke the protocol: {detail}")]
    Protocol { host: String, detail: String },

    /// A success whose body is not the JSON expected (see
    /// [`ErrorClass::Undecodable`]).
    #[error(
        "{portal} at {host} answered {path} with something Ferry cannot read: {detail}. Not tried again, since it would read the same: check the portal's address (a proxy or another site may answer there), or update Ferry if the portal's API changed"
    )]
    Undecodable {
        portal: String,
        host: String,
        /// The URL's path only: a query may hold a credential.
        path: String,
        detail: String,
    },

    #[error("cannot write the journal {}: {detail}; free some disk space or check its permissions, then resume", path.display())]
    Journal { path: PathBuf, detail: String },

    /// Not a disk problem: a newer Ferry's journal, left untouched.
    #[error("the journal {} was written by a newer Ferry (schema {found}; this one knows up to {known}) and is left as it was: update Ferry, or set FERRY_JOURNAL to another file", path.display())]
    JournalTooNew {
        path: PathBuf,
        found: i64,
        known: usize,
    },

    #[error("cancelled")]
    Cancelled,
}

impl Error {
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Input(_) => ErrorClass::Input,
            Error::Io { .. }
            | Error::FileChanged { .. }
            | Error::Journal { .. }
            | Error::JournalTooNew { .. } => ErrorClass::Local,
            Error::Auth { .. } => ErrorClass::Auth,
            Error::Network { .. } | Error::Unreachable { .. } | Error::Untrusted { .. } => {
                ErrorClass::Network
            }
            Error::Server { .. } => ErrorClass::Server,
            Error::Rejected { .. } => ErrorClass::Rejected,
            Error::Expired { .. } => ErrorClass::Expired,
            Error::Protocol { .. } => ErrorClass::Protocol,
            Error::Undecodable { .. } => ErrorClass::Undecodable,
            Error::Cancelled => ErrorClass::Cancelled,
        }
    }

    /// Temporary failures that another attempt may cure. A lying server
    /// (`Protocol`) is retried too: a corrupted part is worth one more try.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.class(),
            ErrorClass::Network | ErrorClass::Server | ErrorClass::Protocol
        ) && !matches!(self, Error::Untrusted { .. })
    }

    /// The server's own `Retry-After`, when it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The same error, its detail led by the file (and part) it stopped, so
    /// a message read alone (CLI line, log) says which file to look at.
    /// Sign-in errors stay as they are: they concern the session, not a file.
    pub(crate) fn about_file(self, path: &std::path::Path, part: Option<u32>) -> Self {
        let shown = path.display().to_string();
        let lead = |detail: String| {
            if detail.contains(&shown) {
                detail
            } else if let Some(p) = part {
                format!("{shown} (part {p}): {detail}")
            } else {
                format!("{shown}: {detail}")
            }
        };
        match self {
            Error::Network { host, detail } => Error::Network {
                host,
                detail: lead(detail),
            },
            Error::Unreachable { host, detail } => Error::Unreachable {
                host,
                detail: lead(detail),
            },
            Error::Server {
                host,
                status,
                detail,
                retry_after,
            } => Error::Server {
                host,
                status,
                detail: lead(detail),
                retry_after,
            },
            Error::Rejected {
                host,
                status,
                detail,
            } => Error::Rejected {
                host,
                status,
                detail: lead(detail),
            },
            Error::Expired { host, detail } => Error::Expired {
                host,
                detail: lead(detail),
            },
            Error::Protocol { host, detail } => Error::Protocol {
                host,
                detail: lead(detail),
            },
            e => e,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }

    /// A success from `portal` at `url` whose body could not be read as
    /// the expected answer (`detail`: what and why). The message shows the
    /// URL's path, never its query, and the start of the body.
    pub(crate) fn undecodable(portal: &str, url: &str, detail: String, body: &[u8]) -> Self {
        let path = url::Url::parse(url)
            .map(|u| u.path().to_string())
            .unwrap_or_else(|_| "its API".into());
        let start: String = String::from_utf8_lossy(body).chars().take(200).collect();
        Error::Undecodable {
            portal: portal.into(),
            host: host_of(url),
            path,
            detail: if start.trim().is_empty() {
                format!("{detail}; the body was empty")
            } else {
                format!("{detail}; it began: {}", start.trim())
            },
        }
    }
}

/// The message of an error body (`message`, `detail`, then the portal's
/// own places for it, as JSON pointers in `also`), else the body, shortened.
pub(crate) fn body_message(body: &str, also: &[&str]) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    ["/message", "/detail"]
        .iter()
        .chain(also)
        .find_map(|at| v.pointer(at).and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| body.trim().chars().take(200).collect())
}

/// Sends a start request whose body the portal refuses only after it
/// checked the credential (neither One Codex nor BaseSpace has a "who am I"
/// call): its status and message (see [`body_message`] for `also`), or why
/// it did not arrive.
pub(crate) async fn probe(
    req: reqwest::RequestBuilder,
    url: &str,
    also: &[&str],
) -> Result<(u16, String), Error> {
    let resp = req.send().await.map_err(|e| from_reqwest(url, e))?;
    let status = resp.status().as_u16();
    Ok((
        status,
        body_message(&crate::guard::error_text(resp).await, also),
    ))
}

/// The host part of a URL, for messages that must never show a full
/// presigned URL (its query is a credential).
pub fn host_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => "the server".into(),
        },
        Err(_) => "the server".into(),
    }
}

/// Map a transport error from reqwest to ours.
pub(crate) fn from_reqwest(url: &str, e: reqwest::Error) -> Error {
    if let Some((status, detail)) = crate::guard::refused_redirect(&e) {
        return Error::Rejected {
            host: host_of(url),
            status,
            detail,
        };
    }
    // reqwest's Display includes the URL; strip it so no presigned query
    // string reaches a log or the UI.
    let e = e.without_url();
    let mut detail = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        src = s.source();
    }
    if crate::net::is_untrusted(&detail) {
        return Error::Untrusted {
            host: host_of(url),
            detail,
        };
    }
    // No connection at all: the network is down, not the request wrong.
    if e.is_connect() {
        return Error::Unreachable {
            host: host_of(url),
            detail,
        };
    }
    Error::Network {
        host: host_of(url),
        detail,
    }
}

/// Classify a non-success HTTP status with the body text the server sent.
pub(crate) fn from_status(
    url: &str,
    status: u16,
    detail: String,
    retry_after: Option<Duration>,
) -> Error {
    from_status_worded(url, status, detail, retry_after, AuthWording::default())
}

/// A portal's own words for the statuses about its sign-in; which class a
/// status is stays decided in [`from_status_worded`], for every portal.
#[derive(Debug, Default)]
pub(crate) struct AuthWording {
    /// The detail of a 401 (what to do about the credential).
    pub unauthorized: Option<String>,
    /// Given, a 403 is about the account (it may not do this: a group, an
    /// AppResult), so a sign-in problem with this detail, not a refusal.
    pub forbidden: Option<String>,
}

/// [`from_status`], in a portal's words for its sign-in statuses.
pub(crate) fn from_status_worded(
    url: &str,
    status: u16,
    detail: String,
    retry_after: Option<Duration>,
    words: AuthWording,
) -> Error {
    let host = host_of(url);
    match status {
        401 => Error::Auth {
            host,
            status,
            detail: match words.unauthorized {
                Some(d) => d,
                None if detail.is_empty() => {
                    "the sign-in is missing, invalid or expired; sign in again".into()
                }
                None => detail,
            },
        },
        403 if words.forbidden.is_some() => Error::Auth {
            host,
            status,
            detail: words.forbidden.unwrap_or_default(),
        },
        408 | 429 | 500..=599 => Error::Server {
            host,
            status,
            detail,
            retry_after,
        },
        _ => Error::Rejected {
            host,
            status,
            detail,
        },
    }
}

/// The longest a server's `Retry-After` makes Ferry wait: a hostile or
/// broken server must not park an upload for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(10 * 60);

/// Read `Retry-After` (seconds or an HTTP date), capped at [`MAX_RETRY_AFTER`].
pub(crate) fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let wait = if let Ok(secs) = v.trim().parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let when = httpdate::parse_http_date(v).ok()?;
        when.duration_since(std::time::SystemTime::now()).ok()?
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses() {
        let u = "http://127.0.0.1:9/x?X-Amz-Signature=secret";
        assert_eq!(
            from_status(u, 401, "".into(), None).class(),
            ErrorClass::Auth
        );
        assert!(from_status(u, 503, "".into(), None).is_retryable());
        assert!(from_status(u, 429, "".into(), None).is_retryable());
        assert!(!from_status(u, 400, "".into(), None).is_retryable());
        assert!(!from_status(u, 403, "".into(), None).is_retryable());
        assert!(!from_status(u, 422, "".into(), None).is_retryable());
        let msg = from_status(u, 500, "boom".into(), None).to_string();
        assert!(!msg.contains("Signature"), "{msg}");
        assert!(msg.contains("127.0.0.1:9"));
    }

    #[test]
    fn parses_retry_after_seconds() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "18446744073709551615".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Fri, 31 Dec 9999 23:59:59 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(reqwest::header::RETRY_AFTER, "-5".parse().unwrap());
        assert_eq!(parse_retry_after(&h), None);
    }

    #[test]
    fn parses_retry_after_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        let when = std::time::SystemTime::now() + Duration::from_secs(30);
        h.insert(
            reqwest::header::RETRY_AFTER,
            httpdate::fmt_http_date(when).parse().unwrap(),
        );
        let d = parse_retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(28) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        // A date in the past asks for no wait.
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&h), None);
    }

    #[test]
    fn a_file_error_names_the_file_once() {
        let p = std::path::Path::new("/data/run1/s1_R1.fastq.gz");
        let e = from_status("http://h/x", 400, "InvalidRequest".into(), None)
            .about_file(p, Some(3))
            .about_file(p, None);
        let msg = e.to_string();
        assert_eq!(msg.matches("s1_R1.fastq.gz").count(), 1, "{msg}");
        assert!(msg.contains("(part 3)"), "{msg}");
        assert_eq!(e.class(), ErrorClass::Rejected);
        let auth = from_status("http://h/x", 401, "".into(), None).about_file(p, None);
        assert!(!auth.to_string().contains("s1_R1"), "{auth}");
    }
}
