//! The HTTP surface of paylink: the Stripe-shaped `/v1` API with its
//! middleware (request ids, API-key authentication, idempotency, body
//! limits, security headers) and the OpenAPI document generated from the
//! same endpoint table that builds the router.

pub mod access;
pub mod api;
pub mod auth;
pub mod checkout;
pub mod dashboard;
pub mod error;
pub mod extract;
pub mod files;
pub mod idempotency;
pub mod objects;
pub mod openapi;
pub mod params;
pub mod qr;
pub mod rate_limit;
pub mod request_id;
pub mod schema;
pub mod server;
pub mod service;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use paylink_crypto::Secret;
use paylink_domain::Clock;
use paylink_providers::Provider;
use paylink_store::Store;

pub use error::ApiError;

/// The Stripe API version this server implements (what stripe-python 16.1
/// sends). Requests may name any version; responses carry this one.
pub const STRIPE_VERSION: &str = paylink_store::events::API_VERSION;

/// Largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 256 * 1024;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    /// Key of the HMAC that API keys are stored under.
    pub api_key_pepper: Secret<Vec<u8>>,
    /// Base of public URLs (payment links), without a trailing slash.
    pub public_url: String,
    pub clock: Arc<dyn Clock>,
    /// Per-key request rate limit.
    pub limiter: rate_limit::RateLimiter,
    /// The payment provider buyers pay through.
    pub provider: Arc<dyn Provider>,
    /// Sign-in and session settings of the dashboard.
    pub dashboard: dashboard::DashboardConfig,
    /// Key of the dashboard's CSRF tokens and recovery-code hashes.
    pub dashboard_key: Secret<Vec<u8>>,
    /// Where password hashing runs (bounded).
    pub hash_pool: dashboard::login::HashPool,
    /// Where uploaded files are kept (in memory unless set).
    pub files: Arc<dyn object_store::ObjectStore>,
    /// Checkout sessions one client address, and one link, may open per
    /// minute.
    pub checkout_limits: checkout::OpeningLimits,
    /// How long an idempotency key's claim outlives a request that died.
    pub idempotency_lease_secs: i64,
    /// Published link pages' data (see [`checkout::cache`]).
    pub pages: checkout::cache::PageCache,
    /// Webhook delivery settings (the internal ranges endpoints may reach
    /// are checked when an endpoint is saved, too).
    pub webhooks: paylink_jobs::webhooks::Config,
    /// When each API key was last used, written every `key_use_flush`.
    pub key_use: auth::KeyUse,
    pub key_use_flush: std::time::Duration,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// `api_rate` is the per-key limit in requests per second (0: none).
    pub fn new(
        store: Store,
        api_key_pepper: Secret<Vec<u8>>,
        public_url: &str,
        clock: Arc<dyn Clock>,
        api_rate: u32,
        provider: Arc<dyn Provider>,
    ) -> Self {
        let store = store.rendering(Arc::new(objects::EventRenderer {
            public_url: public_url.trim_end_matches('/').to_string(),
            clock: clock.clone(),
        }));
        AppState(Arc::new(Inner {
            store,
            public_url: public_url.trim_end_matches('/').to_string(),
            clock,
            limiter: rate_limit::RateLimiter::new(api_rate),
            dashboard: dashboard::DashboardConfig::default(),
            dashboard_key: Secret::new(
                paylink_crypto::envelope::blind_index(&api_key_pepper, "paylink/dashboard/v1")
                    .into_bytes(),
            ),
            api_key_pepper,
            provider,
            hash_pool: dashboard::login::HashPool::for_this_machine(),
            files: Arc::new(object_store::memory::InMemory::new()),
            checkout_limits: checkout::OpeningLimits::default(),
            idempotency_lease_secs: paylink_store::idempotency::LEASE_SECS,
            pages: checkout::cache::PageCache::default(),
            webhooks: paylink_jobs::webhooks::Config::default(),
            key_use: auth::KeyUse::default(),
            key_use_flush: std::time::Duration::from_secs(30),
        }))
    }

    /// This state writing keys' last use this often (before it is shared).
    pub fn with_key_use_flush(mut self, every: std::time::Duration) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.key_use_flush = every;
        }
        self
    }

    /// This state with other webhook delivery settings (before it is
    /// shared).
    pub fn with_webhooks(mut self, cfg: paylink_jobs::webhooks::Config) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.webhooks = cfg;
        }
        self
    }

    /// This state with other checkout opening limits (before it is shared).
    pub fn with_checkout_limits(mut self, limits: checkout::OpeningLimits) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.checkout_limits = limits;
        }
        self
    }

    /// This state with another idempotency lease (before it is shared).
    pub fn with_idempotency_lease(mut self, secs: i64) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.idempotency_lease_secs = secs;
        }
        self
    }

    /// This state keeping uploaded files in `files` (before it is shared).
    pub fn with_files(mut self, files: Arc<dyn object_store::ObjectStore>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.files = files;
        }
        self
    }

    /// This state with other dashboard settings (before it is shared).
    pub fn with_dashboard(mut self, cfg: dashboard::DashboardConfig) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.dashboard = cfg;
        }
        self
    }
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

/// Headers of every JSON answer of the API.
pub fn json_response_headers() -> [(HeaderName, HeaderValue); 2] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        (
            HeaderName::from_static("stripe-version"),
            HeaderValue::from_static(STRIPE_VERSION),
        ),
    ]
}

/// Security headers on every response.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if !h.contains_key(header::REFERRER_POLICY) {
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Pages set their own policy; everything else gets the strictest.
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    resp
}

async fn fallback(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    ApiError::unrecognized_method(method.as_str(), uri.path()).into_response()
}

/// Readiness: 200 when the database answers a read and would take a
/// write within two seconds, else 503 with `Retry-After` (for a load
/// balancer to route around this instance).
async fn readyz(State(state): State<AppState>) -> Response {
    let check = tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ready()).await;
    match check {
        Ok(Ok(())) => (json_response_headers(), r#"{"status":"ready"}"#).into_response(),
        Ok(Err(e)) => ApiError::unavailable(e).into_response(),
        Err(_) => ApiError::unavailable("readiness check timed out").into_response(),
    }
}

async fn openapi_json(State(state): State<AppState>) -> Response {
    let doc = openapi::document(&state.public_url);
    (json_response_headers(), doc.to_string()).into_response()
}

/// Catches a panic in a handler: the message is logged (scrubbed, like
/// every log line) and the client gets an opaque 500 with the request id.
pub fn catch_panics(
) -> tower_http::catch_panic::CatchPanicLayer<fn(Box<dyn std::any::Any + Send + 'static>) -> Response>
{
    fn answer(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
        let what = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("a panic");
        ApiError::internal(format!("handler panicked: {what}")).into_response()
    }
    tower_http::catch_panic::CatchPanicLayer::custom(
        answer as fn(Box<dyn std::any::Any + Send + 'static>) -> Response,
    )
}

/// How many requests may run detached from their clients at once in this
/// process; past that, new writes are answered 503 at once, so clients
/// that hang up can't pile up unbounded work.
pub const MAX_DETACHED: usize = 2048;

static DETACHED: std::sync::LazyLock<Arc<tokio::sync::Semaphore>> =
    std::sync::LazyLock::new(|| Arc::new(tokio::sync::Semaphore::new(MAX_DETACHED)));

/// Runs each request that may write (every method but GET and HEAD) on a
/// task of its own, so that its work goes on to its end (a commit, or a
/// rollback) when the client hangs up or the request deadline answers
/// first: dropping a request future half-way through its writes is what
/// wedged SQLite (reliability finding F1) and released idempotency keys
/// after their work had committed (F3). Reads stop with their client. A
/// panic is passed on to [`catch_panics`].
pub async fn detach(req: Request, next: Next) -> Response {
    if matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    ) {
        return next.run(req).await;
    }
    let Ok(permit) = DETACHED.clone().try_acquire_owned() else {
        return ApiError::unavailable("too many requests in flight").into_response();
    };
    let work = request_id::carry(next.run(req));
    match tokio::spawn(async move {
        let resp = work.await;
        drop(permit);
        resp
    })
    .await
    {
        Ok(resp) => resp,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => ApiError::unavailable(e).into_response(),
        },
    }
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let api = api::routes()
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::middleware,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::middleware,
        ))
        .method_not_allowed_fallback(
            |method: axum::http::Method, uri: axum::http::Uri| async move {
                ApiError::unrecognized_method(method.as_str(), uri.path())
            },
        );
    Router::new()
        .route("/v1/openapi.json", get(openapi_json))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/files/{id}", get(files::serve))
        .merge(api)
        .merge(checkout::routes())
        .merge(dashboard::routes(&state))
        .fallback(fallback)
        .layer(middleware::from_fn(detach))
        // A request's body must arrive within its own deadline, and the
        // whole request within a longer one (security review, finding 4).
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            server::BODY_TIMEOUT,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            server::REQUEST_TIMEOUT,
        ))
        .layer(catch_panics())
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(request_id::middleware))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    #[allow(clippy::panic)]
    async fn boom() -> &'static str {
        panic!("secret-ish detail 4242424242424242")
    }

    #[tokio::test]
    async fn panics_become_an_opaque_500() -> Result<(), Box<dyn std::error::Error>> {
        let app = axum::Router::new()
            .route("/boom", get(boom))
            .layer(super::catch_panics())
            .layer(axum::middleware::from_fn(super::request_id::middleware));
        let resp = app
            .oneshot(Request::get("/boom").body(Body::empty())?)
            .await?;
        assert_eq!(resp.status().as_u16(), 500);
        let id = resp
            .headers()
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await?;
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains(&id) && id.starts_with("req_"), "{text}");
        assert!(!text.contains("4242") && !text.contains("secret"), "{text}");
        Ok(())
    }
}
