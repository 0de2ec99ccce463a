//! The one error type of the API, mapped once to Stripe's shape
//! `{"error": {"type", "code", "message", "param"}}` and an HTTP status.
//! The client's message is kept apart from the logged cause; a 500 says
//! only that something failed and the request id to quote.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use paylink_store::StoreError;
use serde_json::{json, Map, Value};

use crate::request_id;

/// Stripe's error types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    InvalidRequest,
    Idempotency,
    Api,
    RateLimit,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request_error",
            ErrorType::Idempotency => "idempotency_error",
            ErrorType::Api => "api_error",
            ErrorType::RateLimit => "rate_limit_error",
        }
    }
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: ErrorType,
    code: Option<&'static str>,
    message: String,
    param: Option<String>,
    /// Logged, never sent.
    cause: Option<String>,
    /// Seconds for a `Retry-After` header (429).
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: ErrorType,
        code: Option<&'static str>,
        message: impl Into<String>,
        param: Option<String>,
    ) -> Self {
        Self {
            status,
            kind,
            code,
            message: message.into(),
            param,
            cause: None,
            retry_after: None,
        }
    }
    /// 400: a parameter is wrong (or the request as a whole, if `param` is None).
    pub fn invalid(param: Option<String>, message: impl Into<String>) -> Self {
        let code = param.as_ref().map(|_| "parameter_invalid");
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequest,
            code,
            message,
            param,
        )
    }
    /// 400 with a specific code.
    pub fn invalid_code(
        code: &'static str,
        param: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequest,
            Some(code),
            message,
            param,
        )
    }
    /// 404 for an object that does not exist in this account and mode.
    /// 404 for the path's own object (`param` None or `id`); an object
    /// named in another parameter that does not exist is a 400 naming it,
    /// as Stripe answers.
    pub fn no_such(object: &str, id: &str, param: Option<&str>) -> Self {
        let id: String = id.chars().take(255).collect();
        let status = match param {
            Some(p) if p != "id" => StatusCode::BAD_REQUEST,
            _ => StatusCode::NOT_FOUND,
        };
        Self::new(
            status,
            ErrorType::InvalidRequest,
            Some("resource_missing"),
            format!("No such {object}: '{id}'"),
            param.map(str::to_string),
        )
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorType::InvalidRequest,
            None,
            message,
            None,
        )
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorType::InvalidRequest,
            None,
            message,
            None,
        )
    }
    /// A URL no route has, or a known URL with a method it does not take:
    /// Stripe's 404 "Unrecognized request URL (METHOD: /path)", which the
    /// SDKs raise as InvalidRequestError (a 405 would be a generic
    /// APIError).
    pub fn unrecognized_method(method: &str, path: &str) -> Self {
        let p: String = path.chars().take(200).collect();
        let m: String = method.chars().take(10).collect();
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorType::InvalidRequest,
            None,
            format!(
                "Unrecognized request URL ({m}: {p}). Please see the API reference at /v1/openapi.json."
            ),
            None,
        )
    }
    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorType::InvalidRequest,
            None,
            format!(
                "The request body is too large: at most {} KiB is accepted.",
                limit / 1024
            ),
            None,
        )
    }
    pub fn idempotency_mismatch(key: &str) -> Self {
        let key: String = key.chars().take(255).collect();
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorType::Idempotency,
            // Stripe sends no code here: `idempotency_key_in_use` is only
            // for a request still in flight with the key.
            None,
            format!("Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."),
            None,
        )
    }
    pub fn idempotency_in_flight() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            ErrorType::Idempotency,
            Some("idempotency_key_in_use"),
            "There is currently another in-progress request using this Idempotency-Key. Please try again later.",
            None,
        )
    }
    /// 429: too many requests for this key; retry after `secs`.
    pub fn rate_limited(secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorType::RateLimit,
            Some("rate_limit"),
            "Too many requests hit the API too quickly. Please slow down and retry after the time given in Retry-After.",
            None,
        );
        e.retry_after = Some(secs);
        e
    }
    /// 503 with `Retry-After`: the database can't take the request now
    /// (an outage, SQLite busy or out of disk). Safe to retry.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Api,
            None,
            "The service is briefly unavailable. Retry the request in a few seconds.",
            None,
        );
        e.cause = Some(cause.to_string());
        e.retry_after = Some(5);
        e
    }
    /// 500: the cause is logged with the request id; the client sees neither.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::Api,
            None,
            "An error occurred with our API.",
            None,
        );
        e.cause = Some(cause.to_string());
        e
    }

    /// Moves the error's parameter under `parent` (`name` becomes
    /// `product_data[name]`).
    pub fn nested_in(mut self, parent: &str) -> Self {
        if let Some(p) = &self.param {
            let (head, rest) = p
                .split_once('[')
                .map_or((p.as_str(), String::new()), |(h, r)| (h, format!("[{r}")));
            self.param = Some(format!("{parent}[{head}]{rest}"));
        }
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
    pub fn param(&self) -> Option<&str> {
        self.param.as_deref()
    }
    /// The same error with another message for the client.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
    /// The message meant for the client.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Maps a store error where the object is `object` with `id`, the
    /// request's path id (Stripe's 404 names `param: "id"`).
    pub fn from_store(e: StoreError, object: &str, id: &str) -> Self {
        match e {
            StoreError::NotFound => Self::no_such(object, id, Some("id")),
            other => other.into(),
        }
    }

    pub fn body(&self) -> Value {
        let mut err = Map::new();
        err.insert("type".into(), json!(self.kind.as_str()));
        if let Some(c) = self.code {
            err.insert("code".into(), json!(c));
            // Stripe's page for the code: paylink's codes mean what
            // Stripe's do.
            err.insert(
                "doc_url".into(),
                json!(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    c.replace('_', "-")
                )),
            );
        }
        let mut message = self.message.clone();
        if self.status == StatusCode::INTERNAL_SERVER_ERROR {
            if let Some(id) = request_id::current() {
                message = format!("{message} Quote request id {id} when you contact the operator.");
            }
        }
        err.insert("message".into(), json!(message));
        if let Some(p) = &self.param {
            err.insert("param".into(), json!(p));
        }
        json!({ "error": err })
    }
}

impl From<paylink_domain::catalog::RuleError> for ApiError {
    /// A broken business rule: a 400 naming the parameter.
    fn from(e: paylink_domain::catalog::RuleError) -> Self {
        if e.missing {
            return ApiError::invalid_code("resource_missing", Some(e.param), e.message);
        }
        ApiError::invalid(Some(e.param), e.message)
    }
}

impl From<paylink_domain::NotAnId> for ApiError {
    /// Stripe's answer for an id that names no object of its kind.
    fn from(e: paylink_domain::NotAnId) -> Self {
        ApiError::no_such(e.object, &e.value, None)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Rule(r) => r.into(),
            StoreError::InvalidCursor(param) => ApiError::invalid_code(
                "resource_missing",
                Some(param.to_string()),
                format!("{param} does not name an object of this list."),
            ),
            // Where the caller knows which object, `from_store` names it.
            StoreError::NotFound => {
                ApiError::no_such("object", "", None).with_message("No such object.")
            }
            StoreError::Conflict => ApiError::invalid_code(
                "resource_already_exists",
                None,
                "An object with these values already exists.",
            ),
            StoreError::LastOwner => {
                ApiError::invalid_code("last_owner", None, "An account needs at least one owner.")
            }
            StoreError::Unavailable(cause) => ApiError::unavailable(cause),
            StoreError::ClaimLost => ApiError::idempotency_in_flight(),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(
                status = self.status.as_u16(),
                cause = self.cause.as_deref().unwrap_or(""),
                "request failed"
            );
        }
        let body = self.body();
        let mut resp = (
            self.status,
            crate::json_response_headers(),
            body.to_string(),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every constructor maps to exactly one status; a change here is a
    /// change of the public contract.
    #[test]
    fn status_mapping() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (
                ApiError::invalid(Some("x".into()), "m"),
                400,
                "invalid_request_error",
            ),
            (
                ApiError::no_such("product", "prod_1", None),
                404,
                "invalid_request_error",
            ),
            (ApiError::unauthorized("m"), 401, "invalid_request_error"),
            (ApiError::forbidden("m"), 403, "invalid_request_error"),
            (
                ApiError::idempotency_mismatch("k"),
                400,
                "idempotency_error",
            ),
            (ApiError::idempotency_in_flight(), 409, "idempotency_error"),
            (ApiError::body_too_large(1024), 413, "invalid_request_error"),
            (ApiError::rate_limited(1), 429, "rate_limit_error"),
            (ApiError::internal("db down"), 500, "api_error"),
            (ApiError::unavailable("pool timed out"), 503, "api_error"),
            (StoreError::ClaimLost.into(), 409, "idempotency_error"),
            (StoreError::Conflict.into(), 400, "invalid_request_error"),
            (StoreError::Corrupt("x".into()).into(), 500, "api_error"),
            (StoreError::Crypto("x".into()).into(), 500, "api_error"),
            (StoreError::NotFound.into(), 404, "invalid_request_error"),
            (StoreError::LastOwner.into(), 400, "invalid_request_error"),
        ];
        for (e, status, kind) in cases {
            assert_eq!(e.status().as_u16(), status);
            assert_eq!(
                e.body().pointer("/error/type").and_then(Value::as_str),
                Some(kind)
            );
        }
    }

    #[test]
    fn internal_cause_is_not_sent() {
        let e = ApiError::internal("password=hunter2 in connection string");
        assert!(!e.body().to_string().contains("hunter2"));
    }
}
