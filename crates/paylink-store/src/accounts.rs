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

    /// Deletes an account with everything it holds, and destroys its data
    /// keys (every generation): its sealed data, wherever a copy of it
    /// survives, can no longer be opened with this instance's keys. The
    /// audit log keeps its entries (they hold ids, not personal data).
    /// Returns how many data keys were destroyed.
    pub async fn delete_account(&self, id: &str) -> Result<u64, StoreError> {
        self.get_account(id).await?;
        let mut gens = Sql::new("SELECT generation FROM data_key_generations WHERE owner = ");
        gens.bind(id);
        let mut names = vec![id.to_string()];
        for r in gens.query().fetch_all(&self.pool).await? {
            let g: i64 = r.try_get("generation")?;
            let g = u32::try_from(g).map_err(|_| StoreError::Corrupt("generation".into()))?;
            names.push(crate::vault::generation_owner(id, g));
        }
        let mut tx = self.write().await?;
        // Children whose foreign keys do not cascade go first.
        for table in [
            "payment_link_items",
            "payment_links",
            "promotion_codes",
            "coupons",
            "prices",
            "products",
            "dashboard_sessions",
            "security_outbox",
            "files",
            "invitations",
            "mail_outbox",
            "idempotency_keys",
        ] {
            let mut del = Sql::new(&format!("DELETE FROM {table} WHERE account_id = "));
            del.bind(id);
            del.query().execute(tx.conn()).await?;
        }
        let mut destroyed = 0;
        for n in &names {
            let mut del = Sql::new("DELETE FROM data_keys WHERE owner = ");
            del.bind(n.as_str());
            destroyed += del.query().execute(tx.conn()).await?.rows_affected();
        }
        let mut del = Sql::new("DELETE FROM data_key_generations WHERE owner = ");
        del.bind(id);
        del.query().execute(tx.conn()).await?;
        let mut del = Sql::new("DELETE FROM accounts WHERE id = ");
        del.bind(id);
        del.query().execute(tx.conn()).await?;
        tx.commit().await?;
        if let Some(v) = &self.vault {
            v.forget(id);
        }
        Ok(destroyed)
    }
}
