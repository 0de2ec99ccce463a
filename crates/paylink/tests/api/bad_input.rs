//! Malformed requests get a Stripe-shaped 4xx, never a 500, and change
//! nothing.

use crate::both;
use crate::helpers::*;

async fn malformed_bodies(app: TestApp) {
    let post_raw = |ct: &'static str, body: Vec<u8>| {
        app.client
            .post(app.url("/v1/products"))
            .bearer_auth(&app.key)
            .header("content-type", ct)
            .body(body)
    };
    let r = app
        .send(post_raw("application/json", b"{\"name\": ".to_vec()))
        .await;
    r.assert_error(400, None);
    let r = app
        .send(post_raw("application/json", b"[\"name\"]".to_vec()))
        .await;
    r.assert_error(400, None);
    let r = app.send(post_raw("text/plain", b"name=x".to_vec())).await;
    r.assert_error(400, None);
    let r = app
        .send(post_raw(
            "application/x-www-form-urlencoded",
            b"name=a&name=b".to_vec(),
        ))
        .await;
    r.assert_error(400, Some("name"));
    let r = app
        .send(post_raw(
            "application/x-www-form-urlencoded",
            b"name=a&metadata=x&metadata[k]=v".to_vec(),
        ))
        .await;
    r.assert_error(400, Some("metadata[k]"));
    let r = app
        .send(post_raw(
            "application/x-www-form-urlencoded",
            b"name[=a".to_vec(),
        ))
        .await;
    r.assert_error(400, Some("name["));
    let r = app
        .send(post_raw(
            "application/x-www-form-urlencoded",
            vec![b'a'; 300 * 1024],
        ))
        .await;
    r.assert_error(413, None);
    let r = app
        .send(post_raw(
            "application/x-www-form-urlencoded",
            b"name=%FF%FE".to_vec(),
        ))
        .await;
    assert!(r.status == 200 || r.status == 400, "{r:?}");
    let r = app
        .send(
            app.client
                .post(app.url("/v1/products?name=x"))
                .bearer_auth(&app.key)
                .form(&[("name", "y")]),
        )
        .await;
    r.assert_error(400, None);
    let deep = format!("name=a&metadata{}=1", "[a]".repeat(10));
    let r = app
        .send(post_raw(
            "application/x-www-form-urlencoded",
            deep.into_bytes(),
        ))
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    let products = app.get("/v1/products").await;
    assert!(products.ok()["data"].as_array().unwrap().len() <= 1);
}
both!(malformed_bodies);

async fn unknown_routes_and_methods(app: TestApp) {
    let r = app.get("/v1/charges").await;
    r.assert_error(404, None);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Unrecognized request URL (GET: /v1/charges)"));
    let r = app
        .send(
            app.client
                .put(app.url("/v1/products"))
                .bearer_auth(&app.key),
        )
        .await;
    // A known URL with a method it does not take: Stripe's 404 (the SDKs
    // raise InvalidRequestError), naming the method and path.
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.body["error"]["type"], "invalid_request_error");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Unrecognized request URL (PUT: /v1/products)"));
    let r = app
        .send(
            app.client
                .get(app.url("/v1/products"))
                .bearer_auth(&app.key)
                .header("stripe-account", "acct_x"),
        )
        .await;
    r.assert_error(400, None);
}
both!(unknown_routes_and_methods);

/// A battery of hostile values into every parameter of every POST
/// endpoint: each answer is a 2xx or a 4xx with Stripe's error shape.
async fn hostile_values_never_500(app: TestApp) {
    let price = app.price("usd", 1000).await;
    let coupon = app.coupon_pct("10").await;
    let link = app
        .post(
            "/v1/payment_links",
            json!({"line_items": [{"price": price, "quantity": 1}]}),
        )
        .await
        .id();
    let hostile = [
        "",
        " ",
        "-1",
        "0",
        "1e309",
        "99999999999999999999999999",
        "NaN",
        "true",
        "null",
        "[]",
        "{}",
        "\u{0}",
        "'; DROP TABLE products; --",
        "<script>alert(1)</script>",
        "🙂🙂🙂",
        "%00",
        "../../etc/passwd",
        "4242424242424242",
    ];
    let paths = [
        (
            "/v1/products".to_string(),
            vec![
                "name",
                "active",
                "description",
                "images[0]",
                "metadata[k]",
                "url",
                "id",
            ],
        ),
        (
            "/v1/prices".to_string(),
            vec![
                "currency",
                "unit_amount",
                "product",
                "custom_unit_amount[enabled]",
                "custom_unit_amount[minimum]",
                "product_data[name]",
                "nickname",
            ],
        ),
        (
            "/v1/coupons".to_string(),
            vec![
                "percent_off",
                "amount_off",
                "currency",
                "duration",
                "max_redemptions",
                "redeem_by",
                "name",
                "id",
            ],
        ),
        (
            "/v1/promotion_codes".to_string(),
            vec![
                "code",
                "coupon",
                "promotion[coupon]",
                "promotion[type]",
                "max_redemptions",
                "expires_at",
                "restrictions[minimum_amount]",
            ],
        ),
        (
            "/v1/payment_links".to_string(),
            vec![
                "line_items[0][price]",
                "line_items[0][quantity]",
                "line_items[0][adjustable_quantity][maximum]",
                "after_completion[type]",
                "restrictions[completed_sessions][limit]",
                "custom_fields[0][key]",
                "submit_type",
            ],
        ),
        (
            format!("/v1/payment_links/{link}"),
            vec![
                "active",
                "line_items[0][id]",
                "line_items[0][quantity]",
                "inactive_message",
                "metadata",
                "restrictions",
            ],
        ),
        (format!("/v1/coupons/{coupon}"), vec!["name", "metadata"]),
        (
            format!("/v1/prices/{price}"),
            vec!["active", "nickname", "lookup_key"],
        ),
    ];
    for (path, params) in &paths {
        for param in params {
            for value in hostile {
                let body = encode(&[(param.to_string(), value.to_string())]);
                let r = app
                    .send(
                        app.client
                            .post(app.url(path))
                            .bearer_auth(&app.key)
                            .header("content-type", "application/x-www-form-urlencoded")
                            .body(body),
                    )
                    .await;
                assert!(r.status < 500, "{path} {param}={value:?}: {r:?}");
                if r.status >= 400 {
                    assert!(
                        r.body["error"]["message"].is_string(),
                        "{path} {param}={value:?}: {r:?}"
                    );
                }
            }
        }
    }
    // Nothing secret-looking was echoed into an error as a card number.
    let r = app
        .post(
            "/v1/products",
            json!({"name": "a", "bogus": "4242424242424242"}),
        )
        .await;
    r.assert_error(400, Some("bogus"));
}
both!(hostile_values_never_500);

/// A write that fails midway (a unique constraint) leaves nothing behind
/// that blocks the next one: failed and good writes alternate, all answered.
async fn failed_writes_do_not_block_later_ones(app: TestApp) {
    let coupon = app.coupon_pct("5").await;
    app.post(
        "/v1/promotion_codes",
        json!({"code": "TAKEN", "coupon": coupon}),
    )
    .await
    .ok();
    for i in 0..20 {
        app.post(
            "/v1/promotion_codes",
            json!({"code": "TAKEN", "coupon": coupon}),
        )
        .await
        .assert_error(400, Some("code"));
        app.post("/v1/products", json!({"name": format!("after {i}")}))
            .await
            .ok();
    }
    assert_eq!(
        app.get("/v1/products?limit=100").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
}
both!(failed_writes_do_not_block_later_ones);

/// Ids are typed where they enter: a path id of another kind of object
/// (or of none) is Stripe's 404 naming the object the path is about, on
/// every object route; a refund's `payment_intent` likewise names its
/// parameter; the CLI refuses an `--account` that is not an account id.
async fn ids_of_another_kind_name_the_object(app: TestApp) {
    let price = app.price("eur", 500).await;
    let product = app.product("Mug").await;
    for (path, object, id) in [
        (format!("/v1/prices/{product}"), "price", product.clone()),
        (
            format!("/v1/payment_links/{price}"),
            "payment_link",
            price.clone(),
        ),
        (
            "/v1/customers/cus_".to_string(),
            "customer",
            "cus_".to_string(),
        ),
        (
            "/v1/checkout/sessions/pi_123".to_string(),
            "checkout.session",
            "pi_123".to_string(),
        ),
        (
            "/v1/payment_intents/cs_123".to_string(),
            "payment_intent",
            "cs_123".to_string(),
        ),
        (
            "/v1/refunds/re_a%20b".to_string(),
            "refund",
            "re_a b".to_string(),
        ),
        (
            "/v1/promotion_codes/coupon_1".to_string(),
            "promotion_code",
            "coupon_1".to_string(),
        ),
    ] {
        let r = app.get(&path).await;
        r.assert_error(404, Some("id"));
        assert_eq!(r.body["error"]["code"], "resource_missing", "{path}");
        assert_eq!(
            r.body["error"]["message"],
            format!("No such {object}: '{id}'"),
            "{path}"
        );
    }
    // Updates and actions are refused the same way, and change nothing.
    let r = app
        .post(
            &format!("/v1/payment_links/{price}"),
            json!({"active": "false"}),
        )
        .await;
    r.assert_error(404, Some("id"));
    let r = app
        .post(
            "/v1/refunds",
            json!({"payment_intent": price, "amount": 100}),
        )
        .await;
    r.assert_error(400, Some("payment_intent"));
    assert_eq!(
        r.body["error"]["message"],
        format!("No such payment_intent: '{price}'")
    );
    // Products keep merchant-chosen ids: any well-formed id is looked up.
    let r = app.get("/v1/products/my-own-id").await;
    r.assert_error(404, Some("id"));
    assert_eq!(r.body["error"]["message"], "No such product: 'my-own-id'");
    let o = app.run_cli(&["keys", "create", "--account", "cus_123", "--mode", "test"]);
    assert!(!o.ok);
    assert!(
        o.stderr.contains("'cus_123' is not an account id (acct_…)"),
        "{}",
        o.stderr
    );
}
both!(ids_of_another_kind_name_the_object);

/// Stripe's `error.code` for each kind of bad input, as the SDKs and
/// merchants' error handling read it.
async fn errors_carry_stripes_codes(app: TestApp) {
    let code = |r: &Resp| r.body["error"]["code"].as_str().map(str::to_string);
    // A parameter Stripe does not know here.
    let r = app
        .post("/v1/products", json!({"name": "A", "colour": "red"}))
        .await;
    r.assert_error(400, Some("colour"));
    assert_eq!(code(&r).as_deref(), Some("parameter_unknown"));
    assert_eq!(
        r.body["error"]["message"],
        "Received unknown parameter: colour"
    );
    // With Stripe's page for the code.
    assert_eq!(
        r.body["error"]["doc_url"],
        "https://stripe.com/docs/error-codes/parameter-unknown"
    );
    // A required one left out, or sent empty.
    for body in [json!({}), json!({"name": ""})] {
        let r = app.post("/v1/products", body).await;
        r.assert_error(400, Some("name"));
        assert_eq!(code(&r).as_deref(), Some("parameter_missing"));
    }
    let product = app.product("Codes").await;
    // Not an integer.
    let r = app
        .post(
            "/v1/prices",
            json!({"product": product, "currency": "eur", "unit_amount": "12.5"}),
        )
        .await;
    r.assert_error(400, Some("unit_amount"));
    assert_eq!(code(&r).as_deref(), Some("parameter_invalid_integer"));
    assert_eq!(r.body["error"]["message"], "Invalid integer: 12.5");
    // JSON's 70.0 is the integer 70; 70.5 is not an integer.
    let p = app
        .post_json(
            "/v1/prices",
            json!({"product": product, "currency": "eur", "unit_amount": 70.0}),
        )
        .await;
    assert_eq!(p.ok()["unit_amount"], 70);
    let r = app
        .post_json(
            "/v1/prices",
            json!({"product": product, "currency": "eur", "unit_amount": 70.5}),
        )
        .await;
    assert_eq!(
        code(&r).as_deref(),
        Some("parameter_invalid_integer"),
        "{r:?}"
    );
    // An optional parameter that can't be unset, sent empty.
    let r = app
        .post(
            "/v1/prices",
            json!({"product": product, "currency": "eur", "unit_amount": ""}),
        )
        .await;
    r.assert_error(400, Some("unit_amount"));
    assert_eq!(code(&r).as_deref(), Some("parameter_invalid_empty"));
    // A retrieve of nothing names the path's id.
    let r = app.get("/v1/products/prod_nothing").await;
    r.assert_error(404, Some("id"));
    assert_eq!(code(&r).as_deref(), Some("resource_missing"));
    // An object named in a parameter that does not exist: 400, naming it.
    let r = app
        .post(
            "/v1/payment_links",
            json!({"line_items": [{"price": "price_nothing", "quantity": 1}]}),
        )
        .await;
    r.assert_error(400, Some("line_items[0][price]"));
    assert_eq!(code(&r).as_deref(), Some("resource_missing"));
    assert_eq!(r.body["error"]["message"], "No such price: 'price_nothing'");
}
both!(errors_carry_stripes_codes);

/// An object named in a parameter that does not exist is a 400
/// `resource_missing` naming that parameter, whichever endpoint.
async fn missing_references_are_400_resource_missing(app: TestApp) {
    let product = app.product("Refs").await;
    for (path, body, param) in [
        (
            "/v1/prices".to_string(),
            json!({"product": "prod_nope", "currency": "eur", "unit_amount": 100}),
            "product",
        ),
        (
            format!("/v1/products/{product}"),
            json!({"default_price": "price_nope"}),
            "default_price",
        ),
        (
            "/v1/refunds".to_string(),
            json!({"payment_intent": "pi_nope"}),
            "payment_intent",
        ),
    ] {
        let r = app.post(&path, body).await;
        r.assert_error(400, Some(param));
        assert_eq!(r.body["error"]["code"], "resource_missing", "{path}: {r:?}");
    }
}
both!(missing_references_are_400_resource_missing);
