//! A buyer's data on request: erasure and export (from the API or the
//! dashboard), each audited.

use paylink_domain::checkout::Customer;
use paylink_domain::Id;
use paylink_store::audit::AuditEvent;
use paylink_store::checkout::SessionFilter;
use paylink_store::{ListQuery, Page, Scope, StoreError};
use serde_json::Value;

use crate::{objects, ApiError, AppState};

/// Erases the customer's personal data (and that of their checkout
/// sessions) as `actor`; amounts and dates stay.
pub async fn redact(
    state: &AppState,
    scope: &Scope,
    actor: &str,
    id: &Id<Customer>,
) -> Result<Customer, ApiError> {
    state
        .store
        .redact_customer(scope, id, false)
        .await
        .map_err(|e| ApiError::from_store(e, "customer", id))?;
    state
        .store
        .audit(AuditEvent {
            account_id: Some(&scope.account_id),
            actor,
            action: "customer.redacted",
            target: Some(id),
            detail: serde_json::json!({"livemode": scope.livemode}),
            now: state.now(),
        })
        .await?;
    Ok(state.store.get_customer(scope, id).await?)
}

/// An object of a list read to its end.
trait HasId {
    fn id(&self) -> &str;
}
impl HasId for paylink_domain::checkout::CheckoutSession {
    fn id(&self) -> &str {
        &self.id
    }
}
impl HasId for paylink_domain::checkout::PaymentIntent {
    fn id(&self) -> &str {
        &self.id
    }
}
impl HasId for paylink_domain::checkout::Refund {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Reads every page of a list.
async fn all_pages<T, F, Fut>(mut page: F) -> Result<Vec<T>, ApiError>
where
    F: FnMut(ListQuery) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, StoreError>>,
    T: HasId,
{
    let mut out: Vec<T> = Vec::new();
    loop {
        let q = ListQuery {
            limit: 100,
            starting_after: out.last().map(|x| x.id().to_string()),
            ending_before: None,
            ..Default::default()
        };
        let p = page(q).await?;
        let more = p.has_more;
        out.extend(p.data);
        if !more {
            return Ok(out);
        }
    }
}

/// Everything held about a customer, as the JSON document handed to the
/// data subject; the export is audited as `actor`.
pub async fn export(
    state: &AppState,
    scope: &Scope,
    actor: &str,
    id: &Id<Customer>,
) -> Result<Value, ApiError> {
    let store = &state.store;
    let c = store
        .get_customer(scope, id)
        .await
        .map_err(|e| ApiError::from_store(e, "customer", id))?;
    let filter = SessionFilter {
        customer: Some(id.to_string()),
        ..SessionFilter::default()
    };
    let filter = &filter;
    let sessions =
        all_pages(|q| async move { store.list_sessions(scope, filter, &q).await }).await?;
    let payments =
        all_pages(|q| async move { store.list_payment_intents(scope, Some(id), &q).await }).await?;
    let mut refunds = Vec::new();
    for pi in &payments {
        let pid = pi.id.as_str();
        refunds.extend(
            all_pages(|q| async move { store.list_refunds(scope, Some(pid), &q).await }).await?,
        );
    }
    store
        .audit(AuditEvent {
            account_id: Some(&scope.account_id),
            actor,
            action: "customer.exported",
            target: Some(id),
            detail: serde_json::json!({"livemode": scope.livemode}),
            now: state.now(),
        })
        .await?;
    Ok(serde_json::json!({
        "object": "customer_export",
        "exported_at": state.now(),
        "customer": objects::customer(&c),
        "checkout_sessions": sessions.iter().map(|s| objects::checkout_session(s, &state.public_url, None)).collect::<Vec<_>>(),
        "payment_intents": payments.iter().map(objects::payment_intent).collect::<Vec<_>>(),
        "refunds": refunds.iter().map(objects::refund).collect::<Vec<_>>(),
    }))
}
