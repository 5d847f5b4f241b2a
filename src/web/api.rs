//! `/api/v1/`: JSON for scripts. Errors are JSON too: `{"error": {"code", "message"}}`.

use super::auth::Principal;
use super::error::AppError;
use actix_web::{get, HttpResponse, ResponseError};
use serde::Serialize;

/// An error as the API answers it.
pub fn error_response(e: &AppError) -> HttpResponse {
    let (code, message) = match e {
        AppError::BadRequest(m) | AppError::BadPageRequest { message: m, .. } => {
            ("bad_request", m.clone())
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
        AppError::Internal(detail) => {
            tracing::error!("internal error: {detail}");
            (
                "internal",
                "The request could not be completed; the details are in the server log.".into(),
            )
        }
    };
    HttpResponse::build(e.status_code()).json(serde_json::json!({
        "error": { "code": code, "message": message }
    }))
}

/// Who the API sees: lets a script check its key before it does real work.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Me {
    kind: &'static str,
    name: String,
    role: Option<&'static str>,
    scopes: Vec<&'static str>,
}

#[get("/api/v1/me")]
pub async fn me(principal: Principal) -> HttpResponse {
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
    HttpResponse::Ok().json(me)
}
