//! Prefixed random identifiers: `prod_` followed by 128 bits from the OS
//! CSPRNG, in base62 (22 characters).

use std::fmt;
use std::marker::PhantomData;

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
/// An object with ids of its own: the prefix of the ids paylink makes for
/// it, and the name Stripe's errors call it by ("No such product").
pub trait Object {
    const KIND: IdKind;
    const NAME: &'static str;
    /// Whether `s` can be the id of such an object. Objects whose ids a
    /// merchant may choose (products, coupons) accept those as well.
    fn accepts(s: &str) -> bool {
        looks_like(Self::KIND, s)
    }
}

/// The id of an object of kind `T`, checked to be one where it enters
/// (an API path, a command's parameter): a price's id can't be passed
/// where a product's is wanted, and a malformed one never reaches a query.
/// It derefs to `&str` for the store, which keeps ids as text.
pub struct Id<T: Object>(String, PhantomData<fn() -> T>);

/// A value that is not an id of the object it was meant for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("No such {object}: '{value}'")]
pub struct NotAnId {
    pub object: &'static str,
    pub value: String,
}

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

/// 128 random bits for a value made on every request (a request id, a
/// page's CSP nonce): from the thread's CSPRNG (rand's `ThreadRng`,
/// ChaCha12 seeded and periodically reseeded from the OS), so that a busy
/// page costs no system call per value. Object ids and secrets use
/// [`random_bytes`], straight from the OS.
pub fn per_request_random() -> u128 {
    rand::random::<u128>()
}

/// Encodes 128 bits as exactly 22 base62 characters.
/// 62^10, the largest power of 62 below 2^64: ten digits per u64 chunk.
const CHUNK: u128 = 839_299_365_868_340_224;

pub fn base62_128(v: u128) -> String {
    // Two 128-bit divisions split `v` into chunks of ten digits (the top
    // one two digits), each written with 64-bit arithmetic: the same
    // digits as dividing by 62 twenty-two times, several times faster
    // (an id is made for every request).
    let mut out = [b'0'; RANDOM_CHARS];
    let (high, low) = (v / CHUNK, v % CHUNK);
    let (top, mid) = (high / CHUNK, high % CHUNK);
    let mut write = |chunk: u128, digits: std::ops::Range<usize>| {
        let mut c = u64::try_from(chunk).unwrap_or(0);
        for i in digits.rev() {
            // `c % 62` is < 62, so the index is in range.
            let digit = (c % 62) as usize;
            if let Some(slot) = out.get_mut(i) {
                *slot = ALPHABET.get(digit).copied().unwrap_or(b'0');
            }
            c /= 62;
        }
    };
    write(low, 12..22);
    write(mid, 2..12);
    write(top, 0..2);
    String::from_utf8_lossy(&out).into_owned()
}

/// A new id of `kind` with 128 bits of entropy.
pub fn generate(kind: IdKind) -> Result<String, RngError> {
    let v = u128::from_le_bytes(random_bytes::<16>()?);
    Ok(format!("{}{}", kind.prefix(), base62_128(v)))
}

/// Whether `s` looks like an id of `kind` (prefix and a plausible body).
pub fn looks_like(kind: IdKind, s: &str) -> bool {
    s.strip_prefix(kind.prefix())
        .is_some_and(|rest| !rest.is_empty() && rest.len() <= 64 && id_chars(rest))
}

/// Whether `s` is an id a merchant may choose for an object (`id` on
/// create): 1 to 255 letters, digits, `_` and `-`.
pub fn custom_id_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && id_chars(s)
}

fn id_chars(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl<T: Object> Id<T> {
    /// A new id of a `T`.
    pub fn generate() -> Result<Self, RngError> {
        Ok(Id(generate(T::KIND)?, PhantomData))
    }
    /// `s` as the id of a `T`, if it can be one.
    pub fn parse(s: &str) -> Result<Self, NotAnId> {
        if T::accepts(s) {
            Ok(Id(s.to_string(), PhantomData))
        } else {
            Err(NotAnId {
                object: T::NAME,
                value: s.to_string(),
            })
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

impl<T: Object> Clone for Id<T> {
    fn clone(&self) -> Self {
        Id(self.0.clone(), PhantomData)
    }
}
impl<T: Object> PartialEq for Id<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<T: Object> Eq for Id<T> {}
impl<T: Object> std::hash::Hash for Id<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}
impl<T: Object> std::ops::Deref for Id<T> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}
impl<T: Object> AsRef<str> for Id<T> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
impl<T: Object> serde::Serialize for Id<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}
impl<T: Object> fmt::Display for Id<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl<T: Object> fmt::Debug for Id<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id<{}>({})", T::NAME, self.0)
    }
}

/// An account (the domain has no account object of its own).
#[derive(Debug)]
pub enum Account {}

impl Object for Account {
    const KIND: IdKind = IdKind::Account;
    const NAME: &'static str = "account";
}

/// The id of an account.
pub type AccountId = Id<Account>;

/// An event (`evt_…`, written by the store with each change).
#[derive(Debug)]
pub enum Event {}

impl Object for Event {
    const KIND: IdKind = IdKind::Event;
    const NAME: &'static str = "event";
}

/// A webhook endpoint (`we_…`).
#[derive(Debug)]
pub enum WebhookEndpoint {}

impl Object for WebhookEndpoint {
    const KIND: IdKind = IdKind::WebhookEndpoint;
    const NAME: &'static str = "webhook endpoint";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The encoding by its definition: 22 divisions by 62.
    fn base62_by_definition(mut v: u128) -> String {
        let mut out = [b'0'; RANDOM_CHARS];
        for slot in out.iter_mut().rev() {
            *slot = ALPHABET.get((v % 62) as usize).copied().unwrap_or(b'?');
            v /= 62;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn base62_is_the_same_digits_as_by_definition() -> Result<(), RngError> {
        let mut values = vec![
            0,
            1,
            61,
            62,
            CHUNK - 1,
            CHUNK,
            CHUNK * CHUNK - 1,
            CHUNK * CHUNK,
            u128::MAX,
        ];
        for _ in 0..10_000 {
            values.push(u128::from_le_bytes(random_bytes::<16>()?));
        }
        for v in values {
            assert_eq!(base62_128(v), base62_by_definition(v), "{v}");
        }
        Ok(())
    }

    #[test]
    fn prefixed_and_long_enough() -> Result<(), RngError> {
        let id = generate(IdKind::Product)?;
        assert!(id.starts_with("prod_"));
        assert_eq!(id.len(), "prod_".len() + RANDOM_CHARS);
        assert!(looks_like(IdKind::Product, &id));
        assert!(!looks_like(IdKind::Price, &id));
        Ok(())
    }

    #[test]
    fn typed_ids_take_only_their_own_kind() -> Result<(), RngError> {
        let acct = AccountId::generate()?;
        assert!(acct.starts_with("acct_"));
        assert_eq!(AccountId::parse(&acct), Ok(acct.clone()));
        let e = AccountId::parse("cus_123")
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(e, Err("No such account: 'cus_123'".to_string()));
        assert!(AccountId::parse("acct_").is_err());
        assert!(AccountId::parse("acct_a b").is_err());
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
            assert!(seen.insert(generate(IdKind::Coupon)?));
        }
        Ok(())
    }
}
