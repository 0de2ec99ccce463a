//! Catalog objects (products, prices, coupons, promotion codes, payment
//! links) and the rules that tie their fields together.
//!
//! Structural checks (types, lengths, enums) happen where input is parsed;
//! the rules here are the ones that look at more than one field. A
//! [`RuleError`] names the parameter at fault in Stripe's bracket notation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod coupon;
mod custom_field;
mod link;
mod product;

pub use coupon::*;
pub use custom_field::*;
pub use link::*;
pub use product::*;

/// A broken rule, with the parameter it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleError {
    pub param: String,
    pub message: String,
    /// The parameter names an object that does not exist (Stripe's
    /// `resource_missing`), rather than a bad value.
    pub missing: bool,
}

impl RuleError {
    pub fn new(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            param: param.into(),
            message: message.into(),
            missing: false,
        }
    }
    /// `param` names `object` `id`, which does not exist.
    pub fn no_such(param: impl Into<String>, object: &str, id: &str) -> Self {
        Self {
            param: param.into(),
            message: format!(
                "No such {object}: '{}'",
                id.chars().take(255).collect::<String>()
            ),
            missing: true,
        }
    }
}

/// Stripe's metadata limits.
pub const METADATA_MAX_KEYS: usize = 50;
pub const METADATA_MAX_KEY_LEN: usize = 40;
pub const METADATA_MAX_VALUE_LEN: usize = 500;

/// Key-value pairs a merchant attaches to an object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    /// Applies an update as Stripe does: a key set to an empty value is
    /// removed; others are set. The result must respect the limits.
    pub fn apply(&mut self, update: &BTreeMap<String, String>) -> Result<(), RuleError> {
        for (k, v) in update {
            if k.is_empty() || k.chars().count() > METADATA_MAX_KEY_LEN || k.contains(['[', ']']) {
                return Err(RuleError::new(
                    format!("metadata[{k}]"),
                    format!("Metadata keys must be 1 to {METADATA_MAX_KEY_LEN} characters long and may not contain square brackets."),
                ));
            }
            if v.chars().count() > METADATA_MAX_VALUE_LEN {
                return Err(RuleError::new(
                    format!("metadata[{k}]"),
                    format!("Metadata values can have up to {METADATA_MAX_VALUE_LEN} characters, but you passed in a value that is {} characters.", v.chars().count()),
                ));
            }
            if v.is_empty() {
                self.0.remove(k);
            } else {
                self.0.insert(k.clone(), v.clone());
            }
        }
        if self.0.len() > METADATA_MAX_KEYS {
            return Err(RuleError::new(
                "metadata",
                format!("Metadata can have up to {METADATA_MAX_KEYS} keys."),
            ));
        }
        Ok(())
    }
    /// Applies an update parameter: absent keeps the metadata, an empty
    /// `metadata` clears it, otherwise [`Metadata::apply`].
    pub fn update(
        &mut self,
        param: Option<Option<BTreeMap<String, String>>>,
    ) -> Result<(), RuleError> {
        match param {
            Some(Some(m)) => self.apply(&m),
            Some(None) => {
                self.0.clear();
                Ok(())
            }
            None => Ok(()),
        }
    }

    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Self, RuleError> {
        let mut m = Metadata::default();
        m.apply(map)?;
        Ok(m)
    }
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

/// Checks free text of a parameter: no NUL (no database stores it
/// faithfully) and at most `max` characters.
pub fn check_text(param: &str, s: &str, max: usize) -> Result<(), RuleError> {
    if s.contains('\0') {
        return Err(RuleError::new(
            param,
            format!("Invalid {param}: text may not contain NUL characters."),
        ));
    }
    if s.chars().count() > max {
        return Err(RuleError::new(
            param,
            format!("{param} is too long: it can be at most {max} characters."),
        ));
    }
    Ok(())
}

/// Checks that a whole-number parameter is within `min..=max`.
pub fn check_range(param: &str, n: i64, min: i64, max: i64) -> Result<(), RuleError> {
    if n < min || n > max {
        return Err(RuleError::new(
            param,
            format!("{param} must be between {min} and {max}."),
        ));
    }
    Ok(())
}

/// Checks a product's image URLs (`images[i]` names a bad one).
pub fn check_images(images: &[String]) -> Result<(), RuleError> {
    images
        .iter()
        .enumerate()
        .try_for_each(|(i, u)| check_http_url(u, &format!("images[{i}]")))
}

/// Checks a URL (redirect target, image): absolute http(s), at most 2048
/// characters, no whitespace or control characters.
pub fn check_http_url(url: &str, param: &str) -> Result<(), RuleError> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let host_ok = rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !host.contains(char::is_whitespace)
    });
    if url.len() > 2048 || !host_ok || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(RuleError::new(
            param,
            "Not a valid URL: use an absolute http or https URL of at most 2048 characters.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::currency::Currency;
    use crate::money::{Discount, Money};

    fn usd() -> Currency {
        "usd".parse().unwrap_or_else(|_| unreachable!())
    }

    fn price(id: &str, cur: &str, amount: PriceAmount) -> Price {
        Price {
            id: id.into(),
            livemode: false,
            created: 0,
            product: "prod_x".into(),
            currency: cur.parse().unwrap_or_else(|_| unreachable!()),
            amount,
            nickname: None,
            active: true,
            lookup_key: None,
            metadata: Metadata::default(),
        }
    }

    fn item(
        i: usize,
        price: &str,
        q: i64,
        adj: Option<AdjustableQuantity>,
    ) -> Result<LinkLineItem, RuleError> {
        LinkLineItem::new(i, format!("li_{i}"), price.into(), q, adj)
    }

    #[test]
    fn metadata_limits_and_unset() {
        let mut m = Metadata::default();
        let mut u = BTreeMap::new();
        u.insert("a".to_string(), "1".to_string());
        u.insert("b".to_string(), "2".to_string());
        assert!(m.apply(&u).is_ok());
        let mut unset = BTreeMap::new();
        unset.insert("a".to_string(), String::new());
        assert!(m.apply(&unset).is_ok());
        assert_eq!(m.as_map().len(), 1);
        let mut long = BTreeMap::new();
        long.insert("k".repeat(41), "v".into());
        assert_eq!(
            m.apply(&long).map_err(|e| e.param.starts_with("metadata[")),
            Err(true)
        );
        let many: BTreeMap<_, _> = (0..51)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert!(Metadata::from_map(&many).is_err());
    }

    #[test]
    fn adjustable_quantity_defaults_and_bounds() -> Result<(), RuleError> {
        let a = item(
            0,
            "p",
            2,
            Some(AdjustableQuantity {
                enabled: true,
                minimum: None,
                maximum: None,
            }),
        )?;
        assert_eq!(a.adjustable_quantity.and_then(|a| a.maximum), Some(99));
        assert_eq!(a.adjustable_quantity.and_then(|a| a.minimum), Some(1));
        let too_big = item(
            0,
            "p",
            1,
            Some(AdjustableQuantity {
                enabled: true,
                minimum: None,
                maximum: Some(1000),
            }),
        );
        assert_eq!(
            too_big.map_err(|e| e.param),
            Err("line_items[0][adjustable_quantity][maximum]".into())
        );
        let outside = item(
            3,
            "p",
            50,
            Some(AdjustableQuantity {
                enabled: true,
                minimum: Some(1),
                maximum: Some(10),
            }),
        );
        assert_eq!(
            outside.map_err(|e| e.param),
            Err("line_items[3][quantity]".into())
        );
        assert!(item(0, "p", 0, None).is_err());
        assert!(item(0, "p", 999, None).is_ok());
        assert!(item(0, "p", 1000, None).is_err());
        Ok(())
    }

    #[test]
    fn link_prices_rules() -> Result<(), RuleError> {
        let prices = vec![
            price("price_a", "usd", PriceAmount::Fixed(500)),
            price("price_e", "eur", PriceAmount::Fixed(500)),
            price(
                "price_c",
                "usd",
                PriceAmount::Custom(CustomUnitAmount {
                    minimum: None,
                    maximum: None,
                    preset: None,
                }),
            ),
        ];
        assert_eq!(
            check_link_prices(&[item(0, "price_a", 1, None)?], &prices)?,
            usd()
        );
        let mixed = [item(0, "price_a", 1, None)?, item(1, "price_e", 1, None)?];
        assert_eq!(
            check_link_prices(&mixed, &prices).map_err(|e| e.param),
            Err("line_items[1][price]".into())
        );
        let custom_with_other = [item(0, "price_a", 1, None)?, item(1, "price_c", 1, None)?];
        assert!(check_link_prices(&custom_with_other, &prices).is_err());
        assert!(check_link_prices(&[item(0, "price_c", 2, None)?], &prices).is_err());
        assert!(check_link_prices(&[], &prices).is_err());
        let many: Vec<_> = (0..21)
            .map(|i| item(i, "price_a", 1, None))
            .collect::<Result<_, _>>()?;
        assert!(check_link_prices(&many, &prices).is_err());
        assert!(check_link_prices(many.get(..20).unwrap_or(&[]), &prices).is_ok());
        Ok(())
    }

    #[test]
    fn custom_unit_amount_rules() {
        assert!(CustomUnitAmount::new(usd(), Some(100), Some(50), None).is_err());
        assert!(CustomUnitAmount::new(usd(), Some(10), None, None).is_err());
        assert!(CustomUnitAmount::new(usd(), Some(100), Some(1000), Some(2000)).is_err());
        let c = CustomUnitAmount::new(usd(), Some(100), Some(1000), Some(500));
        assert!(c.is_ok_and(|c| c.accepts(usd(), 100)
            && !c.accepts(usd(), 99)
            && !c.accepts(usd(), 1001)));
    }

    fn coupon(discount: Discount) -> Coupon {
        Coupon {
            id: "c".into(),
            livemode: false,
            created: 0,
            name: None,
            discount,
            duration: CouponDuration::Once,
            max_redemptions: None,
            redeem_by: None,
            times_redeemed: 0,
            metadata: Metadata::default(),
        }
    }

    #[test]
    fn promotion_code_checks() -> Result<(), crate::money::MoneyError> {
        let pct = Discount::Percent(
            crate::money::PercentOff::from_basis_points(1000).unwrap_or_else(|_| unreachable!()),
        );
        let c = coupon(pct);
        let mut code = PromotionCode {
            id: "promo".into(),
            livemode: false,
            created: 0,
            code: "SAVE".into(),
            coupon: "c".into(),
            active: true,
            max_redemptions: Some(1),
            expires_at: Some(100),
            restrictions: PromotionRestrictions {
                minimum_amount: Some(Money::new(1000, usd())?),
                first_time_transaction: true,
            },
            times_redeemed: 0,
            metadata: Metadata::default(),
        };
        let ok = Money::new(1000, usd())?;
        assert_eq!(code.check(&c, ok, 50, true), Ok(()));
        assert_eq!(
            code.check(&c, ok, 100, true),
            Err(PromotionRejection::Expired)
        );
        assert!(matches!(
            code.check(&c, Money::new(999, usd())?, 50, true),
            Err(PromotionRejection::BelowMinimum(_))
        ));
        assert_eq!(
            code.check(&c, ok, 50, false),
            Err(PromotionRejection::NotFirstTransaction)
        );
        code.times_redeemed = 1;
        assert_eq!(
            code.check(&c, ok, 50, true),
            Err(PromotionRejection::Exhausted)
        );
        code.active = false;
        assert_eq!(
            code.check(&c, ok, 50, true),
            Err(PromotionRejection::Inactive)
        );
        Ok(())
    }

    #[test]
    fn redirect_placeholder_and_url_check() {
        let a = AfterCompletion::Redirect {
            url: "https://shop.example/thanks?s={CHECKOUT_SESSION_ID}".into(),
        };
        assert_eq!(
            a.redirect_for("cs_1").as_deref(),
            Some("https://shop.example/thanks?s=cs_1")
        );
        assert!(check_http_url("https://x.example/a", "u").is_ok());
        for bad in [
            "ftp://x",
            "https://",
            "javascript:alert(1)",
            "https://a b",
            "/relative",
        ] {
            assert!(check_http_url(bad, "u").is_err(), "{bad}");
        }
    }

    #[test]
    fn custom_field_rules() {
        let f = |kind: &str| CustomField {
            key: "size".into(),
            label: CustomFieldLabel {
                kind: "custom".into(),
                custom: "Size".into(),
            },
            kind: kind.into(),
            optional: false,
            dropdown: None,
            numeric: None,
            text: None,
        };
        assert!(check_custom_fields(&[f("text")]).is_ok());
        assert!(check_custom_fields(&[f("dropdown")]).is_err());
        assert!(check_custom_fields(&[f("text"), f("numeric")]).is_err());
        let four: Vec<_> = ["a", "b", "c", "d"]
            .iter()
            .map(|k| CustomField {
                key: (*k).into(),
                ..f("text")
            })
            .collect();
        assert!(check_custom_fields(&four).is_err());
        assert!(check_custom_fields(four.get(..3).unwrap_or(&[])).is_ok());
    }
}
