//! The Graph connector's settings an administrator changes, and Sync now.

use super::ServiceResult;
use crate::db::{self, audit, syncs, DbConnection};

/// Records that `actor` asked for a sync now; the sync starts only once
/// this is recorded.
pub fn request_sync(conn: &mut DbConnection, actor: &str) -> ServiceResult<()> {
    db::write(conn, |conn| {
        audit::record(
            conn,
            actor,
            "Sync now",
            "Microsoft Graph",
            "a sync was asked for",
        )?;
        Ok(())
    })
}

/// Sets how often the portal syncs: `Some(minutes)`, `Some(0)` for never,
/// `None` for as the portal was started (`serve --sync-every`).
pub fn set_schedule(
    conn: &mut DbConnection,
    actor: &str,
    minutes: Option<i64>,
    said: &str,
) -> ServiceResult<()> {
    db::write(conn, |conn| {
        syncs::set_sync_every_minutes(conn, minutes)?;
        audit::record(
            conn,
            actor,
            "Sync schedule changed",
            "Microsoft Graph",
            said,
        )?;
        Ok(())
    })
}
