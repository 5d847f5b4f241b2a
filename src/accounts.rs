//! Portal accounts: roles and password hashing (Argon2id).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;
use std::fmt;

/// The four roles that may read reports; only a Global Administrator changes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    GlobalAdministrator,
    SecurityAdministrator,
    SecurityReader,
    ReportsReader,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::GlobalAdministrator,
        Role::SecurityAdministrator,
        Role::SecurityReader,
        Role::ReportsReader,
    ];

    pub const fn key(self) -> &'static str {
        match self {
            Role::GlobalAdministrator => "global-administrator",
            Role::SecurityAdministrator => "security-administrator",
            Role::SecurityReader => "security-reader",
            Role::ReportsReader => "reports-reader",
        }
    }

    pub fn from_key(key: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.key() == key)
    }

    /// Only a Global Administrator changes anything: policy, accounts, imports, keys.
    pub const fn may_change(self) -> bool {
        matches!(self, Role::GlobalAdministrator)
    }

    pub const fn display_name(self) -> &'static str {
        match self {
            Role::GlobalAdministrator => "Global Administrator",
            Role::SecurityAdministrator => "Security Administrator",
            Role::SecurityReader => "Security Reader",
            Role::ReportsReader => "Reports Reader",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// Hashes a password with Argon2id and a random salt (PHC string format).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt_bytes: [u8; 16] = rand::rng().random();
    let salt = SaltString::encode_b64(&salt_bytes)?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A fresh random secret (256 bits), URL-safe base64 without padding: session
/// tokens, CSRF tokens and API keys.
pub fn new_token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a token: its SHA-256 in lowercase hex. A token
/// has 256 bits of entropy, so a fast hash is enough (no password stretching).
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares two secrets in time independent of where they differ.
pub fn secrets_match(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Verifies against a fixed hash when the account does not exist, so that a
/// wrong name costs as long as a wrong password and names cannot be probed.
pub fn verify_password_or_dummy(password: &str, hash: Option<&str>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    match hash {
        Some(hash) => verify_password(password, hash),
        None => {
            let dummy = DUMMY.get_or_init(|| {
                hash_password("not a real password, only for timing").unwrap_or_default()
            });
            verify_password(password, dummy);
            false
        }
    }
}

/// A one-time password for a new account: 20 characters from an alphabet
/// without look-alikes (no 0/O, 1/l/I).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Account names: 1–64 characters of letters, digits and `.-_@`.
pub fn validate_username(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > 64 {
        return Err("an account name has 1 to 64 characters".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@')))
    {
        return Err(format!(
            "an account name may hold letters, digits and . - _ @, not '{c}'"
        ));
    }
    Ok(())
}

/// At least 12 characters (long passwords beat composition rules), and not
/// easy to guess: zxcvbn's estimate must reach 3 of 4 ("safely unguessable:
/// moderate protection from offline slow-hash scenario"), which refuses the
/// common passwords, keyboard walks, repeats like `aaaaaaaaaaaa`, dates, and
/// passwords built from `context` (the account name). The error says why and
/// how to do better.
pub fn validate_password(password: &str, context: &[&str]) -> Result<(), String> {
    if password.chars().count() < 12 {
        return Err("a password needs at least 12 characters".into());
    }
    let estimate = zxcvbn::zxcvbn(password, context);
    if u8::from(estimate.score()) >= 3 {
        return Ok(());
    }
    let mut why = String::from("this password is too easy to guess");
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            why.push_str(&format!(" ({})", warning.to_string().trim_end_matches('.')));
        }
        let hints: Vec<String> = feedback
            .suggestions()
            .iter()
            .map(|s| s.to_string().trim_end_matches('.').to_string())
            .collect();
        if !hints.is_empty() {
            why.push_str(&format!("; {}", hints.join("; ")));
        }
    }
    Err(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_the_right_password() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterz", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let a = generate_password();
        assert_eq!(a.len(), 20);
        assert_ne!(a, generate_password());
        assert!(validate_password(&a, &[]).is_ok());
    }

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let a = new_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_token());
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), token_hash(&new_token()));
        assert!(secrets_match("abc", "abc"));
        assert!(!secrets_match("abc", "abd"));
        assert!(!secrets_match("abc", "abcd"));
        assert!(!verify_password_or_dummy("x", None));
    }

    #[test]
    fn only_global_administrators_change_things() {
        assert!(Role::GlobalAdministrator.may_change());
        for r in &Role::ALL[1..] {
            assert!(!r.may_change(), "{r}");
        }
    }

    #[test]
    fn roles_round_trip_and_names_are_checked() {
        for r in Role::ALL {
            assert_eq!(Role::from_key(r.key()), Some(r));
        }
        assert_eq!(Role::from_key("admin"), None);
        assert!(validate_username("ana.admin@contoso").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("a b").is_err());
        assert!(validate_password("short", &[]).is_err());
        for weak in [
            "aaaaaaaaaaaa",
            "password1234",
            "123456789012",
            "qwertyuiopas",
            "abcabcabcabc",
            "margaret.smith.2024",
        ] {
            let why = validate_password(weak, &["margaret.smith"]).unwrap_err();
            assert!(why.contains("too easy to guess"), "{weak}: {why}");
        }
        assert!(validate_password("a test password of some length", &[]).is_ok());
        assert!(validate_password("violet kettle harbour sprint", &[]).is_ok());
    }
}
