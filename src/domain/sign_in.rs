//! Daily sign-in summaries: how many sign-ins a day needed one factor or
//! several, and which authentication methods signed users in.
//!
//! The method catalogue is Graph's sign-in vocabulary
//! (`userSignInUsageByAuthMethodActivity.authenticationMethod`), not the
//! usage methods of password reset: sign-ins include the password, passkeys
//! and other methods SSPR never sees. Keys are stored: never rename one.

use std::fmt;

macro_rules! sign_in_methods {
    ($( $variant:ident, $key:literal, $graph:literal, $name:literal; )*) => {
        /// A method users signed in with; [`SignInMethod::Other`] for a
        /// name the portal does not know (kept under that name).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum SignInMethod { $( $variant, )* Other }

        impl SignInMethod {
            /// The known methods, in the order the charts list them.
            pub const KNOWN: &'static [SignInMethod] = &[ $( SignInMethod::$variant, )* ];

            pub const fn key(self) -> &'static str {
                match self { $( SignInMethod::$variant => $key, )* SignInMethod::Other => "other" }
            }

            /// Graph's name of the method ("" for other).
            pub const fn graph_name(self) -> &'static str {
                match self { $( SignInMethod::$variant => $graph, )* SignInMethod::Other => "" }
            }

            pub const fn display_name(self) -> &'static str {
                match self { $( SignInMethod::$variant => $name, )* SignInMethod::Other => "Other" }
            }
        }
    };
}

sign_in_methods! {
    Password, "password", "password", "Password";
    Sms, "sms", "sms", "SMS";
    SmsSignIn, "sms_sign_in", "smsSignIn", "SMS sign-in";
    MobilePhone, "mobile_phone", "mobilePhone", "Mobile phone";
    AlternateMobilePhone, "alternate_mobile_phone", "alternateMobilePhone", "Alternate mobile phone";
    OfficePhone, "office_phone", "officePhone", "Office phone";
    AppNotification, "app_notification", "microsoftAuthenticatorPush", "App notification";
    OneTimePasscode, "one_time_passcode", "oneTimePasscode", "One-time passcode";
    AuthenticatorPasswordless, "authenticator_passwordless", "microsoftAuthenticatorPasswordless", "Authenticator passwordless";
    WindowsHelloForBusiness, "windows_hello_for_business", "windowsHelloForBusiness", "Windows Hello for Business";
    Fido2SecurityKey, "fido2_security_key", "fido2SecurityKey", "FIDO2 security key";
    TemporaryAccessPass, "temporary_access_pass", "temporaryAccessPass", "Temporary Access Pass";
    MacOsSecureEnclaveKey, "macos_secure_enclave_key", "macOsSecureEnclaveKey", "macOS Secure Enclave key";
    PasskeyDeviceBound, "passkey_device_bound", "passKeyDeviceBound", "Passkey (device-bound)";
    PasskeySynced, "passkey_synced", "passKeySynced", "Passkey (synced)";
    ExternalAuthMethod, "external_auth_method", "externalAuthMethod", "External authentication method";
}

impl SignInMethod {
    pub fn from_key(key: &str) -> Option<SignInMethod> {
        if key == "other" {
            return Some(SignInMethod::Other);
        }
        SignInMethod::KNOWN.iter().copied().find(|m| m.key() == key)
    }

    /// A method by Graph's name, matched exactly (Graph's enums are
    /// case-sensitive identifiers).
    pub fn from_graph_name(name: &str) -> Option<SignInMethod> {
        SignInMethod::KNOWN
            .iter()
            .copied()
            .find(|m| m.graph_name() == name)
    }

    /// A method by our key or Graph's name: what our own format accepts.
    pub fn parse(name: &str) -> Option<SignInMethod> {
        SignInMethod::KNOWN
            .iter()
            .copied()
            .find(|m| m.key() == name || m.graph_name() == name)
    }

    /// Every key, for messages.
    pub fn keys_text() -> String {
        SignInMethod::KNOWN
            .iter()
            .map(|m| m.key())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One day's sign-ins by authentication requirement. A day imported again
/// is replaced, never added to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInDayRecord {
    pub day: chrono::NaiveDate,
    pub total: i64,
    pub single_factor: i64,
    pub multi_factor: i64,
}

/// One day's successful sign-ins with one method. `name` is the source's
/// name of an [`SignInMethod::Other`] method ("" for a known one). A (day,
/// method) imported again is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInMethodRecord {
    pub day: chrono::NaiveDate,
    pub method: SignInMethod,
    pub name: String,
    pub sign_ins: i64,
}

impl fmt::Display for SignInMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_and_graph_names_are_unique_and_round_trip() {
        let mut keys = HashSet::new();
        let mut names = HashSet::new();
        for m in SignInMethod::KNOWN {
            assert!(keys.insert(m.key()), "{m:?}");
            assert!(names.insert(m.graph_name()), "{m:?}");
            assert_eq!(SignInMethod::from_key(m.key()), Some(*m));
            assert_eq!(SignInMethod::from_graph_name(m.graph_name()), Some(*m));
            assert_eq!(SignInMethod::parse(m.graph_name()), Some(*m));
        }
        assert_eq!(SignInMethod::from_graph_name("unknownFutureValue"), None);
        assert_eq!(SignInMethod::from_key("other"), Some(SignInMethod::Other));
    }
}
