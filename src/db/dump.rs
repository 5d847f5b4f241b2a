//! Keyset pages of the stored directory and events, in id order, for
//! `export` (the stored data written back in the import format).

use super::models::{Activity, MethodEvent};
use super::schema::{
    activities, directory_groups, group_members, method_events, user_methods, users,
};
use super::{DbConnection, QueryResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// A user as the users file holds it: (id, display name, principal name,
/// guest, administrator, directory role, account enabled if known).
pub type UserLine = (String, String, String, bool, bool, String, Option<bool>);

/// Users after `after` (by id), at most `limit`.
pub fn users_after(conn: &mut DbConnection, after: &str, limit: i64) -> QueryResult<Vec<UserLine>> {
    users::table
        .filter(users::id.gt(after))
        .order(users::id)
        .limit(limit)
        .select((
            users::id,
            users::display_name,
            users::user_principal_name,
            users::is_guest,
            users::is_admin,
            users::directory_role,
            users::account_enabled,
        ))
        .load(conn)
}

/// Every group: (id, display name).
pub fn groups(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    directory_groups::table
        .order(directory_groups::id)
        .select((directory_groups::id, directory_groups::display_name))
        .load(conn)
}

/// Memberships after (group, user), at most `limit`.
pub fn members_after(
    conn: &mut DbConnection,
    after: &(String, String),
    limit: i64,
) -> QueryResult<Vec<(String, String)>> {
    group_members::table
        .filter(
            group_members::group_id
                .gt(&after.0)
                .or(group_members::group_id
                    .eq(&after.0)
                    .and(group_members::user_id.gt(&after.1))),
        )
        .order((group_members::group_id, group_members::user_id))
        .limit(limit)
        .select((group_members::group_id, group_members::user_id))
        .load(conn)
}

/// Registered methods after (user, method), at most `limit`.
pub fn methods_after(
    conn: &mut DbConnection,
    after: &(String, i32),
    limit: i64,
) -> QueryResult<Vec<(String, i32, Option<NaiveDateTime>)>> {
    user_methods::table
        .filter(
            user_methods::user_id.gt(&after.0).or(user_methods::user_id
                .eq(&after.0)
                .and(user_methods::method.gt(after.1))),
        )
        .order((user_methods::user_id, user_methods::method))
        .limit(limit)
        .select((
            user_methods::user_id,
            user_methods::method,
            user_methods::registered_at,
        ))
        .load(conn)
}

/// Activities after `after` (by id), at most `limit`.
pub fn activities_after(
    conn: &mut DbConnection,
    after: &str,
    limit: i64,
) -> QueryResult<Vec<Activity>> {
    activities::table
        .filter(activities::id.gt(after))
        .order(activities::id)
        .limit(limit)
        .select(Activity::as_select())
        .load(conn)
}

/// The method events of the activities `ids` (any order).
pub fn events_of(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<Vec<MethodEvent>> {
    let mut events = Vec::new();
    for chunk in ids.chunks(500) {
        events.extend(
            method_events::table
                .filter(method_events::activity_id.eq_any(chunk))
                .select(MethodEvent::as_select())
                .load(conn)?,
        );
    }
    Ok(events)
}
