//! The classic password-management reports (seed: password-management
//! reports): Registration activity and Reset activity, one row per
//! operation, newest first, and their CSV downloads.

use super::auth::Viewer;
use super::error::AppResult;
use super::export::{download, file_name, Export, ExportError, Sink};
use super::forms::{Pager, RangeFields, SelectField};
use super::layout::Layout;
use super::lists::reports::{filter_pairs, list_href, parse_query, Report, RESET_REPORT_FEATURES};
use super::lists::views::SubscribeLinks;
use super::lists::RETENTION_DAYS;
use super::{html, thousands, user_href, AppState};
use crate::db::activities::{
    activity_export, activity_page, load_rows, ActivityCount, ActivityPage, ActivityQuery,
    ActivityRow,
};
use crate::db::cache::CountCache;
use crate::db::timeline::EXPORT_BLOCK;
use crate::domain::filter::{ActivityFilter, PageSize};
use crate::domain::{ActivityResult, Details, Feature, MethodSet, PolicyMethod};
use crate::web::auth;
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{NaiveDateTime, Utc};
use std::sync::Arc;

/// One row as the page and the CSV show it: the cells, in column order.
pub struct Row {
    pub user_href: Option<String>,
    pub date_iso: String,
    pub cells: Vec<String>,
}

impl Row {
    pub fn new(report: Report, r: &ActivityRow) -> Row {
        let a = &r.activity;
        let (name, user_name) = match &r.current {
            Some((name, upn)) => (name.clone(), upn.clone()),
            None if !a.user_display_name.is_empty() => {
                (a.user_display_name.clone(), a.user_principal_name.clone())
            }
            None => ("(unknown user)".to_string(), a.user_principal_name.clone()),
        };
        let mut cells = vec![
            name,
            user_name,
            a.user_role.clone(),
            a.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        ];
        let result = ActivityResult::from_code(a.result);
        match report {
            Report::RegistrationActivity => {
                let methods = MethodSet::from_mask(a.methods_mask).classic_display();
                cells.push(match result {
                    Some(ActivityResult::Succeeded) => methods,
                    _ if methods.is_empty() => "Nothing registered".to_string(),
                    _ => format!("Nothing registered (tried {methods})"),
                });
            }
            Report::ResetActivity => {
                cells.push(MethodSet::from_mask(a.methods_mask).classic_display());
                cells.push(
                    result
                        .map(|r| r.display_name())
                        .unwrap_or("Unknown")
                        .to_string(),
                );
                cells.push(
                    a.details
                        .and_then(Details::from_code)
                        .map(|d| d.text())
                        .unwrap_or("")
                        .to_string(),
                );
            }
        }
        Row {
            user_href: r.current.as_ref().and(a.user_id.as_deref()).map(user_href),
            date_iso: a.occurred_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            cells,
        }
    }
}

#[derive(Template)]
#[template(path = "report.html")]
pub struct ReportPage {
    pub layout: Layout,
    pub path: &'static str,
    pub description: &'static str,
    pub columns: &'static [&'static str],
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

impl ReportPage {
    pub fn new(
        report: Report,
        q: &ActivityQuery,
        page: &ActivityPage,
        now: NaiveDateTime,
        layout: Layout,
    ) -> Self {
        let f = &q.filter;
        let path = report.path();
        let mut selects = Vec::new();
        if report == Report::ResetActivity {
            let features: Vec<(&str, &str)> = RESET_REPORT_FEATURES
                .iter()
                .map(|x| {
                    (
                        if *x == Feature::Reset { "" } else { x.key() },
                        match x {
                            Feature::Unlock => "Account unlocks",
                            _ => "Password resets",
                        },
                    )
                })
                .collect();
            selects.push(SelectField::new(
                "feature",
                "Operation",
                &features,
                if f.feature == Feature::Unlock {
                    f.feature.key()
                } else {
                    ""
                },
            ));
            let results: Vec<(&str, &str)> = std::iter::once(("", "All"))
                .chain(
                    ActivityResult::ALL
                        .iter()
                        .map(|r| (r.key(), r.display_name())),
                )
                .collect();
            selects.push(SelectField::new(
                "result",
                "Result",
                &results,
                f.result.map(|r| r.key()).unwrap_or(""),
            ));
        }
        let methods: Vec<(&str, &str)> = std::iter::once(("", "All"))
            .chain(
                PolicyMethod::ALL
                    .iter()
                    .map(|m| (m.key(), m.classic_name())),
            )
            .collect();
        selects.push(SelectField::new(
            "method",
            match report {
                Report::RegistrationActivity => "Data registered",
                Report::ResetActivity => "Method used",
            },
            &methods,
            f.method.map(|m| m.key()).unwrap_or(""),
        ));
        let noun = match report {
            Report::RegistrationActivity => ("registration", "registrations"),
            Report::ResetActivity if f.feature == Feature::Unlock => {
                ("account unlock", "account unlocks")
            }
            Report::ResetActivity => ("password reset", "password resets"),
        };
        let span = RangeFields::span(f.range, f.window);
        let summary = match page.count {
            ActivityCount::Exact(n) => format!(
                "{} {} {span}.",
                thousands(n),
                if n == 1 { noun.0 } else { noun.1 }
            ),
            ActivityCount::SearchTooBroad { users, cap } => format!(
                "The search matches {} users: too many to count their {} quickly. Newest first {span}; narrow the search for an exact count.",
                if users > cap {
                    format!("more than {}", thousands(cap))
                } else {
                    thousands(users)
                },
                noun.1
            ),
        };
        let link = |position: Option<(&str, String)>| list_href(path, f, q.size, position);
        let pager = Pager::keyset(
            page.has_prev,
            page.has_next,
            page.rows.first().map(ActivityPage::cursor),
            page.rows.last().map(ActivityPage::cursor),
            link,
        );
        ReportPage {
            layout,
            subscribe: SubscribeLinks::of_csv(&list_href(
                &format!("{path}.csv"),
                f,
                PageSize::DEFAULT,
                None,
            )),
            csv_href: list_href(&format!("{path}.csv"), f, PageSize::DEFAULT, None),
            description: report.description(),
            columns: report.columns(),
            selects,
            range: RangeFields::new(f.range, now.date(), RETENTION_DAYS),
            q: f.search
                .as_ref()
                .map(|s| s.typed().to_string())
                .unwrap_or_default(),
            size_select: SelectField::page_size(q.size),
            summary,
            filtered: !filter_pairs(f).is_empty(),
            rows: page.rows.iter().map(|r| Row::new(report, r)).collect(),
            pager,
            path,
        }
    }
}

async fn show(
    report: Report,
    state: web::Data<AppState>,
    viewer: Viewer,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let now = Utc::now().naive_utc();
    let path = report.path();
    let query = parse_query(report, req.query_string(), now).map_err(|e| e.on_page(path))?;
    let q = query.clone();
    let cache = state.counts.clone();
    let (page, refreshed) = state
        .db(move |conn| {
            let counts = cache.read(conn)?;
            Ok((activity_page(conn, &counts, &q)?, counts.refreshed))
        })
        .await?;
    let layout = Layout::page(report.title(), report.slug())
        .signed(&viewer)
        .refreshed(refreshed);
    html(ReportPage::new(report, &query, &page, now, layout))
}

async fn csv(
    report: Report,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let export = export(
        report,
        state.counts.clone(),
        req.query_string(),
        Utc::now().naive_utc(),
    )?;
    Ok(download(&state, export))
}

/// A report's download for a query string (a 400 naming the parameter when
/// it is wrong): the page's CSV and a subscription's file alike.
pub fn export(
    report: Report,
    cache: Arc<CountCache>,
    query: &str,
    now: NaiveDateTime,
) -> AppResult<Export> {
    let path = report.path();
    let query = parse_query(report, query, now).map_err(|e| e.on_page(path))?;
    Ok(Export {
        name: file_name(report.slug(), now.date()),
        header: report.columns(),
        produce: Box::new(move |conn, sink| write_rows(report, conn, &cache, &query.filter, sink)),
    })
}

/// Writes every activity that passes the filter, newest first.
fn write_rows(
    report: Report,
    conn: &mut crate::db::DbConnection,
    cache: &CountCache,
    f: &ActivityFilter,
    sink: &mut Sink,
) -> Result<(), ExportError> {
    let counts = cache.read(conn)?;
    let mut keys = activity_export(conn, &counts, f, EXPORT_BLOCK)?;
    loop {
        let block = keys.next_keys(conn, super::export::BLOCK_ROWS)?;
        if block.is_empty() {
            return Ok(());
        }
        for r in load_rows(conn, &block)? {
            let row = Row::new(report, &r);
            sink.row(row.cells.iter().map(String::as_str))?;
        }
    }
}

#[get("/reports/registration-activity", wrap = "from_fn(auth::reader)")]
pub async fn registration_activity(
    state: web::Data<AppState>,
    viewer: Viewer,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    show(Report::RegistrationActivity, state, viewer, req).await
}

#[get("/reports/reset-activity", wrap = "from_fn(auth::reader)")]
pub async fn reset_activity(
    state: web::Data<AppState>,
    viewer: Viewer,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    show(Report::ResetActivity, state, viewer, req).await
}

#[get("/reports/registration-activity.csv", wrap = "from_fn(auth::reader)")]
pub async fn registration_activity_csv(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    csv(Report::RegistrationActivity, state, req).await
}

#[get("/reports/reset-activity.csv", wrap = "from_fn(auth::reader)")]
pub async fn reset_activity_csv(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    csv(Report::ResetActivity, state, req).await
}
