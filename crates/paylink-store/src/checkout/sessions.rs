//! Opening a checkout session (its limits reserved in the same
//! transaction), finding, listing and expiring sessions.

use paylink_domain::catalog::PaymentLink;
use paylink_domain::checkout::{
    email_key, Address, CheckoutSession, CustomFieldAnswer, OrderLine, SessionOffer, SessionStatus,
    ShippingDetails,
};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::catalog::{currency_of, metadata_of};
use crate::db::{Table, WriteTx};
use crate::error::StoreError;
use crate::list::{ListQuery, Page};
use crate::payment_links::json_opt;
use crate::sql::{get_bool, scope_of, Bind, Insert, Sql};
use crate::store::Store;
use crate::vault::FieldKey;
use crate::Scope;

use super::{json, seal_person, Person};

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

pub(super) const SESSION_COLS: &str = "id, livemode, created, expires_at, payment_link_id, status, payment_status, currency, amount_subtotal, amount_discount, amount_total, promotion_code_id, coupon_id, first_time_claim, customer_email, customer_name, customer_phone, customer_address, custom_fields, line_items, metadata, customer_id, payment_intent_id, provider, provider_ref, client_reference_id, offer, submitted_at, payment_intent_data, shipping_details, terms_accepted, link_page";

const SESSIONS: Table = Table::new("checkout_sessions", SESSION_COLS);

/// A session row, its buyer's details opened with the account's key.
pub(super) fn session_of(row: &AnyRow, k: &FieldKey) -> Result<CheckoutSession, StoreError> {
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
        payment_link: link_of_row(row)?,
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
        client_reference_id: row.try_get("client_reference_id")?,
        offer: json_opt::<SessionOffer>(row, "offer")?,
        link_page: json_opt(row, "link_page")?,
        submitted_at: row.try_get("submitted_at")?,
        payment_intent_data: json_opt(row, "payment_intent_data")?,
        shipping_details: k
            .open_opt(&place("shipping_details"), row.try_get("shipping_details")?)?
            .map(|a| serde_json::from_str::<ShippingDetails>(&a))
            .transpose()?,
        terms_accepted: get_bool(row, "terms_accepted")?,
    })
}

/// The `payment_link_id` column: the empty string for a session (or
/// payment) that belongs to no link (schema v21).
pub(super) fn link_of_row(row: &AnyRow) -> Result<Option<String>, StoreError> {
    let id: String = row.try_get("payment_link_id")?;
    Ok((!id.is_empty()).then_some(id))
}

/// A session's buyer details and custom-field answers, sealed with the
/// account's key for their columns.
struct SealedBuyer {
    email: Option<String>,
    name: Option<String>,
    phone: Option<String>,
    address: Option<String>,
    answers: String,
    shipping: Option<String>,
}

impl SealedBuyer {
    fn of(k: &FieldKey, s: &CheckoutSession) -> Result<Self, StoreError> {
        let [email, name, phone, address] = seal_person(
            k,
            "checkout_sessions",
            [
                "customer_email",
                "customer_name",
                "customer_phone",
                "customer_address",
            ],
            &s.id,
            Person::buyer_of(s),
        )?;
        let answers = k.seal(
            &format!("checkout_sessions.custom_fields:{}", s.id),
            &json(&s.custom_fields)?,
        )?;
        let shipping = k.seal_opt(
            &format!("checkout_sessions.shipping_details:{}", s.id),
            s.shipping_details
                .as_ref()
                .map(json)
                .transpose()?
                .as_deref(),
        )?;
        Ok(SealedBuyer {
            email,
            name,
            phone,
            address,
            answers,
            shipping,
        })
    }
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
        let scope = scope_of(row)?;
        let id: String = row.try_get("id")?;
        let link = self.get_payment_link(&scope, &id).await?;
        Ok((scope, link))
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

    /// A session's buyer details sealed, and (for a first-purchase code)
    /// the blind index of the buyer's email. Keys are fetched here, before
    /// any write transaction: fetching one may write.
    async fn seal_buyer(
        &self,
        scope: &Scope,
        s: &CheckoutSession,
        first_time: bool,
    ) -> Result<(SealedBuyer, Option<String>), StoreError> {
        let k = self.field_key(&scope.account_id).await?;
        let email_blind = match &s.customer_email {
            Some(e) if first_time => Some(self.blind(&email_key(e)).await?),
            _ => None,
        };
        Ok((SealedBuyer::of(&k, s)?, email_blind))
    }

    /// Opens a session, reserving a place under every limit it touches, in
    /// one transaction: the link's, the promotion code's and coupon's, and
    /// the buyer's first-purchase claim. `first_time` says the promotion
    /// code demands a first purchase.
    pub async fn open_session(
        &self,
        scope: &Scope,
        s: &CheckoutSession,
        first_time: bool,
    ) -> Result<Result<(), OpenRefusal>, StoreError> {
        let (sealed, email_blind) = self.seal_buyer(scope, s, first_time).await?;
        let mut tx = self.write().await?;
        if let Some(link) = &s.payment_link {
            if !Self::reserve_link_place(&mut tx, scope, link).await? {
                return Ok(Err(OpenRefusal::LinkUnavailable));
            }
        }
        let claim = match Self::reserve_offer(&mut tx, scope, s, first_time, email_blind).await? {
            Ok(claim) => claim,
            Err(r) => return Ok(Err(r)),
        };
        Self::insert_session(&mut tx, scope, s, sealed, claim).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Takes what a session's order holds besides a link's place: a
    /// redemption of its promotion code and of its coupon, and, for a
    /// first-purchase code, the buyer's claim (returned).
    async fn reserve_offer(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        s: &CheckoutSession,
        first_time: bool,
        email_blind: Option<String>,
    ) -> Result<Result<Option<String>, OpenRefusal>, StoreError> {
        let redemptions = [
            (
                s.promotion_code.as_deref(),
                "promotion_codes",
                "active = 1",
                "expires_at",
            ),
            (s.coupon.as_deref(), "coupons", "deleted = 0", "redeem_by"),
        ];
        let now = s.submitted_at.unwrap_or(s.created);
        for (id, table, usable, deadline) in redemptions {
            if let Some(id) = id {
                if !Self::reserve_redemption(tx, scope, table, id, usable, deadline, now).await? {
                    return Ok(Err(OpenRefusal::PromotionExhausted));
                }
            }
        }
        if !first_time {
            return Ok(Ok(None));
        }
        let Some(key) = email_blind else {
            return Ok(Err(OpenRefusal::NotFirstTransaction));
        };
        if !Self::claim_first_purchase(tx, scope, &key, &s.id).await? {
            return Ok(Err(OpenRefusal::NotFirstTransaction));
        }
        Ok(Ok(Some(key)))
    }

    /// Stores a session the merchant created through the API (open, no
    /// buyer yet), with the prices it made inline (`price_data`) and their
    /// new products, in one transaction. Nothing is reserved until its
    /// buyer submits the page ([`Store::submit_session`]).
    pub async fn create_api_session(
        &self,
        scope: &Scope,
        inline: Vec<(crate::catalog::PriceProduct, paylink_domain::catalog::Price)>,
        s: &CheckoutSession,
    ) -> Result<(), StoreError> {
        let k = self.field_key(&scope.account_id).await?;
        let sealed = SealedBuyer::of(&k, s)?;
        let mut tx = self.write().await?;
        for (product, price) in inline {
            self.insert_price_with_events(&mut tx, scope, product, &price)
                .await?;
        }
        Self::insert_session(&mut tx, scope, s, sealed, None).await?;
        tx.commit().await
    }

    /// The buyer submitted the page of an API-created session: its order
    /// (buyer, amounts, promotion) is recorded and what the order holds is
    /// reserved, in one transaction, while the session is open, unsubmitted
    /// and not past its expiry. `Err(LinkUnavailable)` when it is not.
    pub async fn submit_session(
        &self,
        scope: &Scope,
        s: &CheckoutSession,
        first_time: bool,
    ) -> Result<Result<(), OpenRefusal>, StoreError> {
        let (b, email_blind) = self.seal_buyer(scope, s, first_time).await?;
        let now = s.submitted_at.unwrap_or(s.created);
        let mut tx = self.write().await?;
        let mut up = Sql::new("UPDATE checkout_sessions SET submitted_at = ");
        up.bind(now)
            .push(" WHERE ")
            .scope(scope)
            .push(" AND id = ")
            .bind(s.id.as_str())
            .push(" AND status = 'open' AND submitted_at IS NULL AND expires_at > ")
            .bind(now);
        if up.query().execute(tx.conn()).await?.rows_affected() != 1 {
            return Ok(Err(OpenRefusal::LinkUnavailable));
        }
        let claim = match Self::reserve_offer(&mut tx, scope, s, first_time, email_blind).await? {
            Ok(claim) => claim,
            Err(r) => return Ok(Err(r)),
        };
        let mut up = Sql::new("UPDATE checkout_sessions SET amount_subtotal = ");
        up.bind(s.amount_subtotal)
            .push(", amount_discount = ")
            .bind(s.amount_discount)
            .push(", amount_total = ")
            .bind(s.amount_total)
            .push(", promotion_code_id = ")
            .bind(s.promotion_code.clone())
            .push(", coupon_id = ")
            .bind(s.coupon.clone())
            .push(", first_time_claim = ")
            .bind(claim)
            .push(", customer_email = ")
            .bind(b.email)
            .push(", customer_name = ")
            .bind(b.name)
            .push(", customer_phone = ")
            .bind(b.phone)
            .push(", customer_address = ")
            .bind(b.address)
            .push(", custom_fields = ")
            .bind(b.answers)
            .push(", shipping_details = ")
            .bind(b.shipping)
            .push(", terms_accepted = ")
            .bind(s.terms_accepted)
            .push(", line_items = ")
            .bind(json(&s.line_items)?)
            .push(" WHERE ")
            .scope(scope)
            .push(" AND id = ")
            .bind(s.id.as_str());
        up.query().execute(tx.conn()).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Undoes a submission whose provider payment could not be created: what
    /// it reserved is given back and the session's page takes its buyer
    /// again (an API-created session stays open until it expires).
    pub async fn reopen_session(&self, scope: &Scope, id: &str) -> Result<(), StoreError> {
        let k = self.field_key(&scope.account_id).await?;
        let mut tx = self.write().await?;
        let s = self.lock_session(&mut tx, scope, id, &k).await?;
        if s.status != SessionStatus::Open || s.provider_ref.is_some() || s.offer.is_none() {
            return Ok(());
        }
        Self::release(&mut tx, scope, &s, false).await?;
        let mut up = Sql::new("UPDATE checkout_sessions SET submitted_at = NULL, promotion_code_id = NULL, coupon_id = NULL, first_time_claim = NULL WHERE ");
        up.scope(scope).push(" AND id = ").bind(id);
        up.query().execute(tx.conn()).await?;
        tx.commit().await
    }

    /// Takes one of the link's places: it must be active and have room
    /// under its completed-sessions limit, counting open reservations.
    async fn reserve_link_place(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        link: &str,
    ) -> Result<bool, StoreError> {
        let mut up =
            Sql::new("UPDATE payment_links SET reserved_sessions = reserved_sessions + 1 WHERE ");
        up.scope(scope)
            .push(" AND id = ")
            .bind(link)
            .push(" AND active = 1 AND (completed_sessions_limit IS NULL OR completed_sessions_count + reserved_sessions < completed_sessions_limit)");
        Ok(up.query().execute(tx.conn()).await?.rows_affected() == 1)
    }

    /// Claims a first purchase for the buyer with email blind index `key`:
    /// refused if they paid before or another open session holds the claim.
    async fn claim_first_purchase(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        key: &str,
        session: &str,
    ) -> Result<bool, StoreError> {
        if Self::has_paid_before(tx, scope, key).await? {
            return Ok(false);
        }
        let ins = Insert::new("first_time_claims")
            .set("account_id", scope.account_id.as_str())
            .set("livemode", scope.livemode)
            .set("email_key", key)
            .set("session_id", session)
            .or_skip()
            .sql();
        Ok(ins.query().execute(tx.conn()).await?.rows_affected() == 1)
    }

    async fn insert_session(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        s: &CheckoutSession,
        b: SealedBuyer,
        claim: Option<String>,
    ) -> Result<(), StoreError> {
        Insert::new("checkout_sessions")
            .set("account_id", scope.account_id.as_str())
            .set("id", s.id.as_str())
            .set("livemode", s.livemode)
            .set("created", s.created)
            .set("expires_at", s.expires_at)
            .set("payment_link_id", s.payment_link.as_deref().unwrap_or(""))
            .set("status", s.status.as_str())
            .set("payment_status", if s.paid { "paid" } else { "unpaid" })
            .set("currency", s.currency.code())
            .set("amount_subtotal", s.amount_subtotal)
            .set("amount_discount", s.amount_discount)
            .set("amount_total", s.amount_total)
            .set("promotion_code_id", s.promotion_code.clone())
            .set("coupon_id", s.coupon.clone())
            .set("first_time_claim", claim)
            .set("customer_email", b.email)
            .set("customer_name", b.name)
            .set("customer_phone", b.phone)
            .set("customer_address", b.address)
            .set("custom_fields", b.answers)
            .set("shipping_details", b.shipping)
            .set("terms_accepted", s.terms_accepted)
            .set("line_items", json(&s.line_items)?)
            .set("metadata", json(&s.metadata)?)
            .set("customer_id", s.customer.clone())
            .set("payment_intent_id", s.payment_intent.clone())
            .set("provider", s.provider.as_str())
            .set("provider_ref", s.provider_ref.clone())
            .set("client_reference_id", s.client_reference_id.clone())
            .set("offer", s.offer.as_ref().map(json).transpose()?)
            .set("link_page", s.link_page.as_ref().map(json).transpose()?)
            .set("submitted_at", s.submitted_at)
            .set(
                "payment_intent_data",
                s.payment_intent_data.as_ref().map(json).transpose()?,
            )
            .sql()
            .query()
            .execute(tx.conn())
            .await?;
        Ok(())
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
        let scope = scope_of(row)?;
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
    pub(super) async fn release(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        s: &CheckoutSession,
        completed: bool,
    ) -> Result<(), StoreError> {
        if let Some(link) = &s.payment_link {
            let mut up = Sql::new(if completed {
                "UPDATE payment_links SET reserved_sessions = reserved_sessions - 1, completed_sessions_count = completed_sessions_count + 1, active = CASE WHEN completed_sessions_limit IS NOT NULL AND completed_sessions_count + 1 >= completed_sessions_limit THEN 0 ELSE active END WHERE "
            } else {
                "UPDATE payment_links SET reserved_sessions = reserved_sessions - 1 WHERE "
            });
            up.scope(scope).push(" AND id = ").bind(link.as_str());
            up.query().execute(tx.conn()).await?;
        }
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

    pub(super) async fn lock_session(
        &self,
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        id: &str,
        k: &FieldKey,
    ) -> Result<CheckoutSession, StoreError> {
        let row = self
            .select_one_for_update(&SESSIONS, scope, id)
            .fetch_row(tx.conn())
            .await?;
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
        // The payment intent of its failed attempts, if any, is canceled
        // (Stripe's payment_intent.canceled).
        if let Some(pi) = &s.payment_intent {
            let mut cancel =
                Sql::new("UPDATE payment_intents SET status = 'canceled', canceled_at = ");
            cancel
                .bind(self.renderer().now())
                .push(" WHERE ")
                .scope(scope)
                .push(" AND id = ")
                .bind(pi.as_str())
                .push(" AND status = 'requires_payment_method'");
            if cancel.query().execute(tx.conn()).await?.rows_affected() == 1 {
                let object = self.payment_intent_object(&mut tx, scope, pi).await?;
                self.emit_change(&mut tx, scope, "payment_intent.canceled", None, object)
                    .await?;
            }
        }
        // The event carries the session as it now reads.
        let done = self.lock_session(&mut tx, scope, id, &k).await?;
        let object = self.renderer().checkout_session(&done);
        self.emit_change(&mut tx, scope, "checkout.session.expired", None, object)
            .await?;
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
            let scope = scope_of(&r)?;
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
}
