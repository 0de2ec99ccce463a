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
    /// What the key may do.
    pub access: paylink_domain::access::KeyScope,
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

/// Query parameters that carry a credential in other APIs.
const KEY_PARAMS: [&str; 6] = [
    "api_key",
    "apikey",
    "key",
    "access_token",
    "secret_key",
    "stripe_key",
];

/// A key in the URL (OWASP ASVS 5.0 14.2.1): refused, whatever the
/// header holds. The query is never logged (only the path is), and the
/// answer names the parameter, not its value.
fn key_in_query(query: Option<&str>) -> Option<ApiError> {
    let q = query?;
    for (name, value) in form_urlencoded::parse(q.as_bytes()) {
        let named = KEY_PARAMS.iter().any(|k| name.eq_ignore_ascii_case(k));
        let shaped = ["sk_test_", "sk_live_", "rk_test_", "rk_live_"]
            .iter()
            .any(|p| value.starts_with(p));
        if named || shaped {
            return Some(ApiError::invalid(
                Some(name.into_owned()),
                "API keys are accepted only in the Authorization header, never in the URL (URLs are kept in logs and histories). If this was a secret key, roll it.",
            ));
        }
    }
    None
}

pub async fn middleware(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(e) = key_in_query(req.uri().query()) {
        return e.into_response();
    }
    match authenticate(&state, req.headers()).await {
        Ok((auth, allowlist, key_ranges)) => {
            let ip = crate::access::client_ip(req.extensions());
            if let Some(ranges) = key_ranges.filter(|r| !r.trim().is_empty()) {
                if !crate::access::allowlist_permits(&ranges, &ip) {
                    crate::access::audit_ip_refused(
                        &state,
                        &auth.scope.account_id,
                        &auth.key_id,
                        &ip,
                        "api_key",
                    )
                    .await;
                    return ApiError::forbidden(format!(
                        "Requests from {ip} are not allowed for this key (its IP ranges)."
                    ))
                    .into_response();
                }
            }
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
            if let Err(e) = permitted(&auth, &req, &presented_mask(req.headers())) {
                return e.into_response();
            }
            if let Err(secs) = state.limiter.check(&auth.key_id, std::time::Instant::now()) {
                return ApiError::rate_limited(secs).into_response();
            }
            state.key_use.record(&auth.key_id, state.now());
            tracing::debug!(account = %auth.scope.account_id, livemode = auth.scope.livemode, key = %auth.key_id, "authenticated");
            req.extensions_mut().insert(auth);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// The prefix of keys of a stored kind.
fn prefix_of(kind: &str) -> &'static str {
    paylink_crypto::ApiKeyKind::parse(kind).map_or("??", |k| k.prefix())
}

/// The presented key as error messages show it.
fn presented_mask(headers: &HeaderMap) -> String {
    presented_key(headers)
        .ok()
        .flatten()
        .map(|k| masked(&k))
        .unwrap_or_default()
}

/// Whether the key may call this route (deny by default: a route that
/// names no permission is refused to every key but a secret one). A
/// refusal is a 403 naming the permission, as Stripe's is.
fn permitted(auth: &Auth, req: &Request, shown: &str) -> Result<(), ApiError> {
    use paylink_domain::access::KeyScope;
    if auth.access == KeyScope::Secret {
        return Ok(());
    }
    let path = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let needs = crate::api::needs_for(req.method(), &path);
    if needs.is_some_and(|n| auth.access.permits(n)) {
        return Ok(());
    }
    let why = match (&auth.access, needs) {
        (KeyScope::Publishable, _) => "Publishable keys can't call this endpoint: use a secret or restricted key on your server.".to_string(),
        (_, Some(n)) => format!("Having the '{n}' permission would allow this request to continue."),
        (_, None) => "No restricted key may call this endpoint.".to_string(),
    };
    Err(ApiError::forbidden(format!(
        "The provided key '{shown}' does not have the required permissions for this endpoint on account '{}'. {why}",
        auth.scope.account_id
    )))
}

/// What a stored key may do; a restricted key whose permissions can't be
/// read may do nothing.
fn access_of(kind: &str, permissions: Option<&str>) -> paylink_domain::access::KeyScope {
    use paylink_domain::access::{KeyScope, Permissions};
    match kind {
        "secret" => KeyScope::Secret,
        "restricted" => match permissions.map(Permissions::from_text) {
            Some(Ok(p)) => KeyScope::Restricted(p),
            _ => KeyScope::Publishable,
        },
        _ => KeyScope::Publishable,
    }
}

/// When each key was last used, kept in memory and written in batches
/// (never a write per request).
#[derive(Default)]
pub struct KeyUse(std::sync::Mutex<std::collections::HashMap<String, i64>>);

impl KeyUse {
    pub fn record(&self, key_id: &str, now: i64) {
        let Ok(mut m) = self.0.lock() else { return };
        match m.get_mut(key_id) {
            Some(t) => *t = (*t).max(now),
            None => {
                m.insert(key_id.to_string(), now);
            }
        }
    }
    /// What was recorded since the last take.
    pub fn take(&self) -> Vec<(String, i64)> {
        self.0
            .lock()
            .map(|mut m| m.drain().collect())
            .unwrap_or_default()
    }
}

/// Writes the keys' last use every `every` until the task is dropped.
pub fn spawn_key_use_flush(
    state: AppState,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let used = state.key_use.take();
            if let Err(e) = state.store.touch_api_keys(&used).await {
                tracing::warn!(error = %e, "could not record when keys were last used");
            }
        }
    })
}

/// The caller, its account's IP allowlist and the key's own IP ranges.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(Auth, String, Option<String>), ApiError> {
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
    if rec.livemode != key.mode().livemode() || !presented.starts_with(prefix_of(&rec.kind)) {
        return Err(invalid());
    }
    Ok((
        Auth {
            scope: Scope {
                account_id: rec.account_id,
                livemode: rec.livemode,
            },
            access: access_of(&rec.kind, rec.permissions.as_deref()),
            key_id: rec.id,
        },
        rec.ip_allowlist,
        rec.allowed_ips,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_the_query_are_refused() {
        for q in [
            "api_key=sk_test_abc",
            "limit=3&key=whatever",
            "ACCESS_TOKEN=x",
            "starting_after=sk_live_1234567890",
            "expand[]=rk_test_zzz",
        ] {
            assert!(key_in_query(Some(q)).is_some(), "{q}");
        }
        for q in [
            "limit=3",
            "type=product.created",
            "expand[]=data.line_items",
        ] {
            assert!(key_in_query(Some(q)).is_none(), "{q}");
        }
        assert!(key_in_query(None).is_none());
    }

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
