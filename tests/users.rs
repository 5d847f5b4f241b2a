//! The user page: each figure explained from the rules, for users built to
//! hit each rule (the worked example of docs/design.md), under each policy scope.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::db::directory::save_policy;
use authinsights::domain::Scope;
use chrono::Utc;
use common::tenant::{build_events, build_worked_example, pilot_policy};
use common::{texts, Backend, TestApp};

/// (figure, verdict, reason) of every explained figure on a user's page.
async fn explained(app: &TestApp, id: &str) -> Vec<(String, String, String)> {
    let response = app.get(&format!("/users/{id}")).await;
    assert_eq!(response.status(), 200, "{id}");
    let html = response.text().await.unwrap();
    let figures = texts(&html, ".explain dt");
    let verdicts = texts(&html, ".explain .verdict");
    let reasons = texts(&html, ".explain .reason");
    figures
        .into_iter()
        .zip(verdicts)
        .zip(reasons)
        .map(|((f, v), r)| (f, v, r))
        .collect()
}

async fn reason(app: &TestApp, id: &str, figure: &str) -> String {
    let all = explained(app, id).await;
    let (_, verdict, reason) = all.iter().find(|(f, _, _)| f == figure).unwrap();
    format!("{verdict} {reason}")
}

async fn explanations(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(build_worked_example);

    let ana = explained(&app, "u-ana").await;
    assert_eq!(
        ana.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        [
            "Registered",
            "Enabled",
            "Capable",
            "MFA capable",
            "Passwordless capable"
        ]
    );
    assert_eq!(
        ana.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
        [
            "Registered.",
            "Enabled.",
            "Capable.",
            "MFA capable.",
            "Not passwordless capable."
        ]
    );
    assert_eq!(
        ana[0].2,
        "Registered 2 methods the policy allows (Mobile phone and Email); it requires 2."
    );
    assert_eq!(
        ana[1].2,
        "Member of group 'SSPR pilot', the group the policy is scoped to."
    );

    let cases = [
        ("u-ben", "Registered", "Not registered. Registered 1 of the 2 methods the policy requires (Mobile phone). SMS and phone call use the same mobile phone, which counts once."),
        ("u-ben", "Capable", "Not capable. Enabled but not registered: the user must register more methods first."),
        ("u-cai", "Enabled", "Not enabled. The policy is scoped to group 'SSPR pilot', and this user is not a member of it."),
        ("u-cai", "Capable", "Not capable. Registered but not enabled: the policy does not cover this user."),
        ("u-dee", "Enabled", "Enabled. Guest member of group 'SSPR pilot', the group the policy is scoped to; guests count when they are in the selected group."),
        ("u-eve", "Registered", "Not registered. Registered 0 of the 2 methods the policy requires (none). Office phone and Security questions are registered but not allowed by the policy."),
        ("u-eve", "MFA capable", "MFA capable. Office call can serve as a second factor."),
        ("u-fay", "Registered", "Registered. Registered 2 methods the administrator policy allows (App notification and Email); it requires 2."),
        ("u-fay", "Enabled", "Enabled. Administrators (Global Administrator) are always in scope, under the administrator policy."),
        ("u-gus", "Registered", "Not registered. Registered 1 of the 2 methods the administrator policy requires (Email). Security questions is registered but not allowed by the administrator policy (security questions never count for administrators)."),
        ("u-gus", "MFA capable", "Not MFA capable. No method usable as a second factor is registered; email and security questions do not count."),
        ("u-ivy", "Registered", "Not registered. Registered 0 of the 2 methods the policy requires (none). FIDO2 security key does not serve password reset."),
        ("u-ivy", "Passwordless capable", "Passwordless capable. FIDO2 security key signs in without a password."),
    ];
    for (id, figure, want) in cases {
        assert_eq!(reason(&app, id, figure).await, want, "{id} {figure}");
    }

    // Hal: disabled, still explained, with a note.
    let html = app.get("/users/u-hal").await.text().await.unwrap();
    assert!(texts(&html, ".note")[0].starts_with("This account is disabled in the directory"));
    assert_eq!(texts(&html, "h1"), ["Hal"]);
    assert_eq!(
        texts(&html, ".breadcrumb li"),
        ["Home", "Registration details", "Hal"]
    );
    assert_eq!(texts(&html, "td.c-method"), ["SMS", "Email"]);
    assert_eq!(texts(&html, "td.c-counts"), ["Counts", "Counts"]);
    assert_eq!(texts(&html, ".groups li"), ["SSPR pilot"]);
    // Eve's methods say which count.
    let html = app.get("/users/u-eve").await.text().await.unwrap();
    assert_eq!(
        texts(&html, "td.c-counts"),
        ["Not allowed by the policy", "Not allowed by the policy"]
    );

    // Scope all: Cai becomes enabled; Dee, a guest, is excluded.
    app.with_conn(|conn| save_policy(conn, &pilot_policy(Scope::All), Some("test")).unwrap());
    assert_eq!(
        reason(&app, "u-cai", "Enabled").await,
        "Enabled. The policy is enabled for all member users."
    );
    assert_eq!(
        reason(&app, "u-dee", "Enabled").await,
        "Not enabled. The policy is enabled for all users, and guests are excluded from all."
    );
    // Scope none: only administrators stay enabled.
    app.with_conn(|conn| save_policy(conn, &pilot_policy(Scope::None), Some("test")).unwrap());
    assert_eq!(
        reason(&app, "u-ana", "Enabled").await,
        "Not enabled. Self-service password reset is not enabled for users (scope None); only administrators are in scope."
    );
    assert!(reason(&app, "u-gus", "Enabled")
        .await
        .starts_with("Enabled. Administrators"));
}
db_test!(every_figure_is_explained, explanations);

async fn activity_and_missing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let now = Utc::now().naive_utc();
    // A reset that verified a text message and an email, newest of all.
    let reset = serde_json::json!({
        "id": "ac-two-methods", "user_id": "u-ana", "feature": "reset",
        "result": "succeeded", "details": "succeeded",
        "occurred_at": (now - chrono::Duration::minutes(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "events": [
            {"id": "ev-two-1", "method": "mobile_sms", "success": true},
            {"id": "ev-two-2", "method": "email", "success": true}
        ]
    });
    app.with_conn(|conn| {
        build_worked_example(conn);
        build_events(conn, now);
        common::tenant::import_activities(conn, &reset.to_string());
    });
    let html = app.get("/users/u-ana").await.text().await.unwrap();
    let cells = texts(&html, "#activity-h ~ .table-wrap table tbody td");
    assert_eq!(cells.len(), 15, "three activities: {cells:?}");
    assert_eq!(
        cells[1..4],
        ["Reset", "Alternate Email + Mobile Phone", "Succeeded"],
        "the methods as the Reset activity report names them"
    );
    assert_eq!(cells[6..9], ["Reset", "Mobile Phone", "Succeeded"]);
    assert_eq!(cells[11..14], ["Reset", "Alternate Email", "Failed"]);
    let links: Vec<String> = scraper::Html::parse_document(&html)
        .select(&scraper::Selector::parse("#activity-h ~ p a").unwrap())
        .map(|a| a.value().attr("href").unwrap().to_string())
        .collect();
    assert_eq!(links, ["/activity?q=ana%40contoso.example"]);

    let missing = app.get("/users/u-nobody").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(texts(&missing.text().await.unwrap(), "h1"), ["Not found"]);
}
db_test!(recent_activity_and_unknown_users, activity_and_missing);
