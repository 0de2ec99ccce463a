//! `paylink keys …`: API keys, and the master and data keys of the
//! envelope encryption (rotation, status, retirement).

use paylink_domain::AccountId;
use std::io::Write;

use paylink_crypto::Mode;
use paylink_domain::Clock;
use serde_json::json;

use super::{DataArgs, KeyKindArg, KeysCommand, ModeArg};
use crate::app::{self, AppError};
use paylink_crypto::ApiKeyKind;

/// Runs one `keys` command, printing to `out`; its audit entry carries
/// the time the work finished (a rotation can take minutes).
pub async fn run(cmd: KeysCommand, clock: &dyn Clock, out: &mut dyn Write) -> Result<(), AppError> {
    match cmd {
        KeysCommand::Create {
            kind,
            permissions,
            name,
            expires_in_days,
            allow_ip,
            data,
            account,
            mode,
            json,
        } => {
            let wanted = Wanted {
                kind,
                permissions,
                name,
                expires_in_days,
                allow_ip,
            };
            create(data, account, mode, wanted, json, clock.now(), out).await
        }
        KeysCommand::RotateMaster { data, batch } => rotate_master(data, batch, clock, out).await,
        KeysCommand::RotateData {
            data,
            account,
            settle_secs,
        } => rotate_data(data, account, settle_secs, clock, out).await,
        KeysCommand::Retire { data, version } => retire(data, version, clock.now(), out).await,
        KeysCommand::Status { data } => status(data, out).await,
        KeysCommand::Roll {
            data,
            account,
            mode,
            key,
            overlap,
        } => roll(data, account, mode, &key, &overlap, clock.now(), out).await,
        KeysCommand::Revoke {
            data,
            account,
            mode,
            key,
        } => revoke(data, account, mode, &key, clock.now(), out).await,
        KeysCommand::List {
            data,
            account,
            mode,
        } => list(data, account, mode, clock.now(), out).await,
    }
}

/// The key `keys create` is asked for.
struct Wanted {
    kind: KeyKindArg,
    permissions: Vec<String>,
    name: Option<String>,
    expires_in_days: Option<i64>,
    allow_ip: Vec<paylink_domain::net::Cidr>,
}

fn scope_of(account: &AccountId, mode: ModeArg) -> paylink_store::Scope {
    paylink_store::Scope {
        account_id: account.to_string(),
        livemode: matches!(mode, ModeArg::Live),
    }
}

/// A new key like `key`, printed once; the old one stops after `overlap`.
async fn roll(
    data: DataArgs,
    account: AccountId,
    mode: ModeArg,
    key: &str,
    overlap: &str,
    now: i64,
    out: &mut dyn Write,
) -> Result<(), AppError> {
    let secs = match overlap {
        "now" | "0" => 0,
        "1h" => 3_600,
        "24h" => 86_400,
        "7d" => 7 * 86_400,
        other => {
            return Err(AppError::Invalid(format!(
                "--overlap {other:?}: use now, 1h, 24h or 7d"
            )))
        }
    };
    let opened = app::open(&data.options()).await?;
    let scope = scope_of(&account, mode);
    let pepper = opened.store.instance_secret(app::API_KEY_PEPPER).await?;
    let (id, secret) = opened
        .store
        .roll_api_key(&scope, key, "cli", &pepper, now, now + secs)
        .await
        .map_err(|e| match e {
            paylink_store::StoreError::NotFound => {
                AppError::Invalid(format!("no active key {key} in this account and mode"))
            }
            other => other.into(),
        })?;
    opened
        .store
        .audit(paylink_store::audit::AuditEvent {
            account_id: Some(&scope.account_id),
            actor: "cli",
            action: "api_key.rolled",
            target: Some(key),
            detail: json!({"new_key": id, "old_works_for_secs": secs}),
            now,
        })
        .await?;
    writeln!(out, "{}", secret.expose())?;
    eprintln!("New key {id}, shown once; the old key {key} stops working in {overlap}.");
    Ok(())
}

async fn revoke(
    data: DataArgs,
    account: AccountId,
    mode: ModeArg,
    key: &str,
    now: i64,
    out: &mut dyn Write,
) -> Result<(), AppError> {
    let opened = app::open(&data.options()).await?;
    let scope = scope_of(&account, mode);
    if !opened.store.revoke_api_key(&scope, key, now).await? {
        return Err(AppError::Invalid(format!(
            "no active key {key} in this account and mode"
        )));
    }
    opened
        .store
        .audit(paylink_store::audit::AuditEvent {
            account_id: Some(&scope.account_id),
            actor: "cli",
            action: "api_key.revoked",
            target: Some(key),
            detail: json!({}),
            now,
        })
        .await?;
    writeln!(out, "revoked {key}")?;
    Ok(())
}

async fn list(
    data: DataArgs,
    account: AccountId,
    mode: ModeArg,
    now: i64,
    out: &mut dyn Write,
) -> Result<(), AppError> {
    let opened = app::open(&data.options()).await?;
    let scope = scope_of(&account, mode);
    for k in opened.store.list_api_keys(&scope).await? {
        let prefix = ApiKeyKind::parse(&k.kind).map_or("??", |x| x.prefix());
        let state = if k.active(now) {
            "active"
        } else if k.revoked_at.is_some() {
            "revoked"
        } else {
            "expired"
        };
        writeln!(
            out,
            "{}\t{prefix}_{}_…{}\t{}\t{state}\t{}\t{}",
            k.id,
            if scope.livemode { "live" } else { "test" },
            k.last4,
            k.kind,
            k.name.unwrap_or_default(),
            k.permissions.unwrap_or_default()
        )?;
    }
    Ok(())
}

/// An API key, printed once.
async fn create(
    data: DataArgs,
    account: AccountId,
    mode: ModeArg,
    wanted: Wanted,
    json: bool,
    now: i64,
    out: &mut dyn Write,
) -> Result<(), AppError> {
    let kind = match wanted.kind {
        KeyKindArg::Secret => ApiKeyKind::Secret,
        KeyKindArg::Restricted => ApiKeyKind::Restricted,
        KeyKindArg::Publishable => ApiKeyKind::Publishable,
    };
    let permissions = match kind {
        ApiKeyKind::Restricted => Some(
            paylink_domain::access::Permissions::parse(
                wanted
                    .permissions
                    .iter()
                    .map(|p| p.split_once('=').unwrap_or((p.as_str(), ""))),
            )
            .map_err(|e| AppError::Invalid(format!("--permission: {e}")))?
            .to_text(),
        ),
        _ if !wanted.permissions.is_empty() => {
            return Err(AppError::Invalid(
                "--permission is for restricted keys only (--kind restricted)".into(),
            ))
        }
        _ => None,
    };
    let opened = app::open(&data.options()).await?;
    let mode = match mode {
        ModeArg::Test => Mode::Test,
        ModeArg::Live => Mode::Live,
    };
    let ranges = wanted
        .allow_ip
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let spec = paylink_store::api_keys::KeySpec {
        kind,
        permissions: permissions.as_deref(),
        name: wanted.name.as_deref(),
        created_by: "cli",
        allowed_ips: (!ranges.is_empty()).then_some(ranges.as_str()),
        expires_at: wanted.expires_in_days.map(|d| now + d * 86_400),
    };
    let key = app::create_key_with(&opened, &account, mode, spec, now).await?;
    if json {
        writeln!(
            out,
            "{}",
            json!({"id": key.id, "object": "api_key", "type": kind.as_str(), "account": account, "livemode": key.livemode, "permissions": permissions, "name": wanted.name, "secret": key.secret.expose()})
        )?;
    } else {
        writeln!(out, "{}", key.secret.expose())?;
        eprintln!(
            "This key ({}) is shown once and only its hash is stored: keep it now.",
            key.id
        );
    }
    Ok(())
}

/// A new master key version, and every data key re-wrapped under it
/// (resuming an interrupted run).
async fn rotate_master(
    data: DataArgs,
    batch: i64,
    clock: &dyn Clock,
    out: &mut dyn Write,
) -> Result<(), AppError> {
    let opened = app::open(&data.options()).await?;
    let path = opened.key_path.clone().ok_or_else(|| {
            AppError::Invalid("rotation needs a key file: PAYLINK_MASTER_KEY holds a single key; unset it to use --data-dir's key file".into())
        })?;
    let keys = paylink_crypto::KeyFile::load(&path)?;
    let current = i64::from(keys.current().version);
    let status = opened.store.data_key_status().await?;
    let behind: i64 = status
        .iter()
        .filter(|(v, _)| *v < current)
        .map(|(_, n)| n)
        .sum();
    let mut keys = keys;
    if behind > 0 {
        eprintln!("Resuming: {behind} data key(s) are still under an older master key than version {current}.");
    } else {
        let v = keys.add_version(&path)?;
        eprintln!("Added master key version {v} to {}.", path.display());
    }
    let total: i64 = opened
        .store
        .data_key_status()
        .await?
        .iter()
        .map(|(_, n)| n)
        .sum();
    let mut done: u64 = 0;
    loop {
        let n = opened.store.rewrap_data_keys(batch).await?;
        if n == 0 {
            break;
        }
        done += n;
        eprintln!("re-wrapped {done} of {total} data keys");
    }
    let version = keys.current().version;
    super::audit(
        &opened,
        None,
        "keys.master_rotated",
        json!({"version": version, "rewrapped": done}),
        clock.now(),
    )
    .await?;
    writeln!(out, "All data keys are under master key version {version}. Run `paylink keys status` to see which versions can be retired.")?;
    Ok(())
}

/// One account's data re-encrypted under a new data key; the old one
/// destroyed.
async fn rotate_data(
    data: DataArgs,
    account: AccountId,
    settle_secs: u64,
    clock: &dyn Clock,
    out: &mut dyn Write,
) -> Result<(), AppError> {
    let opened = app::open(&data.options()).await?;
    let mut show = |step: paylink_store::rotation::RotationStep| {
        use paylink_store::rotation::RotationStep as S;
        match step {
                S::Staged(g) => eprintln!("data key generation {g} added; waiting {settle_secs} s for every instance to load it"),
                S::Current(g) => eprintln!("generation {g} now seals new data; waiting {settle_secs} s"),
                S::Resealed(n) => eprintln!("re-encrypted {n} value(s)"),
                S::Destroyed(n) => eprintln!("destroyed {n} old data key(s)"),
            }
    };
    let report = opened
        .store
        .rotate_data_key(
            &account,
            std::time::Duration::from_secs(settle_secs),
            &mut show,
        )
        .await
        .map_err(super::no_such_account(&account))?;
    super::audit(&opened, Some(&account), "data_key.rotated", json!({"generation": report.generation, "resealed": report.resealed, "destroyed_keys": report.destroyed_keys}), clock.now()).await?;
    writeln!(out,
            "Account {account}: {} value(s) now under data key generation {}; {} old data key(s) destroyed.",
            report.resealed, report.generation, report.destroyed_keys
        )?;
    Ok(())
}

/// Removes a master key version that wraps no data key.
async fn retire(
    data: DataArgs,
    version: u32,
    now: i64,
    out: &mut dyn Write,
) -> Result<(), AppError> {
    let opened = app::open(&data.options()).await?;
    let path = opened.key_path.clone().ok_or_else(|| {
        AppError::Invalid(
            "PAYLINK_MASTER_KEY holds a single key: there is nothing to retire".into(),
        )
    })?;
    let mut keys = paylink_crypto::KeyFile::load(&path)?;
    if version == keys.current().version {
        return Err(AppError::Invalid(format!(
            "master key version {version} is the current one and can't be retired"
        )));
    }
    if keys.get(version).is_none() {
        return Err(AppError::Invalid(format!(
            "the key file has no master key version {version}"
        )));
    }
    let in_use = opened
        .store
        .data_key_status()
        .await?
        .iter()
        .find(|(v, _)| *v == i64::from(version))
        .map_or(0, |(_, n)| *n);
    if in_use > 0 {
        return Err(AppError::Invalid(format!("master key version {version} still wraps {in_use} data key(s): run `paylink keys rotate-master` first")));
    }
    keys.retire(&path, version)?;
    super::audit(
        &opened,
        None,
        "keys.master_retired",
        json!({"version": version}),
        now,
    )
    .await?;
    writeln!(out, "Retired master key version {version}.")?;
    Ok(())
}

/// The master key versions and how many data keys each wraps.
async fn status(data: DataArgs, out: &mut dyn Write) -> Result<(), AppError> {
    let opened = app::open(&data.options()).await?;
    let status = opened.store.data_key_status().await?;
    let versions = match &opened.key_path {
        Some(p) => paylink_crypto::KeyFile::load(p)?.versions(),
        None => vec![1],
    };
    let current = versions.iter().copied().max().unwrap_or(1);
    for v in &versions {
        let n = status
            .iter()
            .find(|(k, _)| *k == i64::from(*v))
            .map_or(0, |(_, n)| *n);
        let note = if *v == current {
            "current".to_string()
        } else if n == 0 {
            "unused: can be retired".to_string()
        } else {
            "still in use: run `paylink keys rotate-master` to finish".to_string()
        };
        writeln!(out, "master key version {v}: {n} data key(s) ({note})")?;
    }
    Ok(())
}
