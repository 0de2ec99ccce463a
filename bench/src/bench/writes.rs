//! Creating objects: `POST /v1/payment_links` with a secret key and an
//! `Idempotency-Key`, beside a raw insert loop on the same database with
//! the same durability (SQLite: WAL, `synchronous=FULL`; PostgreSQL: its
//! defaults), one transaction per row, from as many concurrent clients.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::served::Served;
use super::Error;

/// Concurrent clients of both loops.
pub const CLIENTS: usize = 8;

/// Payment links created per second through the API, for `secs`.
pub async fn api_rate(served: &Served, secs: u64) -> Result<f64, Error> {
    let price = served
        .create(
            "/v1/prices",
            &[
                ("currency", "eur"),
                ("unit_amount", "1500"),
                ("product_data[name]", "Bench mug"),
            ],
        )
        .await?;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/payment_links", served.base);
    let counter = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for worker in 0..CLIENTS {
        let (client, url, key, price, counter) = (
            client.clone(),
            url.clone(),
            served.key.clone(),
            price.clone(),
            counter.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < end {
                let r = client
                    .post(&url)
                    .bearer_auth(&key)
                    // Unique per run (its price) as well as per call.
                    .header("idempotency-key", format!("bench-{price}-{worker}-{n}"))
                    .form(&[
                        ("line_items[0][price]", price.as_str()),
                        ("line_items[0][quantity]", "1"),
                    ])
                    .send()
                    .await?;
                if !r.status().is_success() {
                    return Err::<(), Error>(
                        format!("POST /v1/payment_links: {}", r.status()).into(),
                    );
                }
                r.bytes().await?;
                n += 1;
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    let start = Instant::now();
    for t in tasks {
        t.await??;
    }
    Ok(counter.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

/// Rows inserted per second by a raw loop on `url` for `secs`.
pub async fn raw_rate(url: &str, secs: u64) -> Result<f64, Error> {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let sqlite = url.starts_with("sqlite:");
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(if sqlite { 1 } else { CLIENTS as u32 })
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if sqlite {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await?;
    pool.execute("CREATE TABLE IF NOT EXISTS bench_rows (id TEXT PRIMARY KEY, created BIGINT NOT NULL, body TEXT NOT NULL)")
        .await?;
    let counter = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for worker in 0..CLIENTS {
        let (pool, counter) = (pool.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < end {
                let mut tx = pool.begin().await?;
                sqlx::query("INSERT INTO bench_rows (id, created, body) VALUES ($1, $2, $3)")
                    .bind(format!("row-{worker}-{n}"))
                    .bind(1_795_000_000i64)
                    .bind("{\"line_items\":[{\"price\":\"price_x\",\"quantity\":1}]}")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                n += 1;
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), Error>(())
        }));
    }
    let start = Instant::now();
    for t in tasks {
        t.await??;
    }
    Ok(counter.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}
