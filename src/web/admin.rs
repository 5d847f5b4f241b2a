//! `/admin`: the SSPR policy, portal accounts, API keys and the audit trail.
//! Global Administrators only (the middleware and the [`Admin`] extractor both
//! check); every change needs the session's CSRF token and is audited.

use super::auth::{csrf_form, Admin, Protected, TokenOnly};
use super::error::{AppError, AppResult};
use super::layout::{see_other, Layout};
use super::params::Params;
use super::{html, thousands, AppState};
use crate::accounts::Role;
use crate::db::api_keys::{self, ApiKey};
use crate::db::audit::{self, AuditEntry};
use crate::db::directory::VerdictTotals;
use crate::db::models::Account;
use crate::db::{self, sessions, throttle, DbConnection};
use crate::domain::filter::{RegistrationFilter, Tristate};
use crate::domain::method::{PolicyMethod, PolicyMethodSet};
use crate::domain::policy::{Scope, SsprPolicy};
use crate::domain::VerdictSource;
use crate::service::{self, ServiceError};
use crate::web::auth;
use crate::web::lists::registrations::filter_href;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::from_fn;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{NaiveDateTime, Utc};
use serde::Deserialize;
use std::collections::HashMap;

fn when(t: Option<NaiveDateTime>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "never".into())
}

/// Runs a change and leaves its outcome as the next page's notice.
async fn change<F>(
    state: &AppState,
    admin: &Admin,
    back: &'static str,
    work: F,
) -> AppResult<HttpResponse>
where
    F: FnOnce(&mut DbConnection, &str) -> Result<String, ServiceError> + Send + 'static,
{
    let (session, actor) = (admin.0.session.clone(), admin.0.username.clone());
    super::change_then(state, session, actor, back, move |conn, actor: &String| {
        work(conn, actor)
    })
    .await
}

// ---- index -------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/index.html")]
struct IndexPage {
    layout: Layout,
    policy: String,
    accounts: String,
    keys: String,
    imports: String,
    data_sources: String,
    deliveries: String,
    subscriptions: String,
    audit: String,
}

#[get("/admin", wrap = "from_fn(auth::admin)")]
pub async fn index(state: web::Data<AppState>, admin: Admin) -> AppResult<HttpResponse> {
    let connected = state.sync.as_ref().is_some_and(|s| s.settings().is_some());
    let (policy, accounts, keys, (latest, import), last_sync, (unsent, tally)) = state
        .db(|conn| {
            let policy = db::directory::load_policy(conn)?;
            let groups = db::directory::list_groups(conn)?;
            let accounts = db::accounts::list_accounts(conn)?;
            let keys = api_keys::list_keys(conn)?;
            let latest = audit::entries(conn, None, 1)?;
            let import = db::imports::recent(conn, 1)?;
            let last_sync = db::syncs::latest_run(conn)?;
            let unsent = db::outbox::count_unsent(conn)?;
            let tally = db::subscriptions::tally(conn)?;
            Ok((
                policy_summary(&policy, &groups),
                accounts,
                keys,
                (latest, import),
                last_sync,
                (unsent, tally),
            ))
        })
        .await?;
    let admins = accounts
        .iter()
        .filter(|a| a.role == Role::GlobalAdministrator.key() && !a.disabled)
        .count();
    let active_keys = keys.iter().filter(|k| k.revoked_at.is_none()).count();
    html(IndexPage {
        layout: Layout::admin("Admin", &admin.0),
        policy,
        accounts: format!(
            "{} accounts, {} enabled Global Administrator{}",
            accounts.len(),
            admins,
            if admins == 1 { "" } else { "s" }
        ),
        keys: format!("{active_keys} active"),
        imports: import
            .first()
            .map_or("Upload files; retention".into(), |i| {
                format!(
                    "Latest: {} import {} ({}), {}",
                    i.source,
                    i.id,
                    i.kind,
                    when(Some(i.finished_at))
                )
            }),
        data_sources: match (connected, last_sync) {
            (_, Some(run)) => format!(
                "Last sync {}, {}",
                when(Some(run.started_at)),
                run.outcome.as_deref().unwrap_or("running or cut short")
            ),
            (true, None) => "Connected to Microsoft Graph; no sync yet".into(),
            (false, None) => "Not connected to a tenant".into(),
        },
        deliveries: {
            let [pending, failed] = [db::outbox::State::Pending, db::outbox::State::Failed]
                .map(|s| unsent.iter().find(|(k, _)| *k == s).map_or(0, |(_, n)| *n));
            format!("{pending} waiting, {failed} given up")
        },
        subscriptions: format!(
            "{} active ({} alert{} firing), {} paused",
            tally.0,
            tally.2,
            if tally.2 == 1 { "" } else { "s" },
            tally.1
        ),
        audit: latest.first().map_or("No changes yet".into(), |e| {
            format!("Latest: {} by {}, {}", e.action, e.actor, when(Some(e.at)))
        }),
    })
}

fn policy_summary(policy: &SsprPolicy, groups: &[(String, String)]) -> String {
    let scope = match &policy.scope {
        Scope::None => "No users (administrators only)".to_string(),
        Scope::All => "All users".to_string(),
        Scope::Selected { group_id } => format!("Members of {}", group_name(groups, group_id)),
    };
    format!(
        "{scope}; {} method{} required; {} allowed",
        policy.methods_required(),
        if policy.methods_required() == 1 {
            ""
        } else {
            "s"
        },
        policy.allowed().len()
    )
}

fn group_name(groups: &[(String, String)], id: &str) -> String {
    groups.iter().find(|(g, _)| g == id).map_or_else(
        || format!("group {id} (not in the directory)"),
        |(_, n)| format!("'{n}'"),
    )
}

// ---- SSPR policy -------------------------------------------------------

pub struct MethodChoice {
    pub key: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "admin/policy.html")]
struct PolicyPage {
    layout: Layout,
    csrf: String,
    scope: &'static str,
    group: String,
    groups: Vec<(String, String)>,
    methods_required: u8,
    methods: Vec<MethodChoice>,
    updated: String,
    error: Option<String>,
    /// The verdict source: its key, and the choices (key, label).
    source: &'static str,
    sources: Vec<(&'static str, &'static str)>,
    verdicts: VerdictTotals,
    disagree_href: String,
    stale_href: String,
}

impl PolicyPage {
    fn new(
        admin: &Admin,
        groups: Vec<(String, String)>,
        form: PolicyChoice,
        updated: String,
        error: Option<String>,
        (source, verdicts): (VerdictSource, VerdictTotals),
    ) -> PolicyPage {
        let list = |edit: fn(&mut RegistrationFilter)| {
            let mut f = RegistrationFilter::default();
            edit(&mut f);
            filter_href(&f)
        };
        PolicyPage {
            source: source.key(),
            sources: VerdictSource::ALL
                .iter()
                .map(|s| (s.key(), s.label()))
                .collect(),
            verdicts,
            disagree_href: list(|f| f.verdicts_disagree = Tristate::Yes),
            stale_href: list(|f| f.verdicts_stale = Tristate::Yes),
            layout: Layout::admin("SSPR policy", &admin.0),
            csrf: admin.0.csrf.clone(),
            scope: form.scope,
            group: form.group,
            groups,
            methods_required: form.methods_required,
            methods: PolicyMethod::ALL
                .iter()
                .map(|m| MethodChoice {
                    key: m.key(),
                    label: m.display_name(),
                    checked: form.allowed.contains(*m),
                })
                .collect(),
            updated,
            error,
        }
    }
}

/// The form's values, valid or not, to show them again.
struct PolicyChoice {
    scope: &'static str,
    group: String,
    methods_required: u8,
    allowed: PolicyMethodSet,
}

impl From<&SsprPolicy> for PolicyChoice {
    fn from(p: &SsprPolicy) -> Self {
        PolicyChoice {
            scope: p.scope.key(),
            group: p.scope.group_id().unwrap_or_default().to_string(),
            methods_required: p.methods_required(),
            allowed: p.allowed(),
        }
    }
}

#[get("/admin/policy", wrap = "from_fn(auth::admin)")]
pub async fn policy_page(state: web::Data<AppState>, admin: Admin) -> AppResult<HttpResponse> {
    let (policy, row, groups, verdicts) = state
        .db(|conn| {
            Ok((
                db::directory::load_policy(conn)?,
                db::directory::load_policy_row(conn)?,
                db::directory::list_groups(conn)?,
                verdict_state(conn)?,
            ))
        })
        .await?;
    let updated = format!(
        "Last changed {}{}.",
        when(Some(row.updated_at)),
        row.updated_by
            .map(|b| format!(" by {b}"))
            .unwrap_or_default()
    );
    html(PolicyPage::new(
        &admin,
        groups,
        (&policy).into(),
        updated,
        None,
        verdicts,
    ))
}

/// A service's refusal where the form already ruled it out: the database's
/// error, or an internal one.
fn internal(e: ServiceError) -> AppError {
    match e {
        ServiceError::Database(e) => e.into(),
        ServiceError::Refused(why) => AppError::Internal(why),
    }
}

/// The verdict source and how many users it concerns.
fn verdict_state(conn: &mut DbConnection) -> db::QueryResult<(VerdictSource, VerdictTotals)> {
    Ok((
        db::directory::verdict_source(conn)?,
        db::directory::verdict_totals(conn)?,
    ))
}

#[derive(Deserialize)]
pub struct VerdictSourceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    source: String,
}

#[post("/admin/policy/verdict-source", wrap = "from_fn(auth::admin)")]
pub async fn set_verdict_source(
    state: web::Data<AppState>,
    admin: Admin,
    form: Protected<VerdictSourceForm>,
) -> AppResult<HttpResponse> {
    let Some(source) = VerdictSource::from_key(&form.0.source) else {
        return Err(AppError::BadRequest(format!(
            "Unknown verdict source '{}': choose directory or policy.",
            form.0.source
        )));
    };
    let actor = admin.0.username.clone();
    let session = admin.0.session.clone();
    state
        .db(move |conn| {
            let recomputed =
                service::policy::set_verdict_source(conn, &actor, source).map_err(internal)?;
            sessions::set_flash(
                conn,
                &session,
                &format!(
                    "Statuses now shown {}. {} users re-evaluated; {} changed status.",
                    match source {
                        VerdictSource::Directory => "as the directory reported them",
                        VerdictSource::Policy => "as this portal's policy computes them",
                    },
                    thousands(recomputed.users as i64),
                    thousands(recomputed.changed as i64)
                ),
            )?;
            Ok(())
        })
        .await?;
    Ok(see_other("/admin/policy"))
}

#[derive(Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    methods_required: String,
    /// The allowed-method checkboxes, named `allow-<method key>`.
    #[serde(flatten)]
    rest: HashMap<String, String>,
}

impl PolicyForm {
    fn choice(&self) -> PolicyChoice {
        let allowed = PolicyMethod::ALL
            .into_iter()
            .filter(|m| self.rest.contains_key(&format!("allow-{}", m.key())))
            .fold(PolicyMethodSet::EMPTY, |s, m| s.with(m));
        PolicyChoice {
            scope: match self.scope.as_str() {
                "all" => "all",
                "selected" => "selected",
                _ => "none",
            },
            group: self.group.clone(),
            methods_required: if self.methods_required == "2" { 2 } else { 1 },
            allowed,
        }
    }

    /// The policy the form describes, or what is wrong with it.
    fn policy(&self, groups: &[(String, String)]) -> Result<SsprPolicy, String> {
        if let Some(other) = self.rest.keys().find(|k| {
            !PolicyMethod::ALL
                .iter()
                .any(|m| **k == format!("allow-{}", m.key()))
        }) {
            return Err(format!("Unknown field '{other}'."));
        }
        let scope = match self.scope.as_str() {
            "none" => Scope::None,
            "all" => Scope::All,
            "selected" => {
                if self.group.is_empty() {
                    return Err("Choose the group the policy applies to.".into());
                }
                if !groups.iter().any(|(id, _)| *id == self.group) {
                    return Err(format!("There is no group with the id '{}'.", self.group));
                }
                Scope::Selected {
                    group_id: self.group.clone(),
                }
            }
            other => {
                return Err(format!(
                    "Unknown scope '{other}': choose None, Selected group or All."
                ))
            }
        };
        let required = match self.methods_required.as_str() {
            "1" => 1,
            "2" => 2,
            other => return Err(format!("Methods required must be 1 or 2, not '{other}'.")),
        };
        SsprPolicy::new(scope, required, self.choice().allowed).map_err(|e| {
            let mut m = e.to_string();
            if let Some(first) = m.get(..1) {
                m = first.to_uppercase() + &m[1..];
            }
            m + "."
        })
    }
}

#[post("/admin/policy", wrap = "from_fn(auth::admin)")]
pub async fn save_policy(
    state: web::Data<AppState>,
    admin: Admin,
    form: Protected<PolicyForm>,
) -> AppResult<HttpResponse> {
    let form = form.0;
    let actor = admin.0.username.clone();
    let session = admin.0.session.clone();
    let outcome = state
        .db(move |conn| {
            let groups = db::directory::list_groups(conn)?;
            let policy = match form.policy(&groups) {
                Ok(p) => p,
                Err(why) => {
                    let verdicts = verdict_state(conn)?;
                    return Ok(Err((why, groups, form.choice(), verdicts)));
                }
            };
            let describe = |old: &SsprPolicy, recomputed: &db::directory::Recomputed| {
                format!(
                    "{} → {}; {} users re-evaluated, {} changed status",
                    policy_summary(old, &groups),
                    policy_summary(&policy, &groups),
                    recomputed.users,
                    recomputed.changed
                )
            };
            let recomputed =
                service::policy::save_policy(conn, &actor, &policy, describe).map_err(internal)?;
            sessions::set_flash(
                conn,
                &session,
                &format!(
                    "Policy saved. {} users re-evaluated; {} changed status.",
                    thousands(recomputed.users as i64),
                    thousands(recomputed.changed as i64)
                ),
            )?;
            Ok(Ok(()))
        })
        .await?;
    match outcome {
        Ok(()) => Ok(see_other("/admin/policy")),
        Err((why, groups, choice, verdicts)) => {
            let page = PolicyPage::new(&admin, groups, choice, String::new(), Some(why), verdicts);
            Ok(HttpResponse::build(StatusCode::BAD_REQUEST)
                .content_type("text/html; charset=utf-8")
                .body(page.render()?))
        }
    }
}

// ---- accounts ----------------------------------------------------------

pub struct AccountRow {
    pub id: String,
    pub username: String,
    pub role_key: &'static str,
    pub role: &'static str,
    pub state: String,
    pub disabled: bool,
    pub locked: bool,
    pub last_sign_in: String,
    pub created: String,
    pub is_self: bool,
}

pub struct RoleChoice {
    pub key: &'static str,
    pub label: &'static str,
}

#[derive(Template)]
#[template(path = "admin/accounts.html")]
struct AccountsPage {
    layout: Layout,
    csrf: String,
    rows: Vec<AccountRow>,
    roles: Vec<RoleChoice>,
}

fn roles() -> Vec<RoleChoice> {
    Role::ALL
        .iter()
        .map(|r| RoleChoice {
            key: r.key(),
            label: r.display_name(),
        })
        .collect()
}

#[get("/admin/accounts", wrap = "from_fn(auth::admin)")]
pub async fn accounts_page(state: web::Data<AppState>, admin: Admin) -> AppResult<HttpResponse> {
    let now = Utc::now().naive_utc();
    let (accounts, locks) = state
        .db(move |conn| {
            Ok((
                db::accounts::list_accounts(conn)?,
                throttle::current_locks(conn, now)?,
            ))
        })
        .await?;
    let locks: HashMap<String, NaiveDateTime> = locks.into_iter().collect();
    let rows = accounts
        .into_iter()
        .map(|a| {
            let role = Role::from_key(&a.role);
            let lock = locks.get(&throttle::account_subject(&a.username));
            let mut state = vec![if a.disabled { "Disabled" } else { "Enabled" }.to_string()];
            if a.must_change_password {
                state.push("must change password".into());
            }
            if let Some(until) = lock {
                state.push(format!("locked until {}", when(Some(*until))));
            }
            AccountRow {
                is_self: a.id == admin.0.account_id,
                role_key: role.map_or("", Role::key),
                role: role.map_or("(unknown role)", Role::display_name),
                state: state.join(", "),
                disabled: a.disabled,
                locked: lock.is_some(),
                last_sign_in: when(a.last_sign_in_at),
                created: when(Some(a.created_at)),
                id: a.id,
                username: a.username,
            }
        })
        .collect();
    html(AccountsPage {
        layout: Layout::admin("Accounts", &admin.0),
        csrf: admin.0.csrf.clone(),
        rows,
        roles: roles(),
    })
}

#[derive(Template)]
#[template(path = "admin/secret.html")]
struct SecretPage {
    layout: Layout,
    heading: String,
    label: &'static str,
    secret: String,
    advice: &'static str,
    back_href: &'static str,
    back_label: &'static str,
}

/// Shows a new secret once; it is never stored or shown again.
fn secret_page(page: SecretPage) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.render()?))
}

#[derive(Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
}

fn parse_role(key: &str) -> Result<Role, ServiceError> {
    Role::from_key(key).ok_or_else(|| {
        ServiceError::Refused(format!(
            "Unknown role '{key}': choose Global Administrator, Security Administrator, Security Reader or Reports Reader."
        ))
    })
}

#[post("/admin/accounts", wrap = "from_fn(auth::admin)")]
pub async fn add_account(
    state: web::Data<AppState>,
    admin: Admin,
    form: Protected<AccountForm>,
) -> AppResult<HttpResponse> {
    let form = form.0;
    let actor = admin.0.username.clone();
    let username = form.username.trim().to_string();
    let name = username.clone();
    let created = state
        .db(move |conn| {
            Ok(parse_role(&form.role)
                .and_then(|role| service::accounts::add_account(conn, &actor, &name, role, None)))
        })
        .await?;
    match created {
        Ok((account, Some(password))) => secret_page(SecretPage {
            layout: Layout::admin("Account added", &admin.0),
            heading: format!(
                "The account '{}' ({}) was added.",
                account.username,
                Role::from_key(&account.role).map_or("", Role::display_name)
            ),
            label: "One-time password",
            secret: password,
            advice: "Give it to the account's owner over a trusted channel. It is shown only now; at the first sign-in they choose their own password.",
            back_href: "/admin/accounts",
            back_label: "Back to accounts",
        }),
        Ok((_, None)) => Err(AppError::Internal("an account without a password".into())),
        Err(e) => Err(refusal(e, "/admin/accounts")),
    }
}

/// Runs `work` on the account a path names (404 when there is none) and
/// leaves its outcome as the accounts page's notice.
async fn change_account<F>(
    state: &AppState,
    admin: &Admin,
    id: web::Path<String>,
    work: F,
) -> AppResult<HttpResponse>
where
    F: FnOnce(&mut DbConnection, &str, &Account) -> Result<String, ServiceError> + Send + 'static,
{
    let id = id.into_inner();
    change(state, admin, "/admin/accounts", move |conn, actor| {
        let a = account(conn, &id)?;
        work(conn, actor, &a)
    })
    .await
}

/// A refused change as the 400 page of `page`.
fn refusal(e: ServiceError, page: &'static str) -> AppError {
    match e {
        ServiceError::Refused(message) => AppError::BadPageRequest { message, page },
        ServiceError::Database(e) => e.into(),
    }
}

/// The account a path names, or 404.
fn account(conn: &mut DbConnection, id: &str) -> Result<Account, ServiceError> {
    db::accounts::find_by_id(conn, id)?.ok_or(ServiceError::Database(crate::db::not_found()))
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
}

#[post("/admin/accounts/{id}/role", wrap = "from_fn(auth::admin)")]
pub async fn set_role(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    form: Protected<RoleForm>,
) -> AppResult<HttpResponse> {
    let role = form.0.role;
    change_account(&state, &admin, id, move |conn, actor, a| {
        let role = parse_role(&role)?;
        service::accounts::set_role(conn, actor, a, role)?;
        Ok(format!("'{}' is now a {role}.", a.username))
    })
    .await
}

#[post("/admin/accounts/{id}/disable", wrap = "from_fn(auth::admin)")]
pub async fn disable_account(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    _form: Protected<TokenOnly>,
) -> AppResult<HttpResponse> {
    change_account(&state, &admin, id, |conn, actor, a| {
        service::accounts::set_disabled(conn, actor, a, true)?;
        Ok(format!(
            "'{}' is disabled; its sessions have ended.",
            a.username
        ))
    })
    .await
}

#[post("/admin/accounts/{id}/enable", wrap = "from_fn(auth::admin)")]
pub async fn enable_account(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    _form: Protected<TokenOnly>,
) -> AppResult<HttpResponse> {
    change_account(&state, &admin, id, |conn, actor, a| {
        service::accounts::set_disabled(conn, actor, a, false)?;
        Ok(format!("'{}' is enabled.", a.username))
    })
    .await
}

#[post("/admin/accounts/{id}/unlock", wrap = "from_fn(auth::admin)")]
pub async fn unlock_account(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    _form: Protected<TokenOnly>,
) -> AppResult<HttpResponse> {
    change_account(&state, &admin, id, |conn, actor, a| {
        service::accounts::unlock(conn, actor, a)?;
        Ok(format!("'{}' may sign in again.", a.username))
    })
    .await
}

#[post("/admin/accounts/{id}/reset-password", wrap = "from_fn(auth::admin)")]
pub async fn reset_password(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    _form: Protected<TokenOnly>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let actor = admin.0.username.clone();
    let done = state
        .db(move |conn| {
            let a = match account(conn, &id) {
                Ok(a) => a,
                Err(ServiceError::Database(e)) => return Err(e.into()),
                Err(refused) => return Ok(Err(refused)),
            };
            Ok(service::accounts::reset_password(conn, &actor, &a, None).map(|p| (a.username, p)))
        })
        .await?;
    match done {
        Ok((username, Some(password))) => secret_page(SecretPage {
            layout: Layout::admin("Password reset", &admin.0),
            heading: format!("The password of '{username}' was reset and its sessions ended."),
            label: "One-time password",
            secret: password,
            advice: "Give it to the account's owner over a trusted channel. It is shown only now; at the next sign-in they choose their own password.",
            back_href: "/admin/accounts",
            back_label: "Back to accounts",
        }),
        Ok((_, None)) => Err(AppError::Internal("a reset without a password".into())),
        Err(e) => Err(refusal(e, "/admin/accounts")),
    }
}

// ---- API keys ----------------------------------------------------------

pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub prefix: String,
    pub created: String,
    pub last_used: String,
    pub revoked: Option<String>,
}

impl From<ApiKey> for KeyRow {
    fn from(k: ApiKey) -> Self {
        KeyRow {
            scopes: k.scopes_text(),
            prefix: format!("{}…", k.key_prefix),
            created: format!("{} by {}", when(Some(k.created_at)), k.created_by),
            last_used: when(k.last_used_at),
            revoked: k.revoked_at.map(|t| when(Some(t))),
            id: k.id,
            name: k.name,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/api_keys.html")]
struct KeysPage {
    layout: Layout,
    csrf: String,
    rows: Vec<KeyRow>,
}

#[get("/admin/api-keys", wrap = "from_fn(auth::admin)")]
pub async fn api_keys_page(state: web::Data<AppState>, admin: Admin) -> AppResult<HttpResponse> {
    let keys = state.db(|conn| Ok(api_keys::list_keys(conn)?)).await?;
    html(KeysPage {
        layout: Layout::admin("API keys", &admin.0),
        csrf: admin.0.csrf.clone(),
        rows: keys.into_iter().map(KeyRow::from).collect(),
    })
}

#[derive(Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    read: Option<String>,
    ingest: Option<String>,
}

#[post("/admin/api-keys", wrap = "from_fn(auth::admin)")]
pub async fn create_api_key(
    state: web::Data<AppState>,
    admin: Admin,
    form: Protected<KeyForm>,
) -> AppResult<HttpResponse> {
    let form = form.0;
    let (read, ingest) = (form.read.is_some(), form.ingest.is_some());
    let actor = admin.0.username.clone();
    let (key, secret) = state
        .db(move |conn| {
            service::api_keys::create_api_key(conn, &actor, &form.name, read, ingest)
                .map_err(|e| refusal(e, "/admin/api-keys"))
        })
        .await?;
    secret_page(SecretPage {
        layout: Layout::admin("API key created", &admin.0),
        heading: format!("The API key '{}' ({}) was created.", key.name, key.scopes_text()),
        label: "API key",
        secret,
        advice: "Copy it now into the script or secret store that uses it: it is shown only once. Scripts send it as 'Authorization: Bearer <key>'.",
        back_href: "/admin/api-keys",
        back_label: "Back to API keys",
    })
}

#[post("/admin/api-keys/{id}/revoke", wrap = "from_fn(auth::admin)")]
pub async fn revoke_api_key(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    _form: Protected<TokenOnly>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    change(&state, &admin, "/admin/api-keys", move |conn, actor| {
        let name = service::api_keys::revoke_api_key(conn, actor, &id)?;
        Ok(format!(
            "The key '{name}' is revoked; requests with it now get 401."
        ))
    })
    .await
}

// ---- audit trail -------------------------------------------------------

const AUDIT_PAGE: i64 = 50;

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    layout: Layout,
    entries: Vec<AuditEntry>,
    older_href: Option<String>,
}

impl AuditPage {
    fn at(&self, e: &AuditEntry) -> String {
        e.at.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

#[get("/admin/audit", wrap = "from_fn(auth::admin)")]
pub async fn audit_page(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let params =
        Params::parse(req.query_string(), &["before"]).map_err(|e| e.on_page("/admin/audit"))?;
    let before = match params.one("before")? {
        None | Some("") => None,
        Some(b) => Some(b.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            AppError::BadPageRequest {
                message: format!("'before' must be an entry number, not '{b}'."),
                page: "/admin/audit",
            }
        })?),
    };
    let mut entries = state
        .db(move |conn| Ok(audit::entries(conn, before, AUDIT_PAGE + 1)?))
        .await?;
    let older_href = if entries.len() as i64 > AUDIT_PAGE {
        entries.truncate(AUDIT_PAGE as usize);
        entries
            .last()
            .map(|e| format!("/admin/audit?before={}", e.id))
    } else {
        None
    };
    html(AuditPage {
        layout: Layout::admin("Audit log", &admin.0),
        entries,
        older_href,
    })
}

csrf_form!(
    PolicyForm,
    VerdictSourceForm,
    AccountForm,
    RoleForm,
    KeyForm
);
