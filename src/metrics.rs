//! The portal's metrics, for Prometheus to read at `GET /metrics` (see
//! docs/operations.md for every family): one registry per running portal,
//! filled by the web layer (requests, downloads, imports and ingest), the
//! pool (waits for a connection) and the sync schedule, and at each scrape
//! with what only the database knows (the data version, the last successful
//! import, ingest and sync, which all instances on one database agree on).
//!
//! Recording is cheap enough for every request: a counter or gauge is an
//! atomic; a labelled family is a read lock and a hash lookup on a label set
//! of `&'static str`s and numbers, so nothing is allocated once a series
//! exists; a histogram takes its own short lock.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Every family's name begins with this (and `_`).
pub const PREFIX: &str = "authinsights";

/// The `Content-Type` of [`Metrics::render`]: Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Upper bounds of the request-duration buckets, in seconds: from half a
/// millisecond (a cached overview) to ten seconds (a large upload).
const REQUEST_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds of the pool's checkout buckets, in seconds: an idle
/// connection is checked in well under a millisecond; the pool gives up
/// after three seconds.
const CHECKOUT_BUCKETS: [f64; 11] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0, 3.0,
];

/// One series of the HTTP families.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct HttpLabels {
    /// The pattern of the route the router matched (`/users/{id}`), never
    /// the requested path; [`UNMATCHED`] when none did.
    pub route: &'static str,
    pub method: &'static str,
    pub status: u16,
}

/// How a run (an upload, an ingest batch, a sync) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Stored.
    Success,
    /// Refused for what was sent (an invalid file or batch): nothing stored.
    Rejected,
    /// The portal or a service it needs failed (the database, Graph):
    /// nothing, or not everything, stored.
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Success, Outcome::Rejected, Outcome::Failed];

    pub fn key(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// Runs of one kind (imports, ingest batches or syncs) through this
/// instance, and when the last one succeeded on any instance.
#[derive(Debug, Clone)]
pub struct Runs {
    runs: Family<OutcomeLabels, Counter>,
    stored: Counter,
    last_success: Gauge,
}

impl Runs {
    /// Runs that end with one of `outcomes`.
    fn new(outcomes: &[Outcome]) -> Runs {
        let runs = Family::<OutcomeLabels, Counter>::default();
        // Every outcome exists from the start, at 0, so that a rate over
        // it is defined before the first failure.
        for &outcome in outcomes {
            drop(runs.get_or_create(&OutcomeLabels {
                outcome: outcome.key(),
            }));
        }
        Runs {
            runs,
            stored: Counter::default(),
            last_success: Gauge::default(),
        }
    }

    /// One run ended; `stored` counts what it stored (0 unless a success).
    pub fn record(&self, outcome: Outcome, stored: u64) {
        self.runs
            .get_or_create(&OutcomeLabels {
                outcome: outcome.key(),
            })
            .inc();
        self.stored.inc_by(stored);
    }

    /// Registers the three families: `what` names them, `help` says what
    /// a run is, what it stores and what the last success was.
    fn register(&self, registry: &mut Registry, what: [&str; 3], help: [&str; 3]) {
        let [kind, runs, stored] = what;
        let [runs_help, stored_help, last_help] = help;
        registry.register(
            format!("{kind}_{runs}"),
            format!("{runs_help} handled by this instance, by outcome"),
            self.runs.clone(),
        );
        registry.register(
            format!("{kind}_{stored}"),
            format!("{stored_help} stored by this instance"),
            self.stored.clone(),
        );
        registry.register(
            format!("{kind}_last_success_timestamp_seconds"),
            format!("When {last_help} ended, on any instance (Unix time; 0: never)"),
            self.last_success.clone(),
        );
    }
}

/// The pool's checkouts, recorded by the pool itself (`db::pool`).
/// What became of one attempt to send a message of the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    Sent,
    /// Failed; it is tried again later.
    Retry,
    /// Failed for the last time: given up.
    Failed,
}

impl Delivery {
    pub const ALL: [Delivery; 3] = [Delivery::Sent, Delivery::Retry, Delivery::Failed];

    pub fn key(self) -> &'static str {
        match self {
            Delivery::Sent => "sent",
            Delivery::Retry => "retry",
            Delivery::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DeliveryLabels {
    channel: &'static str,
    outcome: &'static str,
}

/// The attempts of this instance's notify worker, by channel and outcome.
#[derive(Debug, Clone, Default)]
pub struct Notifications {
    attempts: Family<DeliveryLabels, Counter>,
}

impl Notifications {
    /// Every series of `channels` at 0 from the start.
    fn new(channels: &[&'static str]) -> Notifications {
        let notifications = Notifications::default();
        for &channel in channels {
            for outcome in Delivery::ALL {
                drop(notifications.attempts.get_or_create(&DeliveryLabels {
                    channel,
                    outcome: outcome.key(),
                }));
            }
        }
        notifications
    }

    pub fn record(&self, channel: &'static str, outcome: Delivery) {
        self.attempts
            .get_or_create(&DeliveryLabels {
                channel,
                outcome: outcome.key(),
            })
            .inc();
    }
}

#[derive(Debug, Clone)]
pub struct PoolCheckouts {
    waited: Histogram,
    timeouts: Counter,
}

impl Default for PoolCheckouts {
    fn default() -> Self {
        PoolCheckouts {
            waited: Histogram::new(CHECKOUT_BUCKETS),
            timeouts: Counter::default(),
        }
    }
}

impl PoolCheckouts {
    /// A connection was handed out after `waited`.
    pub fn checked_out(&self, waited: Duration) {
        self.waited.observe(waited.as_secs_f64());
    }

    /// No connection came within the pool's timeout.
    pub fn timed_out(&self) {
        self.timeouts.inc();
    }
}

/// What the database knows, read at each scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoredState {
    pub data_version: i64,
    pub data_changed_at: i64,
    /// Unix seconds of the last successful import (file or upload), ingest
    /// batch and sync; 0 when there was none.
    pub last_import: i64,
    pub last_ingest: i64,
    pub last_sync: i64,
    /// Messages of the outbox waiting to be sent.
    pub notifications_pending: i64,
    /// Messages of the outbox given up.
    pub notifications_failed: i64,
    /// Subscriptions and alerts that run, and those paused (by their owner,
    /// or by the portal when the owner or the view stopped working).
    pub subscriptions_active: i64,
    pub subscriptions_paused: i64,
    /// Alerts whose rule holds now.
    pub alerts_firing: i64,
}

/// The pool's connections at the moment of a scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUsage {
    pub in_use: i64,
    pub idle: i64,
    pub max: i64,
}

/// The metrics of one running portal.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<HttpLabels, Counter>,
    durations: Family<HttpLabels, Histogram, fn() -> Histogram>,
    pool_in_use: Gauge,
    pool_idle: Gauge,
    pool_max: Gauge,
    downloads: Gauge,
    pub imports: Runs,
    pub ingest: Runs,
    pub syncs: Runs,
    /// The notify worker's attempts (`channel`: email, webhook).
    pub notifications: Notifications,
    notifications_pending: Gauge,
    notifications_failed: Gauge,
    subscriptions_active: Gauge,
    subscriptions_paused: Gauge,
    alerts_firing: Gauge,
    data_version: Gauge,
    data_changed: Gauge,
}

fn request_histogram() -> Histogram {
    Histogram::new(REQUEST_BUCKETS)
}

fn unix_seconds(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Metrics {
    /// A registry with every family, the pool's checkouts among them.
    pub fn new(checkouts: &PoolCheckouts) -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::with_prefix(PREFIX),
            requests: Family::default(),
            durations: Family::new_with_constructor(request_histogram),
            pool_in_use: Gauge::default(),
            pool_idle: Gauge::default(),
            pool_max: Gauge::default(),
            downloads: Gauge::default(),
            imports: Runs::new(&Outcome::ALL),
            ingest: Runs::new(&Outcome::ALL),
            // A sync reads from Graph: nothing is sent to it to refuse.
            syncs: Runs::new(&[Outcome::Success, Outcome::Failed]),
            notifications: Notifications::new(&["email", "webhook"]),
            notifications_pending: Gauge::default(),
            notifications_failed: Gauge::default(),
            subscriptions_active: Gauge::default(),
            subscriptions_paused: Gauge::default(),
            alerts_firing: Gauge::default(),
            data_version: Gauge::default(),
            data_changed: Gauge::default(),
        };
        let registry = &mut metrics.registry;
        registry.register(
            "http_requests",
            "HTTP requests answered, by route pattern, method and status",
            metrics.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response's head (a download's \
             rows stream after), by route pattern, method and status",
            metrics.durations.clone(),
        );
        registry.register(
            "db_pool_connections_in_use",
            "Database connections of the pool checked out at the scrape",
            metrics.pool_in_use.clone(),
        );
        registry.register(
            "db_pool_connections_idle",
            "Database connections of the pool open and idle at the scrape",
            metrics.pool_idle.clone(),
        );
        registry.register(
            "db_pool_connections_max",
            "The most connections the pool opens (serve --pool-size)",
            metrics.pool_max.clone(),
        );
        registry.register(
            "db_pool_checkout_duration_seconds",
            "Time to get a connection from the pool: waiting for a free one, \
             opening one, and checking it",
            checkouts.waited.clone(),
        );
        registry.register(
            "db_pool_checkout_timeouts",
            "Checkouts that got no connection within the pool's timeout (the \
             request was answered 503)",
            checkouts.timeouts.clone(),
        );
        registry.register(
            "csv_downloads_in_flight",
            "CSV downloads streaming now",
            metrics.downloads.clone(),
        );
        metrics.imports.register(
            registry,
            ["import", "runs", "records"],
            [
                "Imports uploaded on Admin › Imports",
                "Records of successful imports",
                "the last successful import (upload or command line)",
            ],
        );
        metrics.ingest.register(
            registry,
            ["ingest", "batches", "events"],
            [
                "Live-ingest batches (POST /api/v1/events)",
                "New method events of successful batches",
                "the last successful ingest batch",
            ],
        );
        metrics.syncs.register(
            registry,
            ["sync", "runs", "records"],
            [
                "Microsoft Graph syncs (scheduled or Sync now)",
                "Records of the resources that syncs",
                "the last sync that stored everything",
            ],
        );
        registry.register(
            "notifications",
            "Attempts of this instance to send a mail or webhook of the outbox, by \
             channel and outcome (sent; retry: failed, tried again later; failed: given up)",
            metrics.notifications.attempts.clone(),
        );
        registry.register(
            "notifications_pending",
            "Messages of the outbox not sent yet, on any instance",
            metrics.notifications_pending.clone(),
        );
        registry.register(
            "notifications_failed",
            "Messages of the outbox given up after their last attempt, on any instance",
            metrics.notifications_failed.clone(),
        );
        registry.register(
            "subscriptions_active",
            "Subscriptions and alerts that run, on any instance",
            metrics.subscriptions_active.clone(),
        );
        registry.register(
            "subscriptions_paused",
            "Subscriptions and alerts paused, by their owner or because the owner or the view \
             stopped working, on any instance",
            metrics.subscriptions_paused.clone(),
        );
        registry.register(
            "alerts_firing",
            "Alerts whose rule held at their last check, on any instance",
            metrics.alerts_firing.clone(),
        );
        registry.register(
            "data_version",
            "The data version: it changes with every write of the report data",
            metrics.data_version.clone(),
        );
        registry.register(
            "data_changed_timestamp_seconds",
            "When the report data last changed (the pages' Last refreshed, Unix time)",
            metrics.data_changed.clone(),
        );
        registry.register(
            "build",
            "The running version of authinsights",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let started: Gauge = Gauge::default();
        started.set(unix_seconds(SystemTime::now()));
        registry.register(
            "process_start_time_seconds",
            "When this process started (Unix time)",
            started,
        );
        metrics
    }

    /// One request answered.
    pub fn request(&self, labels: &HttpLabels, took: Duration) {
        self.requests.get_or_create(labels).inc();
        self.durations
            .get_or_create(labels)
            .observe(took.as_secs_f64());
    }

    /// A CSV download starts: it counts as streaming until the guard drops.
    pub fn download_started(&self) -> InFlight {
        self.downloads.inc();
        InFlight(self.downloads.clone())
    }

    /// The text for Prometheus, with the database's figures and the pool's
    /// connections as of now.
    pub fn render(&self, stored: StoredState, pool: PoolUsage) -> String {
        self.data_version.set(stored.data_version);
        self.data_changed.set(stored.data_changed_at);
        self.imports.last_success.set(stored.last_import);
        self.ingest.last_success.set(stored.last_ingest);
        self.syncs.last_success.set(stored.last_sync);
        self.notifications_pending.set(stored.notifications_pending);
        self.notifications_failed.set(stored.notifications_failed);
        self.subscriptions_active.set(stored.subscriptions_active);
        self.subscriptions_paused.set(stored.subscriptions_paused);
        self.alerts_firing.set(stored.alerts_firing);
        self.pool_in_use.set(pool.in_use);
        self.pool_idle.set(pool.idle);
        self.pool_max.set(pool.max);
        let mut text = String::with_capacity(16 * 1024);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

/// A CSV download under way (see [`Metrics::download_started`]).
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(metrics: &Metrics) -> String {
        metrics.render(StoredState::default(), PoolUsage::default())
    }

    #[test]
    fn every_family_is_named_with_the_prefix_and_typed() {
        let metrics = Metrics::new(&PoolCheckouts::default());
        // A labelled family is shown once it has a series.
        let labels = HttpLabels {
            route: "/",
            method: "GET",
            status: 200,
        };
        metrics.request(&labels, Duration::from_millis(1));
        let text = rendered(&metrics);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("authinsights_"), "{line}");
        }
        for family in [
            "authinsights_http_requests_total counter",
            "authinsights_http_request_duration_seconds histogram",
            "authinsights_db_pool_checkout_duration_seconds histogram",
            "authinsights_import_runs_total counter",
            "authinsights_build_info gauge",
        ] {
            assert!(
                text.contains(&format!("# TYPE {family}\n")),
                "{family}:\n{text}"
            );
        }
        assert!(
            text.contains(&format!(
                "authinsights_build_info{{version=\"{}\"}} 1\n",
                env!("CARGO_PKG_VERSION")
            )),
            "{text}"
        );
        assert!(text.contains("authinsights_sync_runs_total{outcome=\"failed\"} 0\n"));
    }

    #[test]
    fn requests_and_downloads_are_counted() {
        let metrics = Metrics::new(&PoolCheckouts::default());
        let labels = HttpLabels {
            route: "/users/{id}",
            method: "GET",
            status: 200,
        };
        metrics.request(&labels, Duration::from_millis(3));
        metrics.request(&labels, Duration::from_millis(30));
        let text = rendered(&metrics);
        assert!(text.contains(
            "authinsights_http_requests_total{route=\"/users/{id}\",method=\"GET\",status=\"200\"} 2\n"
        ), "{text}");
        assert!(text.contains(
            "authinsights_http_request_duration_seconds_count{route=\"/users/{id}\",method=\"GET\",status=\"200\"} 2\n"
        ), "{text}");
        let one = metrics.download_started();
        let two = metrics.download_started();
        assert!(rendered(&metrics).contains("authinsights_csv_downloads_in_flight 2\n"));
        drop(one);
        drop(two);
        assert!(rendered(&metrics).contains("authinsights_csv_downloads_in_flight 0\n"));
    }
}
