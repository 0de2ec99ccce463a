//! `Idempotency-Key` on POST: the first response is stored and a retry
//! within 24 h gets it back byte for byte (with `Idempotent-Replayed:
//! true`); the same key with other parameters is a 400 `idempotency_error`;
//! the same key while the first request still runs is a 409.
//!
//! Like Stripe, only requests that did their work are remembered: a
//! response with status 400 or above releases the key, so a corrected retry
//! may reuse it. A request dropped mid-way (client gone) releases it too.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use paylink_store::idempotency::Claim;
use paylink_store::{Scope, Store};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::{json_response_headers, AppState, BODY_LIMIT};

const MAX_KEY_LEN: usize = 255;

/// Releases an in-flight claim if the request never finished.
struct ClaimGuard {
    armed: Option<(Store, Scope, String)>,
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if let Some((store, scope, key)) = self.armed.take() {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    if let Err(e) = store.release_idempotency(&scope, &key).await {
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
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
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

    match state
        .store
        .claim_idempotency(&auth.scope, &key, &hash, state.now())
        .await?
    {
        Claim::InFlight => return Err(ApiError::idempotency_in_flight()),
        Claim::Mismatch => return Err(ApiError::idempotency_mismatch(&key)),
        Claim::Replay { status, body } => {
            let status = StatusCode::from_u16(status).map_err(ApiError::internal)?;
            let mut resp = (status, json_response_headers(), body).into_response();
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            if let Ok(v) = HeaderValue::from_str(&key) {
                resp.headers_mut().insert("idempotency-key", v);
            }
            return Ok(resp);
        }
        Claim::Fresh => {}
    }
    let mut guard = ClaimGuard {
        armed: Some((state.store.clone(), auth.scope.clone(), key.clone())),
    };
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (mut rparts, rbody) = resp.into_parts();
    let rbytes = axum::body::to_bytes(rbody, usize::MAX)
        .await
        .map_err(ApiError::internal)?;
    if rparts.status.as_u16() < 400 {
        state
            .store
            .finish_idempotency(&auth.scope, &key, rparts.status.as_u16(), &rbytes)
            .await?;
    } else {
        state.store.release_idempotency(&auth.scope, &key).await?;
    }
    guard.armed = None;
    if let Ok(v) = HeaderValue::from_str(&key) {
        rparts.headers.insert("idempotency-key", v);
    }
    Ok(Response::from_parts(rparts, Body::from(rbytes)))
}
