//! Marks the PostgreSQL, SDK and browser integration tests as ignored, with the
//! reason shown by `cargo test`, when their environment is not configured:
//! a plain `cargo test` runs SQLite and says plainly what it skipped.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(pg_tests)");
    println!("cargo::rustc-check-cfg=cfg(sdk_tests)");
    println!("cargo::rustc-check-cfg=cfg(browser_tests)");
    println!("cargo::rustc-check-cfg=cfg(node_tests)");
    println!("cargo::rerun-if-env-changed=PAYLINK_TEST_NODE_MODULES");
    if std::env::var("PAYLINK_TEST_NODE_MODULES").is_ok_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=node_tests");
    }
    println!("cargo::rerun-if-env-changed=PAYLINK_TEST_CHROMEDRIVER");
    if std::env::var("PAYLINK_TEST_CHROMEDRIVER").is_ok_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=browser_tests");
    }
    println!("cargo::rerun-if-env-changed=PAYLINK_TEST_DATABASE_URL");
    println!("cargo::rerun-if-env-changed=PAYLINK_TEST_PYTHON");
    if std::env::var("PAYLINK_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=pg_tests");
    }
    if std::env::var("PAYLINK_TEST_PYTHON").is_ok_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=sdk_tests");
    }
}
