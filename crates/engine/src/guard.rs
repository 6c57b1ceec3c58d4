//! What Ferry checks before it trusts an address or an answer: `https`
//! only (plain `http` for loopback, or when the user allowed it), no
//! redirects with credentials, sign-in links on the issuer's host, and
//! answers read up to a cap. A typo or a hostile server then costs an
//! error message, never a credential in clear or the machine's memory.

use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use serde::de::DeserializeOwned;

use crate::Error;
use crate::error::{from_reqwest, host_of};

/// Set once at start by `--allow-http` / the app's setting: one switch for
/// the process, so every portal, sign-in and upload link obeys it alike.
static ALLOW_HTTP: AtomicBool = AtomicBool::new(false);

/// Allow plain `http` to any host (a test server the user trusts).
pub fn allow_http(on: bool) {
    ALLOW_HTTP.store(on, Ordering::SeqCst);
}

/// Whether plain `http` to other hosts than loopback was allowed.
pub fn http_allowed() -> bool {
    ALLOW_HTTP.load(Ordering::SeqCst)
}

/// JSON answers larger than this are refused: the biggest real one (a
/// presign answer for a full batch) is a few MB.
pub const JSON_CAP: usize = 32 << 20;
/// Error bodies are only shown, shortened: read no more than this.
pub const ERROR_BODY_CAP: usize = 64 << 10;

/// `scheme://host[:port]/path` without the query (a presigned query is a
/// credential) and without any user:password.
pub fn shown(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(p) => format!("{}://{host}:{p}{}", url.scheme(), url.path()),
        None => format!("{}://{host}{}", url.scheme(), url.path()),
    }
}

/// `localhost`, 127.0.0.0/8 or `::1`: this machine (the demo portal,
/// ferry-sim), where plain http leaves nothing on the network.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    }
}

/// `url` if Ferry may send credentials or reads to it: `https`, or `http`
/// to loopback or with `--allow-http`. `what` names it in the error
/// ("the Loculus backend", "an upload link").
pub fn check_url(url: &str, what: &str) -> Result<url::Url, Error> {
    let refuse = |host: String, detail: String| Error::Rejected {
        host,
        status: 0,
        detail,
    };
    let parsed = url::Url::parse(url.trim()).map_err(|e| {
        refuse(
            "ferry".into(),
            format!("{what} {:?} is not a URL ({e})", clip(url)),
        )
    })?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(refuse(
            "ferry".into(),
            format!("{what} {:?} names no host", clip(url)),
        ));
    }
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) || http_allowed() => Ok(parsed),
        "http" => Err(refuse(
            host_of(url),
            format!(
                "{what} {} uses plain http://, which would send the sign-in and the files in clear: use https://, or pass --allow-http (the app: Settings → Allow plain HTTP) only for a test server you trust",
                shown(&parsed)
            ),
        )),
        other => Err(refuse(
            host_of(url),
            format!(
                "{what} {} is a {other}: address; Ferry talks to portals over https:// only",
                shown(&parsed)
            ),
        )),
    }
}

fn clip(s: &str) -> String {
    s.chars().take(120).collect()
}

/// Why a request stopped at a redirect (found in reqwest's error chain).
#[derive(Debug)]
pub struct RedirectRefused {
    pub status: u16,
    pub to: String,
}

impl std::fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server answered {} pointing to {}; Ferry does not follow redirects with credentials: if that is the portal's real address, give it instead",
            self.status, self.to
        )
    }
}

impl std::error::Error for RedirectRefused {}

/// The client's redirect policy: none. reqwest would otherwise carry
/// BaseSpace's `x-access-token` and re-post a password form (307/308) to
/// whatever host a 30x names.
pub fn no_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let refused = RedirectRefused {
            status: attempt.status().as_u16(),
            to: shown(attempt.url()),
        };
        attempt.error(refused)
    })
}

/// The refused redirect in a reqwest error's chain, if that is what it is.
pub(crate) fn refused_redirect(e: &reqwest::Error) -> Option<(u16, String)> {
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(r) = s.downcast_ref::<RedirectRefused>() {
            return Some((r.status, r.to_string()));
        }
        src = s.source();
    }
    None
}

/// Accept a device sign-in link only if it is `https` on the Keycloak's
/// host or on a host its discovery document named (`named`): a hostile
/// token endpoint must not get the browser to open anything else.
pub fn check_sign_in_link(link: &str, keycloak: &str, named: &[&str]) -> Result<(), Error> {
    let refuse = |detail: String| Error::Rejected {
        host: host_of(keycloak),
        status: 0,
        detail,
    };
    let Ok(u) = url::Url::parse(link.trim()) else {
        return Err(refuse(format!(
            "the sign-in link {:?} is not a URL; it is not opened",
            clip(link)
        )));
    };
    let origin = |s: &str| {
        url::Url::parse(s).ok().and_then(|u| {
            u.host_str()
                .map(|h| (h.to_ascii_lowercase(), u.port_or_known_default()))
        })
    };
    let mine = (
        u.host_str().unwrap_or("").to_ascii_lowercase(),
        u.port_or_known_default(),
    );
    let trusted = std::iter::once(keycloak)
        .chain(named.iter().copied())
        .filter_map(origin)
        .any(|o| o == mine);
    let https =
        u.scheme() == "https" || (u.scheme() == "http" && (is_loopback(&u) || http_allowed()));
    if !https || !trusted {
        return Err(refuse(format!(
            "the sign-in link {} is not an https:// page of the sign-in server {}; it is not opened",
            shown(&u),
            host_of(keycloak)
        )));
    }
    Ok(())
}

/// The body, refused past `cap` bytes (read as it arrives, never whole).
pub async fn body_capped(
    mut resp: reqwest::Response,
    url: &str,
    cap: usize,
) -> Result<Bytes, Error> {
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_big(url, cap));
    }
    let mut buf = BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| from_reqwest(url, e))? {
        if buf.len() + chunk.len() > cap {
            return Err(too_big(url, cap));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn too_big(url: &str, cap: usize) -> Error {
    Error::Protocol {
        host: host_of(url),
        detail: format!(
            "its answer is larger than {} MiB, far beyond any real answer; not read",
            cap.div_ceil(1 << 20)
        ),
    }
}

/// A JSON answer, capped at [`JSON_CAP`].
pub async fn json_capped<T: DeserializeOwned>(
    resp: reqwest::Response,
    url: &str,
    what: &str,
) -> Result<T, Error> {
    let bytes = body_capped(resp, url, JSON_CAP).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::undecodable(
            "the sign-in server",
            url,
            format!("unreadable {what}: {e}"),
            &bytes,
        )
    })
}

/// An error body as text, cut at [`ERROR_BODY_CAP`] (empty if unreadable).
pub async fn error_text(mut resp: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = ERROR_BODY_CAP - buf.len();
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if buf.len() >= ERROR_BODY_CAP {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_everywhere_http_only_on_loopback() {
        assert!(check_url("https://backend.example.org", "the backend").is_ok());
        assert!(check_url("http://127.0.0.1:8080/x", "the backend").is_ok());
        assert!(check_url("http://[::1]:8080/x", "the backend").is_ok());
        assert!(check_url("http://localhost:8080", "the backend").is_ok());
        let e = check_url(
            "http://backend.example.org/api?X-Amz-Signature=s",
            "the backend",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("plain http://") && e.contains("--allow-http"),
            "{e}"
        );
        assert!(!e.contains("Signature"), "{e}");
        let e = check_url("ftp://backend.example.org", "the backend").unwrap_err();
        assert!(e.to_string().contains("https:// only"), "{e}");
        assert!(check_url("https://", "the backend").is_err());
        assert!(check_url("not a url", "the backend").is_err());
    }

    #[test]
    fn sign_in_links_only_on_the_issuers_host() {
        let kc = "https://auth.example.org";
        let ok = "https://auth.example.org/realms/loculus/device?user_code=AB";
        assert!(check_sign_in_link(ok, kc, &[]).is_ok());
        assert!(check_sign_in_link("https://AUTH.example.org:443/x", kc, &[]).is_ok());
        for bad in [
            "https://evil.example/phish",
            "http://auth.example.org/device",
            "https://auth.example.org.evil.example/",
            "https://auth.example.org:8443/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "--help",
        ] {
            let e = check_sign_in_link(bad, kc, &[]).unwrap_err().to_string();
            assert!(e.contains("not opened"), "{bad}: {e}");
        }
        // A host the discovery document named is trusted too.
        assert!(
            check_sign_in_link(
                "https://login.example.org/d",
                kc,
                &["https://login.example.org/t"]
            )
            .is_ok()
        );
    }
}
