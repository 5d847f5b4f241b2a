//! Admin › Data sources: the connection to Microsoft Graph, the schedule,
//! the last sync of each resource with its result and errors in plain
//! words, the recent runs, and Sync now. Global Administrators only; every
//! change needs the session's CSRF token and is audited.

use super::auth::{self, csrf_form, Admin, Protected, TokenOnly};
use super::error::{AppError, AppResult};
use super::layout::{see_other, Layout, FLASH_ERROR};
use super::{html, thousands, AppState};
use crate::db::syncs::{self, SyncRun};
use crate::db::{sessions, syncs::ResourceRow};
use crate::service::{self, ServiceError};
use crate::sync::schedule::NotStarted;
use crate::sync::SyncResource;
use actix_web::middleware::from_fn;
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use chrono::{Duration, NaiveDateTime};
use serde::Deserialize;

const PAGE: &str = "/admin/data-sources";

/// A refused change cannot happen here (nothing is refused): a database error.
fn internal(e: ServiceError) -> AppError {
    match e {
        ServiceError::Database(e) => e.into(),
        ServiceError::Refused(why) => AppError::BadRequest(why),
    }
}

fn when(t: Option<NaiveDateTime>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "—".into())
}

/// "15 minutes", "6 hours", "1 day".
fn every_text(d: Duration) -> String {
    let minutes = d.num_minutes();
    let (n, unit) = if minutes > 0 && minutes % 1440 == 0 {
        (minutes / 1440, "day")
    } else if minutes > 0 && minutes % 60 == 0 {
        (minutes / 60, "hour")
    } else if minutes > 0 {
        (minutes, "minute")
    } else {
        (d.num_seconds(), "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// One resource's last pull, as the page shows it.
struct ResourceLine {
    key: &'static str,
    title: &'static str,
    at: String,
    result: &'static str,
    /// The CSS class of the result.
    tone: &'static str,
    pages: String,
    records: String,
    inserted: String,
    updated: String,
    warnings: String,
    message: String,
}

struct RunLine {
    id: i64,
    started: String,
    finished: String,
    trigger: String,
    outcome: &'static str,
    message: String,
}

#[derive(Template)]
#[template(path = "admin/data_sources.html")]
struct DataSourcesPage {
    layout: Layout,
    csrf: String,
    connected: bool,
    connection: Vec<(&'static str, String)>,
    schedule: String,
    running: bool,
    next_run: String,
    /// The interval field's value: minutes, "off", or "" (the server's).
    every_value: String,
    every_flag: String,
    resources: Vec<ResourceLine>,
    runs: Vec<RunLine>,
}

fn resource_line(resource: SyncResource, row: Option<&ResourceRow>) -> ResourceLine {
    let (result, tone) = match row.and_then(|r| r.outcome.as_deref()) {
        None if row.is_some() => ("running or cut short", "muted"),
        None => ("never pulled", "muted"),
        Some("stored") => ("stored", "ok"),
        Some("skipped") => ("skipped", "muted"),
        Some(_) => ("failed: nothing of it stored", "bad"),
    };
    let number = |n: Option<i64>| n.map(thousands).unwrap_or_default();
    ResourceLine {
        key: resource.key(),
        title: resource.title(),
        at: when(row.and_then(|r| r.finished_at.or(Some(r.started_at)))),
        result,
        tone,
        pages: number(row.map(|r| r.pages)),
        records: number(row.map(|r| r.records)),
        inserted: number(row.map(|r| r.inserted)),
        updated: number(row.map(|r| r.updated)),
        warnings: number(row.map(|r| r.warnings)),
        message: row.map(|r| r.message.clone()).unwrap_or_default(),
    }
}

fn run_line(run: SyncRun) -> RunLine {
    RunLine {
        id: run.id,
        started: when(Some(run.started_at)),
        finished: when(run.finished_at),
        trigger: run.trigger,
        outcome: match run.outcome.as_deref() {
            None => "running or cut short",
            Some("succeeded") => "succeeded",
            Some(_) => "failed",
        },
        message: run.message,
    }
}

#[get("/admin/data-sources", wrap = "from_fn(auth::admin)")]
pub async fn data_sources_page(
    state: web::Data<AppState>,
    admin: Admin,
) -> AppResult<HttpResponse> {
    let (latest, runs, stored_every) = state
        .db(|conn| {
            Ok((
                syncs::latest_per_resource(conn)?,
                syncs::recent_runs(conn, 10)?,
                syncs::sync_every_minutes(conn)?,
            ))
        })
        .await?;
    let scheduler = state.sync.clone();
    let settings = scheduler.as_ref().and_then(|s| s.settings().cloned());
    let status = scheduler.as_ref().map(|s| s.status()).unwrap_or_default();
    let every_flag = scheduler.as_ref().and_then(|s| s.every_flag());
    let connection = match &settings {
        Some(s) => vec![
            ("Tenant", s.tenant_id.clone()),
            ("Application (client) ID", s.client_id.clone()),
            (
                "Credential",
                format!(
                    "{} (set where the portal was started; never shown)",
                    s.credential_kind()
                ),
            ),
            ("Microsoft Graph", s.graph_url.clone()),
            ("Sign-in endpoint", s.login_url.clone()),
        ],
        None => Vec::new(),
    };
    let every = match stored_every {
        Some(m) if m > 0 => Some(Duration::minutes(m)),
        Some(_) => None,
        None => every_flag,
    };
    let schedule = match (settings.is_some(), every) {
        (false, _) => "No syncs: the portal is not connected to a tenant.".to_string(),
        (true, None) => "Off: syncs run only when started here or by `authinsights sync`.".into(),
        (true, Some(every)) => format!(
            "Every {}{}.",
            every_text(every),
            match stored_every {
                Some(_) => " (set on this page)",
                None => " (as the portal was started: --sync-every)",
            }
        ),
    };
    let next_run = if status.running {
        "now: a sync is running".to_string()
    } else {
        match (settings.is_some(), every, status.next_run) {
            (true, Some(_), Some(next)) => when(Some(next)),
            (true, Some(_), None) => "shortly".into(),
            _ => "none scheduled".into(),
        }
    };
    let resources = SyncResource::ALL
        .iter()
        .map(|r| resource_line(*r, latest.iter().find(|row| row.resource == r.key())))
        .collect();
    html(DataSourcesPage {
        layout: Layout::admin("Data sources", &admin.0),
        csrf: admin.0.csrf.clone(),
        connected: settings.is_some(),
        connection,
        schedule,
        running: status.running,
        next_run,
        every_value: match stored_every {
            None => String::new(),
            Some(0) => "off".into(),
            Some(m) => m.to_string(),
        },
        every_flag: every_flag.map_or("off".into(), every_text),
        resources,
        runs: runs.into_iter().map(run_line).collect(),
    })
}

#[post("/admin/data-sources/sync", wrap = "from_fn(auth::admin)")]
pub async fn sync_now(
    state: web::Data<AppState>,
    admin: Admin,
    _form: Protected<TokenOnly>,
) -> AppResult<HttpResponse> {
    let actor = admin.0.username.clone();
    let session = admin.0.session.clone();
    let scheduler = state.sync.clone();
    let connected = scheduler.as_ref().is_some_and(|s| s.settings().is_some());
    let audited = actor.clone();
    // The request is audited first; a sync starts only once it is.
    let recorded = state
        .db(move |conn| {
            if !connected {
                return Ok(false);
            }
            service::syncs::request_sync(conn, &audited).map_err(internal)?;
            Ok(true)
        })
        .await?;
    let notice = match (recorded, scheduler) {
        (true, Some(scheduler)) => match scheduler.sync_now(&actor) {
            Ok(()) => "A sync has started; this page shows its result when it ends.".to_string(),
            Err(NotStarted::AlreadyRunning) => {
                format!(
                    "{FLASH_ERROR}A sync is already running; its result shows here when it ends."
                )
            }
            Err(NotStarted::NotConnected) => format!("{FLASH_ERROR}{NOT_CONNECTED}"),
        },
        _ => format!("{FLASH_ERROR}{NOT_CONNECTED}"),
    };
    state
        .db(move |conn| Ok(sessions::set_flash(conn, &session, &notice)?))
        .await?;
    Ok(see_other(PAGE))
}

const NOT_CONNECTED: &str = "The portal is not connected to a tenant: start it with the \
     AUTHINSIGHTS_GRAPH_* settings (docs/graph-sync.md).";

#[derive(Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    csrf: String,
    /// Minutes, "off", or empty for the interval the portal was started with.
    #[serde(default)]
    every: String,
}

csrf_form!(ScheduleForm);

/// The shortest and longest interval the page takes, in minutes.
const MIN_MINUTES: i64 = 5;
const MAX_MINUTES: i64 = 7 * 24 * 60;

#[post("/admin/data-sources/schedule", wrap = "from_fn(auth::admin)")]
pub async fn set_schedule(
    state: web::Data<AppState>,
    admin: Admin,
    form: Protected<ScheduleForm>,
) -> AppResult<HttpResponse> {
    let text = form.0.every.trim().to_string();
    let minutes = match text.as_str() {
        "" => None,
        "off" => Some(0),
        n => match n.parse::<i64>() {
            Ok(m) if (MIN_MINUTES..=MAX_MINUTES).contains(&m) => Some(m),
            _ => {
                return Err(AppError::BadPageRequest {
                    message: format!(
                        "The interval must be a number of minutes from {MIN_MINUTES} to {MAX_MINUTES}, \"off\", or empty (as the portal was started), not '{}'.",
                        crate::ingest::records::clip(n, 40)
                    ),
                    page: PAGE,
                })
            }
        },
    };
    let actor = admin.0.username.clone();
    let session = admin.0.session.clone();
    let said = match minutes {
        None => "as the portal was started".to_string(),
        Some(0) => "off".to_string(),
        Some(m) => format!("every {}", every_text(Duration::minutes(m))),
    };
    state
        .db(move |conn| {
            service::syncs::set_schedule(conn, &actor, minutes, &said).map_err(internal)?;
            sessions::set_flash(conn, &session, &format!("Syncs now run {said}."))?;
            Ok(())
        })
        .await?;
    if let Some(scheduler) = &state.sync {
        scheduler.setting_changed();
    }
    Ok(see_other(PAGE))
}
