//! The worked example of docs/design.md as a tenant, written through the same
//! directory functions imports use.

#![allow(clippy::unwrap_used)]

use authinsights::db::directory::{
    put_group, put_users, save_policy, set_group_members, set_user_methods, DirectoryUser,
};
use authinsights::db::imports::ImportSource;
use authinsights::db::DbConnection;
use authinsights::domain::{
    ActivityResult, Details, Feature, Method, PolicyMethod, Scope, SsprPolicy,
};
use authinsights::ingest::format::FileKind;
use authinsights::ingest::import::{ImportFile, ImportKind, ImportOutcome, ImportRequest};
use authinsights::ingest::writer::WriterOptions;
use authinsights::service;
use chrono::{Duration, NaiveDateTime, Utc};

pub const PILOT_GROUP: &str = "group-sspr-pilot";

pub fn pilot_policy(scope: Scope) -> SsprPolicy {
    SsprPolicy::new(
        scope,
        2,
        [
            PolicyMethod::AppNotification,
            PolicyMethod::AppCode,
            PolicyMethod::MobilePhone,
            PolicyMethod::Email,
        ]
        .into_iter()
        .collect(),
    )
    .expect("a valid policy")
}

pub fn selected() -> Scope {
    Scope::Selected {
        group_id: PILOT_GROUP.into(),
    }
}

/// (id, display name, guest, admin, account enabled, in pilot group, methods)
pub type Person = (
    &'static str,
    &'static str,
    bool,
    bool,
    bool,
    bool,
    &'static [Method],
);

pub const WORKED_EXAMPLE: &[Person] = {
    use Method::*;
    &[
        (
            "u-ana",
            "Ana",
            false,
            false,
            true,
            true,
            &[Email, MobileSms],
        ),
        (
            "u-ben",
            "Ben",
            false,
            false,
            true,
            true,
            &[MobileSms, MobileCall],
        ),
        ("u-cai", "Cai", false, false, true, false, &[Email, AppCode]),
        ("u-dee", "Dee", true, false, true, true, &[Email, MobileSms]),
        (
            "u-eve",
            "Eve",
            false,
            false,
            true,
            true,
            &[OfficeCall, SecurityQuestions],
        ),
        (
            "u-fay",
            "Fay",
            false,
            true,
            true,
            false,
            &[AppNotification, Email],
        ),
        (
            "u-gus",
            "Gus",
            false,
            true,
            true,
            false,
            &[Email, SecurityQuestions],
        ),
        (
            "u-hal",
            "Hal",
            false,
            false,
            false,
            true,
            &[Email, MobileSms],
        ),
        ("u-ivy", "Ivy", false, false, true, true, &[Fido2]),
    ]
};

/// Writes the worked example with the policy scoped to the pilot group.
pub fn build_worked_example(conn: &mut DbConnection) {
    let now = Utc::now().naive_utc();
    let policy = pilot_policy(selected());
    save_policy(conn, &policy, Some("test")).expect("the policy saves");
    put_group(conn, PILOT_GROUP, "SSPR pilot").expect("the group saves");
    put_group(conn, "group-other", "Other").expect("the group saves");
    let records: Vec<DirectoryUser> = WORKED_EXAMPLE
        .iter()
        .map(|(id, name, guest, admin, enabled, _, _)| DirectoryUser {
            id: id.to_string(),
            display_name: name.to_string(),
            user_principal_name: format!("{}@contoso.example", name.to_lowercase()),
            is_guest: *guest,
            directory_role: if *admin {
                "Global Administrator"
            } else if *guest {
                "Guest"
            } else {
                "User"
            }
            .into(),
            is_admin: *admin,
            account_enabled: Some(*enabled),
            mfa: Default::default(),
            verdicts_stale: false,
            directory_status: None,
        })
        .collect();
    put_users(conn, &policy, &records, now).expect("the users save");
    let members: Vec<String> = WORKED_EXAMPLE
        .iter()
        .filter(|p| p.5)
        .map(|p| p.0.to_string())
        .collect();
    set_group_members(conn, &policy, PILOT_GROUP, &members, now).expect("members save");
    for (id, _, _, _, _, _, methods) in WORKED_EXAMPLE {
        let list: Vec<(Method, Option<chrono::NaiveDateTime>)> =
            methods.iter().map(|m| (*m, Some(now))).collect();
        set_user_methods(conn, &policy, id, &list, now).expect("methods save");
    }
}

/// One method event of the events tenant, with the activity around it.
#[derive(Debug, Clone)]
pub struct TestEvent {
    pub id: &'static str,
    pub user_id: &'static str,
    pub name: &'static str,
    pub feature: Feature,
    pub method: Method,
    pub success: bool,
    pub reason: Option<&'static str>,
    /// Minutes before now.
    pub minutes_ago: i64,
}

impl TestEvent {
    pub fn at(&self, now: NaiveDateTime) -> NaiveDateTime {
        now - Duration::minutes(self.minutes_ago)
    }
}

/// Events at chosen distances from now: inside 24 hours, 7 days, 30 days, and
/// one outside every range. Newest first.
pub const EVENTS: &[TestEvent] = {
    use Feature::*;
    use Method::*;
    &[
        TestEvent {
            id: "ev-01",
            user_id: "u-ana",
            name: "Ana",
            feature: Reset,
            method: MobileSms,
            success: true,
            reason: None,
            minutes_ago: 60,
        },
        TestEvent {
            id: "ev-02",
            user_id: "u-ana",
            name: "Ana",
            feature: Reset,
            method: Email,
            success: false,
            reason: Some("Invalid verification code"),
            minutes_ago: 120,
        },
        TestEvent {
            id: "ev-03",
            user_id: "u-gus",
            name: "Gus",
            feature: Reset,
            method: Email,
            success: true,
            reason: None,
            minutes_ago: 25 * 60,
        },
        TestEvent {
            id: "ev-04",
            user_id: "u-ben",
            name: "Ben",
            feature: Registration,
            method: MobileSms,
            success: true,
            reason: None,
            minutes_ago: 2 * 1440,
        },
        TestEvent {
            id: "ev-05",
            user_id: "u-eve",
            name: "Eve",
            feature: Reset,
            method: OfficeCall,
            success: false,
            reason: Some("Call not answered"),
            minutes_ago: 3 * 1440,
        },
        TestEvent {
            id: "ev-06",
            user_id: "u-fay",
            name: "Fay",
            feature: Reset,
            method: AppNotification,
            success: true,
            reason: None,
            minutes_ago: 10 * 1440,
        },
        TestEvent {
            id: "ev-07",
            user_id: "u-dee",
            name: "Dee",
            feature: Registration,
            method: Email,
            success: false,
            reason: Some("Verification not completed"),
            minutes_ago: 20 * 1440,
        },
        TestEvent {
            id: "ev-08",
            user_id: "u-cai",
            name: "Cai",
            feature: Reset,
            method: AppCode,
            success: true,
            reason: None,
            minutes_ago: 40 * 1440,
        },
    ]
};

/// Records [`EVENTS`] (each in an activity of its own) the way the portal
/// stores activities: through the importer, from our JSON-lines format, so
/// the stored rows (a method event's activity, its methods mask, the
/// aggregates) are exactly what an import or a live-ingest batch writes.
pub fn build_events(conn: &mut DbConnection, now: NaiveDateTime) {
    let time = |t: NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let mut lines = String::new();
    for e in EVENTS {
        let at = e.at(now);
        let (result, details) = match (e.feature, e.success) {
            (Feature::Reset, true) => (
                ActivityResult::Succeeded,
                Details::for_result(ActivityResult::Succeeded).next(),
            ),
            (Feature::Reset, false) => (
                ActivityResult::Failed,
                Details::for_result(ActivityResult::Failed).next(),
            ),
            (Feature::Registration, true) => (ActivityResult::Succeeded, None),
            (Feature::Registration | Feature::Unlock, false) => (ActivityResult::Failed, None),
            (Feature::Unlock, true) => (ActivityResult::Succeeded, None),
        };
        let mut event = serde_json::json!({
            "id": e.id,
            "method": e.method.key(),
            "success": e.success,
            "occurred_at": time(at),
        });
        if let Some(reason) = e.reason {
            event["failure_reason"] = reason.into();
        }
        let mut activity = serde_json::json!({
            "id": format!("ac-{}", &e.id[3..]),
            "user_id": e.user_id,
            "user_principal_name": format!("{}@contoso.example", e.name.to_lowercase()),
            "user_display_name": e.name,
            "user_role": "User",
            "feature": e.feature.key(),
            "result": result.key(),
            "occurred_at": time(at),
            "events": [event],
        });
        if let Some(d) = details {
            activity["details"] = d.key().into();
        }
        lines.push_str(&activity.to_string());
        lines.push('\n');
    }
    import_activities(conn, &lines);
}

/// Imports activities given as JSON lines of our import format.
pub fn import_activities(conn: &mut DbConnection, lines: &str) {
    import_file(
        conn,
        ImportKind::File(FileKind::Activities),
        "events.jsonl",
        lines.to_string(),
    );
}

/// Imports one file of `kind` named `name` from the command line, as
/// `authinsights import` does; a refused import fails the test.
pub fn import_file(
    conn: &mut DbConnection,
    kind: ImportKind,
    name: &str,
    text: String,
) -> ImportOutcome {
    let request = ImportRequest {
        kind,
        source: ImportSource::CommandLine,
        actor: "test".into(),
        options: WriterOptions {
            bulk: false,
            register_on_success: false,
        },
        strict: false,
    };
    let files = vec![ImportFile {
        name: name.into(),
        reader: Box::new(std::io::Cursor::new(text.into_bytes())),
    }];
    service::imports::import(conn, &request, files)
        .unwrap_or_else(|e| panic!("the import of {name}: {e}"))
}

/// A crowd of `n` generated members (two of them administrators) besides
/// nothing else: enough users that selective filters take the seek path.
/// Returns their ids. Names repeat, so ties are broken by id.
pub fn build_crowd(conn: &mut DbConnection, n: usize) -> Vec<String> {
    let now = Utc::now().naive_utc();
    let policy = SsprPolicy::new(Scope::All, 1, PolicyMethod::ALL.into_iter().collect()).unwrap();
    save_policy(conn, &policy, Some("test")).expect("the policy saves");
    let firsts = ["Zoë", "Ana", "Łukasz", "Renée", "Ben", "O'Neil"];
    let records: Vec<DirectoryUser> = (0..n)
        .map(|i| DirectoryUser {
            id: format!("c-{i:04}"),
            display_name: format!("{} Crowd{:02}", firsts[i % firsts.len()], (i * 7) % 13),
            user_principal_name: format!("crowd.{:04}@contoso.example", (i * 37) % n),
            is_guest: i % 10 == 3,
            directory_role: if i % 61 == 5 {
                "Helpdesk Administrator"
            } else {
                "User"
            }
            .into(),
            is_admin: i % 61 == 5,
            account_enabled: Some(i % 17 != 0),
            mfa: Default::default(),
            verdicts_stale: false,
            directory_status: None,
        })
        .collect();
    put_users(conn, &policy, &records, now).expect("the users save");
    let mut ids = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let methods: &[Method] = match i % 4 {
            0 => &[],
            1 => &[Method::Email],
            2 => &[Method::Email, Method::MobileSms],
            _ => &[Method::Fido2],
        };
        let list: Vec<(Method, Option<NaiveDateTime>)> =
            methods.iter().map(|m| (*m, Some(now))).collect();
        set_user_methods(conn, &policy, &r.id, &list, now).expect("methods save");
        ids.push(r.id.clone());
    }
    ids
}
