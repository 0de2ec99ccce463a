//! The merchant dashboard: server-rendered HTML under `/dashboard`, sign-in
//! at `/login` (password, then TOTP), setup links at `/setup/{token}`.
//!
//! [`table`] is the one list of dashboard routes, each with the
//! [`Permission`] it needs; the router is built from it, and [`guard`]
//! refuses a route whose method and path are not in it, so a route can't
//! exist without a declared permission. Every state change is a POST that
//! carries the session's CSRF token and passes an Origin / Sec-Fetch-Site
//! check.
//!
//! Business rules are not repeated here: a dashboard action builds the
//! typed command of the [`crate::service`] layer that the `/v1` handlers
//! use too, with the session's account and mode, so both doors check the
//! same things, and an error's `param` names the field to show it beside.

pub mod error;
pub mod hashing;
pub mod invite;
pub mod login;
pub mod pages;
pub mod views;

pub use crate::access::{allowlist_permits, audit_ip_refused, client_ip};
pub use crate::service::{new_token, token_hash};

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use paylink_crypto::Secret;
use paylink_domain::roles::{Permission, Role};
use paylink_store::users::{SessionRecord, Stage, User};
use paylink_store::Scope;

use crate::AppState;

/// The session cookie's name: `__Host-` makes browsers insist on Secure,
/// Path=/ and no Domain.
pub const COOKIE: &str = "__Host-paylink_session";

/// Largest dashboard form accepted.
pub const FORM_LIMIT: usize = 64 * 1024;

/// Settings of sign-in and sessions.
#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// A session ends after this many seconds without a request.
    pub idle_secs: i64,
    /// A session ends this many seconds after sign-in, whatever happens.
    pub absolute_secs: i64,
    /// Consecutive failures (password or code) that lock a user.
    pub lock_after: i64,
    /// How long a lock lasts (an owner can lift it sooner).
    pub lock_secs: i64,
    /// Failures from one IP address within `ip_window_secs` before it gets 429.
    pub ip_limit: i64,
    pub ip_window_secs: i64,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig {
            idle_secs: 30 * 60,
            absolute_secs: 12 * 3600,
            lock_after: 10,
            lock_secs: 3600,
            ip_limit: 30,
            ip_window_secs: 15 * 60,
        }
    }
}

/// One dashboard route.
pub struct DashRoute {
    pub method: Method,
    pub path: &'static str,
    pub permission: Permission,
    handler: fn() -> MethodRouter<AppState>,
}

fn r(
    method: Method,
    path: &'static str,
    permission: Permission,
    handler: fn() -> MethodRouter<AppState>,
) -> DashRoute {
    DashRoute {
        method,
        path,
        permission,
        handler,
    }
}

/// Every dashboard route with the permission it needs (the one place).
#[rustfmt::skip]
pub fn table() -> Vec<DashRoute> {
    use views as v;
    use Method as M;
    use Permission as P;
    vec![
        r(M::GET, "/dashboard", P::ViewOverview, || get(v::overview)),
        r(M::POST, "/dashboard/mode", P::OwnLogin, || post(v::switch_mode)),
        r(M::POST, "/dashboard/account", P::OwnLogin, || post(v::switch_account)),
        r(M::GET, "/dashboard/payment-links", P::ReadCatalog, || get(v::links)),
        r(M::GET, "/dashboard/payment-links/new", P::WriteCatalog, || get(v::link_new)),
        r(M::POST, "/dashboard/payment-links", P::WriteCatalog, || post(v::link_create)),
        r(M::GET, "/dashboard/payment-links/{id}", P::ReadCatalog, || get(v::link_show)),
        r(M::POST, "/dashboard/payment-links/{id}", P::WriteCatalog, || post(v::link_update)),
        r(M::GET, "/dashboard/payment-links/{id}/qr.svg", P::ReadCatalog, || get(v::link_qr)),
        r(M::GET, "/dashboard/products", P::ReadCatalog, || get(v::products)),
        r(M::POST, "/dashboard/products", P::WriteCatalog, || post(v::product_create)),
        r(M::GET, "/dashboard/products/{id}", P::ReadCatalog, || get(v::product_show)),
        r(M::POST, "/dashboard/products/{id}/image", P::WriteCatalog, || post(v::product_image_upload).layer(axum::extract::DefaultBodyLimit::max(crate::files::MAX_BYTES + 64 * 1024))),
        r(M::POST, "/dashboard/products/{id}/image/delete", P::WriteCatalog, || post(v::product_image_delete)),
        r(M::GET, "/dashboard/coupons", P::ReadCatalog, || get(v::coupons)),
        r(M::POST, "/dashboard/coupons", P::WriteCatalog, || post(v::coupon_create)),
        r(M::GET, "/dashboard/payments", P::ReadPayments, || get(v::payments)),
        r(M::GET, "/dashboard/payments/{id}", P::ReadPayments, || get(v::payment_show)),
        r(M::POST, "/dashboard/payments/{id}/refund", P::Refund, || post(v::payment_refund)),
        r(M::GET, "/dashboard/customers", P::ReadCustomers, || get(v::customers)),
        r(M::GET, "/dashboard/customers/{id}", P::ReadCustomers, || get(v::customer_show)),
        r(M::GET, "/dashboard/customers/{id}/export", P::ManageCustomerData, || get(v::customer_export)),
        r(M::POST, "/dashboard/customers/{id}/redact", P::ManageCustomerData, || post(v::customer_redact)),
        r(M::GET, "/dashboard/api-keys", P::ManageApiKeys, || get(v::api_keys)),
        r(M::POST, "/dashboard/api-keys", P::CreateSecretKey, || post(v::api_key_create)),
        r(M::POST, "/dashboard/api-keys/restricted", P::ManageApiKeys, || post(v::api_key_create_restricted)),
        r(M::POST, "/dashboard/api-keys/publishable", P::ManageApiKeys, || post(v::api_key_create_publishable)),
        r(M::POST, "/dashboard/api-keys/{id}/revoke", P::ManageApiKeys, || post(v::api_key_revoke)),
        r(M::POST, "/dashboard/api-keys/{id}/roll", P::ManageApiKeys, || post(v::api_key_roll)),
        r(M::GET, "/dashboard/webhooks", P::ManageWebhooks, || get(v::webhooks)),
        r(M::POST, "/dashboard/webhooks", P::ManageWebhooks, || post(v::webhook_create)),
        r(M::GET, "/dashboard/webhooks/{id}", P::ManageWebhooks, || get(v::webhook_show)),
        r(M::POST, "/dashboard/webhooks/{id}/disable", P::ManageWebhooks, || post(v::webhook_disable)),
        r(M::POST, "/dashboard/webhooks/{id}/enable", P::ManageWebhooks, || post(v::webhook_enable)),
        r(M::POST, "/dashboard/webhooks/{id}/delete", P::ManageWebhooks, || post(v::webhook_delete)),
        r(M::POST, "/dashboard/webhooks/{id}/roll", P::ManageWebhooks, || post(v::webhook_roll)),
        r(M::POST, "/dashboard/webhooks/{id}/reveal", P::RevealWebhookSecret, || post(v::webhook_reveal)),
        r(M::POST, "/dashboard/webhooks/{id}/resend", P::ManageWebhooks, || post(v::webhook_resend)),
        r(M::GET, "/dashboard/team", P::ManageTeam, || get(v::team)),
        r(M::POST, "/dashboard/team/invite", P::ManageTeam, || post(v::team_invite)),
        r(M::POST, "/dashboard/team/{user}/role", P::ManageTeam, || post(v::team_role)),
        r(M::POST, "/dashboard/team/{user}/remove", P::ManageTeam, || post(v::team_remove)),
        r(M::POST, "/dashboard/team/{user}/unlock", P::ManageTeam, || post(v::team_unlock)),
        r(M::POST, "/dashboard/team/invitations/{id}/revoke", P::ManageTeam, || post(v::team_invitation_revoke)),
        r(M::GET, "/dashboard/security", P::OwnLogin, || get(v::security)),
        r(M::POST, "/dashboard/security/sessions/{id}/revoke", P::OwnLogin, || post(v::session_revoke)),
        r(M::POST, "/dashboard/security/sign-out-everywhere", P::OwnLogin, || post(v::sign_out_everywhere)),
        r(M::POST, "/dashboard/security/password", P::OwnLogin, || post(v::change_password)),
        r(M::POST, "/dashboard/security/recovery-codes", P::OwnLogin, || post(v::regenerate_codes)),
        r(M::POST, "/dashboard/security/allowlist", P::ManageSecurity, || post(v::set_allowlist)),
        r(M::GET, "/dashboard/audit", P::ManageSecurity, || get(v::audit_log)),
        r(M::GET, "/dashboard/settings", P::ManageSettings, || get(v::settings)),
        r(M::POST, "/dashboard/settings", P::ManageSettings, || post(v::settings_update)),
        r(M::POST, "/dashboard/settings/disconnect", P::ManageSettings, || post(v::settings_disconnect)),
        r(M::POST, "/dashboard/settings/connect", P::ConnectProvider, || post(v::settings_connect)),
    ]
}

/// The permission a route needs, if the route is in the table.
pub fn permission_for(method: &Method, path: &str) -> Option<Permission> {
    static TABLE: std::sync::LazyLock<Vec<(Method, &'static str, Permission)>> =
        std::sync::LazyLock::new(|| {
            table()
                .into_iter()
                .map(|d| (d.method, d.path, d.permission))
                .collect()
        });
    TABLE
        .iter()
        .find(|(m, p, _)| m == method && *p == path)
        .map(|(_, _, perm)| *perm)
}

/// The dashboard's routes (sign-in pages and `/dashboard`).
pub fn routes(state: &AppState) -> Router<AppState> {
    let guarded = table()
        .into_iter()
        .fold(Router::new(), |router, d| {
            router.route(d.path, (d.handler)())
        })
        .route_layer(middleware::from_fn_with_state(state.clone(), guard));
    Router::new()
        .route("/login", get(login::login_page).post(login::login_submit))
        .route("/login/2fa", get(login::mfa_page).post(login::mfa_submit))
        .route("/logout", post(login::logout))
        .route(
            "/setup/{token}",
            get(login::setup_page).post(login::setup_submit),
        )
        .route(
            "/setup/2fa",
            get(login::enrol_page).post(login::enrol_submit),
        )
        .route("/setup/2fa/qr.svg", get(login::enrol_qr))
        .route("/invite/{token}", get(invite::page).post(invite::submit))
        .route("/invite/{token}/accept", post(invite::accept))
        .route(
            "/assets/dashboard.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                    pages::CSS,
                )
            }),
        )
        .merge(guarded)
}

/// Who is using the dashboard: set by [`guard`] on every guarded request.
#[derive(Clone)]
pub struct Ctx {
    pub user: User,
    pub session: SessionRecord,
    pub role: Role,
    pub scope: Scope,
    pub account_name: String,
    pub memberships: Vec<paylink_store::users::Membership>,
    /// This session's CSRF token.
    pub csrf: String,
    pub ip: String,
    pub user_agent: String,
}

impl Ctx {
    pub fn can(&self, p: Permission) -> bool {
        self.role.allows(p)
    }
    /// The audit actor of this user.
    pub fn actor(&self) -> String {
        format!("user:{}", self.user.id)
    }
    /// Writes an audit entry of this user's action in this account.
    pub async fn audit(
        &self,
        state: &AppState,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) {
        login::audit(
            state,
            Some(&self.scope.account_id),
            &self.actor(),
            action,
            target,
            detail,
        )
        .await;
    }
}

/// A session cookie's token, from the request.
pub fn session_token(headers: &HeaderMap) -> Option<Secret<String>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| Secret::new(v.to_string()))
        .filter(|s| !s.expose().is_empty())
}

/// The CSRF token of the session whose token hashes to `hash`.
pub fn csrf_for(state: &AppState, hash: &str) -> String {
    paylink_crypto::envelope::blind_index(&state.dashboard_key, &format!("csrf:{hash}"))
}

/// `Set-Cookie` for a new session token.
pub fn set_cookie(token: &Secret<String>) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Strict",
        token.expose()
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "__Host-paylink_session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
    )
}

fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(300)
        .collect()
}

/// Whether a state-changing request comes from our own pages. A browser's
/// `Sec-Fetch-Site` (which pages cannot forge) must say same-origin; a
/// client without it must send no `Origin` or ours.
pub fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin";
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => origin == origin_of(&state.public_url),
        None => true,
    }
}

/// Whether a POST comes from this session's own pages: same origin, and
/// `sent` is the session's CSRF token (compared in constant time).
pub fn form_from_us(state: &AppState, headers: &HeaderMap, sent: &str, csrf: &str) -> bool {
    same_origin(state, headers) && paylink_crypto::ct_eq(sent.as_bytes(), csrf.as_bytes())
}

/// The answer to a form that did not come from this session's pages.
pub fn csrf_refused() -> Response {
    refusal(
        StatusCode::FORBIDDEN,
        "Request refused",
        "The form expired or did not come from this site. Go back, reload the page and try again.",
    )
}

fn origin_of(url: &str) -> &str {
    // scheme://host[:port] of the public URL.
    let rest = url.find("://").map_or(0, |i| i + 3);
    match url.get(rest..).and_then(|r| r.find('/')) {
        Some(i) => url.get(..rest + i).unwrap_or(url),
        None => url,
    }
}

/// A parsed form body: every value of each field, in order.
#[derive(Default, Clone)]
pub struct Form(pub BTreeMap<String, Vec<String>>, pub Vec<u8>);

/// Field names only: a form may hold passwords and codes.
impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Form {
    pub fn parse(bytes: &[u8]) -> Form {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(bytes) {
            map.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        Form(map, bytes.to_vec())
    }
    pub fn get(&self, k: &str) -> &str {
        self.0
            .get(k)
            .and_then(|v| v.first())
            .map_or("", String::as_str)
    }
}

/// Reads a form body (up to [`FORM_LIMIT`]).
pub async fn read_form(req: Request) -> Result<(axum::http::request::Parts, Form), Response> {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "Form too large").into_response())?;
    Ok((parts, Form::parse(&bytes)))
}

/// Reads the form of a sign-in step that has no session yet (sign-in,
/// setup link, invitation): refused unless it comes from our own origin.
pub async fn read_own_form(
    state: &AppState,
    req: Request,
) -> Result<(axum::http::request::Parts, Form), Response> {
    if !same_origin(state, req.headers()) {
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This form was not sent from this site.",
        ));
    }
    read_form(req).await
}

/// A plain page for a refusal (403, 429, …).
pub fn refusal(status: StatusCode, title: &str, message: &str) -> Response {
    pages::html_response(
        status,
        pages::bare(title, maud::html! { h1 { (title) } p { (message) } }),
    )
}

fn to_login(expired: bool) -> Response {
    let mut resp = Redirect::to(if expired {
        "/login?expired=1"
    } else {
        "/login"
    })
    .into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    resp
}

/// Every guarded route: a full session (not idle, not too old), a
/// membership in the session's account, the account's IP allowlist, the
/// route's permission, and for POST the CSRF token and origin.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match check(&state, req).await {
        Ok((req, ctx)) => {
            let mut req = req;
            req.extensions_mut().insert(ctx);
            next.run(req).await
        }
        Err(resp) => resp,
    }
}

/// A browser's signed-in session.
pub enum FullSession {
    /// No cookie, or not a session signed in with both factors.
    None,
    /// It was idle or too old: it is ended now.
    Expired,
    /// Signed in; with its token's hash (for the CSRF token).
    Live(SessionRecord, String),
}

/// The session signed in with both factors that `headers` present, ending
/// it when it was idle or too old.
pub async fn full_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<FullSession, crate::ApiError> {
    let now = state.now();
    let cfg = &state.dashboard;
    let Some(token) = session_token(headers) else {
        return Ok(FullSession::None);
    };
    let hash = token_hash(token.expose());
    let Some(session) = state
        .store
        .find_session(&hash)
        .await?
        .filter(|s| s.stage == Stage::Full)
    else {
        return Ok(FullSession::None);
    };
    if now - session.last_seen >= cfg.idle_secs || now - session.created >= cfg.absolute_secs {
        let _ = state
            .store
            .end_session(&session.user_id, &session.id, now)
            .await;
        return Ok(FullSession::Expired);
    }
    Ok(FullSession::Live(session, hash))
}

// Long: the guard: session, membership, allowlist, permission and CSRF checked
// in this order; one function keeps the order auditable.
async fn check(state: &AppState, req: Request) -> Result<(Request, Arc<Ctx>), Response> {
    let now = state.now();
    let (session, hash) = match full_session(state, req.headers()).await {
        Ok(FullSession::Live(s, h)) => (s, h),
        Ok(FullSession::None) => return Err(to_login(false)),
        Ok(FullSession::Expired) => return Err(to_login(true)),
        Err(e) => return Err(error::fail(e)),
    };
    let ip = client_ip(req.extensions());
    let Some(account_id) = session.account_id.clone() else {
        return Err(to_login(false));
    };
    // The user's accounts, with the role and allowlist of each: one query.
    let memberships = state
        .store
        .memberships(&session.user_id)
        .await
        .map_err(|e| error::fail(e.into()))?;
    let Some(membership) = memberships
        .iter()
        .find(|m| m.account_id == account_id)
        .cloned()
    else {
        // Removed from the account: this session is over.
        let _ = state
            .store
            .end_session(&session.user_id, &session.id, now)
            .await;
        return Err(to_login(false));
    };
    let role = membership.role;
    if !allowlist_permits(&membership.ip_allowlist, &ip) {
        audit_ip_refused(
            state,
            &account_id,
            &format!("user:{}", session.user_id),
            &ip,
            "dashboard",
        )
        .await;
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "Not from this network",
            "This account only accepts sign-ins from its allowed networks.",
        ));
    }
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    // Denied unless the table names a permission this role has.
    let allowed = permission_for(req.method(), &path).is_some_and(|p| role.allows(p));
    if !allowed {
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Your role in this account does not give access to this page.",
        ));
    }
    let csrf = csrf_for(state, &hash);
    let req = if req.method() == Method::GET || req.method() == Method::HEAD {
        req
    } else {
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if multipart {
            // A file upload: the body is the handler's; the token comes in
            // the form's action URL (only the path is ever logged).
            let query = Form::parse(req.uri().query().unwrap_or("").as_bytes());
            if !form_from_us(state, req.headers(), query.get("csrf"), &csrf) {
                return Err(csrf_refused());
            }
            return finish(state, req, session, membership, memberships, csrf, ip).await;
        }
        let (parts, form) = read_form(req).await?;
        if !form_from_us(state, &parts.headers, form.get("csrf"), &csrf) {
            return Err(csrf_refused());
        }
        let mut req = Request::from_parts(parts, Body::empty());
        req.extensions_mut().insert(form);
        req
    };
    finish(state, req, session, membership, memberships, csrf, ip).await
}

/// Loads who is asking and marks the session seen.
async fn finish(
    state: &AppState,
    req: Request,
    session: SessionRecord,
    membership: paylink_store::users::Membership,
    memberships: Vec<paylink_store::users::Membership>,
    csrf: String,
    ip: String,
) -> Result<(Request, Arc<Ctx>), Response> {
    let now = state.now();
    if now - session.last_seen >= 60 {
        state
            .store
            .touch_session(&session.id, &session.user_id, now)
            .await
            .map_err(|e| error::fail(e.into()))?;
    }
    let user = state
        .store
        .get_user(&session.user_id)
        .await
        .map_err(|e| error::fail(e.into()))?;
    let ctx = Ctx {
        scope: Scope {
            account_id: membership.account_id,
            livemode: session.livemode,
        },
        user,
        role: membership.role,
        account_name: membership.account_name,
        memberships,
        csrf,
        user_agent: user_agent(req.headers()),
        ip,
        session,
    };
    Ok((req, Arc::new(ctx)))
}

/// An HTML page answer.
pub fn page(body: String) -> Response {
    pages::html_response(StatusCode::OK, body)
}

pub fn html(body: String) -> Html<String> {
    Html(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_debug_shows_field_names_only() {
        let f = Form::parse(b"email=a%40b.example&password=hunter2-hunter2");
        let d = format!("{f:?}");
        assert!(d.contains("password") && d.contains("email"), "{d}");
        assert!(!d.contains("hunter2") && !d.contains("b.example"), "{d}");
        assert_eq!(f.get("password"), "hunter2-hunter2");
    }

    #[test]
    fn origins_of_public_urls() {
        assert_eq!(origin_of("https://pay.example/base"), "https://pay.example");
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}
