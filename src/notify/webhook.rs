//! Signed webhooks: the message's JSON body POSTed to its URL, with who it
//! is (`X-Authinsights-Delivery`: the idempotency key), when
//! (`X-Authinsights-Timestamp`: Unix seconds of this attempt) and, when the
//! message has a secret, `X-Authinsights-Signature: sha256=<hex>`, the
//! HMAC-SHA256 of `<timestamp>.<body>` with that secret
//! (docs/notifications.md shows a receiver checking it).

use super::SendError;
use ring::hmac;
use std::io::Read;
use std::time::Duration;

pub const DELIVERY: &str = "X-Authinsights-Delivery";
pub const TIMESTAMP: &str = "X-Authinsights-Timestamp";
pub const SIGNATURE: &str = "X-Authinsights-Signature";

/// The signature header's value for `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{timestamp}.{body}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// The client webhooks are sent with: the machine's trusted roots (as for
/// Graph), the proxy of the environment, no redirects (a 3xx is a
/// failure: a POST is not sent on elsewhere), one timeout for the whole
/// exchange.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(timeout)
        .redirects(0)
        .user_agent(concat!("authinsights/", env!("CARGO_PKG_VERSION")))
        .try_proxy_from_env(true)
        .tls_config(crate::tls::client_config("webhook receivers"))
        .build()
}

/// One webhook to send.
pub struct Hook<'a> {
    pub key: &'a str,
    pub url: &'a str,
    pub body: &'a str,
    pub secret: Option<&'a str>,
}

/// The most of a refusal's body quoted in the error.
const QUOTED: u64 = 200;

/// POSTs the hook once. Any 2xx is sent; anything else is worth another
/// try (a receiver gets fixed) until the attempts run out, but for an
/// address that is not http(s) at all.
pub fn send(agent: &ureq::Agent, hook: &Hook, timestamp: i64) -> Result<(), SendError> {
    let url = url::Url::parse(hook.url)
        .map_err(|e| SendError::permanent(format!("{:?} is not an address: {e}", hook.url)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SendError::permanent(format!(
            "{}:// is not a webhook address: use http:// or https://",
            url.scheme()
        )));
    }
    let mut request = agent
        .request_url("POST", &url)
        .set("Content-Type", "application/json")
        .set(DELIVERY, hook.key)
        .set(TIMESTAMP, &timestamp.to_string());
    if let Some(secret) = hook.secret {
        request = request.set(SIGNATURE, &signature(secret, timestamp, hook.body));
    }
    match request.send_string(hook.body) {
        Ok(response) if (200..300).contains(&response.status()) => Ok(()),
        Ok(response) => Err(SendError::retry(format!(
            "the receiver answered {} {}",
            response.status(),
            response.status_text()
        ))),
        Err(ureq::Error::Status(code, response)) => {
            let mut said = String::new();
            let _ = response
                .into_reader()
                .take(QUOTED)
                .read_to_string(&mut said);
            let said = said.split_whitespace().collect::<Vec<_>>().join(" ");
            Err(SendError::retry(if said.is_empty() {
                format!("the receiver answered {code}")
            } else {
                format!("the receiver answered {code}: {said}")
            }))
        }
        Err(ureq::Error::Transport(e)) => Err(SendError::retry(format!(
            "{} cannot be reached: {e}",
            url.host_str().unwrap_or(hook.url)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_and_body() {
        let a = signature("s3cret", 1_700_000_000, "{\"a\":1}");
        assert_ne!(a, signature("s3cret", 1_700_000_001, "{\"a\":1}"));
        assert_ne!(a, signature("other", 1_700_000_000, "{\"a\":1}"));
        assert!(a.starts_with("sha256="));
        assert_eq!(a.len(), "sha256=".len() + 64);
    }
}
