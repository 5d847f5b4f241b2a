//! The notify worker's settings: the SMTP server (shared by `serve` and
//! `notify test`) and the worker's pace (`serve` only), from flags or the
//! environment. The SMTP password is never shown.

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption at all (port 25): only for a relay on this machine or
    /// a trusted network.
    None,
}

impl SmtpSecurity {
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            SmtpSecurity::Starttls => "starttls",
            SmtpSecurity::Tls => "tls",
            SmtpSecurity::None => "none",
        }
    }
}

/// The SMTP flags (and environment variables), shared by `serve` and
/// `notify test`. The password comes from `AUTHINSIGHTS_SMTP_PASSWORD` or
/// a file, never from a flag (a flag shows in the process list); `Debug`
/// leaves it out.
#[derive(Clone, Args)]
pub struct SmtpArgs {
    /// The SMTP server's host name; without it no mail is sent (webhooks
    /// still are).
    #[arg(long, env = "AUTHINSIGHTS_SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// The SMTP server's port (default: 587 with starttls, 465 with tls, 25
    /// with none).
    #[arg(long, env = "AUTHINSIGHTS_SMTP_PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub smtp_port: Option<u16>,
    /// starttls (required, not merely tried), tls, or none.
    #[arg(
        long,
        env = "AUTHINSIGHTS_SMTP_SECURITY",
        value_enum,
        default_value = "starttls"
    )]
    pub smtp_security: SmtpSecurity,
    /// The account to sign in to the SMTP server with (AUTH PLAIN or
    /// LOGIN); its password is AUTHINSIGHTS_SMTP_PASSWORD or the file of
    /// --smtp-password-file.
    #[arg(long, env = "AUTHINSIGHTS_SMTP_USER")]
    pub smtp_user: Option<String>,
    /// A file holding the SMTP password (a mounted secret).
    #[arg(long, env = "AUTHINSIGHTS_SMTP_PASSWORD_FILE")]
    pub smtp_password_file: Option<PathBuf>,
    /// The sender of every mail, e.g. "Authinsights <reports@example.com>";
    /// required with --smtp-host.
    #[arg(long, env = "AUTHINSIGHTS_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// The longest the SMTP server may take to answer one step.
    #[arg(long, env = "AUTHINSIGHTS_SMTP_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub smtp_timeout_seconds: u64,
    /// AUTHINSIGHTS_SMTP_PASSWORD, read from the environment only.
    #[arg(skip = std::env::var("AUTHINSIGHTS_SMTP_PASSWORD").ok())]
    pub smtp_password: Option<String>,
}

impl fmt::Debug for SmtpArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpArgs")
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_security", &self.smtp_security)
            .field("smtp_user", &self.smtp_user)
            .field("smtp_password_file", &self.smtp_password_file)
            .field("smtp_from", &self.smtp_from)
            .field("smtp_timeout_seconds", &self.smtp_timeout_seconds)
            .field(
                "smtp_password",
                &self.smtp_password.as_ref().map(|_| "(hidden)"),
            )
            .finish()
    }
}

impl SmtpArgs {
    /// The SMTP server, `None` when no host is set, or what is missing or
    /// wrong, in words.
    pub fn settings(&self) -> anyhow::Result<Option<SmtpSettings>> {
        let Some(host) = self
            .smtp_host
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
        else {
            return Ok(None);
        };
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':' | '[' | ']'))
        {
            bail!("AUTHINSIGHTS_SMTP_HOST: {host:?} is not a host name or an address");
        }
        let from = self
            .smtp_from
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .context(
                "no sender: set AUTHINSIGHTS_SMTP_FROM (or --smtp-from) to the address mail comes from",
            )?;
        let from: lettre::message::Mailbox = from.parse().map_err(|e| {
            anyhow::anyhow!("AUTHINSIGHTS_SMTP_FROM: {from:?} is not a mail address ({e})")
        })?;
        let password = match (&self.smtp_password, &self.smtp_password_file) {
            (Some(_), Some(_)) => {
                bail!("both AUTHINSIGHTS_SMTP_PASSWORD and a password file are set: give one")
            }
            (Some(p), None) => Some(Password(p.clone())),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("{}: the SMTP password file cannot be read", path.display())
                })?;
                Some(Password(text.trim_end_matches(['\r', '\n']).to_string()))
            }
            (None, None) => None,
        };
        let user = self
            .smtp_user
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty());
        let credentials = match (user, password) {
            (Some(user), Some(password)) => Some((user.to_string(), password)),
            (Some(_), None) => bail!(
                "--smtp-user is set without a password: set AUTHINSIGHTS_SMTP_PASSWORD or \
                 AUTHINSIGHTS_SMTP_PASSWORD_FILE"
            ),
            (None, Some(_)) => {
                bail!("an SMTP password is set without --smtp-user (AUTHINSIGHTS_SMTP_USER)")
            }
            (None, None) => None,
        };
        Ok(Some(SmtpSettings {
            host: host.to_string(),
            port: self.smtp_port.unwrap_or(self.smtp_security.default_port()),
            security: self.smtp_security,
            credentials,
            from,
            timeout: Duration::from_secs(self.smtp_timeout_seconds),
        }))
    }
}

/// An SMTP password: shown nowhere, logged never.
#[derive(Clone)]
pub struct Password(pub String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(hidden)")
    }
}

/// The SMTP server mail goes through.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// User name and password, when the server wants a sign-in.
    pub credentials: Option<(String, Password)>,
    pub from: lettre::message::Mailbox,
    pub timeout: Duration,
}

impl SmtpSettings {
    /// A server without sign-in or encryption (a relay on this machine,
    /// the tests' sink).
    pub fn plain(host: &str, port: u16, from: &str) -> anyhow::Result<SmtpSettings> {
        Ok(SmtpSettings {
            host: host.to_string(),
            port,
            security: SmtpSecurity::None,
            credentials: None,
            from: from
                .parse()
                .map_err(|e| anyhow::anyhow!("{from:?} is not a mail address ({e})"))?,
            timeout: Duration::from_secs(10),
        })
    }

    /// "smtp.example.com:587 (starttls)", for messages and logs.
    pub fn describe(&self) -> String {
        format!("{}:{} ({})", self.host, self.port, self.security.key())
    }
}

/// The worker's pace, `serve` only.
#[derive(Debug, Clone, Args)]
pub struct NotifyArgs {
    /// How often the notify worker looks for messages due, in
    /// milliseconds (a message queued on this portal is sent at once).
    #[arg(long, env = "AUTHINSIGHTS_NOTIFY_POLL_MS", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub notify_poll_ms: u64,
    /// The pause before a failed message's first retry, in milliseconds;
    /// each further retry doubles it (with jitter), up to an hour.
    #[arg(long, env = "AUTHINSIGHTS_NOTIFY_RETRY_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub notify_retry_ms: u64,
    /// Attempts of a message before it is given up (state failed).
    #[arg(long, env = "AUTHINSIGHTS_NOTIFY_MAX_ATTEMPTS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub notify_max_attempts: u32,
    /// The longest a webhook's receiver may take to answer.
    #[arg(long, env = "AUTHINSIGHTS_WEBHOOK_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub webhook_timeout_seconds: u64,
}

/// Everything the notify worker needs.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// `None`: mail waits (pending, with the reason), webhooks still go.
    pub smtp: Option<SmtpSettings>,
    pub poll: Duration,
    /// The pause before the first retry; doubled for each further one.
    pub first_retry: Duration,
    /// The longest pause between two attempts.
    pub max_retry: Duration,
    pub max_attempts: u32,
    pub webhook_timeout: Duration,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            smtp: None,
            poll: Duration::from_secs(5),
            first_retry: Duration::from_secs(30),
            max_retry: Duration::from_secs(3600),
            max_attempts: 10,
            webhook_timeout: Duration::from_secs(30),
        }
    }
}

impl NotifySettings {
    pub fn from_args(args: &NotifyArgs, smtp: Option<SmtpSettings>) -> NotifySettings {
        NotifySettings {
            smtp,
            poll: Duration::from_millis(args.notify_poll_ms),
            first_retry: Duration::from_millis(args.notify_retry_ms),
            max_retry: Duration::from_secs(3600),
            max_attempts: args.notify_max_attempts,
            webhook_timeout: Duration::from_secs(args.webhook_timeout_seconds),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        smtp: SmtpArgs,
    }

    fn parse(args: &[&str]) -> SmtpArgs {
        let mut all = vec!["test"];
        all.extend_from_slice(args);
        let mut smtp = Cli::parse_from(all).smtp;
        smtp.smtp_password = None;
        smtp
    }

    #[test]
    fn no_host_is_no_mail_and_a_host_needs_a_sender() {
        assert!(parse(&[]).settings().unwrap().is_none());
        let err = parse(&["--smtp-host", "mail.example.com"])
            .settings()
            .unwrap_err()
            .to_string();
        assert!(err.contains("AUTHINSIGHTS_SMTP_FROM"), "{err}");
        let err = parse(&[
            "--smtp-host",
            "mail.example.com",
            "--smtp-from",
            "not an address",
        ])
        .settings()
        .unwrap_err()
        .to_string();
        assert!(err.contains("not a mail address"), "{err}");
    }

    #[test]
    fn the_port_follows_the_security_and_the_password_is_never_shown() {
        let base = [
            "--smtp-host",
            "mail.example.com",
            "--smtp-from",
            "a@example.com",
        ];
        let port = |extra: &[&str]| {
            let mut args = base.to_vec();
            args.extend_from_slice(extra);
            parse(&args).settings().unwrap().unwrap().port
        };
        assert_eq!(port(&[]), 587);
        assert_eq!(port(&["--smtp-security", "tls"]), 465);
        assert_eq!(port(&["--smtp-security", "none"]), 25);
        assert_eq!(
            port(&["--smtp-security", "none", "--smtp-port", "2525"]),
            2525
        );

        let mut args = parse(&base);
        args.smtp_user = Some("mailer".into());
        let err = args.settings().unwrap_err().to_string();
        assert!(err.contains("without a password"), "{err}");
        args.smtp_password = Some("pa55-w0rd".into());
        assert!(!format!("{args:?}").contains("pa55"));
        let settings = args.settings().unwrap().unwrap();
        assert!(!format!("{settings:?}").contains("pa55"));
        assert_eq!(settings.describe(), "mail.example.com:587 (starttls)");
    }
}
