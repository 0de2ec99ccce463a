//! A real `paylink serve` process on a test app's data directory (or
//! PostgreSQL schema): for what only a separate process shows (its logs,
//! SIGKILL and restarts, clients that hang up on it).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::helpers::TestApp;

pub struct Served {
    pub base: String,
    pub sim_base: String,
    child: Child,
}

/// A loopback address with a port that was free a moment ago.
pub fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

impl Served {
    /// `paylink serve` on `app`'s database, on ephemeral ports.
    pub fn start(app: &TestApp, extra: &[&str]) -> Self {
        Self::start_on(app, "127.0.0.1:0", "127.0.0.1:0", &app.opts.data_dir, extra)
    }

    /// `paylink serve` on `app`'s database with its files in `data_dir`,
    /// listening on `listen` (the sim on `sim_listen`). Checkout and API
    /// rate limits are lifted (the tests' clients share one address).
    pub fn start_on(
        app: &TestApp,
        listen: &str,
        sim_listen: &str,
        data_dir: &Path,
        extra: &[&str],
    ) -> Self {
        Self::spawn(Self::command(app, listen, sim_listen, data_dir, extra))
    }

    /// The command [`Served::start_on`] runs, to adjust before [`Served::spawn`].
    pub fn command(
        app: &TestApp,
        listen: &str,
        sim_listen: &str,
        data_dir: &Path,
        extra: &[&str],
    ) -> Command {
        Self::command_for(
            data_dir,
            app.opts.database_url.as_deref(),
            listen,
            sim_listen,
            extra,
        )
    }

    /// [`Served::start_on`] without a test app (from another thread).
    pub fn start_cmd(
        data_dir: &Path,
        database_url: Option<&str>,
        listen: &str,
        sim_listen: &str,
        extra: &[&str],
    ) -> Self {
        Self::spawn(Self::command_for(
            data_dir,
            database_url,
            listen,
            sim_listen,
            extra,
        ))
    }

    /// The command [`Served::start_cmd`] runs, to adjust before
    /// [`Served::spawn`].
    pub fn command_for(
        data_dir: &Path,
        database_url: Option<&str>,
        listen: &str,
        sim_listen: &str,
        extra: &[&str],
    ) -> Command {
        let mut cmd = crate::cli::paylink();
        cmd.args([
            "serve",
            "--listen",
            listen,
            "--sim-listen",
            sim_listen,
            "--api-rate-limit",
            "0",
            "--checkout-opens-per-address",
            "1000000",
            "--checkout-opens-per-link",
            "1000000",
            "--webhook-allow-cidr",
            "127.0.0.1/32",
            "--data-dir",
        ])
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        if let Some(u) = database_url {
            cmd.arg("--database-url").arg(u);
        }
        cmd
    }

    /// Runs `cmd` and waits for its "listening" line.
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd.spawn().unwrap();
        // What it says on stderr (when piped) is kept for a failed start,
        // then drained.
        let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        if let Some(stderr) = child.stderr.take() {
            let keep = said.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut k = keep.lock().unwrap();
                    if k.len() < 20_000 {
                        k.push_str(&l);
                        k.push('\n');
                    }
                }
            });
        }
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "paylink listening on http://A (sim provider on http://B)"
        let base = line.split_whitespace().nth(3).unwrap_or("").to_string();
        let sim_base = line
            .trim_end()
            .trim_end_matches(')')
            .rsplit(' ')
            .next()
            .unwrap_or("")
            .to_string();
        assert!(
            base.starts_with("http://") && sim_base.starts_with("http://"),
            "paylink serve did not start: {line:?}\n{}",
            {
                std::thread::sleep(std::time::Duration::from_millis(200));
                said.lock().unwrap().clone()
            }
        );
        Served {
            base,
            sim_base,
            child,
        }
    }

    /// The process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a crash or the OOM killer would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and waits for the graceful stop.
    pub fn stop(&mut self) {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        self.child.wait().unwrap();
    }
}

impl Served {
    /// A buyer's whole checkout with a card that succeeds, on this
    /// process's pages and its sim; returns the session id.
    pub async fn pay(&self, b: &crate::buyer::Buyer, link: &str, email: &str) -> String {
        let s = b
            .post(
                &format!("{}/l/{link}", self.base),
                &[("email", email), ("action", "pay")],
            )
            .await;
        assert_eq!(s.status, 303, "{}", s.body);
        let go = b.get(&s.location.unwrap()).await;
        let card_page = go.location.unwrap();
        assert!(card_page.starts_with(&self.sim_base), "{card_page}");
        let paid = b.card(&card_page, crate::buyer::CARD_OK).await;
        assert_eq!(paid.status, 303, "{}", paid.body);
        paid.location
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.kill();
    }
}
