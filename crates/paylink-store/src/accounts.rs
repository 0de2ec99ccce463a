//! Merchant accounts.

use sqlx::Row;

use crate::error::StoreError;
use crate::sql::{get_bool, Insert, Sql};
use crate::store::Store;

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
        // The account's data key is made with it; the owner's email is
        // personal data, sealed with that key.
        let mut tx = self.write().await?;
        let sealed = self
            .new_field_key(&mut tx, id)
            .await?
            .seal(&format!("accounts.owner_email:{id}"), owner_email)?;
        let sql = Insert::new("accounts")
            .set("id", id)
            .set("name", name)
            .set("owner_email", sealed)
            .set("created", created)
            .sql();
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
        self.pages_changed();
        self.keys.clear();
        self.vault.forget(id);
        Ok(destroyed)
    }
}

/// Account settings shown on the checkout page and used by providers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSettings {
    pub name: String,
    pub primary_color: String,
    pub require_3ds: bool,
    /// The merchant's terms of service, linked beside the checkbox of a
    /// page that asks the buyer to accept them.
    pub terms_url: Option<String>,
}

impl Store {
    pub async fn account_settings(&self, account_id: &str) -> Result<AccountSettings, StoreError> {
        let mut sql = Sql::new(
            "SELECT name, primary_color, require_3ds, terms_url FROM accounts WHERE id = ",
        );
        sql.bind(account_id);
        let row = sql.fetch_row(&self.pool).await?;
        Ok(AccountSettings {
            name: row.try_get("name")?,
            primary_color: row.try_get("primary_color")?,
            require_3ds: get_bool(&row, "require_3ds")?,
            terms_url: row.try_get("terms_url")?,
        })
    }

    pub async fn update_account_settings(
        &self,
        account_id: &str,
        primary_color: Option<&str>,
        require_3ds: Option<bool>,
        terms_url: Option<Option<&str>>,
    ) -> Result<AccountSettings, StoreError> {
        let mut tx = self.write().await?;
        if let Some(c) = primary_color {
            let mut up = Sql::new("UPDATE accounts SET primary_color = ");
            up.bind(c).push(" WHERE id = ").bind(account_id);
            up.query().execute(tx.conn()).await?;
        }
        if let Some(r) = require_3ds {
            let mut up = Sql::new("UPDATE accounts SET require_3ds = ");
            up.bind(r).push(" WHERE id = ").bind(account_id);
            up.query().execute(tx.conn()).await?;
        }
        if let Some(t) = terms_url {
            let mut up = Sql::new("UPDATE accounts SET terms_url = ");
            up.bind(t.map(str::to_string))
                .push(" WHERE id = ")
                .bind(account_id);
            up.query().execute(tx.conn()).await?;
        }
        tx.commit().await?;
        self.pages_changed();
        self.account_settings(account_id).await
    }
}

impl Store {
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
        // Keys carry their account's allowlist.
        self.keys.clear();
        Ok(())
    }
}
