//! Webhook signatures: header `t=<unix>,v1=<hex>` where `v1` is
//! HMAC-SHA256(secret, "<t>.<body>"); accepted within a tolerance window
//! around the receiver's clock, compared in constant time.

use hmac::{Hmac, Mac};
use paylink_crypto::Secret;
use sha2::Sha256;

/// How far a signature's timestamp may be from the receiver's clock.
pub const TOLERANCE_SECS: i64 = 300;

fn mac(secret: &Secret<Vec<u8>>, t: i64, body: &[u8]) -> Option<Vec<u8>> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.expose()).ok()?;
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    Some(m.finalize().into_bytes().to_vec())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The signature header for `body` at time `t`.
pub fn sign(secret: &Secret<Vec<u8>>, t: i64, body: &[u8]) -> String {
    format!(
        "t={t},v1={}",
        mac(secret, t, body).map(|m| hex(&m)).unwrap_or_default()
    )
}

/// Checks a signature header against `body` at `now`.
pub fn verify(secret: &Secret<Vec<u8>>, header: &str, body: &[u8], now: i64) -> bool {
    let mut t: Option<i64> = None;
    let mut sigs: Vec<&str> = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse().ok(),
            Some(("v1", v)) => sigs.push(v),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now - t).abs() > TOLERANCE_SECS {
        return false;
    }
    let Some(expected) = mac(secret, t, body).map(|m| hex(&m)) else {
        return false;
    };
    sigs.iter()
        .any(|s| paylink_crypto::ct_eq(s.as_bytes(), expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_tamper_and_stale() {
        let k = Secret::new(vec![9u8; 32]);
        let h = sign(&k, 1000, b"{\"a\":1}");
        assert!(verify(&k, &h, b"{\"a\":1}", 1000));
        assert!(verify(&k, &h, b"{\"a\":1}", 1000 + TOLERANCE_SECS));
        assert!(!verify(&k, &h, b"{\"a\":1}", 1000 + TOLERANCE_SECS + 1));
        assert!(!verify(&k, &h, b"{\"a\":1}", 1000 - TOLERANCE_SECS - 1));
        assert!(!verify(&k, &h, b"{\"a\":2}", 1000));
        assert!(!verify(&Secret::new(vec![8u8; 32]), &h, b"{\"a\":1}", 1000));
        assert!(!verify(&k, "t=1000", b"{\"a\":1}", 1000));
        assert!(!verify(&k, "garbage", b"{\"a\":1}", 1000));
        let forged = h.replace("t=1000", "t=1001");
        assert!(!verify(&k, &forged, b"{\"a\":1}", 1000));
    }
}
