//! Upgrading: a database as the previous release left it, with a tenant
//! stored by that release's schema, is migrated by this one and then shows
//! exactly what a database made new by this release shows for the same
//! writes: every download, list and figure.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::accounts::Role;
use authinsights::db;
use chrono::{NaiveDateTime, Timelike, Utc};
use common::tenant::{build_crowd, build_events, build_worked_example};
use common::{cells, Backend, TestApp, TestDb, ADMIN, PASSWORD};

/// The last migration of the previous release.
const PREVIOUS_RELEASE: &str = "20261205000015";

/// What each portal is asked for; the pages are compared by their tables.
const DOWNLOADS: &[&str] = &[
    "/registrations.csv",
    "/registrations.csv?capable=no",
    "/activity.csv",
    "/activity.csv?q=ana",
    "/reports/reset-activity.csv",
    "/reports/registration-activity.csv",
];
const PAGES: &[&str] = &[
    "/",
    "/trends",
    "/registrations",
    "/registrations?q=crowd",
    "/activity",
    "/activity?q=ana",
    "/activity?method=mobile_sms",
    "/reports/reset-activity",
    "/reports/reset-activity?q=ana",
];

/// The same tenant, written the same way (the worked example, its events
/// and a crowd of users, through the product's own writers).
fn write_tenant(conn: &mut db::DbConnection, now: NaiveDateTime) {
    build_worked_example(conn);
    build_events(conn, now);
    build_crowd(conn, 300);
}

async fn portal(db: TestDb) -> TestApp {
    let mut app = TestApp::spawn_on(db);
    app.add_account(ADMIN, Role::GlobalAdministrator);
    app.client = app.signed_in(ADMIN, PASSWORD).await;
    app
}

async fn body(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

async fn an_upgraded_database_shows_what_a_new_one_does(backend: Backend) {
    let now = Utc::now().naive_utc().with_nanosecond(0).unwrap();

    // This release's writers keep tables the previous release did not have,
    // so the tenant is written first and this release's migrations are then
    // reverted: the rows the previous release kept stay as its writers wrote
    // them, and the upgrade must build the new tables from them.
    let old = TestDb::new(backend);
    let mut conn = old.url.connect().unwrap();
    db::migrate(&mut conn).unwrap();
    write_tenant(&mut conn, now);
    let reverted = db::revert_after(&mut conn, PREVIOUS_RELEASE).unwrap();
    assert!(
        !reverted.is_empty(),
        "this release has migrations to revert to the previous one's database"
    );
    let upgraded = db::migrate(&mut conn).unwrap();
    assert!(
        !upgraded.is_empty(),
        "this release has migrations to apply to the previous one's database"
    );
    drop(conn);

    let new = TestDb::new(backend);
    let mut conn = new.connect();
    write_tenant(&mut conn, now);
    drop(conn);

    let upgraded = portal(old).await;
    let fresh = portal(new).await;
    for path in DOWNLOADS {
        let (a, b) = (body(&upgraded, path).await, body(&fresh, path).await);
        assert!(a.lines().count() > 1, "{path} holds rows");
        assert_eq!(a, b, "{path}: the upgraded database and a new one differ");
    }
    for path in PAGES {
        let rows = |html: &str| cells(html, "main tr", "td, th");
        let (a, b) = (body(&upgraded, path).await, body(&fresh, path).await);
        let (a, b) = (rows(&a), rows(&b));
        assert!(a.len() > 1, "{path} shows rows");
        assert_eq!(a, b, "{path}: the upgraded database and a new one differ");
    }
}

db_test!(
    an_upgraded_database_shows_what_a_new_one_does,
    an_upgraded_database_shows_what_a_new_one_does
);
