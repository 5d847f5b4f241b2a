//! `/`: the overview blade — tiles, insights and the two charts, each linking
//! to the list it summarises.

use super::auth::Viewer;
use super::charts::{Chart, CHART_WIDTH};
use super::error::AppResult;
use super::figures::{load_figures, Figures};
use super::layout::Layout;
use super::lists::overview::parse_range;
use super::lists::registrations::filter_href;
use super::{html, percent, thousands, AppState};
use crate::domain::filter::RangeChoice;
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
