//! Retention: events older than a cut-off are removed, and the maintained
//! counts move with them, so every chart and count still equals the events
//! that remain.

use super::counts::{day_bucket, hour_bucket, touch_data_changed};
use super::schema::{
    activities, activity_counts, activity_counts_daily, event_counts, event_counts_daily,
    method_events, portal_state,
};
use super::DbConnection;
use crate::domain::Feature;
use chrono::{Duration, NaiveDateTime};
use diesel::dsl::count_star;
use diesel::prelude::*;
use std::collections::HashMap;

/// The retention setting's bounds, in days.
pub const MIN_DAYS: i32 = 1;
pub const MAX_DAYS: i32 = 3_650;

pub fn retention_days(conn: &mut DbConnection) -> QueryResult<i32> {
    portal_state::table
        .find(1)
        .select(portal_state::retention_days)
        .first(conn)
}

pub fn set_retention_days(conn: &mut DbConnection, days: i32) -> QueryResult<()> {
    diesel::update(portal_state::table.find(1))
        .set(portal_state::retention_days.eq(days.clamp(MIN_DAYS, MAX_DAYS)))
        .execute(conn)?;
    Ok(())
}

/// What a prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub activities: u64,
    pub events: u64,
}

/// Removes activities and method events that occurred before `cutoff`, in
/// one transaction with the counts.
pub fn prune(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<Pruned> {
    super::write(conn, |conn| {
        let mut pruned = Pruned::default();
        for feature in Feature::ALL {
            pruned.events += diesel::delete(
                method_events::table
                    .filter(method_events::feature.eq(feature.code()))
                    .filter(method_events::occurred_at.lt(cutoff)),
            )
            .execute(conn)? as u64;
            pruned.activities += diesel::delete(
                activities::table
                    .filter(activities::feature.eq(feature.code()))
                    .filter(activities::occurred_at.lt(cutoff)),
            )
            .execute(conn)? as u64;
        }
        let hour = hour_bucket(cutoff);
        diesel::delete(event_counts::table.filter(event_counts::bucket.lt(hour))).execute(conn)?;
        diesel::delete(activity_counts::table.filter(activity_counts::bucket.lt(hour)))
            .execute(conn)?;
        if cutoff != hour {
            recount_event_hour(conn, hour)?;
            recount_activity_hour(conn, hour)?;
        }
        let day = day_bucket(cutoff);
        diesel::delete(event_counts_daily::table.filter(event_counts_daily::day.lt(day)))
            .execute(conn)?;
        diesel::delete(activity_counts_daily::table.filter(activity_counts_daily::day.lt(day)))
            .execute(conn)?;
        if cutoff != day {
            recount_days(conn, day)?;
        }
        // The trend history keeps the window's figures; users' changes
        // before it go.
        super::trends::prune(conn, cutoff)?;
        if pruned.events + pruned.activities > 0 {
            touch_data_changed(conn, now)?;
        }
        Ok(pruned)
    })
}

/// Recounts the hourly event counts of `hour` from the events left in it.
fn recount_event_hour(conn: &mut DbConnection, hour: NaiveDateTime) -> QueryResult<()> {
    use event_counts::dsl as c;
    let rows: Vec<(i32, i32, bool, i64)> = method_events::table
        .filter(method_events::occurred_at.ge(hour))
        .filter(method_events::occurred_at.lt(hour + Duration::hours(1)))
        .group_by((
            method_events::feature,
            method_events::method,
            method_events::success,
        ))
        .select((
            method_events::feature,
            method_events::method,
            method_events::success,
            count_star(),
        ))
        .load(conn)?;
    diesel::delete(c::event_counts.filter(c::bucket.eq(hour))).execute(conn)?;
    for (feature, method, success, n) in rows {
        diesel::insert_into(c::event_counts)
            .values((
                c::bucket.eq(hour),
                c::feature.eq(feature),
                c::method.eq(method),
                c::success.eq(success),
                c::event_count.eq(n),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn recount_activity_hour(conn: &mut DbConnection, hour: NaiveDateTime) -> QueryResult<()> {
    use activity_counts::dsl as c;
    let mut rows: Vec<(i32, i32, i32, i64)> = Vec::new();
    for feature in Feature::ALL {
        rows.extend(
            activities::table
                .filter(activities::feature.eq(feature.code()))
                .filter(activities::occurred_at.ge(hour))
                .filter(activities::occurred_at.lt(hour + Duration::hours(1)))
                .group_by((
                    activities::feature,
                    activities::result,
                    activities::methods_mask,
                ))
                .select((
                    activities::feature,
                    activities::result,
                    activities::methods_mask,
                    count_star(),
                ))
                .load::<(i32, i32, i32, i64)>(conn)?,
        );
    }
    diesel::delete(c::activity_counts.filter(c::bucket.eq(hour))).execute(conn)?;
    for (feature, result, mask, n) in rows {
        diesel::insert_into(c::activity_counts)
            .values((
                c::bucket.eq(hour),
                c::feature.eq(feature),
                c::result.eq(result),
                c::methods_mask.eq(mask),
                c::activity_count.eq(n),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Recounts the daily rollups of `day` from its hourly counts.
fn recount_days(conn: &mut DbConnection, day: NaiveDateTime) -> QueryResult<()> {
    let next = day + Duration::days(1);
    let hourly: Vec<(i32, i32, bool, i64)> = event_counts::table
        .filter(event_counts::bucket.ge(day))
        .filter(event_counts::bucket.lt(next))
        .select((
            event_counts::feature,
            event_counts::method,
            event_counts::success,
            event_counts::event_count,
        ))
        .load(conn)?;
    let mut events: HashMap<(i32, i32, bool), i64> = HashMap::new();
    for (f, m, s, n) in hourly {
        *events.entry((f, m, s)).or_default() += n;
    }
    diesel::delete(event_counts_daily::table.filter(event_counts_daily::day.eq(day)))
        .execute(conn)?;
    for ((feature, method, success), n) in events {
        diesel::insert_into(event_counts_daily::table)
            .values((
                event_counts_daily::day.eq(day),
                event_counts_daily::feature.eq(feature),
                event_counts_daily::method.eq(method),
                event_counts_daily::success.eq(success),
                event_counts_daily::event_count.eq(n),
            ))
            .execute(conn)?;
    }
    let hourly: Vec<(i32, i32, i32, i64)> = activity_counts::table
        .filter(activity_counts::bucket.ge(day))
        .filter(activity_counts::bucket.lt(next))
        .select((
            activity_counts::feature,
            activity_counts::result,
            activity_counts::methods_mask,
            activity_counts::activity_count,
        ))
        .load(conn)?;
    let mut acts: HashMap<(i32, i32, i32), i64> = HashMap::new();
    for (f, r, m, n) in hourly {
        *acts.entry((f, r, m)).or_default() += n;
    }
    diesel::delete(activity_counts_daily::table.filter(activity_counts_daily::day.eq(day)))
        .execute(conn)?;
    for ((feature, result, mask), n) in acts {
        diesel::insert_into(activity_counts_daily::table)
            .values((
                activity_counts_daily::day.eq(day),
                activity_counts_daily::feature.eq(feature),
                activity_counts_daily::result.eq(result),
                activity_counts_daily::methods_mask.eq(mask),
                activity_counts_daily::activity_count.eq(n),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Parses an age such as `30d`, `12h` or `90m`.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = number.parse().map_err(|_| {
        format!("\"{text}\" is not an age: write a number and a unit, e.g. 30d, 12h or 90m")
    })?;
    let age = match unit {
        "d" => Duration::days(n),
        "h" => Duration::hours(n),
        "m" => Duration::minutes(n),
        _ => {
            return Err(format!(
                "\"{text}\": the unit must be d (days), h (hours) or m (minutes)"
            ))
        }
    };
    if n == 0 {
        return Err("the age must be more than zero".into());
    }
    Ok(age)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_have_a_unit() {
        assert_eq!(parse_age("30d"), Ok(Duration::days(30)));
        assert_eq!(parse_age("12h"), Ok(Duration::hours(12)));
        assert!(parse_age("30").unwrap_err().contains("unit"));
        assert!(parse_age("d").unwrap_err().contains("not an age"));
        assert!(parse_age("0d").is_err());
    }
}
