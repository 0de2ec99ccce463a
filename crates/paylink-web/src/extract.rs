//! `Input<T>`: the parameters of a request, checked against the schema that
//! the endpoint table declares for this method and path, then deserialized
//! into `T`. A handler cannot accept anything its documentation omits.

use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, Method};
use paylink_domain::{Id, Object};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::{api, params, schema, AppState, BODY_LIMIT};

pub struct Input<T>(pub T);

/// The object id in a request's path, checked to be an id of a `T` where
/// it enters: a malformed id, or another object's, is the same 404 naming
/// the object as an id that does not exist, and never reaches a query.
pub struct ObjectId<T: Object>(pub Id<T>);

impl<S: Send + Sync, T: Object> FromRequestParts<S> for ObjectId<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::no_such(T::NAME, "", Some("id")))?;
        Ok(ObjectId(Id::parse(&raw).map_err(|e| {
            ApiError::no_such(e.object, &e.value, Some("id"))
        })?))
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for Input<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &AppState) -> Result<Self, ApiError> {
        let method = req.method().clone();
        let path = req
            .extensions()
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_string())
            .ok_or_else(|| ApiError::internal("no matched path"))?;
        let kind = api::params_for(&method, &path)
            .ok_or_else(|| ApiError::internal(format!("no schema for {method} {path}")))?;
        let query = req.uri().query().unwrap_or("").as_bytes().to_vec();
        let value = if method == Method::GET || method == Method::DELETE {
            params::parse_form(&query)?
        } else {
            if !query.is_empty() {
                return Err(ApiError::invalid(None, "Parameters of a POST request must be sent in the request body, not in the URL."));
            }
            let ct = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            let body = axum::body::to_bytes(req.into_body(), BODY_LIMIT)
                .await
                .map_err(|_| ApiError::body_too_large(BODY_LIMIT))?;
            match ct.as_str() {
                "application/json" => params::parse_json(&body)?,
                "application/x-www-form-urlencoded" | "" => params::parse_form(&body)?,
                other => {
                    return Err(ApiError::invalid(
                        None,
                        format!("Unsupported Content-Type {}: send application/x-www-form-urlencoded or application/json.", other.chars().take(100).collect::<String>()),
                    ))
                }
            }
        };
        let checked = schema::validate_root(kind, value)?;
        let t = serde_json::from_value(checked)
            .map_err(|e| ApiError::invalid(None, format!("Invalid parameters: {e}")))?;
        Ok(Input(t))
    }
}

/// Deserializes a field that may be absent (outer `None`), set to `""` to
/// unset (`Some(None)`), or set (`Some(Some(v))`).
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Option::<T>::deserialize(d).map(Some)
}
