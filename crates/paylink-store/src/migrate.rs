//! Versioned migrations, one folder per backend, embedded in the binary.
//! Applied in order, each in its own transaction; an applied migration whose
//! text changed stops start-up. On PostgreSQL an advisory lock keeps
//! concurrent instances from migrating at once.

use sqlx::Row;

use crate::db::{Backend, Database};
use crate::error::StoreError;
use crate::sql::Insert;

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "payments",
        sql: include_str!("../migrations/sqlite/0002_payments.sql"),
    },
    Migration {
        version: 3,
        name: "data_keys",
        sql: include_str!("../migrations/sqlite/0003_data_keys.sql"),
    },
    Migration {
        version: 4,
        name: "audit_log",
        sql: include_str!("../migrations/sqlite/0004_audit_log.sql"),
    },
    Migration {
        version: 5,
        name: "retention",
        sql: include_str!("../migrations/sqlite/0005_retention.sql"),
    },
    Migration {
        version: 6,
        name: "provider_credentials",
        sql: include_str!("../migrations/sqlite/0006_provider_credentials.sql"),
    },
    Migration {
        version: 7,
        name: "link_slugs",
        sql: include_str!("../migrations/sqlite/0007_link_slugs.sql"),
    },
    Migration {
        version: 8,
        name: "dashboard",
        sql: include_str!("../migrations/sqlite/0008_dashboard.sql"),
    },
    Migration {
        version: 9,
        name: "data_key_generations",
        sql: include_str!("../migrations/sqlite/0009_data_key_generations.sql"),
    },
    Migration {
        version: 10,
        name: "files",
        sql: include_str!("../migrations/sqlite/0010_files.sql"),
    },
    Migration {
        version: 11,
        name: "security_review",
        sql: include_str!("../migrations/sqlite/0011_security_review.sql"),
    },
    Migration {
        version: 12,
        name: "reliability",
        sql: include_str!("../migrations/sqlite/0012_reliability.sql"),
    },
    Migration {
        version: 13,
        name: "performance",
        sql: include_str!("../migrations/sqlite/0013_performance.sql"),
    },
    Migration {
        version: 14,
        name: "events",
        sql: include_str!("../migrations/sqlite/0014_events.sql"),
    },
    Migration {
        version: 15,
        name: "webhooks",
        sql: include_str!("../migrations/sqlite/0015_webhooks.sql"),
    },
    Migration {
        version: 16,
        name: "key_kinds",
        sql: include_str!("../migrations/sqlite/0016_key_kinds.sql"),
    },
    Migration {
        version: 17,
        name: "key_life",
        sql: include_str!("../migrations/sqlite/0017_key_life.sql"),
    },
    Migration {
        version: 18,
        name: "delivery_leases",
        sql: include_str!("../migrations/sqlite/0018_delivery_leases.sql"),
    },
    Migration {
        version: 19,
        name: "payment_errors",
        sql: include_str!("../migrations/sqlite/0019_payment_errors.sql"),
    },
    Migration {
        version: 20,
        name: "client_reference",
        sql: include_str!("../migrations/sqlite/0020_client_reference.sql"),
    },
    Migration {
        version: 21,
        name: "api_sessions",
        sql: include_str!("../migrations/sqlite/0021_api_sessions.sql"),
    },
    Migration {
        version: 22,
        name: "payment_intent_data",
        sql: include_str!("../migrations/sqlite/0022_payment_intent_data.sql"),
    },
    Migration {
        version: 23,
        name: "custom_text",
        sql: include_str!("../migrations/sqlite/0023_custom_text.sql"),
    },
    Migration {
        version: 24,
        name: "shipping",
        sql: include_str!("../migrations/sqlite/0024_shipping.sql"),
    },
    Migration {
        version: 25,
        name: "terms_consent",
        sql: include_str!("../migrations/sqlite/0025_terms_consent.sql"),
    },
    Migration {
        version: 26,
        name: "customer_details",
        sql: include_str!("../migrations/sqlite/0026_customer_details.sql"),
    },
    Migration {
        version: 27,
        name: "session_page",
        sql: include_str!("../migrations/sqlite/0027_session_page.sql"),
    },
];

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "payments",
        sql: include_str!("../migrations/postgres/0002_payments.sql"),
    },
    Migration {
        version: 3,
        name: "data_keys",
        sql: include_str!("../migrations/postgres/0003_data_keys.sql"),
    },
    Migration {
        version: 4,
        name: "audit_log",
        sql: include_str!("../migrations/postgres/0004_audit_log.sql"),
    },
    Migration {
        version: 5,
        name: "retention",
        sql: include_str!("../migrations/postgres/0005_retention.sql"),
    },
    Migration {
        version: 6,
        name: "provider_credentials",
        sql: include_str!("../migrations/postgres/0006_provider_credentials.sql"),
    },
    Migration {
        version: 7,
        name: "link_slugs",
        sql: include_str!("../migrations/postgres/0007_link_slugs.sql"),
    },
    Migration {
        version: 8,
        name: "dashboard",
        sql: include_str!("../migrations/postgres/0008_dashboard.sql"),
    },
    Migration {
        version: 9,
        name: "data_key_generations",
        sql: include_str!("../migrations/postgres/0009_data_key_generations.sql"),
    },
    Migration {
        version: 10,
        name: "files",
        sql: include_str!("../migrations/postgres/0010_files.sql"),
    },
    Migration {
        version: 11,
        name: "security_review",
        sql: include_str!("../migrations/postgres/0011_security_review.sql"),
    },
    Migration {
        version: 12,
        name: "reliability",
        sql: include_str!("../migrations/postgres/0012_reliability.sql"),
    },
    Migration {
        version: 13,
        name: "performance",
        sql: include_str!("../migrations/postgres/0013_performance.sql"),
    },
    Migration {
        version: 14,
        name: "events",
        sql: include_str!("../migrations/postgres/0014_events.sql"),
    },
    Migration {
        version: 15,
        name: "webhooks",
        sql: include_str!("../migrations/postgres/0015_webhooks.sql"),
    },
    Migration {
        version: 16,
        name: "key_kinds",
        sql: include_str!("../migrations/postgres/0016_key_kinds.sql"),
    },
    Migration {
        version: 17,
        name: "key_life",
        sql: include_str!("../migrations/postgres/0017_key_life.sql"),
    },
    Migration {
        version: 18,
        name: "delivery_leases",
        sql: include_str!("../migrations/postgres/0018_delivery_leases.sql"),
    },
    Migration {
        version: 19,
        name: "payment_errors",
        sql: include_str!("../migrations/postgres/0019_payment_errors.sql"),
    },
    Migration {
        version: 20,
        name: "client_reference",
        sql: include_str!("../migrations/postgres/0020_client_reference.sql"),
    },
    Migration {
        version: 21,
        name: "api_sessions",
        sql: include_str!("../migrations/postgres/0021_api_sessions.sql"),
    },
    Migration {
        version: 22,
        name: "payment_intent_data",
        sql: include_str!("../migrations/postgres/0022_payment_intent_data.sql"),
    },
    Migration {
        version: 23,
        name: "custom_text",
        sql: include_str!("../migrations/postgres/0023_custom_text.sql"),
    },
    Migration {
        version: 24,
        name: "shipping",
        sql: include_str!("../migrations/postgres/0024_shipping.sql"),
    },
    Migration {
        version: 25,
        name: "terms_consent",
        sql: include_str!("../migrations/postgres/0025_terms_consent.sql"),
    },
    Migration {
        version: 26,
        name: "customer_details",
        sql: include_str!("../migrations/postgres/0026_customer_details.sql"),
    },
    Migration {
        version: 27,
        name: "session_page",
        sql: include_str!("../migrations/postgres/0027_session_page.sql"),
    },
];

/// What `migrate` did.
#[derive(Debug, Default)]
pub struct MigrationReport {
    pub applied: Vec<(i64, &'static str)>,
    pub current: i64,
}

impl Database {
    fn migrations(&self) -> &'static [Migration] {
        match self.backend() {
            Backend::Sqlite => SQLITE,
            Backend::Postgres => POSTGRES,
        }
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let mut tx = self.write().await?;
        self.lock_migrations(&mut tx).await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(tx.conn())
        .await?;
        let rows = sqlx::query("SELECT version, checksum FROM schema_migrations ORDER BY version")
            .fetch_all(tx.conn())
            .await?;
        let mut applied = Vec::new();
        for r in rows {
            applied.push((r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?));
        }
        let mut report = MigrationReport::default();
        for m in self.migrations() {
            let sum = paylink_crypto::sha256_hex(m.sql.as_bytes());
            if let Some((_, stored)) = applied.iter().find(|(v, _)| *v == m.version) {
                if *stored != sum {
                    return Err(StoreError::Migration(format!(
                        "migration {} ({}) was changed after it was applied",
                        m.version, m.name
                    )));
                }
                report.current = m.version;
                continue;
            }
            sqlx::raw_sql(m.sql).execute(tx.conn()).await?;
            Insert::new("schema_migrations")
                .set("version", m.version)
                .set("name", m.name)
                .set("checksum", sum)
                .set("applied_at", now_unix())
                .sql()
                .query()
                .execute(tx.conn())
                .await?;
            report.applied.push((m.version, m.name));
            report.current = m.version;
        }
        if let Some(max) = applied.iter().map(|(v, _)| *v).max() {
            if max > report.current {
                return Err(StoreError::Migration(format!(
                    "the database is at schema version {max}, newer than this binary knows ({}); upgrade paylink",
                    report.current
                )));
            }
        }
        tx.commit().await?;
        Ok(report)
    }
}

pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
