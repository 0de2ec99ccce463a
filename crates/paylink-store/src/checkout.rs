//! Checkout sessions, payments, customers and refunds.
//!
//! Limits hold under any interleaving because each is *reserved* inside
//! the transaction that opens a session, with a conditional UPDATE that
//! only succeeds while the limit has room (or a unique claim, for
//! first-purchase codes): a link's completed-sessions limit, a promotion
//! code's and a coupon's `max_redemptions`. Completion turns the
//! reservation into a count; expiry gives it back. A provider event is
//! recorded under a unique key in the same transaction that completes the
//! session, so it takes effect once however often it is delivered.

use paylink_domain::catalog::{Metadata, PaymentLink};
use paylink_domain::checkout::{
    email_key, Address, CheckoutSession, CustomFieldAnswer, Customer, OrderLine, PaymentIntent,
    Refund, SessionStatus,
};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::catalog::{currency_of, metadata_of};
use crate::db::{Store, WriteTx};
use crate::error::StoreError;
use crate::list::{get_bool, Bind, ListQuery, Page, Sql};
use crate::vault::FieldKey;
use crate::Scope;

/// Why a session could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenRefusal {
    /// The link is inactive or its completed-sessions limit is taken.
    LinkUnavailable,
    /// The promotion code (or its coupon) has no redemption left.
    PromotionExhausted,
    /// The buyer's email already made a purchase (first-purchase code).
    NotFirstTransaction,
}

/// The outcome of a provider's "payment succeeded" event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The session is now complete and this payment was recorded.
    Recorded { payment_intent: String },
    /// This event was processed before.
    DuplicateEvent,
    /// The session was already complete (another event completed it).
    AlreadyComplete,
    /// The buyer paid after the session expired: nothing is recorded and
    /// the payment must be given back.
    SessionExpired,
    /// The event is not for the payment paylink created for this session
    /// with the merchant and mode connected to its account (e.g. another
    /// merchant of the provider paid a session id it learned): nothing is
    /// recorded; the reason is for the audit log.
    Refused(String),
}

/// A successful payment as the provider reports it.
pub struct PaidEvent<'a> {
    pub provider: &'a str,
    pub event_id: &'a str,
    pub session_id: &'a str,
    pub provider_ref: &'a str,
    /// The provider's merchant that received the payment.
    pub merchant: &'a str,
    /// The mode the provider made the payment in.
    pub livemode: bool,
    pub amount: i64,
    pub currency: &'a str,
    pub card_brand: Option<&'a str>,
    pub card_last4: Option<&'a str>,
    pub payment_intent_id: &'a str,
    pub new_customer_id: &'a str,
    pub now: i64,
}

/// Account settings shown on the checkout page and used by providers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSettings {
    pub name: String,
    pub primary_color: String,
    pub require_3ds: bool,
}

const SESSION_COLS: &str = "id, livemode, created, expires_at, payment_link_id, status, payment_status, currency, amount_subtotal, amount_discount, amount_total, promotion_code_id, coupon_id, first_time_claim, customer_email, customer_name, customer_phone, customer_address, custom_fields, line_items, metadata, customer_id, payment_intent_id, provider, provider_ref";

/// A session row, its buyer's details opened with the account's key.
fn session_of(row: &AnyRow, k: &FieldKey) -> Result<CheckoutSession, StoreError> {
    let id: String = row.try_get("id")?;
    let place = |c: &str| format!("checkout_sessions.{c}:{id}");
    let status: String = row.try_get("status")?;
    let currency: String = row.try_get("currency")?;
    let fields: String = row.try_get("custom_fields")?;
    let lines: String = row.try_get("line_items")?;
    let payment_status: String = row.try_get("payment_status")?;
    Ok(CheckoutSession {
        id: id.clone(),
        livemode: get_bool(row, "livemode")?,
        created: row.try_get("created")?,
        expires_at: row.try_get("expires_at")?,
        payment_link: row.try_get("payment_link_id")?,
        status: SessionStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt("session status".into()))?,
        paid: payment_status == "paid",
        currency: currency_of(&currency)?,
        amount_subtotal: row.try_get("amount_subtotal")?,
        amount_discount: row.try_get("amount_discount")?,
        amount_total: row.try_get("amount_total")?,
        promotion_code: row.try_get("promotion_code_id")?,
        coupon: row.try_get("coupon_id")?,
        customer_email: k.open_opt(&place("customer_email"), row.try_get("customer_email")?)?,
        customer_name: k.open_opt(&place("customer_name"), row.try_get("customer_name")?)?,
        customer_phone: k.open_opt(&place("customer_phone"), row.try_get("customer_phone")?)?,
        customer_address: k
            .open_opt(&place("customer_address"), row.try_get("customer_address")?)?
            .map(|a| serde_json::from_str::<Address>(&a))
            .transpose()?,
        custom_fields: serde_json::from_str::<Vec<CustomFieldAnswer>>(
            &k.open(&place("custom_fields"), &fields)?,
        )?,
        line_items: serde_json::from_str::<Vec<OrderLine>>(&lines)?,
        metadata: metadata_of(row)?,
        customer: row.try_get("customer_id")?,
        payment_intent: row.try_get("payment_intent_id")?,
        provider: row.try_get("provider")?,
        provider_ref: row.try_get("provider_ref")?,
    })
}

const PI_COLS: &str = "id, livemode, created, amount, amount_refunded, currency, status, card_brand, card_last4, customer_id, checkout_session_id, payment_link_id, metadata";

fn pi_of(row: &AnyRow) -> Result<PaymentIntent, StoreError> {
    let currency: String = row.try_get("currency")?;
    Ok(PaymentIntent {
        id: row.try_get("id")?,
        livemode: get_bool(row, "livemode")?,
        created: row.try_get("created")?,
        amount: row.try_get("amount")?,
        amount_refunded: row.try_get("amount_refunded")?,
        currency: currency_of(&currency)?,
        status: row.try_get("status")?,
        card_brand: row.try_get("card_brand")?,
        card_last4: row.try_get("card_last4")?,
        customer: row.try_get("customer_id")?,
        checkout_session: row.try_get("checkout_session_id")?,
        payment_link: row.try_get("payment_link_id")?,
        metadata: metadata_of(row)?,
    })
}

const CUSTOMER_COLS: &str = "id, livemode, created, email, name, phone, address, metadata";

/// A customer row, its personal fields opened with the account's key.
fn customer_of(row: &AnyRow, k: &FieldKey) -> Result<Customer, StoreError> {
    let id: String = row.try_get("id")?;
    let place = |c: &str| format!("customers.{c}:{id}");
    Ok(Customer {
        livemode: get_bool(row, "livemode")?,
        created: row.try_get("created")?,
        email: k.open_opt(&place("email"), row.try_get("email")?)?,
        name: k.open_opt(&place("name"), row.try_get("name")?)?,
        phone: k.open_opt(&place("phone"), row.try_get("phone")?)?,
        address: k
            .open_opt(&place("address"), row.try_get("address")?)?
            .map(|a| serde_json::from_str::<Address>(&a))
            .transpose()?,
        metadata: metadata_of(row)?,
        id,
    })
}

/// A person's fields, in the clear.
struct Person<'a> {
    email: Option<&'a str>,
    name: Option<&'a str>,
    phone: Option<&'a str>,
    address: Option<&'a Address>,
}

/// The sealed form of a person's fields in `cols` of `table`, row `id`.
fn seal_person(
    k: &FieldKey,
    table: &str,
    cols: [&str; 4],
    id: &str,
    p: Person<'_>,
) -> Result<[Option<String>; 4], StoreError> {
    let place = |c: &str| format!("{table}.{c}:{id}");
    Ok([
        k.seal_opt(&place(cols[0]), p.email)?,
        k.seal_opt(&place(cols[1]), p.name)?,
        k.seal_opt(&place(cols[2]), p.phone)?,
        k.seal_opt(&place(cols[3]), p.address.map(json).transpose()?.as_deref())?,
    ])
}

const REFUND_COLS: &str =
    "id, livemode, created, payment_intent_id, amount, currency, reason, status, metadata";

fn refund_of(row: &AnyRow) -> Result<Refund, StoreError> {
    let currency: String = row.try_get("currency")?;
    Ok(Refund {
        id: row.try_get("id")?,
        livemode: get_bool(row, "livemode")?,
        created: row.try_get("created")?,
        payment_intent: row.try_get("payment_intent_id")?,
        amount: row.try_get("amount")?,
        currency: currency_of(&currency)?,
        reason: row.try_get("reason")?,
        status: row.try_get("status")?,
        metadata: metadata_of(row)?,
    })
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    Ok(serde_json::to_string(v)?)
}

/// A refund to begin.
pub struct NewRefund<'a> {
    pub payment_intent: &'a str,
    /// `None` refunds all that is left.
    pub amount: Option<i64>,
    pub reason: Option<&'a str>,
    pub refund_id: &'a str,
    pub metadata: &'a Metadata,
    pub now: i64,
}

/// Filters of the session list.
#[derive(Debug, Default, Clone)]
pub struct SessionFilter {
    pub payment_link: Option<String>,
    pub status: Option<String>,
    pub payment_intent: Option<String>,
    pub customer: Option<String>,
}

impl Store {
    /// Finds a payment link by id or slug alone (public checkout pages),
    /// with the scope it belongs to.
    pub async fn find_link_public(
        &self,
        id_or_slug: &str,
    ) -> Result<(Scope, PaymentLink), StoreError> {
        // Two indexed lookups: with `id = … OR slug = …` SQLite scans the
        // whole table (reliability finding F8).
        let mut sql = Sql::new("SELECT account_id, livemode, id FROM payment_links WHERE id = ");
        sql.bind(id_or_slug)
            .push(" UNION SELECT account_id, livemode, id FROM payment_links WHERE slug = ")
            .bind(id_or_slug);
        let rows = sql.query().fetch_all(&self.pool).await?;
        // Ids are random and unique in practice; refuse ambiguity outright.
        let [row] = rows.as_slice() else {
            return Err(StoreError::NotFound);
        };
        let scope = Scope {
            account_id: row.try_get("account_id")?,
            livemode: get_bool(row, "livemode")?,
        };
        let id: String = row.try_get("id")?;
        let link = self.get_payment_link(&scope, &id).await?;
        Ok((scope, link))
    }

    pub async fn account_settings(&self, account_id: &str) -> Result<AccountSettings, StoreError> {
        let mut sql = Sql::new("SELECT name, primary_color, require_3ds FROM accounts WHERE id = ");
        sql.bind(account_id);
        let row = sql.fetch_row(&self.pool).await?;
        Ok(AccountSettings {
            name: row.try_get("name")?,
            primary_color: row.try_get("primary_color")?,
            require_3ds: get_bool(&row, "require_3ds")?,
        })
    }

    pub async fn update_account_settings(
        &self,
        account_id: &str,
        primary_color: Option<&str>,
        require_3ds: Option<bool>,
    ) -> Result<AccountSettings, StoreError> {
        let mut tx = self.write().await?;
        if let Some(c) = primary_color {
            let mut up = Sql::new("UPDATE accounts SET primary_color = ");
            up.bind(c).push(" WHERE id = ").bind(account_id);
            up.query().execute(tx.conn()).await?;
        }
        if let Some(r) = require_3ds {
            let mut up = Sql::new("UPDATE accounts SET require_3ds = ");
            up.bind(r).push(" WHERE id = ").bind(account_id);
            up.query().execute(tx.conn()).await?;
        }
        tx.commit().await?;
        self.account_settings(account_id).await
    }

    /// Whether a buyer with this email already paid in this account.
    async fn has_paid_before(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        key: &str,
    ) -> Result<bool, StoreError> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM payment_intents p JOIN customers c ON c.account_id = p.account_id AND c.livemode = p.livemode AND c.id = p.customer_id WHERE p.account_id = ");
        sql.bind(scope.account_id.as_str())
            .push(" AND p.livemode = ")
            .bind(scope.livemode)
            .push(" AND c.email_key = ")
            .bind(key);
        let n: i64 = sql.query().fetch_one(tx.conn()).await?.try_get(0)?;
        Ok(n > 0)
    }

    /// Takes one redemption of a promotion code or coupon (`table`): the row
    /// must be `usable`, before its `deadline` column, and have room under
    /// `max_redemptions` counting redemptions and open reservations.
    #[allow(clippy::too_many_arguments)]
    async fn reserve_redemption(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        table: &str,
        id: &str,
        usable: &str,
        deadline: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut up = Sql::new(&format!(
            "UPDATE {table} SET reserved = reserved + 1 WHERE "
        ));
        up.scope(scope)
            .push(" AND id = ")
            .bind(id)
            .push(&format!(" AND {usable} AND (max_redemptions IS NULL OR times_redeemed + reserved < max_redemptions) AND ({deadline} IS NULL OR {deadline} > "))
            .bind(now)
            .push(")");
        Ok(up.query().execute(tx.conn()).await?.rows_affected() == 1)
    }

    /// Opens a session, reserving a place under every limit it touches.
    /// `first_time` says the promotion code demands a first purchase.
    pub async fn open_session(
        &self,
        scope: &Scope,
        s: &CheckoutSession,
        first_time: bool,
    ) -> Result<Result<(), OpenRefusal>, StoreError> {
        // Keys first: fetching one may write, which must not happen inside
        // the transaction below.
        let k = self.field_key(&scope.account_id).await?;
        let email_blind = match &s.customer_email {
            Some(e) if first_time => Some(self.blind(&email_key(e)).await?),
            _ => None,
        };
        let [email, name, phone, address] = seal_person(
            &k,
            "checkout_sessions",
            [
                "customer_email",
                "customer_name",
                "customer_phone",
                "customer_address",
            ],
            &s.id,
            Person {
                email: s.customer_email.as_deref(),
                name: s.customer_name.as_deref(),
                phone: s.customer_phone.as_deref(),
                address: s.customer_address.as_ref(),
            },
        )?;
        let answers = k.seal(
            &format!("checkout_sessions.custom_fields:{}", s.id),
            &json(&s.custom_fields)?,
        )?;
        let mut tx = self.write().await?;
        let mut up =
            Sql::new("UPDATE payment_links SET reserved_sessions = reserved_sessions + 1 WHERE ");
        up.scope(scope)
            .push(" AND id = ")
            .bind(s.payment_link.as_str())
            .push(" AND active = 1 AND (completed_sessions_limit IS NULL OR completed_sessions_count + reserved_sessions < completed_sessions_limit)");
        if up.query().execute(tx.conn()).await?.rows_affected() != 1 {
            return Ok(Err(OpenRefusal::LinkUnavailable));
        }
        let redemptions = [
            (
                s.promotion_code.as_deref(),
                "promotion_codes",
                "active = 1",
                "expires_at",
            ),
            (s.coupon.as_deref(), "coupons", "deleted = 0", "redeem_by"),
        ];
        for (id, table, usable, deadline) in redemptions {
            if let Some(id) = id {
                if !Self::reserve_redemption(&mut tx, scope, table, id, usable, deadline, s.created)
                    .await?
                {
                    return Ok(Err(OpenRefusal::PromotionExhausted));
                }
            }
        }
        let mut claim: Option<String> = None;
        if first_time {
            let Some(key) = email_blind else {
                return Ok(Err(OpenRefusal::NotFirstTransaction));
            };
            if Self::has_paid_before(&mut tx, scope, &key).await? {
                return Ok(Err(OpenRefusal::NotFirstTransaction));
            }
            let mut ins = Sql::new("INSERT INTO first_time_claims (account_id, livemode, email_key, session_id) VALUES (");
            ins.values(vec![
                scope.account_id.as_str().into(),
                scope.livemode.into(),
                key.as_str().into(),
                s.id.as_str().into(),
            ])
            .push(") ON CONFLICT DO NOTHING");
            if ins.query().execute(tx.conn()).await?.rows_affected() != 1 {
                return Ok(Err(OpenRefusal::NotFirstTransaction));
            }
            claim = Some(key);
        }
        let mut sql = Sql::new(&format!(
            "INSERT INTO checkout_sessions (account_id, {SESSION_COLS}) VALUES ("
        ));
        sql.values(vec![
            scope.account_id.as_str().into(),
            s.id.as_str().into(),
            s.livemode.into(),
            s.created.into(),
            s.expires_at.into(),
            s.payment_link.as_str().into(),
            s.status.as_str().into(),
            (if s.paid { "paid" } else { "unpaid" }).into(),
            s.currency.code().into(),
            s.amount_subtotal.into(),
            s.amount_discount.into(),
            s.amount_total.into(),
            s.promotion_code.clone().into(),
            s.coupon.clone().into(),
            claim.into(),
            email.into(),
            name.into(),
            phone.into(),
            address.into(),
            answers.into(),
            json(&s.line_items)?.into(),
            json(&s.metadata)?.into(),
            s.customer.clone().into(),
            s.payment_intent.clone().into(),
            s.provider.as_str().into(),
            s.provider_ref.clone().into(),
        ])
        .push(")");
        sql.query().execute(tx.conn()).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Records the provider's reference for a session's hosted payment and
    /// the provider merchant it was created with: only that merchant's
    /// event for that payment can complete the session.
    pub async fn set_session_provider_ref(
        &self,
        scope: &Scope,
        id: &str,
        provider_ref: &str,
        provider_account: &str,
        provider_url: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let mut up = Sql::new("UPDATE checkout_sessions SET provider_ref = ");
        up.bind(provider_ref)
            .push(", provider_account = ")
            .bind(provider_account)
            .push(", provider_url = ")
            .bind(provider_url)
            .push(" WHERE ")
            .scope(scope)
            .push(" AND id = ")
            .bind(id);
        up.query().execute(tx.conn()).await?;
        tx.commit().await
    }

    pub async fn get_session(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<CheckoutSession, StoreError> {
        let sql = Sql::select_one(SESSION_COLS, "checkout_sessions", scope, id);
        let row = sql.fetch_row(&self.pool).await?;
        session_of(&row, &self.field_key(&scope.account_id).await?)
    }

    /// Finds a session by id alone (provider callbacks and return pages).
    pub async fn find_session_public(
        &self,
        id: &str,
    ) -> Result<(Scope, CheckoutSession), StoreError> {
        let mut sql = Sql::new("SELECT account_id, livemode FROM checkout_sessions WHERE id = ");
        sql.bind(id);
        let rows = sql.query().fetch_all(&self.pool).await?;
        let [row] = rows.as_slice() else {
            return Err(StoreError::NotFound);
        };
        let scope = Scope {
            account_id: row.try_get("account_id")?,
            livemode: get_bool(row, "livemode")?,
        };
        let session = self.get_session(&scope, id).await?;
        Ok((scope, session))
    }

    pub async fn list_sessions(
        &self,
        scope: &Scope,
        f: &SessionFilter,
        q: &ListQuery,
    ) -> Result<Page<CheckoutSession>, StoreError> {
        let mut filters: Vec<(&str, Bind)> = Vec::new();
        if let Some(l) = &f.payment_link {
            filters.push(("payment_link_id", l.into()));
        }
        if let Some(s) = &f.status {
            filters.push(("status", s.into()));
        }
        if let Some(p) = &f.payment_intent {
            filters.push(("payment_intent_id", p.into()));
        }
        if let Some(c) = &f.customer {
            filters.push(("customer_id", c.into()));
        }
        let k = self.field_key(&scope.account_id).await?;
        self.list_rows("checkout_sessions", SESSION_COLS, scope, &filters, q, |r| {
            session_of(r, &k)
        })
        .await
    }

    /// Gives back what an open session reserved. Runs inside `tx`.
    async fn release(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        s: &CheckoutSession,
        completed: bool,
    ) -> Result<(), StoreError> {
        let mut up = Sql::new(if completed {
            "UPDATE payment_links SET reserved_sessions = reserved_sessions - 1, completed_sessions_count = completed_sessions_count + 1, active = CASE WHEN completed_sessions_limit IS NOT NULL AND completed_sessions_count + 1 >= completed_sessions_limit THEN 0 ELSE active END WHERE "
        } else {
            "UPDATE payment_links SET reserved_sessions = reserved_sessions - 1 WHERE "
        });
        up.scope(scope)
            .push(" AND id = ")
            .bind(s.payment_link.as_str());
        up.query().execute(tx.conn()).await?;
        let count = if completed {
            ", times_redeemed = times_redeemed + 1"
        } else {
            ""
        };
        if let Some(p) = &s.promotion_code {
            let mut up = Sql::new(&format!(
                "UPDATE promotion_codes SET reserved = reserved - 1{count} WHERE "
            ));
            up.scope(scope).push(" AND id = ").bind(p.as_str());
            up.query().execute(tx.conn()).await?;
        }
        if let Some(c) = &s.coupon {
            let mut up = Sql::new(&format!(
                "UPDATE coupons SET reserved = reserved - 1{count} WHERE "
            ));
            up.scope(scope).push(" AND id = ").bind(c.as_str());
            up.query().execute(tx.conn()).await?;
        }
        if !completed {
            let mut del = Sql::new("DELETE FROM first_time_claims WHERE ");
            del.scope(scope)
                .push(" AND session_id = ")
                .bind(s.id.as_str());
            del.query().execute(tx.conn()).await?;
        }
        Ok(())
    }

    async fn lock_session(
        &self,
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        id: &str,
        k: &FieldKey,
    ) -> Result<CheckoutSession, StoreError> {
        let mut sel = Sql::select_one(SESSION_COLS, "checkout_sessions", scope, id);
        sel.push(self.for_update());
        let row = sel.fetch_row(tx.conn()).await?;
        session_of(&row, k)
    }

    /// Expires an open session and releases its reservations. Returns the
    /// session as it is afterwards; a session that is not open is returned
    /// unchanged with `false`.
    pub async fn expire_session(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<(CheckoutSession, bool), StoreError> {
        let k = self.field_key(&scope.account_id).await?;
        let mut tx = self.write().await?;
        let mut s = self.lock_session(&mut tx, scope, id, &k).await?;
        if !s.status.can_become(SessionStatus::Expired) {
            return Ok((s, false));
        }
        let mut up = Sql::new("UPDATE checkout_sessions SET status = 'expired' WHERE ");
        up.scope(scope)
            .push(" AND id = ")
            .bind(id)
            .push(" AND status = 'open'");
        up.query().execute(tx.conn()).await?;
        Self::release(&mut tx, scope, &s, false).await?;
        tx.commit().await?;
        s.status = SessionStatus::Expired;
        Ok((s, true))
    }

    /// The buyer is on the way to the provider's page: a short hold on a
    /// scarce place is extended to `hold_until` (never shortened, and only
    /// while the session is open and not yet due). Returns the provider
    /// page's URL, or `None` when the session is no longer open.
    pub async fn session_reached(
        &self,
        scope: &Scope,
        id: &str,
        now: i64,
        hold_until: i64,
    ) -> Result<Option<String>, StoreError> {
        let mut up = Sql::new("UPDATE checkout_sessions SET expires_at = ");
        up.bind(hold_until)
            .push(" WHERE ")
            .scope(scope)
            .push(" AND id = ")
            .bind(id)
            .push(" AND status = 'open' AND expires_at > ")
            .bind(now)
            .push(" AND expires_at < ")
            .bind(hold_until);
        self.write_one(&up).await?;
        let mut sel = Sql::new("SELECT provider_url FROM checkout_sessions WHERE ");
        sel.scope(scope)
            .push(" AND id = ")
            .bind(id)
            .push(" AND status = 'open' AND expires_at > ")
            .bind(now);
        Ok(match sel.query().fetch_optional(&self.pool).await? {
            Some(r) => r.try_get::<Option<String>, _>(0)?,
            None => None,
        })
    }

    /// Counts one hit of `bucket` in a fixed window of `window` seconds
    /// shared by every instance: `Err(secs to wait)` past `limit`.
    pub async fn rate_hit(
        &self,
        bucket: &str,
        now: i64,
        window: i64,
        limit: i64,
    ) -> Result<Result<i64, i64>, StoreError> {
        self.limited_hit(
            "rate_counters",
            "bucket",
            "hits",
            bucket,
            now,
            window,
            limit,
        )
        .await
    }

    /// Expires every open session whose time is up. Returns how many.
    pub async fn expire_due_sessions(&self, now: i64) -> Result<u64, StoreError> {
        let mut sql = Sql::new("SELECT account_id, livemode, id FROM checkout_sessions WHERE status = 'open' AND expires_at <= ");
        sql.bind(now).push(" LIMIT 500");
        let rows = sql.query().fetch_all(&self.pool).await?;
        let mut n = 0;
        for r in rows {
            let scope = Scope {
                account_id: r.try_get("account_id")?,
                livemode: get_bool(&r, "livemode")?,
            };
            let id: String = r.try_get("id")?;
            if self.expire_session(&scope, &id).await?.1 {
                n += 1;
            }
        }
        Ok(n)
    }

    /// How many open sessions are past their expiry (due for the job).
    pub async fn sessions_due(&self, now: i64) -> Result<i64, StoreError> {
        let mut sql = Sql::new(
            "SELECT COUNT(*) FROM checkout_sessions WHERE status = 'open' AND expires_at <= ",
        );
        sql.bind(now);
        Ok(sql.query().fetch_one(&self.pool).await?.try_get(0)?)
    }

    /// Applies a provider's "payment succeeded" event, exactly once.
    pub async fn complete_session(&self, e: PaidEvent<'_>) -> Result<Completion, StoreError> {
        let (scope, before) = self.find_session_public(e.session_id).await?;
        let k = self.field_key(&scope.account_id).await?;
        let email_blind = match &before.customer_email {
            Some(m) => Some(self.blind(&email_key(m)).await?),
            None => None,
        };
        let mut tx = self.write().await?;
        let mut ins =
            Sql::new("INSERT INTO provider_events (provider, event_id, received) VALUES (");
        ins.values(vec![e.provider.into(), e.event_id.into(), e.now.into()])
            .push(") ON CONFLICT DO NOTHING");
        if ins.query().execute(tx.conn()).await?.rows_affected() != 1 {
            return Ok(Completion::DuplicateEvent);
        }
        let s = self.lock_session(&mut tx, &scope, e.session_id, &k).await?;
        // The binding: this mode, the merchant the session's payment was
        // created with, and that very payment. Checked before anything else
        // about the session is acted on (the event is not kept).
        let mut bound = Sql::new("SELECT provider_account FROM checkout_sessions WHERE ");
        bound.scope(&scope).push(" AND id = ").bind(s.id.as_str());
        let merchant: Option<String> = bound.fetch_row(tx.conn()).await?.try_get(0)?;
        let refusal = if e.livemode != scope.livemode {
            Some("the event's mode is not the session's")
        } else if s.provider != e.provider {
            Some("the event comes from another provider")
        } else if s.provider_ref.as_deref() != Some(e.provider_ref) {
            Some("the event is for a payment this session did not create")
        } else if merchant.as_deref() != Some(e.merchant) {
            Some("the event comes from a merchant this session's payment was not created with")
        } else {
            None
        };
        if let Some(why) = refusal {
            return Ok(Completion::Refused(why.to_string()));
        }
        if s.status == SessionStatus::Complete {
            tx.commit().await?;
            return Ok(Completion::AlreadyComplete);
        }
        if s.status != SessionStatus::Open {
            // Keep the event recorded: the refund below happens once.
            tx.commit().await?;
            return Ok(Completion::SessionExpired);
        }
        if s.amount_total != e.amount || s.currency.code() != e.currency {
            return Err(StoreError::AmountMismatch {
                payment: e.provider_ref.to_string(),
                session: s.id.clone(),
            });
        }
        // The buyer becomes (or is found as) a customer, by email.
        let mut customer_id: Option<String> = None;
        if let Some(b) = &email_blind {
            let mut sel = Sql::new("SELECT id FROM customers WHERE ");
            sel.scope(&scope)
                .push(" AND email_key = ")
                .bind(b.as_str())
                .push(" AND deleted = 0 ORDER BY seq LIMIT 1");
            customer_id = sel
                .query()
                .fetch_optional(tx.conn())
                .await?
                .map(|r| r.try_get::<String, _>(0))
                .transpose()?;
        }
        let customer_id = match customer_id {
            Some(c) => c,
            None => {
                let [email, name, phone, address] = seal_person(
                    &k,
                    "customers",
                    ["email", "name", "phone", "address"],
                    e.new_customer_id,
                    Person {
                        email: s.customer_email.as_deref(),
                        name: s.customer_name.as_deref(),
                        phone: s.customer_phone.as_deref(),
                        address: s.customer_address.as_ref(),
                    },
                )?;
                let mut ins = Sql::new(&format!(
                    "INSERT INTO customers (account_id, email_key, {CUSTOMER_COLS}) VALUES ("
                ));
                ins.values(vec![
                    scope.account_id.as_str().into(),
                    email_blind.clone().into(),
                    e.new_customer_id.into(),
                    scope.livemode.into(),
                    e.now.into(),
                    email.into(),
                    name.into(),
                    phone.into(),
                    address.into(),
                    json(&Metadata::default())?.into(),
                ])
                .push(")");
                ins.query().execute(tx.conn()).await?;
                e.new_customer_id.to_string()
            }
        };
        let mut pi = Sql::new(&format!(
            "INSERT INTO payment_intents (account_id, provider, provider_ref, {PI_COLS}) VALUES ("
        ));
        pi.values(vec![
            scope.account_id.as_str().into(),
            e.provider.into(),
            e.provider_ref.into(),
            e.payment_intent_id.into(),
            scope.livemode.into(),
            e.now.into(),
            s.amount_total.into(),
            0i64.into(),
            s.currency.code().into(),
            "succeeded".into(),
            e.card_brand.into(),
            e.card_last4.into(),
            Some(customer_id.clone()).into(),
            s.id.as_str().into(),
            s.payment_link.as_str().into(),
            json(&s.metadata)?.into(),
        ])
        .push(")");
        pi.query().execute(tx.conn()).await?;
        let mut up = Sql::new("UPDATE checkout_sessions SET status = 'complete', payment_status = 'paid', customer_id = ");
        up.bind(customer_id.as_str())
            .push(", payment_intent_id = ")
            .bind(e.payment_intent_id)
            .push(", provider_ref = ")
            .bind(e.provider_ref)
            .push(" WHERE ")
            .scope(&scope)
            .push(" AND id = ")
            .bind(s.id.as_str())
            .push(" AND status = 'open'");
        if up.query().execute(tx.conn()).await?.rows_affected() != 1 {
            return Err(StoreError::Corrupt(format!(
                "session {} changed under its lock",
                s.id
            )));
        }
        Self::release(&mut tx, &scope, &s, true).await?;
        tx.commit().await?;
        Ok(Completion::Recorded {
            payment_intent: e.payment_intent_id.to_string(),
        })
    }

    pub async fn get_payment_intent(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<PaymentIntent, StoreError> {
        let sql = Sql::select_one(PI_COLS, "payment_intents", scope, id);
        let row = sql.fetch_row(&self.pool).await?;
        pi_of(&row)
    }

    /// The provider and its reference for a payment.
    pub async fn payment_provider_ref(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<(String, String), StoreError> {
        let mut sql = Sql::new("SELECT provider, provider_ref FROM payment_intents WHERE ");
        sql.scope(scope).push(" AND id = ").bind(id);
        let row = sql.fetch_row(&self.pool).await?;
        Ok((row.try_get("provider")?, row.try_get("provider_ref")?))
    }

    pub async fn list_payment_intents(
        &self,
        scope: &Scope,
        customer: Option<&str>,
        q: &ListQuery,
    ) -> Result<Page<PaymentIntent>, StoreError> {
        let mut filters: Vec<(&str, Bind)> = Vec::new();
        if let Some(c) = customer {
            filters.push(("customer_id", c.into()));
        }
        self.list_rows("payment_intents", PI_COLS, scope, &filters, q, pi_of)
            .await
    }

    pub async fn get_customer(&self, scope: &Scope, id: &str) -> Result<Customer, StoreError> {
        let mut sql = Sql::select_one(CUSTOMER_COLS, "customers", scope, id);
        sql.push(" AND deleted = 0");
        let row = sql.fetch_row(&self.pool).await?;
        customer_of(&row, &self.field_key(&scope.account_id).await?)
    }

    pub async fn list_customers(
        &self,
        scope: &Scope,
        email: Option<&str>,
        q: &ListQuery,
    ) -> Result<Page<Customer>, StoreError> {
        let mut filters: Vec<(&str, Bind)> = vec![("deleted", Bind::I64(0))];
        if let Some(e) = email {
            filters.push(("email_key", self.blind(&email_key(e)).await?.into()));
        }
        let k = self.field_key(&scope.account_id).await?;
        self.list_rows("customers", CUSTOMER_COLS, scope, &filters, q, |r| {
            customer_of(r, &k)
        })
        .await
    }

    pub async fn update_customer(
        &self,
        scope: &Scope,
        id: &str,
        f: impl FnOnce(&mut Customer) -> Result<(), paylink_domain::catalog::RuleError>,
    ) -> Result<Customer, StoreError> {
        let k = self.field_key(&scope.account_id).await?;
        let index_key = self.instance_secret(crate::vault::BLIND_INDEX).await?;
        let mut tx = self.write().await?;
        let mut sel = Sql::select_one(CUSTOMER_COLS, "customers", scope, id);
        sel.push(" AND deleted = 0").push(self.for_update());
        let row = sel.fetch_row(tx.conn()).await?;
        let mut c = customer_of(&row, &k)?;
        f(&mut c)?;
        let [email, name, phone, address] = seal_person(
            &k,
            "customers",
            ["email", "name", "phone", "address"],
            id,
            Person {
                email: c.email.as_deref(),
                name: c.name.as_deref(),
                phone: c.phone.as_deref(),
                address: c.address.as_ref(),
            },
        )?;
        let email_blind = c
            .email
            .as_deref()
            .map(|e| paylink_crypto::envelope::blind_index(&index_key, &email_key(e)));
        let mut up = Sql::new("UPDATE customers SET email = ");
        up.bind(email)
            .push(", email_key = ")
            .bind(email_blind)
            .push(", name = ")
            .bind(name)
            .push(", phone = ")
            .bind(phone)
            .push(", address = ")
            .bind(address)
            .push(", metadata = ")
            .bind(json(&c.metadata)?)
            .push(" WHERE ")
            .scope(scope)
            .push(" AND id = ")
            .bind(id);
        up.query().execute(tx.conn()).await?;
        tx.commit().await?;
        Ok(c)
    }

    /// Deletes a customer: personal fields are cleared and the object is
    /// gone from the API; payments keep their amounts and dates.
    pub async fn delete_customer(&self, scope: &Scope, id: &str) -> Result<(), StoreError> {
        self.redact_customer(scope, id, true).await
    }

    /// Erases a buyer's personal data: the customer's email, name, phone and
    /// address, and in every checkout session of theirs the buyer's details
    /// and custom-field answers, are replaced by empty tombstones. Amounts,
    /// dates and ids stay for the books. `hide` also removes the customer
    /// from the API (delete).
    pub async fn redact_customer(
        &self,
        scope: &Scope,
        id: &str,
        hide: bool,
    ) -> Result<(), StoreError> {
        let k = self.field_key(&scope.account_id).await?;
        // What the stored API responses may hold of this customer.
        let before = self.get_customer(scope, id).await?;
        let mut needles = vec![before.id.clone()];
        needles.extend(before.email.clone());
        needles.extend(before.name.clone());
        needles.extend(before.phone.clone());
        if let Some(a) = &before.address {
            needles.extend(a.line1.clone());
            needles.extend(a.line2.clone());
        }
        let mut tx = self.write().await?;
        let mut up = Sql::new("UPDATE customers SET email = NULL, email_key = NULL, name = NULL, phone = NULL, address = NULL, deleted = ");
        up.bind(hide)
            .push(" WHERE ")
            .scope(scope)
            .push(" AND id = ")
            .bind(id)
            .push(" AND deleted = 0");
        if up.query().execute(tx.conn()).await?.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        let mut sel = Sql::new("SELECT id FROM checkout_sessions WHERE ");
        sel.scope(scope).push(" AND customer_id = ").bind(id);
        let sessions: Vec<String> = sel
            .query()
            .fetch_all(tx.conn())
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?;
        for sid in sessions {
            let none = k.seal(&format!("checkout_sessions.custom_fields:{sid}"), "[]")?;
            let mut up = Sql::new("UPDATE checkout_sessions SET redacted = 1, customer_email = NULL, customer_name = NULL, customer_phone = NULL, customer_address = NULL, custom_fields = ");
            up.bind(none)
                .push(" WHERE ")
                .scope(scope)
                .push(" AND id = ")
                .bind(sid.as_str());
            up.query().execute(tx.conn()).await?;
        }
        tx.commit().await?;
        self.erase_idempotent_mentions(&scope.account_id, &needles)
            .await?;
        Ok(())
    }

    /// Sessions that expired before `cutoff` whose buyer details are still
    /// held (abandoned checkouts due for erasure).
    pub async fn abandoned_due(&self, cutoff: i64) -> Result<i64, StoreError> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM checkout_sessions WHERE status = 'expired' AND redacted = 0 AND expires_at <= ");
        sql.bind(cutoff);
        Ok(sql.query().fetch_one(&self.pool).await?.try_get(0)?)
    }

    /// Erases the buyer details of abandoned checkouts that expired before
    /// `cutoff` (at most 500 a call). Returns how many.
    pub async fn purge_abandoned(&self, cutoff: i64) -> Result<u64, StoreError> {
        let mut sel = Sql::new("SELECT account_id, id FROM checkout_sessions WHERE status = 'expired' AND redacted = 0 AND expires_at <= ");
        sel.bind(cutoff).push(" ORDER BY account_id LIMIT 500");
        let rows = sel.query().fetch_all(&self.pool).await?;
        let mut done = 0;
        for r in rows {
            let account: String = r.try_get("account_id")?;
            let id: String = r.try_get("id")?;
            let k = self.field_key(&account).await?;
            let none = k.seal(&format!("checkout_sessions.custom_fields:{id}"), "[]")?;
            let mut tx = self.write().await?;
            let mut up = Sql::new("UPDATE checkout_sessions SET redacted = 1, customer_email = NULL, customer_name = NULL, customer_phone = NULL, customer_address = NULL, custom_fields = ");
            up.bind(none)
                .push(" WHERE account_id = ")
                .bind(account.as_str())
                .push(" AND id = ")
                .bind(id.as_str())
                .push(" AND status = 'expired' AND redacted = 0");
            done += up.query().execute(tx.conn()).await?.rows_affected();
            let mut del = Sql::new("DELETE FROM first_time_claims WHERE account_id = ");
            del.bind(account.as_str())
                .push(" AND session_id = ")
                .bind(id.as_str());
            del.query().execute(tx.conn()).await?;
            tx.commit().await?;
        }
        Ok(done)
    }

    /// Processed provider events received before `cutoff`.
    pub async fn provider_events_due(&self, cutoff: i64) -> Result<i64, StoreError> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM provider_events WHERE received <= ");
        sql.bind(cutoff);
        Ok(sql.query().fetch_one(&self.pool).await?.try_get(0)?)
    }

    /// Forgets provider events received before `cutoff`. A provider retries
    /// for days, not weeks, so a month covers every redelivery.
    pub async fn purge_provider_events(&self, cutoff: i64) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let mut del = Sql::new("DELETE FROM provider_events WHERE received <= ");
        del.bind(cutoff);
        let n = del.query().execute(tx.conn()).await?.rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// Reserves the amount of a payment for a refund (under the payment's
    /// row lock, so concurrent refunds can't exceed it) and records the
    /// refund as pending.
    pub async fn begin_refund(
        &self,
        scope: &Scope,
        r: NewRefund<'_>,
    ) -> Result<Refund, StoreError> {
        let NewRefund {
            payment_intent,
            amount,
            reason,
            refund_id,
            metadata,
            now,
        } = r;
        let mut tx = self.write().await?;
        let mut sel = Sql::select_one(PI_COLS, "payment_intents", scope, payment_intent);
        sel.push(self.for_update());
        let row = sel.fetch_row(tx.conn()).await?;
        let pi = pi_of(&row)?;
        let amount = paylink_domain::checkout::refund_amount(&pi, amount)
            .map_err(|m| paylink_domain::catalog::RuleError::new("amount", m))?;
        let mut up = Sql::new("UPDATE payment_intents SET amount_refunded = amount_refunded + ");
        up.bind(amount)
            .push(" WHERE ")
            .scope(scope)
            .push(" AND id = ")
            .bind(payment_intent)
            .push(" AND amount_refunded + ")
            .bind(amount)
            .push(" <= amount");
        if up.query().execute(tx.conn()).await?.rows_affected() != 1 {
            return Err(paylink_domain::catalog::RuleError::new(
                "amount",
                "The refund amount is greater than what can still be refunded.",
            )
            .into());
        }
        let refund = Refund {
            id: refund_id.to_string(),
            livemode: scope.livemode,
            created: now,
            payment_intent: payment_intent.to_string(),
            amount,
            currency: pi.currency,
            reason: reason.map(str::to_string),
            status: "pending".into(),
            metadata: metadata.clone(),
        };
        crate::idempotency::note_created(&format!("/v1/refunds/{}", refund.id));
        let mut ins = Sql::new(&format!(
            "INSERT INTO refunds (account_id, {REFUND_COLS}) VALUES ("
        ));
        ins.values(vec![
            scope.account_id.as_str().into(),
            refund.id.as_str().into(),
            refund.livemode.into(),
            now.into(),
            payment_intent.into(),
            amount.into(),
            pi.currency.code().into(),
            refund.reason.clone().into(),
            "pending".into(),
            json(metadata)?.into(),
        ])
        .push(")");
        ins.query().execute(tx.conn()).await?;
        tx.commit().await?;
        Ok(refund)
    }

    /// Settles a pending refund: succeeded (with the provider's reference)
    /// or failed (the reserved amount goes back to the payment).
    /// Settles a pending refund: succeeded with the provider's refund id,
    /// or failed (the amount can be refunded again). Only a refund still
    /// pending changes, so the request that began it and the reconciler
    /// may both try; the refund as it now stands is returned.
    pub async fn finish_refund(
        &self,
        scope: &Scope,
        refund: &Refund,
        provider_ref: Option<&str>,
    ) -> Result<Refund, StoreError> {
        let mut tx = self.write().await?;
        let status = if provider_ref.is_some() {
            "succeeded"
        } else {
            "failed"
        };
        let mut up = Sql::new("UPDATE refunds SET status = ");
        up.bind(status)
            .push(", provider_ref = ")
            .bind(provider_ref)
            .push(" WHERE ")
            .scope(scope)
            .push(" AND id = ")
            .bind(refund.id.as_str())
            .push(" AND status = 'pending'");
        let changed = up.query().execute(tx.conn()).await?.rows_affected() == 1;
        if changed && provider_ref.is_none() {
            let mut back =
                Sql::new("UPDATE payment_intents SET amount_refunded = amount_refunded - ");
            back.bind(refund.amount)
                .push(" WHERE ")
                .scope(scope)
                .push(" AND id = ")
                .bind(refund.payment_intent.as_str());
            back.query().execute(tx.conn()).await?;
        }
        let row = Sql::select_one(REFUND_COLS, "refunds", scope, &refund.id)
            .fetch_row(tx.conn())
            .await?;
        tx.commit().await?;
        refund_of(&row)
    }

    /// Refunds still pending that began before `before` (their request
    /// died, or the provider could not be reached), oldest first, with the
    /// tenant each belongs to: the reconciler settles them.
    pub async fn pending_refunds(
        &self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<(Scope, Refund)>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT account_id, {REFUND_COLS} FROM refunds WHERE status = 'pending' AND created < "
        ));
        sql.bind(before)
            .push(" ORDER BY created LIMIT ")
            .bind(limit);
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let refund = refund_of(r)?;
                let scope = Scope {
                    account_id: r.try_get("account_id")?,
                    livemode: refund.livemode,
                };
                Ok((scope, refund))
            })
            .collect()
    }

    pub async fn get_refund(&self, scope: &Scope, id: &str) -> Result<Refund, StoreError> {
        let sql = Sql::select_one(REFUND_COLS, "refunds", scope, id);
        let row = sql.fetch_row(&self.pool).await?;
        refund_of(&row)
    }

    pub async fn list_refunds(
        &self,
        scope: &Scope,
        payment_intent: Option<&str>,
        q: &ListQuery,
    ) -> Result<Page<Refund>, StoreError> {
        let mut filters: Vec<(&str, Bind)> = Vec::new();
        if let Some(p) = payment_intent {
            filters.push(("payment_intent_id", p.into()));
        }
        self.list_rows("refunds", REFUND_COLS, scope, &filters, q, refund_of)
            .await
    }
}
