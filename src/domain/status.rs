//! Per-user status: Registered, Enabled and Capable for SSPR, plus MFA capable
//! and passwordless capable — with the reasons behind each, so a page can
//! explain every figure.

use super::method::{MethodSet, PolicyMethodSet};
use super::policy::{Requirement, Scope, SsprPolicy};

/// What the rules need to know about a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserFacts {
    pub is_guest: bool,
    pub is_admin: bool,
    /// Member of the group the policy is scoped to (false when the scope has no group).
    pub in_policy_group: bool,
    pub methods: MethodSet,
}

/// The five per-user figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct UserStatus {
    pub registered: bool,
    pub enabled: bool,
    pub capable: bool,
    pub mfa_capable: bool,
    pub passwordless_capable: bool,
}

/// Why a user is or is not in scope of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeReason {
    /// Administrators are always in scope.
    Administrator,
    /// Member (or guest member) of the group the policy is scoped to.
    InPolicyGroup,
    /// The policy is scoped to a group the user is not in.
    NotInPolicyGroup,
    /// The policy covers all member users.
    AllMembers,
    /// The policy covers all member users, and guests are excluded.
    GuestExcluded,
    /// SSPR is not enabled for users.
    ScopeNone,
}

impl ScopeReason {
    pub fn enabled(self) -> bool {
        matches!(
            self,
            ScopeReason::Administrator | ScopeReason::InPolicyGroup | ScopeReason::AllMembers
        )
    }
}

/// The full evaluation of one user against the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub requirement: Requirement,
    /// Registered info that counts toward the requirement.
    pub counted: PolicyMethodSet,
    /// Registered info the requirement does not allow.
    pub not_allowed: PolicyMethodSet,
    pub scope: ScopeReason,
    pub status: UserStatus,
}

/// Applies the status rules of docs/design.md to one user.
pub fn assess(policy: &SsprPolicy, facts: &UserFacts) -> Assessment {
    let requirement = policy.requirement_for(facts.is_admin);
    let registered_info = facts.methods.policy_methods();
    let counted = registered_info.intersection(requirement.allowed);
    let not_allowed = registered_info.difference(requirement.allowed);
    let registered = counted.len() >= requirement.methods_required as usize;

    let scope = if facts.is_admin {
        ScopeReason::Administrator
    } else {
        match &policy.scope {
            Scope::None => ScopeReason::ScopeNone,
            Scope::All if facts.is_guest => ScopeReason::GuestExcluded,
            Scope::All => ScopeReason::AllMembers,
            Scope::Selected { .. } if facts.in_policy_group => ScopeReason::InPolicyGroup,
            Scope::Selected { .. } => ScopeReason::NotInPolicyGroup,
        }
    };
    let enabled = scope.enabled();

    Assessment {
        requirement,
        counted,
        not_allowed,
        scope,
        status: UserStatus {
            registered,
            enabled,
            capable: registered && enabled,
            mfa_capable: facts.methods.iter().any(|m| m.is_mfa_capable()),
            passwordless_capable: facts.methods.iter().any(|m| m.is_passwordless()),
        },
    }
}

/// Shortcut when only the figures are needed.
pub fn evaluate(policy: &SsprPolicy, facts: &UserFacts) -> UserStatus {
    assess(policy, facts).status
}

/// One row of `user_status_counts`: every filterable user attribute a count
/// may be asked for, except the search text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StatusKey {
    pub status: UserStatus,
    pub is_guest: bool,
    pub is_admin: bool,
    /// `None` while no source has said.
    pub account_enabled: Option<bool>,
    /// Graph's `isMfaRegistered`; `None` while no export has said.
    pub mfa_registered: Option<bool>,
    /// Graph's `defaultMfaMethod` ([`super::second_factor::code`]).
    pub default_mfa_method: u8,
    /// The first of Graph's `systemPreferredAuthenticationMethods`
    /// ([`super::second_factor::code`]).
    pub system_preferred_method: u8,
    /// A directory export's verdicts differ from this portal's policy.
    pub disagrees: bool,
    /// The verdicts are older than the newest export that states verdicts.
    pub stale: bool,
    /// A source named the user's directory role.
    pub role_known: bool,
    pub methods_mask: i32,
}

/// Where each attribute sits in the packed key, the users table's
/// `status_key` (the migration `..._registration_details_fields` uses the
/// same): bits 0-31 the methods mask, then one bit per flag, a "known" bit
/// beside each attribute a source may leave unsaid, and five bits per
/// second-factor code.
pub mod bits {
    pub const METHODS: i64 = 0xffff_ffff;
    pub const REGISTERED: i64 = 1 << 32;
    pub const ENABLED: i64 = 1 << 33;
    pub const CAPABLE: i64 = 1 << 34;
    pub const MFA_CAPABLE: i64 = 1 << 35;
    pub const PASSWORDLESS_CAPABLE: i64 = 1 << 36;
    pub const GUEST: i64 = 1 << 37;
    pub const ADMIN: i64 = 1 << 38;
    pub const ACCOUNT_ENABLED: i64 = 1 << 39;
    pub const ACCOUNT_ENABLED_KNOWN: i64 = 1 << 40;
    pub const MFA_REGISTERED: i64 = 1 << 41;
    pub const MFA_REGISTERED_KNOWN: i64 = 1 << 42;
    pub const DEFAULT_MFA_SHIFT: u32 = 43;
    pub const SYSTEM_PREFERRED_SHIFT: u32 = 48;
    pub const CODE: i64 = 0x1f;
    pub const DISAGREES: i64 = 1 << 53;
    pub const STALE: i64 = 1 << 54;
    pub const ROLE_KNOWN: i64 = 1 << 55;
}

impl StatusKey {
    /// The key as one integer: the users table's `status_key` column, which
    /// the list indexes lead with.
    pub fn pack(&self) -> i64 {
        let flag = |on: bool, bit: i64| if on { bit } else { 0 };
        let stated = |value: Option<bool>, on: i64, known: i64| match value {
            None => 0,
            Some(v) => known | flag(v, on),
        };
        let s = self.status;
        (i64::from(self.methods_mask as u32) & bits::METHODS)
            | flag(s.registered, bits::REGISTERED)
            | flag(s.enabled, bits::ENABLED)
            | flag(s.capable, bits::CAPABLE)
            | flag(s.mfa_capable, bits::MFA_CAPABLE)
            | flag(s.passwordless_capable, bits::PASSWORDLESS_CAPABLE)
            | flag(self.is_guest, bits::GUEST)
            | flag(self.is_admin, bits::ADMIN)
            | stated(
                self.account_enabled,
                bits::ACCOUNT_ENABLED,
                bits::ACCOUNT_ENABLED_KNOWN,
            )
            | stated(
                self.mfa_registered,
                bits::MFA_REGISTERED,
                bits::MFA_REGISTERED_KNOWN,
            )
            | ((i64::from(self.default_mfa_method) & bits::CODE) << bits::DEFAULT_MFA_SHIFT)
            | ((i64::from(self.system_preferred_method) & bits::CODE)
                << bits::SYSTEM_PREFERRED_SHIFT)
            | flag(self.disagrees, bits::DISAGREES)
            | flag(self.stale, bits::STALE)
            | flag(self.role_known, bits::ROLE_KNOWN)
    }

    pub fn unpack(key: i64) -> StatusKey {
        let on = |bit: i64| key & bit != 0;
        let stated = |bit: i64, known: i64| on(known).then_some(on(bit));
        let code = |shift: u32| ((key >> shift) & bits::CODE) as u8;
        StatusKey {
            status: UserStatus {
                registered: on(bits::REGISTERED),
                enabled: on(bits::ENABLED),
                capable: on(bits::CAPABLE),
                mfa_capable: on(bits::MFA_CAPABLE),
                passwordless_capable: on(bits::PASSWORDLESS_CAPABLE),
            },
            is_guest: on(bits::GUEST),
            is_admin: on(bits::ADMIN),
            account_enabled: stated(bits::ACCOUNT_ENABLED, bits::ACCOUNT_ENABLED_KNOWN),
            mfa_registered: stated(bits::MFA_REGISTERED, bits::MFA_REGISTERED_KNOWN),
            default_mfa_method: code(bits::DEFAULT_MFA_SHIFT),
            system_preferred_method: code(bits::SYSTEM_PREFERRED_SHIFT),
            disagrees: on(bits::DISAGREES),
            stale: on(bits::STALE),
            role_known: on(bits::ROLE_KNOWN),
            methods_mask: (key & bits::METHODS) as u32 as i32,
        }
    }
}

/// Which statuses the tiles, lists and API show where a directory export
/// stated a user's verdicts (Admin › SSPR policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerdictSource {
    /// As the directory export states (the default): each stated verdict
    /// over the portal's own computation.
    #[default]
    Directory,
    /// As this portal's policy computes, whatever an export stated.
    Policy,
}

impl VerdictSource {
    pub const ALL: [VerdictSource; 2] = [VerdictSource::Directory, VerdictSource::Policy];

    pub fn key(self) -> &'static str {
        match self {
            VerdictSource::Directory => "directory",
            VerdictSource::Policy => "policy",
        }
    }

    pub fn from_key(key: &str) -> Option<VerdictSource> {
        VerdictSource::ALL.into_iter().find(|s| s.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            VerdictSource::Directory => "As the directory reported",
            VerdictSource::Policy => "As this portal's policy computes",
        }
    }

    /// The status a user shows: the computed one, or the export's verdicts
    /// over it.
    pub fn shown(self, verdicts: Option<Verdicts>, computed: UserStatus) -> UserStatus {
        match (self, verdicts) {
            (VerdictSource::Directory, Some(v)) => v.apply(computed),
            _ => computed,
        }
    }
}

/// The statuses a directory export states for a user (Graph's
/// `isSsprRegistered`, `isSsprEnabled`, …): each is kept as the user's status
/// in place of the portal's own computation. `None` where the export says
/// nothing, so that figure is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verdicts {
    pub registered: Option<bool>,
    pub enabled: Option<bool>,
    pub capable: Option<bool>,
    pub mfa_capable: Option<bool>,
    pub passwordless_capable: Option<bool>,
}

impl Verdicts {
    /// The five value bits (0–4) and which of them are known (bits 8–12),
    /// as the users table's `directory_status` column stores them.
    pub fn pack(&self) -> i32 {
        let figures = self.figures();
        figures
            .iter()
            .enumerate()
            .fold(0, |packed, (i, figure)| match figure {
                Some(on) => packed | (1 << (i + 8)) | (i32::from(*on) << i),
                None => packed,
            })
    }

    pub fn unpack(packed: i32) -> Verdicts {
        let get = |i: usize| (packed & (1 << (i + 8)) != 0).then_some(packed & (1 << i) != 0);
        Verdicts {
            registered: get(0),
            enabled: get(1),
            capable: get(2),
            mfa_capable: get(3),
            passwordless_capable: get(4),
        }
    }

    fn figures(&self) -> [Option<bool>; 5] {
        [
            self.registered,
            self.enabled,
            self.capable,
            self.mfa_capable,
            self.passwordless_capable,
        ]
    }

    /// Whether a stated verdict differs from the computed figure.
    pub fn disagree_with(&self, computed: UserStatus) -> bool {
        self.apply(computed) != computed
    }

    /// The status a user shows: each stated verdict over the computed figure.
    pub fn apply(&self, computed: UserStatus) -> UserStatus {
        UserStatus {
            registered: self.registered.unwrap_or(computed.registered),
            enabled: self.enabled.unwrap_or(computed.enabled),
            capable: self.capable.unwrap_or(computed.capable),
            mfa_capable: self.mfa_capable.unwrap_or(computed.mfa_capable),
            passwordless_capable: self
                .passwordless_capable
                .unwrap_or(computed.passwordless_capable),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::method::{Method, PolicyMethod};

    use Method::*;

    fn pilot_policy(scope: Scope) -> SsprPolicy {
        SsprPolicy::new(
            scope,
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

    fn selected() -> Scope {
        Scope::Selected {
            group_id: "sspr-pilot".into(),
        }
    }

    struct Row {
        name: &'static str,
        guest: bool,
        admin: bool,
        in_group: bool,
        methods: &'static [Method],
        registered: bool,
        enabled: bool,
        mfa: bool,
        passwordless: bool,
    }

    /// The worked example of docs/design.md, row for row.
    const WORKED_EXAMPLE: &[Row] = &[
        Row {
            name: "Ana",
            guest: false,
            admin: false,
            in_group: true,
            methods: &[Email, MobileSms],
            registered: true,
            enabled: true,
            mfa: true,
            passwordless: false,
        },
        Row {
            name: "Ben",
            guest: false,
            admin: false,
            in_group: true,
            methods: &[MobileSms, MobileCall],
            registered: false,
            enabled: true,
            mfa: true,
            passwordless: false,
        },
        Row {
            name: "Cai",
            guest: false,
            admin: false,
            in_group: false,
            methods: &[Email, AppCode],
            registered: true,
            enabled: false,
            mfa: true,
            passwordless: false,
        },
        Row {
            name: "Dee",
            guest: true,
            admin: false,
            in_group: true,
            methods: &[Email, MobileSms],
            registered: true,
            enabled: true,
            mfa: true,
            passwordless: false,
        },
        Row {
            name: "Eve",
            guest: false,
            admin: false,
            in_group: true,
            methods: &[OfficeCall, SecurityQuestions],
            registered: false,
            enabled: true,
            mfa: true,
            passwordless: false,
        },
        Row {
            name: "Fay",
            guest: false,
            admin: true,
            in_group: false,
            methods: &[AppNotification, Email],
            registered: true,
            enabled: true,
            mfa: true,
            passwordless: false,
        },
        Row {
            name: "Gus",
            guest: false,
            admin: true,
            in_group: false,
            methods: &[Email, SecurityQuestions],
            registered: false,
            enabled: true,
            mfa: false,
            passwordless: false,
        },
        Row {
            name: "Hal",
            guest: false,
            admin: false,
            in_group: true,
            methods: &[Email, MobileSms],
            registered: true,
            enabled: true,
            mfa: true,
            passwordless: false,
        },
        Row {
            name: "Ivy",
            guest: false,
            admin: false,
            in_group: true,
            methods: &[Fido2],
            registered: false,
            enabled: true,
            mfa: true,
            passwordless: true,
        },
    ];

    fn facts(row: &Row) -> UserFacts {
        UserFacts {
            is_guest: row.guest,
            is_admin: row.admin,
            in_policy_group: row.in_group,
            methods: row.methods.iter().copied().collect(),
        }
    }

    #[test]
    fn worked_example_scope_selected() {
        let policy = pilot_policy(selected());
        for row in WORKED_EXAMPLE {
            let s = evaluate(&policy, &facts(row));
            assert_eq!(s.registered, row.registered, "{} registered", row.name);
            assert_eq!(s.enabled, row.enabled, "{} enabled", row.name);
            assert_eq!(
                s.capable,
                row.registered && row.enabled,
                "{} capable",
                row.name
            );
            assert_eq!(s.mfa_capable, row.mfa, "{} MFA capable", row.name);
            assert_eq!(
                s.passwordless_capable, row.passwordless,
                "{} passwordless",
                row.name
            );
        }
    }

    #[test]
    fn worked_example_scope_all() {
        let policy = pilot_policy(Scope::All);
        let status = |name: &str| {
            let row = WORKED_EXAMPLE.iter().find(|r| r.name == name).unwrap();
            evaluate(&policy, &facts(row))
        };
        assert!(status("Cai").enabled && status("Cai").capable);
        assert!(!status("Dee").enabled, "guests are never in scope of 'all'");
        assert!(!status("Dee").capable);
        assert!(status("Ana").capable);
    }

    #[test]
    fn worked_example_scope_none_leaves_only_administrators_enabled() {
        let policy = pilot_policy(Scope::None);
        let enabled: Vec<&str> = WORKED_EXAMPLE
            .iter()
            .filter(|r| evaluate(&policy, &facts(r)).enabled)
            .map(|r| r.name)
            .collect();
        assert_eq!(enabled, ["Fay", "Gus"]);
    }

    #[test]
    fn explanation_parts_for_eve_and_gus() {
        let policy = pilot_policy(selected());
        let eve = WORKED_EXAMPLE.iter().find(|r| r.name == "Eve").unwrap();
        let a = assess(&policy, &facts(eve));
        assert!(a.counted.is_empty());
        assert_eq!(
            a.not_allowed,
            [PolicyMethod::OfficePhone, PolicyMethod::SecurityQuestions]
                .into_iter()
                .collect()
        );
        assert_eq!(a.scope, ScopeReason::InPolicyGroup);

        let gus = WORKED_EXAMPLE.iter().find(|r| r.name == "Gus").unwrap();
        let a = assess(&policy, &facts(gus));
        assert!(a.requirement.administrator_policy);
        assert_eq!(a.counted.len(), 1);
        assert!(a.not_allowed.contains(PolicyMethod::SecurityQuestions));
        assert_eq!(a.scope, ScopeReason::Administrator);
    }

    #[test]
    fn one_method_policy_counts_a_single_phone() {
        let policy = SsprPolicy::new(
            Scope::All,
            1,
            PolicyMethodSet::EMPTY.with(PolicyMethod::MobilePhone),
        )
        .unwrap();
        let f = UserFacts {
            is_guest: false,
            is_admin: false,
            in_policy_group: false,
            methods: MethodSet::EMPTY.with(MobileCall),
        };
        assert!(evaluate(&policy, &f).capable);
    }

    #[test]
    fn non_sspr_methods_never_register_a_user() {
        let policy = SsprPolicy::new(Scope::All, 1, PolicyMethodSet::all()).unwrap();
        let f = UserFacts {
            is_guest: false,
            is_admin: false,
            in_policy_group: false,
            methods: [
                Fido2,
                Passkey,
                WindowsHello,
                HardwareOtp,
                TemporaryAccessPass,
                AuthenticatorPasswordless,
            ]
            .into_iter()
            .collect(),
        };
        let s = evaluate(&policy, &f);
        assert!(!s.registered);
        assert!(s.mfa_capable && s.passwordless_capable);
    }

    #[test]
    fn a_temporary_access_pass_alone_is_not_mfa() {
        let policy = SsprPolicy::default();
        let f = UserFacts {
            is_guest: false,
            is_admin: false,
            in_policy_group: false,
            methods: MethodSet::EMPTY.with(TemporaryAccessPass),
        };
        assert!(!evaluate(&policy, &f).mfa_capable);
    }

    #[test]
    fn status_keys_pack_and_unpack() {
        let key = StatusKey {
            status: UserStatus {
                registered: true,
                enabled: false,
                capable: false,
                mfa_capable: true,
                passwordless_capable: true,
            },
            is_guest: false,
            is_admin: true,
            account_enabled: Some(true),
            mfa_registered: None,
            default_mfa_method: 3,
            system_preferred_method: crate::domain::second_factor::OTHER,
            disagrees: false,
            stale: true,
            role_known: false,
            methods_mask: 0b1_0000_0000_0101,
        };
        let packed = key.pack();
        assert_eq!(
            packed,
            0b1_1101_1001_i64 << 32 | 3 << 43 | 31 << 48 | 1 << 54 | 0b1_0000_0000_0101
        );
        assert_eq!(StatusKey::unpack(packed), key);
    }

    #[test]
    fn every_method_has_a_bit_of_its_own_beside_the_flags() {
        // The last methods of the catalogue must not land on a flag: a key
        // with every method and no flag reads back as exactly that.
        let all: MethodSet = Method::ALL.into_iter().collect();
        let key = StatusKey {
            methods_mask: all.mask(),
            ..StatusKey::default()
        };
        assert_eq!(StatusKey::unpack(key.pack()), key);
        assert_eq!(key.pack() & !bits::METHODS, 0);
        let unknown = StatusKey {
            account_enabled: Some(false),
            mfa_registered: Some(false),
            ..StatusKey::default()
        };
        assert_eq!(StatusKey::unpack(unknown.pack()), unknown);
        assert_ne!(unknown.pack(), StatusKey::default().pack());
    }
}

#[cfg(test)]
mod verdict_tests {
    use super::*;

    #[test]
    fn verdicts_round_trip_with_unknown_figures() {
        let v = Verdicts {
            registered: Some(true),
            enabled: Some(false),
            capable: None,
            mfa_capable: Some(true),
            passwordless_capable: None,
        };
        assert_eq!(Verdicts::unpack(v.pack()), v);
        assert_eq!(
            Verdicts::unpack(Verdicts::default().pack()),
            Verdicts::default()
        );
    }

    #[test]
    fn stated_verdicts_override_computed_figures() {
        let v = Verdicts {
            enabled: Some(true),
            ..Verdicts::default()
        };
        let computed = UserStatus {
            registered: true,
            ..UserStatus::default()
        };
        let shown = v.apply(computed);
        assert!(shown.registered && shown.enabled && !shown.capable);
    }
}
