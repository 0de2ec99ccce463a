//! Card validation and test-card outcomes of the `sim` provider, which
//! behaves like a real hosted checkout's test mode.

/// Card brands the sim recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Brand {
    Visa,
    Mastercard,
    Amex,
    Unknown,
}

impl Brand {
    pub fn as_str(self) -> &'static str {
        match self {
            Brand::Visa => "visa",
            Brand::Mastercard => "mastercard",
            Brand::Amex => "amex",
            Brand::Unknown => "unknown",
        }
    }
    /// Length of the card security code for this brand.
    pub fn cvc_len(self) -> usize {
        if self == Brand::Amex {
            4
        } else {
            3
        }
    }
}

/// What happens when a card is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeds,
    Declined,
    InsufficientFunds,
    /// A 3-D Secure challenge is required before the charge.
    RequiresChallenge,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("Your card number is incomplete or invalid.")]
    InvalidNumber,
    #[error("Your card's expiration date is invalid.")]
    InvalidExpiry,
    #[error("Your card has expired.")]
    Expired,
    #[error("Your card's security code is invalid.")]
    InvalidCvc,
}

/// Digits of a card number typed with spaces or dashes.
pub fn digits(input: &str) -> Option<String> {
    let d: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (d.bytes().all(|b| b.is_ascii_digit()) && (12..=19).contains(&d.len())).then_some(d)
}

/// The Luhn checksum (ISO/IEC 7812).
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(b - b'0');
        if !i.is_multiple_of(2) {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

pub fn brand(digits: &str) -> Brand {
    let two: u32 = digits.get(..2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let four: u32 = digits.get(..4).and_then(|s| s.parse().ok()).unwrap_or(0);
    if digits.starts_with('4') {
        Brand::Visa
    } else if (51..=55).contains(&two) || (2221..=2720).contains(&four) {
        Brand::Mastercard
    } else if two == 34 || two == 37 {
        Brand::Amex
    } else {
        Brand::Unknown
    }
}

/// Checks number, expiry (month 1–12, `year` as four digits, not before
/// `now_year`/`now_month`) and CVC length, reporting every problem at once
/// (one per field).
pub fn validate(
    number: &str,
    exp: Option<(u32, u32)>,
    cvc: &str,
    now_year: u32,
    now_month: u32,
) -> Result<(String, Brand), Vec<CardError>> {
    let mut errors = Vec::new();
    let d = digits(number).filter(|d| (13..=19).contains(&d.len()) && luhn_valid(d));
    if d.is_none() {
        errors.push(CardError::InvalidNumber);
    }
    match exp {
        Some((m, y)) if (1..=12).contains(&m) && (2000..=2100).contains(&y) => {
            if (y, m) < (now_year, now_month) {
                errors.push(CardError::Expired);
            }
        }
        _ => errors.push(CardError::InvalidExpiry),
    }
    let b = d.as_deref().map_or(Brand::Unknown, brand);
    let cvc_ok = cvc.bytes().all(|c| c.is_ascii_digit())
        && if d.is_some() {
            cvc.len() == b.cvc_len()
        } else {
            (3..=4).contains(&cvc.len())
        };
    if !cvc_ok {
        errors.push(CardError::InvalidCvc);
    }
    match d {
        Some(d) if errors.is_empty() => Ok((d, b)),
        _ => Err(errors),
    }
}

/// The outcome of a valid card number, per the documented test cards.
/// `always_challenge` is the account setting that requires 3-D Secure on
/// every payment.
pub fn outcome(digits: &str, always_challenge: bool) -> Outcome {
    match digits {
        "4000000000000002" => Outcome::Declined,
        "4000000000009995" => Outcome::InsufficientFunds,
        "4000002500003155" | "4000000000003220" => Outcome::RequiresChallenge,
        _ if always_challenge => Outcome::RequiresChallenge,
        _ => Outcome::Succeeds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn() {
        for good in [
            "4242424242424242",
            "4000000000000002",
            "4000000000009995",
            "4000002500003155",
            "4000000000003220",
            "5555555555554444",
            "378282246310005",
        ] {
            assert!(luhn_valid(good), "{good}");
        }
        assert!(!luhn_valid("4242424242424241"));
        assert!(!luhn_valid(""));
    }

    #[test]
    fn test_cards() {
        assert_eq!(outcome("4242424242424242", false), Outcome::Succeeds);
        assert_eq!(outcome("4000000000000002", false), Outcome::Declined);
        assert_eq!(
            outcome("4000000000009995", false),
            Outcome::InsufficientFunds
        );
        assert_eq!(
            outcome("4000002500003155", false),
            Outcome::RequiresChallenge
        );
        assert_eq!(
            outcome("4000000000003220", false),
            Outcome::RequiresChallenge
        );
        assert_eq!(outcome("5555555555554444", false), Outcome::Succeeds);
        assert_eq!(
            outcome("4242424242424242", true),
            Outcome::RequiresChallenge
        );
    }

    #[test]
    fn validation() {
        let v = |n: &str, m: u32, y: u32, c: &str| validate(n, Some((m, y)), c, 2026, 11);
        assert_eq!(
            v("4242 4242 4242 4242", 12, 2030, "123").map(|(_, b)| b),
            Ok(Brand::Visa)
        );
        assert_eq!(
            v("4242424242424241", 12, 2030, "123"),
            Err(vec![CardError::InvalidNumber])
        );
        assert_eq!(
            v("4242424242424242", 13, 2030, "123"),
            Err(vec![CardError::InvalidExpiry])
        );
        assert_eq!(
            v("4242424242424242", 10, 2026, "123"),
            Err(vec![CardError::Expired])
        );
        assert!(v("4242424242424242", 11, 2026, "123").is_ok());
        assert_eq!(
            v("4242424242424242", 12, 2030, "12"),
            Err(vec![CardError::InvalidCvc])
        );
        assert_eq!(
            v("378282246310005", 12, 2030, "1234").map(|(_, b)| b),
            Ok(Brand::Amex)
        );
        assert_eq!(
            validate("1234", None, "1", 2026, 11),
            Err(vec![
                CardError::InvalidNumber,
                CardError::InvalidExpiry,
                CardError::InvalidCvc
            ])
        );
    }
}
