//! The portal over HTTP: the overview's counts, health, errors and headers.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::db::directory::save_policy;
use authinsights::domain::Scope;
use common::tenant::{build_worked_example, pilot_policy};
use common::{texts, Backend, TestApp, TestDb};

async fn overview_counts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(build_worked_example);

    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert_eq!(
        texts(&html, "#sspr-tiles .tile-title"),
        ["Users registered", "Users enabled", "Users capable"]
    );
    assert_eq!(texts(&html, "#sspr-tiles .tile-count"), ["5", "8", "4"]);
    assert_eq!(
        texts(&html, "#sspr-tiles .tile-share"),
        ["55.6% of users", "88.9% of users", "44.4% of users"]
    );
    let notes = texts(&html, ".tile-note");
    assert_eq!(notes[0], "4 enabled users are not registered");
    assert_eq!(notes[1], "1 registered users are not enabled");

    // A policy change shows on the next load: no delay.
    app.with_conn(|conn| save_policy(conn, &pilot_policy(Scope::None), Some("test")).unwrap());
    let html = app.get("/").await.text().await.unwrap();
    assert_eq!(texts(&html, "#sspr-tiles .tile-count"), ["5", "2", "1"]);
}
db_test!(overview_shows_the_three_counts, overview_counts);

async fn health_and_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");

    let missing = app.get("/no/such/page").await;
    assert_eq!(missing.status(), 404);
    let html = missing.text().await.unwrap();
    assert_eq!(texts(&html, "h1"), ["Not found"]);

    let home = app.get("/").await;
    let headers = home.headers();
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");

    let css = app.get("/static/app.css").await;
    assert_eq!(css.status(), 200);
}
db_test!(health_404_and_security_headers, health_and_errors);

async fn unreachable_database(backend: Backend) {
    // A database that cannot be opened: a file in a folder that does not
    // exist, or a PostgreSQL database that does not exist.
    let db = TestDb::new(backend);
    let broken = match backend {
        Backend::Sqlite => "sqlite:///nonexistent-folder/for/sure/test.db".to_string(),
        Backend::Postgres => {
            let mut url = url::Url::parse(&db.raw_url).unwrap();
            url.set_path("/ai_database_that_does_not_exist");
            url.to_string()
        }
    };
    let mut app_db = db;
    app_db.url = authinsights::db::DatabaseUrl::parse(&broken).unwrap();
    let app = TestApp::spawn_on(app_db);

    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 503);
    // A browser with a session cookie: checking it needs the database.
    let page = app
        .client
        .get(format!("{}/", app.address))
        .header("cookie", "ai_session=some-session-token")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 503);
    let html = page.text().await.unwrap();
    assert_eq!(texts(&html, "h1"), ["Database unavailable"]);
    assert!(
        !html.contains("nonexistent-folder"),
        "no internals in the page"
    );
}
db_test!(an_unreachable_database_gives_503, unreachable_database);

async fn internal_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // A broken database (a table gone) is a 500 that shows no internals.
    app.with_conn(|conn| {
        use diesel::connection::SimpleConnection;
        conn.batch_execute("DROP TABLE user_status_counts").unwrap();
    });
    let page = app.get("/").await;
    assert_eq!(page.status(), 500);
    let html = page.text().await.unwrap();
    assert_eq!(texts(&html, "h1"), ["Something went wrong"]);
    assert_eq!(
        texts(&html, ".error-message"),
        ["The portal could not complete this request. The details are in the server log."]
    );
    for internal in [
        "user_status_counts",
        "no such table",
        "relation",
        "diesel",
        "src/",
    ] {
        assert!(!html.contains(internal), "{internal} leaks into the page");
    }
    // Pages that do not need the table still work.
    assert_eq!(app.get("/admin/audit").await.status(), 200);
}
db_test!(a_server_error_shows_no_internals, internal_error);
