//! The command line: `authinsights serve | migrate | demo | account | import | prune | notify …`.

use crate::accounts::Role;
use crate::config::{SecureCookies, WebSettings, DEFAULT_BIND, DEFAULT_DATABASE_URL};
use crate::db::imports::ImportSource;
use crate::db::models::Account;
use crate::db::{self, DatabaseUrl, DbConnection};
use crate::ingest::demo::{self, DemoOptions};
use crate::ingest::format::FileKind;
use crate::ingest::import::{ImportFile, ImportKind, ImportRequest};
use crate::ingest::records::Stop;
use crate::ingest::writer::WriterOptions;
use crate::service;
use crate::startup;
use crate::web::AppState;
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::io::{IsTerminal, Read};
use std::net::TcpListener;

#[derive(Debug, Parser)]
#[command(
    name = "authinsights",
    version,
    about = "SSPR and MFA authentication-method usage & insights"
)]
pub struct Cli {
    /// postgres://… for PostgreSQL; sqlite://PATH or a file path for SQLite.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the portal.
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Fill an empty database with a generated demo tenant.
    Demo(DemoArgs),
    /// Manage portal accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage API keys (Admin › API keys does the same).
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Import files in one transaction (docs/import-format.md): our format
    /// (CSV or JSON lines, by extension) or Microsoft Graph exports.
    Import(ImportArgs),
    /// Pull the tenant from Microsoft Graph with an app registration (see
    /// docs/graph-sync.md): users, the SSPR group's members,
    /// registration details, the audit log since the last sync and the
    /// events summary, each stored whole or not at all.
    Sync(SyncArgs),
    /// Serve a generated tenant the way Microsoft Graph and its sign-in
    /// endpoint do (documented shapes, pages, filters), to try `sync`
    /// without a tenant and to measure it. Prints the settings to use.
    GraphStandin(StandinArgs),
    /// Remove activities and method events older than the retention window.
    Prune(PruneArgs),
    /// Write the stored data in the import format (CSV), e.g. to move a
    /// tenant from SQLite to PostgreSQL.
    Export(ExportArgs),
    /// Mail and webhooks (docs/notifications.md).
    #[command(subcommand)]
    Notify(NotifyCommand),
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send one test mail at once through the SMTP settings (not through
    /// the outbox) and say what happened.
    Test(NotifyTestArgs),
}

#[derive(Debug, Args)]
pub struct NotifyTestArgs {
    /// A recipient; give --to again for more.
    #[arg(long, required = true)]
    pub to: Vec<String>,
    #[command(flatten)]
    pub smtp: crate::notify::SmtpArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// users, groups, members, methods or activities.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(["users", "groups", "members", "methods", "activities"]))]
    pub kind: String,
    /// The CSV file to write.
    pub file: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// users, groups, members, methods, activities, sign-ins, sign-in-methods, or graph
    /// (Microsoft Graph exports).
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(ImportKind::KEYS))]
    pub kind: String,
    /// Files to import, read in the order given (the pages of a paged Graph export form one data set).
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
    /// Refuse the whole import at the first value this portal does not know
    /// (a new Graph method name, `unknownFutureValue`), instead of keeping
    /// it and printing a warning.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub graph: crate::sync::GraphArgs,
    /// Only these resources (repeat the flag, or separate with commas).
    #[arg(long = "resource", value_enum, value_delimiter = ',')]
    pub resources: Vec<crate::sync::SyncResource>,
    /// Read the audit log from this time (YYYY-MM-DD, or RFC 3339 such as
    /// 2026-12-01T08:00:00Z) instead of from the last sync.
    #[arg(long, value_parser = parse_since)]
    pub since: Option<chrono::NaiveDateTime>,
    /// Pull and check everything, report what would change, store nothing.
    #[arg(long)]
    pub dry_run: bool,
}

fn parse_since(text: &str) -> Result<chrono::NaiveDateTime, String> {
    let text = text.trim();
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.naive_utc())
        .map_err(|_| format!("\"{text}\" is not a date (YYYY-MM-DD) or an RFC 3339 time"))
}

#[derive(Debug, Args)]
pub struct StandinArgs {
    /// Address to listen on (loopback: the connector reaches a stand-in
    /// over http only there).
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub bind: String,
    /// Users of the generated tenant.
    #[arg(long, default_value_t = 1_000)]
    pub users: usize,
    /// Records per page.
    #[arg(long, default_value_t = 999, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub page_size: u64,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove events older than this age (30d, 12h, 90m); default: the
    /// retention setting (30 days unless changed in Admin › Imports).
    #[arg(long, value_parser = parse_age_arg)]
    pub older_than: Option<chrono::Duration>,
}

fn parse_age_arg(text: &str) -> Result<chrono::Duration, String> {
    db::retention::parse_age(text)
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BIND", default_value = DEFAULT_BIND)]
    pub bind: String,
    /// On an empty database, generate a demo tenant and a first Global Administrator.
    #[arg(long)]
    pub demo: bool,
    /// Users of the `--demo` tenant.
    #[arg(long, default_value_t = 5_000, requires = "demo")]
    pub demo_users: u64,
    /// Connections in the database pool.
    #[arg(long, env = "AUTHINSIGHTS_POOL_SIZE", default_value_t = 16)]
    pub pool_size: u32,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "AUTHINSIGHTS_WORKERS")]
    pub workers: Option<usize>,
    /// A session unused for this many minutes ends.
    #[arg(long, env = "AUTHINSIGHTS_SESSION_IDLE_MINUTES", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub session_idle_minutes: u32,
    /// A session ends this many hours after sign-in, used or not.
    #[arg(long, env = "AUTHINSIGHTS_SESSION_MAX_HOURS", default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=720))]
    pub session_max_hours: u32,
    /// When session cookies carry the Secure flag: auto (when the request came
    /// over HTTPS, as a trusted proxy's X-Forwarded-Proto says), always, never.
    #[arg(
        long,
        env = "AUTHINSIGHTS_SECURE_COOKIES",
        value_enum,
        default_value = "auto"
    )]
    pub secure_cookies: SecureCookies,
    /// Stand behind a proxy: take the client address (for sign-in
    /// throttling) from X-Forwarded-For and the scheme and host from
    /// Forwarded / X-Forwarded-Proto / X-Forwarded-Host. Without it those
    /// headers are ignored.
    #[arg(long, env = "AUTHINSIGHTS_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// CSV downloads streaming at once (default: half the pool); one more
    /// gets a 503 with Retry-After, so pages and sign-in keep the rest.
    #[arg(long, env = "AUTHINSIGHTS_DOWNLOADS", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub downloads: Option<u32>,
    /// A CSV download whose client reads nothing for this many seconds is
    /// cut off and gives its database connection back.
    #[arg(long, env = "AUTHINSIGHTS_DOWNLOAD_IDLE_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub download_idle_seconds: u32,
    /// How long repeated failed sign-ins lock an account or block an address.
    #[arg(long, env = "AUTHINSIGHTS_SIGN_IN_LOCK_MINUTES", default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=10080))]
    pub sign_in_lock_minutes: u32,
    /// Pull the tenant from Microsoft Graph this often (15m, 6h, 1d); an
    /// administrator can change it on Admin › Data sources. Needs the Graph
    /// connection settings below. With several portals on one database,
    /// one of them syncs at a time.
    #[arg(long, env = "AUTHINSIGHTS_SYNC_EVERY", value_parser = crate::sync::parse_duration)]
    pub sync_every: Option<chrono::Duration>,
    /// The portal's address as its readers reach it (https://insights.example.org),
    /// for the links subscriptions and alerts send (default: http:// and --bind).
    #[arg(long, env = "AUTHINSIGHTS_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// A subscription's CSV up to this many bytes is attached to its mail; a
    /// larger one is sent as a signed link that needs sign-in.
    #[arg(long, env = "AUTHINSIGHTS_ATTACH_MAX_BYTES", default_value_t = 5 * 1024 * 1024)]
    pub attach_max_bytes: usize,
    /// How often the portal looks for due subscriptions and for data changes
    /// its alerts check.
    #[arg(long, env = "AUTHINSIGHTS_CHECK_SUBSCRIPTIONS_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub check_subscriptions_seconds: u64,
    #[command(flatten)]
    pub graph: crate::sync::GraphArgs,
    #[command(flatten)]
    pub smtp: crate::notify::SmtpArgs,
    #[command(flatten)]
    pub notify: crate::notify::NotifyArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of directory users.
    #[arg(long, default_value_t = 5_000)]
    pub users: u64,
    /// Days of activity, ending now.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Seed of the generator: the same seed gives the same tenant.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Method events per user per day (the reference set: 1M users, 10M events in 30 days).
    #[arg(long, default_value_t = 1.0 / 3.0)]
    pub events_per_user_day: f64,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create a portal account.
    Add {
        name: String,
        /// global-administrator, security-administrator, security-reader or reports-reader.
        #[arg(long)]
        role: String,
        /// Read the password from standard input (one line); without it the
        /// account gets a printed one-time password.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change an account's role.
    SetRole {
        name: String,
        /// global-administrator, security-administrator, security-reader or reports-reader.
        role: String,
    },
    /// Disable an account and end its sessions.
    Disable { name: String },
    /// Enable a disabled account.
    Enable { name: String },
    /// Set a new password (from standard input, or a printed one-time password)
    /// and end the account's sessions.
    ResetPassword {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Lift a sign-in lock.
    Unlock { name: String },
    /// List the accounts.
    List,
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key and print it (once; only its hash is stored).
    Add {
        /// Who or what uses the key.
        name: String,
        /// Scopes: read (report data), ingest (live events), or both: --scope read,ingest.
        #[arg(long, value_delimiter = ',', required = true, value_parser = ["read", "ingest"])]
        scope: Vec<String>,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let url = DatabaseUrl::parse(&cli.database_url)?;
    match cli.command {
        Command::Migrate => {
            let mut conn = connect(&url)?;
            let applied = db::migrate(&mut conn)?;
            if applied.is_empty() {
                println!("{}: already up to date", url.redacted());
            } else {
                println!("{}: applied {}", url.redacted(), applied.join(", "));
            }
            Ok(())
        }
        Command::Demo(args) => {
            let mut conn = connect(&url)?;
            db::migrate(&mut conn)?;
            let options = DemoOptions {
                users: args.users,
                days: args.days,
                seed: args.seed,
                events_per_user_day: args.events_per_user_day,
                now: chrono::Utc::now().naive_utc(),
            };
            options.validate()?;
            let summary = demo::generate(&mut conn, &options, std::io::stderr().is_terminal())?;
            println!("{summary}");
            Ok(())
        }
        Command::Account(command) => {
            let mut conn = connect(&url)?;
            db::migrate(&mut conn)?;
            account_command(&mut conn, command)
        }
        Command::ApiKey(ApiKeyCommand::Add { name, scope }) => {
            let mut conn = connect(&url)?;
            db::migrate(&mut conn)?;
            let has = |s: &str| scope.iter().any(|x| x == s);
            let (key, secret) = service::api_keys::create_api_key(
                &mut conn,
                db::audit::COMMAND_LINE,
                &name,
                has("read"),
                has("ingest"),
            )?;
            eprintln!("created API key '{}' ({})", key.name, key.scopes_text());
            println!("{secret}");
            Ok(())
        }
        Command::Serve(args) => serve(url, *args),
        Command::Import(args) => {
            let mut conn = connect(&url)?;
            db::migrate(&mut conn)?;
            import_command(&mut conn, args)
        }
        Command::Export(args) => {
            let mut conn = connect(&url)?;
            db::migrate(&mut conn)?;
            let kind = FileKind::from_key(&args.kind).context("unknown export kind")?;
            let file = std::fs::File::create(&args.file)
                .with_context(|| format!("{}: cannot create the file", args.file.display()))?;
            let rows =
                crate::ingest::export::export(&mut conn, kind, std::io::BufWriter::new(file))?;
            println!(
                "export: {rows} {} rows written to {}",
                kind.key(),
                args.file.display()
            );
            Ok(())
        }
        Command::Sync(args) => sync_command(&url, args),
        Command::Notify(NotifyCommand::Test(args)) => notify_test(args),
        Command::GraphStandin(args) => {
            use crate::sync::standin::{
                Standin, Tenant, CLIENT_ID, CLIENT_SECRET, GROUP_ID, TENANT_ID,
            };
            let now = chrono::Utc::now().naive_utc();
            let tenant = Tenant::generate(args.users, now);
            let standin = Standin::start_on(&args.bind, tenant, args.page_size as usize)
                .with_context(|| format!("cannot listen on {}", args.bind))?;
            println!(
                "Graph stand-in with {} users at {}",
                args.users, standin.url
            );
            println!("export AUTHINSIGHTS_GRAPH_URL={}", standin.url);
            println!("export AUTHINSIGHTS_GRAPH_LOGIN_URL={}", standin.url);
            println!("export AUTHINSIGHTS_GRAPH_TENANT_ID={TENANT_ID}");
            println!("export AUTHINSIGHTS_GRAPH_CLIENT_ID={CLIENT_ID}");
            println!("export AUTHINSIGHTS_GRAPH_CLIENT_SECRET='{CLIENT_SECRET}'");
            println!("Its SSPR group is {GROUP_ID}: scope the SSPR policy to it (Admin › SSPR policy) to pull its members. Ctrl-C stops it.");
            loop {
                std::thread::park();
            }
        }
        Command::Prune(args) => {
            let mut conn = connect(&url)?;
            db::migrate(&mut conn)?;
            let days = db::retention::retention_days(&mut conn)?;
            let age = args
                .older_than
                .unwrap_or_else(|| chrono::Duration::days(i64::from(days)));
            let now = chrono::Utc::now().naive_utc();
            let cutoff = now - age;
            let pruned =
                service::retention::prune(&mut conn, db::audit::COMMAND_LINE, cutoff, now)?;
            println!(
                "prune: removed {} activities and {} method events that occurred before {} UTC",
                pruned.activities,
                pruned.events,
                cutoff.format("%Y-%m-%d %H:%M")
            );
            Ok(())
        }
    }
}

/// `import KIND FILE…`: a progress bar over the bytes read on a terminal, a
/// summary at the end; the first bad record stops it with nothing stored.
fn import_command(conn: &mut DbConnection, args: ImportArgs) -> anyhow::Result<()> {
    let kind = ImportKind::from_key(&args.kind).context("unknown import kind")?;
    let mut total = 0;
    let mut opened = Vec::new();
    for path in &args.files {
        let file = std::fs::File::open(path)
            .with_context(|| format!("{}: cannot open the file", path.display()))?;
        total += file.metadata().map(|m| m.len()).unwrap_or(0);
        opened.push((path.display().to_string(), file));
    }
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(total)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "import {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .context("progress bar style")?,
    );
    let files = opened
        .into_iter()
        .map(|(name, file)| ImportFile {
            name,
            reader: Box::new(std::io::BufReader::with_capacity(
                1 << 18,
                bar.wrap_read(file),
            )),
        })
        .collect();
    let bulk_load = db::is_sqlite(conn)
        && matches!(
            kind,
            ImportKind::Graph | ImportKind::File(FileKind::Activities)
        )
        && db::import_rows::event_tables_empty(conn)?;
    db::begin_bulk_load(conn, bulk_load)?;
    let request = ImportRequest {
        kind,
        source: ImportSource::CommandLine,
        actor: db::audit::COMMAND_LINE.to_string(),
        options: WriterOptions {
            bulk: true,
            register_on_success: false,
        },
        strict: args.strict,
    };
    let outcome = crate::service::imports::import(conn, &request, files);
    bar.finish_and_clear();
    db::end_bulk_load(conn, bulk_load)?;
    match outcome {
        Ok(done) => {
            print!("{}", done.summary);
            if !done.warnings.is_empty() {
                println!("{}", done.warnings.report());
            }
            let events = done.summary.events;
            let events = events.inserted + events.skipped;
            println!(
                "import {}: {} records, {} method events in {:.1} s ({:.0} method events/s)",
                done.import_id,
                done.records,
                events,
                done.seconds,
                events as f64 / done.seconds.max(1e-9)
            );
            Ok(())
        }
        Err(Stop::Invalid(e)) => {
            anyhow::bail!("import failed, nothing was stored: {e}")
        }
        Err(Stop::Cancelled) => anyhow::bail!("import failed, nothing was stored"),
        Err(Stop::Database(e)) if db::is_busy(&e) => anyhow::bail!(
            "import not started, nothing was stored: other changes were being written the whole time (another import?); run it again when they are done"
        ),
        Err(Stop::Database(e)) => {
            Err(anyhow::Error::new(e).context("import failed, nothing was stored: database error"))
        }
    }
}

fn parse_role(role: &str) -> anyhow::Result<Role> {
    Role::from_key(role).with_context(|| {
        format!(
            "unknown role '{role}': use global-administrator, security-administrator, security-reader or reports-reader"
        )
    })
}

/// One line of standard input, for `--password-stdin`.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    Ok(input.lines().next().unwrap_or("").to_string())
}

fn find_account(conn: &mut DbConnection, name: &str) -> anyhow::Result<Account> {
    db::accounts::find_by_username(conn, name)?
        .with_context(|| format!("there is no account named '{name}'"))
}

fn print_one_time(name: &str, password: &str) {
    println!();
    println!("  Sign in as:  {name}");
    println!("  Password:    {password}");
    println!("  (a one-time password: it must be changed at the first sign-in)");
    println!();
}

/// `account …`: the same changes as the Admin pages, audited as the command line.
fn account_command(conn: &mut DbConnection, command: AccountCommand) -> anyhow::Result<()> {
    let actor = db::audit::COMMAND_LINE;
    match command {
        AccountCommand::Add {
            name,
            role,
            password_stdin,
        } => {
            let role = parse_role(&role)?;
            let password = password_stdin.then(password_from_stdin).transpose()?;
            let (account, one_time) =
                service::accounts::add_account(conn, actor, &name, role, password.as_deref())?;
            println!("created account '{}' ({role})", account.username);
            if let Some(p) = one_time {
                print_one_time(&account.username, &p);
            }
        }
        AccountCommand::SetRole { name, role } => {
            let role = parse_role(&role)?;
            let account = find_account(conn, &name)?;
            service::accounts::set_role(conn, actor, &account, role)?;
            println!("'{name}' is now a {role}");
        }
        AccountCommand::Disable { name } => {
            let account = find_account(conn, &name)?;
            service::accounts::set_disabled(conn, actor, &account, true)?;
            println!("'{name}' is disabled; its sessions have ended");
        }
        AccountCommand::Enable { name } => {
            let account = find_account(conn, &name)?;
            service::accounts::set_disabled(conn, actor, &account, false)?;
            println!("'{name}' is enabled");
        }
        AccountCommand::ResetPassword {
            name,
            password_stdin,
        } => {
            let account = find_account(conn, &name)?;
            let password = password_stdin.then(password_from_stdin).transpose()?;
            let one_time =
                service::accounts::reset_password(conn, actor, &account, password.as_deref())?;
            println!("the password of '{name}' was reset; its sessions have ended");
            if let Some(p) = one_time {
                print_one_time(&name, &p);
            }
        }
        AccountCommand::Unlock { name } => {
            let account = find_account(conn, &name)?;
            service::accounts::unlock(conn, actor, &account)?;
            println!("'{name}' may sign in again");
        }
        AccountCommand::List => {
            println!("{:<32} {:<24} {:<9} last sign-in", "name", "role", "state");
            for a in db::accounts::list_accounts(conn)? {
                let role = Role::from_key(&a.role).map_or(a.role.clone(), |r| r.key().to_string());
                println!(
                    "{:<32} {:<24} {:<9} {}",
                    a.username,
                    role,
                    if a.disabled { "disabled" } else { "enabled" },
                    a.last_sign_in_at
                        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_else(|| "never".into())
                );
            }
        }
    }
    Ok(())
}

fn sync_command(url: &DatabaseUrl, args: SyncArgs) -> anyhow::Result<()> {
    use crate::sync::{GraphClient, SyncLock, SyncOptions, SyncResource};
    let settings = args.graph.settings()?;
    let mut conn = connect(url)?;
    db::migrate(&mut conn)?;
    let Some(_lock) = SyncLock::try_acquire(url)? else {
        anyhow::bail!(
            "another sync is running on this database (a portal's schedule, or another \
             `sync`); nothing was pulled, try again when it ends"
        );
    };
    let resources = if args.resources.is_empty() {
        SyncResource::ALL.to_vec()
    } else {
        SyncResource::ALL
            .into_iter()
            .filter(|r| args.resources.contains(r))
            .collect()
    };
    let options = SyncOptions {
        resources,
        since: args.since,
        dry_run: args.dry_run,
        trigger: db::audit::COMMAND_LINE.to_string(),
    };
    let who = match settings.credential {
        crate::sync::settings::Credential::Token(_) => {
            format!("{} with an access token", settings.graph_url)
        }
        _ => format!(
            "tenant {}, app {} ({}), {}",
            settings.tenant_id,
            settings.client_id,
            settings.credential_kind(),
            settings.graph_url
        ),
    };
    eprintln!(
        "sync: {who}{}",
        if args.dry_run {
            ", dry run: nothing will be stored"
        } else {
            ""
        }
    );
    let mut client = GraphClient::new(settings);
    let mut progress = SyncBar::new();
    let report = crate::sync::sync(&mut conn, &mut client, &options, &mut progress)?;
    if report.resumed {
        println!(
            "sync: took up run {} where it was cut short",
            report.run_id.unwrap_or_default()
        );
    }
    println!("{report}");
    if !report.succeeded() {
        anyhow::bail!(
            "sync did not store everything; what was stored stays stored:\n{}",
            report.problems()
        );
    }
    Ok(())
}

/// The sync's progress on a terminal: pages and bytes per resource.
struct SyncBar {
    bar: Option<indicatif::ProgressBar>,
    terminal: bool,
}

impl SyncBar {
    fn new() -> SyncBar {
        SyncBar {
            bar: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }
}

impl crate::sync::Progress for SyncBar {
    fn begin(&mut self, resource: crate::sync::SyncResource) {
        let bar = if self.terminal {
            indicatif::ProgressBar::new_spinner()
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar.set_message(format!("{}: asking Graph", resource.key()));
        self.bar = Some(bar);
    }

    fn page(&mut self, resource: crate::sync::SyncResource, pages: u64, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{}: {pages} page{} read ({:.1} MiB)",
                resource.key(),
                if pages == 1 { "" } else { "s" },
                bytes as f64 / 1_048_576.0
            ));
        }
    }

    fn storing(&mut self, resource: crate::sync::SyncResource) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{}: storing", resource.key()));
        }
    }

    fn end(&mut self, _: crate::sync::SyncResource) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// `notify test --to …`: one mail now, and what came of it in words.
fn notify_test(args: NotifyTestArgs) -> anyhow::Result<()> {
    let smtp = args
        .smtp
        .settings()
        .context("the SMTP settings are not usable")?
        .context(
            "no SMTP server: set AUTHINSIGHTS_SMTP_HOST (or --smtp-host) and \
             AUTHINSIGHTS_SMTP_FROM (see docs/notifications.md)",
        )?;
    println!(
        "notify test: sending a test message to {} through {} as {}",
        args.to.join(", "),
        smtp.describe(),
        smtp.from
    );
    crate::notify::send_test_mail(&smtp, &args.to)
        .map_err(|e| anyhow::anyhow!("the test message was not sent: {e}"))?;
    println!("notify test: the SMTP server accepted the message");
    Ok(())
}

fn connect(url: &DatabaseUrl) -> anyhow::Result<DbConnection> {
    url.connect()
        .with_context(|| format!("cannot open the database {}", url.redacted()))
}

fn serve(url: DatabaseUrl, args: ServeArgs) -> anyhow::Result<()> {
    if let Some(public) = &args.public_url {
        let parsed = url::Url::parse(public)
            .with_context(|| format!("--public-url {public:?} is not an address"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            anyhow::bail!("--public-url {public:?} is not an http:// or https:// address");
        }
    }
    {
        let mut conn = connect(&url)?;
        let applied = db::migrate(&mut conn)?;
        if !applied.is_empty() {
            tracing::info!("applied migrations {}", applied.join(", "));
        }
        if args.demo {
            prepare_demo(&mut conn, args.demo_users)?;
        }
    }
    let graph = if args.graph.is_configured() {
        Some(
            args.graph
                .settings()
                .context("the Microsoft Graph connection is not usable")?,
        )
    } else {
        None
    };
    if args.sync_every.is_some() && graph.is_none() {
        anyhow::bail!(
            "--sync-every needs a Microsoft Graph connection: set AUTHINSIGHTS_GRAPH_TENANT_ID, \
             AUTHINSIGHTS_GRAPH_CLIENT_ID and a credential (see docs/graph-sync.md)"
        );
    }
    let smtp = args
        .smtp
        .settings()
        .context("the SMTP settings are not usable")?;
    if smtp.is_none() {
        tracing::info!("no SMTP server configured: mail waits in the outbox, webhooks go");
    }
    let listener =
        TcpListener::bind(&args.bind).with_context(|| format!("cannot listen on {}", args.bind))?;
    let pool = db::pool(&url, args.pool_size);
    let state = AppState::new(pool.clone(), url.backend_name(), web_settings(&args));
    let scheduler = crate::sync::schedule::Scheduler::new(
        graph,
        url.clone(),
        pool.clone(),
        args.sync_every,
        state.metrics.syncs.clone(),
    );
    let notifier = crate::notify::Notifier::start(
        pool,
        crate::notify::NotifySettings::from_args(&args.notify, smtp),
        state.metrics.notifications.clone(),
    );
    let state = state.with_sync(scheduler).with_notify(notifier.clone());
    crate::web::notices::Notices::new(
        state.pool.clone(),
        state.counts.clone(),
        state.settings.subscriptions.clone(),
        Some(std::sync::Arc::new(move || notifier.wake())),
    )
    .start();
    println!(
        "authinsights is serving http://{} from {}",
        listener.local_addr()?,
        url.redacted()
    );
    actix_web::rt::System::new()
        .block_on(async move { startup::run(listener, state, args.workers)?.await })?;
    Ok(())
}

fn web_settings(args: &ServeArgs) -> WebSettings {
    let mut settings = WebSettings::from_env();
    let security = &mut settings.security;
    security.session_idle = chrono::Duration::minutes(args.session_idle_minutes.into());
    security.session_absolute = chrono::Duration::hours(args.session_max_hours.into());
    security.secure_cookies = args.secure_cookies;
    security.trust_forwarded_for = args.trust_forwarded_for;
    security.lock = chrono::Duration::minutes(args.sign_in_lock_minutes.into());
    settings.downloads.max_at_once = args.downloads.map(|n| n as usize);
    settings.downloads.idle = std::time::Duration::from_secs(args.download_idle_seconds.into());
    let subscriptions = &mut settings.subscriptions;
    subscriptions.public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.bind))
        .trim_end_matches('/')
        .to_string();
    subscriptions.attach_max_bytes = args.attach_max_bytes;
    subscriptions.every = std::time::Duration::from_secs(args.check_subscriptions_seconds);
    settings
}

/// `serve --demo`: fill an empty database and print a first sign-in.
fn prepare_demo(conn: &mut DbConnection, users: u64) -> anyhow::Result<()> {
    if db::directory::is_empty(conn)? {
        let options = DemoOptions {
            users,
            days: 30,
            seed: 1,
            events_per_user_day: 1.0 / 3.0,
            now: chrono::Utc::now().naive_utc(),
        };
        let summary = demo::generate(conn, &options, std::io::stderr().is_terminal())?;
        println!("{summary}");
    } else {
        println!("the database already holds a directory: no demo tenant generated");
    }
    if db::accounts::count_accounts(conn)? == 0 {
        let (_, one_time) = service::accounts::add_account(
            conn,
            db::audit::COMMAND_LINE,
            "admin",
            Role::GlobalAdministrator,
            None,
        )?;
        if let Some(password) = one_time {
            print_one_time("admin", &password);
        }
    }
    Ok(())
}
