//! The JSON API (`/api/v1/…`) on both backends: each endpoint's figures
//! against the page that shows the same data for the same query string and
//! against the domain rules (the worked example of docs/design.md), keyset paging over
//! whole lists, the JSON 400 for every kind of bad parameter, who may call
//! it, and JSON escaping of hostile names. Every answer goes through
//! `common::api`, which checks it against the OpenAPI document.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::accounts::Role;
use authinsights::db::directory::{put_users, save_policy, set_user_methods, DirectoryUser};
use authinsights::db::events::record;
use authinsights::db::models::{Activity, MethodEvent, User};
use authinsights::db::schema::users;
use authinsights::domain::filter::Cursor;
use authinsights::domain::second_factor;
use authinsights::domain::{
    ActivityResult, Details, Feature, Method, PolicyMethod, Scope, SsprPolicy,
};
use chrono::{DateTime, Duration, NaiveDateTime, Timelike, Utc};
use common::api::Api;
use common::reports::{build_reports, report_activities, TestActivity};
use common::tenant::{
    build_crowd, build_events, build_worked_example, pilot_policy, selected, Person, TestEvent,
    EVENTS, PILOT_GROUP, WORKED_EXAMPLE,
};
use common::{texts, Backend, TestApp};
use diesel::prelude::*;
use serde_json::Value;
use std::collections::HashSet;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// `path?query`, or `path` when the query is empty.
fn join(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// `query&more`, or `more` when the query is empty.
fn and(query: &str, more: &str) -> String {
    if query.is_empty() {
        more.to_string()
    } else {
        format!("{query}&{more}")
    }
}

fn api_path(page: &str) -> String {
    format!("/api/v1{page}")
}

/// A page as the signed-in Global Administrator sees it (must answer 200).
async fn page(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

/// The attribute `attr` of every element matching `selector`.
fn attrs(html: &str, selector: &str, attr: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel)
        .map(|e| e.value().attr(attr).unwrap_or_default().to_string())
        .collect()
}

/// The text of every element matching `selector`, exactly as written.
fn raw_texts(html: &str, selector: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel).map(|e| e.text().collect()).collect()
}

/// The cells of every body row of the page's list.
fn table_cells(html: &str) -> Vec<Vec<String>> {
    common::cells(html, "table.list tbody tr", "td")
}

/// The number a text starts with ("1,234 method events …" → 1234).
fn leading_count(text: &str) -> i64 {
    let digits: String = text
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(|c| *c != ',')
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no leading number in {text:?}"))
}

/// The count a list page states in its count line.
fn page_count(html: &str) -> i64 {
    leading_count(&texts(html, ".match-count").join(" "))
}

/// One request for a list: its rows, its count and its next link.
async fn list(api: &Api<'_>, path: &str) -> (Vec<Value>, i64, Option<String>) {
    let (status, body) = api.get(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    assert_eq!(body["countIsLowerBound"], false, "{path}: {body}");
    let rows = body["value"].as_array().unwrap().clone();
    let count = body["count"]
        .as_i64()
        .unwrap_or_else(|| panic!("{path}: no count: {body}"));
    let next = body["@odata.nextLink"].as_str().map(str::to_string);
    (rows, count, next)
}

/// A string field of every row; a null shows as `null_as`.
fn field_or(rows: &[Value], name: &str, null_as: &str) -> Vec<String> {
    rows.iter()
        .map(|r| match &r[name] {
            Value::String(s) => s.clone(),
            Value::Null => null_as.to_string(),
            other => panic!("{name} is {other} in {r}"),
        })
        .collect()
}

/// A string field of every row.
fn field(rows: &[Value], name: &str) -> Vec<String> {
    rows.iter()
        .map(|r| {
            r[name]
                .as_str()
                .unwrap_or_else(|| panic!("no string {name} in {r}"))
                .to_string()
        })
        .collect()
}

/// A time of the API as the pages write it in `<time datetime>`.
fn iso_second(v: &Value) -> String {
    let t: DateTime<Utc> = v
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("not an RFC 3339 time: {v}: {e}"));
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn naive_second(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Follows `@odata.nextLink` from `path` (which asks for `size` rows a page)
/// to the end. Every page states the same count, every page but the last is
/// full, and no page after the first is empty. Returns the rows and the count.
async fn walk_pages(api: &Api<'_>, path: &str, size: usize) -> (Vec<Value>, i64) {
    let (mut rows, count, mut next) = list(api, path).await;
    assert!(rows.len() <= size, "{path}: {} rows", rows.len());
    let mut pages = 1;
    while let Some(link) = next {
        assert_eq!(
            rows.len() % size,
            0,
            "{path}: a page before {link} is short"
        );
        let (page_rows, page_count, page_next) = list(api, &relative(api.app, &link)).await;
        assert_eq!(page_count, count, "{link}: the count changes between pages");
        assert!(
            !page_rows.is_empty(),
            "{link}: an empty page after the first"
        );
        assert!(page_rows.len() <= size, "{link}: {} rows", page_rows.len());
        rows.extend(page_rows);
        next = page_next;
        pages += 1;
        assert!(pages < 2_000, "{path}: paging does not end");
    }
    (rows, count)
}

/// A link the API gave, as a path of this portal (`api.follow` does the same).
fn relative(app: &TestApp, link: &str) -> String {
    link.strip_prefix(&app.address)
        .unwrap_or_else(|| panic!("{link} is not a URL of this portal"))
        .to_string()
}

/// Pages through `query` of the list `page_path` with `size` rows a page and
/// checks the walk against one request of the largest page: the same ids in
/// the same order, none twice, as many as `count`; and the HTML page states
/// the same count for the same query string. Returns the ids.
async fn paging_matches(api: &Api<'_>, page_path: &str, query: &str, size: usize) -> Vec<String> {
    let path = api_path(page_path);
    let walked_path = join(&path, &and(query, &format!("size={size}")));
    let (walked, count) = walk_pages(api, &walked_path, size).await;
    let (whole, whole_count, next) = list(api, &join(&path, &and(query, "size=500"))).await;
    assert_eq!(next, None, "{query}: the whole list fits one page of 500");
    let ids = field(&walked, "id");
    assert_eq!(
        ids,
        field(&whole, "id"),
        "{walked_path}: walked vs one page"
    );
    assert_eq!(count, whole_count, "{walked_path}");
    assert_eq!(ids.len() as i64, count, "{walked_path}: rows vs count");
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "{walked_path}: duplicates");
    // The harness's own walk sees the same rows.
    let (harness, harness_count) = api.walk(&walked_path).await;
    assert_eq!(field(&harness, "id"), ids, "{walked_path}: api.walk");
    assert_eq!(harness_count, Some(count));
    let html = page(api.app, &join(page_path, query)).await;
    assert_eq!(
        page_count(&html),
        count,
        "{page_path}?{query}: the page's count"
    );
    ids
}

/// Checks a 400 of the API: JSON naming the parameter. When `page_path` is
/// given, the page answers the same query string with a 400 stating the
/// same message: one parser for both.
async fn bad(api: &Api<'_>, page_path: Option<&str>, path: &str, param: &str) {
    let (status, body) = api.get(path).await;
    assert_eq!(status, 400, "{path}: {body}");
    assert_eq!(body["error"]["code"], "bad_request", "{path}: {body}");
    assert_eq!(body["error"]["parameter"], param, "{path}: {body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("'{param}'")), "{path}: {message}");
    if let Some(page_path) = page_path {
        let query = path.split_once('?').map(|(_, q)| q).unwrap_or("");
        let page_url = join(page_path, query);
        let response = api.app.get(&page_url).await;
        assert_eq!(response.status(), 400, "{page_url}");
        let html = response.text().await.unwrap();
        assert_eq!(
            texts(&html, ".error-message").join(" "),
            message.split_whitespace().collect::<Vec<_>>().join(" "),
            "{page_url}: the page and the API say the same"
        );
    }
}

fn yes_no(v: &Value) -> String {
    match v.as_bool() {
        Some(true) => "Yes".into(),
        Some(false) => "No".into(),
        None => panic!("not a boolean: {v}"),
    }
}

fn method_name(key: &Value) -> &'static str {
    Method::ALL
        .into_iter()
        .find(|m| Some(m.key()) == key.as_str())
        .unwrap_or_else(|| panic!("not a method key: {key}"))
        .display_name()
}

/// A registration details row of the API as the page shows it, cell by cell.
fn registration_cells(r: &Value) -> Vec<String> {
    let methods: Vec<&str> = r["methodsRegistered"]
        .as_array()
        .unwrap()
        .iter()
        .map(method_name)
        .collect();
    vec![
        r["userDisplayName"].as_str().unwrap().to_string(),
        r["userPrincipalName"].as_str().unwrap().to_string(),
        yes_no(&r["isSsprRegistered"]),
        yes_no(&r["isSsprEnabled"]),
        yes_no(&r["isSsprCapable"]),
        methods.join(", "),
        yes_no(&r["isMfaCapable"]),
        yes_no(&r["isPasswordlessCapable"]),
        yes_no(&r["isAdmin"]),
        match r["userType"].as_str().unwrap() {
            "member" => "Member".into(),
            "guest" => "Guest".into(),
            other => panic!("user type {other}"),
        },
        yes_no_unknown(&r["accountEnabled"]),
        yes_no_unknown(&r["isMfaRegistered"]),
        match r["defaultMfaMethod"].as_str() {
            None => "—".into(),
            Some(name) => second_factor::display(name).into_owned(),
        },
        match (
            r["systemPreferredAuthenticationMethods"].as_array(),
            r["isSystemPreferredAuthenticationMethodEnabled"].as_bool(),
        ) {
            (None, None) => "—".into(),
            (Some(names), enabled) => {
                let shown: Vec<String> = names
                    .iter()
                    .map(|n| second_factor::display(n.as_str().unwrap()).into_owned())
                    .collect();
                let shown = if shown.is_empty() {
                    "None".to_string()
                } else {
                    shown.join(", ")
                };
                if enabled == Some(false) {
                    format!("{shown} (off)")
                } else {
                    shown
                }
            }
            (None, Some(enabled)) => if enabled { "On" } else { "Off" }.into(),
        },
        match r["lastUpdatedDateTime"].as_str() {
            None => "—".into(),
            Some(t) => chrono::DateTime::parse_from_rfc3339(t)
                .unwrap()
                .format("%Y-%m-%d %H:%M UTC")
                .to_string(),
        },
    ]
}

/// Yes, No, or "—" for null (no source said).
fn yes_no_unknown(v: &Value) -> String {
    if v.is_null() {
        "—".into()
    } else {
        yes_no(v)
    }
}

/// The worked example's table in docs/design.md: (name, Registered, Enabled, Capable,
/// MFA capable, Passwordless capable) under the pilot policy.
const STATUS: [(&str, bool, bool, bool, bool, bool); 9] = [
    ("Ana", true, true, true, true, false),
    ("Ben", false, true, false, true, false),
    ("Cai", true, false, false, true, false),
    ("Dee", true, true, true, true, false),
    ("Eve", false, true, false, true, false),
    ("Fay", true, true, true, true, false),
    ("Gus", false, true, false, false, false),
    ("Hal", true, true, true, true, false),
    ("Ivy", false, true, false, true, true),
];

fn person(name: &str) -> &'static Person {
    WORKED_EXAMPLE.iter().find(|p| p.1 == name).unwrap()
}

fn upn_of(name: &str) -> String {
    format!("{}@contoso.example", name.to_lowercase())
}

async fn spawn_worked_example(backend: Backend) -> (TestApp, NaiveDateTime) {
    let app = TestApp::spawn(backend).await;
    let now = Utc::now().naive_utc();
    app.with_conn(|conn| {
        build_worked_example(conn);
        build_events(conn, now);
    });
    (app, now)
}

// ---------------------------------------------------------------------------
// Registration details
// ---------------------------------------------------------------------------

/// Names and count of the registrations page for a query string.
async fn page_registrations(app: &TestApp, query: &str) -> (Vec<String>, i64, String) {
    let html = page(app, &join("/registrations", query)).await;
    let count = leading_count(&texts(&html, ".match-count strong").pop().unwrap());
    (texts(&html, "td.c-name"), count, html)
}

async fn registrations_match(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(build_worked_example);
    let api = Api::new(&app);

    // (query, expected names in list order), from the worked example's table in docs/design.md: the
    // same cases tests/registrations.rs checks on the page.
    let cases: &[(&str, &[&str])] = &[
        (
            "",
            &[
                "Ana", "Ben", "Cai", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy",
            ],
        ),
        ("registered=yes", &["Ana", "Cai", "Dee", "Fay", "Hal"]),
        ("registered=no", &["Ben", "Eve", "Gus", "Ivy"]),
        (
            "enabled=yes",
            &["Ana", "Ben", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy"],
        ),
        ("enabled=no", &["Cai"]),
        ("capable=yes", &["Ana", "Dee", "Fay", "Hal"]),
        ("capable=no", &["Ben", "Cai", "Eve", "Gus", "Ivy"]),
        ("mfa_capable=no", &["Gus"]),
        ("passwordless_capable=yes", &["Ivy"]),
        ("admin=yes", &["Fay", "Gus"]),
        ("user_type=guest", &["Dee"]),
        (
            "user_type=member&registered=yes",
            &["Ana", "Cai", "Fay", "Hal"],
        ),
        ("account_enabled=no", &["Hal"]),
        ("method=office_call", &["Eve"]),
        (
            "method=email&method=app_code",
            &["Ana", "Cai", "Dee", "Fay", "Gus", "Hal"],
        ),
        ("method=fido2", &["Ivy"]),
        ("enabled=yes&registered=no", &["Ben", "Eve", "Gus", "Ivy"]),
        ("admin=yes&capable=no", &["Gus"]),
        ("registered=yes&enabled=no", &["Cai"]),
        (
            "method=mobile_sms&capable=yes&account_enabled=yes",
            &["Ana", "Dee"],
        ),
        (
            "user_type=member&mfa_capable=yes&passwordless_capable=no&registered=no",
            &["Ben", "Eve"],
        ),
        ("capable=yes&registered=no", &[]),
        (
            "registered=all&enabled=&capable=&q=&sort=name&size=50",
            &[
                "Ana", "Ben", "Cai", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy",
            ],
        ),
        // Search and sort.
        ("q=ay", &["Fay"]),
        ("q=EVE", &["Eve"]),
        ("q=%20%20hal@CONTOSO%20", &["Hal"]),
        ("q=contoso&registered=no", &["Ben", "Eve", "Gus", "Ivy"]),
        ("q=%25", &[]),
        ("q=_", &[]),
        (
            "sort=-name",
            &[
                "Ivy", "Hal", "Gus", "Fay", "Eve", "Dee", "Cai", "Ben", "Ana",
            ],
        ),
        (
            "sort=-user_name&enabled=yes&registered=no",
            &["Ivy", "Gus", "Eve", "Ben"],
        ),
        ("sort=user_name&admin=yes", &["Fay", "Gus"]),
    ];
    for (query, expected) in cases {
        let (rows, count, next) = list(&api, &join("/api/v1/registrations", query)).await;
        let names = field(&rows, "userDisplayName");
        assert_eq!(names, *expected, "API names for {query}");
        assert_eq!(count, expected.len() as i64, "API count for {query}");
        assert_eq!(next, None, "{query}: one page");
        let (page_names, page_count, html) = page_registrations(&app, query).await;
        assert_eq!(names, page_names, "API vs page names for {query}");
        assert_eq!(count, page_count, "API vs page count for {query}");
        // Every cell of every row says what the API says.
        let api_cells: Vec<Vec<String>> = rows.iter().map(registration_cells).collect();
        assert_eq!(api_cells, table_cells(&html), "cells for {query}");
        // Each row links to the user's API report as the page to the user's page.
        let ids: Vec<String> = field(&rows, "id")
            .iter()
            .map(|id| format!("/users/{id}"))
            .collect();
        assert_eq!(ids, attrs(&html, "td.c-name a", "href"), "{query}");
    }

    // The fields of every user against the worked example's table in docs/design.md.
    let (rows, count, _) = list(&api, "/api/v1/registrations").await;
    assert_eq!(count, 9);
    for (name, registered, enabled, capable, mfa, passwordless) in STATUS {
        let (id, _, guest, admin, account_enabled, _, methods) = person(name);
        let row = rows
            .iter()
            .find(|r| r["userDisplayName"] == name)
            .unwrap_or_else(|| panic!("{name} is listed"));
        assert_eq!(row["id"], *id, "{name}");
        assert_eq!(row["userPrincipalName"], upn_of(name), "{name}");
        assert_eq!(row["isSsprRegistered"], registered, "{name} registered");
        assert_eq!(row["isSsprEnabled"], enabled, "{name} enabled");
        assert_eq!(row["isSsprCapable"], capable, "{name} capable");
        assert_eq!(row["isMfaCapable"], mfa, "{name} MFA capable");
        assert_eq!(
            row["isPasswordlessCapable"], passwordless,
            "{name} passwordless capable"
        );
        assert_eq!(row["isAdmin"], *admin, "{name} admin");
        assert_eq!(row["accountEnabled"], *account_enabled, "{name} account");
        assert_eq!(
            row["userType"],
            if *guest { "guest" } else { "member" },
            "{name} type"
        );
        // Methods in catalogue order, as keys.
        let want: Vec<&str> = Method::ALL
            .iter()
            .filter(|m| methods.contains(*m))
            .map(|m| m.key())
            .collect();
        assert_eq!(row["methodsRegistered"], serde_json::json!(want), "{name}");
    }

    // Nothing stated twice: the rows are the users, in name order.
    let ids: HashSet<String> = field(&rows, "id").into_iter().collect();
    assert_eq!(ids.len(), 9);
}
db_test!(
    registrations_equal_the_page_and_the_rules,
    registrations_match
);

/// A change of policy shows at once in the API, as docs/design.md states it for
/// the worked example: scope all, then none.
async fn registrations_follow_the_policy(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(build_worked_example);
    let api = Api::new(&app);
    let names = |query: &'static str| {
        let api = &api;
        async move {
            let (rows, count, _) = list(api, &join("/api/v1/registrations", query)).await;
            let names = field(&rows, "userDisplayName");
            assert_eq!(count, names.len() as i64, "{query}");
            let (page_names, _, _) = page_registrations(api.app, query).await;
            assert_eq!(names, page_names, "{query}");
            names
        }
    };
    assert_eq!(names("enabled=no").await, ["Cai"]);

    app.with_conn(|conn| save_policy(conn, &pilot_policy(Scope::All), Some("test")).unwrap());
    // Cai becomes enabled and capable; Dee, a guest, is no longer enabled.
    assert_eq!(names("enabled=no").await, ["Dee"]);
    assert_eq!(names("capable=yes").await, ["Ana", "Cai", "Fay", "Hal"]);

    app.with_conn(|conn| save_policy(conn, &pilot_policy(Scope::None), Some("test")).unwrap());
    // Only the administrators stay enabled.
    assert_eq!(names("enabled=yes").await, ["Fay", "Gus"]);
    assert_eq!(names("capable=yes").await, ["Fay"]);
}
db_test!(
    registrations_follow_a_policy_change,
    registrations_follow_the_policy
);

async fn registrations_paging(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let n = 300;
    app.with_conn(|conn| build_crowd(conn, n));
    let api = Api::new(&app);
    let all: Vec<User> =
        app.with_conn(|conn| users::table.select(User::as_select()).load(conn).unwrap());
    assert_eq!(all.len(), n);

    // The order of a filter worked out from the stored rows: by name (or
    // user name), ties broken by id.
    let expect = |keep: &dyn Fn(&User) -> bool, by_upn: bool, descending: bool| -> Vec<String> {
        let mut rows: Vec<&User> = all.iter().filter(|u| keep(u)).collect();
        rows.sort_by(|a, b| {
            let key = |u: &User| {
                (
                    if by_upn {
                        u.user_principal_name.clone()
                    } else {
                        u.display_name.clone()
                    },
                    u.id.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        if descending {
            rows.reverse();
        }
        rows.iter().map(|u| u.id.clone()).collect()
    };
    let email = Method::Email.bit();
    let fido2 = Method::Fido2.bit();
    let cases: Vec<(&str, usize, Vec<String>)> = vec![
        ("", 7, expect(&|_| true, false, false)),
        ("sort=-name", 11, expect(&|_| true, false, true)),
        ("sort=user_name", 13, expect(&|_| true, true, false)),
        (
            "sort=-user_name&registered=no",
            5,
            expect(&|u| !u.is_registered, true, true),
        ),
        ("admin=yes", 1, expect(&|u| u.is_admin, false, false)),
        (
            "account_enabled=no&sort=-name",
            2,
            expect(&|u| u.account_enabled == Some(false), false, true),
        ),
        (
            "q=ren%C3%A9e",
            4,
            expect(&|u| u.display_name.starts_with("Renée"), false, false),
        ),
        // A search whose next link must carry a quote.
        (
            "q=o%27neil",
            7,
            expect(&|u| u.display_name.starts_with("O'Neil"), false, false),
        ),
        (
            "q=crowd1&sort=-name&method=email",
            3,
            expect(
                &|u| u.display_name.contains("Crowd1") && u.methods_mask & email != 0,
                false,
                true,
            ),
        ),
        (
            "user_type=guest&method=fido2",
            2,
            expect(&|u| u.is_guest && u.methods_mask & fido2 != 0, false, false),
        ),
    ];
    for (query, size, expected) in &cases {
        let ids = paging_matches(&api, "/registrations", query, *size).await;
        assert_eq!(&ids, expected, "{query}: the order of the rules");
        // The first page is the page's first page of the same size.
        let first = join("/registrations", &and(query, &format!("size={size}")));
        let (rows, _, _) = list(&api, &api_path(&first)).await;
        let html = page(&app, &first).await;
        assert_eq!(
            field(&rows, "userPrincipalName"),
            texts(&html, "td.c-upn"),
            "{first}"
        );
    }
    // The filters bite: neither everything nor nothing for most cases.
    assert_eq!(cases[0].2.len(), n);
    assert!(cases[3..].iter().all(|c| !c.2.is_empty() && c.2.len() < n));
}
db_test!(
    registrations_page_without_gaps_or_duplicates,
    registrations_paging
);

// ---------------------------------------------------------------------------
// Reset details (method events)
// ---------------------------------------------------------------------------

/// Events within the last `days` (windows start on the hour, so an event an
/// hour inside the edge is in).
fn within_days(days: i64) -> impl Fn(&TestEvent) -> bool {
    move |e| e.minutes_ago < days * 1440 - 60
}

async fn activity_match(backend: Backend) {
    let (app, now) = spawn_worked_example(backend).await;
    let api = Api::new(&app);
    type Pick = Box<dyn Fn(&TestEvent) -> bool>;
    let today = now.date();
    let (from, to) = (today - Duration::days(3), today - Duration::days(1));
    let in_30 = within_days(30);
    let cases: Vec<(String, Pick)> = vec![
        (String::new(), Box::new(within_days(30))),
        ("range=30d".into(), Box::new(within_days(30))),
        ("range=7d".into(), Box::new(within_days(7))),
        ("range=24h".into(), Box::new(within_days(1))),
        (
            "feature=registration".into(),
            Box::new(move |e: &TestEvent| in_30(e) && e.feature == Feature::Registration),
        ),
        (
            "feature=reset&range=7d".into(),
            Box::new(|e: &TestEvent| within_days(7)(e) && e.feature == Feature::Reset),
        ),
        (
            "status=failure".into(),
            Box::new(|e: &TestEvent| within_days(30)(e) && !e.success),
        ),
        (
            "method=email".into(),
            Box::new(|e: &TestEvent| within_days(30)(e) && e.method == Method::Email),
        ),
        (
            "feature=reset&method=email&status=success&range=7d".into(),
            Box::new(|e: &TestEvent| {
                within_days(7)(e)
                    && e.feature == Feature::Reset
                    && e.method == Method::Email
                    && e.success
            }),
        ),
        (
            "method=security_questions".into(),
            Box::new(|e: &TestEvent| within_days(30)(e) && e.method == Method::SecurityQuestions),
        ),
        (
            "q=ana".into(),
            Box::new(|e: &TestEvent| within_days(30)(e) && e.name == "Ana"),
        ),
        (
            "q=ANA&status=success".into(),
            Box::new(|e: &TestEvent| within_days(30)(e) && e.name == "Ana" && e.success),
        ),
        ("q=zzz".into(), Box::new(|_: &TestEvent| false)),
        (
            "feature=&method=&status=&range=30d&from=&to=&q=&size=50".into(),
            Box::new(within_days(30)),
        ),
        (
            format!("range=custom&from={from}&to={to}"),
            Box::new(move |e: &TestEvent| {
                let d = e.at(now).date();
                d >= from && d <= to
            }),
        ),
        (
            format!("from={from}&to={to}"),
            Box::new(move |e: &TestEvent| {
                let d = e.at(now).date();
                d >= from && d <= to
            }),
        ),
    ];
    let mut non_empty = 0;
    for (query, pick) in &cases {
        let expected: Vec<&TestEvent> = EVENTS.iter().filter(|e| pick(e)).collect();
        let (rows, count, next) = list(&api, &join("/api/v1/activity", query)).await;
        assert_eq!(next, None, "{query}");
        // The rules: these events, newest first.
        assert_eq!(
            field(&rows, "id"),
            expected.iter().map(|e| e.id).collect::<Vec<_>>(),
            "{query}"
        );
        assert_eq!(count, expected.len() as i64, "{query}");
        // The page: the same rows and count.
        let html = page(&app, &join("/activity", query)).await;
        assert_eq!(page_count(&html), count, "{query}: count");
        let on_page: Vec<(String, String, String)> = texts(&html, "td.c-name")
            .into_iter()
            .zip(texts(&html, "td.c-upn"))
            .zip(attrs(&html, "td.c-date time", "datetime"))
            .map(|((a, b), c)| (a, b, c))
            .collect();
        let from_api: Vec<(String, String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r["userDisplayName"].as_str().unwrap().to_string(),
                    r["userPrincipalName"].as_str().unwrap().to_string(),
                    iso_second(&r["eventDateTime"]),
                )
            })
            .collect();
        assert_eq!(from_api, on_page, "{query}: rows");
        if !expected.is_empty() {
            non_empty += 1;
        }
    }
    assert!(non_empty > cases.len() * 2 / 3, "the cases are not vacuous");

    // Every field of every event against what was recorded.
    let (rows, _, _) = list(&api, "/api/v1/activity?size=500").await;
    for e in EVENTS.iter().filter(|e| within_days(30)(e)) {
        let r = rows.iter().find(|r| r["id"] == e.id).unwrap();
        assert_eq!(r["feature"], e.feature.key(), "{}", e.id);
        assert_eq!(r["userId"], e.user_id, "{}", e.id);
        assert_eq!(r["userDisplayName"], e.name, "{}", e.id);
        assert_eq!(r["userPrincipalName"], upn_of(e.name), "{}", e.id);
        assert_eq!(r["authMethod"], e.method.key(), "{}", e.id);
        assert_eq!(r["isSuccess"], e.success, "{}", e.id);
        assert_eq!(
            r["failureReason"],
            e.reason.map_or(Value::Null, Value::from),
            "{}",
            e.id
        );
        assert_eq!(
            iso_second(&r["eventDateTime"]),
            naive_second(e.at(now)),
            "{}",
            e.id
        );
    }
}
db_test!(activity_equals_the_page_and_the_events, activity_match);

/// Events at one instant (ties broken by id) and of a user the directory
/// does not hold, besides the events tenant.
fn build_ties(conn: &mut authinsights::db::DbConnection, now: NaiveDateTime) -> usize {
    let at = now - Duration::minutes(300);
    let mut events: Vec<MethodEvent> = (0..12)
        .map(|i| MethodEvent {
            id: format!("tie-{i:02}"),
            activity_id: None,
            user_id: "u-ben".into(),
            feature: Feature::Registration.code(),
            method: Method::AppCode.code(),
            success: i % 3 != 0,
            failure_reason: (i % 3 == 0).then(|| "Verification not completed".to_string()),
            occurred_at: at,
            method_name: None,
        })
        .collect();
    events.extend((0..3).map(|i| MethodEvent {
        id: format!("gone-{i}"),
        activity_id: None,
        user_id: "u-gone".into(),
        feature: Feature::Reset.code(),
        method: Method::Email.code(),
        success: false,
        failure_reason: Some("Invalid verification code".into()),
        occurred_at: now - Duration::minutes(400 + i),
        method_name: None,
    }));
    let n = events.len();
    record(conn, &[], &events, now).unwrap();
    n
}

async fn activity_paging(backend: Backend) {
    let (app, now) = spawn_worked_example(backend).await;
    let added = app.with_conn(|conn| build_ties(conn, now));
    let api = Api::new(&app);
    let in_30 = EVENTS.iter().filter(|e| within_days(30)(e)).count();
    for (query, size) in [
        ("", 1),
        ("", 2),
        ("", 5),
        ("feature=registration", 3),
        ("method=app_code&status=success", 2),
        ("q=contoso", 3),
        ("q=ben&range=24h", 4),
        ("status=failure&range=7d", 2),
    ] {
        let ids = paging_matches(&api, "/activity", query, size).await;
        assert!(!ids.is_empty(), "{query}");
        if query.is_empty() {
            assert_eq!(ids.len(), in_30 + added, "every event of 30 days");
        }
    }
    // Newest first across the pages, and the tied events all present.
    let (rows, count) = walk_pages(&api, "/api/v1/activity?size=2", 2).await;
    let times: Vec<DateTime<Utc>> = rows
        .iter()
        .map(|r| r["eventDateTime"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert_eq!(count as usize, rows.len());
    let ties = field(&rows, "id")
        .iter()
        .filter(|id| id.starts_with("tie-"))
        .count();
    assert_eq!(ties, 12);
    // A user the directory does not hold: names null, the page says so.
    let (rows, _, _) = list(&api, "/api/v1/activity?q=&feature=reset&size=500").await;
    let gone: Vec<&Value> = rows.iter().filter(|r| r["userId"] == "u-gone").collect();
    assert_eq!(gone.len(), 3);
    assert!(gone
        .iter()
        .all(|r| r["userDisplayName"].is_null() && r["userPrincipalName"].is_null()));
    let html = page(&app, "/activity?feature=reset&size=500").await;
    assert_eq!(
        field_or(&rows, "userDisplayName", "(unknown user)"),
        texts(&html, "td.c-name")
    );
}
db_test!(activity_pages_without_gaps_or_duplicates, activity_paging);

// ---------------------------------------------------------------------------
// The classic reports
// ---------------------------------------------------------------------------

fn within(minutes_ago: i64, days: i64) -> bool {
    minutes_ago < days * 1440 - 60
}

fn matches_search(a: &TestActivity, q: &str) -> bool {
    format!("{} {}", a.name, a.user_name)
        .to_lowercase()
        .contains(&q.to_lowercase())
}

/// An activity row of the API as the report page shows its first four
/// cells (user, user name, role, time).
fn report_cells(r: &Value) -> (String, String, String, String) {
    (
        match &r["userDisplayName"] {
            Value::String(s) => s.clone(),
            _ => "(unknown user)".into(),
        },
        r["userPrincipalName"].as_str().unwrap().to_string(),
        r["userRole"].as_str().unwrap().to_string(),
        iso_second(&r["activityDateTime"]),
    )
}

/// Checks one report query: the API's ids are the rules', and the page shows
/// the same rows and count.
async fn report_matches(
    api: &Api<'_>,
    page_path: &str,
    query: &str,
    expected: &[TestActivity],
) -> Vec<Value> {
    let path = join(&api_path(page_path), &and(query, "size=500"));
    let (rows, count, next) = list(api, &path).await;
    assert_eq!(next, None, "{path}");
    assert_eq!(
        field(&rows, "id"),
        expected.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        "{path}: the rules"
    );
    assert_eq!(count, expected.len() as i64, "{path}");
    let html = page(api.app, &join(page_path, &and(query, "size=500"))).await;
    assert_eq!(page_count(&html), count, "{path}: the page's count");
    // The cells exactly as written (a tab or a newline in a name included).
    let names = raw_texts(&html, "td.c-name");
    let upns = raw_texts(&html, "td.c-1");
    let roles = raw_texts(&html, "td.c-2");
    let dates = attrs(&html, "td.c-date time", "datetime");
    let on_page: Vec<(String, String, String, String)> = (0..names.len())
        .map(|i| {
            (
                names[i].clone(),
                upns[i].clone(),
                roles[i].clone(),
                dates[i].clone(),
            )
        })
        .collect();
    let from_api: Vec<_> = rows.iter().map(report_cells).collect();
    assert_eq!(from_api, on_page, "{path}: rows");
    rows
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn reset_activity_match(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let now = Utc::now().naive_utc();
    app.with_conn(|conn| build_reports(conn, now));
    let api = Api::new(&app);
    let all = report_activities();
    let pick = |f: &dyn Fn(&TestActivity) -> bool| -> Vec<TestActivity> {
        all.iter().filter(|a| f(a)).cloned().collect()
    };
    let resets = |a: &TestActivity| a.feature == Feature::Reset;
    let mut cases: Vec<(String, Vec<TestActivity>)> = vec![
        (
            String::new(),
            pick(&|a| resets(a) && within(a.minutes_ago, 30)),
        ),
        (
            "range=24h".into(),
            pick(&|a| resets(a) && within(a.minutes_ago, 1)),
        ),
        (
            "range=7d".into(),
            pick(&|a| resets(a) && within(a.minutes_ago, 7)),
        ),
    ];
    for r in ActivityResult::ALL {
        cases.push((
            format!("result={}", r.key()),
            pick(&|a| resets(a) && a.result == r && within(a.minutes_ago, 30)),
        ));
    }
    for m in PolicyMethod::ALL {
        cases.push((
            format!("method={}", m.key()),
            pick(&|a| {
                resets(a) && a.methods.policy_methods().contains(m) && within(a.minutes_ago, 30)
            }),
        ));
    }
    for q in ["ana", "SMITH, J", "typo", "ñúñ", "\"the rock\""] {
        cases.push((
            format!("q={}", url_encode(q)),
            pick(&|a| resets(a) && matches_search(a, q) && within(a.minutes_ago, 30)),
        ));
    }
    cases.push((
        "result=abandoned&method=email&range=7d".into(),
        pick(&|a| {
            resets(a)
                && a.result == ActivityResult::Abandoned
                && a.methods.policy_methods().contains(PolicyMethod::Email)
                && within(a.minutes_ago, 7)
        }),
    ));
    let empty = cases.iter().filter(|c| c.1.is_empty()).count();
    assert!(empty < cases.len() / 3, "the filters bite");
    for (query, expected) in &cases {
        report_matches(&api, "/reports/reset-activity", query, expected).await;
    }

    // Every field of every reset of 30 days against what was recorded.
    let expected = &cases[0].1;
    let rows = report_matches(&api, "/reports/reset-activity", "", expected).await;
    for (r, a) in rows.iter().zip(expected) {
        assert_eq!(r["feature"], "reset", "{}", a.id);
        assert_eq!(r["userId"], a.user_id.map_or(Value::Null, Value::from));
        assert_eq!(r["userPrincipalName"], a.user_name, "{}", a.id);
        assert_eq!(r["userRole"], a.role, "{}", a.id);
        assert_eq!(r["result"], a.result.key(), "{}", a.id);
        let d = a.details.unwrap();
        assert_eq!(r["details"], d.key(), "{}", a.id);
        assert_eq!(r["detailsText"], d.text(), "{}", a.id);
        let methods: Vec<&str> = a.methods.iter().map(|m| m.key()).collect();
        assert_eq!(r["methodsUsed"], serde_json::json!(methods), "{}", a.id);
        assert_eq!(
            iso_second(&r["activityDateTime"]),
            naive_second(a.at(now)),
            "{}",
            a.id
        );
        match a.user_id {
            Some(_) => assert_eq!(r["userDisplayName"], a.name, "{}", a.id),
            None => assert!(r["userDisplayName"].is_null(), "{}", a.id),
        }
    }
    // The page's Details and Result cells are the API's texts.
    let html = page(&app, "/reports/reset-activity?size=500").await;
    let cells = table_cells(&html);
    for (r, c) in rows.iter().zip(&cells) {
        assert_eq!(c[6], r["detailsText"].as_str().unwrap());
        let result = ActivityResult::ALL
            .into_iter()
            .find(|x| r["result"] == x.key())
            .unwrap();
        assert_eq!(c[5], result.display_name());
    }
}
db_test!(
    reset_activity_equals_the_page_and_the_rules,
    reset_activity_match
);

async fn registration_activity_match(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let now = Utc::now().naive_utc();
    app.with_conn(|conn| build_reports(conn, now));
    let api = Api::new(&app);
    let all = report_activities();
    let regs = |f: &dyn Fn(&TestActivity) -> bool| -> Vec<TestActivity> {
        all.iter()
            .filter(|a| a.feature == Feature::Registration && f(a))
            .cloned()
            .collect()
    };
    let cases: Vec<(&str, Vec<TestActivity>)> = vec![
        ("", regs(&|a| within(a.minutes_ago, 30))),
        ("range=24h", regs(&|a| within(a.minutes_ago, 1))),
        ("range=7d", regs(&|a| within(a.minutes_ago, 7))),
        (
            "method=office_phone",
            regs(&|a| {
                a.methods
                    .policy_methods()
                    .contains(PolicyMethod::OfficePhone)
                    && within(a.minutes_ago, 30)
            }),
        ),
        (
            "method=mobile_phone&range=24h",
            regs(&|a| {
                a.methods
                    .policy_methods()
                    .contains(PolicyMethod::MobilePhone)
                    && within(a.minutes_ago, 1)
            }),
        ),
        (
            "q=jane",
            regs(&|a| matches_search(a, "jane") && within(a.minutes_ago, 30)),
        ),
    ];
    // The names tests/reports.rs expects on the page, worked out by hand.
    assert_eq!(
        cases[0].1.iter().map(|a| a.name).collect::<Vec<_>>(),
        [
            "Ana",
            "Smith, Jane",
            "=HYPERLINK(\"http://x.example\",\"y\")",
            "Zoë Łukasz-Ñúñez"
        ]
    );
    for (query, expected) in &cases {
        assert!(!expected.is_empty(), "{query}");
        let rows = report_matches(&api, "/reports/registration-activity", query, expected).await;
        for (r, a) in rows.iter().zip(expected) {
            assert_eq!(r["feature"], "registration");
            assert_eq!(r["result"], a.result.key(), "{}", a.id);
            assert!(r["details"].is_null() && r["detailsText"].is_null());
            let methods: Vec<&str> = a.methods.iter().map(|m| m.key()).collect();
            assert_eq!(r["methodsUsed"], serde_json::json!(methods), "{}", a.id);
        }
    }
}
db_test!(
    registration_activity_equals_the_page_and_the_rules,
    registration_activity_match
);

async fn reports_paging(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let now = Utc::now().naive_utc();
    app.with_conn(|conn| {
        build_reports(conn, now);
        // Resets and registrations at one instant: ties broken by id.
        let at = now - Duration::minutes(500);
        let tied: Vec<Activity> = (0..10)
            .map(|i| {
                let reset = i % 2 == 0;
                Activity {
                    id: format!("tie-{i:02}"),
                    user_id: Some("u-ana".into()),
                    user_principal_name: "ana@contoso.example".into(),
                    user_display_name: "Ana".into(),
                    user_role: "User".into(),
                    feature: if reset {
                        Feature::Reset.code()
                    } else {
                        Feature::Registration.code()
                    },
                    methods_mask: Method::Email.bit(),
                    result: ActivityResult::Succeeded.code(),
                    details: reset.then(|| Details::Succeeded.code()),
                    occurred_at: at,
                }
            })
            .collect();
        record(conn, &tied, &[], now).unwrap();
    });
    let api = Api::new(&app);
    for (path, query, size) in [
        ("/reports/reset-activity", "", 1),
        ("/reports/reset-activity", "", 4),
        ("/reports/reset-activity", "result=failed", 2),
        ("/reports/reset-activity", "q=ana&range=7d", 3),
        ("/reports/reset-activity", "method=email", 2),
        ("/reports/registration-activity", "", 1),
        ("/reports/registration-activity", "", 3),
        ("/reports/registration-activity", "q=ana", 2),
    ] {
        let ids = paging_matches(&api, path, query, size).await;
        assert!(!ids.is_empty(), "{path}?{query}");
        if query.is_empty() {
            let feature = if path.ends_with("reset-activity") {
                Feature::Reset
            } else {
                Feature::Registration
            };
            let built = report_activities()
                .iter()
                .filter(|a| a.feature == feature && within(a.minutes_ago, 30))
                .count();
            assert_eq!(ids.len(), built + 5, "{path}: everything of 30 days");
        }
    }
}
db_test!(reports_page_without_gaps_or_duplicates, reports_paging);

// ---------------------------------------------------------------------------
// The overview
// ---------------------------------------------------------------------------

/// The numbers table of a chart on the page: (method, success, failure).
fn chart_numbers(html: &str, chart: &str) -> Vec<(String, i64, i64)> {
    let doc = scraper::Html::parse_document(html);
    let rows = scraper::Selector::parse(&format!("#chart-{chart} .chart-table tbody tr")).unwrap();
    let cell = scraper::Selector::parse("th, td").unwrap();
    doc.select(&rows)
        .map(|r| {
            let c: Vec<String> = r
                .select(&cell)
                .map(|c| c.text().collect::<String>().trim().to_string())
                .collect();
            (c[0].clone(), leading_count(&c[1]), leading_count(&c[2]))
        })
        .collect()
}

/// Users of the worked example for whom `f(status, person)` holds.
fn users_where(f: impl Fn(&(&str, bool, bool, bool, bool, bool), &Person) -> bool) -> i64 {
    STATUS.iter().filter(|s| f(s, person(s.0))).count() as i64
}

async fn overview_match(backend: Backend) {
    let (app, _) = spawn_worked_example(backend).await;
    let api = Api::new(&app);
    let total = WORKED_EXAMPLE.len() as i64;

    // The figures from the worked example's table in docs/design.md.
    let registered = |s: &(&str, bool, bool, bool, bool, bool)| s.1;
    let enabled = |s: &(&str, bool, bool, bool, bool, bool)| s.2;
    let capable = |s: &(&str, bool, bool, bool, bool, bool)| s.3;
    let tiles: [(&str, i64, &str, i64); 5] = [
        (
            "registered",
            users_where(|s, _| registered(s)),
            "enabledNotRegistered",
            users_where(|s, _| enabled(s) && !registered(s)),
        ),
        (
            "enabled",
            users_where(|s, _| enabled(s)),
            "registeredNotEnabled",
            users_where(|s, _| registered(s) && !enabled(s)),
        ),
        (
            "capable",
            users_where(|s, _| capable(s)),
            "notCapable",
            users_where(|s, _| !capable(s)),
        ),
        (
            "mfaCapable",
            users_where(|s, _| s.4),
            "notMfaCapable",
            users_where(|s, _| !s.4),
        ),
        (
            "passwordlessCapable",
            users_where(|s, _| s.5),
            "notPasswordlessCapable",
            users_where(|s, _| !s.5),
        ),
    ];
    let insights: [(&str, i64); 7] = [
        (
            "enabledNotRegistered",
            users_where(|s, _| enabled(s) && !registered(s)),
        ),
        (
            "registeredNotEnabled",
            users_where(|s, _| registered(s) && !enabled(s)),
        ),
        ("adminsNotCapable", users_where(|s, p| p.3 && !capable(s))),
        (
            "guestsRegisteredNotEnabled",
            users_where(|s, p| p.2 && registered(s) && !enabled(s)),
        ),
        ("notMfaCapable", users_where(|s, _| !s.4)),
        ("passwordlessCapable", users_where(|s, _| s.5)),
        ("disabledAccounts", users_where(|_, p| !p.4)),
    ];
    assert_eq!(
        tiles.map(|t| t.1),
        [5, 8, 4, 8, 1],
        "the worked example's tiles, as the overview test states them"
    );

    for (range, hours) in [("24h", 24), ("7d", 7 * 24), ("30d", 30 * 24)] {
        let before = Utc::now().naive_utc();
        let (status, body) = api.get(&format!("/api/v1/overview?range={range}")).await;
        let after = Utc::now().naive_utc();
        assert_eq!(status, 200, "{body}");
        let html = page(&app, &format!("/?range={range}")).await;

        assert_eq!(body["range"], range);
        assert_eq!(body["totalUsers"], total);
        assert_eq!(leading_count(&texts(&html, ".lede").join(" ")), total);
        // The window starts on the hour, `hours` before the hour of now.
        let start: DateTime<Utc> = body["windowStartDateTime"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let on_hour = |t: NaiveDateTime| {
            t.date().and_hms_opt(t.hour(), 0, 0).unwrap() - Duration::hours(hours)
        };
        assert!(
            [on_hour(before), on_hour(after)].contains(&start.naive_utc()),
            "{range}: window {start}"
        );
        let since = format!("Since {}:", start.format("%Y-%m-%d %H:%M UTC"));
        assert!(
            texts(
                &html,
                "#chart-registrations .chart-desc, #chart-resets .chart-desc"
            )
            .iter()
            .all(|d| d.contains(&since)),
            "{range}: {since}"
        );

        // Tiles: rules, page, and the lists behind them.
        let api_tiles = body["tiles"].as_array().unwrap();
        assert_eq!(api_tiles.len(), 5);
        let page_titles = texts(&html, ".tile-title");
        let page_counts = texts(&html, ".tile-count");
        let page_shares = texts(&html, ".tile-share");
        let page_notes = texts(&html, ".tile-note");
        let page_hrefs = attrs(&html, "a.tile", "href");
        for (i, (t, (key, count, note_key, note_count))) in api_tiles.iter().zip(tiles).enumerate()
        {
            assert_eq!(t["key"], key);
            assert_eq!(t["count"], count, "tile {key}");
            assert_eq!(t["title"], page_titles[i].as_str());
            assert_eq!(leading_count(&page_counts[i]), count, "page tile {key}");
            let percent = t["percent"].as_f64().unwrap();
            assert_eq!(
                format!("{percent:.1}"),
                format!("{:.1}", count as f64 * 100.0 / total as f64),
                "tile {key}"
            );
            assert_eq!(page_shares[i], format!("{percent:.1}% of users"));
            assert_eq!(
                t["href"],
                format!("{}{}", app.address, api_path(&page_hrefs[i])),
                "tile {key}: the page's link, in the API"
            );
            let (_, listed, _) = list(&api, &relative(&app, t["href"].as_str().unwrap())).await;
            assert_eq!(listed, count, "tile {key}: its list");
            let note = &t["note"];
            assert_eq!(note["key"], note_key);
            assert_eq!(note["count"], note_count, "note of {key}");
            assert_eq!(note["text"], page_notes[i].as_str(), "note of {key}");
            let (_, listed, _) = list(&api, &relative(&app, note["href"].as_str().unwrap())).await;
            assert_eq!(listed, note_count, "note of {key}: its list");
        }

        // Insights: rules, page, and the lists behind them.
        let api_insights = body["insights"].as_array().unwrap();
        let page_counts = texts(&html, ".insight-count");
        let page_texts = texts(&html, ".insight-text");
        let page_hrefs = attrs(&html, ".insights a", "href");
        assert_eq!(api_insights.len(), insights.len());
        assert_eq!(page_counts.len(), insights.len());
        for (i, (ins, (key, count))) in api_insights.iter().zip(insights).enumerate() {
            assert_eq!(ins["key"], key);
            assert_eq!(ins["count"], count, "insight {key}");
            assert_eq!(leading_count(&page_counts[i]), count, "page insight {key}");
            assert_eq!(ins["text"], page_texts[i].as_str(), "insight {key}");
            assert_eq!(
                ins["href"],
                format!("{}{}", app.address, api_path(&page_hrefs[i])),
                "insight {key}"
            );
            let (status, listed) = api.follow(ins["href"].as_str().unwrap()).await;
            assert_eq!(status, 200);
            assert_eq!(listed["count"], count, "insight {key}: its list");
        }

        // Charts: the events of the range per method, as the page's tables.
        let charts = body["charts"].as_array().unwrap();
        assert_eq!(charts.len(), 2);
        for (c, (key, feature)) in charts.iter().zip([
            ("registrations", Feature::Registration),
            ("resets", Feature::Reset),
        ]) {
            assert_eq!(c["key"], key);
            assert_eq!(c["feature"], feature.key());
            let count = |m: Method, success: bool| {
                EVENTS
                    .iter()
                    .filter(|e| {
                        e.feature == feature
                            && e.method == m
                            && e.success == success
                            && e.minutes_ago < hours * 60 - 60
                    })
                    .count() as i64
            };
            let want: Vec<(String, i64, i64)> = Method::USAGE
                .iter()
                .map(|m| {
                    (
                        m.display_name().to_string(),
                        count(*m, true),
                        count(*m, false),
                    )
                })
                .collect();
            let got: Vec<(String, i64, i64)> = c["methods"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    (
                        method_name(&m["authMethod"]).to_string(),
                        m["success"].as_i64().unwrap(),
                        m["failure"].as_i64().unwrap(),
                    )
                })
                .collect();
            assert_eq!(got, want, "{key} over {range}: the events");
            assert_eq!(
                got,
                chart_numbers(&html, key),
                "{key} over {range}: the page"
            );
            assert_eq!(
                c["totalSuccess"],
                want.iter().map(|w| w.1).sum::<i64>(),
                "{key}"
            );
            assert_eq!(
                c["totalFailure"],
                want.iter().map(|w| w.2).sum::<i64>(),
                "{key}"
            );
            // Each bar's list holds the bar's events; its link is the page's.
            let page_links = attrs(&html, &format!("#chart-{key} .chart-table a"), "href");
            let mut api_links = Vec::new();
            for m in c["methods"].as_array().unwrap() {
                for (link, n) in [("successHref", "success"), ("failureHref", "failure")] {
                    let href = m[link].as_str().unwrap();
                    api_links.push(href.to_string());
                    let (_, listed, _) = list(&api, &relative(&app, href)).await;
                    assert_eq!(listed, m[n].as_i64().unwrap(), "{href}");
                }
            }
            let expected_links: Vec<String> = page_links
                .iter()
                .map(|h| format!("{}{}", app.address, api_path(h)))
                .collect();
            assert_eq!(api_links, expected_links, "{key} over {range}: links");
        }
    }
}
db_test!(overview_equals_the_page_and_the_rules, overview_match);

// ---------------------------------------------------------------------------
// The policy
// ---------------------------------------------------------------------------

fn policy_keys(p: &SsprPolicy) -> Vec<&'static str> {
    p.allowed().iter().map(|m| m.key()).collect()
}

/// The policy's settings as Admin › SSPR policy shows them:
/// (scope, group id, methods required, allowed method keys).
async fn policy_form(app: &TestApp) -> (String, Vec<String>, String, Vec<String>) {
    let html = page(app, "/admin/policy").await;
    let one = |selector: &str, attr: &str| {
        let mut v = attrs(&html, selector, attr);
        assert_eq!(v.len(), 1, "{selector}: {v:?}");
        v.pop().unwrap()
    };
    let mut allowed: Vec<String> = attrs(&html, "input[type=checkbox][checked]", "name")
        .into_iter()
        .map(|n| n.strip_prefix("allow-").unwrap().to_string())
        .collect();
    allowed.sort();
    (
        one("input[name=scope][checked]", "value"),
        attrs(&html, "select[name=group] option[selected]", "value"),
        one("input[name=methods_required][checked]", "value"),
        allowed,
    )
}

async fn policy_match(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(build_worked_example);
    let api = Api::new(&app);

    let check = |policy: SsprPolicy, group: Option<(&'static str, &'static str)>| {
        let api = &api;
        async move {
            let (status, body) = api.get("/api/v1/policy").await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["scope"], policy.scope.key());
            match group {
                Some((id, name)) => {
                    assert_eq!(body["group"]["id"], id);
                    assert_eq!(body["group"]["displayName"], name);
                }
                None => assert!(body["group"].is_null(), "{body}"),
            }
            assert_eq!(body["methodsRequired"], policy.methods_required());
            assert_eq!(
                body["allowedMethods"],
                serde_json::json!(policy_keys(&policy))
            );
            // Administrators: two methods, any but security questions.
            let admin: Vec<&str> = PolicyMethod::ALL
                .iter()
                .filter(|m| **m != PolicyMethod::SecurityQuestions)
                .map(|m| m.key())
                .collect();
            assert_eq!(body["administratorPolicy"]["methodsRequired"], 2);
            assert_eq!(
                body["administratorPolicy"]["allowedMethods"],
                serde_json::json!(admin)
            );
            // Admin › SSPR policy shows the same settings.
            let (scope, groups, required, mut allowed) = policy_form(api.app).await;
            assert_eq!(body["scope"], scope.as_str());
            assert_eq!(
                groups,
                group
                    .map(|g| g.0.to_string())
                    .into_iter()
                    .collect::<Vec<_>>()
            );
            assert_eq!(body["methodsRequired"].to_string(), required);
            let mut keys: Vec<String> = body["allowedMethods"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap().to_string())
                .collect();
            keys.sort();
            allowed.sort();
            assert_eq!(keys, allowed);
            body["lastModifiedDateTime"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap()
        }
    };
    let first = check(pilot_policy(selected()), Some((PILOT_GROUP, "SSPR pilot"))).await;

    let all = SsprPolicy::new(
        Scope::All,
        1,
        [PolicyMethod::Email, PolicyMethod::SecurityQuestions]
            .into_iter()
            .collect(),
    )
    .unwrap();
    app.with_conn(|conn| save_policy(conn, &all, Some("test")).unwrap());
    let second = check(all, None).await;
    assert!(second >= first, "the change is dated");

    app.with_conn(|conn| save_policy(conn, &pilot_policy(Scope::None), Some("test")).unwrap());
    check(pilot_policy(Scope::None), None).await;

    // A group the directory does not hold: its id, no name.
    let orphan = pilot_policy(Scope::Selected {
        group_id: "group-gone".into(),
    });
    app.with_conn(|conn| save_policy(conn, &orphan, Some("test")).unwrap());
    let (_, body) = api.get("/api/v1/policy").await;
    assert_eq!(body["scope"], "selected");
    assert_eq!(body["group"]["id"], "group-gone");
    assert!(body["group"]["displayName"].is_null(), "{body}");
}
db_test!(policy_equals_the_settings, policy_match);

// ---------------------------------------------------------------------------
// One user
// ---------------------------------------------------------------------------

async fn user_match(backend: Backend) {
    let (app, now) = spawn_worked_example(backend).await;
    let api = Api::new(&app);
    let policy = pilot_policy(selected());
    let (rows, _, _) = list(&api, "/api/v1/registrations").await;

    for (id, name, guest, admin, _, in_group, methods) in WORKED_EXAMPLE {
        let (status, body) = api.get(&format!("/api/v1/users/{id}")).await;
        assert_eq!(status, 200, "{id}: {body}");
        let html = page(&app, &format!("/users/{id}")).await;

        // The registration details row, as the list has it.
        let row = rows.iter().find(|r| r["id"] == *id).unwrap();
        for (k, v) in row.as_object().unwrap() {
            assert_eq!(&body[k], v, "{id}: {k} as in the list");
        }
        assert_eq!(body["userDisplayName"], *name);
        assert_eq!(texts(&html, "h1"), [*name]);
        assert_eq!(
            body["directoryRole"],
            if *admin {
                "Global Administrator"
            } else if *guest {
                "Guest"
            } else {
                "User"
            }
        );

        // Each figure explained in the page's words.
        let figures = texts(&html, ".explain dt");
        let verdicts = texts(&html, ".explain .verdict");
        let reasons = texts(&html, ".explain .reason");
        let explanations = body["explanations"].as_array().unwrap();
        assert_eq!(
            field(explanations, "figure"),
            [
                "Registered",
                "Enabled",
                "Capable",
                "MFA capable",
                "Passwordless capable"
            ]
        );
        assert_eq!(field(explanations, "figure"), figures, "{id}");
        assert_eq!(
            field(explanations, "verdict")
                .iter()
                .map(|v| format!("{v}."))
                .collect::<Vec<_>>(),
            verdicts,
            "{id}"
        );
        assert_eq!(field(explanations, "reason"), reasons, "{id}");
        // The values are the user's figures (the worked example's table in docs/design.md).
        let figures_of = STATUS.iter().find(|s| s.0 == *name).unwrap();
        let values: Vec<bool> = explanations
            .iter()
            .map(|e| e["value"].as_bool().unwrap())
            .collect();
        assert_eq!(
            values,
            [
                figures_of.1,
                figures_of.2,
                figures_of.3,
                figures_of.4,
                figures_of.5
            ],
            "{id}"
        );
        assert_eq!(body["figuresDifferFromRules"], false, "{id}");
        assert_eq!(
            body["policy"],
            texts(&html, ".policy-text").join(" ").as_str()
        );

        // Methods: catalogue order, and how each counts under the user's
        // requirement (the administrator policy for administrators).
        let requirement = policy.requirement_for(*admin);
        let want: Vec<(&str, &str)> = Method::ALL
            .iter()
            .filter(|m| methods.contains(*m))
            .map(|m| {
                let standing = match m.policy_method() {
                    None => "not_sspr",
                    Some(pm) if requirement.allowed.contains(pm) => "counts",
                    Some(_) => "not_allowed",
                };
                (m.key(), standing)
            })
            .collect();
        let got: Vec<(String, String)> = body["methods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                assert!(m["registeredDateTime"].is_string(), "{id}: {m}");
                (
                    m["method"].as_str().unwrap().to_string(),
                    m["standing"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            got,
            want.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>(),
            "{id}"
        );
        let page_methods: Vec<String> = body["methods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| method_name(&m["method"]).to_string())
            .collect();
        assert_eq!(page_methods, texts(&html, "td.c-method"), "{id}");
        let page_counts: Vec<String> = got
            .iter()
            .map(|(_, s)| match s.as_str() {
                "counts" => "Counts".to_string(),
                "not_allowed" => "Not allowed by the policy".to_string(),
                _ => "Not an SSPR method".to_string(),
            })
            .collect();
        assert_eq!(page_counts, texts(&html, "td.c-counts"), "{id}");

        // Groups.
        let groups = body["groups"].as_array().unwrap();
        if *in_group {
            assert_eq!(
                *groups,
                [serde_json::json!({"id": PILOT_GROUP, "displayName": "SSPR pilot"})],
                "{id}"
            );
        } else {
            assert!(groups.is_empty(), "{id}: {groups:?}");
        }
        assert_eq!(
            field_or(groups, "displayName", ""),
            texts(&html, ".groups li")
        );

        // Recent activities: the user's, newest first.
        let mut theirs: Vec<&TestEvent> = EVENTS.iter().filter(|e| e.user_id == *id).collect();
        theirs.sort_by_key(|e| e.minutes_ago);
        let want_ids: Vec<String> = theirs
            .iter()
            .map(|e| format!("ac-{}", &e.id[3..]))
            .collect();
        let activities = body["recentActivities"].as_array().unwrap();
        assert_eq!(field(activities, "id"), want_ids, "{id}");
        for (a, e) in activities.iter().zip(&theirs) {
            assert_eq!(a["feature"], e.feature.key());
            assert_eq!(a["userDisplayName"], *name);
            assert_eq!(iso_second(&a["activityDateTime"]), naive_second(e.at(now)));
        }

        // The events link leads to the user's events of 30 days.
        let events_href = body["eventsHref"].as_str().unwrap();
        let (events, count, _) = list(&api, &relative(&app, events_href)).await;
        let want_events: Vec<&str> = theirs
            .iter()
            .filter(|e| within_days(30)(e))
            .map(|e| e.id)
            .collect();
        assert_eq!(field(&events, "id"), want_events, "{events_href}");
        assert_eq!(count, want_events.len() as i64);
    }

    // Unknown users: a JSON 404, as the page answers 404.
    for id in ["u-nobody", "%3Cscript%3E", "u-ana%20"] {
        let path = format!("/api/v1/users/{id}");
        let (status, body) = api.get(&path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["error"]["code"], "not_found", "{path}");
        assert!(body["error"]["message"].as_str().unwrap().len() > 5);
        assert!(body["error"].get("parameter").is_none(), "{body}");
        assert_eq!(app.get(&format!("/users/{id}")).await.status(), 404);
    }
}
db_test!(user_equals_the_page_and_the_rules, user_match);

// ---------------------------------------------------------------------------
// Bad parameters
// ---------------------------------------------------------------------------

async fn bad_parameters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(build_worked_example);
    let api = Api::new(&app);
    let today = Utc::now().naive_utc().date();
    let old = (today - Duration::days(31)).to_string();
    let future = (today + Duration::days(1)).to_string();
    let later = (today - Duration::days(2)).to_string();
    let earlier = (today - Duration::days(5)).to_string();
    let long = "x".repeat(201);
    // A registration list position is not a time: refused by the time lists.
    let name_cursor = Cursor {
        value: "Ana".into(),
        id: "u-ana".into(),
    }
    .encode();

    let registrations: Vec<(String, &str)> = vec![
        ("registered=maybe".into(), "registered"),
        ("capable=YES".into(), "capable"),
        ("mfa_capable=1".into(), "mfa_capable"),
        ("account_enabled=true".into(), "account_enabled"),
        ("user_type=robot".into(), "user_type"),
        ("method=fax".into(), "method"),
        ("method=email&method=fax".into(), "method"),
        ("sort=age".into(), "sort"),
        ("size=0".into(), "size"),
        ("size=501".into(), "size"),
        ("size=ten".into(), "size"),
        ("size=-1".into(), "size"),
        ("after=not-a-cursor".into(), "after"),
        ("before=%25%25%25".into(), "before"),
        (
            format!("after={name_cursor}&before={name_cursor}"),
            "before",
        ),
        ("registered=yes&registered=no".into(), "registered"),
        ("q=ana&q=ben".into(), "q"),
        (format!("q={long}"), "q"),
        ("q=a%01b".into(), "q"),
        ("colour=1".into(), "colour"),
        ("range=7d".into(), "range"),
    ];
    for (query, param) in &registrations {
        let path = format!("/api/v1/registrations?{query}");
        bad(&api, Some("/registrations"), &path, param).await;
    }

    let activity: Vec<(String, &str)> = vec![
        ("range=1y".into(), "range"),
        ("range=24h&range=7d".into(), "range"),
        ("from=2001-01-01".into(), "from"),
        (format!("from={old}"), "from"),
        (format!("to={future}"), "to"),
        (format!("from={later}&to={earlier}"), "from"),
        ("from=2026-02-30".into(), "from"),
        ("to=yesterday".into(), "to"),
        ("status=maybe".into(), "status"),
        ("feature=login".into(), "feature"),
        ("method=fax".into(), "method"),
        ("method=Fido2".into(), "method"),
        ("size=0".into(), "size"),
        ("size=501".into(), "size"),
        ("after=not-a-cursor".into(), "after"),
        (format!("after={name_cursor}"), "after"),
        (format!("before={name_cursor}"), "before"),
        (
            format!("after={name_cursor}&before={name_cursor}"),
            "before",
        ),
        ("q=ana&q=ben".into(), "q"),
        ("colour=1".into(), "colour"),
        ("result=failed".into(), "result"),
        ("registered=yes".into(), "registered"),
    ];
    for (query, param) in &activity {
        let path = format!("/api/v1/activity?{query}");
        bad(&api, Some("/activity"), &path, param).await;
    }

    // Both reports share the time list's parameters.
    for report in ["/reports/registration-activity", "/reports/reset-activity"] {
        let cases: Vec<(String, &str)> = vec![
            ("range=1y".into(), "range"),
            ("from=2001-01-01".into(), "from"),
            (format!("to={future}"), "to"),
            ("method=fax".into(), "method"),
            // A usage method is not authentication info of the policy.
            ("method=mobile_sms".into(), "method"),
            ("size=0".into(), "size"),
            ("size=501".into(), "size"),
            ("after=not-a-cursor".into(), "after"),
            (format!("after={name_cursor}"), "after"),
            (
                format!("after={name_cursor}&before={name_cursor}"),
                "before",
            ),
            ("q=ana&q=ben".into(), "q"),
            ("colour=1".into(), "colour"),
            ("status=success".into(), "status"),
        ];
        for (query, param) in &cases {
            let path = format!("{}?{query}", api_path(report));
            bad(&api, Some(report), &path, param).await;
        }
    }
    for (query, param) in [
        ("result=exploded", "result"),
        ("result=failed&result=blocked", "result"),
        ("result=Failed", "result"),
    ] {
        let path = format!("/api/v1/reports/reset-activity?{query}");
        bad(&api, Some("/reports/reset-activity"), &path, param).await;
    }
    // A result belongs to reset activity only.
    bad(
        &api,
        Some("/reports/registration-activity"),
        "/api/v1/reports/registration-activity?result=failed",
        "result",
    )
    .await;

    // The overview takes a preset range only.
    let dates = format!("from={later}&to={later}");
    for (query, param) in [
        ("range=custom", "range"),
        ("range=1y", "range"),
        ("range=24h&range=7d", "range"),
        ("from=2001-01-01", "from"),
        (dates.as_str(), "from"),
        ("size=10", "size"),
        ("colour=1", "colour"),
    ] {
        let path = format!("/api/v1/overview?{query}");
        bad(&api, Some("/"), &path, param).await;
    }

    // The same values are accepted when well formed: the 400s are the
    // parameters', not the endpoints'.
    let earliest = today - Duration::days(29);
    for path in [
        "/api/v1/registrations?registered=yes&capable=no&account_enabled=yes&user_type=member&method=email&method=fido2&sort=-user_name&size=500".to_string(),
        format!("/api/v1/activity?from={earlier}&to={later}&status=failure&feature=reset&method=email&size=500"),
        format!("/api/v1/reports/reset-activity?result=failed&method=email&range=custom&from={earliest}&to={today}"),
        "/api/v1/reports/registration-activity?method=mobile_phone&size=1".into(),
        "/api/v1/overview?range=24h".into(),
    ] {
        let (status, body) = api.get(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}
db_test!(bad_parameters_give_the_json_400, bad_parameters);

// ---------------------------------------------------------------------------
// Who may call
// ---------------------------------------------------------------------------

/// Every documented read of the API, with parameters.
const READS: [&str; 8] = [
    "/api/v1/overview?range=7d",
    "/api/v1/registrations?registered=yes&size=3",
    "/api/v1/activity?feature=reset",
    "/api/v1/reports/registration-activity",
    "/api/v1/reports/reset-activity?result=failed",
    "/api/v1/policy",
    "/api/v1/users/u-ana",
    "/api/v1/me",
];

/// GETs `path` with a raw request; returns status, WWW-Authenticate and the
/// JSON body, checked against the document.
async fn raw(request: reqwest::RequestBuilder, path: &str) -> (u16, Option<String>, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let challenge = header("www-authenticate");
    let content_type = header("content-type").unwrap_or_default();
    let body: Value = serde_json::from_str(&response.text().await.unwrap())
        .unwrap_or_else(|e| panic!("{path}: not JSON: {e}"));
    common::api::check("get", path, status, &content_type, &body);
    (status, challenge, body)
}

/// The body without what may change between two calls a moment apart.
fn stable(mut body: Value) -> Value {
    if let Some(o) = body.as_object_mut() {
        o.remove("windowStartDateTime");
    }
    body
}

async fn authentication(backend: Backend) {
    let (app, _) = spawn_worked_example(backend).await;
    let api = Api::new(&app);
    let ingest_only = Api::with_scopes(&app, false, true);
    app.add_account("reader", Role::ReportsReader);
    let reader = app.signed_in("reader", common::PASSWORD).await;

    for path in READS {
        let url = format!("{}{path}", app.address);
        // No credentials: 401, with the Bearer challenge.
        let (status, challenge, body) = raw(app.anonymous().get(&url), path).await;
        assert_eq!(status, 401, "{path}: {body}");
        assert_eq!(challenge.as_deref(), Some("Bearer"), "{path}");
        assert_eq!(body["error"]["code"], "unauthenticated", "{path}");
        // A key that does not exist: the same.
        let (status, challenge, body) = raw(
            app.anonymous()
                .get(&url)
                .bearer_auth("aik_not-a-key-of-this-portal"),
            path,
        )
        .await;
        assert_eq!(status, 401, "{path}: {body}");
        assert_eq!(challenge.as_deref(), Some("Bearer"), "{path}");

        // The key's answer; a session's and a Reports Reader's are the same.
        let (status, by_key) = api.get(path).await;
        assert_eq!(status, 200, "{path}: {by_key}");
        if path == "/api/v1/me" {
            continue;
        }
        let (status, by_session) = common::api::get_as(&app, &app.client, path).await;
        assert_eq!(status, 200, "{path}: {by_session}");
        assert_eq!(stable(by_session), stable(by_key.clone()), "{path}");
        let (status, by_reader) = common::api::get_as(&app, &reader, path).await;
        assert_eq!(status, 200, "{path}: {by_reader}");
        assert_eq!(stable(by_reader), stable(by_key), "{path}");

        // A key without the read scope may not read.
        let (status, body) = ingest_only.get(path).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body["error"]["code"], "forbidden", "{path}");
    }

    // Who the API sees.
    let (_, me) = api.get("/api/v1/me").await;
    assert_eq!(me["kind"], "apiKey");
    assert_eq!(me["scopes"], serde_json::json!(["read"]));
    assert!(me.get("role").is_none(), "{me}");
    let (_, me) = ingest_only.get("/api/v1/me").await;
    assert_eq!(me["scopes"], serde_json::json!(["ingest"]));
    let (_, me) = common::api::get_as(&app, &app.client, "/api/v1/me").await;
    assert_eq!(me["kind"], "account");
    assert_eq!(me["name"], common::ADMIN);
    assert_eq!(me["role"], Role::GlobalAdministrator.key());
    let (_, me) = common::api::get_as(&app, &reader, "/api/v1/me").await;
    assert_eq!(me["name"], "reader");
    assert_eq!(me["role"], Role::ReportsReader.key());

    // A bad parameter is a 400 only for a caller who may read.
    let path = "/api/v1/registrations?registered=maybe";
    let (status, _, _) = raw(app.anonymous().get(format!("{}{path}", app.address)), path).await;
    assert_eq!(status, 401);
    let (status, _) = ingest_only.get(path).await;
    assert_eq!(status, 403);
}
db_test!(only_readers_may_call, authentication);

// ---------------------------------------------------------------------------
// JSON escaping
// ---------------------------------------------------------------------------

const HOSTILE: &str = r#"<script>alert("x")</script> O'Brien & "co""#;
const HOSTILE_REASON: &str = r#"</script><b>bold</b> & 'quoted' "code""#;
const HOSTILE_KEY: &str = r#"<script>alert("key")</script> & "><img src=x>"#;

/// GETs `path` with the key; checks the raw JSON text: served as JSON, not
/// sniffable as HTML, and holding no HTML entity (JSON needs none, and one
/// would change the data). Returns the parsed body.
async fn raw_json(app: &TestApp, key: &str, path: &str) -> Value {
    let response = app
        .anonymous()
        .get(format!("{}{path}", app.address))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    let headers = response.headers().clone();
    let content_type = headers["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
    let text = response.text().await.unwrap();
    for entity in ["&lt;", "&gt;", "&amp;", "&quot;", "&#"] {
        assert!(!text.contains(entity), "{path}: {entity} in {text}");
    }
    let body: Value = serde_json::from_str(&text).unwrap();
    common::api::check("get", path, 200, &content_type, &body);
    body
}

async fn escaping(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let now = Utc::now().naive_utc();
    app.with_conn(|conn| {
        let policy = pilot_policy(Scope::All);
        save_policy(conn, &policy, Some("test")).unwrap();
        let user = DirectoryUser {
            id: "u-hostile".into(),
            display_name: HOSTILE.into(),
            user_principal_name: "obrien@contoso.example".into(),
            is_guest: false,
            directory_role: HOSTILE.into(),
            is_admin: false,
            account_enabled: Some(true),
            mfa: Default::default(),
            verdicts_stale: false,
            directory_status: None,
        };
        put_users(conn, &policy, &[user], now).unwrap();
        let methods = [(Method::Email, Some(now)), (Method::MobileSms, Some(now))];
        set_user_methods(conn, &policy, "u-hostile", &methods, now).unwrap();
        let at = now - Duration::minutes(30);
        let activity = Activity {
            id: "ac-hostile".into(),
            user_id: Some("u-hostile".into()),
            user_principal_name: "obrien@contoso.example".into(),
            user_display_name: HOSTILE.into(),
            user_role: HOSTILE.into(),
            feature: Feature::Reset.code(),
            methods_mask: Method::Email.bit(),
            result: ActivityResult::Failed.code(),
            details: Details::for_result(ActivityResult::Failed)
                .next()
                .map(|d| d.code()),
            occurred_at: at,
        };
        let event = MethodEvent {
            id: "ev-hostile".into(),
            activity_id: Some("ac-hostile".into()),
            user_id: "u-hostile".into(),
            feature: Feature::Reset.code(),
            method: Method::Email.code(),
            success: false,
            failure_reason: Some(HOSTILE_REASON.into()),
            occurred_at: at,
            method_name: None,
        };
        record(conn, &[activity], &[event], now).unwrap();
    });
    let key = Api::new(&app).key;

    // Found by a search with the quote and the ampersand, returned byte-exact.
    let body = raw_json(&app, &key, "/api/v1/registrations?q=O%27Brien+%26+%22co%22").await;
    assert_eq!(body["count"], 1, "{body}");
    assert_eq!(body["value"][0]["userDisplayName"], HOSTILE);

    let body = raw_json(&app, &key, "/api/v1/users/u-hostile").await;
    assert_eq!(body["userDisplayName"], HOSTILE);
    assert_eq!(body["directoryRole"], HOSTILE);
    assert_eq!(body["recentActivities"][0]["userDisplayName"], HOSTILE);
    assert_eq!(body["recentActivities"][0]["userRole"], HOSTILE);
    // The events link searches by the user name and finds the event.
    let events = relative(&app, body["eventsHref"].as_str().unwrap());
    let body = raw_json(&app, &key, &events).await;
    assert_eq!(body["value"][0]["failureReason"], HOSTILE_REASON);
    assert_eq!(body["value"][0]["userDisplayName"], HOSTILE);

    let body = raw_json(&app, &key, "/api/v1/reports/reset-activity?q=o%27brien").await;
    assert_eq!(body["value"][0]["id"], "ac-hostile");
    assert_eq!(body["value"][0]["userDisplayName"], HOSTILE);
    assert_eq!(body["value"][0]["userRole"], HOSTILE);

    // A key's name is the caller's input too.
    let hostile_key = app.with_conn(|conn| {
        authinsights::db::api_keys::create_key(conn, HOSTILE_KEY, true, false, "test", now)
            .unwrap()
            .1
    });
    let body = raw_json(&app, &hostile_key, "/api/v1/me").await;
    assert_eq!(body["name"], HOSTILE_KEY);
}
db_test!(json_holds_hostile_text_exactly, escaping);
