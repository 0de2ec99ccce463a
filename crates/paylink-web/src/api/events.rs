//! `/v1/events` — what changed in the account, in this mode, for 30 days:
//! each event written in the same transaction as its change, with the
//! object as the API rendered it then.

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use paylink_domain::id::Event;
use paylink_store::events::EventFilter;
use serde::Deserialize;

use super::{ok, ListArgs, RetrieveArgs};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{Input, ObjectId};
use crate::objects;
use crate::schema::*;
use crate::AppState;

/// Types in one `types` filter at most (Stripe's limit).
const MAX_TYPES: usize = 20;

pub fn retrieve_params() -> Kind {
    obj(vec![expand()])
}

pub fn list_params() -> Kind {
    crate::schema::list_params(vec![
        f("type", string(100), "Only events of this type (e.g. product.created)."),
        f("types", arr(string(100), MAX_TYPES), "Only events of one of these types (up to 20)."),
        f("delivery_success", Kind::Bool, "Accepted for compatibility; every event is listed (webhook delivery is not built yet)."),
    ])
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Event>,
    Input(_): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    let e = state
        .store
        .get_event(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "event", &id))?;
    Ok(ok(objects::event(&e)))
}

#[derive(Deserialize)]
pub struct List {
    #[serde(flatten)]
    page: ListArgs,
    #[serde(rename = "type")]
    kind: Option<String>,
    types: Option<Vec<String>>,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<List>,
) -> Result<Response, ApiError> {
    if p.kind.is_some() && p.types.is_some() {
        return Err(ApiError::invalid(
            Some("types".into()),
            "You may only specify one of these parameters: type, types.",
        ));
    }
    let filter = EventFilter {
        types: expand_wildcards(p.kind.into_iter().chain(p.types.unwrap_or_default())),
    };
    let page = state
        .store
        .list_events(&auth.scope, &filter, &p.page.query()?)
        .await?;
    let page = page.map(|e| objects::event(&e));
    Ok(ok(objects::list("/v1/events", page.data, page.has_more)))
}

/// The types a `type` filter names: itself, or for a wildcard
/// (`checkout.session.*`, Stripe's form) every type paylink writes that
/// begins so (a wildcard matching none of them finds nothing).
fn expand_wildcards(types: impl Iterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    for t in types {
        match t.strip_suffix('*') {
            Some(prefix) if prefix.is_empty() || prefix.ends_with('.') => {
                let mut matched: Vec<String> = crate::service::webhooks::EMITTED
                    .iter()
                    .filter(|e| e.starts_with(prefix))
                    .map(|e| (*e).to_string())
                    .collect();
                if matched.is_empty() {
                    // No such type: nothing can match it.
                    matched.push(t.clone());
                }
                out.extend(matched);
            }
            _ => out.push(t),
        }
    }
    out
}
