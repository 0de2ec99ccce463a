//! ISO 4217 currencies with their minor-unit exponent and the smallest charge
//! a card network accepts in them.

use std::fmt;
use std::str::FromStr;

/// A supported ISO 4217 currency. Only currencies in [`TABLE`] can exist.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(&'static CurrencyInfo);

/// Facts about one currency.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CurrencyInfo {
    /// Lower-case ISO 4217 code, as Stripe writes it.
    pub code: &'static str,
    /// ISO 4217 minor-unit exponent: 0 (JPY), 2 (EUR) or 3 (BHD).
    pub exponent: u8,
    /// Smallest amount that may be charged, in minor units.
    pub minimum_charge: i64,
}

const fn c(code: &'static str, exponent: u8, minimum_charge: i64) -> CurrencyInfo {
    CurrencyInfo {
        code,
        exponent,
        minimum_charge,
    }
}

/// Every currency paylink accepts. Minimum charges follow Stripe's published
/// table where it has one; elsewhere one major unit (at least one minor unit).
pub static TABLE: &[CurrencyInfo] = &[
    c("aed", 2, 200),
    c("aud", 2, 50),
    c("bgn", 2, 100),
    c("bhd", 3, 1000),
    c("brl", 2, 50),
    c("cad", 2, 50),
    c("chf", 2, 50),
    c("clp", 0, 500),
    c("cny", 2, 400),
    c("czk", 2, 1500),
    c("dkk", 2, 250),
    c("eur", 2, 50),
    c("gbp", 2, 30),
    c("hkd", 2, 400),
    c("huf", 2, 17500),
    c("idr", 2, 1000000),
    c("ils", 2, 200),
    c("inr", 2, 50),
    c("isk", 0, 100),
    c("jod", 3, 1000),
    c("jpy", 0, 50),
    c("krw", 0, 500),
    c("kwd", 3, 200),
    c("mad", 2, 500),
    c("mxn", 2, 1000),
    c("myr", 2, 200),
    c("nok", 2, 300),
    c("nzd", 2, 50),
    c("omr", 3, 200),
    c("php", 2, 2500),
    c("pln", 2, 200),
    c("ron", 2, 200),
    c("rsd", 2, 5000),
    c("sar", 2, 200),
    c("sek", 2, 300),
    c("sgd", 2, 50),
    c("thb", 2, 1000),
    c("tnd", 3, 1000),
    c("try", 2, 1000),
    c("twd", 2, 1500),
    c("uah", 2, 2000),
    c("ugx", 0, 2000),
    c("usd", 2, 50),
    c("vnd", 0, 10000),
    c("xaf", 0, 300),
    c("xof", 0, 300),
    c("zar", 2, 1000),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Invalid currency: {0}. Use a supported three-letter ISO 4217 code such as usd, eur or jpy."
)]
pub struct UnknownCurrency(pub String);

impl Currency {
    pub fn code(self) -> &'static str {
        self.0.code
    }
    pub fn exponent(self) -> u8 {
        self.0.exponent
    }
    pub fn minimum_charge(self) -> i64 {
        self.0.minimum_charge
    }
    pub fn all() -> impl Iterator<Item = Currency> {
        TABLE.iter().map(Currency)
    }
    /// Formats an amount in minor units as a plain decimal, e.g. `12.50`,
    /// `1250` (JPY) or `1.250` (BHD), with the code upper-cased after it.
    pub fn format(self, minor: i64) -> String {
        let exp = u32::from(self.exponent());
        let sign = if minor < 0 { "-" } else { "" };
        let abs = minor.unsigned_abs();
        let code = self.code().to_ascii_uppercase();
        if exp == 0 {
            return format!("{sign}{abs} {code}");
        }
        let div = 10u64.pow(exp);
        format!(
            "{sign}{}.{:0width$} {code}",
            abs / div,
            abs % div,
            width = exp as usize
        )
    }
}

impl FromStr for Currency {
    type Err = UnknownCurrency;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        TABLE
            .iter()
            .find(|i| i.code == lower)
            .map(Currency)
            .ok_or_else(|| UnknownCurrency(s.chars().take(16).collect()))
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.0.code)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.code)
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_exponents() {
        assert_eq!("JPY".parse::<Currency>().map(|c| c.exponent()), Ok(0));
        assert_eq!("eur".parse::<Currency>().map(|c| c.exponent()), Ok(2));
        assert_eq!("bhd".parse::<Currency>().map(|c| c.exponent()), Ok(3));
    }

    #[test]
    fn unknown_currency_is_rejected() {
        assert!("xyz".parse::<Currency>().is_err());
        assert!("".parse::<Currency>().is_err());
        assert!("euro".parse::<Currency>().is_err());
    }

    #[test]
    fn table_is_sorted_and_unique() {
        let codes: Vec<_> = TABLE.iter().map(|c| c.code).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted);
        assert!(TABLE
            .iter()
            .all(|c| c.minimum_charge >= 1 && c.code.len() == 3));
    }

    #[test]
    fn formats_by_exponent() -> Result<(), UnknownCurrency> {
        assert_eq!("usd".parse::<Currency>()?.format(1250), "12.50 USD");
        assert_eq!("jpy".parse::<Currency>()?.format(1250), "1250 JPY");
        assert_eq!("bhd".parse::<Currency>()?.format(1250), "1.250 BHD");
        assert_eq!("eur".parse::<Currency>()?.format(5), "0.05 EUR");
        Ok(())
    }
}
