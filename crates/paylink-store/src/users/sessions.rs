//! Server-side dashboard sessions: found by the hash of their cookie's
//! token, at a sign-in stage, ended one by one or all at once.

use sqlx::Row;

use crate::error::StoreError;
use crate::sql::{get_bool, Insert, Sql};
use crate::store::Store;

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

const SESSION_COLS: &str =
    "id, user_id, account_id, livemode, stage, created, last_seen, auth_time, ip, user_agent";

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

pub(super) async fn end_sessions_in(
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

impl Store {
    pub async fn create_session(&self, s: NewSession<'_>) -> Result<(), StoreError> {
        let ua: String = s.user_agent.chars().take(300).collect();
        let sql = Insert::new("dashboard_sessions")
            .set("id", s.id)
            .set("token_hash", s.token_hash)
            .set("user_id", s.user_id)
            .set("account_id", s.account_id)
            .set("livemode", s.livemode)
            .set("stage", s.stage.as_str())
            .set("created", s.now)
            .set("last_seen", s.now)
            .set("auth_time", s.now)
            .set("ip", s.ip)
            .set("user_agent", ua)
            .sql();
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
}
