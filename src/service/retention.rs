//! How long events are kept, and removing older ones.

use super::ServiceResult;
use crate::db::{self, audit, DbConnection};

/// Sets how many days of events `prune` keeps.
pub fn set_retention(conn: &mut DbConnection, actor: &str, days: i32) -> ServiceResult<()> {
    db::write(conn, |conn| {
        db::retention::set_retention_days(conn, days)?;
        audit::record(
            conn,
            actor,
            "Retention changed",
            "events",
            &format!("{days} days"),
        )?;
        Ok(())
    })
}

/// Removes activities and method events that occurred before `cutoff`,
/// moving the maintained counts with them, and records it in the audit log.
pub fn prune(
    conn: &mut DbConnection,
    actor: &str,
    cutoff: chrono::NaiveDateTime,
    now: chrono::NaiveDateTime,
) -> ServiceResult<db::retention::Pruned> {
    db::write(conn, |conn| {
        let pruned = db::retention::prune(conn, cutoff, now)?;
        audit::record(
            conn,
            actor,
            "events pruned",
            "events",
            &format!(
                "{} activities and {} method events before {} UTC",
                pruned.activities,
                pruned.events,
                cutoff.format("%Y-%m-%d %H:%M")
            ),
        )?;
        Ok(pruned)
    })
}
