//! A JSON request body: parsed or refused, never a panic (deep nesting
//! included).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = paylink_web::params::parse_json(data) {
        let _ = v.to_string();
    }
});
