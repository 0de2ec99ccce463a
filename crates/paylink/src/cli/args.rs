//! The command line's arguments: every flag also reads a `PAYLINK_*`
//! variable. Each command's work is in the module named after it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use paylink_domain::AccountId;

use crate::app::{self, DataOptions};

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
    pub(super) fn options(&self) -> DataOptions {
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
    /// An internal address range (CIDR) webhook endpoints may reach
    /// anyway, such as a receiver on your own network; repeatable, or
    /// comma-separated in the variable. Without it, loopback, private,
    /// link-local and other internal addresses are refused (SSRF).
    #[arg(
        long = "webhook-allow-cidr",
        env = "PAYLINK_WEBHOOK_ALLOW_CIDR",
        value_delimiter = ','
    )]
    pub webhook_allow_cidr: Vec<paylink_domain::net::Cidr>,
    /// Seconds a webhook attempt may take, connection and answer together.
    #[arg(long, env = "PAYLINK_WEBHOOK_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub webhook_timeout_secs: u64,
    /// Seconds a claimed webhook delivery stays with the instance that
    /// claimed it: one that dies mid-attempt has its deliveries attempted
    /// again by any instance after this long. Must exceed the timeout.
    #[arg(long, env = "PAYLINK_WEBHOOK_LEASE_SECS", default_value_t = paylink_jobs::webhooks::LEASE_SECS, value_parser = clap::value_parser!(i64).range(2..=3600))]
    pub webhook_lease_secs: i64,
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
    pub(super) fn periods(&self) -> paylink_jobs::Retention {
        paylink_jobs::Retention {
            abandoned_checkout_days: self.retention_abandoned_checkout_days,
            provider_event_days: self.retention_provider_event_days,
        }
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
        #[arg(long, value_parser = account_id)]
        account: Option<AccountId>,
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
        #[arg(long, value_parser = account_id)]
        account: AccountId,
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
        #[arg(long, value_parser = account_id)]
        account: AccountId,
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

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum KeyKindArg {
    Secret,
    Restricted,
    Publishable,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create an API key: secret (everything in its mode), restricted (a
    /// permission per resource) or publishable. It is printed exactly
    /// once; only its hash is stored.
    Create {
        #[command(flatten)]
        data: DataArgs,
        /// The account (acct_…) the key belongs to.
        #[arg(long, value_parser = account_id)]
        account: AccountId,
        /// test keys see only test-mode objects, live keys only live ones.
        #[arg(long, value_enum)]
        mode: ModeArg,
        /// secret, restricted or publishable.
        #[arg(long, value_enum, default_value = "secret")]
        kind: KeyKindArg,
        /// A restricted key's permission on a resource, as RESOURCE=ACCESS
        /// (access none, read or write; resources: products, prices,
        /// payment_links, promotion_codes, checkout_sessions,
        /// payment_intents, refunds, customers, webhook_endpoints, events);
        /// repeatable.
        #[arg(long = "permission")]
        permissions: Vec<String>,
        /// A name to tell the key by.
        #[arg(long)]
        name: Option<String>,
        /// Days until the key stops working (default: until revoked).
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=1825))]
        expires_in_days: Option<i64>,
        /// An IP range (CIDR) the key may be used from; repeatable
        /// (default: wherever the account's allowlist allows).
        #[arg(long = "allow-ip")]
        allow_ip: Vec<paylink_domain::net::Cidr>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Roll an API key: a new key like it (kind, permissions, name, IP
    /// ranges) is printed once, and the old one keeps working for the
    /// overlap chosen, then stops.
    Roll {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, value_parser = account_id)]
        account: AccountId,
        #[arg(long, value_enum)]
        mode: ModeArg,
        /// The key's id (key_…), as `keys list` shows it.
        #[arg(long)]
        key: String,
        /// How long the old key keeps working: now, 1h, 24h or 7d.
        #[arg(long, default_value = "24h")]
        overlap: String,
    },
    /// Revoke an API key at once.
    Revoke {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, value_parser = account_id)]
        account: AccountId,
        #[arg(long, value_enum)]
        mode: ModeArg,
        #[arg(long)]
        key: String,
    },
    /// List an account's API keys in one mode (never the keys themselves).
    List {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, value_parser = account_id)]
        account: AccountId,
        #[arg(long, value_enum)]
        mode: ModeArg,
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
        #[arg(long, value_parser = account_id)]
        account: AccountId,
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

/// An `--account` value: an account's id (`acct_…`), checked where it
/// enters.
fn account_id(s: &str) -> Result<AccountId, String> {
    AccountId::parse(s).map_err(|_| format!("'{s}' is not an account id (acct_…)"))
}
