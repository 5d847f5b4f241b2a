//! Storage: one connection type for SQLite and PostgreSQL, the pool, embedded
//! migrations, and one module per question the pages ask.

use crate::metrics::{PoolCheckouts, PoolUsage};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, R2D2Connection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub mod accounts;
pub mod activities;
pub mod api_keys;
pub mod audit;
pub mod bulk;
pub mod cache;
pub mod counts;
pub mod directory;
pub mod dump;
pub mod events;
pub mod graph;
pub mod import_rows;
pub mod imports;
pub mod indexes;
pub mod models;
pub mod outbox;
pub mod overview;
pub mod registrations;
pub mod retention;
pub mod schema;
pub mod search;
pub mod sessions;
pub mod sign_ins;
pub mod subscriptions;
pub mod syncs;
pub mod throttle;
pub mod timeline;
pub mod trends;
pub mod usage;
pub mod users;

/// A connection to either backend. Queries written with the diesel DSL run on
/// both; backend-specific SQL goes through [`with_backend!`].
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs the same code on the concrete connection inside a [`DbConnection`], for
/// the few statements that differ between backends (upserts, pragmas, locks).
macro_rules! with_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgresql($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use with_backend;

/// Page cache of each SQLite connection, in KiB.
pub const SQLITE_CACHE_KIB: i64 = 64 * 1024;

/// The page size of a new SQLite database file.
pub const SQLITE_PAGE_SIZE: u32 = 16_384;

/// For a command that loads or indexes many rows: a 64 MiB page cache, and
/// temporary files on disk, without which SQLite's sorter (index builds)
/// uses no worker threads, and two of them. Each sorter thread buffers as
/// much as the page cache holds: importing the reference set's 10M events
/// peaked at 1.7 GB with a 512 MiB cache and took longer (87k events/s) than
/// with 64 MiB (436 MB, 119k events/s), whose index builds are faster.
pub const SQLITE_BULK_PRAGMAS: &str =
    "PRAGMA cache_size = -65536; PRAGMA temp_store = FILE; PRAGMA threads = 2;";

/// The connection pool: r2d2's (which it dereferences to), recording how
/// long each checkout waited for the metrics.
#[derive(Clone)]
pub struct Pool {
    inner: r2d2::Pool<Manager>,
    checkouts: PoolCheckouts,
}

impl std::ops::Deref for Pool {
    type Target = r2d2::Pool<Manager>;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl Pool {
    /// What the pool records of its checkouts.
    pub fn checkouts(&self) -> &PoolCheckouts {
        &self.checkouts
    }

    /// Its connections now.
    pub fn usage(&self) -> PoolUsage {
        let state = self.inner.state();
        PoolUsage {
            in_use: i64::from(state.connections - state.idle_connections),
            idle: i64::from(state.idle_connections),
            max: i64::from(self.inner.max_size()),
        }
    }
}

/// Hands the pool's checkouts to [`PoolCheckouts`].
#[derive(Debug)]
struct CheckoutObserver(PoolCheckouts);

impl r2d2::HandleEvent for CheckoutObserver {
    fn handle_checkout(&self, event: r2d2::event::CheckoutEvent) {
        self.0.checked_out(event.duration());
    }

    fn handle_timeout(&self, _: r2d2::event::TimeoutEvent) {
        self.0.timed_out();
    }
}

pub type PooledConnection = r2d2::PooledConnection<Manager>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Which database to use, parsed from `--database-url` / `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrlError(String);

impl fmt::Display for DatabaseUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DatabaseUrlError {}

impl DatabaseUrl {
    /// `postgres://…` or `postgresql://…` is PostgreSQL; `sqlite://PATH`,
    /// `sqlite:PATH` or a plain file path is SQLite. Any other scheme is an error,
    /// so a mistyped URL never silently creates an empty SQLite file.
    pub fn parse(raw: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(DatabaseUrlError("the database URL is empty".into()));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(raw.to_string()));
        }
        let path = if let Some(rest) = raw.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = raw.strip_prefix("sqlite:") {
            rest
        } else if let Some((scheme, _)) = raw.split_once("://") {
            return Err(DatabaseUrlError(format!(
                "unsupported database URL scheme '{scheme}://': use postgres://… for PostgreSQL, or sqlite://PATH or a file path for SQLite"
            )));
        } else {
            raw
        };
        if path.is_empty() {
            return Err(DatabaseUrlError("the SQLite URL names no file".into()));
        }
        if path == ":memory:" || path.contains("mode=memory") {
            return Err(DatabaseUrlError(
                "an in-memory SQLite database cannot be shared by the connection pool: name a file"
                    .into(),
            ));
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "SQLite",
            DatabaseUrl::Postgres(_) => "PostgreSQL",
        }
    }

    /// Opens one connection, with SQLite's per-connection settings applied.
    pub fn connect(&self) -> ConnectionResult<DbConnection> {
        match self {
            DatabaseUrl::Postgres(url) => {
                openssl_without_exit_handler();
                PgConnection::establish(url).map(DbConnection::Postgresql)
            }
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_string_lossy();
                let mut conn = SqliteConnection::establish(&path)?;
                // busy_timeout first: the others may need the lock. The page
                // size only takes effect in a new, empty file (before the WAL
                // switch writes it): 16 KiB pages make the reference data set
                // load in 149 s instead of 181–187 s with the default 4 KiB,
                // with fewer, shallower b-tree pages to write and sort into.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = 10000;
                     PRAGMA page_size = {SQLITE_PAGE_SIZE};
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = NORMAL;
                     PRAGMA foreign_keys = ON;
                     PRAGMA cache_size = -{SQLITE_CACHE_KIB};
                     PRAGMA temp_store = MEMORY;"
                ))
                .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    /// A display form without a password.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => match url::Url::parse(url) {
                Ok(mut u) if u.password().is_some() => {
                    let _ = u.set_password(Some("***"));
                    u.to_string()
                }
                _ => url.clone(),
            },
        }
    }
}

/// libpq starts OpenSSL at its first connection, and OpenSSL then frees its
/// global state in a process exit handler, while other threads (a pool's
/// connections, a download under way) may still use it: the heap is then
/// corrupted as the process exits ("corrupted size vs. prev_size in
/// fastbins", seen when a test binary ended with servers still running).
/// Starting OpenSSL ourselves first, without that handler, leaves its state to
/// the operating system at exit. libpq links this same, statically built copy.
fn openssl_without_exit_handler() {
    openssl_sys::init();
}

/// The statically linked OpenSSL looks for trusted certificates where it was
/// built to look (under `/usr/local/ssl`), not where this machine keeps them.
/// So that `sslrootcert=system` trusts what the machine trusts, point OpenSSL
/// at the machine's store through `SSL_CERT_FILE` and `SSL_CERT_DIR`, each
/// unless the operator set it. Call it first thing in `main`, before any
/// other thread runs: the environment is shared by the whole process.
pub fn use_system_certificates() {
    let found = openssl_probe::probe();
    // OpenSSL reads several folders from SSL_CERT_DIR, separated as in PATH.
    let dirs = Some(found.cert_dir)
        .filter(|dirs| !dirs.is_empty())
        .and_then(|dirs| std::env::join_paths(dirs).ok());
    for (name, path) in [
        ("SSL_CERT_FILE", found.cert_file.map(Into::into)),
        ("SSL_CERT_DIR", dirs),
    ] {
        if let (None, Some(path)) = (std::env::var_os(name), path) {
            std::env::set_var(name, path);
        }
    }
}

/// The r2d2 manager: connects to the backend the URL names, never guessing.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        self.url.connect().map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        with_backend!(conn, c => R2D2Connection::is_broken(c))
    }
}

/// Builds a pool without connecting yet: a database that is down at the
/// moment makes requests fail with 503 until it returns, not the process exit.
pub fn pool(url: &DatabaseUrl, max_size: u32) -> Pool {
    let checkouts = PoolCheckouts::default();
    let inner = r2d2::Pool::builder()
        .max_size(max_size)
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(3))
        .test_on_check_out(true)
        .event_handler(Box::new(CheckoutObserver(checkouts.clone())))
        .build_unchecked(Manager { url: url.clone() });
    Pool { inner, checkouts }
}

/// A query's result: the error type every function of this module returns.
pub use diesel::result::QueryResult;
/// A query's result, as the outbox's callers name it.
pub type DbResult<T> = QueryResult<T>;
/// A database error, as callers outside this module name it.
pub type DbError = diesel::result::Error;
/// No connection could be had from the pool in time.
pub type PoolError = r2d2::PoolError;

/// "No such row", for a caller that looked one up and found none.
pub fn not_found() -> DbError {
    DbError::NotFound
}

/// What a database error means to the one who asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The row asked for does not exist.
    NotFound,
    /// The connection broke: the database went away.
    Lost,
    /// Other writers held the data too long ([`is_busy`]).
    Busy,
    /// Anything else: a bug or a broken database.
    Other,
}

/// Classifies a database error for the caller's answer.
pub fn failure(e: &DbError) -> Failure {
    use diesel::result::DatabaseErrorKind;
    match e {
        DbError::NotFound => Failure::NotFound,
        DbError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => Failure::Lost,
        busy if is_busy(busy) => Failure::Busy,
        _ => Failure::Other,
    }
}

/// Whether the database answers at all (`/healthz`).
pub fn ping(conn: &mut DbConnection) -> QueryResult<()> {
    conn.batch_execute("SELECT 1")
}

/// Whether the connection is to SQLite (for the few decisions that differ,
/// such as a bulk load's journal).
pub fn is_sqlite(conn: &DbConnection) -> bool {
    matches!(conn, DbConnection::Sqlite(_))
}

/// SQLite page cache of a connection while it streams a download: a
/// download reads each page once, so a large cache would only hold memory.
const SNAPSHOT_CACHE_KIB: i64 = 8 * 1024;

/// Runs `work` in one read-only transaction: one snapshot of the data
/// however long it reads (a CSV download). On SQLite the connection's page
/// cache is kept small meanwhile (and set back after), so memory stays flat.
pub fn snapshot<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DbError>,
{
    if let DbConnection::Sqlite(c) = conn {
        c.batch_execute(&format!("PRAGMA cache_size = -{SNAPSHOT_CACHE_KIB}"))?;
    }
    let result = conn.transaction(|conn| {
        if let DbConnection::Postgresql(c) = conn {
            c.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        }
        work(conn)
    });
    if let DbConnection::Sqlite(c) = conn {
        c.batch_execute(&format!("PRAGMA cache_size = -{SQLITE_CACHE_KIB}"))?;
    }
    result
}

/// Prepares a connection for a command-line import: on SQLite a larger page
/// cache and sorter threads for index builds (constant memory, whatever the
/// files' size), and for `events_into_empty_tables` a rollback journal
/// instead of the WAL, since pages new to the file need no journalling while
/// the WAL would hold, then copy, every page written (SQLite switches only
/// when no other connection is open: a running portal keeps WAL). Nothing
/// on PostgreSQL.
pub fn begin_bulk_load(conn: &mut DbConnection, events_into_empty_tables: bool) -> QueryResult<()> {
    if let DbConnection::Sqlite(c) = conn {
        c.batch_execute(SQLITE_BULK_PRAGMAS)?;
        if events_into_empty_tables {
            c.batch_execute("PRAGMA journal_mode = DELETE;")?;
        }
    }
    Ok(())
}

/// Prepares a connection for generating a tenant into an empty database
/// (`demo`): on SQLite a large page cache and a rollback journal instead of
/// the WAL, since pages new to the file need no journalling while a WAL
/// would hold, then copy, every page written (the switch only happens when
/// no other connection is open; otherwise the load runs in WAL mode, slower
/// but just as correct). The generated rows are consistent by construction,
/// so foreign keys are not checked row by row. Temporary files go to disk,
/// so that index builds sort on worker threads (SQLite uses none for
/// in-memory ones).
pub fn begin_generated_load(conn: &mut DbConnection) -> QueryResult<()> {
    if let DbConnection::Sqlite(c) = conn {
        c.batch_execute(
            "PRAGMA cache_size = -1048576; PRAGMA journal_mode = DELETE; PRAGMA synchronous = OFF;
             PRAGMA foreign_keys = OFF; PRAGMA temp_store = FILE; PRAGMA threads = 2;",
        )?;
    }
    Ok(())
}

/// Ends what [`begin_generated_load`] began: the connection's usual settings.
pub fn end_generated_load(conn: &mut DbConnection) -> QueryResult<()> {
    if let DbConnection::Sqlite(c) = conn {
        c.batch_execute(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -{SQLITE_CACHE_KIB};
             PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;"
        ))?;
    }
    Ok(())
}

/// Fresh statistics for the query planner (sampled on SQLite: seconds, not
/// minutes).
pub fn analyze(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Sqlite(c) => c.batch_execute("PRAGMA analysis_limit = 1000; ANALYZE;"),
        DbConnection::Postgresql(c) => c.batch_execute("ANALYZE;"),
    }
}

/// Ends what [`begin_bulk_load`] began: SQLite back to its WAL.
pub fn end_bulk_load(conn: &mut DbConnection, events_into_empty_tables: bool) -> QueryResult<()> {
    if let (DbConnection::Sqlite(c), true) = (conn, events_into_empty_tables) {
        c.batch_execute("PRAGMA journal_mode = WAL;")?;
    }
    Ok(())
}

/// A plain transaction, for changes outside the report data that must not
/// wait behind writers (a sign-in's new session while an import runs).
pub fn transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    conn.transaction(work)
}

/// How long a writer waits for the writers before it (PostgreSQL's
/// `lock_timeout`; SQLite waits its `busy_timeout`, also 10 s) before it
/// gives up with an error that [`is_busy`] recognises.
pub const WRITER_WAIT_MS: u64 = 10_000;

/// Times a writer tries to take the writers' lock before it gives up.
const WRITER_TRIES: u32 = 3;

/// Runs `work` as the one writer of the portal's data: one transaction that
/// first takes the writers' lock (the `portal_state` row, which every change
/// of the report data updates anyway), so writers on any number of
/// instances run one after another and none can deadlock another or compute
/// a count from a state a concurrent writer is changing. Readers never wait
/// for it. A writer that cannot get the lock in time tries again after a
/// short random pause, twice; after that the error is one [`is_busy`]
/// recognises (a 503 with `Retry-After` for the client). `work` runs at most
/// once: it only starts once the lock is held, and the lock is taken by the
/// transaction's first statement.
pub fn write<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let mut work = Some(work);
    let mut tries = 0;
    loop {
        tries += 1;
        let mut locked = false;
        let result = conn.transaction(|conn| {
            lock_writers(conn)?;
            locked = true;
            match work.take() {
                Some(work) => work(conn),
                None => Err(diesel::result::Error::RollbackTransaction.into()),
            }
        });
        match result {
            Err(e) if !locked && tries < WRITER_TRIES => {
                drop(e);
                std::thread::sleep(jitter());
            }
            other => return other,
        }
    }
}

/// Takes the writers' lock in the current transaction.
fn lock_writers(conn: &mut DbConnection) -> QueryResult<()> {
    use schema::portal_state;
    if let DbConnection::Postgresql(c) = conn {
        // A writer fills and reads the same tables in one transaction (an
        // import adds 100,000 users, looking each batch up first): a
        // prepared statement's generic plan, made while a table was small,
        // would scan the whole table for every batch. Plans made for each
        // execution see the table as it is.
        c.batch_execute(&format!(
            "SET LOCAL lock_timeout = {WRITER_WAIT_MS}; SET LOCAL plan_cache_mode = force_custom_plan"
        ))?;
    }
    diesel::update(portal_state::table.find(1))
        .set(portal_state::data_version.eq(portal_state::data_version))
        .execute(conn)
        .map(drop)
}

/// A pause of 50–250 ms, different for every writer.
fn jitter() -> Duration {
    use rand::Rng;
    Duration::from_millis(rand::rng().random_range(50..250))
}

/// Whether a database error means "busy, try again later": a lock not
/// granted in time, a deadlock or a serialization failure (PostgreSQL), a
/// locked database (SQLite).
pub fn is_busy(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        Error::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("deadlock detected")
                || m.contains("lock timeout")
                || m.contains("could not serialize access")
                || m.contains("could not obtain lock")
                || m.contains("database is locked")
                || m.contains("database table is locked")
        }
        _ => false,
    }
}

/// Applies pending migrations. On PostgreSQL an advisory lock lets several
/// instances start at once: one migrates, the others wait and find nothing to do.
pub fn migrate(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    let applied: Vec<String> = match conn {
        DbConnection::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("SQLite migration failed: {e}"))?
            .iter()
            .map(|v| v.to_string())
            .collect(),
        DbConnection::Postgresql(c) => {
            c.batch_execute("SELECT pg_advisory_lock(7275616)")?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|vs| vs.iter().map(|v| v.to_string()).collect::<Vec<_>>())
                .map_err(|e| anyhow::anyhow!("PostgreSQL migration failed: {e}"));
            // The evaluation a migration asks for runs under the same lock.
            let result = match result {
                Ok(applied) => after_migrations(conn, &applied).map(|()| applied),
                Err(e) => Err(e),
            };
            if let DbConnection::Postgresql(c) = conn {
                c.batch_execute("SELECT pg_advisory_unlock(7275616)")?;
            }
            return result;
        }
    };
    after_migrations(conn, &applied)?;
    Ok(applied)
}

/// Reverts the applied migrations newer than `version` (YYYYMMDDNNNNNN),
/// newest first, with their `down.sql`: the upgrade tests make a database as
/// a previous release left it. Returns the versions reverted.
pub fn revert_after(conn: &mut DbConnection, version: &str) -> anyhow::Result<Vec<String>> {
    fn run<C, B>(
        c: &mut C,
        source: impl Fn() -> EmbeddedMigrations,
        version: &str,
    ) -> anyhow::Result<Vec<String>>
    where
        C: MigrationHarness<B>,
        B: diesel::backend::Backend,
    {
        let mut reverted = Vec::new();
        loop {
            let applied = c
                .applied_migrations()
                .map_err(|e| anyhow::anyhow!("listing migrations: {e}"))?;
            let Some(last) = applied.iter().map(|v| v.to_string()).max() else {
                break;
            };
            if last.replace('-', "").as_str() <= version {
                break;
            }
            let done = c
                .revert_last_migration(source())
                .map_err(|e| anyhow::anyhow!("reverting {last}: {e}"))?;
            reverted.push(done.to_string());
        }
        Ok(reverted)
    }
    match conn {
        DbConnection::Sqlite(c) => run(c, || SQLITE_MIGRATIONS, version),
        DbConnection::Postgresql(c) => run(c, || POSTGRES_MIGRATIONS, version),
    }
}

/// What applied migrations leave to the portal's own code: the migration
/// that adds the status key's verdict bits (whether a directory export and
/// the policy disagree) needs every user evaluated once.
fn after_migrations(conn: &mut DbConnection, applied: &[String]) -> anyhow::Result<()> {
    let evaluate = applied
        .iter()
        .any(|v| v.replace('-', "").starts_with("20261205000011"));
    if evaluate {
        let policy = directory::load_policy(conn)?;
        let now = chrono::Utc::now().naive_utc();
        conn.transaction(|conn| directory::recompute_all(conn, &policy, now))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend_by_scheme() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db"),
            Ok(DatabaseUrl::Postgres("postgres://u@h/db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://h/db"),
            Ok(DatabaseUrl::Postgres("postgresql://h/db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/a.db"),
            Ok(DatabaseUrl::Sqlite("data/a.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/a.db"),
            Ok(DatabaseUrl::Sqlite("/var/a.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("./authinsights.db"),
            Ok(DatabaseUrl::Sqlite("./authinsights.db".into()))
        );
    }

    #[test]
    fn mistyped_or_unusable_urls_are_errors() {
        let err = DatabaseUrl::parse("postgress://h/db").unwrap_err();
        assert!(err.to_string().contains("postgress://"), "{err}");
        assert!(DatabaseUrl::parse("mysql://h/db").is_err());
        assert!(DatabaseUrl::parse("").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert!(DatabaseUrl::parse(":memory:").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        let url = DatabaseUrl::parse("postgres://app:secret@db:5432/ai").unwrap();
        assert!(!url.redacted().contains("secret"));
        assert!(url.redacted().contains("app"));
    }
}
