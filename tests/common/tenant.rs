//! DESIGN.md's worked example as a tenant, written through the same
//! directory functions imports use.

#![allow(clippy::unwrap_used)]

use authinsights::db::directory::{
    put_group, put_users, save_policy, set_group_members, set_user_methods, DirectoryUser,
};
use authinsights::db::DbConnection;
use authinsights::domain::{Method, PolicyMethod, Scope, SsprPolicy};
use chrono::Utc;

pub const PILOT_GROUP: &str = "group-sspr-pilot";

pub fn pilot_policy(scope: Scope) -> SsprPolicy {
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
    .expect("a valid policy")
}

pub fn selected() -> Scope {
    Scope::Selected {
        group_id: PILOT_GROUP.into(),
    }
}

/// (id, display name, guest, admin, account enabled, in pilot group, methods)
pub type Person = (
    &'static str,
    &'static str,
    bool,
    bool,
    bool,
    bool,
    &'static [Method],
);

pub const WORKED_EXAMPLE: &[Person] = {
    use Method::*;
    &[
        (
            "u-ana",
            "Ana",
            false,
            false,
            true,
            true,
            &[Email, MobileSms],
        ),
        (
            "u-ben",
            "Ben",
            false,
            false,
            true,
            true,
            &[MobileSms, MobileCall],
        ),
        ("u-cai", "Cai", false, false, true, false, &[Email, AppCode]),
        ("u-dee", "Dee", true, false, true, true, &[Email, MobileSms]),
        (
            "u-eve",
            "Eve",
            false,
            false,
            true,
            true,
            &[OfficeCall, SecurityQuestions],
        ),
        (
            "u-fay",
            "Fay",
            false,
            true,
            true,
            false,
            &[AppNotification, Email],
        ),
        (
            "u-gus",
            "Gus",
            false,
            true,
            true,
            false,
            &[Email, SecurityQuestions],
        ),
        (
            "u-hal",
            "Hal",
            false,
            false,
            false,
            true,
            &[Email, MobileSms],
        ),
        ("u-ivy", "Ivy", false, false, true, true, &[Fido2]),
    ]
};

/// Writes the worked example with the policy scoped to the pilot group.
pub fn build_worked_example(conn: &mut DbConnection) {
    let now = Utc::now().naive_utc();
    let policy = pilot_policy(selected());
    save_policy(conn, &policy, Some("test")).expect("the policy saves");
    put_group(conn, PILOT_GROUP, "SSPR pilot").expect("the group saves");
    put_group(conn, "group-other", "Other").expect("the group saves");
    let records: Vec<DirectoryUser> = WORKED_EXAMPLE
        .iter()
        .map(|(id, name, guest, admin, enabled, _, _)| DirectoryUser {
            id: id.to_string(),
            display_name: name.to_string(),
            user_principal_name: format!("{}@contoso.example", name.to_lowercase()),
            is_guest: *guest,
            directory_role: if *admin {
                "Global Administrator"
            } else if *guest {
                "Guest"
            } else {
                "User"
            }
            .into(),
            is_admin: *admin,
            account_enabled: *enabled,
        })
        .collect();
    put_users(conn, &policy, &records, now).expect("the users save");
    let members: Vec<String> = WORKED_EXAMPLE
        .iter()
        .filter(|p| p.5)
        .map(|p| p.0.to_string())
        .collect();
    set_group_members(conn, &policy, PILOT_GROUP, &members, now).expect("members save");
    for (id, _, _, _, _, _, methods) in WORKED_EXAMPLE {
        let list: Vec<(Method, Option<chrono::NaiveDateTime>)> =
            methods.iter().map(|m| (*m, Some(now))).collect();
        set_user_methods(conn, &policy, id, &list, now).expect("methods save");
    }
}
