//! Products, prices, coupons and promotion codes.

use paylink_domain::catalog::{
    Coupon, CouponDuration, CustomUnitAmount, Metadata, Price, PriceAmount, Product, PromotionCode,
    PromotionRestrictions, RuleError,
};
use paylink_domain::{Currency, Discount, Money, PercentOff};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{Table, WriteTx};
use crate::error::StoreError;
use crate::list::{ListQuery, Page};
use crate::sql::{get_bool, Bind, Insert, Sql, Update};
use crate::store::Store;
use crate::Scope;

pub(crate) fn metadata_of(row: &AnyRow) -> Result<Metadata, StoreError> {
    let s: String = row.try_get("metadata")?;
    Ok(serde_json::from_str(&s)?)
}

pub(crate) fn currency_of(s: &str) -> Result<Currency, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("unknown currency {s}")))
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    Ok(serde_json::to_string(v)?)
}

// ---------------------------------------------------------------- products

const PRODUCT_COLS: &str = "id, livemode, created, updated, name, description, active, images, metadata, default_price, url";

fn product_of(row: &AnyRow) -> Result<Product, StoreError> {
    let images: String = row.try_get("images")?;
    Ok(Product {
        id: row.try_get("id")?,
        livemode: get_bool(row, "livemode")?,
        created: row.try_get("created")?,
        updated: row.try_get("updated")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        active: get_bool(row, "active")?,
        images: serde_json::from_str(&images)?,
        metadata: metadata_of(row)?,
        default_price: row.try_get("default_price")?,
        url: row.try_get("url")?,
    })
}

const PRODUCTS: Table = Table::new("products", PRODUCT_COLS);

/// The columns of a product that an update writes, each beside its value
/// (a new product adds its identity to them).
fn product_fields(p: &Product) -> Result<Vec<(&'static str, Bind)>, StoreError> {
    Ok(vec![
        ("name", p.name.as_str().into()),
        ("description", p.description.clone().into()),
        ("active", p.active.into()),
        ("images", json(&p.images)?.into()),
        ("metadata", json(&p.metadata)?.into()),
        ("default_price", p.default_price.clone().into()),
        ("url", p.url.clone().into()),
        ("updated", p.updated.into()),
    ])
}

/// Filters for listing products.
#[derive(Debug, Default, Clone)]
pub struct ProductFilter {
    pub active: Option<bool>,
}

/// What happened to a product on delete.
#[derive(Debug)]
pub enum ProductDeletion {
    Deleted,
    /// It has prices, so it was archived (`active=false`) instead.
    Archived(Product),
}

impl Store {
    pub(crate) async fn insert_product_tx(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        p: &Product,
    ) -> Result<(), StoreError> {
        crate::idempotency::note_created(&format!("/v1/products/{}", p.id));
        let sql = Insert::new("products")
            .set("account_id", scope.account_id.as_str())
            .set("id", p.id.as_str())
            .set("livemode", p.livemode)
            .set("created", p.created)
            .set_all(product_fields(p)?)
            .sql();
        sql.query().execute(tx.conn()).await?;
        Ok(())
    }

    /// Creates a product, with its `product.created` event.
    pub async fn create_product(&self, scope: &Scope, p: &Product) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        Self::insert_product_tx(&mut tx, scope, p).await?;
        let object = self.renderer().product(p);
        self.emit_change(&mut tx, scope, "product.created", None, object)
            .await?;
        tx.commit().await
    }

    pub async fn get_product(&self, scope: &Scope, id: &str) -> Result<Product, StoreError> {
        let sql = Sql::select_one(PRODUCT_COLS, "products", scope, id);
        let row = sql.fetch_row(&self.pool).await?;
        product_of(&row)
    }

    /// Reads a product, lets `f` change it, and writes it back, atomically.
    pub async fn update_product(
        &self,
        scope: &Scope,
        id: &str,
        f: impl FnOnce(&mut Product) -> Result<(), RuleError>,
    ) -> Result<Product, StoreError> {
        let mut tx = self.write().await?;
        let row = self
            .select_one_for_update(&PRODUCTS, scope, id)
            .fetch_row(tx.conn())
            .await?;
        let mut p = product_of(&row)?;
        let before = self.renderer().product(&p);
        f(&mut p)?;
        if let Some(dp) = &p.default_price {
            let price = self.get_price_tx(&mut tx, scope, dp).await;
            match price {
                Ok(pr) if pr.product == p.id && pr.active => {}
                Ok(_) => {
                    return Err(RuleError::new(
                        "default_price",
                        "The default price must be an active price of this product.",
                    )
                    .into())
                }
                Err(StoreError::NotFound) => {
                    return Err(RuleError::no_such("default_price", "price", dp).into())
                }
                Err(e) => return Err(e),
            }
        }
        Update::new("products")
            .set_all(product_fields(&p)?)
            .one(scope, id)
            .query()
            .execute(tx.conn())
            .await?;
        let after = self.renderer().product(&p);
        self.emit_change(&mut tx, scope, "product.updated", Some(before), after)
            .await?;
        tx.commit().await?;
        self.pages_changed();
        Ok(p)
    }

    /// Deletes a product, or archives it when prices refer to it.
    pub async fn delete_product(
        &self,
        scope: &Scope,
        id: &str,
        now: i64,
    ) -> Result<ProductDeletion, StoreError> {
        let mut tx = self.write().await?;
        let row = self
            .select_one_for_update(&PRODUCTS, scope, id)
            .fetch_row(tx.conn())
            .await?;
        let mut product = product_of(&row)?;
        let mut count = Sql::new("SELECT COUNT(*) FROM prices WHERE ");
        count.scope(scope).push(" AND product_id = ").bind(id);
        let prices: i64 = count.query().fetch_one(tx.conn()).await?.try_get(0)?;
        if prices > 0 {
            let mut up = Sql::new("UPDATE products SET active = 0, updated = ");
            up.bind(now)
                .push(" WHERE ")
                .scope(scope)
                .push(" AND id = ")
                .bind(id);
            up.query().execute(tx.conn()).await?;
            tx.commit().await?;
            self.pages_changed();
            product.active = false;
            product.updated = now;
            return Ok(ProductDeletion::Archived(product));
        }
        let mut del = Sql::new("DELETE FROM products WHERE ");
        del.scope(scope).push(" AND id = ").bind(id);
        del.query().execute(tx.conn()).await?;
        tx.commit().await?;
        self.pages_changed();
        Ok(ProductDeletion::Deleted)
    }

    pub async fn list_products(
        &self,
        scope: &Scope,
        f: &ProductFilter,
        q: &ListQuery,
    ) -> Result<Page<Product>, StoreError> {
        let mut filters: Vec<(&str, Bind)> = Vec::new();
        if let Some(a) = f.active {
            filters.push(("active", a.into()));
        }
        self.list_rows("products", PRODUCT_COLS, scope, &filters, q, product_of)
            .await
    }
}

// ------------------------------------------------------------------ prices

const PRICE_COLS: &str = "id, livemode, created, product_id, currency, unit_amount, custom_enabled, custom_minimum, custom_maximum, custom_preset, nickname, active, lookup_key, metadata";
const PRICES: Table = Table::new("prices", PRICE_COLS);

fn price_of(row: &AnyRow) -> Result<Price, StoreError> {
    let amount = if get_bool(row, "custom_enabled")? {
        PriceAmount::Custom(CustomUnitAmount {
            minimum: row.try_get("custom_minimum")?,
            maximum: row.try_get("custom_maximum")?,
            preset: row.try_get("custom_preset")?,
        })
    } else {
        let a: Option<i64> = row.try_get("unit_amount")?;
        PriceAmount::Fixed(a.ok_or_else(|| StoreError::Corrupt("price without amount".into()))?)
    };
    let currency: String = row.try_get("currency")?;
    Ok(Price {
        id: row.try_get("id")?,
        livemode: get_bool(row, "livemode")?,
        created: row.try_get("created")?,
        product: row.try_get("product_id")?,
        currency: currency_of(&currency)?,
        amount,
        nickname: row.try_get("nickname")?,
        active: get_bool(row, "active")?,
        lookup_key: row.try_get("lookup_key")?,
        metadata: metadata_of(row)?,
    })
}

#[derive(Debug, Default, Clone)]
pub struct PriceFilter {
    pub active: Option<bool>,
    pub product: Option<String>,
    pub currency: Option<String>,
}

/// A product created together with a price (`product_data`).
pub enum PriceProduct {
    Existing(String),
    New(Box<Product>),
}

impl Store {
    pub(crate) async fn get_price_tx(
        &self,
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        id: &str,
    ) -> Result<Price, StoreError> {
        let sql = Sql::select_one(PRICE_COLS, "prices", scope, id);
        let row = sql.fetch_row(tx.conn()).await?;
        price_of(&row)
    }

    pub async fn create_price(
        &self,
        scope: &Scope,
        product: PriceProduct,
        p: &Price,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        self.insert_price_with_events(&mut tx, scope, product, p)
            .await?;
        tx.commit().await
    }

    /// [`Store::insert_price_tx`], with the `price.created` event (and
    /// `product.created` for a new product).
    pub(crate) async fn insert_price_with_events(
        &self,
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        product: PriceProduct,
        p: &Price,
    ) -> Result<(), StoreError> {
        let new_product = match &product {
            PriceProduct::New(prod) => Some(self.renderer().product(prod)),
            PriceProduct::Existing(_) => None,
        };
        Self::insert_price_tx(tx, scope, product, p).await?;
        if let Some(object) = new_product {
            self.emit_change(tx, scope, "product.created", None, object)
                .await?;
        }
        let object = self.renderer().price(p);
        self.emit_change(tx, scope, "price.created", None, object)
            .await?;
        Ok(())
    }

    /// Inserts a price in `tx`, with its product when it is new (an
    /// existing one must be in `scope`).
    pub(crate) async fn insert_price_tx(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        product: PriceProduct,
        p: &Price,
    ) -> Result<(), StoreError> {
        match product {
            PriceProduct::New(prod) => Self::insert_product_tx(tx, scope, &prod).await?,
            PriceProduct::Existing(id) => {
                let mut sel = Sql::new("SELECT id FROM products WHERE ");
                sel.scope(scope).push(" AND id = ").bind(id.as_str());
                if sel.query().fetch_optional(tx.conn()).await?.is_none() {
                    return Err(RuleError::no_such("product", "product", &id).into());
                }
            }
        }
        let custom = p.custom_unit_amount();
        crate::idempotency::note_created(&format!("/v1/prices/{}", p.id));
        let sql = Insert::new("prices")
            .set("account_id", scope.account_id.as_str())
            .set("id", p.id.as_str())
            .set("livemode", p.livemode)
            .set("created", p.created)
            .set("product_id", p.product.as_str())
            .set("currency", p.currency.code())
            .set("unit_amount", p.unit_amount())
            .set("custom_enabled", custom.is_some())
            .set("custom_minimum", custom.and_then(|c| c.minimum))
            .set("custom_maximum", custom.and_then(|c| c.maximum))
            .set("custom_preset", custom.and_then(|c| c.preset))
            .set("nickname", p.nickname.clone())
            .set("active", p.active)
            .set("lookup_key", p.lookup_key.clone())
            .set("metadata", json(&p.metadata)?)
            .sql();
        sql.query().execute(tx.conn()).await?;
        Ok(())
    }

    pub async fn get_price(&self, scope: &Scope, id: &str) -> Result<Price, StoreError> {
        let sql = Sql::select_one(PRICE_COLS, "prices", scope, id);
        let row = sql.fetch_row(&self.pool).await?;
        price_of(&row)
    }

    /// Reads the prices named in `ids` (missing ones are simply absent).
    pub async fn get_prices(
        &self,
        scope: &Scope,
        ids: &[String],
    ) -> Result<Vec<Price>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.get_price(scope, id).await {
                Ok(p) => out.push(p),
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    pub async fn update_price(
        &self,
        scope: &Scope,
        id: &str,
        f: impl FnOnce(&mut Price) -> Result<(), RuleError>,
    ) -> Result<Price, StoreError> {
        let price = self
            .modify_emitting(
                &PRICES,
                scope,
                id,
                "price.updated",
                price_of,
                f,
                |p| {
                    Ok(Update::new("prices")
                        .set("active", p.active)
                        .set("nickname", p.nickname.clone())
                        .set("lookup_key", p.lookup_key.clone())
                        .set("metadata", json(&p.metadata)?))
                },
                |r, p| r.price(p),
            )
            .await?;
        self.pages_changed();
        Ok(price)
    }

    pub async fn list_prices(
        &self,
        scope: &Scope,
        f: &PriceFilter,
        q: &ListQuery,
    ) -> Result<Page<Price>, StoreError> {
        let mut filters: Vec<(&str, Bind)> = Vec::new();
        if let Some(a) = f.active {
            filters.push(("active", a.into()));
        }
        if let Some(p) = &f.product {
            filters.push(("product_id", p.into()));
        }
        if let Some(c) = &f.currency {
            filters.push(("currency", c.into()));
        }
        self.list_rows("prices", PRICE_COLS, scope, &filters, q, price_of)
            .await
    }
}

// ----------------------------------------------------------------- coupons

const COUPON_COLS: &str = "id, livemode, created, name, percent_off_bp, amount_off, currency, duration, max_redemptions, redeem_by, times_redeemed, metadata";
const COUPONS: Table = Table::new("coupons", COUPON_COLS).soft_deleted();

pub(crate) fn coupon_of(row: &AnyRow) -> Result<Coupon, StoreError> {
    let pct: Option<i64> = row.try_get("percent_off_bp")?;
    let amount: Option<i64> = row.try_get("amount_off")?;
    let currency: Option<String> = row.try_get("currency")?;
    let discount = match (pct, amount, currency) {
        (Some(bp), None, _) => Discount::Percent(
            PercentOff::from_basis_points(bp)
                .map_err(|_| StoreError::Corrupt("coupon percent".into()))?,
        ),
        (None, Some(a), Some(c)) => Discount::Amount(
            Money::new(a, currency_of(&c)?)
                .map_err(|_| StoreError::Corrupt("coupon amount".into()))?,
        ),
        _ => return Err(StoreError::Corrupt("coupon discount".into())),
    };
    Ok(Coupon {
        id: row.try_get("id")?,
        livemode: get_bool(row, "livemode")?,
        created: row.try_get("created")?,
        name: row.try_get("name")?,
        discount,
        duration: CouponDuration::Once,
        max_redemptions: row.try_get("max_redemptions")?,
        redeem_by: row.try_get("redeem_by")?,
        times_redeemed: row.try_get("times_redeemed")?,
        metadata: metadata_of(row)?,
    })
}

impl Store {
    /// Creates a coupon, with its `coupon.created` event.
    pub async fn create_coupon(&self, scope: &Scope, c: &Coupon) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        Self::insert_coupon_tx(&mut tx, scope, c).await?;
        let object = self.renderer().coupon(c);
        self.emit_change(&mut tx, scope, "coupon.created", None, object)
            .await?;
        tx.commit().await
    }

    /// Creates a coupon and its first promotion code in one transaction:
    /// both or neither (a taken code is a [`StoreError::Conflict`]).
    pub async fn create_coupon_with_code(
        &self,
        scope: &Scope,
        c: &Coupon,
        code: &PromotionCode,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        Self::insert_coupon_tx(&mut tx, scope, c).await?;
        Self::insert_promotion_code_tx(&mut tx, scope, code).await?;
        let object = self.renderer().coupon(c);
        self.emit_change(&mut tx, scope, "coupon.created", None, object)
            .await?;
        let object = self.renderer().promotion_code(code);
        self.emit_change(&mut tx, scope, "promotion_code.created", None, object)
            .await?;
        tx.commit().await
    }

    async fn insert_coupon_tx(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        c: &Coupon,
    ) -> Result<(), StoreError> {
        let (pct, amount, currency) = match c.discount {
            Discount::Percent(p) => (Some(i64::from(p.basis_points())), None, None),
            Discount::Amount(m) => (
                None,
                Some(m.amount()),
                Some(m.currency().code().to_string()),
            ),
        };
        crate::idempotency::note_created(&format!("/v1/coupons/{}", c.id));
        let sql = Insert::new("coupons")
            .set("account_id", scope.account_id.as_str())
            .set("id", c.id.as_str())
            .set("livemode", c.livemode)
            .set("created", c.created)
            .set("name", c.name.clone())
            .set("percent_off_bp", pct)
            .set("amount_off", amount)
            .set("currency", currency)
            .set("duration", "once")
            .set("max_redemptions", c.max_redemptions)
            .set("redeem_by", c.redeem_by)
            .set("times_redeemed", c.times_redeemed)
            .set("metadata", json(&c.metadata)?)
            .sql();
        sql.query().execute(tx.conn()).await?;
        Ok(())
    }

    pub async fn get_coupon(&self, scope: &Scope, id: &str) -> Result<Coupon, StoreError> {
        let mut sql = Sql::select_one(COUPON_COLS, "coupons", scope, id);
        sql.push(" AND deleted = 0");
        let row = sql.fetch_row(&self.pool).await?;
        coupon_of(&row)
    }

    pub async fn update_coupon(
        &self,
        scope: &Scope,
        id: &str,
        f: impl FnOnce(&mut Coupon) -> Result<(), RuleError>,
    ) -> Result<Coupon, StoreError> {
        self.modify_emitting(
            &COUPONS,
            scope,
            id,
            "coupon.updated",
            coupon_of,
            f,
            |c| {
                Ok(Update::new("coupons")
                    .set("name", c.name.clone())
                    .set("metadata", json(&c.metadata)?))
            },
            |r, c| r.coupon(c),
        )
        .await
    }

    /// Deletes a coupon. Promotion codes that use it stop applying, and
    /// past redemptions keep their record.
    pub async fn delete_coupon(&self, scope: &Scope, id: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let row = self
            .select_one_for_update(&COUPONS, scope, id)
            .fetch_row(tx.conn())
            .await?;
        let coupon = coupon_of(&row)?;
        let mut up = Sql::new("UPDATE coupons SET deleted = 1 WHERE ");
        up.scope(scope)
            .push(" AND id = ")
            .bind(id)
            .push(" AND deleted = 0");
        let n = up.query().execute(tx.conn()).await?.rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let object = self.renderer().coupon(&coupon);
        self.emit_change(&mut tx, scope, "coupon.deleted", None, object)
            .await?;
        tx.commit().await
    }

    pub async fn list_coupons(
        &self,
        scope: &Scope,
        q: &ListQuery,
    ) -> Result<Page<Coupon>, StoreError> {
        self.list_rows(
            "coupons",
            COUPON_COLS,
            scope,
            &[("deleted", Bind::I64(0))],
            q,
            coupon_of,
        )
        .await
    }
}

// --------------------------------------------------------- promotion codes

const PROMO_COLS: &str = "id, livemode, created, code, code_key, coupon_id, active, max_redemptions, expires_at, minimum_amount, minimum_amount_currency, first_time_transaction, times_redeemed, metadata";
const PROMOTION_CODES: Table = Table::new("promotion_codes", PROMO_COLS);

fn promo_of(row: &AnyRow) -> Result<PromotionCode, StoreError> {
    let min: Option<i64> = row.try_get("minimum_amount")?;
    let min_cur: Option<String> = row.try_get("minimum_amount_currency")?;
    let minimum_amount = match (min, min_cur) {
        (Some(a), Some(c)) => Some(
            Money::new(a, currency_of(&c)?)
                .map_err(|_| StoreError::Corrupt("minimum amount".into()))?,
        ),
        _ => None,
    };
    Ok(PromotionCode {
        id: row.try_get("id")?,
        livemode: get_bool(row, "livemode")?,
        created: row.try_get("created")?,
        code: row.try_get("code")?,
        coupon: row.try_get("coupon_id")?,
        active: get_bool(row, "active")?,
        max_redemptions: row.try_get("max_redemptions")?,
        expires_at: row.try_get("expires_at")?,
        restrictions: PromotionRestrictions {
            minimum_amount,
            first_time_transaction: get_bool(row, "first_time_transaction")?,
        },
        times_redeemed: row.try_get("times_redeemed")?,
        metadata: metadata_of(row)?,
    })
}

#[derive(Debug, Default, Clone)]
pub struct PromotionCodeFilter {
    pub active: Option<bool>,
    pub code: Option<String>,
    pub coupon: Option<String>,
}

impl Store {
    /// Creates a promotion code. A code already used in this account (in
    /// any letter case) is a [`StoreError::Conflict`].
    pub async fn create_promotion_code(
        &self,
        scope: &Scope,
        p: &PromotionCode,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        Self::insert_promotion_code_tx(&mut tx, scope, p).await?;
        let object = self.renderer().promotion_code(p);
        self.emit_change(&mut tx, scope, "promotion_code.created", None, object)
            .await?;
        tx.commit().await
    }

    /// Inserts a promotion code in `tx`; its coupon must be in `scope` and
    /// not deleted.
    async fn insert_promotion_code_tx(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        p: &PromotionCode,
    ) -> Result<(), StoreError> {
        let mut sel = Sql::new("SELECT id FROM coupons WHERE ");
        sel.scope(scope)
            .push(" AND id = ")
            .bind(p.coupon.as_str())
            .push(" AND deleted = 0");
        if sel.query().fetch_optional(tx.conn()).await?.is_none() {
            return Err(RuleError::new(
                "promotion[coupon]",
                format!("No such coupon: '{}'", p.coupon),
            )
            .into());
        }
        let min = p.restrictions.minimum_amount;
        crate::idempotency::note_created(&format!("/v1/promotion_codes/{}", p.id));
        let sql = Insert::new("promotion_codes")
            .set("account_id", scope.account_id.as_str())
            .set("id", p.id.as_str())
            .set("livemode", p.livemode)
            .set("created", p.created)
            .set("code", p.code.as_str())
            .set(
                "code_key",
                paylink_domain::catalog::promotion_code_key(&p.code),
            )
            .set("coupon_id", p.coupon.as_str())
            .set("active", p.active)
            .set("max_redemptions", p.max_redemptions)
            .set("expires_at", p.expires_at)
            .set("minimum_amount", min.map(|m| m.amount()))
            .set("minimum_amount_currency", min.map(|m| m.currency().code()))
            .set(
                "first_time_transaction",
                p.restrictions.first_time_transaction,
            )
            .set("times_redeemed", p.times_redeemed)
            .set("metadata", json(&p.metadata)?)
            .sql();
        sql.query().execute(tx.conn()).await?;
        Ok(())
    }

    pub async fn get_promotion_code(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<PromotionCode, StoreError> {
        let sql = Sql::select_one(PROMO_COLS, "promotion_codes", scope, id);
        let row = sql.fetch_row(&self.pool).await?;
        promo_of(&row)
    }

    pub async fn update_promotion_code(
        &self,
        scope: &Scope,
        id: &str,
        f: impl FnOnce(&mut PromotionCode) -> Result<(), RuleError>,
    ) -> Result<PromotionCode, StoreError> {
        self.modify_emitting(
            &PROMOTION_CODES,
            scope,
            id,
            "promotion_code.updated",
            promo_of,
            f,
            |p| {
                Ok(Update::new("promotion_codes")
                    .set("active", p.active)
                    .set("metadata", json(&p.metadata)?))
            },
            |r, p| r.promotion_code(p),
        )
        .await
    }

    pub async fn list_promotion_codes(
        &self,
        scope: &Scope,
        f: &PromotionCodeFilter,
        q: &ListQuery,
    ) -> Result<Page<PromotionCode>, StoreError> {
        let mut filters: Vec<(&str, Bind)> = Vec::new();
        if let Some(a) = f.active {
            filters.push(("active", a.into()));
        }
        if let Some(c) = &f.code {
            filters.push((
                "code_key",
                paylink_domain::catalog::promotion_code_key(c).into(),
            ));
        }
        if let Some(c) = &f.coupon {
            filters.push(("coupon_id", c.into()));
        }
        self.list_rows("promotion_codes", PROMO_COLS, scope, &filters, q, promo_of)
            .await
    }
}
