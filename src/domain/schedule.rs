//! When a subscription runs: daily, weekly on a weekday or monthly on a day,
//! at a whole hour of a time zone's wall clock.
//!
//! The hour is the zone's local hour, so a 07:00 delivery stays at 07:00
//! across a daylight-saving change (and moves in UTC). Two local hours need
//! a rule of their own:
//! - an hour the clocks skip (02:00 on the spring change in Europe) runs at
//!   the first instant after the gap (03:00 local): the run happens that
//!   day, an hour late on the wall clock, never not at all;
//! - an hour the clocks repeat (01:00 on the autumn change in New York)
//!   runs at its first occurrence: once, never twice.
//!
//! A monthly run on a day a month lacks (the 31st in April) runs on that
//! month's last day.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use std::fmt;

/// How often: every day, a weekday of every week, a day of every month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Daily,
    Weekly(Weekday),
    /// 1–31; a month without that day runs on its last day.
    Monthly(u32),
}

/// A subscription's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub frequency: Frequency,
    /// 0–23, local to `zone`.
    pub hour: u32,
    pub zone: Tz,
}

/// Why a schedule's fields were refused: the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ScheduleError {
    pub field: &'static str,
    pub reason: String,
}

fn refuse(field: &'static str, reason: impl Into<String>) -> ScheduleError {
    ScheduleError {
        field,
        reason: reason.into(),
    }
}

/// The weekdays as the form and the database name them, Monday first.
pub const WEEKDAYS: [(&str, Weekday); 7] = [
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
];

/// The frequencies as the form and the database name them.
pub const FREQUENCIES: [&str; 3] = ["daily", "weekly", "monthly"];

pub fn weekday_name(day: Weekday) -> &'static str {
    WEEKDAYS
        .iter()
        .find(|(_, d)| *d == day)
        .map_or("monday", |(n, _)| n)
}

impl Schedule {
    /// A schedule from its stored or submitted fields: `frequency` is one of
    /// [`FREQUENCIES`]; `weekday` (a name of [`WEEKDAYS`]) is read for a
    /// weekly one, `day` (1–31) for a monthly one; `zone` is an IANA name
    /// such as `Europe/Berlin`.
    pub fn parse(
        frequency: &str,
        weekday: Option<&str>,
        day: Option<u32>,
        hour: u32,
        zone: &str,
    ) -> Result<Schedule, ScheduleError> {
        let frequency = match frequency {
            "daily" => Frequency::Daily,
            "weekly" => {
                let name = weekday.unwrap_or_default().trim().to_ascii_lowercase();
                let day = WEEKDAYS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, d)| *d)
                    .ok_or_else(|| {
                        refuse(
                            "weekday",
                            "a weekly schedule needs a weekday, monday to sunday",
                        )
                    })?;
                Frequency::Weekly(day)
            }
            "monthly" => match day {
                Some(d @ 1..=31) => Frequency::Monthly(d),
                _ => return Err(refuse("day", "a monthly schedule needs a day from 1 to 31")),
            },
            other => {
                return Err(refuse(
                    "frequency",
                    format!("'{other}' is not daily, weekly or monthly"),
                ))
            }
        };
        if hour > 23 {
            return Err(refuse("hour", "the hour is 0 to 23"));
        }
        let zone: Tz = zone.trim().parse().map_err(|_| {
            refuse(
                "time_zone",
                format!("'{zone}' is not a time zone name such as Europe/Berlin or UTC"),
            )
        })?;
        Ok(Schedule {
            frequency,
            hour,
            zone,
        })
    }

    /// The stored name of the frequency.
    pub fn frequency_name(&self) -> &'static str {
        match self.frequency {
            Frequency::Daily => "daily",
            Frequency::Weekly(_) => "weekly",
            Frequency::Monthly(_) => "monthly",
        }
    }

    pub fn weekday(&self) -> Option<Weekday> {
        match self.frequency {
            Frequency::Weekly(d) => Some(d),
            _ => None,
        }
    }

    pub fn day(&self) -> Option<u32> {
        match self.frequency {
            Frequency::Monthly(d) => Some(d),
            _ => None,
        }
    }

    /// The first run strictly after `after`, in UTC.
    pub fn next_after(&self, after: NaiveDateTime) -> NaiveDateTime {
        let after = Utc.from_utc_datetime(&after);
        let start = after.with_timezone(&self.zone).date_naive();
        // Within 62 days there is always a matching day (a monthly run falls
        // in this month or the next), so the walk is short and bounded.
        (0..=62)
            .filter_map(|n| start.checked_add_signed(Duration::days(n)))
            .filter(|d| self.runs_on(*d))
            .map(|d| self.instant_on(d))
            .find(|at| *at > after)
            .map_or_else(
                || after.naive_utc() + Duration::days(1),
                |at| at.naive_utc(),
            )
    }

    fn runs_on(&self, day: NaiveDate) -> bool {
        match self.frequency {
            Frequency::Daily => true,
            Frequency::Weekly(w) => day.weekday() == w,
            Frequency::Monthly(d) => day.day() == d.min(last_day_of_month(day)),
        }
    }

    /// The instant of the run on a local day: see the module documentation
    /// for skipped and repeated hours.
    fn instant_on(&self, day: NaiveDate) -> DateTime<Utc> {
        let local = day.and_hms_opt(self.hour, 0, 0).unwrap_or_default();
        match self.zone.from_local_datetime(&local) {
            LocalResult::Single(at) => at.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
            LocalResult::None => {
                // In a gap: the first whole minute that exists after it.
                let mut probe = local;
                for _ in 0..(24 * 60) {
                    probe += Duration::minutes(1);
                    if let Some(at) = self.zone.from_local_datetime(&probe).earliest() {
                        return at.with_timezone(&Utc);
                    }
                }
                Utc.from_utc_datetime(&local)
            }
        }
    }
}

fn last_day_of_month(day: NaiveDate) -> u32 {
    let (y, m) = (day.year(), day.month());
    let first_of_next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    first_of_next
        .and_then(|d| d.pred_opt())
        .map_or(28, |d| d.day())
}

impl fmt::Display for Schedule {
    /// "Weekly on Monday at 07:00 (Europe/Berlin)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.frequency {
            Frequency::Daily => write!(f, "Daily")?,
            Frequency::Weekly(d) => {
                let name = weekday_name(d);
                let mut chars = name.chars();
                let first = chars.next().map(|c| c.to_ascii_uppercase());
                write!(f, "Weekly on {}{}", first.unwrap_or(' '), chars.as_str())?
            }
            Frequency::Monthly(d) => write!(f, "Monthly on day {d}")?,
        }
        write!(f, " at {:02}:00 ({})", self.hour, self.zone.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("a time")
    }

    fn runs(s: &Schedule, from: &str, n: usize) -> Vec<NaiveDateTime> {
        let mut at = utc(from);
        (0..n)
            .map(|_| {
                at = s.next_after(at);
                at
            })
            .collect()
    }

    #[test]
    fn weekly_in_berlin_keeps_local_time_across_the_spring_change() {
        // Europe/Berlin moves from UTC+1 to UTC+2 on Sunday 2026-03-29.
        let s = Schedule::parse("weekly", Some("Monday"), None, 7, "Europe/Berlin").expect("ok");
        assert_eq!(
            runs(&s, "2026-03-20 00:00", 3),
            vec![
                utc("2026-03-23 06:00"), // 07:00 CET
                utc("2026-03-30 05:00"), // 07:00 CEST
                utc("2026-04-06 05:00"),
            ]
        );
    }

    #[test]
    fn daily_in_new_york_across_the_autumn_change() {
        // America/New_York moves from UTC-4 to UTC-5 on Sunday 2026-11-01.
        let s = Schedule::parse("daily", None, None, 9, "America/New_York").expect("ok");
        assert_eq!(
            runs(&s, "2026-10-31 00:00", 3),
            vec![
                utc("2026-10-31 13:00"), // 09:00 EDT
                utc("2026-11-01 14:00"), // 09:00 EST
                utc("2026-11-02 14:00"),
            ]
        );
    }

    #[test]
    fn a_skipped_hour_runs_after_the_gap_and_a_repeated_one_once() {
        // 02:00 does not exist in Berlin on 2026-03-29: it runs at 03:00 CEST.
        let spring = Schedule::parse("daily", None, None, 2, "Europe/Berlin").expect("ok");
        assert_eq!(
            runs(&spring, "2026-03-28 12:00", 2),
            vec![utc("2026-03-29 01:00"), utc("2026-03-30 00:00")]
        );
        // 01:00 happens twice in New York on 2026-11-01: only the first runs.
        let autumn = Schedule::parse("daily", None, None, 1, "America/New_York").expect("ok");
        assert_eq!(
            runs(&autumn, "2026-10-31 12:00", 2),
            vec![utc("2026-11-01 05:00"), utc("2026-11-02 06:00")]
        );
    }

    #[test]
    fn monthly_on_a_day_a_month_lacks_runs_on_its_last_day() {
        let s = Schedule::parse("monthly", None, Some(31), 0, "UTC").expect("ok");
        assert_eq!(
            runs(&s, "2027-01-31 00:00", 3),
            vec![
                utc("2027-02-28 00:00"),
                utc("2027-03-31 00:00"),
                utc("2027-04-30 00:00"),
            ]
        );
    }

    #[test]
    fn a_run_at_the_instant_itself_is_the_next_one() {
        let s = Schedule::parse("daily", None, None, 7, "UTC").expect("ok");
        assert_eq!(
            s.next_after(utc("2026-12-06 07:00")),
            utc("2026-12-07 07:00")
        );
        assert_eq!(
            s.next_after(utc("2026-12-06 06:59")),
            utc("2026-12-06 07:00")
        );
    }

    #[test]
    fn bad_fields_name_the_field() {
        let e = |r: Result<Schedule, ScheduleError>| r.expect_err("refused").field;
        assert_eq!(
            e(Schedule::parse("hourly", None, None, 1, "UTC")),
            "frequency"
        );
        assert_eq!(
            e(Schedule::parse("weekly", Some("someday"), None, 1, "UTC")),
            "weekday"
        );
        assert_eq!(
            e(Schedule::parse("monthly", None, Some(0), 1, "UTC")),
            "day"
        );
        assert_eq!(e(Schedule::parse("daily", None, None, 24, "UTC")), "hour");
        assert_eq!(
            e(Schedule::parse("daily", None, None, 1, "Mars/Olympus")),
            "time_zone"
        );
    }

    #[test]
    fn it_reads_as_a_sentence() {
        let s = Schedule::parse("weekly", Some("monday"), None, 7, "Europe/Berlin").expect("ok");
        assert_eq!(s.to_string(), "Weekly on Monday at 07:00 (Europe/Berlin)");
    }
}
