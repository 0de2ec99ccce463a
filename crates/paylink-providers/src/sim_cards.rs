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
/// `now_year`/`now_month`) and CVC length.
pub fn validate(
    number: &str,
    exp_month: u32,
    exp_year: u32,
    cvc: &str,
    now_year: u32,
    now_month: u32,
) -> Result<(String, Brand), CardError> {
    let d = digits(number)
        .filter(|d| (13..=19).contains(&d.len()) && luhn_valid(d))
        .ok_or(CardError::InvalidNumber)?;
    if !(1..=12).contains(&exp_month) || !(2000..=2100).contains(&exp_year) {
        return Err(CardError::InvalidExpiry);
    }
    if (exp_year, exp_month) < (now_year, now_month) {
        return Err(CardError::Expired);
    }
    let b = brand(&d);
    if cvc.len() != b.cvc_len() || !cvc.bytes().all(|c| c.is_ascii_digit()) {
        return Err(CardError::InvalidCvc);
    }
    Ok((d, b))
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
        assert_eq!(
            validate("4242 4242 4242 4242", 12, 2030, "123", 2026, 11).map(|(_, b)| b),
            Ok(Brand::Visa)
        );
        assert_eq!(
            validate("4242424242424241", 12, 2030, "123", 2026, 11),
            Err(CardError::InvalidNumber)
        );
        assert_eq!(
            validate("4242424242424242", 13, 2030, "123", 2026, 11),
            Err(CardError::InvalidExpiry)
        );
        assert_eq!(
            validate("4242424242424242", 10, 2026, "123", 2026, 11),
            Err(CardError::Expired)
        );
        assert!(validate("4242424242424242", 11, 2026, "123", 2026, 11).is_ok());
        assert_eq!(
            validate("4242424242424242", 12, 2030, "12", 2026, 11),
            Err(CardError::InvalidCvc)
        );
        assert_eq!(
            validate("378282246310005", 12, 2030, "1234", 2026, 11).map(|(_, b)| b),
            Ok(Brand::Amex)
        );
    }
}
