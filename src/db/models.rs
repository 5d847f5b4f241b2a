//! Rows as diesel reads and writes them.

use super::schema::*;
pub use crate::domain::status::StatusKey;
use crate::domain::{MethodSet, UserStatus};
use crate::ingest::records::Verdicts;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub display_name: String,
    pub user_principal_name: String,
    pub is_guest: bool,
    pub directory_role: String,
    pub is_admin: bool,
    pub account_enabled: bool,
    pub methods_mask: i32,
    pub is_registered: bool,
    pub is_enabled: bool,
    pub is_capable: bool,
    pub is_mfa_capable: bool,
    pub is_passwordless_capable: bool,
    pub search_text: String,
    pub updated_at: NaiveDateTime,
    /// [`StatusKey::pack`] of the columns above, for the list indexes.
    pub status_key: i32,
    /// Stable key of the user's row in the SQLite search index.
    pub search_rowid: i64,
    /// Statuses a directory export stated ([`crate::ingest::records::Verdicts::pack`]).
    pub directory_status: Option<i32>,
    /// The time the export stated them for.
    pub directory_status_at: Option<NaiveDateTime>,
}

/// A user as the registration list shows one: names and the packed status
/// key, every column of which the list indexes carry, so a list (or its CSV)
/// reads the index alone.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct ListUser {
    pub id: String,
    pub display_name: String,
    pub user_principal_name: String,
    pub status_key: i32,
}

impl ListUser {
    pub fn key(&self) -> StatusKey {
        StatusKey::unpack(self.status_key)
    }

    pub fn methods(&self) -> MethodSet {
        MethodSet::from_mask(self.key().methods_mask)
    }
}

impl User {
    pub fn status(&self) -> UserStatus {
        UserStatus {
            registered: self.is_registered,
            enabled: self.is_enabled,
            capable: self.is_capable,
            mfa_capable: self.is_mfa_capable,
            passwordless_capable: self.is_passwordless_capable,
        }
    }

    pub fn methods(&self) -> MethodSet {
        MethodSet::from_mask(self.methods_mask)
    }

    /// The statuses a directory export stated for the user, if any.
    pub fn verdicts(&self) -> Option<Verdicts> {
        self.directory_status.map(Verdicts::unpack)
    }

    /// The status the user shows: what a directory export stated, and the
    /// portal's own computation for whatever it did not.
    pub fn shown_status(&self, computed: UserStatus) -> UserStatus {
        match self.verdicts() {
            Some(v) => v.apply(computed),
            None => computed,
        }
    }

    /// The user's attributes as the status counts group them.
    pub fn key(&self) -> StatusKey {
        StatusKey {
            status: self.status(),
            is_guest: self.is_guest,
            is_admin: self.is_admin,
            account_enabled: self.account_enabled,
            methods_mask: self.methods_mask,
        }
    }
}

/// The text the search box matches: both names, lower-cased once at write time.
pub fn search_text(display_name: &str, user_principal_name: &str) -> String {
    format!(
        "{}\n{}",
        display_name.to_lowercase(),
        user_principal_name.to_lowercase()
    )
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = user_status_counts)]
pub struct StatusCountRow {
    pub is_registered: bool,
    pub is_enabled: bool,
    pub is_capable: bool,
    pub is_mfa_capable: bool,
    pub is_passwordless_capable: bool,
    pub is_guest: bool,
    pub is_admin: bool,
    pub account_enabled: bool,
    pub methods_mask: i32,
    pub user_count: i64,
}

impl StatusCountRow {
    pub fn key(&self) -> StatusKey {
        StatusKey {
            status: UserStatus {
                registered: self.is_registered,
                enabled: self.is_enabled,
                capable: self.is_capable,
                mfa_capable: self.is_mfa_capable,
                passwordless_capable: self.is_passwordless_capable,
            },
            is_guest: self.is_guest,
            is_admin: self.is_admin,
            account_enabled: self.account_enabled,
            methods_mask: self.methods_mask,
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = directory_groups)]
pub struct NewGroup<'a> {
    pub id: &'a str,
    pub display_name: &'a str,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = group_members)]
pub struct NewMember<'a> {
    pub group_id: &'a str,
    pub user_id: &'a str,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = user_methods)]
pub struct NewUserMethod<'a> {
    pub user_id: &'a str,
    pub method: i32,
    pub registered_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = activities)]
pub struct Activity {
    pub id: String,
    pub user_id: Option<String>,
    pub user_principal_name: String,
    pub user_display_name: String,
    pub user_role: String,
    pub feature: i32,
    pub methods_mask: i32,
    pub result: i32,
    pub details: Option<i32>,
    pub occurred_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = method_events)]
pub struct MethodEvent {
    pub id: String,
    pub activity_id: Option<String>,
    pub user_id: String,
    pub feature: i32,
    pub method: i32,
    pub success: bool,
    pub failure_reason: Option<String>,
    pub occurred_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sspr_policy)]
pub struct PolicyRow {
    pub scope: String,
    pub group_id: Option<String>,
    pub methods_required: i32,
    pub allowed_methods: i32,
    pub updated_at: NaiveDateTime,
    pub updated_by: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub disabled: bool,
    pub must_change_password: bool,
    pub created_at: NaiveDateTime,
    pub last_sign_in_at: Option<NaiveDateTime>,
    pub password_changed_at: Option<NaiveDateTime>,
}

/// An activity as an import stores it, with the import it came in.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = activities)]
pub struct ImportedActivity<'a> {
    pub id: &'a str,
    pub user_id: Option<&'a str>,
    pub user_principal_name: &'a str,
    pub user_display_name: &'a str,
    pub user_role: &'a str,
    pub feature: i32,
    pub methods_mask: i32,
    pub result: i32,
    pub details: Option<i32>,
    pub occurred_at: NaiveDateTime,
    pub import_id: i64,
}

impl<'a> ImportedActivity<'a> {
    pub fn new(a: &'a Activity, import_id: i64) -> Self {
        ImportedActivity {
            id: &a.id,
            user_id: a.user_id.as_deref(),
            user_principal_name: &a.user_principal_name,
            user_display_name: &a.user_display_name,
            user_role: &a.user_role,
            feature: a.feature,
            methods_mask: a.methods_mask,
            result: a.result,
            details: a.details,
            occurred_at: a.occurred_at,
            import_id,
        }
    }
}

/// A method event as an import stores it, with the import it came in.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = method_events)]
pub struct ImportedEvent<'a> {
    pub id: &'a str,
    pub activity_id: Option<&'a str>,
    pub user_id: &'a str,
    pub feature: i32,
    pub method: i32,
    pub success: bool,
    pub failure_reason: Option<&'a str>,
    pub occurred_at: NaiveDateTime,
    pub import_id: i64,
}

impl<'a> ImportedEvent<'a> {
    pub fn new(e: &'a MethodEvent, import_id: i64) -> Self {
        ImportedEvent {
            id: &e.id,
            activity_id: e.activity_id.as_deref(),
            user_id: &e.user_id,
            feature: e.feature,
            method: e.method,
            success: e.success,
            failure_reason: e.failure_reason.as_deref(),
            occurred_at: e.occurred_at,
            import_id,
        }
    }
}
