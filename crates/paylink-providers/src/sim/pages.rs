//! The sim's hosted pages: the card form (errors beside the fields) and the
//! 3-D Secure challenge, each with a CSP that lets its form post only to
//! the sim and redirect only to the merchant's return page.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use paylink_domain::Currency;

use super::{CreatePayment, SimPayment};

pub(super) const CSS: &str = "body{font-family:system-ui,sans-serif;background:#f3f4f6;margin:0;color:#111827}\
main{max-width:26rem;margin:3rem auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 1px 3px rgba(0,0,0,.1)}\
h1{font-size:1.1rem;margin:0 0 .25rem}.amount{font-size:1.8rem;font-weight:600;margin:.25rem 0 1.5rem}\
label{display:block;font-size:.85rem;margin:.75rem 0 .25rem;color:#374151}\
input{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #d1d5db;border-radius:6px;font-size:1rem}\
input[aria-invalid=true]{border-color:#dc2626}.row{display:flex;gap:.75rem}.row>div{flex:1}\
.err{color:#dc2626;font-size:.8rem;margin-top:.25rem}.alert{background:#fef2f2;color:#991b1b;padding:.75rem;border-radius:6px;margin-bottom:1rem}\
button{width:100%;margin-top:1.25rem;padding:.75rem;border:0;border-radius:6px;background:#111827;color:#fff;font-size:1rem;cursor:pointer}\
button.secondary{background:#e5e7eb;color:#111827}.badge{display:inline-block;background:#fef3c7;color:#92400e;font-size:.7rem;padding:.1rem .4rem;border-radius:4px}\
.muted{color:#6b7280;font-size:.8rem}a{color:#4f46e5}";

/// The origin (`scheme://host:port`) of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    url.get(..end).unwrap_or(url)
}

/// A sim page. `return_to` is where the buyer is sent after a form post:
/// its origin joins `form-action`, since browsers check redirects that
/// follow a form submission against it.
fn page(title: &str, return_to: Option<&str>, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href="/assets/sim.css";
            }
            body { main { (body) } }
        }
    };
    let mut resp = Html(markup.into_string()).into_response();
    let h = resp.headers_mut();
    let targets = return_to
        .map(origin_of)
        .filter(|o| o.starts_with("http://") || o.starts_with("https://"))
        .unwrap_or("");
    let csp = format!("default-src 'none'; style-src 'self'; form-action 'self' {targets}; frame-ancestors 'none'; base-uri 'none'");
    if let Ok(v) = HeaderValue::from_str(csp.trim()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

pub(super) fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        page(
            "Not found",
            None,
            html! { h1 { "This payment page does not exist." } },
        ),
    )
        .into_response()
}

fn amount_text(p: &CreatePayment) -> String {
    p.currency
        .parse::<Currency>()
        .map(|c| c.format(p.amount))
        .unwrap_or_else(|_| format!("{} {}", p.amount, p.currency))
}

/// Errors of the card form, by field.
#[derive(Default)]
pub(super) struct FormErrors {
    pub(super) alert: Option<String>,
    pub(super) number: Option<String>,
    pub(super) exp: Option<String>,
    pub(super) cvc: Option<String>,
    pub(super) name: Option<String>,
}

pub(super) fn card_page(p: &SimPayment, errors: &FormErrors, name: &str, exp: &str) -> Response {
    let field_err =
        |e: &Option<String>| html! { @if let Some(m) = e { div class="err" role="alert" { (m) } } };
    page(
        "Pay — sim",
        Some(&p.req.return_url),
        html! {
            span class="badge" { "TEST MODE · sim provider" }
            h1 { "Pay " (p.req.merchant_name) }
            p class="muted" { (p.req.description) }
            div class="amount" { (amount_text(&p.req)) }
            @if let Some(a) = &errors.alert { div class="alert" role="alert" { (a) } }
            form method="post" action={ "/pay/" (p.id) } novalidate {
                label for="number" { "Card number" }
                input id="number" name="number" autocomplete="cc-number" inputmode="numeric" placeholder="4242 4242 4242 4242" aria-invalid=(errors.number.is_some()) required;
                (field_err(&errors.number))
                div class="row" {
                    div {
                        label for="exp" { "Expiry (MM / YY)" }
                        input id="exp" name="exp" autocomplete="cc-exp" inputmode="numeric" placeholder="MM / YY" value=(exp) aria-invalid=(errors.exp.is_some()) required;
                        (field_err(&errors.exp))
                    }
                    div {
                        label for="cvc" { "CVC" }
                        input id="cvc" name="cvc" autocomplete="cc-csc" inputmode="numeric" placeholder="123" aria-invalid=(errors.cvc.is_some()) required;
                        (field_err(&errors.cvc))
                    }
                }
                label for="cc-name" { "Name on card" }
                input id="cc-name" name="name" autocomplete="cc-name" value=(name) aria-invalid=(errors.name.is_some()) required;
                (field_err(&errors.name))
                button id="pay" type="submit" { "Pay " (amount_text(&p.req)) }
            }
            p class="muted" { a href=(p.req.cancel_url) { "Cancel and return" } }
            p class="muted" { "Test cards: 4242 4242 4242 4242 succeeds · 4000 0000 0000 0002 is declined · 4000 0000 0000 9995 has insufficient funds · 4000 0025 0000 3155 asks for 3-D Secure." }
        },
    )
}

/// The 3-D Secure challenge for `p`, paid with the card ending in `last4`.
pub(super) fn challenge_page(p: &SimPayment, last4: &str) -> Response {
    page(
        "3-D Secure — sim",
        Some(&p.req.return_url),
        html! {
            span class="badge" { "TEST MODE · 3-D Secure" }
            h1 { "Confirm this payment" }
            p { "Your bank asks you to confirm the payment of " strong { (amount_text(&p.req)) } " to " (p.req.merchant_name) " with the card ending in " (last4) "." }
            form method="post" action={ "/3ds/" (p.id) } {
                input type="hidden" name="action" value="approve";
                button id="approve" type="submit" { "Complete authentication" }
            }
            form method="post" action={ "/3ds/" (p.id) } {
                input type="hidden" name="action" value="fail";
                button id="fail" class="secondary" type="submit" { "Fail authentication" }
            }
        },
    )
}

pub(super) fn parse_exp(s: &str) -> Option<(u32, u32)> {
    let cleaned: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let (m, y) = cleaned.split_once('/')?;
    let m: u32 = m.parse().ok()?;
    let y: u32 = match y.len() {
        2 => 2000 + y.parse::<u32>().ok()?,
        4 => y.parse().ok()?,
        _ => return None,
    };
    Some((m, y))
}

#[cfg(test)]
mod tests {
    use super::{origin_of, parse_exp};

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("http://127.0.0.1:8080/checkout/cs_1"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(origin_of("https://pay.example"), "https://pay.example");
    }

    #[test]
    fn expiry_formats() {
        assert_eq!(parse_exp("12 / 30"), Some((12, 2030)));
        assert_eq!(parse_exp("1/2031"), Some((1, 2031)));
        assert_eq!(parse_exp("12"), None);
        assert_eq!(parse_exp("ab/cd"), None);
    }
}
