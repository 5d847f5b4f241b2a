//! The OpenAPI 3 description of the API, generated from the handlers and the
//! types they answer with (`/api/v1/openapi.json`).

use super::{figures, lists, trends, usage, ErrorBody, ErrorDetail, Me};
use crate::web::auth;
use crate::web::auth::SESSION_COOKIE;
use crate::web::graph;
use actix_web::middleware::from_fn;
use actix_web::{get, HttpResponse};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "authinsights API",
        description = "Read-only report data of authinsights: SSPR and MFA registration status, method events and the classic activity reports, with the same filters as the portal's pages.\n\nAuthenticate with an API key holding the read scope (`Authorization: Bearer aik_…`, made in Admin › API keys) or a signed-in session. Lists page by keyset: follow `@odata.nextLink` until it is absent. Errors are `{\"error\": {\"code\", \"message\", \"parameter\"}}`.",
    ),
    paths(
        super::me,
        figures::overview,
        usage::usage,
        figures::policy,
        figures::user,
        trends::trends,
        lists::registration_details,
        lists::reset_details,
        lists::registration_activity,
        lists::reset_activity,
        graph::registration_details,
        graph::registration_one,
        graph::events_summary_route,
        graph::feature_summary,
        graph::method_summary,
        graph::feature_function,
        graph::method_function,
        graph::directory_audits,
        graph::users,
    ),
    components(schemas(
        ErrorBody,
        ErrorDetail,
        Me,
        graph::GraphErrorBody,
        graph::GraphErrorDetail,
        graph::InnerError,
        graph::schema::GraphVersion,
        graph::schema::IncludedUserTypes,
        graph::schema::IncludedUserRoles
    )),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "reports", description = "Report data, as the pages show it."),
        (name = "portal", description = "About the caller."),
        (name = "graph", description = "Microsoft Graph's report resources under /graph/v1.0 and /graph/beta: Graph's paths, shapes, enum values, OData options and error bodies (docs/graph-api.md)."),
    )
)]
pub struct ApiDoc;

/// The two ways in: an API key or the portal's session cookie.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key with the read scope (aik_…)."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "A signed-in portal session.",
            ))),
        );
    }
}

/// The document, built once.
pub fn document() -> &'static str {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    JSON.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        allow_empty_values(&mut doc);
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    })
}

/// Every query parameter may be given empty, which means the same as leaving
/// it out (what the pages' forms send for "All"). utoipa has no field for
/// OpenAPI's `allowEmptyValue`, so it is set on the generated document.
fn allow_empty_values(doc: &mut serde_json::Value) {
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(parameters) = item
            .pointer_mut("/get/parameters")
            .and_then(|p| p.as_array_mut())
        else {
            continue;
        };
        for p in parameters.iter_mut().filter(|p| p["in"] == "query") {
            p["allowEmptyValue"] = serde_json::Value::Bool(true);
        }
    }
}

/// The methods a path of the API answers, for a 405's `Allow`; None for a
/// path the API does not have.
pub fn allowed_methods(path: &str) -> Option<&'static str> {
    static TEMPLATES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    match path {
        "/api/v1/openapi.json" => return Some("GET"),
        "/api/v1/events" => return Some("POST"),
        _ => {}
    }
    let templates =
        TEMPLATES.get_or_init(|| ApiDoc::openapi().paths.paths.keys().cloned().collect());
    templates
        .iter()
        .any(|t| matches_template(t, path))
        .then_some("GET")
}

/// Whether `path` is an instance of the document's path `template`
/// (`/api/v1/users/{id}`: any one non-empty segment for `{id}`).
pub fn matches_template(template: &str, path: &str) -> bool {
    let (mut ts, mut ps) = (template.split('/'), path.split('/'));
    loop {
        match (ts.next(), ps.next()) {
            (None, None) => return true,
            (Some(t), Some(p)) if segment_matches(t, p) => {}
            _ => return false,
        }
    }
}

/// One segment against its template: literal text as it is, each `{name}`
/// standing for at least one character (`f(a='{a}')` matches `f(a='all')`).
fn segment_matches(template: &str, segment: &str) -> bool {
    let Some(open) = template.find('{') else {
        return template == segment;
    };
    let Some(rest) = segment.strip_prefix(&template[..open]) else {
        return false;
    };
    let Some(close) = template[open..].find('}') else {
        return template == segment;
    };
    let after = &template[open + close + 1..];
    // The parameter takes one character or more, then the rest must match.
    (1..=rest.len())
        .filter(|&n| rest.is_char_boundary(n))
        .any(|n| segment_matches(after, &rest[n..]))
}

/// This document.
#[get("/api/v1/openapi.json", wrap = "from_fn(auth::api_signed)")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}

#[cfg(test)]
mod tests {
    use super::matches_template;

    #[test]
    fn templates_match_whole_segments_and_parameters_inside_one() {
        assert!(matches_template("/api/v1/users/{id}", "/api/v1/users/u-1"));
        assert!(!matches_template("/api/v1/users/{id}", "/api/v1/users/"));
        assert!(!matches_template(
            "/api/v1/users/{id}",
            "/api/v1/users/u-1/x"
        ));
        let function = "/graph/{version}/r/f(a='{a}',b='{b}')";
        assert!(matches_template(
            function,
            "/graph/v1.0/r/f(a='all',b='admin')"
        ));
        assert!(!matches_template(
            function,
            "/graph/v1.0/r/f(a='',b='admin')"
        ));
        assert!(!matches_template(
            function,
            "/graph/v1.0/r/g(a='all',b='admin')"
        ));
        assert!(!matches_template(function, "/graph/v1.0/r/f"));
    }
}
