//! Signing secrets of outgoing webhooks and the two signature schemes
//! each delivery carries, so that existing handlers verify it unchanged:
//!
//! - Stripe's: `Stripe-Signature: t=<unix>,v1=<hex>`, the HMAC-SHA256 of
//!   `"<t>.<body>"` keyed with the whole secret string (`whsec_…`), one
//!   `v1` per active secret (Stripe's official SDKs accept any of them);
//! - Standard Webhooks': `webhook-signature: v1,<base64>`, the HMAC-SHA256
//!   of `"<msg id>.<t>.<body>"` keyed with the base64-decoded part of the
//!   same secret after `whsec_`, space-separated for several secrets.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

/// The prefix of a signing secret.
pub const PREFIX: &str = "whsec_";

/// Random bytes in a signing secret.
const SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RngError;

/// A signing secret that is not `whsec_` and base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a webhook signing secret")]
pub struct BadSecret;

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn generate() -> Result<Secret<String>, RngError> {
    let mut raw = [0u8; SECRET_BYTES];
    getrandom::fill(&mut raw).map_err(|_| RngError)?;
    let s = format!("{PREFIX}{}", B64.encode(raw));
    zeroize::Zeroize::zeroize(&mut raw);
    Ok(Secret::new(s))
}

fn mac(key: &[u8], parts: &[&[u8]]) -> Result<Vec<u8>, BadSecret> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| BadSecret)?;
    for p in parts {
        m.update(p);
    }
    Ok(m.finalize().into_bytes().to_vec())
}

/// Stripe's `v1` signature (hex) of `body` sent at `t`.
pub fn stripe_v1(secret: &Secret<String>, t: i64, body: &[u8]) -> Result<String, BadSecret> {
    let t = t.to_string();
    let sig = mac(secret.expose().as_bytes(), &[t.as_bytes(), b".", body])?;
    Ok(crate::hex(&sig))
}

/// The Standard Webhooks `v1` signature (base64) of `body`, message
/// `msg_id`, sent at `t`.
pub fn standard_v1(
    secret: &Secret<String>,
    msg_id: &str,
    t: i64,
    body: &[u8],
) -> Result<String, BadSecret> {
    let encoded = secret.expose().strip_prefix(PREFIX).ok_or(BadSecret)?;
    let key = Secret::new(B64.decode(encoded).map_err(|_| BadSecret)?);
    let t = t.to_string();
    let sig = mac(
        key.expose(),
        &[msg_id.as_bytes(), b".", t.as_bytes(), b".", body],
    )?;
    Ok(B64.encode(sig))
}

/// The headers of one delivery signed with each of `secrets` (the
/// current one first): `Stripe-Signature`, and Standard Webhooks'
/// `webhook-id`, `webhook-timestamp` and `webhook-signature`.
pub fn headers(
    secrets: &[&Secret<String>],
    msg_id: &str,
    t: i64,
    body: &[u8],
) -> Result<Vec<(&'static str, String)>, BadSecret> {
    let mut stripe = format!("t={t}");
    let mut standard = Vec::with_capacity(secrets.len());
    for s in secrets {
        stripe.push_str(",v1=");
        stripe.push_str(&stripe_v1(s, t, body)?);
        standard.push(format!("v1,{}", standard_v1(s, msg_id, t, body)?));
    }
    Ok(vec![
        ("stripe-signature", stripe),
        ("webhook-id", msg_id.to_string()),
        ("webhook-timestamp", t.to_string()),
        ("webhook-signature", standard.join(" ")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_base64() {
        let a = generate().unwrap_or_else(|_| Secret::new(String::new()));
        let b = generate().unwrap_or_else(|_| Secret::new(String::new()));
        assert!(a.expose().starts_with(PREFIX));
        assert_ne!(a.expose(), b.expose());
        let raw = B64.decode(&a.expose()[PREFIX.len()..]).unwrap_or_default();
        assert_eq!(raw.len(), SECRET_BYTES);
    }

    #[test]
    fn stripe_scheme_matches_a_known_vector() {
        // HMAC-SHA256("whsec_test", "1700000000.{}") computed independently
        // (Python: hmac.new(b"whsec_test", b"1700000000.{}", "sha256")).
        let s = Secret::new("whsec_test".to_string());
        assert_eq!(
            stripe_v1(&s, 1_700_000_000, b"{}").ok().as_deref(),
            Some(KNOWN_STRIPE)
        );
        let h = headers(&[&s, &s], "evt_1", 1_700_000_000, b"{}").unwrap_or_default();
        assert_eq!(
            h.first().map(|(_, v)| v.clone()),
            Some(format!("t=1700000000,v1={KNOWN_STRIPE},v1={KNOWN_STRIPE}"))
        );
    }

    #[test]
    fn standard_scheme_needs_a_base64_secret() {
        let s = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string());
        assert_eq!(
            standard_v1(
                &s,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                b"{\"test\": 2432232314}"
            )
            .ok()
            .as_deref(),
            // The Standard Webhooks specification's own example.
            Some("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        let bad = Secret::new("nope".to_string());
        assert_eq!(standard_v1(&bad, "m", 1, b""), Err(BadSecret));
    }

    const KNOWN_STRIPE: &str = "35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91";
}
