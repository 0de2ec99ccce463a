//! Checkout sessions, payments, customers and refunds: their states and the
//! arithmetic of an order. Pure rules; the store persists them.

use serde::{Deserialize, Serialize};

use crate::catalog::Metadata;
use crate::currency::Currency;
use crate::money::{Discount, Money, MoneyError};

/// A session expires 24 hours after it was opened (Stripe's default).
pub const SESSION_TTL_SECS: i64 = 24 * 3600;

/// A session that holds a scarce place (a limited link's, a limited promotion
/// code's or coupon's, a first-purchase claim) expires after 30 minutes, so
/// nobody can keep a limited offer from real buyers by opening checkouts.
pub const SCARCE_HOLD_SECS: i64 = 30 * 60;

/// A session holding a scarce place whose buyer has not reached the
/// provider's page within this time is released (security review, finding
/// 10: unauthenticated openings held a limited link away from buyers).
/// Reaching the page extends the hold to [`SCARCE_HOLD_SECS`].
pub const UNREACHED_HOLD_SECS: i64 = 5 * 60;

/// How long a new session lives: short when it holds a scarce place, until
/// its buyer reaches the provider's page (then [`SCARCE_HOLD_SECS`] from
/// its opening).
pub fn session_ttl(holds_scarce_place: bool) -> i64 {
    if holds_scarce_place {
        UNREACHED_HOLD_SECS
    } else {
        SESSION_TTL_SECS
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Open => "open",
            SessionStatus::Complete => "complete",
            SessionStatus::Expired => "expired",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(SessionStatus::Open),
            "complete" => Some(SessionStatus::Complete),
            "expired" => Some(SessionStatus::Expired),
            _ => None,
        }
    }
    /// Only an open session moves, and only to complete or expired.
    pub fn can_become(self, next: SessionStatus) -> bool {
        self == SessionStatus::Open && next != SessionStatus::Open
    }
}

/// One line of an order, as priced when the session was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub id: String,
    pub price: String,
    pub product: String,
    pub description: String,
    pub quantity: i64,
    pub unit_amount: i64,
    pub amount_subtotal: i64,
    pub amount_discount: i64,
    pub amount_total: i64,
}

/// The amounts of an order, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: Money,
    pub discount: Money,
    pub total: Money,
}

/// Prices an order: each line's subtotal, the discount spread over the
/// lines in proportion to their subtotals (the rounding remainder goes to
/// the last discounted line, so lines add up to the order exactly), and the
/// total. `lines` holds (unit amount, quantity) with `amount_subtotal` etc.
/// filled in by this function.
pub fn price_order(
    currency: Currency,
    lines: &mut [OrderLine],
    discount: Option<Discount>,
) -> Result<Totals, MoneyError> {
    let mut subtotal = Money::zero(currency);
    for l in lines.iter_mut() {
        let line = Money::new(l.unit_amount, currency)?.checked_mul(l.quantity)?;
        l.amount_subtotal = line.amount();
        subtotal = subtotal.checked_add(line)?;
    }
    let discount = match discount {
        Some(d) => d.amount_off(subtotal)?,
        None => Money::zero(currency),
    };
    let mut left = discount.amount();
    let count = lines.len();
    for (i, l) in lines.iter_mut().enumerate() {
        let share = if i + 1 == count || subtotal.amount() == 0 {
            left
        } else {
            let s = i128::from(discount.amount()) * i128::from(l.amount_subtotal)
                / i128::from(subtotal.amount());
            i64::try_from(s)
                .map_err(|_| MoneyError::Overflow)?
                .min(left)
        };
        let share = share.min(l.amount_subtotal);
        l.amount_discount = share;
        l.amount_total = l.amount_subtotal - share;
        left -= share;
    }
    let total = subtotal.checked_sub(discount)?;
    Ok(Totals {
        subtotal,
        discount,
        total,
    })
}

/// A buyer's postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
}

/// Where a buyer has an order shipped (Stripe's `shipping_details`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingDetails {
    pub name: String,
    pub address: Address,
}

/// A buyer's answer to a link's custom field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomFieldAnswer {
    pub key: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: Option<String>,
    /// The question as it was asked (its label, options and bounds), kept
    /// with the answer: a link's questions may change after its sessions.
    /// None in sessions recorded before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<crate::catalog::CustomField>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: String,
    pub livemode: bool,
    pub created: i64,
    pub expires_at: i64,
    /// The link whose page opened it; None for a session the merchant
    /// created through `POST /v1/checkout/sessions`.
    pub payment_link: Option<String>,
    pub status: SessionStatus,
    pub paid: bool,
    pub currency: Currency,
    pub amount_subtotal: i64,
    pub amount_discount: i64,
    pub amount_total: i64,
    pub promotion_code: Option<String>,
    pub coupon: Option<String>,
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    pub customer_address: Option<Address>,
    pub custom_fields: Vec<CustomFieldAnswer>,
    /// The shipping address the buyer gave, if the page asked for one.
    pub shipping_details: Option<ShippingDetails>,
    /// The buyer accepted the merchant's terms of service (the page asked).
    pub terms_accepted: bool,
    pub line_items: Vec<OrderLine>,
    pub metadata: Metadata,
    pub customer: Option<String>,
    pub payment_intent: Option<String>,
    pub provider: String,
    pub provider_ref: Option<String>,
    /// The merchant's own reference (Stripe's `client_reference_id`).
    pub client_reference_id: Option<String>,
    /// What the page of a session created through the API offers; None
    /// for a link's session (its link says it).
    pub offer: Option<SessionOffer>,
    /// When its buyer submitted the page (an API-created session is open
    /// before anyone sees it; a link's session is opened by the buyer).
    pub submitted_at: Option<i64>,
    /// What its payment carries (its link's, or its creation's).
    pub payment_intent_data: Option<crate::catalog::PaymentIntentData>,
    /// What its link's page offered as it opened (None for an API-created
    /// session, whose offer says it, and for link sessions opened before
    /// this was kept).
    pub link_page: Option<PageSettings>,
}

/// What a session's page offered, as Stripe reports it on the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageSettings {
    pub allow_promotion_codes: bool,
    pub billing_address_collection: String,
    pub phone_number_collection: bool,
    pub submit_type: String,
    #[serde(default)]
    pub custom_text: crate::catalog::CustomText,
    #[serde(default)]
    pub shipping_address_collection: Option<crate::catalog::ShippingAddressCollection>,
    #[serde(default)]
    pub consent_terms: bool,
    /// Where the buyer goes after paying (None: paylink's confirmation).
    pub success_url: Option<String>,
}

impl PageSettings {
    /// What a link's page offers.
    pub fn of_link(l: &crate::catalog::PaymentLink) -> PageSettings {
        PageSettings {
            allow_promotion_codes: l.allow_promotion_codes,
            billing_address_collection: l.billing_address_collection.clone(),
            phone_number_collection: l.phone_number_collection,
            submit_type: l.submit_type.clone(),
            custom_text: l.custom_text.clone(),
            shipping_address_collection: l.shipping_address_collection.clone(),
            consent_terms: l.consent_terms,
            success_url: match &l.after_completion {
                crate::catalog::AfterCompletion::Redirect { url } => Some(url.clone()),
                crate::catalog::AfterCompletion::HostedConfirmation { .. } => None,
            },
        }
    }
}

/// What a session created through `POST /v1/checkout/sessions` sells and
/// asks, as a payment link would: its page is the link page's, built from
/// this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionOffer {
    pub line_items: Vec<crate::catalog::LinkLineItem>,
    pub allow_promotion_codes: bool,
    pub billing_address_collection: String,
    pub phone_number_collection: bool,
    pub submit_type: String,
    pub custom_fields: Vec<crate::catalog::CustomField>,
    /// Where the buyer goes after paying; `{CHECKOUT_SESSION_ID}` is
    /// replaced. None: paylink's confirmation page.
    pub success_url: Option<String>,
    /// Where the buyer goes who leaves the payment page.
    pub cancel_url: Option<String>,
    /// The buyer's email as the merchant set it (read-only on the page).
    #[serde(default)]
    pub customer_email: Option<String>,
    #[serde(default)]
    pub custom_text: crate::catalog::CustomText,
    #[serde(default)]
    pub shipping_address_collection: Option<crate::catalog::ShippingAddressCollection>,
    #[serde(default)]
    pub consent_terms: bool,
    /// The discount the merchant set (`discounts[0]`): applied on the
    /// page, reserved when the buyer submits it.
    #[serde(default)]
    pub discount: Option<OfferDiscount>,
    /// The page's language as the merchant set it (`auto` or English;
    /// None: unset, the buyer's browser decides how amounts read).
    #[serde(default)]
    pub locale: Option<String>,
}

/// A discount an API-created session carries: a coupon, or a promotion
/// code (with its coupon).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferDiscount {
    pub coupon: String,
    pub promotion_code: Option<String>,
}

impl CheckoutSession {
    /// What its page offered: an API-created session's from its creation,
    /// a link's as the link was when it opened.
    /// (An API session's goes through the link its page is built as, so
    /// one mapping serves both kinds.)
    pub fn page_settings(&self) -> Option<PageSettings> {
        match self.offer_page(self.created) {
            Some(page) => Some(PageSettings::of_link(&page)),
            None => self.link_page.clone(),
        }
    }

    /// The page configuration of an API-created session, in the shape of
    /// the payment link the checkout page renders: it takes buyers while
    /// the session is open, unsubmitted and not past its expiry.
    pub fn offer_page(&self, now: i64) -> Option<crate::catalog::PaymentLink> {
        let o = self.offer.as_ref()?;
        Some(crate::catalog::PaymentLink {
            id: self.id.clone(),
            livemode: self.livemode,
            created: self.created,
            active: self.status == SessionStatus::Open
                && self.submitted_at.is_none()
                && now < self.expires_at,
            currency: self.currency,
            line_items: o.line_items.clone(),
            allow_promotion_codes: o.allow_promotion_codes,
            after_completion: match &o.success_url {
                Some(url) => crate::catalog::AfterCompletion::Redirect { url: url.clone() },
                None => crate::catalog::AfterCompletion::HostedConfirmation {
                    custom_message: None,
                },
            },
            inactive_message: None,
            completed_sessions_limit: None,
            completed_sessions_count: 0,
            custom_fields: o.custom_fields.clone(),
            billing_address_collection: o.billing_address_collection.clone(),
            phone_number_collection: o.phone_number_collection,
            submit_type: o.submit_type.clone(),
            metadata: self.metadata.clone(),
            slug: None,
            payment_intent_data: self.payment_intent_data.clone(),
            custom_text: o.custom_text.clone(),
            shipping_address_collection: o.shipping_address_collection.clone(),
            consent_terms: o.consent_terms,
        })
    }
}

/// Longest `client_reference_id` (Stripe's limit).
pub const CLIENT_REFERENCE_MAX: usize = 200;

/// A `client_reference_id` as Stripe accepts it: 1 to 200 letters, digits,
/// dashes and underscores. Stripe drops an invalid one from a link's URL
/// and the page still works; so does paylink (`None`).
pub fn client_reference(raw: &str) -> Option<String> {
    let ok = !raw.is_empty()
        && raw.len() <= CLIENT_REFERENCE_MAX
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| raw.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    pub id: String,
    pub livemode: bool,
    pub created: i64,
    pub amount: i64,
    pub amount_refunded: i64,
    pub currency: Currency,
    pub status: String,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub customer: Option<String>,
    pub checkout_session: String,
    /// None for the payment of an API-created session.
    pub payment_link: Option<String>,
    pub metadata: Metadata,
    /// Why the last attempt failed (Stripe's `last_payment_error`),
    /// cleared when a later attempt succeeds.
    pub last_payment_error: Option<PaymentError>,
    pub description: Option<String>,
    pub statement_descriptor: Option<String>,
    /// When it was canceled (its session expired unpaid).
    pub canceled_at: Option<i64>,
}

/// A declined or failed attempt, as the provider reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentError {
    /// Stripe's error code (`card_declined`,
    /// `payment_intent_authentication_failure`, …).
    pub code: String,
    /// The card issuer's reason (`generic_decline`, `insufficient_funds`).
    pub decline_code: Option<String>,
    /// For the buyer.
    pub message: String,
}

impl PaymentIntent {
    /// How much may still be refunded.
    pub fn refundable(&self) -> i64 {
        (self.amount - self.amount_refunded).max(0)
    }
}

/// Checks a refund of `amount` (all that is left when `None`) against what
/// remains; returns the amount to refund.
pub fn refund_amount(pi: &PaymentIntent, amount: Option<i64>) -> Result<i64, String> {
    let left = pi.refundable();
    if pi.status != "succeeded" {
        return Err(format!(
            "PaymentIntent {} has not succeeded, so it can't be refunded.",
            pi.id
        ));
    }
    if left == 0 {
        return Err(format!(
            "Charge for PaymentIntent {} has already been refunded.",
            pi.id
        ));
    }
    let a = amount.unwrap_or(left);
    if a < 1 {
        return Err("The refund amount must be at least 1.".into());
    }
    if a > left {
        return Err(format!(
            "Refund amount ({a}) is greater than the amount that can still be refunded ({left})."
        ));
    }
    Ok(a)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: String,
    pub livemode: bool,
    pub created: i64,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<Address>,
    pub metadata: Metadata,
    /// The merchant's note about them (personal data: sealed).
    pub description: Option<String>,
    /// Where their orders ship (sealed).
    pub shipping: Option<CustomerShipping>,
    /// Their languages, most preferred first (language tags).
    pub preferred_locales: Vec<String>,
}

/// A customer's shipping details (Stripe's `shipping`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerShipping {
    pub name: String,
    pub phone: Option<String>,
    pub address: Address,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    pub livemode: bool,
    pub created: i64,
    pub payment_intent: String,
    pub amount: i64,
    pub currency: Currency,
    pub reason: Option<String>,
    pub status: String,
    pub metadata: Metadata,
}

/// The key a buyer's email is found by (case-insensitive).
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

impl crate::id::Object for CheckoutSession {
    const KIND: crate::IdKind = crate::IdKind::CheckoutSession;
    const NAME: &'static str = "checkout.session";
}

impl crate::id::Object for PaymentIntent {
    const KIND: crate::IdKind = crate::IdKind::PaymentIntent;
    const NAME: &'static str = "payment_intent";
}

impl crate::id::Object for Refund {
    const KIND: crate::IdKind = crate::IdKind::Refund;
    const NAME: &'static str = "refund";
}

impl crate::id::Object for Customer {
    const KIND: crate::IdKind = crate::IdKind::Customer;
    const NAME: &'static str = "customer";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::PercentOff;

    fn line(unit: i64, qty: i64) -> OrderLine {
        OrderLine {
            id: "li".into(),
            price: "p".into(),
            product: "prod".into(),
            description: "d".into(),
            quantity: qty,
            unit_amount: unit,
            amount_subtotal: 0,
            amount_discount: 0,
            amount_total: 0,
        }
    }

    fn eur() -> Currency {
        "eur".parse().unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn discount_is_spread_and_adds_up() -> Result<(), MoneyError> {
        let mut lines = vec![line(1000, 3), line(333, 1), line(1, 1)];
        let pct = Discount::Percent(PercentOff::parse("10").unwrap_or_else(|_| unreachable!()));
        let t = price_order(eur(), &mut lines, Some(pct))?;
        assert_eq!(t.subtotal.amount(), 3334);
        assert_eq!(t.discount.amount(), 333);
        assert_eq!(t.total.amount(), 3001);
        assert_eq!(lines.iter().map(|l| l.amount_discount).sum::<i64>(), 333);
        assert_eq!(lines.iter().map(|l| l.amount_total).sum::<i64>(), 3001);
        assert!(lines
            .iter()
            .all(|l| l.amount_total >= 0 && l.amount_discount <= l.amount_subtotal));
        Ok(())
    }

    #[test]
    fn amount_off_larger_than_order_gives_zero_total() -> Result<(), MoneyError> {
        let mut lines = vec![line(300, 1)];
        let t = price_order(
            eur(),
            &mut lines,
            Some(Discount::Amount(Money::new(500, eur())?)),
        )?;
        assert_eq!((t.discount.amount(), t.total.amount()), (300, 0));
        Ok(())
    }

    #[test]
    fn state_machine() {
        assert!(SessionStatus::Open.can_become(SessionStatus::Complete));
        assert!(SessionStatus::Open.can_become(SessionStatus::Expired));
        assert!(!SessionStatus::Complete.can_become(SessionStatus::Expired));
        assert!(!SessionStatus::Expired.can_become(SessionStatus::Complete));
        assert!(!SessionStatus::Open.can_become(SessionStatus::Open));
    }

    #[test]
    fn refunds_never_exceed_what_is_left() {
        let mut pi = PaymentIntent {
            id: "pi".into(),
            livemode: false,
            created: 0,
            amount: 1000,
            amount_refunded: 0,
            currency: eur(),
            status: "succeeded".into(),
            card_brand: None,
            card_last4: None,
            customer: None,
            checkout_session: "cs".into(),
            payment_link: Some("pl".into()),
            metadata: Metadata::default(),
            last_payment_error: None,
            description: None,
            statement_descriptor: None,
            canceled_at: None,
        };
        assert_eq!(refund_amount(&pi, None), Ok(1000));
        assert_eq!(refund_amount(&pi, Some(400)), Ok(400));
        pi.amount_refunded = 700;
        assert!(refund_amount(&pi, Some(400)).is_err());
        assert_eq!(refund_amount(&pi, None), Ok(300));
        assert!(refund_amount(&pi, Some(0)).is_err());
        pi.amount_refunded = 1000;
        assert!(refund_amount(&pi, None).is_err());
    }
}
