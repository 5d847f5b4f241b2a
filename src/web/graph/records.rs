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

/// Graph's name of a method in a usage event (`authMethod`): the usage
/// enumeration tells SMS from calls.
pub fn usage_name(method: Method) -> Option<&'static str> {
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

/// The Graph names of a user's methods, in catalogue order, then the
/// names of methods the portal does not know, as the source gave them.
pub fn methods_registered(mask: i32, other: &[String]) -> Vec<String> {
    let methods = MethodSet::from_mask(mask);
    let mut names: Vec<String> = Vec::new();
    // In the order of the first method of each name in the catalogue, so
    // that the list does not depend on which phone methods stand behind
    // `mobilePhone`.
    for m in Method::ALL {
        let Some(name) = registration_name(m) else {
            continue;
        };
        let held = Method::ALL
            .iter()
            .any(|x| methods.contains(*x) && registration_name(*x) == Some(name));
        if held && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
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
/// Graph writes an unset value: `isMfaRegistered` from the methods,
/// `none` for the preferred and default method, no system-preferred
/// methods, and the zero time.
pub fn registration_record(u: &ListUser, beta: bool) -> Value {
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
        "userPreferredMethodForSecondaryAuthentication": mfa
            .user_preferred_method
            .unwrap_or_else(|| "none".to_string()),
    });
    // Documented for beta; Microsoft's own v1.0 example returns it too.
    let _ = beta;
    record["defaultMfaMethod"] =
        json!(mfa.default_mfa_method.unwrap_or_else(|| "none".to_string()));
    record
}

/// One event of `userEventsSummary` (beta): its `id` is the user's.
pub fn event_record(e: &NamedEvent) -> Value {
    let ev = &e.event;
    let method = Method::from_code(ev.method).unwrap_or(Method::Other);
    let auth = match usage_name(method) {
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

/// One directory user as `users` lists it.
pub fn user_record(u: &DirectoryUser) -> Value {
    json!({
        "id": u.id,
        "displayName": u.display_name,
        "userPrincipalName": u.user_principal_name,
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
