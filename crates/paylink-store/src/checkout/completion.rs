//! Completing a session from a provider's "payment succeeded" event: the
//! event recorded under a unique key, the payment and customer created,
//! the reservations turned into counts, all in one transaction.

use paylink_domain::catalog::Metadata;
use paylink_domain::checkout::{email_key, SessionStatus};
use sqlx::Row;

use crate::db::Store;
use crate::error::StoreError;
use crate::list::Sql;

use super::customers::CUSTOMER_COLS;
use super::payments::PI_COLS;
use super::{json, seal_person, Person};

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
}
