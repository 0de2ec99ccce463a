//! HTML of the dashboard and sign-in pages. maud escapes every value; no
//! inline script or style (the CSP allows only our stylesheet), no
//! third-party resources.

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use paylink_crypto::Secret;
use paylink_domain::roles::Permission;

use super::{Ctx, Form};

pub const CSS: &str = "*{box-sizing:border-box}body{font-family:system-ui,sans-serif;margin:0;color:#111827;background:#f3f4f6}\
a{color:#4338ca}.shell{display:flex;min-height:100vh}nav.side{width:13rem;background:#111827;color:#e5e7eb;padding:1rem}\
nav.side a{display:block;color:#e5e7eb;text-decoration:none;padding:.45rem .6rem;border-radius:6px;font-size:.92rem}\
nav.side a.on{background:#374151}nav.side .brand{font-weight:700;font-size:1.1rem;margin-bottom:1rem}\
nav.side .who{font-size:.78rem;color:#9ca3af;margin-top:1.5rem;word-break:break-all}\
main{flex:1;padding:1.5rem 2rem;max-width:70rem}h1{font-size:1.4rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .6rem}\
.card{background:#fff;border-radius:10px;padding:1rem 1.25rem;box-shadow:0 1px 2px rgba(0,0,0,.08);margin-bottom:1rem}\
table{width:100%;border-collapse:collapse;font-size:.9rem}th,td{text-align:left;padding:.5rem;border-bottom:1px solid #e5e7eb;vertical-align:top}\
th{color:#6b7280;font-weight:600;font-size:.78rem;text-transform:uppercase}\
label{display:block;font-size:.85rem;margin:.7rem 0 .25rem;color:#374151}\
input,select,textarea{width:100%;padding:.5rem;border:1px solid #d1d5db;border-radius:6px;font-size:.95rem;font-family:inherit}\
input[type=checkbox]{width:auto}input[aria-invalid=true],select[aria-invalid=true]{border-color:#dc2626}\
.err{color:#dc2626;font-size:.8rem;margin-top:.25rem}.alert{background:#fef2f2;color:#991b1b;padding:.7rem;border-radius:6px;margin:.5rem 0}\
.okay{background:#ecfdf5;color:#065f46;padding:.7rem;border-radius:6px;margin:.5rem 0}\
button{padding:.55rem .9rem;border:0;border-radius:6px;font-size:.9rem;cursor:pointer;background:#4f46e5;color:#fff}\
button.plain{background:#e5e7eb;color:#111827}button.danger{background:#dc2626}form.inline{display:inline}\
.row{display:flex;gap:1rem;flex-wrap:wrap}.row>div{flex:1;min-width:10rem}.muted{color:#6b7280;font-size:.82rem}\
.badge{display:inline-block;font-size:.72rem;padding:.1rem .45rem;border-radius:4px;background:#e5e7eb}.badge.test{background:#fef3c7;color:#92400e}\
.badge.good{background:#d1fae5;color:#065f46}.badge.bad{background:#fee2e2;color:#991b1b}\
.login{max-width:24rem;margin:4rem auto}.codes{font-family:ui-monospace,monospace;font-size:1.05rem;columns:2}\
.mono{font-family:ui-monospace,monospace;word-break:break-all}.pager{margin-top:.8rem;display:flex;gap:1rem}\
fieldset{border:1px solid #e5e7eb;border-radius:6px;margin:.8rem 0;padding:.3rem .8rem .6rem}legend{font-size:.85rem;color:#374151;padding:0 .3rem}fieldset label{margin:.35rem 0}.stats{display:flex;gap:1rem}.stats .card{flex:1}.big{font-size:1.5rem;font-weight:700}.top{display:flex;justify-content:space-between;align-items:center}";

/// The CSP of every dashboard page.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn html_response(status: StatusCode, body: String) -> Response {
    let mut resp = (status, Html(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    // Same-origin requests carry their origin (checked on every POST);
    // other sites get no referrer at all.
    resp.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="referrer" content="same-origin";
            title { (title) " — paylink" }
            link rel="stylesheet" href="/assets/dashboard.css";
        }
    }
}

/// A page outside the dashboard shell (sign-in, refusals).
pub fn bare(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body { main class="login" { div class="card" { (body) } } }
        }
    }
    .into_string()
}

/// What a form shows: what was typed and the errors beside the fields.
#[derive(Default)]
pub struct FormState {
    pub values: Form,
    pub errors: BTreeMap<String, String>,
    pub alert: Option<String>,
    pub notice: Option<String>,
}

impl FormState {
    pub fn value(&self, name: &str) -> &str {
        self.values.get(name)
    }
    pub fn alert(message: impl Into<String>) -> FormState {
        FormState {
            alert: Some(message.into()),
            ..Default::default()
        }
    }
    pub fn notice(message: impl Into<String>) -> FormState {
        FormState {
            notice: Some(message.into()),
            ..Default::default()
        }
    }
    pub fn error(name: &str, message: impl Into<String>) -> FormState {
        let mut f = FormState::default();
        f.errors.insert(name.to_string(), message.into());
        f
    }
}

/// A labelled input with its error, keeping what was typed.
pub fn field(f: &FormState, label: &str, name: &str, kind: &str, extra: &str) -> Markup {
    let err = f.errors.get(name);
    html! {
        label for=(name) { (label) }
        input id=(name) name=(name) type=(kind) value=(f.value(name)) placeholder=(extra)
            aria-invalid=[err.map(|_| "true")] aria-describedby=[err.map(|_| format!("{name}-error"))];
        @if let Some(m) = err { div class="err" id={ (name) "-error" } role="alert" { (m) } }
    }
}

pub fn checkbox(f: &FormState, label: &str, name: &str) -> Markup {
    let on = !f.value(name).is_empty();
    html! {
        label { input type="checkbox" name=(name) value="true" checked[on]; " " (label) }
        @if let Some(m) = f.errors.get(name) { div class="err" role="alert" { (m) } }
    }
}

pub fn csrf(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.csrf); }
}

/// A one-button form (POST with the CSRF token).
pub fn button(ctx: &Ctx, action: &str, label: &str, class: &str) -> Markup {
    html! {
        form class="inline" method="post" action=(action) {
            (csrf(ctx))
            button class=(class) type="submit" { (label) }
        }
    }
}

pub fn alerts(f: &FormState) -> Markup {
    html! {
        @if let Some(a) = &f.alert { div class="alert" role="alert" { (a) } }
        @if let Some(n) = &f.notice { div class="okay" role="status" { (n) } }
    }
}

/// The dashboard shell: navigation (only what the role may open), mode
/// switch, account switch, sign-out.
// Long: one maud template: the markup reads top to bottom as the page it
// renders, and splitting it would scatter one page's HTML over several
// functions.
pub fn layout(ctx: &Ctx, title: &str, active: &str, body: Markup) -> String {
    let nav: [(&str, &str, Permission); 12] = [
        ("/dashboard", "Overview", Permission::ViewOverview),
        (
            "/dashboard/payment-links",
            "Payment links",
            Permission::ReadCatalog,
        ),
        ("/dashboard/products", "Products", Permission::ReadCatalog),
        ("/dashboard/coupons", "Coupons", Permission::ReadCatalog),
        ("/dashboard/payments", "Payments", Permission::ReadPayments),
        (
            "/dashboard/customers",
            "Customers",
            Permission::ReadCustomers,
        ),
        ("/dashboard/api-keys", "API keys", Permission::ManageApiKeys),
        (
            "/dashboard/webhooks",
            "Webhooks",
            Permission::ManageWebhooks,
        ),
        ("/dashboard/team", "Team", Permission::ManageTeam),
        ("/dashboard/security", "Security", Permission::OwnLogin),
        ("/dashboard/audit", "Audit log", Permission::ManageSecurity),
        (
            "/dashboard/settings",
            "Settings",
            Permission::ManageSettings,
        ),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                div class="shell" {
                    nav class="side" aria-label="Dashboard" {
                        div class="brand" { "paylink" }
                        @for (href, label, perm) in nav {
                            @if ctx.can(perm) {
                                a href=(href) class=[(active == href).then_some("on")] { (label) }
                            }
                        }
                        div class="who" {
                            (ctx.user.email) br; (ctx.account_name) " · " (ctx.role.as_str())
                        }
                        @if ctx.memberships.len() > 1 {
                            form method="post" action="/dashboard/account" {
                                (csrf(ctx))
                                select name="account_id" aria-label="Account" {
                                    @for m in &ctx.memberships {
                                        option value=(m.account_id) selected[m.account_id == ctx.scope.account_id] { (m.account_name) }
                                    }
                                }
                                button class="plain" type="submit" { "Switch" }
                            }
                        }
                        p {
                            form method="post" action="/dashboard/mode" {
                                (csrf(ctx))
                                input type="hidden" name="live" value=(if ctx.scope.livemode { "false" } else { "true" });
                                button class="plain" type="submit" {
                                    @if ctx.scope.livemode { "Switch to test data" } @else { "Switch to live data" }
                                }
                            }
                        }
                        form method="post" action="/logout" {
                            (csrf(ctx))
                            button class="plain" type="submit" { "Sign out" }
                        }
                    }
                    main {
                        div class="top" {
                            h1 { (title) }
                            @if !ctx.scope.livemode { span class="badge test" { "TEST DATA" } }
                        }
                        (body)
                    }
                }
            }
        }
    }
    .into_string()
}

pub struct LoginView {
    pub email: String,
    pub error: Option<String>,
    pub notice: Option<String>,
}

pub fn login(v: &LoginView) -> String {
    bare(
        "Sign in",
        html! {
            h1 { "Sign in to paylink" }
            @if let Some(n) = &v.notice { div class="okay" role="status" { (n) } }
            @if let Some(e) = &v.error { div class="alert" role="alert" { (e) } }
            form method="post" action="/login" {
                label for="email" { "Email" }
                input id="email" name="email" type="email" autocomplete="username" required value=(v.email);
                label for="password" { "Password" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                p { button type="submit" { "Continue" } }
            }
        },
    )
}

pub fn mfa(csrf: &str, error: Option<&str>) -> String {
    bare(
        "Two-step verification",
        html! {
            h1 { "Two-step verification" }
            p class="muted" { "Enter the 6-digit code from your authenticator app, or one of your recovery codes." }
            @if let Some(e) = error { div class="alert" role="alert" { (e) } }
            form method="post" action="/login/2fa" {
                input type="hidden" name="csrf" value=(csrf);
                label for="code" { "Code" }
                input id="code" name="code" autocomplete="one-time-code" inputmode="text" required autofocus;
                p { button type="submit" { "Verify" } }
            }
        },
    )
}

pub fn setup(error: Option<(&str, String)>) -> String {
    setup_under(html! { h1 { "Set your password" } }, error)
}

/// The password form under another heading (an invitation's).
pub fn setup_under(heading: Markup, error: Option<(&str, String)>) -> String {
    let err = |name: &str| {
        error
            .as_ref()
            .filter(|(n, _)| *n == name)
            .map(|(_, m)| m.clone())
    };
    bare(
        "Set your password",
        html! {
            (heading)
            p class="muted" { "12 to 128 characters. Any characters, spaces too; a long phrase is best. Common leaked passwords are refused." }
            form method="post" {
                label for="password" { "New password" }
                input id="password" name="password" type="password" autocomplete="new-password" required aria-invalid=[err("password").map(|_| "true")];
                @if let Some(m) = err("password") { div class="err" id="password-error" role="alert" { (m) } }
                label for="password_confirmation" { "Repeat it" }
                input id="password_confirmation" name="password_confirmation" type="password" autocomplete="new-password" required aria-invalid=[err("password_confirmation").map(|_| "true")];
                @if let Some(m) = err("password_confirmation") { div class="err" id="password_confirmation-error" role="alert" { (m) } }
                p { button type="submit" { "Continue" } }
            }
        },
    )
}

pub fn enrol(csrf: &str, seed_b32: &str, email: &str, error: Option<&str>) -> String {
    bare(
        "Set up two-step verification",
        html! {
            h1 { "Set up two-step verification" }
            p { "Every paylink user signs in with a code from an authenticator app. Scan this code with the app (or type the key), then enter the 6-digit code it shows." }
            img src="/setup/2fa/qr.svg" alt="QR code to add paylink to an authenticator app" width="200" height="200";
            p { "Key for " (email) ":" }
            p class="mono" id="totp-secret" { (seed_b32) }
            @if let Some(e) = error { div class="alert" role="alert" { (e) } }
            form method="post" action="/setup/2fa" {
                input type="hidden" name="csrf" value=(csrf);
                label for="code" { "Code from the app" }
                input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" required;
                p { button type="submit" { "Turn on" } }
            }
        },
    )
}

pub fn recovery_codes(codes: &[Secret<String>], next: &str) -> String {
    bare(
        "Recovery codes",
        html! {
            h1 { "Save your recovery codes" }
            p { "Each code signs you in once if you lose your phone. They are shown only now: store them somewhere safe." }
            ul class="codes" id="recovery-codes" {
                @for c in codes { li { (c.expose()) } }
            }
            p { a href=(next) { "I have saved them — continue" } }
        },
    )
}

/// A bar chart (inline SVG, no script) of `values` per day, with labels.
pub fn bar_chart(label: &str, days: &[(String, i64)], fmt: &dyn Fn(i64) -> String) -> Markup {
    let w = 720.0_f64;
    let h = 160.0_f64;
    let n = days.len().max(1) as f64;
    let max = days.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let bw = w / n;
    let first = days.first().map(|d| d.0.as_str()).unwrap_or("");
    let last = days.last().map(|d| d.0.as_str()).unwrap_or("");
    html! {
        figure {
            svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (w) " " (h + 24.0) } width="100%" role="img" aria-label=(label) {
                title { (label) }
                line x1="0" y1=(h) x2=(w) y2=(h) stroke="#d1d5db" {}
                @for (i, (day, v)) in days.iter().enumerate() {
                    @let bh = (*v as f64) / max * (h - 10.0);
                    rect x=(format!("{:.1}", i as f64 * bw + 2.0)) y=(format!("{:.1}", h - bh)) width=(format!("{:.1}", (bw - 4.0).max(1.0))) height=(format!("{:.1}", bh)) fill="#6366f1" {
                        title { (day) ": " (fmt(*v)) }
                    }
                }
                text x="0" y=(h + 18.0) font-size="11" fill="#6b7280" { (first) }
                text x=(w) y=(h + 18.0) font-size="11" fill="#6b7280" text-anchor="end" { (last) }
            }
            figcaption class="muted" { (label) ", peak " (fmt(max as i64)) }
        }
    }
}

/// Older / newer links of a cursor-paginated list.
pub fn pager(base: &str, q: &str, next: Option<&str>, prev: Option<&str>) -> Markup {
    let qs = if q.is_empty() {
        String::new()
    } else {
        format!(
            "&q={}",
            form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        )
    };
    html! {
        div class="pager" {
            @if let Some(p) = prev { a href={ (base) "?ending_before=" (p) (qs) } { "← Newer" } }
            @if let Some(n) = next { a href={ (base) "?starting_after=" (n) (qs) } { "Older →" } }
        }
    }
}

pub fn search_box(action: &str, q: &str, placeholder: &str) -> Markup {
    html! {
        form method="get" action=(action) class="row" role="search" {
            div { input name="q" type="search" value=(q) placeholder=(placeholder) aria-label="Search"; }
            div { button class="plain" type="submit" { "Search" } }
        }
    }
}
