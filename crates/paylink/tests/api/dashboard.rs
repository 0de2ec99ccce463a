//! The dashboard's doors over HTTP: setup links, TOTP enrolment and
//! sign-in, lockout, per-IP throttling, cookies, CSRF, session rotation and
//! expiry, roles against the permission table, team changes, IP allowlist.

use paylink::app;
use paylink_domain::roles::Role;
use paylink_web::dashboard;

use crate::both;
use crate::buyer::Buyer;
use crate::dash::*;
use crate::helpers::*;

const OWNER: &str = "owner@shop.example";

async fn setup_link_enrolment_and_sign_in(app: TestApp) {
    // The setup link: single use, and a bad password does not burn it.
    let link = app::setup_link(
        &app.opened.store,
        &app.base,
        &app.account,
        OWNER,
        app.clock.now(),
    )
    .await
    .unwrap();
    let path = link.expose().trim_start_matches(&app.base).to_string();
    let mut d = Dash::anonymous(&app);
    let p = d
        .post_raw(
            &path,
            &[
                ("password", "password1234"),
                ("password_confirmation", "password1234"),
            ],
            &[],
        )
        .await;
    assert_eq!(p.status, 200);
    assert!(
        p.body.contains("most common leaked passwords"),
        "{}",
        p.body
    );
    let p = d
        .post_raw(
            &path,
            &[
                ("password", "owner@shop.example and more"),
                ("password_confirmation", "owner@shop.example and more"),
            ],
            &[],
        )
        .await;
    assert!(p.body.contains("may not contain your email"), "{}", p.body);
    let p = d
        .post_raw(
            &path,
            &[("password", "short"), ("password_confirmation", "short")],
            &[],
        )
        .await;
    assert!(p.body.contains("at least 12"), "{}", p.body);
    let mut owner = enrol(&app, OWNER, link).await;
    // Used once: the link is gone.
    assert_eq!(Dash::anonymous(&app).get(&path).await.status, 410);
    // The signed-in session's cookie.
    let p = owner.get("/dashboard").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("Overview"));
    let csp = p.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe"),
        "{csp}"
    );

    // Sign out ends the session on the server: the old cookie is useless.
    let old = owner.cookie.clone();
    let p = owner.post("/logout", &[]).await;
    assert_eq!(p.status, 303);
    assert!(p.set_cookie().unwrap().contains("Max-Age=0"));
    owner.cookie = old;
    let p = owner.get("/dashboard").await;
    assert_eq!((p.status, p.location()), (303, "/login"));

    // Password, then code: each step gets a new token.
    let p = owner
        .post_raw("/login", &[("email", OWNER), ("password", PASSWORD)], &[])
        .await;
    assert_eq!((p.status, p.location()), (303, "/login/2fa"));
    let cookie = p.set_cookie().unwrap();
    for attr in [
        "__Host-paylink_session=",
        "Path=/",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
    ] {
        assert!(cookie.contains(attr), "{attr} missing in {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    let half = owner.cookie.clone().unwrap();
    // The half-signed-in session opens nothing.
    let p = owner.get("/dashboard").await;
    assert_eq!((p.status, p.location()), (303, "/login"));
    owner.cookie = Some(half.clone());
    owner.get("/login/2fa").await;
    app.clock.advance(30);
    let code = owner.code(app.clock.now());
    let p = owner.post("/login/2fa", &[("code", &code)]).await;
    assert_eq!((p.status, p.location()), (303, "/dashboard"));
    let full = owner.cookie.clone().unwrap();
    assert_ne!(full, half, "a new token at sign-in");
    assert!(
        token_of(&p.set_cookie().unwrap()).len() >= 43,
        "256-bit token"
    );
    assert_eq!(owner.get("/dashboard").await.status, 200);

    // The same code again (same step) is refused, even with the password right.
    owner.cookie = None;
    owner
        .post_raw("/login", &[("email", OWNER), ("password", PASSWORD)], &[])
        .await;
    owner.get("/login/2fa").await;
    let p = owner.post("/login/2fa", &[("code", &code)]).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("didn't work"), "{}", p.body);
    // A recovery code works, once.
    let rc = owner.recovery[0].clone();
    let p = owner.post("/login/2fa", &[("code", &rc)]).await;
    assert_eq!((p.status, p.location()), (303, "/dashboard"));
    owner.cookie = None;
    owner
        .post_raw("/login", &[("email", OWNER), ("password", PASSWORD)], &[])
        .await;
    owner.get("/login/2fa").await;
    let p = owner.post("/login/2fa", &[("code", &rc)]).await;
    assert_eq!(p.status, 200, "a recovery code works once");

    // The seed is sealed at rest and the password stored as argon2id.
    let dump = String::from_utf8_lossy(&app.raw_database()).to_string();
    let b32 = paylink_crypto::totp::base32(&owner.seed);
    assert!(!dump.contains(&b32), "TOTP seed in clear");
    assert!(dump.contains("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert!(!dump.contains(PASSWORD));

    // A new setup link (lost password) replaces the password but never
    // skips the second factor.
    let again = app::setup_link(
        &app.opened.store,
        &app.base,
        &app.account,
        OWNER,
        app.clock.now(),
    )
    .await
    .unwrap();
    let path = again.expose().trim_start_matches(&app.base).to_string();
    let mut r = Dash::anonymous(&app);
    let p = r
        .post_raw(
            &path,
            &[
                ("password", "another long passphrase"),
                ("password_confirmation", "another long passphrase"),
            ],
            &[],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/login/2fa"));
    assert_eq!(r.get("/dashboard").await.location(), "/login");
    assert_eq!(
        r.get("/setup/2fa").await.location(),
        "/login",
        "no re-enrolment"
    );
}
both!(setup_link_enrolment_and_sign_in);

async fn ten_failures_lock_and_look_like_a_wrong_password(app: TestApp) {
    let mut owner = member(&app, OWNER, Role::Owner).await;
    let dev = member(&app, "dev@shop.example", Role::Developer).await;
    let mut anon = Dash::anonymous(&app);
    let wrong = anon
        .post_raw(
            "/login",
            &[("email", &dev.email), ("password", "not the password!")],
            &[],
        )
        .await;
    assert_eq!(wrong.status, 200);
    // Attempts during a back-off wait are refused without counting, so
    // the attacker waits out each one (30 s, doubling) to reach ten.
    for _ in 0..9 {
        app.clock.advance(600);
        anon.post_raw(
            "/login",
            &[("email", &dev.email), ("password", "not the password!")],
            &[],
        )
        .await;
    }
    // Locked: the right password gets exactly the wrong-password page.
    let locked = anon
        .post_raw(
            "/login",
            &[("email", &dev.email), ("password", PASSWORD)],
            &[],
        )
        .await;
    assert_eq!(locked.status, wrong.status);
    assert_eq!(locked.body, wrong.body);
    assert!(locked.set_cookie().is_none());
    // An unknown email: the same page too.
    let unknown = anon
        .post_raw(
            "/login",
            &[
                ("email", "nobody@shop.example"),
                ("password", "not the password!"),
            ],
            &[],
        )
        .await;
    assert_eq!(
        unknown.body.replace("nobody@shop.example", &dev.email),
        wrong.body
    );
    // The lock is recorded for the email notice; the owner sees the
    // member locked (the notice itself, with addresses, is the member's).
    owner.cookie = None;
    owner.sign_in(&app).await;
    let p = owner.get("/dashboard/security").await;
    assert!(!p.body.contains("user.locked"), "{}", p.body);
    let p = owner.get("/dashboard/team").await;
    assert!(p.body.contains("Locked"));
    // An hour later it lifts by itself; an owner can lift it sooner.
    let csrf = owner.csrf.clone();
    let p = owner
        .post_raw(
            &format!("/dashboard/team/{}/unlock", dev.user_id),
            &[("csrf", &csrf)],
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let mut dev2 = dev.clone();
    dev2.cookie = None;
    dev2.sign_in(&app).await;
    let p = dev2.get("/dashboard/security").await;
    assert!(p.body.contains("user.locked"), "{}", p.body);
    let entries = app.opened.store.audit_entries(None).await.unwrap();
    // Audit entries are kept for years: they name the address only by a
    // keyed hash.
    for e in entries.iter().filter(|e| e.action.starts_with("login.")) {
        assert!(
            !e.detail.contains("127.0.0.1") && e.detail.contains("ip_ref"),
            "{}",
            e.detail
        );
    }
    for action in [
        "login.failed",
        "user.locked",
        "user.unlocked",
        "login.succeeded",
    ] {
        assert!(entries.iter().any(|e| e.action == action), "{action}");
    }
    // Locked again, the recovery flow (a new setup link from the
    // operator) lifts the lock, and the code is still asked for.
    for _ in 0..10 {
        app.clock.advance(600);
        anon.post_raw(
            "/login",
            &[("email", &dev.email), ("password", "not the password!")],
            &[],
        )
        .await;
    }
    let link = app::setup_link(
        &app.opened.store,
        &app.base,
        &app.account,
        &dev.email,
        app.clock.now(),
    )
    .await
    .unwrap();
    let path = link.expose().trim_start_matches(&app.base).to_string();
    let mut r = dev.clone();
    r.cookie = None;
    let p = r
        .post_raw(
            &path,
            &[
                ("password", "a fresh passphrase here"),
                ("password_confirmation", "a fresh passphrase here"),
            ],
            &[],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/login/2fa"));
    r.password = "a fresh passphrase here".into();
    r.cookie = None;
    r.sign_in(&app).await;
}
both!(ten_failures_lock_and_look_like_a_wrong_password);

async fn backoff_then_time_unlocks(app: TestApp) {
    let mut d = member(&app, "wait@shop.example", Role::Analyst).await;
    d.cookie = None;
    for _ in 0..5 {
        d.post_raw(
            "/login",
            &[
                ("email", &d.email.clone()),
                ("password", "wrong wrong wrong"),
            ],
            &[],
        )
        .await;
    }
    // Waiting after the fifth: even the right password is refused now...
    let p = d
        .post_raw(
            "/login",
            &[("email", &d.email.clone()), ("password", PASSWORD)],
            &[],
        )
        .await;
    assert_eq!(p.status, 200);
    // ...and accepted once the wait is over.
    app.clock.advance(31);
    d.sign_in(&app).await;
}
both!(backoff_then_time_unlocks);

async fn many_failures_from_one_address_get_429(app: TestApp) {
    let mut anon = Dash::anonymous(&app);
    for i in 0..30 {
        let p = anon
            .post_raw(
                "/login",
                &[
                    ("email", &format!("x{i}@shop.example")),
                    ("password", "whatever whatever"),
                ],
                &[],
            )
            .await;
        assert_eq!(p.status, 200);
    }
    let p = anon
        .post_raw(
            "/login",
            &[
                ("email", "x@shop.example"),
                ("password", "whatever whatever"),
            ],
            &[],
        )
        .await;
    assert_eq!(p.status, 429);
    let retry: i64 = p.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 900, "{retry}");
    app.clock.advance(901);
    let p = anon
        .post_raw(
            "/login",
            &[
                ("email", "x@shop.example"),
                ("password", "whatever whatever"),
            ],
            &[],
        )
        .await;
    assert_eq!(p.status, 200);
    // Sign-in records hold IP addresses: purged after 14 days.
    let d = member(&app, "purge@shop.example", Role::Analyst).await;
    assert_eq!(
        app.opened
            .store
            .user_sessions(&d.user_id)
            .await
            .unwrap()
            .len(),
        1
    );
    app.clock.advance(15 * 86_400);
    let pass = paylink_jobs::purge_once(
        &app.opened.store,
        app.clock.now(),
        &paylink_jobs::Retention::default(),
    )
    .await
    .unwrap();
    assert!(pass.sign_in_records >= 2, "{pass:?}");
    assert!(app
        .opened
        .store
        .user_sessions(&d.user_id)
        .await
        .unwrap()
        .is_empty());
}
both!(many_failures_from_one_address_get_429);

async fn csrf_token_and_origin_are_checked(app: TestApp) {
    let mut owner = member(&app, OWNER, Role::Owner).await;
    owner.get("/dashboard/security").await;
    let good = owner.csrf.clone();
    let form = [("allowlist", "")];
    // No token, a wrong token, a token from another session: refused.
    let p = owner
        .post_raw("/dashboard/security/allowlist", &form, &[])
        .await;
    assert_eq!(p.status, 403);
    let p = owner
        .post_raw(
            "/dashboard/security/allowlist",
            &[("csrf", "0000"), ("allowlist", "")],
            &[],
        )
        .await;
    assert_eq!(p.status, 403);
    let other = member(&app, "admin@shop.example", Role::Admin).await;
    let p = owner
        .post_raw(
            "/dashboard/security/allowlist",
            &[("csrf", &other.csrf), ("allowlist", "")],
            &[],
        )
        .await;
    assert_eq!(p.status, 403);
    // The right token from another site: refused.
    let p = owner
        .post_raw(
            "/dashboard/security/allowlist",
            &[("csrf", &good), ("allowlist", "")],
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(p.status, 403);
    let p = owner
        .post_raw(
            "/dashboard/security/allowlist",
            &[("csrf", &good), ("allowlist", "")],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(p.status, 403);
    // The right token from our pages: done.
    let p = owner
        .post_raw(
            "/dashboard/security/allowlist",
            &[("csrf", &good), ("allowlist", "")],
            &[("origin", &app.base), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("Allowlist saved"));
    // GET changes nothing: an action route answers GET with a refusal.
    let p = owner.get("/dashboard/security/sign-out-everywhere").await;
    assert_eq!(p.status, 403);
}
both!(csrf_token_and_origin_are_checked);

async fn idle_and_absolute_expiry(app: TestApp) {
    let mut d = member(&app, "idle@shop.example", Role::Analyst).await;
    app.clock.advance(29 * 60);
    assert_eq!(d.get("/dashboard").await.status, 200);
    app.clock.advance(30 * 60);
    let p = d.get("/dashboard").await;
    assert_eq!((p.status, p.location()), (303, "/login?expired=1"));
    // Active all along, the session still ends 12 hours after sign-in.
    d.cookie = None;
    d.sign_in(&app).await;
    let mut ended = None;
    for i in 0..40 {
        app.clock.advance(20 * 60 - 1);
        let p = d.get("/dashboard").await;
        if p.status != 200 {
            ended = Some((i, p));
            break;
        }
    }
    let (i, p) = ended.expect("the session never ended");
    assert_eq!((p.status, p.location()), (303, "/login?expired=1"));
    // 36 requests 1199 s apart are 11 h 59 min; the 37th is past 12 h.
    assert_eq!(i, 36);
}
both!(idle_and_absolute_expiry);

/// Fills a route's path parameters.
fn concrete(path: &str) -> String {
    path.replace("{id}", "nope_123")
        .replace("{user}", "usr_nope")
}

async fn every_route_for_every_role(app: TestApp) {
    let mut users = Vec::new();
    for (i, role) in Role::ALL.into_iter().enumerate() {
        let email = if role == Role::Owner {
            OWNER.to_string()
        } else {
            format!("r{i}@shop.example")
        };
        users.push((role, member(&app, &email, role).await));
    }
    let table = dashboard::table();
    assert!(table.len() >= 30);
    for (role, d) in &mut users {
        for route in &table {
            let path = concrete(route.path);
            let p = if route.method == axum::http::Method::GET {
                d.get(&path).await
            } else {
                d.get("/dashboard/security").await;
                // A harmless body: wrong current password, empty list, …
                d.post(
                    &path,
                    &[
                        ("current_password", "not mine at all"),
                        ("password", "not mine at all"),
                        ("account_id", "acct_nope"),
                    ],
                )
                .await
            };
            let allowed = role.allows(route.permission);
            assert_eq!(
                !p.denied(),
                allowed,
                "{role} {} {} answered {}: {}",
                route.method,
                route.path,
                p.status,
                &p.body[..p.body.len().min(300)]
            );
            assert_ne!(p.status, 500, "{} {}", route.method, route.path);
            // Still signed in (nothing above ended the session).
            assert_ne!(
                p.location(),
                "/login",
                "{role} {} {}",
                route.method,
                route.path
            );
        }
        // A path outside the table does not exist.
        assert_eq!(d.get("/dashboard/not-a-page").await.status, 404);
    }
}
both!(every_route_for_every_role);

async fn tenants_are_isolated(app: TestApp) {
    let (_, other_key) = app.other_account().await;
    let price = app
        .post_as(
            &other_key,
            "/v1/prices",
            json!({"currency": "eur", "unit_amount": 500, "product_data": {"name": "Theirs"}}),
        )
        .await
        .id();
    let link = app
        .post_as(
            &other_key,
            "/v1/payment_links",
            json!({"line_items": [{"price": price, "quantity": 1}]}),
        )
        .await
        .id();
    let mut owner = member(&app, OWNER, Role::Owner).await;
    assert_eq!(
        owner
            .get(&format!("/dashboard/payment-links/{link}"))
            .await
            .status,
        404
    );
    let p = owner.get("/dashboard/payment-links").await;
    assert!(!p.body.contains(&link));
    // An id of another kind is the same 404 page, naming the object.
    let p = owner
        .get(&format!("/dashboard/payment-links/{price}"))
        .await;
    assert_eq!(p.status, 404);
    assert!(
        p.body
            .contains(&format!("No such payment_link: &#x27;{price}&#x27;"))
            || p.body.contains(&format!("No such payment_link: '{price}'")),
        "{}",
        p.body
    );
    assert_eq!(owner.get("/dashboard/customers/pi_123").await.status, 404);
    // Mass assignment: extra fields naming another account change nothing.
    let p = owner
        .post(
            "/dashboard/payment-links",
            &[
                ("price", &price),
                ("quantity", "1"),
                ("account_id", "acct_other"),
                ("role", "owner"),
            ],
        )
        .await;
    assert_eq!(p.status, 200, "the other account's price is not found here");
    assert!(p.body.contains("No such price"), "{}", p.body);
    // Switching to an account one is not a member of is refused.
    let p = owner
        .post("/dashboard/account", &[("account_id", "acct_other")])
        .await;
    assert_eq!(p.status, 403);
}
both!(tenants_are_isolated);

async fn removing_or_demoting_a_member_ends_their_sessions(app: TestApp) {
    let mut owner = member(&app, OWNER, Role::Owner).await;
    let mut admin = member(&app, "admin@shop.example", Role::Admin).await;
    let mut support = member(&app, "support@shop.example", Role::Support).await;
    assert_eq!(admin.get("/dashboard/team").await.status, 200);
    // The access review lists everyone with role and two-step status.
    let p = owner.get("/dashboard/team").await;
    for email in [OWNER, "admin@shop.example", "support@shop.example"] {
        assert!(p.body.contains(email), "{email}");
    }
    assert!(p.body.contains("admin") && p.body.contains("support"));
    // An admin can't make anyone an owner.
    let p = admin
        .post(
            &format!("/dashboard/team/{}/role", support.user_id),
            &[("role", "owner")],
        )
        .await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("Choose one of the roles"), "{}", p.body);
    // Lowering admin to analyst ends the admin's sessions at once.
    owner.get("/dashboard/team").await;
    let p = owner
        .post(
            &format!("/dashboard/team/{}/role", admin.user_id),
            &[("role", "analyst")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(admin.get("/dashboard").await.location(), "/login");
    admin.cookie = None;
    admin.sign_in(&app).await;
    assert!(admin.get("/dashboard/team").await.denied());
    // Raising a role is a privilege change too: a new sign-in.
    owner.get("/dashboard/team").await;
    let p = owner
        .post(
            &format!("/dashboard/team/{}/role", admin.user_id),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(admin.get("/dashboard").await.location(), "/login");
    // Removing support ends their session: the next click signs them out.
    owner.get("/dashboard/team").await;
    let p = owner
        .post(&format!("/dashboard/team/{}/remove", support.user_id), &[])
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(
        support.get("/dashboard/payments").await.location(),
        "/login"
    );
    // The last owner can't be removed or demoted.
    let p = owner
        .post(
            &format!("/dashboard/team/{}/role", owner.user_id.clone()),
            &[("role", "admin")],
        )
        .await;
    assert!(p.body.contains("own role"));
    // Invitations: a one-time link for a new email.
    owner.get("/dashboard/team").await;
    let p = owner
        .post(
            "/dashboard/team/invite",
            &[("email", "new@shop.example"), ("role", "developer")],
        )
        .await;
    assert_eq!(p.status, 200);
    // The link goes to the invited address (the outbox), not to the page.
    assert!(!p.body.contains("/invite/"), "{}", p.body);
    let link = outbox_link(&app, "new@shop.example").await;
    let newbie = enrol(
        &app,
        "new@shop.example",
        paylink_crypto::Secret::new(format!("{}{link}", app.base)),
    )
    .await;
    assert_eq!(
        app.opened
            .store
            .role_of(&newbie.user_id, &app.account)
            .await
            .unwrap(),
        Some(Role::Developer)
    );
    let p = owner
        .post(
            "/dashboard/team/invite",
            &[("email", "not an email"), ("role", "developer")],
        )
        .await;
    assert!(
        p.body.contains("valid email") && p.body.contains("value=\"not an email\""),
        "{}",
        p.body
    );
}
both!(removing_or_demoting_a_member_ends_their_sessions);

async fn password_change_needs_the_current_one_and_ends_other_sessions(app: TestApp) {
    let mut a = member(&app, OWNER, Role::Owner).await;
    let mut b = a.clone();
    b.cookie = None;
    b.sign_in(&app).await;
    a.get("/dashboard/security").await;
    let p = a
        .post(
            "/dashboard/security/password",
            &[
                ("current_password", "wrong one entirely"),
                ("new_password", "a brand new passphrase"),
                ("new_password_confirmation", "a brand new passphrase"),
            ],
        )
        .await;
    assert!(p.body.contains("not your current password"));
    assert_eq!(b.get("/dashboard").await.status, 200);
    let before = a.cookie.clone();
    let p = a
        .post(
            "/dashboard/security/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new passphrase"),
                ("new_password_confirmation", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_ne!(a.cookie, before, "a new token after the change");
    assert_eq!(a.get("/dashboard").await.status, 200);
    assert_eq!(b.get("/dashboard").await.location(), "/login");
    // Recovery codes: new ones need the password, and replace the old.
    a.get("/dashboard/security").await;
    let p = a
        .post(
            "/dashboard/security/recovery-codes",
            &[("password", "a brand new passphrase")],
        )
        .await;
    assert!(p.body.contains("Your new recovery codes"));
    // Sessions: listed, and one can be ended from another.
    let mut c = a.clone();
    c.cookie = None;
    c.password = "a brand new passphrase".into();
    c.sign_in(&app).await;
    let p = a.get("/dashboard/security").await;
    assert!(p.body.contains("This session"));
    let other = between(&p.body, "/dashboard/security/sessions/", "/revoke").unwrap();
    let p = a
        .post(&format!("/dashboard/security/sessions/{other}/revoke"), &[])
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(c.get("/dashboard").await.location(), "/login");
    assert_eq!(a.get("/dashboard").await.status, 200);
}
both!(password_change_needs_the_current_one_and_ends_other_sessions);

async fn ip_allowlist_guards_dashboard_and_api(app: TestApp) {
    let mut owner = member(&app, OWNER, Role::Owner).await;
    owner.get("/dashboard/security").await;
    // A list that leaves out the saver's own address is refused.
    let p = owner
        .post(
            "/dashboard/security/allowlist",
            &[("allowlist", "10.0.0.0/8")],
        )
        .await;
    assert!(p.body.contains("you would be locked out"), "{}", p.body);
    assert!(p.body.contains("10.0.0.0/8"), "what was typed is kept");
    let p = owner
        .post(
            "/dashboard/security/allowlist",
            &[("allowlist", "10.0.0.0/33")],
        )
        .await;
    assert!(p.body.contains("not an IP address or CIDR range"));
    let p = owner
        .post(
            "/dashboard/security/allowlist",
            &[("allowlist", "127.0.0.1\n10.0.0.0/8")],
        )
        .await;
    assert!(p.body.contains("Allowlist saved"), "{}", p.body);
    assert_eq!(app.get("/v1/products").await.status, 200);
    // From elsewhere (here: the list no longer holds loopback): 403 + audit.
    app.opened
        .store
        .set_ip_allowlist(&app.account, "10.0.0.0/8")
        .await
        .unwrap();
    let r = app.get("/v1/products").await;
    r.assert_error(403, None);
    assert!(owner.get("/dashboard").await.status == 403);
    let entries = app.audit_log().await;
    let doors: Vec<String> = entries
        .iter()
        .filter(|e| e.action == "ip.refused")
        .map(|e| e.detail.clone())
        .collect();
    assert!(
        doors.iter().any(|d| d.contains("\"api\""))
            && doors.iter().any(|d| d.contains("\"dashboard\"")),
        "{doors:?}"
    );
}
both!(ip_allowlist_guards_dashboard_and_api);

async fn dashboard_forms_create_and_keep_what_was_typed(app: TestApp) {
    let mut owner = member(&app, OWNER, Role::Owner).await;
    owner.get("/dashboard/payment-links/new").await;
    let p = owner
        .post(
            "/dashboard/payment-links",
            &[
                ("product_name", "Poster <b>A2</b>"),
                ("amount", "12.345"),
                ("currency", "eur"),
                ("quantity", "1"),
            ],
        )
        .await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("id=\"amount-error\""), "{}", p.body);
    assert!(
        p.body.contains("value=\"Poster &lt;b&gt;A2&lt;/b&gt;\""),
        "kept and escaped"
    );
    let p = owner
        .post(
            "/dashboard/payment-links",
            &[
                ("product_name", "Poster"),
                ("amount", "12.50"),
                ("currency", "eur"),
                ("quantity", "2"),
                ("limit", "5"),
                ("allow_promotion_codes", "true"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let page = owner.get(p.location()).await;
    assert!(
        page.body.contains("Poster") && page.body.contains("Payments: 0 of 5"),
        "{}",
        page.body
    );
    let id = between(p.location(), "/dashboard/payment-links/", "?").unwrap();
    let link = app.get(&format!("/v1/payment_links/{id}")).await;
    assert_eq!(link.ok()["allow_promotion_codes"], true);
    // Deactivate from the page.
    let p = owner
        .post(
            &format!("/dashboard/payment-links/{id}"),
            &[("active", "false")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(
        app.get(&format!("/v1/payment_links/{id}")).await.ok()["active"],
        false
    );
    // The QR code of the link.
    let qr = owner
        .get(&format!("/dashboard/payment-links/{id}/qr.svg"))
        .await;
    assert!(qr.body.starts_with("<?xml") || qr.body.contains("<svg"));
    // Search finds it by id.
    let p = owner.get(&format!("/dashboard/payment-links?q={id}")).await;
    assert!(p.body.contains(&id));
    // Products and codes.
    owner.get("/dashboard/products").await;
    let p = owner
        .post(
            "/dashboard/products",
            &[("name", "Mug"), ("amount", "9"), ("currency", "usd")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(owner
        .get("/dashboard/products?q=mug")
        .await
        .body
        .contains("Mug"));
    owner.get("/dashboard/coupons").await;
    let p = owner
        .post(
            "/dashboard/coupons",
            &[("code", "SPRING10"), ("percent_off", "10")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = owner
        .post(
            "/dashboard/coupons",
            &[("code", "SPRING10"), ("percent_off", "10")],
        )
        .await;
    assert!(
        p.body.contains("id=\"code-error\""),
        "duplicate code beside the field: {}",
        p.body
    );
    assert!(owner
        .get("/dashboard/coupons")
        .await
        .body
        .contains("SPRING10"));
}
both!(dashboard_forms_create_and_keep_what_was_typed);

async fn weaker_hashes_are_upgraded_at_sign_in(app: TestApp) {
    let mut d = member(&app, "old@shop.example", Role::Analyst).await;
    // A hash made with weaker parameters (as an older release would have).
    let weak = {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let params = argon2::Params::new(8 * 1024, 1, 1, None).unwrap();
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        a.hash_password(
            PASSWORD.as_bytes(),
            &SaltString::encode_b64(b"0123456789abcdef").unwrap(),
        )
        .unwrap()
        .to_string()
    };
    app.opened
        .store
        .set_password(&d.user_id, &weak, app.clock.now())
        .await
        .unwrap();
    d.cookie = None;
    d.sign_in(&app).await;
    let stored = app
        .opened
        .store
        .credentials(&d.user_id)
        .await
        .unwrap()
        .password_hash
        .unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
}
both!(weaker_hashes_are_upgraded_at_sign_in);

async fn owners_make_and_developers_revoke_api_keys(app: TestApp) {
    let mut dev = member(&app, "keys@shop.example", Role::Developer).await;
    let p = dev.get("/dashboard/api-keys").await;
    assert_eq!(p.status, 200);
    // A secret key holds every power: a developer may not make one.
    assert!(dev.post("/dashboard/api-keys", &[]).await.denied());
    let mut owner = member(&app, OWNER, Role::Owner).await;
    owner.get("/dashboard/api-keys").await;
    let p = owner.post("/dashboard/api-keys", &[]).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let key = between(&p.body, "id=\"new-key\" readonly value=\"", "\"").unwrap();
    assert!(key.starts_with("sk_test_"), "{key}");
    // Shown once: the list shows only its last four.
    dev.get("/dashboard/api-keys").await;
    let list = dev.get("/dashboard/api-keys").await;
    assert!(!list.body.contains(&key) && list.body.contains(&key[key.len() - 4..]));
    assert_eq!(app.get_as(&key, "/v1/products").await.status, 200);
    // The row of this key (the account's first test key is listed too).
    let row = list
        .body
        .split("<tr>")
        .find(|r| r.contains(&format!("…{}", &key[key.len() - 4..])))
        .unwrap();
    let id = between(row, "action=\"/dashboard/api-keys/", "/roll\"").unwrap();
    let p = dev
        .post(&format!("/dashboard/api-keys/{id}/revoke"), &[])
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(app.get_as(&key, "/v1/products").await.status, 401);
    // Analysts and support may not.
    let mut analyst = member(&app, "an@shop.example", Role::Analyst).await;
    assert!(analyst.get("/dashboard/api-keys").await.denied());
    let entries = app.audit_log().await;
    assert!(entries.iter().any(|e| e.action == "api_key.revoked"));
}
both!(owners_make_and_developers_revoke_api_keys);

async fn provider_is_connected_and_disconnected_in_the_dashboard(app: TestApp) {
    let mut owner = member(&app, OWNER, Role::Owner).await;
    owner.get("/dashboard/settings").await;
    let p = owner.post("/dashboard/settings/disconnect", &[]).await;
    assert!(
        p.body.contains("Disconnected") && p.body.contains("id=\"secret_key\""),
        "{}",
        p.body
    );
    assert!(app.get("/v1/account").await.ok()["provider"].is_null());
    // A key the sim did not issue: refused beside the field, not echoed.
    let bogus = "sk_sim_not_a_real_key_12345678";
    app.clock.advance(30);
    let code = owner.code(app.clock.now());
    let p = owner
        .post(
            "/dashboard/settings/connect",
            &[("secret_key", bogus), ("code", &code)],
        )
        .await;
    assert!(p.body.contains("id=\"secret_key-error\""), "{}", p.body);
    assert!(!p.body.contains(bogus));
    // The right one (with a fresh code): connected, shown by its last four.
    let key = app.sim_key();
    app.clock.advance(30);
    let code = owner.code(app.clock.now());
    let p = owner
        .post(
            "/dashboard/settings/connect",
            &[("secret_key", &key), ("code", &code)],
        )
        .await;
    assert!(
        p.body.contains("Connected") && p.body.contains(&key[key.len() - 4..]),
        "{}",
        p.body
    );
    assert!(!p.body.contains(&key));
    assert_eq!(app.get("/v1/account").await.ok()["provider"]["type"], "sim");
    // Buyers can pay again.
    let link = app.link_with("eur", 700, json!({})).await;
    crate::buyer::Buyer::new()
        .pay(&app, &link, &[("email", "again@example.com")])
        .await;
}
both!(provider_is_connected_and_disconnected_in_the_dashboard);

/// The overview sums the last 30 days' successful payments per currency,
/// net of refunds, and per day; a payment older than 30 days drops out.
async fn overview_sums_thirty_days_per_currency(app: TestApp) {
    let eur = app.link_with("eur", 1000, json!({})).await;
    Buyer::new()
        .pay(&app, &eur, &[("email", "a@example.com")])
        .await;
    app.clock.advance(86_400);
    let eur2 = app.link_with("eur", 2500, json!({})).await;
    let usd = app.link_with("usd", 700, json!({})).await;
    Buyer::new()
        .pay(&app, &eur2, &[("email", "b@example.com")])
        .await;
    Buyer::new()
        .pay(&app, &usd, &[("email", "c@example.com")])
        .await;
    let pis = app.get("/v1/payment_intents").await;
    let pis = pis.ok();
    let of_2500 = pis["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["amount"] == 2500)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        "/v1/refunds",
        json!({"payment_intent": of_2500, "amount": 300}),
    )
    .await
    .ok();
    let figures = |body: &str, cur: &str| {
        let sum = between(body, &format!("id=\"revenue-{cur}\">"), "<").unwrap();
        let rest = body
            .split(&format!("id=\"revenue-{cur}\">"))
            .nth(1)
            .unwrap();
        let n = between(rest, "<div class=\"muted\">", "</div>").unwrap();
        (sum, n)
    };
    let mut d = member(&app, OWNER, Role::Owner).await;
    let p = d.get("/dashboard").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(
        figures(&p.body, "eur"),
        ("€32.00".to_string(), "2 payments".to_string())
    );
    let (usd_sum, usd_n) = figures(&p.body, "usd");
    assert!(usd_sum.contains("7.00"), "{usd_sum}");
    assert_eq!(usd_n, "1 payment");
    // Per day: the chart of the main currency (eur, most payments) shows
    // €10.00 on the first day and €22.00 on the second.
    assert!(
        p.body.contains("€10.00") && p.body.contains("€22.00"),
        "{}",
        p.body
    );
    // 29 days on, the first day is out of the window.
    app.clock.advance(29 * 86_400);
    let mut d = member(&app, "later@shop.example", Role::Owner).await;
    let p = d.get("/dashboard").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(
        figures(&p.body, "eur"),
        ("€22.00".to_string(), "1 payment".to_string())
    );
}
both!(overview_sums_thirty_days_per_currency);
