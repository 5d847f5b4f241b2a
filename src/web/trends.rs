//! `/trends`: the five status figures day by day over the retention window,
//! with policy changes and imports marked, and a comparison with a day
//! (`?since=`): the figure then and now, and who changed since.

use super::auth::Viewer;
use super::error::{AppError, AppResult};
use super::export::{download, file_name, Export, ExportError, Sink};
use super::layout::Layout;
use super::lists::trends::{earliest_since, href, parse, TrendFigure, TrendQuery, PATH};
use super::{html, thousands, user_href, AppState};
use crate::db::counts::data_state;
use crate::db::retention::retention_days;
use crate::db::trends::{
    changes_since, daily_figures, first_day, markers, Marker, StatusFigures, UserChange,
};
use crate::db::users::current_names;
use crate::db::DbConnection;
use crate::domain::filter::FilterError;
use crate::web::auth;
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{NaiveDate, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Everything the trends page, its CSV and the API show.
#[derive(Debug, Clone)]
pub struct Trends {
    /// Days the history is kept for (the retention setting).
    pub window_days: i32,
    /// The figures at the end of each day, oldest first: from the first day
    /// of the window the history holds to today.
    pub days: Vec<(NaiveDate, StatusFigures)>,
    pub markers: Vec<Marker>,
    pub comparison: Option<Comparison>,
}

/// Today compared with the start of a day.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub since: NaiveDate,
    pub figure: TrendFigure,
    /// Users with the figure at the start of `since`.
    pub then: i64,
    /// Users with it now.
    pub now: i64,
    /// Users who have it now and did not then (users who arrived since
    /// included).
    pub gained: i64,
    /// Users who had it then and do not now.
    pub lost: i64,
    /// Those users, the latest change first.
    pub changes: Vec<FigureChange>,
    /// The names of the first [`PAGE_ROWS`] of them (the page's rows).
    pub names: Names,
}

/// Users' (display name, user principal name) by id.
pub type Names = HashMap<String, (String, String)>;

/// A user who gained or lost the figure.
#[derive(Debug, Clone)]
pub struct FigureChange {
    pub user: UserChange,
    pub gained: bool,
}

impl Comparison {
    pub fn change(&self) -> i64 {
        self.now - self.then
    }
}

/// Reads the trends for a query. The comparison counts from users' changes,
/// so its "then" is exactly now minus those who gained plus those who lost.
pub fn load_trends(
    conn: &mut DbConnection,
    q: &TrendQuery,
    today: NaiveDate,
    window_days: i32,
) -> AppResult<Trends> {
    let first = check_since(conn, q, today, window_days)?;
    let days = daily_figures(conn, first, today)?;
    let markers = markers(conn, first.and_time(chrono::NaiveTime::MIN))?;
    let comparison = match q.since {
        None => None,
        Some(since) => {
            let figure = q.figure;
            let changes: Vec<FigureChange> =
                changes_since(conn, since.and_time(chrono::NaiveTime::MIN))?
                    .into_iter()
                    .filter_map(|user| {
                        let before = user.before.is_some_and(|b| figure.of_bits(b));
                        (before != figure.of_bits(user.now)).then_some(FigureChange {
                            gained: !before,
                            user,
                        })
                    })
                    .collect();
            let gained = changes.iter().filter(|c| c.gained).count() as i64;
            let lost = changes.len() as i64 - gained;
            let now = days.last().map_or(0, |(_, f)| figure.of(f));
            let names = names_of(conn, changes.iter().take(PAGE_ROWS))?;
            Some(Comparison {
                since,
                figure,
                then: now - gained + lost,
                now,
                gained,
                lost,
                changes,
                names,
            })
        }
    };
    Ok(Trends {
        window_days,
        days,
        markers,
        comparison,
    })
}

/// The first day of the window the history holds; a comparison must not
/// start before it.
fn check_since(
    conn: &mut DbConnection,
    q: &TrendQuery,
    today: NaiveDate,
    window_days: i32,
) -> AppResult<NaiveDate> {
    let earliest = earliest_since(today, window_days);
    let first = first_day(conn)?
        .map_or(today, |d| d.max(earliest))
        .min(today);
    match q.since {
        Some(since) if since < first => Err(FilterError::new(
            "since",
            format!("{since} is before the history begins; the earliest date is {first}"),
        )
        .into()),
        _ => Ok(first),
    }
}

/// Parses the query and reads the trends (from the cache while the data is
/// unchanged): a 400 names a bad parameter.
pub async fn trends_for(state: &AppState, query: &str) -> AppResult<Arc<Trends>> {
    let query = query.to_string();
    let cache = state.trends.clone();
    state
        .db(move |conn| {
            // The version is read first: a change committed meanwhile leaves
            // newer trends under the older version, which the next request
            // replaces.
            let (_, version) = data_state(conn)?;
            let window_days = retention_days(conn)?;
            let today = Utc::now().date_naive();
            let q = parse(&query, today, window_days)?;
            let key = TrendsKey {
                version,
                today,
                window_days,
                query: q,
            };
            if let Some(t) = cache.get(&key) {
                return Ok(t);
            }
            let t = Arc::new(load_trends(conn, &q, today, window_days)?);
            cache.put(key, t.clone());
            Ok(t)
        })
        .await
}

/// What a cached answer was computed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TrendsKey {
    version: i64,
    today: NaiveDate,
    window_days: i32,
    query: TrendQuery,
}

/// The trends of a few recent queries, per data version: a comparison
/// reads every user who changed since its day, so it is computed once per
/// change of the data, not per request. Every request checks the version,
/// so no instance answers with older data than it reads.
#[derive(Debug, Default)]
pub struct TrendsCache {
    entries: Mutex<Vec<(TrendsKey, Arc<Trends>)>>,
}

impl TrendsCache {
    const ENTRIES: usize = 8;

    fn get(&self, key: &TrendsKey) -> Option<Arc<Trends>> {
        let entries = self.entries.lock().ok()?;
        entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, t)| t.clone())
    }

    fn put(&self, key: TrendsKey, value: Arc<Trends>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|(k, _)| k.version >= key.version && *k != key);
            if entries.len() >= Self::ENTRIES {
                entries.remove(0);
            }
            entries.push((key, value));
        }
    }
}

/// The names of the users of `changes`.
pub fn names_of<'c>(
    conn: &mut DbConnection,
    changes: impl Iterator<Item = &'c FigureChange>,
) -> AppResult<Names> {
    let ids: Vec<&str> = changes.map(|c| c.user.id.as_str()).collect();
    Ok(current_names(conn, &ids)?)
}

/// The columns of the comparison's list and its CSV.
pub const COLUMNS: [&str; 8] = [
    "Name",
    "User name",
    "User id",
    "Figure",
    "Change",
    "Then",
    "Now",
    "Changed (UTC)",
];

fn yes_no(on: bool) -> &'static str {
    if on {
        "Yes"
    } else {
        "No"
    }
}

/// One user of the comparison's list, as cells.
pub struct ChangeRow {
    pub href: String,
    pub cells: [String; 8],
}

impl ChangeRow {
    pub fn new(c: &FigureChange, figure: TrendFigure, names: &Names) -> ChangeRow {
        let (name, user_name) = names
            .get(&c.user.id)
            .cloned()
            .unwrap_or_else(|| ("(not in the directory)".to_string(), String::new()));
        ChangeRow {
            href: user_href(&c.user.id),
            cells: [
                name,
                user_name,
                c.user.id.clone(),
                figure.label().to_string(),
                if c.gained { "became" } else { "stopped being" }.to_string(),
                match c.user.before {
                    None => "Not in the directory".to_string(),
                    Some(b) => yes_no(figure.of_bits(b)).to_string(),
                },
                yes_no(figure.of_bits(c.user.now)).to_string(),
                c.user.changed_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            ],
        }
    }
}

/// Rows a download names at a time.
const CSV_NAMES: usize = 5_000;

/// One figure's small chart: its own scale, so a change of a few users shows.
pub struct Panel {
    pub key: &'static str,
    pub label: &'static str,
    /// The figure on the last day, and its change over the window.
    pub latest: String,
    pub change: String,
    pub points: String,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    /// The markers' x positions.
    pub markers: Vec<PanelMarker>,
}

pub struct PanelMarker {
    pub x: String,
    pub kind: &'static str,
    pub title: String,
}

/// A marker as the list under the charts shows it.
pub struct MarkerItem {
    pub kind: &'static str,
    pub when: String,
    pub text: String,
}

pub struct Tick {
    pub pos: String,
    pub text: String,
    /// `start`, `middle` or `end`: the first and last day's labels stay inside.
    pub anchor: &'static str,
}

pub struct DayRow {
    pub day: String,
    pub figures: [String; 5],
}

pub struct ComparisonView {
    pub since: String,
    pub label: &'static str,
    pub then: String,
    pub now: String,
    pub change: String,
    pub gained: String,
    pub lost: String,
    pub rows: Vec<ChangeRow>,
    /// Rows not shown on the page (the CSV has them all).
    pub more: String,
    pub csv_href: String,
}

/// A ready-made comparison: "7 days ago".
pub struct Preset {
    pub label: String,
    pub href: String,
}

pub struct FigureChoice {
    pub key: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

/// Rows of the comparison's list the page shows; the CSV has every one.
pub const PAGE_ROWS: usize = 500;

pub const PANEL_WIDTH: u32 = 360;
pub const PANEL_HEIGHT: u32 = 140;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 22.0;

#[derive(Template)]
#[template(path = "trends.html")]
pub struct TrendsPage {
    pub layout: Layout,
    pub window_days: i32,
    pub first: String,
    pub last: String,
    pub panels: Vec<Panel>,
    pub marker_items: Vec<MarkerItem>,
    pub table: Vec<DayRow>,
    pub panel_width: u32,
    pub panel_height: u32,
    pub plot_right: String,
    pub plot_bottom: String,
    pub since_value: String,
    pub since_min: String,
    pub since_max: String,
    pub figures: Vec<FigureChoice>,
    pub presets: Vec<Preset>,
    pub comparison: Option<ComparisonView>,
}

impl TrendsPage {
    pub fn new(t: &Trends, q: &TrendQuery, layout: Layout) -> TrendsPage {
        let n = t.days.len().max(1);
        let plot_w = f64::from(PANEL_WIDTH) - LEFT - RIGHT;
        let plot_h = f64::from(PANEL_HEIGHT) - TOP - BOTTOM;
        let x = |i: usize| {
            if n == 1 {
                LEFT + plot_w / 2.0
            } else {
                LEFT + plot_w * i as f64 / (n - 1) as f64
            }
        };
        let first_day = t.days.first().map(|d| d.0);
        let marker_x = |m: &Marker| {
            let i = first_day.map_or(0, |f| (m.at.date() - f).num_days().max(0) as usize);
            format!("{:.1}", x(i.min(n - 1)))
        };
        let last = n - 1;
        let x_ticks: Vec<(usize, String)> = [0, last / 2, last]
            .into_iter()
            .filter_map(|i| {
                t.days
                    .get(i)
                    .map(|(d, _)| (i, d.format("%b %-d").to_string()))
            })
            .fold(Vec::new(), |mut ticks, tick| {
                if ticks.last().is_none_or(|l: &(usize, String)| l.0 != tick.0) {
                    ticks.push(tick);
                }
                ticks
            });
        let panels = TrendFigure::ALL
            .into_iter()
            .map(|k| {
                let values: Vec<i64> = t.days.iter().map(|(_, f)| k.of(f)).collect();
                let (lo, hi) = scale(&values);
                let y = |v: i64| TOP + plot_h * (1.0 - (v - lo) as f64 / (hi - lo) as f64);
                Panel {
                    key: k.key(),
                    label: series_label(k),
                    latest: thousands(values.last().copied().unwrap_or(0)),
                    change: signed(
                        values.last().copied().unwrap_or(0) - values.first().copied().unwrap_or(0),
                    ),
                    points: values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
                        .collect::<Vec<_>>()
                        .join(" "),
                    y_ticks: [lo, (lo + hi) / 2, hi]
                        .into_iter()
                        .map(|v| Tick {
                            pos: format!("{:.1}", y(v)),
                            text: thousands(v),
                            anchor: "end",
                        })
                        .collect(),
                    x_ticks: x_ticks
                        .iter()
                        .map(|(i, text)| Tick {
                            pos: format!("{:.1}", x(*i)),
                            text: text.clone(),
                            anchor: match *i {
                                0 if last > 0 => "start",
                                i if i == last && last > 0 => "end",
                                _ => "middle",
                            },
                        })
                        .collect(),
                    markers: t
                        .markers
                        .iter()
                        .map(|m| PanelMarker {
                            x: marker_x(m),
                            kind: m.kind,
                            title: format!("{} UTC: {}", m.at.format("%Y-%m-%d %H:%M"), m.text),
                        })
                        .collect(),
                }
            })
            .collect();
        let marker_items = t
            .markers
            .iter()
            .map(|m| MarkerItem {
                kind: m.kind,
                when: m.at.format("%Y-%m-%d %H:%M UTC").to_string(),
                text: m.text.clone(),
            })
            .collect();
        let table = t
            .days
            .iter()
            .rev()
            .map(|(d, f)| DayRow {
                day: d.format("%Y-%m-%d").to_string(),
                figures: TrendFigure::ALL.map(|k| thousands(k.of(f))),
            })
            .collect();
        let today = t
            .days
            .last()
            .map_or_else(|| Utc::now().date_naive(), |d| d.0);
        let comparison = t.comparison.as_ref().map(|c| {
            let rows: Vec<ChangeRow> = c
                .changes
                .iter()
                .take(PAGE_ROWS)
                .map(|ch| ChangeRow::new(ch, c.figure, &c.names))
                .collect();
            let all = c.changes.len();
            ComparisonView {
                since: c.since.format("%Y-%m-%d").to_string(),
                label: c.figure.label(),
                then: thousands(c.then),
                now: thousands(c.now),
                change: signed(c.change()),
                gained: thousands(c.gained),
                lost: thousands(c.lost),
                more: if all > rows.len() {
                    thousands((all - rows.len()) as i64)
                } else {
                    String::new()
                },
                rows,
                csv_href: href(&format!("{PATH}.csv"), q),
            }
        });
        TrendsPage {
            layout,
            window_days: t.window_days,
            first: first_day
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            last: today.format("%Y-%m-%d").to_string(),
            panels,
            marker_items,
            table,
            panel_width: PANEL_WIDTH,
            panel_height: PANEL_HEIGHT,
            plot_right: format!("{:.1}", LEFT + plot_w),
            plot_bottom: format!("{:.1}", TOP + plot_h),
            since_value: q
                .since
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            since_min: first_day.unwrap_or(today).format("%Y-%m-%d").to_string(),
            since_max: today.format("%Y-%m-%d").to_string(),
            figures: TrendFigure::ALL
                .into_iter()
                .map(|k| FigureChoice {
                    key: k.key(),
                    label: series_label(k),
                    selected: k == q.figure,
                })
                .collect(),
            presets: presets(first_day.unwrap_or(today), today, q.figure),
            comparison,
        }
    }
}

/// Comparisons with a week and two ago and with the history's first day,
/// where the history reaches back so far.
fn presets(first: NaiveDate, today: NaiveDate, figure: TrendFigure) -> Vec<Preset> {
    let mut presets: Vec<Preset> = [7, 14]
        .into_iter()
        .map(|days| {
            (
                format!("{days} days ago"),
                today - chrono::Duration::days(days),
            )
        })
        .filter(|(_, day)| *day >= first)
        .collect::<Vec<_>>()
        .into_iter()
        .chain((first < today).then(|| ("The first day of the history".to_string(), first)))
        .map(|(label, day)| Preset {
            label,
            href: href(
                PATH,
                &TrendQuery {
                    since: Some(day),
                    figure,
                },
            ),
        })
        .collect();
    presets.dedup_by(|a, b| a.href == b.href);
    presets
}

fn series_label(k: TrendFigure) -> &'static str {
    match k {
        TrendFigure::Registered => "Registered",
        TrendFigure::Enabled => "Enabled",
        TrendFigure::Capable => "Capable",
        TrendFigure::MfaCapable => "MFA capable",
        TrendFigure::PasswordlessCapable => "Passwordless capable",
    }
}

/// "+12", "-3", "0".
fn signed(n: i64) -> String {
    if n > 0 {
        format!("+{}", thousands(n))
    } else {
        thousands(n)
    }
}

/// The smallest round number (1, 2 or 5 times a power of ten) at or above `n`.
fn nice_step(n: i64) -> i64 {
    let mut unit: i64 = 1;
    loop {
        for m in [1, 2, 5] {
            if m * unit >= n.max(1) {
                return m * unit;
            }
        }
        unit = unit.saturating_mul(10);
    }
}

/// A panel's axis: round bounds around the values, two steps apart at
/// least, never below zero.
fn scale(values: &[i64]) -> (i64, i64) {
    let lo = values.iter().copied().min().unwrap_or(0).max(0);
    let hi = values.iter().copied().max().unwrap_or(0).max(lo);
    let step = nice_step((hi - lo) / 4);
    let floor = (lo / step) * step;
    let mut ceil = (hi + step - 1) / step * step;
    if ceil - floor < 2 * step {
        ceil = floor + 2 * step;
    }
    (floor, ceil)
}

#[get("/trends", wrap = "from_fn(auth::reader)")]
pub async fn trends(
    state: web::Data<AppState>,
    viewer: Viewer,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let t = trends_for(&state, req.query_string())
        .await
        .map_err(|e| e.on_page(PATH))?;
    let q = TrendQuery {
        since: t.comparison.as_ref().map(|c| c.since),
        figure: t
            .comparison
            .as_ref()
            .map_or_else(Default::default, |c| c.figure),
    };
    let layout = Layout::page("Trends", "trends").signed(&viewer);
    html(TrendsPage::new(&t, &q, layout))
}

#[get("/trends.csv", wrap = "from_fn(auth::reader)")]
pub async fn trends_csv(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let today = Utc::now().date_naive();
    let query = req.query_string().to_string();
    // Checked before the download starts, so a bad parameter is a 400 page.
    let (q, window_days) = state
        .db(move |conn| {
            let window_days = retention_days(conn)?;
            let q = parse(&query, today, window_days)?;
            check_since(conn, &q, today, window_days)?;
            Ok((q, window_days))
        })
        .await
        .map_err(|e| e.on_page(PATH))?;
    if q.since.is_none() {
        return Err(AppError::from(FilterError::new(
            "since",
            "the download lists who changed since a day: give since=YYYY-MM-DD",
        ))
        .on_page(PATH));
    }
    let name = file_name("trends", today);
    let produce = Box::new(move |conn: &mut crate::db::DbConnection, sink: &mut Sink| {
        let t = load_trends(conn, &q, today, window_days)
            .map_err(|e| ExportError::Csv(e.to_string()))?;
        if let Some(c) = &t.comparison {
            for block in c.changes.chunks(CSV_NAMES) {
                let names =
                    names_of(conn, block.iter()).map_err(|e| ExportError::Csv(e.to_string()))?;
                for change in block {
                    let row = ChangeRow::new(change, c.figure, &names);
                    sink.row(row.cells.iter().map(String::as_str))?;
                }
            }
        }
        Ok(())
    });
    Ok(download(
        &state,
        Export {
            name,
            header: &COLUMNS,
            produce,
        },
    ))
}
