//! Prefixed random identifiers: `prod_` followed by 128 bits from the OS
//! CSPRNG, in base62 (22 characters).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    Account,
    Product,
    Price,
    PaymentLink,
    PromotionCode,
    Coupon,
    CheckoutSession,
    PaymentIntent,
    Refund,
    Customer,
    Event,
    WebhookEndpoint,
    ApiKey,
    LineItem,
    AuditEntry,
    User,
    DashboardSession,
    File,
    Invitation,
}

impl IdKind {
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Account => "acct_",
            IdKind::Product => "prod_",
            IdKind::Price => "price_",
            IdKind::PaymentLink => "plink_",
            IdKind::PromotionCode => "promo_",
            IdKind::Coupon => "coupon_",
            IdKind::CheckoutSession => "cs_",
            IdKind::PaymentIntent => "pi_",
            IdKind::Refund => "re_",
            IdKind::Customer => "cus_",
            IdKind::Event => "evt_",
            IdKind::WebhookEndpoint => "we_",
            IdKind::ApiKey => "key_",
            IdKind::LineItem => "li_",
            IdKind::AuditEntry => "audit_",
            IdKind::User => "usr_",
            IdKind::DashboardSession => "dses_",
            IdKind::File => "file_",
            IdKind::Invitation => "inv_",
        }
    }
}

/// A generated identifier.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Id(String);

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Number of base62 digits needed for 128 bits (62^22 > 2^128).
pub const RANDOM_CHARS: usize = 22;

#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RngError;

/// Fills a buffer from the OS CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RngError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| RngError)?;
    Ok(b)
}

/// Encodes 128 bits as exactly 22 base62 characters.
pub fn base62_128(mut v: u128) -> String {
    let mut out = [b'0'; RANDOM_CHARS];
    for slot in out.iter_mut().rev() {
        // `v % 62` is < 62, so the index is in range.
        let digit = (v % 62) as usize;
        *slot = ALPHABET.get(digit).copied().unwrap_or(b'0');
        v /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Id {
    /// A new id of `kind` with 128 bits of entropy.
    pub fn generate(kind: IdKind) -> Result<Self, RngError> {
        let v = u128::from_le_bytes(random_bytes::<16>()?);
        Ok(Id(format!("{}{}", kind.prefix(), base62_128(v))))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
    /// Whether `s` looks like an id of `kind` (prefix and a plausible body).
    pub fn looks_like(kind: IdKind, s: &str) -> bool {
        s.strip_prefix(kind.prefix()).is_some_and(|rest| {
            !rest.is_empty()
                && rest.len() <= 64
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn prefixed_and_long_enough() -> Result<(), RngError> {
        let id = Id::generate(IdKind::Product)?;
        assert!(id.as_str().starts_with("prod_"));
        assert_eq!(id.as_str().len(), "prod_".len() + RANDOM_CHARS);
        assert!(Id::looks_like(IdKind::Product, id.as_str()));
        assert!(!Id::looks_like(IdKind::Price, id.as_str()));
        Ok(())
    }

    #[test]
    fn base62_covers_128_bits() {
        assert_eq!(base62_128(0), "0".repeat(22));
        let max = base62_128(u128::MAX);
        assert_eq!(max.len(), 22);
        assert_ne!(max, "z".repeat(22));
    }

    #[test]
    fn ids_do_not_repeat() -> Result<(), RngError> {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(Id::generate(IdKind::Coupon)?.into_string()));
        }
        Ok(())
    }
}
