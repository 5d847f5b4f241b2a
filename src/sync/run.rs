//! One sync: each resource pulled whole from Graph (every page, kept on
//! disk), then stored as one import, so that a resource is stored whole or
//! not at all while the ones before it stay stored. A run is recorded
//! resource by resource; a run cut short (the process ended) is taken up at
//! its first resource not stored.

use super::client::{GraphClient, GraphError, Page, Traffic};
use crate::db::directory::load_policy;
use crate::db::imports::ImportSource;
use crate::db::syncs::{self, ResourceResult};
use crate::db::{self, DbConnection, DbError};
use crate::domain::Scope;
use crate::ingest::import::{ImportExtras, ImportFile, ImportKind, ImportRequest};
use crate::ingest::records::Stop;
use crate::ingest::writer::WriterOptions;
use crate::service::imports::import_with;
use chrono::{Duration, NaiveDateTime, SubsecRound, Utc};
use std::fmt;
use std::io::Write;
use std::time::Instant;

/// What a sync pulls, in the order it pulls them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum SyncResource {
    /// `GET /v1.0/users`: who is in the directory, enabled, a guest.
    Users,
    /// The members of the SSPR policy's group, nested groups included.
    Members,
    /// `GET /v1.0/reports/authenticationMethods/userRegistrationDetails`.
    RegistrationDetails,
    /// `GET /v1.0/auditLogs/directoryAudits`: password resets and
    /// security-info registrations since the last sync.
    Audits,
    /// `GET /beta/reports/authenticationMethods/userEventsSummary`.
    EventsSummary,
}

impl SyncResource {
    pub const ALL: [SyncResource; 5] = [
        SyncResource::Users,
        SyncResource::Members,
        SyncResource::RegistrationDetails,
        SyncResource::Audits,
        SyncResource::EventsSummary,
    ];

    pub fn key(self) -> &'static str {
        match self {
            SyncResource::Users => "users",
            SyncResource::Members => "members",
            SyncResource::RegistrationDetails => "registration-details",
            SyncResource::Audits => "audits",
            SyncResource::EventsSummary => "events-summary",
        }
    }

    pub fn from_key(key: &str) -> Option<SyncResource> {
        SyncResource::ALL.into_iter().find(|r| r.key() == key)
    }

    /// What it is, in words, for pages.
    pub fn title(self) -> &'static str {
        match self {
            SyncResource::Users => "Users (enabled, member or guest)",
            SyncResource::Members => "Members of the SSPR policy's group",
            SyncResource::RegistrationDetails => "Registration details",
            SyncResource::Audits => "Audit log: password resets and registrations",
            SyncResource::EventsSummary => "Registration and reset events (beta)",
        }
    }
}

/// The audit log is asked again from this long before the last sync asked
/// it, for entries that arrive late.
pub const AUDIT_OVERLAP: Duration = Duration::hours(1);
/// Audit entries are asked from this long before the window, so that every
/// flow that began in the window is read whole (a flow lasts minutes).
pub const FLOW_MARGIN: Duration = Duration::hours(1);
/// The first sync asks for the audit log of this many days (its retention
/// with Entra ID P1 or P2).
pub const FIRST_AUDIT_DAYS: i64 = 30;
/// A run cut short longer ago than this is not taken up: its data is old.
const RESUME_WITHIN: Duration = Duration::hours(24);

/// `Prefer` for lists whose enums grow (method names): the real names
/// rather than `unknownFutureValue`.
const PREFER_UNKNOWN_ENUMS: &str = "include-unknown-enum-members";

/// How a sync runs.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Which resources, in [`SyncResource::ALL`]'s order.
    pub resources: Vec<SyncResource>,
    /// Audit entries from this time, rather than since the last sync.
    pub since: Option<NaiveDateTime>,
    /// Pull and check everything, store nothing.
    pub dry_run: bool,
    /// Who or what started it: "command line", "schedule", an account.
    pub trigger: String,
}

/// How one resource ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Stored,
    /// A dry run: it would have been stored.
    Checked,
    /// Stored by the run this one takes up.
    AlreadyStored,
    Skipped(String),
    Failed(String),
}

impl Outcome {
    fn key(&self) -> &'static str {
        match self {
            Outcome::Stored | Outcome::Checked | Outcome::AlreadyStored => "stored",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// One resource of a run.
#[derive(Debug, Clone)]
pub struct ResourceReport {
    pub resource: SyncResource,
    pub outcome: Outcome,
    pub pages: u64,
    pub records: u64,
    pub inserted: u64,
    pub updated: u64,
    pub warnings: u64,
    pub traffic: Traffic,
    pub seconds: f64,
    pub import_id: Option<i64>,
}

/// What a sync did.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// The run's row (none for a dry run).
    pub run_id: Option<i64>,
    /// The run was cut short earlier and taken up by this one.
    pub resumed: bool,
    pub resources: Vec<ResourceReport>,
    /// Why the run stopped before its last resource, if it did.
    pub stopped: Option<String>,
    pub traffic: Traffic,
    pub seconds: f64,
}

impl SyncReport {
    /// Every resource stored (or skipped for a reason) and none failed.
    pub fn succeeded(&self) -> bool {
        self.stopped.is_none()
            && self
                .resources
                .iter()
                .all(|r| !matches!(r.outcome, Outcome::Failed(_)))
    }

    /// The failures in words, one per line.
    pub fn problems(&self) -> String {
        let mut lines: Vec<String> = self
            .resources
            .iter()
            .filter_map(|r| match &r.outcome {
                Outcome::Failed(why) => Some(format!("{}: {why}", r.resource.key())),
                _ => None,
            })
            .collect();
        if let Some(stop) = &self.stopped {
            lines.push(format!("stopped: {stop}"));
        }
        lines.join("\n")
    }
}

impl fmt::Display for SyncReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<22} {:>6} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8}  result",
            "resource", "pages", "records", "inserted", "updated", "warnings", "requests", "time"
        )?;
        for r in &self.resources {
            let result = match &r.outcome {
                Outcome::Stored => "stored".to_string(),
                Outcome::Checked => "checked (dry run: nothing stored)".to_string(),
                Outcome::AlreadyStored => "stored by the run taken up".to_string(),
                Outcome::Skipped(why) => format!("skipped: {why}"),
                Outcome::Failed(why) => format!("FAILED, nothing of it stored: {why}"),
            };
            writeln!(
                f,
                "{:<22} {:>6} {:>9} {:>9} {:>9} {:>8} {:>8} {:>7.1}s  {result}",
                r.resource.key(),
                r.pages,
                r.records,
                r.inserted,
                r.updated,
                r.warnings,
                r.traffic.requests,
                r.seconds,
            )?;
        }
        if let Some(stop) = &self.stopped {
            writeln!(f, "stopped: {stop}")?;
        }
        write!(
            f,
            "{} requests, {} retried ({:.1} s waited), {:.1} s in all",
            self.traffic.requests,
            self.traffic.retries,
            self.traffic.waited.as_secs_f64(),
            self.seconds
        )
    }
}

/// Shows a resource's pages as they arrive (a progress bar on a terminal).
pub trait Progress {
    fn begin(&mut self, resource: SyncResource);
    fn page(&mut self, resource: SyncResource, pages: u64, bytes: u64);
    fn storing(&mut self, resource: SyncResource);
    fn end(&mut self, resource: SyncResource);
}

/// No progress shown.
pub struct Quiet;

impl Progress for Quiet {
    fn begin(&mut self, _: SyncResource) {}
    fn page(&mut self, _: SyncResource, _: u64, _: u64) {}
    fn storing(&mut self, _: SyncResource) {}
    fn end(&mut self, _: SyncResource) {}
}

/// Why a sync stopped: the database failed (Graph's failures are in the report).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("database error: {0}")]
    Database(#[from] DbError),
}

/// Runs one sync. The caller holds the [`super::lock::SyncLock`].
pub fn sync(
    conn: &mut DbConnection,
    client: &mut GraphClient,
    options: &SyncOptions,
    progress: &mut dyn Progress,
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let now = || Utc::now().naive_utc().trunc_subsecs(6);
    let mut report = SyncReport {
        run_id: None,
        resumed: false,
        resources: Vec::new(),
        stopped: None,
        traffic: Traffic::default(),
        seconds: 0.0,
    };
    // A run cut short is taken up: what it stored stays stored.
    let mut stored_before = Vec::new();
    if !options.dry_run {
        let latest = syncs::latest_run(conn)?;
        let run_id = match latest {
            Some(run) if run.outcome.is_none() && run.started_at > now() - RESUME_WITHIN => {
                report.resumed = true;
                stored_before = syncs::resources_of(conn, run.id)?
                    .into_iter()
                    .filter(|r| r.outcome.as_deref() == Some("stored"))
                    .filter_map(|r| SyncResource::from_key(&r.resource))
                    .collect();
                run.id
            }
            Some(run) if run.outcome.is_none() => {
                db::write::<_, DbError, _>(conn, |conn| {
                    syncs::finish_run(
                        conn,
                        run.id,
                        "failed",
                        "cut short (the process ended) and too old to take up",
                        now(),
                    )
                })?;
                start_run(conn, &options.trigger, now())?
            }
            _ => start_run(conn, &options.trigger, now())?,
        };
        report.run_id = Some(run_id);
    }
    for &resource in &options.resources {
        if stored_before.contains(&resource) {
            report.resources.push(ResourceReport {
                resource,
                outcome: Outcome::AlreadyStored,
                pages: 0,
                records: 0,
                inserted: 0,
                updated: 0,
                warnings: 0,
                traffic: Traffic::default(),
                seconds: 0.0,
                import_id: None,
            });
            continue;
        }
        let before = client.traffic();
        let began = Instant::now();
        if let Some(run_id) = report.run_id {
            db::write::<_, DbError, _>(conn, |conn| {
                syncs::start_resource(conn, run_id, resource.key(), now())
            })?;
        }
        progress.begin(resource);
        let pulled = pull(conn, client, resource, options, progress);
        progress.end(resource);
        let after = client.traffic();
        let traffic = Traffic {
            requests: after.requests - before.requests,
            retries: after.retries - before.retries,
            waited: after.waited - before.waited,
        };
        let (done, fatal) = match pulled {
            Ok(done) => (done, None),
            Err(Pulled::Graph(e)) => {
                let fatal = e.is_fatal().then(|| e.to_string());
                (PullDone::failed(e.to_string()), fatal)
            }
            Err(Pulled::Invalid(why)) => (PullDone::failed(why), None),
            Err(Pulled::Database(e)) => return Err(SyncError::Database(e)),
            Err(Pulled::Other(why)) => (PullDone::failed(why), None),
        };
        let entry = ResourceReport {
            resource,
            outcome: done.outcome.clone(),
            pages: done.pages,
            records: done.records,
            inserted: done.inserted,
            updated: done.updated,
            warnings: done.warnings,
            traffic,
            seconds: began.elapsed().as_secs_f64(),
            import_id: done.import_id,
        };
        if let Some(run_id) = report.run_id {
            let message = match &done.outcome {
                Outcome::Failed(why) | Outcome::Skipped(why) => why.clone(),
                _ => String::new(),
            };
            let row = ResourceResult {
                outcome: done.outcome.key(),
                pages: entry.pages as i64,
                records: entry.records as i64,
                inserted: entry.inserted as i64,
                updated: entry.updated as i64,
                warnings: entry.warnings as i64,
                requests: traffic.requests as i64,
                retries: traffic.retries as i64,
                import_id: done.import_id,
                window_start: done.window_start,
                requested_at: done.requested_at,
                message,
            };
            db::write::<_, DbError, _>(conn, |conn| {
                syncs::finish_resource(conn, run_id, resource.key(), &row, now())
            })?;
        }
        report.resources.push(entry);
        if let Some(fatal) = fatal {
            report.stopped = Some(fatal);
            break;
        }
    }
    report.traffic = client.traffic();
    report.seconds = started.elapsed().as_secs_f64();
    if let Some(run_id) = report.run_id {
        let (outcome, message) = if report.succeeded() {
            (syncs::SUCCEEDED, String::new())
        } else {
            (syncs::FAILED, report.problems())
        };
        db::write::<_, DbError, _>(conn, |conn| {
            syncs::finish_run(conn, run_id, outcome, &message, now())
        })?;
    }
    Ok(report)
}

fn start_run(conn: &mut DbConnection, trigger: &str, now: NaiveDateTime) -> Result<i64, DbError> {
    db::write::<_, DbError, _>(conn, |conn| syncs::start_run(conn, trigger, now))
}

/// What pulling one resource came to.
struct PullDone {
    outcome: Outcome,
    pages: u64,
    records: u64,
    inserted: u64,
    updated: u64,
    warnings: u64,
    import_id: Option<i64>,
    window_start: Option<NaiveDateTime>,
    requested_at: Option<NaiveDateTime>,
}

impl PullDone {
    fn failed(why: String) -> PullDone {
        PullDone::with(Outcome::Failed(why))
    }

    fn with(outcome: Outcome) -> PullDone {
        PullDone {
            outcome,
            pages: 0,
            records: 0,
            inserted: 0,
            updated: 0,
            warnings: 0,
            import_id: None,
            window_start: None,
            requested_at: None,
        }
    }
}

enum Pulled {
    Graph(GraphError),
    Invalid(String),
    Database(DbError),
    Other(String),
}

impl From<GraphError> for Pulled {
    fn from(e: GraphError) -> Self {
        Pulled::Graph(e)
    }
}

impl From<DbError> for Pulled {
    fn from(e: DbError) -> Self {
        Pulled::Database(e)
    }
}

/// One list to read: its path under the Graph address and its `Prefer`.
struct Listing {
    path: String,
    prefer: Option<&'static str>,
    /// A single entity, not a list (the group before its members).
    single: bool,
}

/// Pages of one resource, kept on disk until they are stored.
struct Spool {
    dir: tempfile::TempDir,
    files: Vec<(String, std::path::PathBuf)>,
    bytes: u64,
}

impl Spool {
    fn new() -> Result<Spool, Pulled> {
        let dir = tempfile::Builder::new()
            .prefix("authinsights-sync-")
            .tempdir()
            .map_err(|e| Pulled::Other(format!("no temporary folder for the pages: {e}")))?;
        Ok(Spool {
            dir,
            files: Vec::new(),
            bytes: 0,
        })
    }

    fn keep(&mut self, name: String, page: &Page) -> Result<(), Pulled> {
        let path = self
            .dir
            .path()
            .join(format!("page-{:06}.json", self.files.len() + 1));
        let mut file = std::fs::File::create(&path)
            .map_err(|e| Pulled::Other(format!("a page cannot be kept on disk: {e}")))?;
        file.write_all(&page.body)
            .map_err(|e| Pulled::Other(format!("a page cannot be kept on disk: {e}")))?;
        self.bytes += page.body.len() as u64;
        self.files.push((name, path));
        Ok(())
    }
}

fn pull(
    conn: &mut DbConnection,
    client: &mut GraphClient,
    resource: SyncResource,
    options: &SyncOptions,
    progress: &mut dyn Progress,
) -> Result<PullDone, Pulled> {
    let requested_at = Utc::now().naive_utc().trunc_subsecs(0);
    let mut window = None;
    let listings = match resource {
        SyncResource::Users => vec![Listing {
            path: "/v1.0/users?$select=id,displayName,userPrincipalName,accountEnabled,userType&$top=999"
                .into(),
            prefer: None,
            single: false,
        }],
        SyncResource::Members => {
            let policy = load_policy(conn).map_err(|e| Pulled::Other(e.to_string()))?;
            let Scope::Selected { group_id } = &policy.scope else {
                return Ok(PullDone::with(Outcome::Skipped(
                    "the SSPR policy is not scoped to a group (Admin › SSPR policy)".into(),
                )));
            };
            let group = encode(group_id);
            vec![
                Listing {
                    path: format!("/v1.0/groups/{group}?$select=id,displayName"),
                    prefer: None,
                    single: true,
                },
                Listing {
                    // SSPR reaches the members of nested groups too.
                    path: format!("/v1.0/groups/{group}/transitiveMembers?$select=id&$top=999"),
                    prefer: None,
                    single: false,
                },
            ]
        }
        SyncResource::RegistrationDetails => vec![Listing {
            path: "/v1.0/reports/authenticationMethods/userRegistrationDetails".into(),
            prefer: Some(PREFER_UNKNOWN_ENUMS),
            single: false,
        }],
        SyncResource::Audits => {
            let from = match options.since {
                Some(since) => since,
                None => match syncs::last_stored(conn, resource.key())? {
                    Some(row) => row.requested_at.unwrap_or(row.started_at) - AUDIT_OVERLAP,
                    None => requested_at - Duration::days(FIRST_AUDIT_DAYS),
                },
            };
            window = Some(from);
            let asked_from = (from - FLOW_MARGIN).format("%Y-%m-%dT%H:%M:%SZ");
            [
                crate::ingest::graph::SSPR_SERVICE,
                crate::ingest::graph::AUTHENTICATION_METHODS_SERVICE,
            ]
            .iter()
            .map(|service| Listing {
                path: format!(
                    "/v1.0/auditLogs/directoryAudits?$filter={}&$orderby=activityDateTime",
                    encode(&format!(
                        "loggedByService eq '{service}' and activityDateTime ge {asked_from}"
                    ))
                ),
                prefer: None,
                single: false,
            })
            .collect()
        }
        SyncResource::EventsSummary => vec![Listing {
            path: "/beta/reports/authenticationMethods/userEventsSummary".into(),
            prefer: Some(PREFER_UNKNOWN_ENUMS),
            single: false,
        }],
    };
    let mut spool = Spool::new()?;
    for listing in &listings {
        if listing.single {
            let page = client.page(&listing.path, listing.prefer)?;
            let name = format!("{} (the group)", resource.key());
            spool.keep(name, &page)?;
            progress.page(resource, spool.files.len() as u64, spool.bytes);
            continue;
        }
        let mut failed = None;
        client
            .list(&listing.path, listing.prefer, |page| {
                let name = format!("{}, page {}", resource.key(), spool.files.len() + 1);
                if let Err(e) = spool.keep(name, &page) {
                    failed = Some(e);
                    return Err(GraphError::Refused(String::new()));
                }
                progress.page(resource, spool.files.len() as u64, spool.bytes);
                Ok(())
            })
            .or_else(|e| match failed.take() {
                Some(_) => Ok(()),
                None => Err(e),
            })?;
        if let Some(e) = failed {
            return Err(e);
        }
    }
    progress.storing(resource);
    let pages = spool.files.len() as u64;
    let mut files = Vec::with_capacity(spool.files.len());
    for (name, path) in &spool.files {
        let file = std::fs::File::open(path)
            .map_err(|e| Pulled::Other(format!("a kept page cannot be read: {e}")))?;
        files.push(ImportFile {
            name: name.clone(),
            reader: Box::new(std::io::BufReader::with_capacity(1 << 16, file)),
        });
    }
    let request = ImportRequest {
        kind: ImportKind::Graph,
        source: ImportSource::Sync,
        actor: options.trigger.clone(),
        options: WriterOptions {
            bulk: false,
            register_on_success: false,
        },
        strict: false,
    };
    let extras = ImportExtras {
        dry_run: options.dry_run,
        flows_from: window,
    };
    match import_with(conn, &request, extras, files) {
        Ok(done) => {
            let totals = done.summary.totals();
            Ok(PullDone {
                outcome: if options.dry_run {
                    Outcome::Checked
                } else {
                    Outcome::Stored
                },
                pages,
                records: done.records,
                inserted: totals.inserted,
                updated: totals.updated + totals.removed,
                warnings: done.warnings.total,
                import_id: (!options.dry_run).then_some(done.import_id),
                window_start: window,
                requested_at: Some(requested_at),
            })
        }
        Err(Stop::Invalid(e)) => Err(Pulled::Invalid(format!(
            "Graph sent what the import refuses: {e}"
        ))),
        Err(Stop::Database(e)) => Err(Pulled::Database(e)),
        Err(Stop::Cancelled) => Err(Pulled::Other("the import was stopped".into())),
    }
}

/// A value in a query or a path, percent-encoded (spaces as `%20`).
fn encode(text: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b':');
    utf8_percent_encode(text, KEEP).to_string()
}
