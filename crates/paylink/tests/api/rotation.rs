//! `keys rotate-data`: one account's data re-encrypted under a new data
//! key while the API keeps reading it, the old key destroyed (an old copy
//! of a value no longer opens), resumable after a crash.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::both;
use crate::buyer::*;
use crate::helpers::*;

const EMAIL: &str = "rotate-canary@example.com";

async fn buyer_data(app: &TestApp) -> (String, String) {
    let link = app
        .link_with(
            "eur",
            1000,
            json!({"phone_number_collection": {"enabled": true}}),
        )
        .await;
    let sid = Buyer::new()
        .pay(
            app,
            &link,
            &[
                ("email", EMAIL),
                ("name", "Rota Tion"),
                ("phone", "+33 6 12 34 56 78"),
            ],
        )
        .await;
    let s = app.get(&format!("/v1/checkout/sessions/{sid}")).await;
    (sid, s.ok()["customer"].as_str().unwrap().to_string())
}

/// Every sealed value of the account's tables.
async fn sealed_values(app: &TestApp) -> Vec<String> {
    let a = &app.account;
    let mut out = Vec::new();
    for q in [
        format!("SELECT owner_email FROM accounts WHERE id = '{a}'"),
        format!("SELECT email FROM customers WHERE account_id = '{a}' AND email IS NOT NULL"),
        format!("SELECT name FROM customers WHERE account_id = '{a}' AND name IS NOT NULL"),
        format!("SELECT customer_email FROM checkout_sessions WHERE account_id = '{a}' AND customer_email IS NOT NULL"),
        format!("SELECT custom_fields FROM checkout_sessions WHERE account_id = '{a}'"),
        format!("SELECT secret FROM provider_credentials WHERE account_id = '{a}'"),
    ] {
        out.extend(app.raw_strings(&q).await);
    }
    out
}

async fn rotation_under_traffic_destroys_the_old_key(app: TestApp) {
    let (sid, cus) = buyer_data(&app).await;
    let before = sealed_values(&app).await;
    assert!(
        before.len() >= 6 && before.iter().all(|v| v.starts_with("enc1:")),
        "{before:?}"
    );
    let old_email = app
        .raw_strings(&format!("SELECT email FROM customers WHERE id = '{cus}'"))
        .await
        .remove(0);
    // Another instance's cache would live 30 s; here the test's server
    // keeps keys 200 ms and the rotation waits 300 ms between steps.
    app.opened
        .store
        .set_key_cache_ttl(Duration::from_millis(200));
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (stop, reads) = (stop.clone(), reads.clone());
        let client = app.client.clone();
        let (url, surl, key) = (
            app.url(&format!("/v1/customers/{cus}")),
            app.url(&format!("/v1/checkout/sessions/{sid}")),
            app.key.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                for u in [&url, &surl] {
                    let r = client.get(u).bearer_auth(&key).send().await.unwrap();
                    assert_eq!(r.status(), 200, "a read failed during rotation");
                    let v: serde_json::Value = r.json().await.unwrap();
                    let email = v["email"]
                        .as_str()
                        .or(v["customer_details"]["email"].as_str());
                    assert_eq!(email, Some(EMAIL));
                    reads.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    // Writes go on too: a new buyer pays during the rotation.
    let link = app.link_with("eur", 500, json!({})).await;
    let rotation = {
        let store = app.opened.store.clone();
        let account = app.account.clone();
        tokio::spawn(async move {
            store
                .rotate_data_key(&account, Duration::from_millis(300), &mut |_| {})
                .await
        })
    };
    Buyer::new()
        .pay(&app, &link, &[("email", "during@example.com")])
        .await;
    let report = rotation.await.unwrap().unwrap();
    stop.store(true, Ordering::SeqCst);
    reader.await.unwrap();
    assert!(reads.load(Ordering::SeqCst) > 10, "the reader ran");
    assert_eq!(report.generation, 1);
    assert!(report.resealed >= 6, "{report:?}");
    assert_eq!(report.destroyed_keys, 1);
    let after = sealed_values(&app).await;
    assert!(after.iter().all(|v| v.starts_with("enc2:1:")), "{after:?}");
    assert!(!after.contains(&old_email));
    // Everything still reads back.
    assert_eq!(
        app.get(&format!("/v1/customers/{cus}")).await.ok()["email"],
        EMAIL
    );
    assert_eq!(app.get("/v1/account").await.ok()["provider"]["type"], "sim");
    // The old key is gone: a value from an old copy of the database no
    // longer opens.
    assert!(app
        .raw_strings(&format!(
            "SELECT owner FROM data_keys WHERE owner = '{}'",
            app.account
        ))
        .await
        .is_empty());
    let current = app
        .raw_strings(&format!("SELECT email FROM customers WHERE id = '{cus}'"))
        .await
        .remove(0);
    app.raw_exec(&format!(
        "UPDATE customers SET email = '{old_email}' WHERE id = '{cus}'"
    ))
    .await;
    let scope = paylink_store::Scope {
        account_id: app.account.clone(),
        livemode: false,
    };
    assert!(app.opened.store.get_customer(&scope, &cus).await.is_err());
    app.raw_exec(&format!(
        "UPDATE customers SET email = '{current}' WHERE id = '{cus}'"
    ))
    .await;
    // A second rotation moves on to generation 2.
    let again = app
        .opened
        .store
        .rotate_data_key(&app.account, Duration::ZERO, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(again.generation, 2);
}
both!(rotation_under_traffic_destroys_the_old_key);

async fn rotate_data_cli_resumes_after_a_crash(app: TestApp) {
    let (_, cus) = buyer_data(&app).await;
    app.opened
        .store
        .set_key_cache_ttl(Duration::from_millis(100));
    // Killed while it waits after adding the new key.
    let mut child = app
        .cli(&[
            "keys",
            "rotate-data",
            "--account",
            &app.account,
            "--settle-secs",
            "30",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("generation 1 added"), "{line}");
    child.kill().unwrap();
    child.wait().unwrap();
    // Reads go on meanwhile.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        app.get(&format!("/v1/customers/{cus}")).await.ok()["email"],
        EMAIL
    );
    // Run again: it finishes the same generation.
    let out = app
        .cli(&[
            "keys",
            "rotate-data",
            "--account",
            &app.account,
            "--settle-secs",
            "1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("under data key generation 1;")
            && text.contains("1 old data key(s) destroyed"),
        "{text}"
    );
    assert!(sealed_values(&app)
        .await
        .iter()
        .all(|v| v.starts_with("enc2:1:")));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        app.get(&format!("/v1/customers/{cus}")).await.ok()["email"],
        EMAIL
    );
    let bad = app
        .cli(&[
            "keys",
            "rotate-data",
            "--account",
            "acct_nope",
            "--settle-secs",
            "0",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no such account"));
    let audit = app.audit_log().await;
    assert!(audit.iter().any(|e| e.action == "data_key.rotated"));
}
both!(rotate_data_cli_resumes_after_a_crash);

async fn account_deletion_destroys_its_keys(app: TestApp) {
    let (_, cus) = buyer_data(&app).await;
    let (_, other_key) = app.other_account().await;
    let backup = app.opts.data_dir.join("backup.db");
    if app.db == Db::Sqlite {
        app.raw_exec(&format!("VACUUM INTO '{}'", backup.display()))
            .await;
    }
    let files = app.opened.files_dir.join(&app.account).join("test");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("file_x"), b"image bytes").unwrap();
    let wrong = app
        .cli(&[
            "account",
            "delete",
            "--account",
            &app.account,
            "--confirm",
            "acct_other",
        ])
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    let out = app
        .cli(&[
            "account",
            "delete",
            "--account",
            &app.account,
            "--confirm",
            &app.account,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("destroyed 1 data key"));
    // Gone: its keys (seen by the server, another process, within its
    // key cache's second), its rows, its data key; the other account
    // untouched.
    let deadline = std::time::Instant::now()
        + std::time::Duration::from_millis(paylink_store::api_keys::KEY_CACHE_MILLIS + 1_500);
    while app.get("/v1/products").await.status != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "the deleted account's key still works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        !app.opened.files_dir.join(&app.account).exists(),
        "its files are gone"
    );
    let a = &app.account;
    assert!(app
        .raw_strings(&format!(
            "SELECT id FROM customers WHERE account_id = '{a}'"
        ))
        .await
        .is_empty());
    assert!(app
        .raw_strings(&format!("SELECT owner FROM data_keys WHERE owner = '{a}'"))
        .await
        .is_empty());
    assert_eq!(app.get_as(&other_key, "/v1/products").await.status, 200);
    assert!(
        matches!(
            app.opened.store.verify_audit().await.unwrap(),
            paylink_store::audit::AuditCheck::Intact { .. }
        ),
        "the audit chain survives"
    );
    if app.db == Db::Postgres {
        return;
    }
    // An old backup still holds the account's data key, wrapped under
    // master key version 1: after a master rotation and retiring version
    // 1, nothing in that backup opens any more.
    let scope = paylink_store::Scope {
        account_id: app.account.clone(),
        livemode: false,
    };
    let backup_store = || async {
        let keys = paylink_crypto::KeyFile::load(&app.opts.key_path()).unwrap();
        paylink_store::Database::open_sqlite(&backup)
            .await
            .unwrap()
            .with_vault(Arc::new(paylink_store::vault::Vault::new(keys, None)))
            .await
            .unwrap()
    };
    let before = backup_store().await;
    assert_eq!(
        before
            .get_customer(&scope, &cus)
            .await
            .unwrap()
            .email
            .as_deref(),
        Some(EMAIL),
        "until the master key version is retired, the backup still opens"
    );
    before.close().await;
    for args in [
        vec!["keys", "rotate-master"],
        vec!["keys", "retire", "--version", "1"],
    ] {
        let o = app.cli(&args).output().unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let old = backup_store().await;
    assert!(
        old.get_customer(&scope, &cus).await.is_err(),
        "the deleted account's data opens from the backup"
    );
    assert_eq!(app.get_as(&other_key, "/v1/products").await.status, 200);
}
both!(account_deletion_destroys_its_keys);
