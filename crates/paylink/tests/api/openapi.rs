//! The OpenAPI document is served, covers every route, and describes the
//! objects the server really sends.

use paylink_web::openapi::{components, conforms, Out};

use crate::both;
use crate::helpers::*;

fn shape(name: &str) -> Out {
    components()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, o)| o)
        .unwrap()
}

#[track_caller]
fn check(v: &serde_json::Value, component: &str) {
    conforms(v, &shape(component), component).unwrap_or_else(|e| panic!("{e}"));
}

async fn openapi_document_matches_responses(app: TestApp) {
    // Served without authentication.
    let doc = app.send(app.client.get(app.url("/v1/openapi.json"))).await;
    let doc = doc.ok().clone();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for e in paylink_web::api::endpoints() {
        let m = e.method.as_str().to_ascii_lowercase();
        assert!(
            paths[e.path].get(&m).is_some(),
            "{} {} missing from the document",
            e.method,
            e.path
        );
    }
    assert_eq!(
        paths
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum::<usize>(),
        paylink_web::api::endpoints().len()
    );
    assert!(
        doc["paths"]["/v1/products"]["post"]["requestBody"]["content"]
            ["application/x-www-form-urlencoded"]["schema"]["properties"]["name"]
            .is_object()
    );
    assert_eq!(
        doc["paths"]["/v1/products"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["additionalProperties"],
        false
    );

    // Every kind of object the API sends conforms to its documented shape.
    let product = app
        .post(
            "/v1/products",
            json!({"name": "Doc", "images": ["https://x.example/i.png"], "metadata": {"a": "b"}}),
        )
        .await;
    check(product.ok(), "product");
    let pid = product.id();
    let price = app
        .post(
            "/v1/prices",
            json!({"product": pid, "currency": "eur", "unit_amount": 100, "expand": ["product"]}),
        )
        .await;
    check(price.ok(), "price");
    let custom = app
        .post(
            "/v1/prices",
            json!({"product": pid, "currency": "eur", "custom_unit_amount": {"enabled": true}}),
        )
        .await;
    check(custom.ok(), "price");
    let coupon = app.post("/v1/coupons", json!({"percent_off": "7.5"})).await;
    check(coupon.ok(), "coupon");
    check(
        app.post(
            "/v1/coupons",
            json!({"amount_off": 100, "currency": "eur", "max_redemptions": 3}),
        )
        .await
        .ok(),
        "coupon",
    );
    let promo = app.post("/v1/promotion_codes", json!({"coupon": coupon.id(), "restrictions": {"minimum_amount": 100, "minimum_amount_currency": "eur"}})).await;
    check(promo.ok(), "promotion_code");
    let link = app
        .post("/v1/payment_links", json!({"line_items": [{"price": price.id(), "quantity": 1, "adjustable_quantity": {"enabled": true}}], "custom_fields": [{"key": "k", "label": {"type": "custom", "custom": "K"}, "type": "numeric", "numeric": {"maximum_length": 5}}], "restrictions": {"completed_sessions": {"limit": 3}}, "expand": ["line_items"]}))
        .await;
    check(link.ok(), "payment_link");
    check(
        app.get(&format!("/v1/payment_links/{}", link.id()))
            .await
            .ok(),
        "payment_link",
    );
    for item in app
        .get(&format!("/v1/payment_links/{}/line_items", link.id()))
        .await
        .ok()["data"]
        .as_array()
        .unwrap()
    {
        check(item, "item");
    }
    for (list, component) in [
        ("/v1/products", "product"),
        ("/v1/prices", "price"),
        ("/v1/coupons", "coupon"),
        ("/v1/promotion_codes", "promotion_code"),
        ("/v1/payment_links", "payment_link"),
    ] {
        for x in app.get(list).await.ok()["data"].as_array().unwrap() {
            check(x, component);
        }
    }
    check(
        app.delete(&format!("/v1/coupons/{}", coupon.id()))
            .await
            .ok(),
        "deleted_coupon",
    );
    let p2 = app.product("gone").await;
    check(
        app.delete(&format!("/v1/products/{p2}")).await.ok(),
        "deleted_product",
    );
    // The payments side: a paid session, its payment, customer and refund.
    let plink = app.link_with("eur", 1500, json!({"allow_promotion_codes": true, "billing_address_collection": "required", "custom_fields": [{"key": "note", "label": {"type": "custom", "custom": "Note"}, "type": "text", "optional": true}]})).await;
    let b = crate::buyer::Buyer::new();
    let sid = b
        .pay(
            &app,
            &plink,
            &[
                ("email", "doc@example.com"),
                ("name", "Doc"),
                ("line1", "1 Main"),
                ("city", "Town"),
                ("postal_code", "1000"),
                ("country", "BE"),
                ("custom_note", "hi"),
            ],
        )
        .await;
    let s = app
        .get(&format!("/v1/checkout/sessions/{sid}?expand[]=line_items"))
        .await;
    check(s.ok(), "checkout.session");
    for x in app
        .get("/v1/checkout/sessions?expand[]=data.line_items")
        .await
        .ok()["data"]
        .as_array()
        .unwrap()
    {
        check(x, "checkout.session");
    }
    for x in app
        .get(&format!("/v1/checkout/sessions/{sid}/line_items"))
        .await
        .ok()["data"]
        .as_array()
        .unwrap()
    {
        check(x, "item");
    }
    let pi = s.body["payment_intent"].as_str().unwrap().to_string();
    check(
        app.get(&format!("/v1/payment_intents/{pi}")).await.ok(),
        "payment_intent",
    );
    let cus = s.body["customer"].as_str().unwrap().to_string();
    check(
        app.get(&format!("/v1/customers/{cus}")).await.ok(),
        "customer",
    );
    check(
        app.post("/v1/refunds", json!({"payment_intent": pi, "amount": 100}))
            .await
            .ok(),
        "refund",
    );
    for (list, component) in [
        ("/v1/payment_intents", "payment_intent"),
        ("/v1/customers", "customer"),
        ("/v1/refunds", "refund"),
    ] {
        for x in app.get(list).await.ok()["data"].as_array().unwrap() {
            check(x, component);
        }
    }
    check(app.get("/v1/account").await.ok(), "account");
    check(
        app.delete(&format!("/v1/customers/{cus}")).await.ok(),
        "deleted_customer",
    );
    check(&app.get("/v1/products/nope").await.body, "error");
    check(&app.post("/v1/products", json!({})).await.body, "error");
}
both!(openapi_document_matches_responses);
