//! The outbox and its delivery: mail through an SMTP server and signed
//! webhooks, retried with backoff, given up after the attempts allowed,
//! sent once by several portals on one database; `notify test`; Admin ›
//! Deliveries and Retry now; the metrics.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::accounts::Role;
use authinsights::db::outbox::{self, Channel, NewMessage, OutboxEntry, State};
use authinsights::db::{self, DbConnection};
use common::binary::authinsights;
use common::smtp::{decoded_body, header_of, parts, SmtpSink};
use common::webhook::Receiver;
use common::{notify_settings, rows, texts, Backend, TestApp, PASSWORD};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

fn mail<'a>(key: &'a str, to: &'a str) -> NewMessage<'a> {
    NewMessage {
        key,
        origin: "subscription:12",
        channel: Channel::Email,
        destination: to,
        subject: "Weekly: registration details",
        body: "Hello,\nthe saved list is attached.\n",
        attachment: None,
        secret: None,
    }
}

fn hook<'a>(key: &'a str, url: &'a str, body: &'a str, secret: Option<&'a str>) -> NewMessage<'a> {
    NewMessage {
        key,
        origin: "alert:3",
        channel: Channel::Webhook,
        destination: url,
        subject: "Capable below 80 %",
        body,
        attachment: None,
        secret,
    }
}

fn enqueue(app: &TestApp, message: &NewMessage) -> bool {
    let queued = app.with_conn(|conn| outbox::enqueue(conn, message, now()).unwrap());
    app.wake_worker();
    queued
}

/// The stored message with idempotency key `key`.
fn entry(app: &TestApp, key: &str) -> OutboxEntry {
    app.with_conn(|conn| outbox::recent(conn, 1000).unwrap())
        .into_iter()
        .find(|e| e.key == key)
        .unwrap_or_else(|| panic!("a message {key}"))
}

/// Waits until the message `key` satisfies `done`, and returns it.
async fn entry_when(app: &TestApp, key: &str, done: impl Fn(&OutboxEntry) -> bool) -> OutboxEntry {
    let start = Instant::now();
    loop {
        let found = entry(app, key);
        if done(&found) {
            return found;
        }
        assert!(start.elapsed() < WAIT, "message {key} stays {found:?}");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// HMAC-SHA256 by its definition (RFC 2104), apart from the portal's.
fn hmac_sha256(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

/// The Admin › Deliveries row of message `id`, as its cells' texts.
async fn delivery_row(app: &TestApp, id: i64) -> Vec<String> {
    let response = app.get("/admin/deliveries").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    common::cells(&html, &format!("#message-{id}"), "td")
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("a row for message {id}: {html}"))
}

/// A sample's value in Prometheus' text: `name` with exactly these labels.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let wanted: BTreeSet<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (found, set) = match series.split_once('{') {
                Some((n, rest)) => (
                    n,
                    rest.trim_end_matches('}')
                        .split(',')
                        .map(str::to_string)
                        .collect::<BTreeSet<_>>(),
                ),
                None => (series, BTreeSet::new()),
            };
            (found == name && set == wanted).then(|| value.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("{name} {labels:?} in:\n{text}"))
}

fn read_key(app: &TestApp) -> String {
    app.with_conn(|conn| {
        db::api_keys::create_key(conn, "prometheus", true, false, "test", now())
            .unwrap()
            .1
    })
}

// ---------------------------------------------------------------- mail

async fn a_queued_mail_arrives_whole(backend: Backend) {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_notifying(backend, notify_settings(Some(sink.settings()))).await;
    // Quotes, a comma, letters outside ASCII, CRLF and a lone LF, a line
    // starting with a dot, no final line end: bytes to compare exactly.
    let csv =
        "name,méthode,note\r\n\"O'Brien, Ana\",sms,\"a \"\"quoted\"\" word\"\n.dot,ä,€".as_bytes();
    let body = "Bonjour,\nthe list \"Registration details\" is attached: 2 users.\n.\nÀ bientôt\n";
    let message = NewMessage {
        attachment: Some(("registration-details.csv", csv)),
        body,
        ..mail(
            "subscription:12:2026-12-07",
            "ana@example.com, ben@example.com",
        )
    };
    assert!(enqueue(&app, &message));

    let mails = sink.wait_for(1, WAIT);
    assert_eq!(mails.len(), 1);
    let got = &mails[0];
    assert_eq!(got.from, "reports@portal.test");
    assert_eq!(got.to, ["ana@example.com", "ben@example.com"]);
    assert_eq!(got.auth, None);
    assert_eq!(
        got.header("Subject").unwrap(),
        "Weekly: registration details"
    );
    assert!(got.header("From").unwrap().contains("reports@portal.test"));
    let to = got.header("To").unwrap();
    assert!(
        to.contains("ana@example.com") && to.contains("ben@example.com"),
        "{to}"
    );
    let from = "Authinsights <reports@portal.test>".parse().unwrap();
    let message_id = authinsights::notify::mail::message_id(message.key, &from);
    assert_eq!(got.header("Message-ID").unwrap(), message_id);
    assert!(message_id.ends_with("@portal.test>"), "{message_id}");

    let parts = parts(got);
    assert_eq!(parts.len(), 2, "{}", got.data);
    let text = header_of(&parts[0], "Content-Type").unwrap();
    assert!(
        text.starts_with("text/plain") && text.to_lowercase().contains("utf-8"),
        "{text}"
    );
    let said = String::from_utf8(decoded_body(&parts[0])).unwrap();
    assert_eq!(said.replace("\r\n", "\n"), body);
    let attached = header_of(&parts[1], "Content-Type").unwrap();
    assert!(attached.starts_with("text/csv"), "{attached}");
    let disposition = header_of(&parts[1], "Content-Disposition").unwrap();
    assert!(
        disposition.starts_with("attachment") && disposition.contains("registration-details.csv"),
        "{disposition}"
    );
    assert_eq!(decoded_body(&parts[1]), csv);

    let sent = entry_when(&app, message.key, |e| e.state == State::Sent).await;
    assert_eq!(sent.attempts, 1);
    assert_eq!(sent.last_error, None);
    let row = delivery_row(&app, sent.id).await;
    assert_eq!(row[2], "subscription:12");
    assert_eq!(row[3], "mail");
    assert_eq!(row[4], "ana@example.com, ben@example.com");
    assert_eq!(row[6], "sent");
    assert_eq!(row[7], "1");
    // Nothing more arrives: it was sent once.
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1);
}
db_test!(a_queued_mail_arrives_whole, a_queued_mail_arrives_whole);

async fn mail_waits_while_smtp_is_not_configured(backend: Backend) {
    let receiver = Receiver::start(0);
    let app = TestApp::spawn_notifying(backend, notify_settings(None)).await;
    assert!(enqueue(&app, &mail("waits", "ana@example.com")));
    assert!(enqueue(&app, &hook("goes", &receiver.url, "{}", None)));

    receiver.wait_for(1, WAIT);
    entry_when(&app, "goes", |e| e.state == State::Sent).await;
    let waiting = entry_when(&app, "waits", |e| e.last_error.is_some()).await;
    assert_eq!(waiting.state, State::Pending);
    assert_eq!(waiting.attempts, 0);
    assert_eq!(
        waiting.last_error.as_deref(),
        Some("SMTP is not configured")
    );

    let row = delivery_row(&app, waiting.id).await;
    assert_eq!(row[6], "pending");
    assert_eq!(row[9], "SMTP is not configured");
    let html = app.get("/admin/deliveries").await.text().await.unwrap();
    let facts = texts(&html, "#delivery-facts dd").join(" | ");
    assert!(
        facts.starts_with("SMTP is not configured on this portal: mail waits (webhooks still go)"),
        "{facts}"
    );
    assert!(facts.contains(" | 1 | 0 | after 0.2 s, doubling each time, at most 2 s apart; given up after 10 attempts"), "{facts}");
}
db_test!(
    mail_waits_while_smtp_is_not_configured,
    mail_waits_while_smtp_is_not_configured
);

// ------------------------------------------------------------- webhooks

async fn a_webhook_is_signed(backend: Backend) {
    let receiver = Receiver::start(0);
    let app = TestApp::spawn_notifying(backend, notify_settings(None)).await;
    let body = r#"{"alert":"Capable below 80 %","value":0.7712,"name":"Zoë's \"pilot\""}"#;
    let secret = "whsec_5e3f-test";
    assert!(enqueue(
        &app,
        &hook("alert:3:2026-12-07T08", &receiver.url, body, Some(secret))
    ));
    assert!(enqueue(&app, &hook("unsigned", &receiver.url, "{}", None)));

    let requests = receiver.wait_for(2, WAIT);
    let signed = requests
        .iter()
        .find(|r| r.header("X-Authinsights-Delivery") == Some("alert:3:2026-12-07T08"))
        .unwrap();
    assert_eq!(signed.method, "POST");
    assert_eq!(signed.path, "/hook");
    assert_eq!(signed.header("Content-Type"), Some("application/json"));
    assert_eq!(signed.body, body);
    let timestamp: i64 = signed
        .header("X-Authinsights-Timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (chrono::Utc::now().timestamp() - timestamp).abs() < 60,
        "{timestamp}"
    );
    let expected = hmac_sha256(secret.as_bytes(), format!("{timestamp}.{body}").as_bytes());
    assert_eq!(
        signed.header("X-Authinsights-Signature").unwrap(),
        format!("sha256={expected}")
    );
    let unsigned = requests
        .iter()
        .find(|r| r.header("X-Authinsights-Delivery") == Some("unsigned"))
        .unwrap();
    assert_eq!(unsigned.header("X-Authinsights-Signature"), None);
    let sent = entry_when(&app, "alert:3:2026-12-07T08", |e| e.state == State::Sent).await;
    assert_eq!(sent.attempts, 1);
}
db_test!(a_webhook_is_signed, a_webhook_is_signed);

async fn a_failing_receiver_is_retried_then_delivered_once(backend: Backend) {
    let receiver = Receiver::start(2);
    let app = TestApp::spawn_notifying(backend, notify_settings(None)).await;
    assert!(enqueue(
        &app,
        &hook("flaky", &receiver.url, r#"{"n":1}"#, Some("k"))
    ));

    let sent = entry_when(&app, "flaky", |e| e.state == State::Sent).await;
    assert_eq!(sent.attempts, 3);
    assert_eq!(sent.last_error, None);
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let requests = receiver.requests();
    assert_eq!(
        requests.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [500, 500, 200],
        "two failures, then delivered exactly once"
    );
    assert!(requests
        .iter()
        .all(|r| r.header("X-Authinsights-Delivery") == Some("flaky")));
    // The first retry waits 200 ms (±20 %), the second twice that.
    let first = requests[1].at - requests[0].at;
    let second = requests[2].at - requests[1].at;
    assert!(first >= Duration::from_millis(160), "{first:?}");
    assert!(second >= Duration::from_millis(320), "{second:?}");
}
db_test!(
    a_failing_receiver_is_retried_then_delivered_once,
    a_failing_receiver_is_retried_then_delivered_once
);

async fn a_message_that_keeps_failing_is_given_up_and_retried_by_hand(backend: Backend) {
    // It fails three times: all the attempts allowed. Retry now's fourth succeeds.
    let receiver = Receiver::start(3);
    let mut settings = notify_settings(None);
    settings.max_attempts = 3;
    let app = TestApp::spawn_notifying(backend, settings).await;
    let key = read_key(&app);
    assert!(enqueue(&app, &hook("doomed", &receiver.url, "{}", None)));

    let failed = entry_when(&app, "doomed", |e| e.state == State::Failed).await;
    assert_eq!(failed.attempts, 3);
    let error = failed.last_error.clone().unwrap();
    assert!(error.contains("the receiver answered 500"), "{error}");
    let row = delivery_row(&app, failed.id).await;
    assert_eq!(row[6], "failed");
    assert_eq!(row[7], "3");
    assert_eq!(row[8], "given up");
    assert!(row[9].contains("the receiver answered 500"), "{row:?}");

    let metrics = common::metrics_text(&app.address, &key).await;
    assert_eq!(
        sample(&metrics, "authinsights_notifications_failed", &[]),
        1.0
    );
    assert_eq!(
        sample(&metrics, "authinsights_notifications_pending", &[]),
        0.0
    );
    let attempts = |outcome| {
        sample(
            &metrics,
            "authinsights_notifications_total",
            &[("channel", "webhook"), ("outcome", outcome)],
        )
    };
    assert_eq!(attempts("retry"), 2.0);
    assert_eq!(attempts("failed"), 1.0);
    assert_eq!(attempts("sent"), 0.0);

    // Retry now, from the page.
    let path = format!("/admin/deliveries/{}/retry", failed.id);
    let response = app
        .post_form(&app.client, "/admin/deliveries", &path, &[])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/admin/deliveries");
    let html = app.get("/admin/deliveries").await.text().await.unwrap();
    let notice = texts(&html, ".notice").join(" ");
    assert!(
        notice.contains(&format!(
            "Message {} (alert:3) is tried again now",
            failed.id
        )),
        "{html}"
    );
    let sent = entry_when(&app, "doomed", |e| e.state == State::Sent).await;
    assert_eq!(sent.attempts, 4);
    assert_eq!(receiver.delivered().len(), 1);
    let audit = app.get("/admin/audit").await.text().await.unwrap();
    let entries = rows(&audit, "table tbody tr").join("\n");
    assert!(
        entries.contains(&format!("Delivery retried message {} (alert:3)", failed.id)),
        "{entries}"
    );

    // A sent message is not sent again; a message that does not exist says so.
    let response = app
        .post_form(&app.client, "/admin/deliveries", &path, &[])
        .await;
    assert_eq!(response.status(), 303);
    let html = app.get("/admin/deliveries").await.text().await.unwrap();
    assert!(
        texts(&html, ".form-error")
            .join(" ")
            .contains("was sent already"),
        "{html}"
    );
    for missing in ["999999", "not-a-number"] {
        let path = format!("/admin/deliveries/{missing}/retry");
        let response = app
            .post_form(&app.client, "/admin/deliveries", &path, &[])
            .await;
        assert_eq!(response.status(), 303);
        let html = app.get("/admin/deliveries").await.text().await.unwrap();
        assert!(
            texts(&html, ".form-error")
                .join(" ")
                .contains(&format!("There is no message {missing}")),
            "{html}"
        );
    }
    let metrics = common::metrics_text(&app.address, &key).await;
    assert_eq!(
        sample(&metrics, "authinsights_notifications_failed", &[]),
        0.0
    );
    assert_eq!(receiver.delivered().len(), 1);
}
db_test!(
    a_message_that_keeps_failing_is_given_up_and_retried_by_hand,
    a_message_that_keeps_failing_is_given_up_and_retried_by_hand
);

// ------------------------------------------------------ exactly once

async fn two_instances_send_each_message_once(backend: Backend) {
    let sink = SmtpSink::start();
    let receiver = Receiver::start(0);
    let settings = notify_settings(Some(sink.settings()));
    let app = TestApp::spawn_notifying(backend, settings.clone()).await;
    let (_second, second_worker) = app.second_notifying_instance(settings);

    let keys: Vec<String> = (0..20).map(|i| format!("run:{i}")).collect();
    app.with_conn(|conn| {
        db::transaction(conn, |conn: &mut DbConnection| {
            for (i, key) in keys.iter().enumerate() {
                let message = if i % 2 == 0 {
                    mail(key, "ops@example.com")
                } else {
                    hook(key, &receiver.url, "{}", Some("s"))
                };
                assert!(outbox::enqueue(conn, &message, now())?);
            }
            Ok::<_, db::DbError>(())
        })
        .unwrap()
    });
    app.wake_worker();
    second_worker.0.wake();

    sink.wait_for(10, WAIT);
    receiver.wait_for(10, WAIT);
    for key in &keys {
        entry_when(&app, key, |e| e.state == State::Sent).await;
    }
    // Past a few more polls of both workers: nothing arrives twice.
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let from = "Authinsights <reports@portal.test>".parse().unwrap();
    let mailed: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    let hooked: Vec<String> = receiver
        .requests()
        .iter()
        .map(|r| r.header("X-Authinsights-Delivery").unwrap().to_string())
        .collect();
    assert_eq!(mailed.len(), 10, "{mailed:?}");
    assert_eq!(hooked.len(), 10, "{hooked:?}");
    let expected_mail: BTreeSet<String> = keys
        .iter()
        .step_by(2)
        .map(|k| authinsights::notify::mail::message_id(k, &from))
        .collect();
    let expected_hooks: BTreeSet<String> = keys.iter().skip(1).step_by(2).cloned().collect();
    assert_eq!(mailed.into_iter().collect::<BTreeSet<_>>(), expected_mail);
    assert_eq!(hooked.into_iter().collect::<BTreeSet<_>>(), expected_hooks);
    for key in &keys {
        assert_eq!(entry(&app, key).attempts, 1, "{key}");
    }
}
db_test!(
    two_instances_send_each_message_once,
    two_instances_send_each_message_once
);

async fn a_key_queues_one_message(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(|conn| {
        db::transaction(conn, |conn: &mut DbConnection| {
            assert!(outbox::enqueue(
                conn,
                &mail("once", "a@example.com"),
                now()
            )?);
            let again = NewMessage {
                subject: "a second try at the same run",
                ..mail("once", "b@example.com")
            };
            // The transaction goes on after a repeated key.
            assert!(!outbox::enqueue(conn, &again, now())?);
            assert!(outbox::enqueue(
                conn,
                &mail("other", "c@example.com"),
                now()
            )?);
            Ok::<_, db::DbError>(())
        })
        .unwrap()
    });
    let all = app.with_conn(|conn| outbox::recent(conn, 10).unwrap());
    assert_eq!(all.len(), 2);
    let once = entry(&app, "once");
    assert_eq!(once.subject, "Weekly: registration details");
    assert_eq!(once.destination, "a@example.com");
    assert_eq!(once.state, State::Pending);
    let latest = app.with_conn(|conn| {
        outbox::latest_by_origin(conn, &["subscription:12".into(), "alert:9".into()]).unwrap()
    });
    assert_eq!(latest.len(), 1);
    assert_eq!(latest["subscription:12"].key, "other");
}
db_test!(a_key_queues_one_message, a_key_queues_one_message);

// ------------------------------------------------------------- access

async fn only_global_administrators_see_deliveries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(|conn| outbox::enqueue(conn, &mail("m", "a@example.com"), now()).unwrap());
    let id = entry(&app, "m").id;
    for (name, role) in [
        ("reader", Role::ReportsReader),
        ("security.admin", Role::SecurityAdministrator),
    ] {
        app.add_account(name, role);
        let client = app.signed_in(name, PASSWORD).await;
        let page = app.get_as(&client, "/admin/deliveries").await;
        assert_eq!(page.status(), 403, "{name}");
        let retry = app
            .post_form(
                &client,
                "/account/password",
                &format!("/admin/deliveries/{id}/retry"),
                &[],
            )
            .await;
        assert_eq!(retry.status(), 403, "{name}");
    }
    let anonymous = app.get_as(&app.anonymous(), "/admin/deliveries").await;
    assert_eq!(anonymous.status(), 303);
    // The administrator sees it, linked from Admin.
    let admin = app.get("/admin").await.text().await.unwrap();
    assert!(admin.contains("href=\"/admin/deliveries\""), "{admin}");
    let cards = texts(&admin, ".admin-cards a");
    assert!(
        cards
            .iter()
            .any(|c| c.starts_with("Deliveries") && c.ends_with("1 waiting, 0 given up")),
        "{cards:?}"
    );
    let row = delivery_row(&app, id).await;
    assert_eq!(row[6], "pending");
}
db_test!(
    only_global_administrators_see_deliveries,
    only_global_administrators_see_deliveries
);

// ---------------------------------------------------------- notify test

#[test]
fn notify_test_sends_one_mail_or_says_why_not() {
    let sink = SmtpSink::start();
    let output = authinsights()
        .args([
            "notify",
            "test",
            "--to",
            "ana@example.com",
            "--to",
            "ben@example.com",
        ])
        .args([
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            &sink.port.to_string(),
        ])
        .args([
            "--smtp-security",
            "none",
            "--smtp-from",
            "Portal <portal@example.com>",
        ])
        .args(["--smtp-user", "mailer"])
        .env("AUTHINSIGHTS_SMTP_PASSWORD", "s3cret pass")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "sending a test message to ana@example.com, ben@example.com through 127.0.0.1:"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("the SMTP server accepted the message"),
        "{stdout}"
    );
    let mails = sink.wait_for(1, WAIT);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].from, "portal@example.com");
    assert_eq!(mails[0].to, ["ana@example.com", "ben@example.com"]);
    assert_eq!(mails[0].auth, Some(("mailer".into(), "s3cret pass".into())));
    assert_eq!(
        mails[0].header("Subject").unwrap(),
        "authinsights: test message"
    );
    assert!(!stdout.contains("s3cret") && !stderr.contains("s3cret"));

    // A port nobody listens on: a sentence and exit code 1, no panic.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let output = authinsights()
        .args(["notify", "test", "--to", "ana@example.com"])
        .args(["--smtp-host", "127.0.0.1", "--smtp-port", &port.to_string()])
        .args([
            "--smtp-security",
            "none",
            "--smtp-from",
            "portal@example.com",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: the test message was not sent: the SMTP server 127.0.0.1:{port} (none): Connection error"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );

    // No server at all: what to set.
    let output = authinsights()
        .args(["notify", "test", "--to", "ana@example.com"])
        .env_remove("AUTHINSIGHTS_SMTP_HOST")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no SMTP server: set AUTHINSIGHTS_SMTP_HOST"),
        "{stderr}"
    );
}
