//! TLS to PostgreSQL with the client library the portal carries (libpq and
//! OpenSSL built from source): `sslmode=require` encrypts, `verify-full`
//! checks the server's certificate and name, and `sslrootcert=system` trusts
//! what the machine trusts. Every case runs the `authinsights` binary as an
//! operator would, against the test server's own certificate (Debian's
//! PostgreSQL serves the `ssl-cert` package's certificate for `localhost`).

mod common;

use authinsights::db::{DatabaseUrl, DbConnection};
use common::binary::authinsights;
use common::{Backend, TestDb};
use diesel::connection::SimpleConnection;
use diesel::RunQueryDsl;
use std::process::Output;

#[derive(diesel::QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

#[derive(diesel::QueryableByName)]
struct Encrypted {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    ssl: bool,
}

/// The server's setting `name`, read over the tests' own connection.
fn setting(db: &TestDb, name: &str) -> String {
    let DbConnection::Postgresql(mut conn) = db.url.connect().expect("connect") else {
        panic!("a PostgreSQL test database")
    };
    let mut rows: Vec<Setting> = diesel::sql_query(format!(
        "SELECT setting AS value FROM pg_settings WHERE name = '{name}'"
    ))
    .load(&mut conn)
    .expect("read a server setting");
    rows.pop().map(|r| r.value).unwrap_or_default()
}

/// A test database, with the server's certificate file. The server must
/// have TLS on: these tests check TLS and would prove nothing without it.
fn database_with_tls() -> (TestDb, String) {
    let db = TestDb::new(Backend::Postgres);
    assert_eq!(
        setting(&db, "ssl"),
        "on",
        "the test PostgreSQL server has TLS off (ssl = off); Debian's packages turn it on"
    );
    let cert = setting(&db, "ssl_cert_file");
    let cert = if cert.starts_with('/') {
        cert
    } else {
        format!("{}/{cert}", setting(&db, "data_directory"))
    };
    assert!(
        std::path::Path::new(&cert).is_file(),
        "the server's certificate {cert} is not readable here"
    );
    (db, cert)
}

/// The test database's URL with `host` and the query given.
fn url(db: &TestDb, host: &str, query: &str) -> String {
    let mut url = url::Url::parse(&db.raw_url).expect("a valid URL");
    url.set_host(Some(host)).expect("a host");
    url.set_query(Some(query));
    url.to_string()
}

/// `authinsights --database-url URL migrate`, with SSL_CERT_FILE and
/// SSL_CERT_DIR as given (None: unset, as on a machine where nobody set them).
fn migrate(url: &str, cert_file: Option<&str>, cert_dir: Option<&str>) -> Output {
    let mut command = authinsights();
    command.args(["--database-url", url, "migrate"]);
    for (name, value) in [("SSL_CERT_FILE", cert_file), ("SSL_CERT_DIR", cert_dir)] {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command.output().expect("run authinsights")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_connected(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what}: migrate failed: {}",
        stderr(output)
    );
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains("applied") || said.contains("already up to date"),
        "{what}: {said}"
    );
}

fn assert_refused(output: &Output, what: &str, reason: &str) {
    let err = stderr(output);
    assert!(!output.status.success(), "{what}: migrate succeeded");
    assert!(err.contains(reason), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
}

#[test]
fn sslmode_require_connects_encrypted() {
    let (db, _) = database_with_tls();
    let require = url(&db, "127.0.0.1", "sslmode=require");
    assert_connected(&migrate(&require, None, None), "sslmode=require");

    // The portal's own connection, opened as its pool opens them, is encrypted.
    let connected = DatabaseUrl::parse(&require)
        .expect("a valid URL")
        .connect()
        .expect("connect with sslmode=require");
    let DbConnection::Postgresql(mut conn) = connected else {
        panic!("a PostgreSQL connection")
    };
    let rows: Vec<Encrypted> =
        diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .load(&mut conn)
            .expect("read pg_stat_ssl");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].ssl, "the connection is not encrypted");
    conn.batch_execute("SELECT 1").expect("a query over TLS");
}

#[test]
fn verify_full_checks_the_certificate_and_the_host_name() {
    let (db, cert) = database_with_tls();
    let root = format!("sslmode=verify-full&sslrootcert={cert}");
    assert_connected(
        &migrate(&url(&db, "localhost", &root), None, None),
        "verify-full with the server's root",
    );
    // The certificate names localhost, not 127.0.0.1.
    assert_refused(
        &migrate(&url(&db, "127.0.0.1", &root), None, None),
        "verify-full to a name the certificate lacks",
        "does not match host name",
    );
    // A root that did not sign the server's certificate.
    let stranger = tempfile::NamedTempFile::new().expect("a temp file");
    std::fs::write(stranger.path(), STRANGER_ROOT).expect("write a root certificate");
    let other = format!(
        "sslmode=verify-full&sslrootcert={}",
        stranger.path().display()
    );
    assert_refused(
        &migrate(&url(&db, "localhost", &other), None, None),
        "verify-full with a root that did not sign the server's certificate",
        "certificate verify failed",
    );
}

#[test]
fn sslrootcert_system_trusts_the_machines_store() {
    let (db, cert) = database_with_tls();
    let system = url(&db, "localhost", "sslmode=verify-full&sslrootcert=system");
    let empty = tempfile::tempdir().expect("a temp dir");
    let empty_dir = empty.path().to_str().expect("a UTF-8 path");
    let empty_file = empty.path().join("none.pem");
    std::fs::write(&empty_file, "").expect("an empty bundle");
    let empty_file = empty_file.to_str().expect("a UTF-8 path");

    // SSL_CERT_FILE and SSL_CERT_DIR, set by the operator, are the store.
    assert_connected(
        &migrate(&system, Some(&cert), Some(empty_dir)),
        "sslrootcert=system with the server's root in SSL_CERT_FILE",
    );
    assert_refused(
        &migrate(&system, Some(empty_file), Some(empty_dir)),
        "sslrootcert=system with an empty store",
        "certificate verify failed",
    );

    // Unset, the portal finds the machine's store. Debian's `ssl-cert`
    // package puts the server's certificate in /etc/ssl/certs with its hash
    // link, so the machine trusts it; OpenSSL as built would look in
    // /usr/local/ssl and trust nothing.
    let hashed = std::fs::read_dir("/etc/ssl/certs")
        .expect("this machine keeps its certificates in /etc/ssl/certs")
        .filter_map(Result::ok)
        .any(|entry| {
            entry.path().extension().is_some_and(|e| e == "0")
                && std::fs::canonicalize(entry.path()).ok() == std::fs::canonicalize(&cert).ok()
        });
    assert!(
        hashed,
        "the server's certificate {cert} is not in /etc/ssl/certs under its hash, so the machine's store does not trust it"
    );
    assert_connected(
        &migrate(&system, None, None),
        "sslrootcert=system with the machine's store",
    );
}

/// A self-signed root of our own making (CN "authinsights test root"), which
/// signed nothing the server holds.
const STRANGER_ROOT: &str = "-----BEGIN CERTIFICATE-----
MIIBmTCCAT+gAwIBAgIUXCIfTrBTISrThIDdaXp/yk/YIfQwCgYIKoZIzj0EAwIw
ITEfMB0GA1UEAwwWYXV0aGluc2lnaHRzIHRlc3Qgcm9vdDAgFw0yNjEyMDYwMDA2
MTNaGA8yMTI2MTExMjAwMDYxM1owITEfMB0GA1UEAwwWYXV0aGluc2lnaHRzIHRl
c3Qgcm9vdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABD3kyHAfjuOD9u11GWYH
8nvw1MdZNua2e3jR6XQEhMJY8UxAdOkA81JRHi28X2F6Fb4YCtX+2PLiGhnMgBKj
1IKjUzBRMB0GA1UdDgQWBBTlYLV5xSvOXBr1JlSSHdLKi4w/lzAfBgNVHSMEGDAW
gBTlYLV5xSvOXBr1JlSSHdLKi4w/lzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49
BAMCA0gAMEUCIQD64LNKo5DcGUHuZjeTNFL6W/EB+ShqtKnrhu0137+yZwIgEAYs
XXHOH1NZBG2MAvE4OBJbHQN3D5tLBspvJc1XvT4=
-----END CERTIFICATE-----
";
