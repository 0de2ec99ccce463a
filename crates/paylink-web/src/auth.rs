//! API-key authentication: `Authorization: Bearer sk_…` or HTTP Basic with
//! the key as the user name, as Stripe accepts. The key is hashed with the
//! server pepper and looked up by hash; the request then runs in the key's
//! account and mode ([`Auth`]).

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use paylink_crypto::PlaintextApiKey;
use paylink_store::Scope;

use crate::error::ApiError;
use crate::AppState;

/// Who is calling: set by [`middleware`] on every authenticated request.
#[derive(Debug, Clone)]
pub struct Auth {
    pub scope: Scope,
    pub key_id: String,
}

const NO_KEY: &str = "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').";

/// The presented key, as sent (not yet checked).
fn presented_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("Invalid Authorization header."))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some(rest.to_string()).filter(|s| !s.is_empty()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "Invalid Authorization header: Basic credentials are not valid base64.",
                )
            })?;
        let user = decoded.split_once(':').map_or(decoded.as_str(), |(u, _)| u);
        return Ok(Some(user.to_string()).filter(|s| !s.is_empty()));
    }
    Err(ApiError::unauthorized(NO_KEY))
}

/// Masks a presented key for an error message: at most a known prefix
/// (`sk_test_`, `pk_live_`, …) and the last four characters; anything
/// else that looks like a credential shows as `****` plus its last four.
fn masked(key: &str) -> String {
    const PREFIXES: [&str; 6] = [
        "sk_test_", "sk_live_", "pk_test_", "pk_live_", "rk_test_", "rk_live_",
    ];
    let n = key.chars().count();
    if n <= 12 {
        return "****".into();
    }
    let prefix = PREFIXES
        .iter()
        .find(|p| key.starts_with(**p))
        .copied()
        .unwrap_or("");
    let tail: String = key.chars().skip(n - 4).collect();
    format!("{prefix}****{tail}")
}

pub async fn middleware(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    match authenticate(&state, req.headers()).await {
        Ok((auth, allowlist)) => {
            let ip = crate::access::client_ip(req.extensions());
            if !crate::access::allowlist_permits(&allowlist, &ip) {
                crate::access::audit_ip_refused(
                    &state,
                    &auth.scope.account_id,
                    &auth.key_id,
                    &ip,
                    "api",
                )
                .await;
                return ApiError::forbidden(format!(
                    "Requests from {ip} are not allowed for this account (IP allowlist)."
                ))
                .into_response();
            }
            if let Err(secs) = state.limiter.check(&auth.key_id, std::time::Instant::now()) {
                return ApiError::rate_limited(secs).into_response();
            }
            tracing::debug!(account = %auth.scope.account_id, livemode = auth.scope.livemode, key = %auth.key_id, "authenticated");
            req.extensions_mut().insert(auth);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// The caller, and its account's IP allowlist.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<(Auth, String), ApiError> {
    if headers.contains_key("stripe-account") {
        return Err(ApiError::invalid(
            None,
            "The Stripe-Account header (Connect) is not supported by this server.",
        ));
    }
    let presented = presented_key(headers)?.ok_or_else(|| ApiError::unauthorized(NO_KEY))?;
    let invalid =
        || ApiError::unauthorized(format!("Invalid API Key provided: {}", masked(&presented)));
    let key = PlaintextApiKey::parse(&presented).ok_or_else(invalid)?;
    let hash = key.hash(&state.api_key_pepper);
    let rec = state
        .store
        .find_api_key(&hash.0, state.now())
        .await?
        .ok_or_else(invalid)?;
    if rec.livemode != key.mode().livemode() {
        return Err(invalid());
    }
    Ok((
        Auth {
            scope: Scope {
                account_id: rec.account_id,
                livemode: rec.livemode,
            },
            key_id: rec.id,
        },
        rec.ip_allowlist,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_shows_only_the_tail() {
        let m = masked("sk_test_abcdefghijklmnop1234");
        assert_eq!(m, "sk_test_****1234");
        assert!(!m.contains("abcdef"));
        assert_eq!(masked("short"), "****");
        // Finding 11: a key without an underscore was echoed in full.
        let m = masked("supersecretcredentialvalue9876");
        assert_eq!(m, "****9876");
        let m = masked("xk_weird_prefix_abcdefgh5678");
        assert_eq!(m, "****5678");
    }

    #[test]
    fn basic_and_bearer() -> Result<(), ApiError> {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            "Bearer sk_test_x"
                .parse()
                .map_err(|_| ApiError::internal("h"))?,
        );
        assert_eq!(presented_key(&h)?.as_deref(), Some("sk_test_x"));
        let b = base64::engine::general_purpose::STANDARD.encode("sk_test_y:");
        h.insert(
            "authorization",
            format!("Basic {b}")
                .parse()
                .map_err(|_| ApiError::internal("h"))?,
        );
        assert_eq!(presented_key(&h)?.as_deref(), Some("sk_test_y"));
        Ok(())
    }
}
