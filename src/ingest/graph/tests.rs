use super::*;
use std::cell::Cell;
use std::rc::Rc;

const ADELE: &str = "3b09d766-9c46-4e3b-8714-bea012dfd494";
const ALEX: &str = "2b64e613-fcd9-46b5-b4ea-8a96f1d38c6b";
const MEGAN: &str = "d9fafcd9-2aea-4b67-82f5-ba33488140ed";
const BIANCA: &str = "0c359533-f728-40a7-9415-c5a84c61819e";
const LEE: &str = "0e0dcbc8-29fa-4262-891f-c8596aa5b554";
const ISAIAH: &str = "adcb01c9-e906-4494-9732-c71e62081f66";
const JOHANNA: &str = "311e41a2-9921-4662-b0c2-b4ed38422645";
const LYNNE: &str = "e1c85602-a07a-4013-aad2-b8741f0d61d1";
const NESTOR: &str = "f0c66c7e-4694-4e88-b8cf-1a4f55c30963";
const PRADEEP: &str = "969c8dc4-1abc-4889-9eef-4c140a5c16be";
const HENRIETTA: &str = "d25fe64d-7aa6-41cb-9607-984bf28a3a0f";

fn t(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").unwrap()
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/graph/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

/// An import dated at a fixed moment, so undated verdicts can be asserted.
fn import() -> GraphImport {
    GraphImport {
        read_at: t("2025-06-01T00:00:00"),
        ..GraphImport::new()
    }
}

/// Reads the files in order and finishes, collecting every record but the
/// listing's completeness ([`listing_of`] reads that).
fn run(files: &[(&str, &str)]) -> Result<Vec<Located>, Stop> {
    Ok(run_all(files)?
        .into_iter()
        .filter(|l| !matches!(l.record, Record::Listing { .. }))
        .collect())
}

/// Whether the files' registration details are a whole export: `None`
/// when they hold none.
fn listing_of(files: &[(&str, &str)]) -> Option<(String, bool)> {
    run_all(files)
        .unwrap()
        .into_iter()
        .find_map(|l| match l.record {
            Record::Listing { complete } => Some((l.at.file, complete)),
            _ => None,
        })
}

#[test]
fn a_registration_export_is_whole_unless_its_last_page_links_to_more() {
    let page1 = fixture("user-registration-details-page1.json");
    let page2 = fixture("user-registration-details-page2.json");
    let lines = fixture("user-registration-details.jsonl");
    let usage = fixture("user-credential-usage-details.json");
    let credential = fixture("credential-user-registration-details.json");
    assert_eq!(
        listing_of(&[("p1.json", &page1)]),
        Some(("p1.json".into(), false)),
        "the first page alone: more follow"
    );
    assert_eq!(
        listing_of(&[("p1.json", &page1), ("p2.json", &page2)]),
        Some(("p2.json".into(), true))
    );
    assert_eq!(
        listing_of(&[("u.jsonl", &lines)]),
        Some(("u.jsonl".into(), true))
    );
    assert_eq!(listing_of(&[("usage.json", &usage)]), None);
    assert_eq!(
        listing_of(&[("credential.json", &credential)]),
        None,
        "another resource's export marks nothing"
    );
}

/// Reads the files in order and finishes, collecting every record.
fn run_all(files: &[(&str, &str)]) -> Result<Vec<Located>, Stop> {
    let mut out = Vec::new();
    let mut sink = |l: Located| {
        out.push(l);
        Ok(())
    };
    let mut graph = import();
    for (name, text) in files {
        graph.read_file(name, text.as_bytes(), &mut sink)?;
    }
    graph.finish(&mut sink)?;
    Ok(out)
}

/// As [`run`], refusing unknown values (`--strict`).
fn run_strict(files: &[(&str, &str)]) -> Result<Vec<Located>, Stop> {
    let mut out = Vec::new();
    let mut sink = |l: Located| {
        out.push(l);
        Ok(())
    };
    let mut graph = import().strict(true);
    for (name, text) in files {
        graph.read_file(name, text.as_bytes(), &mut sink)?;
    }
    graph.finish(&mut sink)?;
    Ok(out)
}

fn warnings(records: &[Located]) -> Vec<&ImportWarning> {
    records
        .iter()
        .filter_map(|l| match &l.record {
            Record::Warning(w) => Some(w),
            _ => None,
        })
        .collect()
}

fn fixtures(names: &[&str]) -> Vec<Located> {
    let texts: Vec<(&str, String)> = names.iter().map(|n| (*n, fixture(n))).collect();
    let files: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (*n, t.as_str())).collect();
    run(&files).unwrap()
}

fn invalid(result: Result<Vec<Located>, Stop>) -> ImportError {
    match result {
        Err(Stop::Invalid(e)) => e,
        Err(other) => panic!("expected an import error, got {other}"),
        Ok(records) => panic!("expected an import error, got {} records", records.len()),
    }
}

fn one(name: &str, text: &str) -> ImportError {
    invalid(run(&[(name, text)]))
}

fn at(file: &str, position: Position) -> Location {
    Location {
        file: file.to_string(),
        position,
    }
}

fn users(records: &[Located]) -> Vec<&UserRecord> {
    records
        .iter()
        .filter_map(|l| match &l.record {
            Record::User(u) => Some(u),
            _ => None,
        })
        .collect()
}

fn methods_of(records: &[Located], user: &str) -> Vec<Method> {
    records
        .iter()
        .find_map(|l| match &l.record {
            Record::Methods(m) if m.user_id == user => Some(m),
            _ => None,
        })
        .unwrap()
        .methods
        .iter()
        .map(|(m, at)| {
            assert_eq!(*at, None);
            *m
        })
        .collect()
}

fn events(records: &[Located]) -> Vec<(&MethodEvent, Identity, UserKey)> {
    records
        .iter()
        .filter_map(|l| match &l.record {
            Record::Event {
                event,
                identity,
                user_key,
                ..
            } => Some((event, *identity, *user_key)),
            _ => None,
        })
        .collect()
}

fn activities(records: &[Located]) -> Vec<&ActivityRecord> {
    records
        .iter()
        .filter_map(|l| match &l.record {
            Record::Activity(a, Identity::Flow) => Some(a),
            _ => None,
        })
        .collect()
}

fn verdicts(r: bool, e: bool, c: bool, m: bool, p: bool) -> Verdicts {
    Verdicts {
        registered: Some(r),
        enabled: Some(e),
        capable: Some(c),
        mfa_capable: Some(m),
        passwordless_capable: Some(p),
    }
}

#[test]
fn a_registration_details_page_gives_users_with_verdicts_and_complete_methods() {
    let file = "user-registration-details.json";
    let records = fixtures(&[file]);
    assert_eq!(records.len(), 12);
    assert_eq!(
        records[0],
        Located {
            at: at(file, Position::Record(1)),
            record: Record::User(UserRecord {
                id: ADELE.to_string(),
                display_name: "Adele Vance".to_string(),
                user_principal_name: "AdeleV@contoso.com".to_string(),
                is_guest: Some(false),
                is_admin: Some(false),
                directory_role: None,
                account_enabled: None,
                verdicts: Some((
                    verdicts(true, true, true, true, false),
                    t("2025-05-19T23:10:41.619583")
                )),
                mfa: Some(MfaDetails {
                    mfa_registered: Some(true),
                    default_mfa_method: None,
                    system_preferred_enabled: Some(true),
                    system_preferred_methods: Some(vec!["sms".to_string()]),
                    user_preferred_method: Some("sms".to_string()),
                    updated_at: Some(t("2025-05-19T23:10:41.619583")),
                }),
                listing: "userRegistrationDetails",
            }),
        }
    );
    assert_eq!(
        records[1],
        Located {
            at: at(file, Position::Record(1)),
            record: Record::Methods(MethodsRecord {
                user_id: ADELE.to_string(),
                methods: vec![
                    (Method::MobileCall, None),
                    (Method::MobileSms, None),
                    (Method::Email, None)
                ],
                complete: true,
                other_names: Vec::new(),
            }),
        }
    );
    let users = users(&records);
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, [ADELE, ALEX, MEGAN, BIANCA, LEE, ISAIAH]);
    let megan = users[2];
    assert_eq!(megan.is_admin, Some(true));
    assert_eq!(
        megan.verdicts.unwrap().0,
        verdicts(true, true, true, true, true)
    );
    let bianca = users[3];
    assert_eq!(bianca.is_guest, Some(true));
    assert_eq!(
        bianca.user_principal_name,
        "bianca.pisani_fabrikam.com#EXT#@contoso.onmicrosoft.com"
    );
    // No lastUpdatedDateTime: the verdicts hold as of the import.
    let lee = users[4];
    assert_eq!(
        lee.verdicts,
        Some((
            verdicts(false, false, false, false, false),
            t("2025-06-01T00:00:00")
        ))
    );
    assert_eq!(
        users[5].verdicts.unwrap().0,
        verdicts(false, true, false, true, false)
    );
    assert_eq!(
        methods_of(&records, ALEX),
        [Method::AppNotification, Method::AppCode]
    );
    assert_eq!(
        methods_of(&records, MEGAN),
        [
            Method::AppNotification,
            Method::Email,
            Method::Fido2,
            Method::WindowsHello
        ]
    );
    assert_eq!(methods_of(&records, BIANCA), [Method::Email]);
    assert_eq!(methods_of(&records, LEE), []);
    assert_eq!(
        methods_of(&records, ISAIAH),
        [Method::OfficeCall, Method::SecurityQuestions]
    );
    let positions: Vec<Position> = records.iter().map(|l| l.at.position).collect();
    assert_eq!(positions[10..], [Position::Record(6), Position::Record(6)]);
}

#[test]
fn a_paged_export_reads_page_by_page() {
    let records = fixtures(&[
        "user-registration-details-page1.json",
        "user-registration-details-page2.json",
    ]);
    let placed: Vec<(&str, Position, &str)> = users(&records)
        .iter()
        .zip(records.iter().step_by(2))
        .map(|(u, l)| (l.at.file.as_str(), l.at.position, u.display_name.as_str()))
        .collect();
    assert_eq!(
        placed,
        [
            (
                "user-registration-details-page1.json",
                Position::Record(1),
                "Johanna Lorenz"
            ),
            (
                "user-registration-details-page1.json",
                Position::Record(2),
                "Joni Sherman"
            ),
            (
                "user-registration-details-page2.json",
                Position::Record(1),
                "Lynne Robbins"
            ),
            (
                "user-registration-details-page2.json",
                Position::Record(2),
                "Nestor Wilke"
            ),
        ]
    );
    // A mobile phone serves texts and calls; an alternate one calls only.
    assert_eq!(
        methods_of(&records, JOHANNA),
        [Method::MobileCall, Method::MobileSms]
    );
    assert_eq!(
        methods_of(&records, LYNNE),
        [Method::HardwareOtp, Method::TemporaryAccessPass]
    );
    assert_eq!(
        methods_of(&records, NESTOR),
        [
            Method::MobileCall,
            Method::MobileSms,
            Method::Passkey,
            Method::AuthenticatorPasswordless
        ]
    );
}

#[test]
fn json_lines_are_placed_by_line_and_blank_lines_ignored() {
    let file = "user-registration-details.jsonl";
    let records = fixtures(&[file]);
    let placed: Vec<(Position, &str)> = records
        .iter()
        .map(|l| match &l.record {
            Record::User(u) => (l.at.position, u.id.as_str()),
            Record::Methods(m) => (l.at.position, m.user_id.as_str()),
            other => panic!("{other:?}"),
        })
        .collect();
    let grady = "d99ed7fb-354f-40ae-8621-6fafbeb78bff";
    assert_eq!(
        placed,
        [
            (Position::Line(1), PRADEEP),
            (Position::Line(1), PRADEEP),
            (Position::Line(3), grady),
            (Position::Line(3), grady),
        ]
    );
    assert_eq!(
        methods_of(&records, PRADEEP),
        [Method::Email, Method::SecurityQuestions]
    );
    assert_eq!(users(&records)[1].is_guest, Some(true));
}

#[test]
fn credential_registration_details_give_sspr_verdicts_only() {
    let file = "credential-user-registration-details.json";
    let records = fixtures(&[file]);
    assert_eq!(records.len(), 6);
    assert_eq!(
        records[0].record,
        Record::User(UserRecord {
            id: HENRIETTA.to_string(),
            display_name: "Henrietta Mueller".to_string(),
            user_principal_name: "HenriettaM@contoso.com".to_string(),
            is_guest: None,
            is_admin: None,
            directory_role: None,
            account_enabled: None,
            verdicts: Some((
                Verdicts {
                    registered: Some(true),
                    enabled: Some(true),
                    capable: Some(true),
                    mfa_capable: None,
                    passwordless_capable: None,
                },
                t("2025-06-01T00:00:00")
            )),
            mfa: None,
            listing: "credentialUserRegistrationDetails",
        })
    );
    assert_eq!(
        methods_of(&records, HENRIETTA),
        [Method::MobileCall, Method::MobileSms, Method::Email]
    );
    assert_eq!(
        methods_of(&records, "a5934928-5d81-4b29-8137-04dffe8feaa0"),
        [Method::AppNotification, Method::AppCode]
    );
    let patti = users(&records)[2];
    assert_eq!(patti.verdicts.unwrap().0.registered, Some(false));
    assert_eq!(records[5].at, at(file, Position::Record(3)));
}

#[test]
fn usage_details_give_events_keyed_by_principal_name() {
    let file = "user-credential-usage-details.json";
    let records = fixtures(&[file]);
    let events = events(&records);
    assert_eq!(events.len(), 7);
    assert_eq!(
        events[0],
        (
            &MethodEvent {
                id: "58a4408d-ceed-4231-b119-7b81aff197e6".to_string(),
                activity_id: None,
                user_id: "AdeleV@contoso.com".to_string(),
                feature: Feature::Reset.code(),
                method: Method::MobileSms.code(),
                success: true,
                failure_reason: None,
                occurred_at: t("2025-05-18T09:14:02"),
                method_name: None,
            },
            Identity::Given,
            UserKey::PrincipalName
        )
    );
    let isaiah = events[3].0;
    assert_eq!(isaiah.method, Method::OfficeCall.code());
    assert!(!isaiah.success);
    assert_eq!(
        isaiah.failure_reason.as_deref(),
        Some("User contacted an admin after trying the office voice call verification option")
    );
    let johanna = events[4].0;
    assert_eq!(
        (
            johanna.feature,
            johanna.method,
            johanna.failure_reason.as_deref()
        ),
        (
            Feature::Registration.code(),
            Method::MobileSms.code(),
            Some("Invalid verification code")
        )
    );
    // A success keeps no failure reason, even when Graph writes one.
    let henrietta = events[6].0;
    assert!(henrietta.success);
    assert_eq!(henrietta.failure_reason, None);
    assert_eq!(henrietta.method, Method::MobileCall.code());
    assert_eq!(records[6].at, at(file, Position::Record(7)));
}

#[test]
fn events_summary_ids_are_derived_and_repeats_share_them() {
    let records = fixtures(&["user-events-summary.json"]);
    let events = events(&records);
    assert_eq!(events.len(), 6);
    for (event, identity, key) in &events {
        assert_eq!((*identity, *key), (Identity::Derived, UserKey::Id));
        assert!(
            event.id.starts_with("ues-") && event.id.len() == 36,
            "{}",
            event.id
        );
    }
    let first = events[0].0;
    assert_eq!(
        first,
        &MethodEvent {
            id: events_summary_id(
                MEGAN,
                Feature::Registration,
                Method::AppNotification,
                t("2025-05-15T16:19:18"),
                true,
                None
            ),
            activity_id: None,
            user_id: MEGAN.to_string(),
            feature: Feature::Registration.code(),
            method: Method::AppNotification.code(),
            success: true,
            failure_reason: None,
            occurred_at: t("2025-05-15T16:19:18"),
            method_name: None,
        }
    );
    assert_eq!(events[1].0.method, Method::Fido2.code());
    assert_eq!(
        events[2].0.failure_reason.as_deref(),
        Some("Invalid verification code")
    );
    // Pinned: changing the derivation would duplicate events on re-import.
    let ids: Vec<&str> = events.iter().map(|(e, _, _)| e.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "ues-39b201e17cbb427d907eb3acc0d1150b",
            "ues-5f74545815b71a50addaa72343dfd4d0",
            "ues-e36c705d8e984910afcd12d132c1e86a",
            "ues-7c9d4228639866061f8c2b98154c5b48",
            "ues-b231422f658ed1a4dabb3c4542041e3e",
            "ues-7c9d4228639866061f8c2b98154c5b48",
        ]
    );
    // The same event written with a different fraction is the same event.
    assert_eq!(events[3].0.id, events[5].0.id);
    let distinct: std::collections::HashSet<&str> =
        events.iter().map(|(e, _, _)| e.id.as_str()).collect();
    assert_eq!(distinct.len(), 5);
    // The derivation is stable: other tools may reproduce it.
    assert_eq!(
        events_summary_id(
            "u",
            Feature::Reset,
            Method::Email,
            t("2025-01-02T03:04:05"),
            false,
            Some("x")
        ),
        events_summary_id(
            "u",
            Feature::Reset,
            Method::Email,
            t("2025-01-02T03:04:05.000"),
            false,
            Some("x")
        )
    );
}

fn event(
    id: &str,
    n: usize,
    user: &str,
    feature: Feature,
    method: Method,
    failure: Option<&str>,
    when: &str,
) -> MethodEvent {
    MethodEvent {
        id: format!("{id}-{n}"),
        activity_id: Some(id.to_string()),
        user_id: user.to_string(),
        feature: feature.code(),
        method: method.code(),
        success: failure.is_none(),
        failure_reason: failure.map(str::to_string),
        occurred_at: t(when),
        method_name: None,
    }
}

/// (user id, result, details, methods mask, events) of an activity.
type Summary<'a> = (Option<&'a str>, i32, Option<i32>, i32, usize);

#[test]
fn directory_audits_group_into_one_activity_per_flow() {
    let file = "directory-audits.json";
    let records = fixtures(&[file]);
    assert_eq!(records.len(), 7);
    let ids: Vec<&str> = activities(&records)
        .iter()
        .map(|a| a.activity.id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "aud-reg-ee64c533-0c00-4e41-8d2c-c5827a2091dd",
            "aud-7bcc39fe-8df4-468f-831c-d9a8a54ec63d",
            "aud-reg-3e726244-61d8-4cbd-a21e-6a3823fc23aa",
            "aud-39568dde-f8c4-4415-a77b-73852ef0d04a",
            "aud-65d50277-8a6b-446d-a752-aa3e78f428cb",
            "aud-3eafc59c-56a4-440a-a86f-910b75310000",
            "aud-e046df9d-932a-45d9-a3c3-75317ed0f010",
        ]
    );

    // Adele: two methods verified, then the new password: succeeded.
    let id = "aud-39568dde-f8c4-4415-a77b-73852ef0d04a";
    assert_eq!(
        records[3],
        Located {
            at: at(file, Position::Record(20)),
            record: Record::Activity(
                ActivityRecord {
                    activity: Activity {
                        id: id.to_string(),
                        user_id: Some(ADELE.to_string()),
                        user_principal_name: "AdeleV@contoso.com".to_string(),
                        user_display_name: "Adele Vance".to_string(),
                        user_role: String::new(),
                        feature: Feature::Reset.code(),
                        methods_mask: Method::MobileSms.bit() | Method::Email.bit(),
                        result: ActivityResult::Succeeded.code(),
                        details: Some(Details::Succeeded.code()),
                        occurred_at: t("2025-05-18T09:13:31.123456"),
                    },
                    events: vec![
                        event(
                            id,
                            1,
                            ADELE,
                            Feature::Reset,
                            Method::MobileSms,
                            None,
                            "2025-05-18T09:14:02"
                        ),
                        event(
                            id,
                            2,
                            ADELE,
                            Feature::Reset,
                            Method::Email,
                            None,
                            "2025-05-18T09:14:40"
                        ),
                    ],
                },
                Identity::Flow
            ),
        }
    );

    let all = activities(&records);
    let summary: Vec<Summary<'_>> = all
        .iter()
        .map(|a| {
            (
                a.activity.user_id.as_deref(),
                a.activity.result,
                a.activity.details,
                a.activity.methods_mask,
                a.events.len(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                Some(LYNNE),
                ActivityResult::Failed.code(),
                None,
                Method::AppCode.bit(),
                1
            ),
            (
                Some(BIANCA),
                ActivityResult::Failed.code(),
                Some(Details::FailedNotEnabled.code()),
                0,
                0
            ),
            (
                Some(ALEX),
                ActivityResult::Succeeded.code(),
                None,
                Method::AppNotification.bit() | Method::AppCode.bit(),
                2
            ),
            (
                Some(ADELE),
                ActivityResult::Succeeded.code(),
                Some(Details::Succeeded.code()),
                Method::MobileSms.bit() | Method::Email.bit(),
                2
            ),
            (
                Some(ISAIAH),
                ActivityResult::Blocked.code(),
                Some(Details::BlockedSecurityQuestions.code()),
                Method::SecurityQuestions.bit(),
                1
            ),
            (
                Some(JOHANNA),
                ActivityResult::Abandoned.code(),
                Some(Details::AbandonedAfterMobileCallStarted.code()),
                Method::MobileCall.bit(),
                1
            ),
            (
                None,
                ActivityResult::Abandoned.code(),
                Some(Details::AbandonedAfterUserId.code()),
                0,
                0
            ),
        ]
    );

    // Isaiah's security questions failed with the block.
    let blocked = "aud-65d50277-8a6b-446d-a752-aa3e78f428cb";
    assert_eq!(
        all[4].events,
        [event(
            blocked,
            1,
            ISAIAH,
            Feature::Reset,
            Method::SecurityQuestions,
            Some(Details::BlockedSecurityQuestions.text()),
            "2025-05-18T11:02:15"
        )]
    );
    assert_eq!(all[4].activity.occurred_at, t("2025-05-18T11:02:00"));
    // Johanna left during the call.
    assert_eq!(
        all[5].events[0].failure_reason.as_deref(),
        Some("User abandoned after starting the mobile voice call verification option")
    );
    // An unknown user ID is still an activity, named as typed.
    let unknown = &all[6].activity;
    assert_eq!(unknown.user_principal_name, "adele.vance@contoso.com");
    assert_eq!(unknown.user_display_name, "");
    // Alex's registration: one text for two methods.
    let reg = "aud-reg-3e726244-61d8-4cbd-a21e-6a3823fc23aa";
    assert_eq!(
        all[2].events,
        [
            event(
                reg,
                1,
                ALEX,
                Feature::Registration,
                Method::AppNotification,
                None,
                "2025-05-17T16:02:11"
            ),
            event(
                reg,
                2,
                ALEX,
                Feature::Registration,
                Method::AppCode,
                None,
                "2025-05-17T16:02:11"
            ),
        ]
    );
    assert_eq!(all[2].activity.feature, Feature::Registration.code());
    assert_eq!(all[2].activity.occurred_at, t("2025-05-17T16:01:30"));
    assert_eq!(
        all[0].events[0].failure_reason.as_deref(),
        Some("User failed to register Authenticator App with Code")
    );
    assert_eq!(records[0].at, at(file, Position::Record(26)));
}

/// The figures tests/fixtures/graph/README.md promises for all files.
#[test]
fn all_fixtures_together_give_the_documented_figures() {
    let records = fixtures(&[
        "user-registration-details.json",
        "user-registration-details-page1.json",
        "user-registration-details-page2.json",
        "user-registration-details.jsonl",
        "credential-user-registration-details.json",
        "user-credential-usage-details.json",
        "user-events-summary.json",
        "directory-audits.json",
    ]);
    let users = users(&records);
    assert_eq!(users.len(), 15);
    let stated = |f: fn(&Verdicts) -> Option<bool>| {
        users
            .iter()
            .filter(|u| u.verdicts.is_some_and(|(v, _)| f(&v) == Some(true)))
            .count()
    };
    assert_eq!(stated(|v| v.registered), 7);
    assert_eq!(stated(|v| v.enabled), 12);
    assert_eq!(stated(|v| v.capable), 7);
    assert_eq!(stated(|v| v.mfa_capable), 9);
    assert_eq!(stated(|v| v.passwordless_capable), 2);
    assert_eq!(users.iter().filter(|u| u.is_guest == Some(true)).count(), 2);
    assert_eq!(users.iter().filter(|u| u.is_admin == Some(true)).count(), 2);

    let mut distinct = std::collections::HashMap::new();
    for (e, _, _) in events(&records) {
        distinct.insert(e.id.clone(), e);
    }
    let in_activities: Vec<&MethodEvent> = activities(&records)
        .iter()
        .flat_map(|a| a.events.iter())
        .collect();
    let count = |events: &[&MethodEvent], feature: Feature, success: bool| {
        events
            .iter()
            .filter(|e| e.feature == feature.code() && e.success == success)
            .count()
    };
    let outside: Vec<&MethodEvent> = distinct.into_values().collect();
    assert_eq!(outside.len(), 12);
    assert_eq!(count(&outside, Feature::Registration, true), 5);
    assert_eq!(count(&outside, Feature::Registration, false), 1);
    assert_eq!(count(&outside, Feature::Reset, true), 4);
    assert_eq!(count(&outside, Feature::Reset, false), 2);
    assert_eq!(in_activities.len(), 7);
    assert_eq!(count(&in_activities, Feature::Reset, true), 2);
    assert_eq!(count(&in_activities, Feature::Reset, false), 2);
    assert_eq!(count(&in_activities, Feature::Registration, true), 2);
    assert_eq!(count(&in_activities, Feature::Registration, false), 1);
    assert_eq!(activities(&records).len(), 7);
}

/// A directoryAudits page with the given entries (service, activity,
/// result, reason, correlation, time).
fn audits(entries: &[(&str, &str, &str, &str, &str, &str)]) -> String {
    let value: Vec<Value> = entries
        .iter()
        .map(|(service, activity, result, reason, cid, time)| {
            serde_json::json!({
                // The same entry in two exports has the same id.
                "id": format!("{cid}_{time}_{reason}"),
                "correlationId": cid,
                "loggedByService": service,
                "activityDisplayName": activity,
                "result": result,
                "resultReason": reason,
                "activityDateTime": time,
                "initiatedBy": {"user": {"id": ADELE, "displayName": null, "userPrincipalName": "AdeleV@contoso.com"}},
                "targetResources": [],
            })
        })
        .collect();
    serde_json::json!({
        "@odata.context": "https://graph.microsoft.com/beta/$metadata#auditLogs/directoryAudits",
        "value": value,
    })
    .to_string()
}

const PROGRESS: &str = "Self-service password reset flow activity progress";

fn flow(steps: &[(&str, &str, &str)]) -> ActivityRecord {
    let entries: Vec<(&str, &str, &str, &str, &str, &str)> = steps
        .iter()
        .enumerate()
        .map(|(i, (activity, result, reason))| {
            let time: &'static str = [
                "2025-05-01T10:00:00Z",
                "2025-05-01T10:00:10Z",
                "2025-05-01T10:00:20Z",
                "2025-05-01T10:00:30Z",
                "2025-05-01T10:00:40Z",
                "2025-05-01T10:00:50Z",
            ][i];
            (SSPR_SERVICE, *activity, *result, *reason, "c1", time)
        })
        .collect();
    let records = run(&[("a.json", &audits(&entries))]).unwrap();
    assert_eq!(records.len(), 1);
    match &records[0].record {
        Record::Activity(a, Identity::Flow) => a.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_flow_without_outcome_is_abandoned_after_its_last_step() {
    let abandoned = flow(&[
        (PROGRESS, "success", "User submitted their user ID"),
        (
            PROGRESS,
            "success",
            "User started the email verification option",
        ),
        (
            PROGRESS,
            "success",
            "User completed the email verification option.",
        ),
    ]);
    assert_eq!(
        abandoned.activity.details,
        Some(Details::AbandonedAfterEmailCompleted.code())
    );
    assert!(abandoned.events[0].success);

    // The seed has no abandoned detail for the app methods.
    let app = flow(&[
        (PROGRESS, "success", "User submitted their user ID"),
        (
            PROGRESS,
            "success",
            "User started the mobile app notification verification option",
        ),
    ]);
    assert_eq!(app.activity.result, ActivityResult::Abandoned.code());
    assert_eq!(app.activity.details, None);
    assert_eq!(app.events[0].failure_reason.as_deref(), Some(NOT_VERIFIED));

    let new_password = flow(&[
        (
            PROGRESS,
            "success",
            "User started the mobile SMS verification option",
        ),
        (
            PROGRESS,
            "success",
            "User completed the mobile SMS verification option",
        ),
        (
            "Reset password (self-service)",
            "failure",
            "FuzzyPolicyViolationInvalidPassword",
        ),
    ]);
    assert_eq!(
        new_password.activity.details,
        Some(Details::AbandonedWhileNewPassword.code())
    );
}

#[test]
fn outcomes_come_from_the_last_ending_entry() {
    let unlocked = flow(&[
        (
            PROGRESS,
            "success",
            "User started the office voice call verification option",
        ),
        (
            PROGRESS,
            "success",
            "User completed the office voice call verification option",
        ),
        ("Unlock user account (self-service)", "success", ""),
    ]);
    // An unlock is an activity of its own feature, not a password reset:
    // succeeded, with no reset detail, its verification an unlock's event.
    assert_eq!(unlocked.activity.feature, Feature::Unlock.code());
    assert_eq!(unlocked.activity.result, ActivityResult::Succeeded.code());
    assert_eq!(unlocked.activity.details, None);
    assert_eq!(unlocked.activity.methods_mask, Method::OfficeCall.bit());
    assert!(unlocked
        .events
        .iter()
        .all(|e| e.feature == Feature::Unlock.code() && e.success));

    let unlock_refused = flow(&[
        (
            PROGRESS,
            "success",
            "User started the email verification option",
        ),
        (
            "Unlock user account (self-service)",
            "failure",
            "User's password is managed on-premises",
        ),
    ]);
    assert_eq!(unlock_refused.activity.feature, Feature::Unlock.code());
    assert_eq!(
        unlock_refused.activity.result,
        ActivityResult::Failed.code()
    );
    assert_eq!(
        unlock_refused.activity.details,
        Some(Details::FailedManagedOnPremises.code())
    );

    let reset = flow(&[
        (
            PROGRESS,
            "success",
            "User completed the email verification option",
        ),
        ("Reset password (self-service)", "success", ""),
    ]);
    assert_eq!(reset.activity.feature, Feature::Reset.code());

    let cancelled = flow(&[
        (
            PROGRESS,
            "success",
            "User started the email verification option",
        ),
        (
            PROGRESS,
            "failure",
            "User cancelled before passing the required authentication methods",
        ),
    ]);
    assert_eq!(
        cancelled.activity.details,
        Some(Details::CancelledBeforeMethods.code())
    );
    assert_eq!(
        cancelled.events[0].failure_reason.as_deref(),
        Some(Details::CancelledBeforeMethods.text())
    );

    // A block with no reason names the method last tried.
    let blocked = flow(&[
        (
            PROGRESS,
            "success",
            "User started the mobile SMS verification option",
        ),
        ("Blocked from self-service password reset", "success", ""),
    ]);
    assert_eq!(
        blocked.activity.details,
        Some(Details::BlockedSmsCodes.code())
    );

    // The seed's advice after the first sentence is optional.
    let insufficient = flow(&[(
        PROGRESS,
        "failure",
        "User's account has insufficient authentication methods defined. Add authentication info to resolve this ",
    )]);
    assert_eq!(
        insufficient.activity.details,
        Some(Details::FailedInsufficientMethods.code())
    );
}

#[test]
fn a_flow_spread_over_pages_is_one_activity_and_repeated_entries_count_once() {
    let step = |reason: &'static str, time: &'static str| {
        (SSPR_SERVICE, PROGRESS, "success", reason, "c9", time)
    };
    let first = audits(&[
        step("User submitted their user ID", "2025-05-01T10:00:00Z"),
        step(
            "User started the email verification option",
            "2025-05-01T10:00:05Z",
        ),
    ]);
    let second = audits(&[
        step("User submitted their user ID", "2025-05-01T10:00:00Z"),
        step(
            "User completed the email verification option",
            "2025-05-01T10:00:09Z",
        ),
        step("User successfully reset password", "2025-05-01T10:01:00Z"),
    ]);
    let records = run(&[("p1.json", &first), ("p2.json", &second)]).unwrap();
    let all = activities(&records);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].activity.result, ActivityResult::Succeeded.code());
    assert_eq!(all[0].events.len(), 1);
    assert!(all[0].events[0].success);
    assert_eq!(records[0].at, at("p1.json", Position::Record(1)));
}

#[test]
fn unrelated_audit_entries_are_skipped_and_deletions_register_nothing() {
    let page = audits(&[
        (
            "Core Directory",
            "Update user",
            "success",
            "",
            "c1",
            "2025-05-01T10:00:00Z",
        ),
        (
            AUTHENTICATION_METHODS_SERVICE,
            "User deleted security info",
            "success",
            "User deleted Fido",
            "c2",
            "2025-05-01T10:00:00Z",
        ),
        (
            SSPR_SERVICE,
            "Reset password (by admin)",
            "success",
            "Successfully completed reset.",
            "c3",
            "2025-05-01T10:00:00Z",
        ),
    ]);
    assert_eq!(run(&[("a.json", &page)]).unwrap(), []);
}

/// A reader that counts the bytes it hands out.
struct Metered<R> {
    inner: R,
    served: Rc<Cell<usize>>,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.served.set(self.served.get() + n);
        Ok(n)
    }
}

#[test]
fn a_page_streams_records_to_the_sink_as_they_are_read() {
    let mut page = String::from(
        "{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#reports/authenticationMethods/userRegistrationDetails\",\"value\":[",
    );
    let n = 20_000;
    for i in 0..n {
        if i > 0 {
            page.push(',');
        }
        page.push_str(&format!(
            "{{\"id\":\"u{i}\",\"userPrincipalName\":\"u{i}@contoso.com\",\"userDisplayName\":\"User {i}\",\"isAdmin\":false,\"methodsRegistered\":[\"email\"],\"userType\":\"member\"}}"
        ));
    }
    page.push_str("]}");
    let served = Rc::new(Cell::new(0));
    let reader = io::BufReader::with_capacity(
        8192,
        Metered {
            inner: page.as_bytes(),
            served: served.clone(),
        },
    );
    let mut first_at = None;
    let mut count = 0;
    let mut sink = |l: Located| {
        first_at.get_or_insert(served.get());
        if let Record::User(_) = l.record {
            count += 1;
        }
        Ok(())
    };
    import().read_file("big.json", reader, &mut sink).unwrap();
    assert_eq!(count, n);
    let first_at = first_at.unwrap();
    assert!(
        first_at <= 16_384,
        "the first record waited for {first_at} of {} bytes",
        page.len()
    );
}

#[test]
fn a_sink_failure_stops_the_read() {
    let text = fixture("user-registration-details.json");
    let mut seen = 0;
    let mut sink = |l: Located| {
        seen += 1;
        Err(ImportError::new(l.at, None, "enough").into())
    };
    let err = import()
        .read_file("u.json", text.as_bytes(), &mut sink)
        .unwrap_err();
    assert_eq!(seen, 1);
    assert_eq!(err.to_string(), "u.json, record 1: enough");
}

#[test]
fn json_that_does_not_parse_is_reported_on_its_line() {
    let lines = "{\"id\":\"a\",\"userPrincipalName\":\"a@x\",\"methodsRegistered\":[]}\n\n{\"id\": \"b\", oops}\n";
    let err = one("u.jsonl", lines);
    assert_eq!(err.at, at("u.jsonl", Position::Line(3)));
    assert!(err.reason.starts_with("not valid JSON: "), "{}", err.reason);
    assert!(!err.reason.contains("line"), "{}", err.reason);

    let page =
        "{\n  \"value\": [\n    {\"id\": \"a\", \"userPrincipalName\": \"a@x\", \"methodsRegistered\": []},\n    {\"id\": \"b\" \"x\": 1}\n  ]\n}\n";
    let err = one("p.json", page);
    assert_eq!(err.at, at("p.json", Position::Line(4)));

    let truncated = "{\"@odata.context\": \"https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits\", \"value\": [\n";
    let err = one("t.json", truncated);
    // The file ends on line 1 (its final newline opens no line).
    assert_eq!(err.at.position, Position::Line(1));
    assert!(err.reason.contains("EOF"), "{}", err.reason);

    let err = one("n.jsonl", "42\n");
    assert_eq!(err.at, at("n.jsonl", Position::Line(1)));
    assert!(
        err.reason.starts_with("not a Graph page or record"),
        "{}",
        err.reason
    );
}

fn urd_page(records: &str) -> String {
    format!(
        "{{\"@odata.context\": \"https://graph.microsoft.com/v1.0/$metadata#reports/authenticationMethods/userRegistrationDetails\", \"value\": [{records}]}}"
    )
}

#[test]
fn wrong_types_name_the_field() {
    let err = one(
        "u.json",
        &urd_page(
            r#"{"id": "a", "userPrincipalName": "a@x"}, {"id": "b", "userPrincipalName": "b@x", "isAdmin": "yes"}"#,
        ),
    );
    assert_eq!(
        err,
        ImportError::new(
            at("u.json", Position::Record(2)),
            Some("isAdmin"),
            "expected true or false, got \"yes\""
        )
    );
    let err = one(
        "u.json",
        &urd_page(r#"{"id": "a", "userPrincipalName": "a@x", "methodsRegistered": "email"}"#),
    );
    assert_eq!(err.field.as_deref(), Some("methodsRegistered"));
    assert_eq!(err.reason, "expected a list, got \"email\"");
    let err = one(
        "u.json",
        &urd_page(r#"{"id": 7, "userPrincipalName": "a@x"}"#),
    );
    assert_eq!(
        (err.field.as_deref(), err.reason.as_str()),
        (Some("id"), "expected text, got 7")
    );
    let err = one(
        "u.json",
        &urd_page(r#"{"id": "a", "userPrincipalName": "a@x", "lastUpdatedDateTime": "yesterday"}"#),
    );
    assert_eq!(err.field.as_deref(), Some("lastUpdatedDateTime"));
    assert!(err.reason.contains("\"yesterday\""), "{}", err.reason);
    // A user type this portal does not know is kept as not stated, with a
    // warning; --strict refuses it.
    let partner = urd_page(r#"{"id": "a", "userPrincipalName": "a@x", "userType": "partner"}"#);
    let records = run(&[("u.json", &partner)]).unwrap();
    assert_eq!(users(&records)[0].is_guest, None);
    let w = warnings(&records);
    assert_eq!(w.len(), 1);
    assert_eq!(
        (w[0].field.as_str(), w[0].value.as_str()),
        ("userType", "partner")
    );
    assert!(
        w[0].stored_as.starts_with("as not stated"),
        "{}",
        w[0].stored_as
    );
    let err = invalid(run_strict(&[("u.json", &partner)]));
    assert_eq!(err.field.as_deref(), Some("userType"));
    assert!(
        err.reason.starts_with("unknown value \"partner\""),
        "{}",
        err.reason
    );
}

#[test]
fn unknown_methods_are_kept_as_other_with_a_warning() {
    let page = urd_page(
        r#"{"id": "a", "userPrincipalName": "a@x", "methodsRegistered": ["email", "Fido2", "x", "macOsSecureEnclaveKey", "appPassword"]}"#,
    );
    let records = run(&[("u.json", &page)]).unwrap();
    let methods = methods_of(&records, "a");
    assert_eq!(
        methods,
        [
            Method::Email,
            Method::MacOsPlatformCredential,
            Method::AppPassword,
            Method::Other
        ]
    );
    let w = warnings(&records);
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!(w[0].at, at("u.json", Position::Record(1)));
    assert_eq!(w[0].field, "methodsRegistered[1]");
    assert_eq!(w[0].value, "Fido2");
    assert_eq!(w[0].stored_as, "as an other method");
    let hint = w[0].hint.as_deref().unwrap();
    assert!(hint.contains("did you mean \"fido2\"?"), "{hint}");
    assert_eq!(
        (w[1].field.as_str(), w[1].value.as_str()),
        ("methodsRegistered[2]", "x")
    );
    // --strict refuses the first of them, naming it.
    let err = invalid(run_strict(&[("u.json", &page)]));
    assert_eq!(err.field.as_deref(), Some("methodsRegistered[1]"));
    assert!(
        err.reason.contains("did you mean \"fido2\"?"),
        "{}",
        err.reason
    );

    let usage = |method: &str| {
        format!(
            r##"{{"@odata.type": "#microsoft.graph.userCredentialUsageDetails", "id": "e1", "feature": "reset", "userPrincipalName": "a@x", "isSuccess": true, "authMethod": "{method}", "eventDateTime": "2025-01-01T00:00:00Z"}}"##
        )
    };
    let records = run(&[("e.jsonl", &usage("unknownFutureValue"))]).unwrap();
    assert_eq!(events(&records)[0].0.method, Method::Other.code());
    let w = warnings(&records);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].at, at("e.jsonl", Position::Line(1)));
    assert_eq!(w[0].field, "authMethod");
    assert!(
        w[0].hint
            .as_deref()
            .unwrap()
            .contains("Prefer: include-unknown-enum-members"),
        "{w:?}"
    );
    let err = invalid(run_strict(&[("e.jsonl", &usage("unknownFutureValue"))]));
    assert!(
        err.reason.contains("Prefer: include-unknown-enum-members"),
        "{}",
        err.reason
    );
    let err = one("e.jsonl", &usage("mobilePhone"));
    assert!(err.reason.contains("names a phone"), "{}", err.reason);
    let records = run(&[("e.jsonl", &usage("sms"))]).unwrap();
    assert_eq!(events(&records)[0].0.method, Method::MobileSms.code());
}

#[test]
fn required_fields_must_be_there() {
    let page = |record: &str| {
        format!(
            "{{\"@odata.context\": \"https://graph.microsoft.com/beta/$metadata#reports/authenticationMethods/userEventsSummary\", \"value\": [{record}]}}"
        )
    };
    let err = one(
        "s.json",
        &page(
            r#"{"id": "u1", "feature": "reset", "userPrincipalName": "a@x", "isSuccess": false, "authMethod": "email", "failureReason": ""}"#,
        ),
    );
    assert_eq!(
        err,
        ImportError::new(
            at("s.json", Position::Record(1)),
            Some("eventDateTime"),
            "missing required field"
        )
    );
    let err = one(
        "s.json",
        &page(
            r#"{"id": "u1", "feature": "reset", "userPrincipalName": "", "isSuccess": false, "authMethod": "email", "eventDateTime": "2025-01-01T00:00:00Z"}"#,
        ),
    );
    assert_eq!(err.field.as_deref(), Some("userPrincipalName"));
    let err = one(
        "s.json",
        &page(
            r#"{"id": "u1", "feature": "signIn", "userPrincipalName": "a@x", "isSuccess": false, "authMethod": "email", "eventDateTime": "2025-01-01T00:00:00Z"}"#,
        ),
    );
    assert_eq!(
        err.reason,
        "unknown feature \"signIn\"; known: registration, reset"
    );
    let err = one(
        "s.json",
        &page(
            r#"{"id": "u1", "feature": "reset", "userPrincipalName": "a@x", "isSuccess": null, "authMethod": "email", "eventDateTime": "2025-01-01T00:00:00Z"}"#,
        ),
    );
    assert_eq!(
        (err.field.as_deref(), err.reason.as_str()),
        (Some("isSuccess"), "missing required field")
    );
}

#[test]
fn the_resource_is_recognised_from_context_type_or_fields() {
    for context in [
        "https://graph.microsoft.com/v1.0/$metadata#reports/authenticationMethods/userRegistrationDetails",
        "https://graph.microsoft.com/beta/$metadata#reports/authenticationMethods/userRegistrationDetails/$entity",
        "https://graph.microsoft.com/v1.0/$metadata#reports/authenticationMethods/userRegistrationDetails(id,userPrincipalName)",
        "https://graph.microsoft.com/beta/reports/$metadata#Collection(microsoft.graph.userRegistrationDetails)",
    ] {
        assert_eq!(
            resource_from_context(context),
            Ok(Resource::UserRegistrationDetails),
            "{context}"
        );
    }
    assert_eq!(
        resource_from_context(
            "https://graph.microsoft.com/v1.0/$metadata#auditlogs/directoryaudits"
        ),
        Ok(Resource::DirectoryAudits)
    );
    assert_eq!(
        resource_from_context("https://graph.microsoft.com/beta/reports/$metadata#Collection(microsoft.graph.getUserCredentialUsageDetails)"),
        Ok(Resource::UserCredentialUsageDetails)
    );
    for (context, resource) in [
        ("https://graph.microsoft.com/v1.0/$metadata#users(id,displayName,userPrincipalName,accountEnabled,userType)", Resource::Users),
        ("https://graph.microsoft.com/v1.0/$metadata#groups(id,displayName)/$entity", Resource::Groups),
        ("https://graph.microsoft.com/v1.0/$metadata#directoryObjects(id)", Resource::GroupMembers),
        ("https://graph.microsoft.com/v1.0/$metadata#directoryObjects", Resource::GroupMembers),
    ] {
        assert_eq!(resource_from_context(context), Ok(resource), "{context}");
    }
    assert_eq!(
        resource_from_context("https://graph.microsoft.com/v1.0/$metadata#devices"),
        Err("devices".to_string())
    );

    let err = one(
        "x.json",
        r#"{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#devices", "value": []}"#,
    );
    assert_eq!(err.at, at("x.json", Position::File));
    assert_eq!(err.field.as_deref(), Some("@odata.context"));
    assert!(err
        .reason
        .starts_with("\"devices\" is not a resource this import reads"));

    let err = one(
        "x.json",
        r#"{"value": [{"displayName": "Sales", "mail": "sales@x"}]}"#,
    );
    assert_eq!(err.at, at("x.json", Position::File));
    assert!(err
        .reason
        .starts_with("not a Graph export this import reads"));

    let usage = r#"{"id": "e1", "feature": "reset", "userPrincipalName": "a@x", "isSuccess": true, "authMethod": "email", "eventDateTime": "2025-01-01T00:00:00Z"}"#;
    let err = one("e.jsonl", usage);
    assert_eq!(err.at, at("e.jsonl", Position::File));
    assert!(err.reason.contains("@odata.context"), "{}", err.reason);
    // Without a context, field-recognised records are read as JSON lines.
    let records = run(&[(
        "u.jsonl",
        r#"{"id": "a", "userPrincipalName": "a@x", "methodsRegistered": []}"#,
    )])
    .unwrap();
    assert_eq!(records.len(), 2);
    // A single-entity response carries its own context.
    let entity = r#"{"@odata.context": "https://graph.microsoft.com/beta/$metadata#reports/authenticationMethods/userEventsSummary/$entity", "id": "u1", "feature": "reset", "userPrincipalName": "a@x", "isSuccess": true, "authMethod": "email", "eventDateTime": "2025-01-01T00:00:00Z"}"#;
    let records = run(&[("one.json", entity)]).unwrap();
    assert_eq!(events(&records)[0].2, UserKey::Id);
}

#[test]
fn one_file_holds_one_resource() {
    let lines = concat!(
        r#"{"id": "a", "userPrincipalName": "a@x", "methodsRegistered": []}"#,
        "\n",
        r#"{"id": "b", "userPrincipalName": "b@x", "authMethods": []}"#,
        "\n"
    );
    let err = one("m.jsonl", lines);
    assert_eq!(err.at, at("m.jsonl", Position::Line(2)));
    assert_eq!(
        err.reason,
        "a credentialUserRegistrationDetails record in a file of userRegistrationDetails: a file holds one resource"
    );
    let page = urd_page(r##"{"@odata.type": "#microsoft.graph.userEventsSummary", "id": "a"}"##);
    let err = one("p.json", &page);
    assert_eq!(err.at, at("p.json", Position::Record(1)));

    let after = format!("{}\n{}", urd_page(""), urd_page(""));
    let err = one("two.json", &after);
    assert_eq!(err.at, at("two.json", Position::Line(2)));
    let err = one(
        "mixed.jsonl",
        &format!(
            "{}\n{}",
            r#"{"id": "a", "userPrincipalName": "a@x", "methodsRegistered": []}"#,
            urd_page("")
        ),
    );
    assert_eq!(err.at, at("mixed.jsonl", Position::Line(2)));
}

#[test]
fn unknown_audit_texts_are_errors_naming_the_entry() {
    let page = audits(&[
        (
            SSPR_SERVICE,
            PROGRESS,
            "success",
            "User submitted their user ID",
            "c1",
            "2025-05-01T10:00:00Z",
        ),
        (
            SSPR_SERVICE,
            PROGRESS,
            "success",
            "User started the carrier pigeon verification option",
            "c1",
            "2025-05-01T10:00:01Z",
        ),
    ]);
    let err = one("a.json", &page);
    assert_eq!(err.at, at("a.json", Position::Record(2)));
    assert_eq!(err.field.as_deref(), Some("resultReason"));
    assert!(err.reason.starts_with(
        "unknown step of a password reset \"User started the carrier pigeon verification option\""
    ));

    let page = audits(&[(
        AUTHENTICATION_METHODS_SERVICE,
        "User registered security info",
        "success",
        "User registered Carrier Pigeon",
        "c2",
        "2025-05-01T10:00:00Z",
    )]);
    let err = one("a.json", &page);
    assert_eq!(err.field.as_deref(), Some("resultReason"));
    assert!(err
        .reason
        .starts_with("unknown security info \"Carrier Pigeon\""));

    // A block the flow cannot explain is reported at the block.
    let page = audits(&[
        (
            SSPR_SERVICE,
            PROGRESS,
            "success",
            "User started the email verification option",
            "c3",
            "2025-05-01T10:00:00Z",
        ),
        (
            SSPR_SERVICE,
            "Blocked from self-service password reset",
            "success",
            "",
            "c3",
            "2025-05-01T10:00:01Z",
        ),
    ]);
    let err = one("a.json", &page);
    assert_eq!(err.at, at("a.json", Position::Record(2)));
    assert!(err
        .reason
        .starts_with("cannot tell why the user was blocked"));

    let page = audits(&[(
        SSPR_SERVICE,
        PROGRESS,
        "maybe",
        "",
        "c4",
        "2025-05-01T10:00:00Z",
    )]);
    let err = one("a.json", &page);
    assert_eq!(err.field.as_deref(), Some("result"));
}

#[test]
fn text_encodings() {
    let with_bom = format!("\u{feff}{}", fixture("user-registration-details.jsonl"));
    assert_eq!(run(&[("b.jsonl", &with_bom)]).unwrap().len(), 4);
    let mut graph = import();
    let mut sink = |_: Located| Ok(());
    let utf16: &[u8] = &[0xFF, 0xFE, b'{', 0];
    let err = graph.read_file("w.json", utf16, &mut sink).unwrap_err();
    match err {
        Stop::Invalid(e) => {
            assert_eq!(e.at.position, Position::File);
            assert!(e.reason.contains("UTF-16"));
        }
        other => panic!("{other}"),
    }
    assert_eq!(run(&[("empty.jsonl", "\n\n")]).unwrap(), []);
}

#[test]
fn every_graph_method_name_maps_and_the_tables_are_consistent() {
    for (name, methods) in GRAPH_METHODS {
        assert!(!methods.is_empty(), "{name}");
        assert_eq!(graph_methods(name), Some(*methods));
    }
    for (name, methods) in SECURITY_INFO {
        assert!(!methods.is_empty(), "{name}");
    }
    for (option, method) in VERIFICATION_OPTIONS {
        let started = format!("User started the {option} verification option");
        assert_eq!(verification_step(&started), Some(Step::Started(*method)));
    }
    for (method, started, completed) in ABANDONED_AFTER {
        assert!(started.text().contains("starting") && completed.text().contains("completing"));
        assert!(VERIFICATION_OPTIONS.iter().any(|(_, m)| m == method));
    }
    for (_, details) in BLOCKED_AT {
        assert_eq!(details.result(), ActivityResult::Blocked);
    }
    // Every detail is reachable from its own text.
    for d in Details::ALL {
        assert_eq!(details_from_text(d.text()), Some(*d));
    }
}

#[test]
fn users_give_who_is_enabled_and_a_guest() {
    let page = r##"{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,displayName,userPrincipalName,accountEnabled,userType)",
      "value": [
        {"id": "u1", "displayName": "Adele Vance", "userPrincipalName": "AdeleV@contoso.com", "accountEnabled": false, "userType": "Member"},
        {"id": "u2", "displayName": "Guest", "userPrincipalName": "g_x#EXT#@contoso.com", "accountEnabled": true, "userType": "Guest"}
      ]}"##;
    let records = run(&[("users.json", page)]).unwrap();
    let got = users(&records);
    assert_eq!(got.len(), 2);
    assert_eq!(
        (
            got[0].account_enabled,
            got[0].is_guest,
            got[0].verdicts.is_some()
        ),
        (Some(false), Some(false), false)
    );
    assert_eq!(
        (got[1].account_enabled, got[1].is_guest),
        (Some(true), Some(true))
    );
    assert_eq!(got[0].listing, "users");
    let err = one(
        "users.json",
        r#"{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users", "value": [{"id": "u1", "userPrincipalName": "a@b", "accountEnabled": "yes"}]}"#,
    );
    assert_eq!(err.at, at("users.json", Position::Record(1)));
    assert_eq!(err.field.as_deref(), Some("accountEnabled"));
}

const GROUP: &str = r#"{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#groups(id,displayName)/$entity", "id": "g1", "displayName": "SSPR pilot"}"#;

#[test]
fn a_groups_member_pages_list_its_users_only() {
    let page1 = r##"{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects(id)",
      "value": [{"@odata.type": "#microsoft.graph.user", "id": "u1"}, {"@odata.type": "#microsoft.graph.group", "id": "g2"}],
      "@odata.nextLink": "https://graph.microsoft.com/v1.0/groups/g1/transitiveMembers?$skiptoken=x"}"##;
    let page2 = r##"{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects(id)",
      "value": [{"@odata.type": "#microsoft.graph.device", "id": "d1"}, {"@odata.type": "#microsoft.graph.user", "id": "u2"}]}"##;
    let records = run(&[
        ("group.json", GROUP),
        ("m1.json", page1),
        ("m2.json", page2),
    ])
    .unwrap();
    let kinds: Vec<String> = records
        .iter()
        .map(|l| match &l.record {
            Record::Group(g) => format!("group {} {}", g.id, g.display_name),
            Record::GroupListed { group_id } => format!("list of {group_id}"),
            Record::Member(m) => {
                format!("member {} of {} paged {}", m.user_id, m.group_id, m.paged)
            }
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "group g1 SSPR pilot",
            "list of g1",
            "member u1 of g1 paged true",
            "member u2 of g1 paged true"
        ]
    );
    // An empty group is listed too: its stored members are then removed.
    let empty = r#"{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects", "value": []}"#;
    let records = run(&[("group.json", GROUP), ("m.json", empty)]).unwrap();
    assert!(matches!(&records[1].record, Record::GroupListed { group_id } if group_id == "g1"));
    // Members without their group, or without their last page, are refused.
    let err = one("m2.json", page2);
    assert!(err.reason.contains("without its group"), "{}", err.reason);
    let err = invalid(run(&[("group.json", GROUP), ("m1.json", page1)]));
    assert_eq!(err.at, at("m1.json", Position::File));
    assert!(err.reason.contains("give every page"), "{}", err.reason);
}

/// An activity and its method events as a writer stores them.
fn stored(
    id: &str,
    feature: Feature,
    result: ActivityResult,
    details: Option<Details>,
    at: &str,
    events: &[(Method, bool, Option<&str>, &str)],
) -> (Activity, Vec<MethodEvent>) {
    let mut mask = MethodSet::EMPTY;
    let mut tried = MethodSet::EMPTY;
    let events: Vec<MethodEvent> = events
        .iter()
        .enumerate()
        .map(|(i, (m, success, reason, time))| {
            tried.insert(*m);
            if *success {
                mask.insert(*m);
            }
            MethodEvent {
                id: format!("{id}-{}", i + 1),
                activity_id: Some(id.to_string()),
                user_id: ADELE.to_string(),
                feature: feature.code(),
                method: m.code(),
                success: *success,
                failure_reason: reason.map(str::to_string),
                occurred_at: t(time),
                method_name: None,
            }
        })
        .collect();
    let methods = match feature {
        // A registration lists what it registered, else what it tried.
        Feature::Registration if !mask.is_empty() => mask,
        _ => tried,
    };
    let activity = Activity {
        id: id.to_string(),
        user_id: Some(ADELE.to_string()),
        user_principal_name: "AdeleV@contoso.com".into(),
        user_display_name: "Adele Vance".into(),
        user_role: String::new(),
        feature: feature.code(),
        methods_mask: methods.mask(),
        result: result.code(),
        details: details.map(Details::code),
        occurred_at: t(at),
    };
    (activity, events)
}

#[test]
fn the_portals_own_audit_entries_read_back_as_the_same_activities() {
    use ActivityResult::*;
    use Method::*;
    let flows = [
        // A wrong SMS code, the same method again, then success.
        stored(
            "aud-reset-1",
            Feature::Reset,
            Succeeded,
            Some(Details::Succeeded),
            "2025-05-01T08:00:00",
            &[
                (
                    MobileSms,
                    false,
                    Some("Invalid verification code"),
                    "2025-05-01T08:00:10.25",
                ),
                (MobileSms, true, None, "2025-05-01T08:00:40"),
                (Email, true, None, "2025-05-01T08:01:00"),
            ],
        ),
        stored(
            "aud-reset-2",
            Feature::Reset,
            Blocked,
            Some(Details::BlockedSmsCodes),
            "2025-05-01T09:00:00",
            &[(
                MobileSms,
                false,
                Some(Details::BlockedSmsCodes.text()),
                "2025-05-01T09:00:30",
            )],
        ),
        stored(
            "aud-reset-3",
            Feature::Reset,
            Abandoned,
            Some(Details::AbandonedAfterSmsStarted),
            "2025-05-01T10:00:00",
            &[(
                MobileSms,
                false,
                Some(Details::AbandonedAfterSmsStarted.text()),
                "2025-05-01T10:00:05",
            )],
        ),
        stored(
            "aud-reset-4",
            Feature::Reset,
            Failed,
            Some(Details::FailedNotEnabled),
            "2025-05-01T11:00:00",
            &[],
        ),
        stored(
            "aud-unlock-1",
            Feature::Unlock,
            Succeeded,
            None,
            "2025-05-01T12:00:00",
            &[(AppNotification, true, None, "2025-05-01T12:00:20")],
        ),
        stored(
            "aud-reg-1",
            Feature::Registration,
            Succeeded,
            None,
            "2025-05-01T13:00:00",
            &[
                (
                    AppCode,
                    false,
                    Some("Invalid verification code"),
                    "2025-05-01T13:00:30",
                ),
                (AppNotification, true, None, "2025-05-01T13:01:00"),
                (MobileSms, true, None, "2025-05-01T13:01:30"),
            ],
        ),
        stored(
            "aud-reg-2",
            Feature::Registration,
            Failed,
            None,
            "2025-05-01T14:00:00",
            &[(
                Email,
                false,
                Some("The code expired"),
                "2025-05-01T14:00:30",
            )],
        ),
    ];
    let mut entries: Vec<Value> = flows
        .iter()
        .flat_map(|(a, events)| audit_entries(a, events))
        .collect();
    for newest_first in [false, true] {
        if newest_first {
            // As `/graph/…/directoryAudits` pages them by default.
            entries.reverse();
        }
        let page = serde_json::json!({
            "@odata.context": "https://portal.example/graph/v1.0/$metadata#auditLogs/directoryAudits",
            "value": entries,
        })
        .to_string();
        let mut read: Vec<ActivityRecord> = run(&[("audits.json", &page)])
            .unwrap()
            .into_iter()
            .filter_map(|l| match l.record {
                Record::Activity(a, Identity::Flow) => Some(a),
                _ => None,
            })
            .collect();
        read.sort_by_key(|a| a.activity.occurred_at);
        assert_eq!(read.len(), flows.len(), "one activity per flow");
        for ((activity, events), back) in flows.iter().zip(&read) {
            assert_eq!(&back.activity, activity, "newest first: {newest_first}");
            let strip = |e: &MethodEvent| {
                (
                    e.method,
                    e.success,
                    e.failure_reason.clone(),
                    e.occurred_at,
                    e.activity_id.clone(),
                )
            };
            assert_eq!(
                back.events.iter().map(strip).collect::<Vec<_>>(),
                events.iter().map(strip).collect::<Vec<_>>(),
                "the events of {}",
                activity.id
            );
        }
    }
}
