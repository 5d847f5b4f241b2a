//! The notify worker: one thread per portal that takes due messages of the
//! outbox one at a time, with a lease, and sends them; every
//! `--notify-poll-ms`, and at once when woken (a message queued or retried
//! on this portal). A failed attempt is tried again after a pause that
//! doubles each time (with jitter, up to `max_retry`), until the attempts
//! allowed are spent: then the message is given up (`failed`).
//!
//! Several portals on one database each run a worker; the lease hands each
//! message to one of them at a time, and only the holder records the
//! outcome. What is left is at-least-once: a sender that dies after the
//! receiver got the message but before it recorded it leaves the lease to
//! run out, and the message is sent again. Receivers drop such a duplicate
//! by its key (`X-Authinsights-Delivery`, the mail's Message-ID).

use super::settings::NotifySettings;
use super::{mail, webhook, SendError};
use crate::db::outbox::{self, Channel, Claimed, Outcome};
use crate::db::Pool;
use crate::metrics::{Delivery, Notifications};
use chrono::Utc;
use rand::Rng;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// What pending mail says while no SMTP server is configured.
pub const SMTP_NOT_CONFIGURED: &str = "SMTP is not configured";

#[derive(Default)]
struct Signal {
    woken: bool,
    stopped: bool,
}

/// A portal's notify worker.
pub struct Notifier {
    settings: NotifySettings,
    pool: Pool,
    /// Who holds a lease (`leased_by`): this worker, unique per process.
    name: String,
    agent: ureq::Agent,
    counts: Notifications,
    signal: Mutex<Signal>,
    wake: Condvar,
}

impl Notifier {
    /// Starts the worker's thread.
    pub fn start(pool: Pool, settings: NotifySettings, counts: Notifications) -> Arc<Notifier> {
        let notifier = Arc::new(Notifier {
            agent: webhook::agent(settings.webhook_timeout),
            name: format!(
                "pid {} worker {:08x}",
                std::process::id(),
                rand::rng().random::<u32>()
            ),
            settings,
            pool,
            counts,
            signal: Mutex::new(Signal::default()),
            wake: Condvar::new(),
        });
        let worker = notifier.clone();
        std::thread::Builder::new()
            .name("notify".into())
            .spawn(move || worker.run())
            .map_err(|e| tracing::error!("the notify worker cannot start: {e}"))
            .ok();
        notifier
    }

    pub fn settings(&self) -> &NotifySettings {
        &self.settings
    }

    /// Looks for due messages now (one was just queued or retried).
    pub fn wake(&self) {
        self.signal().woken = true;
        self.wake.notify_all();
    }

    /// Ends the thread after the message it is sending, if any.
    pub fn stop(&self) {
        self.signal().stopped = true;
        self.wake.notify_all();
    }

    fn signal(&self) -> MutexGuard<'_, Signal> {
        self.signal.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stopped(&self) -> bool {
        self.signal().stopped
    }

    /// How long a message is held: longer than any attempt can take (the
    /// SMTP timeout bounds each step of a conversation, not all of them).
    fn lease(&self) -> chrono::Duration {
        let smtp = self
            .settings
            .smtp
            .as_ref()
            .map_or(Duration::ZERO, |s| s.timeout * 8);
        let longest = smtp.max(self.settings.webhook_timeout * 2) + Duration::from_secs(60);
        chrono::Duration::from_std(longest).unwrap_or(chrono::Duration::minutes(10))
    }

    fn run(&self) {
        while !self.stopped() {
            if let Err(e) = self.round() {
                tracing::warn!("notify: the database did not answer: {e}");
            }
            let signal = self.signal();
            if signal.stopped {
                break;
            }
            if !signal.woken {
                let (mut signal, _) = self
                    .wake
                    .wait_timeout(signal, self.settings.poll)
                    .unwrap_or_else(|e| e.into_inner());
                signal.woken = false;
            } else {
                drop(signal);
                self.signal().woken = false;
            }
        }
    }

    /// Sends every message due now, one at a time; the connection is given
    /// back to the pool while a message is on its way.
    fn round(&self) -> anyhow::Result<()> {
        let channels: &[Channel] = if self.settings.smtp.is_some() {
            &Channel::ALL
        } else {
            let mut conn = self.pool.get()?;
            outbox::note_waiting(&mut conn, Channel::Email, SMTP_NOT_CONFIGURED)?;
            &[Channel::Webhook]
        };
        while !self.stopped() {
            let claimed = {
                let mut conn = self.pool.get()?;
                outbox::claim(
                    &mut conn,
                    channels,
                    &self.name,
                    Utc::now().naive_utc(),
                    self.lease(),
                )?
            };
            let Some(message) = claimed else {
                break;
            };
            let result = self.send(&message);
            let now = Utc::now().naive_utc();
            let (outcome, counted) = match &result {
                Ok(()) => (Outcome::Sent, Delivery::Sent),
                Err(e) if e.permanent || message.attempt >= self.max_attempts() => {
                    (Outcome::Failed { error: &e.message }, Delivery::Failed)
                }
                Err(e) => {
                    let pause = backoff(
                        self.settings.first_retry,
                        self.settings.max_retry,
                        message.attempt,
                    );
                    let at = now
                        + chrono::Duration::from_std(pause).unwrap_or(chrono::Duration::hours(1));
                    (
                        Outcome::Retry {
                            error: &e.message,
                            at,
                        },
                        Delivery::Retry,
                    )
                }
            };
            self.counts.record(message.channel.key(), counted);
            let mut conn = self.pool.get()?;
            if !outbox::finish(&mut conn, message.id, &self.name, &outcome, now)? {
                tracing::warn!(
                    "notify: message {} ({}) was taken over by another sender before its \
                     outcome was recorded: its lease ran out",
                    message.id,
                    message.origin
                );
            }
            match &result {
                Ok(()) => tracing::info!(
                    "notify: {} {} ({}) sent, attempt {}",
                    message.channel.key(),
                    message.id,
                    message.origin,
                    message.attempt
                ),
                Err(e) => tracing::warn!(
                    "notify: {} {} ({}) attempt {} failed: {}",
                    message.channel.key(),
                    message.id,
                    message.origin,
                    message.attempt,
                    e.message
                ),
            }
        }
        Ok(())
    }

    fn max_attempts(&self) -> i32 {
        i32::try_from(self.settings.max_attempts).unwrap_or(i32::MAX)
    }

    fn send(&self, message: &Claimed) -> Result<(), SendError> {
        match message.channel {
            Channel::Email => {
                let Some(smtp) = &self.settings.smtp else {
                    return Err(SendError::retry(SMTP_NOT_CONFIGURED));
                };
                mail::send(
                    smtp,
                    &mail::Mail {
                        key: &message.key,
                        to: &message.destination,
                        subject: &message.subject,
                        body: &message.body,
                        attachment: message
                            .attachment
                            .as_ref()
                            .map(|(name, bytes)| (name.as_str(), bytes.as_slice())),
                    },
                )
            }
            Channel::Webhook => webhook::send(
                &self.agent,
                &webhook::Hook {
                    key: &message.key,
                    url: &message.destination,
                    body: &message.body,
                    secret: message.secret.as_deref(),
                },
                Utc::now().timestamp(),
            ),
        }
    }
}

/// The pause after failed attempt `attempt` (1 for the first): `first`
/// doubled for each attempt before, with ±20 % jitter (so that many
/// messages that failed together do not all come back at once), never more
/// than `max`.
pub fn backoff(first: Duration, max: Duration, attempt: i32) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    let base = first.saturating_mul(1 << doublings).min(max);
    let jitter = rand::rng().random_range(0.8..1.2);
    base.mul_f64(jitter).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_doubles_with_jitter_up_to_the_cap() {
        let first = Duration::from_secs(30);
        let hour = Duration::from_secs(3600);
        for (attempt, base) in [(1, 30.0), (2, 60.0), (3, 120.0), (5, 480.0)] {
            let pause = backoff(first, hour, attempt).as_secs_f64();
            assert!(
                pause >= base * 0.8 && pause <= base * 1.2,
                "{attempt}: {pause}"
            );
        }
        for attempt in [8, 20, 100, i32::MAX] {
            let pause = backoff(first, hour, attempt);
            assert!(pause <= hour && pause >= hour.mul_f64(0.8), "{pause:?}");
        }
    }
}
