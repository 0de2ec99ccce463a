//! Authentication, test/live separation and cross-account isolation.

use base64::Engine as _;

use crate::both;
use crate::helpers::*;

async fn missing_or_invalid_key_is_401(app: TestApp) {
    let r = app.send(app.client.get(app.url("/v1/products"))).await;
    r.assert_error(401, None);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("did not provide an API key"));
    let r = app
        .get_as("sk_test_notarealkeyatall000000000000", "/v1/products")
        .await;
    r.assert_error(401, None);
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("****0000") && !msg.contains("notarealkey"),
        "{msg}"
    );
    // A live key presented with a test prefix (tampered) is refused.
    let tampered = app.live_key.replacen("sk_live_", "sk_test_", 1);
    app.get_as(&tampered, "/v1/products")
        .await
        .assert_error(401, None);
    app.get_as("Basic", "/v1/products")
        .await
        .assert_error(401, None);
}
both!(missing_or_invalid_key_is_401);

async fn bearer_and_basic_auth_and_version_header(app: TestApp) {
    let r = app.get("/v1/products").await;
    r.ok();
    assert_eq!(r.headers["stripe-version"], "2026-10-28.endive");
    assert!(r.headers["request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:", app.key));
    let r = app
        .send(
            app.client
                .get(app.url("/v1/products"))
                .header("authorization", format!("Basic {basic}"))
                .header("stripe-version", "2026-10-28.endive"),
        )
        .await;
    r.ok();
    let r = app
        .send(
            app.client
                .get(app.url("/v1/products"))
                .basic_auth(&app.key, None::<&str>),
        )
        .await;
    r.ok();
}
both!(bearer_and_basic_auth_and_version_header);

async fn test_and_live_are_separate(app: TestApp) {
    let test_product = app.product("Test thing").await;
    let live_product = app
        .post_as(&app.live_key, "/v1/products", json!({"name": "Live thing"}))
        .await;
    assert_eq!(live_product.ok()["livemode"], true);
    let live_id = live_product.id();
    app.get_as(&app.live_key, &format!("/v1/products/{test_product}"))
        .await
        .assert_error(404, Some("id"));
    app.get(&format!("/v1/products/{live_id}"))
        .await
        .assert_error(404, Some("id"));
    let test_list = app.get("/v1/products").await;
    let ids: Vec<_> = test_list.ok()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec![test_product.clone()]);
    let live_list = app.get_as(&app.live_key, "/v1/products").await;
    assert_eq!(live_list.ok()["data"].as_array().unwrap().len(), 1);
    assert_eq!(live_list.body["data"][0]["id"], live_id.as_str());
    // A live price can't use a test product.
    app.post_as(
        &app.live_key,
        "/v1/prices",
        json!({"product": test_product, "currency": "usd", "unit_amount": 100}),
    )
    .await
    .assert_error(400, Some("product"));
}
both!(test_and_live_are_separate);

async fn other_accounts_objects_are_404(app: TestApp) {
    let product = app.product("Mine").await;
    let price = app
        .post(
            "/v1/prices",
            json!({"product": product, "currency": "eur", "unit_amount": 500}),
        )
        .await
        .id();
    let coupon = app.coupon_pct("10").await;
    let promo = app
        .post(
            "/v1/promotion_codes",
            json!({"promotion": {"type": "coupon", "coupon": coupon}}),
        )
        .await
        .id();
    let link = app
        .post(
            "/v1/payment_links",
            json!({"line_items": [{"price": price, "quantity": 1}]}),
        )
        .await
        .id();
    let (_, other) = app.other_account().await;
    for path in [
        format!("/v1/products/{product}"),
        format!("/v1/prices/{price}"),
        format!("/v1/coupons/{coupon}"),
        format!("/v1/promotion_codes/{promo}"),
        format!("/v1/payment_links/{link}"),
        format!("/v1/payment_links/{link}/line_items"),
    ] {
        let r = app.get_as(&other, &path).await;
        r.assert_error(404, Some("id"));
        assert_eq!(r.body["error"]["code"], "resource_missing");
        // Updates are refused the same way.
        if !path.ends_with("line_items") {
            app.post_as(&other, &path, json!({"metadata": {"x": "y"}}))
                .await
                .assert_error(404, Some("id"));
        }
    }
    app.delete_as(&other, &format!("/v1/products/{product}"))
        .await
        .assert_error(404, Some("id"));
    app.delete_as(&other, &format!("/v1/coupons/{coupon}"))
        .await
        .assert_error(404, Some("id"));
    // Lists and references don't cross accounts either.
    for list in [
        "/v1/products",
        "/v1/prices",
        "/v1/coupons",
        "/v1/promotion_codes",
        "/v1/payment_links",
    ] {
        assert_eq!(
            app.get_as(&other, list).await.ok()["data"]
                .as_array()
                .unwrap()
                .len(),
            0,
            "{list}"
        );
    }
    app.post_as(
        &other,
        "/v1/payment_links",
        json!({"line_items": [{"price": price, "quantity": 1}]}),
    )
    .await
    .assert_error(400, Some("line_items[0][price]"));
    app.post_as(
        &other,
        "/v1/promotion_codes",
        json!({"promotion": {"type": "coupon", "coupon": coupon}}),
    )
    .await
    .assert_error(400, Some("promotion[coupon]"));
    // The owner still sees everything untouched.
    assert_eq!(
        app.get(&format!("/v1/products/{product}")).await.ok()["metadata"],
        json!({})
    );
}
both!(other_accounts_objects_are_404);

/// Deny by default: every route of the endpoint table refuses a request
/// without a key before looking at anything else.
async fn every_endpoint_requires_a_key(app: TestApp) {
    for e in paylink_web::api::endpoints() {
        let path = e.path.replace("{id}", "prod_x");
        let r = app
            .send(
                app.client
                    .request(e.method.clone(), app.url(&path))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("name=x"),
            )
            .await;
        r.assert_error(401, None);
    }
    assert_eq!(
        app.get("/v1/products").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}
both!(every_endpoint_requires_a_key);

async fn security_headers_on_every_response(app: TestApp) {
    let responses = [
        app.get("/v1/products").await,
        app.send(app.client.get(app.url("/v1/products"))).await,
        app.get("/v1/nothing-here").await,
        app.send(app.client.get(app.url("/v1/openapi.json"))).await,
    ];
    for r in responses {
        assert_eq!(r.headers["x-content-type-options"], "nosniff", "{r:?}");
        assert_eq!(r.headers["cache-control"], "no-store");
        assert_eq!(r.headers["x-frame-options"], "DENY");
        assert_eq!(r.headers["referrer-policy"], "no-referrer");
        assert_eq!(
            r.headers["content-security-policy"],
            "default-src 'none'; frame-ancestors 'none'"
        );
        assert!(r.headers["request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_"));
    }
}
both!(security_headers_on_every_response);

/// OWASP ASVS 5.0 14.2.1 and 3.4.2: a key in the URL is refused (even
/// beside a valid header) and never logged; no API answer grants a
/// cross-origin read, so a secret key can't be used from a browser page.
async fn keys_only_in_headers_and_no_cors_grant(app: TestApp) {
    let key = app.key.clone();
    for q in [
        format!("api_key={key}"),
        format!("key={key}"),
        format!("limit=3&starting_after={key}"),
    ] {
        let r = app
            .send(app.client.get(app.url(&format!("/v1/products?{q}"))))
            .await;
        assert_eq!(r.status, 400, "{q}: {r:?}");
        assert!(
            !String::from_utf8_lossy(&r.bytes).contains(&key),
            "the key is not echoed"
        );
        let r = app.get(&format!("/v1/products?{q}")).await;
        assert_eq!(r.status, 400, "refused with a valid header too: {r:?}");
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Authorization header"));
    }
    // A page on another origin: no CORS grant, on a simple request or on
    // a preflight.
    let evil = "https://evil.example";
    let r = app
        .send(
            app.client
                .get(app.url("/v1/products"))
                .bearer_auth(&key)
                .header("origin", evil),
        )
        .await;
    assert!(
        r.headers.get("access-control-allow-origin").is_none(),
        "{:?}",
        r.headers
    );
    assert!(r.headers.get("access-control-allow-credentials").is_none());
    let pre = app
        .send(
            app.client
                .request(reqwest::Method::OPTIONS, app.url("/v1/products"))
                .header("origin", evil)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "authorization"),
        )
        .await;
    assert!(
        pre.headers.get("access-control-allow-origin").is_none(),
        "{:?}",
        pre.headers
    );
    assert!(pre.headers.get("access-control-allow-headers").is_none());
    assert_ne!(pre.status / 100, 2, "no preflight succeeds: {pre:?}");
}
both!(keys_only_in_headers_and_no_cors_grant);

/// Past the per-key rate, requests get a 429 `rate_limit_error` with
/// `Retry-After`; another key is not affected.
async fn rate_limit_is_per_key(db: Db) {
    let app = spawn_app_with(db, 5).await;
    let mut limited = None;
    for _ in 0..30 {
        let r = app.get("/v1/products").await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
        r.ok();
    }
    let r = limited.expect("no 429 after 30 requests at a limit of 5/s");
    assert_eq!(r.body["error"]["type"], "rate_limit_error");
    assert!(
        r.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    app.get_as(&app.live_key, "/v1/products").await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_is_per_key_sqlite() {
    rate_limit_is_per_key(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL skipped: set PAYLINK_TEST_DATABASE_URL (e.g. postgres://root@127.0.0.1/test) to run it"
)]
async fn rate_limit_is_per_key_postgres() {
    rate_limit_is_per_key(Db::Postgres).await;
}
