//! `paylink account …`: create an account (with its owner's setup link),
//! delete one (crypto-shredding its data keys), or print a member's new
//! setup link.

use paylink_domain::AccountId;
use std::io::Write;

use serde_json::json;

use super::{AccountCommand, DataArgs};
use crate::app::{self, AppError};

/// Runs one `account` command at `now`, printing to `out`.
pub async fn run(cmd: AccountCommand, now: i64, out: &mut dyn Write) -> Result<(), AppError> {
    match cmd {
        AccountCommand::Create {
            data,
            name,
            owner_email,
            public_url,
            json,
        } => create(data, name, owner_email, public_url, json, now, out).await,
        AccountCommand::Delete {
            data,
            account,
            confirm,
        } => delete(data, account, confirm, now, out).await,
        AccountCommand::SetupLink {
            data,
            account,
            email,
            public_url,
        } => setup_link(data, account, email, public_url, now, out).await,
    }
}

/// A new account; its owner gets a setup link, or an invitation if the
/// address already signs in to paylink.
async fn create(
    data: DataArgs,
    name: String,
    owner_email: String,
    public_url: String,
    json: bool,
    now: i64,
    out: &mut dyn Write,
) -> Result<(), AppError> {
    let opened = app::open(&data.options()).await?;
    let account = app::create_account(&opened.store, &name, &owner_email, now).await?;
    let link = app::owner_link(&opened.store, &public_url, &account, &owner_email, now).await?;
    match (&link, json) {
        (app::OwnerLink::Setup(l), true) => writeln!(
            out,
            "{}",
            json!({"id": account.id, "object": "account", "name": account.name, "created": account.created, "owner_setup_url": l.expose()})
        )?,
        (app::OwnerLink::Invitation(l), true) => writeln!(
            out,
            "{}",
            json!({"id": account.id, "object": "account", "name": account.name, "created": account.created, "owner_invitation_url": l.expose()})
        )?,
        (app::OwnerLink::Setup(l), false) => {
            writeln!(out, "{}", account.id)?;
            writeln!(
                out,
                "Owner setup link (single use, valid 24 hours): {}",
                l.expose()
            )?;
        }
        (app::OwnerLink::Invitation(l), false) => {
            writeln!(out, "{}", account.id)?;
            writeln!(out, "This address already has a paylink sign-in, so it was not made owner. Send its holder this invitation link (single use, valid 24 hours); they accept it while signed in: {}", l.expose())?;
        }
    }
    Ok(())
}

/// Deletes an account, its data keys and its uploaded files.
async fn delete(
    data: DataArgs,
    account: AccountId,
    confirm: String,
    now: i64,
    out: &mut dyn Write,
) -> Result<(), AppError> {
    if confirm != account.as_str() {
        return Err(AppError::Invalid(
            "--confirm must repeat the account id".into(),
        ));
    }
    let opened = app::open(&data.options()).await?;
    let destroyed = opened
        .store
        .delete_account(&account)
        .await
        .map_err(super::no_such_account(&account))?;
    super::audit(
        &opened,
        Some(&account),
        "account.deleted",
        json!({"destroyed_data_keys": destroyed}),
        now,
    )
    .await?;
    // Its uploaded files (under the account's own prefix).
    let files = opened.files_dir.join(account.as_str());
    if files.starts_with(&opened.files_dir) && files.exists() {
        std::fs::remove_dir_all(&files)?;
    }
    writeln!(
        out,
        "Deleted account {account}; destroyed {destroyed} data key(s)."
    )?;
    Ok(())
}

/// A member's new one-time setup link.
async fn setup_link(
    data: DataArgs,
    account: AccountId,
    email: String,
    public_url: String,
    now: i64,
    out: &mut dyn Write,
) -> Result<(), AppError> {
    let opened = app::open(&data.options()).await?;
    let link = app::setup_link(&opened.store, &public_url, &account, &email, now).await?;
    writeln!(out, "{}", link.expose())?;
    Ok(())
}
