use std::fmt;

/// What can go wrong in the store. Database causes are kept for the log and
/// never shown to a client.
#[derive(thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write (e.g. a duplicate code).
    #[error("conflict")]
    Conflict,
    /// The change would leave an account without an owner.
    #[error("an account needs at least one owner")]
    LastOwner,
    /// A stored row can't be read back (a value outside its type).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// A sealed value can't be sealed or opened: damaged, or under a data
    /// key that is not loaded.
    #[error("encrypted data: {0}")]
    Crypto(String),
    /// A provider's confirmation is not for what the checkout session
    /// asked (another amount or currency): refused, never recorded.
    #[error("payment {payment} does not match session {session}")]
    AmountMismatch { payment: String, session: String },
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The database can't take the request now (no connection within the
    /// pool's wait, the server gone, SQLite busy or its disk full): worth a
    /// retry later, so a 503 with `Retry-After`, never a 500.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The idempotency claim this request held was taken over by a retry
    /// (its lease ran out): its work was rolled back.
    #[error("idempotency claim lost")]
    ClaimLost,
    #[error("migration error: {0}")]
    Migration(String),
    /// A pagination cursor that names no object of the list.
    #[error("invalid cursor for {0}")]
    InvalidCursor(&'static str),
    /// A domain rule refused the change.
    #[error("{0}")]
    Rule(#[from] paylink_domain::catalog::RuleError),
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                // PostgreSQL 23505; SQLite 2067 (UNIQUE) and 1555 (PRIMARY KEY).
                if db.is_unique_violation() || matches!(code.as_str(), "23505" | "2067" | "1555") {
                    StoreError::Conflict
                } else if is_transient(&code) {
                    StoreError::Unavailable(e)
                } else {
                    StoreError::Database(e)
                }
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e),
            _ => StoreError::Database(e),
        }
    }
}

/// Database error codes that say "not now" rather than "never".
/// PostgreSQL's SQLSTATEs are five characters: connection exceptions
/// (08…), operator intervention such as a shutdown (57P…), insufficient
/// resources (53…) and serialization failures (40001, 40P01). SQLite's are
/// numbers below 10,000: BUSY (5), IOERR (10) and FULL (13), with their
/// extended codes (the low byte is the primary code).
fn is_transient(code: &str) -> bool {
    if code.len() == 5 {
        return code.starts_with("08")
            || code.starts_with("57P")
            || code.starts_with("53")
            || code == "40001"
            || code == "40P01";
    }
    code.parse::<u32>()
        .is_ok_and(|n| matches!(n & 0xff, 5 | 10 | 13))
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::is_transient;

    #[test]
    fn transient_codes_of_both_databases() {
        for code in [
            "5", "517", "13", "10", "3338", "08006", "57P01", "53100", "40001", "40P01",
        ] {
            assert!(is_transient(code), "{code}");
        }
        for code in [
            "2067", "1555", "19", "1", "23505", "22021", "22026", "42P01", "XX000",
        ] {
            assert!(!is_transient(code), "{code}");
        }
    }
}
