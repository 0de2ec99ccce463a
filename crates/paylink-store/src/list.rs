//! Cursor pagination shared by every list, and a small SQL builder that
//! numbers `$n` placeholders (understood by both backends).

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};

use crate::db::Store;
use crate::error::StoreError;
use crate::Scope;

/// Stripe's list parameters, already range-checked (limit 1..=100).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub limit: i64,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
}

/// One page of a list, newest first.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            has_more: self.has_more,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Bind {
    I64(i64),
    OptI64(Option<i64>),
    Str(String),
    OptStr(Option<String>),
    Bytes(Vec<u8>),
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
#[derive(Debug, Default)]
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
    /// A comma-separated list of placeholders for an INSERT.
    pub fn values(&mut self, vals: Vec<Bind>) -> &mut Self {
        for (i, v) in vals.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v);
        }
        self
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

/// Reads a 0/1 column as a bool.
pub(crate) fn get_bool(row: &AnyRow, col: &str) -> Result<bool, StoreError> {
    Ok(row.try_get::<i64, _>(col)? != 0)
}

impl Store {
    /// Lists rows of `table` in `scope`, newest first, with extra `filters`
    /// (`column = value`), paginated by object id cursors.
    pub(crate) async fn list_rows<T>(
        &self,
        table: &str,
        cols: &str,
        scope: &Scope,
        filters: &[(&str, Bind)],
        q: &ListQuery,
        map: impl Fn(&AnyRow) -> Result<T, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        let cursor = match (&q.starting_after, &q.ending_before) {
            (Some(id), _) => Some((self.seq_of(table, scope, id, "starting_after").await?, true)),
            (None, Some(id)) => {
                Some((self.seq_of(table, scope, id, "ending_before").await?, false))
            }
            (None, None) => None,
        };
        let mut sql = Sql::new(&format!("SELECT {cols} FROM {table} WHERE "));
        sql.scope(scope);
        for (col, v) in filters {
            sql.push(&format!(" AND {col} = ")).bind(v.clone());
        }
        let ascending = matches!(cursor, Some((_, false)));
        match cursor {
            Some((seq, true)) => {
                sql.push(" AND seq < ").bind(seq);
            }
            Some((seq, false)) => {
                sql.push(" AND seq > ").bind(seq);
            }
            None => {}
        }
        sql.push(if ascending {
            " ORDER BY seq ASC"
        } else {
            " ORDER BY seq DESC"
        });
        sql.push(" LIMIT ").bind(q.limit.saturating_add(1));
        let rows = sql.query().fetch_all(&self.pool).await?;
        let has_more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > q.limit;
        let mut data = rows
            .iter()
            .take(usize::try_from(q.limit).unwrap_or(0))
            .map(map)
            .collect::<Result<Vec<_>, _>>()?;
        if ascending {
            data.reverse();
        }
        Ok(Page { data, has_more })
    }

    async fn seq_of(
        &self,
        table: &str,
        scope: &Scope,
        id: &str,
        param: &'static str,
    ) -> Result<i64, StoreError> {
        let sql = Sql::select_one("seq", table, scope, id);
        let row = sql.query().fetch_optional(&self.pool).await?;
        match row {
            Some(r) => Ok(r.try_get::<i64, _>(0)?),
            None => Err(StoreError::InvalidCursor(param)),
        }
    }
}
