//! How a dashboard handler fails: [`PageError`] is answered as an HTML
//! page, so handlers return `Result<Response, PageError>` and use `?`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use paylink_store::StoreError;

use crate::ApiError;

/// A failed dashboard request: an error to show as a page, or a page
/// already made (a refusal, a form shown again with its errors).
/// (Boxed: an error travels up through `?` and stays small.)
pub enum PageError {
    Error(Box<ApiError>),
    Page(Box<Response>),
}

/// What a dashboard handler answers.
pub type PageResult = Result<Response, PageError>;

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError::Error(Box::new(e))
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        PageError::Error(Box::new(e.into()))
    }
}

impl From<paylink_domain::NotAnId> for PageError {
    fn from(e: paylink_domain::NotAnId) -> Self {
        PageError::Error(Box::new(e.into()))
    }
}

impl From<Response> for PageError {
    fn from(r: Response) -> Self {
        PageError::Page(Box::new(r))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Error(e) => fail(*e),
            PageError::Page(r) => *r,
        }
    }
}

/// A failure answered as a page: 4xx with its message, 5xx opaque with the
/// request id (the cause is logged).
pub fn fail(e: ApiError) -> Response {
    let status = e.status();
    if status.is_server_error() {
        // Logging happens where ApiError becomes a response; do it here too.
        tracing::error!(error = ?e, "dashboard request failed");
        let id = crate::request_id::current().unwrap_or_default();
        return super::refusal(
            status,
            "Something went wrong",
            &format!("Please try again in a moment. Reference: {id}"),
        );
    }
    let title = if status == StatusCode::NOT_FOUND {
        "Not found"
    } else {
        "That did not work"
    };
    super::refusal(status, title, e.message())
}

/// The object id in a dashboard page's path, checked to be a `T`'s where it
/// enters (see [`crate::extract::ObjectId`]); otherwise the page answers
/// 404 naming the object.
pub struct PageId<T: paylink_domain::Object>(pub paylink_domain::Id<T>);

impl<S: Send + Sync, T: paylink_domain::Object> axum::extract::FromRequestParts<S> for PageId<T> {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, PageError> {
        let crate::extract::ObjectId(id) =
            crate::extract::ObjectId::<T>::from_request_parts(parts, state).await?;
        Ok(PageId(id))
    }
}
