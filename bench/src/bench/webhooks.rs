//! Webhook deliveries per second to a local receiver that answers at once,
//! beside that receiver's own ceiling (wrk posting the same body); and the
//! cost of the API key check (wrk, one connection: the p50 of a request
//! refused after the full check, a valid restricted key without the
//! permission, beside one refused before it, no key at all).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::served::Served;
use super::{wrk, Error};

/// A receiver on its own runtime thread: answers 200 at once and counts,
/// noting when the first and the last request came.
pub struct Counter {
    pub url: String,
    count: Arc<AtomicU64>,
    span: Arc<Mutex<(Option<Instant>, Option<Instant>)>>,
}

impl Counter {
    pub fn start() -> Result<Counter, Error> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let count = Arc::new(AtomicU64::new(0));
        let span = Arc::new(Mutex::new((None, None)));
        let (c, s) = (count.clone(), span.clone());
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let app = axum::Router::new().fallback(move |_body: axum::body::Bytes| {
                    let (c, s) = (c.clone(), s.clone());
                    async move {
                        c.fetch_add(1, Ordering::Relaxed);
                        let now = Instant::now();
                        if let Ok(mut g) = s.lock() {
                            g.0.get_or_insert(now);
                            g.1 = Some(now);
                        }
                        "ok"
                    }
                });
                let _ = axum::serve(listener, app).await;
            });
        });
        Ok(Counter { url, count, span })
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn reset(&self) {
        self.count.store(0, Ordering::Relaxed);
        if let Ok(mut g) = self.span.lock() {
            *g = (None, None);
        }
    }

    /// Seconds from the first request to the last.
    fn elapsed(&self) -> f64 {
        match self.span.lock().map(|g| *g) {
            Ok((Some(a), Some(b))) => (b - a).as_secs_f64(),
            _ => 0.0,
        }
    }
}

/// What the delivery figure measured.
pub struct Deliveries {
    pub per_sec: f64,
    pub ceiling_per_sec: f64,
    pub n: u64,
    pub body_bytes: usize,
}

/// Makes `n` events (products created through the API from 8 clients,
/// each delivered once to an endpoint at a counting receiver), then puts
/// all their deliveries back in the outbox in one transaction beside the
/// running server and times how fast its worker drains them; then the
/// receiver's ceiling with wrk posting the same kind of body.
pub async fn deliveries(served: &Served, n: u64, secs: u64) -> Result<Deliveries, Error> {
    let sqlite = served
        .sqlite
        .as_ref()
        .ok_or("the delivery figure runs on SQLite")?;
    let counter = Counter::start()?;
    let http = reqwest::Client::new();
    let ep: serde_json::Value = http
        .post(format!("{}/v1/webhook_endpoints", served.base))
        .bearer_auth(&served.key)
        .form(&[
            ("url", counter.url.as_str()),
            ("enabled_events[0]", "product.created"),
        ])
        .send()
        .await?
        .json()
        .await?;
    if ep.get("id").is_none() {
        return Err(format!("creating the endpoint: {ep}").into());
    }
    let mut tasks = Vec::new();
    for w in 0..8_u64 {
        let (http, base, key) = (http.clone(), served.base.clone(), served.key.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..n / 8 {
                let r = http
                    .post(format!("{base}/v1/products"))
                    .bearer_auth(&key)
                    .form(&[("name", format!("Mug {w}-{i}"))])
                    .send()
                    .await;
                if !r.is_ok_and(|r| r.status().is_success()) {
                    return Err::<(), String>("creating a product failed".into());
                }
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let made = n / 8 * 8;
    let deadline = Instant::now() + Duration::from_secs(300);
    while counter.count() < made {
        if Instant::now() > deadline {
            return Err(format!("only {} of {made} first deliveries came", counter.count()).into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    counter.reset();
    let n = made;
    let url = format!("sqlite://{}", sqlite.display());
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await?;
    sqlx::query("PRAGMA busy_timeout = 10000")
        .execute(&mut db)
        .await?;
    sqlx::query(
        "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, lease_until = 0, lease_token = NULL, next_attempt = created WHERE state = 'succeeded'",
    )
    .execute(&mut db)
    .await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut last = (0, Instant::now());
    while counter.count() < n {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let c = counter.count();
        if c != last.0 {
            last = (c, Instant::now());
        }
        if Instant::now() > deadline || last.1.elapsed() > Duration::from_secs(30) {
            return Err(format!("only {c} of {n} deliveries arrived").into());
        }
    }
    let per_sec = n as f64 / counter.elapsed().max(1e-9);
    // The receiver's own ceiling, posting the body a delivery carries.
    let body: String = {
        let ev: serde_json::Value = http
            .get(format!(
                "{}/v1/events?type=product.created&limit=1",
                served.base
            ))
            .bearer_auth(&served.key)
            .send()
            .await?
            .json()
            .await?;
        ev.get("data")
            .and_then(|d| d.get(0))
            .ok_or("no event to post")?
            .to_string()
    };
    wrk::post(&counter.url, &body, 1)?;
    let load = wrk::post(&counter.url, &body, secs)?;
    Ok(Deliveries {
        per_sec,
        ceiling_per_sec: load.requests_per_sec,
        n,
        body_bytes: body.len(),
    })
}

/// What the key check costs: p50 of one client's requests.
pub struct KeyCheck {
    pub checked_p50_us: f64,
    pub unchecked_p50_us: f64,
}

pub fn key_check(served: &Served, secs: u64) -> Result<KeyCheck, Error> {
    let url = format!("{}/v1/account", served.base);
    // A valid restricted key that may not read the account: parsed,
    // hashed, found, its permissions checked, then refused (403) before
    // any handler runs.
    let key = format!("Authorization: Bearer {}", served.restricted_key);
    wrk::single(&url, 1, &[&key])?;
    let checked = wrk::single(&url, secs, &[&key])?;
    let unchecked = wrk::single(&url, secs, &[])?;
    Ok(KeyCheck {
        checked_p50_us: checked.p50_ms * 1000.0,
        unchecked_p50_us: unchecked.p50_ms * 1000.0,
    })
}
