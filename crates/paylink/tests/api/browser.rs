//! End to end in a real browser: Debian's chromium, headless, driven over
//! the W3C WebDriver protocol through chromedriver (PAYLINK_TEST_CHROMEDRIVER
//! names it). Screenshots of every page are saved under
//! `target/artifacts/screenshots/`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use crate::helpers::*;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    http: reqwest::Client,
    base: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Browser {
    driver: Driver,
    session: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    async fn start() -> Browser {
        let path = std::env::var("PAYLINK_TEST_CHROMEDRIVER")
            .unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let port = free_port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver");
        let driver = Driver {
            child,
            http: reqwest::Client::new(),
            base: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap().keep();
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": std::env::var("PAYLINK_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=900,1100", format!("--user-data-dir={}", profile.display())],
        }}}});
        let r: Value = driver
            .http
            .post(format!("{}/session", driver.base))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_string();
        Browser { driver, session }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.driver.base, self.session);
        let mut req = self.driver.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        if v["value"].get("error").is_some() {
            panic!("WebDriver {path}: {}", v["value"]);
        }
        v["value"].clone()
    }
    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }
    async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }
    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT].as_str().unwrap().to_string()
    }
    async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/clear"),
            Some(json!({})),
        )
        .await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }
    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }
    async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::GET, &format!("/element/{e}/text"), None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }
    async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }
    async fn screenshot(&self, name: &str) {
        let b64 = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        let dir =
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../artifacts/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
    async fn wait_for(&self, css: &str) {
        for _ in 0..100 {
            let v = self
                .cmd(
                    reqwest::Method::POST,
                    "/elements",
                    Some(json!({"using": "css selector", "value": css})),
                )
                .await;
            if v.as_array().is_some_and(|a| !a.is_empty()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.screenshot("failure").await;
        panic!(
            "{css} never appeared on {}: {}",
            self.url().await,
            self.source().await
        );
    }
    async fn pay_card(&self, number: &str) {
        self.fill("#number", number).await;
        self.fill("#exp", "12 / 30").await;
        self.fill("#cvc", "123").await;
        self.fill("#cc-name", "Ann Buyer").await;
        self.click("#pay").await;
    }
    async fn quit(self) {
        let _ = self.cmd(reqwest::Method::DELETE, "", None).await;
    }
}

async fn browser_checkout(db: Db) {
    let tag = match db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    };
    let app = spawn_app(db).await;
    let product = app
        .post(
            "/v1/products",
            json!({"name": "Paylink Mug", "description": "Stoneware, 350 ml"}),
        )
        .await
        .id();
    let price = app
        .post(
            "/v1/prices",
            json!({"product": product, "currency": "eur", "unit_amount": 1800}),
        )
        .await
        .id();
    let link = app
        .post("/v1/payment_links", json!({"line_items": [{"price": price, "quantity": 1, "adjustable_quantity": {"enabled": true, "maximum": 10}}], "allow_promotion_codes": true}))
        .await
        .id();
    let coupon = app.coupon_pct("25").await;
    app.post(
        "/v1/promotion_codes",
        json!({"code": "MUG25", "coupon": coupon}),
    )
    .await
    .ok();
    let b = Browser::start().await;

    // Quantity and promotion code, applied server-side.
    b.goto(&app.url(&format!("/l/{link}"))).await;
    b.screenshot(&format!("{tag}-01-checkout")).await;
    b.fill("#quantity_0", "2").await;
    b.fill("#promo", "mug25").await;
    b.click("button[value=apply]").await;
    b.wait_for(".ok").await;
    assert_eq!(b.text("#total").await, "€27.00");
    b.fill("#email", "ann@example.com").await;
    b.screenshot(&format!("{tag}-02-promo-applied")).await;
    b.click("#pay").await;
    b.wait_for("#number").await;
    assert!(
        b.url().await.starts_with(&app.sim_base),
        "the card is entered on the sim's origin"
    );
    let sim_page = b.source().await;
    for token in ["cc-number", "cc-exp", "cc-csc", "cc-name"] {
        assert!(
            sim_page.contains(&format!("autocomplete=\"{token}\"")),
            "{token}"
        );
    }
    b.screenshot(&format!("{tag}-03-sim-card-page")).await;
    b.pay_card("4242 4242 4242 4242").await;
    b.wait_for("#confirmation").await;
    assert_eq!(b.text("#paid").await, "€27.00");
    b.screenshot(&format!("{tag}-04-confirmation")).await;
    let sessions = app.get("/v1/checkout/sessions?status=complete").await;
    let s = sessions.ok()["data"][0].clone();
    assert_eq!(
        (
            s["amount_subtotal"].as_i64(),
            s["total_details"]["amount_discount"].as_i64(),
            s["amount_total"].as_i64()
        ),
        (Some(3600), Some(900), Some(2700))
    );
    let pi = app
        .get(&format!(
            "/v1/payment_intents/{}",
            s["payment_intent"].as_str().unwrap()
        ))
        .await;
    assert_eq!(pi.ok()["amount"], 2700);
    assert_eq!(pi.body["payment_method_details"]["card"]["last4"], "4242");
    let cus = app
        .get(&format!(
            "/v1/customers/{}",
            s["customer"].as_str().unwrap()
        ))
        .await;
    assert_eq!(cus.ok()["email"], "ann@example.com");

    // A declined card.
    b.goto(&app.url(&format!("/l/{link}"))).await;
    b.fill("#email", "bob@example.com").await;
    b.click("#pay").await;
    b.wait_for("#number").await;
    b.pay_card("4000000000000002").await;
    b.wait_for(".alert").await;
    assert!(b.text(".alert").await.contains("declined"));
    b.screenshot(&format!("{tag}-05-declined")).await;

    // 3-D Secure: failed, then approved.
    b.pay_card("4000002500003155").await;
    b.wait_for("#approve").await;
    b.screenshot(&format!("{tag}-06-3ds-challenge")).await;
    b.click("#fail").await;
    b.wait_for(".alert").await;
    assert!(b.text(".alert").await.contains("unable to authenticate"));
    b.screenshot(&format!("{tag}-07-3ds-failed")).await;
    b.pay_card("4000002500003155").await;
    b.wait_for("#approve").await;
    b.click("#approve").await;
    b.wait_for("#confirmation").await;
    assert_eq!(
        app.get("/v1/payment_intents").await.ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(browser_tests),
    ignore = "browser skipped: set PAYLINK_TEST_CHROMEDRIVER (e.g. /usr/bin/chromedriver, Debian's chromium-driver)"
)]
async fn browser_checkout_sqlite() {
    browser_checkout(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(browser_tests, pg_tests)),
    ignore = "browser on PostgreSQL skipped: set PAYLINK_TEST_CHROMEDRIVER and PAYLINK_TEST_DATABASE_URL"
)]
async fn browser_checkout_postgres() {
    browser_checkout(Db::Postgres).await;
}

impl Browser {
    async fn attr(&self, css: &str, name: &str) -> String {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::GET,
            &format!("/element/{e}/attribute/{name}"),
            None,
        )
        .await
        .as_str()
        .unwrap_or("")
        .to_string()
    }
    /// Sets a password and enrols TOTP from a setup link; returns the seed.
    async fn enrol(&self, app: &TestApp, link: &str, shot: &str) -> Vec<u8> {
        self.goto(link).await;
        self.screenshot(&format!("{shot}-setup-password")).await;
        self.fill("#password", crate::dash::PASSWORD).await;
        self.fill("#password_confirmation", crate::dash::PASSWORD)
            .await;
        self.click("button[type=submit]").await;
        self.wait_for("#totp-secret").await;
        self.screenshot(&format!("{shot}-setup-totp")).await;
        let seed = paylink_crypto::totp::from_base32(&self.text("#totp-secret").await).unwrap();
        let code = paylink_crypto::totp::hotp(
            &seed,
            u64::try_from(paylink_crypto::totp::step(app.clock.now())).unwrap(),
            6,
        )
        .unwrap();
        self.fill("#code", &format!("{code:06}")).await;
        self.click("button[type=submit]").await;
        self.wait_for("#recovery-codes").await;
        self.screenshot(&format!("{shot}-recovery-codes")).await;
        self.click("a[href='/dashboard']").await;
        seed
    }
}

/// The merchant's first day: setup link, password, TOTP enrolment, a
/// payment link made in the dashboard, paid by a buyer, seen on the
/// overview; a developer kept out of the team page; a removed member's
/// open tab signed out on the next click. Screenshots of every page.
async fn browser_dashboard(db: Db) {
    // Screenshots of the SQLite run are `dash-*`, of PostgreSQL `postgres-dash-*`.
    let tag = if db == Db::Postgres { "postgres-" } else { "" };
    let app = spawn_app(db).await;
    let link = paylink::app::setup_link(
        &app.opened.store,
        &app.base,
        &app.account,
        "owner@shop.example",
        app.clock.now(),
    )
    .await
    .unwrap();
    let b = Browser::start().await;
    let seed = b
        .enrol(&app, link.expose(), &format!("{tag}dash-01-owner"))
        .await;
    b.wait_for("#revenue-none").await;
    b.screenshot(&format!("{tag}dash-02-overview-empty")).await;

    // A payment link, made in the dashboard.
    b.goto(&app.url("/dashboard/payment-links/new")).await;
    b.fill("#product_name", "Concert ticket").await;
    b.fill("#amount", "12,5").await;
    b.fill("#currency", "eur").await;
    b.fill("#limit", "100").await;
    b.click("input[name=allow_promotion_codes]").await;
    b.screenshot(&format!("{tag}dash-03-new-link")).await;
    b.click("form[action='/dashboard/payment-links'] button[type=submit]")
        .await;
    b.wait_for("#url").await;
    b.screenshot(&format!("{tag}dash-04-link")).await;
    let url = b.attr("#url", "value").await;
    assert!(url.starts_with(&app.base) && url.contains("/l/"), "{url}");

    // A buyer pays it.
    b.goto(&url).await;
    b.fill("#email", "fan@example.com").await;
    b.click("#pay").await;
    b.wait_for("#number").await;
    b.pay_card("4242 4242 4242 4242").await;
    b.wait_for("#confirmation").await;

    // The overview shows it.
    b.goto(&app.url("/dashboard")).await;
    b.wait_for("#revenue-eur").await;
    assert_eq!(b.text("#revenue-eur").await, "€12.50");
    b.screenshot(&format!("{tag}dash-05-overview-paid")).await;
    for (path, name) in [
        ("/dashboard/payment-links", "06-links"),
        ("/dashboard/products", "07-products"),
        ("/dashboard/coupons", "08-coupons"),
        ("/dashboard/payments", "09-payments"),
        ("/dashboard/customers", "10-customers"),
        ("/dashboard/team", "11-team"),
        ("/dashboard/security", "12-security"),
        ("/dashboard/audit", "13-audit"),
        ("/dashboard/settings", "14-settings"),
    ] {
        b.goto(&app.url(path)).await;
        b.wait_for("main h1").await;
        b.screenshot(&format!("{tag}dash-{name}")).await;
    }
    // A product image, uploaded from a file.
    b.goto(&app.url("/dashboard/products")).await;
    b.click("tbody a").await;
    b.wait_for("#image").await;
    let picture = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    {
        let mut enc = png::Encoder::new(std::fs::File::create(picture.path()).unwrap(), 64, 64);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let data: Vec<u8> = (0..64 * 64)
            .flat_map(|i| [(i % 64 * 4) as u8, 80, (i / 64 * 4) as u8])
            .collect();
        enc.write_header().unwrap().write_image_data(&data).unwrap();
    }
    b.fill("#image", &picture.path().display().to_string())
        .await;
    b.click("form[enctype='multipart/form-data'] button").await;
    b.wait_for("#product-image").await;
    b.screenshot(&format!("{tag}dash-14b-product-image")).await;
    b.goto(&url).await;
    b.wait_for(".item img").await;
    b.screenshot(&format!("{tag}dash-14c-checkout-with-image"))
        .await;
    b.goto(&app.url("/dashboard/payments")).await;
    b.click("tbody a").await;
    b.wait_for("#amount").await;
    b.screenshot(&format!("{tag}dash-15-payment")).await;

    // A webhook endpoint, added in the dashboard, with a delivery.
    let receiver = paylink_testkit::receiver::Receiver::start("127.0.0.1").await;
    receiver.plan([paylink_testkit::receiver::Reply::Status(500)]);
    b.goto(&app.url("/dashboard/webhooks")).await;
    b.fill("#url", &receiver.url).await;
    b.click("input[name=events][value='*']").await;
    b.click("form[action='/dashboard/webhooks'] button[type=submit]")
        .await;
    b.wait_for("#signing-secret").await;
    assert!(b
        .attr("#signing-secret", "value")
        .await
        .starts_with("whsec_"));
    b.screenshot(&format!("{tag}dash-15c-webhook-added")).await;
    app.product("Poster").await;
    receiver.wait_for(1, 20).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    b.click("tbody a").await;
    b.wait_for("main h1").await;
    assert!(b.source().await.contains("HTTP 500"));
    b.screenshot(&format!("{tag}dash-15d-webhook-endpoint"))
        .await;

    // Invite a developer, then sign out.
    b.goto(&app.url("/dashboard/team")).await;
    b.fill("#email", "dev@shop.example").await;
    b.find("#role").await;
    b.click("#role option[value=developer]").await;
    b.click("form[action='/dashboard/team/invite'] button")
        .await;
    b.wait_for("[role=status]").await;
    assert!(
        !b.source().await.contains("/invite/"),
        "the inviter never sees the link"
    );
    b.screenshot(&format!("{tag}dash-15b-invited")).await;
    // The link reaches the invitee through the outbox (the operator's CLI
    // until email delivery exists).
    let invite = format!(
        "{}{}",
        app.base,
        crate::dash::outbox_link(&app, "dev@shop.example").await
    );
    b.click("form[action='/logout'] button").await;
    b.wait_for("#email").await;
    b.screenshot(&format!("{tag}dash-16-login")).await;

    // The developer: no team page, not even a link to it.
    b.enrol(&app, &invite, &format!("{tag}dash-17-developer"))
        .await;
    b.wait_for("main h1").await;
    assert!(!b.source().await.contains("href=\"/dashboard/team\""));
    b.goto(&app.url("/dashboard/team")).await;
    assert!(b.source().await.contains("does not give access"));
    b.screenshot(&format!("{tag}dash-18-developer-denied"))
        .await;
    b.goto(&app.url("/dashboard/payments")).await;
    b.wait_for("main h1").await;

    // The owner removes the developer (from another device); the
    // developer's open tab is signed out on the next click.
    let mut owner = crate::dash::Dash::anonymous(&app);
    owner.email = "owner@shop.example".into();
    owner.seed = seed;
    owner.sign_in(&app).await;
    let dev = crate::dash::store_user(&app, "dev@shop.example").await;
    owner.get("/dashboard/team").await;
    let p = owner
        .post(&format!("/dashboard/team/{dev}/remove"), &[])
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    b.click("a[href='/dashboard/customers']").await;
    b.wait_for("#password").await;
    assert!(b.url().await.ends_with("/login"), "{}", b.url().await);
    b.screenshot(&format!("{tag}dash-19-removed-signed-out"))
        .await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(browser_tests),
    ignore = "browser skipped: set PAYLINK_TEST_CHROMEDRIVER (e.g. /usr/bin/chromedriver, Debian's chromium-driver)"
)]
async fn browser_dashboard_sqlite() {
    browser_dashboard(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(browser_tests, pg_tests)),
    ignore = "browser on PostgreSQL skipped: set PAYLINK_TEST_CHROMEDRIVER and PAYLINK_TEST_DATABASE_URL"
)]
async fn browser_dashboard_postgres() {
    browser_dashboard(Db::Postgres).await;
}
