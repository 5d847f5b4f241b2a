//! Calls to the JSON API for tests. Every answer is checked against the
//! OpenAPI document the portal serves: its status must be documented for the
//! operation, and its body must match the documented schema. So no test can
//! see a response the document does not describe.

use super::TestApp;
use authinsights::db;
use authinsights::web::api::doc::matches_template;
use serde_json::{json, Value};
use std::sync::OnceLock;

/// The OpenAPI document, as `/api/v1/openapi.json` serves it.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        serde_json::from_str(authinsights::web::api::doc::document()).expect("the document is JSON")
    })
}

/// The documented path template a concrete path matches (`/api/v1/users/{id}`).
pub fn template_of(path: &str) -> Option<String> {
    document()["paths"]
        .as_object()?
        .keys()
        .find(|t| matches_template(t, path))
        .cloned()
}

/// Checks one answer against the document; panics with the reasons if it
/// does not match. `path` may carry a query string.
pub fn check(method: &str, path: &str, status: u16, content_type: &str, body: &Value) {
    let bare = path.split('?').next().unwrap_or(path);
    let template = template_of(bare).unwrap_or_else(|| panic!("{bare} is not a documented path"));
    let operation = &document()["paths"][&template][method];
    assert!(
        operation.is_object(),
        "{method} {template} is not documented"
    );
    let response = &operation["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {path} answered {status}, which the document does not list for {template}: {body}"
    );
    assert!(
        content_type.starts_with("application/json"),
        "{method} {path} answered {content_type}, not JSON"
    );
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{template} {status} documents no JSON body"
    );
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": document()["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .expect("the document's schemas compile");
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} ({status}) does not match the document:\n{}\nbody: {body}",
        errors.join("\n")
    );
}

/// A client of the API with a read key of its own.
pub struct Api<'a> {
    pub app: &'a TestApp,
    pub key: String,
}

impl<'a> Api<'a> {
    /// A new API key with the read scope.
    pub fn new(app: &'a TestApp) -> Api<'a> {
        Api::with_scopes(app, true, false)
    }

    pub fn with_scopes(app: &'a TestApp, read: bool, ingest: bool) -> Api<'a> {
        let key = app.with_conn(|conn| {
            let now = chrono::Utc::now().naive_utc();
            db::api_keys::create_key(conn, "api tests", read, ingest, "test", now)
                .expect("a key")
                .1
        });
        Api { app, key }
    }

    /// GETs `path` with the key; returns the status and the JSON body, both
    /// checked against the document.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let request = self
            .app
            .anonymous()
            .get(format!("{}{path}", self.app.address))
            .bearer_auth(&self.key);
        send_checked(request, path).await
    }

    /// GETs `path` with the key, unchecked: for what the document does not
    /// describe (the document itself).
    pub async fn get_raw(&self, path: &str) -> (u16, Value) {
        let response = self
            .app
            .anonymous()
            .get(format!("{}{path}", self.app.address))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("the API answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    /// Follows a link the API gave (an absolute URL of this portal).
    pub async fn follow(&self, link: &str) -> (u16, Value) {
        let path = link
            .strip_prefix(&self.app.address)
            .unwrap_or_else(|| panic!("{link} is not a URL of this portal"));
        self.get(path).await
    }

    /// GETs every page of a list from `path`, following `@odata.nextLink`;
    /// returns the rows in order and the first page's count.
    pub async fn walk(&self, path: &str) -> (Vec<Value>, Option<i64>) {
        let (status, first) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {first}");
        let count = first["count"].as_i64();
        let mut rows: Vec<Value> = first["value"].as_array().expect("a list").clone();
        let mut next = first["@odata.nextLink"].as_str().map(str::to_string);
        let mut pages = 1;
        while let Some(link) = next {
            let (status, page) = self.follow(&link).await;
            assert_eq!(status, 200, "{link}: {page}");
            rows.extend(page["value"].as_array().expect("a list").iter().cloned());
            next = page["@odata.nextLink"].as_str().map(str::to_string);
            pages += 1;
            assert!(pages < 10_000, "paging does not end");
        }
        (rows, count)
    }
}

/// GETs `path` with `client` (a signed-in session, say), checked against the document.
pub async fn get_as(app: &TestApp, client: &reqwest::Client, path: &str) -> (u16, Value) {
    send_checked(client.get(format!("{}{path}", app.address)), path).await
}

async fn send_checked(request: reqwest::RequestBuilder, path: &str) -> (u16, Value) {
    let response = request.send().await.expect("the API answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = response.text().await.expect("a body");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("GET {path} answered {status} with no JSON ({e}): {text}"));
    check("get", path, status, &content_type, &body);
    (status, body)
}
