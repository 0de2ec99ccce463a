use crate::both;
use crate::helpers::*;

async fn coupon_lifecycle(app: TestApp) {
    let c = app.post("/v1/coupons", json!({"percent_off": "12.5", "duration": "once", "max_redemptions": 5, "redeem_by": 1_796_000_000, "name": "Launch", "metadata": {"a": "1"}})).await;
    let c = c.ok().clone();
    let id = c["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("coupon_"));
    assert_eq!(c["percent_off"], 12.5);
    assert_eq!(c["amount_off"], serde_json::Value::Null);
    assert_eq!(c["duration"], "once");
    assert_eq!(c["times_redeemed"], 0);
    assert_eq!(c["valid"], true);
    assert_eq!(app.get(&format!("/v1/coupons/{id}")).await.ok(), &c);

    // Validity follows redeem_by on the injected clock.
    app.clock.advance(1_796_000_000 - 1_795_000_000);
    assert_eq!(
        app.get(&format!("/v1/coupons/{id}")).await.ok()["valid"],
        false
    );

    let a = app
        .post_json(
            "/v1/coupons",
            json!({"id": "FIVEOFF", "amount_off": 500, "currency": "usd"}),
        )
        .await;
    assert_eq!(a.ok()["id"], "FIVEOFF");
    assert_eq!(a.body["amount_off"], 500);
    assert_eq!(a.body["currency"], "usd");
    assert_eq!(a.body["percent_off"], serde_json::Value::Null);
    app.post("/v1/coupons", json!({"id": "FIVEOFF", "percent_off": 5}))
        .await
        .assert_error(400, Some("id"));

    let up = app
        .post(
            &format!("/v1/coupons/{id}"),
            json!({"name": "", "metadata": ""}),
        )
        .await;
    assert_eq!(up.ok()["name"], serde_json::Value::Null);
    assert_eq!(up.body["metadata"], json!({}));
    app.post(&format!("/v1/coupons/{id}"), json!({"percent_off": 50}))
        .await
        .assert_error(400, Some("percent_off"));

    assert_eq!(
        app.get("/v1/coupons").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        app.delete(&format!("/v1/coupons/{id}")).await.ok(),
        &json!({"id": id, "object": "coupon", "deleted": true})
    );
    app.get(&format!("/v1/coupons/{id}"))
        .await
        .assert_error(404, Some("id"));
    app.delete(&format!("/v1/coupons/{id}"))
        .await
        .assert_error(404, Some("id"));
    assert_eq!(
        app.get("/v1/coupons").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
both!(coupon_lifecycle);

async fn coupon_bad_input(app: TestApp) {
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (json!({}), "percent_off"),
        (json!({"percent_off": 0}), "percent_off"),
        (json!({"percent_off": "100.01"}), "percent_off"),
        (json!({"percent_off": "12.345"}), "percent_off"),
        (json!({"percent_off": "-5"}), "percent_off"),
        (json!({"percent_off": "abc"}), "percent_off"),
        (
            json!({"percent_off": 10, "amount_off": 100, "currency": "usd"}),
            "amount_off",
        ),
        (json!({"percent_off": 10, "currency": "usd"}), "currency"),
        (json!({"amount_off": 100}), "currency"),
        (json!({"amount_off": 0, "currency": "usd"}), "amount_off"),
        (json!({"amount_off": 100, "currency": "nope"}), "currency"),
        (
            json!({"percent_off": 10, "duration": "forever"}),
            "duration",
        ),
        (
            json!({"percent_off": 10, "max_redemptions": 0}),
            "max_redemptions",
        ),
        (json!({"percent_off": 10, "redeem_by": 1_000}), "redeem_by"),
        (json!({"percent_off": 10, "name": "n".repeat(41)}), "name"),
        (
            json!({"percent_off": 10, "applies_to": {"products": ["p"]}}),
            "applies_to",
        ),
    ];
    for (params, param) in cases {
        app.post("/v1/coupons", params)
            .await
            .assert_error(400, Some(param));
    }
    assert_eq!(
        app.get("/v1/coupons").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}
both!(coupon_bad_input);
