//! The connection to a tenant: the app registration's ids, its credential
//! and the two endpoints, from flags or the environment.

use anyhow::{bail, Context};
use clap::Args;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";

/// The flags (and environment variables) of a Graph connection, shared by
/// `sync` and `serve`. Its `Debug` leaves the secret out.
#[derive(Clone, Args)]
pub struct GraphArgs {
    /// The tenant (directory) id of the app registration.
    #[arg(long, env = "AUTHINSIGHTS_GRAPH_TENANT_ID")]
    pub graph_tenant_id: Option<String>,
    /// The application (client) id of the app registration.
    #[arg(long, env = "AUTHINSIGHTS_GRAPH_CLIENT_ID")]
    pub graph_client_id: Option<String>,
    /// The client secret's value. Prefer the environment or a file: a flag
    /// shows in the process list.
    #[arg(long, env = "AUTHINSIGHTS_GRAPH_CLIENT_SECRET", hide_env_values = true)]
    pub graph_client_secret: Option<String>,
    /// A file holding the client secret's value (a mounted secret).
    #[arg(long, env = "AUTHINSIGHTS_GRAPH_CLIENT_SECRET_FILE")]
    pub graph_client_secret_file: Option<PathBuf>,
    /// A certificate credential instead of a secret: a PEM file with the
    /// certificate uploaded to the app registration.
    #[arg(long, env = "AUTHINSIGHTS_GRAPH_CERTIFICATE_FILE")]
    pub graph_certificate_file: Option<PathBuf>,
    /// The certificate's RSA private key (PEM, PKCS#8 or PKCS#1); default:
    /// the certificate file itself.
    #[arg(long, env = "AUTHINSIGHTS_GRAPH_CERTIFICATE_KEY_FILE")]
    pub graph_certificate_key_file: Option<PathBuf>,
    /// A file holding a bearer token sent as it is, with no sign-in: an API
    /// key with the read scope of another authinsights portal, whose
    /// `/graph` endpoints then stand for Graph (`--graph-url
    /// https://portal.example/graph`). Tenant and client ids are not needed.
    #[arg(long, env = "AUTHINSIGHTS_GRAPH_ACCESS_TOKEN_FILE")]
    pub graph_access_token_file: Option<PathBuf>,
    /// Microsoft Graph's address (a national cloud has its own).
    #[arg(long, env = "AUTHINSIGHTS_GRAPH_URL", default_value = DEFAULT_GRAPH_URL)]
    pub graph_url: String,
    /// The Microsoft identity platform's address (a national cloud has its own).
    #[arg(long, env = "AUTHINSIGHTS_GRAPH_LOGIN_URL", default_value = DEFAULT_LOGIN_URL)]
    pub graph_login_url: String,
    /// The longest a sync waits, in all, on Graph's throttling and outages
    /// before it gives up.
    #[arg(long, env = "AUTHINSIGHTS_GRAPH_RETRY_BUDGET", default_value = "15m", value_parser = super::parse_duration)]
    pub graph_retry_budget: chrono::Duration,
    /// The first pause after a failure Graph gives no Retry-After for, in
    /// milliseconds; each further try doubles it (with jitter), up to a minute.
    #[arg(long, env = "AUTHINSIGHTS_GRAPH_BACKOFF_MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub graph_backoff_ms: u64,
}

impl fmt::Debug for GraphArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphArgs")
            .field("graph_tenant_id", &self.graph_tenant_id)
            .field("graph_client_id", &self.graph_client_id)
            .field(
                "graph_client_secret",
                &self.graph_client_secret.as_ref().map(|_| "(hidden)"),
            )
            .field("graph_client_secret_file", &self.graph_client_secret_file)
            .field("graph_certificate_file", &self.graph_certificate_file)
            .field(
                "graph_certificate_key_file",
                &self.graph_certificate_key_file,
            )
            .field("graph_access_token_file", &self.graph_access_token_file)
            .field("graph_url", &self.graph_url)
            .field("graph_login_url", &self.graph_login_url)
            .finish_non_exhaustive()
    }
}

impl GraphArgs {
    /// Whether any connection setting is given.
    pub fn is_configured(&self) -> bool {
        self.graph_tenant_id.is_some()
            || self.graph_client_id.is_some()
            || self.graph_access_token_file.is_some()
    }

    /// The connection, or what is missing or wrong, in words.
    pub fn settings(&self) -> anyhow::Result<GraphSettings> {
        if let Some(path) = &self.graph_access_token_file {
            return self.token_settings(path);
        }
        let tenant = self
            .graph_tenant_id
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .context("no tenant: set AUTHINSIGHTS_GRAPH_TENANT_ID (or --graph-tenant-id) to the app registration's Directory (tenant) ID")?;
        let client = self
            .graph_client_id
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .context("no client: set AUTHINSIGHTS_GRAPH_CLIENT_ID (or --graph-client-id) to the app registration's Application (client) ID")?;
        for (name, value) in [("tenant id", tenant), ("client id", client)] {
            if !value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
            {
                bail!("the {name} {value:?} is not a GUID or a domain name");
            }
        }
        let given = [
            self.graph_client_secret.is_some(),
            self.graph_client_secret_file.is_some(),
            self.graph_certificate_file.is_some(),
        ];
        let credential = match given {
            [true, false, false] => Credential::Secret(Secret(
                self.graph_client_secret.clone().unwrap_or_default(),
            )),
            [false, true, false] => {
                let path = self.graph_client_secret_file.clone().unwrap_or_default();
                let text = std::fs::read_to_string(&path).with_context(|| {
                    format!("{}: the client secret file cannot be read", path.display())
                })?;
                Credential::Secret(Secret(text.trim().to_string()))
            }
            [false, false, true] => {
                let cert = self.graph_certificate_file.clone().unwrap_or_default();
                let key = self
                    .graph_certificate_key_file
                    .clone()
                    .unwrap_or_else(|| cert.clone());
                Credential::Certificate(Arc::new(super::certificate::Certificate::load(
                    &cert, &key,
                )?))
            }
            [false, false, false] => bail!(
                "no credential: set AUTHINSIGHTS_GRAPH_CLIENT_SECRET, AUTHINSIGHTS_GRAPH_CLIENT_SECRET_FILE \
                 or AUTHINSIGHTS_GRAPH_CERTIFICATE_FILE"
            ),
            _ => bail!(
                "more than one credential: give a client secret, a secret file or a certificate, not several"
            ),
        };
        if let Credential::Secret(Secret(s)) = &credential {
            if s.is_empty() {
                bail!("the client secret is empty");
            }
        }
        Ok(GraphSettings {
            tenant_id: tenant.to_string(),
            client_id: client.to_string(),
            credential,
            graph_url: endpoint("AUTHINSIGHTS_GRAPH_URL", &self.graph_url)?,
            login_url: endpoint("AUTHINSIGHTS_GRAPH_LOGIN_URL", &self.graph_login_url)?,
            retry_budget: self.retry_budget(),
            backoff: Duration::from_millis(self.graph_backoff_ms),
        })
    }
}

impl GraphArgs {
    fn retry_budget(&self) -> Duration {
        self.graph_retry_budget
            .to_std()
            .unwrap_or(Duration::from_secs(900))
    }

    /// A connection by a bearer token read from `path`: no sign-in, so no
    /// tenant, client or other credential.
    fn token_settings(&self, path: &std::path::Path) -> anyhow::Result<GraphSettings> {
        if self.graph_client_secret.is_some()
            || self.graph_client_secret_file.is_some()
            || self.graph_certificate_file.is_some()
        {
            bail!(
                "more than one credential: give an access token file, a client secret, a secret file or a certificate, not several"
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: the access token file cannot be read", path.display()))?;
        let token = text.trim().to_string();
        if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            bail!(
                "{}: the access token file must hold one token on one line",
                path.display()
            );
        }
        let graph_url = endpoint("AUTHINSIGHTS_GRAPH_URL", &self.graph_url)?;
        let named = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Ok(GraphSettings {
            tenant_id: named(&self.graph_tenant_id).unwrap_or_else(|| {
                url::Url::parse(&graph_url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    .unwrap_or_default()
            }),
            client_id: named(&self.graph_client_id).unwrap_or_else(|| "(access token)".into()),
            credential: Credential::Token(Secret(token)),
            graph_url,
            login_url: endpoint("AUTHINSIGHTS_GRAPH_LOGIN_URL", &self.graph_login_url)?,
            retry_budget: self.retry_budget(),
            backoff: Duration::from_millis(self.graph_backoff_ms),
        })
    }
}

/// An endpoint without its trailing slash; http only for loopback (a
/// stand-in), https otherwise.
fn endpoint(name: &str, value: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(value.trim())
        .with_context(|| format!("{name}: {value:?} is not an address"))?;
    let loopback = matches!(url.host(), Some(url::Host::Domain("localhost")))
        || match url.host() {
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            _ => false,
        };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        other => bail!(
            "{name}: {other}:// is refused; Graph and the sign-in endpoint are reached over https"
        ),
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("{name}: give the address without a query");
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// A connection to one tenant.
#[derive(Debug, Clone)]
pub struct GraphSettings {
    pub tenant_id: String,
    pub client_id: String,
    pub credential: Credential,
    /// `https://graph.microsoft.com`, without a trailing slash.
    pub graph_url: String,
    /// `https://login.microsoftonline.com`, without a trailing slash.
    pub login_url: String,
    /// The longest all retries of a sync may wait together.
    pub retry_budget: Duration,
    /// The first pause when Graph gives no Retry-After.
    pub backoff: Duration,
}

impl GraphSettings {
    /// The token endpoint of the client-credentials grant.
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.login_url, self.tenant_id)
    }

    /// The scope that asks for every application permission granted.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.graph_url)
    }

    /// The credential's kind, for pages and logs (never its value).
    pub fn credential_kind(&self) -> &'static str {
        match self.credential {
            Credential::Secret(_) => "client secret",
            Credential::Certificate(_) => "certificate",
            Credential::Token(_) => "access token",
        }
    }
}

/// How the app proves who it is.
#[derive(Clone)]
pub enum Credential {
    Secret(Secret),
    Certificate(Arc<super::certificate::Certificate>),
    /// A bearer token used as it is (another portal's API key): no sign-in.
    Token(Secret),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Secret(_) => f.write_str("Secret(hidden)"),
            Credential::Certificate(c) => write!(f, "Certificate({})", c.thumbprint()),
            Credential::Token(_) => f.write_str("Token(hidden)"),
        }
    }
}

/// A client secret: shown nowhere, logged never.
#[derive(Clone)]
pub struct Secret(pub(super) String);

impl Secret {
    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(hidden)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        graph: GraphArgs,
    }

    fn parse(args: &[&str]) -> GraphArgs {
        let mut all = vec!["test"];
        all.extend_from_slice(args);
        Cli::parse_from(all).graph
    }

    #[test]
    fn the_secret_is_never_shown() {
        let args = parse(&[
            "--graph-tenant-id",
            "contoso.example",
            "--graph-client-id",
            "11111111-2222-3333-4444-555555555555",
            "--graph-client-secret",
            "s3cr3t-value",
        ]);
        assert!(!format!("{args:?}").contains("s3cr3t"));
        let settings = args.settings().unwrap();
        assert!(!format!("{settings:?}").contains("s3cr3t"));
        assert_eq!(
            settings.token_url(),
            "https://login.microsoftonline.com/contoso.example/oauth2/v2.0/token"
        );
        assert_eq!(settings.scope(), "https://graph.microsoft.com/.default");
    }

    #[test]
    fn an_access_token_needs_no_tenant_and_is_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "aik_s3cr3t-token\n").unwrap();
        let path = file.to_str().unwrap();
        let args = parse(&[
            "--graph-access-token-file",
            path,
            "--graph-url",
            "http://127.0.0.1:8080/graph",
        ]);
        assert!(args.is_configured());
        let settings = args.settings().unwrap();
        assert!(
            matches!(&settings.credential, Credential::Token(t) if t.expose() == "aik_s3cr3t-token")
        );
        assert_eq!(settings.graph_url, "http://127.0.0.1:8080/graph");
        assert_eq!(settings.tenant_id, "127.0.0.1");
        assert_eq!(settings.credential_kind(), "access token");
        assert!(!format!("{settings:?}").contains("s3cr3t"));
        // A second credential, an empty file or one of two lines is refused.
        let err = |args: &[&str]| parse(args).settings().unwrap_err().to_string();
        assert!(err(&[
            "--graph-access-token-file",
            path,
            "--graph-client-secret",
            "x"
        ])
        .contains("more than one credential"));
        std::fs::write(&file, "  \n").unwrap();
        assert!(err(&["--graph-access-token-file", path]).contains("one token on one line"));
        std::fs::write(&file, "a\nb\n").unwrap();
        assert!(err(&["--graph-access-token-file", path]).contains("one token on one line"));
        let missing = dir.path().join("nothing");
        assert!(
            err(&["--graph-access-token-file", missing.to_str().unwrap()])
                .contains("cannot be read")
        );
    }

    #[test]
    fn a_connection_says_what_is_missing_or_wrong() {
        let err = |args: &[&str]| parse(args).settings().unwrap_err().to_string();
        assert!(err(&[]).contains("AUTHINSIGHTS_GRAPH_TENANT_ID"));
        assert!(err(&["--graph-tenant-id", "t"]).contains("AUTHINSIGHTS_GRAPH_CLIENT_ID"));
        let both = ["--graph-tenant-id", "t", "--graph-client-id", "c"];
        assert!(err(&both).contains("no credential"));
        let mut two = both.to_vec();
        two.extend([
            "--graph-client-secret",
            "x",
            "--graph-certificate-file",
            "c.pem",
        ]);
        assert!(err(&two).contains("more than one credential"));
        let mut plain = both.to_vec();
        plain.extend([
            "--graph-client-secret",
            "x",
            "--graph-url",
            "http://graph.example",
        ]);
        assert!(err(&plain).contains("https"));
        let mut national = both.to_vec();
        national.extend([
            "--graph-client-secret",
            "x",
            "--graph-url",
            "https://graph.microsoft.us/",
            "--graph-login-url",
            "https://login.microsoftonline.us",
        ]);
        let settings = parse(&national).settings().unwrap();
        assert_eq!(settings.scope(), "https://graph.microsoft.us/.default");
        assert_eq!(
            settings.token_url(),
            "https://login.microsoftonline.us/t/oauth2/v2.0/token"
        );
    }
}
