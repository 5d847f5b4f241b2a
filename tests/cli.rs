//! The command line as a new user runs it: `serve --demo`, `migrate`,
//! `account add`, and what a mistyped database URL does.

#![allow(clippy::unwrap_used)]

mod common;

use common::binary::{account_add, authinsights, serve_demo};
use common::{texts, Backend, TestDb};
use std::process::{Output, Stdio};

async fn serve_demo_body(backend: Backend) {
    let demo = serve_demo(backend, 300, Stdio::null());
    let (address, printed, db) = (&demo.address, &demo.printed, &demo.db);
    let output = printed.join("\n");
    assert!(output.contains("demo tenant: 300 users"), "{output}");
    assert!(output.contains("Sign in as:  admin"), "{output}");
    assert_eq!(demo.one_time_password.len(), 20);

    // The printed password signs in, and must be changed first.
    let password = demo.one_time_password.clone();
    let app = common::Remote::new(address);
    let client = common::new_client();
    let signed = app.sign_in(&client, "admin", &password).await;
    assert_eq!(signed.status(), 303);
    assert_eq!(signed.headers()["location"], "/account/password");
    let elsewhere = app.get_as(&client, "/registrations").await;
    assert_eq!(
        elsewhere.headers()["location"],
        "/account/password?next=%2Fregistrations",
        "the page asked for is kept through the password change"
    );
    let changed = app
        .post_form(
            &client,
            "/account/password",
            "/account/password",
            &[
                ("current", password.as_str()),
                ("new", "my own new password"),
                ("repeat", "my own new password"),
                ("next", "/registrations"),
            ],
        )
        .await;
    assert_eq!(changed.status(), 303);
    assert_eq!(changed.headers()["location"], "/registrations");
    let html = app.get_as(&client, "/").await.text().await.unwrap();
    assert!(
        texts(&html, ".notice")
            .join(" ")
            .contains("Your password was changed"),
        "{html}"
    );
    let counts = texts(&html, "#sspr-tiles .tile-count");
    assert_eq!(counts.len(), 3);
    let lede = texts(&html, ".lede").join(" ");
    assert!(lede.starts_with("300 users in the directory"), "{lede}");

    // The account exists with a hashed password.
    let mut conn = db.connect();
    let account = authinsights::db::accounts::find_by_username(&mut conn, "admin")
        .unwrap()
        .expect("the first account exists");
    assert_eq!(account.role, "global-administrator");
    assert!(account.password_hash.starts_with("$argon2id$"));
    assert!(
        !account.must_change_password,
        "changed at the first sign-in"
    );
}
db_test!(
    serve_demo_fills_an_empty_database_and_prints_a_sign_in,
    serve_demo_body
);

async fn account_add_body(backend: Backend) {
    let db = TestDb::new(backend);
    let run = |role: &str, password: &str| account_add(&db, "rita", role, password);
    let bad_role = run("admin", "a long enough password");
    assert!(!bad_role.status.success());
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("unknown role 'admin'"));
    let short = run("reports-reader", "short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));

    let ok = run("reports-reader", "a long enough password");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("created account 'rita' (Reports Reader)"));
    let again = run("reports-reader", "a long enough password");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let mut conn = db.connect();
    let rita = authinsights::db::accounts::find_by_username(&mut conn, "rita")
        .unwrap()
        .unwrap();
    assert!(authinsights::accounts::verify_password(
        "a long enough password",
        &rita.password_hash
    ));
}
db_test!(account_add_creates_a_hashed_account, account_add_body);

/// `authinsights --database-url URL migrate`.
fn migrate(db: &TestDb) -> Output {
    authinsights()
        .args(["--database-url", &db.raw_url, "migrate"])
        .output()
        .unwrap()
}

async fn migrate_twice(backend: Backend) {
    let db = TestDb::new(backend);
    let first = migrate(&db);
    assert!(first.status.success());
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied"));
    let second = migrate(&db);
    assert!(String::from_utf8_lossy(&second.stdout).contains("already up to date"));
}
db_test!(migrate_applies_once, migrate_twice);

#[derive(diesel::QueryableByName)]
struct PageSize {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    page_size: i32,
}

/// A new SQLite file gets 16 KiB pages, which load and index the reference
/// data set about a fifth faster than SQLite's default 4 KiB.
#[test]
fn a_new_sqlite_database_has_16_kib_pages() {
    use diesel::{Connection, RunQueryDsl};
    let db = TestDb::new(Backend::Sqlite);
    let out = migrate(&db);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = db.raw_url.strip_prefix("sqlite://").unwrap();
    let mut conn = diesel::SqliteConnection::establish(path).unwrap();
    let size: PageSize = diesel::sql_query("PRAGMA page_size")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(size.page_size, 16_384);
}

#[test]
fn a_mistyped_database_url_is_an_error_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = authinsights()
        .current_dir(dir.path())
        .args(["--database-url", "postgress://localhost/db", "migrate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unsupported database URL scheme 'postgress://'"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file was created"
    );
}

#[test]
fn with_no_configuration_the_database_is_authinsights_db_in_the_working_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = authinsights()
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("authinsights.db").is_file());
}

#[test]
fn a_public_url_that_is_not_a_web_address_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    for (url, says) in [
        ("insights.example.org", "is not an address"),
        (
            "ftp://insights.example.org",
            "is not an http:// or https:// address",
        ),
    ] {
        let out = authinsights()
            .current_dir(dir.path())
            .args(["serve", "--bind", "127.0.0.1:0", "--public-url", url])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{url}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{url}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "refused before any database file was made"
    );
}
