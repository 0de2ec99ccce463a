//! Rendering of domain objects in Stripe's shapes. Each shape is documented
//! in [`crate::openapi::components`], and a test checks every rendering
//! against its documentation.

use paylink_domain::catalog::{
    AfterCompletion, Coupon, LinkLineItem, PaymentLink, Price, Product, PromotionCode,
};
use paylink_domain::Discount;
use serde_json::{json, Value};

pub fn list(url: &str, data: Vec<Value>, has_more: bool) -> Value {
    json!({"object": "list", "data": data, "has_more": has_more, "url": url})
}

/// An event (`evt_…`) in Stripe's shape; `data.object` is the object as
/// the API rendered it when the event happened.
pub fn event(e: &paylink_store::events::Event) -> Value {
    e.to_api()
}

/// Renders the objects of the events the store writes, exactly as the API
/// renders them (given to the store by [`crate::AppState::new`]).
pub struct EventRenderer {
    pub public_url: String,
    pub clock: std::sync::Arc<dyn paylink_domain::Clock>,
}

impl paylink_store::events::Renderer for EventRenderer {
    fn product(&self, p: &Product) -> Value {
        product(p)
    }
    fn price(&self, p: &Price) -> Value {
        price(p, None)
    }
    fn payment_link(&self, l: &PaymentLink) -> Value {
        payment_link(l, &self.public_url, None)
    }
    fn checkout_session(&self, s: &paylink_domain::checkout::CheckoutSession) -> Value {
        checkout_session(s, None)
    }
    fn request_id(&self) -> Option<String> {
        crate::request_id::current()
    }
    fn now(&self) -> i64 {
        self.clock.now()
    }
}

pub fn deleted(object: &str, id: &str) -> Value {
    json!({"id": id, "object": object, "deleted": true})
}

pub fn product(p: &Product) -> Value {
    json!({
        "id": p.id,
        "object": "product",
        "active": p.active,
        "created": p.created,
        "updated": p.updated,
        "default_price": p.default_price,
        "description": p.description,
        "images": p.images,
        "livemode": p.livemode,
        "metadata": p.metadata,
        "name": p.name,
        "url": p.url,
    })
}

/// A price; `product` is the product object when expanded, else its id.
pub fn price(p: &Price, product: Option<Value>) -> Value {
    let custom = p
        .custom_unit_amount()
        .map(|c| json!({"minimum": c.minimum, "maximum": c.maximum, "preset": c.preset}));
    json!({
        "id": p.id,
        "object": "price",
        "active": p.active,
        "billing_scheme": "per_unit",
        "created": p.created,
        "currency": p.currency.code(),
        "custom_unit_amount": custom,
        "livemode": p.livemode,
        "lookup_key": p.lookup_key,
        "metadata": p.metadata,
        "nickname": p.nickname,
        "product": product.unwrap_or_else(|| json!(p.product)),
        "recurring": null,
        "tax_behavior": "unspecified",
        "type": "one_time",
        "unit_amount": p.unit_amount(),
        "unit_amount_decimal": p.unit_amount().map(|a| a.to_string()),
    })
}

/// `percent_off` as a JSON number (Stripe's shape), made from the exact
/// decimal text; money arithmetic never sees it.
fn percent_number(d: &str) -> Value {
    d.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

pub fn coupon(c: &Coupon, now: i64) -> Value {
    let (percent_off, amount_off, currency) = match c.discount {
        Discount::Percent(p) => (
            percent_number(&p.to_decimal_string()),
            Value::Null,
            Value::Null,
        ),
        Discount::Amount(m) => (Value::Null, json!(m.amount()), json!(m.currency().code())),
    };
    json!({
        "id": c.id,
        "object": "coupon",
        "amount_off": amount_off,
        "created": c.created,
        "currency": currency,
        "duration": "once",
        "duration_in_months": null,
        "livemode": c.livemode,
        "max_redemptions": c.max_redemptions,
        "metadata": c.metadata,
        "name": c.name,
        "percent_off": percent_off,
        "redeem_by": c.redeem_by,
        "times_redeemed": c.times_redeemed,
        "valid": c.valid(now),
    })
}

pub fn promotion_code(p: &PromotionCode) -> Value {
    let min = p.restrictions.minimum_amount;
    json!({
        "id": p.id,
        "object": "promotion_code",
        "active": p.active,
        "code": p.code,
        "created": p.created,
        "customer": null,
        "expires_at": p.expires_at,
        "livemode": p.livemode,
        "max_redemptions": p.max_redemptions,
        "metadata": p.metadata,
        "promotion": {"type": "coupon", "coupon": p.coupon},
        "restrictions": {
            "first_time_transaction": p.restrictions.first_time_transaction,
            "minimum_amount": min.map(|m| m.amount()),
            "minimum_amount_currency": min.map(|m| m.currency().code()),
        },
        "times_redeemed": p.times_redeemed,
    })
}

/// One line item of a payment link as Stripe's `item` object;
/// `description` is the product's name.
pub fn line_item(item: &LinkLineItem, price_obj: &Price, description: &str) -> Value {
    let subtotal = price_obj
        .unit_amount()
        .and_then(|a| a.checked_mul(item.quantity))
        .unwrap_or(0);
    json!({
        "id": item.id,
        "object": "item",
        "adjustable_quantity": item.adjustable_quantity.map(|a| json!({"enabled": a.enabled, "minimum": a.minimum, "maximum": a.maximum})),
        "amount_discount": 0,
        "amount_subtotal": subtotal,
        "amount_tax": 0,
        "amount_total": subtotal,
        "currency": price_obj.currency.code(),
        "description": description,
        "price": price(price_obj, None),
        "quantity": item.quantity,
    })
}

pub fn link_url(public_url: &str, l: &PaymentLink) -> String {
    format!("{public_url}/l/{}", l.slug.as_deref().unwrap_or(&l.id))
}

/// A payment link; `line_items` is present only when expanded.
pub fn payment_link(l: &PaymentLink, public_url: &str, line_items: Option<Value>) -> Value {
    let after = match &l.after_completion {
        AfterCompletion::HostedConfirmation { custom_message } => json!({
            "type": "hosted_confirmation",
            "hosted_confirmation": {"custom_message": custom_message},
            "redirect": null,
        }),
        AfterCompletion::Redirect { url } => json!({
            "type": "redirect",
            "hosted_confirmation": null,
            "redirect": {"url": url},
        }),
    };
    let restrictions = l.completed_sessions_limit.map(|limit| {
        json!({"completed_sessions": {"count": l.completed_sessions_count, "limit": limit}})
    });
    let mut v = json!({
        "id": l.id,
        "object": "payment_link",
        "active": l.active,
        "after_completion": after,
        "allow_promotion_codes": l.allow_promotion_codes,
        "billing_address_collection": l.billing_address_collection,
        "currency": l.currency.code(),
        "custom_fields": l.custom_fields,
        "inactive_message": l.inactive_message,
        "livemode": l.livemode,
        "metadata": l.metadata,
        "phone_number_collection": {"enabled": l.phone_number_collection},
        "restrictions": restrictions,
        "slug": l.slug,
        "submit_type": l.submit_type,
        "url": link_url(public_url, l),
    });
    if let (Some(items), Value::Object(m)) = (line_items, &mut v) {
        m.insert("line_items".into(), items);
    }
    v
}

use paylink_domain::checkout::{
    Address, CheckoutSession, Customer, OrderLine, PaymentIntent, Refund,
};

fn address(a: &Option<Address>) -> Value {
    a.as_ref().map_or(Value::Null, |a| {
        json!({"line1": a.line1, "line2": a.line2, "city": a.city, "postal_code": a.postal_code, "state": a.state, "country": a.country})
    })
}

/// A line of a session's order as Stripe's `item`.
pub fn order_line(l: &OrderLine, currency: &str, price_obj: Option<Value>) -> Value {
    json!({
        "id": l.id,
        "object": "item",
        "adjustable_quantity": null,
        "amount_discount": l.amount_discount,
        "amount_subtotal": l.amount_subtotal,
        "amount_tax": 0,
        "amount_total": l.amount_total,
        "currency": currency,
        "description": l.description,
        "price": price_obj.unwrap_or_else(|| json!(l.price)),
        "quantity": l.quantity,
    })
}

pub fn checkout_session(s: &CheckoutSession, line_items: Option<Value>) -> Value {
    let fields: Vec<Value> = s
        .custom_fields
        .iter()
        .map(|f| {
            let value = json!({"value": f.value});
            json!({
                "key": f.key,
                "type": f.kind,
                "text": if f.kind == "text" { value.clone() } else { Value::Null },
                "numeric": if f.kind == "numeric" { value.clone() } else { Value::Null },
                "dropdown": if f.kind == "dropdown" { value } else { Value::Null },
            })
        })
        .collect();
    let discounts: Vec<Value> = match (&s.promotion_code, &s.coupon) {
        (None, None) => Vec::new(),
        (p, c) => vec![json!({"coupon": c, "promotion_code": p})],
    };
    let mut v = json!({
        "id": s.id,
        "object": "checkout.session",
        "amount_subtotal": s.amount_subtotal,
        "amount_total": s.amount_total,
        "created": s.created,
        "currency": s.currency.code(),
        "custom_fields": fields,
        "customer": s.customer,
        "customer_details": {
            "email": s.customer_email,
            "name": s.customer_name,
            "phone": s.customer_phone,
            "address": address(&s.customer_address),
        },
        "discounts": discounts,
        "expires_at": s.expires_at,
        "livemode": s.livemode,
        "metadata": s.metadata,
        "mode": "payment",
        "payment_intent": s.payment_intent,
        "payment_link": s.payment_link,
        "payment_status": if s.paid { "paid" } else { "unpaid" },
        "status": s.status.as_str(),
        "total_details": {"amount_discount": s.amount_discount, "amount_shipping": 0, "amount_tax": 0},
    });
    if let (Some(items), Value::Object(m)) = (line_items, &mut v) {
        m.insert("line_items".into(), items);
    }
    v
}

pub fn payment_intent(p: &PaymentIntent) -> Value {
    json!({
        "id": p.id,
        "object": "payment_intent",
        "amount": p.amount,
        "amount_received": p.amount,
        "amount_refunded": p.amount_refunded,
        "created": p.created,
        "currency": p.currency.code(),
        "customer": p.customer,
        "livemode": p.livemode,
        "metadata": p.metadata,
        "payment_method_details": {"type": "card", "card": {"brand": p.card_brand, "last4": p.card_last4}},
        "payment_method_types": ["card"],
        "status": p.status,
    })
}

pub fn customer(c: &Customer) -> Value {
    json!({
        "id": c.id,
        "object": "customer",
        "address": address(&c.address),
        "created": c.created,
        "email": c.email,
        "livemode": c.livemode,
        "metadata": c.metadata,
        "name": c.name,
        "phone": c.phone,
    })
}

pub fn refund(r: &Refund) -> Value {
    json!({
        "id": r.id,
        "object": "refund",
        "amount": r.amount,
        "created": r.created,
        "currency": r.currency.code(),
        "metadata": r.metadata,
        "payment_intent": r.payment_intent,
        "reason": r.reason,
        "status": r.status,
    })
}

/// The account of a key, in the key's mode: settings, and what may be
/// shown of its provider connection (kind and last four, never the key).
pub fn account(
    id: &str,
    s: &paylink_store::accounts::AccountSettings,
    c: Option<&paylink_store::providers::Connection>,
) -> Value {
    json!({
        "id": id,
        "object": "account",
        "provider": c.map(|c| json!({"type": c.provider, "last4": c.last4, "account": c.provider_account, "connected": c.created})),
        "business_profile": {"name": s.name},
        "settings": {
            "branding": {"primary_color": s.primary_color},
            "card_payments": {"request_three_d_secure": if s.require_3ds { "any" } else { "automatic" }},
        },
    })
}
