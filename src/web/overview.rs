//! `/`: the overview blade — tiles, insights and the two charts, each linking
//! to the list it summarises.

use super::auth::Viewer;
use super::error::AppResult;
use super::figures::{load_figures, ChartFigure, Figures};
use super::layout::Layout;
use super::lists::events::kind_href;
use super::lists::overview::parse_range;
use super::lists::registrations::filter_href;
use super::{html, percent, thousands, AppState};
use crate::domain::filter::{Outcome, RangeChoice};
use crate::domain::{Feature, Method};
use crate::web::auth;
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;

pub struct Tile {
    pub title: &'static str,
    pub count: String,
    pub share: String,
    pub href: String,
    pub note: String,
}

pub struct Insight {
    pub count: String,
    pub text: String,
    pub href: String,
}

pub struct RangeLink {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

/// One bar of a chart, positioned in the SVG's user units.
pub struct Bar {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub count: i64,
    pub count_text: String,
    pub text_x: u32,
    pub href: String,
    pub title: String,
    pub class: &'static str,
}

/// One method's row of a chart.
pub struct ChartRow {
    pub method: &'static str,
    pub label_y: u32,
    pub success: Bar,
    pub failure: Bar,
}

impl ChartRow {
    pub fn bars(&self) -> [&Bar; 2] {
        [&self.success, &self.failure]
    }
}

pub struct Chart {
    pub id: &'static str,
    pub title: &'static str,
    pub description: String,
    pub height: u32,
    pub rows: Vec<ChartRow>,
    pub total_success: String,
    pub total_failure: String,
}

const LABEL_WIDTH: u32 = 150;
const BAR_MAX: u32 = 290;
const BAR_HEIGHT: u32 = 13;
const ROW_HEIGHT: u32 = 38;
pub const CHART_WIDTH: u32 = 520;

impl Chart {
    fn new(figure: &ChartFigure, range: RangeChoice) -> Chart {
        let feature = figure.feature;
        let max = figure
            .rows
            .iter()
            .flat_map(|r| [r.success, r.failure])
            .max()
            .unwrap_or(0)
            .max(1);
        let what = match feature {
            Feature::Registration => "registrations",
            Feature::Reset => "verifications during password reset",
            Feature::Unlock => "verifications during account unlock",
        };
        let bar = |m: Method, outcome: Outcome, n: i64, y: u32| {
            let width = ((n as f64 / max as f64) * f64::from(BAR_MAX)).round() as u32;
            let width = if n > 0 { width.max(2) } else { 0 };
            Bar {
                x: LABEL_WIDTH,
                y,
                width,
                count: n,
                count_text: thousands(n),
                text_x: LABEL_WIDTH + width + 6,
                href: kind_href(feature, m, outcome, range),
                title: format!(
                    "{}: {} {} {}",
                    m.display_name(),
                    thousands(n),
                    outcome.display_name().to_lowercase(),
                    if n == 1 { "event" } else { "events" }
                ),
                class: match outcome {
                    Outcome::Success => "bar-success",
                    Outcome::Failure => "bar-failure",
                },
            }
        };
        let rows: Vec<ChartRow> = figure
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let top = 8 + i as u32 * ROW_HEIGHT;
                ChartRow {
                    method: r.method.display_name(),
                    label_y: top + BAR_HEIGHT + 4,
                    success: bar(r.method, Outcome::Success, r.success, top),
                    failure: bar(r.method, Outcome::Failure, r.failure, top + BAR_HEIGHT + 2),
                }
            })
            .collect();
        Chart {
            id: figure.key(),
            title: match feature {
                Feature::Registration => "Registrations",
                Feature::Reset => "Resets",
                Feature::Unlock => "Unlocks",
            },
            description: format!(
                "Successful and failed {what} per authentication method in the last {}.",
                range.label()
            ),
            height: 8 + rows.len() as u32 * ROW_HEIGHT,
            total_success: thousands(figure.total(true)),
            total_failure: thousands(figure.total(false)),
            rows,
        }
    }
}

#[derive(Template)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    pub layout: Layout,
    pub total_users: String,
    pub tiles: Vec<Tile>,
    pub insights: Vec<Insight>,
    pub ranges: Vec<RangeLink>,
    pub range_label: &'static str,
    pub since: String,
    pub charts: Vec<Chart>,
    pub chart_width: u32,
}

impl OverviewPage {
    pub fn new(
        figures: &Figures,
        range: RangeChoice,
        since: chrono::NaiveDateTime,
        layout: Layout,
    ) -> OverviewPage {
        let users = figures.users;
        let tiles = figures
            .tiles
            .iter()
            .map(|t| Tile {
                title: t.title,
                count: thousands(t.count),
                share: percent(t.count, users),
                href: filter_href(&t.filter),
                note: t.note.text.clone(),
            })
            .collect();
        let insights = figures
            .insights
            .iter()
            .map(|i| Insight {
                count: thousands(i.count),
                text: i.text.clone(),
                href: filter_href(&i.filter),
            })
            .collect();
        let ranges = RangeChoice::PRESETS
            .iter()
            .map(|r| RangeLink {
                label: r.label(),
                href: if *r == RangeChoice::default() {
                    "/".into()
                } else {
                    format!("/?range={}", r.key())
                },
                current: *r == range,
            })
            .collect();
        OverviewPage {
            layout,
            total_users: thousands(users),
            tiles,
            insights,
            ranges,
            range_label: range.label(),
            since: since.format("%Y-%m-%d %H:%M UTC").to_string(),
            charts: figures
                .charts
                .iter()
                .map(|c| Chart::new(c, range))
                .collect(),
            chart_width: CHART_WIDTH,
        }
    }
}

#[get("/", wrap = "from_fn(auth::reader)")]
pub async fn overview(
    state: web::Data<AppState>,
    viewer: Viewer,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let range = parse_range(req.query_string()).map_err(|e| e.on_page("/"))?;
    let window = range.window(Utc::now().naive_utc());
    let cache = state.figures.clone();
    let (figures, refreshed) = state
        .db(move |conn| load_figures(conn, &cache, window))
        .await?;
    let layout = Layout::page("Usage & insights", "overview")
        .signed(&viewer)
        .refreshed(refreshed);
    html(OverviewPage::new(&figures, range, window.start, layout))
}
