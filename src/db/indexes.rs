//! Secondary indexes read from the database's own catalogue, to drop them
//! before a change to most rows of a table and build them again after it:
//! building an index once from sorted rows is far cheaper than maintaining it
//! row by row.

use super::DbConnection;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

#[derive(diesel::QueryableByName)]
pub struct IndexDefinition {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub definition: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub kind: String,
}

/// Secondary indexes (and on SQLite triggers) of `tables`, a quoted SQL list
/// such as `'users', 'group_members'`; constraint indexes are left out.
pub fn secondary(conn: &mut DbConnection, tables: &str) -> QueryResult<Vec<IndexDefinition>> {
    match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(format!(
            "SELECT sql AS definition, name, type AS kind FROM sqlite_master \
             WHERE type IN ('index', 'trigger') AND sql IS NOT NULL \
             AND tbl_name IN ({tables}) ORDER BY type, name"
        ))
        .load(c),
        DbConnection::Postgresql(c) => diesel::sql_query(format!(
            "SELECT i.indexdef AS definition, i.indexname AS name, 'index' AS kind FROM pg_indexes i \
             WHERE i.schemaname = current_schema() AND i.tablename IN ({tables}) \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        ))
        .load(c),
    }
}

/// Drops `found`; returns their definitions for [`create`].
pub fn drop(conn: &mut DbConnection, found: Vec<IndexDefinition>) -> QueryResult<Vec<String>> {
    for index in &found {
        conn.batch_execute(&format!(
            "DROP {} {}",
            index.kind.to_uppercase(),
            index.name
        ))?;
    }
    Ok(found.into_iter().map(|i| i.definition).collect())
}

/// Runs the definitions [`drop`] returned.
pub fn create(conn: &mut DbConnection, definitions: &[String]) -> QueryResult<()> {
    for definition in definitions {
        conn.batch_execute(definition)?;
    }
    Ok(())
}
