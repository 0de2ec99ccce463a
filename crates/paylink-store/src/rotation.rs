//! `paylink keys rotate-data`: re-encrypts one account's sealed fields
//! under a new data key, online, and destroys the old key.
//!
//! The steps keep every instance able to read throughout, although each
//! caches keys for [`crate::vault::KEY_CACHE_TTL`]:
//! 1. generation n is added as `staged`: readable, not yet used to seal;
//!    wait `settle` (longer than the cache) so every instance can open it;
//! 2. n becomes `current`; wait `settle` so every instance seals with it;
//! 3. every value of the account not yet under n is opened and sealed
//!    again, each row with a conditional update (a row changed meanwhile is
//!    picked up by the next pass), until none is left;
//! 4. the older generations' keys are deleted: what they sealed, in any old
//!    copy of the database, is unreadable from now on.
//!
//! A run that stops at any point is resumed by running it again.

use std::time::Duration;

use sqlx::Row;

use crate::error::StoreError;
use crate::sql::{Bind, Insert, Sql};
use crate::store::Store;
use crate::vault::{generation_owner, sealed_under};

/// A table with sealed columns of an account: the place of a value is
/// `table.column:<key columns joined by ':'>`.
struct Target {
    table: &'static str,
    account_col: &'static str,
    key_cols: &'static [&'static str],
    columns: &'static [&'static str],
}

const TARGETS: &[Target] = &[
    Target {
        table: "accounts",
        account_col: "id",
        key_cols: &["id"],
        columns: &["owner_email"],
    },
    Target {
        table: "customers",
        account_col: "account_id",
        key_cols: &["id"],
        columns: &[
            "email",
            "name",
            "phone",
            "address",
            "description",
            "shipping",
        ],
    },
    Target {
        table: "checkout_sessions",
        account_col: "account_id",
        key_cols: &["id"],
        columns: &[
            "customer_email",
            "customer_name",
            "customer_phone",
            "customer_address",
            "custom_fields",
            "shipping_details",
        ],
    },
    Target {
        table: "idempotency_keys",
        account_col: "account_id",
        key_cols: &["account_id", "livemode", "idem_key"],
        columns: &["sealed_body"],
    },
    Target {
        table: "invitations",
        account_col: "account_id",
        key_cols: &["id"],
        columns: &["email"],
    },
    Target {
        table: "mail_outbox",
        account_col: "account_id",
        key_cols: &["id"],
        columns: &["recipient", "body"],
    },
    Target {
        table: "events",
        account_col: "account_id",
        key_cols: &["id"],
        columns: &["data"],
    },
    Target {
        table: "webhook_endpoints",
        account_col: "account_id",
        key_cols: &["id"],
        columns: &["secret", "previous_secret"],
    },
    Target {
        table: "provider_credentials",
        account_col: "account_id",
        key_cols: &["account_id", "livemode"],
        columns: &["secret"],
    },
];

/// What a rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationReport {
    pub generation: u32,
    pub resealed: u64,
    pub destroyed_keys: u64,
}

/// One step of the rotation, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationStep {
    Staged(u32),
    Current(u32),
    Resealed(u64),
    Destroyed(u64),
}

fn key_value(row: &sqlx::any::AnyRow, col: &str) -> Result<Bind, StoreError> {
    if let Ok(s) = row.try_get::<String, _>(col) {
        return Ok(Bind::Str(s));
    }
    Ok(Bind::I64(row.try_get::<i64, _>(col)?))
}

fn bind_text(b: &Bind) -> String {
    match b {
        Bind::Str(s) => s.clone(),
        Bind::I64(i) => i.to_string(),
        Bind::OptI64(i) => i.map(|i| i.to_string()).unwrap_or_default(),
        Bind::OptStr(s) => s.clone().unwrap_or_default(),
        Bind::Bytes(_) => String::new(),
    }
}

impl Store {
    /// The generations of `owner`: (generation, state), oldest first.
    async fn generations(&self, owner: &str) -> Result<Vec<(u32, String)>, StoreError> {
        let mut sql = Sql::new("SELECT generation, state FROM data_key_generations WHERE owner = ");
        sql.bind(owner).push(" ORDER BY generation");
        sql.query()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let g: i64 = r.try_get("generation")?;
                Ok((
                    u32::try_from(g).map_err(|_| StoreError::Corrupt("generation".into()))?,
                    r.try_get("state")?,
                ))
            })
            .collect()
    }

    fn forget_keys(&self, owner: &str) {
        self.vault.forget(owner);
    }

    /// Re-encrypts `account_id`'s sealed fields under a new data key and
    /// destroys the old one (see the module documentation). `settle` must
    /// exceed the key cache lifetime of every other running instance.
    // Long: the rotation's resumable phases (stage, make current, re-seal,
    // destroy) in their order, each safe to restart; the order is the safety
    // argument (see the module documentation).
    pub async fn rotate_data_key(
        &self,
        account_id: &str,
        settle: Duration,
        progress: &mut (dyn FnMut(RotationStep) + Send),
    ) -> Result<RotationReport, StoreError> {
        self.get_account(account_id).await?;
        // Make sure generation 0 exists before anything else.
        self.field_key(account_id).await?;
        let gens = self.generations(account_id).await?;
        let newest = gens.last().cloned();
        let target = match newest {
            Some((g, state)) if state == "staged" => g,
            Some((g, _)) if self.has_older_keys(account_id, g).await? => g,
            other => {
                let g = other.map_or(1, |(g, _)| g + 1);
                let name = generation_owner(account_id, g);
                self.create_data_key(&name).await?;
                let mut tx = self.write().await?;
                let ins = Insert::new("data_key_generations")
                    .set("owner", account_id)
                    .set("generation", i64::from(g))
                    .set("state", "staged")
                    .set("created", crate::migrate::now_unix())
                    .or_skip()
                    .sql();
                ins.query().execute(tx.conn()).await?;
                tx.commit().await?;
                g
            }
        };
        let state: String = {
            let mut sql = Sql::new("SELECT state FROM data_key_generations WHERE owner = ");
            sql.bind(account_id)
                .push(" AND generation = ")
                .bind(i64::from(target));
            sql.fetch_row(&self.pool).await?.try_get("state")?
        };
        if state == "staged" {
            progress(RotationStep::Staged(target));
            self.forget_keys(account_id);
            tokio::time::sleep(settle).await;
            let mut tx = self.write().await?;
            let mut up =
                Sql::new("UPDATE data_key_generations SET state = 'current' WHERE owner = ");
            up.bind(account_id)
                .push(" AND generation = ")
                .bind(i64::from(target));
            up.query().execute(tx.conn()).await?;
            tx.commit().await?;
            self.forget_keys(account_id);
            progress(RotationStep::Current(target));
            tokio::time::sleep(settle).await;
        }
        self.forget_keys(account_id);
        let key = self.field_key(account_id).await?;
        if key.generation() != target {
            return Err(StoreError::Corrupt(format!(
                "data key generation {target} is not current"
            )));
        }
        let mut resealed = 0u64;
        loop {
            let mut pass = 0u64;
            for t in TARGETS {
                for col in t.columns {
                    pass += self.reseal_column(account_id, t, col, &key, target).await?;
                }
            }
            resealed += pass;
            progress(RotationStep::Resealed(resealed));
            if pass == 0 {
                break;
            }
        }
        // Destroy the older generations' keys.
        let mut destroyed = 0u64;
        let mut tx = self.write().await?;
        let mut names = vec![generation_owner(account_id, 0)];
        for (g, _) in self.generations(account_id).await? {
            if g < target {
                names.push(generation_owner(account_id, g));
            }
        }
        for n in &names {
            let mut del = Sql::new("DELETE FROM data_keys WHERE owner = ");
            del.bind(n.as_str());
            destroyed += del.query().execute(tx.conn()).await?.rows_affected();
        }
        let mut del = Sql::new("DELETE FROM data_key_generations WHERE owner = ");
        del.bind(account_id)
            .push(" AND generation < ")
            .bind(i64::from(target));
        del.query().execute(tx.conn()).await?;
        tx.commit().await?;
        self.forget_keys(account_id);
        progress(RotationStep::Destroyed(destroyed));
        Ok(RotationReport {
            generation: target,
            resealed,
            destroyed_keys: destroyed,
        })
    }

    async fn has_older_keys(&self, owner: &str, newest: u32) -> Result<bool, StoreError> {
        let mut names = vec![generation_owner(owner, 0)];
        names.extend((1..newest).map(|g| generation_owner(owner, g)));
        for n in names {
            let mut sel = Sql::new("SELECT 1 FROM data_keys WHERE owner = ");
            sel.bind(n.as_str());
            if sel.query().fetch_optional(&self.pool).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// One batch of values of `col` not yet sealed under `generation`.
    async fn reseal_column(
        &self,
        account_id: &str,
        t: &Target,
        col: &str,
        key: &crate::vault::FieldKey,
        generation: u32,
    ) -> Result<u64, StoreError> {
        let prefix = format!("enc2:{generation}:%");
        let mut sel = Sql::new(&format!(
            "SELECT {}, {col} FROM {} WHERE {} = ",
            t.key_cols.join(", "),
            t.table,
            t.account_col
        ));
        sel.bind(account_id)
            .push(&format!(" AND {col} IS NOT NULL AND {col} NOT LIKE "))
            .bind(prefix.as_str())
            .push(" LIMIT 200");
        let rows = sel.query().fetch_all(&self.pool).await?;
        let mut done = 0u64;
        for r in rows {
            let old: String = r.try_get(col)?;
            if sealed_under(&old, generation) {
                continue;
            }
            let keys: Vec<Bind> = t
                .key_cols
                .iter()
                .map(|c| key_value(&r, c))
                .collect::<Result<_, _>>()?;
            let suffix: Vec<String> = keys.iter().map(bind_text).collect();
            let place = format!("{}.{col}:{}", t.table, suffix.join(":"));
            let plain = key.open(&place, &old)?;
            let new = key.seal(&place, &plain)?;
            let mut tx = self.write().await?;
            let mut up = Sql::new(&format!("UPDATE {} SET {col} = ", t.table));
            up.bind(new).push(" WHERE ");
            for (i, (c, v)) in t.key_cols.iter().zip(keys).enumerate() {
                if i > 0 {
                    up.push(" AND ");
                }
                up.push(&format!("{c} = ")).bind(v);
            }
            up.push(&format!(" AND {col} = ")).bind(old);
            done += up.query().execute(tx.conn()).await?.rows_affected();
            tx.commit().await?;
        }
        Ok(done)
    }
}
