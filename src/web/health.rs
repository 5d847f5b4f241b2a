//! `/healthz`: 200 when the database answers, 503 when it does not. No sign-in, no data.

use super::AppState;
use crate::web::auth;
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpResponse};

#[get("/healthz", wrap = "from_fn(auth::public)")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let answered = state
        .db(|conn| crate::db::ping(conn).map_err(super::error::AppError::from))
        .await;
    match answered {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ok\n"),
        Err(_) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("database unavailable\n"),
    }
}
