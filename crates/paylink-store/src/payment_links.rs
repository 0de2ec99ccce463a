//! Payment links and their line items. A link is never deleted.

use paylink_domain::catalog::{AdjustableQuantity, LinkLineItem, PaymentLink, Price, RuleError};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::catalog::{currency_of, metadata_of, PriceProduct};
use crate::db::{Table, WriteTx};
use crate::error::StoreError;
use crate::list::{ListQuery, Page};
use crate::sql::{get_bool, Bind, Insert, Sql, Update};
use crate::store::Store;
use crate::Scope;

const LINK_COLS: &str = "id, livemode, created, active, currency, allow_promotion_codes, after_completion, inactive_message, completed_sessions_limit, completed_sessions_count, custom_fields, billing_address_collection, phone_number_collection, submit_type, metadata, slug, payment_intent_data, custom_text, shipping_address_collection, consent_terms";

fn link_of(row: &AnyRow, line_items: Vec<LinkLineItem>) -> Result<PaymentLink, StoreError> {
    let currency: String = row.try_get("currency")?;
    let after: String = row.try_get("after_completion")?;
    let fields: String = row.try_get("custom_fields")?;
    Ok(PaymentLink {
        id: row.try_get("id")?,
        livemode: get_bool(row, "livemode")?,
        created: row.try_get("created")?,
        active: get_bool(row, "active")?,
        currency: currency_of(&currency)?,
        line_items,
        allow_promotion_codes: get_bool(row, "allow_promotion_codes")?,
        after_completion: serde_json::from_str(&after)?,
        inactive_message: row.try_get("inactive_message")?,
        completed_sessions_limit: row.try_get("completed_sessions_limit")?,
        completed_sessions_count: row.try_get("completed_sessions_count")?,
        custom_fields: serde_json::from_str(&fields)?,
        billing_address_collection: row.try_get("billing_address_collection")?,
        phone_number_collection: get_bool(row, "phone_number_collection")?,
        submit_type: row.try_get("submit_type")?,
        metadata: metadata_of(row)?,
        slug: row.try_get("slug")?,
        payment_intent_data: json_opt(row, "payment_intent_data")?,
        custom_text: json_opt(row, "custom_text")?.unwrap_or_default(),
        shipping_address_collection: json_opt(row, "shipping_address_collection")?,
        consent_terms: get_bool(row, "consent_terms")?,
    })
}

/// A JSON column that may be NULL (nothing set).
pub(crate) fn json_opt<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    col: &str,
) -> Result<Option<T>, StoreError> {
    Ok(row
        .try_get::<Option<String>, _>(col)?
        .map(|d| serde_json::from_str(&d))
        .transpose()?)
}

/// An optional value as a JSON column (NULL for None).
fn to_json_opt<T: serde::Serialize>(v: Option<&T>) -> Result<Option<String>, StoreError> {
    Ok(v.map(serde_json::to_string).transpose()?)
}

fn item_of(row: &AnyRow) -> Result<LinkLineItem, StoreError> {
    let enabled: Option<i64> = row.try_get("adjustable_enabled")?;
    Ok(LinkLineItem {
        id: row.try_get("id")?,
        price: row.try_get("price_id")?,
        quantity: row.try_get("quantity")?,
        adjustable_quantity: enabled
            .map(|e| -> Result<AdjustableQuantity, StoreError> {
                Ok(AdjustableQuantity {
                    enabled: e != 0,
                    minimum: row.try_get("adjustable_minimum")?,
                    maximum: row.try_get("adjustable_maximum")?,
                })
            })
            .transpose()?,
    })
}

#[derive(Debug, Default, Clone)]
pub struct LinkFilter {
    pub active: Option<bool>,
}

const LINKS: Table = Table::new("payment_links", LINK_COLS);

/// The columns of a link that an update writes, each beside its value
/// (a new link adds its identity and count to them).
fn link_fields(l: &PaymentLink) -> Result<Vec<(&'static str, Bind)>, StoreError> {
    Ok(vec![
        ("active", l.active.into()),
        ("currency", l.currency.code().into()),
        ("allow_promotion_codes", l.allow_promotion_codes.into()),
        (
            "after_completion",
            serde_json::to_string(&l.after_completion)?.into(),
        ),
        ("inactive_message", l.inactive_message.clone().into()),
        (
            "completed_sessions_limit",
            l.completed_sessions_limit.into(),
        ),
        (
            "custom_fields",
            serde_json::to_string(&l.custom_fields)?.into(),
        ),
        (
            "billing_address_collection",
            l.billing_address_collection.as_str().into(),
        ),
        ("phone_number_collection", l.phone_number_collection.into()),
        ("submit_type", l.submit_type.as_str().into()),
        ("metadata", serde_json::to_string(&l.metadata)?.into()),
        ("slug", l.slug.clone().into()),
        ("custom_text", serde_json::to_string(&l.custom_text)?.into()),
        (
            "payment_intent_data",
            to_json_opt(l.payment_intent_data.as_ref())?.into(),
        ),
        (
            "shipping_address_collection",
            to_json_opt(l.shipping_address_collection.as_ref())?.into(),
        ),
        ("consent_terms", l.consent_terms.into()),
    ])
}

impl Store {
    /// How many of the account's links, in either mode, ask buyers to
    /// accept its terms of service (the URL is the account's, for both).
    pub async fn links_requiring_terms(&self, account_id: &str) -> Result<i64, StoreError> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM payment_links WHERE account_id = ");
        sql.bind(account_id).push(" AND consent_terms = 1");
        Ok(sql.query().fetch_one(&self.pool).await?.try_get(0)?)
    }
}

impl Store {
    async fn insert_items(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        link_id: &str,
        items: &[LinkLineItem],
    ) -> Result<(), StoreError> {
        for (pos, it) in items.iter().enumerate() {
            let adj = it.adjustable_quantity;
            let sql = Insert::new("payment_link_items")
                .set("account_id", scope.account_id.as_str())
                .set("livemode", scope.livemode)
                .set("link_id", link_id)
                .set("position", i64::try_from(pos).unwrap_or(i64::MAX))
                .set("id", it.id.as_str())
                .set("price_id", it.price.as_str())
                .set("quantity", it.quantity)
                .set("adjustable_enabled", adj.map(|a| i64::from(a.enabled)))
                .set("adjustable_minimum", adj.and_then(|a| a.minimum))
                .set("adjustable_maximum", adj.and_then(|a| a.maximum))
                .sql();
            sql.query().execute(tx.conn()).await?;
        }
        Ok(())
    }

    async fn items_of(
        &self,
        conn: &mut sqlx::AnyConnection,
        scope: &Scope,
        link_id: &str,
    ) -> Result<Vec<LinkLineItem>, StoreError> {
        let mut sql = Sql::new("SELECT id, price_id, quantity, adjustable_enabled, adjustable_minimum, adjustable_maximum FROM payment_link_items WHERE ");
        sql.scope(scope)
            .push(" AND link_id = ")
            .bind(link_id)
            .push(" ORDER BY position");
        let rows = sql.query().fetch_all(conn).await?;
        rows.iter().map(item_of).collect()
    }

    pub async fn create_payment_link(
        &self,
        scope: &Scope,
        l: &PaymentLink,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        self.insert_link_with_event(&mut tx, scope, l).await?;
        tx.commit().await
    }

    /// Inserts a link in `tx` with its `payment_link.created` event.
    async fn insert_link_with_event(
        &self,
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        l: &PaymentLink,
    ) -> Result<(), StoreError> {
        Self::insert_link_tx(tx, scope, l).await?;
        let object = self.renderer().payment_link(l);
        self.emit_change(tx, scope, "payment_link.created", None, object)
            .await?;
        Ok(())
    }

    /// Creates a payment link and a new price it sells (with the price's
    /// product when that is new) in one transaction: all or nothing.
    pub async fn create_payment_link_with_price(
        &self,
        scope: &Scope,
        l: &PaymentLink,
        product: PriceProduct,
        price: &Price,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        self.insert_price_with_events(&mut tx, scope, product, price)
            .await?;
        self.insert_link_with_event(&mut tx, scope, l).await?;
        tx.commit().await
    }

    async fn insert_link_tx(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        l: &PaymentLink,
    ) -> Result<(), StoreError> {
        crate::idempotency::note_created(&format!("/v1/payment_links/{}", l.id));
        Insert::new("payment_links")
            .set("account_id", scope.account_id.as_str())
            .set("id", l.id.as_str())
            .set("livemode", l.livemode)
            .set("created", l.created)
            .set("completed_sessions_count", l.completed_sessions_count)
            .set_all(link_fields(l)?)
            .sql()
            .query()
            .execute(tx.conn())
            .await?;
        Self::insert_items(tx, scope, &l.id, &l.line_items).await
    }

    pub async fn get_payment_link(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<PaymentLink, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let sql = Sql::select_one(LINK_COLS, "payment_links", scope, id);
        let row = sql.fetch_row(&mut *conn).await?;
        let items = self.items_of(&mut conn, scope, id).await?;
        link_of(&row, items)
    }

    /// Reads a link, lets `f` change it (it may replace the line items),
    /// and writes it back, atomically. `check` runs inside the transaction
    /// after `f`, to validate against the prices as they are now.
    pub async fn update_payment_link<F, C>(
        &self,
        scope: &Scope,
        id: &str,
        f: F,
        check: C,
    ) -> Result<PaymentLink, StoreError>
    where
        F: FnOnce(&mut PaymentLink) -> Result<bool, RuleError>,
        C: FnOnce(&PaymentLink, &[paylink_domain::catalog::Price]) -> Result<(), RuleError>,
    {
        let mut tx = self.write().await?;
        let row = self
            .select_one_for_update(&LINKS, scope, id)
            .fetch_row(tx.conn())
            .await?;
        let items = self.items_of(tx.conn(), scope, id).await?;
        let mut link = link_of(&row, items)?;
        let before = self.renderer().payment_link(&link);
        let items_changed = f(&mut link)?;
        let mut prices = Vec::new();
        for it in &link.line_items {
            match self.get_price_tx(&mut tx, scope, &it.price).await {
                Ok(p) => prices.push(p),
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        check(&link, &prices)?;
        Update::new("payment_links")
            .set_all(link_fields(&link)?)
            .one(scope, id)
            .query()
            .execute(tx.conn())
            .await?;
        if items_changed {
            let mut del = Sql::new("DELETE FROM payment_link_items WHERE ");
            del.scope(scope).push(" AND link_id = ").bind(id);
            del.query().execute(tx.conn()).await?;
            Self::insert_items(&mut tx, scope, id, &link.line_items).await?;
        }
        let after = self.renderer().payment_link(&link);
        self.emit_change(&mut tx, scope, "payment_link.updated", Some(before), after)
            .await?;
        tx.commit().await?;
        self.pages_changed();
        Ok(link)
    }

    pub async fn list_payment_links(
        &self,
        scope: &Scope,
        f: &LinkFilter,
        q: &ListQuery,
    ) -> Result<Page<PaymentLink>, StoreError> {
        let mut filters: Vec<(&str, Bind)> = Vec::new();
        if let Some(a) = f.active {
            filters.push(("active", a.into()));
        }
        let page = self
            .list_rows("payment_links", LINK_COLS, scope, &filters, q, |row| {
                link_of(row, Vec::new())
            })
            .await?;
        let mut conn = self.pool.acquire().await?;
        let mut data = Vec::with_capacity(page.data.len());
        for mut l in page.data {
            l.line_items = self.items_of(&mut conn, scope, &l.id).await?;
            data.push(l);
        }
        Ok(Page {
            data,
            has_more: page.has_more,
        })
    }
}
