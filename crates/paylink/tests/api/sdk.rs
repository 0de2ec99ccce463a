//! Stripe's official Python SDK (stripe-python 16.x) against a paylink
//! server: create, list with auto-pagination, update and read back. The
//! interpreter comes from PAYLINK_TEST_PYTHON (.ci/run makes a venv with
//! `pip install 'stripe>=16,<17'`).

use crate::helpers::*;

async fn run_sdk_script(db: Db) {
    let app = spawn_app(db).await;
    let python = std::env::var("PAYLINK_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/stripe_compat.py");
    let (base, key) = (app.base.clone(), app.key.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .env("PAYLINK_API_BASE", base)
            .env("PAYLINK_API_KEY", key)
            .output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("could not run the SDK script: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "stripe-python compatibility failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("stripe-python compatibility: OK"),
        "{stdout}\n{stderr}"
    );
    // What the SDK created is there, read back over plain HTTP.
    let links = app.get("/v1/payment_links?expand[]=data.line_items").await;
    let link = &links.ok()["data"][0];
    assert_eq!(link["metadata"], json!({"campaign": "sdk-2"}));
    assert_eq!(link["active"], false);
    assert_eq!(link["line_items"]["data"][0]["quantity"], 2);
}

#[tokio::test]
#[cfg_attr(
    not(sdk_tests),
    ignore = "stripe-python skipped: set PAYLINK_TEST_PYTHON to a python with `stripe>=16,<17` installed"
)]
async fn stripe_python_sdk_sqlite() {
    run_sdk_script(Db::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(all(sdk_tests, pg_tests)),
    ignore = "stripe-python on PostgreSQL skipped: set PAYLINK_TEST_PYTHON and PAYLINK_TEST_DATABASE_URL"
)]
async fn stripe_python_sdk_postgres() {
    run_sdk_script(Db::Postgres).await;
}
