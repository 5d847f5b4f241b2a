//! The domain rules through the database: the worked example of docs/design.md stored,
//! re-scoped and changed, with the maintained counts checked against the rows.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::db::counts::rebuild_status_counts;
use authinsights::db::directory::{
    load_policy, put_users, refresh_users, save_policy, set_group_members, set_user_methods,
    DirectoryUser,
};
use authinsights::db::models::User;
use authinsights::db::overview::{status_totals, StatusTotals};
use authinsights::db::schema::users;
use authinsights::db::DbConnection;
use authinsights::domain::{Method, Scope};
use chrono::Utc;
use common::tenant::{build_worked_example, pilot_policy, selected, PILOT_GROUP, WORKED_EXAMPLE};
use common::{Backend, TestDb};
use diesel::prelude::*;

fn user(conn: &mut DbConnection, name: &str) -> User {
    users::table
        .filter(users::display_name.eq(name))
        .select(User::as_select())
        .first(conn)
        .unwrap_or_else(|e| panic!("user {name}: {e}"))
}

/// (registered, enabled, capable, mfa capable, passwordless capable)
fn flags(u: &User) -> (bool, bool, bool, bool, bool) {
    (
        u.is_registered,
        u.is_enabled,
        u.is_capable,
        u.is_mfa_capable,
        u.is_passwordless_capable,
    )
}

/// The maintained counts must equal a fresh count of the rows.
fn assert_counts_match_rows(conn: &mut DbConnection) -> StatusTotals {
    let maintained = status_totals(conn).unwrap();
    rebuild_status_counts(conn).unwrap();
    let recounted = status_totals(conn).unwrap();
    assert_eq!(
        maintained, recounted,
        "maintained counts drifted from the rows"
    );
    maintained
}

async fn worked_example_statuses(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    build_worked_example(&mut conn);

    let expected = [
        ("Ana", (true, true, true, true, false)),
        ("Ben", (false, true, false, true, false)),
        ("Cai", (true, false, false, true, false)),
        ("Dee", (true, true, true, true, false)),
        ("Eve", (false, true, false, true, false)),
        ("Fay", (true, true, true, true, false)),
        ("Gus", (false, true, false, false, false)),
        ("Hal", (true, true, true, true, false)),
        ("Ivy", (false, true, false, true, true)),
    ];
    for (name, want) in expected {
        assert_eq!(flags(&user(&mut conn, name)), want, "{name}");
    }
    let hal = user(&mut conn, "Hal");
    assert!(
        hal.account_enabled == Some(false),
        "Hal is listed with Account enabled = no"
    );
    assert_eq!(
        user(&mut conn, "Ben").methods().display(),
        "Phone call, SMS",
        "Ben's two usage methods are both kept"
    );

    let totals = assert_counts_match_rows(&mut conn);
    assert_eq!(totals.users, 9);
    assert_eq!(totals.registered, 5);
    assert_eq!(totals.enabled, 8);
    assert_eq!(totals.capable, 4);
    assert_eq!(totals.enabled_not_registered, 4); // Ben, Eve, Gus, Ivy
    assert_eq!(totals.registered_not_enabled, 1); // Cai
    assert_eq!(totals.mfa_capable, 8);
    assert_eq!(totals.passwordless_capable, 1);
    assert_eq!(totals.disabled_accounts, 1);
}
db_test!(
    worked_example_is_stored_with_the_right_statuses,
    worked_example_statuses
);

async fn policy_changes_recompute_everyone(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    build_worked_example(&mut conn);

    let summary = save_policy(&mut conn, &pilot_policy(Scope::All), Some("test")).unwrap();
    assert_eq!(summary.users, 9);
    assert_eq!(summary.changed, 2, "only Cai and Dee change");
    assert!(
        user(&mut conn, "Cai").is_capable,
        "scope all: Cai becomes capable"
    );
    assert!(
        !user(&mut conn, "Dee").is_enabled,
        "scope all: guests are not enabled"
    );
    assert_eq!(load_policy(&mut conn).unwrap().scope, Scope::All);
    let totals = assert_counts_match_rows(&mut conn);
    assert_eq!((totals.enabled, totals.capable), (8, 4));

    save_policy(&mut conn, &pilot_policy(Scope::None), Some("test")).unwrap();
    let enabled: Vec<String> = users::table
        .filter(users::is_enabled.eq(true))
        .order(users::display_name)
        .select(users::display_name)
        .load(&mut conn)
        .unwrap();
    assert_eq!(enabled, ["Fay", "Gus"], "scope none: only administrators");
    let totals = assert_counts_match_rows(&mut conn);
    assert_eq!((totals.enabled, totals.capable), (2, 1));
}
db_test!(
    a_policy_change_recomputes_every_user,
    policy_changes_recompute_everyone
);

/// Names of the secondary indexes on `users`, to check none is lost.
fn user_indexes(conn: &mut DbConnection) -> Vec<String> {
    authinsights::db::indexes::secondary(conn, "'users'")
        .unwrap()
        .into_iter()
        .filter(|i| i.kind == "index")
        .map(|i| i.name)
        .collect()
}

async fn rebuilt_status_indexes(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    build_worked_example(&mut conn);
    let before = user_indexes(&mut conn);
    assert!(before.len() >= 5, "{before:?}");
    // Rebuild from the first changed user: on SQLite the status indexes are
    // dropped, the users updated, and the indexes built again.
    let policy = pilot_policy(Scope::All);
    let summary = conn
        .transaction(|conn| {
            let now = Utc::now().naive_utc();
            authinsights::db::directory::store_policy(conn, &policy, Some("test"), now)?;
            authinsights::db::directory::recompute_all_with(conn, &policy, now, 1)
        })
        .unwrap();
    assert_eq!((summary.users, summary.changed), (9, 2));
    assert_eq!(user_indexes(&mut conn), before, "every index is back");
    assert!(user(&mut conn, "Cai").is_capable);
    assert!(!user(&mut conn, "Dee").is_enabled);
    let totals = assert_counts_match_rows(&mut conn);
    assert_eq!((totals.enabled, totals.capable), (8, 4));
    // The rebuilt indexes answer the same as the rows.
    let capable: Vec<String> = users::table
        .filter(users::is_capable.eq(true))
        .order(users::display_name)
        .select(users::display_name)
        .load(&mut conn)
        .unwrap();
    assert_eq!(capable.len(), 4);
}
db_test!(
    a_recomputation_of_most_users_rebuilds_the_status_indexes,
    rebuilt_status_indexes
);

async fn fact_changes_apply_at_once(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    build_worked_example(&mut conn);
    let policy = pilot_policy(selected());
    let now = Utc::now().naive_utc();

    // Ben adds an email address: two distinct methods now, so registered and capable.
    set_user_methods(
        &mut conn,
        &policy,
        "u-ben",
        &[
            (Method::MobileSms, None),
            (Method::MobileCall, None),
            (Method::Email, None),
        ],
        now,
    )
    .unwrap();
    assert!(flags(&user(&mut conn, "Ben")).2, "Ben becomes capable");

    // Ana leaves the pilot group: no longer enabled.
    let remaining: Vec<String> = WORKED_EXAMPLE
        .iter()
        .filter(|p| p.5 && p.0 != "u-ana")
        .map(|p| p.0.to_string())
        .collect();
    set_group_members(&mut conn, &policy, PILOT_GROUP, &remaining, now).unwrap();
    let ana = user(&mut conn, "Ana");
    assert!(ana.is_registered && !ana.is_enabled && !ana.is_capable);

    // Cai becomes an administrator: always in scope, and email + app code meet
    // the administrator policy.
    put_users(
        &mut conn,
        &policy,
        &[DirectoryUser {
            id: "u-cai".into(),
            display_name: "Cai".into(),
            user_principal_name: "cai@contoso.example".into(),
            is_guest: false,
            directory_role: "Helpdesk Administrator".into(),
            is_admin: true,
            account_enabled: Some(true),
            mfa: Default::default(),
            verdicts_stale: false,
            directory_status: None,
        }],
        now,
    )
    .unwrap();
    let cai = user(&mut conn, "Cai");
    assert!(cai.is_admin && cai.is_enabled && cai.is_capable);

    let totals = assert_counts_match_rows(&mut conn);
    // Capable: Ben, Cai, Dee, Fay, Hal (Ana left the group).
    assert_eq!(totals.capable, 5);

    // Nothing is left to re-derive.
    let ids: Vec<String> = WORKED_EXAMPLE.iter().map(|p| p.0.to_string()).collect();
    assert_eq!(refresh_users(&mut conn, &policy, &ids, now).unwrap(), 0);
}
db_test!(
    changes_to_methods_membership_and_roles_apply_at_once,
    fact_changes_apply_at_once
);

async fn migrations_are_idempotent(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    assert!(authinsights::db::migrate(&mut conn).unwrap().is_empty());
    let policy = load_policy(&mut conn).unwrap();
    assert_eq!(
        policy.scope,
        Scope::None,
        "a fresh deployment starts with SSPR off"
    );
    assert_eq!(status_totals(&mut conn).unwrap(), StatusTotals::default());
}
db_test!(
    migrations_apply_once_and_start_empty,
    migrations_are_idempotent
);
