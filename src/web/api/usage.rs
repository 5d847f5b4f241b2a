//! `/api/v1/usage`: the usage view's figures (`/usage`), with the same
//! `range` parameter.

use super::figures::Chart;
use super::lists::utc;
use super::{absolute, api_path, json, ApiResult, ErrorBody};
use crate::domain::Feature;
use crate::web::auth;
use crate::web::lists::overview::{parse_range, OpenApiParams as UsageParams};
use crate::web::usage_figures::{day_report_href, load_usage, Outcomes, UsageFigures};
use crate::web::AppState;
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// Resets and unlocks per day, resets by method, sign-ins by requirement
/// per day and by method: the figures `/usage` shows.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// `24h`, `7d` or `30d`.
    pub range: &'static str,
    /// The per-day figures count whole UTC days from this day…
    pub first_day: NaiveDate,
    /// …to this one (today).
    pub last_day: NaiveDate,
    /// Every day from `firstDay` to `lastDay`, oldest first.
    pub days: Vec<UsageDay>,
    /// Password resets' method verifications per method since
    /// `resetMethodsStartDateTime` (the overview's Resets chart).
    pub reset_methods: Chart,
    pub reset_methods_start_date_time: chrono::DateTime<Utc>,
    /// Successful sign-ins per method over the days (methods with none left out).
    pub sign_in_methods: Vec<SignInMethodCount>,
    /// Whether any sign-in summary is stored (of any day).
    pub sign_in_data: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageDay {
    pub day: NaiveDate,
    pub resets: OperationCounts,
    pub unlocks: OperationCounts,
    /// The day's sign-ins by requirement; absent when none was imported.
    pub sign_ins: Option<SignInCounts>,
    /// The day's sign-ins per method, as imported.
    pub sign_ins_by_method: Vec<SignInMethodCount>,
}

/// One feature's activities of a day.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationCounts {
    pub succeeded: i64,
    /// Every other result: abandoned, blocked, cancelled, contacted admin, failed.
    pub not_succeeded: i64,
    /// The day's successful ones (the reset activity report, filtered).
    pub succeeded_href: String,
    /// The day's list, every result.
    pub href: String,
}

/// Graph's `userMfaSignInSummary` of a day.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInCounts {
    pub total_sign_ins: i64,
    pub single_factor_sign_ins: i64,
    pub multi_factor_sign_ins: i64,
}

/// Graph's `userSignInUsageByAuthMethodActivity`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInMethodCount {
    /// A sign-in method key (docs/import-format.md), or `other`.
    pub authentication_method: String,
    /// For `other`: the name the source gave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub success_activity_count: i64,
}

fn counts(req: &HttpRequest, o: Outcomes, feature: Feature, day: NaiveDate) -> OperationCounts {
    let link = |succeeded| absolute(req, &api_path(&day_report_href(feature, succeeded, day)));
    OperationCounts {
        succeeded: o.succeeded,
        not_succeeded: o.not_succeeded,
        succeeded_href: link(true),
        href: link(false),
    }
}

impl Usage {
    fn new(req: &HttpRequest, f: &UsageFigures) -> Usage {
        let named = |name: &str| (!name.is_empty()).then(|| name.to_string());
        Usage {
            range: f.range.key(),
            first_day: f.first_day,
            last_day: f.last_day,
            days: f
                .operations
                .iter()
                .map(|o| UsageDay {
                    day: o.day,
                    resets: counts(req, o.resets, Feature::Reset, o.day),
                    unlocks: counts(req, o.unlocks, Feature::Unlock, o.day),
                    sign_ins: f.sign_ins_on(o.day).map(|s| SignInCounts {
                        total_sign_ins: s.total,
                        single_factor_sign_ins: s.single_factor,
                        multi_factor_sign_ins: s.multi_factor,
                    }),
                    sign_ins_by_method: f
                        .sign_in_method_days
                        .iter()
                        .filter(|m| m.day == o.day)
                        .map(|m| SignInMethodCount {
                            authentication_method: m.method.clone(),
                            name: named(&m.name),
                            success_activity_count: m.sign_ins,
                        })
                        .collect(),
                })
                .collect(),
            reset_methods: Chart::new(req, &f.reset_methods, f.range),
            reset_methods_start_date_time: utc(f.window.start),
            sign_in_methods: f
                .sign_in_methods
                .iter()
                .map(|m| SignInMethodCount {
                    authentication_method: m.method.key().to_string(),
                    name: named(&m.name),
                    success_activity_count: m.sign_ins,
                })
                .collect(),
            sign_in_data: f.any_sign_ins,
        }
    }
}

/// The usage view's figures (`/usage`).
#[utoipa::path(
    get,
    path = "/api/v1/usage",
    tag = "reports",
    params(UsageParams),
    responses(
        (status = 200, description = "The usage view's figures.", body = Usage),
        (status = 400, description = "A parameter could not be understood; `parameter` names it.", body = ErrorBody),
        (status = 401, description = "No valid key or session.", body = ErrorBody),
        (status = 403, description = "The key has no read scope.", body = ErrorBody),
        (status = 503, description = "The database cannot be reached.", body = ErrorBody),
    )
)]
#[get("/api/v1/usage", wrap = "from_fn(auth::api_reader)")]
pub async fn usage(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    let range = parse_range(req.query_string())?;
    let now = Utc::now().naive_utc();
    let figures = state.db(move |conn| load_usage(conn, range, now)).await?;
    Ok(json(&Usage::new(&req, &figures)))
}
