//! `POST /v1/checkout/sessions`: sessions the merchant creates through the
//! API (Stripe's Checkout Sessions, mode payment), paid by a buyer on the
//! session's own page, as Stripe's Checkout guide uses them.

use crate::both;
use crate::buyer::*;
use crate::helpers::*;
use serde_json::Value;

async fn session_params(app: &TestApp) -> Value {
    let price = app.price("eur", 1500).await;
    json!({
        "mode": "payment",
        "line_items": [
            {"price": price, "quantity": 2},
            {"price_data": {"currency": "eur", "unit_amount": 500, "product_data": {"name": "Gift wrap"}}, "quantity": 1},
        ],
        "success_url": "https://shop.example/thanks?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.example/cart",
        "client_reference_id": "order-42",
        "customer_email": "buyer@example.com",
        "metadata": {"order": "42"},
        "allow_promotion_codes": true,
        "automatic_tax": {"enabled": false},
        "payment_method_types": ["card"],
        "customer_creation": "always",
        "ui_mode": "hosted",
    })
}

async fn api_sessions_are_paid_on_their_own_page(app: TestApp) {
    let coupon = app.coupon_pct("10").await;
    app.post(
        "/v1/promotion_codes",
        json!({"code": "TEN", "coupon": coupon}),
    )
    .await
    .ok();
    let params = session_params(&app).await;
    let s = app.post("/v1/checkout/sessions", params).await.ok().clone();
    let id = s["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("cs_"), "{id}");
    assert_eq!(s["object"], "checkout.session");
    assert_eq!(s["status"], "open");
    assert_eq!(s["payment_status"], "unpaid");
    assert_eq!(s["mode"], "payment");
    assert_eq!(s["amount_subtotal"], 3500);
    assert_eq!(s["amount_total"], 3500);
    assert_eq!(s["currency"], "eur");
    assert_eq!(s["payment_link"], Value::Null);
    assert_eq!(s["client_reference_id"], "order-42");
    assert_eq!(s["customer_email"], "buyer@example.com");
    assert_eq!(s["metadata"]["order"], "42");
    assert_eq!(
        s["success_url"],
        "https://shop.example/thanks?session={CHECKOUT_SESSION_ID}"
    );
    assert_eq!(s["cancel_url"], "https://shop.example/cart");
    let url = s["url"].as_str().unwrap().to_string();
    assert_eq!(url, app.url(&format!("/c/{id}")));
    // Retrieve answers the same object; its line items hold price objects,
    // the inline one made inactive (as Stripe's price_data).
    let got = app
        .get(&format!("/v1/checkout/sessions/{id}?expand[]=line_items"))
        .await
        .ok()
        .clone();
    let items = got["line_items"]["data"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["quantity"], 2);
    assert_eq!(items[0]["amount_total"], 3000);
    assert_eq!(items[1]["description"], "Gift wrap");
    assert_eq!(items[1]["price"]["active"], false);
    assert_eq!(items[1]["price"]["unit_amount"], 500);
    // Only the merchant's own account sees it.
    let (_, other) = app.other_account().await;
    app.get_as(&other, &format!("/v1/checkout/sessions/{id}"))
        .await
        .assert_error(404, Some("id"));

    // The buyer's page: what is sold, the merchant's email read-only.
    let b = Buyer::new();
    let page = b.get(&url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Gift wrap"), "{}", page.body);
    assert!(page.body.contains("€35.00"), "{}", page.body);
    assert!(page.body.contains("readonly"), "{}", page.body);
    assert!(page.body.contains(&format!("action=\"/c/{id}\"")));
    // A promotion code applies; the email the merchant set is kept.
    let applied = b.post(&url, &[("promo", "ten"), ("action", "apply")]).await;
    assert!(applied.body.contains("€31.50"), "{}", applied.body);
    let submitted = b
        .post(
            &url,
            &[
                ("promo", "TEN"),
                ("email", "someone-else@example.com"),
                ("action", "pay"),
            ],
        )
        .await;
    assert_eq!(submitted.status, 303, "{}", submitted.body);
    let go = submitted.location.unwrap();
    assert_eq!(go, app.url(&format!("/checkout/{id}/go")));
    let sim = b.get(&go).await.location.unwrap();
    assert!(sim.starts_with(&app.sim_base), "{sim}");
    // Submitted once: the page now leads on to the payment, and a second
    // submission changes nothing.
    let again = b.get(&url).await;
    assert_eq!(again.status, 303);
    assert_eq!(
        again.location.unwrap(),
        app.url(&format!("/checkout/{id}/go"))
    );
    let twice = b
        .post(&url, &[("email", "x@example.com"), ("action", "pay")])
        .await;
    assert_eq!(twice.status, 303);
    // Leaving the provider's page goes to the merchant's cancel_url and
    // keeps the session open.
    let left = b.get(&app.url(&format!("/checkout/{id}/cancel"))).await;
    assert_eq!(left.location.unwrap(), "https://shop.example/cart");
    let still = app.get(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(still.ok()["status"], "open");
    assert_eq!(still.ok()["amount_total"], 3150);
    // The buyer pays; the return page sends them to the success_url.
    let paid = b.card(&sim, CARD_OK).await;
    assert_eq!(paid.status, 303, "{}", paid.body);
    let back = b.get(&paid.location.unwrap()).await;
    assert_eq!(
        back.location.unwrap(),
        format!("https://shop.example/thanks?session={id}")
    );
    let done = app
        .get(&format!("/v1/checkout/sessions/{id}"))
        .await
        .ok()
        .clone();
    assert_eq!(done["status"], "complete");
    // The payment intent and the customer expand.
    let expanded = app
        .get(&format!(
            "/v1/checkout/sessions/{id}?expand[]=payment_intent&expand[]=customer"
        ))
        .await
        .ok()
        .clone();
    assert_eq!(expanded["payment_intent"]["id"], done["payment_intent"]);
    assert_eq!(expanded["payment_intent"]["amount"], 3150);
    assert_eq!(expanded["customer"]["id"], done["customer"]);
    assert_eq!(expanded["customer"]["email"], "buyer@example.com");
    let listed = app
        .get("/v1/checkout/sessions?expand[]=data.payment_intent")
        .await
        .ok()
        .clone();
    assert_eq!(
        listed["data"][0]["payment_intent"]["object"],
        "payment_intent"
    );
    app.get(&format!("/v1/checkout/sessions/{id}?expand[]=payment_link"))
        .await
        .assert_error(400, Some("expand[0]"));
    assert_eq!(done["payment_status"], "paid");
    assert_eq!(done["url"], Value::Null);
    assert_eq!(done["amount_total"], 3150);
    assert_eq!(done["total_details"]["amount_discount"], 350);
    assert_eq!(done["customer_details"]["email"], "buyer@example.com");
    assert_eq!(done["client_reference_id"], "order-42");
    let pi = done["payment_intent"].as_str().unwrap();
    let pi = app
        .get(&format!("/v1/payment_intents/{pi}"))
        .await
        .ok()
        .clone();
    assert_eq!(pi["amount"], 3150);
    assert_eq!(pi["status"], "succeeded");
    // The completion is an event, as a link's is.
    let events = app
        .get("/v1/events?type=checkout.session.completed")
        .await
        .ok()
        .clone();
    assert_eq!(events["data"][0]["data"]["object"]["id"], id.as_str());
    // A paid session's page leads to its return page.
    let after = b.get(&url).await;
    assert_eq!(after.location.unwrap(), format!("/checkout/{id}"));
}
both!(api_sessions_are_paid_on_their_own_page);

async fn api_sessions_expire_and_refuse_bad_input(app: TestApp) {
    let params = session_params(&app).await;
    let with = |k: &str, v: Value| {
        let mut p = params.clone();
        p[k] = v;
        p
    };
    let without = |k: &str| {
        let mut p = params.clone();
        p.as_object_mut().unwrap().remove(k);
        p
    };
    let cases = [
        (without("mode"), "mode"),
        (with("mode", json!("subscription")), "mode"),
        (without("line_items"), "line_items"),
        (with("line_items", json!([])), "line_items"),
        (
            with(
                "line_items",
                json!([{"price": "price_nope", "quantity": 1}]),
            ),
            "line_items[0][price]",
        ),
        (
            with("line_items", json!([{"quantity": 1}])),
            "line_items[0][price]",
        ),
        (
            with(
                "line_items",
                json!([{"price_data": {"currency": "eur", "unit_amount": 5}}]),
            ),
            "line_items[0][quantity]",
        ),
        (
            with(
                "line_items",
                json!([{"price_data": {"currency": "eur", "unit_amount": 5, "product": "prod_nope"}, "quantity": 1}]),
            ),
            "line_items[0][price_data][product]",
        ),
        (
            with(
                "line_items",
                json!([{"price_data": {"currency": "xxx", "unit_amount": 5, "product_data": {"name": "A"}}, "quantity": 1}]),
            ),
            "line_items[0][price_data][currency]",
        ),
        (
            with(
                "line_items",
                json!([
                    {"price_data": {"currency": "eur", "unit_amount": 5, "product_data": {"name": "A"}}, "quantity": 1},
                    {"price_data": {"currency": "usd", "unit_amount": 5, "product_data": {"name": "B"}}, "quantity": 1},
                ]),
            ),
            "line_items[1][price]",
        ),
        (
            with("success_url", json!("javascript:alert(1)")),
            "success_url",
        ),
        (with("cancel_url", json!("not a url")), "cancel_url"),
        (
            with("client_reference_id", json!("no spaces allowed")),
            "client_reference_id",
        ),
        (
            with("customer_email", json!("not-an-email")),
            "customer_email",
        ),
        (with("expires_at", json!(app.now() + 60)), "expires_at"),
        (
            with("expires_at", json!(app.now() + 25 * 3600)),
            "expires_at",
        ),
        (
            with("automatic_tax", json!({"enabled": true})),
            "automatic_tax[enabled]",
        ),
        (with("ui_mode", json!("embedded")), "ui_mode"),
    ];
    for (p, param) in cases {
        let r = app.post_json("/v1/checkout/sessions", p).await;
        r.assert_error(400, Some(param));
    }
    let r = app
        .post_json(
            "/v1/checkout/sessions",
            with(
                "line_items",
                json!([{"price": "price_nope", "quantity": 1}]),
            ),
        )
        .await;
    assert_eq!(r.body["error"]["code"], "resource_missing", "{r:?}");
    // Nothing was made by the refused requests.
    let list = app.get("/v1/checkout/sessions").await.ok().clone();
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "{list}");

    // Expired through the API: its page says it is no longer available.
    let s = app
        .post(
            "/v1/checkout/sessions",
            with("expires_at", json!(app.now() + 3600)),
        )
        .await
        .ok()
        .clone();
    assert_eq!(s["expires_at"], app.now() + 3600);
    let id = s["id"].as_str().unwrap();
    let b = Buyer::new();
    assert_eq!(b.get(s["url"].as_str().unwrap()).await.status, 200);
    let expired = app
        .post(&format!("/v1/checkout/sessions/{id}/expire"), json!({}))
        .await
        .ok()
        .clone();
    assert_eq!(expired["status"], "expired");
    assert_eq!(expired["url"], Value::Null);
    let page = b.get(s["url"].as_str().unwrap()).await;
    assert_eq!(page.status, 410, "{}", page.body);
    let submit = b
        .post(
            s["url"].as_str().unwrap(),
            &[("email", "a@example.com"), ("action", "pay")],
        )
        .await;
    assert_eq!(submit.status, 410);
    // A session past its expiry takes no buyer even before the job runs.
    let s = app
        .post("/v1/checkout/sessions", params.clone())
        .await
        .ok()
        .clone();
    app.clock.advance(24 * 3600 + 1);
    let late = b
        .post(
            s["url"].as_str().unwrap(),
            &[("email", "a@example.com"), ("action", "pay")],
        )
        .await;
    assert_eq!(late.status, 410, "{}", late.body);
    // An unknown session has no page.
    assert_eq!(b.get(&app.url("/c/cs_test_doesnotexist")).await.status, 404);
}
both!(api_sessions_expire_and_refuse_bad_input);

/// What a buyer's browser does to a session page: a double click on Pay,
/// leaving the provider's page with no cancel_url, a code used up by
/// another buyer; and what the merchant set is echoed back as set.
async fn api_sessions_survive_double_clicks_and_leaving(app: TestApp) {
    let price = app.price("eur", 1000).await;
    let coupon = app.coupon_pct("50").await;
    app.post(
        "/v1/promotion_codes",
        json!({"code": "ONCE", "coupon": coupon, "max_redemptions": 1}),
    )
    .await
    .ok();
    let field = json!({"key": "engraving", "label": {"type": "custom", "custom": "Engraving"}, "type": "text", "optional": true});
    let make = || {
        app.post_json(
            "/v1/checkout/sessions",
            json!({
                "mode": "payment",
                "ui_mode": "hosted_page",
                "allow_promotion_codes": true,
                "line_items": [{"price": price, "quantity": 1}],
                "custom_fields": [field],
            }),
        )
    };
    let s = make().await.ok().clone();
    let id = s["id"].as_str().unwrap().to_string();
    let url = s["url"].as_str().unwrap().to_string();
    assert_eq!(s["custom_fields"][0]["label"]["custom"], "Engraving");
    assert_eq!(s["custom_fields"][0]["optional"], true);
    assert_eq!(s["custom_fields"][0]["text"]["value"], Value::Null);
    assert_eq!(s["customer_email"], Value::Null);
    // Before anyone submits, the return page leads to the session's page.
    let b = Buyer::new();
    let early = b.get(&app.url(&format!("/checkout/{id}"))).await;
    assert_eq!(early.location.as_deref(), Some(format!("/c/{id}").as_str()));
    // Five clicks at once: one submission, every click on to its payment.
    let form = [
        ("email", "clicker@example.com"),
        ("custom_engraving", "A.B."),
        ("promo", "ONCE"),
        ("action", "pay"),
    ];
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let (client, url) = (b.client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let clicker = Buyer { client };
            clicker.post(&url, &form).await
        }));
    }
    let mut clicks = Vec::new();
    for t in tasks {
        clicks.push(t.await.unwrap());
    }
    for c in &clicks {
        assert_eq!(c.status, 303, "{}", c.body);
        assert_eq!(
            c.location.as_deref(),
            Some(app.url(&format!("/checkout/{id}/go")).as_str())
        );
    }
    let sim = b
        .get(&app.url(&format!("/checkout/{id}/go")))
        .await
        .location
        .unwrap();
    assert!(sim.starts_with(&app.sim_base), "{sim}");
    // The code is held by this buyer: another session's buyer is told.
    let other = make().await.ok().clone();
    let refused = Buyer::new()
        .post(
            other["url"].as_str().unwrap(),
            &[
                ("email", "late@example.com"),
                ("promo", "ONCE"),
                ("action", "pay"),
            ],
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("This promotion code has been used up."),
        "{}",
        refused.body
    );
    // Leaving the provider's page without a cancel_url: a page that says
    // nothing was charged and leads back to the same payment.
    let left = b.get(&app.url(&format!("/checkout/{id}/cancel"))).await;
    assert_eq!(left.status, 200, "{}", left.body);
    assert!(left.body.contains("Nothing was charged"), "{}", left.body);
    assert!(left.body.contains(&format!("href=\"/checkout/{id}/go\"")));
    let paid = b.card(&sim, CARD_OK).await;
    assert_eq!(paid.status, 303);
    let done = app
        .get(&format!("/v1/checkout/sessions/{id}"))
        .await
        .ok()
        .clone();
    assert_eq!(done["status"], "complete");
    assert_eq!(done["amount_total"], 500);
    assert_eq!(done["custom_fields"][0]["text"]["value"], "A.B.");
    assert_eq!(done["customer_email"], Value::Null, "the merchant set none");
    assert_eq!(done["customer_details"]["email"], "clicker@example.com");
    let code = app.get("/v1/promotion_codes?code=ONCE").await.ok().clone();
    assert_eq!(code["data"][0]["times_redeemed"], 1);

    // Totals that could never be charged are refused at creation.
    for (amount, qty, code) in [
        (1, 1, "amount_too_small"),
        (99_999_999, 999, "amount_too_large"),
    ] {
        let r = app
            .post_json(
                "/v1/checkout/sessions",
                json!({"mode": "payment", "line_items": [{"price_data": {"currency": "eur", "unit_amount": amount, "product_data": {"name": "X"}}, "quantity": qty}]}),
            )
            .await;
        r.assert_error(400, Some("line_items"));
        assert_eq!(r.body["error"]["code"], code);
    }
}
both!(api_sessions_survive_double_clicks_and_leaving);

/// `GET /v1/checkout/sessions?customer=`: only that customer's sessions,
/// in this account and mode.
async fn sessions_are_listed_by_customer(app: TestApp) {
    let link = app.link_with("eur", 1000, json!({})).await;
    let b = Buyer::new();
    let ann = b.pay(&app, &link, &[("email", "ann@example.com")]).await;
    b.pay(&app, &link, &[("email", "bob@example.com")]).await;
    let ann2 = b.pay(&app, &link, &[("email", "ann@example.com")]).await;
    let s = app
        .get(&format!("/v1/checkout/sessions/{ann}"))
        .await
        .ok()
        .clone();
    let customer = s["customer"].as_str().unwrap().to_string();
    let listed = app
        .get(&format!("/v1/checkout/sessions?customer={customer}"))
        .await
        .ok()
        .clone();
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![ann2.as_str(), ann.as_str()]);
    // Another account's key finds none of them.
    let (_, other) = app.other_account().await;
    let theirs = app
        .get_as(
            &other,
            &format!("/v1/checkout/sessions?customer={customer}"),
        )
        .await
        .ok()
        .clone();
    assert_eq!(theirs["data"], json!([]));
}
both!(sessions_are_listed_by_customer);

/// `discounts[0][coupon]` and `discounts[0][promotion_code]`: the
/// merchant's discount is applied on the session's page (no code to
/// type), reserved when the buyer submits it, and on the paid session.
async fn api_sessions_apply_their_discount(app: TestApp) {
    let price = app.price("eur", 2000).await;
    let items = json!([{"price": price, "quantity": 1}]);
    let coupon = app.coupon_pct("10").await;
    let s = app
        .post(
            "/v1/checkout/sessions",
            json!({"mode": "payment", "line_items": items, "discounts": [{"coupon": coupon}]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(
        s["discounts"],
        json!([{"coupon": coupon, "promotion_code": null}])
    );
    // Its amounts are discounted from creation, as Stripe's are, line
    // items included.
    assert_eq!(s["amount_subtotal"], 2000);
    assert_eq!(s["amount_total"], 1800, "{s}");
    assert_eq!(s["total_details"]["amount_discount"], 200);
    let lines = app
        .get(&format!(
            "/v1/checkout/sessions/{}/line_items",
            s["id"].as_str().unwrap()
        ))
        .await
        .ok()
        .clone();
    assert_eq!(lines["data"][0]["amount_discount"], 200);
    assert_eq!(lines["data"][0]["amount_total"], 1800);
    // A discount that leaves less than can be charged makes a session no
    // buyer could pay: refused at creation, naming the discount; a coupon
    // in another currency is named as a coupon.
    for (off, currency) in [(2000, "eur"), (1970, "eur"), (100, "usd")] {
        let big = app
            .post(
                "/v1/coupons",
                json!({"amount_off": off, "currency": currency, "duration": "once"}),
            )
            .await
            .id();
        let r = app
            .post(
                "/v1/checkout/sessions",
                json!({"mode": "payment", "line_items": items, "discounts": [{"coupon": big}]}),
            )
            .await;
        if currency == "eur" {
            r.assert_error(400, Some("discounts"));
            assert_eq!(r.body["error"]["code"], "amount_too_small", "{r:?}");
        } else {
            r.assert_error(400, Some("discounts[0][coupon]"));
            let m = r.body["error"]["message"].as_str().unwrap();
            assert!(m.contains("coupon") && !m.contains("promotion code"), "{m}");
        }
    }
    let b = Buyer::new();
    let url = s["url"].as_str().unwrap().to_string();
    let page = b.get(&url).await;
    assert!(page.body.contains("Discount applied."), "{}", page.body);
    assert!(page.body.contains("€18.00"), "{}", page.body);
    // A code typed by the buyer changes nothing: the merchant's discount
    // is the session's.
    let submitted = b
        .post(
            &url,
            &[
                ("email", "d@example.com"),
                ("promo", "OTHER"),
                ("action", "pay"),
            ],
        )
        .await;
    assert_eq!(submitted.status, 303, "{}", submitted.body);
    let sim = b.get(&submitted.location.unwrap()).await.location.unwrap();
    assert_eq!(b.card(&sim, CARD_OK).await.status, 303);
    let done = app
        .get(&format!(
            "/v1/checkout/sessions/{}",
            s["id"].as_str().unwrap()
        ))
        .await
        .ok()
        .clone();
    assert_eq!(done["amount_total"], 1800);
    assert_eq!(done["total_details"]["amount_discount"], 200);
    assert_eq!(done["discounts"][0]["coupon"], coupon.as_str());

    // A promotion code of one use: the first buyer takes it, the next
    // session's page says it has run out.
    let code = app
        .post(
            "/v1/promotion_codes",
            json!({"coupon": coupon, "code": "ONCE5", "max_redemptions": 1}),
        )
        .await
        .id();
    let mut made = Vec::new();
    for _ in 0..2 {
        made.push(
            app.post(
                "/v1/checkout/sessions",
                json!({"mode": "payment", "line_items": items, "discounts": [{"promotion_code": code}]}),
            )
            .await
            .ok()
            .clone(),
        );
    }
    let (first, second) = (&made[0], &made[1]);
    assert_eq!(first["discounts"][0]["promotion_code"], code.as_str());
    let url = first["url"].as_str().unwrap().to_string();
    assert!(b.get(&url).await.body.contains("Code ONCE5 applied."));
    let ok = b
        .post(&url, &[("email", "e@example.com"), ("action", "pay")])
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let late = Buyer::new()
        .post(
            second["url"].as_str().unwrap(),
            &[("email", "f@example.com"), ("action", "pay")],
        )
        .await;
    assert_eq!(late.status, 409, "{}", late.body);
    assert!(late.body.contains("used up"), "{}", late.body);

    // Refused at creation: a missing coupon or code, both at once, with
    // allow_promotion_codes, an amount off in another currency.
    let usd_off = app
        .post("/v1/coupons", json!({"amount_off": 100, "currency": "usd"}))
        .await
        .id();
    for (discounts, extra, param) in [
        (
            json!([{"coupon": "nope"}]),
            json!({}),
            "discounts[0][coupon]",
        ),
        (
            json!([{"promotion_code": "promo_nope"}]),
            json!({}),
            "discounts[0][promotion_code]",
        ),
        (
            json!([{"coupon": coupon, "promotion_code": code}]),
            json!({}),
            "discounts[0]",
        ),
        (
            json!([{"coupon": coupon}]),
            json!({"allow_promotion_codes": true}),
            "allow_promotion_codes",
        ),
        (
            json!([{"coupon": usd_off}]),
            json!({}),
            "discounts[0][coupon]",
        ),
    ] {
        let mut params = json!({"mode": "payment", "line_items": items, "discounts": discounts});
        for (k, v) in extra.as_object().unwrap() {
            params.as_object_mut().unwrap().insert(k.clone(), v.clone());
        }
        app.post("/v1/checkout/sessions", params)
            .await
            .assert_error(400, Some(param));
    }
}
both!(api_sessions_apply_their_discount);

/// `customer` on a session: the customer's email is the buyer's (read-only
/// on the page), the session names them from its creation, and the
/// payment is theirs (no second customer is made). `locale` takes what
/// paylink's English page can keep; others are refused naming it.
async fn api_sessions_for_a_customer_and_a_locale(app: TestApp) {
    let cus = app
        .post(
            "/v1/customers",
            json!({"email": "known@example.com", "name": "Known Buyer"}),
        )
        .await
        .id();
    let price = app.price("eur", 123456).await;
    let base = json!({"mode": "payment", "line_items": [{"price": price, "quantity": 1}]});
    let with = |extra: Value| {
        let mut v = base.clone();
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    // Refused, each naming its parameter.
    for (extra, param, code) in [
        (
            json!({"customer": "cus_nope"}),
            "customer",
            "resource_missing",
        ),
        (
            json!({"customer": cus, "customer_email": "other@example.com"}),
            "customer_email",
            "parameter_invalid",
        ),
        (json!({"locale": "de"}), "locale", "parameter_invalid"),
    ] {
        let r = app.post("/v1/checkout/sessions", with(extra)).await;
        r.assert_error(400, Some(param));
        assert_eq!(r.body["error"]["code"], code, "{r:?}");
    }
    // Another account's customer is not found either.
    let (_, other) = app.other_account().await;
    let foreign = app
        .post_as(
            &other,
            "/v1/customers",
            json!({"email": "theirs@example.com"}),
        )
        .await
        .id();
    app.post("/v1/checkout/sessions", with(json!({"customer": foreign})))
        .await
        .assert_error(400, Some("customer"));

    let s = app
        .post(
            "/v1/checkout/sessions",
            with(json!({"customer": cus, "locale": "en"})),
        )
        .await
        .ok()
        .clone();
    assert_eq!(s["customer"], cus.as_str());
    assert_eq!(s["customer_email"], "known@example.com");
    assert_eq!(s["locale"], "en");
    let id = s["id"].as_str().unwrap().to_string();
    // The page shows the customer's email read-only, and amounts in
    // English style whatever the browser asks (the session's locale).
    let b = Buyer::new();
    let page = b
        .get_with(
            s["url"].as_str().unwrap(),
            &[("accept-language", "de-DE,de;q=0.9")],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("known@example.com"), "{}", page.body);
    assert!(page.body.contains("readonly"), "{}", page.body);
    assert!(page.body.contains("€1,234.56"), "{}", page.body);
    // Without a locale, the browser's language decides.
    let auto = app
        .post("/v1/checkout/sessions", with(json!({"locale": "auto"})))
        .await
        .ok()
        .clone();
    assert_eq!(auto["locale"], "auto");
    let de = b
        .get_with(
            auto["url"].as_str().unwrap(),
            &[("accept-language", "de-DE,de;q=0.9")],
        )
        .await;
    assert!(de.body.contains("1.234,56"), "{}", de.body);

    // Paid: the payment and the session are the customer's own.
    let url = s["url"].as_str().unwrap();
    let submitted = b
        .post(url, &[("email", "typed@example.com"), ("action", "pay")])
        .await;
    assert_eq!(submitted.status, 303, "{}", submitted.body);
    let sim = b.get(&submitted.location.unwrap()).await.location.unwrap();
    let paid = b.card(&sim, CARD_OK).await;
    assert_eq!(paid.status, 303, "{}", paid.body);
    let done = app
        .get(&format!(
            "/v1/checkout/sessions/{id}?expand[]=payment_intent"
        ))
        .await
        .ok()
        .clone();
    assert_eq!(done["status"], "complete");
    assert_eq!(done["customer"], cus.as_str());
    assert_eq!(done["payment_intent"]["customer"], cus.as_str());
    assert_eq!(done["customer_details"]["email"], "known@example.com");
    let customers = app.get("/v1/customers").await.ok().clone();
    assert_eq!(
        customers["data"].as_array().unwrap().len(),
        1,
        "{customers}"
    );
}
both!(api_sessions_for_a_customer_and_a_locale);

/// A link's session reports what the link's page offered as it opened
/// (Stripe copies the link's settings onto its sessions), and keeps it
/// when the link changes afterwards.
async fn link_sessions_report_their_links_page(app: TestApp) {
    let link = app
        .link_with(
            "eur",
            1500,
            json!({
                "submit_type": "book",
                "allow_promotion_codes": true,
                "phone_number_collection": {"enabled": true},
                "custom_text": {"submit": {"message": "We confirm within a day."}},
                "after_completion": {"type": "redirect", "redirect": {"url": "https://shop.example/booked"}},
            }),
        )
        .await;
    let cs = Buyer::new()
        .pay(
            &app,
            &link,
            &[("email", "booker@example.com"), ("phone", "+33123456789")],
        )
        .await;
    // The link changes after the session.
    app.post(
        &format!("/v1/payment_links/{link}"),
        json!({"submit_type": "pay", "allow_promotion_codes": false, "custom_text": {"submit": ""}}),
    )
    .await
    .ok();
    let s = app
        .get(&format!("/v1/checkout/sessions/{cs}"))
        .await
        .ok()
        .clone();
    assert_eq!(s["payment_link"], link.as_str());
    assert_eq!(s["submit_type"], "book");
    assert_eq!(s["allow_promotion_codes"], true);
    assert_eq!(s["phone_number_collection"]["enabled"], true);
    assert_eq!(
        s["custom_text"]["submit"]["message"],
        "We confirm within a day."
    );
    assert_eq!(s["success_url"], "https://shop.example/booked");
    assert_eq!(s["billing_address_collection"], "auto");
    // Only what a creation sets stays null on a link's session.
    assert_eq!(s["cancel_url"], Value::Null);
    assert_eq!(s["customer_email"], Value::Null);
}
both!(link_sessions_report_their_links_page);
