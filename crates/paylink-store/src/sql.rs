//! The SQL builders. Placeholders are numbered as values are bound (`$n`,
//! understood by both backends), and a row written names each column
//! beside its value ([`Insert`], [`Update`]), so that no statement pairs a
//! column list with a separate list of positional values.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};

use crate::error::StoreError;
use crate::Scope;

/// A value bound to a placeholder. Its `Debug` names the kind of value,
/// never the value: statements carry sealed personal data, key hashes and
/// tokens, and a `{:?}` of a statement (an `Insert`, an `Update`, a
/// [`Sql`]) must not print them.
#[derive(Clone)]
pub enum Bind {
    I64(i64),
    OptI64(Option<i64>),
    Str(String),
    OptStr(Option<String>),
    Bytes(Vec<u8>),
}

impl std::fmt::Debug for Bind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Bind::I64(_) => "I64(…)",
            Bind::OptI64(_) => "OptI64(…)",
            Bind::Str(_) => "Str(…)",
            Bind::OptStr(_) => "OptStr(…)",
            Bind::Bytes(_) => "Bytes(…)",
        })
    }
}

impl From<i64> for Bind {
    fn from(v: i64) -> Self {
        Bind::I64(v)
    }
}
impl From<bool> for Bind {
    fn from(v: bool) -> Self {
        Bind::I64(i64::from(v))
    }
}
impl From<Option<i64>> for Bind {
    fn from(v: Option<i64>) -> Self {
        Bind::OptI64(v)
    }
}
impl From<String> for Bind {
    fn from(v: String) -> Self {
        Bind::Str(v)
    }
}
impl From<&str> for Bind {
    fn from(v: &str) -> Self {
        Bind::Str(v.to_string())
    }
}
impl From<&String> for Bind {
    fn from(v: &String) -> Self {
        Bind::Str(v.clone())
    }
}
impl From<Option<String>> for Bind {
    fn from(v: Option<String>) -> Self {
        Bind::OptStr(v)
    }
}
impl From<Option<&str>> for Bind {
    fn from(v: Option<&str>) -> Self {
        Bind::OptStr(v.map(str::to_string))
    }
}

/// SQL text with its arguments, numbered as they are pushed.
#[derive(Debug, Default, Clone)]
pub struct Sql {
    pub text: String,
    binds: Vec<Bind>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            binds: Vec::new(),
        }
    }
    /// Appends raw SQL.
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }
    /// Appends a placeholder bound to `v`.
    pub fn bind(&mut self, v: impl Into<Bind>) -> &mut Self {
        self.binds.push(v.into());
        self.text.push('$');
        self.text.push_str(&self.binds.len().to_string());
        self
    }
    /// `account_id = $n AND livemode = $m`
    pub fn scope(&mut self, scope: &Scope) -> &mut Self {
        self.push("account_id = ").bind(scope.account_id.as_str());
        self.push(" AND livemode = ").bind(scope.livemode)
    }
    /// `SELECT {cols} FROM {table} WHERE <scope> AND id = $n`: the query
    /// that loads one object of a tenant (more conditions may be pushed).
    pub fn select_one(cols: &str, table: &str, scope: &Scope, id: &str) -> Self {
        let mut sql = Sql::new(&format!("SELECT {cols} FROM {table} WHERE "));
        sql.scope(scope).push(" AND id = ").bind(id);
        sql
    }
    /// Fetches the one row this query selects, or [`StoreError::NotFound`].
    pub async fn fetch_row<'e, E: sqlx::Executor<'e, Database = Any>>(
        &self,
        executor: E,
    ) -> Result<AnyRow, StoreError> {
        self.query()
            .fetch_optional(executor)
            .await?
            .ok_or(StoreError::NotFound)
    }

    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for b in &self.binds {
            q = match b {
                Bind::I64(v) => q.bind(*v),
                Bind::OptI64(v) => q.bind(*v),
                Bind::Str(v) => q.bind(v.as_str()),
                Bind::OptStr(v) => q.bind(v.as_deref()),
                Bind::Bytes(v) => q.bind(v.clone()),
            };
        }
        q
    }
}

/// The tenant of a row read with its `account_id` and `livemode` columns.
pub(crate) fn scope_of(row: &AnyRow) -> Result<Scope, StoreError> {
    Ok(Scope {
        account_id: row.try_get("account_id")?,
        livemode: get_bool(row, "livemode")?,
    })
}

/// Reads a 0/1 column as a bool.
pub(crate) fn get_bool(row: &AnyRow, col: &str) -> Result<bool, StoreError> {
    Ok(row.try_get::<i64, _>(col)? != 0)
}

/// `INSERT INTO {table} (c1, c2, …) VALUES ($1, $2, …)`, a column at a
/// time: each column is named beside its value.
#[derive(Debug)]
#[must_use = "an Insert does nothing until it is made into SQL and run"]
pub struct Insert {
    table: String,
    cols: Vec<String>,
    vals: Vec<Bind>,
    tail: &'static str,
}

impl Insert {
    pub fn new(table: &str) -> Self {
        Insert {
            table: table.to_string(),
            cols: Vec::new(),
            vals: Vec::new(),
            tail: "",
        }
    }
    /// The column `col` gets `v`.
    pub fn set(mut self, col: &str, v: impl Into<Bind>) -> Self {
        self.cols.push(col.to_string());
        self.vals.push(v.into());
        self
    }
    /// Each of `fields`' columns gets its value.
    pub fn set_all(self, fields: Vec<(&'static str, Bind)>) -> Self {
        fields
            .into_iter()
            .fold(self, |ins, (col, v)| ins.set(col, v))
    }
    /// A row that would break a unique constraint is skipped (the
    /// statement then affects no row) instead of failing.
    pub fn or_skip(mut self) -> Self {
        self.tail = " ON CONFLICT DO NOTHING";
        self
    }
    /// The statement, to run (or to extend, as an upsert does).
    pub fn sql(self) -> Sql {
        let mut sql = Sql::new(&format!(
            "INSERT INTO {} ({}) VALUES (",
            self.table,
            self.cols.join(", ")
        ));
        for (i, v) in self.vals.into_iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(v);
        }
        sql.push(")").push(self.tail);
        sql
    }
}

/// `UPDATE {table} SET c1 = $1, c2 = $2, … WHERE …`, a column at a time.
#[derive(Debug)]
#[must_use = "an Update does nothing until it is made into SQL and run"]
pub struct Update {
    table: &'static str,
    sets: Vec<(&'static str, Bind)>,
}

impl Update {
    pub fn new(table: &'static str) -> Self {
        Update {
            table,
            sets: Vec::new(),
        }
    }
    /// The column `col` becomes `v`.
    pub fn set(mut self, col: &'static str, v: impl Into<Bind>) -> Self {
        self.sets.push((col, v.into()));
        self
    }
    /// Each of `fields`' columns becomes its value.
    pub fn set_all(mut self, fields: Vec<(&'static str, Bind)>) -> Self {
        self.sets.extend(fields);
        self
    }
    /// The statement for one object of a tenant:
    /// `… WHERE account_id = … AND livemode = … AND id = …`.
    pub fn one(self, scope: &Scope, id: &str) -> Sql {
        let mut sql = Sql::new(&format!("UPDATE {} SET ", self.table));
        for (i, (col, v)) in self.sets.into_iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push(col).push(" = ").bind(v);
        }
        sql.push(" WHERE ").scope(scope).push(" AND id = ").bind(id);
        sql
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn a_statements_debug_shows_no_bound_value() {
        let mut sql = Sql::new("UPDATE t SET secret = ");
        sql.bind("hash-of-a-key-9f8e7d")
            .push(" WHERE n = ")
            .bind(424_242_i64);
        let shown = format!("{sql:?}");
        assert!(shown.contains("UPDATE t SET secret = $1"), "{shown}");
        assert!(!shown.contains("hash-of-a-key-9f8e7d"), "{shown}");
        assert!(!shown.contains("424242"), "{shown}");
        let ins = Insert::new("t").set("token", "tok_secret_value").sql();
        assert!(!format!("{ins:?}").contains("tok_secret_value"));
    }
}
