//! A database that goes away and comes back: while PostgreSQL is stopped the
//! portal answers 503 without internals, and the first request after it is
//! back succeeds, the pool reconnecting by itself.
//!
//! The test stops a private PostgreSQL cluster of its own (initdb into a
//! temporary folder, a free port on 127.0.0.1, trust authentication), never
//! the shared server the other tests use. It needs the PostgreSQL server
//! binaries: `AUTHINSIGHTS_PG_BIN` names their folder, otherwise the newest
//! `/usr/lib/postgresql/<version>/bin` is used. Run as root, the cluster
//! belongs to the `postgres` user (`runuser`), as PostgreSQL refuses root.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::accounts::Role;
use authinsights::db::DatabaseUrl;
use common::{texts, Backend, TestApp, TestDb, PASSWORD};
use diesel::connection::SimpleConnection;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The folder of `initdb` and `pg_ctl`.
fn pg_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("AUTHINSIGHTS_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|v| v.1).unwrap_or_else(|| {
        panic!(
            "no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin: \
             install them or set AUTHINSIGHTS_PG_BIN to their folder"
        )
    })
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A PostgreSQL cluster of one test: stopped and deleted when dropped, even
/// when the test panics.
struct PgCluster {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
    as_postgres: bool,
}

impl PgCluster {
    /// initdb, then start on a free port.
    fn start_new() -> PgCluster {
        let as_postgres = running_as_root();
        let dir = tempfile::Builder::new()
            .prefix("ai-pg-")
            .tempdir()
            .expect("a temp dir");
        let mut cluster = PgCluster {
            dir,
            port: 0,
            bin: pg_bin(),
            as_postgres,
        };
        if as_postgres {
            let chown = Command::new("chown")
                .arg("postgres:postgres")
                .arg(cluster.dir.path())
                .output()
                .expect("chown runs");
            check("chown the cluster folder to postgres", &chown);
        }
        let data = cluster.data();
        let initdb = cluster.run(
            "initdb",
            &[
                "-D",
                path_str(&data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
        );
        check("initdb", &initdb);
        // A port found free may be taken before the server binds it: try again.
        for attempt in 1..=3 {
            cluster.port = free_port();
            let settings = format!(
                "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
                 fsync = off\nmax_connections = 20\n",
                cluster.port,
                cluster.dir.path().display()
            );
            let conf = data.join("postgresql.auto.conf");
            std::fs::write(&conf, settings).expect("write postgresql.auto.conf");
            let started = cluster.pg_ctl(&["start", "-w", "-t", "60"]);
            if started.status.success() {
                return cluster;
            }
            if attempt == 3 {
                check("pg_ctl start", &started);
            }
        }
        unreachable!()
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Runs one of the server binaries, as `postgres` when we are root.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        command
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{} cannot be run: {e}", program.display()))
    }

    fn pg_ctl(&self, args: &[&str]) -> Output {
        let (data, log) = (self.data(), self.log());
        let mut all = vec!["-D", path_str(&data), "-l", path_str(&log)];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all)
    }

    fn start(&self) {
        check("pg_ctl start", &self.pg_ctl(&["start", "-w", "-t", "60"]));
    }

    fn stop(&self) {
        check(
            "pg_ctl stop",
            &self.pg_ctl(&["stop", "-m", "fast", "-w", "-t", "60"]),
        );
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn create_database(&self, name: &str) -> String {
        let mut conn = DatabaseUrl::parse(&self.url("postgres"))
            .expect("a valid URL")
            .connect()
            .expect("the cluster answers");
        conn.batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the database");
        self.url(name)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(log) = std::fs::read_to_string(self.log()) {
                eprintln!("--- the private PostgreSQL server's log ---\n{log}");
            }
        }
        if self.data().join("postmaster.pid").exists() {
            let _ = self.pg_ctl(&["stop", "-m", "immediate", "-w", "-t", "30"]);
        }
        // The TempDir field then removes the folder.
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a random port");
    listener.local_addr().expect("an address").port()
}

fn check(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A 503 page that says the database is unavailable and nothing about why.
async fn assert_unavailable_page(response: reqwest::Response, what: &str, cluster: &PgCluster) {
    assert_eq!(response.status(), 503, "{what}");
    let html = response.text().await.unwrap();
    assert_eq!(texts(&html, "h1"), ["Database unavailable"], "{what}");
    let lowered = html.to_lowercase();
    let port = cluster.port.to_string();
    let dir = cluster.dir.path().display().to_string();
    for internal in [
        "connection",
        "refused",
        "127.0.0.1",
        "postgres",
        ".s.pgsql",
        "r2d2",
        "diesel",
        "/tmp",
        port.as_str(),
        dir.as_str(),
    ] {
        assert!(
            !lowered.contains(&internal.to_lowercase()),
            "{what}: the page shows {internal:?}:\n{html}"
        );
    }
}

#[actix_rt::test]
async fn a_stopped_postgresql_gives_503_and_the_next_request_after_it_restarts_succeeds() {
    let cluster = PgCluster::start_new();
    let url = cluster.create_database("authinsights");
    // A test database that points at the private cluster.
    let mut db = TestDb::new(Backend::Sqlite);
    db.url = DatabaseUrl::parse(&url).unwrap();
    db.raw_url = url;
    drop(db.connect());
    let app = TestApp::spawn_on(db);
    app.add_account("resilient", Role::GlobalAdministrator);
    let client = app.signed_in("resilient", PASSWORD).await;
    let anonymous = app.anonymous();

    assert_eq!(app.get_as(&client, "/").await.status(), 200);
    assert_eq!(app.get("/healthz").await.status(), 200);

    cluster.stop();
    let page = app.get_as(&client, "/").await;
    assert_unavailable_page(page, "the overview", &cluster).await;
    let list = app.get_as(&client, "/registrations").await;
    assert_unavailable_page(list, "the registration list", &cluster).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 503);
    assert_eq!(health.text().await.unwrap(), "database unavailable\n");
    // The API answers a JSON 503, as its document says, for every operation.
    for template in common::api::document()["paths"].as_object().unwrap().keys() {
        if template == "/api/v1/openapi.json" {
            continue;
        }
        let path = template
            .replace("{id}", "someone")
            .replace("{version}", "beta")
            .replace("{includedUserTypes}", "all")
            .replace("{includedUserRoles}", "all");
        let (status, body) = common::api::get_as(&app, &client, &path).await;
        assert_eq!(status, 503, "{path}: {body}");
        // The Graph-compatible endpoints answer in Graph's words.
        let code = if path.starts_with("/graph/") {
            "serviceNotAvailable"
        } else {
            "unavailable"
        };
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        let text = body.to_string();
        for internal in ["connection", "refused", "postgres", "5432", "diesel"] {
            assert!(!text.to_lowercase().contains(internal), "{path}: {text}");
        }
    }
    // The sign-in form itself needs no database; signing in does.
    let sign_in = app.sign_in(&anonymous, "resilient", PASSWORD).await;
    assert_unavailable_page(sign_in, "signing in", &cluster).await;

    cluster.start();
    // The very next request: no retry here, the pool reconnects by itself.
    let page = app.get_as(&client, "/").await;
    assert_eq!(page.status(), 200, "{}", page.text().await.unwrap());
    assert_eq!(app.get("/healthz").await.status(), 200);
    let (status, body) = common::api::get_as(&app, &client, "/api/v1/overview").await;
    assert_eq!(status, 200, "{body}");
    let signed_in = app.sign_in(&anonymous, "resilient", PASSWORD).await;
    assert_eq!(signed_in.status(), 303);
}
