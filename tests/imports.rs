//! Imports of the portal's own format (CSV and JSON lines) through
//! `service::imports::import`, on both backends: the worked example of docs/design.md imported file
//! by file gives its statuses and events; a re-import changes nothing; every
//! kind of bad input stops the import with its file, line, field and reason
//! and leaves the database exactly as it was; complete lists remove what they
//! no longer state; prune keeps the counts equal to the events left; live
//! ingest registers methods; a large file streams through a bulk load; a
//! byte order mark is not data; a users file without the optional columns
//! leaves the stored facts as they are.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::db::counts::{day_bucket, hour_bucket, rebuild_status_counts};
use authinsights::db::directory::save_policy;
use authinsights::db::imports::ImportSource;
use authinsights::db::models::{Activity, MethodEvent, User};
use authinsights::db::overview::{status_totals, StatusTotals};
use authinsights::db::retention::{prune, Pruned};
use authinsights::db::schema::{group_members, imports, user_methods, users};
use authinsights::db::DbConnection;
use authinsights::domain::{ActivityResult, Details, Feature, Method, MethodSet};
use authinsights::ingest::format::FileKind;
use authinsights::ingest::import::{ImportFile, ImportKind, ImportOutcome, ImportRequest};
use authinsights::ingest::records::{ImportError, Position, Stop};
use authinsights::ingest::writer::{Summary, Tally, WriterOptions};
use authinsights::service::imports as import_service;
use chrono::{Duration, NaiveDateTime, Utc};
use common::aggregates::{recount, stored_activities, stored_aggregates, stored_events};
use common::tenant::{pilot_policy, selected, PILOT_GROUP};
use common::{Backend, TestDb};
use diesel::prelude::*;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

// ---------------------------------------------------------------------------
// Running imports

const KINDS: [FileKind; 5] = [
    FileKind::Users,
    FileKind::Groups,
    FileKind::Members,
    FileKind::Methods,
    FileKind::Activities,
];

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/import/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn request(kind: FileKind, options: WriterOptions) -> ImportRequest {
    ImportRequest {
        kind: ImportKind::File(kind),
        source: ImportSource::CommandLine,
        actor: "test".into(),
        options,
        strict: false,
    }
}

/// Imports in-memory files (name, contents) of one kind as one import.
fn run_import<S: AsRef<str>, T: AsRef<str>>(
    conn: &mut DbConnection,
    kind: FileKind,
    files: &[(S, T)],
    options: WriterOptions,
) -> Result<ImportOutcome, Stop> {
    let files = files
        .iter()
        .map(|(name, text)| ImportFile {
            name: name.as_ref().to_string(),
            reader: Box::new(text.as_ref().as_bytes()),
        })
        .collect();
    import_service::import(conn, &request(kind, options), files)
}

fn import_ok<S: AsRef<str>, T: AsRef<str>>(
    conn: &mut DbConnection,
    kind: FileKind,
    files: &[(S, T)],
) -> Summary {
    match run_import(conn, kind, files, WriterOptions::default()) {
        Ok(outcome) => outcome.summary,
        Err(e) => panic!("the {} import fails: {e}", kind.key()),
    }
}

fn import_err<S: AsRef<str>, T: AsRef<str>>(
    conn: &mut DbConnection,
    kind: FileKind,
    files: &[(S, T)],
    options: WriterOptions,
) -> ImportError {
    match run_import(conn, kind, files, options) {
        Err(Stop::Invalid(e)) => e,
        Err(other) => panic!("not an import error: {other}"),
        Ok(outcome) => panic!("the import succeeds: {}", outcome.summary),
    }
}

/// Imports the worked example's fixture of each kind (`users.csv`, …), one
/// import per kind, and returns their summaries.
fn import_worked_example(conn: &mut DbConnection, ext: &str) -> Vec<Summary> {
    KINDS
        .iter()
        .map(|kind| {
            let name = format!("{}.{ext}", kind.key());
            let text = fixture(&name);
            import_ok(conn, *kind, &[(name, text)])
        })
        .collect()
}

/// The worked example's policy: the import does not set it.
fn set_pilot_policy(conn: &mut DbConnection) {
    save_policy(conn, &pilot_policy(selected()), Some("test")).unwrap();
}

fn tally(inserted: u64, updated: u64, removed: u64, skipped: u64) -> Tally {
    Tally {
        inserted,
        updated,
        removed,
        skipped,
    }
}

fn t(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn rfc3339(at: NaiveDateTime) -> String {
    format!("{}Z", at.format("%Y-%m-%dT%H:%M:%S"))
}

// ---------------------------------------------------------------------------
// Snapshots of the stored data

/// Every table an import or a prune may touch.
const TABLES: [&str; 14] = [
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

/// Row counts and a checksum per table: a SHA-256 of every row's text
/// rendering (all columns, from the catalogue), rows sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    tables: BTreeMap<&'static str, (usize, String)>,
}

impl Snapshot {
    fn counts(&self) -> BTreeMap<&'static str, usize> {
        self.tables.iter().map(|(t, (n, _))| (*t, *n)).collect()
    }

    /// One checksum over all tables.
    fn checksum(&self) -> String {
        let mut hash = Sha256::new();
        for (table, (n, sum)) in &self.tables {
            hash.update(format!("{table}:{n}:{sum}\n"));
        }
        format!("{:x}", hash.finalize())
    }

    fn without(&self, table: &str) -> Snapshot {
        let mut tables = self.tables.clone();
        tables.remove(table);
        Snapshot { tables }
    }

    fn only(&self, names: &[&str]) -> Snapshot {
        let mut tables = self.tables.clone();
        tables.retain(|t, _| names.contains(t));
        Snapshot { tables }
    }
}

fn snapshot(conn: &mut DbConnection) -> Snapshot {
    let mut tables = BTreeMap::new();
    for table in TABLES {
        let row = columns(conn, table)
            .iter()
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
        tables.insert(table, (rows.len(), format!("{:x}", hash.finalize())));
    }
    Snapshot { tables }
}

/// The secondary indexes of the event tables, name and definition.
fn event_indexes(conn: &mut DbConnection) -> BTreeSet<String> {
    let sql = match conn {
        DbConnection::Sqlite(_) => {
            "SELECT name || ': ' || sql AS text FROM sqlite_master WHERE type = 'index' \
             AND sql IS NOT NULL AND tbl_name IN ('activities', 'method_events')"
        }
        DbConnection::Postgresql(_) => {
            "SELECT CAST(indexname AS TEXT) || ': ' || indexdef AS text FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename IN ('activities', 'method_events') \
             AND indexname NOT LIKE '%_pkey'"
        }
    };
    texts(conn, sql).into_iter().collect()
}

fn assert_event_indexes_present(found: &BTreeSet<String>) {
    for name in [
        "method_events_by_time",
        "method_events_by_kind",
        "method_events_by_user",
        "activities_by_feature_time",
        "activities_by_kind",
        "activities_by_user_time",
        "activities_of_unknown_users",
    ] {
        assert!(
            found.iter().any(|i| i.starts_with(&format!("{name}: "))),
            "index {name} exists: {found:#?}"
        );
    }
}

// ---------------------------------------------------------------------------
// What the worked example must give

fn user(conn: &mut DbConnection, id: &str) -> User {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .unwrap_or_else(|e| panic!("user {id}: {e}"))
}

/// (registered, enabled, capable, MFA capable, passwordless capable)
type Flags = (bool, bool, bool, bool, bool);

fn flags(u: &User) -> Flags {
    (
        u.is_registered,
        u.is_enabled,
        u.is_capable,
        u.is_mfa_capable,
        u.is_passwordless_capable,
    )
}

/// The worked example's table in docs/design.md.
const STATUSES: [(&str, Flags); 9] = [
    ("u-ana", (true, true, true, true, false)),
    ("u-ben", (false, true, false, true, false)),
    ("u-cai", (true, false, false, true, false)),
    ("u-dee", (true, true, true, true, false)),
    ("u-eve", (false, true, false, true, false)),
    ("u-fay", (true, true, true, true, false)),
    ("u-gus", (false, true, false, false, false)),
    ("u-hal", (true, true, true, true, false)),
    ("u-ivy", (false, true, false, true, true)),
];

const WORKED_TOTALS: StatusTotals = StatusTotals {
    users: 9,
    registered: 5,
    enabled: 8,
    capable: 4,
    enabled_not_registered: 4, // Ben, Eve, Gus, Ivy
    registered_not_enabled: 1, // Cai
    mfa_capable: 8,
    passwordless_capable: 1,
    disabled_accounts: 1,
};

fn stored_methods(conn: &mut DbConnection) -> Vec<(String, i32, Option<NaiveDateTime>)> {
    user_methods::table
        .order((user_methods::user_id, user_methods::method))
        .select((
            user_methods::user_id,
            user_methods::method,
            user_methods::registered_at,
        ))
        .load(conn)
        .unwrap()
}

fn expected_methods() -> Vec<(String, i32, Option<NaiveDateTime>)> {
    use Method::*;
    let rows: [(&str, Method, Option<&str>); 17] = [
        ("u-ana", Email, Some("2026-10-01 09:00")),
        ("u-ana", MobileSms, Some("2026-10-01 09:05")),
        ("u-ben", MobileSms, Some("2026-10-02 10:00")),
        ("u-ben", MobileCall, Some("2026-10-02 10:00")),
        ("u-cai", Email, None),
        // 11:30 at +02:00.
        ("u-cai", AppCode, Some("2026-10-03 09:30")),
        ("u-dee", Email, Some("2026-10-04 08:00")),
        ("u-dee", MobileSms, Some("2026-10-04 08:01")),
        ("u-eve", OfficeCall, Some("2026-10-05 12:00")),
        ("u-eve", SecurityQuestions, Some("2026-10-05 12:02")),
        ("u-fay", AppNotification, Some("2026-10-06 07:00")),
        ("u-fay", Email, Some("2026-10-06 07:10")),
        ("u-gus", Email, Some("2026-10-07 15:00")),
        ("u-gus", SecurityQuestions, Some("2026-10-07 15:05")),
        ("u-hal", Email, Some("2026-10-08 16:00")),
        ("u-hal", MobileSms, Some("2026-10-08 16:10")),
        ("u-ivy", Fido2, Some("2026-10-09 17:00")),
    ];
    let mut out: Vec<_> = rows
        .iter()
        .map(|(u, m, at)| (u.to_string(), m.code(), at.map(t)))
        .collect();
    out.sort();
    out
}

/// The users, memberships, methods and statuses of the worked example.
fn assert_worked_example(conn: &mut DbConnection) {
    // (id, name, user name, guest, admin, role, account enabled)
    let facts = [
        (
            "u-ana",
            "Ana",
            "ana@contoso.example",
            false,
            false,
            "",
            true,
        ),
        (
            "u-ben",
            "Ben",
            "ben@contoso.example",
            false,
            false,
            "",
            true,
        ),
        (
            "u-cai",
            "Cai",
            "cai@contoso.example",
            false,
            false,
            "",
            true,
        ),
        (
            "u-dee",
            "Dee",
            "dee@fabrikam.example",
            true,
            false,
            "",
            true,
        ),
        (
            "u-eve",
            "Eve",
            "eve@contoso.example",
            false,
            false,
            "",
            true,
        ),
        (
            "u-fay",
            "Fay",
            "fay@contoso.example",
            false,
            true,
            "Global Administrator",
            true,
        ),
        (
            "u-gus",
            "Gus",
            "gus@contoso.example",
            false,
            true,
            "Security Administrator",
            true,
        ),
        (
            "u-hal",
            "Hal",
            "hal@contoso.example",
            false,
            false,
            "",
            false,
        ),
        (
            "u-ivy",
            "Ivy",
            "ivy@contoso.example",
            false,
            false,
            "",
            true,
        ),
    ];
    let count: i64 = users::table.count().get_result(conn).unwrap();
    assert_eq!(count, 9, "nine users");
    for (id, name, upn, guest, admin, role, enabled) in facts {
        let u = user(conn, id);
        assert_eq!(
            (
                u.display_name.as_str(),
                u.user_principal_name.as_str(),
                u.is_guest,
                u.is_admin,
                u.directory_role.as_str(),
                u.account_enabled
            ),
            (
                name,
                upn,
                guest,
                admin,
                role,
                // Ivy's line leaves every optional field empty: whether her
                // account is enabled is unknown, not made up.
                (id != "u-ivy").then_some(enabled)
            ),
            "{id}'s own facts"
        );
    }
    for (id, want) in STATUSES {
        assert_eq!(flags(&user(conn, id)), want, "{id}'s statuses");
    }
    let pilot: Vec<String> = group_members::table
        .filter(group_members::group_id.eq(PILOT_GROUP))
        .order(group_members::user_id)
        .select(group_members::user_id)
        .load(conn)
        .unwrap();
    assert_eq!(
        pilot,
        ["u-ana", "u-ben", "u-dee", "u-eve", "u-hal", "u-ivy"],
        "members of SSPR pilot"
    );
    let groups: Vec<(String, String)> = authinsights::db::directory::list_groups(conn).unwrap();
    assert_eq!(
        groups,
        [
            ("group-other".to_string(), "Finance, Berlin".to_string()),
            (PILOT_GROUP.to_string(), "SSPR pilot".to_string()),
        ]
    );
    assert_eq!(stored_methods(conn), expected_methods());
    for (id, methods) in [
        ("u-ben", "Phone call, SMS"),
        ("u-ivy", "FIDO2 security key"),
    ] {
        let shown = user(conn, id).methods().display();
        assert_eq!(shown, methods, "{id}'s methods");
    }
    assert_eq!(status_totals(conn).unwrap(), WORKED_TOTALS);
}

#[allow(clippy::too_many_arguments)]
fn activity(
    id: &str,
    user_id: Option<&str>,
    upn: &str,
    name: &str,
    role: &str,
    feature: Feature,
    result: ActivityResult,
    details: Option<Details>,
    at: &str,
    methods: &[Method],
) -> Activity {
    Activity {
        id: id.into(),
        user_id: user_id.map(str::to_string),
        user_principal_name: upn.into(),
        user_display_name: name.into(),
        user_role: role.into(),
        feature: feature.code(),
        methods_mask: methods.iter().copied().collect::<MethodSet>().mask(),
        result: result.code(),
        details: details.map(Details::code),
        occurred_at: t(at),
    }
}

fn expected_activities() -> Vec<Activity> {
    use ActivityResult as R;
    use Feature::*;
    use Method::*;
    let ana = "ana@contoso.example";
    vec![
        activity(
            "a-01",
            Some("u-ana"),
            ana,
            "Ana",
            "User",
            Registration,
            R::Succeeded,
            None,
            "2026-11-19 09:15",
            &[Email, MobileSms],
        ),
        activity(
            "a-02",
            Some("u-ben"),
            "ben@contoso.example",
            "Ben",
            "User",
            Registration,
            R::Failed,
            None,
            "2026-11-19 09:40",
            &[MobileSms],
        ),
        activity(
            "a-03",
            Some("u-ana"),
            ana,
            "Ana",
            "User",
            Reset,
            R::Succeeded,
            Some(Details::Succeeded),
            "2026-11-20 08:05",
            &[Email, MobileSms],
        ),
        activity(
            "a-04",
            Some("u-eve"),
            "eve@contoso.example",
            "Eve",
            "User",
            Reset,
            R::Failed,
            Some(Details::FailedInsufficientMethods),
            "2026-11-20 08:58",
            &[OfficeCall],
        ),
        activity(
            "a-05",
            None,
            "someone@contoso.example",
            "",
            "",
            Reset,
            R::Abandoned,
            Some(Details::AbandonedAfterUserId),
            "2026-11-20 09:30",
            &[],
        ),
        activity(
            "a-06",
            Some("u-dee"),
            "dee@fabrikam.example",
            "Dee",
            "Guest",
            Reset,
            R::Blocked,
            Some(Details::BlockedSmsCodes),
            "2026-11-20 09:20",
            &[MobileSms, Email],
        ),
        activity(
            "a-07",
            Some("u-fay"),
            "fay@contoso.example",
            "Fay",
            "Global Administrator",
            Reset,
            R::ContactedAdmin,
            Some(Details::ContactedAdminAfterEmail),
            "2026-11-20 11:00",
            &[Email],
        ),
        activity(
            "a-08",
            Some("u-cai"),
            "cai@contoso.example",
            "Cai",
            "User",
            Reset,
            R::Cancelled,
            Some(Details::CancelledBeforeNewPassword),
            "2026-11-20 11:45",
            &[AppCode],
        ),
        activity(
            "a-09",
            Some("u-ivy"),
            "ivy@contoso.example",
            "Ivy",
            "User",
            Registration,
            R::Succeeded,
            None,
            "2026-11-20 12:00",
            &[Fido2],
        ),
        activity(
            "a-10",
            Some("u-gus"),
            "gus@contoso.example",
            "Gus",
            "Security Administrator",
            Reset,
            R::Abandoned,
            Some(Details::AbandonedAfterEmailStarted),
            "2026-11-20 13:10",
            &[Email],
        ),
    ]
}

fn expected_events() -> Vec<MethodEvent> {
    use Feature::*;
    use Method::*;
    let invalid = Some("Invalid verification code");
    // (id, activity, user, feature, method, success, failure reason, time)
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Feature,
        Method,
        bool,
        Option<&'a str>,
        &'a str,
    );
    let rows: [Row; 13] = [
        (
            "e-01",
            "a-01",
            "u-ana",
            Registration,
            Email,
            true,
            None,
            "2026-11-19 09:15",
        ),
        (
            "e-02",
            "a-01",
            "u-ana",
            Registration,
            MobileSms,
            true,
            None,
            "2026-11-19 09:16",
        ),
        (
            "e-03",
            "a-02",
            "u-ben",
            Registration,
            MobileSms,
            false,
            invalid,
            "2026-11-19 09:40",
        ),
        (
            "e-04",
            "a-03",
            "u-ana",
            Reset,
            Email,
            false,
            Some("Code expired"),
            "2026-11-20 08:05",
        ),
        (
            "e-05",
            "a-03",
            "u-ana",
            Reset,
            MobileSms,
            true,
            None,
            "2026-11-20 08:07",
        ),
        // The activity began at 08:58, this event falls in the next hour.
        (
            "e-06",
            "a-04",
            "u-eve",
            Reset,
            OfficeCall,
            false,
            Some("Call not answered"),
            "2026-11-20 09:01",
        ),
        (
            "e-07",
            "a-06",
            "u-dee",
            Reset,
            MobileSms,
            false,
            invalid,
            "2026-11-20 09:20",
        ),
        (
            "e-08",
            "a-06",
            "u-dee",
            Reset,
            MobileSms,
            false,
            invalid,
            "2026-11-20 09:21",
        ),
        (
            "e-09",
            "a-06",
            "u-dee",
            Reset,
            MobileSms,
            false,
            invalid,
            "2026-11-20 09:22",
        ),
        (
            "e-10",
            "a-07",
            "u-fay",
            Reset,
            Email,
            false,
            Some("Email not received"),
            "2026-11-20 11:00",
        ),
        (
            "e-11",
            "a-08",
            "u-cai",
            Reset,
            AppCode,
            true,
            None,
            "2026-11-20 11:45",
        ),
        (
            "e-12",
            "a-09",
            "u-ivy",
            Registration,
            Fido2,
            true,
            None,
            "2026-11-20 12:00",
        ),
        (
            "e-13",
            "a-10",
            "u-gus",
            Reset,
            Email,
            false,
            Some("Verification not completed"),
            "2026-11-20 13:10",
        ),
    ];
    rows.iter()
        .map(
            |(id, activity_id, user_id, feature, method, success, reason, at)| MethodEvent {
                id: id.to_string(),
                activity_id: Some(activity_id.to_string()),
                user_id: user_id.to_string(),
                feature: feature.code(),
                method: method.code(),
                success: *success,
                failure_reason: reason.map(str::to_string),
                occurred_at: t(at),
                method_name: None,
            },
        )
        .collect()
}

/// The worked example's activities and events, and the aggregates over them.
fn assert_worked_example_events(conn: &mut DbConnection) {
    let acts = expected_activities();
    let events = expected_events();
    assert_eq!(stored_activities(conn), acts);
    assert_eq!(stored_events(conn), events);
    let stored = stored_aggregates(conn);
    assert_eq!(stored, recount(&acts, &events));
    assert_eq!(stored.total_events(), (13, 13));
    // Spot checks, by hand: the 09:00 hour of 20 November holds Dee's three
    // failed SMS codes and Eve's call (its activity began at 08:58).
    let nine = t("2026-11-20 09:00");
    let reset = Feature::Reset.code();
    assert_eq!(
        stored
            .events_hourly
            .get(&(nine, reset, Method::MobileSms.code(), false)),
        Some(&3)
    );
    assert_eq!(
        stored
            .events_hourly
            .get(&(nine, reset, Method::OfficeCall.code(), false)),
        Some(&1)
    );
    let day = t("2026-11-20 00:00");
    assert_eq!(
        stored
            .events_daily
            .get(&(day, reset, Method::Email.code(), false)),
        Some(&3),
        "Ana's, Fay's and Gus's failed email codes"
    );
    let resets: i64 = stored
        .activities_daily
        .iter()
        .filter(|((_, f, _, _), _)| *f == reset)
        .map(|(_, n)| n)
        .sum();
    assert_eq!(resets, 7, "seven resets, the unknown user's included");
}

// ---------------------------------------------------------------------------
// 2. The worked example, from CSV and from JSON lines

fn first_import_summaries() -> Vec<Summary> {
    vec![
        Summary {
            users: tally(9, 0, 0, 0),
            ..Summary::default()
        },
        Summary {
            groups: tally(2, 0, 0, 0),
            ..Summary::default()
        },
        Summary {
            members: tally(8, 0, 0, 0),
            ..Summary::default()
        },
        Summary {
            methods: tally(17, 0, 0, 0),
            ..Summary::default()
        },
        Summary {
            activities: tally(10, 0, 0, 0),
            events: tally(13, 0, 0, 0),
            ..Summary::default()
        },
    ]
}

async fn worked_example_from(backend: Backend, ext: &str) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    set_pilot_policy(&mut conn);

    let summaries = import_worked_example(&mut conn, ext);
    assert_eq!(summaries, first_import_summaries(), "{ext}");
    assert_worked_example(&mut conn);
    assert_worked_example_events(&mut conn);

    let log: Vec<(String, i64, i64, i64)> = imports::table
        .order(imports::id)
        .select((
            imports::kind,
            imports::inserted,
            imports::updated,
            imports::skipped,
        ))
        .load(&mut conn)
        .unwrap();
    let want: Vec<(String, i64, i64, i64)> = [
        ("users", 9),
        ("groups", 2),
        ("members", 8),
        ("methods", 17),
        ("activities", 23),
    ]
    .iter()
    .map(|(k, n)| (k.to_string(), *n, 0, 0))
    .collect();
    assert_eq!(log, want, "one logged import per file");

    // The maintained users-per-status counts equal a recount of the rows.
    let maintained = status_totals(&mut conn).unwrap();
    rebuild_status_counts(&mut conn).unwrap();
    assert_eq!(status_totals(&mut conn).unwrap(), maintained);
}

async fn worked_example_from_csv(backend: Backend) {
    worked_example_from(backend, "csv").await
}
db_test!(csv_import_gives_the_worked_example, worked_example_from_csv);

async fn worked_example_from_json_lines(backend: Backend) {
    worked_example_from(backend, "jsonl").await
}
db_test!(
    json_lines_import_gives_the_worked_example,
    worked_example_from_json_lines
);

// ---------------------------------------------------------------------------
// 3. A re-import changes nothing

async fn reimport_is_a_no_op(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    set_pilot_policy(&mut conn);
    import_worked_example(&mut conn, "csv");
    let before = snapshot(&mut conn);
    assert_eq!(before.counts()["imports"], 5);

    let skipped = vec![
        Summary {
            users: tally(0, 0, 0, 9),
            ..Summary::default()
        },
        Summary {
            groups: tally(0, 0, 0, 2),
            ..Summary::default()
        },
        Summary {
            members: tally(0, 0, 0, 8),
            ..Summary::default()
        },
        Summary {
            methods: tally(0, 0, 0, 17),
            ..Summary::default()
        },
        Summary {
            activities: tally(0, 0, 0, 10),
            events: tally(0, 0, 0, 13),
            ..Summary::default()
        },
    ];
    // The same files again, then the same data as JSON lines: both are the
    // data already stored.
    for ext in ["csv", "jsonl"] {
        let summaries = import_worked_example(&mut conn, ext);
        assert_eq!(summaries, skipped, "{ext}");
        assert!(summaries.iter().all(|s| !s.changed()), "{ext}");
        let after = snapshot(&mut conn);
        // The log grows and "Last refreshed" (portal_state) is the newest
        // import; nothing else changes.
        assert_eq!(
            after.without("imports").without("portal_state"),
            before.without("imports").without("portal_state"),
            "re-importing the {ext} files changes no data"
        );
        assert_eq!(
            after.without("imports").without("portal_state").checksum(),
            before.without("imports").without("portal_state").checksum()
        );
        let newest = authinsights::db::imports::newest(&mut conn).unwrap();
        assert_eq!(
            Some(authinsights::db::counts::data_changed_at(&mut conn).unwrap()),
            newest,
            "Last refreshed is the newest import"
        );
    }
    let after = snapshot(&mut conn);
    assert_eq!(after.counts()["imports"], 15, "each import is logged");
    assert_eq!(after.counts()["activities"], 10);
    assert_eq!(after.counts()["method_events"], 13);
    assert_worked_example(&mut conn);
    assert_worked_example_events(&mut conn);
}
db_test!(
    reimporting_the_same_files_changes_nothing,
    reimport_is_a_no_op
);

// ---------------------------------------------------------------------------
// 4. Bad input stops the import and stores nothing

struct Case {
    what: &'static str,
    kind: FileKind,
    files: Vec<(String, String)>,
    file: &'static str,
    at: Position,
    field: Option<&'static str>,
    reason: String,
}

fn case(
    what: &'static str,
    kind: FileKind,
    files: &[(&str, String)],
    file: &'static str,
    at: Position,
    field: Option<&'static str>,
    reason: &str,
) -> Case {
    Case {
        what,
        kind,
        files: files
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect(),
        file,
        at,
        field,
        reason: reason.to_string(),
    }
}

/// Runs a bad import; checks the error and that nothing changed.
fn assert_stops(conn: &mut DbConnection, c: &Case, options: WriterOptions) {
    let before = snapshot(conn);
    let err = import_err(conn, c.kind, &c.files, options);
    let what = c.what;
    assert_eq!(err.at.file, c.file, "{what}: the file of {err}");
    assert_eq!(err.at.position, c.at, "{what}: the position of {err}");
    assert_eq!(err.field.as_deref(), c.field, "{what}: the field of {err}");
    assert!(
        err.reason.contains(&c.reason),
        "{what}: the reason of {err}\n want: {}",
        c.reason
    );
    let shown = err.to_string();
    let place = match c.at {
        Position::Line(n) => format!("{}, line {n}", c.file),
        Position::Record(n) => format!("{}, record {n}", c.file),
        Position::File => c.file.to_string(),
    };
    assert!(shown.starts_with(&place), "{what}: {shown}");
    if let Some(field) = c.field {
        assert!(
            shown.contains(&format!("field `{field}`")),
            "{what}: {shown}"
        );
    }
    let after = snapshot(conn);
    assert_eq!(after, before, "{what}: the database changed");
}

fn lines(header: &str, rows: &[&str]) -> String {
    let mut out = format!("{header}\n");
    for r in rows {
        out.push_str(r);
        out.push('\n');
    }
    out
}

const USERS_H: &str =
    "id,display_name,user_principal_name,user_type,is_admin,directory_role,account_enabled";
const MEMBERS_H: &str = "group_id,user_id";
const METHODS_H: &str = "user_id,method,registered_at";
const ACTS_H: &str = "id,user_id,user_principal_name,feature,result,details,occurred_at,methods,event_id,method,success,failure_reason,event_occurred_at";

/// A good activity of Ana's with one failed email event, `i` minutes into
/// 21 November (so they spread over many hours).
fn good_activity(i: usize) -> String {
    let at = rfc3339(t("2026-11-21 00:00") + Duration::minutes(i as i64));
    format!("g-{i:05},u-ana,ana@contoso.example,reset,failed,failed_not_enabled,{at},,ge-{i:05},email,false,Code expired,")
}

/// A good activity of an unknown user, without events.
fn filler(i: usize) -> String {
    format!("f-{i:05},,nobody@contoso.example,reset,,abandoned_after_user_id,2026-11-21T10:00:00Z,,,,,,")
}

fn json_activity(id: &str, events: serde_json::Value) -> String {
    json!({
        "id": id,
        "user_id": "u-ana",
        "user_principal_name": "ana@contoso.example",
        "feature": "reset",
        "result": "failed",
        "details": "failed_not_enabled",
        "occurred_at": "2026-11-21T09:00:00Z",
        "events": events,
    })
    .to_string()
}

/// Cases that need no stored data: users and groups.
fn directory_cases() -> Vec<Case> {
    use FileKind::{Groups, Users};
    use Position::{File, Line};
    let new = r#"{"id":"u-new","display_name":"New","user_principal_name":"new@contoso.example"}"#;
    let many_users: Vec<String> = (0..6_000)
        .map(|i| format!("u-many-{i:05},Many {i},many.{i}@contoso.example,member,false,,true"))
        .collect();
    let mut many = many_users.iter().map(String::as_str).collect::<Vec<_>>();
    many.push("u-bad,Bad,bad@contoso.example,member,maybe,,true");
    vec![
        case(
            "bad JSON after a good line",
            Users,
            &[(
                "users.jsonl",
                format!("{new}\n{{\"id\":\"u-ana\",\"display_name\":\"Ana renamed\"\n"),
            )],
            "users.jsonl",
            Line(2),
            None,
            "not valid JSON",
        ),
        case(
            "a number for a text field",
            Users,
            &[(
                "users.jsonl",
                format!("{new}\n{{\"id\":\"u-two\",\"display_name\":42,\"user_principal_name\":\"two@contoso.example\"}}\n"),
            )],
            "users.jsonl",
            Line(2),
            Some("display_name"),
            "expected text, got a number",
        ),
        case(
            "\"yes\" for a boolean (CSV)",
            Users,
            &[(
                "users.csv",
                lines(USERS_H, &["u-new,New,new@contoso.example,member,yes,,true"]),
            )],
            "users.csv",
            Line(2),
            Some("is_admin"),
            "expected true or false, got \"yes\"",
        ),
        case(
            "\"yes\" for a boolean (JSON)",
            Users,
            &[(
                "users.jsonl",
                r#"{"id":"u-new","display_name":"New","user_principal_name":"new@contoso.example","account_enabled":"yes"}"#.to_string(),
            )],
            "users.jsonl",
            Line(1),
            Some("account_enabled"),
            "expected true or false, got \"yes\"",
        ),
        case(
            "an unknown user type",
            Users,
            &[(
                "users.csv",
                lines(USERS_H, &["u-new,New,new@contoso.example,robot,false,,true"]),
            )],
            "users.csv",
            Line(2),
            Some("user_type"),
            "unknown user type \"robot\"",
        ),
        case(
            "a missing display name",
            Users,
            &[(
                "users.csv",
                lines(USERS_H, &["u-new,,new@contoso.example,member,false,,true"]),
            )],
            "users.csv",
            Line(2),
            Some("display_name"),
            "missing required field",
        ),
        case(
            "a missing id (JSON)",
            Users,
            &[(
                "users.jsonl",
                format!("{new}\n{{\"display_name\":\"New\",\"user_principal_name\":\"n@contoso.example\"}}\n"),
            )],
            "users.jsonl",
            Line(2),
            Some("id"),
            "missing required field",
        ),
        case(
            "a blank user name",
            Users,
            &[(
                "users.csv",
                lines(USERS_H, &["u-new,New,   ,member,false,,true"]),
            )],
            "users.csv",
            Line(2),
            Some("user_principal_name"),
            "must not be blank",
        ),
        case(
            "a user twice in one file",
            Users,
            &[(
                "users.csv",
                lines(
                    USERS_H,
                    &[
                        "u-new,New,new@contoso.example,member,false,,true",
                        "u-ana,Ana Renamed,ana@contoso.example,member,false,,true",
                        "u-new,New Again,new@contoso.example,member,false,,true",
                    ],
                ),
            )],
            "users.csv",
            Line(4),
            Some("id"),
            "user id \"u-new\" is given twice in this import",
        ),
        case(
            "a user in two files of one import",
            Users,
            &[
                (
                    "users-a.csv",
                    lines(USERS_H, &["u-new,New,new@contoso.example,member,false,,true"]),
                ),
                ("users-b.jsonl", format!("{new}\n")),
            ],
            "users-b.jsonl",
            Line(1),
            Some("id"),
            "user id \"u-new\" is given twice in this import",
        ),
        case(
            "a bad row after 6,000 good users (a batch already written)",
            Users,
            &[("many-users.csv", lines(USERS_H, &many))],
            "many-users.csv",
            Line(6_002),
            Some("is_admin"),
            "expected true or false, got \"maybe\"",
        ),
        case(
            "an unknown column",
            Users,
            &[(
                "users.csv",
                "id,display_name,user_principal_name,colour\nu-new,New,new@contoso.example,red\n"
                    .to_string(),
            )],
            "users.csv",
            Line(1),
            Some("colour"),
            "unknown column",
        ),
        case(
            "a short row",
            Users,
            &[(
                "users.csv",
                lines(
                    USERS_H,
                    &[
                        "u-new,New,new@contoso.example,member,false,,true",
                        "u-two,Two",
                    ],
                ),
            )],
            "users.csv",
            Line(3),
            None,
            "the row has 2 fields; the header has 7",
        ),
        case(
            "an unknown JSON field",
            Users,
            &[(
                "users.jsonl",
                r#"{"id":"u-new","display_name":"New","user_principal_name":"new@contoso.example","colour":"red"}"#.to_string(),
            )],
            "users.jsonl",
            Line(1),
            Some("colour"),
            "unknown field",
        ),
        case(
            "a JSON line that is not an object",
            Users,
            &[("users.jsonl", format!("{new}\n[1, 2]\n"))],
            "users.jsonl",
            Line(2),
            None,
            "expected a JSON object, got a list",
        ),
        case(
            "an unknown file type",
            Users,
            &[("users.xlsx", lines(USERS_H, &[]))],
            "users.xlsx",
            File,
            None,
            "unknown file type",
        ),
        case(
            "an empty CSV file",
            Users,
            &[("users.csv", String::new())],
            "users.csv",
            Line(1),
            None,
            "a header row is required",
        ),
        case(
            "a group without a name",
            Groups,
            &[("groups.jsonl", r#"{"id":"group-new"}"#.to_string())],
            "groups.jsonl",
            Line(1),
            Some("display_name"),
            "missing required field",
        ),
        case(
            "a group twice in one file",
            Groups,
            &[(
                "groups.csv",
                "id,display_name\ngroup-new,New\ngroup-new,New again\n".to_string(),
            )],
            "groups.csv",
            Line(3),
            Some("id"),
            "group id \"group-new\" is given twice in this import",
        ),
    ]
}

/// Cases that refer to the worked example's users and groups, or to its
/// stored events.
fn reference_cases() -> Vec<Case> {
    use FileKind::{Activities, Members, Methods};
    use Position::Line;
    let pilot_rows = |users: &[&str]| -> Vec<String> {
        users.iter().map(|u| format!("{PILOT_GROUP},{u}")).collect()
    };
    let s = |v: &[String]| v.iter().map(String::as_str).collect::<Vec<_>>().join("\n");
    let far = |first: &str, last: &str| {
        let mut rows = vec![first.to_string()];
        rows.extend((0..5_100).map(filler));
        rows.push(last.to_string());
        lines(ACTS_H, &rows.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let many_then = |bad: &str| {
        let mut rows: Vec<String> = (0..6_000).map(good_activity).collect();
        rows.push(bad.to_string());
        lines(ACTS_H, &rows.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let ok_row = "a-new,u-ana,ana@contoso.example,reset,failed,failed_not_enabled,2026-11-21T09:00:00Z,,e-new,email,false,Code expired,";
    vec![
        // Members
        case(
            "an unknown user in members",
            Members,
            &[(
                "members.csv",
                format!(
                    "{MEMBERS_H}\n{}\n",
                    s(&pilot_rows(&["u-ana", "u-ben", "u-zed", "u-dee"]))
                ),
            )],
            "members.csv",
            Line(4),
            Some("user_id"),
            "unknown user \"u-zed\"",
        ),
        case(
            "an unknown group in members, after a group's list was applied",
            Members,
            &[(
                "members.csv",
                format!(
                    "{MEMBERS_H}\n{}\ngroup-nope,u-ana\n",
                    s(&pilot_rows(&["u-ana", "u-dee", "u-eve"]))
                ),
            )],
            "members.csv",
            Line(5),
            Some("group_id"),
            "unknown group \"group-nope\"",
        ),
        case(
            "a member twice in one group",
            Members,
            &[(
                "members.csv",
                format!("{MEMBERS_H}\n{}\n", s(&pilot_rows(&["u-ana", "u-ben", "u-ana"]))),
            )],
            "members.csv",
            Line(4),
            Some("user_id"),
            "user \"u-ana\" is given twice as a member of \"group-sspr-pilot\"",
        ),
        case(
            "a group's members apart in one file",
            Members,
            &[(
                "members.csv",
                format!("{MEMBERS_H}\n{PILOT_GROUP},u-ana\ngroup-other,u-cai\n{PILOT_GROUP},u-ben\n"),
            )],
            "members.csv",
            Line(4),
            Some("group_id"),
            "rows of group \"group-sspr-pilot\" were given earlier in this file",
        ),
        case(
            "a group's members in two files of one import, another group between",
            Members,
            &[
                (
                    "members-a.csv",
                    format!("{MEMBERS_H}\n{PILOT_GROUP},u-ana\ngroup-other,u-cai\n"),
                ),
                (
                    "members-b.jsonl",
                    format!("{{\"group_id\":\"{PILOT_GROUP}\",\"user_id\":\"u-ben\"}}\n"),
                ),
            ],
            "members-b.jsonl",
            Line(1),
            Some("group_id"),
            "the members of group \"group-sspr-pilot\" were given earlier in this import",
        ),
        // Methods
        case(
            "an unknown method",
            Methods,
            &[(
                "methods.csv",
                lines(METHODS_H, &["u-ana,email,", "u-ana,carrier_pigeon,"]),
            )],
            "methods.csv",
            Line(3),
            Some("method"),
            "unknown method \"carrier_pigeon\"",
        ),
        case(
            "an unknown user in methods",
            Methods,
            &[(
                "methods.csv",
                lines(METHODS_H, &["u-ana,email,", "u-ana,app_code,", "u-zed,email,"]),
            )],
            "methods.csv",
            Line(4),
            Some("user_id"),
            "unknown user \"u-zed\"",
        ),
        case(
            "a registration time that is no time",
            Methods,
            &[("methods.csv", lines(METHODS_H, &["u-ana,email,yesterday"]))],
            "methods.csv",
            Line(2),
            Some("registered_at"),
            "\"yesterday\" is not a date and time",
        ),
        case(
            "a method twice for one user",
            Methods,
            &[(
                "methods.csv",
                lines(METHODS_H, &["u-ana,email,", "u-ana,email,"]),
            )],
            "methods.csv",
            Line(3),
            Some("method"),
            "email is given twice for this user",
        ),
        case(
            "a user's methods apart in one file",
            Methods,
            &[(
                "methods.csv",
                lines(METHODS_H, &["u-ana,email,", "u-ben,email,", "u-ana,app_code,"]),
            )],
            "methods.csv",
            Line(4),
            Some("user_id"),
            "rows of user \"u-ana\" were given earlier in this file",
        ),
        case(
            "a user's methods in two files of one import",
            Methods,
            &[
                ("methods-a.csv", lines(METHODS_H, &["u-ana,email,"])),
                (
                    "methods-b.jsonl",
                    "{\"user_id\":\"u-ana\",\"method\":\"app_code\"}\n".to_string(),
                ),
            ],
            "methods-b.jsonl",
            Line(1),
            Some("user_id"),
            "the methods of user \"u-ana\" were given earlier in this import",
        ),
        // Activities: values
        case(
            "an unknown feature",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &["a-new,u-ana,ana@contoso.example,login,failed,,2026-11-21T09:00:00Z,,,,,,"]),
            )],
            "activities.csv",
            Line(2),
            Some("feature"),
            "unknown feature \"login\"",
        ),
        case(
            "an unknown result",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &[ok_row, "a-two,u-ana,ana@contoso.example,reset,maybe,,2026-11-21T09:00:00Z,,,,,,"]),
            )],
            "activities.csv",
            Line(3),
            Some("result"),
            "unknown result \"maybe\"",
        ),
        case(
            "unknown details",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &["a-new,u-ana,ana@contoso.example,reset,abandoned,gave up,2026-11-21T09:00:00Z,,,,,,"]),
            )],
            "activities.csv",
            Line(2),
            Some("details"),
            "unknown details \"gave up\"",
        ),
        case(
            "details of another result",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &["a-new,u-ana,ana@contoso.example,reset,failed,succeeded,2026-11-21T09:00:00Z,,,,,,"]),
            )],
            "activities.csv",
            Line(2),
            Some("details"),
            "\"succeeded\" means the result succeeded, not failed",
        ),
        case(
            "details on a registration",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &["a-new,u-ana,ana@contoso.example,registration,failed,failed_not_enabled,2026-11-21T09:00:00Z,,,,,,"]),
            )],
            "activities.csv",
            Line(2),
            Some("details"),
            "details describe password resets",
        ),
        case(
            "an unknown method in the methods used",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &["a-new,u-ana,ana@contoso.example,reset,failed,,2026-11-21T09:00:00Z,email;sms,,,,,"]),
            )],
            "activities.csv",
            Line(2),
            Some("methods[1]"),
            "unknown method \"sms\"",
        ),
        case(
            "an unknown event method (CSV)",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &["a-new,u-ana,ana@contoso.example,reset,failed,,2026-11-21T09:00:00Z,,e-new,pigeon,false,,"]),
            )],
            "activities.csv",
            Line(2),
            Some("method"),
            "unknown method \"pigeon\"",
        ),
        case(
            "an unknown event method (JSON)",
            Activities,
            &[(
                "activities.jsonl",
                json_activity(
                    "a-new",
                    json!([{"id":"e-new","method":"email","success":false},{"id":"e-two","method":"sms","success":true}]),
                ),
            )],
            "activities.jsonl",
            Line(1),
            Some("events[1].method"),
            "unknown method \"sms\"",
        ),
        case(
            "\"yes\" for an event's success (JSON)",
            Activities,
            &[(
                "activities.jsonl",
                json_activity("a-new", json!([{"id":"e-new","method":"email","success":"yes"}])),
            )],
            "activities.jsonl",
            Line(1),
            Some("events[0].success"),
            "expected true or false, got \"yes\"",
        ),
        case(
            "\"yes\" for an event's success (CSV)",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &["a-new,u-ana,ana@contoso.example,reset,failed,,2026-11-21T09:00:00Z,,e-new,email,yes,,"]),
            )],
            "activities.csv",
            Line(2),
            Some("success"),
            "expected true or false, got \"yes\"",
        ),
        case(
            "an unknown field of an event",
            Activities,
            &[(
                "activities.jsonl",
                json_activity("a-new", json!([{"id":"e-new","method":"email","success":false,"colour":"red"}])),
            )],
            "activities.jsonl",
            Line(1),
            Some("events[0].colour"),
            "unknown field",
        ),
        case(
            "a number for the activity id",
            Activities,
            &[(
                "activities.jsonl",
                r#"{"id":17,"user_principal_name":"x@contoso.example","feature":"reset","details":"abandoned_after_user_id","occurred_at":"2026-11-21T09:00:00Z"}"#.to_string(),
            )],
            "activities.jsonl",
            Line(1),
            Some("id"),
            "expected text, got a number",
        ),
        case(
            "a missing time (JSON)",
            Activities,
            &[(
                "activities.jsonl",
                r#"{"id":"a-new","user_principal_name":"x@contoso.example","feature":"reset","details":"abandoned_after_user_id"}"#.to_string(),
            )],
            "activities.jsonl",
            Line(1),
            Some("occurred_at"),
            "missing required field",
        ),
        case(
            "a missing result and details",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &["a-new,,x@contoso.example,reset,,,2026-11-21T09:00:00Z,,,,,,"]),
            )],
            "activities.csv",
            Line(2),
            Some("result"),
            "missing required field",
        ),
        case(
            "an event row without success",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &["a-new,u-ana,ana@contoso.example,reset,failed,,2026-11-21T09:00:00Z,,e-new,email,,,"]),
            )],
            "activities.csv",
            Line(2),
            Some("success"),
            "missing required field",
        ),
        case(
            "a failure reason on a successful event",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &["a-new,u-ana,ana@contoso.example,reset,succeeded,,2026-11-21T09:00:00Z,,e-new,email,true,Code expired,"]),
            )],
            "activities.csv",
            Line(2),
            Some("failure_reason"),
            "a successful event has no failure reason",
        ),
        case(
            "method events of an unknown user ID",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &["a-new,,x@contoso.example,reset,failed,,2026-11-21T09:00:00Z,,e-new,email,false,,"]),
            )],
            "activities.csv",
            Line(2),
            Some("user_id"),
            "method events need a known user",
        ),
        case(
            "rows of one activity that disagree",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &[ok_row, "a-new,u-ana,ana@contoso.example,reset,failed,failed_not_enabled,2026-11-21T09:05:00Z,,e-two,email,false,,"]),
            )],
            "activities.csv",
            Line(3),
            Some("id"),
            "rows of one activity must agree",
        ),
        case(
            "a further row of an activity without an event",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &[ok_row, "a-new,u-ana,ana@contoso.example,reset,failed,failed_not_enabled,2026-11-21T09:00:00Z,,,,,,"]),
            )],
            "activities.csv",
            Line(3),
            Some("event_id"),
            "a further row of an activity must describe a method event",
        ),
        // Activities: references
        case(
            "an unknown user in activities",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &[ok_row, "a-two,u-zed,zed@contoso.example,reset,failed,,2026-11-21T09:00:00Z,,,,,,"]),
            )],
            "activities.csv",
            Line(3),
            Some("user_id"),
            "unknown user \"u-zed\"",
        ),
        case(
            "an unknown user after 6,000 good activities (a batch already written)",
            Activities,
            &[(
                "many.csv",
                many_then("a-bad,u-zed,zed@contoso.example,reset,failed,,2026-11-21T09:00:00Z,,,,,,"),
            )],
            "many.csv",
            Line(6_002),
            Some("user_id"),
            "unknown user \"u-zed\"",
        ),
        case(
            "bad JSON after good activities",
            Activities,
            &[(
                "activities.jsonl",
                format!(
                    "{}\n{}\n{{\"id\":\"a-three\",\n",
                    json_activity("a-one", json!([{"id":"e-one","method":"email","success":true}])),
                    json_activity("a-two", json!([])),
                ),
            )],
            "activities.jsonl",
            Line(3),
            None,
            "not valid JSON",
        ),
        // Activities: ids given twice
        case(
            "an activity id twice in one file",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &[&filler(1), &filler(2), &filler(1)]),
            )],
            "activities.csv",
            Line(4),
            Some("id"),
            "activity id \"f-00001\" is given twice in this import",
        ),
        case(
            "an activity id twice, 5,100 rows apart (another batch)",
            Activities,
            &[("far.csv", far(ok_row, &ok_row.replace("e-new", "e-two")))],
            "far.csv",
            Line(5_103),
            Some("id"),
            "activity id \"a-new\" is given twice in this import",
        ),
        case(
            "an activity id in two files of one import",
            Activities,
            &[
                ("part1.csv", lines(ACTS_H, &[ok_row])),
                (
                    "part2.jsonl",
                    format!(
                        "{}\n",
                        json_activity("a-new", json!([{"id":"e-two","method":"email","success":false}]))
                    ),
                ),
            ],
            "part2.jsonl",
            Line(1),
            Some("id"),
            "activity id \"a-new\" is given twice in this import",
        ),
        case(
            "an event id twice in one activity (CSV)",
            Activities,
            &[("activities.csv", lines(ACTS_H, &[ok_row, ok_row]))],
            "activities.csv",
            Line(2),
            Some("event_id"),
            "event id \"e-new\" is given twice in this activity",
        ),
        case(
            "an event id twice in one activity (JSON)",
            Activities,
            &[(
                "activities.jsonl",
                json_activity(
                    "a-new",
                    json!([{"id":"e-new","method":"email","success":false},{"id":"e-new","method":"mobile_sms","success":true}]),
                ),
            )],
            "activities.jsonl",
            Line(1),
            Some("events[1].id"),
            "event id \"e-new\" is given twice in this activity",
        ),
        case(
            "an event id in two activities of one file",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &[ok_row, &filler(1), &ok_row.replace("a-new", "a-two")]),
            )],
            "activities.csv",
            Line(4),
            Some("events.id"),
            "method event id \"e-new\" is given twice in this import",
        ),
        case(
            "an event id in two activities, 5,100 rows apart (another batch)",
            Activities,
            &[("far.csv", far(ok_row, &ok_row.replace("a-new", "a-two")))],
            "far.csv",
            Line(5_103),
            Some("events.id"),
            "method event id \"e-new\" is given twice in this import",
        ),
        case(
            "an event id stored by an earlier import, for another activity",
            Activities,
            &[(
                "activities.csv",
                lines(ACTS_H, &[&ok_row.replace("e-new", "e-01")]),
            )],
            "activities.csv",
            Line(2),
            Some("events.id"),
            "method event id \"e-01\" is already stored, for another activity",
        ),
    ]
}

async fn bad_input_on_an_empty_database(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    set_pilot_policy(&mut conn);
    for c in directory_cases() {
        assert_stops(&mut conn, &c, WriterOptions::default());
    }
    assert_eq!(snapshot(&mut conn).counts()["users"], 0);
    assert_eq!(
        snapshot(&mut conn).counts()["imports"],
        0,
        "no import is logged"
    );
}
db_test!(
    bad_input_leaves_an_empty_database_empty,
    bad_input_on_an_empty_database
);

async fn bad_input_on_stored_data(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    set_pilot_policy(&mut conn);
    import_worked_example(&mut conn, "csv");
    let start = snapshot(&mut conn);
    for c in directory_cases().into_iter().chain(reference_cases()) {
        assert_stops(&mut conn, &c, WriterOptions::default());
    }
    assert_eq!(snapshot(&mut conn), start);
    assert_worked_example(&mut conn);
    assert_worked_example_events(&mut conn);
    // The same good files still import after all those failures.
    let again = import_worked_example(&mut conn, "jsonl");
    assert!(again.iter().all(|s| !s.changed()));
}
db_test!(
    bad_input_stops_the_import_and_stores_nothing,
    bad_input_on_stored_data
);

/// A bulk load (event tables empty, indexes dropped on SQLite) whose last
/// row is bad: nothing stored, every index still there.
async fn bad_row_after_many_in_a_bulk_load(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    set_pilot_policy(&mut conn);
    import_ok(
        &mut conn,
        FileKind::Users,
        &[("users.csv", fixture("users.csv"))],
    );
    let indexes = event_indexes(&mut conn);
    assert_event_indexes_present(&indexes);
    let mut rows: Vec<String> = (0..12_000).map(good_activity).collect();
    rows.push(
        "a-bad,u-ana,ana@contoso.example,reset,failed,,2026-11-22T09:00:00Z,,e-bad,email,perhaps,,"
            .into(),
    );
    let c = case(
        "a bad value after 12,000 good activities in a bulk load",
        FileKind::Activities,
        &[(
            "bulk.csv",
            lines(ACTS_H, &rows.iter().map(String::as_str).collect::<Vec<_>>()),
        )],
        "bulk.csv",
        Position::Line(12_002),
        Some("success"),
        "expected true or false, got \"perhaps\"",
    );
    assert_stops(
        &mut conn,
        &c,
        WriterOptions {
            bulk: true,
            register_on_success: false,
        },
    );
    assert_eq!(event_indexes(&mut conn), indexes, "the indexes are intact");
    let counts = snapshot(&mut conn).counts();
    assert_eq!((counts["activities"], counts["method_events"]), (0, 0));
}
db_test!(
    a_bad_row_late_in_a_bulk_load_stores_nothing,
    bad_row_after_many_in_a_bulk_load
);

// ---------------------------------------------------------------------------
// 5. Methods and members files state complete lists

async fn complete_lists(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    set_pilot_policy(&mut conn);
    import_worked_example(&mut conn, "csv");

    // Ana drops SMS; Ben's phone call gets a new registration time.
    let methods: String = fixture("methods.csv")
        .lines()
        .filter(|l| !l.starts_with("u-ana,mobile_sms,"))
        .map(|l| {
            if l.starts_with("u-ben,mobile_call,") {
                "u-ben,mobile_call,2026-11-01T08:00:00Z\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let summary = import_ok(&mut conn, FileKind::Methods, &[("methods.csv", methods)]);
    assert_eq!(
        summary,
        Summary {
            methods: tally(0, 1, 1, 15),
            ..Summary::default()
        }
    );
    let ana = user(&mut conn, "u-ana");
    assert_eq!(
        flags(&ana),
        (false, true, false, false, false),
        "Ana with email alone: registered 1 of 2, and email is no second factor"
    );
    assert_eq!(ana.methods().display(), "Email");
    let ben_call: Option<NaiveDateTime> = user_methods::table
        .find(("u-ben", Method::MobileCall.code()))
        .select(user_methods::registered_at)
        .first(&mut conn)
        .unwrap();
    assert_eq!(ben_call, Some(t("2026-11-01 08:00")));
    assert_eq!(
        status_totals(&mut conn).unwrap(),
        StatusTotals {
            registered: 4,
            capable: 3,
            enabled_not_registered: 5,
            mfa_capable: 7,
            ..WORKED_TOTALS
        }
    );

    // Ben leaves the pilot group, Cai joins it.
    let members = "group_id,user_id\n\
        group-sspr-pilot,u-ana\ngroup-sspr-pilot,u-dee\ngroup-sspr-pilot,u-eve\n\
        group-sspr-pilot,u-hal\ngroup-sspr-pilot,u-ivy\ngroup-sspr-pilot,u-cai\n\
        group-other,u-cai\ngroup-other,u-fay\n";
    let summary = import_ok(&mut conn, FileKind::Members, &[("members.csv", members)]);
    assert_eq!(
        summary,
        Summary {
            members: tally(1, 0, 1, 7),
            ..Summary::default()
        }
    );
    assert_eq!(
        flags(&user(&mut conn, "u-ben")),
        (false, false, false, true, false)
    );
    assert_eq!(
        flags(&user(&mut conn, "u-cai")),
        (true, true, true, true, false)
    );
    assert_eq!(
        status_totals(&mut conn).unwrap(),
        StatusTotals {
            registered: 4,
            enabled: 8,
            capable: 4,
            enabled_not_registered: 4, // Ana, Eve, Gus, Ivy
            registered_not_enabled: 0,
            mfa_capable: 7,
            ..WORKED_TOTALS
        }
    );

    // Stating a user with no methods at all removes them all.
    let summary = import_ok(
        &mut conn,
        FileKind::Methods,
        &[("methods.csv", lines(METHODS_H, &["u-ivy,,"]))],
    );
    assert_eq!(
        summary,
        Summary {
            methods: tally(0, 0, 1, 0),
            ..Summary::default()
        }
    );
    assert_eq!(
        flags(&user(&mut conn, "u-ivy")),
        (false, true, false, false, false)
    );
    let maintained = status_totals(&mut conn).unwrap();
    assert_eq!(
        (maintained.mfa_capable, maintained.passwordless_capable),
        (6, 0)
    );
    rebuild_status_counts(&mut conn).unwrap();
    assert_eq!(status_totals(&mut conn).unwrap(), maintained);
}
db_test!(
    methods_and_members_files_state_complete_lists,
    complete_lists
);

// ---------------------------------------------------------------------------
// 6. Prune

async fn prune_keeps_counts_exact(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    set_pilot_policy(&mut conn);
    import_ok(
        &mut conn,
        FileKind::Users,
        &[("users.csv", fixture("users.csv"))],
    );

    let now = Utc::now().naive_utc();
    // In the middle of an hour and of a day, two days ago.
    let cutoff = day_bucket(now) - Duration::days(2) + Duration::minutes(10 * 60 + 30);
    let min = Duration::minutes;
    use Feature::{Registration, Reset};
    use Method::*;
    // (activity, user, feature, offset from the cutoff, events: method, success, offset)
    type Planned<'a> = (
        &'a str,
        Option<&'a str>,
        Feature,
        Duration,
        Vec<(Method, bool, Duration)>,
    );
    let plan: Vec<Planned> = vec![
        (
            "p-01",
            Some("u-ana"),
            Reset,
            -Duration::days(3) - min(60),
            vec![
                (MobileSms, true, -Duration::days(3) - min(60)),
                (Email, false, -Duration::days(3) - min(58)),
            ],
        ),
        (
            "p-02",
            Some("u-ben"),
            Registration,
            -Duration::days(1),
            vec![(MobileSms, false, -Duration::days(1))],
        ),
        (
            "p-03",
            Some("u-cai"),
            Reset,
            -min(600),
            vec![(AppCode, true, -min(600))],
        ),
        (
            "p-04",
            Some("u-ana"),
            Reset,
            -min(120),
            vec![(Email, true, -min(120))],
        ),
        (
            "p-05",
            Some("u-dee"),
            Reset,
            -min(40),
            vec![(MobileSms, false, -min(40)), (MobileSms, true, -min(39))],
        ),
        (
            "p-06",
            Some("u-eve"),
            Reset,
            -min(20),
            vec![(OfficeCall, false, -min(20))],
        ),
        (
            "p-07",
            Some("u-fay"),
            Reset,
            -Duration::seconds(1),
            vec![(AppNotification, true, -Duration::seconds(1))],
        ),
        // Its second event falls after the cutoff and stays.
        (
            "p-08",
            Some("u-gus"),
            Reset,
            -min(10),
            vec![(Email, false, -min(10)), (Email, true, min(10))],
        ),
        ("p-09", None, Reset, -min(5), vec![]),
        (
            "p-10",
            Some("u-hal"),
            Registration,
            Duration::zero(),
            vec![(Email, true, Duration::zero())],
        ),
        (
            "p-11",
            Some("u-ivy"),
            Registration,
            min(5),
            vec![(Fido2, true, min(5))],
        ),
        ("p-12", None, Reset, min(7), vec![]),
        (
            "p-13",
            Some("u-ana"),
            Reset,
            min(90),
            vec![(MobileSms, true, min(90))],
        ),
        (
            "p-14",
            Some("u-ben"),
            Reset,
            Duration::days(1),
            vec![
                (MobileSms, false, Duration::days(1)),
                (MobileSms, true, Duration::days(1) + min(3)),
            ],
        ),
    ];
    let mut file = String::new();
    let (mut old_activities, mut old_events) = (0u64, 0u64);
    for (id, user_id, feature, offset, events) in &plan {
        let at = cutoff + *offset;
        old_activities += u64::from(at < cutoff);
        let succeeded = events.last().is_some_and(|e| e.1);
        let (result, details) = match (feature, user_id, succeeded) {
            (_, None, _) => ("abandoned", Some("abandoned_after_user_id")),
            (Reset, _, true) => ("succeeded", Some("succeeded")),
            (Reset, _, false) => ("failed", Some("failed_not_enabled")),
            (Registration, _, true) => ("succeeded", None),
            (Registration, _, false) => ("failed", None),
            (Feature::Unlock, _, true) => ("succeeded", None),
            (Feature::Unlock, _, false) => ("failed", Some("failed_not_enabled")),
        };
        let events: Vec<serde_json::Value> = events
            .iter()
            .enumerate()
            .map(|(i, (method, success, offset))| {
                old_events += u64::from(cutoff + *offset < cutoff);
                json!({
                    "id": format!("{id}-e{i}"),
                    "method": method.key(),
                    "success": success,
                    "failure_reason": (!success).then_some("Code expired"),
                    "occurred_at": rfc3339(cutoff + *offset),
                })
            })
            .collect();
        let line = json!({
            "id": id,
            "user_id": user_id,
            "user_principal_name": format!("{}@contoso.example", user_id.unwrap_or("nobody")),
            "feature": feature.key(),
            "result": result,
            "details": details,
            "occurred_at": rfc3339(at),
            "events": events,
        });
        file.push_str(&format!("{line}\n"));
    }
    let summary = import_ok(&mut conn, FileKind::Activities, &[("prune.jsonl", file)]);
    assert_eq!(
        (summary.activities.inserted, summary.events.inserted),
        (14, 16)
    );
    assert_eq!(
        (old_activities, old_events),
        (9, 10),
        "the plan's arithmetic"
    );
    let acts = stored_activities(&mut conn);
    let events = stored_events(&mut conn);
    assert_eq!(stored_aggregates(&mut conn), recount(&acts, &events));

    let pruned = prune(&mut conn, cutoff, now).unwrap();
    assert_eq!(
        pruned,
        Pruned {
            activities: old_activities,
            events: old_events,
        }
    );
    let left_acts = stored_activities(&mut conn);
    let left_events = stored_events(&mut conn);
    assert!(left_acts.iter().all(|a| a.occurred_at >= cutoff));
    assert!(left_events.iter().all(|e| e.occurred_at >= cutoff));
    let kept_acts: Vec<Activity> = acts
        .iter()
        .filter(|a| a.occurred_at >= cutoff)
        .cloned()
        .collect();
    let kept_events: Vec<MethodEvent> = events
        .iter()
        .filter(|e| e.occurred_at >= cutoff)
        .cloned()
        .collect();
    assert_eq!(left_acts, kept_acts);
    assert_eq!(left_events, kept_events);
    assert_eq!(
        left_events
            .iter()
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>(),
        ["p-08-e1", "p-10-e0", "p-11-e0", "p-13-e0", "p-14-e0", "p-14-e1"]
    );
    let after = stored_aggregates(&mut conn);
    assert_eq!(
        after,
        recount(&left_acts, &left_events),
        "counts equal the rows left"
    );
    assert_eq!(after.total_events(), (6, 6));
    // The cutoff's own hour and day keep exactly what is after the cutoff.
    let hour = hour_bucket(cutoff);
    let in_hour: i64 = after
        .events_hourly
        .iter()
        .filter(|((b, ..), _)| *b == hour)
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        in_hour, 3,
        "Gus's late email, Hal's email at the cutoff and Ivy's key five minutes on"
    );
    let in_day: i64 = after
        .activities_daily
        .iter()
        .filter(|((d, ..), _)| *d == day_bucket(cutoff))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(in_day, 4, "p-10 to p-13");

    // Again: nothing more to remove, nothing moves.
    let before = snapshot(&mut conn);
    assert_eq!(prune(&mut conn, cutoff, now).unwrap(), Pruned::default());
    assert_eq!(snapshot(&mut conn), before);

    // A cutoff on a whole hour (12:00, which keeps p-13 at 12:00), then on
    // a midnight (which keeps only p-14, the next day).
    for (cut, removed, left) in [
        (
            hour_bucket(cutoff) + Duration::hours(2),
            Pruned {
                activities: 3,
                events: 3,
            },
            vec!["p-13-e0", "p-14-e0", "p-14-e1"],
        ),
        (
            day_bucket(cutoff) + Duration::days(1),
            Pruned {
                activities: 1,
                events: 1,
            },
            vec!["p-14-e0", "p-14-e1"],
        ),
    ] {
        assert_eq!(prune(&mut conn, cut, now).unwrap(), removed, "cutoff {cut}");
        let acts = stored_activities(&mut conn);
        let events = stored_events(&mut conn);
        assert_eq!(
            events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            left
        );
        assert_eq!(
            stored_aggregates(&mut conn),
            recount(&acts, &events),
            "cutoff {cut}: counts equal the rows left"
        );
    }
}
db_test!(
    prune_keeps_the_counts_equal_to_the_events_left,
    prune_keeps_counts_exact
);

// ---------------------------------------------------------------------------
// 7. Live ingest registers methods; a file import does not

async fn registration_rule(backend: Backend) {
    let events = lines(
        ACTS_H,
        &[
            // Ben (SMS and call: one phone) registers email.
            "l-1,u-ben,ben@contoso.example,registration,succeeded,,2026-11-21T10:00:00Z,,le-1,email,true,,",
            // Ivy's app code registration fails.
            "l-2,u-ivy,ivy@contoso.example,registration,failed,,2026-11-21T10:05:00Z,,le-2,app_code,false,Timed out,",
            // Gus uses an app notification in a reset: no registration.
            "l-3,u-gus,gus@contoso.example,reset,succeeded,succeeded,2026-11-21T10:10:00Z,,le-3,app_notification,true,,",
            // Eve verifies a mobile phone by SMS: the phone serves calls too.
            "l-4,u-eve,eve@contoso.example,registration,succeeded,,2026-11-21T10:15:00Z,,le-4,mobile_sms,true,,",
        ],
    );
    for live in [false, true] {
        let db = TestDb::new(backend);
        let mut conn = db.connect();
        set_pilot_policy(&mut conn);
        import_worked_example(&mut conn, "csv");
        let directory = ["users", "user_methods", "user_status_counts"];
        let before = snapshot(&mut conn).only(&directory);
        let outcome = run_import(
            &mut conn,
            FileKind::Activities,
            &[("live.csv", events.as_str())],
            WriterOptions {
                bulk: false,
                register_on_success: live,
            },
        )
        .unwrap();
        assert_eq!(
            (outcome.summary.activities, outcome.summary.events),
            (tally(4, 0, 0, 0), tally(4, 0, 0, 0))
        );
        let ben = user(&mut conn, "u-ben");
        let eve = user(&mut conn, "u-eve");
        if live {
            assert_eq!(
                outcome.summary.methods,
                tally(3, 0, 0, 0),
                "email, SMS and call"
            );
            assert_eq!(ben.methods().display(), "Phone call, SMS, Email");
            assert_eq!(
                flags(&ben),
                (true, true, true, true, false),
                "Ben is capable now"
            );
            let at: Option<NaiveDateTime> = user_methods::table
                .find(("u-ben", Method::Email.code()))
                .select(user_methods::registered_at)
                .first(&mut conn)
                .unwrap();
            assert_eq!(at, Some(t("2026-11-21 10:00")), "registered when verified");
            assert!(eve.methods().contains(Method::MobileSms));
            assert!(eve.methods().contains(Method::MobileCall));
            assert_eq!(
                flags(&eve),
                (false, true, false, true, false),
                "one phone is one method of the two required"
            );
            assert_eq!(
                user(&mut conn, "u-ivy").methods().display(),
                "FIDO2 security key"
            );
            assert!(!user(&mut conn, "u-gus")
                .methods()
                .contains(Method::AppNotification));
            assert_eq!(
                status_totals(&mut conn).unwrap(),
                StatusTotals {
                    registered: 6,
                    capable: 5,
                    enabled_not_registered: 3,
                    ..WORKED_TOTALS
                }
            );
        } else {
            assert_eq!(outcome.summary.methods, Tally::default());
            assert_eq!(ben.methods().display(), "Phone call, SMS");
            assert_eq!(flags(&ben), (false, true, false, true, false));
            assert_eq!(
                snapshot(&mut conn).only(&directory),
                before,
                "a file import leaves the directory as it is"
            );
            assert_eq!(status_totals(&mut conn).unwrap(), WORKED_TOTALS);
        }
    }
}
db_test!(
    a_successful_registration_registers_its_method_only_in_live_ingest,
    registration_rule
);

// ---------------------------------------------------------------------------
// 8. A large file streams through a bulk load

async fn large_file_in_bulk(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    set_pilot_policy(&mut conn);
    import_ok(
        &mut conn,
        FileKind::Users,
        &[("users.csv", fixture("users.csv"))],
    );
    let indexes = event_indexes(&mut conn);
    assert_event_indexes_present(&indexes);

    let ids = [
        "u-ana", "u-ben", "u-cai", "u-dee", "u-eve", "u-fay", "u-gus", "u-hal", "u-ivy",
    ];
    let methods = [
        Method::Email,
        Method::MobileSms,
        Method::AppCode,
        Method::OfficeCall,
    ];
    let start = t("2026-10-26 00:00");
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let mut expected_acts = Vec::new();
    let mut expected_events = Vec::new();
    {
        let mut out = std::io::BufWriter::new(file.as_file_mut());
        writeln!(out, "{ACTS_H}").unwrap();
        for i in 0..10_000usize {
            let user_id = ids[i % ids.len()];
            let upn = format!("{}@contoso.example", &user_id[2..]);
            let at = start + Duration::seconds(i as i64 * 251);
            let feature = if i % 3 == 0 {
                Feature::Registration
            } else {
                Feature::Reset
            };
            let first = methods[i % 4];
            let second = methods[(i / 4) % 4];
            let success = i % 5 != 0;
            let (result, details) = match (feature, success) {
                (Feature::Reset, true) => (ActivityResult::Succeeded, Some(Details::Succeeded)),
                (Feature::Reset, false) => {
                    (ActivityResult::Failed, Some(Details::FailedNotEnabled))
                }
                (Feature::Registration, true) => (ActivityResult::Succeeded, None),
                (Feature::Registration, false) => (ActivityResult::Failed, None),
                (Feature::Unlock, true) => (ActivityResult::Succeeded, None),
                (Feature::Unlock, false) => {
                    (ActivityResult::Failed, Some(Details::FailedNotEnabled))
                }
            };
            let id = format!("big-{i:05}");
            expected_acts.push(Activity {
                id: id.clone(),
                user_id: Some(user_id.into()),
                user_principal_name: upn.clone(),
                user_display_name: String::new(),
                user_role: String::new(),
                feature: feature.code(),
                methods_mask: [first, second].into_iter().collect::<MethodSet>().mask(),
                result: result.code(),
                details: details.map(Details::code),
                occurred_at: at,
            });
            // Two events: the first fails, the second (a minute on, maybe in
            // the next hour) ends as the activity did.
            for (n, (method, ok, when)) in [
                (first, false, at),
                (second, success, at + Duration::minutes(1)),
            ]
            .into_iter()
            .enumerate()
            {
                let event_id = format!("big-{i:05}-{n}");
                let reason = if ok { "" } else { "Code expired" };
                writeln!(
                    out,
                    "{id},{user_id},{upn},{},{},{},{},,{event_id},{},{ok},{reason},{}",
                    feature.key(),
                    result.key(),
                    details.map_or("", Details::key),
                    rfc3339(at),
                    method.key(),
                    rfc3339(when),
                )
                .unwrap();
                expected_events.push(MethodEvent {
                    id: event_id,
                    activity_id: Some(id.clone()),
                    user_id: user_id.into(),
                    feature: feature.code(),
                    method: method.code(),
                    success: ok,
                    failure_reason: (!ok).then(|| reason.to_string()),
                    occurred_at: when,
                    method_name: None,
                });
            }
        }
        out.flush().unwrap();
    }
    let reader = std::io::BufReader::new(std::fs::File::open(file.path()).unwrap());
    let outcome = import_service::import(
        &mut conn,
        &request(
            FileKind::Activities,
            WriterOptions {
                bulk: true,
                register_on_success: false,
            },
        ),
        vec![ImportFile {
            name: "big-activities.csv".into(),
            reader: Box::new(reader),
        }],
    )
    .unwrap_or_else(|e| panic!("the large import fails: {e}"));
    assert_eq!(
        outcome.summary,
        Summary {
            activities: tally(10_000, 0, 0, 0),
            events: tally(20_000, 0, 0, 0),
            ..Summary::default()
        }
    );
    assert_eq!(outcome.records, 10_000, "one record per activity");
    let counts = snapshot(&mut conn).counts();
    assert_eq!(
        (counts["activities"], counts["method_events"]),
        (10_000, 20_000)
    );
    let stored = stored_aggregates(&mut conn);
    assert_eq!(stored.total_events(), (20_000, 20_000));
    assert_eq!(stored, recount(&expected_acts, &expected_events));
    expected_acts.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(stored_activities(&mut conn), expected_acts);
    expected_events.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(stored_events(&mut conn), expected_events);
    assert_eq!(
        event_indexes(&mut conn),
        indexes,
        "the secondary indexes are rebuilt as they were"
    );
    assert_eq!(
        user(&mut conn, "u-ana").methods().display(),
        "",
        "no methods registered"
    );
}
db_test!(a_large_activities_file_streams_in_bulk, large_file_in_bulk);

/// Stored rows go to SQLite in statements of many rows, as if all new; a
/// statement that meets a stored id must fall back to row by row, so that
/// repeats are skipped and new rows in the same statement still stored.
async fn large_reimport_with_new_rows(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    set_pilot_policy(&mut conn);
    import_ok(
        &mut conn,
        FileKind::Users,
        &[("users.csv", fixture("users.csv"))],
    );
    let first: Vec<String> = (0..3_000).map(good_activity).collect();
    let file =
        |rows: &[String]| lines(ACTS_H, &rows.iter().map(String::as_str).collect::<Vec<_>>());
    let bulk = WriterOptions {
        bulk: true,
        register_on_success: false,
    };
    let done = import_ok(
        &mut conn,
        FileKind::Activities,
        &[("first.csv", file(&first))],
    );
    assert_eq!(done.activities, tally(3_000, 0, 0, 0));
    // 500 new activities spread among the 3,000 repeats, so that most
    // many-row statements hold both.
    let mut order: Vec<usize> = (0..3_500).collect();
    order.sort_by_key(|i| (i % 7, *i));
    let second: Vec<String> = order.iter().map(|i| good_activity(*i)).collect();
    let new_ids: Vec<usize> = (3_000..3_500).collect();
    let summaries = {
        let outcome = import_service::import(
            &mut conn,
            &request(FileKind::Activities, bulk),
            vec![ImportFile {
                name: "second.csv".into(),
                reader: Box::new(std::io::Cursor::new(file(&second).into_bytes())),
            }],
        )
        .unwrap_or_else(|e| panic!("the second import fails: {e}"));
        outcome.summary
    };
    assert_eq!(
        (summaries.activities, summaries.events),
        (tally(500, 0, 0, 3_000), tally(500, 0, 0, 3_000)),
        "the 500 new activities are stored, the 3,000 repeats skipped"
    );
    let counts = snapshot(&mut conn).counts();
    assert_eq!(
        (counts["activities"], counts["method_events"]),
        (3_500, 3_500)
    );
    let stored: BTreeSet<String> = stored_activities(&mut conn)
        .into_iter()
        .map(|a| a.id)
        .collect();
    for i in new_ids {
        assert!(stored.contains(&format!("g-{i:05}")), "g-{i:05} is stored");
    }
    let aggregates = stored_aggregates(&mut conn);
    assert_eq!(aggregates.total_events(), (3_500, 3_500));
    assert_eq!(
        aggregates,
        recount(&stored_activities(&mut conn), &stored_events(&mut conn))
    );

    // An id given twice 20 rows apart, inside one many-row statement.
    let mut third: Vec<String> = (5_000..5_200).map(good_activity).collect();
    third[120] = good_activity(5_100);
    let c = case(
        "an activity id given twice inside one many-row statement",
        FileKind::Activities,
        &[("third.csv", file(&third))],
        "third.csv",
        Position::Line(122),
        Some("id"),
        "activity id \"g-05100\" is given twice in this import",
    );
    assert_stops(&mut conn, &c, bulk);
}
db_test!(
    a_large_reimport_stores_only_the_new_rows,
    large_reimport_with_new_rows
);

// ---------------------------------------------------------------------------
// The snapshot sees a single changed cell

async fn snapshot_sees_one_cell(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    set_pilot_policy(&mut conn);
    import_worked_example(&mut conn, "csv");
    let before = snapshot(&mut conn);
    let days = authinsights::db::retention::retention_days(&mut conn).unwrap();
    authinsights::db::retention::set_retention_days(&mut conn, days + 1).unwrap();
    let changed = snapshot(&mut conn);
    assert_ne!(changed.checksum(), before.checksum());
    assert_eq!(changed.counts(), before.counts());
    assert_eq!(
        changed.without("portal_state"),
        before.without("portal_state"),
        "only portal_state differs"
    );
    authinsights::db::retention::set_retention_days(&mut conn, days).unwrap();
    assert_eq!(snapshot(&mut conn), before);
    diesel::update(user_methods::table.find(("u-cai", Method::Email.code())))
        .set(user_methods::registered_at.eq(Some(t("2026-10-03 09:00"))))
        .execute(&mut conn)
        .unwrap();
    assert_ne!(
        snapshot(&mut conn).only(&["user_methods"]),
        before.only(&["user_methods"]),
        "a NULL that became a time"
    );
}
db_test!(
    the_snapshot_sees_a_single_changed_cell,
    snapshot_sees_one_cell
);

// ---------------------------------------------------------------------------
// A byte order mark (as Excel and Windows tools write) is not data

async fn byte_order_mark(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    set_pilot_policy(&mut conn);
    let csv = format!("\u{feff}{}", fixture("users.csv"));
    assert_eq!(
        import_ok(&mut conn, FileKind::Users, &[("users.csv", csv)]).users,
        tally(9, 0, 0, 0)
    );
    let jsonl = format!("\u{feff}{}", fixture("users.jsonl"));
    assert_eq!(
        import_ok(&mut conn, FileKind::Users, &[("users.jsonl", jsonl)]).users,
        tally(0, 0, 0, 9),
        "the same users"
    );
}
db_test!(a_byte_order_mark_is_ignored, byte_order_mark);

// ---------------------------------------------------------------------------
// A users file that leaves out the optional columns states nothing about them
// (src/ingest/records.rs: "`None` leaves a stored value as it is"): renaming
// users must not demote administrators, re-enable disabled accounts or turn
// guests into members.

async fn optional_columns_left_out(backend: Backend) {
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    set_pilot_policy(&mut conn);
    import_worked_example(&mut conn, "csv");
    // Only the required columns: Dee gets a new name, Fay and Hal are restated.
    let csv = "id,display_name,user_principal_name\n\
               u-dee,Dee Brown,dee@fabrikam.example\n\
               u-fay,Fay,fay@contoso.example\n\
               u-hal,Hal,hal@contoso.example\n";
    let jsonl = "{\"id\":\"u-fay\",\"display_name\":\"Fay\",\"user_principal_name\":\"fay@contoso.example\"}\n";
    for (name, text, want) in [
        ("users.csv", csv, tally(0, 1, 0, 2)),
        ("users.jsonl", jsonl, tally(0, 0, 0, 1)),
    ] {
        let summary = import_ok(&mut conn, FileKind::Users, &[(name, text)]);
        let dee = user(&mut conn, "u-dee");
        let fay = user(&mut conn, "u-fay");
        let hal = user(&mut conn, "u-hal");
        assert_eq!(dee.display_name, "Dee Brown");
        assert!(dee.is_guest, "{name}: Dee is still a guest");
        assert!(
            fay.is_admin && fay.directory_role == "Global Administrator",
            "{name}: Fay is still a Global Administrator"
        );
        assert_eq!(
            hal.account_enabled,
            Some(false),
            "{name}: Hal's account stays disabled"
        );
        for (id, want) in STATUSES {
            assert_eq!(flags(&user(&mut conn, id)), want, "{name}: {id}'s statuses");
        }
        assert_eq!(status_totals(&mut conn).unwrap(), WORKED_TOTALS, "{name}");
        assert_eq!(summary.users, want, "{name}");
    }
}
db_test!(
    a_users_file_without_optional_columns_keeps_stored_facts,
    optional_columns_left_out
);

// ---------------------------------------------------------------------------
// Export and import again: the stored data moves between databases whole.

async fn export_round_trip(backend: Backend) {
    use authinsights::ingest::export::export;
    let source = TestDb::new(backend);
    let mut from = source.connect();
    set_pilot_policy(&mut from);
    import_worked_example(&mut from, "csv");
    let target = TestDb::new(backend);
    let mut to = target.connect();
    set_pilot_policy(&mut to);
    for kind in [
        FileKind::Users,
        FileKind::Groups,
        FileKind::Members,
        FileKind::Methods,
        FileKind::Activities,
    ] {
        let mut file = Vec::new();
        let rows = export(&mut from, kind, &mut file).unwrap();
        assert!(rows > 0, "{} rows of {}", rows, kind.key());
        let text = String::from_utf8(file).unwrap();
        import_ok(&mut to, kind, &[(format!("{}.csv", kind.key()), text)]);
    }
    assert_eq!(stored_activities(&mut to), stored_activities(&mut from));
    assert_eq!(stored_events(&mut to), stored_events(&mut from));
    assert_eq!(stored_aggregates(&mut to), stored_aggregates(&mut from));
    assert_eq!(
        status_totals(&mut to).unwrap(),
        status_totals(&mut from).unwrap()
    );
}
db_test!(
    an_export_imports_into_another_database_whole,
    export_round_trip
);
