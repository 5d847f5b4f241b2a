//! The portal's data as Microsoft Graph writes it: the records of
//! `userRegistrationDetails`, `userEventsSummary`, `users` and the two
//! registration summaries, with Graph's property names and enum values.

use crate::db::graph::{DirectoryUser, NamedEvent};
use crate::db::models::ListUser;
use crate::domain::{Feature, Method, MethodSet, StatusKey};
use crate::ingest::graph::{graph_time, GRAPH_METHODS};
use serde_json::{json, Value};

/// Graph's stand-in for an enum member newer than the caller asked for.
pub const UNKNOWN_FUTURE_VALUE: &str = "unknownFutureValue";

/// Members Graph added to its method enumerations after
/// `unknownFutureValue`: a caller sees them only with `Prefer:
/// include-unknown-enum-members`.
pub const EVOLVED_METHODS: &[&str] = &[
    "passKeyDeviceBound",
    "passKeyDeviceBoundAuthenticator",
    "passKeyDeviceBoundWindowsHello",
    "passKeySynced",
    "macOsSecureEnclaveKey",
    "externalAuthMethod",
    "qrCode",
];

/// A time Graph writes when it has none ("never").
pub const NO_TIME: &str = "0001-01-01T00:00:00Z";

/// Graph's name of a catalogue method in `methodsRegistered` (and the
/// summaries): a mobile phone is one name for SMS and calls.
pub fn registration_name(method: Method) -> Option<&'static str> {
    Some(match method {
        Method::AppNotification => "microsoftAuthenticatorPush",
        Method::AppCode => "softwareOneTimePasscode",
        Method::MobileSms | Method::MobileCall => "mobilePhone",
        Method::OfficeCall => "officePhone",
        Method::Email => "email",
        Method::SecurityQuestions => "securityQuestion",
        Method::Fido2 => "fido2SecurityKey",
        Method::Passkey => "passKeyDeviceBound",
        Method::WindowsHello => "windowsHelloForBusiness",
        Method::HardwareOtp => "hardwareOneTimePasscode",
        Method::TemporaryAccessPass => "temporaryAccessPass",
        Method::AuthenticatorPasswordless => "microsoftAuthenticatorPasswordless",
        Method::MacOsPlatformCredential => "macOsSecureEnclaveKey",
        Method::ExternalAuthMethod => "externalAuthMethod",
        Method::OneTimePasscode => "oneTimePasscode",
        Method::QrCode => "qrCode",
        Method::AppPassword => "appPassword",
        Method::Other => return None,
    })
}

/// Graph's name of a method in a usage event (`authMethod`, whose
/// enumeration tells SMS from calls). `modern`: the names Graph added after
/// `unknownFutureValue` where there is one (`microsoftAuthenticatorPush`,
/// as Microsoft's example shows), for a caller that asked for them; else
/// the enumeration's first names (`appNotification`).
pub fn usage_name(method: Method, modern: bool) -> Option<&'static str> {
    if modern {
        match method {
            Method::AppNotification => return Some("microsoftAuthenticatorPush"),
            Method::AppCode => return Some("softwareOneTimePasscode"),
            Method::MobileSms => return Some("sms"),
            Method::Fido2 => return Some("fido2SecurityKey"),
            _ => {}
        }
    }
    Some(match method {
        Method::Email => "email",
        Method::MobileSms => "mobileSMS",
        Method::MobileCall => "mobileCall",
        Method::OfficeCall => "officePhone",
        Method::SecurityQuestions => "securityQuestion",
        Method::AppNotification => "appNotification",
        Method::AppCode => "appCode",
        Method::Fido2 => "fido",
        Method::AppPassword => "appPassword",
        other => return registration_name(other),
    })
}

/// The order Graph lists `methodsRegistered` in: the phones before the
/// Authenticator app, as in Microsoft's own example
/// (`["mobilePhone", "microsoftAuthenticatorPush", "softwareOneTimePasscode"]`).
const GRAPH_ORDER: &[&str] = &[
    "mobilePhone",
    "alternateMobilePhone",
    "officePhone",
    "email",
    "securityQuestion",
    "microsoftAuthenticatorPush",
    "softwareOneTimePasscode",
    "microsoftAuthenticatorPasswordless",
    "hardwareOneTimePasscode",
    "fido2SecurityKey",
    "passKeyDeviceBound",
    "windowsHelloForBusiness",
    "macOsSecureEnclaveKey",
    "temporaryAccessPass",
    "externalAuthMethod",
    "oneTimePasscode",
    "qrCode",
    "appPassword",
];

/// The Graph names of a user's methods, in Graph's order, then the names
/// of methods the portal does not know, as the source gave them.
pub fn methods_registered(mask: i32, other: &[String]) -> Vec<String> {
    let mut names: Vec<&'static str> = MethodSet::from_mask(mask)
        .iter()
        .filter_map(registration_name)
        .collect();
    names.sort_by_key(|n| GRAPH_ORDER.iter().position(|o| o == n));
    names.dedup();
    let mut names: Vec<String> = names.into_iter().map(str::to_string).collect();
    for name in other {
        if !names.iter().any(|n| n == name) {
            names.push(name.clone());
        }
    }
    names
}

/// The catalogue methods a Graph method name stands for (for narrowing a
/// query); `None` for a name the portal does not know.
pub fn methods_of(name: &str) -> Option<MethodSet> {
    GRAPH_METHODS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, ms)| ms.iter().copied().collect())
}

/// One user's `userRegistrationDetails`. What no source said is written as
/// Graph writes an unset value: `isMfaRegistered` from the methods, an
/// empty preferred method, `none` for the default method, no
/// system-preferred methods, and the zero time.
pub fn registration_record(u: &ListUser) -> Value {
    let key: StatusKey = u.key();
    let mfa = u.mfa_details();
    let methods = MethodSet::from_mask(key.methods_mask);
    let mut record = json!({
        "id": u.id,
        "userPrincipalName": u.user_principal_name,
        "userDisplayName": u.display_name,
        "userType": if key.is_guest { "guest" } else { "member" },
        "isAdmin": key.is_admin,
        "isSsprRegistered": key.status.registered,
        "isSsprEnabled": key.status.enabled,
        "isSsprCapable": key.status.capable,
        "isMfaRegistered": mfa
            .mfa_registered
            .unwrap_or_else(|| methods.iter().any(Method::is_mfa_capable)),
        "isMfaCapable": key.status.mfa_capable,
        "isPasswordlessCapable": key.status.passwordless_capable,
        "isSystemPreferredAuthenticationMethodEnabled": mfa.system_preferred_enabled.unwrap_or(false),
        "lastUpdatedDateTime": mfa
            .updated_at
            .map_or_else(|| NO_TIME.to_string(), graph_time),
        "methodsRegistered": methods_registered(key.methods_mask, &u.other_method_names()),
        "systemPreferredAuthenticationMethods": mfa.system_preferred_methods.unwrap_or_default(),
        // Graph writes "" where the user chose none (its own example).
        "userPreferredMethodForSecondaryAuthentication": mfa
            .user_preferred_method
            .unwrap_or_default(),
    });
    // Documented for beta; Microsoft's own v1.0 example returns it too.
    record["defaultMfaMethod"] =
        json!(mfa.default_mfa_method.unwrap_or_else(|| "none".to_string()));
    record
}

/// One event of `userEventsSummary` (beta): its `id` is the user's.
pub fn event_record(e: &NamedEvent, modern: bool) -> Value {
    let ev = &e.event;
    let method = Method::from_code(ev.method).unwrap_or(Method::Other);
    let auth = match usage_name(method, modern) {
        Some(name) => name.to_string(),
        None => ev
            .method_name
            .clone()
            .unwrap_or_else(|| UNKNOWN_FUTURE_VALUE.to_string()),
    };
    let feature = match Feature::from_code(ev.feature) {
        Some(Feature::Registration) => "registration",
        _ => "reset",
    };
    json!({
        "@odata.type": "#microsoft.graph.userEventsSummary",
        "id": ev.user_id,
        "feature": feature,
        "userPrincipalName": e.user_principal_name.clone().unwrap_or_default(),
        "userDisplayName": e.user_display_name.clone().unwrap_or_default(),
        "isSuccess": ev.success,
        "authMethod": auth,
        "failureReason": ev.failure_reason.clone().unwrap_or_default(),
        "eventDateTime": graph_time(ev.occurred_at),
    })
}

/// Graph's default properties of a user (without `$select`).
pub const USER_DEFAULT_PROPERTIES: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// One directory user as `users` lists it: what the portal holds, and
/// Graph's other default properties empty (the portal does not keep them).
pub fn user_record(u: &DirectoryUser) -> Value {
    json!({
        "businessPhones": [],
        "displayName": u.display_name,
        "givenName": null,
        "jobTitle": null,
        "mail": null,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": null,
        "surname": null,
        "userPrincipalName": u.user_principal_name,
        "id": u.id,
        "accountEnabled": u.account_enabled,
        "userType": if u.is_guest { "Guest" } else { "Member" },
    })
}

/// Replaces the evolved members of a record's method enumerations with
/// `unknownFutureValue`, for a caller that did not ask for them.
pub fn hide_evolved(record: &mut Value, fields: &[&str]) {
    let hide = |v: &mut Value| {
        if let Some(s) = v.as_str() {
            if EVOLVED_METHODS.contains(&s) {
                *v = json!(UNKNOWN_FUTURE_VALUE);
            }
        }
    };
    for field in fields {
        match record.get_mut(*field) {
            Some(Value::Array(items)) => {
                items.iter_mut().for_each(hide);
                // Graph lists a value once.
                let mut seen = Vec::new();
                items.retain(|v| {
                    let fresh = !seen.contains(v);
                    seen.push(v.clone());
                    fresh
                });
            }
            Some(v) => hide(v),
            None => {}
        }
    }
}
