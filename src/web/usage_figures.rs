//! The usage view's figures as numbers — resets and unlocks per day,
//! resets by method, sign-ins by requirement and by method — read from the
//! maintained aggregates and the small sign-in tables only. The page, its
//! CSV and `/api/v1/usage` all render these.

use super::figures::ChartFigure;
use crate::db::events::kind_counts;
use crate::db::sign_ins::{self, SignInDay, SignInMethodDay};
use crate::db::usage::activity_days;
use crate::db::DbConnection;
use crate::domain::filter::{RangeChoice, TimeWindow};
use crate::domain::sign_in::SignInMethod;
use crate::domain::{ActivityResult, Feature};
use crate::web::error::AppResult;
use chrono::{Duration, NaiveDate, NaiveDateTime};

/// One feature's activities of a day: succeeded, and every other result
/// (abandoned, blocked, cancelled, contacted admin, failed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcomes {
    pub succeeded: i64,
    pub not_succeeded: i64,
}

impl Outcomes {
    pub fn total(&self) -> i64 {
        self.succeeded + self.not_succeeded
    }
}

/// Password resets and account unlocks of one whole UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationDay {
    pub day: NaiveDate,
    pub resets: Outcomes,
    pub unlocks: Outcomes,
}

/// A sign-in method's successful sign-ins over the days shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodSignIns {
    pub method: SignInMethod,
    /// The source's name of an other method ("" for a known one).
    pub name: String,
    pub sign_ins: i64,
}

impl MethodSignIns {
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            self.method.display_name().to_string()
        } else {
            format!("Other ({})", self.name)
        }
    }
}

/// Everything the usage view shows, as numbers.
#[derive(Debug, Clone)]
pub struct UsageFigures {
    pub range: RangeChoice,
    /// The window of the resets-by-method chart (the overview's).
    pub window: TimeWindow,
    /// The per-day figures count whole UTC days, from this day to `last_day`.
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// Every day from `first_day` to `last_day`, zeros included.
    pub operations: Vec<OperationDay>,
    /// Resets' method verifications per method in the window.
    pub reset_methods: ChartFigure,
    /// The days with a stored summary of sign-ins by requirement.
    pub sign_in_days: Vec<SignInDay>,
    /// The stored sign-ins per day and method.
    pub sign_in_method_days: Vec<SignInMethodDay>,
    /// Sign-ins per method over the days, known methods in catalogue
    /// order, then others by name; methods with none left out.
    pub sign_in_methods: Vec<MethodSignIns>,
    /// Whether any sign-in summary is stored at all (of any day).
    pub any_sign_ins: bool,
}

impl UsageFigures {
    /// The days shown, oldest first.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.operations.iter().map(|o| o.day)
    }

    /// The stored sign-ins by requirement of a day.
    pub fn sign_ins_on(&self, day: NaiveDate) -> Option<&SignInDay> {
        self.sign_in_days.iter().find(|d| d.day == day)
    }
}

/// The reset report of one day, for a feature and optionally only its
/// successes: the list behind a bar.
pub fn day_report_href(feature: Feature, succeeded: bool, day: NaiveDate) -> String {
    let feature = match feature {
        Feature::Unlock => "feature=unlock&",
        _ => "",
    };
    let result = if succeeded { "result=succeeded&" } else { "" };
    format!("/reports/reset-activity?{feature}{result}range=custom&from={day}&to={day}")
}

/// Reads the usage figures of a range at `now`.
pub fn load_usage(
    conn: &mut DbConnection,
    range: RangeChoice,
    now: NaiveDateTime,
) -> AppResult<UsageFigures> {
    let window = range.window(now);
    let first_day = window.start.date();
    let last_day = now.date();
    let rows = activity_days(
        conn,
        &[Feature::Reset.code(), Feature::Unlock.code()],
        first_day,
    )?;
    let mut operations: Vec<OperationDay> = Vec::new();
    let mut day = first_day;
    while day <= last_day {
        let mut op = OperationDay {
            day,
            resets: Outcomes::default(),
            unlocks: Outcomes::default(),
        };
        for r in rows.iter().filter(|r| r.day == day) {
            let outcomes = if r.feature == Feature::Unlock.code() {
                &mut op.unlocks
            } else {
                &mut op.resets
            };
            if r.result == ActivityResult::Succeeded.code() {
                outcomes.succeeded += r.count;
            } else {
                outcomes.not_succeeded += r.count;
            }
        }
        operations.push(op);
        day += Duration::days(1);
    }
    let reset_methods = ChartFigure::new(Feature::Reset, &kind_counts(conn, window)?);
    let to = last_day + Duration::days(1);
    let sign_in_days = sign_ins::sign_in_days(conn, first_day, to)?;
    let sign_in_method_days = sign_ins::sign_in_method_days(conn, first_day, to)?;
    let mut sign_in_methods: Vec<MethodSignIns> = Vec::new();
    for row in &sign_in_method_days {
        let method = SignInMethod::from_key(&row.method).unwrap_or(SignInMethod::Other);
        match sign_in_methods
            .iter_mut()
            .find(|m| m.method == method && m.name == row.name)
        {
            Some(m) => m.sign_ins += row.sign_ins,
            None => sign_in_methods.push(MethodSignIns {
                method,
                name: row.name.clone(),
                sign_ins: row.sign_ins,
            }),
        }
    }
    sign_in_methods.retain(|m| m.sign_ins > 0);
    sign_in_methods.sort_by(|a, b| (a.method, &a.name).cmp(&(b.method, &b.name)));
    let any_sign_ins = !sign_in_days.is_empty()
        || !sign_in_method_days.is_empty()
        || sign_ins::any_sign_ins(conn)?;
    Ok(UsageFigures {
        range,
        window,
        first_day,
        last_day,
        operations,
        reset_methods,
        sign_in_days,
        sign_in_method_days,
        sign_in_methods,
        any_sign_ins,
    })
}
