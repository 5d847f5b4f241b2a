//! The SSPR policy: who is in scope, how many methods a reset needs and which
//! authentication info counts — and the stricter policy administrators follow.

use super::method::{PolicyMethod, PolicyMethodSet};
use std::fmt;

/// Who the policy applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// SSPR is off for everyone but administrators.
    None,
    /// Members (and guests) of one group.
    Selected { group_id: String },
    /// Every member user; guests are excluded.
    All,
}

impl Scope {
    pub fn key(&self) -> &'static str {
        match self {
            Scope::None => "none",
            Scope::Selected { .. } => "selected",
            Scope::All => "all",
        }
    }

    pub fn group_id(&self) -> Option<&str> {
        match self {
            Scope::Selected { group_id } => Some(group_id),
            _ => None,
        }
    }
}

/// Why a policy could not be built from its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    UnknownScope(String),
    MissingGroup,
    MethodsRequired(i32),
    TooFewAllowed { required: u8, allowed: usize },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::UnknownScope(s) => {
                write!(f, "unknown scope '{s}': use none, selected or all")
            }
            PolicyError::MissingGroup => f.write_str("scope 'selected' needs a group"),
            PolicyError::MethodsRequired(n) => {
                write!(f, "methods required must be 1 or 2, not {n}")
            }
            PolicyError::TooFewAllowed { required, allowed } => write!(
                f,
                "the policy requires {required} methods but allows only {allowed}"
            ),
        }
    }
}

impl std::error::Error for PolicyError {}

/// The one SSPR policy of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsprPolicy {
    pub scope: Scope,
    methods_required: u8,
    allowed: PolicyMethodSet,
}

/// The number of methods and the info that counts for one kind of user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    pub methods_required: u8,
    pub allowed: PolicyMethodSet,
    /// True when this is the administrator policy rather than the tenant's.
    pub administrator_policy: bool,
}

impl SsprPolicy {
    pub fn new(
        scope: Scope,
        methods_required: i32,
        allowed: PolicyMethodSet,
    ) -> Result<SsprPolicy, PolicyError> {
        let methods_required = match methods_required {
            1 => 1,
            2 => 2,
            n => return Err(PolicyError::MethodsRequired(n)),
        };
        if allowed.len() < methods_required as usize {
            return Err(PolicyError::TooFewAllowed {
                required: methods_required,
                allowed: allowed.len(),
            });
        }
        Ok(SsprPolicy {
            scope,
            methods_required,
            allowed,
        })
    }

    /// Builds a policy from its stored columns.
    pub fn from_parts(
        scope: &str,
        group_id: Option<String>,
        methods_required: i32,
        allowed_mask: i32,
    ) -> Result<SsprPolicy, PolicyError> {
        let scope = match scope {
            "none" => Scope::None,
            "all" => Scope::All,
            "selected" => Scope::Selected {
                group_id: group_id
                    .filter(|g| !g.is_empty())
                    .ok_or(PolicyError::MissingGroup)?,
            },
            other => return Err(PolicyError::UnknownScope(other.to_string())),
        };
        SsprPolicy::new(
            scope,
            methods_required,
            PolicyMethodSet::from_mask(allowed_mask),
        )
    }

    pub fn methods_required(&self) -> u8 {
        self.methods_required
    }

    pub fn allowed(&self) -> PolicyMethodSet {
        self.allowed
    }

    /// The administrator policy: two methods, any but security questions.
    pub fn administrator_requirement() -> Requirement {
        Requirement {
            methods_required: 2,
            allowed: PolicyMethodSet::all().without(PolicyMethod::SecurityQuestions),
            administrator_policy: true,
        }
    }

    /// The requirement a user is measured against.
    pub fn requirement_for(&self, is_admin: bool) -> Requirement {
        if is_admin {
            SsprPolicy::administrator_requirement()
        } else {
            Requirement {
                methods_required: self.methods_required,
                allowed: self.allowed,
                administrator_policy: false,
            }
        }
    }
}

impl Default for SsprPolicy {
    /// A fresh deployment: SSPR off for users (administrators are always in
    /// scope), one method of the common four.
    fn default() -> Self {
        SsprPolicy {
            scope: Scope::None,
            methods_required: 1,
            allowed: [
                PolicyMethod::AppNotification,
                PolicyMethod::AppCode,
                PolicyMethod::MobilePhone,
                PolicyMethod::Email,
            ]
            .into_iter()
            .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_required_must_be_one_or_two() {
        let all = PolicyMethodSet::all();
        assert_eq!(
            SsprPolicy::new(Scope::All, 3, all),
            Err(PolicyError::MethodsRequired(3))
        );
        assert_eq!(
            SsprPolicy::new(Scope::All, 0, all),
            Err(PolicyError::MethodsRequired(0))
        );
        assert!(SsprPolicy::new(Scope::All, 2, all).is_ok());
    }

    #[test]
    fn two_methods_need_two_allowed() {
        let one = PolicyMethodSet::EMPTY.with(PolicyMethod::Email);
        assert_eq!(
            SsprPolicy::new(Scope::All, 2, one),
            Err(PolicyError::TooFewAllowed {
                required: 2,
                allowed: 1
            })
        );
    }

    #[test]
    fn stored_parts_are_parsed_strictly() {
        assert_eq!(
            SsprPolicy::from_parts("some", None, 1, 1),
            Err(PolicyError::UnknownScope("some".into()))
        );
        assert_eq!(
            SsprPolicy::from_parts("selected", Some(String::new()), 1, 1),
            Err(PolicyError::MissingGroup)
        );
        let p = SsprPolicy::from_parts("selected", Some("g1".into()), 1, 1).unwrap();
        assert_eq!(p.scope.group_id(), Some("g1"));
    }

    #[test]
    fn administrators_need_two_methods_without_security_questions() {
        let p = SsprPolicy::new(Scope::All, 1, PolicyMethodSet::all()).unwrap();
        let r = p.requirement_for(true);
        assert_eq!(r.methods_required, 2);
        assert!(!r.allowed.contains(PolicyMethod::SecurityQuestions));
        assert_eq!(r.allowed.len(), 5);
        assert!(r.administrator_policy);
        let u = p.requirement_for(false);
        assert_eq!(u.methods_required, 1);
        assert!(u.allowed.contains(PolicyMethod::SecurityQuestions));
    }
}
