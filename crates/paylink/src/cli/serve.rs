//! `paylink serve` and `paylink demo`: both listeners bound, the sim
//! started, and the server run until SIGINT or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use paylink_domain::Clock;

use super::ServeArgs;
use crate::app::{self, AppError};

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
        if u64::try_from(self.webhook_lease_secs).unwrap_or(0) <= self.webhook_timeout_secs {
            return Err(AppError::Invalid(format!(
                "--webhook-lease-secs ({}) must be longer than --webhook-timeout-secs ({}): a delivery still in flight would be attempted again elsewhere",
                self.webhook_lease_secs, self.webhook_timeout_secs
            )));
        }
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
            .with_idempotency_lease(self.idempotency_lease_secs)
            .with_webhooks(paylink_jobs::webhooks::Config {
                allow: self.webhook_allow_cidr.clone(),
                timeout: std::time::Duration::from_secs(self.webhook_timeout_secs),
                lease_secs: self.webhook_lease_secs,
                ..Default::default()
            });
        tracing::info!(address = %bound, sim = %sim_origin, backend = ?opened.store.backend(), "paylink listening");
        Ok((listener, public_url, state, sim))
    }
}

/// Serves until a shutdown signal.
pub async fn serve(
    args: ServeArgs,
    clock: Arc<dyn Clock>,
    out: &mut dyn Write,
) -> Result<(), AppError> {
    let opened = app::open(&args.data.options()).await?;
    let (listener, public_url, state, _) = args.start(&opened, clock).await?;
    writeln!(
        out,
        "paylink listening on {public_url} (sim provider on {})",
        state.provider.origin()
    )?;
    app::serve(listener, state, args.retention.periods(), shutdown_signal()).await
}

/// Serves a ready demo account, key and payment link (in its own data
/// directory unless one is given).
pub async fn demo(
    mut args: ServeArgs,
    clock: Arc<dyn Clock>,
    out: &mut dyn Write,
) -> Result<(), AppError> {
    if args.data.data_dir == std::path::Path::new("./paylink-data") {
        args.data.data_dir = PathBuf::from("./paylink-demo-data");
    }
    let opened = app::open(&args.data.options()).await?;
    let (listener, public_url, state, sim) = args.start(&opened, clock.clone()).await?;
    let demo = crate::demo::seed(&opened, &state, &sim, clock.now()).await?;
    writeln!(
        out,
        "paylink demo is running (data in {}).",
        args.data.data_dir.display()
    )?;
    writeln!(out)?;
    writeln!(out, "  API base:         {public_url}/v1")?;
    writeln!(out, "  Test secret key:  {}", demo.secret)?;
    writeln!(out, "  Payment link:     {}", demo.link_url)?;
    writeln!(out, "  Promotion code:   {}", demo.promo_code)?;
    writeln!(out, "  Dashboard setup:  {}", demo.setup_url)?;
    writeln!(
        out,
        "    (the owner, owner@demo.paylink.invalid, sets a password and enrols an"
    )?;
    writeln!(
        out,
        "     authenticator app there; then sign in at {public_url}/login)"
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "  Open the payment link in a browser and pay with a test card:"
    )?;
    writeln!(
        out,
        "    4242 4242 4242 4242  succeeds        4000 0000 0000 0002  is declined"
    )?;
    writeln!(
        out,
        "    4000 0000 0000 9995  insufficient    4000 0025 0000 3155  3-D Secure challenge"
    )?;
    writeln!(out, "    (any future expiry, any 3-digit CVC, any name)")?;
    writeln!(out)?;
    writeln!(
        out,
        "  Try:  curl {public_url}/v1/payment_intents -u {}:",
        demo.secret
    )?;
    writeln!(out)?;
    writeln!(out, "Press Ctrl-C to stop.")?;
    app::serve(listener, state, args.retention.periods(), shutdown_signal()).await
}

/// Resolves on SIGINT or SIGTERM.
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
