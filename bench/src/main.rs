//! paylink's benchmarks, each figure beside a baseline measured in the same
//! run, on loopback. `bench/run` builds everything and runs `all`.
//!
//! - `all`: every figure at full length; writes `bench/results/<date>.json`,
//!   `.md` and `.svg`.
//! - `ci`: the same figures, short, into `target/bench-ci/`; exits 1 if a
//!   ratio falls past half its goal or, for a goal not reached yet, past a
//!   third of the ratio of the last full run (`bench/results/latest.json`),
//!   whichever is laxer, in two runs in a row (the regression guard
//!   `.ci/run` runs).
//!
//! The load generator for pages is Debian's `wrk` (2 threads, 32
//! connections); the API is driven by stripe-python 16, as an integration
//! would, against paylink and against localstripe.

mod bench;

use std::time::Duration;

use bench::report::{self, Figure, Goal};
use bench::{sdk, served::Served, wrk, Error};

struct Lengths {
    /// Seconds of each wrk run.
    page_secs: u64,
    /// Seconds of each create loop (API and raw).
    write_secs: u64,
    /// Rounds of the SDK load per thread.
    sdk_rounds: u32,
    /// Seconds of each load at each scale, and of the completions.
    scale_secs: u64,
    /// Webhook deliveries timed.
    deliveries: u64,
}

const SDK_THREADS: u32 = 8;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let (lengths, guard) = match mode.as_str() {
        "all" => (
            Lengths {
                page_secs: 10,
                write_secs: 10,
                sdk_rounds: 100,
                scale_secs: 5,
                deliveries: 20_000,
            },
            false,
        ),
        "ci" => (
            Lengths {
                page_secs: 3,
                write_secs: 3,
                sdk_rounds: 50,
                scale_secs: 2,
                deliveries: 3_000,
            },
            true,
        ),
        "webhooks" => {
            // Only the key check and webhook delivery figures, printed
            // (for work on them; nothing is written).
            let served = match Served::start(None).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("benchmark failed: {e}");
                    std::process::exit(1);
                }
            };
            for f in [key_check(&served, 5), deliveries(&served, 10_000, 5).await] {
                match f {
                    Ok(f) => println!(
                        "{}: {} | {} | ratio {:.3}",
                        f.name, f.paylink, f.baseline, f.ratio
                    ),
                    Err(e) => eprintln!("failed: {e}"),
                }
            }
            return;
        }
        other => {
            eprintln!("usage: paylink-bench [all|ci|webhooks] (not {other:?})");
            std::process::exit(2);
        }
    };
    let results = std::path::Path::new("bench/results");
    let recorded = report::recorded(results);
    let out = if guard {
        std::path::PathBuf::from(
            std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()),
        )
        .join("bench-ci")
    } else {
        results.to_path_buf()
    };
    // A guard that fails is measured once more: a regression fails both.
    let attempts = if guard { 2 } else { 1 };
    let mut failed = Vec::new();
    for attempt in 1..=attempts {
        let figures = match run(&lengths, &out).await {
            Ok(f) => f,
            Err(e) => {
                eprintln!("benchmark failed: {e}");
                std::process::exit(1);
            }
        };
        failed = figures
            .into_iter()
            .filter(|f| guard && !f.goal.guard(f.ratio, recorded.get(f.key).copied()))
            .collect::<Vec<Figure>>();
        if failed.is_empty() {
            break;
        }
        if attempt < attempts {
            eprintln!("a guard failed; measuring again");
        }
    }
    for f in &failed {
        eprintln!(
            "regression: {} ratio {:.3} is past the guard of its goal {:?} (last recorded: {:?})",
            f.name,
            f.ratio,
            f.goal,
            recorded.get(f.key)
        );
    }
    if !failed.is_empty() {
        std::process::exit(1);
    }
}

async fn run(l: &Lengths, out: &std::path::Path) -> Result<Vec<Figure>, Error> {
    let machine = bench::machine();
    println!("{machine}");
    let mut figures = Vec::new();
    let served = Served::start(None).await?;
    figures.push(memory_idle(&served)?);
    figures.extend(checkout_page(&served, l.page_secs).await?);
    figures.push(sdk_cpu(&served, l.sdk_rounds).await?);
    figures.push(creates(&served, "SQLite", None, l.write_secs).await?);
    figures.push(completions(&served, l.scale_secs).await?);
    figures.push(key_check(&served, l.page_secs)?);
    figures.push(deliveries(&served, l.deliveries, l.page_secs).await?);
    drop(served);
    let steps = bench::scale::run(l.scale_secs).await?;
    figures.extend(scaled(&steps)?);
    match pg_url().await {
        Some(url) => {
            let served = Served::start(Some(&url)).await?;
            figures.push(creates(&served, "PostgreSQL", Some(&url), l.write_secs).await?);
        }
        None => println!(
            "PostgreSQL is not reachable (PAYLINK_TEST_DATABASE_URL): its figure is skipped"
        ),
    }
    let date = bench::today();
    let md = report::write(
        out,
        &date,
        &machine,
        &figures,
        &bench::scale::markdown(&steps),
    )?;
    println!("{}", std::fs::read_to_string(&md)?);
    println!("written: {}", md.display());
    Ok(figures)
}

fn memory_idle(served: &Served) -> Result<Figure, Error> {
    let rss = served.rss()? as f64 / 1_048_576.0;
    Ok(Figure {
        key: "memory_idle",
        name: "resident memory, idle (MiB)".into(),
        paylink: format!("{rss:.1} MiB"),
        baseline: "goal 30 MiB".into(),
        ratio: rss / 30.0,
        goal: Goal::AtMost(1.0),
        raw: serde_json::json!({"rss_mib": rss}),
    })
}

/// `GET /l/{id}` beside a minimal axum server answering the same bytes.
async fn checkout_page(served: &Served, secs: u64) -> Result<Vec<Figure>, Error> {
    let url = served.link(2500).await?;
    let body = reqwest::get(&url).await?.bytes().await?.to_vec();
    let size = body.len();
    let base_url = wrk::baseline_server(body)?;
    // Warm both up, then measure the baseline first and paylink second.
    wrk::run(&base_url, 1)?;
    wrk::run(&url, 1)?;
    let baseline = wrk::run(&base_url, secs)?;
    let paylink = wrk::run(&url, secs)?;
    if paylink.errors > 0 {
        return Err(format!(
            "the checkout page answered {} errors under load",
            paylink.errors
        )
        .into());
    }
    let raw = serde_json::json!({"bytes": size, "paylink": paylink, "baseline": baseline, "wrk": "-t2 -c32 --latency"});
    Ok(vec![
        Figure {
            key: "page_throughput",
            name: format!("GET /l/{{id}} throughput ({size} B page, SQLite)"),
            paylink: format!("{:.0} req/s", paylink.requests_per_sec),
            baseline: format!("minimal axum: {:.0} req/s", baseline.requests_per_sec),
            ratio: paylink.requests_per_sec / baseline.requests_per_sec,
            goal: Goal::AtLeast(0.6),
            raw: raw.clone(),
        },
        Figure {
            key: "page_p99",
            name: "GET /l/{id} p99 latency".into(),
            paylink: format!("{:.2} ms", paylink.p99_ms),
            baseline: format!("minimal axum: {:.2} ms", baseline.p99_ms),
            ratio: paylink.p99_ms / baseline.p99_ms.max(1e-6),
            goal: Goal::AtMost(2.0),
            raw,
        },
    ])
}

/// Server CPU per stripe-python call, paylink beside localstripe.
async fn sdk_cpu(served: &Served, rounds: u32) -> Result<Figure, Error> {
    let warm = (rounds / 10).max(2);
    sdk::load(&served.base, &served.key, SDK_THREADS, warm)?;
    let before = served.cpu()?;
    let calls = sdk::load(&served.base, &served.key, SDK_THREADS, rounds)?;
    let ours = per_call(served.cpu()? - before, calls);
    let ls = sdk::LocalStripe::start().await?;
    sdk::load(&ls.base, "sk_test_bench", SDK_THREADS, warm)?;
    let before = ls.cpu()?;
    let calls_ls = sdk::load(&ls.base, "sk_test_bench", SDK_THREADS, rounds)?;
    let theirs = per_call(ls.cpu()? - before, calls_ls);
    Ok(Figure {
        key: "sdk_cpu",
        name: format!("stripe-python, {SDK_THREADS} threads: create product + retrieve + list(limit 10), server CPU per call"),
        paylink: format!("{ours:.0} µs"),
        baseline: format!("localstripe: {theirs:.0} µs"),
        ratio: ours / theirs.max(1e-9),
        goal: Goal::AtMost(0.05),
        raw: serde_json::json!({"paylink_us": ours, "localstripe_us": theirs, "calls": calls, "threads": SDK_THREADS}),
    })
}

/// What the API key check adds to a request, at p50 with one client.
fn key_check(served: &Served, secs: u64) -> Result<Figure, Error> {
    let k = bench::webhooks::key_check(served, secs)?;
    let added = (k.checked_p50_us - k.unchecked_p50_us).max(0.0);
    Ok(Figure {
        key: "key_check",
        name: "what the API key check adds to a request (GET /v1/account, one client, p50)".into(),
        paylink: format!(
            "{:.0} µs with the check (a valid restricted key, refused by its permissions)",
            k.checked_p50_us
        ),
        baseline: format!(
            "{:.0} µs refused before it (no key); goal: adds < 20 µs",
            k.unchecked_p50_us
        ),
        ratio: added / 20.0,
        goal: Goal::AtMost(1.0),
        raw: serde_json::json!({"checked_p50_us": k.checked_p50_us, "unchecked_p50_us": k.unchecked_p50_us, "added_us": added, "wrk": "-t1 -c1"}),
    })
}

/// Webhook deliveries per second beside the receiver's own ceiling.
async fn deliveries(served: &Served, n: u64, secs: u64) -> Result<Figure, Error> {
    let d = bench::webhooks::deliveries(served, n, secs).await?;
    Ok(Figure {
        key: "webhook_deliveries",
        name: format!(
            "webhook deliveries to a local receiver that answers at once ({} B event, SQLite)",
            d.body_bytes
        ),
        paylink: format!("{:.0} deliveries/s ({} timed)", d.per_sec, d.n),
        baseline: format!(
            "the receiver's ceiling (wrk -t2 -c32 posting the same body): {:.0} req/s",
            d.ceiling_per_sec
        ),
        ratio: d.per_sec / d.ceiling_per_sec.max(1e-9),
        goal: Goal::AtLeast(0.5),
        raw: serde_json::json!({"per_sec": d.per_sec, "ceiling_per_sec": d.ceiling_per_sec, "deliveries": d.n, "body_bytes": d.body_bytes}),
    })
}

/// A fresh PostgreSQL schema, if the server at `PAYLINK_TEST_DATABASE_URL`
/// (or the local default) answers.
async fn pg_url() -> Option<String> {
    let base = std::env::var("PAYLINK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1/test".into());
    sqlx::any::install_default_drivers();
    <sqlx::AnyConnection as sqlx::Connection>::connect(&base)
        .await
        .ok()?;
    Some(paylink_testkit::db::fresh_pg_url().await)
}

/// `POST /v1/payment_links` (secret key, Idempotency-Key) beside a raw
/// insert loop on the same database.
async fn creates(served: &Served, db: &str, pg: Option<&str>, secs: u64) -> Result<Figure, Error> {
    use bench::writes;
    let ours = writes::api_rate(served, secs).await?;
    let dir = tempfile::tempdir()?;
    let raw_url = match pg {
        Some(url) => url.to_string(),
        None => format!("sqlite://{}?mode=rwc", dir.path().join("raw.db").display()),
    };
    let raw = writes::raw_rate(&raw_url, secs).await?;
    Ok(Figure {
        key: if pg.is_some() {
            "create_link_pg"
        } else {
            "create_link_sqlite"
        },
        name: format!(
            "POST /v1/payment_links with Idempotency-Key, {} clients, {db}",
            writes::CLIENTS
        ),
        paylink: format!("{ours:.0} links/s"),
        baseline: format!("raw insert loop, same durability: {raw:.0} rows/s"),
        ratio: ours / raw.max(1e-9),
        goal: Goal::AtLeast(0.5),
        raw: serde_json::json!({"paylink_per_sec": ours, "raw_per_sec": raw, "clients": writes::CLIENTS}),
    })
}

/// End-to-end completions beside raw single-row commits on the same
/// database (8 clients each): how many flushed commits' worth of time one
/// completion takes, as a share. No goal is set; the guard watches it.
async fn completions(served: &Served, secs: u64) -> Result<Figure, Error> {
    let (ours, n) = bench::completions::rate(served, secs).await?;
    let dir = tempfile::tempdir()?;
    let raw_url = format!("sqlite://{}?mode=rwc", dir.path().join("raw.db").display());
    let raw = bench::writes::raw_rate(&raw_url, secs).await?;
    Ok(Figure {
        key: "completions",
        name: format!(
            "checkout completions through the sim's webhook, {} buyers, SQLite",
            bench::completions::BUYERS
        ),
        paylink: format!("{ours:.1} completions/s"),
        baseline: format!("raw insert loop, same durability: {raw:.0} rows/s"),
        ratio: ours / raw.max(1e-9),
        goal: Goal::Tracked,
        raw: serde_json::json!({"completions_per_sec": ours, "completions": n, "raw_per_sec": raw, "buyers": bench::completions::BUYERS}),
    })
}

/// The scale figures: what stays flat from 1× to 100× the data, the
/// overview at 100,000 payments and the memory with 10,000 links.
fn scaled(steps: &[bench::scale::Step]) -> Result<Vec<Figure>, Error> {
    let (Some(small), Some(big)) = (steps.first(), steps.last()) else {
        return Err("no scale was measured".into());
    };
    let flat =
        |key: &'static str, what: &str, unit: &str, f: fn(&bench::scale::Step) -> f64| Figure {
            key,
            name: format!(
                "{what} at {}× the data ({} links, {} payments, {} keys)",
                big.level, big.data.links, big.data.payments, big.data.keys
            ),
            paylink: format!("{:.0} {unit}", f(big)),
            baseline: format!("at 1×: {:.0} {unit}", f(small)),
            ratio: f(big) / f(small).max(1e-9),
            goal: Goal::AtLeast(0.8),
            raw: serde_json::json!({"steps": steps}),
        };
    Ok(vec![
        flat("flat_page", "GET /l/{id} (100 links picked at random, in turn)", "req/s", |s| {
            s.page_per_sec
        }),
        flat("flat_key_check", "key check (GET /v1/account)", "req/s", |s| {
            s.key_check_per_sec
        }),
        flat("flat_create", "POST /v1/payment_links", "links/s", |s| {
            s.creates_per_sec
        }),
        Figure {
            key: "overview_100k",
            name: format!(
                "dashboard overview render, {} payments (ratio: time at 1× over time here; 1 = flat)",
                big.data.payments
            ),
            paylink: format!("{:.1} ms", big.overview_ms),
            baseline: format!("{} payments: {:.1} ms", small.data.payments, small.overview_ms),
            ratio: small.overview_ms / big.overview_ms.max(1e-9),
            goal: Goal::Tracked,
            raw: serde_json::json!({"steps": steps}),
        },
        Figure {
            key: "memory_loaded",
            name: format!(
                "resident memory with {} links and {} payments, after the loads (MiB)",
                big.after.links, big.after.payments
            ),
            paylink: format!("{:.1} MiB", big.rss_mib),
            baseline: "goal 150 MiB".into(),
            ratio: big.rss_mib / 150.0,
            goal: Goal::AtMost(1.0),
            raw: serde_json::json!({"rss_mib": big.rss_mib}),
        },
    ])
}

fn per_call(cpu: Duration, calls: u64) -> f64 {
    cpu.as_secs_f64() * 1e6 / calls.max(1) as f64
}
