//! Signing out.

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};

use crate::dashboard::{
    clear_cookie, csrf_for, csrf_refused, form_from_us, read_form, session_token, token_hash,
};
use crate::AppState;

use super::{audit, fail};

pub async fn logout(State(state): State<AppState>, req: Request) -> Response {
    let headers = req.headers().clone();
    let (_, form) = match read_form(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Some(token) = session_token(&headers) {
        let hash = token_hash(token.expose());
        let csrf = csrf_for(&state, &hash);
        if !form_from_us(&state, &headers, form.get("csrf"), &csrf) {
            return csrf_refused();
        }
        match state.store.find_session(&hash).await {
            Ok(Some(s)) => {
                if let Err(e) = state
                    .store
                    .end_session(&s.user_id, &s.id, state.now())
                    .await
                {
                    return fail(e.into());
                }
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
            Ok(None) => {}
            Err(e) => return fail(e.into()),
        }
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    resp
}
