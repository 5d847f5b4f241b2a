//! One user in words: the policy that applies, how each method counts, and
//! each figure explained. The user page and the user API say the same.

use crate::db::users::UserDetail;
use crate::domain::explain::{explain_all, with_stated, Context, Explanation};
use crate::domain::second_factor;
use crate::domain::{Assessment, Method, MethodSet, Scope};
use crate::web::forms::UNKNOWN;
use chrono::NaiveDateTime;

/// The policy that applies to the user, in one sentence.
pub fn policy_text(d: &UserDetail) -> String {
    let p = &d.policy;
    let scope = match &p.scope {
        Scope::None => "not enabled for users (scope None)".to_string(),
        Scope::All => "enabled for all member users".to_string(),
        Scope::Selected { group_id } => format!(
            "enabled for group '{}'",
            d.policy_group_name.as_deref().unwrap_or(group_id)
        ),
    };
    let req = d.assessment.requirement;
    let own = format!(
        "The SSPR policy is {scope}, requires {} {} and allows {}.",
        p.methods_required(),
        if p.methods_required() == 1 {
            "method"
        } else {
            "methods"
        },
        p.allowed().display()
    );
    if req.administrator_policy {
        format!(
            "{own} As an administrator, this user is measured by the administrator policy instead: {} methods from {}.",
            req.methods_required,
            req.allowed.display()
        )
    } else {
        own
    }
}

/// How a registered method counts toward the user's requirement: a stable
/// key and the page's words.
pub fn standing(a: &Assessment, m: Method) -> (&'static str, &'static str) {
    match m.policy_method() {
        None => ("not_sspr", "Not an SSPR method"),
        Some(pm) if a.counted.contains(pm) => ("counts", "Counts"),
        Some(_) => ("not_allowed", "Not allowed by the policy"),
    }
}

/// The five figures of a user, each explained in words; where a directory
/// export stated a figure, the figure it stated.
pub fn explanations(d: &UserDetail) -> Vec<Explanation> {
    let u = &d.user;
    let ctx = Context {
        methods: d.methods.iter().map(|(m, _)| *m).collect(),
        is_guest: u.is_guest,
        directory_role: &u.directory_role,
        policy_group_name: d.policy_group_name.as_deref(),
        scope: &d.policy.scope,
    };
    let a = &d.assessment;
    match (u.verdicts(), u.directory_status_at) {
        (Some(v), Some(at)) => with_stated(
            explain_all(a, &ctx),
            [
                v.registered,
                v.enabled,
                v.capable,
                v.mfa_capable,
                v.passwordless_capable,
            ],
            &at.format("%Y-%m-%d %H:%M UTC").to_string(),
            d.source,
        ),
        _ => explain_all(a, &ctx),
    }
}

/// Whether the stored figures differ from the rules applied now.
pub fn stored_differs(d: &UserDetail) -> bool {
    let u = &d.user;
    let methods: MethodSet = d.methods.iter().map(|(m, _)| *m).collect();
    u.shown_status(d.assessment.status, d.source) != u.status() || methods.mask() != u.methods_mask
}

/// The system-preferred methods as a cell shows them: the methods in
/// Graph's order (`joined`: as the column stores them, comma-separated), and
/// "(off)" when the user is not enabled for the system's preference (the
/// methods then do not apply).
pub fn system_preferred_text(joined: Option<&str>, enabled: Option<bool>) -> String {
    let mut shown = String::new();
    if let Some(joined) = joined {
        for name in joined.split(',').filter(|n| !n.is_empty()) {
            if !shown.is_empty() {
                shown.push_str(", ");
            }
            shown.push_str(&second_factor::display(name));
        }
        if shown.is_empty() {
            shown.push_str("None");
        }
    }
    match (joined.is_some(), enabled) {
        (false, None) => UNKNOWN.into(),
        (false, Some(true)) => "On".into(),
        (false, Some(false)) => "Off".into(),
        (true, Some(false)) => shown + " (off)",
        (true, _) => shown,
    }
}

/// A time as the lists show it, "2025-05-19 23:10 UTC" (written out
/// directly: a CSV of a million users formats a million of them).
pub fn minute_utc(t: NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute()
    )
}
