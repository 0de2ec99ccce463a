//! One-time links (password setup, reset), stored as hashes, each
//! consumed once before it expires.

use sqlx::Row;

use crate::error::StoreError;
use crate::sql::{Insert, Sql};
use crate::store::Store;

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

impl Store {
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
        let t = Insert::new("user_tokens")
            .set("token_hash", token_hash)
            .set("kind", kind.as_str())
            .set("user_id", user_id)
            .set("account_id", account_id)
            .set("created", now)
            .set("expires_at", expires_at)
            .sql();
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
}
