//! Dashboard users: who they are (email sealed under the user's own data
//! key, found by a blind index), their password hash and TOTP seed (sealed),
//! the accounts they belong to with a role in each, one-time setup and
//! invitation links, server-side sessions, recovery codes, and the
//! brute-force counters (per user and per client IP) that every instance
//! shares through the database.
//!
//! Tokens and codes arrive here already hashed; nothing in this module
//! sees a plaintext token, password or code.
//!
//! By aggregate: the user here; [`members`], [`sessions`], [`tokens`],
//! [`second_factor`], [`throttle`] and [`notices`] beside it.

pub mod members;
pub mod notices;
pub mod second_factor;
pub mod sessions;
pub mod throttle;
pub mod tokens;

pub use members::{Member, Membership};
pub use notices::SecurityNotice;
pub use sessions::{NewSession, SessionRecord, Stage};
pub use throttle::CODE_TRIES;
pub use tokens::{TokenGrant, TokenKind};

use sqlx::Row;

use crate::error::StoreError;
use crate::sql::Sql;
use crate::store::Store;

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

const USER_COLS: &str = "id, email, password_hash, totp_seed, failed_count, locked_until, code_failed_count, code_locked_until, created, last_login, last_seen";

fn email_place(user_id: &str) -> String {
    format!("users.email:{user_id}")
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
}
