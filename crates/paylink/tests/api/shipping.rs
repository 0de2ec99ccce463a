//! `shipping_address_collection`: a link's (or an API session's) page asks
//! for a shipping address in the countries it ships to; the address is on
//! the session as `collected_information.shipping_details`, sealed at
//! rest, shown to the merchant beside the payment, and erased with the
//! buyer's other details (on request, or when its retention ends).

use paylink_domain::roles::Role;
use paylink_domain::Clock;

use crate::both;
use crate::buyer::*;
use crate::dash::*;
use crate::helpers::*;
use serde_json::Value;

/// A street and a name no other test uses: found in the raw database only
/// if stored in clear.
const STREET: &str = "17 Rue des Canaries Perdues";
const NAME: &str = "Zéphyrine Canari-Expédition";

fn ship_to(country: &str) -> Vec<(&str, &str)> {
    vec![
        ("email", "ship@example.com"),
        ("ship_name", NAME),
        ("ship_line1", STREET),
        ("ship_line2", "Bâtiment B"),
        ("ship_postal_code", "69001"),
        ("ship_city", "Lyon"),
        ("ship_country", country),
    ]
}

fn contains(raw: &[u8], s: &str) -> bool {
    raw.windows(s.len()).any(|w| w == s.as_bytes())
}

async fn a_link_asks_for_a_shipping_address_in_its_countries(app: TestApp) {
    let link = app
        .link_with(
            "eur",
            2500,
            json!({
                "shipping_address_collection": {"allowed_countries": ["FR", "BE", "FR"]},
                "custom_text": {"shipping_address": {"message": "We ship within 2 days."}},
            }),
        )
        .await;
    let l = app
        .get(&format!("/v1/payment_links/{link}"))
        .await
        .ok()
        .clone();
    assert_eq!(
        l["shipping_address_collection"],
        json!({"allowed_countries": ["FR", "BE"]}),
        "a repeated country is kept once"
    );
    assert_eq!(
        l["custom_text"]["shipping_address"]["message"],
        "We ship within 2 days."
    );
    // The page offers exactly those countries, by name.
    let b = Buyer::new();
    let page = b.get(&app.url(&format!("/l/{link}"))).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Shipping address"), "{}", page.body);
    assert!(page.body.contains("We ship within 2 days."));
    assert!(page.body.contains("<option value=\"FR\">France</option>"));
    assert!(page.body.contains("<option value=\"BE\">Belgium</option>"));
    assert!(!page.body.contains("Germany"));
    // Pay without an address: each missing field is named beside it, and
    // nothing is opened.
    let bare = b
        .checkout(&app, &link, &[("email", "ship@example.com")])
        .await;
    assert_ne!(bare.status, 303, "{}", bare.body);
    for msg in [
        "Enter the name to ship to.",
        "Enter the street address.",
        "Enter the city.",
        "Enter the postal code.",
        "Choose a country.",
    ] {
        assert!(bare.body.contains(msg), "{msg}: {}", bare.body);
    }
    // A country the link does not ship to is refused, what was typed kept.
    let far = b.checkout(&app, &link, &ship_to("DE")).await;
    assert_ne!(far.status, 303);
    assert!(
        far.body.contains("We don&#39;t ship to this country")
            || far.body.contains("We don't ship to this country"),
        "{}",
        far.body
    );
    assert!(far.body.contains(STREET));
    // A forged country outside Stripe's list changes nothing either.
    let forged = b.checkout(&app, &link, &ship_to("<x>")).await;
    assert_ne!(forged.status, 303);
    assert!(!forged.body.contains("<x>"));
    // With an address: paid, and on the session where Stripe puts it.
    let sid = b.pay(&app, &link, &ship_to("be")).await;
    let s = app
        .get(&format!("/v1/checkout/sessions/{sid}"))
        .await
        .ok()
        .clone();
    let want = json!({
        "name": NAME,
        "address": {"line1": STREET, "line2": "Bâtiment B", "city": "Lyon",
                    "postal_code": "69001", "state": null, "country": "BE"},
    });
    assert_eq!(s["collected_information"]["shipping_details"], want);
    assert_eq!(s["shipping_details"], want);
    assert_eq!(s["status"], "complete");
    // Sealed at rest: neither the street nor the name is in the database.
    let raw = app.raw_database();
    assert!(!contains(&raw, STREET), "the street is stored in clear");
    assert!(!contains(&raw, NAME), "the name is stored in clear");
    // The merchant sees where to ship beside the payment; an analyst sees
    // the country only.
    let pi = s["payment_intent"].as_str().unwrap().to_string();
    let mut owner = member(&app, "owner@shop.example", Role::Owner).await;
    let p = owner.get(&format!("/dashboard/payments/{pi}")).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("Ship to"), "{}", p.body);
    assert!(p.body.contains(STREET) && p.body.contains(NAME));
    assert!(p.body.contains("Belgium"));
    let mut analyst = member(&app, "analyst@shop.example", Role::Analyst).await;
    let p = analyst.get(&format!("/dashboard/payments/{pi}")).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("Belgium"), "{}", p.body);
    assert!(!p.body.contains(STREET) && !p.body.contains(NAME));
    // The buyer's export carries it; their erasure removes it.
    let customer = s["customer"].as_str().unwrap().to_string();
    let export = owner
        .get(&format!("/dashboard/customers/{customer}/export"))
        .await;
    assert!(export.body.contains(STREET), "{}", export.body);
    app.delete(&format!("/v1/customers/{customer}")).await.ok();
    let s = app
        .get(&format!("/v1/checkout/sessions/{sid}"))
        .await
        .ok()
        .clone();
    assert_eq!(s["collected_information"]["shipping_details"], Value::Null);
    assert_eq!(s["shipping_details"], Value::Null);
    let p = owner.get(&format!("/dashboard/payments/{pi}")).await;
    assert!(!p.body.contains(STREET) && !p.body.contains("Ship to"));
}
both!(a_link_asks_for_a_shipping_address_in_its_countries);

async fn an_abandoned_checkouts_shipping_address_is_erased_with_its_buyer(app: TestApp) {
    let link = app
        .link_with(
            "eur",
            1000,
            json!({"shipping_address_collection": {"allowed_countries": ["FR"]}}),
        )
        .await;
    // One country: it is chosen already.
    let b = Buyer::new();
    let page = b.get(&app.url(&format!("/l/{link}"))).await;
    assert!(
        page.body
            .contains("<option value=\"FR\" selected>France</option>"),
        "{}",
        page.body
    );
    assert_eq!(b.checkout(&app, &link, &ship_to("FR")).await.status, 303);
    let open = app
        .get("/v1/checkout/sessions?status=open")
        .await
        .ok()
        .clone();
    assert_eq!(
        open["data"][0]["collected_information"]["shipping_details"]["address"]["line1"],
        STREET
    );
    let r = paylink_jobs::Retention::default();
    let store = &app.opened.store;
    app.clock.advance(24 * 3600);
    paylink_jobs::purge_once(store, app.clock.now(), &r)
        .await
        .unwrap();
    app.clock.advance(30 * 24 * 3600 + 1);
    let pass = paylink_jobs::purge_once(store, app.clock.now(), &r)
        .await
        .unwrap();
    assert_eq!(pass.abandoned_checkouts, 1);
    let expired = app
        .get("/v1/checkout/sessions?status=expired")
        .await
        .ok()
        .clone();
    assert_eq!(
        expired["data"][0]["collected_information"]["shipping_details"],
        Value::Null
    );
    assert_eq!(expired["data"][0]["shipping_details"], Value::Null);
}
both!(an_abandoned_checkouts_shipping_address_is_erased_with_its_buyer);

async fn shipping_countries_are_checked_and_can_be_unset(app: TestApp) {
    let price = app.price("eur", 900).await;
    let items = json!([{"price": price, "quantity": 1}]);
    for (countries, param) in [
        (
            json!(["FR", "XX"]),
            "shipping_address_collection[allowed_countries][1]",
        ),
        (
            json!(["fr"]),
            "shipping_address_collection[allowed_countries][0]",
        ),
        (
            json!(["CU"]),
            "shipping_address_collection[allowed_countries][0]",
        ),
    ] {
        app.post(
            "/v1/payment_links",
            json!({"line_items": items, "shipping_address_collection": {"allowed_countries": countries}}),
        )
        .await
        .assert_error(400, Some(param));
    }
    // (A JSON body: a form can't send an empty object.)
    app.post_json(
        "/v1/payment_links",
        json!({"line_items": items, "shipping_address_collection": {}}),
    )
    .await
    .assert_error(400, Some("shipping_address_collection[allowed_countries]"));
    let link = app
        .post(
            "/v1/payment_links",
            json!({"line_items": items, "shipping_address_collection": {"allowed_countries": ["US", "CA"]}}),
        )
        .await
        .id();
    let up = app
        .post(
            &format!("/v1/payment_links/{link}"),
            json!({"shipping_address_collection": {"allowed_countries": ["GB"]}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(
        up["shipping_address_collection"]["allowed_countries"],
        json!(["GB"])
    );
    let off = app
        .post(
            &format!("/v1/payment_links/{link}"),
            json!({"shipping_address_collection": ""}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(off["shipping_address_collection"], Value::Null);
    let page = Buyer::new().get(&app.url(&format!("/l/{link}"))).await;
    assert!(!page.body.contains("Shipping address"));
}
both!(shipping_countries_are_checked_and_can_be_unset);

async fn an_api_session_asks_for_a_shipping_address_too(app: TestApp) {
    let price = app.price("usd", 4000).await;
    let s = app
        .post(
            "/v1/checkout/sessions",
            json!({"mode": "payment", "line_items": [{"price": price, "quantity": 1}],
                   "shipping_address_collection": {"allowed_countries": ["US", "CA"]}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(
        s["shipping_address_collection"]["allowed_countries"],
        json!(["US", "CA"])
    );
    assert_eq!(s["collected_information"]["shipping_details"], Value::Null);
    let id = s["id"].as_str().unwrap().to_string();
    let url = s["url"].as_str().unwrap().to_string();
    let b = Buyer::new();
    let page = b.get(&url).await;
    assert!(page.body.contains("<option value=\"CA\">Canada</option>"));
    let mut form = vec![
        ("email", "ship@example.com"),
        ("ship_name", NAME),
        ("ship_line1", STREET),
        ("ship_city", "Portland"),
        ("ship_postal_code", "97201"),
        ("ship_state", "OR"),
        ("ship_country", "US"),
    ];
    form.push(("action", "pay"));
    let submitted = b.post(&url, &form).await;
    assert_eq!(submitted.status, 303, "{}", submitted.body);
    let sim = b.get(&submitted.location.unwrap()).await.location.unwrap();
    assert_eq!(b.card(&sim, CARD_OK).await.status, 303);
    let done = app
        .get(&format!("/v1/checkout/sessions/{id}"))
        .await
        .ok()
        .clone();
    let d = &done["collected_information"]["shipping_details"];
    assert_eq!(d["name"], NAME);
    assert_eq!(d["address"]["state"], "OR");
    assert_eq!(d["address"]["country"], "US");
    assert_eq!(done["payment_status"], "paid");
}
both!(an_api_session_asks_for_a_shipping_address_too);
