//! `Idempotency-Key` on POST: the first response is stored and a retry
//! within 24 h gets it back byte for byte (with `Idempotent-Replayed:
//! true`); the same key with other parameters is a 400 `idempotency_error`;
//! the same key while the first request still runs is a 409.
//!
//! Like Stripe, only requests that did their work are remembered: a
//! response with status 400 or above that committed nothing releases the
//! key, so a corrected retry may reuse it.
//!
//! Exactly once, whatever happens to the client or the process
//! (reliability findings F3, F4): the request runs to its end even when
//! its client hangs up (see [`crate::detach`]); its claim carries a lease
//! and a token, and each of its write transactions marks the claim as
//! committed inside that same transaction. A retry after a crash thus
//! either takes the claim over (nothing was committed: run it) or answers
//! with the object the first run made (committed, response never stored),
//! never a second run and never a lasting 409.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use paylink_store::idempotency::{Claim, Ticket};
use paylink_store::Store;
use tower::ServiceExt;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::{json_response_headers, AppState, BODY_LIMIT};

const MAX_KEY_LEN: usize = 255;

/// Releases a claim whose request never finished (a panic), if it
/// committed nothing; a claim that committed waits for its lease.
struct ClaimGuard {
    armed: Option<(Store, Ticket)>,
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if let Some((store, ticket)) = self.armed.take() {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    if let Err(e) = store.release_idempotency(&ticket).await {
                        tracing::warn!(error = %e, "could not release an abandoned idempotency key");
                    }
                });
            }
        }
    }
}

pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match run(state, req, next).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

// Long: the middleware's one decision (pass, claim, run, then record, replay or
// release); each outcome's handling sits beside the others so none is missed.
async fn run(state: AppState, req: Request, next: Next) -> Result<Response, ApiError> {
    if req.method() != Method::POST {
        return Ok(next.run(req).await);
    }
    let Some(key) = req.headers().get("idempotency-key") else {
        return Ok(next.run(req).await);
    };
    let key = key
        .to_str()
        .ok()
        // Visible characters only, as the OpenAPI document says (a
        // header value may also hold spaces and tabs).
        .filter(|k| {
            !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::invalid(
                None,
                format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters."),
            )
        })?
        .to_string();
    let auth =
        req.extensions().get::<Auth>().cloned().ok_or_else(|| {
            ApiError::internal("idempotency middleware ran before authentication")
        })?;
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| ApiError::body_too_large(BODY_LIMIT))?;
    let content_type = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut fingerprint = Vec::with_capacity(bytes.len() + 128);
    for piece in [
        parts.method.as_str().as_bytes(),
        parts.uri.path().as_bytes(),
        content_type.as_bytes(),
    ] {
        fingerprint.extend_from_slice(piece);
        fingerprint.push(0);
    }
    fingerprint.extend_from_slice(&bytes);
    let hash = paylink_crypto::sha256_hex(&fingerprint);

    let ticket = match state
        .store
        .claim_idempotency(
            &auth.scope,
            &key,
            parts.uri.path(),
            &hash,
            state.now(),
            state.idempotency_lease_secs,
        )
        .await?
    {
        Claim::InFlight => return Err(ApiError::idempotency_in_flight()),
        Claim::Mismatch => return Err(ApiError::idempotency_mismatch(&key)),
        Claim::Replay { status, body } => {
            let status = StatusCode::from_u16(status).map_err(ApiError::internal)?;
            let resp = (status, json_response_headers(), body).into_response();
            return Ok(replayed(resp, &key));
        }
        Claim::Recover { path, ticket } => {
            let resp = recover(&state, &parts, &auth, path, &ticket).await?;
            return Ok(replayed(resp, &key));
        }
        Claim::Fresh(ticket) => ticket,
    };
    let mut guard = ClaimGuard {
        armed: Some((state.store.clone(), ticket.clone())),
    };
    let resp = ticket
        .run(next.run(Request::from_parts(parts, Body::from(bytes))))
        .await;
    let (mut rparts, rbody) = resp.into_parts();
    let rbytes = axum::body::to_bytes(rbody, usize::MAX)
        .await
        .map_err(ApiError::internal)?;
    let status = rparts.status.as_u16();
    if status < 400 || (status < 500 && ticket.committed()) {
        // Done (or refused after doing part of its work): replayed.
        state
            .store
            .finish_idempotency(&ticket, status, &rbytes)
            .await?;
    } else if ticket.committed() {
        // A server error after part of the work committed: never run
        // again, never replay the error; the next retry recovers the
        // object as it then stands.
        state.store.expire_idempotency(&ticket).await?;
    } else {
        state.store.release_idempotency(&ticket).await?;
    }
    guard.armed = None;
    if let Ok(v) = HeaderValue::from_str(&key) {
        rparts.headers.insert("idempotency-key", v);
    }
    Ok(Response::from_parts(rparts, Body::from(rbytes)))
}

fn replayed(mut resp: Response, key: &str) -> Response {
    resp.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    if let Ok(v) = HeaderValue::from_str(key) {
        resp.headers_mut().insert("idempotency-key", v);
    }
    resp
}

/// The object a POST acts on, for one that named none it made:
/// `/v1/customers/cus_1/redact` and `/v1/products/prod_1` act on
/// `/v1/customers/cus_1` and `/v1/products/prod_1`, `/v1/account/…` on
/// `/v1/account`; a bare collection (`/v1/products`) names none.
fn object_path(post_path: &str) -> Option<String> {
    let parts: Vec<&str> = post_path.trim_matches('/').split('/').collect();
    if parts.get(..2) == Some(&["v1", "account"]) {
        return Some("/v1/account".into());
    }
    // v1 / collection (/ sub-collection) / id (/ action)
    let id_at = parts
        .iter()
        .enumerate()
        .skip(2)
        .find(|(_, p)| p.contains('_'))
        .map(|(i, _)| i)?;
    let head = parts.get(..=id_at)?;
    (head.first() == Some(&"v1")).then(|| format!("/{}", head.join("/")))
}

/// Answers a retry whose first run committed its work but died before its
/// response was stored: the object it made (or acted on), as the API shows
/// it now, stored as the key's response from here on.
async fn recover(
    state: &AppState,
    parts: &Parts,
    auth: &Auth,
    made: Option<String>,
    ticket: &Ticket,
) -> Result<Response, ApiError> {
    let Some(path) = made.or_else(|| object_path(parts.uri.path())) else {
        // Nothing to show, and running it again is never an option.
        return Err(ApiError::internal(format!(
            "{} committed its work but named no object to answer with",
            parts.uri.path()
        )));
    };
    let mut get = Request::get(path.as_str())
        .body(Body::empty())
        .map_err(ApiError::internal)?;
    get.extensions_mut().insert(auth.clone());
    let resp = crate::api::routes()
        .with_state(state.clone())
        .oneshot(get)
        .await
        .map_err(ApiError::internal)?;
    let (rparts, rbody) = resp.into_parts();
    let rbytes = axum::body::to_bytes(rbody, usize::MAX)
        .await
        .map_err(ApiError::internal)?;
    if !rparts.status.is_success() {
        return Err(ApiError::internal(format!(
            "recovering {path}: {}",
            rparts.status
        )));
    }
    state.store.finish_idempotency(ticket, 200, &rbytes).await?;
    tracing::info!(path = %path, "idempotent retry answered from the committed object");
    Ok((StatusCode::OK, json_response_headers(), rbytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::object_path;

    #[test]
    fn the_object_a_post_acts_on() {
        let cases = [
            ("/v1/products", None),
            ("/v1/payment_links", None),
            ("/v1/products/prod_abc123", Some("/v1/products/prod_abc123")),
            (
                "/v1/customers/cus_abc123/redact",
                Some("/v1/customers/cus_abc123"),
            ),
            (
                "/v1/checkout/sessions/cs_abc123/expire",
                Some("/v1/checkout/sessions/cs_abc123"),
            ),
            (
                "/v1/promotion_codes/promo_abc123",
                Some("/v1/promotion_codes/promo_abc123"),
            ),
            ("/v1/account/disconnect", Some("/v1/account")),
        ];
        for (post, object) in cases {
            assert_eq!(object_path(post).as_deref(), object, "{post}");
        }
    }
}
