//! The portal's own security: who may open which route, CSRF, sign-in
//! throttling, sessions (across instances too), API keys, the Admin pages
//! and their audit trail.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::accounts::Role;
use authinsights::config::WebSettings;
use authinsights::db;
use authinsights::service;
use chrono::Duration;
use common::tenant::build_worked_example;
use common::{input_value, new_client, rows, texts, Backend, Remote, TestApp, ADMIN, PASSWORD};
use std::collections::BTreeSet;

/// Who asks: an anonymous client, then one account of each role.
const WHO: [Option<Role>; 5] = [
    None,
    Some(Role::ReportsReader),
    Some(Role::SecurityReader),
    Some(Role::SecurityAdministrator),
    Some(Role::GlobalAdministrator),
];

/// Every route of the portal and the status each kind of client gets, in the
/// order of [`WHO`]. POSTs carry the client's CSRF token and these fields.
/// `{user}`, `{account}` and `{key}` are replaced by real ids, `{subscription}`
/// by one that does not exist.
type Route = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    [u16; 5],
);
const ROUTES: &[Route] = &[
    ("GET", "/sign-in", &[], [200, 200, 200, 200, 200]),
    ("GET", "/login", &[], [200, 200, 200, 200, 200]),
    ("GET", "/healthz", &[], [200, 200, 200, 200, 200]),
    // An API key with the read scope only: a session is not asked.
    ("GET", "/metrics", &[], [401, 401, 401, 401, 401]),
    ("GET", "/", &[], [303, 200, 200, 200, 200]),
    ("GET", "/registrations", &[], [303, 200, 200, 200, 200]),
    ("GET", "/registrations.csv", &[], [303, 200, 200, 200, 200]),
    ("GET", "/activity", &[], [303, 200, 200, 200, 200]),
    ("GET", "/activity.csv", &[], [303, 200, 200, 200, 200]),
    (
        "GET",
        "/reports/registration-activity",
        &[],
        [303, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/reports/registration-activity.csv",
        &[],
        [303, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/reports/reset-activity",
        &[],
        [303, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/reports/reset-activity.csv",
        &[],
        [303, 200, 200, 200, 200],
    ),
    ("GET", "/users/{user}", &[], [303, 200, 200, 200, 200]),
    ("GET", "/trends", &[], [303, 200, 200, 200, 200]),
    ("GET", "/trends.csv", &[], [303, 400, 400, 400, 400]),
    ("GET", "/api/v1/trends", &[], [401, 200, 200, 200, 200]),
    ("GET", "/usage", &[], [303, 200, 200, 200, 200]),
    ("GET", "/usage.csv", &[], [303, 200, 200, 200, 200]),
    ("GET", "/api/v1/usage", &[], [401, 200, 200, 200, 200]),
    ("GET", "/api/v1/me", &[], [401, 200, 200, 200, 200]),
    (
        "GET",
        "/graph/{version}/reports/authenticationMethods/userRegistrationDetails",
        &[],
        [401, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/graph/{version}/reports/authenticationMethods/userRegistrationDetails/{user}",
        &[],
        [401, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/graph/{version}/reports/authenticationMethods/userEventsSummary",
        &[],
        [401, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/graph/{version}/reports/authenticationMethods/usersRegisteredByFeature",
        &[],
        [401, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/graph/{version}/reports/authenticationMethods/usersRegisteredByMethod",
        &[],
        [401, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/graph/{version}/reports/authenticationMethods/{function}",
        &[],
        [401, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/graph/{version}/auditLogs/directoryAudits",
        &[],
        [401, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/graph/{version}/users",
        &[],
        [401, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/api/v1/openapi.json",
        &[],
        [401, 200, 200, 200, 200],
    ),
    ("GET", "/api/v1/overview", &[], [401, 200, 200, 200, 200]),
    ("GET", "/api/v1/policy", &[], [401, 200, 200, 200, 200]),
    (
        "GET",
        "/api/v1/registrations",
        &[],
        [401, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/api/v1/users/{user}",
        &[],
        [401, 200, 200, 200, 200],
    ),
    ("GET", "/api/v1/activity", &[], [401, 200, 200, 200, 200]),
    (
        "GET",
        "/api/v1/reports/registration-activity",
        &[],
        [401, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/api/v1/reports/reset-activity",
        &[],
        [401, 200, 200, 200, 200],
    ),
    ("GET", "/account/password", &[], [303, 200, 200, 200, 200]),
    ("GET", "/admin", &[], [303, 403, 403, 403, 200]),
    ("GET", "/admin/policy", &[], [303, 403, 403, 403, 200]),
    ("GET", "/admin/accounts", &[], [303, 403, 403, 403, 200]),
    ("GET", "/admin/api-keys", &[], [303, 403, 403, 403, 200]),
    ("GET", "/admin/audit", &[], [303, 403, 403, 403, 200]),
    ("GET", "/admin/imports", &[], [303, 403, 403, 403, 200]),
    ("GET", "/admin/data-sources", &[], [303, 403, 403, 403, 200]),
    ("GET", "/subscriptions", &[], [303, 200, 200, 200, 200]),
    // Without the view to subscribe to: a 400 naming it.
    ("GET", "/subscriptions/new", &[], [303, 400, 400, 400, 400]),
    (
        "GET",
        "/admin/subscriptions",
        &[],
        [303, 403, 403, 403, 200],
    ),
    (
        "GET",
        "/subscriptions/{subscription}",
        &[],
        [303, 404, 404, 404, 404],
    ),
    // Without its signature: a 400 saying so.
    (
        "GET",
        "/subscriptions/{subscription}/file",
        &[],
        [303, 400, 400, 400, 400],
    ),
    // An empty form: the form again with what is missing.
    ("POST", "/subscriptions", &[], [303, 400, 400, 400, 400]),
    (
        "POST",
        "/subscriptions/{subscription}",
        &[],
        [303, 404, 404, 404, 404],
    ),
    (
        "POST",
        "/subscriptions/{subscription}/run",
        &[],
        [303, 404, 404, 404, 404],
    ),
    (
        "POST",
        "/subscriptions/{subscription}/pause",
        &[],
        [303, 404, 404, 404, 404],
    ),
    (
        "POST",
        "/subscriptions/{subscription}/resume",
        &[],
        [303, 404, 404, 404, 404],
    ),
    (
        "POST",
        "/subscriptions/{subscription}/delete",
        &[],
        [303, 404, 404, 404, 404],
    ),
    ("GET", "/admin/deliveries", &[], [303, 403, 403, 403, 200]),
    (
        "POST",
        "/sign-in",
        &[("username", "nobody"), ("password", "wrong password")],
        [401, 401, 401, 401, 401],
    ),
    (
        "POST",
        "/account/password",
        &[
            ("current", "not the password"),
            ("new", "a new long password"),
            ("repeat", "a new long password"),
        ],
        [303, 400, 400, 400, 400],
    ),
    (
        "POST",
        "/admin/policy",
        &[
            ("scope", "all"),
            ("methods_required", "1"),
            ("allow-email", "on"),
            ("allow-mobile_phone", "on"),
        ],
        [303, 403, 403, 403, 303],
    ),
    (
        "POST",
        "/admin/policy/verdict-source",
        &[("source", "policy")],
        [303, 403, 403, 403, 303],
    ),
    (
        "POST",
        "/admin/accounts",
        &[("username", "new.reader"), ("role", "reports-reader")],
        [303, 403, 403, 403, 200],
    ),
    (
        "POST",
        "/admin/accounts/{account}/role",
        &[("role", "security-reader")],
        [303, 403, 403, 403, 303],
    ),
    (
        "POST",
        "/admin/accounts/{account}/disable",
        &[],
        [303, 403, 403, 403, 303],
    ),
    (
        "POST",
        "/admin/accounts/{account}/enable",
        &[],
        [303, 403, 403, 403, 303],
    ),
    (
        "POST",
        "/admin/accounts/{account}/reset-password",
        &[],
        [303, 403, 403, 403, 200],
    ),
    (
        "POST",
        "/admin/accounts/{account}/unlock",
        &[],
        [303, 403, 403, 403, 303],
    ),
    (
        "POST",
        "/admin/api-keys",
        &[("name", "matrix key"), ("read", "on")],
        [303, 403, 403, 403, 200],
    ),
    (
        "POST",
        "/admin/api-keys/{key}/revoke",
        &[],
        [303, 403, 403, 403, 303],
    ),
    (
        "POST",
        "/login",
        &[("username", "somebody"), ("password", "wrong password")],
        [401, 401, 401, 401, 401],
    ),
    // Not connected to a tenant: the administrator is told so.
    (
        "POST",
        "/admin/data-sources/sync",
        &[],
        [303, 403, 403, 403, 303],
    ),
    (
        "POST",
        "/admin/data-sources/schedule",
        &[("every", "60")],
        [303, 403, 403, 403, 303],
    ),
    // No such message: the administrator is told so.
    (
        "POST",
        "/admin/deliveries/{message}/retry",
        &[],
        [303, 403, 403, 403, 303],
    ),
    // Not a multipart upload: a 400 page for the administrator.
    ("POST", "/admin/imports", &[], [303, 403, 403, 403, 400]),
    (
        "POST",
        "/admin/imports/retention",
        &[("days", "30")],
        [303, 403, 403, 403, 303],
    ),
    // Ingest takes an API key, never a session.
    ("POST", "/api/v1/events", &[], [401, 403, 403, 403, 403]),
    // Last: it ends the session.
    ("POST", "/logout", &[], [303, 303, 303, 303, 303]),
    ("POST", "/sign-out", &[], [303, 303, 303, 303, 303]),
];

/// The routes the source declares (`#[get("…", wrap = "…")]`, `#[post(…)]`,
/// over one line or several), so that a route missing from [`ROUTES`] fails
/// the matrix test; and the access rule each declares.
fn declared_routes() -> BTreeSet<(String, String)> {
    declared_rules()
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect()
}

/// Every declared route with the guard named in its `wrap = "from_fn(…)"`
/// (empty when it has none).
fn declared_rules() -> Vec<(String, String, String)> {
    let mut files = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web")];
    let mut found = Vec::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let source = std::fs::read_to_string(path).unwrap();
        for (attr, method) in [("#[get(", "GET"), ("#[post(", "POST")] {
            for (at, _) in source.match_indices(attr) {
                let rest = &source[at + attr.len()..];
                let declaration = &rest[..rest.find(")]").unwrap()];
                let path = declaration.split('"').nth(1).unwrap().to_string();
                let rule = declaration
                    .split("from_fn(")
                    .nth(1)
                    .map(|r| r.split(')').next().unwrap().trim().to_string())
                    .unwrap_or_default();
                found.push((method.to_string(), path, rule));
            }
        }
    }
    found
}

#[test]
fn every_route_declares_its_access_rule() {
    let rules = [
        "auth::public",
        "auth::signed",
        "auth::reader",
        "auth::admin",
        "auth::api_signed",
        "auth::api_reader",
        "auth::api_ingest",
        "auth::key_reader",
        "auth::graph_reader",
    ];
    for (method, path, rule) in declared_rules() {
        assert!(
            rules.contains(&rule.as_str()),
            "{method} {path} declares no access rule (wrap = \"from_fn(auth::…)\"): {rule:?}"
        );
        let public = ["/sign-in", "/login", "/healthz"].contains(&path.as_str());
        assert_eq!(rule == "auth::public", public, "{method} {path}: {rule}");
        if path.starts_with("/api/") {
            assert!(rule.starts_with("auth::api_"), "{method} {path}: {rule}");
        } else if path.starts_with("/graph/") {
            assert_eq!(rule, "auth::graph_reader", "{method} {path}");
        } else if path.starts_with("/admin") {
            assert_eq!(rule, "auth::admin", "{method} {path}");
        }
    }
}

/// The table's route with the path's parameters named as the source names them.
fn pattern(path: &str) -> String {
    path.replace("{user}", "{id}")
        .replace("{account}", "{id}")
        .replace("{key}", "{id}")
        .replace("{subscription}", "{id}")
        .replace("{message}", "{id}")
}

/// The session's CSRF token, as every signed-in page carries it.
async fn csrf_of(app: &TestApp, client: &reqwest::Client) -> String {
    let page = app
        .get_as(client, "/account/password")
        .await
        .text()
        .await
        .unwrap();
    input_value(&page, "csrf")
}

async fn send(
    app: &TestApp,
    client: &reqwest::Client,
    signed: bool,
    method: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    if method == "GET" {
        return app.get_as(client, path).await;
    }
    let csrf = if path == "/sign-in" || path == "/login" {
        let page = app.get_as(client, path).await.text().await.unwrap();
        input_value(&page, "csrf")
    } else if signed && path == "/sign-out" {
        // Sent after /logout ended the session: no page carries a token now.
        String::new()
    } else if signed {
        csrf_of(app, client).await
    } else {
        String::new()
    };
    let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
    form.extend_from_slice(fields);
    client
        .post(format!("{}{}", app.address, path))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Ids the routes' parameters stand for: a directory user, an account to
/// change and an API key to revoke.
fn fill(path: &str, account: &str, key: &str) -> String {
    path.replace("{user}", "u-ana")
        .replace("{account}", account)
        .replace("{key}", key)
        // No such subscription: each route answers as it does for one the
        // client may not see.
        .replace("{subscription}", NO_SUBSCRIPTION)
        .replace("{message}", "1")
        // The beta has every Graph resource (userEventsSummary is beta only).
        .replace("{version}", "beta")
        .replace(
            "{function}",
            "usersRegisteredByMethod(includedUserTypes='all',includedUserRoles='all')",
        )
}

/// The subscription the route matrix names: none has this id.
const NO_SUBSCRIPTION: &str = "424242";

fn make_key(app: &TestApp, name: &str, read: bool, ingest: bool) -> (String, String) {
    app.with_conn(|conn| {
        let now = chrono::Utc::now().naive_utc();
        let (key, secret) =
            db::api_keys::create_key(conn, name, read, ingest, "test", now).unwrap();
        (key.id, secret)
    })
}

fn account_id(app: &TestApp, name: &str) -> String {
    app.with_conn(|conn| {
        db::accounts::find_by_username(conn, name)
            .unwrap()
            .unwrap()
            .id
    })
}

async fn route_matrix(backend: Backend) {
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _, _)| (m.to_string(), pattern(p)))
        .collect();
    assert_eq!(
        table,
        declared_routes(),
        "every declared route is in the matrix, and only those"
    );

    // Five rounds of a wrong password for 'nobody' must not lock it mid-table.
    let mut settings = WebSettings::from_env();
    settings.security.account_failures = 10;
    let app = TestApp::spawn_with(backend, settings).await;
    app.with_conn(build_worked_example);
    let mut failures = Vec::new();
    for (i, who) in WHO.iter().enumerate() {
        let client = match who {
            None => new_client(),
            Some(role) => {
                let name = format!("matrix-{}", role.key());
                app.add_account(&name, *role);
                app.signed_in(&name, PASSWORD).await
            }
        };
        // Each round changes its own victim account and key.
        let victim = format!("victim-{i}");
        app.add_account(&victim, Role::ReportsReader);
        let account = account_id(&app, &victim);
        let (key, _) = make_key(&app, &format!("key-{i}"), true, false);
        for (method, path, fields, expected) in ROUTES {
            let path = fill(path, &account, &key);
            let response = send(&app, &client, who.is_some(), method, &path, fields).await;
            let status = response.status().as_u16();
            if status != expected[i] {
                failures.push(format!(
                    "{method} {path} as {}: {status}, expected {}",
                    who.map_or("anonymous", |r| r.key()),
                    expected[i]
                ));
            }
            if status == 303 && who.is_none() && path != "/sign-in" {
                let location = response.headers()["location"].to_str().unwrap();
                assert!(location.starts_with("/sign-in"), "{path} → {location}");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Static files need no sign-in; an unknown page tells an anonymous client nothing.
    let anonymous = new_client();
    assert_eq!(
        app.get_as(&anonymous, "/static/app.css").await.status(),
        200
    );
    let unknown = app.get_as(&anonymous, "/no/such/page").await;
    assert_eq!(unknown.status(), 303);
    assert_eq!(app.get("/no/such/page").await.status(), 404);
}
db_test!(every_route_as_every_role, route_matrix);

/// The route's path with one letter percent-encoded, once in its first
/// segment and once in its last (`/%61dmin/policy`, `/admin/p%6flicy`),
/// and for the API with its first slash encoded (`/api%2Fv1/events`).
fn encoded_variants(path: &str) -> Vec<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let mut variants = BTreeSet::new();
    for index in [1, segments.len() - 1] {
        let Some(segment) = segments.get(index) else {
            continue;
        };
        let Some(at) = segment.find(|c: char| c.is_ascii_alphabetic()) else {
            continue;
        };
        let letter = segment.as_bytes()[at];
        let encoded = format!("{}%{letter:02x}{}", &segment[..at], &segment[at + 1..]);
        let mut parts = segments.clone();
        parts[index] = &encoded;
        variants.insert(parts.join("/"));
    }
    if let Some(rest) = path.strip_prefix("/api/") {
        variants.insert(format!("/api%2F{rest}"));
    }
    variants.into_iter().collect()
}

/// Who sends the requests of the encoded-path table: each role's session,
/// and an API key of each scope.
enum Caller {
    Session(Option<Role>, reqwest::Client),
    Key(&'static str, String),
}

impl Caller {
    fn name(&self) -> String {
        match self {
            Caller::Session(role, _) => role.map_or("anonymous".into(), |r| r.key().to_string()),
            Caller::Key(scope, _) => format!("{scope} key"),
        }
    }
}

/// A batch that would register a method for Ana, so that a write that got
/// through would show.
fn ingest_batch(tag: &str) -> serde_json::Value {
    serde_json::json!({ "activities": [{
        "id": format!("{tag}-a"),
        "user_id": "u-ana",
        "feature": "registration",
        "result": "succeeded",
        "occurred_at": format!("{}Z", (chrono::Utc::now() - Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%S")),
        "events": [{ "id": format!("{tag}-e"), "method": "app_code", "success": true }]
    }]})
}

/// What a state change would leave behind: audit rows (every admin change
/// writes one), activities (ingest), accounts and keys.
type Footprint = (usize, i64, usize, usize, Vec<(i64, i64, String)>);

fn footprint(app: &TestApp) -> Footprint {
    app.with_conn(|conn| {
        use diesel::prelude::*;
        let audit = db::audit::entries(conn, None, 100_000).unwrap().len();
        let activities: i64 = db::schema::activities::table
            .count()
            .get_result(conn)
            .unwrap();
        let accounts = db::accounts::list_accounts(conn).unwrap().len();
        let keys = db::api_keys::list_keys(conn).unwrap().len();
        let subscriptions = db::subscriptions::list(conn, None)
            .unwrap()
            .into_iter()
            .map(|o| {
                (
                    o.subscription.id,
                    o.subscription.revision,
                    o.subscription.state,
                )
            })
            .collect();
        (audit, activities, accounts, keys, subscriptions)
    })
}

async fn encoded_paths(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(build_worked_example);
    app.add_account("victim", Role::ReportsReader);
    let account = account_id(&app, "victim");
    let (key_id, _) = make_key(&app, "to-revoke", true, false);
    // A real subscription of the victim's, which every subscription route names.
    let subscription = app.with_conn(|conn| {
        let owner = service::subscriptions::Actor {
            account_id: account.clone(),
            username: "victim".into(),
            admin: false,
        };
        let form = service::subscriptions::Form {
            kind: "report".into(),
            name: "victim's".into(),
            view_path: "/registrations".into(),
            view_query: "capable=no".into(),
            channel: "email".into(),
            destination: "victim@example.org".into(),
            frequency: "daily".into(),
            hour: "6".into(),
            time_zone: "UTC".into(),
            ..Default::default()
        };
        service::subscriptions::create(conn, &owner, &form, chrono::Utc::now().naive_utc())
            .unwrap()
            .to_string()
    });
    let mut callers = Vec::new();
    for who in WHO {
        let client = match who {
            None => new_client(),
            Some(role) => {
                let name = format!("enc-{}", role.key());
                app.add_account(&name, role);
                app.signed_in(&name, PASSWORD).await
            }
        };
        callers.push(Caller::Session(who, client));
    }
    for (scope, read, ingest) in [
        ("read", true, false),
        ("ingest", false, true),
        ("read+ingest", true, true),
    ] {
        callers.push(Caller::Key(scope, make_key(&app, scope, read, ingest).1));
    }
    let before = footprint(&app);
    let mut failures = Vec::new();
    let mut requests = 0;
    for caller in &callers {
        let csrf = match caller {
            Caller::Session(Some(_), client) => csrf_of(&app, client).await,
            _ => String::new(),
        };
        for (method, path, fields, _) in ROUTES {
            let canonical = fill(path, &account, &key_id).replace(NO_SUBSCRIPTION, &subscription);
            for variant in encoded_variants(&canonical) {
                let url = format!("{}{}", app.address, variant);
                let (client, bearer) = match caller {
                    Caller::Session(_, client) => (client.clone(), None),
                    Caller::Key(_, secret) => (new_client(), Some(secret.clone())),
                };
                let mut request = if *method == "GET" {
                    client.get(&url)
                } else if canonical == "/api/v1/events" {
                    client
                        .post(&url)
                        .json(&ingest_batch(&format!("enc-{requests}")))
                } else {
                    let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
                    form.extend_from_slice(fields);
                    client.post(&url).form(&form)
                };
                if let Some(secret) = bearer {
                    request = request.bearer_auth(secret);
                }
                let response = request.send().await.unwrap();
                requests += 1;
                let status = response.status().as_u16();
                let location = response
                    .headers()
                    .get("location")
                    .map(|l| l.to_str().unwrap().to_string());
                let name = caller.name();
                if variant.contains("%2F") {
                    // An encoded slash is a character, not a separator: no
                    // route has such a path, so nothing is done.
                    if (200..300).contains(&status) {
                        failures.push(format!("{method} {variant} as {name}: {status}"));
                    }
                } else if *method == "GET" {
                    if status != 308 || location.as_deref() != Some(canonical.as_str()) {
                        failures.push(format!(
                            "GET {variant} as {name}: {status} to {location:?}, expected 308 to {canonical}"
                        ));
                    }
                } else if status != 400 {
                    failures.push(format!("POST {variant} as {name}: {status}, expected 400"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(requests > 500, "the table sent {requests} requests");
    assert_eq!(
        footprint(&app),
        before,
        "no request through an encoded path changed anything"
    );

    // On the canonical paths each key gets what its scope allows, and the
    // route decides, not the path's spelling.
    for caller in &callers {
        let Caller::Key(scope, secret) = caller else {
            continue;
        };
        let (read, ingest) = (scope.contains("read"), scope.contains("ingest"));
        for (method, path, _, _) in ROUTES {
            let path = fill(path, &account, &key_id);
            if !path.starts_with("/api/") && !path.starts_with("/graph/") && path != "/metrics" {
                continue;
            }
            let url = format!("{}{}", app.address, path);
            let response = if *method == "GET" {
                new_client()
                    .get(&url)
                    .bearer_auth(secret)
                    .send()
                    .await
                    .unwrap()
            } else {
                new_client()
                    .post(&url)
                    .bearer_auth(secret)
                    .json(&ingest_batch(&format!("canonical-{scope}")))
                    .send()
                    .await
                    .unwrap()
            };
            let expected = match (path.as_str(), *method) {
                ("/api/v1/me" | "/api/v1/openapi.json", _) => 200,
                ("/api/v1/events", _) if ingest => 200,
                ("/api/v1/events", _) => 403,
                _ if read => 200,
                _ => 403,
            };
            assert_eq!(
                response.status().as_u16(),
                expected,
                "{method} {path} with a {scope} key"
            );
        }
    }
    let (_, activities, _, _, _) = footprint(&app);
    assert_eq!(
        activities,
        before.1 + 2,
        "the two ingest keys each stored their batch"
    );
}
db_test!(
    encoded_paths_change_nothing_for_any_role_or_key,
    encoded_paths
);

async fn reader_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_account("rita", Role::ReportsReader);
    let rita = app.signed_in("rita", PASSWORD).await;
    let html = app.get_as(&rita, "/").await.text().await.unwrap();
    let nav = texts(&html, ".sidenav a");
    assert!(!nav.contains(&"Admin".to_string()), "{nav:?}");
    assert!(nav.contains(&"Registration details".to_string()));
    assert_eq!(texts(&html, ".account-name"), ["rita"]);
    assert_eq!(texts(&html, ".account-role"), ["Reports Reader"]);

    let refused = app.get_as(&rita, "/admin/policy").await;
    assert_eq!(refused.status(), 403);
    let html = refused.text().await.unwrap();
    assert_eq!(texts(&html, "h1"), ["Not allowed"]);
    assert!(texts(&html, ".error-message")[0].contains("Reports Reader"));

    let admin_html = app.get("/").await.text().await.unwrap();
    assert!(texts(&admin_html, ".sidenav a").contains(&"Admin".to_string()));
}
db_test!(readers_see_no_admin_and_get_403, reader_pages);

async fn csrf(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_account("victim", Role::ReportsReader);
    let account = account_id(&app, "victim");
    let (key, _) = make_key(&app, "k", true, false);
    let audit_before = app.with_conn(|conn| db::audit::entries(conn, None, 1000).unwrap().len());
    let policy_before = app.with_conn(|conn| db::directory::load_policy(conn).unwrap());
    let good = csrf_of(&app, &app.client).await;
    // The upload is multipart (its token is checked in tests/import_pages.rs)
    // and ingest takes an API key, never a session (checked in the matrix).
    let form_posts = ROUTES
        .iter()
        .filter(|r| r.0 == "POST" && r.1 != "/admin/imports" && r.1 != "/api/v1/events");
    for (method, path, fields, _) in form_posts {
        let path = fill(path, &account, &key);
        for (label, token, origin) in [
            ("no token", None, None),
            ("a wrong token", Some("forged-token"), None),
            (
                "a foreign origin",
                Some(good.as_str()),
                Some("http://evil.example"),
            ),
        ] {
            let mut form: Vec<(&str, &str)> = fields.to_vec();
            if let Some(t) = token {
                form.push(("csrf", t));
            }
            let mut request = app
                .client
                .post(format!("{}{}", app.address, path))
                .form(&form);
            if let Some(o) = origin {
                request = request.header("origin", o);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 403, "{method} {path} with {label}");
            let html = response.text().await.unwrap();
            let refusal = if path == "/sign-in" || path == "/login" {
                texts(&html, ".form-error").join(" ")
            } else {
                texts(&html, ".error-message").join(" ")
            };
            assert!(
                refusal.contains("did not come from this portal")
                    || refusal.contains("sent from another site"),
                "{path} with {label}: {refusal}"
            );
        }
    }
    // Nothing changed: still signed in, no audit entry, same policy, key active.
    assert_eq!(app.get("/").await.status(), 200);
    let audit_after = app.with_conn(|conn| db::audit::entries(conn, None, 1000).unwrap().len());
    assert_eq!(audit_before, audit_after);
    assert_eq!(
        policy_before,
        app.with_conn(|conn| db::directory::load_policy(conn).unwrap())
    );
    let key = app.with_conn(|conn| db::api_keys::find_key(conn, &key).unwrap().unwrap());
    assert!(key.revoked_at.is_none());
    let victim = app.with_conn(|conn| db::accounts::find_by_id(conn, &account).unwrap().unwrap());
    assert!(!victim.disabled);

    // The same form with the right token from this site is accepted.
    let response = app
        .client
        .post(format!("{}/admin/accounts/{account}/disable", app.address))
        .header("origin", app.address.as_str())
        .form(&[("csrf", good.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
}
db_test!(posts_without_the_csrf_token_are_refused, csrf);

fn short_locks() -> WebSettings {
    let mut settings = WebSettings::from_env();
    settings.security.account_failures = 3;
    settings.security.address_failures = 8;
    settings.security.failure_window = Duration::minutes(5);
    settings.security.lock = Duration::seconds(2);
    settings
}

async fn throttling(backend: Backend) {
    let app = TestApp::spawn_with(backend, short_locks()).await;
    app.add_account("lena", Role::SecurityReader);
    let client = new_client();
    for attempt in 1..=2 {
        let r = app.sign_in(&client, "lena", "wrong password!").await;
        assert_eq!(r.status(), 401, "attempt {attempt}");
        let html = r.text().await.unwrap();
        assert_eq!(
            texts(&html, ".form-error"),
            ["The account name or password is wrong."]
        );
        assert_eq!(input_value(&html, "username"), "lena");
    }
    let locked = app.sign_in(&client, "lena", "wrong password!").await;
    assert_eq!(locked.status(), 429);
    let message = texts(&locked.text().await.unwrap(), ".form-error").join(" ");
    assert!(
        message.starts_with("Too many failed sign-ins for this account: it is locked until"),
        "{message}"
    );
    // While locked, even the right password is refused.
    let refused = app.sign_in(&client, "lena", PASSWORD).await;
    assert_eq!(refused.status(), 429);
    // The administrator sees the lock and the audit trail records it.
    let accounts = app.get("/admin/accounts").await.text().await.unwrap();
    assert!(
        rows(&accounts, "#accounts tr")
            .iter()
            .any(|row| row.starts_with("lena") && row.contains("locked until")),
        "{accounts}"
    );
    let audit = app.get("/admin/audit").await.text().await.unwrap();
    assert!(rows(&audit, "#audit tbody tr")[0].contains("account locked lena"));
    // The lock runs out by itself.
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let ok = app.sign_in(&client, "lena", PASSWORD).await;
    assert_eq!(ok.status(), 303);

    // An administrator can lift a lock before it runs out.
    let other = new_client();
    for _ in 0..3 {
        app.sign_in(&other, "lena", "wrong password!").await;
    }
    assert_eq!(app.sign_in(&other, "lena", PASSWORD).await.status(), 429);
    let id = account_id(&app, "lena");
    let unlocked = app
        .post_form(
            &app.client,
            "/admin/accounts",
            &format!("/admin/accounts/{id}/unlock"),
            &[],
        )
        .await;
    assert_eq!(unlocked.status(), 303);
    let notice = app.get("/admin/accounts").await.text().await.unwrap();
    assert_eq!(texts(&notice, ".notice"), ["'lena' may sign in again."]);
    assert_eq!(app.sign_in(&other, "lena", PASSWORD).await.status(), 303);

    // Many names from one address block the address, whatever the name.
    let guesser = new_client();
    let mut last = 0;
    for i in 0..8 {
        last = app
            .sign_in(&guesser, &format!("guess{i}"), "wrong password!")
            .await
            .status()
            .as_u16();
    }
    assert_eq!(last, 429);
    let blocked = app.sign_in(&guesser, ADMIN, PASSWORD).await;
    assert_eq!(blocked.status(), 429);
    let message = texts(&blocked.text().await.unwrap(), ".form-error").join(" ");
    assert!(message.contains("from your network address"), "{message}");
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    assert_eq!(app.sign_in(&guesser, ADMIN, PASSWORD).await.status(), 303);
}
db_test!(sign_in_throttling_locks_and_unlocks, throttling);

/// The value of the session cookie a sign-in response sets.
fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("ai_session="))
        .map(|c| c.split(';').next().unwrap().to_string())
}

async fn get_with_cookie(remote: &Remote, path: &str, token: &str) -> reqwest::Response {
    new_client()
        .get(format!("{}{}", remote.address, path))
        .header("cookie", format!("ai_session={token}"))
        .send()
        .await
        .unwrap()
}

async fn sessions_across_instances(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(build_worked_example);
    let second = app.second_instance();
    let client = new_client();
    let signed = app.sign_in(&client, ADMIN, PASSWORD).await;
    let token = session_cookie(&signed).expect("a session cookie");

    // A session made by one instance is accepted by the other.
    let there = get_with_cookie(&second, "/", &token).await;
    assert_eq!(there.status(), 200);
    let html = there.text().await.unwrap();
    assert_eq!(texts(&html, ".account-name"), [ADMIN]);
    assert_eq!(texts(&html, "#sspr-tiles .tile-count"), ["5", "8", "4"]);
    // The first instance has shown the overview too (and keeps its figures
    // while the data is unchanged).
    let here = get_with_cookie(&app, "/", &token)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(texts(&here, "#sspr-tiles .tile-count"), ["5", "8", "4"]);

    // A policy change through the second shows on the first at once.
    let csrf = input_value(&html, "csrf");
    let saved = new_client()
        .post(format!("{}/admin/policy", second.address))
        .header("cookie", format!("ai_session={token}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("scope", "none"),
            ("methods_required", "2"),
            ("allow-app_notification", "on"),
            ("allow-app_code", "on"),
            ("allow-mobile_phone", "on"),
            ("allow-email", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 303);
    let here = get_with_cookie(&app, "/", &token)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(texts(&here, "#sspr-tiles .tile-count"), ["5", "2", "1"]);

    // Events ingested through the second show on the first at once: Ben
    // registers an app code beside his one phone, and is registered.
    let key = app.with_conn(|conn| {
        let now = chrono::Utc::now().naive_utc();
        db::api_keys::create_key(conn, "hook", false, true, "test", now)
            .unwrap()
            .1
    });
    let at = (chrono::Utc::now() - chrono::Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%SZ");
    let batch = serde_json::json!({ "activities": [{
        "id": "reg-ben-1", "user_id": "u-ben", "user_principal_name": "ben@contoso.example",
        "user_display_name": "Ben", "feature": "registration", "result": "succeeded",
        "occurred_at": at.to_string(),
        "events": [{ "id": "reg-ben-1-e1", "method": "app_code", "success": true }]
    }]});
    let ingested = new_client()
        .post(format!("{}/api/v1/events", second.address))
        .bearer_auth(&key)
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(ingested.status(), 200, "{}", ingested.text().await.unwrap());
    let here = get_with_cookie(&app, "/", &token)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(texts(&here, "#sspr-tiles .tile-count"), ["6", "2", "1"]);

    // Signing out on one ends the session on both.
    let out = new_client()
        .post(format!("{}/sign-out", app.address))
        .header("cookie", format!("ai_session={token}"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(out.headers()["location"], "/sign-in?signed_out=1");
    let after = get_with_cookie(&second, "/registrations", &token).await;
    assert_eq!(after.status(), 303);
    assert_eq!(
        after.headers()["location"],
        "/sign-in?next=%2Fregistrations&expired=1"
    );
}
db_test!(a_session_works_on_every_instance, sessions_across_instances);

async fn session_lifecycle(backend: Backend) {
    let mut settings = WebSettings::from_env();
    settings.security.session_idle = Duration::seconds(2);
    let app = TestApp::spawn_with(backend, settings).await;
    let client = new_client();
    let first = app.sign_in(&client, ADMIN, PASSWORD).await;
    let cookie = first
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("ai_session="))
        .unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let old = session_cookie(&first).unwrap();

    // Signing in again renews the session id and ends the old one.
    let again = app.sign_in(&client, ADMIN, PASSWORD).await;
    let new = session_cookie(&again).unwrap();
    assert_ne!(old, new);
    assert_eq!(get_with_cookie(&app, "/", &old).await.status(), 303);
    assert_eq!(get_with_cookie(&app, "/", &new).await.status(), 200);

    // A client's own claim of HTTPS is not believed without a trusted
    // proxy (tests/hardening.rs checks the proxy's case).
    let page = new_client()
        .get(format!("{}/sign-in", app.address))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let sign_in_cookie = page.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(!sign_in_cookie.contains("Secure"), "{sign_in_cookie}");
    assert!(page.headers().contains_key("cache-control"));

    // An idle session ends.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let idle = get_with_cookie(&app, "/activity?range=7d", &new).await;
    assert_eq!(idle.status(), 303);
    assert_eq!(
        idle.headers()["location"],
        "/sign-in?next=%2Factivity%3Frange%3D7d&expired=1"
    );
    let html = app
        .get_as(&new_client(), "/sign-in?next=%2Factivity&expired=1")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        texts(&html, ".notice"),
        ["Your session has ended. Sign in again to continue."]
    );
}
db_test!(
    sessions_renew_at_sign_in_and_end_when_idle,
    session_lifecycle
);

async fn back_to_the_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = new_client();
    let asked = app
        .get_as(&client, "/registrations?capable=no&sort=upn")
        .await;
    assert_eq!(asked.status(), 303);
    let location = asked.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        location,
        "/sign-in?next=%2Fregistrations%3Fcapable%3Dno%26sort%3Dupn"
    );
    let form = app.get_as(&client, &location).await.text().await.unwrap();
    assert_eq!(
        input_value(&form, "next"),
        "/registrations?capable=no&sort=upn"
    );
    let csrf = input_value(&form, "csrf");
    let signed = client
        .post(format!("{}/sign-in", app.address))
        .form(&[
            ("username", ADMIN),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("next", "/registrations?capable=no&sort=upn"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    assert_eq!(
        signed.headers()["location"],
        "/registrations?capable=no&sort=upn"
    );

    // No open redirect: another site, a scheme-relative or backslash URL go home.
    for next in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let form = app
            .get_as(&client, &format!("/sign-in?next={}", urlencode(next)))
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(input_value(&form, "next"), "/", "{next}");
        let csrf = input_value(&form, "csrf");
        let signed = client
            .post(format!("{}/sign-in", app.address))
            .form(&[
                ("username", ADMIN),
                ("password", PASSWORD),
                ("csrf", &csrf),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(signed.headers()["location"], "/", "{next}");
    }
}
db_test!(sign_in_returns_to_the_page_asked_for, back_to_the_page);

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn api_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anonymous = app.get_as(&new_client(), "/api/v1/me").await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");

    // Created on the Admin page, shown once.
    let created = app
        .post_form(
            &app.client,
            "/admin/api-keys",
            "/admin/api-keys",
            &[("name", "SIEM export"), ("read", "on")],
        )
        .await;
    assert_eq!(created.status(), 200);
    let html = created.text().await.unwrap();
    let secret = texts(&html, "#secret").join("");
    assert!(secret.starts_with("aik_") && secret.len() > 40, "{secret}");
    let stored: Vec<String> = app.with_conn(|conn| {
        use diesel::prelude::*;
        authinsights::db::schema::api_keys::table
            .select(authinsights::db::schema::api_keys::key_hash)
            .load(conn)
            .unwrap()
    });
    assert!(!stored.contains(&secret), "only a hash is stored");

    let bearer = |key: &str| {
        new_client()
            .get(format!("{}/api/v1/me", app.address))
            .bearer_auth(key)
            .send()
    };
    let me = bearer(&secret).await.unwrap();
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(me["kind"], "apiKey");
    assert_eq!(me["name"], "SIEM export");
    assert_eq!(me["scopes"], serde_json::json!(["read"]));
    assert_eq!(bearer("aik_not-a-key").await.unwrap().status(), 401);

    // The list shows the last use and never the key.
    let list = app.get("/admin/api-keys").await.text().await.unwrap();
    assert!(!list.contains(&secret));
    let row = rows(&list, "#api-keys tbody tr").join(" ");
    assert!(row.contains("SIEM export Read reports"), "{row}");
    assert!(!row.contains("never"), "last used is recorded: {row}");

    // A key opens the API only, and an ingest-only key reads nothing.
    let page = new_client()
        .get(format!("{}/", app.address))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    let (_, ingest) = make_key(&app, "ingest only", false, true);
    let me: serde_json::Value = bearer(&ingest).await.unwrap().json().await.unwrap();
    assert_eq!(me["scopes"], serde_json::json!(["ingest"]));

    // Revoked: 401 from then on.
    let id: String = app.with_conn(|conn| {
        db::api_keys::list_keys(conn)
            .unwrap()
            .into_iter()
            .find(|k| k.name == "SIEM export")
            .unwrap()
            .id
    });
    let revoked = app
        .post_form(
            &app.client,
            "/admin/api-keys",
            &format!("/admin/api-keys/{id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(revoked.status(), 303);
    assert_eq!(bearer(&secret).await.unwrap().status(), 401);
    let audit = app.get("/admin/audit").await.text().await.unwrap();
    let rows = rows(&audit, "#audit tbody tr");
    assert!(rows[0].contains("API key revoked SIEM export"), "{rows:?}");
    assert!(rows[1].contains("API key created SIEM export"), "{rows:?}");
}
db_test!(api_keys_are_shown_once_and_revocable, api_keys);

async fn accounts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Added on the Admin page with a one-time password.
    let added = app
        .post_form(
            &app.client,
            "/admin/accounts",
            "/admin/accounts",
            &[("username", "sam"), ("role", "security-administrator")],
        )
        .await;
    assert_eq!(added.status(), 200);
    let html = added.text().await.unwrap();
    let one_time = texts(&html, "#secret").join("");
    assert_eq!(one_time.len(), 20);
    let sam = new_client();
    let signed = app.sign_in(&sam, "sam", &one_time).await;
    assert_eq!(signed.headers()["location"], "/account/password");
    let changed = app
        .post_form(
            &sam,
            "/account/password",
            "/account/password",
            &[
                ("current", &one_time),
                ("new", "sam's own password"),
                ("repeat", "sam's own password"),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(changed.status(), 303);
    assert_eq!(
        changed.headers()["location"],
        "/",
        "next never leaves the portal"
    );
    assert_eq!(app.get_as(&sam, "/").await.status(), 200);
    assert_eq!(app.get_as(&sam, "/admin").await.status(), 403);

    // A role change applies to the open session at once.
    let id = account_id(&app, "sam");
    let promoted = app
        .post_form(
            &app.client,
            "/admin/accounts",
            &format!("/admin/accounts/{id}/role"),
            &[("role", "global-administrator")],
        )
        .await;
    assert_eq!(promoted.status(), 303);
    assert_eq!(app.get_as(&sam, "/admin").await.status(), 200);

    // Disabling ends its session; the account cannot sign in.
    let disabled = app
        .post_form(
            &app.client,
            "/admin/accounts",
            &format!("/admin/accounts/{id}/disable"),
            &[],
        )
        .await;
    assert_eq!(disabled.status(), 303);
    assert_eq!(app.get_as(&sam, "/").await.status(), 303);
    assert_eq!(
        app.sign_in(&new_client(), "sam", "sam's own password")
            .await
            .status(),
        401
    );

    // The last enabled Global Administrator cannot step down.
    let me = account_id(&app, ADMIN);
    let demoted = app
        .post_form(
            &app.client,
            "/admin/accounts",
            &format!("/admin/accounts/{me}/role"),
            &[("role", "reports-reader")],
        )
        .await;
    assert_eq!(demoted.status(), 303);
    let page = app.get("/admin/accounts").await.text().await.unwrap();
    assert_eq!(
        texts(&page, ".form-error"),
        ["'tester' is the only enabled Global Administrator; make another account a Global Administrator first."]
    );
    assert_eq!(app.get("/admin").await.status(), 200);

    // A duplicate or invalid name is a 400 that names the problem.
    for (name, message) in [
        ("sam", "An account named 'sam' already exists."),
        (
            "a b",
            "an account name may hold letters, digits and . - _ @, not ' '",
        ),
    ] {
        let r = app
            .post_form(
                &app.client,
                "/admin/accounts",
                "/admin/accounts",
                &[("username", name), ("role", "reports-reader")],
            )
            .await;
        assert_eq!(r.status(), 400, "{name}");
        let html = r.text().await.unwrap();
        assert_eq!(texts(&html, ".error-message"), [message]);
    }

    // Every change is in the audit log, newest first, with who did it.
    let audit = app.get("/admin/audit").await.text().await.unwrap();
    let rows = rows(&audit, "#audit tbody tr");
    let expected = [
        "sam sign-in refused sam the account is disabled",
        "tester account disabled sam",
        "tester role changed sam Security Administrator → Global Administrator",
        "sam password changed sam",
        "tester account added sam role Security Administrator; one-time password",
    ];
    for (row, want) in rows.iter().zip(expected) {
        assert!(row.contains(want), "{row:?} should contain {want:?}");
    }
}
db_test!(administrators_manage_accounts, accounts);

async fn policy_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(build_worked_example);
    let before = app.get("/").await.text().await.unwrap();
    assert_eq!(texts(&before, "#sspr-tiles .tile-count"), ["5", "8", "4"]);

    let form = app.get("/admin/policy").await.text().await.unwrap();
    let checked = {
        let doc = scraper::Html::parse_document(&form);
        let sel = scraper::Selector::parse("form#policy input[checked]").unwrap();
        doc.select(&sel)
            .map(|e| {
                e.value().attr("value").unwrap().to_string() + "=" + e.value().attr("name").unwrap()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        checked,
        [
            "selected=scope",
            "2=methods_required",
            "on=allow-app_notification",
            "on=allow-app_code",
            "on=allow-mobile_phone",
            "on=allow-email"
        ]
    );

    // Scope None: only administrators stay enabled.
    let pilot = [
        ("methods_required", "2"),
        ("allow-app_notification", "on"),
        ("allow-app_code", "on"),
        ("allow-mobile_phone", "on"),
        ("allow-email", "on"),
    ];
    let mut none = vec![("scope", "none")];
    none.extend_from_slice(&pilot);
    let saved = app
        .post_form(&app.client, "/admin/policy", "/admin/policy", &none)
        .await;
    assert_eq!(saved.status(), 303);
    let notice = app.get("/admin/policy").await.text().await.unwrap();
    assert!(
        texts(&notice, ".notice")[0].starts_with("Policy saved. 9 users re-evaluated;"),
        "{notice}"
    );
    let after = app.get("/").await.text().await.unwrap();
    assert_eq!(texts(&after, "#sspr-tiles .tile-count"), ["5", "2", "1"]);

    // Back to the pilot group: the original figures.
    let mut selected = vec![("scope", "selected"), ("group", "group-sspr-pilot")];
    selected.extend_from_slice(&pilot);
    app.post_form(&app.client, "/admin/policy", "/admin/policy", &selected)
        .await;
    let back = app.get("/").await.text().await.unwrap();
    assert_eq!(texts(&back, "#sspr-tiles .tile-count"), ["5", "8", "4"]);

    // Invalid choices are refused with the reason, and change nothing.
    for (fields, message) in [
        (
            vec![
                ("scope", "selected"),
                ("methods_required", "1"),
                ("allow-email", "on"),
            ],
            "Choose the group the policy applies to.",
        ),
        (
            vec![
                ("scope", "all"),
                ("methods_required", "2"),
                ("allow-email", "on"),
            ],
            "The policy requires 2 methods but allows only 1.",
        ),
        (
            vec![
                ("scope", "everyone"),
                ("methods_required", "1"),
                ("allow-email", "on"),
            ],
            "Unknown scope 'everyone': choose None, Selected group or All.",
        ),
        (
            vec![
                ("scope", "all"),
                ("methods_required", "3"),
                ("allow-email", "on"),
            ],
            "Methods required must be 1 or 2, not '3'.",
        ),
    ] {
        let r = app
            .post_form(&app.client, "/admin/policy", "/admin/policy", &fields)
            .await;
        assert_eq!(r.status(), 400, "{message}");
        let html = r.text().await.unwrap();
        assert_eq!(texts(&html, ".form-error"), [message]);
    }
    let unchanged = app.get("/").await.text().await.unwrap();
    assert_eq!(
        texts(&unchanged, "#sspr-tiles .tile-count"),
        ["5", "8", "4"]
    );
    let audit = app.get("/admin/audit").await.text().await.unwrap();
    let rows = rows(&audit, "#audit tbody tr");
    // Two policy changes, after the test account's creation.
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows[1].contains("tester policy changed SSPR policy Members of 'SSPR pilot'"));
}
db_test!(the_policy_page_changes_the_overview, policy_page);

async fn stale_throttle_rows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let now = chrono::Utc::now().naive_utc();
    let limits = db::throttle::Limits {
        max_failures: 2,
        window: Duration::minutes(5),
        lock: Duration::minutes(15),
    };
    app.with_conn(|conn| {
        // An old failure, an old lock that has run out, and a lock still on.
        let old = now - Duration::minutes(30);
        db::throttle::reserve(conn, "account:old", limits, old).unwrap();
        db::throttle::reserve(conn, "account:expired", limits, old).unwrap();
        db::throttle::reserve(conn, "account:expired", limits, old).unwrap();
        db::throttle::reserve(conn, "account:locked", limits, now).unwrap();
        db::throttle::reserve(conn, "account:locked", limits, now).unwrap();
        let removed = db::throttle::purge_stale(conn, now, limits.window).unwrap();
        assert_eq!(removed, 2);
        assert!(db::throttle::locked_until(conn, "account:locked", now)
            .unwrap()
            .is_some());
        assert_eq!(
            db::throttle::current_locks(conn, now).unwrap().len(),
            1,
            "only the lock still on remains"
        );
    });
}
db_test!(stale_throttle_rows_are_purged, stale_throttle_rows);

async fn absolute_timeout(backend: Backend) {
    let mut settings = WebSettings::from_env();
    settings.security.session_idle = Duration::hours(1);
    settings.security.session_absolute = Duration::seconds(2);
    let app = TestApp::spawn_with(backend, settings).await;
    let client = app.signed_in(ADMIN, PASSWORD).await;
    // Used all along, the session still ends at its absolute limit.
    for _ in 0..3 {
        assert_eq!(app.get_as(&client, "/").await.status(), 200);
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let ended = app.get_as(&client, "/").await;
    assert_eq!(ended.status(), 303);
    assert_eq!(ended.headers()["location"], "/sign-in?expired=1");
}
db_test!(a_session_ends_at_its_absolute_limit, absolute_timeout);
