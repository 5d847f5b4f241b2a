//! Names, group names, failure reasons and activity fields that hold HTML
//! and script: every page shows them as text (escaped, never dropped, no
//! element injected) and every CSV download holds them verbatim.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::db::directory::{
    put_group, put_users, save_policy, set_group_members, set_user_methods, DirectoryUser,
};
use authinsights::db::events::record;
use authinsights::db::models::{Activity, MethodEvent};
use authinsights::domain::{ActivityResult, Details, Feature, Method, PolicyMethod, Scope};
use chrono::{Duration, NaiveDateTime, Utc};
use common::tenant::pilot_policy;
use common::{input_value, texts, Backend, TestApp};

// The payloads. Each is stored as it is and must come back as it is.
const SCRIPT: &str = r#"<script>alert("x")</script>"#;
const UPN_IMG: &str = r#""><img src=x onerror=alert(1)>@contoso.example"#;
const TD: &str = "</td><b>bold</b>";
const SONS: &str = "O'Brien & <i>Sons</i>";
const UPN_SONS: &str = "o'brien&<i>sons</i>@contoso.example";
const ROLE_SONS: &str = "</td><b>bold</b> & \"Helpdesk\"";
const GROUP_ID: &str = "g-\"><i>id</i>&'";
const GROUP_NAME: &str = r#"Pilot "><img src=x onerror=alert(1)> <script>alert("g")</script>"#;
const REASON_SCRIPT: &str = r#"<script>alert("reason")</script>"#;
const REASON_TD: &str = "</td><b>bold</b> code expired";
const REASON_SONS: &str = "O'Brien & <i>Sons</i> did not answer";
/// A method event of a user ID that matches nobody: the list shows the ID.
const UNKNOWN_ID: &str = r#""><img src=x onerror=alert(2)>"#;
/// A user who has left the directory: the reports show the activity's names.
const GONE_NAME: &str = r#"<script>alert("gone")</script> Gone"#;
const GONE_UPN: &str = r#"gone"><img src=x onerror=alert(3)>@contoso.example"#;
const GONE_ROLE: &str = "</td><b>bold</b> Role";
const KEY_NAME: &str = r#"<script>alert("key")</script> & "><img src=x>"#;

/// (id, display name, user principal name, directory role)
const USERS: &[(&str, &str, &str, &str)] = &[
    ("u-script", SCRIPT, UPN_IMG, "User"),
    ("u-bold", TD, "bold@contoso.example", "User"),
    ("u-sons", SONS, UPN_SONS, ROLE_SONS),
];

/// Markup that must never reach a page's source unescaped: no template
/// writes any of it, so only a payload could.
const RAW_MARKUP: &[&str] = &["<script", "<img", "<b>", "</b>", "<i>", "</i>"];

fn build_tenant(app: &TestApp, now: NaiveDateTime) {
    app.with_conn(|conn| {
        let policy = pilot_policy(Scope::Selected {
            group_id: GROUP_ID.into(),
        });
        save_policy(conn, &policy, Some("test")).unwrap();
        put_group(conn, GROUP_ID, GROUP_NAME).unwrap();
        let records: Vec<DirectoryUser> = USERS
            .iter()
            .map(|(id, name, upn, role)| DirectoryUser {
                id: id.to_string(),
                display_name: name.to_string(),
                user_principal_name: upn.to_string(),
                is_guest: false,
                directory_role: role.to_string(),
                is_admin: false,
                account_enabled: Some(true),
                mfa: Default::default(),
                verdicts_stale: false,
                directory_status: None,
            })
            .collect();
        put_users(conn, &policy, &records, now).unwrap();
        let members: Vec<String> = USERS.iter().map(|u| u.0.to_string()).collect();
        set_group_members(conn, &policy, GROUP_ID, &members, now).unwrap();
        for (id, ..) in USERS {
            let methods = [(Method::Email, Some(now)), (Method::MobileSms, Some(now))];
            set_user_methods(conn, &policy, id, &methods, now).unwrap();
        }

        let ago = |minutes: i64| now - Duration::minutes(minutes);
        let activity = |id: &str,
                        user: &str,
                        names: (&str, &str, &str),
                        feature: Feature,
                        result: ActivityResult,
                        minutes: i64| {
            let details = match feature {
                Feature::Reset | Feature::Unlock => {
                    Details::for_result(result).next().map(|d| d.code())
                }
                Feature::Registration => None,
            };
            Activity {
                id: id.to_string(),
                user_id: Some(user.to_string()),
                user_principal_name: names.1.to_string(),
                user_display_name: names.0.to_string(),
                user_role: names.2.to_string(),
                feature: feature.code(),
                methods_mask: PolicyMethod::Email.bit(),
                result: result.code(),
                details,
                occurred_at: ago(minutes),
            }
        };
        let activities = vec![
            activity(
                "ac-1",
                "u-script",
                (SCRIPT, UPN_IMG, "User"),
                Feature::Reset,
                ActivityResult::Failed,
                60,
            ),
            activity(
                "ac-2",
                "u-bold",
                (TD, "bold@contoso.example", "User"),
                Feature::Reset,
                ActivityResult::Succeeded,
                2 * 1440,
            ),
            activity(
                "ac-3",
                "u-sons",
                (SONS, UPN_SONS, "User"),
                Feature::Registration,
                ActivityResult::Succeeded,
                1440,
            ),
            activity(
                "ac-4",
                "u-gone",
                (GONE_NAME, GONE_UPN, GONE_ROLE),
                Feature::Reset,
                ActivityResult::Failed,
                5 * 60,
            ),
            activity(
                "ac-5",
                "u-gone",
                (GONE_NAME, GONE_UPN, GONE_ROLE),
                Feature::Registration,
                ActivityResult::Failed,
                2 * 1440,
            ),
        ];
        let event = |id: &str,
                     activity: &str,
                     user: &str,
                     feature: Feature,
                     method: Method,
                     reason: Option<&str>,
                     minutes: i64| MethodEvent {
            id: id.to_string(),
            activity_id: Some(activity.to_string()),
            user_id: user.to_string(),
            feature: feature.code(),
            method: method.code(),
            success: reason.is_none(),
            failure_reason: reason.map(str::to_string),
            occurred_at: ago(minutes),
            method_name: None,
        };
        let events = vec![
            event(
                "ev-1",
                "ac-1",
                "u-script",
                Feature::Reset,
                Method::Email,
                Some(REASON_SCRIPT),
                60,
            ),
            event(
                "ev-2",
                "ac-2",
                "u-bold",
                Feature::Reset,
                Method::MobileSms,
                Some(REASON_TD),
                2 * 1440,
            ),
            event(
                "ev-3",
                "ac-3",
                "u-sons",
                Feature::Registration,
                Method::Email,
                None,
                1440,
            ),
            event(
                "ev-4",
                "ac-x",
                UNKNOWN_ID,
                Feature::Reset,
                Method::Email,
                Some(REASON_SONS),
                3 * 60,
            ),
        ];
        record(conn, &activities, &events, now).unwrap();
    });
}

fn count(html: &str, selector: &str) -> usize {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel).count()
}

/// The page's source holds no payload markup, its parse holds no injected
/// element, every list row has one cell per heading, and the text of
/// `<main>` shows each of `shown` verbatim.
fn assert_escaped(path: &str, html: &str, shown: &[&str]) {
    for raw in RAW_MARKUP {
        assert!(
            !html.contains(raw),
            "{path}: the source holds unescaped markup {raw:?}:\n{html}"
        );
    }
    for injected in ["script", "img", "b", "i", "[onerror]"] {
        assert_eq!(count(html, injected), 0, "{path}: a {injected} element");
    }
    let doc = scraper::Html::parse_document(html);
    let table = scraper::Selector::parse("table.list").unwrap();
    let th = scraper::Selector::parse("thead th").unwrap();
    let tr = scraper::Selector::parse("tbody tr").unwrap();
    let td = scraper::Selector::parse("td").unwrap();
    for t in doc.select(&table) {
        let columns = t.select(&th).count();
        for row in t.select(&tr) {
            assert_eq!(row.select(&td).count(), columns, "{path}: a row's cells");
        }
    }
    let text = texts(html, "main").join(" ");
    for s in shown {
        assert!(
            text.contains(s),
            "{path}: the page does not show {s:?}; its text:\n{text}"
        );
    }
}

async fn check_page(app: &TestApp, path: &str, shown: &[&str]) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    let html = response.text().await.unwrap();
    assert_escaped(path, &html, shown);
    html
}

/// Every cell of a CSV download, BOM stripped.
async fn csv_cells(app: &TestApp, path: &str) -> Vec<String> {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    let bytes = response.bytes().await.unwrap();
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").expect("a BOM");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body);
    let mut cells = Vec::new();
    for record in reader.records() {
        cells.extend(record.unwrap().iter().map(str::to_string));
    }
    cells
}

async fn check_csv(app: &TestApp, path: &str, expected: &[&str]) {
    let cells = csv_cells(app, path).await;
    for e in expected {
        assert!(
            cells.iter().any(|c| c == e),
            "{path}: no cell holds {e:?} verbatim: {cells:?}"
        );
    }
    for c in &cells {
        for entity in ["&lt;", "&gt;", "&quot;", "&#", "&amp;"] {
            assert!(!c.contains(entity), "{path}: {c:?} is HTML-escaped");
        }
    }
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn payloads_are_escaped(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let now = Utc::now().naive_utc();
    build_tenant(&app, now);

    // Through the Admin pages: a policy change (audited with the group's
    // name) and an API key with a payload name.
    let mut policy_form: Vec<(String, String)> = vec![
        ("scope".into(), "selected".into()),
        ("group".into(), GROUP_ID.into()),
        ("methods_required".into(), "1".into()),
    ];
    for m in [PolicyMethod::Email, PolicyMethod::MobilePhone] {
        policy_form.push((format!("allow-{}", m.key()), "on".into()));
    }
    let fields: Vec<(&str, &str)> = policy_form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let saved = app
        .post_form(&app.client, "/admin/policy", "/admin/policy", &fields)
        .await;
    assert_eq!(saved.status(), 303, "{}", saved.text().await.unwrap());
    let created = app
        .post_form(
            &app.client,
            "/admin/api-keys",
            "/admin/api-keys",
            &[("name", KEY_NAME), ("read", "on")],
        )
        .await;
    assert_eq!(created.status(), 200);
    let html = created.text().await.unwrap();
    assert_escaped("the new API key", &html, &[KEY_NAME]);

    let user_names = [SCRIPT, UPN_IMG, TD, SONS, UPN_SONS];
    check_page(&app, "/", &[]).await;
    check_page(&app, "/registrations", &user_names).await;
    let events = [
        SCRIPT,
        UPN_IMG,
        TD,
        SONS,
        UPN_SONS,
        REASON_SCRIPT,
        REASON_TD,
        REASON_SONS,
        UNKNOWN_ID,
    ];
    check_page(&app, "/activity", &events).await;
    let registrations = [SONS, UPN_SONS, GONE_NAME, GONE_UPN, GONE_ROLE];
    check_page(&app, "/reports/registration-activity", &registrations).await;
    let resets = [SCRIPT, UPN_IMG, TD, GONE_NAME, GONE_UPN, GONE_ROLE];
    check_page(&app, "/reports/reset-activity", &resets).await;
    check_page(&app, "/users/u-script", &[SCRIPT, UPN_IMG, GROUP_NAME]).await;
    check_page(&app, "/users/u-bold", &[TD, GROUP_NAME]).await;
    let html = check_page(
        &app,
        "/users/u-sons",
        &[SONS, UPN_SONS, ROLE_SONS, GROUP_NAME],
    )
    .await;
    assert_eq!(texts(&html, "h1"), [SONS]);
    assert_eq!(texts(&html, "ul.groups li"), [GROUP_NAME]);
    assert_eq!(texts(&html, "title"), [format!("{SONS} · authinsights")]);

    let html = check_page(&app, "/admin/policy", &[GROUP_NAME]).await;
    let doc = scraper::Html::parse_document(&html);
    let chosen = scraper::Selector::parse("select[name=group] option[selected]").unwrap();
    let option = doc
        .select(&chosen)
        .next()
        .expect("the policy's group is chosen");
    assert_eq!(option.value().attr("value"), Some(GROUP_ID));
    assert_eq!(option.text().collect::<String>(), GROUP_NAME);
    check_page(&app, "/admin", &[GROUP_NAME]).await;
    check_page(&app, "/admin/accounts", &[]).await;
    check_page(&app, "/admin/api-keys", &[KEY_NAME]).await;
    check_page(&app, "/admin/audit", &[KEY_NAME, GROUP_NAME]).await;

    // A search for part of a payload finds its user and shows the search
    // again in the form, as an attribute value.
    for (q, found, not_found) in [
        ("\"><img src=x", SCRIPT, TD),
        ("<b>bold</b>", TD, SCRIPT),
        ("& <i>sons", SONS, TD),
    ] {
        let path = format!("/registrations?q={}", url_encode(q));
        let html = check_page(&app, &path, &[found]).await;
        assert_eq!(input_value(&html, "q"), q, "{path}");
        assert_eq!(texts(&html, "td.c-name"), [found], "{path}");
        assert!(!texts(&html, "main").join(" ").contains(not_found));
    }
    let path = format!("/activity?q={}", url_encode("<b>BOLD</b>"));
    let html = check_page(&app, &path, &[TD, REASON_TD]).await;
    assert_eq!(input_value(&html, "q"), "<b>BOLD</b>");
    assert_eq!(texts(&html, "td.c-reason"), [REASON_TD]);

    // Bad parameters are repeated on the error page: as text too.
    let path = format!("/registrations?admin={}", url_encode(SCRIPT));
    let response = app.get(&path).await;
    assert_eq!(response.status(), 400);
    let html = response.text().await.unwrap();
    assert_escaped(&path, &html, &[SCRIPT]);

    // A refused sign-in shows the typed name again in the form.
    let anonymous = app.anonymous();
    let refused = app.sign_in(&anonymous, UPN_IMG, "not the password").await;
    assert_eq!(refused.status(), 401);
    let html = refused.text().await.unwrap();
    assert_escaped("a refused sign-in", &html, &[]);
    assert_eq!(input_value(&html, "username"), UPN_IMG);

    // The downloads hold every payload verbatim: no HTML escaping.
    check_csv(&app, "/registrations.csv", &user_names).await;
    check_csv(&app, "/activity.csv", &events).await;
    check_csv(&app, "/reports/registration-activity.csv", &registrations).await;
    check_csv(&app, "/reports/reset-activity.csv", &resets).await;
}
db_test!(
    payloads_are_shown_escaped_and_exported_verbatim,
    payloads_are_escaped
);
