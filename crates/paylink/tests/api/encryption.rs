//! Personal data at rest: sealed with per-account keys, found by blind
//! index, unreadable in the database file, its WAL or a dump; master key
//! rotation online and resumable.

use std::sync::Arc;

use crate::both;
use crate::buyer::*;
use crate::helpers::*;

const CANARIES: [&str; 6] = [
    "canary-7f3a@example.com",
    "Zyxwvut Canaryperson",
    "+33 6 99 88 77 66",
    "42 Canarylane Road",
    "canaryanswer9",
    "owner-canary-55@example.com",
];

async fn canaries_are_never_stored_in_clear(app: TestApp) {
    paylink::app::create_account(
        &app.opened.store,
        "Canary Shop",
        CANARIES[5],
        app.clock.now(),
    )
    .await
    .unwrap();
    let link = app
        .link_with(
            "eur",
            1000,
            json!({"billing_address_collection": "required", "phone_number_collection": {"enabled": true}, "custom_fields": [{"key": "note", "label": {"type": "custom", "custom": "Note"}, "type": "text"}]}),
        )
        .await;
    let b = Buyer::new();
    let sid = b
        .pay(
            &app,
            &link,
            &[
                ("email", CANARIES[0]),
                ("name", CANARIES[1]),
                ("phone", CANARIES[2]),
                ("line1", CANARIES[3]),
                ("city", "Lyon"),
                ("postal_code", "69001"),
                ("country", "FR"),
                ("custom_note", CANARIES[4]),
            ],
        )
        .await;
    // The API reads everything back…
    let s = app.get(&format!("/v1/checkout/sessions/{sid}")).await;
    let s = s.ok();
    assert_eq!(s["customer_details"]["email"], CANARIES[0]);
    assert_eq!(s["customer_details"]["name"], CANARIES[1]);
    assert_eq!(s["customer_details"]["address"]["line1"], CANARIES[3]);
    assert_eq!(s["custom_fields"][0]["text"]["value"], CANARIES[4]);
    let by_email = app
        .get(&format!(
            "/v1/customers?email={}",
            CANARIES[0].to_uppercase()
        ))
        .await;
    assert_eq!(by_email.ok()["data"][0]["phone"], CANARIES[2]);
    // …while the stored bytes hold none of it.
    let raw = app.raw_database();
    for c in CANARIES {
        assert!(
            !raw.windows(c.len()).any(|w| w == c.as_bytes()),
            "{c:?} is stored in clear"
        );
        let lower = c.to_lowercase();
        assert!(
            !raw.windows(lower.len()).any(|w| w == lower.as_bytes()),
            "{lower:?} is stored in clear"
        );
    }
    // And the keys themselves are only stored wrapped: no instance or API
    // secret appears either.
    assert!(!raw.windows(app.key.len()).any(|w| w == app.key.as_bytes()));
    let sim_key = app.sim_key().into_bytes();
    assert!(!raw.windows(sim_key.len()).any(|w| w == sim_key.as_slice()));
}
both!(canaries_are_never_stored_in_clear);

async fn sealed_values_do_not_move(app: TestApp) {
    let link = app.link_with("eur", 1000, json!({})).await;
    let b = Buyer::new();
    b.pay(&app, &link, &[("email", "first@example.com")]).await;
    b.pay(&app, &link, &[("email", "second@example.com")]).await;
    let list = app.get("/v1/customers").await;
    let ids: Vec<String> = list.ok()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let (a, bid) = (&ids[0], &ids[1]);
    // Copy one customer's sealed email onto the other's row, and another
    // column's ciphertext into `name`.
    app.raw_exec(&format!("UPDATE customers SET email = (SELECT email FROM customers WHERE id = '{a}') WHERE id = '{bid}'")).await;
    let r = app.get(&format!("/v1/customers/{bid}")).await;
    assert_eq!(r.status, 500);
    assert!(!r.body.to_string().contains("example.com"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("request id"));
    app.raw_exec(&format!(
        "UPDATE customers SET name = email WHERE id = '{a}'"
    ))
    .await;
    assert_eq!(app.get(&format!("/v1/customers/{a}")).await.status, 500);
    // A value in clear is refused too, not served.
    app.raw_exec(&format!("UPDATE checkout_sessions SET customer_email = 'plain@example.com' WHERE customer_id = '{a}'")).await;
    assert_eq!(
        app.get("/v1/checkout/sessions?status=complete&limit=100")
            .await
            .status,
        500
    );
}
both!(sealed_values_do_not_move);

async fn rotation_under_traffic_loses_no_read(app: TestApp) {
    // Several accounts, so several data keys.
    let link = app.link_with("eur", 1000, json!({})).await;
    let b = Buyer::new();
    let sid = b.pay(&app, &link, &[("email", "reader@example.com")]).await;
    for i in 0..5 {
        let (_, key) = app.other_account().await;
        app.post_as(&key, "/v1/products", json!({"name": format!("p{i}")}))
            .await
            .ok();
    }
    let app = Arc::new(app);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (app, stop, sid) = (app.clone(), stop.clone(), sid.clone());
        readers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let r = app.get(&format!("/v1/checkout/sessions/{sid}")).await;
                assert_eq!(r.status, 200, "a read failed during rotation: {r:?}");
                assert_eq!(r.body["customer_details"]["email"], "reader@example.com");
                n += 1;
            }
            n
        }));
    }
    let path = app.opts.key_path();
    let mut keys = paylink_crypto::KeyFile::load(&path).unwrap();
    assert_eq!(keys.add_version(&path).unwrap(), 2);
    let mut rewrapped = 0;
    loop {
        let n = app.opened.store.rewrap_data_keys(1).await.unwrap();
        if n == 0 {
            break;
        }
        rewrapped += n;
        tokio::task::yield_now().await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut reads = 0;
    for r in readers {
        reads += r.await.unwrap();
    }
    assert!(reads > 0);
    assert!(rewrapped >= 7, "{rewrapped}");
    assert_eq!(
        app.opened
            .store
            .data_key_status()
            .await
            .unwrap()
            .iter()
            .map(|(v, _)| *v)
            .collect::<Vec<_>>(),
        vec![2]
    );
    // New data after rotation, and old data, both read back.
    b.pay(&app, &link, &[("email", "after@example.com")]).await;
    assert_eq!(
        app.get("/v1/customers?email=after@example.com").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get("/v1/customers?email=reader@example.com").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
both!(rotation_under_traffic_loses_no_read);

async fn interrupted_rotation_resumes(app: TestApp) {
    let link = app.link_with("eur", 1000, json!({})).await;
    Buyer::new()
        .pay(&app, &link, &[("email", "kept@example.com")])
        .await;
    app.other_account().await;
    let run = |args: &[&str]| {
        let o = app.run_cli(args);
        assert!(o.ok, "{args:?}: {}", o.stderr);
        (o.stdout, o.stderr)
    };
    // A rotation that stopped after adding version 2 and one re-wrap.
    let path = app.opts.key_path();
    paylink_crypto::KeyFile::load(&path)
        .unwrap()
        .add_version(&path)
        .unwrap();
    assert_eq!(app.opened.store.rewrap_data_keys(1).await.unwrap(), 1);
    let (status, _) = run(&["keys", "status"]);
    assert!(
        status.contains("master key version 1:") && status.contains("still in use"),
        "{status}"
    );
    // Version 1 still wraps data keys: it can't be retired yet.
    let o = app.run_cli(&["keys", "retire", "--version", "1"]);
    assert!(!o.ok);
    assert!(o.stderr.contains("still wraps"), "{}", o.stderr);
    // Reads still work mid-way.
    assert_eq!(
        app.get("/v1/customers?email=kept@example.com").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (out, err) = run(&["keys", "rotate-master", "--batch", "1"]);
    assert!(err.contains("Resuming"), "{err}");
    assert!(err.contains("re-wrapped"), "{err}");
    assert!(out.contains("master key version 2"), "{out}");
    assert_eq!(
        paylink_crypto::KeyFile::load(&path).unwrap().versions(),
        vec![1, 2],
        "no version added when resuming"
    );
    let (status, _) = run(&["keys", "status"]);
    assert!(
        status.contains("master key version 1: 0 data key(s) (unused: can be retired)"),
        "{status}"
    );
    assert!(status.contains("(current)"));
    // Version 1 can now be retired; the data reads on without it.
    let (out, _) = run(&["keys", "retire", "--version", "1"]);
    assert!(out.contains("Retired master key version 1."), "{out}");
    assert_eq!(
        paylink_crypto::KeyFile::load(&path).unwrap().versions(),
        vec![2]
    );
    // A fresh rotation adds version 3; version 2 can't be retired before it is done.
    let (_, err) = run(&["keys", "rotate-master"]);
    assert!(err.contains("Added master key version 3"), "{err}");
    assert_eq!(
        app.get("/v1/customers?email=kept@example.com").await.ok()["data"][0]["email"],
        "kept@example.com"
    );
}
both!(interrupted_rotation_resumes);

async fn redaction_and_export(app: TestApp) {
    let link = app
        .link_with("eur", 1000, json!({"billing_address_collection": "required", "custom_fields": [{"key": "note", "label": {"type": "custom", "custom": "Note"}, "type": "text"}]}))
        .await;
    let b = Buyer::new();
    let fields = [
        ("email", CANARIES[0]),
        ("name", CANARIES[1]),
        ("line1", CANARIES[3]),
        ("city", "Lyon"),
        ("postal_code", "69001"),
        ("country", "FR"),
        ("custom_note", CANARIES[4]),
    ];
    b.pay(&app, &link, &fields).await;
    b.pay(&app, &link, &fields).await;
    let cus = app.get("/v1/customers").await.ok()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let pi = app.get("/v1/payment_intents").await.ok()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post("/v1/refunds", json!({"payment_intent": pi, "amount": 100}))
        .await
        .ok();
    // The export holds everything about the buyer.
    let export = app.get(&format!("/v1/customers/{cus}/export")).await;
    let e = export.ok().clone();
    assert_eq!(e["object"], "customer_export");
    assert_eq!(e["customer"]["email"], CANARIES[0]);
    assert_eq!(e["checkout_sessions"].as_array().unwrap().len(), 2);
    assert_eq!(
        e["checkout_sessions"][0]["custom_fields"][0]["text"]["value"],
        CANARIES[4]
    );
    assert_eq!(e["payment_intents"].as_array().unwrap().len(), 2);
    assert_eq!(e["refunds"].as_array().unwrap().len(), 1);
    let doc = paylink_web::openapi::components()
        .into_iter()
        .find(|(n, _)| *n == "customer_export")
        .unwrap()
        .1;
    paylink_web::openapi::conforms(&e, &doc, "customer_export").unwrap();
    // Redaction leaves tombstones and keeps the books.
    let r = app
        .post(&format!("/v1/customers/{cus}/redact"), json!({}))
        .await;
    let r = r.ok();
    assert_eq!(
        (
            r["email"].is_null(),
            r["name"].is_null(),
            r["address"].is_null()
        ),
        (true, true, true)
    );
    let after = app.get(&format!("/v1/customers/{cus}/export")).await;
    let text = after.ok().to_string();
    for c in CANARIES {
        assert!(!text.contains(c), "{c} survived redaction");
    }
    assert_eq!(after.body["payment_intents"][0]["amount"], 1000);
    assert_eq!(after.body["checkout_sessions"][0]["amount_total"], 1000);
    assert_eq!(
        after.body["checkout_sessions"][0]["custom_fields"],
        json!([])
    );
    assert_eq!(
        app.get(&format!("/v1/payment_intents/{pi}")).await.ok()["amount_refunded"],
        100
    );
    // The email no longer finds the customer.
    assert_eq!(
        app.get(&format!("/v1/customers?email={}", CANARIES[0]))
            .await
            .ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    app.post("/v1/customers/cus_nope/redact", json!({}))
        .await
        .assert_error(404, Some("id"));
    let (_, other) = app.other_account().await;
    app.get_as(&other, &format!("/v1/customers/{cus}/export"))
        .await
        .assert_error(404, Some("id"));
}
both!(redaction_and_export);

async fn retention_erases_abandoned_checkouts(app: TestApp) {
    let r = paylink_jobs::Retention::default();
    let link = app.link_with("eur", 1000, json!({})).await;
    let b = Buyer::new();
    b.pay(&app, &link, &[("email", "paid@example.com")]).await;
    assert_eq!(
        b.checkout(&app, &link, &[("email", CANARIES[0])])
            .await
            .status,
        303
    );
    let store = &app.opened.store;
    let due =
        // (Events have their own test: events::events_are_sealed_and_kept_thirty_days.)
        |lines: Vec<paylink_jobs::RetentionLine>| {
            lines
                .iter()
                .filter(|l| !l.what.starts_with("events"))
                .map(|l| l.due)
                .collect::<Vec<_>>()
        };
    assert_eq!(
        due(paylink_jobs::status(store, app.clock.now(), &r)
            .await
            .unwrap()),
        vec![0, 0, 0, 0, 0]
    );
    app.clock.advance(24 * 3600);
    let first = paylink_jobs::purge_once(store, app.clock.now(), &r)
        .await
        .unwrap();
    assert_eq!((first.expired_sessions, first.abandoned_checkouts), (1, 0));
    // Day 29: nothing is due yet; day 31: the abandoned checkout (expired
    // on day 1) and the provider event (day 0) both are.
    app.clock.advance(28 * 24 * 3600);
    assert_eq!(
        due(paylink_jobs::status(store, app.clock.now(), &r)
            .await
            .unwrap()),
        vec![0, 0, 0, 0, 0]
    );
    app.clock.advance(2 * 24 * 3600 + 1);
    assert_eq!(
        due(paylink_jobs::status(store, app.clock.now(), &r)
            .await
            .unwrap()),
        vec![0, 0, 1, 1, 0]
    );
    let pass = paylink_jobs::purge_once(store, app.clock.now(), &r)
        .await
        .unwrap();
    assert_eq!((pass.abandoned_checkouts, pass.provider_events), (1, 1));
    let expired = app.get("/v1/checkout/sessions?status=expired").await;
    let s = &expired.ok()["data"][0];
    assert!(s["customer_details"]["email"].is_null());
    assert_eq!(s["amount_total"], 1000);
    // The paid checkout keeps its buyer (it is the customer's record).
    let done = app.get("/v1/checkout/sessions?status=complete").await;
    assert_eq!(
        done.ok()["data"][0]["customer_details"]["email"],
        "paid@example.com"
    );
    assert_eq!(
        paylink_jobs::purge_once(store, app.clock.now(), &r)
            .await
            .unwrap(),
        paylink_jobs::PurgeReport::default()
    );
    let raw = app.raw_database();
    assert!(!raw
        .windows(CANARIES[0].len())
        .any(|w| w == CANARIES[0].as_bytes()));
    // The command line reports the rules.
    let o = app.run_cli(&["retention", "status"]);
    let out = &o.stdout;
    assert!(
        o.ok && out.contains("buyer details of abandoned checkouts: kept 30 days after expiry"),
        "{out}"
    );
}
both!(retention_erases_abandoned_checkouts);

async fn provider_credentials_are_sealed_and_wiped(app: TestApp) {
    let sim_key = app.sim_key();
    let tail = &sim_key[sim_key.len() - 4..];
    let acct = app.get("/v1/account").await;
    assert_eq!(acct.ok()["provider"]["type"], "sim");
    assert_eq!(acct.body["provider"]["last4"], tail);
    assert!(
        !acct
            .body
            .to_string()
            .contains(&sim_key[..sim_key.len() - 4]),
        "the key is never shown again"
    );
    // Connecting is not an API operation (security review, finding 3).
    let r = app
        .post(
            "/v1/account/provider",
            json!({"provider": "sim", "secret_key": "sk_sim_simmABC_nottherightmac"}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(
        app.get("/v1/account").await.ok()["provider"]["last4"],
        tail,
        "a refused key changes nothing"
    );
    // Stored sealed: neither the key nor any of it in the database bytes.
    let url = app
        .opts
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", app.opts.sqlite_path().display()));
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let sealed: String = sqlx::query_scalar(&format!(
        "SELECT secret FROM provider_credentials WHERE account_id = '{}' AND livemode = 0",
        app.account
    ))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    drop(conn);
    assert!(sealed.starts_with("enc1:") && !sealed.contains(&sim_key));
    let raw = app.raw_database();
    assert!(!raw.windows(sim_key.len()).any(|w| w == sim_key.as_bytes()));
    // A payment, then disconnect.
    let link = app.link_with("eur", 1000, json!({})).await;
    let b = Buyer::new();
    b.pay(&app, &link, &[("email", "pay@example.com")]).await;
    let pi = app.get("/v1/payment_intents").await.ok()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let d = app.post("/v1/account/disconnect", json!({})).await;
    assert!(d.ok()["provider"].is_null());
    let raw = app.raw_database();
    assert!(
        !raw.windows(sealed.len()).any(|w| w == sealed.as_bytes()),
        "the sealed key is wiped from the database and its WAL"
    );
    assert!(!raw.windows(sim_key.len()).any(|w| w == sim_key.as_bytes()));
    // Nothing can be charged or refunded without it; live mode is untouched.
    let s = b
        .checkout(&app, &link, &[("email", "later@example.com")])
        .await;
    assert_eq!(s.status, 503);
    assert!(
        s.body.contains("can&#39;t take payments yet")
            || s.body.contains("can't take payments yet"),
        "{}",
        s.body
    );
    assert_eq!(
        app.get("/v1/checkout/sessions?status=open").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let r = app.post("/v1/refunds", json!({"payment_intent": pi})).await;
    r.assert_error(400, None);
    assert_eq!(r.body["error"]["code"], "provider_not_connected");
    app.post("/v1/account/disconnect", json!({}))
        .await
        .assert_error(400, None);
    assert_eq!(
        app.get_as(&app.live_key, "/v1/account").await.ok()["provider"]["type"],
        "sim"
    );
    // Reconnected, it works again.
    app.connect_sim(&app.account.clone(), &app.key.clone())
        .await;
    app.post("/v1/refunds", json!({"payment_intent": pi, "amount": 100}))
        .await
        .ok();
    b.pay(&app, &link, &[("email", "again@example.com")]).await;
    let actions: Vec<String> = app
        .audit_log()
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.iter().any(|a| a == "provider.disconnected"));
}
both!(provider_credentials_are_sealed_and_wiped);

/// How many data keys `owner` has stored (its first generation).
async fn keys_of(app: &TestApp, owner: &str) -> String {
    app.raw_strings(&format!(
        "SELECT CAST(COUNT(*) AS TEXT) FROM data_keys WHERE owner = '{owner}'"
    ))
    .await
    .remove(0)
}

/// Reading a data key never writes one: an account left without a key by
/// an older version (which made keys on first use) gets it when a server
/// opens the database, and until then a read is refused instead of making
/// a key on the read path.
async fn data_keys_are_made_at_open_never_on_read(app: TestApp) {
    app.raw_exec(
        "INSERT INTO accounts (id, name, owner_email, created) VALUES ('acct_legacy', 'Legacy', 'enc1:legacy', 0)",
    )
    .await;
    let read = app.opened.store.field_key("acct_legacy").await;
    assert!(read.is_err(), "a missing key is an error");
    assert_eq!(
        keys_of(&app, "acct_legacy").await,
        "0",
        "the read made no key"
    );

    // A server opening the database makes it.
    app.second_instance().await;
    assert_eq!(keys_of(&app, "acct_legacy").await, "1");
    assert_eq!(keys_of(&app, "instance").await, "1", "one instance key");
    let k = app.opened.store.field_key("acct_legacy").await.unwrap();
    let sealed = k
        .seal("accounts.owner_email:acct_legacy", "a@legacy.example")
        .unwrap();
    assert_eq!(
        k.open("accounts.owner_email:acct_legacy", &sealed).unwrap(),
        "a@legacy.example"
    );
}
both!(data_keys_are_made_at_open_never_on_read);
