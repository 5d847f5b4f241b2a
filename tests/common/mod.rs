//! Test harness: every database test runs on SQLite and on PostgreSQL, each on
//! a fresh database of its own, through the real application.
#![allow(dead_code)]
#![allow(clippy::unwrap_used)]

pub mod aggregates;
pub mod api;
pub mod binary;
pub mod reports;
pub mod smtp;
pub mod tenant;
pub mod webhook;

use authinsights::accounts::Role;
use authinsights::config::WebSettings;
use authinsights::db::{self, DatabaseUrl, DbConnection, Pool};
use authinsights::notify::{Notifier, NotifySettings, SmtpSettings};
use authinsights::service;
use authinsights::startup;
use authinsights::web::AppState;
use diesel::connection::SimpleConnection;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

/// A connection to the server's administrative database, opened the way the
/// portal opens its own.
fn admin_connection(admin: &str) -> Result<DbConnection, String> {
    let url = DatabaseUrl::parse(admin).map_err(|e| e.to_string())?;
    url.connect().map_err(|e| e.to_string())
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
                let mut conn = admin_connection(&admin).unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is needed for this test and is not reachable at {admin}: {e}. \
                         Start it (see docs/testing.md) or set AUTHINSIGHTS_TEST_POSTGRES."
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
            if let Ok(mut conn) = admin_connection(&postgres_admin_url()) {
                let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// The running portal of one test. `client` is signed in as [`ADMIN`], a
/// Global Administrator; [`TestApp::anonymous`] and [`TestApp::signed_in`]
/// give other clients.
pub struct TestApp {
    pub remote: Remote,
    pub client: reqwest::Client,
    pub pool: Pool,
    /// The portal's notify worker, when it runs one ([`TestApp::spawn_notifying`]);
    /// stopped before the database goes.
    pub worker: Option<Worker>,
    pub db: TestDb,
}

/// A portal's notify worker, stopped when dropped.
pub struct Worker(pub Arc<Notifier>);

impl Drop for Worker {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// A test's notify worker settings: it looks for messages every 50 ms,
/// retries after 200 ms (doubling, at most 2 s apart), gives up after 10
/// attempts, and sends mail to `smtp` (a sink's [`smtp::SmtpSink::settings`])
/// when given.
pub fn notify_settings(smtp: Option<SmtpSettings>) -> NotifySettings {
    NotifySettings {
        smtp,
        poll: Duration::from_millis(50),
        first_retry: Duration::from_millis(200),
        max_retry: Duration::from_secs(2),
        max_attempts: 10,
        webhook_timeout: Duration::from_secs(5),
    }
}

impl smtp::SmtpSink {
    /// SMTP settings that send to this sink, from `reports@portal.test`.
    pub fn settings(&self) -> SmtpSettings {
        SmtpSettings::plain("127.0.0.1", self.port, "Authinsights <reports@portal.test>")
            .expect("the sink's settings")
    }
}

/// The account every test app's `client` is signed in with.
pub const ADMIN: &str = "tester";
/// The password of every account the tests create.
pub const PASSWORD: &str = "a test password of some length";

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, WebSettings::from_env()).await
    }

    /// A portal with its own settings (short locks, say), signed in as [`ADMIN`].
    pub async fn spawn_with(backend: Backend, settings: WebSettings) -> TestApp {
        let db = TestDb::new(backend);
        drop(db.connect());
        let mut app = TestApp::serve(db, settings);
        app.add_account(ADMIN, Role::GlobalAdministrator);
        app.client = app.signed_in(ADMIN, PASSWORD).await;
        app
    }

    /// A portal running a notify worker with `notify` (see
    /// [`notify_settings`]), signed in as [`ADMIN`].
    pub async fn spawn_notifying(backend: Backend, notify: NotifySettings) -> TestApp {
        TestApp::spawn_notifying_with(backend, notify, |_| {}).await
    }

    /// As [`TestApp::spawn_notifying`], with data written by `prepare` into
    /// the database before the portal and its worker start (a generated
    /// tenant on SQLite wants the file to itself).
    pub async fn spawn_notifying_with(
        backend: Backend,
        notify: NotifySettings,
        prepare: impl FnOnce(&mut DbConnection),
    ) -> TestApp {
        let db = TestDb::new(backend);
        prepare(&mut db.connect());
        let mut app = TestApp::serve_with(db, WebSettings::from_env(), Some(notify));
        app.add_account(ADMIN, Role::GlobalAdministrator);
        app.client = app.signed_in(ADMIN, PASSWORD).await;
        app
    }

    /// Serves an existing (migrated) test database; `client` is not signed in.
    pub fn spawn_on(db: TestDb) -> TestApp {
        TestApp::serve(db, WebSettings::from_env())
    }

    fn serve(db: TestDb, settings: WebSettings) -> TestApp {
        TestApp::serve_with(db, settings, None)
    }

    fn serve_with(db: TestDb, settings: WebSettings, notify: Option<NotifySettings>) -> TestApp {
        let (address, pool, worker) = start_server(&db.url, settings, notify);
        TestApp {
            remote: Remote::new(&address),
            client: new_client(),
            pool,
            worker,
            db,
        }
    }

    /// Another portal instance on the same database, with its own pool and
    /// nothing shared in memory: as a second server behind a load balancer.
    pub fn second_instance(&self) -> Remote {
        let (address, _, _) = start_server(&self.db.url, WebSettings::from_env(), None);
        Remote::new(&address)
    }

    /// A second instance that runs a notify worker of its own; the worker
    /// stops when the returned [`Worker`] is dropped.
    pub fn second_notifying_instance(&self, notify: NotifySettings) -> (Remote, Worker) {
        let (address, _, worker) =
            start_server(&self.db.url, WebSettings::from_env(), Some(notify));
        (Remote::new(&address), worker.expect("a worker"))
    }

    /// Wakes this portal's notify worker (as a page that queued a message does).
    pub fn wake_worker(&self) {
        if let Some(worker) = &self.worker {
            worker.0.wake();
        }
    }

    /// A client with no session.
    pub fn anonymous(&self) -> reqwest::Client {
        new_client()
    }

    /// Creates an account with [`PASSWORD`] (not to be changed at sign-in).
    pub fn add_account(&self, name: &str, role: Role) {
        self.with_conn(|conn| {
            service::accounts::add_account(conn, "test", name, role, Some(PASSWORD))
                .expect("add an account");
        });
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_as(&self.client, path).await
    }

    /// Runs blocking database work on a pooled connection.
    pub fn with_conn<T>(&self, work: impl FnOnce(&mut DbConnection) -> T) -> T {
        let mut conn = self.pool.get().expect("a pooled connection");
        work(&mut conn)
    }
}

/// A portal reached over HTTP only: the tests' own server or a spawned binary.
pub struct Remote {
    pub address: String,
}

impl Remote {
    pub fn new(address: &str) -> Remote {
        Remote {
            address: address.to_string(),
        }
    }

    /// A new client signed in through the sign-in form.
    pub async fn signed_in(&self, name: &str, password: &str) -> reqwest::Client {
        let client = new_client();
        let response = self.sign_in(&client, name, password).await;
        assert_eq!(
            response.status(),
            303,
            "signing in as {name} succeeds: {}",
            response.text().await.unwrap_or_default()
        );
        client
    }

    /// Fills in and posts the sign-in form with `client`.
    pub async fn sign_in(
        &self,
        client: &reqwest::Client,
        name: &str,
        password: &str,
    ) -> reqwest::Response {
        let form = client
            .get(format!("{}/sign-in", self.address))
            .send()
            .await
            .expect("the sign-in page answers")
            .text()
            .await
            .expect("a page");
        let csrf = input_value(&form, "csrf");
        client
            .post(format!("{}/sign-in", self.address))
            .form(&[
                ("username", name),
                ("password", password),
                ("csrf", &csrf),
                ("next", ""),
            ])
            .send()
            .await
            .expect("the sign-in is answered")
    }

    pub async fn get_as(&self, client: &reqwest::Client, path: &str) -> reqwest::Response {
        client
            .get(format!("{}{}", self.address, path))
            .send()
            .await
            .expect("the request is answered")
    }

    /// Posts a form as `client`, adding the CSRF token of the page `from`.
    pub async fn post_form(
        &self,
        client: &reqwest::Client,
        from: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let page = self
            .get_as(client, from)
            .await
            .text()
            .await
            .expect("a page");
        let csrf = input_value(&page, "csrf");
        let mut all: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        all.extend_from_slice(fields);
        client
            .post(format!("{}{}", self.address, path))
            .form(&all)
            .send()
            .await
            .expect("the form is answered")
    }
}

impl std::ops::Deref for TestApp {
    type Target = Remote;

    fn deref(&self) -> &Remote {
        &self.remote
    }
}

/// Starts a portal on a random port, with a notify worker when `notify`
/// is given; returns its address, pool and worker.
fn start_server(
    url: &DatabaseUrl,
    settings: WebSettings,
    notify: Option<NotifySettings>,
) -> (String, Pool, Option<Worker>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a random port");
    let address = format!("http://{}", listener.local_addr().expect("an address"));
    let pool = db::pool(url, 4);
    let mut state = AppState::new(pool.clone(), url.backend_name(), settings);
    let mut worker = None;
    if let Some(notify) = notify {
        let notifier = Notifier::start(pool.clone(), notify, state.metrics.notifications.clone());
        worker = Some(Worker(notifier.clone()));
        state = state.with_notify(notifier);
    }
    let server = startup::run(listener, state, Some(1)).expect("the server starts");
    actix_rt::spawn(server);
    (address, pool, worker)
}

/// An HTTP client that keeps cookies and does not follow redirects.
pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        // The server closes a connection idle for 5 s; reusing one at that
        // moment fails the request. Never reuse one idle for more than 2 s.
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("an HTTP client")
}

/// The value of the first `<input name=…>` of a page.
pub fn input_value(html: &str, name: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("input[name=\"{name}\"]")).expect("a selector");
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .unwrap_or_else(|| panic!("the page has an input named {name}: {html}"))
        .to_string()
}

/// Parses HTML and returns the trimmed text of every element matching `selector`.
pub fn texts(html: &str, selector: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).expect("a valid selector");
    doc.select(&sel).map(|e| collapsed(e.text())).collect()
}

/// An element's text pieces joined, with runs of white space as one space.
pub fn collapsed<'a>(text: impl Iterator<Item = &'a str>) -> String {
    text.collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The cells (`cell` elements) of each row matching `row`, as collapsed texts.
pub fn cells(html: &str, row: &str, cell: &str) -> Vec<Vec<String>> {
    let doc = scraper::Html::parse_document(html);
    let row_sel = scraper::Selector::parse(row).expect("a valid selector");
    let cell_sel = scraper::Selector::parse(cell).expect("a valid selector");
    doc.select(&row_sel)
        .map(|r| r.select(&cell_sel).map(|c| collapsed(c.text())).collect())
        .collect()
}

/// The rows of a table (`selector` picks the `tr`s), each as its cells' texts
/// joined by single spaces.
pub fn rows(html: &str, selector: &str) -> Vec<String> {
    cells(html, selector, "td, th")
        .into_iter()
        .map(|row| {
            row.into_iter()
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The boundary of [`multipart`]'s bodies.
pub const BOUNDARY: &str = "----authinsights-test-7f3a9c";

/// A multipart/form-data body: text fields, then files (field `files`).
pub fn multipart(fields: &[(&str, &str)], files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (file_name, content) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Posts a multipart body to Admin › Imports as the test's administrator.
pub async fn post_multipart(app: &TestApp, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(format!("{}/admin/imports", app.address))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .expect("the upload is answered")
}

/// A client that asks for `path` and then reads nothing: its receive buffer
/// is as small as the system allows, so the server's writes stall soon.
pub fn stalled_reader(address: &str, path: &str, cookie: &str) -> std::net::TcpStream {
    let addr: std::net::SocketAddr = address.trim_start_matches("http://").parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
    stream
}

/// `/metrics` of the portal at `address` (`http://…`), read with the API key
/// `key`, as Prometheus reads it.
pub async fn metrics_text(address: &str, key: &str) -> String {
    new_client()
        .get(format!("{address}/metrics"))
        .bearer_auth(key)
        .send()
        .await
        .expect("/metrics answers")
        .text()
        .await
        .expect("a body")
}

/// A demo tenant of `users` users with 30 days of activity up to now, made
/// by the portal's own generator in the app's database.
pub fn generate_demo(app: &TestApp, users: u64) {
    app.with_conn(|conn| generate_demo_into(conn, users));
}

/// A demo tenant of `users` users, as [`generate_demo`], into a connection.
pub fn generate_demo_into(conn: &mut DbConnection, users: u64) {
    {
        let options = authinsights::ingest::demo::DemoOptions {
            users,
            days: 30,
            seed: 7,
            events_per_user_day: 3.0,
            now: chrono::Utc::now().naive_utc(),
        };
        authinsights::ingest::demo::generate(conn, &options, false).expect("the demo tenant");
    }
}

/// The session cookie of a signed-in client, as a `Cookie` header value.
pub async fn session_cookie(app: &TestApp) -> String {
    let response = app.sign_in(&new_client(), ADMIN, PASSWORD).await;
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("ai_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}
