//! Merchant accounts.

use sqlx::Row;

use crate::db::Store;
use crate::error::StoreError;
use crate::list::Sql;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub created: i64,
}

impl Store {
    pub async fn create_account(
        &self,
        id: &str,
        name: &str,
        owner_email: &str,
        created: i64,
    ) -> Result<Account, StoreError> {
        // The owner's email is personal data: sealed with the account's key.
        let sealed = self
            .field_key(id)
            .await?
            .seal(&format!("accounts.owner_email:{id}"), owner_email)?;
        let mut tx = self.write().await?;
        let mut sql = Sql::new("INSERT INTO accounts (id, name, owner_email, created) VALUES (");
        sql.values(vec![id.into(), name.into(), sealed.into(), created.into()])
            .push(")");
        sql.query().execute(tx.conn()).await?;
        tx.commit().await?;
        Ok(Account {
            id: id.to_string(),
            name: name.to_string(),
            created,
        })
    }

    pub async fn get_account(&self, id: &str) -> Result<Account, StoreError> {
        let mut sql = Sql::new("SELECT id, name, created FROM accounts WHERE id = ");
        sql.bind(id);
        let row = sql.fetch_row(&self.pool).await?;
        Ok(Account {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            created: row.try_get("created")?,
        })
    }
}
