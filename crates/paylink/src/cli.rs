//! The command line. `paylink --help` and `paylink <command> --help`
//! document every setting; each flag also reads a `PAYLINK_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use paylink_crypto::Mode;
use serde_json::json;

use crate::app::{self, AppError, DataOptions};

#[derive(Parser, Debug)]
#[command(
    name = "paylink",
    version,
    about = "paylink: self-hosted, security-first payment links with a Stripe-shaped API."
)]
pub struct Cli {
    /// Also write logs to daily files in this directory (kept 14 days).
    /// Every log line is scrubbed of card-like numbers and email addresses.
    #[arg(long, global = true, env = "PAYLINK_LOG_DIR")]
    pub log_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// Where data lives; the same on every command that touches data.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Directory of the SQLite database (paylink.db) and the key file
    /// (paylink.key, mode 0600), created on first use.
    #[arg(long, env = "PAYLINK_DATA_DIR", default_value = "./paylink-data")]
    pub data_dir: PathBuf,
    /// PostgreSQL URL (postgres://user@host/db) to use instead of SQLite.
    /// The key file still lives in --data-dir (or PAYLINK_MASTER_KEY holds
    /// the master key, base64 of 32 bytes).
    #[arg(long, env = "PAYLINK_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DataArgs {
    fn options(&self) -> DataOptions {
        DataOptions {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone().filter(|s| !s.is_empty()),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Address to listen on.
    #[arg(long, env = "PAYLINK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Public base URL of this server, used in payment link URLs
    /// (default: http://<listen>).
    #[arg(long, env = "PAYLINK_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Requests per second allowed per API key (burst of the same size;
    /// counted per instance); 0 disables the limit.
    #[arg(long, env = "PAYLINK_API_RATE_LIMIT", default_value_t = app::DEFAULT_API_RATE)]
    pub api_rate_limit: u32,
    /// Address of the built-in `sim` payment provider (its own origin).
    #[arg(long, env = "PAYLINK_SIM_LISTEN", default_value = "127.0.0.1:8081")]
    pub sim_listen: SocketAddr,
    /// Public base URL of the sim provider (default: http://<sim-listen>).
    #[arg(long, env = "PAYLINK_SIM_PUBLIC_URL")]
    pub sim_public_url: Option<String>,
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// Minutes without a request after which a dashboard session ends.
    #[arg(long, env = "PAYLINK_SESSION_IDLE_MINUTES", default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=720))]
    pub session_idle_minutes: i64,
    /// Hours after sign-in after which a dashboard session ends, however active.
    #[arg(long, env = "PAYLINK_SESSION_MAX_HOURS", default_value_t = 12, value_parser = clap::value_parser!(i64).range(1..=168))]
    pub session_max_hours: i64,
    /// Checkout sessions one client address may open per minute (buyers
    /// behind one proxy share an address).
    #[arg(long, env = "PAYLINK_CHECKOUT_OPENS_PER_ADDRESS", default_value_t = paylink_web::checkout::CHECKOUTS_PER_IP_MINUTE, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    pub checkout_opens_per_address: i64,
    /// Checkout sessions one payment link may open per minute, all buyers
    /// together.
    #[arg(long, env = "PAYLINK_CHECKOUT_OPENS_PER_LINK", default_value_t = paylink_web::checkout::CHECKOUTS_PER_LINK_MINUTE, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    pub checkout_opens_per_link: i64,
    /// Seconds an Idempotency-Key stays claimed by a request whose process
    /// died, before a retry may take it over (exactly once either way).
    #[arg(long, env = "PAYLINK_IDEMPOTENCY_LEASE_SECS", default_value_t = paylink_store::idempotency::LEASE_SECS, value_parser = clap::value_parser!(i64).range(1..=3600))]
    pub idempotency_lease_secs: i64,
}

/// How long data is kept.
#[derive(Args, Debug, Clone)]
pub struct RetentionArgs {
    /// Days the buyer details of an abandoned (expired, unpaid) checkout are
    /// kept after it expired.
    #[arg(long, env = "PAYLINK_RETENTION_ABANDONED_CHECKOUT_DAYS", default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=3650))]
    pub retention_abandoned_checkout_days: i64,
    /// Days processed provider events are remembered (to ignore redeliveries).
    #[arg(long, env = "PAYLINK_RETENTION_PROVIDER_EVENT_DAYS", default_value_t = 30, value_parser = clap::value_parser!(i64).range(7..=3650))]
    pub retention_provider_event_days: i64,
}

impl RetentionArgs {
    fn periods(&self) -> paylink_jobs::Retention {
        paylink_jobs::Retention {
            abandoned_checkout_days: self.retention_abandoned_checkout_days,
            provider_event_days: self.retention_provider_event_days,
        }
    }
}

impl ServeArgs {
    fn public_url(&self, bound: SocketAddr) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
    }

    /// Binds both listeners and builds the state with the sim running.
    async fn start(
        &self,
        opened: &app::Opened,
        clock: std::sync::Arc<dyn paylink_domain::Clock>,
    ) -> Result<
        (
            tokio::net::TcpListener,
            String,
            paylink_web::AppState,
            paylink_providers::sim::SimConfig,
        ),
        AppError,
    > {
        let listener = tokio::net::TcpListener::bind(self.listen).await?;
        let bound = listener.local_addr()?;
        let sim_listener = tokio::net::TcpListener::bind(self.sim_listen).await?;
        let sim_bound = sim_listener.local_addr()?;
        let public_url = self.public_url(bound);
        let sim_origin = self
            .sim_public_url
            .clone()
            .unwrap_or_else(|| format!("http://{sim_bound}"));
        let sim = app::sim_config(opened, &sim_origin, &public_url, clock.clone()).await?;
        app::spawn_sim(sim_listener, sim.clone());
        let state = app::state(opened, &public_url, clock, self.api_rate_limit, sim.clone())
            .await?
            .with_dashboard(paylink_web::dashboard::DashboardConfig {
                idle_secs: self.session_idle_minutes * 60,
                absolute_secs: self.session_max_hours * 3600,
                ..Default::default()
            })
            .with_checkout_limits(paylink_web::checkout::OpeningLimits {
                per_ip_minute: self.checkout_opens_per_address,
                per_link_minute: self.checkout_opens_per_link,
            })
            .with_idempotency_lease(self.idempotency_lease_secs);
        tracing::info!(address = %bound, sim = %sim_origin, backend = ?opened.store.backend(), "paylink listening");
        Ok((listener, public_url, state, sim))
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (creates the data directory, database and key file on
    /// first start and applies migrations).
    Serve(ServeArgs),
    /// Create the data directory, key file and database, then exit.
    Init(DataArgs),
    /// Apply pending database migrations, then exit.
    Migrate(DataArgs),
    /// Start a server with a ready demo account, key and payment link.
    Demo(ServeArgs),
    /// Manage merchant accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check or export the tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// What the retention rules keep and what is due.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Mail waiting to be sent (invitations): until email delivery is set
    /// up, the operator hands each message to its recipient.
    #[command(subcommand)]
    Outbox(OutboxCommand),
}

#[derive(Subcommand, Debug)]
pub enum OutboxCommand {
    /// Print the messages waiting (recipient and text, links included),
    /// oldest first; they are deleted once their link has expired.
    List {
        #[command(flatten)]
        data: DataArgs,
        /// Print JSON lines instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum RetentionCommand {
    /// Show each rule and how much data is due for erasure now.
    Status {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        retention: RetentionArgs,
    },
    /// Run one pass now (the server runs one every minute).
    Purge {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        retention: RetentionArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Walk the hash chain; name the first entry that was edited, removed
    /// or reordered (exit status 1), or report it intact.
    Verify(DataArgs),
    /// Print the entries as JSON lines, oldest first.
    Export {
        #[command(flatten)]
        data: DataArgs,
        /// Only the entries of this account.
        #[arg(long)]
        account: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AccountCommand {
    /// Create a merchant account and print its id.
    Create {
        #[command(flatten)]
        data: DataArgs,
        /// The account's display name (1 to 100 characters).
        #[arg(long)]
        name: String,
        /// Email address of the account's owner.
        #[arg(long)]
        owner_email: String,
        /// Public base URL of the server, for the owner's setup link.
        #[arg(
            long,
            env = "PAYLINK_PUBLIC_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        public_url: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Delete an account and everything it holds, and destroy its data
    /// keys (crypto-shredding). Cannot be undone.
    Delete {
        #[command(flatten)]
        data: DataArgs,
        /// The account (acct_…).
        #[arg(long)]
        account: String,
        /// The account id again, to confirm.
        #[arg(long)]
        confirm: String,
    },
    /// Print a new one-time setup link (valid 24 hours) for a member, e.g.
    /// one who lost their password. It never skips the second factor.
    SetupLink {
        #[command(flatten)]
        data: DataArgs,
        /// The account (acct_…).
        #[arg(long)]
        account: String,
        /// The member's email address.
        #[arg(long)]
        email: String,
        /// Public base URL of the server.
        #[arg(
            long,
            env = "PAYLINK_PUBLIC_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        public_url: String,
    },
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum ModeArg {
    Test,
    Live,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a secret API key. It is printed exactly once; only its hash is
    /// stored.
    Create {
        #[command(flatten)]
        data: DataArgs,
        /// The account (acct_…) the key belongs to.
        #[arg(long)]
        account: String,
        /// test keys see only test-mode objects, live keys only live ones.
        #[arg(long, value_enum)]
        mode: ModeArg,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Add a master key version to the key file and re-wrap every data key
    /// under it, online (the server may keep running), in batches. If an
    /// earlier run stopped midway, this resumes it without adding a version.
    RotateMaster {
        #[command(flatten)]
        data: DataArgs,
        /// Data keys re-wrapped per transaction batch.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        batch: i64,
    },
    /// Show the master key versions and how many data keys each wraps; a
    /// version that wraps none (and is not current) can be retired.
    Status {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Re-encrypt one account's personal data and provider credentials
    /// under a new data key, online, then destroy the old data key (values
    /// it sealed, in old backups too, can no longer be read). Resumable:
    /// run it again after an interruption.
    RotateData {
        #[command(flatten)]
        data: DataArgs,
        /// The account (acct_…).
        #[arg(long)]
        account: String,
        /// Seconds to wait between steps so that every running instance
        /// has dropped its cached keys (they keep them 30 s). 0 only when
        /// no server is running.
        #[arg(long, default_value_t = 35)]
        settle_secs: u64,
    },
    /// Remove an old master key version from the key file, once no data key
    /// is wrapped under it (see `keys status`).
    Retire {
        #[command(flatten)]
        data: DataArgs,
        /// The version to remove.
        #[arg(long)]
        version: u32,
    },
}

/// Log files are kept this many days (one file a day).
const LOG_RETENTION_DAYS: usize = 14;

/// A log writer that scrubs each formatted line before it is written.
struct Scrubbed<M>(M);

struct ScrubLine<W: std::io::Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: std::io::Write> std::io::Write for ScrubLine<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let text = String::from_utf8_lossy(&self.buf).into_owned();
            self.buf.clear();
            self.inner
                .write_all(paylink_domain::redact::scrub(&text).as_bytes())?;
        }
        self.inner.flush()
    }
}

impl<W: std::io::Write> Drop for ScrubLine<W> {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
    }
}

impl<'a, M: tracing_subscriber::fmt::MakeWriter<'a>> tracing_subscriber::fmt::MakeWriter<'a>
    for Scrubbed<M>
{
    type Writer = ScrubLine<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        ScrubLine {
            inner: self.0.make_writer(),
            buf: Vec::new(),
        }
    }
}

/// Makes the log directory owner-only (0700) and every log file in it
/// 0600 (older installs wrote 0644). New files are 0600 through the
/// process umask set in [`main`].
fn private_log_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    Ok(())
}

fn init_logging(
    log_dir: Option<&std::path::Path>,
) -> Result<Option<tracing_appender::non_blocking::WorkerGuard>, String> {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("PAYLINK_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let json = std::env::var("PAYLINK_LOG_FORMAT").is_ok_and(|v| v == "json");
    let (file, guard) = match log_dir {
        Some(dir) => {
            private_log_dir(dir).map_err(|e| format!("--log-dir {}: {e}", dir.display()))?;
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("paylink")
                .filename_suffix("log")
                .max_log_files(LOG_RETENTION_DAYS)
                .build(dir)
                .map_err(|e| format!("--log-dir {}: {e}", dir.display()))?;
            let (w, g) = tracing_appender::non_blocking(appender);
            (Some(w), Some(g))
        }
        None => (None, None),
    };
    let inner = match file {
        Some(w) => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr.and(w)),
        None => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr),
    };
    let writer = Scrubbed(inner);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(log_dir.is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(guard)
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    // Everything this process creates (logs, database, key file, uploads)
    // is for its owner only.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    let _log_guard = match init_logging(cli.log_dir.as_deref()) {
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

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

pub async fn run(cli: Cli) -> Result<(), AppError> {
    let clock = app::system_clock();
    match cli.command {
        Command::Init(data) => {
            let opened = app::open(&data.options()).await?;
            let report = opened.store.migrate().await?;
            println!(
                "Initialised {} (schema version {})",
                data.data_dir.display(),
                report.current
            );
            Ok(())
        }
        Command::Migrate(data) => {
            let opts = data.options();
            let store = app::open_store(&opts).await?;
            let report = store.migrate().await?;
            if report.applied.is_empty() {
                println!(
                    "Database is up to date (schema version {}).",
                    report.current
                );
            } else {
                for (v, name) in &report.applied {
                    println!("Applied migration {v} ({name})");
                }
            }
            Ok(())
        }
        Command::Account(AccountCommand::Create {
            data,
            name,
            owner_email,
            public_url,
            json,
        }) => {
            let opened = app::open(&data.options()).await?;
            let account =
                app::create_account(&opened.store, &name, &owner_email, clock.now()).await?;
            let link = app::owner_link(
                &opened.store,
                &public_url,
                &account,
                &owner_email,
                clock.now(),
            )
            .await?;
            match (&link, json) {
                (app::OwnerLink::Setup(l), true) => println!(
                    "{}",
                    json!({"id": account.id, "object": "account", "name": account.name, "created": account.created, "owner_setup_url": l.expose()})
                ),
                (app::OwnerLink::Invitation(l), true) => println!(
                    "{}",
                    json!({"id": account.id, "object": "account", "name": account.name, "created": account.created, "owner_invitation_url": l.expose()})
                ),
                (app::OwnerLink::Setup(l), false) => {
                    println!("{}", account.id);
                    println!(
                        "Owner setup link (single use, valid 24 hours): {}",
                        l.expose()
                    );
                }
                (app::OwnerLink::Invitation(l), false) => {
                    println!("{}", account.id);
                    println!("This address already has a paylink sign-in, so it was not made owner. Send its holder this invitation link (single use, valid 24 hours); they accept it while signed in: {}", l.expose());
                }
            }
            Ok(())
        }
        Command::Account(AccountCommand::Delete {
            data,
            account,
            confirm,
        }) => {
            if confirm != account {
                return Err(AppError::Invalid(
                    "--confirm must repeat the account id".into(),
                ));
            }
            let opened = app::open(&data.options()).await?;
            let destroyed = opened
                .store
                .delete_account(&account)
                .await
                .map_err(|e| match e {
                    paylink_store::StoreError::NotFound => {
                        AppError::Invalid(format!("no such account: {account}"))
                    }
                    other => other.into(),
                })?;
            opened
                .store
                .audit(paylink_store::audit::AuditEvent {
                    account_id: Some(&account),
                    actor: "cli",
                    action: "account.deleted",
                    target: Some(&account),
                    detail: json!({"destroyed_data_keys": destroyed}),
                    now: clock.now(),
                })
                .await?;
            // Its uploaded files (under the account's own prefix).
            let files = opened.files_dir.join(&account);
            if files.starts_with(&opened.files_dir) && files.exists() {
                std::fs::remove_dir_all(&files)?;
            }
            println!("Deleted account {account}; destroyed {destroyed} data key(s).");
            Ok(())
        }
        Command::Outbox(OutboxCommand::List { data, json }) => {
            let opened = app::open(&data.options()).await?;
            for m in opened.store.outbox(0).await? {
                if json {
                    println!(
                        "{}",
                        json!({"id": m.id, "account": m.account_id, "created": m.created, "kind": m.kind, "to": m.to, "body": m.body.expose()})
                    );
                } else {
                    println!("--- {} · {} · to {} ({})", m.id, m.kind, m.to, m.account_id);
                    println!("{}\n", m.body.expose());
                }
            }
            Ok(())
        }
        Command::Account(AccountCommand::SetupLink {
            data,
            account,
            email,
            public_url,
        }) => {
            let opened = app::open(&data.options()).await?;
            let link =
                app::setup_link(&opened.store, &public_url, &account, &email, clock.now()).await?;
            println!("{}", link.expose());
            Ok(())
        }
        Command::Keys(KeysCommand::Create {
            data,
            account,
            mode,
            json,
        }) => {
            let opened = app::open(&data.options()).await?;
            let mode = match mode {
                ModeArg::Test => Mode::Test,
                ModeArg::Live => Mode::Live,
            };
            let key = app::create_key(&opened, &account, mode, clock.now()).await?;
            if json {
                println!(
                    "{}",
                    json!({"id": key.id, "object": "api_key", "type": "secret", "account": account, "livemode": key.livemode, "secret": key.secret.expose()})
                );
            } else {
                println!("{}", key.secret.expose());
                eprintln!(
                    "This key ({}) is shown once and only its hash is stored: keep it now.",
                    key.id
                );
            }
            Ok(())
        }
        Command::Keys(KeysCommand::RotateMaster { data, batch }) => {
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
            let now = keys.current().version;
            opened
                .store
                .audit(paylink_store::audit::AuditEvent {
                    account_id: None,
                    actor: "cli",
                    action: "keys.master_rotated",
                    target: None,
                    detail: serde_json::json!({"version": now, "rewrapped": done}),
                    now: clock.now(),
                })
                .await?;
            println!("All data keys are under master key version {now}. Run `paylink keys status` to see which versions can be retired.");
            Ok(())
        }
        Command::Keys(KeysCommand::RotateData {
            data,
            account,
            settle_secs,
        }) => {
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
                .map_err(|e| match e {
                    paylink_store::StoreError::NotFound => {
                        AppError::Invalid(format!("no such account: {account}"))
                    }
                    other => other.into(),
                })?;
            opened
                .store
                .audit(paylink_store::audit::AuditEvent {
                    account_id: Some(&account),
                    actor: "cli",
                    action: "data_key.rotated",
                    target: Some(&account),
                    detail: json!({"generation": report.generation, "resealed": report.resealed, "destroyed_keys": report.destroyed_keys}),
                    now: clock.now(),
                })
                .await?;
            println!(
                "Account {account}: {} value(s) now under data key generation {}; {} old data key(s) destroyed.",
                report.resealed, report.generation, report.destroyed_keys
            );
            Ok(())
        }
        Command::Keys(KeysCommand::Retire { data, version }) => {
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
            opened
                .store
                .audit(paylink_store::audit::AuditEvent {
                    account_id: None,
                    actor: "cli",
                    action: "keys.master_retired",
                    target: None,
                    detail: serde_json::json!({"version": version}),
                    now: clock.now(),
                })
                .await?;
            println!("Retired master key version {version}.");
            Ok(())
        }
        Command::Keys(KeysCommand::Status { data }) => {
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
                println!("master key version {v}: {n} data key(s) ({note})");
            }
            Ok(())
        }
        Command::Retention(RetentionCommand::Status { data, retention }) => {
            let opened = app::open(&data.options()).await?;
            println!("log files: kept {LOG_RETENTION_DAYS} days (with --log-dir)");
            for l in paylink_jobs::status(&opened.store, clock.now(), &retention.periods()).await? {
                println!("{}: kept {}; due now: {}", l.what, l.kept, l.due);
            }
            Ok(())
        }
        Command::Retention(RetentionCommand::Purge { data, retention }) => {
            let opened = app::open(&data.options()).await?;
            let r =
                paylink_jobs::purge_once(&opened.store, clock.now(), &retention.periods()).await?;
            println!(
                "expired {} session(s); erased {} abandoned checkout(s); removed {} idempotency record(s), {} provider event(s) and {} sign-in record(s)",
                r.expired_sessions, r.abandoned_checkouts, r.idempotency_records, r.provider_events, r.sign_in_records
            );
            Ok(())
        }
        Command::Audit(AuditCommand::Verify(data)) => {
            let opened = app::open(&data.options()).await?;
            match opened.store.verify_audit().await? {
                paylink_store::audit::AuditCheck::Intact { entries } => {
                    println!("audit log intact: {entries} entries");
                    Ok(())
                }
                paylink_store::audit::AuditCheck::Broken { seq, id, reason } => Err(
                    AppError::Invalid(format!("audit log broken at entry #{seq} ({id}): {reason}")),
                ),
            }
        }
        Command::Audit(AuditCommand::Export { data, account }) => {
            let opened = app::open(&data.options()).await?;
            for e in opened.store.audit_entries(account.as_deref()).await? {
                println!(
                    "{}",
                    serde_json::to_string(&e).map_err(|e| AppError::Invalid(e.to_string()))?
                );
            }
            Ok(())
        }
        Command::Serve(args) => {
            let opened = app::open(&args.data.options()).await?;
            let (listener, public_url, state, _) = args.start(&opened, clock).await?;
            println!(
                "paylink listening on {public_url} (sim provider on {})",
                state.provider.origin()
            );
            app::serve(listener, state, args.retention.periods(), shutdown_signal()).await
        }
        Command::Demo(mut args) => {
            if args.data.data_dir == std::path::Path::new("./paylink-data") {
                args.data.data_dir = PathBuf::from("./paylink-demo-data");
            }
            let opened = app::open(&args.data.options()).await?;
            let (listener, public_url, state, sim) = args.start(&opened, clock.clone()).await?;
            let demo = crate::demo::seed(&opened, &state, &sim, clock.now()).await?;
            println!(
                "paylink demo is running (data in {}).",
                args.data.data_dir.display()
            );
            println!();
            println!("  API base:         {public_url}/v1");
            println!("  Test secret key:  {}", demo.secret);
            println!("  Payment link:     {}", demo.link_url);
            println!("  Promotion code:   {}", demo.promo_code);
            println!("  Dashboard setup:  {}", demo.setup_url);
            println!("    (the owner, owner@demo.paylink.invalid, sets a password and enrols an");
            println!("     authenticator app there; then sign in at {public_url}/login)");
            println!();
            println!("  Open the payment link in a browser and pay with a test card:");
            println!("    4242 4242 4242 4242  succeeds        4000 0000 0000 0002  is declined");
            println!("    4000 0000 0000 9995  insufficient    4000 0025 0000 3155  3-D Secure challenge");
            println!("    (any future expiry, any 3-digit CVC, any name)");
            println!();
            println!(
                "  Try:  curl {public_url}/v1/payment_intents -u {}:",
                demo.secret
            );
            println!();
            println!("Press Ctrl-C to stop.");
            app::serve(listener, state, args.retention.periods(), shutdown_signal()).await
        }
    }
}
