//! The `sim` provider: a hosted checkout on its own listener and origin
//! that behaves like a real one in test mode. It takes the card on its own
//! page (Luhn, expiry and CVC checked, errors beside the fields), applies
//! the test cards' outcomes, runs a 3-D Secure challenge page, sends paylink
//! a signed webhook and sends the buyer back. paylink only ever receives a
//! payment-method token, the brand and the last four digits.
//!
//! paylink calls the sim's API (`/v1/payments`, `/v1/refunds`) with a sim
//! secret key (`sk_sim_…`) that the sim checks on every call.
//!
//! The sim keeps its own records (payments, refunds, webhooks not yet
//! delivered) in memory and, when given a state file, on disk after every
//! change: a card page in progress survives a restart, and a webhook is
//! retried until paylink accepts it, across restarts (reliability finding
//! F6). paylink's records (sessions, payments, refunds) are in paylink's
//! database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::{html, Markup, DOCTYPE};
use paylink_crypto::Secret;
use paylink_domain::{Clock, Currency};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::sim_cards::{self, CardError, Outcome};
use crate::{
    BoxFuture, HostedPayment, HostedPaymentRequest, Provider, ProviderError, ProviderEvent,
};

/// Shared configuration of the sim server and of paylink's client for it.
#[derive(Clone)]
pub struct SimConfig {
    /// Origin of the sim's pages and API, e.g. `http://127.0.0.1:8081`.
    pub origin: String,
    /// The sim's own key for minting merchants' secret keys (which it then
    /// checks statelessly, so they survive a restart of the sim).
    pub issuing_key: Arc<Secret<Vec<u8>>>,
    /// The key the sim signs its webhooks with.
    pub webhook_secret: Arc<Secret<Vec<u8>>>,
    /// Where the sim posts its webhooks (paylink's `/webhooks/sim`).
    pub webhook_url: String,
    pub clock: Arc<dyn Clock>,
    /// Where the sim keeps its records (`None`: in memory only).
    pub state_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("origin", &self.origin)
            .field("webhook_url", &self.webhook_url)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum SimStatus {
    RequiresPaymentMethod,
    RequiresAction { brand: String, last4: String },
    Succeeded { brand: String, last4: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SimPayment {
    /// When it was made (payments are forgotten a week later).
    #[serde(default)]
    created: i64,
    id: String,
    /// The sim merchant whose key created it.
    merchant: String,
    req: CreatePayment,
    status: SimStatus,
    refunded: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct CreatePayment {
    session_id: String,
    amount: i64,
    currency: String,
    description: String,
    merchant_name: String,
    return_url: String,
    cancel_url: String,
    require_3ds: bool,
    /// The merchant's mode the payment was made in (sent back in events).
    #[serde(default)]
    livemode: bool,
}

/// Whether `url` is an absolute http(s) URL (no `javascript:` or `data:`).
fn web_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
}

struct SimState {
    cfg: SimConfig,
    payments: Mutex<HashMap<String, SimPayment>>,
    refunds: Mutex<HashMap<String, String>>,
    /// Webhooks not yet accepted by paylink.
    outbox: Mutex<Vec<String>>,
    /// One writer of the state file at a time, in order.
    saving: tokio::sync::Mutex<()>,
    http: reqwest::Client,
}

/// The sim's records as kept in its state file.
#[derive(Default, Serialize, Deserialize)]
struct Saved {
    payments: HashMap<String, SimPayment>,
    refunds: HashMap<String, String>,
    outbox: Vec<String>,
}

/// How long the sim remembers a payment.
const KEEP_PAYMENTS_SECS: i64 = 7 * 86_400;

/// The longest wait between two deliveries of a webhook.
const MAX_RETRY_WAIT_SECS: u64 = 30;

/// Replaces `path` with `bytes`: a new file (mode 0600, never through a
/// link left at its temporary name), synced, renamed over the old one, and
/// the directory synced so the rename survives a crash.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn random_id(prefix: &str) -> String {
    let v = paylink_domain::id::random_bytes::<16>()
        .map(u128::from_le_bytes)
        .unwrap_or(0);
    format!("{prefix}{}", paylink_domain::id::base62_128(v))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

const CSS: &str = "body{font-family:system-ui,sans-serif;background:#f3f4f6;margin:0;color:#111827}\
main{max-width:26rem;margin:3rem auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 1px 3px rgba(0,0,0,.1)}\
h1{font-size:1.1rem;margin:0 0 .25rem}.amount{font-size:1.8rem;font-weight:600;margin:.25rem 0 1.5rem}\
label{display:block;font-size:.85rem;margin:.75rem 0 .25rem;color:#374151}\
input{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #d1d5db;border-radius:6px;font-size:1rem}\
input[aria-invalid=true]{border-color:#dc2626}.row{display:flex;gap:.75rem}.row>div{flex:1}\
.err{color:#dc2626;font-size:.8rem;margin-top:.25rem}.alert{background:#fef2f2;color:#991b1b;padding:.75rem;border-radius:6px;margin-bottom:1rem}\
button{width:100%;margin-top:1.25rem;padding:.75rem;border:0;border-radius:6px;background:#111827;color:#fff;font-size:1rem;cursor:pointer}\
button.secondary{background:#e5e7eb;color:#111827}.badge{display:inline-block;background:#fef3c7;color:#92400e;font-size:.7rem;padding:.1rem .4rem;border-radius:4px}\
.muted{color:#6b7280;font-size:.8rem}a{color:#4f46e5}";

/// The origin (`scheme://host:port`) of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    url.get(..end).unwrap_or(url)
}

/// A sim page. `return_to` is where the buyer is sent after a form post:
/// its origin joins `form-action`, since browsers check redirects that
/// follow a form submission against it.
fn page(title: &str, return_to: Option<&str>, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href="/assets/sim.css";
            }
            body { main { (body) } }
        }
    };
    let mut resp = Html(markup.into_string()).into_response();
    let h = resp.headers_mut();
    let targets = return_to
        .map(origin_of)
        .filter(|o| o.starts_with("http://") || o.starts_with("https://"))
        .unwrap_or("");
    let csp = format!("default-src 'none'; style-src 'self'; form-action 'self' {targets}; frame-ancestors 'none'; base-uri 'none'");
    if let Ok(v) = HeaderValue::from_str(csp.trim()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        page(
            "Not found",
            None,
            html! { h1 { "This payment page does not exist." } },
        ),
    )
        .into_response()
}

fn amount_text(p: &CreatePayment) -> String {
    p.currency
        .parse::<Currency>()
        .map(|c| c.format(p.amount))
        .unwrap_or_else(|_| format!("{} {}", p.amount, p.currency))
}

/// Errors of the card form, by field.
#[derive(Default)]
struct FormErrors {
    alert: Option<String>,
    number: Option<String>,
    exp: Option<String>,
    cvc: Option<String>,
    name: Option<String>,
}

fn card_page(p: &SimPayment, errors: &FormErrors, name: &str, exp: &str) -> Response {
    let field_err =
        |e: &Option<String>| html! { @if let Some(m) = e { div class="err" role="alert" { (m) } } };
    page(
        "Pay — sim",
        Some(&p.req.return_url),
        html! {
            span class="badge" { "TEST MODE · sim provider" }
            h1 { "Pay " (p.req.merchant_name) }
            p class="muted" { (p.req.description) }
            div class="amount" { (amount_text(&p.req)) }
            @if let Some(a) = &errors.alert { div class="alert" role="alert" { (a) } }
            form method="post" action={ "/pay/" (p.id) } novalidate {
                label for="number" { "Card number" }
                input id="number" name="number" autocomplete="cc-number" inputmode="numeric" placeholder="4242 4242 4242 4242" aria-invalid=(errors.number.is_some()) required;
                (field_err(&errors.number))
                div class="row" {
                    div {
                        label for="exp" { "Expiry (MM / YY)" }
                        input id="exp" name="exp" autocomplete="cc-exp" inputmode="numeric" placeholder="MM / YY" value=(exp) aria-invalid=(errors.exp.is_some()) required;
                        (field_err(&errors.exp))
                    }
                    div {
                        label for="cvc" { "CVC" }
                        input id="cvc" name="cvc" autocomplete="cc-csc" inputmode="numeric" placeholder="123" aria-invalid=(errors.cvc.is_some()) required;
                        (field_err(&errors.cvc))
                    }
                }
                label for="cc-name" { "Name on card" }
                input id="cc-name" name="name" autocomplete="cc-name" value=(name) aria-invalid=(errors.name.is_some()) required;
                (field_err(&errors.name))
                button id="pay" type="submit" { "Pay " (amount_text(&p.req)) }
            }
            p class="muted" { a href=(p.req.cancel_url) { "Cancel and return" } }
            p class="muted" { "Test cards: 4242 4242 4242 4242 succeeds · 4000 0000 0000 0002 is declined · 4000 0000 0000 9995 has insufficient funds · 4000 0025 0000 3155 asks for 3-D Secure." }
        },
    )
}

fn parse_exp(s: &str) -> Option<(u32, u32)> {
    let cleaned: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let (m, y) = cleaned.split_once('/')?;
    let m: u32 = m.parse().ok()?;
    let y: u32 = match y.len() {
        2 => 2000 + y.parse::<u32>().ok()?,
        4 => y.parse().ok()?,
        _ => return None,
    };
    Some((m, y))
}

fn form_map(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

impl SimState {
    fn new(cfg: SimConfig) -> Self {
        let saved: Saved = cfg
            .state_file
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| match serde_json::from_slice(&b) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!(error = %e, "sim: state file unreadable; starting empty");
                    None
                }
            })
            .unwrap_or_default();
        SimState {
            cfg,
            payments: Mutex::new(saved.payments),
            refunds: Mutex::new(saved.refunds),
            outbox: Mutex::new(saved.outbox),
            saving: tokio::sync::Mutex::new(()),
            http: reqwest::Client::new(),
        }
    }

    /// Writes the records to the state file (if any), forgetting payments
    /// older than a week. One save at a time, in order (an async lock held
    /// across the write); the file is written off the async threads. Each
    /// map is copied under its own lock, never two at once.
    async fn save(&self) {
        let Some(path) = self.cfg.state_file.clone() else {
            return;
        };
        let _one = self.saving.lock().await;
        let horizon = self.cfg.clock.now() - KEEP_PAYMENTS_SECS;
        lock(&self.payments).retain(|_, p| p.created >= horizon);
        let payments = lock(&self.payments).clone();
        let refunds = lock(&self.refunds).clone();
        let outbox = lock(&self.outbox).clone();
        let saved = Saved {
            payments,
            refunds,
            outbox,
        };
        let written = tokio::task::spawn_blocking(move || {
            serde_json::to_vec(&saved)
                .map_err(std::io::Error::other)
                .and_then(|b| write_atomically(&path, &b))
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        if let Err(e) = written {
            tracing::error!(error = %e, "sim: could not write its state file");
        }
    }

    fn payment(&self, id: &str) -> Option<SimPayment> {
        lock(&self.payments).get(id).cloned()
    }
    async fn set_status(&self, id: &str, status: SimStatus) {
        if let Some(p) = lock(&self.payments).get_mut(id) {
            p.status = status;
        }
        self.save().await;
    }

    /// Delivers `event` (already in the outbox), retrying with a growing
    /// wait for as long as paylink refuses it or can't be reached; a
    /// delivered event leaves the outbox.
    async fn deliver_until_accepted(&self, event: String) {
        let mut wait = 1u64;
        while !self.deliver(&event).await {
            tokio::time::sleep(Duration::from_secs(wait)).await;
            wait = (wait * 2).min(MAX_RETRY_WAIT_SECS);
        }
        lock(&self.outbox).retain(|e| e != &event);
        self.save().await;
    }

    /// Marks the payment succeeded, tells paylink (retrying in the
    /// background if it is not reachable) and sends the buyer back.
    async fn succeed(self: &Arc<Self>, p: &SimPayment, brand: String, last4: String) -> Response {
        self.set_status(
            &p.id,
            SimStatus::Succeeded {
                brand: brand.clone(),
                last4: last4.clone(),
            },
        )
        .await;
        let event = json!({
            "id": random_id("evt_sim_"),
            "type": "payment.succeeded",
            "created": self.cfg.clock.now(),
            "data": {
                "payment": p.id,
                "merchant": p.merchant,
                "livemode": p.req.livemode,
                "session": p.req.session_id,
                "amount": p.req.amount,
                "currency": p.req.currency,
                "payment_method": random_id("pm_sim_"),
                "card": {"brand": brand, "last4": last4},
            }
        })
        .to_string();
        lock(&self.outbox).push(event.clone());
        self.save().await;
        // Delivery runs on its own task, so a buyer who leaves mid-way
        // can't stop it; the buyer is sent back after the first attempt.
        let (first_tried, tried) = tokio::sync::oneshot::channel();
        let me = self.clone();
        tokio::spawn(async move {
            if me.deliver(&event).await {
                lock(&me.outbox).retain(|e| e != &event);
                me.save().await;
                let _ = first_tried.send(());
            } else {
                let _ = first_tried.send(());
                me.deliver_until_accepted(event).await;
            }
        });
        let _ = tried.await;
        Redirect::to(&p.req.return_url).into_response()
    }

    async fn deliver(&self, event: &str) -> bool {
        let sig = crate::signature::sign(
            &self.cfg.webhook_secret,
            self.cfg.clock.now(),
            event.as_bytes(),
        );
        match self
            .http
            .post(&self.cfg.webhook_url)
            .header("content-type", "application/json")
            .header("sim-signature", sig)
            .body(event.to_string())
            .timeout(Duration::from_secs(10))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => true,
            Ok(r) => {
                tracing::warn!(status = r.status().as_u16(), "sim: webhook refused");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "sim: webhook not delivered");
                false
            }
        }
    }

    /// The merchant whose secret key the request presents, if it is valid.
    fn merchant(&self, headers: &HeaderMap) -> Option<String> {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))?;
        merchant_of_key(&self.cfg.issuing_key, presented)
    }
}

/// The secret key of sim merchant `merchant`: `sk_sim_<merchant>_<mac>`,
/// where the MAC (HMAC-SHA256 under the sim's issuing key) lets the sim
/// check a key without storing it.
pub fn merchant_key(issuing: &Secret<Vec<u8>>, merchant: &str) -> Secret<String> {
    Secret::new(format!("sk_sim_{merchant}_{}", key_mac(issuing, merchant)))
}

fn key_mac(issuing: &Secret<Vec<u8>>, merchant: &str) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut m) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(issuing.expose()) else {
        return String::new();
    };
    m.update(merchant.as_bytes());
    let mut first = [0u8; 16];
    for (d, s) in first.iter_mut().zip(m.finalize().into_bytes().iter()) {
        *d = *s;
    }
    paylink_domain::id::base62_128(u128::from_le_bytes(first))
}

/// The merchant of a presented key, if its MAC is right.
fn merchant_of_key(issuing: &Secret<Vec<u8>>, presented: &str) -> Option<String> {
    let (merchant, mac) = presented.strip_prefix("sk_sim_")?.rsplit_once('_')?;
    let ok = merchant.starts_with("simm")
        && merchant.len() <= 64
        && merchant.bytes().all(|b| b.is_ascii_alphanumeric());
    (ok && paylink_crypto::ct_eq(mac.as_bytes(), key_mac(issuing, merchant).as_bytes()))
        .then(|| merchant.to_string())
}

fn api_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"type": "invalid_request_error", "message": message}})),
    )
        .into_response()
}

async fn create_payment(
    State(s): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(merchant) = s.merchant(&headers) else {
        return api_error(StatusCode::UNAUTHORIZED, "Invalid sim secret key.");
    };
    let Ok(req) = serde_json::from_slice::<CreatePayment>(&body) else {
        return api_error(StatusCode::BAD_REQUEST, "Invalid payment request.");
    };
    if req.amount < 0 || req.currency.parse::<Currency>().is_err() {
        return api_error(StatusCode::BAD_REQUEST, "Invalid amount or currency.");
    }
    if !web_url(&req.return_url) || !web_url(&req.cancel_url) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "return_url and cancel_url must be http(s) URLs.",
        );
    }
    let id = random_id("simpay_");
    let url = format!("{}/pay/{id}", s.cfg.origin);
    lock(&s.payments).insert(
        id.clone(),
        SimPayment {
            created: s.cfg.clock.now(),
            id: id.clone(),
            merchant,
            req,
            status: SimStatus::RequiresPaymentMethod,
            refunded: 0,
        },
    );
    s.save().await;
    Json(json!({"id": id, "url": url})).into_response()
}

#[derive(Deserialize)]
struct RefundReq {
    payment: String,
    amount: i64,
    idempotency_key: String,
}

async fn create_refund(
    State(s): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(merchant) = s.merchant(&headers) else {
        return api_error(StatusCode::UNAUTHORIZED, "Invalid sim secret key.");
    };
    let Ok(req) = serde_json::from_slice::<RefundReq>(&body) else {
        return api_error(StatusCode::BAD_REQUEST, "Invalid refund request.");
    };
    let refund_key = format!("{merchant}/{}", req.idempotency_key);
    // The key is checked and recorded under one lock, so two calls with
    // the same key at once refund once.
    let made = {
        let mut refunds = lock(&s.refunds);
        if let Some(id) = refunds.get(&refund_key) {
            Ok((id.clone(), false))
        } else {
            let mut payments = lock(&s.payments);
            match payments
                .get_mut(&req.payment)
                .filter(|p| p.merchant == merchant)
            {
                None => Err(api_error(StatusCode::NOT_FOUND, "No such payment.")),
                Some(p)
                    if !matches!(p.status, SimStatus::Succeeded { .. })
                        || req.amount < 1
                        || p.refunded + req.amount > p.req.amount =>
                {
                    Err(api_error(
                        StatusCode::BAD_REQUEST,
                        "This refund is not possible.",
                    ))
                }
                Some(p) => {
                    p.refunded += req.amount;
                    let id = random_id("simre_");
                    refunds.insert(refund_key, id.clone());
                    Ok((id, true))
                }
            }
        }
    };
    let id = match made {
        Ok((id, true)) => {
            s.save().await;
            id
        }
        Ok((id, false)) => id,
        Err(resp) => return resp,
    };
    Json(json!({"id": id})).into_response()
}

async fn show_card_page(State(s): State<Arc<SimState>>, Path(id): Path<String>) -> Response {
    match s.payment(&id) {
        None => not_found(),
        Some(p) if matches!(p.status, SimStatus::Succeeded { .. }) => {
            Redirect::to(&p.req.return_url).into_response()
        }
        Some(p) => card_page(&p, &FormErrors::default(), "", ""),
    }
}

async fn submit_card(
    State(s): State<Arc<SimState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(p) = s.payment(&id) else {
        return not_found();
    };
    if matches!(p.status, SimStatus::Succeeded { .. }) {
        return Redirect::to(&p.req.return_url).into_response();
    }
    let form = form_map(&body);
    let get = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let (number, exp, cvc, name) = (get("number"), get("exp"), get("cvc"), get("name"));
    let mut errors = FormErrors::default();
    if name.is_empty() {
        errors.name = Some("Enter the name on the card.".into());
    }
    let (now_year, now_month) = paylink_domain::clock::year_month(s.cfg.clock.now());
    let checked = sim_cards::validate(
        &number,
        parse_exp(&exp),
        &cvc,
        u32::try_from(now_year).unwrap_or(0),
        now_month,
    );
    let card = match checked {
        Ok(card) => Some(card),
        Err(problems) => {
            for e in problems {
                let msg = Some(e.to_string());
                match e {
                    CardError::InvalidNumber => errors.number = msg,
                    CardError::InvalidExpiry | CardError::Expired => errors.exp = msg,
                    CardError::InvalidCvc => errors.cvc = msg,
                }
            }
            None
        }
    };
    let Some((digits, brand)) = card.filter(|_| errors.name.is_none()) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            card_page(&p, &errors, &name, &exp),
        )
            .into_response();
    };
    let last4 = digits
        .get(digits.len().saturating_sub(4)..)
        .unwrap_or("")
        .to_string();
    match sim_cards::outcome(&digits, p.req.require_3ds) {
        Outcome::Succeeds => s.succeed(&p, brand.as_str().into(), last4).await,
        Outcome::Declined => {
            errors.alert = Some("Your card was declined. Try another card.".into());
            (
                StatusCode::PAYMENT_REQUIRED,
                card_page(&p, &errors, &name, &exp),
            )
                .into_response()
        }
        Outcome::InsufficientFunds => {
            errors.alert = Some("Your card has insufficient funds. Try another card.".into());
            (
                StatusCode::PAYMENT_REQUIRED,
                card_page(&p, &errors, &name, &exp),
            )
                .into_response()
        }
        Outcome::RequiresChallenge => {
            s.set_status(
                &p.id,
                SimStatus::RequiresAction {
                    brand: brand.as_str().into(),
                    last4,
                },
            )
            .await;
            Redirect::to(&format!("/3ds/{}", p.id)).into_response()
        }
    }
}

async fn show_challenge(State(s): State<Arc<SimState>>, Path(id): Path<String>) -> Response {
    let Some(p) = s.payment(&id) else {
        return not_found();
    };
    let SimStatus::RequiresAction { last4, .. } = &p.status else {
        return Redirect::to(&format!("/pay/{id}")).into_response();
    };
    page(
        "3-D Secure — sim",
        Some(&p.req.return_url),
        html! {
            span class="badge" { "TEST MODE · 3-D Secure" }
            h1 { "Confirm this payment" }
            p { "Your bank asks you to confirm the payment of " strong { (amount_text(&p.req)) } " to " (p.req.merchant_name) " with the card ending in " (last4) "." }
            form method="post" action={ "/3ds/" (id) } {
                input type="hidden" name="action" value="approve";
                button id="approve" type="submit" { "Complete authentication" }
            }
            form method="post" action={ "/3ds/" (id) } {
                input type="hidden" name="action" value="fail";
                button id="fail" class="secondary" type="submit" { "Fail authentication" }
            }
        },
    )
}

async fn answer_challenge(
    State(s): State<Arc<SimState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(p) = s.payment(&id) else {
        return not_found();
    };
    let SimStatus::RequiresAction { brand, last4 } = p.status.clone() else {
        return Redirect::to(&format!("/pay/{id}")).into_response();
    };
    if form_map(&body).get("action").map(String::as_str) == Some("approve") {
        return s.succeed(&p, brand, last4).await;
    }
    s.set_status(&id, SimStatus::RequiresPaymentMethod).await;
    let errors = FormErrors { alert: Some("We are unable to authenticate your payment method. Choose another payment method and try again.".into()), ..FormErrors::default() };
    (StatusCode::PAYMENT_REQUIRED, card_page(&p, &errors, "", "")).into_response()
}

/// The sim's sign-up: a new test merchant and its secret key (shown once).
async fn create_merchant(State(s): State<Arc<SimState>>) -> Response {
    let id = random_id("simm");
    let key = merchant_key(&s.cfg.issuing_key, &id);
    Json(json!({"id": id, "object": "sim.merchant", "secret_key": key.expose()})).into_response()
}

/// The merchant a key belongs to (how paylink validates a pasted key).
async fn current_merchant(State(s): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    match s.merchant(&headers) {
        Some(id) => Json(json!({"id": id, "object": "sim.merchant"})).into_response(),
        None => api_error(StatusCode::UNAUTHORIZED, "Invalid sim secret key."),
    }
}

/// The sim's HTTP server.
pub fn router(cfg: SimConfig) -> Router {
    let state = Arc::new(SimState::new(cfg));
    // Webhooks a previous run had not delivered.
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        for event in lock(&state.outbox).clone() {
            let me = state.clone();
            handle.spawn(async move { me.deliver_until_accepted(event).await });
        }
    }
    Router::new()
        .route("/v1/merchants", post(create_merchant))
        .route("/v1/merchant", get(current_merchant))
        .route("/v1/payments", post(create_payment))
        .route("/v1/refunds", post(create_refund))
        .route("/pay/{id}", get(show_card_page).post(submit_card))
        .route("/3ds/{id}", get(show_challenge).post(answer_challenge))
        .route(
            "/assets/sim.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css")], CSS) }),
        )
        .with_state(state)
        .layer(axum::middleware::map_response(security_headers))
}

/// The headers every sim answer carries (JSON as well as pages); a page's
/// own CSP, set where it is made, is kept.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        ));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    resp
}

/// paylink's client for the sim.
pub struct SimClient {
    cfg: SimConfig,
    http: reqwest::Client,
}

impl SimClient {
    pub fn new(cfg: SimConfig) -> Self {
        Self {
            cfg,
            http: reqwest::Client::new(),
        }
    }
}

#[derive(Deserialize)]
struct Created {
    id: String,
    url: String,
}

#[derive(Deserialize)]
struct EventCard {
    brand: String,
    last4: String,
}

#[derive(Deserialize)]
struct EventData {
    payment: String,
    merchant: String,
    #[serde(default)]
    livemode: bool,
    session: String,
    amount: i64,
    currency: String,
    card: EventCard,
}

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: serde_json::Value,
}

impl Provider for SimClient {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn origin(&self) -> String {
        self.cfg.origin.clone()
    }

    fn verify_credential<'a>(
        &'a self,
        credential: &'a Secret<String>,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(async move {
            let resp = self
                .http
                .get(format!("{}/v1/merchant", self.cfg.origin))
                .bearer_auth(credential.expose())
                .timeout(Duration::from_secs(15))
                .send()
                .await
                .map_err(|e| ProviderError::Unreachable(e.without_url().to_string()))?;
            if !resp.status().is_success() {
                return Err(ProviderError::Refused(
                    "the sim does not know this secret key".into(),
                ));
            }
            let v: serde_json::Value = resp.json().await.map_err(|_| ProviderError::BadPayload)?;
            v.get("id")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
                .ok_or(ProviderError::BadPayload)
        })
    }

    fn create_payment<'a>(
        &'a self,
        credential: &'a Secret<String>,
        req: HostedPaymentRequest,
    ) -> BoxFuture<'a, Result<HostedPayment, ProviderError>> {
        Box::pin(async move {
            let body = CreatePayment {
                session_id: req.session_id,
                amount: req.amount,
                currency: req.currency,
                description: req.description,
                merchant_name: req.merchant_name,
                return_url: req.return_url,
                cancel_url: req.cancel_url,
                require_3ds: req.require_3ds,
                livemode: req.livemode,
            };
            let resp = self
                .http
                .post(format!("{}/v1/payments", self.cfg.origin))
                .bearer_auth(credential.expose())
                .json(&body)
                .timeout(Duration::from_secs(15))
                .send()
                .await
                .map_err(|e| ProviderError::Unreachable(e.without_url().to_string()))?;
            if !resp.status().is_success() {
                return Err(ProviderError::Refused(format!(
                    "sim answered {}",
                    resp.status()
                )));
            }
            let c: Created = resp.json().await.map_err(|_| ProviderError::BadPayload)?;
            Ok(HostedPayment {
                provider_ref: c.id,
                redirect_url: c.url,
            })
        })
    }

    fn verify_webhook(
        &self,
        signature_header: &str,
        body: &[u8],
        now: i64,
    ) -> Result<ProviderEvent, ProviderError> {
        if !crate::signature::verify(&self.cfg.webhook_secret, signature_header, body, now) {
            return Err(ProviderError::BadSignature);
        }
        let e: Event = serde_json::from_slice(body).map_err(|_| ProviderError::BadPayload)?;
        if e.kind != "payment.succeeded" {
            return Ok(ProviderEvent::Other {
                event_id: e.id,
                kind: e.kind,
            });
        }
        let d: EventData = serde_json::from_value(e.data).map_err(|_| ProviderError::BadPayload)?;
        Ok(ProviderEvent::PaymentSucceeded {
            event_id: e.id,
            session_id: d.session,
            provider_ref: d.payment,
            merchant: d.merchant,
            livemode: d.livemode,
            amount: d.amount,
            currency: d.currency,
            card_brand: d.card.brand,
            card_last4: d.card.last4,
        })
    }

    fn refund<'a>(
        &'a self,
        credential: &'a Secret<String>,
        provider_ref: &'a str,
        amount: i64,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        let body =
            json!({"payment": provider_ref, "amount": amount, "idempotency_key": idempotency_key});
        Box::pin(async move {
            let resp = self
                .http
                .post(format!("{}/v1/refunds", self.cfg.origin))
                .bearer_auth(credential.expose())
                .json(&body)
                .timeout(Duration::from_secs(15))
                .send()
                .await
                .map_err(|e| ProviderError::Unreachable(e.without_url().to_string()))?;
            let status = resp.status();
            // Only a definite refusal says the refund was not made; a
            // server error, a rate limit or an unreadable answer may hide
            // one that was, so the caller keeps it pending and asks again
            // with the same idempotency key.
            if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
                return Err(ProviderError::Refused(format!("sim answered {status}")));
            }
            if !status.is_success() {
                return Err(ProviderError::Unreachable(format!("sim answered {status}")));
            }
            let c: serde_json::Value = resp
                .json()
                .await
                .map_err(|e| ProviderError::Unreachable(e.without_url().to_string()))?;
            c.get("id")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| ProviderError::Unreachable("sim answered no refund id".into()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{origin_of, parse_exp};

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("http://127.0.0.1:8080/checkout/cs_1"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(origin_of("https://pay.example"), "https://pay.example");
    }

    #[test]
    fn expiry_formats() {
        assert_eq!(parse_exp("12 / 30"), Some((12, 2030)));
        assert_eq!(parse_exp("1/2031"), Some((1, 2031)));
        assert_eq!(parse_exp("12"), None);
        assert_eq!(parse_exp("ab/cd"), None);
    }
}
