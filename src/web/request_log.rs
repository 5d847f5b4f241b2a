//! One middleware around the whole portal, outside every other: each
//! request gets an id (the `X-Request-Id` a proxy sent, when it is a plain
//! token, or a new one, sent back in the same header), is counted and timed
//! in the metrics by the pattern of the route it matched (`/users/{id}`,
//! never the path, so the series stay few), and is logged as one event.
//!
//! The event (target `authinsights::request`) holds the request id, the
//! method, the route pattern, the status, the time to the response's head
//! in milliseconds, and who asked: the account of a session or the name of
//! an API key. Never the path or its query (a user id, a search), a cookie,
//! a header's value, a token or a password. It is logged at `info` when the
//! logs are JSON (for a log pipeline) and at `debug` in the plain-text
//! default, so that a console is not flooded (see docs/operations.md).

use super::auth::Principal;
use super::AppState;
use crate::config::LogFormat;
use crate::metrics::{HttpLabels, UNMATCHED};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest};
use std::collections::HashSet;
use std::sync::{LazyLock, RwLock};
use std::time::{Duration, Instant};

/// The header that carries a request's id, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a client.
const MAX_ID_LEN: usize = 64;

/// The middleware: see the module documentation.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    // Before the routes run: HEAD is answered as GET inside.
    let method = method_label(req.method());
    let id = request_id(req.headers());
    let mut response = match next.call(req).await {
        Ok(response) => response.map_into_boxed_body(),
        Err(e) => {
            // The request went with the error: no route or state to name.
            let status = e.as_response_error().status_code().as_u16();
            log(
                &id,
                method,
                UNMATCHED,
                status,
                started.elapsed(),
                None,
                false,
            );
            return Err(e);
        }
    };
    let took = started.elapsed();
    let request = response.request();
    let route = route_label(request);
    let status = response.status().as_u16();
    let json = match request.app_data::<web::Data<AppState>>() {
        Some(state) => {
            state.metrics.request(
                &HttpLabels {
                    route,
                    method,
                    status,
                },
                took,
            );
            state.settings.log_format == LogFormat::Json
        }
        None => false,
    };
    log(
        &id,
        method,
        route,
        status,
        took,
        request.extensions().get::<Principal>(),
        json,
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

/// The request's id: the client's (or its proxy's) when it is a plain
/// token of at most 64 letters, digits, `-`, `_` and `.`; else a new random one.
fn request_id(headers: &HeaderMap) -> String {
    let given = headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= MAX_ID_LEN
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    match given {
        Some(id) => id.to_string(),
        None => format!("{:016x}", rand::random::<u64>()),
    }
}

/// A method as a label: one of the standard ones, else `other` (a client
/// cannot make new series by inventing methods).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The route patterns seen so far, each kept once for the life of the
/// process: the router only ever names the portal's own routes, so there
/// are a few dozen of them.
static ROUTES: LazyLock<RwLock<HashSet<&'static str>>> = LazyLock::new(Default::default);

/// The pattern of the route the router matched, as a label.
fn route_label(request: &HttpRequest) -> &'static str {
    let Some(pattern) = request.match_pattern() else {
        return UNMATCHED;
    };
    let known = ROUTES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(pattern.as_str())
        .copied();
    if let Some(route) = known {
        return route;
    }
    let mut routes = ROUTES.write().unwrap_or_else(|e| e.into_inner());
    match routes.get(pattern.as_str()) {
        Some(route) => route,
        None => {
            let route: &'static str = Box::leak(pattern.into_boxed_str());
            routes.insert(route);
            route
        }
    }
}

/// Logs one request: see the module documentation.
fn log(
    id: &str,
    method: &str,
    route: &str,
    status: u16,
    took: Duration,
    principal: Option<&Principal>,
    info: bool,
) {
    let (account, api_key) = match principal {
        Some(Principal::Session(viewer)) => (Some(viewer.username.as_str()), None),
        Some(Principal::Key(key)) => (None, Some(key.name.as_str())),
        None => (None, None),
    };
    // To the microsecond: 1.617, not 1.6166710000000002.
    let duration_ms = took.as_micros() as f64 / 1000.0;
    macro_rules! event {
        ($level:expr) => {
            tracing::event!(
                target: "authinsights::request",
                $level,
                request_id = id,
                method,
                route,
                status,
                duration_ms,
                account,
                api_key,
                "request"
            )
        };
    }
    if info {
        event!(tracing::Level::INFO);
    } else {
        event!(tracing::Level::DEBUG);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_request_id_is_kept_and_anything_else_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_static("proxy-1.a_b"));
        assert_eq!(request_id(&headers), "proxy-1.a_b");
        for bad in ["", "a b", "a\"b", "x=1;y", &"a".repeat(65)] {
            headers.insert(REQUEST_ID, HeaderValue::from_str(bad).unwrap());
            let id = request_id(&headers);
            assert_ne!(id, bad);
            assert_eq!(id.len(), 16, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        }
        assert_ne!(request_id(&HeaderMap::new()), request_id(&HeaderMap::new()));
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        let odd = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "other");
    }
}
