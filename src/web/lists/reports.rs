//! The classic password-management reports (`/reports/registration-activity`
//! and `/reports/reset-activity`, their CSVs and the same addresses under
//! `/api/v1`): one row per operation, newest first.

use super::{
    choice, documented, one_of, openapi_params, query, range_and_position, range_pairs, search_pair,
};
use crate::db::activities::ActivityQuery;
use crate::domain::filter::{parse_policy_method, parse_result, ActivityFilter, PageSize, Search};
use crate::domain::{ActivityResult, Feature, PolicyMethod};
use crate::web::error::AppResult;
use crate::web::params::{self, Params};
use chrono::NaiveDateTime;
use utoipa::openapi::path::Parameter;

/// A classic report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    RegistrationActivity,
    ResetActivity,
}

impl Report {
    /// The feature a report lists when the URL names none.
    pub const fn feature(self) -> Feature {
        match self {
            Report::RegistrationActivity => Feature::Registration,
            Report::ResetActivity => Feature::Reset,
        }
    }

    /// The report's name in URLs, navigation and file names.
    pub const fn slug(self) -> &'static str {
        match self {
            Report::RegistrationActivity => "registration-activity",
            Report::ResetActivity => "reset-activity",
        }
    }

    pub const fn path(self) -> &'static str {
        match self {
            Report::RegistrationActivity => "/reports/registration-activity",
            Report::ResetActivity => "/reports/reset-activity",
        }
    }

    pub const fn title(self) -> &'static str {
        match self {
            Report::RegistrationActivity => "Registration activity",
            Report::ResetActivity => "Reset activity",
        }
    }

    /// The parameters the report accepts.
    pub fn params(self) -> &'static [&'static str] {
        match self {
            Report::RegistrationActivity => &[
                "method", "range", "from", "to", "q", "size", "after", "before",
            ],
            Report::ResetActivity => &[
                "feature", "result", "method", "range", "from", "to", "q", "size", "after",
                "before",
            ],
        }
    }

    /// The columns of the page and of the CSV, in order.
    pub const fn columns(self) -> &'static [&'static str] {
        match self {
            Report::RegistrationActivity => &[
                "User",
                "User name",
                "Role",
                "Date and Time (UTC)",
                "Data Registered",
            ],
            Report::ResetActivity => &[
                "User",
                "User name",
                "Role",
                "Date and Time (UTC)",
                "Methods Used",
                "Result",
                "Details",
            ],
        }
    }

    /// What the report holds, under its title.
    pub const fn description(self) -> &'static str {
        match self {
            Report::RegistrationActivity => {
                "Every password reset registration: who registered which authentication data, and when. \
                 An attempt that stored nothing says so, with the methods tried."
            }
            Report::ResetActivity => {
                "Every password reset attempt (or, with Operation set to account unlocks, every self-service account unlock): the methods used, how it ended, and why, \
                 with the steps that resolve an unexpected failure."
            }
        }
    }
}

pub fn parse_query(report: Report, query: &str, now: NaiveDateTime) -> AppResult<ActivityQuery> {
    let p = Params::parse(query, report.params())?;
    let result = match report {
        Report::ResetActivity => parse_result("result", p.one("result")?)?,
        Report::RegistrationActivity => None,
    };
    let feature = match report {
        Report::ResetActivity => parse_reset_feature(p.one("feature")?)?,
        Report::RegistrationActivity => report.feature(),
    };
    let (range, position) = range_and_position(&p, now)?;
    Ok(ActivityQuery {
        filter: ActivityFilter {
            feature,
            result,
            method: parse_policy_method("method", p.one("method")?)?,
            range,
            window: range.window(now),
            search: Search::parse("q", p.one("q")?)?,
        },
        size: PageSize::parse("size", p.one("size")?)?,
        position,
    })
}

/// The features the reset report lists: password resets (the default,
/// the classic report) or self-service account unlocks.
pub const RESET_REPORT_FEATURES: [Feature; 2] = [Feature::Reset, Feature::Unlock];

/// The reset report's `feature`: `reset` (also when absent) or `unlock`.
fn parse_reset_feature(value: Option<&str>) -> AppResult<Feature> {
    match value.unwrap_or("") {
        "" => Ok(Feature::Reset),
        v => RESET_REPORT_FEATURES
            .into_iter()
            .find(|f| f.key() == v)
            .ok_or_else(|| {
                crate::domain::filter::FilterError::new(
                    "feature",
                    format!("'{v}' is not a feature of this report; use reset or unlock"),
                )
                .into()
            }),
    }
}

/// The filter as URL parameters, defaults left out.
pub fn filter_pairs(f: &ActivityFilter) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        (
            "feature",
            if f.feature == Feature::Unlock {
                f.feature.key().to_string()
            } else {
                String::new()
            },
        ),
        (
            "result",
            f.result.map(|r| r.key()).unwrap_or("").to_string(),
        ),
        (
            "method",
            f.method.map(|m| m.key()).unwrap_or("").to_string(),
        ),
    ];
    pairs.extend(range_pairs(f.range));
    pairs.push(search_pair(&f.search));
    pairs.retain(|(_, v)| !v.is_empty());
    pairs
}

/// The URL of one page of a report at `path` (the page, its CSV, the API).
pub fn list_href(
    path: &str,
    f: &ActivityFilter,
    size: PageSize,
    position: Option<(&str, String)>,
) -> String {
    params::list_href(path, filter_pairs(f), size, position)
}

/// The URL of a report for a filter (first page).
pub fn report_href(report: Report, f: &ActivityFilter) -> String {
    list_href(report.path(), f, PageSize::DEFAULT, None)
}

/// The documentation of a parameter only the reports have.
fn document(name: &str) -> Option<Parameter> {
    Some(match name {
        "method" => query(
            name,
            choice(
                PolicyMethod::ALL.iter().map(|m| m.key()),
                "Authentication info, or all.",
            ),
            "Only operations that used this authentication info.",
        ),
        "feature" => query(
            name,
            one_of(
                RESET_REPORT_FEATURES.map(|f| f.key()),
                "reset (the default) or unlock.",
            ),
            "Password resets (the default) or self-service account unlocks.",
        ),
        "result" => query(
            name,
            choice(
                ActivityResult::ALL.iter().map(|r| r.key()),
                "A result, or all.",
            ),
            "Only resets that ended with this result.",
        ),
        _ => return None,
    })
}

/// The OpenAPI documentation of a report's parameters, in order.
pub fn parameters(report: Report) -> Vec<Parameter> {
    documented(report.params(), document)
}

openapi_params!(
    /// The parameters of the Registration activity report.
    RegistrationActivityParams => parameters(Report::RegistrationActivity)
);
openapi_params!(
    /// The parameters of the Reset activity report.
    ResetActivityParams => parameters(Report::ResetActivity)
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_reset_report_takes_a_result() {
        let now = chrono::Utc::now().naive_utc();
        let q = parse_query(Report::ResetActivity, "result=failed&method=email", now).unwrap();
        let href = report_href(Report::ResetActivity, &q.filter);
        assert_eq!(href, "/reports/reset-activity?result=failed&method=email");
        let e = parse_query(Report::RegistrationActivity, "result=failed", now)
            .err()
            .unwrap();
        assert!(e.to_string().contains("Unknown parameter 'result'"), "{e}");
    }

    #[test]
    fn the_reset_report_lists_resets_unless_asked_for_unlocks() {
        let now = chrono::Utc::now().naive_utc();
        let q = parse_query(Report::ResetActivity, "", now).unwrap();
        assert_eq!(q.filter.feature, Feature::Reset);
        assert_eq!(
            report_href(Report::ResetActivity, &q.filter),
            "/reports/reset-activity"
        );
        let q = parse_query(Report::ResetActivity, "feature=unlock&result=failed", now).unwrap();
        assert_eq!(q.filter.feature, Feature::Unlock);
        assert_eq!(
            report_href(Report::ResetActivity, &q.filter),
            "/reports/reset-activity?feature=unlock&result=failed"
        );
        let e = parse_query(Report::ResetActivity, "feature=registration", now)
            .err()
            .unwrap();
        assert!(e.to_string().contains("use reset or unlock"), "{e}");
    }
}
