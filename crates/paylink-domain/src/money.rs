//! Money as an integer count of a currency's minor unit. No floats.

use crate::currency::Currency;

/// The largest amount paylink accepts for a price or a charge, in minor units
/// (Stripe's limit: 99,999,999, i.e. $999,999.99).
pub const MAX_AMOUNT: i64 = 99_999_999;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must not be negative")]
    Negative,
    #[error("amount must be at most {max} {currency} minor units")]
    TooLarge { max: i64, currency: Currency },
    #[error(
        "amount must be at least {min} {currency} minor units (the currency's minimum charge)"
    )]
    BelowMinimum { min: i64, currency: Currency },
    #[error("amount overflowed")]
    Overflow,
    #[error("currencies differ: {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
}

/// An amount in minor units with its currency, `0 <= amount <= MAX_AMOUNT`
/// is not enforced here (totals may be computed before checking); use
/// [`Money::chargeable`] before charging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    amount: i64,
    currency: Currency,
}

impl Money {
    /// A non-negative amount no larger than [`MAX_AMOUNT`].
    pub fn new(amount: i64, currency: Currency) -> Result<Self, MoneyError> {
        if amount < 0 {
            return Err(MoneyError::Negative);
        }
        if amount > MAX_AMOUNT {
            return Err(MoneyError::TooLarge {
                max: MAX_AMOUNT,
                currency,
            });
        }
        Ok(Self { amount, currency })
    }
    pub fn zero(currency: Currency) -> Self {
        Self {
            amount: 0,
            currency,
        }
    }
    pub fn amount(self) -> i64 {
        self.amount
    }
    pub fn currency(self) -> Currency {
        self.currency
    }
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { amount, ..self })
    }
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        let amount = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        if amount < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Money { amount, ..self })
    }
    pub fn checked_mul(self, quantity: i64) -> Result<Money, MoneyError> {
        if quantity < 0 {
            return Err(MoneyError::Negative);
        }
        let amount = self
            .amount
            .checked_mul(quantity)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { amount, ..self })
    }
    /// Checks that this amount may be charged: at least the currency's
    /// minimum charge and at most [`MAX_AMOUNT`].
    pub fn chargeable(self) -> Result<Money, MoneyError> {
        if self.amount > MAX_AMOUNT {
            return Err(MoneyError::TooLarge {
                max: MAX_AMOUNT,
                currency: self.currency,
            });
        }
        if self.amount < self.currency.minimum_charge() {
            return Err(MoneyError::BelowMinimum {
                min: self.currency.minimum_charge(),
                currency: self.currency,
            });
        }
        Ok(self)
    }
}

/// A percentage in hundredths of a percent (basis points): `1250` is 12.5 %.
/// Always in `1..=10000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PercentOff(u16);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "percent_off must be a number greater than 0 and at most 100, with at most two decimal places"
)]
pub struct InvalidPercent;

impl PercentOff {
    pub fn from_basis_points(bp: i64) -> Result<Self, InvalidPercent> {
        u16::try_from(bp)
            .ok()
            .filter(|b| (1..=10_000).contains(b))
            .map(PercentOff)
            .ok_or(InvalidPercent)
    }
    /// Parses a decimal such as `25`, `12.5` or `0.01` exactly (no floats).
    pub fn parse(s: &str) -> Result<Self, InvalidPercent> {
        let s = s.trim();
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty() && frac.is_empty() {
            return Err(InvalidPercent);
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidPercent);
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > 2 || int.len() > 3 {
            return Err(InvalidPercent);
        }
        let int_v: i64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| InvalidPercent)?
        };
        let frac_v: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| InvalidPercent)? * 10,
            _ => frac.parse().map_err(|_| InvalidPercent)?,
        };
        Self::from_basis_points(int_v * 100 + frac_v)
    }
    pub fn basis_points(self) -> u16 {
        self.0
    }
    /// The percentage as a decimal string without trailing zeros: `12.5`.
    pub fn to_decimal_string(self) -> String {
        let (i, f) = (self.0 / 100, self.0 % 100);
        match f {
            0 => i.to_string(),
            f if f % 10 == 0 => format!("{i}.{}", f / 10),
            f => format!("{i}.{f:02}"),
        }
    }
}

/// A discount that a coupon grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    Percent(PercentOff),
    Amount(Money),
}

impl Discount {
    /// The amount taken off `subtotal`.
    ///
    /// Rounding rule: a percentage discount is computed exactly in 128-bit
    /// integers and rounded **half up** to the currency's minor unit (12.5 %
    /// of 101 cents is 12.625 → 13 cents). A discount never exceeds the
    /// subtotal. An amount discount in another currency does not apply.
    pub fn amount_off(self, subtotal: Money) -> Result<Money, MoneyError> {
        match self {
            Discount::Percent(p) => {
                let num = i128::from(subtotal.amount()) * i128::from(p.basis_points());
                let rounded = (num + 5_000) / 10_000;
                let amount = i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?;
                Ok(Money {
                    amount: amount.min(subtotal.amount()),
                    currency: subtotal.currency(),
                })
            }
            Discount::Amount(off) => {
                if off.currency() != subtotal.currency() {
                    return Err(MoneyError::CurrencyMismatch(
                        off.currency(),
                        subtotal.currency(),
                    ));
                }
                Ok(Money {
                    amount: off.amount().min(subtotal.amount()),
                    currency: subtotal.currency(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(c: &str) -> Currency {
        c.parse().unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn limits() {
        let usd = cur("usd");
        assert_eq!(Money::new(-1, usd), Err(MoneyError::Negative));
        assert!(Money::new(MAX_AMOUNT, usd).is_ok());
        assert!(matches!(
            Money::new(MAX_AMOUNT + 1, usd),
            Err(MoneyError::TooLarge { .. })
        ));
        assert!(matches!(
            Money::new(49, usd).and_then(Money::chargeable),
            Err(MoneyError::BelowMinimum { min: 50, .. })
        ));
        assert!(Money::new(50, usd).and_then(Money::chargeable).is_ok());
        assert!(Money::new(50, cur("jpy"))
            .and_then(Money::chargeable)
            .is_ok());
        assert!(Money::new(999, cur("bhd"))
            .and_then(Money::chargeable)
            .is_err());
    }

    #[test]
    fn overflow_safe_arithmetic() -> Result<(), MoneyError> {
        let usd = cur("usd");
        let m = Money::new(MAX_AMOUNT, usd)?;
        assert_eq!(m.checked_mul(i64::MAX), Err(MoneyError::Overflow));
        let big = m.checked_mul(999)?;
        assert!(big.chargeable().is_err());
        assert_eq!(
            Money::new(1, usd)?.checked_add(Money::new(1, cur("eur"))?),
            Err(MoneyError::CurrencyMismatch(usd, cur("eur")))
        );
        assert_eq!(
            Money::new(1, usd)?.checked_sub(Money::new(2, usd)?),
            Err(MoneyError::Negative)
        );
        assert_eq!(
            Money::new(3, usd)?
                .checked_add(Money::new(4, usd)?)?
                .amount(),
            7
        );
        Ok(())
    }

    #[test]
    fn percent_parsing_is_exact() {
        assert_eq!(PercentOff::parse("25").map(|p| p.basis_points()), Ok(2500));
        assert_eq!(
            PercentOff::parse("12.5").map(|p| p.basis_points()),
            Ok(1250)
        );
        assert_eq!(PercentOff::parse("0.01").map(|p| p.basis_points()), Ok(1));
        assert_eq!(
            PercentOff::parse("100").map(|p| p.basis_points()),
            Ok(10000)
        );
        assert_eq!(
            PercentOff::parse("33.330").map(|p| p.basis_points()),
            Ok(3333)
        );
        for bad in ["0", "100.01", "-5", "abc", "1.001", "", ".", "1e2", "1000"] {
            assert_eq!(PercentOff::parse(bad), Err(InvalidPercent), "{bad}");
        }
        assert_eq!(
            PercentOff::parse("12.50").map(|p| p.to_decimal_string()),
            Ok("12.5".into())
        );
        assert_eq!(
            PercentOff::parse("0.05").map(|p| p.to_decimal_string()),
            Ok("0.05".into())
        );
    }

    #[test]
    fn percent_discount_rounds_half_up() -> Result<(), MoneyError> {
        let usd = cur("usd");
        let p =
            |s: &str| Discount::Percent(PercentOff::parse(s).unwrap_or_else(|_| unreachable!()));
        // 12.5 % of 101 = 12.625 -> 13
        assert_eq!(p("12.5").amount_off(Money::new(101, usd)?)?.amount(), 13);
        // 50 % of 101 = 50.5 -> 51 (half up)
        assert_eq!(p("50").amount_off(Money::new(101, usd)?)?.amount(), 51);
        // 33.33 % of 100 = 33.33 -> 33
        assert_eq!(p("33.33").amount_off(Money::new(100, usd)?)?.amount(), 33);
        assert_eq!(
            p("100").amount_off(Money::new(MAX_AMOUNT, usd)?)?.amount(),
            MAX_AMOUNT
        );
        Ok(())
    }

    #[test]
    fn amount_discount_is_capped_and_currency_checked() -> Result<(), MoneyError> {
        let usd = cur("usd");
        let d = Discount::Amount(Money::new(500, usd)?);
        assert_eq!(d.amount_off(Money::new(300, usd)?)?.amount(), 300);
        assert_eq!(d.amount_off(Money::new(800, usd)?)?.amount(), 500);
        assert!(d.amount_off(Money::new(800, cur("eur"))?).is_err());
        Ok(())
    }
}
