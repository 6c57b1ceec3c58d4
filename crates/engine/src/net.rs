//! How Ferry reaches portals from institutional networks. Certificates:
//! the OS trust store (where a hospital's TLS-inspecting proxy installs
//! its CA) as well as the built-in Mozilla roots (reqwest's
//! `rustls-tls-native-roots` and `rustls-tls-webpki-roots`). Proxies:
//! `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY` and the OS settings
//! (Windows registry, macOS System Configuration; reqwest's
//! `system-proxy`), unless an explicit proxy is set here (the CLI's
//! `--proxy`, the app's setting, the config file), which then carries
//! every connection except those `NO_PROXY` names.

use std::sync::RwLock;

use crate::Error;

static PROXY: RwLock<Option<reqwest::Proxy>> = RwLock::new(None);

/// Sets (or with `None`, clears) the explicit proxy of every HTTP client
/// built afterwards. `url` is `http://host:port` (or `https://`,
/// `socks5://`), with `user:password@` if the proxy asks for one.
pub fn set_proxy(url: Option<&str>) -> Result<(), Error> {
    let proxy = match url.map(str::trim).filter(|u| !u.is_empty()) {
        None => None,
        Some(u) => Some(proxy(u)?),
    };
    *PROXY.write().unwrap_or_else(|e| e.into_inner()) = proxy;
    Ok(())
}

/// Checks a proxy URL as `set_proxy` would take it.
pub fn proxy(u: &str) -> Result<reqwest::Proxy, Error> {
    let bad = |why: String| Error::Protocol {
        host: "the proxy setting".into(),
        detail: format!("{why}; write it as http://host:port"),
    };
    let parsed = url::Url::parse(u).map_err(|e| bad(format!("{u:?} is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https" | "socks5" | "socks5h")
        || parsed.host().is_none()
    {
        return Err(bad(format!("{u:?} is not a proxy URL")));
    }
    let p = reqwest::Proxy::all(u).map_err(|e| bad(format!("{u:?}: {e}")))?;
    Ok(p.no_proxy(reqwest::NoProxy::from_env()))
}

/// The explicit proxy added to a client builder; without one reqwest
/// reads the environment and the OS settings itself.
pub(crate) fn apply(b: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    match PROXY.read().unwrap_or_else(|e| e.into_inner()).clone() {
        Some(p) => b.proxy(p),
        None => b,
    }
}

/// rustls' words for a certificate chain that ends in no trusted root.
pub(crate) fn is_untrusted(detail: &str) -> bool {
    detail.contains("invalid peer certificate")
}

/// What to do when a server's certificate is not trusted here.
pub(crate) const UNTRUSTED_FIX: &str = "If your network inspects TLS (common in hospitals and universities), install its CA certificate in the system's trust store (Debian/Ubuntu: copy it to /usr/local/share/ca-certificates/ and run update-ca-certificates; Windows and macOS: ask IT to deploy it); Ferry trusts that store and the usual public roots";

#[cfg(test)]
mod tests {
    #[test]
    fn proxy_urls_are_checked() {
        assert!(super::proxy("http://proxy.example.org:3128").is_ok());
        assert!(super::proxy("http://user:pw@10.0.0.1:8080").is_ok());
        for bad in ["proxy:3128", "ftp://proxy:21", "", "http://"] {
            let e = super::proxy(bad).unwrap_err().to_string();
            assert!(e.contains("http://host:port"), "{bad}: {e}");
        }
    }
}
