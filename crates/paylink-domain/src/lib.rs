//! Pure types and rules of paylink. No IO, no async, no web, database or
//! crypto crate: input becomes one of these types at the edge, and inside an
//! invalid value cannot exist.

pub mod access;
pub mod catalog;
pub mod checkout;
pub mod clock;
pub mod countries;
pub mod currency;
pub mod id;
pub mod locale;
pub mod money;
pub mod net;
pub mod redact;
pub mod roles;
pub mod search;

pub use clock::{Clock, ManualClock, SystemClock};
pub use currency::Currency;
pub use id::{AccountId, Id, IdKind, NotAnId, Object};
pub use money::{Discount, Money, MoneyError, PercentOff};
pub mod email;
pub use email::Email;
