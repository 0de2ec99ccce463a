//! HTML of the buyer's pages. maud escapes every interpolated value, so
//! nothing a merchant or buyer typed can become markup.

use maud::{html, Markup, DOCTYPE};
use paylink_domain::catalog::PaymentLink;
use paylink_domain::checkout::CheckoutSession;
use paylink_domain::locale::{self, Style};

use super::order::{field, Form, Order, PageLine};

pub const CSS: &str = "body{font-family:system-ui,sans-serif;background:#f9fafb;margin:0;color:#111827}\
header{padding:1rem 1.5rem;color:#fff;font-weight:600;background:var(--brand,#4f46e5)}.mt{margin-top:.6rem}main{max-width:34rem;margin:2rem auto;background:#fff;border-radius:12px;padding:1.5rem 2rem;box-shadow:0 1px 3px rgba(0,0,0,.1)}\
h1{font-size:1.3rem;margin:.2rem 0 1rem}.item{display:flex;justify-content:space-between;gap:1rem;padding:.75rem 0;border-bottom:1px solid #e5e7eb}\
.item .desc{color:#6b7280;font-size:.85rem}.item img{display:block;width:56px;height:56px;object-fit:cover;border-radius:6px;margin-bottom:.4rem}\
label{display:block;font-size:.85rem;margin:.75rem 0 .25rem;color:#374151}\
input,select{width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #d1d5db;border-radius:6px;font-size:1rem}\
input.qty{width:5rem}input[readonly]{background:#f3f4f6;color:#4b5563}input[aria-invalid=true],select[aria-invalid=true]{border-color:#dc2626}\
.err{color:#dc2626;font-size:.8rem;margin-top:.25rem}.ok{color:#047857;font-size:.8rem;margin-top:.25rem}\
.promo{display:flex;gap:.5rem;align-items:flex-end}.promo>div{flex:1}\
.totals{margin:1rem 0;font-size:.95rem}.totals div{display:flex;justify-content:space-between;padding:.2rem 0}.totals .total{font-weight:700;font-size:1.1rem}\
button{padding:.7rem 1rem;border:0;border-radius:6px;font-size:1rem;cursor:pointer}button.pay{width:100%;margin-top:1.25rem;color:#fff;background:var(--brand,#4f46e5)}\
button.secondary{background:#e5e7eb;color:#111827}a.button{display:inline-block;padding:.7rem 1rem;border-radius:6px;color:#fff;background:var(--brand,#4f46e5);text-decoration:none}.row{display:flex;gap:.75rem}.row>div{flex:1}.muted{color:#6b7280;font-size:.8rem}.note{font-size:.9rem;white-space:pre-line;margin:.75rem 0 0}\
label.check{display:flex;gap:.5rem;align-items:flex-start;font-size:.9rem;margin-top:1rem}label.check input{width:auto;margin:.15rem 0 0}\
fieldset{border:1px solid #e5e7eb;border-radius:8px;margin:1rem 0 0;padding:.25rem 1rem 1rem}legend{font-weight:600;padding:0 .3rem}\
.alert{background:#fef2f2;color:#991b1b;padding:.75rem;border-radius:6px;margin:.5rem 0}.badge{display:inline-block;background:#fef3c7;color:#92400e;font-size:.7rem;padding:.1rem .4rem;border-radius:4px}";

/// What the page shows about the merchant.
pub struct Merchant<'a> {
    pub name: &'a str,
    /// A `#rrggbb` colour (checked where it is set).
    pub color: &'a str,
    pub livemode: bool,
    /// The CSP nonce of this response's one inline `<style>`.
    pub nonce: &'a str,
    /// The merchant's terms of service, where a page asks to accept them.
    pub terms_url: Option<&'a str>,
}

pub fn layout(title: &str, merchant: &Merchant<'_>, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " — " (merchant.name) }
                link rel="stylesheet" href="/assets/checkout.css";
                style nonce=(merchant.nonce) { ":root{--brand:" (merchant.color) "}" }
            }
            body {
                header { (merchant.name) }
                main {
                    @if !merchant.livemode { span class="badge" { "TEST MODE" } }
                    (body)
                }
            }
        }
    }
    .into_string()
}

fn err(order: &Order, name: &str) -> Markup {
    html! { @if let Some(m) = order.errors.get(name) { div class="err" id={ (name) "-error" } role="alert" { (m) } } }
}

fn invalid(order: &Order, name: &str) -> bool {
    order.errors.contains_key(name)
}

/// The checkout page of a link (or of an API-created session, in a
/// link's shape), its form posting to `action`; `email_locked`: the
/// merchant set the buyer's email.
#[allow(clippy::too_many_arguments)]
// Long: one maud template: the markup reads top to bottom as the page it
// renders, and splitting it would scatter one page's HTML over several
// functions.
pub fn checkout(
    link: &PaymentLink,
    action: &str,
    email_locked: bool,
    merchant: &Merchant<'_>,
    lines: &[PageLine<'_>],
    order: &Order,
    form: &Form,
    promo_typed: &str,
    style: Style,
    public_url: &str,
    alert: Option<&str>,
) -> String {
    let fmt = |minor: i64| locale::format(minor, link.currency, style);
    let pay_word = match link.submit_type.as_str() {
        "donate" => "Donate",
        "book" => "Book",
        "subscribe" => "Subscribe",
        _ => "Pay",
    };
    let body = html! {
        h1 { "Checkout" }
        @if let Some(a) = alert { div class="alert" role="alert" { (a) } }
        form method="post" action=(action) novalidate {
            @if let Some(r) = &order.client_reference_id {
                input type="hidden" name="client_reference_id" value=(r);
            }
            @for (l, ol) in lines.iter().zip(order.lines.iter()) {
                div class="item" {
                    div {
                        @for img in l.product.images.iter().filter(|u| u.starts_with(public_url)).take(1) {
                            img src=(img) alt="";
                        }
                        strong { (l.product.name) }
                        @if let Some(d) = &l.product.description { div class="desc" { (d) } }
                        @if l.price.custom_unit_amount().is_none() {
                            div class="desc" { (fmt(ol.unit_amount)) " each" }
                        }
                        @if l.price.custom_unit_amount().is_some() {
                            label for="custom_amount" { "Amount (" (link.currency.code().to_ascii_uppercase()) ")" }
                            input id="custom_amount" name="custom_amount" inputmode="decimal" value=(field(form, "custom_amount")) aria-invalid=(invalid(order, "custom_amount"));
                            (err(order, "custom_amount"))
                        } @else if let Some(a) = l.item.adjustable_quantity.filter(|a| a.enabled) {
                            @let name = format!("quantity_{}", l.index);
                            label for=(name) { "Quantity" }
                            input class="qty" id=(name) name=(name) type="number" min=(a.minimum.unwrap_or(1)) max=(a.maximum.unwrap_or(99)) value=(ol.quantity) aria-invalid=(invalid(order, &name));
                            (err(order, &name))
                        } @else {
                            div class="desc" { "Quantity: " (ol.quantity) }
                        }
                    }
                    div { (fmt(ol.amount_subtotal)) }
                }
            }
            @if link.allow_promotion_codes {
                div class="promo" {
                    div {
                        label for="promo" { "Promotion code" }
                        input id="promo" name="promo" value=(promo_typed) autocomplete="off" aria-invalid=(invalid(order, "promo"));
                    }
                    button class="secondary" type="submit" name="action" value="apply" { "Apply" }
                }
                (err(order, "promo"))
                @if let Some(n) = &order.promo_note { div class="ok" { (n) } }
            } @else {
                button class="secondary mt" type="submit" name="action" value="apply" { "Update total" }
                (err(order, "promo"))
                @if let Some(n) = &order.promo_note { div class="ok" { (n) } }
            }
            @if let Some(t) = &order.totals {
                div class="totals" {
                    div { span { "Subtotal" } span id="subtotal" { (fmt(t.subtotal.amount())) } }
                    @if t.discount.amount() > 0 { div { span { "Discount" } span id="discount" { "−" (fmt(t.discount.amount())) } } }
                    div class="total" { span { "Total" } span id="total" { (fmt(t.total.amount())) } }
                }
            }
            (err(order, "total"))
            label for="email" { "Email" }
            input id="email" name="email" type="email" autocomplete="email" value=(field(form, "email")) aria-invalid=(invalid(order, "email")) readonly[email_locked] required;
            (err(order, "email"))
            @if link.billing_address_collection == "required" {
                label for="name" { "Full name" }
                input id="name" name="name" autocomplete="name" value=(field(form, "name")) aria-invalid=(invalid(order, "name"));
                (err(order, "name"))
                label for="line1" { "Address" }
                input id="line1" name="line1" autocomplete="address-line1" value=(field(form, "line1")) aria-invalid=(invalid(order, "line1"));
                (err(order, "line1"))
                input id="line2" class="mt" name="line2" autocomplete="address-line2" value=(field(form, "line2")) aria-label="Address line 2";
                div class="row" {
                    div { label for="postal_code" { "Postal code" } input id="postal_code" name="postal_code" autocomplete="postal-code" value=(field(form, "postal_code")) aria-invalid=(invalid(order, "postal_code")); (err(order, "postal_code")) }
                    div { label for="city" { "City" } input id="city" name="city" autocomplete="address-level2" value=(field(form, "city")) aria-invalid=(invalid(order, "city")); (err(order, "city")) }
                    div { label for="country" { "Country" } input id="country" name="country" autocomplete="country" maxlength="2" placeholder="FR" value=(field(form, "country")) aria-invalid=(invalid(order, "country")); (err(order, "country")) }
                }
            }
            @if let Some(c) = &link.shipping_address_collection {
                fieldset id="shipping" {
                    legend { "Shipping address" }
                    @if let Some(t) = &link.custom_text.shipping_address { p class="note" id="shipping-text" { (t) } }
                    label for="ship_name" { "Name" }
                    input id="ship_name" name="ship_name" autocomplete="shipping name" value=(field(form, "ship_name")) aria-invalid=(invalid(order, "ship_name"));
                    (err(order, "ship_name"))
                    label for="ship_country" { "Country" }
                    @let chosen = field(form, "ship_country");
                    @let only = c.allowed_countries.len() == 1;
                    select id="ship_country" name="ship_country" autocomplete="shipping country" aria-invalid=(invalid(order, "ship_country")) {
                        @if !only { option value="" { "Choose…" } }
                        @for code in &c.allowed_countries {
                            option value=(code) selected[only || chosen.eq_ignore_ascii_case(code)] {
                                (paylink_domain::countries::shipping_country(code).unwrap_or(code))
                            }
                        }
                    }
                    (err(order, "ship_country"))
                    label for="ship_line1" { "Address" }
                    input id="ship_line1" name="ship_line1" autocomplete="shipping address-line1" value=(field(form, "ship_line1")) aria-invalid=(invalid(order, "ship_line1"));
                    (err(order, "ship_line1"))
                    input id="ship_line2" class="mt" name="ship_line2" autocomplete="shipping address-line2" value=(field(form, "ship_line2")) aria-label="Shipping address line 2";
                    (err(order, "ship_line2"))
                    div class="row" {
                        div { label for="ship_postal_code" { "Postal code" } input id="ship_postal_code" name="ship_postal_code" autocomplete="shipping postal-code" value=(field(form, "ship_postal_code")) aria-invalid=(invalid(order, "ship_postal_code")); (err(order, "ship_postal_code")) }
                        div { label for="ship_city" { "City" } input id="ship_city" name="ship_city" autocomplete="shipping address-level2" value=(field(form, "ship_city")) aria-invalid=(invalid(order, "ship_city")); (err(order, "ship_city")) }
                    }
                    label for="ship_state" { "State or region (optional)" }
                    input id="ship_state" name="ship_state" autocomplete="shipping address-level1" value=(field(form, "ship_state")) aria-invalid=(invalid(order, "ship_state"));
                    (err(order, "ship_state"))
                }
            }
            @if link.phone_number_collection {
                label for="phone" { "Phone" }
                input id="phone" name="phone" type="tel" autocomplete="tel" value=(field(form, "phone")) aria-invalid=(invalid(order, "phone"));
                (err(order, "phone"))
            }
            @for f in &link.custom_fields {
                @let name = format!("custom_{}", f.key);
                label for=(name) { (f.label.custom) @if f.optional { " (optional)" } }
                @if let Some(d) = &f.dropdown {
                    select id=(name) name=(name) aria-invalid=(invalid(order, &name)) {
                        option value="" { "Choose…" }
                        @for o in &d.options {
                            @let chosen = field(form, &name);
                            @let selected = if chosen.is_empty() { d.default_value.as_deref() == Some(o.value.as_str()) } else { chosen == o.value };
                            option value=(o.value) selected[selected] { (o.label) }
                        }
                    }
                } @else {
                    @let default = if f.kind == "numeric" { f.numeric.as_ref().and_then(|b| b.default_value.clone()) } else { f.text.as_ref().and_then(|b| b.default_value.clone()) };
                    @let typed = field(form, &name);
                    input id=(name) name=(name) inputmode=[(f.kind == "numeric").then_some("numeric")] value=(if typed.is_empty() { default.unwrap_or_default() } else { typed }) aria-invalid=(invalid(order, &name));
                }
                (err(order, &name))
            }
            @if link.consent_terms {
                label class="check" for="terms" {
                    input id="terms" type="checkbox" name="terms" value="accepted" checked[field(form, "terms") == "accepted"] aria-invalid=(invalid(order, "terms"));
                    span {
                        @if let Some(t) = &link.custom_text.terms_of_service_acceptance { (t) " " }
                        @else { "I agree to the terms of service of " (merchant.name) ". " }
                        @if let Some(u) = merchant.terms_url { a href=(u) target="_blank" rel="noopener noreferrer" id="terms-link" { "Read the terms of service" } }
                    }
                }
                (err(order, "terms"))
            }
            @if let Some(t) = &link.custom_text.submit { p class="note" id="submit-text" { (t) } }
            button id="pay" class="pay" type="submit" name="action" value="pay" {
                (pay_word) @if let Some(t) = &order.totals { " " (fmt(t.total.amount())) }
            }
            @if let Some(t) = &link.custom_text.after_submit { p class="note" id="after-submit-text" { (t) } }
            p class="muted" { "You enter your card on the payment provider's secure page; " (merchant.name) " never sees your card number." }
        }
    };
    layout("Checkout", merchant, body)
}

/// A link (or an API-created session, `session`) that no longer takes
/// buyers.
pub fn unavailable(link_message: Option<&str>, session: bool, merchant: &Merchant<'_>) -> String {
    let (title, text) = if session {
        (
            "This checkout is no longer available",
            "It has expired or the shop closed it. Nothing was charged.",
        )
    } else {
        (
            "This link is no longer available",
            "This payment link is no longer available.",
        )
    };
    layout(
        "Unavailable",
        merchant,
        html! {
            h1 { (title) }
            p { (link_message.unwrap_or(text)) }
        },
    )
}

/// The buyer of an API-created session left the provider's page and the
/// shop gave no `cancel_url`: the way back to the same payment.
pub fn left_payment(s: &CheckoutSession, merchant: &Merchant<'_>) -> String {
    layout(
        "Payment not finished",
        merchant,
        html! {
            h1 id="left" { "Your payment is not finished" }
            p { "Nothing was charged. You can go back to the payment page to finish it, or close this page." }
            p { a class="button" href={ "/checkout/" (s.id) "/go" } { "Continue to payment" } }
            p class="muted" { "Reference: " (s.id) }
        },
    )
}

pub fn not_found() -> String {
    let m = Merchant {
        name: "paylink",
        color: "#374151",
        livemode: true,
        nonce: "",
        terms_url: None,
    };
    layout(
        "Not found",
        &m,
        html! { h1 { "Page not found" } p { "This payment page does not exist." } },
    )
}

/// After paying: confirmation, or "processing" while the provider's
/// confirmation is on its way, or expired.
pub fn confirmation(
    s: &CheckoutSession,
    merchant: &Merchant<'_>,
    message: Option<&str>,
    style: Style,
) -> (String, bool) {
    let fmt = |minor: i64| locale::format(minor, s.currency, style);
    match s.status {
        paylink_domain::checkout::SessionStatus::Complete => (
            layout(
                "Thank you",
                merchant,
                html! {
                    h1 id="confirmation" { "Thank you! Your payment was successful." }
                    p { "You paid " strong id="paid" { (fmt(s.amount_total)) } " to " (merchant.name) "." }
                    @if let Some(m) = message { p { (m) } }
                    p class="muted" { "Reference: " (s.id) }
                },
            ),
            false,
        ),
        paylink_domain::checkout::SessionStatus::Open => (
            layout(
                "Processing",
                merchant,
                html! {
                    h1 id="processing" { "Processing your payment…" }
                    p { "This page refreshes by itself once the payment is confirmed." }
                },
            ),
            true,
        ),
        paylink_domain::checkout::SessionStatus::Expired => (
            layout(
                "Expired",
                merchant,
                html! {
                    h1 { "This checkout has expired" }
                    p { "Nothing was charged: a payment that went through after it expired is refunded in full." }
                    @if s.payment_link.is_some() { p { "Open the payment link again to start over." } }
                },
            ),
            false,
        ),
    }
}
