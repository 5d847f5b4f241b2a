//! The outbox: mails and webhooks queued by the portal (subscriptions,
//! alerts, `notify test`) and the notify worker's bookkeeping of each.
//!
//! A message is queued in the transaction that decided to send it
//! ([`enqueue`]), once per idempotency key. A worker takes one due message
//! at a time with a lease ([`claim`]): one statement sets `lease_until` and
//! `leased_by` on a message whose lease is free, so however many portals
//! share the database, one sender holds a message at a time. Only the lease
//! holder can record the outcome ([`finish`]). A sender that dies leaves the
//! lease to run out; the message is then claimed again.

use super::schema::outbox;
use super::{DbConnection, DbResult};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use std::collections::HashMap;

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Webhook,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Email, Channel::Webhook];

    /// The stored name: `email` or `webhook`.
    pub fn key(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }

    pub fn from_key(key: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.key() == key)
    }
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not sent yet: due at `next_attempt_at`.
    Pending,
    Sent,
    /// Given up after the last attempt allowed.
    Failed,
}

impl State {
    pub const ALL: [State; 3] = [State::Pending, State::Sent, State::Failed];

    /// The stored name: `pending`, `sent` or `failed`.
    pub fn key(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sent => "sent",
            State::Failed => "failed",
        }
    }

    pub fn from_key(key: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// A message to queue.
#[derive(Debug, Clone, Copy)]
pub struct NewMessage<'a> {
    /// Unique per message: a second enqueue with the same key does nothing.
    /// It is also what receivers see (`X-Authinsights-Delivery`, the mail's
    /// Message-ID) to drop a duplicate.
    pub key: &'a str,
    /// Who queued it: `subscription:12`, `alert:3`, `test`.
    pub origin: &'a str,
    pub channel: Channel,
    /// Comma-separated mail addresses, or the webhook's URL.
    pub destination: &'a str,
    pub subject: &'a str,
    /// The mail's text, or the webhook's JSON body.
    pub body: &'a str,
    /// A mail's attachment: file name and bytes (sent as text/csv).
    pub attachment: Option<(&'a str, &'a [u8])>,
    /// The webhook's signing secret.
    pub secret: Option<&'a str>,
}

/// A message as the admin page and "last result" columns show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    pub key: String,
    pub origin: String,
    pub channel: Channel,
    pub destination: String,
    pub subject: String,
    pub state: State,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = outbox)]
struct EntryRow {
    id: i64,
    idempotency_key: String,
    origin: String,
    channel: String,
    destination: String,
    subject: String,
    state: String,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    last_error: Option<String>,
    created_at: NaiveDateTime,
    sent_at: Option<NaiveDateTime>,
}

/// A stored name this code does not know: the row was not written by it.
fn unknown(what: &str, value: &str) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(format!("outbox: unknown {what} {value:?}").into())
}

impl TryFrom<EntryRow> for OutboxEntry {
    type Error = diesel::result::Error;

    fn try_from(row: EntryRow) -> DbResult<OutboxEntry> {
        Ok(OutboxEntry {
            channel: Channel::from_key(&row.channel)
                .ok_or_else(|| unknown("channel", &row.channel))?,
            state: State::from_key(&row.state).ok_or_else(|| unknown("state", &row.state))?,
            id: row.id,
            key: row.idempotency_key,
            origin: row.origin,
            destination: row.destination,
            subject: row.subject,
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at,
            last_error: row.last_error,
            created_at: row.created_at,
            sent_at: row.sent_at,
        })
    }
}

fn entries(rows: Vec<EntryRow>) -> DbResult<Vec<OutboxEntry>> {
    rows.into_iter().map(OutboxEntry::try_from).collect()
}

/// Queues a message; `Ok(false)` when a message with this key exists
/// already (nothing changes). It works inside the caller's transaction: a
/// repeated key is no error (an upsert that does nothing), so the caller's
/// transaction goes on.
pub fn enqueue(
    conn: &mut DbConnection,
    message: &NewMessage,
    now: NaiveDateTime,
) -> DbResult<bool> {
    let values = (
        outbox::idempotency_key.eq(message.key),
        outbox::origin.eq(message.origin),
        outbox::channel.eq(message.channel.key()),
        outbox::destination.eq(message.destination),
        outbox::subject.eq(message.subject),
        outbox::body.eq(message.body),
        outbox::attachment_name.eq(message.attachment.map(|(name, _)| name)),
        outbox::attachment.eq(message.attachment.map(|(_, bytes)| bytes)),
        outbox::secret.eq(message.secret),
        outbox::state.eq(State::Pending.key()),
        outbox::attempts.eq(0),
        outbox::next_attempt_at.eq(now),
        outbox::created_at.eq(now),
    );
    let inserted = super::with_backend!(conn, c => diesel::insert_into(outbox::table)
        .values(values)
        .on_conflict(outbox::idempotency_key)
        .do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// The newest message of each origin given (for "last result" columns);
/// an origin with no message is not in the map.
pub fn latest_by_origin(
    conn: &mut DbConnection,
    origins: &[String],
) -> DbResult<HashMap<String, OutboxEntry>> {
    if origins.is_empty() {
        return Ok(HashMap::new());
    }
    let newest: Vec<Option<i64>> = outbox::table
        .filter(outbox::origin.eq_any(origins))
        .group_by(outbox::origin)
        .select(diesel::dsl::max(outbox::id))
        .load(conn)?;
    let newest: Vec<i64> = newest.into_iter().flatten().collect();
    let rows: Vec<EntryRow> = outbox::table
        .filter(outbox::id.eq_any(newest))
        .select(EntryRow::as_select())
        .load(conn)?;
    Ok(entries(rows)?
        .into_iter()
        .map(|e| (e.origin.clone(), e))
        .collect())
}

/// Recent messages, newest first (the admin page).
pub fn recent(conn: &mut DbConnection, limit: i64) -> DbResult<Vec<OutboxEntry>> {
    let rows = outbox::table
        .order(outbox::id.desc())
        .limit(limit)
        .select(EntryRow::as_select())
        .load(conn)?;
    entries(rows)
}

/// One message, when it exists.
pub fn find(conn: &mut DbConnection, id: i64) -> DbResult<Option<OutboxEntry>> {
    outbox::table
        .find(id)
        .select(EntryRow::as_select())
        .first(conn)
        .optional()?
        .map(OutboxEntry::try_from)
        .transpose()
}

/// Messages not sent: pending and failed, both present (0 for none), for
/// the metrics. Sent ones are not counted (they only grow).
pub fn count_unsent(conn: &mut DbConnection) -> DbResult<Vec<(State, i64)>> {
    let unsent = [State::Pending, State::Failed];
    let counted: Vec<(String, i64)> = outbox::table
        .filter(outbox::state.eq_any(unsent.map(State::key)))
        .group_by(outbox::state)
        .select((outbox::state, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(unsent
        .into_iter()
        .map(|s| {
            let n = counted
                .iter()
                .find(|(k, _)| k == s.key())
                .map_or(0, |(_, n)| *n);
            (s, n)
        })
        .collect())
}

/// A message handed to one sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: i64,
    pub key: String,
    pub origin: String,
    pub channel: Channel,
    pub destination: String,
    pub subject: String,
    pub body: String,
    /// File name and bytes.
    pub attachment: Option<(String, Vec<u8>)>,
    pub secret: Option<String>,
    /// This attempt's number: 1 for the first.
    pub attempt: i32,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = outbox)]
struct ClaimedRow {
    id: i64,
    idempotency_key: String,
    origin: String,
    channel: String,
    destination: String,
    subject: String,
    body: String,
    attachment_name: Option<String>,
    attachment: Option<Vec<u8>>,
    secret: Option<String>,
    attempts: i32,
}

impl TryFrom<ClaimedRow> for Claimed {
    type Error = diesel::result::Error;

    fn try_from(row: ClaimedRow) -> DbResult<Claimed> {
        Ok(Claimed {
            channel: Channel::from_key(&row.channel)
                .ok_or_else(|| unknown("channel", &row.channel))?,
            id: row.id,
            key: row.idempotency_key,
            origin: row.origin,
            destination: row.destination,
            subject: row.subject,
            body: row.body,
            attachment: match (row.attachment_name, row.attachment) {
                (Some(name), Some(bytes)) => Some((name, bytes)),
                (None, Some(bytes)) => Some(("attachment.csv".into(), bytes)),
                _ => None,
            },
            secret: row.secret,
            attempt: row.attempts,
        })
    }
}

/// Takes the most overdue pending message of the channels given whose
/// lease is free, for `worker`, until `now + lease`; its attempts are
/// counted at once (so a message that crashes its sender still reaches the
/// cap). `None` when nothing is due.
///
/// The lease is taken by an UPDATE whose WHERE repeats the "due and lease
/// free" test, so of two senders racing for a row the second finds it
/// leased and takes nothing (PostgreSQL re-checks the WHERE on the row the
/// first one wrote; SQLite has one writer at a time). On PostgreSQL the
/// candidate is picked `FOR UPDATE SKIP LOCKED` in the same transaction,
/// so a sender passes over a row another is taking instead of waiting.
pub fn claim(
    conn: &mut DbConnection,
    channels: &[Channel],
    worker: &str,
    now: NaiveDateTime,
    lease: Duration,
) -> DbResult<Option<Claimed>> {
    let channels: Vec<&str> = channels.iter().map(|c| c.key()).collect();
    if channels.is_empty() {
        return Ok(None);
    }
    let until = now + lease;
    macro_rules! due {
        () => {
            outbox::table
                .filter(outbox::state.eq(State::Pending.key()))
                .filter(outbox::next_attempt_at.le(now))
                .filter(outbox::channel.eq_any(&channels))
                .filter(
                    outbox::lease_until
                        .is_null()
                        .or(outbox::lease_until.lt(now)),
                )
        };
    }
    macro_rules! take {
        ($c:expr, $id:expr) => {
            diesel::update(due!().filter(outbox::id.eq($id)))
                .set((
                    outbox::lease_until.eq(until),
                    outbox::leased_by.eq(worker),
                    outbox::attempts.eq(outbox::attempts + 1),
                ))
                .returning(ClaimedRow::as_returning())
                .get_result::<ClaimedRow>($c)
                .optional()
        };
    }
    let row = match conn {
        DbConnection::Postgresql(c) => c.transaction(|c| {
            let candidate: Option<i64> = due!()
                .order((outbox::next_attempt_at.asc(), outbox::id.asc()))
                .select(outbox::id)
                .limit(1)
                .for_update()
                .skip_locked()
                .first(c)
                .optional()?;
            match candidate {
                Some(id) => take!(c, id),
                None => Ok(None),
            }
        })?,
        // One writer at a time: a sender that lost the race for the row it
        // picked finds the lease taken, and picks again.
        DbConnection::Sqlite(c) => {
            let mut taken = None;
            for _ in 0..5 {
                let candidate: Option<i64> = due!()
                    .order((outbox::next_attempt_at.asc(), outbox::id.asc()))
                    .select(outbox::id)
                    .first(c)
                    .optional()?;
                let Some(id) = candidate else { break };
                taken = take!(c, id)?;
                if taken.is_some() {
                    break;
                }
            }
            taken
        }
    };
    row.map(Claimed::try_from).transpose()
}

/// What became of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<'a> {
    Sent,
    /// Try again at this time.
    Retry {
        error: &'a str,
        at: NaiveDateTime,
    },
    /// Given up.
    Failed {
        error: &'a str,
    },
}

/// Records an attempt's outcome and frees the lease; `Ok(false)` when
/// `worker` no longer holds the message's lease (it ran out and another
/// sender took the message), and then nothing changes.
pub fn finish(
    conn: &mut DbConnection,
    id: i64,
    worker: &str,
    outcome: &Outcome,
    now: NaiveDateTime,
) -> DbResult<bool> {
    let held = outbox::table
        .filter(outbox::id.eq(id))
        .filter(outbox::state.eq(State::Pending.key()))
        .filter(outbox::leased_by.eq(worker));
    let free = (
        outbox::lease_until.eq(None::<NaiveDateTime>),
        outbox::leased_by.eq(None::<String>),
    );
    let changed = match outcome {
        Outcome::Sent => diesel::update(held)
            .set((
                free,
                outbox::state.eq(State::Sent.key()),
                outbox::sent_at.eq(now),
                outbox::last_error.eq(None::<String>),
            ))
            .execute(conn)?,
        Outcome::Retry { error, at } => diesel::update(held)
            .set((
                free,
                outbox::next_attempt_at.eq(at),
                outbox::last_error.eq(error),
            ))
            .execute(conn)?,
        Outcome::Failed { error } => diesel::update(held)
            .set((
                free,
                outbox::state.eq(State::Failed.key()),
                outbox::last_error.eq(error),
            ))
            .execute(conn)?,
    };
    Ok(changed == 1)
}

/// Says on pending messages of `channel` never tried why they wait (no
/// SMTP server configured on this portal); nothing else changes.
pub fn note_waiting(conn: &mut DbConnection, channel: Channel, reason: &str) -> DbResult<usize> {
    diesel::update(
        outbox::table
            .filter(outbox::state.eq(State::Pending.key()))
            .filter(outbox::channel.eq(channel.key()))
            .filter(outbox::last_error.is_null()),
    )
    .set(outbox::last_error.eq(reason))
    .execute(conn)
}

/// Why "Retry now" changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRetried {
    NotFound,
    AlreadySent,
    /// A sender holds it this moment.
    BeingSent,
}

/// Makes a pending or failed message due now (a failed one pending again,
/// with one more attempt before it is given up again). A message a sender
/// holds is left to it, so it is never sent twice at once.
pub fn retry_now(
    conn: &mut DbConnection,
    id: i64,
    now: NaiveDateTime,
) -> DbResult<Result<OutboxEntry, NotRetried>> {
    let changed = diesel::update(
        outbox::table
            .filter(outbox::id.eq(id))
            .filter(outbox::state.ne(State::Sent.key()))
            .filter(
                outbox::lease_until
                    .is_null()
                    .or(outbox::lease_until.lt(now)),
            ),
    )
    .set((
        outbox::state.eq(State::Pending.key()),
        outbox::next_attempt_at.eq(now),
        outbox::lease_until.eq(None::<NaiveDateTime>),
        outbox::leased_by.eq(None::<String>),
    ))
    .execute(conn)?;
    let entry = find(conn, id)?;
    Ok(match (changed, entry) {
        (_, None) => Err(NotRetried::NotFound),
        (1, Some(entry)) => Ok(entry),
        (_, Some(entry)) if entry.state == State::Sent => Err(NotRetried::AlreadySent),
        (_, Some(_)) => Err(NotRetried::BeingSent),
    })
}
