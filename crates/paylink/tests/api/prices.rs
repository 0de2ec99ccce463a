use crate::both;
use crate::helpers::*;

async fn price_lifecycle(app: TestApp) {
    let product = app.product("Ticket").await;
    let r = app.post("/v1/prices", json!({"product": product, "currency": "EUR", "unit_amount": 1999, "nickname": "Standard", "lookup_key": "std", "metadata": {"tier": "a"}})).await;
    let p = r.ok().clone();
    let id = p["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("price_"));
    assert_eq!(p["currency"], "eur");
    assert_eq!(p["unit_amount"], 1999);
    assert_eq!(p["unit_amount_decimal"], "1999");
    assert_eq!(p["type"], "one_time");
    assert_eq!(p["product"], product.as_str());
    assert_eq!(p["custom_unit_amount"], serde_json::Value::Null);
    assert_eq!(app.get(&format!("/v1/prices/{id}")).await.ok(), &p);

    let expanded = app.get(&format!("/v1/prices/{id}?expand[]=product")).await;
    assert_eq!(expanded.ok()["product"]["name"], "Ticket");

    let up = app
        .post(
            &format!("/v1/prices/{id}"),
            json!({"active": false, "nickname": "", "metadata": {"tier": "b"}}),
        )
        .await;
    assert_eq!(up.ok()["active"], false);
    assert_eq!(up.body["nickname"], serde_json::Value::Null);
    assert_eq!(up.body["metadata"], json!({"tier": "b"}));
    assert_eq!(up.body["unit_amount"], 1999);
    // The amount can't change after creation.
    app.post(&format!("/v1/prices/{id}"), json!({"unit_amount": 5}))
        .await
        .assert_error(400, Some("unit_amount"));

    // Lists filter by product, active and currency.
    let other = app.price("usd", 300).await;
    let by_product = app.get(&format!("/v1/prices?product={product}")).await;
    assert_eq!(by_product.ok()["data"].as_array().unwrap().len(), 1);
    let active = app.get("/v1/prices?active=true").await;
    let ids: Vec<_> = active.ok()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec![other.clone()]);
    assert_eq!(
        app.get("/v1/prices?currency=USD").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let exp = app.get("/v1/prices?expand[]=data.product").await;
    assert!(exp.ok()["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["product"]["object"] == "product"));
}
both!(price_lifecycle);

async fn price_with_product_data_and_custom_amount(app: TestApp) {
    let r = app.post("/v1/prices", json!({"currency": "jpy", "unit_amount": 500, "product_data": {"name": "Tea", "metadata": {"origin": "uji"}}})).await;
    let product = r.ok()["product"].as_str().unwrap().to_string();
    let prod = app.get(&format!("/v1/products/{product}")).await;
    assert_eq!(prod.ok()["name"], "Tea");
    assert_eq!(prod.body["metadata"], json!({"origin": "uji"}));

    let d = app.post("/v1/prices", json!({"currency": "eur", "product": product, "custom_unit_amount": {"enabled": true, "minimum": 500, "maximum": 100000, "preset": 2000}})).await;
    assert_eq!(
        d.ok()["custom_unit_amount"],
        json!({"minimum": 500, "maximum": 100000, "preset": 2000})
    );
    assert_eq!(d.body["unit_amount"], serde_json::Value::Null);
    // Zero-decimal and three-decimal currencies are accepted in minor units.
    app.post(
        "/v1/prices",
        json!({"currency": "bhd", "unit_amount": 1250, "product": product}),
    )
    .await
    .ok();
}
both!(price_with_product_data_and_custom_amount);

async fn price_bad_input(app: TestApp) {
    let product = app.product("x").await;
    let cases: Vec<(serde_json::Value, &str, u16)> = vec![
        (
            json!({"product": product, "unit_amount": 100}),
            "currency",
            400,
        ),
        (
            json!({"product": product, "currency": "xyz", "unit_amount": 100}),
            "currency",
            400,
        ),
        (
            json!({"product": product, "currency": "euro", "unit_amount": 100}),
            "currency",
            400,
        ),
        (
            json!({"product": product, "currency": "usd"}),
            "unit_amount",
            400,
        ),
        (
            json!({"product": product, "currency": "usd", "unit_amount": -1}),
            "unit_amount",
            400,
        ),
        (
            json!({"product": product, "currency": "usd", "unit_amount": 100000000}),
            "unit_amount",
            400,
        ),
        (
            json!({"product": product, "currency": "usd", "unit_amount": "12.5"}),
            "unit_amount",
            400,
        ),
        (
            json!({"product": product, "currency": "usd", "unit_amount": "99999999999999999999999"}),
            "unit_amount",
            400,
        ),
        (
            json!({"product": product, "currency": "usd", "unit_amount": 100, "custom_unit_amount": {"enabled": true}}),
            "custom_unit_amount",
            400,
        ),
        (
            json!({"product": product, "currency": "usd", "custom_unit_amount": {"enabled": false}}),
            "custom_unit_amount[enabled]",
            400,
        ),
        (
            json!({"product": product, "currency": "usd", "custom_unit_amount": {"enabled": true, "minimum": 1000, "maximum": 10}}),
            "custom_unit_amount[maximum]",
            400,
        ),
        (
            json!({"product": product, "currency": "usd", "custom_unit_amount": {"enabled": true, "minimum": 10}}),
            "custom_unit_amount[minimum]",
            400,
        ),
        (
            json!({"product": product, "currency": "usd", "custom_unit_amount": {"enabled": true, "preset": 100, "maximum": 60}}),
            "custom_unit_amount[preset]",
            400,
        ),
        (
            json!({"product": product, "currency": "usd", "custom_unit_amount": {"enabled": true, "step": 1}}),
            "custom_unit_amount[step]",
            400,
        ),
        (
            json!({"currency": "usd", "unit_amount": 100}),
            "product",
            400,
        ),
        (
            json!({"product": "prod_missing", "currency": "usd", "unit_amount": 100}),
            "product",
            400,
        ),
        (
            json!({"product": product, "product_data": {"name": "y"}, "currency": "usd", "unit_amount": 100}),
            "product_data",
            400,
        ),
        (
            json!({"product_data": {"name": ""}, "currency": "usd", "unit_amount": 100}),
            "product_data[name]",
            400,
        ),
        (
            json!({"product": product, "currency": "usd", "unit_amount": 100, "recurring": {"interval": "month"}}),
            "recurring",
            400,
        ),
        (
            json!({"product": product, "currency": "usd", "unit_amount": 100, "lookup_key": "k".repeat(201)}),
            "lookup_key",
            400,
        ),
        (
            json!({"product": product, "currency": "usd", "unit_amount": 100, "expand": ["nope"]}),
            "expand[0]",
            400,
        ),
    ];
    for (params, param, status) in cases {
        app.post("/v1/prices", params)
            .await
            .assert_error(status, Some(param));
    }
    app.get("/v1/prices/price_missing")
        .await
        .assert_error(404, Some("id"));
    app.get("/v1/prices?currency=zzz")
        .await
        .assert_error(400, Some("currency"));
    assert_eq!(
        app.get("/v1/prices").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        app.get("/v1/products").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
both!(price_bad_input);
