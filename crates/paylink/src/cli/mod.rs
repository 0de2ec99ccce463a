//! The command line. `paylink --help` and `paylink <command> --help`
//! document every setting; each flag also reads a `PAYLINK_*` variable.
//!
//! [`args`] declares the arguments; each command's work is a function of
//! its module ([`account`], [`keys`], [`ops`], [`serve`]) that prints to
//! the writer it is given, so tests run commands in-process with
//! [`run_with`].

pub mod account;
mod args;
pub mod keys;
mod logging;
pub mod ops;
pub mod serve;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use paylink_domain::Clock;

pub use args::*;

use crate::app::{self, AppError};

/// Entry point of the binary.
pub fn main() -> ExitCode {
    // Everything this process creates (logs, database, key file, uploads)
    // is for its owner only.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    let _log_guard = match logging::init_logging(cli.log_dir.as_deref()) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a parsed command line on the system clock, printing to stdout.
pub async fn run(cli: Cli) -> Result<(), AppError> {
    run_with(cli.command, app::system_clock(), &mut std::io::stdout()).await
}

/// Runs `command` at `clock`'s time, printing what it reports to `out`
/// (progress goes to stderr).
pub async fn run_with(
    command: Command,
    clock: Arc<dyn Clock>,
    out: &mut dyn Write,
) -> Result<(), AppError> {
    let now = clock.now();
    match command {
        Command::Init(data) => ops::init(data, out).await,
        Command::Migrate(data) => ops::migrate(data, out).await,
        Command::Account(cmd) => account::run(cmd, now, out).await,
        Command::Keys(cmd) => keys::run(cmd, clock.as_ref(), out).await,
        Command::Audit(cmd) => ops::audit(cmd, out).await,
        Command::Retention(cmd) => ops::retention(cmd, now, out).await,
        Command::Outbox(cmd) => ops::outbox(cmd, out).await,
        Command::Serve(args) => serve::serve(args, clock, out).await,
        Command::Demo(args) => serve::demo(args, clock, out).await,
    }
}

/// Records what a command did in the audit log, with `cli` as the actor
/// and the account (if any) as the target.
async fn audit(
    opened: &app::Opened,
    account: Option<&str>,
    action: &str,
    detail: serde_json::Value,
    now: i64,
) -> Result<(), AppError> {
    opened
        .store
        .audit(paylink_store::audit::AuditEvent {
            account_id: account,
            actor: "cli",
            action,
            target: account,
            detail,
            now,
        })
        .await?;
    Ok(())
}

/// A missing account named as such; any other store error as it is.
fn no_such_account(account: &str) -> impl FnOnce(paylink_store::StoreError) -> AppError + '_ {
    move |e| match e {
        paylink_store::StoreError::NotFound => {
            AppError::Invalid(format!("no such account: {account}"))
        }
        other => other.into(),
    }
}
