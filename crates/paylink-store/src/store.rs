//! The store: the database with the vault that seals and opens personal
//! data. Every repository function is a method of [`Store`]; the database's
//! own functions (transactions, dialect differences, migrations) are
//! [`Database`]'s, reached through `Deref`.

use std::sync::Arc;

use crate::db::Database;
use crate::vault::Vault;

/// The database behind every repository function, with its vault: a
/// `Store` can always seal and open the fields it stores encrypted.
#[derive(Clone)]
pub struct Store {
    db: Database,
    pub(crate) vault: Arc<Vault>,
}

impl Store {
    /// Made by [`Database::with_vault`], which also makes missing keys.
    pub(crate) fn new(db: Database, vault: Arc<Vault>) -> Self {
        Store { db, vault }
    }

    /// The database alone.
    pub fn database(&self) -> &Database {
        &self.db
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
