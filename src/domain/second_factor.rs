//! The second-factor methods Graph's registration details name in
//! `defaultMfaMethod`, `userPreferredMethodForSecondaryAuthentication` and
//! `systemPreferredAuthenticationMethods`: a vocabulary of its own, apart from
//! `methodsRegistered`.
//!
//! The portal keeps Graph's own name and, for the lists' filters, a small
//! code: the value's place in [`KNOWN`] plus one, [`OTHER`] for a name not in
//! it, 0 for "not stated". Codes are stored in the status key: never reorder
//! [`KNOWN`], only append.

use chrono::NaiveDateTime;
use std::borrow::Cow;

/// What Graph's registration details say of a user's second factor beyond
/// the five statuses, each `None` where the export did not say.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MfaDetails {
    /// `isMfaRegistered`.
    pub mfa_registered: Option<bool>,
    /// `defaultMfaMethod`, Graph's name.
    pub default_mfa_method: Option<String>,
    /// `isSystemPreferredAuthenticationMethodEnabled`.
    pub system_preferred_enabled: Option<bool>,
    /// `systemPreferredAuthenticationMethods`, Graph's names in its order.
    pub system_preferred_methods: Option<Vec<String>>,
    /// `userPreferredMethodForSecondaryAuthentication`, Graph's name.
    pub user_preferred_method: Option<String>,
    /// `lastUpdatedDateTime`: when the directory last updated the record.
    pub updated_at: Option<NaiveDateTime>,
}

impl MfaDetails {
    /// The code of the default MFA method, as the status key holds it.
    pub fn default_code(&self) -> u8 {
        code(self.default_mfa_method.as_deref())
    }

    /// The code of the first system-preferred method, as the status key
    /// holds it.
    pub fn system_preferred_code(&self) -> u8 {
        code(
            self.system_preferred_methods
                .as_ref()
                .and_then(|m| m.first())
                .map(String::as_str),
        )
    }

    /// The system-preferred methods as one column stores them.
    pub fn joined_system_preferred(&self) -> Option<String> {
        self.system_preferred_methods.as_ref().map(|m| m.join(","))
    }

    /// The inverse of [`MfaDetails::joined_system_preferred`].
    pub fn split_system_preferred(joined: Option<&str>) -> Option<Vec<String>> {
        joined.map(|j| {
            j.split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect()
        })
    }
}

/// Graph's names (as its documentation spells them) and how pages show them.
pub const KNOWN: [(&str, &str); 20] = [
    // defaultMfaMethodType
    ("none", "None"),
    ("mobilePhone", "Mobile phone"),
    ("alternateMobilePhone", "Alternate mobile phone"),
    ("officePhone", "Office phone"),
    ("microsoftAuthenticatorPush", "Microsoft Authenticator push"),
    ("softwareOneTimePasscode", "Software one-time passcode"),
    // userDefaultAuthenticationMethodType
    ("push", "Authenticator push"),
    ("oath", "OATH code"),
    ("voiceMobile", "Voice call to mobile phone"),
    (
        "voiceAlternateMobile",
        "Voice call to alternate mobile phone",
    ),
    ("voiceOffice", "Voice call to office phone"),
    ("sms", "SMS"),
    // systemPreferredAuthenticationMethods (authenticationMethodModes)
    ("fido2", "FIDO2 security key"),
    ("windowsHelloForBusiness", "Windows Hello for Business"),
    ("hardwareOath", "Hardware OATH token"),
    ("softwareOath", "Software OATH token"),
    ("x509CertificateMultiFactor", "Certificate (multifactor)"),
    (
        "temporaryAccessPassOneTime",
        "Temporary Access Pass (one-time)",
    ),
    (
        "temporaryAccessPassMultiUse",
        "Temporary Access Pass (multi-use)",
    ),
    ("passkey", "Passkey"),
];

/// The code of a name this portal does not know (Graph's `unknownFutureValue`
/// among them).
pub const OTHER: u8 = 31;

/// The filter value that asks for users whose export stated no value.
pub const NOT_STATED_KEY: &str = "none_stated";
/// The filter value that asks for users with a name this portal does not know.
pub const OTHER_KEY: &str = "other";

/// The code of a stated name (0 for none stated). Graph's casing varies
/// between reports ("Fido2", "push"), so names match without regard to case.
pub fn code(name: Option<&str>) -> u8 {
    match name {
        None => 0,
        Some(name) => KNOWN
            .iter()
            .position(|(known, _)| known.eq_ignore_ascii_case(name))
            .map_or(OTHER, |i| i as u8 + 1),
    }
}

/// Whether a stated name is one of [`KNOWN`].
pub fn is_known(name: &str) -> bool {
    code(Some(name)) != OTHER
}

/// How a page shows a stated name: the display name of a known one, Graph's
/// own name otherwise.
pub fn display(name: &str) -> Cow<'_, str> {
    match KNOWN
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
    {
        Some((_, shown)) => Cow::Borrowed(shown),
        None => Cow::Borrowed(name),
    }
}

/// A filter value: a Graph name of [`KNOWN`], [`OTHER_KEY`] or
/// [`NOT_STATED_KEY`], to the code it selects.
pub fn parse_filter(value: &str) -> Option<u8> {
    match value {
        NOT_STATED_KEY => Some(0),
        OTHER_KEY => Some(OTHER),
        name => match code(Some(name)) {
            OTHER => None,
            c => Some(c),
        },
    }
}

/// The filter value of a code (the inverse of [`parse_filter`]).
pub fn filter_key(code: u8) -> &'static str {
    match code {
        0 => NOT_STATED_KEY,
        OTHER => OTHER_KEY,
        c => KNOWN
            .get(usize::from(c) - 1)
            .map_or(OTHER_KEY, |(name, _)| name),
    }
}

/// A filter's label for a code.
pub fn filter_label(code: u8) -> &'static str {
    match code {
        0 => "Not stated",
        OTHER => "Another method",
        c => KNOWN
            .get(usize::from(c) - 1)
            .map_or("Another method", |(_, shown)| shown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_whatever_their_case_and_unknown_ones_are_other() {
        assert_eq!(code(None), 0);
        assert_eq!(code(Some("none")), 1);
        assert_eq!(code(Some("Fido2")), code(Some("fido2")));
        assert_eq!(code(Some("unknownFutureValue")), OTHER);
        assert_eq!(display("PUSH"), "Authenticator push");
        assert_eq!(display("quantumToken"), "quantumToken");
    }

    #[test]
    fn every_filter_value_parses_back_to_its_code() {
        for c in (0..=KNOWN.len() as u8).chain([OTHER]) {
            assert_eq!(parse_filter(filter_key(c)), Some(c), "code {c}");
        }
        assert_eq!(parse_filter("quantumToken"), None);
        assert!((KNOWN.len() as u8) < OTHER);
    }
}
