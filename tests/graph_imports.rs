//! Microsoft Graph exports through `service::imports::import`, on both backends, checked
//! against the figures `tests/fixtures/graph/README.md` promises: each
//! resource gives its users (with the directory's verdicts as their status),
//! methods, events and activities, and the counts the overview reads; a
//! paged export is the same as one page; all files together give the
//! README's overall figures; a re-import changes nothing; bad input stops
//! the import, names file, record and field, and stores nothing; and the
//! export's verdicts win over the portal's own policy, while users without
//! verdicts follow it.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::db::counts::rebuild_status_counts;
use authinsights::db::directory::save_policy;
use authinsights::db::imports::ImportSource;
use authinsights::db::models::{Activity, MethodEvent, User};
use authinsights::db::overview::{status_totals, StatusTotals};
use authinsights::db::schema::{activities, method_events, user_methods, users};
use authinsights::db::DbConnection;
use authinsights::domain::Verdicts;
use authinsights::domain::{
    ActivityResult, Details, Feature, Method, PolicyMethod, Scope, SsprPolicy,
};
use authinsights::ingest::format::FileKind;
use authinsights::ingest::graph::events_summary_id;
use authinsights::ingest::import::{ImportFile, ImportKind, ImportOutcome, ImportRequest};
use authinsights::ingest::records::{ImportError, Position, Stop};
use authinsights::ingest::writer::{Summary, Tally, WriterOptions};
use authinsights::service::imports as import_service;
use chrono::{NaiveDateTime, SubsecRound, Utc};
use common::aggregates::{recount, stored_aggregates, ActivityCounts, EventCounts};
use common::{Backend, TestDb};
use diesel::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::Path;

// ---------------------------------------------------------------------------
// The fixtures and what the README says of them

const URD: &str = "user-registration-details.json";
const PAGE1: &str = "user-registration-details-page1.json";
const PAGE2: &str = "user-registration-details-page2.json";
const URD_JSONL: &str = "user-registration-details.jsonl";
const CREDENTIAL: &str = "credential-user-registration-details.json";
const USAGE: &str = "user-credential-usage-details.json";
const SUMMARY: &str = "user-events-summary.json";
const AUDITS: &str = "directory-audits.json";

/// Every fixture, in the README's order.
const ALL_FILES: [&str; 8] = [
    URD, PAGE1, PAGE2, URD_JSONL, CREDENTIAL, USAGE, SUMMARY, AUDITS,
];
/// The files that hold users.
const USER_FILES: [&str; 5] = [URD, PAGE1, PAGE2, URD_JSONL, CREDENTIAL];

/// The time every dated verdict of the fixtures is stated for.
const AS_OF: &str = "2025-05-19 23:10:41.6195833";

/// One row of the README's users table.
struct Person {
    name: &'static str,
    id: &'static str,
    upn: &'static str,
    file: &'static str,
    guest: bool,
    admin: bool,
    /// The status the user shows: registered, enabled, capable, MFA
    /// capable, passwordless capable (stated by the export, or for the "—"
    /// cells computed from the methods).
    shows: [bool; 5],
    /// The export states MFA and passwordless verdicts too (every
    /// userRegistrationDetails record; no credentialUserRegistrationDetails one).
    states_all: bool,
    /// `None`: dated at import time.
    as_of: Option<&'static str>,
    methods: &'static [Method],
}

impl Person {
    fn verdicts(&self) -> Verdicts {
        let [r, e, c, m, p] = self.shows;
        Verdicts {
            registered: Some(r),
            enabled: Some(e),
            capable: Some(c),
            mfa_capable: self.states_all.then_some(m),
            passwordless_capable: self.states_all.then_some(p),
        }
    }
}

const T: bool = true;
const F: bool = false;

const PEOPLE: [Person; 15] = {
    use Method::*;
    [
        Person {
            name: "Adele Vance",
            id: "3b09d766-9c46-4e3b-8714-bea012dfd494",
            upn: "AdeleV@contoso.com",
            file: URD,
            guest: F,
            admin: F,
            shows: [T, T, T, T, F],
            states_all: T,
            as_of: Some(AS_OF),
            methods: &[MobileCall, MobileSms, Email],
        },
        Person {
            name: "Alex Wilber",
            id: "2b64e613-fcd9-46b5-b4ea-8a96f1d38c6b",
            upn: "AlexW@contoso.com",
            file: URD,
            guest: F,
            admin: F,
            shows: [T, T, T, T, F],
            states_all: T,
            as_of: Some(AS_OF),
            methods: &[AppNotification, AppCode],
        },
        Person {
            name: "Megan Bowen",
            id: "d9fafcd9-2aea-4b67-82f5-ba33488140ed",
            upn: "MeganB@contoso.com",
            file: URD,
            guest: F,
            admin: T,
            shows: [T, T, T, T, T],
            states_all: T,
            as_of: Some(AS_OF),
            methods: &[AppNotification, Email, Fido2, WindowsHello],
        },
        Person {
            name: "Bianca Pisani",
            id: "0c359533-f728-40a7-9415-c5a84c61819e",
            upn: "bianca.pisani_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            file: URD,
            guest: T,
            admin: F,
            shows: [F, F, F, F, F],
            states_all: T,
            as_of: Some(AS_OF),
            methods: &[Email],
        },
        Person {
            name: "Lee Gu",
            id: "0e0dcbc8-29fa-4262-891f-c8596aa5b554",
            upn: "LeeG@contoso.com",
            file: URD,
            guest: F,
            admin: F,
            shows: [F, F, F, F, F],
            states_all: T,
            as_of: None,
            methods: &[],
        },
        Person {
            name: "Isaiah Langer",
            id: "adcb01c9-e906-4494-9732-c71e62081f66",
            upn: "IsaiahL@contoso.com",
            file: URD,
            guest: F,
            admin: F,
            shows: [F, T, F, T, F],
            states_all: T,
            as_of: Some(AS_OF),
            methods: &[OfficeCall, SecurityQuestions],
        },
        Person {
            name: "Johanna Lorenz",
            id: "311e41a2-9921-4662-b0c2-b4ed38422645",
            upn: "JohannaL@contoso.com",
            file: PAGE1,
            guest: F,
            admin: F,
            shows: [F, T, F, T, F],
            states_all: T,
            as_of: Some(AS_OF),
            methods: &[MobileCall, MobileSms],
        },
        Person {
            name: "Joni Sherman",
            id: "d95edba9-32f4-4afe-bf4d-70c33b52f636",
            upn: "JoniS@contoso.com",
            file: PAGE1,
            guest: F,
            admin: F,
            shows: [T, T, T, T, F],
            states_all: T,
            as_of: Some(AS_OF),
            methods: &[AppNotification, Email],
        },
        Person {
            name: "Lynne Robbins",
            id: "e1c85602-a07a-4013-aad2-b8741f0d61d1",
            upn: "LynneR@contoso.com",
            file: PAGE2,
            guest: F,
            admin: T,
            shows: [F, T, F, T, F],
            states_all: T,
            as_of: Some(AS_OF),
            methods: &[HardwareOtp, TemporaryAccessPass],
        },
        Person {
            name: "Nestor Wilke",
            id: "f0c66c7e-4694-4e88-b8cf-1a4f55c30963",
            upn: "NestorW@contoso.com",
            file: PAGE2,
            guest: F,
            admin: F,
            shows: [F, T, F, T, T],
            states_all: T,
            as_of: Some(AS_OF),
            methods: &[MobileCall, MobileSms, Passkey, AuthenticatorPasswordless],
        },
        Person {
            name: "Pradeep Gupta",
            id: "969c8dc4-1abc-4889-9eef-4c140a5c16be",
            upn: "PradeepG@contoso.com",
            file: URD_JSONL,
            guest: F,
            admin: F,
            shows: [T, T, T, F, F],
            states_all: T,
            as_of: Some(AS_OF),
            methods: &[Email, SecurityQuestions],
        },
        Person {
            name: "Grady Archie",
            id: "d99ed7fb-354f-40ae-8621-6fafbeb78bff",
            upn: "grady.archie_tailspin.com#EXT#@contoso.onmicrosoft.com",
            file: URD_JSONL,
            guest: T,
            admin: F,
            shows: [F, F, F, T, F],
            states_all: T,
            as_of: Some(AS_OF),
            methods: &[MobileCall, MobileSms],
        },
        // credentialUserRegistrationDetails: no type or admin flag (member,
        // not admin), no MFA or passwordless verdict (computed: a phone or
        // the app is a second factor; security questions are not).
        Person {
            name: "Henrietta Mueller",
            id: "d25fe64d-7aa6-41cb-9607-984bf28a3a0f",
            upn: "HenriettaM@contoso.com",
            file: CREDENTIAL,
            guest: F,
            admin: F,
            shows: [T, T, T, T, F],
            states_all: F,
            as_of: None,
            methods: &[MobileCall, MobileSms, Email],
        },
        Person {
            name: "Miriam Graham",
            id: "a5934928-5d81-4b29-8137-04dffe8feaa0",
            upn: "MiriamG@contoso.com",
            file: CREDENTIAL,
            guest: F,
            admin: F,
            shows: [T, T, T, T, F],
            states_all: F,
            as_of: None,
            methods: &[AppNotification, AppCode],
        },
        Person {
            name: "Patti Fernandez",
            id: "06d59dca-553d-4e0b-8d8c-ff70f673804a",
            upn: "PattiF@contoso.com",
            file: CREDENTIAL,
            guest: F,
            admin: F,
            shows: [F, T, F, F, F],
            states_all: F,
            as_of: None,
            methods: &[SecurityQuestions],
        },
    ]
};

fn person(name: &str) -> &'static Person {
    PEOPLE
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{name} is in the README"))
}

fn people_of(files: &[&str]) -> Vec<&'static Person> {
    PEOPLE.iter().filter(|p| files.contains(&p.file)).collect()
}

/// One method event of the README: event id, activity, user's name,
/// feature, method, failure reason (`None`: a success), time.
type EventRow = (
    &'static str,
    Option<&'static str>,
    &'static str,
    Feature,
    Method,
    Option<&'static str>,
    &'static str,
);

const USAGE_EVENTS: [EventRow; 7] = [
    (
        "58a4408d-ceed-4231-b119-7b81aff197e6",
        None,
        "Adele Vance",
        Feature::Reset,
        Method::MobileSms,
        None,
        "2025-05-18 09:14:02",
    ),
    (
        "ad441cec-6a46-4750-8b05-0730b3fac5cb",
        None,
        "Adele Vance",
        Feature::Reset,
        Method::Email,
        None,
        "2025-05-18 09:14:40",
    ),
    (
        "6743eb14-c904-4214-9ca4-f9ae5544adc8",
        None,
        "Alex Wilber",
        Feature::Registration,
        Method::AppNotification,
        None,
        "2025-05-17 16:02:11",
    ),
    (
        "0ff24816-d31b-43f9-942c-d5fff0834038",
        None,
        "Isaiah Langer",
        Feature::Reset,
        Method::OfficeCall,
        Some("User contacted an admin after trying the office voice call verification option"),
        "2025-05-18 11:20:05",
    ),
    (
        "5b604488-0650-41a5-a162-8a80106948f1",
        None,
        "Johanna Lorenz",
        Feature::Registration,
        Method::MobileSms,
        Some("Invalid verification code"),
        "2025-05-16 13:45:00",
    ),
    (
        "faa91f0a-d944-44b8-8719-00f63261a638",
        None,
        "Joni Sherman",
        Feature::Reset,
        Method::AppCode,
        None,
        "2025-05-19 07:30:59",
    ),
    // Graph writes a failure reason for this success; a success keeps none.
    (
        "5b02e321-5948-40e7-af5c-221b552e8e6b",
        None,
        "Henrietta Mueller",
        Feature::Registration,
        Method::MobileCall,
        None,
        "2025-05-15 10:12:45",
    ),
];

const SUMMARY_EVENTS: [EventRow; 5] = [
    (
        "ues-39b201e17cbb427d907eb3acc0d1150b",
        None,
        "Megan Bowen",
        Feature::Registration,
        Method::AppNotification,
        None,
        "2025-05-15 16:19:18",
    ),
    (
        "ues-5f74545815b71a50addaa72343dfd4d0",
        None,
        "Megan Bowen",
        Feature::Registration,
        Method::Fido2,
        None,
        "2025-05-15 16:22:47",
    ),
    (
        "ues-e36c705d8e984910afcd12d132c1e86a",
        None,
        "Nestor Wilke",
        Feature::Reset,
        Method::MobileSms,
        Some("Invalid verification code"),
        "2025-05-19 10:03:12",
    ),
    (
        "ues-7c9d4228639866061f8c2b98154c5b48",
        None,
        "Pradeep Gupta",
        Feature::Reset,
        Method::SecurityQuestions,
        None,
        "2025-05-19 12:00:00",
    ),
    (
        "ues-b231422f658ed1a4dabb3c4542041e3e",
        None,
        "Miriam Graham",
        Feature::Registration,
        Method::AppCode,
        None,
        "2025-05-14 08:41:30",
    ),
];

const LYNNE_REG: &str = "aud-reg-ee64c533-0c00-4e41-8d2c-c5827a2091dd";
const BIANCA_RESET: &str = "aud-7bcc39fe-8df4-468f-831c-d9a8a54ec63d";
const ALEX_REG: &str = "aud-reg-3e726244-61d8-4cbd-a21e-6a3823fc23aa";
const ADELE_RESET: &str = "aud-39568dde-f8c4-4415-a77b-73852ef0d04a";
const ISAIAH_RESET: &str = "aud-65d50277-8a6b-446d-a752-aa3e78f428cb";
const JOHANNA_RESET: &str = "aud-3eafc59c-56a4-440a-a86f-910b75310000";
const UNKNOWN_RESET: &str = "aud-e046df9d-932a-45d9-a3c3-75317ed0f010";

const AUDIT_EVENTS: [EventRow; 7] = [
    (
        "aud-reg-ee64c533-0c00-4e41-8d2c-c5827a2091dd-1",
        Some(LYNNE_REG),
        "Lynne Robbins",
        Feature::Registration,
        Method::AppCode,
        Some("User failed to register Authenticator App with Code"),
        "2025-05-16 13:45:00",
    ),
    (
        "aud-reg-3e726244-61d8-4cbd-a21e-6a3823fc23aa-1",
        Some(ALEX_REG),
        "Alex Wilber",
        Feature::Registration,
        Method::AppNotification,
        None,
        "2025-05-17 16:02:11",
    ),
    (
        "aud-reg-3e726244-61d8-4cbd-a21e-6a3823fc23aa-2",
        Some(ALEX_REG),
        "Alex Wilber",
        Feature::Registration,
        Method::AppCode,
        None,
        "2025-05-17 16:02:11",
    ),
    (
        "aud-39568dde-f8c4-4415-a77b-73852ef0d04a-1",
        Some(ADELE_RESET),
        "Adele Vance",
        Feature::Reset,
        Method::MobileSms,
        None,
        "2025-05-18 09:14:02",
    ),
    (
        "aud-39568dde-f8c4-4415-a77b-73852ef0d04a-2",
        Some(ADELE_RESET),
        "Adele Vance",
        Feature::Reset,
        Method::Email,
        None,
        "2025-05-18 09:14:40",
    ),
    (
        "aud-65d50277-8a6b-446d-a752-aa3e78f428cb-1",
        Some(ISAIAH_RESET),
        "Isaiah Langer",
        Feature::Reset,
        Method::SecurityQuestions,
        Some("User tried to answer security questions too many times and is blocked for 24 hours"),
        "2025-05-18 11:02:15",
    ),
    (
        "aud-3eafc59c-56a4-440a-a86f-910b75310000-1",
        Some(JOHANNA_RESET),
        "Johanna Lorenz",
        Feature::Reset,
        Method::MobileCall,
        Some("User abandoned after starting the mobile voice call verification option"),
        "2025-05-19 14:40:30",
    ),
];

/// One activity of the README: id, user's name (`None`: unknown), feature,
/// time of the earliest entry, result, details, methods.
type ActivityRow = (
    &'static str,
    Option<&'static str>,
    Feature,
    &'static str,
    ActivityResult,
    Option<Details>,
    &'static [Method],
);

const AUDIT_ACTIVITIES: [ActivityRow; 7] = [
    (
        LYNNE_REG,
        Some("Lynne Robbins"),
        Feature::Registration,
        "2025-05-16 13:45:00",
        ActivityResult::Failed,
        None,
        &[Method::AppCode],
    ),
    (
        BIANCA_RESET,
        Some("Bianca Pisani"),
        Feature::Reset,
        "2025-05-17 10:00:00",
        ActivityResult::Failed,
        Some(Details::FailedNotEnabled),
        &[],
    ),
    (
        ALEX_REG,
        Some("Alex Wilber"),
        Feature::Registration,
        "2025-05-17 16:01:30",
        ActivityResult::Succeeded,
        None,
        &[Method::AppNotification, Method::AppCode],
    ),
    (
        ADELE_RESET,
        Some("Adele Vance"),
        Feature::Reset,
        "2025-05-18 09:13:31.1234567",
        ActivityResult::Succeeded,
        Some(Details::Succeeded),
        &[Method::MobileSms, Method::Email],
    ),
    (
        ISAIAH_RESET,
        Some("Isaiah Langer"),
        Feature::Reset,
        "2025-05-18 11:02:00",
        ActivityResult::Blocked,
        Some(Details::BlockedSecurityQuestions),
        &[Method::SecurityQuestions],
    ),
    (
        JOHANNA_RESET,
        Some("Johanna Lorenz"),
        Feature::Reset,
        "2025-05-19 14:40:10",
        ActivityResult::Abandoned,
        Some(Details::AbandonedAfterMobileCallStarted),
        &[Method::MobileCall],
    ),
    (
        UNKNOWN_RESET,
        None,
        Feature::Reset,
        "2025-05-19 20:05:44",
        ActivityResult::Abandoned,
        Some(Details::AbandonedAfterUserId),
        &[],
    ),
];

fn t(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// A time as both backends keep it: PostgreSQL's timestamps hold
/// microseconds (diesel truncates), Graph writes tenths of microseconds.
fn micros(at: NaiveDateTime) -> NaiveDateTime {
    at.trunc_subsecs(6)
}

fn mask(methods: &[Method]) -> i32 {
    methods.iter().fold(0, |m, x| m | x.bit())
}

fn event(row: &EventRow) -> MethodEvent {
    let (id, activity, name, feature, method, failure, at) = *row;
    MethodEvent {
        id: id.to_string(),
        activity_id: activity.map(str::to_string),
        user_id: person(name).id.to_string(),
        feature: feature.code(),
        method: method.code(),
        success: failure.is_none(),
        failure_reason: failure.map(str::to_string),
        occurred_at: t(at),
        method_name: None,
    }
}

fn events_of(rows: &[&[EventRow]]) -> Vec<MethodEvent> {
    let mut out: Vec<MethodEvent> = rows.iter().flat_map(|r| r.iter()).map(event).collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn activity(row: &ActivityRow) -> Activity {
    let (id, name, feature, at, result, details, methods) = *row;
    let who = name.map(person);
    Activity {
        id: id.to_string(),
        user_id: who.map(|p| p.id.to_string()),
        user_principal_name: who.map_or("adele.vance@contoso.com", |p| p.upn).to_string(),
        user_display_name: who.map_or("", |p| p.name).to_string(),
        user_role: String::new(),
        feature: feature.code(),
        methods_mask: mask(methods),
        result: result.code(),
        details: details.map(Details::code),
        occurred_at: micros(t(at)),
    }
}

fn expected_activities() -> Vec<Activity> {
    let mut out: Vec<Activity> = AUDIT_ACTIVITIES.iter().map(activity).collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

// ---------------------------------------------------------------------------
// Running imports

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/graph/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn request(kind: ImportKind) -> ImportRequest {
    ImportRequest {
        kind,
        source: ImportSource::CommandLine,
        actor: "test".into(),
        options: WriterOptions {
            bulk: false,
            register_on_success: false,
        },
        strict: false,
    }
}

/// Imports in-memory files (name, contents) as one Graph import.
fn run_graph<S: AsRef<str>, C: AsRef<str>>(
    conn: &mut DbConnection,
    files: &[(S, C)],
) -> Result<ImportOutcome, Stop> {
    let files = files
        .iter()
        .map(|(name, text)| ImportFile {
            name: name.as_ref().to_string(),
            reader: Box::new(text.as_ref().as_bytes()),
        })
        .collect();
    import_service::import(conn, &request(ImportKind::Graph), files)
}

fn graph_ok<S: AsRef<str>, C: AsRef<str>>(
    conn: &mut DbConnection,
    files: &[(S, C)],
) -> ImportOutcome {
    run_graph(conn, files).unwrap_or_else(|e| panic!("the Graph import fails: {e}"))
}

/// Imports fixtures by name as one Graph import.
fn import_fixtures(conn: &mut DbConnection, names: &[&str]) -> ImportOutcome {
    let files: Vec<(String, String)> = names.iter().map(|n| (n.to_string(), fixture(n))).collect();
    graph_ok(conn, &files)
}

/// Imports files from disk as one Graph import, each named by its path.
fn import_paths(conn: &mut DbConnection, paths: &[&Path]) -> Result<ImportOutcome, Stop> {
    import_paths_with(conn, paths, false)
}

/// As [`import_paths`]; `strict` refuses unknown values.
fn import_paths_with(
    conn: &mut DbConnection,
    paths: &[&Path],
    strict: bool,
) -> Result<ImportOutcome, Stop> {
    let files = paths
        .iter()
        .map(|p| ImportFile {
            name: p.display().to_string(),
            reader: Box::new(BufReader::new(
                std::fs::File::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
            )),
        })
        .collect();
    let request = ImportRequest {
        strict,
        ..request(ImportKind::Graph)
    };
    import_service::import(conn, &request, files)
}

fn tally(inserted: u64, updated: u64, removed: u64, skipped: u64) -> Tally {
    Tally {
        inserted,
        updated,
        removed,
        skipped,
    }
}

// ---------------------------------------------------------------------------
// Snapshots of the stored data

/// The data tables an import writes.
const DATA_TABLES: [&str; 11] = [
    "users",
    "directory_groups",
    "group_members",
    "user_methods",
    "activities",
    "method_events",
    "event_counts",
    "event_counts_daily",
    "activity_counts",
    "activity_counts_daily",
    "user_status_counts",
];

/// Everything an import may touch, its log and the portal's state included.
const ALL_TABLES: [&str; 14] = [
    "users",
    "directory_groups",
    "group_members",
    "user_methods",
    "sspr_policy",
    "activities",
    "method_events",
    "event_counts",
    "event_counts_daily",
    "activity_counts",
    "activity_counts_daily",
    "user_status_counts",
    "imports",
    "portal_state",
];

#[derive(diesel::QueryableByName)]
struct TextRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    text: String,
}

fn texts(conn: &mut DbConnection, sql: &str) -> Vec<String> {
    let rows: Vec<TextRow> = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(sql).load(c),
        DbConnection::Postgresql(c) => diesel::sql_query(sql).load(c),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter().map(|r| r.text).collect()
}

fn columns(conn: &mut DbConnection, table: &str) -> Vec<String> {
    let sql = match conn {
        DbConnection::Sqlite(_) => {
            format!("SELECT name AS text FROM pragma_table_info('{table}') ORDER BY cid")
        }
        DbConnection::Postgresql(_) => format!(
            "SELECT CAST(column_name AS TEXT) AS text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = '{table}' \
             ORDER BY ordinal_position"
        ),
    };
    let found = texts(conn, &sql);
    assert!(!found.is_empty(), "table {table} has columns");
    found
}

/// Row count and a SHA-256 of the rows (all columns but `skip`, rendered as
/// text, sorted) of each table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    tables: BTreeMap<&'static str, (usize, String)>,
}

impl Snapshot {
    fn count(&self, table: &str) -> usize {
        self.tables[table].0
    }

    /// One checksum over all tables.
    fn checksum(&self) -> String {
        let mut hash = Sha256::new();
        for (table, (n, sum)) in &self.tables {
            hash.update(format!("{table}:{n}:{sum}\n"));
        }
        format!("{:x}", hash.finalize())
    }
}

fn snapshot_of(conn: &mut DbConnection, tables: &[&'static str], skip: &[&str]) -> Snapshot {
    let mut out = BTreeMap::new();
    for table in tables {
        let row = columns(conn, table)
            .iter()
            .filter(|c| !skip.contains(&c.as_str()))
            .map(|c| format!("COALESCE(CAST(\"{c}\" AS TEXT), '<null>')"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let mut rows = texts(conn, &format!("SELECT {row} AS text FROM {table}"));
        rows.sort();
        let mut hash = Sha256::new();
        for r in &rows {
            hash.update(r.as_bytes());
            hash.update(b"\n");
        }
        out.insert(*table, (rows.len(), format!("{:x}", hash.finalize())));
    }
    Snapshot { tables: out }
}

fn data_snapshot(conn: &mut DbConnection) -> Snapshot {
    snapshot_of(conn, &DATA_TABLES, &[])
}

fn full_snapshot(conn: &mut DbConnection) -> Snapshot {
    snapshot_of(conn, &ALL_TABLES, &[])
}

// ---------------------------------------------------------------------------
// What is stored

fn user(conn: &mut DbConnection, id: &str) -> User {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .unwrap_or_else(|e| panic!("user {id}: {e}"))
}

fn user_count(conn: &mut DbConnection) -> i64 {
    users::table.count().get_result(conn).unwrap()
}

/// (registered, enabled, capable, MFA capable, passwordless capable)
fn flags(u: &User) -> [bool; 5] {
    [
        u.is_registered,
        u.is_enabled,
        u.is_capable,
        u.is_mfa_capable,
        u.is_passwordless_capable,
    ]
}

/// A user's rows in user_methods, in catalogue order.
fn method_rows(conn: &mut DbConnection, id: &str) -> Vec<(Method, Option<NaiveDateTime>)> {
    let rows: Vec<(i32, Option<NaiveDateTime>)> = user_methods::table
        .filter(user_methods::user_id.eq(id))
        .order(user_methods::method)
        .select((user_methods::method, user_methods::registered_at))
        .load(conn)
        .unwrap();
    rows.into_iter()
        .map(|(m, at)| (Method::from_code(m).unwrap(), at))
        .collect()
}

fn method_row_count(conn: &mut DbConnection) -> i64 {
    user_methods::table.count().get_result(conn).unwrap()
}

fn stored_events(conn: &mut DbConnection) -> Vec<MethodEvent> {
    method_events::table
        .order(method_events::id)
        .select(MethodEvent::as_select())
        .load(conn)
        .unwrap()
}

fn stored_activities(conn: &mut DbConnection) -> Vec<Activity> {
    activities::table
        .order(activities::id)
        .select(Activity::as_select())
        .load(conn)
        .unwrap()
}

fn stored_event_counts(conn: &mut DbConnection) -> (EventCounts, EventCounts) {
    let stored = stored_aggregates(conn);
    (stored.events_hourly, stored.events_daily)
}

fn stored_activity_counts(conn: &mut DbConnection) -> (ActivityCounts, ActivityCounts) {
    let stored = stored_aggregates(conn);
    (stored.activities_hourly, stored.activities_daily)
}

/// The event aggregates counted afresh from `events`: hourly and daily.
fn recount_events(events: &[MethodEvent]) -> (EventCounts, EventCounts) {
    let counted = recount(&[], events);
    (counted.events_hourly, counted.events_daily)
}

fn recount_activities(acts: &[Activity]) -> (ActivityCounts, ActivityCounts) {
    let counted = recount(acts, &[]);
    (counted.activities_hourly, counted.activities_daily)
}

/// Events per (feature, success), as the Registrations and Resets charts
/// sum them, from an aggregate.
fn by_feature_and_status(counts: &EventCounts) -> BTreeMap<(i32, bool), i64> {
    let mut out = BTreeMap::new();
    for ((_, feature, _, success), n) in counts {
        *out.entry((*feature, *success)).or_default() += n;
    }
    out
}

fn feature_status(registration: (i64, i64), reset: (i64, i64)) -> BTreeMap<(i32, bool), i64> {
    let mut out = BTreeMap::new();
    for (feature, (ok, failed)) in [
        (Feature::Registration, registration),
        (Feature::Reset, reset),
    ] {
        if ok > 0 {
            out.insert((feature.code(), true), ok);
        }
        if failed > 0 {
            out.insert((feature.code(), false), failed);
        }
    }
    out
}

/// The stored event aggregates equal a recount of `events`, hourly and
/// daily, and sum to the expected figures per feature and status.
fn assert_event_counts(
    conn: &mut DbConnection,
    events: &[MethodEvent],
    registration: (i64, i64),
    reset: (i64, i64),
) {
    let (hourly, daily) = stored_event_counts(conn);
    let (want_hourly, want_daily) = recount_events(events);
    assert_eq!(hourly, want_hourly, "event_counts");
    assert_eq!(daily, want_daily, "event_counts_daily");
    let want = feature_status(registration, reset);
    assert_eq!(by_feature_and_status(&hourly), want, "hourly sums");
    assert_eq!(by_feature_and_status(&daily), want, "daily sums");
}

/// The maintained users-per-status counts, checked against a recount of
/// the users table.
fn totals(conn: &mut DbConnection) -> StatusTotals {
    let maintained = status_totals(conn).unwrap();
    rebuild_status_counts(conn).unwrap();
    assert_eq!(
        status_totals(conn).unwrap(),
        maintained,
        "the maintained status counts drifted from the users"
    );
    maintained
}

/// What the overview tiles show for `people`, as the export states it.
fn expected_totals(people: &[&Person]) -> StatusTotals {
    let n = |f: &dyn Fn(&Person) -> bool| people.iter().filter(|p| f(p)).count() as i64;
    StatusTotals {
        users: people.len() as i64,
        registered: n(&|p| p.shows[0]),
        enabled: n(&|p| p.shows[1]),
        capable: n(&|p| p.shows[2]),
        enabled_not_registered: n(&|p| p.shows[1] && !p.shows[0]),
        registered_not_enabled: n(&|p| p.shows[0] && !p.shows[1]),
        mfa_capable: n(&|p| p.shows[3]),
        passwordless_capable: n(&|p| p.shows[4]),
        disabled_accounts: 0,
    }
}

/// Each of `people` is stored as the README says: names, type, admin flag,
/// the stated verdicts kept as the status, dated as stated (or at import
/// time, between `from` and `to`), and the methods mapped.
fn assert_people(
    conn: &mut DbConnection,
    people: &[&Person],
    from: NaiveDateTime,
    to: NaiveDateTime,
) {
    for p in people {
        let u = user(conn, p.id);
        let who = p.name;
        assert_eq!(u.display_name, p.name, "{who}");
        assert_eq!(u.user_principal_name, p.upn, "{who}");
        assert_eq!(u.is_guest, p.guest, "{who}: guest");
        assert_eq!(u.is_admin, p.admin, "{who}: admin");
        assert_eq!(
            u.account_enabled, None,
            "{who}: Graph's reports do not say whether the account is enabled"
        );
        assert_eq!(u.directory_role, "", "{who}: nor name the role");
        assert_eq!(flags(&u), p.shows, "{who}: R/E/C/MFA/PWL");
        assert_eq!(
            u.verdicts(),
            Some(p.verdicts()),
            "{who}: the stated verdicts"
        );
        let at = u
            .directory_status_at
            .unwrap_or_else(|| panic!("{who}: the verdicts are dated"));
        match p.as_of {
            Some(stated) => assert_eq!(micros(at), micros(t(stated)), "{who}: verdicts as of"),
            None => assert!(
                from.trunc_subsecs(0) <= at && at <= to,
                "{who}: verdicts dated at import time ({from} … {to}), not {at}"
            ),
        }
        let methods = method_rows(conn, p.id);
        let keys: Vec<&str> = methods.iter().map(|(m, _)| m.key()).collect();
        let want: Vec<&str> = p.methods.iter().map(|m| m.key()).collect();
        assert_eq!(keys, want, "{who}: methods");
        assert!(
            methods.iter().all(|(_, at)| at.is_none()),
            "{who}: Graph does not date a registration"
        );
        assert_eq!(u.methods_mask, mask(p.methods), "{who}: methods mask");
    }
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

// ---------------------------------------------------------------------------
// 1. Each resource

async fn registration_details(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    let from = now();
    let outcome = import_fixtures(&mut conn, &[URD]);
    let to = now();
    assert_eq!(
        outcome.summary,
        Summary {
            users: tally(6, 0, 0, 0),
            // Adele's mobile phone is two rows (SMS and call): 3+2+4+1+0+2.
            methods: tally(12, 0, 0, 0),
            ..Summary::default()
        }
    );
    assert_eq!(outcome.records, 12, "a User and a Methods record per user");
    let people = people_of(&[URD]);
    assert_eq!(people.len(), 6);
    assert_people(&mut conn, &people, from, to);
    assert_eq!(user_count(&mut conn), 6);
    assert_eq!(method_row_count(&mut conn), 12);
    // The mobile phone is registered for both SMS and calls.
    let adele = person("Adele Vance");
    let phone: Vec<Method> = method_rows(&mut conn, adele.id)
        .into_iter()
        .map(|(m, _)| m)
        .filter(|m| matches!(m, Method::MobileSms | Method::MobileCall))
        .collect();
    assert_eq!(phone, [Method::MobileCall, Method::MobileSms]);
    assert_eq!(
        user(&mut conn, adele.id).methods().display(),
        "Phone call, SMS, Email"
    );

    let totals = totals(&mut conn);
    assert_eq!(totals, expected_totals(&people));
    assert_eq!(
        totals,
        StatusTotals {
            users: 6,
            registered: 3,
            enabled: 4,
            capable: 3,
            enabled_not_registered: 1,
            registered_not_enabled: 0,
            mfa_capable: 4,
            passwordless_capable: 1,
            disabled_accounts: 0,
        }
    );
    assert!(stored_events(&mut conn).is_empty());
    assert!(stored_activities(&mut conn).is_empty());
}
db_test!(
    registration_details_give_users_with_the_stated_verdicts,
    registration_details
);

async fn credential_registration_details(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    let from = now();
    let outcome = import_fixtures(&mut conn, &[CREDENTIAL]);
    let to = now();
    assert_eq!(
        outcome.summary,
        Summary {
            users: tally(3, 0, 0, 0),
            methods: tally(6, 0, 0, 0),
            ..Summary::default()
        }
    );
    let people = people_of(&[CREDENTIAL]);
    assert_eq!(people.len(), 3);
    assert_people(&mut conn, &people, from, to);
    let totals = totals(&mut conn);
    assert_eq!(totals, expected_totals(&people));
    assert_eq!(
        (
            totals.registered,
            totals.enabled,
            totals.capable,
            totals.mfa_capable,
            totals.passwordless_capable
        ),
        (2, 3, 2, 2, 0),
        "MFA computed: Henrietta's phone and Miriam's app; Patti's questions are not a second factor"
    );
}
db_test!(
    credential_registration_details_state_sspr_verdicts_only,
    credential_registration_details
);

async fn usage_details(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    import_fixtures(&mut conn, &USER_FILES);
    let users_before = snapshot_of(&mut conn, &["users", "user_methods"], &[]);

    let outcome = import_fixtures(&mut conn, &[USAGE]);
    assert_eq!(
        outcome.summary,
        Summary {
            events: tally(7, 0, 0, 0),
            ..Summary::default()
        }
    );
    let want = events_of(&[&USAGE_EVENTS]);
    let stored = stored_events(&mut conn);
    assert_eq!(stored, want, "resolved to users by principal name");
    assert!(stored.iter().all(|e| e.activity_id.is_none()));
    // Registration 3 (2 success, 1 failure), reset 4 (3 success, 1 failure).
    assert_event_counts(&mut conn, &want, (2, 1), (3, 1));
    let (hourly, _) = stored_event_counts(&mut conn);
    assert_eq!(
        hourly.get(&(
            t("2025-05-18 09:00:00"),
            Feature::Reset.code(),
            Method::MobileSms.code(),
            true
        )),
        Some(&1),
        "Adele's SMS at 09:14"
    );
    assert!(stored_activities(&mut conn).is_empty());
    // Events do not register methods (that is live ingest's option).
    assert_eq!(
        snapshot_of(&mut conn, &["users", "user_methods"], &[]),
        users_before,
        "the users and their methods are unchanged"
    );
}
db_test!(
    usage_details_give_events_resolved_by_principal_name,
    usage_details
);

async fn events_summary(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    import_fixtures(&mut conn, &USER_FILES);

    let outcome = import_fixtures(&mut conn, &[SUMMARY]);
    assert_eq!(
        outcome.summary,
        Summary {
            events: tally(5, 0, 0, 1),
            ..Summary::default()
        },
        "record 6 repeats record 4: one event, skipped"
    );
    let want = events_of(&[&SUMMARY_EVENTS]);
    assert_eq!(stored_events(&mut conn), want);
    // The derived ids are those of `events_summary_id`.
    for e in &want {
        let id = events_summary_id(
            &e.user_id,
            Feature::from_code(e.feature).unwrap(),
            Method::from_code(e.method).unwrap(),
            e.occurred_at,
            e.success,
            e.failure_reason.as_deref(),
        );
        assert_eq!(id, e.id);
    }
    // Registration 3 (all success), reset 2 (1 success, 1 failure).
    assert_event_counts(&mut conn, &want, (3, 0), (1, 1));

    // The same export again stores nothing new.
    let before = data_snapshot(&mut conn);
    let again = import_fixtures(&mut conn, &[SUMMARY]);
    assert_eq!(
        again.summary,
        Summary {
            events: tally(0, 0, 0, 6),
            ..Summary::default()
        }
    );
    assert!(!again.summary.changed());
    assert_eq!(data_snapshot(&mut conn), before);
    assert_eq!(stored_events(&mut conn).len(), 5);
}
db_test!(
    events_summary_gets_derived_ids_and_stores_each_event_once,
    events_summary
);

async fn directory_audits(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    import_fixtures(&mut conn, &USER_FILES);

    let outcome = import_fixtures(&mut conn, &[AUDITS]);
    assert_eq!(
        outcome.summary,
        Summary {
            activities: tally(7, 0, 0, 0),
            events: tally(7, 0, 0, 0),
            ..Summary::default()
        }
    );
    assert_eq!(
        outcome.records, 7,
        "26 entries, 7 activities: the unrelated entries give no record"
    );
    let acts = stored_activities(&mut conn);
    let mut acts_micros = acts.clone();
    for a in &mut acts_micros {
        a.occurred_at = micros(a.occurred_at);
    }
    assert_eq!(acts_micros, expected_activities());
    // Each as the classic reset report shows it.
    let shown: Vec<(&str, Option<ActivityResult>, Option<Details>)> = acts
        .iter()
        .map(|a| {
            (
                a.id.as_str(),
                ActivityResult::from_code(a.result),
                a.details.and_then(Details::from_code),
            )
        })
        .collect();
    assert!(shown.contains(&(
        ISAIAH_RESET,
        Some(ActivityResult::Blocked),
        Some(Details::BlockedSecurityQuestions)
    )));
    assert!(shown.contains(&(
        BIANCA_RESET,
        Some(ActivityResult::Failed),
        Some(Details::FailedNotEnabled)
    )));
    assert!(shown.contains(&(
        UNKNOWN_RESET,
        Some(ActivityResult::Abandoned),
        Some(Details::AbandonedAfterUserId)
    )));
    let unknown = acts.iter().find(|a| a.id == UNKNOWN_RESET).unwrap();
    assert_eq!(
        unknown.user_id, None,
        "an unknown user ID is still an activity"
    );
    // Skipped: "Add member to group", "Change password (self-service)",
    // "User deleted security info".
    for skipped in ["c419b36b", "3a6a743a", "880e2ad4"] {
        assert!(
            acts.iter().all(|a| !a.id.contains(skipped)),
            "{skipped} gives no activity"
        );
    }

    let want = events_of(&[&AUDIT_EVENTS]);
    assert_eq!(stored_events(&mut conn), want);
    // Reset: 2 success, 2 failure; registration: 2 success, 1 failure.
    assert_event_counts(&mut conn, &want, (2, 1), (2, 2));

    let (hourly, daily) = stored_activity_counts(&mut conn);
    let (want_hourly, want_daily) = recount_activities(&expected_activities());
    assert_eq!(hourly, want_hourly, "activity_counts");
    assert_eq!(daily, want_daily, "activity_counts_daily");
    let mut by_result: BTreeMap<(i32, i32), i64> = BTreeMap::new();
    for ((_, feature, result, _), n) in &hourly {
        *by_result.entry((*feature, *result)).or_default() += n;
    }
    let reset = Feature::Reset.code();
    let registration = Feature::Registration.code();
    let want: BTreeMap<(i32, i32), i64> = [
        ((reset, ActivityResult::Succeeded.code()), 1),
        ((reset, ActivityResult::Blocked.code()), 1),
        ((reset, ActivityResult::Abandoned.code()), 2),
        ((reset, ActivityResult::Failed.code()), 1),
        ((registration, ActivityResult::Succeeded.code()), 1),
        ((registration, ActivityResult::Failed.code()), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(by_result, want, "5 resets and 2 registrations by result");
}
db_test!(
    directory_audits_give_activities_with_results_and_details,
    directory_audits
);

// ---------------------------------------------------------------------------
// 2. A paged export is one export

/// The records of `pages` in one page, as if Graph had not paged them.
fn one_page(pages: &[&str]) -> String {
    let mut merged: Option<Value> = None;
    for name in pages {
        let page: Value = serde_json::from_str(&fixture(name)).unwrap();
        match merged.as_mut() {
            None => {
                let mut first = page.clone();
                first.as_object_mut().unwrap().remove("@odata.nextLink");
                merged = Some(first);
            }
            Some(m) => m["value"]
                .as_array_mut()
                .unwrap()
                .extend(page["value"].as_array().unwrap().iter().cloned()),
        }
    }
    serde_json::to_string_pretty(&merged.unwrap()).unwrap()
}

async fn paged_export(backend: Backend) {
    let paged_db = TestDb::new(backend);
    let mut paged = paged_db.connect();
    let whole_db = TestDb::new(backend);
    let mut whole = whole_db.connect();

    let from = now();
    let by_pages = import_fixtures(&mut paged, &[PAGE1, PAGE2]);
    let concatenated = one_page(&[PAGE1, PAGE2]);
    let at_once = graph_ok(
        &mut whole,
        &[("user-registration-details-all.json", concatenated)],
    );
    let to = now();

    let want = Summary {
        users: tally(4, 0, 0, 0),
        methods: tally(10, 0, 0, 0),
        ..Summary::default()
    };
    assert_eq!(by_pages.summary, want);
    assert_eq!(at_once.summary, want);
    assert_eq!(by_pages.records, at_once.records);

    let people = people_of(&[PAGE1, PAGE2]);
    assert_eq!(people.len(), 4, "Johanna, Joni, Lynne, Nestor");
    assert_people(&mut paged, &people, from, to);
    assert_people(&mut whole, &people, from, to);
    // Every stored row but the time of writing is the same.
    assert_eq!(
        snapshot_of(&mut paged, &DATA_TABLES, &["updated_at"]),
        snapshot_of(&mut whole, &DATA_TABLES, &["updated_at"]),
    );
    let t1 = totals(&mut paged);
    assert_eq!(t1, totals(&mut whole));
    assert_eq!(t1, expected_totals(&people));
}
db_test!(a_paged_export_is_the_same_as_one_page, paged_export);

// ---------------------------------------------------------------------------
// 3. Everything at once

/// The README's overall figures after importing every file.
fn assert_everything(conn: &mut DbConnection, from: NaiveDateTime, to: NaiveDateTime) {
    let people: Vec<&Person> = PEOPLE.iter().collect();
    assert_people(conn, &people, from, to);
    assert_eq!(user_count(conn), 15);
    assert_eq!(method_row_count(conn), 32);
    let totals = totals(conn);
    assert_eq!(totals, expected_totals(&people));
    assert_eq!(
        totals,
        StatusTotals {
            users: 15,
            registered: 7,
            enabled: 12,
            capable: 7,
            // Isaiah, Johanna, Lynne, Nestor, Patti.
            enabled_not_registered: 5,
            registered_not_enabled: 0,
            // 9 stated, and Henrietta and Miriam computed.
            mfa_capable: 11,
            passwordless_capable: 2,
            disabled_accounts: 0,
        }
    );
    let guests: i64 = users::table
        .filter(users::is_guest.eq(true))
        .count()
        .get_result(conn)
        .unwrap();
    let admins: i64 = users::table
        .filter(users::is_admin.eq(true))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!((guests, admins), (2, 2));

    // Adele's SMS and email and Alex's app notification are in the usage
    // report and in the audit log: one event each, the audit flow's.
    let events: Vec<MethodEvent> = events_of(&[&USAGE_EVENTS, &SUMMARY_EVENTS, &AUDIT_EVENTS])
        .into_iter()
        .filter(|e| !REPORTED_TWICE.contains(&e.id.as_str()))
        .collect();
    assert_eq!(events.len(), 16);
    assert_eq!(stored_events(conn), events);
    // Registration: 4 + 2 success, 1 + 1 failure; reset: 2 + 2 success,
    // 2 + 2 failure.
    assert_event_counts(conn, &events, (6, 2), (4, 4));

    let mut acts = stored_activities(conn);
    for a in &mut acts {
        a.occurred_at = micros(a.occurred_at);
    }
    assert_eq!(acts, expected_activities());
    let (hourly, daily) = stored_activity_counts(conn);
    let (want_hourly, want_daily) = recount_activities(&expected_activities());
    assert_eq!(hourly, want_hourly);
    assert_eq!(daily, want_daily);
    assert_eq!(hourly.values().sum::<i64>(), 7);
}

/// The usage report's events the audit log reports too (Adele's SMS and
/// email in her reset, Alex's app notification in his registration): each
/// is one event, the audit flow's.
const REPORTED_TWICE: [&str; 3] = [
    "58a4408d-ceed-4231-b119-7b81aff197e6",
    "ad441cec-6a46-4750-8b05-0730b3fac5cb",
    "6743eb14-c904-4214-9ca4-f9ae5544adc8",
];

fn first_import_of_everything() -> Summary {
    Summary {
        users: tally(15, 0, 0, 0),
        methods: tally(32, 0, 0, 0),
        activities: tally(7, 0, 0, 0),
        // 7 usage + 5 summary + 7 in activities; the summary's repeat and
        // the 3 usage events the audit flows report skipped.
        events: tally(16, 0, 0, 4),
        events_in_both: 3,
        ..Summary::default()
    }
}

async fn everything_at_once(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    let from = now();
    let outcome = import_fixtures(&mut conn, &ALL_FILES);
    let to = now();
    assert_eq!(outcome.summary, first_import_of_everything());
    assert_everything(&mut conn, from, to);

    // The log names every file, in order.
    let logged: Vec<(String, String, i64, i64, i64)> = authinsights::db::schema::imports::table
        .select((
            authinsights::db::schema::imports::kind,
            authinsights::db::schema::imports::files,
            authinsights::db::schema::imports::inserted,
            authinsights::db::schema::imports::updated,
            authinsights::db::schema::imports::skipped,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        logged,
        [(
            "graph".to_string(),
            ALL_FILES.join(", "),
            15 + 32 + 7 + 16,
            0,
            4
        )]
    );
}
db_test!(
    all_fixtures_in_one_import_give_the_overall_figures,
    everything_at_once
);

// ---------------------------------------------------------------------------
// 4. A re-import changes nothing

/// Waits until the clock has moved on to another second: a re-import comes
/// later than the import it repeats, and imports date undated verdicts to
/// the second.
fn next_second() {
    std::thread::sleep(std::time::Duration::from_millis(1100));
}

/// Imports `files`, then again a second later: the second import changes
/// nothing.
fn assert_reimport_changes_nothing(conn: &mut DbConnection, files: &[&str]) {
    import_fixtures(conn, files);
    let before = data_snapshot(conn);
    next_second();
    let again = import_fixtures(conn, files);
    let t = again.summary.totals();
    assert_eq!(
        (t.inserted, t.updated, t.removed),
        (0, 0, 0),
        "re-importing {files:?}: {}",
        again.summary
    );
    assert_eq!(data_snapshot(conn), before, "re-importing {files:?}");
}

async fn reimport_dated_verdicts(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    // Every verdict of these files is dated 2025-05-19 23:10:41.6195833.
    assert_reimport_changes_nothing(&mut conn, &[PAGE1, PAGE2, URD_JSONL]);
}
db_test!(
    reimporting_verdicts_the_export_dates_changes_nothing,
    reimport_dated_verdicts
);

async fn reimport_undated_verdicts(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    // No verdict of this file is dated: the import dates them.
    assert_reimport_changes_nothing(&mut conn, &[CREDENTIAL]);
}
db_test!(
    reimporting_verdicts_the_export_does_not_date_changes_nothing,
    reimport_undated_verdicts
);

async fn reimport(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    let from = now();
    import_fixtures(&mut conn, &ALL_FILES);
    let to = now();
    next_second();
    let before = data_snapshot(&mut conn);
    assert_eq!(before.count("users"), 15);
    assert_eq!(before.count("method_events"), 16);

    let skipped_all = Summary {
        users: tally(0, 0, 0, 15),
        methods: tally(0, 0, 0, 32),
        activities: tally(0, 0, 0, 7),
        // 7 usage (3 of them reported by the audit flows too), 6 summary
        // records, 7 in the activities.
        events: tally(0, 0, 0, 20),
        events_in_both: 3,
        ..Summary::default()
    };
    // The same files in one import, then file by file.
    let again = import_fixtures(&mut conn, &ALL_FILES);
    let t = again.summary.totals();
    assert_eq!(
        (t.inserted, t.updated, t.removed),
        (0, 0, 0),
        "re-importing everything: {}",
        again.summary
    );
    assert_eq!(again.summary, skipped_all);
    let after = data_snapshot(&mut conn);
    assert_eq!(after, before, "re-importing everything changes no data");
    assert_eq!(after.checksum(), before.checksum());

    // File by file, each registration-details file is a whole export of
    // its own (but page 1, whose @odata.nextLink says more follows): the
    // users it leaves out get stale statuses, and a file that lists them
    // again makes them current. Nothing else changes.
    let without_staleness = |conn: &mut DbConnection| {
        let tables: Vec<&'static str> = DATA_TABLES
            .into_iter()
            .filter(|t| *t != "user_status_counts")
            .collect();
        snapshot_of(
            conn,
            &tables,
            &["verdicts_stale", "status_key", "updated_at"],
        )
    };
    let unchanged = without_staleness(&mut conn);
    let before_all = snapshot_of(&mut conn, &DATA_TABLES, &["updated_at"]);
    for name in ALL_FILES {
        let outcome = import_fixtures(&mut conn, &[name]);
        let s = &outcome.summary;
        let t = s.totals();
        assert_eq!(
            (t.inserted, t.removed, t.updated),
            (0, 0, s.users.updated),
            "re-importing {name} changes no records but users' staleness: {s}"
        );
        assert_eq!(
            without_staleness(&mut conn),
            unchanged,
            "re-importing {name}"
        );
    }
    let stale: Vec<String> = users::table
        .filter(users::verdicts_stale.eq(true))
        .select(users::display_name)
        .order(users::display_name)
        .load(&mut conn)
        .unwrap();
    // The last whole export read was the JSON-lines file; the credential
    // report (another resource) came after and restated its users.
    let mut expected: Vec<&str> = people_of(&[URD, PAGE1, PAGE2])
        .iter()
        .map(|p| p.name)
        .collect();
    expected.sort_unstable();
    assert_eq!(stale, expected);
    // The whole set once more: every user is listed, none is stale, and
    // the data is as it was.
    import_fixtures(&mut conn, &ALL_FILES);
    assert_eq!(
        snapshot_of(&mut conn, &DATA_TABLES, &["updated_at"]),
        before_all,
        "re-importing everything again restores every user's standing (only the times of the changes differ)"
    );
    assert_everything(&mut conn, from, to);
}
db_test!(reimporting_everything_changes_nothing, reimport);

// ---------------------------------------------------------------------------
// 5. Bad input stops the import and stores nothing

struct Case {
    what: &'static str,
    /// The bad file's name (in the temp dir) and contents.
    file: &'static str,
    text: String,
    at: Position,
    field: Option<&'static str>,
    reason: String,
    /// Imported with `--strict` (unknown values refused).
    strict: bool,
}

/// A fixture page with one record changed.
fn with_record(
    name: &str,
    index: usize,
    change: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> String {
    let mut page: Value = serde_json::from_str(&fixture(name)).unwrap();
    change(page["value"][index].as_object_mut().unwrap());
    serde_json::to_string_pretty(&page).unwrap()
}

fn bad_cases() -> Vec<Case> {
    // A page with a missing comma: the error is on the line after it.
    let broken = fixture(PAGE2).replacen("\"isAdmin\": true,", "\"isAdmin\": true", 1);
    let broken_line = broken
        .lines()
        .position(|l| l.contains("\"isSsprRegistered\""))
        .unwrap() as u64
        + 1;
    vec![
        Case {
            what: "an unknown authMethod value, with --strict",
            file: "usage-unknown-method.json",
            text: with_record(USAGE, 2, |r| {
                r.insert("authMethod".into(), "unknownFutureValue".into());
            }),
            at: Position::Record(3),
            field: Some("authMethod"),
            reason: "unknown value \"unknownFutureValue\" (without --strict it would be stored as an other method)".into(),
            strict: true,
        },
        Case {
            what: "a missing eventDateTime",
            file: "summary-no-time.json",
            text: with_record(SUMMARY, 2, |r| {
                r.remove("eventDateTime");
            }),
            at: Position::Record(3),
            field: Some("eventDateTime"),
            reason: "missing required field".into(),
            strict: false,
        },
        Case {
            what: "the string \"true\" for isSuccess",
            file: "usage-text-boolean.json",
            text: with_record(USAGE, 1, |r| {
                r.insert("isSuccess".into(), "true".into());
            }),
            at: Position::Record(2),
            field: Some("isSuccess"),
            reason: "expected true or false, got \"true\"".into(),
            strict: false,
        },
        Case {
            what: "malformed JSON in a page",
            file: "page2-broken.json",
            text: broken,
            at: Position::Line(broken_line),
            field: None,
            reason: "not valid JSON".into(),
            strict: false,
        },
        Case {
            what: "a Graph export of another resource",
            file: "devices.json",
            text: r#"{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#devices", "value": [{"id": "d1", "displayName": "Laptop"}]}"#.into(),
            at: Position::File,
            field: Some("@odata.context"),
            reason: "\"devices\" is not a resource this import reads".into(),
            strict: false,
        },
        Case {
            what: "records no resource has",
            file: "mailboxes.json",
            text: r#"{"value": [{"displayName": "Sales", "mail": "sales@contoso.com"}]}"#.into(),
            at: Position::File,
            field: None,
            reason: "not a Graph export this import reads".into(),
            strict: false,
        },
    ]
}

async fn bad_input(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    // Twelve users stored; each bad import begins with three more.
    import_fixtures(&mut conn, &[URD, PAGE1, PAGE2, URD_JSONL]);
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join(CREDENTIAL);
    std::fs::write(&good, fixture(CREDENTIAL)).unwrap();

    for case in bad_cases() {
        let what = case.what;
        let bad = dir.path().join(case.file);
        std::fs::write(&bad, &case.text).unwrap();
        let before = full_snapshot(&mut conn);
        let err: ImportError = match import_paths_with(&mut conn, &[&good, &bad], case.strict) {
            Err(Stop::Invalid(e)) => e,
            Err(other) => panic!("{what}: not an import error: {other}"),
            Ok(outcome) => panic!("{what}: the import succeeds: {}", outcome.summary),
        };
        let file = bad.display().to_string();
        assert_eq!(err.at.file, file, "{what}: the file of {err}");
        assert_eq!(err.at.position, case.at, "{what}: the position of {err}");
        assert_eq!(
            err.field.as_deref(),
            case.field,
            "{what}: the field of {err}"
        );
        assert!(
            err.reason.contains(&case.reason),
            "{what}: the reason of {err}\n want: {}",
            case.reason
        );
        // As the administrator reads it.
        let shown = err.to_string();
        let place = match case.at {
            Position::Line(n) => format!("{file}, line {n}"),
            Position::Record(n) => format!("{file}, record {n}"),
            Position::File => file.clone(),
        };
        assert!(shown.starts_with(&place), "{what}: {shown}");
        if let Some(field) = case.field {
            assert!(
                shown.contains(&format!("field `{field}`")),
                "{what}: {shown}"
            );
        }
        let after = full_snapshot(&mut conn);
        assert_eq!(after, before, "{what}: the database changed");
        assert_eq!(after.checksum(), before.checksum());
        assert_eq!(
            after.count("users"),
            12,
            "{what}: no user of the import is kept"
        );
    }
    // The same good file on its own goes in.
    let outcome = import_paths(&mut conn, &[&good]).unwrap();
    assert_eq!(outcome.summary.users, tally(3, 0, 0, 0));
}
db_test!(
    bad_graph_input_names_file_record_and_field_and_stores_nothing,
    bad_input
);

// ---------------------------------------------------------------------------
// 6. The export's verdicts and the portal's policy

const OWN_USERS: &str =
    "id,display_name,user_principal_name,user_type,is_admin,directory_role,account_enabled\n\
u-own,Own User,own@contoso.com,member,false,,true\n";
const OWN_METHODS: &str = "user_id,method,registered_at\n\
u-own,email,2025-05-01T09:00:00Z\n\
u-own,mobile_sms,2025-05-01T09:05:00Z\n";

fn import_own(conn: &mut DbConnection, kind: FileKind, name: &str, text: &str) -> Summary {
    let files = vec![ImportFile {
        name: name.to_string(),
        reader: Box::new(text.as_bytes()),
    }];
    import_service::import(conn, &request(ImportKind::File(kind)), files)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .summary
}

fn policy(scope: Scope, required: i32, allowed: &[PolicyMethod]) -> SsprPolicy {
    SsprPolicy::new(scope, required, allowed.iter().copied().collect()).unwrap()
}

async fn verdicts_and_policy(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    let from = now();
    import_fixtures(&mut conn, &[URD]);
    let to = now();
    import_own(&mut conn, FileKind::Users, "users.csv", OWN_USERS);
    import_own(&mut conn, FileKind::Methods, "methods.csv", OWN_METHODS);
    let graph_people = people_of(&[URD]);
    let own = user(&mut conn, "u-own");
    assert_eq!(own.verdicts(), None, "our own format states no verdicts");
    assert_eq!(own.directory_status_at, None);

    // Nobody in scope, one method of any kind: the portal would call Adele
    // not enabled and Isaiah registered; the export says otherwise.
    let off = policy(Scope::None, 1, &PolicyMethod::ALL);
    let recomputed = save_policy(&mut conn, &off, Some("test")).unwrap();
    assert_eq!(recomputed.users, 7);
    assert_people(&mut conn, &graph_people, from, to);
    let own = user(&mut conn, "u-own");
    assert_eq!(
        flags(&own),
        [true, false, false, true, false],
        "the own user follows the policy: registered, not in scope"
    );
    let t_off = totals(&mut conn);
    assert_eq!(
        (t_off.registered, t_off.enabled, t_off.capable),
        (4, 4, 3),
        "3 + 1 registered, 4 enabled (stated), 3 capable (stated)"
    );

    // Everyone in scope, two of the pilot's methods: Lee, a member, would be
    // enabled by the portal; the export says not.
    let all = policy(
        Scope::All,
        2,
        &[
            PolicyMethod::AppNotification,
            PolicyMethod::AppCode,
            PolicyMethod::MobilePhone,
            PolicyMethod::Email,
        ],
    );
    save_policy(&mut conn, &all, Some("test")).unwrap();
    assert_people(&mut conn, &graph_people, from, to);
    let own = user(&mut conn, "u-own");
    assert_eq!(
        flags(&own),
        [true, true, true, true, false],
        "the own user follows the policy: email and a mobile phone, in scope"
    );
    let t_all = totals(&mut conn);
    assert_eq!(
        (t_all.registered, t_all.enabled, t_all.capable),
        (4, 5, 4),
        "the export's figures plus the own user's"
    );
    // The stated verdicts are kept as they were.
    for p in &graph_people {
        let u = user(&mut conn, p.id);
        assert_eq!(u.verdicts(), Some(p.verdicts()), "{}", p.name);
    }
}
db_test!(
    the_exports_verdicts_win_and_users_without_them_follow_the_policy,
    verdicts_and_policy
);

/// A reset exported while in progress, then again once done: the later
/// export's result, details and events replace the stored ones, and every
/// count follows; the same export once more changes nothing.
async fn flow_across_exports(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    import_fixtures(&mut conn, &[URD, PAGE1, PAGE2, URD_JSONL]);
    let audits: Value = serde_json::from_str(&fixture(AUDITS)).unwrap();
    let correlation = "39568dde-f8c4-4415-a77b-73852ef0d04a";
    let flow: Vec<Value> = audits["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["correlationId"] == correlation)
        .cloned()
        .collect();
    assert_eq!(flow.len(), 8);
    let page = |entries: &[Value]| {
        serde_json::json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits",
            "value": entries,
        })
        .to_string()
    };
    // The first export ends after the email verification: the flow had not
    // finished when it was taken.
    let early: Vec<Value> = flow
        .iter()
        .filter(|e| {
            e["activityDisplayName"] != "Reset password (self-service)"
                && e["resultReason"] != "User successfully reset password"
        })
        .cloned()
        .collect();
    assert_eq!(early.len(), 6);
    let id = format!("aud-{correlation}");
    let stored_flow = |conn: &mut DbConnection| {
        let a = stored_activities(conn)
            .into_iter()
            .find(|a| a.id == id)
            .unwrap();
        let events: Vec<MethodEvent> = stored_events(conn)
            .into_iter()
            .filter(|e| e.activity_id.as_deref() == Some(id.as_str()))
            .collect();
        (a, events)
    };
    let counts_are_recounts = |conn: &mut DbConnection| {
        assert_eq!(
            stored_activity_counts(conn),
            recount_activities(&stored_activities(conn))
        );
        assert_eq!(
            stored_event_counts(conn),
            recount_events(&stored_events(conn))
        );
    };

    let first = graph_ok(&mut conn, &[("audits-early.json", page(&early))]);
    assert_eq!(first.summary.activities, tally(1, 0, 0, 0));
    let (a, events) = stored_flow(&mut conn);
    assert_eq!(a.result, ActivityResult::Abandoned.code());
    assert_eq!(
        a.details,
        Some(Details::AbandonedAfterEmailCompleted.code())
    );
    assert_eq!(events.len(), 2, "SMS and email verified: {events:?}");
    counts_are_recounts(&mut conn);

    let second = graph_ok(&mut conn, &[("audits-later.json", page(&flow))]);
    assert_eq!(
        second.summary.activities,
        tally(0, 1, 0, 0),
        "{}",
        second.summary
    );
    let (a, later_events) = stored_flow(&mut conn);
    assert_eq!(
        a.result,
        ActivityResult::Succeeded.code(),
        "the later result"
    );
    assert_eq!(a.details, Some(Details::Succeeded.code()));
    assert_eq!(later_events.len(), 2);
    counts_are_recounts(&mut conn);
    // As if only the finished flow had ever been imported.
    let fresh_db = TestDb::new(backend);
    let mut fresh = fresh_db.connect();
    import_fixtures(&mut fresh, &[URD, PAGE1, PAGE2, URD_JSONL]);
    graph_ok(&mut fresh, &[("audits-later.json", page(&flow))]);
    assert_eq!(stored_flow(&mut fresh), (a.clone(), later_events.clone()));
    assert_eq!(
        stored_activity_counts(&mut fresh),
        stored_activity_counts(&mut conn)
    );
    assert_eq!(
        stored_event_counts(&mut fresh),
        stored_event_counts(&mut conn)
    );

    // The same export again: nothing changes.
    let before = data_snapshot(&mut conn);
    let third = graph_ok(&mut conn, &[("audits-later.json", page(&flow))]);
    assert_eq!(third.summary.activities, tally(0, 0, 0, 1));
    assert_eq!(data_snapshot(&mut conn), before);
}
db_test!(
    a_flow_exported_twice_ends_with_the_later_result,
    flow_across_exports
);

/// One verification is one event whichever sources report it: the audit
/// log alone, a usage report and an events summary before it or after it,
/// in one import or in several, all give the same events and charts.
async fn both_sources_count_once(backend: Backend) {
    let usage: Value = serde_json::from_str(&fixture(USAGE)).unwrap();
    let twice: Vec<Value> = usage["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| REPORTED_TWICE.contains(&e["id"].as_str().unwrap()))
        .cloned()
        .collect();
    assert_eq!(twice.len(), 3);
    let usage_page = serde_json::json!({
        "@odata.context": usage["@odata.context"],
        "value": twice,
    })
    .to_string();
    // The same verifications as an events summary reports them: its `id`
    // is the user's, and it times them a few seconds apart from the log.
    let users: Vec<(&str, &str)> = vec![
        ("AdeleV@contoso.com", "3b09d766-9c46-4e3b-8714-bea012dfd494"),
        ("AlexW@contoso.com", "2b64e613-fcd9-46b5-b4ea-8a96f1d38c6b"),
    ];
    let summary_records: Vec<Value> = twice
        .iter()
        .map(|e| {
            let upn = e["userPrincipalName"].as_str().unwrap();
            let id = users.iter().find(|(u, _)| *u == upn).unwrap().1;
            let at = chrono::DateTime::parse_from_rfc3339(e["eventDateTime"].as_str().unwrap())
                .unwrap()
                + chrono::Duration::seconds(7);
            let mut r = e.clone();
            r["id"] = id.into();
            r["eventDateTime"] = at.to_rfc3339().into();
            r
        })
        .collect();
    let summary_page = serde_json::json!({
        "@odata.context": "https://graph.microsoft.com/beta/$metadata#reports/authenticationMethods/userEventsSummary",
        "value": summary_records,
    })
    .to_string();
    let audits = fixture(AUDITS);

    let charts = |imports: &[Vec<(&str, &str)>]| {
        let db = TestDb::new(backend);
        let mut conn = db.connect();
        import_fixtures(&mut conn, &[URD, PAGE1, PAGE2, URD_JSONL]);
        for files in imports {
            graph_ok(&mut conn, files);
        }
        let ids: Vec<String> = stored_events(&mut conn).into_iter().map(|e| e.id).collect();
        let counts = stored_event_counts(&mut conn);
        assert_eq!(counts, recount_events(&stored_events(&mut conn)));
        (ids, counts)
    };
    let alone = charts(&[vec![("audits.json", audits.as_str())]]);
    assert!(
        alone.0.iter().all(|id| id.starts_with("aud-")),
        "{:?}",
        alone.0
    );
    /// The files of one import: (name, contents).
    type Import<'a> = Vec<(&'a str, &'a str)>;
    let orders: Vec<(&str, Vec<Import>)> = vec![
        (
            "usage, then the log",
            vec![
                vec![("usage.json", usage_page.as_str())],
                vec![("audits.json", audits.as_str())],
            ],
        ),
        (
            "the log, then usage and summary",
            vec![
                vec![("audits.json", audits.as_str())],
                vec![
                    ("usage.json", usage_page.as_str()),
                    ("summary.json", summary_page.as_str()),
                ],
            ],
        ),
        (
            "summary, then the log",
            vec![
                vec![("summary.json", summary_page.as_str())],
                vec![("audits.json", audits.as_str())],
            ],
        ),
        (
            "everything in one import",
            vec![vec![
                ("summary.json", summary_page.as_str()),
                ("audits.json", audits.as_str()),
                ("usage.json", usage_page.as_str()),
            ]],
        ),
    ];
    for (what, imports) in orders {
        assert_eq!(charts(&imports), alone, "{what}");
    }
}
db_test!(
    a_verification_two_sources_report_counts_once,
    both_sources_count_once
);
