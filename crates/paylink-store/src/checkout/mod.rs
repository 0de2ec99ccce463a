//! Checkout sessions, payments, customers and refunds.
//!
//! Limits hold under any interleaving because each is *reserved* inside
//! the transaction that opens a session, with a conditional UPDATE that
//! only succeeds while the limit has room (or a unique claim, for
//! first-purchase codes): a link's completed-sessions limit, a promotion
//! code's and a coupon's `max_redemptions`. Completion turns the
//! reservation into a count; expiry gives it back. A provider event is
//! recorded under a unique key in the same transaction that completes the
//! session, so it takes effect once however often it is delivered.
//!
//! By aggregate: [`sessions`] (opening, expiry), [`completion`] (a paid
//! event), [`payments`], [`customers`], [`refunds`], and [`retention`]
//! (what the purge erases).

pub mod completion;
pub mod customers;
pub mod payments;
pub mod refunds;
pub mod retention;
pub mod sessions;

pub use completion::{Completion, FailedEvent, PaidEvent};
pub use refunds::NewRefund;
pub use sessions::{OpenRefusal, SessionFilter};

use paylink_domain::checkout::{Address, CheckoutSession};

use crate::error::StoreError;
use crate::vault::FieldKey;

/// The start of the statement that erases a session's buyer (on request
/// or when its retention ends): every personal column emptied, the
/// custom-field answers bound next (a sealed empty list).
const ERASE_BUYER: &str = "UPDATE checkout_sessions SET redacted = 1, customer_email = NULL, customer_name = NULL, customer_phone = NULL, customer_address = NULL, shipping_details = NULL, custom_fields = ";

/// A person's fields, in the clear.
struct Person<'a> {
    email: Option<&'a str>,
    name: Option<&'a str>,
    phone: Option<&'a str>,
    address: Option<&'a Address>,
}

impl<'a> Person<'a> {
    /// The buyer a checkout session names.
    fn buyer_of(s: &'a CheckoutSession) -> Self {
        Person {
            email: s.customer_email.as_deref(),
            name: s.customer_name.as_deref(),
            phone: s.customer_phone.as_deref(),
            address: s.customer_address.as_ref(),
        }
    }
}

/// The sealed form of a person's fields in `cols` of `table`, row `id`.
fn seal_person(
    k: &FieldKey,
    table: &str,
    cols: [&str; 4],
    id: &str,
    p: Person<'_>,
) -> Result<[Option<String>; 4], StoreError> {
    let place = |c: &str| format!("{table}.{c}:{id}");
    Ok([
        k.seal_opt(&place(cols[0]), p.email)?,
        k.seal_opt(&place(cols[1]), p.name)?,
        k.seal_opt(&place(cols[2]), p.phone)?,
        k.seal_opt(&place(cols[3]), p.address.map(json).transpose()?.as_deref())?,
    ])
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    Ok(serde_json::to_string(v)?)
}
