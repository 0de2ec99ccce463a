//! Whether the PostgreSQL tests run: with `PAYLINK_TEST_DATABASE_URL` set,
//! `pg_test!` makes a plain test; without it, an ignored one that says why.
//! The kit decides it for the suites whose tests it makes (`both!`,
//! `on_both_databases!`), so that a crate below it, such as the store,
//! needs no build script that would rebuild it when the variable changes.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(pg_tests)");
    println!("cargo::rerun-if-env-changed=PAYLINK_TEST_DATABASE_URL");
    if std::env::var("PAYLINK_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=pg_tests");
    }
}
