//! Substring search over users' names and user names.
//!
//! SQLite answers searches of three or more characters from an FTS5 trigram
//! index (`users_fts`, kept by triggers); PostgreSQL from a pg_trgm index on
//! the same column. Shorter searches, which no trigram can narrow, scan the
//! narrow `(search_text, …)` index or the table.

use super::schema::{method_events, users};
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

/// A condition on `method_events`: the event's user is one the search matches.
pub type EventSearchCondition =
    Box<dyn BoxableExpression<method_events::table, Db, SqlType = Bool>>;

/// Checked row by row (a correlated lookup of the event's user), so a walk
/// through the events in time order stops after one page, however many users
/// the search matches. On SQLite the lookup reads the `users_by_id_names`
/// index alone, which the planner would otherwise pass over for the key.
pub fn event_user_condition(conn: &DbConnection, search: &Search) -> EventSearchCondition {
    let users = match conn {
        DbConnection::Sqlite(_) => "users INDEXED BY users_by_id_names",
        DbConnection::Postgresql(_) => "users",
    };
    Box::new(
        sql::<Bool>(&format!(
            "EXISTS (SELECT 1 FROM {users} WHERE users.id = method_events.user_id \
             AND users.search_text LIKE "
        ))
        .bind::<Text, _>(search.like_pattern())
        .sql(" ESCAPE '\\')"),
    )
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

/// How far a search is counted exactly: past this a count costs a scan of
/// the names, and "more than" this is the answer. A trigram index counts
/// cheaply; a search of one or two characters is counted by reading names.
pub fn count_cap(conn: &DbConnection, search: &Search) -> i64 {
    if uses_trigrams(conn, search) || matches!(conn, DbConnection::Postgresql(_)) {
        50_000
    } else {
        10_000
    }
}

/// How many users the search matches, whatever else they are, counted up to
/// one past [`count_cap`].
pub fn count_matches(conn: &mut DbConnection, search: &Search) -> QueryResult<i64> {
    let cap = count_cap(conn, search);
    if uses_trigrams(conn, search) {
        if let DbConnection::Sqlite(c) = conn {
            let count: Count = diesel::sql_query(
                "SELECT count(*) AS n FROM \
                 (SELECT rowid FROM users_fts WHERE users_fts MATCH ? LIMIT ?)",
            )
            .bind::<Text, _>(phrase(search))
            .bind::<BigInt, _>(cap + 1)
            .get_result(c)?;
            return Ok(count.n);
        }
    }
    let found: Vec<String> = users::table
        .filter(users::search_text.like(search.like_pattern()).escape('\\'))
        .select(users::id)
        .limit(cap + 1)
        .load(conn)?;
    Ok(found.len() as i64)
}
