//! Registration details over HTTP: every filter alone and combined, search,
//! sort and keyset paging, against tenants whose answers are worked out from
//! the domain rules.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::db::models::User;
use authinsights::db::schema::users;
use common::tenant::{build_crowd, build_worked_example};
use common::{texts, Backend, TestApp};
use diesel::prelude::*;

/// Names on the page and the match count it states.
async fn list(app: &TestApp, query: &str) -> (Vec<String>, String) {
    let response = app.get(&format!("/registrations{query}")).await;
    assert_eq!(response.status(), 200, "{query}");
    let html = response.text().await.unwrap();
    let count = texts(&html, ".match-count strong")
        .pop()
        .unwrap_or_default();
    (texts(&html, "td.c-name"), count)
}

async fn filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(build_worked_example);

    // (query, expected names in name order), worked out from the worked example's table in docs/design.md.
    let cases: &[(&str, &[&str])] = &[
        (
            "",
            &[
                "Ana", "Ben", "Cai", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy",
            ],
        ),
        ("?registered=yes", &["Ana", "Cai", "Dee", "Fay", "Hal"]),
        ("?registered=no", &["Ben", "Eve", "Gus", "Ivy"]),
        (
            "?enabled=yes",
            &["Ana", "Ben", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy"],
        ),
        ("?enabled=no", &["Cai"]),
        ("?capable=yes", &["Ana", "Dee", "Fay", "Hal"]),
        ("?capable=no", &["Ben", "Cai", "Eve", "Gus", "Ivy"]),
        ("?mfa_capable=no", &["Gus"]),
        ("?passwordless_capable=yes", &["Ivy"]),
        ("?admin=yes", &["Fay", "Gus"]),
        ("?user_type=guest", &["Dee"]),
        (
            "?user_type=member&registered=yes",
            &["Ana", "Cai", "Fay", "Hal"],
        ),
        ("?account_enabled=no", &["Hal"]),
        ("?method=office_call", &["Eve"]),
        (
            "?method=email&method=app_code",
            &["Ana", "Cai", "Dee", "Fay", "Gus", "Hal"],
        ),
        ("?method=fido2", &["Ivy"]),
        ("?enabled=yes&registered=no", &["Ben", "Eve", "Gus", "Ivy"]),
        ("?admin=yes&capable=no", &["Gus"]),
        ("?registered=yes&enabled=no", &["Cai"]),
        (
            "?method=mobile_sms&capable=yes&account_enabled=yes",
            &["Ana", "Dee"],
        ),
        (
            "?user_type=member&mfa_capable=yes&passwordless_capable=no&registered=no",
            &["Ben", "Eve"],
        ),
        ("?capable=yes&registered=no", &[]),
        // Explicit "all" and empty values, as a submitted form sends them.
        (
            "?registered=all&enabled=&capable=&q=&sort=name&size=50",
            &[
                "Ana", "Ben", "Cai", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy",
            ],
        ),
    ];
    for (query, expected) in cases {
        let (names, count) = list(&app, query).await;
        assert_eq!(names, *expected, "names for {query}");
        assert_eq!(count, expected.len().to_string(), "count for {query}");
    }

    // Each row shows the seed's columns and ours.
    let html = app
        .get("/registrations?account_enabled=no")
        .await
        .text()
        .await
        .unwrap();
    let row: Vec<String> = texts(&html, "tbody tr td");
    assert_eq!(
        row,
        [
            "Hal",
            "hal@contoso.example",
            "Yes",
            "Yes",
            "Yes",
            "SMS, Email",
            "Yes",
            "No",
            "No",
            "Member",
            "No",
            // No registration-details export described Hal.
            "—",
            "—",
            "—",
            "—"
        ]
    );
    let headers = texts(&html, "thead th");
    assert_eq!(
        headers,
        [
            "Name ▲",
            "User name",
            "Registered",
            "Enabled",
            "Capable",
            "Methods",
            "MFA capable",
            "Passwordless capable",
            "Admin",
            "User type",
            "Account enabled",
            "MFA registered",
            "Default MFA method",
            "System-preferred method",
            "Last updated"
        ]
    );
    let links: Vec<String> = scraper::Html::parse_document(&html)
        .select(&scraper::Selector::parse("td.c-name a").unwrap())
        .map(|a| a.value().attr("href").unwrap().to_string())
        .collect();
    assert_eq!(links, ["/users/u-hal"]);

    // An empty result says so and offers to clear the filters.
    let html = app
        .get("/registrations?capable=yes&registered=no")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(texts(&html, ".empty p")[0], "No users match these filters.");
    assert_eq!(texts(&html, ".empty a"), ["Clear the filters"]);

    // The form shows the filters the URL set.
    let html = app
        .get("/registrations?registered=no&method=email&q=ev")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(texts(&html, "#f-registered option[selected]"), ["No"]);
    assert_eq!(texts(&html, "#f-enabled option[selected]"), ["All"]);
    let doc = scraper::Html::parse_document(&html);
    let checked: Vec<&str> = doc
        .select(&scraper::Selector::parse("input[name=method][checked]").unwrap())
        .map(|e| e.value().attr("value").unwrap())
        .collect();
    assert_eq!(checked, ["email"]);
    let q = doc
        .select(&scraper::Selector::parse("#q").unwrap())
        .next()
        .unwrap();
    assert_eq!(q.value().attr("value"), Some("ev"));
}
db_test!(every_filter_alone_and_combined, filters);

async fn search_and_sort(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(build_worked_example);

    for (query, expected) in [
        ("?q=ay", vec!["Fay"]),
        ("?q=EVE", vec!["Eve"]),
        ("?q=%20%20hal@CONTOSO%20", vec!["Hal"]),
        ("?q=contoso&registered=no", vec!["Ben", "Eve", "Gus", "Ivy"]),
        // LIKE wildcards are matched literally.
        ("?q=%25", vec![]),
        ("?q=_", vec![]),
        (
            "?sort=-name",
            vec![
                "Ivy", "Hal", "Gus", "Fay", "Eve", "Dee", "Cai", "Ben", "Ana",
            ],
        ),
        (
            "?sort=-user_name&enabled=yes&registered=no",
            vec!["Ivy", "Gus", "Eve", "Ben"],
        ),
        ("?sort=user_name&admin=yes", vec!["Fay", "Gus"]),
        ("?q=%22ana%22", vec![]),
    ] {
        let (names, count) = list(&app, query).await;
        assert_eq!(names, expected, "{query}");
        assert_eq!(count, expected.len().to_string(), "{query}");
    }

    // A renamed user is found by the new name only: the search index follows.
    app.with_conn(|conn| {
        let policy = authinsights::db::directory::load_policy(conn).unwrap();
        let renamed = authinsights::db::directory::DirectoryUser {
            id: "u-eve".into(),
            display_name: "Evelyn Zhou".into(),
            user_principal_name: "evelyn.zhou@contoso.example".into(),
            is_guest: false,
            directory_role: "User".into(),
            is_admin: false,
            account_enabled: Some(true),
            mfa: Default::default(),
            verdicts_stale: false,
            directory_status: None,
        };
        authinsights::db::directory::put_users(
            conn,
            &policy,
            &[renamed],
            chrono::Utc::now().naive_utc(),
        )
        .unwrap();
    });
    assert_eq!(list(&app, "?q=zhou").await.0, ["Evelyn Zhou"]);
    assert_eq!(list(&app, "?q=eve@").await.0, Vec::<String>::new());
    assert_eq!(
        list(&app, "?q=evelyn&registered=no").await.0,
        ["Evelyn Zhou"]
    );
}
db_test!(search_and_sort, search_and_sort);

/// Follows "Next" from the first page to the last, then "Previous" back,
/// returning the names seen going forward.
async fn walk(app: &TestApp, first: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut url = first.to_string();
    loop {
        let html = app.get(&url).await.text().await.unwrap();
        let doc = scraper::Html::parse_document(&html);
        let names: Vec<String> = texts(&html, "td.c-upn");
        assert!(
            !names.is_empty() || seen.is_empty(),
            "no empty page after the first: {url}"
        );
        seen.extend(names.clone());
        pages.push(names);
        let next = doc
            .select(&scraper::Selector::parse("a[rel=next]").unwrap())
            .next()
            .map(|a| a.value().attr("href").unwrap().to_string());
        match next {
            Some(n) => url = n,
            None => break,
        }
    }
    // And back: every previous page is the one seen before it.
    for expected in pages.iter().rev().skip(1) {
        let html = app.get(&url).await.text().await.unwrap();
        let doc = scraper::Html::parse_document(&html);
        let prev = doc
            .select(&scraper::Selector::parse("a[rel=prev]").unwrap())
            .next()
            .map(|a| a.value().attr("href").unwrap().to_string())
            .expect("a previous link on every page after the first");
        url = prev;
        let html = app.get(&url).await.text().await.unwrap();
        assert_eq!(
            &texts(&html, "td.c-upn"),
            expected,
            "previous page of {url}"
        );
    }
    let html = app.get(&url).await.text().await.unwrap();
    assert!(
        texts(&html, "a[rel=prev]").is_empty(),
        "no previous link on the first page"
    );
    seen
}

async fn paging(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(|conn| build_crowd(conn, 150));
    let all: Vec<User> =
        app.with_conn(|conn| users::table.select(User::as_select()).load(conn).unwrap());
    assert_eq!(all.len(), 150);

    // The expected order of a filter, computed from the stored rows.
    let expect = |keep: &dyn Fn(&User) -> bool, by_upn: bool, descending: bool| -> Vec<String> {
        let mut rows: Vec<&User> = all.iter().filter(|u| keep(u)).collect();
        rows.sort_by(|a, b| {
            let ka = (
                if by_upn {
                    &a.user_principal_name
                } else {
                    &a.display_name
                },
                &a.id,
            );
            let kb = (
                if by_upn {
                    &b.user_principal_name
                } else {
                    &b.display_name
                },
                &b.id,
            );
            ka.cmp(&kb)
        });
        if descending {
            rows.reverse();
        }
        rows.iter().map(|u| u.user_principal_name.clone()).collect()
    };

    // Walk: no filter, names with many ties (broken by id).
    assert_eq!(
        walk(&app, "/registrations?size=7").await,
        expect(&|_| true, false, false)
    );
    assert_eq!(
        walk(&app, "/registrations?size=11&sort=-name").await,
        expect(&|_| true, false, true)
    );
    assert_eq!(
        walk(&app, "/registrations?size=13&sort=user_name").await,
        expect(&|_| true, true, false)
    );
    // Seek: two administrators among 150 is a selective filter.
    assert_eq!(
        walk(&app, "/registrations?size=1&admin=yes").await,
        expect(&|u| u.is_admin, false, false)
    );
    assert_eq!(
        walk(
            &app,
            "/registrations?size=2&account_enabled=no&sort=-user_name"
        )
        .await,
        expect(&|u| u.account_enabled == Some(false), true, true)
    );
    // Search: matches sorted and paged in memory.
    assert_eq!(
        walk(&app, "/registrations?size=4&q=renée").await,
        expect(&|u| u.display_name.starts_with("Renée"), false, false)
    );
    assert_eq!(
        walk(
            &app,
            "/registrations?size=6&q=crowd1&sort=-name&method=email"
        )
        .await,
        expect(
            &|u| u.display_name.contains("Crowd1") && u.methods_mask & (1 << 5) != 0,
            false,
            true
        )
    );
    let (_, count) = list(&app, "?q=o%27neil").await;
    assert_eq!(count, "25");
}
db_test!(keyset_paging_has_no_gaps_or_duplicates, paging);

async fn bad_parameters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (query, param, hint) in [
        ("registered=maybe", "registered", "use yes, no or all"),
        ("capable=YES", "capable", "use yes, no or all"),
        ("user_type=robot", "user_type", "member, guest or all"),
        ("method=carrier_pigeon", "method", "app_notification"),
        ("sort=age", "sort", "name, -name, user_name or -user_name"),
        ("size=0", "size", "from 1 to 500"),
        ("size=501", "size", "from 1 to 500"),
        ("after=%%%", "after", "first page"),
        ("after=abc&before=abc", "before", "not both"),
        (
            "registered=yes&registered=no",
            "registered",
            "more than once",
        ),
        ("colour=blue", "colour", "This page accepts: registered"),
    ] {
        let response = app.get(&format!("/registrations?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let html = response.text().await.unwrap();
        assert_eq!(texts(&html, "h1"), ["Bad request"]);
        let message = texts(&html, ".error-message").join(" ");
        assert!(
            message.contains(&format!("'{param}'")),
            "{query}: {message}"
        );
        assert!(message.contains(hint), "{query}: {message}");
        assert_eq!(
            texts(&html, "main p a"),
            ["Open the page without these parameters"],
            "{query}"
        );
    }
    let too_long = format!("/registrations?q={}", "x".repeat(201));
    assert_eq!(app.get(&too_long).await.status(), 400);
}
db_test!(bad_parameters_give_400, bad_parameters);
