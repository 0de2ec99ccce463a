//! The store: the database with the vault that seals and opens personal
//! data. Every repository function is a method of [`Store`]; the database's
//! own functions (transactions, dialect differences, migrations) are
//! [`Database`]'s, reached through `Deref`.

use std::sync::Arc;

use crate::db::Database;
use crate::error::StoreError;
use crate::vault::Vault;

/// The database behind every repository function, with its vault: a
/// `Store` can always seal and open the fields it stores encrypted.
#[derive(Clone)]
pub struct Store {
    db: Database,
    pub(crate) vault: Arc<Vault>,
    /// Renders the objects events carry (see [`crate::events`]).
    pub(crate) render: Arc<dyn crate::events::Renderer>,
    /// Keys looked up in the last second (see
    /// [`crate::api_keys::KEY_CACHE_MILLIS`]).
    pub(crate) keys: Arc<crate::api_keys::KeyCache>,
}

impl Store {
    /// Made by [`Database::with_vault`], which also makes missing keys.
    pub(crate) fn new(db: Database, vault: Arc<Vault>) -> Self {
        Store {
            db,
            vault,
            render: Arc::new(crate::events::Bare),
            keys: Arc::default(),
        }
    }

    /// This store, writing its events' objects as `render` renders them
    /// (the API's renderer, which the server gives it at start).
    pub fn rendering(mut self, render: Arc<dyn crate::events::Renderer>) -> Self {
        self.render = render;
        self
    }
}

impl Database {
    /// This database as a [`Store`], able to seal and open encrypted fields
    /// with `vault`. Makes the data keys that are missing (the instance's,
    /// on first open), so that reading a key never writes.
    pub async fn with_vault(self, vault: Arc<Vault>) -> Result<Store, StoreError> {
        let store = Store::new(self, vault);
        let made = store.ensure_data_keys().await?;
        if made > 0 {
            tracing::info!(made, "data keys made for owners that had none");
        }
        Ok(store)
    }
}

impl std::ops::Deref for Store {
    type Target = Database;
    fn deref(&self) -> &Database {
        &self.db
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({:?})", self.db)
    }
}
