//! `/users/{id}`: one user's figures, each explained in words.

use super::auth::Viewer;
use super::error::{AppError, AppResult};
use super::forms::yes_no;
use super::layout::Layout;
use super::params::{href, query_string};
use super::{html, AppState};
use crate::db::counts::data_changed_at;
use crate::db::users::{user_detail, UserDetail};
use crate::domain::explain::{explain_all, with_stated, Context, Explanation};
use crate::domain::{
    ActivityResult, Assessment, Details, Feature, Method, MethodSet, PolicyMethodSet, Scope,
};
use crate::web::auth;
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpResponse};
use askama::Template;

pub struct MethodRow {
    pub name: &'static str,
    /// How the method counts for this user's requirement.
    pub counts: &'static str,
    pub registered_at: String,
}

pub struct ActivityRow {
    pub date: String,
    pub feature: &'static str,
    pub methods: String,
    pub result: &'static str,
    pub details: &'static str,
}

#[derive(Template)]
#[template(path = "user.html")]
pub struct UserPage {
    pub layout: Layout,
    pub user_name: String,
    pub id: String,
    pub role: String,
    pub user_type: &'static str,
    pub admin: &'static str,
    pub account_enabled: bool,
    pub explanations: Vec<Explanation>,
    /// Set when the stored figures differ from the rules applied now.
    pub stored_differs: bool,
    pub policy_text: String,
    pub methods: Vec<MethodRow>,
    pub groups: Vec<String>,
    pub activities: Vec<ActivityRow>,
    pub events_href: String,
}

pub fn policy_text(d: &UserDetail) -> String {
    let p = &d.policy;
    let scope = match &p.scope {
        Scope::None => "not enabled for users (scope None)".to_string(),
        Scope::All => "enabled for all member users".to_string(),
        Scope::Selected { group_id } => format!(
            "enabled for group '{}'",
            d.policy_group_name.as_deref().unwrap_or(group_id)
        ),
    };
    let req = d.assessment.requirement;
    let own = format!(
        "The SSPR policy is {scope}, requires {} {} and allows {}.",
        p.methods_required(),
        if p.methods_required() == 1 {
            "method"
        } else {
            "methods"
        },
        p.allowed().display()
    );
    if req.administrator_policy {
        format!(
            "{own} As an administrator, this user is measured by the administrator policy instead: {} methods from {}.",
            req.methods_required,
            req.allowed.display()
        )
    } else {
        own
    }
}

/// How a registered method counts toward the user's requirement: a stable
/// key and the page's words.
pub fn standing(a: &Assessment, m: Method) -> (&'static str, &'static str) {
    match m.policy_method() {
        None => ("not_sspr", "Not an SSPR method"),
        Some(pm) if a.counted.contains(pm) => ("counts", "Counts"),
        Some(_) => ("not_allowed", "Not allowed by the policy"),
    }
}

/// The five figures of a user, each explained in words; where a directory
/// export stated a figure, the figure it stated.
pub fn explanations(d: &UserDetail) -> Vec<Explanation> {
    let u = &d.user;
    let ctx = Context {
        methods: d.methods.iter().map(|(m, _)| *m).collect(),
        is_guest: u.is_guest,
        directory_role: &u.directory_role,
        policy_group_name: d.policy_group_name.as_deref(),
        scope: &d.policy.scope,
    };
    let a = &d.assessment;
    match (u.verdicts(), u.directory_status_at) {
        (Some(v), Some(at)) => with_stated(
            explain_all(a, &ctx),
            [
                v.registered,
                v.enabled,
                v.capable,
                v.mfa_capable,
                v.passwordless_capable,
            ],
            &at.format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
        _ => explain_all(a, &ctx),
    }
}

/// Whether the stored figures differ from the rules applied now.
pub fn stored_differs(d: &UserDetail) -> bool {
    let u = &d.user;
    let methods: MethodSet = d.methods.iter().map(|(m, _)| *m).collect();
    u.shown_status(d.assessment.status) != u.status() || methods.mask() != u.methods_mask
}

impl UserPage {
    pub fn new(d: &UserDetail, layout: Layout) -> UserPage {
        let u = &d.user;
        let method_rows = d
            .methods
            .iter()
            .map(|(m, at)| MethodRow {
                name: m.display_name(),
                counts: standing(&d.assessment, *m).1,
                registered_at: at
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default(),
            })
            .collect();
        let activities = d
            .activities
            .iter()
            .map(|x| ActivityRow {
                date: x.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                feature: Feature::from_code(x.feature)
                    .map(|f| f.display_name())
                    .unwrap_or("Unknown"),
                methods: PolicyMethodSet::from_mask(x.methods_mask).classic(),
                result: ActivityResult::from_code(x.result)
                    .map(|r| r.display_name())
                    .unwrap_or("Unknown"),
                details: x
                    .details
                    .and_then(Details::from_code)
                    .map(|d| d.text())
                    .unwrap_or(""),
            })
            .collect();
        UserPage {
            layout,
            user_name: u.user_principal_name.clone(),
            id: u.id.clone(),
            role: u.directory_role.clone(),
            user_type: if u.is_guest { "Guest" } else { "Member" },
            admin: yes_no(u.is_admin),
            account_enabled: u.account_enabled,
            explanations: explanations(d),
            stored_differs: stored_differs(d),
            policy_text: policy_text(d),
            methods: method_rows,
            groups: d.groups.iter().map(|(_, name)| name.clone()).collect(),
            activities,
            events_href: href(
                "/activity",
                &query_string([("q", u.user_principal_name.as_str())]),
            ),
        }
    }
}

#[get("/users/{id}", wrap = "from_fn(auth::reader)")]
pub async fn user(
    state: web::Data<AppState>,
    viewer: Viewer,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let (detail, refreshed) = state
        .db(move |conn| Ok((user_detail(conn, &id)?, data_changed_at(conn)?)))
        .await?;
    let detail = detail.ok_or(AppError::NotFound)?;
    let layout = Layout::child(
        detail.user.display_name.clone(),
        "registrations",
        ("Registration details", "/registrations"),
    )
    .signed(&viewer)
    .refreshed(refreshed);
    html(UserPage::new(&detail, layout))
}
