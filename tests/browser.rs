//! Journeys through the portal in a real browser: the `authinsights` binary
//! serves a small demo tenant, and Debian's headless Chromium, driven through
//! chromedriver, signs in, follows tiles, chart bars and pagers, fills in
//! filters, downloads CSV files and changes the policy as an administrator
//! would. Each journey asserts what the page shows.
//!
//! Every run goes through all journeys on SQLite and on PostgreSQL, with
//! JavaScript on and again with it off (the portal needs none). Screenshots
//! of every page at a laptop and a phone size land in
//! `target/tmp/browser/<run>/` (not committed; `scripts/screenshots` copies the
//! overview, the usage view and the trends to `docs/`).
//!
//! Needs `chromium` and `chromium-driver` from apt-get; `scripts/test`
//! installs them when they are missing.
#![allow(clippy::unwrap_used)]

mod common;

use common::binary::{account_add, serve_demo, ServedDemo};
use common::Backend;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Users of the demo tenant: enough for several pages of every list.
const DEMO_USERS: u32 = 400;
const NEW_ADMIN_PASSWORD: &str = "a browser-tested passphrase";
const READER: &str = "reader";
const READER_PASSWORD: &str = "reader passphrase for the journeys";

const LAPTOP: (u32, u32) = (1366, 900);
const PHONE: (u32, u32) = (390, 844);

#[actix_rt::test]
async fn journeys_on_sqlite() {
    journeys(Backend::Sqlite, Scripting::On).await
}

#[actix_rt::test]
async fn journeys_on_sqlite_without_javascript() {
    journeys(Backend::Sqlite, Scripting::Off).await
}

#[actix_rt::test]
async fn journeys_on_postgres() {
    journeys(Backend::Postgres, Scripting::On).await
}

#[actix_rt::test]
async fn journeys_on_postgres_without_javascript() {
    journeys(Backend::Postgres, Scripting::Off).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scripting {
    On,
    Off,
}

async fn journeys(backend: Backend, scripting: Scripting) {
    let run = Run::start(backend, scripting);
    run.javascript_is(scripting).await;
    sign_in(&run).await;
    overview_tiles_and_charts(&run).await;
    capable_tile_leads_to_capable_users(&run).await;
    filters_update_url_and_rows(&run).await;
    paging_next_and_back(&run).await;
    chart_bar_leads_to_reset_details(&run).await;
    method_bar_leads_to_its_users(&run).await;
    trends_compare_with_a_day(&run).await;
    usage_view(&run).await;
    csv_downloads_match_counts(&run).await;
    subscribe_to_a_list(&run).await;
    policy_change_moves_the_overview(&run).await;
    import_upload(&run).await;
    reader_sees_no_admin(&run).await;
    sign_out(&run).await;
    screenshots(&run).await;
}

// ---------------------------------------------------------------------------
// The journeys

/// A wrong password is refused on the sign-in page; the demo's one-time
/// password leads to the password change, and then to the overview.
async fn sign_in(run: &Run) {
    let b = run.browser(LAPTOP).await;
    b.goto(&run.url("/registrations")).await.unwrap();
    assert_eq!(
        b.current_url().await.unwrap().path(),
        "/sign-in",
        "a visitor is sent to the sign-in page"
    );
    fill_sign_in(&b, "admin", "not the password").await;
    assert_eq!(b.current_url().await.unwrap().path(), "/sign-in");
    assert_eq!(
        text(&b, ".form-error").await,
        "The account name or password is wrong."
    );
    assert!(
        b.find(Locator::Css(".account-name")).await.is_err(),
        "no one is signed in after a wrong password"
    );

    fill_sign_in(&b, "admin", &run.portal.one_time_password).await;
    assert_eq!(
        b.current_url().await.unwrap().path(),
        "/account/password",
        "a one-time password must be changed first"
    );
    fill(&b, "current", &run.portal.one_time_password).await;
    fill(&b, "new", NEW_ADMIN_PASSWORD).await;
    fill(&b, "repeat", NEW_ADMIN_PASSWORD).await;
    submit(&b, "#change-password").await;
    assert_eq!(text(&b, ".account-name").await, "admin");
    assert_eq!(text(&b, ".account-role").await, "Global Administrator");
    // The page asked for at the start is the one shown now.
    assert_eq!(b.current_url().await.unwrap().path(), "/registrations");
    assert_eq!(text(&b, "h1").await, "Registration details");
    assert!(text(&b, ".notice")
        .await
        .contains("Your password was changed"));
    b.close().await.unwrap();
}

/// The overview shows the three status tiles and both charts, each chart
/// with bars that link to events and a table with the same numbers.
async fn overview_tiles_and_charts(run: &Run) {
    let b = run.admin(LAPTOP).await;
    b.goto(&run.url("/")).await.unwrap();
    assert_eq!(text(&b, "h1").await, "Usage & insights");
    let titles = texts(&b, ".tile .tile-title").await;
    assert_eq!(
        titles,
        [
            "Users registered",
            "Users enabled",
            "Users capable",
            "Capable of multifactor authentication",
            "Capable of passwordless sign-in"
        ],
        "the three status tiles, then MFA and passwordless"
    );
    for count in texts(&b, ".tile .tile-count").await {
        assert!(number(&count) > 0, "a tile shows a count, not {count:?}");
    }
    for (chart, title) in [
        ("#chart-registrations", "Registrations"),
        ("#chart-resets", "Resets"),
    ] {
        let figure = b.find(Locator::Css(chart)).await.unwrap();
        let heading = figure.find(Locator::Css("h2")).await.unwrap();
        assert_eq!(heading.text().await.unwrap(), title);
        assert!(figure
            .find(Locator::Css("svg.chart-svg"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap());
        let bars = figure
            .find_all(Locator::Css("svg a.bar-link"))
            .await
            .unwrap();
        assert!(bars.len() >= 4, "{chart} draws bars, found {}", bars.len());
        for bar in &bars {
            let href = bar.attr("href").await.unwrap().unwrap();
            assert!(
                href.starts_with("/activity?"),
                "a bar links to events: {href}"
            );
        }
        let rows = figure
            .find_all(Locator::Css("table.chart-table tbody tr"))
            .await
            .unwrap();
        assert_eq!(
            rows.len() * 2,
            bars.len(),
            "{chart}: a table row per method"
        );
    }
    b.close().await.unwrap();
}

/// The Users capable tile lands on registration details filtered to capable
/// users, with the tile's count.
async fn capable_tile_leads_to_capable_users(run: &Run) {
    let b = run.admin(LAPTOP).await;
    b.goto(&run.url("/")).await.unwrap();
    let tile = tile(&b, "Users capable").await;
    let count = number(
        &tile
            .find(Locator::Css(".tile-count"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    open(&b, tile).await;
    let url = b.current_url().await.unwrap();
    assert_eq!(url.path(), "/registrations");
    assert_eq!(query(&url, "capable").as_deref(), Some("yes"));
    assert_eq!(
        match_count(&b).await,
        count,
        "the list counts what the tile does"
    );
    assert_eq!(selected(&b, "capable").await, "yes");
    let capable = column(&b, "c-capable").await;
    assert!(!capable.is_empty());
    assert!(
        capable.iter().all(|c| c == "Yes"),
        "only capable users: {capable:?}"
    );
    b.close().await.unwrap();
}

/// Choosing filters and applying them puts them in the address and narrows
/// the rows; loading that address again shows the same page.
async fn filters_update_url_and_rows(run: &Run) {
    let b = run.admin(LAPTOP).await;
    b.goto(&run.url("/registrations")).await.unwrap();
    let all = match_count(&b).await;
    assert_eq!(all, 400, "every demo user is listed without filters");
    choose(&b, "enabled", "yes").await;
    choose(&b, "registered", "no").await;
    b.find(Locator::Css("input[name=method][value=mobile_sms]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    submit(&b, "form.filters").await;

    let url = b.current_url().await.unwrap();
    assert_eq!(url.path(), "/registrations");
    assert_eq!(query(&url, "enabled").as_deref(), Some("yes"));
    assert_eq!(query(&url, "registered").as_deref(), Some("no"));
    assert_eq!(query(&url, "method").as_deref(), Some("mobile_sms"));
    let filtered = match_count(&b).await;
    assert!(
        filtered > 0 && filtered < all,
        "the filters narrow 400 users to {filtered}"
    );
    let names = column(&b, "c-name").await;
    assert_eq!(names.len() as i64, filtered.min(50));
    assert!(column(&b, "c-registered").await.iter().all(|c| c == "No"));
    assert!(column(&b, "c-enabled").await.iter().all(|c| c == "Yes"));
    assert!(
        column(&b, "c-methods")
            .await
            .iter()
            .all(|m| m.split(", ").any(|x| x == "SMS")),
        "every row has the method chosen"
    );
    assert!(b.find(Locator::LinkText("Clear filters")).await.is_ok());

    b.refresh().await.unwrap();
    assert_eq!(b.current_url().await.unwrap(), url);
    assert_eq!(match_count(&b).await, filtered);
    assert_eq!(column(&b, "c-name").await, names);
    assert_eq!(selected(&b, "enabled").await, "yes");
    assert_eq!(selected(&b, "registered").await, "no");
    let sms = b
        .find(Locator::Css("input[name=method][value=mobile_sms]"))
        .await
        .unwrap();
    assert_eq!(sms.prop("checked").await.unwrap().as_deref(), Some("true"));

    // The same address opened afresh, as a bookmark would be.
    let other = run.admin(LAPTOP).await;
    other.goto(url.as_str()).await.unwrap();
    assert_eq!(column(&other, "c-name").await, names);
    other.close().await.unwrap();

    open(
        &b,
        b.find(Locator::LinkText("Clear filters")).await.unwrap(),
    )
    .await;
    assert_eq!(match_count(&b).await, all);
    b.close().await.unwrap();
}

/// Next and Previous move through the pages without repeating or losing a
/// row, and the browser's Back button returns to the page before.
async fn paging_next_and_back(run: &Run) {
    let b = run.admin(LAPTOP).await;
    b.goto(&run.url("/registrations?size=25")).await.unwrap();
    assert!(
        b.find(Locator::Css("a[rel=prev]")).await.is_err(),
        "no Previous on page one"
    );
    let first = column(&b, "c-name").await;
    assert_eq!(first.len(), 25);
    open(&b, b.find(Locator::Css("a[rel=next]")).await.unwrap()).await;
    let second_url = b.current_url().await.unwrap();
    assert!(
        query(&second_url, "after").is_some(),
        "page two has a position: {second_url}"
    );
    assert_eq!(query(&second_url, "size").as_deref(), Some("25"));
    let second = column(&b, "c-name").await;
    assert_eq!(second.len(), 25);
    let links = b.find_all(Locator::Css("td.c-name a")).await.unwrap();
    let mut hrefs = Vec::new();
    for l in &links {
        hrefs.push(l.attr("href").await.unwrap().unwrap());
    }
    b.goto(&run.url("/registrations?size=50")).await.unwrap();
    let fifty = b.find_all(Locator::Css("td.c-name a")).await.unwrap();
    let mut expected = Vec::new();
    for l in fifty.iter().skip(25) {
        expected.push(l.attr("href").await.unwrap().unwrap());
    }
    assert_eq!(hrefs, expected, "page two of 25 is rows 26–50");
    b.back().await.unwrap();
    assert_eq!(b.current_url().await.unwrap(), second_url);

    open(&b, b.find(Locator::Css("a[rel=prev]")).await.unwrap()).await;
    assert_eq!(
        column(&b, "c-name").await,
        first,
        "Previous returns to page one"
    );
    b.back().await.unwrap();
    assert_eq!(
        column(&b, "c-name").await,
        second,
        "Back returns to page two"
    );
    b.close().await.unwrap();
}

/// A bar of the resets chart lands on reset details with its method and
/// status chosen, and as many events as the bar shows.
async fn chart_bar_leads_to_reset_details(run: &Run) {
    let b = run.admin(LAPTOP).await;
    b.goto(&run.url("/")).await.unwrap();
    let bar = chart_bar(&b, "#chart-resets", "failure").await;
    let href = bar.attr("href").await.unwrap().unwrap();
    let count = bar_count(&bar).await;
    let method = query_of(&href, "method").unwrap();
    open(&b, bar).await;

    let url = b.current_url().await.unwrap();
    assert_eq!(url.path(), "/activity");
    assert_eq!(query(&url, "feature").as_deref(), Some("reset"));
    assert_eq!(query(&url, "method").as_deref(), Some(method.as_str()));
    assert_eq!(query(&url, "status").as_deref(), Some("failure"));
    assert_eq!(selected(&b, "feature").await, "reset");
    assert_eq!(selected(&b, "method").await, method);
    assert_eq!(selected(&b, "status").await, "failure");
    assert_eq!(
        event_count(&b).await,
        count,
        "the list has the bar's {count} events"
    );
    let statuses = column(&b, "c-status").await;
    assert!(!statuses.is_empty());
    assert!(statuses.iter().all(|s| s == "Failure"), "{statuses:?}");
    assert!(column(&b, "c-feature").await.iter().all(|f| f == "Reset"));
    let label = selected_label(&b, "method").await;
    assert!(column(&b, "c-method").await.iter().all(|m| *m == label));
    b.close().await.unwrap();
}

/// A bar of "Users registered by authentication method" opens the users who
/// registered that method, as many as the bar says.
async fn method_bar_leads_to_its_users(run: &Run) {
    let b = run.admin(LAPTOP).await;
    b.goto(&run.url("/")).await.unwrap();
    let figure = b.find(Locator::Css("#chart-methods")).await.unwrap();
    let bars = figure
        .find_all(Locator::Css("svg a.bar-link"))
        .await
        .unwrap();
    assert_eq!(bars.len(), 19, "a bar per method of the catalogue");
    let bar = bars.into_iter().next().unwrap();
    let href = bar.attr("href").await.unwrap().unwrap();
    assert_eq!(href, "/registrations?method=app_notification");
    let count = bar_count(&bar).await;
    assert!(count > 0);
    open(&b, bar).await;
    let url = b.current_url().await.unwrap();
    assert_eq!(url.path(), "/registrations");
    assert_eq!(match_count(&b).await, count);
    b.close().await.unwrap();
}

/// A filtered list's Subscribe link opens the form for that view; saving
/// it leads to the subscription's page, listed under Subscriptions.
async fn subscribe_to_a_list(run: &Run) {
    let b = run.admin(LAPTOP).await;
    b.goto(&run.url("/registrations?capable=no")).await.unwrap();
    let link = b.find(Locator::Css("a.subscribe")).await.unwrap();
    open(&b, link).await;
    let url = b.current_url().await.unwrap();
    assert_eq!(url.path(), "/subscriptions/new");
    let query = b
        .find(Locator::Css("input[name=view_query]"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(query.as_deref(), Some("capable=no"));
    fill(&b, "name", "Not capable, weekly").await;
    fill(&b, "destination", "security-team@example.org").await;
    choose(&b, "frequency", "weekly").await;
    choose(&b, "weekday", "monday").await;
    choose(&b, "hour", "7").await;
    fill(&b, "time_zone", "Europe/Berlin").await;
    submit(&b, "#subscription-form").await;
    let url = b.current_url().await.unwrap();
    assert!(url.path().starts_with("/subscriptions/"), "{url}");
    assert_eq!(text(&b, "h1").await, "Not capable, weekly");
    assert!(text(&b, "#status")
        .await
        .contains("Weekly on Monday at 07:00 (Europe/Berlin)"));
    b.goto(&run.url("/subscriptions")).await.unwrap();
    assert!(texts(&b, "#subscriptions td a")
        .await
        .contains(&"Not capable, weekly".to_string()));
    b.close().await.unwrap();
}

/// From the overview to the trends, at laptop and phone width: a panel per
/// figure, a comparison with the history's first day that lists as many users as it
/// counts, and another figure chosen in the form.
async fn trends_compare_with_a_day(run: &Run) {
    for size in [LAPTOP, PHONE] {
        let b = run.admin(size).await;
        b.goto(&run.url("/")).await.unwrap();
        let capable = tile_count(&b, "Users capable").await;
        let link = b.find(Locator::Css(".trend-link a")).await.unwrap();
        open(&b, link).await;
        assert_eq!(b.current_url().await.unwrap().path(), "/trends");
        assert_eq!(
            texts(&b, ".trend-panel h2").await,
            [
                "Registered",
                "Enabled",
                "Capable",
                "MFA capable",
                "Passwordless capable"
            ]
        );
        assert_eq!(
            number(&text(&b, "#trend-capable .trend-latest").await),
            capable
        );
        let first = b
            .find(Locator::LinkText("The first day of the history"))
            .await
            .unwrap();
        open(&b, first).await;
        let url = b.current_url().await.unwrap();
        let since = query(&url, "since").expect("a comparison day");
        assert_eq!(selected(&b, "figure").await, "capable");
        // "Since D: +N capable (A then, B now). G became capable, L stopped being capable."
        let summary = text(&b, "#since-summary").await;
        let numbers: Vec<i64> = summary
            .split(|c: char| !c.is_ascii_digit() && c != ',')
            .filter(|w| !w.is_empty() && w.chars().any(|c| c.is_ascii_digit()))
            .map(number)
            .collect();
        // The date's three parts, then N, A, B, G, L.
        let [_, _, _, change, then, now, gained, lost] = numbers[..] else {
            panic!("{summary}");
        };
        assert_eq!(now, capable, "{summary}");
        assert_eq!(now - then, change, "{summary}");
        assert_eq!(gained - lost, change, "{summary}");
        assert!(gained > 0, "the demo's campaign: {summary}");
        let rows = b
            .find_all(Locator::Css(".since table.list tbody tr"))
            .await
            .unwrap();
        assert_eq!(rows.len() as i64, (gained + lost).min(500));
        choose(&b, "figure", "mfaCapable").await;
        submit(&b, ".since form").await;
        let url = b.current_url().await.unwrap();
        assert_eq!(query(&url, "since").as_deref(), Some(since.as_str()));
        assert_eq!(query(&url, "figure").as_deref(), Some("mfaCapable"));
        assert_eq!(
            href(&b, ".since a.download").await,
            format!("/trends.csv?since={since}&figure=mfaCapable")
        );
        b.close().await.unwrap();
    }
}

/// The usage view at a laptop's and a phone's width: its four charts with
/// their tables, from the demo tenant's unlocks and sign-in summaries; a
/// column's bar leads to the reset report of that day with the bar's count.
async fn usage_view(run: &Run) {
    for size in [LAPTOP, PHONE] {
        let b = run.admin(size).await;
        b.goto(&run.url("/usage")).await.unwrap();
        assert_eq!(text(&b, "h1").await, "Usage");
        let nav = b
            .find(Locator::Css("nav.sidenav a[aria-current=page]"))
            .await
            .unwrap();
        assert_eq!(nav.text().await.unwrap(), "Usage");
        for chart in [
            "#chart-operations",
            "#chart-resets",
            "#chart-sign-ins",
            "#chart-sign-in-methods",
        ] {
            let figure = b.find(Locator::Css(chart)).await.unwrap();
            let svg = figure.find(Locator::Css("svg.chart-svg")).await.unwrap();
            assert!(svg.is_displayed().await.unwrap(), "{chart} is drawn");
            let rects = figure.find_all(Locator::Css("svg rect")).await.unwrap();
            assert!(rects.len() > 3, "{chart} has bars");
        }
        assert!(!texts(&b, "#table-sign-in-methods tbody tr")
            .await
            .is_empty());
        b.close().await.unwrap();
    }
    let b = run.admin(LAPTOP).await;
    b.goto(&run.url("/usage?range=7d")).await.unwrap();
    // The table twin's cell and the bar share their link: the cell says how many.
    let mut target = None;
    for cell in b
        .find_all(Locator::Css("#table-operations tbody td a"))
        .await
        .unwrap()
    {
        let href = cell.attr("href").await.unwrap().unwrap();
        let n = number(&cell.text().await.unwrap());
        if n > 0 && href.contains("result=succeeded") {
            target = Some((href, n));
            break;
        }
    }
    let (href, n) = target.expect("a day with successful resets or unlocks");
    let bar = b
        .find(Locator::Css(&format!("#chart-operations a[href='{href}']")))
        .await
        .unwrap();
    open(&b, bar).await;
    let url = b.current_url().await.unwrap();
    assert_eq!(url.path(), "/reports/reset-activity");
    assert_eq!(query(&url, "result").as_deref(), Some("succeeded"));
    assert_eq!(
        event_count(&b).await,
        n,
        "the report has the bar's {n} rows"
    );
    b.close().await.unwrap();
}

/// The Download CSV link of a filtered list gives a file with one row per
/// user or event the page counts.
async fn csv_downloads_match_counts(run: &Run) {
    let b = run.admin(LAPTOP).await;
    b.goto(&run.url("/registrations?registered=no&admin=no"))
        .await
        .unwrap();
    let count = match_count(&b).await;
    assert!(count > 50, "more than one page of users: {count}");
    let (header, rows) = run.download(&b, "registration-details-").await;
    assert_eq!(
        rows.len() as i64,
        count,
        "the CSV has a row per user counted"
    );
    let registered = header.iter().position(|h| h == "Registered").unwrap();
    let admin = header.iter().position(|h| h == "Admin").unwrap();
    assert!(rows
        .iter()
        .all(|r| &r[registered] == "No" && &r[admin] == "No"));

    b.goto(&run.url("/activity?feature=reset&status=failure"))
        .await
        .unwrap();
    let events = event_count(&b).await;
    assert!(events > 0);
    let (header, rows) = run.download(&b, "reset-details-").await;
    assert_eq!(
        rows.len() as i64,
        events,
        "the CSV has a row per event counted"
    );
    let status = header.iter().position(|h| h == "Status").unwrap();
    assert!(rows.iter().all(|r| &r[status] == "Failure"));
    b.close().await.unwrap();
}

/// A Global Administrator widens the policy from the pilot group to all
/// users, and the overview's Users enabled figure follows at once.
async fn policy_change_moves_the_overview(run: &Run) {
    let b = run.admin(LAPTOP).await;
    b.goto(&run.url("/")).await.unwrap();
    let total = number(&text(&b, ".lede").await);
    let before = tile_count(&b, "Users enabled").await;
    assert!(
        before < total,
        "the demo policy enables a group: {before} of {total}"
    );

    open(&b, b.find(Locator::LinkText("Admin")).await.unwrap()).await;
    open(
        &b,
        b.find(Locator::Css("a[href='/admin/policy']"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(text(&b, "h1").await, "SSPR policy");
    b.find(Locator::Css("input[name=scope][value=all]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    submit(&b, "#policy").await;
    let notice = text(&b, ".notice").await;
    assert!(
        notice.starts_with("Policy saved."),
        "the change is confirmed: {notice}"
    );

    b.goto(&run.url("/")).await.unwrap();
    let after = tile_count(&b, "Users enabled").await;
    assert!(after > before, "Users enabled rises from {before}: {after}");
    open(&b, tile(&b, "Users enabled").await).await;
    assert_eq!(match_count(&b).await, after);
    b.close().await.unwrap();
}

/// A Global Administrator uploads a users file with a bad line: the page
/// names the file, the line and the reason, and nothing is stored. The
/// corrected file is stored, and the overview counts its users at once.
async fn import_upload(run: &Run) {
    let b = run.admin(LAPTOP).await;
    b.goto(&run.url("/")).await.unwrap();
    let before = number(&text(&b, ".lede").await);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upload");
    let upload = |file: &'static str| {
        let path = fixtures.join(file);
        let b = &b;
        async move {
            b.goto(&run.url("/admin/imports")).await.unwrap();
            choose(b, "kind", "users").await;
            b.find(Locator::Css("#upload input[name=files]"))
                .await
                .unwrap()
                .send_keys(path.to_str().unwrap())
                .await
                .unwrap();
            submit(b, "#upload").await;
        }
    };

    upload("users_bad_line3.csv").await;
    let error = text(&b, "#import-error").await;
    assert!(error.contains("nothing of it was stored"), "{error}");
    assert!(
        error.contains("users_bad_line3.csv"),
        "the file is named: {error}"
    );
    assert!(error.contains("line 3"), "the line is named: {error}");
    assert!(error.contains("user_type"), "the field is named: {error}");
    b.goto(&run.url("/")).await.unwrap();
    assert_eq!(
        number(&text(&b, ".lede").await),
        before,
        "nothing was stored"
    );

    upload("users_more.csv").await;
    let notice = text(&b, ".notice").await;
    assert!(notice.contains("is stored"), "{notice}");
    let summary = b
        .find(Locator::Css("#import-summary tbody tr"))
        .await
        .unwrap();
    let cells = summary.find_all(Locator::Css("td")).await.unwrap();
    assert_eq!(cells[0].text().await.unwrap(), "2", "two users inserted");
    b.goto(&run.url("/")).await.unwrap();
    assert_eq!(number(&text(&b, ".lede").await), before + 2);
    b.close().await.unwrap();
}

/// A Reports Reader sees the reports but no Admin link, and an admin address
/// answers with the 403 page.
async fn reader_sees_no_admin(run: &Run) {
    let b = run.browser(LAPTOP).await;
    b.goto(&run.url("/reports/reset-activity?result=blocked"))
        .await
        .unwrap();
    fill_sign_in(&b, READER, READER_PASSWORD).await;
    assert_eq!(text(&b, ".account-role").await, "Reports Reader");
    let url = b.current_url().await.unwrap();
    assert_eq!(
        (url.path(), url.query()),
        ("/reports/reset-activity", Some("result=blocked")),
        "signing in leads to the page asked for"
    );
    assert_eq!(selected(&b, "result").await, "blocked");
    let nav = texts(&b, ".sidenav a").await;
    assert!(nav.contains(&"Overview".to_string()), "{nav:?}");
    assert!(
        !nav.iter().any(|n| n.contains("Admin")),
        "no Admin link: {nav:?}"
    );
    assert!(b.find(Locator::Css("a[href^='/admin']")).await.is_err());
    for path in ["/admin", "/admin/policy", "/admin/accounts"] {
        b.goto(&run.url(path)).await.unwrap();
        assert_eq!(text(&b, ".status").await, "Error 403", "{path}");
        assert!(text(&b, ".error-message")
            .await
            .contains("Only a Global Administrator"));
    }
    b.close().await.unwrap();
}

/// Signing out ends the session: the next page asks for a sign-in again.
async fn sign_out(run: &Run) {
    let b = run.admin(LAPTOP).await;
    b.goto(&run.url("/activity")).await.unwrap();
    submit(&b, "form.sign-out").await;
    assert_eq!(b.current_url().await.unwrap().path(), "/sign-in");
    assert!(b.find(Locator::Css(".account-name")).await.is_err());
    b.goto(&run.url("/activity")).await.unwrap();
    assert_eq!(
        b.current_url().await.unwrap().path(),
        "/sign-in",
        "the session is gone"
    );
    b.close().await.unwrap();
}

/// Every page at a laptop and a phone size.
async fn screenshots(run: &Run) {
    let b = run.admin(LAPTOP).await;
    b.goto(&run.url("/registrations?admin=yes&capable=yes&size=10"))
        .await
        .unwrap();
    let user = href(&b, "td.c-name a").await;
    let trends_since = format!(
        "/trends?since={}",
        chrono::Utc::now().date_naive() - chrono::Duration::days(7)
    );
    let pages = [
        ("overview", "/"),
        ("overview-24h", "/?range=24h"),
        ("usage", "/usage"),
        ("registrations", "/registrations?enabled=yes&registered=no"),
        ("registrations-search", "/registrations?q=silva&sort=-name"),
        ("user", user.as_str()),
        (
            "activity",
            "/activity?feature=reset&status=failure&range=7d",
        ),
        ("trends", "/trends"),
        ("trends-since", trends_since.as_str()),
        ("registration-activity", "/reports/registration-activity"),
        ("reset-activity", "/reports/reset-activity?result=failed"),
        ("empty", "/registrations?q=nobody-by-this-name"),
        ("bad-request", "/activity?range=1y"),
        ("admin", "/admin"),
        ("policy", "/admin/policy"),
        ("accounts", "/admin/accounts"),
        ("api-keys", "/admin/api-keys"),
        ("imports", "/admin/imports"),
        ("data-sources", "/admin/data-sources"),
        ("audit", "/admin/audit"),
        (
            "subscribe",
            "/subscriptions/new?view=%2Fregistrations&query=capable%3Dno",
        ),
        ("subscriptions", "/subscriptions"),
        ("admin-subscriptions", "/admin/subscriptions"),
        ("deliveries", "/admin/deliveries"),
    ];
    for (size_name, size) in [("laptop", LAPTOP), ("phone", PHONE)] {
        for (name, path) in pages {
            b.goto(&run.url(path)).await.unwrap();
            assert!(
                b.find(Locator::Css("h1")).await.is_ok(),
                "{path} shows a page"
            );
            run.screenshot(&b, &format!("{name}-{size_name}"), size)
                .await;
            if run.scripting == Scripting::On {
                let width = b
                    .execute("return document.documentElement.scrollWidth", vec![])
                    .await
                    .unwrap();
                assert!(
                    width.as_u64().unwrap() <= u64::from(size.0),
                    "{path} fits the {size_name}'s width ({} px), not {width} px: only tables scroll sideways",
                    size.0
                );
            }
        }
    }
    b.close().await.unwrap();
    let anonymous = run.browser(LAPTOP).await;
    anonymous.goto(&run.url("/sign-in")).await.unwrap();
    for (size_name, size) in [("laptop", LAPTOP), ("phone", PHONE)] {
        run.screenshot(&anonymous, &format!("sign-in-{size_name}"), size)
            .await;
    }
    anonymous.close().await.unwrap();
}

// ---------------------------------------------------------------------------
// Reading and filling pages

/// The link of the first element `css` finds.
async fn href(b: &Client, css: &str) -> String {
    let element = b
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} is on the page: {e}"));
    element
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{css} has a link"))
}

async fn text(b: &Client, css: &str) -> String {
    let element = b
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} is on the page: {e}"));
    element.text().await.unwrap().trim().to_string()
}

async fn texts(b: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in b.find_all(Locator::Css(css)).await.unwrap() {
        out.push(e.text().await.unwrap().trim().to_string());
    }
    out
}

/// The text of one column of the list on the page (`c-name`, `c-status`, …).
async fn column(b: &Client, class: &str) -> Vec<String> {
    texts(b, &format!("table.list tbody td.{class}")).await
}

/// The first number in `text`, without thousands separators.
fn number(text: &str) -> i64 {
    let digits: String = text
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(|c| c.is_ascii_digit())
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("a number in {text:?}"))
}

async fn match_count(b: &Client) -> i64 {
    number(&text(b, "#match-count strong").await)
}

async fn event_count(b: &Client) -> i64 {
    number(&text(b, "#match-count").await)
}

async fn tile(b: &Client, title: &str) -> Element {
    for t in b.find_all(Locator::Css("a.tile")).await.unwrap() {
        let heading = t.find(Locator::Css(".tile-title")).await.unwrap();
        if heading.text().await.unwrap().trim() == title {
            return t;
        }
    }
    panic!("no tile titled {title}");
}

async fn tile_count(b: &Client, title: &str) -> i64 {
    let t = tile(b, title).await;
    number(
        &t.find(Locator::Css(".tile-count"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
}

/// The first bar of `status` in a chart that has events behind it.
async fn chart_bar(b: &Client, chart: &str, status: &str) -> Element {
    let figure = b.find(Locator::Css(chart)).await.unwrap();
    for bar in figure.find_all(Locator::Css("a.bar-link")).await.unwrap() {
        let href = bar.attr("href").await.unwrap().unwrap();
        if query_of(&href, "status").as_deref() == Some(status) && bar_count(&bar).await > 0 {
            return bar;
        }
    }
    panic!("{chart} has no {status} bar with events");
}

/// The number a chart bar shows beside it.
async fn bar_count(bar: &Element) -> i64 {
    let text = bar.find(Locator::Css("text.bar-count")).await.unwrap();
    number(&text.text().await.unwrap())
}

async fn selected(b: &Client, name: &str) -> String {
    let select = b
        .find(Locator::Css(&format!("select[name={name}]")))
        .await
        .unwrap_or_else(|e| panic!("the page has a {name} select: {e}"));
    select.prop("value").await.unwrap().unwrap_or_default()
}

async fn selected_label(b: &Client, name: &str) -> String {
    text(b, &format!("select[name={name}] option:checked")).await
}

async fn choose(b: &Client, name: &str, value: &str) {
    b.find(Locator::Css(&format!("select[name={name}]")))
        .await
        .unwrap()
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("{name} offers {value}: {e}"));
}

async fn fill(b: &Client, name: &str, value: &str) {
    let input = b
        .find(Locator::Css(&format!("input[name={name}]")))
        .await
        .unwrap_or_else(|e| panic!("a field {name}: {e}"));
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
}

/// Submits a form by its submit button, as a person would, and waits for
/// the page that answers.
async fn submit(b: &Client, form: &str) {
    let button = b
        .find(Locator::Css(&format!(
            "{form} button[type=submit], {form} button:not([type])"
        )))
        .await
        .unwrap_or_else(|e| panic!("{form} has a submit button: {e}"));
    open(b, button).await;
}

/// Clicks a link or button that loads another page, and waits until the
/// page it was on is gone (a click may return before the navigation starts;
/// the next command then waits for the new page to load).
async fn open(b: &Client, target: Element) {
    let before = b.find(Locator::Css("html")).await.unwrap();
    target.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while before.tag_name().await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "clicking left {} unchanged for 30 s",
            b.current_url().await.unwrap()
        );
        actix_rt::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn fill_sign_in(b: &Client, name: &str, password: &str) {
    fill(b, "username", name).await;
    fill(b, "password", password).await;
    submit(b, "#sign-in").await;
}

fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn query_of(href: &str, name: &str) -> Option<String> {
    query(
        &url::Url::parse("http://x").unwrap().join(href).unwrap(),
        name,
    )
}

// ---------------------------------------------------------------------------
// The harness: a portal, a chromedriver, and browser sessions

struct Run {
    portal: ServedDemo,
    driver: Chromedriver,
    scripting: Scripting,
    downloads: tempfile::TempDir,
    screens: PathBuf,
}

impl Run {
    fn start(backend: Backend, scripting: Scripting) -> Run {
        let name = format!(
            "{}{}",
            match backend {
                Backend::Sqlite => "sqlite",
                Backend::Postgres => "postgres",
            },
            match scripting {
                Scripting::On => "",
                Scripting::Off => "-without-javascript",
            }
        );
        let screens = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("browser")
            .join(&name);
        std::fs::create_dir_all(&screens).unwrap();
        let log = File::create(screens.join("serve.log")).unwrap();
        let portal = serve_demo(backend, DEMO_USERS, log.into());
        let reader = account_add(&portal.db, READER, "reports-reader", READER_PASSWORD);
        assert!(reader.status.success(), "the reader account is created");
        Run {
            portal,
            driver: Chromedriver::start(&screens),
            scripting,
            downloads: tempfile::tempdir().unwrap(),
            screens,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.portal.address, path)
    }

    /// A new browser window of `size`, with nobody signed in.
    async fn browser(&self, size: (u32, u32)) -> Client {
        let mut prefs = json!({
            "download.default_directory": self.downloads.path(),
            "download.prompt_for_download": false,
        });
        if self.scripting == Scripting::Off {
            prefs["profile.managed_default_content_settings.javascript"] = json!(2);
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    format!("--window-size={},{}", size.0, size.1),
                ],
                "prefs": prefs,
            }),
        );
        ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&self.driver.url)
            .await
            .unwrap_or_else(|e| panic!("chromedriver opens a Chromium session: {e}"))
    }

    /// A browser signed in as the demo's Global Administrator (after the
    /// sign-in journey changed its one-time password).
    async fn admin(&self, size: (u32, u32)) -> Client {
        let b = self.browser(size).await;
        b.goto(&self.url("/sign-in")).await.unwrap();
        fill_sign_in(&b, "admin", NEW_ADMIN_PASSWORD).await;
        assert_eq!(
            text(&b, ".account-name").await,
            "admin",
            "the admin is signed in"
        );
        b
    }

    /// Whether the browser runs scripts, shown by a `<noscript>` element: it
    /// is part of the page only when scripting is off.
    async fn javascript_is(&self, scripting: Scripting) {
        let b = self.browser(LAPTOP).await;
        b.goto("data:text/html,<noscript><p id=off>scripts are off</p></noscript>")
            .await
            .unwrap();
        let off = b.find(Locator::Id("off")).await.is_ok();
        assert_eq!(
            off,
            scripting == Scripting::Off,
            "JavaScript is {scripting:?}"
        );
        b.close().await.unwrap();
    }

    /// Clicks the page's Download CSV link and reads the file that arrives
    /// (its name starts with `prefix`); returns its records without the header.
    async fn download(
        &self,
        b: &Client,
        prefix: &str,
    ) -> (csv::StringRecord, Vec<csv::StringRecord>) {
        for old in std::fs::read_dir(self.downloads.path()).unwrap() {
            std::fs::remove_file(old.unwrap().path()).unwrap();
        }
        let link = b.find(Locator::LinkText("Download CSV")).await.unwrap();
        let href = link.attr("href").await.unwrap().unwrap();
        link.click().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let file = loop {
            let done: Vec<PathBuf> = std::fs::read_dir(self.downloads.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    let name = p.file_name().unwrap().to_string_lossy();
                    name.starts_with(prefix) && name.ends_with(".csv")
                })
                .collect();
            if let Some(file) = done.into_iter().next() {
                break file;
            }
            assert!(
                Instant::now() < deadline,
                "no {prefix}….csv downloaded from {href} within 30 s"
            );
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        };
        let mut reader = csv::Reader::from_path(&file).unwrap();
        let header = reader.headers().unwrap().clone();
        let rows = reader.records().map(|r| r.unwrap()).collect();
        (header, rows)
    }

    /// Saves the whole page, laid out at `size`'s width, as `NAME.png`.
    async fn screenshot(&self, b: &Client, name: &str, size: (u32, u32)) {
        b.set_window_size(size.0, size.1).await.unwrap();
        let body = b.find(Locator::Css("body")).await.unwrap();
        let (_, _, _, height) = body.rectangle().await.unwrap();
        // The window is taller than the page it shows by the browser's own
        // bars, so the page fits when the window is a little taller still.
        let height = (height.ceil() as u32 + 200).clamp(size.1, 8000);
        b.set_window_size(size.0, height).await.unwrap();
        let png = b.screenshot().await.unwrap();
        std::fs::write(self.screens.join(format!("{name}.png")), png).unwrap();
    }
}

/// chromedriver on a free port, in a process group of its own so that the
/// browsers it starts end with it.
struct Chromedriver {
    child: Child,
    url: String,
}

impl Chromedriver {
    fn start(logs: &Path) -> Chromedriver {
        use std::os::unix::process::CommandExt;
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: install Debian's chromium and chromium-driver \
                 (scripts/test does so with apt-get)"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                logs.join("chromedriver.log").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Chromedriver { child, url }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

type HttpConnector = hyper_util::client::legacy::connect::HttpConnector;
