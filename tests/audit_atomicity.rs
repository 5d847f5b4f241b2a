//! Every state change writes its audit row in its own transaction: when the
//! audit row cannot be written, the change is not made either. A trigger
//! makes the database refuse every audit row; each change is then asked for
//! through its real form, and the state it would have changed is compared
//! before and after.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::accounts::Role;
use authinsights::db::{self, DbConnection};
use common::{Backend, TestApp, PASSWORD};
use diesel::connection::SimpleConnection;

/// From now on the database refuses every audit row.
fn refuse_audit_rows(conn: &mut DbConnection, backend: Backend) {
    let sql = match backend {
        Backend::Sqlite => {
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log
             BEGIN SELECT RAISE(ABORT, 'audit rows refused by the test'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$
             BEGIN RAISE EXCEPTION 'audit rows refused by the test'; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log
             FOR EACH ROW EXECUTE FUNCTION refuse_audit();"
        }
    };
    conn.batch_execute(sql).unwrap();
}

/// What the changes below could touch, in a comparable form.
#[derive(Debug, PartialEq, Eq)]
struct State {
    policy: String,
    verdict_source: String,
    accounts: Vec<(String, String, bool, String)>,
    keys: Vec<(String, bool)>,
    retention: i32,
    sync_every: Option<i64>,
    locks: Vec<String>,
    audit: usize,
}

fn state(app: &TestApp) -> State {
    app.with_conn(|conn| {
        let now = chrono::Utc::now().naive_utc();
        State {
            policy: format!("{:?}", db::directory::load_policy(conn).unwrap()),
            verdict_source: format!("{:?}", db::directory::verdict_source(conn).unwrap()),
            accounts: db::accounts::list_accounts(conn)
                .unwrap()
                .into_iter()
                .map(|a| (a.username, a.role, a.disabled, a.password_hash))
                .collect(),
            keys: db::api_keys::list_keys(conn)
                .unwrap()
                .into_iter()
                .map(|k| (k.name, k.revoked_at.is_some()))
                .collect(),
            retention: db::retention::retention_days(conn).unwrap(),
            sync_every: db::syncs::sync_every_minutes(conn).unwrap(),
            locks: db::throttle::current_locks(conn, now)
                .unwrap()
                .into_iter()
                .map(|(s, _)| s)
                .collect(),
            audit: db::audit::entries(conn, None, 100_000).unwrap().len(),
        }
    })
}

async fn audit_in_the_same_transaction(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(common::tenant::build_worked_example);
    app.add_account("victim", Role::ReportsReader);
    app.add_account("disabled", Role::ReportsReader);
    app.add_account("locked", Role::ReportsReader);
    app.add_account("guarded", Role::ReportsReader);
    let id = |name: &str| {
        app.with_conn(|conn| {
            db::accounts::find_by_username(conn, name)
                .unwrap()
                .unwrap()
                .id
        })
    };
    let (victim, disabled, locked) = (id("victim"), id("disabled"), id("locked"));
    let key = app.with_conn(|conn| {
        let now = chrono::Utc::now().naive_utc();
        db::api_keys::create_key(conn, "to revoke", true, false, "test", now)
            .unwrap()
            .0
            .id
    });
    // One account disabled and one locked, so that enabling and unlocking
    // have something to change.
    let response = app
        .post_form(
            &app.client,
            "/admin/accounts",
            &format!("/admin/accounts/{disabled}/disable"),
            &[],
        )
        .await;
    assert_eq!(response.status(), 303);
    for _ in 0..5 {
        app.sign_in(&common::new_client(), "locked", "not the password at all")
            .await;
    }
    let before = state(&app);
    assert!(
        before.locks.iter().any(|s| s.ends_with("locked")),
        "{before:?}"
    );
    assert!(before.accounts.iter().any(|a| a.0 == "disabled" && a.2));

    app.with_conn(|conn| refuse_audit_rows(conn, backend));
    let changes: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/admin/policy".into(),
            vec![
                ("scope", "all"),
                ("methods_required", "2"),
                ("allow-email", "on"),
                ("allow-mobile_phone", "on"),
                ("allow-app_code", "on"),
            ],
        ),
        (
            "/admin/policy/verdict-source".into(),
            vec![("source", "policy")],
        ),
        (
            "/admin/accounts".into(),
            vec![("username", "newcomer"), ("role", "security-reader")],
        ),
        (
            format!("/admin/accounts/{victim}/role"),
            vec![("role", "global-administrator")],
        ),
        (format!("/admin/accounts/{victim}/disable"), vec![]),
        (format!("/admin/accounts/{disabled}/enable"), vec![]),
        (format!("/admin/accounts/{victim}/reset-password"), vec![]),
        (format!("/admin/accounts/{locked}/unlock"), vec![]),
        (
            "/admin/api-keys".into(),
            vec![("name", "new key"), ("read", "on")],
        ),
        (format!("/admin/api-keys/{key}/revoke"), vec![]),
        ("/admin/imports/retention".into(), vec![("days", "45")]),
        ("/admin/data-sources/schedule".into(), vec![("every", "90")]),
        (
            "/account/password".into(),
            vec![
                ("current", PASSWORD),
                ("new", "violet kettle harbour sprint"),
                ("repeat", "violet kettle harbour sprint"),
            ],
        ),
    ];
    for (path, fields) in &changes {
        let response = app
            .post_form(&app.client, "/account/password", path, fields)
            .await;
        let status = response.status().as_u16();
        let page = response.text().await.unwrap();
        let refused = status == 500 || page.contains("could not complete");
        assert!(
            refused,
            "{path}: {status}, the failed audit row must fail the change"
        );
        assert_eq!(
            state(&app),
            before,
            "{path} changed something without its audit row"
        );
    }
    // Sign-in failures: the attempt that would lock the account cannot write
    // the lock's audit row, so it stores no lock either.
    let mut last = 0;
    for _ in 0..5 {
        let response = app
            .sign_in(&common::new_client(), "guarded", "not the password at all")
            .await;
        last = response.status().as_u16();
    }
    assert_ne!(last, 429, "the fifth attempt could not lock the account");
    assert_eq!(
        state(&app),
        before,
        "a lock was stored without its audit row"
    );
}
db_test!(
    a_change_whose_audit_row_fails_is_not_made,
    audit_in_the_same_transaction
);
