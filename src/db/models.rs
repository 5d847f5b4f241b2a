//! Rows as diesel reads and writes them.

use super::schema::*;
use crate::domain::second_factor::MfaDetails;
pub use crate::domain::status::StatusKey;
use crate::domain::{MethodSet, UserStatus};
use crate::domain::{VerdictSource, Verdicts};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
pub struct User {
    pub id: String,
    pub display_name: String,
    pub user_principal_name: String,
    pub is_guest: bool,
    pub directory_role: String,
    pub is_admin: bool,
    /// `None` while no source has said.
    pub account_enabled: Option<bool>,
    pub methods_mask: i32,
    pub is_registered: bool,
    pub is_enabled: bool,
    pub is_capable: bool,
    pub is_mfa_capable: bool,
    pub is_passwordless_capable: bool,
    pub search_text: String,
    pub updated_at: NaiveDateTime,
    /// [`StatusKey::pack`] of the columns above, for the list indexes.
    pub status_key: i64,
    /// Stable key of the user's row in the SQLite search index.
    pub search_rowid: i64,
    /// Statuses a directory export stated ([`crate::domain::Verdicts::pack`]).
    pub directory_status: Option<i32>,
    /// The time the export stated them for.
    pub directory_status_at: Option<NaiveDateTime>,
    /// The rest of Graph's registration details ([`MfaDetails`]).
    pub is_mfa_registered: Option<bool>,
    pub default_mfa_method: Option<String>,
    pub is_system_preferred_enabled: Option<bool>,
    /// Graph's names, comma-separated.
    pub system_preferred_methods: Option<String>,
    pub user_preferred_method: Option<String>,
    pub registration_updated_at: Option<NaiveDateTime>,
    /// A later export that stated verdicts did not include the user.
    pub verdicts_stale: bool,
    /// The source's names of the user's other methods, comma-separated.
    pub other_methods: Option<String>,
}

/// A user as the registration list shows one: names and the packed status
/// key, which the list indexes carry (so a walk checks its filters from the
/// index alone), and what a registration-details export said beyond the key,
/// read from the table for the rows of the page only.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct ListUser {
    pub id: String,
    pub display_name: String,
    pub user_principal_name: String,
    pub status_key: i64,
    pub is_mfa_registered: Option<bool>,
    pub default_mfa_method: Option<String>,
    pub is_system_preferred_enabled: Option<bool>,
    pub system_preferred_methods: Option<String>,
    pub user_preferred_method: Option<String>,
    pub registration_updated_at: Option<NaiveDateTime>,
    pub other_methods: Option<String>,
}

/// The registration-details columns of a user row as one value.
macro_rules! mfa_details_of {
    ($row:expr) => {
        MfaDetails {
            mfa_registered: $row.is_mfa_registered,
            default_mfa_method: $row.default_mfa_method.clone(),
            system_preferred_enabled: $row.is_system_preferred_enabled,
            system_preferred_methods: MfaDetails::split_system_preferred(
                $row.system_preferred_methods.as_deref(),
            ),
            user_preferred_method: $row.user_preferred_method.clone(),
            updated_at: $row.registration_updated_at,
        }
    };
}

/// The source's names of a user's other methods, from their column.
fn other_method_names(column: Option<&str>) -> Vec<String> {
    column
        .map(|n| n.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

impl ListUser {
    /// What Graph's registration details said beyond the five statuses.
    pub fn mfa_details(&self) -> MfaDetails {
        mfa_details_of!(self)
    }

    /// The source's names of the user's other methods.
    pub fn other_method_names(&self) -> Vec<String> {
        other_method_names(self.other_methods.as_deref())
    }

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

    /// The status the user shows under `source`, from the portal's own
    /// computation and what a directory export stated.
    pub fn shown_status(&self, computed: UserStatus, source: VerdictSource) -> UserStatus {
        source.shown(self.verdicts(), computed)
    }

    /// The user's key after an evaluation: the status shown under `source`,
    /// and whether the export's verdicts disagree with the computation.
    pub fn evaluated_key(
        &self,
        computed: UserStatus,
        source: VerdictSource,
        methods_mask: i32,
    ) -> StatusKey {
        StatusKey {
            status: self.shown_status(computed, source),
            disagrees: self.verdicts().is_some_and(|v| v.disagree_with(computed)),
            methods_mask,
            ..self.key()
        }
    }

    /// The source's names of the user's other methods.
    pub fn other_method_names(&self) -> Vec<String> {
        other_method_names(self.other_methods.as_deref())
    }

    /// What Graph's registration details said beyond the five statuses.
    pub fn mfa_details(&self) -> MfaDetails {
        mfa_details_of!(self)
    }

    /// The user's attributes as the status counts group them.
    pub fn key(&self) -> StatusKey {
        let mfa = self.mfa_details();
        StatusKey {
            status: self.status(),
            is_guest: self.is_guest,
            is_admin: self.is_admin,
            account_enabled: self.account_enabled,
            mfa_registered: mfa.mfa_registered,
            default_mfa_method: mfa.default_code(),
            system_preferred_method: mfa.system_preferred_code(),
            // Set by the last evaluation (`evaluated_key`), kept in the key.
            disagrees: self.status_key & crate::domain::status::bits::DISAGREES != 0,
            stale: self.verdicts_stale,
            role_known: !self.directory_role.is_empty(),
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
    /// [`StatusKey::pack`].
    pub status_key: i64,
    pub user_count: i64,
}

impl StatusCountRow {
    pub fn key(&self) -> StatusKey {
        StatusKey::unpack(self.status_key)
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
pub struct NewMember {
    pub group_id: String,
    pub user_id: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = user_methods, treat_none_as_default_value = false)]
pub struct NewUserMethod {
    pub user_id: String,
    pub method: i32,
    pub registered_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = activities, treat_none_as_default_value = false)]
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
#[diesel(table_name = method_events, treat_none_as_default_value = false)]
pub struct MethodEvent {
    pub id: String,
    pub activity_id: Option<String>,
    pub user_id: String,
    pub feature: i32,
    pub method: i32,
    pub success: bool,
    pub failure_reason: Option<String>,
    pub occurred_at: NaiveDateTime,
    /// The source's name of a method this portal does not know
    /// ([`crate::domain::Method::Other`]); `None` for every known method.
    pub method_name: Option<String>,
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

/// An activity as an import stores it, with the import it came in. Owned
/// and flat, so that rows go to SQLite in fixed-size multi-row statements
/// prepared once (see `ingest::bulk`).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = activities, treat_none_as_default_value = false)]
pub struct ImportedActivity {
    pub id: String,
    pub user_id: Option<String>,
    pub user_principal_name: String,
    pub user_display_name: String,
    pub user_role: String,
    pub feature: i32,
    pub methods_mask: i32,
    pub result: i32,
    pub details: Option<i32>,
    pub occurred_at: StoredTime,
    pub import_id: i64,
}

impl ImportedActivity {
    pub fn new(a: Activity, import_id: i64) -> Self {
        ImportedActivity {
            id: a.id,
            user_id: a.user_id,
            user_principal_name: a.user_principal_name,
            user_display_name: a.user_display_name,
            user_role: a.user_role,
            feature: a.feature,
            methods_mask: a.methods_mask,
            result: a.result,
            details: a.details,
            occurred_at: StoredTime::new(a.occurred_at),
            import_id,
        }
    }
}

/// A method event as an import stores it, with the import it came in.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = method_events, treat_none_as_default_value = false)]
pub struct ImportedEvent {
    pub id: String,
    pub activity_id: Option<String>,
    pub user_id: String,
    pub feature: i32,
    pub method: i32,
    pub success: bool,
    pub failure_reason: Option<String>,
    pub occurred_at: StoredTime,
    pub import_id: i64,
    pub method_name: Option<String>,
}

impl ImportedEvent {
    pub fn new(e: MethodEvent, import_id: i64) -> Self {
        ImportedEvent {
            id: e.id,
            activity_id: e.activity_id,
            user_id: e.user_id,
            feature: e.feature,
            method: e.method,
            success: e.success,
            failure_reason: e.failure_reason,
            occurred_at: StoredTime::new(e.occurred_at),
            import_id,
            method_name: e.method_name,
        }
    }

    /// The event as it is read back.
    pub fn as_event(&self) -> MethodEvent {
        MethodEvent {
            id: self.id.clone(),
            activity_id: self.activity_id.clone(),
            user_id: self.user_id.clone(),
            feature: self.feature,
            method: self.method,
            success: self.success,
            failure_reason: self.failure_reason.clone(),
            occurred_at: self.occurred_at.at,
            method_name: self.method_name.clone(),
        }
    }
}

/// A time to store, with its SQLite text made once by a formatter that
/// writes exactly what diesel's does (`%F %T%.f`) at a small part of its
/// cost: a bulk import stores millions of them.
#[derive(Debug, Clone, diesel::AsExpression)]
#[diesel(sql_type = diesel::sql_types::Timestamp)]
pub struct StoredTime {
    pub at: NaiveDateTime,
    text: String,
}

impl StoredTime {
    pub fn new(at: NaiveDateTime) -> Self {
        StoredTime {
            at,
            text: sqlite_time_text(at),
        }
    }
}

impl diesel::serialize::ToSql<diesel::sql_types::Timestamp, diesel::sqlite::Sqlite> for StoredTime {
    fn to_sql<'b>(
        &'b self,
        out: &mut diesel::serialize::Output<'b, '_, diesel::sqlite::Sqlite>,
    ) -> diesel::serialize::Result {
        out.set_value(self.text.as_str());
        Ok(diesel::serialize::IsNull::No)
    }
}

impl diesel::serialize::ToSql<diesel::sql_types::Timestamp, diesel::pg::Pg> for StoredTime {
    fn to_sql<'b>(
        &'b self,
        out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
    ) -> diesel::serialize::Result {
        diesel::serialize::ToSql::<diesel::sql_types::Timestamp, diesel::pg::Pg>::to_sql(
            &self.at, out,
        )
    }
}

/// `at` as diesel stores a timestamp in SQLite: `%F %T%.f`, the fraction
/// left out when zero, else in 3, 6 or 9 digits, as few as keep it exact.
fn sqlite_time_text(at: NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    let year = at.year();
    let nanos = at.nanosecond();
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        // Signed years and leap seconds: chrono's own formatter.
        return at.format("%F %T%.f").to_string();
    }
    let mut digits = [0u8; 29];
    let mut put = |at: usize, value: u32, width: usize| {
        let mut v = value;
        for i in (at..at + width).rev() {
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year as u32, 4);
    put(5, at.month(), 2);
    put(8, at.day(), 2);
    put(11, at.hour(), 2);
    put(14, at.minute(), 2);
    put(17, at.second(), 2);
    let len = if nanos == 0 {
        19
    } else if nanos.is_multiple_of(1_000_000) {
        put(20, nanos / 1_000_000, 3);
        23
    } else if nanos.is_multiple_of(1_000) {
        put(20, nanos / 1_000, 6);
        26
    } else {
        put(20, nanos, 9);
        29
    };
    for (i, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b' '),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
    ] {
        digits[i] = c;
    }
    digits[..len].iter().map(|b| char::from(*b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_time_text_is_what_diesel_writes() {
        let base = chrono::NaiveDate::from_ymd_opt(2026, 10, 25)
            .and_then(|d| d.and_hms_opt(3, 38, 32))
            .expect("a valid time");
        let mut times = vec![
            base,
            chrono::NaiveDate::from_ymd_opt(1, 1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .expect("a valid time"),
            chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
                .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 999_999_999))
                .expect("a valid time"),
            chrono::NaiveDate::from_ymd_opt(-44, 3, 15)
                .and_then(|d| d.and_hms_opt(12, 0, 0))
                .expect("a valid time"),
            chrono::NaiveDate::from_ymd_opt(10_000, 1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .expect("a valid time"),
            chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
                .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
                .expect("a leap second"),
        ];
        for nanos in [
            1,
            999,
            1_000,
            120_000,
            199_204_000,
            199_204_391,
            5_000_000,
            500_000_000,
        ] {
            times.push(base + chrono::Duration::nanoseconds(nanos));
        }
        for minutes in (0..2_000_000).step_by(7_919) {
            times.push(
                base + chrono::Duration::minutes(minutes)
                    + chrono::Duration::microseconds(minutes * 37),
            );
        }
        for t in times {
            assert_eq!(
                sqlite_time_text(t),
                t.format("%F %T%.f").to_string(),
                "{t:?}"
            );
        }
    }
}
