//! Graph's vocabulary as the portal reads it: method names, audit
//! services and activities, and the texts of `resultReason` each flow step
//! is recognised by.

use super::*;

/// Graph's method names — `methodsRegistered` of userRegistrationDetails,
/// `registrationAuthMethod` of credentialUserRegistrationDetails and
/// `usageAuthMethod` of the usage reports — and the catalogue methods each
/// stands for.
pub const GRAPH_METHODS: &[(&str, &[Method])] = &[
    ("microsoftAuthenticatorPush", &[Method::AppNotification]),
    ("appNotification", &[Method::AppNotification]),
    ("softwareOneTimePasscode", &[Method::AppCode]),
    ("appCode", &[Method::AppCode]),
    ("mobilePhone", &[Method::MobileSms, Method::MobileCall]),
    ("alternateMobilePhone", &[Method::MobileCall]),
    ("mobileSMS", &[Method::MobileSms]),
    ("sms", &[Method::MobileSms]),
    ("mobileCall", &[Method::MobileCall]),
    ("alternateMobileCall", &[Method::MobileCall]),
    ("officePhone", &[Method::OfficeCall]),
    ("email", &[Method::Email]),
    ("securityQuestion", &[Method::SecurityQuestions]),
    ("fido2", &[Method::Fido2]),
    ("fido", &[Method::Fido2]),
    ("fido2SecurityKey", &[Method::Fido2]),
    ("passKeyDeviceBound", &[Method::Passkey]),
    ("passKeyDeviceBoundAuthenticator", &[Method::Passkey]),
    ("passKeyDeviceBoundWindowsHello", &[Method::Passkey]),
    ("passKeySynced", &[Method::Passkey]),
    ("windowsHelloForBusiness", &[Method::WindowsHello]),
    ("hardwareOneTimePasscode", &[Method::HardwareOtp]),
    ("temporaryAccessPass", &[Method::TemporaryAccessPass]),
    (
        "microsoftAuthenticatorPasswordless",
        &[Method::AuthenticatorPasswordless],
    ),
    ("macOsSecureEnclaveKey", &[Method::MacOsPlatformCredential]),
    ("externalAuthMethod", &[Method::ExternalAuthMethod]),
    ("oneTimePasscode", &[Method::OneTimePasscode]),
    ("qrCode", &[Method::QrCode]),
    ("appPassword", &[Method::AppPassword]),
];

/// Graph's stand-in for an enum member newer than the caller asked for.
pub const UNKNOWN_FUTURE_VALUE: &str = "unknownFutureValue";

/// What to do about `unknownFutureValue`.
pub const UNKNOWN_FUTURE_VALUE_HINT: &str = "Graph writes unknownFutureValue for a value newer than the request asked for (most modern methods, in the authentication-methods reports); export again with the request header `Prefer: include-unknown-enum-members` to get the real names";

/// The service names of the audit entries this import reads.
pub const SSPR_SERVICE: &str = "Self-service Password Management";
pub const AUTHENTICATION_METHODS_SERVICE: &str = "Authentication Methods";

/// What an audit entry is to this import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditActivity {
    /// One step of a password reset flow.
    ResetProgress,
    /// The end of a reset flow: "Reset password (self-service)".
    ResetDone,
    /// The end of an unlock flow: "Unlock user account (self-service)", the
    /// same verification ending in an unlocked account (an unlock activity).
    UnlockDone,
    /// The user was blocked from password reset for 24 hours.
    Blocked,
    /// The user began registering one piece of security info.
    RegistrationStarted,
    /// The user registered (or failed to register) one piece of security info.
    Registered,
    /// The user registered everything the policy requires.
    RegisteredAll,
    /// A change or deletion of security info: part of a registration
    /// session, but it registers nothing.
    RegistrationOther,
}

/// Audit entries kept, by (`loggedByService`, `activityDisplayName`),
/// compared ignoring case. Every other entry is skipped.
pub const AUDIT_ACTIVITIES: &[(&str, &str, AuditActivity)] = &[
    (
        SSPR_SERVICE,
        "Self-service password reset flow activity progress",
        AuditActivity::ResetProgress,
    ),
    (
        SSPR_SERVICE,
        "Reset password (self-service)",
        AuditActivity::ResetDone,
    ),
    (
        SSPR_SERVICE,
        "Unlock user account (self-service)",
        AuditActivity::UnlockDone,
    ),
    (
        SSPR_SERVICE,
        "Unlock a user account (self-service)",
        AuditActivity::UnlockDone,
    ),
    (
        SSPR_SERVICE,
        "Blocked from self-service password reset",
        AuditActivity::Blocked,
    ),
    (
        SSPR_SERVICE,
        "User registered for self-service password reset",
        AuditActivity::RegisteredAll,
    ),
    (
        AUTHENTICATION_METHODS_SERVICE,
        "User started security info registration",
        AuditActivity::RegistrationStarted,
    ),
    (
        AUTHENTICATION_METHODS_SERVICE,
        "User registered security info",
        AuditActivity::Registered,
    ),
    (
        AUTHENTICATION_METHODS_SERVICE,
        "User registered all required security info",
        AuditActivity::RegisteredAll,
    ),
    (
        AUTHENTICATION_METHODS_SERVICE,
        "User changed default security info",
        AuditActivity::RegistrationOther,
    ),
    (
        AUTHENTICATION_METHODS_SERVICE,
        "User deleted security info",
        AuditActivity::RegistrationOther,
    ),
    (
        AUTHENTICATION_METHODS_SERVICE,
        "User updated security info",
        AuditActivity::RegistrationOther,
    ),
];

/// Progress texts of a reset flow that come before any method.
pub const USER_ID_STEPS: &[&str] = &[
    "User submitted their user ID",
    "User was presented with verification options",
];

/// The verification options as reset progress texts name them: "User
/// started the mobile SMS verification option", "User completed the email
/// verification option" (the seed also writes "the security questions
/// option").
pub const VERIFICATION_OPTIONS: &[(&str, Method)] = &[
    ("email", Method::Email),
    ("mobile SMS", Method::MobileSms),
    ("mobile voice call", Method::MobileCall),
    ("office voice call", Method::OfficeCall),
    ("security questions", Method::SecurityQuestions),
    ("security question", Method::SecurityQuestions),
    ("mobile app notification", Method::AppNotification),
    ("mobile app code", Method::AppCode),
];

/// Failure reasons of "Reset password (self-service)" that refuse the new
/// password (banned-password detection) without ending the flow.
pub const NEW_PASSWORD_REJECTED: &[&str] = &[
    "FuzzyPolicyViolationInvalidPassword",
    "PasswordDoesnotComplyFuzzyPolicy",
];

/// The abandoned detail after a method's last step: (method, after starting
/// it, after completing it).
pub const ABANDONED_AFTER: &[(Method, Details, Details)] = &[
    (
        Method::Email,
        Details::AbandonedAfterEmailStarted,
        Details::AbandonedAfterEmailCompleted,
    ),
    (
        Method::MobileSms,
        Details::AbandonedAfterSmsStarted,
        Details::AbandonedAfterSmsCompleted,
    ),
    (
        Method::MobileCall,
        Details::AbandonedAfterMobileCallStarted,
        Details::AbandonedAfterMobileCallCompleted,
    ),
    (
        Method::OfficeCall,
        Details::AbandonedAfterOfficeCallStarted,
        Details::AbandonedAfterOfficeCallCompleted,
    ),
    (
        Method::SecurityQuestions,
        Details::AbandonedAfterSecurityQuestionsStarted,
        Details::AbandonedAfterSecurityQuestionsCompleted,
    ),
];

/// The blocked detail when a block entry gives no reason: the method the
/// user last tried.
pub const BLOCKED_AT: &[(Method, Details)] = &[
    (Method::MobileSms, Details::BlockedSmsCodes),
    (Method::MobileCall, Details::BlockedMobileCall),
    (Method::OfficeCall, Details::BlockedOfficeCall),
    (Method::SecurityQuestions, Details::BlockedSecurityQuestions),
];

/// Security info as registration audit texts name it ("User registered
/// Mobile Phone SMS"), compared ignoring case.
pub const SECURITY_INFO: &[(&str, &[Method])] = &[
    (
        "Authenticator App with Notification and Code",
        &[Method::AppNotification, Method::AppCode],
    ),
    (
        "Authenticator App with Notification",
        &[Method::AppNotification],
    ),
    ("Authenticator App with Code", &[Method::AppCode]),
    ("Software OATH token", &[Method::AppCode]),
    ("Hardware OATH token", &[Method::HardwareOtp]),
    (
        "Mobile Phone Call and SMS",
        &[Method::MobileSms, Method::MobileCall],
    ),
    ("Mobile Phone SMS", &[Method::MobileSms]),
    ("Mobile Phone Call", &[Method::MobileCall]),
    ("Mobile Phone", &[Method::MobileSms, Method::MobileCall]),
    ("Alternate Mobile Phone", &[Method::MobileCall]),
    ("Alternate Mobile Phone Call", &[Method::MobileCall]),
    ("Office Phone", &[Method::OfficeCall]),
    ("Office Phone Call", &[Method::OfficeCall]),
    ("Email", &[Method::Email]),
    ("Alternate Email", &[Method::Email]),
    ("Security Questions", &[Method::SecurityQuestions]),
    ("Fido", &[Method::Fido2]),
    ("FIDO2 Security Key", &[Method::Fido2]),
    ("Windows Hello for Business", &[Method::WindowsHello]),
    ("Temporary Access Pass", &[Method::TemporaryAccessPass]),
];

pub(super) const REGISTERED_PREFIX: &str = "User registered ";
pub(super) const REGISTER_FAILED_PREFIX: &str = "User failed to register ";
pub(super) const REGISTRATION_STARTED_PREFIX: &str = "User started the registration for ";
pub(super) const REGISTERED_ALL_REASON: &str = "User registered all required security info";

/// Failure reason of a verification started but never completed.
pub(super) const NOT_VERIFIED: &str = "Verification not completed";
/// Failure reason of a registration started but never completed.
pub(super) const NOT_REGISTERED: &str = "Registration not completed";
