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
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
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
                } else {
                    StoreError::Database(e)
                }
            }
            _ => StoreError::Database(e),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
