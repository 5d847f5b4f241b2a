//! `authinsights-bench`: measures every performance budget (docs/performance.md) on one
//! database and prints one table, budget beside measured, failing (exit
//! status 1) when a budget is missed.
//!
//! A binary of its own, beside the product: it drives the `authinsights`
//! binary next to it as an operator would run it — `demo` builds the
//! reference data set (timed from outside, like `time`), `serve` answers the
//! requests (its peak memory read from `/proc`), `export` and `import` time
//! the import. The bench is the client: page timings one request at a time on
//! loopback, the CSV downloads streamed and their records counted, and the
//! concurrent load from a thread per keep-alive connection. It signs in with
//! an account and session of its own, made in the database for the run and
//! removed when it ends, so the database it measures keeps no trace of it.

mod http;

use anyhow::{bail, Context};
use authinsights::accounts::Role;
use authinsights::db::{self, DatabaseUrl};
use clap::Parser;
use http::{Connection, CsvRecords};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Measure the performance budgets on a database: builds the reference data
/// set in an empty one, serves it, prints one table (budget beside
/// measured) and exits 1 when a budget is missed.
#[derive(Debug, Parser)]
#[command(name = "authinsights-bench", version)]
struct Options {
    /// postgres://… for PostgreSQL; sqlite://PATH or a file path for SQLite.
    #[arg(long, env = "DATABASE_URL", default_value = "./authinsights.db")]
    database_url: String,
    /// Users of the generated data set.
    #[arg(long, default_value_t = 1_000_000)]
    users: u64,
    /// Days of events of the generated data set.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Measure the data already in the database (generation is then not timed).
    #[arg(long)]
    reuse: bool,
    /// Requests per page timing, after one warm-up.
    #[arg(long, default_value_t = 101, value_parser = clap::value_parser!(u64).range(5..=10_000))]
    samples: u64,
    /// Concurrent connections of the load tests.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    connections: u64,
    /// Seconds of each load test.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    load_seconds: u64,
    /// Also time importing every event, exported in the import format, into a
    /// new SQLite file with the same directory (about 5 more minutes and 10 GB
    /// of temporary disk at the reference size; SQLite only).
    #[arg(long)]
    import: bool,
}

/// The performance budgets (docs/performance.md).
mod budget {
    pub const OVERVIEW_P50_MS: f64 = 10.0;
    pub const LIST_P50_MS: f64 = 20.0;
    pub const USERS_CSV_ROWS_PER_S: f64 = 2_000_000.0;
    pub const EVENTS_CSV_ROWS_PER_S: f64 = 1_000_000.0;
    pub const CSV_PEAK_MB: f64 = 50.0;
    pub const OVERVIEW_LOAD_PER_S: f64 = 20_000.0;
    pub const LIST_LOAD_PER_S: f64 = 5_000.0;
    pub const IMPORT_EVENTS_PER_S: f64 = 100_000.0;
    pub const IMPORT_PEAK_MB: f64 = 500.0;
    pub const GENERATE_S: f64 = 180.0;
    /// PostgreSQL's: every page, and the overview under load.
    pub const PG_PAGE_P50_MS: f64 = 20.0;
    pub const PG_OVERVIEW_LOAD_PER_S: f64 = 5_000.0;
}

/// One line of the table.
struct Line {
    what: String,
    budget: String,
    measured: String,
    /// None: measured without a budget.
    pass: Option<bool>,
}

impl Line {
    fn new(
        what: impl Into<String>,
        budget: impl Into<String>,
        measured: String,
        pass: Option<bool>,
    ) -> Line {
        Line {
            what: what.into(),
            budget: budget.into(),
            measured,
            pass,
        }
    }

    /// A line whose budget applies on this backend, or is shown for reference.
    fn judged(
        what: impl Into<String>,
        budget: Option<String>,
        measured: String,
        pass: bool,
    ) -> Line {
        match budget {
            Some(b) => Line::new(what, b, measured, Some(pass)),
            None => Line::new(what, "-", measured, None),
        }
    }
}

/// Latencies of one path, in milliseconds.
struct Timing {
    p50: f64,
    p95: f64,
    p99: f64,
}

impl Timing {
    fn of(mut ms: Vec<f64>) -> Timing {
        if ms.is_empty() {
            return Timing {
                p50: f64::NAN,
                p95: f64::NAN,
                p99: f64::NAN,
            };
        }
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
        Timing {
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
        }
    }

    fn text(&self) -> String {
        format!(
            "p50 {:.1}  p95 {:.1}  p99 {:.1} ms",
            self.p50, self.p95, self.p99
        )
    }
}

/// The `authinsights` binary beside this one.
fn product() -> anyhow::Result<std::path::PathBuf> {
    let me = std::env::current_exe()?;
    let product = me
        .parent()
        .context("the bench's folder")?
        .join(format!("authinsights{}", std::env::consts::EXE_SUFFIX));
    if !product.is_file() {
        bail!(
            "{} is missing: build both binaries (cargo build --release)",
            product.display()
        );
    }
    Ok(product)
}

/// The portal under test: a `serve` child on a free port.
struct Server {
    child: Child,
    addr: String,
    cookie: String,
    conn: std::cell::RefCell<Option<Connection>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(url: &DatabaseUrl, raw_url: &str, cookie: String) -> anyhow::Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(product()?)
            .args(["--database-url", raw_url, "serve", "--bind"])
            .arg(format!("127.0.0.1:{port}"))
            .env("AUTHINSIGHTS_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the server")?;
        let server = Server {
            child,
            addr: format!("127.0.0.1:{port}"),
            cookie,
            conn: Default::default(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !matches!(server.get("/healthz"), Ok((200, _))) {
            if Instant::now() > deadline {
                bail!(
                    "the server on {} did not answer /healthz within 60 s",
                    url.redacted()
                );
            }
            server.conn.replace(None);
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    fn request(&self, path: &str) -> Vec<u8> {
        Connection::get_request(&self.addr, path, &self.cookie)
    }

    /// GETs `path` as the bench account on one kept-alive connection; the
    /// status and body.
    fn get(&self, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut slot = self.conn.borrow_mut();
        // A kept connection the server closed while idle is opened again, once.
        let reused = slot.is_some();
        for attempt in 0..2 {
            if slot.is_none() {
                *slot = Some(Connection::open(&self.addr)?);
            }
            let conn = slot.as_mut().context("a connection")?;
            let mut body = Vec::new();
            match conn.send(&self.request(path), &mut |b| body.extend_from_slice(b)) {
                Ok(r) => return Ok((r.status, body)),
                Err(e) => {
                    *slot = None;
                    if attempt == 1 || !reused {
                        return Err(e.into());
                    }
                }
            }
        }
        bail!("{path}: no answer")
    }

    /// The server's peak resident memory since it started, in MB.
    fn peak_mb(&self) -> anyhow::Result<f64> {
        peak_mb(self.child.id())
    }
}

/// A process's peak resident memory (VmHWM) so far, in MB.
fn peak_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc")?;
    Ok(kb / 1000.0)
}

/// The paths timed one request at a time: (kind, path). Deep pages are
/// appended at run time.
const PATHS: &[(&str, &str)] = &[
    ("overview", "/"),
    ("overview", "/?range=24h"),
    ("overview", "/?range=7d"),
    // The usage view reads the daily rollups and the sign-in tables only
    // (the list budget: p50 ≤ 20 ms).
    ("usage", "/usage"),
    ("usage", "/usage?range=30d"),
    ("usage", "/usage?range=7d"),
    ("list", "/registrations"),
    ("list", "/registrations?registered=yes"),
    ("list", "/registrations?enabled=yes&registered=no"),
    ("list", "/registrations?capable=no&admin=yes"),
    ("list", "/registrations?passwordless_capable=yes"),
    ("list", "/registrations?account_enabled=no&user_type=guest"),
    ("list", "/registrations?method=office_call&mfa_capable=no"),
    (
        "list",
        "/registrations?method=security_questions&capable=yes&admin=yes",
    ),
    ("list", "/registrations?sort=-user_name&size=200"),
    ("search", "/registrations?q=okafor12345"),
    ("search", "/registrations?q=smith"),
    ("search", "/registrations?q=smith&capable=no"),
    ("search", "/registrations?q=jensen&admin=yes"),
    ("search", "/registrations?q=contoso"),
    ("search", "/registrations?q=an"),
    ("search", "/registrations?q=contoso&capable=no"),
    ("list", "/activity"),
    ("list", "/activity?range=24h"),
    (
        "list",
        "/activity?feature=registration&method=security_questions&status=failure",
    ),
    ("list", "/activity?feature=reset&status=failure&range=7d"),
    ("list", "/activity?method=office_call"),
    ("search", "/activity?q=zoe.jensen720"),
    ("search", "/activity?q=smith"),
    ("search", "/activity?q=smith&method=office_call"),
    (
        "search",
        "/activity?q=smith&feature=reset&method=email&status=success",
    ),
    ("search", "/activity?q=contoso"),
    ("list", "/reports/registration-activity"),
    ("list", "/reports/registration-activity?range=24h"),
    ("list", "/reports/registration-activity?method=office_phone"),
    ("search", "/reports/registration-activity?q=smith"),
    ("list", "/reports/reset-activity"),
    ("list", "/reports/reset-activity?result=blocked"),
    (
        "list",
        "/reports/reset-activity?result=contacted_admin&method=security_questions",
    ),
    (
        "list",
        "/reports/reset-activity?result=succeeded&method=office_phone&range=7d",
    ),
    ("list", "/reports/reset-activity?result=failed&range=24h"),
    ("search", "/reports/reset-activity?q=zoe.jensen720"),
    ("search", "/reports/reset-activity?q=smith"),
    ("search", "/reports/reset-activity?q=smith&result=abandoned"),
    ("search", "/reports/reset-activity?q=contoso"),
    ("list", "/trends"),
    ("list", "/trends?figure=mfaCapable"),
];

/// The paths put under concurrent load: (kind, path). Each list is loaded on
/// its first page, with a filter and with a search.
const LOAD_PATHS: &[(&str, &str)] = &[
    ("overview", "/"),
    ("list", "/registrations"),
    ("list", "/registrations?enabled=yes&registered=no"),
    ("search", "/registrations?q=smith"),
    ("list", "/activity"),
    ("list", "/activity?method=office_call"),
    ("search", "/activity?q=smith"),
    ("list", "/reports/reset-activity"),
    ("list", "/reports/reset-activity?result=blocked"),
    ("search", "/reports/reset-activity?q=smith"),
];

/// A page deep in a list: follows the API's next links `pages` times, or to
/// the last page of a shorter list (the pages use the same cursors), and
/// returns the page's path for that position.
fn deep_path(server: &Server, list: &str, pages: usize) -> anyhow::Result<String> {
    let mut path = format!("/api/v1{list}?size=500");
    for _ in 0..pages {
        let (status, body) = server.get(&path)?;
        if status != 200 {
            bail!("{path} answered {status}");
        }
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        // A list shorter than that: its last page.
        let Some(next) = v["@odata.nextLink"].as_str() else {
            break;
        };
        let at = next.find("/api/v1").context("a next link without a path")?;
        path = next[at..].to_string();
    }
    Ok(path.replacen("/api/v1", "", 1))
}

fn time_path(server: &Server, path: &str, samples: usize) -> anyhow::Result<Timing> {
    let (status, _) = server.get(path)?;
    if status != 200 {
        bail!("{path} answered {status}");
    }
    let mut ms = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        let (status, body) = server.get(path)?;
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
        if status != 200 || body.is_empty() {
            bail!("{path} answered {status}");
        }
    }
    Ok(Timing::of(ms))
}

/// The overview as the first request after a change of the data sees it:
/// before each request the data version is raised (as every write does,
/// leaving the data and its "Last refreshed" time as they are), so the
/// figures are computed from the maintained counts each time.
fn time_cold_overview(
    server: &Server,
    url: &DatabaseUrl,
    samples: usize,
) -> anyhow::Result<Timing> {
    let mut conn = url.connect()?;
    let mut ms = Vec::with_capacity(samples);
    for _ in 0..samples {
        let at = db::counts::data_changed_at(&mut conn)?;
        db::counts::touch_data_changed(&mut conn, at)?;
        let started = Instant::now();
        let (status, _) = server.get("/")?;
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
        if status != 200 {
            bail!("/ answered {status}");
        }
    }
    Ok(Timing::of(ms))
}

/// Downloads a CSV on a connection of its own, counting its records
/// (without the header); (records, seconds).
fn download_csv(addr: &str, cookie: &str, path: &str) -> anyhow::Result<(u64, f64)> {
    let started = Instant::now();
    let mut conn = Connection::open(addr)?;
    let mut records = CsvRecords::default();
    let response = conn.send(&Connection::get_request(addr, path, cookie), &mut |b| {
        records.feed(b)
    })?;
    if response.status != 200 {
        bail!("{path} answered {}", response.status);
    }
    Ok((
        records.lines.saturating_sub(1),
        started.elapsed().as_secs_f64(),
    ))
}

/// `downloads` downloads of `path` at once; (records in all, seconds, errors).
fn parallel_csv(server: &Server, path: &str, downloads: usize) -> (u64, f64, u64) {
    let started = Instant::now();
    let workers: Vec<_> = (0..downloads)
        .map(|_| {
            let (addr, cookie, path) =
                (server.addr.clone(), server.cookie.clone(), path.to_string());
            std::thread::spawn(move || download_csv(&addr, &cookie, &path))
        })
        .collect();
    let (mut rows, mut errors) = (0, 0);
    for w in workers {
        match w.join() {
            Ok(Ok((r, _))) => rows += r,
            _ => errors += 1,
        }
    }
    (rows, started.elapsed().as_secs_f64(), errors)
}

/// `connections` threads, each with its own keep-alive connection, GET
/// `path` until the time is up; (answers per second, errors, latency).
fn load(server: &Server, path: &str, connections: usize, seconds: u64) -> (f64, u64, Timing) {
    let request = server.request(path);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (addr, request) = (server.addr.clone(), request.clone());
            std::thread::spawn(move || {
                let (mut ok, mut errors, mut ms) = (0u64, 0u64, Vec::new());
                let mut conn = None;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    if conn.is_none() {
                        conn = Connection::open(&addr).ok();
                    }
                    let answer = match conn.as_mut() {
                        Some(c) => c.send(&request, &mut |_| {}),
                        None => Err(std::io::Error::other("no connection")),
                    };
                    match answer {
                        Ok(r) if r.status == 200 && r.body_len > 0 => ok += 1,
                        Ok(_) => errors += 1,
                        Err(_) => {
                            errors += 1;
                            conn = None;
                        }
                    }
                    ms.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                (ok, errors, ms)
            })
        })
        .collect();
    let (mut ok, mut errors, mut ms) = (0, 0, Vec::new());
    for w in workers {
        match w.join() {
            Ok((o, e, m)) => {
                ok += o;
                errors += e;
                ms.extend(m);
            }
            Err(_) => errors += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    (ok as f64 / elapsed, errors, Timing::of(ms))
}

/// The bench's own Reports Reader account and session, made in the database
/// for the run (no password: it signs in by its session only) and removed,
/// with its sessions, when dropped.
struct BenchAccount {
    url: DatabaseUrl,
    id: String,
    cookie: String,
}

impl BenchAccount {
    fn create(url: &DatabaseUrl) -> anyhow::Result<BenchAccount> {
        let mut conn = url.connect()?;
        let name = format!("bench-{}", &db::accounts::new_id()[..8]);
        // A hash no password matches: the account cannot sign in.
        let account =
            db::accounts::create_account(&mut conn, &name, Role::ReportsReader, "!bench", false)?;
        let now = chrono::Utc::now().naive_utc();
        let session = db::sessions::create_session(&mut conn, &account.id, "bench", now)?;
        Ok(BenchAccount {
            url: url.clone(),
            id: account.id,
            cookie: format!(
                "{}={}",
                authinsights::web::auth::SESSION_COOKIE,
                session.token
            ),
        })
    }
}

impl Drop for BenchAccount {
    fn drop(&mut self) {
        let removed = self
            .url
            .connect()
            .map_err(anyhow::Error::from)
            .and_then(|mut c| Ok(db::accounts::delete_unused_account(&mut c, &self.id)?));
        if let Err(e) = removed {
            eprintln!("bench: could not remove its account {}: {e:#}", self.id);
        }
    }
}

/// Runs a child `authinsights` command on `raw_url`; its wall-clock seconds
/// and peak resident memory in MB (read while it runs).
fn child(raw_url: &str, args: &[&str]) -> anyhow::Result<(f64, f64)> {
    let started = Instant::now();
    let mut process = Command::new(product()?)
        .args(["--database-url", raw_url])
        .args(args)
        .stdout(Stdio::null())
        .spawn()?;
    let mut peak: f64 = 0.0;
    let status = loop {
        if let Some(status) = process.try_wait()? {
            break status;
        }
        if let Ok(mb) = peak_mb(process.id()) {
            peak = peak.max(mb);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if !status.success() {
        bail!("authinsights {} failed: {status}", args.join(" "));
    }
    Ok((started.elapsed().as_secs_f64(), peak))
}

/// Times `import activities` of every activity and method event of the
/// bench's data set, exported in the import format, into a new SQLite file
/// holding the same directory (the demo's default seed, `users` users) and
/// no events.
fn time_import(
    raw_url: &str,
    opts: &Options,
    users: u64,
    events: i64,
) -> anyhow::Result<Vec<Line>> {
    let dir = tempfile::tempdir().context("a folder for the import")?;
    let file = dir.path().join("activities.csv");
    let file = file.to_str().context("a UTF-8 temp path")?;
    eprintln!("bench: exporting the activities for the import");
    child(raw_url, &["export", "activities", file])?;
    let target = format!("sqlite://{}", dir.path().join("import.db").display());
    let (users, days) = (users.to_string(), opts.days.to_string());
    eprintln!("bench: the same directory with no events, then the import");
    child(
        &target,
        &[
            "demo",
            "--users",
            &users,
            "--days",
            &days,
            "--events-per-user-day",
            "0",
        ],
    )?;
    let (s, peak) = child(&target, &["import", "activities", file])?;
    let rate = events as f64 / s;
    Ok(vec![
        Line::new(
            format!("import {events} method events (SQLite)"),
            format!("≥ {:.0}/s", budget::IMPORT_EVENTS_PER_S),
            format!("{rate:.0} events/s ({s:.1} s)"),
            Some(rate >= budget::IMPORT_EVENTS_PER_S),
        ),
        Line::new(
            "import: peak memory",
            format!("≤ {:.0} MB", budget::IMPORT_PEAK_MB),
            format!("{peak:.0} MB"),
            Some(peak <= budget::IMPORT_PEAK_MB),
        ),
    ])
}

fn main() -> std::process::ExitCode {
    authinsights::db::use_system_certificates();
    let opts = Options::parse();
    match run(&opts) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("authinsights-bench: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Runs the whole bench; false when a budget was missed.
fn run(opts: &Options) -> anyhow::Result<bool> {
    let raw_url = opts.database_url.as_str();
    let url = DatabaseUrl::parse(raw_url)?;
    let url = &url;
    let sqlite = url.backend_name() == "SQLite";
    // SQLite's budgets are the reference; on PostgreSQL the pages' p50 and
    // the overview under load have budgets of their own, the rest is shown.
    let only_sqlite = |b: String| sqlite.then_some(b);
    let mut lines = Vec::new();
    let mut conn = url.connect().context("opening the database")?;
    db::migrate(&mut conn)?;
    let empty = db::directory::is_empty(&mut conn)?;
    drop(conn);
    if empty {
        eprintln!(
            "bench: generating {} users and {} days of events",
            opts.users, opts.days
        );
        let (users, days) = (opts.users.to_string(), opts.days.to_string());
        let (s, _) = child(raw_url, &["demo", "--users", &users, "--days", &days])
            .context("generating the data set")?;
        lines.push(Line::judged(
            format!("generate {} users, {} days", opts.users, opts.days),
            only_sqlite(format!("≤ {:.0} s", budget::GENERATE_S)),
            format!("{s:.1} s"),
            s <= budget::GENERATE_S,
        ));
    } else if !opts.reuse {
        bail!(
            "{} already holds data: give an empty database (the bench generates the reference set and times it), or --reuse to measure the data as it is",
            url.redacted()
        );
    } else {
        lines.push(Line::new(
            "generate the data set",
            format!("≤ {:.0} s", budget::GENERATE_S),
            "not measured (--reuse)".into(),
            None,
        ));
    }

    let mut conn = url.connect()?;
    let totals = db::overview::status_totals(&mut conn)?;
    let events = db::counts::stored_event_count(&mut conn)?;
    drop(conn);
    let account = BenchAccount::create(url)?;
    eprintln!("bench: {} users; starting the server", totals.users);

    // The CSV first, on a fresh server, so its peak memory is the downloads'.
    let server = Server::start(url, raw_url, account.cookie.clone())?;
    for (path, what, per_s) in [
        (
            "/registrations.csv",
            "registration details",
            budget::USERS_CSV_ROWS_PER_S,
        ),
        (
            "/activity.csv",
            "reset details",
            budget::EVENTS_CSV_ROWS_PER_S,
        ),
    ] {
        eprintln!("bench: {path}");
        download_csv(&server.addr, &server.cookie, &format!("{path}?size=1"))?;
        let (rows, s) = download_csv(&server.addr, &server.cookie, path)?;
        let rate = rows as f64 / s;
        eprintln!("bench: {rows} rows in {s:.2} s");
        lines.push(Line::judged(
            format!("CSV of {what} ({rows} rows)"),
            only_sqlite(format!("≥ {per_s:.0} rows/s")),
            format!("{rate:.0} rows/s ({s:.2} s)"),
            rate >= per_s,
        ));
    }
    let peak = server.peak_mb()?;
    lines.push(Line::judged(
        "CSV: server peak memory",
        only_sqlite(format!("≤ {:.0} MB", budget::CSV_PEAK_MB)),
        format!("{peak:.1} MB"),
        peak <= budget::CSV_PEAK_MB,
    ));

    let mut paths: Vec<(&str, String)> = PATHS.iter().map(|(k, p)| (*k, p.to_string())).collect();
    let deep = |list: &str, rows: u64| -> anyhow::Result<(&'static str, String)> {
        let pages = (rows / 500).max(1) as usize;
        Ok(("deep", deep_path(&server, list, pages)?))
    };
    eprintln!("bench: pages one request at a time");
    paths.push(deep("/registrations", (totals.users / 2) as u64)?);
    paths.push(deep("/activity", 100_000)?);
    paths.push(deep("/reports/reset-activity", 100_000)?);
    // Who changed in the last week (the demo's campaign: thousands of users).
    let week_ago = chrono::Utc::now().date_naive() - chrono::Duration::days(7);
    paths.push(("list", format!("/trends?since={week_ago}")));
    let samples = opts.samples as usize;
    let page_budget = |kind: &str| match (sqlite, kind) {
        (true, "overview") => budget::OVERVIEW_P50_MS,
        (true, _) => budget::LIST_P50_MS,
        (false, _) => budget::PG_PAGE_P50_MS,
    };
    let t = time_cold_overview(&server, url, samples)?;
    let limit = page_budget("overview");
    lines.push(Line::new(
        "/ (first request after a change)",
        format!("p50 ≤ {limit:.0} ms"),
        t.text(),
        Some(t.p50 <= limit),
    ));
    for (kind, path) in &paths {
        let t = time_path(&server, path, samples)?;
        let limit = page_budget(kind);
        let what = if *kind == "deep" {
            format!("deep page {}", path.split('?').next().unwrap_or(path))
        } else {
            path.clone()
        };
        lines.push(Line::new(
            what,
            format!("p50 ≤ {limit:.0} ms"),
            t.text(),
            Some(t.p50 <= limit),
        ));
    }

    let connections = opts.connections as usize;
    for (kind, path) in LOAD_PATHS {
        eprintln!("bench: {connections} connections on {path}");
        let (rps, errors, t) = load(&server, path, connections, opts.load_seconds);
        let limit = match (sqlite, *kind) {
            (true, "overview") => Some(budget::OVERVIEW_LOAD_PER_S),
            (true, "list") => Some(budget::LIST_LOAD_PER_S),
            (false, "overview") => Some(budget::PG_OVERVIEW_LOAD_PER_S),
            _ => None,
        };
        lines.push(Line::judged(
            format!("{connections} connections on {path}"),
            limit.map(|l| format!("≥ {l:.0} req/s, 0 errors")),
            format!("{rps:.0} req/s, {errors} errors, {}", t.text()),
            limit.is_some_and(|l| rps >= l) && errors == 0,
        ));
    }
    eprintln!("bench: 4 downloads of /registrations.csv at once");
    let (rows, s, errors) = parallel_csv(&server, "/registrations.csv", 4);
    lines.push(Line::new(
        "4 downloads of /registrations.csv at once",
        "0 errors",
        format!(
            "{:.0} rows/s in all ({rows} rows, {s:.1} s), {errors} errors",
            rows as f64 / s
        ),
        Some(errors == 0),
    ));
    drop(server);
    drop(account);
    if opts.import {
        if sqlite {
            // The users the database holds (with --reuse, not --users).
            lines.extend(time_import(raw_url, opts, totals.users as u64, events)?);
        } else {
            lines.push(Line::new(
                "import of the events",
                "-",
                "measured on SQLite only".into(),
                None,
            ));
        }
    }

    let width = lines
        .iter()
        .map(|l| l.what.chars().count())
        .max()
        .unwrap_or(0)
        .min(90);
    println!(
        "authinsights-bench: {} users, {events} method events on {} ({}), {} samples per page",
        totals.users,
        url.backend_name(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        opts.samples
    );
    println!(
        "{:<width$}  {:<26}  {:<46}  result",
        "what", "budget", "measured"
    );
    let mut all = true;
    for l in &lines {
        let result = match l.pass {
            Some(true) => "ok",
            Some(false) => {
                all = false;
                "MISSED"
            }
            None => "-",
        };
        println!(
            "{:<width$}  {:<26}  {:<46}  {result}",
            l.what, l.budget, l.measured
        );
    }
    Ok(all)
}
