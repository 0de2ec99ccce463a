//! Key kinds and key life (issue 13, parts 1 and 2): secret keys may do everything in their
//! mode, restricted keys what their permission per resource allows, and
//! publishable keys nothing of the `/v1` API; a refusal is a 403 naming the
//! missing permission. Checked for every route of the endpoint table
//! against the one permission table (`paylink_web::api::needs_for`), and a
//! key never holds more than the member who made it.

use std::collections::HashMap;

use paylink::app;
use paylink_crypto::{ApiKeyKind, Mode};
use paylink_domain::access::{Access, Needs, Resource};
use paylink_store::api_keys::KeySpec;

use crate::both;
use crate::helpers::*;

async fn key(app: &TestApp, kind: ApiKeyKind, permissions: Option<&str>) -> String {
    let spec = KeySpec {
        kind,
        permissions,
        name: Some("test"),
        created_by: "cli",
        allowed_ips: None,
        expires_at: None,
    };
    app::create_key_with(&app.opened, &app.account, Mode::Test, spec, app.now())
        .await
        .unwrap()
        .secret
        .expose()
        .to_string()
}

/// A concrete path for a route of the table (ids that name nothing).
fn concrete(path: &str) -> String {
    path.replace("{id}", "x_nothing_here")
}

async fn call(app: &TestApp, key: &str, method: &axum::http::Method, path: &str) -> Resp {
    let url = app.url(&concrete(path));
    let req = match method.as_str() {
        "GET" => app.client.get(url),
        "DELETE" => app.client.delete(url),
        _ => app.client.post(url).form(&[("expand[]", "nothing")]),
    };
    app.send(req.bearer_auth(key)).await
}

async fn every_key_kind_meets_the_permission_table(app: TestApp) {
    let mut only: HashMap<(Resource, Access), String> = HashMap::new();
    for r in Resource::ALL {
        for a in [Access::Read, Access::Write] {
            let k = key(
                &app,
                ApiKeyKind::Restricted,
                Some(&format!("{}={}", r.as_str(), a.as_str())),
            )
            .await;
            assert!(k.starts_with("rk_test_"), "{k}");
            only.insert((r, a), k);
        }
    }
    let everything = Resource::ALL
        .iter()
        .map(|r| format!("{}=write", r.as_str()))
        .collect::<Vec<_>>()
        .join(",");
    let all_write = key(&app, ApiKeyKind::Restricted, Some(&everything)).await;
    let publishable = key(&app, ApiKeyKind::Publishable, None).await;
    assert!(publishable.starts_with("pk_test_"));
    let mut checked = 0;
    for e in paylink_web::api::endpoints() {
        let what = format!("{} {}", e.method, e.path);
        let needs = paylink_web::api::needs_for(&e.method, e.path).unwrap();
        let p = call(&app, &publishable, &e.method, e.path).await;
        assert_eq!(p.status, 403, "publishable: {what}: {p:?}");
        match needs {
            Needs::On(r, a) => {
                let ok = call(&app, &only[&(r, a)], &e.method, e.path).await;
                assert_ne!(ok.status, 403, "{what} with {r:?} {a:?}: {ok:?}");
                assert_ne!(ok.status, 401, "{what}");
                // One step less: refused, naming what was missing.
                let less = match a {
                    Access::Write => only[&(r, Access::Read)].clone(),
                    _ => {
                        let other = Resource::ALL.into_iter().find(|o| *o != r).unwrap();
                        only[&(other, Access::Write)].clone()
                    }
                };
                let no = call(&app, &less, &e.method, e.path).await;
                no.assert_error(403, None);
                let msg = no.body["error"]["message"].as_str().unwrap();
                assert!(
                    msg.contains(&format!("'{}: {}'", r.as_str(), a.as_str())),
                    "{what}: {msg}"
                );
                assert!(msg.contains("rk_test_****"), "the key is masked: {msg}");
                assert!(!msg.contains(&less[8..]), "{msg}");
            }
            Needs::Secret => {
                let no = call(&app, &all_write, &e.method, e.path).await;
                no.assert_error(403, None);
            }
        }
        checked += 1;
    }
    assert!(checked > 40, "{checked} routes");
    // A secret key is never refused a route (last: it may disconnect the
    // provider).
    for e in paylink_web::api::endpoints() {
        let s = call(&app, &app.key, &e.method, e.path).await;
        assert_ne!(s.status, 403, "secret: {} {}: {s:?}", e.method, e.path);
    }
}
both!(every_key_kind_meets_the_permission_table);

async fn restricted_keys_do_what_they_may_and_no_more(app: TestApp) {
    let k = key(
        &app,
        ApiKeyKind::Restricted,
        Some("payment_intents=read,refunds=read,products=write,events=read"),
    )
    .await;
    // Products: write, so it can create and read them.
    let p = app
        .post_as(&k, "/v1/products", json!({"name": "Mug"}))
        .await;
    assert_eq!(p.ok()["name"], "Mug");
    app.get_as(&k, "/v1/products").await.ok();
    // Refunds: read only.
    let r = app
        .post_as(&k, "/v1/refunds", json!({"payment_intent": "pi_x"}))
        .await;
    r.assert_error(403, None);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("'refunds: write'"));
    app.get_as(&k, "/v1/refunds").await.ok();
    // Prices: none.
    app.get_as(&k, "/v1/prices").await.assert_error(403, None);
    // Events in its own mode only: a live change is not among them.
    app.post_as(&app.live_key, "/v1/products", json!({"name": "Live mug"}))
        .await
        .ok();
    let ev = app.get_as(&k, "/v1/events?type=product.created").await;
    let names: Vec<&str> = ev.ok()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["object"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Mug"]);
    // A restricted key's prefix can't be swapped for another kind's.
    let forged = format!("sk_{}", &k[3..]);
    app.get_as(&forged, "/v1/products")
        .await
        .assert_error(401, None);
    // Revoked: refused at once.
    let id = app
        .raw_strings("SELECT id FROM api_keys WHERE kind = 'restricted'")
        .await
        .pop()
        .unwrap();
    app.opened
        .store
        .revoke_api_key(
            &paylink_store::Scope {
                account_id: app.account.clone(),
                livemode: false,
            },
            &id,
            app.now(),
        )
        .await
        .unwrap();
    app.get_as(&k, "/v1/products").await.assert_error(401, None);
}
both!(restricted_keys_do_what_they_may_and_no_more);

/// The dashboard: a developer makes restricted keys within the developer
/// role, and publishable keys, never a secret key.
async fn a_key_never_holds_more_than_its_maker(app: TestApp) {
    use crate::dash::{between, member};
    use paylink_domain::roles::Role;
    let mut dev = member(&app, "dev@shop.example", Role::Developer).await;
    let page = dev.get("/dashboard/api-keys").await;
    assert_eq!(page.status, 200);
    // Only what a developer may do is offered.
    let customers = between(&page.body, "name=\"perm_customers\"", "</select>").unwrap();
    assert!(customers.contains("value=\"read\"") && !customers.contains("value=\"write\""));
    assert!(
        !page.body.contains("Create a test secret key"),
        "no secret key offered"
    );
    // Asking for more anyway (a forged form) is refused beside the form.
    let over = dev
        .post(
            "/dashboard/api-keys/restricted",
            &[("name", "sync"), ("perm_customers", "write")],
        )
        .await;
    assert_eq!(over.status, 200);
    assert!(
        over.body.contains("may grant at most read on customers"),
        "{}",
        over.body
    );
    assert!(!over.body.contains("rk_test_"));
    // Within the role: made, shown once, works as granted.
    let made = dev
        .post(
            "/dashboard/api-keys/restricted",
            &[
                ("name", "catalog reader"),
                ("perm_products", "read"),
                ("perm_webhook_endpoints", "write"),
            ],
        )
        .await;
    let k = between(&made.body, "id=\"new-key\" readonly value=\"", "\"")
        .unwrap_or_else(|| panic!("no key shown: {}", made.body));
    assert!(k.starts_with("rk_test_"), "{k}");
    assert!(made.body.contains("catalog reader"));
    assert!(
        made.body.contains("products read, webhook_endpoints write"),
        "{}",
        made.body
    );
    assert!(!dev.get("/dashboard/api-keys").await.body.contains(&k));
    app.get_as(&k, "/v1/products").await.ok();
    app.post_as(&k, "/v1/products", json!({"name": "No"}))
        .await
        .assert_error(403, None);
    // No secret key from a developer, whatever the form says.
    let secret = dev.post("/dashboard/api-keys", &[]).await;
    assert!(secret.denied(), "{}", secret.status);
    // A publishable key: nothing of the API.
    dev.get("/dashboard/api-keys").await;
    let pk = dev.post("/dashboard/api-keys/publishable", &[]).await;
    let pk = between(&pk.body, "id=\"new-key\" readonly value=\"", "\"").unwrap();
    assert!(pk.starts_with("pk_test_"));
    app.get_as(&pk, "/v1/products")
        .await
        .assert_error(403, None);
    // Every creation is in the audit log with what the key may do.
    let audit = app
        .raw_strings("SELECT detail FROM audit_log WHERE action = 'api_key.created'")
        .await;
    assert!(
        audit
            .iter()
            .any(|d| d.contains("products=read,webhook_endpoints=write")),
        "{audit:?}"
    );
    // Support may not make keys at all.
    let mut support = member(&app, "support@shop.example", Role::Support).await;
    assert!(support
        .post(
            "/dashboard/api-keys/restricted",
            &[("perm_refunds", "read")]
        )
        .await
        .denied());
}
both!(a_key_never_holds_more_than_its_maker);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_makes_every_kind_of_key() {
    let app = spawn_app(Db::Sqlite).await;
    let out = app.run_cli(&[
        "keys",
        "create",
        "--account",
        &app.account,
        "--mode",
        "test",
        "--kind",
        "restricted",
        "--permission",
        "products=read",
        "--permission",
        "prices=write",
        "--name",
        "sync",
        "--json",
    ]);
    assert!(out.ok, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["type"], "restricted");
    assert_eq!(v["permissions"], "products=read,prices=write");
    let k = v["secret"].as_str().unwrap();
    assert!(k.starts_with("rk_test_"));
    app.get_as(k, "/v1/prices").await.ok();
    app.get_as(k, "/v1/refunds").await.assert_error(403, None);
    let pk = app.run_cli(&[
        "keys",
        "create",
        "--account",
        &app.account,
        "--mode",
        "live",
        "--kind",
        "publishable",
    ]);
    assert!(
        pk.ok && pk.stdout.trim().starts_with("pk_live_"),
        "{}",
        pk.stderr
    );
    for bad in [
        vec!["--kind", "restricted"],
        vec!["--kind", "restricted", "--permission", "charges=read"],
        vec!["--kind", "restricted", "--permission", "products=admin"],
        vec!["--kind", "secret", "--permission", "products=read"],
    ] {
        let mut args = vec![
            "keys",
            "create",
            "--account",
            &app.account,
            "--mode",
            "test",
        ];
        args.extend(bad.iter().copied());
        let o = app.run_cli(&args);
        assert!(!o.ok, "{bad:?} accepted");
        assert!(o.stderr.contains("permission"), "{bad:?}: {}", o.stderr);
    }
}

async fn spec_key(app: &TestApp, spec: KeySpec<'_>) -> (String, String) {
    let k = app::create_key_with(&app.opened, &app.account, Mode::Test, spec, app.now())
        .await
        .unwrap();
    (k.id, k.secret.expose().to_string())
}

fn restricted<'a>(perms: &'a str) -> KeySpec<'a> {
    KeySpec {
        kind: ApiKeyKind::Restricted,
        permissions: Some(perms),
        name: Some("life"),
        created_by: "cli",
        allowed_ips: None,
        expires_at: None,
    }
}

/// Expiry, IP ranges, last use, and rolling with an overlap.
async fn keys_expire_keep_to_their_ranges_and_roll_with_an_overlap(app: TestApp) {
    use crate::dash::{between, member};
    use paylink_domain::roles::Role;
    // Expiry: works until then, a 401 at once after.
    let (_, expiring) = spec_key(
        &app,
        KeySpec {
            expires_at: Some(app.now() + 3_600),
            ..restricted("products=read")
        },
    )
    .await;
    app.get_as(&expiring, "/v1/products").await.ok();
    // IP ranges: outside is a 403 (and audited), inside passes.
    let (far_id, far) = spec_key(
        &app,
        KeySpec {
            allowed_ips: Some("10.0.0.0/8 2001:db8::/32"),
            ..restricted("products=read")
        },
    )
    .await;
    let r = app.get_as(&far, "/v1/products").await;
    r.assert_error(403, None);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not allowed for this key"));
    let refused = app
        .raw_strings(&format!(
            "SELECT actor FROM audit_log WHERE action = 'ip.refused' AND actor = '{far_id}'"
        ))
        .await;
    assert_eq!(refused.len(), 1);
    let (near_id, near) = spec_key(
        &app,
        KeySpec {
            allowed_ips: Some("127.0.0.1/32"),
            ..restricted("products=read")
        },
    )
    .await;
    app.get_as(&near, "/v1/products").await.ok();
    // Last use is recorded without a write per request, within moments.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let scope = paylink_store::Scope {
        account_id: app.account.clone(),
        livemode: false,
    };
    loop {
        let k = app
            .opened
            .store
            .get_api_key(&scope, &near_id)
            .await
            .unwrap();
        if k.last_used == Some(app.now()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "last use never recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.clock.advance(3_601);
    app.get_as(&expiring, "/v1/products")
        .await
        .assert_error(401, None);
    // Rolling in the dashboard: the new key is shown once, the old one
    // works for the hour chosen, then stops.
    let mut owner = member(&app, "owner@shop.example", Role::Owner).await;
    let page = owner.get("/dashboard/api-keys").await;
    assert!(page.body.contains("never") || page.body.contains("Last used"));
    let old_id = app
        .raw_strings("SELECT id FROM api_keys WHERE kind = 'secret' AND livemode = 0")
        .await
        .pop()
        .unwrap();
    let rolled = owner
        .post(
            &format!("/dashboard/api-keys/{old_id}/roll"),
            &[("overlap", "3600")],
        )
        .await;
    let new = between(&rolled.body, "id=\"new-key\" readonly value=\"", "\"")
        .unwrap_or_else(|| panic!("no new key: {}", rolled.body));
    assert!(new.starts_with("sk_test_") && new != app.key);
    app.get_as(&app.key, "/v1/products").await.ok();
    app.get_as(&new, "/v1/products").await.ok();
    app.clock.advance(3_601);
    app.get_as(&app.key, "/v1/products")
        .await
        .assert_error(401, None);
    app.get_as(&new, "/v1/products").await.ok();
    let audit = app
        .raw_strings("SELECT action FROM audit_log WHERE action = 'api_key.rolled'")
        .await;
    assert_eq!(audit.len(), 1);
    // A developer can't roll a secret key, nor a restricted key that does
    // more than a developer may.
    let (wide_id, _) = spec_key(&app, restricted("customers=write")).await;
    let mut dev = member(&app, "dev@shop.example", Role::Developer).await;
    dev.get("/dashboard/api-keys").await;
    let secret_id = app
        .raw_strings("SELECT id FROM api_keys WHERE kind = 'secret' AND livemode = 0 AND rolled_from IS NOT NULL")
        .await
        .pop()
        .unwrap();
    let no = dev
        .post(
            &format!("/dashboard/api-keys/{secret_id}/roll"),
            &[("overlap", "0")],
        )
        .await;
    assert!(
        no.body.contains("may not create secret keys"),
        "{}",
        no.body
    );
    let no = dev
        .post(
            &format!("/dashboard/api-keys/{wide_id}/roll"),
            &[("overlap", "0")],
        )
        .await;
    assert!(
        no.body.contains("may grant at most read on customers"),
        "{}",
        no.body
    );
    // Keys made in the dashboard with an expiry and ranges (signed in
    // again: the hour that passed ended the owner's idle session).
    owner.cookie = None;
    owner.sign_in(&app).await;
    owner.get("/dashboard/api-keys").await;
    let made = owner
        .post(
            "/dashboard/api-keys/restricted",
            &[
                ("perm_products", "read"),
                ("expires_in", "604800"),
                ("allowed_ips", "127.0.0.1, 10.1.0.0/16"),
            ],
        )
        .await;
    assert!(
        made.body.contains("From 127.0.0.1/32 10.1.0.0/16"),
        "{}",
        made.body
    );
    let bad = owner
        .post(
            "/dashboard/api-keys/restricted",
            &[("perm_products", "read"), ("allowed_ips", "10.0.0.1/8")],
        )
        .await;
    assert!(
        bad.body.contains("is not an IP address or CIDR range"),
        "{}",
        bad.body
    );
}
both!(keys_expire_keep_to_their_ranges_and_roll_with_an_overlap);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_lists_rolls_and_revokes_keys() {
    let app = spawn_app(Db::Sqlite).await;
    let made = app.run_cli(&[
        "keys",
        "create",
        "--account",
        &app.account,
        "--mode",
        "test",
        "--kind",
        "restricted",
        "--permission",
        "products=read",
        "--allow-ip",
        "127.0.0.1/32",
        "--expires-in-days",
        "30",
        "--json",
    ]);
    assert!(made.ok, "{}", made.stderr);
    let v: serde_json::Value = serde_json::from_str(made.stdout.trim()).unwrap();
    let (id, k) = (
        v["id"].as_str().unwrap(),
        v["secret"].as_str().unwrap().to_string(),
    );
    app.get_as(&k, "/v1/products").await.ok();
    let list = app.run_cli(&["keys", "list", "--account", &app.account, "--mode", "test"]);
    assert!(
        list.ok && list.stdout.contains(id) && list.stdout.contains("restricted"),
        "{}",
        list.stdout
    );
    assert!(!list.stdout.contains(&k[8..]), "keys are never listed");
    // In process, at the server's (test) clock: the old key stops now.
    let new = app
        .cli_in_process(&[
            "keys",
            "roll",
            "--account",
            &app.account,
            "--mode",
            "test",
            "--key",
            id,
            "--overlap",
            "now",
        ])
        .await
        .unwrap()
        .trim()
        .to_string();
    assert!(new.starts_with("rk_test_"));
    // Rolled by another store (the CLI's): seen within the key cache's
    // second.
    let deadline = std::time::Instant::now()
        + std::time::Duration::from_millis(paylink_store::api_keys::KEY_CACHE_MILLIS + 1_500);
    while app.get_as(&k, "/v1/products").await.status != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "the rolled key still works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    app.get_as(&new, "/v1/products").await.ok();
    app.get_as(&new, "/v1/prices").await.assert_error(403, None);
    let new_id = app
        .raw_strings(&format!(
            "SELECT id FROM api_keys WHERE rolled_from = '{id}'"
        ))
        .await
        .pop()
        .unwrap();
    let gone = app.run_cli(&[
        "keys",
        "revoke",
        "--account",
        &app.account,
        "--mode",
        "test",
        "--key",
        &new_id,
    ]);
    assert!(gone.ok, "{}", gone.stderr);
    // Revoked by another process: the server sees it within its key
    // cache's second.
    let deadline = std::time::Instant::now()
        + std::time::Duration::from_millis(paylink_store::api_keys::KEY_CACHE_MILLIS + 1_500);
    while app.get_as(&new, "/v1/products").await.status != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "the revoked key still works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let bad = app.run_cli(&[
        "keys",
        "roll",
        "--account",
        &app.account,
        "--mode",
        "test",
        "--key",
        &new_id,
    ]);
    assert!(
        !bad.ok && bad.stderr.contains("no active key"),
        "{}",
        bad.stderr
    );
}
