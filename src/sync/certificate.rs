//! A certificate credential: the app proves who it is with a client
//! assertion, a short-lived JWT signed with the certificate's private key
//! (PS256, the certificate named by its SHA-256 thumbprint in `x5t#S256`),
//! as the Microsoft identity platform's certificate credentials describe.

use anyhow::{bail, Context};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PSS_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The assertion's type, as the token request names it.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is good for (the platform allows at most ten minutes).
const LIFETIME_SECONDS: i64 = 300;

pub struct Certificate {
    key: RsaKeyPair,
    /// base64url of the SHA-256 of the certificate's DER.
    thumbprint: String,
}

impl Certificate {
    /// Reads the certificate and its RSA private key from PEM files (the same
    /// file may hold both).
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Certificate> {
        let der = CertificateDer::from_pem_file(cert).map_err(|e| {
            anyhow::anyhow!("{}: no PEM certificate could be read: {e}", cert.display())
        })?;
        let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
            anyhow::anyhow!("{}: no PEM private key could be read: {e}", key.display())
        })?;
        let pair = match &private {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => bail!(
                "{}: the private key is not an RSA key; app registrations take RSA certificates",
                key.display()
            ),
        }
        .map_err(|e| anyhow::anyhow!("{}: the RSA private key is refused: {e}", key.display()))?;
        Certificate::new(pair, der.as_ref()).context("the certificate credential")
    }

    fn new(key: RsaKeyPair, cert_der: &[u8]) -> anyhow::Result<Certificate> {
        Ok(Certificate {
            key,
            thumbprint: URL_SAFE_NO_PAD.encode(Sha256::digest(cert_der)),
        })
    }

    /// The certificate's SHA-256 thumbprint (base64url), to match it with
    /// the one the app registration shows.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A signed client assertion for `token_url`, issued by `client_id`.
    pub fn assertion(&self, client_id: &str, token_url: &str) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let mut jti = [0u8; 16];
        rand::Rng::fill(&mut rand::rng(), &mut jti);
        let header = serde_json::json!({
            "alg": "PS256",
            "typ": "JWT",
            "x5t#S256": self.thumbprint,
        });
        let claims = serde_json::json!({
            "aud": token_url,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid_text(&jti),
            "nbf": now,
            "iat": now,
            "exp": now + LIFETIME_SECONDS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PSS_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| anyhow::anyhow!("the client assertion could not be signed"))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

/// 16 random bytes as a version-4 UUID.
fn uuid_text(bytes: &[u8; 16]) -> String {
    let mut b = *bytes;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_has_its_version_and_variant() {
        let text = uuid_text(&[0xff; 16]);
        assert_eq!(text, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    }
}
