//! `/graph/v1.0/` and `/graph/beta/`: the report resources the portal
//! holds, answered as Microsoft Graph answers them — the same paths,
//! property names, enum values, OData options, paging (`@odata.nextLink`
//! with `$skiptoken`) and error bodies — so that a script written against
//! Graph runs against the portal with only its base address and token
//! changed, and `authinsights sync` can copy one portal into another.
//!
//! Authentication is the API's: an API key with the read scope as a bearer
//! token (or a signed-in session, for a browser).

pub mod odata;
pub mod records;
pub mod schema;

use crate::db::cache::{CountCache, Counts};
use crate::db::graph::{self as reads, Span, TimeKey};
use crate::db::registrations::{registration_page, RegistrationPage, RegistrationQuery};
use crate::db::DbConnection;
use crate::domain::filter::{
    Cursor, PagePosition, PageSize, RegistrationFilter, Sort, SortField, Tristate, UserType,
};
use crate::domain::MethodSet;
use crate::ingest::graph::audit_entries;
use crate::web::auth;
use crate::web::error::AppError;
use crate::web::AppState;

use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{Duration, NaiveDateTime};
use odata::{Allowed, Expr, Literal, Op, Query, QueryError};
use records::*;
use serde_json::{json, Value};
use std::sync::Arc;

/// Where the Graph-compatible endpoints live.
pub const BASE: &str = "/graph";
/// The versions answered, as Graph names them.
pub const VERSIONS: [&str; 2] = ["v1.0", "beta"];
/// How many records one page scan reads at most before it answers with
/// what it found and a next link (a selective filter over a large tenant).
const SCAN_LIMIT: usize = 50_000;
/// Records read from the database at a time.
const CHUNK: usize = 500;

// ---- errors ------------------------------------------------------------------

pub use crate::web::error::{
    graph_error, graph_error_for, GraphErrorBody, GraphErrorDetail, InnerError,
};

/// A handler's failure: Graph's error body.
#[derive(Debug)]
pub enum GraphFailure {
    Query(QueryError),
    NotFound(String),
    App(AppError),
}

impl From<AppError> for GraphFailure {
    fn from(e: AppError) -> Self {
        GraphFailure::App(e)
    }
}

impl From<QueryError> for GraphFailure {
    fn from(e: QueryError) -> Self {
        GraphFailure::Query(e)
    }
}

type Answer = Result<HttpResponse, GraphFailure>;

fn answer(req: &HttpRequest, result: Answer) -> HttpResponse {
    match result {
        Ok(r) => r,
        Err(GraphFailure::Query(e)) => {
            graph_error(req.headers(), StatusCode::BAD_REQUEST, e.code, &e.message)
        }
        Err(GraphFailure::NotFound(m)) => graph_error(
            req.headers(),
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            &m,
        ),
        Err(GraphFailure::App(e)) => graph_error_for(req.headers(), &e),
    }
}

// ---- requests ----------------------------------------------------------------

/// The version of the path, or a 404 naming it.
fn version(req: &HttpRequest) -> Result<&'static str, GraphFailure> {
    let v = req.match_info().get("version").unwrap_or_default();
    VERSIONS.into_iter().find(|x| *x == v).ok_or_else(|| {
        GraphFailure::NotFound(format!(
            "Invalid version: '{v}'. The versions are v1.0 and beta."
        ))
    })
}

/// Whether the caller asked for the enum members newer than
/// `unknownFutureValue` (`Prefer: include-unknown-enum-members`).
fn wants_unknown_members(req: &HttpRequest) -> bool {
    req.headers().get_all("prefer").any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',').any(|p| {
                p.trim()
                    .eq_ignore_ascii_case("include-unknown-enum-members")
            })
        })
    })
}

fn consistency_eventual(req: &HttpRequest) -> bool {
    req.headers()
        .get("consistencylevel")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"))
}

/// The absolute address of a path of this portal.
fn here(req: &HttpRequest, path: &str) -> String {
    let trust = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.settings.security.trust_forwarded_for);
    let (scheme, host) = auth::this_origin(req, trust);
    format!("{scheme}://{host}{path}")
}

fn context(
    req: &HttpRequest,
    version: &str,
    fragment: &str,
    select: &Option<Vec<String>>,
) -> String {
    let select = select
        .as_ref()
        .map(|s| format!("({})", s.join(",")))
        .unwrap_or_default();
    here(
        req,
        &format!("{BASE}/{version}/$metadata#{fragment}{select}"),
    )
}

fn ok(body: Value, unknown_members: bool) -> HttpResponse {
    let mut r = HttpResponse::Ok();
    r.content_type("application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8");
    if unknown_members {
        r.insert_header(("Preference-Applied", "include-unknown-enum-members"));
    }
    r.body(body.to_string())
}

/// Records read in order, each with its position, and whether more follow.
type Chunk<P> = Result<(Vec<(P, Value)>, bool), AppError>;

/// Reads up to `n` records after a position.
type Fetch<'a, P> = dyn FnMut(&mut DbConnection, Option<&P>, usize) -> Chunk<P> + 'a;

/// One page of a list, with its next position.
struct Page<P> {
    records: Vec<Value>,
    next: Option<P>,
    count: Option<usize>,
}

/// Reads a page: records in order from `start`, `CHUNK` at a time, kept
/// when they pass the filter, until `size` are kept, the list ends, or
/// `SCAN_LIMIT` were read (then the page is shorter and links on).
fn collect<P: Clone>(
    conn: &mut DbConnection,
    filter: Option<&Expr>,
    start: Option<P>,
    size: usize,
    fetch: &mut Fetch<'_, P>,
) -> Result<(Vec<Value>, Option<P>), AppError> {
    let mut out = Vec::new();
    let mut pos = start;
    let mut scanned = 0usize;
    // First just the page: without a filter, or with one the query's own
    // narrowing already holds, that is all; after that, larger reads.
    let mut chunk = size;
    loop {
        let (rows, more) = fetch(conn, pos.as_ref(), chunk)?;
        chunk = CHUNK.max(size);
        let n = rows.len();
        for (i, (p, record)) in rows.into_iter().enumerate() {
            scanned += 1;
            pos = Some(p);
            if filter.is_none_or(|f| f.matches(&record)) {
                out.push(record);
                if out.len() == size {
                    let rest = i + 1 < n || more;
                    return Ok((out, pos.filter(|_| rest)));
                }
            }
        }
        if !more || n == 0 {
            return Ok((out, None));
        }
        if scanned >= SCAN_LIMIT {
            return Ok((out, pos));
        }
    }
}

/// How many records pass the filter, reading them all.
fn count_all<P: Clone>(
    conn: &mut DbConnection,
    filter: Option<&Expr>,
    fetch: &mut Fetch<'_, P>,
) -> Result<usize, AppError> {
    let mut pos: Option<P> = None;
    let mut count = 0;
    loop {
        let (rows, more) = fetch(conn, pos.as_ref(), CHUNK)?;
        let n = rows.len();
        for (p, record) in rows {
            pos = Some(p);
            if filter.is_none_or(|f| f.matches(&record)) {
                count += 1;
            }
        }
        if !more || n == 0 {
            return Ok(count);
        }
    }
}

/// A list's answer: `@odata.context`, `@odata.count`, `value`,
/// `@odata.nextLink`.
fn list_answer<P>(
    req: &HttpRequest,
    q: &Query,
    context_url: String,
    page: Page<P>,
    token: impl Fn(&P) -> String,
    hide: &[&str],
    unknown_members: bool,
) -> HttpResponse {
    let mut body = serde_json::Map::new();
    body.insert("@odata.context".into(), json!(context_url));
    if let Some(n) = page.count {
        body.insert("@odata.count".into(), json!(n));
    }
    let value: Vec<Value> = page
        .records
        .into_iter()
        .map(|mut r| {
            if !unknown_members {
                hide_evolved(&mut r, hide);
            }
            q.project(r)
        })
        .collect();
    body.insert("value".into(), Value::Array(value));
    if let Some(next) = &page.next {
        let link = here(
            req,
            &format!("{}?{}", req.path(), q.next_query(&token(next))),
        );
        body.insert("@odata.nextLink".into(), json!(link));
    }
    ok(Value::Object(body), unknown_members)
}

/// Whether to count: `$count=true` with `ConsistencyLevel: eventual`
/// (without the header Graph ignores `$count`, and so does the portal).
fn wants_count(req: &HttpRequest, q: &Query) -> bool {
    q.count && consistency_eventual(req)
}

fn bad_token() -> GraphFailure {
    QueryError::bad("The $skiptoken is not one this service made; start again from the first page.")
        .into()
}

// ---- userRegistrationDetails -------------------------------------------------------

const REGISTRATION_PROPERTIES: &[&str] = &[
    "id",
    "userPrincipalName",
    "userDisplayName",
    "userType",
    "isAdmin",
    "isSsprRegistered",
    "isSsprEnabled",
    "isSsprCapable",
    "isMfaRegistered",
    "isMfaCapable",
    "isPasswordlessCapable",
    "isSystemPreferredAuthenticationMethodEnabled",
    "lastUpdatedDateTime",
    "methodsRegistered",
    "systemPreferredAuthenticationMethods",
    "userPreferredMethodForSecondaryAuthentication",
    "defaultMfaMethod",
];

const REGISTRATIONS: Allowed = Allowed {
    type_name: "microsoft.graph.userRegistrationDetails",
    properties: REGISTRATION_PROPERTIES,
    filterable: REGISTRATION_PROPERTIES,
    sortable: &["userPrincipalName", "userDisplayName"],
    max_top: 999,
    default_top: 100,
};

/// The method fields whose values evolve.
const REGISTRATION_ENUMS: &[&str] = &[
    "methodsRegistered",
    "systemPreferredAuthenticationMethods",
    "userPreferredMethodForSecondaryAuthentication",
    "defaultMfaMethod",
];

/// The portal's own filter for what the top `and`s of a Graph filter
/// certainly require: a superset of the matches, read by the list's
/// indexed query; the Graph filter then decides each record.
fn narrowed(filter: Option<&Expr>) -> RegistrationFilter {
    let mut f = RegistrationFilter::default();
    let Some(filter) = filter else { return f };
    let tri = |b: bool| if b { Tristate::Yes } else { Tristate::No };
    for c in filter.conjuncts() {
        match c {
            Expr::Compare(path, Op::Eq, Literal::Bool(b)) if path.len() == 1 => {
                match path[0].as_str() {
                    "isSsprRegistered" => f.registered = tri(*b),
                    "isSsprEnabled" => f.enabled = tri(*b),
                    "isSsprCapable" => f.capable = tri(*b),
                    "isMfaCapable" => f.mfa_capable = tri(*b),
                    "isPasswordlessCapable" => f.passwordless_capable = tri(*b),
                    "isAdmin" => f.admin = tri(*b),
                    _ => {}
                }
            }
            Expr::Truthy(path) if path.len() == 1 => match path[0].as_str() {
                "isSsprRegistered" => f.registered = Tristate::Yes,
                "isSsprCapable" => f.capable = Tristate::Yes,
                "isMfaCapable" => f.mfa_capable = Tristate::Yes,
                "isAdmin" => f.admin = Tristate::Yes,
                _ => {}
            },
            // The names: the list's search (a substring of either name)
            // holds every user whose name equals or starts with the text.
            Expr::Compare(path, Op::Eq, Literal::Text(t)) | Expr::StartsWith(path, t)
                if path.len() == 1
                    && matches!(path[0].as_str(), "userPrincipalName" | "userDisplayName") =>
            {
                if let Ok(Some(search)) = crate::domain::filter::Search::parse("q", Some(t)) {
                    if search.typed() == t.as_str() {
                        f.search = Some(search);
                    }
                }
            }
            Expr::Compare(path, Op::Eq, Literal::Text(t)) if path == &["userType"] => {
                if t.eq_ignore_ascii_case("guest") {
                    f.user_type = Some(UserType::Guest);
                } else if t.eq_ignore_ascii_case("member") {
                    f.user_type = Some(UserType::Member);
                }
            }
            Expr::Any {
                path,
                var,
                body,
                every: false,
            } if path == &["methodsRegistered"] => {
                // any(m: m eq 'a' or m eq 'b'): users with any of those methods.
                let mut set = MethodSet::EMPTY;
                let mut exact = true;
                let mut stack = vec![body.as_ref()];
                while let Some(e) = stack.pop() {
                    match e {
                        Expr::Or(a, b) => {
                            stack.push(a);
                            stack.push(b);
                        }
                        Expr::Compare(p, Op::Eq, Literal::Text(name))
                            if p.as_slice() == std::slice::from_ref(var) =>
                        {
                            match methods_of(name) {
                                Some(ms) => ms.iter().for_each(|m| set.insert(m)),
                                None => exact = false,
                            }
                        }
                        _ => exact = false,
                    }
                }
                if exact && !set.is_empty() {
                    f.methods = set;
                }
            }
            _ => {}
        }
    }
    f
}

/// The user a filter's top `and`s pin by `id eq '…'`, if any.
fn pinned_id(filter: Option<&Expr>) -> Option<String> {
    filter?.conjuncts().into_iter().find_map(|c| match c {
        Expr::Compare(path, Op::Eq, Literal::Text(id)) if path == &["id"] => Some(id.clone()),
        _ => None,
    })
}

/// A user a filter pins: by id, or by principal name (unique ignoring case
/// in the directory: an exact hit is the one match, a miss falls back to
/// the search).
#[derive(Debug, Clone)]
enum Pin {
    Id(String),
    Upn(String),
}

fn pin_of(filter: Option<&Expr>) -> Option<Pin> {
    if let Some(id) = pinned_id(filter) {
        return Some(Pin::Id(id));
    }
    filter?.conjuncts().into_iter().find_map(|c| match c {
        Expr::Compare(path, Op::Eq, Literal::Text(upn)) if path == &["userPrincipalName"] => {
            Some(Pin::Upn(upn.clone()))
        }
        _ => None,
    })
}

fn registration_sort(q: &Query) -> Sort {
    match q.orderby.first() {
        Some((p, desc)) => Sort {
            field: if p == "userPrincipalName" {
                SortField::UserName
            } else {
                SortField::Name
            },
            descending: *desc,
        },
        None => Sort::default(),
    }
}

fn registration_fetcher(
    counts: Arc<CountCache>,
    filter: RegistrationFilter,
    pinned: Option<Pin>,
    sort: Sort,
) -> impl FnMut(&mut DbConnection, Option<&Cursor>, usize) -> Chunk<Cursor> {
    move |conn, after, size| {
        if let Some(pin) = &pinned {
            let found = match pin {
                Pin::Id(id) => reads::list_user(conn, id)?.into_iter().collect(),
                Pin::Upn(upn) => reads::list_users_by_upn(conn, upn)?,
            };
            // An id is looked up, and so is a principal name written as
            // stored: one lookup, one page.
            if matches!(pin, Pin::Id(_)) || !found.is_empty() {
                if after.is_some() {
                    return Ok((Vec::new(), false));
                }
                let rows = found
                    .iter()
                    .map(|u| (RegistrationPage::cursor(u, sort), registration_record(u)))
                    .collect();
                return Ok((rows, false));
            }
        }
        let counts: Counts<'_> = counts.read(conn)?;
        let query = RegistrationQuery {
            filter: filter.clone(),
            sort,
            size: PageSize::parse("size", Some(&size.min(PageSize::MAX as usize).to_string()))
                .map_err(|e| AppError::Internal(e.to_string()))?,
            position: after.map_or(PagePosition::First, |c| PagePosition::After(c.clone())),
        };
        let page = registration_page(conn, &counts, &query)?;
        let rows = page
            .users
            .iter()
            .map(|u| (RegistrationPage::cursor(u, sort), registration_record(u)))
            .collect();
        Ok((rows, page.has_next))
    }
}

/// A report handler with its OpenAPI entry: Graph's answers besides 200.
/// The route attribute is written out at each use, where the route table
/// test reads it.
macro_rules! graph_path {
    (#[$route:meta] $(#[$doc:meta])* $name:ident => $answer:ident, $path:literal, $body:ty, $what:literal, [$($param:tt)*]) => {
        $(#[$doc])*
        #[utoipa::path(
            get,
            path = $path,
            tag = "graph",
            params(
                ("version" = schema::GraphVersion, Path, description = "`v1.0` or `beta`."),
                $($param)*
            ),
            responses(
                (status = 200, description = $what, body = $body),
                (status = 400, description = "A query option this resource refuses, or one not understood; `error.code` is Graph's (`BadRequest`, `Request_UnsupportedQuery`).", body = GraphErrorBody),
                (status = 401, description = "No valid API key or session (`InvalidAuthenticationToken`).", body = GraphErrorBody),
                (status = 403, description = "The key has no read scope (`Authorization_RequestDenied`).", body = GraphErrorBody),
                (status = 404, description = "No such version, resource or record (`Request_ResourceNotFound`).", body = GraphErrorBody),
                (status = 503, description = "The database cannot be reached (`serviceNotAvailable`).", body = GraphErrorBody),
            )
        )]
        #[$route]
        pub async fn $name(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
            let result = $answer(state, &req).await;
            answer(&req, result)
        }
    };
}

graph_path!(
    #[get("/graph/{version}/reports/authenticationMethods/userRegistrationDetails", wrap = "from_fn(auth::graph_reader)")]
    /// Users with their registration and SSPR status, as Graph's
    /// `userRegistrationDetails`.
    registration_details => reports_answer,
    "/graph/{version}/reports/authenticationMethods/userRegistrationDetails",
    schema::UserRegistrationDetailsCollection,
    "A page of userRegistrationDetails.",
    [
        ("$filter" = Option<String>, Query, description = "OData filter on any property: eq, ne, gt, ge, lt, le, and, or, not, startswith(userPrincipalName, 'a'), methodsRegistered/any(m: m eq 'email')."),
        ("$select" = Option<String>, Query, description = "Properties to return, comma-separated."),
        ("$top" = Option<u32>, Query, description = "Page size, 1 to 999 (default 100)."),
        ("$orderby" = Option<String>, Query, description = "userPrincipalName or userDisplayName, asc or desc."),
        ("$count" = Option<bool>, Query, description = "With the header ConsistencyLevel: eventual, adds `@odata.count`."),
        ("$skiptoken" = Option<String>, Query, description = "A next page's position, from `@odata.nextLink`."),
        ("Prefer" = Option<String>, Header, description = "`include-unknown-enum-members`: method names newer than `unknownFutureValue` as they are."),
        ("ConsistencyLevel" = Option<String>, Header, description = "`eventual`, for `$count`."),
    ]
);

graph_path!(
    #[get("/graph/{version}/reports/authenticationMethods/userEventsSummary", wrap = "from_fn(auth::graph_reader)")]
    /// Registration and reset verifications, one per method, as Graph's beta
    /// `userEventsSummary` (`id` is the user's). Beta only.
    events_summary_route => reports_answer,
    "/graph/{version}/reports/authenticationMethods/userEventsSummary",
    schema::UserEventsSummaryCollection,
    "A page of userEventsSummary, newest first.",
    [
        ("$filter" = Option<String>, Query, description = "OData filter on feature, isSuccess, failureReason, authMethod, userDisplayName, userPrincipalName, id, eventDateTime."),
        ("$select" = Option<String>, Query, description = "Properties to return."),
        ("$top" = Option<u32>, Query, description = "Page size, 1 to 1000 (default 1000)."),
        ("$orderby" = Option<String>, Query, description = "eventDateTime asc or desc."),
        ("$count" = Option<bool>, Query, description = "With ConsistencyLevel: eventual, adds `@odata.count`."),
        ("$skiptoken" = Option<String>, Query, description = "A next page's position."),
        ("Prefer" = Option<String>, Header, description = "`include-unknown-enum-members`."),
        ("ConsistencyLevel" = Option<String>, Header, description = "`eventual`, for `$count`."),
    ]
);

graph_path!(
    #[get(
        "/graph/{version}/reports/authenticationMethods/usersRegisteredByFeature",
        wrap = "from_fn(auth::graph_reader)"
    )]
    /// How many users are registered, enabled and capable, as Graph's
    /// `usersRegisteredByFeature` (for all users and roles; the function
    /// form `usersRegisteredByFeature(includedUserTypes='…',includedUserRoles='…')`
    /// narrows them).
    feature_summary => reports_answer,
    "/graph/{version}/reports/authenticationMethods/usersRegisteredByFeature",
    schema::FeatureSummary,
    "The userRegistrationFeatureSummary.",
    []
);

graph_path!(
    #[get(
        "/graph/{version}/reports/authenticationMethods/usersRegisteredByMethod",
        wrap = "from_fn(auth::graph_reader)"
    )]
    /// How many users have each method, as Graph's `usersRegisteredByMethod`
    /// (the function form narrows by user type and role).
    method_summary => reports_answer,
    "/graph/{version}/reports/authenticationMethods/usersRegisteredByMethod",
    schema::MethodSummary,
    "The userRegistrationMethodSummary.",
    []
);

/// The OpenAPI entry of a summary's function form, as Microsoft documents
/// its request (served by [`report_function`]).
macro_rules! function_doc {
    ($(#[$doc:meta])* $name:ident, $path:literal, $body:ty, $what:literal) => {
        $(#[$doc])*
        #[utoipa::path(
            get,
            path = $path,
            tag = "graph",
            params(
                ("version" = schema::GraphVersion, Path, description = "`v1.0` or `beta`."),
                ("includedUserTypes" = schema::IncludedUserTypes, Path, description = "Which users: all, members or guests."),
                ("includedUserRoles" = schema::IncludedUserRoles, Path, description = "Which roles: all, administrators (privilegedAdmin and admin alike: the portal knows whether a user holds an administrator role, not which) or other users."),
            ),
            responses(
                (status = 200, description = $what, body = $body),
                (status = 400, description = "A parameter value Graph does not list, or a query option (`BadRequest`).", body = GraphErrorBody),
                (status = 401, description = "No valid API key or session (`InvalidAuthenticationToken`).", body = GraphErrorBody),
                (status = 403, description = "The key has no read scope (`Authorization_RequestDenied`).", body = GraphErrorBody),
                (status = 404, description = "No such version (`Request_ResourceNotFound`).", body = GraphErrorBody),
                (status = 503, description = "The database cannot be reached (`serviceNotAvailable`).", body = GraphErrorBody),
            )
        )]
        #[allow(dead_code)]
        pub fn $name() {}
    };
}

function_doc!(
    /// `usersRegisteredByFeature(includedUserTypes='…',includedUserRoles='…')`.
    feature_function,
    "/graph/{version}/reports/authenticationMethods/usersRegisteredByFeature(includedUserTypes='{includedUserTypes}',includedUserRoles='{includedUserRoles}')",
    schema::FeatureSummary,
    "The userRegistrationFeatureSummary of those users."
);

function_doc!(
    /// `usersRegisteredByMethod(includedUserTypes='…',includedUserRoles='…')`.
    method_function,
    "/graph/{version}/reports/authenticationMethods/usersRegisteredByMethod(includedUserTypes='{includedUserTypes}',includedUserRoles='{includedUserRoles}')",
    schema::MethodSummary,
    "The userRegistrationMethodSummary of those users."
);

/// `usersRegisteredByFeature(includedUserTypes='…',includedUserRoles='…')`
/// and `usersRegisteredByMethod(…)`, the function forms of the summaries
/// (and a Graph 404 for any other segment).
#[get(
    "/graph/{version}/reports/authenticationMethods/{function}",
    wrap = "from_fn(auth::graph_reader)"
)]
pub async fn report_function(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let result = reports_answer(state, &req).await;
    answer(&req, result)
}

async fn reports_answer(state: web::Data<AppState>, req: &HttpRequest) -> Answer {
    let version = version(req)?;
    let resource = req
        .path()
        .rsplit('/')
        .next()
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    let (name, args) = match resource.split_once('(') {
        Some((name, rest)) => match rest.strip_suffix(')') {
            Some(args) => (name.to_string(), Some(args.to_string())),
            None => {
                return Err(QueryError::bad(format!(
                    "The function call '{resource}' is not closed with ')'."
                ))
                .into())
            }
        },
        None => (resource.clone(), None),
    };
    match (name.as_str(), args) {
        ("userRegistrationDetails", None) => registration_list(state, req, version).await,
        ("userEventsSummary", None) if version == "beta" => events_summary(state, req).await,
        ("usersRegisteredByFeature", args) => summary(state, req, version, true, args).await,
        ("usersRegisteredByMethod", args) => summary(state, req, version, false, args).await,
        _ => Err(GraphFailure::NotFound(format!(
            "Resource not found for the segment '{resource}'."
        ))),
    }
}

async fn registration_list(
    state: web::Data<AppState>,
    req: &HttpRequest,
    version: &'static str,
) -> Answer {
    let q = Query::parse(req.query_string(), &REGISTRATIONS)?;
    let start = match &q.skiptoken {
        Some(t) => Some(Cursor::parse("$skiptoken", t).map_err(|_| bad_token())?),
        None => None,
    };
    let size = q.page_size(&REGISTRATIONS);
    let filter = narrowed(q.filter.as_ref());
    let pinned = pin_of(q.filter.as_ref());
    let sort = registration_sort(&q);
    let expr = q.filter.clone();
    let counts = state.counts.clone();
    let count = wants_count(req, &q);
    let page = state
        .db(move |conn| {
            let mut fetch =
                registration_fetcher(counts.clone(), filter.clone(), pinned.clone(), sort);
            let (records, next) = collect(conn, expr.as_ref(), start, size, &mut fetch)?;
            let count = if count {
                let mut fetch = registration_fetcher(counts, filter, pinned, sort);
                Some(count_all(conn, expr.as_ref(), &mut fetch)?)
            } else {
                None
            };
            Ok(Page {
                records,
                next,
                count,
            })
        })
        .await?;
    let ctx = context(
        req,
        version,
        "reports/authenticationMethods/userRegistrationDetails",
        &q.select,
    );
    Ok(list_answer(
        req,
        &q,
        ctx,
        page,
        Cursor::encode,
        REGISTRATION_ENUMS,
        wants_unknown_members(req),
    ))
}

graph_path!(
    #[get("/graph/{version}/reports/authenticationMethods/userRegistrationDetails/{id}", wrap = "from_fn(auth::graph_reader)")]
    /// One user's registration details.
    registration_one => registration_one_answer,
    "/graph/{version}/reports/authenticationMethods/userRegistrationDetails/{id}",
    schema::UserRegistrationDetailsEntity,
    "The user's userRegistrationDetails, with `@odata.context` (`…/$entity`). No query option is taken, as documented.",
    [
        ("id" = String, Path, description = "The user's directory id."),
        ("Prefer" = Option<String>, Header, description = "`include-unknown-enum-members`."),
    ]
);

async fn registration_one_answer(state: web::Data<AppState>, req: &HttpRequest) -> Answer {
    let version = version(req)?;
    if !req.query_string().is_empty() {
        return Err(
            QueryError::bad("This resource does not support OData query parameters.").into(),
        );
    }
    let id = req.match_info().get("id").unwrap_or_default().to_string();
    let wanted = id.clone();
    let user = state
        .db(move |conn| Ok(reads::list_user(conn, &wanted)?))
        .await?;
    let Some(user) = user else {
        return Err(GraphFailure::NotFound(format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        )));
    };
    let mut record = registration_record(&user);
    let unknown = wants_unknown_members(req);
    if !unknown {
        hide_evolved(&mut record, REGISTRATION_ENUMS);
    }
    let mut body = serde_json::Map::new();
    body.insert(
        "@odata.context".into(),
        json!(here(
            req,
            &format!(
                "{BASE}/{version}/$metadata#reports/authenticationMethods/userRegistrationDetails/$entity"
            )
        )),
    );
    if let Value::Object(fields) = record {
        body.extend(fields);
    }
    Ok(ok(Value::Object(body), unknown))
}

// ---- the registration summaries ------------------------------------------------

/// `includedUserTypes` and `includedUserRoles` of a summary function.
fn summary_args(args: Option<&str>) -> Result<(String, String), GraphFailure> {
    let (mut types, mut roles) = ("all".to_string(), "all".to_string());
    let Some(args) = args.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok((types, roles));
    };
    for part in args.split(',') {
        let Some((name, value)) = part.split_once('=') else {
            return Err(QueryError::bad(format!(
                "The function parameter '{part}' is not name='value'."
            ))
            .into());
        };
        let value = value.trim().trim_matches('\'').to_string();
        match name.trim() {
            "includedUserTypes" if ["all", "member", "guest"].contains(&value.as_str()) => {
                types = value
            }
            "includedUserRoles"
                if ["all", "privilegedAdmin", "admin", "user"].contains(&value.as_str()) =>
            {
                roles = value
            }
            "includedUserTypes" => {
                return Err(QueryError::bad(format!(
                    "The value '{value}' is not valid for includedUserTypes: all, member or guest."
                ))
                .into())
            }
            "includedUserRoles" => {
                return Err(QueryError::bad(format!(
                    "The value '{value}' is not valid for includedUserRoles: all, privilegedAdmin, admin or user."
                ))
                .into())
            }
            other => {
                return Err(QueryError::bad(format!(
                    "The function has no parameter '{other}'; it takes includedUserTypes and includedUserRoles."
                ))
                .into())
            }
        }
    }
    Ok((types, roles))
}

async fn summary(
    state: web::Data<AppState>,
    req: &HttpRequest,
    version: &'static str,
    by_feature: bool,
    args: Option<String>,
) -> Answer {
    if !req.query_string().is_empty() {
        return Err(
            QueryError::bad("This function does not support OData query parameters.").into(),
        );
    }
    let (types, roles) = summary_args(args.as_deref())?;
    let counts = state.counts.clone();
    let rows = state
        .db(move |conn| {
            let counts = counts.read(conn)?;
            Ok(counts.status_rows(conn)?)
        })
        .await?;
    let unknown = wants_unknown_members(req);
    let admitted = rows.iter().filter(|r| {
        let k = &r.key;
        let type_ok = match types.as_str() {
            "member" => !k.is_guest,
            "guest" => k.is_guest,
            _ => true,
        };
        // The portal knows whether a user holds an administrator role, not
        // which: privilegedAdmin and admin both read as holding one.
        let role_ok = match roles.as_str() {
            "admin" | "privilegedAdmin" => k.is_admin,
            "user" => !k.is_admin,
            _ => true,
        };
        type_ok && role_ok
    });
    let mut total: i64 = 0;
    let mut body = serde_json::Map::new();
    if by_feature {
        let mut n = [0i64; 5];
        for r in admitted {
            total += r.users;
            let s = r.key.status;
            for (i, on) in [
                s.registered,
                s.enabled,
                s.capable,
                s.passwordless_capable,
                s.mfa_capable,
            ]
            .into_iter()
            .enumerate()
            {
                if on {
                    n[i] += r.users;
                }
            }
        }
        let names = [
            "ssprRegistered",
            "ssprEnabled",
            "ssprCapable",
            "passwordlessCapable",
            "mfaCapable",
        ];
        body.insert(
            "@odata.context".into(),
            json!(context(
                req,
                version,
                "microsoft.graph.userRegistrationFeatureSummary",
                &None
            )),
        );
        body.insert(
            "@odata.type".into(),
            json!("#microsoft.graph.userRegistrationFeatureSummary"),
        );
        body.insert("totalUserCount".into(), json!(total));
        body.insert("userTypes".into(), json!(types));
        body.insert("userRoles".into(), json!(roles));
        body.insert(
            "userRegistrationFeatureCounts".into(),
            Value::Array(
                names
                    .iter()
                    .zip(n)
                    .map(|(f, c)| json!({"feature": f, "userCount": c}))
                    .collect(),
            ),
        );
    } else {
        // Users per Graph method name, "password" for every user (each
        // account has one), then in the catalogue's order.
        let mut by_name: Vec<(String, i64)> = vec![("password".into(), 0)];
        for m in crate::domain::Method::ALL {
            if let Some(name) = registration_name(m) {
                let shown = if !unknown && EVOLVED_METHODS.contains(&name) {
                    UNKNOWN_FUTURE_VALUE
                } else {
                    name
                };
                if !by_name.iter().any(|(n, _)| n == shown) {
                    by_name.push((shown.to_string(), 0));
                }
            }
        }
        for r in admitted {
            total += r.users;
            by_name[0].1 += r.users;
            for name in methods_registered(r.key.methods_mask, &[]) {
                let shown = if !unknown && EVOLVED_METHODS.contains(&name.as_str()) {
                    UNKNOWN_FUTURE_VALUE.to_string()
                } else {
                    name
                };
                match by_name.iter_mut().find(|(n, _)| *n == shown) {
                    Some(entry) => entry.1 += r.users,
                    None => by_name.push((shown, r.users)),
                }
            }
        }
        // Names a source gave that the portal does not know are counted as
        // other methods, not by name: the summary lists the methods it counts.
        by_name.retain(|(n, c)| n == "password" || *c > 0);
        body.insert(
            "@odata.context".into(),
            json!(context(
                req,
                version,
                "microsoft.graph.userRegistrationMethodSummary",
                &None
            )),
        );
        body.insert(
            "@odata.type".into(),
            json!("#microsoft.graph.userRegistrationMethodSummary"),
        );
        body.insert("totalUserCount".into(), json!(total));
        body.insert("userTypes".into(), json!(types));
        body.insert("userRoles".into(), json!(roles));
        body.insert(
            "userRegistrationMethodCounts".into(),
            Value::Array(
                by_name
                    .into_iter()
                    .map(|(m, c)| json!({"authenticationMethod": m, "userCount": c}))
                    .collect(),
            ),
        );
    }
    Ok(ok(Value::Object(body), unknown))
}

// ---- userEventsSummary (beta) ------------------------------------------------------

const EVENT_PROPERTIES: &[&str] = &[
    "id",
    "feature",
    "userPrincipalName",
    "userDisplayName",
    "isSuccess",
    "authMethod",
    "failureReason",
    "eventDateTime",
];

const EVENTS: Allowed = Allowed {
    type_name: "microsoft.graph.userEventsSummary",
    properties: EVENT_PROPERTIES,
    filterable: EVENT_PROPERTIES,
    sortable: &["eventDateTime"],
    max_top: 1000,
    default_top: 1000,
};

/// The members of `usageAuthMethod` after `unknownFutureValue`.
const EVOLVED_USAGE: &[&str] = &[
    "externalAuthMethod",
    "hardwareOneTimePasscode",
    "windowsHelloForBusiness",
    "microsoftAuthenticatorPasswordless",
    "temporaryAccessPass",
    "macOsSecureEnclaveKey",
    "passKeyDeviceBound",
    "passKeyDeviceBoundAuthenticator",
    "passKeyDeviceBoundWindowsHello",
    "softwareOneTimePasscode",
    "microsoftAuthenticatorPush",
    "mobilePhone",
    "sms",
    "alternateMobilePhone",
    "fido2SecurityKey",
    "oneTimePasscode",
    "passKeySynced",
    "qrCode",
];

/// The span a filter's top `and`s put on a time property: a superset, the
/// filter decides each record; `widen` reaches back for records grouped
/// under an earlier time.
fn span_of(filter: Option<&Expr>, property: &str, widen: Duration) -> Span {
    let mut span = Span::default();
    let Some(filter) = filter else { return span };
    for c in filter.conjuncts() {
        if let Expr::Compare(path, op, Literal::Time(t)) = c {
            if path.len() != 1 || path[0] != property {
                continue;
            }
            let t: NaiveDateTime = t.naive_utc();
            match op {
                Op::Ge | Op::Gt => span.from = Some(span.from.map_or(t, |f| f.max(t)) - widen),
                Op::Le | Op::Lt => span.to = Some(span.to.map_or(t, |x| x.min(t))),
                Op::Eq => {
                    span.from = Some(t - widen);
                    span.to = Some(t);
                }
                Op::Ne => {}
            }
        }
    }
    span
}

fn time_token(key: &TimeKey) -> String {
    Cursor::for_time(key.0, &key.1).encode()
}

fn parse_time_token(token: &str) -> Result<TimeKey, GraphFailure> {
    let c = Cursor::parse("$skiptoken", token).map_err(|_| bad_token())?;
    let t = c.time("$skiptoken").map_err(|_| bad_token())?;
    Ok((t, c.id))
}

fn newest_first(q: &Query) -> bool {
    q.orderby.first().is_none_or(|(_, desc)| *desc)
}

async fn events_summary(state: web::Data<AppState>, req: &HttpRequest) -> Answer {
    let q = Query::parse(req.query_string(), &EVENTS)?;
    let start = q.skiptoken.as_deref().map(parse_time_token).transpose()?;
    let size = q.page_size(&EVENTS);
    let mut span = span_of(q.filter.as_ref(), "eventDateTime", Duration::zero());
    // `id eq '…'` is the user's id: that user's events only.
    span.user = pinned_id(q.filter.as_ref()).map(Some);
    let desc = newest_first(&q);
    let expr = q.filter.clone();
    let count = wants_count(req, &q);
    let modern = wants_unknown_members(req);
    let page = state
        .db(move |conn| {
            let mut fetch =
                |conn: &mut DbConnection, after: Option<&TimeKey>, n: usize| -> Chunk<TimeKey> {
                    let rows = reads::events_with_names(conn, &span, after, desc, n as i64 + 1)?;
                    let more = rows.len() > n;
                    Ok((
                        rows.iter()
                            .take(n)
                            .map(|e| {
                                (
                                    (e.event.occurred_at, e.event.id.clone()),
                                    event_record(e, modern),
                                )
                            })
                            .collect(),
                        more,
                    ))
                };
            let (records, next) = collect(conn, expr.as_ref(), start, size, &mut fetch)?;
            let count = if count {
                Some(count_all(conn, expr.as_ref(), &mut fetch)?)
            } else {
                None
            };
            Ok(Page {
                records,
                next,
                count,
            })
        })
        .await?;
    let ctx = context(
        req,
        "beta",
        "reports/authenticationMethods/userEventsSummary",
        &q.select,
    );
    let unknown = wants_unknown_members(req);
    let mut page = page;
    if !unknown {
        for r in &mut page.records {
            if let Some(Value::String(m)) = r.get_mut("authMethod") {
                if EVOLVED_USAGE.contains(&m.as_str()) {
                    *m = UNKNOWN_FUTURE_VALUE.to_string();
                }
            }
        }
    }
    Ok(list_answer(req, &q, ctx, page, time_token, &[], unknown))
}

// ---- auditLogs/directoryAudits ----------------------------------------------------------

const AUDIT_PROPERTIES: &[&str] = &[
    "id",
    "category",
    "correlationId",
    "result",
    "resultReason",
    "activityDisplayName",
    "activityDateTime",
    "loggedByService",
    "operationType",
    "initiatedBy",
    "targetResources",
    "additionalDetails",
];

const AUDITS: Allowed = Allowed {
    type_name: "microsoft.graph.directoryAudit",
    properties: AUDIT_PROPERTIES,
    filterable: &[
        "id",
        "category",
        "correlationId",
        "result",
        "activityDisplayName",
        "activityDateTime",
        "loggedByService",
        "initiatedBy",
        "targetResources",
    ],
    sortable: &["activityDateTime"],
    max_top: 999,
    default_top: 100,
};

/// How far before a filter's start an activity may begin and still have
/// entries inside it: a flow lasts minutes, and the sync asks an hour
/// before its window for the same reason. The entries of a registration
/// or reset that began longer before a filter's start are not read.
const FLOW_SPAN: Duration = Duration::hours(1);

/// The user a filter's top `and`s pin an audit entry to (by the initiator's
/// or the target's id): that user's activities only, and for the all-zero
/// id those of no known user.
fn audit_user(filter: Option<&Expr>) -> Option<Option<String>> {
    const NOBODY: &str = "00000000-0000-0000-0000-000000000000";
    let pinned = |id: &str| Some(Some(id.to_string()).filter(|id| id != NOBODY));
    filter?.conjuncts().into_iter().find_map(|c| match c {
        Expr::Compare(path, Op::Eq, Literal::Text(id))
            if path == &["initiatedBy", "user", "id"] =>
        {
            pinned(id)
        }
        Expr::Any {
            path,
            var,
            body,
            every: false,
        } if path == &["targetResources"] => match body.as_ref() {
            Expr::Compare(p, Op::Eq, Literal::Text(id))
                if p.len() == 2 && &p[0] == var && p[1] == "id" =>
            {
                pinned(id)
            }
            _ => None,
        },
        _ => None,
    })
}

/// The features of an audit service, for narrowing the activities read by
/// a filter's `loggedByService eq '…'`.
fn service_features(filter: Option<&Expr>) -> Option<&'static [i32]> {
    use crate::ingest::graph::{AUTHENTICATION_METHODS_SERVICE, SSPR_SERVICE};
    const REGISTRATION: &[i32] = &[crate::domain::Feature::Registration.code()];
    const RESET: &[i32] = &[
        crate::domain::Feature::Reset.code(),
        crate::domain::Feature::Unlock.code(),
    ];
    filter?.conjuncts().into_iter().find_map(|c| match c {
        Expr::Compare(path, Op::Eq, Literal::Text(service)) if path == &["loggedByService"] => {
            if service.eq_ignore_ascii_case(AUTHENTICATION_METHODS_SERVICE) {
                Some(REGISTRATION)
            } else if service.eq_ignore_ascii_case(SSPR_SERVICE) {
                Some(RESET)
            } else {
                Some(&[][..])
            }
        }
        _ => None,
    })
}

/// A position in the audit log: the activity and how many of its entries
/// were served.
#[derive(Debug, Clone)]
struct AuditKey {
    activity: TimeKey,
    served: usize,
}

fn audit_token(k: &AuditKey) -> String {
    Cursor {
        value: format!(
            "{}|{}",
            k.activity.0.format("%Y-%m-%dT%H:%M:%S%.f"),
            k.served
        ),
        id: k.activity.1.clone(),
    }
    .encode()
}

fn parse_audit_token(token: &str) -> Result<AuditKey, GraphFailure> {
    let c = Cursor::parse("$skiptoken", token).map_err(|_| bad_token())?;
    let (time, served) = c.value.rsplit_once('|').ok_or_else(bad_token)?;
    let t = NaiveDateTime::parse_from_str(time, "%Y-%m-%dT%H:%M:%S%.f").map_err(|_| bad_token())?;
    let served: usize = served.parse().map_err(|_| bad_token())?;
    Ok(AuditKey {
        activity: (t, c.id),
        served,
    })
}

graph_path!(
    #[get("/graph/{version}/auditLogs/directoryAudits", wrap = "from_fn(auth::graph_reader)")]
    /// The stored registrations and password resets written out as the
    /// audit entries they were read from.
    directory_audits => audits_answer,
    "/graph/{version}/auditLogs/directoryAudits",
    schema::DirectoryAuditCollection,
    "A page of directoryAudit.",
    [
        ("$filter" = Option<String>, Query, description = "OData filter on activityDisplayName, activityDateTime, loggedByService, correlationId, id, category, result, initiatedBy/user/…, targetResources/any(t: t/id eq '…')."),
        ("$select" = Option<String>, Query, description = "Properties to return."),
        ("$top" = Option<u32>, Query, description = "Page size, 1 to 999."),
        ("$orderby" = Option<String>, Query, description = "activityDateTime asc or desc (default: newest first)."),
        ("$count" = Option<bool>, Query, description = "With ConsistencyLevel: eventual, adds `@odata.count`."),
        ("$skiptoken" = Option<String>, Query, description = "The position of a next page."),
    ]
);

async fn audits_answer(state: web::Data<AppState>, req: &HttpRequest) -> Answer {
    let version = version(req)?;
    let q = Query::parse(req.query_string(), &AUDITS)?;
    let start = q.skiptoken.as_deref().map(parse_audit_token).transpose()?;
    let size = q.page_size(&AUDITS);
    let mut span = span_of(q.filter.as_ref(), "activityDateTime", FLOW_SPAN);
    span.features = service_features(q.filter.as_ref());
    span.user = audit_user(q.filter.as_ref());
    let desc = newest_first(&q);
    let expr = q.filter.clone();
    let count = wants_count(req, &q);
    let page = state
        .db(move |conn| {
            // Activities are read whole; a position inside one serves the
            // rest of its entries first.
            let mut fetch =
                |conn: &mut DbConnection, after: Option<&AuditKey>, n: usize| -> Chunk<AuditKey> {
                    let mut rows = Vec::new();
                    let entries_of =
                        |activity: &crate::db::models::Activity,
                         events: &[crate::db::models::MethodEvent]| {
                            let mut entries = audit_entries(activity, events);
                            if desc {
                                entries.reverse();
                            }
                            entries
                        };
                    if let Some(k) = after.filter(|k| k.served > 0) {
                        let at = Span {
                            from: Some(k.activity.0),
                            to: Some(k.activity.0),
                            ..Span::default()
                        };
                        let same = reads::activities_with_events(conn, &at, None, desc, 10_000)?;
                        if let Some((activity, events)) =
                            same.iter().find(|(a, _)| a.id == k.activity.1)
                        {
                            for (j, entry) in entries_of(activity, events)
                                .into_iter()
                                .enumerate()
                                .skip(k.served)
                            {
                                rows.push((
                                    AuditKey {
                                        activity: k.activity.clone(),
                                        served: j + 1,
                                    },
                                    entry,
                                ));
                            }
                        }
                    }
                    let limit = n.div_ceil(4).max(1);
                    let found = reads::activities_with_events(
                        conn,
                        &span,
                        after.map(|k| &k.activity),
                        desc,
                        limit as i64 + 1,
                    )?;
                    let more = found.len() > limit;
                    for (activity, events) in found.iter().take(limit) {
                        for (j, entry) in entries_of(activity, events).into_iter().enumerate() {
                            rows.push((
                                AuditKey {
                                    activity: (activity.occurred_at, activity.id.clone()),
                                    served: j + 1,
                                },
                                entry,
                            ));
                        }
                    }
                    Ok((rows, more))
                };
            let (records, next) = collect(conn, expr.as_ref(), start, size, &mut fetch)?;
            let count = if count {
                Some(count_all(conn, expr.as_ref(), &mut fetch)?)
            } else {
                None
            };
            Ok(Page {
                records,
                next,
                count,
            })
        })
        .await?;
    let ctx = context(req, version, "auditLogs/directoryAudits", &q.select);
    Ok(list_answer(
        req,
        &q,
        ctx,
        page,
        audit_token,
        &[],
        wants_unknown_members(req),
    ))
}

// ---- users ----------------------------------------------------------------------------

const USERS: Allowed = Allowed {
    type_name: "microsoft.graph.user",
    properties: &[
        "id",
        "displayName",
        "userPrincipalName",
        "accountEnabled",
        "userType",
    ],
    filterable: &[
        "id",
        "displayName",
        "userPrincipalName",
        "accountEnabled",
        "userType",
    ],
    sortable: &[],
    max_top: 999,
    default_top: 100,
};

graph_path!(
    #[get("/graph/{version}/users", wrap = "from_fn(auth::graph_reader)")]
    /// The directory's users (id, names, whether enabled, member or
    /// guest), for `authinsights sync` from another portal.
    users => users_answer,
    "/graph/{version}/users",
    schema::UserCollection,
    "A page of user.",
    [
        ("$filter" = Option<String>, Query, description = "OData filter on id, displayName, userPrincipalName, accountEnabled, userType."),
        ("$select" = Option<String>, Query, description = "Of id, displayName, userPrincipalName, accountEnabled, userType and Graph's other default properties (empty: the portal does not keep them). Without it, Graph's default set."),
        ("$top" = Option<u32>, Query, description = "Page size, 1 to 999 (default 100)."),
        ("$count" = Option<bool>, Query, description = "With ConsistencyLevel: eventual, adds `@odata.count`."),
        ("$skiptoken" = Option<String>, Query, description = "The position of a next page."),
    ]
);

async fn users_answer(state: web::Data<AppState>, req: &HttpRequest) -> Answer {
    let version = version(req)?;
    let mut q = Query::parse(req.query_string(), &USERS)?;
    let start = q.skiptoken.clone();
    let size = q.page_size(&USERS);
    let expr = q.filter.clone();
    let count = wants_count(req, &q);
    let page = state
        .db(move |conn| {
            let mut fetch =
                |conn: &mut DbConnection, after: Option<&String>, n: usize| -> Chunk<String> {
                    let rows =
                        reads::directory_users(conn, after.map(String::as_str), n as i64 + 1)?;
                    let more = rows.len() > n;
                    Ok((
                        rows.iter()
                            .take(n)
                            .map(|u| (u.id.clone(), user_record(u)))
                            .collect(),
                        more,
                    ))
                };
            let (records, next) = collect(conn, expr.as_ref(), start, size, &mut fetch)?;
            let count = if count {
                Some(count_all(conn, expr.as_ref(), &mut fetch)?)
            } else {
                None
            };
            Ok(Page {
                records,
                next,
                count,
            })
        })
        .await?;
    let ctx = context(req, version, "users", &q.select);
    if q.select.is_none() {
        // Graph's default set, of the properties the portal holds.
        q.fallback_select = Some(
            USER_DEFAULT_PROPERTIES
                .iter()
                .map(|p| p.to_string())
                .collect(),
        );
    }
    Ok(list_answer(
        req,
        &q,
        ctx,
        page,
        |k: &String| k.clone(),
        &[],
        false,
    ))
}

/// What no route under `/graph` answers: Graph's 405 for a method a
/// resource does not take (`allow`: the methods it does take), else its
/// 404 naming the segment.
pub fn unmatched(req: &HttpRequest, allow: Option<&'static str>) -> HttpResponse {
    if let Some(allow) = allow {
        let mut response = graph_error(
            req.headers(),
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        );
        response.headers_mut().insert(
            actix_web::http::header::ALLOW,
            actix_web::http::header::HeaderValue::from_static(allow),
        );
        return response;
    }
    let segment = req.path().rsplit('/').next().unwrap_or_default();
    graph_error(
        req.headers(),
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!("Resource not found for the segment '{segment}'."),
    )
}

/// Every route of the Graph-compatible endpoints.
pub fn routes(cfg: &mut web::ServiceConfig) {
    // The named resources before `{function}`: the first route that
    // matches answers.
    cfg.service(registration_one)
        .service(registration_details)
        .service(events_summary_route)
        .service(feature_summary)
        .service(method_summary)
        .service(report_function)
        .service(directory_audits)
        .service(users);
}
