//! The way back: a stored activity and its method events written out as the
//! `directoryAudits` entries this module reads, so that what the portal
//! serves under `/graph/…/auditLogs/directoryAudits` imports (or syncs) into
//! another portal as the same activity.
//!
//! A reset flow becomes: "User submitted their user ID"; for each method
//! event in time order, "User started the *option* verification option" and,
//! when it succeeded, "User completed the *option* verification option";
//! then its ending: "Reset password (self-service)" (success), "Unlock user
//! account (self-service)" (success, or failure with the detail's text),
//! "Blocked from self-service password reset" with the detail's text, or a
//! progress entry whose reason is the detail's text. A registration becomes
//! "User started security info registration", one "User registered *info*"
//! or "User failed to register *info*" per method event, and "User
//! registered all required security info" when it succeeded.
//!
//! Entries share the activity's correlation id (its id without the `aud-` or
//! `aud-reg-` the reader adds, so a copy of a copy keeps the same id) and
//! are numbered `<correlation>-<n>`. What the audit log cannot say is lost
//! on the way: a failed verification's own reason (the reader gives it the
//! flow's detail) and a method without a verification option or security-info
//! name (the app-only passwordless methods).

use super::*;
use serde_json::json;

/// The correlation id an activity's entries carry.
pub fn correlation_of(activity_id: &str) -> &str {
    activity_id
        .strip_prefix("aud-reg-")
        .or_else(|| activity_id.strip_prefix("aud-"))
        .unwrap_or(activity_id)
}

/// The audit service that logs an activity's entries.
pub fn service_of(feature: Feature) -> &'static str {
    match feature {
        Feature::Registration => AUTHENTICATION_METHODS_SERVICE,
        Feature::Reset | Feature::Unlock => SSPR_SERVICE,
    }
}

fn option_name(method: Method) -> Option<&'static str> {
    VERIFICATION_OPTIONS
        .iter()
        .find(|(_, m)| *m == method)
        .map(|(name, _)| *name)
}

fn info_name(method: Method) -> Option<&'static str> {
    SECURITY_INFO
        .iter()
        .find(|(_, methods)| methods == &[method])
        .map(|(name, _)| *name)
}

/// A time as Graph writes it: UTC with `Z`, and the fraction of a second
/// when there is one (to the microsecond, as the portal keeps it).
pub fn graph_time(t: NaiveDateTime) -> String {
    t.trunc_subsecs(6)
        .and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

struct Writer<'a> {
    activity: &'a Activity,
    correlation: &'a str,
    service: &'static str,
    entries: Vec<Value>,
}

impl Writer<'_> {
    fn push(&mut self, name: &str, success: bool, reason: &str, at: NaiveDateTime) {
        self.push_with(name, success, reason, at, None);
    }

    /// An entry; `failure` is a failed verification's or registration's
    /// own reason, written to `additionalDetails`.
    fn push_with(
        &mut self,
        name: &str,
        success: bool,
        reason: &str,
        at: NaiveDateTime,
        failure: Option<&str>,
    ) {
        let details = match failure {
            Some(why) => json!([{"key": FAILURE_REASON_KEY, "value": why}]),
            None => json!([]),
        };
        let a = self.activity;
        // Graph's id of a user it cannot name: all zeros (read back as unknown).
        let id = a
            .user_id
            .clone()
            .unwrap_or_else(|| "00000000-0000-0000-0000-000000000000".to_string());
        let upn = Some(a.user_principal_name.as_str()).filter(|u| !u.is_empty());
        let display = Some(a.user_display_name.as_str()).filter(|u| !u.is_empty());
        self.entries.push(json!({
            "id": format!("{}-{}", self.correlation, self.entries.len() + 1),
            "category": "UserManagement",
            "correlationId": self.correlation,
            "result": if success { "success" } else { "failure" },
            "resultReason": reason,
            "activityDisplayName": name,
            "activityDateTime": graph_time(at),
            "loggedByService": self.service,
            "operationType": "Update",
            "initiatedBy": {
                "app": null,
                "user": {
                    "id": id,
                    "displayName": display,
                    "userPrincipalName": upn,
                    "ipAddress": "",
                    "userType": null,
                    "homeTenantId": null,
                    "homeTenantName": null,
                },
            },
            "targetResources": [{
                "id": id,
                "displayName": display,
                "type": "User",
                "userPrincipalName": upn,
                "groupType": null,
                "modifiedProperties": [],
            }],
            "additionalDetails": details,
        }));
    }
}

/// The audit entries of `activity` with its method `events`, oldest first.
pub fn audit_entries(activity: &Activity, events: &[MethodEvent]) -> Vec<Value> {
    let feature = Feature::from_code(activity.feature).unwrap_or(Feature::Reset);
    let mut events: Vec<&MethodEvent> = events.iter().collect();
    events.sort_by(|a, b| a.occurred_at.cmp(&b.occurred_at).then(a.id.cmp(&b.id)));
    let correlation = correlation_of(&activity.id);
    let mut w = Writer {
        activity,
        correlation,
        service: service_of(feature),
        entries: Vec::new(),
    };
    let start = activity.occurred_at;
    let details = activity.details.and_then(Details::from_code);
    let result = ActivityResult::from_code(activity.result).unwrap_or(ActivityResult::Abandoned);
    let last = events.last().map_or(start, |e| e.occurred_at.max(start));
    if feature == Feature::Registration {
        let started = "User started security info registration";
        w.push(started, true, "", start);
        for e in &events {
            let Some(info) = Method::from_code(e.method).and_then(info_name) else {
                continue;
            };
            let name = "User registered security info";
            if e.success {
                w.push(
                    name,
                    true,
                    &format!("{REGISTERED_PREFIX}{info}"),
                    e.occurred_at,
                );
            } else {
                let reason = format!("{REGISTER_FAILED_PREFIX}{info}");
                let own = e.failure_reason.as_deref().filter(|r| *r != reason);
                w.push_with(name, false, &reason, e.occurred_at, own);
            }
        }
        if result == ActivityResult::Succeeded {
            w.push(REGISTERED_ALL_REASON, true, REGISTERED_ALL_REASON, last);
        }
        return w.entries;
    }
    let progress = "Self-service password reset flow activity progress";
    w.push(progress, true, USER_ID_STEPS[0], start);
    // What the reader gives a verification left open: the flow's detail,
    // or "not verified".
    let unsettled = match details {
        Some(d) if result != ActivityResult::Succeeded => d.text(),
        _ => NOT_VERIFIED,
    };
    for (i, e) in events.iter().enumerate() {
        let Some(option) = Method::from_code(e.method).and_then(option_name) else {
            continue;
        };
        let at = e.occurred_at.max(start);
        w.push(
            progress,
            true,
            &format!("User started the {option} verification option"),
            at,
        );
        let completed = format!("User completed the {option} verification option");
        if e.success {
            w.push(progress, true, &completed, at);
            continue;
        }
        // A failure is written when leaving it open would say otherwise:
        // its own reason differs, or the method is tried again (an open
        // verification and its retry would read as one).
        let retried = events[i + 1..].iter().any(|later| later.method == e.method);
        let reason = e.failure_reason.as_deref().unwrap_or(NOT_VERIFIED);
        if retried || reason != unsettled {
            w.push_with(progress, false, &completed, at, Some(reason));
        }
    }
    match (feature, result, details) {
        (Feature::Unlock, ActivityResult::Succeeded, _) => {
            w.push("Unlock user account (self-service)", true, "", last)
        }
        (Feature::Unlock, _, Some(d)) => {
            w.push("Unlock user account (self-service)", false, d.text(), last)
        }
        (_, ActivityResult::Succeeded, _) => {
            w.push("Reset password (self-service)", true, "", last)
        }
        (_, ActivityResult::Blocked, Some(d)) => w.push(
            "Blocked from self-service password reset",
            false,
            d.text(),
            last,
        ),
        (_, _, Some(d)) => w.push(progress, false, d.text(), last),
        // Abandoned with no detail: the flow simply ends.
        (_, _, None) => {}
    }
    w.entries
}
