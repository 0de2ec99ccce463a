//! The figures at 1×, 10× and 100× the data (1× = 100 payment links,
//! 1,000 payments, 10 API keys), on one served instance grown between the
//! steps: the checkout page, a key check (`GET /v1/account`, which is
//! little more than authenticating), creating a payment link, the
//! dashboard overview (signed in as the owner, password and TOTP) and the
//! server's resident memory.

use std::time::{Duration, Instant};

use super::served::Served;
use super::{completions, seed, writes, wrk, Error};

pub const UNIT: seed::Amount = seed::Amount {
    links: 100,
    payments: 1_000,
    keys: 10,
};

pub const LEVELS: [u64; 3] = [1, 10, 100];

/// What was measured at one scale.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    pub level: u64,
    pub data: seed::Amount,
    pub page_per_sec: f64,
    pub key_check_per_sec: f64,
    pub creates_per_sec: f64,
    /// Median of several renders, one at a time.
    pub overview_ms: f64,
    pub rss_mib: f64,
}

/// Every level in turn, `secs` per load.
pub async fn run(secs: u64) -> Result<Vec<Step>, Error> {
    let served = Served::start(None).await?;
    let db = served
        .sqlite
        .clone()
        .ok_or("the scale figures run on SQLite")?;
    let page = served.link(2500).await?;
    let link = page.rsplit('/').next().unwrap_or_default().to_string();
    // One real purchase: the session and payment the seed copies.
    let paid = completions::buy_once(&served, &link).await?;
    let mut owner = served.owner.clone();
    let auth = format!("Authorization: Bearer {}", served.key);
    let account = format!("{}/v1/account", served.base);
    let mut steps = Vec::new();
    for level in LEVELS {
        let target = seed::Amount {
            links: UNIT.links * level,
            payments: UNIT.payments * level,
            keys: UNIT.keys * level,
        };
        seed::grow_to(&db, &link, &served.key_id, &paid, target).await?;
        let data = seed::count(&db).await?;
        wrk::run(&page, 1)?;
        let page_load = wrk::run(&page, secs)?;
        let key_load = wrk::run_with(&account, secs, &[&auth])?;
        if page_load.errors + key_load.errors > 0 {
            return Err(format!(
                "errors under load at {level}×: page {}, key check {}",
                page_load.errors, key_load.errors
            )
            .into());
        }
        let creates = writes::api_rate(&served, secs).await?;
        let mut times = Vec::new();
        for i in 0..8 {
            let t = Instant::now();
            let p = owner.get("/dashboard").await;
            let took = t.elapsed();
            if p.status != 200 || !p.body.contains("Revenue, 30 days") {
                return Err(format!("the overview answered {}", p.status).into());
            }
            // The first render warms up.
            if i > 0 {
                times.push(took);
            }
        }
        times.sort();
        let overview = times
            .get(times.len() / 2)
            .copied()
            .unwrap_or(Duration::ZERO);
        steps.push(Step {
            level,
            data,
            page_per_sec: page_load.requests_per_sec,
            key_check_per_sec: key_load.requests_per_sec,
            creates_per_sec: creates,
            overview_ms: overview.as_secs_f64() * 1000.0,
            rss_mib: served.rss()? as f64 / 1_048_576.0,
        });
        println!("at {level}×: {:?}", steps.last());
    }
    Ok(steps)
}

/// The steps as a Markdown table.
pub fn markdown(steps: &[Step]) -> String {
    use std::fmt::Write as _;
    let mut md = String::from("\n## At 1×, 10× and 100× the data\n\nOne SQLite instance grown between the steps (1× = 100 payment links, 1,000 payments, 10 API keys); wrk 2 threads, 32 connections; creates from 8 clients with an Idempotency-Key; the overview signed in as the owner, median of 7 renders.\n\n| data | links | payments | keys | GET /l/{id} req/s | key check (GET /v1/account) req/s | creates/s | overview ms | RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n");
    for s in steps {
        let _ = writeln!(
            md,
            "| {}× | {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} |",
            s.level,
            s.data.links,
            s.data.payments,
            s.data.keys,
            s.page_per_sec,
            s.key_check_per_sec,
            s.creates_per_sec,
            s.overview_ms,
            s.rss_mib
        );
    }
    md
}
