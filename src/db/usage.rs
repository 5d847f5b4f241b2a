//! The usage view's activity figures: password resets and account unlocks
//! per whole UTC day and result, summed from the maintained daily rollup
//! (a few rows per day; never the activities themselves).

use super::schema::activity_counts_daily;
use super::DbConnection;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

/// Activities of one feature with one result on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityDay {
    pub day: NaiveDate,
    pub feature: i32,
    pub result: i32,
    pub count: i64,
}

/// The activities of `features` per day and result, from the day `from`
/// (whole days, up to and including today), oldest first.
pub fn activity_days(
    conn: &mut DbConnection,
    features: &[i32],
    from: NaiveDate,
) -> QueryResult<Vec<ActivityDay>> {
    use activity_counts_daily::dsl as d;
    let rows: Vec<(NaiveDateTime, i32, i32, i64)> = d::activity_counts_daily
        .filter(d::feature.eq_any(features))
        .filter(d::day.ge(from.and_time(chrono::NaiveTime::MIN)))
        .group_by((d::day, d::feature, d::result))
        .order((d::day, d::feature, d::result))
        .select((
            d::day,
            d::feature,
            d::result,
            sql::<BigInt>("CAST(SUM(activity_count) AS BIGINT)"),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(day, feature, result, count)| ActivityDay {
            day: day.date(),
            feature,
            result,
            count,
        })
        .collect())
}
