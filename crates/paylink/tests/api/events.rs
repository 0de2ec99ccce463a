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
