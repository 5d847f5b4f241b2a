//! Mail through the configured SMTP server (lettre's blocking transport):
//! a text/plain UTF-8 body, an optional CSV attachment, and a Message-ID
//! made from the message's idempotency key, so that a receiver can drop a
//! duplicate.

use super::settings::{SmtpSecurity, SmtpSettings};
use super::SendError;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};
use sha2::{Digest, Sha256};

/// The Message-ID of the message with idempotency key `key` sent from
/// `from`'s domain: the same for every attempt, so that a receiver that got
/// it twice (a crash between sending and recording it) can tell.
pub fn message_id(key: &str, from: &Mailbox) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("<outbox.{hex}@{}>", from.email.domain())
}

/// One mail to send.
pub struct Mail<'a> {
    pub key: &'a str,
    /// Comma-separated addresses.
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub attachment: Option<(&'a str, &'a [u8])>,
}

/// The addresses of a comma-separated list; a bad one is a permanent error.
fn recipients(to: &str) -> Result<Vec<Mailbox>, SendError> {
    let list: Vec<Mailbox> = to
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.parse::<Mailbox>()
                .map_err(|e| SendError::permanent(format!("{a:?} is not a mail address ({e})")))
        })
        .collect::<Result<_, _>>()?;
    if list.is_empty() {
        return Err(SendError::permanent("the message has no recipient"));
    }
    Ok(list)
}

fn build(settings: &SmtpSettings, mail: &Mail) -> Result<Message, SendError> {
    let mut builder = Message::builder()
        .from(settings.from.clone())
        .subject(mail.subject)
        .message_id(Some(message_id(mail.key, &settings.from)))
        .user_agent(concat!("authinsights/", env!("CARGO_PKG_VERSION")).to_string());
    for to in recipients(mail.to)? {
        builder = builder.to(to);
    }
    let built = match mail.attachment {
        None => builder.singlepart(SinglePart::plain(mail.body.to_string())),
        Some((name, bytes)) => {
            let csv = ContentType::parse("text/csv; charset=utf-8")
                .map_err(|e| SendError::permanent(format!("the attachment's type: {e}")))?;
            builder.multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(mail.body.to_string()))
                    .singlepart(Attachment::new(name.to_string()).body(bytes.to_vec(), csv)),
            )
        }
    };
    built.map_err(|e| SendError::permanent(format!("the mail cannot be made: {e}")))
}

fn transport(settings: &SmtpSettings) -> Result<SmtpTransport, SendError> {
    let tls = || {
        TlsParameters::new(settings.host.clone())
            .map_err(|e| SendError::retry(format!("TLS to {}: {e}", settings.host)))
    };
    let mut builder = SmtpTransport::builder_dangerous(settings.host.as_str())
        .port(settings.port)
        .timeout(Some(settings.timeout))
        .tls(match settings.security {
            SmtpSecurity::Starttls => Tls::Required(tls()?),
            SmtpSecurity::Tls => Tls::Wrapper(tls()?),
            SmtpSecurity::None => Tls::None,
        });
    if let Some((user, password)) = &settings.credentials {
        builder = builder
            .credentials(Credentials::new(user.clone(), password.0.clone()))
            .authentication(vec![Mechanism::Plain, Mechanism::Login]);
    }
    Ok(builder.build())
}

/// Sends one mail through the server; the error says what went wrong in
/// words. Every refusal of the server, a 5xx too, is worth another try (a
/// mailbox gets made, a sign-in fixed) until the attempts run out; only a
/// mail that cannot be made (a bad address) is not.
pub fn send(settings: &SmtpSettings, mail: &Mail) -> Result<(), SendError> {
    let message = build(settings, mail)?;
    let transport = transport(settings)?;
    transport
        .send(&message)
        .map(drop)
        .map_err(|e| SendError::retry(format!("the SMTP server {}: {e}", settings.describe())))
}
