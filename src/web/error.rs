//! The one error type of the web layer. Each variant knows its status and
//! renders the error page; internals are logged, never shown.

use super::layout::Layout;
use actix_web::http::{header::ContentType, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use std::fmt;

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
