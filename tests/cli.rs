//! The command line as a new user runs it: `serve --demo`, `migrate`,
//! `account add`, and what a mistyped database URL does.

#![allow(clippy::unwrap_used)]

mod common;

use common::{texts, Backend, TestDb};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

fn authinsights() -> Command {
    Command::new(env!("CARGO_BIN_EXE_authinsights"))
}

/// Kills the server when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn serve_demo(backend: Backend) {
    let db = TestDb::new(backend);
    let child = authinsights()
        .args([
            "--database-url",
            &db.raw_url,
            "serve",
            "--demo",
            "--demo-users",
            "300",
        ])
        .args(["--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut server = Running(child);
    let stdout = server.0.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    let address = loop {
        let line = lines
            .next()
            .expect("the server prints until it serves")
            .expect("readable output");
        printed.push(line.clone());
        if let Some(rest) = line.strip_prefix("authinsights is serving ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let output = printed.join("\n");
    assert!(output.contains("demo tenant: 300 users"), "{output}");
    assert!(output.contains("Sign in as:  admin"), "{output}");
    let password_line = printed
        .iter()
        .find(|l| l.trim_start().starts_with("Password:"))
        .expect("a one-time password is printed");
    assert_eq!(password_line.split_whitespace().nth(1).unwrap().len(), 20);

    // The printed password signs in, and must be changed first.
    let password = password_line.split_whitespace().nth(1).unwrap().to_string();
    let app = common::Remote::new(&address);
    let client = common::new_client();
    let signed = app.sign_in(&client, "admin", &password).await;
    assert_eq!(signed.status(), 303);
    assert_eq!(signed.headers()["location"], "/account/password");
    let elsewhere = app.get_as(&client, "/registrations").await;
    assert_eq!(elsewhere.headers()["location"], "/account/password");
    let changed = app
        .post_form(
            &client,
            "/account/password",
            "/account/password",
            &[
                ("current", password.as_str()),
                ("new", "my own new password"),
                ("repeat", "my own new password"),
            ],
        )
        .await;
    assert_eq!(changed.status(), 303);
    let html = app.get_as(&client, "/").await.text().await.unwrap();
    assert!(
        texts(&html, ".notice")
            .join(" ")
            .contains("Your password was changed"),
        "{html}"
    );
    let counts = texts(&html, ".tile-count");
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
    serve_demo
);

async fn account_add(backend: Backend) {
    let db = TestDb::new(backend);
    let run = |role: &str, password: &str| {
        let mut child = authinsights()
            .args([
                "--database-url",
                &db.raw_url,
                "account",
                "add",
                "rita",
                "--role",
                role,
            ])
            .arg("--password-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
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
db_test!(account_add_creates_a_hashed_account, account_add);

async fn migrate_twice(backend: Backend) {
    let db = TestDb::new(backend);
    let first = authinsights()
        .args(["--database-url", &db.raw_url, "migrate"])
        .output()
        .unwrap();
    assert!(first.status.success());
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied"));
    let second = authinsights()
        .args(["--database-url", &db.raw_url, "migrate"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&second.stdout).contains("already up to date"));
}
db_test!(migrate_applies_once, migrate_twice);

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
