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
            View::ResetDetails => match event_page(conn, counts, &events::parse_query(query, now)?)?.count {
                EventCount::Exact(n) => Ok(n),
                EventCount::SearchTooBroad { .. } => Err(too_broad()),
            },
            View::Report(r) => {
                match activity_page(conn, counts, &reports::parse_query(r, query, now)?)?.count {
                    ActivityCount::Exact(n) => Ok(n),
                    ActivityCount::SearchTooBroad { .. } => Err(too_broad()),
                }
            }
        }
    }
}
