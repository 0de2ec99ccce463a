//! `paylink keys …`: API keys, and the master and data keys of the
//! envelope encryption (rotation, status, retirement).

use paylink_domain::AccountId;
use std::io::Write;

use paylink_crypto::Mode;
use paylink_domain::Clock;
use serde_json::json;

use super::{DataArgs, KeysCommand, ModeArg};
use crate::app::{self, AppError};

/// Runs one `keys` command, printing to `out`; its audit entry carries
/// the time the work finished (a rotation can take minutes).
pub async fn run(cmd: KeysCommand, clock: &dyn Clock, out: &mut dyn Write) -> Result<(), AppError> {
    match cmd {
        KeysCommand::Create {
            data,
            account,
            mode,
            json,
        } => create(data, account, mode, json, clock.now(), out).await,
        KeysCommand::RotateMaster { data, batch } => rotate_master(data, batch, clock, out).await,
        KeysCommand::RotateData {
            data,
            account,
            settle_secs,
        } => rotate_data(data, account, settle_secs, clock, out).await,
        KeysCommand::Retire { data, version } => retire(data, version, clock.now(), out).await,
        KeysCommand::Status { data } => status(data, out).await,
    }
}

/// A secret API key, printed once.
async fn create(
    data: DataArgs,
    account: AccountId,
    mode: ModeArg,
    json: bool,
    now: i64,
    out: &mut dyn Write,
) -> Result<(), AppError> {
    let opened = app::open(&data.options()).await?;
    let mode = match mode {
        ModeArg::Test => Mode::Test,
        ModeArg::Live => Mode::Live,
    };
    let key = app::create_key(&opened, &account, mode, now).await?;
    if json {
        writeln!(
            out,
            "{}",
            json!({"id": key.id, "object": "api_key", "type": "secret", "account": account, "livemode": key.livemode, "secret": key.secret.expose()})
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
