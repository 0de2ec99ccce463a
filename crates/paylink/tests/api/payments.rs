//! Limits under concurrency, refunds, expiry, customers, QR codes.

use std::sync::Arc;

use crate::both;
use crate::buyer::*;
use crate::helpers::*;
use serde_json::Value;

/// 200 buyers at once against a link limited to 50 completed sessions:
/// exactly 50 get to pay, all 50 complete, and the link turns inactive.
async fn link_limit_holds_under_concurrency(app: TestApp) {
    let link = app.link_with("eur", 500, json!({"restrictions": {"completed_sessions": {"limit": 50}}, "inactive_message": "All gone"})).await;
    let app = Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (app, link) = (app.clone(), link.clone());
        tasks.push(tokio::spawn(async move {
            let b = Buyer::new();
            let email = format!("buyer{i}@example.com");
            let s = b.checkout(&app, &link, &[("email", email.as_str())]).await;
            if s.status != 303 {
                // Sold out (410) or every place held by a buyer paying (409).
                assert!(s.status == 410 || s.status == 409, "{}", s.body);
                return false;
            }
            let paid = b.card(&s.location.unwrap(), CARD_OK).await;
            assert_eq!(paid.status, 303, "{}", paid.body);
            true
        }));
    }
    let mut paid = 0;
    for t in tasks {
        if t.await.unwrap() {
            paid += 1;
        }
    }
    assert_eq!(paid, 50);
    let l = app.get(&format!("/v1/payment_links/{link}")).await;
    assert_eq!(
        l.ok()["restrictions"]["completed_sessions"],
        json!({"count": 50, "limit": 50})
    );
    assert_eq!(l.body["active"], false);
    let pis = app.get("/v1/payment_intents?limit=100").await;
    assert_eq!(pis.ok()["data"].as_array().unwrap().len(), 50);
    let gone = Buyer::new().get(&app.url(&format!("/l/{link}"))).await;
    assert_eq!(gone.status, 410);
    assert!(gone.body.contains("All gone"));
}
both!(link_limit_holds_under_concurrency);

/// A code with max_redemptions 10 under 100 concurrent checkouts is
/// redeemed exactly 10 times.
async fn promotion_code_limit_holds_under_concurrency(app: TestApp) {
    let link = app
        .link_with("usd", 1000, json!({"allow_promotion_codes": true}))
        .await;
    let coupon = app.coupon_pct("50").await;
    app.post(
        "/v1/promotion_codes",
        json!({"code": "HALF", "coupon": coupon, "max_redemptions": 10}),
    )
    .await
    .ok();
    let app = Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..100 {
        let (app, link) = (app.clone(), link.clone());
        tasks.push(tokio::spawn(async move {
            let b = Buyer::new();
            let email = format!("p{i}@example.com");
            let s = b
                .checkout(&app, &link, &[("email", email.as_str()), ("promo", "HALF")])
                .await;
            match s.status {
                303 => {
                    assert_eq!(b.card(&s.location.unwrap(), CARD_OK).await.status, 303);
                    true
                }
                409 | 422 => {
                    assert!(s.body.contains("used up"), "{}", s.body);
                    false
                }
                other => panic!("unexpected {other}: {}", s.body),
            }
        }));
    }
    let mut redeemed = 0;
    for t in tasks {
        if t.await.unwrap() {
            redeemed += 1;
        }
    }
    assert_eq!(redeemed, 10);
    let promo = app.get("/v1/promotion_codes?code=HALF").await;
    assert_eq!(promo.ok()["data"][0]["times_redeemed"], 10);
    let pis = app.get("/v1/payment_intents?limit=100").await;
    assert!(pis.ok()["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["amount"] == 500));
    assert_eq!(pis.body["data"].as_array().unwrap().len(), 10);
}
both!(promotion_code_limit_holds_under_concurrency);

async fn first_time_code_is_per_email(app: TestApp) {
    let link = app
        .link_with("usd", 1000, json!({"allow_promotion_codes": true}))
        .await;
    let coupon = app.coupon_pct("20").await;
    app.post("/v1/promotion_codes", json!({"code": "WELCOME", "coupon": coupon, "restrictions": {"first_time_transaction": true}})).await.ok();
    let b = Buyer::new();
    // Ten concurrent first checkouts by the same email: one gets the code.
    let app = Arc::new(app);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (app, link) = (app.clone(), link.clone());
        tasks.push(tokio::spawn(async move {
            Buyer::new()
                .checkout(
                    &app,
                    &link,
                    &[("email", "new@example.com"), ("promo", "WELCOME")],
                )
                .await
        }));
    }
    let mut opened = Vec::new();
    for t in tasks {
        let s = t.await.unwrap();
        if s.status == 303 {
            opened.push(s.location.unwrap());
        } else {
            assert!(
                s.body.contains("only valid for a first purchase"),
                "{}",
                s.body
            );
        }
    }
    assert_eq!(opened.len(), 1);
    assert_eq!(b.card(&opened[0], CARD_OK).await.status, 303);
    // After paying, the same email (any case) can't use it again; another can.
    let again = b
        .checkout(
            &app,
            &link,
            &[("email", "NEW@example.com"), ("promo", "WELCOME")],
        )
        .await;
    assert!(again.body.contains("only valid for a first purchase"));
    let other = b
        .checkout(
            &app,
            &link,
            &[("email", "other@example.com"), ("promo", "WELCOME")],
        )
        .await;
    assert_eq!(other.status, 303);
    // A buyer who paid before without the code isn't a first-time buyer.
    b.pay(&app, &link, &[("email", "old@example.com")]).await;
    let old = b
        .checkout(
            &app,
            &link,
            &[("email", "old@example.com"), ("promo", "WELCOME")],
        )
        .await;
    assert!(old.body.contains("only valid for a first purchase"));
}
both!(first_time_code_is_per_email);

async fn refunds_never_exceed_the_payment(app: TestApp) {
    let link = app.link_with("eur", 1000, json!({})).await;
    let b = Buyer::new();
    b.pay(&app, &link, &[("email", "r@example.com")]).await;
    let pi = app.get("/v1/payment_intents").await.ok()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.post("/v1/refunds", json!({"payment_intent": pi, "amount": 300, "reason": "requested_by_customer", "metadata": {"ticket": "42"}})).await;
    let r = r.ok().clone();
    assert_eq!(
        (
            r["amount"].as_i64(),
            r["status"].as_str(),
            r["reason"].as_str()
        ),
        (Some(300), Some("succeeded"), Some("requested_by_customer"))
    );
    assert!(r["id"].as_str().unwrap().starts_with("re_"));
    app.post("/v1/refunds", json!({"payment_intent": pi, "amount": 701}))
        .await
        .assert_error(400, Some("amount"));
    app.post("/v1/refunds", json!({"payment_intent": "pi_nope"}))
        .await
        .assert_error(400, Some("payment_intent"));
    app.post("/v1/refunds", json!({"payment_intent": pi, "amount": 0}))
        .await
        .assert_error(400, Some("amount"));
    app.post(
        "/v1/refunds",
        json!({"payment_intent": pi, "reason": "bored"}),
    )
    .await
    .assert_error(400, Some("reason"));
    // Twenty concurrent refunds of 100 against the 700 left: exactly 7 pass.
    let app = Arc::new(app);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, pi) = (app.clone(), pi.clone());
        tasks.push(tokio::spawn(async move {
            app.post("/v1/refunds", json!({"payment_intent": pi, "amount": 100}))
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            200 => ok += 1,
            400 => assert_eq!(r.body["error"]["param"], "amount"),
            other => panic!("unexpected {other}: {r:?}"),
        }
    }
    assert_eq!(ok, 7);
    let p = app.get(&format!("/v1/payment_intents/{pi}")).await;
    assert_eq!(p.ok()["amount_refunded"], 1000);
    let list = app
        .get(&format!("/v1/refunds?payment_intent={pi}&limit=100"))
        .await;
    let total: i64 = list.ok()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 1000);
    app.post("/v1/refunds", json!({"payment_intent": pi}))
        .await
        .assert_error(400, Some("amount"));
    let one = app
        .get(&format!("/v1/refunds/{}", r["id"].as_str().unwrap()))
        .await;
    assert_eq!(one.ok()["metadata"], json!({"ticket": "42"}));
}
both!(refunds_never_exceed_the_payment);

async fn expiry_releases_reservations(app: TestApp) {
    let link = app.link_with("eur", 1000, json!({"restrictions": {"completed_sessions": {"limit": 1}}, "allow_promotion_codes": true})).await;
    let coupon = app.coupon_pct("10").await;
    app.post(
        "/v1/promotion_codes",
        json!({"code": "ONCE", "coupon": coupon, "max_redemptions": 1}),
    )
    .await
    .ok();
    let b = Buyer::new();
    let first = b
        .checkout(
            &app,
            &link,
            &[("email", "a@example.com"), ("promo", "ONCE")],
        )
        .await;
    assert_eq!(first.status, 303);
    // The only place is reserved (held: it may free up).
    assert_eq!(
        b.checkout(&app, &link, &[("email", "b@example.com")])
            .await
            .status,
        409
    );
    let held = app.get("/v1/checkout/sessions").await;
    let held = &held.ok()["data"][0];
    assert_eq!(
        held["expires_at"].as_i64().unwrap() - held["created"].as_i64().unwrap(),
        30 * 60,
        "a scarce place is held 30 minutes"
    );
    let sid = held["id"].as_str().unwrap().to_string();
    let e = app
        .post(&format!("/v1/checkout/sessions/{sid}/expire"), json!({}))
        .await;
    assert_eq!(e.ok()["status"], "expired");
    app.post(&format!("/v1/checkout/sessions/{sid}/expire"), json!({}))
        .await
        .assert_error(400, None);
    // Paying an expired session records nothing, and the provider gives
    // the money back: the sim refuses a second refund of it in full.
    let sim_url = first.location.unwrap();
    let late = b.card(&sim_url, CARD_OK).await;
    assert_eq!(late.status, 303);
    assert_eq!(
        app.get(&format!("/v1/checkout/sessions/{sid}")).await.ok()["status"],
        "expired"
    );
    assert_eq!(
        app.get("/v1/payment_intents").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let simpay = sim_url.rsplit('/').next().unwrap();
    let again = app
        .client
        .post(format!("{}/v1/refunds", app.sim_base))
        .bearer_auth(app.sim_key())
        .json(&json!({"payment": simpay, "amount": 1, "idempotency_key": "probe"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        400,
        "the late payment was already refunded in full"
    );
    // The merchant is told: their audit log holds the refund, on the
    // session, with the amount.
    let entries = app.audit_log().await;
    let late_entry = entries
        .iter()
        .find(|e| e.action == "payment.late_refunded")
        .expect("the late payment's refund is audited");
    assert_eq!(late_entry.target.as_deref(), Some(sid.as_str()));
    assert!(late_entry.detail.contains(simpay), "{}", late_entry.detail);
    // Place and code are free again; a session left open expires after 24 h.
    let second = b
        .checkout(
            &app,
            &link,
            &[("email", "b@example.com"), ("promo", "ONCE")],
        )
        .await;
    assert_eq!(second.status, 303, "{}", second.body);
    app.clock.advance(29 * 60);
    assert_eq!(
        app.opened
            .store
            .sessions_due(app.clock.now())
            .await
            .unwrap(),
        0
    );
    app.clock.advance(60);
    assert_eq!(
        app.opened
            .store
            .sessions_due(app.clock.now())
            .await
            .unwrap(),
        1
    );
    let report = paylink_jobs::purge_once(
        &app.opened.store,
        app.clock.now(),
        &paylink_jobs::Retention::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.expired_sessions, 1);
    let third = b
        .pay(
            &app,
            &link,
            &[("email", "c@example.com"), ("promo", "ONCE")],
        )
        .await;
    let s = app.get(&format!("/v1/checkout/sessions/{third}")).await;
    assert_eq!(s.ok()["status"], "complete");
    assert_eq!(s.body["total_details"]["amount_discount"], 100);
    let listed = app
        .get(&format!(
            "/v1/checkout/sessions?payment_link={link}&status=expired"
        ))
        .await;
    assert_eq!(listed.ok()["data"].as_array().unwrap().len(), 2);
}
both!(expiry_releases_reservations);

async fn customers_api(app: TestApp) {
    let link = app.link_with("eur", 1000, json!({})).await;
    let b = Buyer::new();
    b.pay(&app, &link, &[("email", "Cus@Example.com")]).await;
    let list = app.get("/v1/customers?email=cus@example.com").await;
    let c = list.ok()["data"][0].clone();
    let id = c["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("cus_"));
    let up = app.post(&format!("/v1/customers/{id}"), json!({"name": "Cus Tomer", "phone": "+1 555 0100", "address": {"line1": "1 Main St", "country": "us"}, "metadata": {"vip": "yes"}})).await;
    assert_eq!(up.ok()["name"], "Cus Tomer");
    assert_eq!(up.body["address"]["country"], "US");
    app.post(&format!("/v1/customers/{id}"), json!({"email": "nope"}))
        .await
        .assert_error(400, Some("email"));
    app.post(
        &format!("/v1/customers/{id}"),
        json!({"address": {"country": "usa"}}),
    )
    .await
    .assert_error(400, Some("address[country]"));
    let pi = app
        .get(&format!("/v1/payment_intents?customer={id}"))
        .await
        .ok()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.delete(&format!("/v1/customers/{id}")).await.ok(),
        &json!({"id": id, "object": "customer", "deleted": true})
    );
    // Retrieved afterwards: Stripe's deleted stub, nothing else of them.
    assert_eq!(
        app.get(&format!("/v1/customers/{id}")).await.ok(),
        &json!({"id": id, "object": "customer", "deleted": true})
    );
    // Gone from lists and updates.
    assert!(app.get("/v1/customers").await.ok()["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["id"] != id.as_str()));
    app.post(&format!("/v1/customers/{id}"), json!({"name": "Back"}))
        .await
        .assert_error(404, Some("id"));
    // The payment keeps its amount and date.
    assert_eq!(
        app.get(&format!("/v1/payment_intents/{pi}")).await.ok()["amount"],
        1000
    );
    // Another account sees none of it.
    let (_, other) = app.other_account().await;
    app.get_as(&other, &format!("/v1/payment_intents/{pi}"))
        .await
        .assert_error(404, Some("id"));
    let sid = app.get("/v1/checkout/sessions").await.ok()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.get_as(&other, &format!("/v1/checkout/sessions/{sid}"))
        .await
        .assert_error(404, Some("id"));
    app.post_as(&other, "/v1/refunds", json!({"payment_intent": pi}))
        .await
        .assert_error(400, Some("payment_intent"));
    assert_eq!(
        app.get_as(&other, "/v1/checkout/sessions").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}
both!(customers_api);

async fn qr_codes_and_account(app: TestApp) {
    let link = app.link_with("eur", 1000, json!({})).await;
    let svg = app.get(&format!("/v1/payment_links/{link}/qr.svg")).await;
    assert_eq!(svg.status, 200);
    assert_eq!(svg.headers["content-type"], "image/svg+xml");
    assert!(String::from_utf8_lossy(&svg.bytes).contains("<svg"));
    let png = app.get(&format!("/v1/payment_links/{link}/qr.png")).await;
    assert_eq!(png.headers["content-type"], "image/png");
    assert!(png.bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    let decoder = png::Decoder::new(std::io::Cursor::new(png.bytes.clone()));
    let info = decoder.read_info().unwrap();
    assert!(info.info().width >= 200 && info.info().width == info.info().height);
    app.send(
        app.client
            .get(app.url(&format!("/v1/payment_links/{link}/qr.png"))),
    )
    .await
    .assert_error(401, None);
    app.get("/v1/payment_links/plink_nope/qr.svg")
        .await
        .assert_error(404, Some("id"));
    let acct = app.get("/v1/account").await;
    assert_eq!(acct.ok()["id"], app.account.as_str());
    let up = app
        .post_as(
            &app.live_key,
            "/v1/account",
            json!({"settings": {"branding": {"primary_color": "#FF0000"}}}),
        )
        .await;
    assert_eq!(up.ok()["settings"]["branding"]["primary_color"], "#ff0000");
    app.post_as(
        &app.live_key,
        "/v1/account",
        json!({"settings": {"branding": {"primary_color": "red;}"}}}),
    )
    .await
    .assert_error(400, Some("settings[branding][primary_color]"));
    let page = Buyer::new().get(&app.url(&format!("/l/{link}"))).await;
    assert!(page.body.contains("--brand:#ff0000"));
}
both!(qr_codes_and_account);

async fn sim_api_requires_its_key(app: TestApp) {
    let body = json!({"session_id": "cs_x", "amount": 100, "currency": "eur", "description": "d", "merchant_name": "m", "return_url": "http://x/", "cancel_url": "http://x/", "require_3ds": false});
    for key in [
        None,
        Some("sk_sim_wrong"),
        Some(&app.sim_key()[..app.sim_key().len() - 1]),
    ] {
        let mut req = app
            .client
            .post(format!("{}/v1/payments", app.sim_base))
            .json(&body);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        assert_eq!(req.send().await.unwrap().status(), 401);
    }
    let ok = app
        .client
        .post(format!("{}/v1/payments", app.sim_base))
        .bearer_auth(app.sim_key())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}
both!(sim_api_requires_its_key);

/// Two instances on one PostgreSQL database (separate connection pools, as
/// separate processes would have): buyers on both, and the provider's
/// webhook retried against both at once, still give exact limits and one
/// payment per session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL skipped: set PAYLINK_TEST_DATABASE_URL (e.g. postgres://root@127.0.0.1/test) to run it"
)]
async fn two_instances_share_limits_and_events() {
    let a = spawn_app(Db::Postgres).await;
    let b_base = a.second_instance().await;
    let link = a
        .link_with(
            "eur",
            700,
            json!({"restrictions": {"completed_sessions": {"limit": 10}}}),
        )
        .await;
    let a = Arc::new(a);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (a, link, b_base) = (a.clone(), link.clone(), b_base.clone());
        tasks.push(tokio::spawn(async move {
            let buyer = Buyer::new();
            let base = if i % 2 == 0 { a.base.clone() } else { b_base };
            let email = format!("m{i}@example.com");
            let s = buyer
                .post(
                    &format!("{base}/l/{link}"),
                    &[("email", email.as_str()), ("action", "pay")],
                )
                .await;
            s.status == 303
        }));
    }
    let mut opened = 0;
    for t in tasks {
        if t.await.unwrap() {
            opened += 1;
        }
    }
    assert_eq!(opened, 10);
    // Each open session's payment event, delivered three times to each instance at once.
    let sessions = a.get("/v1/checkout/sessions?status=open&limit=100").await;
    let mut deliveries = Vec::new();
    for s in sessions.ok()["data"].as_array().unwrap() {
        // The payment paylink created for the session, and its merchant.
        let id = s["id"].as_str().unwrap();
        let payment = a
            .raw_strings(&format!(
                "SELECT provider_ref FROM checkout_sessions WHERE id = '{id}'"
            ))
            .await
            .remove(0);
        let merchant = a
            .raw_strings(&format!(
                "SELECT provider_account FROM checkout_sessions WHERE id = '{id}'"
            ))
            .await
            .remove(0);
        let event = json!({"id": format!("evt_sim_{id}"), "type": "payment.succeeded", "created": a.clock.now(), "data": {"payment": payment, "merchant": merchant, "livemode": false, "session": s["id"], "amount": 700, "currency": "eur", "payment_method": "pm_sim", "card": {"brand": "visa", "last4": "4242"}}}).to_string();
        for n in 0..6 {
            let (a, event, b_base) = (a.clone(), event.clone(), b_base.clone());
            deliveries.push(tokio::spawn(async move {
                let base = if n % 2 == 0 { a.base.clone() } else { b_base };
                let sig = paylink_providers::signature::sign(
                    &a.sim.webhook_secret,
                    a.clock.now(),
                    event.as_bytes(),
                );
                a.client
                    .post(format!("{base}/webhooks/sim"))
                    .header("sim-signature", sig)
                    .body(event)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
    }
    for d in deliveries {
        assert_eq!(d.await.unwrap(), 200);
    }
    assert_eq!(
        a.get("/v1/payment_intents?limit=100").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    let l = a.get(&format!("/v1/payment_links/{link}")).await;
    assert_eq!(
        l.ok()["restrictions"]["completed_sessions"],
        json!({"count": 10, "limit": 10})
    );
    assert_eq!(l.body["active"], false);
}

/// `POST /v1/customers`: a customer made by the merchant, its personal
/// fields sealed at rest and found by email through the blind index,
/// `customer.created` written; bad input named; a retry with the same
/// idempotency key makes no second customer.
async fn merchants_create_customers(app: TestApp) {
    let c = app
        .post(
            "/v1/customers",
            json!({"email": "Made.By@Merchant.example", "name": "Mara Merchant", "phone": "+33 1 23 45 67 89",
                   "address": {"line1": "1 rue Exemple", "city": "Paris", "country": "fr"}, "metadata": {"crm": "42"}}),
        )
        .await
        .ok()
        .clone();
    let id = c["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("cus_"), "{c}");
    assert_eq!(c["object"], "customer");
    // The domain is case-insensitive: kept in lower case.
    assert_eq!(c["email"], "Made.By@merchant.example");
    assert_eq!(c["address"]["country"], "FR");
    assert_eq!(c["metadata"], json!({"crm": "42"}));
    assert_eq!(&c, app.get(&format!("/v1/customers/{id}")).await.ok());
    let found = app
        .get("/v1/customers?email=made.by@merchant.example")
        .await
        .ok()
        .clone();
    assert_eq!(found["data"][0]["id"], id.as_str());
    let stored = app
        .raw_strings("SELECT email || name || phone || address FROM customers")
        .await;
    assert!(
        stored
            .iter()
            .all(|s| !s.contains("Made.By") && !s.contains("Mara") && !s.contains("Exemple")),
        "{stored:?}"
    );
    let e = app
        .get("/v1/events?type=customer.created")
        .await
        .ok()
        .clone();
    assert_eq!(e["data"][0]["data"]["object"], c);
    // A buyer paying with that email is that customer.
    let link = app.link_with("eur", 700, json!({})).await;
    let cs = crate::buyer::Buyer::new()
        .pay(&app, &link, &[("email", "made.by@merchant.example")])
        .await;
    let s = app
        .get(&format!("/v1/checkout/sessions/{cs}"))
        .await
        .ok()
        .clone();
    assert_eq!(s["customer"], id.as_str());
    // Bad input.
    app.post("/v1/customers", json!({"email": "not an email"}))
        .await
        .assert_error(400, Some("email"));
    app.post("/v1/customers", json!({"address": {"country": "France"}}))
        .await
        .assert_error(400, Some("address[country]"));
    app.post("/v1/customers", json!({"balance": 100}))
        .await
        .assert_error(400, Some("balance"));
    // An empty customer is allowed, as on Stripe.
    app.post("/v1/customers", json!({})).await.ok();
    // The same idempotency key: the same customer, once.
    let send = || {
        app.send(
            app.client
                .post(app.url("/v1/customers"))
                .bearer_auth(&app.key)
                .header("idempotency-key", "cust-once-1")
                .form(&[("name", "Once")]),
        )
    };
    let (a, b) = (send().await, send().await);
    assert_eq!(a.ok()["id"], b.ok()["id"]);
    let named_once = app.get("/v1/customers?limit=100").await.ok()["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "Once")
        .count();
    assert_eq!(named_once, 1);
}
both!(merchants_create_customers);

/// `payment_intent_data` of a link or an API-created session reaches the
/// payment it makes; `POST /v1/payment_intents/{id}` changes the
/// description and metadata, and nothing else.
async fn payment_intent_data_reaches_the_payment(app: TestApp) {
    let link = app
        .link_with(
            "eur",
            1200,
            json!({
                "metadata": {"from": "link"},
                "payment_intent_data": {
                    "description": "Workshop seat",
                    "metadata": {"order": "7"},
                    "statement_descriptor": "PAYLINK SHOP",
                    "capture_method": "automatic",
                },
            }),
        )
        .await;
    // An update merges: a metadata key added, then removed; the rest kept.
    let l = app
        .post(
            &format!("/v1/payment_links/{link}"),
            json!({"payment_intent_data": {"metadata": {"extra": "1"}}}),
        )
        .await;
    assert_eq!(
        l.ok()["payment_intent_data"]["metadata"],
        json!({"order": "7", "extra": "1"})
    );
    let l = app
        .post(
            &format!("/v1/payment_links/{link}"),
            json!({"payment_intent_data": {"metadata": {"extra": ""}}}),
        )
        .await;
    assert_eq!(
        l.ok()["payment_intent_data"]["metadata"],
        json!({"order": "7"})
    );
    assert_eq!(
        l.ok()["payment_intent_data"]["description"],
        "Workshop seat"
    );
    assert_eq!(
        l.ok()["payment_intent_data"]["statement_descriptor"],
        "PAYLINK SHOP"
    );
    let sid = Buyer::new()
        .pay(&app, &link, &[("email", "pid@example.com")])
        .await;
    let s = app.get(&format!("/v1/checkout/sessions/{sid}")).await;
    let pi_id = s.ok()["payment_intent"].as_str().unwrap().to_string();
    let pi = app.get(&format!("/v1/payment_intents/{pi_id}")).await;
    assert_eq!(pi.ok()["description"], "Workshop seat");
    assert_eq!(pi.ok()["statement_descriptor"], "PAYLINK SHOP");
    assert_eq!(pi.ok()["metadata"], json!({"order": "7"}));
    // The merchant changes the description and metadata.
    let up = app
        .post(
            &format!("/v1/payment_intents/{pi_id}"),
            json!({"description": "Workshop seat, row 2", "metadata": {"seat": "2B"}}),
        )
        .await;
    assert_eq!(up.ok()["description"], "Workshop seat, row 2");
    assert_eq!(up.ok()["metadata"], json!({"order": "7", "seat": "2B"}));
    assert_eq!(up.ok()["amount"], 1200);
    let unset = app
        .post(
            &format!("/v1/payment_intents/{pi_id}"),
            json!({"description": "", "metadata": {"order": ""}}),
        )
        .await;
    assert_eq!(unset.ok()["description"], Value::Null);
    assert_eq!(unset.ok()["metadata"], json!({"seat": "2B"}));
    let got = app.get(&format!("/v1/payment_intents/{pi_id}")).await;
    assert_eq!(got.ok(), unset.ok());
    // Only those two: the amount is the provider's.
    let r = app
        .post(
            &format!("/v1/payment_intents/{pi_id}"),
            json!({"amount": 5}),
        )
        .await;
    r.assert_error(400, Some("amount"));
    assert_eq!(r.body["error"]["code"], "parameter_unknown");
    let (_, other) = app.other_account().await;
    app.post_as(
        &other,
        &format!("/v1/payment_intents/{pi_id}"),
        json!({"description": "x"}),
    )
    .await
    .assert_error(404, Some("id"));
    // Bad payment_intent_data, each named.
    let price = app.price("eur", 500).await;
    for (pid, param) in [
        (
            json!({"statement_descriptor": "<SHOP>"}),
            "payment_intent_data[statement_descriptor]",
        ),
        (
            json!({"statement_descriptor": "1234567"}),
            "payment_intent_data[statement_descriptor]",
        ),
        (
            json!({"statement_descriptor": "ABC"}),
            "payment_intent_data[statement_descriptor]",
        ),
        (
            json!({"capture_method": "manual"}),
            "payment_intent_data[capture_method]",
        ),
        (
            json!({"description": "x".repeat(1001)}),
            "payment_intent_data[description]",
        ),
        (
            json!({"setup_future_usage": "off_session"}),
            "payment_intent_data[setup_future_usage]",
        ),
    ] {
        app.post(
            "/v1/payment_links",
            json!({"line_items": [{"price": price, "quantity": 1}], "payment_intent_data": pid}),
        )
        .await
        .assert_error(400, Some(param));
    }
    // An API-created session's payment gets its payment_intent_data too.
    let cs = app
        .post(
            "/v1/checkout/sessions",
            json!({
                "mode": "payment",
                "line_items": [{"price": price, "quantity": 1}],
                "payment_intent_data": {"description": "Cart 9"},
            }),
        )
        .await
        .ok()
        .clone();
    let b = Buyer::new();
    let url = cs["url"].as_str().unwrap();
    let go = b
        .post(url, &[("email", "cart@example.com"), ("action", "pay")])
        .await
        .location
        .unwrap();
    let sim = b.get(&go).await.location.unwrap();
    assert_eq!(b.card(&sim, CARD_OK).await.status, 303);
    let done = app
        .get(&format!(
            "/v1/checkout/sessions/{}",
            cs["id"].as_str().unwrap()
        ))
        .await
        .ok()
        .clone();
    let pi = app
        .get(&format!(
            "/v1/payment_intents/{}",
            done["payment_intent"].as_str().unwrap()
        ))
        .await;
    assert_eq!(pi.ok()["description"], "Cart 9");
}
both!(payment_intent_data_reaches_the_payment);

/// A customer's `description`, `shipping` and `preferred_locales`, as
/// Stripe's snippets set them: taken on create and update (an empty value
/// unsets), the first two sealed at rest, all erased with the customer's
/// other details; bad input named.
async fn customers_keep_description_shipping_and_locales(app: TestApp) {
    let c = app
        .post(
            "/v1/customers",
            json!({"email": "vip@example.com", "description": "VIP since Dolphin Street",
                   "preferred_locales": ["fr-CA", "en"],
                   "shipping": {"name": "Vera Ship", "phone": "+1 555 0100",
                                "address": {"line1": "9 Dolphin Street", "city": "Montreal", "country": "ca"}}}),
        )
        .await
        .ok()
        .clone();
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!(c["description"], "VIP since Dolphin Street");
    assert_eq!(c["preferred_locales"], json!(["fr-CA", "en"]));
    assert_eq!(c["shipping"]["name"], "Vera Ship");
    assert_eq!(c["shipping"]["phone"], "+1 555 0100");
    assert_eq!(c["shipping"]["address"]["country"], "CA");
    assert_eq!(c["shipping"]["address"]["line2"], serde_json::Value::Null);
    assert_eq!(&c, app.get(&format!("/v1/customers/{id}")).await.ok());
    let stored = app
        .raw_strings("SELECT COALESCE(description, '') || COALESCE(shipping, '') FROM customers")
        .await;
    assert!(
        stored
            .iter()
            .all(|s| !s.contains("Dolphin") && !s.contains("Vera")),
        "sealed at rest: {stored:?}"
    );
    // Updated, then unset.
    let up = app
        .post(
            &format!("/v1/customers/{id}"),
            json!({"description": "Regular", "preferred_locales": ["de"]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(up["description"], "Regular");
    assert_eq!(up["preferred_locales"], json!(["de"]));
    assert_eq!(up["shipping"]["name"], "Vera Ship", "untouched");
    let unset = app
        .post(
            &format!("/v1/customers/{id}"),
            json!({"description": "", "shipping": "", "preferred_locales": ""}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(unset["description"], serde_json::Value::Null);
    assert_eq!(unset["shipping"], serde_json::Value::Null);
    assert_eq!(unset["preferred_locales"], json!([]));
    // Bad input, named.
    for (body, param) in [
        (
            json!({"shipping": {"name": "No address"}}),
            "shipping[address]",
        ),
        (
            json!({"shipping": {"name": "X", "address": {"country": "Canada"}}}),
            "shipping[address][country]",
        ),
        (
            json!({"preferred_locales": ["en us"]}),
            "preferred_locales[0]",
        ),
    ] {
        app.post("/v1/customers", body)
            .await
            .assert_error(400, Some(param));
    }
    // Erased with the customer's other details.
    app.post(
        &format!("/v1/customers/{id}"),
        json!({"description": "Keep out", "shipping": {"name": "Vera Ship", "address": {"line1": "9 Dolphin Street"}}}),
    )
    .await
    .ok();
    let erased = app
        .post(&format!("/v1/customers/{id}/redact"), json!({}))
        .await
        .ok()
        .clone();
    assert_eq!(erased["description"], serde_json::Value::Null);
    assert_eq!(erased["shipping"], serde_json::Value::Null);
    let events = app.get("/v1/events?limit=100").await.ok().to_string();
    assert!(
        !events.contains("Dolphin") && !events.contains("Keep out"),
        "no event keeps what was erased"
    );
}
both!(customers_keep_description_shipping_and_locales);
