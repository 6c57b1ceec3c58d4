//! Where a Loculus instance's website is (it serves `/loculus-info`, the
//! organisms and their file categories): one rule for both front-ends.

/// Where a real instance's website usually is: Loculus' Helm chart puts
/// the backend at `backend.<host>` (or `backend-<host>`), the website at
/// `<host>`. Otherwise the backend's own address (as the simulator serves).
pub fn default_website(backend: &str) -> String {
    let b = backend.trim_end_matches('/');
    let Some((scheme, rest)) = b.split_once("://") else {
        return b.to_string();
    };
    let host = rest.split('/').next().unwrap_or_default();
    match host
        .strip_prefix("backend.")
        .or_else(|| host.strip_prefix("backend-"))
    {
        Some(site) if !site.is_empty() => format!("{scheme}://{site}"),
        _ => b.to_string(),
    }
}

/// The website to read: the one given (`--website`, the settings), else
/// `$FERRY_WEBSITE`, else [`default_website`] of the backend.
pub fn website(given: Option<&str>, backend: &str) -> String {
    given
        .map(str::to_string)
        .or_else(|| std::env::var("FERRY_WEBSITE").ok())
        .map(|w| w.trim().trim_end_matches('/').to_string())
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| default_website(backend))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_website_is_the_backend_without_its_backend_prefix() {
        let w = default_website;
        assert_eq!(
            w("https://backend.pathoplexus.org/"),
            "https://pathoplexus.org"
        );
        assert_eq!(
            w("https://backend-main.loculus.org/api"),
            "https://main.loculus.org"
        );
        assert_eq!(w("http://127.0.0.1:8079"), "http://127.0.0.1:8079");
        assert_eq!(
            website(Some("https://site.example/"), "https://backend.x.org"),
            "https://site.example"
        );
    }
}
