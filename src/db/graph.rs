//! Reads for the Graph-compatible endpoints (`/graph/v1.0`, `/graph/beta`):
//! activities with their method events, method events with their users'
//! names, and directory users, each in a stable order with a keyset
//! position, so that a page costs the same however deep it is.

use super::models::{Activity, ListUser, MethodEvent};
use super::schema::{activities, method_events, users};
use super::DbConnection;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

type Db = <DbConnection as diesel::Connection>::Backend;

/// A span of time, either end open, both ends included; for activities,
/// also the features read (`None`: all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Span {
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Feature codes ([`crate::domain::Feature::code`]).
    pub features: Option<&'static [i32]>,
    /// One user's rows only: `Some(None)` for those of no known user.
    pub user: Option<Option<String>>,
}

/// A keyset position in time order: the (time, id) of the last row read.
pub type TimeKey = (NaiveDateTime, String);

/// Up to `limit` activities in `span`, after `after`, oldest or newest
/// first, each with its method events.
pub fn activities_with_events(
    conn: &mut DbConnection,
    span: &Span,
    after: Option<&TimeKey>,
    newest_first: bool,
    limit: i64,
) -> QueryResult<Vec<(Activity, Vec<MethodEvent>)>> {
    let mut q = activities::table.into_boxed::<Db>();
    if let Some(features) = span.features {
        q = q.filter(activities::feature.eq_any(features));
    }
    match &span.user {
        Some(Some(id)) => q = q.filter(activities::user_id.eq(id.clone())),
        Some(None) => q = q.filter(activities::user_id.is_null()),
        None => {}
    }
    if let Some(from) = span.from {
        q = q.filter(activities::occurred_at.ge(from));
    }
    if let Some(to) = span.to {
        q = q.filter(activities::occurred_at.le(to));
    }
    if let Some((t, id)) = after {
        q = if newest_first {
            q.filter(
                activities::occurred_at.lt(*t).or(activities::occurred_at
                    .eq(*t)
                    .and(activities::id.lt(id.clone()))),
            )
        } else {
            q.filter(
                activities::occurred_at.gt(*t).or(activities::occurred_at
                    .eq(*t)
                    .and(activities::id.gt(id.clone()))),
            )
        };
    }
    q = if newest_first {
        q.order((activities::occurred_at.desc(), activities::id.desc()))
    } else {
        q.order((activities::occurred_at.asc(), activities::id.asc()))
    };
    let rows: Vec<Activity> = q.select(Activity::as_select()).limit(limit).load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|a| a.id.as_str()).collect();
    let mut events: HashMap<String, Vec<MethodEvent>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let found: Vec<MethodEvent> = method_events::table
            .filter(method_events::activity_id.eq_any(chunk))
            .select(MethodEvent::as_select())
            .load(conn)?;
        for e in found {
            let key = e.activity_id.clone().unwrap_or_default();
            events.entry(key).or_default().push(e);
        }
    }
    Ok(rows
        .into_iter()
        .map(|a| {
            let mut own = events.remove(&a.id).unwrap_or_default();
            own.sort_by(|x, y| x.occurred_at.cmp(&y.occurred_at).then(x.id.cmp(&y.id)));
            (a, own)
        })
        .collect())
}

/// A method event with the user's names: the directory's now, else those
/// the event carried.
#[derive(Debug, Clone)]
pub struct NamedEvent {
    pub event: MethodEvent,
    pub user_principal_name: Option<String>,
    pub user_display_name: Option<String>,
}

/// Up to `limit` method events in `span`, after `after`, oldest or newest
/// first.
pub fn events_with_names(
    conn: &mut DbConnection,
    span: &Span,
    after: Option<&TimeKey>,
    newest_first: bool,
    limit: i64,
) -> QueryResult<Vec<NamedEvent>> {
    let mut q = method_events::table.into_boxed::<Db>();
    if let Some(Some(id)) = &span.user {
        q = q.filter(method_events::user_id.eq(id.clone()));
    }
    if let Some(from) = span.from {
        q = q.filter(method_events::occurred_at.ge(from));
    }
    if let Some(to) = span.to {
        q = q.filter(method_events::occurred_at.le(to));
    }
    if let Some((t, id)) = after {
        q = if newest_first {
            q.filter(
                method_events::occurred_at
                    .lt(*t)
                    .or(method_events::occurred_at
                        .eq(*t)
                        .and(method_events::id.lt(id.clone()))),
            )
        } else {
            q.filter(
                method_events::occurred_at
                    .gt(*t)
                    .or(method_events::occurred_at
                        .eq(*t)
                        .and(method_events::id.gt(id.clone()))),
            )
        };
    }
    q = if newest_first {
        q.order((method_events::occurred_at.desc(), method_events::id.desc()))
    } else {
        q.order((method_events::occurred_at.asc(), method_events::id.asc()))
    };
    let rows: Vec<(MethodEvent, Option<String>, Option<String>)> = q
        .select((
            MethodEvent::as_select(),
            method_events::user_principal_name,
            method_events::user_display_name,
        ))
        .limit(limit)
        .load(conn)?;
    let mut ids: Vec<&str> = rows.iter().map(|e| e.0.user_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut names: HashMap<String, (String, String)> = HashMap::new();
    for chunk in ids.chunks(500) {
        let found: Vec<(String, String, String)> = users::table
            .filter(users::id.eq_any(chunk))
            .select((users::id, users::user_principal_name, users::display_name))
            .load(conn)?;
        for (id, upn, name) in found {
            names.insert(id, (upn, name));
        }
    }
    Ok(rows
        .into_iter()
        .map(|(event, own_upn, own_name)| {
            let (upn, name) = match names.get(&event.user_id) {
                Some((upn, name)) => (Some(upn.clone()), Some(name.clone())),
                None => (own_upn, own_name),
            };
            NamedEvent {
                event,
                user_principal_name: upn.filter(|u| !u.is_empty()),
                user_display_name: name.filter(|n| !n.is_empty()),
            }
        })
        .collect())
}

/// The users whose principal name is `upn` as written, or else in lower
/// case (the directory keeps principal names unique ignoring case, so a
/// hit is the one match); two indexed lookups at most.
pub fn list_users_by_upn(conn: &mut DbConnection, upn: &str) -> QueryResult<Vec<ListUser>> {
    let lower = upn.to_lowercase();
    for name in [upn, lower.as_str()] {
        let found: Vec<ListUser> = users::table
            .filter(users::user_principal_name.eq(name))
            .select(ListUser::as_select())
            .load(conn)?;
        if !found.is_empty() {
            return Ok(found);
        }
    }
    Ok(Vec::new())
}

/// One user's registration row, as the lists read it.
pub fn list_user(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ListUser>> {
    users::table
        .find(id)
        .select(ListUser::as_select())
        .first(conn)
        .optional()
}

/// A directory user as Graph's `users` lists it.
#[derive(Debug, Clone, Queryable)]
pub struct DirectoryUser {
    pub id: String,
    pub display_name: String,
    pub user_principal_name: String,
    pub is_guest: bool,
    pub account_enabled: Option<bool>,
}

/// Up to `limit` directory users after the id `after`, in id order.
pub fn directory_users(
    conn: &mut DbConnection,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<DirectoryUser>> {
    let mut q = users::table.into_boxed::<Db>();
    if let Some(after) = after {
        q = q.filter(users::id.gt(after.to_string()));
    }
    q.order(users::id.asc())
        .select((
            users::id,
            users::display_name,
            users::user_principal_name,
            users::is_guest,
            users::account_enabled,
        ))
        .limit(limit)
        .load(conn)
}
