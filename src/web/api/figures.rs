//! The overview's figures, the SSPR policy, and one user explained.

use super::lists::{utc, ActivityRecord, RegistrationDetail};
use super::schema::{FeatureKey, MethodKey, PolicyMethodKey};
use super::{absolute, api_path, json, no_parameters, ApiResult, ErrorBody};
use crate::db::directory::{group_name, load_policy, load_policy_row};
use crate::db::users::user_detail;
use crate::domain::filter::{Outcome, RegistrationFilter};
use crate::domain::{PolicyMethodSet, SsprPolicy};
use crate::web::auth;
use crate::web::describe::{explanations, policy_text, standing, stored_differs};
use crate::web::error::AppError;
use crate::web::figures::{load_figures, Figures, UserFigure};
use crate::web::lists::events::{self, kind_href};
use crate::web::lists::overview::{parse_range, OpenApiParams as OverviewParams};
use crate::web::lists::registrations::filter_href;
use crate::web::params::{href, query_string};
use crate::web::{percent, AppState};
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// The overview: the three tiles, the insights and the two charts of a range.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// The range of the charts: `24h`, `7d` or `30d`.
    pub range: &'static str,
    /// The charts count events from this time (a whole hour) until now.
    pub window_start_date_time: DateTime<Utc>,
    /// When the data last changed (imports, ingest, policy).
    pub last_refreshed_date_time: DateTime<Utc>,
    /// Users in the directory, disabled accounts and guests included.
    pub total_users: i64,
    pub tiles: Vec<Tile>,
    pub insights: Vec<Insight>,
    /// Users who registered each method of the catalogue (Graph's
    /// `usersRegisteredByMethod`), in the catalogue's order.
    pub users_registered_by_method: Vec<MethodUserCount>,
    pub charts: Vec<Chart>,
}

/// Users who registered one method.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MethodUserCount {
    pub auth_method: MethodKey,
    pub user_count: i64,
    /// Those users (registration details, filtered by the method).
    pub href: String,
}

/// A tile: users with a status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tile {
    /// `registered`, `enabled`, `capable`, `mfaCapable` or `passwordlessCapable`.
    pub key: &'static str,
    pub title: &'static str,
    pub count: i64,
    /// Share of all users, in percent with one decimal.
    pub percent: f64,
    /// The users behind the count (registration details, filtered).
    pub href: String,
    /// The gap the tile's note names ("12 enabled users are not registered").
    pub note: Insight,
}

/// A count of users with a meaning, and the list behind it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Insight {
    /// A stable name: `enabledNotRegistered`, `adminsNotCapable`, …
    pub key: &'static str,
    pub count: i64,
    /// What the count means, as the overview says it.
    pub text: String,
    /// The users behind the count (registration details, filtered).
    pub href: String,
}

/// Method events of one feature in the range, per method.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Chart {
    /// `registrations`, `resets` or `unlocks`.
    pub key: &'static str,
    pub feature: FeatureKey,
    pub total_success: i64,
    pub total_failure: i64,
    /// The seven usage methods, then any other method with events.
    pub methods: Vec<ChartMethod>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChartMethod {
    pub auth_method: MethodKey,
    pub success: i64,
    pub failure: i64,
    /// The successful events behind the bar (reset details, filtered).
    pub success_href: String,
    /// The failed events behind the bar.
    pub failure_href: String,
}

fn registrations_href(req: &HttpRequest, f: &RegistrationFilter) -> String {
    absolute(req, &api_path(&filter_href(f)))
}

fn insight(req: &HttpRequest, f: &UserFigure) -> Insight {
    Insight {
        key: f.key,
        count: f.count,
        text: f.text.clone(),
        href: registrations_href(req, &f.filter),
    }
}

impl Overview {
    fn new(
        req: &HttpRequest,
        figures: &Figures,
        range: crate::domain::filter::RangeChoice,
        since: chrono::NaiveDateTime,
        refreshed: chrono::NaiveDateTime,
    ) -> Overview {
        Overview {
            range: range.key(),
            window_start_date_time: utc(since),
            last_refreshed_date_time: utc(refreshed),
            total_users: figures.users,
            tiles: figures
                .tiles
                .iter()
                .map(|t| Tile {
                    key: t.key,
                    title: t.title,
                    count: t.count,
                    percent: percent(t.count, figures.users).parse().unwrap_or(0.0),
                    href: registrations_href(req, &t.filter),
                    note: insight(req, &t.note),
                })
                .collect(),
            insights: figures.insights.iter().map(|i| insight(req, i)).collect(),
            users_registered_by_method: figures
                .methods
                .iter()
                .map(|m| MethodUserCount {
                    auth_method: MethodKey(m.method),
                    user_count: m.users,
                    href: registrations_href(
                        req,
                        &RegistrationFilter {
                            methods: crate::domain::MethodSet::EMPTY.with(m.method),
                            ..RegistrationFilter::default()
                        },
                    ),
                })
                .collect(),
            charts: figures
                .charts
                .iter()
                .map(|c| Chart::new(req, c, range))
                .collect(),
        }
    }
}

impl Chart {
    /// A method chart of a range, its bars' links absolute API links.
    pub fn new(
        req: &HttpRequest,
        c: &crate::web::figures::ChartFigure,
        range: crate::domain::filter::RangeChoice,
    ) -> Chart {
        Chart {
            key: c.key(),
            feature: FeatureKey(c.feature),
            total_success: c.total(true),
            total_failure: c.total(false),
            methods: c
                .rows
                .iter()
                .map(|r| {
                    let link =
                        |o| absolute(req, &api_path(&kind_href(c.feature, r.method, o, range)));
                    ChartMethod {
                        auth_method: MethodKey(r.method),
                        success: r.success,
                        failure: r.failure,
                        success_href: link(Outcome::Success),
                        failure_href: link(Outcome::Failure),
                    }
                })
                .collect(),
        }
    }
}

/// The overview's tiles, insights and charts (`/`).
#[utoipa::path(
    get,
    path = "/api/v1/overview",
    tag = "reports",
    params(OverviewParams),
    responses(
        (status = 200, description = "The overview's figures.", body = Overview),
        (status = 400, description = "A parameter could not be understood; `parameter` names it.", body = ErrorBody),
        (status = 401, description = "No valid key or session.", body = ErrorBody),
        (status = 403, description = "The key has no read scope.", body = ErrorBody),
        (status = 503, description = "The database cannot be reached.", body = ErrorBody),
    )
)]
#[get("/api/v1/overview", wrap = "from_fn(auth::api_reader)")]
pub async fn overview(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    let range = parse_range(req.query_string())?;
    let window = range.window(Utc::now().naive_utc());
    let cache = state.figures.clone();
    let (figures, refreshed) = state
        .db(move |conn| load_figures(conn, &cache, window))
        .await?;
    Ok(json(&Overview::new(
        &req,
        &figures,
        range,
        window.start,
        refreshed,
    )))
}

/// The SSPR policy in force.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// `none`, `selected` (members of one group) or `all` (every member user).
    #[schema(value_type = String, pattern = "^(none|selected|all)$")]
    pub scope: &'static str,
    /// The group of scope `selected`.
    #[schema(required = true)]
    pub group: Option<Group>,
    pub methods_required: u8,
    pub allowed_methods: Vec<PolicyMethodKey>,
    /// What administrators are measured by instead: always in scope.
    pub administrator_policy: Requirement,
    pub last_modified_date_time: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Requirement {
    pub methods_required: u8,
    pub allowed_methods: Vec<PolicyMethodKey>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    /// Null when the directory does not hold the group.
    #[schema(required = true)]
    pub display_name: Option<String>,
}

fn keys(set: PolicyMethodSet) -> Vec<PolicyMethodKey> {
    set.iter().map(PolicyMethodKey).collect()
}

/// The SSPR policy in force (Admin › SSPR policy).
#[utoipa::path(
    get,
    path = "/api/v1/policy",
    tag = "reports",
    responses(
        (status = 200, description = "The policy.", body = Policy),
        (status = 400, description = "A query parameter was given; this endpoint takes none.", body = ErrorBody),
        (status = 401, description = "No valid key or session.", body = ErrorBody),
        (status = 403, description = "The key has no read scope.", body = ErrorBody),
        (status = 503, description = "The database cannot be reached.", body = ErrorBody),
    )
)]
#[get("/api/v1/policy", wrap = "from_fn(auth::api_reader)")]
pub async fn policy(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    no_parameters(&req)?;
    let (policy, row, group) = state
        .db(|conn| {
            let policy = load_policy(conn)?;
            let row = load_policy_row(conn)?;
            let group = match policy.scope.group_id() {
                Some(id) => Some(Group {
                    id: id.to_string(),
                    display_name: group_name(conn, id)?,
                }),
                None => None,
            };
            Ok((policy, row, group))
        })
        .await?;
    let admin = SsprPolicy::administrator_requirement();
    Ok(json(&Policy {
        scope: policy.scope.key(),
        group,
        methods_required: policy.methods_required(),
        allowed_methods: keys(policy.allowed()),
        administrator_policy: Requirement {
            methods_required: admin.methods_required,
            allowed_methods: keys(admin.allowed),
        },
        last_modified_date_time: utc(row.updated_at),
    }))
}

/// One user: the registration details row, each figure explained in words,
/// methods, groups and recent activities (`/users/{id}`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserReport {
    #[serde(flatten)]
    pub user: RegistrationDetail,
    /// The user's directory role ("User", "Global Administrator", …); null
    /// while no source has said (Graph's registration reports do not).
    #[schema(required = true)]
    pub directory_role: Option<String>,
    /// Registered, Enabled, Capable, MFA capable, Passwordless capable.
    pub explanations: Vec<Explanation>,
    /// True when the stored figures differ from the rules applied now (the
    /// portal is recomputing, or the data changed under it).
    pub figures_differ_from_rules: bool,
    /// The policy the user is measured by, in words.
    pub policy: String,
    pub methods: Vec<RegisteredMethod>,
    pub groups: Vec<Group>,
    /// The latest registrations and resets, newest first.
    pub recent_activities: Vec<ActivityRecord>,
    /// The user's method events (reset details, searched by user name).
    pub events_href: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// `Registered`, `Enabled`, `Capable`, `MFA capable` or `Passwordless capable`.
    pub figure: &'static str,
    pub value: bool,
    /// "Registered", "Not registered", …
    pub verdict: String,
    /// Why, in words.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredMethod {
    pub method: MethodKey,
    /// How it counts toward the user's requirement.
    #[schema(value_type = String, pattern = "^(counts|not_allowed|not_sspr)$")]
    pub standing: &'static str,
    #[schema(required = true)]
    pub registered_date_time: Option<DateTime<Utc>>,
}

/// One user, explained.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    tag = "reports",
    params(("id" = String, Path, description = "The user's directory id.")),
    responses(
        (status = 200, description = "The user.", body = UserReport),
        (status = 400, description = "A query parameter was given; this endpoint takes none.", body = ErrorBody),
        (status = 401, description = "No valid key or session.", body = ErrorBody),
        (status = 403, description = "The key has no read scope.", body = ErrorBody),
        (status = 404, description = "The directory holds no user with this id.", body = ErrorBody),
        (status = 503, description = "The database cannot be reached.", body = ErrorBody),
    )
)]
#[get("/api/v1/users/{id}", wrap = "from_fn(auth::api_reader)")]
pub async fn user(
    state: web::Data<AppState>,
    id: web::Path<String>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    no_parameters(&req)?;
    let id = id.into_inner();
    let detail = state
        .db(move |conn| Ok(user_detail(conn, &id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let u = &detail.user;
    let current = Some((u.display_name.as_str(), u.user_principal_name.as_str()));
    let report = UserReport {
        user: RegistrationDetail::new(
            &u.id,
            &u.display_name,
            &u.user_principal_name,
            u.key(),
            u.mfa_details(),
            &u.other_method_names(),
        ),
        directory_role: Some(u.directory_role.clone()).filter(|r| !r.is_empty()),
        explanations: explanations(&detail)
            .into_iter()
            .map(|e| Explanation {
                figure: e.figure,
                value: e.value,
                verdict: e.verdict,
                reason: e.reason,
            })
            .collect(),
        figures_differ_from_rules: stored_differs(&detail),
        policy: policy_text(&detail),
        methods: detail
            .methods
            .iter()
            .map(|(m, at)| RegisteredMethod {
                method: MethodKey(*m),
                standing: standing(&detail.assessment, *m).0,
                registered_date_time: at.map(utc),
            })
            .collect(),
        groups: detail
            .groups
            .iter()
            .map(|(id, name)| Group {
                id: id.clone(),
                display_name: Some(name.clone()),
            })
            .collect(),
        recent_activities: detail
            .activities
            .iter()
            .map(|a| ActivityRecord::new(a, current))
            .collect::<ApiResult<Vec<_>>>()?,
        events_href: absolute(
            &req,
            &href(
                &api_path(events::PATH),
                &query_string([("q", u.user_principal_name.as_str())]),
            ),
        ),
    };
    Ok(json(&report))
}
