//! `/activity`: reset details, the method events of a range.

use super::auth::Viewer;
use super::error::AppResult;
use super::export::{download, file_name, BLOCK_ROWS};
use super::forms::{Pager, RangeFields, SelectField};
use super::layout::Layout;
use super::params::{href, list_href, query_string, Params};
use super::{html, thousands, user_href, AppState};
use crate::db::counts::data_changed_at;
use crate::db::events::{
    event_export, event_page, load_rows, EventCount, EventPage, EventQuery, EventRow,
};
use crate::db::timeline::{validate_position, EXPORT_BLOCK};
use crate::domain::filter::{
    parse_feature, EventFilter, Outcome, PagePosition, PageSize, RangeChoice, Search,
};
use crate::domain::{Feature, Method};
use crate::web::auth;
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{NaiveDateTime, Utc};

pub const PATH: &str = "/activity";

/// Days of events kept; ranges may reach back this far.
pub const RETENTION_DAYS: u32 = 30;

pub const PARAMS: [&str; 10] = [
    "feature", "method", "status", "range", "from", "to", "q", "size", "after", "before",
];

pub fn parse_query(query: &str, now: NaiveDateTime) -> AppResult<EventQuery> {
    let p = Params::parse(query, &PARAMS)?;
    let method = match p.one("method")?.unwrap_or("") {
        "" | "all" => None,
        v => Some(
            Method::from_key(v)
                .filter(|m| Method::USAGE.contains(m))
                .ok_or_else(|| {
                    let keys: Vec<&str> = Method::USAGE.iter().map(|m| m.key()).collect();
                    crate::domain::filter::FilterError::new(
                        "method",
                        format!(
                            "'{v}' is not an authentication method; use one of {}",
                            keys.join(", ")
                        ),
                    )
                })?,
        ),
    };
    let range = RangeChoice::parse(
        p.one("range")?,
        p.one("from")?,
        p.one("to")?,
        now.date(),
        RETENTION_DAYS,
    )?;
    let position = PagePosition::parse(p.one("after")?, p.one("before")?)?;
    validate_position(&position)?;
    Ok(EventQuery {
        filter: EventFilter {
            feature: parse_feature("feature", p.one("feature")?)?,
            method,
            outcome: Outcome::parse("status", p.one("status")?)?,
            range,
            window: range.window(now),
            search: Search::parse("q", p.one("q")?)?,
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
    ];
    pairs.extend(RangeFields::pairs(f.range));
    pairs.push((
        "q",
        f.search
            .as_ref()
            .map(|s| s.typed().to_string())
            .unwrap_or_default(),
    ));
    pairs.retain(|(_, v)| !v.is_empty());
    pairs
}

/// The list for one kind of event in a range: what a chart bar links to.
pub fn kind_href(feature: Feature, method: Method, outcome: Outcome, range: RangeChoice) -> String {
    let mut pairs = vec![
        ("feature", feature.key().to_string()),
        ("method", method.key().to_string()),
        ("status", outcome.key().to_string()),
    ];
    if range != RangeChoice::default() {
        pairs.push(("range", range.key().to_string()));
    }
    href(
        PATH,
        &query_string(pairs.iter().map(|(k, v)| (*k, v.as_str()))),
    )
}

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
    pub user_href: Option<String>,
    pub name: String,
    pub user_name: String,
    pub feature: &'static str,
    pub method: &'static str,
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
            self.method,
            self.status,
            &self.date,
            &self.failure_reason,
        ]
    }

    fn new(e: &EventRow) -> Row {
        let known = e.display_name.is_some();
        Row {
            user_href: known.then(|| user_href(&e.user_id)),
            name: e
                .display_name
                .clone()
                .unwrap_or_else(|| "(unknown user)".into()),
            user_name: e
                .user_principal_name
                .clone()
                .unwrap_or_else(|| e.user_id.clone()),
            feature: Feature::from_code(e.feature)
                .map(|f| f.display_name())
                .unwrap_or("Unknown"),
            method: Method::from_code(e.method)
                .map(|m| m.display_name())
                .unwrap_or("Unknown"),
            status: Outcome::from_success(e.success).display_name(),
            date: e.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            date_iso: e.occurred_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            failure_reason: e.failure_reason.clone().unwrap_or_default(),
        }
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
    pub rows: Vec<Row>,
    pub pager: Pager,
}

impl ActivityPage {
    pub fn new(q: &EventQuery, page: &EventPage, now: NaiveDateTime, layout: Layout) -> Self {
        let f = &q.filter;
        let features: Vec<(&str, &str)> = std::iter::once(("", "All"))
            .chain(Feature::ALL.iter().map(|x| (x.key(), x.display_name())))
            .collect();
        let methods: Vec<(&str, &str)> = std::iter::once(("", "All"))
            .chain(Method::USAGE.iter().map(|m| (m.key(), m.display_name())))
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
        let link =
            |position: Option<(&str, String)>| list_href(PATH, filter_pairs(f), q.size, position);
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
            ],
            range: RangeFields::new(f.range, now.date(), RETENTION_DAYS),
            q: f.search
                .as_ref()
                .map(|s| s.typed().to_string())
                .unwrap_or_default(),
            size_select,
            summary,
            filtered: !filter_pairs(f).is_empty(),
            csv_href: list_href(
                &format!("{PATH}.csv"),
                filter_pairs(f),
                PageSize::DEFAULT,
                None,
            ),
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
    let (page, refreshed) = state
        .db(move |conn| Ok((event_page(conn, &q)?, data_changed_at(conn)?)))
        .await?;
    let layout = Layout::page("Reset details", "activity")
        .signed(&viewer)
        .refreshed(refreshed);
    html(ActivityPage::new(&query, &page, now, layout))
}

#[get("/activity.csv", wrap = "from_fn(auth::reader)")]
pub async fn activity_csv(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let now = Utc::now().naive_utc();
    let query = parse_query(req.query_string(), now).map_err(|e| e.on_page(PATH))?;
    let name = file_name("reset-details", now.date());
    Ok(download(&state, name, &COLUMNS, move |conn, sink| {
        let mut keys = event_export(conn, &query.filter, EXPORT_BLOCK)?;
        loop {
            let block = keys.next_keys(conn, BLOCK_ROWS)?;
            if block.is_empty() {
                return Ok(());
            }
            for e in load_rows(conn, &block)? {
                sink.row(Row::new(&e).cells())?;
            }
        }
    }))
}
