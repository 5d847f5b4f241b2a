//! A tenant for the classic reports and the CSV downloads: the worked
//! example, users whose names are hard to write as CSV, and hand-built
//! activities at chosen ages: one reset per details value of the seed, a
//! reset for an unknown user ID, and registrations that stored data or not.

#![allow(clippy::unwrap_used)]

use super::tenant::{build_worked_example, pilot_policy, selected};
use authinsights::db::directory::{put_users, set_user_methods, DirectoryUser};
use authinsights::db::events::record;
use authinsights::db::models::Activity;
use authinsights::db::DbConnection;
use authinsights::domain::{ActivityResult, Details, Feature, Method, MethodSet};
use chrono::{Duration, NaiveDateTime};

/// Users whose names test CSV quoting and formula neutralisation:
/// (id, display name, user name).
pub const AWKWARD_USERS: &[(&str, &str, &str)] = &[
    ("u-comma", "Smith, Jane", "jane.smith@contoso.example"),
    (
        "u-quote",
        "Dwayne \"The Rock\" Jones",
        "dwayne@contoso.example",
    ),
    ("u-newline", "Two\nLines", "two.lines@contoso.example"),
    ("u-accent", "Zoë Łukasz-Ñúñez", "zoe.nunez@contoso.example"),
    (
        "u-equals",
        "=HYPERLINK(\"http://x.example\",\"y\")",
        "equals@contoso.example",
    ),
    ("u-plus", "+44 Desk", "plus@contoso.example"),
    ("u-minus", "-Minus", "minus@contoso.example"),
    ("u-at", "@Home", "at@contoso.example"),
    ("u-tab", "\tTabbed", "tab@contoso.example"),
];

/// One activity of the reports tenant.
#[derive(Debug, Clone)]
pub struct TestActivity {
    pub id: String,
    /// None: a reset for a user ID that matched nobody.
    pub user_id: Option<&'static str>,
    /// The name and user name the report shows.
    pub name: &'static str,
    pub user_name: String,
    pub role: &'static str,
    pub feature: Feature,
    pub methods: MethodSet,
    pub result: ActivityResult,
    pub details: Option<Details>,
    pub minutes_ago: i64,
}

impl TestActivity {
    pub fn at(&self, now: NaiveDateTime) -> NaiveDateTime {
        now - Duration::minutes(self.minutes_ago)
    }
}

fn people() -> Vec<(&'static str, &'static str, String, &'static str)> {
    let mut out: Vec<(&'static str, &'static str, String, &'static str)> = vec![
        ("u-ana", "Ana", "ana@contoso.example".into(), "User"),
        (
            "u-gus",
            "Gus",
            "gus@contoso.example".into(),
            "Global Administrator",
        ),
        ("u-eve", "Eve", "eve@contoso.example".into(), "User"),
    ];
    out.extend(
        AWKWARD_USERS
            .iter()
            .map(|(id, name, upn)| (*id, *name, upn.to_string(), "User")),
    );
    out
}

/// The methods a reset with this detail used.
fn methods_for(details: Details, i: usize) -> MethodSet {
    use Method::*;
    let text = details.text();
    let one = |m: Method| MethodSet::EMPTY.with(m);
    if text.contains("email") {
        one(Email)
    } else if text.contains("SMS") {
        one(MobileSms)
    } else if text.contains("mobile") || text.contains("phone number") {
        one(MobileCall)
    } else if text.contains("office") {
        one(OfficeCall)
    } else if text.contains("security question") {
        one(SecurityQuestions)
    } else if details == Details::AbandonedAfterUserId || details.result() == ActivityResult::Failed
    {
        MethodSet::EMPTY
    } else {
        // Passed the gates: two methods of a two-gate policy.
        [one(Email).with(MobileSms), one(AppCode).with(Email)][i % 2]
    }
}

/// Every activity of the tenant, newest first.
pub fn report_activities() -> Vec<TestActivity> {
    let people = people();
    let mut out = Vec::new();
    // One reset per details value of the seed, all within 30 days: ten in
    // the last 24 hours, fifteen more in the last 7 days, ten older.
    for (i, d) in Details::ALL.iter().enumerate() {
        let (user_id, name, upn, role) = people[i % people.len()].clone();
        let minutes_ago = match i {
            0..=9 => 10 + 100 * i as i64,
            10..=24 => 2 * 1440 + 200 * i as i64,
            _ => 9 * 1440 + 400 * i as i64,
        };
        if *d == Details::AbandonedAfterUserId {
            out.push(TestActivity {
                id: format!("ra-{i:02}"),
                user_id: None,
                name: "(unknown user)",
                user_name: "typo.user@contoso.example".into(),
                role: "",
                feature: Feature::Reset,
                methods: MethodSet::EMPTY,
                result: d.result(),
                details: Some(*d),
                minutes_ago,
            });
            continue;
        }
        out.push(TestActivity {
            id: format!("ra-{i:02}"),
            user_id: Some(user_id),
            name,
            user_name: upn,
            role,
            feature: Feature::Reset,
            methods: methods_for(*d, i),
            result: d.result(),
            details: Some(*d),
            minutes_ago,
        });
    }
    // A reset older than every range.
    out.push(TestActivity {
        id: "ra-old".into(),
        user_id: Some("u-eve"),
        name: "Eve",
        user_name: "eve@contoso.example".into(),
        role: "User",
        feature: Feature::Reset,
        methods: MethodSet::EMPTY
            .with(Method::OfficeCall)
            .with(Method::Email),
        result: ActivityResult::Succeeded,
        details: Some(Details::Succeeded),
        minutes_ago: 40 * 1440,
    });
    // Registrations: data stored, nothing stored, a second method.
    use Method::*;
    let registrations: [(&'static str, &'static [Method], ActivityResult, i64); 5] = [
        ("u-ana", &[Email, MobileSms], ActivityResult::Succeeded, 30),
        (
            "u-comma",
            &[OfficeCall],
            ActivityResult::Succeeded,
            3 * 1440,
        ),
        (
            "u-equals",
            &[SecurityQuestions],
            ActivityResult::Failed,
            4 * 1440,
        ),
        (
            "u-accent",
            &[AppNotification],
            ActivityResult::Succeeded,
            12 * 1440,
        ),
        (
            "u-gus",
            &[MobileCall, MobileSms],
            ActivityResult::Succeeded,
            45 * 1440,
        ),
    ];
    for (i, (user, methods, result, minutes_ago)) in registrations.into_iter().enumerate() {
        let (user_id, name, upn, role) = people.iter().find(|p| p.0 == user).unwrap().clone();
        out.push(TestActivity {
            id: format!("rg-{i:02}"),
            user_id: Some(user_id),
            name,
            user_name: upn,
            role,
            feature: Feature::Registration,
            methods: methods.iter().copied().collect(),
            result,
            details: None,
            minutes_ago,
        });
    }
    out.sort_by_key(|a| a.minutes_ago);
    out
}

/// Writes the worked example, the awkward users and [`report_activities`].
pub fn build_reports(conn: &mut DbConnection, now: NaiveDateTime) {
    build_worked_example(conn);
    let policy = pilot_policy(selected());
    let users: Vec<DirectoryUser> = AWKWARD_USERS
        .iter()
        .map(|(id, name, upn)| DirectoryUser {
            id: id.to_string(),
            display_name: name.to_string(),
            user_principal_name: upn.to_string(),
            is_guest: false,
            directory_role: "User".into(),
            is_admin: false,
            account_enabled: Some(true),
            mfa: Default::default(),
            verdicts_stale: false,
            directory_status: None,
        })
        .collect();
    put_users(conn, &policy, &users, now).expect("the users save");
    set_user_methods(conn, &policy, "u-comma", &[(Method::Email, Some(now))], now)
        .expect("methods save");
    let activities: Vec<Activity> = report_activities()
        .iter()
        .map(|a| Activity {
            id: a.id.clone(),
            user_id: a.user_id.map(str::to_string),
            user_principal_name: a.user_name.clone(),
            user_display_name: if a.user_id.is_some() {
                a.name.to_string()
            } else {
                String::new()
            },
            user_role: a.role.to_string(),
            feature: a.feature.code(),
            methods_mask: a.methods.mask(),
            result: a.result.code(),
            details: a.details.map(|d| d.code()),
            occurred_at: a.at(now),
        })
        .collect();
    record(conn, &activities, &[], now).expect("the activities record");
}
