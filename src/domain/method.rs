//! The catalogue of authentication methods a directory user can register, and the
//! "authentication info" the SSPR policy counts them as.
//!
//! Codes are stored in the database: never renumber a variant.

use std::fmt;

/// One authentication method as it is registered and used.
///
/// The first seven are the usage methods of the seed (they serve SSPR); the rest
/// matter for MFA and passwordless sign-in only and never count toward SSPR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    AppNotification,
    AppCode,
    MobileCall,
    OfficeCall,
    MobileSms,
    Email,
    SecurityQuestions,
    Fido2,
    Passkey,
    WindowsHello,
    HardwareOtp,
    TemporaryAccessPass,
    AuthenticatorPasswordless,
    /// Platform SSO's Secure Enclave key on a Mac (Graph:
    /// `macOsSecureEnclaveKey`): passwordless and a second factor.
    MacOsPlatformCredential,
    /// An external authentication method, a third-party MFA provider
    /// (Graph: `externalAuthMethod`).
    ExternalAuthMethod,
    /// A one-time passcode of a kind the source does not say (Graph:
    /// `oneTimePasscode`).
    OneTimePasscode,
    /// QR code sign-in with a PIN, for frontline workers (Graph: `qrCode`):
    /// a single factor of its own.
    QrCode,
    /// A legacy app password (Graph: `appPassword`): neither SSPR nor MFA.
    AppPassword,
    /// A method a source named that this catalogue does not know (a Graph
    /// value newer than this portal, or `unknownFutureValue`). It is listed
    /// and counted as a method, and never satisfies a rule: it serves neither
    /// SSPR, nor MFA, nor passwordless sign-in.
    Other,
}

impl Method {
    pub const ALL: [Method; 19] = [
        Method::AppNotification,
        Method::AppCode,
        Method::MobileCall,
        Method::OfficeCall,
        Method::MobileSms,
        Method::Email,
        Method::SecurityQuestions,
        Method::Fido2,
        Method::Passkey,
        Method::WindowsHello,
        Method::HardwareOtp,
        Method::TemporaryAccessPass,
        Method::AuthenticatorPasswordless,
        Method::MacOsPlatformCredential,
        Method::ExternalAuthMethod,
        Method::OneTimePasscode,
        Method::QrCode,
        Method::AppPassword,
        Method::Other,
    ];

    /// The seven usage methods of the Registrations / Resets charts and reset details.
    pub const USAGE: [Method; 7] = [
        Method::AppNotification,
        Method::AppCode,
        Method::MobileCall,
        Method::OfficeCall,
        Method::MobileSms,
        Method::Email,
        Method::SecurityQuestions,
    ];

    /// Stable database code.
    pub const fn code(self) -> i32 {
        match self {
            Method::AppNotification => 0,
            Method::AppCode => 1,
            Method::MobileCall => 2,
            Method::OfficeCall => 3,
            Method::MobileSms => 4,
            Method::Email => 5,
            Method::SecurityQuestions => 6,
            Method::Fido2 => 7,
            Method::Passkey => 8,
            Method::WindowsHello => 9,
            Method::HardwareOtp => 10,
            Method::TemporaryAccessPass => 11,
            Method::AuthenticatorPasswordless => 12,
            Method::Other => 13,
            Method::MacOsPlatformCredential => 14,
            Method::ExternalAuthMethod => 15,
            Method::OneTimePasscode => 16,
            Method::QrCode => 17,
            Method::AppPassword => 18,
        }
    }

    pub fn from_code(code: i32) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.code() == code)
    }

    /// Stable key used in URLs, CSV and the API.
    pub const fn key(self) -> &'static str {
        match self {
            Method::AppNotification => "app_notification",
            Method::AppCode => "app_code",
            Method::MobileCall => "mobile_call",
            Method::OfficeCall => "office_call",
            Method::MobileSms => "mobile_sms",
            Method::Email => "email",
            Method::SecurityQuestions => "security_questions",
            Method::Fido2 => "fido2",
            Method::Passkey => "passkey",
            Method::WindowsHello => "windows_hello",
            Method::HardwareOtp => "hardware_otp",
            Method::TemporaryAccessPass => "temporary_access_pass",
            Method::AuthenticatorPasswordless => "authenticator_passwordless",
            Method::MacOsPlatformCredential => "macos_platform_credential",
            Method::ExternalAuthMethod => "external_auth_method",
            Method::OneTimePasscode => "one_time_passcode",
            Method::QrCode => "qr_code",
            Method::AppPassword => "app_password",
            Method::Other => "other",
        }
    }

    pub fn from_key(key: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.key() == key)
    }

    /// The seed's display name.
    pub const fn display_name(self) -> &'static str {
        match self {
            Method::AppNotification => "App notification",
            Method::AppCode => "App code",
            Method::MobileCall => "Phone call",
            Method::OfficeCall => "Office call",
            Method::MobileSms => "SMS",
            Method::Email => "Email",
            Method::SecurityQuestions => "Security questions",
            Method::Fido2 => "FIDO2 security key",
            Method::Passkey => "Passkey",
            Method::WindowsHello => "Windows Hello for Business",
            Method::HardwareOtp => "Hardware OTP token",
            Method::TemporaryAccessPass => "Temporary Access Pass",
            Method::AuthenticatorPasswordless => "Authenticator passwordless sign-in",
            Method::MacOsPlatformCredential => "macOS platform credential",
            Method::ExternalAuthMethod => "External authentication method",
            Method::OneTimePasscode => "One-time passcode",
            Method::QrCode => "QR code",
            Method::AppPassword => "App password",
            Method::Other => "Other method",
        }
    }

    pub const fn bit(self) -> i32 {
        1 << self.code()
    }

    /// The authentication info the SSPR policy counts this method as; `None` for
    /// methods that never serve SSPR.
    pub const fn policy_method(self) -> Option<PolicyMethod> {
        match self {
            Method::AppNotification => Some(PolicyMethod::AppNotification),
            Method::AppCode => Some(PolicyMethod::AppCode),
            Method::MobileCall | Method::MobileSms => Some(PolicyMethod::MobilePhone),
            Method::OfficeCall => Some(PolicyMethod::OfficePhone),
            Method::Email => Some(PolicyMethod::Email),
            Method::SecurityQuestions => Some(PolicyMethod::SecurityQuestions),
            _ => None,
        }
    }

    /// Usable as a second factor. Email and security questions are not; a
    /// Temporary Access Pass is a short-lived bootstrap credential, not a factor a
    /// user keeps, so it does not make a user MFA capable either.
    pub const fn is_mfa_capable(self) -> bool {
        !matches!(
            self,
            Method::Email
                | Method::SecurityQuestions
                | Method::TemporaryAccessPass
                | Method::QrCode
                | Method::AppPassword
                | Method::Other
        )
    }

    /// Signs a user in without a password.
    pub const fn is_passwordless(self) -> bool {
        matches!(
            self,
            Method::Fido2
                | Method::Passkey
                | Method::WindowsHello
                | Method::AuthenticatorPasswordless
                | Method::MacOsPlatformCredential
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// The authentication info the SSPR policy allows and counts. A mobile phone
/// registered for SMS and for calls is one piece of information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyMethod {
    AppNotification,
    AppCode,
    MobilePhone,
    OfficePhone,
    Email,
    SecurityQuestions,
}

impl PolicyMethod {
    pub const ALL: [PolicyMethod; 6] = [
        PolicyMethod::AppNotification,
        PolicyMethod::AppCode,
        PolicyMethod::MobilePhone,
        PolicyMethod::OfficePhone,
        PolicyMethod::Email,
        PolicyMethod::SecurityQuestions,
    ];

    pub const fn code(self) -> i32 {
        match self {
            PolicyMethod::AppNotification => 0,
            PolicyMethod::AppCode => 1,
            PolicyMethod::MobilePhone => 2,
            PolicyMethod::OfficePhone => 3,
            PolicyMethod::Email => 4,
            PolicyMethod::SecurityQuestions => 5,
        }
    }

    pub const fn bit(self) -> i32 {
        1 << self.code()
    }

    pub const fn key(self) -> &'static str {
        match self {
            PolicyMethod::AppNotification => "app_notification",
            PolicyMethod::AppCode => "app_code",
            PolicyMethod::MobilePhone => "mobile_phone",
            PolicyMethod::OfficePhone => "office_phone",
            PolicyMethod::Email => "email",
            PolicyMethod::SecurityQuestions => "security_questions",
        }
    }

    pub fn from_key(key: &str) -> Option<PolicyMethod> {
        PolicyMethod::ALL.into_iter().find(|m| m.key() == key)
    }

    pub const fn display_name(self) -> &'static str {
        match self {
            PolicyMethod::AppNotification => "App notification",
            PolicyMethod::AppCode => "App code",
            PolicyMethod::MobilePhone => "Mobile phone",
            PolicyMethod::OfficePhone => "Office phone",
            PolicyMethod::Email => "Email",
            PolicyMethod::SecurityQuestions => "Security questions",
        }
    }

    /// The name the classic password-management reports use ("Data Registered",
    /// "Methods Used").
    pub const fn classic_name(self) -> &'static str {
        match self {
            PolicyMethod::AppNotification => "Mobile App Notification",
            PolicyMethod::AppCode => "Mobile App Code",
            PolicyMethod::MobilePhone => "Mobile Phone",
            PolicyMethod::OfficePhone => "Office Phone",
            PolicyMethod::Email => "Alternate Email",
            PolicyMethod::SecurityQuestions => "Security Questions",
        }
    }
}

impl fmt::Display for PolicyMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// A set of registered or used methods, stored as a bit mask of [`Method::bit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MethodSet(i32);

impl MethodSet {
    pub const EMPTY: MethodSet = MethodSet(0);

    /// Accepts only bits of known methods, so a corrupt mask never renders as a
    /// method that does not exist.
    pub fn from_mask(mask: i32) -> MethodSet {
        let known = Method::ALL.iter().fold(0, |acc, m| acc | m.bit());
        MethodSet(mask & known)
    }

    pub const fn mask(self) -> i32 {
        self.0
    }

    pub fn with(self, method: Method) -> MethodSet {
        MethodSet(self.0 | method.bit())
    }

    pub fn insert(&mut self, method: Method) {
        self.0 |= method.bit();
    }

    pub const fn contains(self, method: Method) -> bool {
        self.0 & method.bit() != 0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn intersects(self, other: MethodSet) -> bool {
        self.0 & other.0 != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Method> {
        Method::ALL.into_iter().filter(move |m| self.contains(*m))
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The distinct authentication info these methods amount to.
    pub fn policy_methods(self) -> PolicyMethodSet {
        self.iter()
            .filter_map(Method::policy_method)
            .fold(PolicyMethodSet::EMPTY, PolicyMethodSet::with)
    }

    /// Display names joined with ", " in catalogue order.
    pub fn display(self) -> String {
        self.iter()
            .map(Method::display_name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Display names joined with ", ", an other method shown by the names
    /// its source gave (when it gave any).
    pub fn display_naming(self, other_names: &[String]) -> String {
        self.iter()
            .map(|m| match m {
                Method::Other if !other_names.is_empty() => other_names.join(", "),
                m => m.display_name().to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The methods an activity used, as the classic reports name them:
    /// "Alternate Email + Mobile Phone" (a phone used for a text and a call
    /// is one Mobile Phone). Methods outside the password reset policy keep
    /// their names when no policy method was used. Every page that shows an
    /// activity's methods uses this one decoder of the stored set.
    pub fn classic_display(self) -> String {
        let classic = self.policy_methods().classic();
        if classic.is_empty() {
            self.display()
        } else {
            classic
        }
    }
}

impl FromIterator<Method> for MethodSet {
    fn from_iter<I: IntoIterator<Item = Method>>(iter: I) -> Self {
        iter.into_iter().fold(MethodSet::EMPTY, MethodSet::with)
    }
}

/// A set of policy methods (authentication info), stored as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PolicyMethodSet(i32);

impl PolicyMethodSet {
    pub const EMPTY: PolicyMethodSet = PolicyMethodSet(0);

    pub fn all() -> PolicyMethodSet {
        PolicyMethod::ALL.into_iter().collect()
    }

    pub fn from_mask(mask: i32) -> PolicyMethodSet {
        PolicyMethodSet(mask & PolicyMethodSet::all().0)
    }

    pub const fn mask(self) -> i32 {
        self.0
    }

    pub fn with(self, method: PolicyMethod) -> PolicyMethodSet {
        PolicyMethodSet(self.0 | method.bit())
    }

    pub fn without(self, method: PolicyMethod) -> PolicyMethodSet {
        PolicyMethodSet(self.0 & !method.bit())
    }

    pub const fn contains(self, method: PolicyMethod) -> bool {
        self.0 & method.bit() != 0
    }

    pub fn intersection(self, other: PolicyMethodSet) -> PolicyMethodSet {
        PolicyMethodSet(self.0 & other.0)
    }

    pub fn difference(self, other: PolicyMethodSet) -> PolicyMethodSet {
        PolicyMethodSet(self.0 & !other.0)
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = PolicyMethod> {
        PolicyMethod::ALL
            .into_iter()
            .filter(move |m| self.contains(*m))
    }

    /// Names joined for a sentence: "Email and Mobile phone".
    pub fn display(self) -> String {
        let names: Vec<&str> = self.iter().map(PolicyMethod::display_name).collect();
        match names.split_last() {
            None => String::new(),
            Some((last, [])) => (*last).to_string(),
            Some((last, rest)) => format!("{} and {}", rest.join(", "), last),
        }
    }

    /// The classic reports' form: "Alternate Email + Mobile Phone".
    pub fn classic(self) -> String {
        let mut names: Vec<&str> = self.iter().map(PolicyMethod::classic_name).collect();
        names.sort_unstable();
        names.join(" + ")
    }
}

impl FromIterator<PolicyMethod> for PolicyMethodSet {
    fn from_iter<I: IntoIterator<Item = PolicyMethod>>(iter: I) -> Self {
        iter.into_iter()
            .fold(PolicyMethodSet::EMPTY, PolicyMethodSet::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_keys_and_bits_are_unique_and_round_trip() {
        for m in Method::ALL {
            assert_eq!(Method::from_code(m.code()), Some(m));
            assert_eq!(Method::from_key(m.key()), Some(m));
        }
        let mask = Method::ALL.iter().fold(0, |acc, m| {
            assert_eq!(acc & m.bit(), 0, "{m:?} shares a bit");
            acc | m.bit()
        });
        assert_eq!(mask.count_ones(), 19);
        for p in PolicyMethod::ALL {
            assert_eq!(PolicyMethod::from_key(p.key()), Some(p));
        }
    }

    #[test]
    fn usage_methods_have_the_seed_display_names() {
        let names: Vec<&str> = Method::USAGE.iter().map(|m| m.display_name()).collect();
        assert_eq!(
            names,
            [
                "App notification",
                "App code",
                "Phone call",
                "Office call",
                "SMS",
                "Email",
                "Security questions"
            ]
        );
    }

    #[test]
    fn a_mobile_phone_counts_once_for_sms_and_call() {
        let set: MethodSet = [Method::MobileSms, Method::MobileCall]
            .into_iter()
            .collect();
        assert_eq!(set.len(), 2);
        assert_eq!(set.policy_methods().len(), 1);
        assert!(set.policy_methods().contains(PolicyMethod::MobilePhone));
    }

    #[test]
    fn non_sspr_methods_never_map_to_policy_methods() {
        for m in &Method::ALL[7..] {
            assert_eq!(m.policy_method(), None, "{m:?}");
        }
        for m in Method::USAGE {
            assert!(m.policy_method().is_some(), "{m:?}");
        }
    }

    #[test]
    fn an_activity_s_methods_read_as_the_classic_reports_name_them() {
        let sms_and_email: MethodSet = [Method::MobileSms, Method::Email].into_iter().collect();
        assert_eq!(
            sms_and_email.classic_display(),
            "Alternate Email + Mobile Phone"
        );
        let call_and_sms: MethodSet = [Method::MobileSms, Method::MobileCall]
            .into_iter()
            .collect();
        assert_eq!(call_and_sms.classic_display(), "Mobile Phone");
        let fido: MethodSet = [Method::Fido2].into_iter().collect();
        assert_eq!(fido.classic_display(), "FIDO2 security key");
    }

    #[test]
    fn mfa_and_passwordless_classification() {
        let mfa: Vec<Method> = Method::ALL
            .into_iter()
            .filter(|m| m.is_mfa_capable())
            .collect();
        assert!(!mfa.contains(&Method::Email));
        assert!(!mfa.contains(&Method::SecurityQuestions));
        assert!(!mfa.contains(&Method::TemporaryAccessPass));
        // What this portal does not know never makes a user MFA capable;
        // neither does a single-factor QR code or a legacy app password.
        assert!(!mfa.contains(&Method::Other));
        assert!(!mfa.contains(&Method::QrCode));
        assert!(!mfa.contains(&Method::AppPassword));
        for m in [
            Method::AppNotification,
            Method::AppCode,
            Method::MobileSms,
            Method::MobileCall,
            Method::OfficeCall,
            Method::Fido2,
            Method::Passkey,
            Method::WindowsHello,
            Method::HardwareOtp,
            Method::MacOsPlatformCredential,
            Method::ExternalAuthMethod,
            Method::OneTimePasscode,
        ] {
            assert!(mfa.contains(&m), "{m:?} should be MFA capable");
        }
        let pwless: Vec<Method> = Method::ALL
            .into_iter()
            .filter(|m| m.is_passwordless())
            .collect();
        assert_eq!(
            pwless,
            [
                Method::Fido2,
                Method::Passkey,
                Method::WindowsHello,
                Method::AuthenticatorPasswordless,
                Method::MacOsPlatformCredential
            ]
        );
    }

    #[test]
    fn classic_combination_names() {
        let set: PolicyMethodSet = [PolicyMethod::MobilePhone, PolicyMethod::Email]
            .into_iter()
            .collect();
        assert_eq!(set.classic(), "Alternate Email + Mobile Phone");
        assert_eq!(set.display(), "Mobile phone and Email");
    }

    #[test]
    fn unknown_mask_bits_are_dropped() {
        assert_eq!(MethodSet::from_mask(1 << 20 | 1).mask(), 1);
    }
}
