//! Signing out.

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect};

use crate::dashboard::error::PageResult;
use crate::dashboard::{
    clear_cookie, csrf_for, csrf_refused, form_from_us, read_form, session_token, token_hash,
};
use crate::AppState;

use super::audit;

/// Ends this browser's session (any stage) and clears its cookie.
pub async fn logout(State(state): State<AppState>, req: Request) -> PageResult {
    let headers = req.headers().clone();
    let (_, form) = read_form(req).await?;
    if let Some(token) = session_token(&headers) {
        let hash = token_hash(token.expose());
        let csrf = csrf_for(&state, &hash);
        if !form_from_us(&state, &headers, form.get("csrf"), &csrf) {
            return Ok(csrf_refused());
        }
        if let Some(s) = state.store.find_session(&hash).await? {
            state
                .store
                .end_session(&s.user_id, &s.id, state.now())
                .await?;
            audit(
                &state,
                s.account_id.as_deref(),
                &format!("user:{}", s.user_id),
                "logout",
                Some(&s.id),
                serde_json::json!({}),
            )
            .await;
        }
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    Ok(resp)
}
