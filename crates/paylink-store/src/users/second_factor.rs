//! The second factor: a user's TOTP seed (sealed; pending until the
//! first code confirms it), the steps already used, and recovery codes
//! (stored hashed, each usable once).

use paylink_crypto::Secret;
use sqlx::Row;

use crate::error::StoreError;
use crate::sql::{Insert, Sql};
use crate::store::Store;

fn seed_place(user_id: &str) -> String {
    format!("users.totp_seed:{user_id}")
}

impl Store {
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
            let ins = Insert::new("recovery_codes")
                .set("user_id", user_id)
                .set("code_hash", h.as_str())
                .sql();
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
}
