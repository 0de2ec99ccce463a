//! Brute-force counters shared by every instance through the database:
//! per user (password and code failures, with lockout) and per client IP.
//! Each attempt is reserved (checked and counted in one statement) before
//! the secret is checked.

use sqlx::Row;

use crate::error::StoreError;
use crate::sql::{Insert, Sql};
use crate::store::Store;

/// Second-factor failures between two locks of the code step.
pub const CODE_TRIES: i64 = 5;

impl Store {
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
    pub(super) async fn write_returning(&self, sql: &Sql) -> Result<Option<i64>, StoreError> {
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
        let mut sql = Insert::new(table)
            .set(key_col, key)
            .set("window_start", now)
            .set(count_col, 1i64)
            .sql();
        sql.push(&format!(
            " ON CONFLICT ({key_col}) DO UPDATE SET {count_col} = CASE WHEN {table}.window_start > "
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
}
