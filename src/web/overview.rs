//! `/`: the overview blade — tiles, insights and the two charts, each linking
//! to the list it summarises.

use super::activity::kind_href;
use super::auth::Viewer;
use super::error::AppResult;
use super::layout::Layout;
use super::params::Params;
use super::registrations::filter_href;
use super::{html, percent, thousands, AppState};
use crate::db::counts::{data_changed_at, status_count_rows};
use crate::db::events::{kind_counts, KindCount};
use crate::db::models::StatusCountRow;
use crate::domain::filter::{Outcome, RangeChoice, RegistrationFilter, Tristate, UserType};
use crate::domain::{Feature, Method};
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
    fn new(feature: Feature, counts: &[KindCount], range: RangeChoice) -> Chart {
        let count = |m: Method, success: bool| -> i64 {
            counts
                .iter()
                .filter(|k| k.feature == feature && k.method == m && k.success == success)
                .map(|k| k.count)
                .sum()
        };
        // The seven usage methods, then any other method with events.
        let mut methods: Vec<Method> = Method::USAGE.to_vec();
        for m in Method::ALL {
            if !methods.contains(&m) && (count(m, true) + count(m, false)) > 0 {
                methods.push(m);
            }
        }
        let max = methods
            .iter()
            .flat_map(|m| [count(*m, true), count(*m, false)])
            .max()
            .unwrap_or(0)
            .max(1);
        let what = match feature {
            Feature::Registration => "registrations",
            Feature::Reset => "verifications during password reset",
        };
        let bar = |m: Method, outcome: Outcome, y: u32| {
            let n = count(m, outcome.is_success());
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
        let rows: Vec<ChartRow> = methods
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let top = 8 + i as u32 * ROW_HEIGHT;
                ChartRow {
                    method: m.display_name(),
                    label_y: top + BAR_HEIGHT + 4,
                    success: bar(*m, Outcome::Success, top),
                    failure: bar(*m, Outcome::Failure, top + BAR_HEIGHT + 2),
                }
            })
            .collect();
        let total = |success: bool| thousands(methods.iter().map(|m| count(*m, success)).sum());
        Chart {
            id: match feature {
                Feature::Registration => "registrations",
                Feature::Reset => "resets",
            },
            title: match feature {
                Feature::Registration => "Registrations",
                Feature::Reset => "Resets",
            },
            description: format!(
                "Successful and failed {what} per authentication method in the last {}.",
                range.label()
            ),
            height: 8 + rows.len() as u32 * ROW_HEIGHT,
            total_success: total(true),
            total_failure: total(false),
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

/// Users among the aggregate rows that pass a filter.
fn users_matching(rows: &[StatusCountRow], f: &RegistrationFilter) -> i64 {
    rows.iter()
        .filter(|r| f.admits(&r.key()))
        .map(|r| r.user_count)
        .sum()
}

fn filter(edit: impl FnOnce(&mut RegistrationFilter)) -> RegistrationFilter {
    let mut f = RegistrationFilter::default();
    edit(&mut f);
    f
}

impl OverviewPage {
    pub fn new(
        rows: &[StatusCountRow],
        counts: &[KindCount],
        range: RangeChoice,
        since: chrono::NaiveDateTime,
        layout: Layout,
    ) -> OverviewPage {
        let users: i64 = rows.iter().map(|r| r.user_count).sum();
        let tile = |title, f: RegistrationFilter, note_filter: RegistrationFilter, note: &str| {
            let n = users_matching(rows, &f);
            Tile {
                title,
                count: thousands(n),
                share: percent(n, users),
                href: filter_href(&f),
                note: format!("{} {note}", thousands(users_matching(rows, &note_filter))),
            }
        };
        let tiles = vec![
            tile(
                "Users registered",
                filter(|f| f.registered = Tristate::Yes),
                filter(|f| {
                    f.registered = Tristate::No;
                    f.enabled = Tristate::Yes;
                }),
                "enabled users are not registered",
            ),
            tile(
                "Users enabled",
                filter(|f| f.enabled = Tristate::Yes),
                filter(|f| {
                    f.registered = Tristate::Yes;
                    f.enabled = Tristate::No;
                }),
                "registered users are not enabled",
            ),
            tile(
                "Users capable",
                filter(|f| f.capable = Tristate::Yes),
                filter(|f| f.capable = Tristate::No),
                "users are not capable",
            ),
        ];

        let insight = |f: RegistrationFilter, one: &str, many: &str| {
            let n = users_matching(rows, &f);
            Insight {
                count: thousands(n),
                text: if n == 1 { one.into() } else { many.into() },
                href: filter_href(&f),
            }
        };
        let insights = vec![
            insight(
                filter(|f| {
                    f.enabled = Tristate::Yes;
                    f.registered = Tristate::No;
                }),
                "enabled user is not registered: they cannot reset their password until they register.",
                "enabled users are not registered: they cannot reset their password until they register.",
            ),
            insight(
                filter(|f| {
                    f.registered = Tristate::Yes;
                    f.enabled = Tristate::No;
                }),
                "registered user is not enabled: the policy does not cover them.",
                "registered users are not enabled: the policy does not cover them.",
            ),
            insight(
                filter(|f| {
                    f.admin = Tristate::Yes;
                    f.capable = Tristate::No;
                }),
                "administrator is not capable of self-service password reset.",
                "administrators are not capable of self-service password reset.",
            ),
            insight(
                filter(|f| {
                    f.user_type = Some(UserType::Guest);
                    f.registered = Tristate::Yes;
                    f.enabled = Tristate::No;
                }),
                "guest is registered but not enabled (guests are only in scope through the selected group).",
                "guests are registered but not enabled (guests are only in scope through the selected group).",
            ),
            insight(
                filter(|f| f.mfa_capable = Tristate::No),
                "user is not MFA capable: no method usable as a second factor is registered.",
                "users are not MFA capable: no method usable as a second factor is registered.",
            ),
            insight(
                filter(|f| f.passwordless_capable = Tristate::Yes),
                "user is passwordless capable.",
                "users are passwordless capable.",
            ),
            insight(
                filter(|f| f.account_enabled = Tristate::No),
                "disabled account is included in these figures, as the directory lists it.",
                "disabled accounts are included in these figures, as the directory lists them.",
            ),
        ];

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
            charts: vec![
                Chart::new(Feature::Registration, counts, range),
                Chart::new(Feature::Reset, counts, range),
            ],
            chart_width: CHART_WIDTH,
        }
    }
}

#[get("/")]
pub async fn overview(
    state: web::Data<AppState>,
    viewer: Viewer,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let params = Params::parse(req.query_string(), &["range"]).map_err(|e| e.on_page("/"))?;
    let range = RangeChoice::parse_preset("range", params.one("range")?)
        .map_err(|e| super::error::AppError::from(e).on_page("/"))?;
    let window = range.window(Utc::now().naive_utc());
    let (rows, counts, refreshed) = state
        .db(move |conn| {
            Ok((
                status_count_rows(conn)?,
                kind_counts(conn, window)?,
                data_changed_at(conn)?,
            ))
        })
        .await?;
    let layout = Layout::page("Usage & insights", "overview")
        .signed(&viewer)
        .refreshed(refreshed);
    html(OverviewPage::new(
        &rows,
        &counts,
        range,
        window.start,
        layout,
    ))
}
