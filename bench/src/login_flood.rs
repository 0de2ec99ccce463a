//! Login flood vs API latency, measured in one run.
//!
//! A real paylink server (SQLite, on loopback) gets a steady stream of API
//! requests (`GET /v1/products?limit=10`, one every 10 ms). First alone,
//! to measure the baseline p99; then while 500 wrong-password sign-ins per
//! second hit `/login` (open loop: sent on schedule whether or not earlier
//! ones were answered). The per-IP throttle is lifted for the run, as if
//! the flood came from a botnet, so every sign-in reaches the password
//! check: the worst case for the server. The claim: the API's p99 under
//! the flood stays within 2x of its unloaded p99, because password hashing
//! runs on a small bounded pool and sign-ins beyond it are turned away.
//!
//! Run: `cargo run --release -p paylink-bench --bin login-flood`
//! (`-- --seconds N` to change the length of each phase; default 20).
//! Exits 1 if the claim does not hold.

use std::time::{Duration, Instant};

use paylink_crypto::password;
use paylink_testkit::helpers::{Db, Spawn};

type Error = Box<dyn std::error::Error + Send + Sync>;

const API_INTERVAL: Duration = Duration::from_millis(10);
const LOGINS_PER_SEC: u64 = 500;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len() - 1))
        .copied()
        .unwrap_or_default()
}

/// Sends API requests on schedule for `secs`; returns their latencies.
async fn api_stream(
    client: reqwest::Client,
    url: String,
    key: String,
    secs: u64,
) -> Result<Vec<Duration>, Error> {
    let mut tick = tokio::time::interval(API_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let end = Instant::now() + Duration::from_secs(secs);
    let mut handles = Vec::new();
    while Instant::now() < end {
        tick.tick().await;
        let (c, u, k) = (client.clone(), url.clone(), key.clone());
        handles.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = c.get(&u).bearer_auth(&k).send().await?;
            let ok = r.status().is_success();
            r.bytes().await?;
            if !ok {
                return Err::<Duration, Error>("API request failed".into());
            }
            Ok(t.elapsed())
        }));
    }
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await??);
    }
    out.sort();
    Ok(out)
}

#[derive(Default, Debug)]
struct Flood {
    sent: u64,
    answered_page: u64,
    turned_away: u64,
    errors: u64,
}

/// Sends wrong-password sign-ins at `LOGINS_PER_SEC` for `secs`.
async fn flood(client: reqwest::Client, url: String, email: String, secs: u64) -> Flood {
    let interval = Duration::from_micros(1_000_000 / LOGINS_PER_SEC);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let end = Instant::now() + Duration::from_secs(secs);
    let mut handles = Vec::new();
    let mut n = 0u64;
    while Instant::now() < end {
        tick.tick().await;
        n += 1;
        let (c, u) = (client.clone(), url.clone());
        // Half aim at a real user, half at unknown emails.
        let who = if n.is_multiple_of(2) {
            email.clone()
        } else {
            format!("nobody{n}@example.com")
        };
        handles.push(tokio::spawn(async move {
            let body = format!(
                "email={}&password=wrong-password-{n}",
                who.replace('@', "%40")
            );
            let r = c
                .post(&u)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await;
            match r {
                Ok(r) => Some(r.status().as_u16()),
                Err(_) => None,
            }
        }));
    }
    let mut f = Flood {
        sent: n,
        ..Flood::default()
    };
    for h in handles {
        match h.await.ok().flatten() {
            Some(200) => f.answered_page += 1,
            Some(429) => f.turned_away += 1,
            _ => f.errors += 1,
        }
    }
    f
}

// Long: the benchmark's one run: set up, baseline, flood, report.
async fn run(secs: u64) -> Result<bool, Error> {
    // The per-IP sign-in throttle lifted, as if the flood came from a
    // botnet; the server on the system clock.
    let app = Spawn::new(Db::Sqlite)
        .system_clock()
        .sign_in_ip_limit(i64::MAX)
        .start()
        .await;
    let now = app.now();
    let store = &app.opened.store;
    let uid = store
        .user_id_by_email(&store.blind("owner@shop.example").await?)
        .await?
        .ok_or("no owner")?;
    let phc = password::hash(&password::normalize("the real password of the owner"))?;
    store.set_password(&uid, &phc, now).await?;
    let base = app.base.clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let key = app.key.clone();
    for i in 0..20 {
        let _ = client
            .post(format!("{base}/v1/products"))
            .bearer_auth(&key)
            .form(&[("name", format!("Product {i}"))])
            .send()
            .await?;
    }
    let api_url = format!("{base}/v1/products?limit=10");
    // Warm up connections and caches.
    api_stream(client.clone(), api_url.clone(), key.clone(), 2).await?;

    let alone = api_stream(client.clone(), api_url.clone(), key.clone(), secs).await?;
    let flood_task = tokio::spawn(flood(
        client.clone(),
        format!("{base}/login"),
        "owner@shop.example".into(),
        secs + 1,
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded = api_stream(client.clone(), api_url, key, secs).await?;
    let f = flood_task.await?;
    drop(app);

    let (p50a, p99a) = (percentile(&alone, 50.0), percentile(&alone, 99.0));
    let (p50b, p99b) = (percentile(&loaded, 50.0), percentile(&loaded, 99.0));
    let ratio = p99b.as_secs_f64() / p99a.as_secs_f64().max(1e-9);
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!("login flood vs API latency ({cores} cores, SQLite, {secs} s per phase)");
    println!(
        "  API alone:        {} requests, p50 {:.2} ms, p99 {:.2} ms",
        alone.len(),
        ms(p50a),
        ms(p99a)
    );
    println!(
        "  API under flood:  {} requests, p50 {:.2} ms, p99 {:.2} ms",
        loaded.len(),
        ms(p50b),
        ms(p99b)
    );
    println!(
        "  flood:            {} sign-ins sent ({:.0}/s): {} checked (wrong-password page), {} turned away (429, hashing pool full), {} failed",
        f.sent,
        f.sent as f64 / (secs + 1) as f64,
        f.answered_page,
        f.turned_away,
        f.errors
    );
    println!("  p99 ratio:        {ratio:.2}x (claim: at most 2x)");
    Ok(ratio <= 2.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let mut secs = 20;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--seconds") {
        secs = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(20);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    match rt.block_on(run(secs)) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
