//! Formatting amounts for a buyer's language (from `Accept-Language`), and
//! parsing an amount a buyer typed. No floats: digits are placed by the
//! currency's exponent.

use crate::currency::Currency;

/// Number style of a language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    group: &'static str,
    decimal: char,
    symbol_first: bool,
}

const EN: Style = Style {
    group: ",",
    decimal: '.',
    symbol_first: true,
};
const DE: Style = Style {
    group: ".",
    decimal: ',',
    symbol_first: false,
};
const FR: Style = Style {
    group: "\u{202f}",
    decimal: ',',
    symbol_first: false,
};
const CH: Style = Style {
    group: "’",
    decimal: '.',
    symbol_first: false,
};

/// The style for the first supported language of an `Accept-Language`
/// header (English when none is supported).
pub fn style_for(accept_language: &str) -> Style {
    let mut tags: Vec<(f32, String)> = accept_language
        .split(',')
        .filter_map(|part| {
            let mut it = part.trim().split(';');
            let tag = it.next()?.trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            (!tag.is_empty()).then_some((q, tag))
        })
        .collect();
    tags.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    for (_, tag) in tags {
        let lang = tag.split('-').next().unwrap_or("");
        let style = match (lang, tag.as_str()) {
            (_, "de-ch") => Some(CH),
            ("en", _) => Some(EN),
            ("de" | "es" | "it" | "nl" | "pt" | "da" | "id" | "tr", _) => Some(DE),
            ("fr" | "sv" | "nb" | "no" | "fi" | "pl" | "cs" | "ru" | "uk", _) => Some(FR),
            ("ja" | "zh" | "ko" | "th" | "he", _) => Some(EN),
            _ => None,
        };
        if let Some(s) = style {
            return s;
        }
    }
    EN
}

fn symbol(c: Currency) -> String {
    match c.code() {
        "usd" => "$".into(),
        "eur" => "€".into(),
        "gbp" => "£".into(),
        "jpy" => "¥".into(),
        "inr" => "₹".into(),
        "krw" => "₩".into(),
        "cad" => "CA$".into(),
        "aud" => "A$".into(),
        other => other.to_ascii_uppercase(),
    }
}

fn group_digits(digits: &str, sep: &str) -> String {
    let n = digits.len();
    let mut out = String::with_capacity(n + n / 3 * sep.len());
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (n - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(ch);
    }
    out
}

/// Formats `minor` units of `currency` in `style`: `€1,234.50` (en),
/// `1.234,50 €` (de), `1 234,50 €` (fr), `¥1,250` (JPY).
pub fn format(minor: i64, currency: Currency, style: Style) -> String {
    let exp = u32::from(currency.exponent());
    let abs = minor.unsigned_abs();
    let div = 10u64.pow(exp);
    let int = group_digits(&(abs / div).to_string(), style.group);
    let number = if exp == 0 {
        int
    } else {
        format!(
            "{int}{}{:0width$}",
            style.decimal,
            abs % div,
            width = exp as usize
        )
    };
    let sign = if minor < 0 { "-" } else { "" };
    let sym = symbol(currency);
    if style.symbol_first {
        let sep = if sym.chars().count() > 1 && sym.chars().all(|c| c.is_ascii_uppercase()) {
            " "
        } else {
            ""
        };
        format!("{sign}{sym}{sep}{number}")
    } else {
        format!("{sign}{number}\u{a0}{sym}")
    }
}

/// Parses an amount typed in major units (`12`, `12.5`, `12,50`) into minor
/// units of `currency`; `None` when it is not a plain non-negative number
/// with at most the currency's number of decimals.
pub fn parse_major(input: &str, currency: Currency) -> Option<i64> {
    let s: String = input
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .collect();
    let s = s.replace(',', ".");
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let exp = usize::from(currency.exponent());
    if int.is_empty()
        || int.len() > 12
        || frac.len() > exp
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let scale = 10i64.checked_pow(u32::try_from(exp).ok()?)?;
    let frac_v: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<exp$}").parse().ok()?
    };
    int.parse::<i64>()
        .ok()?
        .checked_mul(scale)?
        .checked_add(frac_v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(code: &str) -> Currency {
        code.parse().unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn formats_by_language() {
        assert_eq!(
            format(123450, c("eur"), style_for("en-US,en;q=0.9")),
            "€1,234.50"
        );
        assert_eq!(
            format(123450, c("eur"), style_for("de-DE")),
            "1.234,50\u{a0}€"
        );
        assert_eq!(
            format(123450, c("eur"), style_for("fr-FR,fr;q=0.9")),
            "1\u{202f}234,50\u{a0}€"
        );
        assert_eq!(format(1250, c("jpy"), style_for("ja")), "¥1,250");
        assert_eq!(format(1250, c("bhd"), style_for("")), "BHD 1.250");
        assert_eq!(
            format(5, c("usd"), style_for("xx, de;q=0.5")),
            "0,05\u{a0}$"
        );
        assert_eq!(format(100, c("chf"), style_for("de-CH")), "1.00\u{a0}CHF");
    }

    #[test]
    fn parses_typed_amounts() {
        assert_eq!(parse_major("12", c("eur")), Some(1200));
        assert_eq!(parse_major("12,5", c("eur")), Some(1250));
        assert_eq!(parse_major(" 1 000.05 ", c("usd")), Some(100005));
        assert_eq!(parse_major("1250", c("jpy")), Some(1250));
        assert_eq!(parse_major("12.5", c("jpy")), None);
        assert_eq!(parse_major("1.255", c("eur")), None);
        assert_eq!(parse_major("1.255", c("bhd")), Some(1255));
        assert_eq!(parse_major("-1", c("eur")), None);
        assert_eq!(parse_major("abc", c("eur")), None);
        assert_eq!(parse_major("", c("eur")), None);
        assert_eq!(parse_major("99999999999999999", c("eur")), None);
    }
}
