//! `/users/{id}`: one user's figures, each explained in words.

use super::auth::Viewer;
use super::describe::{explanations, policy_text, standing, stored_differs, system_preferred_text};
use super::error::{AppError, AppResult};
use super::forms::{yes_no, yes_no_unknown, UNKNOWN};
use super::layout::Layout;
use super::params::{href, query_string};
use super::{html, AppState};
use crate::db::counts::data_changed_at;
use crate::db::users::{user_detail, UserDetail};
use crate::domain::explain::Explanation;
use crate::domain::second_factor::{self, MfaDetails};
use crate::domain::{ActivityResult, Details, Feature, Method, MethodSet};
use crate::web::auth;
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpResponse};
use askama::Template;

pub struct MethodRow {
    pub name: String,
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

/// Graph's registration details of the user, as the page shows them.
pub struct RegistrationFacts {
    pub mfa_registered: &'static str,
    pub default_mfa_method: String,
    pub user_preferred: String,
    pub system_preferred: String,
    pub last_updated: String,
}

impl RegistrationFacts {
    /// `None` for a user no registration-details export described.
    fn of(mfa: &MfaDetails) -> Option<RegistrationFacts> {
        if *mfa == MfaDetails::default() {
            return None;
        }
        let name = |n: &Option<String>| {
            n.as_deref()
                .map_or(UNKNOWN.into(), |n| second_factor::display(n).into_owned())
        };
        Some(RegistrationFacts {
            mfa_registered: yes_no_unknown(mfa.mfa_registered),
            default_mfa_method: name(&mfa.default_mfa_method),
            user_preferred: name(&mfa.user_preferred_method),
            system_preferred: system_preferred_text(
                mfa.joined_system_preferred().as_deref(),
                mfa.system_preferred_enabled,
            ),
            last_updated: mfa.updated_at.map_or(UNKNOWN.into(), |t| {
                t.format("%Y-%m-%d %H:%M UTC").to_string()
            }),
        })
    }
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
    /// Yes, No or "—" (no source said).
    pub account_enabled: &'static str,
    pub account_disabled: bool,
    /// What a registration-details export said beyond the statuses.
    pub registration: Option<RegistrationFacts>,
    pub explanations: Vec<Explanation>,
    /// Set when the stored figures differ from the rules applied now.
    pub stored_differs: bool,
    /// Set when the user's directory-stated statuses are stale.
    pub stale_note: Option<String>,
    pub policy_text: String,
    pub methods: Vec<MethodRow>,
    pub groups: Vec<String>,
    pub activities: Vec<ActivityRow>,
    pub events_href: String,
}

impl UserPage {
    pub fn new(d: &UserDetail, layout: Layout) -> UserPage {
        let u = &d.user;
        let other_names = u.other_method_names();
        let method_rows = d
            .methods
            .iter()
            .map(|(m, at)| MethodRow {
                name: match m {
                    Method::Other if !other_names.is_empty() => other_names.join(", "),
                    m => m.display_name().to_string(),
                },
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
                methods: MethodSet::from_mask(x.methods_mask).classic_display(),
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
            role: if u.directory_role.is_empty() {
                UNKNOWN.to_string()
            } else {
                u.directory_role.clone()
            },
            user_type: if u.is_guest { "Guest" } else { "Member" },
            admin: yes_no(u.is_admin),
            account_enabled: yes_no_unknown(u.account_enabled),
            account_disabled: u.account_enabled == Some(false),
            registration: RegistrationFacts::of(&u.mfa_details()),
            explanations: explanations(d),
            stored_differs: stored_differs(d),
            stale_note: u
                .verdicts_stale
                .then_some(u.directory_status_at)
                .flatten()
                .map(|at| {
                    format!(
                        "The directory export of {} stated this user's statuses; a newer export did not include the user (deleted since, or outside its scope), so they may be out of date.",
                        at.format("%Y-%m-%d %H:%M UTC")
                    )
                }),
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
