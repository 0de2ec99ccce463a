//! TOTP (RFC 6238 over RFC 4226 HOTP): HMAC-SHA1, 6 digits, 30-second
//! steps, ±1 step of clock drift, and a step once used is refused
//! (the caller stores the last used step).

use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::secret::Secret;

pub const DIGITS: u32 = 6;
pub const STEP_SECS: i64 = 30;

/// A new 160-bit secret (RFC 4226 recommends 160 bits).
pub fn generate_secret() -> Option<Secret<Vec<u8>>> {
    let mut s = vec![0u8; 20];
    getrandom::fill(&mut s).ok()?;
    Some(Secret::new(s))
}

/// The HOTP value for `counter` with `digits` digits.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> Option<u32> {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).ok()?;
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h.get(19)? & 0x0f);
    let bytes: [u8; 4] = h.get(offset..offset + 4)?.try_into().ok()?;
    let bin = u32::from_be_bytes(bytes) & 0x7fff_ffff;
    Some(bin % 10u32.pow(digits))
}

/// The time step of a unix time.
pub fn step(unix: i64) -> i64 {
    unix.div_euclid(STEP_SECS)
}

/// Checks a 6-digit `code` at `now`, allowing one step of drift either way
/// and refusing any step at or before `last_used_step`. Returns the step
/// that matched, for the caller to store as the new last used step.
pub fn verify(
    secret: &Secret<Vec<u8>>,
    code: &str,
    now: i64,
    last_used_step: Option<i64>,
) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let current = step(now);
    let mut matched = None;
    // Every candidate is computed and compared, so timing does not tell
    // which step matched.
    for s in [current - 1, current, current + 1] {
        let Ok(counter) = u64::try_from(s) else {
            continue;
        };
        let Some(v) = hotp(secret.expose(), counter, DIGITS) else {
            continue;
        };
        let equal = crate::ct_eq(
            format!("{v:06}").as_bytes(),
            format!("{wanted:06}").as_bytes(),
        );
        if equal && last_used_step.is_none_or(|l| s > l) && matched.is_none() {
            matched = Some(s);
        }
    }
    matched
}

/// RFC 4648 base32 without padding (how authenticator apps take secrets).
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for b in bytes {
        buffer = (buffer << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let i = ((buffer >> bits) & 31) as usize;
            out.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'A')));
        }
    }
    if bits > 0 {
        let i = ((buffer << (5 - bits)) & 31) as usize;
        out.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'A')));
    }
    out
}

/// Decodes RFC 4648 base32 (no padding, case-insensitive).
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
        buffer &= 0xff;
    }
    Some(out)
}

fn uri_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The `otpauth://` URI an authenticator app enrols from (shown as a QR
/// code, with the base32 secret in text beside it).
pub fn otpauth_uri(secret: &Secret<Vec<u8>>, issuer: &str, account: &str) -> Secret<String> {
    Secret::new(format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        uri_escape(issuer),
        uri_escape(account),
        base32(secret.expose()),
        uri_escape(issuer)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_round_trip() {
        for n in [0usize, 1, 5, 10, 20, 33] {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 % 256) as u8).collect();
            assert_eq!(from_base32(&base32(&bytes)), Some(bytes));
        }
        assert_eq!(from_base32("a!"), None);
    }

    /// RFC 6238 appendix B, SHA-1 rows (8 digits; our 6-digit codes are the
    /// same values modulo 10^6, as RFC 4226's truncation defines).
    #[test]
    fn rfc6238_vectors() {
        let seed = b"12345678901234567890";
        for (t, eight) in [
            (59, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            let counter = u64::try_from(step(t)).unwrap_or(0);
            assert_eq!(hotp(seed, counter, 8), Some(eight), "T={t}");
            assert_eq!(hotp(seed, counter, 6), Some(eight % 1_000_000), "T={t}");
        }
    }

    #[test]
    fn drift_and_replay() {
        let s = Secret::new(b"12345678901234567890".to_vec());
        let code_at = |t: i64| {
            format!(
                "{:06}",
                hotp(s.expose(), u64::try_from(step(t)).unwrap_or(0), 6).unwrap_or(0)
            )
        };
        let now = 1_111_111_111;
        assert_eq!(verify(&s, &code_at(now), now, None), Some(step(now)));
        assert_eq!(
            verify(&s, &code_at(now - 30), now, None),
            Some(step(now) - 1),
            "one step behind"
        );
        assert_eq!(
            verify(&s, &code_at(now + 30), now, None),
            Some(step(now) + 1),
            "one step ahead"
        );
        assert_eq!(
            verify(&s, &code_at(now - 60), now, None),
            None,
            "two steps is too far"
        );
        assert_eq!(
            verify(&s, &code_at(now), now, Some(step(now))),
            None,
            "a used step is refused"
        );
        assert_eq!(
            verify(&s, &code_at(now - 30), now, Some(step(now) - 1)),
            None
        );
        assert_eq!(verify(&s, "12345", now, None), None);
        assert_eq!(verify(&s, "abcdef", now, None), None);
    }

    #[test]
    fn base32_and_uri() {
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(base32(b"f"), "MY");
        let uri = otpauth_uri(
            &Secret::new(b"12345678901234567890".to_vec()),
            "paylink",
            "ann@example.com",
        );
        assert_eq!(uri.expose(), "otpauth://totp/paylink:ann@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=paylink&algorithm=SHA1&digits=6&period=30");
        assert!(generate_secret().is_some_and(|s| s.expose().len() == 20));
    }
}
