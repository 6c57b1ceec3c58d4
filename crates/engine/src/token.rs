//! Where bearer tokens come from. The keychain is one more source later;
//! the engine only ever asks a `TokenSource`.

use std::fmt;

use zeroize::Zeroizing;

/// A secret that never prints itself and is wiped from memory when
/// dropped (each clone too), so it stays out of core dumps and swap.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(Zeroizing::new(s.into()))
    }
    /// The raw value, for the one header that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Every field wipes itself on drop (`Zeroizing`), so `Secret` does too.
impl zeroize::ZeroizeOnDrop for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Gives the current access token; may refresh it (Keycloak, keychain).
#[async_trait::async_trait]
pub trait TokenSource: Send + Sync {
    async fn token(&self) -> Result<Secret, crate::Error>;
    /// Called after the portal answered 401 with `rejected`: a source that
    /// can refresh does so and returns true to have the request tried again.
    async fn invalidate(&self, _rejected: &Secret) -> bool {
        false
    }
}

/// A token given once (flag, environment, standard input).
pub struct StaticToken(Secret);

impl StaticToken {
    pub fn new(token: impl Into<String>) -> Self {
        let raw = Zeroizing::new(token.into());
        StaticToken(Secret::new(raw.trim()))
    }
}

#[async_trait::async_trait]
impl TokenSource for StaticToken {
    async fn token(&self) -> Result<Secret, crate::Error> {
        Ok(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_wiped_when_dropped() {
        fn wiped<T: zeroize::ZeroizeOnDrop>() {}
        wiped::<Secret>();
    }

    #[tokio::test]
    async fn secrets_do_not_print() {
        let s = Secret::new("abc123");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(
            StaticToken::new(" t \n").token().await.unwrap().expose(),
            "t"
        );
    }
}
