//! stripe-python against paylink and against localstripe (Stripe's API
//! mocked in Python, in memory), each as its own process: the server CPU
//! time one SDK call costs.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Error;

/// The Python with stripe-python (and localstripe) installed:
/// `PAYLINK_BENCH_PYTHON`, or the venv `bench/run` makes.
pub fn python() -> PathBuf {
    std::env::var_os("PAYLINK_BENCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/bench-venv/bin/python"))
}

const SCRIPT: &str = include_str!("../../sdk_load.py");

/// Runs `calls_per_thread` rounds of create product + retrieve + list on
/// `threads` threads against `base` with `key`; the number of SDK calls.
pub fn load(base: &str, key: &str, threads: u32, rounds: u32) -> Result<u64, Error> {
    let o = Command::new(python())
        .args([
            "-c",
            SCRIPT,
            base,
            key,
            &threads.to_string(),
            &rounds.to_string(),
        ])
        .output()
        .map_err(|e| {
            format!(
                "{}: {e} (run bench/run, or set PAYLINK_BENCH_PYTHON)",
                python().display()
            )
        })?;
    if !o.status.success() {
        return Err(format!("stripe-python load: {}", String::from_utf8_lossy(&o.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&o.stdout).trim().parse()?)
}

/// localstripe on a free port.
pub struct LocalStripe {
    pub base: String,
    child: Child,
}

impl LocalStripe {
    pub async fn start() -> Result<Self, Error> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let bin = python().with_file_name("localstripe");
        let child = Command::new(&bin)
            .args(["--port", &port.to_string(), "--from-scratch"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e} (run bench/run)", bin.display()))?;
        let ls = LocalStripe {
            base: format!("http://127.0.0.1:{port}"),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::Client::new();
        while Instant::now() < deadline {
            let r = client
                .get(format!("{}/v1/products", ls.base))
                .bearer_auth("sk_test_bench")
                .send()
                .await;
            if r.is_ok() {
                return Ok(ls);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("localstripe did not start in 30 s".into())
    }

    pub fn cpu(&self) -> Result<Duration, Error> {
        super::proc_cpu(self.child.id())
    }
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
