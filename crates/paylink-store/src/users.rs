//! Dashboard users: who they are (email sealed under the user's own data
//! key, found by a blind index), their password hash and TOTP seed (sealed),
//! the accounts they belong to with a role in each, one-time setup and
//! invitation links, server-side sessions, recovery codes, and the
//! brute-force counters (per user and per client IP) that every instance
//! shares through the database.
//!
//! Tokens and codes arrive here already hashed; nothing in this module
//! sees a plaintext token, password or code.

use paylink_crypto::Secret;
use paylink_domain::roles::Role;
use sqlx::Row;

use crate::db::Store;
use crate::error::StoreError;
use crate::list::{get_bool, Sql};

/// What the password step needs about a user.
#[derive(Clone)]
pub struct Credentials {
    pub user_id: String,
    pub password_hash: Option<String>,
    pub failed_count: i64,
    pub locked_until: Option<i64>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user_id", &self.user_id)
            .field("failed_count", &self.failed_count)
            .finish_non_exhaustive()
    }
}

/// A user as the dashboard shows them.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub has_password: bool,
    pub totp_enabled: bool,
    pub failed_count: i64,
    pub locked_until: Option<i64>,
    pub created: i64,
    pub last_login: Option<i64>,
    pub last_seen: Option<i64>,
}

/// One member of an account (the access review).
#[derive(Debug, Clone)]
pub struct Member {
    pub user: User,
    pub role: Role,
    pub since: i64,
}

/// One account a user belongs to.
#[derive(Debug, Clone)]
pub struct Membership {
    pub account_id: String,
    pub account_name: String,
    pub role: Role,
    /// The account's IP allowlist (CIDR ranges; empty: everywhere).
    pub ip_allowlist: String,
}

/// A one-time link's use (invitations have their own table since the
/// security review; old `invite` rows are only ever read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Setup,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Setup => "setup",
        }
    }
}

/// A valid (unused, unexpired) setup link.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub user_id: String,
    pub account_id: String,
    pub has_password: bool,
}

/// Where a session is in the sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Password checked; the second factor is still due.
    Mfa,
    /// Password set from a setup link; TOTP enrolment is still due.
    Enrol,
    /// Signed in with both factors.
    Full,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Mfa => "mfa",
            Stage::Enrol => "enrol",
            Stage::Full => "full",
        }
    }
    fn parse(s: &str) -> Result<Stage, StoreError> {
        match s {
            "mfa" => Ok(Stage::Mfa),
            "enrol" => Ok(Stage::Enrol),
            "full" => Ok(Stage::Full),
            other => Err(StoreError::Corrupt(format!("session stage {other}"))),
        }
    }
}

/// A dashboard session row.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: String,
    pub account_id: Option<String>,
    pub livemode: bool,
    pub stage: Stage,
    pub created: i64,
    pub last_seen: i64,
    /// When the user last proved both factors (for re-authentication).
    pub auth_time: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A new session.
pub struct NewSession<'a> {
    pub id: &'a str,
    pub token_hash: &'a str,
    pub user_id: &'a str,
    pub account_id: Option<&'a str>,
    pub livemode: bool,
    pub stage: Stage,
    pub now: i64,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

/// A security notice waiting in the outbox (or already sent).
#[derive(Debug, Clone)]
pub struct SecurityNotice {
    pub id: String,
    pub created: i64,
    pub user_id: Option<String>,
    pub kind: String,
    pub detail: serde_json::Value,
}

/// Second-factor failures between two locks of the code step.
pub const CODE_TRIES: i64 = 5;

const USER_COLS: &str = "id, email, password_hash, totp_seed, failed_count, locked_until, code_failed_count, code_locked_until, created, last_login, last_seen";
const SESSION_COLS: &str =
    "id, user_id, account_id, livemode, stage, created, last_seen, auth_time, ip, user_agent";

fn email_place(user_id: &str) -> String {
    format!("users.email:{user_id}")
}
fn seed_place(user_id: &str) -> String {
    format!("users.totp_seed:{user_id}")
}

impl Store {
    async fn user_from_row(&self, row: &sqlx::any::AnyRow) -> Result<User, StoreError> {
        let id: String = row.try_get("id")?;
        let sealed: String = row.try_get("email")?;
        let email = self
            .field_key(&id)
            .await?
            .open(&email_place(&id), &sealed)?;
        Ok(User {
            email,
            has_password: row.try_get::<Option<String>, _>("password_hash")?.is_some(),
            totp_enabled: row.try_get::<Option<String>, _>("totp_seed")?.is_some(),
            // Either step's failures and lock (the password's or the code's).
            failed_count: row.try_get::<i64, _>("failed_count")?
                + row.try_get::<i64, _>("code_failed_count")?,
            locked_until: row
                .try_get::<Option<i64>, _>("locked_until")?
                .max(row.try_get::<Option<i64>, _>("code_locked_until")?),
            created: row.try_get("created")?,
            last_login: row.try_get("last_login")?,
            last_seen: row.try_get("last_seen")?,
            id,
        })
    }

    /// The user whose email has blind index `email_key`, if any.
    pub async fn user_id_by_email(&self, email_key: &str) -> Result<Option<String>, StoreError> {
        let mut sql = Sql::new("SELECT id FROM users WHERE email_key = ");
        sql.bind(email_key);
        Ok(match sql.query().fetch_optional(&self.pool).await? {
            Some(r) => Some(r.try_get("id")?),
            None => None,
        })
    }

    /// Adds `email` to `account_id` with `role`, creating the user if the
    /// email is new (the operator's setup link then lets them set a
    /// password and enrol TOTP). Returns the user id, and whether the user
    /// already existed. An existing member is a conflict. Only the operator
    /// (the CLI) calls this: members join through invitations.
    pub async fn add_member(
        &self,
        new_user_id: &str,
        email: &str,
        email_key: &str,
        account_id: &str,
        role: Role,
        now: i64,
    ) -> Result<(String, bool), StoreError> {
        let existing = self.user_id_by_email(email_key).await?;
        let user_id = existing.clone().unwrap_or_else(|| new_user_id.to_string());
        let sealed = self
            .field_key(&user_id)
            .await?
            .seal(&email_place(&user_id), email)?;
        let mut tx = self.write().await?;
        if existing.is_none() {
            let mut ins = Sql::new("INSERT INTO users (id, email_key, email, created) VALUES (");
            ins.values(vec![
                user_id.as_str().into(),
                email_key.into(),
                sealed.into(),
                now.into(),
            ])
            .push(")");
            ins.query().execute(tx.conn()).await?;
        }
        let mut m =
            Sql::new("INSERT INTO memberships (account_id, user_id, role, created) VALUES (");
        m.values(vec![
            account_id.into(),
            user_id.as_str().into(),
            role.as_str().into(),
            now.into(),
        ])
        .push(")");
        m.query().execute(tx.conn()).await?;
        tx.commit().await?;
        Ok((user_id, existing.is_some()))
    }

    /// A new one-time link for an existing member (a fresh setup link).
    pub async fn add_user_token(
        &self,
        kind: TokenKind,
        token_hash: &str,
        user_id: &str,
        account_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut t = Sql::new(
            "INSERT INTO user_tokens (token_hash, kind, user_id, account_id, created, expires_at) VALUES (",
        );
        t.values(vec![
            token_hash.into(),
            kind.as_str().into(),
            user_id.into(),
            account_id.into(),
            now.into(),
            expires_at.into(),
        ])
        .push(")");
        self.write_one(&t).await?;
        Ok(())
    }

    /// Uses up a setup or invitation link: valid once, before it expires.
    pub async fn consume_user_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<TokenGrant>, StoreError> {
        let mut tx = self.write().await?;
        let mut upd = Sql::new("UPDATE user_tokens SET used_at = ");
        upd.bind(now)
            .push(" WHERE token_hash = ")
            .bind(token_hash)
            .push(" AND used_at IS NULL AND expires_at > ")
            .bind(now);
        if upd.query().execute(tx.conn()).await?.rows_affected() != 1 {
            return Ok(None);
        }
        let mut sel = Sql::new(
            "SELECT t.user_id, t.account_id, u.password_hash FROM user_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ",
        );
        sel.bind(token_hash);
        let row = sel.fetch_row(tx.conn()).await?;
        let grant = TokenGrant {
            user_id: row.try_get("user_id")?,
            account_id: row.try_get("account_id")?,
            has_password: row.try_get::<Option<String>, _>("password_hash")?.is_some(),
        };
        tx.commit().await?;
        Ok(Some(grant))
    }

    /// Whether a link is still usable (without using it).
    pub async fn user_token_valid(&self, token_hash: &str, now: i64) -> Result<bool, StoreError> {
        let mut sel = Sql::new("SELECT 1 FROM user_tokens WHERE token_hash = ");
        sel.bind(token_hash)
            .push(" AND used_at IS NULL AND expires_at > ")
            .bind(now);
        Ok(sel.query().fetch_optional(&self.pool).await?.is_some())
    }

    /// The user a still-usable link belongs to (without using it).
    pub async fn user_token_owner(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let mut sel = Sql::new("SELECT user_id FROM user_tokens WHERE token_hash = ");
        sel.bind(token_hash)
            .push(" AND used_at IS NULL AND expires_at > ")
            .bind(now);
        Ok(match sel.query().fetch_optional(&self.pool).await? {
            Some(r) => Some(r.try_get("user_id")?),
            None => None,
        })
    }

    pub async fn get_user(&self, user_id: &str) -> Result<User, StoreError> {
        let mut sql = Sql::new(&format!("SELECT {USER_COLS} FROM users WHERE id = "));
        sql.bind(user_id);
        let row = sql.fetch_row(&self.pool).await?;
        self.user_from_row(&row).await
    }

    /// The password step's view of a user.
    pub async fn credentials(&self, user_id: &str) -> Result<Credentials, StoreError> {
        let mut sql =
            Sql::new("SELECT id, password_hash, failed_count, locked_until FROM users WHERE id = ");
        sql.bind(user_id);
        let row = sql.fetch_row(&self.pool).await?;
        Ok(Credentials {
            user_id: row.try_get("id")?,
            password_hash: row.try_get("password_hash")?,
            failed_count: row.try_get("failed_count")?,
            locked_until: row.try_get("locked_until")?,
        })
    }

    /// Sets (or replaces) a user's password hash (a PHC string).
    pub async fn set_password(&self, user_id: &str, phc: &str, now: i64) -> Result<(), StoreError> {
        let mut sql = Sql::new("UPDATE users SET password_hash = ");
        sql.bind(phc)
            .push(", password_changed = ")
            .bind(now)
            .push(" WHERE id = ")
            .bind(user_id);
        self.write_one(&sql).await?;
        Ok(())
    }

    /// Stores a TOTP seed that is waiting for its first code.
    pub async fn set_pending_totp(
        &self,
        user_id: &str,
        seed_b32: &Secret<String>,
    ) -> Result<(), StoreError> {
        let sealed = self
            .field_key(user_id)
            .await?
            .seal(&format!("users.totp_pending:{user_id}"), seed_b32.expose())?;
        let mut sql = Sql::new("UPDATE users SET totp_pending = ");
        sql.bind(sealed).push(" WHERE id = ").bind(user_id);
        self.write_one(&sql).await?;
        Ok(())
    }

    /// The seed waiting for its first code, if any.
    pub async fn pending_totp(&self, user_id: &str) -> Result<Option<Secret<String>>, StoreError> {
        let mut sql = Sql::new("SELECT totp_pending FROM users WHERE id = ");
        sql.bind(user_id);
        let row = sql.fetch_row(&self.pool).await?;
        let sealed: Option<String> = row.try_get("totp_pending")?;
        match sealed {
            Some(s) => Ok(Some(Secret::new(
                self.field_key(user_id)
                    .await?
                    .open(&format!("users.totp_pending:{user_id}"), &s)?,
            ))),
            None => Ok(None),
        }
    }

    /// Makes the pending seed the user's TOTP seed, the code of `step`
    /// having been checked against it (and so used).
    pub async fn confirm_totp(
        &self,
        user_id: &str,
        seed_b32: &Secret<String>,
        step: i64,
    ) -> Result<(), StoreError> {
        let sealed = self
            .field_key(user_id)
            .await?
            .seal(&seed_place(user_id), seed_b32.expose())?;
        let mut sql = Sql::new("UPDATE users SET totp_seed = ");
        sql.bind(sealed)
            .push(", totp_pending = NULL, totp_last_step = ")
            .bind(step)
            .push(" WHERE id = ")
            .bind(user_id);
        self.write_one(&sql).await?;
        Ok(())
    }

    /// The user's TOTP seed (base32) and the last step a code was accepted for.
    pub async fn totp_seed(
        &self,
        user_id: &str,
    ) -> Result<Option<(Secret<String>, Option<i64>)>, StoreError> {
        let mut sql = Sql::new("SELECT totp_seed, totp_last_step FROM users WHERE id = ");
        sql.bind(user_id);
        let row = sql.fetch_row(&self.pool).await?;
        let sealed: Option<String> = row.try_get("totp_seed")?;
        let last: Option<i64> = row.try_get("totp_last_step")?;
        match sealed {
            Some(s) => Ok(Some((
                Secret::new(
                    self.field_key(user_id)
                        .await?
                        .open(&seed_place(user_id), &s)?,
                ),
                last,
            ))),
            None => Ok(None),
        }
    }

    /// Records that the code of `step` was used: true only for the first
    /// use of a step later than any used before (so a code works once,
    /// even when two requests race).
    pub async fn use_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError> {
        let mut sql = Sql::new("UPDATE users SET totp_last_step = ");
        sql.bind(step)
            .push(" WHERE id = ")
            .bind(user_id)
            .push(" AND (totp_last_step IS NULL OR totp_last_step < ")
            .bind(step)
            .push(")");
        let n = self.write_one(&sql).await?;
        Ok(n == 1)
    }

    /// Reserves one password attempt of `user_id` before it is checked
    /// (finding 2 of the security review): the admission decision and the
    /// count are one conditional update, so N concurrent attempts are
    /// admitted only while the user is neither waiting nor locked. Every
    /// admitted attempt counts as a failure until [`Store::password_passed`]
    /// takes it back; the fifth starts a wait (30 s, doubling), the
    /// `lock_after`-th locks for `lock_secs`. Returns the attempt's number,
    /// or `None` when refused unevaluated.
    pub async fn reserve_password_attempt(
        &self,
        user_id: &str,
        now: i64,
        lock_after: i64,
        lock_secs: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut sql = Sql::new(
            "UPDATE users SET failed_count = failed_count + 1, locked_until = CASE WHEN failed_count + 1 >= ",
        );
        sql.bind(lock_after).push(" THEN ").bind(now + lock_secs);
        // The waits of the 5th, 6th, … failure (capped like before).
        for n in 5..lock_after.min(26) {
            sql.push(" WHEN failed_count + 1 = ")
                .bind(n)
                .push(" THEN ")
                .bind(now + 30 * (1_i64 << (n - 5).min(20)));
        }
        sql.push(" WHEN failed_count + 1 >= 26 THEN ")
            .bind(now + 30 * (1_i64 << 20))
            .push(" ELSE locked_until END WHERE id = ")
            .bind(user_id)
            .push(" AND (locked_until IS NULL OR locked_until <= ")
            .bind(now)
            .push(") RETURNING failed_count");
        self.write_returning(&sql).await
    }

    /// The reserved password attempt was right: the password counter
    /// starts over (the second factor keeps its own).
    pub async fn password_passed(&self, user_id: &str) -> Result<(), StoreError> {
        let mut sql =
            Sql::new("UPDATE users SET failed_count = 0, locked_until = NULL WHERE id = ");
        sql.bind(user_id);
        self.write_one(&sql).await?;
        Ok(())
    }

    /// Reserves one second-factor attempt (TOTP or recovery code) of
    /// `user_id`, like [`Store::reserve_password_attempt`] but with its own
    /// counter, which only a complete sign-in resets: every fifth failure
    /// locks the code step, for `lock_secs` and then twice as long each
    /// time (1 h, 2 h, 4 h, …), so a 6-digit code can't be worn down.
    pub async fn reserve_code_attempt(
        &self,
        user_id: &str,
        now: i64,
        lock_secs: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut sql = Sql::new(
            "UPDATE users SET code_failed_count = code_failed_count + 1, code_locked_until = CASE",
        );
        for k in 1..=20_i64 {
            sql.push(" WHEN code_failed_count + 1 = ")
                .bind(k * CODE_TRIES)
                .push(" THEN ")
                .bind(now + lock_secs.saturating_mul(1_i64 << (k - 1)));
        }
        sql.push(" WHEN code_failed_count + 1 > ")
            .bind(20 * CODE_TRIES)
            .push(" THEN ")
            .bind(now + lock_secs.saturating_mul(1_i64 << 20))
            .push(" ELSE code_locked_until END WHERE id = ")
            .bind(user_id)
            .push(" AND (code_locked_until IS NULL OR code_locked_until <= ")
            .bind(now)
            .push(") RETURNING code_failed_count");
        self.write_returning(&sql).await
    }

    /// A right second factor outside a sign-in (a step-up): the code
    /// step's counter starts over.
    pub async fn code_passed(&self, user_id: &str) -> Result<(), StoreError> {
        let mut sql = Sql::new(
            "UPDATE users SET code_failed_count = 0, code_locked_until = NULL WHERE id = ",
        );
        sql.bind(user_id);
        self.write_one(&sql).await?;
        Ok(())
    }

    /// Runs an `UPDATE … RETURNING <count>`: the count, if a row matched.
    async fn write_returning(&self, sql: &Sql) -> Result<Option<i64>, StoreError> {
        match self.write_fetch(sql).await? {
            Some(r) => Ok(Some(r.try_get::<i64, _>(0)?)),
            None => Ok(None),
        }
    }

    /// A lifted lock (the user's own recovery, or an owner of the only
    /// account the user belongs to): both counters start over.
    pub async fn clear_user_failures(&self, user_id: &str) -> Result<(), StoreError> {
        let mut sql = Sql::new(
            "UPDATE users SET failed_count = 0, locked_until = NULL, code_failed_count = 0, code_locked_until = NULL WHERE id = ",
        );
        sql.bind(user_id);
        self.write_one(&sql).await?;
        Ok(())
    }

    /// Reserves one sign-in attempt from `ip` in a window of `window`
    /// seconds: one atomic upsert counts it, and it is admitted only while
    /// the window's count stays within `limit`. Returns `Err(secs)` (to
    /// wait) when refused. An attempt that succeeds is taken back with
    /// [`Store::ip_attempt_passed`], so the count is of failures.
    pub async fn reserve_ip_attempt(
        &self,
        ip: &str,
        now: i64,
        window: i64,
        limit: i64,
    ) -> Result<Result<i64, i64>, StoreError> {
        self.limited_hit("login_throttle", "ip", "failures", ip, now, window, limit)
            .await
    }

    /// Takes back a reserved attempt from `ip` that succeeded.
    pub async fn ip_attempt_passed(&self, ip: &str) -> Result<(), StoreError> {
        let mut sql = Sql::new(
            "UPDATE login_throttle SET failures = failures - 1 WHERE failures > 0 AND ip = ",
        );
        sql.bind(ip);
        self.write_one(&sql).await?;
        Ok(())
    }

    /// Counts one hit of `key` in `table` (a fixed window of `window`
    /// seconds), atomically on both backends, and decides in the same step:
    /// the window's count including this hit, or `Err(seconds to wait)`
    /// once it passes `limit`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn limited_hit(
        &self,
        table: &str,
        key_col: &str,
        count_col: &str,
        key: &str,
        now: i64,
        window: i64,
        limit: i64,
    ) -> Result<Result<i64, i64>, StoreError> {
        let mut sql = Sql::new(&format!(
            "INSERT INTO {table} ({key_col}, window_start, {count_col}) VALUES ("
        ));
        sql.bind(key).push(", ").bind(now).push(&format!(
            ", 1) ON CONFLICT ({key_col}) DO UPDATE SET {count_col} = CASE WHEN {table}.window_start > "
        ));
        sql.bind(now - window)
            .push(&format!(
                " THEN {table}.{count_col} + 1 ELSE 1 END, window_start = CASE WHEN {table}.window_start > "
            ))
            .bind(now - window)
            .push(&format!(" THEN {table}.window_start ELSE "))
            .bind(now)
            .push(&format!(" END RETURNING {count_col}, window_start"));
        let row = self.write_fetch(&sql).await?.ok_or(StoreError::NotFound)?;
        let (n, start) = (row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?);
        Ok(if n > limit {
            Err((start + window - now).max(1))
        } else {
            Ok(n)
        })
    }

    /// Deletes throttle rows whose window ended (they hold IP addresses).
    pub async fn purge_login_throttle(&self, before: i64) -> Result<u64, StoreError> {
        let mut sql = Sql::new("DELETE FROM login_throttle WHERE window_start < ");
        sql.bind(before);
        let mut n = self.write_one(&sql).await?;
        // Rate counters name client addresses too.
        let mut rc = Sql::new("DELETE FROM rate_counters WHERE window_start < ");
        rc.bind(before);
        n += self.write_one(&rc).await?;
        Ok(n)
    }

    /// Records a successful sign-in.
    pub async fn record_login(&self, user_id: &str, now: i64) -> Result<(), StoreError> {
        let mut sql = Sql::new(
            "UPDATE users SET failed_count = 0, locked_until = NULL, code_failed_count = 0, code_locked_until = NULL, last_login = ",
        );
        sql.bind(now)
            .push(", last_seen = ")
            .bind(now)
            .push(" WHERE id = ")
            .bind(user_id);
        self.write_one(&sql).await?;
        Ok(())
    }

    /// Replaces the rehashed password of a user who just signed in.
    pub async fn rehash_password(&self, user_id: &str, phc: &str) -> Result<(), StoreError> {
        let mut sql = Sql::new("UPDATE users SET password_hash = ");
        sql.bind(phc).push(" WHERE id = ").bind(user_id);
        self.write_one(&sql).await?;
        Ok(())
    }

    // ---- memberships ----

    pub async fn memberships(&self, user_id: &str) -> Result<Vec<Membership>, StoreError> {
        let mut sql = Sql::new(
            "SELECT m.account_id, a.name, a.ip_allowlist, m.role FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.user_id = ",
        );
        sql.bind(user_id).push(" ORDER BY a.name, m.account_id");
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                Ok(Membership {
                    account_id: r.try_get("account_id")?,
                    account_name: r.try_get("name")?,
                    role: Role::parse(&role)
                        .ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
                    ip_allowlist: r.try_get("ip_allowlist")?,
                })
            })
            .collect()
    }

    /// The user's role in `account_id`, if a member.
    pub async fn role_of(
        &self,
        user_id: &str,
        account_id: &str,
    ) -> Result<Option<Role>, StoreError> {
        let mut sql = Sql::new("SELECT role FROM memberships WHERE user_id = ");
        sql.bind(user_id)
            .push(" AND account_id = ")
            .bind(account_id);
        match sql.query().fetch_optional(&self.pool).await? {
            Some(r) => {
                let role: String = r.try_get("role")?;
                Ok(Some(Role::parse(&role).ok_or_else(|| {
                    StoreError::Corrupt(format!("role {role}"))
                })?))
            }
            None => Ok(None),
        }
    }

    /// Every member of an account, for the team page and access review.
    pub async fn members(&self, account_id: &str) -> Result<Vec<Member>, StoreError> {
        let mut sql = Sql::new(
            "SELECT u.id, u.email, u.password_hash, u.totp_seed, u.failed_count, u.locked_until, u.code_failed_count, u.code_locked_until, u.created, u.last_login, u.last_seen, m.role, m.created AS since FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.account_id = ",
        );
        sql.bind(account_id).push(" ORDER BY m.created, u.id");
        let rows = sql.query().fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let role: String = r.try_get("role")?;
            out.push(Member {
                user: self.user_from_row(r).await?,
                role: Role::parse(&role)
                    .ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
                since: r.try_get("since")?,
            });
        }
        Ok(out)
    }

    /// Changes a member's role and ends the member's sessions in this
    /// account (a privilege change means a new session token). The last
    /// owner can't be demoted ([`StoreError::LastOwner`]).
    pub async fn set_role(
        &self,
        account_id: &str,
        user_id: &str,
        role: Role,
        now: i64,
    ) -> Result<Role, StoreError> {
        let mut tx = self.write().await?;
        let mut sel = Sql::new("SELECT role FROM memberships WHERE account_id = ");
        sel.bind(account_id).push(" AND user_id = ").bind(user_id);
        let old: String = sel.fetch_row(tx.conn()).await?.try_get("role")?;
        let old = Role::parse(&old).ok_or_else(|| StoreError::Corrupt(format!("role {old}")))?;
        if old == Role::Owner && role != Role::Owner && owners(&mut tx, account_id).await? <= 1 {
            return Err(StoreError::LastOwner);
        }
        let mut upd = Sql::new("UPDATE memberships SET role = ");
        upd.bind(role.as_str())
            .push(" WHERE account_id = ")
            .bind(account_id)
            .push(" AND user_id = ")
            .bind(user_id);
        upd.query().execute(tx.conn()).await?;
        // Any change of privilege: the member signs in again and gets a
        // new session token.
        if old != role {
            end_sessions_in(&mut tx, user_id, Some(account_id), now).await?;
        }
        tx.commit().await?;
        Ok(old)
    }

    /// Removes a member and ends their sessions in this account at once.
    /// The last owner can't be removed ([`StoreError::LastOwner`]).
    pub async fn remove_member(
        &self,
        account_id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let mut sel = Sql::new("SELECT role FROM memberships WHERE account_id = ");
        sel.bind(account_id).push(" AND user_id = ").bind(user_id);
        let old: String = sel.fetch_row(tx.conn()).await?.try_get("role")?;
        if old == "owner" && owners(&mut tx, account_id).await? <= 1 {
            return Err(StoreError::LastOwner);
        }
        let mut del = Sql::new("DELETE FROM memberships WHERE account_id = ");
        del.bind(account_id).push(" AND user_id = ").bind(user_id);
        del.query().execute(tx.conn()).await?;
        end_sessions_in(&mut tx, user_id, Some(account_id), now).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- sessions ----

    pub async fn create_session(&self, s: NewSession<'_>) -> Result<(), StoreError> {
        let mut sql = Sql::new(
            "INSERT INTO dashboard_sessions (id, token_hash, user_id, account_id, livemode, stage, created, last_seen, auth_time, ip, user_agent) VALUES (",
        );
        let ua: String = s.user_agent.chars().take(300).collect();
        sql.values(vec![
            s.id.into(),
            s.token_hash.into(),
            s.user_id.into(),
            s.account_id.into(),
            s.livemode.into(),
            s.stage.as_str().into(),
            s.now.into(),
            s.now.into(),
            s.now.into(),
            s.ip.into(),
            ua.into(),
        ])
        .push(")");
        self.write_one(&sql).await?;
        Ok(())
    }

    /// The live session whose token hashes to `token_hash`.
    pub async fn find_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {SESSION_COLS}, token_hash FROM dashboard_sessions WHERE ended_at IS NULL AND token_hash = "
        ));
        sql.bind(token_hash);
        let Some(r) = sql.query().fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let stored: String = r.try_get("token_hash")?;
        if !paylink_crypto::ct_eq(stored.as_bytes(), token_hash.as_bytes()) {
            return Ok(None);
        }
        Ok(Some(session_from_row(&r)?))
    }

    /// Marks a session as seen now (and the user as active).
    pub async fn touch_session(&self, id: &str, user_id: &str, now: i64) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let mut sql = Sql::new("UPDATE dashboard_sessions SET last_seen = ");
        sql.bind(now).push(" WHERE id = ").bind(id);
        sql.query().execute(tx.conn()).await?;
        let mut u = Sql::new("UPDATE users SET last_seen = ");
        u.bind(now).push(" WHERE id = ").bind(user_id);
        u.query().execute(tx.conn()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Switches a session's mode (test or live data).
    pub async fn set_session_mode(&self, id: &str, livemode: bool) -> Result<(), StoreError> {
        let mut sql = Sql::new("UPDATE dashboard_sessions SET livemode = ");
        sql.bind(livemode).push(" WHERE id = ").bind(id);
        self.write_one(&sql).await?;
        Ok(())
    }

    /// Ends one session of `user_id` (server-side; the cookie becomes useless).
    pub async fn end_session(&self, user_id: &str, id: &str, now: i64) -> Result<bool, StoreError> {
        let mut sql = Sql::new("UPDATE dashboard_sessions SET ended_at = ");
        sql.bind(now)
            .push(" WHERE id = ")
            .bind(id)
            .push(" AND user_id = ")
            .bind(user_id)
            .push(" AND ended_at IS NULL");
        let n = self.write_one(&sql).await?;
        Ok(n == 1)
    }

    /// Ends every session of `user_id` but `except`; returns how many.
    pub async fn end_user_sessions(
        &self,
        user_id: &str,
        except: Option<&str>,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut sql = Sql::new("UPDATE dashboard_sessions SET ended_at = ");
        sql.bind(now)
            .push(" WHERE user_id = ")
            .bind(user_id)
            .push(" AND ended_at IS NULL");
        if let Some(e) = except {
            sql.push(" AND id <> ").bind(e);
        }
        let n = self.write_one(&sql).await?;
        Ok(n)
    }

    /// A user's live sessions, newest first.
    pub async fn user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {SESSION_COLS} FROM dashboard_sessions WHERE ended_at IS NULL AND user_id = "
        ));
        sql.bind(user_id).push(" ORDER BY created DESC, id");
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter().map(session_from_row).collect()
    }

    /// Deletes sessions last seen before `before` (with their IP
    /// addresses and user agents), and security notices created before
    /// `notices_before` (they name addresses too).
    pub async fn purge_dashboard_sessions(
        &self,
        before: i64,
        notices_before: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let mut sql = Sql::new("DELETE FROM dashboard_sessions WHERE last_seen < ");
        sql.bind(before);
        let mut n = sql.query().execute(tx.conn()).await?.rows_affected();
        let mut o = Sql::new("DELETE FROM security_outbox WHERE created < ");
        o.bind(notices_before);
        n += o.query().execute(tx.conn()).await?.rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// Sign-in records older than `before` (what the purge would delete).
    pub async fn sign_in_records_due(&self, before: i64) -> Result<i64, StoreError> {
        let mut a = Sql::new("SELECT COUNT(*) AS n FROM dashboard_sessions WHERE last_seen < ");
        a.bind(before);
        let mut b = Sql::new("SELECT COUNT(*) AS n FROM login_throttle WHERE window_start < ");
        b.bind(before);
        let x: i64 = a.fetch_row(&self.pool).await?.try_get("n")?;
        let y: i64 = b.fetch_row(&self.pool).await?.try_get("n")?;
        Ok(x + y)
    }

    // ---- recovery codes ----

    /// Replaces a user's recovery codes with `hashes`.
    pub async fn replace_recovery_codes(
        &self,
        user_id: &str,
        hashes: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let mut del = Sql::new("DELETE FROM recovery_codes WHERE user_id = ");
        del.bind(user_id);
        del.query().execute(tx.conn()).await?;
        for h in hashes {
            let mut ins = Sql::new("INSERT INTO recovery_codes (user_id, code_hash) VALUES (");
            ins.values(vec![user_id.into(), h.as_str().into()])
                .push(")");
            ins.query().execute(tx.conn()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Uses one recovery code (once).
    pub async fn use_recovery_code(
        &self,
        user_id: &str,
        hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut sql = Sql::new("UPDATE recovery_codes SET used_at = ");
        sql.bind(now)
            .push(" WHERE user_id = ")
            .bind(user_id)
            .push(" AND code_hash = ")
            .bind(hash)
            .push(" AND used_at IS NULL");
        let n = self.write_one(&sql).await?;
        Ok(n == 1)
    }

    /// How many unused recovery codes a user has.
    pub async fn recovery_codes_left(&self, user_id: &str) -> Result<i64, StoreError> {
        let mut sql = Sql::new(
            "SELECT COUNT(*) AS n FROM recovery_codes WHERE used_at IS NULL AND user_id = ",
        );
        sql.bind(user_id);
        Ok(sql.fetch_row(&self.pool).await?.try_get("n")?)
    }

    // ---- account security settings and notices ----

    /// The account's IP allowlist (CIDR ranges, one per line; empty: all).
    pub async fn ip_allowlist(&self, account_id: &str) -> Result<String, StoreError> {
        let mut sql = Sql::new("SELECT ip_allowlist FROM accounts WHERE id = ");
        sql.bind(account_id);
        Ok(sql.fetch_row(&self.pool).await?.try_get("ip_allowlist")?)
    }

    pub async fn set_ip_allowlist(&self, account_id: &str, list: &str) -> Result<(), StoreError> {
        let mut sql = Sql::new("UPDATE accounts SET ip_allowlist = ");
        sql.bind(list).push(" WHERE id = ").bind(account_id);
        self.write_one(&sql).await?;
        Ok(())
    }

    /// Queues a security notice (e.g. a lock) for the email sender.
    pub async fn security_notice(
        &self,
        id: &str,
        account_id: Option<&str>,
        user_id: Option<&str>,
        kind: &str,
        detail: &serde_json::Value,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut sql = Sql::new(
            "INSERT INTO security_outbox (id, created, account_id, user_id, kind, detail) VALUES (",
        );
        sql.values(vec![
            id.into(),
            now.into(),
            account_id.into(),
            user_id.into(),
            kind.into(),
            detail.to_string().into(),
        ])
        .push(")");
        self.write_one(&sql).await?;
        Ok(())
    }

    /// The newest security notices a member sees on the security page:
    /// the member's own (of this account, or of no account, such as a
    /// lock), and with `account_events` also the account's own events.
    /// Another member's personal notices (a lock, with addresses) are
    /// theirs alone: they may stem from other accounts (finding 7).
    pub async fn security_notices(
        &self,
        account_id: &str,
        user_id: &str,
        account_events: bool,
        limit: i64,
    ) -> Result<Vec<SecurityNotice>, StoreError> {
        let mut sql = Sql::new(
            "SELECT id, created, user_id, kind, detail FROM security_outbox WHERE (user_id = ",
        );
        sql.bind(user_id)
            .push(" AND (account_id IS NULL OR account_id = ")
            .bind(account_id)
            .push("))");
        if account_events {
            sql.push(" OR (user_id IS NULL AND account_id = ")
                .bind(account_id)
                .push(")");
        }
        sql.push(" ORDER BY seq DESC LIMIT ").bind(limit);
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(SecurityNotice {
                    id: r.try_get("id")?,
                    created: r.try_get("created")?,
                    user_id: r.try_get("user_id")?,
                    kind: r.try_get("kind")?,
                    detail: serde_json::from_str(&detail)?,
                })
            })
            .collect()
    }
}

fn session_from_row(r: &sqlx::any::AnyRow) -> Result<SessionRecord, StoreError> {
    let stage: String = r.try_get("stage")?;
    Ok(SessionRecord {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        account_id: r.try_get("account_id")?,
        livemode: get_bool(r, "livemode")?,
        stage: Stage::parse(&stage)?,
        created: r.try_get("created")?,
        last_seen: r.try_get("last_seen")?,
        auth_time: r.try_get("auth_time")?,
        ip: r.try_get("ip")?,
        user_agent: r.try_get("user_agent")?,
    })
}

async fn owners(tx: &mut crate::db::WriteTx<'_>, account_id: &str) -> Result<i64, StoreError> {
    let mut sql =
        Sql::new("SELECT COUNT(*) AS n FROM memberships WHERE role = 'owner' AND account_id = ");
    sql.bind(account_id);
    Ok(sql.fetch_row(tx.conn()).await?.try_get("n")?)
}

async fn end_sessions_in(
    tx: &mut crate::db::WriteTx<'_>,
    user_id: &str,
    account_id: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    let mut sql = Sql::new("UPDATE dashboard_sessions SET ended_at = ");
    sql.bind(now)
        .push(" WHERE ended_at IS NULL AND user_id = ")
        .bind(user_id);
    if let Some(a) = account_id {
        sql.push(" AND account_id = ").bind(a);
    }
    sql.query().execute(tx.conn()).await?;
    Ok(())
}
