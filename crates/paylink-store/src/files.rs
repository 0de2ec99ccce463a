//! Uploaded product images: one row per version, the current one named by
//! the product. The bytes are in the object store (see `paylink-web`).

use sqlx::Row;

use crate::error::StoreError;
use crate::sql::{get_bool, Insert, Sql};
use crate::store::Store;
use crate::Scope;

/// A stored file version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub id: String,
    pub account_id: String,
    pub livemode: bool,
    pub product_id: String,
    pub version: i64,
    pub object_key: String,
    pub content_type: String,
    pub width: i64,
    pub height: i64,
    pub size: i64,
    pub created: i64,
    pub deleted_at: Option<i64>,
}

/// A new version to record.
pub struct NewFile<'a> {
    pub id: &'a str,
    pub product_id: &'a str,
    pub object_key: &'a str,
    pub content_type: &'a str,
    pub width: i64,
    pub height: i64,
    pub size: i64,
    pub now: i64,
}

const COLS: &str = "id, account_id, livemode, product_id, version, object_key, content_type, width, height, size, created, deleted_at";

fn file_of(r: &sqlx::any::AnyRow) -> Result<FileRecord, StoreError> {
    Ok(FileRecord {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        livemode: get_bool(r, "livemode")?,
        product_id: r.try_get("product_id")?,
        version: r.try_get("version")?,
        object_key: r.try_get("object_key")?,
        content_type: r.try_get("content_type")?,
        width: r.try_get("width")?,
        height: r.try_get("height")?,
        size: r.try_get("size")?,
        created: r.try_get("created")?,
        deleted_at: r.try_get("deleted_at")?,
    })
}

impl Store {
    /// Records a new image version for a product of `scope` and makes it
    /// the product's image; returns its version number.
    pub async fn add_product_image(
        &self,
        scope: &Scope,
        f: NewFile<'_>,
    ) -> Result<i64, StoreError> {
        self.get_product(scope, f.product_id).await?;
        let mut tx = self.write().await?;
        let mut sel = Sql::new("SELECT COALESCE(MAX(version), 0) AS v FROM files WHERE ");
        sel.scope(scope)
            .push(" AND product_id = ")
            .bind(f.product_id);
        let version: i64 = sel.fetch_row(tx.conn()).await?.try_get::<i64, _>("v")? + 1;
        let ins = Insert::new("files")
            .set("id", f.id)
            .set("account_id", scope.account_id.as_str())
            .set("livemode", scope.livemode)
            .set("product_id", f.product_id)
            .set("version", version)
            .set("object_key", f.object_key)
            .set("content_type", f.content_type)
            .set("width", f.width)
            .set("height", f.height)
            .set("size", f.size)
            .set("created", f.now)
            .sql();
        ins.query().execute(tx.conn()).await?;
        let mut up = Sql::new("UPDATE products SET image_file = ");
        up.bind(f.id).push(" WHERE ");
        up.scope(scope).push(" AND id = ").bind(f.product_id);
        up.query().execute(tx.conn()).await?;
        tx.commit().await?;
        self.pages_changed();
        Ok(version)
    }

    /// Every version of a product's image, newest first.
    pub async fn product_images(
        &self,
        scope: &Scope,
        product_id: &str,
    ) -> Result<Vec<FileRecord>, StoreError> {
        let mut sql = Sql::new(&format!("SELECT {COLS} FROM files WHERE "));
        sql.scope(scope)
            .push(" AND product_id = ")
            .bind(product_id)
            .push(" ORDER BY version DESC");
        sql.query()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(file_of)
            .collect()
    }

    /// The product's current image, if it has one.
    pub async fn current_product_image(
        &self,
        scope: &Scope,
        product_id: &str,
    ) -> Result<Option<FileRecord>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {COLS} FROM files WHERE deleted_at IS NULL AND id = (SELECT image_file FROM products WHERE "
        ));
        sql.scope(scope)
            .push(" AND id = ")
            .bind(product_id)
            .push(")");
        match sql.query().fetch_optional(&self.pool).await? {
            Some(r) => Ok(Some(file_of(&r)?)),
            None => Ok(None),
        }
    }

    /// Deletes the product's image: the current version is marked deleted
    /// (a tombstone; earlier versions stay as they were).
    pub async fn delete_product_image(
        &self,
        scope: &Scope,
        product_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let Some(cur) = self.current_product_image(scope, product_id).await? else {
            return Ok(false);
        };
        let mut tx = self.write().await?;
        let mut up = Sql::new("UPDATE files SET deleted_at = ");
        up.bind(now).push(" WHERE ");
        up.scope(scope).push(" AND id = ").bind(cur.id.as_str());
        up.query().execute(tx.conn()).await?;
        let mut p = Sql::new("UPDATE products SET image_file = NULL WHERE ");
        p.scope(scope).push(" AND id = ").bind(product_id);
        p.query().execute(tx.conn()).await?;
        tx.commit().await?;
        self.pages_changed();
        Ok(true)
    }

    /// A live (not deleted) file by id, for serving a signed URL.
    pub async fn live_file(&self, id: &str) -> Result<Option<FileRecord>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {COLS} FROM files WHERE deleted_at IS NULL AND id = "
        ));
        sql.bind(id);
        match sql.query().fetch_optional(&self.pool).await? {
            Some(r) => Ok(Some(file_of(&r)?)),
            None => Ok(None),
        }
    }
}
