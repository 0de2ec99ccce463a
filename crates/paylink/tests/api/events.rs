//! Events (issue 13, part 3): each change writes an event in its own
//! transaction, with the object exactly as the API renders it; listed and
//! retrieved per mode, filtered by type and time, kept 30 days, and gone
//! with a buyer's erasure.

use crate::both;
use crate::buyer::*;
use crate::helpers::*;

/// The events of `kind`, newest first.
async fn events_of(app: &TestApp, kind: &str) -> Vec<serde_json::Value> {
    app.get(&format!("/v1/events?type={kind}&limit=100"))
        .await
        .ok()["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn changes_write_events_with_the_object_as_rendered(app: TestApp) {
    let created = app
        .post(
            "/v1/products",
            json!({"name": "Mug", "metadata": {"sku": "m1"}}),
        )
        .await
        .ok()
        .clone();
    let id = created["id"].as_str().unwrap().to_string();
    let e = events_of(&app, "product.created").await;
    assert_eq!(e.len(), 1, "{e:?}");
    let e = &e[0];
    assert!(e["id"].as_str().unwrap().starts_with("evt_"), "{e}");
    assert_eq!(e["object"], "event");
    assert_eq!(e["type"], "product.created");
    assert_eq!(e["livemode"], false);
    assert_eq!(e["api_version"], "2026-10-28.endive");
    assert_eq!(
        e["data"]["object"], created,
        "data.object is the POST's answer"
    );
    assert!(e["data"].get("previous_attributes").is_none());
    assert!(
        e["request"]["id"].as_str().unwrap().starts_with("req_"),
        "{e}"
    );
    // An update: the new object, and the previous values of what changed.
    app.clock.advance(5);
    let updated = app
        .post(&format!("/v1/products/{id}"), json!({"name": "Big mug"}))
        .await
        .ok()
        .clone();
    let u = events_of(&app, "product.updated").await;
    assert_eq!(u.len(), 1);
    assert_eq!(u[0]["data"]["object"], updated);
    assert_eq!(
        u[0]["data"]["previous_attributes"],
        json!({"name": "Mug", "updated": created["updated"]})
    );
    // Retrieve by id: the same event.
    let got = app
        .get(&format!("/v1/events/{}", u[0]["id"].as_str().unwrap()))
        .await
        .ok()
        .clone();
    assert_eq!(got, u[0]);
    // A price with product_data: price.created and product.created in one
    // transaction; a payment link: payment_link.created, as retrieved.
    let price = app
        .post(
            "/v1/prices",
            json!({"currency": "eur", "unit_amount": 1500, "product_data": {"name": "Tea"}}),
        )
        .await
        .ok()
        .clone();
    let p = events_of(&app, "price.created").await;
    assert_eq!(p[0]["data"]["object"], price);
    assert_eq!(events_of(&app, "product.created").await.len(), 2);
    let link = app
        .post(
            "/v1/payment_links",
            json!({"line_items": [{"price": price["id"], "quantity": 1}]}),
        )
        .await
        .ok()
        .clone();
    let l = events_of(&app, "payment_link.created").await;
    assert_eq!(l[0]["data"]["object"], link);
    let lid = link["id"].as_str().unwrap();
    app.post(
        &format!("/v1/payment_links/{lid}"),
        json!({"active": "false"}),
    )
    .await
    .ok();
    let lu = events_of(&app, "payment_link.updated").await;
    assert_eq!(
        lu[0]["data"]["previous_attributes"],
        json!({"active": true})
    );
    assert_eq!(
        &lu[0]["data"]["object"],
        app.get(&format!("/v1/payment_links/{lid}")).await.ok()
    );
    // types[] and the created range.
    let all = app
        .get("/v1/events?types[]=product.created&types[]=price.created&limit=100")
        .await
        .ok()
        .clone();
    assert_eq!(all["data"].as_array().unwrap().len(), 3);
    let t0 = created["created"].as_i64().unwrap();
    let later = app
        .get(&format!("/v1/events?created[gt]={t0}&type=product.created"))
        .await
        .ok()
        .clone();
    assert_eq!(later["data"].as_array().unwrap().len(), 1, "{later}");
    let bad = app.get("/v1/events?type=product.created&types[]=x").await;
    assert_eq!(bad.status, 400, "{}", bad.body);
}
both!(changes_write_events_with_the_object_as_rendered);

async fn a_paid_checkout_writes_checkout_session_completed(app: TestApp) {
    let link = app.link_with("eur", 2500, json!({})).await;
    let b = Buyer::new();
    let session = b
        .pay(
            &app,
            &link,
            &[("email", "ann@example.com"), ("quantity_0", "1")],
        )
        .await;
    let e = events_of(&app, "checkout.session.completed").await;
    assert_eq!(e.len(), 1, "{e:?}");
    let retrieved = app
        .get(&format!("/v1/checkout/sessions/{session}"))
        .await
        .ok()
        .clone();
    assert_eq!(retrieved["status"], "complete");
    assert_eq!(
        e[0]["data"]["object"], retrieved,
        "data.object is what GET /v1/checkout/sessions/{{id}} returns"
    );
    // The live key sees none of the test mode's events, and not one by id.
    let live = app.get_as(&app.live_key, "/v1/events").await;
    assert_eq!(live.status, 200);
    assert_eq!(live.body["data"], json!([]));
    let id = e[0]["id"].as_str().unwrap();
    let other = app.get_as(&app.live_key, &format!("/v1/events/{id}")).await;
    assert_eq!(other.status, 404, "{}", other.body);
    // Erasing the buyer takes the events that hold their details with it.
    let customer = retrieved["customer"].as_str().unwrap();
    app.post(&format!("/v1/customers/{customer}/redact"), json!({}))
        .await
        .ok();
    assert!(events_of(&app, "checkout.session.completed")
        .await
        .is_empty());
    assert_eq!(
        app.get(&format!("/v1/events/{id}")).await.status,
        404,
        "the erased buyer's event is gone"
    );
}
both!(a_paid_checkout_writes_checkout_session_completed);

async fn events_are_sealed_and_kept_thirty_days(app: TestApp) {
    app.post("/v1/products", json!({"name": "Secret-ish name 7731"}))
        .await
        .ok();
    // Sealed at rest: the stored row does not hold the object's text.
    let stored = app.raw_strings("SELECT data FROM events").await;
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains("7731"), "{}", stored[0]);
    // Day 29: kept; day 31: purged by the retention pass.
    let purge = || async {
        paylink_jobs::purge_once(
            &app.opened.store,
            app.clock.now(),
            &paylink_jobs::Retention::default(),
        )
        .await
        .unwrap()
    };
    app.clock.advance(29 * 86_400);
    assert_eq!(purge().await.events, 0);
    assert_eq!(events_of(&app, "product.created").await.len(), 1);
    app.clock.advance(2 * 86_400);
    assert_eq!(purge().await.events, 1);
    assert!(events_of(&app, "product.created").await.is_empty());
}
both!(events_are_sealed_and_kept_thirty_days);

/// Coupons, promotion codes, price updates and expired checkouts write
/// their events too, each object as the API renders it.
async fn coupons_codes_prices_and_expiries_write_events(app: TestApp) {
    let coupon = app
        .post("/v1/coupons", json!({"percent_off": "10", "name": "Ten"}))
        .await
        .ok()
        .clone();
    let cid = coupon["id"].as_str().unwrap().to_string();
    assert_eq!(
        events_of(&app, "coupon.created").await[0]["data"]["object"],
        coupon
    );
    let renamed = app
        .post(&format!("/v1/coupons/{cid}"), json!({"name": "Tenner"}))
        .await
        .ok()
        .clone();
    let u = events_of(&app, "coupon.updated").await;
    assert_eq!(u[0]["data"]["object"], renamed);
    assert_eq!(u[0]["data"]["previous_attributes"], json!({"name": "Ten"}));
    let code = app
        .post(
            "/v1/promotion_codes",
            json!({"promotion": {"type": "coupon", "coupon": cid}, "code": "SPRING"}),
        )
        .await
        .ok()
        .clone();
    let pid = code["id"].as_str().unwrap().to_string();
    assert_eq!(
        events_of(&app, "promotion_code.created").await[0]["data"]["object"],
        code
    );
    let off = app
        .post(
            &format!("/v1/promotion_codes/{pid}"),
            json!({"active": false}),
        )
        .await
        .ok()
        .clone();
    let u = events_of(&app, "promotion_code.updated").await;
    assert_eq!(u[0]["data"]["object"], off);
    assert_eq!(u[0]["data"]["previous_attributes"]["active"], true);
    // Nothing changed: no event.
    app.post(
        &format!("/v1/promotion_codes/{pid}"),
        json!({"active": false}),
    )
    .await
    .ok();
    assert_eq!(events_of(&app, "promotion_code.updated").await.len(), 1);
    app.delete(&format!("/v1/coupons/{cid}")).await.ok();
    assert_eq!(
        events_of(&app, "coupon.deleted").await[0]["data"]["object"]["id"],
        cid.as_str()
    );
    let price = app.price("eur", 900).await;
    let updated = app
        .post(&format!("/v1/prices/{price}"), json!({"nickname": "small"}))
        .await
        .ok()
        .clone();
    let u = events_of(&app, "price.updated").await;
    assert_eq!(u[0]["data"]["object"], updated);
    assert_eq!(
        u[0]["data"]["previous_attributes"],
        json!({"nickname": null})
    );
    // An abandoned checkout expires after its 24 hours: the event carries
    // the session as the API then returns it.
    let link = app.link_with("eur", 1500, json!({})).await;
    let s = Buyer::new()
        .checkout(&app, &link, &[("email", "late@example.com")])
        .await;
    assert_eq!(s.status, 303, "{}", s.body);
    app.clock.advance(25 * 3_600);
    paylink_jobs::purge_once(&app.store, app.now(), &paylink_jobs::Retention::default())
        .await
        .unwrap();
    let e = events_of(&app, "checkout.session.expired").await;
    assert_eq!(e.len(), 1);
    let id = e[0]["data"]["object"]["id"].as_str().unwrap();
    let got = app
        .get(&format!("/v1/checkout/sessions/{id}"))
        .await
        .ok()
        .clone();
    assert_eq!(got["status"], "expired");
    assert_eq!(e[0]["data"]["object"], got);
}
both!(coupons_codes_prices_and_expiries_write_events);

/// A paid checkout writes, in Stripe's order, customer.created (a new
/// buyer only), payment_intent.created, payment_intent.succeeded and
/// checkout.session.completed; refunds write refund.created and, when
/// settled, refund.updated (and refund.failed); customers' updates and
/// deletion write customer.updated and customer.deleted. Each object is
/// what the API's GET returns.
async fn payments_customers_and_refunds_write_events(app: TestApp) {
    let link = app.link_with("eur", 2000, json!({})).await;
    let b = Buyer::new();
    let cs = b
        .pay(
            &app,
            &link,
            &[("email", "ev@example.com"), ("quantity_0", "1")],
        )
        .await;
    let session = app
        .get(&format!("/v1/checkout/sessions/{cs}"))
        .await
        .ok()
        .clone();
    let (pi, cus) = (
        session["payment_intent"].as_str().unwrap().to_string(),
        session["customer"].as_str().unwrap().to_string(),
    );
    let all = app.get("/v1/events?limit=10").await.ok().clone();
    let types: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .take(4)
        .collect();
    assert_eq!(
        types,
        [
            "checkout.session.completed",
            "payment_intent.succeeded",
            "payment_intent.created",
            "customer.created"
        ],
        "newest first: Stripe's order, reversed"
    );
    let got_pi = app
        .get(&format!("/v1/payment_intents/{pi}"))
        .await
        .ok()
        .clone();
    let succeeded = events_of(&app, "payment_intent.succeeded").await;
    assert_eq!(succeeded.len(), 1);
    assert_eq!(succeeded[0]["data"]["object"], got_pi);
    assert_eq!(succeeded[0]["data"]["object"]["status"], "succeeded");
    let got_cus = app.get(&format!("/v1/customers/{cus}")).await.ok().clone();
    assert_eq!(
        events_of(&app, "customer.created").await[0]["data"]["object"],
        got_cus
    );
    // The same buyer again: a payment, no new customer.
    b.pay(
        &app,
        &link,
        &[("email", "ev@example.com"), ("quantity_0", "1")],
    )
    .await;
    assert_eq!(events_of(&app, "payment_intent.succeeded").await.len(), 2);
    assert_eq!(events_of(&app, "customer.created").await.len(), 1);

    // A refund: created pending, then settled by the provider.
    let r = app
        .post("/v1/refunds", json!({"payment_intent": pi, "amount": 500}))
        .await
        .ok()
        .clone();
    let created = events_of(&app, "refund.created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["data"]["object"]["id"], r["id"]);
    assert_eq!(created[0]["data"]["object"]["status"], "pending");
    let updated = events_of(&app, "refund.updated").await;
    assert_eq!(updated.len(), 1);
    let rid = r["id"].as_str().unwrap();
    assert_eq!(
        updated[0]["data"]["object"],
        *app.get(&format!("/v1/refunds/{rid}")).await.ok()
    );
    assert_eq!(
        updated[0]["data"]["previous_attributes"],
        json!({"status": "pending"})
    );
    assert!(events_of(&app, "refund.failed").await.is_empty());
    // A refund the provider refused: refund.updated and refund.failed.
    let scope = paylink_store::Scope {
        account_id: app.account.clone(),
        livemode: false,
    };
    let pending = app
        .store
        .begin_refund(
            &scope,
            paylink_store::checkout::NewRefund {
                payment_intent: &pi,
                amount: Some(100),
                reason: None,
                refund_id: "re_refusedbyprovider",
                metadata: &Default::default(),
                now: app.clock.now(),
            },
        )
        .await
        .unwrap();
    app.store
        .finish_refund(&scope, &pending, None)
        .await
        .unwrap();
    let failed = events_of(&app, "refund.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0]["data"]["object"],
        *app.get("/v1/refunds/re_refusedbyprovider").await.ok()
    );
    assert_eq!(failed[0]["data"]["object"]["status"], "failed");
    assert_eq!(events_of(&app, "refund.updated").await.len(), 2);

    // A customer's update, with what changed.
    let renamed = app
        .post(&format!("/v1/customers/{cus}"), json!({"name": "Eve V."}))
        .await
        .ok()
        .clone();
    let u = events_of(&app, "customer.updated").await;
    assert_eq!(u.len(), 1);
    assert_eq!(u[0]["data"]["object"], renamed);
    assert_eq!(
        u[0]["data"]["previous_attributes"],
        json!({"name": got_cus["name"]})
    );
    // Deleted: the events holding their details go, and customer.deleted
    // stays, with nothing personal in it.
    app.delete(&format!("/v1/customers/{cus}")).await.ok();
    let d = events_of(&app, "customer.deleted").await;
    assert_eq!(d.len(), 1, "{d:?}");
    let text = d[0].to_string();
    assert_eq!(d[0]["data"]["object"]["id"], cus.as_str());
    assert_eq!(d[0]["data"]["object"]["email"], serde_json::Value::Null);
    assert!(
        !text.contains("ev@example.com") && !text.contains("Eve V."),
        "{text}"
    );
    assert!(d[0]["data"].get("previous_attributes").is_none());
    assert!(events_of(&app, "customer.created").await.is_empty());
    assert!(events_of(&app, "customer.updated").await.is_empty());
    assert!(events_of(&app, "payment_intent.succeeded").await.is_empty());
    let everything = app.get("/v1/events?limit=100").await.ok().to_string();
    assert!(!everything.contains("ev@example.com"), "{everything}");
}
both!(payments_customers_and_refunds_write_events);

/// Declined attempts are recorded as Stripe records them: the session's
/// payment intent in requires_payment_method with last_payment_error, and
/// payment_intent.payment_failed; a later success turns the same payment
/// intent succeeded; an abandoned one is canceled when its session
/// expires. Nothing declined can be refunded.
async fn declined_attempts_are_recorded_and_then_succeed(app: TestApp) {
    let link = app.link_with("eur", 1800, json!({})).await;
    let b = Buyer::new();
    let s = b
        .checkout(&app, &link, &[("email", "dee@example.com")])
        .await;
    assert_eq!(s.status, 303, "{}", s.body);
    let card_page = s.location.unwrap();
    let declined = b.card(&card_page, "4000000000000002").await;
    assert_eq!(declined.status, 402, "{}", declined.body);
    let cs = app.get("/v1/checkout/sessions?limit=1").await.ok()["data"][0].clone();
    assert_eq!(cs["status"], "open");
    let pi = cs["payment_intent"]
        .as_str()
        .expect("the session has its payment intent")
        .to_string();
    let got = app
        .get(&format!("/v1/payment_intents/{pi}"))
        .await
        .ok()
        .clone();
    assert_eq!(got["status"], "requires_payment_method");
    assert_eq!(got["amount"], 1800);
    assert_eq!(got["amount_received"], 0);
    assert_eq!(got["last_payment_error"]["type"], "card_error");
    assert_eq!(got["last_payment_error"]["code"], "card_declined");
    assert_eq!(got["last_payment_error"]["decline_code"], "generic_decline");
    let failed = events_of(&app, "payment_intent.payment_failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["data"]["object"], got);
    assert_eq!(events_of(&app, "payment_intent.created").await.len(), 1);
    // A declined payment can't be refunded.
    app.post("/v1/refunds", json!({"payment_intent": pi}))
        .await
        .assert_error(400, Some("amount"));
    // Insufficient funds next: the same payment intent, a second failure.
    let again = b.card(&card_page, "4000000000009995").await;
    assert_eq!(again.status, 402, "{}", again.body);
    let failed = events_of(&app, "payment_intent.payment_failed").await;
    assert_eq!(failed.len(), 2);
    assert_eq!(
        failed[0]["data"]["object"]["last_payment_error"]["decline_code"],
        "insufficient_funds"
    );
    assert_eq!(failed[0]["data"]["object"]["id"], pi.as_str());
    // Then a card that works: that payment intent succeeds.
    let paid = b.card(&card_page, CARD_OK).await;
    assert_eq!(paid.status, 303, "{}", paid.body);
    let done = app
        .get(&format!("/v1/payment_intents/{pi}"))
        .await
        .ok()
        .clone();
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["amount_received"], 1800);
    assert_eq!(done["last_payment_error"], serde_json::Value::Null);
    assert!(done["customer"].as_str().unwrap().starts_with("cus_"));
    let succeeded = events_of(&app, "payment_intent.succeeded").await;
    assert_eq!(succeeded.len(), 1);
    assert_eq!(succeeded[0]["data"]["object"], done);
    assert_eq!(events_of(&app, "payment_intent.created").await.len(), 1);
    let all = app.get("/v1/payment_intents").await.ok()["data"].clone();
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
    let session = app
        .get(&format!(
            "/v1/checkout/sessions/{}",
            cs["id"].as_str().unwrap()
        ))
        .await
        .ok()
        .clone();
    assert_eq!(session["status"], "complete");
    assert_eq!(session["payment_intent"], pi.as_str());
    app.post("/v1/refunds", json!({"payment_intent": pi, "amount": 100}))
        .await
        .ok();

    // Declined, then abandoned: canceled when the session expires.
    let s = b
        .checkout(&app, &link, &[("email", "gone@example.com")])
        .await;
    let card_page = s.location.unwrap();
    b.card(&card_page, "4000000000000002").await;
    let cs = app.get("/v1/checkout/sessions?limit=1").await.ok()["data"][0].clone();
    let pi2 = cs["payment_intent"].as_str().unwrap().to_string();
    assert_ne!(pi2, pi);
    app.clock.advance(25 * 3_600);
    paylink_jobs::purge_once(&app.store, app.now(), &paylink_jobs::Retention::default())
        .await
        .unwrap();
    let canceled = app
        .get(&format!("/v1/payment_intents/{pi2}"))
        .await
        .ok()
        .clone();
    assert_eq!(canceled["status"], "canceled");
    let c = events_of(&app, "payment_intent.canceled").await;
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["data"]["object"], canceled);
}
both!(declined_attempts_are_recorded_and_then_succeed);
