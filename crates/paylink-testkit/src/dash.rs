//! A dashboard user driven over HTTP like a browser: one session cookie
//! kept by hand (so its attributes can be checked), redirects not
//! followed, the CSRF token read from each page.

use paylink::app;
use paylink_crypto::{totp, Secret};
use paylink_domain::roles::Role;
use paylink_domain::IdKind;

use crate::helpers::*;

pub const PASSWORD: &str = "correct horse battery staple 42";

pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    pub fn set_cookie(&self) -> Option<String> {
        self.headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
    /// The CSRF token in the page's first form.
    pub fn csrf(&self) -> String {
        between(&self.body, "name=\"csrf\" value=\"", "\"").unwrap_or_default()
    }
    pub fn denied(&self) -> bool {
        self.status == 403 && self.body.contains("does not give access")
    }
}

pub fn between(s: &str, start: &str, end: &str) -> Option<String> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(s[i..j].to_string())
}

#[derive(Clone)]
pub struct Dash {
    pub base: String,
    pub http: reqwest::Client,
    pub cookie: Option<String>,
    pub email: String,
    pub user_id: String,
    pub seed: Vec<u8>,
    pub recovery: Vec<String>,
    pub csrf: String,
    pub password: String,
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The token of a `Set-Cookie` of the session cookie.
pub fn token_of(set_cookie: &str) -> String {
    between(set_cookie, "__Host-paylink_session=", ";").unwrap_or_default()
}

impl Dash {
    pub fn anonymous(app: &TestApp) -> Dash {
        Dash::at(&app.base)
    }

    /// A browser with nothing yet, on the server at `base`.
    pub fn at(base: &str) -> Dash {
        Dash {
            base: base.to_string(),
            http: http(),
            cookie: None,
            email: String::new(),
            user_id: String::new(),
            seed: Vec::new(),
            recovery: Vec::new(),
            csrf: String::new(),
            password: PASSWORD.to_string(),
        }
    }

    fn keep(&mut self, page: &Page) {
        if let Some(c) = page.set_cookie() {
            let t = token_of(&c);
            self.cookie = (!t.is_empty()).then_some(t);
        }
        let c = page.csrf();
        if !c.is_empty() {
            self.csrf = c;
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    /// POSTs a form as a browser on our origin would (with the CSRF token
    /// of the last page seen).
    pub async fn post(&mut self, path: &str, pairs: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.clone();
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(pairs);
        self.post_raw(path, &all, &[("sec-fetch-site", "same-origin")])
            .await
    }

    pub async fn post_raw(
        &mut self,
        path: &str,
        pairs: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req).await
    }

    /// Sends `req` with this browser's cookie and keeps what the page sets
    /// (cookie, CSRF token).
    async fn send(&mut self, mut req: reqwest::RequestBuilder) -> Page {
        if let Some(c) = &self.cookie {
            req = req.header("cookie", format!("__Host-paylink_session={c}"));
        }
        let r = req.send().await.unwrap();
        let page = Page {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.text().await.unwrap(),
        };
        self.keep(&page);
        page
    }

    /// The current TOTP code (from the seed, as an authenticator app).
    pub fn code(&self, now: i64) -> String {
        let v = totp::hotp(&self.seed, u64::try_from(totp::step(now)).unwrap(), 6).unwrap();
        format!("{v:06}")
    }

    /// Signs in with password and TOTP (the clock moves to a fresh step
    /// first, as a code works once).
    pub async fn sign_in(&mut self, app: &TestApp) -> Page {
        let p = self
            .post_raw(
                "/login",
                &[
                    ("email", &self.email.clone()),
                    ("password", &self.password.clone()),
                ],
                &[],
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        assert_eq!(p.location(), "/login/2fa");
        let page = self.get("/login/2fa").await;
        assert_eq!(page.status, 200);
        app.clock.advance(30);
        let code = self.code(app.clock.now());
        let p = self.post("/login/2fa", &[("code", &code)]).await;
        assert_eq!(p.status, 303, "{}", p.body);
        assert_eq!(p.location(), "/dashboard");
        p
    }
}

/// A member of the test account with `role`, signed up through a setup
/// link (password, TOTP enrolment) and signed in.
pub async fn member(app: &TestApp, email: &str, role: Role) -> Dash {
    let store = &app.opened.store;
    if store
        .user_id_by_email(&store.blind(email).await.unwrap())
        .await
        .unwrap()
        .is_none()
        || role != Role::Owner
    {
        let id = paylink_domain::id::generate(IdKind::User).unwrap();
        let key = store.blind(email).await.unwrap();
        store
            .add_member(
                id.as_str(),
                email,
                &key,
                &app.account,
                role,
                app.clock.now(),
            )
            .await
            .unwrap();
    }
    let link = app::setup_link(store, &app.base, &app.account, email, app.clock.now())
        .await
        .unwrap();
    enrol(app, email, link).await
}

/// Follows a setup link to the end of TOTP enrolment.
pub async fn enrol(app: &TestApp, email: &str, link: Secret<String>) -> Dash {
    let path = link.expose().trim_start_matches(&app.base).to_string();
    let mut d = Dash::enrolled(&app.base, email, &path, app.clock.now()).await;
    d.user_id = store_user(app, email).await;
    d
}

impl Dash {
    /// Follows the setup link at `path` of the server at `base` (any
    /// paylink, in this process or not) to the end of TOTP enrolment, with
    /// codes for the time `now`: a browser signed in as `email`.
    pub async fn enrolled(base: &str, email: &str, path: &str, now: i64) -> Dash {
        let mut d = Dash::at(base);
        d.email = email.to_string();
        let p = d.get(path).await;
        assert_eq!(p.status, 200, "{}", p.body);
        let p = d
            .post_raw(
                path,
                &[("password", PASSWORD), ("password_confirmation", PASSWORD)],
                &[],
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        assert_eq!(p.location(), "/setup/2fa");
        let p = d.get("/setup/2fa").await;
        assert_eq!(p.status, 200, "{}", p.body);
        let secret = between(&p.body, "id=\"totp-secret\">", "<").unwrap();
        d.seed = totp::from_base32(&secret).unwrap();
        let code = d.code(now);
        let p = d.post("/setup/2fa", &[("code", &code)]).await;
        assert_eq!(p.status, 200, "{}", p.body);
        let list = between(&p.body, "id=\"recovery-codes\">", "</ul>").unwrap();
        d.recovery = list
            .split("<li>")
            .filter_map(|x| x.split("</li>").next())
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect();
        assert_eq!(d.recovery.len(), 10, "{list}");
        d
    }
}

pub async fn store_user(app: &TestApp, email: &str) -> String {
    let store = &app.opened.store;
    store
        .user_id_by_email(&store.blind(email).await.unwrap())
        .await
        .unwrap()
        .unwrap()
}

/// The invitation link in the newest outbox message to `to`.
pub async fn outbox_link(app: &TestApp, to: &str) -> String {
    let mails = app.opened.store.outbox(0).await.unwrap();
    let m = mails
        .iter()
        .rev()
        .find(|m| m.to == to)
        .unwrap_or_else(|| panic!("no mail to {to}"));
    let body = m.body.expose();
    let i = body.find("/invite/").unwrap();
    let tail = &body[i..];
    tail.split_whitespace().next().unwrap().to_string()
}
