//! The dashboard's pages and actions, one module per page family. A
//! page reads the store through its typed functions as the session's
//! account and mode; an action builds the same typed command the `/v1`
//! API does and hands it to the [`crate::service`] layer, so both doors
//! check the same rules and multi-object actions are one transaction.
//! Handlers answer [`PageResult`]: a failure becomes an error page.

use std::str::FromStr;
use std::sync::Arc;

use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use paylink_domain::clock::format_utc;
use paylink_domain::locale::parse_major;
use paylink_domain::Currency;
use paylink_store::{ListQuery, Page, StoreError};
use serde::Deserialize;

pub use super::error::{fail, PageError, PageResult};
use super::pages::FormState;
use super::{Ctx, Form};
use crate::ApiError;

mod api_keys;
mod coupons;
mod customers;
mod links;
mod overview;
mod payments;
mod products;
mod security;
mod settings;
mod team;
mod webhooks;

pub use api_keys::*;
pub use coupons::*;
pub use customers::*;
pub use links::*;
pub use overview::*;
pub use payments::*;
pub use products::*;
pub use security::*;
pub use settings::*;
pub use team::*;
pub use webhooks::*;

/// The signed-in user, as every guarded handler receives it.
type C = Extension<Arc<Ctx>>;

fn form_of(f: Option<Extension<Form>>) -> Form {
    f.map(|Extension(f)| f).unwrap_or_default()
}

fn money(minor: i64, currency: &str) -> String {
    match Currency::from_str(&currency.to_ascii_uppercase()) {
        Ok(c) => paylink_domain::locale::format(minor, c, paylink_domain::locale::style_for("en")),
        Err(_) => format!("{minor} {currency}"),
    }
}

fn enc(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// Masks an email for roles that may not see personal data.
fn mask_email(ctx: &Ctx, email: &str) -> String {
    if ctx.role.sees_personal_data() || email.is_empty() {
        return email.to_string();
    }
    match email.split_once('@') {
        Some((l, d)) => format!("{}***@{d}", l.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

#[derive(Deserialize, Default)]
pub struct ListQ {
    #[serde(default)]
    q: String,
    #[serde(default)]
    starting_after: Option<String>,
    #[serde(default)]
    ending_before: Option<String>,
}

const PAGE: usize = 20;
/// A search looks through at most this many of the newest objects.
const SEARCH_DEPTH: usize = 1000;

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// One page of a list: objects, and the cursors for older and newer.
pub(super) struct Listed<T> {
    pub data: Vec<T>,
    pub next: Option<String>,
    pub prev: Option<String>,
}

impl<T> Listed<T> {
    pub fn empty() -> Self {
        Listed {
            data: Vec::new(),
            next: None,
            prev: None,
        }
    }
}

/// An object a dashboard list shows, by its id (the paging cursor).
pub(super) trait Listable {
    fn id(&self) -> &str;
}

/// Lists objects a page at a time through `fetch`, or, with a search term,
/// the newest ones (at most [`SEARCH_DEPTH`] looked at) whose `text`
/// contains it, case-insensitively. Each page family says what its `text`
/// holds: only fields the viewer's role may see (finding 8 of the security
/// review: an analyst recovered masked emails by searching whole objects).
// Long: the one list view every page shares: paging, search and the table
// together.
pub(super) async fn list_of<T, F, Fut>(
    q: &ListQ,
    fetch: F,
    text: impl Fn(&T) -> String,
) -> Result<Listed<T>, ApiError>
where
    T: Listable,
    F: Fn(ListQuery) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, StoreError>>,
{
    let term = q.q.trim().to_lowercase();
    if !term.is_empty() {
        let mut found = Vec::new();
        let mut after: Option<String> = None;
        let mut seen = 0;
        loop {
            let page = fetch(ListQuery {
                limit: 100,
                starting_after: after.clone(),
                ending_before: None,
                ..Default::default()
            })
            .await?;
            seen += page.data.len();
            after = page.data.last().map(|o| o.id().to_string());
            for o in page.data {
                if found.len() < PAGE * 5 && text(&o).to_lowercase().contains(&term) {
                    found.push(o);
                }
            }
            if !page.has_more || seen >= SEARCH_DEPTH || after.is_none() {
                break;
            }
        }
        return Ok(Listed {
            data: found,
            next: None,
            prev: None,
        });
    }
    let backwards = q.starting_after.is_none() && q.ending_before.is_some();
    let page = fetch(ListQuery {
        limit: PAGE as i64,
        starting_after: q.starting_after.clone(),
        ending_before: if backwards {
            q.ending_before.clone()
        } else {
            None
        },
        ..Default::default()
    })
    .await?;
    let first = page.data.first().map(|o| o.id().to_string());
    let last = page.data.last().map(|o| o.id().to_string());
    let more = page.has_more;
    let (next, prev) = if backwards {
        (last, if more { first } else { None })
    } else {
        (
            if more { last } else { None },
            if q.starting_after.is_some() {
                first
            } else {
                None
            },
        )
    };
    Ok(Listed {
        data: page.data,
        next,
        prev,
    })
}

/// Shows a refused command beside the form field its parameter came from
/// (`map`: parameter → field), or above the form (`fallback` empty); a
/// server failure is the error page instead.
pub(super) fn show_refusal(
    f: &mut FormState,
    e: ApiError,
    map: &[(&str, &str)],
    fallback: &str,
) -> Result<(), PageError> {
    if e.status().is_server_error() {
        return Err(e.into());
    }
    let name = e
        .param()
        .and_then(|p| {
            map.iter()
                .find(|(api, _)| *api == p)
                .map(|(_, field)| *field)
        })
        .unwrap_or(fallback);
    if name.is_empty() {
        f.alert = Some(e.message().to_string());
    } else {
        f.errors.insert(name.to_string(), e.message().to_string());
    }
    Ok(())
}

/// A sensitive action confirmed by a fresh code from the member's
/// authenticator app (typed in `form`'s `code`): `Ok(None)` when the code
/// passed (it is then used up); otherwise the message for the form (`ask`,
/// or that the code step is locked), the refusal audited as `refused` on
/// `target`.
pub(super) async fn step_up(
    state: &crate::AppState,
    ctx: &Ctx,
    form: &Form,
    refused: &str,
    target: &str,
    ask: &'static str,
) -> Result<Option<&'static str>, PageError> {
    let (passed, locked) =
        super::login::checked_second_factor(state, &ctx.user.id, &ctx.ip, form.get("code"), true)
            .await?;
    if passed.is_some() {
        state.store.code_passed(&ctx.user.id).await?;
        return Ok(None);
    }
    ctx.audit(
        state,
        refused,
        Some(target),
        serde_json::json!({"reason": "second_factor", "locked": locked}),
    )
    .await;
    Ok(Some(if locked {
        "Too many wrong codes: the code step is locked for a while."
    } else {
        ask
    }))
}

/// A date and time, as the dashboard shows them.
pub(super) fn date_of(unix: i64) -> String {
    format_utc(unix)
}

/// A whole number typed in a form, within `min..=max`.
pub(super) fn whole_number(s: &str, min: i64, max: i64) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok().filter(|n| (min..=max).contains(n))
}

/// An amount in major units (`19.90`) and its currency from a form, in
/// the currency's minor unit; an error beside the field otherwise.
pub(super) fn minor_amount(
    form: &Form,
    f: &mut FormState,
    amount_field: &str,
    currency_field: &str,
) -> Option<(String, i64)> {
    let code = form.get(currency_field).trim().to_ascii_lowercase();
    let Ok(c) = Currency::from_str(&code.to_ascii_uppercase()) else {
        f.errors.insert(
            currency_field.into(),
            "Enter a three-letter currency code such as eur or usd.".into(),
        );
        return None;
    };
    match parse_major(form.get(amount_field), c) {
        Some(minor) if minor > 0 => Some((code, minor)),
        _ => {
            f.errors.insert(
                amount_field.into(),
                format!(
                    "Enter an amount such as 19.90 (at most {} decimals).",
                    c.exponent()
                ),
            );
            None
        }
    }
}

/// An amount in major units typed in a form, in `currency`'s minor unit
/// (at least 1).
pub(super) fn minor_amount_in(form: &Form, field: &str, currency: Currency) -> Option<i64> {
    parse_major(form.get(field), currency).filter(|a| *a > 0)
}
