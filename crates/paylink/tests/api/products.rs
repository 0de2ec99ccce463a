use crate::both;
use crate::helpers::*;

async fn product_lifecycle(app: TestApp) {
    let r = app
        .post("/v1/products", json!({"name": "T-shirt", "description": "Organic cotton", "images": ["https://img.example/t.png"], "metadata": {"sku": "TS-1"}, "url": "https://shop.example/t"}))
        .await;
    let p = r.ok().clone();
    let id = p["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("prod_") && id.len() == 27, "{id}");
    assert_eq!(p["object"], "product");
    assert_eq!(p["active"], true);
    assert_eq!(p["livemode"], false);
    assert_eq!(p["images"], json!(["https://img.example/t.png"]));
    assert_eq!(p["metadata"], json!({"sku": "TS-1"}));
    assert_eq!(p["created"], 1_795_000_000);

    let got = app.get(&format!("/v1/products/{id}")).await;
    assert_eq!(got.ok(), &p);

    app.clock.advance(60);
    let up = app.post(&format!("/v1/products/{id}"), json!({"name": "Tee", "description": "", "metadata": {"sku": "", "color": "red"}, "active": false})).await;
    let up = up.ok();
    assert_eq!(up["name"], "Tee");
    assert_eq!(up["description"], serde_json::Value::Null);
    assert_eq!(up["metadata"], json!({"color": "red"}));
    assert_eq!(up["active"], false);
    assert_eq!(up["updated"], 1_795_000_060);
    assert_eq!(up["created"], 1_795_000_000);

    // Filter by active.
    let other = app.product("Mug").await;
    let active = app.get("/v1/products?active=true").await;
    let ids: Vec<_> = active.ok()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec![other.clone()]);

    // Delete without prices removes it.
    let d = app.delete(&format!("/v1/products/{other}")).await;
    assert_eq!(
        d.ok(),
        &json!({"id": other, "object": "product", "deleted": true})
    );
    app.get(&format!("/v1/products/{other}"))
        .await
        .assert_error(404, Some("id"));
    app.delete(&format!("/v1/products/{other}"))
        .await
        .assert_error(404, Some("id"));

    // Delete with a price archives instead.
    app.post(
        "/v1/prices",
        json!({"product": id, "currency": "usd", "unit_amount": 100}),
    )
    .await
    .ok();
    app.post(&format!("/v1/products/{id}"), json!({"active": true}))
        .await
        .ok();
    let d = app.delete(&format!("/v1/products/{id}")).await;
    assert_eq!(
        d.ok(),
        &json!({"id": id, "object": "product", "deleted": false})
    );
    let still = app.get(&format!("/v1/products/{id}")).await;
    assert_eq!(still.ok()["active"], false);
}
both!(product_lifecycle);

async fn product_json_body_and_custom_id(app: TestApp) {
    let r = app
        .post_json(
            "/v1/products",
            json!({"id": "my-shirt", "name": "Shirt", "active": false, "metadata": {"n": 1}}),
        )
        .await;
    assert_eq!(r.ok()["id"], "my-shirt");
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["metadata"], json!({"n": "1"}));
    app.post("/v1/products", json!({"id": "my-shirt", "name": "Again"}))
        .await
        .assert_error(400, Some("id"));
    app.post("/v1/products", json!({"id": "bad id!", "name": "x"}))
        .await
        .assert_error(400, Some("id"));
}
both!(product_json_body_and_custom_id);

async fn product_default_price(app: TestApp) {
    let p = app.product("Book").await;
    let price = app
        .post(
            "/v1/prices",
            json!({"product": p, "currency": "eur", "unit_amount": 1500}),
        )
        .await
        .id();
    let other = app.price("eur", 100).await;
    let r = app
        .post(
            &format!("/v1/products/{p}"),
            json!({"default_price": price}),
        )
        .await;
    assert_eq!(r.ok()["default_price"], price.as_str());
    app.post(
        &format!("/v1/products/{p}"),
        json!({"default_price": other}),
    )
    .await
    .assert_error(400, Some("default_price"));
    app.post(
        &format!("/v1/products/{p}"),
        json!({"default_price": "price_nope"}),
    )
    .await
    .assert_error(400, Some("default_price"));
}
both!(product_default_price);

async fn product_bad_input(app: TestApp) {
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "x".repeat(5001)}), "name"),
        (json!({"name": "a", "colour": "red"}), "colour"),
        (json!({"name": "a", "active": "maybe"}), "active"),
        (json!({"name": "a", "images": ["not a url"]}), "images[0]"),
        (
            json!({"name": "a", "images": ["javascript:alert(1)"]}),
            "images[0]",
        ),
        (
            json!({"name": "a", "images": (0..9).map(|i| format!("https://x.example/{i}.png")).collect::<Vec<_>>()}),
            "images",
        ),
        (json!({"name": "a", "url": "ftp://x"}), "url"),
        (
            json!({"name": "a", "metadata": {"k": "v".repeat(501)}}),
            "metadata[k]",
        ),
        (
            json!({"name": "a", "metadata": (0..51).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()}),
            "metadata",
        ),
        (
            json!({"name": "a", "expand": ["default_price.product"]}),
            "expand[0]",
        ),
    ];
    for (params, param) in cases {
        let r = app.post("/v1/products", params.clone()).await;
        r.assert_error(400, Some(param));
    }
    let long_key = "k".repeat(41);
    let r = app
        .post(
            "/v1/products",
            json!({"name": "a", "metadata": {long_key.clone(): "v"}}),
        )
        .await;
    r.assert_error(400, Some(&format!("metadata[{long_key}]")));
    // Unknown nested param, wrong type on update, unknown object.
    let p = app.product("ok").await;
    app.post(&format!("/v1/products/{p}"), json!({"name": {"a": "b"}}))
        .await
        .assert_error(400, Some("name"));
    app.post(&format!("/v1/products/{p}"), json!({"name": ""}))
        .await
        .assert_error(400, Some("name"));
    app.post("/v1/products/prod_doesnotexist", json!({"name": "x"}))
        .await
        .assert_error(404, Some("id"));
    app.get("/v1/products?active=yes")
        .await
        .assert_error(400, Some("active"));
    app.get("/v1/products?foo=1")
        .await
        .assert_error(400, Some("foo"));
    app.delete(&format!("/v1/products/{p}?force=true"))
        .await
        .assert_error(400, Some("force"));
    // Nothing was created by the failures.
    assert_eq!(
        app.get("/v1/products").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
both!(product_bad_input);

/// `POST /v1/products` with `default_price_data` (the first step of
/// Stripe's Payment Links guide): the product and its price in one
/// transaction, the price its `default_price`, expandable; a bad price
/// names its parameter inside default_price_data and creates nothing.
async fn products_with_default_price_data(app: TestApp) {
    let p = app
        .post(
            "/v1/products",
            json!({"name": "Guide T-shirt", "default_price_data": {"currency": "eur", "unit_amount": 2500, "metadata": {"size": "m"}}, "expand": ["default_price"]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(p["object"], "product");
    let price = &p["default_price"];
    assert_eq!(price["object"], "price");
    assert_eq!(price["unit_amount"], 2500);
    assert_eq!(price["currency"], "eur");
    assert_eq!(price["product"], p["id"]);
    assert_eq!(price["metadata"], json!({"size": "m"}));
    let id = p["id"].as_str().unwrap();
    let plain = app.get(&format!("/v1/products/{id}")).await.ok().clone();
    assert_eq!(plain["default_price"], price["id"]);
    let expanded = app
        .get(&format!("/v1/products/{id}?expand[]=default_price"))
        .await
        .ok()
        .clone();
    assert_eq!(expanded["default_price"], *price);
    let listed = app
        .get("/v1/products?expand[]=data.default_price")
        .await
        .ok()
        .clone();
    assert_eq!(listed["data"][0]["default_price"]["id"], price["id"]);
    // The link of the guide's next step sells that price.
    let link = app
        .post(
            "/v1/payment_links",
            json!({"line_items": [{"price": price["id"], "quantity": 1}]}),
        )
        .await;
    link.ok();
    // Bad price data: refused, naming the parameter; nothing is made.
    let before = app.get("/v1/products?limit=100").await.ok()["data"]
        .as_array()
        .unwrap()
        .len();
    app.post(
        "/v1/products",
        json!({"name": "No price", "default_price_data": {"currency": "eur"}}),
    )
    .await
    .assert_error(400, Some("default_price_data[unit_amount]"));
    app.post(
        "/v1/products",
        json!({"name": "Bad currency", "default_price_data": {"currency": "xyz", "unit_amount": 100}}),
    )
    .await
    .assert_error(400, Some("default_price_data[currency]"));
    app.post(
        "/v1/products",
        json!({"name": "Monthly", "default_price_data": {"currency": "eur", "unit_amount": 100, "recurring": {"interval": "month"}}}),
    )
    .await
    .assert_error(400, Some("default_price_data[recurring]"));
    let after = app.get("/v1/products?limit=100").await.ok()["data"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
    // A JSON body works too (the requests above are form-encoded, as the
    // SDKs send them).
    let j = app
        .post_json(
            "/v1/products",
            json!({"name": "JSON shirt", "default_price_data": {"currency": "usd", "unit_amount": 1000}}),
        )
        .await
        .ok()
        .clone();
    assert!(j["default_price"].as_str().unwrap().starts_with("price_"));
}
both!(products_with_default_price_data);
