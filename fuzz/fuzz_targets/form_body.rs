//! A request body in Stripe's form encoding (brackets for nesting and
//! lists): parsed into a value or refused, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = paylink_web::params::parse_form(data) {
        // What was accepted is a JSON value that serialises.
        let _ = v.to_string();
    }
});
