//! `/activity`: reset details, the method events of a range.

use super::auth::Viewer;
use super::error::AppResult;
use super::export::{download, file_name, Export, ExportError, Sink, BLOCK_ROWS};
use super::forms::{Pager, RangeFields, SelectField};
use super::layout::Layout;
use super::lists::events::{filter_pairs, list_href, outside_user_href, parse_query, PATH};
use super::lists::views::SubscribeLinks;
use super::lists::RETENTION_DAYS;
use super::{html, thousands, user_href, AppState};
use crate::db::cache::CountCache;
use crate::db::events::{
    event_export, event_page, load_rows, EventCount, EventPage, EventQuery, EventRow,
};
use crate::db::timeline::EXPORT_BLOCK;
use crate::domain::filter::{Outcome, PageSize};
use crate::domain::{Feature, Method};
use crate::web::auth;
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{NaiveDateTime, Utc};
use std::sync::Arc;

/// The columns of the page and of the CSV, in order.
pub const COLUMNS: [&str; 7] = [
    "Name",
    "User name",
    "Feature",
    "Authentication method",
    "Status",
    "Date (UTC)",
    "Failure reason",
];

pub struct Row {
    /// The user page, or for a user not in the directory the search for
    /// their events.
    pub user_href: Option<String>,
    /// The user is not in the directory: the names are the event's own.
    pub outside: bool,
    pub name: String,
    pub user_name: String,
    pub feature: &'static str,
    pub method: String,
    pub status: &'static str,
    pub date: String,
    pub date_iso: String,
    pub failure_reason: String,
}

impl Row {
    /// The cells in [`COLUMNS`] order, as the page shows them.
    pub fn cells(&self) -> [&str; 7] {
        [
            &self.name,
            &self.user_name,
            self.feature,
            &self.method,
            self.status,
            &self.date,
            &self.failure_reason,
        ]
    }

    fn new(e: &EventRow) -> Row {
        let (name, user_name) = user_cells(e);
        let href = match (&e.display_name, &e.named) {
            (Some(_), _) => Some(user_href(&e.user_id)),
            (None, Some((upn, _))) => Some(outside_user_href(upn)),
            (None, None) => None,
        };
        Row {
            user_href: href,
            outside: e.display_name.is_none() && e.named.is_some(),
            name: name.to_string(),
            user_name: user_name.to_string(),
            feature: feature_text(e),
            method: method_text(e).to_string(),
            status: Outcome::from_success(e.success).display_name(),
            date: e.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            date_iso: e.occurred_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            failure_reason: e.failure_reason.clone().unwrap_or_default(),
        }
    }
}

/// The Name and User name cells: the directory's names now; for a user not
/// in the directory the event's own (the user name when it gave no name).
fn user_cells(e: &EventRow) -> (&str, &str) {
    match (&e.display_name, &e.named) {
        (Some(name), _) => (
            name.as_str(),
            e.user_principal_name.as_deref().unwrap_or_default(),
        ),
        (None, Some((upn, name))) if name.is_empty() => (upn.as_str(), upn.as_str()),
        (None, Some((upn, name))) => (name.as_str(), upn.as_str()),
        (None, None) => ("(unknown user)", e.user_id.as_str()),
    }
}

fn feature_text(e: &EventRow) -> &'static str {
    Feature::from_code(e.feature)
        .map(|f| f.display_name())
        .unwrap_or("Unknown")
}

/// The method's name; a method this portal does not know by the source's.
fn method_text(e: &EventRow) -> &str {
    match (Method::from_code(e.method), &e.method_name) {
        (Some(Method::Other), Some(name)) => name.as_str(),
        (Some(m), _) => m.display_name(),
        (None, _) => "Unknown",
    }
}

/// Writes events as download rows, the cells [`Row`] shows, borrowed from
/// the event; the time's text is made once per second (a download of ten
/// million events meets each second about four times).
#[derive(Default)]
struct CsvTexts {
    second: Option<(NaiveDateTime, String)>,
}

impl CsvTexts {
    fn write(&mut self, e: &EventRow, sink: &mut Sink) -> Result<(), ExportError> {
        let (name, user_name) = user_cells(e);
        if self.second.as_ref().map(|s| s.0) != Some(e.occurred_at) {
            self.second = Some((
                e.occurred_at,
                e.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            ));
        }
        let date = self.second.as_ref().map_or("", |s| s.1.as_str());
        sink.row([
            name,
            user_name,
            feature_text(e),
            method_text(e),
            Outcome::from_success(e.success).display_name(),
            date,
            e.failure_reason.as_deref().unwrap_or_default(),
        ])
    }
}

#[derive(Template)]
#[template(path = "activity.html")]
pub struct ActivityPage {
    pub layout: Layout,
    pub selects: Vec<SelectField>,
    pub range: RangeFields,
    pub q: String,
    pub size_select: SelectField,
    pub summary: String,
    pub filtered: bool,
    pub csv_href: String,
    pub subscribe: SubscribeLinks,
    pub rows: Vec<Row>,
    pub pager: Pager,
}

impl ActivityPage {
    pub fn new(q: &EventQuery, page: &EventPage, now: NaiveDateTime, layout: Layout) -> Self {
        let f = &q.filter;
        let features: Vec<(&str, &str)> = std::iter::once(("", "All"))
            .chain(Feature::ALL.iter().map(|x| (x.key(), x.display_name())))
            .collect();
        // The seven usage methods, and the method filtered by when it is
        // another (a chart bar of a passkey or an other method links here).
        let methods: Vec<(&str, &str)> = std::iter::once(("", "All"))
            .chain(
                Method::ALL
                    .iter()
                    .filter(|m| Method::USAGE.contains(m) || f.method == Some(**m))
                    .map(|m| (m.key(), m.display_name())),
            )
            .collect();
        let size_select = SelectField::page_size(q.size);

        let span = RangeFields::span(f.range, f.window);
        let summary = match page.count {
            EventCount::Exact(n) => format!(
                "{} method {} {span}.",
                thousands(n),
                if n == 1 { "event" } else { "events" }
            ),
            EventCount::SearchTooBroad { users, cap } => format!(
                "The search matches {} users: too many to count their events quickly. Newest first {span}; narrow the search for an exact count.",
                if users > cap {
                    format!("more than {}", thousands(cap))
                } else {
                    thousands(users)
                }
            ),
        };
        let link = |position: Option<(&str, String)>| list_href(PATH, f, q.size, position);
        let pager = Pager::keyset(
            page.has_prev,
            page.has_next,
            page.rows.first().map(EventPage::cursor),
            page.rows.last().map(EventPage::cursor),
            link,
        );
        ActivityPage {
            layout,
            selects: vec![
                SelectField::new(
                    "feature",
                    "Feature",
                    &features,
                    f.feature.map(|x| x.key()).unwrap_or(""),
                ),
                SelectField::new(
                    "method",
                    "Authentication method",
                    &methods,
                    f.method.map(|m| m.key()).unwrap_or(""),
                ),
                SelectField::new(
                    "status",
                    "Status",
                    &[("", "All"), ("success", "Success"), ("failure", "Failure")],
                    f.outcome.map(|o| o.key()).unwrap_or(""),
                ),
                SelectField::new(
                    "in_directory",
                    "User in the directory",
                    &[("", "All"), ("yes", "Yes"), ("no", "No")],
                    f.in_directory.key(),
                ),
            ],
            range: RangeFields::new(f.range, now.date(), RETENTION_DAYS),
            q: f.search
                .as_ref()
                .map(|s| s.typed().to_string())
                .unwrap_or_default(),
            size_select,
            summary,
            filtered: !filter_pairs(f).is_empty(),
            subscribe: SubscribeLinks::of_csv(&list_href(
                &format!("{PATH}.csv"),
                f,
                PageSize::DEFAULT,
                None,
            )),
            csv_href: list_href(&format!("{PATH}.csv"), f, PageSize::DEFAULT, None),
            rows: page.rows.iter().map(Row::new).collect(),
            pager,
        }
    }
}

#[get("/activity", wrap = "from_fn(auth::reader)")]
pub async fn activity(
    state: web::Data<AppState>,
    viewer: Viewer,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let now = Utc::now().naive_utc();
    let query = parse_query(req.query_string(), now).map_err(|e| e.on_page(PATH))?;
    let q = query.clone();
    let cache = state.counts.clone();
    let (page, refreshed) = state
        .db(move |conn| {
            let counts = cache.read(conn)?;
            Ok((event_page(conn, &counts, &q)?, counts.refreshed))
        })
        .await?;
    let layout = Layout::page("Reset details", "activity")
        .signed(&viewer)
        .refreshed(refreshed);
    html(ActivityPage::new(&query, &page, now, layout))
}

#[get("/activity.csv", wrap = "from_fn(auth::reader)")]
pub async fn activity_csv(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let export = export(
        state.counts.clone(),
        req.query_string(),
        Utc::now().naive_utc(),
    )?;
    Ok(download(&state, export))
}

/// The view's download for a query string (a 400 naming the parameter when
/// it is wrong): the page's CSV and a subscription's file alike.
pub fn export(cache: Arc<CountCache>, query: &str, now: NaiveDateTime) -> AppResult<Export> {
    let query = parse_query(query, now).map_err(|e| e.on_page(PATH))?;
    Ok(Export {
        name: file_name("reset-details", now.date()),
        header: &COLUMNS,
        produce: Box::new(move |conn, sink| {
            let counts = cache.read(conn)?;
            let mut keys = event_export(conn, &counts, &query.filter, EXPORT_BLOCK)?;
            let mut texts = CsvTexts::default();
            loop {
                let block = keys.next_keys(conn, BLOCK_ROWS)?;
                if block.is_empty() {
                    return Ok(());
                }
                for e in load_rows(conn, &block)? {
                    texts.write(&e, sink)?;
                }
            }
        }),
    })
}
