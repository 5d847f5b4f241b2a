//! Settings read once from flags and the environment.

use chrono::Duration;
use std::path::PathBuf;

/// What the web layer needs besides the database.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Folder of the stylesheet and other static files.
    pub static_dir: PathBuf,
    pub security: SecuritySettings,
    pub downloads: DownloadSettings,
    /// How the process logs: the request log's level depends on it.
    pub log_format: LogFormat,
    pub subscriptions: SubscriptionSettings,
}

/// How subscriptions and alerts run on this portal.
#[derive(Debug, Clone)]
pub struct SubscriptionSettings {
    /// The portal's address as readers reach it, for links in messages
    /// (`--public-url`), without a trailing slash.
    pub public_url: String,
    /// A report file up to this size is attached; a larger one is sent as a
    /// signed link (`--attach-max-bytes`).
    pub attach_max_bytes: usize,
    /// How long a signed link works.
    pub link_valid: Duration,
    /// How often the portal looks for due subscriptions and changed data
    /// (`--check-subscriptions-seconds`).
    pub every: std::time::Duration,
}

impl Default for SubscriptionSettings {
    fn default() -> Self {
        SubscriptionSettings {
            public_url: "http://127.0.0.1:8080".into(),
            attach_max_bytes: 5 * 1024 * 1024,
            link_valid: Duration::days(7),
            every: std::time::Duration::from_secs(15),
        }
    }
}

/// The environment variable that chooses how logs are written.
pub const LOG_FORMAT_VAR: &str = "AUTHINSIGHTS_LOG_FORMAT";

/// How logs are written to standard error (`AUTHINSIGHTS_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Plain lines for a person (the default).
    #[default]
    Text,
    /// One JSON object per line, for a log pipeline.
    Json,
}

impl LogFormat {
    /// `text` or `json` (in any case, surrounding space ignored); an empty
    /// value is the default.
    pub fn parse(value: &str) -> Result<LogFormat, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!(
                "{LOG_FORMAT_VAR}={value:?} is not a log format: use text (the default) or json"
            )),
        }
    }

    /// The format `AUTHINSIGHTS_LOG_FORMAT` asks for; unset is plain text.
    pub fn from_env() -> Result<LogFormat, String> {
        match std::env::var(LOG_FORMAT_VAR) {
            Ok(value) => LogFormat::parse(&value),
            Err(std::env::VarError::NotPresent) => Ok(LogFormat::Text),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!(
                "{LOG_FORMAT_VAR} is not valid text: use text (the default) or json"
            )),
        }
    }
}

/// CSV downloads hold a database connection for as long as they stream, so
/// they get a bounded share of the pool of their own: pages, the API and
/// sign-in keep the rest whatever the downloads do.
#[derive(Debug, Clone)]
pub struct DownloadSettings {
    /// Downloads streaming at once; one more gets a 503 with Retry-After.
    /// `None`: half the pool (at least one).
    pub max_at_once: Option<usize>,
    /// A download whose client has read nothing for this long is cut off
    /// (the client sees a failed download) and gives its connection back.
    pub idle: std::time::Duration,
}

impl Default for DownloadSettings {
    fn default() -> Self {
        DownloadSettings {
            max_at_once: None,
            idle: std::time::Duration::from_secs(30),
        }
    }
}

impl DownloadSettings {
    /// How many downloads may stream at once from a pool of `pool_size`.
    pub fn budget(&self, pool_size: u32) -> usize {
        let half = (pool_size as usize / 2).max(1);
        self.max_at_once.unwrap_or(half).max(1)
    }
}

/// When the session cookie carries the `Secure` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SecureCookies {
    /// When the request came over HTTPS, as a trusted proxy's
    /// `X-Forwarded-Proto` / `Forwarded` says (with `--trust-forwarded-for`).
    Auto,
    Always,
    Never,
}

/// Sessions and sign-in throttling.
#[derive(Debug, Clone)]
pub struct SecuritySettings {
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub session_absolute: Duration,
    pub secure_cookies: SecureCookies,
    /// Stand behind a proxy: take the client address from
    /// `X-Forwarded-For`, and the scheme and host the client used from
    /// `Forwarded` / `X-Forwarded-Proto` / `X-Forwarded-Host`. Otherwise
    /// those headers are ignored (any client could send them).
    pub trust_forwarded_for: bool,
    /// Failed sign-ins of one account that lock it.
    pub account_failures: i32,
    /// Failed sign-ins from one client address that block it.
    pub address_failures: i32,
    /// Failures count within this window.
    pub failure_window: Duration,
    /// How long a lock lasts.
    pub lock: Duration,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings {
            session_idle: Duration::minutes(30),
            session_absolute: Duration::hours(12),
            secure_cookies: SecureCookies::Auto,
            trust_forwarded_for: false,
            account_failures: 5,
            address_failures: 20,
            failure_window: Duration::minutes(15),
            lock: Duration::minutes(15),
        }
    }
}

impl WebSettings {
    /// `AUTHINSIGHTS_STATIC_DIR`, else `static/` of the source tree the binary
    /// was built from, else `./static`.
    pub fn from_env() -> WebSettings {
        let static_dir = std::env::var_os("AUTHINSIGHTS_STATIC_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("static");
                if built.is_dir() {
                    built
                } else {
                    PathBuf::from("static")
                }
            });
        WebSettings {
            static_dir,
            security: SecuritySettings::default(),
            downloads: DownloadSettings::default(),
            // `main` refuses an unknown value before anything runs.
            log_format: LogFormat::from_env().unwrap_or_default(),
            subscriptions: SubscriptionSettings::default(),
        }
    }
}

/// Default database when neither `--database-url` nor `DATABASE_URL` is given.
pub const DEFAULT_DATABASE_URL: &str = "./authinsights.db";
/// Default listen address of `serve`.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_formats_are_text_or_json() {
        assert_eq!(LogFormat::parse("json"), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse(" JSON "), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse("text"), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(""), Ok(LogFormat::Text));
        let e = LogFormat::parse("xml").unwrap_err();
        assert!(e.contains("AUTHINSIGHTS_LOG_FORMAT"), "{e}");
        assert!(e.contains("text") && e.contains("json"), "{e}");
    }
}
