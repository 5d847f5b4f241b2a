//! The classic reports over HTTP (Registration activity, Reset activity) and
//! the CSV download of every list, checked against a hand-built tenant.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::db::activities::{
    activity_export, activity_page, activity_page_with, ActivityQuery,
};
use authinsights::db::cache::Counts;
use authinsights::db::events::{event_export, event_page, EventQuery};
use authinsights::domain::filter::{
    ActivityFilter, EventFilter, PagePosition, PageSize, RangeChoice, TimeWindow,
};
use authinsights::domain::{ActivityResult, Details, Feature, PolicyMethod};
use chrono::{Duration, NaiveDateTime, Utc};
use common::reports::{build_reports, report_activities, TestActivity, AWKWARD_USERS};
use common::tenant::build_events;
use common::{texts, Backend, TestApp};

async fn spawn_reports(backend: Backend) -> (TestApp, NaiveDateTime) {
    let app = TestApp::spawn(backend).await;
    let now = Utc::now().naive_utc();
    app.with_conn(|conn| build_reports(conn, now));
    (app, now)
}

/// The header cells and the body rows of the list on a page, each cell's
/// text exactly as shown (sort arrows left out of the headings).
fn table(html: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let doc = scraper::Html::parse_document(html);
    let th = scraper::Selector::parse("table.list thead th").unwrap();
    let tr = scraper::Selector::parse("table.list tbody tr").unwrap();
    let td = scraper::Selector::parse("td").unwrap();
    let header = doc
        .select(&th)
        .map(|e| {
            let t: String = e.text().collect();
            t.trim_end_matches([' ', '▲', '▼']).to_string()
        })
        .collect();
    let rows = doc
        .select(&tr)
        .map(|row| row.select(&td).map(|c| c.text().collect()).collect())
        .collect();
    (header, rows)
}

async fn page(app: &TestApp, path: &str) -> (Vec<String>, Vec<Vec<String>>, String) {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    let html = response.text().await.unwrap();
    let (header, rows) = table(&html);
    (header, rows, texts(&html, ".match-count").join(" "))
}

/// What the days' ranges admit: an activity this many minutes old.
fn within(minutes_ago: i64, days: i64) -> bool {
    minutes_ago < days * 1440 - 60
}

fn expected_names(pick: impl Fn(&TestActivity) -> bool) -> Vec<String> {
    report_activities()
        .iter()
        .filter(|a| pick(a))
        .map(|a| a.name.to_string())
        .collect()
}

fn matches_search(a: &TestActivity, q: &str) -> bool {
    format!("{} {}", a.name, a.user_name)
        .to_lowercase()
        .contains(&q.to_lowercase())
}

async fn reset_activity_rows_and_filters(backend: Backend) {
    let (app, _) = spawn_reports(backend).await;
    let resets = |a: &TestActivity| a.feature == Feature::Reset;
    let mut cases: Vec<(String, Vec<String>)> = vec![
        (
            String::new(),
            expected_names(|a| resets(a) && within(a.minutes_ago, 30)),
        ),
        (
            "?range=24h".into(),
            expected_names(|a| resets(a) && within(a.minutes_ago, 1)),
        ),
        (
            "?range=7d".into(),
            expected_names(|a| resets(a) && within(a.minutes_ago, 7)),
        ),
    ];
    for r in ActivityResult::ALL {
        cases.push((
            format!("?result={}", r.key()),
            expected_names(|a| resets(a) && a.result == r && within(a.minutes_ago, 30)),
        ));
    }
    for m in PolicyMethod::ALL {
        cases.push((
            format!("?method={}", m.key()),
            expected_names(|a| {
                resets(a) && a.methods.policy_methods().contains(m) && within(a.minutes_ago, 30)
            }),
        ));
    }
    for q in ["ana", "SMITH, J", "typo", "ñúñ", "\"the rock\"", "zzz"] {
        cases.push((
            format!("?q={}", url_encode(q)),
            expected_names(|a| resets(a) && matches_search(a, q) && within(a.minutes_ago, 30)),
        ));
    }
    cases.push((
        "?result=abandoned&method=email&range=7d".into(),
        expected_names(|a| {
            resets(a)
                && a.result == ActivityResult::Abandoned
                && a.methods.policy_methods().contains(PolicyMethod::Email)
                && within(a.minutes_ago, 7)
        }),
    ));
    cases.push((
        "?result=failed&q=gus".into(),
        expected_names(|a| {
            resets(a)
                && a.result == ActivityResult::Failed
                && matches_search(a, "gus")
                && within(a.minutes_ago, 30)
        }),
    ));
    for (query, expected) in &cases {
        let sep = if query.is_empty() { "?" } else { "&" };
        let (_, rows, summary) = page(
            &app,
            &format!("/reports/reset-activity{query}{sep}size=500"),
        )
        .await;
        let names: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
        assert_eq!(&names, expected, "{query}");
        let n = expected.len();
        let noun = if n == 1 {
            "password reset"
        } else {
            "password resets"
        };
        assert!(
            summary.starts_with(&format!("{n} {noun} ")),
            "{query}: {summary}"
        );
    }
    // Not every case may be empty or everything: the filters must bite.
    assert!(cases.iter().filter(|c| c.1.is_empty()).count() < cases.len() / 3);
}
db_test!(reset_activity, reset_activity_rows_and_filters);

/// Every details value of the seed is shown with the seed's result, and
/// the other cells hold what the activity recorded.
async fn reset_activity_cells(backend: Backend) {
    let (app, now) = spawn_reports(backend).await;
    let (header, rows, _) = page(&app, "/reports/reset-activity?size=500").await;
    assert_eq!(
        header,
        [
            "User",
            "User name",
            "Role",
            "Date and Time (UTC)",
            "Methods Used",
            "Result",
            "Details"
        ]
    );
    let seen: Vec<&Details> = Details::ALL
        .iter()
        .filter(|d| rows.iter().any(|r| r[6] == d.text()))
        .collect();
    assert_eq!(seen.len(), 35, "every details value is shown");
    for row in &rows {
        let d = Details::ALL.iter().find(|d| d.text() == row[6]).unwrap();
        assert_eq!(row[5], d.result().display_name(), "{}", row[6]);
    }
    let expected: Vec<TestActivity> = report_activities()
        .into_iter()
        .filter(|a| a.feature == Feature::Reset && within(a.minutes_ago, 30))
        .collect();
    assert_eq!(rows.len(), expected.len());
    for (row, a) in rows.iter().zip(&expected) {
        assert_eq!(row[0], a.name);
        assert_eq!(row[1], a.user_name);
        assert_eq!(row[2], a.role);
        assert_eq!(row[3], a.at(now).format("%Y-%m-%d %H:%M:%S").to_string());
        assert_eq!(row[4], a.methods.policy_methods().classic());
    }
    // Spot checks in the seed's words.
    let row_of = |d: Details| rows.iter().find(|r| r[6] == d.text()).unwrap();
    assert_eq!(row_of(Details::AbandonedAfterUserId)[0], "(unknown user)");
    assert_eq!(
        row_of(Details::AbandonedAfterUserId)[1],
        "typo.user@contoso.example"
    );
    assert_eq!(
        row_of(Details::ContactedAdminAfterEmail)[5],
        "Contacted admin"
    );
    assert_eq!(row_of(Details::BlockedSmsCodes)[4], "Mobile Phone");
    let passed = row_of(Details::Succeeded);
    assert!(
        [
            "Alternate Email + Mobile Phone",
            "Alternate Email + Mobile App Code"
        ]
        .contains(&passed[4].as_str()),
        "{passed:?}"
    );
}
db_test!(reset_activity_details, reset_activity_cells);

async fn registration_activity_rows(backend: Backend) {
    let (app, _) = spawn_reports(backend).await;
    let (header, rows, summary) = page(&app, "/reports/registration-activity").await;
    assert_eq!(
        header,
        [
            "User",
            "User name",
            "Role",
            "Date and Time (UTC)",
            "Data Registered"
        ]
    );
    let shown: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[4].as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("Ana", "Alternate Email + Mobile Phone"),
            ("Smith, Jane", "Office Phone"),
            (
                "=HYPERLINK(\"http://x.example\",\"y\")",
                "Nothing registered (tried Security Questions)"
            ),
            ("Zoë Łukasz-Ñúñez", "Mobile App Notification"),
        ]
    );
    assert!(
        summary.starts_with("4 registrations in the last 30 days"),
        "{summary}"
    );

    let cases: [(&str, &[&str]); 5] = [
        ("?range=24h", &["Ana"]),
        (
            "?range=7d",
            &[
                "Ana",
                "Smith, Jane",
                "=HYPERLINK(\"http://x.example\",\"y\")",
            ],
        ),
        ("?method=office_phone", &["Smith, Jane"]),
        ("?method=mobile_phone&range=24h", &["Ana"]),
        ("?q=jane", &["Smith, Jane"]),
    ];
    for (query, expected) in cases {
        let (_, rows, _) = page(&app, &format!("/reports/registration-activity{query}")).await;
        let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(names, expected, "{query}");
    }
    // A result filter belongs to reset activity only.
    let response = app
        .get("/reports/registration-activity?result=failed")
        .await;
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert!(body.contains("Unknown parameter"), "{body}");
}
db_test!(registration_activity, registration_activity_rows);

/// The documented neutralisation of spreadsheet formulas.
fn neutralised(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

/// Downloads `path.csv?query` and checks it against the page `path?query`:
/// the same header and the same rows in the same order, every cell
/// neutralised as documented. Returns the parsed rows.
async fn csv_matches_page(app: &TestApp, path: &str, query: &str, file: &str) -> Vec<Vec<String>> {
    let sep = if query.is_empty() { "?" } else { "&" };
    let (header, rows, _) = page(app, &format!("{path}{query}{sep}size=500")).await;
    let response = app.get(&format!("{path}.csv{query}")).await;
    assert_eq!(response.status(), 200, "{path}.csv{query}");
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let today = Utc::now().date_naive().format("%Y-%m-%d");
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"{file}-{today}.csv\"").as_str()
    );
    let bytes = response.bytes().await.unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "a UTF-8 byte-order mark"
    );
    let text = std::str::from_utf8(&bytes[3..]).expect("UTF-8");
    assert!(text.ends_with("\r\n"), "records end in CRLF");

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    let records: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    let (csv_header, csv_rows) = records.split_first().expect("a header row");
    assert_eq!(csv_header, &header, "{path}: the page's columns");
    let page_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| neutralised(c)).collect())
        .collect();
    assert!(!page_rows.is_empty(), "{path}{query}: a test needs rows");
    assert_eq!(csv_rows, page_rows.as_slice(), "{path}{query}");
    csv_rows.to_vec()
}

async fn csv_downloads_match_pages(backend: Backend) {
    let (app, now) = spawn_reports(backend).await;
    app.with_conn(|conn| build_events(conn, now));

    let rows = csv_matches_page(&app, "/registrations", "", "registration-details").await;
    // Every awkward name survives the round trip, formulas neutralised.
    for (_, name, upn) in AWKWARD_USERS {
        let row = rows.iter().find(|r| r[1] == *upn).unwrap();
        assert_eq!(row[0], neutralised(name), "{name:?}");
    }
    let equals = rows
        .iter()
        .find(|r| r[1] == "equals@contoso.example")
        .unwrap();
    assert_eq!(equals[0], "'=HYPERLINK(\"http://x.example\",\"y\")");
    let tab = rows.iter().find(|r| r[1] == "tab@contoso.example").unwrap();
    assert_eq!(tab[0], "'\tTabbed");
    assert_eq!(
        rows.iter()
            .find(|r| r[1] == "two.lines@contoso.example")
            .unwrap()[0],
        "Two\nLines"
    );

    csv_matches_page(
        &app,
        "/registrations",
        "?sort=-user_name&enabled=yes",
        "registration-details",
    )
    .await;
    csv_matches_page(
        &app,
        "/registrations",
        "?q=contoso&method=email",
        "registration-details",
    )
    .await;
    csv_matches_page(&app, "/activity", "", "reset-details").await;
    csv_matches_page(
        &app,
        "/activity",
        "?feature=reset&status=failure&range=7d",
        "reset-details",
    )
    .await;
    csv_matches_page(
        &app,
        "/reports/registration-activity",
        "",
        "registration-activity",
    )
    .await;
    let resets = csv_matches_page(&app, "/reports/reset-activity", "", "reset-activity").await;
    assert!(resets.iter().any(|r| r[0] == "'+44 Desk"), "{resets:?}");
    assert!(resets.iter().any(|r| r[0] == "Dwayne \"The Rock\" Jones"));
    csv_matches_page(
        &app,
        "/reports/reset-activity",
        "?result=abandoned&range=7d",
        "reset-activity",
    )
    .await;
    csv_matches_page(
        &app,
        "/reports/reset-activity",
        "?q=a&method=mobile_phone",
        "reset-activity",
    )
    .await;

    // A download ignores paging: every row, wherever the page was.
    let (_, first_page, _) = page(&app, "/reports/reset-activity?size=5").await;
    assert_eq!(first_page.len(), 5);
    let response = app.get("/reports/reset-activity.csv?size=5").await;
    let body = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(reader.records().count(), resets.len());
}
db_test!(csv_downloads, csv_downloads_match_pages);

async fn csv_bad_parameters(backend: Backend) {
    let (app, _) = spawn_reports(backend).await;
    for (path, names) in [
        (
            "/reports/reset-activity.csv?result=lost",
            "Parameter 'result'",
        ),
        (
            "/reports/reset-activity.csv?method=carrier_pigeon",
            "Parameter 'method'",
        ),
        (
            "/reports/registration-activity.csv?range=90d",
            "Parameter 'range'",
        ),
        ("/registrations.csv?capable=maybe", "Parameter 'capable'"),
        (
            "/registrations.csv?colour=red",
            "Unknown parameter 'colour'",
        ),
        (
            "/activity.csv?range=custom&from=2001-01-01&to=2001-01-02",
            "Parameter 'from'",
        ),
        ("/activity.csv?after=not-a-cursor", "Parameter 'after'"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 400, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8",
            "{path}"
        );
        assert!(
            response.headers().get("content-disposition").is_none(),
            "{path}"
        );
        let message = texts(&response.text().await.unwrap(), ".error-message").join(" ");
        assert!(message.starts_with(names), "{path}: {message}");
    }
}
db_test!(csv_errors, csv_bad_parameters);

/// An export reads each stream a block at a time; with tiny blocks it still
/// gives every row the pages give, in the same order, once.
async fn exports_cross_blocks(backend: Backend) {
    let (app, now) = spawn_reports(backend).await;
    app.with_conn(|conn| build_events(conn, now));
    let window = TimeWindow {
        start: now - Duration::days(30),
        end: None,
    };
    let filters = [
        ActivityFilter {
            feature: Feature::Reset,
            result: None,
            method: None,
            range: RangeChoice::default(),
            window,
            search: None,
        },
        ActivityFilter {
            feature: Feature::Reset,
            result: Some(ActivityResult::Failed),
            method: None,
            range: RangeChoice::default(),
            window,
            search: None,
        },
    ];
    app.with_conn(|conn| {
        for f in &filters {
            let paged: Vec<String> = activity_page(
                conn,
                &Counts::uncached(),
                &ActivityQuery {
                    filter: f.clone(),
                    size: PageSize::parse("size", Some("500")).unwrap(),
                    position: PagePosition::First,
                },
            )
            .unwrap()
            .rows
            .into_iter()
            .map(|r| r.activity.id)
            .collect();
            let mut merger = activity_export(conn, &Counts::uncached(), f, 2).unwrap();
            let mut exported = Vec::new();
            loop {
                let keys = merger.next_keys(conn, 3).unwrap();
                if keys.is_empty() {
                    break;
                }
                exported.extend(keys.into_iter().map(|k| k.1));
            }
            assert!(paged.len() > 5);
            assert_eq!(exported, paged, "{f:?}");
        }
        let f = EventFilter {
            feature: None,
            method: None,
            outcome: None,
            range: RangeChoice::default(),
            window,
            search: None,
            in_directory: Default::default(),
        };
        let paged: Vec<String> = event_page(
            conn,
            &Counts::uncached(),
            &EventQuery {
                filter: f.clone(),
                size: PageSize::parse("size", Some("500")).unwrap(),
                position: PagePosition::First,
            },
        )
        .unwrap()
        .rows
        .into_iter()
        .map(|r| r.id)
        .collect();
        let mut merger = event_export(conn, &Counts::uncached(), &f, 1).unwrap();
        let exported: Vec<String> = merger
            .next_keys(conn, 1000)
            .unwrap()
            .into_iter()
            .map(|k| k.1)
            .collect();
        assert_eq!(exported, paged);
    });
}
db_test!(export_blocks, exports_cross_blocks);

/// A search that matches too many users to read by user walks the time
/// index instead: the same rows, in the same order.
async fn broad_search_walks_to_the_same_rows(backend: Backend) {
    let (app, now) = spawn_reports(backend).await;
    let window = TimeWindow {
        start: now - Duration::days(30),
        end: None,
    };
    app.with_conn(|conn| {
        for (q, result) in [
            ("a", None),
            ("contoso", Some(ActivityResult::Abandoned)),
            ("typo", None),
            ("ÑÚÑ", None),
        ] {
            let query = ActivityQuery {
                filter: ActivityFilter {
                    feature: Feature::Reset,
                    result,
                    method: None,
                    range: RangeChoice::default(),
                    window,
                    search: authinsights::domain::filter::Search::parse("q", Some(q)).unwrap(),
                },
                size: PageSize::parse("size", Some("500")).unwrap(),
                position: PagePosition::First,
            };
            let mut ids = |limit| -> Vec<String> {
                activity_page_with(conn, &Counts::uncached(), &query, limit)
                    .unwrap()
                    .rows
                    .into_iter()
                    .map(|r| r.activity.id)
                    .collect()
            };
            let (by_user, walked) = (ids(5_000), ids(0));
            assert!(!by_user.is_empty(), "{q}");
            assert_eq!(walked, by_user, "{q}");
        }
    });
}
db_test!(broad_search, broad_search_walks_to_the_same_rows);

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
