//! Daily sign-in summaries: one row per day (sign-ins by authentication
//! requirement) and one per day and method. Imports replace a day's row
//! (upserts, so two writers of one day never fail or add up); the usage
//! view reads the days of its window, at most a few dozen rows.

use super::schema::{sign_in_days, sign_in_method_days};
use super::{with_backend, DbConnection};
use crate::domain::sign_in::{SignInDayRecord, SignInMethodRecord};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::upsert::excluded;

/// What storing one summary row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Inserted,
    Updated,
    Unchanged,
}

fn midnight(day: NaiveDate) -> NaiveDateTime {
    day.and_time(chrono::NaiveTime::MIN)
}

/// Stores one day's sign-ins by requirement, replacing what the day had.
pub fn put_day(
    conn: &mut DbConnection,
    r: &SignInDayRecord,
    now: NaiveDateTime,
) -> QueryResult<Put> {
    use sign_in_days::dsl as d;
    let day = midnight(r.day);
    let old: Option<(i64, i64, i64)> = d::sign_in_days
        .find(day)
        .select((d::total_sign_ins, d::single_factor, d::multi_factor))
        .first(conn)
        .optional()?;
    if old == Some((r.total, r.single_factor, r.multi_factor)) {
        return Ok(Put::Unchanged);
    }
    let row = (
        d::day.eq(day),
        d::total_sign_ins.eq(r.total),
        d::single_factor.eq(r.single_factor),
        d::multi_factor.eq(r.multi_factor),
        d::imported_at.eq(now),
    );
    with_backend!(&mut *conn, conn => diesel::insert_into(d::sign_in_days)
        .values(row)
        .on_conflict(d::day)
        .do_update()
        .set((
            d::total_sign_ins.eq(excluded(d::total_sign_ins)),
            d::single_factor.eq(excluded(d::single_factor)),
            d::multi_factor.eq(excluded(d::multi_factor)),
            d::imported_at.eq(excluded(d::imported_at)),
        ))
        .execute(conn))?;
    Ok(if old.is_some() {
        Put::Updated
    } else {
        Put::Inserted
    })
}

/// Stores one day's sign-ins with one method, replacing what it had.
pub fn put_method(conn: &mut DbConnection, r: &SignInMethodRecord) -> QueryResult<Put> {
    use sign_in_method_days::dsl as m;
    let day = midnight(r.day);
    let key = r.method.key();
    let old: Option<i64> = m::sign_in_method_days
        .find((day, key, r.name.as_str()))
        .select(m::sign_ins)
        .first(conn)
        .optional()?;
    if old == Some(r.sign_ins) {
        return Ok(Put::Unchanged);
    }
    let row = (
        m::day.eq(day),
        m::method.eq(key),
        m::method_name.eq(r.name.as_str()),
        m::sign_ins.eq(r.sign_ins),
    );
    with_backend!(&mut *conn, conn => diesel::insert_into(m::sign_in_method_days)
        .values(row)
        .on_conflict((m::day, m::method, m::method_name))
        .do_update()
        .set(m::sign_ins.eq(excluded(m::sign_ins)))
        .execute(conn))?;
    Ok(if old.is_some() {
        Put::Updated
    } else {
        Put::Inserted
    })
}

/// One day's sign-ins by requirement, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInDay {
    pub day: NaiveDate,
    pub total: i64,
    pub single_factor: i64,
    pub multi_factor: i64,
}

/// One day's sign-ins with one method, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInMethodDay {
    pub day: NaiveDate,
    /// A sign-in method key (`other` for a name the portal does not know).
    pub method: String,
    /// The source's name of an `other` method; "" for a known one.
    pub name: String,
    pub sign_ins: i64,
}

/// The days from `from` (inclusive) to `to` (exclusive), oldest first.
pub fn sign_in_days(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<SignInDay>> {
    use sign_in_days::dsl as d;
    let rows: Vec<(NaiveDateTime, i64, i64, i64)> = d::sign_in_days
        .filter(d::day.ge(midnight(from)))
        .filter(d::day.lt(midnight(to)))
        .order(d::day)
        .select((d::day, d::total_sign_ins, d::single_factor, d::multi_factor))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(day, total, single_factor, multi_factor)| SignInDay {
            day: day.date(),
            total,
            single_factor,
            multi_factor,
        })
        .collect())
}

/// The days' sign-ins per method from `from` (inclusive) to `to`
/// (exclusive), oldest first.
pub fn sign_in_method_days(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<SignInMethodDay>> {
    use sign_in_method_days::dsl as m;
    let rows: Vec<(NaiveDateTime, String, String, i64)> = m::sign_in_method_days
        .filter(m::day.ge(midnight(from)))
        .filter(m::day.lt(midnight(to)))
        .order((m::day, m::method, m::method_name))
        .select((m::day, m::method, m::method_name, m::sign_ins))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(day, method, name, sign_ins)| SignInMethodDay {
            day: day.date(),
            method,
            name,
            sign_ins,
        })
        .collect())
}

/// Whether any sign-in summary is stored at all.
pub fn any_sign_ins(conn: &mut DbConnection) -> QueryResult<bool> {
    let day: Option<NaiveDateTime> = sign_in_days::table
        .select(sign_in_days::day)
        .first(conn)
        .optional()?;
    if day.is_some() {
        return Ok(true);
    }
    let method: Option<NaiveDateTime> = sign_in_method_days::table
        .select(sign_in_method_days::day)
        .first(conn)
        .optional()?;
    Ok(method.is_some())
}
