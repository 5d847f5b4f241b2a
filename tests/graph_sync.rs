//! `authinsights sync` against the Graph stand-in (`sync::standin`, built
//! from Microsoft's documented shapes), run as a user runs it, on both
//! backends: it stores what `import graph` of the same responses stores,
//! table by table; throttling, outages and an expired token are waited out
//! and retried; a bad page stores nothing of its resource while the others
//! stay stored; a link loop and a fatal error end it with no request after;
//! a run cut short is taken up where it stopped; of two portals with
//! `--sync-every` on one database exactly one syncs, Sync now runs once and
//! the schedule set on Admin › Data sources holds for both; a certificate
//! credential signs in and one with the wrong key is refused; and a dry run
//! stores nothing.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::db::directory::save_policy;
use authinsights::db::models::User;
use authinsights::db::schema::{
    directory_groups, group_members, user_methods, user_status_counts, users,
};
use authinsights::db::syncs;
use authinsights::db::DbConnection;
use authinsights::domain::{Method, Scope};
use authinsights::sync::standin::{
    Fault, FaultKind, Logged, Standin, Tenant, CLIENT_ID, CLIENT_SECRET, GROUP_ID, TENANT_ID,
};
use chrono::Utc;
use common::aggregates::{stored_activities, stored_aggregates, stored_events};
use common::binary::{authinsights, Running};
use common::tenant::pilot_policy;
use common::{Backend, TestDb};
use diesel::prelude::*;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// 2,500 users in pages of 999: three pages of users and of registration
/// details, two of the group's members.
const USERS: usize = 2_500;
const PAGE: usize = 999;

fn standin() -> Standin {
    Standin::start(Tenant::generate(USERS, Utc::now().naive_utc()), PAGE).unwrap()
}

/// A database whose SSPR policy is scoped to the stand-in's group.
fn database(backend: Backend) -> TestDb {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    save_policy(
        &mut conn,
        &pilot_policy(Scope::Selected {
            group_id: GROUP_ID.into(),
        }),
        Some("test"),
    )
    .unwrap();
    db
}

/// `authinsights sync` on `db`, connected to `standin` by the environment.
fn sync_command(db: &TestDb, standin: &Standin) -> Command {
    let mut cmd = authinsights();
    cmd.args(["--database-url", &db.raw_url, "sync"]);
    connect_to(&mut cmd, standin);
    cmd
}

/// The environment that connects the portal to `standin`.
fn connect_to(cmd: &mut Command, standin: &Standin) {
    cmd.env("AUTHINSIGHTS_GRAPH_URL", &standin.url)
        .env("AUTHINSIGHTS_GRAPH_LOGIN_URL", &standin.url)
        .env("AUTHINSIGHTS_GRAPH_TENANT_ID", TENANT_ID)
        .env("AUTHINSIGHTS_GRAPH_CLIENT_ID", CLIENT_ID)
        .env("AUTHINSIGHTS_GRAPH_CLIENT_SECRET", CLIENT_SECRET)
        .env("AUTHINSIGHTS_GRAPH_BACKOFF_MS", "100")
        .env_remove("AUTHINSIGHTS_GRAPH_CLIENT_SECRET_FILE")
        .env_remove("AUTHINSIGHTS_GRAPH_CERTIFICATE_FILE")
        .env_remove("RUST_LOG");
}

fn run(cmd: &mut Command) -> (bool, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.success(), text)
}

/// The requests to Graph (not the token endpoint) whose target contains `part`.
fn graph_requests<'a>(log: &'a [Logged], part: &str) -> Vec<&'a Logged> {
    log.iter()
        .filter(|r| r.method == "GET" && r.target.contains(part))
        .collect()
}

fn token_requests(log: &[Logged]) -> usize {
    log.iter().filter(|r| r.method == "POST").count()
}

/// One line of the printed summary, by resource.
fn summary_line<'a>(printed: &'a str, resource: &str) -> &'a str {
    printed
        .lines()
        .find(|l| l.starts_with(&format!("{resource} ")))
        .unwrap_or_else(|| panic!("no summary line for {resource} in:\n{printed}"))
}

/// A summary line's numbers: pages, records, inserted, updated, warnings, requests.
fn numbers(line: &str) -> Vec<u64> {
    line.split_whitespace()
        .skip(1)
        .take(6)
        .map(|n| n.parse().unwrap())
        .collect()
}

/// Everything a sync or an import stores, table by table, without what only
/// says when or by which import a row was written.
fn stored(conn: &mut DbConnection) -> Vec<String> {
    let mut users: Vec<User> = users::table
        .order(users::id)
        .select(User::as_select())
        .load(conn)
        .unwrap();
    for u in &mut users {
        u.updated_at = chrono::NaiveDateTime::default();
    }
    let groups: Vec<(String, String)> = directory_groups::table
        .order(directory_groups::id)
        .load(conn)
        .unwrap();
    let members: Vec<(String, String)> = group_members::table
        .order((group_members::group_id, group_members::user_id))
        .load(conn)
        .unwrap();
    let methods: Vec<(String, i32, Option<chrono::NaiveDateTime>)> = user_methods::table
        .order((user_methods::user_id, user_methods::method))
        .load(conn)
        .unwrap();
    let statuses: Vec<(i64, i64)> = user_status_counts::table
        .order(user_status_counts::status_key)
        .load(conn)
        .unwrap();
    vec![
        format!("users: {users:#?}"),
        format!("directory_groups: {groups:?}"),
        format!("group_members: {members:?}"),
        format!("user_methods: {methods:?}"),
        format!("user_status_counts: {statuses:?}"),
        format!("activities: {:#?}", stored_activities(conn)),
        format!("method_events: {:#?}", stored_events(conn)),
        format!("aggregates: {:?}", stored_aggregates(conn)),
    ]
}

// ---------------------------------------------------------------------------

async fn sync_stores_what_an_import_of_the_same_responses_stores(backend: Backend) {
    let standin = standin();
    let saved = tempfile::tempdir().unwrap();
    standin.save_responses(saved.path().to_path_buf());
    let synced = database(backend);
    let (ok, printed) = run(&mut sync_command(&synced, &standin));
    assert!(ok, "{printed}");
    // Three pages of users and of registration details; the group, then
    // two pages of its members; two lists of audit entries (one a service).
    assert_eq!(
        numbers(summary_line(&printed, "users"))[..3],
        [3, 2500, 2500],
        "{printed}"
    );
    assert_eq!(
        numbers(summary_line(&printed, "registration-details"))[0],
        3,
        "{printed}"
    );
    assert_eq!(
        numbers(summary_line(&printed, "members"))[0],
        3,
        "{printed}"
    );
    assert!(
        numbers(summary_line(&printed, "audits"))[1] > 0,
        "{printed}"
    );
    assert!(
        numbers(summary_line(&printed, "events-summary"))[1] > 0,
        "{printed}"
    );
    assert!(!printed.contains("unknownFutureValue"), "{printed}");

    // The same responses, saved as files in the order served, imported.
    let mut files: Vec<_> = std::fs::read_dir(saved.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let pages: u64 = [
        "users",
        "members",
        "registration-details",
        "audits",
        "events-summary",
    ]
    .iter()
    .map(|r| numbers(summary_line(&printed, r))[0])
    .sum();
    assert_eq!(files.len() as u64, pages, "{files:?}");
    let imported = database(backend);
    let (ok, out) = run(authinsights()
        .args(["--database-url", &imported.raw_url, "import", "graph"])
        .args(&files));
    assert!(ok, "{out}");

    let (a, b) = (
        stored(&mut synced.connect()),
        stored(&mut imported.connect()),
    );
    for (synced_table, imported_table) in a.iter().zip(&b) {
        let name = synced_table.split(':').next().unwrap();
        assert!(
            synced_table == imported_table,
            "{name} differ between the sync and the import"
        );
    }
    // And they hold what the tenant has: every user, the group's user
    // members (not its nested group), modern method names (asked with
    // Prefer: include-unknown-enum-members) and the disabled accounts.
    let mut conn = synced.connect();
    let count: i64 = users::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, USERS as i64);
    let members: i64 = group_members::table.count().get_result(&mut conn).unwrap();
    let tenant = Tenant::generate(USERS, Utc::now().naive_utc());
    let user_members = tenant
        .members
        .iter()
        .filter(|m| m["@odata.type"] == "#microsoft.graph.user")
        .count();
    assert_eq!(members, user_members as i64);
    let passkeys: i64 = user_methods::table
        .filter(user_methods::method.eq(Method::Passkey.code()))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert!(passkeys > 0);
    let disabled: i64 = users::table
        .filter(users::account_enabled.eq(Some(false)))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(disabled, (USERS / 40) as i64 + 1);

    // A second sync changes nothing, and asks the audit log only from an
    // hour before the first one asked (and an hour more for whole flows).
    let before = standin.log().len();
    let (ok, printed) = run(&mut sync_command(&synced, &standin));
    assert!(ok, "{printed}");
    for resource in [
        "users",
        "members",
        "registration-details",
        "audits",
        "events-summary",
    ] {
        let n = numbers(summary_line(&printed, resource));
        assert_eq!((n[2], n[3]), (0, 0), "{resource} changed: {printed}");
    }
    let runs = syncs::recent_runs(&mut conn, 10).unwrap();
    assert_eq!(runs.len(), 2);
    let first_audits = syncs::resources_of(&mut conn, runs[1].id)
        .unwrap()
        .into_iter()
        .find(|r| r.resource == "audits")
        .unwrap();
    let asked_from = (first_audits.requested_at.unwrap() - chrono::Duration::hours(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let log = standin.log();
    let audits = graph_requests(&log[before..], "directoryAudits");
    assert_eq!(
        audits.len() as u64,
        numbers(summary_line(&printed, "audits"))[0]
    );
    for request in audits {
        assert!(
            request
                .target
                .contains(&format!("activityDateTime ge {asked_from}")),
            "{} does not ask from {asked_from}",
            request.target
        );
    }
}
db_test!(
    sync_stores_what_an_import_of_the_same_responses_stores,
    sync_stores_what_an_import_of_the_same_responses_stores
);

async fn throttling_outages_and_an_expired_token_are_waited_out(backend: Backend) {
    let standin = standin();
    standin.fault(Fault::new(
        "/v1.0/users",
        2,
        FaultKind::Status(429, Some(1)),
    ));
    standin.fault(Fault::new(
        "userRegistrationDetails",
        1,
        FaultKind::Status(503, None),
    ));
    standin.fault(Fault::new(
        "userRegistrationDetails",
        2,
        FaultKind::ExpireToken,
    ));
    let db = database(backend);
    let started = Instant::now();
    let (ok, printed) = run(&mut sync_command(&db, &standin));
    assert!(ok, "{printed}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    let log = standin.log();
    let statuses = |part: &str| -> Vec<u16> {
        graph_requests(&log, part)
            .iter()
            .map(|r| r.status)
            .collect()
    };
    // Page 2 of the users: throttled, then served after Retry-After.
    assert_eq!(statuses("/v1.0/users?$select=id,displayName,userPrincipalName,accountEnabled,userType&$top=999&$skiptoken=p1"), [429, 200]);
    // Registration details: a 503 without Retry-After, then served; page
    // 2's token had expired: a new token, and the page again.
    let urd = statuses("userRegistrationDetails");
    assert_eq!(urd, [503, 200, 401, 200, 200], "{log:#?}");
    assert_eq!(token_requests(&log), 2);
    let users = numbers(summary_line(&printed, "users"));
    // A token, three pages and the one retried.
    assert_eq!((users[0], users[1], users[5]), (3, 2500, 5), "{printed}");
    assert!(printed.contains("2 retried"), "{printed}");
    let mut conn = db.connect();
    let verdicts: i64 = users::table
        .filter(users::directory_status.is_not_null())
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(verdicts, USERS as i64);
}
db_test!(
    throttling_outages_and_an_expired_token_are_waited_out,
    throttling_outages_and_an_expired_token_are_waited_out
);

async fn a_bad_page_stores_nothing_of_its_resource(backend: Backend) {
    let standin = standin();
    standin.fault(Fault::new(
        "userRegistrationDetails",
        2,
        FaultKind::BadRecord,
    ));
    standin.fault(Fault::new("userEventsSummary", 1, FaultKind::CutPage));
    let db = database(backend);
    let (ok, printed) = run(&mut sync_command(&db, &standin));
    assert!(!ok, "{printed}");
    assert!(
        printed.contains("registration-details, page 2, record 2, field `isSsprRegistered`"),
        "{printed}"
    );
    assert!(summary_line(&printed, "registration-details").contains("FAILED, nothing of it stored"));
    assert!(
        summary_line(&printed, "events-summary").contains("not a Graph page"),
        "{printed}"
    );
    assert!(
        summary_line(&printed, "users").ends_with("stored"),
        "{printed}"
    );
    assert!(
        summary_line(&printed, "audits").ends_with("stored"),
        "{printed}"
    );
    let mut conn = db.connect();
    // The users, members and audit log are stored; no registration detail is.
    let count: i64 = users::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, USERS as i64);
    let verdicts: i64 = users::table
        .filter(users::directory_status.is_not_null())
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(verdicts, 0);
    let methods: i64 = user_methods::table.count().get_result(&mut conn).unwrap();
    assert_eq!(methods, 0);
    assert!(!stored_activities(&mut conn).is_empty());
    assert!(
        stored_events(&mut conn)
            .iter()
            .all(|e| e.activity_id.is_some()),
        "no event of the events summary is stored"
    );
    // The run says so, resource by resource.
    let run = syncs::latest_run(&mut conn).unwrap().unwrap();
    assert_eq!(run.outcome.as_deref(), Some("failed"));
    let rows = syncs::resources_of(&mut conn, run.id).unwrap();
    let outcome = |r: &str| {
        rows.iter()
            .find(|x| x.resource == r)
            .unwrap()
            .outcome
            .clone()
    };
    assert_eq!(outcome("users").as_deref(), Some("stored"));
    assert_eq!(outcome("registration-details").as_deref(), Some("failed"));
    assert_eq!(outcome("events-summary").as_deref(), Some("failed"));
}
db_test!(
    a_bad_page_stores_nothing_of_its_resource,
    a_bad_page_stores_nothing_of_its_resource
);

async fn a_link_loop_and_fatal_errors_end_with_no_request_after(backend: Backend) {
    // A next link back to a page already read: the list fails, the link is
    // not followed.
    let standin = standin();
    standin.fault(Fault::new("/v1.0/users", 3, FaultKind::LinkLoop));
    let db = database(backend);
    let (ok, printed) = run(sync_command(&db, &standin).args(["--resource", "users"]));
    assert!(!ok, "{printed}");
    assert!(
        printed.contains("leads back to a page already read"),
        "{printed}"
    );
    let log = standin.log();
    assert_eq!(graph_requests(&log, "/v1.0/users").len(), 3, "{log:#?}");
    let count: i64 = users::table.count().get_result(&mut db.connect()).unwrap();
    assert_eq!(count, 0);

    // The sign-in refuses the secret: one request, nothing after it.
    let standin = self::standin();
    let (ok, printed) = run(sync_command(&db, &standin).env(
        "AUTHINSIGHTS_GRAPH_CLIENT_SECRET",
        "the secret's id, not its value",
    ));
    assert!(!ok);
    assert!(printed.contains("AADSTS7000215"), "{printed}");
    assert_eq!(standin.log().len(), 1, "{:#?}", standin.log());

    // Graph stays unavailable past the retry budget: the sync stops at once.
    let standin = self::standin();
    standin.fault(Fault::new(
        "/v1.0/users",
        1,
        FaultKind::Status(503, Some(30)),
    ));
    let started = Instant::now();
    let (ok, printed) = run(sync_command(&db, &standin).args(["--graph-retry-budget", "5s"]));
    assert!(!ok);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(printed.contains("retry budget"), "{printed}");
    let log = standin.log();
    assert_eq!(
        log.len(),
        2,
        "a token, the refused page and nothing after: {log:#?}"
    );
    assert_eq!(log[1].status, 503);
    let run = syncs::latest_run(&mut db.connect()).unwrap().unwrap();
    assert_eq!(run.outcome.as_deref(), Some("failed"));
    assert!(run.message.contains("retry budget"), "{}", run.message);
}
db_test!(
    a_link_loop_and_fatal_errors_end_with_no_request_after,
    a_link_loop_and_fatal_errors_end_with_no_request_after
);

async fn a_sync_cut_short_is_taken_up_where_it_stopped(backend: Backend) {
    let standin = standin();
    standin.fault(Fault::new("directoryAudits", 1, FaultKind::Hang(120)));
    let db = database(backend);
    let child = sync_command(&db, &standin)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while graph_requests(&standin.log(), "directoryAudits").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the sync never reached the audit log"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The process ends abruptly while it waits for the audit log.
    running.0.kill().unwrap();
    running.0.wait().unwrap();
    drop(running);
    let before = standin.log().len();
    let (ok, printed) = run(&mut sync_command(&db, &standin));
    assert!(ok, "{printed}");
    assert!(printed.contains("took up run"), "{printed}");
    for resource in ["users", "members", "registration-details"] {
        assert!(
            summary_line(&printed, resource).contains("stored by the run taken up"),
            "{printed}"
        );
    }
    let log = standin.log();
    let again = &log[before..];
    assert!(
        graph_requests(again, "/v1.0/users").is_empty(),
        "{again:#?}"
    );
    assert!(graph_requests(again, "userRegistrationDetails").is_empty());
    assert!(graph_requests(again, "/groups/").is_empty());
    assert_eq!(
        graph_requests(again, "directoryAudits").len() as u64,
        numbers(summary_line(&printed, "audits"))[0]
    );
    let mut conn = db.connect();
    let runs = syncs::recent_runs(&mut conn, 10).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].outcome.as_deref(), Some("succeeded"));
    let count: i64 = users::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, USERS as i64);
    assert!(!stored_activities(&mut conn).is_empty());
}
db_test!(
    a_sync_cut_short_is_taken_up_where_it_stopped,
    a_sync_cut_short_is_taken_up_where_it_stopped
);

/// `authinsights serve --sync-every EVERY` on `db`, connected to `standin`.
fn serve_with_sync(db: &TestDb, standin: &Standin, every: &str) -> (Running, String) {
    use std::io::{BufRead, BufReader};
    let mut cmd = authinsights();
    connect_to(&mut cmd, standin);
    let child = cmd
        .args([
            "--database-url",
            &db.raw_url,
            "serve",
            "--bind",
            "127.0.0.1:0",
        ])
        .args(["--sync-every", every])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Running(child);
    let stdout = server.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let line = lines.next().expect("the portal serves").unwrap();
        if let Some(rest) = line.strip_prefix("authinsights is serving ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (server, address)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn of_two_portals_with_a_schedule_exactly_one_syncs(backend: Backend) {
    let standin = standin();
    let db = database(backend);
    let out = common::binary::account_add(&db, "owner", "global-administrator", common::PASSWORD);
    assert!(out.status.success(), "{out:?}");
    let (_a, address_a) = serve_with_sync(&db, &standin, "1h");
    let (_b, address_b) = serve_with_sync(&db, &standin, "1h");
    let finished = |conn: &mut DbConnection| {
        syncs::latest_run(conn)
            .unwrap()
            .is_some_and(|r| r.outcome.is_some())
    };
    wait_for("the first scheduled sync", || finished(&mut db.connect()));
    // Both portals have looked at the schedule by now; give the second a
    // moment more to try.
    std::thread::sleep(Duration::from_secs(2));
    let mut conn = db.connect();
    let runs = syncs::recent_runs(&mut conn, 10).unwrap();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].trigger, "schedule");
    assert_eq!(
        runs[0].outcome.as_deref(),
        Some("succeeded"),
        "{}",
        runs[0].message
    );
    let log = standin.log();
    assert_eq!(token_requests(&log), 1, "one portal signed in: {log:#?}");
    assert_eq!(graph_requests(&log, "/v1.0/users").len(), 3);
    let count: i64 = users::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, USERS as i64);

    // Sync now, on the other portal: audited, run once, and shown.
    for address in [&address_a, &address_b] {
        let remote = common::Remote::new(address);
        let client = remote.signed_in("owner", common::PASSWORD).await;
        let page = remote
            .get_as(&client, "/admin/data-sources")
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains(TENANT_ID), "the connection is shown");
        assert!(!page.contains(CLIENT_SECRET), "the secret is never shown");
        assert!(page.contains("Every 1 hour"), "{page}");
    }
    let remote = common::Remote::new(&address_b);
    let client = remote.signed_in("owner", common::PASSWORD).await;
    let response = remote
        .post_form(
            &client,
            "/admin/data-sources",
            "/admin/data-sources/sync",
            &[],
        )
        .await;
    assert_eq!(response.status(), 303);
    wait_for("Sync now", || {
        let mut conn = db.connect();
        syncs::recent_runs(&mut conn, 10).unwrap().len() == 2 && finished(&mut conn)
    });
    let runs = syncs::recent_runs(&mut conn, 10).unwrap();
    assert_eq!(runs[0].trigger, "owner");
    // Each portal counts the syncs it ran (one each, or both on one); both
    // show the same last success, read from the database.
    let key = authinsights::db::api_keys::create_key(
        &mut conn,
        "prometheus",
        true,
        false,
        "test",
        Utc::now().naive_utc(),
    )
    .unwrap()
    .1;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut runs = 0.0;
        let mut last_successes = Vec::new();
        for address in [&address_a, &address_b] {
            let text = common::metrics_text(address, &key).await;
            let value = |name: &str| -> f64 {
                text.lines()
                    .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
                    .unwrap_or_else(|| panic!("{name} in {text}"))
            };
            runs += value("authinsights_sync_runs_total{outcome=\"success\"}");
            assert_eq!(
                value("authinsights_sync_runs_total{outcome=\"failed\"}"),
                0.0
            );
            last_successes.push(value("authinsights_sync_last_success_timestamp_seconds"));
        }
        assert!(
            last_successes[0] > 0.0 && last_successes[0] == last_successes[1],
            "{last_successes:?}"
        );
        if runs == 2.0 {
            break;
        }
        assert!(
            runs < 2.0 && Instant::now() < deadline,
            "{runs} syncs counted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let audit = authinsights::db::audit::entries(&mut conn, None, 10).unwrap();
    assert!(audit
        .iter()
        .any(|e| e.action == "Sync now" && e.actor == "owner"));
    let page = remote
        .get_as(&client, "/admin/data-sources")
        .await
        .text()
        .await
        .unwrap();
    let rows = common::cells(&page, "#resources tbody tr", "td");
    let users_row = rows.iter().find(|r| r[0].starts_with("Users")).unwrap();
    assert_eq!(users_row[2], "stored");
    assert_eq!(users_row[3], "3");
    assert_eq!(users_row[4], "2,500");
    assert_eq!(token_requests(&standin.log()), 2);

    // The schedule set on the page wins over the start setting, for both portals.
    let response = remote
        .post_form(
            &client,
            "/admin/data-sources",
            "/admin/data-sources/schedule",
            &[("every", "off")],
        )
        .await;
    assert_eq!(response.status(), 303);
    for address in [&address_a, &address_b] {
        let remote = common::Remote::new(address);
        let client = remote.signed_in("owner", common::PASSWORD).await;
        let page = remote
            .get_as(&client, "/admin/data-sources")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Off: syncs run only when started here"),
            "{page}"
        );
        assert!(page.contains("none scheduled"), "{page}");
    }
    let response = remote
        .post_form(
            &client,
            "/admin/data-sources",
            "/admin/data-sources/schedule",
            &[("every", "every now and then")],
        )
        .await;
    assert_eq!(response.status(), 400);
}
db_test!(
    of_two_portals_with_a_schedule_exactly_one_syncs,
    of_two_portals_with_a_schedule_exactly_one_syncs
);

/// A self-signed certificate and its key, made by `openssl` as an
/// administrator makes one for an app registration.
fn certificate(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=authinsights sync test"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "{out:?}");
    (cert, key)
}

async fn a_certificate_credential_signs_in(backend: Backend) {
    use base64::Engine;
    use rustls_pki_types::pem::PemObject;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path(), "registered");
    let (_, other_key) = certificate(dir.path(), "other");
    // What the app registration holds once the certificate is uploaded.
    let der = rustls_pki_types::CertificateDer::from_pem_file(&cert).unwrap();
    let thumbprint = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(<sha2::Sha256 as sha2::Digest>::digest(der.as_ref()));
    let private = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_file(&key).unwrap();
    let pair = ring::signature::RsaKeyPair::from_pkcs8(private.secret_pkcs8_der()).unwrap();
    let public = ring::signature::KeyPair::public_key(&pair)
        .as_ref()
        .to_vec();
    let standin = standin();
    standin.accept_certificate(public, thumbprint);
    let db = database(backend);
    let with = |key: &std::path::Path| {
        let mut cmd = sync_command(&db, &standin);
        cmd.args(["--resource", "users"])
            .env_remove("AUTHINSIGHTS_GRAPH_CLIENT_SECRET")
            .env("AUTHINSIGHTS_GRAPH_CERTIFICATE_FILE", &cert)
            .env("AUTHINSIGHTS_GRAPH_CERTIFICATE_KEY_FILE", key);
        cmd
    };
    let (ok, printed) = run(&mut with(&key));
    assert!(ok, "{printed}");
    assert!(printed.contains("(certificate)"), "{printed}");
    assert_eq!(numbers(summary_line(&printed, "users"))[1], 2500);
    // The certificate with a key that is not its own: refused, nothing after.
    let before = standin.log().len();
    let (ok, printed) = run(&mut with(&other_key));
    assert!(!ok);
    assert!(printed.contains("AADSTS700027"), "{printed}");
    assert_eq!(standin.log().len(), before + 1);
}
db_test!(
    a_certificate_credential_signs_in,
    a_certificate_credential_signs_in
);

async fn a_dry_run_stores_nothing_and_since_sets_the_audit_window(backend: Backend) {
    let standin = standin();
    let db = database(backend);
    let (ok, printed) = run(sync_command(&db, &standin).args([
        "--dry-run",
        "--since",
        "2026-11-20",
        "--resource",
        "users,audits",
    ]));
    assert!(ok, "{printed}");
    assert!(
        printed.contains("dry run: nothing will be stored"),
        "{printed}"
    );
    let users_line = summary_line(&printed, "users");
    assert!(
        users_line.ends_with("checked (dry run: nothing stored)"),
        "{printed}"
    );
    assert_eq!(
        numbers(users_line)[..3],
        [3, 2500, 2500],
        "what it would store"
    );
    assert!(
        !printed.contains("registration-details"),
        "only the resources asked for"
    );
    // The audit log is asked from the date given, less the hour for whole flows.
    let log = standin.log();
    let audits = graph_requests(&log, "directoryAudits");
    assert!(!audits.is_empty());
    for request in audits {
        assert!(
            request
                .target
                .contains("activityDateTime ge 2026-11-19T23:00:00Z"),
            "{}",
            request.target
        );
    }
    let mut conn = db.connect();
    let count: i64 = users::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, 0, "a dry run stores nothing");
    assert!(stored_activities(&mut conn).is_empty());
    assert!(syncs::latest_run(&mut conn).unwrap().is_none(), "nor a run");
    let imports: i64 = authinsights::db::schema::imports::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(imports, 0);
}
db_test!(
    a_dry_run_stores_nothing_and_since_sets_the_audit_window,
    a_dry_run_stores_nothing_and_since_sets_the_audit_window
);
