//! What reaches the logs: a real `paylink serve` process, a full checkout,
//! and its log files.

use crate::both;
use crate::buyer::*;
use crate::helpers::*;
use crate::served::Served;

async fn logs_hold_no_card_email_or_key(app: TestApp) {
    let logs = tempfile::tempdir().unwrap();
    let mut cmd = Served::command(
        &app,
        "127.0.0.1:0",
        "127.0.0.1:0",
        &app.opts.data_dir,
        &["--log-dir", logs.path().to_str().unwrap()],
    );
    cmd.env("PAYLINK_LOG", "debug");
    let mut served = Served::spawn(cmd);
    let (base, sim_base) = (served.base.clone(), served.sim_base.clone());

    let http = reqwest::Client::new();
    let post = |path: &str, form: Vec<(&str, String)>| {
        http.post(format!("{base}{path}"))
            .bearer_auth(&app.key)
            .form(&form)
            .send()
    };
    let price: serde_json::Value = post(
        "/v1/prices",
        vec![
            ("currency", "eur".into()),
            ("unit_amount", "1500".into()),
            ("product_data[name]", "Logged".into()),
        ],
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let link: serde_json::Value = post(
        "/v1/payment_links",
        vec![
            ("line_items[0][price]", price["id"].as_str().unwrap().into()),
            ("line_items[0][quantity]", "1".into()),
        ],
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let link_id = link["id"].as_str().unwrap();
    let b = Buyer::new();
    let canary = "log-canary-31@example.com";
    let s = b
        .post(
            &format!("{base}/l/{link_id}"),
            &[("email", canary), ("action", "pay")],
        )
        .await;
    assert_eq!(s.status, 303, "{}", s.body);
    let go = b.get(&s.location.unwrap()).await;
    let sim_url = go.location.unwrap();
    assert!(sim_url.starts_with(&sim_base));
    let declined = b.card(&sim_url, CARD_DECLINED).await;
    assert_eq!(declined.status, 402);
    let paid = b.card(&sim_url, CARD_OK).await;
    assert_eq!(paid.status, 303);
    // Requests that put an email and a card number in a logged path.
    http.get(format!("{base}/v1/customers/{canary}"))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    http.get(format!("{base}/v1/products/4242424242424242"))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    let pis: serde_json::Value = http
        .get(format!("{base}/v1/payment_intents"))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pis["data"][0]["amount"], 1500);

    // A path that tries to forge a log line.
    http.get(format!(
        "{base}/v1/products/x%0D%0AFORGED%20INFO%20admin%20logged%20in"
    ))
    .bearer_auth(&app.key)
    .send()
    .await
    .unwrap();
    // A setup link (its token is a credential) and a sign-in.
    let link = paylink::app::setup_link(
        &app.opened.store,
        &base,
        &app.account,
        "owner@shop.example",
        paylink_domain::SystemClock.now(),
    )
    .await
    .unwrap();
    let token = link.expose().rsplit('/').next().unwrap().to_string();
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let password = "log canary passphrase 77";
    let r = no_redirect
        .post(link.expose())
        .form(&[("password", password), ("password_confirmation", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    let session = crate::dash::token_of(&cookie);
    assert!(session.len() > 40);
    no_redirect
        .get(format!("{base}/setup/2fa"))
        .header("cookie", format!("__Host-paylink_session={session}"))
        .send()
        .await
        .unwrap();
    no_redirect
        .post(format!("{base}/login"))
        .form(&[("email", "owner@shop.example"), ("password", password)])
        .send()
        .await
        .unwrap();

    // Stop it gracefully so the log writer flushes.
    served.stop();
    let mut text = String::new();
    // Finding 12 (security review): log files are 0600 in a 0700 folder.
    use std::os::unix::fs::PermissionsExt;
    let dir_mode = std::fs::metadata(logs.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700, "log folder mode {dir_mode:o}");
    for f in std::fs::read_dir(logs.path()).unwrap() {
        let path = f.unwrap().path();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", path.display());
        text.push_str(&std::fs::read_to_string(&path).unwrap());
    }
    assert!(text.contains("handled"), "the log has the requests: {text}");
    assert!(
        text.contains("FORGED") && !text.lines().any(|l| l.trim_start().starts_with("FORGED")),
        "a request can't start a log line of its own"
    );
    assert!(
        text.contains("[REDACTED-EMAIL]") && text.contains("[REDACTED-PAN]"),
        "the scrubber ran: {text}"
    );
    for secret in [
        canary,
        "4242424242424242",
        "4242 4242 4242 4242",
        "4000000000000002",
        &app.key,
        &app.key[8..],
        &token,
        &session,
        password,
    ] {
        assert!(!text.contains(secret), "{secret} reached the log");
    }
    assert!(
        !text.to_lowercase().contains("authorization:") && !text.contains("Bearer "),
        "no credentials in the log"
    );
}
both!(logs_hold_no_card_email_or_key);
