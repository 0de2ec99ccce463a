//! `paylink serve` as its own process (the release binary beside this
//! one, started with the test kit's one builder), on a fresh SQLite data
//! directory with one account and a test key: the product as an operator
//! runs it, logging at `info`, so that its CPU time can be read apart from
//! the load generator's.

use std::time::Duration;

use paylink_testkit::cli::{paylink, run};
use paylink_testkit::served;

use super::Error;

pub struct Served {
    pub base: String,
    pub key: String,
    process: served::Served,
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
        let mut cmd = served::Served::command_for(&data, db, "127.0.0.1:0", "127.0.0.1:0", &[]);
        // Its log lines are written (a server's cost) but not read here (a
        // reader would take the bench's own CPU from the shared cores).
        cmd.env("PAYLINK_LOG", "info")
            .stderr(std::process::Stdio::null());
        // It prints "listening" once its socket is bound.
        let process = tokio::task::spawn_blocking(move || served::Served::spawn(cmd)).await?;
        Ok(Served {
            base: process.base.clone(),
            key: text(&key, "secret")?,
            process,
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
