//! `consent_collection[terms_of_service]=required`: the buyer ticks a
//! checkbox accepting the merchant's terms of service (a URL in the
//! account's settings) before paying; the session records it as
//! `consent.terms_of_service: accepted`.

use paylink_domain::roles::Role;

use crate::both;
use crate::buyer::*;
use crate::dash::*;
use crate::helpers::*;
use serde_json::Value;

const TERMS: &str = "https://shop.example/terms";

async fn buyers_accept_the_terms_of_service_before_paying(app: TestApp) {
    let price = app.price("eur", 1200).await;
    let items = json!([{"price": price, "quantity": 1}]);
    let consent = json!({"terms_of_service": "required"});
    // Without a terms URL in the settings there is nothing to accept.
    app.post(
        "/v1/payment_links",
        json!({"line_items": items, "consent_collection": consent}),
    )
    .await
    .assert_error(400, Some("consent_collection[terms_of_service]"));
    // Promotional consent is not collected; a checkbox label needs its
    // checkbox.
    app.post(
        "/v1/payment_links",
        json!({"line_items": items, "consent_collection": {"promotions": "auto"}}),
    )
    .await
    .assert_error(400, Some("consent_collection[promotions]"));
    app.post(
        "/v1/payment_links",
        json!({"line_items": items, "custom_text": {"terms_of_service_acceptance": {"message": "I agree"}}}),
    )
    .await
    .assert_error(400, Some("custom_text[terms_of_service_acceptance]"));
    // Off values are accepted and read as null.
    let plain = app
        .post(
            "/v1/payment_links",
            json!({"line_items": items, "consent_collection": {"terms_of_service": "none", "promotions": "none", "payment_method_reuse_agreement": {"position": "auto"}}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(plain["consent_collection"], Value::Null);
    // The owner sets the URL in the dashboard (live mode: it is the
    // account's, for both modes); http is refused beside the field.
    let mut owner = member(&app, "owner@shop.example", Role::Owner).await;
    owner.get("/dashboard").await;
    owner.post("/dashboard/mode", &[("live", "true")]).await;
    owner.get("/dashboard/settings").await;
    let bad = owner
        .post(
            "/dashboard/settings",
            &[
                ("primary_color", "#4f46e5"),
                ("terms_url", "http://shop.example/terms"),
            ],
        )
        .await;
    assert!(
        bad.body.contains("must be an https URL") && bad.body.contains("id=\"terms_url-error\""),
        "{}",
        bad.body
    );
    let saved = owner
        .post(
            "/dashboard/settings",
            &[("primary_color", "#4f46e5"), ("terms_url", TERMS)],
        )
        .await;
    assert!(saved.body.contains("Saved."), "{}", saved.body);
    assert_eq!(
        app.get("/v1/account").await.ok()["settings"]["checkout"]["terms_of_service_url"],
        TERMS
    );
    let link = app
        .post(
            "/v1/payment_links",
            json!({"line_items": items, "consent_collection": consent,
                   "custom_text": {"terms_of_service_acceptance": {"message": "I accept the rental conditions."}}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(
        link["consent_collection"],
        json!({"terms_of_service": "required", "promotions": "none", "payment_method_reuse_agreement": null})
    );
    assert_eq!(
        link["custom_text"]["terms_of_service_acceptance"]["message"],
        "I accept the rental conditions."
    );
    let id = link["id"].as_str().unwrap().to_string();
    // The page shows the checkbox, its label and the merchant's terms.
    let b = Buyer::new();
    let page = b.get(&app.url(&format!("/l/{id}"))).await;
    assert!(page.body.contains("name=\"terms\""), "{}", page.body);
    assert!(page.body.contains("I accept the rental conditions."));
    assert!(page.body.contains(&format!("href=\"{TERMS}\"")));
    // Paying without ticking it is refused beside it.
    let unticked = b
        .checkout(&app, &id, &[("email", "terms@example.com")])
        .await;
    assert_ne!(unticked.status, 303);
    assert!(
        unticked
            .body
            .contains("Accept the terms of service to continue."),
        "{}",
        unticked.body
    );
    let sid = b
        .pay(
            &app,
            &id,
            &[("email", "terms@example.com"), ("terms", "accepted")],
        )
        .await;
    let s = app
        .get(&format!("/v1/checkout/sessions/{sid}"))
        .await
        .ok()
        .clone();
    assert_eq!(
        s["consent"],
        json!({"terms_of_service": "accepted", "promotions": null})
    );
    // The URL can't go while a link asks buyers to accept it.
    let kept = owner
        .post(
            "/dashboard/settings",
            &[("primary_color", "#4f46e5"), ("terms_url", "")],
        )
        .await;
    assert!(kept.body.contains("stop asking"), "{}", kept.body);
    let off = app
        .post(
            &format!("/v1/payment_links/{id}"),
            json!({"consent_collection": "", "custom_text": {"terms_of_service_acceptance": ""}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(off["consent_collection"], Value::Null);
    let page = b.get(&app.url(&format!("/l/{id}"))).await;
    assert!(!page.body.contains("name=\"terms\""));
    let gone = owner
        .post(
            "/dashboard/settings",
            &[("primary_color", "#4f46e5"), ("terms_url", "")],
        )
        .await;
    assert!(gone.body.contains("Saved."), "{}", gone.body);
    assert_eq!(
        app.get("/v1/account").await.ok()["settings"]["checkout"]["terms_of_service_url"],
        Value::Null
    );
}
both!(buyers_accept_the_terms_of_service_before_paying);

async fn an_api_session_asks_for_consent_too(app: TestApp) {
    app.post_as(
        &app.live_key,
        "/v1/account",
        json!({"settings": {"checkout": {"terms_of_service_url": TERMS}}}),
    )
    .await
    .ok();
    let price = app.price("eur", 800).await;
    let s = app
        .post(
            "/v1/checkout/sessions",
            json!({"mode": "payment", "line_items": [{"price": price, "quantity": 1}],
                   "consent_collection": {"terms_of_service": "required"}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(s["consent_collection"]["terms_of_service"], "required");
    assert_eq!(s["consent"], Value::Null);
    let url = s["url"].as_str().unwrap().to_string();
    let b = Buyer::new();
    let refused = b
        .post(&url, &[("email", "api@example.com"), ("action", "pay")])
        .await;
    assert_ne!(refused.status, 303);
    assert!(refused
        .body
        .contains("Accept the terms of service to continue."));
    let submitted = b
        .post(
            &url,
            &[
                ("email", "api@example.com"),
                ("terms", "accepted"),
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
    assert_eq!(done["consent"]["terms_of_service"], "accepted");
    assert_eq!(done["status"], "complete");
}
both!(an_api_session_asks_for_consent_too);
