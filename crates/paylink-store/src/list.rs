//! Cursor pagination shared by every list.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::StoreError;
use crate::sql::{Bind, Sql};
use crate::store::Store;
use crate::Scope;

/// Stripe's list parameters, already range-checked (limit 1..=100).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub limit: i64,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
    /// Only objects created at or after this Unix time (Stripe's
    /// `created[gte]`, or `created[gt]` plus one).
    pub created_gte: Option<i64>,
    /// Only objects created at or before this Unix time.
    pub created_lte: Option<i64>,
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
        let conds: Vec<(String, Bind)> = filters
            .iter()
            .map(|(col, v)| (format!("{col} = "), v.clone()))
            .collect();
        let conds: Vec<(&str, Bind)> = conds.iter().map(|(c, v)| (c.as_str(), v.clone())).collect();
        self.list_rows_where(table, cols, scope, &conds, ("", &[]), q, map)
            .await
    }

    /// [`Store::list_rows`] with conditions given as SQL up to the value
    /// (`"created >= "`, bound to their value) and a column that must be
    /// one of some values (none given: any).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn list_rows_where<T>(
        &self,
        table: &str,
        cols: &str,
        scope: &Scope,
        conds: &[(&str, Bind)],
        one_of: (&str, &[String]),
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
        for (cond, v) in conds {
            sql.push(" AND ").push(cond).bind(v.clone());
        }
        if let Some(t) = q.created_gte {
            sql.push(" AND created >= ").bind(t);
        }
        if let Some(t) = q.created_lte {
            sql.push(" AND created <= ").bind(t);
        }
        let (col, values) = one_of;
        if !values.is_empty() {
            sql.push(&format!(" AND {col} IN ("));
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(v.as_str());
            }
            sql.push(")");
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
