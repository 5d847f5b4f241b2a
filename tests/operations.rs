//! Running the portal: `GET /metrics` as Prometheus reads it (who may, every
//! family, and that the figures move with what the portal does), and the
//! JSON logs of the real binary (one object per line, one per request,
//! never a secret).

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::db;
use common::binary::{account_add, authinsights, Running};
use common::{
    generate_demo, input_value, metrics_text, multipart, new_client, post_multipart,
    session_cookie, stalled_reader, Backend, Remote, TestApp, TestDb,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// The Prometheus text format, read strictly.

#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape: each family's type and help, and every sample.
#[derive(Debug, Default)]
struct Exposition {
    types: BTreeMap<String, String>,
    helps: BTreeSet<String>,
    samples: Vec<Sample>,
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn number(text: &str) -> f64 {
    match text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        other => other
            .parse()
            .unwrap_or_else(|_| panic!("{other:?} is not a sample value")),
    }
}

/// Labels `{a="x",b="y\"z"}` (from after the `{`); returns them and the rest
/// of the line after the `}`.
fn labels(mut rest: &str, line: &str) -> (BTreeMap<String, String>, String) {
    let mut labels = BTreeMap::new();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return (labels, after.to_string());
        }
        let (name, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("a label in {line:?}"));
        assert!(is_name(name), "label name {name:?} in {line:?}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => panic!("escape {other:?} in {line:?}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("an unterminated label value in {line:?}"),
            }
        };
        assert!(
            labels.insert(name.to_string(), value).is_none(),
            "label {name} twice in {line:?}"
        );
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// Parses a scrape; panics on anything the format does not allow.
fn parse(text: &str) -> Exposition {
    let mut out = Exposition::default();
    assert!(text.ends_with('\n'), "the text ends with a line end");
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(is_name(name) && !help.trim().is_empty(), "{line:?}");
            assert!(out.helps.insert(name.to_string()), "HELP twice: {line:?}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(is_name(name), "{line:?}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line:?}"
            );
            let known = out.types.insert(name.to_string(), kind.to_string());
            assert!(known.is_none(), "TYPE twice: {line:?}");
        } else {
            assert!(!line.starts_with('#'), "an unknown comment: {line:?}");
            let split = line.find(['{', ' ']).unwrap();
            let name = &line[..split];
            assert!(is_name(name), "{line:?}");
            let (labels, rest) = if line[split..].starts_with('{') {
                labels(&line[split + 1..], line)
            } else {
                (BTreeMap::new(), line[split..].to_string())
            };
            let mut fields = rest.split_whitespace();
            let value = number(fields.next().unwrap());
            if let Some(timestamp) = fields.next() {
                timestamp.parse::<i64>().unwrap();
            }
            assert!(fields.next().is_none(), "{line:?}");
            // Every sample belongs to a family typed before it.
            let family = out.family_of(name);
            assert!(family.is_some(), "{name} has no TYPE before it: {line:?}");
            out.samples.push(Sample {
                name: name.to_string(),
                labels,
                value,
            });
        }
    }
    out
}

impl Exposition {
    /// The typed family a sample's name belongs to.
    fn family_of(&self, name: &str) -> Option<String> {
        if self.types.contains_key(name) {
            return Some(name.to_string());
        }
        ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
            let base = name.strip_suffix(suffix)?;
            (self.types.get(base).map(String::as_str) == Some("histogram"))
                .then(|| base.to_string())
        })
    }

    /// The value of the sample named `name` whose labels are exactly `want`
    /// (None when there is none).
    fn value(&self, name: &str, want: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let found: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.name == name && s.labels == want)
            .map(|s| s.value)
            .collect();
        assert!(found.len() <= 1, "{name} {want:?} twice");
        found.first().copied()
    }

    /// [`Exposition::value`], 0 when the series does not exist yet.
    fn count(&self, name: &str, want: &[(&str, &str)]) -> f64 {
        self.value(name, want).unwrap_or(0.0)
    }

    /// The value of a series without labels, which must exist.
    fn single(&self, name: &str) -> f64 {
        self.value(name, &[])
            .unwrap_or_else(|| panic!("{name} is in the scrape"))
    }

    /// Every histogram's buckets are cumulative and end at `+Inf` with its count.
    fn check_histograms(&self) {
        for (family, kind) in &self.types {
            if kind != "histogram" {
                continue;
            }
            let bucket = format!("{family}_bucket");
            let mut series: BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>> = BTreeMap::new();
            for s in self.samples.iter().filter(|s| s.name == bucket) {
                let mut labels = s.labels.clone();
                let le = number(&labels.remove("le").expect("a bucket has le"));
                series.entry(labels).or_default().push((le, s.value));
            }
            for (labels, buckets) in series {
                let mut last = (f64::NEG_INFINITY, 0.0);
                for &(le, n) in &buckets {
                    assert!(
                        le > last.0 && n >= last.1,
                        "{family} {labels:?}: {buckets:?}"
                    );
                    last = (le, n);
                }
                assert_eq!(last.0, f64::INFINITY, "{family} {labels:?} ends at +Inf");
                let pairs: Vec<(&str, &str)> = labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let count = self.value(&format!("{family}_count"), &pairs);
                assert_eq!(count, Some(last.1), "{family} {labels:?}: count");
            }
        }
    }
}

#[test]
fn the_reader_of_the_format_refuses_what_is_not_in_it() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\"} 2\n";
    let parsed = parse(good);
    assert_eq!(parsed.value("a_total", &[("x", "q\"")]), Some(2.0));
    for bad in [
        "a_total 1\n",                           // no TYPE
        "# TYPE a counter\na{x=\"1} 1\n",        // unterminated
        "# TYPE a gauge\na one\n",               // not a number
        "# TYPE a gauge\n# TYPE a gauge\na 1\n", // typed twice
        "# TYPE a gauge\na{1x=\"y\"} 1\n",       // a bad label name
        "# TYPE a gauge\na 1",                   // no line end
    ] {
        let caught = std::panic::catch_unwind(|| parse(bad));
        assert!(caught.is_err(), "{bad:?} was accepted");
    }
}

// ---------------------------------------------------------------------------
// /metrics through the real application.

fn make_key(app: &TestApp, name: &str, read: bool, ingest: bool) -> String {
    app.with_conn(|conn| {
        let now = chrono::Utc::now().naive_utc();
        db::api_keys::create_key(conn, name, read, ingest, "test", now)
            .unwrap()
            .1
    })
}

async fn get_with(app: &TestApp, key: Option<&str>, path: &str) -> reqwest::Response {
    let mut request = new_client().get(format!("{}{path}", app.address));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

/// One scrape with a read key, checked and parsed.
async fn scrape(app: &TestApp, key: &str) -> Exposition {
    let response = get_with(app, Some(key), "/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let parsed = parse(&text);
    parsed.check_histograms();
    parsed
}

async fn who_may_read_metrics(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let read = make_key(&app, "prometheus", true, false);
    let ingest_only = make_key(&app, "hook", false, true);

    let nobody = get_with(&app, None, "/metrics").await;
    assert_eq!(nobody.status(), 401);
    assert_eq!(nobody.headers()["www-authenticate"], "Bearer");
    let body: Value = nobody.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated", "{body}");
    let wrong = get_with(&app, Some("not-a-key"), "/metrics").await;
    assert_eq!(wrong.status(), 401);
    // A signed-in Global Administrator's session is not a key.
    let session = app.get("/metrics").await;
    assert_eq!(session.status(), 401);
    let refused = get_with(&app, Some(&ingest_only), "/metrics").await;
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no read scope"),
        "{body}"
    );
    let allowed = get_with(&app, Some(&read), "/metrics").await;
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()["cache-control"], "no-store");
    assert_eq!(
        allowed.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
}
db_test!(metrics_need_a_key_with_the_read_scope, who_may_read_metrics);

/// Every family the portal exports, with its type.
const FAMILIES: [(&str, &str); 27] = [
    ("authinsights_http_requests_total", "counter"),
    ("authinsights_http_request_duration_seconds", "histogram"),
    ("authinsights_db_pool_connections_in_use", "gauge"),
    ("authinsights_db_pool_connections_idle", "gauge"),
    ("authinsights_db_pool_connections_max", "gauge"),
    (
        "authinsights_db_pool_checkout_duration_seconds",
        "histogram",
    ),
    ("authinsights_db_pool_checkout_timeouts_total", "counter"),
    ("authinsights_csv_downloads_in_flight", "gauge"),
    ("authinsights_import_runs_total", "counter"),
    ("authinsights_import_records_total", "counter"),
    (
        "authinsights_import_last_success_timestamp_seconds",
        "gauge",
    ),
    ("authinsights_ingest_batches_total", "counter"),
    ("authinsights_ingest_events_total", "counter"),
    (
        "authinsights_ingest_last_success_timestamp_seconds",
        "gauge",
    ),
    ("authinsights_sync_runs_total", "counter"),
    ("authinsights_sync_records_total", "counter"),
    ("authinsights_sync_last_success_timestamp_seconds", "gauge"),
    ("authinsights_notifications_total", "counter"),
    ("authinsights_notifications_pending", "gauge"),
    ("authinsights_notifications_failed", "gauge"),
    ("authinsights_subscriptions_active", "gauge"),
    ("authinsights_subscriptions_paused", "gauge"),
    ("authinsights_alerts_firing", "gauge"),
    ("authinsights_data_version", "gauge"),
    ("authinsights_data_changed_timestamp_seconds", "gauge"),
    ("authinsights_build_info", "gauge"),
    ("authinsights_process_start_time_seconds", "gauge"),
];

const REQUESTS: &str = "authinsights_http_requests_total";
const DURATIONS: &str = "authinsights_http_request_duration_seconds_count";

fn http(route: &'static str, status: &'static str) -> [(&'static str, &'static str); 3] {
    [("route", route), ("method", "GET"), ("status", status)]
}

/// Uploads one fixture file on Admin › Imports as the administrator.
async fn upload(app: &TestApp, kind: &str, file: &str) -> u16 {
    let page = app.get("/admin/imports").await.text().await.unwrap();
    let csrf = input_value(&page, "csrf");
    let content = std::fs::read(format!(
        "{}/tests/fixtures/upload/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let body = multipart(&[("csrf", &csrf), ("kind", kind)], &[(file, content)]);
    post_multipart(app, body).await.status().as_u16()
}

/// A live-ingest batch of one activity of Ana's.
fn batch(tag: &str, user: &str) -> Value {
    serde_json::json!({ "activities": [{
        "id": format!("{tag}-a"),
        "user_id": user,
        "feature": "registration",
        "result": "succeeded",
        "occurred_at": format!("{}Z", (chrono::Utc::now() - chrono::Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%S")),
        "events": [{ "id": format!("{tag}-e"), "method": "app_code", "success": true }]
    }]})
}

async fn post_batch(app: &TestApp, key: &str, batch: &Value) -> u16 {
    new_client()
        .post(format!("{}/api/v1/events", app.address))
        .bearer_auth(key)
        .json(batch)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn now_seconds() -> f64 {
    chrono::Utc::now().timestamp() as f64
}

async fn metrics_move_with_the_portal(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = make_key(&app, "prometheus", true, false);
    let ingest_key = make_key(&app, "hook", false, true);

    // Every family, typed and explained; nothing else under another name.
    let first = scrape(&app, &key).await;
    for (family, kind) in FAMILIES {
        assert_eq!(
            first.types.get(family).map(String::as_str),
            Some(kind),
            "{family}: {:?}",
            first.types
        );
        assert!(first.helps.contains(family), "{family} has HELP");
    }
    assert_eq!(first.types.len(), FAMILIES.len(), "{:?}", first.types);
    assert!(first
        .samples
        .iter()
        .all(|s| s.name.starts_with("authinsights_")));
    let build = first
        .samples
        .iter()
        .find(|s| s.name == "authinsights_build_info")
        .unwrap();
    assert_eq!(build.labels["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(build.value, 1.0);
    let started = first.single("authinsights_process_start_time_seconds");
    assert!(started > now_seconds() - 3600.0 && started <= now_seconds() + 1.0);
    // An empty portal: nothing imported, ingested or synced yet.
    for kind in ["import", "ingest", "sync"] {
        let last = format!("authinsights_{kind}_last_success_timestamp_seconds");
        assert_eq!(first.single(&last), 0.0, "{last}");
    }
    for outcome in ["success", "rejected", "failed"] {
        let runs = first.value("authinsights_import_runs_total", &[("outcome", outcome)]);
        assert_eq!(runs, Some(0.0), "{outcome}");
    }

    // The pool: four connections at most, the scrape's own given back.
    let in_use = first.single("authinsights_db_pool_connections_in_use");
    let idle = first.single("authinsights_db_pool_connections_idle");
    assert_eq!(first.single("authinsights_db_pool_connections_max"), 4.0);
    assert!(
        in_use >= 0.0 && idle >= 1.0 && in_use + idle <= 4.0,
        "{in_use} {idle}"
    );
    assert!(first.single("authinsights_db_pool_checkout_duration_seconds_count") > 0.0);
    assert_eq!(
        first.single("authinsights_db_pool_checkout_timeouts_total"),
        0.0
    );
    assert_eq!(first.single("authinsights_csv_downloads_in_flight"), 0.0);

    // Requests move their route's series by exactly their number; a user
    // page is counted under its pattern, an unknown path as unmatched.
    let overview = http("/api/v1/overview", "200");
    let user = http("/api/v1/users/{id}", "404");
    let unmatched = [("route", "unmatched"), ("method", "GET"), ("status", "404")];
    let before = scrape(&app, &key).await;
    for _ in 0..7 {
        assert_eq!(
            get_with(&app, Some(&key), "/api/v1/overview")
                .await
                .status(),
            200
        );
    }
    for _ in 0..3 {
        let response = get_with(&app, Some(&key), "/api/v1/users/u-marker-4471").await;
        assert_eq!(response.status(), 404);
    }
    assert_eq!(
        get_with(&app, Some(&key), "/api/v1/no-such-thing")
            .await
            .status(),
        404
    );
    // Refused before its route runs: counted all the same.
    assert_eq!(get_with(&app, None, "/api/v1/overview").await.status(), 401);
    let after = scrape(&app, &key).await;
    assert_eq!(
        after.count(REQUESTS, &overview) - before.count(REQUESTS, &overview),
        7.0
    );
    assert_eq!(
        after.count(DURATIONS, &overview) - before.count(DURATIONS, &overview),
        7.0
    );
    assert_eq!(
        after.count(REQUESTS, &user) - before.count(REQUESTS, &user),
        3.0
    );
    assert_eq!(
        after.count(DURATIONS, &user) - before.count(DURATIONS, &user),
        3.0
    );
    assert_eq!(
        after.count(REQUESTS, &unmatched) - before.count(REQUESTS, &unmatched),
        1.0
    );
    let refused = http("/api/v1/overview", "401");
    assert_eq!(
        after.count(REQUESTS, &refused) - before.count(REQUESTS, &refused),
        1.0
    );
    // The scrapes themselves are requests too (the last one is not yet counted).
    assert_eq!(
        after.count(REQUESTS, &http("/metrics", "200")),
        before.count(REQUESTS, &http("/metrics", "200")) + 1.0
    );
    let routes: BTreeSet<&str> = after
        .samples
        .iter()
        .filter_map(|s| s.labels.get("route").map(String::as_str))
        .collect();
    assert!(
        routes
            .iter()
            .all(|r| !r.contains("marker") && !r.contains("no-such")),
        "{routes:?}"
    );
    // The sign-in of the test's administrator, under its pattern.
    assert!(
        after.count(
            REQUESTS,
            &[("route", "/sign-in"), ("method", "POST"), ("status", "303")]
        ) >= 1.0
    );

    // An import through Admin › Imports: a new data version, a success and
    // its records, and the last success (from the database) now.
    let version = after.single("authinsights_data_version");
    let changed = after.single("authinsights_data_changed_timestamp_seconds");
    let before_import = now_seconds();
    assert_eq!(upload(&app, "users", "users.csv").await, 200);
    let imported = scrape(&app, &key).await;
    assert!(imported.single("authinsights_data_version") > version);
    assert!(imported.single("authinsights_data_changed_timestamp_seconds") >= changed);
    let success = [("outcome", "success")];
    assert_eq!(
        imported.count("authinsights_import_runs_total", &success),
        1.0
    );
    assert_eq!(imported.single("authinsights_import_records_total"), 9.0);
    let last_import = imported.single("authinsights_import_last_success_timestamp_seconds");
    assert!(
        last_import >= before_import - 1.0 && last_import <= now_seconds() + 1.0,
        "{last_import} vs {before_import}"
    );
    // A file refused whole: rejected, nothing stored, the version unchanged.
    assert_eq!(upload(&app, "users", "users_bad_line3.csv").await, 400);
    let refused_import = scrape(&app, &key).await;
    let rejected = [("outcome", "rejected")];
    assert_eq!(
        refused_import.count("authinsights_import_runs_total", &rejected),
        1.0
    );
    assert_eq!(
        refused_import.single("authinsights_import_records_total"),
        9.0
    );
    assert_eq!(
        refused_import.single("authinsights_data_version"),
        imported.single("authinsights_data_version")
    );

    // Live ingest: a batch stored, one refused.
    assert_eq!(
        post_batch(&app, &ingest_key, &batch("m1", "u-ana")).await,
        200
    );
    assert_eq!(
        post_batch(&app, &ingest_key, &batch("m2", "u-nobody")).await,
        400
    );
    let ingested = scrape(&app, &key).await;
    assert_eq!(
        ingested.count("authinsights_ingest_batches_total", &success),
        1.0
    );
    assert_eq!(
        ingested.count("authinsights_ingest_batches_total", &rejected),
        1.0
    );
    assert_eq!(ingested.single("authinsights_ingest_events_total"), 1.0);
    assert!(
        ingested.single("authinsights_ingest_last_success_timestamp_seconds")
            >= before_import - 1.0
    );
    assert!(
        ingested.single("authinsights_data_version") > imported.single("authinsights_data_version")
    );
    // No sync ran: its figures stay at nothing.
    assert_eq!(
        ingested.count("authinsights_sync_runs_total", &success),
        0.0
    );
    assert_eq!(
        ingested.single("authinsights_sync_last_success_timestamp_seconds"),
        0.0
    );

    // The last successes are the database's: a second instance on it,
    // which imported nothing itself, shows the same.
    let second = app.second_instance();
    let text = metrics_text(&second.address, &key).await;
    let other = parse(&text);
    assert_eq!(other.count("authinsights_import_runs_total", &success), 0.0);
    for figure in [
        "authinsights_import_last_success_timestamp_seconds",
        "authinsights_ingest_last_success_timestamp_seconds",
        "authinsights_data_version",
    ] {
        assert_eq!(other.single(figure), ingested.single(figure), "{figure}");
    }
}
db_test!(
    metrics_cover_every_family_and_move,
    metrics_move_with_the_portal
);

/// Scrapes until the downloads in flight are `want` (10 s at most).
async fn downloads_reach(app: &TestApp, key: &str, want: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = scrape(app, key)
            .await
            .single("authinsights_csv_downloads_in_flight");
        if now == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "downloads in flight stay at {now}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn downloads_in_flight(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    generate_demo(&app, 2_000);
    let key = make_key(&app, "prometheus", true, false);
    let path = "/activity.csv?range=30d";
    // Read whole: in flight while it streams, none after.
    let whole = app.get(path).await.bytes().await.unwrap();
    assert!(whole.len() > 12 << 20, "{} bytes", whole.len());
    downloads_reach(&app, &key, 0.0).await;

    let cookie = session_cookie(&app).await;
    // Two clients that read nothing: both streaming, until each goes away.
    let first = stalled_reader(&app.address, path, &cookie);
    let second = stalled_reader(&app.address, path, &cookie);
    downloads_reach(&app, &key, 2.0).await;
    drop(first);
    downloads_reach(&app, &key, 1.0).await;
    drop(second);
    downloads_reach(&app, &key, 0.0).await;
}
db_test!(csv_downloads_in_flight_are_counted, downloads_in_flight);

// ---------------------------------------------------------------------------
// The binary's JSON logs.

/// The value of cookie `name` a response set.
fn set_cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("the response sets {name}"))
        .to_string()
}

async fn json_logs(backend: Backend) {
    let db = TestDb::new(backend);
    let password = "operations password 7d2c9a1e";
    let added = account_add(&db, "opsadmin", "global-administrator", password);
    assert!(added.status.success(), "{added:?}");
    let created = authinsights()
        .args(["--database-url", &db.raw_url, "api-key", "add", "scraper"])
        .args(["--scope", "read,ingest"])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let key = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();
    assert!(key.len() >= 20, "{key}");

    let logs = tempfile::NamedTempFile::new().unwrap();
    let child = authinsights()
        .args([
            "--database-url",
            &db.raw_url,
            "serve",
            "--bind",
            "127.0.0.1:0",
        ])
        .env("AUTHINSIGHTS_LOG_FORMAT", "json")
        .env_remove("AUTHINSIGHTS_LOG")
        .stdout(Stdio::piped())
        .stderr(logs.reopen().unwrap())
        .spawn()
        .unwrap();
    let mut server = Running(child);
    let stdout = server.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    let address = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the server stopped: {printed:?}"))
            .unwrap();
        printed.push(line.clone());
        if let Some(rest) = line.strip_prefix("authinsights is serving ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let portal = Remote::new(&address);

    // Sign in with the password through the form, as a person does.
    let client = new_client();
    let form = portal.get_as(&client, "/sign-in").await;
    let sign_in_cookie = set_cookie(&form, "ai_sign_in");
    let sign_in_csrf = input_value(&form.text().await.unwrap(), "csrf");
    let signed = portal.sign_in(&client, "opsadmin", password).await;
    assert_eq!(signed.status(), 303);
    let session = set_cookie(&signed, "ai_session");
    let page = portal.get_as(&client, "/admin/imports").await;
    assert_eq!(page.status(), 200);
    let csrf = input_value(&page.text().await.unwrap(), "csrf");
    // A form sent with the session's token, a page with a query, and the
    // API with the key (one with the proxy's request id).
    let saved = client
        .post(format!("{address}/admin/imports/retention"))
        .form(&[("csrf", csrf.as_str()), ("days", "45")])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 303);
    let query = "query-marker-93ab";
    let listed = portal
        .get_as(&client, &format!("/registrations?q={query}"))
        .await;
    assert_eq!(listed.status(), 200);
    let overview = new_client()
        .get(format!("{address}/api/v1/overview"))
        .bearer_auth(&key)
        .header("x-request-id", "proxy-req-0042")
        .send()
        .await
        .unwrap();
    assert_eq!(overview.status(), 200);
    assert_eq!(overview.headers()["x-request-id"], "proxy-req-0042");
    let scraped = new_client()
        .get(format!("{address}/metrics"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), 200);
    let generated = scraped.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(generated.len(), 16, "{generated}");
    let refused = new_client()
        .get(format!("{address}/api/v1/overview"))
        .bearer_auth("aik_not-a-real-key-value-31f0")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    drop(server);

    let text = std::fs::read_to_string(logs.path()).unwrap();
    let mut requests = Vec::new();
    for line in text.lines() {
        let event: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        assert!(event.is_object(), "{line}");
        assert!(
            event["timestamp"].is_string() && event["level"].is_string(),
            "{line}"
        );
        if event["target"] == "authinsights::request" {
            requests.push(event);
        }
    }
    assert!(requests.len() >= 8, "{text}");
    let find = |method: &str, route: &str, status: u64| -> Value {
        requests
            .iter()
            .find(|e| e["method"] == method && e["route"] == route && e["status"] == status)
            .unwrap_or_else(|| panic!("no {method} {route} {status} in:\n{text}"))
            .clone()
    };
    for event in &requests {
        assert_eq!(event["level"], "INFO", "{event}");
        assert!(
            event["request_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty()),
            "{event}"
        );
        assert!(
            event["duration_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
            "{event}"
        );
    }
    let api = find("GET", "/api/v1/overview", 200);
    assert_eq!(api["api_key"], "scraper", "{api}");
    assert!(api.get("account").is_none(), "{api}");
    assert_eq!(api["request_id"], "proxy-req-0042");
    let metrics = find("GET", "/metrics", 200);
    assert_eq!(metrics["request_id"], generated.as_str());
    assert_eq!(metrics["api_key"], "scraper");
    let list = find("GET", "/registrations", 200);
    assert_eq!(list["account"], "opsadmin", "{list}");
    assert!(list.get("api_key").is_none(), "{list}");
    assert_eq!(
        find("POST", "/admin/imports/retention", 303)["account"],
        "opsadmin"
    );
    let sign_in = find("POST", "/sign-in", 303);
    assert!(sign_in.get("account").is_none(), "{sign_in}");
    let nobody = find("GET", "/api/v1/overview", 401);
    assert!(nobody.get("api_key").is_none(), "{nobody}");

    // No secret, query or cookie anywhere in what the server wrote.
    let everything = format!("{text}\n{}", printed.join("\n"));
    for (what, secret) in [
        ("the password", password),
        ("the session cookie", session.as_str()),
        ("the sign-in cookie", sign_in_cookie.as_str()),
        ("the sign-in form's token", sign_in_csrf.as_str()),
        ("the session's CSRF token", csrf.as_str()),
        ("the API key", key.as_str()),
        ("a refused key", "aik_not-a-real-key-value-31f0"),
        ("a query", query),
    ] {
        assert!(secret.len() >= 8, "{what}: {secret}");
        assert!(
            !everything.contains(secret),
            "{what} is in the output:\n{everything}"
        );
    }
}
db_test!(json_logs_hold_each_request_and_no_secret, json_logs);

#[test]
fn an_unknown_log_format_stops_the_start() {
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", db.path().join("a.db").display());
    let child = authinsights()
        .args(["--database-url", &url, "serve", "--bind", "127.0.0.1:0"])
        .env("AUTHINSIGHTS_LOG_FORMAT", "yaml")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Running(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the portal started with a log format of yaml"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(server.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("AUTHINSIGHTS_LOG_FORMAT"), "{stderr}");
    assert!(stderr.contains("\"yaml\""), "{stderr}");
    assert!(
        stderr.contains("text") && stderr.contains("json"),
        "{stderr}"
    );
    let mut stdout = String::new();
    std::io::Read::read_to_string(server.0.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    assert!(!stdout.contains("serving"), "{stdout}");
}
