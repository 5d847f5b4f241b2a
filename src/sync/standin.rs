//! A stand-in for Microsoft Graph and its sign-in endpoint, built from the
//! request and response shapes Microsoft documents: the client-credentials
//! token endpoint, `users`, a group and its `transitiveMembers`,
//! `userRegistrationDetails`, `directoryAudits` (with its `$filter` on
//! service and time) and the beta `userEventsSummary`, in pages linked by
//! `@odata.nextLink`, with `Prefer: include-unknown-enum-members` honoured.
//!
//! It serves a generated tenant ([`Tenant::generate`]) and can be told to
//! misbehave ([`Fault`]): throttle, fail, expire a token, send a bad page,
//! loop its links or hang. Every request is logged. The tests run the
//! connector against it; `authinsights graph-standin` serves it for trying
//! the connector without a tenant and for measuring a sync.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use chrono::{Duration, NaiveDateTime, SubsecRound};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

/// The app registration the stand-in accepts.
pub const TENANT_ID: &str = "contoso.example";
pub const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
pub const CLIENT_SECRET: &str = "stand-in secret value";
/// The SSPR group of the generated tenant.
pub const GROUP_ID: &str = "0e0e0e0e-5599-4000-8000-000000000001";
pub const GROUP_NAME: &str = "SSPR pilot";

/// Method names newer than `unknownFutureValue` in Graph's enumerations:
/// without `Prefer: include-unknown-enum-members` they read
/// `unknownFutureValue`.
const EVOLVED_METHODS: [&str; 3] = [
    "passKeyDeviceBound",
    "macOsSecureEnclaveKey",
    "passKeySynced",
];

/// The data the stand-in serves: Graph records as Graph writes them.
#[derive(Debug, Clone, Default)]
pub struct Tenant {
    pub users: Vec<Value>,
    pub group: Value,
    pub members: Vec<Value>,
    pub registration_details: Vec<Value>,
    pub audits: Vec<Value>,
    pub events_summary: Vec<Value>,
}

fn graph_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Tenant {
    /// A tenant of `users` users, the same for the same arguments: a mix
    /// of members and guests, enabled and disabled accounts, registered
    /// and unregistered users with classic and modern methods, the SSPR
    /// group (two thirds of the users, one of them through a nested group),
    /// password resets and registrations in the audit log over the 20 days
    /// before `now`, and the events summary.
    pub fn generate(users: usize, now: NaiveDateTime) -> Tenant {
        let now = now.trunc_subsecs(0);
        let methods: [&[&str]; 6] = [
            &[],
            &["mobilePhone"],
            &["microsoftAuthenticatorPush", "softwareOneTimePasscode"],
            &["email", "mobilePhone"],
            &["passKeyDeviceBound", "microsoftAuthenticatorPush"],
            &["securityQuestion", "email", "macOsSecureEnclaveKey"],
        ];
        let mut tenant = Tenant {
            group: json!({"id": GROUP_ID, "displayName": GROUP_NAME}),
            ..Tenant::default()
        };
        for i in 0..users {
            let id = format!("{:08x}-0000-4000-8000-{:012x}", 0x5a5a_0000u32, i);
            let upn = format!("user{i}@contoso.example");
            let name = format!("User {i}");
            let guest = i % 50 == 49;
            let user_type = if guest { "guest" } else { "member" };
            tenant.users.push(json!({
                "id": id,
                "displayName": name,
                "userPrincipalName": upn,
                "accountEnabled": i % 40 != 7,
                "userType": user_type,
            }));
            let in_group = i % 3 != 0;
            if in_group && i % 90 != 1 {
                tenant
                    .members
                    .push(json!({"@odata.type": "#microsoft.graph.user", "id": id}));
            }
            let registered = methods[i % methods.len()];
            let enabled = in_group && !guest;
            let sspr_registered = !registered.is_empty();
            let mfa = registered
                .iter()
                .any(|m| *m != "email" && *m != "securityQuestion");
            tenant.registration_details.push(json!({
                "id": id,
                "userPrincipalName": upn,
                "userDisplayName": name,
                "userType": user_type,
                "isAdmin": i % 200 == 0,
                "isSsprRegistered": sspr_registered,
                "isSsprEnabled": enabled,
                "isSsprCapable": sspr_registered && enabled,
                "isMfaRegistered": mfa,
                "isMfaCapable": mfa,
                "isPasswordlessCapable": registered.contains(&"passKeyDeviceBound"),
                "methodsRegistered": registered,
                "isSystemPreferredAuthenticationMethodEnabled": true,
                "systemPreferredAuthenticationMethods": if mfa { vec!["push"] } else { vec![] },
                "userPreferredMethodForSecondaryAuthentication": if mfa { "push" } else { "none" },
                "defaultMfaMethod": if mfa { "microsoftAuthenticatorPush" } else { "none" },
                "lastUpdatedDateTime": graph_time(now - Duration::hours(2)),
            }));
            let at = now - Duration::minutes(((i * 7919) % (20 * 24 * 60)) as i64 + 90);
            if i % 10 == 3 {
                tenant.audits.extend(reset_flow(i, &id, &upn, at));
            }
            if i % 15 == 4 {
                tenant.audits.extend(registration_flow(i, &id, &upn, at));
            }
            if i % 7 == 2 {
                let (feature, method, success) = match i % 4 {
                    0 => ("registration", "microsoftAuthenticatorPush", true),
                    1 => ("reset", "mobileSMS", false),
                    2 => ("registration", "passKeyDeviceBound", true),
                    _ => ("reset", "email", true),
                };
                tenant.events_summary.push(json!({
                    "@odata.type": "#microsoft.graph.userEventsSummary",
                    "id": id,
                    "feature": feature,
                    "userPrincipalName": upn,
                    "userDisplayName": name,
                    "isSuccess": success,
                    "authMethod": method,
                    "failureReason": if success { "" } else { "Invalid verification code" },
                    "eventDateTime": graph_time(at - Duration::minutes(30)),
                }));
            }
        }
        // A nested group in the SSPR group: SSPR reaches its members, which
        // transitiveMembers lists as well; the group itself is no user.
        tenant.members.push(json!({
            "@odata.type": "#microsoft.graph.group",
            "id": "0e0e0e0e-5599-4000-8000-000000000002",
        }));
        tenant.audits.sort_by(|a, b| {
            b["activityDateTime"]
                .as_str()
                .cmp(&a["activityDateTime"].as_str())
        });
        tenant
    }
}

/// Who an audit entry is about.
struct Target<'a> {
    id: &'a str,
    upn: &'a str,
}

/// The step of an audit entry: its activity, result and reason.
struct Step<'a> {
    activity: &'a str,
    result: &'a str,
    reason: &'a str,
}

fn audit_entry(
    id: String,
    correlation: &str,
    service: &str,
    step: Step<'_>,
    at: NaiveDateTime,
    target: &Target<'_>,
) -> Value {
    let Step {
        activity,
        result,
        reason,
    } = step;
    let (user_id, upn) = (target.id, target.upn);
    json!({
        "id": id,
        "category": "UserManagement",
        "correlationId": correlation,
        "result": result,
        "resultReason": reason,
        "activityDisplayName": activity,
        "activityDateTime": graph_time(at),
        "loggedByService": service,
        "operationType": "Update",
        "initiatedBy": {"app": null, "user": {
            "id": user_id, "displayName": null, "userPrincipalName": upn,
            "ipAddress": "192.0.2.10", "userType": null,
            "homeTenantId": null, "homeTenantName": null}},
        "targetResources": [{"id": user_id, "displayName": null, "type": "User",
            "userPrincipalName": upn, "groupType": null, "modifiedProperties": []}],
        "additionalDetails": [],
    })
}

fn reset_flow(i: usize, id: &str, upn: &str, at: NaiveDateTime) -> Vec<Value> {
    let correlation = format!("{:08x}-1111-4000-8000-{:012x}", 0x5e5e_0000u32, i);
    let progress = "Self-service password reset flow activity progress";
    let service = crate::ingest::graph::SSPR_SERVICE;
    let target = Target { id, upn };
    let step = |n: usize, activity: &str, result: &str, reason: &str, seconds: i64| {
        audit_entry(
            format!("SSPR_{correlation}_{n}"),
            &correlation,
            service,
            Step {
                activity,
                result,
                reason,
            },
            at + Duration::seconds(seconds),
            &target,
        )
    };
    let mut flow = vec![
        step(1, progress, "success", "User submitted their user ID", 0),
        step(
            2,
            progress,
            "success",
            "User was presented with verification options",
            2,
        ),
        step(
            3,
            progress,
            "success",
            "User started the email verification option",
            10,
        ),
    ];
    if i % 20 == 3 {
        flow.push(step(
            4,
            progress,
            "success",
            "User completed the email verification option",
            40,
        ));
        flow.push(step(
            5,
            progress,
            "success",
            "User successfully reset password",
            70,
        ));
        flow.push(step(
            6,
            "Reset password (self-service)",
            "success",
            "Successfully completed reset.",
            71,
        ));
    }
    flow
}

fn registration_flow(i: usize, id: &str, upn: &str, at: NaiveDateTime) -> Vec<Value> {
    let correlation = format!("{:08x}-2222-4000-8000-{:012x}", 0x5e5e_0000u32, i);
    let service = crate::ingest::graph::AUTHENTICATION_METHODS_SERVICE;
    let target = Target { id, upn };
    vec![
        audit_entry(
            format!("AM_{correlation}_1"),
            &correlation,
            service,
            Step {
                activity: "User started security info registration",
                result: "success",
                reason:
                    "User started the registration for Authenticator App with Notification and Code",
            },
            at,
            &target,
        ),
        audit_entry(
            format!("AM_{correlation}_2"),
            &correlation,
            service,
            Step {
                activity: "User registered security info",
                result: "success",
                reason: "User registered Authenticator App with Notification and Code",
            },
            at + Duration::seconds(41),
            &target,
        ),
    ]
}

/// A way to misbehave, once, on the `page`-th page (from 1) of the first
/// list whose path contains `path`.
#[derive(Debug, Clone)]
pub struct Fault {
    pub path: String,
    pub page: usize,
    pub kind: FaultKind,
}

impl Fault {
    pub fn new(path: &str, page: usize, kind: FaultKind) -> Fault {
        Fault {
            path: path.to_string(),
            page,
            kind,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status (429, 503, …) and `Retry-After` when given.
    Status(u16, Option<u64>),
    /// The token of the request has expired: 401 `InvalidAuthenticationToken`.
    ExpireToken,
    /// A page that is not JSON (cut off in the middle).
    CutPage,
    /// A page whose second record has `accountEnabled` as text.
    BadRecord,
    /// The page's `@odata.nextLink` leads back to the second page.
    LinkLoop,
    /// Wait this many seconds before answering (a crash is staged meanwhile).
    Hang(u64),
}

/// One request as the stand-in saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub method: String,
    /// Path and query, percent-decoded.
    pub target: String,
    pub status: u16,
}

#[derive(Default)]
struct State {
    tenant: Tenant,
    page_size: usize,
    faults: Vec<Fault>,
    log: Vec<Logged>,
    tokens: HashSet<String>,
    issued: u64,
    /// Every successful Graph response body, in the order served.
    save_to: Option<PathBuf>,
    saved: u64,
    base: String,
    /// Pages served per list (path without the skip token), for faults.
    pages: HashMap<String, usize>,
    /// The certificate credential uploaded to the app registration: the
    /// RSA public key (PKCS#1 DER) and its certificate's SHA-256 thumbprint.
    certificate: Option<(Vec<u8>, String)>,
}

/// A running stand-in; it stops when dropped.
pub struct Standin {
    /// `http://127.0.0.1:PORT`: both the Graph address and the sign-in one.
    pub url: String,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Standin {
    /// Serves `tenant` in pages of `page_size` on a port of its own.
    pub fn start(tenant: Tenant, page_size: usize) -> std::io::Result<Standin> {
        Standin::start_on("127.0.0.1:0", tenant, page_size)
    }

    pub fn start_on(bind: &str, tenant: Tenant, page_size: usize) -> std::io::Result<Standin> {
        let listener = TcpListener::bind(bind)?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State {
            tenant,
            page_size: page_size.max(1),
            base: url.clone(),
            ..State::default()
        }));
        let shared = state.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let data = web::Data::new(shared);
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .app_data(web::PayloadConfig::new(1 << 20))
                        .default_service(web::to(answer))
                })
                .workers(2)
                .disable_signals()
                .listen(listener);
                match server {
                    Ok(server) => {
                        let server = server.run();
                        let _ = tx.send(Ok(server.handle()));
                        let _ = server.await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        });
        let handle = rx
            .recv()
            .map_err(|_| std::io::Error::other("the stand-in did not start"))??;
        Ok(Standin {
            url,
            state,
            handle,
            thread: Some(thread),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Misbehave as `fault` says, once.
    pub fn fault(&self, fault: Fault) {
        self.state().faults.push(fault);
    }

    /// Accept client assertions signed by this key (its RSA public key,
    /// PKCS#1 DER) for the certificate with this SHA-256 thumbprint
    /// (base64url), as an app registration does once it is uploaded.
    pub fn accept_certificate(&self, public_key: Vec<u8>, thumbprint: String) {
        self.state().certificate = Some((public_key, thumbprint));
    }

    /// Keep every Graph response body in `dir`, numbered in the order served.
    pub fn save_responses(&self, dir: PathBuf) {
        self.state().save_to = Some(dir);
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<Logged> {
        self.state().log.clone()
    }

    /// Change the tenant (a user added, say) for the next requests.
    pub fn tenant(&self, change: impl FnOnce(&mut Tenant)) {
        change(&mut self.state().tenant);
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        let stopping = self.handle.stop(false);
        drop(stopping);
        if let Some(thread) = self.thread.take() {
            // The server's own thread ends once it has stopped.
            drop(thread);
        }
    }
}

fn graph_error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
        .insert_header(("request-id", "5a5a5a5a-0000-4000-8000-000000000000"))
        .json(
            json!({"error": {"code": code, "message": message, "innerError": {
            "date": "2026-12-05T00:00:00", "request-id": "5a5a5a5a-0000-4000-8000-000000000000",
            "client-request-id": "5a5a5a5a-0000-4000-8000-000000000000"}}}),
        )
}

/// Graph's answer to a token that has expired (or was never issued).
fn expired() -> HttpResponse {
    graph_error(
        401,
        "InvalidAuthenticationToken",
        "Access token has expired or is not yet valid.",
    )
}

async fn answer(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    // Decoded as Graph reads it: in the query a `+` is a space (our own
    // next links are form-encoded, the connector's first requests use %20).
    let path = req.uri().path();
    let query = req.uri().query().map(|q| q.replace('+', " "));
    let raw = match &query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    let target = percent_encoding::percent_decode_str(&raw)
        .decode_utf8_lossy()
        .into_owned();
    let (response, hang) = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        let (response, hang) = respond(&mut state, &req, &body, &target);
        state.log.push(Logged {
            method: req.method().to_string(),
            target: target.clone(),
            status: response.status().as_u16(),
        });
        (response, hang)
    };
    if let Some(seconds) = hang {
        actix_web::rt::time::sleep(std::time::Duration::from_secs(seconds)).await;
    }
    response
}

fn respond(
    state: &mut State,
    req: &HttpRequest,
    body: &[u8],
    target: &str,
) -> (HttpResponse, Option<u64>) {
    let path = req.path();
    if req.method() == actix_web::http::Method::POST {
        return (token(state, path, body), None);
    }
    if req.method() != actix_web::http::Method::GET {
        return (
            graph_error(405, "Request_BadRequest", "method not allowed"),
            None,
        );
    }
    let authorized = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let Some(token) = authorized.filter(|t| state.tokens.contains(t)) else {
        return (expired(), None);
    };
    let query: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let page: usize = get("$skiptoken")
        .and_then(|t| t.strip_prefix('p').and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    // The fault for this page of this list, if any.
    let list_key = target
        .split("$skiptoken")
        .next()
        .unwrap_or(target)
        .to_string();
    let fault_at = state
        .faults
        .iter()
        .position(|f| target.contains(&f.path) && f.page == page + 1);
    let fault = fault_at.map(|i| state.faults.remove(i).kind);
    *state.pages.entry(list_key).or_default() += 1;
    let mut hang = None;
    match fault {
        Some(FaultKind::Status(status, after)) => {
            let mut response = graph_error(
                status,
                if status == 429 {
                    "TooManyRequests"
                } else {
                    "serviceNotAvailable"
                },
                "Please retry again later.",
            );
            if let Some(after) = after {
                response.headers_mut().insert(
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderValue::from(after),
                );
            }
            return (response, None);
        }
        Some(FaultKind::ExpireToken) => {
            state.tokens.remove(&token);
            return (expired(), None);
        }
        Some(FaultKind::Hang(seconds)) => hang = Some(seconds),
        _ => {}
    }
    let prefer = req
        .headers()
        .get("Prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("include-unknown-enum-members"));
    let base = state.base.clone();
    let (version, rest) = match path.strip_prefix("/v1.0/") {
        Some(rest) => ("v1.0", rest),
        None => match path.strip_prefix("/beta/") {
            Some(rest) => ("beta", rest),
            None => return (graph_error(400, "BadRequest", "Invalid version."), None),
        },
    };
    let context = |fragment: &str| format!("{base}/{version}/$metadata#{fragment}");
    let (records, fragment, evolved): (Vec<&Value>, String, bool) = match (version, rest) {
        ("v1.0", "users") => (
            state.tenant.users.iter().collect(),
            "users(id,displayName,userPrincipalName,accountEnabled,userType)".into(),
            false,
        ),
        ("v1.0", "reports/authenticationMethods/userRegistrationDetails") => (
            state.tenant.registration_details.iter().collect(),
            "reports/authenticationMethods/userRegistrationDetails".into(),
            true,
        ),
        ("beta", "reports/authenticationMethods/userEventsSummary") => (
            state.tenant.events_summary.iter().collect(),
            "reports/authenticationMethods/userEventsSummary".into(),
            true,
        ),
        ("v1.0", "auditLogs/directoryAudits") => {
            let filter = get("$filter").unwrap_or_default();
            let service = filter
                .split("loggedByService eq '")
                .nth(1)
                .and_then(|s| s.split('\'').next())
                .map(str::to_string);
            let from = filter
                .split("activityDateTime ge ")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .map(str::to_string);
            let mut entries: Vec<&Value> = state
                .tenant
                .audits
                .iter()
                .filter(|e| {
                    service
                        .as_deref()
                        .is_none_or(|s| e["loggedByService"].as_str() == Some(s))
                })
                .filter(|e| {
                    from.as_deref()
                        .is_none_or(|f| e["activityDateTime"].as_str().unwrap_or("") >= f)
                })
                .collect();
            if get("$orderby").as_deref() == Some("activityDateTime") {
                entries.reverse();
            }
            (entries, "auditLogs/directoryAudits".into(), false)
        }
        ("v1.0", rest) if rest.starts_with("groups/") => {
            let mut parts = rest.split('/').skip(1);
            let id = parts.next().unwrap_or("");
            if id != state.tenant.group["id"].as_str().unwrap_or("") {
                return (
                    graph_error(
                        404,
                        "Request_ResourceNotFound",
                        &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
                    ),
                    hang,
                );
            }
            match parts.next() {
                None => {
                    let mut entity = state.tenant.group.clone();
                    entity["@odata.context"] =
                        Value::String(context("groups(id,displayName)/$entity"));
                    return (save(state, entity.to_string()), hang);
                }
                Some("transitiveMembers") | Some("members") => (
                    state.tenant.members.iter().collect(),
                    "directoryObjects(id)".into(),
                    false,
                ),
                Some(_) => return (graph_error(400, "BadRequest", "Unsupported segment."), hang),
            }
        }
        _ => {
            return (
                graph_error(
                    400,
                    "BadRequest",
                    &format!("Resource not found for the segment '{rest}'."),
                ),
                hang,
            )
        }
    };
    let size = get("$top")
        .and_then(|t| t.parse::<usize>().ok())
        .map_or(state.page_size, |t| t.min(state.page_size));
    let start = page * size;
    let total = records.len();
    let mut slice: Vec<Value> = records
        .into_iter()
        .skip(start)
        .take(size)
        .cloned()
        .collect();
    if evolved && !prefer {
        for record in &mut slice {
            for field in ["authMethod", "methodsRegistered"] {
                match record.get_mut(field) {
                    Some(Value::String(s)) if EVOLVED_METHODS.contains(&s.as_str()) => {
                        *s = "unknownFutureValue".into()
                    }
                    Some(Value::Array(list)) => {
                        for v in list {
                            if v.as_str().is_some_and(|s| EVOLVED_METHODS.contains(&s)) {
                                *v = Value::String("unknownFutureValue".into());
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    if fault == Some(FaultKind::BadRecord) {
        if let Some(record) = slice.get_mut(1) {
            record["accountEnabled"] = Value::String("yes".into());
            record["isSsprRegistered"] = Value::String("yes".into());
            record["result"] = Value::Number(1.into());
            record["isSuccess"] = Value::String("yes".into());
        }
    }
    let mut page_json = json!({"@odata.context": context(&fragment), "value": slice});
    let more = start + size < total;
    let link_to = |n: usize| {
        let mut kept: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| k != "$skiptoken")
            .cloned()
            .collect();
        kept.push(("$skiptoken".into(), format!("p{n}")));
        let encoded: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(kept)
            .finish();
        format!("{base}{path}?{encoded}")
    };
    if fault == Some(FaultKind::LinkLoop) {
        page_json["@odata.nextLink"] = Value::String(link_to(1));
    } else if more {
        page_json["@odata.nextLink"] = Value::String(link_to(page + 1));
    }
    let mut text = page_json.to_string();
    if fault == Some(FaultKind::CutPage) {
        text.truncate(text.len() / 2);
    }
    let mut response = save(state, text);
    if evolved && prefer {
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("preference-applied"),
            actix_web::http::header::HeaderValue::from_static("include-unknown-enum-members"),
        );
    }
    (response, hang)
}

/// A 200 with `text`, kept when responses are saved.
fn save(state: &mut State, text: String) -> HttpResponse {
    if let Some(dir) = &state.save_to {
        state.saved += 1;
        let _ = std::fs::write(dir.join(format!("{:05}.json", state.saved)), &text);
    }
    HttpResponse::Ok()
        .content_type("application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
        .body(text)
}

/// A client assertion as the identity platform checks it: a JWT whose
/// header names the certificate (`x5t#S256`) and PS256, whose claims name
/// the token endpoint and the app and are current, signed by the key.
fn check_assertion(
    jwt: &str,
    certificate: Option<&(Vec<u8>, String)>,
    token_url: &str,
) -> Result<(), String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let Some((public_key, thumbprint)) = certificate else {
        return Err("No certificate is registered for the app.".into());
    };
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return Err("The assertion is not a JWT.".into());
    };
    let decode = |part: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    };
    let header = decode(header)?;
    let claims = decode(claims)?;
    if header["alg"] != "PS256" || header["x5t#S256"] != thumbprint.as_str() {
        return Err(format!("Key was not found: {header}"));
    }
    let now = chrono::Utc::now().timestamp();
    let number = |k: &str| claims[k].as_i64().unwrap_or(0);
    if claims["aud"] != token_url
        || claims["iss"] != CLIENT_ID
        || claims["sub"] != CLIENT_ID
        || claims["jti"].as_str().is_none_or(str::is_empty)
        || number("exp") < now
        || number("nbf") > now + 300
        || number("exp") - number("nbf") > 600
    {
        return Err(format!("Invalid claims: {claims}"));
    }
    let signed = format!("{}.{}", parts[0], parts[1]);
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| e.to_string())?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PSS_2048_8192_SHA256, public_key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| "The signature does not verify.".to_string())
}

/// The client-credentials grant at `/{tenant}/oauth2/v2.0/token`.
fn token(state: &mut State, path: &str, body: &[u8]) -> HttpResponse {
    let expected = format!("/{TENANT_ID}/oauth2/v2.0/token");
    let refuse = |status: u16, error: &str, code: u32, description: &str| {
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
            .json(json!({
                "error": error,
                "error_description": format!("AADSTS{code}: {description}\r\nTrace ID: 0000\r\nCorrelation ID: 0000\r\nTimestamp: 2026-12-05 00:00:00Z"),
                "error_codes": [code],
                "timestamp": "2026-12-05 00:00:00Z",
                "trace_id": "0000",
                "correlation_id": "0000",
            }))
    };
    if path != expected {
        return refuse(
            400,
            "invalid_request",
            90002,
            "Tenant not found. Check to make sure you have the correct tenant ID.",
        );
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if field("grant_type") != "client_credentials" {
        return refuse(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    if field("client_id") != CLIENT_ID {
        return refuse(
            400,
            "unauthorized_client",
            700016,
            "Application was not found in the directory.",
        );
    }
    if field("scope") != format!("{}/.default", state.base) {
        return refuse(
            400,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid.",
        );
    }
    if !field("client_assertion").is_empty() {
        if field("client_assertion_type") != super::certificate::ASSERTION_TYPE {
            return refuse(
                400,
                "invalid_request",
                90014,
                "The request body must contain the following parameter: 'client_assertion_type'.",
            );
        }
        let token_url = format!("{}{expected}", state.base);
        let checked = check_assertion(
            field("client_assertion"),
            state.certificate.as_ref(),
            &token_url,
        );
        if let Err(why) = checked {
            return refuse(
                401,
                "invalid_client",
                700027,
                &format!("Client assertion failed signature validation. {why}"),
            );
        }
    } else if field("client_secret") != CLIENT_SECRET {
        return refuse(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app.",
        );
    }
    state.issued += 1;
    let token = format!("standin-token-{}", state.issued);
    state.tokens.insert(token.clone());
    HttpResponse::Ok().json(json!({
        "token_type": "Bearer",
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": token,
    }))
}
