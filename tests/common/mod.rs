//! Test harness: every database test runs on SQLite and on PostgreSQL, each on
//! a fresh database of its own, through the real application.
#![allow(dead_code)]
#![allow(clippy::unwrap_used)]

pub mod reports;
pub mod tenant;

use authinsights::config::WebSettings;
use authinsights::db::{self, DatabaseUrl, DbConnection, Pool};
use authinsights::startup;
use authinsights::web::AppState;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body once per backend:
/// `db_test!(name, body)` where `async fn body(backend: Backend)`.
#[macro_export]
macro_rules! db_test {
    ($name:ident, $body:ident) => {
        mod $name {
            #[actix_rt::test]
            async fn sqlite() {
                super::$body($crate::common::Backend::Sqlite).await
            }
            #[actix_rt::test]
            async fn postgres() {
                super::$body($crate::common::Backend::Postgres).await
            }
        }
    };
}

/// Where the PostgreSQL tests create their databases.
pub fn postgres_admin_url() -> String {
    std::env::var("AUTHINSIGHTS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database that exists for one test and is removed after it.
pub struct TestDb {
    pub url: DatabaseUrl,
    pub raw_url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temp dir");
                let path: PathBuf = dir.path().join("test.db");
                let raw_url = format!("sqlite://{}", path.display());
                TestDb {
                    url: DatabaseUrl::parse(&raw_url).expect("a valid URL"),
                    raw_url,
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let name = format!(
                    "ai_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    rand_suffix()
                );
                let admin = postgres_admin_url();
                let mut conn = PgConnection::establish(&admin).unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is needed for this test and is not reachable at {admin}: {e}. \
                         Start it (see README) or set AUTHINSIGHTS_TEST_POSTGRES."
                    )
                });
                conn.batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create a test database");
                let mut url = url::Url::parse(&admin).expect("a valid admin URL");
                url.set_path(&format!("/{name}"));
                let raw_url = url.to_string();
                TestDb {
                    url: DatabaseUrl::parse(&raw_url).expect("a valid URL"),
                    raw_url,
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// A migrated connection.
    pub fn connect(&self) -> DbConnection {
        let mut conn = self.url.connect().expect("connect to the test database");
        db::migrate(&mut conn).expect("migrations apply");
        conn
    }
}

fn rand_suffix() -> u32 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            if let Ok(mut conn) = PgConnection::establish(&postgres_admin_url()) {
                let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// The running portal of one test.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub pool: Pool,
    pub db: TestDb,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        let db = TestDb::new(backend);
        drop(db.connect());
        TestApp::spawn_on(db)
    }

    /// Serves an existing (migrated) test database.
    pub fn spawn_on(db: TestDb) -> TestApp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a random port");
        let address = format!("http://{}", listener.local_addr().expect("an address"));
        let pool = db::pool(&db.url, 4);
        let state = AppState {
            pool: pool.clone(),
            backend: db.url.backend_name(),
            settings: Arc::new(WebSettings::from_env()),
        };
        let server = startup::run(listener, state, Some(1)).expect("the server starts");
        actix_rt::spawn(server);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .expect("an HTTP client");
        TestApp {
            address,
            client,
            pool,
            db,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.address, path))
            .send()
            .await
            .expect("the request is answered")
    }

    /// Runs blocking database work on a pooled connection.
    pub fn with_conn<T>(&self, work: impl FnOnce(&mut DbConnection) -> T) -> T {
        let mut conn = self.pool.get().expect("a pooled connection");
        work(&mut conn)
    }
}

/// Parses HTML and returns the trimmed text of every element matching `selector`.
pub fn texts(html: &str, selector: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).expect("a valid selector");
    doc.select(&sel)
        .map(|e| {
            e.text()
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}
