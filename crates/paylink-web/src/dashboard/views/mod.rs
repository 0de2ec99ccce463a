//! The dashboard's pages and actions. Each handler reads or changes data
//! through the in-process `/v1` API ([`super::call_api`]) as the session's
//! account and mode, or, for what the API does not cover (team, sessions,
//! security settings), through one store function.

// Indexing a serde_json::Value by key yields Null when absent; it never panics.
#![allow(clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::html;
use paylink_crypto::{password, Secret};
use paylink_domain::clock::format_utc;
use paylink_domain::locale::parse_major;
use paylink_domain::net::Cidr;
use paylink_domain::roles::{Permission, Role};
use paylink_domain::{Currency, Email};
use paylink_store::users::Stage;
use paylink_store::StoreError;
use serde::Deserialize;
use serde_json::Value;

use super::error::{PageError, PageResult};
use super::login::{hash_on_pool, new_recovery_codes, start_session, PRODUCT};
use super::pages::{self, button, csrf, field, layout, FormState};
use super::{call_api, call_api_raw, ApiAnswer, Ctx, Form, InternalApi};
use crate::{ApiError, AppState};
use paylink_store::{ListQuery, Page};

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

type C = Extension<Arc<Ctx>>;
type A = Extension<InternalApi>;

pub use super::error::fail;

fn store_fail(e: StoreError) -> Response {
    fail(e.into())
}

fn form_of(f: Option<Extension<Form>>) -> Form {
    f.map(|Extension(f)| f).unwrap_or_default()
}

fn money(minor: i64, currency: &str) -> String {
    match Currency::from_str(&currency.to_ascii_uppercase()) {
        Ok(c) => paylink_domain::locale::format(minor, c, paylink_domain::locale::style_for("en")),
        Err(_) => format!("{minor} {currency}"),
    }
}

fn date(v: &Value) -> String {
    v.as_i64().map(format_utc).unwrap_or_default()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn enc(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// Builds a form body from pairs.
fn body(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish().into_bytes()
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

/// One page of a list: objects, and the cursors for older and newer.
struct ListedJson {
    data: Vec<Value>,
    next: Option<String>,
    prev: Option<String>,
}

const PAGE: usize = 20;
/// A search looks through at most this many of the newest objects.
const SEARCH_DEPTH: usize = 1000;

/// Fields that hold a buyer's personal data, wherever they appear.
const PERSONAL: [&str; 8] = [
    "email",
    "name",
    "phone",
    "address",
    "customer_details",
    "customer_email",
    "receipt_email",
    "custom_fields",
];

/// The text a search matches in `o`: the whole object for roles that see
/// personal data, and for the others the object without it (finding 8 of
/// the security review: an analyst recovered masked emails by searching).
fn searchable(ctx: &Ctx, o: &Value) -> String {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for k in PERSONAL {
                    m.remove(k);
                }
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    if ctx.role.sees_personal_data() {
        return o.to_string().to_lowercase();
    }
    let mut c = o.clone();
    strip(&mut c);
    c.to_string().to_lowercase()
}

/// Lists `path` a page at a time, or, with a search term, the newest
/// objects whose text contains it (case-insensitively).
async fn list(
    api: &InternalApi,
    ctx: &Ctx,
    path: &str,
    extra: &str,
    q: &ListQ,
) -> Result<ListedJson, ApiError> {
    let sep = |p: &str| if p.contains('?') { '&' } else { '?' };
    let base = format!(
        "{path}{}",
        if extra.is_empty() {
            String::new()
        } else {
            format!("?{extra}")
        }
    );
    let term = q.q.trim().to_lowercase();
    if !term.is_empty() {
        let mut found = Vec::new();
        let mut after: Option<String> = None;
        let mut seen = 0;
        loop {
            let url = match &after {
                Some(a) => format!("{base}{}limit=100&starting_after={}", sep(&base), enc(a)),
                None => format!("{base}{}limit=100", sep(&base)),
            };
            let a = expect_ok(call_api(api, ctx, Method::GET, &url, None).await?)?;
            let data = a.body["data"].as_array().cloned().unwrap_or_default();
            seen += data.len();
            after = data
                .last()
                .and_then(|o| o["id"].as_str())
                .map(str::to_string);
            for o in data {
                if found.len() < PAGE * 5 && searchable(ctx, &o).contains(&term) {
                    found.push(o);
                }
            }
            if !a.body["has_more"].as_bool().unwrap_or(false)
                || seen >= SEARCH_DEPTH
                || after.is_none()
            {
                break;
            }
        }
        return Ok(ListedJson {
            data: found,
            next: None,
            prev: None,
        });
    }
    let mut url = format!("{base}{}limit={PAGE}", sep(&base));
    if let Some(a) = &q.starting_after {
        url.push_str(&format!("&starting_after={}", enc(a)));
    } else if let Some(b) = &q.ending_before {
        url.push_str(&format!("&ending_before={}", enc(b)));
    }
    let a = expect_ok(call_api(api, ctx, Method::GET, &url, None).await?)?;
    let data = a.body["data"].as_array().cloned().unwrap_or_default();
    let more = a.body["has_more"].as_bool().unwrap_or(false);
    let first = data
        .first()
        .and_then(|o| o["id"].as_str())
        .map(str::to_string);
    let last = data
        .last()
        .and_then(|o| o["id"].as_str())
        .map(str::to_string);
    let (next, prev) = if q.ending_before.is_some() {
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
    Ok(ListedJson { data, next, prev })
}

/// An API answer that must be a success (a 4xx becomes the error page).
fn expect_ok(a: ApiAnswer) -> Result<ApiAnswer, ApiError> {
    if a.ok() {
        return Ok(a);
    }
    let (m, p) = a.error();
    if a.status == StatusCode::NOT_FOUND {
        return Err(ApiError::no_such("object", "", None));
    }
    Err(ApiError::invalid(p, m))
}

async fn get_obj(api: &InternalApi, ctx: &Ctx, path: &str) -> Result<Value, Response> {
    match call_api(api, ctx, Method::GET, path, None).await {
        Ok(a) if a.ok() => Ok(a.body),
        Ok(a) if a.status == StatusCode::NOT_FOUND => Err(super::refusal(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such object in this account and mode.",
        )),
        Ok(a) => Err(fail(ApiError::invalid(a.error().1, a.error().0))),
        Err(e) => Err(fail(e)),
    }
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Maps an API error's `param` onto the form field it came from.
fn field_error(f: &mut FormState, a: &ApiAnswer, map: &[(&str, &str)], fallback: &str) {
    let (msg, param) = a.error();
    let name = param
        .as_deref()
        .and_then(|p| {
            map.iter()
                .find(|(api, _)| *api == p)
                .map(|(_, field)| *field)
        })
        .unwrap_or(fallback);
    if name.is_empty() {
        f.alert = Some(msg);
    } else {
        f.errors.insert(name.to_string(), msg);
    }
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
