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

/// A field Stripe has for a feature paylink does not offer, at its "off"
/// value: SDK code reading it works and is told the truth. The OpenAPI
/// document describes each from the same tables.
#[derive(Debug, Clone, Copy)]
pub enum Off {
    Null,
    Text(&'static str),
    Zero,
    False,
    Empty,
    /// `["card"]`: the one payment method.
    Cards,
}

impl Off {
    pub fn value(self) -> Value {
        match self {
            Off::Null => Value::Null,
            Off::Text(t) => json!(t),
            Off::Zero => json!(0),
            Off::False => json!(false),
            Off::Empty => json!([]),
            Off::Cards => json!(["card"]),
        }
    }
}

use Off::{Cards, Empty, Null, Text, Zero};

/// Payment links: no tax calculation, invoices, Connect fees, shipping
/// rates or subscriptions; every paying buyer becomes a customer.
pub const LINK_OFF: &[(&str, Off)] = &[
    ("application", Null),
    ("application_fee_amount", Null),
    ("application_fee_percent", Null),
    ("customer_creation", Text("always")),
    ("managed_payments", Null),
    ("name_collection", Null),
    ("on_behalf_of", Null),
    ("optional_items", Null),
    ("payment_method_collection", Text("always")),
    ("payment_method_options", Null),
    ("payment_method_types", Cards),
    ("shipping_options", Empty),
    ("subscription_data", Null),
    ("transfer_data", Null),
];

/// Checkout sessions (hosted, payment mode; made from a link).
pub const SESSION_OFF: &[(&str, Off)] = &[
    ("adaptive_pricing", Null),
    ("after_expiration", Null),
    ("allowed_payment_method_types", Null),
    ("billing_address_collection", Null),
    ("branding_settings", Null),
    ("cancel_url", Null),
    ("client_secret", Null),
    ("currency_conversion", Null),
    ("customer_account", Null),
    ("customer_creation", Text("always")),
    ("customer_email", Null),
    ("excluded_payment_method_types", Null),
    ("integration_identifier", Null),
    ("invoice", Null),
    ("invoice_creation", Null),
    ("locale", Null),
    ("managed_payments", Null),
    ("name_collection", Null),
    ("optional_items", Null),
    ("origin_context", Null),
    ("payment_method_collection", Text("always")),
    ("payment_method_configuration_details", Null),
    ("payment_method_options", Null),
    ("payment_method_types", Cards),
    ("permissions", Null),
    ("presentment_details", Null),
    ("recovered_from", Null),
    ("redirect_on_completion", Null),
    ("return_url", Null),
    ("saved_payment_method_options", Null),
    ("setup_intent", Null),
    ("shipping_cost", Null),
    ("shipping_options", Empty),
    ("submit_type", Null),
    ("subscription", Null),
    ("success_url", Null),
    ("ui_mode", Text("hosted_page")),
    ("url", Null),
    ("wallet_options", Null),
];

/// Payment intents: captured at once, confirmed by the provider's page;
/// no charges are modelled (`latest_charge` is null).
pub const PI_OFF: &[(&str, Off)] = &[
    ("allowed_payment_method_types", Null),
    ("amount_capturable", Zero),
    ("amount_details", Null),
    ("application", Null),
    ("application_fee_amount", Null),
    ("automatic_payment_methods", Null),
    ("capture_method", Text("automatic")),
    ("client_secret", Null),
    ("confirmation_method", Text("automatic")),
    ("customer_account", Null),
    ("excluded_payment_method_types", Null),
    ("hooks", Null),
    ("latest_charge", Null),
    ("managed_payments", Null),
    ("next_action", Null),
    ("on_behalf_of", Null),
    ("payment_details", Null),
    ("payment_method", Null),
    ("payment_method_configuration_details", Null),
    ("payment_method_options", Null),
    ("payment_record", Null),
    ("presentment_details", Null),
    ("processing", Null),
    ("receipt_email", Null),
    ("review", Null),
    ("setup_future_usage", Null),
    ("shipping", Null),
    ("source", Null),
    ("statement_descriptor_suffix", Null),
    ("transfer_data", Null),
    ("transfer_group", Null),
];

/// Refunds (of a payment intent; no charges or balance transactions).
pub const REFUND_OFF: &[(&str, Off)] = &[
    ("balance_transaction", Null),
    ("charge", Null),
    ("customer_account", Null),
    ("description", Null),
    ("destination_details", Null),
    ("failure_balance_transaction", Null),
    ("instructions_email", Null),
    ("next_action", Null),
    ("payment_method", Null),
    ("pending_reason", Null),
    ("presentment_details", Null),
    ("receipt_number", Null),
    ("source_transfer_reversal", Null),
    ("transfer_reversal", Null),
];

/// Customers (no balances, invoices, sources or tax ids).
pub const CUSTOMER_OFF: &[(&str, Off)] = &[
    ("balance", Zero),
    ("business_name", Null),
    ("currency", Null),
    ("customer_account", Null),
    ("default_source", Null),
    ("delinquent", Off::False),
    ("discount", Null),
    ("individual_name", Null),
    ("invoice_prefix", Null),
    ("invoice_settings", Null),
    ("next_invoice_sequence", Null),
    ("tax_exempt", Text("none")),
    ("test_clock", Null),
];

/// Products (services: nothing is shipped).
pub const PRODUCT_OFF: &[(&str, Off)] = &[
    ("marketing_features", Empty),
    ("package_dimensions", Null),
    ("shippable", Null),
    ("statement_descriptor", Null),
    ("tax_code", Null),
    ("tax_details", Null),
    ("type", Text("service")),
    ("unit_label", Null),
];

/// Prices (one-time, per unit).
pub const PRICE_OFF: &[(&str, Off)] = &[("tiers_mode", Null), ("transform_quantity", Null)];

/// Promotion codes.
pub const PROMO_OFF: &[(&str, Off)] = &[("customer_account", Null)];

/// Line items.
pub const LINE_ITEM_OFF: &[(&str, Off)] = &[("metadata", Null)];

/// `v` with the `off` fields added.
pub fn with_off(mut v: Value, off: &[(&str, Off)]) -> Value {
    if let Value::Object(m) = &mut v {
        for (k, o) in off {
            m.insert((*k).to_string(), o.value());
        }
    }
    v
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
        checkout_session(s, &self.public_url, None)
    }
    fn coupon(&self, c: &Coupon) -> Value {
        coupon(c, self.clock.now())
    }
    fn promotion_code(&self, p: &PromotionCode) -> Value {
        promotion_code(p)
    }
    fn payment_intent(&self, p: &PaymentIntent) -> Value {
        payment_intent(p)
    }
    fn customer(&self, c: &Customer) -> Value {
        customer(c)
    }
    fn refund(&self, r: &Refund) -> Value {
        refund(r)
    }
    fn request_id(&self) -> Option<String> {
        crate::request_id::current()
    }
    fn now(&self) -> i64 {
        self.clock.now()
    }
}

/// A webhook endpoint as Stripe renders it (its secret is added by the
/// create and roll answers only).
pub fn webhook_endpoint(e: &paylink_store::webhooks::WebhookEndpoint) -> Value {
    json!({
        "id": e.id,
        "object": "webhook_endpoint",
        "api_version": e.api_version,
        "application": null,
        "created": e.created,
        "description": e.description,
        "enabled_events": e.enabled_events,
        "livemode": e.livemode,
        "metadata": e.metadata,
        "status": e.status,
        "url": e.url,
    })
}

pub fn deleted(object: &str, id: &str) -> Value {
    json!({"id": id, "object": object, "deleted": true})
}

pub fn product(p: &Product) -> Value {
    let v = json!({
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
    });
    with_off(v, PRODUCT_OFF)
}

/// A price; `product` is the product object when expanded, else its id.
pub fn price(p: &Price, product: Option<Value>) -> Value {
    let custom = p
        .custom_unit_amount()
        .map(|c| json!({"minimum": c.minimum, "maximum": c.maximum, "preset": c.preset}));
    let v = json!({
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
    });
    with_off(v, PRICE_OFF)
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
    let v = json!({
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
    });
    with_off(v, PROMO_OFF)
}

/// One line item of a payment link as Stripe's `item` object;
/// `description` is the product's name.
pub fn line_item(
    item: &LinkLineItem,
    price_obj: &Price,
    description: &str,
    product: Option<Value>,
) -> Value {
    let subtotal = price_obj
        .unit_amount()
        .and_then(|a| a.checked_mul(item.quantity))
        .unwrap_or(0);
    let v = json!({
        "id": item.id,
        "object": "item",
        "adjustable_quantity": item.adjustable_quantity.map(|a| json!({"enabled": a.enabled, "minimum": a.minimum, "maximum": a.maximum})),
        "amount_discount": 0,
        "amount_subtotal": subtotal,
        "amount_tax": 0,
        "amount_total": subtotal,
        "currency": price_obj.currency.code(),
        "description": description,
        "price": price(price_obj, product),
        "quantity": item.quantity,
    });
    with_off(v, LINE_ITEM_OFF)
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
        "automatic_tax": {"enabled": false, "liability": null},
        "billing_address_collection": l.billing_address_collection,
        "currency": l.currency.code(),
        "custom_fields": l.custom_fields,
        "custom_text": custom_text(&l.custom_text),
        "shipping_address_collection": shipping_collection(l.shipping_address_collection.as_ref()),
        "consent_collection": consent_collection(l.consent_terms),
        "inactive_message": l.inactive_message,
        "invoice_creation": {"enabled": false, "invoice_data": null},
        "livemode": l.livemode,
        "metadata": l.metadata,
        "phone_number_collection": {"enabled": l.phone_number_collection},
        "restrictions": restrictions,
        "slug": l.slug,
        "submit_type": l.submit_type,
        "tax_id_collection": {"enabled": false, "required": "never"},
        "url": link_url(public_url, l),
        "payment_intent_data": l.payment_intent_data.as_ref().map(|d| json!({
            "capture_method": "automatic",
            "description": d.description,
            "metadata": d.metadata,
            "setup_future_usage": null,
            "statement_descriptor": d.statement_descriptor,
            "statement_descriptor_suffix": null,
            "transfer_group": null,
        })),
    });
    v = with_off(v, LINK_OFF);
    if let (Some(items), Value::Object(m)) = (line_items, &mut v) {
        m.insert("line_items".into(), items);
    }
    v
}

use paylink_domain::checkout::{
    Address, CheckoutSession, Customer, OrderLine, PaymentIntent, Refund,
};

/// Stripe's `consent_collection` (null: nothing asked).
fn consent_collection(terms: bool) -> Value {
    if terms {
        json!({"terms_of_service": "required", "promotions": "none", "payment_method_reuse_agreement": null})
    } else {
        Value::Null
    }
}

/// Stripe's `shipping_address_collection` (null: no shipping address asked).
fn shipping_collection(c: Option<&paylink_domain::catalog::ShippingAddressCollection>) -> Value {
    c.map_or(
        Value::Null,
        |c| json!({ "allowed_countries": c.allowed_countries }),
    )
}

/// Stripe's `shipping_details`: the name and address an order ships to.
fn shipping_details(d: Option<&paylink_domain::checkout::ShippingDetails>) -> Value {
    d.map_or(
        Value::Null,
        |d| json!({"name": d.name, "address": address(Some(&d.address))}),
    )
}

fn address(a: Option<&Address>) -> Value {
    a.map_or(Value::Null, |a| {
        json!({"line1": a.line1, "line2": a.line2, "city": a.city, "postal_code": a.postal_code, "state": a.state, "country": a.country})
    })
}

/// A line of a session's order as Stripe's `item`.
pub fn order_line(l: &OrderLine, currency: &str, price_obj: Option<Value>) -> Value {
    let v = json!({
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
    });
    with_off(v, LINE_ITEM_OFF)
}

/// A checkout session; `url` is its page while it takes a buyer: an
/// API-created session's own page, or a link session's way on to the
/// provider.
/// Stripe's `custom_text` (texts for features paylink does not offer are
/// null).
fn custom_text(t: &paylink_domain::catalog::CustomText) -> Value {
    let m = |s: &Option<String>| s.as_ref().map(|m| json!({ "message": m }));
    json!({
        "after_submit": m(&t.after_submit),
        "shipping_address": m(&t.shipping_address),
        "submit": m(&t.submit),
        "terms_of_service_acceptance": m(&t.terms_of_service_acceptance),
    })
}

/// A session's question as Stripe renders it: as it was asked (label,
/// optional, options, bounds), with the answer (null until given) under
/// its type.
fn asked(def: &paylink_domain::catalog::CustomField, answer: Option<&str>) -> Value {
    let mut v = json!(def);
    if let Some(sub) = v.get_mut(&def.kind) {
        if !sub.is_object() {
            *sub = match def.kind.as_str() {
                "dropdown" => json!({"default_value": null, "options": []}),
                _ => json!({"default_value": null, "maximum_length": null, "minimum_length": null}),
            };
        }
        if let Some(m) = sub.as_object_mut() {
            m.insert("value".into(), json!(answer));
        }
    }
    v
}

pub fn checkout_session(s: &CheckoutSession, public_url: &str, line_items: Option<Value>) -> Value {
    let fields: Vec<Value> = match &s.offer {
        // An API-created session knows its questions.
        Some(o) => o
            .custom_fields
            .iter()
            .map(|def| {
                let answer = s.custom_fields.iter().find(|a| a.key == def.key);
                asked(def, answer.and_then(|a| a.value.as_deref()))
            })
            .collect(),
        // A link's session keeps each question with its answer (one
        // recorded before that: the answer alone).
        None => s
            .custom_fields
            .iter()
            .map(|f| match &f.question {
                Some(def) => asked(def, f.value.as_deref()),
                None => {
                    let value = json!({"value": f.value});
                    json!({
                        "key": f.key,
                        "type": f.kind,
                        "text": if f.kind == "text" { value.clone() } else { Value::Null },
                        "numeric": if f.kind == "numeric" { value.clone() } else { Value::Null },
                        "dropdown": if f.kind == "dropdown" { value } else { Value::Null },
                    })
                }
            })
            .collect(),
    };
    let discounts: Vec<Value> = match (&s.promotion_code, &s.coupon) {
        // Before its buyer submits the page, an API session shows the
        // discount it was made with.
        (None, None) => s
            .offer
            .as_ref()
            .and_then(|o| o.discount.as_ref())
            .map(|d| json!({"coupon": d.coupon, "promotion_code": d.promotion_code}))
            .into_iter()
            .collect(),
        (p, c) => vec![json!({"coupon": c, "promotion_code": p})],
    };
    // What the page offered (an API session's creation, a link's page).
    let page = s.page_settings();
    let mut v = json!({
        "id": s.id,
        "object": "checkout.session",
        "amount_subtotal": s.amount_subtotal,
        "amount_total": s.amount_total,
        "client_reference_id": s.client_reference_id,
        "created": s.created,
        "currency": s.currency.code(),
        "custom_fields": fields,
        "customer": s.customer,
        "customer_details": {
            "business_name": null,
            "individual_name": null,
            "tax_exempt": "none",
            "tax_ids": [],
            "email": s.customer_email,
            "name": s.customer_name,
            "phone": s.customer_phone,
            "address": address(s.customer_address.as_ref()),
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
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "custom_text": custom_text(&page.as_ref().map(|p| p.custom_text.clone()).unwrap_or_default()),
        "tax_id_collection": {"enabled": false, "required": "never"},
        "collected_information": {
            "business_name": null,
            "individual_name": null,
            "shipping_details": shipping_details(s.shipping_details.as_ref()),
        },
        // Where API versions before 2025-03-31 read it.
        "shipping_details": shipping_details(s.shipping_details.as_ref()),
        "shipping_address_collection": shipping_collection(page.as_ref().and_then(|p| p.shipping_address_collection.as_ref())),
        "consent_collection": consent_collection(page.as_ref().is_some_and(|p| p.consent_terms)),
        "consent": if s.terms_accepted { json!({"terms_of_service": "accepted", "promotions": null}) } else { Value::Null },
    });
    v = with_off(v, SESSION_OFF);
    let open = s.status == paylink_domain::checkout::SessionStatus::Open;
    let url = match (&s.offer, open) {
        (Some(_), true) => Some(format!("{public_url}/c/{}", s.id)),
        (None, true) => Some(format!("{public_url}/checkout/{}/go", s.id)),
        (_, false) => None,
    };
    if let Value::Object(m) = &mut v {
        m.insert("url".into(), json!(url));
        m.insert(
            "allow_promotion_codes".into(),
            json!(page.as_ref().map(|p| p.allow_promotion_codes)),
        );
        m.insert(
            "phone_number_collection".into(),
            json!({"enabled": page.as_ref().is_some_and(|p| p.phone_number_collection)}),
        );
        if let Some(p) = page {
            m.insert("success_url".into(), json!(p.success_url));
            m.insert(
                "billing_address_collection".into(),
                json!(p.billing_address_collection),
            );
            m.insert("submit_type".into(), json!(p.submit_type));
        }
        // Only an API-created session has what its creation set.
        if let Some(o) = &s.offer {
            m.insert("customer_email".into(), json!(o.customer_email));
            m.insert("cancel_url".into(), json!(o.cancel_url));
            m.insert("locale".into(), json!(o.locale));
        }
    }
    if let (Some(items), Value::Object(m)) = (line_items, &mut v) {
        m.insert("line_items".into(), items);
    }
    v
}

pub fn payment_intent(p: &PaymentIntent) -> Value {
    let received = if p.status == "succeeded" { p.amount } else { 0 };
    // Stripe's error object: what the provider said, the code's page, and
    // what paylink does not model (charges, payment methods) as null.
    let error = p.last_payment_error.as_ref().map(|e| {
        json!({
            "type": "card_error", "code": e.code, "decline_code": e.decline_code, "message": e.message,
            "doc_url": format!("https://stripe.com/docs/error-codes/{}", e.code.replace('_', "-")),
            "payment_method_type": "card",
            "advice_code": null, "charge": null, "network_advice_code": null, "network_decline_code": null,
            "param": null, "payment_intent": null, "payment_method": null, "request_log_url": null, "setup_intent": null, "source": null,
        })
    });
    let v = json!({
        "id": p.id,
        "object": "payment_intent",
        "amount": p.amount,
        "amount_received": received,
        "last_payment_error": error,
        "amount_refunded": p.amount_refunded,
        "created": p.created,
        "currency": p.currency.code(),
        "customer": p.customer,
        "livemode": p.livemode,
        "metadata": p.metadata,
        "payment_method_details": {"type": "card", "card": {"brand": p.card_brand, "last4": p.card_last4}},
        "payment_method_types": ["card"],
        "status": p.status,
        // A payment intent is canceled when its session expired unpaid.
        "cancellation_reason": (p.status == "canceled").then_some("abandoned"),
        "canceled_at": p.canceled_at,
        "description": p.description,
        "statement_descriptor": p.statement_descriptor,
    });
    with_off(v, PI_OFF)
}

pub fn customer(c: &Customer) -> Value {
    let v = json!({
        "id": c.id,
        "object": "customer",
        "address": address(c.address.as_ref()),
        "created": c.created,
        "email": c.email,
        "livemode": c.livemode,
        "metadata": c.metadata,
        "name": c.name,
        "phone": c.phone,
        "description": c.description,
        "preferred_locales": c.preferred_locales,
        "shipping": c.shipping.as_ref().map(|s| json!({
            "name": s.name,
            "phone": s.phone,
            "address": address(Some(&s.address)),
        })),
    });
    with_off(v, CUSTOMER_OFF)
}

pub fn refund(r: &Refund) -> Value {
    let v = json!({
        "id": r.id,
        "object": "refund",
        "amount": r.amount,
        "created": r.created,
        "currency": r.currency.code(),
        "metadata": r.metadata,
        "payment_intent": r.payment_intent,
        "reason": r.reason,
        "status": r.status,
        // The provider refused it; paylink is not told why.
        "failure_reason": (r.status == "failed").then_some("unknown"),
        "customer": null,
    });
    with_off(v, REFUND_OFF)
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
            "checkout": {"terms_of_service_url": s.terms_url},
        },
    })
}
