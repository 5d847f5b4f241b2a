//! Data in over HTTP, as a script or an administrator sees it, on both
//! backends: live ingest (`POST /api/v1/events` with an API key) and
//! Admin › Imports (the upload form, its result pages, the recent imports
//! and the retention setting).

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::accounts::Role;
use authinsights::db;
use authinsights::db::schema::{activities, method_events};
use chrono::{Duration, NaiveDateTime, Utc};
use common::tenant::build_worked_example;
use common::{
    input_value, multipart, post_multipart, rows, texts, Backend, TestApp, BOUNDARY, PASSWORD,
};
use diesel::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};

// ---------------------------------------------------------------------------
// Helpers: keys, batches, what the pages show

/// A new API key's secret.
fn make_key(app: &TestApp, name: &str, read: bool, ingest: bool) -> String {
    app.with_conn(|conn| {
        let now = Utc::now().naive_utc();
        let (_, secret) = db::api_keys::create_key(conn, name, read, ingest, "test", now).unwrap();
        secret
    })
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// RFC 3339 in UTC, as a sender writes it.
fn iso(at: NaiveDateTime) -> String {
    format!("{}Z", at.format("%Y-%m-%dT%H:%M:%S"))
}

fn minutes_ago(m: i64) -> String {
    iso(now() - Duration::minutes(m))
}

/// Posts raw bytes to the ingest endpoint with a fresh client (no session).
async fn post_raw(app: &TestApp, key: Option<&str>, body: Vec<u8>) -> reqwest::Response {
    let mut request = app
        .anonymous()
        .post(format!("{}/api/v1/events", app.address))
        .header("content-type", "application/json")
        .body(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.expect("the ingest endpoint answers")
}

/// Posts a batch; returns the status and the JSON answer.
async fn send_batch(app: &TestApp, key: &str, body: &Value) -> (u16, Value) {
    let response = post_raw(app, Some(key), serde_json::to_vec(body).unwrap()).await;
    json_answer(response).await
}

async fn json_answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the answer ({status}) is not JSON ({e}): {text}"));
    (status, value)
}

/// Activities and method events stored.
fn stored(app: &TestApp) -> (i64, i64) {
    app.with_conn(|conn| {
        let a: i64 = activities::table.count().get_result(conn).unwrap();
        let e: i64 = method_events::table.count().get_result(conn).unwrap();
        (a, e)
    })
}

fn number(text: &str) -> i64 {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("a number: {text:?}"))
}

fn attr(html: &str, selector: &str, name: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr(name))
        .map(str::to_string)
}

fn count(html: &str, selector: &str) -> usize {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel).count()
}

/// The cells (`td`, `th`) of each row matching `selector`, as trimmed texts.
fn cells(html: &str, selector: &str) -> Vec<Vec<String>> {
    common::cells(html, selector, "td, th")
}

/// What the overview shows of the data: users, tiles, both charts' numbers
/// tables (method → success, failure) and "Last refreshed".
#[derive(Debug, Clone, PartialEq, Eq)]
struct Overview {
    users: i64,
    tiles: Vec<String>,
    registrations: BTreeMap<String, (i64, i64)>,
    resets: BTreeMap<String, (i64, i64)>,
    refreshed: String,
}

fn chart(html: &str, id: &str) -> BTreeMap<String, (i64, i64)> {
    let table = cells(html, &format!("#chart-{id} table.chart-table tbody tr"));
    assert!(!table.is_empty(), "the {id} chart has a numbers table");
    table
        .into_iter()
        .map(|row| {
            assert_eq!(row.len(), 3, "method, success, failure: {row:?}");
            (row[0].clone(), (number(&row[1]), number(&row[2])))
        })
        .collect()
}

async fn overview(app: &TestApp) -> Overview {
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let lede = texts(&html, "p.lede");
    let users = number(lede[0].split_whitespace().next().unwrap());
    Overview {
        users,
        tiles: texts(&html, ".tiles .tile"),
        registrations: chart(&html, "registrations"),
        resets: chart(&html, "resets"),
        refreshed: attr(&html, "p.refreshed time", "datetime")
            .expect("the overview says when it was last refreshed"),
    }
}

/// `chart` with `(method, success, failure)` added to its numbers.
fn plus(
    chart: &BTreeMap<String, (i64, i64)>,
    add: &[(&str, i64, i64)],
) -> BTreeMap<String, (i64, i64)> {
    let mut out = chart.clone();
    for (method, s, f) in add {
        let entry = out
            .get_mut(*method)
            .unwrap_or_else(|| panic!("the chart has a row for {method}: {chart:?}"));
        entry.0 += s;
        entry.1 += f;
    }
    out
}

async fn page(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.text().await.unwrap()
}

/// The figure → verdict pairs of a user's page ("Registered" → "Not registered").
fn verdicts(html: &str) -> BTreeMap<String, String> {
    let doc = scraper::Html::parse_document(html);
    let item = scraper::Selector::parse(".explain-item").unwrap();
    let dt = scraper::Selector::parse("dt").unwrap();
    let verdict = scraper::Selector::parse(".verdict").unwrap();
    doc.select(&item)
        .map(|i| {
            let text = |sel: &scraper::Selector| {
                i.select(sel)
                    .next()
                    .map(|e| e.text().collect::<String>().trim().to_string())
                    .unwrap_or_default()
            };
            (text(&dt), text(&verdict).trim_end_matches('.').to_string())
        })
        .collect()
}

/// A batch of the worked example's users: Ana resets with SMS (success) and
/// email (failure); Eve's reset fails on the office phone; Cai registers
/// the app notification.
fn good_batch(tag: &str) -> Value {
    json!({ "activities": [
        {
            "id": format!("{tag}-a1"),
            "user_id": "u-ana",
            "user_principal_name": "ana@contoso.example",
            "user_display_name": "Ana",
            "user_role": "User",
            "feature": "reset",
            "result": "succeeded",
            "details": "succeeded",
            "occurred_at": minutes_ago(90),
            "events": [
                { "id": format!("{tag}-e1"), "method": "email", "success": false,
                  "failure_reason": "Invalid verification code", "occurred_at": minutes_ago(91) },
                { "id": format!("{tag}-e2"), "method": "mobile_sms", "success": true,
                  "occurred_at": minutes_ago(90) }
            ]
        },
        {
            "id": format!("{tag}-a2"),
            "user_id": "u-eve",
            "user_principal_name": "eve@contoso.example",
            "user_display_name": "Eve",
            "feature": "reset",
            "result": "failed",
            "occurred_at": minutes_ago(150),
            "events": [
                { "id": format!("{tag}-e3"), "method": "office_call", "success": false,
                  "failure_reason": "Call not answered" }
            ]
        },
        {
            "id": format!("{tag}-a3"),
            "user_id": "u-cai",
            "user_principal_name": "cai@contoso.example",
            "user_display_name": "Cai",
            "feature": "registration",
            "result": "succeeded",
            "occurred_at": minutes_ago(30),
            "events": [
                { "id": format!("{tag}-e4"), "method": "app_notification", "success": true }
            ]
        }
    ]})
}

/// One successful reset by `user` with one email event, a quarter of an hour ago.
fn one_reset(id: &str, user: &str) -> Value {
    json!({
        "id": id, "user_id": user, "user_principal_name": format!("{user}@contoso.example"),
        "feature": "reset", "result": "succeeded", "details": "succeeded",
        "occurred_at": minutes_ago(15),
        "events": [{ "id": format!("{id}-e1"), "method": "email", "success": true }]
    })
}

/// A portal with the worked example and an ingest key.
async fn tenant(backend: Backend) -> (TestApp, String) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(build_worked_example);
    let key = make_key(&app, "hook", false, true);
    (app, key)
}

// ---------------------------------------------------------------------------
// Live ingest

async fn ingest_shows_on_the_pages(backend: Backend) {
    let (app, key) = tenant(backend).await;
    let before = overview(&app).await;
    // "Last refreshed" has whole seconds.
    actix_rt::time::sleep(std::time::Duration::from_millis(1100)).await;

    let (status, answer) = send_batch(&app, &key, &good_batch("b1")).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["importId"].as_i64().is_some(), "{answer}");
    assert_eq!(answer["received"], 3, "{answer}");
    assert_eq!(
        answer["activities"],
        json!({"inserted": 3, "skipped": 0}),
        "{answer}"
    );
    assert_eq!(
        answer["methodEvents"],
        json!({"inserted": 4, "skipped": 0}),
        "{answer}"
    );
    assert_eq!(stored(&app), (3, 4));

    let after = overview(&app).await;
    assert_eq!(
        after.resets,
        plus(
            &before.resets,
            &[("SMS", 1, 0), ("Email", 0, 1), ("Office call", 0, 1)]
        ),
        "the Resets chart counts the new events"
    );
    assert_eq!(
        after.registrations,
        plus(&before.registrations, &[("App notification", 1, 0)]),
        "the Registrations chart counts the new event"
    );
    assert_ne!(after.refreshed, before.refreshed, "Last refreshed moves");
    assert!(after.refreshed > before.refreshed, "{after:?} {before:?}");
    assert_eq!(after.users, before.users);

    let html = page(&app, "/activity").await;
    let list = cells(&html, "table.list tbody tr");
    for (name, feature, method, status, reason) in [
        ("Ana", "Reset", "SMS", "Success", ""),
        (
            "Ana",
            "Reset",
            "Email",
            "Failure",
            "Invalid verification code",
        ),
        (
            "Eve",
            "Reset",
            "Office call",
            "Failure",
            "Call not answered",
        ),
        ("Cai", "Registration", "App notification", "Success", ""),
    ] {
        assert!(
            list.iter().any(|r| r[0] == name
                && r[2] == feature
                && r[3] == method
                && r[4] == status
                && r[6] == reason),
            "/activity lists {name}'s {feature} {method} {status}: {list:?}"
        );
    }
    assert_eq!(list.len(), 4, "{list:?}");
}
db_test!(
    an_ingested_batch_shows_on_the_overview_and_the_list,
    ingest_shows_on_the_pages
);

async fn ingest_twice(backend: Backend) {
    let (app, key) = tenant(backend).await;
    let batch = good_batch("b2");
    let (status, first) = send_batch(&app, &key, &batch).await;
    assert_eq!(status, 200, "{first}");
    let shown = overview(&app).await;
    let counts = stored(&app);
    actix_rt::time::sleep(std::time::Duration::from_millis(1100)).await;

    let (status, again) = send_batch(&app, &key, &batch).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["received"], 3);
    assert_eq!(again["activities"], json!({"inserted": 0, "skipped": 3}));
    assert_eq!(again["methodEvents"], json!({"inserted": 0, "skipped": 4}));
    assert_eq!(again["registeredMethodsAdded"], 0, "{again}");
    assert_ne!(again["importId"], first["importId"]);
    assert_eq!(stored(&app), counts);
    let again_shown = overview(&app).await;
    assert_ne!(
        again_shown.refreshed, shown.refreshed,
        "Last refreshed is the newest ingest, even one that found nothing new"
    );
    assert_eq!(
        Overview {
            refreshed: shown.refreshed.clone(),
            ..again_shown
        },
        shown,
        "the overview's figures are unchanged"
    );
}
db_test!(a_batch_sent_twice_is_stored_once, ingest_twice);

async fn ingest_registers_methods(backend: Backend) {
    let (app, key) = tenant(backend).await;
    // Ben has one phone (SMS and call): 1 of the 2 methods the policy requires.
    let html = page(&app, "/users/u-ben").await;
    assert_eq!(
        verdicts(&html).get("Registered").map(String::as_str),
        Some("Not registered"),
        "{:?}",
        verdicts(&html)
    );
    assert_eq!(
        verdicts(&html).get("Capable").map(String::as_str),
        Some("Not capable")
    );
    assert!(!texts(&html, "td.c-method").contains(&"App code".to_string()));
    let tiles_before = overview(&app).await.tiles;

    let batch = json!({ "activities": [{
        "id": "reg-ben-1",
        "user_id": "u-ben",
        "user_principal_name": "ben@contoso.example",
        "user_display_name": "Ben",
        "feature": "registration",
        "result": "succeeded",
        "occurred_at": minutes_ago(20),
        "events": [{ "id": "reg-ben-1-e1", "method": "app_code", "success": true }]
    }]});
    let (status, answer) = send_batch(&app, &key, &batch).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["registeredMethodsAdded"], 1, "{answer}");

    let html = page(&app, "/users/u-ben").await;
    let methods = texts(&html, "td.c-method");
    assert!(
        methods.contains(&"App code".to_string()),
        "Ben's page lists the new method: {methods:?}"
    );
    let v = verdicts(&html);
    assert_eq!(
        v.get("Registered").map(String::as_str),
        Some("Registered"),
        "{v:?}"
    );
    assert_eq!(v.get("Capable").map(String::as_str), Some("Capable"));
    assert_ne!(
        overview(&app).await.tiles,
        tiles_before,
        "the tiles count Ben as registered at once"
    );

    let list = page(&app, "/registrations?q=ben%40contoso").await;
    let rows = cells(&list, "table.list tbody tr");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], "Ben");
    assert_eq!(rows[0][2], "Yes", "Registered: {rows:?}");
    assert!(rows[0][5].contains("App code"), "{rows:?}");

    // A failed registration adds nothing.
    let failed = json!({ "activities": [{
        "id": "reg-ben-2",
        "user_id": "u-ben",
        "user_principal_name": "ben@contoso.example",
        "feature": "registration",
        "result": "failed",
        "occurred_at": minutes_ago(10),
        "events": [{ "id": "reg-ben-2-e1", "method": "app_notification", "success": false,
                     "failure_reason": "Verification not completed" }]
    }]});
    let (status, answer) = send_batch(&app, &key, &failed).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["registeredMethodsAdded"], 0, "{answer}");
    let html = page(&app, "/users/u-ben").await;
    assert!(!texts(&html, "td.c-method").contains(&"App notification".to_string()));
}
db_test!(
    a_successful_registration_adds_the_method,
    ingest_registers_methods
);

async fn ingest_bad_records(backend: Backend) {
    let (app, key) = tenant(backend).await;
    // Something stored before, so that "unchanged" is not just "empty".
    let (status, answer) = send_batch(&app, &key, &good_batch("ok")).await;
    assert_eq!(status, 200, "{answer}");
    let counts = stored(&app);
    let shown = overview(&app).await;

    let mut unknown_method = one_reset("bad-1", "u-ana");
    unknown_method["events"][0]["method"] = json!("carrier_pigeon");
    let mut no_time = one_reset("bad-2", "u-ana");
    no_time.as_object_mut().unwrap().remove("occurred_at");
    let mut wrong_type = one_reset("bad-3", "u-ana");
    wrong_type["events"][0]["success"] = json!("yes");
    let duplicate = one_reset("good-0", "u-ben");
    let unknown_user = one_reset("bad-5", "u-nobody");
    let mut future = one_reset("bad-6", "u-ana");
    future["occurred_at"] = json!(iso(now() + Duration::days(1)));
    let batch = json!({ "activities": [
        one_reset("good-0", "u-ana"),
        unknown_method,
        no_time,
        wrong_type,
        duplicate,
        unknown_user,
        future,
        one_reset("good-7", "u-gus"),
    ]});
    let (status, answer) = send_batch(&app, &key, &batch).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_records", "{answer}");
    let records = answer["error"]["records"].as_array().unwrap();
    let named: Vec<(u64, String, String)> = records
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["field"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: [(u64, &str, &str); 6] = [
        (1, "events[0].method", "unknown method \"carrier_pigeon\""),
        (2, "occurred_at", "missing required field"),
        (3, "events[0].success", "expected true or false"),
        (4, "id", "given twice"),
        (5, "user_id", "unknown user \"u-nobody\""),
        (6, "occurred_at", "in the future"),
    ];
    let mut missing = Vec::new();
    for (index, field, reason) in expected {
        if !named
            .iter()
            .any(|(i, f, r)| *i == index && f == field && r.contains(reason))
        {
            missing.push(format!("{index} {field} {reason}"));
        }
    }
    assert!(
        missing.is_empty(),
        "the answer names every bad record; missing: {missing:?}\nanswer: {answer:#}"
    );
    assert_eq!(named.len(), 6, "only the bad records are named: {answer:#}");
    assert_eq!(stored(&app), counts, "nothing of the batch is stored");
    assert_eq!(overview(&app).await, shown);
}
db_test!(
    bad_records_are_all_named_and_nothing_is_stored,
    ingest_bad_records
);

async fn ingest_unknown_user(backend: Backend) {
    let (app, key) = tenant(backend).await;
    let (status, answer) = send_batch(&app, &key, &good_batch("ok")).await;
    assert_eq!(status, 200, "{answer}");
    let counts = stored(&app);
    let shown = overview(&app).await;

    // Otherwise good records; the one with an unknown user stops the batch.
    let batch = json!({ "activities": [
        one_reset("good-1", "u-ana"),
        one_reset("good-2", "u-ben"),
        one_reset("bad-3", "u-nobody"),
    ]});
    let (status, answer) = send_batch(&app, &key, &batch).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_records");
    let records = answer["error"]["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{answer}");
    assert_eq!(records[0]["index"], 2, "{answer}");
    assert_eq!(records[0]["id"], "bad-3", "{answer}");
    assert_eq!(records[0]["field"], "user_id");
    assert!(
        records[0]["reason"].as_str().unwrap().contains("u-nobody"),
        "{answer}"
    );
    assert_eq!(stored(&app), counts, "nothing of the batch is stored");
    assert_eq!(overview(&app).await, shown);

    // A reset by someone the directory does not know, given without a user
    // id, is still an activity (with no method events).
    let batch = json!({ "activities": [{
        "id": "anon-1",
        "user_principal_name": "who@contoso.example",
        "feature": "reset",
        "details": "abandoned_after_user_id",
        "occurred_at": minutes_ago(5)
    }]});
    let (status, answer) = send_batch(&app, &key, &batch).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["activities"], json!({"inserted": 1, "skipped": 0}));
    assert_eq!(stored(&app), (counts.0 + 1, counts.1));
}
db_test!(an_unknown_user_id_stops_the_batch, ingest_unknown_user);

async fn ingest_duplicate_event_ids(backend: Backend) {
    let (app, key) = tenant(backend).await;
    let counts = stored(&app);
    // The same event id twice in one activity, and again in another one.
    let mut twice = one_reset("act-1", "u-ana");
    twice["events"] = json!([
        { "id": "ev-x", "method": "email", "success": false, "failure_reason": "Code expired" },
        { "id": "ev-x", "method": "mobile_sms", "success": true }
    ]);
    let mut across = one_reset("act-2", "u-ben");
    across["events"][0]["id"] = json!("act-0-e1");
    let batch = json!({ "activities": [one_reset("act-0", "u-cai"), twice, across] });
    let (status, answer) = send_batch(&app, &key, &batch).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_records");
    let records = answer["error"]["records"].as_array().unwrap();
    let named: Vec<(u64, &str)> = records
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        named,
        [(1, "events[1].id"), (2, "events[0].id")],
        "each names the event's field in the batch's JSON: {answer:#}"
    );
    assert_eq!(stored(&app), counts, "nothing of the batch is stored");
}
db_test!(duplicate_event_ids_are_named, ingest_duplicate_event_ids);

/// Sends a request by hand: `head` then `body` (written from another thread,
/// write errors ignored: the server may answer and close early); returns
/// the answer's status.
async fn raw_post(address: &str, head: String, body: Vec<u8>) -> u16 {
    let host = address.trim_start_matches("http://").to_string();
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&host).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            for piece in body.chunks(64 * 1024) {
                if writer.write_all(piece).is_err() {
                    break;
                }
            }
        });
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e) => panic!(
                    "reading the answer: {e}; read so far: {}",
                    String::from_utf8_lossy(&answer)
                ),
            }
        }
        let _ = stream.shutdown(std::net::Shutdown::Both);
        let _ = sender.join();
        let text = String::from_utf8_lossy(&answer).to_string();
        text.split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("an HTTP answer: {text}"))
    })
    .await
    .unwrap()
}

async fn ingest_refusals(backend: Backend) {
    let (app, key) = tenant(backend).await;
    let counts = stored(&app);

    // Not JSON.
    let (status, answer) =
        json_answer(post_raw(&app, Some(&key), b"activities=1".to_vec()).await).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "bad_request");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("not valid JSON"), "{message}");
    // JSON, but not the batch's shape.
    let (status, answer) = json_answer(post_raw(&app, Some(&key), b"[1, 2]".to_vec()).await).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"activities\""),
        "{answer}"
    );

    // Over 8 MiB, with a Content-Length: refused from the header.
    let mut big = br#"{"activities":["#.to_vec();
    big.resize(8 * 1024 * 1024 + 1, b' ');
    let head = format!(
        "POST /api/v1/events HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        big.len()
    );
    assert_eq!(raw_post(&app.address, head, big.clone()).await, 413);
    // The same through an ordinary client.
    match app
        .anonymous()
        .post(format!("{}/api/v1/events", app.address))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
    {
        Ok(response) => {
            let (status, answer) = json_answer(response).await;
            assert_eq!(status, 413, "{answer}");
            assert_eq!(answer["error"]["code"], "payload_too_large");
        }
        // The server may close the connection before the whole body is sent.
        Err(e) => eprintln!("the 9 MiB body was cut short by the server: {e}"),
    }

    // Over 8 MiB without a Content-Length (chunked): refused while reading.
    let mut chunked = Vec::new();
    for piece in big.chunks(64 * 1024).chain([&b" "[..]]) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST /api/v1/events HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    assert_eq!(raw_post(&app.address, head, chunked).await, 413);

    // More than 10,000 activities (a small body).
    let many = json!({ "activities": vec![json!({}); 10_001] });
    let (status, answer) = send_batch(&app, &key, &many).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["code"], "payload_too_large");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("10000")
            || answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("10,000"),
        "{answer}"
    );

    // A key without the ingest scope.
    let reader = make_key(&app, "reader", true, false);
    let (status, answer) = send_batch(&app, &reader, &good_batch("r")).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "forbidden");
    // No key.
    let response = post_raw(&app, None, serde_json::to_vec(&good_batch("n")).unwrap()).await;
    assert!(response.headers().contains_key("www-authenticate"));
    let (status, answer) = json_answer(response).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"]["code"], "unauthenticated");
    // A wrong key.
    let (status, _) = send_batch(&app, "aik_not-a-key", &good_batch("w")).await;
    assert_eq!(status, 401);
    // A signed-in session (the Global Administrator) is not a key.
    let response = app
        .client
        .post(format!("{}/api/v1/events", app.address))
        .json(&good_batch("s"))
        .send()
        .await
        .unwrap();
    let (status, answer) = json_answer(response).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "forbidden");

    assert_eq!(stored(&app), counts, "nothing was stored");
}
db_test!(ingest_refuses_bad_bodies_and_callers, ingest_refusals);

// ---------------------------------------------------------------------------
// Admin › Imports

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/upload/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn csrf(app: &TestApp) -> String {
    input_value(&page(app, "/admin/imports").await, "csrf")
}

/// Uploads fixture files as the administrator, with the page's token.
async fn upload(app: &TestApp, kind: &str, names: &[&str]) -> (u16, String) {
    let token = csrf(app).await;
    let files: Vec<(&str, Vec<u8>)> = names.iter().map(|n| (*n, fixture(n))).collect();
    let response =
        post_multipart(app, multipart(&[("csrf", &token), ("kind", kind)], &files)).await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The result page's summary: records → (inserted, updated, removed, skipped).
fn summary(html: &str) -> BTreeMap<String, [i64; 4]> {
    cells(html, "#import-summary tbody tr")
        .into_iter()
        .map(|r| {
            assert_eq!(r.len(), 5, "{r:?}");
            (
                r[0].clone(),
                [number(&r[1]), number(&r[2]), number(&r[3]), number(&r[4])],
            )
        })
        .collect()
}

async fn upload_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let html = page(&app, "/admin/imports").await;
    assert_eq!(
        count(
            &html,
            "form#upload[method=post][action=\"/admin/imports\"][enctype=\"multipart/form-data\"]"
        ),
        1,
        "the upload form: {html}"
    );
    let kinds: Vec<String> = {
        let doc = scraper::Html::parse_document(&html);
        let sel = scraper::Selector::parse("form#upload select[name=kind] option").unwrap();
        doc.select(&sel)
            .map(|o| o.value().attr("value").unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(
        kinds,
        [
            "users",
            "groups",
            "members",
            "methods",
            "activities",
            "sign-ins",
            "sign-in-methods",
            "graph"
        ],
        "eight kinds"
    );
    assert_eq!(count(&html, "form#upload input[type=file][name=files]"), 1);
    let token = attr(&html, "form#upload input[type=hidden][name=csrf]", "value").unwrap();
    assert!(token.len() >= 16, "a CSRF token: {token:?}");
    assert_eq!(count(&html, "table#imports"), 1, "the recent imports table");
    assert_eq!(
        rows(&html, "table#imports tbody tr"),
        ["No imports yet."],
        "no imports yet"
    );
    assert_eq!(
        attr(&html, "form#retention input[name=days]", "value").as_deref(),
        Some("30"),
        "events are kept 30 days by default"
    );
    assert_eq!(
        attr(
            &html,
            "form#retention input[type=hidden][name=csrf]",
            "value"
        )
        .as_deref(),
        Some(token.as_str())
    );

    for (name, role) in [
        ("rita", Role::ReportsReader),
        ("sam", Role::SecurityReader),
        ("sue", Role::SecurityAdministrator),
    ] {
        app.add_account(name, role);
        let client = app.signed_in(name, PASSWORD).await;
        let response = app.get_as(&client, "/admin/imports").await;
        assert_eq!(response.status(), 403, "{name} may not open Imports");
        let text = response.text().await.unwrap();
        assert!(!text.contains("form-data"), "no upload form for {name}");
        // Nor post to it.
        let response = client
            .post(format!("{}/admin/imports", app.address))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(multipart(
                &[("csrf", &token), ("kind", "users")],
                &[("users.csv", fixture("users.csv"))],
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{name} may not upload");
    }
    assert_eq!(overview(&app).await.users, 0, "nothing was imported");
}
db_test!(the_imports_page_is_for_global_administrators, upload_page);

async fn upload_worked_example(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let steps: [(&str, &str, &str, [i64; 4]); 4] = [
        ("users", "users.csv", "users", [9, 0, 0, 0]),
        ("groups", "groups.csv", "groups", [2, 0, 0, 0]),
        ("members", "members.csv", "group members", [8, 0, 0, 0]),
        (
            "methods",
            "methods.csv",
            "registered methods",
            [17, 0, 0, 0],
        ),
    ];
    for (kind, file, records, expected) in steps {
        let (status, html) = upload(&app, kind, &[file]).await;
        assert_eq!(status, 200, "uploading {file}: {html}");
        assert_eq!(count(&html, "#import-error"), 0);
        let s = summary(&html);
        assert_eq!(s.get(records), Some(&expected), "{file}: {s:?}");
        for (name, tally) in &s {
            if name != records {
                assert_eq!(tally, &[0, 0, 0, 0], "{file}: {name} untouched");
            }
        }
        let notice = texts(&html, "p.notice").join(" ");
        assert!(notice.contains(file) && notice.contains(kind), "{notice}");
    }

    let html = page(&app, "/admin/imports").await;
    let recent = cells(&html, "table#imports tbody tr");
    assert_eq!(recent.len(), 4, "{recent:?}");
    // Newest first: #, finished, from, by, kind, files, inserted, updated, skipped.
    let listed: Vec<(&str, &str, &str, &str, i64)> = recent
        .iter()
        .map(|r| {
            (
                r[2].as_str(),
                r[3].as_str(),
                r[4].as_str(),
                r[5].as_str(),
                number(&r[6]),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("upload", "tester", "methods", "methods.csv", 17),
            ("upload", "tester", "members", "members.csv", 8),
            ("upload", "tester", "groups", "groups.csv", 2),
            ("upload", "tester", "users", "users.csv", 9),
        ]
    );

    let html = page(&app, "/registrations").await;
    let names = texts(&html, "table.list tbody td.c-name");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["Ana", "Ben", "Cai", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy"],
        "/registrations lists the imported users"
    );
    let ana = cells(&html, "table.list tbody tr")
        .into_iter()
        .find(|r| r[0] == "Ana")
        .unwrap();
    assert_eq!(ana[1], "ana@contoso.example");
    assert!(
        ana[5].contains("Email") && ana[5].contains("SMS"),
        "{ana:?}"
    );
    assert_eq!(overview(&app).await.users, 9);

    // The same file again changes nothing.
    let (status, html) = upload(&app, "users", &["users.csv"]).await;
    assert_eq!(status, 200, "{html}");
    let s = summary(&html);
    assert_eq!(s["users"][0], 0, "{s:?}");
    assert_eq!(overview(&app).await.users, 9);
}
db_test!(
    uploading_the_worked_example_file_by_file,
    upload_worked_example
);

async fn upload_refusals(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, html) = upload(&app, "users", &["users.csv"]).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(overview(&app).await.users, 9);
    let imports_before = cells(
        &page(&app, "/admin/imports").await,
        "table#imports tbody tr",
    )
    .len();

    // A bad row on line 3 (line 2 is good): nothing of the file is stored.
    let (status, html) = upload(&app, "users", &["users_bad_line3.csv"]).await;
    assert_eq!(status, 400, "{html}");
    assert_eq!(count(&html, "#import-summary"), 0);
    let error = texts(&html, "#import-error").join(" ");
    assert!(!error.is_empty(), "an #import-error: {html}");
    for part in [
        "users_bad_line3.csv",
        "line 3",
        "user_type",
        "unknown user type \"robot\"",
    ] {
        assert!(error.contains(part), "#import-error names {part}: {error}");
    }
    let dd = texts(&html, "#import-error dd");
    assert!(dd.contains(&"users_bad_line3.csv".to_string()), "{dd:?}");
    assert!(dd.contains(&"user_type".to_string()), "{dd:?}");
    assert_eq!(overview(&app).await.users, 9, "nothing was stored");
    let names = texts(&page(&app, "/registrations").await, "td.c-name");
    assert!(!names.contains(&"Jon".to_string()), "{names:?}");

    // Without a token, or with a wrong one: 403 and nothing stored.
    let files = [("users_more.csv", fixture("users_more.csv"))];
    let response = post_multipart(&app, multipart(&[("kind", "users")], &files)).await;
    assert_eq!(response.status(), 403);
    let response = post_multipart(
        &app,
        multipart(&[("csrf", "not-the-token"), ("kind", "users")], &files),
    )
    .await;
    assert_eq!(response.status(), 403);
    assert_eq!(overview(&app).await.users, 9, "nothing was stored");

    // Not a multipart upload: a 400 page that says what to send.
    let token = csrf(&app).await;
    let response = app
        .client
        .post(format!("{}/admin/imports", app.address))
        .form(&[("csrf", token.as_str()), ("kind", "users")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = response.text().await.unwrap();
    let message = texts(&html, ".error-message").join(" ");
    assert!(message.contains("multipart"), "{message}");

    // No file, or an unknown kind: 400 pages.
    let response =
        post_multipart(&app, multipart(&[("csrf", &token), ("kind", "users")], &[])).await;
    assert_eq!(response.status(), 400);
    let response = post_multipart(
        &app,
        multipart(&[("csrf", &token), ("kind", "pets")], &files),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(overview(&app).await.users, 9, "nothing was stored");

    // The good file goes through with the token.
    let (status, html) = upload(&app, "users", &["users_more.csv"]).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(overview(&app).await.users, 11);
    let imports_after = cells(
        &page(&app, "/admin/imports").await,
        "table#imports tbody tr",
    )
    .len();
    assert_eq!(
        imports_after,
        imports_before + 1,
        "refused uploads are not listed as imports"
    );
}
db_test!(refused_uploads_store_nothing, upload_refusals);

async fn retention(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .post_form(
            &app.client,
            "/admin/imports",
            "/admin/imports/retention",
            &[("days", "7")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/admin/imports");
    let html = page(&app, "/admin/imports").await;
    assert_eq!(
        attr(&html, "form#retention input[name=days]", "value").as_deref(),
        Some("7")
    );
    let notice = texts(&html, "p.notice").join(" ");
    assert!(notice.contains("7 days"), "{notice}");

    for bad in ["0", "abc", "", "-3", "7.5"] {
        let response = app
            .post_form(
                &app.client,
                "/admin/imports",
                "/admin/imports/retention",
                &[("days", bad)],
            )
            .await;
        assert_eq!(response.status(), 400, "days={bad:?}");
        let html = response.text().await.unwrap();
        let message = texts(&html, ".error-message").join(" ");
        assert!(message.contains("whole number of days"), "{message}");
    }
    let html = page(&app, "/admin/imports").await;
    assert_eq!(
        attr(&html, "form#retention input[name=days]", "value").as_deref(),
        Some("7"),
        "refused values change nothing"
    );

    // Without the token: refused.
    let response = app
        .client
        .post(format!("{}/admin/imports/retention", app.address))
        .form(&[("days", "9")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let html = page(&app, "/admin/imports").await;
    assert_eq!(
        attr(&html, "form#retention input[name=days]", "value").as_deref(),
        Some("7")
    );
}
db_test!(the_retention_setting, retention);

/// A Graph export as a current tenant writes it: a method this portal maps
/// (`macOsSecureEnclaveKey`), one it has never heard of, `unknownFutureValue`
/// for a user type and for an event's method. The import keeps them all and
/// lists each as a warning; with "Refuse unknown values" it stores nothing.
async fn unknown_graph_values(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let when = (Utc::now() - Duration::hours(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let users = json!({
        "@odata.context": "https://graph.microsoft.com/beta/$metadata#reports/authenticationMethods/userRegistrationDetails",
        "value": [
            {"id": "u-mac", "userPrincipalName": "mac@contoso.com", "userDisplayName": "Mac User",
             "userType": "member", "isAdmin": false,
             "methodsRegistered": ["macOsSecureEnclaveKey", "brandNewMethod"]},
            {"id": "u-odd", "userPrincipalName": "odd@contoso.com", "userDisplayName": "Odd User",
             "userType": "unknownFutureValue", "isAdmin": false,
             "methodsRegistered": ["brandNewMethod"]}
        ]
    });
    let events = json!({
        "@odata.context": "https://graph.microsoft.com/beta/$metadata#reports/authenticationMethods/userEventsSummary",
        "value": [
            {"id": "u-mac", "feature": "registration", "userPrincipalName": "mac@contoso.com",
             "userDisplayName": "Mac User", "isSuccess": true, "authMethod": "unknownFutureValue",
             "failureReason": "", "eventDateTime": when},
            {"id": "u-odd", "feature": "reset", "userPrincipalName": "odd@contoso.com",
             "userDisplayName": "Odd User", "isSuccess": false, "authMethod": "qrCode",
             "failureReason": "PIN expired", "eventDateTime": when}
        ]
    });
    let files = vec![
        ("users.json", users.to_string().into_bytes()),
        ("events.json", events.to_string().into_bytes()),
    ];
    let nothing_stored =
        |app: &TestApp| app.with_conn(|conn| db::directory::is_empty(conn).unwrap());
    let get_json = |path: &'static str| {
        let app = &app;
        async move {
            let response = app.get(path).await;
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };

    // Refusing unknown values: the first one stops the import.
    let token = csrf(&app).await;
    let response = post_multipart(
        &app,
        multipart(
            &[("csrf", &token), ("kind", "graph"), ("strict", "on")],
            &files,
        ),
    )
    .await;
    assert_eq!(response.status().as_u16(), 400);
    let html = response.text().await.unwrap();
    let error = texts(&html, "#import-error dd").join(" | ");
    assert!(
        error.contains("users.json") && error.contains("methodsRegistered[1]"),
        "{error}"
    );
    assert!(
        error.contains("unknown value \"brandNewMethod\""),
        "{error}"
    );
    assert!(nothing_stored(&app), "nothing is stored");

    // Keeping them: stored, and each listed where it was found.
    let token = csrf(&app).await;
    let response = post_multipart(
        &app,
        multipart(&[("csrf", &token), ("kind", "graph")], &files),
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    let html = response.text().await.unwrap();
    let warnings: Vec<Vec<String>> = cells(&html, "#import-warnings tbody tr");
    let found: Vec<(&str, &str, &str, &str)> = warnings
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str(), r[2].as_str(), r[3].as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "users.json",
                "record 1",
                "methodsRegistered[1]",
                "brandNewMethod"
            ),
            ("users.json", "record 2", "userType", "unknownFutureValue"),
            (
                "users.json",
                "record 2",
                "methodsRegistered[0]",
                "brandNewMethod"
            ),
            (
                "events.json",
                "record 1",
                "authMethod",
                "unknownFutureValue"
            ),
        ],
        "{html}"
    );
    assert!(warnings[3][4].contains("other method"), "{:?}", warnings[3]);
    assert!(
        warnings[3][5].contains("Prefer: include-unknown-enum-members"),
        "{:?}",
        warnings[3]
    );

    // What the lists and the API say: the Mac's key counts (passwordless,
    // MFA); the method this portal does not know counts toward nothing.
    let (status, list) = get_json("/api/v1/registrations?method=other").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["count"], 2, "both users hold an other method: {list}");
    let of = |id: &str| {
        list["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == id)
            .cloned()
            .unwrap()
    };
    let mac = of("u-mac");
    assert_eq!(
        mac["methodsRegistered"],
        json!(["macos_platform_credential", "other"])
    );
    assert_eq!(mac["isMfaCapable"], true);
    assert_eq!(mac["isPasswordlessCapable"], true);
    let odd = of("u-odd");
    assert_eq!(odd["methodsRegistered"], json!(["other"]));
    assert_eq!(odd["isMfaCapable"], false);
    assert_eq!(odd["isPasswordlessCapable"], false);
    assert_eq!(
        odd["userType"], "member",
        "a new user of unknown type counts as a member"
    );

    let listed = page(&app, "/registrations?method=other").await;
    let methods: Vec<String> = texts(&listed, "table.list tbody tr td:nth-child(6)");
    assert!(
        methods
            .iter()
            .any(|m| m == "macOS platform credential, brandNewMethod"),
        "an other method is shown by the name Graph gave it: {methods:?}"
    );
    assert_eq!(mac["otherMethodsRegistered"], json!(["brandNewMethod"]));
    let csv = app
        .get("/registrations.csv?method=other")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains("\"macOS platform credential, brandNewMethod\""),
        "{csv}"
    );
    let mac_page = page(&app, "/users/u-mac").await;
    assert!(
        texts(&mac_page, "td.c-method").contains(&"brandNewMethod".to_string()),
        "{mac_page}"
    );

    // An event's unknown method is listed by its Graph name too.
    let (_, events) = get_json("/api/v1/activity?method=other").await;
    assert_eq!(events["value"][0]["authMethod"], "other", "{events}");
    assert_eq!(events["value"][0]["authMethodName"], "unknownFutureValue");
    let listed = page(&app, "/activity?method=other").await;
    assert!(
        cells(&listed, "table.list tbody tr")[0].contains(&"unknownFutureValue".to_string()),
        "{listed}"
    );

    // The charts count both events, under the methods they were stored as.
    let (_, figures) = get_json("/api/v1/overview").await;
    let rows = |key: &str| -> Vec<Value> {
        figures["charts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["key"] == key)
            .unwrap()["methods"]
            .as_array()
            .unwrap()
            .clone()
    };
    let row = |key: &str, method: &str| {
        rows(key)
            .into_iter()
            .find(|r| r["authMethod"] == method)
            .unwrap_or_else(|| panic!("{key}: no {method} row: {figures}"))
    };
    assert_eq!(row("registrations", "other")["success"], 1, "{figures}");
    assert_eq!(row("resets", "qr_code")["failure"], 1, "{figures}");

    // Each bar links to the events behind it.
    let href = row("resets", "qr_code")["failureHref"]
        .as_str()
        .unwrap()
        .to_string();
    let response = app.get(&href.replace(&app.remote.address, "")).await;
    assert_eq!(response.status().as_u16(), 200, "{href}");
    let events: Value = response.json().await.unwrap();
    assert_eq!(events["count"], 1, "{events}");

    // The import log keeps the warnings too.
    let logged = app.with_conn(|conn| db::imports::recent(conn, 1).unwrap()[0].summary.clone());
    assert!(logged.contains("4 warnings"), "{logged}");
    assert!(logged.contains("brandNewMethod"), "{logged}");
}
db_test!(
    graph_values_this_portal_does_not_know_are_kept_and_listed,
    unknown_graph_values
);

/// Events of users the directory does not hold are kept with the names they
/// carry, listed as not in the directory, counted in the charts; when a
/// directory export brings the users, the events are theirs.
async fn events_outside_the_directory(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let at = |minutes: i64| {
        (Utc::now() - Duration::minutes(minutes))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let summary_events = json!({
        "@odata.context": "https://graph.microsoft.com/beta/$metadata#reports/authenticationMethods/userEventsSummary",
        "value": [
            {"id": "u-gone", "feature": "registration", "userPrincipalName": "gone@contoso.com",
             "userDisplayName": "Gone Person", "isSuccess": true, "authMethod": "email",
             "failureReason": "", "eventDateTime": at(90)},
            {"id": "u-gone", "feature": "reset", "userPrincipalName": "gone@contoso.com",
             "userDisplayName": "Gone Person", "isSuccess": false, "authMethod": "mobileSMS",
             "failureReason": "Code expired", "eventDateTime": at(60)}
        ]
    });
    let usage_events = json!({
        "@odata.context": "https://graph.microsoft.com/beta/$metadata#reports/userCredentialUsageDetails",
        "value": [
            {"id": "use-1", "feature": "reset", "userPrincipalName": "Later@Contoso.com",
             "userDisplayName": "Later Person", "isSuccess": true, "authMethod": "appNotification",
             "failureReason": "", "eventDateTime": at(30)}
        ]
    });
    let token = csrf(&app).await;
    let response = post_multipart(
        &app,
        multipart(
            &[("csrf", &token), ("kind", "graph")],
            &[
                ("summary.json", summary_events.to_string().into_bytes()),
                ("usage.json", usage_events.to_string().into_bytes()),
            ],
        ),
    )
    .await;
    let status = response.status().as_u16();
    let html = response.text().await.unwrap();
    assert_eq!(status, 200, "{html}");
    assert_eq!(summary(&html)["method events"], [3, 0, 0, 0], "{html}");

    // Listed as not in the directory, with the names the events gave.
    let list = page(&app, "/activity?in_directory=no").await;
    let names = texts(&list, "table.list tbody td.c-name");
    assert_eq!(
        names,
        [
            "Later Person not in the directory",
            "Gone Person not in the directory",
            "Gone Person not in the directory",
        ],
        "{list}"
    );
    assert_eq!(
        texts(&list, "table.list tbody td.c-upn"),
        ["Later@Contoso.com", "gone@contoso.com", "gone@contoso.com"]
    );
    // Each links to the search for that user's events.
    let doc = scraper::Html::parse_document(&list);
    let sel = scraper::Selector::parse("table.list tbody td.c-name a").unwrap();
    let hrefs: Vec<String> = doc
        .select(&sel)
        .map(|a| a.value().attr("href").unwrap().to_string())
        .collect();
    assert_eq!(hrefs[1], "/activity?in_directory=no&q=gone%40contoso.com");
    let found = page(&app, &hrefs[1]).await;
    assert_eq!(texts(&found, "table.list tbody tr").len(), 2, "{found}");
    // A plain search finds them too; none is in the directory yet.
    let found = page(&app, "/activity?q=later").await;
    assert_eq!(texts(&found, "table.list tbody tr").len(), 1, "{found}");
    let none = page(&app, "/activity?in_directory=yes").await;
    assert_eq!(texts(&none, "table.list tbody tr").len(), 0, "{none}");

    let get_json = |path: &'static str| {
        let app = &app;
        async move { app.get(path).await.json::<Value>().await.unwrap() }
    };
    let outside = get_json("/api/v1/activity?in_directory=no").await;
    assert_eq!(outside["count"], 3, "{outside}");
    let first = &outside["value"][0];
    assert_eq!(first["inDirectory"], false, "{first}");
    assert_eq!(first["userPrincipalName"], "Later@Contoso.com");
    assert_eq!(first["userDisplayName"], "Later Person");

    // Counted in the charts.
    let figures = get_json("/api/v1/overview").await;
    let bar = |chart: &str, method: &str| {
        figures["charts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["key"] == chart)
            .unwrap()["methods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["authMethod"] == method)
            .cloned()
            .unwrap()
    };
    assert_eq!(bar("registrations", "email")["success"], 1, "{figures}");
    assert_eq!(bar("resets", "mobile_sms")["failure"], 1, "{figures}");
    assert_eq!(bar("resets", "app_notification")["success"], 1, "{figures}");

    // The directory export brings both users: the events are theirs now.
    let users = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#reports/authenticationMethods/userRegistrationDetails",
        "value": [
            {"id": "u-gone", "userPrincipalName": "gone@contoso.com", "userDisplayName": "Gone Person",
             "userType": "member", "isAdmin": false, "methodsRegistered": ["email"]},
            {"id": "u-later", "userPrincipalName": "later@contoso.com", "userDisplayName": "Later Person",
             "userType": "member", "isAdmin": false, "methodsRegistered": ["microsoftAuthenticatorPush"]}
        ]
    });
    let token = csrf(&app).await;
    let response = post_multipart(
        &app,
        multipart(
            &[("csrf", &token), ("kind", "graph")],
            &[("users.json", users.to_string().into_bytes())],
        ),
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    let logged = app.with_conn(|conn| db::imports::recent(conn, 1).unwrap()[0].summary.clone());
    assert!(
        logged.contains(
            "3 method events of users not in the directory now belong to users this import brought"
        ),
        "{logged}"
    );
    let outside = get_json("/api/v1/activity?in_directory=no").await;
    assert_eq!(outside["count"], 0, "{outside}");
    let inside = get_json("/api/v1/activity?in_directory=yes").await;
    assert_eq!(inside["count"], 3, "{inside}");
    let later: Vec<&Value> = inside["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["userId"] == "u-later")
        .collect();
    assert_eq!(
        later.len(),
        1,
        "the event named by user principal name moved: {inside}"
    );
    assert_eq!(later[0]["inDirectory"], true);
    assert_eq!(
        later[0]["userPrincipalName"], "later@contoso.com",
        "the directory's name now"
    );
    let user = page(&app, "/activity?q=gone").await;
    let doc = scraper::Html::parse_document(&user);
    let hrefs: Vec<String> = doc
        .select(&sel)
        .map(|a| a.value().attr("href").unwrap().to_string())
        .collect();
    assert_eq!(
        hrefs,
        ["/users/u-gone", "/users/u-gone"],
        "linked to the user page"
    );
    // The charts did not change.
    let again = get_json("/api/v1/overview").await;
    assert_eq!(again["charts"], figures["charts"]);
}
db_test!(
    events_of_users_not_in_the_directory_are_kept_and_attach_later,
    events_outside_the_directory
);

/// Uploads one Graph export as `registrations.json` through Admin ›
/// Imports; the result page.
async fn upload_export(app: &TestApp, export: Value) -> String {
    let token = csrf(app).await;
    let response = post_multipart(
        app,
        multipart(
            &[("csrf", &token), ("kind", "graph")],
            &[("registrations.json", export.to_string().into_bytes())],
        ),
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    response.text().await.unwrap()
}

/// A registration-details export as Microsoft documents it, one user for
/// each value of `defaultMfaMethod` and of
/// `userPreferredMethodForSecondaryAuthentication`, and one exported before
/// those fields existed.
fn registration_details_export(ben_default: &str) -> Value {
    let user = |id: &str,
                name: &str,
                admin: bool,
                mfa: Option<bool>,
                default: &str,
                preferred: &str,
                system_on: bool,
                system: &[&str]| {
        json!({
            "id": id, "userPrincipalName": format!("{id}@contoso.com"), "userDisplayName": name,
            "userType": "member", "isAdmin": admin,
            "isSsprRegistered": false, "isSsprEnabled": false, "isSsprCapable": false,
            "isMfaRegistered": mfa, "isMfaCapable": mfa.unwrap_or(false),
            "isPasswordlessCapable": false,
            "methodsRegistered": ["mobilePhone"],
            "defaultMfaMethod": default,
            "isSystemPreferredAuthenticationMethodEnabled": system_on,
            "systemPreferredAuthenticationMethods": system,
            "userPreferredMethodForSecondaryAuthentication": preferred,
            "lastUpdatedDateTime": "2025-05-19T23:10:41.6195833Z"
        })
    };
    json!({
        "@odata.context": "https://graph.microsoft.com/beta/$metadata#reports/authenticationMethods/userRegistrationDetails",
        "value": [
            user("ada", "Ada", false, Some(true), "microsoftAuthenticatorPush", "push", true, &["push"]),
            user("ben", "Ben", false, Some(true), ben_default, "sms", false, &["sms"]),
            user("cyd", "Cyd", false, Some(true), "alternateMobilePhone", "voiceAlternateMobile", true, &["voiceAlternateMobile"]),
            user("dot", "Dot", false, Some(true), "officePhone", "voiceOffice", true, &["voiceOffice"]),
            user("eli", "Eli", false, Some(true), "softwareOneTimePasscode", "oath", true, &["oath"]),
            user("fin", "Fin", false, Some(false), "none", "voiceMobile", true, &[]),
            user("gia", "Gia", true, Some(true), "unknownFutureValue", "unknownFutureValue", true, &["Fido2", "push"]),
            {"id": "old", "userPrincipalName": "old@contoso.com", "userDisplayName": "Old",
             "userType": "member", "isAdmin": false, "isSsprRegistered": false,
             "isMfaCapable": false, "methodsRegistered": []}
        ]
    })
}

/// What `userRegistrationDetails` says beyond the five statuses is stored,
/// listed, filtered, downloaded and served under Graph's names; what no
/// source said (account enabled, directory role) reads as unknown; a later
/// export replaces what the earlier one said.
async fn registration_details_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let upload = |export: Value| upload_export(&app, export);
    let html = upload(registration_details_export("mobilePhone")).await;
    let warnings = cells(&html, "#import-warnings tbody tr");
    let found: Vec<(&str, &str, &str)> = warnings
        .iter()
        .map(|r| (r[1].as_str(), r[2].as_str(), r[3].as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("record 7", "defaultMfaMethod", "unknownFutureValue"),
            (
                "record 7",
                "userPreferredMethodForSecondaryAuthentication",
                "unknownFutureValue"
            ),
        ],
        "{html}"
    );
    assert!(warnings[0][5].contains("Prefer: include-unknown-enum-members"));

    let names = |path: String| {
        let app = &app;
        async move { texts(&page(app, &path).await, "table.list tbody td.c-name") }
    };
    let filtered = |param: &str, value: &str| names(format!("/registrations?{param}={value}"));
    // Every documented value selects its user; Graph's casing does not matter.
    for (value, who) in [
        ("microsoftAuthenticatorPush", "Ada"),
        ("mobilePhone", "Ben"),
        ("alternateMobilePhone", "Cyd"),
        ("officePhone", "Dot"),
        ("softwareOneTimePasscode", "Eli"),
        ("none", "Fin"),
        ("other", "Gia"),
        ("none_stated", "Old"),
    ] {
        assert_eq!(
            filtered("default_mfa_method", value).await,
            [who],
            "{value}"
        );
    }
    assert_eq!(filtered("system_preferred_method", "fido2").await, ["Gia"]);
    assert_eq!(filtered("system_preferred_method", "sms").await, ["Ben"]);
    assert_eq!(filtered("mfa_registered", "no").await, ["Fin"]);
    assert_eq!(filtered("mfa_registered", "unknown").await, ["Old"]);
    assert_eq!(filtered("account_enabled", "unknown").await.len(), 8);
    // The last update, relative to now: the export dates seven users in May
    // 2025, and says nothing of Old's.
    assert_eq!(filtered("last_updated", "over_365d").await.len(), 7);
    assert_eq!(filtered("last_updated", "none_stated").await, ["Old"]);
    assert!(filtered("last_updated", "within_30d").await.is_empty());
    assert_eq!(
        names("/registrations?last_updated=over_90d&mfa_registered=no&q=fi".into()).await,
        ["Fin"],
        "with the other filters and the search"
    );
    let counted: Value = app
        .get("/api/v1/registrations?last_updated=over_365d&size=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(counted["count"], 7, "{counted}");
    assert!(counted["@odata.nextLink"].is_string(), "{counted}");
    assert!(filtered("account_enabled", "yes").await.is_empty());
    assert_eq!(filtered("role_known", "no").await.len(), 8, "nor any role");
    assert!(filtered("role_known", "yes").await.is_empty());
    assert!(filtered("account_enabled", "no").await.is_empty());
    let response = app
        .get("/registrations?default_mfa_method=quantumToken")
        .await;
    assert_eq!(response.status().as_u16(), 400);
    let body = response.text().await.unwrap();
    assert!(body.contains("default_mfa_method"), "{body}");

    // The columns, on the page and in the CSV.
    let list = page(&app, "/registrations?q=ben").await;
    let row = &cells(&list, "table.list tbody tr")[0];
    assert_eq!(
        row[10..],
        [
            "—",
            "Yes",
            "Mobile phone",
            "SMS (off)",
            "2025-05-19 23:10 UTC"
        ],
        "{row:?}"
    );
    let gia = &cells(
        &page(&app, "/registrations?q=gia").await,
        "table.list tbody tr",
    )[0];
    assert_eq!(
        gia[12..14],
        [
            "unknownFutureValue",
            "FIDO2 security key, Authenticator push"
        ]
    );
    let csv = app
        .get("/registrations.csv?q=ben")
        .await
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header[10..],
        [
            "Account enabled",
            "MFA registered",
            "Default MFA method",
            "System-preferred method",
            "Last updated"
        ]
    );
    let record: Vec<String> = reader
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(record, *row);

    // The API, under Graph's own names and values.
    let api: Value = app
        .get("/api/v1/registrations?default_mfa_method=mobilePhone")
        .await
        .json()
        .await
        .unwrap();
    let ben = &api["value"][0];
    assert_eq!(ben["id"], "ben", "{api}");
    assert_eq!(ben["accountEnabled"], Value::Null);
    assert_eq!(ben["isMfaRegistered"], true);
    assert_eq!(ben["defaultMfaMethod"], "mobilePhone");
    assert_eq!(ben["isSystemPreferredAuthenticationMethodEnabled"], false);
    assert_eq!(ben["systemPreferredAuthenticationMethods"], json!(["sms"]));
    assert_eq!(ben["userPreferredMethodForSecondaryAuthentication"], "sms");
    assert_eq!(ben["lastUpdatedDateTime"], "2025-05-19T23:10:41.619583Z");
    let old: Value = app.get("/api/v1/users/old").await.json().await.unwrap();
    assert_eq!(old["defaultMfaMethod"], Value::Null, "{old}");
    // The overview says how many users the export states are registered
    // for MFA, and links to them.
    let overview: Value = app.get("/api/v1/overview").await.json().await.unwrap();
    let mfa = overview["insights"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "mfaRegistered")
        .cloned()
        .unwrap();
    assert_eq!(mfa["count"], 6, "{mfa}");
    assert!(
        mfa["href"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1/registrations?mfa_registered=yes"),
        "{mfa}"
    );
    assert_eq!(old["directoryRole"], Value::Null, "{old}");

    // The user page: what the export said, and no role or account state
    // made up; the administrator's explanation reads without a role.
    let gia_page = page(&app, "/users/gia").await;
    let facts = texts(&gia_page, "p.user-facts").join(" ");
    assert!(facts.contains("Role: —"), "{facts}");
    assert!(facts.contains("Account enabled: —"), "{facts}");
    assert!(!gia_page.contains("This account is disabled"));
    assert_eq!(texts(&gia_page, "dd.f-default-mfa"), ["unknownFutureValue"]);
    assert_eq!(
        texts(&gia_page, "dd.f-user-preferred"),
        ["unknownFutureValue"]
    );
    let enabled = verdicts(&gia_page);
    assert!(!gia_page.contains("()"), "{enabled:?}");
    assert!(
        gia_page.contains("An administrator; administrators are always in scope"),
        "{enabled:?}"
    );
    let old_page = page(&app, "/users/old").await;
    assert_eq!(
        count(&old_page, "dd.f-default-mfa"),
        0,
        "no export described Old"
    );

    // A later export replaces what the earlier one said, and the filters
    // and counts follow.
    upload(registration_details_export("officePhone")).await;
    assert!(filtered("default_mfa_method", "mobilePhone")
        .await
        .is_empty());
    assert_eq!(
        filtered("default_mfa_method", "officePhone").await,
        ["Ben", "Dot"]
    );
    let counted: Value = app
        .get("/api/v1/registrations?default_mfa_method=officePhone")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(counted["count"], 2, "{counted}");
}
db_test!(
    registration_details_fields_are_listed_filtered_and_served,
    registration_details_fields
);

/// A registration-details export stating Registered for users by name.
fn verdicts_export(users: &[(&str, bool)]) -> Value {
    let value: Vec<Value> = users
        .iter()
        .map(|(id, registered)| {
            json!({
                "id": id, "userPrincipalName": format!("{id}@contoso.com"),
                "userDisplayName": id.to_uppercase(), "userType": "member", "isAdmin": false,
                "isSsprRegistered": registered, "methodsRegistered": [],
                "lastUpdatedDateTime": "2025-05-19T23:10:41Z"
            })
        })
        .collect();
    json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#reports/authenticationMethods/userRegistrationDetails",
        "value": value
    })
}

/// The directory's verdicts beside the portal's own: the overview counts
/// where they disagree, Admin › SSPR policy chooses which the figures use,
/// the user page explains both, and a user a newer export leaves out is
/// marked stale until an export includes them again.
async fn verdict_source(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let upload = |export: Value| upload_export(&app, export);
    let names = |path: &'static str| {
        let app = &app;
        async move { texts(&page(app, path).await, "table.list tbody td.c-name") }
    };
    let choose_source = |source: &'static str| {
        let app = &app;
        async move {
            app.post_form(
                &app.client,
                "/admin/policy",
                "/admin/policy/verdict-source",
                &[("source", source)],
            )
            .await
        }
    };
    let insight = |key: &'static str| {
        let app = &app;
        async move {
            let body: Value = app.get("/api/v1/overview").await.json().await.unwrap();
            body["insights"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["key"] == key)
                .map(|i| i["count"].as_i64().unwrap())
        }
    };
    // No methods, so the policy finds nobody registered; the export says
    // Ann is.
    upload(verdicts_export(&[("ann", true), ("bob", false)])).await;
    assert_eq!(insight("directoryDisagrees").await, Some(1));
    assert_eq!(
        insight("staleVerdicts").await,
        None,
        "nothing stale: not shown"
    );
    let overview = page(&app, "/").await;
    let said = texts(&overview, ".insights li").join(" | ");
    assert!(
        said.contains("1 user where the directory and this portal's policy disagree"),
        "{said}"
    );
    assert_eq!(names("/registrations?verdicts_disagree=yes").await, ["ANN"]);
    // By default the figures are the directory's.
    assert_eq!(names("/registrations?registered=yes").await, ["ANN"]);
    let ann = page(&app, "/users/ann").await;
    assert_eq!(verdicts(&ann)["Registered"], "Registered");
    let reasons = texts(&ann, "dl.explain dd").join(" ");
    assert!(
        reasons.contains("This portal's own rules find otherwise"),
        "{reasons}"
    );

    // The policy page tells how many, and switches the source.
    let policy = page(&app, "/admin/policy").await;
    let told = texts(&policy, "#source-h + p").join(" ");
    assert!(told.contains("2 users have them"), "{told}");
    assert!(told.contains("for 1 this portal"), "{told}");
    let response = choose_source("policy").await;
    assert_eq!(response.status().as_u16(), 303);
    assert!(names("/registrations?registered=yes").await.is_empty());
    assert_eq!(
        names("/registrations?verdicts_disagree=yes").await,
        ["ANN"],
        "they still disagree"
    );
    let ann = page(&app, "/users/ann").await;
    assert_eq!(verdicts(&ann)["Registered"], "Not registered");
    let reasons = texts(&ann, "dl.explain dd").join(" ");
    assert!(
        reasons.contains("states otherwise — Registered — which this portal is set to overrule"),
        "{reasons}"
    );
    let api: Value = app
        .get("/api/v1/registrations?verdicts_disagree=yes")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(api["value"][0]["isSsprRegistered"], false, "{api}");
    assert_eq!(api["value"][0]["directoryVerdictsDisagree"], true, "{api}");
    let audit = page(&app, "/admin/audit").await;
    assert!(audit.contains("verdict source changed"), "{audit}");
    let refused = choose_source("whichever").await;
    assert_eq!(refused.status().as_u16(), 400);

    // Back to the directory's; a newer export without Bob makes his stale.
    let response = choose_source("directory").await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(names("/registrations?registered=yes").await, ["ANN"]);
    let result = upload(verdicts_export(&[("ann", false)])).await;
    assert!(
        result
            .contains("1 users with statuses from an earlier directory export are not in this one"),
        "{result}"
    );
    assert_eq!(insight("staleVerdicts").await, Some(1));
    assert_eq!(insight("directoryDisagrees").await, None, "Ann now agrees");
    assert_eq!(names("/registrations?verdicts_stale=yes").await, ["BOB"]);
    let bob = page(&app, "/users/bob").await;
    assert!(
        bob.contains("a newer export did not include the user"),
        "{bob}"
    );
    // An export that includes Bob again: no longer stale.
    upload(verdicts_export(&[("ann", false), ("bob", true)])).await;
    assert!(names("/registrations?verdicts_stale=yes").await.is_empty());
    assert_eq!(names("/registrations?registered=yes").await, ["BOB"]);
}
db_test!(the_directory_and_the_policy_side_by_side, verdict_source);

/// Every method name Microsoft documents for `methodsRegistered` and the
/// usage reports' `authMethod`, and the catalogue methods each is stored
/// as: written out by hand, not taken from the importer's own table.
const DOCUMENTED_METHODS: [(&str, &[&str]); 29] = [
    ("microsoftAuthenticatorPush", &["app_notification"]),
    ("appNotification", &["app_notification"]),
    ("softwareOneTimePasscode", &["app_code"]),
    ("appCode", &["app_code"]),
    ("mobilePhone", &["mobile_call", "mobile_sms"]),
    ("alternateMobilePhone", &["mobile_call"]),
    ("mobileSMS", &["mobile_sms"]),
    ("sms", &["mobile_sms"]),
    ("mobileCall", &["mobile_call"]),
    ("alternateMobileCall", &["mobile_call"]),
    ("officePhone", &["office_call"]),
    ("email", &["email"]),
    ("securityQuestion", &["security_questions"]),
    ("fido2", &["fido2"]),
    ("fido", &["fido2"]),
    ("fido2SecurityKey", &["fido2"]),
    ("passKeyDeviceBound", &["passkey"]),
    ("passKeyDeviceBoundAuthenticator", &["passkey"]),
    ("passKeyDeviceBoundWindowsHello", &["passkey"]),
    ("passKeySynced", &["passkey"]),
    ("windowsHelloForBusiness", &["windows_hello"]),
    ("hardwareOneTimePasscode", &["hardware_otp"]),
    ("temporaryAccessPass", &["temporary_access_pass"]),
    (
        "microsoftAuthenticatorPasswordless",
        &["authenticator_passwordless"],
    ),
    ("macOsSecureEnclaveKey", &["macos_platform_credential"]),
    ("externalAuthMethod", &["external_auth_method"]),
    ("oneTimePasscode", &["one_time_passcode"]),
    ("qrCode", &["qr_code"]),
    ("appPassword", &["app_password"]),
];

/// One user per documented method name (and one with a name Graph does not
/// document), one registration event per name an event can carry (and one
/// `unknownFutureValue`): the import keeps everything, warns about exactly
/// the two unknown values, and the lists, the API and the charts say what
/// the hand-made table says.
async fn every_documented_value(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let when = (Utc::now() - Duration::hours(3))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let mut users: Vec<Value> = DOCUMENTED_METHODS
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            json!({"id": format!("m-{i:02}"), "userPrincipalName": format!("m{i:02}@contoso.com"),
                   "userDisplayName": format!("Method {i:02}"), "userType": "member",
                   "isAdmin": false, "methodsRegistered": [name]})
        })
        .collect();
    users.push(
        json!({"id": "m-new", "userPrincipalName": "new@contoso.com",
        "userDisplayName": "Method new", "userType": "member", "isAdmin": false,
        "methodsRegistered": ["quantumToken"]}),
    );
    // An event names one method: a phone number ("mobilePhone") is not one.
    let mut events: Vec<Value> = DOCUMENTED_METHODS
        .iter()
        .enumerate()
        .filter(|(_, (_, keys))| keys.len() == 1)
        .map(|(i, (name, _))| {
            json!({"id": format!("m-{i:02}"), "feature": "registration",
                   "userPrincipalName": format!("m{i:02}@contoso.com"),
                   "userDisplayName": format!("Method {i:02}"), "isSuccess": true,
                   "authMethod": name, "failureReason": "", "eventDateTime": when})
        })
        .collect();
    events.push(json!({"id": "m-new", "feature": "registration",
        "userPrincipalName": "new@contoso.com", "userDisplayName": "Method new",
        "isSuccess": false, "authMethod": "unknownFutureValue",
        "failureReason": "Timed out", "eventDateTime": when}));
    let files = vec![
        (
            "users.json",
            json!({"@odata.context": "https://graph.microsoft.com/beta/$metadata#reports/authenticationMethods/userRegistrationDetails",
                   "value": users})
            .to_string()
            .into_bytes(),
        ),
        (
            "events.json",
            json!({"@odata.context": "https://graph.microsoft.com/beta/$metadata#reports/authenticationMethods/userEventsSummary",
                   "value": events})
            .to_string()
            .into_bytes(),
        ),
    ];
    let token = csrf(&app).await;
    let response = post_multipart(
        &app,
        multipart(&[("csrf", &token), ("kind", "graph")], &files),
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    let html = response.text().await.unwrap();
    let warned: Vec<(String, String)> = cells(&html, "#import-warnings tbody tr")
        .into_iter()
        .map(|r| (r[0].clone(), r[3].clone()))
        .collect();
    assert_eq!(
        warned,
        [
            ("users.json".to_string(), "quantumToken".to_string()),
            ("events.json".to_string(), "unknownFutureValue".to_string()),
        ]
    );

    // Each user holds the methods the table says.
    let list: Value = app
        .get("/api/v1/registrations?size=500")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["count"], 30, "{list}");
    for (i, (name, keys)) in DOCUMENTED_METHODS.iter().enumerate() {
        let id = format!("m-{i:02}");
        let user = list["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{name}: no user"));
        let mut stored: Vec<&str> = user["methodsRegistered"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        stored.sort_unstable();
        assert_eq!(stored, *keys, "{name}");
    }
    let new = page(&app, "/registrations?q=method+new").await;
    assert_eq!(
        texts(&new, "table.list tbody td:nth-child(6)"),
        ["quantumToken"]
    );

    // The registrations chart counts one event per name, under its method.
    let mut expected: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for (_, keys) in DOCUMENTED_METHODS.iter().filter(|(_, k)| k.len() == 1) {
        expected.entry(keys[0]).or_default().0 += 1;
    }
    expected.insert("other", (0, 1));
    let figures: Value = app.get("/api/v1/overview").await.json().await.unwrap();
    let chart: BTreeMap<String, (i64, i64)> = figures["charts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "registrations")
        .unwrap()["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["authMethod"].as_str().unwrap().to_string(),
                (
                    m["success"].as_i64().unwrap(),
                    m["failure"].as_i64().unwrap(),
                ),
            )
        })
        .filter(|(_, counts)| *counts != (0, 0))
        .collect();
    let expected: BTreeMap<String, (i64, i64)> = expected
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(chart, expected, "{figures}");
}
db_test!(
    every_documented_method_name_is_kept_listed_and_counted,
    every_documented_value
);
