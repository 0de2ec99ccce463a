//! A request id on every response (`Request-Id`) and every log line of the
//! request, available to error rendering through a task-local.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// `f`, to run on another task with this request's id and log span.
pub fn carry<F: std::future::Future>(f: F) -> impl std::future::Future<Output = F::Output> {
    let id = current();
    let f = f.in_current_span();
    async move {
        match id {
            Some(id) => REQUEST_ID.scope(id, f).await,
            None => f.await,
        }
    }
}

fn new_id() -> String {
    let bits = paylink_domain::id::per_request_random();
    format!("req_{}", paylink_domain::id::base62_128(bits))
}

/// The path as logged: a one-time setup or invitation link's token is a
/// credential, so it is replaced.
pub fn loggable_path(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("/invite/") {
        let tail = if rest.ends_with("/accept") {
            "/accept"
        } else {
            ""
        };
        return format!("/invite/[REDACTED-TOKEN]{tail}");
    }
    match path.strip_prefix("/setup/") {
        Some(rest) if !rest.starts_with("2fa") => "/setup/[REDACTED-TOKEN]".to_string(),
        _ => path.to_string(),
    }
}

pub async fn middleware(req: Request, next: Next) -> Response {
    let id = new_id();
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %loggable_path(req.uri().path()));
    let mut resp = REQUEST_ID
        .scope(
            id.clone(),
            async move {
                let resp = next.run(req).await;
                tracing::info!(status = resp.status().as_u16(), "handled");
                resp
            }
            .instrument(span),
        )
        .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("request-id", v);
    }
    resp
}
