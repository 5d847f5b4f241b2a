//! The statements an import's writer (`ingest::writer`) runs: lookups of
//! what is stored, the changes of member and method lists, and inserts that
//! skip ids stored already. All inside the import's one transaction.

use super::bulk::SQLITE_ROWS;
use super::models::{Activity, ImportedActivity, ImportedEvent, MethodEvent, NewUserMethod, User};
use super::schema::{
    activities, directory_groups, group_members, method_events, user_methods, users,
};
use super::{DbConnection, QueryResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error::DatabaseError};
use diesel::SqliteConnection;
use std::collections::HashSet;

/// Ids per `IN (…)` list: under SQLite's bound-parameter limit.
pub const ID_CHUNK: usize = 500;
/// PostgreSQL rows per multi-row insert (8–11 columns each).
const PG_ROWS: usize = 2_000;

/// Whether no activity and no method event is stored.
pub fn event_tables_empty(conn: &mut DbConnection) -> QueryResult<bool> {
    let any_activity: Option<String> = activities::table
        .select(activities::id)
        .first(conn)
        .optional()?;
    let any_event: Option<String> = method_events::table
        .select(method_events::id)
        .first(conn)
        .optional()?;
    Ok(any_activity.is_none() && any_event.is_none())
}

/// The stored users among `ids` (at most [`ID_CHUNK`] at a time).
pub fn users_by_id(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::id.eq_any(ids))
        .select(User::as_select())
        .load(conn)
}

/// Every stored user id.
pub fn all_user_ids(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    users::table.select(users::id).load(conn)
}

/// Which of `ids` are stored users (at most [`ID_CHUNK`] at a time).
pub fn existing_user_ids(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<HashSet<String>> {
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select(users::id)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// The `user_id` of an event that named its user only by user principal name
/// while that user was not in the directory: "upn:" and the name in lower
/// case, so that the user, when they arrive, is found whatever the case.
pub fn outside_user_key(user_principal_name: &str) -> String {
    format!("upn:{}", user_principal_name.to_lowercase())
}

/// Keeps, with events just stored, the user their source named: (event id,
/// user principal name, display name). Only events whose user is not in the
/// directory get these; few, so one statement each.
pub fn name_outside_events(
    conn: &mut DbConnection,
    events: &[(&str, &str, &str)],
) -> QueryResult<()> {
    for (id, upn, name) in events {
        diesel::update(method_events::table.find(*id))
            .set((
                method_events::user_principal_name.eq(Some(*upn)),
                method_events::user_display_name.eq(Some(*name)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The `user_id`s of the events whose user is not in the directory.
pub fn outside_event_users(conn: &mut DbConnection) -> QueryResult<HashSet<String>> {
    Ok(method_events::table
        .filter(method_events::user_principal_name.is_not_null())
        .select(method_events::user_id)
        .distinct()
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// The events stored under `key` (a user id, or an [`outside_user_key`])
/// while their user was not in the directory now belong to the user `id`,
/// who is: the names kept for them are cleared. Returns how many moved.
pub fn attach_outside_events(conn: &mut DbConnection, key: &str, id: &str) -> QueryResult<usize> {
    diesel::update(
        method_events::table
            .filter(method_events::user_id.eq(key))
            .filter(method_events::user_principal_name.is_not_null()),
    )
    .set((
        method_events::user_id.eq(id),
        method_events::user_principal_name.eq(None::<String>),
        method_events::user_display_name.eq(None::<String>),
    ))
    .execute(conn)
}

/// Whether any stored method event is part of an activity (`in_flows`) or
/// stands alone (from a usage report).
pub fn any_events(conn: &mut DbConnection, in_flows: bool) -> QueryResult<bool> {
    let q = method_events::table.select(method_events::id).into_boxed();
    let q = if in_flows {
        q.filter(method_events::activity_id.is_not_null())
    } else {
        q.filter(method_events::activity_id.is_null())
    };
    Ok(q.first::<String>(conn).optional()?.is_some())
}

/// The stored method events of `users` from `from` to `to`, those in an
/// activity (`in_flows`) or those standing alone.
pub fn events_near(
    conn: &mut DbConnection,
    users: &[&str],
    from: NaiveDateTime,
    to: NaiveDateTime,
    in_flows: bool,
) -> QueryResult<Vec<MethodEvent>> {
    let q = method_events::table
        .filter(method_events::user_id.eq_any(users))
        .filter(method_events::occurred_at.ge(from))
        .filter(method_events::occurred_at.le(to))
        .select(MethodEvent::as_select())
        .into_boxed();
    let q = if in_flows {
        q.filter(method_events::activity_id.is_not_null())
    } else {
        q.filter(method_events::activity_id.is_null())
    };
    q.load(conn)
}

/// Removes stored method events by id.
pub fn delete_events(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<usize> {
    let mut n = 0;
    for chunk in ids.chunks(ID_CHUNK) {
        n += diesel::delete(method_events::table.filter(method_events::id.eq_any(chunk)))
            .execute(conn)?;
    }
    Ok(n)
}

/// The stored activities among `ids`.
pub fn activities_by_id(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<Vec<Activity>> {
    activities::table
        .filter(activities::id.eq_any(ids))
        .select(Activity::as_select())
        .load(conn)
}

/// The stored method events of the activities among `ids`.
pub fn events_of_activities(
    conn: &mut DbConnection,
    ids: &[&str],
) -> QueryResult<Vec<MethodEvent>> {
    method_events::table
        .filter(method_events::activity_id.eq_any(ids))
        .select(MethodEvent::as_select())
        .load(conn)
}

/// A stored activity as a later export of its flow has it: its row takes
/// the new facts (and this import as its own), and its method events are
/// removed, for the caller to store the new ones.
pub fn replace_activity(conn: &mut DbConnection, a: &ImportedActivity) -> QueryResult<()> {
    diesel::update(activities::table.find(&a.id))
        .set((
            activities::user_id.eq(&a.user_id),
            activities::user_principal_name.eq(&a.user_principal_name),
            activities::user_display_name.eq(&a.user_display_name),
            activities::user_role.eq(&a.user_role),
            activities::feature.eq(a.feature),
            activities::methods_mask.eq(a.methods_mask),
            activities::result.eq(a.result),
            activities::details.eq(a.details),
            activities::occurred_at.eq(a.occurred_at.at),
            activities::import_id.eq(a.import_id),
        ))
        .execute(conn)?;
    diesel::delete(method_events::table.filter(method_events::activity_id.eq(&a.id)))
        .execute(conn)?;
    Ok(())
}

/// (user principal name, id) of the stored users among `names`.
pub fn user_ids_by_principal_name(
    conn: &mut DbConnection,
    names: &[&str],
) -> QueryResult<Vec<(String, String)>> {
    users::table
        .filter(users::user_principal_name.eq_any(names))
        .select((users::user_principal_name, users::id))
        .load(conn)
}

/// A stored group's display name.
pub fn group_name(conn: &mut DbConnection, id: &str) -> QueryResult<Option<String>> {
    directory_groups::table
        .find(id)
        .select(directory_groups::display_name)
        .first(conn)
        .optional()
}

/// The stored members of a group.
pub fn group_member_ids(conn: &mut DbConnection, group_id: &str) -> QueryResult<HashSet<String>> {
    Ok(group_members::table
        .filter(group_members::group_id.eq(group_id))
        .select(group_members::user_id)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// Takes `user_ids` out of a group.
pub fn remove_members(
    conn: &mut DbConnection,
    group_id: &str,
    user_ids: &[String],
) -> QueryResult<()> {
    for chunk in user_ids.chunks(ID_CHUNK) {
        diesel::delete(
            group_members::table
                .filter(group_members::group_id.eq(group_id))
                .filter(group_members::user_id.eq_any(chunk)),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// (user, method, registered at) of the users among `ids`.
pub fn methods_of(
    conn: &mut DbConnection,
    ids: &[&str],
) -> QueryResult<Vec<(String, i32, Option<NaiveDateTime>)>> {
    user_methods::table
        .filter(user_methods::user_id.eq_any(ids))
        .select((
            user_methods::user_id,
            user_methods::method,
            user_methods::registered_at,
        ))
        .load(conn)
}

/// Forgets a user's registered methods (before the new list is written).
pub fn clear_methods(conn: &mut DbConnection, user_id: &str) -> QueryResult<()> {
    diesel::delete(user_methods::table.filter(user_methods::user_id.eq(user_id)))
        .execute(conn)
        .map(drop)
}

/// The source's names of these users' other methods (users with none are
/// left out).
pub fn other_methods_of(
    conn: &mut DbConnection,
    ids: &[&str],
) -> QueryResult<Vec<(String, String)>> {
    users::table
        .filter(users::id.eq_any(ids))
        .filter(users::other_methods.is_not_null())
        .select((users::id, users::other_methods.assume_not_null()))
        .load(conn)
}

/// Sets the source's names of a user's other methods.
pub fn set_other_methods(
    conn: &mut DbConnection,
    user_id: &str,
    names: Option<&str>,
) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set(users::other_methods.eq(names))
        .execute(conn)
        .map(drop)
}

/// Registers one method.
pub fn add_method(conn: &mut DbConnection, row: &NewUserMethod) -> QueryResult<()> {
    diesel::insert_into(user_methods::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The tables whose rows carry the import that stored them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Activities,
    MethodEvents,
}

/// (id, import) of the stored rows among `ids` (at most [`ID_CHUNK`]).
pub fn import_ids(
    conn: &mut DbConnection,
    table: Stored,
    ids: &[&str],
) -> QueryResult<Vec<(String, i64)>> {
    match table {
        Stored::Activities => activities::table
            .filter(activities::id.eq_any(ids))
            .select((activities::id, activities::import_id))
            .load(conn),
        Stored::MethodEvents => method_events::table
            .filter(method_events::id.eq_any(ids))
            .select((method_events::id, method_events::import_id))
            .load(conn),
    }
}

/// Inserts the rows whose id is new; says for each row whether it was.
/// SQLite: rows go as if all new, in statements of [`SQLITE_ROWS`] prepared
/// once; a statement that meets a stored id stores none of its rows, which
/// then go one by one, each skipped if its id is stored. PostgreSQL:
/// multi-row statements returning the ids they stored.
macro_rules! insert_new {
    ($name:ident, $row:ty, $table:path, $id:path) => {
        pub fn $name(conn: &mut DbConnection, rows: &[$row]) -> QueryResult<Vec<bool>> {
            fn one_by_one(c: &mut SqliteConnection, rows: &[$row]) -> QueryResult<Vec<bool>> {
                rows.iter()
                    .map(|row| {
                        diesel::insert_into($table)
                            .values(row)
                            .on_conflict_do_nothing()
                            .execute(c)
                            .map(|n| n == 1)
                    })
                    .collect()
            }
            match conn {
                DbConnection::Sqlite(c) => {
                    let mut out = Vec::with_capacity(rows.len());
                    let mut full = rows.chunks_exact(SQLITE_ROWS);
                    for chunk in &mut full {
                        let Ok(array) = <&[$row; SQLITE_ROWS]>::try_from(chunk) else {
                            unreachable!("chunks_exact yields whole chunks")
                        };
                        match diesel::insert_into($table).values(array).execute(c) {
                            Ok(_) => out.extend(std::iter::repeat_n(true, SQLITE_ROWS)),
                            Err(DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                                out.extend(one_by_one(c, chunk)?)
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    out.extend(one_by_one(c, full.remainder())?);
                    Ok(out)
                }
                DbConnection::Postgresql(c) => {
                    let mut out = Vec::with_capacity(rows.len());
                    for chunk in rows.chunks(PG_ROWS) {
                        let stored: HashSet<String> = diesel::insert_into($table)
                            .values(chunk)
                            .on_conflict_do_nothing()
                            .returning($id)
                            .get_results::<String>(c)?
                            .into_iter()
                            .collect();
                        // A repeat inside one statement is not stored twice:
                        // only its first row counts as new.
                        let mut firsts = HashSet::new();
                        out.extend(
                            chunk
                                .iter()
                                .map(|r| stored.contains(&r.id) && firsts.insert(r.id.as_str())),
                        );
                    }
                    Ok(out)
                }
            }
        }
    };
}

insert_new!(
    insert_new_activities,
    ImportedActivity,
    activities::table,
    activities::id
);
insert_new!(
    insert_new_events,
    ImportedEvent,
    method_events::table,
    method_events::id
);
