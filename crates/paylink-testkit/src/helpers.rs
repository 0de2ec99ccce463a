//! `spawn_app`: the real application on a random port against a fresh
//! database (a temporary SQLite file, or a fresh PostgreSQL schema), with a
//! real HTTP client and a test and live key for a fresh account.

use std::sync::Arc;

use paylink::app::{self, DataOptions, Opened};
use paylink_crypto::Mode;
use paylink_domain::ManualClock;
use serde_json::Value;

pub use paylink_domain::Clock;
pub use serde_json::json;

pub use crate::db::{fresh_pg_url, Db};

pub struct TestApp {
    pub base: String,
    pub sim_base: String,
    pub sim: paylink_providers::sim::SimConfig,
    pub client: reqwest::Client,
    pub opened: Opened,
    pub opts: DataOptions,
    /// The test's clock: the server's, unless it was started with
    /// [`Spawn::system_clock`].
    pub clock: Arc<ManualClock>,
    /// The clock the server runs on.
    pub server_clock: Arc<dyn Clock>,
    pub account: String,
    pub key: String,
    pub live_key: String,
    pub db: Db,
    /// The server's store: events it writes render as the API does, on
    /// the server's clock (for jobs run by hand, such as `purge_once`).
    pub store: paylink_store::Store,
    _dir: tempfile::TempDir,
}

/// A response: status and JSON body (Null if the body is not JSON).
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl Resp {
    /// Asserts a Stripe-shaped error with this status and param.
    #[track_caller]
    pub fn assert_error(&self, status: u16, param: Option<&str>) {
        assert_eq!(self.status, status, "{self:?}");
        let err = self.body.get("error").unwrap_or(&Value::Null);
        assert!(err["type"].is_string(), "no error type: {self:?}");
        assert!(
            err["message"].as_str().is_some_and(|m| !m.is_empty()),
            "no message: {self:?}"
        );
        assert_eq!(err["param"].as_str(), param, "{self:?}");
    }
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "{self:?}");
        &self.body
    }
    pub fn id(&self) -> String {
        self.ok()["id"].as_str().unwrap_or_default().to_string()
    }
}

pub async fn spawn_app(db: Db) -> TestApp {
    Spawn::new(db).start().await
}

/// `spawn_app` with a per-key API rate limit (0: none).
pub async fn spawn_app_with(db: Db, api_rate: u32) -> TestApp {
    Spawn::new(db).api_rate(api_rate).start().await
}

/// `spawn_app` with the product's default limits on opening checkouts
/// (other tests send hundreds of buyers from one address in one minute of
/// their manual clock, so they lift them).
pub async fn spawn_app_default_limits(db: Db) -> TestApp {
    Spawn::new(db).checkout_limits().start().await
}

/// How to start a test app: [`spawn_app`] and its variants, and the
/// benchmarks in `bench/`.
#[derive(Debug, Clone)]
pub struct Spawn {
    db: Db,
    api_rate: u32,
    checkout_limits: bool,
    system_clock: bool,
    sign_in_ip_limit: Option<i64>,
    webhooks: Option<paylink_jobs::webhooks::Config>,
}

impl Spawn {
    /// No API rate limit, checkout opening limits lifted, a manual clock.
    pub fn new(db: Db) -> Self {
        Spawn {
            db,
            api_rate: 0,
            checkout_limits: false,
            system_clock: false,
            sign_in_ip_limit: None,
            webhooks: None,
        }
    }
    /// A per-key API rate limit per second (0: none).
    pub fn api_rate(mut self, per_second: u32) -> Self {
        self.api_rate = per_second;
        self
    }
    /// The product's own limits on opening checkouts.
    pub fn checkout_limits(mut self) -> Self {
        self.checkout_limits = true;
        self
    }
    /// The server runs on the system clock, not on [`TestApp::clock`]
    /// (benchmarks, where time must pass).
    pub fn system_clock(mut self) -> Self {
        self.system_clock = true;
        self
    }
    /// Failed sign-ins allowed per address before the address is throttled
    /// (`i64::MAX`: as if every attempt came from another address).
    pub fn sign_in_ip_limit(mut self, limit: i64) -> Self {
        self.sign_in_ip_limit = Some(limit);
        self
    }

    /// Webhook delivery with these settings (by default: receivers on
    /// 127.0.0.1 allowed, the outbox looked at every 50 ms).
    pub fn webhooks(mut self, cfg: paylink_jobs::webhooks::Config) -> Self {
        self.webhooks = Some(cfg);
        self
    }

    // Long: the app's start in the order it must happen (data, listeners, sim,
    // server, account, keys, provider connection).
    pub async fn start(self) -> TestApp {
        // Errors (the causes behind 500s) show in a failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("error")
            .try_init();
        let crate::db::FreshData { opened, opts, dir } = crate::db::fresh(self.db).await;
        let clock = Arc::new(ManualClock::new(1_795_000_000));
        let server_clock: Arc<dyn Clock> = if self.system_clock {
            Arc::new(paylink_domain::SystemClock)
        } else {
            clock.clone()
        };
        let (listener, base) = listen().await;
        let (sim_listener, sim_base) = listen().await;
        let mut sim = app::sim_config(&opened, &sim_base, &base, server_clock.clone())
            .await
            .unwrap();
        // Not the data directory's own file: a served process on this data
        // directory (tests of restarts) keeps its sim's records there.
        sim.state_file = Some(dir.path().join("in-process-sim.json"));
        app::spawn_sim(sim_listener, sim.clone());
        let state = app::state(
            &opened,
            &base,
            server_clock.clone(),
            self.api_rate,
            sim.clone(),
        )
        .await
        .unwrap();
        let state = self.tune(state);
        let served_store = state.store.clone();
        serve_in_background(listener, state);
        let now = server_clock.now();
        let account = app::create_account(&opened.store, "Test Shop", "owner@shop.example", now)
            .await
            .unwrap_or_else(|e| panic!("account: {e}"));
        let [key, live_key] = [Mode::Test, Mode::Live].map(|mode| {
            let opened = &opened;
            let account = &account.id;
            async move {
                app::create_key(opened, account, mode, now)
                    .await
                    .unwrap_or_else(|e| panic!("key: {e}"))
                    .secret
                    .expose()
                    .to_string()
            }
        });
        let app = TestApp {
            base,
            sim_base,
            sim,
            client: reqwest::Client::new(),
            account: account.id.clone(),
            key: key.await,
            live_key: live_key.await,
            opened,
            opts,
            clock,
            server_clock,
            db: self.db,
            store: served_store,
            _dir: dir,
        };
        // The merchant connects the sim, in test and in live mode, with
        // keys the sim issued, as a merchant would in the dashboard.
        for key in [app.key.clone(), app.live_key.clone()] {
            app.connect_sim(&app.account.clone(), &key).await;
        }
        app
    }

    /// The server's settings this spawn asks for.
    fn tune(&self, mut state: paylink_web::AppState) -> paylink_web::AppState {
        state = state
            .with_webhooks(self.webhooks.clone().unwrap_or_else(test_webhooks))
            .with_key_use_flush(std::time::Duration::from_millis(100));
        if !self.checkout_limits {
            state = state.with_checkout_limits(paylink_web::checkout::OpeningLimits {
                per_ip_minute: 1_000_000,
                per_link_minute: 1_000_000,
            });
        }
        if let Some(ip_limit) = self.sign_in_ip_limit {
            state = state.with_dashboard(paylink_web::dashboard::DashboardConfig {
                ip_limit,
                ..Default::default()
            });
        }
        state
    }
}

/// The tests' webhook delivery: receivers on 127.0.0.1 allowed (only
/// there: 127.0.0.2 stands for an internal address), the outbox looked at
/// every 50 ms.
pub fn test_webhooks() -> paylink_jobs::webhooks::Config {
    paylink_jobs::webhooks::Config {
        allow: vec!["127.0.0.1/32".parse().unwrap_or_else(|e| panic!("{e}"))],
        poll: std::time::Duration::from_millis(50),
        ..Default::default()
    }
}

/// Serves `state` on `listener` until the test's runtime ends.
fn serve_in_background(listener: tokio::net::TcpListener, state: paylink_web::AppState) {
    tokio::spawn(async move {
        let _ = app::serve(
            listener,
            state,
            paylink_jobs::Retention::default(),
            std::future::pending(),
        )
        .await;
    });
}

/// A listener on a free loopback port, and its base URL.
async fn listen() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    (listener, format!("http://{addr}"))
}

/// Flattens a JSON object into Stripe's bracket notation.
pub fn form(v: &Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, x)| {
                walk(
                    &if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}[{k}]")
                    },
                    x,
                    out,
                )
            }),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, x)| walk(&format!("{prefix}[{i}]"), x, out)),
            Value::String(s) => out.push((prefix.to_string(), s.clone())),
            Value::Null => out.push((prefix.to_string(), String::new())),
            other => out.push((prefix.to_string(), other.to_string())),
        }
    }
    let mut out = Vec::new();
    walk("", v, &mut out);
    out
}

pub fn encode(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

impl TestApp {
    /// The server's time now.
    pub fn now(&self) -> i64 {
        self.server_clock.now()
    }
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let r = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("request failed: {e}"));
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            body,
            headers,
            bytes,
        }
    }
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    /// POST with form-encoded `params` (a JSON object) as the test key.
    pub async fn post(&self, path: &str, params: Value) -> Resp {
        self.post_as(&self.key, path, params).await
    }
    pub async fn post_as(&self, key: &str, path: &str, params: Value) -> Resp {
        let body = encode(&form(&params));
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(key)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }
    /// POST with a JSON body.
    pub async fn post_json(&self, path: &str, params: Value) -> Resp {
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(&self.key)
                .json(&params),
        )
        .await
    }
    pub async fn get(&self, path: &str) -> Resp {
        self.get_as(&self.key, path).await
    }
    pub async fn get_as(&self, key: &str, path: &str) -> Resp {
        self.send(self.client.get(self.url(path)).bearer_auth(key))
            .await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.delete_as(&self.key, path).await
    }
    pub async fn delete_as(&self, key: &str, path: &str) -> Resp {
        self.send(self.client.delete(self.url(path)).bearer_auth(key))
            .await
    }
    /// A connection of its own to the test's database, beside the app's
    /// pool.
    async fn raw_connection(&self) -> sqlx::AnyConnection {
        let url = match &self.opts.database_url {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.opts.sqlite_path().display()),
        };
        <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap()
    }

    /// Runs SQL straight on the test's database (to tamper with it).
    pub async fn raw_exec(&self, sql: &str) {
        let mut conn = self.raw_connection().await;
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }

    /// The `paylink` binary with `args`, on this app's data directory (or
    /// PostgreSQL schema), as a process.
    pub fn cli(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = crate::cli::paylink();
        cmd.args(args).arg("--data-dir").arg(&self.opts.data_dir);
        if let Some(url) = &self.opts.database_url {
            cmd.arg("--database-url").arg(url);
        }
        cmd
    }

    /// [`cli`] run to its end.
    ///
    /// [`cli`]: TestApp::cli
    pub fn run_cli(&self, args: &[&str]) -> crate::cli::Output {
        crate::cli::run(&mut self.cli(args))
    }

    /// A `paylink` command run in-process on this app's data (as [`cli`]
    /// runs it as a process) at the test clock's time: what it printed, or
    /// its error.
    ///
    /// [`cli`]: TestApp::cli
    pub async fn cli_in_process(&self, args: &[&str]) -> Result<String, paylink::app::AppError> {
        use clap::Parser;
        let mut argv: Vec<String> = std::iter::once("paylink")
            .chain(args.iter().copied())
            .map(str::to_string)
            .collect();
        argv.push("--data-dir".into());
        argv.push(self.opts.data_dir.display().to_string());
        if let Some(url) = &self.opts.database_url {
            argv.push("--database-url".into());
            argv.push(url.clone());
        }
        let cli = paylink::cli::Cli::try_parse_from(argv)
            .map_err(|e| paylink::app::AppError::Invalid(e.to_string()))?;
        let mut out = Vec::new();
        paylink::cli::run_with(cli.command, self.server_clock.clone(), &mut out).await?;
        Ok(String::from_utf8(out).unwrap())
    }

    /// Every byte the database holds: the SQLite file and its WAL, or a
    /// `pg_dump` of this test's schema.
    pub fn raw_database(&self) -> Vec<u8> {
        match self.db {
            Db::Sqlite => {
                let mut b = std::fs::read(self.opts.sqlite_path()).unwrap();
                b.extend(
                    std::fs::read(self.opts.data_dir.join("paylink.db-wal")).unwrap_or_default(),
                );
                b
            }
            Db::Postgres => {
                let url = self.opts.database_url.clone().unwrap();
                let (base, schema) = url.split_once("?options[search_path]=").unwrap();
                let out = std::process::Command::new("pg_dump")
                    .args(["--no-owner", "--schema", schema, "--dbname", base])
                    .output()
                    .expect("pg_dump");
                assert!(
                    out.status.success(),
                    "pg_dump: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(
                    String::from_utf8_lossy(&out.stdout).contains("CREATE TABLE"),
                    "the dump is empty"
                );
                out.stdout
            }
        }
    }

    /// The first column of every row of a query, as text.
    /// The account's audit log, oldest first.
    pub async fn audit_log(&self) -> Vec<paylink_store::audit::AuditEntry> {
        self.opened
            .store
            .audit_entries(Some(&self.account))
            .await
            .unwrap()
    }

    pub async fn raw_strings(&self, sql: &str) -> Vec<String> {
        use sqlx::Row;
        let mut conn = self.raw_connection().await;
        sqlx::query(sql)
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String, _>(0).unwrap())
            .collect()
    }

    /// A second account with its own test key.
    /// The sim secret key of the merchant behind API key `key`.
    pub fn sim_key_for(&self, key: &str) -> String {
        let merchant = format!(
            "simm{}",
            key.trim_start_matches("sk_test_")
                .trim_start_matches("sk_live_")
        );
        paylink_providers::sim::merchant_key(&self.sim.issuing_key, &merchant)
            .expose()
            .to_string()
    }

    /// The test-mode sim secret key of the main account.
    pub fn sim_key(&self) -> String {
        self.sim_key_for(&self.key)
    }

    pub async fn other_account(&self) -> (String, String) {
        let now = self.now();
        let a = app::create_account(&self.opened.store, "Other Shop", "other@shop.example", now)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let k = app::create_key(&self.opened, &a.id, Mode::Test, now)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let key = k.secret.expose().to_string();
        self.connect_sim(&a.id, &key).await;
        (a.id, key)
    }

    /// A second paylink instance on this app's database (as a second
    /// process behind a load balancer would be), with the product's own
    /// limits; returns its base URL.
    pub async fn second_instance(&self) -> String {
        let opened = app::open(&self.opts).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sim = app::sim_config(
            &opened,
            &self.sim_base,
            &self.base,
            self.server_clock.clone(),
        )
        .await
        .unwrap();
        let state = app::state(&opened, &self.base, self.server_clock.clone(), 0, sim)
            .await
            .unwrap();
        serve_in_background(listener, state);
        base
    }

    /// Connects `account` (in the mode of API key `key`) to the sim
    /// merchant of that key, as an owner would in the dashboard (provider
    /// connection is not an API operation).
    pub async fn connect_sim(&self, account: &str, key: &str) {
        let merchant = format!(
            "simm{}",
            key.trim_start_matches("sk_test_")
                .trim_start_matches("sk_live_")
        );
        let scope = paylink_store::Scope {
            account_id: account.to_string(),
            livemode: key.starts_with("sk_live_"),
        };
        let secret = paylink_crypto::Secret::new(self.sim_key_for(key));
        self.opened
            .store
            .connect_provider(&scope, "sim", &secret, &merchant, self.now())
            .await
            .unwrap_or_else(|e| panic!("connect sim: {e}"));
    }

    // Fixtures.
    pub async fn product(&self, name: &str) -> String {
        self.post("/v1/products", json!({"name": name})).await.id()
    }
    pub async fn price(&self, currency: &str, amount: i64) -> String {
        let p = self.product("Thing").await;
        self.post(
            "/v1/prices",
            json!({"product": p, "currency": currency, "unit_amount": amount}),
        )
        .await
        .id()
    }
    pub async fn coupon_pct(&self, pct: &str) -> String {
        self.post("/v1/coupons", json!({"percent_off": pct}))
            .await
            .id()
    }
}

/// Runs an async test body (`async fn $name(app: TestApp)`) on SQLite and
/// on PostgreSQL, each on a fresh [`spawn_app`].
///
/// The runtime is multi-threaded, as `serve`'s is: the server and its
/// background jobs run on worker threads while the test body blocks (a
/// CLI process, a Python SDK script, a sleep). On a single-threaded
/// runtime a blocking call froze the server mid-transaction, and the CLI
/// beside it then waited on SQLite's write lock until it gave up.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::spawn_app($crate::helpers::Db::Sqlite).await).await
            }
            $crate::pg_test! {
                async fn postgres() {
                    super::$name($crate::helpers::spawn_app($crate::helpers::Db::Postgres).await).await
                }
            }
        }
    };
}

/// Runs `async fn $name(db: Db)` on SQLite and on PostgreSQL (tests below
/// HTTP, such as the store's own).
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::db::Db::Sqlite).await
            }
            $crate::pg_test! {
                async fn postgres() {
                    super::$name($crate::db::Db::Postgres).await
                }
            }
        }
    };
}

/// A multi-threaded `#[tokio::test]` (see [`both!`]) that needs PostgreSQL: ignored, with the reason
/// `cargo test` shows, when this kit was built without
/// `PAYLINK_TEST_DATABASE_URL` (see `build.rs`), so that a plain
/// `cargo test` runs SQLite and says plainly what it skipped.
#[cfg(pg_tests)]
#[macro_export]
macro_rules! pg_test {
    ($($test:tt)*) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $($test)*
    };
}

/// A multi-threaded `#[tokio::test]` (see [`both!`]) that needs PostgreSQL (see above).
#[cfg(not(pg_tests))]
#[macro_export]
macro_rules! pg_test {
    ($($test:tt)*) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[ignore = "PostgreSQL skipped: set PAYLINK_TEST_DATABASE_URL (e.g. postgres://root@127.0.0.1/test) to run it"]
        $($test)*
    };
}
