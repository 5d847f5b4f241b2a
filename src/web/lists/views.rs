//! The lists a subscription can send or an alert can watch: each by its
//! page's address, with its title, its API resource and the count of rows
//! it lists for a query string (the figure an alert compares).

use super::{events, registrations, reports};
use crate::db::activities::{activity_page, ActivityCount};
use crate::db::cache::Counts;
use crate::db::events::{event_page, EventCount};
use crate::db::registrations::registration_page;
use crate::db::DbConnection;
use crate::domain::filter::PageSize;
use crate::web::error::{AppError, AppResult};
use chrono::NaiveDateTime;
use reports::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Registrations,
    ResetDetails,
    Report(Report),
}

impl View {
    pub const ALL: [View; 4] = [
        View::Registrations,
        View::ResetDetails,
        View::Report(Report::RegistrationActivity),
        View::Report(Report::ResetActivity),
    ];

    /// The view a page's address names, if a subscription can send it.
    pub fn from_path(path: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.path() == path)
    }

    pub const fn path(self) -> &'static str {
        match self {
            View::Registrations => registrations::PATH,
            View::ResetDetails => events::PATH,
            View::Report(r) => r.path(),
        }
    }

    pub const fn title(self) -> &'static str {
        match self {
            View::Registrations => "Registration details",
            View::ResetDetails => "Reset details",
            View::Report(r) => r.title(),
        }
    }

    /// The JSON API's resource for the same rows.
    pub const fn api_path(self) -> &'static str {
        match self {
            View::Registrations => "/api/v1/registrations",
            View::ResetDetails => "/api/v1/activity",
            View::Report(Report::RegistrationActivity) => "/api/v1/reports/registration-activity",
            View::Report(Report::ResetActivity) => "/api/v1/reports/reset-activity",
        }
    }

    /// What one row is, for sentences ("12 users").
    pub const fn rows_noun(self) -> &'static str {
        match self {
            View::Registrations => "users",
            View::ResetDetails => "events",
            View::Report(_) => "activities",
        }
    }

    /// The page's address with `query`.
    pub fn href(self, query: &str) -> String {
        if query.is_empty() {
            self.path().to_string()
        } else {
            format!("{}?{query}", self.path())
        }
    }

    /// Checks a query string as the page would: a 400 naming the parameter.
    pub fn check(self, query: &str, now: NaiveDateTime) -> AppResult<()> {
        let on = |e: AppError| e.on_page(self.path());
        match self {
            View::Registrations => registrations::parse_query(query).map(drop).map_err(on),
            View::ResetDetails => events::parse_query(query, now).map(drop).map_err(on),
            View::Report(r) => reports::parse_query(r, query, now).map(drop).map_err(on),
        }
    }

    /// The rows the view lists for `query` now: the count its page shows.
    pub fn count(
        self,
        conn: &mut DbConnection,
        counts: &Counts<'_>,
        query: &str,
        now: NaiveDateTime,
    ) -> AppResult<i64> {
        let too_broad = || {
            AppError::from(crate::domain::filter::FilterError::new(
                "q",
                "the search matches too many users for its rows to be counted; narrow it",
            ))
            .on_page(self.path())
        };
        self.check(query, now)?;
        match self {
            View::Registrations => {
                let mut q = registrations::parse_query(query)?;
                q.size = PageSize::DEFAULT;
                let page = registration_page(conn, counts, &q)?;
                if page.count_capped {
                    return Err(too_broad());
                }
                Ok(page.count)
            }
            View::ResetDetails => {
                match event_page(conn, counts, &events::parse_query(query, now)?)?.count {
                    EventCount::Exact(n) => Ok(n),
                    EventCount::SearchTooBroad { .. } => Err(too_broad()),
                }
            }
            View::Report(r) => {
                match activity_page(conn, counts, &reports::parse_query(r, query, now)?)?.count {
                    ActivityCount::Exact(n) => Ok(n),
                    ActivityCount::SearchTooBroad { .. } => Err(too_broad()),
                }
            }
        }
    }
}

/// The links beside a list's Download CSV: subscribe to the view as it is
/// filtered, or set up an alert on its count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeLinks {
    pub subscribe: String,
    pub alert: String,
}

impl SubscribeLinks {
    /// From the list's CSV link (its path with `.csv`, and its query).
    pub fn of_csv(csv_href: &str) -> SubscribeLinks {
        let (path, query) = csv_href.split_once('?').unwrap_or((csv_href, ""));
        let view = path.trim_end_matches(".csv");
        let link = |kind: &str| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            if !kind.is_empty() {
                q.append_pair("kind", kind);
            }
            q.append_pair("view", view).append_pair("query", query);
            format!("/subscriptions/new?{}", q.finish())
        };
        SubscribeLinks {
            subscribe: link(""),
            alert: link("alert"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_links_carry_the_view_and_its_filters() {
        let links = SubscribeLinks::of_csv("/registrations.csv?capable=no&admin=yes");
        assert_eq!(
            links.subscribe,
            "/subscriptions/new?view=%2Fregistrations&query=capable%3Dno%26admin%3Dyes"
        );
        assert_eq!(
            links.alert,
            "/subscriptions/new?kind=alert&view=%2Fregistrations&query=capable%3Dno%26admin%3Dyes"
        );
        assert_eq!(
            View::from_path("/reports/reset-activity"),
            Some(View::Report(Report::ResetActivity))
        );
    }
}
