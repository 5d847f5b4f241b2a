//! Subscriptions and alerts: created by any account that may read reports,
//! changed, paused, resumed and deleted by their owner or a Global
//! Administrator; every change audited. The view a subscription sends is
//! checked by the caller (the web layer parses views) before these run.

use super::{refused, ServiceError, ServiceResult};
use crate::db::subscriptions::{self as store, Owned, Settings, ACTIVE, ALERT, PAUSED, REPORT};
use crate::db::{self, audit, DbConnection};
use crate::domain::schedule::Schedule;
use chrono::{Duration, NaiveDateTime};

/// Who asks for a change.
#[derive(Debug, Clone)]
pub struct Actor {
    pub account_id: String,
    pub username: String,
    /// A Global Administrator manages every subscription.
    pub admin: bool,
}

/// The alert conditions, as stored and as the form names them.
pub const CONDITIONS: [(&str, &str); 6] = [
    ("above", "is above"),
    ("below", "is below"),
    ("rises_by", "rises by more than"),
    ("falls_by", "falls by more than"),
    ("rises_by_percent", "rises by more than (%)"),
    ("falls_by_percent", "falls by more than (%)"),
];

/// The most addresses one subscription sends to.
pub const MAX_ADDRESSES: usize = 20;
/// The most rows a webhook body carries.
pub const MAX_WEBHOOK_ROWS: i64 = 1_000;

/// What a subscription form submits (every field as text, checked here).
#[derive(Debug, Clone, Default)]
pub struct Form {
    pub kind: String,
    pub name: String,
    pub view_path: String,
    pub view_query: String,
    pub channel: String,
    pub destination: String,
    pub webhook_rows: String,
    pub frequency: String,
    pub weekday: String,
    pub day: String,
    pub hour: String,
    pub time_zone: String,
    pub condition: String,
    pub threshold: String,
    pub check_minutes: String,
    pub repeat_minutes: String,
}

fn number(field: &str, value: &str, range: std::ops::RangeInclusive<i64>) -> ServiceResult<i64> {
    match value.trim().parse::<i64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => refused(format!(
            "{field}: give a whole number from {} to {}.",
            range.start(),
            range.end()
        )),
    }
}

fn optional(value: &str) -> Option<&str> {
    Some(value.trim()).filter(|v| !v.is_empty())
}

/// Checks the form; the settings to store, due first at the next run after `now`.
pub fn settings(form: &Form, now: NaiveDateTime) -> ServiceResult<Settings> {
    let kind = match form.kind.as_str() {
        REPORT | ALERT => form.kind.clone(),
        other => return refused(format!("kind: '{other}' is not report or alert.")),
    };
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return refused("name: give the subscription a name of 1 to 100 characters on one line.");
    }
    let destination = destination(&form.channel, &form.destination)?;
    let webhook_rows = match optional(&form.webhook_rows) {
        None => 10,
        Some(v) => number("webhook_rows", v, 0..=MAX_WEBHOOK_ROWS)?,
    };
    let alert = kind == ALERT;
    let (schedule, condition, threshold, check_minutes, repeat_minutes) = if alert {
        let condition = CONDITIONS
            .iter()
            .find(|(k, _)| *k == form.condition)
            .map(|(k, _)| k.to_string())
            .ok_or_else(|| {
                ServiceError::Refused(format!(
                    "condition: '{}' is not one of {}.",
                    form.condition,
                    CONDITIONS.map(|(k, _)| k).join(", ")
                ))
            })?;
        let threshold = number("threshold", &form.threshold, 0..=1_000_000_000)?;
        let check = match optional(&form.check_minutes) {
            None => 60,
            Some(v) => number("check_minutes", v, 1..=10_080)?,
        };
        let repeat = match optional(&form.repeat_minutes) {
            None => 1_440,
            Some(v) => number("repeat_minutes", v, 1..=43_200)?,
        };
        // An alert keeps a daily schedule in its zone only for display; it
        // runs every `check` minutes and on every change of the data.
        let zone = optional(&form.time_zone).unwrap_or("UTC");
        let schedule = Schedule::parse("daily", None, None, 0, zone)
            .map_err(|e| ServiceError::Refused(format!("{e}.")))?;
        (
            schedule,
            Some(condition),
            Some(threshold),
            Some(check),
            Some(repeat),
        )
    } else {
        let hour = number("hour", &form.hour, 0..=23)? as u32;
        let day = match optional(&form.day) {
            None => None,
            Some(v) => Some(number("day", v, 1..=31)? as u32),
        };
        let schedule = Schedule::parse(
            form.frequency.trim(),
            optional(&form.weekday),
            day,
            hour,
            form.time_zone.trim(),
        )
        .map_err(|e| ServiceError::Refused(format!("{e}.")))?;
        (schedule, None, None, None, None)
    };
    let next_run_at = match check_minutes {
        // An alert checks at once, then every `check` minutes.
        Some(_) => now,
        None => schedule.next_after(now),
    };
    Ok(Settings {
        kind,
        name: name.to_string(),
        view_path: form.view_path.clone(),
        view_query: form.view_query.clone(),
        channel: form.channel.clone(),
        destination,
        webhook_rows,
        frequency: schedule.frequency_name().to_string(),
        weekday: schedule
            .weekday()
            .map(|d| crate::domain::schedule::weekday_name(d).to_string()),
        day_of_month: schedule.day().map(i64::from),
        hour: i64::from(schedule.hour),
        time_zone: schedule.zone.name().to_string(),
        condition,
        threshold,
        check_minutes,
        repeat_minutes,
        next_run_at,
        updated_at: now,
    })
}

/// The destination, tidied: addresses separated by commas, or one URL.
fn destination(channel: &str, value: &str) -> ServiceResult<String> {
    match channel {
        "email" => {
            let addresses: Vec<&str> = value
                .split([',', ';', '\n', ' '])
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .collect();
            if addresses.is_empty() {
                return refused("destination: give at least one e-mail address.");
            }
            if addresses.len() > MAX_ADDRESSES {
                return refused(format!(
                    "destination: at most {MAX_ADDRESSES} addresses; use a distribution list for more."
                ));
            }
            for a in &addresses {
                let parts: Vec<&str> = a.split('@').collect();
                let valid = parts.len() == 2
                    && !parts[0].is_empty()
                    && parts[1].contains('.')
                    && !parts[1].starts_with('.')
                    && !parts[1].ends_with('.')
                    && a.chars().all(|c| !c.is_control() && c != '<' && c != '>');
                if !valid {
                    return refused(format!("destination: '{a}' is not an e-mail address."));
                }
            }
            Ok(addresses.join(", "))
        }
        "webhook" => {
            let url = url::Url::parse(value.trim()).map_err(|e| {
                ServiceError::Refused(format!(
                    "destination: '{}' is not a URL ({e}).",
                    value.trim()
                ))
            })?;
            if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
                return refused("destination: a webhook needs an http:// or https:// URL.");
            }
            Ok(url.to_string())
        }
        other => refused(format!("channel: '{other}' is not email or webhook.")),
    }
}

fn describe(s: &Settings) -> String {
    format!(
        "{} of {}{}{} to {} ({})",
        s.kind,
        s.view_path,
        if s.view_query.is_empty() { "" } else { "?" },
        s.view_query,
        s.destination,
        s.channel
    )
}

/// A webhook makes the portal call an address of the subscriber's choosing
/// (inside the network too), so only a Global Administrator sets one.
fn may_use_channel(actor: &Actor, settings: &Settings) -> ServiceResult<()> {
    if settings.channel == "webhook" && !actor.admin {
        return refused(
            "channel: only a Global Administrator can send to a webhook, since a webhook makes \
             this portal call an address of your choosing. Choose e-mail, or ask a Global \
             Administrator.",
        );
    }
    Ok(())
}

/// Creates a subscription owned by `actor`; returns its id.
pub fn create(
    conn: &mut DbConnection,
    actor: &Actor,
    form: &Form,
    now: NaiveDateTime,
) -> ServiceResult<i64> {
    let settings = settings(form, now)?;
    may_use_channel(actor, &settings)?;
    let secret = crate::accounts::new_token();
    db::write(conn, |conn| {
        let id = store::insert(conn, &actor.account_id, &settings, &secret, now)?;
        audit::record(
            conn,
            &actor.username,
            "Subscription created",
            &settings.name,
            &describe(&settings),
        )?;
        Ok(id)
    })
}

/// The subscription, if `actor` may manage it (its owner or a Global
/// Administrator); otherwise refused, naming why.
pub fn managed(conn: &mut DbConnection, actor: &Actor, id: i64) -> ServiceResult<Owned> {
    let found = store::find(conn, id)?.ok_or(ServiceError::Database(db::not_found()))?;
    if !actor.admin && found.owner.id != actor.account_id {
        return refused(format!(
            "'{}' belongs to {}; only its owner or a Global Administrator can change it.",
            found.subscription.name, found.owner.username
        ));
    }
    Ok(found)
}

pub fn update(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    form: &Form,
    now: NaiveDateTime,
) -> ServiceResult<String> {
    let settings = settings(form, now)?;
    may_use_channel(actor, &settings)?;
    db::write(conn, |conn| {
        managed(conn, actor, id)?;
        store::update(conn, id, &settings)?;
        audit::record(
            conn,
            &actor.username,
            "Subscription changed",
            &settings.name,
            &describe(&settings),
        )?;
        Ok(format!("'{}' is saved.", settings.name))
    })
}

pub fn pause(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    now: NaiveDateTime,
) -> ServiceResult<String> {
    db::write(conn, |conn| {
        let s = managed(conn, actor, id)?.subscription;
        let reason = format!(
            "Paused by {} on {} UTC.",
            actor.username,
            now.format("%Y-%m-%d %H:%M")
        );
        store::set_state(conn, id, PAUSED, Some(&reason), s.next_run_at, now)?;
        audit::record(conn, &actor.username, "Subscription paused", &s.name, "")?;
        Ok(format!(
            "'{}' is paused; nothing is sent until it is resumed.",
            s.name
        ))
    })
}

/// Resumes a paused subscription: a report at its next scheduled time after
/// now (runs missed meanwhile are not sent), an alert with a check at once.
pub fn resume(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    now: NaiveDateTime,
) -> ServiceResult<String> {
    db::write(conn, |conn| {
        let s = managed(conn, actor, id)?.subscription;
        let next = if s.is_alert() {
            now
        } else {
            schedule_of(&s)
                .map(|sched| sched.next_after(now))
                .unwrap_or(now + Duration::days(1))
        };
        store::set_state(conn, id, ACTIVE, None, next, now)?;
        audit::record(conn, &actor.username, "Subscription resumed", &s.name, "")?;
        Ok(format!("'{}' is active again.", s.name))
    })
}

/// Runs an active subscription at the next look (within seconds) instead of
/// at its scheduled time; the schedule carries on after it.
pub fn run_now(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    now: NaiveDateTime,
) -> ServiceResult<String> {
    db::write(conn, |conn| {
        let s = managed(conn, actor, id)?.subscription;
        if !s.is_active() {
            return refused(format!("'{}' is paused: resume it first.", s.name));
        }
        store::set_state(conn, id, ACTIVE, None, now, now)?;
        audit::record(conn, &actor.username, "Subscription run now", &s.name, "")?;
        Ok(format!(
            "'{}' runs at the portal's next look, within seconds; its result shows here.",
            s.name
        ))
    })
}

pub fn delete(conn: &mut DbConnection, actor: &Actor, id: i64) -> ServiceResult<String> {
    db::write(conn, |conn| {
        let s = managed(conn, actor, id)?.subscription;
        store::delete(conn, id)?;
        audit::record(
            conn,
            &actor.username,
            "Subscription deleted",
            &s.name,
            &s.view_path,
        )?;
        Ok(format!("'{}' is deleted.", s.name))
    })
}

/// A stored subscription's schedule.
pub fn schedule_of(s: &store::Subscription) -> Option<Schedule> {
    Schedule::parse(
        &s.frequency,
        s.weekday.as_deref(),
        s.day_of_month.and_then(|d| u32::try_from(d).ok()),
        u32::try_from(s.hour).ok()?,
        &s.time_zone,
    )
    .ok()
}
