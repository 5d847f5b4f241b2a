//! Sign-in throttling: failures per account and per client address within a
//! window lock that subject for a while.

use super::schema::sign_in_throttle as t;
use super::DbConnection;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

/// How many failures lock a subject, within which window, for how long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_failures: i32,
    pub window: Duration,
    pub lock: Duration,
}

pub fn account_subject(username: &str) -> String {
    format!("account:{}", username.to_lowercase())
}

pub fn address_subject(address: &str) -> String {
    format!("address:{address}")
}

/// The end of the subject's lock, when it is locked at `now`.
pub fn locked_until(
    conn: &mut DbConnection,
    subject: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<NaiveDateTime>> {
    let until: Option<Option<NaiveDateTime>> = t::table
        .find(subject)
        .select(t::locked_until)
        .first(conn)
        .optional()?;
    Ok(until.flatten().filter(|u| *u > now))
}

/// Counts one failure; returns the lock's end when this failure locks the subject.
pub fn record_failure(
    conn: &mut DbConnection,
    subject: &str,
    limits: Limits,
    now: NaiveDateTime,
) -> QueryResult<Option<NaiveDateTime>> {
    conn.transaction(|conn| {
        let row: Option<(i32, NaiveDateTime)> = t::table
            .find(subject)
            .select((t::failures, t::first_failure_at))
            .first(conn)
            .optional()?;
        let (failures, first) = match row {
            Some((n, first)) if now - first < limits.window => (n + 1, first),
            _ => (1, now),
        };
        let lock = (failures >= limits.max_failures).then(|| now + limits.lock);
        // A lock starts a fresh count for when it ends.
        let (stored_failures, stored_first) = if lock.is_some() {
            (0, now)
        } else {
            (failures, first)
        };
        let changed = diesel::update(t::table.find(subject))
            .set((
                t::failures.eq(stored_failures),
                t::first_failure_at.eq(stored_first),
                t::locked_until.eq(lock),
            ))
            .execute(conn)?;
        if changed == 0 {
            diesel::insert_into(t::table)
                .values((
                    t::subject.eq(subject),
                    t::failures.eq(stored_failures),
                    t::first_failure_at.eq(stored_first),
                    t::locked_until.eq(lock),
                ))
                .execute(conn)?;
        }
        Ok(lock)
    })
}

/// Forgets a subject's failures and lock (a good sign-in, or an administrator's unlock).
pub fn clear(conn: &mut DbConnection, subject: &str) -> QueryResult<()> {
    diesel::delete(t::table.find(subject))
        .execute(conn)
        .map(drop)
}

/// Subjects locked at `now`, with the end of each lock.
pub fn current_locks(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> QueryResult<Vec<(String, NaiveDateTime)>> {
    let rows: Vec<(String, Option<NaiveDateTime>)> = t::table
        .filter(t::locked_until.gt(now))
        .select((t::subject, t::locked_until))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(s, u)| u.map(|u| (s, u)))
        .collect())
}

/// Forgets counts whose window has passed and locks that have run out, so
/// guessed names do not pile up.
pub fn purge_stale(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    window: Duration,
) -> QueryResult<usize> {
    diesel::delete(
        t::table
            .filter(t::first_failure_at.lt(now - window))
            .filter(t::locked_until.is_null().or(t::locked_until.lt(now))),
    )
    .execute(conn)
}
