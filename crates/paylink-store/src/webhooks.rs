//! Webhook endpoints and the outbox of their deliveries.
//!
//! An endpoint's signing secret is sealed under the account's data key;
//! while a secret is rolled the previous one stays (sealed) until its
//! expiry, and both sign. Each event gets one delivery row per endpoint
//! that listens to its type, written in the event's own transaction (the
//! outbox), so an event that is committed is delivered (at least once)
//! whatever happens to the process afterwards. Workers claim due rows
//! under a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several
//! instances never claim the same row), post them, and record every
//! attempt; what to do after a failure (when to try again, when to give
//! up) is the caller's policy (`paylink-jobs`).

use paylink_crypto::Secret;
use paylink_domain::catalog::{Metadata, RuleError};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{Backend, Table, WriteTx};
use crate::error::StoreError;
use crate::list::{ListQuery, Page};
use crate::sql::{get_bool, scope_of, Insert, Sql, Update};
use crate::store::Store;
use crate::Scope;

/// Endpoints an account may have in each mode (Stripe's limit).
pub const MAX_ENDPOINTS: i64 = 16;

/// The longest a rolled secret keeps signing beside its successor.
pub const MAX_PREVIOUS_SECRET_SECS: i64 = 86_400;

/// Characters of a receiver's answer kept with an attempt.
pub const EXCERPT_CHARS: usize = 1_000;

/// A webhook endpoint as the API shows it (never its secret).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub livemode: bool,
    pub created: i64,
    pub url: String,
    pub description: Option<String>,
    /// Event types delivered (`*`: all).
    pub enabled_events: Vec<String>,
    pub api_version: Option<String>,
    pub metadata: Metadata,
    /// `enabled` or `disabled`.
    pub status: String,
    /// Why paylink disabled it (it failed for days), if it did.
    pub disabled_reason: Option<String>,
    /// Since when every delivery to it has failed, if they do.
    pub failing_since: Option<i64>,
    /// Until when a rolled secret still signs beside the current one.
    pub previous_secret_expires: Option<i64>,
}

impl WebhookEndpoint {
    pub fn enabled(&self) -> bool {
        self.status == "enabled"
    }
}

const COLS: &str = "id, livemode, created, url, description, enabled_events, api_version, metadata, status, disabled_reason, failing_since, previous_secret_expires";
const ENDPOINTS: Table = Table::new("webhook_endpoints", COLS).soft_deleted();

fn endpoint_of(row: &AnyRow) -> Result<WebhookEndpoint, StoreError> {
    let events: String = row.try_get("enabled_events")?;
    Ok(WebhookEndpoint {
        id: row.try_get("id")?,
        livemode: get_bool(row, "livemode")?,
        created: row.try_get("created")?,
        url: row.try_get("url")?,
        description: row.try_get("description")?,
        enabled_events: serde_json::from_str(&events)?,
        api_version: row.try_get("api_version")?,
        metadata: crate::catalog::metadata_of(row)?,
        status: row.try_get("status")?,
        disabled_reason: row.try_get("disabled_reason")?,
        failing_since: row.try_get("failing_since")?,
        previous_secret_expires: row.try_get("previous_secret_expires")?,
    })
}

fn secret_place(id: &str) -> String {
    format!("webhook_endpoints.secret:{id}")
}
fn previous_place(id: &str) -> String {
    format!("webhook_endpoints.previous_secret:{id}")
}

/// How many deliveries a claim may take (see [`Store::claim_deliveries`]).
#[derive(Debug, Clone, Copy)]
pub struct ClaimLimits {
    /// At most this many in this claim.
    pub batch: i64,
    /// In flight per endpoint while others wait.
    pub per_endpoint: i64,
    /// In flight per account while others wait.
    pub per_account: i64,
    /// In flight in all, when only capped endpoints have deliveries due.
    pub when_alone: i64,
}

/// What one worker has in flight, known to it exactly (the database's
/// leases of its rows stay until their outcomes are recorded, a little
/// later than the attempts end).
#[derive(Debug, Default, Clone)]
pub struct InFlight {
    pub per_endpoint: std::collections::HashMap<String, i64>,
    pub per_account: std::collections::HashMap<String, i64>,
    pub total: i64,
}

impl InFlight {
    /// `c` is under way.
    pub fn add(&mut self, c: &Claimed) {
        *self.per_endpoint.entry(c.endpoint_id.clone()).or_default() += 1;
        *self
            .per_account
            .entry(c.scope.account_id.clone())
            .or_default() += 1;
        self.total += 1;
    }

    /// `c` has ended.
    pub fn remove(&mut self, c: &Claimed) {
        for (map, key) in [
            (&mut self.per_endpoint, &c.endpoint_id),
            (&mut self.per_account, &c.scope.account_id),
        ] {
            if let Some(n) = map.get_mut(key) {
                *n -= 1;
                if *n <= 0 {
                    map.remove(key);
                }
            }
        }
        self.total = (self.total - 1).max(0);
    }
}

fn claimed_of(r: &AnyRow, token: &str) -> Result<Claimed, StoreError> {
    Ok(Claimed {
        seq: r.try_get("seq")?,
        scope: scope_of(r)?,
        endpoint_id: r.try_get("endpoint_id")?,
        event_id: r.try_get("event_id")?,
        attempts: r.try_get("attempts")?,
        created: r.try_get("created")?,
        token: token.to_string(),
    })
}

/// A delivery claimed by a worker, until `lease_until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub seq: i64,
    pub scope: Scope,
    pub endpoint_id: String,
    pub event_id: String,
    /// Attempts made before this one.
    pub attempts: i64,
    /// When the delivery was queued.
    pub created: i64,
    /// The claim's token: its outcome is recorded only while it holds.
    pub token: String,
}

/// What one attempt of a claimed delivery came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub claimed: Claimed,
    pub at: i64,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    pub latency_ms: i64,
    /// Why it failed before an answer (connection refused, timeout,
    /// refused address), or why it was not attempted.
    pub error: Option<String>,
    /// The start of the receiver's answer.
    pub excerpt: Option<String>,
    /// Succeeded (a 2xx).
    pub delivered: bool,
    /// After a failure: when to try again (`None`: give up).
    pub retry_at: Option<i64>,
    /// After a failure: an endpoint failing since before this is disabled.
    pub disable_if_failing_since: i64,
}

/// One recorded attempt, as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub event_id: String,
    pub created: i64,
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub excerpt: Option<String>,
}

/// A delivery as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: String,
    pub created: i64,
    pub state: String,
    pub attempts: i64,
    pub next_attempt: i64,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
}

fn status_of(v: Option<i64>) -> Option<u16> {
    v.and_then(|s| u16::try_from(s).ok())
}

impl Store {
    /// Creates `e` with signing secret `secret`; at most [`MAX_ENDPOINTS`]
    /// per account and mode (counted and written in one transaction).
    pub async fn create_webhook_endpoint(
        &self,
        scope: &Scope,
        e: &WebhookEndpoint,
        secret: &Secret<String>,
    ) -> Result<(), StoreError> {
        let key = self.field_key(&scope.account_id).await?;
        let sealed = key.seal(&secret_place(&e.id), secret.expose())?;
        let mut tx = self.write().await?;
        self.lock_account(&mut tx, &scope.account_id).await?;
        let mut count = Sql::new("SELECT COUNT(*) FROM webhook_endpoints WHERE ");
        count.scope(scope).push(" AND deleted = 0");
        let n: i64 = count.query().fetch_one(tx.conn()).await?.try_get(0)?;
        if n >= MAX_ENDPOINTS {
            return Err(StoreError::Rule(RuleError::new(
                "url",
                format!("An account may have at most {MAX_ENDPOINTS} webhook endpoints in each mode; delete one first."),
            )));
        }
        crate::idempotency::note_created(&format!("/v1/webhook_endpoints/{}", e.id));
        Insert::new("webhook_endpoints")
            .set("account_id", scope.account_id.as_str())
            .set("livemode", scope.livemode)
            .set("id", e.id.as_str())
            .set("created", e.created)
            .set("url", e.url.as_str())
            .set("description", e.description.clone())
            .set("enabled_events", serde_json::to_string(&e.enabled_events)?)
            .set("api_version", e.api_version.clone())
            .set("metadata", serde_json::to_string(&e.metadata)?)
            .set("status", e.status.as_str())
            .set("secret", sealed)
            .sql()
            .query()
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }

    /// On PostgreSQL, locks the account's row until `tx` ends, so that a
    /// count and the write it allows are one step (SQLite's single writer
    /// already is).
    async fn lock_account(&self, tx: &mut WriteTx<'_>, account_id: &str) -> Result<(), StoreError> {
        if self.backend() == Backend::Postgres {
            let mut sql = Sql::new("SELECT id FROM accounts WHERE id = ");
            sql.bind(account_id).push(" FOR UPDATE");
            sql.query().fetch_optional(tx.conn()).await?;
        }
        Ok(())
    }

    pub async fn get_webhook_endpoint(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<WebhookEndpoint, StoreError> {
        let mut sql = Sql::select_one(COLS, "webhook_endpoints", scope, id);
        sql.push(ENDPOINTS.live);
        endpoint_of(&sql.fetch_row(&self.pool).await?)
    }

    /// Changes an endpoint with `f`. Enabling it again clears the record
    /// of its failures.
    pub async fn update_webhook_endpoint(
        &self,
        scope: &Scope,
        id: &str,
        f: impl FnOnce(&mut WebhookEndpoint) -> Result<(), RuleError>,
    ) -> Result<WebhookEndpoint, StoreError> {
        self.modify(&ENDPOINTS, scope, id, endpoint_of, f, |e| {
            let (reason, failing) = if e.enabled() {
                (None, None)
            } else {
                (e.disabled_reason.clone(), e.failing_since)
            };
            Ok(Update::new("webhook_endpoints")
                .set("url", e.url.as_str())
                .set("description", e.description.clone())
                .set("enabled_events", serde_json::to_string(&e.enabled_events)?)
                .set("metadata", serde_json::to_string(&e.metadata)?)
                .set("status", e.status.as_str())
                .set("disabled_reason", reason)
                .set("failing_since", failing))
        })
        .await
    }

    /// Deletes an endpoint: its secrets are wiped and what was still to
    /// be delivered to it is dropped.
    pub async fn delete_webhook_endpoint(&self, scope: &Scope, id: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        // Deliveries first, then the endpoint: the order in which recording
        // outcomes locks them (see `finish_deliveries`).
        let mut drop_pending = Sql::new(
            "UPDATE webhook_deliveries SET state = 'failed', last_error = 'endpoint deleted' WHERE ",
        );
        drop_pending
            .scope(scope)
            .push(" AND endpoint_id = ")
            .bind(id)
            .push(" AND state = 'pending'");
        drop_pending.query().execute(tx.conn()).await?;
        let mut up = Sql::new(
            "UPDATE webhook_endpoints SET deleted = 1, secret = NULL, previous_secret = NULL, previous_secret_expires = NULL WHERE ",
        );
        up.scope(scope)
            .push(" AND id = ")
            .bind(id)
            .push(" AND deleted = 0");
        if up.query().execute(tx.conn()).await?.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await
    }

    pub async fn list_webhook_endpoints(
        &self,
        scope: &Scope,
        q: &ListQuery,
    ) -> Result<Page<WebhookEndpoint>, StoreError> {
        self.list_rows(
            "webhook_endpoints",
            COLS,
            scope,
            &[("deleted", 0_i64.into())],
            q,
            endpoint_of,
        )
        .await
    }

    /// An endpoint with the secrets that sign its deliveries at `now` (the
    /// current one, then a rolled one not yet expired), in one read: what
    /// each delivery needs, and what a reveal shows the first of.
    pub async fn webhook_endpoint_with_secrets(
        &self,
        scope: &Scope,
        id: &str,
        now: i64,
    ) -> Result<(WebhookEndpoint, Vec<Secret<String>>), StoreError> {
        let mut sql = Sql::select_one(
            &format!("{COLS}, secret, previous_secret"),
            "webhook_endpoints",
            scope,
            id,
        );
        sql.push(ENDPOINTS.live);
        let row = sql.fetch_row(&self.pool).await?;
        let e = endpoint_of(&row)?;
        let key = self.field_key(&scope.account_id).await?;
        let current: Option<String> = row.try_get("secret")?;
        let mut secrets = vec![Secret::new(
            key.open(&secret_place(id), &current.ok_or(StoreError::NotFound)?)?,
        )];
        if e.previous_secret_expires.is_some_and(|t| t > now) {
            if let Some(p) = row.try_get::<Option<String>, _>("previous_secret")? {
                secrets.push(Secret::new(key.open(&previous_place(id), &p)?));
            }
        }
        Ok((e, secrets))
    }

    /// Replaces an endpoint's signing secret with `new`; the current one
    /// keeps signing beside it until `previous_until` (at most 24 hours
    /// on; not at all if that is not after `now`).
    pub async fn roll_webhook_secret(
        &self,
        scope: &Scope,
        id: &str,
        new: &Secret<String>,
        now: i64,
        previous_until: i64,
    ) -> Result<WebhookEndpoint, StoreError> {
        let previous_until = previous_until.min(now + MAX_PREVIOUS_SECRET_SECS);
        let key = self.field_key(&scope.account_id).await?;
        let sealed_new = key.seal(&secret_place(id), new.expose())?;
        let mut tx = self.write().await?;
        let sel = self.select_one_for_update(
            &Table::new("webhook_endpoints", "secret").soft_deleted(),
            scope,
            id,
        );
        let row = sel.fetch_row(tx.conn()).await?;
        let (previous, expires) = if previous_until > now {
            let current: Option<String> = row.try_get("secret")?;
            let current = key.open(&secret_place(id), &current.ok_or(StoreError::NotFound)?)?;
            (
                Some(key.seal(&previous_place(id), &current)?),
                Some(previous_until),
            )
        } else {
            (None, None)
        };
        Update::new("webhook_endpoints")
            .set("secret", sealed_new)
            .set("previous_secret", previous)
            .set("previous_secret_expires", expires)
            .one(scope, id)
            .query()
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        self.get_webhook_endpoint(scope, id).await
    }

    /// Queues event `event_id` (of type `kind`) for every enabled
    /// endpoint of `scope` that listens to it, in the event's transaction.
    pub(crate) async fn enqueue_deliveries(
        &self,
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        event_id: &str,
        kind: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut sel = Sql::new("SELECT id, enabled_events FROM webhook_endpoints WHERE ");
        sel.scope(scope)
            .push(" AND deleted = 0 AND status = 'enabled'");
        let rows = sel.query().fetch_all(tx.conn()).await?;
        let mut queued = 0;
        for r in rows {
            let events: Vec<String> =
                serde_json::from_str(&r.try_get::<String, _>("enabled_events")?)?;
            if !events.iter().any(|e| e == "*" || e == kind) {
                continue;
            }
            let endpoint: String = r.try_get("id")?;
            self.insert_delivery(tx, scope, &endpoint, event_id, now)
                .await?;
            queued += 1;
        }
        if queued > 0 {
            tx.wake_after_commit(self.outbox_signal());
        }
        Ok(queued)
    }

    async fn insert_delivery(
        &self,
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        endpoint_id: &str,
        event_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        Insert::new("webhook_deliveries")
            .set("account_id", scope.account_id.as_str())
            .set("livemode", scope.livemode)
            .set("endpoint_id", endpoint_id)
            .set("event_id", event_id)
            .set("created", now)
            .set("state", "pending")
            .set("attempts", 0_i64)
            .set("next_attempt", now)
            .sql()
            .query()
            .execute(tx.conn())
            .await?;
        Ok(())
    }

    /// Queues event `event_id` again for endpoint `endpoint_id` (the
    /// dashboard's "resend"): only an event that was sent to it. A delivery
    /// of it still waiting for a retry there is made due now instead of
    /// queued twice (`Ok(false)` if it is being attempted this moment).
    pub async fn resend_event(
        &self,
        scope: &Scope,
        endpoint_id: &str,
        event_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.get_webhook_endpoint(scope, endpoint_id).await?;
        self.get_event(scope, event_id).await?;
        let mut tx = self.write().await?;
        let mut last = Sql::new("SELECT seq, state FROM webhook_deliveries WHERE ");
        last.scope(scope)
            .push(" AND endpoint_id = ")
            .bind(endpoint_id)
            .push(" AND event_id = ")
            .bind(event_id)
            .push(" ORDER BY seq DESC LIMIT 1");
        match last.query().fetch_optional(tx.conn()).await? {
            None => return Err(StoreError::NotFound),
            Some(r) if r.try_get::<String, _>("state")? == "pending" => {
                let mut due = Sql::new("UPDATE webhook_deliveries SET next_attempt = ");
                due.bind(now)
                    .push(" WHERE seq = ")
                    .bind(r.try_get::<i64, _>("seq")?)
                    .push(" AND lease_until <= ")
                    .bind(now);
                let n = due.query().execute(tx.conn()).await?.rows_affected();
                tx.wake_after_commit(self.outbox_signal());
                tx.commit().await?;
                return Ok(n == 1);
            }
            Some(_) => {}
        }
        self.insert_delivery(&mut tx, scope, endpoint_id, event_id, now)
            .await?;
        tx.wake_after_commit(self.outbox_signal());
        tx.commit().await?;
        Ok(true)
    }

    /// Claims up to `limits.batch` deliveries due at `now` until
    /// `lease_until`, under `token`: each is claimed by one worker of any
    /// instance, and one whose worker died is claimed again once its lease
    /// has run out. While others wait, no endpoint has more than
    /// `per_endpoint` and no account more than `per_account` deliveries in
    /// flight (across instances), so receivers that hang can't hold up
    /// everyone else's; the spare slots go to the capped ones, up to
    /// `when_alone` in flight in all (the rest stays free for whoever comes
    /// next). Deliveries queued behind a capped endpoint's backlog are
    /// looked for only with `look_past_capped` (that costs a scan of the
    /// backlog; the worker asks for it every so often).
    ///
    /// The claiming worker's own attempts are counted from `mine`; its
    /// claims' tokens all begin with `worker`, so its leases in the
    /// database are not counted twice (other workers' are).
    pub async fn claim_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        (worker, token): (&str, &str),
        limits: ClaimLimits,
        mine: &InFlight,
        look_past_capped: bool,
    ) -> Result<Vec<Claimed>, StoreError> {
        if !token.starts_with(worker) || worker.is_empty() {
            return Err(StoreError::Corrupt(
                "a claim's token must begin with its worker's".into(),
            ));
        }
        let ClaimLimits {
            batch: limit,
            per_endpoint,
            per_account,
            when_alone,
        } = limits;
        // A read first: an idle outbox costs no write (SQLite's one
        // writer is not taken every poll).
        let mut due = Sql::new(
            "SELECT seq FROM webhook_deliveries WHERE state = 'pending' AND next_attempt <= ",
        );
        due.bind(now)
            .push(" AND lease_until <= ")
            .bind(now)
            .push(" LIMIT 1");
        if due.query().fetch_optional(&self.pool).await?.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.write_carried().await?;
        // What is in flight now, per account and endpoint: this worker's
        // own, and other workers' leased rows (through their index).
        let mut busy = Sql::new(
            "SELECT account_id, endpoint_id, COUNT(*) AS n FROM webhook_deliveries WHERE state = 'pending' AND lease_until > ",
        );
        busy.bind(now)
            .push(&format!(
                " AND substr(COALESCE(lease_token, ''), 1, {}) <> ",
                worker.len()
            ))
            .bind(worker)
            .push(" GROUP BY account_id, endpoint_id");
        let mut per_ep = mine.per_endpoint.clone();
        let mut per_acct = mine.per_account.clone();
        let mut in_flight = mine.total;
        for r in busy.query().fetch_all(tx.conn()).await? {
            let n: i64 = r.try_get("n")?;
            in_flight += n;
            *per_ep.entry(r.try_get("endpoint_id")?).or_default() += n;
            *per_acct.entry(r.try_get("account_id")?).or_default() += n;
        }
        let scan = limit.saturating_mul(4);
        let mut out = Vec::new();
        let mut capped = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut take = |rows: Vec<AnyRow>,
                        out: &mut Vec<Claimed>,
                        capped: &mut Vec<Claimed>|
         -> Result<(), StoreError> {
            for r in rows {
                let c = claimed_of(&r, token)?;
                if !seen.insert(c.seq) {
                    continue;
                }
                let ep = per_ep.entry(c.endpoint_id.clone()).or_default();
                let acct = per_acct.entry(c.scope.account_id.clone()).or_default();
                if i64::try_from(out.len()).unwrap_or(i64::MAX) >= limit {
                    break;
                }
                if *ep >= per_endpoint || *acct >= per_account {
                    capped.push(c);
                    continue;
                }
                *ep += 1;
                *acct += 1;
                out.push(c);
            }
            Ok(())
        };
        // The oldest due first (cheap: the due index, in order).
        let rows = self
            .due_deliveries(now, &[], &[], scan)
            .query()
            .fetch_all(tx.conn())
            .await?;
        take(rows, &mut out, &mut capped)?;
        // Past the capped endpoints' backlog, to others' deliveries queued
        // behind it: a scan of that backlog, so only when asked (the worker
        // asks every so often, bounding how long others wait).
        if look_past_capped && !capped.is_empty() && i64::try_from(out.len()).unwrap_or(0) < limit {
            let full_eps: Vec<String> = capped
                .iter()
                .map(|c| c.endpoint_id.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let seqs: Vec<i64> = out.iter().map(|c| c.seq).collect();
            let rows = self
                .due_deliveries(now, &seqs, &[("endpoint_id", &full_eps)], scan)
                .query()
                .fetch_all(tx.conn())
                .await?;
            take(rows, &mut out, &mut capped)?;
        }
        // The spare slots go to the capped ones, up to `when_alone` in
        // flight in all: the rest stays free for whoever comes next.
        let taken = i64::try_from(out.len()).unwrap_or(i64::MAX);
        let room = (limit - taken).min(when_alone - in_flight - taken);
        out.extend(
            capped
                .into_iter()
                .take(usize::try_from(room.max(0)).unwrap_or(0)),
        );
        if !out.is_empty() {
            let mut up = Sql::new("UPDATE webhook_deliveries SET lease_until = ");
            up.bind(lease_until)
                .push(", lease_token = ")
                .bind(token)
                .push(" WHERE seq IN (");
            for (i, c) in out.iter().enumerate() {
                if i > 0 {
                    up.push(", ");
                }
                up.bind(c.seq);
            }
            up.push(")");
            up.query().execute(tx.conn()).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The deliveries due at `now` and not leased, oldest due first, at
    /// most `limit`: not those of `seq_not`, nor of the endpoints or
    /// accounts listed in `not_in` (locked, skipping rows another
    /// instance holds, on PostgreSQL).
    fn due_deliveries(
        &self,
        now: i64,
        seq_not: &[i64],
        not_in: &[(&str, &Vec<String>)],
        limit: i64,
    ) -> Sql {
        let mut sel = Sql::new(
            "SELECT seq, account_id, livemode, endpoint_id, event_id, attempts, created FROM webhook_deliveries WHERE state = 'pending' AND next_attempt <= ",
        );
        sel.bind(now).push(" AND lease_until <= ").bind(now);
        for (col, list) in not_in {
            if !list.is_empty() {
                sel.push(&format!(" AND {col} NOT IN ("));
                for (i, v) in list.iter().enumerate() {
                    if i > 0 {
                        sel.push(", ");
                    }
                    sel.bind(v.as_str());
                }
                sel.push(")");
            }
        }
        if !seq_not.is_empty() {
            sel.push(" AND seq NOT IN (");
            for (i, v) in seq_not.iter().enumerate() {
                if i > 0 {
                    sel.push(", ");
                }
                sel.bind(*v);
            }
            sel.push(")");
        }
        sel.push(" ORDER BY next_attempt LIMIT ").bind(limit);
        if self.backend() == Backend::Postgres {
            sel.push(" FOR UPDATE SKIP LOCKED");
        }
        sel
    }

    /// Records the outcomes of attempts, in one
    /// transaction: each attempt, each delivery's new state (unless its
    /// lease was lost meanwhile), and each endpoint's failing streak. An
    /// endpoint failing since before the outcome's cutoff is disabled and
    /// its account's owners notified; returns the ids of those disabled.
    pub async fn finish_deliveries(&self, outcomes: &[Outcome]) -> Result<Vec<String>, StoreError> {
        if outcomes.is_empty() {
            return Ok(Vec::new());
        }
        let mut disabled = Vec::new();
        let mut tx = self.write_carried().await?;
        // The attempts, many rows to a statement.
        for chunk in outcomes.chunks(64) {
            let mut ins = Sql::new(
                "INSERT INTO webhook_attempts (account_id, livemode, delivery_seq, endpoint_id, event_id, created, status, latency_ms, error, response_excerpt) VALUES ",
            );
            for (i, o) in chunk.iter().enumerate() {
                let c = &o.claimed;
                let excerpt = o
                    .excerpt
                    .as_ref()
                    .map(|e| e.chars().take(EXCERPT_CHARS).collect::<String>());
                ins.push(if i == 0 { "(" } else { ", (" })
                    .bind(c.scope.account_id.as_str())
                    .push(", ")
                    .bind(c.scope.livemode)
                    .push(", ")
                    .bind(c.seq)
                    .push(", ")
                    .bind(c.endpoint_id.as_str())
                    .push(", ")
                    .bind(c.event_id.as_str())
                    .push(", ")
                    .bind(o.at)
                    .push(", ")
                    .bind(o.status.map(i64::from))
                    .push(", ")
                    .bind(o.latency_ms)
                    .push(", ")
                    .bind(o.error.clone())
                    .push(", ")
                    .bind(excerpt)
                    .push(")");
            }
            ins.query().execute(tx.conn()).await?;
        }
        // Each delivery's new state, unless its lease was lost meanwhile;
        // those that end alike (a batch of successes, mostly) in one
        // statement.
        // (state, next attempt, status, error, lease token) -> rows.
        type Ending<'a> = (&'a str, i64, Option<i64>, Option<&'a str>, &'a str);
        let mut alike: std::collections::BTreeMap<Ending<'_>, Vec<i64>> =
            std::collections::BTreeMap::new();
        for o in outcomes {
            let (state, next) = match (o.delivered, o.retry_at) {
                (true, _) => ("succeeded", o.at),
                (false, Some(t)) => ("pending", t),
                (false, None) => ("failed", o.at),
            };
            let key = (
                state,
                next,
                o.status.map(i64::from),
                o.error.as_deref(),
                o.claimed.token.as_str(),
            );
            alike.entry(key).or_default().push(o.claimed.seq);
        }
        for ((state, next, status, error, token), seqs) in alike {
            for chunk in seqs.chunks(256) {
                let mut up = Sql::new("UPDATE webhook_deliveries SET state = ");
                up.bind(state)
                    .push(", attempts = attempts + 1, next_attempt = ")
                    .bind(next)
                    .push(", lease_until = 0, lease_token = NULL, last_status = ")
                    .bind(status)
                    .push(", last_error = ")
                    .bind(error.map(str::to_string))
                    .push(" WHERE lease_token = ")
                    .bind(token)
                    .push(" AND seq IN (");
                for (i, seq) in chunk.iter().enumerate() {
                    if i > 0 {
                        up.push(", ");
                    }
                    up.bind(*seq);
                }
                up.push(")");
                up.query().execute(tx.conn()).await?;
            }
        }
        // Each endpoint's failing streak, after every delivery row and in
        // one order: the same order as a delete (deliveries, then the
        // endpoint), so that two batches, or a batch and a delete, never
        // wait on each other in a cycle (PostgreSQL row locks). What
        // counts is how the batch ends for the endpoint: a success last
        // clears the streak; failures after the last success (or with
        // none) start it at the first of them.
        let mut by_endpoint: std::collections::BTreeMap<(&str, bool, &str), Vec<&Outcome>> =
            std::collections::BTreeMap::new();
        for o in outcomes {
            let c = &o.claimed;
            by_endpoint
                .entry((
                    c.scope.account_id.as_str(),
                    c.scope.livemode,
                    c.endpoint_id.as_str(),
                ))
                .or_default()
                .push(o);
        }
        for (_, list) in by_endpoint {
            let Some(o) = list.last().copied() else {
                continue;
            };
            let c = &o.claimed;
            let mut ep = Sql::new("UPDATE webhook_endpoints SET failing_since = ");
            if o.delivered {
                ep.push("NULL WHERE ")
                    .scope(&c.scope)
                    .push(" AND id = ")
                    .bind(c.endpoint_id.as_str())
                    .push(" AND failing_since IS NOT NULL");
                ep.query().execute(tx.conn()).await?;
                continue;
            }
            let last_success = list.iter().rposition(|o| o.delivered);
            let first_failure = list
                .get(last_success.map_or(0, |i| i + 1)..)
                .and_then(<[&Outcome]>::first)
                .map_or(o.at, |f| f.at);
            ep.bind(first_failure)
                .push(" WHERE ")
                .scope(&c.scope)
                .push(" AND id = ")
                .bind(c.endpoint_id.as_str());
            if last_success.is_none() {
                ep.push(" AND failing_since IS NULL");
            }
            ep.query().execute(tx.conn()).await?;
            let mut off = Sql::new(
                "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = 'failing' WHERE ",
            );
            off.scope(&c.scope)
                .push(" AND id = ")
                .bind(c.endpoint_id.as_str())
                .push(" AND status = 'enabled' AND deleted = 0 AND failing_since <= ")
                .bind(o.disable_if_failing_since)
                .push(" RETURNING id, url");
            if let Some(r) = off.query().fetch_optional(tx.conn()).await? {
                let id: String = r.try_get("id")?;
                let url: String = r.try_get("url")?;
                let notice = paylink_domain::id::generate(paylink_domain::IdKind::Event)
                    .map_err(|e| StoreError::Crypto(e.to_string()))?;
                Insert::new("security_outbox")
                    .set("id", notice)
                    .set("created", o.at)
                    .set("account_id", c.scope.account_id.as_str())
                    .set("user_id", None::<String>)
                    .set("kind", "webhook_endpoint.disabled")
                    .set(
                        "detail",
                        serde_json::json!({"endpoint": id, "url": url, "livemode": c.scope.livemode})
                            .to_string(),
                    )
                    .sql()
                    .query()
                    .execute(tx.conn())
                    .await?;
                disabled.push(id);
            }
        }
        tx.commit().await?;
        Ok(disabled)
    }

    /// The newest attempts to deliver to an endpoint.
    pub async fn webhook_attempts(
        &self,
        scope: &Scope,
        endpoint_id: &str,
        limit: i64,
    ) -> Result<Vec<Attempt>, StoreError> {
        let mut sql = Sql::new(
            "SELECT event_id, created, status, latency_ms, error, response_excerpt FROM webhook_attempts WHERE ",
        );
        sql.scope(scope)
            .push(" AND endpoint_id = ")
            .bind(endpoint_id)
            .push(" ORDER BY seq DESC LIMIT ")
            .bind(limit);
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Attempt {
                    event_id: r.try_get("event_id")?,
                    created: r.try_get("created")?,
                    status: status_of(r.try_get("status")?),
                    latency_ms: r.try_get("latency_ms")?,
                    error: r.try_get("error")?,
                    excerpt: r.try_get("response_excerpt")?,
                })
            })
            .collect()
    }

    /// The newest deliveries to an endpoint.
    pub async fn webhook_deliveries(
        &self,
        scope: &Scope,
        endpoint_id: &str,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut sql = Sql::new(
            "SELECT event_id, created, state, attempts, next_attempt, last_status, last_error FROM webhook_deliveries WHERE ",
        );
        sql.scope(scope)
            .push(" AND endpoint_id = ")
            .bind(endpoint_id)
            .push(" ORDER BY seq DESC LIMIT ")
            .bind(limit);
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Delivery {
                    event_id: r.try_get("event_id")?,
                    created: r.try_get("created")?,
                    state: r.try_get("state")?,
                    attempts: r.try_get("attempts")?,
                    next_attempt: r.try_get("next_attempt")?,
                    last_status: status_of(r.try_get("last_status")?),
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect()
    }

    /// Deliveries and attempts recorded before `before` go (at most
    /// `batch` of each); returns how many rows went.
    pub async fn purge_deliveries(&self, before: i64, batch: i64) -> Result<u64, StoreError> {
        let mut n = 0;
        for table in ["webhook_attempts", "webhook_deliveries"] {
            let mut sql = Sql::new(&format!(
                "DELETE FROM {table} WHERE seq IN (SELECT seq FROM {table} WHERE created < "
            ));
            sql.bind(before).push(" LIMIT ").bind(batch).push(")");
            if table == "webhook_deliveries" {
                sql.text = sql.text.replacen(
                    " WHERE created < ",
                    " WHERE state <> 'pending' AND created < ",
                    1,
                );
            }
            n += self.write_one(&sql).await?;
        }
        Ok(n)
    }

    /// Deliveries still to be made, in all accounts (a gauge, and what
    /// the tests wait on).
    pub async fn pending_deliveries(&self) -> Result<i64, StoreError> {
        let sql = Sql::new("SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'");
        Ok(sql.query().fetch_one(&self.pool).await?.try_get(0)?)
    }
}
