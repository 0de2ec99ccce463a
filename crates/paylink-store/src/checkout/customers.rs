//! Customers: their personal fields sealed under the account's data key;
//! updates, deletion and erasure on request.

use paylink_domain::checkout::{email_key, Address, Customer};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::catalog::metadata_of;
use crate::db::Table;
use crate::error::StoreError;
use crate::list::{ListQuery, Page};
use crate::sql::{get_bool, Bind, Sql, Update};
use crate::store::Store;
use crate::vault::FieldKey;
use crate::Scope;

use super::{json, seal_person, Person};

pub(super) const CUSTOMER_COLS: &str =
    "id, livemode, created, email, name, phone, address, metadata, description, shipping, preferred_locales";

const CUSTOMERS: Table = Table::new("customers", CUSTOMER_COLS).soft_deleted();

/// A customer row, its personal fields opened with the account's key.
pub(super) fn customer_of(row: &AnyRow, k: &FieldKey) -> Result<Customer, StoreError> {
    let id: String = row.try_get("id")?;
    let place = |c: &str| format!("customers.{c}:{id}");
    Ok(Customer {
        livemode: get_bool(row, "livemode")?,
        created: row.try_get("created")?,
        email: k.open_opt(&place("email"), row.try_get("email")?)?,
        name: k.open_opt(&place("name"), row.try_get("name")?)?,
        phone: k.open_opt(&place("phone"), row.try_get("phone")?)?,
        address: k
            .open_opt(&place("address"), row.try_get("address")?)?
            .map(|a| serde_json::from_str::<Address>(&a))
            .transpose()?,
        metadata: metadata_of(row)?,
        description: k.open_opt(&place("description"), row.try_get("description")?)?,
        shipping: k
            .open_opt(&place("shipping"), row.try_get("shipping")?)?
            .map(|s| serde_json::from_str(&s))
            .transpose()?,
        preferred_locales: row
            .try_get::<Option<String>, _>("preferred_locales")?
            .map(|l| serde_json::from_str(&l))
            .transpose()?
            .unwrap_or_default(),
        id,
    })
}

/// A customer's description and shipping, sealed for their row.
fn seal_details(k: &FieldKey, c: &Customer) -> Result<[Option<String>; 2], StoreError> {
    let place = |col: &str| format!("customers.{col}:{}", c.id);
    let description = c
        .description
        .as_deref()
        .map(|d| k.seal(&place("description"), d))
        .transpose()?;
    let shipping = c
        .shipping
        .as_ref()
        .map(|s| k.seal(&place("shipping"), &json(s)?))
        .transpose()?;
    Ok([description, shipping])
}

/// A customer's email, name, phone and address, sealed for their row.
fn seal_customer(k: &FieldKey, c: &Customer) -> Result<[Option<String>; 4], StoreError> {
    seal_person(
        k,
        "customers",
        ["email", "name", "phone", "address"],
        &c.id,
        Person {
            email: c.email.as_deref(),
            name: c.name.as_deref(),
            phone: c.phone.as_deref(),
            address: c.address.as_ref(),
        },
    )
}

/// The INSERT of a new customer, its personal fields sealed.
pub(super) fn customer_insert(
    scope: &Scope,
    c: &Customer,
    k: &FieldKey,
    email_blind: Option<&str>,
) -> Result<Sql, StoreError> {
    let [email, name, phone, address] = seal_customer(k, c)?;
    let [description, shipping] = seal_details(k, c)?;
    Ok(crate::sql::Insert::new("customers")
        .set("account_id", scope.account_id.as_str())
        .set("email_key", email_blind)
        .set("id", c.id.as_str())
        .set("livemode", scope.livemode)
        .set("created", c.created)
        .set("email", email)
        .set("name", name)
        .set("phone", phone)
        .set("address", address)
        .set("metadata", json(&c.metadata)?)
        .set("description", description)
        .set("shipping", shipping)
        .set("preferred_locales", json(&c.preferred_locales)?)
        .sql())
}

impl Store {
    pub async fn get_customer(&self, scope: &Scope, id: &str) -> Result<Customer, StoreError> {
        let mut sql = Sql::select_one(CUSTOMER_COLS, "customers", scope, id);
        sql.push(" AND deleted = 0");
        let row = sql.fetch_row(&self.pool).await?;
        customer_of(&row, &self.field_key(&scope.account_id).await?)
    }

    /// Creates a customer (`POST /v1/customers`): personal fields sealed,
    /// the email's blind index kept for lookups, `customer.created`
    /// written in the same transaction.
    pub async fn create_customer(&self, scope: &Scope, c: &Customer) -> Result<(), StoreError> {
        let k = self.field_key(&scope.account_id).await?;
        let email_blind = match &c.email {
            Some(e) => Some(self.blind(&email_key(e)).await?),
            None => None,
        };
        let mut tx = self.write().await?;
        crate::idempotency::note_created(&format!("/v1/customers/{}", c.id));
        customer_insert(scope, c, &k, email_blind.as_deref())?
            .query()
            .execute(tx.conn())
            .await?;
        let object = self.renderer().customer(c);
        self.emit_change(&mut tx, scope, "customer.created", None, object)
            .await?;
        tx.commit().await
    }

    /// Whether `id` is a customer of this scope that was deleted.
    pub async fn customer_deleted(&self, scope: &Scope, id: &str) -> Result<bool, StoreError> {
        let mut sql = Sql::new("SELECT id FROM customers WHERE ");
        sql.scope(scope)
            .push(" AND id = ")
            .bind(id)
            .push(" AND deleted = 1");
        Ok(sql.query().fetch_optional(&self.pool).await?.is_some())
    }

    pub async fn list_customers(
        &self,
        scope: &Scope,
        email: Option<&str>,
        q: &ListQuery,
    ) -> Result<Page<Customer>, StoreError> {
        let mut filters: Vec<(&str, Bind)> = vec![("deleted", Bind::I64(0))];
        if let Some(e) = email {
            filters.push(("email_key", self.blind(&email_key(e)).await?.into()));
        }
        let k = self.field_key(&scope.account_id).await?;
        self.list_rows("customers", CUSTOMER_COLS, scope, &filters, q, |r| {
            customer_of(r, &k)
        })
        .await
    }

    pub async fn update_customer(
        &self,
        scope: &Scope,
        id: &str,
        f: impl FnOnce(&mut Customer) -> Result<(), paylink_domain::catalog::RuleError>,
    ) -> Result<Customer, StoreError> {
        let k = self.field_key(&scope.account_id).await?;
        let index_key = self.instance_secret(crate::vault::BLIND_INDEX).await?;
        let load = |row: &AnyRow| customer_of(row, &k);
        let render = |r: &dyn crate::events::Renderer, c: &Customer| r.customer(c);
        self.modify_emitting(
            &CUSTOMERS,
            scope,
            id,
            "customer.updated",
            load,
            f,
            |c| {
                let [email, name, phone, address] = seal_customer(&k, c)?;
                let [description, shipping] = seal_details(&k, c)?;
                let email_blind = c
                    .email
                    .as_deref()
                    .map(|e| paylink_crypto::envelope::blind_index(&index_key, &email_key(e)));
                Ok(Update::new("customers")
                    .set("email", email)
                    .set("email_key", email_blind)
                    .set("name", name)
                    .set("phone", phone)
                    .set("address", address)
                    .set("metadata", json(&c.metadata)?)
                    .set("description", description)
                    .set("shipping", shipping)
                    .set("preferred_locales", json(&c.preferred_locales)?))
            },
            render,
        )
        .await
    }

    /// Deletes a customer: personal fields are cleared and the object is
    /// gone from the API; payments keep their amounts and dates.
    pub async fn delete_customer(&self, scope: &Scope, id: &str) -> Result<(), StoreError> {
        self.redact_customer(scope, id, true).await
    }

    /// Erases a buyer's personal data: the customer's email, name, phone and
    /// address, and in every checkout session of theirs the buyer's details
    /// and custom-field answers, are replaced by empty tombstones. Amounts,
    /// dates and ids stay for the books. `hide` also removes the customer
    /// from the API (delete).
    pub async fn redact_customer(
        &self,
        scope: &Scope,
        id: &str,
        hide: bool,
    ) -> Result<(), StoreError> {
        let k = self.field_key(&scope.account_id).await?;
        // What the stored API responses may hold of this customer.
        let before = self.get_customer(scope, id).await?;
        let mut needles = vec![before.id.clone()];
        needles.extend(before.email.clone());
        needles.extend(before.name.clone());
        needles.extend(before.phone.clone());
        if let Some(a) = &before.address {
            needles.extend(a.line1.clone());
            needles.extend(a.line2.clone());
        }
        needles.extend(before.description.clone());
        if let Some(s) = &before.shipping {
            needles.push(s.name.clone());
            needles.extend(s.phone.clone());
            needles.extend(s.address.line1.clone());
            needles.extend(s.address.line2.clone());
        }
        let mut tx = self.write().await?;
        let mut up = Sql::new("UPDATE customers SET email = NULL, email_key = NULL, name = NULL, phone = NULL, address = NULL, description = NULL, shipping = NULL, preferred_locales = NULL, deleted = ");
        up.bind(hide)
            .push(" WHERE ")
            .scope(scope)
            .push(" AND id = ")
            .bind(id)
            .push(" AND deleted = 0");
        if up.query().execute(tx.conn()).await?.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        let mut sel = Sql::new("SELECT id FROM checkout_sessions WHERE ");
        sel.scope(scope).push(" AND customer_id = ").bind(id);
        let sessions: Vec<String> = sel
            .query()
            .fetch_all(tx.conn())
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?;
        for sid in sessions {
            let none = k.seal(&format!("checkout_sessions.custom_fields:{sid}"), "[]")?;
            let mut up = Sql::new(super::ERASE_BUYER);
            up.bind(none)
                .push(" WHERE ")
                .scope(scope)
                .push(" AND id = ")
                .bind(sid.as_str());
            up.query().execute(tx.conn()).await?;
        }
        // The customer as they now read (nothing personal left): deleted,
        // or updated by the erasure. No previous_attributes: the erased
        // values must not live on in an event.
        let row = Sql::select_one(CUSTOMER_COLS, "customers", scope, id)
            .fetch_row(tx.conn())
            .await?;
        let object = self.renderer().customer(&customer_of(&row, &k)?);
        let kind = if hide {
            "customer.deleted"
        } else {
            "customer.updated"
        };
        let own = self.emit_change(&mut tx, scope, kind, None, object).await?;
        tx.commit().await?;
        self.erase_idempotent_mentions(&scope.account_id, &needles)
            .await?;
        self.erase_event_mentions(&scope.account_id, &needles, own.as_deref())
            .await?;
        Ok(())
    }
}
