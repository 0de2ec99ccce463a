//! Data at scale in a served instance's SQLite database: copies of rows
//! the product made itself (a payment link with its line item, an API key,
//! a completed checkout session and its payment), each copy with ids,
//! hashes and provider references of its own and, for payments, a
//! creation time spread over the last 29 days (the overview's window).
//!
//! The copies are written by one `INSERT … SELECT` per table in one
//! transaction, beside the running server (WAL lets it go on reading),
//! and the overview's daily totals are recounted from the payments in it.
//! A copied session keeps its source's buyer fields cleared and its
//! sealed custom fields as they were, sealed under the source's id: the
//! figures never open a copied session one by one (they read pages, keys,
//! payment totals), and a copied API key's hash matches no key.

use sqlx::{Connection, Executor, Row};

use super::Error;

/// How much data there is.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Amount {
    pub links: u64,
    pub payments: u64,
    pub keys: u64,
}

/// What is in the database now (links, succeeded payments, keys).
pub async fn count(db: &std::path::Path) -> Result<Amount, Error> {
    let mut conn = connect(db).await?;
    Ok(Amount {
        links: scalar(&mut conn, "SELECT COUNT(*) FROM payment_links").await?,
        payments: scalar(
            &mut conn,
            "SELECT COUNT(*) FROM payment_intents WHERE status = 'succeeded'",
        )
        .await?,
        keys: scalar(&mut conn, "SELECT COUNT(*) FROM api_keys").await?,
    })
}

async fn scalar(conn: &mut sqlx::AnyConnection, sql: &str) -> Result<u64, Error> {
    let v: i64 = sqlx::query(sql).fetch_one(conn).await?.try_get(0)?;
    Ok(u64::try_from(v)?)
}

async fn connect(db: &std::path::Path) -> Result<sqlx::AnyConnection, Error> {
    sqlx::any::install_default_drivers();
    let mut conn =
        sqlx::AnyConnection::connect(&format!("sqlite://{}?mode=rw", db.display())).await?;
    // The same durability as the server's own connections.
    conn.execute("PRAGMA busy_timeout = 10000").await?;
    conn.execute("PRAGMA synchronous = FULL").await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    Ok(conn)
}

/// A column replaced by an SQL expression over the source row and `i`
/// (the copy's number, 1 and up).
type Override = (&'static str, &'static str);

/// Copies `link` (with its items), the API key `key` (its id) and the
/// completed session `session` (with its payment) until there are
/// `target` of each in all: only the difference to what is there is added.
pub async fn grow_to(
    db: &std::path::Path,
    link: &str,
    key: &str,
    session: &str,
    target: Amount,
) -> Result<(), Error> {
    let have = count(db).await?;
    let mut conn = connect(db).await?;
    conn.execute("BEGIN IMMEDIATE").await?;
    // A run number keeps each growth's ids apart from the last one's.
    let run = format!("x{}", have.links + have.payments + have.keys);
    let links = target.links.saturating_sub(have.links);
    let suffix = "id || :run || '_' || i";
    let copies: [(&str, &str, u64, &[Override]); 5] = [
        (
            "payment_links",
            "id = :src",
            links,
            &[("id", suffix), ("slug", "slug || :run || '_' || i")],
        ),
        (
            "payment_link_items",
            "link_id = :src",
            links,
            &[("link_id", "link_id || :run || '_' || i"), ("id", suffix)],
        ),
        (
            "api_keys",
            "id = :src",
            target.keys.saturating_sub(have.keys),
            &[("id", suffix), ("key_hash", "key_hash || :run || '_' || i")],
        ),
        (
            "checkout_sessions",
            "id = :src",
            target.payments.saturating_sub(have.payments),
            &[
                ("id", suffix),
                ("created", "created - (i * 7919) % 2505600"),
                ("customer_email", "NULL"),
                ("customer_name", "NULL"),
                ("customer_phone", "NULL"),
                ("customer_address", "NULL"),
                ("customer_id", "NULL"),
                ("payment_intent_id", "payment_intent_id || :run || '_' || i"),
                ("provider_ref", "provider_ref || :run || '_' || i"),
            ],
        ),
        (
            "payment_intents",
            "checkout_session_id = :src",
            target.payments.saturating_sub(have.payments),
            &[
                ("id", suffix),
                ("created", "created - (i * 7919) % 2505600"),
                ("customer_id", "NULL"),
                (
                    "checkout_session_id",
                    "checkout_session_id || :run || '_' || i",
                ),
                ("provider_ref", "provider_ref || :run || '_' || i"),
            ],
        ),
    ];
    for (table, source, n, overrides) in copies {
        if n == 0 {
            continue;
        }
        let src = match table {
            "api_keys" => key,
            "checkout_sessions" | "payment_intents" => session,
            _ => link,
        };
        let cols: Vec<String> = sqlx::query(&format!("PRAGMA table_info({table})"))
            .fetch_all(&mut conn)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("name"))
            .collect::<Result<_, _>>()?;
        let cols: Vec<String> = cols.into_iter().filter(|c| c != "seq").collect();
        let exprs: Vec<String> = cols
            .iter()
            .map(|c| {
                overrides
                    .iter()
                    .find(|(o, _)| o == c)
                    .map_or_else(|| c.clone(), |(_, e)| (*e).to_string())
            })
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({}) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) SELECT {} FROM {table}, n WHERE {source}",
            cols.join(", "),
            exprs.join(", ")
        )
        .replace(":run", &format!("'{run}'"))
        .replace(":src", &format!("'{}'", src.replace('\'', "''")));
        let done = sqlx::query(&sql).execute(&mut conn).await?.rows_affected();
        if done != n {
            conn.execute("ROLLBACK").await?;
            return Err(format!("seeding {table}: {done} rows copied, {n} wanted").into());
        }
    }
    // The overview's daily totals, recounted from the payments as the
    // migration that made them does.
    conn.execute("DELETE FROM payment_days").await?;
    conn.execute(
        "INSERT INTO payment_days (account_id, livemode, day, currency, payments, net) \
         SELECT account_id, livemode, created / 86400, currency, COUNT(*), SUM(amount - amount_refunded) \
         FROM payment_intents WHERE status = 'succeeded' \
         GROUP BY account_id, livemode, created / 86400, currency",
    )
    .await?;
    conn.execute("COMMIT").await?;
    Ok(())
}

/// Up to `n` ids of payment links, picked at random.
pub async fn link_ids(db: &std::path::Path, n: u64) -> Result<Vec<String>, Error> {
    let mut conn = connect(db).await?;
    let rows = sqlx::query(&format!(
        "SELECT id FROM payment_links WHERE active = 1 ORDER BY random() LIMIT {n}"
    ))
    .fetch_all(&mut conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get::<String, _>("id"))
        .collect::<Result<_, _>>()?)
}
