//! Envelope encryption. Personal data is sealed with AES-256-GCM under a
//! data key (DEK); each DEK is stored only wrapped (sealed) under a
//! versioned master key (KEK) from the key file. A sealed value binds its
//! place (table, column and row id) as associated data, so a ciphertext
//! copied elsewhere does not open.
//!
//! Formats (all versioned by their first byte):
//! - sealed value: `0x01 | nonce (12) | ciphertext+tag`
//! - wrapped DEK:  `0x01 | KEK version (u32, big endian) | nonce (12) | ciphertext+tag`

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::keyfile::KeyFile;
use crate::secret::Secret;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the value could not be decrypted (wrong key, place or tampered data)")]
    Open,
    #[error("unknown master key version {0}")]
    UnknownKek(u32),
    #[error("the operating system's random number generator failed")]
    Rng,
}

/// A 256-bit data key, zeroized on drop.
pub struct DataKey(Secret<Vec<u8>>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}

fn cipher(key: &[u8]) -> Result<Aes256Gcm, EnvelopeError> {
    Aes256Gcm::new_from_slice(key).map_err(|_| EnvelopeError::Open)
}

fn seal_raw(
    key: &[u8],
    plaintext: &[u8],
    aad: &[u8],
    header: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| EnvelopeError::Rng)?;
    let ct = cipher(key)?
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| EnvelopeError::Open)?;
    let mut out = Vec::with_capacity(header.len() + NONCE_LEN + ct.len());
    out.extend_from_slice(header);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

fn open_raw(key: &[u8], body: &[u8], aad: &[u8]) -> Result<Secret<Vec<u8>>, EnvelopeError> {
    let (nonce, ct) = (
        body.get(..NONCE_LEN).ok_or(EnvelopeError::Open)?,
        body.get(NONCE_LEN..).ok_or(EnvelopeError::Open)?,
    );
    let pt = cipher(key)?
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .map_err(|_| EnvelopeError::Open)?;
    Ok(Secret::new(pt))
}

impl DataKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, EnvelopeError> {
        let mut k = vec![0u8; 32];
        getrandom::fill(&mut k).map_err(|_| EnvelopeError::Rng)?;
        Ok(DataKey(Secret::new(k)))
    }

    /// Seals `plaintext`, bound to `aad` (e.g. `customers.email:cus_…`).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        seal_raw(self.0.expose(), plaintext, aad, &[VERSION])
    }

    /// Opens a sealed value; fails if the key, the place or a byte differs.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Secret<Vec<u8>>, EnvelopeError> {
        match sealed.split_first() {
            Some((&VERSION, body)) => open_raw(self.0.expose(), body, aad),
            _ => Err(EnvelopeError::Open),
        }
    }

    /// Derives a purpose-bound subkey (HMAC-SHA256 of the purpose).
    pub fn derive(&self, purpose: &str) -> Secret<Vec<u8>> {
        match <Hmac<Sha256> as Mac>::new_from_slice(self.0.expose()) {
            Ok(mut m) => {
                m.update(purpose.as_bytes());
                Secret::new(m.finalize().into_bytes().to_vec())
            }
            Err(_) => Secret::new(Vec::new()),
        }
    }

    /// Wraps this key under the current master key, bound to `owner`.
    pub fn wrap(&self, keys: &KeyFile, owner: &str) -> Result<Vec<u8>, EnvelopeError> {
        let kek = keys.current();
        let wrapping = kek.derive("paylink/kek-wrap/v1");
        let mut header = vec![VERSION];
        header.extend_from_slice(&kek.version.to_be_bytes());
        seal_raw(
            wrapping.expose(),
            self.0.expose(),
            format!("dek:{owner}").as_bytes(),
            &header,
        )
    }

    /// Unwraps a key wrapped by [`DataKey::wrap`] under any master key
    /// version the key file still holds.
    pub fn unwrap(keys: &KeyFile, wrapped: &[u8], owner: &str) -> Result<DataKey, EnvelopeError> {
        let (&v, rest) = wrapped.split_first().ok_or(EnvelopeError::Open)?;
        if v != VERSION {
            return Err(EnvelopeError::Open);
        }
        let ver_bytes: [u8; 4] = rest
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or(EnvelopeError::Open)?;
        let version = u32::from_be_bytes(ver_bytes);
        let kek = keys
            .get(version)
            .ok_or(EnvelopeError::UnknownKek(version))?;
        let wrapping = kek.derive("paylink/kek-wrap/v1");
        let pt = open_raw(
            wrapping.expose(),
            rest.get(4..).ok_or(EnvelopeError::Open)?,
            format!("dek:{owner}").as_bytes(),
        )?;
        Ok(DataKey(pt))
    }
}

/// The master key version a wrapped DEK is under.
pub fn wrapped_kek_version(wrapped: &[u8]) -> Option<u32> {
    wrapped
        .get(1..5)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)
}

/// A keyed blind index: equal inputs give equal outputs, and without the key
/// nothing about the input can be learned or tested.
pub fn blind_index(key: &Secret<Vec<u8>>, normalized: &str) -> String {
    match <Hmac<Sha256> as Mac>::new_from_slice(key.expose()) {
        Ok(mut m) => {
            m.update(normalized.as_bytes());
            crate::hex(&m.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn keys() -> Result<KeyFile, crate::KeyFileError> {
        let k = Secret::new(base64::engine::general_purpose::STANDARD.encode([3u8; 32]));
        KeyFile::load_or_create(std::path::Path::new("/nonexistent"), Some(&k))
    }

    #[test]
    fn seal_open_and_places() -> Result<(), EnvelopeError> {
        let k = DataKey::generate()?;
        let s = k.seal(b"ann@example.com", b"customers.email:cus_1")?;
        assert_eq!(
            k.open(&s, b"customers.email:cus_1")?.expose(),
            b"ann@example.com"
        );
        assert!(!s.windows(5).any(|w| w == b"ann@e"));
        // Another row, another column, another key, a flipped byte: refused.
        assert_eq!(
            k.open(&s, b"customers.email:cus_2").map(|_| ()),
            Err(EnvelopeError::Open)
        );
        assert_eq!(
            k.open(&s, b"customers.name:cus_1").map(|_| ()),
            Err(EnvelopeError::Open)
        );
        assert_eq!(
            DataKey::generate()?
                .open(&s, b"customers.email:cus_1")
                .map(|_| ()),
            Err(EnvelopeError::Open)
        );
        let mut t = s.clone();
        if let Some(b) = t.last_mut() {
            *b ^= 1;
        }
        assert_eq!(
            k.open(&t, b"customers.email:cus_1").map(|_| ()),
            Err(EnvelopeError::Open)
        );
        // Two seals of one value differ (random nonces).
        assert_ne!(k.seal(b"x", b"a")?, k.seal(b"x", b"a")?);
        Ok(())
    }

    #[test]
    fn wrap_unwrap_bound_to_owner() -> Result<(), Box<dyn std::error::Error>> {
        let kf = keys()?;
        let k = DataKey::generate()?;
        let w = k.wrap(&kf, "acct_1")?;
        assert_eq!(wrapped_kek_version(&w), Some(1));
        let back = DataKey::unwrap(&kf, &w, "acct_1")?;
        let s = k.seal(b"v", b"p")?;
        assert_eq!(back.open(&s, b"p")?.expose(), b"v");
        assert!(DataKey::unwrap(&kf, &w, "acct_2").is_err());
        Ok(())
    }

    #[test]
    fn blind_index_is_keyed() {
        let a = Secret::new(vec![1u8; 32]);
        let b = Secret::new(vec![2u8; 32]);
        assert_eq!(blind_index(&a, "x@y.z"), blind_index(&a, "x@y.z"));
        assert_ne!(blind_index(&a, "x@y.z"), blind_index(&b, "x@y.z"));
        assert_ne!(blind_index(&a, "x@y.z"), blind_index(&a, "x@y.y"));
    }
}
