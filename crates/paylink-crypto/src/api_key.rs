//! API keys. A plaintext key (`sk_test_…`) is shown once and never stored;
//! the store keeps only its hash: HMAC-SHA256 with a server pepper derived
//! from the master key. Keys carry 192 bits of entropy, so a fast keyed hash
//! is enough and lookup by hash is O(1) through a unique index.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Test,
    Live,
}

impl Mode {
    pub fn livemode(self) -> bool {
        self == Mode::Live
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "test" => Some(Mode::Test),
            "live" => Some(Mode::Live),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyKind {
    /// `sk_…`: everything in its mode.
    Secret,
    /// `rk_…`: a permission per resource.
    Restricted,
    /// `pk_…`: only what a public page may do.
    Publishable,
}

impl ApiKeyKind {
    pub const ALL: [ApiKeyKind; 3] = [
        ApiKeyKind::Secret,
        ApiKeyKind::Restricted,
        ApiKeyKind::Publishable,
    ];
    pub fn prefix(self) -> &'static str {
        match self {
            ApiKeyKind::Secret => "sk",
            ApiKeyKind::Restricted => "rk",
            ApiKeyKind::Publishable => "pk",
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyKind::Secret => "secret",
            ApiKeyKind::Restricted => "restricted",
            ApiKeyKind::Publishable => "publishable",
        }
    }
    pub fn parse(s: &str) -> Option<ApiKeyKind> {
        ApiKeyKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A key as the merchant holds it. Only exists between generation and the
/// one time it is shown, or while an incoming request is authenticated.
pub struct PlaintextApiKey(Secret<String>);

impl std::fmt::Debug for PlaintextApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlaintextApiKey([REDACTED])")
    }
}

/// The stored form of a key: 32 bytes of HMAC, hex-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyHash(pub String);

const RANDOM_LEN: usize = 32;
const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RngError;

impl PlaintextApiKey {
    /// A fresh key: `sk_test_` + 32 base62 characters (190 bits) drawn by
    /// rejection sampling, so every character is uniform.
    pub fn generate(kind: ApiKeyKind, mode: Mode) -> Result<Self, RngError> {
        let mut out = String::with_capacity(8 + RANDOM_LEN);
        out.push_str(kind.prefix());
        out.push('_');
        out.push_str(mode.as_str());
        out.push('_');
        let mut n = 0;
        while n < RANDOM_LEN {
            let mut buf = [0u8; 64];
            getrandom::fill(&mut buf).map_err(|_| RngError)?;
            for b in buf {
                // 248 = 4 * 62: values above are rejected to avoid bias.
                if b < 248 && n < RANDOM_LEN {
                    if let Some(c) = ALPHABET.get(usize::from(b % 62)) {
                        out.push(char::from(*c));
                        n += 1;
                    }
                }
            }
        }
        Ok(Self(Secret::new(out)))
    }

    /// Wraps a key presented by a client, if it has a plausible shape.
    pub fn parse(presented: &str) -> Option<Self> {
        let ok = presented.len() <= 128
            && ApiKeyKind::ALL.iter().any(|k| {
                let p = k.prefix();
                presented
                    .strip_prefix(p)
                    .is_some_and(|r| r.starts_with("_test_") || r.starts_with("_live_"))
            })
            && presented
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        ok.then(|| Self(Secret::new(presented.to_string())))
    }

    /// The mode the key's prefix claims. The stored row is authoritative.
    pub fn mode(&self) -> Mode {
        if self.0.expose().get(2..8) == Some("_live_") {
            Mode::Live
        } else {
            Mode::Test
        }
    }

    /// The last four characters, safe to show to identify a key.
    pub fn last4(&self) -> String {
        let s = self.0.expose();
        s.get(s.len().saturating_sub(4)..).unwrap_or("").to_string()
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// HMAC-SHA256(pepper, key).
    pub fn hash(&self, pepper: &Secret<Vec<u8>>) -> ApiKeyHash {
        // HMAC accepts keys of any length, so new_from_slice cannot fail.
        match Hmac::<Sha256>::new_from_slice(pepper.expose()) {
            Ok(mut mac) => {
                mac.update(self.0.expose().as_bytes());
                ApiKeyHash(crate::hex(&mac.finalize().into_bytes()))
            }
            Err(_) => ApiKeyHash(String::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_entropy() -> Result<(), RngError> {
        let k = PlaintextApiKey::generate(ApiKeyKind::Secret, Mode::Test)?;
        assert!(k.expose().starts_with("sk_test_"));
        assert_eq!(k.expose().len(), 8 + RANDOM_LEN);
        assert_eq!(k.mode(), Mode::Test);
        let l = PlaintextApiKey::generate(ApiKeyKind::Secret, Mode::Live)?;
        assert_eq!(l.mode(), Mode::Live);
        let r = PlaintextApiKey::generate(ApiKeyKind::Restricted, Mode::Live)?;
        assert!(r.expose().starts_with("rk_live_"));
        assert_eq!(r.mode(), Mode::Live);
        let p = PlaintextApiKey::generate(ApiKeyKind::Publishable, Mode::Test)?;
        assert!(p.expose().starts_with("pk_test_"));
        assert_ne!(
            k.expose(),
            PlaintextApiKey::generate(ApiKeyKind::Secret, Mode::Test)?.expose()
        );
        assert!(!format!("{k:?}").contains(&k.expose()[8..]));
        Ok(())
    }

    #[test]
    fn hash_is_keyed_and_stable() -> Result<(), RngError> {
        let k = PlaintextApiKey::generate(ApiKeyKind::Secret, Mode::Test)?;
        let p1 = Secret::new(vec![1u8; 32]);
        let p2 = Secret::new(vec![2u8; 32]);
        assert_eq!(k.hash(&p1), k.hash(&p1));
        assert_ne!(k.hash(&p1), k.hash(&p2));
        assert_eq!(k.hash(&p1).0.len(), 64);
        Ok(())
    }

    #[test]
    fn parse_rejects_odd_shapes() {
        assert!(PlaintextApiKey::parse("sk_test_abc").is_some());
        assert!(PlaintextApiKey::parse("pk_test_abc").is_some());
        assert!(PlaintextApiKey::parse("rk_live_abc").is_some());
        assert!(PlaintextApiKey::parse("xk_test_abc").is_none());
        assert!(PlaintextApiKey::parse("sk_prod_abc").is_none());
        assert!(PlaintextApiKey::parse("sk_test_a b").is_none());
        assert!(PlaintextApiKey::parse(&format!("sk_test_{}", "a".repeat(200))).is_none());
    }
}
