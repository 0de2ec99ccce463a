//! The second factor as typed: any text is a refusal or a match of one
//! step, never a panic; base32 seeds decode and encode back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paylink_crypto::{totp, Secret};

fuzz_target!(|input: (&str, i64, Option<i64>)| {
    let (code, now, last) = input;
    let secret = Secret::new(b"12345678901234567890".to_vec());
    if let Some(step) = totp::verify(&secret, code, now, last) {
        assert!((step - totp::step(now)).abs() <= 1);
        assert!(last.is_none_or(|l| step > l));
    }
    if let Some(bytes) = totp::from_base32(code) {
        assert_eq!(totp::from_base32(&totp::base32(&bytes)), Some(bytes));
    }
});
