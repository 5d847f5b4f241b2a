//! `/api/v1/trends`: the trends page's figures per day, its markers and its
//! comparison with a day, with the same parameters.

use super::lists::utc;
use super::{absolute, api_path, json, ApiResult, ErrorBody};
use crate::web::auth;
use crate::web::lists::trends::{OpenApiParams as TrendParams, TrendFigure};
use crate::web::trends::{names_of, trends_for, Comparison, FigureChange, Names, Trends};
use crate::web::{user_href, AppState};
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// The five status figures per day, what moved them, and a comparison.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrendReport {
    /// Days the history is kept for (the retention setting).
    pub window_days: i32,
    /// Users at the end of each day (UTC), oldest first, to today.
    pub days: Vec<TrendDay>,
    /// Policy changes and imports in the window, oldest first.
    pub markers: Vec<TrendMarker>,
    /// With `since`: the figure then and now and who changed.
    #[schema(required = true)]
    pub comparison: Option<TrendComparison>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrendDay {
    pub date: NaiveDate,
    pub registered: i64,
    pub enabled: i64,
    pub capable: i64,
    pub mfa_capable: i64,
    pub passwordless_capable: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrendMarker {
    pub date_time: DateTime<Utc>,
    /// `policy` (the SSPR policy or the verdict source changed) or `import`.
    #[schema(value_type = String, pattern = "^(policy|import)$")]
    pub kind: &'static str,
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrendComparison {
    /// The day compared with (from its start, UTC).
    pub since: NaiveDate,
    /// `registered`, `enabled`, `capable`, `mfaCapable` or `passwordlessCapable`.
    #[schema(value_type = String)]
    pub figure: &'static str,
    /// Users with the figure at the start of `since`.
    pub then: i64,
    /// Users with it now.
    pub now: i64,
    /// `now - then`: those who gained it less those who lost it.
    pub change: i64,
    /// How many users have it now and did not then.
    pub gained_count: i64,
    /// How many had it then and do not now.
    pub lost_count: i64,
    /// Users who have it now and did not then, the latest change first.
    pub gained: Vec<ChangedUserRecord>,
    /// Users who had it then and do not now, the latest change first.
    pub lost: Vec<ChangedUserRecord>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangedUserRecord {
    pub id: String,
    /// Null when the directory no longer holds the user.
    #[schema(required = true)]
    pub user_display_name: Option<String>,
    #[schema(required = true)]
    pub user_principal_name: Option<String>,
    /// When the user's statuses last changed.
    pub changed_date_time: DateTime<Utc>,
    /// False when the user arrived in the directory since.
    pub existed_then: bool,
    /// The user, explained (`/api/v1/users/{id}`).
    pub href: String,
}

fn record(req: &HttpRequest, c: &FigureChange, names: &Names) -> ChangedUserRecord {
    let u = &c.user;
    let found = names.get(&u.id);
    ChangedUserRecord {
        id: u.id.clone(),
        user_display_name: found.map(|n| n.0.clone()),
        user_principal_name: found.map(|n| n.1.clone()),
        changed_date_time: utc(u.changed_at),
        existed_then: u.before.is_some(),
        href: absolute(req, &api_path(&user_href(&u.id))),
    }
}

fn comparison(req: &HttpRequest, c: &Comparison, names: &Names) -> TrendComparison {
    let records = |gained: bool| {
        c.changes
            .iter()
            .filter(|ch| ch.gained == gained)
            .map(|ch| record(req, ch, names))
            .collect()
    };
    TrendComparison {
        since: c.since,
        figure: c.figure.key(),
        then: c.then,
        now: c.now,
        change: c.change(),
        gained_count: c.gained,
        lost_count: c.lost,
        gained: records(true),
        lost: records(false),
    }
}

impl TrendReport {
    fn new(req: &HttpRequest, t: &Trends, names: &Names) -> TrendReport {
        TrendReport {
            window_days: t.window_days,
            days: t
                .days
                .iter()
                .map(|(date, f)| TrendDay {
                    date: *date,
                    registered: TrendFigure::Registered.of(f),
                    enabled: TrendFigure::Enabled.of(f),
                    capable: TrendFigure::Capable.of(f),
                    mfa_capable: TrendFigure::MfaCapable.of(f),
                    passwordless_capable: TrendFigure::PasswordlessCapable.of(f),
                })
                .collect(),
            markers: t
                .markers
                .iter()
                .map(|m| TrendMarker {
                    date_time: utc(m.at),
                    kind: m.kind,
                    text: m.text.clone(),
                })
                .collect(),
            comparison: t.comparison.as_ref().map(|c| comparison(req, c, names)),
        }
    }
}

/// Rollout trends (`/trends`): the five status figures per day over the
/// retention window, and with `since` who gained or lost a figure since.
#[utoipa::path(
    get,
    path = "/api/v1/trends",
    tag = "reports",
    params(TrendParams),
    responses(
        (status = 200, description = "The trends.", body = TrendReport),
        (status = 400, description = "A parameter could not be understood; `parameter` names it.", body = ErrorBody),
        (status = 401, description = "No valid key or session.", body = ErrorBody),
        (status = 403, description = "The key has no read scope.", body = ErrorBody),
        (status = 503, description = "The database cannot be reached.", body = ErrorBody),
    )
)]
#[get("/api/v1/trends", wrap = "from_fn(auth::api_reader)")]
pub async fn trends(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    let t = trends_for(&state, req.query_string()).await?;
    // Every changed user is named: read in blocks, as a download does.
    let names = match &t.comparison {
        None => Names::new(),
        Some(_) => {
            let t = t.clone();
            state
                .db(move |conn| {
                    let mut names = Names::new();
                    if let Some(c) = &t.comparison {
                        for block in c.changes.chunks(5_000) {
                            names.extend(names_of(conn, block.iter())?);
                        }
                    }
                    Ok(names)
                })
                .await?
        }
    };
    Ok(json(&TrendReport::new(&req, &t, &names)))
}
