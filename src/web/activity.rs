//! `/activity`: reset details, the method events of a range.

use super::error::AppResult;
use super::forms::{Pager, SelectField};
use super::layout::Layout;
use super::params::{href, query_string, Params};
use super::{html, thousands, user_href, AppState};
use crate::db::counts::data_changed_at;
use crate::db::events::{
    event_page, validate_position, EventCount, EventPage, EventQuery, EventRow,
};
use crate::domain::filter::{
    parse_feature, EventFilter, Outcome, PagePosition, PageSize, RangeChoice, Search,
};
use crate::domain::{Feature, Method};
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
    match f.range {
        RangeChoice::Dates { from, to } => {
            pairs.push(("range", "custom".into()));
            pairs.push(("from", from.to_string()));
            pairs.push(("to", to.to_string()));
        }
        r if r == RangeChoice::default() => {}
        r => pairs.push(("range", r.key().into())),
    }
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

fn list_href(f: &EventFilter, size: PageSize, position: Option<(&str, String)>) -> String {
    let mut pairs = filter_pairs(f);
    if size != PageSize::DEFAULT {
        pairs.push(("size", size.get().to_string()));
    }
    if let Some((name, cursor)) = position {
        pairs.push((name, cursor));
    }
    href(
        PATH,
        &query_string(pairs.iter().map(|(k, v)| (*k, v.as_str()))),
    )
}

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
    pub range_select: SelectField,
    pub from: String,
    pub to: String,
    pub min_date: String,
    pub max_date: String,
    pub q: String,
    pub size_select: SelectField,
    pub summary: String,
    pub filtered: bool,
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
        let ranges: Vec<(&str, &str)> = RangeChoice::PRESETS
            .iter()
            .map(|r| (r.key(), r.label()))
            .chain(std::iter::once(("custom", "Custom dates")))
            .collect();
        let (from, to) = match f.range {
            RangeChoice::Dates { from, to } => (from.to_string(), to.to_string()),
            _ => (String::new(), String::new()),
        };
        let size_select = SelectField::page_size(q.size);

        let since = f.window.start.format("%Y-%m-%d %H:%M UTC");
        let span = match (f.range, f.window.end) {
            (RangeChoice::Dates { from, to }, _) => format!("from {from} to {to} (UTC)"),
            (r, _) => format!("in the last {} (since {since})", r.label()),
        };
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
        let link = |position: Option<(&str, String)>| list_href(f, q.size, position);
        let pager = Pager::keyset(
            page.has_prev,
            page.has_next,
            page.rows.first().map(EventPage::cursor),
            page.rows.last().map(EventPage::cursor),
            link,
        );
        let today = now.date();
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
            range_select: SelectField::new("range", "Range", &ranges, f.range.key()),
            from,
            to,
            min_date: (today - chrono::Duration::days(i64::from(RETENTION_DAYS))).to_string(),
            max_date: today.to_string(),
            q: f.search
                .as_ref()
                .map(|s| s.typed().to_string())
                .unwrap_or_default(),
            size_select,
            summary,
            filtered: !filter_pairs(f).is_empty(),
            rows: page.rows.iter().map(Row::new).collect(),
            pager,
        }
    }
}

#[get("/activity")]
pub async fn activity(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let now = Utc::now().naive_utc();
    let query = parse_query(req.query_string(), now).map_err(|e| e.on_page(PATH))?;
    let q = query.clone();
    let (page, refreshed) = state
        .db(move |conn| Ok((event_page(conn, &q)?, data_changed_at(conn)?)))
        .await?;
    let layout = Layout::page("Reset details", "activity").refreshed(refreshed);
    html(ActivityPage::new(&query, &page, now, layout))
}
