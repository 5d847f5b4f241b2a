//! The trends page's parameters (`/trends`, its CSV and `/api/v1/trends`):
//! a day to compare with, and which figure the comparison is about.

use super::{documented, one_of, openapi_params, query, string};
use crate::domain::filter::FilterError;
use crate::web::error::AppResult;
use crate::web::params::Params;
use chrono::{Duration, NaiveDate};
use utoipa::openapi::path::Parameter;
use utoipa::openapi::schema::{KnownFormat, SchemaFormat};

pub const PATH: &str = "/trends";

/// Every parameter the trends page accepts.
pub const PARAMS: [&str; 2] = ["since", "figure"];

/// One of the five status figures the history keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrendFigure {
    Registered,
    Enabled,
    #[default]
    Capable,
    MfaCapable,
    PasswordlessCapable,
}

impl TrendFigure {
    pub const ALL: [TrendFigure; 5] = [
        TrendFigure::Registered,
        TrendFigure::Enabled,
        TrendFigure::Capable,
        TrendFigure::MfaCapable,
        TrendFigure::PasswordlessCapable,
    ];

    /// The URL and JSON name.
    pub const fn key(self) -> &'static str {
        match self {
            TrendFigure::Registered => "registered",
            TrendFigure::Enabled => "enabled",
            TrendFigure::Capable => "capable",
            TrendFigure::MfaCapable => "mfaCapable",
            TrendFigure::PasswordlessCapable => "passwordlessCapable",
        }
    }

    /// The figure in words: "capable" in "+12 capable".
    pub const fn label(self) -> &'static str {
        match self {
            TrendFigure::Registered => "registered",
            TrendFigure::Enabled => "enabled",
            TrendFigure::Capable => "capable",
            TrendFigure::MfaCapable => "MFA capable",
            TrendFigure::PasswordlessCapable => "passwordless capable",
        }
    }

    /// Its bit among the five status bits (`db::trends::status_bits`).
    pub const fn bit(self) -> i32 {
        match self {
            TrendFigure::Registered => 0,
            TrendFigure::Enabled => 1,
            TrendFigure::Capable => 2,
            TrendFigure::MfaCapable => 3,
            TrendFigure::PasswordlessCapable => 4,
        }
    }

    /// Whether status bits have this figure.
    pub fn of_bits(self, bits: i32) -> bool {
        bits & (1 << self.bit()) != 0
    }

    pub fn of(self, f: &crate::db::trends::StatusFigures) -> i64 {
        match self {
            TrendFigure::Registered => f.registered,
            TrendFigure::Enabled => f.enabled,
            TrendFigure::Capable => f.capable,
            TrendFigure::MfaCapable => f.mfa_capable,
            TrendFigure::PasswordlessCapable => f.passwordless_capable,
        }
    }
}

/// What the trends page was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrendQuery {
    /// Compare today with the start of this day (UTC).
    pub since: Option<NaiveDate>,
    pub figure: TrendFigure,
}

/// Parses the query string; `since` must be a day within the last
/// `window_days` days (the retention window, which users' changes are kept
/// for), up to today.
pub fn parse(query: &str, today: NaiveDate, window_days: i32) -> AppResult<TrendQuery> {
    let params = Params::parse(query, &PARAMS)?;
    let figure = match params.one("figure")?.unwrap_or("") {
        "" => TrendFigure::default(),
        v => TrendFigure::ALL
            .into_iter()
            .find(|f| f.key() == v)
            .ok_or_else(|| {
                FilterError::new(
                    "figure",
                    format!("'{v}' is not a figure; use registered, enabled, capable, mfaCapable or passwordlessCapable"),
                )
            })?,
    };
    let since = match params.one("since")?.unwrap_or("") {
        "" => None,
        v => {
            let day = NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
                FilterError::new("since", format!("'{v}' is not a date; use YYYY-MM-DD"))
            })?;
            let earliest = earliest_since(today, window_days);
            if day < earliest {
                return Err(FilterError::new(
                    "since",
                    format!("{day} is before the {window_days}-day retention window; the earliest date is {earliest}"),
                )
                .into());
            }
            if day > today {
                return Err(FilterError::new(
                    "since",
                    format!("{day} is in the future; the latest date is {today}"),
                )
                .into());
            }
            Some(day)
        }
    };
    Ok(TrendQuery { since, figure })
}

/// The first day the history of a `window_days`-day window holds.
pub fn earliest_since(today: NaiveDate, window_days: i32) -> NaiveDate {
    today - Duration::days(i64::from(window_days.max(1)) - 1)
}

/// The query string of a comparison (none without a date).
pub fn query_pairs(q: &TrendQuery) -> Vec<(&'static str, String)> {
    let mut pairs = Vec::new();
    if let Some(since) = q.since {
        pairs.push(("since", since.format("%Y-%m-%d").to_string()));
        if q.figure != TrendFigure::default() {
            pairs.push(("figure", q.figure.key().to_string()));
        }
    }
    pairs
}

/// The page (or `.csv`, or API path) of a comparison.
pub fn href(path: &str, q: &TrendQuery) -> String {
    let pairs = query_pairs(q);
    crate::web::params::href(
        path,
        &crate::web::params::query_string(pairs.iter().map(|(k, v)| (*k, v.as_str()))),
    )
}

fn document(name: &str) -> Option<Parameter> {
    match name {
        "since" => Some(query(
            name,
            string()
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
                .build(),
            "Compare today with the start of this day (YYYY-MM-DD, UTC, within the retention window): the figure then and now, and the users whose figure changed since.",
        )),
        "figure" => Some(query(
            name,
            one_of(
                TrendFigure::ALL.map(TrendFigure::key),
                "registered, enabled, capable (the default), mfaCapable or passwordlessCapable.",
            ),
            "The figure the comparison with since is about.",
        )),
        _ => None,
    }
}

/// The OpenAPI documentation of [`PARAMS`].
pub fn parameters() -> Vec<Parameter> {
    documented(&PARAMS, document)
}

openapi_params!(
    /// The parameters of the trends.
    OpenApiParams => parameters()
);

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn since_is_a_day_within_the_window() {
        let today = day("2026-12-05");
        let q = parse("since=2026-11-06&figure=mfaCapable", today, 30).unwrap();
        assert_eq!(q.since, Some(day("2026-11-06")));
        assert_eq!(q.figure, TrendFigure::MfaCapable);
        assert_eq!(parse("", today, 30).unwrap().since, None);
        for bad in [
            "since=2026-11-05",
            "since=2026-12-06",
            "since=yesterday",
            "figure=happy",
            "range=7d",
        ] {
            assert!(parse(bad, today, 30).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn links_carry_the_comparison() {
        let q = TrendQuery {
            since: Some(day("2026-11-01")),
            figure: TrendFigure::Enabled,
        };
        assert_eq!(
            href("/trends.csv", &q),
            "/trends.csv?since=2026-11-01&figure=enabled"
        );
        assert_eq!(
            href(
                PATH,
                &TrendQuery {
                    since: None,
                    figure: TrendFigure::Capable
                }
            ),
            "/trends"
        );
    }
}
