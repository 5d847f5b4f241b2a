//! Sign-in, sign-out and changing one's own password.

use super::auth::{
    client_address, cookie, csrf_form, password_location, presented_session, removal, safe_next,
    Protected, Viewer, SESSION_COOKIE, SIGN_IN_COOKIE,
};
use super::error::{AppError, AppResult};
use super::layout::Layout;
use super::AppState;
use crate::accounts::{self, new_token, secrets_match, verify_password_or_dummy};
use crate::config::SecuritySettings;
use crate::db::{self, audit, sessions, throttle, DbConnection};
use crate::web::auth;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::from_fn;
use actix_web::{get, post, routes, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
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

/// `/login` is the name DESIGN.md's interface contract gives other tools.
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

/// What a sign-in attempt came to.
enum Attempt {
    SignedIn { token: String, must_change: bool },
    Refused,
    AccountLocked(NaiveDateTime),
    AddressBlocked(NaiveDateTime),
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
    let attempt = sign_in_attempt(
        &state,
        username.clone(),
        form.password,
        address,
        settings,
        presented,
    )
    .await?;
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

/// The attempts a sign-in holds while its password is checked.
struct Reserved {
    account: throttle::Reservation,
    address: throttle::Reservation,
}

/// One sign-in: reserves an attempt of the address and of the account
/// (refusing at once when either is locked), checks the password on a
/// blocking thread without holding a database connection, then opens a
/// session (giving the attempts back) or leaves the attempts counted as
/// failures, auditing a lock this attempt set.
async fn sign_in_attempt(
    state: &AppState,
    username: String,
    password: String,
    address: String,
    settings: SecuritySettings,
    presented: Option<String>,
) -> AppResult<Attempt> {
    let now = Utc::now().naive_utc();
    let account_subject = throttle::account_subject(&username);
    let address_subject = throttle::address_subject(&address);
    let limits = |max_failures| throttle::Limits {
        max_failures,
        window: settings.failure_window,
        lock: settings.lock,
    };
    let (account_limits, address_limits) = (
        limits(settings.account_failures),
        limits(settings.address_failures),
    );
    let (subjects, name) = (
        (account_subject.clone(), address_subject.clone()),
        username.clone(),
    );
    let reserved = state
        .db(move |conn| {
            let (account_subject, address_subject) = subjects;
            let address = throttle::reserve(conn, &address_subject, address_limits, now)?;
            if let throttle::Reservation::Locked(until) = address {
                return Ok(Err(Attempt::AddressBlocked(until)));
            }
            let account = throttle::reserve(conn, &account_subject, account_limits, now)?;
            if let throttle::Reservation::Locked(until) = account {
                throttle::release(conn, &address_subject, address)?;
                return Ok(Err(Attempt::AccountLocked(until)));
            }
            let found = db::accounts::find_by_username(conn, &name)?;
            Ok(Ok((Reserved { account, address }, found)))
        })
        .await?;
    let (reserved, account) = match reserved {
        Ok(r) => r,
        Err(refused) => return Ok(refused),
    };
    let hash = account.as_ref().map(|a| a.password_hash.clone());
    let password_ok = web::block(move || verify_password_or_dummy(&password, hash.as_deref()))
        .await
        .map_err(|e| AppError::Internal(format!("checking a password: {e}")))?;
    state
        .db(move |conn| {
            Ok(settle(
                conn,
                SettleInput {
                    username: &username,
                    account,
                    password_ok,
                    reserved,
                    account_subject: &account_subject,
                    address_subject: &address_subject,
                    address: &address,
                    settings: &settings,
                    presented,
                    now,
                },
            )?)
        })
        .await
}

struct SettleInput<'a> {
    username: &'a str,
    account: Option<db::models::Account>,
    password_ok: bool,
    reserved: Reserved,
    account_subject: &'a str,
    address_subject: &'a str,
    address: &'a str,
    settings: &'a SecuritySettings,
    presented: Option<String>,
    now: NaiveDateTime,
}

/// What a checked password comes to: a new session, or a counted failure.
fn settle(conn: &mut DbConnection, input: SettleInput<'_>) -> QueryResult<Attempt> {
    let SettleInput {
        username,
        account,
        password_ok,
        reserved,
        account_subject,
        address_subject,
        address,
        settings,
        presented,
        now,
    } = input;
    let account = match account {
        Some(a) if password_ok && !a.disabled => a,
        other => {
            if other.as_ref().is_some_and(|a| a.disabled && password_ok) {
                audit::record(
                    conn,
                    username,
                    "sign-in refused",
                    username,
                    "the account is disabled",
                )?;
            }
            if let throttle::Reservation::Granted { locks: Some(until) } = reserved.account {
                audit::record(
                    conn,
                    username,
                    "account locked",
                    username,
                    &format!(
                        "{} failed sign-ins, the last from {address}; locked until {} UTC",
                        settings.account_failures,
                        until.format("%Y-%m-%d %H:%M:%S")
                    ),
                )?;
                return Ok(Attempt::AccountLocked(until));
            }
            if let throttle::Reservation::Granted { locks: Some(until) } = reserved.address {
                audit::record(
                    conn,
                    address,
                    "address blocked",
                    address,
                    &format!(
                        "{} failed sign-ins from this address; blocked until {} UTC",
                        settings.address_failures,
                        until.format("%Y-%m-%d %H:%M:%S")
                    ),
                )?;
                return Ok(Attempt::AddressBlocked(until));
            }
            return Ok(Attempt::Refused);
        }
    };
    // The account's row first, as every change of accounts does, so a
    // sign-in and an administrator's change of the account cannot wait for
    // each other in opposite orders.
    conn.transaction(|conn| {
        db::accounts::record_sign_in(conn, &account.id, now)?;
        throttle::clear(conn, account_subject)?;
        throttle::release(conn, address_subject, reserved.address)?;
        if let Some(old) = presented {
            sessions::delete_session(conn, &old)?;
        }
        sessions::purge_expired(
            conn,
            now - settings.session_idle,
            now - settings.session_absolute,
        )?;
        throttle::purge_stale(conn, now, settings.failure_window)?;
        let session = sessions::create_session(conn, &account.id, address, now)?;
        Ok(Attempt::SignedIn {
            token: session.token,
            must_change: account.must_change_password,
        })
    })
}

/// A form that carries nothing but the CSRF token (sign-out, revoke, …).
#[derive(Deserialize)]
pub struct TokenOnly {
    #[serde(default)]
    pub csrf: String,
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
        .db(move |conn| Ok(sessions::delete_session(conn, &session)?))
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
    let v = viewer.clone();
    let token = state
        .db(move |conn| {
            let account =
                db::accounts::find_by_id(conn, &v.account_id)?.ok_or(AppError::Unauthenticated)?;
            if !accounts::verify_password(&form.current, &account.password_hash) {
                return Ok(None);
            }
            let hash = accounts::hash_password(&form.new)
                .map_err(|e| AppError::Internal(format!("hashing a password: {e}")))?;
            let now = Utc::now().naive_utc();
            let session = conn.transaction(|conn| {
                db::accounts::set_password(conn, &account.id, &hash, false, now)?;
                let session = sessions::create_session(conn, &account.id, &address, now)?;
                sessions::set_flash(
                    conn,
                    &crate::accounts::token_hash(&session.token),
                    "Your password was changed. Other sessions of your account have ended.",
                )?;
                audit::record(
                    conn,
                    &account.username,
                    "password changed",
                    &account.username,
                    "by the account itself",
                )?;
                QueryResult::Ok(session)
            })?;
            Ok(Some(session.token))
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

csrf_form!(TokenOnly, PasswordForm);
