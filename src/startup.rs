//! Builds the HTTP server for `main` and for the tests alike.

use crate::web::{self, AppState};
use actix_web::dev::Server;
use actix_web::middleware::{from_fn, DefaultHeaders, NormalizePath, TrailingSlash};
use actix_web::{web as aw, App, HttpServer};
use std::net::TcpListener;

/// Every route of the portal. Each declares its own access rule on its
/// attribute (`wrap = "from_fn(auth::…)"`, see `web::auth`); the request
/// hygiene (canonical paths, no compressed bodies, HEAD) runs before routing.
pub fn routes(cfg: &mut aw::ServiceConfig) {
    cfg.service(web::overview::overview)
        .service(web::usage::usage)
        .service(web::usage::usage_csv)
        .service(web::registrations::registrations)
        .service(web::registrations::registrations_csv)
        .service(web::activity::activity)
        .service(web::activity::activity_csv)
        .service(web::reports::registration_activity)
        .service(web::reports::registration_activity_csv)
        .service(web::reports::reset_activity)
        .service(web::reports::reset_activity_csv)
        .service(web::trends::trends)
        .service(web::trends::trends_csv)
        .service(web::users::user)
        .service(web::health::healthz)
        .service(web::metrics::metrics)
        .service(web::sign_in::sign_in_page)
        .service(web::sign_in::sign_in)
        .service(web::sign_in::sign_out)
        .service(web::sign_in::password_form)
        .service(web::sign_in::change_password)
        .service(web::admin::index)
        .service(web::admin::policy_page)
        .service(web::admin::save_policy)
        .service(web::admin::set_verdict_source)
        .service(web::admin::accounts_page)
        .service(web::admin::add_account)
        .service(web::admin::set_role)
        .service(web::admin::disable_account)
        .service(web::admin::enable_account)
        .service(web::admin::reset_password)
        .service(web::admin::unlock_account)
        .service(web::admin::api_keys_page)
        .service(web::admin::create_api_key)
        .service(web::admin::revoke_api_key)
        .service(web::admin::audit_page)
        .configure(web::api::routes)
        .configure(web::graph::routes)
        .service(web::ingest::ingest)
        .service(web::imports::imports_page)
        .service(web::imports::upload)
        .service(web::imports::set_retention)
        .service(web::data_sources::data_sources_page)
        .service(web::data_sources::sync_now)
        .service(web::data_sources::set_schedule)
        .service(web::deliveries::deliveries_page)
        .service(web::deliveries::retry_now)
        // "new" before "{id}": the first route that matches answers.
        .service(web::subscriptions::new_form)
        .service(web::subscriptions::mine)
        .service(web::subscriptions::all)
        .service(web::subscriptions::create)
        .service(web::subscriptions::file)
        .service(web::subscriptions::show)
        .service(web::subscriptions::update)
        .service(web::subscriptions::run_now)
        .service(web::subscriptions::pause)
        .service(web::subscriptions::resume)
        .service(web::subscriptions::delete);
}

/// Security headers on every response: no inline script, no framing, no sniffing.
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
}

/// No route: a 404 page; under `/api/` a JSON 404, or a 405 with `Allow`
/// for a path of the API asked with another method.
async fn not_found(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    use actix_web::ResponseError;
    if req.path() == "/graph" || req.path().starts_with("/graph/") {
        return web::graph::unmatched(&req, web::api::doc::allowed_methods(req.path()));
    }
    if !req.path().starts_with("/api/") {
        return web::error::AppError::NotFound.error_response();
    }
    match web::api::doc::allowed_methods(req.path()) {
        Some(allow) => web::error::method_not_allowed(req.method(), allow),
        None => web::error::error_response(&web::error::AppError::NotFound),
    }
}

/// Starts serving on `listener` (bind port 0 for a random one in tests).
pub fn run(
    listener: TcpListener,
    state: AppState,
    workers: Option<usize>,
) -> std::io::Result<Server> {
    let static_dir = state.settings.static_dir.clone();
    let data = aw::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::imports::upload_config())
            .wrap(security_headers())
            .wrap(NormalizePath::new(TrailingSlash::Trim))
            .wrap(from_fn(web::request::hygiene))
            // Outermost: every answer is counted and logged, the hygiene's too.
            .wrap(from_fn(web::request_log::observe))
            .configure(routes)
            .service(actix_files::Files::new("/static", &static_dir))
            .default_service(
                aw::route()
                    .to(not_found)
                    .wrap(from_fn(web::auth::unmatched)),
            )
    })
    .listen(listener)?;
    if let Some(n) = workers {
        server = server.workers(n);
    }
    Ok(server.run())
}
