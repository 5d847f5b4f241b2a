//! Reset details (`/activity`, its CSV and `/api/v1/activity`): the method
//! events of a range, newest first, filtered by feature, method, outcome and a
//! search.

use super::{
    choice, documented, openapi_params, query, range_and_position, range_pairs, search_pair,
};
use crate::db::events::EventQuery;
use crate::domain::filter::{
    parse_feature, EventFilter, FilterError, Outcome, PageSize, RangeChoice, Search, Tristate,
};
use crate::domain::{Feature, Method};
use crate::web::error::AppResult;
use crate::web::params::{self, href, query_string, Params};
use chrono::NaiveDateTime;
use utoipa::openapi::path::Parameter;

pub const PATH: &str = "/activity";

/// Every parameter the list accepts.
pub const PARAMS: [&str; 11] = [
    "feature",
    "method",
    "status",
    "in_directory",
    "range",
    "from",
    "to",
    "q",
    "size",
    "after",
    "before",
];

/// Parses the whole query string of the list; `now` bounds the range.
pub fn parse_query(query: &str, now: NaiveDateTime) -> AppResult<EventQuery> {
    let p = Params::parse(query, &PARAMS)?;
    let method = match p.one("method")?.unwrap_or("") {
        "" | "all" => None,
        v => Some(Method::from_key(v).ok_or_else(|| {
            let keys: Vec<&str> = Method::ALL.iter().map(|m| m.key()).collect();
            FilterError::new(
                "method",
                format!(
                    "'{v}' is not an authentication method; use one of {}",
                    keys.join(", ")
                ),
            )
        })?),
    };
    let (range, position) = range_and_position(&p, now)?;
    Ok(EventQuery {
        filter: EventFilter {
            feature: parse_feature("feature", p.one("feature")?)?,
            method,
            outcome: Outcome::parse("status", p.one("status")?)?,
            range,
            window: range.window(now),
            search: Search::parse("q", p.one("q")?)?,
            in_directory: Tristate::parse("in_directory", p.one("in_directory")?)?,
        },
        size: PageSize::parse("size", p.one("size")?)?,
        position,
    })
}

/// The filter as URL parameters, defaults left out.
pub fn filter_pairs(f: &EventFilter) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        (
            "feature",
            f.feature.map(|x| x.key()).unwrap_or("").to_string(),
        ),
        (
            "method",
            f.method.map(|m| m.key()).unwrap_or("").to_string(),
        ),
        (
            "status",
            f.outcome.map(|o| o.key()).unwrap_or("").to_string(),
        ),
        ("in_directory", f.in_directory.key().to_string()),
    ];
    pairs.extend(range_pairs(f.range));
    pairs.push(search_pair(&f.search));
    pairs.retain(|(_, v)| !v.is_empty());
    pairs
}

/// The URL of one page of the list at `path` (the page, its CSV, the API).
pub fn list_href(
    path: &str,
    f: &EventFilter,
    size: PageSize,
    position: Option<(&str, String)>,
) -> String {
    params::list_href(path, filter_pairs(f), size, position)
}

/// The events of a user not in the directory: a search for the user
/// principal name their events carry.
pub fn outside_user_href(user_principal_name: &str) -> String {
    href(
        PATH,
        &query_string([("in_directory", "no"), ("q", user_principal_name)]),
    )
}

/// The list for one kind of event in a range: what a chart bar links to.
pub fn kind_href(feature: Feature, method: Method, outcome: Outcome, range: RangeChoice) -> String {
    let mut pairs = vec![
        ("feature", feature.key().to_string()),
        ("method", method.key().to_string()),
        ("status", outcome.key().to_string()),
    ];
    pairs.extend(range_pairs(range));
    href(
        PATH,
        &query_string(pairs.iter().map(|(k, v)| (*k, v.as_str()))),
    )
}

/// The documentation of a parameter only this list has.
fn document(name: &str) -> Option<Parameter> {
    Some(match name {
        "feature" => query(
            name,
            choice(
                Feature::ALL.iter().map(|f| f.key()),
                "registration, reset, unlock, or all.",
            ),
            "Only events of this feature.",
        ),
        "method" => query(
            name,
            choice(
                Method::ALL.iter().map(|m| m.key()),
                "An authentication method, or all.",
            ),
            "Only events of this authentication method.",
        ),
        "status" => query(
            name,
            choice(["success", "failure"], "success, failure, or all."),
            "Only successful or only failed events.",
        ),
        "in_directory" => query(
            name,
            choice(["yes", "no"], "yes, no, or all (the default)."),
            "Only events of users in the directory (yes), or only of users it does not hold (no: deleted since, or not exported yet), kept with the names their source gave.",
        ),
        _ => return None,
    })
}

/// The OpenAPI documentation of [`PARAMS`], in order.
pub fn parameters() -> Vec<Parameter> {
    documented(&PARAMS, document)
}

openapi_params!(
    /// The parameters of reset details.
    OpenApiParams => parameters()
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_bar_links_to_a_list_its_parser_reads_back() {
        let now = chrono::Utc::now().naive_utc();
        let href = kind_href(
            Feature::Reset,
            Method::Email,
            Outcome::Failure,
            RangeChoice::Last7Days,
        );
        let q = parse_query(href.split_once('?').unwrap().1, now).unwrap();
        assert_eq!(q.filter.feature, Some(Feature::Reset));
        assert_eq!(q.filter.method, Some(Method::Email));
        assert_eq!(q.filter.outcome, Some(Outcome::Failure));
        assert_eq!(q.filter.range, RangeChoice::Last7Days);
    }
}
