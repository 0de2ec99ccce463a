//! The buyer's side: the public checkout page of a payment link
//! (`/l/{id}`) or of a session created through the API (`/c/{session}`),
//! the return page after paying (`/checkout/{session}`), and
//! the provider's signed webhook (`/webhooks/{provider}`). Works with
//! JavaScript off; loads nothing from any other origin.

pub mod cache;
pub mod order;
pub mod pages;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use paylink_domain::catalog::{AfterCompletion, PaymentLink, Price, Product};
use paylink_domain::checkout::{session_ttl, CheckoutSession, SessionStatus, SCARCE_HOLD_SECS};
use paylink_domain::locale::{self, Style};
use paylink_domain::IdKind;
use paylink_providers::{HostedPaymentRequest, ProviderError, ProviderEvent};
use paylink_store::accounts::AccountSettings;
use paylink_store::catalog::PromotionCodeFilter;
use paylink_store::checkout::{Completion, OpenRefusal, PaidEvent};
use paylink_store::{ListQuery, Scope, StoreError};
use serde::Deserialize;

use self::order::{field, Form, PageLine};
use self::pages::Merchant;
use crate::api::new_id;
use crate::error::ApiError;
use crate::AppState;

/// Largest checkout form accepted.
const FORM_LIMIT: usize = 64 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/l/{id}", get(show).post(submit))
        .route("/c/{session}", get(show_offer).post(submit_offer))
        .route("/checkout/{session}", get(return_page))
        .route("/checkout/{session}/go", get(go_to_provider))
        .route("/checkout/{session}/cancel", get(cancel))
        .route("/webhooks/{provider}", post(webhook))
        .route(
            "/assets/checkout.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                    pages::CSS,
                )
            }),
        )
}

/// The page data of link `id` (or slug), from the cache while it is
/// current (see [`cache`]), else from the database.
async fn cached_load(state: &AppState, id: &str) -> Result<Option<Arc<Loaded>>, StoreError> {
    let now = state.now();
    let version = state.store.pages_version();
    if let Some(l) = state.pages.get(id, now, version) {
        return Ok(Some(l));
    }
    let Some(l) = load(state, id).await? else {
        return Ok(None);
    };
    let l = Arc::new(l);
    state.pages.put(id, now, version, l.clone());
    Ok(Some(l))
}

fn nonce() -> String {
    paylink_domain::id::base62_128(paylink_domain::id::per_request_random())
}

/// An HTML answer with the page's CSP: own styles plus one nonce'd
/// `<style>`, no scripts, forms only to here and the provider's origin.
fn html(status: StatusCode, body: String, nonce: &str, provider_origin: &str) -> Response {
    let csp = format!(
        "default-src 'none'; style-src 'self' 'nonce-{nonce}'; img-src 'self'; form-action 'self' {provider_origin}; frame-ancestors 'none'; base-uri 'none'"
    );
    let mut resp = (status, Html(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// How amounts read: in the language the merchant set on an API session
/// (`locale`), otherwise in the buyer's browser's.
fn style_of(headers: &HeaderMap, s: Option<&CheckoutSession>) -> Style {
    let set = s
        .and_then(|s| s.offer.as_ref())
        .and_then(|o| o.locale.as_deref())
        .filter(|l| *l != "auto");
    locale::style_for(set.unwrap_or_else(|| {
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }))
}

fn page_error(state: &AppState, status: StatusCode, e: impl std::fmt::Display) -> Response {
    // The buyer's own doing (a form too large) is no failure of ours.
    if status.is_client_error() {
        tracing::warn!(cause = %e, %status, "checkout request refused");
    } else {
        tracing::error!(cause = %e, "checkout page failed");
    }
    let m = Merchant {
        name: "paylink",
        color: "#374151",
        livemode: true,
        nonce: "",
        terms_url: None,
    };
    let id = crate::request_id::current().unwrap_or_default();
    let body = pages::layout(
        "Error",
        &m,
        maud::html! { h1 { "Something went wrong" } p { "Please try again in a moment. Reference: " (id) } },
    );
    html(status, body, "", &state.provider.origin())
}

/// The page of a link or session that does not exist.
fn not_found_page(state: &AppState) -> Response {
    html(
        StatusCode::NOT_FOUND,
        pages::not_found(),
        "",
        &state.provider.origin(),
    )
}

/// Everything a link's page needs. The page of an API-created session is
/// a link's page too: `link` is then built from the session's offer
/// ([`CheckoutSession::offer_page`]) and `session` is that session.
struct Loaded {
    scope: Scope,
    link: PaymentLink,
    settings: AccountSettings,
    prices: Vec<Price>,
    products: Vec<Product>,
    session: Option<CheckoutSession>,
}

impl Loaded {
    /// Whether the page's discount is the merchant's (an API session made
    /// with `discounts`): a code typed or prefilled is then ignored.
    fn fixed_discount(&self) -> bool {
        self.session
            .as_ref()
            .and_then(|s| s.offer.as_ref())
            .is_some_and(|o| o.discount.is_some())
    }

    /// Where the page's form posts.
    fn action(&self) -> String {
        match &self.session {
            Some(s) => format!("/c/{}", s.id),
            None => format!("/l/{}", self.link.id),
        }
    }

    fn lines(&self) -> Vec<PageLine<'_>> {
        self.link
            .line_items
            .iter()
            .enumerate()
            .filter_map(|(index, item)| {
                let price = self.prices.iter().find(|p| p.id == item.price)?;
                let product = self.products.iter().find(|p| p.id == price.product)?;
                Some(PageLine {
                    index,
                    item,
                    price,
                    product,
                })
            })
            .collect()
    }
}

async fn load(state: &AppState, id: &str) -> Result<Option<Loaded>, StoreError> {
    let (scope, link) = match state.store.find_link_public(id).await {
        Ok(x) => x,
        Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    load_page(state, scope, link, None).await.map(Some)
}

/// The page of API-created session `id`; None for an unknown id or a
/// link's session (its page is its link's).
async fn load_offer(state: &AppState, id: &str) -> Result<Option<Loaded>, StoreError> {
    let (scope, s) = match state.store.find_session_public(id).await {
        Ok(x) => x,
        Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(link) = s.offer_page(state.now()) else {
        return Ok(None);
    };
    load_page(state, scope, link, Some(s)).await.map(Some)
}

/// A page's account settings, prices and products.
async fn load_page(
    state: &AppState,
    scope: Scope,
    link: PaymentLink,
    session: Option<CheckoutSession>,
) -> Result<Loaded, StoreError> {
    let settings = state.store.account_settings(&scope.account_id).await?;
    let ids: Vec<String> = link.line_items.iter().map(|i| i.price.clone()).collect();
    let prices = state.store.get_prices(&scope, &ids).await?;
    let mut products = Vec::new();
    for p in &prices {
        if !products.iter().any(|x: &Product| x.id == p.product) {
            let mut product = state.store.get_product(&scope, &p.product).await?;
            // An uploaded image comes first, through a signed URL.
            if let Some(img) = state
                .store
                .current_product_image(&scope, &p.product)
                .await?
            {
                product
                    .images
                    .insert(0, crate::files::signed_url(state, &img.id));
            }
            products.push(product);
        }
    }
    Ok(Loaded {
        scope,
        link,
        settings,
        prices,
        products,
        session,
    })
}

type Promo = (
    Option<paylink_domain::catalog::PromotionCode>,
    paylink_domain::catalog::Coupon,
);

/// The discount of the order: the one an API-created session was made
/// with (whatever the form says), else the promotion code typed.
async fn find_promo(state: &AppState, l: &Loaded, code: &str) -> Result<Option<Promo>, StoreError> {
    let fixed = l
        .session
        .as_ref()
        .and_then(|s| s.offer.as_ref())
        .and_then(|o| o.discount.as_ref());
    if let Some(d) = fixed {
        let promo = match &d.promotion_code {
            Some(id) => match state.store.get_promotion_code(&l.scope, id).await {
                Ok(p) => Some(p),
                Err(StoreError::NotFound) => return Ok(None),
                Err(e) => return Err(e),
            },
            None => None,
        };
        return match state.store.get_coupon(&l.scope, &d.coupon).await {
            Ok(c) => Ok(Some((promo, c))),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        };
    }
    let scope = &l.scope;
    if code.is_empty() || code.chars().count() > 500 {
        return Ok(None);
    }
    let filter = PromotionCodeFilter {
        code: Some(code.to_string()),
        ..Default::default()
    };
    let page = state
        .store
        .list_promotion_codes(
            scope,
            &filter,
            &ListQuery {
                limit: 1,
                starting_after: None,
                ending_before: None,
                ..Default::default()
            },
        )
        .await?;
    let Some(promo) = page.data.into_iter().next() else {
        return Ok(None);
    };
    match state.store.get_coupon(scope, &promo.coupon).await {
        Ok(c) => Ok(Some((Some(promo), c))),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

fn unavailable(state: &AppState, l: &Loaded) -> Response {
    let n = nonce();
    let m = Merchant {
        name: &l.settings.name,
        color: &l.settings.primary_color,
        livemode: l.scope.livemode,
        nonce: &n,
        terms_url: l.settings.terms_url.as_deref(),
    };
    html(
        StatusCode::GONE,
        pages::unavailable(l.link.inactive_message.as_deref(), l.session.is_some(), &m),
        &n,
        &state.provider.origin(),
    )
}

#[derive(Deserialize)]
pub struct Prefill {
    prefilled_email: Option<String>,
    prefilled_promo_code: Option<String>,
    client_reference_id: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(prefill): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let prefill = Prefill {
        prefilled_email: prefill.get("prefilled_email").cloned(),
        prefilled_promo_code: prefill.get("prefilled_promo_code").cloned(),
        client_reference_id: prefill.get("client_reference_id").cloned(),
    };
    let l = match cached_load(&state, &id).await {
        Ok(Some(l)) => l,
        Ok(None) => return not_found_page(&state),
        Err(e) => return page_error(&state, StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    if !l.link.accepts_buyers() {
        return unavailable(&state, &l);
    }
    let mut form = Form::new();
    if let Some(e) = prefill.prefilled_email.filter(|e| e.len() <= 254) {
        form.insert("email".into(), e);
    }
    if let Some(r) = prefill
        .client_reference_id
        .as_deref()
        .and_then(paylink_domain::checkout::client_reference)
    {
        form.insert("client_reference_id".into(), r);
    }
    let promo_typed = prefill
        .prefilled_promo_code
        .filter(|_| l.link.allow_promotion_codes)
        .unwrap_or_default();
    render(
        &state,
        &l,
        &form,
        &promo_typed,
        false,
        &headers,
        None,
        StatusCode::OK,
    )
    .await
}

/// The page of a session created through the API. Once its buyer has
/// submitted it, the way leads on to the provider's page (or, paid, to the
/// return page).
async fn show_offer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let l = match load_offer(&state, &id).await {
        Ok(Some(l)) => l,
        Ok(None) => return not_found_page(&state),
        Err(e) => return page_error(&state, StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    if let Some(r) = offer_moved_on(&state, &l) {
        return r;
    }
    let mut form = Form::new();
    if let Some(e) = l.session.as_ref().and_then(|s| s.customer_email.clone()) {
        form.insert("email".into(), e);
    }
    render(&state, &l, &form, "", false, &headers, None, StatusCode::OK).await
}

/// Where an API-created session's page sends its buyer when it no longer
/// takes a submission: on to the provider's page once submitted, to the
/// return page once paid, or the page saying it is unavailable.
fn offer_moved_on(state: &AppState, l: &Loaded) -> Option<Response> {
    let s = l.session.as_ref()?;
    if l.link.accepts_buyers() {
        return None;
    }
    Some(match s.status {
        // The same absolute URL as the submission's own answer: a click
        // that arrives just after another's submission gets what the
        // racing ones get.
        SessionStatus::Open if s.submitted_at.is_some() && state.now() < s.expires_at => {
            Redirect::to(&format!("{}/checkout/{}/go", state.public_url, s.id)).into_response()
        }
        SessionStatus::Complete => Redirect::to(&format!("/checkout/{}", s.id)).into_response(),
        _ => unavailable(state, l),
    })
}

async fn submit_offer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if body.len() > FORM_LIMIT {
        return page_error(
            &state,
            StatusCode::PAYLOAD_TOO_LARGE,
            "checkout form too large",
        );
    }
    match load_offer(&state, &id).await {
        Ok(Some(l)) => {
            if let Some(r) = offer_moved_on(&state, &l) {
                return r;
            }
            submit_to(state, l, extensions, headers, body).await
        }
        Ok(None) => not_found_page(&state),
        Err(e) => page_error(&state, StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &AppState,
    l: &Loaded,
    form: &Form,
    promo_typed: &str,
    paying: bool,
    headers: &HeaderMap,
    alert: Option<&str>,
    status: StatusCode,
) -> Response {
    let promo_typed = if l.fixed_discount() { "" } else { promo_typed };
    let promo = match find_promo(state, l, promo_typed).await {
        Ok(p) => p,
        Err(e) => return page_error(state, StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let lines = l.lines();
    let order = order::build(
        &l.link,
        &lines,
        form,
        promo_typed,
        promo,
        state.now(),
        paying,
    );
    page(
        state,
        l,
        &lines,
        &order,
        form,
        promo_typed,
        headers,
        alert,
        status,
    )
}

/// The checkout page of an order already priced.
#[allow(clippy::too_many_arguments)]
fn page(
    state: &AppState,
    l: &Loaded,
    lines: &[PageLine<'_>],
    order: &order::Order,
    form: &Form,
    promo_typed: &str,
    headers: &HeaderMap,
    alert: Option<&str>,
    status: StatusCode,
) -> Response {
    let n = nonce();
    let m = Merchant {
        name: &l.settings.name,
        color: &l.settings.primary_color,
        livemode: l.scope.livemode,
        nonce: &n,
        terms_url: l.settings.terms_url.as_deref(),
    };
    let body = pages::checkout(
        &l.link,
        &l.action(),
        l.session
            .as_ref()
            .is_some_and(|s| s.customer_email.is_some()),
        &m,
        lines,
        order,
        form,
        promo_typed,
        style_of(headers, l.session.as_ref()),
        &state.public_url,
        alert,
    );
    html(status, body, &n, &state.provider.origin())
}

// Long: the buyer's submission as its named steps (decode_form, the order,
// check_opening_rate, new_session, open, pay), each an early exit with the page
// to show.
async fn submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if body.len() > FORM_LIMIT {
        return page_error(
            &state,
            StatusCode::PAYLOAD_TOO_LARGE,
            "checkout form too large",
        );
    }
    let l = match load(&state, &id).await {
        Ok(Some(l)) => l,
        Ok(None) => return not_found_page(&state),
        Err(e) => return page_error(&state, StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    if !l.link.accepts_buyers() {
        return unavailable(&state, &l);
    }
    submit_to(state, l, extensions, headers, body).await
}

/// The buyer's submission of a page (a link's or an API-created
/// session's), as its named steps.
async fn submit_to(
    state: AppState,
    l: Loaded,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (mut form, rejected) = decode_form(&body);
    // A session created with customer_email pays under that email (its
    // field is read-only), and keeps the merchant's own reference.
    if let Some(s) = &l.session {
        if let Some(e) = &s.customer_email {
            form.insert("email".into(), e.clone());
        }
        form.remove("client_reference_id");
    }
    if l.fixed_discount() {
        form.remove("promo");
    }
    let promo_typed = field(&form, "promo");
    if field(&form, "action") != "pay" {
        return render(
            &state,
            &l,
            &form,
            &promo_typed,
            false,
            &headers,
            None,
            StatusCode::OK,
        )
        .await;
    }
    let promo = match find_promo(&state, &l, &promo_typed).await {
        Ok(p) => p,
        Err(e) => return page_error(&state, StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let lines = l.lines();
    let mut order = order::build(
        &l.link,
        &lines,
        &form,
        &promo_typed,
        promo,
        state.now(),
        true,
    );
    for k in rejected {
        order.errors.insert(
            k,
            "This can't be used: it has control characters or is over 2,000 characters.".into(),
        );
    }
    let shown = |alert: Option<&str>, status| {
        page(
            &state,
            &l,
            &lines,
            &order,
            &form,
            &promo_typed,
            &headers,
            alert,
            status,
        )
    };
    let (Some(totals), true) = (order.totals, order.errors.is_empty()) else {
        return shown(None, StatusCode::UNPROCESSABLE_ENTITY);
    };
    let ip = crate::access::client_ip(&extensions);
    match pay(&state, &l, &lines, &order, totals, &ip).await {
        Ok(session_id) => {
            Redirect::to(&format!("{}/checkout/{session_id}/go", state.public_url)).into_response()
        }
        Err(Stop::Refused(message, status)) => shown(Some(message), status),
        Err(Stop::Limited(retry_after)) => {
            let mut resp = shown(Some("Too many checkouts were started from your network or for this link just now. Wait a minute and try again; nothing was charged."), StatusCode::TOO_MANY_REQUESTS);
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
        Err(Stop::Unavailable) => unavailable(&state, &l),
        Err(Stop::Submitted) => {
            let id = l
                .session
                .as_ref()
                .map(|s| s.id.as_str())
                .unwrap_or_default();
            wait_for_payment(&state, &l.scope, id).await;
            Redirect::to(&format!("{}/checkout/{id}/go", state.public_url)).into_response()
        }
        Err(Stop::Failed(e)) => page_error(&state, StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// Waits (a few seconds at most) until the submission that won a race for
/// API-created session `id` has its provider payment, so the buyer whose
/// second click lost goes on to that same payment page.
async fn wait_for_payment(state: &AppState, scope: &Scope, id: &str) {
    for _ in 0..50 {
        match state.store.get_session(scope, id).await {
            Ok(s) if s.provider_ref.is_none() && s.status == SessionStatus::Open => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            _ => return,
        }
    }
}

/// The checkout form's fields, and the names of those refused: a value
/// with a NUL, overlong or not UTF-8 is refused beside its field, never
/// dropped (a dropped quantity would silently become the default) and
/// never stored with replacement characters.
fn decode_form(body: &[u8]) -> (Form, Vec<String>) {
    let mut rejected: Vec<String> = Vec::new();
    let form: Form = crate::params::decoded_pairs(body)
        .into_iter()
        .filter(|(k, _)| k.len() <= 100)
        .map(
            |(k, v)| match v.filter(|v| v.len() <= 2000 && !v.contains('\0')) {
                Some(v) => (k, v),
                None => {
                    rejected.push(k.clone());
                    (k, String::new())
                }
            },
        )
        .collect();
    (form, rejected)
}

/// Why a priced order did not go on to the provider's page.
enum Stop {
    /// Shown above the form with this status; nothing was charged.
    Refused(&'static str, StatusCode),
    /// Too many sessions opened just now; retry after this many seconds.
    Limited(i64),
    /// The link no longer takes buyers.
    Unavailable,
    /// An API-created session's page was submitted meanwhile (a second
    /// click): the buyer goes on to that submission's payment.
    Submitted,
    /// Our failure (logged, shown as an opaque error page).
    Failed(String),
}

impl Stop {
    fn failed(e: impl std::fmt::Display) -> Self {
        Stop::Failed(e.to_string())
    }
}

/// Opens a session for the priced order (reserving its places) and the
/// provider's hosted payment for it; returns the session's id.
async fn pay(
    state: &AppState,
    l: &Loaded,
    lines: &[PageLine<'_>],
    order: &order::Order,
    totals: paylink_domain::checkout::Totals,
    ip: &str,
) -> Result<String, Stop> {
    let (merchant, credential) = state
        .store
        .provider_credential(&l.scope)
        .await
        .map_err(Stop::failed)?
        .ok_or(Stop::Refused(
            "This shop can't take payments yet: it has not connected a payment provider. Nothing was charged.",
            StatusCode::SERVICE_UNAVAILABLE,
        ))?;
    let now = state.now();
    check_opening_rate(state, l, ip, now).await?;
    let first_time = order
        .promotion
        .as_ref()
        .and_then(|(p, _)| p.as_ref())
        .is_some_and(|p| p.restrictions.first_time_transaction);
    let session = match &l.session {
        Some(s) => submitted_session(s, order, totals, now),
        None => new_session(state, l, order, totals, first_time, now)?,
    };
    open(state, l, &session, first_time).await?;
    let session_id = session.id;
    let req = hosted_request(state, l, lines, &session_id, totals);
    let hosted = match state.provider.create_payment(&credential, req).await {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, session = %session_id, "provider refused the payment");
            // A link's buyer opens a new session when trying again; an
            // API-created session takes its buyer again until it expires.
            let released = match &l.session {
                Some(_) => state.store.reopen_session(&l.scope, &session_id).await,
                None => state
                    .store
                    .expire_session(&l.scope, &session_id)
                    .await
                    .map(drop),
            };
            if let Err(e) = released {
                tracing::error!(error = %e, "could not release a failed session");
            }
            return Err(Stop::Refused(
                "The payment provider is not available right now. Nothing was charged; please try again.",
                StatusCode::SERVICE_UNAVAILABLE,
            ));
        }
    };
    state
        .store
        .set_session_provider_ref(
            &l.scope,
            &session_id,
            &hosted.provider_ref,
            &merchant,
            &hosted.redirect_url,
        )
        .await
        .map_err(Stop::failed)?;
    Ok(session_id)
}

/// What the provider is asked to collect for session `session_id`.
fn hosted_request(
    state: &AppState,
    l: &Loaded,
    lines: &[PageLine<'_>],
    session_id: &str,
    totals: paylink_domain::checkout::Totals,
) -> HostedPaymentRequest {
    let description = lines
        .iter()
        .map(|x| x.product.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    HostedPaymentRequest {
        session_id: session_id.to_string(),
        account_id: l.scope.account_id.clone(),
        livemode: l.scope.livemode,
        amount: totals.total.amount(),
        currency: l.link.currency.code().to_string(),
        description,
        merchant_name: l.settings.name.clone(),
        return_url: format!("{}/checkout/{session_id}", state.public_url),
        cancel_url: format!("{}/checkout/{session_id}/cancel", state.public_url),
        require_3ds: l.settings.require_3ds,
    }
}

/// Opening a session reserves places: rate-limited per client address and
/// per link, in counters every instance shares (finding 10).
async fn check_opening_rate(state: &AppState, l: &Loaded, ip: &str, now: i64) -> Result<(), Stop> {
    for (bucket, window, limit) in [
        (
            format!("checkout-ip:{ip}"),
            60,
            state.checkout_limits.per_ip_minute,
        ),
        (
            format!("checkout-link:{}", l.link.id),
            60,
            state.checkout_limits.per_link_minute,
        ),
    ] {
        if let Err(secs) = state
            .store
            .rate_hit(&bucket, now, window, limit)
            .await
            .map_err(Stop::failed)?
        {
            return Err(Stop::Limited(secs));
        }
    }
    Ok(())
}

/// The open session for a priced order.
fn new_session(
    state: &AppState,
    l: &Loaded,
    order: &order::Order,
    totals: paylink_domain::checkout::Totals,
    first_time: bool,
    now: i64,
) -> Result<CheckoutSession, Stop> {
    let id = new_id(IdKind::CheckoutSession).map_err(|e| Stop::failed(e.status()))?;
    // A scarce place is held briefly until the buyer reaches the
    // provider's page (through /checkout/{id}/go), then for longer.
    let scarce = l.link.completed_sessions_limit.is_some()
        || first_time
        || order.promotion.as_ref().is_some_and(|(p, c)| {
            p.as_ref().is_some_and(|p| p.max_redemptions.is_some()) || c.max_redemptions.is_some()
        });
    // The link's session as it opens; the order fills in the rest, as it
    // does for an API-created session.
    let opened = CheckoutSession {
        id,
        livemode: l.scope.livemode,
        created: now,
        expires_at: now + session_ttl(scarce),
        payment_link: Some(l.link.id.clone()),
        status: SessionStatus::Open,
        paid: false,
        currency: l.link.currency,
        amount_subtotal: 0,
        amount_discount: 0,
        amount_total: 0,
        promotion_code: None,
        coupon: None,
        customer_email: None,
        customer_name: None,
        customer_phone: None,
        customer_address: None,
        custom_fields: Vec::new(),
        line_items: Vec::new(),
        metadata: l.link.metadata.clone(),
        customer: None,
        payment_intent: None,
        provider: state.provider.name().to_string(),
        provider_ref: None,
        client_reference_id: order.client_reference_id.clone(),
        offer: None,
        link_page: Some(paylink_domain::checkout::PageSettings::of_link(&l.link)),
        submitted_at: None,
        payment_intent_data: l.link.payment_intent_data.clone(),
        shipping_details: None,
        terms_accepted: false,
    };
    Ok(submitted_session(&opened, order, totals, now))
}

/// A session `s` as its buyer's submission completes it (an API-created
/// one, or a link's as it opens): the buyer, the order's lines and
/// amounts, the discount (the session's id, expiry, metadata and
/// reference stay as they were made).
fn submitted_session(
    s: &CheckoutSession,
    order: &order::Order,
    totals: paylink_domain::checkout::Totals,
    now: i64,
) -> CheckoutSession {
    CheckoutSession {
        amount_subtotal: totals.subtotal.amount(),
        amount_discount: totals.discount.amount(),
        amount_total: totals.total.amount(),
        promotion_code: order
            .promotion
            .as_ref()
            .and_then(|(p, _)| p.as_ref().map(|p| p.id.clone())),
        coupon: order.promotion.as_ref().map(|(_, c)| c.id.clone()),
        customer_email: order.email.as_ref().map(|e| e.as_str().to_string()),
        customer_name: order.name.clone(),
        customer_phone: order.phone.clone(),
        customer_address: order.address.clone(),
        custom_fields: order.answers.clone(),
        line_items: order.lines.clone(),
        submitted_at: Some(now),
        shipping_details: order.shipping.clone(),
        terms_accepted: order.terms_accepted,
        ..s.clone()
    }
}

/// Stores the session, reserving the link's place and the code's
/// redemption; a limit already taken is a message above the form.
async fn open(
    state: &AppState,
    l: &Loaded,
    session: &CheckoutSession,
    first_time: bool,
) -> Result<(), Stop> {
    let opened = match &l.session {
        Some(_) => {
            state
                .store
                .submit_session(&l.scope, session, first_time)
                .await
        }
        None => {
            state
                .store
                .open_session(&l.scope, session, first_time)
                .await
        }
    };
    let refusal = match opened.map_err(Stop::failed)? {
        Ok(()) => return Ok(()),
        Err(r) => r,
    };
    Err(match refusal {
        OpenRefusal::LinkUnavailable
            if l.link.completed_sessions_limit.is_some() && l.link.active =>
        {
            Stop::Refused("All places are taken right now. Some are held by buyers who are paying at this moment; a held place frees up within a few minutes if its buyer doesn't finish, so try again shortly. Nothing was charged.", StatusCode::CONFLICT)
        }
        // Lost a race with another submission of the same session's page.
        OpenRefusal::LinkUnavailable if l.session.is_some() => match state
            .store
            .get_session(&l.scope, &session.id)
            .await
        {
            Ok(s) if s.status == SessionStatus::Open && s.submitted_at.is_some() => Stop::Submitted,
            _ => Stop::Unavailable,
        },
        OpenRefusal::LinkUnavailable => Stop::Unavailable,
        OpenRefusal::NotFirstTransaction => Stop::Refused(
            "This promotion code is only valid for a first purchase.",
            StatusCode::CONFLICT,
        ),
        OpenRefusal::PromotionExhausted => {
            Stop::Refused("This promotion code has been used up.", StatusCode::CONFLICT)
        }
    })
}

/// How many checkout sessions may be opened per minute.
#[derive(Debug, Clone, Copy)]
pub struct OpeningLimits {
    /// By one client address.
    pub per_ip_minute: i64,
    /// For one link, by all buyers together.
    pub per_link_minute: i64,
}

/// Checkout sessions one client address may open per minute by default.
pub const CHECKOUTS_PER_IP_MINUTE: i64 = 20;
/// Checkout sessions one link may open per minute by default.
pub const CHECKOUTS_PER_LINK_MINUTE: i64 = 600;

impl Default for OpeningLimits {
    fn default() -> Self {
        OpeningLimits {
            per_ip_minute: CHECKOUTS_PER_IP_MINUTE,
            per_link_minute: CHECKOUTS_PER_LINK_MINUTE,
        }
    }
}

/// The session `id` as a public page finds it, or the page's 404 (or 500).
async fn public_session(
    state: &AppState,
    id: &str,
) -> Result<(paylink_store::Scope, CheckoutSession), Response> {
    match state.store.find_session_public(id).await {
        Ok(x) => Ok(x),
        Err(StoreError::NotFound) => Err(not_found_page(state)),
        Err(e) => Err(page_error(state, StatusCode::INTERNAL_SERVER_ERROR, e)),
    }
}

/// The buyer's way to the provider's page: a scarce place held for a few
/// minutes is now held for the payment's duration (a longer expiry is
/// never shortened).
async fn go_to_provider(State(state): State<AppState>, Path(session): Path<String>) -> Response {
    let (scope, s) = match public_session(&state, &session).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state
        .store
        .session_reached(&scope, &s.id, state.now(), s.created + SCARCE_HOLD_SECS)
        .await
    {
        Ok(Some(url)) => Redirect::to(&url).into_response(),
        // Paid, expired or released meanwhile: the session's own page says which.
        Ok(None) => Redirect::to(&format!("/checkout/{}", s.id)).into_response(),
        Err(e) => page_error(&state, StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// The buyer abandoned on the provider's page: the places the session
/// held are given back at once.
async fn cancel(State(state): State<AppState>, Path(session): Path<String>) -> Response {
    let (scope, s) = match public_session(&state, &session).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    // An API-created session stays open until it expires (as Stripe's):
    // the buyer goes to the merchant's cancel_url, or back to the payment.
    let Some(link) = &s.payment_link else {
        if let Some(back) = s.offer.as_ref().and_then(|o| o.cancel_url.clone()) {
            return Redirect::to(&back).into_response();
        }
        return match state.store.account_settings(&scope.account_id).await {
            Ok(settings) => {
                let n = nonce();
                let m = Merchant {
                    name: &settings.name,
                    color: &settings.primary_color,
                    livemode: scope.livemode,
                    nonce: &n,
                    terms_url: None,
                };
                html(
                    StatusCode::OK,
                    pages::left_payment(&s, &m),
                    &n,
                    &state.provider.origin(),
                )
            }
            Err(e) => page_error(&state, StatusCode::INTERNAL_SERVER_ERROR, e),
        };
    };
    if let Err(e) = state.store.expire_session(&scope, &s.id).await {
        return page_error(&state, StatusCode::INTERNAL_SERVER_ERROR, e);
    }
    Redirect::to(&format!("/l/{link}")).into_response()
}

async fn return_page(
    State(state): State<AppState>,
    Path(session): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (scope, s) = match public_session(&state, &session).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    // An API-created session nobody has submitted yet: its own page.
    if s.offer.is_some() && s.submitted_at.is_none() && s.status == SessionStatus::Open {
        return Redirect::to(&format!("/c/{}", s.id)).into_response();
    }
    let link = match (&s.payment_link, s.offer_page(state.now())) {
        (Some(id), _) => state.store.get_payment_link(&scope, id).await,
        (None, Some(offer)) => Ok(offer),
        (None, None) => Err(StoreError::Corrupt(
            "a session with neither link nor offer".into(),
        )),
    };
    let (settings, link) = match (state.store.account_settings(&scope.account_id).await, link) {
        (Ok(a), Ok(l)) => (a, l),
        (Err(e), _) | (_, Err(e)) => {
            return page_error(&state, StatusCode::INTERNAL_SERVER_ERROR, e)
        }
    };
    let message = match &link.after_completion {
        AfterCompletion::Redirect { .. } if s.status == SessionStatus::Complete => {
            if let Some(url) = link.after_completion.redirect_for(&s.id) {
                return Redirect::to(&url).into_response();
            }
            None
        }
        AfterCompletion::HostedConfirmation { custom_message } => custom_message.clone(),
        AfterCompletion::Redirect { .. } => None,
    };
    let n = nonce();
    let m = Merchant {
        name: &settings.name,
        color: &settings.primary_color,
        livemode: scope.livemode,
        nonce: &n,
        terms_url: None,
    };
    let (body, processing) =
        pages::confirmation(&s, &m, message.as_deref(), style_of(&headers, Some(&s)));
    let mut resp = html(StatusCode::OK, body, &n, &state.provider.origin());
    if processing {
        resp.headers_mut()
            .insert(header::REFRESH, HeaderValue::from_static("2"));
    }
    resp
}

/// Refuses a provider event that is not for the session's own payment
/// (finding 5 of the security review): logged, audited as
/// `provider_event.refused`, and answered 422.
async fn refuse_provider_event(
    state: &AppState,
    session_id: &str,
    why: &str,
    provider_ref: &str,
    merchant: &str,
    event_id: &str,
) -> Response {
    tracing::warn!(session = %session_id, reason = %why, "provider event refused");
    if let Ok((scope, _)) = state.store.find_session_public(session_id).await {
        let r = state
            .store
            .audit(paylink_store::audit::AuditEvent {
                account_id: Some(&scope.account_id),
                actor: &format!("provider:{}", state.provider.name()),
                action: "provider_event.refused",
                target: Some(session_id),
                detail: serde_json::json!({"reason": why, "provider_payment": provider_ref, "provider_merchant": merchant, "event": event_id}),
                now: state.now(),
            })
            .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "audit of a refused provider event failed");
        }
    }
    (StatusCode::UNPROCESSABLE_ENTITY, crate::json_response_headers(), r#"{"error":{"type":"invalid_request_error","message":"This event is not for a payment this checkout session created."}}"#).into_response()
}

/// A provider's "payment failed" event: the attempt is recorded on the
/// session's payment intent (Stripe's `requires_payment_method` with
/// `last_payment_error`), once; one for a payment this session did not
/// create is refused and audited like a success would be.
async fn payment_failed(state: &AppState, event: ProviderEvent) -> Response {
    let ProviderEvent::PaymentFailed {
        event_id,
        session_id,
        provider_ref,
        merchant,
        livemode,
        card_brand,
        card_last4,
        code,
        decline_code,
        message,
        ..
    } = event
    else {
        return received();
    };
    let Ok(pi) = new_id(IdKind::PaymentIntent) else {
        return ApiError::internal("id generation failed").into_response();
    };
    let failed = paylink_store::checkout::FailedEvent {
        provider: state.provider.name(),
        event_id: &event_id,
        session_id: &session_id,
        provider_ref: &provider_ref,
        merchant: &merchant,
        livemode,
        card_brand: card_brand.as_deref(),
        card_last4: card_last4.as_deref(),
        error: paylink_domain::checkout::PaymentError {
            code,
            decline_code,
            message,
        },
        payment_intent_id: &pi,
        now: state.now(),
    };
    match state.store.record_failed_payment(failed).await {
        Ok(Completion::Refused(why)) => {
            refuse_provider_event(
                state,
                &session_id,
                &why,
                &provider_ref,
                &merchant,
                &event_id,
            )
            .await
        }
        Ok(_) => received(),
        Err(StoreError::NotFound) => {
            ApiError::invalid(None, "No such checkout session.").into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

// Long: the provider's webhook in the order it must run (signature, parse,
// complete, give a late payment back, audit); each early exit answers the
// provider a status it retries on or not, and those answers are best read
// together.
async fn webhook(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if provider != state.provider.name() {
        return ApiError::unrecognized_method("POST", &format!("/webhooks/{provider}"))
            .into_response();
    }
    let sig = headers
        .get("sim-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let event = match state.provider.verify_webhook(sig, &body, state.now()) {
        Ok(e) => e,
        Err(ProviderError::BadSignature) => {
            tracing::warn!("webhook with a bad or stale signature refused");
            return ApiError::invalid(None, "Invalid or stale webhook signature.").into_response();
        }
        Err(e) => return ApiError::invalid(None, e.to_string()).into_response(),
    };
    let event = match event {
        ProviderEvent::PaymentFailed { .. } => return payment_failed(&state, event).await,
        e => e,
    };
    let ProviderEvent::PaymentSucceeded {
        event_id,
        session_id,
        provider_ref,
        merchant,
        livemode,
        amount,
        currency,
        card_brand,
        card_last4,
    } = event
    else {
        return received();
    };
    let (Ok(pi), Ok(cus)) = (new_id(IdKind::PaymentIntent), new_id(IdKind::Customer)) else {
        return ApiError::internal("id generation failed").into_response();
    };
    let paid = PaidEvent {
        provider: state.provider.name(),
        event_id: &event_id,
        session_id: &session_id,
        provider_ref: &provider_ref,
        merchant: &merchant,
        livemode,
        amount,
        currency: &currency,
        card_brand: Some(&card_brand),
        card_last4: Some(&card_last4),
        payment_intent_id: &pi,
        new_customer_id: &cus,
        now: state.now(),
    };
    match state.store.complete_session(paid).await {
        Ok(Completion::Recorded { payment_intent }) => {
            tracing::info!(session = %session_id, payment_intent = %payment_intent, "payment recorded");
            received()
        }
        Ok(Completion::DuplicateEvent | Completion::AlreadyComplete) => received(),
        Ok(Completion::Refused(why)) => {
            // Finding 5 of the security review: a provider event completes
            // a session only for the payment paylink created for it with
            // the account's own merchant and mode.
            refuse_provider_event(
                &state,
                &session_id,
                &why,
                &provider_ref,
                &merchant,
                &event_id,
            )
            .await
        }
        Ok(Completion::SessionExpired) => {
            // The limits it reserved are already given back, so the payment
            // can't be kept: refund it in full, once (keyed by the event).
            let scope = state
                .store
                .find_session_public(&session_id)
                .await
                .ok()
                .map(|(scope, _)| scope);
            let credential = match &scope {
                Some(scope) => state.store.provider_credential(scope).await.ok().flatten(),
                None => None,
            };
            let outcome = match &credential {
                Some((_, c)) => {
                    state
                        .provider
                        .refund(c, &provider_ref, amount, &event_id)
                        .await
                }
                None => Err(paylink_providers::ProviderError::Refused(
                    "no provider is connected any more".into(),
                )),
            };
            // The merchant sees it in their audit log: the money came and
            // went back (or must be given back at the provider).
            let (action, detail) = match &outcome {
                Ok(r) => {
                    tracing::warn!(session = %session_id, refund = %r, "payment for an expired session refunded");
                    (
                        "payment.late_refunded",
                        serde_json::json!({"provider_payment": provider_ref, "amount": amount, "provider_refund": r}),
                    )
                }
                Err(e) => {
                    tracing::error!(session = %session_id, error = %e, "payment for an expired session could not be refunded; refund it at the provider");
                    (
                        "payment.late_refund_failed",
                        serde_json::json!({"provider_payment": provider_ref, "amount": amount, "reason": e.to_string()}),
                    )
                }
            };
            if let Some(scope) = &scope {
                let r = state
                    .store
                    .audit(paylink_store::audit::AuditEvent {
                        account_id: Some(&scope.account_id),
                        actor: &format!("provider:{}", state.provider.name()),
                        action,
                        target: Some(&session_id),
                        detail,
                        now: state.now(),
                    })
                    .await;
                if let Err(e) = r {
                    tracing::error!(error = %e, "audit of a late payment failed");
                }
            }
            received()
        }
        Err(StoreError::NotFound) => {
            ApiError::no_such("checkout session", &session_id, None).into_response()
        }
        Err(e @ StoreError::AmountMismatch { .. }) => {
            tracing::error!(reason = %e, "provider event refused");
            (StatusCode::UNPROCESSABLE_ENTITY, crate::json_response_headers(), r#"{"error":{"type":"invalid_request_error","message":"This event does not match its checkout session."}}"#).into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

fn received() -> Response {
    (
        StatusCode::OK,
        crate::json_response_headers(),
        r#"{"received":true}"#,
    )
        .into_response()
}
