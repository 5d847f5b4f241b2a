//! The lists: registration details, reset details (method events) and the
//! two classic activity reports. Each reads its query string, builds its
//! links and documents its parameters with the list's one declaration in
//! `web::lists`, and reads one page with the query the page uses, so the API
//! and the pages cannot disagree.

use super::schema::{DetailsKey, FeatureKey, MethodKey, ResultKey};
use super::{absolute, api_path, json, ApiResult, ErrorBody};
use crate::db::activities::{activity_page, ActivityCount, ActivityRow};
use crate::db::events::{event_page, EventCount, EventPage, EventRow};
use crate::db::models::{Activity, ListUser};
use crate::db::registrations::{registration_page, RegistrationPage};
use crate::domain::second_factor::MfaDetails;
use crate::domain::{ActivityResult, Details, Feature, Method, MethodSet, StatusKey};
use crate::web::auth;
use crate::web::error::AppError;
use crate::web::lists::reports::{self, RegistrationActivityParams, Report, ResetActivityParams};
use crate::web::lists::{events, registrations};
use crate::web::AppState;
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// A list's envelope: one page of rows, how many rows pass the filter, and
/// the link to the next page.
macro_rules! list_type {
    ($(#[$doc:meta])* $name:ident of $row:ty) => {
        $(#[$doc])*
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            /// The rows of this page, in the list's order.
            pub value: Vec<$row>,
            /// Rows passing the filter on all pages; null when a broad search
            /// matches too many users to count their rows quickly.
            #[schema(required = true)]
            pub count: Option<i64>,
            /// True when `count` is a lower bound: a broad search matched more
            /// users than are counted.
            #[serde(rename = "countIsLowerBound")]
            pub count_is_lower_bound: bool,
            /// The next page, with the same filters; absent on the last page.
            #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
            #[schema(nullable = false)]
            pub next_link: Option<String>,
        }
    };
}

list_type!(
    /// Registration details: one row per user.
    RegistrationList of RegistrationDetail
);
list_type!(
    /// Reset details: one row per method event.
    EventList of EventDetail
);
list_type!(
    /// A classic activity report: one row per registration or reset.
    ActivityList of ActivityRecord
);

/// One user's registration and SSPR status (Graph: `userRegistrationDetails`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationDetail {
    /// The user's directory id.
    pub id: String,
    pub user_principal_name: String,
    pub user_display_name: String,
    /// `member` or `guest`.
    #[schema(value_type = String, pattern = "^(member|guest)$")]
    pub user_type: &'static str,
    /// Holds a directory administrator role (the administrator policy applies).
    pub is_admin: bool,
    pub is_sspr_registered: bool,
    pub is_sspr_enabled: bool,
    pub is_sspr_capable: bool,
    pub is_mfa_capable: bool,
    pub is_passwordless_capable: bool,
    /// False for a disabled account (listed, never dropped); null while no
    /// source has said (Graph's registration reports do not).
    #[schema(required = true)]
    pub account_enabled: Option<bool>,
    /// Registered methods, in catalogue order.
    pub methods_registered: Vec<MethodKey>,
    /// The source's names of the methods listed as `other` (Graph's
    /// `methodsRegistered` values this portal does not know), in its order.
    pub other_methods_registered: Vec<String>,
    /// A directory export stated statuses this portal's policy computes
    /// otherwise (the `is…` fields follow the verdict source chosen on
    /// Admin › SSPR policy).
    pub directory_verdicts_disagree: bool,
    /// The directory-stated statuses are older than the newest export,
    /// which did not include the user.
    pub directory_verdicts_stale: bool,
    /// As the directory's registration details state it; null where no
    /// export said.
    #[schema(required = true)]
    pub is_mfa_registered: Option<bool>,
    /// Graph's name of the default MFA method (`mobilePhone`, …), as the
    /// export gave it; null where no export said.
    #[schema(required = true)]
    pub default_mfa_method: Option<String>,
    /// Whether the system-preferred method applies to the user; null where
    /// no export said.
    #[schema(required = true)]
    pub is_system_preferred_authentication_method_enabled: Option<bool>,
    /// Graph's names, in its order; null where no export said.
    #[schema(required = true)]
    pub system_preferred_authentication_methods: Option<Vec<String>>,
    /// Graph's name of the method the user prefers for a second factor;
    /// null where no export said.
    #[schema(required = true)]
    pub user_preferred_method_for_secondary_authentication: Option<String>,
    /// When the directory last updated the user's registration details;
    /// null where no export said.
    #[schema(required = true)]
    pub last_updated_date_time: Option<DateTime<Utc>>,
}

impl RegistrationDetail {
    pub fn new(
        id: &str,
        display_name: &str,
        upn: &str,
        key: StatusKey,
        mfa: MfaDetails,
        other_methods: &[String],
    ) -> RegistrationDetail {
        RegistrationDetail {
            id: id.to_string(),
            user_principal_name: upn.to_string(),
            user_display_name: display_name.to_string(),
            user_type: if key.is_guest { "guest" } else { "member" },
            is_admin: key.is_admin,
            is_sspr_registered: key.status.registered,
            is_sspr_enabled: key.status.enabled,
            is_sspr_capable: key.status.capable,
            is_mfa_capable: key.status.mfa_capable,
            is_passwordless_capable: key.status.passwordless_capable,
            account_enabled: key.account_enabled,
            methods_registered: MethodSet::from_mask(key.methods_mask)
                .iter()
                .map(MethodKey)
                .collect(),
            other_methods_registered: other_methods.to_vec(),
            directory_verdicts_disagree: key.disagrees,
            directory_verdicts_stale: key.stale,
            is_mfa_registered: mfa.mfa_registered,
            default_mfa_method: mfa.default_mfa_method,
            is_system_preferred_authentication_method_enabled: mfa.system_preferred_enabled,
            system_preferred_authentication_methods: mfa.system_preferred_methods,
            user_preferred_method_for_secondary_authentication: mfa.user_preferred_method,
            last_updated_date_time: mfa.updated_at.map(|t| t.and_utc()),
        }
    }

    fn of(u: &ListUser) -> RegistrationDetail {
        RegistrationDetail::new(
            &u.id,
            &u.display_name,
            &u.user_principal_name,
            u.key(),
            u.mfa_details(),
            &u.other_method_names(),
        )
    }
}

/// One method's verification in a registration or reset (Graph:
/// `userCredentialUsageDetails`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventDetail {
    pub id: String,
    pub feature: FeatureKey,
    /// The user's directory id; for a user not in the directory whom the
    /// event named only by user principal name, `upn:` and that name in
    /// lower case.
    pub user_id: String,
    /// False for a user the directory does not hold (deleted since, or not
    /// exported yet): the names are then those the event's source gave.
    pub in_directory: bool,
    /// Null only for a user neither the directory nor the event names.
    #[schema(required = true)]
    pub user_principal_name: Option<String>,
    /// Null only for a user neither the directory nor the event names.
    #[schema(required = true)]
    pub user_display_name: Option<String>,
    pub auth_method: MethodKey,
    /// The source's name of a method this portal does not know (Graph's
    /// `authMethod` as exported) when `authMethod` is `other`; else null.
    #[schema(required = true)]
    pub auth_method_name: Option<String>,
    pub is_success: bool,
    /// Why the verification failed; null when it succeeded.
    #[schema(required = true)]
    pub failure_reason: Option<String>,
    pub event_date_time: DateTime<Utc>,
}

fn feature_of(code: i32, row: &str) -> ApiResult<Feature> {
    Feature::from_code(code)
        .ok_or_else(|| AppError::Internal(format!("row {row}: unknown feature code {code}")).into())
}

impl EventDetail {
    fn new(e: &EventRow) -> ApiResult<EventDetail> {
        let method = Method::from_code(e.method).ok_or_else(|| {
            AppError::Internal(format!("event {}: unknown method code {}", e.id, e.method))
        })?;
        Ok(EventDetail {
            id: e.id.clone(),
            feature: FeatureKey(feature_of(e.feature, &e.id)?),
            user_id: e.user_id.clone(),
            in_directory: e.display_name.is_some(),
            user_principal_name: e
                .user_principal_name
                .clone()
                .or_else(|| e.named.as_ref().map(|n| n.0.clone())),
            user_display_name: e.display_name.clone().or_else(|| {
                e.named
                    .as_ref()
                    .map(|n| n.1.clone())
                    .filter(|n| !n.is_empty())
            }),
            auth_method: MethodKey(method),
            auth_method_name: e.method_name.clone().filter(|_| method == Method::Other),
            is_success: e.success,
            failure_reason: e.failure_reason.clone().filter(|r| !r.is_empty()),
            event_date_time: utc(e.occurred_at),
        })
    }
}

/// One registration or password reset operation (the classic reports' row).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityRecord {
    pub id: String,
    pub feature: FeatureKey,
    /// Null for a reset by a user id the directory does not hold.
    #[schema(required = true)]
    pub user_id: Option<String>,
    /// The user's name now, or as recorded for a user the directory no longer
    /// holds; null when neither is known.
    #[schema(required = true)]
    pub user_display_name: Option<String>,
    pub user_principal_name: String,
    /// The user's role at the time (the classic reports' Role).
    pub user_role: String,
    pub activity_date_time: DateTime<Utc>,
    /// The methods used (registered, for a registration), in catalogue order.
    pub methods_used: Vec<MethodKey>,
    pub result: ResultKey,
    /// Why a reset ended as it did; null for registrations.
    #[schema(required = true)]
    pub details: Option<DetailsKey>,
    /// The classic report's text for `details`.
    #[schema(required = true)]
    pub details_text: Option<&'static str>,
}

impl ActivityRecord {
    /// `current` is the user's (display name, user principal name) now, when
    /// the directory holds the user.
    pub fn new(a: &Activity, current: Option<(&str, &str)>) -> ApiResult<ActivityRecord> {
        let result = ActivityResult::from_code(a.result).ok_or_else(|| {
            AppError::Internal(format!(
                "activity {}: unknown result code {}",
                a.id, a.result
            ))
        })?;
        let details = a.details.and_then(Details::from_code);
        let (name, upn) = match current {
            Some((name, upn)) => (Some(name.to_string()), upn.to_string()),
            None => (
                Some(a.user_display_name.clone()).filter(|n| !n.is_empty()),
                a.user_principal_name.clone(),
            ),
        };
        Ok(ActivityRecord {
            id: a.id.clone(),
            feature: FeatureKey(feature_of(a.feature, &a.id)?),
            user_id: a.user_id.clone(),
            user_display_name: name,
            user_principal_name: upn,
            user_role: a.user_role.clone(),
            activity_date_time: utc(a.occurred_at),
            methods_used: MethodSet::from_mask(a.methods_mask)
                .iter()
                .map(MethodKey)
                .collect(),
            result: ResultKey(result),
            details: details.map(DetailsKey),
            details_text: details.map(Details::text),
        })
    }

    fn of(r: &ActivityRow) -> ApiResult<ActivityRecord> {
        let current = r.current.as_ref().map(|(n, u)| (n.as_str(), u.as_str()));
        ActivityRecord::new(&r.activity, current)
    }
}

/// A stored UTC time as the API writes it: RFC 3339 with `Z`.
pub fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// The next link: the same list from after `cursor`, as `href` builds it
/// for a path and a position.
fn next_link(
    req: &HttpRequest,
    path: &str,
    cursor: Option<String>,
    href: impl FnOnce(&str, Option<(&str, String)>) -> String,
) -> Option<String> {
    let cursor = cursor?;
    Some(absolute(
        req,
        &href(&api_path(path), Some(("after", cursor))),
    ))
}

/// Users with their registration and SSPR status, with the filters of
/// registration details (`/registrations`).
#[utoipa::path(
    get,
    path = "/api/v1/registrations",
    tag = "reports",
    params(registrations::OpenApiParams),
    responses(
        (status = 200, description = "One page of users.", body = RegistrationList),
        (status = 400, description = "A parameter could not be understood; `parameter` names it.", body = ErrorBody),
        (status = 401, description = "No valid key or session.", body = ErrorBody),
        (status = 403, description = "The key has no read scope.", body = ErrorBody),
        (status = 503, description = "The database cannot be reached.", body = ErrorBody),
    )
)]
#[get("/api/v1/registrations", wrap = "from_fn(auth::api_reader)")]
pub async fn registration_details(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let q = registrations::parse_query(req.query_string())?;
    let query = q.clone();
    let cache = state.counts.clone();
    let page = state
        .db(move |conn| {
            let counts = cache.read(conn)?;
            Ok(registration_page(conn, &counts, &query)?)
        })
        .await?;
    let cursor = page
        .users
        .last()
        .filter(|_| page.has_next)
        .map(|u| RegistrationPage::cursor(u, q.sort).encode());
    Ok(json(&RegistrationList {
        value: page.users.iter().map(RegistrationDetail::of).collect(),
        count: Some(page.count),
        count_is_lower_bound: page.count_capped,
        next_link: next_link(&req, registrations::PATH, cursor, |path, position| {
            registrations::list_href(path, &q.filter, q.sort, q.size, position)
        }),
    }))
}

/// Method events, newest first, with the filters of reset details (`/activity`).
#[utoipa::path(
    get,
    path = "/api/v1/activity",
    tag = "reports",
    params(events::OpenApiParams),
    responses(
        (status = 200, description = "One page of method events.", body = EventList),
        (status = 400, description = "A parameter could not be understood; `parameter` names it.", body = ErrorBody),
        (status = 401, description = "No valid key or session.", body = ErrorBody),
        (status = 403, description = "The key has no read scope.", body = ErrorBody),
        (status = 503, description = "The database cannot be reached.", body = ErrorBody),
    )
)]
#[get("/api/v1/activity", wrap = "from_fn(auth::api_reader)")]
pub async fn reset_details(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let now = Utc::now().naive_utc();
    let q = events::parse_query(req.query_string(), now)?;
    let query = q.clone();
    let cache = state.counts.clone();
    let page = state
        .db(move |conn| {
            let counts = cache.read(conn)?;
            Ok(event_page(conn, &counts, &query)?)
        })
        .await?;
    let value = page
        .rows
        .iter()
        .map(EventDetail::new)
        .collect::<ApiResult<Vec<_>>>()?;
    let cursor = page
        .rows
        .last()
        .filter(|_| page.has_next)
        .map(|r| EventPage::cursor(r).encode());
    let (count, count_is_lower_bound) = match page.count {
        EventCount::Exact(n) => (Some(n), false),
        EventCount::SearchTooBroad { .. } => (None, false),
    };
    Ok(json(&EventList {
        value,
        count,
        count_is_lower_bound,
        next_link: next_link(&req, events::PATH, cursor, |path, position| {
            events::list_href(path, &q.filter, q.size, position)
        }),
    }))
}

async fn report(
    report: Report,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let now = Utc::now().naive_utc();
    let q = reports::parse_query(report, req.query_string(), now)?;
    let query = q.clone();
    let cache = state.counts.clone();
    let page = state
        .db(move |conn| {
            let counts = cache.read(conn)?;
            Ok(activity_page(conn, &counts, &query)?)
        })
        .await?;
    let value = page
        .rows
        .iter()
        .map(ActivityRecord::of)
        .collect::<ApiResult<Vec<_>>>()?;
    let cursor = page
        .rows
        .last()
        .filter(|_| page.has_next)
        .map(|r| crate::db::activities::ActivityPage::cursor(r).encode());
    let count = match page.count {
        ActivityCount::Exact(n) => Some(n),
        ActivityCount::SearchTooBroad { .. } => None,
    };
    Ok(json(&ActivityList {
        value,
        count,
        count_is_lower_bound: false,
        next_link: next_link(&req, report.path(), cursor, |path, position| {
            reports::list_href(path, &q.filter, q.size, position)
        }),
    }))
}

/// Registrations, newest first: the classic Registration activity report.
#[utoipa::path(
    get,
    path = "/api/v1/reports/registration-activity",
    tag = "reports",
    params(RegistrationActivityParams),
    responses(
        (status = 200, description = "One page of registrations.", body = ActivityList),
        (status = 400, description = "A parameter could not be understood; `parameter` names it.", body = ErrorBody),
        (status = 401, description = "No valid key or session.", body = ErrorBody),
        (status = 403, description = "The key has no read scope.", body = ErrorBody),
        (status = 503, description = "The database cannot be reached.", body = ErrorBody),
    )
)]
#[get(
    "/api/v1/reports/registration-activity",
    wrap = "from_fn(auth::api_reader)"
)]
pub async fn registration_activity(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    report(Report::RegistrationActivity, state, req).await
}

/// Password resets, newest first: the classic Reset activity report.
#[utoipa::path(
    get,
    path = "/api/v1/reports/reset-activity",
    tag = "reports",
    params(ResetActivityParams),
    responses(
        (status = 200, description = "One page of password resets.", body = ActivityList),
        (status = 400, description = "A parameter could not be understood; `parameter` names it.", body = ErrorBody),
        (status = 401, description = "No valid key or session.", body = ErrorBody),
        (status = 403, description = "The key has no read scope.", body = ErrorBody),
        (status = 503, description = "The database cannot be reached.", body = ErrorBody),
    )
)]
#[get("/api/v1/reports/reset-activity", wrap = "from_fn(auth::api_reader)")]
pub async fn reset_activity(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    report(Report::ResetActivity, state, req).await
}
