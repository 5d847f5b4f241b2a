//! The audit trail of the portal's own changes.

use super::schema::audit_log;
use super::DbConnection;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

/// Who acts from the command line.
pub const COMMAND_LINE: &str = "(command line)";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: String,
}

/// Records one change, now.
pub fn record(
    conn: &mut DbConnection,
    actor: &str,
    action: &str,
    target: &str,
    details: &str,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(Utc::now().naive_utc()),
            audit_log::actor.eq(actor),
            audit_log::action.eq(action),
            audit_log::target.eq(target),
            audit_log::details.eq(details),
        ))
        .execute(conn)
        .map(drop)
}

/// Entries newest first, older than entry `before` when given.
pub fn entries(
    conn: &mut DbConnection,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<AuditEntry>> {
    let mut query = audit_log::table
        .select(AuditEntry::as_select())
        .order(audit_log::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(id) = before {
        query = query.filter(audit_log::id.lt(id));
    }
    query.load(conn)
}
