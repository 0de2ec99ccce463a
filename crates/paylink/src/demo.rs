//! `paylink demo`: a ready account, test key, product, price, coupon,
//! promotion code and payment link, created through the real API (in
//! process), so what the demo shows is what the API does.

use axum::body::Body;
use axum::http::{header, Request};
use paylink_crypto::Mode;
use paylink_providers::sim::SimConfig;
use paylink_web::AppState;
use serde_json::Value;
use tower::ServiceExt;

use crate::app::{self, AppError, Opened};

pub struct Demo {
    pub secret: String,
    pub link_url: String,
    pub promo_code: String,
    /// The owner's one-time dashboard setup link.
    pub setup_url: String,
}

/// The demo account's owner.
const OWNER: &str = "owner@demo.paylink.invalid";

async fn post(state: &AppState, key: &str, path: &str, form: &str) -> Result<Value, AppError> {
    call(state, key, Request::post(path), form).await
}

async fn get(state: &AppState, key: &str, path: &str) -> Result<Value, AppError> {
    call(state, key, Request::get(path), "").await
}

async fn call(
    state: &AppState,
    key: &str,
    req: axum::http::request::Builder,
    form: &str,
) -> Result<Value, AppError> {
    let path = req.uri_ref().map(ToString::to_string).unwrap_or_default();
    let req = req
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let resp = paylink_web::router(state.clone())
        .oneshot(req)
        .await
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| AppError::Invalid(e.to_string()))?;
    if !status.is_success() {
        return Err(AppError::Invalid(format!(
            "demo setup failed at {path}: {v}"
        )));
    }
    Ok(v)
}

fn field(v: &Value, name: &str) -> Result<String, AppError> {
    v[name]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| AppError::Invalid(format!("demo setup: no {name} in {v}")))
}

/// What the demo prints, with a new setup link for the owner.
async fn ready(
    opened: &Opened,
    state: &AppState,
    account_id: &str,
    secret: String,
    link: &Value,
    promo_code: String,
    now: i64,
) -> Result<Demo, AppError> {
    let setup_url = app::setup_link(&opened.store, &state.public_url, account_id, OWNER, now)
        .await?
        .expose()
        .to_string();
    Ok(Demo {
        setup_url,
        secret,
        link_url: field(link, "url")?,
        promo_code,
    })
}

/// The demo account a previous `paylink demo` made in this data
/// directory, if any (its owner's).
async fn existing_account(opened: &Opened) -> Result<Option<String>, AppError> {
    let key = opened.store.blind(OWNER).await?;
    let Some(user) = opened.store.user_id_by_email(&key).await? else {
        return Ok(None);
    };
    Ok(opened
        .store
        .memberships(&user)
        .await?
        .into_iter()
        .find(|m| m.role == paylink_domain::roles::Role::Owner)
        .map(|m| m.account_id))
}

/// The demo again on a data directory that has it: the same account,
/// catalog and link, a new test key, a new setup link for the owner.
async fn again(
    opened: &Opened,
    state: &AppState,
    account_id: &str,
    now: i64,
) -> Result<Demo, AppError> {
    let key = app::create_key(opened, account_id, Mode::Test, now).await?;
    let secret = key.secret.expose().to_string();
    let links = get(state, &secret, "/v1/payment_links?active=true&limit=1").await?;
    let link = links
        .get("data")
        .and_then(|d| d.get(0))
        .cloned()
        .ok_or_else(|| {
            AppError::Invalid("the demo account has no active payment link left".into())
        })?;
    ready(
        opened,
        state,
        account_id,
        secret,
        &link,
        "DEMO10".into(),
        now,
    )
    .await
}

// Long: the demo's catalog, one object after another.
pub async fn seed(
    opened: &Opened,
    state: &AppState,
    sim: &SimConfig,
    now: i64,
) -> Result<Demo, AppError> {
    if let Some(account_id) = existing_account(opened).await? {
        return again(opened, state, &account_id, now).await;
    }
    let account = app::create_account(&opened.store, "Demo Shop", OWNER, now).await?;
    let key = app::create_key(opened, &account.id, Mode::Test, now).await?;
    let secret = key.secret.expose().to_string();
    // The merchant signs up with the sim and connects paylink to it with
    // the secret key the sim gives it.
    let merchant = format!("simm{}", account.id.trim_start_matches("acct_"));
    let sim_key = paylink_providers::sim::merchant_key(&sim.issuing_key, &merchant);
    paylink_web::service::provider::connect(
        state,
        &paylink_store::Scope {
            account_id: account.id.clone(),
            livemode: false,
        },
        "demo",
        "sim",
        sim_key,
    )
    .await
    .map_err(|e| AppError::Invalid(format!("demo setup: connecting the sim failed: {e:?}")))?;
    let price = post(
        state,
        &secret,
        "/v1/prices",
        "currency=eur&unit_amount=2500&product_data[name]=Paylink%20T-shirt&nickname=T-shirt%20EUR",
    )
    .await?;
    let price_id = field(&price, "id")?;
    let coupon = post(
        state,
        &secret,
        "/v1/coupons",
        "percent_off=10&name=Demo%2010%25",
    )
    .await?;
    let promo = post(
        state,
        &secret,
        "/v1/promotion_codes",
        &format!(
            "promotion[type]=coupon&promotion[coupon]={}&code=DEMO10",
            field(&coupon, "id")?
        ),
    )
    .await?;
    let link = post(
        state,
        &secret,
        "/v1/payment_links",
        &format!("line_items[0][price]={price_id}&line_items[0][quantity]=1&line_items[0][adjustable_quantity][enabled]=true&allow_promotion_codes=true&metadata[source]=demo"),
    )
    .await?;
    let code = field(&promo, "code")?;
    ready(opened, state, &account.id, secret, &link, code, now).await
}
