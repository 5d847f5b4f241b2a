//! Substring search over users' names and user names.
//!
//! SQLite answers searches of three or more characters from an FTS5 trigram
//! index (`users_fts`, kept by triggers); PostgreSQL from a pg_trgm index on
//! the same column. Shorter searches, which no trigram can narrow, scan the
//! narrow `(search_text, …)` index or the table.

use super::schema::users;
use super::DbConnection;
use crate::domain::filter::Search;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

type Db = <DbConnection as Connection>::Backend;

/// A condition on `users` that holds for the users the search matches.
pub type SearchCondition = Box<dyn BoxableExpression<users::table, Db, SqlType = Bool>>;

/// Whether the SQLite trigram index can answer this search.
fn uses_trigrams(conn: &DbConnection, search: &Search) -> bool {
    matches!(conn, DbConnection::Sqlite(_)) && search.lowered().chars().count() >= 3
}

/// An FTS5 phrase: the text in double quotes, quotes doubled; a phrase of
/// trigrams matches exactly the rows that contain the text.
fn phrase(search: &Search) -> String {
    format!("\"{}\"", search.lowered().replace('"', "\"\""))
}

pub fn condition(conn: &DbConnection, search: &Search) -> SearchCondition {
    if uses_trigrams(conn, search) {
        Box::new(
            sql::<Bool>(
                "users.search_rowid IN (SELECT rowid FROM users_fts WHERE users_fts MATCH ",
            )
            .bind::<Text, _>(phrase(search))
            .sql(")"),
        )
    } else {
        Box::new(users::search_text.like(search.like_pattern()).escape('\\'))
    }
}

/// A condition for walking another index in order: checks each row's text
/// rather than collecting every match first.
pub fn row_condition(search: &Search) -> SearchCondition {
    Box::new(users::search_text.like(search.like_pattern()).escape('\\'))
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many users the search matches, whatever else they are.
pub fn count_matches(conn: &mut DbConnection, search: &Search) -> QueryResult<i64> {
    if uses_trigrams(conn, search) {
        if let DbConnection::Sqlite(c) = conn {
            let count: Count =
                diesel::sql_query("SELECT count(*) AS n FROM users_fts WHERE users_fts MATCH ?")
                    .bind::<Text, _>(phrase(search))
                    .get_result(c)?;
            return Ok(count.n);
        }
    }
    users::table
        .filter(users::search_text.like(search.like_pattern()).escape('\\'))
        .count()
        .get_result(conn)
}
