//! Merchants' provider credentials: pasted once, checked with the provider,
//! sealed with the account's data key, shown afterwards only as their last
//! four characters, and wiped from storage on disconnect.

use paylink_crypto::Secret;
use sqlx::Row;

use crate::error::StoreError;
use crate::sql::{Insert, Sql};
use crate::store::Store;
use crate::Scope;

/// What may be shown of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub provider: String,
    pub last4: String,
    pub provider_account: String,
    pub created: i64,
}

fn place(scope: &Scope) -> String {
    format!(
        "provider_credentials.secret:{}:{}",
        scope.account_id,
        scope.livemode_i64()
    )
}

impl Store {
    /// Stores (or replaces) the credential of `scope`.
    pub async fn connect_provider(
        &self,
        scope: &Scope,
        provider: &str,
        secret: &Secret<String>,
        provider_account: &str,
        now: i64,
    ) -> Result<Connection, StoreError> {
        let sealed = self
            .field_key(&scope.account_id)
            .await?
            .seal(&place(scope), secret.expose())?;
        let s = secret.expose();
        let last4 = s.get(s.len().saturating_sub(4)..).unwrap_or("").to_string();
        let mut tx = self.write().await?;
        let mut del = Sql::new("DELETE FROM provider_credentials WHERE ");
        del.scope(scope);
        del.query().execute(tx.conn()).await?;
        let ins = Insert::new("provider_credentials")
            .set("account_id", scope.account_id.as_str())
            .set("livemode", scope.livemode)
            .set("provider", provider)
            .set("secret", sealed)
            .set("last4", last4.as_str())
            .set("provider_account", provider_account)
            .set("created", now)
            .sql();
        ins.query().execute(tx.conn()).await?;
        tx.commit().await?;
        Ok(Connection {
            provider: provider.into(),
            last4,
            provider_account: provider_account.into(),
            created: now,
        })
    }

    /// What may be shown of the connection of `scope`.
    pub async fn provider_connection(
        &self,
        scope: &Scope,
    ) -> Result<Option<Connection>, StoreError> {
        let mut sel = Sql::new(
            "SELECT provider, last4, provider_account, created FROM provider_credentials WHERE ",
        );
        sel.scope(scope);
        let row = sel.query().fetch_optional(&self.pool).await?;
        row.map(|r| {
            Ok(Connection {
                provider: r.try_get("provider")?,
                last4: r.try_get("last4")?,
                provider_account: r.try_get("provider_account")?,
                created: r.try_get("created")?,
            })
        })
        .transpose()
    }

    /// The credential itself, opened, for a call to the provider, with the
    /// provider's id of the merchant it belongs to.
    pub async fn provider_credential(
        &self,
        scope: &Scope,
    ) -> Result<Option<(String, Secret<String>)>, StoreError> {
        let mut sel = Sql::new("SELECT provider_account, secret FROM provider_credentials WHERE ");
        sel.scope(scope);
        let Some(r) = sel.query().fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let sealed: String = r.try_get("secret")?;
        let secret = self
            .field_key(&scope.account_id)
            .await?
            .open(&place(scope), &sealed)?;
        Ok(Some((r.try_get("provider_account")?, Secret::new(secret))))
    }

    /// Deletes the credential of `scope` and wipes it from storage: on
    /// SQLite the row's bytes are overwritten (`secure_delete`) and the WAL
    /// is checkpointed and truncated; on PostgreSQL the table is rewritten
    /// (`VACUUM FULL`) so no dead copy remains in its files. Returns whether
    /// there was one.
    pub async fn disconnect_provider(&self, scope: &Scope) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let mut del = Sql::new("DELETE FROM provider_credentials WHERE ");
        del.scope(scope);
        let existed = del.query().execute(tx.conn()).await?.rows_affected() > 0;
        tx.commit().await?;
        self.wipe_deleted("provider_credentials").await?;
        Ok(existed)
    }
}
