//! Passwords: the policy a new password must meet, and argon2id hashing.
//!
//! Policy (OWASP ASVS 5.0 V6.2, NIST SP 800-63B): normalised to Unicode NFKC;
//! 12 to 128 characters; no composition rules; refused if it is one of the
//! most common breached passwords (the NCSC/Have I Been Pwned top 100k list,
//! bundled in the binary) or contains the user's email (or its local part)
//! or the product's name. Nothing is truncated or case-folded before
//! hashing.
//!
//! Hashing: argon2id with OWASP's parameters (m = 19 MiB, t = 2, p = 1), a
//! random 128-bit salt, stored as a PHC string so the parameters can be
//! raised later ([`needs_rehash`]).

use std::collections::HashSet;
use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use unicode_normalization::UnicodeNormalization;

use crate::secret::Secret;

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;
/// OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
pub const M_COST_KIB: u32 = 19 * 1024;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

static BREACHED: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/breached-passwords-top100k.txt")
        .lines()
        .filter(|l| !l.is_empty())
        .collect()
});

/// How many breached passwords are bundled.
pub fn breached_count() -> usize {
    BREACHED.len()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejection {
    #[error("Use at least {MIN_CHARS} characters.")]
    TooShort,
    #[error("Use at most {MAX_CHARS} characters.")]
    TooLong,
    #[error("This password is one of the most common leaked passwords; choose another.")]
    Breached,
    #[error("The password may not contain your email address or the product's name.")]
    ContainsIdentity,
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

/// The NFKC form of a password (what is checked, hashed and verified).
pub fn normalize(password: &str) -> Secret<String> {
    Secret::new(password.nfkc().collect())
}

/// Checks a new password for `email` against the policy; returns its
/// normalised form to hash.
pub fn check_new(
    password: &str,
    email: &str,
    product: &str,
) -> Result<Secret<String>, PasswordRejection> {
    let p = normalize(password);
    let n = p.expose().chars().count();
    if n < MIN_CHARS {
        return Err(PasswordRejection::TooShort);
    }
    if n > MAX_CHARS {
        return Err(PasswordRejection::TooLong);
    }
    let lower = p.expose().to_lowercase();
    if BREACHED.contains(p.expose().as_str()) || BREACHED.contains(lower.as_str()) {
        return Err(PasswordRejection::Breached);
    }
    let email = email.to_lowercase();
    let local = email.split('@').next().unwrap_or("");
    let identity = [email.as_str(), local, &product.to_lowercase()];
    if identity
        .iter()
        .any(|id| id.chars().count() >= 3 && lower.contains(id))
    {
        return Err(PasswordRejection::ContainsIdentity);
    }
    Ok(p)
}

fn hasher() -> Result<Argon2<'static>, HashError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).map_err(|_| HashError)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a (normalised) password into a PHC string.
pub fn hash(password: &Secret<String>) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| HashError)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| HashError)?;
    Ok(hasher()?
        .hash_password(password.expose().as_bytes(), &salt)
        .map_err(|_| HashError)?
        .to_string())
}

/// Verifies a password (normalised here) against a PHC string. A malformed
/// string never verifies.
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let p = normalize(password);
    Argon2::default()
        .verify_password(p.expose().as_bytes(), &parsed)
        .is_ok()
}

/// Whether a stored hash was made with weaker parameters than today's.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != "argon2id"
        || params.m_cost() < M_COST_KIB
        || params.t_cost() < T_COST
        || params.p_cost() < P_COST
}

/// A hash of a random password with today's parameters, to verify against
/// when a login names no user (so that path costs the same time).
pub fn dummy_hash() -> &'static str {
    static DUMMY: LazyLock<String> = LazyLock::new(|| {
        let mut r = [0u8; 24];
        let _ = getrandom::fill(&mut r);
        hash(&Secret::new(crate::hex(&r))).unwrap_or_default()
    });
    &DUMMY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert_eq!(
            check_new("short", "a@b.c", "paylink").map(|_| ()),
            Err(PasswordRejection::TooShort)
        );
        assert_eq!(
            check_new(&"x".repeat(129), "a@b.c", "paylink").map(|_| ()),
            Err(PasswordRejection::TooLong)
        );
        assert!(
            check_new(&"é".repeat(128), "a@b.c", "paylink").is_ok(),
            "128 characters, not bytes"
        );
        assert_eq!(
            check_new("qwertyuiop123", "a@b.c", "paylink").map(|_| ()),
            Err(PasswordRejection::Breached)
        );
        assert_eq!(
            check_new("Password1234", "a@b.c", "paylink").map(|_| ()),
            Err(PasswordRejection::Breached)
        );
        assert_eq!(
            check_new("my annsmith garden", "annsmith@shop.example", "paylink").map(|_| ()),
            Err(PasswordRejection::ContainsIdentity)
        );
        assert_eq!(
            check_new("i love PayLink so much", "a@b.c", "paylink").map(|_| ()),
            Err(PasswordRejection::ContainsIdentity)
        );
        // No composition rules; spaces and any script are fine.
        assert!(check_new("correct horse battery staple", "a@b.c", "paylink").is_ok());
        assert!(check_new("パスワードはとても長いです", "a@b.c", "paylink").is_ok());
        assert!(breached_count() >= 99_000, "{}", breached_count());
    }

    #[test]
    fn nfkc_is_applied() {
        // Full-width letters and the ﬁ ligature normalise to ASCII.
        assert_eq!(normalize("ＡＢＣﬁ").expose(), "ABCfi");
    }

    #[test]
    fn hash_verify_and_params() -> Result<(), HashError> {
        let p =
            check_new("correct horse battery staple", "a@b.c", "paylink").map_err(|_| HashError)?;
        let h = hash(&p)?;
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery staple", &h));
        assert!(!verify("correct horse battery stapl", &h), "no truncation");
        assert!(
            !verify("Correct horse battery staple", &h),
            "no case folding"
        );
        assert!(!verify("x", "not a phc string"));
        assert!(!needs_rehash(&h));
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).map_err(|_| HashError)?,
        )
        .hash_password(
            b"abc",
            &SaltString::encode_b64(&[1u8; 16]).map_err(|_| HashError)?,
        )
        .map_err(|_| HashError)?
        .to_string();
        assert!(needs_rehash(&weak));
        assert!(
            verify("abc", &weak),
            "old hashes still verify until rehashed"
        );
        assert!(dummy_hash().starts_with("$argon2id$"));
        Ok(())
    }
}
