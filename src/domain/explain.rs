//! Every figure of a user explained in a sentence, from the same assessment
//! that computed it: which methods count, how many the policy requires, which
//! registered methods it does not allow, and why the user is or is not in scope.

use super::method::{Method, MethodSet, PolicyMethod, PolicyMethodSet};
use super::policy::Scope;
use super::status::VerdictSource;
use super::status::{Assessment, ScopeReason};

/// One explained figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The figure: "Registered", "Enabled", …
    pub figure: &'static str,
    pub value: bool,
    /// "Registered" or "Not registered", and so on.
    pub verdict: String,
    /// Why, in words.
    pub reason: String,
}

/// What the sentences need besides the assessment.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub methods: MethodSet,
    pub is_guest: bool,
    pub directory_role: &'a str,
    /// Display name of the group the policy is scoped to, when it has one.
    pub policy_group_name: Option<&'a str>,
    pub scope: &'a Scope,
}

fn count_word(n: usize) -> String {
    match n {
        1 => "1 method".into(),
        n => format!("{n} methods"),
    }
}

fn is_are(set: PolicyMethodSet) -> &'static str {
    if set.len() == 1 {
        "is"
    } else {
        "are"
    }
}

fn names(methods: impl Iterator<Item = Method>) -> String {
    let names: Vec<&str> = methods.map(Method::display_name).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} and {}", rest.join(", "), last),
    }
}

fn group_phrase(ctx: &Context<'_>) -> String {
    match (ctx.policy_group_name, ctx.scope.group_id()) {
        (Some(name), _) => format!("group '{name}'"),
        (None, Some(id)) => format!("group {id} (not in the directory)"),
        (None, None) => "a group".into(),
    }
}

pub fn registered(a: &Assessment, ctx: &Context<'_>) -> Explanation {
    let req = a.requirement;
    let policy_name = if req.administrator_policy {
        "the administrator policy"
    } else {
        "the policy"
    };
    let counted = if a.counted.is_empty() {
        "none".to_string()
    } else {
        a.counted.display()
    };
    let mut reason = if a.status.registered {
        format!(
            "registered {} {} allows ({}); it requires {}.",
            count_word(a.counted.len()),
            policy_name,
            counted,
            req.methods_required
        )
    } else {
        format!(
            "registered {} of the {} {} requires ({}).",
            a.counted.len(),
            count_word(req.methods_required as usize),
            policy_name,
            counted
        )
    };
    if !a.not_allowed.is_empty() {
        let admin_questions =
            req.administrator_policy && a.not_allowed.contains(PolicyMethod::SecurityQuestions);
        reason.push_str(&format!(
            " {} {} registered but not allowed by {}{}.",
            a.not_allowed.display(),
            is_are(a.not_allowed),
            policy_name,
            if admin_questions {
                " (security questions never count for administrators)"
            } else {
                ""
            }
        ));
    }
    if ctx.methods.contains(Method::MobileSms) && ctx.methods.contains(Method::MobileCall) {
        reason.push_str(" SMS and phone call use the same mobile phone, which counts once.");
    }
    let other: MethodSet = ctx
        .methods
        .iter()
        .filter(|m| m.policy_method().is_none())
        .collect();
    if !other.is_empty() {
        reason.push_str(&format!(
            " {} {} not serve password reset.",
            names(other.iter()),
            if other.len() == 1 { "does" } else { "do" }
        ));
    }
    Explanation {
        figure: "Registered",
        value: a.status.registered,
        verdict: verdict("Registered", a.status.registered),
        reason: capitalise(&reason),
    }
}

pub fn enabled(a: &Assessment, ctx: &Context<'_>) -> Explanation {
    let reason = match a.scope {
        // A source that says a user is an administrator may not name the
        // role (Graph's registration reports do not).
        ScopeReason::Administrator if ctx.directory_role.is_empty() => {
            "an administrator; administrators are always in scope, under the administrator policy."
                .to_string()
        }
        ScopeReason::Administrator => format!(
            "administrators ({}) are always in scope, under the administrator policy.",
            ctx.directory_role
        ),
        ScopeReason::InPolicyGroup if ctx.is_guest => format!(
            "guest member of {}, the group the policy is scoped to; guests count when they are in the selected group.",
            group_phrase(ctx)
        ),
        ScopeReason::InPolicyGroup => format!(
            "member of {}, the group the policy is scoped to.",
            group_phrase(ctx)
        ),
        ScopeReason::NotInPolicyGroup => format!(
            "the policy is scoped to {}, and this user is not a member of it.",
            group_phrase(ctx)
        ),
        ScopeReason::AllMembers => "the policy is enabled for all member users.".into(),
        ScopeReason::GuestExcluded => {
            "the policy is enabled for all users, and guests are excluded from all.".into()
        }
        ScopeReason::ScopeNone => {
            "self-service password reset is not enabled for users (scope None); only administrators are in scope."
                .into()
        }
    };
    Explanation {
        figure: "Enabled",
        value: a.status.enabled,
        verdict: verdict("Enabled", a.status.enabled),
        reason: capitalise(&reason),
    }
}

pub fn capable(a: &Assessment) -> Explanation {
    let s = a.status;
    let reason = match (s.registered, s.enabled) {
        (true, true) => "registered and enabled: this user can reset their password now.",
        (false, true) => "enabled but not registered: the user must register more methods first.",
        (true, false) => "registered but not enabled: the policy does not cover this user.",
        (false, false) => "neither registered nor enabled.",
    };
    Explanation {
        figure: "Capable",
        value: s.capable,
        verdict: verdict("Capable", s.capable),
        reason: capitalise(reason),
    }
}

pub fn mfa_capable(a: &Assessment, ctx: &Context<'_>) -> Explanation {
    let usable: Vec<Method> = ctx.methods.iter().filter(|m| m.is_mfa_capable()).collect();
    let reason = if usable.is_empty() {
        "no method usable as a second factor is registered; email and security questions do not count."
            .to_string()
    } else {
        format!(
            "{} can serve as a second factor.",
            names(usable.into_iter())
        )
    };
    Explanation {
        figure: "MFA capable",
        value: a.status.mfa_capable,
        verdict: verdict("MFA capable", a.status.mfa_capable),
        reason: capitalise(&reason),
    }
}

pub fn passwordless_capable(a: &Assessment, ctx: &Context<'_>) -> Explanation {
    let usable: Vec<Method> = ctx.methods.iter().filter(|m| m.is_passwordless()).collect();
    let reason = if usable.is_empty() {
        "no passwordless method (FIDO2 security key, passkey, Windows Hello for Business, Authenticator passwordless sign-in) is registered."
            .to_string()
    } else {
        format!("{} signs in without a password.", names(usable.into_iter()))
    };
    Explanation {
        figure: "Passwordless capable",
        value: a.status.passwordless_capable,
        verdict: verdict("Passwordless capable", a.status.passwordless_capable),
        reason: capitalise(&reason),
    }
}

/// The figures with a directory export's verdicts: under
/// [`VerdictSource::Directory`] a stated figure is shown with the portal's
/// own finding beside it where they differ; under [`VerdictSource::Policy`]
/// the portal's figure is shown with what the export states beside it.
pub fn with_stated(
    explanations: Vec<Explanation>,
    stated: [Option<bool>; 5],
    export_date: &str,
    source: VerdictSource,
) -> Vec<Explanation> {
    explanations
        .into_iter()
        .zip(stated)
        .map(|(e, stated)| match (stated, source) {
            (None, _) => e,
            (Some(v), _) if v == e.value => Explanation {
                reason: format!(
                    "{} The directory export of {export_date} states the same.",
                    e.reason
                ),
                ..e
            },
            (Some(v), VerdictSource::Directory) => Explanation {
                figure: e.figure,
                value: v,
                verdict: verdict(e.figure, v),
                reason: format!(
                    "As the directory export of {export_date} states. This portal's own rules find otherwise — {}: {}",
                    e.verdict, e.reason
                ),
            },
            (Some(v), VerdictSource::Policy) => Explanation {
                reason: format!(
                    "{} The directory export of {export_date} states otherwise — {} — which this portal is set to overrule with its own policy.",
                    e.reason,
                    verdict(e.figure, v)
                ),
                ..e
            },
        })
        .collect()
}

/// The five figures in page order.
pub fn explain_all(a: &Assessment, ctx: &Context<'_>) -> Vec<Explanation> {
    vec![
        registered(a, ctx),
        enabled(a, ctx),
        capable(a),
        mfa_capable(a, ctx),
        passwordless_capable(a, ctx),
    ]
}

pub fn verdict(figure: &str, value: bool) -> String {
    if value {
        figure.to_string()
    } else {
        let mut lower = figure.to_string();
        if !figure.starts_with("MFA") {
            lower = figure.to_lowercase();
        }
        format!("Not {lower}")
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::SsprPolicy;
    use crate::domain::status::{assess, UserFacts};
    use Method::*;

    fn pilot() -> SsprPolicy {
        SsprPolicy::new(
            Scope::Selected {
                group_id: "g".into(),
            },
            2,
            [
                PolicyMethod::AppNotification,
                PolicyMethod::AppCode,
                PolicyMethod::MobilePhone,
                PolicyMethod::Email,
            ]
            .into_iter()
            .collect(),
        )
        .unwrap()
    }

    fn explain(admin: bool, guest: bool, in_group: bool, methods: &[Method]) -> Vec<Explanation> {
        let policy = pilot();
        let methods: MethodSet = methods.iter().copied().collect();
        let a = assess(
            &policy,
            &UserFacts {
                is_guest: guest,
                is_admin: admin,
                in_policy_group: in_group,
                methods,
            },
        );
        explain_all(
            &a,
            &Context {
                methods,
                is_guest: guest,
                directory_role: if admin {
                    "Global Administrator"
                } else {
                    "User"
                },
                policy_group_name: Some("SSPR pilot"),
                scope: &policy.scope,
            },
        )
    }

    #[test]
    fn eve_is_told_which_methods_the_policy_does_not_allow() {
        let e = explain(false, false, true, &[OfficeCall, SecurityQuestions]);
        assert_eq!(e[0].verdict, "Not registered");
        assert_eq!(
            e[0].reason,
            "Registered 0 of the 2 methods the policy requires (none). Office phone and Security questions are registered but not allowed by the policy."
        );
        assert_eq!(
            e[1].reason,
            "Member of group 'SSPR pilot', the group the policy is scoped to."
        );
        assert_eq!(e[2].verdict, "Not capable");
    }

    #[test]
    fn ben_is_told_one_phone_counts_once() {
        let e = explain(false, false, true, &[MobileSms, MobileCall]);
        assert_eq!(
            e[0].reason,
            "Registered 1 of the 2 methods the policy requires (Mobile phone). SMS and phone call use the same mobile phone, which counts once."
        );
    }

    #[test]
    fn gus_is_told_about_the_administrator_policy() {
        let e = explain(true, false, false, &[Email, SecurityQuestions]);
        assert!(e[0].reason.starts_with(
            "Registered 1 of the 2 methods the administrator policy requires (Email)."
        ));
        assert!(e[0]
            .reason
            .contains("security questions never count for administrators"));
        assert_eq!(
            e[1].reason,
            "Administrators (Global Administrator) are always in scope, under the administrator policy."
        );
        assert_eq!(e[3].verdict, "Not MFA capable");
    }

    #[test]
    fn an_administrator_whose_role_no_source_named_reads_correctly() {
        let policy = SsprPolicy::new(Scope::None, 1, PolicyMethodSet::all()).unwrap();
        let methods: MethodSet = [Email].into_iter().collect();
        let facts = UserFacts {
            is_guest: false,
            is_admin: true,
            in_policy_group: false,
            methods,
        };
        let e = explain_all(
            &assess(&policy, &facts),
            &Context {
                methods,
                is_guest: false,
                directory_role: "",
                policy_group_name: None,
                scope: &policy.scope,
            },
        );
        assert_eq!(
            e[1].reason,
            "An administrator; administrators are always in scope, under the administrator policy."
        );
        assert!(e.iter().all(|x| !x.reason.contains("()")), "{e:?}");
    }

    #[test]
    fn ana_and_ivy() {
        let e = explain(false, false, true, &[Email, MobileSms]);
        assert_eq!(
            e[0].reason,
            "Registered 2 methods the policy allows (Mobile phone and Email); it requires 2."
        );
        assert_eq!(
            e[2].reason,
            "Registered and enabled: this user can reset their password now."
        );
        let e = explain(false, false, true, &[Fido2]);
        assert!(
            e[0].reason
                .ends_with("FIDO2 security key does not serve password reset."),
            "{}",
            e[0].reason
        );
        assert_eq!(e[4].verdict, "Passwordless capable");
        assert_eq!(
            e[4].reason,
            "FIDO2 security key signs in without a password."
        );
    }

    #[test]
    fn cai_and_dee_scope_reasons() {
        let e = explain(false, false, false, &[Email, AppCode]);
        assert_eq!(e[1].verdict, "Not enabled");
        assert_eq!(
            e[1].reason,
            "The policy is scoped to group 'SSPR pilot', and this user is not a member of it."
        );
        assert_eq!(
            e[2].reason,
            "Registered but not enabled: the policy does not cover this user."
        );
        let e = explain(false, true, true, &[Email, MobileSms]);
        assert!(e[1]
            .reason
            .starts_with("Guest member of group 'SSPR pilot'"));
    }
}

#[cfg(test)]
mod stated_tests {
    use super::*;

    fn figure(figure: &'static str, value: bool) -> Explanation {
        Explanation {
            figure,
            value,
            verdict: verdict(figure, value),
            reason: "Because of the rules.".into(),
        }
    }

    #[test]
    fn a_stated_figure_wins_and_a_disagreement_is_explained() {
        let shown = with_stated(
            vec![figure("Registered", false), figure("MFA capable", true)],
            [Some(true), None, None, None, None],
            "2026-11-20 08:00 UTC",
            VerdictSource::Directory,
        );
        assert!(shown[0].value);
        assert_eq!(shown[0].verdict, "Registered");
        assert_eq!(
            shown[0].reason,
            "As the directory export of 2026-11-20 08:00 UTC states. This portal's own rules find otherwise — Not registered: Because of the rules."
        );
        assert_eq!(
            shown[1].reason, "Because of the rules.",
            "not stated: unchanged"
        );
        let agreed = with_stated(
            vec![figure("Enabled", true)],
            [Some(true), None, None, None, None],
            "d",
            VerdictSource::Directory,
        );
        assert!(agreed[0]
            .reason
            .ends_with("The directory export of d states the same."));
        let overruled = with_stated(
            vec![figure("Registered", false)],
            [Some(true), None, None, None, None],
            "d",
            VerdictSource::Policy,
        );
        assert!(!overruled[0].value, "the policy's figure is shown");
        assert_eq!(overruled[0].verdict, "Not registered");
        assert_eq!(
            overruled[0].reason,
            "Because of the rules. The directory export of d states otherwise — Registered — which this portal is set to overrule with its own policy."
        );
    }
}
