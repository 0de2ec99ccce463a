//! An uploaded product image: judged by its bytes, decoded within memory
//! limits and re-encoded, or refused; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(clean) = paylink_web::files::clean_image(data) {
        // What is kept is itself an image the checker accepts.
        assert!(paylink_web::files::clean_image(&clean.bytes).is_ok());
    }
});
