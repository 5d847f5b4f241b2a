//! What subscriptions and alerts send, and when. A thread per portal looks
//! every few seconds for subscriptions that are due (a report by its
//! schedule; an alert by its check interval, or because the data changed
//! since its last check), makes what each sends and queues it in the outbox,
//! which delivers it.
//!
//! Several portals on one database: each looks, and each may make the same
//! file, but a run is recorded only if the subscription is still at the
//! revision it read, in the same transaction that queues the message under
//! a key naming the run; so exactly one of them queues it, and the outbox
//! sends each key once.
//!
//! A subscription stops (is paused, with the reason shown on its page) when
//! its owner may no longer read reports (the account was disabled or its
//! role withdrawn) or when its view no longer works (the page would answer
//! 400, naming the parameter); it is never sent to anyone in either case.

use super::error::AppError;
use super::export::{collect, Collected};
use super::lists::views::View;
use crate::accounts::Role;
use crate::db::cache::CountCache;
use crate::db::outbox::{self, Channel, NewMessage};
use crate::db::subscriptions::{self as store, Owned, Owner, RunRecord, Subscription, PAUSED};
use crate::db::{self, DbConnection, Pool};
use crate::service::subscriptions::schedule_of;
use chrono::{Duration, NaiveDateTime, Utc};
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub use crate::config::SubscriptionSettings as NoticeSettings;

/// Called after a message is queued, so this portal's sender goes at once.
pub type Queued = Arc<dyn Fn() + Send + Sync>;

/// The subscriptions' runner of one portal.
pub struct Notices {
    pool: Pool,
    counts: Arc<CountCache>,
    settings: NoticeSettings,
    queued: Option<Queued>,
}

/// What one look did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub queued: usize,
    pub paused: usize,
    pub checked: usize,
}

impl Notices {
    pub fn new(
        pool: Pool,
        counts: Arc<CountCache>,
        settings: NoticeSettings,
        queued: Option<Queued>,
    ) -> Arc<Notices> {
        Arc::new(Notices {
            pool,
            counts,
            settings,
            queued,
        })
    }

    /// Starts the thread that looks every `settings.every`.
    pub fn start(self: &Arc<Self>) {
        let me = self.clone();
        std::thread::Builder::new()
            .name("subscriptions".into())
            .spawn(move || loop {
                if let Err(e) = me.pass(Utc::now().naive_utc()) {
                    tracing::warn!("subscriptions: {e}");
                }
                std::thread::sleep(me.settings.every);
            })
            .map_err(|e| tracing::error!("the subscriptions cannot start: {e}"))
            .ok();
    }

    /// Runs every subscription due at `now`.
    pub fn pass(&self, now: NaiveDateTime) -> Result<Pass, AppError> {
        let mut conn = self.pool.get()?;
        let (_, version) = db::counts::data_state(&mut conn)?;
        let mut pass = Pass::default();
        for owned in store::due(&mut conn, now, version)? {
            let name = owned.subscription.name.clone();
            match self.run(&mut conn, owned, version, now) {
                Ok(Ran::Queued(n)) => pass.queued += n,
                Ok(Ran::Paused) => pass.paused += 1,
                Ok(Ran::Checked) => pass.checked += 1,
                Ok(Ran::Elsewhere) => {}
                Err(e) => tracing::warn!("subscription '{name}': {e}; tried again next time"),
            }
        }
        if pass.queued > 0 {
            if let Some(queued) = &self.queued {
                queued();
            }
        }
        Ok(pass)
    }

    fn run(
        &self,
        conn: &mut DbConnection,
        owned: Owned,
        version: i64,
        now: NaiveDateTime,
    ) -> Result<Ran, AppError> {
        let s = &owned.subscription;
        if let Some(reason) = owner_cannot_read(&owned.owner) {
            return self.pause(conn, s, reason, now);
        }
        let Some(view) = View::from_path(&s.view_path) else {
            let reason = format!("{} is not a list a subscription can send.", s.view_path);
            return self.pause(conn, s, reason, now);
        };
        match view.check(&s.view_query, now) {
            Ok(()) => {}
            Err(e) if is_bad_input(&e) => {
                let reason = format!(
                    "Its view, {}, no longer works: {}. Change the view, then resume it.",
                    view.href(&s.view_query),
                    message(&e)
                );
                return self.pause(conn, s, reason, now);
            }
            Err(e) => return Err(e),
        }
        if s.is_alert() {
            self.check_alert(conn, s, view, version, now)
        } else {
            self.send_report(conn, s, view, now)
        }
    }

    fn pause(
        &self,
        conn: &mut DbConnection,
        s: &Subscription,
        reason: String,
        now: NaiveDateTime,
    ) -> Result<Ran, AppError> {
        let record = RunRecord {
            state: PAUSED.into(),
            paused_reason: Some(reason.clone()),
            last_run_at: Some(now),
            last_result: Some(format!("Stopped: {reason}")),
            ..RunRecord::of(s)
        };
        let done = db::write(conn, |conn| {
            let done = store::record_run(conn, s.id, s.revision, &record)?;
            if done {
                db::audit::record(conn, PORTAL, "Subscription paused", &s.name, &reason)?;
            }
            db::QueryResult::Ok(done)
        })?;
        if done {
            tracing::warn!("subscription '{}' paused: {reason}", s.name);
        }
        Ok(if done { Ran::Paused } else { Ran::Elsewhere })
    }

    /// A report: the view's file as a download would be now, sent by mail
    /// (attached, or a signed link when large) or to a webhook (its count
    /// and first rows).
    fn send_report(
        &self,
        conn: &mut DbConnection,
        s: &Subscription,
        view: View,
        now: NaiveDateTime,
    ) -> Result<Ran, AppError> {
        let scheduled = s.next_run_at;
        // The file is the view as it is when the run happens.
        let clock = Utc::now().naive_utc();
        let export = super::export_view(view, self.counts.clone(), &s.view_query, clock)?;
        // A webhook gets rows, never the file; a mail attaches a file up to
        // the limit (a larger one is only measured, and linked to).
        let (max_bytes, keep) = if s.channel == "webhook" {
            (0, usize::try_from(s.webhook_rows).unwrap_or(0))
        } else {
            (self.settings.attach_max_bytes, 0)
        };
        let file = collect(conn, export, max_bytes, keep)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let key = format!(
            "subscription:{}:{}",
            s.id,
            scheduled.format("%Y%m%dT%H%M%S")
        );
        let page = format!("{}{}", self.settings.public_url, view.href(&s.view_query));
        let summary = format!("{} {}", thousands(file.rows), view.rows_noun());
        let (channel, subject, body, attachment) = if s.channel == "webhook" {
            let body = self.report_json(s, view, &file, scheduled, now);
            (
                Channel::Webhook,
                format!("{}: {summary}", s.name),
                body,
                None,
            )
        } else {
            let mut text = format!(
                "{name}\n\n{title} lists {summary} as of {at} UTC.\n\nOpen it: {page}\n",
                name = s.name,
                title = view.title(),
                at = now.format("%Y-%m-%d %H:%M"),
            );
            let attach = file.file.is_some();
            if attach {
                text.push_str(&format!("The file is attached ({}).\n", file.name));
            } else {
                let expires = now + self.settings.link_valid;
                text.push_str(&format!(
                    "The file ({} bytes) is larger than this portal attaches. Download it, \
                     signed in, until {} UTC:\n{}\n",
                    thousands(file.size),
                    expires.format("%Y-%m-%d %H:%M"),
                    self.file_link(s, expires)
                ));
            }
            text.push_str(&self.footer(s));
            (
                Channel::Email,
                format!("{}: {summary}", s.name),
                text,
                file.file.clone().map(|bytes| (file.name.clone(), bytes)),
            )
        };
        let schedule = schedule_of(s);
        let next = schedule.map_or(now + Duration::days(1), |sc| {
            sc.next_after(now.max(scheduled))
        });
        let record = RunRecord {
            next_run_at: next,
            last_run_at: Some(now),
            last_result: Some(format!(
                "Queued {summary} for {} on {} UTC.",
                s.destination,
                now.format("%Y-%m-%d %H:%M")
            )),
            ..RunRecord::of(s)
        };
        let message = NewMessage {
            key: &key,
            origin: &origin(s),
            channel,
            destination: &s.destination,
            subject: &subject,
            body: &body,
            attachment: attachment
                .as_ref()
                .map(|(name, bytes)| (name.as_str(), bytes.as_slice())),
            secret: Some(&s.secret),
        };
        self.record_and_queue(conn, s, &record, &[message])
    }

    fn report_json(
        &self,
        s: &Subscription,
        view: View,
        file: &Collected,
        scheduled: NaiveDateTime,
        now: NaiveDateTime,
    ) -> String {
        let rows: Vec<Value> = file
            .first
            .iter()
            .map(|cells| {
                let mut row = Map::new();
                for (column, cell) in file.header.iter().zip(cells) {
                    row.insert((*column).to_string(), Value::String(cell.clone()));
                }
                Value::Object(row)
            })
            .collect();
        let query = if s.view_query.is_empty() {
            String::new()
        } else {
            format!("?{}", s.view_query)
        };
        json!({
            "type": "subscription.report",
            "subscription": { "id": s.id, "name": s.name },
            "view": {
                "title": view.title(),
                "url": format!("{}{}", self.settings.public_url, view.href(&s.view_query)),
                "apiUrl": format!("{}{}{query}", self.settings.public_url, view.api_path()),
            },
            "count": file.rows,
            "columns": file.header,
            "rows": rows,
            "scheduledFor": utc(scheduled),
            "generatedAt": utc(now),
        })
        .to_string()
    }

    /// An alert: the view's count now against the rule; a message when it
    /// starts to hold (once), again at most once per repeat window while it
    /// holds, and when it clears.
    fn check_alert(
        &self,
        conn: &mut DbConnection,
        s: &Subscription,
        view: View,
        version: i64,
        now: NaiveDateTime,
    ) -> Result<Ran, AppError> {
        let counts = self.counts.read(conn)?;
        let value = view.count(conn, &counts, &s.view_query, Utc::now().naive_utc())?;
        let rule = Rule::of(s);
        let holds = rule.holds(value, s.last_value);
        let repeat = Duration::minutes(s.repeat_minutes.unwrap_or(1_440));
        let event = match (holds, s.firing) {
            (true, false) => Some("fired"),
            (true, true) if s.notified_at.is_none_or(|at| now - at >= repeat) => Some("repeated"),
            (false, true) => Some("cleared"),
            _ => None,
        };
        let check = Duration::minutes(s.check_minutes.unwrap_or(60));
        let mut record = RunRecord {
            next_run_at: now + check,
            last_run_at: Some(now),
            last_value: Some(value),
            checked_version: Some(version),
            firing: holds,
            firing_since: if holds {
                s.firing_since.or(Some(now))
            } else {
                None
            },
            last_result: Some(format!(
                "Checked on {} UTC: {} {}; {}.",
                now.format("%Y-%m-%d %H:%M"),
                thousands(value.max(0) as u64),
                view.rows_noun(),
                if holds {
                    "the condition holds"
                } else {
                    "the condition does not hold"
                }
            )),
            ..RunRecord::of(s)
        };
        let Some(event) = event else {
            return self.record_and_queue(conn, s, &record, &[]);
        };
        record.notified_at = Some(now);
        let page = format!("{}{}", self.settings.public_url, view.href(&s.view_query));
        let what = format!("{} ({})", view.title(), describe_query(&s.view_query));
        let was = s.last_value.map_or("no earlier check".to_string(), |v| {
            thousands(v.max(0) as u64)
        });
        let now_text = thousands(value.max(0) as u64);
        let noun = view.rows_noun();
        let (subject, sentence) = if event == "cleared" {
            (
                format!("Cleared: {}", s.name),
                format!(
                    "{what} went from {was} to {now_text} {noun}. The alert's condition \
                     (the count {}) no longer holds.",
                    rule.sentence()
                ),
            )
        } else {
            (
                format!(
                    "{}: {}",
                    if event == "fired" {
                        "Alert"
                    } else {
                        "Still alerting"
                    },
                    s.name
                ),
                format!(
                    "{what} went from {was} to {now_text} {noun}: the count {}.",
                    rule.sentence()
                ),
            )
        };
        let key = format!("alert:{}:{event}:{}", s.id, s.revision);
        let body = if s.channel == "webhook" {
            json!({
                "type": format!("alert.{event}"),
                "alert": {
                    "id": s.id,
                    "name": s.name,
                    "condition": rule.condition,
                    "threshold": rule.threshold,
                },
                "view": {
                    "title": view.title(),
                    "url": page,
                    "apiUrl": format!("{}{}{}", self.settings.public_url, view.api_path(),
                        if s.view_query.is_empty() { String::new() } else { format!("?{}", s.view_query) }),
                },
                "previous": s.last_value,
                "value": value,
                "text": sentence,
                "at": utc(now),
            })
            .to_string()
        } else {
            format!("{sentence}\n\nOpen the list: {page}\n{}", self.footer(s))
        };
        let message = NewMessage {
            key: &key,
            origin: &origin(s),
            channel: if s.channel == "webhook" {
                Channel::Webhook
            } else {
                Channel::Email
            },
            destination: &s.destination,
            subject: &subject,
            body: &body,
            attachment: None,
            secret: Some(&s.secret),
        };
        record.last_result = Some(format!(
            "{} on {} UTC: {}",
            match event {
                "fired" => "Alerted",
                "repeated" => "Alerted again",
                _ => "Cleared",
            },
            now.format("%Y-%m-%d %H:%M"),
            sentence
        ));
        self.record_and_queue(conn, s, &record, &[message])
    }

    /// Records the run (if the row is still as read) and queues its
    /// messages, in one transaction.
    fn record_and_queue(
        &self,
        conn: &mut DbConnection,
        s: &Subscription,
        record: &RunRecord,
        messages: &[NewMessage<'_>],
    ) -> Result<Ran, AppError> {
        let queued = db::write(conn, |conn| {
            if !store::record_run(conn, s.id, s.revision, record)? {
                return db::QueryResult::Ok(None);
            }
            let mut queued = 0;
            // Queued for now on the clock, whatever time the run is for.
            let queued_at = Utc::now().naive_utc();
            for m in messages {
                if outbox::enqueue(conn, m, queued_at)? {
                    queued += 1;
                }
            }
            Ok(Some(queued))
        })?;
        Ok(match queued {
            None => Ran::Elsewhere,
            Some(0) => Ran::Checked,
            Some(n) => Ran::Queued(n),
        })
    }

    fn footer(&self, s: &Subscription) -> String {
        format!(
            "\n--\nSent by authinsights: the subscription '{}'. Change or stop it at {}/subscriptions/{}\n",
            s.name, self.settings.public_url, s.id
        )
    }

    /// A link to the subscription's file, signed with its secret, that
    /// works until `expires` and only for someone signed in.
    fn file_link(&self, s: &Subscription, expires: NaiveDateTime) -> String {
        let expires = expires.and_utc().timestamp();
        format!(
            "{}/subscriptions/{}/file?expires={expires}&signature={}",
            self.settings.public_url,
            s.id,
            file_signature(&s.secret, s.id, expires)
        )
    }
}

/// Who the audit trail names for what the portal does by itself.
pub const PORTAL: &str = "(subscriptions)";

enum Ran {
    Queued(usize),
    Paused,
    Checked,
    /// Another instance (or an edit) changed the row first.
    Elsewhere,
}

/// Why the owner may no longer read reports, if so.
fn owner_cannot_read(owner: &Owner) -> Option<String> {
    if owner.disabled {
        return Some(format!(
            "Its owner, {}, may no longer read reports: the account is disabled.",
            owner.username
        ));
    }
    if Role::from_key(&owner.role).is_none() {
        return Some(format!(
            "Its owner, {}, may no longer read reports: the account has no reader role.",
            owner.username
        ));
    }
    None
}

fn is_bad_input(e: &AppError) -> bool {
    matches!(
        e,
        AppError::BadRequest(_) | AppError::BadParameter { .. } | AppError::BadPageRequest { .. }
    )
}

fn message(e: &AppError) -> String {
    match e {
        AppError::BadRequest(m)
        | AppError::BadParameter { message: m, .. }
        | AppError::BadPageRequest { message: m, .. } => m.trim_end_matches('.').to_string(),
        other => other.to_string(),
    }
}

/// Who queued a message, as the outbox records it: `subscription:12`, `alert:3`.
pub fn origin(s: &Subscription) -> String {
    format!(
        "{}:{}",
        if s.is_alert() {
            "alert"
        } else {
            "subscription"
        },
        s.id
    )
}

fn utc(t: NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn thousands(n: u64) -> String {
    super::thousands(i64::try_from(n).unwrap_or(i64::MAX))
}

/// "capable=no, admin=yes", or "no filter".
fn describe_query(query: &str) -> String {
    if query.is_empty() {
        "no filter".into()
    } else {
        url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The signature of a file link: HMAC-SHA256 of "id:expires" with the
/// subscription's secret, in lowercase hex.
pub fn file_signature(secret: &str, id: i64, expires: i64) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, format!("{id}:{expires}").as_bytes());
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// An alert's rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub condition: String,
    pub threshold: i64,
}

impl Rule {
    pub fn of(s: &Subscription) -> Rule {
        Rule {
            condition: s.condition.clone().unwrap_or_else(|| "above".into()),
            threshold: s.threshold.unwrap_or(0),
        }
    }

    /// Whether the rule holds for `value`, `previous` being the count at
    /// the last check (a change rule never holds on the first check).
    pub fn holds(&self, value: i64, previous: Option<i64>) -> bool {
        let t = self.threshold;
        match (self.condition.as_str(), previous) {
            ("above", _) => value > t,
            ("below", _) => value < t,
            ("rises_by", Some(p)) => value - p > t,
            ("falls_by", Some(p)) => p - value > t,
            // From 0, any rise is more than any percentage.
            ("rises_by_percent", Some(p)) => value > p && (p == 0 || (value - p) * 100 > t * p),
            ("falls_by_percent", Some(p)) => p > 0 && (p - value) * 100 > t * p,
            _ => false,
        }
    }

    /// "is above 0", "rises by more than 100 %".
    pub fn sentence(&self) -> String {
        let t = self.threshold;
        match self.condition.as_str() {
            "above" => format!("is above {t}"),
            "below" => format!("is below {t}"),
            "rises_by" => format!("rises by more than {t} since the last check"),
            "falls_by" => format!("falls by more than {t} since the last check"),
            "rises_by_percent" => format!("rises by more than {t} % since the last check"),
            "falls_by_percent" => format!("falls by more than {t} % since the last check"),
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(condition: &str, threshold: i64) -> Rule {
        Rule {
            condition: condition.into(),
            threshold,
        }
    }

    #[test]
    fn rules_compare_with_the_threshold_or_the_last_check() {
        assert!(rule("above", 0).holds(1, None));
        assert!(!rule("above", 0).holds(0, Some(5)));
        assert!(rule("below", 10).holds(9, None));
        assert!(!rule("rises_by", 5).holds(100, None), "no earlier check");
        assert!(rule("rises_by", 5).holds(16, Some(10)));
        assert!(!rule("rises_by", 5).holds(15, Some(10)));
        assert!(rule("falls_by", 5).holds(4, Some(10)));
        // Doubled: +100 % is not more than 100 %; 21 from 10 is.
        assert!(!rule("rises_by_percent", 100).holds(20, Some(10)));
        assert!(rule("rises_by_percent", 100).holds(21, Some(10)));
        assert!(rule("rises_by_percent", 100).holds(1, Some(0)));
        assert!(rule("falls_by_percent", 5).holds(94, Some(100)));
        assert!(!rule("falls_by_percent", 5).holds(95, Some(100)));
        assert!(!rule("falls_by_percent", 5).holds(0, Some(0)));
    }

    #[test]
    fn a_file_link_signature_depends_on_every_part() {
        let a = file_signature("secret", 1, 100);
        assert_eq!(a.len(), 64);
        assert_ne!(a, file_signature("secret", 2, 100));
        assert_ne!(a, file_signature("secret", 1, 101));
        assert_ne!(a, file_signature("other", 1, 100));
    }
}
