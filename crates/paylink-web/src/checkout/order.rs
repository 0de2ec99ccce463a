//! Turning the checkout form into an order: quantities within their
//! limits, a pay-what-you-want amount, the promotion code, the buyer's
//! details and custom-field answers. Every problem is reported beside its
//! field; what the buyer typed is kept.

use std::collections::{BTreeMap, HashMap};

use paylink_domain::catalog::{
    Coupon, PaymentLink, Price, Product, PromotionCode, PromotionRejection,
    ShippingAddressCollection,
};
use paylink_domain::checkout::{
    price_order, Address, CustomFieldAnswer, OrderLine, ShippingDetails, Totals,
};
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
    /// The discount: a promotion code (with its coupon), or the coupon
    /// alone an API-created session was made with.
    pub promotion: Option<(Option<PromotionCode>, Coupon)>,
    /// Field name to message.
    pub errors: BTreeMap<String, String>,
    /// A message about the promotion code that is not an error.
    pub promo_note: Option<String>,
    pub email: Option<Email>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<Address>,
    /// Where the order ships, when the link asks (on Pay, once complete).
    pub shipping: Option<ShippingDetails>,
    /// The buyer ticked the terms of service checkbox the link shows.
    pub terms_accepted: bool,
    pub answers: Vec<CustomFieldAnswer>,
    /// The merchant's reference carried by the link's URL (an invalid one
    /// is dropped, as Stripe does).
    pub client_reference_id: Option<String>,
}

pub fn field(form: &Form, name: &str) -> String {
    form.get(name)
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

fn rejection_message(r: &PromotionRejection) -> String {
    r.to_string()
}

/// Field name to message.
type Errors = BTreeMap<String, String>;

/// Prices the form. `promo` is the code looked up (with its coupon) when
/// the buyer typed one; `promo_typed` is what they typed. `require_buyer`
/// checks the buyer's details too (on Pay, not on Apply).
#[allow(clippy::too_many_arguments)]
pub fn build(
    link: &PaymentLink,
    lines: &[PageLine<'_>],
    form: &Form,
    promo_typed: &str,
    promo: Option<(Option<PromotionCode>, Coupon)>,
    now: i64,
    require_buyer: bool,
) -> Order {
    let mut errors = Errors::new();
    let mut order_lines: Vec<OrderLine> = lines
        .iter()
        .map(|l| order_line(l, form, require_buyer, &mut errors))
        .collect();
    let (promotion, promo_note) =
        promotion(link, &order_lines, promo_typed, promo, now, &mut errors);
    let discount: Option<Discount> = promotion.as_ref().map(|(_, c)| c.discount);
    let totals = totals(link, &mut order_lines, discount, require_buyer, &mut errors);
    let buyer = buyer(link, form, require_buyer, &mut errors);
    let terms_accepted = link.consent_terms && field(form, "terms") == "accepted";
    if link.consent_terms && require_buyer && !terms_accepted {
        errors.insert(
            "terms".into(),
            "Accept the terms of service to continue.".into(),
        );
    }
    let answers = link
        .custom_fields
        .iter()
        .map(|f| answer(f, form, require_buyer, &mut errors))
        .collect();
    Order {
        lines: order_lines,
        totals,
        promotion,
        errors,
        promo_note,
        email: buyer.email,
        name: buyer.name,
        phone: buyer.phone,
        address: buyer.address,
        shipping: buyer.shipping,
        terms_accepted,
        answers,
        client_reference_id: paylink_domain::checkout::client_reference(&field(
            form,
            "client_reference_id",
        )),
    }
}

/// A line as the buyer set it: the quantity within its limits and, for a
/// pay-what-you-want price, the amount typed (amounts are priced later).
fn order_line(
    l: &PageLine<'_>,
    form: &Form,
    require_buyer: bool,
    errors: &mut Errors,
) -> OrderLine {
    OrderLine {
        id: l.item.id.clone(),
        price: l.price.id.clone(),
        product: l.product.id.clone(),
        description: l.product.name.clone(),
        quantity: quantity(l, form, errors),
        unit_amount: unit_amount(l, form, require_buyer, errors),
        amount_subtotal: 0,
        amount_discount: 0,
        amount_total: 0,
    }
}

/// The quantity typed for an adjustable line (its default if none was
/// typed or it is out of bounds), or the line's fixed quantity.
fn quantity(l: &PageLine<'_>, form: &Form, errors: &mut Errors) -> i64 {
    let Some(a) = l.item.adjustable_quantity.filter(|a| a.enabled) else {
        return l.item.quantity;
    };
    let qty_field = format!("quantity_{}", l.index);
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

/// The unit amount: the price's, or for a pay-what-you-want price the
/// amount typed within its bounds (the preset while it is missing or
/// wrong).
fn unit_amount(l: &PageLine<'_>, form: &Form, require_buyer: bool, errors: &mut Errors) -> i64 {
    let Some(c) = l.price.custom_unit_amount() else {
        return l.price.unit_amount().unwrap_or(0);
    };
    let currency = l.price.currency;
    let typed = field(form, "custom_amount");
    let preset = c.preset.or(c.minimum).unwrap_or(currency.minimum_charge());
    if typed.is_empty() {
        if require_buyer {
            errors.insert("custom_amount".into(), "Enter an amount.".into());
        }
        return preset;
    }
    match locale::parse_major(&typed, currency) {
        Some(a) if c.accepts(currency, a) => a,
        Some(_) => {
            let min = c.minimum.unwrap_or(currency.minimum_charge());
            let max = c.maximum.unwrap_or(paylink_domain::money::MAX_AMOUNT);
            errors.insert(
                "custom_amount".into(),
                format!(
                    "Enter an amount from {} to {}.",
                    currency.format(min),
                    currency.format(max)
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

/// The promotion code that applies to these lines, with the note shown
/// when it does; the subtotal decides whether it applies.
fn promotion(
    link: &PaymentLink,
    lines: &[OrderLine],
    promo_typed: &str,
    promo: Option<(Option<PromotionCode>, Coupon)>,
    now: i64,
    errors: &mut Errors,
) -> (Option<(Option<PromotionCode>, Coupon)>, Option<String>) {
    // The merchant's own discount (an API session's `discounts`) comes
    // with no code typed.
    let fixed = promo_typed.is_empty();
    if fixed && promo.is_none() {
        return (None, None);
    }
    if !fixed && !link.allow_promotion_codes {
        errors.insert(
            "promo".into(),
            "This payment link does not accept promotion codes.".into(),
        );
        return (None, None);
    }
    let mut probe = lines.to_vec();
    let subtotal = price_order(link.currency, &mut probe, None).map(|t| t.subtotal);
    match (promo, subtotal) {
        (None, _) => {
            errors.insert("promo".into(), "This code is not valid.".into());
        }
        (Some((code, coupon)), Ok(sub)) => {
            let checked = match &code {
                Some(code) => code.check(&coupon, sub, now, true),
                None => coupon.check(sub, now),
            };
            match checked {
                Ok(()) => {
                    let note = match &code {
                        Some(code) => format!("Code {} applied.", code.code),
                        None => "Discount applied.".to_string(),
                    };
                    return (Some((code, coupon)), Some(note));
                }
                Err(r) => {
                    errors.insert("promo".into(), rejection_message(&r));
                }
            }
        }
        (Some(_), Err(_)) => {
            errors.insert(
                "promo".into(),
                "This code can't be applied to this order.".into(),
            );
        }
    }
    (None, None)
}

/// Prices the lines with the discount; a total that can't be charged (or,
/// on Pay, a zero total) is an error on `total`.
fn totals(
    link: &PaymentLink,
    lines: &mut [OrderLine],
    discount: Option<Discount>,
    require_buyer: bool,
    errors: &mut Errors,
) -> Option<Totals> {
    let Ok(t) = price_order(link.currency, lines, discount) else {
        errors.insert("total".into(), "This order is too large.".into());
        return None;
    };
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

/// The buyer's details the link collects.
struct Buyer {
    email: Option<Email>,
    name: Option<String>,
    phone: Option<String>,
    address: Option<Address>,
    shipping: Option<ShippingDetails>,
}

/// The buyer's email, name, billing address and phone as the link asks
/// for them; on Pay the required ones must be there.
fn buyer(link: &PaymentLink, form: &Form, require_buyer: bool, errors: &mut Errors) -> Buyer {
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
    let address = (link.billing_address_collection == "required")
        .then(|| address(form, name.is_some(), require_buyer, errors));
    for (f, max) in ADDRESS_LIMITS {
        for f in [f.to_string(), format!("ship_{f}")] {
            if field(form, &f).chars().count() > max {
                errors.insert(f, format!("At most {max} characters."));
            }
        }
    }
    let shipping = link
        .shipping_address_collection
        .as_ref()
        .and_then(|c| shipping(form, c, require_buyer, errors));
    let phone = if link.phone_number_collection {
        phone(form, require_buyer, errors)
    } else {
        None
    };
    Buyer {
        email,
        name,
        phone,
        address,
        shipping,
    }
}

/// The longest value of each address field (the shipping form's are the
/// same, prefixed `ship_`).
const ADDRESS_LIMITS: [(&str, usize); 6] = [
    ("name", 200),
    ("line1", 200),
    ("line2", 200),
    ("city", 100),
    ("postal_code", 20),
    ("state", 100),
];

/// Countries without postal codes, where the shipping form doesn't ask
/// for one.
const NO_POSTAL_CODE: &[&str] = &[
    "AE", "AG", "AO", "AW", "BF", "BI", "BJ", "BO", "BS", "BW", "BZ", "CD", "CF", "CG", "CI", "CK",
    "CM", "CW", "DJ", "DM", "ER", "FJ", "GA", "GD", "GH", "GM", "GN", "GQ", "GY", "HK", "KI", "KM",
    "KN", "LY", "ML", "MO", "MR", "MW", "NR", "NU", "QA", "RW", "SB", "SC", "SL", "SO", "SR", "SS",
    "ST", "SX", "TD", "TF", "TG", "TK", "TL", "TO", "TT", "TV", "UG", "VU", "YE", "ZW",
];

/// The shipping address typed (fields `ship_*`), in one of the countries
/// the link ships to. On Pay the name, street, city, country and (where
/// the country has them) postal code are required; the address is kept
/// once it is complete.
fn shipping(
    form: &Form,
    c: &ShippingAddressCollection,
    require_buyer: bool,
    errors: &mut Errors,
) -> Option<ShippingDetails> {
    let typed = |f: &str| Some(field(form, &format!("ship_{f}"))).filter(|s| !s.is_empty());
    let country = typed("country").map(|c| c.to_ascii_uppercase());
    let a = Address {
        line1: typed("line1"),
        line2: typed("line2"),
        city: typed("city"),
        postal_code: typed("postal_code"),
        state: typed("state"),
        country: country.clone(),
    };
    let name = typed("name");
    if let Some(cc) = &country {
        if !c.allowed_countries.contains(cc) {
            errors.insert(
                "ship_country".into(),
                "We don't ship to this country: choose one from the list.".into(),
            );
        }
    }
    if !require_buyer {
        return None;
    }
    let postal_needed = !country
        .as_deref()
        .is_some_and(|cc| NO_POSTAL_CODE.contains(&cc));
    let mut missing = false;
    for (f, absent, msg) in [
        ("ship_name", name.is_none(), "Enter the name to ship to."),
        ("ship_line1", a.line1.is_none(), "Enter the street address."),
        ("ship_city", a.city.is_none(), "Enter the city."),
        (
            "ship_postal_code",
            postal_needed && a.postal_code.is_none(),
            "Enter the postal code.",
        ),
        ("ship_country", country.is_none(), "Choose a country."),
    ] {
        if absent {
            errors.entry(f.into()).or_insert_with(|| msg.into());
            missing = true;
        }
    }
    match name {
        Some(name) if !missing => Some(ShippingDetails { name, address: a }),
        _ => None,
    }
}

/// The billing address typed; on Pay the name, street, city, postal code
/// and a two-letter country are required.
fn address(form: &Form, has_name: bool, require_buyer: bool, errors: &mut Errors) -> Address {
    let typed = |f: &str| Some(field(form, f)).filter(|s| !s.is_empty());
    let a = Address {
        line1: typed("line1"),
        line2: typed("line2"),
        city: typed("city"),
        postal_code: typed("postal_code"),
        state: None,
        country: Some(field(form, "country").to_ascii_uppercase()).filter(|s| !s.is_empty()),
    };
    if !require_buyer {
        return a;
    }
    if !has_name {
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
    a
}

/// The phone number typed, if it looks like one (6 to 20 digits).
fn phone(form: &Form, require_buyer: bool, errors: &mut Errors) -> Option<String> {
    let p = field(form, "phone");
    let digits = p.chars().filter(char::is_ascii_digit).count();
    let ok = (6..=20).contains(&digits)
        && p.len() <= 30
        && p.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if ok {
        return Some(p);
    }
    if require_buyer || !p.is_empty() {
        errors.insert("phone".into(), "Enter a valid phone number.".into());
    }
    None
}

/// The answer to one custom field; a required one missing (on Pay), an
/// option not offered, or text out of its bounds is an error beside it.
fn answer(
    f: &paylink_domain::catalog::CustomField,
    form: &Form,
    require_buyer: bool,
    errors: &mut Errors,
) -> CustomFieldAnswer {
    let name = format!("custom_{}", f.key);
    let v = field(form, &name);
    if v.is_empty() {
        if !f.optional && require_buyer {
            errors.insert(name, format!("{} is required.", f.label.custom));
        }
        return CustomFieldAnswer {
            key: f.key.clone(),
            kind: f.kind.clone(),
            value: None,
            question: Some(f.clone()),
        };
    }
    if let Some(m) = answer_problem(f, &v) {
        errors.insert(name, m);
    }
    CustomFieldAnswer {
        key: f.key.clone(),
        kind: f.kind.clone(),
        value: Some(v),
        question: Some(f.clone()),
    }
}

/// What is wrong with answer `v` to field `f`, if anything.
fn answer_problem(f: &paylink_domain::catalog::CustomField, v: &str) -> Option<String> {
    if f.kind == "dropdown" {
        return (!f
            .dropdown
            .as_ref()
            .is_some_and(|d| d.options.iter().any(|o| o.value == v)))
        .then(|| "Choose one of the options.".to_string());
    }
    let bounds = if f.kind == "numeric" {
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
    if f.kind == "numeric" && !v.chars().all(|c| c.is_ascii_digit()) {
        Some("Use digits only.".to_string())
    } else if n < min || n > max {
        Some(format!("Use {min} to {max} characters."))
    } else {
        None
    }
}
