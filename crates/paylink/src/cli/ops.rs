//! The operator's commands on the data: `init`, `migrate`, `audit`,
//! `retention` and `outbox`.

use paylink_domain::AccountId;
use std::io::Write;

use serde_json::json;

use super::logging::LOG_RETENTION_DAYS;
use super::{AuditCommand, DataArgs, OutboxCommand, RetentionCommand};
use crate::app::{self, AppError};

/// Creates the data directory, key file and database.
pub async fn init(data: DataArgs, out: &mut dyn Write) -> Result<(), AppError> {
    let opened = app::open(&data.options()).await?;
    let report = opened.store.migrate().await?;
    writeln!(
        out,
        "Initialised {} (schema version {})",
        data.data_dir.display(),
        report.current
    )?;
    Ok(())
}

/// Applies pending migrations.
pub async fn migrate(data: DataArgs, out: &mut dyn Write) -> Result<(), AppError> {
    let opts = data.options();
    let database = app::open_database(&opts).await?;
    let report = database.migrate().await?;
    if report.applied.is_empty() {
        writeln!(
            out,
            "Database is up to date (schema version {}).",
            report.current
        )?;
    } else {
        for (v, name) in &report.applied {
            writeln!(out, "Applied migration {v} ({name})")?;
        }
    }
    Ok(())
}

/// Runs one `audit` command, printing to `out`.
pub async fn audit(cmd: AuditCommand, out: &mut dyn Write) -> Result<(), AppError> {
    match cmd {
        AuditCommand::Verify(data) => audit_verify(data, out).await,
        AuditCommand::Export { data, account } => audit_export(data, account, out).await,
    }
}

/// Walks the hash chain; a broken link is an error naming the entry.
async fn audit_verify(data: DataArgs, out: &mut dyn Write) -> Result<(), AppError> {
    let opened = app::open(&data.options()).await?;
    match opened.store.verify_audit().await? {
        paylink_store::audit::AuditCheck::Intact { entries } => {
            writeln!(out, "audit log intact: {entries} entries")?;
            Ok(())
        }
        paylink_store::audit::AuditCheck::Broken { seq, id, reason } => Err(AppError::Invalid(
            format!("audit log broken at entry #{seq} ({id}): {reason}"),
        )),
    }
}

/// The entries as JSON lines, oldest first.
async fn audit_export(
    data: DataArgs,
    account: Option<AccountId>,
    out: &mut dyn Write,
) -> Result<(), AppError> {
    let opened = app::open(&data.options()).await?;
    for e in opened.store.audit_entries(account.as_deref()).await? {
        writeln!(
            out,
            "{}",
            serde_json::to_string(&e).map_err(|e| AppError::Invalid(e.to_string()))?
        )?;
    }
    Ok(())
}

/// Runs one `retention` command at `now`, printing to `out`.
pub async fn retention(
    cmd: RetentionCommand,
    now: i64,
    out: &mut dyn Write,
) -> Result<(), AppError> {
    match cmd {
        RetentionCommand::Status { data, retention } => {
            let opened = app::open(&data.options()).await?;
            writeln!(
                out,
                "log files: kept {LOG_RETENTION_DAYS} days (with --log-dir)"
            )?;
            for l in paylink_jobs::status(&opened.store, now, &retention.periods()).await? {
                writeln!(out, "{}: kept {}; due now: {}", l.what, l.kept, l.due)?;
            }
            Ok(())
        }
        RetentionCommand::Purge { data, retention } => {
            let opened = app::open(&data.options()).await?;
            let r = paylink_jobs::purge_once(&opened.store, now, &retention.periods()).await?;
            writeln!(out,
            "expired {} session(s); erased {} abandoned checkout(s); removed {} idempotency record(s), {} provider event(s) and {} sign-in record(s)",
            r.expired_sessions, r.abandoned_checkouts, r.idempotency_records, r.provider_events, r.sign_in_records
        )?;
            Ok(())
        }
    }
}

/// Runs one `outbox` command, printing to `out`.
pub async fn outbox(cmd: OutboxCommand, out: &mut dyn Write) -> Result<(), AppError> {
    let OutboxCommand::List { data, json } = cmd;
    let opened = app::open(&data.options()).await?;
    for m in opened.store.outbox(0).await? {
        if json {
            writeln!(
                out,
                "{}",
                json!({"id": m.id, "account": m.account_id, "created": m.created, "kind": m.kind, "to": m.to, "body": m.body.expose()})
            )?;
        } else {
            writeln!(
                out,
                "--- {} · {} · to {} ({})",
                m.id, m.kind, m.to, m.account_id
            )?;
            writeln!(out, "{}\n", m.body.expose())?;
        }
    }
    Ok(())
}
