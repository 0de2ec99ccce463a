//! Money and currency parsing: currency codes, percentages, amounts in
//! minor units and their arithmetic and formatting never panic, and what
//! parses prints back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paylink_domain::{Currency, Discount, Money, PercentOff};

fuzz_target!(|input: (&str, &str, i64, i64)| {
    let (code, percent, amount, quantity) = input;
    if let Ok(c) = code.parse::<Currency>() {
        assert_eq!(c.code().parse::<Currency>().ok(), Some(c));
        let _ = c.format(amount);
        if let Ok(m) = Money::new(amount, c) {
            let _ = m.checked_mul(quantity);
            let _ = m.checked_add(m);
            let _ = m.checked_sub(m);
            let _ = m.chargeable();
            if let Ok(p) = PercentOff::parse(percent) {
                if let Ok(off) = Discount::Percent(p).amount_off(m) {
                    assert!(off.amount() <= m.amount());
                    assert!(m.amount() < 0 || off.amount() >= 0);
                }
            }
            if let Ok(other) = Money::new(quantity, c) {
                if let Ok(off) = Discount::Amount(other).amount_off(m) {
                    assert!(off.amount() <= m.amount().max(0));
                }
            }
        }
    }
    if let Ok(p) = PercentOff::parse(percent) {
        assert_eq!(PercentOff::parse(&p.to_decimal_string()).ok(), Some(p));
    }
});
