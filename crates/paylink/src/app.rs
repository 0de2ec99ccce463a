//! Opening the data directory and the database, and serving the API.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use paylink_crypto::{KeyFile, Mode, PlaintextApiKey, Secret};
use paylink_domain::{AccountId, Clock, Email, IdKind, SystemClock};
use paylink_providers::sim::{SimClient, SimConfig};
use paylink_store::audit::AuditEvent;
use paylink_store::vault::Vault;
use paylink_store::{Database, Scope, Store};
use paylink_web::AppState;

/// Purpose label of the HMAC key that API keys are stored under.
pub(crate) const API_KEY_PEPPER: &str = "paylink/api-key-pepper/v1";

/// Where data lives: a directory (SQLite database and key file) and,
/// optionally, a PostgreSQL URL that replaces the SQLite database.
#[derive(Debug, Clone)]
pub struct DataOptions {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
}

/// An opened installation: store (migrated) and keys.
pub struct Opened {
    /// The migrated store, able to seal and open personal data.
    pub store: Store,
    /// The key file, when the master key comes from one (not from
    /// `PAYLINK_MASTER_KEY`); rotation adds versions to it.
    pub key_path: Option<PathBuf>,
    /// Where uploaded files are kept.
    pub files_dir: PathBuf,
    /// Where the built-in sim provider keeps its records.
    pub sim_state: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("{0}")]
    Keys(#[from] paylink_crypto::KeyFileError),
    #[error("database: {0}")]
    Store(#[from] paylink_store::StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl DataOptions {
    pub fn key_path(&self) -> PathBuf {
        self.data_dir.join("paylink.key")
    }
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("paylink.db")
    }
}

fn create_data_dir(dir: &Path) -> Result<(), AppError> {
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir)
            .map_err(|e| AppError::DataDir(dir.to_path_buf(), e))?;
    }
    Ok(())
}

/// Opens the database named by `opts` (creating the SQLite file if
/// needed), without its keys: enough to migrate it.
pub async fn open_database(opts: &DataOptions) -> Result<Database, AppError> {
    match &opts.database_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Ok(Database::open_postgres(url).await?),
        Some(url) => Err(AppError::Invalid(format!(
            "unsupported database URL scheme in {}: use postgres://… (or leave it unset for SQLite in the data directory)",
            url.split(':').next().unwrap_or("")
        ))),
        None => {
            create_data_dir(&opts.data_dir)?;
            let path = opts.sqlite_path();
            // Create the file owner-only before SQLite opens it; SQLite gives
            // its -wal and -shm files the same mode.
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create(true).truncate(false);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                o.mode(0o600);
            }
            o.open(&path).map_err(|e| AppError::DataDir(path.clone(), e))?;
            Ok(Database::open_sqlite(&path).await?)
        }
    }
}

/// Creates the data directory, the key file and the database as needed,
/// and applies migrations.
pub async fn open(opts: &DataOptions) -> Result<Opened, AppError> {
    create_data_dir(&opts.data_dir)?;
    let env_key = std::env::var("PAYLINK_MASTER_KEY")
        .ok()
        .filter(|s| !s.is_empty())
        .map(Secret::new);
    let keys = KeyFile::load_or_create(&opts.key_path(), env_key.as_ref())?;
    let key_path = env_key.is_none().then(|| opts.key_path());
    let database = open_database(opts).await?;
    database.migrate().await?;
    // Events written outside a served request (the CLI's retention pass
    // expiring sessions) render their objects as the API does; `serve`
    // gives its own renderer, with its public URL and clock.
    let public_url = std::env::var("PAYLINK_PUBLIC_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let store = database
        .with_vault(Arc::new(Vault::new(keys, key_path.clone())))
        .await?
        .rendering(Arc::new(paylink_web::objects::EventRenderer {
            public_url: public_url.trim_end_matches('/').to_string(),
            clock: system_clock(),
        }));
    Ok(Opened {
        store,
        key_path,
        files_dir: opts.data_dir.join("files"),
        sim_state: opts.data_dir.join("sim-state.json"),
    })
}

/// Default per-key API rate limit, requests per second (Stripe's live-mode
/// figure).
pub const DEFAULT_API_RATE: u32 = 100;

/// The application state for an opened installation; `api_rate` is the
/// per-key limit in requests per second (0: none).
pub async fn state(
    opened: &Opened,
    public_url: &str,
    clock: Arc<dyn Clock>,
    api_rate: u32,
    sim: SimConfig,
) -> Result<AppState, AppError> {
    let files = paylink_web::files::local_store(&opened.files_dir).map_err(AppError::Invalid)?;
    Ok(AppState::new(
        opened.store.clone(),
        opened.store.instance_secret(API_KEY_PEPPER).await?,
        public_url,
        clock,
        api_rate,
        Arc::new(SimClient::new(sim)),
    )
    .with_files(files))
}

/// The sim provider's configuration: its origin, the key it mints
/// merchants' secret keys with, and its webhook secret, derived from the
/// instance data key (so they survive restarts and master key rotations).
pub async fn sim_config(
    opened: &Opened,
    sim_origin: &str,
    public_url: &str,
    clock: Arc<dyn Clock>,
) -> Result<SimConfig, AppError> {
    Ok(SimConfig {
        origin: sim_origin.trim_end_matches('/').to_string(),
        issuing_key: Arc::new(
            opened
                .store
                .instance_secret("paylink/sim-issuing/v1")
                .await?,
        ),
        webhook_secret: Arc::new(
            opened
                .store
                .instance_secret("paylink/sim-webhook-secret/v1")
                .await?,
        ),
        webhook_url: format!("{}/webhooks/sim", public_url.trim_end_matches('/')),
        clock,
        state_file: Some(opened.sim_state.clone()),
    })
}

/// Serves the sim provider's pages and API on `listener`.
pub fn spawn_sim(listener: tokio::net::TcpListener, cfg: SimConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let r = paylink_web::server::serve(
            listener,
            paylink_providers::sim::router(cfg),
            paylink_web::server::Limits::default(),
            std::future::pending(),
        )
        .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "sim provider stopped");
        }
    })
}

/// A new merchant account.
pub async fn create_account(
    store: &Store,
    name: &str,
    owner_email: &str,
    now: i64,
) -> Result<paylink_store::accounts::Account, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::Invalid(
            "--name must be 1 to 100 characters".into(),
        ));
    }
    let email = Email::parse(owner_email)
        .map_err(|_| AppError::Invalid("--owner-email is not a valid email address".into()))?;
    let id = AccountId::generate().map_err(|e| AppError::Invalid(e.to_string()))?;
    let account = store
        .create_account(id.as_str(), name, email.as_str(), now)
        .await?;
    // The owner is the account's first dashboard user. Someone who
    // already has a sign-in is never joined silently (finding 1 of the
    // security review): they get an invitation instead (see
    // [`owner_link`]) and accept it while signed in as themselves.
    let key = store.blind(email.as_str()).await?;
    if store.user_id_by_email(&key).await?.is_none() {
        let user_id = paylink_domain::id::generate(IdKind::User)
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        store
            .add_member(
                user_id.as_str(),
                email.as_str(),
                &key,
                &account.id,
                paylink_domain::roles::Role::Owner,
                now,
            )
            .await?;
    }
    store
        .audit(AuditEvent {
            account_id: Some(&account.id),
            actor: "cli",
            action: "account.created",
            target: Some(&account.id),
            detail: serde_json::json!({}),
            now,
        })
        .await?;
    Ok(account)
}

/// How the owner named at account creation gets in: a new user's setup
/// link, or an invitation for someone who already has a sign-in. Either
/// is for the operator's eyes only.
pub enum OwnerLink {
    Setup(Secret<String>),
    Invitation(Secret<String>),
}

/// The operator's link for the owner `email` of a new account.
pub async fn owner_link(
    store: &Store,
    public_url: &str,
    account: &paylink_store::accounts::Account,
    email: &str,
    now: i64,
) -> Result<OwnerLink, AppError> {
    let parsed = Email::parse(email)
        .map_err(|_| AppError::Invalid("--owner-email is not a valid email address".into()))?;
    let key = store.blind(parsed.as_str()).await?;
    let member = match store.user_id_by_email(&key).await? {
        Some(u) => store.role_of(&u, &account.id).await?.is_some(),
        None => false,
    };
    if member {
        return Ok(OwnerLink::Setup(
            setup_link(store, public_url, &account.id, email, now).await?,
        ));
    }
    let link = paylink_web::service::team::invite(
        store,
        public_url,
        &account.id,
        &account.name,
        "cli",
        &parsed,
        paylink_domain::roles::Role::Owner,
        now,
    )
    .await
    .map_err(|e| AppError::Invalid(format!("could not invite the owner: {e:?}")))?;
    Ok(OwnerLink::Invitation(link))
}

/// Seconds a setup link is valid.
pub const SETUP_LINK_TTL: i64 = 24 * 3600;

/// A one-time link (valid 24 hours) with which the member `email` of
/// `account_id` sets a password and enrols TOTP; for a member who already
/// has a second factor, the link replaces the password and still asks for
/// a code. Only the link's hash is stored.
pub async fn setup_link(
    store: &Store,
    public_url: &str,
    account_id: &str,
    email: &str,
    now: i64,
) -> Result<Secret<String>, AppError> {
    let email = Email::parse(email)
        .map_err(|_| AppError::Invalid("--email is not a valid email address".into()))?;
    let key = store.blind(email.as_str()).await?;
    let user = store.user_id_by_email(&key).await?;
    let member = match &user {
        Some(u) => store.role_of(u, account_id).await?.is_some(),
        None => false,
    };
    let (Some(user), true) = (user, member) else {
        return Err(AppError::Invalid(format!(
            "{} is not a member of account {account_id}",
            email.as_str()
        )));
    };
    let token = paylink_web::dashboard::new_token()
        .map_err(|_| AppError::Invalid("the random number generator failed".into()))?;
    store
        .add_user_token(
            paylink_store::users::TokenKind::Setup,
            &paylink_web::dashboard::token_hash(token.expose()),
            &user,
            account_id,
            now,
            now + SETUP_LINK_TTL,
        )
        .await?;
    store
        .audit(AuditEvent {
            account_id: Some(account_id),
            actor: "cli",
            action: "setup_link.created",
            target: Some(&user),
            detail: serde_json::json!({}),
            now,
        })
        .await?;
    Ok(Secret::new(format!(
        "{}/setup/{}",
        public_url.trim_end_matches('/'),
        token.expose()
    )))
}

/// A newly created API key: its id and the plaintext, shown once.
pub struct CreatedKey {
    pub id: String,
    pub secret: PlaintextApiKey,
    pub livemode: bool,
}

/// Creates a secret key for `account_id` in `mode`; stores only its hash.
pub async fn create_key(
    opened: &Opened,
    account_id: &str,
    mode: Mode,
    now: i64,
) -> Result<CreatedKey, AppError> {
    create_key_with(
        opened,
        account_id,
        mode,
        paylink_store::api_keys::KeySpec::secret("cli"),
        now,
    )
    .await
}

/// Creates a key as `spec` says (the operator's CLI: any kind) for
/// `account_id` in `mode`; stores only its hash.
pub async fn create_key_with(
    opened: &Opened,
    account_id: &str,
    mode: Mode,
    spec: paylink_store::api_keys::KeySpec<'_>,
    now: i64,
) -> Result<CreatedKey, AppError> {
    opened
        .store
        .get_account(account_id)
        .await
        .map_err(|e| match e {
            paylink_store::StoreError::NotFound => {
                AppError::Invalid(format!("no such account: {account_id}"))
            }
            other => other.into(),
        })?;
    let scope = Scope {
        account_id: account_id.to_string(),
        livemode: mode.livemode(),
    };
    let (id, secret) = opened
        .store
        .create_api_key(
            &scope,
            spec,
            &opened.store.instance_secret(API_KEY_PEPPER).await?,
            now,
        )
        .await?;
    opened
        .store
        .audit(AuditEvent {
            account_id: Some(account_id),
            actor: spec.created_by,
            action: "api_key.created",
            target: Some(&id),
            detail: serde_json::json!({"type": spec.kind.as_str(), "livemode": mode.livemode(), "last4": secret.last4(), "permissions": spec.permissions, "name": spec.name}),
            now,
        })
        .await?;
    Ok(CreatedKey {
        id,
        secret,
        livemode: mode.livemode(),
    })
}

/// Serves the API on `listener` until `shutdown` resolves; runs the
/// background pass (expiry and retention) alongside, every minute, and
/// webhook delivery.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    retention: paylink_jobs::Retention,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let purge = paylink_jobs::spawn_retention(
        state.store.clone(),
        state.clock.clone(),
        Duration::from_secs(60),
        retention,
    );
    let reconcile = paylink_jobs::refunds::spawn_reconciler(
        state.store.clone(),
        state.provider.clone(),
        state.clock.clone(),
        Duration::from_secs(60),
    );
    let deliver = paylink_jobs::webhooks::spawn_delivery(
        state.store.clone(),
        state.clock.clone(),
        state.webhooks.clone(),
    )
    .map_err(|e| AppError::Invalid(format!("webhook delivery: {e}")))?;
    let key_use = paylink_web::auth::spawn_key_use_flush(state.clone(), state.key_use_flush);
    let result = paylink_web::server::serve(
        listener,
        paylink_web::router(state),
        paylink_web::server::Limits::default(),
        shutdown,
    )
    .await;
    purge.abort();
    reconcile.abort();
    deliver.abort();
    key_use.abort();
    result.map_err(AppError::Io)
}

/// The system clock, shared.
pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}
