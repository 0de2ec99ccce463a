//! Secrets and the cryptography paylink uses: [`Secret`], the key file,
//! API keys (plaintext and hashed as different types) and constant-time
//! comparison. No primitive is written here; RustCrypto provides them.

pub mod api_key;
pub mod envelope;
pub mod keyfile;
pub mod password;
pub mod secret;
pub mod totp;
pub mod webhook;

pub use api_key::{ApiKeyHash, ApiKeyKind, Mode, PlaintextApiKey};
pub use keyfile::{KeyFile, KeyFileError, MasterKey};
pub use secret::Secret;

/// Constant-time equality of two byte strings (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// SHA-256 of some bytes, hex-encoded. For fingerprints of non-secret data
/// (request bodies for idempotency), never for passwords.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(data))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn ct_eq_works() {
        assert!(super::ct_eq(b"abc", b"abc"));
        assert!(!super::ct_eq(b"abc", b"abd"));
        assert!(!super::ct_eq(b"abc", b"abcd"));
    }
}
