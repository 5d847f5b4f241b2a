//! The stored activities, method events and their maintained aggregates,
//! and the same aggregates counted afresh from the rows: a test compares
//! the two after any writes.

use authinsights::db::counts::{day_bucket, hour_bucket};
use authinsights::db::models::{Activity, MethodEvent};
use authinsights::db::schema::{
    activities, activity_counts, activity_counts_daily, event_counts, event_counts_daily,
    method_events,
};
use authinsights::db::DbConnection;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::BTreeMap;

pub fn stored_activities(conn: &mut DbConnection) -> Vec<Activity> {
    activities::table
        .order(activities::id)
        .select(Activity::as_select())
        .load(conn)
        .unwrap()
}

pub fn stored_events(conn: &mut DbConnection) -> Vec<MethodEvent> {
    method_events::table
        .order(method_events::id)
        .select(MethodEvent::as_select())
        .load(conn)
        .unwrap()
}

/// (bucket, feature, method, success) → events
pub type EventCounts = BTreeMap<(NaiveDateTime, i32, i32, bool), i64>;
/// (bucket, feature, result, methods used) → activities
pub type ActivityCounts = BTreeMap<(NaiveDateTime, i32, i32, i32), i64>;

/// The four event aggregates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Aggregates {
    pub events_hourly: EventCounts,
    pub events_daily: EventCounts,
    pub activities_hourly: ActivityCounts,
    pub activities_daily: ActivityCounts,
}

impl Aggregates {
    pub fn total_events(&self) -> (i64, i64) {
        (
            self.events_hourly.values().sum(),
            self.events_daily.values().sum(),
        )
    }
}

/// The aggregates as stored.
pub fn stored_aggregates(conn: &mut DbConnection) -> Aggregates {
    let events_hourly: Vec<(NaiveDateTime, i32, i32, bool, i64)> = event_counts::table
        .select((
            event_counts::bucket,
            event_counts::feature,
            event_counts::method,
            event_counts::success,
            event_counts::event_count,
        ))
        .load(conn)
        .unwrap();
    let events_daily: Vec<(NaiveDateTime, i32, i32, bool, i64)> = event_counts_daily::table
        .select((
            event_counts_daily::day,
            event_counts_daily::feature,
            event_counts_daily::method,
            event_counts_daily::success,
            event_counts_daily::event_count,
        ))
        .load(conn)
        .unwrap();
    let activities_hourly: Vec<(NaiveDateTime, i32, i32, i32, i64)> = activity_counts::table
        .select((
            activity_counts::bucket,
            activity_counts::feature,
            activity_counts::result,
            activity_counts::methods_mask,
            activity_counts::activity_count,
        ))
        .load(conn)
        .unwrap();
    let activities_daily: Vec<(NaiveDateTime, i32, i32, i32, i64)> = activity_counts_daily::table
        .select((
            activity_counts_daily::day,
            activity_counts_daily::feature,
            activity_counts_daily::result,
            activity_counts_daily::methods_mask,
            activity_counts_daily::activity_count,
        ))
        .load(conn)
        .unwrap();
    let events = |rows: Vec<(NaiveDateTime, i32, i32, bool, i64)>| {
        rows.into_iter()
            .map(|(b, f, m, s, n)| ((b, f, m, s), n))
            .collect::<EventCounts>()
    };
    let acts = |rows: Vec<(NaiveDateTime, i32, i32, i32, i64)>| {
        rows.into_iter()
            .map(|(b, f, r, m, n)| ((b, f, r, m), n))
            .collect::<ActivityCounts>()
    };
    Aggregates {
        events_hourly: events(events_hourly),
        events_daily: events(events_daily),
        activities_hourly: acts(activities_hourly),
        activities_daily: acts(activities_daily),
    }
}

/// The aggregates counted afresh from activities and events.
pub fn recount(acts: &[Activity], events: &[MethodEvent]) -> Aggregates {
    let mut out = Aggregates::default();
    for e in events {
        for (map, bucket) in [
            (&mut out.events_hourly, hour_bucket(e.occurred_at)),
            (&mut out.events_daily, day_bucket(e.occurred_at)),
        ] {
            *map.entry((bucket, e.feature, e.method, e.success))
                .or_default() += 1;
        }
    }
    for a in acts {
        for (map, bucket) in [
            (&mut out.activities_hourly, hour_bucket(a.occurred_at)),
            (&mut out.activities_daily, day_bucket(a.occurred_at)),
        ] {
            *map.entry((bucket, a.feature, a.result, a.methods_mask))
                .or_default() += 1;
        }
    }
    out
}
