//! The buyer's flow over HTTP: checkout page, sim card page, 3-D Secure,
//! signed webhooks, and what the API shows afterwards.

use crate::both;
use crate::buyer::*;
use crate::helpers::*;

async fn pay_with_quantity_and_promo(app: TestApp) {
    let link = app
        .link_with(
            "eur",
            2500,
            json!({"allow_promotion_codes": true, "metadata": {"campaign": "spring"}}),
        )
        .await;
    let coupon = app.coupon_pct("10").await;
    app.post(
        "/v1/promotion_codes",
        json!({"code": "SPRING10", "coupon": coupon}),
    )
    .await
    .ok();
    let b = Buyer::new();
    let page = b
        .get(&app.url(&format!(
            "/l/{link}?prefilled_email=ann@example.com&prefilled_promo_code=spring10"
        )))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("value=\"ann@example.com\""));
    assert!(
        page.body.contains("Code SPRING10 applied."),
        "{}",
        page.body
    );
    assert!(page.body.contains("€22.50"));
    // Apply recomputes with the quantity.
    let applied = b
        .post(
            &app.url(&format!("/l/{link}")),
            &[
                ("quantity_0", "3"),
                ("promo", "spring10"),
                ("action", "apply"),
            ],
        )
        .await;
    assert!(
        applied.body.contains("id=\"total\">€67.50"),
        "{}",
        applied.body
    );
    let session = b
        .pay(
            &app,
            &link,
            &[
                ("quantity_0", "3"),
                ("promo", "SPRING10"),
                ("email", "Ann@Example.com"),
            ],
        )
        .await;
    let done = b.get(&app.url(&format!("/checkout/{session}"))).await;
    assert!(
        done.body.contains("Your payment was successful"),
        "{}",
        done.body
    );

    let s = app
        .get(&format!(
            "/v1/checkout/sessions/{session}?expand[]=line_items"
        ))
        .await;
    let s = s.ok();
    assert_eq!(s["status"], "complete");
    assert_eq!(s["payment_status"], "paid");
    assert_eq!(
        (
            s["amount_subtotal"].as_i64(),
            s["total_details"]["amount_discount"].as_i64(),
            s["amount_total"].as_i64()
        ),
        (Some(7500), Some(750), Some(6750))
    );
    assert_eq!(s["line_items"]["data"][0]["quantity"], 3);
    assert_eq!(s["customer_details"]["email"], "Ann@example.com");
    assert_eq!(s["metadata"], json!({"campaign": "spring"}));
    let pi = app
        .get(&format!(
            "/v1/payment_intents/{}",
            s["payment_intent"].as_str().unwrap()
        ))
        .await;
    let pi = pi.ok();
    assert_eq!(pi["amount"], 6750);
    assert_eq!(pi["currency"], "eur");
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(
        pi["payment_method_details"]["card"],
        json!({"brand": "visa", "last4": "4242"})
    );
    assert_eq!(pi["metadata"], json!({"campaign": "spring"}));
    let cus = app
        .get(&format!(
            "/v1/customers/{}",
            pi["customer"].as_str().unwrap()
        ))
        .await;
    assert_eq!(cus.ok()["email"], "Ann@example.com");
    let promo = app.get("/v1/promotion_codes?code=spring10").await;
    assert_eq!(promo.ok()["data"][0]["times_redeemed"], 1);
    assert_eq!(
        app.get(&format!("/v1/coupons/{coupon}")).await.ok()["times_redeemed"],
        1
    );
    // The same buyer again is the same customer.
    b.pay(&app, &link, &[("email", "ann@example.COM")]).await;
    assert_eq!(
        app.get("/v1/customers").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get(&format!(
            "/v1/payment_intents?customer={}",
            pi["customer"].as_str().unwrap()
        ))
        .await
        .ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
both!(pay_with_quantity_and_promo);

async fn declined_cards_keep_the_session_open(app: TestApp) {
    let link = app.link_with("usd", 1000, json!({})).await;
    let b = Buyer::new();
    let s = b.checkout(&app, &link, &[("email", "x@example.com")]).await;
    let sim = s.location.unwrap();
    let declined = b.card(&sim, CARD_DECLINED).await;
    assert_eq!(declined.status, 402);
    assert!(declined.body.contains("Your card was declined."));
    assert!(
        !declined.body.contains(CARD_DECLINED),
        "the card number is not echoed back"
    );
    let poor = b.card(&sim, CARD_NO_FUNDS).await;
    assert_eq!(poor.status, 402);
    assert!(poor.body.contains("insufficient funds"));
    let sessions = app.get("/v1/checkout/sessions").await;
    assert_eq!(sessions.ok()["data"][0]["status"], "open");
    let s = &sessions.body["data"][0];
    assert_eq!(
        s["expires_at"].as_i64().unwrap() - s["created"].as_i64().unwrap(),
        24 * 3600,
        "an unlimited link's session lives 24 hours"
    );
    // The attempts are recorded on the session's one payment intent, not
    // paid (Stripe's requires_payment_method).
    let pis = app.get("/v1/payment_intents").await.ok()["data"].clone();
    assert_eq!(pis.as_array().unwrap().len(), 1, "{pis}");
    assert_eq!(pis[0]["status"], "requires_payment_method");
    assert_eq!(pis[0]["amount_received"], 0);
    assert_eq!(
        pis[0]["last_payment_error"]["decline_code"],
        "insufficient_funds"
    );
    assert_eq!(s["payment_intent"], pis[0]["id"]);
    assert_eq!(s["payment_status"], "unpaid");
    // Field errors on the card page.
    let bad = b
        .post(
            &sim,
            &[
                ("number", "4242424242424241"),
                ("exp", "13/30"),
                ("cvc", "1"),
                ("name", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    for msg in [
        "card number is incomplete or invalid",
        "expiration date is invalid",
        "Enter the name on the card",
    ] {
        assert!(bad.body.contains(msg), "{msg}: {}", bad.body);
    }
    let expired = b
        .post(
            &sim,
            &[
                ("number", CARD_OK),
                ("exp", "10/26"),
                ("cvc", "123"),
                ("name", "A"),
            ],
        )
        .await;
    assert!(
        expired.body.contains("Your card has expired."),
        "{}",
        expired.body
    );
    let cvc = b
        .post(
            &sim,
            &[
                ("number", CARD_OK),
                ("exp", "12/30"),
                ("cvc", "12"),
                ("name", "A"),
            ],
        )
        .await;
    assert!(cvc.body.contains("security code is invalid"));
    // Then a good card pays.
    let ok = b.card(&sim, CARD_OK).await;
    assert_eq!(ok.status, 303);
    assert_eq!(
        app.get("/v1/payment_intents").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
both!(declined_cards_keep_the_session_open);

async fn three_d_secure_approve_and_fail(app: TestApp) {
    let link = app.link_with("eur", 1000, json!({})).await;
    let b = Buyer::new();
    let sim = b
        .checkout(&app, &link, &[("email", "x@example.com")])
        .await
        .location
        .unwrap();
    let challenge = b.card(&sim, CARD_3DS).await;
    assert_eq!(challenge.status, 303);
    let cpath = challenge.location.unwrap();
    assert!(cpath.starts_with("/3ds/"), "{cpath}");
    let curl = format!("{}{cpath}", app.sim_base);
    let page = b.get(&curl).await;
    assert!(page.body.contains("Complete authentication") && page.body.contains("3155"));
    let failed = b.post(&curl, &[("action", "fail")]).await;
    assert_eq!(failed.status, 402);
    assert!(failed.body.contains("unable to authenticate"));
    let pis = app.get("/v1/payment_intents").await.ok()["data"].clone();
    assert_eq!(pis.as_array().unwrap().len(), 1, "{pis}");
    assert_eq!(pis[0]["status"], "requires_payment_method");
    assert_eq!(
        pis[0]["last_payment_error"]["code"],
        "payment_intent_authentication_failure"
    );
    // Second try: approve.
    let again = b.card(&sim, "4000000000003220").await;
    let curl = format!("{}{}", app.sim_base, again.location.unwrap());
    let approved = b.post(&curl, &[("action", "approve")]).await;
    assert_eq!(approved.status, 303);
    assert!(approved
        .location
        .unwrap()
        .starts_with(&app.url("/checkout/cs_")));
    assert_eq!(
        app.get("/v1/payment_intents").await.ok()["data"][0]["payment_method_details"]["card"]
            ["last4"],
        "3220"
    );

    // The account setting sends every card through the challenge.
    let acct = app
        .post_as(
            &app.live_key,
            "/v1/account",
            json!({"settings": {"card_payments": {"request_three_d_secure": "any"}}}),
        )
        .await;
    assert_eq!(
        acct.ok()["settings"]["card_payments"]["request_three_d_secure"],
        "any"
    );
    let sim = b
        .checkout(&app, &link, &[("email", "y@example.com")])
        .await
        .location
        .unwrap();
    let r = b.card(&sim, CARD_OK).await;
    assert!(r.location.unwrap().starts_with("/3ds/"));
}
both!(three_d_secure_approve_and_fail);

async fn checkout_page_rules_and_escaping(app: TestApp) {
    let product = app.post("/v1/products", json!({"name": "<script>alert('x')</script> Mug", "description": "\"quoted\" & <b>bold</b>"})).await.id();
    let price = app
        .post(
            "/v1/prices",
            json!({"product": product, "currency": "usd", "unit_amount": 1200}),
        )
        .await
        .id();
    let link = app
        .post(
            "/v1/payment_links",
            json!({
                "line_items": [{"price": price, "quantity": 1, "adjustable_quantity": {"enabled": true, "minimum": 1, "maximum": 5}}],
                "allow_promotion_codes": true,
                "billing_address_collection": "required",
                "phone_number_collection": {"enabled": true},
                "custom_fields": [{"key": "size", "label": {"type": "custom", "custom": "Size <b>"}, "type": "dropdown", "dropdown": {"options": [{"label": "Small", "value": "S"}, {"label": "Large", "value": "L"}]}}],
                "inactive_message": "Sold out <for now>",
            }),
        )
        .await
        .id();
    let b = Buyer::new();
    let r = app
        .client
        .get(app.url(&format!("/l/{link}")))
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("style-src 'self' 'nonce-")
            && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(
        csp.contains(&format!("form-action 'self' {}", app.sim_base)),
        "{csp}"
    );
    let page = r.text().await.unwrap();
    assert!(
        !page.contains("<script>alert"),
        "merchant text must be escaped"
    );
    assert!(page.contains("&lt;script&gt;alert('x')&lt;/script&gt; Mug"));
    assert!(
        page.contains("&quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;")
            || page.contains("\"quoted\" &amp; &lt;b&gt;bold&lt;/b&gt;")
    );
    assert!(!page.contains("<script"), "the page has no scripts");
    for token in [
        "autocomplete=\"email\"",
        "autocomplete=\"name\"",
        "autocomplete=\"address-line1\"",
        "autocomplete=\"postal-code\"",
        "autocomplete=\"tel\"",
    ] {
        assert!(page.contains(token), "{token}");
    }
    // Every URL in the page is on this origin.
    for part in page.split("http").skip(1) {
        assert!(
            part.starts_with(&app.base["http".len()..]),
            "third-party reference: http{}",
            &part[..part.len().min(60)]
        );
    }
    // Errors beside the fields, typed values kept.
    let s = b
        .checkout(
            &app,
            &link,
            &[
                ("quantity_0", "9"),
                ("email", "not-an-email"),
                ("promo", "NOPE"),
                ("phone", "abc"),
                ("line1", "1 Rue <X>"),
                ("country", "france"),
                ("custom_size", "XL"),
            ],
        )
        .await;
    assert_eq!(s.status, 422, "{}", s.body);
    for (field, msg) in [
        ("quantity_0", "Choose a quantity from 1 to 5."),
        ("email", "Enter a valid email address."),
        ("promo", "This code is not valid."),
        ("phone", "Enter a valid phone number."),
        ("name", "Enter your name."),
        ("city", "Enter your city."),
        ("country", "two-letter country code"),
        ("custom_size", "Choose one of the options."),
    ] {
        let at = s
            .body
            .find(&format!("id=\"{field}-error\""))
            .unwrap_or_else(|| panic!("no error beside {field}: {}", s.body));
        assert!(
            s.body[at..].starts_with(&format!("id=\"{field}-error\""))
                && s.body[at..at + 200].contains(msg),
            "{field}: {}",
            &s.body[at..at + 200]
        );
    }
    assert!(
        s.body.contains("value=\"1 Rue &lt;X&gt;\""),
        "typed values are kept, escaped"
    );
    assert_eq!(
        app.get("/v1/checkout/sessions").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Promotion code messages.
    let coupon = app
        .post("/v1/coupons", json!({"percent_off": 10}))
        .await
        .id();
    app.post("/v1/promotion_codes", json!({"code": "BIG", "coupon": coupon, "restrictions": {"minimum_amount": 5000, "minimum_amount_currency": "usd"}})).await.ok();
    app.post(
        "/v1/promotion_codes",
        json!({"code": "SOON", "coupon": coupon, "expires_at": app.clock.now() + 10}),
    )
    .await
    .ok();
    let off = app
        .post(
            "/v1/promotion_codes",
            json!({"code": "OFF", "coupon": coupon}),
        )
        .await
        .id();
    app.post(
        &format!("/v1/promotion_codes/{off}"),
        json!({"active": false}),
    )
    .await
    .ok();
    app.clock.advance(20);
    for (code, msg) in [
        ("BIG", "requires an order of at least"),
        ("SOON", "has expired"),
        ("OFF", "is not valid"),
        ("nope", "This code is not valid."),
    ] {
        let r = b
            .post(
                &app.url(&format!("/l/{link}")),
                &[("promo", code), ("action", "apply")],
            )
            .await;
        assert!(r.body.contains(msg), "{code}: {msg}");
    }
    // A valid order goes through; the dropdown answer and address are kept.
    let session = b
        .pay(
            &app,
            &link,
            &[
                ("quantity_0", "2"),
                ("email", "ann@example.com"),
                ("name", "Ann"),
                ("line1", "1 Rue X"),
                ("city", "Paris"),
                ("postal_code", "75001"),
                ("country", "fr"),
                ("phone", "+33 1 23 45 67 89"),
                ("custom_size", "L"),
            ],
        )
        .await;
    let s = app.get(&format!("/v1/checkout/sessions/{session}")).await;
    let s = s.ok();
    assert_eq!(s["custom_fields"][0]["dropdown"]["value"], "L");
    assert_eq!(s["customer_details"]["address"]["country"], "FR");
    assert_eq!(s["customer_details"]["phone"], "+33 1 23 45 67 89");
    assert_eq!(s["amount_total"], 2400);

    // An inactive link shows its message with 410.
    app.post(
        &format!("/v1/payment_links/{link}"),
        json!({"active": false}),
    )
    .await
    .ok();
    let gone = b.get(&app.url(&format!("/l/{link}"))).await;
    assert_eq!(gone.status, 410);
    assert!(gone.body.contains("Sold out &lt;for now&gt;"));
    assert_eq!(
        b.checkout(&app, &link, &[("email", "a@b.example")])
            .await
            .status,
        410
    );
    assert_eq!(b.get(&app.url("/l/plink_doesnotexist")).await.status, 404);
}
both!(checkout_page_rules_and_escaping);

async fn webhooks_are_verified_and_applied_once(app: TestApp) {
    let link = app.link_with("eur", 1000, json!({})).await;
    let b = Buyer::new();
    b.checkout(&app, &link, &[("email", "z@example.com")]).await;
    let session = app.get("/v1/checkout/sessions").await.ok()["data"][0].clone();
    let id = session["id"].as_str().unwrap();
    // The payment paylink created for this session, with its merchant.
    let payment = app
        .raw_strings(&format!(
            "SELECT provider_ref FROM checkout_sessions WHERE id = '{id}'"
        ))
        .await
        .remove(0);
    let merchant = app
        .raw_strings(&format!(
            "SELECT provider_account FROM checkout_sessions WHERE id = '{id}'"
        ))
        .await
        .remove(0);
    let event = json!({"id": "evt_sim_test_1", "type": "payment.succeeded", "created": app.clock.now(), "data": {"payment": payment, "merchant": merchant, "livemode": false, "session": id, "amount": 1000, "currency": "eur", "payment_method": "pm_sim_x", "card": {"brand": "visa", "last4": "4242"}}}).to_string();
    let send = |sig: String, body: String| {
        app.client
            .post(app.url("/webhooks/sim"))
            .header("sim-signature", sig)
            .header("content-type", "application/json")
            .body(body)
    };
    // Unsigned, wrongly signed and stale deliveries are refused.
    app.send(send("t=1,v1=00".into(), event.clone()))
        .await
        .assert_error(400, None);
    let wrong = paylink_providers::signature::sign(
        &paylink_crypto::Secret::new(vec![1u8; 32]),
        app.clock.now(),
        event.as_bytes(),
    );
    app.send(send(wrong, event.clone()))
        .await
        .assert_error(400, None);
    let stale = paylink_providers::signature::sign(
        &app.sim.webhook_secret,
        app.clock.now() - 301,
        event.as_bytes(),
    );
    app.send(send(stale, event.clone()))
        .await
        .assert_error(400, None);
    let tampered = paylink_providers::signature::sign(
        &app.sim.webhook_secret,
        app.clock.now(),
        event.as_bytes(),
    );
    app.send(send(tampered, event.replace("1000", "1")))
        .await
        .assert_error(400, None);
    assert_eq!(
        app.get("/v1/payment_intents").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // Delivered five times (two of them at once): one payment.
    let mut tasks = Vec::new();
    let app = std::sync::Arc::new(app);
    for _ in 0..5 {
        let (app, event) = (app.clone(), event.clone());
        tasks.push(tokio::spawn(async move {
            let sig = paylink_providers::signature::sign(
                &app.sim.webhook_secret,
                app.clock.now(),
                event.as_bytes(),
            );
            app.send(
                app.client
                    .post(app.url("/webhooks/sim"))
                    .header("sim-signature", sig)
                    .body(event),
            )
            .await
        }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200, "{r:?}");
    }
    assert_eq!(
        app.get("/v1/payment_intents").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Another event id for the same session records nothing more.
    let second = event.replace("evt_sim_test_1", "evt_sim_test_2");
    let sig = paylink_providers::signature::sign(
        &app.sim.webhook_secret,
        app.clock.now(),
        second.as_bytes(),
    );
    assert_eq!(
        app.send(
            app.client
                .post(app.url("/webhooks/sim"))
                .header("sim-signature", sig)
                .body(second)
        )
        .await
        .status,
        200
    );
    assert_eq!(
        app.get("/v1/payment_intents").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get(&format!("/v1/payment_links/{link}")).await.ok()["active"],
        true
    );
    // An amount that does not match the session is refused.
    b.checkout(&app, &link, &[("email", "q@example.com")]).await;
    let open = app.get("/v1/checkout/sessions?status=open").await.ok()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let bad = event
        .replace("evt_sim_test_1", "evt_sim_test_3")
        .replace(id, &open)
        .replace("\"amount\":1000", "\"amount\":1");
    let sig = paylink_providers::signature::sign(
        &app.sim.webhook_secret,
        app.clock.now(),
        bad.as_bytes(),
    );
    assert_eq!(
        app.send(
            app.client
                .post(app.url("/webhooks/sim"))
                .header("sim-signature", sig)
                .body(bad)
        )
        .await
        .status,
        422
    );
    assert_eq!(
        app.get(&format!("/v1/checkout/sessions/{open}")).await.ok()["status"],
        "open"
    );
}
both!(webhooks_are_verified_and_applied_once);

async fn redirect_after_completion(app: TestApp) {
    let link = app
        .link_with("eur", 1000, json!({"after_completion": {"type": "redirect", "redirect": {"url": "https://shop.example/thanks?cs={CHECKOUT_SESSION_ID}"}}}))
        .await;
    let b = Buyer::new();
    let session = b.pay(&app, &link, &[("email", "r@example.com")]).await;
    let back = b.get(&app.url(&format!("/checkout/{session}"))).await;
    assert_eq!(back.status, 303);
    assert_eq!(
        back.location.as_deref(),
        Some(format!("https://shop.example/thanks?cs={session}").as_str())
    );
    // Before the payment is confirmed, the return page waits (and refreshes).
    let open = b.checkout(&app, &link, &[("email", "s@example.com")]).await;
    assert_eq!(open.status, 303);
    let sid = app.get("/v1/checkout/sessions?status=open").await.ok()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .client
        .get(app.url(&format!("/checkout/{sid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["refresh"], "2");
    assert!(r.text().await.unwrap().contains("Processing your payment"));
    assert_eq!(b.get(&app.url("/checkout/cs_nope")).await.status, 404);
}
both!(redirect_after_completion);

/// `?client_reference_id=` on a link's URL (Stripe's way to tie a payment
/// to the merchant's user or order) is carried by the form into the
/// session and its event; an invalid one (a character Stripe doesn't
/// allow, more than 200 characters) is dropped and the page still works,
/// as on Stripe.
async fn client_reference_id_travels_from_the_link_url(app: TestApp) {
    let link = app.link_with("eur", 900, json!({})).await;
    let b = Buyer::new();
    let page = b
        .get(&app.url(&format!("/l/{link}?client_reference_id=order_42-A")))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(r#"name="client_reference_id" value="order_42-A""#),
        "{}",
        page.body
    );
    // The form posts back what the page holds (a browser sends the hidden
    // field; so does this buyer).
    let paid_with = |email: &'static str, reference: String| {
        let (app, b, link) = (&app, &b, &link);
        async move {
            let cs = b
                .pay(
                    app,
                    link,
                    &[("email", email), ("client_reference_id", &reference)],
                )
                .await;
            app.get(&format!("/v1/checkout/sessions/{cs}"))
                .await
                .ok()
                .clone()
        }
    };
    let s = paid_with("ref@example.com", "order_42-A".into()).await;
    assert_eq!(s["client_reference_id"], "order_42-A");
    let e = app
        .get("/v1/events?type=checkout.session.completed")
        .await
        .ok()
        .clone();
    assert_eq!(
        e["data"][0]["data"]["object"]["client_reference_id"],
        "order_42-A"
    );
    // Invalid values are dropped, never an error.
    let long = "a".repeat(201);
    for bad in ["has space", "semi;colon", "<script>", long.as_str(), ""] {
        let url = reqwest::Url::parse_with_params(
            &app.url(&format!("/l/{link}")),
            &[("client_reference_id", bad)],
        )
        .unwrap();
        let page = b.get(url.as_str()).await;
        assert_eq!(page.status, 200, "{bad}");
        assert!(
            !page.body.contains(r#"name="client_reference_id""#),
            "{bad}"
        );
    }
    let s = paid_with("ref2@example.com", "bad value".into()).await;
    assert_eq!(s["client_reference_id"], serde_json::Value::Null);
    // 200 characters is the limit, and fits.
    let max = "z".repeat(200);
    let s = paid_with("ref3@example.com", max.clone()).await;
    assert_eq!(s["client_reference_id"], max.as_str());
}
both!(client_reference_id_travels_from_the_link_url);
