//! Completing a session from a provider's "payment succeeded" event: the
//! event recorded under a unique key, the payment and customer created,
//! the reservations turned into counts, all in one transaction.

use paylink_domain::catalog::Metadata;
use paylink_domain::checkout::{email_key, CheckoutSession, SessionStatus};
use sqlx::Row;

use crate::db::WriteTx;
use crate::error::StoreError;
use crate::sql::{Insert, Sql, Update};
use crate::store::Store;
use crate::vault::FieldKey;
use crate::Scope;

use super::customers::{customer_of, CUSTOMER_COLS};
use super::{json, Person};

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

impl Store {
    /// Applies a provider's "payment succeeded" event, exactly once: the
    /// event is recorded, checked against the session's own payment, and
    /// the payment, its customer and the session's completion written, all
    /// in one transaction.
    pub async fn complete_session(&self, e: PaidEvent<'_>) -> Result<Completion, StoreError> {
        let (scope, before) = self.find_session_public(e.session_id).await?;
        let k = self.field_key(&scope.account_id).await?;
        let email_blind = match &before.customer_email {
            Some(m) => Some(self.blind(&email_key(m)).await?),
            None => None,
        };
        let mut tx = self.write().await?;
        let event = Insert::new("provider_events")
            .set("provider", e.provider)
            .set("event_id", e.event_id)
            .set("received", e.now)
            .or_skip()
            .sql();
        if event.query().execute(tx.conn()).await?.rows_affected() != 1 {
            return Ok(Completion::DuplicateEvent);
        }
        let s = self.lock_session(&mut tx, &scope, e.session_id, &k).await?;
        // Checked before anything else about the session is acted on (the
        // event is not kept).
        if let Some(why) = Self::binding_refusal(&mut tx, &scope, &s, e.binding()).await? {
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
        let buyer = Buyer {
            key: &k,
            email_blind: email_blind.as_deref(),
        };
        let (customer_id, new_customer) =
            Self::customer_for(&mut tx, &scope, &s, &e, buyer).await?;
        // The payment intent of the session's failed attempts, if any,
        // now succeeds; otherwise the payment is a new one.
        let pi_id = s
            .payment_intent
            .clone()
            .unwrap_or_else(|| e.payment_intent_id.to_string());
        let e = PaidEvent {
            payment_intent_id: &pi_id,
            ..e
        };
        let existing = s.payment_intent.is_some();
        Self::insert_payment(&mut tx, &scope, &s, &e, &customer_id, existing).await?;
        Self::mark_complete(&mut tx, &scope, &s, &e, &customer_id).await?;
        Self::release(&mut tx, &scope, &s, true).await?;
        // Stripe's order: the customer, the payment, then the session; each
        // object as it now reads.
        if new_customer {
            let row = Sql::select_one(CUSTOMER_COLS, "customers", &scope, &customer_id)
                .fetch_row(tx.conn())
                .await?;
            let object = self.renderer().customer(&customer_of(&row, &k)?);
            self.emit_change(&mut tx, &scope, "customer.created", None, object)
                .await?;
        }
        let object = self
            .payment_intent_object(&mut tx, &scope, e.payment_intent_id)
            .await?;
        if !existing {
            self.emit_change(
                &mut tx,
                &scope,
                "payment_intent.created",
                None,
                object.clone(),
            )
            .await?;
        }
        self.emit_change(&mut tx, &scope, "payment_intent.succeeded", None, object)
            .await?;
        let done = self.lock_session(&mut tx, &scope, e.session_id, &k).await?;
        let object = self.renderer().checkout_session(&done);
        self.emit_change(&mut tx, &scope, "checkout.session.completed", None, object)
            .await?;
        tx.commit().await?;
        // The link's count (and with its limit, whether it is active).
        self.pages_changed();
        Ok(Completion::Recorded {
            payment_intent: e.payment_intent_id.to_string(),
        })
    }

    /// Applies a provider's "payment failed" event, exactly once: the
    /// session's payment intent is created (the first failure) or kept in
    /// `requires_payment_method` with why this attempt failed, and
    /// `payment_intent.payment_failed` is written. A session no longer
    /// open is left as it is.
    pub async fn record_failed_payment(
        &self,
        e: FailedEvent<'_>,
    ) -> Result<Completion, StoreError> {
        let (scope, _) = self.find_session_public(e.session_id).await?;
        let k = self.field_key(&scope.account_id).await?;
        let mut tx = self.write().await?;
        let event = Insert::new("provider_events")
            .set("provider", e.provider)
            .set("event_id", e.event_id)
            .set("received", e.now)
            .or_skip()
            .sql();
        if event.query().execute(tx.conn()).await?.rows_affected() != 1 {
            return Ok(Completion::DuplicateEvent);
        }
        let s = self.lock_session(&mut tx, &scope, e.session_id, &k).await?;
        let binding = Binding {
            livemode: e.livemode,
            provider: e.provider,
            provider_ref: e.provider_ref,
            merchant: e.merchant,
        };
        if let Some(why) = Self::binding_refusal(&mut tx, &scope, &s, binding).await? {
            return Ok(Completion::Refused(why.to_string()));
        }
        if s.status != SessionStatus::Open {
            tx.commit().await?;
            return Ok(Completion::AlreadyComplete);
        }
        let error = json(&e.error)?;
        let (pi_id, created) = match &s.payment_intent {
            Some(id) => {
                Update::new("payment_intents")
                    .set("status", "requires_payment_method")
                    .set("card_brand", e.card_brand)
                    .set("card_last4", e.card_last4)
                    .set("last_payment_error", error)
                    .one(&scope, id)
                    .query()
                    .execute(tx.conn())
                    .await?;
                (id.clone(), false)
            }
            None => {
                let attempt = Attempt {
                    provider: e.provider,
                    provider_ref: e.provider_ref,
                    id: e.payment_intent_id,
                    now: e.now,
                    card_brand: e.card_brand,
                    card_last4: e.card_last4,
                };
                payment_row(&scope, &s, attempt, "requires_payment_method")?
                    .set("customer_id", None::<String>)
                    .set("last_payment_error", error)
                    .sql()
                    .query()
                    .execute(tx.conn())
                    .await?;
                Update::new("checkout_sessions")
                    .set("payment_intent_id", e.payment_intent_id)
                    .one(&scope, &s.id)
                    .query()
                    .execute(tx.conn())
                    .await?;
                (e.payment_intent_id.to_string(), true)
            }
        };
        let object = self.payment_intent_object(&mut tx, &scope, &pi_id).await?;
        if created {
            self.emit_change(
                &mut tx,
                &scope,
                "payment_intent.created",
                None,
                object.clone(),
            )
            .await?;
        }
        self.emit_change(
            &mut tx,
            &scope,
            "payment_intent.payment_failed",
            None,
            object,
        )
        .await?;
        tx.commit().await?;
        Ok(Completion::Recorded {
            payment_intent: pi_id,
        })
    }

    /// Why the event may not complete this session, if it may not: the
    /// binding is this mode, the provider merchant the session's payment was
    /// created with, and that very payment.
    async fn binding_refusal(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        s: &CheckoutSession,
        e: Binding<'_>,
    ) -> Result<Option<&'static str>, StoreError> {
        let mut bound = Sql::new("SELECT provider_account FROM checkout_sessions WHERE ");
        bound.scope(scope).push(" AND id = ").bind(s.id.as_str());
        let merchant: Option<String> = bound.fetch_row(tx.conn()).await?.try_get(0)?;
        Ok(if e.livemode != scope.livemode {
            Some("the event's mode is not the session's")
        } else if s.provider != e.provider {
            Some("the event comes from another provider")
        } else if s.provider_ref.as_deref() != Some(e.provider_ref) {
            Some("the event is for a payment this session did not create")
        } else if merchant.as_deref() != Some(e.merchant) {
            Some("the event comes from a merchant this session's payment was not created with")
        } else {
            None
        })
    }

    /// The customer the buyer is (found by email) or becomes, and
    /// whether they are new.
    async fn customer_for(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        s: &CheckoutSession,
        e: &PaidEvent<'_>,
        buyer: Buyer<'_>,
    ) -> Result<(String, bool), StoreError> {
        // A session made for a customer pays as theirs (unless they were
        // deleted since: then as any buyer).
        if let Some(id) = &s.customer {
            let mut sel = Sql::new("SELECT id FROM customers WHERE ");
            sel.scope(scope)
                .push(" AND id = ")
                .bind(id.as_str())
                .push(" AND deleted = 0");
            if sel.query().fetch_optional(tx.conn()).await?.is_some() {
                return Ok((id.clone(), false));
            }
        }
        if let Some(b) = buyer.email_blind {
            let mut sel = Sql::new("SELECT id FROM customers WHERE ");
            sel.scope(scope)
                .push(" AND email_key = ")
                .bind(b)
                .push(" AND deleted = 0 ORDER BY seq LIMIT 1");
            if let Some(row) = sel.query().fetch_optional(tx.conn()).await? {
                return Ok((row.try_get::<String, _>(0)?, false));
            }
        }
        let person = Person::buyer_of(s);
        let c = paylink_domain::checkout::Customer {
            id: e.new_customer_id.to_string(),
            livemode: scope.livemode,
            created: e.now,
            email: person.email.map(str::to_string),
            name: person.name.map(str::to_string),
            phone: person.phone.map(str::to_string),
            address: person.address.cloned(),
            metadata: Metadata::default(),
            description: None,
            shipping: None,
            preferred_locales: Vec::new(),
        };
        super::customers::customer_insert(scope, &c, buyer.key, buyer.email_blind)?
            .query()
            .execute(tx.conn())
            .await?;
        Ok((e.new_customer_id.to_string(), true))
    }

    /// The payment the event reports, as a succeeded payment intent: the
    /// session's own (`existing`, made by failed attempts) or a new one.
    async fn insert_payment(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        s: &CheckoutSession,
        e: &PaidEvent<'_>,
        customer_id: &str,
        existing: bool,
    ) -> Result<(), StoreError> {
        if existing {
            Update::new("payment_intents")
                .set("status", "succeeded")
                .set("provider", e.provider)
                .set("provider_ref", e.provider_ref)
                .set("card_brand", e.card_brand)
                .set("card_last4", e.card_last4)
                .set("customer_id", customer_id)
                .set("last_payment_error", None::<String>)
                .one(scope, e.payment_intent_id)
                .query()
                .execute(tx.conn())
                .await?;
            return crate::reports::add_to_day(
                tx,
                scope,
                e.now,
                s.currency.code(),
                1,
                s.amount_total,
            )
            .await;
        }
        let attempt = Attempt {
            provider: e.provider,
            provider_ref: e.provider_ref,
            id: e.payment_intent_id,
            now: e.now,
            card_brand: e.card_brand,
            card_last4: e.card_last4,
        };
        payment_row(scope, s, attempt, "succeeded")?
            .set("customer_id", customer_id)
            .sql()
            .query()
            .execute(tx.conn())
            .await?;
        crate::reports::add_to_day(tx, scope, e.now, s.currency.code(), 1, s.amount_total).await
    }

    /// The session, still open under its lock, becomes complete and paid.
    async fn mark_complete(
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        s: &CheckoutSession,
        e: &PaidEvent<'_>,
        customer_id: &str,
    ) -> Result<(), StoreError> {
        let mut up = Update::new("checkout_sessions")
            .set("status", "complete")
            .set("payment_status", "paid")
            .set("customer_id", customer_id)
            .set("payment_intent_id", e.payment_intent_id)
            .set("provider_ref", e.provider_ref)
            .one(scope, &s.id);
        up.push(" AND status = 'open'");
        if up.query().execute(tx.conn()).await?.rows_affected() != 1 {
            return Err(StoreError::Corrupt(format!(
                "session {} changed under its lock",
                s.id
            )));
        }
        Ok(())
    }
}

/// What makes a payment intent's row beside its session's amounts.
struct Attempt<'a> {
    provider: &'a str,
    provider_ref: &'a str,
    id: &'a str,
    now: i64,
    card_brand: Option<&'a str>,
    card_last4: Option<&'a str>,
}

/// A new payment intent row for session `s` with `status` (the caller
/// adds the customer and, for a failure, why).
fn payment_row(
    scope: &Scope,
    s: &CheckoutSession,
    a: Attempt<'_>,
    status: &str,
) -> Result<Insert, StoreError> {
    Ok(Insert::new("payment_intents")
        .set("account_id", scope.account_id.as_str())
        .set("provider", a.provider)
        .set("provider_ref", a.provider_ref)
        .set("id", a.id)
        .set("livemode", scope.livemode)
        .set("created", a.now)
        .set("amount", s.amount_total)
        .set("amount_refunded", 0i64)
        .set("currency", s.currency.code())
        .set("status", status)
        .set("card_brand", a.card_brand)
        .set("card_last4", a.card_last4)
        .set("checkout_session_id", s.id.as_str())
        .set("payment_link_id", s.payment_link.as_deref().unwrap_or(""))
        // payment_intent_data's metadata, else the session's (its link's).
        .set(
            "metadata",
            json(match &s.payment_intent_data {
                Some(d) if !d.metadata.as_map().is_empty() => &d.metadata,
                _ => &s.metadata,
            })?,
        )
        .set(
            "description",
            s.payment_intent_data
                .as_ref()
                .and_then(|d| d.description.clone()),
        )
        .set(
            "statement_descriptor",
            s.payment_intent_data
                .as_ref()
                .and_then(|d| d.statement_descriptor.clone()),
        ))
}

/// A failed attempt as the provider reports it.
pub struct FailedEvent<'a> {
    pub provider: &'a str,
    pub event_id: &'a str,
    pub session_id: &'a str,
    pub provider_ref: &'a str,
    pub merchant: &'a str,
    pub livemode: bool,
    pub card_brand: Option<&'a str>,
    pub card_last4: Option<&'a str>,
    pub error: paylink_domain::checkout::PaymentError,
    /// The id the payment intent gets if this is the session's first.
    pub payment_intent_id: &'a str,
    pub now: i64,
}

/// What ties a provider's event to a session: the mode, provider,
/// payment and merchant it must match.
#[derive(Clone, Copy)]
struct Binding<'a> {
    livemode: bool,
    provider: &'a str,
    provider_ref: &'a str,
    merchant: &'a str,
}

impl PaidEvent<'_> {
    fn binding(&self) -> Binding<'_> {
        Binding {
            livemode: self.livemode,
            provider: self.provider,
            provider_ref: self.provider_ref,
            merchant: self.merchant,
        }
    }
}

/// What completion needs to know of the buyer: the account's key for their
/// details, and their email's blind index.
#[derive(Clone, Copy)]
struct Buyer<'a> {
    key: &'a FieldKey,
    email_blind: Option<&'a str>,
}
