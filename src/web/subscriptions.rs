//! Subscriptions and alerts: the Subscribe form a list page links to, the
//! reader's own subscriptions, Admin › Subscriptions (every one), a
//! subscription's page (change, pause, resume, delete) and the signed link
//! a large report's mail carries.

use super::auth::{self, Admin, Protected, TokenOnly, Viewer};
use super::error::{AppError, AppResult};
use super::export::download;
use super::layout::{see_other, Layout};
use super::lists::views::View;
use super::notices::{file_signature, origin};
use super::{export_view, html, AppState};
use crate::db::outbox::OutboxEntry;
use crate::db::sessions;
use crate::db::subscriptions::{self as store, Owned};
use crate::domain::schedule::{FREQUENCIES, WEEKDAYS};
use crate::service::subscriptions::{self as service, Actor, Form, CONDITIONS};
use crate::service::ServiceError;
use actix_web::middleware::from_fn;
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use chrono::{NaiveDateTime, Utc};
use serde::Deserialize;
use std::collections::HashMap;

fn actor(viewer: &Viewer) -> Actor {
    Actor {
        account_id: viewer.account_id.clone(),
        username: viewer.username.clone(),
        admin: viewer.is_admin(),
    }
}

fn minute(t: NaiveDateTime) -> String {
    format!("{} UTC", t.format("%Y-%m-%d %H:%M"))
}

/// One row of a list of subscriptions.
pub struct Row {
    pub href: String,
    pub name: String,
    pub kind: &'static str,
    pub owner: String,
    pub view: String,
    pub view_href: String,
    pub destination: String,
    pub when: String,
    pub next_run: String,
    pub state: String,
    pub last_result: String,
    pub delivery: String,
}

impl Row {
    fn new(o: &Owned, delivery: Option<&OutboxEntry>) -> Row {
        let s = &o.subscription;
        let view = View::from_path(&s.view_path);
        let when = if s.is_alert() {
            format!(
                "When the count {} (checked every {} min and on every data change)",
                super::notices::Rule::of(s).sentence(),
                s.check_minutes.unwrap_or(60)
            )
        } else {
            service::schedule_of(s).map_or_else(|| s.frequency.clone(), |sc| sc.to_string())
        };
        Row {
            href: format!("/subscriptions/{}", s.id),
            name: s.name.clone(),
            kind: if s.is_alert() { "Alert" } else { "Report" },
            owner: o.owner.username.clone(),
            view: view.map_or(s.view_path.clone(), |v| {
                if s.view_query.is_empty() {
                    v.title().to_string()
                } else {
                    format!("{} ({})", v.title(), s.view_query)
                }
            }),
            view_href: view.map_or(s.view_path.clone(), |v| v.href(&s.view_query)),
            destination: format!(
                "{}: {}",
                if s.channel == "webhook" {
                    "Webhook"
                } else {
                    "E-mail"
                },
                s.destination
            ),
            when,
            next_run: if s.is_active() {
                minute(s.next_run_at)
            } else {
                "—".into()
            },
            state: if s.is_active() {
                if s.firing {
                    "Active, alerting".into()
                } else {
                    "Active".into()
                }
            } else {
                format!(
                    "Paused: {}",
                    s.paused_reason.as_deref().unwrap_or("no reason given")
                )
            },
            last_result: s
                .last_result
                .clone()
                .unwrap_or_else(|| "Not run yet".into()),
            delivery: delivery.map_or_else(
                || "Nothing sent yet".into(),
                |m| {
                    let state = m.state.key().to_string();
                    match &m.last_error {
                        Some(e) if state != "sent" => format!(
                            "{state} after {} attempt{}: {e}",
                            m.attempts,
                            if m.attempts == 1 { "" } else { "s" }
                        ),
                        _ => match m.sent_at {
                            Some(at) => format!("sent {}", minute(at)),
                            None => state,
                        },
                    }
                },
            ),
        }
    }
}

fn rows(conn: &mut crate::db::DbConnection, owner: Option<&str>) -> AppResult<Vec<Row>> {
    let list = store::list(conn, owner)?;
    let origins: Vec<String> = list.iter().map(|o| origin(&o.subscription)).collect();
    let latest: HashMap<String, OutboxEntry> = crate::db::outbox::latest_by_origin(conn, &origins)?;
    Ok(list
        .iter()
        .zip(&origins)
        .map(|(o, origin)| Row::new(o, latest.get(origin)))
        .collect())
}

#[derive(Template)]
#[template(path = "subscriptions.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
    all: bool,
    admin: bool,
    suggestions: Vec<Suggestion>,
}

#[get("/subscriptions", wrap = "from_fn(auth::reader)")]
pub async fn mine(state: web::Data<AppState>, viewer: Viewer) -> AppResult<HttpResponse> {
    let id = viewer.account_id.clone();
    let rows = state.db(move |conn| rows(conn, Some(&id))).await?;
    html(ListPage {
        layout: Layout::page("Subscriptions", "subscriptions").signed(&viewer),
        rows,
        all: false,
        admin: viewer.is_admin(),
        suggestions: suggestions(),
    })
}

#[get("/admin/subscriptions", wrap = "from_fn(auth::admin)")]
pub async fn all(state: web::Data<AppState>, admin: Admin) -> AppResult<HttpResponse> {
    let rows = state.db(move |conn| rows(conn, None)).await?;
    html(ListPage {
        layout: Layout::admin("Subscriptions", &admin.0),
        rows,
        all: true,
        admin: true,
        suggestions: Vec::new(),
    })
}

/// The subscription form: a new one (prefilled from the list it came
/// from) or an existing one's settings.
#[derive(Template)]
#[template(path = "subscription.html")]
struct FormPage {
    layout: Layout,
    csrf: String,
    /// None for a new one.
    id: Option<i64>,
    form: Form,
    view_title: String,
    view_href: String,
    error: Option<String>,
    row: Option<Row>,
    secret: Option<String>,
    active: bool,
    frequencies: &'static [&'static str],
    weekdays: Vec<&'static str>,
    conditions: &'static [(&'static str, &'static str)],
    hours: Vec<String>,
    zones: Vec<&'static str>,
}

impl FormPage {
    fn new(layout: Layout, viewer: &Viewer, id: Option<i64>, form: Form) -> FormPage {
        let view = View::from_path(&form.view_path);
        FormPage {
            layout,
            csrf: viewer.csrf.clone(),
            id,
            view_title: view.map_or(form.view_path.clone(), |v| v.title().to_string()),
            view_href: view.map_or(form.view_path.clone(), |v| v.href(&form.view_query)),
            form,
            error: None,
            row: None,
            secret: None,
            active: true,
            frequencies: &FREQUENCIES,
            weekdays: WEEKDAYS.iter().map(|(n, _)| *n).collect(),
            conditions: &CONDITIONS,
            hours: (0..24).map(|h| h.to_string()).collect(),
            zones: chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect(),
        }
    }

    fn is_alert(&self) -> bool {
        self.form.kind == store::ALERT
    }

    fn selected(&self, value: &str, current: &str) -> bool {
        value == current
    }
}

/// A built-in alert: its title, the form's address prefilled, what it watches.
pub struct Suggestion {
    pub title: &'static str,
    pub href: String,
    pub explanation: &'static str,
}

fn suggestions() -> Vec<Suggestion> {
    let new = |view: &str, query: &str, condition: &str, threshold: u32, name: &str| {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("kind", "alert")
            .append_pair("view", view)
            .append_pair("query", query)
            .append_pair("condition", condition)
            .append_pair("threshold", &threshold.to_string())
            .append_pair("name", name)
            .finish();
        format!("/subscriptions/new?{q}")
    };
    vec![
        Suggestion {
            title: "An administrator is not capable",
            href: new("/registrations", "admin=yes&capable=no", "above", 0, "An administrator is not capable"),
            explanation: "when any administrator could not reset their own password.",
        },
        Suggestion {
            title: "Reset failures doubled",
            href: new(
                "/activity",
                "feature=reset&status=failure&range=24h",
                "rises_by_percent",
                100,
                "Reset failures doubled",
            ),
            explanation: "failed resets of the last 24 hours more than doubled since the last check (add method=… to the filters for one method).",
        },
        Suggestion {
            title: "Capable users dropped",
            href: new("/registrations", "capable=yes", "falls_by_percent", 5, "Capable users dropped"),
            explanation: "the users who can reset their password fell by more than 5 % since the last check.",
        },
    ]
}

#[derive(Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    view: String,
    #[serde(default)]
    query: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    condition: String,
    #[serde(default)]
    threshold: String,
    #[serde(default)]
    name: String,
}

#[get("/subscriptions/new", wrap = "from_fn(auth::reader)")]
pub async fn new_form(viewer: Viewer, q: web::Query<NewQuery>) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let view = View::from_path(&q.view).ok_or_else(|| {
        AppError::BadRequest(format!(
            "view: '{}' is not a list a subscription can send; use one of {}.",
            q.view,
            View::ALL.map(|v| v.path()).join(", ")
        ))
    })?;
    view.check(&q.query, Utc::now().naive_utc())?;
    let alert = q.kind == store::ALERT;
    let name = if q.name.is_empty() {
        if q.query.is_empty() {
            view.title().to_string()
        } else {
            format!("{} ({})", view.title(), q.query)
        }
    } else {
        q.name
    };
    let form = Form {
        kind: if alert { store::ALERT } else { store::REPORT }.into(),
        name,
        view_path: view.path().into(),
        view_query: q.query,
        channel: "email".into(),
        frequency: "weekly".into(),
        weekday: "monday".into(),
        day: "1".into(),
        hour: "7".into(),
        time_zone: "UTC".into(),
        condition: if q.condition.is_empty() {
            "above".into()
        } else {
            q.condition
        },
        threshold: if q.threshold.is_empty() {
            "0".into()
        } else {
            q.threshold
        },
        check_minutes: "60".into(),
        repeat_minutes: "1440".into(),
        webhook_rows: "10".into(),
        destination: String::new(),
    };
    let title = if alert { "New alert" } else { "Subscribe" };
    let layout =
        Layout::child(title, "subscriptions", ("Subscriptions", "/subscriptions")).signed(&viewer);
    html(FormPage::new(layout, &viewer, None, form))
}

#[derive(Deserialize, Default)]
pub struct SubscriptionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    view_path: String,
    #[serde(default)]
    view_query: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    destination: String,
    #[serde(default)]
    webhook_rows: String,
    #[serde(default)]
    frequency: String,
    #[serde(default)]
    weekday: String,
    #[serde(default)]
    day: String,
    #[serde(default)]
    hour: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    condition: String,
    #[serde(default)]
    threshold: String,
    #[serde(default)]
    check_minutes: String,
    #[serde(default)]
    repeat_minutes: String,
}

auth::csrf_form!(SubscriptionForm);

impl SubscriptionForm {
    fn into_form(self) -> Form {
        Form {
            kind: self.kind,
            name: self.name,
            view_path: self.view_path,
            view_query: self.view_query.trim_start_matches('?').to_string(),
            channel: self.channel,
            destination: self.destination,
            webhook_rows: self.webhook_rows,
            frequency: self.frequency,
            weekday: self.weekday,
            day: self.day,
            hour: self.hour,
            time_zone: self.time_zone,
            condition: self.condition,
            threshold: self.threshold,
            check_minutes: self.check_minutes,
            repeat_minutes: self.repeat_minutes,
        }
    }
}

/// The form again with the reason it was refused (a 400).
fn refused_form(
    viewer: &Viewer,
    id: Option<i64>,
    form: Form,
    why: String,
) -> AppResult<HttpResponse> {
    let title = if id.is_some() {
        "Subscription"
    } else if form.kind == store::ALERT {
        "New alert"
    } else {
        "Subscribe"
    };
    let layout =
        Layout::child(title, "subscriptions", ("Subscriptions", "/subscriptions")).signed(viewer);
    let mut page = FormPage::new(layout, viewer, id, form);
    page.error = Some(why);
    Ok(HttpResponse::BadRequest()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

/// The view of a submitted form, checked as its page would check it.
fn checked_view(form: &Form) -> Result<(), String> {
    let view = View::from_path(&form.view_path).ok_or_else(|| {
        format!(
            "view: '{}' is not a list a subscription can send.",
            form.view_path
        )
    })?;
    view.check(&form.view_query, Utc::now().naive_utc())
        .map_err(|e| match e {
            AppError::BadRequest(m)
            | AppError::BadParameter { message: m, .. }
            | AppError::BadPageRequest { message: m, .. } => format!("The view's filters: {m}"),
            other => other.to_string(),
        })
}

#[post("/subscriptions", wrap = "from_fn(auth::reader)")]
pub async fn create(
    state: web::Data<AppState>,
    viewer: Viewer,
    form: Protected<SubscriptionForm>,
) -> AppResult<HttpResponse> {
    let form = form.0.into_form();
    if let Err(why) = checked_view(&form) {
        return refused_form(&viewer, None, form, why);
    }
    let who = actor(&viewer);
    let submitted = form.clone();
    let created = state
        .db(move |conn| {
            Ok(service::create(
                conn,
                &who,
                &submitted,
                Utc::now().naive_utc(),
            ))
        })
        .await?;
    match created {
        Ok(id) => {
            flash(&state, &viewer, format!("'{}' is saved.", form.name.trim())).await?;
            Ok(see_other(&format!("/subscriptions/{id}")))
        }
        Err(ServiceError::Refused(why)) => refused_form(&viewer, None, form, why),
        Err(ServiceError::Database(e)) => Err(e.into()),
    }
}

async fn flash(state: &AppState, viewer: &Viewer, notice: String) -> AppResult<()> {
    let session = viewer.session.clone();
    state
        .db(move |conn| Ok(sessions::set_flash(conn, &session, &notice)?))
        .await
}

/// The subscription, or 404; a 403 naming the owner for anyone else.
async fn managed(state: &AppState, viewer: &Viewer, id: i64) -> AppResult<Owned> {
    let who = actor(viewer);
    state
        .db(move |conn| match service::managed(conn, &who, id) {
            Ok(o) => Ok(o),
            Err(ServiceError::Refused(why)) => Err(AppError::Forbidden(why)),
            Err(ServiceError::Database(e)) => Err(e.into()),
        })
        .await
}

#[get("/subscriptions/{id}", wrap = "from_fn(auth::reader)")]
pub async fn show(
    state: web::Data<AppState>,
    viewer: Viewer,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let o = managed(&state, &viewer, id).await?;
    let origin = origin(&o.subscription);
    let latest = state
        .db(move |conn| Ok(crate::db::outbox::latest_by_origin(conn, &[origin])?))
        .await?;
    let s = &o.subscription;
    let form = Form {
        kind: s.kind.clone(),
        name: s.name.clone(),
        view_path: s.view_path.clone(),
        view_query: s.view_query.clone(),
        channel: s.channel.clone(),
        destination: s.destination.clone(),
        webhook_rows: s.webhook_rows.to_string(),
        frequency: s.frequency.clone(),
        weekday: s.weekday.clone().unwrap_or_else(|| "monday".into()),
        day: s.day_of_month.unwrap_or(1).to_string(),
        hour: s.hour.to_string(),
        time_zone: s.time_zone.clone(),
        condition: s.condition.clone().unwrap_or_default(),
        threshold: s.threshold.unwrap_or(0).to_string(),
        check_minutes: s.check_minutes.unwrap_or(60).to_string(),
        repeat_minutes: s.repeat_minutes.unwrap_or(1440).to_string(),
    };
    let layout = Layout::child(
        &s.name,
        "subscriptions",
        ("Subscriptions", "/subscriptions"),
    )
    .signed(&viewer);
    let mut page = FormPage::new(layout, &viewer, Some(id), form);
    page.row = Some(Row::new(&o, latest.values().next()));
    page.secret = (s.channel == "webhook").then(|| s.secret.clone());
    page.active = s.is_active();
    html(page)
}

#[post("/subscriptions/{id}", wrap = "from_fn(auth::reader)")]
pub async fn update(
    state: web::Data<AppState>,
    viewer: Viewer,
    id: web::Path<i64>,
    form: Protected<SubscriptionForm>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let form = form.0.into_form();
    managed(&state, &viewer, id).await?;
    if let Err(why) = checked_view(&form) {
        return refused_form(&viewer, Some(id), form, why);
    }
    let who = actor(&viewer);
    let submitted = form.clone();
    let done = state
        .db(move |conn| {
            Ok(service::update(
                conn,
                &who,
                id,
                &submitted,
                Utc::now().naive_utc(),
            ))
        })
        .await?;
    match done {
        Ok(notice) => {
            flash(&state, &viewer, notice).await?;
            Ok(see_other(&format!("/subscriptions/{id}")))
        }
        Err(ServiceError::Refused(why)) => refused_form(&viewer, Some(id), form, why),
        Err(ServiceError::Database(e)) => Err(e.into()),
    }
}

/// What the buttons of a subscription's page do.
#[derive(Debug, Clone, Copy)]
enum Action {
    RunNow,
    Pause,
    Resume,
    Delete,
}

/// Pause, resume or delete: the owner's or a Global Administrator's (the
/// service checks again), with a notice on the page it returns to.
async fn act(
    state: web::Data<AppState>,
    viewer: Viewer,
    id: web::Path<i64>,
    action: Action,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    managed(&state, &viewer, id).await?;
    let back = match action {
        Action::Delete => "/subscriptions".to_string(),
        _ => format!("/subscriptions/{id}"),
    };
    let session = viewer.session.clone();
    super::change_then(&state, session, actor(&viewer), &back, move |conn, who| {
        let now = Utc::now().naive_utc();
        match action {
            Action::RunNow => service::run_now(conn, who, id, now),
            Action::Pause => service::pause(conn, who, id, now),
            Action::Resume => service::resume(conn, who, id, now),
            Action::Delete => service::delete(conn, who, id),
        }
    })
    .await
}

#[post("/subscriptions/{id}/run", wrap = "from_fn(auth::reader)")]
pub async fn run_now(
    state: web::Data<AppState>,
    viewer: Viewer,
    id: web::Path<i64>,
    _form: Protected<TokenOnly>,
) -> AppResult<HttpResponse> {
    act(state, viewer, id, Action::RunNow).await
}

#[post("/subscriptions/{id}/pause", wrap = "from_fn(auth::reader)")]
pub async fn pause(
    state: web::Data<AppState>,
    viewer: Viewer,
    id: web::Path<i64>,
    _form: Protected<TokenOnly>,
) -> AppResult<HttpResponse> {
    act(state, viewer, id, Action::Pause).await
}

#[post("/subscriptions/{id}/resume", wrap = "from_fn(auth::reader)")]
pub async fn resume(
    state: web::Data<AppState>,
    viewer: Viewer,
    id: web::Path<i64>,
    _form: Protected<TokenOnly>,
) -> AppResult<HttpResponse> {
    act(state, viewer, id, Action::Resume).await
}

#[post("/subscriptions/{id}/delete", wrap = "from_fn(auth::reader)")]
pub async fn delete(
    state: web::Data<AppState>,
    viewer: Viewer,
    id: web::Path<i64>,
    _form: Protected<TokenOnly>,
) -> AppResult<HttpResponse> {
    act(state, viewer, id, Action::Delete).await
}

#[derive(Deserialize)]
pub struct FileQuery {
    expires: Option<i64>,
    signature: Option<String>,
}

/// A large report's file: the link its mail carries, signed with the
/// subscription's secret and valid until `expires`; it needs sign-in like
/// any download, and gives the view's file as it is when opened.
#[get("/subscriptions/{id}/file", wrap = "from_fn(auth::reader)")]
pub async fn file(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<FileQuery>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let (Some(expires), Some(signature)) = (q.expires, q.signature.clone()) else {
        return Err(AppError::BadRequest(
            "This link is incomplete: it needs both expires and signature, as the mail gave it."
                .into(),
        ));
    };
    let found = state
        .db(move |conn| Ok(store::find(conn, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let s = found.subscription;
    let valid = crate::accounts::secrets_match(&signature, &file_signature(&s.secret, id, expires));
    if !valid {
        return Err(AppError::Forbidden(
            "This link's signature is wrong: open the link exactly as the mail gave it.".into(),
        ));
    }
    if Utc::now().timestamp() > expires {
        return Err(AppError::Forbidden(
            "This link has expired. The view itself is still on its page, with its own Download CSV link."
                .into(),
        ));
    }
    let view = View::from_path(&s.view_path).ok_or(AppError::NotFound)?;
    let export = export_view(
        view,
        state.counts.clone(),
        &s.view_query,
        Utc::now().naive_utc(),
    )?;
    Ok(download(&state, export))
}
