use crate::both;
use crate::helpers::*;

async fn promotion_code_lifecycle(app: TestApp) {
    let coupon = app.coupon_pct("20").await;
    let r = app
        .post("/v1/promotion_codes", json!({"code": "Spring-20", "promotion": {"type": "coupon", "coupon": coupon}, "max_redemptions": 10, "expires_at": 1_795_100_000, "restrictions": {"minimum_amount": 1000, "minimum_amount_currency": "eur", "first_time_transaction": true}, "metadata": {"campaign": "spring"}}))
        .await;
    let p = r.ok().clone();
    let id = p["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("promo_"));
    assert_eq!(p["code"], "Spring-20");
    assert_eq!(p["promotion"], json!({"type": "coupon", "coupon": coupon}));
    assert_eq!(
        p["restrictions"],
        json!({"first_time_transaction": true, "minimum_amount": 1000, "minimum_amount_currency": "eur"})
    );
    assert_eq!(p["active"], true);
    assert_eq!(p["times_redeemed"], 0);
    assert_eq!(app.get(&format!("/v1/promotion_codes/{id}")).await.ok(), &p);

    // Codes are unique per account whatever the letter case.
    app.post(
        "/v1/promotion_codes",
        json!({"code": "SPRING-20", "promotion": {"type": "coupon", "coupon": coupon}}),
    )
    .await
    .assert_error(400, Some("code"));
    // The older top-level `coupon` is accepted; a code is generated when omitted.
    let g = app
        .post("/v1/promotion_codes", json!({"coupon": coupon}))
        .await;
    let code = g.ok()["code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 8);
    assert!(code
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));

    let by_code = app.get("/v1/promotion_codes?code=spring-20").await;
    assert_eq!(by_code.ok()["data"].as_array().unwrap().len(), 1);
    assert_eq!(by_code.body["data"][0]["id"], id.as_str());
    assert_eq!(
        app.get(&format!("/v1/promotion_codes?coupon={coupon}"))
            .await
            .ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let up = app
        .post(
            &format!("/v1/promotion_codes/{id}"),
            json!({"active": false, "metadata": {"campaign": ""}}),
        )
        .await;
    assert_eq!(up.ok()["active"], false);
    assert_eq!(up.body["metadata"], json!({}));
    assert_eq!(
        app.get("/v1/promotion_codes?active=false").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.post(&format!("/v1/promotion_codes/{id}"), json!({"code": "X"}))
        .await
        .assert_error(400, Some("code"));

    // Another account may use the same code.
    let (_, other) = app.other_account().await;
    let oc = app
        .post_as(&other, "/v1/coupons", json!({"percent_off": 5}))
        .await
        .id();
    app.post_as(
        &other,
        "/v1/promotion_codes",
        json!({"code": "SPRING-20", "promotion": {"type": "coupon", "coupon": oc}}),
    )
    .await
    .ok();
}
both!(promotion_code_lifecycle);

async fn promotion_code_bad_input(app: TestApp) {
    let coupon = app
        .post(
            "/v1/coupons",
            json!({"percent_off": 10, "redeem_by": 1_795_050_000}),
        )
        .await
        .id();
    let promo = |extra: serde_json::Value| {
        let mut base = json!({"promotion": {"type": "coupon", "coupon": coupon}});
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    };
    let cases: Vec<(serde_json::Value, &str, u16)> = vec![
        (json!({}), "promotion[coupon]", 400),
        (
            json!({"promotion": {"type": "coupon", "coupon": "nope"}}),
            "promotion[coupon]",
            400,
        ),
        (
            json!({"promotion": {"coupon": coupon}}),
            "promotion[type]",
            400,
        ),
        (
            json!({"promotion": {"type": "gift", "coupon": coupon}}),
            "promotion[type]",
            400,
        ),
        (
            json!({"promotion": {"type": "coupon", "coupon": coupon}, "coupon": coupon}),
            "coupon",
            400,
        ),
        (promo(json!({"code": "has space"})), "code", 400),
        (promo(json!({"code": "x".repeat(501)})), "code", 400),
        (promo(json!({"max_redemptions": 0})), "max_redemptions", 400),
        (promo(json!({"expires_at": 10})), "expires_at", 400),
        (
            promo(json!({"expires_at": 1_795_060_000})),
            "expires_at",
            400,
        ),
        (
            promo(json!({"restrictions": {"minimum_amount": 100}})),
            "restrictions[minimum_amount_currency]",
            400,
        ),
        (
            promo(json!({"restrictions": {"minimum_amount_currency": "usd"}})),
            "restrictions[minimum_amount]",
            400,
        ),
        (
            promo(
                json!({"restrictions": {"minimum_amount": 100, "minimum_amount_currency": "xxx"}}),
            ),
            "restrictions[minimum_amount_currency]",
            400,
        ),
        (
            promo(json!({"restrictions": {"first_time_transaction": "sometimes"}})),
            "restrictions[first_time_transaction]",
            400,
        ),
        (
            promo(json!({"restrictions": {"currency_options": {"eur": {"minimum_amount": 5}}}})),
            "restrictions[currency_options]",
            400,
        ),
        (promo(json!({"customer": "cus_1"})), "customer", 400),
    ];
    for (params, param, status) in cases {
        app.post("/v1/promotion_codes", params)
            .await
            .assert_error(status, Some(param));
    }
    assert_eq!(
        app.get("/v1/promotion_codes").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}
both!(promotion_code_bad_input);
