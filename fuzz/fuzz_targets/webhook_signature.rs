//! A provider webhook's signature header and body: a forged header never
//! verifies, and a header we signed always does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paylink_crypto::Secret;
use paylink_providers::signature::{sign, verify};

fuzz_target!(|input: (&str, &[u8], i64)| {
    let (header, body, t) = input;
    let secret = Secret::new(b"whsec-fuzz-key-0123456789".to_vec());
    let now = 1_800_000_000;
    // Arbitrary headers must not panic; one that verifies must be the one
    // we would have made for that body.
    if verify(&secret, header, body, now) {
        let t = header
            .split(',')
            .filter_map(|p| p.trim().split_once('='))
            .filter(|(k, _)| *k == "t")
            .last()
            .and_then(|(_, v)| v.parse::<i64>().ok())
            .expect("a verified header names its time");
        let genuine = sign(&secret, t, body);
        let mac = genuine.rsplit("v1=").next().unwrap_or_default();
        assert!(header.contains(mac), "a forged header verified: {header}");
    }
    let t = now - t.rem_euclid(300);
    assert!(verify(&secret, &sign(&secret, t, body), body, now));
});
