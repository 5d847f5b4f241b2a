//! The one error type of the web layer. Each variant knows its status and
//! renders the error page; internals are logged, never shown.

use super::layout::Layout;
use actix_web::http::header::{ContentType, HeaderMap, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use serde::Serialize;
use std::fmt;
use utoipa::ToSchema;

#[derive(Debug)]
pub enum AppError {
    /// Bad input: the message names the parameter and what is allowed.
    BadRequest(String),
    /// A query parameter that could not be understood; `message` is the whole
    /// sentence shown, naming the parameter.
    BadParameter {
        param: String,
        message: String,
    },
    /// Bad input on a list page, which the error page offers to reopen without it.
    BadPageRequest {
        message: String,
        page: &'static str,
    },
    NotFound,
    /// No session (a handler reached without the middleware's principal).
    Unauthenticated,
    /// Signed in, but the role, key scope or CSRF token does not allow this.
    Forbidden(String),
    /// The account must choose a new password before anything else.
    MustChangePassword,
    /// The database cannot be reached right now.
    Unavailable,
    /// Other writers held the data too long: try again shortly (503 with
    /// `Retry-After`).
    Busy,
    /// Anything else; the text goes to the log only.
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

pub fn bad_request(message: impl Into<String>) -> AppError {
    AppError::BadRequest(message.into())
}

impl AppError {
    /// Ties a bad request to the page it was for.
    pub fn on_page(self, page: &'static str) -> AppError {
        match self {
            AppError::BadRequest(message) | AppError::BadParameter { message, .. } => {
                AppError::BadPageRequest { message, page }
            }
            other => other,
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::BadRequest(m)
            | AppError::BadParameter { message: m, .. }
            | AppError::BadPageRequest { message: m, .. } => write!(f, "bad request: {m}"),
            AppError::NotFound => f.write_str("not found"),
            AppError::Unauthenticated => f.write_str("not signed in"),
            AppError::Forbidden(m) => write!(f, "forbidden: {m}"),
            AppError::MustChangePassword => f.write_str("the password must be changed first"),
            AppError::Unavailable => f.write_str("database unavailable"),
            AppError::Busy => f.write_str("busy: other writers held the data"),
            AppError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl From<crate::db::PoolError> for AppError {
    fn from(e: crate::db::PoolError) -> Self {
        tracing::warn!("database pool: {e}");
        AppError::Unavailable
    }
}

impl From<crate::db::DbError> for AppError {
    fn from(e: crate::db::DbError) -> Self {
        use crate::db::Failure;
        match crate::db::failure(&e) {
            Failure::NotFound => AppError::NotFound,
            Failure::Lost => {
                tracing::warn!("database connection lost: {e}");
                AppError::Unavailable
            }
            Failure::Busy => {
                tracing::warn!("a write gave up waiting for other writers: {e}");
                AppError::Busy
            }
            Failure::Other => AppError::Internal(e.to_string()),
        }
    }
}

/// Seconds a client told "busy" is asked to wait before trying again.
pub const RETRY_AFTER_SECONDS: u32 = 2;

impl From<crate::db::directory::PolicyLoadError> for AppError {
    fn from(e: crate::db::directory::PolicyLoadError) -> Self {
        match e {
            crate::db::directory::PolicyLoadError::Database(e) => e.into(),
            invalid => AppError::Internal(invalid.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(format!("template: {e}"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    message: &'a str,
    back_href: &'a str,
    back_label: &'a str,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_)
            | AppError::BadParameter { .. }
            | AppError::BadPageRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) | AppError::MustChangePassword => StatusCode::FORBIDDEN,
            AppError::Unavailable | AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (mut back_href, mut back_label) = ("/", "Back to the overview");
        let (title, message) = match self {
            AppError::BadRequest(m) | AppError::BadParameter { message: m, .. } => {
                ("Bad request", m.as_str())
            }
            AppError::BadPageRequest { message, page } => {
                back_href = page;
                back_label = "Open the page without these parameters";
                ("Bad request", message.as_str())
            }
            AppError::NotFound => ("Not found", "There is no page at this address."),
            AppError::Unauthenticated => {
                back_href = "/sign-in";
                back_label = "Sign in";
                ("Sign-in needed", "Sign in to open this page.")
            }
            AppError::Forbidden(m) => ("Not allowed", m.as_str()),
            AppError::MustChangePassword => {
                back_href = "/account/password";
                back_label = "Choose a new password";
                (
                    "New password needed",
                    "Choose a new password before you open other pages.",
                )
            }
            AppError::Unavailable => (
                "Database unavailable",
                "The database cannot be reached right now. The portal reconnects by itself: try again in a moment.",
            ),
            AppError::Busy => (
                "Busy",
                "Other changes to the data are being written right now; nothing of yours was stored. Send it again in a moment.",
            ),
            AppError::Internal(detail) => {
                tracing::error!("internal error: {detail}");
                (
                    "Something went wrong",
                    "The portal could not complete this request. The details are in the server log.",
                )
            }
        };
        let status = self.status_code();
        let page = ErrorPage {
            layout: Layout::page(title, ""),
            status: status.as_u16(),
            message,
            back_href,
            back_label,
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{} {}", status.as_u16(), title));
        let mut response = HttpResponse::build(status);
        if let AppError::Busy = self {
            response.insert_header((
                actix_web::http::header::RETRY_AFTER,
                RETRY_AFTER_SECONDS.to_string(),
            ));
        }
        response.content_type(ContentType::html()).body(body)
    }
}

// ---- the same errors as the JSON API answers them ----------------------

/// An error as the API answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `bad_request`, `unauthenticated`, `forbidden`,
    /// `password_change_required`, `not_found`, `method_not_allowed`,
    /// `unavailable`, `busy` (503 with `Retry-After`: send the same request
    /// again after that many seconds) or `internal`.
    pub code: &'static str,
    /// What went wrong, in a sentence for a person.
    pub message: String,
    /// The query parameter that could not be understood (400 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

/// An error as the API answers it.
pub fn error_response(e: &AppError) -> HttpResponse {
    let mut parameter = None;
    let (code, message) = match e {
        AppError::BadRequest(m) | AppError::BadPageRequest { message: m, .. } => {
            ("bad_request", m.clone())
        }
        AppError::BadParameter { param, message } => {
            parameter = Some(param.clone());
            ("bad_request", message.clone())
        }
        AppError::NotFound => ("not_found", "There is nothing at this address.".into()),
        AppError::Unauthenticated => (
            "unauthenticated",
            "Send an API key as 'Authorization: Bearer <key>', or sign in.".into(),
        ),
        AppError::Forbidden(m) => ("forbidden", m.clone()),
        AppError::MustChangePassword => (
            "password_change_required",
            "This account must choose a new password in the portal first.".into(),
        ),
        AppError::Unavailable => (
            "unavailable",
            "The database cannot be reached right now; try again in a moment.".into(),
        ),
        AppError::Busy => (
            "busy",
            format!(
                "Other changes are being written right now and this one was not stored; send it again after the Retry-After delay ({} s).",
                RETRY_AFTER_SECONDS
            ),
        ),
        AppError::Internal(detail) => {
            tracing::error!("internal error: {detail}");
            (
                "internal",
                "The request could not be completed; the details are in the server log.".into(),
            )
        }
    };
    let mut response = HttpResponse::build(e.status_code());
    if let AppError::Busy = e {
        response.insert_header((
            actix_web::http::header::RETRY_AFTER,
            RETRY_AFTER_SECONDS.to_string(),
        ));
    }
    response.json(ErrorBody {
        error: ErrorDetail {
            code,
            message,
            parameter,
        },
    })
}

/// An API error for a status outside [`AppError`]'s (415, 413, 503 for a
/// busy download budget), with its code derived from the status.
pub fn error_response_with(status: StatusCode, message: &str) -> HttpResponse {
    let code = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        _ => "bad_request",
    };
    HttpResponse::build(status).json(ErrorBody {
        error: ErrorDetail {
            code,
            message: message.to_string(),
            parameter: None,
        },
    })
}

/// A 405 for a path of the API asked with a method it does not answer.
pub fn method_not_allowed(method: &actix_web::http::Method, allow: &'static str) -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((actix_web::http::header::ALLOW, allow))
        .json(ErrorBody {
            error: ErrorDetail {
                code: "method_not_allowed",
                message: format!("This address answers {allow}, not {method}."),
                parameter: None,
            },
        })
}

// ---- Microsoft Graph's error shape (the `/graph/…` endpoints) -------------------

/// Graph's error body: `{"error": {"code", "message", "innerError"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct GraphErrorBody {
    pub error: GraphErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GraphErrorDetail {
    /// Graph's code: `BadRequest`, `Request_UnsupportedQuery`,
    /// `InvalidAuthenticationToken`, `Authorization_RequestDenied`,
    /// `Request_ResourceNotFound`, `serviceNotAvailable`, `generalException`.
    pub code: String,
    pub message: String,
    #[serde(rename = "innerError")]
    pub inner_error: InnerError,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InnerError {
    /// When the error happened (UTC, seconds).
    pub date: String,
    #[serde(rename = "request-id")]
    pub request_id: String,
    /// The caller's `client-request-id` header, else the request id.
    #[serde(rename = "client-request-id")]
    pub client_request_id: String,
}

fn client_request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_string)
}

/// An answer in Graph's error shape.
pub fn graph_error(
    headers: &HeaderMap,
    status: StatusCode,
    code: &str,
    message: &str,
) -> HttpResponse {
    let request_id = crate::db::accounts::new_id();
    let body = GraphErrorBody {
        error: GraphErrorDetail {
            code: code.to_string(),
            message: message.to_string(),
            inner_error: InnerError {
                date: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                client_request_id: client_request_id(headers).unwrap_or_else(|| request_id.clone()),
                request_id: request_id.clone(),
            },
        },
    };
    let mut response = HttpResponse::build(status).json(body);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert("request-id".parse().expect("a header name"), v);
    }
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            actix_web::http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer"),
        );
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            HeaderValue::from_static("1"),
        );
    }
    response
}

/// The portal's error in Graph's shape.
pub fn graph_error_for(headers: &HeaderMap, e: &AppError) -> HttpResponse {
    let (code, message) = match e {
        AppError::BadRequest(m)
        | AppError::BadParameter { message: m, .. }
        | AppError::BadPageRequest { message: m, .. } => ("BadRequest", m.clone()),
        AppError::NotFound => (
            "Request_ResourceNotFound",
            "Resource not found for the segment.".to_string(),
        ),
        AppError::Unauthenticated => (
            "InvalidAuthenticationToken",
            "Access token is empty or not valid: send an API key with the read scope as Authorization: Bearer.".to_string(),
        ),
        AppError::Forbidden(m) => ("Authorization_RequestDenied", m.clone()),
        AppError::MustChangePassword => (
            "Authorization_RequestDenied",
            "The account must change its password first.".to_string(),
        ),
        AppError::Unavailable | AppError::Busy => (
            "serviceNotAvailable",
            "The service is temporarily unavailable; try again shortly.".to_string(),
        ),
        AppError::Internal(_) => (
            "generalException",
            "An internal error occurred; it is in the portal's log.".to_string(),
        ),
    };
    if let AppError::Internal(detail) = e {
        tracing::error!("graph endpoint: {detail}");
    }
    graph_error(
        headers,
        actix_web::ResponseError::status_code(e),
        code,
        &message,
    )
}
