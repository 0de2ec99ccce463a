//! Security notices (new sign-in, second factor changed, …) waiting to be
//! sent to a user.

use sqlx::Row;

use crate::error::StoreError;
use crate::sql::{Insert, Sql};
use crate::store::Store;

/// A security notice waiting in the outbox (or already sent).
#[derive(Debug, Clone)]
pub struct SecurityNotice {
    pub id: String,
    pub created: i64,
    pub user_id: Option<String>,
    pub kind: String,
    pub detail: serde_json::Value,
}

impl Store {
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
        let sql = Insert::new("security_outbox")
            .set("id", id)
            .set("created", now)
            .set("account_id", account_id)
            .set("user_id", user_id)
            .set("kind", kind)
            .set("detail", detail.to_string())
            .sql();
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
