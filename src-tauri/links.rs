//! Which links the app opens in the desktop's browser: a sign-in page the
//! portal chose is `https` (or `http` on this machine's loopback, the demo
//! portal). It is handed to the OS opener (tauri-plugin-opener), never to a
//! shell, so `&` or `|` in it are only characters of a URL.

/// The link if the browser may open it, else why not.
pub fn openable(link: &str) -> Result<url::Url, String> {
    let refused =
        || format!("Ferry opens only https links (http only on this machine): not {link}");
    let u = url::Url::parse(link).map_err(|_| refused())?;
    match u.scheme() {
        "https" if u.host().is_some() => Ok(u),
        "http" if ferry_engine::guard::is_loopback(&u) => Ok(u),
        _ => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::openable;

    #[test]
    fn https_and_loopback_http_only() {
        assert!(openable("https://auth.example.org/device?code=AB&x=|calc").is_ok());
        assert!(openable("http://127.0.0.1:8080/device").is_ok());
        assert!(openable("http://[::1]:8080/device").is_ok());
        assert!(openable("http://localhost/device").is_ok());
        for bad in [
            "http://auth.example.org/device",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "cmd.exe /C calc",
            "ms-settings:",
            "",
        ] {
            let e = openable(bad).unwrap_err();
            assert!(e.contains("only https"), "{bad}: {e}");
        }
    }
}
