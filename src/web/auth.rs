//! Who is asking, and may they: the session or API key of every request, the
//! access rule of every route, CSRF tokens, and the session cookie.
//!
//! Each route declares who may use it on its own attribute
//! (`#[get("/admin/policy", wrap = "from_fn(auth::admin)")]`), so the rule is
//! applied to the resource the router matched, never to the raw path of the
//! request: `/%61dmin/policy` and `/admin/policy` are one route with one rule.
//! A test reads every route attribute of the source and fails on one that
//! declares no rule. Handlers that change anything also take the [`Admin`]
//! extractor (or check the key's scope) and a [`Protected`] form.

use super::error::{AppError, AppResult};
pub use super::principal::{KeyHolder, Principal, Viewer};
use super::AppState;
use crate::accounts::{secrets_match, token_hash, Role};
use crate::config::SecureCookies;
use crate::db::{api_keys, sessions};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use chrono::{Duration, Utc};
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;

/// The session cookie: a random token whose SHA-256 names a `sessions` row.
pub const SESSION_COOKIE: &str = "ai_session";
/// The sign-in form's double-submit token (there is no session to hold one yet).
pub const SIGN_IN_COOKIE: &str = "ai_sign_in";
/// A session used less than this long ago is not written back on every request.
const TOUCH_INTERVAL: i64 = 60;

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any signed-in account, even one that must change its password first.
    Signed,
    /// The four roles that read reports (and API keys with the read scope).
    Reader,
    /// Global Administrators only.
    Admin,
    /// Live ingest: API keys with the ingest scope.
    Ingest,
    /// API keys with the read scope, and no session (`/metrics`, read by a
    /// machine, with nothing to show a person).
    KeyReader,
}

/// A route's rule: who, and whether it answers as the API (JSON errors, API
/// keys accepted) or as a page (sign-in redirects, error pages, CSRF origin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub access: Access,
    pub api: bool,
}

/// Declares a route guard: a middleware function (for `from_fn`) that
/// applies one [`Rule`].
macro_rules! route_guard {
    ($(#[$doc:meta])* $name:ident, $access:ident, api: $api:literal) => {
        $(#[$doc])*
        pub async fn $name(
            req: ServiceRequest,
            next: Next<impl MessageBody + 'static>,
        ) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
            let rule = Rule {
                access: Access::$access,
                api: $api,
            };
            guard(rule, req, next).await
        }
    };
}

route_guard!(
    /// Pages any signed-in account may open (`/account/password`, sign-out).
    signed, Signed, api: false
);
route_guard!(
    /// Report pages and downloads.
    reader, Reader, api: false
);
route_guard!(
    /// Admin pages and forms.
    admin, Admin, api: false
);
route_guard!(
    /// API resources any caller may read (`/api/v1/me`, the OpenAPI document).
    api_signed, Signed, api: true
);
route_guard!(
    /// API resources with report data.
    api_reader, Reader, api: true
);
route_guard!(
    /// Live ingest.
    api_ingest, Ingest, api: true
);
route_guard!(
    /// The Graph-compatible endpoints (`/graph/…`): as the API, with
    /// Graph's error body.
    graph_reader, Reader, api: true
);
route_guard!(
    /// The metrics: an API key with the read scope; a session is not asked.
    key_reader, KeyReader, api: true
);

/// Routes anyone may use (sign-in, health). Declared like the others, so
/// that a route without any rule stands out.
pub async fn public(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// The rule of an address no route matched: it needs a reader, so an unknown
/// path tells an anonymous client nothing (it goes to sign-in, or gets a 401
/// under `/api/`). Whatever it allows, the answer is only a 404 or a 405.
pub async fn unmatched(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let api = is_api(req.path());
    guard(
        Rule {
            access: Access::Reader,
            api,
        },
        req,
        next,
    )
    .await
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || is_graph(path)
}

/// Under `/graph/`, errors take Microsoft Graph's shape.
fn is_graph(path: &str) -> bool {
    path == "/graph" || path.starts_with("/graph/")
}

/// Establishes the principal and applies the route's rule.
async fn guard(
    rule: Rule,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let api = rule.api;
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(req.error_response(AppError::Internal("no application state".into())));
    };
    let trust = state.settings.security.trust_forwarded_for;
    if !api && !is_safe(req.method()) && !same_origin(req.request(), trust) {
        let e =
            AppError::Forbidden("This form was sent from another site, so it was refused.".into());
        return Ok(req.error_response(e));
    }
    let found = if api && bearer(req.request()).is_some() {
        key_principal(&state, req.request()).await
    } else if rule.access == Access::KeyReader {
        Ok(Found::Nobody { expired: false })
    } else {
        session_principal(&state, req.request()).await
    };
    let principal = match found {
        Ok(Found::Principal(p)) => p,
        Ok(Found::Nobody { expired }) => {
            let response = if is_graph(req.path()) {
                super::error::graph_error_for(req.headers(), &AppError::Unauthenticated)
            } else if api {
                api_unauthenticated()
            } else {
                to_sign_in(req.request(), expired)
            };
            return Ok(req.into_response(response));
        }
        Err(e) => return Ok(refuse(req, e, api)),
    };
    if let Err(e) = allowed(&principal, rule, req.method()) {
        if let (AppError::MustChangePassword, false) = (&e, api) {
            let next = requested_page(req.request()).unwrap_or_else(|| "/".into());
            return Ok(req.into_response(redirect(&password_location(&next))));
        }
        return Ok(refuse(req, e, api));
    }
    let https = is_https(req.request(), trust);
    req.extensions_mut().insert(principal);
    let mut response = next.call(req).await?.map_into_boxed_body();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    Ok(response)
}

/// An error page, or the API's JSON error.
fn refuse(req: ServiceRequest, e: AppError, api: bool) -> ServiceResponse<BoxBody> {
    if is_graph(req.path()) {
        let response = super::error::graph_error_for(req.headers(), &e);
        req.into_response(response)
    } else if api {
        let response = super::error::error_response(&e);
        req.into_response(response)
    } else {
        req.error_response(e)
    }
}

enum Found {
    Principal(Principal),
    Nobody { expired: bool },
}

fn allowed(principal: &Principal, rule: Rule, method: &Method) -> AppResult<()> {
    let Rule { access, api } = rule;
    match principal {
        Principal::Key(key) => {
            if !api {
                return Err(AppError::Forbidden(
                    "API keys open the API only; sign in to use the pages.".into(),
                ));
            }
            match access {
                Access::Signed => Ok(()),
                Access::Reader | Access::KeyReader if key.can_read => Ok(()),
                Access::Reader | Access::KeyReader => Err(AppError::Forbidden(format!(
                    "The API key '{}' has no read scope.",
                    key.name
                ))),
                Access::Admin => Err(AppError::Forbidden(
                    "API keys cannot change the portal's settings.".into(),
                )),
                Access::Ingest if key.can_ingest => Ok(()),
                Access::Ingest => Err(AppError::Forbidden(format!(
                    "The API key '{}' has no ingest scope.",
                    key.name
                ))),
            }
        }
        Principal::Session(viewer) => {
            if access == Access::KeyReader {
                return Err(AppError::Forbidden(
                    "This needs an API key with the read scope (Authorization: Bearer).".into(),
                ));
            }
            if access == Access::Ingest || (api && !is_safe(method)) {
                return Err(AppError::Forbidden(
                    "Changes through the API need an API key (Authorization: Bearer), not a session."
                        .into(),
                ));
            }
            if viewer.must_change_password && access != Access::Signed {
                return Err(AppError::MustChangePassword);
            }
            match access {
                Access::Admin if !viewer.is_admin() => Err(AppError::Forbidden(format!(
                    "Only a Global Administrator can open this page; you are signed in as a {}.",
                    viewer.role
                ))),
                _ => Ok(()),
            }
        }
    }
}

async fn session_principal(state: &AppState, req: &HttpRequest) -> AppResult<Found> {
    let Some(token) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string()) else {
        return Ok(Found::Nobody { expired: false });
    };
    let settings = state.settings.security.clone();
    let clear_flash = req.method() == Method::GET && !req.path().ends_with(".csv");
    state
        .db(move |conn| {
            let now = Utc::now().naive_utc();
            let Some((session, account)) = sessions::find_session(conn, &token)? else {
                return Ok(Found::Nobody { expired: true });
            };
            let role = Role::from_key(&account.role);
            let stale = now - session.last_seen_at > settings.session_idle
                || now - session.created_at > settings.session_absolute;
            let (Some(role), false, false) = (role, stale, account.disabled) else {
                sessions::delete_session(conn, &session.token_hash)?;
                return Ok(Found::Nobody { expired: true });
            };
            let flash = session.flash.clone().filter(|_| clear_flash);
            if now - session.last_seen_at >= Duration::seconds(TOUCH_INTERVAL) || flash.is_some() {
                sessions::touch_session(conn, &session.token_hash, now, flash.is_some())?;
            }
            Ok(Found::Principal(Principal::Session(Viewer {
                account_id: account.id,
                username: account.username,
                role,
                must_change_password: account.must_change_password,
                session: session.token_hash,
                csrf: session.csrf_token,
                flash,
            })))
        })
        .await
}

async fn key_principal(state: &AppState, req: &HttpRequest) -> AppResult<Found> {
    let secret = bearer(req).unwrap_or_default().to_string();
    state
        .db(move |conn| {
            let key = api_keys::authenticate(conn, &secret, Utc::now().naive_utc())?;
            Ok(match key {
                Some(k) => Found::Principal(Principal::Key(KeyHolder {
                    id: k.id,
                    name: k.name,
                    can_read: k.can_read,
                    can_ingest: k.can_ingest,
                })),
                None => Found::Nobody { expired: false },
            })
        })
        .await
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A state-changing request must come from a page of this portal: its
/// `Origin` (when the browser sends one) names this scheme, host and port,
/// and the browser does not call it cross-site. The CSRF token is checked as
/// well, by [`Protected`].
fn same_origin(req: &HttpRequest, trust_proxy: bool) -> bool {
    let site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok());
    if site == Some("cross-site") {
        return false;
    }
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    let (scheme, host) = this_origin(req, trust_proxy);
    let Some(origin) = origin.to_str().ok().and_then(|o| url::Url::parse(o).ok()) else {
        return false;
    };
    let Some(origin_host) = origin.host_str() else {
        return false;
    };
    let origin_authority = match origin.port() {
        Some(p) => format!("{origin_host}:{p}"),
        None => origin_host.to_string(),
    };
    origin.scheme().eq_ignore_ascii_case(&scheme)
        && origin_authority.eq_ignore_ascii_case(&without_default_port(&host, &scheme))
}

/// `host:80` over http and `host:443` over https are `host`, as browsers
/// write them in `Origin`.
fn without_default_port(host: &str, scheme: &str) -> String {
    let default = if scheme == "https" { ":443" } else { ":80" };
    host.strip_suffix(default).unwrap_or(host).to_string()
}

/// The scheme and host the client used to reach the portal. A proxy's
/// `Forwarded` / `X-Forwarded-Proto` / `X-Forwarded-Host` count only when
/// the portal is told it stands behind one (`--trust-forwarded-for`);
/// otherwise any client could claim HTTPS or another host. The portal itself
/// speaks plain HTTP.
pub fn this_origin(req: &HttpRequest, trust_proxy: bool) -> (String, String) {
    if trust_proxy {
        let info = req.connection_info();
        return (info.scheme().to_string(), info.host().to_string());
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| req.app_config().host().to_string());
    ("http".to_string(), host)
}

fn is_https(req: &HttpRequest, trust_proxy: bool) -> bool {
    this_origin(req, trust_proxy).0 == "https"
}

/// The client address for throttling: the connection's peer, or the first
/// `X-Forwarded-For` address when configured to trust a proxy.
pub fn client_address(req: &HttpRequest, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for {
        if let Some(ip) = req.connection_info().realip_remote_addr() {
            return strip_port(ip).to_string();
        }
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn strip_port(addr: &str) -> &str {
    match addr.parse::<std::net::SocketAddr>() {
        Ok(_) => addr.rsplit_once(':').map_or(addr, |(h, _)| h),
        Err(_) => addr,
    }
}

fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Sends a page request to sign-in, remembering the page to come back to.
/// The page a GET asked for (path and query), to return to after signing
/// in or changing a password; `None` for other methods.
fn requested_page(req: &HttpRequest) -> Option<String> {
    (req.method() == Method::GET).then(|| match req.query_string() {
        "" => req.path().to_string(),
        q => format!("{}?{q}", req.path()),
    })
}

/// The password change page, which leads on to `next` (a [`safe_next`]
/// path) once the password is changed.
pub fn password_location(next: &str) -> String {
    if next == "/" {
        "/account/password".into()
    } else {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("next", next)
            .finish();
        format!("/account/password?{query}")
    }
}

fn to_sign_in(req: &HttpRequest, expired: bool) -> HttpResponse {
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    if let Some(back) = requested_page(req).filter(|b| b != "/") {
        pairs.append_pair("next", &back);
    }
    if expired {
        pairs.append_pair("expired", "1");
    }
    let query = pairs.finish();
    let location = if query.is_empty() {
        "/sign-in".to_string()
    } else {
        format!("/sign-in?{query}")
    };
    let mut response = redirect(&location);
    if expired {
        let _ = response.add_cookie(&removal(SESSION_COOKIE));
    }
    response
}

fn api_unauthenticated() -> HttpResponse {
    let mut response = super::error::error_response(&AppError::Unauthenticated);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Where to go after sign-in: a path of this portal, never another site.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next.map(str::trim).filter(|n| !n.is_empty()) else {
        return "/".into();
    };
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    let sign_in_pages = ["/sign-in", "/sign-out", "/login", "/logout"];
    if local && !sign_in_pages.iter().any(|p| next.starts_with(p)) {
        next.to_string()
    } else {
        "/".into()
    }
}

/// A cookie of this portal: HttpOnly, SameSite=Lax, Secure as configured.
pub fn cookie(req: &HttpRequest, state: &AppState, name: &str, value: String) -> Cookie<'static> {
    let secure = match state.settings.security.secure_cookies {
        SecureCookies::Always => true,
        SecureCookies::Never => false,
        SecureCookies::Auto => is_https(req, state.settings.security.trust_forwarded_for),
    };
    Cookie::build(name.to_string(), value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish()
}

/// A cookie that deletes `name` in the browser.
pub fn removal(name: &str) -> Cookie<'static> {
    Cookie::build(name.to_string(), "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::ZERO)
        .finish()
}

/// The session key a cookie token would have, for ending the old session at sign-in.
pub fn presented_session(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| token_hash(c.value()))
}

impl FromRequest for Viewer {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(match req.extensions().get::<Principal>() {
            Some(Principal::Session(v)) => Ok(v.clone()),
            Some(Principal::Key(_)) => Err(AppError::Forbidden(
                "API keys open the API only; sign in to use the pages.".into(),
            )),
            None => Err(AppError::Unauthenticated),
        })
    }
}

impl FromRequest for Principal {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<Principal>()
                .cloned()
                .ok_or(AppError::Unauthenticated),
        )
    }
}

/// A signed-in Global Administrator; anyone else gets a 403.
#[derive(Debug, Clone)]
pub struct Admin(pub Viewer);

impl FromRequest for Admin {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let viewer = match Viewer::from_request(req, payload).into_inner() {
            Ok(v) => v,
            Err(e) => return std::future::ready(Err(e)),
        };
        std::future::ready(if viewer.is_admin() {
            Ok(Admin(viewer))
        } else {
            Err(AppError::Forbidden(format!(
                "Only a Global Administrator can do this; you are signed in as a {}.",
                viewer.role
            )))
        })
    }
}

/// A form that carries the session's CSRF token in a `csrf` field.
pub trait CsrfForm {
    fn csrf(&self) -> &str;
}

/// Implements [`CsrfForm`] for form structs with a `csrf: String` field.
macro_rules! csrf_form {
    ($($form:ty),+ $(,)?) => {
        $(impl $crate::web::auth::CsrfForm for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}
pub(crate) use csrf_form;

/// A form that carries nothing but the CSRF token (sign-out, revoke, …).
#[derive(serde::Deserialize)]
pub struct TokenOnly {
    #[serde(default)]
    pub csrf: String,
}

csrf_form!(TokenOnly);

/// A state-changing form, accepted only with the session's CSRF token.
pub struct Protected<T>(pub T);

impl<T: DeserializeOwned + CsrfForm + 'static> FromRequest for Protected<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let viewer = Viewer::from_request(req, payload).into_inner();
        let form = web::Form::<T>::from_request(req, payload);
        Box::pin(async move {
            let viewer = viewer?;
            let form = form
                .await
                .map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}.")))?;
            if !secrets_match(form.csrf(), &viewer.csrf) {
                return Err(csrf_refused());
            }
            Ok(Protected(form.into_inner()))
        })
    }
}

/// The refusal of a form without this session's token.
pub fn csrf_refused() -> AppError {
    AppError::Forbidden(
        "This form has expired or did not come from this portal (its security token is missing or wrong). Open the page again and resubmit."
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_portal() {
        assert_eq!(
            safe_next(Some("/registrations?capable=no")),
            "/registrations?capable=no"
        );
        assert_eq!(safe_next(None), "/");
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "/sign-in?next=//evil",
            "/a\r\nLocation: //evil",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
    }

    #[test]
    fn forwarded_addresses_lose_their_port() {
        assert_eq!(strip_port("10.0.0.1:5555"), "10.0.0.1");
        assert_eq!(strip_port("10.0.0.1"), "10.0.0.1");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("::1"), "::1");
    }
}
