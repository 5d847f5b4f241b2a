//! HTTP: one module per page, thin handlers (parse → query → template).

pub mod activity;
pub mod admin;
pub mod api;
pub mod auth;
pub mod charts;
pub mod data_sources;
pub mod deliveries;
pub mod describe;
pub mod error;
pub mod export;
pub mod figures;
pub mod forms;
pub mod graph;
pub mod health;
pub mod imports;
pub mod ingest;
pub mod layout;
pub mod lists;
pub mod metrics;
pub mod notices;
pub mod overview;
pub mod params;
pub mod principal;
pub mod registrations;
pub mod reports;
pub mod request;
pub mod request_log;
pub mod sign_in;
pub mod subscriptions;
pub mod trends;
pub mod usage;
pub mod usage_figures;
pub mod users;

use crate::db::{DbConnection, Pool};
use error::{AppError, AppResult};
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub backend: &'static str,
    pub settings: Arc<crate::config::WebSettings>,
    /// The overview's figures while the data is unchanged (checked against
    /// the database's data version on every request).
    pub figures: Arc<figures::FiguresCache>,
    /// The trends and their comparisons, per data version.
    pub trends: Arc<trends::TrendsCache>,
    /// The counts the lists read besides their rows, per data version.
    pub counts: Arc<crate::db::cache::CountCache>,
    /// Places for CSV downloads streaming at once: their share of the pool.
    pub downloads: Arc<tokio::sync::Semaphore>,
    /// The Graph connector's schedule and Sync now (none: not connected).
    pub sync: Option<Arc<crate::sync::schedule::Scheduler>>,
    /// What `GET /metrics` shows: this portal's one registry.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The notify worker of this portal (none: it sends nothing itself);
    /// wake it after queueing a message so that it goes at once.
    pub notify: Option<Arc<crate::notify::Notifier>>,
}

impl AppState {
    pub fn new(pool: Pool, backend: &'static str, settings: crate::config::WebSettings) -> Self {
        let downloads = settings.downloads.budget(pool.max_size());
        let metrics = Arc::new(crate::metrics::Metrics::new(pool.checkouts()));
        AppState {
            pool,
            backend,
            settings: Arc::new(settings),
            figures: Default::default(),
            trends: Default::default(),
            counts: Default::default(),
            downloads: Arc::new(tokio::sync::Semaphore::new(downloads)),
            sync: None,
            metrics,
            notify: None,
        }
    }

    /// The portal with a Graph connector.
    pub fn with_sync(mut self, scheduler: Arc<crate::sync::schedule::Scheduler>) -> Self {
        self.sync = Some(scheduler);
        self
    }

    /// The portal with a notify worker.
    pub fn with_notify(mut self, notifier: Arc<crate::notify::Notifier>) -> Self {
        self.notify = Some(notifier);
        self
    }

    /// Runs blocking database work on the blocking thread pool with a pooled connection.
    pub async fn db<T, F>(&self, work: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await
        .map_err(AppError::from)?
    }
}

/// The download of a list view for a query string, as its page's CSV link
/// gives it (a 400 naming the parameter when the query is wrong): what a
/// subscription sends is made by the same code as the download.
pub fn export_view(
    view: lists::views::View,
    counts: Arc<crate::db::cache::CountCache>,
    query: &str,
    now: chrono::NaiveDateTime,
) -> AppResult<export::Export> {
    use lists::views::View;
    match view {
        View::Registrations => registrations::export(counts, query, now),
        View::ResetDetails => activity::export(counts, query, now),
        View::Report(report) => reports::export(report, counts, query, now),
    }
}

/// Runs a change a form asked for, leaves its notice (or the reason it was
/// refused) for the next page of the session, and sends the browser `back`.
pub async fn change_then<A, F>(
    state: &AppState,
    session: String,
    actor: A,
    back: &str,
    work: F,
) -> AppResult<actix_web::HttpResponse>
where
    A: Send + 'static,
    F: FnOnce(&mut DbConnection, &A) -> Result<String, crate::service::ServiceError>
        + Send
        + 'static,
{
    use crate::service::ServiceError;
    state
        .db(move |conn| {
            let notice = match work(conn, &actor) {
                Ok(done) => done,
                Err(ServiceError::Refused(why)) => format!("{}{why}", layout::FLASH_ERROR),
                Err(ServiceError::Database(e)) => return Err(e.into()),
            };
            crate::db::sessions::set_flash(conn, &session, &notice)?;
            Ok(())
        })
        .await?;
    Ok(layout::see_other(back))
}

/// Renders a page as an HTML response.
pub fn html(page: impl askama::Template) -> AppResult<actix_web::HttpResponse> {
    Ok(actix_web::HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

/// The address of a user's page; ids are percent-encoded as one path segment.
pub fn user_href(id: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
    const SEGMENT: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'/')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}');
    format!("/users/{}", utf8_percent_encode(id, SEGMENT))
}

/// Formats a count with thousands separators: 1,234,567.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A share as a percentage with one decimal, "0.0" for an empty whole.
pub fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "0.0".into();
    }
    format!("{:.1}", part as f64 * 100.0 / whole as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(-12345), "-12,345");
    }

    #[test]
    fn percent_handles_empty_wholes() {
        assert_eq!(percent(1, 3), "33.3");
        assert_eq!(percent(5, 0), "0.0");
    }
}
