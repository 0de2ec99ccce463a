//! `Secret<T>`: a value that never prints, never serializes by accident, is
//! zeroized on drop and compares in constant time.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Holds a secret. Debug and Display print `[REDACTED]`; there is no
/// `Serialize`; the only way in is [`Secret::expose`], which is easy to grep.
#[derive(Clone, Default)]
pub struct Secret<T: Zeroize>(T);

impl<T: Zeroize> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }
    /// Reads the secret. Every call is a place where a secret leaves its box.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}
impl<T: Zeroize> ZeroizeOnDrop for Secret<T> {}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}
impl<T: Zeroize> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<T: Zeroize + AsRef<[u8]>> PartialEq for Secret<T> {
    fn eq(&self, other: &Self) -> bool {
        crate::ct_eq(self.0.as_ref(), other.0.as_ref())
    }
}
impl<T: Zeroize + AsRef<[u8]>> Eq for Secret<T> {}

impl From<String> for Secret<String> {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let s = Secret::new("sk_test_canary".to_string());
        assert!(!format!("{s:?}").contains("canary"));
        assert!(!format!("{s}").contains("canary"));
        assert_eq!(s.expose(), "sk_test_canary");
    }

    #[test]
    fn equality_is_by_value() {
        assert_eq!(Secret::new(b"ab".to_vec()), Secret::new(b"ab".to_vec()));
        assert_ne!(Secret::new(b"ab".to_vec()), Secret::new(b"ac".to_vec()));
    }
}
