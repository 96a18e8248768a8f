//! Pages of a list, as RealtimeKit pages them: `page_no` from 1, `per_page` items, and offsets that are 1-based
//! positions in the whole filtered list.

use super::{Db, Result};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};

/// Items per page when `per_page` is not given, and the most one page may hold.
pub const DEFAULT_PER_PAGE: u64 = 20;
pub const MAX_PER_PAGE: u64 = 100;

/// Which page to read. Built from the query with [`PageRequest::new`], which clamps what the client asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page_no: u64,
    pub per_page: u64,
}

impl PageRequest {
    /// Page 1 of [`DEFAULT_PER_PAGE`] unless asked otherwise; `per_page` is kept within 1..=[`MAX_PER_PAGE`].
    pub fn new(page_no: Option<u64>, per_page: Option<u64>) -> Self {
        PageRequest {
            page_no: page_no.unwrap_or(1).max(1),
            per_page: per_page.unwrap_or(DEFAULT_PER_PAGE).clamp(1, MAX_PER_PAGE),
        }
    }

    fn skip(self) -> u64 {
        self.page_no.saturating_sub(1).saturating_mul(self.per_page)
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total_count: u64,
    /// Position of the first item in the whole list (1-based), 0 for an empty page.
    pub start_offset: u64,
    /// Position of the last item, or of the last item before the page when it is empty.
    pub end_offset: u64,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total_count: self.total_count,
            start_offset: self.start_offset,
            end_offset: self.end_offset,
        }
    }
}

/// A `LIKE` pattern matching `text` anywhere, with `%`, `_` and `\` taken literally (use with `ESCAPE '\'`).
pub fn contains_pattern(text: &str) -> String {
    format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

/// `column` contains the text of the `LIKE` pattern bound at `placeholder` (see [`contains_pattern`]), letter case
/// aside: SQLite's `LIKE` ignores ASCII case and Postgres' does not, so both sides are lowered, on both.
pub fn like(column: &str, placeholder: &str) -> String {
    format!("LOWER({column}) LIKE LOWER({placeholder}) ESCAPE '\\'")
}

/// A value bound to a [`Filter`]'s placeholder: the kinds filters compare with.
#[derive(Debug, Clone)]
pub enum Param {
    Text(String),
    Int(i64),
}

impl From<String> for Param {
    fn from(text: String) -> Self {
        Param::Text(text)
    }
}

impl From<&str> for Param {
    fn from(text: &str) -> Self {
        Param::Text(text.to_owned())
    }
}

impl From<i64> for Param {
    fn from(n: i64) -> Self {
        Param::Int(n)
    }
}

/// Binds `params` in order to the query's `$1`, `$2`, ...
pub fn bind_all<'q>(mut query: Query<'q, Any, AnyArguments<'q>>, params: &[Param]) -> Query<'q, Any, AnyArguments<'q>> {
    for param in params {
        query = match param {
            Param::Text(text) => query.bind(text.clone()),
            Param::Int(n) => query.bind(*n),
        };
    }
    query
}

/// A `WHERE` clause built from conditions and the values they bind, so optional filters add up without counting
/// placeholders by hand.
#[derive(Default)]
pub struct Filter {
    conditions: Vec<String>,
    params: Vec<Param>,
}

impl Filter {
    /// Binds a value; returns its placeholder (`$3`) for a condition.
    pub fn bind(&mut self, value: impl Into<Param>) -> String {
        self.params.push(value.into());
        format!("${}", self.params.len())
    }

    /// Adds a condition; all must hold.
    pub fn and(&mut self, condition: impl Into<String>) {
        self.conditions.push(condition.into());
    }

    /// `column = value`, a common case.
    pub fn equals(&mut self, column: &str, value: impl Into<Param>) {
        let placeholder = self.bind(value);
        self.and(format!("{column} = {placeholder}"));
    }

    /// The values bound so far, in placeholder order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    fn clause(&self) -> String {
        if self.conditions.is_empty() {
            "1 = 1".into()
        } else {
            self.conditions.join(" AND ")
        }
    }
}

/// The pieces of one paged query: `SELECT {columns} FROM {from} WHERE {filter} ORDER BY {order}`.
pub struct PagedQuery<'a> {
    pub columns: &'a str,
    /// Tables, with their joins.
    pub from: &'a str,
    pub filter: Filter,
    pub order: &'a str,
}

impl Db {
    /// Counts the filtered rows and reads one page of them.
    pub async fn page<T>(
        &mut self,
        query: PagedQuery<'_>,
        request: PageRequest,
        map: impl Fn(&AnyRow) -> Result<T>,
    ) -> Result<Page<T>> {
        let PagedQuery { columns, from, filter, order } = query;
        let (filter, mut params) = (filter.clause(), filter.params);
        let count = format!("SELECT COUNT(*) FROM {from} WHERE {filter}");
        let total: i64 = bind_all(sqlx::query(&count), &params).fetch_one(self.conn()).await?.try_get(0)?;
        let skip = request.skip();
        let n = params.len();
        params.push(Param::Int(i64::try_from(request.per_page).unwrap_or(i64::MAX)));
        params.push(Param::Int(i64::try_from(skip).unwrap_or(i64::MAX)));
        let select =
            format!("SELECT {columns} FROM {from} WHERE {filter} ORDER BY {order} LIMIT ${} OFFSET ${}", n + 1, n + 2);
        let rows = bind_all(sqlx::query(&select), &params).fetch_all(self.conn()).await?;
        let items = rows.iter().map(map).collect::<Result<Vec<_>>>()?;
        Ok(Page {
            total_count: u64::try_from(total).unwrap_or(0),
            start_offset: if items.is_empty() { 0 } else { skip + 1 },
            end_offset: skip + items.len() as u64,
            items,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_clamped_and_patterns_escaped() {
        assert_eq!(PageRequest::new(None, None), PageRequest { page_no: 1, per_page: DEFAULT_PER_PAGE });
        assert_eq!(PageRequest::new(Some(0), Some(1000)), PageRequest { page_no: 1, per_page: MAX_PER_PAGE });
        assert_eq!(contains_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
