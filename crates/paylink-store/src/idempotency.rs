//! Idempotency records: the first response to a POST with an
//! `Idempotency-Key`, replayed byte for byte to retries within 24 hours.
//!
//! A response may hold a buyer's personal data (stripe-python sends a key
//! on every POST), so it is kept sealed under the account's data key, like
//! every other personal field, and redaction replaces the responses that
//! mention the erased customer (see [`Store::erase_idempotent_mentions`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::Row;

use crate::error::StoreError;
use crate::sql::{Insert, Sql};
use crate::store::Store;
use crate::Scope;

/// How long a record is honoured and kept.
pub const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

/// How long a claim is held, by default, before a retry may take it over.
/// It outlasts the request deadline (60 s). A shorter lease is safe too: a
/// request still running past it can't commit, because the claim it holds
/// is checked in its own transaction.
pub const LEASE_SECS: i64 = 65;

/// The outcome of claiming a key.
#[derive(Debug)]
pub enum Claim {
    /// The key is new (or its last holder died with nothing committed):
    /// run the request inside [`Ticket::run`], then finish or release.
    Fresh(Ticket),
    /// The same request finished before: replay this response.
    Replay { status: u16, body: Vec<u8> },
    /// The same key is still being processed by another request.
    InFlight,
    /// The key was used with different parameters.
    Mismatch,
    /// The same request committed its work but died before its response
    /// was stored: answer with the object at `path` (the one it made, if
    /// it named one), then finish with that answer. Never run it again.
    Recover {
        path: Option<String>,
        ticket: Ticket,
    },
}

/// A claim on a key held by one request: its token, and what the
/// request's transactions recorded under it.
#[derive(Clone)]
pub struct Ticket {
    inner: Arc<TicketInner>,
}

struct TicketInner {
    scope: Scope,
    key: String,
    claim: String,
    /// The request's own path: the object it makes is found below it.
    under: String,
    created: Mutex<Option<String>>,
    committed: AtomicBool,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ticket({})", self.inner.key)
    }
}

tokio::task_local! {
    static TICKET: Ticket;
}

/// Whether the request being served holds an idempotency claim (its
/// commits then mark it, see [`mark_committed`]).
pub(crate) fn holds_claim() -> bool {
    TICKET.try_with(|_| ()).is_ok()
}

/// The Idempotency-Key of the request being served, if it sent one.
pub fn current_key() -> Option<String> {
    TICKET.try_with(|t| t.inner.key.clone()).ok()
}

impl Ticket {
    fn new(scope: &Scope, key: &str, under: &str) -> Result<Self, StoreError> {
        let claim = paylink_domain::id::random_bytes::<16>()
            .map_err(|_| StoreError::Corrupt("no randomness for a claim token".into()))?;
        Ok(Self {
            inner: Arc::new(TicketInner {
                scope: scope.clone(),
                key: key.to_string(),
                claim: claim.iter().map(|b| format!("{b:02x}")).collect(),
                under: format!("{}/", under.trim_end_matches('/')),
                created: Mutex::new(None),
                committed: AtomicBool::new(false),
            }),
        })
    }

    /// Runs `f` (the request's work) under this claim: every write
    /// transaction it commits marks the claim as committed in that same
    /// transaction.
    pub async fn run<F: std::future::Future>(&self, f: F) -> F::Output {
        TICKET.scope(self.clone(), f).await
    }

    /// Whether any of the request's transactions committed.
    pub fn committed(&self) -> bool {
        self.inner.committed.load(Ordering::SeqCst)
    }
}

impl TicketInner {
    /// `<scope> AND idem_key = … AND claim = …`: this key's row, only
    /// while this request still holds its claim.
    fn this_claim<'s>(&self, sql: &'s mut Sql) -> &'s mut Sql {
        sql.scope(&self.scope)
            .push(" AND idem_key = ")
            .bind(self.key.as_str())
            .push(" AND claim = ")
            .bind(self.claim.as_str())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Notes the API path of an object the current request made
/// (`/v1/products/prod_…`): a retry after a crash answers with it. Only an
/// object below the request's own path counts (`POST /v1/payment_links`
/// makes `/v1/payment_links/plink_…`, whatever product or price it made on
/// the way). Does nothing outside an idempotent request.
pub fn note_created(path: &str) {
    let _ = TICKET.try_with(|t| {
        if path.starts_with(&t.inner.under) {
            *lock(&t.inner.created) = Some(path.to_string());
        }
    });
}

/// Inside a write transaction about to commit: marks the current request's
/// claim as committed (with the object it made), or fails with
/// [`StoreError::ClaimLost`] when a retry took the claim over.
pub(crate) async fn mark_committed(conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
    let Ok(t) = TICKET.try_with(Clone::clone) else {
        return Ok(());
    };
    let created = lock(&t.inner.created).clone();
    let mut sql =
        Sql::new("UPDATE idempotency_keys SET committed = 1, recovery = COALESCE(recovery, ");
    sql.bind(created).push(") WHERE ");
    t.inner
        .this_claim(&mut sql)
        .push(" AND state = 'in_flight'");
    if sql.query().execute(conn).await?.rows_affected() != 1 {
        return Err(StoreError::ClaimLost);
    }
    Ok(())
}

/// After a COMMIT that [`mark_committed`] prepared.
pub(crate) fn committed_ok() {
    let _ = TICKET.try_with(|t| t.inner.committed.store(true, Ordering::SeqCst));
}

/// Where a stored response is sealed (the row's key columns, as key
/// rotation finds them).
fn body_place(scope: &Scope, key: &str) -> String {
    format!(
        "idempotency_keys.sealed_body:{}:{}:{key}",
        scope.account_id,
        scope.livemode_i64()
    )
}

/// What a retry gets after the stored response was erased with the
/// customer it named: an error, never the work done a second time.
const ERASED: &str = r#"{"error":{"type":"idempotency_error","code":"idempotency_key_in_use","message":"The response stored for this idempotency key named personal data that has since been erased, so it can't be replayed. The request was not run again."}}"#;

/// How a customer's values (`needles`, each of 3 characters or more) may
/// appear in stored JSON: as written, and as JSON escapes them inside a
/// string.
pub(crate) fn mention_spellings(needles: &[String]) -> Vec<String> {
    let mut spellings: Vec<String> = Vec::new();
    for n in needles.iter().filter(|n| n.len() >= 3) {
        spellings.push(n.clone());
        if let Some(q) = serde_json::to_string(n)
            .ok()
            .and_then(|q| q.get(1..q.len().saturating_sub(1)).map(str::to_string))
            .filter(|q| q != n)
        {
            spellings.push(q);
        }
    }
    spellings
}

impl Store {
    /// Replaces every stored response of `account_id` (both modes) that
    /// contains one of `needles` (a customer's id, email, name, phone) by
    /// an [`ERASED`] error, sealed like the rest. Returns how many.
    pub async fn erase_idempotent_mentions(
        &self,
        account_id: &str,
        needles: &[String],
    ) -> Result<u64, StoreError> {
        let spellings = mention_spellings(needles);
        if spellings.is_empty() {
            return Ok(0);
        }
        let k = self.field_key(account_id).await?;
        let mut sel = Sql::new(
            "SELECT livemode, idem_key, sealed_body FROM idempotency_keys WHERE account_id = ",
        );
        sel.bind(account_id).push(" AND sealed_body IS NOT NULL");
        let rows = sel.query().fetch_all(&self.pool).await?;
        let mut erased = 0;
        for r in rows {
            let scope = Scope {
                account_id: account_id.to_string(),
                livemode: crate::sql::get_bool(&r, "livemode")?,
            };
            let key: String = r.try_get("idem_key")?;
            let sealed: String = r.try_get("sealed_body")?;
            let place = body_place(&scope, &key);
            let plain = k.open(&place, &sealed)?;
            if !spellings.iter().any(|n| plain.contains(n.as_str())) {
                continue;
            }
            let tomb = k.seal(&place, ERASED)?;
            let mut up = Sql::new("UPDATE idempotency_keys SET status = 400, sealed_body = ");
            up.bind(tomb)
                .push(" WHERE ")
                .scope(&scope)
                .push(" AND idem_key = ")
                .bind(key.as_str());
            erased += self.write_one(&up).await?;
        }
        Ok(erased)
    }

    /// Claims `key` for a request whose fingerprint is `request_hash`.
    /// Records older than the TTL are treated as absent and replaced; an
    /// in-flight claim whose lease ran out is taken over (see [`Claim`]).
    // Long: one transaction deciding among a claim's outcomes (new, replay,
    // mismatch, in flight, lease taken over); the cases are best read side by
    // side.
    pub async fn claim_idempotency(
        &self,
        scope: &Scope,
        key: &str,
        request_path: &str,
        request_hash: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<Claim, StoreError> {
        let ticket = Ticket::new(scope, key, request_path)?;
        let ins = Insert::new("idempotency_keys")
            .set("account_id", scope.account_id.as_str())
            .set("livemode", scope.livemode)
            .set("idem_key", key)
            .set("request_hash", request_hash)
            .set("state", "in_flight")
            .set("created", now)
            .set("claim", ticket.inner.claim.as_str())
            .set("lease_until", now + lease_secs)
            .or_skip()
            .sql();
        // A key new to the account (the usual case) is claimed by this one
        // statement. The claim is bookkeeping the request's own (flushed)
        // commit carries to disk; until then a power loss can only lose a
        // claim whose request committed nothing, and whose retry then runs.
        if self.write_one_carried(&ins).await? == 1 {
            return Ok(Claim::Fresh(ticket));
        }
        // The key is known: a row past its 24 hours is forgotten and the
        // key claimed anew, or the row decides (in flight, replay, a
        // mismatch, a takeover), in one transaction.
        let mut tx = self.write_carried().await?;
        let mut del = Sql::new("DELETE FROM idempotency_keys WHERE ");
        del.scope(scope)
            .push(" AND idem_key = ")
            .bind(key)
            .push(" AND created <= ")
            .bind(now - IDEMPOTENCY_TTL_SECS);
        del.query().execute(tx.conn()).await?;
        if ins.query().execute(tx.conn()).await?.rows_affected() == 1 {
            tx.commit().await?;
            return Ok(Claim::Fresh(ticket));
        }
        let mut sel = Sql::new(
            "SELECT request_hash, state, status, sealed_body, claim, lease_until, committed, recovery FROM idempotency_keys WHERE ",
        );
        sel.scope(scope).push(" AND idem_key = ").bind(key);
        let row = sel.query().fetch_one(tx.conn()).await?;
        let state: String = row.try_get("state")?;
        let stored_hash: String = row.try_get("request_hash")?;
        let same = paylink_crypto::ct_eq(stored_hash.as_bytes(), request_hash.as_bytes());
        if state == "in_flight" {
            let lease: Option<i64> = row.try_get("lease_until")?;
            // A request still running holds the key whatever its parameters.
            if lease.unwrap_or(0) > now {
                return Ok(Claim::InFlight);
            }
            let committed = row.try_get::<i64, _>("committed")? != 0;
            if committed && !same {
                return Ok(Claim::Mismatch);
            }
            // The holder died. Take its claim over, if no other retry did.
            let old: Option<String> = row.try_get("claim")?;
            let recovery: Option<String> = row.try_get("recovery")?;
            let mut up = Sql::new("UPDATE idempotency_keys SET claim = ");
            up.bind(ticket.inner.claim.as_str())
                .push(", lease_until = ")
                .bind(now + lease_secs)
                .push(", request_hash = ")
                .bind(request_hash)
                .push(" WHERE ")
                .scope(scope)
                .push(" AND idem_key = ")
                .bind(key)
                .push(" AND state = 'in_flight' AND COALESCE(claim, '') = ")
                .bind(old.unwrap_or_default())
                // The holder may have committed since the read (PostgreSQL
                // runs this concurrently): then this is not a takeover.
                .push(" AND committed = ")
                .bind(i64::from(committed));
            if up.query().execute(tx.conn()).await?.rows_affected() != 1 {
                return Ok(Claim::InFlight);
            }
            tx.commit().await?;
            return Ok(if committed {
                Claim::Recover {
                    path: recovery,
                    ticket,
                }
            } else {
                Claim::Fresh(ticket)
            });
        }
        drop(tx);
        if !same {
            return Ok(Claim::Mismatch);
        }
        let status: i64 = row.try_get("status")?;
        let sealed: String = row.try_get("sealed_body")?;
        let body = self
            .field_key(&scope.account_id)
            .await?
            .open(&body_place(scope, key), &sealed)?
            .into_bytes();
        Ok(Claim::Replay {
            status: u16::try_from(status)
                .map_err(|_| StoreError::Corrupt("idempotency status".into()))?,
            body,
        })
    }

    /// Stores the response of a claimed key, sealed. Fails with
    /// [`StoreError::ClaimLost`] if the claim is no longer this one's.
    pub async fn finish_idempotency(
        &self,
        ticket: &Ticket,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let t = &ticket.inner;
        // Our responses are JSON; anything else is kept lossily as text.
        let text = String::from_utf8_lossy(body);
        let sealed = self
            .field_key(&t.scope.account_id)
            .await?
            .seal(&body_place(&t.scope, &t.key), &text)?;
        let mut sql = Sql::new("UPDATE idempotency_keys SET state = 'done', status = ");
        sql.bind(i64::from(status))
            .push(", body = NULL, sealed_body = ")
            .bind(sealed)
            .push(" WHERE ");
        t.this_claim(&mut sql);
        // Not flushed by itself: lost in a power loss, the claim is still
        // marked committed (with the object made) by the request's own
        // flushed transaction, and a retry is answered with that object.
        if self.write_one_carried(&sql).await? != 1 {
            return Err(StoreError::ClaimLost);
        }
        Ok(())
    }

    /// Ends a claim's lease now: its request committed part of its work
    /// and then failed with a server error, so a retry must not replay that
    /// error for 24 hours but recover the object (see [`Claim::Recover`]).
    pub async fn expire_idempotency(&self, ticket: &Ticket) -> Result<(), StoreError> {
        let t = &ticket.inner;
        let mut sql = Sql::new("UPDATE idempotency_keys SET lease_until = 0 WHERE ");
        t.this_claim(&mut sql).push(" AND state = 'in_flight'");
        // Lost in a power loss, the lease simply runs out.
        self.write_one_carried(&sql).await?;
        Ok(())
    }

    /// Forgets a claimed key whose request committed nothing (it failed
    /// before doing anything worth replaying), so a retry runs again.
    pub async fn release_idempotency(&self, ticket: &Ticket) -> Result<(), StoreError> {
        let t = &ticket.inner;
        let mut sql = Sql::new("DELETE FROM idempotency_keys WHERE ");
        t.this_claim(&mut sql)
            .push(" AND state = 'in_flight' AND committed = 0");
        // Lost in a power loss, the claim's lease runs out and a retry runs.
        self.write_one_carried(&sql).await?;
        Ok(())
    }

    /// Deletes records older than the TTL. Returns how many went.
    pub async fn purge_idempotency(&self, now: i64) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let mut sql = Sql::new("DELETE FROM idempotency_keys WHERE created <= ");
        sql.bind(now - IDEMPOTENCY_TTL_SECS);
        let n = sql.query().execute(tx.conn()).await?.rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// How many records are older than the TTL (due for purge).
    pub async fn idempotency_due(&self, now: i64) -> Result<i64, StoreError> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM idempotency_keys WHERE created <= ");
        sql.bind(now - IDEMPOTENCY_TTL_SECS);
        Ok(sql
            .query()
            .fetch_one(&self.pool)
            .await?
            .try_get::<i64, _>(0)?)
    }
}
