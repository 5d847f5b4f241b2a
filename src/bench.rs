//! `authinsights bench`: measures every budget of DESIGN.md section 7 on one
//! database and prints one table, budget beside measured, failing (exit
//! status 1) when a budget is missed.
//!
//! The command drives child processes of its own binary, as an operator
//! would run them: `demo` builds the reference data set (timed from outside,
//! like `time`), and `serve` answers the requests (its peak memory read from
//! `/proc`). It is the client: page timings one request at a time on
//! loopback, the CSV download streamed and parsed, and the concurrent load
//! from a thread per connection, each with its own keep-alive connection.

use crate::accounts::Role;
use crate::db::{self, DatabaseUrl};
use anyhow::{bail, Context};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What to measure, from the command line.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub users: u64,
    pub days: u32,
    /// Measure the data already in the database instead of generating it.
    pub reuse: bool,
    /// Requests per page timing (after one warm-up).
    pub samples: usize,
    /// Concurrent connections of the load test.
    pub connections: usize,
    /// Seconds of the load test.
    pub load_seconds: u64,
    /// Also time `import` of all the events into a copy of the directory.
    pub import: bool,
}

/// The budgets of DESIGN.md section 7.
mod budget {
    pub const OVERVIEW_P50_MS: f64 = 30.0;
    pub const LIST_P50_MS: f64 = 50.0;
    pub const SEARCH_P50_MS: f64 = 100.0;
    pub const CSV_ROWS_PER_S: f64 = 300_000.0;
    pub const CSV_PEAK_MB: f64 = 100.0;
    pub const LOAD_REQUESTS_PER_S: f64 = 2_000.0;
    pub const GENERATE_S: f64 = 180.0;
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
}

/// Latencies of one path, in milliseconds.
struct Timing {
    p50: f64,
    p95: f64,
    p99: f64,
}

impl Timing {
    fn of(mut ms: Vec<f64>) -> Timing {
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

/// The portal under test: a `serve` child on a free port.
struct Server {
    child: Child,
    base: String,
    cookie: String,
    agent: ureq::Agent,
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
        let child = Command::new(std::env::current_exe()?)
            .args(["--database-url", raw_url, "serve", "--bind"])
            .arg(format!("127.0.0.1:{port}"))
            .env("AUTHINSIGHTS_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the server")?;
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            cookie,
            agent: ureq::AgentBuilder::new().build(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.agent.get(&server.url("/healthz")).call().is_err() {
            if Instant::now() > deadline {
                bail!(
                    "the server on {} did not answer /healthz within 60 s",
                    url.redacted()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GETs `path` as the bench account; the status and body.
    fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        get(&self.agent, &self.url(path), &self.cookie)
    }

    /// The server's peak resident memory since it started, in MB.
    fn peak_mb(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM in /proc")?;
        Ok(kb / 1000.0)
    }
}

fn get(agent: &ureq::Agent, url: &str, cookie: &str) -> anyhow::Result<(u16, String)> {
    match agent.get(url).set("Cookie", cookie).call() {
        Ok(r) => Ok((r.status(), r.into_string()?)),
        Err(ureq::Error::Status(code, r)) => Ok((code, r.into_string().unwrap_or_default())),
        Err(e) => Err(e.into()),
    }
}

/// The paths timed: (kind, path). Deep pages are appended at run time.
const PATHS: &[(&str, &str)] = &[
    ("overview", "/"),
    ("overview", "/?range=24h"),
    ("overview", "/?range=7d"),
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
        let v: serde_json::Value = serde_json::from_str(&body)?;
        // A list shorter than that: its last page.
        let Some(next) = v["@odata.nextLink"].as_str() else {
            break;
        };
        path = next
            .strip_prefix(&server.base)
            .context("a next link of another host")?
            .to_string();
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

/// Downloads a CSV, parsing every row; (rows, seconds).
fn download_csv(server: &Server, path: &str) -> anyhow::Result<(u64, f64)> {
    let started = Instant::now();
    let response = server
        .agent
        .get(&server.url(path))
        .set("Cookie", &server.cookie)
        .call()?;
    let mut reader = csv::Reader::from_reader(response.into_reader());
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    while reader.read_byte_record(&mut record)? {
        rows += 1;
    }
    Ok((rows, started.elapsed().as_secs_f64()))
}

/// `connections` threads, each with its own connection, GET `path` until
/// the time is up; (answers per second, errors, latency).
fn load(server: &Server, path: &str, connections: usize, seconds: u64) -> (f64, u64, Timing) {
    let url = server.url(path);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (url, cookie) = (url.clone(), server.cookie.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .max_idle_connections_per_host(1)
                    .build();
                let (mut ok, mut errors, mut ms) = (0u64, 0u64, Vec::new());
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match get(&agent, &url, &cookie) {
                        Ok((200, body)) if !body.is_empty() => ok += 1,
                        _ => errors += 1,
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

/// The bench account's session cookie, made in the database as a sign-in would.
fn bench_session(conn: &mut db::DbConnection) -> anyhow::Result<String> {
    let account = match db::accounts::find_by_username(conn, "bench")? {
        Some(a) => a,
        None => {
            let password = crate::accounts::generate_password();
            crate::service::accounts::add_account(
                conn,
                db::audit::COMMAND_LINE,
                "bench",
                Role::ReportsReader,
                Some(&password),
            )?;
            db::accounts::find_by_username(conn, "bench")?.context("the bench account")?
        }
    };
    let now = chrono::Utc::now().naive_utc();
    let session = db::sessions::create_session(conn, &account.id, "bench", now)?;
    Ok(format!(
        "{}={}",
        crate::web::auth::SESSION_COOKIE,
        session.token
    ))
}

/// Runs a child `authinsights` command on `raw_url`; its wall-clock seconds.
fn child(raw_url: &str, args: &[&str]) -> anyhow::Result<f64> {
    let started = Instant::now();
    let status = Command::new(std::env::current_exe()?)
        .args(["--database-url", raw_url])
        .args(args)
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("authinsights {} failed: {status}", args.join(" "));
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Times `import activities` of every activity and method event of the
/// bench's data set, exported in the import format, into a new SQLite file
/// holding the same directory (the same demo seed) and no events.
fn time_import(raw_url: &str, opts: &BenchOptions, events: i64) -> anyhow::Result<Line> {
    let dir = tempfile::tempdir().context("a folder for the import")?;
    let file = dir.path().join("activities.csv");
    let file = file.to_str().context("a UTF-8 temp path")?;
    eprintln!("bench: exporting the activities for the import");
    child(raw_url, &["export", "activities", file])?;
    let target = format!("sqlite://{}", dir.path().join("import.db").display());
    let (users, days) = (opts.users.to_string(), opts.days.to_string());
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
    let s = child(&target, &["import", "activities", file])?;
    let rate = events as f64 / s;
    Ok(Line::new(
        format!("import {events} method events (SQLite)"),
        "(issue 6 asks ≥ 100000/s)",
        format!("{rate:.0} events/s ({s:.1} s)"),
        None,
    ))
}

/// Runs the whole bench; false when a budget was missed.
pub fn run(url: &DatabaseUrl, raw_url: &str, opts: &BenchOptions) -> anyhow::Result<bool> {
    let mut lines = Vec::new();
    let mut conn = url.connect().context("opening the database")?;
    db::migrate(&mut conn)?;
    let empty = crate::db::directory::is_empty(&mut conn)?;
    drop(conn);
    if empty {
        eprintln!(
            "bench: generating {} users and {} days of events",
            opts.users, opts.days
        );
        let started = Instant::now();
        let status = Command::new(std::env::current_exe()?)
            .args(["--database-url", raw_url, "demo", "--users"])
            .arg(opts.users.to_string())
            .arg("--days")
            .arg(opts.days.to_string())
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("generating the data set failed: {status}");
        }
        let s = started.elapsed().as_secs_f64();
        lines.push(Line::new(
            format!("generate {} users, {} days", opts.users, opts.days),
            format!("≤ {:.0} s", budget::GENERATE_S),
            format!("{s:.1} s"),
            Some(s <= budget::GENERATE_S),
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
    let cookie = bench_session(&mut conn)?;
    drop(conn);
    eprintln!("bench: {} users; starting the server", totals.users);

    // The CSV first, on a fresh server, so its peak memory is the download's.
    let server = Server::start(url, raw_url, cookie.clone())?;
    download_csv(&server, "/registrations.csv?size=1")?;
    let (rows, s) = download_csv(&server, "/registrations.csv")?;
    let rate = rows as f64 / s;
    let peak = server.peak_mb()?;
    lines.push(Line::new(
        format!("CSV of all users ({rows} rows)"),
        format!("≥ {:.0} rows/s", budget::CSV_ROWS_PER_S),
        format!("{rate:.0} rows/s ({s:.2} s)"),
        Some(rate >= budget::CSV_ROWS_PER_S),
    ));
    lines.push(Line::new(
        "CSV: server peak memory",
        format!("≤ {:.0} MB", budget::CSV_PEAK_MB),
        format!("{peak:.1} MB"),
        Some(peak <= budget::CSV_PEAK_MB),
    ));

    let mut paths: Vec<(&str, String)> = PATHS.iter().map(|(k, p)| (*k, p.to_string())).collect();
    let deep = |list: &str, rows: u64| -> anyhow::Result<(&'static str, String)> {
        let pages = (rows / 500).max(1) as usize;
        Ok(("deep", deep_path(&server, list, pages)?))
    };
    paths.push(deep("/registrations", (totals.users / 2) as u64)?);
    paths.push(deep("/activity", 100_000)?);
    paths.push(deep("/reports/reset-activity", 100_000)?);
    let t = time_cold_overview(&server, url, opts.samples)?;
    lines.push(Line::new(
        "/ (first request after a change)",
        format!("p50 ≤ {:.0} ms", budget::OVERVIEW_P50_MS),
        t.text(),
        Some(t.p50 <= budget::OVERVIEW_P50_MS),
    ));
    for (kind, path) in &paths {
        let t = time_path(&server, path, opts.samples)?;
        let limit = match *kind {
            "overview" => budget::OVERVIEW_P50_MS,
            "search" => budget::SEARCH_P50_MS,
            _ => budget::LIST_P50_MS,
        };
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

    let (rps, errors, t) = load(&server, "/", opts.connections, opts.load_seconds);
    lines.push(Line::new(
        format!(
            "{} connections on / for {} s",
            opts.connections, opts.load_seconds
        ),
        format!("≥ {:.0} req/s, 0 errors", budget::LOAD_REQUESTS_PER_S),
        format!("{rps:.0} req/s, {errors} errors, {}", t.text()),
        Some(rps >= budget::LOAD_REQUESTS_PER_S && errors == 0),
    ));
    drop(server);
    if opts.import {
        let mut conn = url.connect()?;
        let events = db::counts::stored_event_count(&mut conn)?;
        drop(conn);
        lines.push(time_import(raw_url, opts, events)?);
    }

    let width = lines
        .iter()
        .map(|l| l.what.chars().count())
        .max()
        .unwrap_or(0)
        .min(90);
    println!(
        "authinsights bench: {} users on {} ({}), {} samples per page",
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
