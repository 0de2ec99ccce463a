//! Payment providers. paylink never sees a card number: the provider's
//! hosted page takes it. This crate holds what is provider-side, starting
//! with the card rules of the built-in `sim` provider (Luhn, expiry, CVC,
//! brand, and the outcome of each test card).

pub mod sim_cards;
