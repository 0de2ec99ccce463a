//! Connections and the few places where SQLite and PostgreSQL differ.

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::marker::PhantomData;

use paylink_domain::catalog::RuleError;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Connection, Executor, Row};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::StoreError;
use crate::sql::{Sql, Update};
use crate::Scope;

/// How long a request waits for a database connection before it is
/// answered 503 (an outage, or more load than the pool serves).
pub const POOL_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// PostgreSQL advisory lock keys.
const MIGRATIONS_LOCK: i64 = 7_243_519;
const AUDIT_CHAIN_LOCK: i64 = 7_243_520;

/// One kind of object as stored: its table, the columns it is loaded
/// from, and the condition a row meets while the object exists (`""`, or
/// `" AND deleted = 0"`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Table {
    pub name: &'static str,
    pub cols: &'static str,
    pub live: &'static str,
}

impl Table {
    /// `name`, loaded from `cols`; every row is a live object.
    pub(crate) const fn new(name: &'static str, cols: &'static str) -> Self {
        Table {
            name,
            cols,
            live: "",
        }
    }
    /// Only rows whose `deleted` flag is clear are objects.
    pub(crate) const fn soft_deleted(self) -> Self {
        Table {
            live: " AND deleted = 0",
            ..self
        }
    }
}

/// The database alone: its pool, its dialect and SQLite's writer slot. It
/// migrates and runs statements; it can't seal or open personal data, which
/// only a [`crate::Store`] (this database with its vault,
/// `Database::with_vault`) can.
#[derive(Clone)]
pub struct Database {
    pub(crate) pool: AnyPool,
    /// SQLite: the one connection [`Database::write_carried`]'s
    /// transactions run on, kept at `synchronous = NORMAL` for good (the
    /// pool's are all FULL): no setting is switched back and forth around
    /// each of them, two statements fewer each.
    carried: Option<AnyPool>,
    backend: Backend,
    /// SQLite allows one writer: this process's writers queue here (and
    /// begin IMMEDIATE, waiting for writers in other processes) while reads
    /// go on (WAL). PostgreSQL relies on row locks instead.
    write_lock: Option<Arc<Mutex<()>>>,
    /// Counts the committed changes, in this process, to what public
    /// checkout pages show (see [`Database::pages_version`]).
    pages: Arc<AtomicU64>,
    /// Woken when deliveries are queued in this process (the webhook
    /// worker also polls, for those queued by other instances).
    outbox: Arc<tokio::sync::Notify>,
}

/// A write transaction (holding SQLite's writer slot while it lives).
///
/// It is safe to drop at any point, including when the future that owns
/// it is cancelled mid-statement (a client that hangs up): the connection
/// is then rolled back on a task of its own before it goes back to the
/// pool, and SQLite's writer slot is freed only after that rollback, so a
/// cancelled request can never leave a transaction open (reliability
/// finding F1). BEGIN, COMMIT and ROLLBACK are plain statements on a pooled
/// connection, not sqlx's transaction depth counter, which a cancelled
/// `begin` could leave out of step with the connection (sqlx #3932).
pub struct WriteTx<'a> {
    conn: Option<PoolConnection<Any>>,
    guard: Option<OwnedMutexGuard<()>>,
    /// COMMIT succeeded: the connection goes back to the pool as it is.
    finished: bool,
    /// Whether committing marks the current request's idempotency claim
    /// (housekeeping such as creating a data key does not).
    claims: bool,
    /// Woken once COMMIT succeeds (deliveries were queued).
    wake: Option<Arc<tokio::sync::Notify>>,
    _db: PhantomData<&'a Database>,
}

impl WriteTx<'_> {
    /// Commits. Inside a request that holds an idempotency claim, the
    /// claim is marked as having done work in the same transaction (see
    /// [`crate::idempotency::Ticket`]); if the claim was taken over, the
    /// work is rolled back instead.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        if self.claims {
            crate::idempotency::mark_committed(self.conn()).await?;
        }
        self.conn().execute("COMMIT").await?;
        self.finished = true;
        if let Some(w) = self.wake.take() {
            w.notify_one();
        }
        if self.claims {
            crate::idempotency::committed_ok();
        }
        Ok(())
    }

    /// Wakes `who` once this transaction has committed.
    pub(crate) fn wake_after_commit(&mut self, who: Arc<tokio::sync::Notify>) {
        self.wake = Some(who);
    }

    #[allow(clippy::expect_used)] // reason: `conn` is None only inside Drop
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        self.conn
            .as_deref_mut()
            .expect("a write transaction's connection is present until it is dropped")
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        let (Some(conn), guard) = (self.conn.take(), self.guard.take()) else {
            return;
        };
        if self.finished {
            return; // the connection goes back to the pool, then the guard
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(rollback(conn, guard));
            }
            // No runtime left (shutting down): never hand the connection
            // back with a transaction open.
            Err(_) => drop(conn.detach()),
        }
    }
}

/// SQLite's "database is locked" (SQLITE_BUSY and its extended codes).
fn is_sqlite_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d
            .code()
            .and_then(|c| c.parse::<i64>().ok())
            .is_some_and(|c| c & 0xff == 5),
        _ => false,
    }
}

/// Rolls back an abandoned transaction; a connection that can't be rolled
/// back (its COMMIT or BEGIN failed half-way, the disk was full, the
/// server went away) is closed, never returned to the pool. The SQLite
/// writer slot is released last.
async fn rollback(mut conn: PoolConnection<Any>, guard: Option<OwnedMutexGuard<()>>) {
    if let Err(e) = conn.execute("ROLLBACK").await {
        tracing::debug!(error = %e, "rollback failed; closing the connection");
        let _ = conn.detach().close().await;
    }
    drop(guard);
}

/// What one statement answered: the rows it affected, or the first row it
/// returned.
enum Single {
    Affected(u64),
    Row(Option<AnyRow>),
}

impl Single {
    /// Runs `sql` on `conn`: for its rows when `fetch`, every one stepped,
    /// so that the statement (and, alone, its commit) is complete before
    /// the answer.
    async fn run(
        conn: &mut sqlx::AnyConnection,
        sql: &Sql,
        fetch: bool,
    ) -> Result<Self, sqlx::Error> {
        if fetch {
            let rows = sql.query().fetch_all(conn).await?;
            Ok(Single::Row(rows.into_iter().next()))
        } else {
            Ok(Single::Affected(
                sql.query().execute(conn).await?.rows_affected(),
            ))
        }
    }

    fn affected(self) -> Result<u64, StoreError> {
        match self {
            Single::Affected(n) => Ok(n),
            Single::Row(_) => Err(StoreError::Corrupt("a statement answered rows".into())),
        }
    }

    fn row(self) -> Option<AnyRow> {
        match self {
            Single::Row(r) => r,
            Single::Affected(_) => None,
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Database({:?})", self.backend)
    }
}

/// A SQLite pool of `max` connections with paylink's settings (WAL,
/// foreign keys, secure delete) and `synchronous` as given.
fn sqlite_pool(max: u32, min: u32, synchronous: &'static str) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(min)
        .acquire_timeout(POOL_WAIT)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute(synchronous).await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                conn.execute("PRAGMA secure_delete = ON").await?;
                Ok(())
            })
        })
}

impl Database {
    /// Opens (creating if needed) the SQLite database at `path` with WAL,
    /// `synchronous=FULL`, `foreign_keys=ON` and `secure_delete=ON`.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let opts = AnyConnectOptions::from_str(&url)?;
        let pool = sqlite_pool(8, 1, "PRAGMA synchronous = FULL")
            .connect_with(opts.clone())
            .await?;
        // Its commits are flushed by the next FULL one (WAL is one file,
        // appended in order); see `write_carried`.
        let carried = sqlite_pool(1, 0, "PRAGMA synchronous = NORMAL")
            .connect_with(opts)
            .await?;
        Ok(Self {
            pool,
            carried: Some(carried),
            backend: Backend::Sqlite,
            write_lock: Some(Arc::new(Mutex::new(()))),
            pages: Arc::default(),
            outbox: Arc::default(),
        })
    }

    /// Connects to PostgreSQL at `url` (`postgres://…`).
    pub async fn open_postgres(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let opts = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(POOL_WAIT)
            .connect_with(opts)
            .await?;
        Ok(Self {
            pool,
            carried: None,
            backend: Backend::Postgres,
            write_lock: None,
            pages: Arc::default(),
            outbox: Arc::default(),
        })
    }

    /// A number that changes whenever this process commits a change to
    /// what a public checkout page shows: a link, its prices and products,
    /// a product's image, the account's page settings, a completion that
    /// uses up a link. A cache of page data read at version `v` is current
    /// while this is still `v` (changes made by other instances are not
    /// counted here: a cache bounds their staleness with its lifetime).
    pub fn pages_version(&self) -> u64 {
        self.pages.load(Ordering::Acquire)
    }

    /// Records a committed change to what public pages show.
    pub(crate) fn pages_changed(&self) {
        self.pages.fetch_add(1, Ordering::AcqRel);
    }

    /// What wakes this process's webhook worker when deliveries are
    /// queued here (once their transaction commits).
    pub fn outbox_signal(&self) -> Arc<tokio::sync::Notify> {
        self.outbox.clone()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a write transaction.
    ///
    /// The wait for the writer slot, the connection and BEGIN run on a task
    /// of their own: if the caller is cancelled meanwhile, the task still
    /// finishes and the transaction it made is dropped, so rolled back.
    pub async fn write(&self) -> Result<WriteTx<'_>, StoreError> {
        self.begin(true, false).await
    }

    /// A write transaction that is housekeeping, not a request's work: its
    /// commit does not mark an idempotency claim as committed.
    pub(crate) async fn write_unclaimed(&self) -> Result<WriteTx<'_>, StoreError> {
        self.begin(false, false).await
    }

    /// A write transaction whose COMMIT is not flushed to disk by itself:
    /// the next flushed commit carries it (SQLite's WAL and PostgreSQL's
    /// WAL are each one sequence: flushing a later commit flushes every
    /// earlier one). Atomic and isolated like any other; after a crash of
    /// the process it is there; only a power loss before the next flushed
    /// commit can lose it.
    ///
    /// Only for bookkeeping that nothing acknowledged depends on alone:
    /// the idempotency claim (a lost claim belongs to a request that
    /// committed nothing yet, whose retry simply runs) and its stored
    /// response (a lost response leaves the claim marked committed by the
    /// request's own, flushed, transaction, and the retry is answered with
    /// the object it made, see [`crate::idempotency::Claim::Recover`]).
    /// Every object a request creates or changes is committed with a flush.
    pub(crate) async fn write_carried(&self) -> Result<WriteTx<'_>, StoreError> {
        self.begin(false, true).await
    }

    async fn begin(&self, claims: bool, carried: bool) -> Result<WriteTx<'_>, StoreError> {
        let pool = match (&self.carried, carried) {
            (Some(relaxed), true) => relaxed.clone(),
            _ => self.pool.clone(),
        };
        let lock = self.write_lock.clone();
        // SQLite: take the write lock at BEGIN. A deferred transaction that
        // reads and then writes gets SQLITE_BUSY at once, without waiting,
        // when another connection (another process, or a rollback still in
        // flight) holds the lock; IMMEDIATE waits for it (busy_timeout).
        let begin = match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        // SQLite sets durability per connection (the carried one is NORMAL
        // for good); PostgreSQL per transaction (`SET LOCAL` ends with it).
        let local = carried && self.backend == Backend::Postgres;
        let started = tokio::spawn(async move {
            let guard = match lock {
                Some(m) => Some(m.lock_owned().await),
                None => None,
            };
            let conn = pool.acquire().await?;
            let mut tx = WriteTx {
                conn: Some(conn),
                guard,
                finished: false,
                claims,
                wake: None,
                _db: PhantomData,
            };
            // Another process (the CLI beside a server) can hold SQLite's
            // write lock past busy_timeout when the machine is starved:
            // BEGIN is tried again twice before giving up, and the wait is
            // logged, so a holder that long is seen.
            let waited = std::time::Instant::now();
            let mut tries = 0;
            loop {
                match tx.conn().execute(begin).await {
                    Ok(_) => break,
                    Err(e) if tries < 2 && is_sqlite_busy(&e) => {
                        tries += 1;
                        tracing::warn!(
                            waited_ms =
                                u64::try_from(waited.elapsed().as_millis()).unwrap_or(u64::MAX),
                            "SQLite's write lock is held by another connection; waiting again"
                        );
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if local {
                tx.conn()
                    .execute("SET LOCAL synchronous_commit = off")
                    .await?;
            }
            Ok::<_, StoreError>(tx)
        });
        started
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))?
    }

    /// Runs one statement as a transaction of its own; returns the rows it
    /// affected. Flushed to disk when it commits, like [`Database::write`].
    pub(crate) async fn write_one(&self, sql: &Sql) -> Result<u64, StoreError> {
        self.one_statement(sql, false, false).await?.affected()
    }

    /// [`Database::write_one`] for bookkeeping the next flushed commit
    /// carries to disk (see [`Database::write_carried`]); never marks a
    /// claim.
    pub(crate) async fn write_one_carried(&self, sql: &Sql) -> Result<u64, StoreError> {
        self.one_statement(sql, true, false).await?.affected()
    }

    /// Runs one statement that returns at most one row (`… RETURNING`) as
    /// a transaction of its own, flushed when it commits.
    pub(crate) async fn write_fetch(
        &self,
        sql: &Sql,
    ) -> Result<Option<sqlx::any::AnyRow>, StoreError> {
        Ok(self.one_statement(sql, false, true).await?.row())
    }

    /// One statement, alone ([`Database::single`]) where it can be, else in
    /// a transaction of its own:
    /// - a flushed write inside a request holding an idempotency claim,
    ///   whose commit must mark the claim in the same transaction (BEGIN,
    ///   the statement, the mark, COMMIT);
    /// - a carried write on PostgreSQL: unflushed needs `SET LOCAL`, so a
    ///   transaction (BEGIN, SET LOCAL, the statement and COMMIT cost less
    ///   than the wait for a flush, see `single`).
    async fn one_statement(
        &self,
        sql: &Sql,
        carried: bool,
        fetch: bool,
    ) -> Result<Single, StoreError> {
        let in_tx = if carried {
            self.backend == Backend::Postgres
        } else {
            crate::idempotency::holds_claim()
        };
        if !in_tx {
            return self.single(sql, carried, fetch).await;
        }
        // Carried bookkeeping never marks a claim; a flushed write does.
        let mut tx = self.begin(!carried, carried).await?;
        let out = Single::run(tx.conn(), sql, fetch).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// One statement outside any explicit transaction: SQLite and
    /// PostgreSQL commit it on its own (autocommit), atomically, in one
    /// round trip where BEGIN, the statement and COMMIT take three (four
    /// with PostgreSQL's `SET LOCAL`). SQLite: it holds this process's
    /// writer slot as a transaction does, and runs on the carried
    /// connection (`synchronous = NORMAL`) when `carried`, on a FULL one
    /// otherwise. PostgreSQL: every such commit is flushed (a session-wide
    /// `synchronous_commit = off` would leak to other clients through a
    /// transaction-pooling pgbouncer), so carried writes don't come here.
    ///
    /// Like [`Database::begin`] it runs on a task of its own: a caller
    /// cancelled meanwhile can't release the writer slot while the
    /// statement still runs. A statement that must read the rows to
    /// change them (SQLite begins it as a reader) and meets another
    /// process's write is tried again, as BEGIN is.
    async fn single(&self, sql: &Sql, carried: bool, fetch: bool) -> Result<Single, StoreError> {
        let pool = match (&self.carried, carried) {
            (Some(relaxed), true) => relaxed.clone(),
            _ => self.pool.clone(),
        };
        let lock = self.write_lock.clone();
        let sql = sql.clone();
        let run = tokio::spawn(async move {
            let guard = match lock {
                Some(m) => Some(m.lock_owned().await),
                None => None,
            };
            let mut conn = pool.acquire().await?;
            let mut tries = 0;
            let out = loop {
                match Single::run(&mut conn, &sql, fetch).await {
                    Err(e) if tries < 2 && is_sqlite_busy(&e) => {
                        tries += 1;
                        tracing::warn!("SQLite's write lock is held by another connection; trying the statement again");
                    }
                    r => break r,
                }
            };
            drop(conn);
            drop(guard);
            Ok::<_, StoreError>(out?)
        });
        run.await
            .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))?
    }

    /// Leaves no copy of rows deleted from `table` in the database's
    /// files: on SQLite (with `secure_delete`, which overwrites a deleted
    /// row's bytes) the WAL is checkpointed and truncated; on PostgreSQL the
    /// table is rewritten (`VACUUM FULL`), dropping its dead tuples.
    pub(crate) async fn wipe_deleted(&self, table: &'static str) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => {
                // Readers can hold the checkpoint back for a moment, and
                // another process's checkpoint (a server's automatic one,
                // beside this CLI) answers "database is locked" meanwhile:
                // retry both.
                let mut done = false;
                for _ in 0..100 {
                    match sqlx::query_scalar::<_, i64>("PRAGMA wal_checkpoint(TRUNCATE)")
                        .fetch_one(&self.pool)
                        .await
                    {
                        Ok(0) => {
                            done = true;
                            break;
                        }
                        Ok(_) => {}
                        Err(e) if is_sqlite_busy(&e) => {}
                        Err(e) => return Err(e.into()),
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                if !done {
                    tracing::warn!(table, "the WAL could not be checkpointed yet; deleted rows leave it at the next checkpoint");
                }
            }
            Backend::Postgres => {
                sqlx::query(&format!("VACUUM FULL {table}"))
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Serialises appends to the audit chain inside `tx`.
    pub(crate) async fn lock_audit_chain(&self, tx: &mut WriteTx<'_>) -> Result<(), StoreError> {
        self.serialize(tx, AUDIT_CHAIN_LOCK).await
    }

    /// Serialises migrations inside `tx` (instances starting together).
    pub(crate) async fn lock_migrations(&self, tx: &mut WriteTx<'_>) -> Result<(), StoreError> {
        self.serialize(tx, MIGRATIONS_LOCK).await
    }

    /// Holds `lock` until `tx` ends: on PostgreSQL a transaction-scoped
    /// advisory lock; SQLite's single writer already serialises writers.
    async fn serialize(&self, tx: &mut WriteTx<'_>, lock: i64) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(lock)
                .execute(tx.conn())
                .await?;
        }
        Ok(())
    }

    /// `SELECT {cols} FROM {table} WHERE <scope> AND id = … {live}`, locked
    /// until the write transaction it runs in ends: `FOR UPDATE` where the
    /// backend has row locks (SQLite's single writer already serialises the
    /// transaction).
    pub(crate) fn select_one_for_update(&self, t: &Table, scope: &Scope, id: &str) -> Sql {
        let mut sel = Sql::select_one(t.cols, t.name, scope, id);
        sel.push(t.live);
        if self.backend == Backend::Postgres {
            sel.push(" FOR UPDATE");
        }
        sel
    }

    /// Lock, load, mutate, save, in one transaction: the object `id` of
    /// `scope` is locked and read (`load`), `change` may change it or refuse
    /// with a rule, and the columns `save` names are written back.
    pub(crate) async fn modify<T>(
        &self,
        t: &Table,
        scope: &Scope,
        id: &str,
        load: impl FnOnce(&AnyRow) -> Result<T, StoreError>,
        change: impl FnOnce(&mut T) -> Result<(), RuleError>,
        save: impl FnOnce(&T) -> Result<Update, StoreError>,
    ) -> Result<T, StoreError> {
        let mut tx = self.write().await?;
        let row = self
            .select_one_for_update(t, scope, id)
            .fetch_row(tx.conn())
            .await?;
        let mut v = load(&row)?;
        change(&mut v)?;
        save(&v)?.one(scope, id).query().execute(tx.conn()).await?;
        tx.commit().await?;
        Ok(v)
    }

    pub async fn close(&self) {
        if let Some(c) = &self.carried {
            c.close().await;
        }
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

    /// How every idle connection of the pool flushes commits, read from
    /// all of them held at once: SQLite `synchronous=2` (FULL),
    /// PostgreSQL `synchronous_commit=on` where nothing weakened them. A
    /// check that [`Database::write_carried`] left no connection relaxed.
    pub async fn commit_flush_settings(&self) -> Result<Vec<String>, StoreError> {
        // Every idle connection, held at once (one in use elsewhere is
        // checked when it is back; none at all: one is opened).
        let mut held = Vec::new();
        while let Some(conn) = self.pool.try_acquire() {
            held.push(conn);
        }
        if held.is_empty() {
            held.push(self.pool.acquire().await?);
        }
        let mut out = Vec::new();
        for conn in &mut held {
            out.push(match self.backend {
                Backend::Sqlite => {
                    // Unprepared each time (a plain string): SQLite reads
                    // the setting when it prepares the statement, so a
                    // cached statement would repeat its first answer.
                    let row = (&mut **conn).fetch_one("PRAGMA synchronous").await?;
                    let v: i64 = sqlx::Row::try_get(&row, 0)?;
                    format!("synchronous={v}")
                }
                Backend::Postgres => {
                    let v: String = sqlx::query_scalar("SHOW synchronous_commit")
                        .fetch_one(&mut **conn)
                        .await?;
                    format!("synchronous_commit={v}")
                }
            });
        }
        Ok(out)
    }

    /// A cheap liveness check.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Whether a write could be made now: a read, then a write transaction
    /// begun and rolled back (on SQLite this takes the writer slot, so a
    /// wedged writer shows here).
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.ping().await?;
        let tx = self.write().await?;
        drop(tx);
        Ok(())
    }

    /// Keeps the planner's statistics fresh: `PRAGMA optimize` on SQLite
    /// (it analyses only the tables whose statistics are stale) and, on
    /// PostgreSQL, `ANALYZE` of paylink's own tables (those of its schema:
    /// sampled, so cheap; it matters where autovacuum is off or lags
    /// behind a bulk load). A bare `ANALYZE` would read every table of the
    /// database, other applications' and other schemas' too: with a few
    /// hundred schemas, each start of an instance kept a core busy for
    /// minutes after it. Run at start and by the background pass.
    pub async fn refresh_statistics(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        match self.backend {
            Backend::Sqlite => {
                conn.execute("PRAGMA optimize=0x10002").await?;
            }
            Backend::Postgres => {
                let rows = sqlx::query(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
                )
                .fetch_all(&mut *conn)
                .await?;
                let mut tables = Vec::with_capacity(rows.len());
                for r in &rows {
                    let t: String = r.try_get(0)?;
                    tables.push(format!("\"{}\"", t.replace('"', "\"\"")));
                }
                if !tables.is_empty() {
                    conn.execute(format!("ANALYZE {}", tables.join(", ")).as_str())
                        .await?;
                }
            }
        }
        Ok(())
    }
}
