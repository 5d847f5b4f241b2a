//! Figures of the overview, read from the maintained aggregates only.

use super::counts::{data_changed_at, status_count_rows};
use super::DbConnection;
use chrono::NaiveDateTime;
use diesel::QueryResult;

/// User counts behind the overview tiles and insights.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusTotals {
    pub users: i64,
    pub registered: i64,
    pub enabled: i64,
    pub capable: i64,
    pub enabled_not_registered: i64,
    pub registered_not_enabled: i64,
    pub mfa_capable: i64,
    pub passwordless_capable: i64,
    pub disabled_accounts: i64,
}

pub fn status_totals(conn: &mut DbConnection) -> QueryResult<StatusTotals> {
    let mut t = StatusTotals::default();
    for row in status_count_rows(conn)? {
        let n = row.user_count;
        let key = row.key();
        let s = key.status;
        t.users += n;
        t.registered += n * i64::from(s.registered);
        t.enabled += n * i64::from(s.enabled);
        t.capable += n * i64::from(s.capable);
        t.enabled_not_registered += n * i64::from(s.enabled && !s.registered);
        t.registered_not_enabled += n * i64::from(s.registered && !s.enabled);
        t.mfa_capable += n * i64::from(s.mfa_capable);
        t.passwordless_capable += n * i64::from(s.passwordless_capable);
        t.disabled_accounts += n * i64::from(key.account_enabled == Some(false));
    }
    Ok(t)
}

pub fn last_refreshed(conn: &mut DbConnection) -> QueryResult<NaiveDateTime> {
    data_changed_at(conn)
}
