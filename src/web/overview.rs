//! `/`: the overview blade — tiles, insights and the two charts, each linking
//! to the list it summarises.

use super::auth::Viewer;
use super::charts::{Bar, Chart, BAR_HEIGHT, BAR_MAX, CHART_WIDTH};
use super::error::AppResult;
use super::figures::{load_figures, Figures};
use super::layout::Layout;
use super::lists::overview::parse_range;
use super::lists::registrations::filter_href;
use super::{html, percent, thousands, AppState};
use crate::domain::filter::{RangeChoice, RegistrationFilter};
use crate::domain::MethodSet;
use crate::web::auth;
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;
use std::sync::Arc;

pub struct Tile {
    pub title: &'static str,
    pub count: String,
    pub share: String,
    pub href: String,
    pub note: String,
    pub spark: Spark,
}

/// A tile's figure over the last days as a small line (the trends page has
/// it in full).
pub struct Spark {
    /// The polyline's points in the SVG's user units.
    pub points: String,
    /// What the line shows, in words.
    pub label: String,
}

pub const SPARK_WIDTH: u32 = 120;
pub const SPARK_HEIGHT: u32 = 28;

impl Spark {
    pub fn new(values: &[(chrono::NaiveDate, i64)]) -> Spark {
        let max = values.iter().map(|v| v.1).max().unwrap_or(0);
        let min = values.iter().map(|v| v.1).min().unwrap_or(0);
        let span = (max - min).max(1) as f64;
        // A figure that did not move is a line through the middle.
        let flat = max == min;
        let step = f64::from(SPARK_WIDTH - 2) / (values.len().max(2) - 1) as f64;
        let points = values
            .iter()
            .enumerate()
            .map(|(i, (_, v))| {
                let x = 1.0 + i as f64 * step;
                let y = if flat {
                    f64::from(SPARK_HEIGHT) / 2.0
                } else {
                    2.0 + (1.0 - (v - min) as f64 / span) * f64::from(SPARK_HEIGHT - 4)
                };
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ");
        let label = match (values.first(), values.last()) {
            (Some(first), Some(last)) => format!(
                "{} on {}, {} on {}",
                thousands(first.1),
                first.0.format("%Y-%m-%d"),
                thousands(last.1),
                last.0.format("%Y-%m-%d")
            ),
            _ => "no history yet".into(),
        };
        Spark { points, label }
    }
}

/// One method's bar of "Users registered by authentication method".
pub struct MethodRow {
    pub method: &'static str,
    pub label_y: u32,
    pub bar: Bar,
}

const METHOD_ROW_HEIGHT: u32 = 22;
/// The method chart's labels are the catalogue's longest names.
const METHOD_LABEL_WIDTH: u32 = 240;
pub const METHOD_CHART_WIDTH: u32 = METHOD_LABEL_WIDTH + BAR_MAX + 70;

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

/// The overview's page: the layout (whose account bar is the viewer's) and
/// the range control around the content, which is the same for every viewer
/// and is rendered once per data version and range.
#[derive(Template)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    pub layout: Layout,
    pub ranges: Vec<RangeLink>,
    pub content: Arc<str>,
}

impl OverviewPage {
    pub fn new(
        figures: &Figures,
        range: RangeChoice,
        since: chrono::NaiveDateTime,
        layout: Layout,
    ) -> AppResult<OverviewPage> {
        let content = match figures.page_html.get() {
            Some(html) => html.clone(),
            None => {
                let html: Arc<str> = OverviewContent::new(figures, range, since).render()?.into();
                figures.page_html.get_or_init(|| html).clone()
            }
        };
        Ok(OverviewPage {
            layout,
            ranges: range_links(range),
            content,
        })
    }
}

/// The range control: the three presets, the current one marked.
fn range_links(range: RangeChoice) -> Vec<RangeLink> {
    RangeChoice::PRESETS
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
        .collect()
}

#[derive(Template)]
#[template(path = "overview_content.html")]
pub struct OverviewContent {
    pub total_users: String,
    /// Self-service password reset: registered, enabled, capable.
    pub tiles: Vec<Tile>,
    /// Multifactor and passwordless capable.
    pub capability_tiles: Vec<Tile>,
    pub methods: Vec<MethodRow>,
    pub methods_height: u32,
    pub methods_width: u32,
    pub insights: Vec<Insight>,
    pub range_label: &'static str,
    pub since: String,
    pub charts: Vec<Chart>,
    pub chart_width: u32,
}

impl OverviewContent {
    pub fn new(
        figures: &Figures,
        range: RangeChoice,
        since: chrono::NaiveDateTime,
    ) -> OverviewContent {
        let users = figures.users;
        let mut tiles: Vec<Tile> = figures
            .tiles
            .iter()
            .map(|t| Tile {
                title: t.title,
                count: thousands(t.count),
                share: percent(t.count, users),
                href: filter_href(&t.filter),
                note: t.note.text.clone(),
                spark: Spark::new(
                    &figures
                        .trend
                        .iter()
                        .map(|(day, f)| (*day, t.of(f)))
                        .collect::<Vec<_>>(),
                ),
            })
            .collect();
        let capability_tiles = tiles.split_off(3.min(tiles.len()));
        let max = figures
            .methods
            .iter()
            .map(|m| m.users)
            .max()
            .unwrap_or(0)
            .max(1);
        let methods: Vec<MethodRow> = figures
            .methods
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let top = 4 + i as u32 * METHOD_ROW_HEIGHT;
                let n = m.users;
                let width = ((n as f64 / max as f64) * f64::from(BAR_MAX)).round() as u32;
                let width = if n > 0 { width.max(2) } else { 0 };
                MethodRow {
                    method: m.method.display_name(),
                    label_y: top + BAR_HEIGHT - 2,
                    bar: Bar {
                        x: METHOD_LABEL_WIDTH,
                        y: top,
                        width,
                        count: n,
                        count_text: thousands(n),
                        text_x: METHOD_LABEL_WIDTH + width + 6,
                        href: filter_href(&RegistrationFilter {
                            methods: MethodSet::EMPTY.with(m.method),
                            ..RegistrationFilter::default()
                        }),
                        title: format!(
                            "{}: {} {} registered",
                            m.method.display_name(),
                            thousands(n),
                            if n == 1 {
                                "user has it"
                            } else {
                                "users have it"
                            }
                        ),
                        class: "bar-registered",
                    },
                }
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
        OverviewContent {
            total_users: thousands(users),
            tiles,
            capability_tiles,
            methods_height: 8 + methods.len() as u32 * METHOD_ROW_HEIGHT,
            methods_width: METHOD_CHART_WIDTH,
            methods,
            insights,
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
    html(OverviewPage::new(&figures, range, window.start, layout)?)
}
