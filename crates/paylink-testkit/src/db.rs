//! The databases a test runs on: a temporary SQLite file, or a fresh
//! schema of the PostgreSQL server at `PAYLINK_TEST_DATABASE_URL`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

fn random_suffix() -> String {
    let b = paylink_domain::id::random_bytes::<8>()
        .map(u64::from_le_bytes)
        .unwrap_or(0);
    format!("{b:016x}")
}

/// The URL of a fresh, empty PostgreSQL schema.
pub async fn fresh_pg_url() -> String {
    let base = std::env::var("PAYLINK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1/test".into());
    let schema = format!("pltest_{}", random_suffix());
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&base)
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL at PAYLINK_TEST_DATABASE_URL is not reachable: {e}")
        });
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("create schema: {e}"));
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options[search_path]={schema}")
}

/// A fresh data directory (a temporary directory, with its key file made
/// on first open) and database, opened and migrated as `paylink serve`
/// opens it.
pub struct FreshData {
    pub opened: paylink::app::Opened,
    pub opts: paylink::app::DataOptions,
    pub dir: tempfile::TempDir,
}

/// Opens fresh data on `db`: what the store's own tests and [`spawn_app`]
/// start from.
///
/// [`spawn_app`]: crate::helpers::spawn_app
pub async fn fresh(db: Db) -> FreshData {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let database_url = match db {
        Db::Sqlite => None,
        Db::Postgres => Some(fresh_pg_url().await),
    };
    let opts = paylink::app::DataOptions {
        data_dir: dir.path().join("data"),
        database_url,
    };
    let opened = paylink::app::open(&opts)
        .await
        .unwrap_or_else(|e| panic!("open: {e}"));
    FreshData { opened, opts, dir }
}
