//! Talking to Microsoft Graph: an app-only token by the client-credentials
//! grant, renewed before it expires and once on a 401; lists followed
//! through `@odata.nextLink` to their end, with a loop refused; `429`,
//! `503` and `504` retried after Graph's `Retry-After`, or else after an
//! exponential pause with jitter, all within one retry budget per sync.

use super::settings::{Credential, GraphSettings};
use rand::Rng;
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::time::{Duration, Instant};

/// A token is renewed when less than this is left of it.
const RENEW_BEFORE: Duration = Duration::from_secs(300);
/// The longest single pause without a Retry-After.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The largest page read (Graph's pages of 999 users are about 1 MB).
const MAX_PAGE_BYTES: u64 = 256 * 1024 * 1024;

/// Why a request to Graph failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphError {
    /// The sign-in endpoint refused the app's credential: nothing can be
    /// read, so the sync stops.
    SignIn(String),
    /// Graph stays throttled or unavailable beyond the retry budget, or
    /// cannot be reached: the sync stops.
    Unavailable(String),
    /// Graph refused this one request (no permission, a bad query, a page
    /// that is not JSON, a link loop): this resource fails, the others go on.
    Refused(String),
}

impl GraphError {
    /// Whether the whole sync must stop (no request after it).
    pub fn is_fatal(&self) -> bool {
        !matches!(self, GraphError::Refused(_))
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::SignIn(m) | GraphError::Unavailable(m) | GraphError::Refused(m) => {
                f.write_str(m)
            }
        }
    }
}

/// Requests made and retried, and the time spent waiting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub requests: u64,
    pub retries: u64,
    pub waited: Duration,
}

/// One page of a list: its body as Graph sent it, and its next link.
pub struct Page {
    pub body: Vec<u8>,
    pub next_link: Option<String>,
}

#[derive(Deserialize)]
struct NextLink {
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenError {
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct GraphErrorBody {
    error: Option<GraphErrorDetail>,
}

#[derive(Deserialize)]
struct GraphErrorDetail {
    code: Option<String>,
    message: Option<String>,
}

pub struct GraphClient {
    settings: GraphSettings,
    agent: ureq::Agent,
    token: Option<(String, Instant)>,
    traffic: Traffic,
    /// What is left of the retry budget.
    budget: Duration,
}

/// What one try of a request came to.
enum Try {
    Done(Box<ureq::Response>),
    /// Retry after this pause (Graph's or ours), for this reason.
    Again(Option<Duration>, String),
    Unauthorized(String),
    Failed(GraphError),
}

impl GraphClient {
    pub fn new(settings: GraphSettings) -> GraphClient {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(15))
            .timeout_read(Duration::from_secs(180))
            .timeout_write(Duration::from_secs(60))
            .user_agent(concat!("authinsights/", env!("CARGO_PKG_VERSION")))
            .try_proxy_from_env(true)
            .tls_config(crate::tls::client_config("Microsoft Graph"))
            .build();
        let budget = settings.retry_budget;
        GraphClient {
            settings,
            agent,
            token: None,
            traffic: Traffic::default(),
            budget,
        }
    }

    pub fn settings(&self) -> &GraphSettings {
        &self.settings
    }

    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// A page: `path_or_link` is a path under the Graph address
    /// (`/v1.0/users?…`) or a next link Graph gave.
    pub fn page(&mut self, path_or_link: &str, prefer: Option<&str>) -> Result<Page, GraphError> {
        let url = if path_or_link.starts_with('/') {
            format!("{}{path_or_link}", self.settings.graph_url)
        } else {
            path_or_link.to_string()
        };
        let body = self.get(&url, prefer)?;
        let next: NextLink = serde_json::from_slice(&body).map_err(|e| {
            GraphError::Refused(format!(
                "{}: the page is not a Graph page: {e}",
                short(&url)
            ))
        })?;
        Ok(Page {
            body,
            next_link: next.next_link,
        })
    }

    /// Every page of a list, handed to `each` as it arrives; stops on a next
    /// link already followed.
    pub fn list(
        &mut self,
        path: &str,
        prefer: Option<&str>,
        mut each: impl FnMut(Page) -> Result<(), GraphError>,
    ) -> Result<(), GraphError> {
        let mut seen = HashSet::new();
        seen.insert(format!("{}{path}", self.settings.graph_url));
        let mut next = Some(path.to_string());
        while let Some(link) = next.take() {
            let page = self.page(&link, prefer)?;
            if let Some(link) = &page.next_link {
                if !link.starts_with(&self.settings.graph_url) {
                    return Err(GraphError::Refused(format!(
                        "a page links to {:?}, outside {}: not followed",
                        short(link),
                        self.settings.graph_url
                    )));
                }
                if !seen.insert(link.clone()) {
                    return Err(GraphError::Refused(format!(
                        "Graph's @odata.nextLink leads back to a page already read ({}): \
                         the list would never end, so it is not followed",
                        short(link)
                    )));
                }
                next = Some(link.clone());
            }
            each(page)?;
        }
        Ok(())
    }

    /// A GET with a bearer token: retried on throttling and outages, the
    /// token renewed once on a 401.
    fn get(&mut self, url: &str, prefer: Option<&str>) -> Result<Vec<u8>, GraphError> {
        let mut renewed = false;
        let mut attempt = 0u32;
        loop {
            let token = self.token()?;
            let mut request = self
                .agent
                .get(url)
                .set("Authorization", &format!("Bearer {token}"))
                .set("Accept", "application/json");
            if let Some(prefer) = prefer {
                request = request.set("Prefer", prefer);
            }
            self.traffic.requests += 1;
            match classify(request.call(), url) {
                Try::Done(response) => return read_body(*response, url),
                Try::Unauthorized(why) if !renewed => {
                    tracing::info!("Graph refused the token ({why}); signing in again");
                    self.token = None;
                    renewed = true;
                }
                Try::Unauthorized(why) => {
                    return Err(GraphError::SignIn(format!(
                        "{}: Graph refused a new token too: {why}",
                        short(url)
                    )))
                }
                Try::Again(after, why) => {
                    attempt += 1;
                    self.pause(after, attempt, &why, url)?;
                }
                Try::Failed(e) => return Err(e),
            }
        }
    }

    /// The current token, fetched when there is none or it is about to expire.
    fn token(&mut self) -> Result<String, GraphError> {
        if let Credential::Token(token) = &self.settings.credential {
            return Ok(token.expose().to_string());
        }
        if let Some((token, expires)) = &self.token {
            if expires.saturating_duration_since(Instant::now()) > RENEW_BEFORE {
                return Ok(token.clone());
            }
        }
        let url = self.settings.token_url();
        let mut attempt = 0u32;
        loop {
            let scope = self.settings.scope();
            let mut form: Vec<(&str, String)> = vec![
                ("client_id", self.settings.client_id.clone()),
                ("scope", scope),
                ("grant_type", "client_credentials".into()),
            ];
            match &self.settings.credential {
                Credential::Secret(secret) => {
                    form.push(("client_secret", secret.expose().to_string()))
                }
                // Returned above: a token is sent as it is, never exchanged.
                Credential::Token(token) => return Ok(token.expose().to_string()),
                Credential::Certificate(cert) => {
                    let assertion = cert
                        .assertion(&self.settings.client_id, &url)
                        .map_err(|e| GraphError::SignIn(e.to_string()))?;
                    form.push((
                        "client_assertion_type",
                        super::certificate::ASSERTION_TYPE.into(),
                    ));
                    form.push(("client_assertion", assertion));
                }
            }
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            self.traffic.requests += 1;
            let asked = Instant::now();
            match self.agent.post(&url).send_form(&pairs) {
                Ok(response) => {
                    let body: TokenResponse = response.into_json().map_err(|e| {
                        GraphError::SignIn(format!(
                            "{}: the token response is not what the identity platform sends: {e}",
                            short(&url)
                        ))
                    })?;
                    let lifetime = Duration::from_secs(body.expires_in.unwrap_or(3599));
                    self.token = Some((body.access_token.clone(), asked + lifetime));
                    return Ok(body.access_token);
                }
                Err(ureq::Error::Status(code, response))
                    if matches!(code, 429 | 500 | 502 | 503 | 504) =>
                {
                    let after = retry_after(&response);
                    attempt += 1;
                    self.pause(after, attempt, &format!("HTTP {code}"), &url)?;
                }
                Err(ureq::Error::Status(code, response)) => {
                    let text = response.into_string().unwrap_or_default();
                    let why = serde_json::from_str::<TokenError>(&text)
                        .ok()
                        .map(|e| {
                            let description = e.error_description.unwrap_or_default();
                            // The first line names the AADSTS code and the cause;
                            // trace and correlation ids follow.
                            let first = description.lines().next().unwrap_or("").trim();
                            format!(
                                "{}{}{}",
                                e.error.unwrap_or_default(),
                                if first.is_empty() { "" } else { ": " },
                                first
                            )
                        })
                        .unwrap_or_else(|| format!("HTTP {code}"));
                    return Err(GraphError::SignIn(format!(
                        "sign-in at {} refused the app (HTTP {code}): {why}",
                        short(&url)
                    )));
                }
                Err(ureq::Error::Transport(t)) => {
                    attempt += 1;
                    self.pause(None, attempt, &t.to_string(), &url)?;
                }
            }
        }
    }

    /// Waits before another try, from the retry budget; fails when the
    /// budget cannot pay for it.
    fn pause(
        &mut self,
        after: Option<Duration>,
        attempt: u32,
        why: &str,
        url: &str,
    ) -> Result<(), GraphError> {
        let wait = after.unwrap_or_else(|| backoff(self.settings.backoff, attempt));
        if wait > self.budget {
            return Err(GraphError::Unavailable(format!(
                "{}: {why}, and waiting {:.1} s more would pass the retry budget \
                 ({} retries, {:.1} s waited); the sync stops here and the next one \
                 takes it up",
                short(url),
                wait.as_secs_f64(),
                self.traffic.retries,
                self.traffic.waited.as_secs_f64()
            )));
        }
        tracing::info!(
            "Graph: {why} at {}; trying again in {:.1} s",
            short(url),
            wait.as_secs_f64()
        );
        self.budget -= wait;
        self.traffic.retries += 1;
        self.traffic.waited += wait;
        std::thread::sleep(wait);
        Ok(())
    }
}

/// An exponential pause with full jitter: between half and all of
/// `base · 2^(attempt-1)`, at most a minute.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let ceiling = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let half = ceiling / 2;
    let spread = (ceiling - half).as_millis() as u64;
    half + Duration::from_millis(rand::rng().random_range(0..=spread))
}

/// Graph's `Retry-After`: seconds, or an HTTP date.
fn retry_after(response: &ureq::Response) -> Option<Duration> {
    let value = response.header("Retry-After")?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

fn classify(result: Result<ureq::Response, ureq::Error>, url: &str) -> Try {
    match result {
        Ok(response) => Try::Done(Box::new(response)),
        Err(ureq::Error::Status(code, response)) => {
            let after = retry_after(&response);
            let request_id = response
                .header("request-id")
                .map(|id| format!(", request-id {id}"))
                .unwrap_or_default();
            let text = response.into_string().unwrap_or_default();
            let detail = serde_json::from_str::<GraphErrorBody>(&text)
                .ok()
                .and_then(|b| b.error)
                .map(|e| {
                    format!(
                        "{}: {}",
                        e.code.unwrap_or_default(),
                        e.message.unwrap_or_default()
                    )
                })
                .unwrap_or_else(|| format!("HTTP {code}"));
            match code {
                401 => Try::Unauthorized(detail),
                429 | 503 | 504 => Try::Again(after, format!("HTTP {code} ({detail})")),
                403 => Try::Failed(GraphError::Refused(format!(
                    "{}: Graph denied access (HTTP 403, {detail}{request_id}); grant the app \
                     registration the application permission this list needs and an \
                     administrator's consent",
                    short(url)
                ))),
                _ => Try::Failed(GraphError::Refused(format!(
                    "{}: Graph answered HTTP {code} ({detail}{request_id})",
                    short(url)
                ))),
            }
        }
        Err(ureq::Error::Transport(t)) => Try::Again(None, format!("no answer ({t})")),
    }
}

fn read_body(response: ureq::Response, url: &str) -> Result<Vec<u8>, GraphError> {
    let mut body = Vec::new();
    response
        .into_reader()
        .take(MAX_PAGE_BYTES + 1)
        .read_to_end(&mut body)
        .map_err(|e| {
            GraphError::Unavailable(format!("{}: the page could not be read: {e}", short(url)))
        })?;
    if body.len() as u64 > MAX_PAGE_BYTES {
        return Err(GraphError::Refused(format!(
            "{}: a page larger than {} MiB; Graph's pages are far smaller",
            short(url),
            MAX_PAGE_BYTES >> 20
        )));
    }
    Ok(body)
}

/// An address as messages show it: without its query's skip token.
pub fn short(url: &str) -> String {
    let cut = url
        .find("$skiptoken=")
        .or_else(|| url.find("%24skiptoken="));
    match cut {
        Some(at) => format!("{}…", &url[..at]),
        None => crate::ingest::records::clip(url, 160),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_a_minute() {
        let base = Duration::from_millis(1_000);
        for attempt in 1..=4u32 {
            let ceiling = base * (1 << (attempt - 1));
            for _ in 0..50 {
                let wait = backoff(base, attempt);
                assert!(
                    wait >= ceiling / 2 && wait <= ceiling,
                    "{attempt}: {wait:?}"
                );
            }
        }
        assert!(backoff(base, 30) <= MAX_BACKOFF);
    }

    #[test]
    fn messages_leave_out_the_skip_token() {
        assert_eq!(
            short("https://graph.microsoft.com/v1.0/users?$skiptoken=abc"),
            "https://graph.microsoft.com/v1.0/users?…"
        );
    }
}
