//! `/usage`: the usage view — password resets and account unlocks per day,
//! resets by method (the overview's chart), sign-ins by authentication
//! requirement per day and by method — and `/usage.csv`, its per-day rows.

use super::auth::Viewer;
use super::charts::{Chart, CHART_WIDTH};
use super::error::AppResult;
use super::export::file_name;
use super::layout::Layout;
use super::lists::overview::parse_range;
use super::usage_figures::{day_report_href, load_usage, Outcomes, UsageFigures};
use super::{html, thousands, AppState};
use crate::domain::filter::RangeChoice;
use crate::domain::Feature;
use crate::web::auth;
use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{NaiveDate, Utc};

/// The command that brings sign-in summaries, shown when there are none.
pub const SIGN_IN_IMPORT_COMMAND: &str =
    "authinsights import graph userMfaSignInSummary.json userSignInsByAuthMethodSummary.json";

/// One rectangle of a column chart, in SVG units; a link where a list is
/// behind it.
pub struct Segment {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub class: &'static str,
    pub title: String,
    pub href: Option<String>,
}

pub struct AxisLabel {
    pub x: u32,
    pub text: String,
}

pub struct LegendKey {
    pub class: &'static str,
    pub label: &'static str,
}

/// Stacked columns per day.
pub struct ColumnChart {
    pub id: &'static str,
    pub title: &'static str,
    pub description: String,
    pub width: u32,
    pub height: u32,
    pub axis_y: u32,
    pub label_y: u32,
    pub max_text: String,
    pub segments: Vec<Segment>,
    pub labels: Vec<AxisLabel>,
    pub legend: Vec<LegendKey>,
}

/// Column charts are wider than the method charts: up to 31 days of two columns.
const COLUMN_WIDTH: u32 = 760;
const PLOT_TOP: u32 = 14;
const PLOT_HEIGHT: u32 = 150;
const PLOT_LEFT: u32 = 8;

/// One stack of a column: (count, class, what it is, link).
type Part = (i64, &'static str, String, Option<String>);

impl ColumnChart {
    /// `columns[day][stack]` = the parts of one stack, bottom first.
    fn new(
        id: &'static str,
        title: &'static str,
        description: String,
        days: &[NaiveDate],
        columns: Vec<Vec<Vec<Part>>>,
        legend: Vec<LegendKey>,
    ) -> ColumnChart {
        let max = columns
            .iter()
            .flatten()
            .map(|stack| stack.iter().map(|p| p.0).sum::<i64>())
            .max()
            .unwrap_or(0)
            .max(1);
        let stacks = columns.first().map_or(1, Vec::len).max(1) as u32;
        let slot = ((COLUMN_WIDTH - PLOT_LEFT) / days.len().max(1) as u32).clamp(8, 64);
        let bar = ((slot - 2) / stacks).clamp(2, 22);
        let axis_y = PLOT_TOP + PLOT_HEIGHT;
        let mut segments = Vec::new();
        for (i, day_stacks) in columns.into_iter().enumerate() {
            let x0 = PLOT_LEFT + i as u32 * slot + (slot - bar * stacks) / 2;
            for (s, stack) in day_stacks.into_iter().enumerate() {
                let mut top = axis_y;
                for (n, class, what, href) in stack {
                    let h = ((n as f64 / max as f64) * f64::from(PLOT_HEIGHT)).round() as u32;
                    let h = if n > 0 { h.max(2) } else { 0 };
                    top -= h.min(top - PLOT_TOP);
                    segments.push(Segment {
                        x: x0 + s as u32 * bar,
                        y: top,
                        width: bar.saturating_sub(1).max(1),
                        height: h,
                        class,
                        title: format!("{}: {} {what}", days[i].format("%Y-%m-%d"), thousands(n)),
                        href: if n > 0 { href } else { None },
                    });
                }
            }
        }
        // Every day labelled when they fit, else about eight labels.
        let every = (days.len() / 8).max(1);
        let labels = days
            .iter()
            .enumerate()
            .filter(|(i, _)| i % every == 0)
            .map(|(i, d)| AxisLabel {
                x: PLOT_LEFT + i as u32 * slot + slot / 2,
                text: d.format("%b %-d").to_string(),
            })
            .collect();
        ColumnChart {
            id,
            title,
            description,
            width: COLUMN_WIDTH,
            height: axis_y + 22,
            axis_y,
            label_y: axis_y + 15,
            max_text: thousands(max),
            segments,
            labels,
            legend,
        }
    }
}

/// A row of the resets-and-unlocks table.
pub struct OperationRow {
    pub day: String,
    pub cells: [(String, String); 4],
}

pub struct SignInRow {
    pub day: String,
    pub single_factor: String,
    pub multi_factor: String,
    pub total: String,
}

pub struct MethodBar {
    pub label: String,
    pub label_y: u32,
    pub y: u32,
    pub width: u32,
    pub count_text: String,
    pub text_x: u32,
}

pub struct RangeLink {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "usage.html")]
pub struct UsagePage {
    pub layout: Layout,
    pub ranges: Vec<RangeLink>,
    pub first_day: String,
    pub last_day: String,
    pub csv_href: String,
    pub operations: ColumnChart,
    pub operation_rows: Vec<OperationRow>,
    pub operation_totals: [String; 4],
    pub c: Chart,
    pub since: String,
    pub chart_width: u32,
    pub has_sign_ins: bool,
    pub import_command: &'static str,
    pub sign_ins: Option<ColumnChart>,
    pub sign_in_rows: Vec<SignInRow>,
    pub method_bars: Vec<MethodBar>,
    pub method_height: u32,
}

fn outcome_cells(o: Outcomes, feature: Feature, day: NaiveDate) -> [(String, String); 2] {
    [
        (thousands(o.succeeded), day_report_href(feature, true, day)),
        (
            thousands(o.not_succeeded),
            day_report_href(feature, false, day),
        ),
    ]
}

impl UsagePage {
    pub fn new(f: &UsageFigures, layout: Layout) -> UsagePage {
        let days: Vec<NaiveDate> = f.days().collect();
        let legend = vec![
            LegendKey {
                class: "bar-success",
                label: "Resets succeeded",
            },
            LegendKey {
                class: "bar-failure",
                label: "Resets not succeeded",
            },
            LegendKey {
                class: "bar-unlock-ok",
                label: "Unlocks succeeded",
            },
            LegendKey {
                class: "bar-unlock-bad",
                label: "Unlocks not succeeded",
            },
        ];
        let stack = |o: Outcomes, feature: Feature, day: NaiveDate| -> Vec<Part> {
            let (ok, bad, noun) = match feature {
                Feature::Unlock => ("bar-unlock-ok", "bar-unlock-bad", "account unlocks"),
                _ => ("bar-success", "bar-failure", "password resets"),
            };
            vec![
                (
                    o.succeeded,
                    ok,
                    format!("{noun} succeeded"),
                    Some(day_report_href(feature, true, day)),
                ),
                (
                    o.not_succeeded,
                    bad,
                    format!("{noun} not succeeded (the day's list shows every result)"),
                    Some(day_report_href(feature, false, day)),
                ),
            ]
        };
        let columns = f
            .operations
            .iter()
            .map(|o| {
                vec![
                    stack(o.resets, Feature::Reset, o.day),
                    stack(o.unlocks, Feature::Unlock, o.day),
                ]
            })
            .collect();
        let operations = ColumnChart::new(
            "operations",
            "Password resets and account unlocks",
            format!(
                "Self-service password resets (left column of each day) and account unlocks (right column) per UTC day, {} to {}; the lower part succeeded, the upper part ended otherwise (abandoned, blocked, cancelled, contacted admin or failed).",
                f.first_day, f.last_day
            ),
            &days,
            columns,
            legend,
        );
        let operation_rows = f
            .operations
            .iter()
            .rev()
            .map(|o| {
                let [a, b] = outcome_cells(o.resets, Feature::Reset, o.day);
                let [c, d] = outcome_cells(o.unlocks, Feature::Unlock, o.day);
                OperationRow {
                    day: o.day.to_string(),
                    cells: [a, b, c, d],
                }
            })
            .collect();
        let sum = |pick: fn(&super::usage_figures::OperationDay) -> i64| {
            thousands(f.operations.iter().map(pick).sum())
        };
        let operation_totals = [
            sum(|o| o.resets.succeeded),
            sum(|o| o.resets.not_succeeded),
            sum(|o| o.unlocks.succeeded),
            sum(|o| o.unlocks.not_succeeded),
        ];
        let sign_ins = (!f.sign_in_days.is_empty()).then(|| {
            let columns = days
                .iter()
                .map(|d| {
                    let s = f.sign_ins_on(*d);
                    vec![vec![
                        (
                            s.map_or(0, |s| s.single_factor),
                            "bar-single",
                            "single-factor sign-ins".to_string(),
                            None,
                        ),
                        (
                            s.map_or(0, |s| s.multi_factor),
                            "bar-multi",
                            "multifactor sign-ins".to_string(),
                            None,
                        ),
                    ]]
                })
                .collect();
            ColumnChart::new(
                "sign-ins",
                "Sign-ins by authentication requirement",
                format!(
                    "Single-factor and multifactor sign-ins per UTC day, {} to {}, as the directory's daily summaries give them.",
                    f.first_day, f.last_day
                ),
                &days,
                columns,
                vec![
                    LegendKey {
                        class: "bar-single",
                        label: "Single-factor",
                    },
                    LegendKey {
                        class: "bar-multi",
                        label: "Multifactor",
                    },
                ],
            )
        });
        let sign_in_rows = days
            .iter()
            .rev()
            .map(|d| match f.sign_ins_on(*d) {
                Some(s) => SignInRow {
                    day: d.to_string(),
                    single_factor: thousands(s.single_factor),
                    multi_factor: thousands(s.multi_factor),
                    total: thousands(s.total),
                },
                None => SignInRow {
                    day: d.to_string(),
                    single_factor: "no data".into(),
                    multi_factor: "no data".into(),
                    total: "no data".into(),
                },
            })
            .collect();
        let max = f
            .sign_in_methods
            .iter()
            .map(|m| m.sign_ins)
            .max()
            .unwrap_or(0)
            .max(1);
        let method_bars: Vec<MethodBar> = f
            .sign_in_methods
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let y = 8 + i as u32 * 24;
                let width = ((m.sign_ins as f64 / max as f64) * 260.0).round() as u32;
                let width = if m.sign_ins > 0 { width.max(2) } else { 0 };
                MethodBar {
                    label: m.label(),
                    label_y: y + 11,
                    y,
                    width,
                    count_text: thousands(m.sign_ins),
                    text_x: 190 + width + 6,
                }
            })
            .collect();
        let method_height = 8 + method_bars.len() as u32 * 24;
        UsagePage {
            layout,
            ranges: RangeChoice::PRESETS
                .iter()
                .map(|r| RangeLink {
                    label: r.label(),
                    href: if *r == RangeChoice::default() {
                        "/usage".into()
                    } else {
                        format!("/usage?range={}", r.key())
                    },
                    current: *r == f.range,
                })
                .collect(),
            first_day: f.first_day.to_string(),
            last_day: f.last_day.to_string(),
            csv_href: match f.range {
                r if r == RangeChoice::default() => "/usage.csv".into(),
                r => format!("/usage.csv?range={}", r.key()),
            },
            operations,
            operation_rows,
            operation_totals,
            c: Chart::new(&f.reset_methods, f.range),
            since: f.window.start.format("%Y-%m-%d %H:%M UTC").to_string(),
            chart_width: CHART_WIDTH,
            has_sign_ins: f.any_sign_ins,
            import_command: SIGN_IN_IMPORT_COMMAND,
            sign_ins,
            sign_in_rows,
            method_bars,
            method_height,
        }
    }
}

#[get("/usage", wrap = "from_fn(auth::reader)")]
pub async fn usage(
    state: web::Data<AppState>,
    viewer: Viewer,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let range = parse_range(req.query_string()).map_err(|e| e.on_page("/usage"))?;
    let now = Utc::now().naive_utc();
    let (figures, refreshed) = state
        .db(move |conn| {
            let refreshed = crate::db::overview::last_refreshed(conn)?;
            Ok((load_usage(conn, range, now)?, refreshed))
        })
        .await?;
    let layout = Layout::page("Usage", "usage")
        .signed(&viewer)
        .refreshed(refreshed);
    html(UsagePage::new(&figures, layout))
}

/// The columns of `/usage.csv`: one row per day.
pub const CSV_COLUMNS: [&str; 8] = [
    "Day",
    "Resets succeeded",
    "Resets not succeeded",
    "Unlocks succeeded",
    "Unlocks not succeeded",
    "Single-factor sign-ins",
    "Multifactor sign-ins",
    "Total sign-ins",
];

/// The per-day rows of the usage view as CSV (a few dozen rows: written
/// whole). Days without a sign-in summary leave its cells empty.
pub fn csv_text(f: &UsageFigures) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    for o in &f.operations {
        let s = f.sign_ins_on(o.day);
        let cell = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\r\n",
            o.day,
            o.resets.succeeded,
            o.resets.not_succeeded,
            o.unlocks.succeeded,
            o.unlocks.not_succeeded,
            cell(s.map(|s| s.single_factor)),
            cell(s.map(|s| s.multi_factor)),
            cell(s.map(|s| s.total)),
        ));
    }
    out
}

#[get("/usage.csv", wrap = "from_fn(auth::reader)")]
pub async fn usage_csv(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let range = parse_range(req.query_string()).map_err(|e| e.on_page("/usage"))?;
    let now = Utc::now().naive_utc();
    let figures = state.db(move |conn| load_usage(conn, range, now)).await?;
    let name = file_name("usage", now.date());
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(name)],
        })
        .body(csv_text(&figures)))
}
