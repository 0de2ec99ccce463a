//! Events: what changed, written in the same transaction as the change.
//!
//! Each event keeps the object as the API rendered it at the time (the
//! caller's renderer, run inside the transaction on the object as written)
//! and, for an update, the previous values of the top-level fields that
//! changed (Stripe's `previous_attributes`). That data is sealed under the
//! account's data key: a checkout session's holds the buyer's email.

use paylink_domain::catalog::{Coupon, PaymentLink, Price, Product, PromotionCode, RuleError};
use paylink_domain::checkout::{CheckoutSession, Customer, PaymentIntent, Refund};
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{Table, WriteTx};
use crate::error::StoreError;
use crate::list::{ListQuery, Page};
use crate::sql::{get_bool, Insert, Sql, Update};
use crate::store::Store;
use crate::Scope;

/// Days an event is kept.
pub const EVENT_DAYS: i64 = 30;

/// The API version events are rendered in: the one the API speaks (what
/// stripe-python 16.1 sends), also `paylink_web::STRIPE_VERSION`.
pub const API_VERSION: &str = "2026-10-28.endive";

/// Renders objects as the API does, for the events the store writes (the
/// web layer's renderer, given with [`Store::rendering`]), and names the
/// request a change is made by.
pub trait Renderer: Send + Sync {
    fn product(&self, p: &Product) -> Value;
    fn price(&self, p: &Price) -> Value;
    fn payment_link(&self, l: &PaymentLink) -> Value;
    fn checkout_session(&self, s: &CheckoutSession) -> Value;
    fn coupon(&self, c: &Coupon) -> Value;
    fn promotion_code(&self, p: &PromotionCode) -> Value;
    fn payment_intent(&self, p: &PaymentIntent) -> Value;
    fn customer(&self, c: &Customer) -> Value;
    fn refund(&self, r: &Refund) -> Value;
    /// The id (`req_…`) of the request being served, if any.
    fn request_id(&self) -> Option<String> {
        None
    }
    /// Now, by the app's clock (the time events are stamped with).
    fn now(&self) -> i64;
}

/// The renderer of a store that was given none (the store's own tests):
/// each object as its id and kind only.
pub struct Bare;

fn bare(object: &str, id: &str) -> Value {
    serde_json::json!({"id": id, "object": object})
}

impl Renderer for Bare {
    fn product(&self, p: &Product) -> Value {
        bare("product", &p.id)
    }
    fn price(&self, p: &Price) -> Value {
        bare("price", &p.id)
    }
    fn payment_link(&self, l: &PaymentLink) -> Value {
        bare("payment_link", &l.id)
    }
    fn checkout_session(&self, s: &CheckoutSession) -> Value {
        bare("checkout.session", &s.id)
    }
    fn coupon(&self, c: &Coupon) -> Value {
        bare("coupon", &c.id)
    }
    fn promotion_code(&self, p: &PromotionCode) -> Value {
        bare("promotion_code", &p.id)
    }
    fn payment_intent(&self, p: &PaymentIntent) -> Value {
        bare("payment_intent", &p.id)
    }
    fn customer(&self, c: &Customer) -> Value {
        bare("customer", &c.id)
    }
    fn refund(&self, r: &Refund) -> Value {
        bare("refund", &r.id)
    }
    fn now(&self) -> i64 {
        paylink_domain::Clock::now(&paylink_domain::clock::SystemClock)
    }
}

/// A stored event, opened.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub livemode: bool,
    pub created: i64,
    pub kind: String,
    pub object_id: String,
    pub api_version: String,
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
    /// The object as rendered when the event happened.
    pub object: Value,
    /// For an update: the changed top-level fields' previous values.
    pub previous_attributes: Option<Value>,
    /// Deliveries of it to webhook endpoints not yet made.
    pub pending_webhooks: i64,
}

impl Event {
    /// The event in Stripe's shape, as the API and webhooks send it;
    /// `data.object` is the object as the API rendered it then.
    pub fn to_api(&self) -> Value {
        let mut data = Map::new();
        data.insert("object".into(), self.object.clone());
        if let Some(p) = &self.previous_attributes {
            data.insert("previous_attributes".into(), p.clone());
        }
        serde_json::json!({
            "id": self.id,
            "object": "event",
            "api_version": self.api_version,
            "created": self.created,
            "data": data,
            "livemode": self.livemode,
            "pending_webhooks": self.pending_webhooks,
            "request": {"id": self.request_id, "idempotency_key": self.idempotency_key},
            "type": self.kind,
        })
    }
}

/// Filters of `GET /v1/events`.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Any of these types (empty: all).
    pub types: Vec<String>,
}

const COLS: &str = "id, livemode, created, type, object_id, api_version, request_id, idempotency_key, data, \
    (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.account_id = events.account_id \
     AND d.livemode = events.livemode AND d.event_id = events.id AND d.state = 'pending') AS pending_webhooks";

fn place(id: &str) -> String {
    format!("events.data:{id}")
}

/// The previous values of the top-level fields `after` changed from
/// `before` (`None`: nothing changed that the API shows).
pub fn previous_attributes(before: &Value, after: &Value) -> Option<Value> {
    let (Value::Object(b), Value::Object(a)) = (before, after) else {
        return None;
    };
    let changed: Map<String, Value> = b
        .iter()
        .filter(|(k, v)| a.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!changed.is_empty()).then_some(Value::Object(changed))
}

impl Store {
    /// Writes event `kind` about `after` (rendered) in `tx`; with
    /// `before`, the fields the change altered are kept as
    /// `previous_attributes`, and no event is written if none changed.
    /// The new event's id, if one was written.
    pub(crate) async fn emit_change(
        &self,
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        kind: &str,
        before: Option<Value>,
        after: Value,
    ) -> Result<Option<String>, StoreError> {
        let previous = match before {
            Some(b) => match previous_attributes(&b, &after) {
                Some(p) => Some(p),
                None => return Ok(None),
            },
            None => None,
        };
        let (request_id, idempotency_key) =
            (self.render.request_id(), crate::idempotency::current_key());
        let now = self.render.now();
        let id = paylink_domain::id::generate(paylink_domain::IdKind::Event)
            .map_err(|e| StoreError::Crypto(e.to_string()))?;
        let object_id = after
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut data = Map::new();
        data.insert("object".into(), after);
        if let Some(p) = previous {
            data.insert("previous_attributes".into(), p);
        }
        let key = self.field_key(&scope.account_id).await?;
        let sealed = key.seal(&place(&id), &Value::Object(data).to_string())?;
        Insert::new("events")
            .set("account_id", scope.account_id.as_str())
            .set("livemode", scope.livemode)
            .set("id", id.as_str())
            .set("created", now)
            .set("type", kind)
            .set("object_id", object_id)
            .set("api_version", API_VERSION)
            .set("request_id", request_id)
            .set("idempotency_key", idempotency_key)
            .set("data", sealed)
            .sql()
            .query()
            .execute(tx.conn())
            .await?;
        self.enqueue_deliveries(tx, scope, &id, kind, now).await?;
        Ok(Some(id))
    }

    /// [`crate::Database::modify`] that also writes event `kind` (the
    /// object rendered by `render` before and after) in the same
    /// transaction; no event if nothing the API shows changed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn modify_emitting<T>(
        &self,
        t: &Table,
        scope: &Scope,
        id: &str,
        kind: &str,
        load: impl FnOnce(&AnyRow) -> Result<T, StoreError>,
        change: impl FnOnce(&mut T) -> Result<(), RuleError>,
        save: impl FnOnce(&T) -> Result<Update, StoreError>,
        render: impl Fn(&dyn Renderer, &T) -> Value,
    ) -> Result<T, StoreError> {
        let mut tx = self.write().await?;
        let row = self
            .select_one_for_update(t, scope, id)
            .fetch_row(tx.conn())
            .await?;
        let mut v = load(&row)?;
        let before = render(self.renderer(), &v);
        change(&mut v)?;
        save(&v)?.one(scope, id).query().execute(tx.conn()).await?;
        let after = render(self.renderer(), &v);
        self.emit_change(&mut tx, scope, kind, Some(before), after)
            .await?;
        tx.commit().await?;
        Ok(v)
    }

    /// The renderer events are written with.
    pub(crate) fn renderer(&self) -> &dyn Renderer {
        self.render.as_ref()
    }

    pub async fn get_event(&self, scope: &Scope, id: &str) -> Result<Event, StoreError> {
        let row = Sql::select_one(COLS, "events", scope, id)
            .fetch_row(&self.pool)
            .await?;
        let key = self.field_key(&scope.account_id).await?;
        event_of(&row, &key)
    }

    /// The events of `ids` still kept (those gone are left out), in one
    /// read: what a batch of webhook deliveries sends.
    pub async fn get_events(&self, scope: &Scope, ids: &[&str]) -> Result<Vec<Event>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.field_key(&scope.account_id).await?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(256) {
            let mut sql = Sql::new(&format!("SELECT {COLS} FROM events WHERE "));
            sql.scope(scope).push(" AND id IN (");
            for (i, id) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(*id);
            }
            sql.push(")");
            for row in sql.query().fetch_all(&self.pool).await? {
                out.push(event_of(&row, &key)?);
            }
        }
        Ok(out)
    }

    pub async fn list_events(
        &self,
        scope: &Scope,
        f: &EventFilter,
        q: &ListQuery,
    ) -> Result<Page<Event>, StoreError> {
        let key = self.field_key(&scope.account_id).await?;
        self.list_rows_where("events", COLS, scope, &[], ("type", &f.types), q, |row| {
            event_of(row, &key)
        })
        .await
    }

    /// How many events were created before `before`.
    pub async fn events_due(&self, before: i64) -> Result<i64, StoreError> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM events WHERE created < ");
        sql.bind(before);
        let row = sql.query().fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    /// Deletes the events created before `before`, at most `batch` of them;
    /// returns how many went.
    pub async fn purge_events(&self, before: i64, batch: i64) -> Result<u64, StoreError> {
        let mut sql =
            Sql::new("DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE created < ");
        sql.bind(before).push(" LIMIT ").bind(batch).push(")");
        let mut tx = self.write().await?;
        let n = sql.query().execute(tx.conn()).await?.rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// Deletes the events of `account_id` whose data mentions one of
    /// `needles` (an erased customer's id, email, name, phone): the events
    /// of their checkouts hold their details. The event `keep` (the
    /// erasure's own, which holds nothing of theirs but the id) stays.
    /// Returns how many went.
    pub async fn erase_event_mentions(
        &self,
        account_id: &str,
        needles: &[String],
        keep: Option<&str>,
    ) -> Result<u64, StoreError> {
        let spellings = crate::idempotency::mention_spellings(needles);
        if spellings.is_empty() {
            return Ok(0);
        }
        let k = self.field_key(account_id).await?;
        let mut sel = Sql::new("SELECT seq, id, data FROM events WHERE account_id = ");
        sel.bind(account_id);
        let rows = sel.query().fetch_all(&self.pool).await?;
        let mut erased = 0;
        for r in rows {
            let id: String = r.try_get("id")?;
            if keep == Some(id.as_str()) {
                continue;
            }
            let plain = k.open(&place(&id), &r.try_get::<String, _>("data")?)?;
            if !spellings.iter().any(|n| plain.contains(n.as_str())) {
                continue;
            }
            let mut del = Sql::new("DELETE FROM events WHERE account_id = ");
            del.bind(account_id)
                .push(" AND seq = ")
                .bind(r.try_get::<i64, _>("seq")?);
            erased += self.write_one(&del).await?;
        }
        Ok(erased)
    }
}

fn event_of(row: &AnyRow, key: &crate::vault::FieldKey) -> Result<Event, StoreError> {
    let id: String = row.try_get("id")?;
    let data: Value =
        serde_json::from_str(&key.open(&place(&id), &row.try_get::<String, _>("data")?)?)?;
    let mut data = match data {
        Value::Object(m) => m,
        _ => return Err(StoreError::Corrupt(format!("event {id} data"))),
    };
    Ok(Event {
        livemode: get_bool(row, "livemode")?,
        created: row.try_get("created")?,
        kind: row.try_get("type")?,
        object_id: row.try_get("object_id")?,
        api_version: row.try_get("api_version")?,
        request_id: row.try_get("request_id")?,
        idempotency_key: row.try_get("idempotency_key")?,
        object: data.remove("object").unwrap_or(Value::Null),
        previous_attributes: data.remove("previous_attributes"),
        pending_webhooks: row.try_get("pending_webhooks")?,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn previous_attributes_are_the_changed_fields_before() {
        let before = json!({"id": "prod_1", "name": "Mug", "active": true, "updated": 1});
        let after = json!({"id": "prod_1", "name": "Cup", "active": true, "updated": 2});
        assert_eq!(
            previous_attributes(&before, &after),
            Some(json!({"name": "Mug", "updated": 1}))
        );
        assert_eq!(previous_attributes(&after, &after), None);
    }
}
