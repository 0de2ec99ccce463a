//! The figures at 1×, 10× and 100× the data (1× = 100 payment links,
//! 1,000 payments, 10 API keys), on one served instance grown between the
//! steps: the checkout page (of 100 links picked at random, in turn), a key check (`GET /v1/account`, which is
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

/// How many links' pages the page load goes round.
pub const PAGES: u64 = 100;

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
    /// The data after the loads (the create figure adds links).
    pub after: seed::Amount,
}

/// Every level in turn, `secs` per load.
pub async fn run(secs: u64) -> Result<Vec<Step>, Error> {
    let served = Served::start(None).await?;
    let db = served
        .sqlite
        .clone()
        .ok_or("the scale figures run on SQLite")?;
    let url = served.link(2500).await?;
    let link = url.rsplit('/').next().unwrap_or_default().to_string();
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
        // The page of 100 links picked at random from all there are, in
        // turn: the same spread at every step (the page cache holds each
        // page for a second, so each link is read from the database about
        // once a second whatever the data), so only the amount of data
        // differs between the steps.
        let paths: Vec<String> = seed::link_ids(&db, PAGES)
            .await?
            .iter()
            .map(|id| format!("/l/{id}"))
            .collect();
        wrk::run_paths(&served.base, &paths, 1)?;
        let page_load = wrk::run_paths(&served.base, &paths, secs)?;
        let key_load = wrk::run_with(&account, secs, &[&auth])?;
        if page_load.errors + key_load.errors > 0 {
            return Err(format!(
                "errors under load at {level}×: page {}, key check {}",
                page_load.errors, key_load.errors
            )
            .into());
        }
        let creates = writes::api_rate(&served, secs).await?;
        // Every payment seeded is in the window, and counted.
        let counted = format!(">{} payments<", data.payments);
        let mut times = Vec::new();
        for i in 0..8 {
            let t = Instant::now();
            let p = owner.get("/dashboard").await;
            let took = t.elapsed();
            if p.status != 200 || !p.body.contains(&counted) {
                return Err(
                    format!("the overview answered {} without {counted:?}", p.status).into(),
                );
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
            after: seed::count(&db).await?,
        });
        println!("at {level}×: {:?}", steps.last());
    }
    Ok(steps)
}

/// The steps as a Markdown table.
pub fn markdown(steps: &[Step]) -> String {
    use std::fmt::Write as _;
    let mut md = String::from("\n## At 1×, 10× and 100× the data\n\nOne SQLite instance grown between the steps (1× = 100 payment links, 1,000 payments, 10 API keys; the links the create figure makes count toward the next step); wrk 2 threads, 32 connections, the page of 100 links picked at random from all, in turn; creates from 8 clients with an Idempotency-Key; the overview signed in as the owner, median of 7 renders.\n\n| data | links | payments | keys | GET /l/{id} req/s | key check (GET /v1/account) req/s | creates/s | overview ms | RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n");
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
