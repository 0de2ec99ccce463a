//! Turning the checkout form into an order: quantities within their
//! limits, a pay-what-you-want amount, the promotion code, the buyer's
//! details and custom-field answers. Every problem is reported beside its
//! field; what the buyer typed is kept.

use std::collections::{BTreeMap, HashMap};

use paylink_domain::catalog::{
    Coupon, PaymentLink, Price, Product, PromotionCode, PromotionRejection,
};
use paylink_domain::checkout::{price_order, Address, CustomFieldAnswer, OrderLine, Totals};
use paylink_domain::{locale, Discount, Email, Money};

/// The checkout form as submitted (field name to value).
pub type Form = HashMap<String, String>;

/// A line of the page: the link's item with its price and product.
pub struct PageLine<'a> {
    pub index: usize,
    pub item: &'a paylink_domain::catalog::LinkLineItem,
    pub price: &'a Price,
    pub product: &'a Product,
}

/// What the form priced out to, and what is wrong with it.
pub struct Order {
    pub lines: Vec<OrderLine>,
    pub totals: Option<Totals>,
    pub promotion: Option<(PromotionCode, Coupon)>,
    /// Field name to message.
    pub errors: BTreeMap<String, String>,
    /// A message about the promotion code that is not an error.
    pub promo_note: Option<String>,
    pub email: Option<Email>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<Address>,
    pub answers: Vec<CustomFieldAnswer>,
}

pub fn field(form: &Form, name: &str) -> String {
    form.get(name)
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

fn rejection_message(r: &PromotionRejection) -> String {
    r.to_string()
}

/// Prices the form. `promo` is the code looked up (with its coupon) when
/// the buyer typed one; `promo_typed` is what they typed. `require_buyer`
/// checks the buyer's details too (on Pay, not on Apply).
#[allow(clippy::too_many_arguments)]
pub fn build(
    link: &PaymentLink,
    lines: &[PageLine<'_>],
    form: &Form,
    promo_typed: &str,
    promo: Option<(PromotionCode, Coupon)>,
    now: i64,
    require_buyer: bool,
) -> Order {
    let mut errors = BTreeMap::new();
    let mut order_lines = Vec::with_capacity(lines.len());
    for l in lines {
        let qty_field = format!("quantity_{}", l.index);
        let quantity = match l.item.adjustable_quantity.filter(|a| a.enabled) {
            Some(a) => {
                let typed = field(form, &qty_field);
                let (min, max) = (a.minimum.unwrap_or(1), a.maximum.unwrap_or(99));
                match typed.parse::<i64>() {
                    _ if typed.is_empty() => l.item.quantity,
                    Ok(q) if (min..=max).contains(&q) => q,
                    _ => {
                        errors.insert(qty_field, format!("Choose a quantity from {min} to {max}."));
                        l.item.quantity
                    }
                }
            }
            None => l.item.quantity,
        };
        let unit_amount = match l.price.custom_unit_amount() {
            Some(c) => {
                let typed = field(form, "custom_amount");
                let preset = c
                    .preset
                    .or(c.minimum)
                    .unwrap_or(l.price.currency.minimum_charge());
                if typed.is_empty() {
                    if require_buyer {
                        errors.insert("custom_amount".into(), "Enter an amount.".into());
                    }
                    preset
                } else {
                    match locale::parse_major(&typed, l.price.currency) {
                        Some(a) if c.accepts(l.price.currency, a) => a,
                        Some(_) => {
                            let min = c.minimum.unwrap_or(l.price.currency.minimum_charge());
                            let max = c.maximum.unwrap_or(paylink_domain::money::MAX_AMOUNT);
                            errors.insert(
                                "custom_amount".into(),
                                format!(
                                    "Enter an amount from {} to {}.",
                                    l.price.currency.format(min),
                                    l.price.currency.format(max)
                                ),
                            );
                            preset
                        }
                        None => {
                            errors.insert(
                                "custom_amount".into(),
                                "Enter an amount as a number, e.g. 25 or 25.50.".into(),
                            );
                            preset
                        }
                    }
                }
            }
            None => l.price.unit_amount().unwrap_or(0),
        };
        order_lines.push(OrderLine {
            id: l.item.id.clone(),
            price: l.price.id.clone(),
            product: l.product.id.clone(),
            description: l.product.name.clone(),
            quantity,
            unit_amount,
            amount_subtotal: 0,
            amount_discount: 0,
            amount_total: 0,
        });
    }

    // The subtotal decides whether the promotion code applies.
    let mut promo_note = None;
    let mut applied: Option<(PromotionCode, Coupon)> = None;
    let mut probe = order_lines.clone();
    let subtotal = price_order(link.currency, &mut probe, None).map(|t| t.subtotal);
    if !promo_typed.is_empty() {
        if !link.allow_promotion_codes {
            errors.insert(
                "promo".into(),
                "This payment link does not accept promotion codes.".into(),
            );
        } else {
            match (promo, subtotal) {
                (None, _) => {
                    errors.insert("promo".into(), "This code is not valid.".into());
                }
                (Some((code, coupon)), Ok(sub)) => match code.check(&coupon, sub, now, true) {
                    Ok(()) => {
                        promo_note = Some(format!("Code {} applied.", code.code));
                        applied = Some((code, coupon));
                    }
                    Err(r) => {
                        errors.insert("promo".into(), rejection_message(&r));
                    }
                },
                (Some(_), Err(_)) => {
                    errors.insert(
                        "promo".into(),
                        "This code can't be applied to this order.".into(),
                    );
                }
            }
        }
    }
    let discount: Option<Discount> = applied.as_ref().map(|(_, c)| c.discount);
    let totals = match price_order(link.currency, &mut order_lines, discount) {
        Ok(t) => {
            if t.total.amount() > 0
                && Money::new(t.total.amount(), link.currency)
                    .and_then(Money::chargeable)
                    .is_err()
            {
                errors.insert(
                    "total".into(),
                    format!(
                        "The total must be between {} and {}.",
                        link.currency.format(link.currency.minimum_charge()),
                        link.currency.format(paylink_domain::money::MAX_AMOUNT)
                    ),
                );
            }
            if t.total.amount() == 0 && require_buyer {
                errors.insert(
                    "total".into(),
                    "There is nothing to pay: choose at least one item.".into(),
                );
            }
            Some(t)
        }
        Err(_) => {
            errors.insert("total".into(), "This order is too large.".into());
            None
        }
    };

    let email_typed = field(form, "email");
    let email = match Email::parse(&email_typed) {
        Ok(e) => Some(e),
        Err(_) => {
            if require_buyer || !email_typed.is_empty() {
                errors.insert("email".into(), "Enter a valid email address.".into());
            }
            None
        }
    };
    let name = Some(field(form, "name")).filter(|s| !s.is_empty());
    let mut address = None;
    if link.billing_address_collection == "required" {
        let a = Address {
            line1: Some(field(form, "line1")).filter(|s| !s.is_empty()),
            line2: Some(field(form, "line2")).filter(|s| !s.is_empty()),
            city: Some(field(form, "city")).filter(|s| !s.is_empty()),
            postal_code: Some(field(form, "postal_code")).filter(|s| !s.is_empty()),
            state: None,
            country: Some(field(form, "country").to_ascii_uppercase()).filter(|s| !s.is_empty()),
        };
        if require_buyer {
            if name.is_none() {
                errors.insert("name".into(), "Enter your name.".into());
            }
            for (f, v, msg) in [
                ("line1", &a.line1, "Enter your address."),
                ("city", &a.city, "Enter your city."),
                ("postal_code", &a.postal_code, "Enter your postal code."),
            ] {
                if v.is_none() {
                    errors.insert(f.into(), msg.into());
                }
            }
            if !a
                .country
                .as_deref()
                .is_some_and(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
            {
                errors.insert(
                    "country".into(),
                    "Enter a two-letter country code, e.g. FR.".into(),
                );
            }
        }
        address = Some(a);
    }
    for (f, max) in [
        ("name", 200),
        ("line1", 200),
        ("line2", 200),
        ("city", 100),
        ("postal_code", 20),
    ] {
        if field(form, f).chars().count() > max {
            errors.insert(f.into(), format!("At most {max} characters."));
        }
    }
    let mut phone = None;
    if link.phone_number_collection {
        let p = field(form, "phone");
        let digits = p.chars().filter(char::is_ascii_digit).count();
        let ok = (6..=20).contains(&digits)
            && p.len() <= 30
            && p.chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        if ok {
            phone = Some(p);
        } else if require_buyer || !p.is_empty() {
            errors.insert("phone".into(), "Enter a valid phone number.".into());
        }
    }
    let mut answers = Vec::new();
    for f in &link.custom_fields {
        let name = format!("custom_{}", f.key);
        let v = field(form, &name);
        let label = &f.label.custom;
        if v.is_empty() {
            if !f.optional && require_buyer {
                errors.insert(name.clone(), format!("{label} is required."));
            }
            answers.push(CustomFieldAnswer {
                key: f.key.clone(),
                kind: f.kind.clone(),
                value: None,
            });
            continue;
        }
        let problem = match f.kind.as_str() {
            "dropdown" => (!f
                .dropdown
                .as_ref()
                .is_some_and(|d| d.options.iter().any(|o| o.value == v)))
            .then(|| "Choose one of the options.".to_string()),
            kind => {
                let bounds = if kind == "numeric" {
                    &f.numeric
                } else {
                    &f.text
                };
                let n = i64::try_from(v.chars().count()).unwrap_or(i64::MAX);
                let min = bounds.as_ref().and_then(|b| b.minimum_length).unwrap_or(1);
                let max = bounds
                    .as_ref()
                    .and_then(|b| b.maximum_length)
                    .unwrap_or(255);
                if kind == "numeric" && !v.chars().all(|c| c.is_ascii_digit()) {
                    Some("Use digits only.".to_string())
                } else if n < min || n > max {
                    Some(format!("Use {min} to {max} characters."))
                } else {
                    None
                }
            }
        };
        if let Some(m) = problem {
            errors.insert(name.clone(), m);
        }
        answers.push(CustomFieldAnswer {
            key: f.key.clone(),
            kind: f.kind.clone(),
            value: Some(v),
        });
    }
    Order {
        lines: order_lines,
        totals,
        promotion: applied,
        errors,
        promo_note,
        email,
        name,
        phone,
        address,
        answers,
    }
}
