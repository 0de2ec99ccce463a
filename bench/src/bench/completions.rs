//! End-to-end checkout completions: buyers who open a link's checkout,
//! take paylink's hop to the sim's card page, pay there, and are sent
//! back; the sim confirms each payment to paylink by its signed webhook,
//! and only a session paylink then shows as `complete` counts.

use std::time::{Duration, Instant};

use paylink_testkit::buyer::Buyer;

use super::served::Served;
use super::Error;

/// Concurrent buyers.
pub const BUYERS: usize = 8;

/// Completions per second for `secs`. The sim sends the buyer back after
/// its webhook's first delivery; every session paid is then checked
/// through the API (outside the timed part), and one that is not complete
/// fails the figure.
pub async fn rate(served: &Served, secs: u64) -> Result<(f64, u64), Error> {
    let link = served.link(1800).await?;
    let link = link.rsplit('/').next().unwrap_or_default().to_string();
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for b in 0..BUYERS {
        let (process, link) = (served.process.clone(), link.clone());
        tasks.push(tokio::spawn(async move {
            let mut sessions = Vec::new();
            let mut n = 0u64;
            while Instant::now() < end {
                // Each purchase in a browser of its own, as the test kit's
                // buyer pays (checkout, paylink's hop, the sim's card page).
                let email = format!("buyer{b}-{n}@bench.example");
                sessions.push(process.pay(&Buyer::new(), &link, &email).await);
                n += 1;
            }
            sessions
        }));
    }
    let mut sessions = Vec::new();
    for t in tasks {
        sessions.extend(t.await?);
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
    let cs = served
        .process
        .pay(&Buyer::new(), link, "buyer@bench.example")
        .await;
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
