//! Multi-row inserts sized to each backend's bound-parameter limit.

use super::models::{Activity, MethodEvent, NewMember, NewUserMethod, User};
use super::schema::{activities, group_members, method_events, user_methods, users};
use super::{indexes, DbConnection};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

/// Bound parameters one statement may carry: SQLite allows 32,766 and
/// PostgreSQL 65,535; staying under the smaller keeps one code path.
const MAX_PARAMS: usize = 32_000;

fn rows_per_statement(columns: usize) -> usize {
    MAX_PARAMS / columns
}

/// Rows per SQLite statement. A fixed count makes the multi-row statement
/// one diesel prepares once and reuses, so SQLite parses it once and the
/// per-statement overhead (binding, stepping, resetting) is shared by the
/// rows; the rows that do not fill a statement go one by one.
pub const SQLITE_ROWS: usize = 64;

/// SQLite gets rows in cached statements of [`SQLITE_ROWS`] each; PostgreSQL
/// pays a round trip per statement, so it gets them in statements as large
/// as its parameter limit allows.
macro_rules! bulk_insert {
    ($name:ident, $row:ty, $table:path, $columns:expr) => {
        pub fn $name(conn: &mut DbConnection, rows: &[$row]) -> QueryResult<usize> {
            let mut n = 0;
            match conn {
                DbConnection::Sqlite(c) => {
                    let mut full = rows.chunks_exact(SQLITE_ROWS);
                    for chunk in &mut full {
                        let Ok(chunk) = <&[$row; SQLITE_ROWS]>::try_from(chunk) else {
                            unreachable!("chunks_exact yields whole chunks")
                        };
                        n += diesel::insert_into($table).values(chunk).execute(c)?;
                    }
                    for row in full.remainder() {
                        n += diesel::insert_into($table).values(row).execute(c)?;
                    }
                }
                DbConnection::Postgresql(c) => {
                    for chunk in rows.chunks(rows_per_statement($columns)) {
                        n += diesel::insert_into($table).values(chunk).execute(c)?;
                    }
                }
            }
            Ok(n)
        }
    };
}

bulk_insert!(insert_users, User, users::table, 27);
bulk_insert!(insert_user_methods, NewUserMethod, user_methods::table, 3);
bulk_insert!(insert_members, NewMember, group_members::table, 2);
bulk_insert!(insert_activities, Activity, activities::table, 10);
bulk_insert!(insert_method_events, MethodEvent, method_events::table, 9);

/// The tables a bulk load fills.
const LOADED_TABLES: &str =
    "'users', 'group_members', 'user_methods', 'activities', 'method_events'";

/// Drops the secondary indexes of the bulk-loaded tables (and on SQLite the
/// triggers that keep the search index) and returns their definitions, read
/// from the database's own catalogue, for [`recreate_indexes`]. Building an
/// index once from sorted rows is far cheaper than maintaining it row by
/// row. Only for an empty database inside one transaction: a failed load
/// rolls the drop back with it.
pub fn drop_secondary_indexes(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    let found = indexes::secondary(conn, LOADED_TABLES)?;
    indexes::drop(conn, found)
}

/// Recreates what [`drop_secondary_indexes`] dropped, and on SQLite builds
/// the search index over the loaded users in one pass.
pub fn recreate_indexes(conn: &mut DbConnection, definitions: &[String]) -> QueryResult<()> {
    indexes::create(conn, definitions)?;
    if let DbConnection::Sqlite(c) = conn {
        c.batch_execute("INSERT INTO users_fts (users_fts) VALUES ('rebuild')")?;
    }
    Ok(())
}
