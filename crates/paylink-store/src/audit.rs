//! The audit log: security-relevant actions, append-only, each entry
//! chained to the previous one by HMAC-SHA256 (keyed with a key derived
//! from the instance data key) over its sequence number, fields and the
//! previous hash. [`Store::verify_audit`] walks the chain and names the
//! first entry that was edited, removed or moved.
//!
//! Entries hold ids and non-personal details only.

use hmac::{Hmac, Mac};
use paylink_crypto::Secret;
use sha2::Sha256;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::StoreError;
use crate::sql::{Insert, Sql};
use crate::store::Store;

/// Hash that the first entry chains to.
const GENESIS: &str = "genesis";
/// Purpose of the chain key.
pub const AUDIT_KEY: &str = "paylink/audit-chain/v1";

/// One action to record.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub account_id: Option<&'a str>,
    /// Who did it: an API key id, `cli`, or `system`.
    pub actor: &'a str,
    /// What, as `object.verb` (e.g. `api_key.created`).
    pub action: &'a str,
    /// The object acted on, by id.
    pub target: Option<&'a str>,
    /// Non-personal details as a JSON object.
    pub detail: serde_json::Value,
    pub now: i64,
}

/// A recorded entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub id: String,
    pub created: i64,
    pub account_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// What `verify_audit` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditCheck {
    Intact {
        entries: u64,
    },
    /// The chain breaks at this entry (the first that does not verify).
    Broken {
        seq: i64,
        id: String,
        reason: String,
    },
}

fn entry_of(r: &AnyRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: r.try_get("seq")?,
        id: r.try_get("id")?,
        created: r.try_get("created")?,
        account_id: r.try_get("account_id")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        target: r.try_get("target")?,
        detail: r.try_get("detail")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// The chain hash of an entry: every field, length-prefixed, and the
/// previous hash.
fn chain_hash(key: &Secret<Vec<u8>>, seq: i64, e: &AuditEntry, prev: &str) -> String {
    let Ok(mut m) = <Hmac<Sha256> as Mac>::new_from_slice(key.expose()) else {
        return String::new();
    };
    let fields = [
        seq.to_string(),
        e.id.clone(),
        e.created.to_string(),
        e.account_id.clone().unwrap_or_default(),
        e.actor.clone(),
        e.action.clone(),
        e.target.clone().unwrap_or_default(),
        e.detail.clone(),
        prev.to_string(),
    ];
    for f in fields {
        m.update(&(f.len() as u64).to_be_bytes());
        m.update(f.as_bytes());
    }
    m.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const COLS: &str = "seq, id, created, account_id, actor, action, target, detail, prev_hash, hash";

impl Store {
    /// Appends one entry to the chain.
    pub async fn audit(&self, ev: AuditEvent<'_>) -> Result<(), StoreError> {
        let key = self.instance_secret(AUDIT_KEY).await?;
        let id = paylink_domain::id::generate(paylink_domain::IdKind::AuditEntry)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.write().await?;
        self.lock_audit_chain(&mut tx).await?;
        let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(tx.conn())
            .await?;
        let (prev_seq, prev_hash) = match last {
            Some(r) => (r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?),
            None => (0, GENESIS.to_string()),
        };
        // The sequence number is part of the hash: take the next one
        // explicitly (appends are serialised above).
        let seq = prev_seq + 1;
        let mut e = AuditEntry {
            seq,
            id,
            created: ev.now,
            account_id: ev.account_id.map(str::to_string),
            actor: ev.actor.to_string(),
            action: ev.action.to_string(),
            target: ev.target.map(str::to_string),
            detail: ev.detail.to_string(),
            prev_hash: prev_hash.clone(),
            hash: String::new(),
        };
        e.hash = chain_hash(&key, seq, &e, &prev_hash);
        let ins = Insert::new("audit_log")
            .set("seq", seq)
            .set("id", e.id.as_str())
            .set("created", e.created)
            .set("account_id", e.account_id.clone())
            .set("actor", e.actor.as_str())
            .set("action", e.action.as_str())
            .set("target", e.target.clone())
            .set("detail", e.detail.as_str())
            .set("prev_hash", e.prev_hash.as_str())
            .set("hash", e.hash.as_str())
            .sql();
        ins.query().execute(tx.conn()).await?;
        tx.commit().await
    }

    /// Entries in order, optionally of one account.
    pub async fn audit_entries(
        &self,
        account_id: Option<&str>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = Sql::new(&format!("SELECT {COLS} FROM audit_log"));
        if let Some(a) = account_id {
            sql.push(" WHERE account_id = ").bind(a);
        }
        sql.push(" ORDER BY seq");
        sql.query()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(entry_of)
            .collect()
    }

    /// Walks the whole chain.
    pub async fn verify_audit(&self) -> Result<AuditCheck, StoreError> {
        let key = self.instance_secret(AUDIT_KEY).await?;
        let entries = self.audit_entries(None).await?;
        let mut prev_seq = 0;
        let mut prev_hash = GENESIS.to_string();
        for e in &entries {
            let broken = |reason: &str| AuditCheck::Broken {
                seq: e.seq,
                id: e.id.clone(),
                reason: reason.to_string(),
            };
            if e.seq != prev_seq + 1 {
                return Ok(broken("an entry before it is missing"));
            }
            if e.prev_hash != prev_hash {
                return Ok(broken(
                    "it does not follow the entry before it (removed or reordered)",
                ));
            }
            if !paylink_crypto::ct_eq(
                chain_hash(&key, e.seq, e, &prev_hash).as_bytes(),
                e.hash.as_bytes(),
            ) {
                return Ok(broken("its content was changed"));
            }
            prev_seq = e.seq;
            prev_hash = e.hash.clone();
        }
        Ok(AuditCheck::Intact {
            entries: entries.len() as u64,
        })
    }
}
