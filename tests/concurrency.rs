//! Several writers on two instances at once, on both backends: live-ingest
//! batches that register methods for the same users, policy saves and
//! verdict-source switches, an upload through Admin › Imports and Microsoft
//! Graph exports (a user's verdicts, events of a user not yet in the
//! directory, then the whole export that brings that user and leaves the
//! first one's verdicts stale), and `authinsights sync` pulling a tenant
//! from the Graph stand-in page by page, all interleaved. Nobody gets a
//! 5xx, the sync stores every resource, and
//! afterwards everything maintained equals a recount from the rows: users
//! per status combination, events and activities per hour and per day, and
//! every user's verdict what the rules give for their stored methods.
//!
//! And the lists' counts, which each instance keeps per data version: a list
//! read on one instance counts what the other instance has just written.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::db;
use authinsights::db::counts::rebuild_status_counts;
use authinsights::db::overview::status_totals;
use authinsights::ingest::demo::{self, DemoOptions};
use common::aggregates::{recount, stored_activities, stored_aggregates, stored_events};
use common::{input_value, Backend, Remote, TestApp};
use diesel::prelude::*;
use serde_json::{json, Value};

/// Users every writer works on.
const USERS: usize = 40;
/// Ingest writers, each sending this many batches.
const INGEST_WRITERS: usize = 6;
const BATCHES: usize = 8;

fn iso_minutes_ago(m: i64) -> String {
    let at = chrono::Utc::now() - chrono::Duration::minutes(m);
    format!("{}Z", at.format("%Y-%m-%dT%H:%M:%S"))
}

/// An activity of `user` that registers `method`, or a reset or an account
/// unlock with it.
fn activity(id: &str, user: &str, method: &str, feature: &str, minutes_ago: i64) -> Value {
    json!({
        "id": id,
        "user_id": user,
        "feature": feature,
        "result": "succeeded",
        "occurred_at": iso_minutes_ago(minutes_ago),
        "events": [{ "id": format!("{id}-e"), "method": method, "success": true }]
    })
}

const METHODS: [&str; 5] = [
    "email",
    "mobile_sms",
    "app_code",
    "app_notification",
    "security_questions",
];

/// Batch `b` of writer `w`: five activities spread over the shared users,
/// so every writer touches users the others touch too.
fn batch(users: &[String], w: usize, b: usize) -> Value {
    let activities: Vec<Value> = (0..5)
        .map(|i| {
            let n = w * 7 + b * 5 + i;
            activity(
                &format!("w{w}-b{b}-{i}"),
                &users[n % users.len()],
                METHODS[n % METHODS.len()],
                // Unlocks too: their aggregates must also equal a recount.
                match i {
                    3 => "unlock",
                    4 => "reset",
                    _ => "registration",
                },
                (n % 600) as i64 + 1,
            )
        })
        .collect();
    json!({ "activities": activities })
}

async fn ingest_writer(remote: Remote, key: String, users: Vec<String>, w: usize) -> Vec<u16> {
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for b in 0..BATCHES {
        let body = batch(&users, w, b);
        let response = client
            .post(format!("{}/api/v1/events", remote.address))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    // A batch sent twice stores nothing the second time.
    let again = client
        .post(format!("{}/api/v1/events", remote.address))
        .bearer_auth(&key)
        .json(&batch(&users, w, 0))
        .send()
        .await
        .unwrap();
    statuses.push(again.status().as_u16());
    statuses
}

async fn policy_writer(remote: Remote, client: reqwest::Client) -> Vec<u16> {
    let mut statuses = Vec::new();
    for round in 0..6 {
        let fields: Vec<(&str, &str)> = if round % 2 == 0 {
            vec![
                ("scope", "all"),
                ("methods_required", "2"),
                ("allow-email", "on"),
                ("allow-mobile_phone", "on"),
                ("allow-app_code", "on"),
            ]
        } else {
            vec![
                ("scope", "all"),
                ("methods_required", "1"),
                ("allow-email", "on"),
                ("allow-mobile_phone", "on"),
                ("allow-security_questions", "on"),
            ]
        };
        let response = remote
            .post_form(&client, "/admin/policy", "/admin/policy", &fields)
            .await;
        statuses.push(response.status().as_u16());
        // Which statuses users with directory verdicts show, switched too.
        let source = if round % 2 == 0 {
            "policy"
        } else {
            "directory"
        };
        let response = remote
            .post_form(
                &client,
                "/admin/policy",
                "/admin/policy/verdict-source",
                &[("source", source)],
            )
            .await;
        statuses.push(response.status().as_u16());
    }
    statuses
}

async fn import_writer(remote: Remote, client: reqwest::Client, users: Vec<String>) -> Vec<u16> {
    let mut statuses = Vec::new();
    for round in 0..2 {
        let lines: Vec<String> = (0..60)
            .map(|i| {
                let n = round * 60 + i;
                activity(
                    &format!("upload-{n}"),
                    &users[(n * 3) % users.len()],
                    METHODS[(n + 2) % METHODS.len()],
                    match n % 6 {
                        0 => "reset",
                        3 => "unlock",
                        _ => "registration",
                    },
                    (n % 300) as i64 + 5,
                )
                .to_string()
            })
            .collect();
        let file = format!("activities-{round}.jsonl");
        let status = upload(&remote, &client, "activities", &file, lines.join("\n")).await;
        statuses.push(status);
    }
    statuses
}

/// Uploads one file of `kind` through Admin › Imports; the answer's status.
async fn upload(
    remote: &Remote,
    client: &reqwest::Client,
    kind: &'static str,
    file: &str,
    text: String,
) -> u16 {
    let page = remote
        .get_as(client, "/admin/imports")
        .await
        .text()
        .await
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("csrf", input_value(&page, "csrf"))
        .text("kind", kind)
        .part(
            "files",
            reqwest::multipart::Part::bytes(text.into_bytes()).file_name(file.to_string()),
        );
    client
        .post(format!("{}/admin/imports", remote.address))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Uploads one Graph export file.
async fn upload_graph(remote: &Remote, client: &reqwest::Client, name: &str, body: Value) -> u16 {
    let page = remote
        .get_as(client, "/admin/imports")
        .await
        .text()
        .await
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("csrf", input_value(&page, "csrf"))
        .text("kind", "graph")
        .part(
            "files",
            reqwest::multipart::Part::bytes(body.to_string().into_bytes())
                .file_name(name.to_string()),
        );
    client
        .post(format!("{}/admin/imports", remote.address))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The user a Graph export names before the directory holds them.
const LATE_USER: &str = "graph-late";

/// Graph exports: an events summary naming stored users and one the
/// directory does not hold yet, then the registration details that bring
/// that user.
async fn graph_writer(remote: Remote, client: reqwest::Client, users: Vec<String>) -> Vec<u16> {
    let mut records: Vec<Value> = (0..30)
        .map(|n| {
            let method = [
                "email",
                "mobileSMS",
                "appNotification",
                "unknownFutureValue",
            ][n % 4];
            json!({
                "id": users[(n * 7) % users.len()],
                "feature": if n % 2 == 0 { "registration" } else { "reset" },
                "userPrincipalName": format!("user{n}@contoso.example"),
                "userDisplayName": "",
                "isSuccess": n % 3 != 0,
                "authMethod": method,
                "failureReason": if n % 3 != 0 { "" } else { "Code expired" },
                "eventDateTime": iso_minutes_ago(n as i64 * 11 + 3),
            })
        })
        .collect();
    for n in 0..5 {
        records.push(json!({
            "id": LATE_USER,
            "feature": "reset",
            "userPrincipalName": "late@contoso.example",
            "userDisplayName": "Late Arrival",
            "isSuccess": true,
            "authMethod": "email",
            "failureReason": "",
            "eventDateTime": iso_minutes_ago(n * 17 + 1),
        }));
    }
    let summary = json!({
        "@odata.context": "https://graph.microsoft.com/beta/$metadata#reports/authenticationMethods/userEventsSummary",
        "value": records,
    });
    // A whole registration-details export stating a stored user's verdicts;
    // the later one, which does not list that user, makes them stale.
    let verdicts = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#reports/authenticationMethods/userRegistrationDetails",
        "value": [{
            "id": users[0],
            "userPrincipalName": "stated@contoso.example",
            "userDisplayName": "Stated Verdicts",
            "isSsprRegistered": true,
            "isSsprCapable": true,
        }],
    });
    let directory = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#reports/authenticationMethods/userRegistrationDetails",
        "value": [{
            "id": LATE_USER,
            "userPrincipalName": "late@contoso.example",
            "userDisplayName": "Late Arrival",
            "userType": "member",
            "isAdmin": false,
            "isSsprRegistered": true,
            "methodsRegistered": ["email", "macOsSecureEnclaveKey"],
        }],
    });
    vec![
        upload_graph(&remote, &client, "verdicts.json", verdicts).await,
        upload_graph(&remote, &client, "summary.json", summary).await,
        upload_graph(&remote, &client, "directory.json", directory).await,
    ]
}

/// A demo tenant of [`USERS`] users (generated with `seed`), their ids in
/// order, and an ingest key.
fn tenant_with_ingest_key(app: &TestApp, seed: u64) -> (Vec<String>, String) {
    app.with_conn(|conn| {
        let options = DemoOptions {
            users: USERS as u64,
            days: 2,
            seed,
            events_per_user_day: 0.5,
            now: chrono::Utc::now().naive_utc(),
        };
        demo::generate(conn, &options, false).unwrap();
        let users: Vec<String> = db::schema::users::table
            .select(db::schema::users::id)
            .order(db::schema::users::id)
            .load(conn)
            .unwrap();
        assert_eq!(users.len(), USERS);
        let now = chrono::Utc::now().naive_utc();
        let key = db::api_keys::create_key(conn, "sender", false, true, "test", now)
            .unwrap()
            .1;
        (users, key)
    })
}

async fn writers_on_two_instances(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (users, key) = tenant_with_ingest_key(&app, 3);
    let first = Remote::new(&app.address);
    let second = app.second_instance();
    let instance = |i: usize| {
        Remote::new(if i.is_multiple_of(2) {
            &first.address
        } else {
            &second.address
        })
    };
    let admin = app.client.clone();

    let mut ingest = Vec::new();
    for w in 0..INGEST_WRITERS {
        ingest.push(actix_rt::spawn(ingest_writer(
            instance(w),
            key.clone(),
            users.clone(),
            w,
        )));
    }
    let policy = actix_rt::spawn(policy_writer(instance(1), admin.clone()));
    let import = actix_rt::spawn(import_writer(instance(0), admin.clone(), users.clone()));
    let graph = actix_rt::spawn(graph_writer(instance(1), admin.clone(), users.clone()));
    // A third process: a sync of 200 users in pages of 50, each resource
    // one import. (The group's members are left out, since the policy
    // writer keeps changing the SSPR group, and so are the registration
    // details: a whole export of another tenant would make the Graph
    // writer's users stale, or they it, whichever came last.)
    use authinsights::sync::standin::{Standin, Tenant};
    let standin =
        Standin::start(Tenant::generate(200, chrono::Utc::now().naive_utc()), 50).unwrap();
    let mut sync = common::binary::authinsights();
    sync.args(["--database-url", &app.db.raw_url, "sync"])
        .args(["--resource", "users,audits,events-summary"])
        .env("AUTHINSIGHTS_GRAPH_URL", &standin.url)
        .env("AUTHINSIGHTS_GRAPH_LOGIN_URL", &standin.url)
        .env(
            "AUTHINSIGHTS_GRAPH_TENANT_ID",
            authinsights::sync::standin::TENANT_ID,
        )
        .env(
            "AUTHINSIGHTS_GRAPH_CLIENT_ID",
            authinsights::sync::standin::CLIENT_ID,
        )
        .env(
            "AUTHINSIGHTS_GRAPH_CLIENT_SECRET",
            authinsights::sync::standin::CLIENT_SECRET,
        );
    let sync = actix_rt::task::spawn_blocking(move || sync.output().unwrap());

    let mut statuses = Vec::new();
    for writer in ingest {
        statuses.extend(writer.await.unwrap());
    }
    let policy = policy.await.unwrap();
    let import = import.await.unwrap();
    let graph = graph.await.unwrap();
    let synced = sync.await.unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&synced.stdout),
        String::from_utf8_lossy(&synced.stderr)
    );
    assert!(
        synced.status.success(),
        "the sync stores everything: {printed}"
    );
    let pulled: i64 = app.with_conn(|conn| {
        db::schema::users::table
            .filter(db::schema::users::id.like("5a5a0000-%"))
            .count()
            .get_result(conn)
            .unwrap()
    });
    assert_eq!(pulled, 200, "{printed}");
    assert!(
        statuses.iter().all(|s| *s == 200),
        "every ingest batch is stored: {statuses:?}"
    );
    assert!(
        policy.iter().all(|s| *s == 303),
        "policy and verdict-source saves: {policy:?}"
    );
    assert!(import.iter().all(|s| *s == 200), "uploads: {import:?}");
    assert_eq!(graph, [200, 200, 200], "Graph uploads");

    app.with_conn(|conn| {
        // Every batch and upload is there, each activity once.
        let activities = stored_activities(conn);
        let sent = activities
            .iter()
            .filter(|a| a.id.starts_with('w') || a.id.starts_with("upload-"))
            .count();
        assert_eq!(
            sent,
            INGEST_WRITERS * BATCHES * 5 + 120,
            "each activity once"
        );
        // The Graph events are all there; the late user's are theirs now,
        // and no event is left outside the directory.
        let events = stored_events(conn);
        // (The sync's events summary is the stand-in's users'.)
        let graph_events = events
            .iter()
            .filter(|e| e.id.starts_with("ues-"))
            .filter(|e| !e.user_id.starts_with("5a5a0000-"))
            .count();
        assert_eq!(graph_events, 35, "each Graph event once");
        assert_eq!(
            events.iter().filter(|e| e.user_id == LATE_USER).count(),
            5,
            "the late user's events are theirs"
        );
        let outside: i64 = db::schema::method_events::table
            .filter(db::schema::method_events::user_principal_name.is_not_null())
            .count()
            .get_result(conn)
            .unwrap();
        assert_eq!(outside, 0, "no event left outside the directory");
        // The user the last whole export left out has stale verdicts.
        let stale: Vec<String> = db::schema::users::table
            .filter(db::schema::users::verdicts_stale.eq(true))
            .select(db::schema::users::id)
            .load(conn)
            .unwrap();
        assert_eq!(stale, [users[0].clone()], "stale verdicts");
        // Events and activities per hour and per day equal a recount.
        assert_eq!(stored_aggregates(conn), recount(&activities, &events));
        // The trend history ends today with the figures the users have,
        // and each user's last recorded change is the user's status now.
        let today = chrono::Utc::now().date_naive();
        let history = db::trends::daily_figures(conn, today, today).unwrap()[0].1;
        let mut counted = db::trends::StatusFigures::default();
        let keys: Vec<i64> = db::schema::users::table
            .select(db::schema::users::status_key)
            .load(conn)
            .unwrap();
        for key in &keys {
            counted.add(((key >> 32) & 0x1f) as i32, 1);
        }
        assert_eq!(history, counted, "the trend history's today");
        let changes: Vec<(String, i32)> = db::schema::status_changes::table
            .order(db::schema::status_changes::id)
            .select((
                db::schema::status_changes::user_id,
                db::schema::status_changes::status_after,
            ))
            .load(conn)
            .unwrap();
        let last: std::collections::HashMap<String, i32> = changes.into_iter().collect();
        let now: std::collections::HashMap<String, i32> = db::schema::users::table
            .select((db::schema::users::id, db::schema::users::status_key))
            .load::<(String, i64)>(conn)
            .unwrap()
            .into_iter()
            .map(|(id, key)| (id, ((key >> 32) & 0x1f) as i32))
            .collect();
        for (user, after) in &last {
            assert_eq!(now.get(user), Some(after), "{user}'s last change");
        }
        // Users per status combination equal a recount.
        let maintained = status_totals(conn).unwrap();
        rebuild_status_counts(conn).unwrap();
        assert_eq!(status_totals(conn).unwrap(), maintained);
        // Every verdict is what the rules give for the stored methods: the
        // stored policy, evaluated afresh, changes nobody.
        let policy = db::directory::load_policy(conn).unwrap();
        let again = db::directory::save_policy(conn, &policy, Some("test")).unwrap();
        assert_eq!(
            again.changed, 0,
            "re-evaluating changed {} users",
            again.changed
        );
        assert_eq!(
            again.users,
            USERS as u64 + 1 + 200,
            "the demo's users, the late one and the 200 synced"
        );
    });
}
db_test!(
    writers_on_two_instances_leave_counts_equal_to_a_recount,
    writers_on_two_instances
);

/// The count of a list as the API gives it.
async fn api_count(remote: &Remote, client: &reqwest::Client, path: &str) -> i64 {
    let body: Value = remote.get_as(client, path).await.json().await.unwrap();
    body["count"]
        .as_i64()
        .unwrap_or_else(|| panic!("{path}: {body}"))
}

/// Each instance keeps the counts its lists read per data version: a list
/// read on one instance right after another instance wrote counts the new
/// rows, on every list, with no wait.
async fn lists_count_what_another_instance_just_wrote(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (users, key) = tenant_with_ingest_key(&app, 5);
    let reader = Remote::new(&app.address);
    let writer = app.second_instance();
    let client = app.client.clone();
    let lists = [
        "/api/v1/registrations",
        "/api/v1/activity",
        "/api/v1/activity?feature=registration&method=email",
        "/api/v1/reports/registration-activity",
        "/api/v1/reports/reset-activity",
    ];
    for round in 0..3 {
        // Read twice, so the second answer comes from the instance's cache.
        let mut before = Vec::new();
        for path in lists {
            api_count(&reader, &client, path).await;
            before.push(api_count(&reader, &client, path).await);
        }
        // Four registrations with email and a reset, through the other instance.
        let activities: Vec<Value> = (0..5)
            .map(|i| {
                activity(
                    &format!("fresh-{round}-{i}"),
                    &users[(round * 5 + i) % users.len()],
                    "email",
                    if i == 4 { "reset" } else { "registration" },
                    i as i64 + 1,
                )
            })
            .collect();
        let sent = reqwest::Client::new()
            .post(format!("{}/api/v1/events", writer.address))
            .bearer_auth(&key)
            .json(&json!({ "activities": activities }))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 200);
        // And a new user, through an upload on the other instance.
        let users_csv = format!(
            "id,display_name,user_principal_name\nfresh-user-{round},Fresh {round},fresh{round}@contoso.example\n"
        );
        assert_eq!(
            upload(&writer, &client, "users", "users.csv", users_csv).await,
            200
        );
        let mut after = Vec::new();
        for path in lists {
            after.push(api_count(&reader, &client, path).await);
        }
        assert_eq!(
            after,
            [
                before[0] + 1,
                before[1] + 5,
                before[2] + 4,
                before[3] + 4,
                before[4] + 1
            ],
            "round {round}: {lists:?}"
        );
    }
}
db_test!(
    lists_count_what_another_instance_just_wrote_at_once,
    lists_count_what_another_instance_just_wrote
);
