//! The overview's figures as numbers: the three tiles, the insights and the
//! two charts, computed from the maintained counts and cached per data
//! version. The overview page and the figures API both render these.

use super::thousands;
use crate::db::counts::{data_state, status_count_rows};
use crate::db::events::{kind_counts, KindCount};
use crate::db::models::StatusCountRow;
use crate::db::trends::{daily_figures, first_day, StatusFigures};
use crate::domain::filter::{RegistrationFilter, Stated, TimeWindow, Tristate, UserType};
use crate::domain::{Feature, Method};
use crate::web::error::AppResult;
use crate::web::lists::trends::TrendFigure;
use std::sync::Arc;

/// Insights about directory-stated verdicts, shown when they count someone.
const DIRECTORY_INSIGHTS: [&str; 3] = ["mfaRegistered", "directoryDisagrees", "staleVerdicts"];

/// Users that pass a filter of registration details, with what the count means.
#[derive(Debug, Clone)]
pub struct UserFigure {
    /// A stable name for scripts: `enabledNotRegistered`, …
    pub key: &'static str,
    pub count: i64,
    pub text: String,
    /// The registration details behind the count.
    pub filter: RegistrationFilter,
}

/// One of the three tiles: users with a status, and a note on the gap.
#[derive(Debug, Clone)]
pub struct TileFigure {
    pub key: &'static str,
    pub title: &'static str,
    pub count: i64,
    pub filter: RegistrationFilter,
    pub note: UserFigure,
    /// This tile's figure among the trend history's five.
    pub figure: TrendFigure,
}

/// One method's bars of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodCounts {
    pub method: Method,
    pub success: i64,
    pub failure: i64,
}

/// The method events of one feature in the range, per method.
#[derive(Debug, Clone)]
pub struct ChartFigure {
    pub feature: Feature,
    /// The seven usage methods, then any other method with events.
    pub rows: Vec<MethodCounts>,
}

impl ChartFigure {
    pub fn new(feature: Feature, counts: &[KindCount]) -> ChartFigure {
        let count = |m: Method, success: bool| -> i64 {
            counts
                .iter()
                .filter(|k| k.feature == feature && k.method == m && k.success == success)
                .map(|k| k.count)
                .sum()
        };
        let mut methods: Vec<Method> = Method::USAGE.to_vec();
        for m in Method::ALL {
            if !methods.contains(&m) && (count(m, true) + count(m, false)) > 0 {
                methods.push(m);
            }
        }
        ChartFigure {
            feature,
            rows: methods
                .into_iter()
                .map(|method| MethodCounts {
                    method,
                    success: count(method, true),
                    failure: count(method, false),
                })
                .collect(),
        }
    }

    pub fn key(&self) -> &'static str {
        match self.feature {
            Feature::Registration => "registrations",
            Feature::Reset => "resets",
            Feature::Unlock => "unlocks",
        }
    }

    pub fn total(&self, success: bool) -> i64 {
        self.rows
            .iter()
            .map(|r| if success { r.success } else { r.failure })
            .sum()
    }
}

/// Everything the overview shows, as numbers: the page and the API both
/// render these.
#[derive(Debug, Clone)]
pub struct Figures {
    pub users: i64,
    pub tiles: Vec<TileFigure>,
    pub insights: Vec<UserFigure>,
    /// Users registered per method: every method of the catalogue, in its order.
    pub methods: Vec<MethodUsers>,
    /// The five figures at the end of each of the last [`SPARK_DAYS`] days
    /// the history holds (the tiles' sparklines), oldest first.
    pub trend: Vec<(chrono::NaiveDate, StatusFigures)>,
    pub charts: Vec<ChartFigure>,
    /// The overview's content rendered from these figures, once (it is the
    /// same for every viewer).
    pub page_html: std::sync::OnceLock<Arc<str>>,
}

/// Days a tile's sparkline spans.
pub const SPARK_DAYS: i64 = 30;

/// Users who have registered one method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodUsers {
    pub method: Method,
    pub users: i64,
}

impl TileFigure {
    /// This tile's figure in a day's figures.
    pub fn of(&self, figures: &StatusFigures) -> i64 {
        self.figure.of(figures)
    }
}

impl Figures {
    pub fn new(rows: &[StatusCountRow], counts: &[KindCount]) -> Figures {
        let users: i64 = rows.iter().map(|r| r.user_count).sum();
        let note = |key, f: RegistrationFilter, text: &str| {
            let count = users_matching(rows, &f);
            UserFigure {
                key,
                count,
                text: format!("{} {text}", thousands(count)),
                filter: f,
            }
        };
        let tile =
            |key, title, figure: TrendFigure, f: RegistrationFilter, note: UserFigure| TileFigure {
                key,
                title,
                count: users_matching(rows, &f),
                filter: f,
                note,
                figure,
            };
        let tiles = vec![
            tile(
                "registered",
                "Users registered",
                TrendFigure::Registered,
                filter(|f| f.registered = Tristate::Yes),
                note(
                    "enabledNotRegistered",
                    filter(|f| {
                        f.registered = Tristate::No;
                        f.enabled = Tristate::Yes;
                    }),
                    "enabled users are not registered",
                ),
            ),
            tile(
                "enabled",
                "Users enabled",
                TrendFigure::Enabled,
                filter(|f| f.enabled = Tristate::Yes),
                note(
                    "registeredNotEnabled",
                    filter(|f| {
                        f.registered = Tristate::Yes;
                        f.enabled = Tristate::No;
                    }),
                    "registered users are not enabled",
                ),
            ),
            tile(
                "capable",
                "Users capable",
                TrendFigure::Capable,
                filter(|f| f.capable = Tristate::Yes),
                note(
                    "notCapable",
                    filter(|f| f.capable = Tristate::No),
                    "users are not capable",
                ),
            ),
            tile(
                "mfaCapable",
                "Capable of multifactor authentication",
                TrendFigure::MfaCapable,
                filter(|f| f.mfa_capable = Tristate::Yes),
                note(
                    "notMfaCapable",
                    filter(|f| f.mfa_capable = Tristate::No),
                    "users have no method usable as a second factor",
                ),
            ),
            tile(
                "passwordlessCapable",
                "Capable of passwordless sign-in",
                TrendFigure::PasswordlessCapable,
                filter(|f| f.passwordless_capable = Tristate::Yes),
                note(
                    "notPasswordlessCapable",
                    filter(|f| f.passwordless_capable = Tristate::No),
                    "users have no passwordless method",
                ),
            ),
        ];

        let insight = |key, f: RegistrationFilter, one: &str, many: &str| {
            let count = users_matching(rows, &f);
            UserFigure {
                key,
                count,
                text: if count == 1 { one.into() } else { many.into() },
                filter: f,
            }
        };
        let insights = vec![
            insight(
                "enabledNotRegistered",
                filter(|f| {
                    f.enabled = Tristate::Yes;
                    f.registered = Tristate::No;
                }),
                "enabled user is not registered: they cannot reset their password until they register.",
                "enabled users are not registered: they cannot reset their password until they register.",
            ),
            insight(
                "registeredNotEnabled",
                filter(|f| {
                    f.registered = Tristate::Yes;
                    f.enabled = Tristate::No;
                }),
                "registered user is not enabled: the policy does not cover them.",
                "registered users are not enabled: the policy does not cover them.",
            ),
            insight(
                "adminsNotCapable",
                filter(|f| {
                    f.admin = Tristate::Yes;
                    f.capable = Tristate::No;
                }),
                "administrator is not capable of self-service password reset.",
                "administrators are not capable of self-service password reset.",
            ),
            insight(
                "guestsRegisteredNotEnabled",
                filter(|f| {
                    f.user_type = Some(UserType::Guest);
                    f.registered = Tristate::Yes;
                    f.enabled = Tristate::No;
                }),
                "guest is registered but not enabled (guests are only in scope through the selected group).",
                "guests are registered but not enabled (guests are only in scope through the selected group).",
            ),
            insight(
                "notMfaCapable",
                filter(|f| f.mfa_capable = Tristate::No),
                "user is not MFA capable: no method usable as a second factor is registered.",
                "users are not MFA capable: no method usable as a second factor is registered.",
            ),
            insight(
                "passwordlessCapable",
                filter(|f| f.passwordless_capable = Tristate::Yes),
                "user is passwordless capable.",
                "users are passwordless capable.",
            ),
            insight(
                "directoryDisagrees",
                filter(|f| f.verdicts_disagree = Tristate::Yes),
                "user where the directory and this portal's policy disagree: a directory export states statuses the policy does not give.",
                "users where the directory and this portal's policy disagree: a directory export states statuses the policy does not give.",
            ),
            insight(
                "mfaRegistered",
                filter(|f| f.mfa_registered = Stated::Yes),
                "user is registered for multifactor authentication, as a directory export states (Graph's isMfaRegistered).",
                "users are registered for multifactor authentication, as a directory export states (Graph's isMfaRegistered).",
            ),
            insight(
                "staleVerdicts",
                filter(|f| f.verdicts_stale = Tristate::Yes),
                "user has statuses from an older directory export that the newest one did not include.",
                "users have statuses from an older directory export that the newest one did not include.",
            ),
            insight(
                "disabledAccounts",
                filter(|f| f.account_enabled = Stated::No),
                "disabled account is included in these figures, as the directory lists it.",
                "disabled accounts are included in these figures, as the directory lists them.",
            ),
        ];
        // The directory's insights speak only where an export stated
        // verdicts that matter; otherwise they would read "0 users" on every
        // tenant that imports none.
        let insights = insights
            .into_iter()
            .filter(|i| i.count > 0 || !DIRECTORY_INSIGHTS.contains(&i.key))
            .collect();
        Figures {
            users,
            tiles,
            insights,
            methods: Method::ALL
                .into_iter()
                .map(|method| MethodUsers {
                    method,
                    users: users_matching(rows, &filter(|f| f.methods = f.methods.with(method))),
                })
                .collect(),
            trend: Vec::new(),
            page_html: std::sync::OnceLock::new(),
            charts: vec![
                ChartFigure::new(Feature::Registration, counts),
                ChartFigure::new(Feature::Reset, counts),
            ],
        }
    }
}

/// The overview's figures of a few recent (data version, window) pairs. A
/// request reads the data version first and uses an entry only for that
/// version, so no instance shows figures older than the data it reads.
#[derive(Debug, Default)]
pub struct FiguresCache {
    entries: std::sync::Mutex<Vec<CachedFigures>>,
}

#[derive(Debug)]
struct CachedFigures {
    version: i64,
    window: TimeWindow,
    figures: Arc<Figures>,
}

impl FiguresCache {
    /// The three ranges, each for the current and the previous hour or data version.
    const ENTRIES: usize = 6;

    fn get(&self, version: i64, window: TimeWindow) -> Option<Arc<Figures>> {
        let entries = self.entries.lock().ok()?;
        entries
            .iter()
            .find(|e| e.version == version && e.window == window)
            .map(|e| e.figures.clone())
    }

    fn put(&self, version: i64, window: TimeWindow, figures: Arc<Figures>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|e| e.version >= version && e.window != window);
            if entries.len() >= Self::ENTRIES {
                entries.remove(0);
            }
            entries.push(CachedFigures {
                version,
                window,
                figures,
            });
        }
    }
}

/// What the overview shows for a window, and when the data last changed:
/// from the cache while the data version is unchanged, else from the
/// maintained counts.
pub fn load_figures(
    conn: &mut crate::db::DbConnection,
    cache: &FiguresCache,
    window: TimeWindow,
) -> AppResult<(Arc<Figures>, chrono::NaiveDateTime)> {
    // The version is read before the counts: a change committed in between
    // leaves newer figures under the older version, which the next request
    // (reading the new version) replaces.
    let (refreshed, version) = data_state(conn)?;
    if let Some(figures) = cache.get(version, window) {
        return Ok((figures, refreshed));
    }
    let mut figures = Figures::new(&status_count_rows(conn)?, &kind_counts(conn, window)?);
    let today = chrono::Utc::now().date_naive();
    // From the first day the history holds: a new portal's sparklines do
    // not start with days of zeros.
    let first = (today - chrono::Duration::days(SPARK_DAYS - 1))
        .max(first_day(conn)?.unwrap_or(today))
        .min(today);
    figures.trend = daily_figures(conn, first, today)?;
    let figures = Arc::new(figures);
    cache.put(version, window, figures.clone());
    Ok((figures, refreshed))
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
