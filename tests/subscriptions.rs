//! Subscriptions and alerts, end to end: made through the Subscribe form,
//! run by the portal's runner, queued in the outbox and delivered by the
//! notify worker to a real SMTP conversation (a sink started by the test)
//! or a local webhook receiver. Every test runs on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::accounts::Role;
use authinsights::config::SubscriptionSettings;
use authinsights::db::cache::CountCache;
use authinsights::db::subscriptions::{self as store, Subscription};
use authinsights::db::{self, DbConnection};
use authinsights::domain::Method;
use authinsights::web::notices::{Notices, Pass};
use chrono::{Datelike, Duration, NaiveDateTime, Timelike, Utc, Weekday};
use common::smtp::{decoded_body, header_of, parts, ReceivedMail, SmtpSink};
use common::tenant::{build_worked_example, pilot_policy, selected};
use common::webhook::Receiver;
use common::{generate_demo_into, notify_settings, texts, Backend, TestApp, ADMIN, PASSWORD};
use std::sync::Arc;

const WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// The runner of a portal, as `serve` starts it, but run by the test at
/// chosen times (`pass`); queued messages wake the app's notify worker.
fn runner(app: &TestApp, attach_max_bytes: usize) -> Arc<Notices> {
    let settings = SubscriptionSettings {
        public_url: app.address.clone(),
        attach_max_bytes,
        ..SubscriptionSettings::default()
    };
    let worker = app.worker.as_ref().map(|w| w.0.clone());
    Notices::new(
        app.pool.clone(),
        Arc::new(CountCache::default()),
        settings,
        worker.map(|w| Arc::new(move || w.wake()) as _),
    )
}

async fn notifying_app(backend: Backend, sink: Option<&SmtpSink>) -> TestApp {
    TestApp::spawn_notifying(backend, notify_settings(sink.map(SmtpSink::settings))).await
}

/// A portal with a demo tenant of `users` users (generated before it starts).
async fn demo_app(backend: Backend, sink: Option<&SmtpSink>, users: u64) -> TestApp {
    TestApp::spawn_notifying_with(
        backend,
        notify_settings(sink.map(SmtpSink::settings)),
        |conn| generate_demo_into(conn, users),
    )
    .await
}

/// Fills in the Subscribe form a list's link opens and submits it; returns
/// the new subscription's id.
async fn subscribe(
    app: &TestApp,
    client: &reqwest::Client,
    from: &str,
    fields: &[(&str, &str)],
) -> i64 {
    let form = app.get_as(client, from).await;
    assert_eq!(form.status(), 200, "the form {from} opens");
    let page = form.text().await.unwrap();
    let mut all: Vec<(String, String)> = Vec::new();
    // The form's own hidden and prefilled fields first, then the test's.
    for name in ["kind", "view_path", "view_query", "name"] {
        all.push((name.into(), common::input_value(&page, name)));
    }
    for (k, v) in fields {
        all.retain(|(n, _)| n != k);
        all.push((k.to_string(), v.to_string()));
    }
    let fields: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let response = app.post_form(client, from, "/subscriptions", &fields).await;
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    let body = response.text().await.unwrap();
    assert_eq!(status, 303, "the subscription is saved: {body}");
    location
        .unwrap()
        .trim_start_matches("/subscriptions/")
        .parse()
        .unwrap()
}

/// One gauge of `/metrics`, read with a key of the read scope.
async fn gauge(app: &TestApp, name: &str) -> i64 {
    let (_, secret) = app.with_conn(|conn| {
        db::api_keys::create_key(conn, "metrics", true, false, "test", Utc::now().naive_utc())
            .unwrap()
    });
    let text = common::metrics_text(&app.address, &secret).await;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} in {text}"))
        .parse()
        .unwrap()
}

fn stored(app: &TestApp, id: i64) -> Subscription {
    app.with_conn(|conn| store::find(conn, id).unwrap().unwrap().subscription)
}

/// The attachment of a mail: its Content-Disposition and bytes.
fn attachment(mail: &ReceivedMail) -> (String, Vec<u8>) {
    let part = parts(mail)
        .into_iter()
        .find(|p| header_of(p, "Content-Disposition").is_some_and(|d| d.starts_with("attachment")))
        .unwrap_or_else(|| panic!("an attachment in {}", mail.data));
    let disposition = header_of(&part, "Content-Disposition").unwrap();
    (disposition, decoded_body(&part))
}

fn text_of(mail: &ReceivedMail) -> String {
    let body = match mail.header("Content-Type") {
        Some(t) if t.starts_with("multipart/") => {
            let part = parts(mail)
                .into_iter()
                .find(|p| header_of(p, "Content-Type").is_some_and(|t| t.starts_with("text/plain")))
                .unwrap();
            decoded_body(&part)
        }
        _ => decoded_body(&mail.data),
    };
    String::from_utf8(body).unwrap().replace("\r\n", "\n")
}

async fn download(app: &TestApp, path: &str) -> Vec<u8> {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.bytes().await.unwrap().to_vec()
}

/// The weekly subscription to `/registrations?capable=no` sends the same
/// file as the download at that moment, at 07:00 on Mondays in its zone.
async fn weekly_report_is_the_download(backend: Backend) {
    let sink = SmtpSink::start();
    let app = demo_app(backend, Some(&sink), 300).await;
    let id = subscribe(
        &app,
        &app.client,
        "/subscriptions/new?view=%2Fregistrations&query=capable%3Dno",
        &[
            ("channel", "email"),
            ("destination", "security-team@example.org, ciso@example.org"),
            ("frequency", "weekly"),
            ("weekday", "monday"),
            ("hour", "7"),
            ("time_zone", "Europe/Berlin"),
        ],
    )
    .await;
    let s = stored(&app, id);
    assert_eq!(
        (s.view_path.as_str(), s.view_query.as_str()),
        ("/registrations", "capable=no")
    );
    let due = s.next_run_at;
    let local = due.and_utc().with_timezone(&chrono_tz::Europe::Berlin);
    assert_eq!(
        (local.weekday(), local.hour(), local.minute()),
        (Weekday::Mon, 7, 0)
    );
    assert!(due > Utc::now().naive_utc() && due <= Utc::now().naive_utc() + Duration::days(7));

    // Not due yet: nothing happens.
    let runs = runner(&app, 5 * 1024 * 1024);
    assert_eq!(
        runs.pass(due - Duration::seconds(1)).unwrap(),
        Pass::default()
    );

    let expected = download(&app, "/registrations.csv?capable=no").await;
    let pass = runs.pass(due).unwrap();
    assert_eq!(pass.queued, 1, "{pass:?}");
    let mails = sink.wait_for(1, WAIT);
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.to, ["security-team@example.org", "ciso@example.org"]);
    let (name, file) = attachment(mail);
    let file_name = format!("registration-details-{}.csv", Utc::now().date_naive());
    assert!(
        name.starts_with("attachment") && name.contains(&file_name),
        "{name}"
    );
    assert_eq!(
        file, expected,
        "the attachment is the download, byte for byte"
    );
    let rows = expected.split(|b| *b == b'\n').count() - 2;
    let text = text_of(mail);
    assert!(
        text.contains(&format!("Registration details lists {rows} users")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{}/registrations?capable=no", app.address)),
        "{text}"
    );
    assert!(mail
        .header("Subject")
        .unwrap()
        .contains(&format!("{rows} users")));

    // The next run is a week later; running the same occurrence again sends nothing.
    let after = stored(&app, id);
    assert_eq!(after.next_run_at, due + Duration::days(7));
    assert!(after.last_result.as_deref().unwrap().starts_with("Queued"));
    assert_eq!(runs.pass(due).unwrap().queued, 0);

    // Send now: the next look sends it, and the schedule carries on.
    let now = app
        .post_form(
            &app.client,
            &format!("/subscriptions/{id}"),
            &format!("/subscriptions/{id}/run"),
            &[],
        )
        .await;
    assert_eq!(now.status(), 303);
    let at = Utc::now().naive_utc();
    assert_eq!(runs.pass(at).unwrap().queued, 1);
    assert_eq!(sink.wait_for(2, WAIT).len(), 2);
    // The schedule carries on from now: the next Monday's run still comes.
    assert_eq!(stored(&app, id).next_run_at, due);

    // The subscription's page and the lists show what happened.
    let page = app
        .get(&format!("/subscriptions/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(texts(&page, ".delivery")[0].starts_with("sent "), "{page}");
    let mine = app.get("/subscriptions").await.text().await.unwrap();
    assert!(
        mine.contains("Weekly on Monday at 07:00 (Europe/Berlin)"),
        "{mine}"
    );
    let all = app.get("/admin/subscriptions").await.text().await.unwrap();
    assert!(all.contains(ADMIN), "the owner is listed: {all}");
}
db_test!(weekly_report, weekly_report_is_the_download);

/// Runs across a daylight-saving change stay at the zone's 07:00, in two zones.
async fn schedules_follow_the_wall_clock(backend: Backend) {
    let receiver = Receiver::start(0);
    let app = notifying_app(backend, None).await;
    let mut ids = Vec::new();
    for zone in ["Europe/Berlin", "America/New_York"] {
        ids.push((
            zone,
            subscribe(
                &app,
                &app.client,
                "/subscriptions/new?view=%2Freports%2Freset-activity",
                &[
                    ("name", zone),
                    ("channel", "webhook"),
                    ("destination", &receiver.url),
                    ("frequency", "weekly"),
                    ("weekday", "monday"),
                    ("hour", "7"),
                    ("time_zone", zone),
                    ("webhook_rows", "0"),
                ],
            )
            .await,
        ));
    }
    let runs = runner(&app, 1024);
    // Run every occurrence up to mid-April next year: through both zones'
    // spring changes (New York's two weeks before Berlin's).
    let until = chrono::NaiveDate::from_ymd_opt(Utc::now().year() + 1, 4, 15)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let mut seen: Vec<(&str, NaiveDateTime)> = Vec::new();
    loop {
        let next = ids
            .iter()
            .map(|(zone, id)| (*zone, stored(&app, *id).next_run_at))
            .min_by_key(|(_, at)| *at)
            .unwrap();
        if next.1 > until {
            break;
        }
        runs.pass(next.1).unwrap();
        seen.push(next);
    }
    for zone in ["Europe/Berlin", "America/New_York"] {
        let tz: chrono_tz::Tz = zone.parse().unwrap();
        let times: Vec<NaiveDateTime> = seen.iter().filter(|s| s.0 == zone).map(|s| s.1).collect();
        assert!(times.len() >= 15, "{zone}: {times:?}");
        let offsets: std::collections::BTreeSet<i64> = times
            .iter()
            .map(|t| {
                let local = t.and_utc().with_timezone(&tz);
                assert_eq!(
                    (local.weekday(), local.hour()),
                    (Weekday::Mon, 7),
                    "{zone} {t}"
                );
                (local.naive_local() - *t).num_hours()
            })
            .collect();
        assert_eq!(offsets.len(), 2, "{zone}: runs on both sides of the change");
        for pair in times.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap == Duration::days(7) || gap == Duration::days(7) - Duration::hours(1),
                "{zone}: {pair:?}"
            );
        }
    }
    // One webhook per run, each signed and named by its run.
    let requests = receiver.wait_for(seen.len(), WAIT);
    assert_eq!(requests.len(), seen.len());
    let keys: std::collections::BTreeSet<&str> = requests
        .iter()
        .map(|r| r.header("x-authinsights-delivery").unwrap())
        .collect();
    assert_eq!(keys.len(), seen.len(), "every run is its own delivery");
}
db_test!(daylight_saving, schedules_follow_the_wall_clock);

fn hmac_hex(secret: &str, text: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    ring::hmac::sign(&key, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A webhook gets the view's API address, count and first rows, signed with
/// the secret its page shows; a receiver that fails at first gets it once.
async fn webhook_report(backend: Backend) {
    let receiver = Receiver::start(2);
    let app = demo_app(backend, None, 200).await;
    let id = subscribe(
        &app,
        &app.client,
        "/subscriptions/new?view=%2Factivity&query=status%3Dfailure",
        &[
            ("channel", "webhook"),
            ("destination", &receiver.url),
            ("frequency", "daily"),
            ("hour", "6"),
            ("time_zone", "UTC"),
            ("webhook_rows", "3"),
        ],
    )
    .await;
    let page = app
        .get(&format!("/subscriptions/{id}"))
        .await
        .text()
        .await
        .unwrap();
    let secret = texts(&page, "#secret code")[0].clone();
    let due = stored(&app, id).next_run_at;
    let expected = download(&app, "/activity.csv?status=failure").await;
    assert_eq!(runner(&app, 1024).pass(due).unwrap().queued, 1);

    let requests = receiver.wait_for(3, WAIT);
    assert_eq!(requests.len(), 3, "two failures, then delivered once");
    assert_eq!(receiver.delivered().len(), 1);
    let hook = &receiver.delivered()[0];
    let timestamp = hook.header("x-authinsights-timestamp").unwrap();
    assert_eq!(
        hook.header("x-authinsights-signature").unwrap(),
        format!(
            "sha256={}",
            hmac_hex(&secret, &format!("{timestamp}.{}", hook.body))
        )
    );
    let body: serde_json::Value = serde_json::from_str(&hook.body).unwrap();
    assert_eq!(body["type"], "subscription.report");
    assert_eq!(
        body["view"]["apiUrl"],
        format!("{}/api/v1/activity?status=failure", app.address)
    );
    // The count and rows are the download's.
    let mut csv = csv::Reader::from_reader(&expected[3..]);
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    let records: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert!(records.len() > 3, "the demo has failures");
    assert_eq!(body["count"], records.len());
    assert_eq!(body["rows"].as_array().unwrap().len(), 3);
    for (row, record) in body["rows"].as_array().unwrap().iter().zip(&records) {
        for (column, cell) in header.iter().zip(record.iter()) {
            assert_eq!(row[column], cell, "{column}");
        }
    }
    // The API gives the same count.
    let api = common::api::Api::new(&app);
    let (status, listed) = api.get("/api/v1/activity?status=failure").await;
    assert_eq!(status, 200);
    assert_eq!(listed["count"], records.len());
}
db_test!(webhook, webhook_report);

fn set_methods(conn: &mut DbConnection, id: &str, methods: &[Method]) {
    let now = Utc::now().naive_utc();
    let list: Vec<(Method, Option<NaiveDateTime>)> =
        methods.iter().map(|m| (*m, Some(now))).collect();
    db::directory::set_user_methods(conn, &pilot_policy(selected()), id, &list, now).unwrap();
}

async fn admins_not_capable(app: &TestApp) -> i64 {
    let api = common::api::Api::new(app);
    let (status, body) = api.get("/api/v1/registrations?admin=yes&capable=no").await;
    assert_eq!(status, 200);
    body["count"].as_i64().unwrap()
}

/// An alert fires once when an administrator stops being capable, and once
/// when it clears; nothing in between, however often it is checked.
async fn alert_fires_and_clears(backend: Backend) {
    let sink = SmtpSink::start();
    let app = notifying_app(backend, Some(&sink)).await;
    app.with_conn(|conn| {
        build_worked_example(conn);
        // Every administrator capable to begin with.
        set_methods(conn, "u-gus", &[Method::AppNotification, Method::Email]);
    });
    assert_eq!(admins_not_capable(&app).await, 0);
    let page = app.get("/subscriptions").await.text().await.unwrap();
    let suggestion = scraper::Html::parse_document(&page)
        .select(&scraper::Selector::parse("#suggestions a").unwrap())
        .find(|a| a.text().collect::<String>() == "An administrator is not capable")
        .map(|a| a.value().attr("href").unwrap().to_string())
        .unwrap();
    let id = subscribe(
        &app,
        &app.client,
        &suggestion,
        &[
            ("channel", "email"),
            ("destination", "oncall@example.org"),
            ("condition", "above"),
            ("threshold", "0"),
            ("check_minutes", "60"),
            ("repeat_minutes", "1440"),
            ("time_zone", "UTC"),
        ],
    )
    .await;
    let runs = runner(&app, 1024);
    let now = Utc::now().naive_utc();
    let pass = runs.pass(now).unwrap();
    assert_eq!((pass.checked, pass.queued), (1, 0), "0 is not above 0");
    // Nothing changed and the hour has not passed: not checked again.
    assert_eq!(runs.pass(now).unwrap(), Pass::default());

    // Fay, an administrator, removes her e-mail: one method is not enough.
    app.with_conn(|conn| set_methods(conn, "u-fay", &[Method::AppNotification]));
    assert_eq!(admins_not_capable(&app).await, 1);
    assert_eq!(
        runs.pass(now).unwrap().queued,
        1,
        "checked at once after the change"
    );
    let mails = sink.wait_for(1, WAIT);
    let subject = mails[0].header("Subject").unwrap();
    assert_eq!(subject, "Alert: An administrator is not capable");
    let text = text_of(&mails[0]);
    assert!(
        text.contains("Registration details (admin=yes, capable=no) went from 0 to 1 users: the count is above 0."),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{}/registrations?admin=yes&capable=no",
            app.address
        )),
        "{text}"
    );

    // Still holding: more changes and checks within the repeat window send nothing.
    app.with_conn(|conn| set_methods(conn, "u-ana", &[Method::Email]));
    assert_eq!(runs.pass(now + Duration::minutes(61)).unwrap().queued, 0);
    assert_eq!(runs.pass(now + Duration::minutes(122)).unwrap().queued, 0);

    // Fay registers her e-mail again: the alert clears, once.
    app.with_conn(|conn| set_methods(conn, "u-fay", &[Method::AppNotification, Method::Email]));
    assert_eq!(runs.pass(now + Duration::minutes(123)).unwrap().queued, 1);
    assert_eq!(runs.pass(now + Duration::minutes(240)).unwrap().queued, 0);
    let mails = sink.wait_for(2, WAIT);
    assert_eq!(mails.len(), 2);
    assert_eq!(
        mails[1].header("Subject").unwrap(),
        "Cleared: An administrator is not capable"
    );
    assert!(
        text_of(&mails[1]).contains("went from 1 to 0 users"),
        "{}",
        text_of(&mails[1])
    );
    let s = stored(&app, id);
    assert!(!s.firing);
    assert_eq!(s.last_value, Some(0));
    assert_eq!(gauge(&app, "authinsights_alerts_firing").await, 0);
}
db_test!(alert, alert_fires_and_clears);

/// An alert that keeps holding says so again once its repeat window passed.
async fn alert_repeats_once_per_window(backend: Backend) {
    let receiver = Receiver::start(0);
    let app = notifying_app(backend, None).await;
    app.with_conn(build_worked_example);
    let id = subscribe(
        &app,
        &app.client,
        "/subscriptions/new?kind=alert&view=%2Fregistrations&query=capable%3Dno",
        &[
            ("channel", "webhook"),
            ("destination", &receiver.url),
            ("condition", "above"),
            ("threshold", "0"),
            ("check_minutes", "10"),
            ("repeat_minutes", "60"),
            ("time_zone", "UTC"),
        ],
    )
    .await;
    let runs = runner(&app, 1024);
    let t = Utc::now().naive_utc();
    let queued: Vec<usize> = [0, 10, 20, 59, 70, 80]
        .iter()
        .map(|m| runs.pass(t + Duration::minutes(*m)).unwrap().queued)
        .collect();
    assert_eq!(queued, [1, 0, 0, 0, 1, 0]);
    let requests = receiver.wait_for(2, WAIT);
    let types: Vec<String> = requests
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["type"].to_string())
        .collect();
    assert_eq!(types, ["\"alert.fired\"", "\"alert.repeated\""]);
    assert!(stored(&app, id).firing);
}
db_test!(alert_repeat, alert_repeats_once_per_window);

/// Two portals on one database, each with its runner and worker: a due
/// subscription and an alert are each sent exactly once.
async fn two_instances_send_once(backend: Backend) {
    let sink = SmtpSink::start();
    let app = notifying_app(backend, Some(&sink)).await;
    app.with_conn(build_worked_example);
    let report = subscribe(
        &app,
        &app.client,
        "/subscriptions/new?view=%2Fregistrations",
        &[
            ("channel", "email"),
            ("destination", "a@example.org"),
            ("frequency", "daily"),
            ("hour", "3"),
            ("time_zone", "Asia/Tokyo"),
        ],
    )
    .await;
    subscribe(
        &app,
        &app.client,
        "/subscriptions/new?kind=alert&view=%2Fregistrations&query=capable%3Dno",
        &[
            ("channel", "email"),
            ("destination", "b@example.org"),
            ("condition", "above"),
            ("threshold", "0"),
            ("time_zone", "UTC"),
        ],
    )
    .await;
    let (_second, worker) = app.second_notifying_instance(notify_settings(Some(sink.settings())));
    let first = runner(&app, 1024 * 1024);
    let second = {
        let w = worker.0.clone();
        Notices::new(
            db::pool(&app.db.url, 4),
            Arc::new(CountCache::default()),
            SubscriptionSettings::default(),
            Some(Arc::new(move || w.wake())),
        )
    };
    let due = stored(&app, report).next_run_at;
    for round in 0..3 {
        let at = due + Duration::seconds(round);
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| first.pass(at).unwrap());
            let b = s.spawn(|| second.pass(at).unwrap());
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_eq!(
            a.queued + b.queued,
            if round == 0 { 2 } else { 0 },
            "round {round}: {a:?} {b:?}"
        );
    }
    let mails = sink.wait_for(2, WAIT);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(sink.messages().len(), 2, "each sent once: {mails:?}");
}
db_test!(two_instances, two_instances_send_once);

/// A subscription whose owner may no longer read reports stops, and says why.
async fn owner_lost_the_reader_role(backend: Backend) {
    let sink = SmtpSink::start();
    let app = notifying_app(backend, Some(&sink)).await;
    app.add_account("rita", Role::ReportsReader);
    let rita = app.signed_in("rita", PASSWORD).await;
    let id = subscribe(
        &app,
        &rita,
        "/subscriptions/new?view=%2Fregistrations&query=registered%3Dno",
        &[
            ("channel", "email"),
            ("destination", "rita@example.org"),
            ("frequency", "monthly"),
            ("day", "31"),
            ("hour", "8"),
            ("time_zone", "Australia/Sydney"),
        ],
    )
    .await;
    // Rita may see hers, not the admin list; another reader may not open hers.
    assert_eq!(
        app.get_as(&rita, "/admin/subscriptions").await.status(),
        403
    );
    app.add_account("sam", Role::SecurityReader);
    let sam = app.signed_in("sam", PASSWORD).await;
    let refused = app.get_as(&sam, &format!("/subscriptions/{id}")).await;
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("belongs to rita"));
    let pause = app
        .post_form(
            &sam,
            "/subscriptions",
            &format!("/subscriptions/{id}/pause"),
            &[],
        )
        .await;
    assert_eq!(pause.status(), 403, "a reader cannot pause another's");

    let account = app.with_conn(|conn| {
        db::accounts::find_by_username(conn, "rita")
            .unwrap()
            .unwrap()
            .id
    });
    let disabled = app
        .post_form(
            &app.client,
            "/admin/accounts",
            &format!("/admin/accounts/{account}/disable"),
            &[],
        )
        .await;
    assert_eq!(disabled.status(), 303);
    let due = stored(&app, id).next_run_at;
    let pass = runner(&app, 1024).pass(due).unwrap();
    assert_eq!((pass.paused, pass.queued), (1, 0));
    let s = stored(&app, id);
    assert_eq!(s.state, "paused");
    assert_eq!(
        s.paused_reason.as_deref(),
        Some("Its owner, rita, may no longer read reports: the account is disabled.")
    );
    let all = app.get("/admin/subscriptions").await.text().await.unwrap();
    assert!(
        all.contains("Paused: Its owner, rita, may no longer read reports"),
        "{all}"
    );
    let audit = app.get("/admin/audit").await.text().await.unwrap();
    assert!(audit.contains("Subscription paused"), "{audit}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(sink.messages().is_empty(), "nothing is sent");
}
db_test!(owner_lost_role, owner_lost_the_reader_role);

/// A view that no longer works (its dates fell out of the data kept) pauses
/// the subscription with the page's own reason; resuming after fixing it works.
async fn invalid_view_pauses(backend: Backend) {
    let sink = SmtpSink::start();
    let app = notifying_app(backend, Some(&sink)).await;
    let today = Utc::now().date_naive();
    let query = format!(
        "from={}&to={}",
        today - Duration::days(2),
        today - Duration::days(1)
    );
    let from = format!(
        "/subscriptions/new?view=%2Factivity&query={}",
        query.replace('&', "%26").replace('=', "%3D")
    );
    let id = subscribe(
        &app,
        &app.client,
        &from,
        &[
            ("channel", "email"),
            ("destination", "ops@example.org"),
            ("frequency", "daily"),
            ("hour", "0"),
            ("time_zone", "UTC"),
        ],
    )
    .await;
    let later = Utc::now().naive_utc() + Duration::days(60);
    let pass = runner(&app, 1024).pass(later).unwrap();
    assert_eq!((pass.paused, pass.queued), (1, 0));
    let reason = stored(&app, id).paused_reason.unwrap();
    assert!(
        reason.starts_with(&format!("Its view, /activity?{query}, no longer works: ")),
        "{reason}"
    );
    assert!(
        reason.contains("from"),
        "the reason names the parameter: {reason}"
    );
    let page = app
        .get(&format!("/subscriptions/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        texts(&page, "#status .state")[0].starts_with("Paused: Its view"),
        "{page}"
    );

    // Submitting a bad view is refused with the reason, and nothing is saved.
    let refused = app
        .post_form(
            &app.client,
            &from,
            "/subscriptions",
            &[
                ("kind", "report"),
                ("name", "bad"),
                ("view_path", "/registrations"),
                ("view_query", "capable=perhaps"),
                ("channel", "email"),
                ("destination", "ops@example.org"),
                ("frequency", "daily"),
                ("hour", "0"),
                ("time_zone", "UTC"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 400);
    let body = refused.text().await.unwrap();
    assert!(texts(&body, "#form-error")[0].contains("capable"), "{body}");
    let refused = app
        .post_form(
            &app.client,
            &from,
            "/subscriptions",
            &[
                ("kind", "report"),
                ("name", "bad zone"),
                ("view_path", "/registrations"),
                ("view_query", ""),
                ("channel", "email"),
                ("destination", "ops@example.org"),
                ("frequency", "daily"),
                ("hour", "0"),
                ("time_zone", "Mars/Olympus"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("time_zone"));
    let count = app.with_conn(|conn| store::list(conn, None).unwrap().len());
    assert_eq!(count, 1);
}
db_test!(invalid_view, invalid_view_pauses);

/// A report larger than the attachment limit is sent as a signed link,
/// which works only signed in, unaltered and before it expires.
async fn large_report_is_a_signed_link(backend: Backend) {
    let sink = SmtpSink::start();
    let app = demo_app(backend, Some(&sink), 200).await;
    let id = subscribe(
        &app,
        &app.client,
        "/subscriptions/new?view=%2Fregistrations",
        &[
            ("channel", "email"),
            ("destination", "big@example.org"),
            ("frequency", "daily"),
            ("hour", "5"),
            ("time_zone", "UTC"),
        ],
    )
    .await;
    let due = stored(&app, id).next_run_at;
    assert_eq!(runner(&app, 100).pass(due).unwrap().queued, 1);
    let mails = sink.wait_for(1, WAIT);
    let text = text_of(&mails[0]);
    assert!(
        mails[0]
            .header("Content-Type")
            .unwrap()
            .starts_with("text/plain"),
        "no attachment"
    );
    let link = text
        .lines()
        .find(|l| l.contains("/file?expires="))
        .unwrap_or_else(|| panic!("a link in {text}"))
        .trim()
        .to_string();
    let path = link.strip_prefix(&app.address).unwrap().to_string();
    let expected = download(&app, "/registrations.csv").await;
    assert_eq!(download(&app, &path).await, expected);
    // Not signed in: to the sign-in page.
    let anonymous = app.get_as(&app.anonymous(), &path).await;
    assert_eq!(anonymous.status(), 303);
    // Altered: refused.
    let altered = path.replace("expires=", "expires=1");
    assert_eq!(app.get(&altered).await.status(), 403);
}
db_test!(signed_link, large_report_is_a_signed_link);

/// `serve` as an operator runs it, with its SMTP settings: an alert set up
/// through the form is checked by the portal's own runner and its mail
/// delivered by the portal's own worker, with links to the public address.
async fn serve_sends_alerts_by_itself(backend: Backend) {
    let sink = SmtpSink::start();
    let db = common::TestDb::new(backend);
    build_worked_example(&mut db.connect());
    let added = common::binary::account_add(&db, "ops", "global-administrator", PASSWORD);
    assert!(added.status.success(), "{added:?}");
    let port = sink.port.to_string();
    let (_server, address, _) = common::binary::serve(
        &db,
        &[
            "--check-subscriptions-seconds",
            "1",
            "--notify-poll-ms",
            "200",
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            &port,
            "--smtp-security",
            "none",
            "--smtp-from",
            "Authinsights <reports@portal.test>",
            "--public-url",
            "https://insights.example.org/",
        ],
        std::process::Stdio::null(),
    );
    let portal = common::Remote::new(&address);
    let client = portal.signed_in("ops", PASSWORD).await;
    let form = "/subscriptions/new?kind=alert&view=%2Fregistrations&query=capable%3Dno";
    let page = portal.get_as(&client, form).await.text().await.unwrap();
    let name = common::input_value(&page, "name");
    let saved = portal
        .post_form(
            &client,
            form,
            "/subscriptions",
            &[
                ("kind", "alert"),
                ("name", &name),
                ("view_path", "/registrations"),
                ("view_query", "capable=no"),
                ("channel", "email"),
                ("destination", "oncall@example.org"),
                ("condition", "above"),
                ("threshold", "0"),
                ("time_zone", "UTC"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let mails = sink.wait_for(1, WAIT);
    assert_eq!(
        mails[0].header("Subject").unwrap(),
        format!("Alert: {name}")
    );
    let text = text_of(&mails[0]);
    assert!(
        text.contains("https://insights.example.org/registrations?capable=no"),
        "{text}"
    );
}
db_test!(serve_sends_alerts, serve_sends_alerts_by_itself);

/// A change rule compares with the check one interval earlier, not with
/// every write in between: failures that more than double over the hour
/// alert, however many writes brought them there.
async fn change_rules_compare_with_the_previous_interval(backend: Backend) {
    let receiver = Receiver::start(0);
    let app = notifying_app(backend, None).await;
    app.with_conn(build_worked_example);
    subscribe(
        &app,
        &app.client,
        "/subscriptions/new?kind=alert&view=%2Fregistrations&query=registered%3Dno",
        &[
            ("channel", "webhook"),
            ("destination", &receiver.url),
            ("condition", "rises_by_percent"),
            ("threshold", "100"),
            ("check_minutes", "60"),
            ("time_zone", "UTC"),
        ],
    )
    .await;
    let runs = runner(&app, 1024);
    let t = Utc::now().naive_utc();
    let api = common::api::Api::new(&app);
    let unregistered = || async {
        let (_, body) = api.get("/api/v1/registrations?registered=no").await;
        body["count"].as_i64().unwrap()
    };
    let before = unregistered().await;
    assert!(before > 0);
    assert_eq!(runs.pass(t).unwrap().checked, 1, "the baseline");
    // Every user loses their methods, one write at a time: each write alone
    // is a small rise, and none of them is checked on its own.
    let registered = [
        "u-ana", "u-ben", "u-cai", "u-dee", "u-eve", "u-fay", "u-gus", "u-hal", "u-ivy",
    ];
    for (i, id) in registered.iter().enumerate() {
        app.with_conn(|conn| set_methods(conn, id, &[]));
        let pass = runs.pass(t + Duration::minutes(i as i64 + 1)).unwrap();
        assert_eq!(pass, Pass::default(), "not checked at a write");
    }
    let after = unregistered().await;
    assert!(after > 2 * before, "{before} → {after}");
    assert_eq!(runs.pass(t + Duration::minutes(60)).unwrap().queued, 1);
    let requests = receiver.wait_for(1, WAIT);
    let body: serde_json::Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(body["type"], "alert.fired");
    assert_eq!(
        (body["previous"].as_i64(), body["value"].as_i64()),
        (Some(before), Some(after))
    );
}
db_test!(
    change_rules,
    change_rules_compare_with_the_previous_interval
);

/// Several readers on two portals subscribe, change and pause at once:
/// no 5xx, every subscription saved once, one audit row per change.
async fn writers_on_two_instances(backend: Backend) {
    let app = notifying_app(backend, None).await;
    let second = app.second_instance();
    let mut writers = Vec::new();
    for i in 0..6 {
        let name = format!("writer{i}");
        app.add_account(&name, Role::ReportsReader);
        let client = app.signed_in(&name, PASSWORD).await;
        let portal = if i % 2 == 0 { &app.remote } else { &second };
        writers.push((portal, client));
    }
    let form = "/subscriptions/new?view=%2Fregistrations&query=capable%3Dno";
    let runs = writers
        .iter()
        .enumerate()
        .map(|(i, (portal, client))| async move {
            let mut statuses = Vec::new();
            for n in 0..3 {
                let name = format!("w{i}-{n}");
                let saved = portal
                    .post_form(
                        client,
                        form,
                        "/subscriptions",
                        &[
                            ("kind", "report"),
                            ("name", &name),
                            ("view_path", "/registrations"),
                            ("view_query", "capable=no"),
                            ("channel", "email"),
                            ("destination", "team@example.org"),
                            ("frequency", "daily"),
                            ("hour", "6"),
                            ("time_zone", "Europe/Paris"),
                        ],
                    )
                    .await;
                statuses.push(saved.status().as_u16());
                let id = saved.headers().get("location").map(|l| {
                    l.to_str()
                        .unwrap()
                        .trim_start_matches("/subscriptions/")
                        .to_string()
                });
                if let Some(id) = id {
                    let paused = portal
                        .post_form(
                            client,
                            "/subscriptions",
                            &format!("/subscriptions/{id}/pause"),
                            &[],
                        )
                        .await;
                    statuses.push(paused.status().as_u16());
                }
            }
            statuses
        });
    let statuses: Vec<u16> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(statuses.len(), 36);
    assert!(statuses.iter().all(|s| *s == 303), "{statuses:?}");
    let (subscriptions, audit) = app.with_conn(|conn| {
        let all = store::list(conn, None).unwrap();
        let audit = db::audit::entries(conn, None, 10_000).unwrap();
        (all, audit)
    });
    assert_eq!(subscriptions.len(), 18);
    assert!(subscriptions
        .iter()
        .all(|o| o.subscription.state == "paused"));
    for (i, _) in writers.iter().enumerate() {
        let own = subscriptions
            .iter()
            .filter(|o| o.owner.username == format!("writer{i}"))
            .count();
        assert_eq!(own, 3, "writer{i}");
    }
    let count = |action: &str| audit.iter().filter(|e| e.action == action).count();
    assert_eq!(
        (count("Subscription created"), count("Subscription paused")),
        (18, 18)
    );
}
db_test!(two_instances_write, writers_on_two_instances);
