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
        f(
            "created",
            obj(vec![
                f("gt", int(0, 253_402_300_799), "Created after this Unix time."),
                f("gte", int(0, 253_402_300_799), "Created at or after this Unix time."),
                f("lt", int(0, 253_402_300_799), "Created before this Unix time."),
                f("lte", int(0, 253_402_300_799), "Created at or before this Unix time."),
            ]),
            "Only events created in this range.",
        ),
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

#[derive(Debug, Default, Deserialize)]
pub struct Created {
    gt: Option<i64>,
    gte: Option<i64>,
    lt: Option<i64>,
    lte: Option<i64>,
}

#[derive(Deserialize)]
pub struct List {
    #[serde(flatten)]
    page: ListArgs,
    #[serde(rename = "type")]
    kind: Option<String>,
    types: Option<Vec<String>>,
    created: Option<Created>,
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
    let c = p.created.unwrap_or_default();
    let filter = EventFilter {
        types: p
            .kind
            .into_iter()
            .chain(p.types.unwrap_or_default())
            .collect(),
        created_gte: [c.gte, c.gt.map(|t| t.saturating_add(1))]
            .into_iter()
            .flatten()
            .max(),
        created_lte: [c.lte, c.lt.map(|t| t.saturating_sub(1))]
            .into_iter()
            .flatten()
            .min(),
    };
    let page = state
        .store
        .list_events(&auth.scope, &filter, &p.page.query()?)
        .await?;
    let page = page.map(|e| objects::event(&e));
    Ok(ok(objects::list("/v1/events", page.data, page.has_more)))
}
