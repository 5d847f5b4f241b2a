//! `/api/v1/`: the report data as JSON for scripts, read-only, with the same
//! filters as the pages (the same parameter names and values, parsed by the
//! same code) and field names close to Microsoft Graph's report resources.
//!
//! Lists answer `{"value": [...], "count": n, "@odata.nextLink": "..."}` and
//! page by keyset: the next link carries the position, and a page holds at
//! most [`PageSize::MAX`](crate::domain::filter::PageSize::MAX) rows, so a
//! request's memory does not grow with the data. Errors are JSON too:
//! `{"error": {"code", "message", "parameter"?}}`.

use crate::web::auth;
use actix_web::middleware::from_fn;
pub mod doc;
pub mod figures;
pub mod lists;
pub mod schema;
pub mod trends;
pub mod usage;

use super::auth::Principal;
use super::error::AppError;
pub use super::error::{
    error_response, error_response_with, method_not_allowed, ErrorBody, ErrorDetail,
};
use crate::domain::filter::FilterError;
use actix_web::http::StatusCode;
use actix_web::{get, HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;
use utoipa::ToSchema;

/// Where the API lives.
pub const BASE: &str = "/api/v1";

/// The web layer's error, answered as JSON.
#[derive(Debug)]
pub struct ApiError(pub AppError);

pub type ApiResult<T> = Result<T, ApiError>;

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        error_response(&self.0)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl From<FilterError> for ApiError {
    fn from(e: FilterError) -> Self {
        ApiError(e.into())
    }
}

/// Refuses any query parameter, for an endpoint that takes none.
pub fn no_parameters(req: &HttpRequest) -> ApiResult<()> {
    crate::web::params::Params::parse(req.query_string(), &[])?;
    Ok(())
}

/// A 200 answer with a JSON body.
pub fn json(body: &impl Serialize) -> HttpResponse {
    HttpResponse::Ok().json(body)
}

/// An absolute URL of this portal for `href` (a path and query), as the
/// client reached it, so a script can follow it as it is.
pub fn absolute(req: &HttpRequest, href: &str) -> String {
    let trust = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .is_some_and(|s| s.settings.security.trust_forwarded_for);
    let (scheme, host) = super::auth::this_origin(req, trust);
    format!("{scheme}://{host}{href}")
}

/// A path of the API for the path of a page: `/registrations` → `/api/v1/registrations`.
pub fn api_path(page: &str) -> String {
    format!("{BASE}{page}")
}

/// Who the API sees: lets a script check its key before it does real work.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    /// `account` (a signed-in session) or `apiKey`.
    kind: &'static str,
    /// The account's user name or the key's name.
    name: String,
    /// The account's role; keys have none.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    /// `read` and `ingest`, as far as allowed.
    scopes: Vec<&'static str>,
}

/// Who is calling: a signed-in account or an API key, with its scopes.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "portal",
    responses(
        (status = 200, description = "The caller.", body = Me),
        (status = 400, description = "A query parameter was given; this endpoint takes none.", body = ErrorBody),
        (status = 401, description = "No valid key or session.", body = ErrorBody),
        (status = 503, description = "The database cannot be reached.", body = ErrorBody),
    )
)]
#[get("/api/v1/me", wrap = "from_fn(auth::api_signed)")]
pub async fn me(principal: Principal, req: HttpRequest) -> ApiResult<HttpResponse> {
    no_parameters(&req)?;
    let me = match principal {
        Principal::Session(v) => Me {
            kind: "account",
            name: v.username,
            role: Some(v.role.key()),
            scopes: vec!["read"],
        },
        Principal::Key(k) => Me {
            kind: "apiKey",
            name: k.name,
            role: None,
            scopes: [("read", k.can_read), ("ingest", k.can_ingest)]
                .into_iter()
                .filter_map(|(s, on)| on.then_some(s))
                .collect(),
        },
    };
    Ok(json(&me))
}

/// Every route of the API.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(me)
        .service(doc::openapi_json)
        .service(figures::overview)
        .service(trends::trends)
        .service(usage::usage)
        .service(figures::policy)
        .service(figures::user)
        .service(lists::registration_details)
        .service(lists::reset_details)
        .service(lists::registration_activity)
        .service(lists::reset_activity);
}
