//! End-to-end checkout completions: buyers who open a link's checkout,
//! take paylink's hop to the sim's card page, pay there, and are sent
//! back; the sim confirms each payment to paylink by its signed webhook,
//! and only a session paylink then shows as `complete` counts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::served::Served;
use super::Error;

/// Concurrent buyers.
pub const BUYERS: usize = 8;

/// A buyer's browser: no cookies shared, redirects followed by hand.
fn browser() -> Result<reqwest::Client, Error> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// Where a response sends the buyer next.
fn next(r: &reqwest::Response, step: &str) -> Result<String, Error> {
    if r.status() != reqwest::StatusCode::SEE_OTHER {
        return Err(format!("{step}: {} (a 303 was expected)", r.status()).into());
    }
    Ok(r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| format!("{step}: no location"))?
        .to_string())
}

/// One purchase through to the return page; the session's id.
async fn purchase(http: &reqwest::Client, base: &str, link: &str, n: u64) -> Result<String, Error> {
    let email = format!("buyer{n}@bench.example");
    let r = http
        .post(format!("{base}/l/{link}"))
        .form(&[("email", email.as_str()), ("action", "pay")])
        .send()
        .await?;
    let mut to = next(&r, "checkout")?;
    if to.starts_with('/') {
        to = format!("{base}{to}");
    }
    // paylink's own hop, then the sim's card page.
    let r = http.get(&to).send().await?;
    let card_page = next(&r, "hop to the provider")?;
    let r = http
        .post(&card_page)
        .form(&[
            ("number", "4242424242424242"),
            ("exp", "12 / 30"),
            ("cvc", "123"),
            ("name", "Bench Buyer"),
        ])
        .send()
        .await?;
    let back = next(&r, "card")?;
    Ok(back
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string())
}

/// Completions per second for `secs`. The sim sends the buyer back after
/// its webhook's first delivery; every session paid is then checked
/// through the API (outside the timed part), and one that is not complete
/// fails the figure.
pub async fn rate(served: &Served, secs: u64) -> Result<(f64, u64), Error> {
    let link = served.link(1800).await?;
    let link = link.rsplit('/').next().unwrap_or_default().to_string();
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let base = Arc::new(served.base.clone());
    let mut tasks = Vec::new();
    for b in 0..BUYERS {
        let (base, link) = (base.clone(), link.clone());
        tasks.push(tokio::spawn(async move {
            let mut sessions = Vec::new();
            let mut n = 0u64;
            while Instant::now() < end {
                // Each purchase in a browser of its own.
                let http = browser()?;
                sessions.push(purchase(&http, &base, &link, ((b as u64) << 32) | n).await?);
                n += 1;
            }
            Ok::<_, Error>(sessions)
        }));
    }
    let mut sessions = Vec::new();
    for t in tasks {
        sessions.extend(t.await??);
    }
    let elapsed = start.elapsed();
    let api = reqwest::Client::new();
    for cs in &sessions {
        check_complete(&api, served, cs).await?;
    }
    let n = sessions.len() as u64;
    Ok((n as f64 / elapsed.as_secs_f64(), n))
}

/// One purchase of the link `link` (its id), checked complete; the
/// session's id.
pub async fn buy_once(served: &Served, link: &str) -> Result<String, Error> {
    let cs = purchase(&browser()?, &served.base, link, u64::MAX).await?;
    check_complete(&reqwest::Client::new(), served, &cs).await?;
    Ok(cs)
}

/// Fails unless the API shows the session `cs` as complete.
async fn check_complete(api: &reqwest::Client, served: &Served, cs: &str) -> Result<(), Error> {
    let s: serde_json::Value = api
        .get(format!("{}/v1/checkout/sessions/{cs}", served.base))
        .bearer_auth(&served.key)
        .send()
        .await?
        .json()
        .await?;
    if s.get("status").and_then(serde_json::Value::as_str) != Some("complete") {
        return Err(format!("{cs} was paid but is not complete: {s}").into());
    }
    Ok(())
}
