//! `Idempotency-Key`: replay, mismatch, in-flight conflict, release on
//! failure, 24-hour expiry and purge.

use paylink_store::idempotency::{Claim, LEASE_SECS};
use paylink_store::Scope;

use crate::both;
use crate::helpers::*;

/// What these tests ask of the app.
trait Idempotent {
    async fn post_idem(&self, key: &str, path: &str, params: serde_json::Value) -> Resp;
    fn test_scope(&self) -> Scope;
    async fn claim_products_key(&self, key: &str, params: &serde_json::Value) -> Claim;
    async fn product_count(&self) -> usize;
}

impl Idempotent for TestApp {
    async fn post_idem(&self, key: &str, path: &str, params: serde_json::Value) -> Resp {
        let body = encode(&form(&params));
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(&self.key)
                .header("idempotency-key", key)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }
    fn test_scope(&self) -> Scope {
        Scope {
            account_id: self.account.clone(),
            livemode: false,
        }
    }

    /// Claims `key` for `POST /v1/products` with `params`, as a request in
    /// another process would.
    async fn claim_products_key(&self, key: &str, params: &serde_json::Value) -> Claim {
        self.opened
            .store
            .claim_idempotency(
                &self.test_scope(),
                key,
                "/v1/products",
                &fingerprint("/v1/products", params),
                self.clock.now(),
                LEASE_SECS,
            )
            .await
            .unwrap()
    }

    async fn product_count(&self) -> usize {
        self.get("/v1/products").await.ok()["data"]
            .as_array()
            .unwrap()
            .len()
    }
}

async fn replay_is_byte_for_byte(app: TestApp) {
    let first = app
        .post_idem("k-1", "/v1/products", json!({"name": "Once"}))
        .await;
    first.ok();
    assert!(first.headers.get("idempotent-replayed").is_none());
    app.clock.advance(3600);
    let again = app
        .post_idem("k-1", "/v1/products", json!({"name": "Once"}))
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.bytes, first.bytes);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.headers["idempotency-key"], "k-1");
    assert_eq!(
        app.get("/v1/products").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
both!(replay_is_byte_for_byte);

async fn same_key_other_params_is_400(app: TestApp) {
    app.post_idem("k-2", "/v1/products", json!({"name": "A"}))
        .await
        .ok();
    let r = app
        .post_idem("k-2", "/v1/products", json!({"name": "B"}))
        .await;
    r.assert_error(400, None);
    assert_eq!(r.body["error"]["type"], "idempotency_error");
    // Another endpoint with the same key is another request too.
    app.post_idem("k-2", "/v1/coupons", json!({"percent_off": 5}))
        .await
        .assert_error(400, None);
    // Keys are per account and mode: another account may use it freely.
    let (_, other) = app.other_account().await;
    let r = app
        .send(
            app.client
                .post(app.url("/v1/products"))
                .bearer_auth(&other)
                .header("idempotency-key", "k-2")
                .form(&[("name", "B")]),
        )
        .await;
    r.ok();
}
both!(same_key_other_params_is_400);

async fn in_flight_key_is_409(app: TestApp) {
    let scope = Scope {
        account_id: app.account.clone(),
        livemode: false,
    };
    // Another request holds the key (claimed, not finished).
    app.opened
        .store
        .claim_idempotency(
            &scope,
            "busy",
            "/v1/products",
            "fingerprint-of-another-request",
            app.clock.now(),
            LEASE_SECS,
        )
        .await
        .unwrap();
    let r = app
        .post_idem("busy", "/v1/products", json!({"name": "A"}))
        .await;
    r.assert_error(409, None);
    assert_eq!(r.body["error"]["type"], "idempotency_error");
    assert_eq!(
        app.get("/v1/products").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}
both!(in_flight_key_is_409);

async fn concurrent_same_key_creates_one_object(app: TestApp) {
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.post_idem("race", "/v1/products", json!({"name": "Raced"}))
                .await
        }));
    }
    let mut bodies = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            200 => bodies.push(r.bytes),
            409 => assert_eq!(r.body["error"]["type"], "idempotency_error"),
            other => panic!("unexpected {other}: {r:?}"),
        }
    }
    assert!(!bodies.is_empty());
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "replays differ");
    assert_eq!(
        app.get("/v1/products").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
both!(concurrent_same_key_creates_one_object);

async fn failed_request_releases_the_key(app: TestApp) {
    app.post_idem("fix-me", "/v1/products", json!({"name": ""}))
        .await
        .assert_error(400, Some("name"));
    app.post_idem("fix-me", "/v1/products", json!({"name": "Fixed"}))
        .await
        .ok();
    // Longer than 255, or holding a space or tab (which a header value
    // may carry): refused, as the OpenAPI document's pattern says.
    for bad_key in ["x".repeat(256), "two words".into(), "tab\there".into()] {
        app.post_idem(&bad_key, "/v1/products", json!({"name": "a"}))
            .await
            .assert_error(400, None);
    }
    assert_eq!(app.product_count().await, 1, "no refused key made one");
}
both!(failed_request_releases_the_key);

async fn records_expire_after_24h_and_are_purged(app: TestApp) {
    app.post_idem("daily", "/v1/products", json!({"name": "Day 1"}))
        .await
        .ok();
    app.clock.advance(24 * 3600 - 1);
    app.post_idem("daily", "/v1/products", json!({"name": "Other"}))
        .await
        .assert_error(400, None);
    app.clock.advance(1);
    assert_eq!(
        app.opened
            .store
            .idempotency_due(app.clock.now())
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
    assert_eq!(report.idempotency_records, 1);
    assert_eq!(
        app.opened
            .store
            .idempotency_due(app.clock.now())
            .await
            .unwrap(),
        0
    );
    let r = app
        .post_idem("daily", "/v1/products", json!({"name": "Day 2"}))
        .await;
    assert_eq!(r.ok()["name"], "Day 2");
}
both!(records_expire_after_24h_and_are_purged);

/// The fingerprint the server computes for `post_idem(_, path, params)`.
fn fingerprint(path: &str, params: &serde_json::Value) -> String {
    let mut f = Vec::new();
    for piece in ["POST", path, "application/x-www-form-urlencoded"] {
        f.extend_from_slice(piece.as_bytes());
        f.push(0);
    }
    f.extend_from_slice(encode(&form(params)).as_bytes());
    paylink_crypto::sha256_hex(&f)
}

/// A product as the API would make it.
fn test_product(id: &str, name: &str, now: i64) -> paylink_domain::catalog::Product {
    paylink_domain::catalog::Product {
        id: id.into(),
        livemode: false,
        created: now,
        updated: now,
        name: name.into(),
        description: None,
        active: true,
        images: Vec::new(),
        metadata: Default::default(),
        default_price: None,
        url: None,
    }
}

/// Reliability F4: a process that died holding a key with nothing
/// committed blocks retries only until the claim's lease runs out; then a
/// retry runs the request, once.
async fn crashed_claim_with_nothing_committed_is_taken_over(app: TestApp) {
    let params = serde_json::json!({"name": "After a crash"});
    let claim = app.claim_products_key("died", &params).await;
    assert!(matches!(claim, Claim::Fresh(_)), "{claim:?}");
    drop(claim); // the process dies: nothing committed, nothing stored
    app.post_idem("died", "/v1/products", params.clone())
        .await
        .assert_error(409, None);
    app.clock.advance(LEASE_SECS + 1);
    let first = app.post_idem("died", "/v1/products", params.clone()).await;
    first.ok();
    let again = app.post_idem("died", "/v1/products", params).await;
    assert_eq!(again.bytes, first.bytes);
    assert_eq!(app.product_count().await, 1);
}
both!(crashed_claim_with_nothing_committed_is_taken_over);

/// Reliability F3/F4: the work and the claim's "committed" mark are one
/// transaction. A process that died after the work committed but before
/// the response was stored leaves no orphan: the retry (after the lease)
/// answers with the object the first run made, and never runs it again.
async fn crashed_claim_after_commit_answers_with_the_object(app: TestApp) {
    let params = serde_json::json!({"name": "Made before the crash"});
    let Claim::Fresh(ticket) = app.claim_products_key("made", &params).await else {
        panic!("a new key is fresh");
    };
    let product = test_product(
        "prod_madebeforecrash1",
        "Made before the crash",
        app.clock.now(),
    );
    ticket
        .run(app.opened.store.create_product(&app.test_scope(), &product))
        .await
        .unwrap();
    assert!(ticket.committed());
    drop(ticket); // the process dies before the response is stored
    app.post_idem("made", "/v1/products", params.clone())
        .await
        .assert_error(409, None);
    app.clock.advance(LEASE_SECS + 1);
    let r = app.post_idem("made", "/v1/products", params.clone()).await;
    assert_eq!(r.ok()["id"], "prod_madebeforecrash1");
    assert_eq!(
        r.headers.get("idempotent-replayed").map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    // Other parameters under that key are refused, not run.
    app.post_idem("made", "/v1/products", serde_json::json!({"name": "Other"}))
        .await
        .assert_error(400, None);
    let again = app.post_idem("made", "/v1/products", params).await;
    assert_eq!(again.bytes, r.bytes);
    assert_eq!(app.product_count().await, 1);
}
both!(crashed_claim_after_commit_answers_with_the_object);

/// A request whose claim was taken over can't commit: its work is rolled
/// back, so the one that took over is the only one to run.
async fn a_lost_claim_commits_nothing(app: TestApp) {
    let params = serde_json::json!({"name": "Slow"});
    let Claim::Fresh(slow) = app.claim_products_key("slow", &params).await else {
        panic!("a new key is fresh");
    };
    app.clock.advance(LEASE_SECS + 1);
    let Claim::Fresh(_retry) = app.claim_products_key("slow", &params).await else {
        panic!("an expired claim with nothing committed is taken over");
    };
    let product = test_product("prod_slowfirstattempt1", "Slow", app.clock.now());
    let err = slow
        .run(app.opened.store.create_product(&app.test_scope(), &product))
        .await
        .unwrap_err();
    assert!(matches!(err, paylink_store::StoreError::ClaimLost), "{err}");
    assert!(!slow.committed());
    app.get("/v1/products/prod_slowfirstattempt1")
        .await
        .assert_error(404, Some("id"));
}
both!(a_lost_claim_commits_nothing);

/// The idempotency bookkeeping (claim, stored response, release) commits
/// without a flush of its own, carried to disk by the request's flushed
/// commit; no connection is ever left flushing less. After a burst of
/// idempotent requests that succeed, are replayed, fail and are cut off
/// by their clients, every pooled connection still flushes each commit.
async fn bookkeeping_leaves_every_connection_flushing(app: TestApp) {
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..24 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let (key, name) = match i % 4 {
                0 => (format!("ok-{i}"), "Fine"),
                1 => ("shared".to_string(), "Shared"),
                2 => (format!("bad-{i}"), ""),
                _ => (format!("cut-{i}"), "Cut off"),
            };
            if i % 4 == 3 {
                // A client that hangs up at once.
                let req = app
                    .client
                    .post(app.url("/v1/products"))
                    .bearer_auth(&app.key)
                    .header("idempotency-key", key)
                    .form(&[("name", name)])
                    .timeout(std::time::Duration::from_millis(1));
                let _ = req.send().await;
                return;
            }
            let r = app
                .post_idem(&key, "/v1/products", json!({"name": name}))
                .await;
            assert!(
                [200, 400, 409].contains(&r.status),
                "unexpected {}: {r:?}",
                r.status
            );
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // The cut-off requests that reached the server run to their end on
    // their own (detached): wait until the count of products settles.
    let count = || async {
        app.get("/v1/products?limit=100").await.ok()["data"]
            .as_array()
            .unwrap()
            .len()
    };
    let mut seen = count().await;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let now = count().await;
        if now == seen {
            break;
        }
        seen = now;
    }
    // Six fine ones, the shared one once, and any cut-off one that ran.
    assert!((7..=13).contains(&seen), "{seen} products");
    let want = match app.db {
        Db::Sqlite => "synchronous=2",
        Db::Postgres => "synchronous_commit=on",
    };
    let settings = app.opened.store.commit_flush_settings().await.unwrap();
    assert!(!settings.is_empty());
    assert!(
        settings.iter().all(|s| s == want),
        "a connection flushes less than every commit: {settings:?}"
    );
}
both!(bookkeeping_leaves_every_connection_flushing);
