//! `paylink serve` as its own process (the release binary beside this
//! one), on a fresh data directory with one account and a test key: the
//! product as an operator runs it, so its CPU time can be read apart from
//! the load generator's.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Error;

pub struct Served {
    pub base: String,
    pub key: String,
    child: Child,
    _dir: tempfile::TempDir,
}

/// The `paylink` binary built beside this one.
fn paylink_binary() -> Result<PathBuf, Error> {
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .ok_or("no directory of the bench binary")?
        .join(format!("paylink{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        return Err(format!(
            "{} is missing: build it first (cargo build --release -p paylink), or run bench/run",
            bin.display()
        )
        .into());
    }
    Ok(bin)
}

/// `paylink <args> --data-dir <data>`, with no `PAYLINK_*` variable of
/// this environment, logging at `info` as `paylink serve` does by default.
fn paylink(data: &Path, args: &[&str]) -> Result<Command, Error> {
    let mut cmd = Command::new(paylink_binary()?);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PAYLINK_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("PAYLINK_LOG", "info")
        .args(args)
        .arg("--data-dir")
        .arg(data);
    Ok(cmd)
}

fn run_json(cmd: &mut Command) -> Result<serde_json::Value, Error> {
    let o = cmd.output()?;
    if !o.status.success() {
        return Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&o.stderr)).into());
    }
    Ok(serde_json::from_slice(&o.stdout)?)
}

fn free_port() -> Result<u16, Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Served {
    /// A fresh instance on SQLite, with the limits a load test would trip
    /// lifted (API rate, checkout openings per address and per link).
    pub async fn start() -> Result<Served, Error> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let account = run_json(&mut paylink(
            &data,
            &[
                "account",
                "create",
                "--name",
                "Bench Shop",
                "--owner-email",
                "owner@bench.example",
                "--json",
            ],
        )?)?;
        let account = account
            .get("id")
            .and_then(serde_json::Value::as_str)
            .ok_or("no account id")?
            .to_string();
        let key = run_json(&mut paylink(
            &data,
            &[
                "keys",
                "create",
                "--account",
                &account,
                "--mode",
                "test",
                "--json",
            ],
        )?)?;
        let key = key
            .get("secret")
            .and_then(serde_json::Value::as_str)
            .ok_or("no secret")?
            .to_string();
        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let listen = format!("127.0.0.1:{port}");
        let sim_listen = format!("127.0.0.1:{}", free_port()?);
        let child = paylink(
            &data,
            &[
                "serve",
                "--listen",
                &listen,
                "--sim-listen",
                &sim_listen,
                "--api-rate-limit",
                "0",
                "--checkout-opens-per-address",
                "1000000",
                "--checkout-opens-per-link",
                "1000000",
            ],
        )?
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
        let served = Served {
            base,
            key,
            child,
            _dir: dir,
        };
        served.wait_ready().await?;
        Ok(served)
    }

    async fn wait_ready(&self) -> Result<(), Error> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/readyz", self.base)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("paylink serve did not become ready in 30 s".into())
    }

    /// The server process's CPU time so far (user + system).
    pub fn cpu(&self) -> Result<Duration, Error> {
        super::proc_cpu(self.child.id())
    }

    /// The server process's resident memory, in bytes.
    pub fn rss(&self) -> Result<u64, Error> {
        super::proc_rss(self.child.id())
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
        Ok(body
            .get("id")
            .and_then(serde_json::Value::as_str)
            .ok_or("no id")?
            .to_string())
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

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
