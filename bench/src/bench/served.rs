//! `paylink serve` as its own process (the release binary beside this
//! one, started with the test kit's one builder), on a fresh SQLite data
//! directory with one account and a test key: the product as an operator
//! runs it, logging at `info`, so that its CPU time can be read apart from
//! the load generator's.

use std::time::Duration;

use paylink_testkit::cli::{paylink, run};
use paylink_testkit::dash::Dash;
use paylink_testkit::served;

use super::Error;

pub struct Served {
    pub base: String,
    pub key: String,
    /// The test key's id.
    pub key_id: String,
    /// A restricted test key that may only read products.
    pub restricted_key: String,
    /// The account's owner, enrolled (password and TOTP) and signed in to
    /// the dashboard.
    pub owner: Dash,
    /// Its SQLite database (none on PostgreSQL).
    pub sqlite: Option<std::path::PathBuf>,
    /// The process (shared with the buyers of the completions figure).
    pub process: std::sync::Arc<served::Served>,
    _dir: tempfile::TempDir,
}

/// `paylink <args> --data-dir <data> [--database-url <db>]`, its JSON
/// output.
fn cli_json(
    data: &std::path::Path,
    db: Option<&str>,
    args: &[&str],
) -> Result<serde_json::Value, Error> {
    let mut cmd = paylink();
    cmd.args(args).arg("--data-dir").arg(data);
    if let Some(url) = db {
        cmd.arg("--database-url").arg(url);
    }
    let o = run(&mut cmd);
    if !o.ok {
        return Err(format!("paylink {args:?}: {}", o.stderr).into());
    }
    Ok(serde_json::from_str(&o.stdout)?)
}

fn text(v: &serde_json::Value, field: &str) -> Result<String, Error> {
    Ok(v.get(field)
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| format!("no {field} in {v}"))?
        .to_string())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// Enrols the owner through the setup link, signs up a merchant at the
/// sim and connects its key on the dashboard's settings page (with the
/// next TOTP code), as an owner does; the owner's signed-in browser.
async fn connect_sim(process: &served::Served, setup_path: &str) -> Result<Dash, Error> {
    let now = unix_now();
    let mut owner = Dash::enrolled(&process.base, "owner@bench.example", setup_path, now).await;
    let merchant: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/v1/merchants", process.sim_base))
        .send()
        .await?
        .json()
        .await?;
    let key = text(&merchant, "secret_key")?;
    owner.get("/dashboard/settings").await;
    // The enrolment used this step's code; a code works once.
    let code = owner.code(now + 30);
    let p = owner
        .post(
            "/dashboard/settings/connect",
            &[("secret_key", &key), ("code", &code)],
        )
        .await;
    if !p.body.contains("Connected") {
        return Err(format!("connecting the sim: {}", p.status).into());
    }
    Ok(owner)
}

impl Served {
    /// A fresh instance on SQLite (`db` None) or on the PostgreSQL
    /// database at `db`, with the limits a load test would trip lifted (API
    /// rate, checkout openings per address and per link).
    pub async fn start(db: Option<&str>) -> Result<Served, Error> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let account = cli_json(
            &data,
            db,
            &[
                "account",
                "create",
                "--name",
                "Bench Shop",
                "--owner-email",
                "owner@bench.example",
                "--json",
            ],
        )?;
        let setup = text(&account, "owner_setup_url")?;
        let setup_path = setup
            .find("/setup/")
            .and_then(|i| setup.get(i..))
            .ok_or("no setup path in the owner's link")?
            .to_string();
        let account = text(&account, "id")?;
        let key = cli_json(
            &data,
            db,
            &[
                "keys",
                "create",
                "--account",
                &account,
                "--mode",
                "test",
                "--json",
            ],
        )?;
        let restricted = cli_json(
            &data,
            db,
            &[
                "keys",
                "create",
                "--account",
                &account,
                "--mode",
                "test",
                "--kind",
                "restricted",
                "--permission",
                "products=read",
                "--json",
            ],
        )?;
        let mut cmd = served::Served::command_for(&data, db, "127.0.0.1:0", "127.0.0.1:0", &[]);
        // Its log lines are written (a server's cost) but not read here (a
        // reader would take the bench's own CPU from the shared cores).
        cmd.env("PAYLINK_LOG", "info")
            .stderr(std::process::Stdio::null());
        // It prints "listening" once its socket is bound.
        let process = tokio::task::spawn_blocking(move || served::Served::spawn(cmd)).await?;
        let owner = connect_sim(&process, &setup_path).await?;
        Ok(Served {
            owner,
            base: process.base.clone(),
            key: text(&key, "secret")?,
            key_id: text(&key, "id")?,
            restricted_key: text(&restricted, "secret")?,
            sqlite: db.is_none().then(|| data.join("paylink.db")),
            process: std::sync::Arc::new(process),
            _dir: dir,
        })
    }

    /// The server process's CPU time so far (user + system).
    pub fn cpu(&self) -> Result<Duration, Error> {
        super::proc_cpu(self.process.pid())
    }

    /// The server process's resident memory, in bytes.
    pub fn rss(&self) -> Result<u64, Error> {
        super::proc_rss(self.process.pid())
    }

    /// `POST` of form `pairs` with the test key; the object's id.
    pub async fn create(&self, path: &str, pairs: &[(&str, &str)]) -> Result<String, Error> {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .form(pairs)
            .send()
            .await?;
        let status = r.status();
        let body: serde_json::Value = r.json().await?;
        if !status.is_success() {
            return Err(format!("POST {path}: {status} {body}").into());
        }
        text(&body, "id")
    }

    /// A payment link of one product at `amount` cents; its page's URL.
    pub async fn link(&self, amount: i64) -> Result<String, Error> {
        let price = self
            .create(
                "/v1/prices",
                &[
                    ("currency", "eur"),
                    ("unit_amount", &amount.to_string()),
                    ("product_data[name]", "Bench T-shirt"),
                ],
            )
            .await?;
        let link = self
            .create(
                "/v1/payment_links",
                &[
                    ("line_items[0][price]", &price),
                    ("line_items[0][quantity]", "1"),
                ],
            )
            .await?;
        Ok(format!("{}/l/{link}", self.base))
    }
}
