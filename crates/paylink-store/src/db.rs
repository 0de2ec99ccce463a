//! Connections and the few places where SQLite and PostgreSQL differ.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use tokio::sync::{Mutex, MutexGuard};

use crate::error::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database behind every repository function.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer: this process's writers queue here (and
    /// begin IMMEDIATE, waiting for writers in other processes) while reads
    /// go on (WAL). PostgreSQL relies on row locks instead.
    write_lock: Option<Arc<Mutex<()>>>,
    /// Keys for encrypted fields (set by [`Store::with_vault`]).
    pub(crate) vault: Option<Arc<crate::vault::Vault>>,
}

/// A write transaction (holding SQLite's writer slot while it lives).
pub struct WriteTx<'a> {
    pub(crate) tx: sqlx::Transaction<'static, sqlx::Any>,
    _guard: Option<MutexGuard<'a, ()>>,
}

impl WriteTx<'_> {
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({:?})", self.backend)
    }
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` with WAL,
    /// `synchronous=FULL`, `foreign_keys=ON` and `secure_delete=ON`.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let opts = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA secure_delete = ON").await?;
                    Ok(())
                })
            })
            .connect_with(opts)
            .await?;
        Ok(Self {
            pool,
            backend: Backend::Sqlite,
            write_lock: Some(Arc::new(Mutex::new(()))),
            vault: None,
        })
    }

    /// Connects to PostgreSQL at `url` (`postgres://…`).
    pub async fn open_postgres(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let opts = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await?;
        Ok(Self {
            pool,
            backend: Backend::Postgres,
            write_lock: None,
            vault: None,
        })
    }

    /// This store, able to seal and open encrypted fields with `vault`.
    pub fn with_vault(mut self, vault: Arc<crate::vault::Vault>) -> Self {
        self.vault = Some(vault);
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a write transaction.
    pub async fn write(&self) -> Result<WriteTx<'_>, StoreError> {
        let guard = match &self.write_lock {
            Some(m) => Some(m.lock().await),
            None => None,
        };
        // SQLite: take the write lock at BEGIN. A deferred transaction that
        // reads and then writes gets SQLITE_BUSY at once, without waiting,
        // when another connection (another process, or a rollback still in
        // flight) holds the lock; IMMEDIATE waits for it (busy_timeout).
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx { tx, _guard: guard })
    }

    /// Runs one statement in its own write transaction; returns the rows
    /// it affected.
    pub(crate) async fn write_one(&self, sql: &crate::list::Sql) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let n = sql.query().execute(tx.conn()).await?.rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// Runs one statement that returns at most one row (`… RETURNING`) in
    /// its own write transaction.
    pub(crate) async fn write_fetch(
        &self,
        sql: &crate::list::Sql,
    ) -> Result<Option<sqlx::any::AnyRow>, StoreError> {
        let mut tx = self.write().await?;
        let row = sql.query().fetch_optional(tx.conn()).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Serialises appends to the audit chain inside `tx` (PostgreSQL: a
    /// transaction-scoped advisory lock; SQLite's single writer already
    /// does).
    pub(crate) async fn lock_audit_chain(&self, tx: &mut WriteTx<'_>) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7243520)")
                .execute(tx.conn())
                .await?;
        }
        Ok(())
    }

    /// `FOR UPDATE` where the backend has row locks (SQLite's single writer
    /// already serialises the transaction).
    pub fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The SQLite settings in force on a pooled connection (journal_mode,
    /// synchronous, foreign_keys, secure_delete), for checks and tests.
    /// Empty on PostgreSQL.
    pub async fn sqlite_settings(&self) -> Result<Vec<(&'static str, i64)>, StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.acquire().await?;
        let mut out = Vec::new();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await?;
        out.push((
            "journal_mode_wal",
            i64::from(mode.eq_ignore_ascii_case("wal")),
        ));
        for p in ["synchronous", "foreign_keys", "secure_delete"] {
            let v: i64 = sqlx::query_scalar(&format!("PRAGMA {p}"))
                .fetch_one(&mut *conn)
                .await?;
            out.push((p, v));
        }
        Ok(out)
    }

    /// A cheap liveness check.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
