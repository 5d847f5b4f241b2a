//! Sign-in, sign-out and changing one's own password.

use super::auth::{
    client_address, cookie, csrf_form, password_location, presented_session, removal, safe_next,
    Protected, TokenOnly, Viewer, SESSION_COOKIE, SIGN_IN_COOKIE,
};
use super::error::{AppError, AppResult};
use super::layout::Layout;
use super::AppState;
use crate::accounts::{self, new_token, secrets_match, verify_password_or_dummy};
use crate::config::SecuritySettings;
use crate::service::sessions::{self as sessions_service, Attempt, SignInRequest};
use crate::service::ServiceError;
use crate::web::auth;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::from_fn;
use actix_web::{get, post, routes, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    layout: Layout,
    csrf: String,
    next: String,
    username: String,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    expired: Option<String>,
    signed_out: Option<String>,
}

/// Renders the sign-in form with a double-submit token (new if the browser has none).
fn sign_in_form(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    next: &str,
    username: &str,
    notice: Option<&'static str>,
    error: Option<String>,
) -> AppResult<HttpResponse> {
    let existing = req.cookie(SIGN_IN_COOKIE).map(|c| c.value().to_string());
    let csrf = existing.clone().unwrap_or_else(new_token);
    let page = SignInPage {
        layout: Layout::bare("Sign in"),
        csrf: csrf.clone(),
        next: next.to_string(),
        username: username.to_string(),
        notice,
        error,
    };
    let mut response = HttpResponse::build(status);
    response
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if existing.is_none() {
        response.cookie(cookie(req, state, SIGN_IN_COOKIE, csrf));
    }
    Ok(response.body(page.render()?))
}

/// `/login` is the name other tools rely on.
#[routes]
#[get("/sign-in", wrap = "from_fn(auth::public)")]
#[get("/login", wrap = "from_fn(auth::public)")]
pub async fn sign_in_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<SignInQuery>,
) -> AppResult<HttpResponse> {
    let notice = if query.expired.is_some() {
        Some("Your session has ended. Sign in again to continue.")
    } else if query.signed_out.is_some() {
        Some("You have signed out.")
    } else {
        None
    };
    let next = safe_next(query.next.as_deref());
    sign_in_form(&req, &state, StatusCode::OK, &next, "", notice, None)
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf: String,
}

#[routes]
#[post("/sign-in", wrap = "from_fn(auth::public)")]
#[post("/login", wrap = "from_fn(auth::public)")]
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignInForm>,
) -> AppResult<HttpResponse> {
    let form = form.into_inner();
    let next = safe_next(Some(&form.next));
    let expected = req.cookie(SIGN_IN_COOKIE).map(|c| c.value().to_string());
    if !expected.is_some_and(|t| secrets_match(&t, &form.csrf)) {
        return sign_in_form(
            &req,
            &state,
            StatusCode::FORBIDDEN,
            &next,
            &form.username,
            None,
            Some(
                "The sign-in form had expired or did not come from this portal. Sign in again."
                    .into(),
            ),
        );
    }
    let settings = state.settings.security.clone();
    let address = client_address(&req, settings.trust_forwarded_for);
    let presented = presented_session(&req);
    let username = form.username.trim().to_string();
    let request = SignInRequest {
        username: username.clone(),
        address,
        presented,
    };
    let attempt = sign_in_attempt(&state, request, form.password, settings).await?;
    let (status, error) = match attempt {
        Attempt::SignedIn { token, must_change } => {
            let location = if must_change {
                password_location(&next)
            } else {
                next
            };
            return Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .cookie(cookie(&req, &state, SESSION_COOKIE, token))
                .cookie(removal(SIGN_IN_COOKIE))
                .finish());
        }
        Attempt::Refused => (
            StatusCode::UNAUTHORIZED,
            "The account name or password is wrong.".to_string(),
        ),
        Attempt::AccountLocked(until) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many failed sign-ins for this account: it is locked until {} UTC. Try again then, or ask a Global Administrator to unlock it.",
                until.format("%Y-%m-%d %H:%M:%S")
            ),
        ),
        Attempt::AddressBlocked(until) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many failed sign-ins from your network address: sign-in from it is blocked until {} UTC.",
                until.format("%Y-%m-%d %H:%M:%S")
            ),
        ),
    };
    sign_in_form(&req, &state, status, &next, &username, None, Some(error))
}

/// One sign-in: reserves an attempt of the address and of the account
/// (refused at once when either is locked), checks the password on a
/// blocking thread without holding a database connection, then settles it.
async fn sign_in_attempt(
    state: &AppState,
    request: SignInRequest,
    password: String,
    settings: SecuritySettings,
) -> AppResult<Attempt> {
    let now = Utc::now().naive_utc();
    let (asked, limits) = (request.clone(), settings.clone());
    let reserved = state
        .db(move |conn| Ok(sessions_service::reserve(conn, &asked, &limits, now)?))
        .await?;
    let reserved = match reserved {
        Ok(r) => r,
        Err(refused) => return Ok(refused),
    };
    let hash = reserved.password_hash();
    let password_ok = web::block(move || verify_password_or_dummy(&password, hash.as_deref()))
        .await
        .map_err(|e| AppError::Internal(format!("checking a password: {e}")))?;
    state
        .db(move |conn| {
            Ok(sessions_service::settle(
                conn,
                &request,
                reserved,
                password_ok,
                &settings,
                now,
            )?)
        })
        .await
}

#[routes]
#[post("/sign-out", wrap = "from_fn(auth::signed)")]
#[post("/logout", wrap = "from_fn(auth::signed)")]
pub async fn sign_out(
    state: web::Data<AppState>,
    viewer: Viewer,
    _form: Protected<TokenOnly>,
) -> AppResult<HttpResponse> {
    let session = viewer.session.clone();
    state
        .db(move |conn| Ok(sessions_service::sign_out(conn, &session)?))
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/sign-in?signed_out=1"))
        .cookie(removal(SESSION_COOKIE))
        .finish())
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    layout: Layout,
    csrf: String,
    username: String,
    must_change: bool,
    /// Where to go once the password is changed (a local path).
    next: String,
    error: Option<String>,
}

fn password_page(
    viewer: &Viewer,
    status: StatusCode,
    next: &str,
    error: Option<String>,
) -> AppResult<HttpResponse> {
    let layout = if viewer.must_change_password {
        let mut layout = Layout::bare("Choose a new password").signed(viewer);
        layout.flash = None;
        layout
    } else {
        Layout::page("Change password", "").signed(viewer)
    };
    let page = PasswordPage {
        layout,
        csrf: viewer.csrf.clone(),
        username: viewer.username.clone(),
        must_change: viewer.must_change_password,
        next: next.to_string(),
        error,
    };
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[get("/account/password", wrap = "from_fn(auth::signed)")]
pub async fn password_form(
    viewer: Viewer,
    query: web::Query<NextQuery>,
) -> AppResult<HttpResponse> {
    password_page(
        &viewer,
        StatusCode::OK,
        &safe_next(query.next.as_deref()),
        None,
    )
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
    #[serde(default)]
    next: String,
}

#[post("/account/password", wrap = "from_fn(auth::signed)")]
pub async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    form: Protected<PasswordForm>,
) -> AppResult<HttpResponse> {
    let form = form.0;
    let next = safe_next(Some(&form.next));
    let problem = if form.new != form.repeat {
        Some("The two new passwords differ.".to_string())
    } else if form.new == form.current {
        Some("The new password must differ from the current one.".to_string())
    } else {
        accounts::validate_password(&form.new, &[&viewer.username])
            .err()
            .map(|e| format!("The new password is too weak: {e}."))
    };
    if let Some(problem) = problem {
        return password_page(&viewer, StatusCode::BAD_REQUEST, &next, Some(problem));
    }
    let address = client_address(&req, state.settings.security.trust_forwarded_for);
    let account_id = viewer.account_id.clone();
    let token = state
        .db(move |conn| {
            let change = sessions_service::PasswordChange {
                account_id: &account_id,
                current: &form.current,
                new: &form.new,
                address: &address,
            };
            match sessions_service::change_password(conn, change) {
                Ok(token) => Ok(token),
                Err(ServiceError::Database(e)) => Err(e.into()),
                Err(ServiceError::Refused(why)) => Err(AppError::Internal(why)),
            }
        })
        .await?;
    match token {
        None => password_page(
            &viewer,
            StatusCode::BAD_REQUEST,
            &next,
            Some("The current password is wrong.".into()),
        ),
        Some(token) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, next))
            .cookie(cookie(&req, &state, SESSION_COOKIE, token))
            .finish()),
    }
}

csrf_form!(PasswordForm);
