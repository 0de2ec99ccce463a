use crate::both;
use crate::helpers::*;

async fn payment_link_lifecycle(app: TestApp) {
    let price = app.price("eur", 2500).await;
    let price2 = app.price("eur", 900).await;
    let r = app
        .post(
            "/v1/payment_links",
            json!({
                "line_items": [
                    {"price": price, "quantity": 2, "adjustable_quantity": {"enabled": true}},
                    {"price": price2, "quantity": 1},
                ],
                "allow_promotion_codes": true,
                "after_completion": {"type": "redirect", "redirect": {"url": "https://shop.example/thanks?session={CHECKOUT_SESSION_ID}"}},
                "custom_fields": [
                    {"key": "size", "label": {"type": "custom", "custom": "Size"}, "type": "dropdown", "dropdown": {"options": [{"label": "Small", "value": "S"}, {"label": "Large", "value": "L"}]}},
                    {"key": "engraving", "label": {"type": "custom", "custom": "Engraving"}, "type": "text", "optional": true, "text": {"maximum_length": 20}},
                ],
                "inactive_message": "Sold out!",
                "restrictions": {"completed_sessions": {"limit": 50}},
                "billing_address_collection": "required",
                "phone_number_collection": {"enabled": true},
                "submit_type": "donate",
                "metadata": {"campaign": "summer"},
                "expand": ["line_items"],
            }),
        )
        .await;
    let l = r.ok().clone();
    let id = l["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("plink_"));
    assert_eq!(l["url"], format!("{}/l/{id}", app.base));
    assert_eq!(l["active"], true);
    assert_eq!(l["currency"], "eur");
    assert_eq!(l["allow_promotion_codes"], true);
    assert_eq!(l["after_completion"]["type"], "redirect");
    assert_eq!(
        l["after_completion"]["redirect"]["url"],
        "https://shop.example/thanks?session={CHECKOUT_SESSION_ID}"
    );
    assert_eq!(l["custom_fields"].as_array().unwrap().len(), 2);
    assert_eq!(l["custom_fields"][1]["optional"], true);
    assert_eq!(
        l["restrictions"],
        json!({"completed_sessions": {"count": 0, "limit": 50}})
    );
    assert_eq!(l["phone_number_collection"], json!({"enabled": true}));
    assert_eq!(l["submit_type"], "donate");
    assert_eq!(l["billing_address_collection"], "required");
    assert_eq!(l["inactive_message"], "Sold out!");
    let items = l["line_items"]["data"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0]["adjustable_quantity"],
        json!({"enabled": true, "minimum": 1, "maximum": 99})
    );
    assert_eq!(items[0]["quantity"], 2);
    assert_eq!(items[0]["amount_subtotal"], 5000);
    assert_eq!(items[0]["price"]["id"], price.as_str());
    assert_eq!(items[0]["description"], "Thing");
    assert_eq!(items[1]["adjustable_quantity"], serde_json::Value::Null);

    // Retrieve without expand has no line_items; with expand it has them.
    let plain = app.get(&format!("/v1/payment_links/{id}")).await;
    assert!(plain.ok().get("line_items").is_none());
    let mut without = l.clone();
    without.as_object_mut().unwrap().remove("line_items");
    assert_eq!(plain.ok(), &without);
    assert_eq!(
        app.get(&format!("/v1/payment_links/{id}?expand[]=line_items"))
            .await
            .ok(),
        &l
    );

    // Line items listing paginates.
    let li = app
        .get(&format!("/v1/payment_links/{id}/line_items?limit=1"))
        .await;
    assert_eq!(li.ok()["has_more"], true);
    let first = li.body["data"][0]["id"].as_str().unwrap().to_string();
    let li2 = app
        .get(&format!(
            "/v1/payment_links/{id}/line_items?limit=1&starting_after={first}"
        ))
        .await;
    assert_eq!(li2.ok()["has_more"], false);
    assert_eq!(li2.body["data"][0]["price"]["id"], price2.as_str());

    // Update: quantities, removal of an item, deactivation, unsetting.
    let up = app
        .post(&format!("/v1/payment_links/{id}"), json!({"line_items": [{"id": first, "quantity": 3}], "active": false, "restrictions": "", "inactive_message": "", "custom_fields": "", "metadata": {"campaign": "autumn"}, "expand": ["line_items"]}))
        .await;
    let up = up.ok();
    assert_eq!(up["active"], false);
    assert_eq!(up["restrictions"], serde_json::Value::Null);
    assert_eq!(up["inactive_message"], serde_json::Value::Null);
    assert_eq!(up["custom_fields"], json!([]));
    assert_eq!(up["metadata"], json!({"campaign": "autumn"}));
    assert_eq!(up["line_items"]["data"].as_array().unwrap().len(), 1);
    assert_eq!(up["line_items"]["data"][0]["quantity"], 3);
    assert_eq!(up["line_items"]["data"][0]["id"], first.as_str());

    // A link is never deleted.
    let d = app.delete(&format!("/v1/payment_links/{id}")).await;
    assert_eq!(d.status, 404, "{d:?}");
    assert_eq!(d.body["error"]["type"], "invalid_request_error");

    // Lists filter on active and expand line items.
    let other = app
        .post(
            "/v1/payment_links",
            json!({"line_items": [{"price": price, "quantity": 1}]}),
        )
        .await
        .id();
    let active = app
        .get("/v1/payment_links?active=true&expand[]=data.line_items")
        .await;
    assert_eq!(active.ok()["data"].as_array().unwrap().len(), 1);
    assert_eq!(active.body["data"][0]["id"], other.as_str());
    assert_eq!(
        active.body["data"][0]["line_items"]["data"][0]["quantity"],
        1
    );
    let defaults = &active.body["data"][0];
    assert_eq!(
        defaults["after_completion"],
        json!({"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": null}, "redirect": null})
    );
    assert_eq!(defaults["allow_promotion_codes"], false);
    assert_eq!(defaults["billing_address_collection"], "auto");
    assert_eq!(defaults["submit_type"], "auto");
    assert_eq!(defaults["restrictions"], serde_json::Value::Null);
}
both!(payment_link_lifecycle);

async fn payment_link_custom_amount_and_json(app: TestApp) {
    let product = app.product("Donation").await;
    let price = app.post("/v1/prices", json!({"product": product, "currency": "usd", "custom_unit_amount": {"enabled": true, "minimum": 100}})).await.id();
    let r = app.post_json("/v1/payment_links", json!({"line_items": [{"price": price, "quantity": 1}], "submit_type": "donate", "after_completion": {"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": "Thank you!"}}})).await;
    assert_eq!(
        r.ok()["after_completion"]["hosted_confirmation"]["custom_message"],
        "Thank you!"
    );
    let fixed = app.price("usd", 100).await;
    app.post(
        "/v1/payment_links",
        json!({"line_items": [{"price": price, "quantity": 1}, {"price": fixed, "quantity": 1}]}),
    )
    .await
    .assert_error(400, Some("line_items[0][price]"));
    app.post(
        "/v1/payment_links",
        json!({"line_items": [{"price": price, "quantity": 2}]}),
    )
    .await
    .assert_error(400, Some("line_items[0][quantity]"));
}
both!(payment_link_custom_amount_and_json);

async fn payment_link_bad_input(app: TestApp) {
    let price = app.price("eur", 2500).await;
    let usd = app.price("usd", 2500).await;
    let inactive = app.price("eur", 100).await;
    app.post(&format!("/v1/prices/{inactive}"), json!({"active": false}))
        .await
        .ok();
    let item = json!({"price": price, "quantity": 1});
    let with = |extra: serde_json::Value| {
        let mut base = json!({"line_items": [item.clone()]});
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    };
    let field = |key: &str, kind: &str| json!({"key": key, "label": {"type": "custom", "custom": "L"}, "type": kind});
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (json!({}), "line_items"),
        (
            json!({"line_items": (0..21).map(|_| item.clone()).collect::<Vec<_>>()}),
            "line_items",
        ),
        (
            json!({"line_items": [{"quantity": 1}]}),
            "line_items[0][price]",
        ),
        (
            json!({"line_items": [{"price": price}]}),
            "line_items[0][quantity]",
        ),
        (
            json!({"line_items": [{"price": "price_nope", "quantity": 1}]}),
            "line_items[0][price]",
        ),
        (
            json!({"line_items": [{"price": inactive, "quantity": 1}]}),
            "line_items[0][price]",
        ),
        (
            json!({"line_items": [item.clone(), {"price": usd, "quantity": 1}]}),
            "line_items[1][price]",
        ),
        (
            json!({"line_items": [{"price": price, "quantity": 1000}]}),
            "line_items[0][quantity]",
        ),
        (
            json!({"line_items": [{"price": price, "quantity": 0}]}),
            "line_items[0][quantity]",
        ),
        (
            json!({"line_items": [{"price": price, "quantity": 1, "adjustable_quantity": {"enabled": true, "maximum": 1000}}]}),
            "line_items[0][adjustable_quantity][maximum]",
        ),
        (
            json!({"line_items": [{"price": price, "quantity": 1, "adjustable_quantity": {"enabled": true, "minimum": 5, "maximum": 2}}]}),
            "line_items[0][adjustable_quantity][maximum]",
        ),
        (
            json!({"line_items": [{"price": price, "quantity": 20, "adjustable_quantity": {"enabled": true, "maximum": 10}}]}),
            "line_items[0][quantity]",
        ),
        (
            json!({"line_items": [{"price": price, "quantity": 1, "adjustable_quantity": {"maximum": 10}}]}),
            "line_items[0][adjustable_quantity][enabled]",
        ),
        (
            json!({"line_items": [{"price": price, "quantity": 1, "tax_rates": ["x"]}]}),
            "line_items[0][tax_rates]",
        ),
        (
            with(json!({"after_completion": {"type": "redirect"}})),
            "after_completion[redirect]",
        ),
        (
            with(
                json!({"after_completion": {"type": "redirect", "redirect": {"url": "javascript:alert(1)"}}}),
            ),
            "after_completion[redirect][url]",
        ),
        (
            with(json!({"after_completion": {"type": "elsewhere"}})),
            "after_completion[type]",
        ),
        (
            with(
                json!({"after_completion": {"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": "m".repeat(501)}}}),
            ),
            "after_completion[hosted_confirmation][custom_message]",
        ),
        (
            with(
                json!({"custom_fields": [field("a", "text"), field("b", "text"), field("c", "text"), field("d", "text")]}),
            ),
            "custom_fields",
        ),
        (
            with(json!({"custom_fields": [field("a", "dropdown")]})),
            "custom_fields[0][dropdown]",
        ),
        (
            with(json!({"custom_fields": [field("a b", "text")]})),
            "custom_fields[0][key]",
        ),
        (
            with(json!({"custom_fields": [field("a", "text"), field("a", "numeric")]})),
            "custom_fields[1][key]",
        ),
        (
            with(json!({"custom_fields": [field("a", "color")]})),
            "custom_fields[0][type]",
        ),
        (
            with(json!({"restrictions": {"completed_sessions": {"limit": 0}}})),
            "restrictions[completed_sessions][limit]",
        ),
        (
            with(json!({"billing_address_collection": "sometimes"})),
            "billing_address_collection",
        ),
        (with(json!({"submit_type": "buy"})), "submit_type"),
        (
            with(json!({"allow_promotion_codes": "1"})),
            "allow_promotion_codes",
        ),
        (
            with(json!({"inactive_message": "x".repeat(501)})),
            "inactive_message",
        ),
        (with(json!({"expand": ["data.line_items"]})), "expand[0]"),
        (
            with(json!({"shipping_address_collection": {"allowed_countries": ["France"]}})),
            "shipping_address_collection[allowed_countries][0]",
        ),
    ];
    for (params, param) in cases {
        app.post("/v1/payment_links", params)
            .await
            .assert_error(400, Some(param));
    }
    // Empty objects can only be sent as JSON.
    app.post_json(
        "/v1/payment_links",
        with(json!({"restrictions": {"completed_sessions": {}}})),
    )
    .await
    .assert_error(400, Some("restrictions[completed_sessions][limit]"));
    app.post_json("/v1/payment_links", json!({"line_items": []}))
        .await
        .assert_error(400, Some("line_items"));
    assert_eq!(
        app.get("/v1/payment_links").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    let link = app
        .post("/v1/payment_links", json!({"line_items": [item.clone()]}))
        .await
        .id();
    app.post(
        &format!("/v1/payment_links/{link}"),
        json!({"line_items": [{"id": "li_nope", "quantity": 2}]}),
    )
    .await
    .assert_error(400, Some("line_items[0][id]"));
    app.post(
        &format!("/v1/payment_links/{link}"),
        json!({"line_items": [{"price": price}]}),
    )
    .await
    .assert_error(400, Some("line_items[0][price]"));
    app.post(
        &format!("/v1/payment_links/{link}"),
        json!({"active": "no"}),
    )
    .await
    .assert_error(400, Some("active"));
    app.get("/v1/payment_links/plink_nope")
        .await
        .assert_error(404, Some("id"));
    app.get("/v1/payment_links/plink_nope/line_items")
        .await
        .assert_error(404, Some("id"));
}
both!(payment_link_bad_input);

async fn payment_link_slugs(app: TestApp) {
    let price = app.price("eur", 1200).await;
    let r = app
        .post(
            "/v1/payment_links",
            json!({"line_items": [{"price": price, "quantity": 1}], "slug": "summer-sale"}),
        )
        .await;
    let id = r.id();
    assert_eq!(r.body["slug"], "summer-sale");
    assert_eq!(r.body["url"], app.url("/l/summer-sale"));
    // The page answers at the slug and at the id; a buyer can pay through it.
    let b = crate::buyer::Buyer::new();
    assert_eq!(b.get(&app.url("/l/summer-sale")).await.status, 200);
    assert_eq!(b.get(&app.url(&format!("/l/{id}"))).await.status, 200);
    let s = b
        .checkout(&app, "summer-sale", &[("email", "slug@example.com")])
        .await;
    assert_eq!(s.status, 303, "{}", s.body);
    // Unique on the instance, whatever the account.
    let (_, other) = app.other_account().await;
    let op = app
        .post_as(
            &other,
            "/v1/prices",
            json!({"currency": "eur", "unit_amount": 100, "product_data": {"name": "x"}}),
        )
        .await
        .id();
    app.post_as(
        &other,
        "/v1/payment_links",
        json!({"line_items": [{"price": op, "quantity": 1}], "slug": "summer-sale"}),
    )
    .await
    .assert_error(400, Some("slug"));
    for bad in [
        "ab",
        "Summer",
        "summer_sale",
        "-summer",
        "summer-",
        "a--b",
        "été-sale",
    ] {
        app.post(
            "/v1/payment_links",
            json!({"line_items": [{"price": price, "quantity": 1}], "slug": bad}),
        )
        .await
        .assert_error(400, Some("slug"));
    }
    // Renamed, then unset: the URL follows.
    let up = app
        .post(
            &format!("/v1/payment_links/{id}"),
            json!({"slug": "autumn-sale"}),
        )
        .await;
    assert_eq!(up.ok()["url"], app.url("/l/autumn-sale"));
    assert_eq!(b.get(&app.url("/l/summer-sale")).await.status, 404);
    let other_link = app
        .post(
            "/v1/payment_links",
            json!({"line_items": [{"price": price, "quantity": 1}], "slug": "winter"}),
        )
        .await
        .id();
    app.post(
        &format!("/v1/payment_links/{other_link}"),
        json!({"slug": "autumn-sale"}),
    )
    .await
    .assert_error(400, Some("slug"));
    let unset = app
        .post(&format!("/v1/payment_links/{id}"), json!({"slug": ""}))
        .await;
    assert!(unset.ok()["slug"].is_null());
    assert_eq!(unset.body["url"], app.url(&format!("/l/{id}")));
}
both!(payment_link_slugs);

/// Line items hold their price as an object (both SDKs type it so), on
/// links and on sessions, and `data.price.product` expands it.
async fn line_items_hold_price_objects_and_expand_products(app: TestApp) {
    let link = app.link_with("eur", 1100, json!({})).await;
    let items = app
        .get(&format!("/v1/payment_links/{link}/line_items"))
        .await
        .ok()
        .clone();
    let price = &items["data"][0]["price"];
    assert_eq!(price["object"], "price");
    assert!(price["product"].is_string());
    let product = price["product"].as_str().unwrap().to_string();
    let expanded = app
        .get(&format!(
            "/v1/payment_links/{link}/line_items?expand[]=data.price.product"
        ))
        .await
        .ok()
        .clone();
    assert_eq!(
        expanded["data"][0]["price"]["product"]["id"],
        product.as_str()
    );
    assert_eq!(expanded["data"][0]["price"]["product"]["object"], "product");
    let l = app
        .get(&format!(
            "/v1/payment_links/{link}?expand[]=line_items.data.price.product"
        ))
        .await
        .ok()
        .clone();
    assert_eq!(
        l["line_items"]["data"][0]["price"]["product"]["id"],
        product.as_str()
    );
    let cs = crate::buyer::Buyer::new()
        .pay(&app, &link, &[("email", "items@example.com")])
        .await;
    let items = app
        .get(&format!("/v1/checkout/sessions/{cs}/line_items"))
        .await
        .ok()
        .clone();
    assert_eq!(items["data"][0]["price"]["id"], price["id"]);
    assert_eq!(items["data"][0]["price"]["unit_amount"], 1100);
    let deep = app
        .get(&format!(
            "/v1/checkout/sessions/{cs}?expand[]=line_items.data.price.product"
        ))
        .await
        .ok()
        .clone();
    assert_eq!(
        deep["line_items"]["data"][0]["price"]["product"]["id"],
        product.as_str()
    );
    let listed = app
        .get("/v1/checkout/sessions?expand[]=data.line_items")
        .await
        .ok()
        .clone();
    assert_eq!(
        listed["data"][0]["line_items"]["data"][0]["price"]["object"],
        "price"
    );
    app.get(&format!(
        "/v1/checkout/sessions/{cs}?expand[]=line_items.data.nope"
    ))
    .await
    .assert_error(400, Some("expand[0]"));
}
both!(line_items_hold_price_objects_and_expand_products);

/// Parameters at their default or "off" values, as copied Stripe snippets
/// send them, are accepted and echoed; values that would promise what
/// paylink doesn't do are refused, naming the parameter.
async fn default_and_off_parameters_are_accepted(app: TestApp) {
    let price = app.price("eur", 1000).await;
    let l = app
        .post(
            "/v1/payment_links",
            json!({
                "line_items": [{"price": price, "quantity": 1}],
                "automatic_tax": {"enabled": false},
                "invoice_creation": {"enabled": false},
                "tax_id_collection": {"enabled": false},
                "customer_creation": "if_required",
                "payment_method_types": ["card"],
                "payment_method_collection": "always",
            }),
        )
        .await
        .ok()
        .clone();
    assert_eq!(l["automatic_tax"]["enabled"], false);
    assert_eq!(l["invoice_creation"]["enabled"], false);
    assert_eq!(l["tax_id_collection"]["enabled"], false);
    assert_eq!(l["payment_method_types"], json!(["card"]));
    assert_eq!(l["payment_method_collection"], "always");
    assert_eq!(
        l["customer_creation"], "always",
        "every paying buyer becomes a customer"
    );
    assert_eq!(l["shipping_options"], json!([]));
    assert_eq!(l["custom_text"]["submit"], serde_json::Value::Null);
    assert!(l["shipping_address_collection"].is_null());
    let id = l["id"].as_str().unwrap();
    app.post(
        &format!("/v1/payment_links/{id}"),
        json!({"automatic_tax": {"enabled": false}, "payment_method_types": ["card"]}),
    )
    .await
    .ok();
    for (params, param) in [
        (
            json!({"automatic_tax": {"enabled": true}}),
            "automatic_tax[enabled]",
        ),
        (
            json!({"invoice_creation": {"enabled": true}}),
            "invoice_creation[enabled]",
        ),
        (
            json!({"tax_id_collection": {"enabled": true}}),
            "tax_id_collection[enabled]",
        ),
        (
            json!({"payment_method_types": ["paypal"]}),
            "payment_method_types[0]",
        ),
        (
            json!({"payment_method_collection": "if_required"}),
            "payment_method_collection",
        ),
        (
            json!({"customer_creation": "sometimes"}),
            "customer_creation",
        ),
    ] {
        let mut body = params.clone();
        body["line_items"] = json!([{"price": price, "quantity": 1}]);
        let r = app.post("/v1/payment_links", body).await;
        r.assert_error(400, Some(param));
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(param.split('[').next().unwrap()),
            "{}",
            r.body
        );
        app.post(&format!("/v1/payment_links/{id}"), params)
            .await
            .assert_error(400, Some(param));
    }

    // More off values Stripe's snippets send, on links and sessions.
    let price_eur = app.price("eur", 1200).await;
    let l2 = app
        .post(
            "/v1/payment_links",
            json!({
                "line_items": [{"price": price_eur, "quantity": 1}],
                "currency": "eur",
                "automatic_tax": {"enabled": false, "liability": {"type": "self"}},
                "name_collection": {"business": {"enabled": false}, "individual": {"enabled": false, "optional": true}},
                "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
                "payment_intent_data": {"capture_method": "automatic"},
            }),
        )
        .await
        .ok()
        .clone();
    assert_eq!(
        l2["payment_intent_data"]["capture_method"], "automatic",
        "{l2}"
    );
    app.post(
        "/v1/checkout/sessions",
        json!({
            "mode": "payment", "line_items": [{"price": price_eur, "quantity": 1}],
            "adaptive_pricing": {"enabled": false},
            "after_expiration": {"recovery": {"enabled": false}},
            "saved_payment_method_options": {"payment_method_save": "disabled"},
            "name_collection": {"individual": {"enabled": false}},
            "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        }),
    )
    .await
    .ok();
    for (path, extra, param) in [
        ("/v1/payment_links", json!({"currency": "usd"}), "currency"),
        (
            "/v1/payment_links",
            json!({"name_collection": {"business": {"enabled": true}}}),
            "name_collection[business][enabled]",
        ),
        (
            "/v1/payment_links",
            json!({"payment_method_options": {"card": {"request_three_d_secure": "any"}}}),
            "payment_method_options[card][request_three_d_secure]",
        ),
        (
            "/v1/checkout/sessions",
            json!({"adaptive_pricing": {"enabled": true}}),
            "adaptive_pricing[enabled]",
        ),
        (
            "/v1/checkout/sessions",
            json!({"after_expiration": {"recovery": {"enabled": true}}}),
            "after_expiration[recovery][enabled]",
        ),
    ] {
        let mut body = json!({"line_items": [{"price": price_eur, "quantity": 1}]});
        if path.contains("sessions") {
            body["mode"] = json!("payment");
        }
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        app.post(path, body).await.assert_error(400, Some(param));
    }

    // The same for products, prices and checkout sessions: their defaults
    // as snippets send them, and what they would promise refused.
    let product = app
        .post(
            "/v1/products",
            json!({"name": "Service", "type": "service", "default_price_data": {"currency": "eur", "unit_amount": 700, "tax_behavior": "unspecified"}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(product["type"], "service");
    let pid = product["id"].as_str().unwrap();
    let price = app
        .post(
            "/v1/prices",
            json!({"product": pid, "currency": "eur", "unit_amount": 900, "billing_scheme": "per_unit", "tax_behavior": "unspecified"}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(price["billing_scheme"], "per_unit");
    assert_eq!(price["tax_behavior"], "unspecified");
    // unit_amount_decimal, as a whole number of minor units.
    let decimal = app
        .post(
            "/v1/prices",
            json!({"product": pid, "currency": "eur", "unit_amount_decimal": "1999.00"}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(decimal["unit_amount"], 1999);
    assert_eq!(decimal["unit_amount_decimal"], "1999");
    for bad in ["19.99", "-5", "99999999999999999999", "1e3"] {
        app.post(
            "/v1/prices",
            json!({"product": pid, "currency": "eur", "unit_amount_decimal": bad}),
        )
        .await
        .assert_error(400, Some("unit_amount_decimal"));
    }
    let inline = app
        .post(
            "/v1/checkout/sessions",
            json!({"mode": "payment", "line_items": [{"quantity": 2, "price_data": {
                "currency": "eur", "unit_amount_decimal": "750", "product_data": {"name": "Decimal"}}}]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(inline["amount_total"], 1500);
    let s = app
        .post(
            "/v1/checkout/sessions",
            json!({"mode": "payment", "currency": "EUR", "line_items": [{"quantity": 1, "price_data": {
                "currency": "eur", "unit_amount": 1200, "tax_behavior": "unspecified",
                "product_data": {"name": "Poster", "description": "A2, matte", "images": ["https://shop.example/poster.png"]},
            }}]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(s["currency"], "eur");
    let items = app
        .get(&format!(
            "/v1/checkout/sessions/{}/line_items?expand[]=data.price.product",
            s["id"].as_str().unwrap()
        ))
        .await
        .ok()
        .clone();
    let made = &items["data"][0]["price"]["product"];
    assert_eq!(made["description"], "A2, matte");
    assert_eq!(made["images"], json!(["https://shop.example/poster.png"]));
    for (path, params, param) in [
        (
            "/v1/products",
            json!({"name": "Box", "type": "good"}),
            "type",
        ),
        (
            "/v1/prices",
            json!({"product": pid, "currency": "eur", "unit_amount": 1, "billing_scheme": "tiered"}),
            "billing_scheme",
        ),
        (
            "/v1/prices",
            json!({"product": pid, "currency": "eur", "unit_amount": 100, "tax_behavior": "exclusive"}),
            "tax_behavior",
        ),
        (
            "/v1/checkout/sessions",
            json!({"mode": "payment", "currency": "usd", "line_items": [{"price": price["id"], "quantity": 1}]}),
            "currency",
        ),
    ] {
        app.post(path, params).await.assert_error(400, Some(param));
    }
}
both!(default_and_off_parameters_are_accepted);

/// `custom_text` on a link and on an API-created session: the texts are
/// shown beside the Pay button (escaped), echoed as Stripe's
/// `{message}` objects, changed and unset; texts for features paylink
/// does not offer are refused.
async fn custom_text_is_shown_beside_the_pay_button(app: TestApp) {
    let link = app
        .link_with(
            "eur",
            900,
            json!({"custom_text": {
                "submit": {"message": "Ships within <b>2</b> days."},
                "after_submit": {"message": "Questions? hello@shop.example"},
            }}),
        )
        .await;
    let l = app
        .get(&format!("/v1/payment_links/{link}"))
        .await
        .ok()
        .clone();
    assert_eq!(
        l["custom_text"]["submit"]["message"],
        "Ships within <b>2</b> days."
    );
    assert_eq!(
        l["custom_text"]["after_submit"]["message"],
        "Questions? hello@shop.example"
    );
    assert_eq!(
        l["custom_text"]["shipping_address"],
        serde_json::Value::Null
    );
    let page = crate::buyer::Buyer::new()
        .get(&app.url(&format!("/l/{link}")))
        .await;
    assert!(
        page.body
            .contains("Ships within &lt;b&gt;2&lt;/b&gt; days."),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"after-submit-text\""));
    // Changed, then unset.
    let up = app
        .post(
            &format!("/v1/payment_links/{link}"),
            json!({"custom_text": {"submit": {"message": "Now 1 day."}}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(up["custom_text"]["submit"]["message"], "Now 1 day.");
    assert_eq!(
        up["custom_text"]["after_submit"]["message"], "Questions? hello@shop.example",
        "a text not given stays"
    );
    let one = app
        .post(
            &format!("/v1/payment_links/{link}"),
            json!({"custom_text": {"after_submit": ""}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(one["custom_text"]["after_submit"], serde_json::Value::Null);
    assert_eq!(one["custom_text"]["submit"]["message"], "Now 1 day.");
    let gone = app
        .post(
            &format!("/v1/payment_links/{link}"),
            json!({"custom_text": ""}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(gone["custom_text"]["submit"], serde_json::Value::Null);
    // A checkbox label without the checkbox (no consent_collection):
    // refused.
    app.post(
        &format!("/v1/payment_links/{link}"),
        json!({"custom_text": {"terms_of_service_acceptance": {"message": "x"}}}),
    )
    .await
    .assert_error(400, Some("custom_text[terms_of_service_acceptance]"));
    app.post(
        &format!("/v1/payment_links/{link}"),
        json!({"custom_text": {"submit": {"message": "x".repeat(1201)}}}),
    )
    .await
    .assert_error(400, Some("custom_text[submit][message]"));
    // An API-created session's page shows its own.
    let price = app.price("eur", 700).await;
    let s = app
        .post(
            "/v1/checkout/sessions",
            json!({"mode": "payment", "line_items": [{"price": price, "quantity": 1}],
                   "custom_text": {"submit": {"message": "Gift wrapped for free."}}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(
        s["custom_text"]["submit"]["message"],
        "Gift wrapped for free."
    );
    let page = crate::buyer::Buyer::new()
        .get(s["url"].as_str().unwrap())
        .await;
    assert!(
        page.body.contains("Gift wrapped for free."),
        "{}",
        page.body
    );
}
both!(custom_text_is_shown_beside_the_pay_button);
