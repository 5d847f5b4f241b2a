//! TLS for the portal's outgoing HTTPS (Microsoft Graph, webhooks): rustls
//! with ring, trusting the roots the machine trusts, so that a
//! TLS-inspecting proxy's CA, installed there, works. A leaf: it uses
//! nothing of the crate.

use std::sync::Arc;

/// A client configuration trusting the machine's roots. A store that
/// cannot be read is logged; with no root at all every handshake fails,
/// and the caller says so in its own words (`what` names the peers, for
/// the log).
pub fn client_config(what: &str) -> Arc<rustls::ClientConfig> {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!("reading the machine's trusted certificates: {error}");
    }
    let mut roots = rustls::RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    if ignored > 0 {
        tracing::debug!("{ignored} of the machine's trusted certificates could not be used");
    }
    if added == 0 {
        tracing::warn!("no trusted certificate found on this machine: HTTPS to {what} will fail");
    }
    // ring is the one provider built in (as for ureq), so rustls picks it.
    Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}
