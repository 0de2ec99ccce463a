//! Scrubbing of text bound for logs: card-like numbers (13 to 19 digits,
//! possibly grouped by spaces or dashes, that pass the Luhn check) and email
//! addresses are replaced by markers, whatever field they hide in.

use std::borrow::Cow;

pub const PAN_MARK: &str = "[REDACTED-PAN]";
pub const EMAIL_MARK: &str = "[REDACTED-EMAIL]";

fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(*d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

fn is_email_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

/// Whether `text` holds a run of 13 or more digits, single spaces or
/// dashes allowed between them: what a card number could be. Most log
/// lines hold none (a timestamp's digits are split by `:`, `.` and `T`),
/// and skip the scrub's slow path.
fn has_long_digit_run(text: &str) -> bool {
    let b = text.as_bytes();
    let mut run = 0;
    for (i, c) in b.iter().enumerate() {
        if c.is_ascii_digit() {
            run += 1;
            if run >= 13 {
                return true;
            }
        } else if (*c == b' ' || *c == b'-')
            && run > 0
            && b.get(i + 1).is_some_and(u8::is_ascii_digit)
        {
            // A separator inside the run.
        } else {
            run = 0;
        }
    }
    false
}

/// Replaces card-like numbers and email addresses in `text`.
// Long: one pass over the text with its scanner state (digit runs, email runs);
// split, that state would be passed around.
pub fn scrub(text: &str) -> Cow<'_, str> {
    if !text.bytes().any(|b| b == b'@') && !has_long_digit_run(text) {
        return Cow::Borrowed(text);
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars.get(i).copied().unwrap_or(' ');
        // A run of digits, allowing single spaces or dashes between them.
        if c.is_ascii_digit()
            && (i == 0 || !chars.get(i - 1).is_some_and(char::is_ascii_alphanumeric))
        {
            let mut j = i;
            let mut digits = Vec::new();
            let mut end = i;
            while j < chars.len() {
                let cj = chars.get(j).copied().unwrap_or(' ');
                if let Some(d) = cj.to_digit(10) {
                    digits.push(u8::try_from(d).unwrap_or(0));
                    end = j + 1;
                    j += 1;
                } else if (cj == ' ' || cj == '-')
                    && chars.get(j + 1).is_some_and(char::is_ascii_digit)
                    && digits.len() < 19
                {
                    j += 1;
                } else {
                    break;
                }
            }
            let bounded = !chars.get(end).is_some_and(char::is_ascii_alphanumeric);
            if (13..=19).contains(&digits.len()) && bounded && luhn(&digits) {
                out.push_str(PAN_MARK);
                i = end;
                continue;
            }
            let run: String = chars.get(i..end).unwrap_or(&[]).iter().collect();
            out.push_str(&run);
            i = end.max(i + 1);
            continue;
        }
        if c == '@' {
            // Walk back over the local part already written, forward over the domain.
            let mut local = 0;
            for ch in out.chars().rev() {
                if is_email_char(ch) {
                    local += 1;
                } else {
                    break;
                }
            }
            let mut j = i + 1;
            let mut dot = false;
            while j < chars.len()
                && chars
                    .get(j)
                    .is_some_and(|ch| ch.is_ascii_alphanumeric() || *ch == '-' || *ch == '.')
            {
                if chars.get(j) == Some(&'.')
                    && chars.get(j + 1).is_some_and(char::is_ascii_alphanumeric)
                {
                    dot = true;
                }
                j += 1;
            }
            if local > 0 && dot {
                for _ in 0..local {
                    out.pop();
                }
                out.push_str(EMAIL_MARK);
                i = j;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_cards_and_emails() {
        assert_eq!(scrub("card 4242424242424242 ok"), "card [REDACTED-PAN] ok");
        assert_eq!(scrub("card=4242 4242 4242 4242,"), "card=[REDACTED-PAN],");
        assert_eq!(scrub("4000-0025-0000-3155"), PAN_MARK);
        assert_eq!(
            scrub("ann.b+x@example.co.uk said hi"),
            "[REDACTED-EMAIL] said hi"
        );
        assert_eq!(
            scrub("{\"email\":\"z@y.io\"}"),
            "{\"email\":\"[REDACTED-EMAIL]\"}"
        );
        // A log line's timestamp is no card number (the fast path).
        let line = "2026-12-07T23:29:39.322997Z INFO handled status=200";
        assert!(matches!(scrub(line), Cow::Borrowed(_)));
        assert_eq!(scrub("pan 4242-4242-4242-4242 x"), "pan [REDACTED-PAN] x");
        // Not card numbers: fails Luhn, too short, part of an id.
        assert_eq!(scrub("4242424242424241"), "4242424242424241");
        assert_eq!(scrub("1234567890"), "1234567890");
        assert_eq!(scrub("cs_4242424242424242x"), "cs_4242424242424242x");
        assert_eq!(scrub("time=1795000000123 ok"), "time=1795000000123 ok");
        assert_eq!(scrub("user@localhost"), "user@localhost");
        assert_eq!(scrub("plain text"), "plain text");
    }
}
