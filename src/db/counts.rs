//! The aggregates kept up to date at write time: users per status, method
//! events and activities per hour. Pages read these instead of scanning.

use super::models::{StatusCountRow, StatusKey};
use super::schema::{
    activity_counts, activity_counts_daily, event_counts, event_counts_daily, portal_state,
    user_status_counts, users,
};
use super::{with_backend, DbConnection};
use crate::domain::filter::TimeWindow;
use chrono::{Duration, NaiveDateTime, Timelike};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::upsert::excluded;
use std::collections::HashMap;

/// The start of the hour `t` falls in: the bucket of the event aggregates.
pub fn hour_bucket(t: NaiveDateTime) -> NaiveDateTime {
    t.date()
        .and_hms_opt(t.hour(), 0, 0)
        .expect("an hour of a valid time is valid")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventBucket {
    pub bucket: NaiveDateTime,
    pub feature: i32,
    pub method: i32,
    pub success: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActivityBucket {
    pub bucket: NaiveDateTime,
    pub feature: i32,
    pub result: i32,
    /// The methods used ([`crate::domain::MethodSet`]).
    pub methods_mask: i32,
}

impl EventBucket {
    pub fn new(occurred_at: NaiveDateTime, feature: i32, method: i32, success: bool) -> Self {
        EventBucket {
            bucket: hour_bucket(occurred_at),
            feature,
            method,
            success,
        }
    }
}

impl ActivityBucket {
    pub fn new(occurred_at: NaiveDateTime, feature: i32, result: i32, methods_mask: i32) -> Self {
        ActivityBucket {
            bucket: hour_bucket(occurred_at),
            feature,
            result,
            methods_mask,
        }
    }
}

/// Adds signed deltas to the users-per-status counts, dropping rows that reach zero.
pub fn add_status_counts(
    conn: &mut DbConnection,
    deltas: &HashMap<StatusKey, i64>,
) -> QueryResult<()> {
    use user_status_counts::dsl as c;
    // Packed keys in order: two writers moving users between the same keys
    // take the rows' locks in the same order.
    let mut packed: Vec<(i64, i64)> = deltas
        .iter()
        .filter(|(_, d)| **d != 0)
        .map(|(k, d)| (k.pack(), *d))
        .collect();
    packed.sort_unstable();
    for (key, delta) in packed {
        let row = (c::status_key.eq(key), c::user_count.eq(delta));
        with_backend!(&mut *conn, conn => diesel::insert_into(c::user_status_counts)
            .values(row)
            .on_conflict(c::status_key)
            .do_update()
            .set(c::user_count.eq(c::user_count + excluded(c::user_count)))
            .execute(conn))?;
    }
    diesel::delete(c::user_status_counts.filter(c::user_count.le(0))).execute(conn)?;
    super::trends::add_history(conn, &super::trends::history_changes(deltas), today())
}

/// The start of today (UTC): the day of the trend history a change goes to.
fn today() -> NaiveDateTime {
    day_bucket(chrono::Utc::now().naive_utc())
}

/// Users per combination of the five statuses, from the status counts.
fn users_per_status(conn: &mut DbConnection) -> QueryResult<HashMap<i32, i64>> {
    let mut users: HashMap<i32, i64> = HashMap::new();
    for row in status_count_rows(conn)? {
        *users
            .entry(super::trends::status_bits(&row.key()))
            .or_default() += row.user_count;
    }
    Ok(users)
}

/// Recounts users per status from the users table (after bulk loads and
/// policy changes, which touch every user anyway).
pub fn rebuild_status_counts(conn: &mut DbConnection) -> QueryResult<()> {
    use user_status_counts::dsl as c;
    let before = users_per_status(conn)?;
    diesel::delete(c::user_status_counts).execute(conn)?;
    let grouped = users::table
        .group_by(users::status_key)
        .select((users::status_key, count_star()));
    diesel::insert_into(c::user_status_counts)
        .values(grouped)
        .into_columns((c::status_key, c::user_count))
        .execute(conn)?;
    // The trend history gains what the recount changed.
    let mut changes = users_per_status(conn)?;
    for (status, n) in before {
        *changes.entry(status).or_default() -= n;
    }
    super::trends::add_history(conn, &changes, today())
}

/// Every row of the users-per-status aggregate (a few thousand at most).
pub fn status_count_rows(conn: &mut DbConnection) -> QueryResult<Vec<StatusCountRow>> {
    user_status_counts::table
        .select(StatusCountRow::as_select())
        .load(conn)
}

pub fn add_event_counts(
    conn: &mut DbConnection,
    deltas: &HashMap<EventBucket, i64>,
) -> QueryResult<()> {
    use event_counts::dsl as c;
    for (key, delta) in deltas.iter().filter(|(_, d)| **d != 0) {
        let row = (
            c::bucket.eq(key.bucket),
            c::feature.eq(key.feature),
            c::method.eq(key.method),
            c::success.eq(key.success),
            c::event_count.eq(*delta),
        );
        with_backend!(&mut *conn, conn => diesel::insert_into(c::event_counts)
            .values(row)
            .on_conflict((c::bucket, c::feature, c::method, c::success))
            .do_update()
            .set(c::event_count.eq(c::event_count + excluded(c::event_count)))
            .execute(conn))?;
    }
    diesel::delete(c::event_counts.filter(c::event_count.le(0))).execute(conn)?;
    add_daily_event_counts(conn, deltas)
}

/// The start of the day `t` falls in: the bucket of the daily rollup.
pub fn day_bucket(t: NaiveDateTime) -> NaiveDateTime {
    t.date().and_time(chrono::NaiveTime::MIN)
}

/// Which table of counts a span of a window is summed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollup {
    Hourly,
    Daily,
}

/// A part of a time window, `[from, to)` (no `to`: no upper bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub rollup: Rollup,
    pub from: NaiveDateTime,
    pub to: Option<NaiveDateTime>,
}

/// Splits a window into the spans its counts are summed from: whole days
/// from a daily rollup, the hours before the first whole day (and after the
/// last, for a window with an end) from the hourly counts. Exact, because
/// windows start and end on whole hours.
pub fn window_spans(window: TimeWindow) -> Vec<Span> {
    let span = |rollup, from, to| Span { rollup, from, to };
    let first_day = {
        let d = day_bucket(window.start);
        if d == window.start {
            d
        } else {
            d + Duration::days(1)
        }
    };
    match window.end {
        None => vec![
            span(Rollup::Hourly, window.start, Some(first_day)),
            span(Rollup::Daily, first_day, None),
        ],
        Some(end) => {
            let last_day = day_bucket(end);
            if last_day <= first_day {
                vec![span(Rollup::Hourly, window.start, Some(end))]
            } else {
                vec![
                    span(Rollup::Hourly, window.start, Some(first_day)),
                    span(Rollup::Daily, first_day, Some(last_day)),
                    span(Rollup::Hourly, last_day, Some(end)),
                ]
            }
        }
    }
}

/// Moves the daily rollup with the hourly deltas.
fn add_daily_event_counts(
    conn: &mut DbConnection,
    hourly: &HashMap<EventBucket, i64>,
) -> QueryResult<()> {
    use event_counts_daily::dsl as c;
    let mut daily: HashMap<EventBucket, i64> = HashMap::new();
    for (key, delta) in hourly {
        *daily
            .entry(EventBucket {
                bucket: day_bucket(key.bucket),
                ..*key
            })
            .or_default() += delta;
    }
    for (key, delta) in daily.iter().filter(|(_, d)| **d != 0) {
        let row = (
            c::day.eq(key.bucket),
            c::feature.eq(key.feature),
            c::method.eq(key.method),
            c::success.eq(key.success),
            c::event_count.eq(*delta),
        );
        with_backend!(&mut *conn, conn => diesel::insert_into(c::event_counts_daily)
            .values(row)
            .on_conflict((c::day, c::feature, c::method, c::success))
            .do_update()
            .set(c::event_count.eq(c::event_count + excluded(c::event_count)))
            .execute(conn))?;
    }
    diesel::delete(c::event_counts_daily.filter(c::event_count.le(0))).execute(conn)?;
    Ok(())
}

/// Adds signed deltas to the hourly activity counts and their daily rollup,
/// dropping rows that reach zero.
pub fn add_activity_counts(
    conn: &mut DbConnection,
    deltas: &HashMap<ActivityBucket, i64>,
) -> QueryResult<()> {
    use activity_counts::dsl as c;
    use activity_counts_daily::dsl as d;
    let mut daily: HashMap<ActivityBucket, i64> = HashMap::new();
    for (key, delta) in deltas.iter().filter(|(_, d)| **d != 0) {
        let row = (
            c::bucket.eq(key.bucket),
            c::feature.eq(key.feature),
            c::result.eq(key.result),
            c::methods_mask.eq(key.methods_mask),
            c::activity_count.eq(*delta),
        );
        with_backend!(&mut *conn, conn => diesel::insert_into(c::activity_counts)
            .values(row)
            .on_conflict((c::bucket, c::feature, c::result, c::methods_mask))
            .do_update()
            .set(c::activity_count.eq(c::activity_count + excluded(c::activity_count)))
            .execute(conn))?;
        let day = ActivityBucket {
            bucket: day_bucket(key.bucket),
            ..*key
        };
        *daily.entry(day).or_default() += delta;
    }
    diesel::delete(c::activity_counts.filter(c::activity_count.le(0))).execute(conn)?;
    for (key, delta) in daily.iter().filter(|(_, d)| **d != 0) {
        let row = (
            d::day.eq(key.bucket),
            d::feature.eq(key.feature),
            d::result.eq(key.result),
            d::methods_mask.eq(key.methods_mask),
            d::activity_count.eq(*delta),
        );
        with_backend!(&mut *conn, conn => diesel::insert_into(d::activity_counts_daily)
            .values(row)
            .on_conflict((d::day, d::feature, d::result, d::methods_mask))
            .do_update()
            .set(d::activity_count.eq(d::activity_count + excluded(d::activity_count)))
            .execute(conn))?;
    }
    diesel::delete(d::activity_counts_daily.filter(d::activity_count.le(0))).execute(conn)?;
    Ok(())
}

/// Records that the data changed now: the "Last refreshed" time of the
/// pages, and a new data version (in the writer's transaction, so a reader
/// sees the new version and the new data together).
pub fn touch_data_changed(conn: &mut DbConnection, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(portal_state::table.find(1))
        .set((
            portal_state::data_changed_at.eq(at),
            portal_state::data_version.eq(portal_state::data_version + 1),
        ))
        .execute(conn)?;
    Ok(())
}

/// The data's "Last refreshed" time and version: figures computed after
/// reading a version stay valid while the version is unchanged.
pub fn data_state(conn: &mut DbConnection) -> QueryResult<(NaiveDateTime, i64)> {
    portal_state::table
        .find(1)
        .select((portal_state::data_changed_at, portal_state::data_version))
        .first(conn)
}

/// Method events stored (a count of the table: for the bench, not for pages).
pub fn stored_event_count(conn: &mut DbConnection) -> QueryResult<i64> {
    super::schema::method_events::table.count().get_result(conn)
}

pub fn data_changed_at(conn: &mut DbConnection) -> QueryResult<NaiveDateTime> {
    portal_state::table
        .find(1)
        .select(portal_state::data_changed_at)
        .first(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn buckets_are_the_start_of_the_hour() {
        let t = NaiveDate::from_ymd_opt(2026, 11, 23)
            .unwrap()
            .and_hms_milli_opt(13, 59, 59, 999)
            .unwrap();
        assert_eq!(
            hour_bucket(t),
            NaiveDate::from_ymd_opt(2026, 11, 23)
                .unwrap()
                .and_hms_opt(13, 0, 0)
                .unwrap()
        );
    }
}
