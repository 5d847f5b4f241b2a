//! The overview over HTTP: tiles, insights and both charts for each range,
//! and the lists every one of them links to.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::domain::{Feature, Method};
use chrono::Utc;
use common::tenant::{build_events, build_worked_example, EVENTS};
use common::{texts, Backend, TestApp};

fn links(html: &str, selector: &str) -> Vec<String> {
    scraper::Html::parse_document(html)
        .select(&scraper::Selector::parse(selector).unwrap())
        .map(|a| a.value().attr("href").unwrap().to_string())
        .collect()
}

async fn count_at(app: &TestApp, href: &str) -> String {
    let html = app.get(href).await.text().await.unwrap();
    texts(&html, ".match-count strong").pop().unwrap()
}

async fn tiles_and_insights(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(build_worked_example);
    let html = app.get("/").await.text().await.unwrap();

    let counts = ["5", "8", "4", "8", "1"];
    assert_eq!(texts(&html, ".tile-count"), counts);
    let tile_links = links(&html, "a.tile");
    assert_eq!(
        tile_links,
        [
            "/registrations?registered=yes",
            "/registrations?enabled=yes",
            "/registrations?capable=yes",
            "/registrations?mfa_capable=yes",
            "/registrations?passwordless_capable=yes"
        ]
    );
    // The sparklines begin with the history (written today), not with
    // days of zeros before it.
    let doc = scraper::Html::parse_document(&html);
    let sparks = scraper::Selector::parse("svg.spark").unwrap();
    let line = scraper::Selector::parse("polyline").unwrap();
    let today = Utc::now().date_naive();
    let spark_labels: Vec<String> = doc
        .select(&sparks)
        .map(|svg| {
            let points = svg
                .select(&line)
                .next()
                .unwrap()
                .value()
                .attr("points")
                .unwrap();
            assert_eq!(points.split(' ').count(), 1, "one day of history: {points}");
            svg.value().attr("aria-label").unwrap().to_string()
        })
        .collect();
    assert_eq!(spark_labels.len(), 5);
    assert_eq!(
        spark_labels[2],
        format!("Day by day: 4 on {today}, 4 on {today}")
    );
    // Each tile's list holds exactly the tile's users.
    for (href, count) in tile_links.iter().zip(counts) {
        assert_eq!(count_at(&app, href).await, count, "{href}");
    }

    // The insights, worked out from the worked example's table in docs/design.md.
    let expected = [
        (
            "4",
            "enabled users are not registered",
            "/registrations?registered=no&enabled=yes",
        ),
        (
            "1",
            "registered user is not enabled",
            "/registrations?registered=yes&enabled=no",
        ),
        (
            "1",
            "administrator is not capable",
            "/registrations?capable=no&admin=yes",
        ),
        (
            "0",
            "guests are registered but not enabled",
            "/registrations?registered=yes&enabled=no&user_type=guest",
        ),
        (
            "1",
            "user is not MFA capable",
            "/registrations?mfa_capable=no",
        ),
        (
            "1",
            "user is passwordless capable",
            "/registrations?passwordless_capable=yes",
        ),
        (
            "1",
            "disabled account is included",
            "/registrations?account_enabled=no",
        ),
    ];
    let counts = texts(&html, ".insight-count");
    let sentences = texts(&html, ".insight-text");
    let hrefs = links(&html, ".insights a");
    assert_eq!(counts.len(), expected.len());
    for (i, (count, text, href)) in expected.iter().enumerate() {
        assert_eq!(counts[i], *count, "insight {i}");
        assert!(
            sentences[i].starts_with(text),
            "insight {i}: {}",
            sentences[i]
        );
        assert_eq!(hrefs[i], *href, "insight {i}");
        assert_eq!(count_at(&app, href).await, *count, "{href}");
    }
}
db_test!(tiles_and_insights_link_to_their_lists, tiles_and_insights);

async fn registered_by_method(backend: Backend) {
    use common::tenant::WORKED_EXAMPLE;
    let app = TestApp::spawn(backend).await;
    app.with_conn(build_worked_example);
    let html = app.get("/").await.text().await.unwrap();
    let doc = scraper::Html::parse_document(&html);
    let rows = scraper::Selector::parse("#chart-methods .chart-table tbody tr").unwrap();
    let th = scraper::Selector::parse("th").unwrap();
    let a = scraper::Selector::parse("td a").unwrap();
    let table: Vec<(String, String, String)> = doc
        .select(&rows)
        .map(|r| {
            let link = r.select(&a).next().unwrap();
            (
                r.select(&th).next().unwrap().text().collect::<String>(),
                link.text().collect::<String>(),
                link.value().attr("href").unwrap().to_string(),
            )
        })
        .collect();
    // Every method of the catalogue, "other" included, in its order.
    assert_eq!(table.len(), Method::ALL.len());
    for (method, (name, count, href)) in Method::ALL.iter().zip(&table) {
        assert_eq!(name, method.display_name());
        assert_eq!(href, &format!("/registrations?method={}", method.key()));
        // The count is a count over the users who have the method…
        let users = WORKED_EXAMPLE
            .iter()
            .filter(|p| p.6.contains(method))
            .count();
        assert_eq!(count, &users.to_string(), "{name}");
        // …and the bar opens exactly those users.
        assert_eq!(count_at(&app, href).await, users.to_string(), "{href}");
    }
    assert_eq!(
        links(&html, "#chart-methods svg a").len(),
        Method::ALL.len(),
        "a bar per method"
    );
    // The API has the same figures.
    let api = common::api::Api::new(&app);
    let (status, body) = api.get("/api/v1/overview").await;
    assert_eq!(status, 200);
    let by_method = body["usersRegisteredByMethod"].as_array().unwrap();
    for (m, (_, count, _)) in by_method.iter().zip(&table) {
        assert_eq!(m["userCount"].to_string(), *count);
    }
}
db_test!(
    users_registered_by_method_count_the_users,
    registered_by_method
);

/// The numbers table of a chart: method → (success, failure).
fn chart_numbers(html: &str, chart: &str) -> Vec<(String, String, String)> {
    let doc = scraper::Html::parse_document(html);
    let rows = scraper::Selector::parse(&format!("#chart-{chart} .chart-table tbody tr")).unwrap();
    let cell = scraper::Selector::parse("th, td").unwrap();
    doc.select(&rows)
        .map(|r| {
            let c: Vec<String> = r
                .select(&cell)
                .map(|c| c.text().collect::<String>().trim().to_string())
                .collect();
            (c[0].clone(), c[1].clone(), c[2].clone())
        })
        .collect()
}

async fn charts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let now = Utc::now().naive_utc();
    app.with_conn(|conn| {
        build_worked_example(conn);
        build_events(conn, now);
    });
    // Expected per range from the events' ages: 24 hours, 7 and 30 days
    // (windows start on the hour, so an event an hour inside the edge is in).
    for (range, days) in [("24h", 1), ("7d", 7), ("30d", 30)] {
        let html = app
            .get(&format!("/?range={range}"))
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(
            texts(&html, ".range-control a.current"),
            [match range {
                "24h" => "24 hours",
                "7d" => "7 days",
                _ => "30 days",
            }]
        );
        for (chart, feature) in [
            ("registrations", Feature::Registration),
            ("resets", Feature::Reset),
        ] {
            let got = chart_numbers(&html, chart);
            let want: Vec<(String, String, String)> = Method::USAGE
                .iter()
                .map(|m| {
                    let n = |success: bool| {
                        EVENTS
                            .iter()
                            .filter(|e| {
                                e.feature == feature
                                    && e.method == *m
                                    && e.success == success
                                    && e.minutes_ago < days * 1440 - 60
                            })
                            .count()
                            .to_string()
                    };
                    (m.display_name().to_string(), n(true), n(false))
                })
                .collect();
            assert_eq!(got, want, "{chart} over {range}");
        }
    }

    // A bar links to reset details with feature, method, status and range
    // set, and that list holds the bar's count.
    let html = app.get("/?range=7d").await.text().await.unwrap();
    let bars = links(&html, "#chart-resets svg a");
    assert_eq!(bars.len(), 14, "two bars per usage method");
    let email_success = "/activity?feature=reset&method=email&status=success&range=7d";
    assert!(bars.contains(&email_success.to_string()), "{bars:?}");
    let list = app.get(email_success).await.text().await.unwrap();
    assert_eq!(texts(&list, "td.c-name"), ["Gus"]);
    assert!(texts(&list, ".match-count")[0].starts_with("1 method event in the last 7 days"));
    // Every bar's title states its number, for readers without the picture.
    let titles = texts(&html, "#chart-resets svg title");
    assert!(
        titles.contains(&"Email: 1 success event".to_string()),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"Office call: 1 failure event".to_string()),
        "{titles:?}"
    );

    assert_eq!(app.get("/?range=90d").await.status(), 400);
    assert_eq!(app.get("/?colour=red").await.status(), 400);
}
db_test!(charts_count_method_events_per_range, charts);
