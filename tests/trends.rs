//! Rollout trends over HTTP: the history the writers keep, its markers, the
//! comparison with a day (page, CSV and API), restarts and retention.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::db::{self, schema, DbConnection};
use authinsights::domain::{evaluate, Method, MethodSet, Scope, UserFacts};
use authinsights::ingest::demo::{self, DemoOptions};
use authinsights::service;
use chrono::{Duration, NaiveDate, NaiveDateTime, Utc};
use common::api::Api;
use common::tenant::{build_worked_example, pilot_policy};
use common::{texts, Backend, TestApp, ADMIN, PASSWORD};
use diesel::prelude::*;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

const FIGURES: [&str; 5] = [
    "registered",
    "enabled",
    "capable",
    "mfaCapable",
    "passwordlessCapable",
];

/// The overview's five tiles as the API gives them.
async fn tiles(api: &Api<'_>) -> HashMap<String, i64> {
    let (status, overview) = api.get("/api/v1/overview").await;
    assert_eq!(status, 200);
    overview["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().to_string(),
                t["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// A day of the trends as figure → users.
fn day_figures(day: &Value) -> HashMap<String, i64> {
    FIGURES
        .iter()
        .map(|f| (f.to_string(), day[*f].as_i64().unwrap()))
        .collect()
}

async fn trends(api: &Api<'_>, query: &str) -> Value {
    let (status, body) = api.get(&format!("/api/v1/trends{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    body
}

fn change_policy_to_none(conn: &mut DbConnection) {
    service::policy::save_policy(conn, "Grace Admin", &pilot_policy(Scope::None), |_, r| {
        format!("scope: none; {} users changed", r.changed)
    })
    .unwrap();
}

async fn follows_writes_and_survives_a_restart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(build_worked_example);
    let api = Api::new(&app);
    let today = Utc::now().date_naive().to_string();

    // The history begins with the writes: today, with the tiles' figures.
    let t = trends(&api, "").await;
    let days = t["days"].as_array().unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(days[0]["date"], today.as_str());
    assert_eq!(day_figures(&days[0]), tiles(&api).await);
    assert_eq!(tiles(&api).await["capable"], 4);

    // A policy change moves the figures and is marked on its day.
    app.with_conn(change_policy_to_none);
    let t = trends(&api, "").await;
    let last = t["days"].as_array().unwrap().last().unwrap().clone();
    let now = tiles(&api).await;
    assert_eq!(day_figures(&last), now);
    // Only the administrators stay enabled, and only Fay capable.
    assert_eq!((now["enabled"], now["capable"]), (2, 1));
    let markers = t["markers"].as_array().unwrap();
    assert_eq!(markers.len(), 1, "{markers:?}");
    assert_eq!(markers[0]["kind"], "policy");
    assert!(markers[0]["dateTime"].as_str().unwrap().starts_with(&today));
    assert!(markers[0]["text"].as_str().unwrap().contains("Grace Admin"));

    // The page draws the marker on every figure's chart and lists it.
    let html = app.get("/trends").await.text().await.unwrap();
    assert_eq!(texts(&html, ".trend-panel").len(), 5);
    let doc = scraper::Html::parse_document(&html);
    let lines = scraper::Selector::parse(".trend-panel line.marker-policy").unwrap();
    assert_eq!(doc.select(&lines).count(), 5);
    assert!(texts(&html, ".markers li")[0].contains("scope: none"));
    assert_eq!(
        texts(&html, "#trend-capable .trend-latest"),
        [now["capable"].to_string()]
    );

    // A new process on the same database shows the same history.
    let before = t.clone();
    let TestApp { db, .. } = app;
    let restarted = TestApp::spawn_on(db);
    let client = restarted.signed_in(ADMIN, PASSWORD).await;
    let response = restarted.get_as(&client, "/api/v1/trends").await;
    assert_eq!(response.status(), 200);
    let after: Value = response.json().await.unwrap();
    assert_eq!(after["days"], before["days"]);
    assert_eq!(after["markers"], before["markers"]);
}
db_test!(
    trends_follow_writes_and_survive_a_restart,
    follows_writes_and_survives_a_restart
);

/// A portal with a demo tenant of `users` over 30 days (with its history),
/// and the demo's "now".
async fn demo_tenant(backend: Backend, users: u64, seed: u64) -> (TestApp, NaiveDateTime) {
    let app = TestApp::spawn(backend).await;
    let now = Utc::now().naive_utc();
    app.with_conn(|conn| {
        let options = DemoOptions {
            users,
            days: 30,
            seed,
            events_per_user_day: 0.3,
            now,
        };
        demo::generate(conn, &options, false).unwrap();
    });
    (app, now)
}

/// Users' statuses at `at` from what the database holds: the methods each
/// registered before it, under the stored policy and memberships.
fn capable_at(conn: &mut DbConnection, at: NaiveDateTime) -> HashMap<String, bool> {
    let policy = db::directory::load_policy(conn).unwrap();
    let group = policy.scope.group_id().map(str::to_string);
    let users: Vec<(String, bool, bool)> = schema::users::table
        .select((
            schema::users::id,
            schema::users::is_guest,
            schema::users::is_admin,
        ))
        .load(conn)
        .unwrap();
    let methods: Vec<(String, i32, Option<NaiveDateTime>)> = schema::user_methods::table
        .select((
            schema::user_methods::user_id,
            schema::user_methods::method,
            schema::user_methods::registered_at,
        ))
        .load(conn)
        .unwrap();
    let members: BTreeSet<String> = schema::group_members::table
        .filter(schema::group_members::group_id.eq(group.unwrap_or_default()))
        .select(schema::group_members::user_id)
        .load(conn)
        .unwrap()
        .into_iter()
        .collect();
    let mut sets: HashMap<String, MethodSet> = HashMap::new();
    for (user, code, registered_at) in methods {
        if registered_at.is_some_and(|r| r < at) {
            sets.entry(user)
                .or_default()
                .insert(Method::from_code(code).unwrap());
        }
    }
    users
        .into_iter()
        .map(|(id, is_guest, is_admin)| {
            let facts = UserFacts {
                is_guest,
                is_admin,
                in_policy_group: members.contains(&id),
                methods: sets.get(&id).copied().unwrap_or_default(),
            };
            let capable = evaluate(&policy, &facts).capable;
            (id, capable)
        })
        .collect()
}

fn ids(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect()
}

async fn since_lists_who_changed(backend: Backend) {
    let (app, now) = demo_tenant(backend, 600, 7).await;
    let api = Api::new(&app);
    let since: NaiveDate = now.date() - Duration::days(12);
    let start = since.and_time(chrono::NaiveTime::MIN);

    // Who became capable since, worked out from the registered methods.
    let (then, current) = app.with_conn(|conn| (capable_at(conn, start), capable_at(conn, now)));
    let gained: BTreeSet<String> = current
        .iter()
        .filter(|(id, c)| **c && !then[*id])
        .map(|(id, _)| id.clone())
        .collect();
    let lost: BTreeSet<String> = current
        .iter()
        .filter(|(id, c)| !**c && then[*id])
        .map(|(id, _)| id.clone())
        .collect();
    assert!(
        gained.len() >= 5,
        "the demo has a campaign: {}",
        gained.len()
    );

    let t = trends(&api, &format!("?since={since}")).await;
    let c = &t["comparison"];
    assert_eq!(c["figure"], "capable");
    assert_eq!(ids(&c["gained"]), gained);
    assert_eq!(ids(&c["lost"]), lost);
    let capable_now = current.values().filter(|c| **c).count() as i64;
    let capable_then = then.values().filter(|c| **c).count() as i64;
    assert_eq!(c["now"], capable_now);
    assert_eq!(c["then"], capable_then);
    assert_eq!(c["change"], capable_now - capable_then);
    assert_eq!(tiles(&api).await["capable"], capable_now);
    // The history agrees: the day before `since` ended with `then`.
    let days = t["days"].as_array().unwrap();
    assert_eq!(days.len(), 30, "the retention window, to today");
    let eve = (since - Duration::days(1)).to_string();
    let day_before = days.iter().find(|d| d["date"] == eve.as_str()).unwrap();
    assert_eq!(day_before["capable"], capable_then);

    // The page says it, lists them and offers the same list as CSV.
    let html = app
        .get(&format!("/trends?since={since}"))
        .await
        .text()
        .await
        .unwrap();
    let summary = texts(&html, "#since-summary").join(" ");
    assert!(
        summary.contains(&format!("+{} capable", capable_now - capable_then)),
        "{summary}"
    );
    assert_eq!(
        texts(&html, ".since table.list tbody tr").len(),
        gained.len() + lost.len()
    );
    let csv = app
        .get(&format!("/trends.csv?since={since}"))
        .await
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let csv_ids: BTreeSet<String> = rows.iter().map(|r| r[2].to_string()).collect();
    assert_eq!(csv_ids, &gained | &lost);
    assert!(rows.iter().all(|r| &r[3] == "capable" && &r[4] == "became"));

    // A writer takes every method from a capable user: they stopped being
    // capable since then, and "then" stays what it was.
    let leaver = gained.iter().next().unwrap().clone();
    app.with_conn(|conn| {
        let policy = db::directory::load_policy(conn).unwrap();
        db::directory::set_user_methods(conn, &policy, &leaver, &[], Utc::now().naive_utc())
            .unwrap();
    });
    let c = trends(&api, &format!("?since={since}")).await["comparison"].clone();
    assert!(!ids(&c["gained"]).contains(&leaver));
    assert_eq!(c["then"], capable_then);
    assert_eq!(c["now"], capable_now - 1);
    let today = Utc::now().date_naive();
    let c = trends(&api, &format!("?since={today}")).await["comparison"].clone();
    assert!(ids(&c["lost"]).contains(&leaver), "{c}");

    // Another figure, and the requests the portal refuses.
    let c = trends(&api, &format!("?since={since}&figure=mfaCapable")).await["comparison"].clone();
    assert_eq!(c["figure"], "mfaCapable");
    for bad in [
        format!("since={}", today - Duration::days(40)),
        format!("since={}", today + Duration::days(1)),
        "since=last-week".to_string(),
        "figure=happy".to_string(),
        "range=7d".to_string(),
    ] {
        let (status, body) = api.get(&format!("/api/v1/trends?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        let page = app.get(&format!("/trends?{bad}")).await;
        assert_eq!(page.status(), 400, "{bad}");
        let csv = app.get(&format!("/trends.csv?{bad}")).await;
        assert_eq!(csv.status(), 400, "{bad}");
    }
    assert_eq!(
        app.get("/trends.csv").await.status(),
        400,
        "a download needs since"
    );
}
db_test!(
    since_lists_the_users_whose_figure_changed,
    since_lists_who_changed
);

async fn retention_keeps_the_window(backend: Backend) {
    let (app, now) = demo_tenant(backend, 300, 3).await;
    let api = Api::new(&app);
    let before = trends(&api, "").await["days"].as_array().unwrap().clone();
    let cutoff = now - Duration::days(10);
    app.with_conn(|conn| {
        service::retention::prune(conn, "test", cutoff, Utc::now().naive_utc()).unwrap();
    });
    let after = trends(&api, "").await["days"].as_array().unwrap().clone();
    assert_eq!(after[0]["date"], cutoff.date().to_string().as_str());
    // Every day kept shows what it showed before the prune.
    let kept: Vec<&Value> = before
        .iter()
        .filter(|d| d["date"].as_str().unwrap() >= cutoff.date().to_string().as_str())
        .collect();
    assert_eq!(after.iter().collect::<Vec<_>>(), kept);
    // Changes before the window are gone, so a comparison cannot start there.
    let (status, body) = api
        .get(&format!(
            "/api/v1/trends?since={}",
            cutoff.date() - Duration::days(2)
        ))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["parameter"], "since");
}
db_test!(
    retention_folds_the_history_and_keeps_the_window,
    retention_keeps_the_window
);
