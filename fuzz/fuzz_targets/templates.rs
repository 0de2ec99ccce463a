//! The buyer's pages with whatever a merchant typed: no text adds markup
//! (every `<` of the input is escaped), whatever it contains.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paylink_web::checkout::pages::{unavailable, Merchant};

fn tags(page: &str) -> usize {
    page.matches('<').count()
}

fuzz_target!(|input: (&str, &str)| {
    let (name, message) = input;
    let page = |name: &str, message: &str, session: bool| {
        unavailable(
            Some(message),
            session,
            &Merchant {
                name,
                color: "#4f46e5",
                livemode: false,
                nonce: "fuzz",
                terms_url: None,
            },
        )
    };
    for session in [false, true] {
        let typed = page(name, message, session);
        assert_eq!(tags(&typed), tags(&page("a", "b", session)), "{typed}");
        assert!(!typed.contains("<script"));
    }
});
