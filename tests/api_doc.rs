//! The OpenAPI document against the API's real answers: every documented
//! operation is called for every status it documents (503 is in
//! tests/resilience.rs, with a stopped database), and each answer is
//! validated against the document's schema by `common::api`. A status the
//! document lists that no request can produce, or an answer it does not
//! describe, fails here.

#![allow(clippy::unwrap_used)]

mod common;

use chrono::Utc;
use common::api::{check, document, get_as, Api};
use common::reports::build_reports;
use common::tenant::{build_events, build_worked_example};
use common::{Backend, TestApp};
use serde_json::Value;
use std::collections::BTreeSet;

#[actix_rt::test]
async fn the_served_document_is_the_generated_one() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let api = Api::new(&app);
    let (status, served) = api.get_raw("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(&served, document());
    assert!(served["openapi"].as_str().unwrap().starts_with("3."));
    // A key with only the ingest scope may read the description too.
    let ingest = Api::with_scopes(&app, false, true);
    assert_eq!(ingest.get_raw("/api/v1/openapi.json").await.0, 200);
    // Nobody else.
    let anonymous = app
        .anonymous()
        .get(format!("{}/api/v1/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

/// A request that should produce `status` on the operation `template`, as
/// (who asks, concrete path). None when the document lists a status this
/// test cannot produce: the test then fails, naming it.
fn request_for(template: &str, status: &str, user_id: &str) -> Option<(Who, String)> {
    if template.starts_with("/graph/") {
        return graph_request_for(template, status, user_id);
    }
    let path = template.replace("{id}", user_id);
    let bad_query = match template {
        "/api/v1/overview" => "range=1y",
        "/api/v1/registrations" => "registered=maybe",
        "/api/v1/activity" => "status=lost",
        "/api/v1/reports/registration-activity" => "size=0",
        "/api/v1/reports/reset-activity" => "result=exploded",
        _ => return request_for_other(&path, status),
    };
    Some(match status {
        "200" => (Who::Reader, path),
        "400" => (Who::Reader, format!("{path}?{bad_query}")),
        "401" => (Who::Nobody, path),
        "403" => (Who::IngestOnly, path),
        _ => return None,
    })
}

/// The Graph-compatible endpoints: the beta has every resource; a version
/// that does not exist is their 404 (and an unknown id, for one user).
fn graph_request_for(template: &str, status: &str, user_id: &str) -> Option<(Who, String)> {
    let path = template
        .replace("{version}", "beta")
        .replace("{id}", user_id)
        .replace("{includedUserTypes}", "all")
        .replace("{includedUserRoles}", "admin");
    let summary = template.contains("usersRegisteredBy");
    Some(match status {
        "200" => (Who::Reader, path),
        // The summaries take no query option; the lists no $top of 0.
        "400" if summary || template.ends_with("{id}") => (Who::Reader, format!("{path}?$top=5")),
        "400" => (Who::Reader, format!("{path}?$top=0")),
        "401" => (Who::Nobody, path),
        "403" => (Who::IngestOnly, path),
        "404" if template.ends_with("{id}") => (Who::Reader, path.replace(user_id, "no-such-user")),
        "404" => (Who::Reader, path.replace("/beta/", "/v9.9/")),
        _ => return None,
    })
}

fn request_for_other(path: &str, status: &str) -> Option<(Who, String)> {
    Some(match status {
        "200" => (Who::Reader, path.to_string()),
        "400" => (Who::Reader, format!("{path}?colour=blue")),
        "401" => (Who::Nobody, path.to_string()),
        "403" => (Who::IngestOnly, path.to_string()),
        "404" => (
            Who::Reader,
            path.replace(path.rsplit('/').next()?, "no-such-user"),
        ),
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy)]
enum Who {
    Reader,
    IngestOnly,
    Nobody,
}

async fn every_documented_status_is_answered_as_documented(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let now = Utc::now().naive_utc();
    app.with_conn(|conn| {
        build_worked_example(conn);
        build_events(conn, now);
        build_reports(conn, now);
    });
    let reader = Api::new(&app);
    let ingest_only = Api::with_scopes(&app, false, true);
    let (_, users) = reader.get("/api/v1/registrations?q=Ana").await;
    let ana = users["value"][0]["id"].as_str().unwrap().to_string();

    let mut answered = BTreeSet::new();
    let paths = document()["paths"].as_object().unwrap();
    for (template, item) in paths {
        if template == "/api/v1/openapi.json" {
            continue;
        }
        let operation = &item["get"];
        for status in operation["responses"].as_object().unwrap().keys() {
            if status == "503" {
                continue; // tests/resilience.rs stops a database for it.
            }
            let (who, path) = request_for(template, status, &ana)
                .unwrap_or_else(|| panic!("no request produces {status} on {template}"));
            let (got, body) = match who {
                Who::Reader => reader.get(&path).await,
                Who::IngestOnly => ingest_only.get(&path).await,
                Who::Nobody => get_as(&app, &app.anonymous(), &path).await,
            };
            assert_eq!(got.to_string(), *status, "{who:?} GET {path}: {body}");
            if got >= 400 {
                assert!(
                    !body["error"]["message"].as_str().unwrap().is_empty(),
                    "{path}: {body}"
                );
            }
            answered.insert((template.clone(), status.clone()));
        }
        // The 200 of every operation for a signed-in session, too.
        if let Some((_, path)) = request_for(template, "200", &ana) {
            let (got, body) = get_as(&app, &app.client, &path).await;
            assert_eq!(got, 200, "session GET {path}: {body}");
        }
    }
    // Every operation but the document itself was called for a 200, 401 and 403.
    for template in paths.keys().filter(|t| *t != "/api/v1/openapi.json") {
        for status in ["200", "401"] {
            assert!(
                answered.contains(&(template.clone(), status.to_string())),
                "{template} documents no {status}"
            );
        }
    }
}
db_test!(
    every_documented_status,
    every_documented_status_is_answered_as_documented
);

async fn lists_with_every_filter_value_match_the_document(backend: Backend) {
    // Every value the document offers for a parameter is accepted (200) and
    // answered as documented; a value outside the list is a 400 naming it.
    let app = TestApp::spawn(backend).await;
    let now = Utc::now().naive_utc();
    app.with_conn(|conn| {
        build_worked_example(conn);
        build_events(conn, now);
        build_reports(conn, now);
    });
    let api = Api::new(&app);
    let paths = document()["paths"].as_object().unwrap();
    let mut tried = 0;
    for (template, item) in paths {
        let Some(parameters) = item["get"]["parameters"].as_array() else {
            continue;
        };
        for p in parameters.iter().filter(|p| p["in"] == "query") {
            let name = p["name"].as_str().unwrap();
            let schema = &p["schema"];
            let values: Vec<&Value> = schema["enum"]
                .as_array()
                .or(schema["items"]["enum"].as_array())
                .map(|v| v.iter().collect())
                .unwrap_or_default();
            for v in values {
                let path = format!("{template}?{name}={}", v.as_str().unwrap());
                let (status, body) = api.get(&path).await;
                assert_eq!(status, 200, "{path}: {body}");
                tried += 1;
            }
            if !schema["enum"].is_null() || !schema["items"]["enum"].is_null() {
                let path = format!("{template}?{name}=not-a-value");
                let (status, body) = api.get(&path).await;
                assert_eq!(status, 400, "{path}: {body}");
                assert_eq!(body["error"]["parameter"], name, "{path}: {body}");
            }
        }
    }
    assert!(tried > 60, "only {tried} values were tried");
}
db_test!(
    every_documented_value,
    lists_with_every_filter_value_match_the_document
);

#[test]
fn an_answer_the_document_does_not_describe_is_caught() {
    // The checker itself: a missing field, a value outside a list and an
    // undocumented status all fail.
    let good = serde_json::json!({"kind": "apiKey", "name": "k", "scopes": ["read"]});
    check("get", "/api/v1/me", 200, "application/json", &good);
    for (status, body) in [
        (
            200,
            serde_json::json!({"kind": "apiKey", "scopes": ["read"]}),
        ),
        (
            200,
            serde_json::json!({"kind": "apiKey", "name": 3, "scopes": []}),
        ),
        (
            404,
            serde_json::json!({"error": {"code": "not_found", "message": "x"}}),
        ),
    ] {
        let caught = std::panic::catch_unwind(|| {
            check("get", "/api/v1/me", status, "application/json", &body)
        });
        assert!(caught.is_err(), "{status} {body} passed the check");
    }
    let registrations = serde_json::json!({
        "value": [{"id": "u", "userPrincipalName": "a@b", "userDisplayName": "A",
                   "userType": "robot", "isAdmin": false, "isSsprRegistered": true,
                   "isSsprEnabled": true, "isSsprCapable": true, "isMfaCapable": true,
                   "isPasswordlessCapable": false, "accountEnabled": true,
                   "methodsRegistered": ["email"]}],
        "count": 1, "countIsLowerBound": false
    });
    let caught = std::panic::catch_unwind(|| {
        check(
            "get",
            "/api/v1/registrations",
            200,
            "application/json",
            &registrations,
        )
    });
    assert!(caught.is_err(), "userType 'robot' passed the check");
}
