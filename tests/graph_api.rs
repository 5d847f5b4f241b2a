//! The Graph-compatible endpoints (`/graph/v1.0`, `/graph/beta`), on both
//! backends: Microsoft's documented requests answered with the documented
//! fields, types and enum values (`tests/fixtures/graph-api`); the OData
//! subset (filters, `$select`, `$top` and `$skiptoken` paging, `$orderby`,
//! `$count`); Graph's error bodies and statuses; `Prefer:
//! include-unknown-enum-members`; and `authinsights sync` copying one portal
//! into another through them, exactly as the first answers. Every answer
//! of a documented path is checked against the OpenAPI document too.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::ingest::import::ImportKind;
use common::api::{check, template_of};
use common::binary::authinsights;
use common::tenant::import_file;
use common::{generate_demo, Backend, TestApp, TestDb};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

const PREFER: (&str, &str) = ("Prefer", "include-unknown-enum-members");

fn fixture(dir: &str, name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A documented example: its request as a path of the portal, and its
/// response.
fn example(name: &str) -> (String, Value) {
    let doc: Value = serde_json::from_str(&fixture("graph-api", &format!("{name}.json"))).unwrap();
    let request = doc["request"].as_str().unwrap();
    let path = request
        .strip_prefix("GET https://graph.microsoft.com")
        .unwrap_or_else(|| panic!("{request} is a GET of Graph"));
    (format!("/graph{path}"), doc["response"].clone())
}

/// A read key of the portal.
fn read_key(app: &TestApp) -> String {
    app.with_conn(|conn| {
        let now = chrono::Utc::now().naive_utc();
        authinsights::db::api_keys::create_key(conn, "graph script", true, false, "test", now)
            .unwrap()
            .1
    })
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

/// GETs `path` (a path and query of the portal) with `key` as a bearer
/// token and `headers`; an answer of a documented path is checked against
/// the OpenAPI document.
async fn get(app: &TestApp, key: Option<&str>, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = app.anonymous().get(format!("{}{path}", app.address));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body: Value = response
        .json()
        .await
        .unwrap_or_else(|e| panic!("{path} answers JSON: {e}"));
    let bare = path.split('?').next().unwrap();
    if template_of(bare).is_some() {
        check("get", path, status, &content_type, &body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

/// Every record of a list, following `@odata.nextLink` to the end.
async fn walk(app: &TestApp, key: &str, path: &str, headers: &[(&str, &str)]) -> Vec<Value> {
    let mut records = Vec::new();
    let mut next = Some(path.to_string());
    let mut pages = 0;
    while let Some(path) = next {
        let answer = get(app, Some(key), &path, headers).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        records.extend(answer.body["value"].as_array().unwrap().iter().cloned());
        next = answer.body["@odata.nextLink"].as_str().map(|link| {
            link.strip_prefix(&app.address)
                .unwrap_or_else(|| panic!("{link} is an address of the portal"))
                .to_string()
        });
        pages += 1;
        assert!(pages < 1_000, "paging ends");
    }
    records
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Properties Graph's schema lets be null (`mail` of a user without a
/// mailbox): the portal does not keep them and writes null.
const NULLABLE: &[&str] = &["mail"];

/// Every field of the documented value is in ours, with the same JSON type
/// (a documented null stands for any type), to the bottom.
fn assert_same_shape(documented: &Value, ours: &Value, at: &str) {
    let nullable = NULLABLE.iter().any(|p| at.ends_with(&format!(".{p}")));
    match (documented, ours) {
        (Value::Null, _) => {}
        (_, Value::Null) if nullable => {}
        (Value::Object(d), Value::Object(o)) => {
            for (key, value) in d {
                if key == "@microsoft.graph.tips" {
                    continue; // advice, not data
                }
                let Some(mine) = o.get(key) else {
                    panic!("{at}.{key} is documented and missing: {ours}");
                };
                assert_same_shape(value, mine, &format!("{at}.{key}"));
            }
        }
        (Value::Array(d), Value::Array(o)) => {
            if let Some(first) = d.first() {
                for (i, mine) in o.iter().enumerate() {
                    assert_same_shape(first, mine, &format!("{at}[{i}]"));
                }
            }
        }
        (d, o) => assert_eq!(kind(d), kind(o), "{at}: documented {d}, ours {o}"),
    }
}

fn assert_in(values: impl IntoIterator<Item = Value>, allowed: &[&str], what: &str) {
    for v in values {
        let text = v.as_str().unwrap_or_else(|| panic!("{what}: {v} is text"));
        assert!(
            allowed.contains(&text),
            "{what}: {text:?} is not one of {allowed:?}"
        );
    }
}

/// A portal holding Microsoft's documented registration and events
/// examples and the audit log fixture, imported through its own importer.
async fn documented_portal(backend: Backend) -> (TestApp, String) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(|conn| {
        for (dir, name) in [
            ("graph-api", "list-user-registration-details.json"),
            ("graph-api", "list-user-events-summary.json"),
            ("graph", "user-registration-details.json"),
            ("graph", "directory-audits.json"),
        ] {
            let text = fixture(dir, name);
            let text = if dir == "graph-api" {
                // The example's response is the export.
                let doc: Value = serde_json::from_str(&text).unwrap();
                doc["response"].to_string()
            } else {
                text
            };
            import_file(conn, ImportKind::Graph, name, text);
        }
    });
    let key = read_key(&app);
    (app, key)
}

/// Graph's enumerations, as its reference lists them.
const USER_TYPES: &[&str] = &["member", "guest", "unknownFutureValue"];
const PREFERRED: &[&str] = &[
    "push",
    "oath",
    "voiceMobile",
    "voiceAlternateMobile",
    "voiceOffice",
    "sms",
    "none",
    "unknownFutureValue",
    "",
];
const DEFAULT_MFA: &[&str] = &[
    "none",
    "mobilePhone",
    "alternateMobilePhone",
    "officePhone",
    "microsoftAuthenticatorPush",
    "softwareOneTimePasscode",
    "unknownFutureValue",
];
const FEATURES: &[&str] = &[
    "ssprRegistered",
    "ssprEnabled",
    "ssprCapable",
    "passwordlessCapable",
    "mfaCapable",
];
const EVENT_FEATURES: &[&str] = &["registration", "reset", "unknownFutureValue"];
/// `usageAuthMethod` up to `unknownFutureValue` (what a caller sees without
/// `Prefer: include-unknown-enum-members`).
const USAGE_METHODS: &[&str] = &[
    "email",
    "mobileSMS",
    "mobileCall",
    "officePhone",
    "securityQuestion",
    "appNotification",
    "appCode",
    "alternateMobileCall",
    "fido",
    "appPassword",
    "unknownFutureValue",
];
const RESULTS: &[&str] = &["success", "failure", "timeout", "unknownFutureValue"];

fn field(records: &[Value], name: &str) -> Vec<Value> {
    records.iter().map(|r| r[name].clone()).collect()
}

fn same_instant(a: &str, b: &str) -> bool {
    let parse = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp_micros()
    };
    parse(a) == parse(b)
}

/// The documented record, field by field, as the portal answers it after
/// importing the documented export: times as instants (the portal keeps
/// microseconds, Graph writes ticks).
fn assert_same_record(documented: &Value, ours: &Value) {
    for (key, value) in documented.as_object().unwrap() {
        match key.as_str() {
            "lastUpdatedDateTime" | "eventDateTime" => assert!(
                same_instant(value.as_str().unwrap(), ours[key].as_str().unwrap()),
                "{key}: documented {value}, ours {}",
                ours[key]
            ),
            _ => assert_eq!(&ours[key], value, "{key} of {}", documented["id"]),
        }
    }
}

async fn documented_requests_get_documented_answers(backend: Backend) {
    let (app, read) = documented_portal(backend).await;
    let key = Some(read.as_str());

    // userRegistrationDetails: the list, and one user.
    let (path, documented) = example("list-user-registration-details");
    let ours = get(&app, key, &path, &[PREFER]).await;
    assert_eq!(ours.status, 200, "{path}: {}", ours.body);
    assert_same_shape(&documented, &ours.body, "$");
    assert_eq!(
        ours.body["@odata.context"],
        json!(format!(
            "{}/graph/v1.0/$metadata#reports/authenticationMethods/userRegistrationDetails",
            app.address
        ))
    );
    let records = ours.body["value"].as_array().unwrap();
    for doc in documented["value"].as_array().unwrap() {
        let mine = records
            .iter()
            .find(|r| r["id"] == doc["id"])
            .unwrap_or_else(|| panic!("{} is listed", doc["id"]));
        assert_same_record(doc, mine);
    }
    assert_in(field(records, "userType"), USER_TYPES, "userType");
    assert_in(
        field(records, "userPreferredMethodForSecondaryAuthentication"),
        PREFERRED,
        "userPreferredMethodForSecondaryAuthentication",
    );
    assert_in(
        field(records, "defaultMfaMethod"),
        DEFAULT_MFA,
        "defaultMfaMethod",
    );

    let (path, documented) = example("get-user-registration-details");
    let ours = get(&app, key, &path, &[]).await;
    assert_eq!(ours.status, 200, "{path}: {}", ours.body);
    // The documentation wraps the entity in "value"; the entity is the answer.
    let entity = &documented["value"];
    assert_same_shape(entity, &ours.body, "$");
    let mut expected = entity.clone();
    // The imported export did not say Alex's default method.
    expected["defaultMfaMethod"] = json!("none");
    assert_same_record(&expected, &ours.body);
    assert!(ours.body["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("#reports/authenticationMethods/userRegistrationDetails/$entity"));

    // The two summaries, as functions and as plain paths.
    for name in ["users-registered-by-feature", "users-registered-by-method"] {
        let (path, documented) = example(name);
        let ours = get(&app, key, &path, &[]).await;
        assert_eq!(ours.status, 200, "{path}: {}", ours.body);
        assert_same_shape(&documented, &ours.body, "$");
        let plain = path.split('(').next().unwrap();
        let again = get(&app, key, plain, &[]).await;
        assert_eq!(
            again.body, ours.body,
            "{plain} is the function for all users"
        );
    }
    let (path, _) = example("users-registered-by-feature");
    let features = get(&app, key, &path, &[]).await.body;
    let counts = features["userRegistrationFeatureCounts"]
        .as_array()
        .unwrap();
    assert_in(field(counts, "feature"), FEATURES, "feature");
    let users = walk(
        &app,
        &read,
        "/graph/v1.0/reports/authenticationMethods/userRegistrationDetails",
        &[],
    )
    .await;
    assert_eq!(features["totalUserCount"], json!(users.len()));
    let mfa = users
        .iter()
        .filter(|u| u["isMfaCapable"] == json!(true))
        .count();
    assert!(counts.contains(&json!({"feature": "mfaCapable", "userCount": mfa})));

    // userEventsSummary (beta): the documented event comes back as it was.
    let (path, documented) = example("list-user-events-summary");
    let ours = get(&app, key, &path, &[PREFER]).await;
    assert_eq!(ours.status, 200, "{path}: {}", ours.body);
    assert_same_shape(&documented, &ours.body, "$");
    let events = ours.body["value"].as_array().unwrap();
    let doc = &documented["value"][0];
    let mine = events
        .iter()
        .find(|e| e["id"] == doc["id"])
        .expect("the documented event");
    assert_same_record(doc, mine);
    assert_in(field(events, "feature"), EVENT_FEATURES, "feature");
    // Without the Prefer header, the evolved members read unknownFutureValue.
    let plain = get(&app, key, &path, &[]).await.body;
    assert_in(
        field(plain["value"].as_array().unwrap(), "authMethod"),
        USAGE_METHODS,
        "authMethod",
    );

    // directoryAudits: the documented filter on an unknown initiator (the
    // audit fixture holds a reset for a user ID that matches nobody).
    let (path, documented) = example("list-directory-audits");
    let ours = get(&app, key, &path, &[]).await;
    assert_eq!(ours.status, 200, "{path}: {}", ours.body);
    assert_same_shape(&documented, &ours.body, "$");
    let entries = ours.body["value"].as_array().unwrap();
    assert!(!entries.is_empty(), "the unknown user's reset is listed");
    for e in entries {
        assert_eq!(
            e["initiatedBy"]["user"]["id"],
            json!("00000000-0000-0000-0000-000000000000")
        );
    }
    let all = walk(&app, &read, "/graph/v1.0/auditLogs/directoryAudits", &[]).await;
    assert_in(field(&all, "result"), RESULTS, "result");
    assert_in(
        field(&all, "loggedByService"),
        &["Self-service Password Management", "Authentication Methods"],
        "loggedByService",
    );

    // users: Graph's default properties.
    let (path, documented) = example("list-users");
    let ours = get(&app, key, &path, &[]).await;
    assert_eq!(ours.status, 200, "{path}: {}", ours.body);
    assert_same_shape(&documented, &ours.body, "$");
    let first = &ours.body["value"][0];
    let shown: BTreeSet<&String> = first.as_object().unwrap().keys().collect();
    let default: BTreeSet<&String> = documented["value"][0].as_object().unwrap().keys().collect();
    assert_eq!(shown, default, "without $select, Graph's default set");
}
db_test!(
    documented_requests_get_documented_answers_test,
    documented_requests_get_documented_answers
);

async fn the_odata_subset_filters_selects_sorts_counts_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    generate_demo(&app, 120);
    let key = read_key(&app);
    let k = key.as_str();
    let base = "/graph/v1.0/reports/authenticationMethods/userRegistrationDetails";
    let all = walk(&app, k, &format!("{base}?$top=999"), &[PREFER]).await;
    assert_eq!(all.len(), 120);

    // $top and $skiptoken: small pages give the same users, once each.
    let paged = walk(&app, k, &format!("{base}?$top=7"), &[PREFER]).await;
    let ids = |records: &[Value]| -> Vec<String> {
        let mut ids: Vec<String> = records
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&paged), ids(&all));
    let first = get(&app, Some(k), &format!("{base}?$top=7"), &[]).await;
    assert_eq!(first.body["value"].as_array().unwrap().len(), 7);
    let next = first.body["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.contains("%24skiptoken=") && next.contains("%24top=7"),
        "{next}"
    );

    // Filters mean what they say, checked against the whole list.
    type Keep = Box<dyn Fn(&Value) -> bool>;
    // A user to look up by id and by name, as scripts do.
    let someone = all[17].clone();
    let (upn, id) = (
        someone["userPrincipalName"].as_str().unwrap().to_string(),
        someone["id"].as_str().unwrap().to_string(),
    );
    let prefix: String = someone["userDisplayName"]
        .as_str()
        .unwrap()
        .chars()
        .take(3)
        .collect();
    let by_upn = format!("userPrincipalName eq '{}'", upn.to_uppercase());
    let by_exact_upn = format!("userPrincipalName eq '{upn}'");
    let exact_upn = upn.clone();
    let by_id = format!("id eq '{id}' and isAdmin eq {}", someone["isAdmin"]);
    let by_prefix = format!("startswith(userDisplayName, '{prefix}')");
    let cases: Vec<(&str, Keep)> = vec![
        (
            &by_upn,
            Box::new(move |r| {
                r["userPrincipalName"]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(&upn)
            }),
        ),
        (
            &by_exact_upn,
            Box::new(move |r| r["userPrincipalName"] == json!(exact_upn)),
        ),
        (&by_id, Box::new(move |r| r["id"] == json!(id))),
        (
            &by_prefix,
            Box::new(move |r| {
                r["userDisplayName"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .starts_with(&prefix.to_lowercase())
            }),
        ),
        (
            "isMfaCapable eq false",
            Box::new(|r| r["isMfaCapable"] == json!(false)),
        ),
        (
            "isSsprRegistered eq true and userType eq 'guest'",
            Box::new(|r| r["isSsprRegistered"] == json!(true) && r["userType"] == json!("guest")),
        ),
        (
            "methodsRegistered/any(m: m eq 'mobilePhone')",
            Box::new(|r| {
                r["methodsRegistered"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("mobilePhone"))
            }),
        ),
        (
            "isAdmin eq true or not(isSsprCapable eq true)",
            Box::new(|r| r["isAdmin"] == json!(true) || r["isSsprCapable"] != json!(true)),
        ),
        (
            "startswith(userPrincipalName, 'A')",
            Box::new(|r| {
                r["userPrincipalName"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .starts_with('a')
            }),
        ),
    ];
    for (filter, keep) in cases {
        let expected: Vec<Value> = all.iter().filter(|r| keep(r)).cloned().collect();
        let q = format!("{base}?$filter={}&$top=5", urlencode(filter));
        let got = walk(&app, k, &q, &[PREFER]).await;
        assert_eq!(ids(&got), ids(&expected), "{filter}");
        // $count with ConsistencyLevel: eventual counts every match.
        let counted = get(
            &app,
            Some(k),
            &format!("{base}?$filter={}&$count=true", urlencode(filter)),
            &[("ConsistencyLevel", "eventual")],
        )
        .await;
        assert_eq!(
            counted.body["@odata.count"],
            json!(expected.len()),
            "{filter}"
        );
    }
    // Without the header Graph ignores $count, and so does the portal.
    let uncounted = get(&app, Some(k), &format!("{base}?$count=true"), &[]).await;
    assert_eq!(uncounted.status, 200);
    assert!(uncounted.body.get("@odata.count").is_none());

    // $select keeps those properties only, and names them in the context.
    let selected = get(
        &app,
        Some(k),
        &format!("{base}?$select=id,isAdmin&$top=3"),
        &[],
    )
    .await;
    for r in selected.body["value"].as_array().unwrap() {
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "isAdmin"]);
    }
    assert!(selected.body["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("userRegistrationDetails(id,isAdmin)"));

    // $orderby on the user principal name, either way.
    let names = |records: &[Value]| -> Vec<String> {
        records
            .iter()
            .map(|r| r["userPrincipalName"].as_str().unwrap().to_string())
            .collect()
    };
    let down = walk(
        &app,
        k,
        &format!("{base}?$orderby=userPrincipalName%20desc&$top=50"),
        &[],
    )
    .await;
    let mut sorted = names(&all);
    sorted.sort_by_key(|n| std::cmp::Reverse(n.to_lowercase()));
    assert_eq!(
        names(&down)
            .iter()
            .map(|n| n.to_lowercase())
            .collect::<Vec<_>>(),
        sorted.iter().map(|n| n.to_lowercase()).collect::<Vec<_>>()
    );

    // Events and audits: filters on their own properties, oldest first.
    let events = walk(
        &app,
        k,
        "/graph/beta/reports/authenticationMethods/userEventsSummary?$filter=feature%20eq%20'registration'%20and%20isSuccess%20eq%20false&$top=100",
        &[],
    )
    .await;
    assert!(!events.is_empty());
    assert!(events
        .iter()
        .all(|e| e["feature"] == json!("registration") && e["isSuccess"] == json!(false)));
    // One user's events and audit entries, by the ids Graph's scripts use.
    let all_events = walk(
        &app,
        k,
        "/graph/beta/reports/authenticationMethods/userEventsSummary",
        &[],
    )
    .await;
    let all_audits = walk(
        &app,
        k,
        "/graph/v1.0/auditLogs/directoryAudits?$top=999",
        &[],
    )
    .await;
    let user = all_events[3]["id"].as_str().unwrap().to_string();
    let theirs = |records: &[Value], at: &dyn Fn(&Value) -> &Value| -> Vec<String> {
        let mut v: Vec<String> = records
            .iter()
            .filter(|r| at(r) == &json!(user))
            .map(|r| r.to_string())
            .collect();
        v.sort();
        v
    };
    let sorted = |records: Vec<Value>| -> Vec<String> {
        let mut v: Vec<String> = records.iter().map(|r| r.to_string()).collect();
        v.sort();
        v
    };
    let events_of = walk(
        &app,
        k,
        &format!(
            "/graph/beta/reports/authenticationMethods/userEventsSummary?$filter={}&$top=3",
            urlencode(&format!("id eq '{user}'"))
        ),
        &[],
    )
    .await;
    assert!(!events_of.is_empty());
    assert_eq!(sorted(events_of), theirs(&all_events, &|r| &r["id"]));
    for filter in [
        format!("initiatedBy/user/id eq '{user}'"),
        format!("targetResources/any(t: t/id eq '{user}')"),
    ] {
        let entries = walk(
            &app,
            k,
            &format!(
                "/graph/v1.0/auditLogs/directoryAudits?$filter={}&$top=7",
                urlencode(&filter)
            ),
            &[],
        )
        .await;
        assert!(!entries.is_empty(), "{filter}");
        assert_eq!(
            sorted(entries),
            theirs(&all_audits, &|r| &r["initiatedBy"]["user"]["id"]),
            "{filter}"
        );
    }

    let since = "2000-01-01T00:00:00Z";
    let audits = walk(
        &app,
        k,
        &format!(
            "/graph/v1.0/auditLogs/directoryAudits?$filter={}&$orderby=activityDateTime&$top=250",
            urlencode(&format!(
                "loggedByService eq 'Authentication Methods' and activityDateTime ge {since}"
            ))
        ),
        &[],
    )
    .await;
    assert!(!audits.is_empty());
    assert!(audits
        .iter()
        .all(|e| e["loggedByService"] == json!("Authentication Methods")));
    let times: Vec<i64> = audits
        .iter()
        .map(|e| {
            chrono::DateTime::parse_from_rfc3339(e["activityDateTime"].as_str().unwrap())
                .unwrap()
                .timestamp_micros()
        })
        .collect();
    let mut activity_starts: Vec<(String, i64)> = Vec::new();
    for (e, t) in audits.iter().zip(&times) {
        let c = e["correlationId"].as_str().unwrap().to_string();
        if activity_starts.last().map(|(last, _)| last) != Some(&c) {
            activity_starts.push((c, *t));
        }
    }
    assert!(
        activity_starts.windows(2).all(|w| w[0].1 <= w[1].1),
        "activities oldest first"
    );
}
db_test!(
    the_odata_subset_filters_selects_sorts_counts_and_pages_test,
    the_odata_subset_filters_selects_sorts_counts_and_pages
);

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Graph's error body: code, message and innerError with its ids.
fn assert_graph_error(answer: &Answer, status: u16, code: &str, names: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    let error = &answer.body["error"];
    assert_eq!(error["code"], json!(code), "{}", answer.body);
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(names), "{message:?} names {names:?}");
    let inner = &error["innerError"];
    for field in ["date", "request-id", "client-request-id"] {
        assert!(
            inner[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field}: {inner}"
        );
    }
}

async fn refusals_take_graphs_error_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    generate_demo(&app, 20);
    let key = read_key(&app);
    let k = Some(key.as_str());
    let base = "/graph/v1.0/reports/authenticationMethods/userRegistrationDetails";

    let a = get(&app, k, &format!("{base}?$filter=shoeSize%20eq%201"), &[]).await;
    assert_graph_error(&a, 400, "BadRequest", "shoeSize");
    let a = get(&app, k, &format!("{base}?$filter=isAdmin%20eq"), &[]).await;
    assert_graph_error(&a, 400, "BadRequest", "Invalid filter clause");
    let a = get(&app, k, &format!("{base}?$top=1000"), &[]).await;
    assert_graph_error(&a, 400, "BadRequest", "999");
    let a = get(&app, k, &format!("{base}?$expand=x"), &[]).await;
    assert_graph_error(&a, 400, "Request_UnsupportedQuery", "$expand");
    let a = get(&app, k, &format!("{base}?$orderby=isAdmin"), &[]).await;
    assert_graph_error(&a, 400, "Request_UnsupportedQuery", "userPrincipalName");
    let a = get(
        &app,
        k,
        &format!("{base}?$filter=contains(userPrincipalName,'a')"),
        &[],
    )
    .await;
    assert_graph_error(&a, 400, "Request_UnsupportedQuery", "contains");
    let a = get(&app, k, &format!("{base}?$skiptoken=not-ours"), &[]).await;
    assert_graph_error(&a, 400, "BadRequest", "$skiptoken");
    let a = get(&app, k, &format!("{base}/no-such-user"), &[]).await;
    assert_graph_error(&a, 404, "Request_ResourceNotFound", "no-such-user");
    let a = get(
        &app,
        k,
        "/graph/v1.0/reports/authenticationMethods/userEventsSummary",
        &[],
    )
    .await;
    assert_graph_error(&a, 404, "Request_ResourceNotFound", "userEventsSummary");
    let a = get(&app, k, "/graph/v9.9/users", &[]).await;
    assert_graph_error(&a, 404, "Request_ResourceNotFound", "v9.9");
    let a = get(
        &app,
        k,
        "/graph/v1.0/reports/authenticationMethods/usersRegisteredByFeature(includedUserTypes='robots')",
        &[],
    )
    .await;
    assert_graph_error(&a, 400, "BadRequest", "robots");

    // An address no resource has, and a method none takes.
    let a = get(&app, k, "/graph/v1.0/reports/nothingHere", &[]).await;
    assert_graph_error(&a, 404, "Request_ResourceNotFound", "nothingHere");
    let response = app
        .anonymous()
        .post(format!("{}/graph/v1.0/users", app.address))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET");
    let a = Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.json().await.unwrap(),
    };
    assert_graph_error(&a, 405, "Request_BadRequest", "method is not allowed");

    // No token, a wrong token, a key without the read scope.
    let a = get(&app, None, base, &[]).await;
    assert_graph_error(&a, 401, "InvalidAuthenticationToken", "Bearer");
    assert_eq!(a.headers["www-authenticate"], "Bearer");
    let a = get(&app, Some("aik_not-a-key"), base, &[]).await;
    assert_graph_error(&a, 401, "InvalidAuthenticationToken", "Bearer");
    let ingest = app.with_conn(|conn| {
        let now = chrono::Utc::now().naive_utc();
        authinsights::db::api_keys::create_key(conn, "ingest only", false, true, "test", now)
            .unwrap()
            .1
    });
    let a = get(&app, Some(&ingest), base, &[]).await;
    assert_graph_error(&a, 403, "Authorization_RequestDenied", "read scope");
    // The caller's client-request-id comes back in innerError.
    let a = get(&app, None, base, &[("client-request-id", "script-42")]).await;
    assert_eq!(
        a.body["error"]["innerError"]["client-request-id"],
        json!("script-42")
    );
}
db_test!(
    refusals_take_graphs_error_shape_test,
    refusals_take_graphs_error_shape
);

async fn newer_method_names_need_the_prefer_header(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = read_key(&app);
    let export = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#reports/authenticationMethods/userRegistrationDetails",
        "value": [{
            "id": "6a1b3f22-0000-4000-8000-000000000001",
            "userPrincipalName": "kim@contoso.com",
            "userDisplayName": "Kim Akers",
            "userType": "member",
            "isAdmin": false,
            "isSsprRegistered": true,
            "isSsprEnabled": true,
            "isSsprCapable": true,
            "isMfaRegistered": true,
            "isMfaCapable": true,
            "isPasswordlessCapable": true,
            "lastUpdatedDateTime": "2025-05-19T23:10:41Z",
            "methodsRegistered": ["passKeyDeviceBound", "email"],
            "isSystemPreferredAuthenticationMethodEnabled": true,
            "systemPreferredAuthenticationMethods": ["push"],
            "userPreferredMethodForSecondaryAuthentication": "push",
        }],
    });
    app.with_conn(|conn| {
        import_file(conn, ImportKind::Graph, "kim.json", export.to_string());
    });
    let path = "/graph/v1.0/reports/authenticationMethods/userRegistrationDetails/6a1b3f22-0000-4000-8000-000000000001";
    let plain = get(&app, Some(&key), path, &[]).await;
    assert_eq!(
        plain.body["methodsRegistered"],
        json!(["email", "unknownFutureValue"])
    );
    assert!(plain.headers.get("preference-applied").is_none());
    let asked = get(&app, Some(&key), path, &[PREFER]).await;
    assert_eq!(
        asked.body["methodsRegistered"],
        json!(["email", "passKeyDeviceBound"])
    );
    assert_eq!(
        asked.headers["preference-applied"],
        "include-unknown-enum-members"
    );
    // A filter reads the real name either way.
    let filtered = get(
        &app,
        Some(&key),
        "/graph/v1.0/reports/authenticationMethods/userRegistrationDetails?$filter=methodsRegistered/any(m:%20m%20eq%20'passKeyDeviceBound')",
        &[],
    )
    .await;
    assert_eq!(filtered.body["value"].as_array().unwrap().len(), 1);
}
db_test!(
    newer_method_names_need_the_prefer_header_test,
    newer_method_names_need_the_prefer_header
);

/// What a portal answers on every Graph resource, all pages, records in
/// a stable order, without the addresses (which name the portal).
async fn graph_surface(app: &TestApp, key: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let lists = [
        ("/graph/v1.0/users?$select=id,displayName,userPrincipalName,accountEnabled,userType&$top=999", "id"),
        ("/graph/beta/reports/authenticationMethods/userRegistrationDetails?$top=999", "id"),
        ("/graph/v1.0/auditLogs/directoryAudits?$top=999", "id"),
        ("/graph/beta/reports/authenticationMethods/userEventsSummary", ""),
    ];
    for (path, id) in lists {
        let mut records = walk(app, key, path, &[PREFER]).await;
        records.sort_by_key(|r| {
            if id.is_empty() {
                r.to_string()
            } else {
                r[id].as_str().unwrap().to_string()
            }
        });
        out.push((path.to_string(), Value::Array(records)));
    }
    for path in [
        "/graph/v1.0/reports/authenticationMethods/usersRegisteredByFeature",
        "/graph/v1.0/reports/authenticationMethods/usersRegisteredByMethod",
    ] {
        let mut body = get(app, Some(key), path, &[PREFER]).await.body;
        body.as_object_mut().unwrap().remove("@odata.context");
        out.push((path.to_string(), body));
    }
    out
}

async fn sync_copies_another_portal_exactly(backend: Backend) {
    let source = TestApp::spawn(backend).await;
    generate_demo(&source, 150);
    let key = read_key(&source);
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("portal-key");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();

    let copy = TestDb::new(backend);
    let output = authinsights()
        .args([
            "--database-url",
            &copy.raw_url,
            "sync",
            "--since",
            "2000-01-01",
        ])
        .arg("--graph-url")
        .arg(format!("{}/graph", source.address))
        .arg("--graph-access-token-file")
        .arg(&key_file)
        .env_remove("AUTHINSIGHTS_GRAPH_TENANT_ID")
        .env_remove("AUTHINSIGHTS_GRAPH_CLIENT_ID")
        .env_remove("AUTHINSIGHTS_GRAPH_CLIENT_SECRET")
        .env_remove("AUTHINSIGHTS_GRAPH_URL")
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{printed}");
    for resource in ["users", "registration-details", "audits", "events-summary"] {
        let line = printed
            .lines()
            .find(|l| l.starts_with(resource))
            .unwrap_or_else(|| panic!("{resource} in\n{printed}"));
        assert!(line.trim_end().ends_with("stored"), "{line}");
    }
    assert!(!printed.contains(&key), "the token is never printed");

    let copy = TestApp::spawn_on(copy);
    let copy_key = read_key(&copy);
    let original = graph_surface(&source, &key).await;
    let copied = graph_surface(&copy, &copy_key).await;
    for ((path, a), (_, b)) in original.iter().zip(&copied) {
        let size = a.as_array().map_or(1, Vec::len);
        assert!(size > 0, "{path} holds data");
        if a != b {
            let (a, b) = (a.to_string(), b.to_string());
            let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
            panic!(
                "{path} differs in the copy at byte {at}:\n  source …{}\n  copy   …{}",
                &a[at.saturating_sub(200)..(at + 200).min(a.len())],
                &b[at.saturating_sub(200)..(at + 200).min(b.len())]
            );
        }
    }
}
db_test!(
    sync_copies_another_portal_exactly_test,
    sync_copies_another_portal_exactly
);

async fn the_documented_script_runs_against_the_portal(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    generate_demo(&app, 60);
    let key = read_key(&app);
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/graph-api.md"))
            .unwrap();
    let script = doc
        .split("<!-- script: not-mfa-capable -->")
        .nth(1)
        .and_then(|rest| rest.split("```bash").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("docs/graph-api.md holds the script");
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("PORTAL", &app.address)
        .env("AUTHINSIGHTS_KEY", &key)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let users = walk(
        &app,
        &key,
        "/graph/v1.0/reports/authenticationMethods/userRegistrationDetails?$top=999",
        &[],
    )
    .await;
    let mut expected: Vec<&str> = users
        .iter()
        .filter(|u| u["isMfaCapable"] == json!(false))
        .map(|u| u["userPrincipalName"].as_str().unwrap())
        .collect();
    expected.sort();
    let mut listed: Vec<&str> = printed.lines().filter(|l| !l.is_empty()).collect();
    listed.sort();
    assert!(!expected.is_empty());
    assert_eq!(
        listed, expected,
        "the script lists the users who are not MFA capable"
    );
}
db_test!(
    the_documented_script_runs_against_the_portal_test,
    the_documented_script_runs_against_the_portal
);
