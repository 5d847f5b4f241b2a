//! Sign-in throttling: attempts per account and per client address within a
//! window lock that subject for a while. An attempt is counted before its
//! password is checked ([`reserve`]) and given back when it was right
//! ([`release`]), so the count is exact under any concurrency.

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

/// What asking for an attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt may be verified. `locks` is set when this attempt was the
    /// last the limit allows: the subject is locked from now until then,
    /// unless this attempt turns out right (see [`release`]).
    Granted { locks: Option<NaiveDateTime> },
    /// The subject is locked (or its last allowed attempts are being checked
    /// right now) until about then; nothing may be verified.
    Locked(NaiveDateTime),
}

/// Takes one attempt for `subject` *before* its password is verified, so
/// however many attempts arrive at once, on however many instances, at most
/// `max_failures` are verified per window. Each step is one statement, which
/// both backends apply atomically to the row (PostgreSQL re-checks the
/// condition on the row a concurrent update left; SQLite runs writers one at
/// a time), and none holds a lock while a password is checked.
pub fn reserve(
    conn: &mut DbConnection,
    subject: &str,
    limits: Limits,
    now: NaiveDateTime,
) -> QueryResult<Reservation> {
    // A row for the subject; of two first attempts at once, one inserts it.
    super::with_backend!(conn, c => diesel::insert_into(t::table)
        .values((
            t::subject.eq(subject),
            t::failures.eq(0),
            t::first_failure_at.eq(now),
            t::locked_until.eq(None::<NaiveDateTime>),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    // A count whose window has passed, or a lock that has run out, starts again.
    diesel::update(
        t::table.find(subject).filter(
            t::locked_until.le(now).or(t::locked_until
                .is_null()
                .and(t::first_failure_at.le(now - limits.window))),
        ),
    )
    .set((
        t::failures.eq(0),
        t::first_failure_at.eq(now),
        t::locked_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    // Take an attempt while fewer than the limit are taken and no lock holds.
    let taken: Option<i32> = super::with_backend!(conn, c => diesel::update(
        t::table
            .find(subject)
            .filter(t::failures.lt(limits.max_failures))
            .filter(t::locked_until.is_null()),
    )
    .set(t::failures.eq(t::failures + 1))
    .returning(t::failures)
    .get_result(c)
    .optional())?;
    match taken {
        Some(n) if n >= limits.max_failures => {
            let until = now + limits.lock;
            diesel::update(t::table.find(subject))
                .set(t::locked_until.eq(Some(until)))
                .execute(conn)?;
            Ok(Reservation::Granted { locks: Some(until) })
        }
        Some(_) => Ok(Reservation::Granted { locks: None }),
        None => {
            let until: Option<Option<NaiveDateTime>> = t::table
                .find(subject)
                .select(t::locked_until)
                .first(conn)
                .optional()?;
            Ok(Reservation::Locked(
                until.flatten().unwrap_or(now + limits.lock),
            ))
        }
    }
}

/// Gives back an attempt [`reserve`] granted that was not a wrong password
/// (it was right, or another subject refused it): it no longer counts, and a
/// lock it set is lifted.
pub fn release(conn: &mut DbConnection, subject: &str, granted: Reservation) -> QueryResult<()> {
    let Reservation::Granted { locks } = granted else {
        return Ok(());
    };
    let row = t::table.find(subject).filter(t::failures.gt(0));
    match locks {
        Some(until) => diesel::update(row.filter(t::locked_until.eq(until)))
            .set((
                t::failures.eq(t::failures - 1),
                t::locked_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)
            .map(drop),
        None => diesel::update(row.filter(t::locked_until.is_null()))
            .set(t::failures.eq(t::failures - 1))
            .execute(conn)
            .map(drop),
    }
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
