//! Reliability (issue "Reliability"): clients that hang up, SIGKILL and
//! restarts, a full disk, work left pending. Each test reproduces a finding
//! from outside, against a real `paylink serve` process where a process is
//! what matters.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::both;
use crate::buyer::*;
use crate::helpers::*;
use crate::served::{free_addr, Served};

fn quick_client(timeout_ms: u64) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(timeout_ms))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn create_product(base: &str, key: &str, name: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/products"))
        .bearer_auth(key)
        .form(&[("name", name)])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Every product of the account, all pages.
async fn all_products(app: &TestApp) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/products?limit=100&starting_after={a}"),
            None => "/v1/products?limit=100".to_string(),
        };
        let page = app.get(&path).await.ok().clone();
        let data = page["data"].as_array().unwrap().clone();
        after = data.last().map(|p| p["id"].as_str().unwrap().to_string());
        out.extend(data);
        if page["has_more"] != true {
            return out;
        }
    }
}

/// F1: 24 clients send anonymous checkouts and API creates and hang up
/// after 5–150 ms; the writes that follow must all succeed (they used to
/// fail with "database is locked" for half an hour on SQLite).
async fn cancelling_clients_leave_no_write_wedged(app: TestApp) {
    let link = app.link_with("eur", 1500, json!({})).await;
    let served = Served::start(&app, &[]);
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut tasks = Vec::new();
    for i in 0..24u64 {
        let (base, key, link) = (served.base.clone(), app.key.clone(), link.clone());
        tasks.push(tokio::spawn(async move {
            let (mut sent, mut gave_up) = (0u64, 0u64);
            while Instant::now() < deadline {
                sent += 1;
                let client = quick_client(5 + (i * 37 + sent * 53) % 145);
                let r = if (i + sent) % 2 == 0 {
                    client
                        .post(format!("{base}/l/{link}"))
                        .form(&[("email", "burst@example.com"), ("action", "pay")])
                        .send()
                        .await
                } else {
                    client
                        .post(format!("{base}/v1/products"))
                        .bearer_auth(&key)
                        .form(&[("name", "burst")])
                        .send()
                        .await
                };
                if r.is_err() {
                    gave_up += 1;
                }
            }
            (sent, gave_up)
        }));
    }
    let (mut sent, mut gave_up) = (0, 0);
    for t in tasks {
        let (s, g) = t.await.unwrap();
        sent += s;
        gave_up += g;
    }
    assert!(
        gave_up > 0,
        "the burst had clients that hung up ({sent} sent)"
    );
    // Right after: every write succeeds, API and checkout alike.
    for n in 0..10 {
        let (status, body) = create_product(&served.base, &app.key, &format!("after {n}")).await;
        assert_eq!(status, 200, "write {n} after the burst: {body}");
    }
    let b = Buyer::new();
    let s = b
        .post(
            &format!("{}/l/{link}", served.base),
            &[("email", "after@example.com"), ("action", "pay")],
        )
        .await;
    assert_eq!(s.status, 303, "checkout after the burst: {}", s.body);
    let ready = reqwest::get(format!("{}/readyz", served.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    eprintln!("F1 burst: {sent} requests, {gave_up} abandoned by their client; 11 writes after it succeeded");
}
both!(cancelling_clients_leave_no_write_wedged);

/// F3: a client that hangs up after its request's work committed, then
/// retries with the same Idempotency-Key, gets the same object: one per
/// key, never two. Products and refunds alike.
async fn clients_that_hang_up_get_one_object_per_key(app: TestApp) {
    // Payments to refund, made before the storm (through the served
    // process's own sim, which refunds them).
    let link = app.link_with("eur", 1500, json!({})).await;
    let served = Served::start(&app, &[]);
    let b = Buyer::new();
    let mut payments = Vec::new();
    for _ in 0..6 {
        let cs = served.pay(&b, &link, "refund@example.com").await;
        let s = app.get(&format!("/v1/checkout/sessions/{cs}")).await;
        payments.push(s.ok()["payment_intent"].as_str().unwrap().to_string());
    }
    let mut tasks = Vec::new();
    for i in 0..16u64 {
        let (base, key) = (served.base.clone(), app.key.clone());
        let pi = payments.get(i as usize % 6).cloned().unwrap();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for k in 0..6u64 {
                let refund = i < 6 && k == 0;
                let idem = format!("hang-{i}-{k}");
                let (path, form): (&str, Vec<(&str, String)>) = if refund {
                    (
                        "/v1/refunds",
                        vec![("payment_intent", pi.clone()), ("amount", "100".into())],
                    )
                } else {
                    ("/v1/products", vec![("name", idem.clone())])
                };
                // The first try hangs up early; the retries wait.
                let _ = quick_client(2 + (i * 7 + k * 13) % 40)
                    .post(format!("{base}{path}"))
                    .bearer_auth(&key)
                    .header("idempotency-key", &idem)
                    .form(&form)
                    .send()
                    .await;
                let mut answer = None;
                for _ in 0..200 {
                    let r = reqwest::Client::new()
                        .post(format!("{base}{path}"))
                        .bearer_auth(&key)
                        .header("idempotency-key", &idem)
                        .form(&form)
                        .send()
                        .await
                        .unwrap();
                    if r.status() == 409 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                    let status = r.status().as_u16();
                    let body: Value = r.json().await.unwrap();
                    assert_eq!(status, 200, "{idem}: {body}");
                    answer = Some(body["id"].as_str().unwrap().to_string());
                    break;
                }
                got.push((
                    idem,
                    refund,
                    answer.expect("a retry got an answer, not a lasting 409"),
                ));
            }
            got
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.extend(t.await.unwrap());
    }
    let products = all_products(&app).await;
    for (idem, refund, id) in &answers {
        if *refund {
            continue;
        }
        let made: Vec<&Value> = products
            .iter()
            .filter(|p| p["name"] == idem.as_str())
            .collect();
        assert_eq!(made.len(), 1, "{idem} made {} products", made.len());
        assert_eq!(
            made[0]["id"],
            id.as_str(),
            "{idem}: the retry answered another object"
        );
    }
    // Six refunds of 100, one per payment: none doubled.
    for pi in &payments {
        let p = app.get(&format!("/v1/payment_intents/{pi}")).await;
        assert_eq!(p.ok()["amount_refunded"], 100, "{pi}");
        let refunds = app.get(&format!("/v1/refunds?payment_intent={pi}")).await;
        assert_eq!(refunds.ok()["data"].as_array().unwrap().len(), 1, "{pi}");
    }
    assert_eq!(answers.len(), 96);
}
both!(clients_that_hang_up_get_one_object_per_key);

/// F6: a card page in progress survives a restart of the server (the sim
/// keeps its payments on disk), and the payment completes the session.
async fn sim_card_page_survives_a_restart(app: TestApp) {
    let link = app.link_with("eur", 2500, json!({})).await;
    let (listen, sim_listen) = (free_addr(), free_addr());
    let mut served = Served::start_on(&app, &listen, &sim_listen, &app.opts.data_dir, &[]);
    let b = Buyer::new();
    let s = b
        .post(
            &format!("{}/l/{link}", served.base),
            &[("email", "restart@example.com"), ("action", "pay")],
        )
        .await;
    assert_eq!(s.status, 303, "{}", s.body);
    let go = b.get(&s.location.unwrap()).await;
    let card_page = go.location.unwrap();
    assert!(card_page.starts_with(&served.sim_base), "{card_page}");
    served.kill();
    let served = Served::start_on(&app, &listen, &sim_listen, &app.opts.data_dir, &[]);
    assert_eq!(b.get(&card_page).await.status, 200, "the card page is back");
    let paid = b.card(&card_page, CARD_OK).await;
    assert_eq!(paid.status, 303, "{}", paid.body);
    let cs = paid
        .location
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let session = app.get(&format!("/v1/checkout/sessions/{cs}")).await;
    assert_eq!(session.ok()["payment_status"], "paid");
    drop(served);
}
both!(sim_card_page_survives_a_restart);

/// F5: a refund left pending (the process died between writing it and
/// settling it with the provider) is settled by the reconciler, with the
/// refund's id as the provider's idempotency key: never refunded twice,
/// even when the provider had already made it.
async fn pending_refunds_are_settled_once_by_the_reconciler(app: TestApp) {
    use paylink_providers::Provider;
    let link = app.link_with("eur", 1500, json!({})).await;
    let b = Buyer::new();
    let mut pis = Vec::new();
    for _ in 0..2 {
        let cs = b
            .pay(&app, &link, &[("email", "pending@example.com")])
            .await;
        let s = app.get(&format!("/v1/checkout/sessions/{cs}")).await;
        pis.push(s.ok()["payment_intent"].as_str().unwrap().to_string());
    }
    let scope = paylink_store::Scope {
        account_id: app.account.clone(),
        livemode: false,
    };
    let store = &app.opened.store;
    let provider = paylink_providers::sim::SimClient::new(app.sim.clone());
    let mut refunds = Vec::new();
    for (n, pi) in pis.iter().enumerate() {
        let refund = store
            .begin_refund(
                &scope,
                paylink_store::checkout::NewRefund {
                    payment_intent: pi,
                    amount: None,
                    reason: None,
                    refund_id: &format!("re_pendingcrash{n}"),
                    metadata: &Default::default(),
                    now: app.clock.now(),
                },
            )
            .await
            .unwrap();
        refunds.push(refund);
    }
    // The first one reached the provider before the crash.
    let (_, credential) = store.provider_credential(&scope).await.unwrap().unwrap();
    let (_, provider_ref) = store.payment_provider_ref(&scope, &pis[0]).await.unwrap();
    provider
        .refund(&credential, &provider_ref, 1500, &refunds[0].id)
        .await
        .unwrap();
    for r in &refunds {
        let got = app.get(&format!("/v1/refunds/{}", r.id)).await;
        assert_eq!(got.ok()["status"], "pending");
    }
    // The held amount can't be refunded again meanwhile.
    app.post("/v1/refunds", json!({"payment_intent": pis[1]}))
        .await
        .assert_error(400, Some("amount"));
    // Too young: left to the request that may still be settling it.
    let none = paylink_jobs::refunds::reconcile_once(store, &provider, app.clock.now())
        .await
        .unwrap();
    assert_eq!(none, Default::default());
    let later = app.clock.now() + paylink_jobs::refunds::RECONCILE_AFTER_SECS + 1;
    let done = paylink_jobs::refunds::reconcile_once(store, &provider, later)
        .await
        .unwrap();
    assert_eq!(done.succeeded, 2, "{done:?}");
    for (r, pi) in refunds.iter().zip(&pis) {
        let got = app.get(&format!("/v1/refunds/{}", r.id)).await;
        assert_eq!(got.ok()["status"], "succeeded");
        let p = app.get(&format!("/v1/payment_intents/{pi}")).await;
        assert_eq!(p.ok()["amount_refunded"], 1500);
    }
    let again = paylink_jobs::refunds::reconcile_once(store, &provider, later)
        .await
        .unwrap();
    assert_eq!(again, Default::default());
}
both!(pending_refunds_are_settled_once_by_the_reconciler);

/// F7: readiness touches the database.
async fn readiness_touches_the_database(app: TestApp) {
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), r#"{"status":"ready"}"#);
}
both!(readiness_touches_the_database);
