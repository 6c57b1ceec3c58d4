//! The app's own demo portal is reachable by every program on the machine
//! (and by web pages, through DNS rebinding): in that instance there are no
//! `/_sim/*` control routes, every user signs in with one fresh random
//! password that only the app knows, and requests must name a loopback
//! host. Tests' simulators keep the fixed demo accounts and the controls.

use axum::http::{Request, header};

/// The password every user has in an app instance: 128 random bits.
pub(crate) fn fresh_password() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}

/// Whether `pass` is `user`'s password here.
pub(crate) fn password_ok(app_password: Option<&str>, fixed: &str, pass: &str) -> bool {
    match app_password {
        Some(p) => !pass.is_empty() && p == pass,
        None => fixed == pass,
    }
}

/// A request is for this server only if its Host (or HTTP/2 authority)
/// is a loopback name: a web page that rebinds its own name to
/// 127.0.0.1 sends its own name, and is refused.
pub(crate) fn loopback_host<B>(req: &Request<B>) -> bool {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    let Some(host) = host else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((n, port)) if port.chars().all(|c| c.is_ascii_digit()) => n,
        _ => host.as_str(),
    };
    matches!(
        name.to_ascii_lowercase().as_str(),
        "127.0.0.1" | "localhost" | "[::1]"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_host(h: &str) -> Request<()> {
        Request::builder().header(header::HOST, h).body(()).unwrap()
    }

    #[test]
    fn only_loopback_hosts_pass() {
        assert!(loopback_host(&with_host("127.0.0.1:8080")));
        assert!(loopback_host(&with_host("localhost:1")));
        assert!(loopback_host(&with_host("[::1]:1")));
        assert!(!loopback_host(&with_host("evil.example:8080")));
        assert!(!loopback_host(&with_host("127.0.0.1.evil.example")));
        assert!(!loopback_host(&Request::new(())));
    }

    #[test]
    fn the_app_password_replaces_the_fixed_ones() {
        let p = fresh_password();
        assert_eq!(p.len(), 32);
        assert_ne!(p, fresh_password());
        assert!(password_ok(Some(&p), "demo", &p));
        assert!(!password_ok(Some(&p), "demo", "demo"));
        assert!(!password_ok(Some(""), "demo", ""));
        assert!(password_ok(None, "demo", "demo"));
    }
}
