//! Webhook endpoints and deliveries (issue 13, parts 4 to 6): endpoints
//! managed over the API with a secret shown once; every event an endpoint
//! listens to is posted to it, signed Stripe's way and Standard Webhooks'
//! way, retried with back-off until it is taken, for up to 3 days; the
//! endpoint is disabled after failing for 3 days; deliveries survive a
//! SIGKILL and are made once across instances; internal addresses are
//! refused in every spelling, at creation and at each delivery.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use paylink_testkit::receiver::{Receiver, Reply};
use serde_json::Value;

use crate::both;
use crate::buyer::*;
use crate::helpers::*;
use crate::served::Served;

async fn endpoint(app: &TestApp, url: &str, events: &[&str]) -> Value {
    app.post(
        "/v1/webhook_endpoints",
        json!({"url": url, "enabled_events": events, "description": "orders"}),
    )
    .await
    .ok()
    .clone()
}

fn scope(app: &TestApp) -> paylink_store::Scope {
    paylink_store::Scope {
        account_id: app.account.clone(),
        livemode: false,
    }
}

/// Runs the background clock forward by `secs` and waits for the
/// receiver's `n`th request.
async fn advance_until(app: &TestApp, r: &Receiver, secs: i64, n: usize) {
    app.clock.advance(secs);
    let got = r.wait_for(n, 20).await;
    assert!(got.len() >= n, "only {} of {n} deliveries", got.len());
}

/// Waits until no delivery is pending (real time, up to `secs`).
async fn drained(app: &TestApp, secs: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while app.opened.store.pending_deliveries().await.unwrap() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "deliveries still pending"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn endpoints_are_managed_and_their_secret_shown_once(app: TestApp) {
    let created = endpoint(&app, "https://hooks.example.com/paylink", &["*"]).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("we_"), "{created}");
    assert_eq!(created["object"], "webhook_endpoint");
    assert_eq!(created["status"], "enabled");
    assert_eq!(created["enabled_events"], json!(["*"]));
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{created}");
    // Never again: not on retrieve, list or update, and not stored in clear.
    let got = app.get(&format!("/v1/webhook_endpoints/{id}")).await;
    assert!(got.ok().get("secret").is_none(), "{got:?}");
    let list = app.get("/v1/webhook_endpoints").await;
    assert_eq!(list.ok()["data"][0]["id"], id.as_str());
    assert!(list.ok()["data"][0].get("secret").is_none());
    let raw = app
        .raw_strings("SELECT secret FROM webhook_endpoints")
        .await;
    assert!(
        raw.iter().all(|s| !s.contains(&secret[6..])),
        "the secret is sealed"
    );
    assert!(!String::from_utf8_lossy(&app.raw_database()).contains(&secret[6..]));
    // Update: events, description, disabled.
    let up = app
        .post(
            &format!("/v1/webhook_endpoints/{id}"),
            json!({"enabled_events": ["product.created", "checkout.session.completed"], "disabled": true, "description": ""}),
        )
        .await;
    assert_eq!(up.ok()["status"], "disabled");
    assert_eq!(up.ok()["description"], Value::Null);
    assert_eq!(
        up.ok()["enabled_events"],
        json!(["product.created", "checkout.session.completed"])
    );
    // Bad input: clear errors naming the parameter.
    app.post(
        "/v1/webhook_endpoints",
        json!({"url": "https://a.example/", "enabled_events": ["product.exploded"]}),
    )
    .await
    .assert_error(400, Some("enabled_events[0]"));
    app.post(
        "/v1/webhook_endpoints",
        json!({"url": "ftp://a.example/", "enabled_events": ["*"]}),
    )
    .await
    .assert_error(400, Some("url"));
    app.post("/v1/webhook_endpoints", json!({"enabled_events": ["*"]}))
        .await
        .assert_error(400, Some("url"));
    app.post(
        "/v1/webhook_endpoints",
        json!({"url": "https://a.example/", "enabled_events": ["*"], "api_version": "2020-08-27"}),
    )
    .await
    .assert_error(400, Some("api_version"));
    // Live mode: https only; and test-mode endpoints are not live ones.
    app.post_as(
        &app.live_key,
        "/v1/webhook_endpoints",
        json!({"url": "http://hooks.example.com/", "enabled_events": ["*"]}),
    )
    .await
    .assert_error(400, Some("url"));
    app.get_as(&app.live_key, &format!("/v1/webhook_endpoints/{id}"))
        .await
        .assert_error(404, Some("id"));
    // At most 16 per mode, counted in the same step as the write.
    for i in 1..16 {
        endpoint(&app, &format!("https://hooks.example.com/{i}"), &["*"]).await;
    }
    app.post(
        "/v1/webhook_endpoints",
        json!({"url": "https://hooks.example.com/17", "enabled_events": ["*"]}),
    )
    .await
    .assert_error(400, Some("url"));
    // Delete: gone, its secret wiped.
    let del = app.delete(&format!("/v1/webhook_endpoints/{id}")).await;
    assert_eq!(del.ok()["deleted"], true);
    app.get(&format!("/v1/webhook_endpoints/{id}"))
        .await
        .assert_error(404, Some("id"));
    let left = app
        .raw_strings(&format!(
            "SELECT COALESCE(secret, 'wiped') FROM webhook_endpoints WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(left, vec!["wiped".to_string()]);
}
both!(endpoints_are_managed_and_their_secret_shown_once);

async fn events_are_delivered_signed_and_retried_until_taken(app: TestApp) {
    let r = Receiver::start("127.0.0.1").await;
    let ep = endpoint(&app, &r.url, &["product.created"]).await;
    let secret = paylink_crypto::Secret::new(ep["secret"].as_str().unwrap().to_string());
    // The receiver fails the first three attempts.
    r.plan([Reply::Status(500), Reply::Status(503), Reply::Status(404)]);
    let product = app
        .post("/v1/products", json!({"name": "Mug"}))
        .await
        .ok()
        .clone();
    // Not an event it listens to: never sent.
    app.post(
        &format!("/v1/products/{}", product["id"].as_str().unwrap()),
        json!({"name": "Big mug"}),
    )
    .await
    .ok();
    r.wait_for(1, 20).await;
    // Each retry comes after the back-off (about 30 s, then 60 s, 120 s):
    // nothing before it is due.
    app.clock.advance(10);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.count(), 1, "retried before the back-off");
    advance_until(&app, &r, 40, 2).await;
    advance_until(&app, &r, 80, 3).await;
    advance_until(&app, &r, 160, 4).await;
    drained(&app, 20).await;
    let got = r.received();
    assert_eq!(got.len(), 4, "delivered once it was taken");
    let event = app.get("/v1/events?type=product.created").await.ok()["data"][0].clone();
    for d in &got {
        let mut body = d.json();
        assert_eq!(
            body["data"]["object"], product,
            "the object as the API rendered it"
        );
        // Sent while still pending; listed after its delivery.
        assert_eq!(body["pending_webhooks"], 1);
        body["pending_webhooks"] = json!(0);
        assert_eq!(body, event, "the event as /v1/events renders it");
        assert_eq!(d.header("content-type"), "application/json; charset=utf-8");
        // Stripe's scheme.
        let sig = d.header("stripe-signature");
        let (t, v1) = sig.split_once(",v1=").unwrap();
        let t: i64 = t.strip_prefix("t=").unwrap().parse().unwrap();
        assert_eq!(
            v1,
            paylink_crypto::webhook::stripe_v1(&secret, t, &d.body).unwrap()
        );
        // Standard Webhooks: the event id is the message id.
        assert_eq!(d.header("webhook-id"), event["id"].as_str().unwrap());
        assert_eq!(d.header("webhook-timestamp"), t.to_string());
        assert!(d.header("webhook-signature").starts_with("v1,"));
    }
    assert_eq!(
        app.get(&format!("/v1/events/{}", event["id"].as_str().unwrap()))
            .await
            .ok()["pending_webhooks"],
        0
    );
    // Each attempt is recorded, newest first.
    let attempts = app
        .opened
        .store
        .webhook_attempts(&scope(&app), ep["id"].as_str().unwrap(), 10)
        .await
        .unwrap();
    let statuses: Vec<Option<u16>> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, vec![Some(200), Some(404), Some(503), Some(500)]);
    assert_eq!(attempts[1].excerpt.as_deref(), Some("planned 404"));
}
both!(events_are_delivered_signed_and_retried_until_taken);

async fn a_paid_checkout_is_delivered_as_the_api_renders_the_session(app: TestApp) {
    let r = Receiver::start("127.0.0.1").await;
    endpoint(&app, &r.url, &["checkout.session.completed"]).await;
    let link = app.link_with("eur", 2500, json!({})).await;
    let session = Buyer::new()
        .pay(&app, &link, &[("email", "ada@example.com")])
        .await;
    let got = r.wait_for(1, 20).await;
    assert_eq!(got.len(), 1);
    let body = got[0].json();
    assert_eq!(body["type"], "checkout.session.completed");
    let api = app
        .get(&format!("/v1/checkout/sessions/{session}"))
        .await
        .ok()
        .clone();
    assert_eq!(body["data"]["object"], api);
    assert_eq!(
        body["data"]["object"]["customer_details"]["email"],
        "ada@example.com"
    );
}
both!(a_paid_checkout_is_delivered_as_the_api_renders_the_session);

async fn a_rolled_secret_signs_beside_the_new_one_until_it_expires(app: TestApp) {
    let r = Receiver::start("127.0.0.1").await;
    let ep = endpoint(&app, &r.url, &["*"]).await;
    let id = ep["id"].as_str().unwrap();
    let old = ep["secret"].as_str().unwrap().to_string();
    let rolled = app
        .post(
            &format!("/v1/webhook_endpoints/{id}/roll_secret"),
            json!({"expires_in": 3600}),
        )
        .await
        .ok()
        .clone();
    let new = rolled["secret"].as_str().unwrap().to_string();
    assert!(new.starts_with("whsec_") && new != old);
    app.product("Mug").await;
    let first = r.wait_for(1, 20).await[0].clone();
    let sig = first.header("stripe-signature");
    assert_eq!(sig.matches(",v1=").count(), 2, "{sig}");
    assert_eq!(
        first.header("webhook-signature").split(' ').count(),
        2,
        "one Standard Webhooks signature per secret"
    );
    let t: i64 = first.header("webhook-timestamp").parse().unwrap();
    for s in [&new, &old] {
        let v = paylink_crypto::webhook::stripe_v1(
            &paylink_crypto::Secret::new(s.clone()),
            t,
            &first.body,
        )
        .unwrap();
        assert!(sig.contains(&v), "signed with each secret");
    }
    // After the overlap only the new secret signs.
    app.clock.advance(3601);
    app.product("Tea").await;
    let second = r.wait_for(2, 20).await[1].clone();
    assert_eq!(second.header("stripe-signature").matches(",v1=").count(), 1);
    // Out of range: refused.
    app.post(
        &format!("/v1/webhook_endpoints/{id}/roll_secret"),
        json!({"expires_in": 90000}),
    )
    .await
    .assert_error(400, Some("expires_in"));
    if std::env::var("PAYLINK_TEST_PYTHON").is_ok() {
        verify_with_official_libraries(&[
            (&first, vec![new.clone(), old.clone()], vec![]),
            (&second, vec![new.clone()], vec![old.clone()]),
        ])
        .await;
    }
}
both!(a_rolled_secret_signs_beside_the_new_one_until_it_expires);

/// Runs tests/sdk/verify_webhooks.py: stripe-python's
/// `Webhook.construct_event` and PyPI `standardwebhooks` must accept each
/// delivery with each of its secrets and reject it with the refused ones.
async fn verify_with_official_libraries(
    deliveries: &[(
        &paylink_testkit::receiver::Received,
        Vec<String>,
        Vec<String>,
    )],
) {
    let list: Vec<Value> = deliveries
        .iter()
        .map(|(d, secrets, refused)| {
            let headers: HashMap<String, String> = [
                "stripe-signature",
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature",
            ]
            .iter()
            .map(|h| (h.to_string(), d.header(h)))
            .collect();
            json!({
                "body": String::from_utf8(d.body.to_vec()).unwrap(),
                "headers": headers,
                "secrets": secrets,
                "refused": refused,
            })
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deliveries.json");
    std::fs::write(&file, serde_json::to_vec(&list).unwrap()).unwrap();
    let python = std::env::var("PAYLINK_TEST_PYTHON").unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/verify_webhooks.py");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .arg(&file)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("webhook signatures: OK"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(sdk_tests),
    ignore = "stripe-python and standardwebhooks skipped: set PAYLINK_TEST_PYTHON to a python with `stripe>=16,<17` and `standardwebhooks` installed"
)]
async fn official_libraries_verify_the_signatures() {
    let app = spawn_app(Db::Sqlite).await;
    let r = Receiver::start("127.0.0.1").await;
    let ep = endpoint(&app, &r.url, &["*"]).await;
    let secret = ep["secret"].as_str().unwrap().to_string();
    let link = app.link_with("eur", 1200, json!({})).await;
    Buyer::new()
        .pay(&app, &link, &[("email", "ada@example.com")])
        .await;
    // product.created, price.created, payment_link.created,
    // customer.created, payment_intent.created, payment_intent.succeeded,
    // checkout.session.completed.
    let got = r.wait_for(7, 20).await;
    let types: HashSet<String> = got
        .iter()
        .map(|d| d.json()["type"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(types.contains("checkout.session.completed"), "{types:?}");
    assert!(types.contains("payment_intent.succeeded"), "{types:?}");
    assert_eq!(got.len(), 7, "{types:?}");
    let wrong = "whsec_dGhpcyBpcyBub3QgdGhlIHNlY3JldCBhdCBhbGwhISE=".to_string();
    let list: Vec<_> = got
        .iter()
        .map(|d| (d, vec![secret.clone()], vec![wrong.clone()]))
        .collect();
    verify_with_official_libraries(&list).await;
}

async fn an_endpoint_failing_for_three_days_is_disabled_and_owners_told(app: TestApp) {
    let r = Receiver::start("127.0.0.1").await;
    let ep = endpoint(&app, &r.url, &["*"]).await;
    let id = ep["id"].as_str().unwrap().to_string();
    r.plan(std::iter::repeat_n(Reply::Status(500), 1000));
    app.product("Mug").await;
    r.wait_for(1, 20).await;
    // Retries every 30 s doubling to 6 hours: about 20 attempts in 3 days.
    let mut n = 1;
    let start = app.now();
    while app.now() - start < 3 * 86_400 + 6 * 3_600 {
        app.clock.advance(6 * 3_600 + 3_600);
        let before = r.count();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while r.count() == before && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        n = r.count();
    }
    drained(&app, 20).await;
    assert!((5..40).contains(&n), "{n} attempts");
    let got = app.get(&format!("/v1/webhook_endpoints/{id}")).await;
    assert_eq!(got.ok()["status"], "disabled", "{got:?}");
    let notices = app
        .raw_strings("SELECT kind FROM security_outbox WHERE kind = 'webhook_endpoint.disabled'")
        .await;
    assert_eq!(notices.len(), 1, "the owners are told once");
    // Disabled: nothing more is queued or sent.
    app.product("Tea").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.count(), n);
    // Enabled again by the merchant: new events flow.
    app.post(
        &format!("/v1/webhook_endpoints/{id}"),
        json!({"disabled": false}),
    )
    .await
    .ok();
    r.clear_plan();
    app.product("Cake").await;
    r.wait_for(n + 1, 20).await;
}
both!(an_endpoint_failing_for_three_days_is_disabled_and_owners_told);

async fn deleting_an_endpoint_stops_its_retries(app: TestApp) {
    let r = Receiver::start("127.0.0.1").await;
    let ep = endpoint(&app, &r.url, &["*"]).await;
    r.plan([Reply::Status(500)]);
    app.product("Mug").await;
    r.wait_for(1, 20).await;
    app.delete(&format!(
        "/v1/webhook_endpoints/{}",
        ep["id"].as_str().unwrap()
    ))
    .await
    .ok();
    app.clock.advance(3_600);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(r.count(), 1);
    assert_eq!(app.opened.store.pending_deliveries().await.unwrap(), 0);
}
both!(deleting_an_endpoint_stops_its_retries);

/// Hosts in every spelling of an internal address; the app allows none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_addresses_are_refused_in_every_spelling() {
    let cfg = paylink_jobs::webhooks::Config {
        allow: vec![],
        poll: Duration::from_millis(50),
        ..Default::default()
    };
    let app = Spawn::new(Db::Sqlite).webhooks(cfg).start().await;
    let r = Receiver::start("127.0.0.1").await;
    let port = r.addr.port();
    for host in [
        "127.0.0.1".to_string(),
        "2130706433".into(),
        "0x7f000001".into(),
        "0177.0.0.1".into(),
        "0x7f.0.0.1".into(),
        "127.1".into(),
        "[::1]".into(),
        "[::ffff:127.0.0.1]".into(),
        "[::ffff:7f00:1]".into(),
        "169.254.169.254".into(),
        "[::ffff:169.254.169.254]".into(),
        "10.0.0.7".into(),
        "172.16.0.1".into(),
        "192.168.1.1".into(),
        "100.64.0.1".into(),
        "[fd00::1]".into(),
        "[fe80::1]".into(),
        "0.0.0.0".into(),
        "224.0.0.1".into(),
        // Names that resolve to loopback.
        "localhost".into(),
        "LOCALHOST".into(),
        // IPv4-translated, local-use NAT64, Teredo, 6to4 relay anycast.
        "[::ffff:0:7f00:1]".into(),
        "[64:ff9b:1::a00:1]".into(),
        "[2001:0:4136:e378:8000:63bf:80ff:fffe]".into(),
        "192.88.99.1".into(),
    ] {
        let url = format!("http://{host}:{port}/hook");
        let resp = app
            .post(
                "/v1/webhook_endpoints",
                json!({"url": url, "enabled_events": ["*"]}),
            )
            .await;
        resp.assert_error(400, Some("url"));
        let msg = resp.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains("is not a public address"), "{url}: {resp:?}");
        if host.eq_ignore_ascii_case("localhost") {
            assert!(
                !msg.contains("127.0.0.1"),
                "the resolved address is not told: {msg}"
            );
        }
    }
    // Credentials in the URL are refused; the length counts the URL as
    // stored (percent-encoded).
    app.post(
        "/v1/webhook_endpoints",
        json!({"url": "https://user:pw@hooks.example.com/", "enabled_events": ["*"]}),
    )
    .await
    .assert_error(400, Some("url"));
    let long = format!("https://hooks.example.com/{}", "é".repeat(1_000));
    app.post(
        "/v1/webhook_endpoints",
        json!({"url": long, "enabled_events": ["*"]}),
    )
    .await
    .assert_error(400, Some("url"));
    assert_eq!(r.count(), 0);
}

/// A DNS answer that changes between the check at creation and the
/// delivery, and a receiver that redirects to an internal address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebinding_and_redirects_never_reach_an_internal_address() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    // First answer 127.0.0.1 (allowed here), then 127.0.0.2 (internal).
    let lookup: paylink_jobs::webhooks::Lookup = Arc::new(move |_host| {
        let n = counted.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let ip = if n == 0 {
                [127, 0, 0, 1]
            } else {
                [127, 0, 0, 2]
            };
            Ok(vec![std::net::SocketAddr::from((ip, 0))])
        })
    });
    let cfg = paylink_jobs::webhooks::Config {
        lookup,
        ..test_webhooks()
    };
    let app = Spawn::new(Db::Sqlite).webhooks(cfg).start().await;
    let public = Receiver::start("127.0.0.1").await;
    let internal = Receiver::start("127.0.0.2").await;
    let port = internal.addr.port();
    // Same port on both addresses is not needed: the name is pinned to
    // what the check returned, and that was refused.
    let ep = endpoint(&app, &format!("http://rebind.example:{port}/hook"), &["*"]).await;
    app.product("Mug").await;
    let a = attempts_of(&app, ep["id"].as_str().unwrap(), 1).await;
    assert_eq!(internal.count(), 0, "the rebound address was never reached");
    assert_eq!(a[0].status, None);
    let why = a[0].error.clone().unwrap();
    assert!(
        why.contains("not a public address") && !why.contains("127.0.0.2"),
        "{why}"
    );
    assert!(calls.load(Ordering::SeqCst) >= 2);

    // A 302 to an internal address: not followed, recorded as a failure.
    let redirecting = endpoint(&app, &public.url, &["*"]).await;
    public.plan([Reply::Redirect(internal.url.clone())]);
    app.product("Tea").await;
    public.wait_for(1, 20).await;
    let a = attempts_of(&app, redirecting["id"].as_str().unwrap(), 1).await;
    assert_eq!(internal.count(), 0, "the redirect was not followed");
    assert_eq!(a[0].status, Some(302));
}

/// Waits until `n` attempts to endpoint `id` are recorded; returns them,
/// newest first.
async fn attempts_of(app: &TestApp, id: &str, n: usize) -> Vec<paylink_store::webhooks::Attempt> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let a = app
            .opened
            .store
            .webhook_attempts(&scope(app), id, 50)
            .await
            .unwrap();
        if a.len() >= n {
            return a;
        }
        assert!(std::time::Instant::now() < deadline, "no attempt recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The product ids in what a receiver got.
fn delivered_products(r: &Receiver) -> (HashSet<String>, usize) {
    let got = r.received();
    let ids = got
        .iter()
        .map(|d| {
            d.json()["data"]["object"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    (ids, got.len())
}

async fn wait_for_products(r: &Receiver, want: &HashSet<String>, secs: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let (ids, _) = delivered_products(r);
        let missing = want.difference(&ids).count();
        if missing == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{missing} of {} events never delivered",
            want.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates products on `base` from 8 clients at once until `n` were
/// confirmed or the server went away; returns the confirmed ids.
async fn burst(app: &TestApp, base: &str, n: usize) -> HashSet<String> {
    burst_into(app, base, n, Arc::default()).await
}

/// [`burst`], counting the confirmed ids in `made` as they come.
async fn burst_into(
    app: &TestApp,
    base: &str,
    n: usize,
    made: Arc<std::sync::Mutex<HashSet<String>>>,
) -> HashSet<String> {
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (client, base, key, made) = (
            reqwest::Client::new(),
            base.to_string(),
            app.key.clone(),
            made.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for i in 0..n / 8 {
                let r = client
                    .post(format!("{base}/v1/products"))
                    .bearer_auth(&key)
                    .form(&[("name", format!("p{w}-{i}"))])
                    .send()
                    .await;
                let Ok(r) = r else { return };
                if r.status() != 200 {
                    return;
                }
                let v: Value = r.json().await.unwrap_or_default();
                made.lock()
                    .unwrap()
                    .insert(v["id"].as_str().unwrap_or_default().to_string());
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let set = made.lock().unwrap().clone();
    set
}

async fn a_sigkill_mid_burst_loses_no_event(app: TestApp) {
    let r = Receiver::start("127.0.0.1").await;
    // Short leases: the restarted instance takes over what the killed one
    // had in flight after 2 s, not the default 30.
    let quick = ["--webhook-timeout-secs", "1", "--webhook-lease-secs", "2"];
    let mut served = Served::start(&app, &quick);
    // The endpoint is made through the served process (its clock is the
    // system's; the in-process app's manual clock never reaches its
    // deliveries).
    let ep = reqwest::Client::new()
        .post(format!("{}/v1/webhook_endpoints", served.base))
        .bearer_auth(&app.key)
        .form(&[
            ("url", r.url.as_str()),
            ("enabled_events[0]", "product.created"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ep.status(), 200);
    // Half of the burst, then SIGKILL while the rest is in flight.
    let base = served.base.clone();
    let counted: Arc<std::sync::Mutex<HashSet<String>>> = Arc::default();
    let first = {
        let app = &app;
        let base = base.clone();
        let counted = counted.clone();
        async move { burst_into(app, &base, 1000, counted).await }
    };
    // Killed once a good part of the burst is confirmed (however fast the
    // machine is), with the rest in flight.
    let killer = async {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while counted.lock().unwrap().len() < 200 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        served.kill();
    };
    let (made, ()) = tokio::join!(first, killer);
    assert!(made.len() > 50, "the burst made {} products", made.len());
    // Restarted: every confirmed event arrives (at least once).
    let restarted = Served::start(&app, &quick);
    let rest = burst(&app, &restarted.base, 1000 - made.len().min(1000)).await;
    let mut want = made.clone();
    want.extend(rest);
    wait_for_products(&r, &want, 90).await;
    let (_, total) = delivered_products(&r);
    assert!(total >= want.len());
}
both!(a_sigkill_mid_burst_loses_no_event);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(pg_tests),
    ignore = "two instances on PostgreSQL skipped: set PAYLINK_TEST_DATABASE_URL"
)]
async fn two_instances_on_postgres_deliver_each_attempt_once() {
    let app = spawn_app(Db::Postgres).await;
    let r = Receiver::start("127.0.0.1").await;
    let one = Served::start(&app, &[]);
    let two = Served::start(&app, &[]);
    let ep = reqwest::Client::new()
        .post(format!("{}/v1/webhook_endpoints", one.base))
        .bearer_auth(&app.key)
        .form(&[
            ("url", r.url.as_str()),
            ("enabled_events[0]", "product.created"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ep.status(), 200);
    let (a, b) = tokio::join!(burst(&app, &one.base, 200), burst(&app, &two.base, 200));
    let mut want = a;
    want.extend(b);
    assert_eq!(want.len(), 400);
    wait_for_products(&r, &want, 60).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = r.received();
    let mut seen = HashMap::new();
    for d in &got {
        *seen.entry(d.header("webhook-id")).or_insert(0) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(got.len(), 400);
}

/// The dashboard's webhooks pages, as a developer and an owner use them.
async fn the_dashboard_runs_endpoints_with_attempts_and_resend(app: TestApp) {
    use crate::dash::{between, member};
    use paylink_domain::roles::Role;
    let r = Receiver::start("127.0.0.1").await;
    let mut dev = member(&app, "dev@shop.example", Role::Developer).await;
    let page = dev.get("/dashboard/webhooks").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("No endpoints in this mode"));
    // A refusal shows beside its field, keeping what was typed.
    let bad = dev
        .post(
            "/dashboard/webhooks",
            &[("url", "http://10.0.0.9/hook"), ("events", "*")],
        )
        .await;
    assert_eq!(bad.status, 200);
    assert!(bad.body.contains("not a public address"), "{}", bad.body);
    assert!(bad.body.contains("value=\"http://10.0.0.9/hook\""));
    let none = dev
        .post("/dashboard/webhooks", &[("url", r.url.as_str())])
        .await;
    assert!(
        none.body.contains("at least one event type"),
        "{}",
        none.body
    );
    // Added: the secret is shown this once.
    r.plan([Reply::Status(500)]);
    let made = dev
        .post(
            "/dashboard/webhooks",
            &[("url", r.url.as_str()), ("events", "product.created")],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let secret = between(
        &made.body,
        "id=\"signing-secret\" class=\"mono\" readonly value=\"",
        "\"",
    )
    .unwrap_or_else(|| panic!("no secret shown: {}", made.body));
    assert!(secret.starts_with("whsec_"));
    let id = between(&made.body, "href=\"/dashboard/webhooks/", "\"").unwrap();
    assert!(!dev.get("/dashboard/webhooks").await.body.contains(&secret));
    // An event fails once: the attempt shows with its status and answer.
    app.product("Mug").await;
    r.wait_for(1, 20).await;
    let ep = attempts_of(&app, &id, 1).await;
    assert_eq!(ep[0].status, Some(500));
    let show = dev.get(&format!("/dashboard/webhooks/{id}")).await;
    assert_eq!(show.status, 200);
    assert!(
        show.body.contains("HTTP 500") && show.body.contains("planned 500"),
        "{}",
        show.body
    );
    assert!(show.body.contains("Failing since"), "{}", show.body);
    assert!(
        !show.body.contains(&secret),
        "a developer never sees it again"
    );
    // Resend: queued again at once, delivered.
    let event = between(&show.body, "name=\"event\" value=\"", "\"").unwrap();
    let resent = dev
        .post(
            &format!("/dashboard/webhooks/{id}/resend"),
            &[("event", &event)],
        )
        .await;
    assert!(resent.body.contains("queued again"), "{}", resent.body);
    let got = r.wait_for(2, 20).await;
    assert_eq!(got[1].header("webhook-id"), event);
    attempts_of(&app, &id, 2).await;
    // Only an event that was sent to this endpoint can be sent again.
    app.post(
        "/v1/prices",
        json!({"currency": "eur", "unit_amount": 100, "product_data": {"name": "Other"}}),
    )
    .await
    .ok();
    let other = app.get("/v1/events?type=price.created").await.ok()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = dev
        .post(
            &format!("/dashboard/webhooks/{id}/resend"),
            &[("event", &other)],
        )
        .await;
    assert!(
        refused.body.contains("was not sent to this endpoint"),
        "{}",
        refused.body
    );
    let show = dev.get(&format!("/dashboard/webhooks/{id}")).await;
    assert!(show.body.contains("HTTP 200"), "{}", show.body);
    // A developer may not reveal the secret; an owner may, with a code.
    let denied = dev
        .post(
            &format!("/dashboard/webhooks/{id}/reveal"),
            &[("code", "000000")],
        )
        .await;
    assert_eq!(denied.status, 403);
    let mut owner = member(&app, "owner@shop.example", Role::Owner).await;
    owner.get(&format!("/dashboard/webhooks/{id}")).await;
    let wrong = owner
        .post(
            &format!("/dashboard/webhooks/{id}/reveal"),
            &[("code", "000000")],
        )
        .await;
    assert!(!wrong.body.contains(&secret));
    assert!(
        wrong.body.contains("Enter the current code"),
        "{}",
        wrong.body
    );
    app.clock.advance(30);
    let code = owner.code(app.clock.now());
    let shown = owner
        .post(
            &format!("/dashboard/webhooks/{id}/reveal"),
            &[("code", &code)],
        )
        .await;
    assert!(shown.body.contains(&secret), "{}", shown.body);
    let audit = app
        .raw_strings("SELECT action FROM audit_log WHERE action LIKE 'webhook_endpoint.%'")
        .await;
    for a in [
        "webhook_endpoint.created",
        "webhook_endpoint.event_resent",
        "webhook_endpoint.secret_revealed",
        "webhook_endpoint.reveal_refused",
    ] {
        assert!(audit.iter().any(|x| x == a), "{a} not in {audit:?}");
    }
    // Roll (old signs for an hour), disable, delete.
    let rolled = dev
        .post(
            &format!("/dashboard/webhooks/{id}/roll"),
            &[("overlap", "3600")],
        )
        .await;
    let new = between(
        &rolled.body,
        "id=\"signing-secret\" class=\"mono\" readonly value=\"",
        "\"",
    )
    .unwrap();
    assert_ne!(new, secret);
    assert!(rolled.body.contains("The previous secret also signs until"));
    let off = dev
        .post(&format!("/dashboard/webhooks/{id}/disable"), &[])
        .await;
    assert_eq!(off.status, 303);
    assert!(dev
        .get("/dashboard/webhooks")
        .await
        .body
        .contains("Disabled"));
    dev.get("/dashboard/webhooks").await;
    let del = dev
        .post(&format!("/dashboard/webhooks/{id}/delete"), &[])
        .await;
    assert_eq!(del.status, 303);
    assert!(dev
        .get("/dashboard/webhooks")
        .await
        .body
        .contains("No endpoints in this mode"));
    // Analysts and support have no webhooks page.
    let mut analyst = member(&app, "analyst@shop.example", Role::Analyst).await;
    assert!(analyst.get("/dashboard/webhooks").await.denied());
}
both!(the_dashboard_runs_endpoints_with_attempts_and_resend);

/// One merchant's receivers that hang hold only their share of the
/// attempts in flight: another merchant's events still arrive at once.
async fn receivers_that_hang_do_not_hold_up_other_merchants(db: Db) {
    let cfg = paylink_jobs::webhooks::Config {
        concurrency: 8,
        timeout: Duration::from_secs(3),
        ..test_webhooks()
    };
    let app = Spawn::new(db).webhooks(cfg).start().await;
    let hang = Receiver::start("127.0.0.1").await;
    hang.plan(std::iter::repeat_n(
        Reply::Hang(Duration::from_secs(30)),
        200,
    ));
    for i in 0..3 {
        endpoint(&app, &format!("{}/{i}", hang.url), &["product.created"]).await;
    }
    for i in 0..10 {
        app.product(&format!("Mug {i}")).await;
    }
    // The slow merchant's attempts are in flight: with nobody else's due,
    // up to three quarters of the slots.
    hang.wait_for(4, 20).await;
    let (_, other_key) = app.other_account().await;
    let quick = Receiver::start("127.0.0.1").await;
    app.post_as(
        &other_key,
        "/v1/webhook_endpoints",
        json!({"url": quick.url, "enabled_events": ["product.created"]}),
    )
    .await
    .ok();
    let started = std::time::Instant::now();
    app.post_as(&other_key, "/v1/products", json!({"name": "Tea"}))
        .await
        .ok();
    let got = quick.wait_for(1, 20).await;
    assert_eq!(got.len(), 1);
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "held up for {:?} behind another merchant's hanging receivers",
        started.elapsed()
    );
    assert!(
        hang.count() <= 6,
        "{} attempts in flight at once (8 slots, a quarter kept free)",
        hang.count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_that_hang_do_not_hold_up_other_merchants_sqlite() {
    receivers_that_hang_do_not_hold_up_other_merchants(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL skipped: set PAYLINK_TEST_DATABASE_URL"
)]
async fn receivers_that_hang_do_not_hold_up_other_merchants_postgres() {
    receivers_that_hang_do_not_hold_up_other_merchants(Db::Postgres).await;
}
