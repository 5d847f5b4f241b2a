//! The usage view (`/usage`, `/usage.csv`, `/api/v1/usage`), account
//! unlocks and daily sign-in summaries: data brought by the real importers
//! (our format and Microsoft Graph exports), then read as an administrator
//! sees it, on both backends.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::db::imports::ImportSource;
use authinsights::ingest::format::FileKind;
use authinsights::ingest::import::{ImportFile, ImportKind, ImportOutcome, ImportRequest};
use authinsights::ingest::writer::WriterOptions;
use authinsights::service;
use chrono::{Duration, NaiveDate, Utc};
use common::api::Api;
use common::tenant::{import_activities, import_file};
use common::{cells, texts, Backend, TestApp};
use serde_json::{json, Value};

fn import(app: &TestApp, kind: ImportKind, name: &str, text: String) -> ImportOutcome {
    app.with_conn(|conn| import_file(conn, kind, name, text))
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// Resets and unlocks of our format: (feature, result, days ago, how many).
const OPERATIONS: [(&str, &str, i64, usize); 6] = [
    ("reset", "succeeded", 1, 3),
    ("reset", "abandoned", 1, 2),
    ("unlock", "succeeded", 1, 4),
    ("unlock", "failed", 2, 1),
    ("reset", "succeeded", 2, 5),
    ("registration", "succeeded", 2, 7),
];

fn operations_jsonl() -> String {
    let mut out = String::new();
    for (k, (feature, result, days_ago, n)) in OPERATIONS.iter().enumerate() {
        for i in 0..*n {
            let at = today() - Duration::days(*days_ago);
            let line = json!({
                "id": format!("op-{k}-{i}"),
                "user_principal_name": format!("someone{i}@contoso.example"),
                "feature": feature,
                "result": result,
                "occurred_at": format!("{at}T{:02}:15:00Z", 8 + i),
            });
            out.push_str(&line.to_string());
            out.push('\n');
        }
    }
    out
}

fn expected(feature: &str, succeeded: bool, days_ago: i64) -> i64 {
    OPERATIONS
        .iter()
        .filter(|(f, r, d, _)| *f == feature && (*r == "succeeded") == succeeded && *d == days_ago)
        .map(|(_, _, _, n)| *n as i64)
        .sum()
}

async fn resets_and_unlocks_per_day_are_the_imported_rows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(|conn| import_activities(conn, &operations_jsonl()));

    let html = app.get("/usage?range=7d").await.text().await.unwrap();
    let rows = cells(&html, "#table-operations tbody tr", "th, td");
    let api = Api::new(&app);
    let (status, body) = api.get("/api/v1/usage?range=7d").await;
    assert_eq!(status, 200, "{body}");
    let days = body["days"].as_array().unwrap();
    assert_eq!(days.len(), rows.len(), "a table row and an API day per day");
    for days_ago in 0..=2 {
        let day = (today() - Duration::days(days_ago)).to_string();
        let row = rows.iter().find(|r| r[0] == day).unwrap();
        let want = [
            expected("reset", true, days_ago),
            expected("reset", false, days_ago),
            expected("unlock", true, days_ago),
            expected("unlock", false, days_ago),
        ];
        let shown: Vec<i64> = row[1..].iter().map(|c| c.parse().unwrap()).collect();
        assert_eq!(shown, want, "the page's row of {day}");
        let d = days.iter().find(|d| d["day"] == day.as_str()).unwrap();
        assert_eq!(
            [
                d["resets"]["succeeded"].as_i64().unwrap(),
                d["resets"]["notSucceeded"].as_i64().unwrap(),
                d["unlocks"]["succeeded"].as_i64().unwrap(),
                d["unlocks"]["notSucceeded"].as_i64().unwrap(),
            ],
            want,
            "the API's {day}"
        );
    }
    // A bar's link is the list of exactly its activities.
    let day = (today() - Duration::days(1)).to_string();
    let href = format!(
        "/reports/reset-activity?feature=unlock&result=succeeded&range=custom&from={day}&to={day}"
    );
    let links: Vec<String> = {
        let doc = scraper::Html::parse_document(&html);
        let a = scraper::Selector::parse("#chart-operations a").unwrap();
        doc.select(&a)
            .filter_map(|e| e.value().attr("href").map(str::to_string))
            .collect()
    };
    assert!(links.contains(&href), "a bar links {href}: {links:?}");
    let list = app.get(&href).await.text().await.unwrap();
    assert!(
        texts(&list, "#match-count")[0].starts_with("4 account unlocks"),
        "{:?}",
        texts(&list, "#match-count")
    );
    // The CSV has the page's per-day rows.
    let csv = app.get("/usage.csv?range=7d").await.text().await.unwrap();
    let line = csv.lines().find(|l| l.starts_with(&day)).unwrap();
    assert!(line.starts_with(&format!("{day},3,2,4,0,")), "{line}");
    // With no sign-in summaries the page says how to get them.
    assert!(html.contains("No sign-in data imported yet"));
    assert!(html.contains("authinsights import graph"));
}
db_test!(
    resets_and_unlocks_per_day,
    resets_and_unlocks_per_day_are_the_imported_rows
);

async fn the_reset_report_filters_by_feature(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(|conn| import_activities(conn, &operations_jsonl()));
    for (path, says) in [
        ("/reports/reset-activity", "10 password resets"),
        (
            "/reports/reset-activity?feature=unlock",
            "5 account unlocks",
        ),
        (
            "/reports/reset-activity?feature=unlock&result=failed",
            "1 account unlock ",
        ),
    ] {
        let html = app.get(path).await.text().await.unwrap();
        let count = texts(&html, "#match-count")[0].clone();
        assert!(count.starts_with(says), "{path}: {count}");
    }
    let csv = app
        .get("/reports/reset-activity.csv?feature=unlock")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 1 + 5, "a header and five unlocks");
    let api = Api::new(&app);
    let (_, body) = api
        .get("/api/v1/reports/reset-activity?feature=unlock")
        .await;
    assert_eq!(body["value"].as_array().unwrap().len(), 5, "{body}");
    let bad = app
        .get("/reports/reset-activity?feature=registration")
        .await;
    assert_eq!(bad.status(), 400);
    let text = bad.text().await.unwrap();
    assert!(
        text.contains("feature") && text.contains("use reset or unlock"),
        "{text}"
    );
}
db_test!(reset_report_feature, the_reset_report_filters_by_feature);

/// The fixture's records, dated `days_ago` and the day before (Microsoft's
/// example is of July 2025; the view shows the last 30 days).
fn mfa_fixture(days_ago: i64) -> (String, [NaiveDate; 2]) {
    let text =
        std::fs::read_to_string("tests/fixtures/graph/user-mfa-sign-in-summary.json").unwrap();
    let mut page: Value = serde_json::from_str(&text).unwrap();
    let days = [
        today() - Duration::days(days_ago + 1),
        today() - Duration::days(days_ago),
    ];
    for (record, day) in page["value"].as_array_mut().unwrap().iter_mut().zip(days) {
        record["createdDateTime"] = json!(format!("{day}T16:19:18Z"));
    }
    (page.to_string(), days)
}

async fn sign_in_summaries_are_the_imported_rows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (mfa, days) = mfa_fixture(3);
    let done = import(
        &app,
        ImportKind::Graph,
        "user-mfa-sign-in-summary.json",
        mfa.clone(),
    );
    assert_eq!(done.summary.sign_in_days.inserted, 2);
    let methods =
        std::fs::read_to_string("tests/fixtures/graph/user-sign-ins-by-auth-method-summary.json")
            .unwrap();
    let done = import(&app, ImportKind::Graph, "by-method.json", methods.clone());
    assert_eq!(done.summary.sign_in_methods.inserted, 16);
    assert!(done.warnings.is_empty(), "every documented name is known");

    // Imported again: replaced, not added.
    let again = import(
        &app,
        ImportKind::Graph,
        "user-mfa-sign-in-summary.json",
        mfa,
    );
    assert_eq!(again.summary.sign_in_days.skipped, 2);
    import(&app, ImportKind::Graph, "by-method.json", methods);

    let api = Api::new(&app);
    let (status, body) = api.get("/api/v1/usage").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["signInData"], true);
    let day = |d: NaiveDate| {
        body["days"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["day"] == d.to_string().as_str())
            .unwrap()
            .clone()
    };
    // As Graph gives them, the example's total (1000) included.
    let first = day(days[0]);
    assert_eq!(
        first["signIns"],
        json!({"totalSignIns": 1000, "singleFactorSignIns": 100, "multiFactorSignIns": 9900})
    );
    assert_eq!(day(days[1])["signIns"]["multiFactorSignIns"], 840);
    let by_method = day(today())["signInsByMethod"].as_array().unwrap().clone();
    let count = |key: &str| {
        by_method
            .iter()
            .find(|m| m["authenticationMethod"] == key)
            .map(|m| m["successActivityCount"].as_i64().unwrap())
    };
    assert_eq!(count("password"), Some(1470));
    assert_eq!(count("authenticator_passwordless"), Some(504));
    assert_eq!(count("passkey_device_bound"), Some(843));
    assert_eq!(count("temporary_access_pass"), Some(90));
    assert_eq!(count("app_notification"), Some(8));
    assert_eq!(by_method.len(), 16, "zero counts are kept too");

    let html = app.get("/usage").await.text().await.unwrap();
    let rows = cells(&html, "#table-sign-ins tbody tr", "th, td");
    let row = rows.iter().find(|r| r[0] == days[0].to_string()).unwrap();
    assert_eq!(row[1..], ["100", "9,900", "1,000"]);
    let methods = cells(&html, "#table-sign-in-methods tbody tr", "th, td");
    assert!(methods.contains(&vec!["Password".to_string(), "1,470".to_string()]));
    assert!(methods.contains(&vec![
        "Passkey (device-bound)".to_string(),
        "843".to_string()
    ]));
    assert_eq!(methods.len(), 5, "methods with sign-ins: {methods:?}");
    assert!(!html.contains("No sign-in data imported yet"));
}
db_test!(sign_in_summaries, sign_in_summaries_are_the_imported_rows);

async fn an_unknown_sign_in_method_is_kept_with_a_warning(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let page = json!({"value": [
        {"@odata.type": "#microsoft.graph.userSignInUsageByAuthMethodActivity", "authenticationMethod": "password", "successActivityCount": 12},
        {"@odata.type": "#microsoft.graph.userSignInUsageByAuthMethodActivity", "authenticationMethod": "qrCodePin", "successActivityCount": 7}
    ]});
    let done = import(&app, ImportKind::Graph, "methods.json", page.to_string());
    assert_eq!(done.summary.sign_in_methods.inserted, 2, "nothing refused");
    let report = done.warnings.report();
    assert!(
        report.contains("methods.json") && report.contains("qrCodePin"),
        "{report}"
    );
    // Our own format: the same.
    let day = today() - Duration::days(1);
    let done = import(
        &app,
        ImportKind::File(FileKind::SignInMethods),
        "m.csv",
        format!("day,method,sign_ins\n{day},password,3\n{day},smartCardPlus,2\n"),
    );
    assert_eq!(done.summary.sign_in_methods.inserted, 2);
    assert!(done.warnings.report().contains("smartCardPlus"));

    let (_, body) = Api::new(&app).get("/api/v1/usage").await;
    let others: Vec<&Value> = body["signInMethods"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["authenticationMethod"] == "other")
        .collect();
    assert_eq!(others.len(), 2, "{body}");
    let html = app.get("/usage").await.text().await.unwrap();
    assert!(html.contains("Other (qrCodePin)"));

    // A malformed count stops the import, naming file, line and field.
    let request = ImportRequest {
        kind: ImportKind::File(FileKind::SignIns),
        source: ImportSource::CommandLine,
        actor: "test".into(),
        options: WriterOptions {
            bulk: false,
            register_on_success: false,
        },
        strict: false,
    };
    let err = app.with_conn(|conn| {
        service::imports::import(
            conn,
            &request,
            vec![ImportFile {
                name: "s.csv".into(),
                reader: Box::new(std::io::Cursor::new(
                    format!("day,single_factor,multi_factor\n{day},12,many\n").into_bytes(),
                )),
            }],
        )
        .err()
        .unwrap()
    });
    let text = err.to_string();
    assert!(
        text.contains("s.csv") && text.contains("line 2") && text.contains("multi_factor"),
        "{text}"
    );
}
db_test!(
    unknown_sign_in_method,
    an_unknown_sign_in_method_is_kept_with_a_warning
);

async fn a_graph_unlock_is_an_unlock(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let at = |m: i64| {
        format!(
            "{}Z",
            (Utc::now() - Duration::minutes(m)).format("%Y-%m-%dT%H:%M:%S")
        )
    };
    let entry = |id: &str, activity: &str, reason: &str, m: i64| {
        json!({
            "id": id, "category": "UserManagement", "correlationId": "c-unlock",
            "result": "success", "resultReason": reason,
            "activityDisplayName": activity, "activityDateTime": at(m),
            "loggedByService": "Self-service Password Management",
            "initiatedBy": {"user": {"id": "", "displayName": "Ana", "userPrincipalName": "ana@contoso.example"}},
            "targetResources": []
        })
    };
    let page = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits",
        "value": [
            entry("a1", "Self-service password reset flow activity progress", "User started the email verification option", 5),
            entry("a2", "Self-service password reset flow activity progress", "User completed the email verification option", 4),
            entry("a3", "Unlock user account (self-service)", "", 3),
        ]
    });
    import(&app, ImportKind::Graph, "audits.json", page.to_string());
    let (_, body) = Api::new(&app).get("/api/v1/usage?range=24h").await;
    let unlocks: i64 = body["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["unlocks"]["succeeded"].as_i64().unwrap())
        .sum();
    let resets: i64 = body["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d["resets"]["succeeded"].as_i64().unwrap()
                + d["resets"]["notSucceeded"].as_i64().unwrap()
        })
        .sum();
    assert_eq!((unlocks, resets), (1, 0), "{body}");
}
db_test!(graph_unlock, a_graph_unlock_is_an_unlock);
