//! Delivery of the outbox (`db::outbox`): mail through the configured SMTP
//! server and signed webhooks, sent by one worker thread per portal
//! (`worker`), and `authinsights notify test`. Subscriptions and alerts
//! queue messages with `db::outbox::enqueue` in their own transaction and
//! wake the worker; everything after that is here (docs/notifications.md).

pub mod mail;
pub mod settings;
pub mod webhook;
pub mod worker;

pub use settings::{NotifyArgs, NotifySettings, SmtpArgs, SmtpSecurity, SmtpSettings};
pub use worker::{Notifier, SMTP_NOT_CONFIGURED};

use std::fmt;

/// Why an attempt did not deliver a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// In words, for the admin page and the log.
    pub message: String,
    /// No later attempt can do better (the message itself is wrong: a bad
    /// address): it is given up at once.
    pub permanent: bool,
}

impl SendError {
    pub fn retry(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            permanent: false,
        }
    }

    pub fn permanent(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            permanent: true,
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SendError {}

/// `notify test`: one mail to `to`, sent at once through `smtp` (not
/// through the outbox), so that an administrator sees whether the settings
/// work. Its key is new each time: a receiver keeps every test.
pub fn send_test_mail(smtp: &SmtpSettings, to: &[String]) -> Result<(), SendError> {
    let now = chrono::Utc::now();
    let key = format!("test:{}", now.format("%Y%m%dT%H%M%S%.6fZ"));
    let body = format!(
        "This is a test message from authinsights, sent {} UTC through {}.\n\n\
         If it arrived, the portal's mail settings work: subscriptions and alerts \
         reach their recipients the same way.\n",
        now.format("%Y-%m-%d %H:%M:%S"),
        smtp.describe()
    );
    mail::send(
        smtp,
        &mail::Mail {
            key: &key,
            to: &to.join(","),
            subject: "authinsights: test message",
            body: &body,
            attachment: None,
        },
    )
}
