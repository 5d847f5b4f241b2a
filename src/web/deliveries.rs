//! Admin › Deliveries: the outbox's recent mails and webhooks, each with
//! its state, attempts, next attempt and last error, and Retry now. Global
//! Administrators only (the middleware and the [`Admin`] extractor both
//! check); Retry now needs the session's CSRF token and is audited.

use super::auth::{self, Admin, Protected, TokenOnly};
use super::error::AppResult;
use super::layout::{see_other, Layout, FLASH_ERROR};
use super::{html, thousands, AppState};
use crate::db::outbox::{self, Channel, OutboxEntry, State};
use crate::db::sessions;
use crate::notify::SMTP_NOT_CONFIGURED;
use crate::service::{self, ServiceError};
use actix_web::middleware::from_fn;
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;

const PAGE: &str = "/admin/deliveries";

/// The messages the page lists, newest first.
const SHOWN: i64 = 100;

fn when(t: Option<NaiveDateTime>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "—".into())
}

/// "0.2 s", "30 s", "5 min", "1 h".
fn pause(d: std::time::Duration) -> String {
    let seconds = d.as_secs();
    if seconds >= 3600 && seconds.is_multiple_of(3600) {
        format!("{} h", seconds / 3600)
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{} min", seconds / 60)
    } else {
        format!("{} s", d.as_secs_f64())
    }
}

/// One message, as the page shows it.
struct Line {
    id: i64,
    created: String,
    origin: String,
    channel: &'static str,
    destination: String,
    subject: String,
    state: &'static str,
    /// The CSS class of the state.
    tone: &'static str,
    attempts: i32,
    next_attempt: String,
    last_error: String,
    retry: bool,
}

fn line(e: OutboxEntry) -> Line {
    let (state, tone) = match e.state {
        State::Pending => ("pending", "muted"),
        State::Sent => ("sent", "ok"),
        State::Failed => ("failed", "bad"),
    };
    Line {
        id: e.id,
        created: when(Some(e.created_at)),
        origin: e.origin,
        channel: match e.channel {
            Channel::Email => "mail",
            Channel::Webhook => "webhook",
        },
        destination: e.destination,
        subject: e.subject,
        state,
        tone,
        attempts: e.attempts,
        next_attempt: match e.state {
            State::Pending => when(Some(e.next_attempt_at)),
            State::Sent => format!("sent {}", when(e.sent_at)),
            State::Failed => "given up".into(),
        },
        last_error: e.last_error.unwrap_or_default(),
        retry: e.state != State::Sent,
    }
}

#[derive(Template)]
#[template(path = "admin/deliveries.html")]
struct DeliveriesPage {
    layout: Layout,
    csrf: String,
    facts: Vec<(&'static str, String)>,
    lines: Vec<Line>,
}

#[get("/admin/deliveries", wrap = "from_fn(auth::admin)")]
pub async fn deliveries_page(state: web::Data<AppState>, admin: Admin) -> AppResult<HttpResponse> {
    let (recent, unsent) = state
        .db(|conn| Ok((outbox::recent(conn, SHOWN)?, outbox::count_unsent(conn)?)))
        .await?;
    let count = |wanted: State| {
        unsent
            .iter()
            .find(|(s, _)| *s == wanted)
            .map_or(0, |(_, n)| *n)
    };
    let settings = state.notify.as_ref().map(|n| n.settings());
    let mail = match settings {
        None => "This portal runs no notify worker; another portal on the database may.".into(),
        Some(s) => match &s.smtp {
            Some(smtp) => format!("through {} as {}", smtp.describe(), smtp.from),
            None => format!(
                "{SMTP_NOT_CONFIGURED} on this portal: mail waits (webhooks still go). \
                 Start it with AUTHINSIGHTS_SMTP_HOST and AUTHINSIGHTS_SMTP_FROM (docs/notifications.md)."
            ),
        },
    };
    let mut facts = vec![
        ("Mail", mail),
        ("Waiting", thousands(count(State::Pending))),
        ("Given up", thousands(count(State::Failed))),
    ];
    if let Some(s) = settings {
        facts.push((
            "Retries",
            format!(
                "after {}, doubling each time, at most {} apart; given up after {} attempts",
                pause(s.first_retry),
                pause(s.max_retry),
                s.max_attempts
            ),
        ));
    }
    html(DeliveriesPage {
        layout: Layout::admin("Deliveries", &admin.0),
        csrf: admin.0.csrf.clone(),
        facts,
        lines: recent.into_iter().map(line).collect(),
    })
}

#[post("/admin/deliveries/{id}/retry", wrap = "from_fn(auth::admin)")]
pub async fn retry_now(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    _form: Protected<TokenOnly>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let actor = admin.0.username.clone();
    let session = admin.0.session.clone();
    let retried = state
        .db(move |conn| {
            let result = match id.parse::<i64>() {
                Ok(id) => service::outbox::retry_now(conn, &actor, id),
                Err(_) => Err(ServiceError::Refused(format!(
                    "There is no message {}.",
                    crate::ingest::records::clip(&id, 40)
                ))),
            };
            let (notice, retried) = match result {
                Ok(entry) => (
                    format!(
                        "Message {} ({}) is tried again now; its result shows here.",
                        entry.id, entry.origin
                    ),
                    true,
                ),
                Err(ServiceError::Refused(why)) => (format!("{FLASH_ERROR}{why}"), false),
                Err(ServiceError::Database(e)) => return Err(e.into()),
            };
            sessions::set_flash(conn, &session, &notice)?;
            Ok(retried)
        })
        .await?;
    if let (true, Some(notifier)) = (retried, &state.notify) {
        notifier.wake();
    }
    Ok(see_other(PAGE))
}
