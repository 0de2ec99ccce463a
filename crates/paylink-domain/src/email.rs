//! An email address, checked at the edge.

use std::fmt;

/// A plausible email address: one `@`, a non-empty local part of at most 64
/// characters, a dotted domain, at most 254 characters, no whitespace or
/// control characters. The domain is lower-cased.
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid email address")]
pub struct InvalidEmail;

impl Email {
    pub fn parse(s: &str) -> Result<Self, InvalidEmail> {
        let s = s.trim();
        let (local, domain) = s.rsplit_once('@').ok_or(InvalidEmail)?;
        let ok = s.len() <= 254
            && !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain.split('.').all(|l| {
                !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
            && !s
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ','));
        if !ok {
            return Err(InvalidEmail);
        }
        Ok(Email(format!("{local}@{}", domain.to_lowercase())))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Debug does not print the address (it is personal data).
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plausible_addresses() {
        assert_eq!(
            Email::parse(" Ann@Example.COM ").map(|e| e.as_str().to_string()),
            Ok("Ann@example.com".into())
        );
        for bad in [
            "", "a", "a@b", "@b.c", "a@.c", "a@b.", "a b@c.d", "a@b@c.d", "<a@b.c>", "a@b..c",
        ] {
            assert_eq!(Email::parse(bad), Err(InvalidEmail), "{bad}");
        }
        assert!(!format!("{:?}", Email::parse("x@y.z")).contains("x@y"));
    }
}
