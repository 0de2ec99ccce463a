//! The hostile-input catalogue: script, SQL metacharacters, path traversal,
//! CR/LF, control and bidi characters, overlong and non-UTF-8 input, in the
//! fields a merchant or a buyer can set. Each is refused with a 400 naming
//! the field, or stored exactly as typed and rendered inert: never a 500.

use paylink_domain::roles::Role;
use serde_json::{json, Value};

use crate::both;
use crate::buyer::*;
use crate::helpers::*;

/// Inputs an attacker tries, each with what must never show raw in a page.
const PAYLOADS: &[&str] = &[
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "javascript:alert(document.cookie)",
    "'; DROP TABLE products; --",
    "' OR '1'='1",
    "../../../../etc/passwd",
    "..%2F..%2Fpaylink.key",
    "line one\r\nSet-Cookie: pwned=1",
    "tab\there\u{0}nul",
    "\u{202e}gnp.exe",
    "{{7*7}}${7*7}<%= 7*7 %>",
    "😀 ünïcödé ﷽",
];

/// Markup a payload must never add to a page.
const RAW: &[&str] = &["<script>alert", "<img src=x", "onerror=alert(1)>"];

fn assert_inert(page: &str, what: &str) {
    for raw in RAW {
        assert!(!page.contains(raw), "{what}: {raw} rendered raw");
    }
}

/// A 200 whose stored field reads back exactly as typed, or a 400 that
/// names the field; anything else fails.
fn stored_or_refused(r: &Resp, field: &str, typed: &str, read: impl Fn(&Value) -> Value) -> bool {
    match r.status {
        200 => {
            assert_eq!(read(&r.body), json!(typed), "{field} not stored as typed");
            true
        }
        400 => {
            assert!(r.body["error"]["message"].is_string(), "{:?}", r.body);
            false
        }
        other => panic!("{field} = {typed:?} answered {other}: {:?}", r.body),
    }
}

async fn merchant_fields_are_stored_as_typed_or_refused(app: TestApp) {
    let mut links = Vec::new();
    for (n, p) in PAYLOADS.iter().enumerate() {
        let r = app
            .post(
                "/v1/products",
                json!({"name": p, "description": p, "metadata": {"note": p}}),
            )
            .await;
        if stored_or_refused(&r, "product name", p, |b| b["name"].clone()) {
            assert_eq!(r.body["description"], json!(p));
            assert_eq!(r.body["metadata"]["note"], json!(p));
            let got = app.get(&format!("/v1/products/{}", r.id())).await;
            assert_eq!(got.ok()["name"], json!(p));
            let price = app
                .post(
                    "/v1/prices",
                    json!({"product": r.id(), "currency": "eur", "unit_amount": 1000 + n}),
                )
                .await
                .id();
            let link = app
                .post(
                    "/v1/payment_links",
                    json!({"line_items": [{"price": price, "quantity": 1}], "inactive_message": p, "metadata": {"k": p}}),
                )
                .await;
            if stored_or_refused(&link, "inactive_message", p, |b| {
                b["inactive_message"].clone()
            }) {
                links.push(link.id());
            }
        }
        let c = app
            .post("/v1/coupons", json!({"percent_off": 10, "name": p}))
            .await;
        stored_or_refused(&c, "coupon name", p, |b| b["name"].clone());
        // Promotion codes are letters, digits and - _ only: refused, named.
        let coupon = app.coupon_pct("5").await;
        let code = app
            .post(
                "/v1/promotion_codes",
                json!({"promotion": {"type": "coupon", "coupon": coupon}, "code": p}),
            )
            .await;
        if code.status != 200 {
            code.assert_error(400, Some("code"));
        }
    }
    assert!(!links.is_empty(), "some payloads are valid names");
    // Overlong values are refused with the field named.
    app.post("/v1/products", json!({"name": "x".repeat(5001)}))
        .await
        .assert_error(400, Some("name"));
    app.post(
        "/v1/products",
        json!({"name": "ok", "metadata": {"k": "x".repeat(501)}}),
    )
    .await
    .assert_error(400, Some("metadata[k]"));

    // Rendered inert: the buyer's checkout and unavailable pages.
    let b = Buyer::new();
    for link in &links {
        let page = b.get(&app.url(&format!("/l/{link}"))).await;
        assert_eq!(page.status, 200);
        assert_inert(&page.body, "checkout page");
        app.post(
            &format!("/v1/payment_links/{link}"),
            json!({"active": false}),
        )
        .await
        .ok();
        let gone = b.get(&app.url(&format!("/l/{link}"))).await;
        assert_inert(&gone.body, "unavailable page");
    }
    // And the merchant's own dashboard.
    let mut owner = crate::dash::member(&app, "owner@shop.example", Role::Owner).await;
    for path in [
        "/dashboard/products",
        "/dashboard/payment-links",
        "/dashboard/coupons",
    ] {
        let page = owner.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert_inert(&page.body, path);
    }
    let search = owner
        .get("/dashboard/products?q=%27%20OR%20%271%27%3D%271")
        .await;
    assert_eq!(search.status, 200);
    assert_inert(&search.body, "search");
}
both!(merchant_fields_are_stored_as_typed_or_refused);

async fn buyer_fields_are_refused_beside_the_field_or_stored_as_typed(app: TestApp) {
    let link = app.link_with("eur", 1500, json!({})).await;
    let b = Buyer::new();
    for p in PAYLOADS {
        // As the email: refused beside the field.
        let s = b.open(&app, &link, &[("email", p)]).await;
        assert_eq!(s.status, 422, "email {p:?}: {}", s.body);
        assert!(s.body.contains("id=\"email-error\""), "{}", s.body);
        assert_inert(&s.body, "checkout with a hostile email");
        // As the promotion code: an error, never a crash.
        let s = b
            .post(
                &app.url(&format!("/l/{link}")),
                &[
                    ("email", "ann@example.com"),
                    ("promotion_code", p),
                    ("action", "apply"),
                ],
            )
            .await;
        assert!(s.status < 500, "promotion code {p:?}: {}", s.status);
        assert_inert(&s.body, "checkout with a hostile code");
        // As the quantity.
        let s = b
            .open(
                &app,
                &link,
                &[("email", "ann@example.com"), ("quantity_0", p)],
            )
            .await;
        assert!(
            s.status < 500 && s.status != 303,
            "quantity {p:?}: {}",
            s.status
        );
        assert_inert(&s.body, "checkout with a hostile quantity");
    }
    // A customer's own details, set by the merchant afterwards.
    let cs = b
        .pay(&app, &link, &[("email", "hostile@example.com")])
        .await;
    let customer = app.get(&format!("/v1/checkout/sessions/{cs}")).await.ok()["customer"]
        .as_str()
        .unwrap()
        .to_string();
    let mut owner = crate::dash::member(&app, "owner@shop.example", Role::Owner).await;
    for p in PAYLOADS {
        let r = app
            .post(
                &format!("/v1/customers/{customer}"),
                json!({"name": p, "phone": p}),
            )
            .await;
        if stored_or_refused(&r, "customer name", p, |b| b["name"].clone()) {
            let page = owner.get(&format!("/dashboard/customers/{customer}")).await;
            assert_eq!(page.status, 200);
            assert_inert(&page.body, "customer page");
        }
    }
}
both!(buyer_fields_are_refused_beside_the_field_or_stored_as_typed);

async fn raw_bytes_and_paths_are_refused_cleanly(app: TestApp) {
    // Non-UTF-8, percent-encoded and raw, in a form and in JSON.
    for (ct, body) in [
        (
            "application/x-www-form-urlencoded",
            b"name=%FF%FE%FD".to_vec(),
        ),
        (
            "application/x-www-form-urlencoded",
            b"name=\xff\xfe".to_vec(),
        ),
        ("application/json", b"{\"name\":\"\xff\xfe\"}".to_vec()),
        ("application/json", b"{\"name\":\"\\ud800\"}".to_vec()),
        (
            "application/x-www-form-urlencoded",
            b"name[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[=x".to_vec(),
        ),
        (
            "application/json",
            format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
        ),
    ] {
        let r = app
            .send(
                app.client
                    .post(app.url("/v1/products"))
                    .bearer_auth(&app.key)
                    .header("content-type", ct)
                    .body(body.clone()),
            )
            .await;
        assert_eq!(
            r.status,
            400,
            "{ct} {:?}: {:?}",
            String::from_utf8_lossy(&body),
            r.body
        );
        assert_eq!(r.body["error"]["type"], "invalid_request_error");
    }
    // Path traversal, encoded or not, finds nothing.
    for path in [
        "/files/..%2F..%2Fpaylink.key",
        "/files/%2e%2e/%2e%2e/paylink.db",
        "/v1/products/..%2F..%2Fpaylink.key",
        "/assets/..%2Fpaylink.key",
        "/l/..%2F..%2Fetc%2Fpasswd",
    ] {
        let r = app
            .client
            .get(app.url(path))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert!(matches!(status, 400 | 403 | 404), "{path}: {status}");
        assert!(
            !text.contains("root:") && !text.contains("SQLite format"),
            "{path}"
        );
    }
}
both!(raw_bytes_and_paths_are_refused_cleanly);
