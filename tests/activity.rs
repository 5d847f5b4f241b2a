//! Reset details over HTTP: method events of a range with filters, search,
//! counts and keyset paging.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::domain::{Feature, Method};
use chrono::{Duration, NaiveDateTime, Utc};
use common::tenant::{build_events, build_worked_example, TestEvent, EVENTS};
use common::{texts, Backend, TestApp};

async fn spawn_with_events(backend: Backend) -> (TestApp, NaiveDateTime) {
    let app = TestApp::spawn(backend).await;
    let now = Utc::now().naive_utc();
    app.with_conn(|conn| {
        build_worked_example(conn);
        build_events(conn, now);
    });
    (app, now)
}

/// (names, summary) of a reset-details page.
async fn events(app: &TestApp, query: &str) -> (Vec<String>, String) {
    let response = app.get(&format!("/activity{query}")).await;
    assert_eq!(response.status(), 200, "{query}");
    let html = response.text().await.unwrap();
    (
        texts(&html, "td.c-name"),
        texts(&html, ".match-count").join(" "),
    )
}

fn names(pick: impl Fn(&TestEvent) -> bool) -> Vec<&'static str> {
    EVENTS.iter().filter(|e| pick(e)).map(|e| e.name).collect()
}

async fn filters_and_ranges(backend: Backend) {
    let (app, now) = spawn_with_events(backend).await;
    let within = |days: i64| move |e: &TestEvent| e.minutes_ago < days * 1440 - 60;
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("", names(within(30))),
        ("?range=30d", names(within(30))),
        ("?range=7d", names(within(7))),
        ("?range=24h", vec!["Ana", "Ana"]),
        ("?feature=registration", vec!["Ben", "Dee"]),
        ("?feature=reset&range=7d", vec!["Ana", "Ana", "Gus", "Eve"]),
        ("?status=failure", vec!["Ana", "Eve", "Dee"]),
        ("?method=email", vec!["Ana", "Gus", "Dee"]),
        (
            "?feature=reset&method=email&status=success&range=7d",
            vec!["Gus"],
        ),
        ("?method=security_questions", vec![]),
        ("?q=ana", vec!["Ana", "Ana"]),
        ("?q=ANA&status=success", vec!["Ana"]),
        ("?q=zzz", vec![]),
        (
            "?feature=&method=&status=&range=30d&from=&to=&q=&size=50",
            names(within(30)),
        ),
    ];
    for (query, expected) in &cases {
        let (got, summary) = events(&app, query).await;
        assert_eq!(&got, expected, "{query}");
        let count = expected.len();
        let noun = if count == 1 { "event" } else { "events" };
        assert!(
            summary.starts_with(&format!("{count} method {noun} ")),
            "{query}: {summary}"
        );
    }

    // Custom dates: whole UTC days, expected from each event's date.
    let today = now.date();
    let from = today - Duration::days(3);
    let to = today - Duration::days(1);
    let expected: Vec<&str> = names(|e| {
        let d = e.at(now).date();
        d >= from && d <= to
    });
    let (got, summary) = events(&app, &format!("?range=custom&from={from}&to={to}")).await;
    assert_eq!(got, expected);
    assert!(
        summary.contains(&format!("from {from} to {to}")),
        "{summary}"
    );
    // Dates alone imply a custom range.
    let (got, _) = events(&app, &format!("?from={from}&to={to}")).await;
    assert_eq!(got, expected);

    // The columns of a row.
    let html = app
        .get("/activity?status=failure&feature=reset&method=office_call")
        .await
        .text()
        .await
        .unwrap();
    let row = texts(&html, "tbody td");
    let eve = EVENTS.iter().find(|e| e.id == "ev-05").unwrap();
    assert_eq!(
        row,
        [
            "Eve".to_string(),
            "eve@contoso.example".into(),
            "Reset".into(),
            "Office call".into(),
            "Failure".into(),
            eve.at(now).format("%Y-%m-%d %H:%M:%S").to_string(),
            "Call not answered".into(),
        ]
    );
    assert_eq!(
        texts(&html, "thead th"),
        [
            "Name",
            "User name",
            "Feature",
            "Authentication method",
            "Status",
            "Date (UTC) ▼",
            "Failure reason"
        ]
    );

    // An empty list says so and offers to clear.
    let html = app.get("/activity?q=zzz").await.text().await.unwrap();
    assert_eq!(
        texts(&html, ".empty p")[0],
        "No method events match these filters in this range."
    );
    assert_eq!(texts(&html, ".empty a"), ["Clear the filters"]);
    // The seven usage methods are offered, as the seed lists them.
    let methods = texts(&html, "#f-method option");
    assert_eq!(methods[0], "All");
    assert_eq!(
        &methods[1..],
        Method::USAGE.map(|m| m.display_name().to_string())
    );
    assert_eq!(
        texts(&html, "#f-feature option"),
        ["All", "Registration", "Reset", "Unlock"]
    );
    let _ = Feature::ALL;
}
db_test!(filters_ranges_and_search, filters_and_ranges);

async fn paging(backend: Backend) {
    let (app, now) = spawn_with_events(backend).await;
    let expected: Vec<String> = EVENTS
        .iter()
        .filter(|e| e.minutes_ago < 29 * 1440)
        .map(|e| e.at(now).format("%Y-%m-%d %H:%M:%S").to_string())
        .collect();
    for first in ["/activity?size=2", "/activity?size=3&q=contoso"] {
        let mut url = first.to_string();
        let mut seen: Vec<String> = Vec::new();
        let mut pages: Vec<Vec<String>> = Vec::new();
        loop {
            let html = app.get(&url).await.text().await.unwrap();
            let page = texts(&html, "td.c-date");
            seen.extend(page.clone());
            pages.push(page);
            let doc = scraper::Html::parse_document(&html);
            match doc
                .select(&scraper::Selector::parse("a[rel=next]").unwrap())
                .next()
            {
                Some(a) => url = a.value().attr("href").unwrap().to_string(),
                None => break,
            }
        }
        assert_eq!(
            seen, expected,
            "{first}: newest first, no gaps or duplicates"
        );
        for page in pages.iter().rev().skip(1) {
            let html = app.get(&url).await.text().await.unwrap();
            let doc = scraper::Html::parse_document(&html);
            url = doc
                .select(&scraper::Selector::parse("a[rel=prev]").unwrap())
                .next()
                .unwrap()
                .value()
                .attr("href")
                .unwrap()
                .to_string();
            let html = app.get(&url).await.text().await.unwrap();
            assert_eq!(&texts(&html, "td.c-date"), page, "{first}: back to {url}");
        }
    }
}
db_test!(keyset_paging_newest_first, paging);

async fn bad_parameters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let today = Utc::now().naive_utc().date();
    let old = (today - Duration::days(31)).to_string();
    let future = (today + Duration::days(1)).to_string();
    let from = (today - Duration::days(2)).to_string();
    let to = (today - Duration::days(5)).to_string();
    for (query, param, hint) in [
        ("range=1y".to_string(), "range", "24h, 7d, 30d or custom"),
        ("from=2026-02-30".into(), "from", "YYYY-MM-DD"),
        ("to=yesterday".into(), "to", "YYYY-MM-DD"),
        (format!("from={old}"), "from", "retention"),
        (format!("to={future}"), "to", "future"),
        (format!("from={from}&to={to}"), "from", "after the end date"),
        ("status=maybe".into(), "status", "success, failure or all"),
        (
            "feature=login".into(),
            "feature",
            "registration, reset, unlock or all",
        ),
        ("method=fido3".into(), "method", "security_questions"),
        ("size=1000".into(), "size", "from 1 to 500"),
        ("after=bm90IGEgY3Vyc29y".into(), "after", "first page"),
        ("colour=blue".into(), "colour", "This page accepts: feature"),
    ] {
        let response = app.get(&format!("/activity?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let html = response.text().await.unwrap();
        let message = texts(&html, ".error-message").join(" ");
        assert!(
            message.contains(&format!("'{param}'")),
            "{query}: {message}"
        );
        assert!(message.contains(hint), "{query}: {message}");
    }
    // A cursor of the registration list is not an event position.
    let cursor = authinsights::domain::filter::Cursor {
        value: "Ana".into(),
        id: "u-ana".into(),
    };
    let response = app
        .get(&format!("/activity?after={}", cursor.encode()))
        .await;
    assert_eq!(response.status(), 400);
}
db_test!(bad_parameters_give_400, bad_parameters);

async fn broad_search_paths(backend: Backend) {
    use authinsights::db::cache::Counts;
    use authinsights::db::events::{event_page_with, EventCount};
    use authinsights::web::lists::events::parse_query;
    let (app, now) = spawn_with_events(backend).await;
    for query in [
        "q=contoso&size=3",
        "q=ana",
        "q=contoso&feature=reset&method=email",
        "q=contoso&status=failure&range=7d",
    ] {
        let q = parse_query(query, now).unwrap();
        let (by_user, walked) = app.with_conn(|conn| {
            (
                event_page_with(conn, &Counts::uncached(), &q, 5_000).unwrap(),
                event_page_with(conn, &Counts::uncached(), &q, 0).unwrap(),
            )
        });
        assert_eq!(
            walked.rows, by_user.rows,
            "{query}: the same rows either way"
        );
        assert_eq!(walked.has_next, by_user.has_next, "{query}");
        assert!(matches!(by_user.count, EventCount::Exact(_)), "{query}");
        assert!(
            matches!(walked.count, EventCount::SearchTooBroad { .. }),
            "{query}: {:?}",
            walked.count
        );
    }
}
db_test!(broad_searches_walk_to_the_same_rows, broad_search_paths);

/// A broad search of a rare kind of event reads the kinds' streams side by
/// side, a slice of time at a time: paged to the end and back by cursor, it
/// gives the pages reading by user gives.
async fn broad_search_of_rare_kinds(backend: Backend) {
    use authinsights::db::cache::Counts;
    use authinsights::db::events::{event_page_with, EventPage, EventQuery};
    use authinsights::domain::filter::PagePosition;
    use authinsights::ingest::demo::{self, DemoOptions};
    use authinsights::web::lists::events::parse_query;
    let app = TestApp::spawn(backend).await;
    let now = Utc::now().naive_utc();
    app.with_conn(|conn| {
        let options = DemoOptions {
            users: 300,
            days: 3,
            seed: 11,
            events_per_user_day: 3.0,
            now,
        };
        demo::generate(conn, &options, false).unwrap();
    });
    for query in [
        "q=an&method=office_call&size=7",
        "q=an&feature=reset&method=mobile_call&status=failure&size=2",
        // Nearly every user: slices of a few events each, most too short
        // for a page, so the walk widens them until one is found.
        "q=.&feature=reset&method=mobile_call&status=failure&size=1",
    ] {
        let mut q = parse_query(query, now).unwrap();
        let page = |q: &EventQuery, limit| {
            app.with_conn(|conn| event_page_with(conn, &Counts::uncached(), q, limit).unwrap())
        };
        let mut forward = Vec::new();
        loop {
            let (by_user, walked) = (page(&q, 5_000), page(&q, 0));
            assert_eq!(walked.rows, by_user.rows, "{query}, page {}", forward.len());
            assert_eq!(
                (walked.has_prev, walked.has_next),
                (by_user.has_prev, by_user.has_next),
                "{query}, page {}",
                forward.len()
            );
            forward.push(by_user.rows.clone());
            if !by_user.has_next {
                break;
            }
            q.position = PagePosition::After(EventPage::cursor(by_user.rows.last().unwrap()));
        }
        assert!(forward.len() > 2, "{query}: {} pages", forward.len());
        // Back from the last page, one page at a time.
        for back in (0..forward.len() - 1).rev() {
            let first_shown = &forward[back + 1][0];
            q.position = PagePosition::Before(EventPage::cursor(first_shown));
            let (by_user, walked) = (page(&q, 5_000), page(&q, 0));
            assert_eq!(walked.rows, forward[back], "{query}, back to page {back}");
            assert_eq!(by_user.rows, forward[back], "{query}, back to page {back}");
        }
    }
}
db_test!(
    broad_searches_of_rare_kinds_page_like_reading_by_user,
    broad_search_of_rare_kinds
);
