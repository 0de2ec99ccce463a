//! The command line, run as a process against the same data directory (or
//! PostgreSQL schema) as an in-process server.

use std::process::Output;

use crate::both;
use crate::helpers::*;

fn paylink(app: &TestApp, args: &[&str]) -> Output {
    app.cli(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

async fn account_and_key_commands(app: TestApp) {
    let out = stdout(&paylink(
        &app,
        &[
            "account",
            "create",
            "--name",
            "Corner Shop",
            "--owner-email",
            "owner@corner.example",
            "--json",
        ],
    ));
    let acct: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let acct_id = acct["id"].as_str().unwrap().to_string();
    assert!(acct_id.starts_with("acct_"), "{out}");
    assert_eq!(acct["name"], "Corner Shop");
    let plain = stdout(&paylink(
        &app,
        &[
            "account",
            "create",
            "--name",
            "Second",
            "--owner-email",
            "s@corner.example",
        ],
    ));
    let mut lines = plain.trim().lines();
    assert!(
        lines.next().is_some_and(|l| l.starts_with("acct_")),
        "{plain}"
    );
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("Owner setup link") && l.contains("/setup/")),
        "{plain}"
    );
    assert!(
        acct["owner_setup_url"]
            .as_str()
            .is_some_and(|u| u.contains("/setup/")),
        "{acct}"
    );

    let out = stdout(&paylink(
        &app,
        &[
            "keys",
            "create",
            "--account",
            &acct_id,
            "--mode",
            "test",
            "--json",
        ],
    ));
    let key: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let secret = key["secret"].as_str().unwrap().to_string();
    assert!(key["id"].as_str().unwrap().starts_with("key_"));
    assert!(
        secret.starts_with("sk_test_") && secret.len() >= 40,
        "{secret}"
    );
    let live = stdout(&paylink(
        &app,
        &["keys", "create", "--account", &acct_id, "--mode", "live"],
    ));
    assert!(live.trim().starts_with("sk_live_"));

    // The key works against the server, in its own account and mode.
    let r = app
        .post_as(&secret, "/v1/products", json!({"name": "From CLI key"}))
        .await;
    assert_eq!(r.ok()["livemode"], false);
    assert_eq!(
        app.get_as(&secret, "/v1/products").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get("/v1/products").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        app.get_as(live.trim(), "/v1/products").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Only a hash of the key is stored.
    match app.db {
        Db::Sqlite => {
            let mut bytes = std::fs::read(app.opts.sqlite_path()).unwrap();
            bytes.extend(
                std::fs::read(app.opts.data_dir.join("paylink.db-wal")).unwrap_or_default(),
            );
            let needle = secret.as_bytes();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "key found in the database file"
            );
            let tail = &secret.as_bytes()[8..];
            assert!(
                !bytes.windows(tail.len()).any(|w| w == tail),
                "key body found in the database file"
            );
        }
        Db::Postgres => {
            let url = app.opts.database_url.clone().unwrap();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            let rows: Vec<(String, String, String)> =
                sqlx::query_as("SELECT id, key_hash, last4 FROM api_keys")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            assert!(rows.len() >= 4);
            assert!(rows.iter().all(|(id, h, l)| !secret.contains(h.as_str())
                && !h.contains(&secret[8..])
                && !id.contains(&secret[8..])
                && l.len() == 4));
        }
    }

    // Bad input: one clear line, non-zero exit.
    let bad = paylink(
        &app,
        &[
            "account",
            "create",
            "--name",
            "X",
            "--owner-email",
            "not-an-email",
        ],
    );
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("--owner-email is not a valid email address"),
        "{err}"
    );
    let bad = paylink(
        &app,
        &["keys", "create", "--account", "acct_nope", "--mode", "test"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no such account"));
    let bad = paylink(
        &app,
        &["keys", "create", "--account", &acct_id, "--mode", "prod"],
    );
    assert!(!bad.status.success());

    let m = stdout(&paylink(&app, &["migrate"]));
    assert!(m.contains("up to date"), "{m}");
}
both!(account_and_key_commands);

/// The commands are functions that print to a writer: run in-process, an
/// account and its key are made, the key works on the running server, and
/// a refused command is an error with nothing printed.
async fn commands_run_in_process(app: TestApp) {
    let out = app
        .cli_in_process(&[
            "account",
            "create",
            "--name",
            "In Process",
            "--owner-email",
            "inproc@corner.example",
            "--json",
        ])
        .await
        .unwrap();
    let acct: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let acct_id = acct["id"].as_str().unwrap().to_string();
    assert!(acct_id.starts_with("acct_"), "{out}");
    let out = app
        .cli_in_process(&[
            "keys",
            "create",
            "--account",
            &acct_id,
            "--mode",
            "test",
            "--json",
        ])
        .await
        .unwrap();
    let key: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let secret = key["secret"].as_str().unwrap();
    assert!(secret.starts_with("sk_test_"), "{key}");
    let listed = app.get_as(secret, "/v1/products").await;
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(
        listed.body["data"],
        serde_json::json!([]),
        "a new account sees no products"
    );

    let err = app
        .cli_in_process(&[
            "account",
            "delete",
            "--account",
            &acct_id,
            "--confirm",
            "acct_other",
        ])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--confirm must repeat"), "{err}");
    assert_eq!(
        app.get_as(secret, "/v1/products").await.status,
        200,
        "nothing was deleted"
    );

    let verified = app.cli_in_process(&["audit", "verify"]).await.unwrap();
    assert!(verified.starts_with("audit log intact: "), "{verified}");
    let status = app.cli_in_process(&["keys", "status"]).await.unwrap();
    assert!(
        status.contains("master key version 1:") && status.contains("(current)"),
        "{status}"
    );
}
both!(commands_run_in_process);

#[test]
fn files_are_private_and_loose_key_files_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let run = |args: &[&str]| {
        paylink_testkit::cli::paylink()
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap()
    };
    let o = run(&["init"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("paylink.key")), 0o600);
    assert_eq!(mode(&data.join("paylink.db")), 0o600);
    std::fs::set_permissions(
        data.join("paylink.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let o = run(&["migrate"]);
    assert!(o.status.success(), "migrate needs no key");
    let o = run(&[
        "account",
        "create",
        "--name",
        "A",
        "--owner-email",
        "a@b.example",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("readable or writable by group or others") && err.trim().lines().count() == 1,
        "{err}"
    );
}

#[test]
fn help_documents_every_setting() {
    let o = paylink_testkit::cli::paylink()
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--data-dir",
        "--database-url",
        "--listen",
        "--public-url",
        "PAYLINK_DATA_DIR",
        "PAYLINK_DATABASE_URL",
        "PAYLINK_LISTEN",
        "PAYLINK_PUBLIC_URL",
        "127.0.0.1:8080",
        "./paylink-data",
    ] {
        assert!(help.contains(flag), "serve --help lacks {flag}:\n{help}");
    }
    let o = paylink_testkit::cli::paylink()
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    for cmd in ["serve", "init", "migrate", "demo", "account", "keys"] {
        assert!(help.contains(cmd), "--help lacks {cmd}");
    }
}

/// A webhook lease no longer than the attempt timeout would let a second
/// instance attempt a delivery still in flight: `serve` refuses to start,
/// naming both settings.
#[test]
fn webhook_lease_must_outlast_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let o = paylink_testkit::cli::paylink()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sim-listen",
            "127.0.0.1:0",
        ])
        .args(["--webhook-timeout-secs", "10", "--webhook-lease-secs", "10"])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--webhook-lease-secs (10) must be longer than --webhook-timeout-secs (10)"),
        "{err}"
    );
}

/// `paylink demo`'s printed setup, once it is listening (the process is
/// left running for the caller).
fn run_demo(dir: &std::path::Path) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = paylink_testkit::cli::paylink()
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--sim-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    while let Some(Ok(line)) = lines.next() {
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("Press Ctrl-C") {
            break;
        }
    }
    (child, printed)
}

/// `paylink demo` run again on its data directory: the same account and
/// payment link, a new test key (it used to fail: the owner was not a
/// member of the second account it made).
#[test]
fn demo_runs_again_on_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let link_of = |printed: &str| {
        printed
            .lines()
            .find_map(|l| l.trim().strip_prefix("Payment link:"))
            .and_then(|s| s.trim().rsplit('/').next().map(str::to_string))
            .unwrap_or_else(|| panic!("no link in:\n{printed}"))
    };
    let (mut first, printed) = run_demo(&dir.path().join("demo"));
    let _ = first.kill();
    let _ = first.wait();
    let (mut second, again) = run_demo(&dir.path().join("demo"));
    let _ = second.kill();
    let _ = second.wait();
    assert_eq!(link_of(&again), link_of(&printed), "{again}");
    assert!(again.contains("Test secret key:  sk_test_"), "{again}");
}

/// `paylink demo` starts a server and prints a working key and link.
#[test]
fn demo_prints_a_working_setup() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, printed) = run_demo(&dir.path().join("demo"));
    let field = |label: &str| {
        printed
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| panic!("no {label} in:\n{printed}"))
    };
    let base = field("API base:");
    let key = field("Test secret key:");
    let link = field("Payment link:");
    assert!(key.starts_with("sk_test_"));
    let id = link.rsplit('/').next().unwrap().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got: serde_json::Value = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{base}/payment_links/{id}?expand[]=line_items"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let setup = field("Dashboard setup:");
    let page = rt.block_on(async {
        reqwest::Client::new()
            .get(&setup)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(page.contains("Set your password"), "{setup}: {page}");
    assert_eq!(got["id"], id.as_str(), "{got}");
    assert_eq!(got["url"], link.as_str());
    assert_eq!(got["allow_promotion_codes"], true);
    assert_eq!(got["line_items"]["data"][0]["price"]["unit_amount"], 2500);
    assert_eq!(field("Promotion code:"), "DEMO10");
}

/// SQLite runs with WAL, synchronous=FULL (2), foreign keys and
/// secure_delete on every pooled connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_settings_are_in_force() {
    let app = spawn_app(Db::Sqlite).await;
    // Use several connections of the pool at once, then check one.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = app.opened.store.clone();
        tasks.push(tokio::spawn(async move {
            store.sqlite_settings().await.unwrap()
        }));
    }
    for t in tasks {
        let s = t.await.unwrap();
        assert_eq!(
            s,
            vec![
                ("journal_mode_wal", 1),
                ("synchronous", 2),
                ("foreign_keys", 1),
                ("secure_delete", 1)
            ]
        );
    }
}

/// Another writer on the SQLite file (a CLI command beside the server, say)
/// makes a request wait for the write lock, not fail: a read-then-write
/// update sent while the lock is held answers 200 once it is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_writer_makes_requests_wait_not_fail() {
    use sqlx::Executor as _;
    let app = spawn_app(Db::Sqlite).await;
    let id = app.product("Held").await;
    let url = format!("sqlite://{}", app.opts.sqlite_path().display());
    let mut other = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    other.execute("BEGIN IMMEDIATE").await.unwrap();
    other
        .execute("UPDATE accounts SET name = name")
        .await
        .unwrap();
    let app = std::sync::Arc::new(app);
    let a = app.clone();
    let update = tokio::spawn(async move {
        a.post(
            &format!("/v1/products/{id}"),
            json!({"name": "Held, then renamed"}),
        )
        .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    other.execute("COMMIT").await.unwrap();
    let r = update.await.unwrap();
    assert_eq!(r.ok()["name"], "Held, then renamed");
}
