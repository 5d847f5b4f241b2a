//! The SSPR policy.

use super::{ServiceError, ServiceResult};
use crate::db::{self, audit, DbConnection};

/// Stores a new SSPR policy and re-evaluates every user, with its audit row
/// (`describe` words it from the old policy and what was re-evaluated), in
/// one transaction.
pub fn save_policy(
    conn: &mut DbConnection,
    actor: &str,
    policy: &crate::domain::SsprPolicy,
    describe: impl FnOnce(&crate::domain::SsprPolicy, &db::directory::Recomputed) -> String,
) -> ServiceResult<db::directory::Recomputed> {
    db::write(conn, |conn| {
        let old = stored_policy(conn)?;
        let recomputed = db::directory::save_policy(conn, policy, Some(actor))?;
        audit::record(
            conn,
            actor,
            "policy changed",
            "SSPR policy",
            &describe(&old, &recomputed),
        )?;
        Ok(recomputed)
    })
}

/// The stored policy; one that no longer parses is refused with its reason.
fn stored_policy(conn: &mut DbConnection) -> ServiceResult<crate::domain::SsprPolicy> {
    db::directory::load_policy(conn).map_err(|e| match e {
        db::directory::PolicyLoadError::Database(e) => ServiceError::Database(e),
        invalid => ServiceError::Refused(invalid.to_string()),
    })
}

/// Chooses which statuses users show where a directory export stated
/// verdicts, re-evaluates every user under it and writes the audit row, in
/// one transaction.
pub fn set_verdict_source(
    conn: &mut DbConnection,
    actor: &str,
    source: crate::domain::VerdictSource,
) -> ServiceResult<db::directory::Recomputed> {
    db::write(conn, |conn| {
        let old = db::directory::verdict_source(conn)?;
        let policy = stored_policy(conn)?;
        let now = chrono::Utc::now().naive_utc();
        let recomputed = db::directory::set_verdict_source(conn, source, &policy, now)?;
        audit::record(
            conn,
            actor,
            "verdict source changed",
            "SSPR policy",
            &format!(
                "{} → {}; {} users re-evaluated, {} changed status",
                old.label(),
                source.label(),
                recomputed.users,
                recomputed.changed
            ),
        )?;
        Ok(recomputed)
    })
}
